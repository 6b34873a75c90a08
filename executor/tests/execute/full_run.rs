//! Whole runs against the simulated target: what a run creates, and what running again does.

use qmig_schemas::Reported;

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

/// A value only the target's answer holds (a generated login) is reported to the operator at
/// the end of the run and by `status`, under the label the bundle gives it.
#[test]
fn reported_captures_are_shown_to_the_operator() {
    let work = Work::new();
    let created = user("jo.doe@example.test", true);
    let login = created.captures[0].name.clone();
    let report = vec![Reported { capture: login.clone(), label: "new login of jdoe (Jo Doe)".into() }];
    let digest = work.write_reporting(vec![created], vec![], &[], report);
    let sim = start(sim_config());

    let output = run(&work, &sim.url(), &digest).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let captured = work.captures().get(&login).cloned().expect("the login is captured");
    let line = format!("  new login of jdoe (Jo Doe): {captured}");
    assert!(stdout(&output).contains(&format!("for the operator:\n{line}\n")), "{}", stdout(&output));
    assert!(stdout(&status(&work)).contains(&line), "{}", stdout(&status(&work)));
}
