//! The core tasks of the subscription (subscription configuration, appliances, asset groups,
//! users and their preferences, virtual hosts, IPv6 mappings) on the sample export, the
//! corpus, and the scenarios of `tests/fixtures/core_*`.

mod common;

use std::fs;

use common::{cli, corpus, fixture, param, sample, sample_args, samples, verified};
use qmig_schemas::{BundleContents, Manifest, Request, Value};
use qmig_transform::checklist::Step;
use qmig_transform::cli::BundleArgs;
use qmig_transform::context::{OptionalTask, SendEmail};

/// Builds the bundle and checks it as the executor will: schema, hashes, references.
fn build(args: &BundleArgs) -> BundleContents {
    let contents = qmig_transform::build(args).expect("transforms");
    verified(&contents);
    contents
}

fn requests<'a>(manifest: &'a Manifest, task: &str) -> Vec<&'a Request> {
    manifest.requests.iter().filter(|r| r.task == task).collect()
}

fn request<'a>(manifest: &'a Manifest, id: &str) -> &'a Request {
    manifest.requests.iter().find(|r| r.id == id).unwrap_or_else(|| panic!("no request {id}"))
}

#[test]
fn the_sample_subscription_is_migrated_in_dependency_order() {
    let contents = sample();
    verified(contents);
    let manifest = &contents.manifest;
    // The tasks of this file, in the order they must come; other tasks may sit between them.
    let expected = [
        "subscription configuration",
        "networks",
        "scanner appliances",
        "IPs",
        "domains",
        "asset groups",
        "users",
        "user preferences",
        "virtual hosts",
    ];
    let mut order: Vec<&str> = Vec::new();
    for request in &manifest.requests {
        let task = request.task.as_str();
        if expected.contains(&task) && order.last() != Some(&task) {
            order.push(task);
        }
    }
    assert_eq!(order, expected);
    let summary = |task: &str| manifest.tasks.iter().find(|t| t.task == task).map(|t| (t.source_objects, t.requests));
    assert_eq!(summary("asset groups"), Some((7, 6)), "both pages read, All skipped");
    assert_eq!(summary("users"), Some((8, 7)), "every role but KnowledgeBase Only");
    assert_eq!(summary("IPv6 mappings"), Some((3, 0)), "opt-in");

    let body = request(manifest, "subscription/configuration").body.as_ref().expect("verbatim body");
    let exported = fs::read(samples().join("subscription_config.xml")).expect("read");
    assert_eq!(body.sha256, qmig_schemas::sha256_hex(&exported), "imported byte for byte");

    let lab = request(manifest, "asset-group/Lab #2 + Test Rigs");
    assert_eq!(param(lab, "title").as_deref(), Some("Lab #2 + Test Rigs"));
    assert_eq!(param(lab, "network_id").as_deref(), Some("{{capture:network/Lab #2 + Test#id}}"));
    let dmz = request(manifest, "asset-group/DMZ & Partner Web");
    assert_eq!(
        param(dmz, "domains").as_deref(),
        Some("partners.northwind.example:[203.0.113.64-203.0.113.127],legacy.northwind.example")
    );
    assert_eq!(param(request(manifest, "asset-group/HQ Finance (PCI)"), "appliance_ids").as_deref(), Some("7002"));
    let zurich = request(manifest, "asset-group/Zürich Büro Workstations");
    assert_eq!(param(zurich, "comments").as_deref(), Some("Büro Zürich, 3. Stock – Arbeitsplätze"));

    let reader = request(manifest, "user/nwind_rd");
    assert_eq!(param(reader, "business_unit").as_deref(), Some("Zurich Office"));
    assert_eq!(param(reader, "asset_groups").as_deref(), Some("Zürich Büro Workstations,All"));
    assert_eq!(param(reader, "title").as_deref(), Some("IT Coordinator, R&D #2 + QA"));
    assert_eq!(param(request(manifest, "user/nwind_ct"), "email").as_deref(), Some("ops+qualys@northwind.example"));

    let import = request(manifest, "user-prefs/nwind_rd");
    assert_eq!(param(import, "user_id").as_deref(), Some("{{capture:user-id/nwind_rd#id}}"));
    let lookup = manifest.requests.iter().position(|r| r.id == "user-id/nwind_rd").expect("lookup");
    let added = manifest.requests.iter().position(|r| r.id == "user/nwind_rd").expect("user");
    assert!(added < lookup, "the login is captured before it is looked up");

    assert!(manifest.skipped.iter().any(|s| s.object == "preferences of user nwind_kb"));
    let review = &contents.review;
    assert!(review.contains("only the target's Primary Manager can import"), "the review warns");
    assert!(review.contains("SCAN \\> EXCLUDED\\_IPS"), "the review names the settings");
}

#[test]
fn options_create_virtual_appliances_add_ipv6_mappings_and_withhold_emails() {
    let mut args = sample_args();
    args.create_virtual_appliances = true;
    args.include = vec![OptionalTask::Ipv6Mappings];
    args.send_email = SendEmail::No;
    let contents = build(&args);
    let manifest = &contents.manifest;
    let ids: Vec<&str> = requests(manifest, "scanner appliances").iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["appliance/nw-cloud-03", "appliance-settings/nw-cloud-03", "appliance-network/nw-east-01"]);
    let settings = request(manifest, "appliance-settings/nw-cloud-03");
    assert_eq!(
        param(settings, "set_vlans").as_deref(),
        Some("210|172.16.8.5|255.255.255.0|Cloud Apps||,211|172.16.9.5|255.255.255.0|Cloud DB||")
    );
    assert_eq!(param(settings, "id").as_deref(), Some("{{capture:appliance/nw-cloud-03#id}}"));
    let activation =
        manifest.manual_steps.iter().find(|s| s.id == Step::ApplianceActivation.id()).expect("activation step");
    assert_eq!(activation.items, ["nw-cloud-03"]);
    // The code is shown to the operator after the run, as the checklist says.
    assert!(manifest.report.iter().any(|r| r.capture == "appliance/nw-cloud-03#activation_code"));
    assert!(contents.review.contains("activation code of virtual scanner appliance \"nw-cloud-03\""));
    let serialized = serde_json::to_string(manifest).expect("json");
    assert!(!serialized.contains("ACTIVATION_CODE</"), "only the capture is declared, never a code");

    assert_eq!(requests(manifest, "IPv6 mappings").len(), 1);
    let users = requests(manifest, "users");
    assert!(users.iter().all(|u| param(u, "send_email").as_deref() != Some("1")));
    assert_eq!(users.iter().filter(|u| param(u, "send_email").is_none()).count(), 1, "the contact takes none");
}

#[test]
fn every_unresolved_reference_stops_the_run_with_the_objects_using_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    let scenario = fixture("core_unresolved");
    let inputs = scenario.join("inputs").to_string_lossy().into_owned();
    let run = cli(&scenario.join("export"), &out, &["--inputs", &inputs]);
    let stderr = run.stderr;
    assert_eq!(run.code, 3, "{stderr}");
    assert!(!out.exists(), "nothing is written");
    let expected = [
        "7 reference(s) have no counterpart in the target:",
        "network 1190: used by asset group \"Lab & Test #2\"",
        "network 1999: used by virtual host 10.10.1.5:443",
        "scanner appliance 5001: used by asset group \"Corp East Servers\"; map appliance 5001 (\"nw-east-01\") \
         in inputs/appliances.csv, or capture the target's appliance list into --target-export (matched by name), \
         or create it with --create-virtual-appliances",
        "scanner appliance 5002: used by asset group \"Corp East Servers\", asset group \"Lab & Test #2\"; map \
         appliance 5002 (\"nw-hq-02\") in inputs/appliances.csv, or capture the target's appliance list into \
         --target-export (matched by name)\n",
        "scanner appliance 5077: used by asset group \"Lab & Test #2\"",
        "business unit Finance & Risk: used by user nwind_um (Seán O'Brien), user nwind_sc (Ana Silva)",
        "business unit Zürich Büro: used by user nwind_rd (Lukas Müller)",
    ];
    for line in expected {
        assert!(stderr.contains(line), "missing {line:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("5004"), "the mapped appliance resolves");
}

#[test]
fn empty_lists_give_no_request_and_no_error() {
    let contents = build(&BundleArgs::new(fixture("core_empty_lists/export"), "unused"));
    let manifest = &contents.manifest;
    assert!(manifest.requests.is_empty(), "{:?}", manifest.requests);
    assert!(manifest.unrecognised.is_empty(), "every empty list is recognised: {:?}", manifest.unrecognised);
    assert_eq!(manifest.skipped.len(), 1, "the empty subscription configuration is not imported");
}

/// The corpus files of these kinds (mocks by other authors) transform, with the two appliances
/// the asset group mock names mapped.
#[test]
fn the_corpus_asset_group_user_and_appliance_lists_transform() {
    let export = tempfile::tempdir().expect("tempdir");
    for kind in ["asset_group_list", "user_list", "appliance_list"] {
        for entry in fs::read_dir(corpus(kind)).expect("corpus kind") {
            let path = entry.expect("entry").path();
            fs::copy(&path, export.path().join(path.file_name().expect("name"))).expect("copy");
        }
    }
    let mut args = BundleArgs::new(export.path(), "unused");
    args.inputs = Some(fixture("core_corpus/inputs"));
    let contents = build(&args);
    let manifest = &contents.manifest;

    let groups: Vec<&str> = requests(manifest, "asset groups").iter().map(|r| r.id.as_str()).collect();
    assert_eq!(groups, ["asset-group/myLinux", "asset-group/prod-web"]);
    let prod = request(manifest, "asset-group/prod-web");
    let shown: Vec<(String, String)> = prod.params.iter().map(|p| (p.name.clone(), p.value.display())).collect();
    let expected = [
        ("action", "add"),
        ("title", "prod-web"),
        ("ips", "10.0.0.5,10.0.0.1-10.0.0.3"),
        ("domains", "example.com"),
        ("appliance_ids", "9007,9009"),
        ("comments", "web tier"),
        ("business_impact", "high"),
        ("cvss_enviro_cdp", "high"),
        ("cvss_enviro_td", "medium"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    assert_eq!(shown, expected);

    let users = requests(manifest, "users");
    assert_eq!(users.len(), 2);
    assert_eq!(param(users[1], "user_role").as_deref(), Some("scanner"));
    assert_eq!(param(users[1], "asset_groups"), None, "\"AG 24\" is in neither export");
    assert!(manifest.losses.iter().any(|l| l.fields.iter().any(|f| f.starts_with("ASSIGNED_ASSET_GROUPS (AG 24"))));

    let deploy =
        manifest.manual_steps.iter().find(|s| s.id == Step::ApplianceDeployment.id()).expect("deployment step");
    assert_eq!(deploy.items, ["dmz-scanner"]);
}

#[test]
fn a_missing_page_of_asset_groups_is_named_with_its_url() {
    let export = tempfile::tempdir().expect("tempdir");
    let page = samples().join("asset_groups_page1.xml");
    fs::copy(&page, export.path().join("asset_groups_page1.xml")).expect("copy");
    let err = qmig_transform::build(&BundleArgs::new(export.path(), "unused")).expect_err("truncated");
    let message = err.to_string();
    assert!(message.starts_with("asset_groups_page1.xml: the list is truncated"), "{message}");
    assert!(message.contains("id_min=3104"), "{message}");
}

#[test]
fn values_reach_the_bundle_unescaped_and_are_escaped_only_in_the_review_files() {
    let contents = sample();
    let title = request(&contents.manifest, "asset-group/DMZ & Partner Web")
        .params
        .iter()
        .find(|p| p.name == "title")
        .map(|p| p.value.clone());
    assert_eq!(title, Some(Value::Text("DMZ & Partner Web".to_owned())));
    assert!(contents.requests_table.contains("\"title\":\"Lab #2 + Test Rigs\""), "as JSON in requests.tsv");
    assert!(contents.review.contains("asset group \"Lab \\#2 + Test Rigs\""), "as Markdown in REVIEW.md");
}

/// The sample's scan schedules are its last creates, every one inactive; the cutover phase
/// comes after them and switches on exactly those active in the source, in a review section of
/// its own.
#[test]
fn the_sample_schedules_are_created_inactive_and_the_cutover_switches_on_the_active_ones() {
    let contents = sample();
    let manifest = &contents.manifest;
    let schedules = requests(manifest, "scan schedules");
    assert_eq!(schedules.len(), 6);
    assert!(schedules.iter().all(|r| param(r, "active").as_deref() == Some("0")));
    let switched: Vec<&str> = manifest
        .requests
        .iter()
        .skip_while(|r| r.phase == qmig_schemas::Phase::Migration)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(
        switched,
        [
            "switch-on/pc-scan-schedule/PC Windows baseline, every other Tuesday and Friday",
            "switch-on/vm-scan-schedule/Nightly DMZ & partner web",
            "switch-on/vm-scan-schedule/PCI scope, last Friday",
            "policy-evaluation/CIS Benchmark for Linux & Unix #1",
            "policy-evaluation/PCI DSS v4.0 – Windows Production",
        ]
    );
    let external = request(manifest, "vm-scan-schedule/External perimeter, mid-month");
    assert_eq!(param(external, "ip_network_id"), None, "the default network is no parameter");
    let dmz = request(manifest, "vm-scan-schedule/Nightly DMZ & partner web");
    assert_eq!(param(dmz, "ip_network_id").as_deref(), Some("{{capture:network/DMZ & Partners#id}}"));
    assert_eq!(param(dmz, "start_date").as_deref(), Some("10/04/2026"), "21:30 in New York is 02:30 UTC next day");
    let review = &contents.review;
    let gate = review.find("## The cutover").expect("a cutover section");
    let switch_on = review.find("Switch on VM scan schedule \"PCI scope, last Friday\"").expect("listed");
    assert!(gate < switch_on, "the cutover's requests are listed in its section");
    assert!(review.contains("distribution group \"PCI Auditors\" (42)"), "the unmapped recipient is named");
}
