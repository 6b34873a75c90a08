//! Report templates through the program: the sample's templates with every reference remapped
//! and shown in the review, the real list Qualys returns for a new subscription, and the traps
//! of card D (a reference to an object that is not migrated, a title the target has).

mod common;

use std::fs;

use common::{cli, corpus, export_with, sample, sample_inputs, samples, transform, verified};
use qmig_transform::checklist::Step;
use qmig_transform::error::TransformError;

#[test]
fn the_sample_templates_are_created_with_every_reference_remapped_and_reviewed() {
    let contents = sample();
    verified(contents);
    let manifest = &contents.manifest;
    let created: Vec<&str> =
        manifest.requests.iter().filter(|r| r.task == "report templates").map(|r| r.id.as_str()).collect();
    assert_eq!(
        created,
        [
            "report-template/scan/TLS Posture by Site",
            "report-template/scan/Executive Critical Summary",
            "report-template/pciscan/PCI Quarterly – HQ Finance",
            "report-template/patch/Patch Backlog – Zürich & Lab",
            "report-template/map/Perimeter Map (DMZ)",
        ]
    );
    let table = &contents.requests_table;
    for remap in [
        "\"search list 4101 → {{capture:search-list/Weak TLS & SSL Ciphers#id}}\"",
        "\"search list 4102 → {{capture:search-list/Zürich Büro Accepted Risks#id}}\"",
        "\"tag 72500052 → ",
        "\"user nwind_sc2 → {{capture:user/nwind_sc2#login}}\"",
        "\"network 1106 → {{capture:network/Zürich Büro#id}}\"",
        // Asset groups, virtual hosts, appliance assignments and users show theirs the same way.
        "\"network 1103 → {{capture:network/Corp East#id}}\"",
        "\"scanner appliance 5001 → 7001\"",
        "\"business unit Zürich Büro → Zurich Office\"",
    ] {
        assert!(table.contains(remap), "requests.tsv lacks {remap:?}");
    }
    let review = &contents.review;
    assert!(review.contains("| scanner appliance | `5001` | `7001` |"), "remaps known now are listed in REVIEW.md");
    let items = |step: Step| manifest.manual_steps.iter().find(|s| s.id == step.id()).map(|s| s.items.clone());
    assert_eq!(
        items(Step::ComplianceReportTemplates),
        Some(vec!["\"PCI DSS Control Evidence\" (Compliance, ID 88306)".to_owned()])
    );
    assert_eq!(
        items(Step::ReportTemplatesByHand),
        Some(vec![
            "\"Open Tickets by Owner\" (Remediation, ID 88307)".to_owned(),
            "\"Patch Compliance Scorecard\" (Scorecard, ID 88308)".to_owned(),
        ])
    );
    let stock = manifest.skipped.iter().filter(|s| s.reason.starts_with("a stock template")).count();
    assert_eq!(stock, 7, "five stock templates and two of the platform's");
}

#[test]
fn the_list_of_a_new_subscription_holds_nothing_to_create() {
    let list = fs::read_to_string(corpus("report_template").join("ruby-qualys__templates.yml.response.xml"))
        .expect("the real capture");
    let export = export_with(&[("report_templates.xml", &list)]);
    let contents = transform(export.path(), |_| {}).expect("transforms");
    let manifest = &contents.manifest;
    assert!(manifest.requests.is_empty(), "{:#?}", manifest.requests);
    let task = manifest.tasks.iter().find(|t| t.task == "report templates").expect("the task");
    assert_eq!((task.source_objects, task.skipped), (13, 13));
    let compliance = manifest.manual_steps.iter().find(|s| s.id == Step::ComplianceReportTemplates.id());
    assert_eq!(compliance.map(|s| s.items.len()), Some(0), "the System templates are the platform's own");
}

#[test]
fn a_template_referring_to_objects_that_are_not_migrated_stops_the_run_naming_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let export = dir.path().join("export");
    fs::create_dir(&export).expect("mkdir");
    for entry in fs::read_dir(samples()).expect("sample") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            fs::copy(&path, export.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    fs::create_dir(export.join("report_templates")).expect("mkdir");
    let body = fs::read_to_string(samples().join("report_templates/report_template_88301.xml")).expect("sample body");
    let broken = body
        .replace("<![CDATA[3101,3102]]>", "<![CDATA[3101,3999,Retired Servers]]>")
        .replace("<![CDATA[4101]]>", "<![CDATA[4101,4999]]>")
        .replace("<![CDATA[nwind_sc,nwind_rd]]>", "<![CDATA[nwind_kb,nwind_rd]]>");
    fs::write(export.join("report_templates/report_template_88301.xml"), broken).expect("write");
    for id in ["88302", "88303", "88304", "88305"] {
        let name = format!("report_templates/report_template_{id}.xml");
        fs::copy(samples().join(&name), export.join(&name)).expect("copy");
    }
    let out = dir.path().join("bundle");
    let run = cli(&export, &out, &["--inputs", &sample_inputs()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(!out.exists(), "nothing is written");
    let used_by = "used by report template \"TLS Posture by Site\"";
    for line in [
        "4 reference(s) have no counterpart in the target:",
        &format!("asset group 3999: {used_by}"),
        &format!("asset group Retired Servers: {used_by}"),
        &format!("user nwind_kb: {used_by}"),
        &format!("search list 4999: {used_by}"),
    ] {
        assert!(run.stderr.contains(line), "missing {line:?} in:\n{}", run.stderr);
    }
}

#[test]
fn a_template_whose_title_the_target_has_is_not_created_again() {
    let target = tempfile::tempdir().expect("tempdir");
    let list = fs::read_to_string(samples().join("report_templates.xml")).expect("sample list");
    let clash = list.replace("<ID>88301</ID>", "<ID>6301</ID>").replace("<ID>88303</ID>", "<ID>6303</ID>");
    fs::write(target.path().join("report_templates.xml"), clash).expect("write");
    let contents = transform(&samples(), |args| {
        args.inputs = Some(sample_inputs().into());
        args.target_export = Some(target.path().to_path_buf());
    });
    let contents = match contents {
        Ok(contents) => contents,
        Err(TransformError::Unresolved(unresolved)) => panic!("{unresolved:#?}"),
        Err(other) => panic!("{other}"),
    };
    let manifest = &contents.manifest;
    assert!(manifest.requests.iter().all(|r| r.task != "report templates"), "every title is in the target");
    let tls = manifest.skipped.iter().find(|s| s.object == "Scan report template \"TLS Posture by Site\"");
    assert_eq!(tls.map(|s| s.reason.as_str()), Some("already in the target as report template 6301 (target export)"));
    let warned = manifest.warnings.iter().filter(|w| w.message.contains("whose settings are not compared")).count();
    assert_eq!(warned, 8, "one per template that is not stock, of every type");
}
