//! The connection to the target: HTTPS (plain HTTP only on loopback), Basic auth,
//! `X-Requested-With`, explicit timeouts, no proxy from the environment, no redirects, no
//! retries of its own, and no connection reuse.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use qmig_schemas::Method;
use zeroize::Zeroizing;

use crate::render::{Wire, joined};

/// The largest response body read; list responses of large subscriptions stay well below.
const BODY_LIMIT: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("--target `{0}`: expected a base URL such as https://qualysapi.qualys.eu (scheme and host, no path)")]
    Malformed(String),
    #[error("--target `{0}`: plain http is allowed only for a loopback address; use https")]
    NotHttps(String),
    #[error("--target `{0}`: credentials in the URL are not allowed; use --username and the password options")]
    UserInfo(String),
    #[error("--proxy `{url}`: {problem}")]
    Proxy { url: String, problem: String },
}

/// The proxy the operator asked for. Its URL is a flag value, visible to other users of the
/// machine, so it may not carry credentials.
pub fn proxy(url: &str) -> Result<ureq::Proxy, TargetError> {
    let problem = |problem: &str| TargetError::Proxy { url: url.to_owned(), problem: problem.to_owned() };
    if url.split_once("://").map_or(url, |(_, rest)| rest).split('/').next().is_some_and(|a| a.contains('@')) {
        return Err(problem("credentials in a flag value are readable by other users; use a proxy that needs none"));
    }
    ureq::Proxy::new(url).map_err(|e| problem(&e.to_string()))
}

/// The target's API server, as `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    base: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let malformed = || TargetError::Malformed(url.to_owned());
        let (scheme, rest) = url.split_once("://").ok_or_else(malformed)?;
        let scheme = scheme.to_ascii_lowercase();
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('@') {
            return Err(TargetError::UserInfo(url.to_owned()));
        }
        if authority.is_empty() || authority.contains(['/', '?', '#']) || authority.chars().any(char::is_whitespace) {
            return Err(malformed());
        }
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split_once(']').ok_or_else(malformed)?.0,
            None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
        };
        match scheme.as_str() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => return Err(TargetError::NotHttps(url.to_owned())),
            _ => return Err(malformed()),
        }
        Ok(Target { base: format!("{scheme}://{authority}") })
    }

    pub fn as_str(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
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
    ) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // Only the proxy asked for on the command line; never one from the environment.
            .proxy(proxy)
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
        _ => SendError::NoAnswer(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_and_loopback_http_only() {
        assert_eq!(
            Target::parse("https://qualysapi.qualys.eu/").map(|t| t.base),
            Ok("https://qualysapi.qualys.eu".into())
        );
        assert!(Target::parse("HTTPS://qualysapi.qg2.apps.qualys.com:443").is_ok());
        for loopback in ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9000", "http://127.1.2.3"] {
            assert!(Target::parse(loopback).is_ok(), "{loopback}");
        }
        assert!(matches!(Target::parse("http://qualysapi.qualys.eu"), Err(TargetError::NotHttps(_))));
        assert!(matches!(Target::parse("http://10.0.0.1:80"), Err(TargetError::NotHttps(_))));
        assert!(matches!(Target::parse("http://127.0.0.1.example.com"), Err(TargetError::NotHttps(_))));
        assert!(matches!(Target::parse("https://u:p@host"), Err(TargetError::UserInfo(_))));
        for bad in ["qualysapi.qualys.eu", "ftp://host", "https://", "https://host/api", "https://host?x=1"] {
            assert!(matches!(Target::parse(bad), Err(TargetError::Malformed(_))), "{bad}");
        }
    }

    #[test]
    fn a_proxy_is_taken_only_without_credentials() {
        assert!(proxy("http://proxy.corp.example:3128").is_ok());
        assert!(proxy("socks5://127.0.0.1:1080").is_ok());
        assert!(matches!(proxy("http://ops:hunter2@proxy.corp.example:3128"), Err(TargetError::Proxy { .. })));
        assert!(matches!(proxy("gopher://proxy:70"), Err(TargetError::Proxy { .. })));
    }
}
