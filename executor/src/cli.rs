//! The command line. Passwords and passphrases are never values here: only files holding them
//! (see `credentials`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::secrets::DEFAULT_MAX_WORK_FACTOR;

#[derive(Debug, Parser)]
#[command(
    name = "qmig-execute",
    version,
    about = "Verify an approved qmig bundle and replay it against the target subscription"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a bundle offline (format, schema, every hash, every reference) and print its digest.
    Verify {
        #[arg(value_name = "BUNDLE_DIR")]
        bundle: PathBuf,
    },
    /// Send the bundle's requests to the target, in order, journaled and resumable.
    Run(Box<RunArgs>),
    /// Ask the target, with read-only calls, whether the bundle can run: go or no-go.
    Preflight(Box<PreflightArgs>),
    /// Show progress from the journal: done, waiting for a decision, left.
    Status {
        #[arg(value_name = "BUNDLE_DIR")]
        bundle: PathBuf,
        /// The journal (default: derived from the bundle digest, see the README).
        #[arg(long, value_name = "FILE")]
        journal: Option<PathBuf>,
        /// Print the ID map instead: per object, its source ID and its ID (or login) in the target.
        #[arg(long)]
        ids: bool,
        /// The ID map's format.
        #[arg(long, value_name = "FORMAT", default_value = "csv", requires = "ids")]
        format: IdFormat,
    },
    /// Record the operator's decision about a request whose outcome is unknown.
    Resolve(ResolveArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[arg(value_name = "BUNDLE_DIR")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The digest the reviewers approved (`sha256:<hex>`); any other bundle is refused.
    #[arg(long, value_name = "DIGEST")]
    pub approve: String,
    /// The journal (default: derived from the bundle digest, see the README).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// File holding the passphrase of the credentials file (default: $QMIG_SECRETS_PASSPHRASE, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Also send the cutover phase (switching schedules on), once every migration request is
    /// done; without it the run stops at the cutover gate.
    #[arg(long)]
    pub cutover: bool,
    /// Skip the preflight checks a run makes before its first write (see `preflight`).
    #[arg(long)]
    pub no_preflight: bool,
    /// Print what would be sent, secrets masked, without a network or a journal.
    #[arg(long)]
    pub dry_run: bool,
    /// Stop after this many requests are done in this run (resume later).
    #[arg(long, value_name = "N")]
    pub stop_after: Option<u64>,
    /// Time a create whose outcome is unknown may still be running at the target, counted from
    /// when it was sent: a probe that finds nothing before then is asked again after it
    /// (default: twice --timeout, at least 10m; see the README).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub settle: Option<Duration>,
    /// Highest scrypt work factor (log2) accepted for an age-encrypted credentials file.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_WORK_FACTOR)]
    pub max_work_factor: u8,
}

/// The target and how every call reaches it, shared by `run` and `preflight`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Base URL of the target's API server (https; http only on loopback).
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// Use --target although the bundle was reviewed for another target.
    #[arg(long)]
    pub other_target: bool,
    /// The target API user (default: $QMIG_TARGET_USERNAME).
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,
    /// File holding the target password (default: $QMIG_TARGET_PASSWORD, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Send every call through this proxy (`http://host:port`, `socks5://host:port`). Proxy
    /// settings of the environment are never read.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// PEM file of the certificate authorities the target's TLS certificate must chain to
    /// (a TLS-inspecting proxy's CA, or the system bundle); default: Mozilla's roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Time allowed for one call, from connecting to the end of the response.
    #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Pause before re-sending or probing after an unknown outcome.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub retry_pause: Duration,
    /// First wait after a concurrency block (1960) when the target names none; doubles each time.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub concurrency_backoff: Duration,
    /// Unknown outcomes in a row for one request before the run stops.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// Simulated seconds per real second in the limit headers; only for rehearsals against
    /// qualys-sim started with a time scale (a real target counts real seconds).
    #[arg(long, value_name = "N", default_value_t = 1, hide = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub time_scale: u32,
}

#[derive(Debug, Args)]
pub struct PreflightArgs {
    #[arg(value_name = "BUNDLE_DIR")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IdFormat {
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    #[arg(value_name = "BUNDLE_DIR")]
    pub bundle: PathBuf,
    /// The request's id, as `status` shows it.
    #[arg(long = "request", value_name = "ID")]
    pub request: String,
    /// `done`: the object exists in the target; `retry`: it does not, send the request again.
    #[arg(long = "as", value_name = "DECISION")]
    pub decision: Decision,
    /// For `done`: a capture of the request, as read in the target (repeat for each).
    #[arg(long = "capture", value_name = "NAME=VALUE", value_parser = parse_capture)]
    pub captures: Vec<(String, String)>,
    /// The journal (default: derived from the bundle digest, see the README).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Decision {
    Done,
    Retry,
}

/// `250ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration such as 250ms, 5s, 2m or 1h"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "" | "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(number.saturating_mul(3600))),
        _ => Err(format!("`{text}`: unknown unit `{unit}` (use ms, s, m or h)")),
    }
}

fn parse_capture(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once('=').ok_or_else(|| format!("`{text}` is not NAME=VALUE"))?;
    if name.is_empty() || value.is_empty() {
        return Err(format!("`{text}`: both the name and the value are needed"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn captures_are_name_value_pairs() {
        assert_eq!(parse_capture("user/jdoe#login=acme_jd2"), Ok(("user/jdoe#login".into(), "acme_jd2".into())));
        assert!(parse_capture("x").is_err());
        assert!(parse_capture("=v").is_err());
    }
}
