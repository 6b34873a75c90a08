//! Every way a command can end other than success, and its exit code (see the README).

use qmig_schemas::{TargetError, VerifyError};

use crate::credentials::CredentialError;
use crate::http::ConnectionError;
use crate::journal::JournalError;
use crate::render::RenderError;
use crate::secrets::SecretsError;

/// Stable exit codes; the README documents them.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const INTERNAL: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const REFUSED: u8 = 3;
    pub const STOPPED: u8 = 4;
    pub const NEEDS_DECISION: u8 = 5;
    /// The preflight answered no-go: nothing was written.
    pub const NO_GO: u8 = 6;
    /// Stopped by SIGINT or SIGTERM (128 + 2, as shells report an interrupted command).
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the bundle is not valid")]
    Bundle(#[from] VerifyError),
    #[error(
        "the bundle's digest is {actual}, but --approve names {approved}: this is not the bundle that was approved; \
         verify the bundle directory or have the new digest reviewed and approved"
    )]
    DigestMismatch { approved: String, actual: String },
    #[error(
        "the bundle was reviewed for the target {reviewed}, not {target}; run it against {reviewed}, or, if the \
         reviewers approved this digest for {target} too, add --other-target"
    )]
    OtherTarget { reviewed: String, target: String },
    #[error("--approve `{0}`: expected `sha256:` followed by 64 lowercase hex digits")]
    BadApproval(String),
    #[error("--target: {0}")]
    Target(#[from] TargetError),
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    #[error(
        "request {seq} ({id}) was not sent: the TLS connection to the target failed ({reason}); if a proxy inspects \
         TLS, pass its CA certificate with --ca-file; certificates are always verified"
    )]
    Tls { seq: u64, id: String, reason: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Stopped(#[from] Stop),
    #[error(
        "request {seq} ({id}) may or may not have been executed ({why}) and it cannot be repeated safely{hint}; \
         check the target, then record what you found: `qmig-execute resolve <BUNDLE_DIR> --request '{id}' --as done` \
         (the object exists{captures}) or `--as retry` (it does not), and run again"
    )]
    NeedsDecision { seq: u64, id: String, why: String, hint: &'static str, captures: String },
    #[error(
        "the cutover is refused while the migration phase is not complete ({left} of its requests not done): run \
         without --cutover until it is (`qmig-execute status` shows what is left)"
    )]
    CutoverBeforeMigration { left: usize },
    #[error(
        "preflight: no-go ({reasons} reasons, listed above); nothing was written to the target: correct them, or \
         transform again against the target as it is now"
    )]
    NoGo { reasons: usize },
    #[error("writing the output: {0}")]
    Output(#[from] std::io::Error),
    #[error(
        "request {seq} ({id}) could not be rendered (an internal error: verification should have refused the bundle)"
    )]
    Render { seq: u64, id: String, source: RenderError },
}

/// Why a run stopped on the target's account. The journal holds where it stopped; running
/// again resumes there.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    #[error("request {seq} ({id}) was refused by the target: {}{text}; nothing after it was sent", code_prefix(.status, .code))]
    Refused { seq: u64, id: String, status: Option<u16>, code: Option<String>, text: String },
    #[error(
        "request {seq} ({id}): the target's API user has not completed registration (Qualys code 2003: {text}); \
         log in to the target's web interface as this user and accept the EULA, then run again"
    )]
    Registration { seq: u64, id: String, text: String },
    #[error(
        "request {seq} ({id}) was executed, but {problem}; the run stopped because later requests need the value \
         (run again: the probe, or `resolve --as done --capture`, supplies it)"
    )]
    CaptureMissing { seq: u64, id: String, problem: String },
    #[error("request {seq} ({id}): no usable answer in {attempts} attempts (last: {last}); run again later to resume")]
    NoAnswer { seq: u64, id: String, attempts: u32, last: String },
    #[error("request {seq} ({id}) could not be sent: {reason}; check the network and --target, then run again")]
    Unreachable { seq: u64, id: String, reason: String },
    #[error("the probe of request {seq} ({id}) failed: {}{text}", code_prefix(.status, .code))]
    ProbeFailed { seq: u64, id: String, status: Option<u16>, code: Option<String>, text: String },
}

fn code_prefix(status: &Option<u16>, code: &Option<String>) -> String {
    match (status, code) {
        (Some(status), Some(code)) => format!("HTTP {status}, Qualys code {code}: "),
        (None, Some(code)) => format!("Qualys code {code}: "),
        (Some(status), None) => format!("HTTP {status}: "),
        (None, None) => String::new(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("the bundle has no request `{0}`")]
    UnknownRequest(String),
    #[error("request {seq} ({id}) is not waiting for a decision (it is {state}); nothing was recorded")]
    NotUnresolved { seq: u64, id: String, state: String },
    #[error(
        "request {seq} ({id}) declares capture `{name}`: give it with --capture '{name}=VALUE' as read in the target"
    )]
    MissingCapture { seq: u64, id: String, name: String },
    #[error("request {seq} ({id}) declares no capture `{name}`")]
    UnknownCapture { seq: u64, id: String, name: String },
    #[error("--capture is only meaningful with --as done")]
    CaptureWithRetry,
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Bundle(_)
            | Error::DigestMismatch { .. }
            | Error::OtherTarget { .. }
            | Error::Target(_)
            | Error::Connection(_)
            | Error::Tls { .. }
            | Error::Secrets(_)
            | Error::Credentials(_)
            | Error::Resolve(_)
            | Error::CutoverBeforeMigration { .. } => exit::REFUSED,
            Error::Journal(JournalError::Io { .. }) | Error::Render { .. } | Error::Output(_) => exit::INTERNAL,
            Error::Journal(_) => exit::REFUSED,
            Error::BadApproval(_) => exit::USAGE,
            Error::Stopped(_) => exit::STOPPED,
            Error::NeedsDecision { .. } => exit::NEEDS_DECISION,
            Error::NoGo { .. } => exit::NO_GO,
        }
    }
}
