//! Pacing at the bound: with a rate limit per endpoint, a run keeps every endpoint with ready
//! work busy instead of waiting on one in bundle order, so it lasts about as long as its
//! busiest endpoint needs. Time is the simulator's (simulated seconds), not the test's.

use qmig_schemas::journal::Record;
use qualys_sim::{Config, Limits, RateLimit};

use crate::support::*;

/// Simulated seconds per real second: a window of a simulated minute lasts 2 s here, so that
/// the executor's own milliseconds per call count little.
const TIME_SCALE: u32 = 30;
const PER_WINDOW: u32 = 3;
const WINDOW_SECS: u64 = 60;
const PER_ENDPOINT: u32 = 12;

/// Twelve IP adds, then twelve user adds, independent of each other, against 3 calls per
/// simulated minute per endpoint. In bundle order the users would wait for every IP window
/// (about 6 simulated minutes); the run sends users while the IP endpoint waits, and ends
/// near the bound: the 4 windows of 3 calls one endpoint needs (3 simulated minutes).
#[test]
fn a_bundle_whose_order_would_starve_an_endpoint_ends_near_the_bound() {
    let work = Work::new();
    let ip_adds = (1..=PER_ENDPOINT).map(|n| ips(&format!("10.9.{n}.1")));
    let user_adds = (1..=PER_ENDPOINT).map(|n| user(&format!("user{n}@example.com"), false));
    let digest = work.write(ip_adds.chain(user_adds).collect(), vec![], &[]);
    let limits = Limits { rate: Some(RateLimit { calls: PER_WINDOW, window_secs: WINDOW_SECS }), concurrency: None };
    let sim = start(Config { limits, time_scale: f64::from(TIME_SCALE), ..sim_config() });

    let output =
        run(&work, &sim.url(), &digest).args(["--time-scale", &TIME_SCALE.to_string()]).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));

    let bound_secs = u64::from(PER_ENDPOINT / PER_WINDOW - 1) * WINDOW_SECS;
    let simulated_secs = sim.counters().simulated_ms as f64 / 1000.0;
    assert!(
        simulated_secs <= bound_secs as f64 * 1.15,
        "{simulated_secs:.1} simulated seconds, the bound is {bound_secs} (bundle order would take twice that)"
    );
    let sent: Vec<u64> =
        work.records().iter().filter_map(|r| if let Record::Intent(i) = r { Some(i.seq) } else { None }).collect();
    assert!(
        sent.iter().position(|&seq| seq > u64::from(PER_ENDPOINT))
            < Some(usize::try_from(PER_ENDPOINT).expect("small")),
        "users went out while the IP endpoint waited: {sent:?}"
    );
    assert!(sim.counters().blocked.is_empty(), "the run paced itself before the target had to block a call");
}
