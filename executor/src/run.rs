//! `run`: every check before the first request, then the requests one at a time, in order,
//! each announced in the journal before it is sent and settled in it after.
//!
//! A request whose outcome is unknown (no answer, a server error, an unreadable or cut-off
//! response, or a crash between intent and outcome) is never sent again blindly: a read or
//! idempotent request may be repeated; a create is repeated only when its probe finds no such
//! object in the target, or when the operator says so (`resolve`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use qmig_schemas::journal::{
    Found, Header, Intent, JOURNAL_FORMAT, Outcome, ProbeResult, Record, SendReason, SendResult,
};
use qmig_schemas::{
    Body, DIGEST_PREFIX, Effect, Method, Param, Probe, Reported, Request, VerifiedBundle, sha256_hex, verify_bundle,
};

use crate::classify::{Verdict, classify};
use crate::cli::RunArgs;
use crate::credentials::{self, PASSPHRASE_ENV, PASSWORD_ENV, Source};
use crate::error::{Error, Stop};
use crate::extract::{self, Matched};
use crate::http::{Client, Reply, SendError, Target};
use crate::journal::{self, Journal};
use crate::pacing::{Limits, Pacer, Wait};
use crate::progress::{Progress, seconds};
use crate::render::{RenderError, Resolver, Wire, render};
use crate::secrets::{self, Secrets};
use crate::state::{self, State};

/// What a run did, printed at its end.
#[derive(Debug, Default)]
pub struct Summary {
    pub total: usize,
    /// Done before this run started.
    pub already_done: usize,
    /// Done in this run.
    pub done: usize,
    /// Sends beyond the first of a request (after a block, an error or an unknown outcome).
    pub retries: u64,
    pub waits: u64,
    pub waited: Duration,
    pub probes: u64,
    /// Stopped by `--stop-after` with requests left.
    pub stopped_early: bool,
    /// The captured values the bundle reports to the operator (label, value).
    pub reported: Vec<(String, String)>,
}

impl Summary {
    pub fn print(&self) {
        let left = self.total - self.already_done - self.done;
        println!(
            "done: {} requests in this run, {} before, {left} left of {}",
            self.done, self.already_done, self.total
        );
        println!(
            "retries: {}, waits: {} ({}), probes: {}",
            self.retries,
            self.waits,
            seconds(self.waited),
            self.probes
        );
        if self.stopped_early {
            println!("stopped as asked (--stop-after); run again to continue");
        }
        print_reported(&self.reported);
    }
}

/// The captures the manifest reports to the operator that have a value, in manifest order.
pub fn reported(report: &[Reported], captures: &BTreeMap<String, String>) -> Vec<(String, String)> {
    report.iter().filter_map(|r| captures.get(&r.capture).map(|value| (r.label.clone(), value.clone()))).collect()
}

/// Values nobody can look up later in the target (generated logins, activation codes).
pub fn print_reported(values: &[(String, String)]) {
    if values.is_empty() {
        return;
    }
    println!("for the operator:");
    for (label, value) in values {
        println!("  {label}: {value}");
    }
}

pub fn run(args: &RunArgs) -> Result<Summary, Error> {
    let bundle = verify_bundle(&args.bundle)?;
    check_approval(&args.approve, &bundle.digest)?;
    let target = Target::parse(&args.target)?;
    let proxy = args.proxy.as_deref().map(crate::http::proxy).transpose()?;
    if args.dry_run {
        dry_run(&bundle, &target)?;
        return Ok(Summary { total: bundle.manifest.requests.len(), ..Summary::default() });
    }
    let path = journal::path(args.journal.as_deref(), &bundle.digest)?;
    let header = Header {
        journal_format: JOURNAL_FORMAT,
        bundle_digest: bundle.digest.clone(),
        executor: env!("CARGO_PKG_NAME").to_owned(),
        executor_version: env!("CARGO_PKG_VERSION").to_owned(),
        target: target.as_str().to_owned(),
        at: now(),
    };
    let journal = Journal::open_for_run(&path, &header)?;
    let replayed = state::replay(&path, &bundle.manifest, journal.records())?;
    let secrets = match (&bundle.manifest.secrets, bundle.secrets_bytes()) {
        (Some(declared), Some(encrypted)) => {
            let source = Source {
                what: "secrets passphrase",
                file: args.passphrase_file.as_deref(),
                flag: "--passphrase-file",
                env: PASSPHRASE_ENV,
            };
            let passphrase = credentials::read(&source)?;
            Some(secrets::decrypt(encrypted, passphrase, args.max_work_factor, &declared.names)?)
        }
        _ => None,
    };
    let username = credentials::username(args.username.as_deref())?;
    let source = Source {
        what: "target password",
        file: args.password_file.as_deref(),
        flag: "--password-file",
        env: PASSWORD_ENV,
    };
    let password = credentials::read(&source)?;
    let client = Client::new(target, &username, &password, args.timeout, proxy);
    drop(password);

    let already_done = replayed.done();
    let total = bundle.manifest.requests.len();
    let mut runner = Runner {
        args,
        journal,
        client,
        secrets,
        captures: replayed.captures.clone(),
        pacer: Pacer::default(),
        progress: Progress::new(total as u64, already_done as u64),
        summary: Summary { total, already_done, ..Summary::default() },
    };
    let result = runner.all(&bundle, &replayed);
    runner.progress.finish();
    runner.summary.reported = reported(&bundle.manifest.report, &runner.captures);
    result.map(|()| runner.summary)
}

fn check_approval(approved: &str, actual: &str) -> Result<(), Error> {
    let hex = approved.strip_prefix(DIGEST_PREFIX).unwrap_or_default();
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(Error::BadApproval(approved.to_owned()));
    }
    if approved != actual {
        return Err(Error::DigestMismatch { approved: approved.to_owned(), actual: actual.to_owned() });
    }
    Ok(())
}

/// Seconds since the Unix epoch, for journal records.
pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// How long to wait until an attempt sent at `sent_at` (whole seconds) has had `settle`.
fn settle_left(sent_at: u64, settle: Duration, now: SystemTime) -> Option<Duration> {
    if settle.is_zero() {
        return None;
    }
    // The journal keeps whole seconds: count from the end of that second, never too early.
    let ready = UNIX_EPOCH + Duration::from_secs(sent_at.saturating_add(1)) + settle;
    ready.duration_since(now).ok().filter(|left| !left.is_zero())
}

struct Runner<'a> {
    args: &'a RunArgs,
    journal: Journal,
    client: Client,
    secrets: Option<Secrets>,
    captures: BTreeMap<String, String>,
    pacer: Pacer,
    progress: Progress,
    summary: Summary,
}

/// What the target said to one call, with secrets masked in every text.
struct Answer {
    verdict: Verdict,
    reply: Option<Reply>,
    document: Option<crate::xml::Document>,
    limits: Limits,
}

impl Runner<'_> {
    fn all(&mut self, bundle: &VerifiedBundle, replayed: &state::Replayed) -> Result<(), Error> {
        for (index, request) in bundle.manifest.requests.iter().enumerate() {
            let state = &replayed.states[index];
            if *state == State::Done {
                continue;
            }
            if self.args.stop_after.is_some_and(|n| self.summary.done as u64 >= n) {
                self.summary.stopped_early = true;
                break;
            }
            self.progress.current(request.seq, &request.id);
            let sent_at = replayed.sent_at[index];
            let reason = match state {
                State::Pending(reason) => Some(*reason),
                State::Unresolved(why) => self.after_unknown(bundle, request, why, sent_at, false)?,
                State::Incomplete(why) => self.after_unknown(bundle, request, why, sent_at, true)?,
                State::Done => None,
            };
            if let Some(reason) = reason {
                self.send(bundle, request, reason, replayed.attempts[index])?;
            }
            self.summary.done += 1;
            self.progress.advance();
        }
        Ok(())
    }

    fn resolver(&self, masked: bool) -> Resolver<'_> {
        Resolver { captures: &self.captures, secrets: self.secrets.as_ref(), masked }
    }

    fn mask(&self, text: &str) -> String {
        self.secrets.as_ref().map_or_else(|| text.to_owned(), |s| s.mask(text))
    }

    fn pace(&mut self, endpoint: &str, id: &str) {
        if let Some(wait) = self.pacer.before_call(endpoint, Instant::now()) {
            self.wait(wait, id);
        }
    }

    /// A create without a clear answer (lost, cut off, a server error, a crash) may still be
    /// running at the target: asking about it at once could find nothing and send it a second
    /// time. It is given `--settle` (default: as long as a call may take) from when it was sent.
    fn let_attempt_settle(&mut self, sent_at: Option<u64>, id: &str) {
        let settle = self.args.settle.unwrap_or(self.args.timeout);
        if let Some(left) = sent_at.and_then(|at| settle_left(at, settle, SystemTime::now())) {
            self.progress.note(&format!("{id}: waiting {} for its last attempt to settle", seconds(left)));
            std::thread::sleep(left);
        }
    }

    fn pause(&mut self) {
        std::thread::sleep(self.args.retry_pause);
    }

    /// One call and what it came to. Transport failures that may have reached the target are
    /// an unknown verdict; ones that certainly did not are returned as errors.
    fn call(&mut self, endpoint: &str, wire: &Wire) -> Result<Answer, String> {
        let reply = match self.client.send(wire) {
            Ok(reply) => reply,
            Err(SendError::NotSent(reason)) => return Err(self.mask(&reason)),
            Err(SendError::NoAnswer(reason)) => {
                let verdict = Verdict::Unknown { reason: self.mask(&reason) };
                return Ok(Answer { verdict, reply: None, document: None, limits: Limits::default() });
            }
        };
        let headers = reply.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        let limits = Limits::from_headers(headers).scaled(self.args.time_scale);
        self.pacer.observe(endpoint, limits, Instant::now());
        let classified = classify(reply.status, &reply.body);
        let verdict = match classified.verdict {
            Verdict::Failed { code, text } => {
                Verdict::Failed { code: code.map(|c| self.mask(&c)), text: self.mask(&text) }
            }
            Verdict::RegistrationPending { text } => Verdict::RegistrationPending { text: self.mask(&text) },
            Verdict::Unknown { reason } => Verdict::Unknown { reason: self.mask(&reason) },
            other => other,
        };
        Ok(Answer { verdict, reply: Some(reply), document: classified.document, limits })
    }

    fn wait(&mut self, wait: Wait, id: &str) {
        self.summary.waits += 1;
        self.summary.waited += wait.duration;
        self.progress.wait(wait, id);
    }

    /// Sends a request until it is done, or the run must stop.
    fn send(&mut self, bundle: &VerifiedBundle, request: &Request, first: SendReason, sent: u32) -> Result<(), Error> {
        // Qualys limits each API; whether the actions of one path (a list and a create) count
        // apart is not documented, so they are paced together: that can only wait more.
        let endpoint = request.path.as_str();
        let (seq, id) = (request.seq, request.id.clone());
        let (mut reason, mut attempt, mut blocked, mut unknown) = (first, sent, 0u32, 0u32);
        loop {
            attempt += 1;
            self.pace(endpoint, &id);
            let body = request.body.as_ref().map(|b| (b, bundle.body_bytes(b)));
            let wire = render(request.method, &request.path, &request.params, body, &self.resolver(false))
                .map_err(unrenderable(request))?;
            let sent_at = now();
            self.journal.append(&Record::Intent(Intent { seq, id: id.clone(), attempt, reason, at: sent_at }))?;
            if reason != SendReason::First {
                self.summary.retries += 1;
            }
            let answer = self.call(endpoint, &wire);
            drop(wire);
            let answer = match answer {
                Ok(answer) => answer,
                Err(reason) => {
                    let message = Some(format!("not sent: {reason}"));
                    self.settle(Outcome { message, ..outcome(request, attempt, SendResult::Error, None) })?;
                    return Err(Stop::Unreachable { seq, id, reason }.into());
                }
            };
            let status = answer.reply.as_ref().map(|r| r.status);
            match &answer.verdict {
                Verdict::Success => {
                    let taken = match &answer.document {
                        Some(document) => extract::captures(&document.root, &request.captures, &self.resolver(false)),
                        None => Ok(BTreeMap::new()),
                    };
                    return match taken {
                        Ok(captures) => {
                            let base = outcome(request, attempt, SendResult::Done, Some(&answer));
                            self.settle(Outcome { captures: captures.clone(), ..base })?;
                            self.captures.extend(captures);
                            Ok(())
                        }
                        Err(e) => {
                            let problem = self.mask(&e.to_string());
                            let base = outcome(request, attempt, SendResult::CaptureMissing, Some(&answer));
                            self.settle(Outcome { message: Some(problem.clone()), ..base })?;
                            Err(Stop::CaptureMissing { seq, id, problem }.into())
                        }
                    };
                }
                Verdict::Blocked { block, code } => {
                    let wait = Pacer::after_block(&answer.limits, *block, blocked, self.args.concurrency_backoff);
                    let base = outcome(request, attempt, SendResult::Blocked, Some(&answer));
                    let wait_secs = Some(wait.duration.as_secs());
                    self.settle(Outcome { qualys_code: Some(code.clone()), wait_secs, ..base })?;
                    self.wait(wait, &id);
                    blocked += 1;
                    reason = SendReason::AfterBlocked;
                }
                Verdict::RegistrationPending { text } => {
                    let base = outcome(request, attempt, SendResult::Error, Some(&answer));
                    let (qualys_code, message) = (Some("2003".to_owned()), Some(text.clone()));
                    self.settle(Outcome { qualys_code, message, ..base })?;
                    return Err(Stop::Registration { seq, id, text: text.clone() }.into());
                }
                Verdict::Failed { code, text } => {
                    let base = outcome(request, attempt, SendResult::Error, Some(&answer));
                    self.settle(Outcome { qualys_code: code.clone(), message: Some(text.clone()), ..base })?;
                    return Err(Stop::Refused { seq, id, status, code: code.clone(), text: text.clone() }.into());
                }
                Verdict::Unknown { reason: why } => {
                    let base = outcome(request, attempt, SendResult::Unknown, Some(&answer));
                    self.settle(Outcome { message: Some(why.clone()), ..base })?;
                    unknown += 1;
                    if unknown >= self.args.max_attempts {
                        return Err(Stop::NoAnswer { seq, id, attempts: unknown, last: why.clone() }.into());
                    }
                    self.pause();
                    match self.after_unknown(bundle, request, why, Some(sent_at), false)? {
                        Some(next) => reason = next,
                        None => return Ok(()),
                    }
                }
            }
        }
    }

    fn settle(&mut self, outcome: Outcome) -> Result<(), Error> {
        Ok(self.journal.append(&Record::Outcome(outcome))?)
    }

    /// Decides what to do with a request whose outcome is unknown, or that was `executed`
    /// without its captures: `Some(reason)` to send it again, `None` when its probe found it
    /// done. `sent_at` is when its last attempt was sent.
    fn after_unknown(
        &mut self,
        bundle: &VerifiedBundle,
        request: &Request,
        why: &str,
        sent_at: Option<u64>,
        executed: bool,
    ) -> Result<Option<SendReason>, Error> {
        let (seq, id) = (request.seq, &request.id);
        if request.effect == Effect::Create && !executed {
            self.let_attempt_settle(sent_at, id);
        }
        match (request.effect, &request.probe) {
            (Effect::Read | Effect::Idempotent, _) => {
                let effect = if request.effect == Effect::Read { "a read-only" } else { "an idempotent" };
                self.progress.note(&format!("#{seq} {id}: {why}; sending it again ({effect} request may be repeated)"));
                Ok(Some(SendReason::AfterUnknownOutcome))
            }
            (Effect::Create, Some(probe)) => {
                self.progress.note(&format!("#{seq} {id}: {why}; asking the target whether it exists (probe)"));
                match self.probe(bundle, request, probe)? {
                    Found::Exists => Ok(None),
                    Found::Absent if executed => {
                        Err(needs_decision(request, &format!("{why}; yet its probe finds no such object"), ""))
                    }
                    Found::Absent => Ok(Some(SendReason::AfterProbeAbsent)),
                    Found::Several => Err(needs_decision(request, "its probe found several matching objects", "")),
                }
            }
            (Effect::Create, None) => {
                Err(needs_decision(request, why, " (it creates an object and declares no probe)"))
            }
        }
    }

    fn probe(&mut self, bundle: &VerifiedBundle, request: &Request, probe: &Probe) -> Result<Found, Error> {
        let endpoint = probe.path.as_str();
        let (seq, id) = (request.seq, request.id.clone());
        let (mut blocked, mut unknown) = (0u32, 0u32);
        loop {
            self.pace(endpoint, &id);
            let body = probe.body.as_ref().map(|b| (b, bundle.body_bytes(b)));
            let wire = render(probe.method, &probe.path, &probe.params, body, &self.resolver(false))
                .map_err(unrenderable(request))?;
            self.summary.probes += 1;
            let answer =
                self.call(endpoint, &wire).map_err(|reason| Stop::Unreachable { seq, id: id.clone(), reason })?;
            let failed = |status, code: &Option<String>, text: &str| Stop::ProbeFailed {
                seq,
                id: id.clone(),
                status,
                code: code.clone(),
                text: text.to_owned(),
            };
            let status = answer.reply.as_ref().map(|r| r.status);
            match (&answer.verdict, &answer.document, &answer.reply) {
                (Verdict::Success, Some(document), Some(reply)) => {
                    let resolver = self.resolver(false);
                    let matched =
                        extract::select(&document.root, &probe.exists, &resolver).map_err(unrenderable(request))?;
                    let (found, captures) = match matched {
                        Matched::One(record) => {
                            let captures = extract::probe_captures(record, &probe.captures)
                                .map_err(|e| failed(status, &None, &self.mask(&e.to_string())))?;
                            (Found::Exists, captures)
                        }
                        Matched::None if extract::is_one_page(&document.root) => {
                            let why = "its probe's answer is one page of a longer list, without the object";
                            return Err(needs_decision(request, why, ""));
                        }
                        Matched::None => (Found::Absent, BTreeMap::new()),
                        Matched::Several(_) => (Found::Several, BTreeMap::new()),
                    };
                    let record = ProbeResult {
                        seq,
                        id: id.clone(),
                        found,
                        captures: captures.clone(),
                        response_sha256: sha256_hex(&reply.body),
                        at: now(),
                    };
                    self.journal.append(&Record::Probe(record))?;
                    self.captures.extend(captures);
                    let said = match found {
                        Found::Exists => "it exists; counted as done",
                        Found::Absent => "it does not exist; sending it again",
                        Found::Several => "several objects match",
                    };
                    self.progress.note(&format!("#{seq} {id}: probe: {said}"));
                    return Ok(found);
                }
                (Verdict::Blocked { block, .. }, _, _) => {
                    let wait = Pacer::after_block(&answer.limits, *block, blocked, self.args.concurrency_backoff);
                    self.wait(wait, &id);
                    blocked += 1;
                }
                (Verdict::Failed { code, text }, _, _) => return Err(failed(status, code, text).into()),
                (Verdict::RegistrationPending { text }, _, _) => {
                    return Err(Stop::Registration { seq, id, text: text.clone() }.into());
                }
                (verdict, _, _) => {
                    let why = match verdict {
                        Verdict::Unknown { reason } => reason.clone(),
                        _ => "a success without a readable body".to_owned(),
                    };
                    unknown += 1;
                    if unknown >= self.args.max_attempts {
                        return Err(Stop::NoAnswer { seq, id, attempts: unknown, last: why }.into());
                    }
                    self.progress.note(&format!("#{seq} {id}: probe: {why}; asking again"));
                    self.pause();
                }
            }
        }
    }
}

/// The outcome record of an attempt, with what the answer (if any) says about status and body.
fn outcome(request: &Request, attempt: u32, result: SendResult, answer: Option<&Answer>) -> Outcome {
    let reply = answer.and_then(|a| a.reply.as_ref());
    Outcome {
        seq: request.seq,
        id: request.id.clone(),
        attempt,
        result,
        http_status: reply.map(|r| r.status),
        qualys_code: None,
        message: None,
        captures: BTreeMap::new(),
        response_sha256: reply.map(|r| sha256_hex(&r.body)),
        wait_secs: None,
        at: now(),
    }
}

fn unrenderable(request: &Request) -> impl FnOnce(RenderError) -> Error + '_ {
    move |source| Error::Render { seq: request.seq, id: request.id.clone(), source }
}

fn needs_decision(request: &Request, why: &str, hint: &'static str) -> Error {
    let captures: Vec<String> = request.captures.iter().map(|c| format!(" --capture '{}=VALUE'", c.name)).collect();
    let captures = if captures.is_empty() { String::new() } else { format!(";{}", captures.join("")) };
    Error::NeedsDecision { seq: request.seq, id: request.id.clone(), why: why.to_owned(), hint, captures }
}

/// Prints every request (and probe) as it would be sent, secrets masked and captures not yet
/// known shown as their placeholders. Touches neither the network nor the journal.
fn dry_run(bundle: &VerifiedBundle, target: &Target) -> Result<(), Error> {
    let none = BTreeMap::new();
    let resolver = Resolver { captures: &none, secrets: None, masked: true };
    let show = |request: &Request, call: (Method, &str, &[Param], Option<&Body>), indent: &str| {
        let (method, path, params, body) = call;
        let body = body.map(|b| (b, bundle.body_bytes(b)));
        let wire = render(method, path, params, body, &resolver).map_err(unrenderable(request))?;
        println!("{indent}{} {}", method.as_str(), target.url(&wire.target));
        if let Some(content_type) = &wire.content_type {
            println!("{indent}Content-Type: {content_type}");
        }
        for line in String::from_utf8_lossy(&wire.body).lines() {
            println!("{indent}| {line}");
        }
        Ok::<(), Error>(())
    };
    for request in &bundle.manifest.requests {
        let effect = match request.effect {
            Effect::Create => "create",
            Effect::Idempotent => "idempotent",
            Effect::Read => "read",
        };
        println!("#{} {} [{effect}] {}", request.seq, request.id, request.summary);
        show(request, (request.method, &request.path, &request.params, request.body.as_ref()), "  ")?;
        for capture in &request.captures {
            println!("  captures {}", capture.name);
        }
        if let Some(probe) = &request.probe {
            println!("  probe (exists when one {} matches):", probe.exists.record);
            show(request, (probe.method, &probe.path, &probe.params, probe.body.as_ref()), "    ")?;
        }
    }
    println!("digest: {}", bundle.digest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_attempt_is_given_the_settle_time_from_the_end_of_its_second() {
        let sent = UNIX_EPOCH + Duration::from_secs(1_000);
        let settle = Duration::from_secs(30);
        assert_eq!(settle_left(1_000, settle, sent), Some(Duration::from_secs(31)));
        assert_eq!(settle_left(1_000, settle, sent + Duration::from_secs(20)), Some(Duration::from_secs(11)));
        assert_eq!(settle_left(1_000, settle, sent + Duration::from_secs(31)), None);
        assert_eq!(settle_left(1_000, settle, sent + Duration::from_secs(3_600)), None);
        assert_eq!(settle_left(1_000, Duration::ZERO, sent), None);
    }
}
