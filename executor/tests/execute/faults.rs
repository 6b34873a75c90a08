//! Runs against a target that fails: server errors before processing, answers lost after the
//! change, answers later than the executor waits, rate and concurrency limits, and outcomes
//! only the operator can settle.

use std::time::Duration;

use qmig_schemas::journal::{Found, Record, Resolution, SendReason};
use qualys_sim::{Config, FaultKind, Faults, Limits, RateLimit};

use crate::support::*;

/// Simulated seconds per real second: the limits' one-hour window passes in half a second.
const TIME_SCALE: u32 = 7_200;

/// Why each attempt of a request was sent, from the journal.
fn reasons(records: &[Record], id: &str) -> Vec<SendReason> {
    records
        .iter()
        .filter_map(|r| if let Record::Intent(i) = r { (i.id == id).then_some(i.reason) } else { None })
        .collect()
}

/// A two-site plan runs against a target limited to one call per endpoint per (simulated)
/// hour and one call at a time, which also fails on purpose: the first network create is
/// executed but its answer is lost, the first IP add gets a 503 before it runs, the first
/// asset group add answers later than the executor's timeout (and holds the endpoint's only
/// slot meanwhile), the first user add gets a 503, and the first tag create is executed but its
/// answer is lost. The run completes, with exactly the state a clean run leaves (the exports
/// are byte for byte the same); the summary reports the retries and waits, and the
/// simulator's counters show that every fault and both kinds of block happened.
#[test]
fn faults_and_limits_leave_the_same_final_state_as_a_clean_run() {
    let plan = Plan { sites: 2 };

    let clean_work = Work::new();
    // In bundle order, so that the simulator numbers the mutating calls as the script expects.
    let digest = plan.write_chained(&clean_work);
    let clean = start(sim_config());
    let before = Export::of(&clean, &clean_work.path("before"));
    let output = run(&clean_work, &clean.url(), &digest).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let expected = Export::of(&clean, &clean_work.path("after"));
    plan.assert_created(&before, &expected, &clean_work.captures());

    // Mutating calls in order, as the simulator numbers them (reads and probes are not
    // counted, blocked calls are not admitted): 1 Net 1 (lost answer), 2 IPs of site 1 (503),
    // 3 the same IPs again, 4 Group 1 (slow), 5 user 1 (503), 6 user 1 again after its probe
    // found nothing, 7 Tag 1 (lost answer), then site 2 without faults.
    let faults = Faults {
        scripted: vec![
            fault(1, FaultKind::DropResponse),
            fault(2, FaultKind::ServerError),
            fault(4, FaultKind::Slow),
            fault(5, FaultKind::ServerError),
            fault(7, FaultKind::DropResponse),
        ],
        // Longer than the executor's timeout (2 s), which normal calls never come near.
        slow_delay: Duration::from_millis(2500),
        ..Faults::default()
    };
    let limits = Limits { rate: Some(RateLimit { calls: 1, window_secs: 3600 }), concurrency: Some(1) };
    let sim = start(Config { faults, limits, time_scale: f64::from(TIME_SCALE), ..sim_config() });
    let work = Work::new();
    assert_eq!(plan.write_chained(&work), digest);
    let output = run(&work, &sim.url(), &digest)
        .args(["--time-scale", &TIME_SCALE.to_string(), "--timeout", "2s", "--concurrency-backoff", "100ms"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));

    let actual = Export::of(&sim, &work.path("after"));
    assert_eq!(actual.files.keys().collect::<Vec<_>>(), expected.files.keys().collect::<Vec<_>>());
    for (name, bytes) in &expected.files {
        assert!(
            actual.files[name] == *bytes,
            "{name} differs from a clean run's:\n{}\n---\n{}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&actual.files[name])
        );
    }
    plan.assert_created(&before, &actual, &work.captures());

    let counters = sim.counters();
    let injected: Vec<(&str, u64)> = counters.faults.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(injected, [("dropped_response", 2), ("server_error", 2), ("slow", 1)]);
    let (rate, concurrency) =
        (count(&counters.blocked, "rate_limit_1965"), count(&counters.blocked, "concurrency_limit_1960"));
    assert!(rate > 0 && concurrency > 0, "both limits blocked calls: {:?}", counters.blocked);

    let summary = Summary::of(&output);
    let records = work.records();
    let resent = records.iter().filter(|r| matches!(r, Record::Intent(i) if i.reason != SendReason::First)).count();
    assert_eq!(summary.retries, resent as u64, "the summary counts every send after the first");
    assert!(summary.retries >= 2, "the IPs and the user were sent again: {summary:?}");
    assert!(summary.waits >= rate + concurrency, "every blocked call was waited for: {summary:?}");
    assert_eq!(
        calls(&counters),
        plan.request_count() + summary.retries + summary.probes,
        "every call the simulator saw is a request, a retry or a probe of the summary"
    );
    assert!(stderr(&output).contains("rate limit reached (1965)"), "{}", stderr(&output));
    assert!(stderr(&output).contains("concurrency limit reached (1960)"), "{}", stderr(&output));

    assert_eq!(probe_found(&records, "network/Net 1"), [Found::Exists], "a lost answer: the probe finds it");
    assert_eq!(probe_found(&records, "asset-group/Group 1"), [Found::Exists], "a late answer: the probe finds it");
    assert_eq!(probe_found(&records, "user/user1@example.com"), [Found::Absent], "a 503: the probe finds nothing");
    assert_eq!(probe_found(&records, "tag/Tag 1"), [Found::Exists]);
    let ips = format!("ips/vm/{}", Plan::ips(1));
    assert!(reasons(&records, &ips).contains(&SendReason::AfterUnknownOutcome), "an idempotent add is repeated");
    assert!(reasons(&records, "user/user1@example.com").contains(&SendReason::AfterProbeAbsent));
    assert_eq!(reasons(&records, "network/Net 1"), [SendReason::First], "a create is never re-sent blindly");
}

/// Two user creates without probes: the first is executed but its answer is lost, the second
/// gets a 503 before it runs. Each time the run stops for an operator decision (exit 5) and
/// sends nothing again; `status` names the request; the operator looks in the target, finds
/// the first user (and records its login with `resolve --as done`) and not the second
/// (`resolve --as retry`). The run then completes with each user exactly once, and the
/// lookups capture the IDs the target gave them.
#[test]
fn an_unknown_create_without_probe_waits_for_the_operator() {
    let work = Work::new();
    let (first, second) = ("jo@example.com", "al@example.com");
    let requests = vec![user(first, false), user_id(first), user(second, false), user_id(second)];
    let digest = work.write(requests, vec![], &[]);
    let faults = Faults {
        scripted: vec![fault(1, FaultKind::DropResponse), fault(2, FaultKind::ServerError)],
        ..Faults::default()
    };
    let sim = start(Config { faults, ..sim_config() });
    let users_added = || count(&sim.counters().calls, "/msp/user.php?action=add");
    let user_with = |export: &Export, email: &str| export.users().into_iter().find(|(_, _, e)| e == email);

    let stopped = run(&work, &sim.url(), &digest).output().expect("runs");
    assert_eq!(stopped.status.code(), Some(5), "{}", stderr(&stopped));
    assert!(stderr(&stopped).contains("resolve"), "{}", stderr(&stopped));
    let again = run(&work, &sim.url(), &digest).output().expect("runs");
    assert_eq!(again.status.code(), Some(5), "{}", stderr(&again));
    assert_eq!(users_added(), 1, "never re-sent blindly");
    let shown = status(&work);
    assert!(stdout(&shown).contains(&format!("unknown outcome: #1 user/{first}")), "{}", stdout(&shown));
    assert!(stdout(&shown).contains("needs `resolve --as done|retry`"), "{}", stdout(&shown));

    let target = Export::of(&sim, &work.path("target-1"));
    let (_, login, _) = user_with(&target, first).expect("the first user was created");
    let request = format!("user/{first}");
    let without = resolve(&work, &request, &["--as", "done"]);
    assert_eq!(without.status.code(), Some(3));
    assert!(stderr(&without).contains(&format!("--capture '{request}#login=VALUE'")), "{}", stderr(&without));
    let recorded = resolve(&work, &request, &["--as", "done", "--capture", &format!("{request}#login={login}")]);
    assert!(recorded.status.success(), "{}", stderr(&recorded));
    assert_eq!(resolve(&work, &request, &["--as", "retry"]).status.code(), Some(3), "a settled request stays settled");

    let stopped = run(&work, &sim.url(), &digest).output().expect("runs");
    assert_eq!(stopped.status.code(), Some(5), "{}", stderr(&stopped));
    assert_eq!(users_added(), 2);
    let target = Export::of(&sim, &work.path("target-2"));
    assert!(user_with(&target, second).is_none(), "the 503 came before the second user was created");
    let recorded = resolve(&work, &format!("user/{second}"), &["--as", "retry"]);
    assert!(recorded.status.success(), "{}", stderr(&recorded));

    let done = run(&work, &sim.url(), &digest).output().expect("runs");
    assert!(done.status.success(), "{}", stderr(&done));
    assert_eq!(users_added(), 3, "only the second user was sent again");
    let target = Export::of(&sim, &work.path("target-3"));
    let captures = work.captures();
    for email in [first, second] {
        let matching: Vec<_> = target.users().into_iter().filter(|(_, _, e)| e == email).collect();
        assert_eq!(matching.len(), 1, "{email} exists exactly once");
        let (id, login, _) = &matching[0];
        assert_eq!(captures.get(&format!("user/{email}#login")), Some(login));
        assert_eq!(captures.get(&format!("user-id/{email}#id")), Some(id));
    }
    let decisions: Vec<Resolution> = work
        .records()
        .iter()
        .filter_map(|r| if let Record::Decision(d) = r { Some(d.resolution) } else { None })
        .collect();
    assert_eq!(decisions, [Resolution::Done, Resolution::Retry]);
}
