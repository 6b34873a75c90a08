//! What a journal means: where each request of a bundle stands, replayed from its records in
//! order, with every record checked against what a run writes in its place. The executor
//! decides what to send from this; `status` shows it.

use std::collections::BTreeMap;

use crate::journal::{Found, LineError, Record, Resolution, SendReason, SendResult};
use crate::{Effect, Manifest};

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

/// How a request came to be done: what tells a request that created its object from one
/// that found it already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The target answered that it executed the request.
    Sent,
    /// Its outcome was in doubt, and its probe found the object in the target: the run may
    /// have created it, or the object may have been there before.
    Probed,
    /// Its outcome was in doubt, and the operator decided it was done.
    Decided,
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
    /// How each request that is done was settled (`None` while it is not done).
    pub settled: Vec<Option<Settled>>,
}

impl Replayed {
    pub fn done(&self) -> usize {
        self.states.iter().filter(|s| **s == State::Done).count()
    }
}

/// Folds the records over the requests, refusing as corrupt (naming the line) a record that no
/// run writes in that place: about a request the bundle does not hold there, a send of a
/// request before every request it depends on was done, an outcome without its intent, a probe
/// or a decision about a request whose outcome was not in doubt, anything about a request
/// already done. Requests may be sent in any order their dependencies allow.
pub fn replay(manifest: &Manifest, records: &[Record]) -> Result<Replayed, LineError> {
    let count = manifest.requests.len();
    let mut replayed = Replayed {
        states: vec![State::Pending(SendReason::First); count],
        attempts: vec![0; count],
        sent_at: vec![None; count],
        captures: BTreeMap::new(),
        last_error: None,
        settled: vec![None; count],
    };
    let dependencies = crate::dependencies(&manifest.requests);
    // The attempt of each request whose last intent has no outcome yet.
    let mut open: Vec<Option<u32>> = vec![None; count];
    for (index, record) in records.iter().enumerate() {
        let corrupt = |problem: String| LineError { line: index + 1, problem };
        if let Record::Lost(lost) = record {
            mark_lost(&mut replayed, lost.synced_at);
            continue;
        }
        let Some((seq, id)) = record.request() else { continue };
        let position = usize::try_from(seq).ok().and_then(|s| s.checked_sub(1)).filter(|&p| p < count);
        let Some(position) = position.filter(|&p| manifest.requests[p].id == id) else {
            return Err(corrupt(format!("refers to request {seq} ({id}), which this bundle does not hold")));
        };
        if replayed.states[position] == State::Done {
            return Err(corrupt(format!("is about request {seq} ({id}), already done")));
        }
        let undone = dependencies[position].iter().find(|&&d| replayed.states[d] != State::Done);
        if let (Record::Intent(_), Some(&before)) = (record, undone) {
            let before = &manifest.requests[before];
            return Err(corrupt(format!(
                "sends request {seq} ({id}) before request {} ({}), which it depends on, was done",
                before.seq, before.id
            )));
        }
        let state = &mut replayed.states[position];
        let in_doubt = matches!(state, State::Unresolved(_) | State::Incomplete(_));
        match record {
            Record::Header(_) | Record::Lost(_) => {}
            Record::Intent(intent) => {
                if intent.attempt != replayed.attempts[position] + 1 {
                    let after = replayed.attempts[position];
                    return Err(corrupt(format!("sends attempt {} of {id} after attempt {after}", intent.attempt)));
                }
                if in_doubt && manifest.requests[position].effect == Effect::Create {
                    return Err(corrupt(format!("sends {id} again while its outcome is in doubt")));
                }
                if replayed.last_error.as_ref().is_some_and(|e| e.seq == seq) {
                    replayed.last_error = None;
                }
                replayed.attempts[position] = intent.attempt;
                replayed.sent_at[position] = Some(intent.at);
                open[position] = Some(intent.attempt);
                *state = State::Unresolved(format!("attempt {} was sent but no outcome was recorded", intent.attempt));
            }
            Record::Outcome(outcome) => {
                if open[position].take() != Some(outcome.attempt) {
                    return Err(corrupt(format!(
                        "an outcome of attempt {} of {id}, which was not sent",
                        outcome.attempt
                    )));
                }
                let message = outcome.message.clone().unwrap_or_default();
                *state = match outcome.result {
                    SendResult::Done => {
                        replayed.captures.extend(outcome.captures.clone());
                        replayed.settled[position] = Some(Settled::Sent);
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
            Record::Probe(_) | Record::Decision(_) if !in_doubt => {
                return Err(corrupt(format!("settles {id}, whose outcome was not in doubt")));
            }
            Record::Probe(probe) => {
                open[position] = None;
                *state = match (probe.found, &*state) {
                    (Found::Exists, _) => {
                        replayed.captures.extend(probe.captures.clone());
                        replayed.settled[position] = Some(Settled::Probed);
                        State::Done
                    }
                    // It was executed: a probe that does not find it is wrong, or too early.
                    (Found::Absent, State::Incomplete(why)) => State::Incomplete(why.clone()),
                    (Found::Absent, _) => State::Pending(SendReason::AfterProbeAbsent),
                    (Found::Several, _) => State::Unresolved("its probe found several matching objects".to_owned()),
                };
            }
            Record::Decision(decision) => {
                open[position] = None;
                *state = match decision.resolution {
                    Resolution::Done => {
                        replayed.captures.extend(decision.captures.clone());
                        replayed.settled[position] = Some(Settled::Decided);
                        State::Done
                    }
                    Resolution::Retry => State::Pending(SendReason::AfterOperatorRetry),
                };
            }
        }
    }
    Ok(replayed)
}

/// After records were lost, no request that is not done may be trusted to be unsent: each is
/// in doubt, as if sent when the head was last synced.
fn mark_lost(replayed: &mut Replayed, synced_at: u64) {
    let why = "the journal lost records that may have sent it";
    for (state, sent_at) in replayed.states.iter_mut().zip(&mut replayed.sent_at) {
        if matches!(state, State::Pending(_) | State::Unresolved(_)) {
            *state = State::Unresolved(why.to_owned());
            *sent_at = Some(sent_at.unwrap_or(0).max(synced_at));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Request;
    use crate::journal::{Intent, Outcome, ProbeResult};
    use crate::test_support::{create, manifest_of};

    use super::*;

    fn manifest() -> Manifest {
        manifest_of(vec![request(1, "network/A", &[])])
    }

    fn request(seq: u64, id: &str, depends_on: &[&str]) -> Request {
        let depends_on = depends_on.iter().map(|d| (*d).to_owned()).collect();
        create(seq, id.into(), "/api/2.0/fo/network/", depends_on)
    }

    fn state_after(records: &[Record]) -> State {
        let mut states = replay(&manifest(), records).expect("replays").states;
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

    #[test]
    fn forged_or_edited_records_are_refused_naming_their_line() {
        let id = "network/A".to_owned();
        let intent =
            |attempt| Record::Intent(Intent { seq: 1, id: id.clone(), attempt, reason: SendReason::First, at: 0 });
        let done = |attempt, result| {
            Record::Outcome(Outcome {
                seq: 1,
                id: id.clone(),
                attempt,
                result,
                http_status: None,
                qualys_code: None,
                message: None,
                captures: BTreeMap::new(),
                response_sha256: None,
                wait_secs: None,
                at: 0,
            })
        };
        let probe = Record::Probe(ProbeResult {
            seq: 1,
            id: id.clone(),
            found: Found::Absent,
            captures: BTreeMap::new(),
            response_sha256: "0".repeat(64),
            at: 0,
        });
        let refused_line = |records: &[Record]| match replay(&manifest(), records) {
            Err(LineError { line, .. }) => line,
            other => panic!("accepted: {other:?}"),
        };
        assert_eq!(refused_line(&[done(1, SendResult::Done)]), 1, "a `done` for a request never sent");
        assert_eq!(refused_line(&[intent(1), done(2, SendResult::Done)]), 2, "an outcome of another attempt");
        assert_eq!(refused_line(&[intent(1), done(1, SendResult::Blocked), probe.clone()]), 3, "nothing in doubt");
        assert_eq!(refused_line(&[intent(1), intent(2)]), 2, "a create in doubt sent again without its probe");
        assert_eq!(refused_line(&[intent(1), done(1, SendResult::Done), intent(2)]), 3, "a request already done");
        assert_eq!(refused_line(&[intent(2)]), 1, "attempt 2 without attempt 1");
        assert_eq!(
            state_after(&[intent(1), probe, intent(2)]),
            State::Unresolved("attempt 2 was sent but no outcome was recorded".into())
        );
    }

    #[test]
    fn requests_sent_out_of_bundle_order_replay_once_their_dependencies_are_done() {
        let manifest = manifest_of(vec![
            request(1, "network/A", &[]),
            request(2, "asset-group/G", &["network/A"]),
            request(3, "user/U", &[]),
        ]);
        let sent = |seq: u64, id: &str| {
            let intent = Record::Intent(Intent { seq, id: id.into(), attempt: 1, reason: SendReason::First, at: seq });
            let outcome = Record::Outcome(Outcome {
                seq,
                id: id.into(),
                attempt: 1,
                result: SendResult::Done,
                http_status: Some(200),
                qualys_code: None,
                message: None,
                captures: BTreeMap::new(),
                response_sha256: None,
                wait_secs: None,
                at: seq,
            });
            [intent, outcome]
        };
        let records: Vec<Record> = [sent(3, "user/U"), sent(1, "network/A")].concat();
        let replayed = replay(&manifest, &records).expect("a later independent request may go first");
        assert_eq!(replayed.states, [State::Done, State::Pending(SendReason::First), State::Done]);

        let early: Vec<Record> = [sent(3, "user/U"), sent(2, "asset-group/G")].concat();
        let refused = replay(&manifest, &early).expect_err("sent before what it depends on");
        assert_eq!(refused.line, 3);
        assert!(refused.problem.contains("before request 1 (network/A)"), "{}", refused.problem);
    }
}
