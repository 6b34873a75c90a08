//! Probes that must identify the very object their request creates, and must not decide while
//! the target may still be executing the request.

use std::time::Duration;

use qmig_schemas::journal::Found;
use qualys_sim::{Config, FaultKind, Faults};

use crate::support::*;

/// The target already holds "Regulatory / Compliance". The bundle creates a root tag
/// "Compliance" with "End-of-life OS" and "PCI Scope" under it; the create of "Compliance"
/// gets a 503. Its probe finds a tag named "Compliance", but under another parent: not the
/// tag it creates. So the create is sent again, and both children land under the new root.
#[test]
fn a_tag_probe_matches_the_name_and_the_parent() {
    let faults = Faults { scripted: vec![fault(3, FaultKind::ServerError)], ..Faults::default() };
    let sim = start(Config { faults, ..sim_config() });
    let existing = Work::new();
    let system_tags = Export::of(&sim, &existing.path("before")).tags().len();
    let (regulatory, mut bodies) = tag("Regulatory", None);
    let (nested, more) = tag("Compliance", Some("tag/Regulatory#id"));
    bodies.extend(more);
    let digest = existing.write(vec![regulatory, nested], bodies, &[]);
    let seeded = run(&existing, &sim.url(), &digest).output().expect("runs");
    assert!(seeded.status.success(), "{}", stderr(&seeded));

    let work = Work::new();
    let (root, mut bodies) = tag("Compliance", None);
    let (eol, more) = tag("End-of-life OS", Some("tag/Compliance#id"));
    bodies.extend(more);
    let (pci, more) = tag("PCI Scope", Some("tag/Compliance#id"));
    bodies.extend(more);
    let digest = work.write(vec![root, eol, pci], bodies, &[]);
    let output = run(&work, &sim.url(), &digest).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(probe_found(&work.records(), "tag/Compliance"), [Found::Absent]);

    let tags = Export::of(&sim, &work.path("after")).tags();
    let id_of = |name: &str, parent: Option<&String>| {
        let found: Vec<_> = tags.iter().filter(|(_, n, p)| n == name && p.as_ref() == parent).collect();
        assert_eq!(found.len(), 1, "{name} under {parent:?} exactly once: {tags:?}");
        found[0].0.clone()
    };
    let regulatory = id_of("Regulatory", None);
    id_of("Compliance", Some(&regulatory));
    let compliance = id_of("Compliance", None);
    id_of("End-of-life OS", Some(&compliance));
    id_of("PCI Scope", Some(&compliance));
    assert_eq!(tags.len(), system_tags + 5, "nothing else was created: {tags:?}");
    assert_eq!(work.captures().get("tag/Compliance#id"), Some(&compliance));
}

/// The target answers a network create and a user create later than the executor waits
/// (`--timeout 1s`, answers after 2.5 s), and executes them only then. The first probes run
/// before that and find nothing; they are asked again once `--settle` has passed since the
/// create was sent, find the objects, and nothing is sent twice.
#[test]
fn a_create_answered_later_than_the_timeout_is_not_sent_again() {
    let plan = Plan { sites: 1 };
    let work = Work::new();
    let digest = plan.write(&work);
    let faults = Faults {
        scripted: vec![fault(1, FaultKind::Slow), fault(4, FaultKind::Slow)],
        slow_delay: Duration::from_millis(2500),
        ..Faults::default()
    };
    let sim = start(Config { faults, ..sim_config() });
    let before = Export::of(&sim, &work.path("before"));
    let output = run_settling(&work, &sim.url(), &digest, "4s").args(["--timeout", "1s"]).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("not found yet; asking again"), "{}", stderr(&output));

    let after = Export::of(&sim, &work.path("after"));
    plan.assert_created(&before, &after, &work.captures());
    let counters = sim.counters();
    assert_eq!(count(&counters.faults, "slow"), 2);
    assert_eq!(count(&counters.calls, "/api/2.0/fo/network/?action=create"), 1, "{:?}", counters.calls);
    assert_eq!(count(&counters.calls, "/msp/user.php?action=add"), 1, "{:?}", counters.calls);
    assert_eq!(probe_found(&work.records(), "network/Net 1"), [Found::Exists]);
    assert_eq!(probe_found(&work.records(), &format!("user/{}", Plan::email(1))), [Found::Exists]);
}
