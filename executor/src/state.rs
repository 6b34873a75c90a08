//! Where each request of a bundle stands, replayed from the journal's records.

use std::collections::BTreeMap;
use std::path::Path;

use qmig_schemas::Manifest;
use qmig_schemas::journal::{Found, Record, Resolution, SendReason, SendResult};

use crate::journal::JournalError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// To be sent, for this reason.
    Pending(SendReason),
    /// Sent, but whether it was executed is unknown; the probe or the operator decides.
    Unresolved(String),
    /// Executed, but a declared capture was missing from the answer: the probe (finding the
    /// object) or the operator supplies it. A create is never sent again on its own account.
    Incomplete(String),
    Done,
}

/// The error the target answered to the last attempt of a request not sent since, for `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    pub seq: u64,
    pub http_status: Option<u16>,
    pub code: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Replayed {
    /// One state per request, in bundle order.
    pub states: Vec<State>,
    /// How many times each request was sent.
    pub attempts: Vec<u32>,
    /// When each request was last sent (seconds since the epoch), from its last intent.
    pub sent_at: Vec<Option<u64>>,
    pub captures: BTreeMap<String, String>,
    pub last_error: Option<LastError>,
}

impl Replayed {
    pub fn done(&self) -> usize {
        self.states.iter().filter(|s| **s == State::Done).count()
    }
}

/// Folds the records over the requests. A record about a request the bundle does not hold at
/// that position means the journal is not this bundle's: it is refused as corrupt.
pub fn replay(path: &Path, manifest: &Manifest, records: &[Record]) -> Result<Replayed, JournalError> {
    let count = manifest.requests.len();
    let mut replayed = Replayed {
        states: vec![State::Pending(SendReason::First); count],
        attempts: vec![0; count],
        sent_at: vec![None; count],
        captures: BTreeMap::new(),
        last_error: None,
    };
    for (index, record) in records.iter().enumerate() {
        let Some((seq, id)) = record.request() else { continue };
        let position = usize::try_from(seq).ok().and_then(|s| s.checked_sub(1)).filter(|&p| p < count);
        let Some(position) = position.filter(|&p| manifest.requests[p].id == id) else {
            let problem = format!("refers to request {seq} ({id}), which this bundle does not hold");
            return Err(JournalError::Corrupt { path: path.to_path_buf(), line: index + 1, problem });
        };
        let state = &mut replayed.states[position];
        match record {
            Record::Header(_) => {}
            Record::Intent(intent) => {
                if replayed.last_error.as_ref().is_some_and(|e| e.seq == seq) {
                    replayed.last_error = None;
                }
                replayed.attempts[position] = replayed.attempts[position].max(intent.attempt);
                replayed.sent_at[position] = Some(intent.at);
                *state = State::Unresolved(format!("attempt {} was sent but no outcome was recorded", intent.attempt));
            }
            Record::Outcome(outcome) => {
                let message = outcome.message.clone().unwrap_or_default();
                *state = match outcome.result {
                    SendResult::Done => {
                        replayed.captures.extend(outcome.captures.clone());
                        State::Done
                    }
                    SendResult::Blocked => State::Pending(SendReason::AfterBlocked),
                    SendResult::Error => {
                        replayed.last_error = Some(LastError {
                            seq,
                            http_status: outcome.http_status,
                            code: outcome.qualys_code.clone(),
                            message,
                        });
                        State::Pending(SendReason::AfterError)
                    }
                    SendResult::CaptureMissing => {
                        State::Incomplete(format!("executed, but a declared capture was missing: {message}"))
                    }
                    SendResult::Unknown => State::Unresolved(format!("outcome unknown: {message}")),
                };
            }
            Record::Probe(probe) => {
                *state = match (probe.found, &*state) {
                    (Found::Exists, _) => {
                        replayed.captures.extend(probe.captures.clone());
                        State::Done
                    }
                    // It was executed: a probe that does not find it is wrong, or too early.
                    (Found::Absent, State::Incomplete(why)) => State::Incomplete(why.clone()),
                    (Found::Absent, _) => State::Pending(SendReason::AfterProbeAbsent),
                    (Found::Several, _) => State::Unresolved("its probe found several matching objects".to_owned()),
                };
            }
            Record::Decision(decision) => {
                *state = match decision.resolution {
                    Resolution::Done => {
                        replayed.captures.extend(decision.captures.clone());
                        State::Done
                    }
                    Resolution::Retry => State::Pending(SendReason::AfterOperatorRetry),
                };
            }
        }
    }
    Ok(replayed)
}

#[cfg(test)]
mod tests {
    use qmig_schemas::journal::{Intent, Outcome, ProbeResult};
    use qmig_schemas::{Effect, FORMAT_VERSION, Generator, Method, Request};

    use super::*;

    fn manifest() -> Manifest {
        let request = Request {
            seq: 1,
            id: "network/A".into(),
            task: "networks".into(),
            summary: "Create network A".into(),
            method: Method::Post,
            path: "/api/2.0/fo/network/".into(),
            params: vec![],
            body: None,
            effect: Effect::Create,
            captures: vec![],
            probe: None,
            source: None,
        };
        Manifest {
            format_version: FORMAT_VERSION,
            generator: Generator { name: "test".into(), version: "0".into() },
            sources: vec![],
            inputs: vec![],
            unrecognised: vec![],
            secrets: None,
            tasks: vec![],
            requests: vec![request],
            skipped: vec![],
            losses: vec![],
            manual_steps: vec![],
            warnings: vec![],
            report: vec![],
        }
    }

    fn state_after(records: &[Record]) -> State {
        let mut states = replay(Path::new("j"), &manifest(), records).expect("replays").states;
        states.remove(0)
    }

    #[test]
    fn a_request_executed_without_its_captures_is_never_scheduled_again_by_its_probe() {
        let (id, at) = ("network/A".to_owned(), 0);
        let intent = Record::Intent(Intent { seq: 1, id: id.clone(), attempt: 1, reason: SendReason::First, at });
        let outcome = |result| {
            Record::Outcome(Outcome {
                seq: 1,
                id: id.clone(),
                attempt: 1,
                result,
                http_status: Some(200),
                qualys_code: None,
                message: Some("capture `network/A#id`: the response names no new ID".into()),
                captures: BTreeMap::new(),
                response_sha256: None,
                wait_secs: None,
                at,
            })
        };
        let absent = Record::Probe(ProbeResult {
            seq: 1,
            id: id.clone(),
            found: Found::Absent,
            captures: BTreeMap::new(),
            response_sha256: "0".repeat(64),
            at,
        });
        let unknown = [intent.clone(), outcome(SendResult::Unknown), absent.clone()];
        assert_eq!(state_after(&unknown), State::Pending(SendReason::AfterProbeAbsent));
        let incomplete = [intent, outcome(SendResult::CaptureMissing), absent];
        assert!(matches!(state_after(&incomplete), State::Incomplete(why) if why.contains("no new ID")));
    }
}
