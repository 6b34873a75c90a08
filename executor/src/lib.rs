//! `qmig-execute`: verifies an approved bundle and replays it against the target subscription,
//! one request at a time, journaled so that a run can stop at any moment and resume without
//! creating anything twice.
//!
//! | module | what it does |
//! |---|---|
//! | [`cli`] | the command line |
//! | [`verify`] | `verify`: the offline bundle check, digest last |
//! | [`run`] | `run`: the checks before the first request, then the replay loop |
//! | [`preflight`] | `preflight`: read-only checks of the target before the first write (also run by `run`) |
//! | [`status`] | `status` and `resolve` |
//! | [`journal`] | the journal file, its head, and where each request stands according to it |
//! | [`render`] | a request record to wire bytes: form encoding, body slots, references |
//! | [`http`] | the target URL rules and the HTTP client |
//! | [`pacing`] | rate and concurrency limits |
//! | [`secrets`], [`credentials`] | the credentials file (`secrets.age` or `.aes`), the password and the passphrase |
//! | [`progress`] | the progress line |
//! | [`error`] | every failure and its exit code |
//!
//! How an answer is read, what it means and what is taken from it ([`xml`], [`classify`],
//! [`extract`]) interprets the bundle contract, so it lives in `qmig_schemas` next to the request
//! types, and is re-exported here.

pub mod cli;
pub mod credentials;
pub mod error;
pub mod http;
pub mod journal;
pub mod pacing;
pub mod preflight;
pub mod progress;
pub mod render;
pub mod run;
pub mod secrets;
pub mod status;
pub mod verify;

pub use error::{Error, exit};
pub use qmig_schemas::{classify, extract, xml};

/// Runs one command; what it prints goes to stdout, progress and notes to stderr.
pub fn execute(cli: cli::Cli) -> Result<(), Error> {
    match cli.command {
        cli::Command::Verify { bundle } => verify::verify(&bundle).map(drop),
        cli::Command::Run(args) => run::run(&args).map(|summary| summary.iter().for_each(run::Summary::print)),
        cli::Command::Preflight(args) => preflight::preflight(&args),
        cli::Command::Status { bundle, journal, ids: false, .. } => status::status(&bundle, journal.as_deref()),
        cli::Command::Status { bundle, journal, ids: true, format } => status::ids(&bundle, journal.as_deref(), format),
        cli::Command::Resolve(args) => status::resolve(&args),
    }
}
