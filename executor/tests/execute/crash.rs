//! Crash safety: the real binary is killed (SIGKILL) at random moments of a run against the
//! simulated target and resumed each time; at the end every planned object exists exactly once.
//!
//! `QMIG_CRASH_KILLS` sets the number of kills (50 by default; set it higher for a long run),
//! `QMIG_CRASH_SEED` replays the random delays of an earlier run (every failure names its seed).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qmig_schemas::journal::Record;
use qualys_sim::{Config, Faults, Limits, RateLimit, Running};

use crate::support::*;

/// Simulated seconds per real second.
const TIME_SCALE: u32 = 120;

/// Waits until the simulator has received a call beyond the first `seen`, or the run ended.
fn wait_for_a_call(sim: &Running, seen: u64, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while calls(&sim.counters()) == seen && child.try_wait().expect("polls").is_none() {
        assert!(Instant::now() < deadline, "no call reached the simulator in 30 s");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// A plan of many sites, every create with a probe, is run against a new subscription that
/// answers some calls later than the executor waits (and executes them only then); each run
/// is killed at a random moment (a quarter of them just as a request reached the target,
/// which executes it while the journal does not know yet) and the next run resumes. After the
/// kills a last run completes the bundle; the target then holds every planned object exactly
/// once, groups in their own networks, users and tags where they belong, and the journal's
/// captures name those very objects. Every endpoint allows a few calls per window, so the runs
/// send requests out of bundle order (whichever endpoint can take a call), and each resume
/// continues from a journal written in that order.
#[test]
fn killed_at_random_moments_and_resumed_every_object_exists_exactly_once() {
    let kills = env_number("QMIG_CRASH_KILLS").unwrap_or(50);
    let seed = env_number("QMIG_CRASH_SEED").unwrap_or_else(|| fastrand::u64(..));
    let mut rng = fastrand::Rng::with_seed(seed);
    let work = Work::new();
    // Enough requests that the kills land during runs, not after the bundle is complete.
    let plan = Plan { sites: u32::try_from(kills).expect("kills") + 5 };
    let digest = plan.write(&work);
    // A slow answer comes after the executor's timeout (1 s) and before its settle time.
    let faults = Faults { seed, slow_rate: 0.02, slow_delay: Duration::from_millis(1300), ..Faults::default() };
    // 3 calls per simulated minute, half a second here: the runs wait on some endpoint most
    // of the time, and send to another meanwhile.
    let limits = Limits { rate: Some(RateLimit { calls: 3, window_secs: 60 }), concurrency: None };
    let sim = start(Config { faults, limits, time_scale: f64::from(TIME_SCALE), ..sim_config() });
    let before = Export::of(&sim, &work.path("before"));

    let command = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_qmig-execute"));
        cmd.env_clear()
            .env("QMIG_TARGET_PASSWORD", PASSWORD)
            .arg("run")
            .arg(work.bundle())
            .args([
                "--target",
                &sim.url(),
                "--approve",
                &digest,
                "--username",
                USERNAME,
                "--retry-pause",
                "0ms",
                "--timeout",
                "1s",
                "--settle",
                "2s",
                "--time-scale",
                &TIME_SCALE.to_string(),
                // The preflight's reads, made again by every run until one gets past them,
                // would take most kills; this test is about the journal of what is sent.
                "--no-preflight",
            ])
            .arg("--journal")
            .arg(work.journal())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    let mut finished_early = 0;
    for kill in 0..kills {
        let seen = calls(&sim.counters());
        let mut child = command().spawn().expect("starts");
        match kill % 4 {
            // Anywhere, the start (verification, journal repair) included.
            0 => std::thread::sleep(Duration::from_millis(rng.u64(0..100))),
            // Just as a request reached the target: it is executed, the journal does not know.
            1 => wait_for_a_call(&sim, seen, &mut child),
            // A few requests into the run.
            _ => {
                wait_for_a_call(&sim, seen, &mut child);
                std::thread::sleep(Duration::from_micros(rng.u64(0..15_000)));
            }
        }
        match child.try_wait().expect("polls") {
            Some(_) => finished_early += 1,
            None => {
                child.kill().expect("SIGKILL");
                child.wait().expect("reaped");
            }
        }
    }
    let last = command().stderr(Stdio::piped()).output().expect("runs");
    assert!(last.status.success(), "seed {seed}: {}", stderr(&last));
    assert!(
        finished_early <= kills / 5,
        "seed {seed}: most kills must land during runs ({finished_early} of {kills} finished first)"
    );

    let after = Export::of(&sim, &work.path("after"));
    plan.assert_created(&before, &after, &work.captures());
    let records = work.records();
    let count = |kind: fn(&Record) -> bool| records.iter().filter(|r| kind(r)).count();
    let sent: Vec<u64> =
        records.iter().filter_map(|r| if let Record::Intent(i) = r { Some(i.seq) } else { None }).collect();
    assert!(sent.windows(2).any(|w| w[1] < w[0]), "seed {seed}: the runs must send out of bundle order");
    let intents = count(|r| matches!(r, Record::Intent(_)));
    let outcomes = count(|r| matches!(r, Record::Outcome(_)));
    let probes = count(|r| matches!(r, Record::Probe(_)));
    assert!(intents > outcomes, "seed {seed}: some kills must interrupt a request between intent and outcome");
    assert!(probes > 0, "seed {seed}: some interrupted creates must have been settled by their probes");
    assert!(
        crate::support::count(&sim.counters().faults, "slow") > 0,
        "seed {seed}: some answers came after the timeout"
    );
}
