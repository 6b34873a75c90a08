//! The command line of `qmig-transform`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use qmig_schemas::Target;
use qmig_schemas::credentials::DEFAULT_MAX_WORK_FACTOR;

use crate::calendar::Date;
use crate::context::{DEFAULT_IPS_PER_REQUEST, DEFAULT_TAGS_PER_REQUEST, OptionalTask, SendEmail};
use crate::review::Rate;

#[derive(Debug, Parser)]
#[command(
    name = "qmig-transform",
    version,
    about = "Turns a captured Qualys export into a reviewable, checksummed request bundle"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read an export directory and write a bundle of the requests that re-create it in the target.
    Bundle(Box<BundleArgs>),
    /// Write the credentials file to fill in: one row per secret each captured authentication
    /// record needs, values empty. Fill it in, encrypt it (INPUTS.md), and delete the plaintext.
    CredentialsTemplate(TemplateArgs),
    /// Show what changes from one bundle to another, request by request (by id), as Markdown.
    /// Exit status 0 when nothing differs, 5 when something does.
    Diff(DiffArgs),
    /// Write the POSIX sh script that captures a complete export (or the target's, with its
    /// --target option) with curl alone: read it, then run it on a machine that reaches the API.
    CaptureScript(CaptureScriptArgs),
    /// Compare the target's export, taken after the run, with the source's, object by object:
    /// matched, missing, different, documented loss (with --bundle) or only in the target.
    /// Exits 0 only when nothing is missing or different beyond what the review documents
    /// (5 otherwise).
    Reconcile(ReconcileArgs),
    /// Write a bundle that deletes what a run of BUNDLE created, as its journal shows, children
    /// before parents (for rehearsals: empty the test subscription and run again). Review,
    /// approve and run it like any bundle.
    Undo(UndoArgs),
}

#[derive(Debug, Clone, Args)]
pub struct UndoArgs {
    /// The bundle that was run.
    #[arg(value_hint = clap::ValueHint::DirPath)]
    pub bundle: PathBuf,
    /// The journal of its run (its head file `JOURNAL.head` next to it).
    #[arg(value_hint = clap::ValueHint::FilePath)]
    pub journal: PathBuf,
    /// Where to write the undo bundle (a directory that must not exist yet, unless --force).
    #[arg(long, value_hint = clap::ValueHint::DirPath)]
    pub out: PathBuf,
    /// Replace an existing bundle at --out.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    /// Directory of XML captured from the source subscription (the bundle's export).
    #[arg(value_hint = clap::ValueHint::DirPath)]
    pub source_export: PathBuf,
    /// Directory of XML captured from the target subscription after the run.
    #[arg(value_hint = clap::ValueHint::DirPath)]
    pub target_export: PathBuf,
    /// The bundle that was run: what its review documents (skipped objects, losses, manual
    /// steps) counts as a documented loss, not a difference. Verified against its SHA256SUMS.
    #[arg(long, value_hint = clap::ValueHint::DirPath)]
    pub bundle: Option<PathBuf>,
    /// The mapping tables the bundle was made with: a source business unit mapped in
    /// business_units.csv is expected under its target title.
    #[arg(long, value_hint = clap::ValueHint::DirPath)]
    pub inputs: Option<PathBuf>,
    /// Also write the report as JSON to this file.
    #[arg(long, value_hint = clap::ValueHint::FilePath)]
    pub json: Option<PathBuf>,
    /// Write the Markdown report to this file instead of standard output.
    #[arg(long, value_hint = clap::ValueHint::FilePath)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The bundle reviewed before.
    #[arg(value_hint = clap::ValueHint::DirPath)]
    pub old: PathBuf,
    /// The bundle to review as a change from it.
    #[arg(value_hint = clap::ValueHint::DirPath)]
    pub new: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct CaptureScriptArgs {
    /// Write the script to this file (replaced if it exists, made executable) instead of
    /// standard output.
    #[arg(long, value_hint = clap::ValueHint::FilePath)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct TemplateArgs {
    /// Directory of XML captured from the source subscription.
    #[arg(value_hint = clap::ValueHint::DirPath)]
    pub export_dir: PathBuf,
    /// Write the template to this new file (created readable by its owner only) instead of
    /// standard output.
    #[arg(long, value_hint = clap::ValueHint::FilePath)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct BundleArgs {
    /// Directory of XML captured from the source subscription.
    #[arg(value_hint = clap::ValueHint::DirPath)]
    pub export_dir: PathBuf,
    /// Where to write the bundle (a directory that must not exist yet, unless --force).
    #[arg(long, value_hint = clap::ValueHint::DirPath)]
    pub out: PathBuf,
    /// Directory of mapping tables the API cannot provide (networks.csv, ...).
    #[arg(long, value_hint = clap::ValueHint::DirPath)]
    pub inputs: Option<PathBuf>,
    /// The target subscription's own export: objects found there by name are mapped, not created.
    #[arg(long, value_hint = clap::ValueHint::DirPath)]
    pub target_export: Option<PathBuf>,
    /// The target subscription's API server the bundle is reviewed for (https://qualysapi...):
    /// recorded in the manifest and REVIEW.md; `qmig-execute run` refuses any other target
    /// unless told `--other-target`.
    #[arg(long, value_name = "URL", value_parser = |url: &str| Target::parse(url))]
    pub target: Option<Target>,
    /// Replace an existing bundle at --out.
    #[arg(long)]
    pub force: bool,
    /// Refuse files of the export directory that are not a recognised Qualys export, and rows of
    /// the credentials file that match no authentication record.
    #[arg(long)]
    pub strict: bool,
    /// The encrypted credentials file of authentication records (default: credentials.csv.age
    /// or credentials.csv.aes in --inputs; see INPUTS.md).
    #[arg(long, value_hint = clap::ValueHint::FilePath)]
    pub credentials: Option<PathBuf>,
    /// File holding the credentials file's passphrase, mode 600 (default: $QMIG_CREDENTIALS_PASSPHRASE, else a prompt).
    #[arg(long, value_hint = clap::ValueHint::FilePath)]
    pub credentials_passphrase_file: Option<PathBuf>,
    /// The `-iter` given to `openssl enc`, when it is none of the counts tried (see INPUTS.md).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub credentials_iter: Option<u32>,
    /// Highest scrypt work factor (log2) accepted for an age-encrypted credentials file.
    #[arg(long, default_value_t = DEFAULT_MAX_WORK_FACTOR)]
    pub max_work_factor: u8,
    /// Worker threads for reading the export (default: one per core). The bundle is the same whatever the count.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Most IPs and ranges one Add IPs request carries.
    #[arg(long, default_value_t = DEFAULT_IPS_PER_REQUEST, value_parser = parse_positive)]
    pub ips_per_request: usize,
    /// Create the virtual scanner appliances the target lacks, by name (each takes a licence).
    #[arg(long)]
    pub create_virtual_appliances: bool,
    /// Also run these optional tasks (repeatable, or comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub include: Vec<OptionalTask>,
    /// Whether Qualys emails each new user their registration link (see INPUTS.md).
    #[arg(long, value_enum, default_value_t = SendEmail::Yes)]
    pub send_email: SendEmail,
    /// Most tags one Create Tag request carries (up to 1000); a larger subtree is created in parts.
    #[arg(long, default_value_t = DEFAULT_TAGS_PER_REQUEST, value_parser = parse_positive)]
    pub tags_per_request: usize,
    /// A root tag the platform manages in your subscriptions, not to be created (repeatable).
    #[arg(long, value_name = "NAME")]
    pub system_tag: Vec<String>,
    /// Import an option profile that is the source's default as the target's default too
    /// (by default the flag is cleared and the review lists it: the target keeps its own default).
    #[arg(long)]
    pub keep_default_flag: bool,
    /// The earliest start date of a migrated scan schedule (YYYY-MM-DD, in each schedule's time zone):
    /// the planned day of the run. Start dates before it, or before the day of the capture, move to it.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub start_not_before: Option<Date>,
    /// A rate limit of the target (CALLS/SECONDS per API path, e.g. 1000/3600) at which REVIEW.md
    /// estimates the run's duration, besides the Standard 300/3600.
    #[arg(long, value_name = "CALLS/SECONDS")]
    pub rate: Option<Rate>,
}

impl BundleArgs {
    /// The arguments of `bundle EXPORT_DIR --out OUT` with every option at its default.
    pub fn new(export_dir: impl Into<PathBuf>, out: impl Into<PathBuf>) -> BundleArgs {
        BundleArgs {
            export_dir: export_dir.into(),
            out: out.into(),
            inputs: None,
            target_export: None,
            target: None,
            force: false,
            strict: false,
            credentials: None,
            credentials_passphrase_file: None,
            credentials_iter: None,
            max_work_factor: DEFAULT_MAX_WORK_FACTOR,
            threads: None,
            ips_per_request: DEFAULT_IPS_PER_REQUEST,
            create_virtual_appliances: false,
            include: Vec::new(),
            send_email: SendEmail::Yes,
            tags_per_request: DEFAULT_TAGS_PER_REQUEST,
            system_tag: Vec::new(),
            keep_default_flag: false,
            start_not_before: None,
            rate: None,
        }
    }
}

fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse_iso(text).ok_or_else(|| "must be a date as YYYY-MM-DD".to_owned())
}

fn parse_positive(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("must be a whole number greater than 0".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
