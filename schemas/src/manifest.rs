//! `manifest.json`: the ordered requests of a bundle and everything a reviewer needs to judge them.
//!
//! Secrets and captured values never appear as text inside parameters or bodies: they are
//! [`Segment`]s (structured references), and inside a body their byte positions are declared as
//! [`Slot`]s, so there is no template syntax that could be confused with real data.

use serde::{Deserialize, Serialize};

/// The only bundle format this crate reads and writes.
/// Version 2 added each request's phase: an executor of version 1 would send the cutover with
/// the migration. Version 3 added each request's dependencies (an executor of version 2 sends
/// in bundle order only, and one of version 3 would reorder a version 2 bundle whose order
/// carries dependencies it does not state) and the prerequisites, which an executor of
/// version 2 would not check before its first write.
pub const FORMAT_VERSION: u32 = 3;

/// File name of the manifest inside a bundle.
pub const MANIFEST_FILE: &str = "manifest.json";
/// File name of the human review inside a bundle.
pub const REVIEW_FILE: &str = "REVIEW.md";
/// File name of the per-request table inside a bundle: one tab-separated line per request, for
/// tools (grep, sort, a spreadsheet), where REVIEW.md only summarises.
pub const REQUESTS_FILE: &str = "requests.tsv";
/// File name of the checksum list inside a bundle; its SHA-256 is the bundle digest.
pub const SUMS_FILE: &str = "SHA256SUMS";
/// File name of the operator's credentials file inside a bundle, when `age` encrypted it.
pub const SECRETS_AGE_FILE: &str = "secrets.age";
/// File name of the operator's credentials file inside a bundle, when `openssl enc` encrypted it.
pub const SECRETS_AES_FILE: &str = "secrets.aes";
/// Directory of request bodies inside a bundle.
pub const BODIES_DIR: &str = "bodies";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    pub generator: Generator,
    /// The target subscription's API server the bundle was reviewed for, in the canonical
    /// spelling of [`crate::Target`]: `qmig-execute run` refuses another target unless told
    /// otherwise, so a digest approved for a test subscription is not run against production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Every file of the export that was read, with its hash, so anyone can regenerate the bundle.
    pub sources: Vec<SourceFile>,
    /// Operator inputs (mapping tables, the target's own export) that influenced the bundle.
    #[serde(default)]
    pub inputs: Vec<SourceFile>,
    /// Files of the export directory that were not recognised; listed, never silently ignored.
    #[serde(default)]
    pub unrecognised: Vec<Unrecognised>,
    /// Present only when some request refers to a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Secrets>,
    pub tasks: Vec<TaskSummary>,
    pub requests: Vec<Request>,
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    #[serde(default)]
    pub losses: Vec<Loss>,
    #[serde(default)]
    pub manual_steps: Vec<ManualStep>,
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// Captured values the operator needs once the bundle has run (generated logins, appliance
    /// activation codes): `qmig-execute` prints them at the end of a run and in `status`.
    #[serde(default)]
    pub report: Vec<Reported>,
    /// What the requests refer to in the target without creating it (see [`Prerequisite`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prerequisites: Vec<Prerequisite>,
}

/// An object of the target the requests refer to and no request creates: made by hand before
/// the run (business units, vaults, distribution groups) or already there (redeployed
/// appliances), known from the mapping tables or the target's export. `qmig-execute preflight`
/// checks that each exists before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prerequisite {
    pub kind: PrerequisiteKind,
    /// How the requests name it in the target: its ID, or a business unit's title.
    pub value: String,
    /// The ids of the requests that refer to it, in bundle order.
    pub used_by: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrerequisiteKind {
    BusinessUnit,
    ScannerAppliance,
    Vault,
    DistributionGroup,
}

impl PrerequisiteKind {
    pub fn label(self) -> &'static str {
        match self {
            PrerequisiteKind::BusinessUnit => "business unit",
            PrerequisiteKind::ScannerAppliance => "scanner appliance",
            PrerequisiteKind::Vault => "authentication vault",
            PrerequisiteKind::DistributionGroup => "distribution group",
        }
    }
}

/// A captured value shown to the operator after the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reported {
    /// The name of a capture some request declares.
    pub capture: String,
    /// What the value is, in plain words (`new login of nwind_um (Seán O'Brien)`).
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generator {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    /// Path relative to the directory it was read from, `/`-separated; inputs are prefixed with
    /// the role of their directory (`inputs/`, `target-export/`).
    pub path: String,
    pub sha256: String,
    /// What the file was recognised as (`network list`, `appliances mapping`, ...).
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unrecognised {
    pub path: String,
    /// Why it was not recognised: its root element, or that it is not XML.
    pub reason: String,
}

/// The operator's encrypted credentials file, carried byte for byte (encryption is randomised,
/// so re-encrypting would make the bundle irreproducible). Only the executor decrypts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// [`SecretsFormat::file_name`] of `format`.
    pub file: String,
    pub format: SecretsFormat,
    /// Canonical [`SecretName`]s of the rows the requests refer to: exactly those, sorted. The
    /// file may hold more rows; the executor keeps only these.
    pub names: Vec<String>,
}

/// How the credentials file is encrypted, each with a passphrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum SecretsFormat {
    /// `age -p` (scrypt, ChaCha20-Poly1305), binary or armored.
    #[serde(rename = "age")]
    Age,
    /// `openssl enc -aes-256-cbc -pbkdf2 -salt [-iter N]`: `Salted__`, an 8-byte salt, then
    /// AES-256-CBC whose key and IV are PBKDF2-HMAC-SHA256 of the passphrase over `iterations`.
    #[serde(rename = "openssl-aes-256-cbc-pbkdf2-sha256")]
    OpensslAes256CbcPbkdf2Sha256 { iterations: u32 },
}

impl SecretsFormat {
    /// The file's name inside a bundle.
    pub fn file_name(self) -> &'static str {
        match self {
            SecretsFormat::Age => SECRETS_AGE_FILE,
            SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { .. } => SECRETS_AES_FILE,
        }
    }
}

impl std::fmt::Display for SecretsFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretsFormat::Age => f.write_str("age (passphrase, scrypt)"),
            SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { iterations } => {
                write!(f, "OpenSSL AES-256-CBC, PBKDF2-HMAC-SHA256 with {iterations} iterations")
            }
        }
    }
}

/// The canonical name of one row of the credentials file, by which requests refer to its value:
/// `<type>/title:<title>/<parameter>` for a row naming a record's title, or
/// `<type>/username:<username>/<parameter>` for a row naming every record of that type with that
/// username. `type` and `parameter` are slugs (`[a-z0-9_]+`), so the first and last `/` delimit
/// them whatever the title holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretName {
    /// The authentication-record type (`unix`, `ms_sql`, ...).
    pub record_type: String,
    pub selector: Selector,
    /// The create call's parameter (`password`, `community_strings`, ...).
    pub parameter: String,
}

/// Which records a row of the credentials file is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Selector {
    /// The record of the type with this exact title.
    Title(String),
    /// Every record of the type with this exact username.
    Username(String),
}

impl SecretName {
    /// Reads a canonical name back; `None` when it is not one.
    pub fn parse(name: &str) -> Option<SecretName> {
        let (record_type, rest) = name.split_once('/')?;
        let (selector, parameter) = rest.rsplit_once('/')?;
        let selector = if let Some(title) = selector.strip_prefix("title:") {
            Selector::Title(title.to_owned())
        } else {
            Selector::Username(selector.strip_prefix("username:")?.to_owned())
        };
        let parsed = SecretName { record_type: record_type.to_owned(), selector, parameter: parameter.to_owned() };
        parsed.is_valid().then_some(parsed)
    }

    /// Slugs for type and parameter, and a title or username that is not empty.
    pub fn is_valid(&self) -> bool {
        let slug =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let (Selector::Title(named) | Selector::Username(named)) = &self.selector;
        slug(&self.record_type) && slug(&self.parameter) && !named.is_empty()
    }
}

impl std::fmt::Display for SecretName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (key, named) = match &self.selector {
            Selector::Title(title) => ("title", title),
            Selector::Username(username) => ("username", username),
        };
        write!(f, "{}/{key}:{named}/{}", self.record_type, self.parameter)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSummary {
    pub task: String,
    pub source_objects: u64,
    pub requests: u64,
    pub skipped: u64,
}

/// One call to the target, in the order it must be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// 1-based position; the requests of a manifest are numbered 1, 2, 3, ... in order.
    pub seq: u64,
    /// Stable identity (`network/Corp East`): the same object keeps the same id across bundles.
    pub id: String,
    pub task: String,
    /// What the request does, in plain words, for the review and the progress line.
    pub summary: String,
    pub method: Method,
    /// Absolute path on the target's API server, without a query string.
    pub path: String,
    /// Ordered parameters. Without a body they are sent as a form-encoded POST body; with a body
    /// they go in the query string, which is why they may then not refer to secrets.
    #[serde(default)]
    pub params: Vec<Param>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    /// Whether the request may be sent again when its outcome is unknown.
    pub effect: Effect,
    /// The phase it belongs to: every cutover request comes after every migration request.
    pub phase: Phase,
    /// Values to keep from the response, for later requests.
    #[serde(default)]
    pub captures: Vec<Capture>,
    /// A read-only request that tells whether this request's object already exists in the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
    /// The source object the request came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceRef>,
    /// Every value of the source object that the request carries as its counterpart in the
    /// target (a network ID, a login), so the review shows old → new. Informative: what is sent
    /// is in `params` and `body`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remapped: Vec<Remap>,
    /// Ids of earlier requests that must be done before this one is sent, for orderings no
    /// capture shows (IPs added before the asset groups that hold them). The requests whose
    /// captures it uses are dependencies too, without being listed. The executor may send a
    /// request before an earlier one that it does not depend on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// A reference of the source object replaced by the target's counterpart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remap {
    /// What is referred to (`network`, `search list`, `user`).
    pub kind: String,
    /// How the source names it (its ID, title or login).
    pub source: String,
    /// The target's value: known now (text) or captured when the bundle runs.
    pub target: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "PUT")]
    Put,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// When a request is sent. The migration re-creates the configuration, inactive; the cutover
/// switches it on (scan schedules, policy evaluation) on the day the old subscription stops
/// scanning, and runs only when the operator asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Migration,
    Cutover,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Migration => "migration",
            Phase::Cutover => "cutover",
        }
    }
}

/// What sending a request twice would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Creates an object: sending it twice would create it twice. After an unknown outcome only
    /// the probe or the operator may decide.
    Create,
    /// Changes the target, but a repeat leaves the same result (adding IPs that exist, importing
    /// the same settings again): may be re-sent after an unknown outcome.
    Idempotent,
    /// Changes nothing (a lookup whose result is captured): may always be re-sent.
    Read,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    pub name: String,
    pub value: Value,
}

impl Param {
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> Self {
        Param { name: name.into(), value: Value::Text(value.into()) }
    }
}

/// A parameter value: plain text, or a sequence of text and references joined at send time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Text(String),
    Parts(Vec<Segment>),
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}

impl Value {
    pub fn segments(&self) -> impl Iterator<Item = &Segment> {
        match self {
            Value::Text(_) => [].iter(),
            Value::Parts(parts) => parts.iter(),
        }
    }

    /// How the value reads in a review: references shown as placeholders, never resolved.
    pub fn display(&self) -> String {
        match self {
            Value::Text(text) => text.clone(),
            Value::Parts(parts) => parts.iter().map(Segment::placeholder).collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Segment {
    Text(String),
    /// A value captured from the response of an earlier request.
    Capture(String),
    /// A row of the credentials file, by its canonical [`SecretName`], resolved only in the
    /// executor's memory.
    Secret(String),
}

impl Segment {
    /// The text a reviewer sees in place of the segment (and that a body slot must hold).
    pub fn placeholder(&self) -> String {
        match self {
            Segment::Text(text) => text.clone(),
            Segment::Capture(name) => format!("{{{{capture:{name}}}}}"),
            Segment::Secret(name) => format!("{{{{secret:{name}}}}}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// Path inside the bundle, under [`BODIES_DIR`].
    pub file: String,
    pub sha256: String,
    pub content_type: String,
    /// Positions in the body that are replaced at send time, in increasing order, not overlapping.
    #[serde(default)]
    pub slots: Vec<Slot>,
}

/// A declared position in a body where a reference is substituted. The body holds `placeholder`
/// at `offset`, so a reviewer reads the body as it will be sent and a verifier can check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    /// Byte offset of the placeholder in the body file.
    pub offset: u64,
    /// The exact bytes at `offset` (UTF-8) that the value replaces: the [`Segment::placeholder`]
    /// of `value`, which may be XML-escaped when `escape` is `xml`.
    pub placeholder: String,
    /// A capture or secret reference (never text).
    pub value: Segment,
    /// How the value is escaped for its context.
    pub escape: Escape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Escape {
    /// XML character data or attribute value: `&`, `<`, `>`, `"`, `'` are escaped.
    Xml,
    /// Inserted as is.
    None,
}

/// A value kept from a response under a bundle-wide unique name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    pub name: String,
    pub extract: Extract,
}

/// Where in a response a captured value is found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Extract {
    /// The ID of the object the request created, wherever the response family puts it:
    /// `SIMPLE_RETURN` `ITEM_LIST/ITEM[KEY=ID]/VALUE`, the report-template `CODE` "... [ID]",
    /// `BATCH_RETURN` `ID_SET/ID`, `APPLIANCE_CREATE_OUTPUT` `ID`, or QPS `data/*/id`.
    NewId,
    /// The login generated by `/msp/user.php?action=add`: `USER/USER_LOGIN`, or the first word
    /// of `RETURN/MESSAGE` ("<login> user has been successfully created.").
    Login,
    /// The text of the first element with this name, anywhere in the response.
    Element { name: String },
    /// A field of the record that matches, in a list response.
    Match {
        #[serde(rename = "match")]
        matcher: Match,
        take: String,
    },
}

/// Selects one record of a list response: the elements named `record` (at any depth) whose
/// fields all equal the given values (compared after trimming surrounding whitespace).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    pub record: String,
    /// `/`-separated paths relative to the record (`CONTACT_INFO/EMAIL`) and the value each must hold.
    #[serde(rename = "where")]
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    /// An empty value matches a field that is absent or empty (a root tag has no parent).
    pub equals: Value,
}

/// A read-only request whose response says whether the object of its request already exists.
/// It never creates anything, so the executor may send it whenever it needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub method: Method,
    pub path: String,
    #[serde(default)]
    pub params: Vec<Param>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    /// The object exists when exactly this record is found.
    #[serde(rename = "exists_when")]
    pub exists: Match,
    /// When it exists, the request's captures are read from the matched record: one entry per
    /// capture of the request.
    #[serde(default)]
    pub captures: Vec<ProbeCapture>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeCapture {
    pub name: String,
    /// Path of the field, relative to the matched record.
    pub take: String,
}

/// Where a request came from in the export.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceRef {
    pub file: String,
    pub line: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl std::fmt::Display for SourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        match (&self.id, &self.title) {
            (Some(id), Some(title)) => write!(f, " (ID {id}, \"{title}\")"),
            (Some(id), None) => write!(f, " (ID {id})"),
            (None, Some(title)) => write!(f, " (\"{title}\")"),
            (None, None) => Ok(()),
        }
    }
}

/// A source object that produces no request, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Skipped {
    pub task: String,
    pub object: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceRef>,
}

/// Data of a migrated object that the target API cannot take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loss {
    pub task: String,
    pub object: String,
    /// The fields that are lost, as named in the export.
    pub fields: Vec<String>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceRef>,
}

/// Something an operator must do by hand, because no API does it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualStep {
    pub id: String,
    pub when: StepTime,
    pub title: String,
    pub detail: String,
    /// The objects the step concerns (appliance serial numbers, tag names, ...).
    #[serde(default)]
    pub items: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepTime {
    /// Before the bundle is executed.
    Before,
    /// After the bundle has been executed.
    After,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warning {
    pub task: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceRef>,
}

impl Request {
    /// Every reference the request makes (parameters, body slots), in order of appearance.
    pub fn references(&self) -> impl Iterator<Item = &Segment> {
        let params = self.params.iter().flat_map(|p| p.value.segments());
        let slots = self.body.iter().flat_map(|b| b.slots.iter().map(|s| &s.value));
        params.chain(slots).filter(|s| !matches!(s, Segment::Text(_)))
    }
}
