//! The target subscription's API server as both tools name it: the transformer records the
//! target a bundle was reviewed for, the executor compares it with `--target` and binds its
//! journal to it. One canonical spelling, so that `https://Host:443/` and `https://host`, or
//! `localhost` and `127.0.0.1`, are the same target.

use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("target `{0}`: expected a base URL such as https://qualysapi.qualys.eu (scheme and host, no path)")]
    Malformed(String),
    #[error("target `{0}`: plain http is allowed only for a loopback address; use https")]
    NotHttps(String),
    #[error("target `{0}`: credentials in the URL are not allowed; use --username and the password options")]
    UserInfo(String),
}

/// The target's API server, as `scheme://host[:port]` in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    base: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let malformed = || TargetError::Malformed(url.to_owned());
        let (scheme, rest) = url.split_once("://").ok_or_else(malformed)?;
        let scheme = scheme.to_ascii_lowercase();
        let authority = rest.strip_suffix('/').unwrap_or(rest).to_ascii_lowercase();
        if authority.contains('@') {
            return Err(TargetError::UserInfo(url.to_owned()));
        }
        if authority.is_empty() || authority.contains(['/', '?', '#']) || authority.chars().any(char::is_whitespace) {
            return Err(malformed());
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, rest) = v6.split_once(']').ok_or_else(malformed)?;
                (format!("[{host}]"), rest.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host.to_owned(), Some(port)),
                None => (authority.clone(), None),
            },
        };
        if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
            return Err(malformed());
        }
        let loopback =
            host == "localhost" || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        match scheme.as_str() {
            "https" => {}
            "http" if loopback => {}
            "http" => return Err(TargetError::NotHttps(url.to_owned())),
            _ => return Err(malformed()),
        }
        // The name resolves to the address the operator means on every machine qmig runs on.
        let host = if host == "localhost" { "127.0.0.1".to_owned() } else { host };
        let default_port = if scheme == "https" { "443" } else { "80" };
        let port = port.filter(|p| *p != default_port).map(|p| format!(":{p}")).unwrap_or_default();
        Ok(Target { base: format!("{scheme}://{host}{port}") })
    }

    pub fn as_str(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(url: &str) -> Result<String, TargetError> {
        Target::parse(url).map(|t| t.base)
    }

    #[test]
    fn accepts_https_and_loopback_http_only() {
        assert_eq!(canonical("https://qualysapi.qualys.eu/"), Ok("https://qualysapi.qualys.eu".into()));
        assert!(Target::parse("HTTPS://qualysapi.qg2.apps.qualys.com:8443").is_ok());
        for loopback in ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9000", "http://127.1.2.3"] {
            assert!(Target::parse(loopback).is_ok(), "{loopback}");
        }
        assert!(matches!(Target::parse("http://qualysapi.qualys.eu"), Err(TargetError::NotHttps(_))));
        assert!(matches!(Target::parse("http://10.0.0.1:80"), Err(TargetError::NotHttps(_))));
        assert!(matches!(Target::parse("http://127.0.0.1.example.com"), Err(TargetError::NotHttps(_))));
        assert!(matches!(Target::parse("https://u:p@host"), Err(TargetError::UserInfo(_))));
        for bad in
            ["qualysapi.qualys.eu", "ftp://host", "https://", "https://host/api", "https://host?x=1", "https://h:x"]
        {
            assert!(matches!(Target::parse(bad), Err(TargetError::Malformed(_))), "{bad}");
        }
    }

    #[test]
    fn one_target_has_one_spelling() {
        assert_eq!(canonical("http://localhost:8080"), canonical("http://127.0.0.1:8080/"));
        assert_eq!(canonical("HTTPS://QualysAPI.qualys.EU:443/"), Ok("https://qualysapi.qualys.eu".into()));
        assert_eq!(canonical("http://[::1]:80"), Ok("http://[::1]".into()));
        assert_ne!(canonical("https://qualysapi.qualys.eu"), canonical("https://qualysapi.qualys.com"));
    }
}
