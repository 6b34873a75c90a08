//! The cutover gate: `run` sends the migration phase and stops before the cutover, which only
//! `run --cutover` sends, against the same journal, once the migration phase is complete.

use qmig_schemas::{Phase, Request};

use crate::support::*;

fn cutover(mut request: Request) -> Request {
    request.phase = Phase::Cutover;
    request
}

#[test]
fn run_stops_at_the_cutover_gate_and_run_cutover_sends_the_rest() {
    let work = Work::new();
    let digest = work.write(vec![network("Corp East"), cutover(ips("10.1.0.1"))], vec![], &[]);
    let sim = start(sim_config());

    let migration = run(&work, &sim.url(), &digest).output().expect("runs");
    assert!(migration.status.success(), "{}", stderr(&migration));
    assert!(stdout(&migration).contains("stopped at the cutover gate"), "{}", stdout(&migration));
    assert_eq!(calls(&sim.counters()), 1, "the cutover request is not sent");
    assert!(stdout(&status(&work)).contains("phase: at the cutover gate"), "{}", stdout(&status(&work)));

    let again = run(&work, &sim.url(), &digest).output().expect("runs");
    assert!(stdout(&again).contains("stopped at the cutover gate"), "{}", stdout(&again));
    assert_eq!(calls(&sim.counters()), 1, "running again without --cutover sends nothing");

    let switched = run(&work, &sim.url(), &digest).arg("--cutover").output().expect("runs");
    assert!(switched.status.success(), "{}", stderr(&switched));
    assert!(stdout(&switched).contains("done: 1 requests in this run, 1 before, 0 left of 2"), "{}", stdout(&switched));
    assert_eq!(calls(&sim.counters()), 2);
    assert!(stdout(&status(&work)).contains("phase: complete"), "{}", stdout(&status(&work)));
}

#[test]
fn the_cutover_is_refused_before_the_migration_phase_is_complete() {
    let work = Work::new();
    let digest = work.write(vec![network("Corp East"), network("Corp West"), cutover(ips("10.1.0.1"))], vec![], &[]);
    let sim = start(sim_config());
    let first = run(&work, &sim.url(), &digest).args(["--stop-after", "1"]).output().expect("runs");
    assert!(first.status.success(), "{}", stderr(&first));

    let refused = run(&work, &sim.url(), &digest).arg("--cutover").output().expect("runs");
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("the migration phase is not complete (1 of its requests not done)"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(calls(&sim.counters()), 1, "nothing is sent");
    assert!(stdout(&status(&work)).contains("phase: migration"), "{}", stdout(&status(&work)));
}
