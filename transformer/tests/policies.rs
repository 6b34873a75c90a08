//! Compliance policies through the program: the sample's imports and scope calls, and the
//! traps (an asset group without IP, scope references the target will not have, a title the
//! target already has).

mod common;

use std::fs;

use common::{cli, export_with, param, sample, verified};
use qmig_transform::checklist::Step;

const GROUPS: &str = "<ASSET_GROUP_LIST_OUTPUT><RESPONSE><ASSET_GROUP_LIST>\n\
    <ASSET_GROUP><ID>3</ID><TITLE>Web</TITLE><IP_SET><IP>10.0.0.1</IP></IP_SET></ASSET_GROUP>\n\
    <ASSET_GROUP><ID>5</ID><TITLE>Names only</TITLE><DNS_LIST><DNS>a.example</DNS></DNS_LIST></ASSET_GROUP>\n\
    </ASSET_GROUP_LIST></RESPONSE></ASSET_GROUP_LIST_OUTPUT>";

fn policy_list(id: &str, title: &str, scope: &str) -> String {
    format!(
        "<POLICY_LIST_OUTPUT><RESPONSE><POLICY_LIST>\n<POLICY><ID>{id}</ID><TITLE>{title}</TITLE>{scope}</POLICY>\n\
         </POLICY_LIST></RESPONSE></POLICY_LIST_OUTPUT>"
    )
}

fn policy_export(title: &str) -> String {
    format!(
        "<POLICY_EXPORT_OUTPUT><RESPONSE><POLICY><TITLE>{title}</TITLE><SECTIONS><SECTION><CONTROLS><CONTROL>\
         <ID>1071</ID></CONTROL></CONTROLS></SECTION></SECTIONS></POLICY></RESPONSE></POLICY_EXPORT_OUTPUT>"
    )
}

#[test]
fn the_sample_policies_are_imported_after_their_scope_objects_and_scoped_without_evaluation() {
    let contents = sample();
    verified(contents);
    let requests = &contents.manifest.requests;
    let position = |id: &str| requests.iter().position(|r| r.id == id).unwrap_or_else(|| panic!("no {id}"));
    let cis = position("policy/CIS Benchmark for Linux & Unix #1");
    let cis_groups = position("policy-asset-groups/CIS Benchmark for Linux & Unix #1");
    let pci_tags = position("policy-asset-tags/PCI DSS v4.0 – Windows Production");
    let last_profile = requests.iter().rposition(|r| r.task == "option profiles").expect("profiles");
    let last_tag = requests.iter().rposition(|r| r.task == "asset tags").expect("tags");
    assert!(last_profile < cis && last_tag < cis && cis < cis_groups, "card §9 order");

    let import = &requests[cis];
    assert_eq!(param(import, "title").as_deref(), Some("CIS Benchmark for Linux & Unix #1"));
    assert_eq!(param(import, "create_user_controls").as_deref(), Some("1"));
    assert_eq!(import.body.as_ref().expect("the exported policy").content_type, "text/xml");
    let groups = param(&requests[cis_groups], "asset_group_ids").expect("groups");
    assert_eq!(groups.matches("{{capture:asset-group/").count(), 3, "3101,3103-3104 expanded: {groups}");
    let tags = &requests[pci_tags];
    assert_eq!(param(tags, "tag_set_by").as_deref(), Some("id"));
    assert!(param(tags, "tag_set_exclude").is_some(), "the exclude set is kept");
    let scope_calls = requests.iter().filter(|r| r.task == "compliance policies" && r.id.starts_with("policy-"));
    for call in scope_calls {
        assert_eq!(param(call, "evaluate_now").as_deref(), Some("0"), "{}", call.id);
    }
    let evaluation = requests.iter().find(|r| r.id == "policy-evaluation/PCI DSS v4.0 – Windows Production");
    let evaluation = evaluation.expect("the cutover evaluates the policy");
    assert_eq!((evaluation.task.as_str(), evaluation.phase), ("cutover", qmig_schemas::Phase::Cutover));
    assert_eq!(param(evaluation, "evaluate_now").as_deref(), Some("1"));
    assert_eq!(param(evaluation, "tag_set_exclude"), param(tags, "tag_set_exclude"), "the same scope");
    let review = &contents.review;
    assert!(review.contains("owner, CREATED, LAST\\_MODIFIED, exceptions, IS\\_LOCKED"), "the locked policy's losses");
}

#[test]
fn an_asset_group_without_ip_is_left_out_and_listed_in_the_checklist() {
    let list = policy_list("9", "Names", "<ASSET_GROUP_IDS>3,5</ASSET_GROUP_IDS>");
    let export = export_with(&[("groups.xml", GROUPS), ("policies.xml", &list), ("p9.xml", &policy_export("Names"))]);
    let dir = tempfile::tempdir().expect("tempdir");
    let run = cli(export.path(), &dir.path().join("bundle"), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let manifest = fs::read_to_string(dir.path().join("bundle/manifest.json")).expect("manifest");
    assert!(manifest.contains(Step::PolicyScopeGroups.id()), "{manifest}");
    let review = fs::read_to_string(dir.path().join("bundle/REVIEW.md")).expect("review");
    assert!(review.contains("asset group \"Names only\" (5) in compliance policy \"Names\""), "{review}");
}

#[test]
fn scope_references_the_target_will_not_have_stop_the_run_all_listed() {
    let scope = "<ASSET_GROUP_IDS>3,40-41</ASSET_GROUP_IDS><TAG_SET_EXCLUDE><TAG_ID>98</TAG_ID></TAG_SET_EXCLUDE>";
    let list = policy_list("9", "Scoped", scope);
    let export = export_with(&[("groups.xml", GROUPS), ("policies.xml", &list), ("p9.xml", &policy_export("Scoped"))]);
    let dir = tempfile::tempdir().expect("tempdir");
    let run = cli(export.path(), &dir.path().join("bundle"), &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(!dir.path().join("bundle").exists(), "nothing is written");
    assert!(run.stderr.contains("3 reference(s) have no counterpart"), "{}", run.stderr);
    for reference in ["asset group 40", "asset group 41", "tag 98"] {
        assert!(
            run.stderr.contains(&format!("{reference}: used by compliance policy \"Scoped\"")),
            "{reference}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_title_the_target_has_is_used_never_imported_again() {
    let list = policy_list("9", "CIS", "<ASSET_GROUP_IDS>3</ASSET_GROUP_IDS>");
    let export = export_with(&[("groups.xml", GROUPS), ("policies.xml", &list), ("p9.xml", &policy_export("CIS"))]);
    let target = export_with(&[("policies.xml", &policy_list("900", "CIS", ""))]);
    let dir = tempfile::tempdir().expect("tempdir");
    let target_dir = target.path().to_string_lossy().into_owned();
    let run = cli(export.path(), &dir.path().join("bundle"), &["--target-export", &target_dir]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let manifest = fs::read_to_string(dir.path().join("bundle/manifest.json")).expect("manifest");
    assert!(!manifest.contains("\"policy/CIS\"") && !manifest.contains("policy-asset-groups/"), "{manifest}");
    let review = fs::read_to_string(dir.path().join("bundle/REVIEW.md")).expect("review");
    assert!(review.contains("already in the target as compliance policy 900"), "{review}");
}
