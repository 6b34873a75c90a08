//! Injected faults: lost answers after the change, 5xx before it, registration pending,
//! and rates that repeat with their seed.

use qualys_sim::Faults;

use crate::common::{config, network_names, start};

#[test]
fn a_dropped_answer_still_leaves_the_object_behind() {
    let mut cfg = config();
    cfg.faults = Faults { scripted: vec!["2=drop".parse().expect("valid")], ..Faults::default() };
    let (sim, c) = start(cfg);
    c.post("/api/2.0/fo/network/", &[("action", "create"), ("name", "First")]).new_id();
    let lost = c.try_post("/api/2.0/fo/network/", &[("action", "create"), ("name", "Second")]);
    assert!(lost.is_err(), "the client sees no answer: {lost:?}");
    assert_eq!(network_names(&c), ["Global Default Network", "First", "Second"]);
    let retried = c.post("/api/2.0/fo/network/", &[("action", "create"), ("name", "Second")]);
    assert_eq!(retried.error_code(), (400, "1905".into()), "a blind retry meets the object the lost call created");
    let report = sim.stop();
    assert_eq!(report.faults.get("dropped_response"), Some(&1));
    assert_eq!(report.mutating_calls, 3);
}

#[test]
fn a_server_error_comes_before_any_change() {
    let mut cfg = config();
    cfg.faults = Faults { scripted: vec!["1=5xx".parse().expect("valid")], ..Faults::default() };
    let (_sim, c) = start(cfg);
    let failed = c.post("/api/2.0/fo/network/", &[("action", "create"), ("name", "Once")]);
    assert_eq!(failed.status, 503);
    assert!(failed.header("Content-Type").is_some_and(|t| t.starts_with("text/html")));
    assert_eq!(network_names(&c), ["Global Default Network"]);
    c.post("/api/2.0/fo/network/", &[("action", "create"), ("name", "Once")]).new_id();
    assert_eq!(network_names(&c), ["Global Default Network", "Once"]);
}

#[test]
fn registration_pending_blocks_every_call_until_completed() {
    let mut cfg = config();
    cfg.faults = Faults { registration_pending: true, ..Faults::default() };
    let (sim, c) = start(cfg);
    let refused = c.post("/api/2.0/fo/network/", &[("action", "create"), ("name", "Early")]);
    assert_eq!(refused.error_code(), (409, "2003".into()));
    assert_eq!(c.post("/msp/user_list.php", &[]).status, 409);
    sim.set_registration_pending(false);
    c.post("/api/2.0/fo/network/", &[("action", "create"), ("name", "Early")]).new_id();
    assert_eq!(c.post("/__sim/registration?pending=1", &[]).status, 200);
    assert_eq!(c.get("/api/2.0/fo/network/?action=list").status, 409);
    assert_eq!(sim.stop().faults.get("registration_pending"), Some(&3));
}

#[test]
fn fault_rates_repeat_with_their_seed() {
    let outcomes = |seed: u64| {
        let mut cfg = config();
        cfg.faults = Faults { seed, server_error_rate: 0.3, drop_rate: 0.3, ..Faults::default() };
        let (sim, c) = start(cfg);
        let seen: Vec<String> = (0..30)
            .map(|i| match c.try_post("/api/2.0/fo/network/", &[("action", "create"), ("name", &format!("N{i}"))]) {
                Ok(reply) => reply.status.to_string(),
                Err(_) => "dropped".into(),
            })
            .collect();
        (seen, sim.stop())
    };
    let (first, report) = outcomes(7);
    let (second, _) = outcomes(7);
    assert_eq!(first, second);
    for kind in ["200", "503", "dropped"] {
        assert!(first.iter().any(|o| o == kind), "{kind} in {first:?}");
    }
    let dropped = first.iter().filter(|o| *o == "dropped").count() as u64;
    assert_eq!(report.faults.get("dropped_response"), Some(&dropped));
}
