//! Every way a transformation can fail, each naming the file, line and object to look at.

use std::fmt;
use std::io;
use std::path::PathBuf;

use qmig_schemas::SourceRef;

/// Exit status for failures the operator must fix in the export or the inputs.
pub const EXIT_INVALID_INPUT: u8 = 3;
/// Exit status when the bundle cannot be written where asked.
pub const EXIT_OUTPUT: u8 = 4;
/// Exit status of `reconcile` when the target lacks objects or fields of the source that the
/// bundle's review does not document.
pub const EXIT_NOT_RECONCILED: u8 = 5;
/// Exit status for an I/O failure of the machine (disk, permissions).
pub const EXIT_IO: u8 = 1;
/// Exit status of `diff` when the two bundles differ (0 when they do not).
pub const EXIT_DIFFERENT: u8 = 5;
/// Exit status when SIGINT or SIGTERM stopped the run (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("bundle {}: {source}", path.display())]
    Bundle { path: PathBuf, source: qmig_schemas::VerifyError },
    #[error(
        "the target does not hold what the source held: {missing} missing and {different} different objects \
         that the review does not document ({percent}% reconciled)"
    )]
    NotReconciled { missing: usize, different: usize, percent: usize },
    #[error("journal {}:{line}: {problem}", path.display())]
    Journal { path: PathBuf, line: usize, problem: String },
    #[error(
        "journal {} records a run of bundle {journal}, not of this bundle ({bundle}): give the journal of the run to undo",
        path.display()
    )]
    JournalOfOtherBundle { path: PathBuf, journal: String, bundle: String },
    #[error("bundle {}: request {request} {problem}: its delete call cannot be planned", bundle.display())]
    UndoUnplannable { bundle: PathBuf, request: String, problem: String },
    #[error("export directory {0} does not exist")]
    ExportMissing(PathBuf),
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("export directory {0} holds no files: capture the source subscription first (see README)")]
    ExportEmpty(PathBuf),
    #[error("cannot read {}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot write {}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{file}:{line}:{column}: {problem}")]
    Xml { file: String, line: u64, column: u64, problem: XmlProblem },
    #[error("{file}: this is a Qualys error response (CODE {code}: {text}), not an export; capture it again")]
    ErrorResponse { file: String, code: String, text: String },
    #[error("{file}: the file is empty (an interrupted or failed capture); capture it again or remove it")]
    EmptyFile { file: String },
    #[error(
        "{file}: the file starts with HTTP response headers (`{status_line}`), as `curl -i` keeps them; \
         capture it again without -i, or delete every line before the XML"
    )]
    HttpHeaders { file: String, status_line: String },
    #[error("{file}: {kind} in the export directory; qmig reads only regular files and does not open it: remove it")]
    SpecialFile { file: String, kind: &'static str },
    #[error(
        "{file}:{line}: the DOCTYPE declares <{declared}> but the root element is <{root}>: \
         the file was damaged or assembled by hand; capture it again"
    )]
    DoctypeMismatch { file: String, line: u64, declared: String, root: String },
    #[error(
        "{source_ref}: {field} is given twice in one {kind} record (lines {first_line} and {second_line}); \
         a capture has one value per field: capture it again"
    )]
    DuplicateField { source_ref: SourceRef, kind: String, field: String, first_line: u64, second_line: u64 },
    #[error("{file}: this is an HTML page, not an export (a failed capture: wrong URL, expired login or a proxy page)")]
    HtmlPage { file: String },
    #[error("{file}: not a Qualys export ({reason}); remove it from the export directory or run without --strict")]
    Unrecognised { file: String, reason: String },
    #[error("{source_ref}: {object}: {problem}")]
    InvalidObject { source_ref: SourceRef, object: String, problem: String },
    #[error(
        "{kind} {key} is listed twice with different content, at {first} and at {second}; \
         keep only the newer capture in the export directory"
    )]
    ConflictingDuplicate { kind: String, key: String, first: SourceRef, second: SourceRef },
    #[error(
        "{first} and {second} would both become `{id}` in the target, which takes one {task} object of \
         that name; rename or remove one of them in the source"
    )]
    SameTarget { id: String, task: String, first: SourceRef, second: SourceRef },
    #[error(
        "{source_ref}: {object}: the target already has {existing} of this title; \
         a title names one object there, so rename one of them first"
    )]
    TitleTaken { source_ref: SourceRef, object: String, existing: String },
    #[error(
        "{file}: the list is truncated (WARNING 1980) and the next page is not in the export; \
         capture {url} and put it beside this file"
    )]
    Truncated { file: String, url: String },
    #[error(
        "{file}: the search says it has more records (hasMoreRecords) and its next page is not in the export; \
         repeat it with <Criteria field=\"id\" operator=\"GREATER\">{last_id}</Criteria> and put the response beside this file"
    )]
    SearchTruncated { file: String, last_id: String },
    #[error(
        "{file}: cannot tell which module and tracking method this IP list was captured for; \
         capture it with echo_request=1, or name it ip_list_<vm|pc>_<ip|dns|netbios>.xml"
    )]
    IpListUndetermined { file: String },
    #[error(
        "{file}: cannot tell which report template this export holds ({reason}); export one template per file \
         with template_id=<ID> and name the file report_template_<ID>.xml, or add echo_request=1"
    )]
    TemplateUntied { file: String, reason: String },
    #[error(
        "{source_ref}: {template} has no export in the export directory; capture POST \
         /api/2.0/fo/report/template/{slug}/?action=export&report_format=xml&template_id={id} into \
         report_template_{id}.xml"
    )]
    TemplateUnexported { source_ref: SourceRef, template: String, slug: String, id: String },
    #[error(
        "{file}: a scan schedule list does not say whether it lists VM or PC schedules (both have one root \
         element): capture it again with echo_request=1"
    )]
    ScheduleListUndetermined { file: String },
    #[error(
        "{file}: the scan schedule list has no RESPONSE/DATETIME, the day start dates are compared with: \
         capture it again"
    )]
    ScheduleListUndated { file: String },
    #[error("{file}:{line}: {message}")]
    Input { file: String, line: u64, message: String },
    #[error("{}", UnresolvedList(.0))]
    Unresolved(Vec<Unresolved>),
    #[error("{}", RefusedList(.0))]
    TargetWouldRefuse(Vec<Refused>),
    #[error(transparent)]
    Credentials(#[from] crate::credentials::CredentialsError),
    #[error(transparent)]
    Output(#[from] qmig_schemas::WriteError),
    #[error("the bundle was written, but its report could not be printed")]
    Report(#[source] io::Error),
    #[error("{}: cannot be compared, it is not a complete bundle", path.display())]
    DiffBundle { path: PathBuf, source: qmig_schemas::VerifyError },
    #[error("the differences could not be printed")]
    DiffOutput(#[source] io::Error),
    #[error(
        "the credentials file, line {line}: `{parameter}` is not a secret parameter of the {object} \
         (its type takes: {accepted})"
    )]
    SecretNotOfType { line: u64, parameter: String, object: String, accepted: String },
    #[error(
        "{} authentication record(s) have no secret in the credentials file (--strict):{}",
        .0.len(), .0.iter().map(|m| format!("\n  {m}")).collect::<String>()
    )]
    MissingSecrets(Vec<String>),
    #[error(
        "the authentication record inventory lists records that no captured per-type list holds; capture \
         /api/2.0/fo/auth/<type>/?action=list&details=Basic for their types:{}",
        .0.iter().map(|m| format!("\n  {m}")).collect::<String>()
    )]
    AuthRecordsNotCaptured(Vec<String>),
    #[error("interrupted before the bundle was written: nothing was written")]
    Interrupted,
    #[error("cannot start {threads} worker threads: {message}")]
    Threads { threads: usize, message: String },
}

impl TransformError {
    pub fn exit_code(&self) -> u8 {
        match self {
            TransformError::Io { .. }
            | TransformError::Write { .. }
            | TransformError::Threads { .. }
            | TransformError::Report(_)
            | TransformError::DiffOutput(_) => EXIT_IO,
            TransformError::Output(qmig_schemas::WriteError::Io { .. }) => EXIT_IO,
            TransformError::Output(qmig_schemas::WriteError::Interrupted { .. }) | TransformError::Interrupted => {
                EXIT_INTERRUPTED
            }
            TransformError::Output(_) => EXIT_OUTPUT,
            TransformError::NotReconciled { .. } => EXIT_NOT_RECONCILED,
            _ => EXIT_INVALID_INPUT,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlProblem {
    #[error("malformed XML: {0}")]
    Syntax(String),
    #[error(
        "entity &{0}; is not defined by XML; the export must only use &amp; &lt; &gt; &quot; &apos; and character references"
    )]
    UnknownEntity(String),
    #[error("malformed XML: the character reference &{0}; does not name a character XML allows")]
    InvalidReference(String),
    #[error("no root element")]
    NoRoot,
    #[error(
        "malformed capture: a CDATA section holds the start of another (`<![CDATA[`): its `]]>` is missing, \
         and what follows would be read as its text"
    )]
    UnterminatedCdata,
    #[error("{}", forbidden_character(*.character, *.reference))]
    ForbiddenCharacter { character: char, reference: bool },
}

fn forbidden_character(character: char, reference: bool) -> String {
    let code = format!("U+{:04X}", u32::from(character));
    if reference {
        format!("malformed XML: the character reference to {code} names a character XML does not allow")
    } else {
        format!("malformed XML: character {code} is not allowed in XML (a damaged or binary capture)")
    }
}

/// A reference from a source object to another object that has no counterpart in the target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unresolved {
    /// What is referred to (`appliance`, `network`, `business unit`).
    pub kind: String,
    /// How the source names it (ID or title).
    pub key: String,
    /// The objects that refer to it.
    pub used_by: Vec<String>,
    /// How to resolve it (which mapping file or target export).
    pub hint: String,
}

/// A source object with a value the target's create call refuses, found before any request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub source_ref: SourceRef,
    /// How the review names it (`user nw_jd`).
    pub object: String,
    /// What the call refuses, and how to give it what it needs.
    pub problem: String,
}

struct RefusedList<'a>(&'a [Refused]);

impl fmt::Display for RefusedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} object(s) have values the target would refuse:", self.0.len())?;
        for refused in self.0 {
            write!(f, "\n  {}: {}: {}", refused.source_ref, refused.object, refused.problem)?;
        }
        Ok(())
    }
}

struct UnresolvedList<'a>(&'a [Unresolved]);

impl fmt::Display for UnresolvedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} reference(s) have no counterpart in the target:", self.0.len())?;
        for unresolved in self.0 {
            write!(
                f,
                "\n  {} {}: used by {}; {}",
                unresolved.kind,
                unresolved.key,
                unresolved.used_by.join(", "),
                unresolved.hint
            )?;
        }
        Ok(())
    }
}
