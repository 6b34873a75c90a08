//! Rate and concurrency limits: blocked calls answer 409 and change nothing.

use std::thread;
use std::time::Duration;

use qualys_sim::{Faults, Limits, RateLimit};

use crate::common::{Client, config, network_names, start, text};

#[test]
fn the_call_after_the_rate_limit_is_refused_and_not_run() {
    let mut cfg = config();
    cfg.limits = Limits { rate: Some(RateLimit { calls: 3, window_secs: 3600 }), concurrency: None };
    let (sim, c) = start(cfg);
    for (i, remaining) in ["2", "1", "0"].into_iter().enumerate() {
        let reply = c.post("/api/2.0/fo/network/", &[("action", "create"), ("name", &format!("Net {i}"))]);
        reply.new_id();
        assert_eq!(reply.header("X-RateLimit-Limit"), Some("3"));
        assert_eq!(reply.header("X-RateLimit-Window-Sec"), Some("3600"));
        assert_eq!(reply.header("X-RateLimit-Remaining"), Some(remaining));
    }
    let blocked = c.post("/api/2.0/fo/network/", &[("action", "create"), ("name", "Net 3")]);
    assert_eq!(blocked.error_code(), (409, "1965".into()));
    let wait: u64 = blocked.header("X-RateLimit-ToWait-Sec").and_then(|v| v.parse().ok()).expect("ToWait header");
    assert!(wait > 3500, "ToWait {wait}");
    let doc = blocked.xml();
    assert!(text(&doc, &["RESPONSE", "TEXT"]).starts_with("This API cannot be run again for another "));
    assert_eq!(text(&doc, &["RESPONSE", "ITEM_LIST", "ITEM", "KEY"]), "SECONDS_TO_WAIT");
    assert_eq!(c.post("/msp/user_list.php", &[]).status, 200, "each endpoint has its own window");

    let dir = tempfile::tempdir().expect("temp dir");
    sim.export(&dir.path().join("export")).expect("export");
    let networks = std::fs::read_to_string(dir.path().join("export/networks.xml")).expect("networks.xml");
    assert!(networks.contains("Net 2") && !networks.contains("Net 3"), "the blocked create did not run:\n{networks}");
    let report = sim.stop();
    assert_eq!(report.blocked.get("rate_limit_1965"), Some(&1));
    assert_eq!(report.objects.get("networks"), Some(&3));
}

#[test]
fn a_scaled_window_passes_in_real_milliseconds() {
    let mut cfg = config();
    cfg.limits = Limits { rate: Some(RateLimit { calls: 2, window_secs: 3600 }), concurrency: None };
    cfg.time_scale = 7200.0;
    let (_sim, c) = start(cfg);
    network_names(&c);
    network_names(&c);
    assert_eq!(c.get("/api/2.0/fo/network/?action=list").error_code(), (409, "1965".into()));
    thread::sleep(Duration::from_millis(600));
    assert_eq!(network_names(&c), ["Global Default Network"]);
}

#[test]
fn the_concurrency_limit_refuses_a_second_running_call() {
    let mut cfg = config();
    cfg.limits = Limits { rate: None, concurrency: Some(1) };
    cfg.faults = Faults {
        scripted: vec!["1=slow".parse().expect("valid")],
        slow_delay: Duration::from_millis(700),
        ..Faults::default()
    };
    let (sim, c) = start(cfg);
    let base = c.base.clone();
    let slow = thread::spawn(move || {
        Client::new(&base).post("/api/2.0/fo/network/", &[("action", "create"), ("name", "Slow")])
    });
    thread::sleep(Duration::from_millis(250));
    let blocked = c.post("/api/2.0/fo/network/", &[("action", "create"), ("name", "Blocked")]);
    assert_eq!(blocked.error_code(), (409, "1960".into()));
    assert_eq!(blocked.header("X-Concurrency-Limit-Limit"), Some("1"));
    assert_eq!(blocked.header("X-Concurrency-Limit-Running"), Some("1"));
    let doc = blocked.xml();
    assert_eq!(
        text(&doc, &["RESPONSE", "TEXT"]),
        "This API cannot be run again until 1 currently running API instance has finished."
    );
    assert_eq!(text(&doc, &["RESPONSE", "ITEM_LIST", "ITEM", "KEY"]), "CALLS_TO_FINISH");
    assert_eq!(text(&doc, &["RESPONSE", "ITEM_LIST", "ITEM", "VALUE"]), "1");
    let first = slow.join().expect("the slow call returns");
    first.new_id();
    assert_eq!(network_names(&c), ["Global Default Network", "Slow"]);
    let report = sim.stop();
    assert_eq!(report.blocked.get("concurrency_limit_1960"), Some(&1));
    assert_eq!(report.faults.get("slow"), Some(&1));
}
