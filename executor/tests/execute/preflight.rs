//! `preflight`, and the same checks `run` makes before its first write: a go, and a no-go for
//! each reason, always before anything is written; `status --ids` after a checked run.

use std::path::PathBuf;

use qmig_schemas::manifest::*;
use qualys_sim::{Config, Faults};

use crate::support::*;

fn prerequisite(kind: PrerequisiteKind, value: &str, used_by: &str) -> Prerequisite {
    Prerequisite { kind, value: value.into(), used_by: vec![used_by.into()] }
}

/// The target's export of the sample: its appliances, vault, distribution group and the users
/// of its business units.
fn sample_target() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/target-export")
}

fn subscription_import() -> Request {
    let params = vec![Param::text("action", "import")];
    request("subscription/configuration", "/api/2.0/fo/subscription/", params, Effect::Idempotent)
}

fn virtual_appliance(name: &str) -> Request {
    let params = vec![Param::text("action", "create"), Param::text("name", name)];
    request(&format!("appliance/{name}"), "/api/2.0/fo/appliance/", params, Effect::Create)
}

/// Runs the preflight and checks that it wrote nothing: the exit code and stdout.
fn checked(work: &Work, sim: &qualys_sim::Running) -> (Option<i32>, String) {
    let output = preflight(work, &sim.url()).output().expect("preflight runs");
    assert_eq!(sim.counters().mutating_calls, 0, "the preflight only reads");
    assert!(!work.journal().exists(), "the preflight keeps no journal");
    (output.status.code(), format!("{}{}", stdout(&output), stderr(&output)))
}

/// Everything the bundle refers to is in the target, nothing it creates is: go (exit 0), with
/// the limits read from the headers and an estimate; a distribution group, which no API lists,
/// is named for the operator to confirm.
#[test]
fn a_target_ready_for_the_bundle_is_a_go() {
    let work = Work::new();
    let used_by = "asset-group/Corp East Servers";
    work.write_referring(
        vec![network("Corp East"), user("jo@example.com", true), subscription_import()],
        vec![
            prerequisite(PrerequisiteKind::BusinessUnit, "Zurich Office", "user/jo@example.com"),
            prerequisite(PrerequisiteKind::ScannerAppliance, "7001", used_by),
            prerequisite(PrerequisiteKind::Vault, "9301", "auth-record/unix/PAM"),
            prerequisite(PrerequisiteKind::DistributionGroup, "9041", "vm-scan-schedule/Nightly"),
        ],
    );
    let sim = start(Config { seed: Some(sample_target()), api_user_role: Some("Manager".into()), ..sim_config() });
    let (code, out) = checked(&work, &sim);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.lines().any(|l| l == "GO"), "{out}");
    assert!(out.contains("/msp/user_list.php") && out.contains("calls per"), "{out}");
    assert!(out.contains("estimated duration of the 3 requests: at least"), "{out}");
    assert!(out.contains("note: distribution group 9041 (used by vm-scan-schedule/Nightly)"), "{out}");
}

/// A bundle's requests and prerequisites, and the simulated target they are checked against.
type Case = (Vec<Request>, Vec<Prerequisite>, Config);

/// Each reason for a no-go, alone: the preflight names it and ends with exit 6.
#[test]
fn each_reason_for_a_no_go_is_named() {
    let missing = |kind, value: &str| {
        let requests = vec![network("Corp East")];
        (requests, vec![prerequisite(kind, value, "network/Corp East")], sim_config())
    };
    let cases: Vec<(&str, Case)> = vec![
        ("the target refused the credentials", {
            let config = Config { password: "another-password".into(), ..sim_config() };
            (vec![network("A")], vec![], config)
        }),
        ("the API user has not accepted the EULA (Qualys code 2003", {
            let faults = Faults { registration_pending: true, ..Faults::default() };
            (vec![network("A")], vec![], Config { faults, ..sim_config() })
        }),
        ("the API user qmig_api is a Unit Manager; 1 request need a Manager: subscription/configuration", {
            let config = Config { api_user_role: Some("Unit Manager".into()), ..sim_config() };
            (vec![subscription_import()], vec![], config)
        }),
        (
            "the business unit Paris Office is not in the target",
            missing(PrerequisiteKind::BusinessUnit, "Paris Office"),
        ),
        ("the scanner appliance 7009 is not in the target", missing(PrerequisiteKind::ScannerAppliance, "7009")),
        ("the authentication vault 9309 is not in the target", missing(PrerequisiteKind::Vault, "9309")),
        ("the bundle creates 2 virtual appliances but the target has 1 virtual scanner licences left", {
            let config = Config { virtual_scanner_licenses: 1, ..sim_config() };
            (vec![virtual_appliance("dmz-1"), virtual_appliance("dmz-2")], vec![], config)
        }),
    ];
    for (reason, (requests, prerequisites, config)) in cases {
        let work = Work::new();
        work.write_referring(requests, prerequisites);
        let sim = start(config);
        let (code, out) = checked(&work, &sim);
        assert_eq!(code, Some(6), "{reason}: {out}");
        assert!(out.contains(&format!("no-go: {reason}")), "expected `{reason}` in:\n{out}");
        assert!(out.lines().any(|l| l == "NO-GO"), "{out}");
    }
}

/// The target changed after the export the bundle was made from: a network it creates is
/// there now. The preflight names the collision; `run` refuses before any write (the target
/// received no create), and runs once told `--no-preflight` (the create is then refused by the
/// target, exit 4).
#[test]
fn a_stale_bundle_is_refused_before_any_write() {
    let work = Work::new();
    let seed = work.path("target-export");
    seed_networks(&seed, &[(1001, "Corp East")]);
    let digest = work.write_referring(vec![network("Corp West"), network("Corp East"), network("Lab")], vec![]);
    let sim = start(Config { seed: Some(seed), ..sim_config() });

    let (code, out) = checked(&work, &sim);
    assert_eq!(code, Some(6), "{out}");
    assert!(out.contains("no-go: network/Corp East (network/Corp East (test)) is in the target already"), "{out}");
    assert!(!out.contains("no-go: network/Corp West") && !out.contains("no-go: network/Lab"), "{out}");
    assert!(out.contains("read-only calls: 2; objects the bundle creates looked for: 3"), "one list for 3: {out}");

    let refused = run_checked(&work, &sim.url(), &digest).output().expect("runs");
    assert_eq!(refused.status.code(), Some(6), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("nothing was written to the target"), "{}", stderr(&refused));
    assert_eq!(sim.counters().mutating_calls, 0, "no create reached the target");

    let unchecked = run_checked(&work, &sim.url(), &digest).arg("--no-preflight").output().expect("runs");
    assert_eq!(unchecked.status.code(), Some(4), "{}", stderr(&unchecked));
    assert!(stderr(&unchecked).contains("network/Corp East") && stderr(&unchecked).contains("1905"));
}

/// A checked run goes, creates everything, and `status --ids` then maps each created object's
/// source ID to its target ID or new login, in CSV and in JSON.
#[test]
fn the_id_map_after_a_checked_run() {
    let work = Work::new();
    let from = |mut request: Request, id: &str, title: &str| {
        let (id, title) = (Some(id.to_owned()), Some(title.to_owned()));
        request.source = Some(SourceRef { file: "export.xml".into(), line: 3, id, title });
        request
    };
    let requests = vec![
        from(network("Corp, East"), "1103", "Corp, East"),
        from(user("jo@example.com", true), "1202", "nwind_jo"),
        ips("10.0.0.1"),
    ];
    let digest = work.write_referring(requests, vec![]);
    let sim = start(sim_config());
    let ran = run_checked(&work, &sim.url(), &digest).output().expect("runs");
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
    assert!(stdout(&ran).lines().any(|l| l == "GO"), "{}", stdout(&ran));

    let export = Export::of(&sim, &work.path("after"));
    let network_id = export.networks().into_iter().find(|(_, name)| name == "Corp, East").expect("created").0;
    let login = export.users().into_iter().find(|(_, _, email)| email == "jo@example.com").expect("created").1;
    let ids = |format: &str| {
        let output = qmig(&work)
            .args(["status", "--ids", "--format", format])
            .arg(work.bundle())
            .arg("--journal")
            .arg(work.journal())
            .output()
            .expect("status runs");
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        stdout(&output)
    };
    let csv = ids("csv");
    let expected = format!(
        "kind,source_id,source_name,target_id,target_login,request\r\n\
         network,1103,\"Corp, East\",{network_id},,\"network/Corp, East\"\r\n\
         user,1202,nwind_jo,,{login},user/jo@example.com\r\n"
    );
    assert_eq!(csv, expected);
    let json: serde_json::Value = serde_json::from_str(&ids("json")).expect("JSON");
    assert_eq!(json["bundle"], digest.as_str());
    assert_eq!(json["objects"][0]["target_id"], network_id.as_str());
    assert_eq!(json["objects"][1]["target_login"], login.as_str());
    assert_eq!(json["objects"].as_array().map(Vec::len), Some(2), "IPs create no object with an ID");
}
