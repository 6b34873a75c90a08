//! Search lists and option profiles through the program: the sample's bundle and review, and
//! the traps of both kinds (a criterion qmig cannot read, a search list the target will not
//! have, a title the target already uses).

mod common;

use std::fs;
use std::path::Path;

use common::{Run, cli, export_with, param, sample, transform, verified};
use qmig_transform::checklist::Step;
use qmig_transform::error::TransformError;

const PROFILE_USING_LISTS: &str = "<OPTION_PROFILES><OPTION_PROFILE><BASIC_INFO><ID>7</ID>\
    <GROUP_NAME>Weekly Internal</GROUP_NAME><GROUP_TYPE>user</GROUP_TYPE><IS_DEFAULT>0</IS_DEFAULT></BASIC_INFO>\
    <SCAN><VULNERABILITY_DETECTION><CUSTOM_LIST><CUSTOM><ID>41</ID><TITLE>Weak TLS</TITLE></CUSTOM></CUSTOM_LIST>\
    <DETECTION_EXCLUDE><CUSTOM_LIST><CUSTOM><ID>42</ID><TITLE>Accepted Risks</TITLE></CUSTOM></CUSTOM_LIST>\
    </DETECTION_EXCLUDE></VULNERABILITY_DETECTION></SCAN></OPTION_PROFILE></OPTION_PROFILES>";

fn static_list(id: &str, title: &str) -> String {
    format!(
        "<STATIC_SEARCH_LIST_OUTPUT><RESPONSE><STATIC_LISTS>\n<STATIC_LIST><ID>{id}</ID><TITLE>{title}</TITLE>\
         <GLOBAL>No</GLOBAL><QIDS><QID>38170</QID></QIDS></STATIC_LIST>\n</STATIC_LISTS></RESPONSE></STATIC_SEARCH_LIST_OUTPUT>"
    )
}

fn run_program(export: &Path, extra: &[&str]) -> (Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = cli(export, &dir.path().join("bundle"), extra);
    (run, dir)
}

#[test]
fn the_sample_lists_and_profiles_are_created_in_order_and_explained() {
    let contents = sample();
    verified(contents);
    let manifest = &contents.manifest;
    let position = |id: &str| manifest.requests.iter().position(|r| r.id == id).unwrap_or_else(|| panic!("no {id}"));
    let list = position("search-list/Weak TLS & SSL Ciphers");
    let dynamic = position("search-list/Published last 30 days – Windows");
    let profile = position("option-profile/Northwind Weekly – Internal (Custom)");
    assert!(list < dynamic && dynamic < profile, "static, then dynamic lists, then the profiles using them");

    let weak_tls = &manifest.requests[list];
    assert_eq!(param(weak_tls, "qids").as_deref(), Some("38140,38170,38173,38601,38628,38657"));
    assert_eq!(param(weak_tls, "global").as_deref(), Some("1"));
    let not_openssl = &manifest.requests[position("search-list/Critical Remote, not OpenSSL")];
    assert_eq!(param(not_openssl, "vuln_title").as_deref(), Some("openssl"));
    assert_eq!(param(not_openssl, "not_vuln_title").as_deref(), Some("1"));
    assert_eq!(param(not_openssl, "qids_not_exploitable").as_deref(), Some("1"));
    let windows = &manifest.requests[dynamic];
    assert_eq!(param(windows, "published_date_within_last_days").as_deref(), Some("30"));
    assert_eq!(param(windows, "user_modified_date_in_previous").as_deref(), Some("Month"));
    assert_eq!(param(windows, "not_user_modified").as_deref(), Some("1"));

    let import = &manifest.requests[profile];
    assert_eq!(param(import, "action").as_deref(), Some("import"));
    let body = import.body.as_ref().expect("an XML body");
    assert_eq!(body.content_type, "text/xml");
    let imports = manifest.requests.iter().filter(|r| r.task == "option profiles").count();
    assert_eq!(imports, 3, "one import per profile");

    let review = &contents.review;
    assert_eq!(review.matches("Threat Protection RTI criteria").count(), 2, "one per dynamic list");
    let table = &contents.requests_table;
    assert!(table.contains("option profiles \"Northwind Weekly – Internal (Custom)\""), "who uses the list");
    assert!(
        table.contains(
            "which uses search lists \"Weak TLS & SSL Ciphers\", \"Published last 30 days – Windows\", excluded \
             \"Zürich Büro Accepted Risks\" (found by title)"
        ),
        "every list the profile names"
    );
    assert!(review.contains("IS\\_DEFAULT"), "the cleared default flag");
    assert!(review.contains("password brute forcing lists"));
    assert!(review.contains("scan restrictions"));
}

#[test]
fn a_criterion_qmig_cannot_read_makes_the_list_a_manual_step_naming_it() {
    let dynamic = "<DYNAMIC_SEARCH_LIST_OUTPUT><RESPONSE><DYNAMIC_LISTS><DYNAMIC_LIST><ID>42</ID>\
        <TITLE>Zero days</TITLE><GLOBAL>No</GLOBAL><CRITERIA><CONFIRMED_SEVERITY>5</CONFIRMED_SEVERITY>\
        <THREAT_PROTECTION>Zero Day, Public Exploit</THREAT_PROTECTION></CRITERIA></DYNAMIC_LIST></DYNAMIC_LISTS>\
        </RESPONSE></DYNAMIC_SEARCH_LIST_OUTPUT>";
    let export = export_with(&[("dynamic.xml", dynamic)]);
    let (run, dir) = run_program(export.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let manifest = fs::read_to_string(dir.path().join("bundle/manifest.json")).expect("manifest");
    assert!(!manifest.contains("\"search-list/Zero days\""), "never created with fewer criteria");
    let review = fs::read_to_string(dir.path().join("bundle/REVIEW.md")).expect("review");
    assert!(review.contains("THREAT\\_PROTECTION \"Zero Day, Public Exploit\""), "{review}");
    assert!(manifest.contains(Step::SearchListsByHand.id()));
}

#[test]
fn search_lists_the_target_will_not_have_stop_the_run_all_listed() {
    let export = export_with(&[("op.xml", PROFILE_USING_LISTS), ("lists.xml", &static_list("41", "Weak TLS"))]);
    let (run, dir) = run_program(export.path(), &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(!dir.path().join("bundle").exists(), "nothing is written");
    assert!(run.stderr.contains("1 reference(s) have no counterpart"), "{}", run.stderr);
    assert!(
        run.stderr.contains("search list titled Accepted Risks: used by VM option profile \"Weekly Internal\""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("\"Complete\" detection"), "{}", run.stderr);

    let target = export_with(&[("lists.xml", &static_list("9042", "Accepted Risks"))]);
    let target_dir = target.path().to_string_lossy().into_owned();
    let (run, _dir) = run_program(export.path(), &["--target-export", &target_dir]);
    assert_eq!(run.code, 0, "a list the target has satisfies the profile: {}", run.stderr);
}

#[test]
fn a_title_the_target_uses_for_another_kind_is_refused() {
    let export = export_with(&[("lists.xml", &static_list("41", "Weak TLS"))]);
    let dynamic = "<DYNAMIC_SEARCH_LIST_OUTPUT><RESPONSE><DYNAMIC_LISTS><DYNAMIC_LIST><ID>9001</ID>\
        <TITLE>Weak TLS</TITLE><GLOBAL>No</GLOBAL><CRITERIA/></DYNAMIC_LIST></DYNAMIC_LISTS></RESPONSE>\
        </DYNAMIC_SEARCH_LIST_OUTPUT>";
    let target = export_with(&[("dynamic.xml", dynamic)]);
    let target_dir = target.path().to_string_lossy().into_owned();
    let (run, _dir) = run_program(export.path(), &["--target-export", &target_dir]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("lists.xml:2 (ID 41, \"Weak TLS\"): static search list"), "{}", run.stderr);
    assert!(run.stderr.contains("dynamic search list 9001"), "{}", run.stderr);

    let profiles = PROFILE_USING_LISTS.replace("<CUSTOM_LIST>", "<X>").replace("</CUSTOM_LIST>", "</X>");
    let export = export_with(&[("op.xml", &profiles)]);
    let pc = profiles.replace("<GROUP_TYPE>user", "<GROUP_TYPE>compliance").replace("<ID>7<", "<ID>70<");
    let target = export_with(&[("op.xml", &pc)]);
    let target_dir = target.path().to_string_lossy().into_owned();
    let (run, _dir) = run_program(export.path(), &["--target-export", &target_dir]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("an option profile of type compliance (70)"), "{}", run.stderr);
}

#[test]
fn two_source_lists_or_profiles_of_one_title_are_refused() {
    let dynamic = "<DYNAMIC_SEARCH_LIST_OUTPUT><RESPONSE><DYNAMIC_LISTS><DYNAMIC_LIST><ID>42</ID>\
        <TITLE>Weak TLS</TITLE><GLOBAL>No</GLOBAL><CRITERIA><CATEGORY>Web server</CATEGORY></CRITERIA>\
        </DYNAMIC_LIST></DYNAMIC_LISTS></RESPONSE></DYNAMIC_SEARCH_LIST_OUTPUT>";
    let export = export_with(&[("static.xml", &static_list("41", "Weak TLS")), ("dynamic.xml", dynamic)]);
    let err = transform(export.path(), |_| {}).expect_err("one title, two lists");
    assert!(matches!(err, TransformError::SameTarget { .. }), "{err}");
    assert!(err.to_string().contains("static.xml:2") && err.to_string().contains("dynamic.xml:1"), "{err}");

    let profiles = PROFILE_USING_LISTS.replace("<CUSTOM_LIST>", "<X>").replace("</CUSTOM_LIST>", "</X>");
    let pci = profiles.replace("<GROUP_TYPE>user", "<GROUP_TYPE>pci").replace("<ID>7<", "<ID>8<");
    let export = export_with(&[("vm.xml", &profiles), ("pci.xml", &pci)]);
    let err = transform(export.path(), |_| {}).expect_err("one title, two profiles");
    assert!(matches!(err, TransformError::SameTarget { .. }), "{err}");
}
