//! A journal that lost records, or whose records were forged, never makes the executor create
//! an object twice or leave one out; and a journal belongs to its target however it is spelled.
//!
//! `QMIG_JOURNAL_CUTS` sets how many cut journals are resumed (6 by default), `QMIG_JOURNAL_SEED`
//! replays the cuts of an earlier run (every failure names its seed).

use std::io::Write as _;

use qmig_schemas::journal::Record;

use crate::support::*;

/// A plan is run part way (stopped after a random number of requests), then its journal is cut
/// (restored from an older copy, or copied while the run was writing), at a record boundary or
/// in the middle of a line, and the run resumed. `status` shows the loss; the resumed run notices the lost records,
/// records that in the journal, probes every create it cannot prove done before sending it,
/// and completes: the target holds every planned object exactly once, every time.
#[test]
fn a_journal_cut_at_random_places_never_duplicates_or_drops_an_object() {
    let cuts = env_number("QMIG_JOURNAL_CUTS").unwrap_or(6);
    let seed = env_number("QMIG_JOURNAL_SEED").unwrap_or_else(|| fastrand::u64(..));
    let mut rng = fastrand::Rng::with_seed(seed);
    let plan = Plan { sites: 3 };
    for cut in 0..cuts {
        let work = Work::new();
        let digest = plan.write(&work);
        let sim = start(sim_config());
        let before = Export::of(&sim, &work.path("before"));
        let stop_after = rng.u64(3..plan.request_count());
        let part =
            run(&work, &sim.url(), &digest).args(["--stop-after", &stop_after.to_string()]).output().expect("runs");
        assert!(part.status.success(), "seed {seed}: {}", stderr(&part));

        let bytes = std::fs::read(work.journal()).expect("journal");
        let ends: Vec<usize> = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1).collect();
        // Every other cut at a record boundary, the others anywhere in the file.
        let keep = if cut % 2 == 0 { ends[rng.usize(..ends.len() - 1)] } else { rng.usize(..bytes.len() - 1) };
        std::fs::write(work.journal(), &bytes[..keep]).expect("cuts");
        let shown = stdout(&status(&work));
        assert!(shown.contains("the journal lost records that may have sent it"), "seed {seed}: {shown}");

        let resumed = run(&work, &sim.url(), &digest).output().expect("runs");
        assert!(resumed.status.success(), "seed {seed}, cut {cut} at {keep}: {}", stderr(&resumed));
        let after = Export::of(&sim, &work.path("after"));
        plan.assert_created(&before, &after, &work.captures());
        assert!(work.records().iter().any(|r| matches!(r, Record::Lost(_))), "seed {seed}: the loss is recorded");
        let again = run(&work, &sim.url(), &digest).output().expect("runs");
        assert!(again.status.success(), "seed {seed}: {}", stderr(&again));
    }
}

/// A record no run writes there (an outcome `done` for a request never sent, appended to a
/// journal; or one of its synced records edited) is refused with the line or the head named,
/// and nothing is sent.
#[test]
fn a_forged_or_edited_journal_is_refused_before_anything_is_sent() {
    let work = Work::new();
    let digest = work.write(vec![network("A"), network("B")], vec![], &[]);
    let sim = start(sim_config());
    let first = run(&work, &sim.url(), &digest).args(["--stop-after", "1"]).output().expect("runs");
    assert!(first.status.success(), "{}", stderr(&first));
    let synced = std::fs::read(work.journal()).expect("journal");
    let calls_before = calls(&sim.counters());

    let forged = "{\"record\":\"outcome\",\"seq\":2,\"id\":\"network/B\",\"attempt\":1,\"result\":\"done\",\
                  \"captures\":{\"network/B#id\":\"1\"},\"at\":0}\n";
    std::fs::OpenOptions::new()
        .append(true)
        .open(work.journal())
        .expect("opens")
        .write_all(forged.as_bytes())
        .expect("forges");
    let refused = run(&work, &sim.url(), &digest).output().expect("runs");
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    let line = synced.iter().filter(|&&b| b == b'\n').count() + 1;
    assert!(stderr(&refused).contains(&format!("line {line} is corrupt")), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("which was not sent"), "{}", stderr(&refused));

    let edited = String::from_utf8(synced).expect("utf-8").replace("network/A#id\":\"", "network/A#id\":\"9");
    std::fs::write(work.journal(), edited).expect("edits");
    let refused = run(&work, &sim.url(), &digest).output().expect("runs");
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("records were edited"), "{}", stderr(&refused));
    assert_eq!(calls(&sim.counters()), calls_before, "nothing was sent");
}

/// `localhost` and `127.0.0.1` are one target: a run started against one resumes against the
/// other. Another target is refused, and the message says how to start a journal for it.
#[test]
fn a_journal_resumes_against_its_target_however_it_is_spelled() {
    let work = Work::new();
    let digest = work.write(vec![network("A"), network("B")], vec![], &[]);
    let sim = start(sim_config());
    let url = sim.url();
    let localhost = url.replace("127.0.0.1", "localhost");
    assert_ne!(localhost, url);
    let first = run(&work, &localhost, &digest).args(["--stop-after", "1"]).output().expect("runs");
    assert!(first.status.success(), "{}", stderr(&first));

    let other = start(sim_config());
    let refused = run(&work, &other.url(), &digest).output().expect("runs");
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--journal"), "{}", stderr(&refused));
    assert_eq!(calls(&other.counters()), 0);

    let resumed = run(&work, &format!("{url}/"), &digest).output().expect("runs");
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(count(&sim.counters().objects, "networks"), count(&other.counters().objects, "networks") + 2);
}
