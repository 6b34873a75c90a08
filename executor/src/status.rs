//! `status` (progress from the journal, read without taking its lock) and `resolve` (the
//! operator's journaled decision about a request whose outcome is unknown).

use std::collections::BTreeMap;
use std::path::Path;

use qmig_schemas::journal::{Decision, Record, Resolution};
use qmig_schemas::{Effect, Phase, idmap, verify_bundle};

use crate::cli::{self, ResolveArgs};
use crate::error::{Error, ResolveError};
use crate::journal::{self, Journal, JournalError};
use crate::progress::outlook;
use crate::run::{now, print_reported, reported};
use qmig_schemas::replay::State;
use qmig_schemas::schedule::{STANDARD_BUDGET, Schedule};

pub fn status(dir: &Path, journal: Option<&Path>) -> Result<(), Error> {
    let bundle = verify_bundle(dir)?;
    let path = journal::path(journal, &bundle.digest)?;
    let requests = &bundle.manifest.requests;
    println!("bundle: {}", bundle.digest);
    if let Some(reviewed) = &bundle.manifest.target {
        println!("reviewed for: {reviewed}");
    }
    println!("journal: {}", path.display());
    let (records, running) = match Journal::read(&path, &bundle.digest) {
        Ok(read) => read,
        Err(JournalError::Missing(_)) => {
            println!("not started: 0 of {} requests done", requests.len());
            print_estimate(requests, &vec![false; requests.len()]);
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(Record::Header(header)) = records.first() {
        println!("target: {}", header.target);
    }
    if running {
        println!("a run holds the journal's lock right now");
    }
    let replayed = journal::replay(&path, &bundle.manifest, &records)?;
    println!("done: {} of {} requests", replayed.done(), requests.len());
    println!("phase: {}", phase(requests, &replayed.states));
    for (request, state) in requests.iter().zip(&replayed.states) {
        let (what, why) = match state {
            State::Unresolved(why) => ("unknown outcome", why),
            State::Incomplete(why) => ("captures missing", why),
            State::Pending(_) | State::Done => continue,
        };
        let next = match (request.effect, &request.probe) {
            (Effect::Create, Some(_)) => "its probe decides on the next run",
            (Effect::Create, None) => "needs `resolve --as done|retry`",
            (Effect::Idempotent | Effect::Read, _) => "is sent again on the next run",
        };
        println!("{what}: #{} {}: {why}; {next}", request.seq, request.id);
    }
    if let Some(error) = &replayed.last_error {
        let code = error.code.as_deref().map(|c| format!("Qualys code {c}: ")).unwrap_or_default();
        let id = usize::try_from(error.seq - 1).ok().and_then(|i| requests.get(i)).map_or("", |r| r.id.as_str());
        println!("stopped on an error: #{} {id}: {code}{}", error.seq, error.message);
    }
    let left: Vec<_> = requests.iter().zip(&replayed.states).filter(|(_, s)| **s != State::Done).collect();
    match left.first() {
        None => println!("left: nothing; the bundle is complete"),
        Some((next, _)) => println!("left: {} (next: #{} {})", left.len(), next.seq, next.id),
    }
    print_estimate(requests, &replayed.states.iter().map(|s| *s == State::Done).collect::<Vec<_>>());
    print_reported(&reported(&bundle.manifest.report, &replayed.captures));
    Ok(())
}

/// The journal keeps no rate limits, so the estimate assumes Qualys's Standard ones.
fn print_estimate(requests: &[qmig_schemas::Request], done: &[bool]) {
    let dependencies = qmig_schemas::dependencies(requests);
    let schedule = Schedule::new(requests, &dependencies, done, requests.len());
    let standard = STANDARD_BUDGET;
    println!(
        "estimate at {} calls per {}s per endpoint (Qualys Standard; a run shows the target's): {}",
        standard.limit,
        standard.window.as_secs(),
        outlook(&schedule, |_| None)
    );
}

/// The ID map: every object created so far, its source ID and its new ID or login.
pub fn ids(dir: &Path, journal: Option<&Path>, format: cli::IdFormat) -> Result<(), Error> {
    let bundle = verify_bundle(dir)?;
    let path = journal::path(journal, &bundle.digest)?;
    let captures = match Journal::read(&path, &bundle.digest) {
        Ok((records, _)) => journal::replay(&path, &bundle.manifest, &records)?.captures,
        Err(JournalError::Missing(_)) => BTreeMap::new(),
        Err(e) => return Err(e.into()),
    };
    let rows = idmap::id_map(&bundle.manifest, &captures);
    let text = match format {
        cli::IdFormat::Csv => idmap::to_csv(&rows),
        cli::IdFormat::Json => idmap::to_json(&bundle.digest, &rows),
    };
    let mut out = std::io::stdout().lock();
    Ok(std::io::Write::write_all(&mut out, text.as_bytes())?)
}

/// Where the migration stands: in its migration phase, at the cutover gate, in the cutover, or
/// complete.
fn phase(requests: &[qmig_schemas::Request], states: &[State]) -> &'static str {
    let left = |phase| requests.iter().zip(states).filter(|(r, s)| r.phase == phase && **s != State::Done).count();
    let cutover_done = requests.iter().zip(states).any(|(r, s)| r.phase == Phase::Cutover && *s == State::Done);
    match (left(Phase::Migration), left(Phase::Cutover)) {
        (0, 0) => "complete",
        (0, _) if cutover_done => "cutover, under way (`run --cutover` continues it)",
        (0, _) => "at the cutover gate (`run --cutover` switches on what the review lists)",
        _ => "migration",
    }
}

pub fn resolve(args: &ResolveArgs) -> Result<(), Error> {
    let bundle = verify_bundle(&args.bundle)?;
    let path = journal::path(args.journal.as_deref(), &bundle.digest)?;
    let mut journal = Journal::open_existing(&path, &bundle.digest)?;
    let replayed = journal::replay(&path, &bundle.manifest, journal.records())?;
    let (index, request) = bundle
        .manifest
        .requests
        .iter()
        .enumerate()
        .find(|(_, r)| r.id == args.request)
        .ok_or_else(|| ResolveError::UnknownRequest(args.request.clone()))?;
    let (seq, id) = (request.seq, request.id.clone());
    match &replayed.states[index] {
        State::Unresolved(_) | State::Incomplete(_) => {}
        State::Done => return Err(ResolveError::NotUnresolved { seq, id, state: "done".to_owned() }.into()),
        State::Pending(_) => return Err(ResolveError::NotUnresolved { seq, id, state: "to be sent".to_owned() }.into()),
    }
    let given: BTreeMap<String, String> = args.captures.iter().cloned().collect();
    let resolution = match args.decision {
        cli::Decision::Retry if !given.is_empty() => return Err(ResolveError::CaptureWithRetry.into()),
        cli::Decision::Retry => Resolution::Retry,
        cli::Decision::Done => {
            if let Some(name) = given.keys().find(|n| !request.captures.iter().any(|c| &&c.name == n)) {
                return Err(ResolveError::UnknownCapture { seq, id, name: name.clone() }.into());
            }
            if let Some(capture) = request.captures.iter().find(|c| !given.contains_key(&c.name)) {
                return Err(ResolveError::MissingCapture { seq, id, name: capture.name.clone() }.into());
            }
            Resolution::Done
        }
    };
    journal.append(&Record::Decision(Decision { seq, id: id.clone(), resolution, captures: given, at: now() }))?;
    let what = if resolution == Resolution::Done { "done" } else { "to be sent again" };
    println!("recorded: #{seq} {id} is {what}; run again to continue");
    Ok(())
}
