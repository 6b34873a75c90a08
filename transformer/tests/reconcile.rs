//! `qmig-transform reconcile`: the program run on a source and a target export, its Markdown
//! and JSON reports, and its exit status.

mod common;

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::cargo_bin;
use common::{Run, fixture};
use serde_json::Value;

/// Runs `qmig-transform reconcile SOURCE TARGET --json ... --out ...` and returns what it did
/// with both reports.
fn reconcile(source: &Path, target: &Path, extra: &[&str]) -> (Run, Value, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (json, markdown) = (dir.path().join("report.json"), dir.path().join("report.md"));
    let output = Command::new(cargo_bin("qmig-transform"))
        .arg("reconcile")
        .arg(source)
        .arg(target)
        .arg("--json")
        .arg(&json)
        .arg("--out")
        .arg(&markdown)
        .args(extra)
        .output()
        .expect("qmig-transform runs");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    let report = serde_json::from_slice(&std::fs::read(&json).expect("the JSON report")).expect("JSON");
    (run, report, std::fs::read_to_string(&markdown).expect("the Markdown report"))
}

/// (kind, object, status, differing fields) of every object that is not matched.
fn unmatched(report: &Value) -> Vec<(String, String, String, Vec<String>)> {
    let mut found = Vec::new();
    for kind in report["kinds"].as_array().expect("kinds") {
        for object in kind["objects"].as_array().expect("objects") {
            let status = object["status"].as_str().expect("status");
            if status == "matched" {
                continue;
            }
            let fields = object.get("differences").and_then(Value::as_array).into_iter().flatten();
            let fields = fields.map(|d| d["field"].as_str().expect("field").to_owned()).collect();
            let name = object["name"].as_str().expect("name").to_owned();
            found.push((kind["kind"].as_str().expect("kind").to_owned(), name, status.to_owned(), fields));
        }
    }
    found
}

#[test]
fn a_target_with_one_field_changed_one_object_missing_and_one_extra_reports_exactly_those() {
    let scenario = fixture("reconcile_one_changed_one_missing_one_extra");
    let (run, report, markdown) = reconcile(&scenario.join("source"), &scenario.join("target"), &[]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("1 missing and 1 different"), "{}", run.stderr);
    // Network and owner IDs differ on each side, address lists are written differently, the
    // target adds its defaults: none of it is a difference. The All group is not extra.
    assert_eq!(
        unmatched(&report),
        [
            (
                "asset groups".to_owned(),
                "Corp East Servers".to_owned(),
                "different".to_owned(),
                vec!["COMMENTS".to_owned()]
            ),
            ("asset groups".to_owned(), "Lab Rigs".to_owned(), "missing".to_owned(), vec![]),
            ("asset groups".to_owned(), "Sandbox".to_owned(), "extra".to_owned(), vec![]),
        ]
    );
    let totals = &report["totals"];
    assert_eq!((totals["source_objects"].as_u64(), totals["matched"].as_u64()), (Some(6), Some(4)));
    assert_eq!(report["percent"], 66);
    assert!(
        markdown.contains("- **Corp East Servers**: DIFFERENT\n  - `COMMENTS`: source Racks 1-4, target Racks 1-5\n")
    );
    assert!(markdown.contains("- **Lab Rigs**: MISSING from the target\n"), "{markdown}");
    assert!(markdown.contains("- **Sandbox**: only in the target\n"), "{markdown}");
}

#[test]
fn a_bundle_that_does_not_verify_is_refused_before_anything_is_compared() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = fixture("reconcile_one_changed_one_missing_one_extra");
    let bundle = dir.path().join("bundle");
    std::fs::create_dir(&bundle).expect("mkdir");
    let output = Command::new(cargo_bin("qmig-transform"))
        .arg("reconcile")
        .arg(scenario.join("source"))
        .arg(scenario.join("target"))
        .arg("--bundle")
        .arg(&bundle)
        .output()
        .expect("qmig-transform runs");
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("bundle {}", bundle.display())), "{stderr}");
    assert!(output.stdout.is_empty(), "no report from an unverified review");
}
