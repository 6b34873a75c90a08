//! The connection to the target: HTTPS (plain HTTP only on loopback), Basic auth,
//! `X-Requested-With`, explicit timeouts, no proxy from the environment, no redirects, no
//! retries of its own, no connection reuse, and TLS always verified.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use qmig_schemas::{Method, Target};
use ureq::tls::{PemItem, RootCerts, TlsConfig};
use zeroize::Zeroizing;

use crate::render::{Wire, joined};

/// The largest response body read; list responses of large subscriptions stay well below.
const BODY_LIMIT: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("--proxy `{url}`: {problem}")]
    Proxy { url: String, problem: String },
    #[error("--ca-file {path}: {problem}")]
    CaFile { path: PathBuf, problem: String },
}

/// The proxy the operator asked for. Its URL is a flag value, visible to other users of the
/// machine, so it may not carry credentials.
pub fn proxy(url: &str) -> Result<ureq::Proxy, ConnectionError> {
    let problem = |problem: &str| ConnectionError::Proxy { url: url.to_owned(), problem: problem.to_owned() };
    if url.split_once("://").map_or(url, |(_, rest)| rest).split('/').next().is_some_and(|a| a.contains('@')) {
        return Err(problem("credentials in a flag value are readable by other users; use a proxy that needs none"));
    }
    ureq::Proxy::new(url).map_err(|e| problem(&e.to_string()))
}

/// The certificate authorities a TLS server must chain to: those of `--ca-file` (a PEM bundle:
/// a corporate inspection CA, or the operating system's own bundle such as
/// `/etc/ssl/certs/ca-certificates.crt`), else Mozilla's roots built into the executor.
/// Verification is never turned off.
pub fn roots(ca_file: Option<&Path>) -> Result<RootCerts, ConnectionError> {
    let Some(path) = ca_file else { return Ok(RootCerts::WebPki) };
    let problem = |problem: String| ConnectionError::CaFile { path: path.to_path_buf(), problem };
    let pem = std::fs::read(path).map_err(|e| problem(e.to_string()))?;
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let PemItem::Certificate(certificate) = item.map_err(|e| problem(e.to_string()))? {
            certificates.push(certificate);
        }
    }
    if certificates.is_empty() {
        return Err(problem("holds no PEM certificate".to_owned()));
    }
    Ok(RootCerts::Specific(Arc::new(certificates)))
}

/// An answer from the target.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The request never left: name resolution or connection failed.
    #[error("not sent: {0}")]
    NotSent(String),
    /// The request never left: the server's TLS certificate or handshake was refused.
    #[error("not sent: TLS: {0}")]
    Tls(String),
    /// The request may have reached the target: the outcome is unknown.
    #[error("no answer: {0}")]
    NoAnswer(String),
}

pub struct Client {
    agent: ureq::Agent,
    target: Target,
    authorization: Zeroizing<String>,
}

impl Client {
    pub fn new(
        target: Target,
        username: &str,
        password: &str,
        timeout: Duration,
        proxy: Option<ureq::Proxy>,
        roots: RootCerts,
    ) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // Only the proxy asked for on the command line; never one from the environment.
            .proxy(proxy)
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            // A pooled connection the server has closed can fail after the request was
            // written, which would make an outcome unknown for no reason.
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .timeout_connect(Some(timeout.min(Duration::from_secs(30))))
            .timeout_global(Some(timeout))
            .user_agent(concat!("qmig-execute/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let credentials = joined(&[username, ":", password]);
        let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(credentials.as_bytes()));
        Client { agent, target, authorization: joined(&["Basic ", &encoded]) }
    }

    pub fn send(&self, wire: &Wire) -> Result<Reply, SendError> {
        let url = self.target.url(&wire.target);
        let auth = self.authorization.as_str();
        let requested_with = "qmig-execute";
        let result = match wire.method {
            Method::Get => {
                self.agent.get(&url).header("Authorization", auth).header("X-Requested-With", requested_with).call()
            }
            Method::Post | Method::Put => {
                let builder = if wire.method == Method::Post { self.agent.post(&url) } else { self.agent.put(&url) };
                let builder = builder.header("Authorization", auth).header("X-Requested-With", requested_with);
                let builder = match &wire.content_type {
                    Some(content_type) => builder.content_type(content_type.as_str()),
                    None => builder,
                };
                builder.send(wire.body.as_slice())
            }
        };
        let mut response = result.map_err(classify_error)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_vec()
            .map_err(|e| SendError::NoAnswer(format!("the response body could not be read: {e}")))?;
        Ok(Reply { status, headers, body })
    }
}

fn classify_error(error: ureq::Error) -> SendError {
    use ureq::Timeout;
    match &error {
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Timeout(Timeout::Resolve | Timeout::Connect) => SendError::NotSent(error.to_string()),
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            SendError::NotSent(error.to_string())
        }
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => SendError::Tls(error.to_string()),
        // Rustls reports a refused handshake through the first write of the request, which
        // therefore never left.
        ureq::Error::Io(e) if e.get_ref().and_then(|e| e.downcast_ref()).is_some_and(refused_handshake) => {
            SendError::Tls(error.to_string())
        }
        _ => SendError::NoAnswer(error.to_string()),
    }
}

fn refused_handshake(error: &rustls::Error) -> bool {
    use rustls::Error as E;
    matches!(
        error,
        E::InvalidCertificate(_) | E::NoCertificatesPresented | E::PeerIncompatible(_) | E::UnsupportedNameType
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_is_taken_only_without_credentials() {
        assert!(proxy("http://proxy.corp.example:3128").is_ok());
        assert!(proxy("socks5://127.0.0.1:1080").is_ok());
        assert!(matches!(proxy("http://ops:hunter2@proxy.corp.example:3128"), Err(ConnectionError::Proxy { .. })));
        assert!(matches!(proxy("gopher://proxy:70"), Err(ConnectionError::Proxy { .. })));
    }
}
