//! The executor's journal (format 2): one JSON record per line, append-only.
//!
//! The first line is a [`Header`] that binds the journal to its format, one bundle digest and
//! one target (not to the executor's version: a patched executor of the same journal format
//! resumes it). Every send is announced by an [`Intent`] synced to disk before the
//! request leaves, and closed by an [`Outcome`] synced after the answer. A request whose last
//! intent has no outcome was interrupted: its effect on the target is unknown, and only its
//! probe ([`ProbeResult`]) or an operator ([`Decision`]) may settle it.
//!
//! Records never hold secrets, request parameters or response bodies: only what was decided,
//! the values captured for later requests, and the SHA-256 of each response.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The only journal format this crate reads and writes.
pub const JOURNAL_FORMAT: u32 = 2;

/// The JSON Schema of one journal line.
pub const JOURNAL_SCHEMA: &str = include_str!("../json/journal.schema.json");

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    Header(Header),
    Intent(Intent),
    Outcome(Outcome),
    Probe(ProbeResult),
    Decision(Decision),
    Lost(Lost),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub journal_format: u32,
    /// The digest of the bundle this journal replays (`sha256:<hex>`).
    pub bundle_digest: String,
    /// Name and version of the executor that started the journal, for the record only.
    pub executor: String,
    pub executor_version: String,
    /// The target's base URL, so a journal is never resumed against another subscription.
    pub target: String,
    /// Seconds since the Unix epoch.
    pub at: u64,
}

/// Why a request is sent (again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendReason {
    /// Never sent before.
    First,
    /// The target blocked the previous attempt (rate or concurrency limit): it was not executed.
    AfterBlocked,
    /// The target answered the previous attempt with an error: it was not executed.
    AfterError,
    /// The previous outcome is unknown, and the request is idempotent or read-only.
    AfterUnknownOutcome,
    /// The previous outcome is unknown, and the probe found no such object in the target.
    AfterProbeAbsent,
    /// The previous outcome is unknown, and the operator decided to send it again.
    AfterOperatorRetry,
}

/// Written and synced before a request is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    pub seq: u64,
    pub id: String,
    /// 1 for the first send of the request, counting every later send.
    pub attempt: u32,
    pub reason: SendReason,
    pub at: u64,
}

/// What a send came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendResult {
    /// Executed; the captures were taken.
    Done,
    /// Blocked by a rate or concurrency limit, so not executed; it is sent again after a wait.
    Blocked,
    /// The target refused it with an error, so it was not executed; the run stopped.
    Error,
    /// The target accepted it, but a declared capture was not in the response; the run stopped.
    CaptureMissing,
    /// No usable answer (dropped connection, timeout, server error, unreadable body): the
    /// request may or may not have been executed.
    Unknown,
}

/// Written and synced after the answer to an [`Intent`] (or its absence) is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub seq: u64,
    pub id: String,
    pub attempt: u32,
    pub result: SendResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The Qualys error code (`CODE`, `RETURN@number`, `responseCode`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualys_code: Option<String>,
    /// The target's message or the reason the outcome is unknown, with secrets masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Values captured from the response, by capture name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub captures: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_sha256: Option<String>,
    /// Seconds waited before the next attempt, for a blocked request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_secs: Option<u64>,
    pub at: u64,
}

/// What a probe found when a request's outcome was unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Found {
    /// Exactly one matching object: the request counts as done, its captures read from it.
    Exists,
    /// No matching object: the request is sent again.
    Absent,
    /// Several matching objects: the operator must decide.
    Several,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeResult {
    pub seq: u64,
    pub id: String,
    pub found: Found,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub captures: BTreeMap<String, String>,
    pub response_sha256: String,
    pub at: u64,
}

/// The operator's decision about a request whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The object exists in the target: the request counts as done.
    Done,
    /// The object does not exist: the request is sent again.
    Retry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub seq: u64,
    pub id: String,
    #[serde(rename = "as")]
    pub resolution: Resolution,
    /// For `done`: the request's captures, as the operator read them in the target.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub captures: BTreeMap<String, String>,
    pub at: u64,
}

/// Written when the journal holds fewer records than its head says were synced (restored from
/// a backup, copied during a run, a file system that lost a tail). Whatever the lost records
/// said is unknown, so from here on no request that is not proven done may be sent on the
/// journal's word: a create is probed (or left to the operator) before it is sent again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lost {
    /// Records the head says were synced.
    pub synced: u64,
    /// Records the journal held.
    pub found: u64,
    /// When the head was last synced: a lost attempt was sent no later than this.
    pub synced_at: u64,
    pub at: u64,
}

/// The journal's head, kept in a small file next to it (`<journal>.head`) and synced after
/// every record: how many records the journal held, and the chained SHA-256 of their lines,
/// so that a journal that lost or changed synced records is told apart from one that did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    pub journal_format: u32,
    pub records: u64,
    /// `sha256(previous chain || line)` over every line, starting from 64 zeros.
    pub chain: String,
    pub at: u64,
}

/// What every journal starts with: its first record is a header.
pub const HEADER_START: &[u8] = br#"{"record":"header""#;

/// The head file is rewritten in place as one line of this width: one write, never torn.
const HEAD_WIDTH: usize = 192;

/// A journal line that is not what a run writes there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct LineError {
    /// 1-based.
    pub line: usize,
    pub problem: String,
}

/// Every complete line of a journal's bytes, without its newline.
pub fn complete_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').filter(|l| l.ends_with(b"\n")).map(|l| &l[..l.len() - 1])
}

/// The records of every complete line, and the length of those lines. The first record must be
/// the only header. A last line without its newline was never synced, and is not read.
pub fn parse_lines(bytes: &[u8]) -> Result<(Vec<Record>, usize), LineError> {
    let complete_len = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut records = Vec::new();
    for (index, line) in complete_lines(&bytes[..complete_len]).enumerate() {
        let corrupt = |problem: &str| LineError { line: index + 1, problem: problem.to_owned() };
        let record: Record = serde_json::from_slice(line).map_err(|e| corrupt(&e.to_string()))?;
        match (&record, index) {
            (Record::Header(_), 0) => {}
            (Record::Header(_), _) => return Err(corrupt("a second header")),
            (_, 0) => return Err(corrupt("the first line is not a header")),
            _ => {}
        }
        records.push(record);
    }
    Ok((records, complete_len))
}

/// The hash chain over lines: `sha256(previous || line)`, starting from 32 zero bytes.
pub fn chained(previous: &[u8; 32], line: &[u8]) -> [u8; 32] {
    Sha256::new().chain_update(previous).chain_update(line).finalize().into()
}

/// What a journal's complete lines are, compared with its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// Every record the head counts is there, unchanged (records after them were synced
    /// before the head could be).
    Intact,
    /// Records the head counts are missing.
    Lost { synced: u64, found: u64, synced_at: u64 },
    /// The records the head counts are not those it hashed.
    Edited { records: u64 },
}

impl Head {
    /// The head's line, padded to a fixed width.
    pub fn to_line(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!("{json:<width$}\n", width = HEAD_WIDTH - 1)
    }

    pub fn parse(text: &str) -> Result<Head, String> {
        let head: Head = serde_json::from_str(text.trim()).map_err(|e| format!("not a journal head ({e})"))?;
        if head.journal_format != JOURNAL_FORMAT {
            return Err(format!("journal format {} is not supported", head.journal_format));
        }
        Ok(head)
    }

    /// Compares the journal's complete lines with what the head says was synced.
    pub fn check(&self, complete: &[u8]) -> Integrity {
        let found = complete_lines(complete).count() as u64;
        if found < self.records {
            return Integrity::Lost { synced: self.records, found, synced_at: self.at };
        }
        let counted = usize::try_from(self.records).unwrap_or(usize::MAX);
        let chain = complete_lines(complete).take(counted).fold([0; 32], |chain, line| chained(&chain, line));
        if hex::encode(chain) == self.chain { Integrity::Intact } else { Integrity::Edited { records: self.records } }
    }
}

impl Record {
    /// The request a record is about (`None` for the header).
    pub fn request(&self) -> Option<(u64, &str)> {
        match self {
            Record::Header(_) | Record::Lost(_) => None,
            Record::Intent(r) => Some((r.seq, &r.id)),
            Record::Outcome(r) => Some((r.seq, &r.id)),
            Record::Probe(r) => Some((r.seq, &r.id)),
            Record::Decision(r) => Some((r.seq, &r.id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Record> {
        let captures = BTreeMap::from([("network/Corp East#id".to_owned(), "7343".to_owned())]);
        vec![
            Record::Header(Header {
                journal_format: JOURNAL_FORMAT,
                bundle_digest: format!("sha256:{}", "a".repeat(64)),
                executor: "qmig-execute".into(),
                executor_version: "0.1.0".into(),
                target: "https://qualysapi.qualys.eu".into(),
                at: 1,
            }),
            Record::Intent(Intent {
                seq: 1,
                id: "network/Corp East".into(),
                attempt: 1,
                reason: SendReason::First,
                at: 2,
            }),
            Record::Outcome(Outcome {
                seq: 1,
                id: "network/Corp East".into(),
                attempt: 1,
                result: SendResult::Done,
                http_status: Some(200),
                qualys_code: None,
                message: None,
                captures: captures.clone(),
                response_sha256: Some("b".repeat(64)),
                wait_secs: None,
                at: 3,
            }),
            Record::Probe(ProbeResult {
                seq: 1,
                id: "network/Corp East".into(),
                found: Found::Exists,
                captures: captures.clone(),
                response_sha256: "c".repeat(64),
                at: 4,
            }),
            Record::Decision(Decision {
                seq: 1,
                id: "network/Corp East".into(),
                resolution: Resolution::Done,
                captures,
                at: 5,
            }),
            Record::Lost(Lost { synced: 9, found: 4, synced_at: 5, at: 6 }),
        ]
    }

    #[test]
    fn records_round_trip_as_single_lines() {
        for record in samples() {
            let line = serde_json::to_string(&record).expect("serialises");
            assert!(!line.contains('\n'));
            assert_eq!(serde_json::from_str::<Record>(&line).expect("parses"), record);
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let line = r#"{"record":"intent","seq":1,"id":"x","attempt":1,"reason":"first","at":0,"extra":1}"#;
        assert!(serde_json::from_str::<Record>(line).is_err());
    }

    #[cfg(feature = "validate")]
    #[test]
    fn records_match_the_committed_schema() {
        let schema: serde_json::Value = serde_json::from_str(JOURNAL_SCHEMA).expect("schema parses");
        let validator = jsonschema::options().offline().build(&schema).expect("schema compiles");
        for record in samples() {
            let value = serde_json::to_value(&record).expect("serialises");
            let errors: Vec<String> = validator.iter_errors(&value).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{value}: {errors:?}");
        }
        let foreign =
            serde_json::json!({"record": "intent", "seq": 0, "id": "", "attempt": 0, "reason": "first", "at": 0});
        assert!(!validator.is_valid(&foreign));
    }
}
