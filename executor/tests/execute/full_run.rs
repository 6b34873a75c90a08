//! Whole runs against the simulated target: what a run creates, and what running again does.

use crate::support::*;

/// A migration plan is run in two parts (`--stop-after`, then a resume) against a new
/// subscription: the target then holds exactly the planned objects, once each, where they
/// belong (checked through its export and its counters); every request went out exactly once;
/// running again sends nothing, and `status` says the bundle is complete.
#[test]
fn a_run_creates_exactly_the_planned_objects_and_a_rerun_sends_nothing() {
    let work = Work::new();
    let plan = Plan { sites: 3 };
    let digest = plan.write(&work);
    let sim = start(sim_config());
    let (before, counted_before) = (Export::of(&sim, &work.path("before")), sim.counters());

    let first = run(&work, &sim.url(), &digest).args(["--stop-after", "4"]).output().expect("runs");
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).contains("stopped as asked"), "{}", stdout(&first));
    assert_eq!(calls(&sim.counters()), 4, "nothing is sent after the fourth request");

    let rest = run(&work, &sim.url(), &digest).output().expect("runs");
    assert!(rest.status.success(), "{}", stderr(&rest));
    let total = plan.request_count();
    assert!(
        stdout(&rest).contains(&format!("done: {} requests in this run, 4 before, 0 left of {total}", total - 4)),
        "{}",
        stdout(&rest)
    );
    assert_eq!(Summary::of(&rest), Summary { retries: 0, waits: 0, probes: 0 });

    let counters = sim.counters();
    assert_eq!(calls(&counters), total, "one call per request");
    assert_eq!(counters.mutating_calls, 5 * u64::from(plan.sites), "one mutating call per create or add");
    assert!(counters.faults.is_empty() && counters.blocked.is_empty(), "{counters:?}");
    assert_objects_grew(&counted_before, &counters, u64::from(plan.sites));
    plan.assert_created(&before, &Export::of(&sim, &work.path("after")), &work.captures());

    let again = run(&work, &sim.url(), &digest).output().expect("runs");
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains(&format!("done: 0 requests in this run, {total} before, 0 left")),
        "{}",
        stdout(&again)
    );
    assert_eq!(sim.counters(), counters, "a complete bundle sends nothing");

    let shown = status(&work);
    assert!(stdout(&shown).contains(&format!("done: {total} of {total} requests")), "{}", stdout(&shown));
    assert!(stdout(&shown).contains("left: nothing"), "{}", stdout(&shown));
}
