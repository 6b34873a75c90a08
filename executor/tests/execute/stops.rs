//! Answers that stop a run: the target refuses a request, refuses the credentials, or has not
//! completed its registration.

use qualys_sim::{Config, Faults};

use crate::support::*;

/// The target already holds a network the bundle creates (seeded from an export directory):
/// it refuses the create with CODE 1905, the run stops with exit 4, naming the request, the
/// code and the target's text, and nothing after it is sent; `status` shows the error.
#[test]
fn a_refused_request_stops_the_run_and_nothing_after_it_is_sent() {
    let work = Work::new();
    let seed = work.path("target-export");
    seed_networks(&seed, &[(1001, "Corp East")]);
    let digest = work.write(vec![network("Corp West"), network("Corp East"), ips("10.0.0.1-10.0.0.9")], vec![], &[]);
    let sim = start(Config { seed: Some(seed), ..sim_config() });

    let output = run(&work, &sim.url(), &digest).output().expect("runs");
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("network/Corp East") && message.contains("1905"), "{message}");
    assert!(message.contains("A network with this name already exists"), "{message}");
    let counters = sim.counters();
    assert_eq!(calls(&counters), 2, "nothing after the refused request is sent: {:?}", counters.calls);
    assert_eq!(count(&counters.objects, "networks"), 2);
    let shown = status(&work);
    assert!(
        stdout(&shown).contains("stopped on an error: #2 network/Corp East: Qualys code 1905"),
        "{}",
        stdout(&shown)
    );
    assert!(stdout(&shown).contains("left: 2 (next: #2 network/Corp East)"), "{}", stdout(&shown));
}

/// The V1 API answers wrong credentials with an HTML 401 page: the run stops (exit 4) and
/// says the target refused the credentials; the target created nothing.
#[test]
fn refused_credentials_stop_the_run() {
    let work = Work::new();
    let digest = work.write(vec![user("jo@example.com", true), network("A")], vec![], &[]);
    let sim = start(sim_config());
    let before = sim.counters();
    let output =
        run(&work, &sim.url(), &digest).env("QMIG_TARGET_PASSWORD", "not-the-password").output().expect("runs");
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("refused the credentials"), "{}", stderr(&output));
    let after = sim.counters();
    assert_eq!(calls(&after), 1);
    assert_eq!(after.objects, before.objects, "nothing was created");
}

/// A target whose API user has not accepted the EULA answers 409 with CODE 2003: the run stops
/// (exit 4), explains what to do, and creates nothing. Once registration is completed, running
/// again resumes and completes the bundle.
#[test]
fn registration_pending_stops_and_explains_the_eula_then_the_run_resumes() {
    let work = Work::new();
    let plan = Plan { sites: 1 };
    let digest = plan.write(&work);
    let sim = start(Config { faults: Faults { registration_pending: true, ..Faults::default() }, ..sim_config() });
    let before = Export::of(&sim, &work.path("before"));

    let stopped = run(&work, &sim.url(), &digest).output().expect("runs");
    assert_eq!(stopped.status.code(), Some(4), "{}", stderr(&stopped));
    assert!(stderr(&stopped).contains("accept the EULA") && stderr(&stopped).contains("2003"), "{}", stderr(&stopped));
    let counters = sim.counters();
    assert_eq!((calls(&counters), counters.mutating_calls), (1, 0));
    assert_eq!(count(&counters.faults, "registration_pending"), 1);

    sim.set_registration_pending(false);
    let resumed = run(&work, &sim.url(), &digest).output().expect("runs");
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    plan.assert_created(&before, &Export::of(&sim, &work.path("after")), &work.captures());
}
