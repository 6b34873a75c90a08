//! `run`: every check before the first request, then the requests one at a time, each once
//! the requests it depends on are done, in bundle order unless its endpoint has to wait while
//! another's can take a call; each announced in the journal before it is sent and settled in
//! it after.
//!
//! A request whose outcome is unknown (no answer, a server error, an unreadable or cut-off
//! response, or a crash between intent and outcome) is never sent again blindly: a read or
//! idempotent request may be repeated; a create is repeated only when its probe finds no such
//! object in the target, or when the operator says so (`resolve`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use qmig_schemas::journal::{
    Found, Header, Intent, JOURNAL_FORMAT, Outcome, ProbeResult, Record, SendReason, SendResult,
};
use qmig_schemas::xml::Document;
use qmig_schemas::{
    Body, DIGEST_PREFIX, Effect, Method, Param, Phase, Probe, Reported, Request, Target, VerifiedBundle, sha256_hex,
    verify_bundle,
};

use crate::classify::{Block, Verdict, classify};
use crate::cli::{ConnectArgs, RunArgs};
use crate::credentials;
use crate::error::{Error, Stop, exit};
use crate::extract::{self, Matched};
use crate::http::{Client, Reply, SendError};
use crate::journal::{self, Journal};
use crate::pacing::{Limits, Pacer, Wait};
use crate::progress::{Progress, seconds};
use crate::render::{RenderError, Resolver, render};
use crate::secrets::{self, Secrets};
use qmig_schemas::replay::{Replayed, State};
use qmig_schemas::schedule::Schedule;

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
    /// Cutover requests left when the run stopped at the cutover gate (without `--cutover`).
    pub at_gate: usize,
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
        } else if self.at_gate > 0 {
            println!(
                "stopped at the cutover gate: the migration phase is complete; the {} cutover requests (see the \
                 review) are sent by `qmig-execute run --cutover` on the day the source stops scanning",
                self.at_gate
            );
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

/// The target a command talks to, checked before anything is read or sent: the URL rules, the
/// target the bundle was reviewed for, the proxy and the certificate authorities.
pub(crate) struct Connection {
    target: Target,
    proxy: Option<ureq::Proxy>,
    roots: ureq::tls::RootCerts,
}

impl Connection {
    pub(crate) fn check(bundle: &VerifiedBundle, args: &ConnectArgs) -> Result<Connection, Error> {
        let target = Target::parse(&args.target)?;
        // A digest approved for a test subscription must not reach production by a slip of --target.
        if let Some(reviewed) = bundle.manifest.target.as_ref().filter(|r| *r != target.as_str() && !args.other_target)
        {
            return Err(Error::OtherTarget { reviewed: reviewed.clone(), target: target.as_str().to_owned() });
        }
        let proxy = args.proxy.as_deref().map(crate::http::proxy).transpose()?;
        let roots = crate::http::roots(args.ca_file.as_deref())?;
        Ok(Connection { target, proxy, roots })
    }

    /// The client, with the API user's credentials (asked for now, when no file names them).
    pub(crate) fn client(self, args: &ConnectArgs) -> Result<(Client, String), Error> {
        let username = credentials::username(args.username.as_deref())?;
        let password = credentials::password(args.password_file.as_deref())?;
        let client = Client::new(self.target, &username, &password, args.timeout, self.proxy, self.roots);
        Ok((client, username))
    }
}

/// Runs the bundle, or with `--dry-run` only lists it (no summary then).
pub fn run(args: &RunArgs) -> Result<Option<Summary>, Error> {
    let bundle = verify_bundle(&args.bundle)?;
    check_approval(&args.approve, &bundle.digest)?;
    let connection = Connection::check(&bundle, &args.connect)?;
    if args.dry_run {
        return dry_run(&bundle, &connection.target).map(|()| None);
    }
    let path = journal::path(args.journal.as_deref(), &bundle.digest)?;
    let header = Header {
        journal_format: JOURNAL_FORMAT,
        bundle_digest: bundle.digest.clone(),
        executor: env!("CARGO_PKG_NAME").to_owned(),
        executor_version: env!("CARGO_PKG_VERSION").to_owned(),
        target: connection.target.as_str().to_owned(),
        at: now(),
    };
    let journal = Journal::open_for_run(&path, &header)?;
    let replayed = journal::replay(&path, &bundle.manifest, journal.records())?;
    let secrets = match (&bundle.manifest.secrets, bundle.secrets_bytes()) {
        (Some(declared), Some(encrypted)) => {
            let passphrase = credentials::passphrase(args.passphrase_file.as_deref())?;
            Some(secrets::decrypt(encrypted, passphrase, args.max_work_factor, declared)?)
        }
        _ => None,
    };
    let (client, username) = connection.client(&args.connect)?;

    let requests = &bundle.manifest.requests;
    let total = requests.len();
    let gate = requests.iter().position(|r| r.phase == Phase::Cutover).unwrap_or(total);
    let unfinished = replayed.states[..gate].iter().filter(|s| **s != State::Done).count();
    if args.cutover && unfinished > 0 {
        return Err(Error::CutoverBeforeMigration { left: unfinished });
    }
    let end = if args.cutover { total } else { gate };
    let already_done = replayed.done();
    let mut runner =
        Runner::new(Policy::of_run(args), Some(journal), client, Progress::new(total as u64, already_done as u64));
    runner.secrets = secrets;
    runner.captures.clone_from(&replayed.captures);
    runner.summary = Summary { total, already_done, ..Summary::default() };
    runner.current = on_interrupt(&path);
    // The checks before the first write: once anything was sent, the bundle's own objects are
    // in the target, and its probes would find them.
    if !args.no_preflight && replayed.attempts.iter().all(|a| *a == 0) {
        crate::preflight::conclude(&runner.preflight(&bundle, &username)?)?;
    }
    let result = runner.all(&bundle, &replayed, end);
    if !args.cutover && !runner.summary.stopped_early {
        runner.summary.at_gate = replayed.states[gate..].iter().filter(|s| **s != State::Done).count();
    }
    runner.progress.finish();
    runner.summary.reported = reported(&bundle.manifest.report, &runner.captures);
    result.map(|()| Some(runner.summary))
}

/// On SIGINT or SIGTERM the run ends at once, as a crash would (the journal makes that safe),
/// saying where it stopped and how to resume. Returns the request under way, for the handler.
fn on_interrupt(journal: &std::path::Path) -> Arc<Mutex<String>> {
    let current = Arc::new(Mutex::new("before the first request".to_owned()));
    let (at, journal) = (Arc::clone(&current), journal.display().to_string());
    // Only one handler per process: a second run in a process (tests) keeps the first.
    let _ = ctrlc::set_handler(move || {
        let at = at.lock().unwrap_or_else(PoisonError::into_inner).clone();
        eprintln!(
            "\ninterrupted at {at}; the journal {journal} holds where it stopped: run the same command again to resume \
             (a request that was under way is checked with its probe, never sent twice blindly)"
        );
        std::process::exit(i32::from(exit::INTERRUPTED));
    });
    current
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

/// The shortest default settle time (see `Policy::settle`).
const MIN_DEFAULT_SETTLE: Duration = Duration::from_secs(600);

/// How the run treats waits, retries and doubt, decided once from the command line.
pub(crate) struct Policy {
    /// How long after it was sent a create whose outcome is unknown may still be executing at
    /// the target. Qualys documents no bound, and a call it is executing is not cancelled when
    /// the client gives up; so by default twice the time a call is allowed, and at least ten
    /// minutes. Only a probe run after that may send a create again.
    settle: Duration,
    retry_pause: Duration,
    concurrency_backoff: Duration,
    max_attempts: u32,
    time_scale: u32,
    stop_after: Option<u64>,
}

impl Policy {
    fn of_run(args: &RunArgs) -> Policy {
        let defaults = Policy::from(&args.connect);
        Policy { settle: args.settle.unwrap_or(defaults.settle), stop_after: args.stop_after, ..defaults }
    }
}

impl From<&ConnectArgs> for Policy {
    fn from(args: &ConnectArgs) -> Policy {
        Policy {
            settle: (args.timeout * 2).max(MIN_DEFAULT_SETTLE),
            retry_pause: args.retry_pause,
            concurrency_backoff: args.concurrency_backoff,
            max_attempts: args.max_attempts,
            time_scale: args.time_scale,
            stop_after: None,
        }
    }
}

pub(crate) struct Runner {
    policy: Policy,
    /// None for the preflight command, which sends no request of the bundle.
    journal: Option<Journal>,
    client: Client,
    secrets: Option<Secrets>,
    captures: BTreeMap<String, String>,
    pub(crate) pacer: Pacer,
    progress: Progress,
    summary: Summary,
    current: Arc<Mutex<String>>,
}

/// What a call came to once blocks are waited out and refusals have stopped the run, with
/// secrets masked in every text.
enum Answer {
    Success(Reply, Document),
    /// The call may or may not have been executed: why not known, and the reply if there was one.
    Unknown(String, Option<Reply>),
    /// The target blocked the call for its endpoint's rate limit (not executed): it is sent
    /// again once the window allows, other endpoints' work going first.
    Deferred,
}

/// One call of a request or of its probe, as the bundle declares it.
#[derive(Clone, Copy)]
pub(crate) struct Call<'a> {
    method: Method,
    path: &'a str,
    params: &'a [Param],
    body: Option<&'a Body>,
}

impl<'a> Call<'a> {
    pub(crate) fn of(request: &'a Request) -> Call<'a> {
        Call { method: request.method, path: &request.path, params: &request.params, body: request.body.as_ref() }
    }

    pub(crate) fn probe(probe: &'a Probe) -> Call<'a> {
        Call { method: probe.method, path: &probe.path, params: &probe.params, body: probe.body.as_ref() }
    }
}

/// A send of a request in progress: the number of its last attempt, why the next is sent, and
/// when the last one left.
struct Attempt {
    number: u32,
    reason: SendReason,
    sent_at: u64,
}

impl Runner {
    pub(crate) fn new(policy: Policy, journal: Option<Journal>, client: Client, progress: Progress) -> Runner {
        Runner {
            policy,
            journal,
            client,
            secrets: None,
            captures: BTreeMap::new(),
            pacer: Pacer::default(),
            progress,
            summary: Summary::default(),
            current: Arc::default(),
        }
    }

    /// Appends a record about a request's attempt; only a run sends requests, and it has a journal.
    fn record(&mut self, record: &Record) -> Result<(), Error> {
        Ok(self.journal.as_mut().map(|journal| journal.append(record)).transpose().map(drop)?)
    }

    /// Sends the requests before `end` that are not done, each once its dependencies are done:
    /// the earliest whose endpoint can take a call now (see [`Schedule`]).
    fn all(&mut self, bundle: &VerifiedBundle, replayed: &Replayed, end: usize) -> Result<(), Error> {
        let requests = &bundle.manifest.requests;
        let done: Vec<bool> = replayed.states.iter().map(|s| *s == State::Done).collect();
        let dependencies = qmig_schemas::dependencies(requests);
        let mut schedule = Schedule::new(requests, &dependencies, &done, end);
        // Requests the target blocked for their endpoint's rate, by position: their last attempt.
        let mut deferred: BTreeMap<usize, u32> = BTreeMap::new();
        self.progress.outlook(&schedule, |e| self.pacer.budget(e));
        while let Some(index) = schedule.next(|e| self.pacer.before_call(e, Instant::now()).map(|w| w.duration)) {
            let (request, state) = (&requests[index], &replayed.states[index]);
            if self.policy.stop_after.is_some_and(|n| self.summary.done as u64 >= n) {
                self.summary.stopped_early = true;
                break;
            }
            self.progress.current(request.seq, &request.id);
            *self.current.lock().unwrap_or_else(PoisonError::into_inner) =
                format!("request {} ({})", request.seq, request.id);
            let sent_at = replayed.sent_at[index];
            let (number, reason) = match (deferred.remove(&index), state) {
                (Some(number), _) => (number, Some(SendReason::AfterBlocked)),
                (None, State::Pending(reason)) => (replayed.attempts[index], Some(*reason)),
                (None, State::Unresolved(why)) => {
                    (replayed.attempts[index], self.after_unknown(bundle, request, why, sent_at, false)?)
                }
                (None, State::Incomplete(why)) => {
                    (replayed.attempts[index], self.after_unknown(bundle, request, why, sent_at, true)?)
                }
                (None, State::Done) => (0, None),
            };
            if let Some(reason) = reason
                && let Some(number) = self.send(bundle, request, Attempt { number, reason, sent_at: 0 })?
            {
                deferred.insert(index, number);
                continue;
            }
            self.summary.done += 1;
            schedule.done(index);
            self.progress.advance();
            self.progress.outlook(&schedule, |e| self.pacer.budget(e));
        }
        Ok(())
    }

    fn resolver(&self) -> Resolver<'_> {
        Resolver { captures: &self.captures, secrets: self.secrets.as_ref(), masked: false }
    }

    fn mask(&self, text: &str) -> String {
        self.secrets.as_ref().map_or_else(|| text.to_owned(), |s| s.mask(text))
    }

    fn wait(&mut self, wait: Wait, id: &str) {
        self.summary.waits += 1;
        self.summary.waited += wait.duration;
        self.progress.wait(wait, id);
    }

    /// One exchange with the target, shared by requests and probes: paced, rendered, sent, and
    /// sent again after the wait the target asks for while it blocks the call (a blocked call
    /// was not executed). For a request (`attempt`), every send is announced in the journal
    /// before it leaves and every answer but a success or an unknown outcome recorded after.
    /// A refusal, of a request or of its probe, stops the run here.
    fn exchange(
        &mut self,
        bundle: &VerifiedBundle,
        request: &Request,
        call: Call<'_>,
        mut attempt: Option<&mut Attempt>,
    ) -> Result<Answer, Error> {
        // Qualys limits each API; whether the actions of one path (a list and a create) count
        // apart is not documented, so they are paced together: that can only wait more.
        let (endpoint, seq, id) = (call.path, request.seq, request.id.clone());
        let mut blocked = 0u32;
        loop {
            if let Some(wait) = self.pacer.before_call(endpoint, Instant::now()) {
                self.wait(wait, &id);
            }
            let body = call.body.map(|b| (b, bundle.body_bytes(b)));
            let wire =
                render(call.method, call.path, call.params, body, &self.resolver()).map_err(unrenderable(request))?;
            if let Some(attempt) = attempt.as_deref_mut() {
                attempt.number += 1;
                attempt.sent_at = now();
                let (number, reason, at) = (attempt.number, attempt.reason, attempt.sent_at);
                self.record(&Record::Intent(Intent { seq, id: id.clone(), attempt: number, reason, at }))?;
                if reason != SendReason::First {
                    self.summary.retries += 1;
                }
            } else {
                self.summary.probes += 1;
            }
            let sent = self.client.send(&wire);
            drop(wire);
            let reply = match sent {
                Ok(reply) => reply,
                Err(SendError::NoAnswer(reason)) => return Ok(Answer::Unknown(self.mask(&reason), None)),
                Err(SendError::NotSent(reason)) => {
                    return Err(self.not_sent(request, attempt.as_deref(), &reason, false));
                }
                Err(SendError::Tls(reason)) => return Err(self.not_sent(request, attempt.as_deref(), &reason, true)),
            };
            let headers = reply.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
            let limits = Limits::from_headers(headers).scaled(self.policy.time_scale);
            self.pacer.observe(endpoint, limits, Instant::now());
            let status = Some(reply.status);
            let number = attempt.as_deref().map(|a| a.number);
            let base = |result| number.map(|n| outcome(request, n, result, Some(&reply)));
            let classified = classify(reply.status, &reply.body);
            let (registration, code, text) = match (classified.verdict, classified.document) {
                (Verdict::Success, Some(document)) => return Ok(Answer::Success(reply, document)),
                (Verdict::Blocked { block, code }, _) => {
                    let wait = Pacer::after_block(&limits, block, blocked, self.policy.concurrency_backoff);
                    if let Some(base) = base(SendResult::Blocked) {
                        let wait_secs = Some(wait.duration.as_secs());
                        self.settle(Outcome { qualys_code: Some(code), wait_secs, ..base })?;
                    }
                    if block == Block::Rate {
                        let held = Limits { remaining: Some(0), to_wait: Some(wait.duration), ..limits };
                        self.pacer.observe(endpoint, held, Instant::now());
                        self.progress.note(&format!("#{seq} {id}: {}; sent again once its window allows", wait.why));
                        return Ok(Answer::Deferred);
                    }
                    self.wait(wait, &id);
                    blocked += 1;
                    if let Some(attempt) = attempt.as_deref_mut() {
                        attempt.reason = SendReason::AfterBlocked;
                    }
                    continue;
                }
                (Verdict::Unknown { reason }, _) => return Ok(Answer::Unknown(self.mask(&reason), Some(reply))),
                (Verdict::Success, None) => {
                    return Ok(Answer::Unknown("a success without a readable body".to_owned(), Some(reply)));
                }
                (Verdict::RegistrationPending { text }, _) => (true, Some("2003".to_owned()), self.mask(&text)),
                (Verdict::Failed { code, text }, _) => (false, code.map(|c| self.mask(&c)), self.mask(&text)),
            };
            // Refused, so not executed: a request's attempt records it, and the run stops.
            if let Some(base) = base(SendResult::Error) {
                self.settle(Outcome { qualys_code: code.clone(), message: Some(text.clone()), ..base })?;
            }
            return Err(match (registration, number) {
                (true, _) => Stop::Registration { seq, id, text },
                (_, Some(_)) => Stop::Refused { seq, id, status, code, text },
                (_, None) => Stop::ProbeFailed { seq, id, status, code, text },
            }
            .into());
        }
    }

    /// A call that certainly did not reach the target: recorded as an error of its attempt (a
    /// request's), and the run stops; a TLS failure is a refusal the operator must fix.
    fn not_sent(&mut self, request: &Request, attempt: Option<&Attempt>, reason: &str, tls: bool) -> Error {
        let (seq, id, reason) = (request.seq, request.id.clone(), self.mask(reason));
        if let Some(attempt) = attempt {
            let base = outcome(request, attempt.number, SendResult::Error, None);
            if let Err(e) = self.settle(Outcome { message: Some(format!("not sent: {reason}")), ..base }) {
                return e;
            }
        }
        if tls { Error::Tls { seq, id, reason } } else { Stop::Unreachable { seq, id, reason }.into() }
    }

    /// Counts an unknown outcome in a row of a request or of its probe: the run stops after
    /// `--max-attempts`, otherwise the next try waits `--retry-pause` (`note` says it).
    fn after_no_answer(&self, request: &Request, unknown: &mut u32, why: &str, note: &str) -> Result<(), Error> {
        *unknown += 1;
        if *unknown >= self.policy.max_attempts {
            let (seq, id, attempts, last) = (request.seq, request.id.clone(), *unknown, why.to_owned());
            return Err(Stop::NoAnswer { seq, id, attempts, last }.into());
        }
        if !note.is_empty() {
            self.progress.note(note);
        }
        std::thread::sleep(self.policy.retry_pause);
        Ok(())
    }

    /// Sends a request until it is done (`None`), the target blocks it for its endpoint's rate
    /// (its last attempt's number, to send it again later), or the run must stop.
    fn send(&mut self, bundle: &VerifiedBundle, request: &Request, mut attempt: Attempt) -> Result<Option<u32>, Error> {
        let mut unknown = 0u32;
        loop {
            let why = match self.exchange(bundle, request, Call::of(request), Some(&mut attempt))? {
                Answer::Success(reply, document) => {
                    let base = outcome(request, attempt.number, SendResult::Done, Some(&reply));
                    let resolver = self.resolver();
                    let taken = extract::captures(&document.root, &request.captures, |v| resolver.value(v));
                    return match taken {
                        Ok(captures) => {
                            self.settle(Outcome { captures: captures.clone(), ..base })?;
                            self.captures.extend(captures);
                            Ok(None)
                        }
                        Err(e) => {
                            let problem = self.mask(&e.to_string());
                            let result = SendResult::CaptureMissing;
                            self.settle(Outcome { result, message: Some(problem.clone()), ..base })?;
                            Err(Stop::CaptureMissing { seq: request.seq, id: request.id.clone(), problem }.into())
                        }
                    };
                }
                Answer::Unknown(why, reply) => {
                    let base = outcome(request, attempt.number, SendResult::Unknown, reply.as_ref());
                    self.settle(Outcome { message: Some(why.clone()), ..base })?;
                    why
                }
                Answer::Deferred => return Ok(Some(attempt.number)),
            };
            self.after_no_answer(request, &mut unknown, &why, "")?;
            match self.after_unknown(bundle, request, &why, Some(attempt.sent_at), false)? {
                Some(next) => attempt.reason = next,
                None => return Ok(None),
            }
        }
    }

    fn settle(&mut self, outcome: Outcome) -> Result<(), Error> {
        self.record(&Record::Outcome(outcome))
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
        let probe = match (request.effect, &request.probe) {
            (Effect::Read | Effect::Idempotent, _) => {
                let effect = if request.effect == Effect::Read { "a read-only" } else { "an idempotent" };
                self.progress.note(&format!("#{seq} {id}: {why}; sending it again ({effect} request may be repeated)"));
                return Ok(Some(SendReason::AfterUnknownOutcome));
            }
            (Effect::Create, None) => {
                return Err(needs_decision(request, why, " (it creates an object and declares no probe)"));
            }
            (Effect::Create, Some(probe)) => probe,
        };
        self.progress.note(&format!("#{seq} {id}: {why}; asking the target whether it exists (probe)"));
        loop {
            let (found, captures, response_sha256) = self.probe(bundle, request, probe)?;
            // A create the target may still be executing is not absent yet: it is asked again
            // once the attempt has settled, and only that answer may send it again.
            let left = sent_at
                .filter(|_| found == Found::Absent && !executed)
                .and_then(|at| settle_left(at, self.policy.settle, SystemTime::now()));
            if let Some(left) = left {
                self.progress
                    .note(&format!("#{seq} {id}: probe: not found yet; asking again in {} (--settle)", seconds(left)));
                std::thread::sleep(left);
                continue;
            }
            let record =
                ProbeResult { seq, id: id.clone(), found, captures: captures.clone(), response_sha256, at: now() };
            self.record(&Record::Probe(record))?;
            self.captures.extend(captures);
            let (said, next) = match found {
                Found::Exists => ("it exists; counted as done", Ok(None)),
                Found::Absent if executed => (
                    "it does not exist; sending it again",
                    Err(needs_decision(request, &format!("{why}; yet its probe finds no such object"), "")),
                ),
                Found::Absent => ("it does not exist; sending it again", Ok(Some(SendReason::AfterProbeAbsent))),
                Found::Several => (
                    "several objects match",
                    Err(needs_decision(
                        request,
                        "its probe found several objects that match it",
                        " (which one it created, if any, only the operator can tell)",
                    )),
                ),
            };
            self.progress.note(&format!("#{seq} {id}: probe: {said}"));
            return next;
        }
    }

    /// Sends a read-only call until it is answered, as often as `--max-attempts` allows.
    pub(crate) fn read(
        &mut self,
        bundle: &VerifiedBundle,
        request: &Request,
        call: Call<'_>,
    ) -> Result<(Reply, Document), Error> {
        let mut unknown = 0u32;
        loop {
            match self.exchange(bundle, request, call, None)? {
                Answer::Success(reply, document) => return Ok((reply, document)),
                // Asked again once the endpoint's window allows (`exchange` waits for it).
                Answer::Deferred => {}
                Answer::Unknown(why, _) => {
                    let note = format!("#{} {}: read: {why}; asking again", request.seq, request.id);
                    self.after_no_answer(request, &mut unknown, &why, &note)?;
                }
            }
        }
    }

    /// Asks the target whether the request's object exists: what it found, the captures read
    /// from it, and the hash of the answer.
    fn probe(
        &mut self,
        bundle: &VerifiedBundle,
        request: &Request,
        probe: &Probe,
    ) -> Result<(Found, BTreeMap<String, String>, String), Error> {
        let (reply, document) = self.read(bundle, request, Call::probe(probe))?;
        let resolver = self.resolver();
        let matched =
            extract::select(&document.root, &probe.exists, |v| resolver.value(v)).map_err(unrenderable(request))?;
        let (found, captures) = match matched {
            Matched::One(record) => {
                let captures = extract::probe_captures::<RenderError>(record, &probe.captures).map_err(|e| {
                    let (seq, id, status) = (request.seq, request.id.clone(), Some(reply.status));
                    Stop::ProbeFailed { seq, id, status, code: None, text: self.mask(&e.to_string()) }
                })?;
                (Found::Exists, captures)
            }
            Matched::None if extract::is_one_page(&document.root) => {
                let why = "its probe's answer is one page of a longer list, without the object";
                return Err(needs_decision(request, why, ""));
            }
            Matched::None => (Found::Absent, BTreeMap::new()),
            Matched::Several(_) => (Found::Several, BTreeMap::new()),
        };
        Ok((found, captures, sha256_hex(&reply.body)))
    }
}

/// The outcome record of an attempt, with what the reply (if any) says about status and body.
fn outcome(request: &Request, attempt: u32, result: SendResult, reply: Option<&Reply>) -> Outcome {
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
/// known shown as their placeholders. Touches neither the network nor the journal. A reader
/// that stops reading (`| head`) ends the listing quietly.
fn dry_run(bundle: &VerifiedBundle, target: &Target) -> Result<(), Error> {
    let none = BTreeMap::new();
    let resolver = Resolver { captures: &none, secrets: None, masked: true };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let show = |out: &mut dyn std::io::Write, request: &Request, call: Call<'_>, indent: &str| {
        let body = call.body.map(|b| (b, bundle.body_bytes(b)));
        let wire = render(call.method, call.path, call.params, body, &resolver).map_err(unrenderable(request))?;
        writeln!(out, "{indent}{} {}", call.method.as_str(), target.url(&wire.target))?;
        if let Some(content_type) = &wire.content_type {
            writeln!(out, "{indent}Content-Type: {content_type}")?;
        }
        for line in String::from_utf8_lossy(&wire.body).lines() {
            writeln!(out, "{indent}| {line}")?;
        }
        Ok::<(), Error>(())
    };
    let mut listing = || {
        for request in &bundle.manifest.requests {
            let effect = match request.effect {
                Effect::Create => "create",
                Effect::Idempotent => "idempotent",
                Effect::Read => "read",
            };
            writeln!(out, "#{} {} [{effect}] {}", request.seq, request.id, request.summary)?;
            show(&mut out, request, Call::of(request), "  ")?;
            for capture in &request.captures {
                writeln!(out, "  captures {}", capture.name)?;
            }
            if let Some(probe) = &request.probe {
                writeln!(out, "  probe (exists when one {} matches):", probe.exists.record)?;
                show(&mut out, request, Call::probe(probe), "    ")?;
            }
        }
        writeln!(out, "digest: {}", bundle.digest)?;
        Ok::<(), Error>(out.flush()?)
    };
    match listing() {
        Err(Error::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
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

    #[test]
    fn the_default_settle_time_outlasts_a_call_the_target_may_still_be_running() {
        use clap::Parser as _;
        let policy = |extra: &[&str]| {
            let base = ["qmig-execute", "run", "b", "--target", "https://t", "--approve", "a"];
            let cli = crate::cli::Cli::parse_from(base.iter().chain(extra));
            let crate::cli::Command::Run(args) = cli.command else { panic!("run") };
            Policy::of_run(&args).settle
        };
        assert_eq!(policy(&[]), Duration::from_secs(600), "twice the 300 s timeout");
        assert_eq!(policy(&["--timeout", "1s"]), Duration::from_secs(600), "never less than 10 minutes");
        assert_eq!(policy(&["--timeout", "10m"]), Duration::from_secs(1200));
        assert_eq!(policy(&["--timeout", "1s", "--settle", "3s"]), Duration::from_secs(3), "as the operator says");
    }
}
