//! The asset tags task: realistic hierarchies run against a model of the target's tag service,
//! the corpus response, bad input, and random trees.

#[path = "../common/mod.rs"]
mod common;
mod target;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use common::{corpus, fixture, transform, verified};
use proptest::prelude::*;
use qmig_schemas::{BundleContents, Request, Segment};
use qmig_transform::checklist::Step;
use qmig_transform::xml::escape;

use target::{CREATE, SEARCH, TagTarget};

/// Tags as `a / b / c` paths with their fields, sorted.
type Tree = Vec<(String, BTreeMap<String, String>)>;

/// The target's tags after the bundle ran, as `a / b / c` paths with their fields.
fn replayed(contents: &BundleContents, existing: &[&str]) -> (TagTarget, Tree) {
    let mut target = TagTarget::with_roots(existing);
    target.run(contents).expect("the target accepts every request");
    let paths = target.paths().into_iter().map(|(path, fields)| (path.join(" / "), fields)).collect();
    (target, paths)
}

fn tag_requests(contents: &BundleContents) -> Vec<&Request> {
    contents.manifest.requests.iter().filter(|r| r.task == "asset tags").collect()
}

fn body_text<'c>(contents: &'c BundleContents, request: &Request) -> &'c str {
    let file = &request.body.as_ref().expect("a body").file;
    let bytes = &contents.bodies.iter().find(|(f, _)| f == file).expect("body file").1;
    std::str::from_utf8(bytes).expect("UTF-8")
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

const TARGET_ROOTS: &[&str] = &["Asset Groups", "Business Units", "Cloud Agent"];

/// What the hierarchy fixture must become, besides the target's own roots.
fn expected_hierarchy() -> Tree {
    let s = |pairs: &[(&str, &str)]| fields(pairs);
    let mut expected = vec![
        ("Asset Groups".to_owned(), s(&[])),
        ("Business Units".to_owned(), s(&[])),
        ("Cloud Agent".to_owned(), s(&[])),
        ("Cloud Agent / Agents Berlin".to_owned(), s(&[("ruleType", "STATIC"), ("color", "#336699")])),
        (
            "Cloud Agent / Agents Berlin / Kreuzberg".to_owned(),
            s(&[("ruleType", "NAME_CONTAINS"), ("ruleText", "xb-")]),
        ),
        ("Cloud Agent / Agents Paris".to_owned(), s(&[("ruleType", "OS_REGEX"), ("ruleText", "^Windows")])),
        ("Imported Asset Search Tags".to_owned(), s(&[])),
        (
            "Imported Asset Search Tags / RDP open".to_owned(),
            s(&[
                ("ruleType", "ASSET_SEARCH"),
                ("ruleText", "<TAG_CRITERIA><OPEN_PORTS><PORT>3389</PORT></OPEN_PORTS></TAG_CRITERIA>"),
            ]),
        ),
        (
            "Imported Asset Search Tags / SMBv1".to_owned(),
            s(&[("ruleType", "ASSET_SEARCH"), ("ruleText", "<TAG_CRITERIA><QIDS>91234</QIDS></TAG_CRITERIA>")]),
        ),
        ("Ops".to_owned(), s(&[("ruleType", "STATIC")])),
        ("Ops / Linux".to_owned(), s(&[("ruleType", "OS_REGEX"), ("ruleText", "Linux")])),
        (
            "Ops / Windows ohne Patch".to_owned(),
            s(&[("ruleType", "GROOVY"), ("ruleText", "return asset.getOperatingSystem().contains(\"Windows\");")]),
        ),
        ("Ops / Windows ohne Patch / Kritisch".to_owned(), s(&[("ruleType", "STATIC"), ("criticalityScore", "5")])),
        ("Regions".to_owned(), s(&[("ruleType", "STATIC"), ("criticalityScore", "2")])),
        ("Regions / APAC".to_owned(), s(&[("ruleType", "STATIC")])),
        (
            "Regions / APAC / 東京".to_owned(),
            s(&[("ruleType", "GLOBAL_ASSET_VIEW"), ("ruleText", "asset.name:\"tyo-\"")]),
        ),
        ("Regions / APAC / 東京".to_owned(), s(&[("ruleType", "STATIC"), ("color", "#FF5722")])),
        ("Regions / EMEA".to_owned(), s(&[("ruleType", "STATIC")])),
        (
            "Regions / EMEA / France / Berlin".to_owned(),
            s(&[("ruleType", "STATIC"), ("description", "Rue de Berlin office")]),
        ),
        ("Regions / EMEA / France".to_owned(), s(&[("ruleType", "STATIC")])),
        (
            "Regions / EMEA / Germany".to_owned(),
            s(&[("ruleType", "STATIC"), ("description", "Standorte in Deutschland")]),
        ),
        (
            "Regions / EMEA / Germany / Berlin".to_owned(),
            s(&[("ruleType", "NETWORK_RANGE"), ("ruleText", "10.1.0.0-10.1.0.255")]),
        ),
        (
            "Regions / EMEA / Germany / Berlin / Floor 3".to_owned(),
            s(&[("ruleType", "NETWORK_RANGE"), ("ruleText", "10.1.0.20-10.1.0.21")]),
        ),
        ("Zürich".to_owned(), s(&[("ruleType", "STATIC")])),
        ("Σ Legacy".to_owned(), s(&[("ruleType", "GROOVY"), ("ruleText", "return false;")])),
        ("Σ Legacy / XP".to_owned(), s(&[("ruleType", "VULN_EXIST"), ("ruleText", "90043")])),
    ];
    expected.sort();
    expected
}

/// The model's tags without the tag set, whose rule holds target IDs checked on their own.
fn without_tag_set(paths: Tree) -> Tree {
    paths.into_iter().filter(|(path, _)| path != "Ops / Linux and Berlin").collect()
}

#[test]
fn a_realistic_hierarchy_arrives_whole_under_the_right_parents() {
    let contents = transform(&fixture("tags_hierarchy"), |_| {}).expect("transforms");
    verified(&contents);
    let (target, paths) = replayed(&contents, TARGET_ROOTS);
    assert_eq!(without_tag_set(paths), expected_hierarchy());

    // The tag set refers to the target's IDs of the tags it is made of.
    let tag_set = target.id_at(&["Ops", "Linux and Berlin"]).expect("the tag set exists");
    let linux = target.id_at(&["Ops", "Linux"]).expect("Linux");
    let berlin = target.id_at(&["Regions", "EMEA", "Germany", "Berlin"]).expect("Berlin");
    assert_eq!(
        target.tags[&tag_set].fields["ruleText"],
        format!("<TAG_SET><tagId>{linux}</tagId><tagId>{berlin}</tagId></TAG_SET>")
    );
}

#[test]
fn every_created_tag_id_is_captured() {
    let contents = transform(&fixture("tags_hierarchy"), |_| {}).expect("transforms");
    let (target, _) = replayed(&contents, TARGET_ROOTS);
    let created: Vec<u64> = target
        .tags
        .values()
        .filter(|t| !TARGET_ROOTS.contains(&t.name.as_str()) || t.parent.is_some())
        .map(|t| t.id)
        .collect();
    let captured: Vec<u64> = target
        .captures
        .iter()
        .filter(|(name, _)| name.starts_with("tag/") || name.starts_with("tag-children/"))
        .map(|(_, id)| id.parse().expect("a tag ID"))
        .collect();
    let mut captured_sorted = captured.clone();
    captured_sorted.sort_unstable();
    captured_sorted.dedup();
    assert_eq!(captured_sorted.len(), captured.len(), "a tag captured twice");
    assert_eq!(captured_sorted, created);
}

#[test]
fn a_subtree_too_large_for_one_request_is_created_in_parts() {
    let whole = transform(&fixture("tags_hierarchy"), |_| {}).expect("transforms");
    let parts = transform(&fixture("tags_hierarchy"), |args| args.tags_per_request = 2).expect("transforms");
    verified(&parts);
    let (_, paths) = replayed(&parts, TARGET_ROOTS);
    assert_eq!(without_tag_set(paths), expected_hierarchy());
    let creates = |contents: &BundleContents| tag_requests(contents).iter().filter(|r| r.path == CREATE).count();
    assert!(creates(&parts) > creates(&whole), "{} vs {}", creates(&parts), creates(&whole));
    for request in tag_requests(&parts).into_iter().filter(|r| r.path == CREATE) {
        let tags = body_text(&parts, request).matches("<Tag>").count();
        assert!(tags <= 2, "{} carries {tags} tags", request.id);
    }
    // A part names its parent by the ID captured when the parent was created.
    let floor = parts.manifest.requests.iter().find(|r| r.id == "tag/Regions / EMEA / Germany / Berlin / Floor 3");
    let slot = &floor.expect("Floor 3 on its own").body.as_ref().expect("body").slots[0];
    assert_eq!(slot.value, Segment::Capture("tag-children/Regions / EMEA / Germany/level-2#Berlin".to_owned()));
}

#[test]
fn system_tags_are_skipped_wherever_they_are_and_say_why() {
    let contents = transform(&fixture("tags_hierarchy"), |_| {}).expect("transforms");
    let skipped: BTreeMap<&str, &str> =
        contents.manifest.skipped.iter().map(|s| (s.object.as_str(), s.reason.as_str())).collect();
    for object in [
        "tag \"Business Units\"",
        "tag \"Business Units / Unassigned\"",
        "tag \"Asset Groups / Web Servers\"",
        "tag \"Malware Domain Assets / evil.example / cdn.evil.example\"",
        "tag \"Passive Sensor / Unmanaged\"",
    ] {
        assert!(skipped[object].contains("platform-managed"), "{object}: {}", skipped[object]);
    }
    assert!(skipped["tag \"Regions / EMEA / Germany / Web Servers\""].contains("srcAssetGroupId"));
    assert!(skipped["tag \"Cloud Agent\""].contains("created under the target's"));
    assert!(skipped["tag \"Asset Search Tags\""].contains("Imported Asset Search Tags"));
    assert_eq!(contents.manifest.skipped.iter().filter(|s| s.task == "asset tags").count(), 12);
    let tags = contents.manifest.tasks.iter().find(|t| t.task == "asset tags").expect("the task");
    assert_eq!(tags.source_objects, 35);
}

#[test]
fn the_operator_names_further_system_tags() {
    let contents =
        transform(&fixture("tags_hierarchy"), |args| args.system_tag = vec!["Zürich".to_owned()]).expect("ok");
    let skip = contents.manifest.skipped.iter().find(|s| s.object == "tag \"Zürich\"").expect("skipped");
    assert!(skip.reason.contains("--system-tag"), "{}", skip.reason);
    assert!(!tag_requests(&contents).iter().any(|r| r.id == "tag/Zürich"));
}

#[test]
fn groovy_and_tag_set_tags_come_after_every_other_tag() {
    let contents = transform(&fixture("tags_hierarchy"), |_| {}).expect("transforms");
    let ids: Vec<&str> = tag_requests(&contents).iter().map(|r| r.id.as_str()).collect();
    let last = [
        "tag/Ops / Linux and Berlin",
        "tag/Ops / Windows ohne Patch",
        "tag-children/Ops / Windows ohne Patch/level-2",
        "tag/Σ Legacy",
        "tag-children/Σ Legacy/level-2",
    ];
    let first_last = ids.iter().position(|id| last.contains(id)).expect("a deferred tag");
    assert_eq!(&ids[first_last..], &last, "{ids:?}");
    // The Groovy tag's static child goes with it.
    let groovy = contents.manifest.requests.iter().find(|r| r.id == "tag/Ops / Windows ohne Patch").expect("Groovy");
    assert!(body_text(&contents, groovy).contains("<name>Kritisch</name>"));

    let step =
        contents.manifest.manual_steps.iter().find(|s| s.id == Step::GroovyTagRules.id()).expect("the Groovy step");
    assert_eq!(step.items, ["Ops / Windows ohne Patch", "Σ Legacy"]);
    assert!(step.title.contains("Qualys Support"));
}

#[test]
fn cloud_agent_children_go_under_the_target_cloud_agent_tag_found_by_a_lookup() {
    let contents = transform(&fixture("tags_hierarchy"), |_| {}).expect("transforms");
    let requests = tag_requests(&contents);
    let lookup = requests[0];
    assert_eq!((lookup.id.as_str(), lookup.effect), ("tag-lookup/Cloud Agent", qmig_schemas::Effect::Read));
    assert!(
        body_text(&contents, lookup).contains(r#"<Criteria field="name" operator="EQUALS">Cloud Agent</Criteria>"#)
    );
    let berlin = requests.iter().find(|r| r.id == "tag/Cloud Agent / Agents Berlin").expect("re-parented");
    assert!(body_text(&contents, berlin).contains("<parentTagId>{{capture:tag-lookup/Cloud Agent#id}}</parentTagId>"));
}

/// A probe identifies the tag its request creates by name and parent: a tag of the same name
/// elsewhere in the target (a root "Compliance" against "Regulatory / Compliance") is not it.
#[test]
fn tag_probes_match_the_name_and_the_parent() {
    let contents = transform(&fixture("tags_hierarchy"), |_| {}).expect("transforms");
    let condition = |id: &str| {
        let request = contents.manifest.requests.iter().find(|r| r.id == id).expect(id);
        let exists = &request.probe.as_ref().expect("a probe").exists;
        let fields: Vec<(&str, &qmig_schemas::Value)> =
            exists.conditions.iter().map(|c| (c.field.as_str(), &c.equals)).collect();
        fields
    };
    let root = condition("tag/Regions");
    assert_eq!(root[0].0, "name");
    assert_eq!(root[1], ("parentTagId", &qmig_schemas::Value::Text(String::new())), "a root has no parent");
    let berlin = condition("tag/Cloud Agent / Agents Berlin");
    let parent = qmig_schemas::Value::Parts(vec![qmig_schemas::Segment::Capture("tag-lookup/Cloud Agent#id".into())]);
    assert_eq!(berlin[1], ("parentTagId", &parent));
}

#[test]
fn fields_are_stripped_to_what_the_create_takes_and_ranges_normalised() {
    let contents = transform(&fixture("tags_hierarchy"), |_| {}).expect("transforms");
    let regions = contents.manifest.requests.iter().find(|r| r.id == "tag/Regions").expect("Regions");
    let body = body_text(&contents, regions);
    for read_only in ["<id>", "<created>", "<modified>", "tagUuid", "reEvalStatus", "srcAssetGroupId", "<list>"] {
        assert!(!body.contains(read_only), "{read_only} in {body}");
    }
    let floor = contents.manifest.losses.iter().find(|l| l.object.ends_with("Floor 3\"")).expect("the range note");
    assert_eq!(floor.fields, ["ruleText"]);
    assert!(
        floor.reason.contains("`10.1.0.21, 10.1.0.20,10.1.0.21`") && floor.reason.contains("`10.1.0.20-10.1.0.21`")
    );
}

#[test]
fn siblings_sharing_a_name_are_created_apart_and_told_apart() {
    let contents = transform(&fixture("tags_hierarchy"), |_| {}).expect("transforms");
    let ids: Vec<&str> = tag_requests(&contents).iter().map(|r| r.id.as_str()).collect();
    assert!(ids.contains(&"tag/Regions / APAC / 東京 [90030]"), "{ids:?}");
    let twin = contents.manifest.requests.iter().find(|r| r.id == "tag/Regions / APAC / 東京 [90030]").expect("twin");
    assert!(twin.probe.is_none(), "a probe by name could find the sibling");
    // The same name under different parents needs nothing special.
    assert!(!ids.iter().any(|id| id.contains("Berlin [")), "{ids:?}");
}

#[test]
fn embedded_network_ids_are_remapped_and_the_others_flagged() {
    let contents = transform(&fixture("tags_rule_ids"), |_| {}).expect("transforms");
    verified(&contents);
    let request = contents.manifest.requests.iter().find(|r| r.id == "tag/Corp East ranges").expect("the tag");
    let body = body_text(&contents, request);
    assert!(body.contains(r#"&lt;RANGE network=&quot;{{capture:network/Corp East#id}}&quot; type"#), "{body}");
    assert!(body.contains(r#"&lt;RANGE network=&quot;0&quot;"#), "{body}");
    let (target, _) = replayed(&contents, &[]);
    let id = target.id_at(&["Corp East ranges"]).expect("created");
    let network = &target.captures["network/Corp East#id"];
    assert!(target.tags[&id].fields["ruleText"].contains(&format!("network=\"{network}\"")));

    let warnings: Vec<&str> = contents.manifest.warnings.iter().map(|w| w.message.as_str()).collect();
    let about = |needle: &str| warnings.iter().any(|w| w.contains(needle));
    assert!(about("names network 2207"), "{warnings:?}");
    assert!(about("names asset group 3101"), "{warnings:?}");
    assert!(about("tag \"By network\": its GROOVY rule mentions networks"), "{warnings:?}");
}

#[test]
fn tags_the_target_export_shows_are_mapped_not_created() {
    let base = fixture("tags_target_export");
    let contents = transform(&base.join("source"), |args| args.target_export = Some(base.join("target"))).expect("ok");
    verified(&contents);
    let requests = tag_requests(&contents);
    let ids: Vec<&str> = requests.iter().map(|r| r.id.as_str()).collect();
    // No lookup of the Cloud Agent tag: the target export names it.
    assert_eq!(ids, ["tag/Environments / Production / Web [107]", "tag/Cloud Agent / Linux"]);
    // Of two siblings sharing a name, the first is the target's one; the second is created.
    let web = body_text(&contents, requests[0]);
    assert!(web.contains("<name>Web</name><ruleType>STATIC</ruleType><parentTagId>802</parentTagId>"), "{web}");
    assert!(body_text(&contents, requests[1]).contains("<parentTagId>777</parentTagId>"));
    let skipped: BTreeMap<&str, &str> =
        contents.manifest.skipped.iter().map(|s| (s.object.as_str(), s.reason.as_str())).collect();
    assert_eq!(skipped["tag \"Environments / Production\""], "already in the target as tag 802 (target export)");
    assert_eq!(
        skipped["tag \"Environments / Production / Web [105]\""],
        "already in the target as tag 804 (target export)"
    );
}

#[test]
fn the_corpus_tag_response_transforms() {
    let contents = transform(&corpus("qps_tag_response"), |_| {}).expect("transforms");
    verified(&contents);
    let (_, paths) = replayed(&contents, &[]);
    let names: Vec<&str> = paths.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(names, ["parent_tag", "parent_tag / child_1", "parent_tag / child_2", "parent_tag / child_3"]);
    assert_eq!(paths[0].1, fields(&[("ruleType", "INSTALLED_SOFTWARE"), ("criticalityScore", "3")]));
    // The children are known only from the parent's list: what they lose is said.
    let losses: Vec<&str> = contents.manifest.losses.iter().map(|l| l.object.as_str()).collect();
    assert_eq!(
        losses,
        ["tag \"parent_tag / child_1\"", "tag \"parent_tag / child_2\"", "tag \"parent_tag / child_3\""]
    );
}

#[test]
fn a_missing_search_page_is_refused_naming_the_file_and_the_next_id() {
    let err = transform(&fixture("tags_missing_page"), |_| {}).expect_err("refused").to_string();
    assert!(err.contains("tags_page1.xml") && err.contains("GREATER\">4100<"), "{err}");
}

#[test]
fn a_failed_qps_response_is_refused_like_an_error_return() {
    let err = transform(&fixture("tags_qps_error"), |_| {}).expect_err("refused").to_string();
    assert!(
        err.contains("tags.xml") && err.contains("INVALID_CREDENTIALS") && err.contains("Authentication failed"),
        "{err}"
    );
}

#[test]
fn other_qps_responses_are_listed_not_read_as_tags() {
    let contents = transform(&fixture("tags_other_qps"), |_| {}).expect("transforms");
    let listed: Vec<(&str, &str)> =
        contents.manifest.unrecognised.iter().map(|u| (u.path.as_str(), u.reason.as_str())).collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed[0].0 == "hostassets.xml" && listed[0].1.contains("HostAsset"), "{listed:?}");
    assert!(listed[1].0 == "webapps_empty.xml" && listed[1].1.contains("webapp.xsd"), "{listed:?}");
    assert_eq!(tag_requests(&contents).len(), 1);
}

#[test]
fn parents_that_disagree_are_refused_naming_the_tag() {
    let err = transform(&fixture("tags_inconsistent"), |_| {}).expect_err("refused").to_string();
    assert!(err.starts_with("tags.xml:23"), "{err}");
    assert!(err.contains("tag 6003 \"Moved\"") && err.contains("tag 6001 \"Old parent\""), "{err}");
}

#[test]
fn lookups_search_under_the_captured_parents() {
    let contents = transform(&fixture("tags_hierarchy"), |_| {}).expect("transforms");
    let mut searches = 0;
    for request in tag_requests(&contents).into_iter().filter(|r| r.id.starts_with("tag-children/")) {
        searches += 1;
        assert_eq!((request.path.as_str(), request.effect), (SEARCH, qmig_schemas::Effect::Read));
        let slots = &request.body.as_ref().expect("body").slots;
        let operator = if slots.len() > 1 { "IN" } else { "EQUALS" };
        let criteria = format!("<Criteria field=\"parent\" operator=\"{operator}\">{{{{capture:");
        assert!(body_text(&contents, request).contains(&criteria), "{}", request.id);
    }
    // Regions (4 levels below it), Ops, Ops / Windows ohne Patch, Σ Legacy, Imported Asset
    // Search Tags, Cloud Agent / Agents Berlin.
    assert_eq!(searches, 9);
}

/// Every level of a create's subtree is read back by one search below all of the level's
/// parents, and same-named tags under two parents get captures of their own.
#[test]
fn a_subtree_is_read_back_by_one_search_per_level() {
    let records = [
        (1, "Sites", None),
        (2, "Berlin", Some(1)),
        (3, "Paris", Some(1)),
        (4, "Office", Some(2)),
        (5, "Lab", Some(2)),
        (6, "Office", Some(3)),
        (7, "Lab", Some(3)),
    ]
    .map(|(id, name, parent)| Record {
        id,
        name: name.to_owned(),
        parent,
        fields: vec![("ruleType", "STATIC".into())],
    });
    let dir = tempfile::tempdir().expect("tempdir");
    write_pages(dir.path(), records.into(), 1);
    let contents = transform(dir.path(), |_| {}).expect("transforms");
    verified(&contents);
    let searches: Vec<&Request> =
        tag_requests(&contents).into_iter().filter(|r| r.id.starts_with("tag-children/")).collect();
    let ids: Vec<&str> = searches.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["tag-children/Sites/level-2", "tag-children/Sites/level-3"]);
    let level_3 = body_text(&contents, searches[1]);
    let criteria = "<Criteria field=\"parent\" operator=\"IN\">\
                    {{capture:tag-children/Sites/level-2#Berlin}},{{capture:tag-children/Sites/level-2#Paris}}</Criteria>";
    assert!(level_3.contains(criteria), "{level_3}");

    let (target, _) = replayed(&contents, &[]);
    let captured: BTreeMap<&str, u64> = searches
        .iter()
        .flat_map(|search| &search.captures)
        .map(|capture| (capture.name.as_str(), target.captures[&capture.name].parse().expect("a tag ID")))
        .collect();
    let at = |path: &[&str]| target.id_at(path).expect("created");
    let expected = BTreeMap::from([
        ("tag-children/Sites/level-2#Berlin", at(&["Sites", "Berlin"])),
        ("tag-children/Sites/level-2#Paris", at(&["Sites", "Paris"])),
        ("tag-children/Sites/level-3#Berlin / Lab", at(&["Sites", "Berlin", "Lab"])),
        ("tag-children/Sites/level-3#Berlin / Office", at(&["Sites", "Berlin", "Office"])),
        ("tag-children/Sites/level-3#Paris / Lab", at(&["Sites", "Paris", "Lab"])),
        ("tag-children/Sites/level-3#Paris / Office", at(&["Sites", "Paris", "Office"])),
    ]);
    assert_eq!(captured, expected);
}

// Random trees: every tag that is not the platform's arrives once, under the right path, with
// its fields intact, whatever the page split, the ID order and the subtree limit.

const NAMES: &[&str] = &["Web", "DB", "Zürich", "東京", "R&D <lab>", "Web"];
const RULES: &[(&str, &str)] = &[
    ("STATIC", ""),
    ("NAME_CONTAINS", "srv-"),
    ("OS_REGEX", "^Linux"),
    ("GROOVY", "return asset.isHostAsset();"),
    ("GLOBAL_ASSET_VIEW", "operatingSystem.category1:`Windows`"),
    ("VULN_EXIST", "38170"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Root,
    CloudAgent,
    AssetSearch,
}

#[derive(Debug, Clone)]
struct UserTag {
    name: &'static str,
    parent: Option<usize>,
    place: Place,
    rule: (&'static str, &'static str),
    color: Option<String>,
    score: Option<u8>,
    description: Option<&'static str>,
    mirror: bool,
}

fn user_tags() -> impl Strategy<Value = Vec<UserTag>> {
    let tag = (
        prop::sample::select(NAMES),
        any::<prop::sample::Index>(),
        prop::sample::select(vec![Place::Root, Place::Root, Place::CloudAgent, Place::AssetSearch]),
        0..5u8,
        prop::sample::select(RULES),
        prop::option::of(0u32..0xFF_FFFF),
        prop::option::of(1u8..=5),
        prop::option::of(prop::sample::select(vec!["Frankfurt & Köln", "Rack 7 <B>"])),
        prop::bool::weighted(0.1),
    );
    prop::collection::vec(tag, 1..30).prop_map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(i, (name, parent, place, root_odds, rule, color, score, description, mirror))| UserTag {
                name,
                parent: (i > 0 && root_odds > 0).then(|| parent.index(i)),
                place,
                rule,
                color: color.map(|c| format!("#{c:06X}")),
                score,
                description,
                mirror,
            })
            .collect()
    })
}

/// One source record: its ID, name, parent ID, extra fields, in the export's own form.
struct Record {
    id: u64,
    name: String,
    parent: Option<u64>,
    fields: Vec<(&'static str, String)>,
}

/// The export's records, and what the target must hold afterwards (paths and fields).
fn scenario(tags: &[UserTag], system: &[(&'static str, usize)], ids: &[u64]) -> (Vec<Record>, Tree) {
    let mut records = Vec::new();
    let mut ids = ids.iter().copied();
    let mut add = |name: &str, parent: Option<u64>, fields: Vec<(&'static str, String)>| {
        let id = ids.next().expect("enough IDs");
        records.push(Record { id, name: name.to_owned(), parent, fields });
        id
    };
    for &(name, children) in system {
        let root = add(name, None, Vec::new());
        for child in 0..children {
            let child =
                add(&format!("{name} {child}"), Some(root), vec![("srcAssetGroupId", (300 + child).to_string())]);
            add("below", Some(child), Vec::new());
        }
    }
    let cloud_agent = add("Cloud Agent", None, Vec::new());
    let asset_search = add("Asset Search Tags", None, Vec::new());
    let mut expected = vec![("Cloud Agent".to_owned(), BTreeMap::new())];
    let mut tag_ids: Vec<u64> = Vec::new();
    // Each tag's path in the target followed by " / ", `None` below a platform mirror.
    let mut prefixes: Vec<Option<String>> = Vec::new();
    for tag in tags {
        let (parent, prefix) = match (tag.parent, tag.place) {
            (Some(parent), _) => (Some(tag_ids[parent]), prefixes[parent].clone()),
            (None, Place::Root) => (None, Some(String::new())),
            (None, Place::CloudAgent) => (Some(cloud_agent), Some("Cloud Agent / ".to_owned())),
            (None, Place::AssetSearch) => (Some(asset_search), Some("Imported Asset Search Tags / ".to_owned())),
        };
        let mut fields = vec![("ruleType", tag.rule.0.to_owned())];
        if !tag.rule.1.is_empty() {
            fields.push(("ruleText", tag.rule.1.to_owned()));
        }
        fields.extend(tag.color.clone().map(|c| ("color", c)));
        fields.extend(tag.score.map(|s| ("criticalityScore", s.to_string())));
        fields.extend(tag.description.map(|d| ("description", d.to_owned())));
        let wanted: BTreeMap<String, String> = fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        if tag.mirror {
            fields.push(("srcAssetGroupId", "999".to_owned()));
        }
        tag_ids.push(add(tag.name, parent, fields));
        let path = prefix.filter(|_| !tag.mirror).map(|prefix| format!("{prefix}{}", tag.name));
        if let Some(path) = &path {
            expected.push((path.clone(), wanted));
        }
        prefixes.push(path.map(|p| format!("{p} / ")));
    }
    if expected.iter().any(|(path, _)| path.starts_with("Imported Asset Search Tags / ")) {
        expected.push(("Imported Asset Search Tags".to_owned(), BTreeMap::new()));
    }
    expected.sort();
    (records, expected)
}

/// Writes the records as `pages` tag search pages, each page's IDs above the previous page's.
fn write_pages(dir: &Path, mut records: Vec<Record>, pages: usize) {
    records.sort_by_key(|r| r.id);
    let children = |id: u64| records.iter().filter(move |r| r.parent == Some(id));
    let size = records.len().div_ceil(pages.max(1)).max(1);
    let chunks: Vec<&[Record]> = records.chunks(size).collect();
    for (number, chunk) in chunks.iter().enumerate() {
        let more = number + 1 < chunks.len();
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceResponse>\n");
        let _ = writeln!(xml, "<responseCode>SUCCESS</responseCode><count>{}</count>", chunk.len());
        let _ = writeln!(xml, "<hasMoreRecords>{more}</hasMoreRecords>");
        if more {
            let _ = writeln!(xml, "<lastId>{}</lastId>", chunk.last().expect("a record").id);
        }
        xml.push_str("<data>\n");
        for record in *chunk {
            let _ = write!(xml, "<Tag><id>{}</id><name>{}</name>", record.id, escape(&record.name));
            if let Some(parent) = record.parent {
                let _ = write!(xml, "<parentTagId>{parent}</parentTagId>");
            }
            xml.push_str("<created>2025-01-02T03:04:05Z</created>");
            for (field, value) in &record.fields {
                let _ = write!(xml, "<{field}>{}</{field}>", escape(value));
            }
            let listed: Vec<&Record> = children(record.id).collect();
            if !listed.is_empty() {
                xml.push_str("<children><list>");
                for child in listed {
                    let _ =
                        write!(xml, "<TagSimple><id>{}</id><name>{}</name></TagSimple>", child.id, escape(&child.name));
                }
                xml.push_str("</list></children>");
            }
            xml.push_str("</Tag>\n");
        }
        xml.push_str("</data>\n</ServiceResponse>\n");
        std::fs::write(dir.join(format!("tags_{number}.xml")), xml).expect("write page");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_user_tag_arrives_once_under_its_path_with_its_fields(
        tags in user_tags(),
        business_units in 0usize..3,
        malware in 0usize..3,
        pages in 1usize..4,
        limit in 1usize..6,
        // IDs in an order unrelated to the hierarchy: parents may have higher IDs than children.
        ids in Just((0..64u64).map(|i| 10_000 + 37 * i).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let system = [("Business Units", business_units), ("Malware Domain Assets", malware)];
        let (records, expected) = scenario(&tags, &system, &ids);
        let dir = tempfile::tempdir().expect("tempdir");
        write_pages(dir.path(), records, pages);
        let contents = transform(dir.path(), |args| args.tags_per_request = limit).expect("transforms");
        let files: BTreeMap<String, Vec<u8>> = contents.bodies.iter().cloned().collect();
        let listed = files.keys().map(String::as_str).collect();
        qmig_schemas::verify::check_manifest(&contents.manifest, &listed, &files).expect("references resolve in order");
        let (_, paths) = replayed(&contents, &["Cloud Agent"]);
        prop_assert_eq!(paths, expected);
    }
}
