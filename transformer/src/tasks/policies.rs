//! Core task: Compliance policies, with their asset-group and tag scope.
//!
//! Sources:
//! - `POLICY_LIST_OUTPUT` (`/api/2.0/fo/compliance/policy/?action=list&details=Basic`, paged with
//!   `WARNING`/`URL`): ID, TITLE and the scope: ASSET_GROUP_IDS ("1,3-5"), TAG_SET_INCLUDE and
//!   TAG_SET_EXCLUDE (TAG_ID), TAG_INCLUDE_SELECTOR, TAG_EXCLUDE_SELECTOR, STATUS, IS_LOCKED.
//! - `POLICY_EXPORT_OUTPUT`, one per policy (`?action=export&id=N&show_user_controls=1
//!   &show_appendix=0`): the controls. An export carries no scope.
//!
//! Rules:
//! - Each export is tied to its list row by ID when the export has one, else by title; an export
//!   no row claims, a row without export and two exports of one row stop the transformation.
//! - One import per policy (`?action=import&title=...&create_user_controls=1`, the policy in a
//!   `POLICY_EXPORT_OUTPUT` body sent as `text/xml`), so its new ID is captured
//!   (`RefKind::Policy`, which the cutover's evaluation uses). The appendix is never sent: an
//!   export captured with it has it removed (Qualys refuses to import it).
//! - A title the target already has is mapped to the target's policy, whose controls and scope
//!   are kept: never imported twice. The probe lists the target's policies and compares titles
//!   exactly.
//! - The scope is set again on the new policy, always with `evaluate_now=0` (evaluation is the
//!   cutover's): asset groups (`set_asset_group_ids`, ranges expanded, IDs remapped) and tags
//!   (`set_asset_tags`, `tag_set_by=id`, include and exclude sets with their selectors, which
//!   Qualys's own scripts lose). Every unresolved group or tag stops the run, all listed at once.
//! - Evaluation is the cutover's ([`evaluations`]): the policy's scope call is sent again with
//!   `evaluate_now=1`, the documented way to start an evaluation, in the bundle's cutover phase.
//! - Qualys refuses an asset group without any IP in a policy's scope: such a source group is left
//!   out and listed in the checklist (it covers no host, so the evaluation is the same).
//! - What no API call sets is a loss in the review: owner and dates, exceptions, the locked flag
//!   and an inactive status (UNVERIFIED: no parameter is documented for either).
//!
//! The v2 list's scope elements beyond ASSET_GROUP_IDS and the tag sets are UNVERIFIED, so are
//! the export's ID element and the locked/active flags: absent ones are read as "none".

use std::collections::BTreeMap;

use qmig_schemas::{Effect, Extract, SourceRef, Value};

use crate::checklist::Step;
use crate::context::Context;
use crate::error::TransformError;
use crate::export::{Kind, Record};
use crate::plan::{Draft, DraftBody, DraftProbe, Field, RefKind, Refs, Target, TaskOutput, join_segments, object_id};
use crate::tasks::asset_groups::{self, AssetGroup};

pub const TASK: &str = "compliance policies";
pub const PATH: &str = "/api/2.0/fo/compliance/policy/";
const GROUP_HINT: &str = "export the asset group in the asset group list (the asset groups task creates it), or \
                          capture the target's asset groups into --target-export";
const TAG_HINT: &str = "export the tag in the tag search (the asset tags task creates it), or capture the target's \
                        tags into --target-export";

/// A policy as the source lists it, with its exported body.
#[derive(Debug, Clone)]
pub struct Policy<'a> {
    pub id: &'a str,
    pub title: &'a str,
    /// Source asset group IDs, ranges expanded, in order.
    pub asset_group_ids: Vec<String>,
    pub include: TagSet<'a>,
    pub exclude: TagSet<'a>,
    pub record: Record<'a>,
}

/// One side of a policy's tag scope.
#[derive(Debug, Clone, Default)]
pub struct TagSet<'a> {
    pub tag_ids: Vec<&'a str>,
    /// `any` or `all`, as the source lists it.
    pub selector: Option<&'a str>,
}

impl<'a> TagSet<'a> {
    fn parse(record: &Record<'a>, set: &str, selector: &str, object: &str) -> Result<TagSet<'a>, TransformError> {
        let tag_ids: Vec<&str> = record.element.all(&format!("{set}/TAG_ID")).map(|t| t.value()).collect();
        let selector = record.text(selector);
        if let Some(value) = selector.filter(|s| !matches!(*s, "any" | "all")) {
            return Err(record.invalid(object, format!("{set}'s selector is \"{value}\"; Qualys writes any or all")));
        }
        Ok(TagSet { tag_ids, selector })
    }
}

impl<'a> Policy<'a> {
    pub fn parse(record: Record<'a>) -> Result<Policy<'a>, TransformError> {
        let id = record.text("ID").ok_or_else(|| record.invalid("compliance policy", "has no ID"))?;
        let title =
            record.text("TITLE").ok_or_else(|| record.invalid(&format!("compliance policy {id}"), "has no TITLE"))?;
        let object = format!("compliance policy \"{title}\"");
        let asset_group_ids = match record.text("ASSET_GROUP_IDS") {
            Some(ranges) => expand_ranges(ranges).map_err(|problem| record.invalid(&object, problem))?,
            None => Vec::new(),
        };
        let include = TagSet::parse(&record, "TAG_SET_INCLUDE", "TAG_INCLUDE_SELECTOR", &object)?;
        let exclude = TagSet::parse(&record, "TAG_SET_EXCLUDE", "TAG_EXCLUDE_SELECTOR", &object)?;
        Ok(Policy { id, title, asset_group_ids, include, exclude, record })
    }

    fn object(&self) -> String {
        format!("compliance policy \"{}\"", self.title)
    }

    fn source(&self) -> SourceRef {
        self.record.source(Some(self.id), Some(self.title))
    }
}

/// The most asset group IDs one run of `ASSET_GROUP_IDS` may stand for.
const MAX_RUN: u64 = 100_000;

/// `ASSET_GROUP_IDS` as Qualys writes it ("1,3-5") as single IDs.
fn expand_ranges(ranges: &str) -> Result<Vec<String>, String> {
    let invalid = || format!("ASSET_GROUP_IDS \"{ranges}\" is not a list of IDs and ID ranges (\"1,3-5\")");
    let mut ids = Vec::new();
    for part in ranges.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (low, high) = part.split_once('-').unwrap_or((part, part));
        let low: u64 = low.trim().parse().map_err(|_| invalid())?;
        let high: u64 = high.trim().parse().map_err(|_| invalid())?;
        if low > high {
            return Err(invalid());
        }
        // A run stands for consecutive existing groups; a wider one is a damaged capture, and
        // expanding it would exhaust memory.
        if high - low >= MAX_RUN {
            return Err(format!("ASSET_GROUP_IDS \"{ranges}\" has a run of more than {MAX_RUN} IDs ({part})"));
        }
        ids.extend((low..=high).map(|id| id.to_string()));
    }
    Ok(ids)
}

pub fn plan(ctx: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let policies: Vec<Policy<'_>> =
        ctx.export.records(Kind::PolicyList).map(Policy::parse).collect::<Result<_, _>>()?;
    let bodies = tie_exports(ctx, &policies)?;
    let existing = existing_in_target(ctx)?;
    let names = ScopeNames::load(ctx)?;
    let mut left_out = Vec::new();
    for (policy, body) in policies.iter().zip(bodies) {
        out.source_objects += 1;
        if let Some(target_id) = existing.get(policy.title) {
            refs.set(RefKind::Policy, policy.id, Target::Known((*target_id).to_owned()));
            let reason = format!(
                "already in the target as compliance policy {target_id} (target export); its controls and scope \
                 there are kept"
            );
            out.skip(policy.object(), reason, Some(policy.source()));
            continue;
        }
        list_losses(policy, &mut out);
        let draft = import(policy, body, &mut out);
        let new_id = Target::captured(&draft.id, Field::Id);
        refs.set(RefKind::Policy, policy.id, new_id.clone());
        out.request(draft);
        if let Some(draft) = asset_group_scope(policy, &new_id, &names, refs, &mut left_out) {
            out.request(draft);
        }
        if let Some(draft) = tag_scope(policy, &new_id, &names, refs) {
            out.request(draft);
        }
    }
    if !left_out.is_empty() {
        out.step(Step::PolicyScopeGroups, left_out);
    }
    Ok(out)
}

/// The cutover's evaluation of every policy this bundle imports with a scope: its last scope
/// call again, unchanged but for `evaluate_now=1`. A policy without scope covers no host.
pub fn evaluations(ctx: &Context<'_>, refs: &mut Refs) -> Result<Vec<Draft>, TransformError> {
    let names = ScopeNames::load(ctx)?;
    let mut drafts = Vec::new();
    for record in ctx.export.records(Kind::PolicyList) {
        let policy = Policy::parse(record)?;
        let Some(new_id @ Target::Captured(_)) = refs.get(RefKind::Policy, policy.id).cloned() else { continue };
        let scope = tag_scope(&policy, &new_id, &names, refs)
            .or_else(|| asset_group_scope(&policy, &new_id, &names, refs, &mut Vec::new()));
        let Some(mut draft) = scope else { continue };
        draft.id = object_id("policy-evaluation", policy.title);
        draft.summary = format!("Evaluate {} (its scope sent again with evaluate_now=1)", policy.object());
        draft.params.retain(|p| p.name != "evaluate_now");
        drafts.push(draft.param("evaluate_now", "1").cutover());
    }
    Ok(drafts)
}

/// The exported `POLICY` of each listed policy, in list order.
fn tie_exports<'a>(ctx: &Context<'a>, policies: &[Policy<'a>]) -> Result<Vec<Record<'a>>, TransformError> {
    let mut tied: BTreeMap<usize, Record<'a>> = BTreeMap::new();
    for export in ctx.export.records(Kind::PolicyExport) {
        let object = format!("compliance policy export \"{}\"", export.text("TITLE").unwrap_or("(no TITLE)"));
        let row = match export.text("ID") {
            Some(id) => policies.iter().position(|p| p.id == id),
            None => {
                let title = export.text("TITLE").ok_or_else(|| export.invalid(&object, "has neither ID nor TITLE"))?;
                policies.iter().position(|p| p.title == title)
            }
        };
        let Some(row) = row else {
            return Err(export.invalid(
                &object,
                "no policy of the policy list has its ID or title: capture the list (action=list&details=Basic) \
                 with every page, or remove this export",
            ));
        };
        if let Some(first) = tied.insert(row, export) {
            return Err(export.invalid(
                &object,
                format!(
                    "policy {} has another export ({}:{}): keep one",
                    policies[row].id, first.file.path, first.element.line
                ),
            ));
        }
    }
    policies
        .iter()
        .enumerate()
        .map(|(row, policy)| {
            tied.remove(&row).ok_or_else(|| {
                policy.record.invalid(
                    &policy.object(),
                    format!(
                        "has no export: capture {PATH}?action=export&id={}&show_user_controls=1&show_appendix=0",
                        policy.id
                    ),
                )
            })
        })
        .collect()
}

/// The import of one policy, its exported body sent without the appendix.
fn import(policy: &Policy<'_>, body: Record<'_>, out: &mut TaskOutput) -> Draft {
    let mut element = body.element.clone();
    let appendix = element.children.len();
    element.children.retain(|c| c.name != "APPENDIX");
    if element.children.len() != appendix {
        out.warn(
            format!("{} was exported with its appendix, which is not sent: Qualys cannot import it", policy.object()),
            Some(body.source(Some(policy.id), Some(policy.title))),
        );
    }
    let id = object_id("policy", policy.title);
    let mut xml = DraftBody::xml();
    xml.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<POLICY_EXPORT_OUTPUT>\n<RESPONSE>\n").raw(&element.to_xml());
    xml.raw("</RESPONSE>\n</POLICY_EXPORT_OUTPUT>\n");
    let probe = DraftProbe::list(PATH, &[("action", "list"), ("details", "Basic")], "POLICY", "TITLE", policy.title)
        .fills(&id, Field::Id, "ID");
    Draft::post(TASK, id, Effect::Create, PATH, format!("Import {} with its user-defined controls", policy.object()))
        .param("action", "import")
        .param("title", policy.title)
        .param("create_user_controls", "1")
        .body(xml)
        .capture(Field::Id, Extract::NewId)
        .probe(probe)
        .source(policy.source())
}

/// `set_asset_group_ids` with the groups' new IDs; groups without IPs are left out and listed.
fn asset_group_scope(
    policy: &Policy<'_>,
    new_id: &Target,
    names: &ScopeNames<'_>,
    refs: &mut Refs,
    left_out: &mut Vec<String>,
) -> Option<Draft> {
    let object = policy.object();
    let mut groups = Vec::new();
    let mut shown = Vec::new();
    for id in &policy.asset_group_ids {
        if names.without_ips(id) {
            left_out.push(format!("asset group {} in {object}", names.group(id)));
            continue;
        }
        if let Some(target) = refs.require(RefKind::AssetGroup, id, &object, || GROUP_HINT.to_owned()) {
            groups.push(target.segment());
            shown.push(names.group(id));
        }
    }
    if groups.is_empty() {
        return None;
    }
    let summary = format!("Scope {object} to asset groups {}, without evaluating it", shown.join(", "));
    let draft = Draft::post(TASK, object_id("policy-asset-groups", policy.title), Effect::Idempotent, PATH, summary)
        .param("action", "set_asset_group_ids")
        .param("id", new_id.value())
        .param("asset_group_ids", join_segments(groups, ","))
        .param("evaluate_now", "0")
        .source(policy.source());
    Some(draft)
}

/// `set_asset_tags` by tag ID with both sets and their selectors, when the source has tags.
fn tag_scope(policy: &Policy<'_>, new_id: &Target, names: &ScopeNames<'_>, refs: &mut Refs) -> Option<Draft> {
    let object = policy.object();
    let include = resolve_tags(&policy.include, refs, &object);
    let exclude = resolve_tags(&policy.exclude, refs, &object);
    if include.is_none() && exclude.is_none() {
        return None;
    }
    let describe = |name: &str, set: &TagSet<'_>| {
        let tags: Vec<String> = set.tag_ids.iter().map(|id| names.tag(id)).collect();
        (!tags.is_empty()).then(|| format!("{name} {} of {}", set.selector.unwrap_or("any"), tags.join(", ")))
    };
    let sets: Vec<String> =
        [describe("include", &policy.include), describe("exclude", &policy.exclude)].into_iter().flatten().collect();
    let summary = format!("Scope {object} to asset tags: {}, without evaluating it", sets.join("; "));
    let (include_set, include_selector) = include.unzip();
    let (exclude_set, exclude_selector) = exclude.unzip();
    let draft = Draft::post(TASK, object_id("policy-asset-tags", policy.title), Effect::Idempotent, PATH, summary)
        .param("action", "set_asset_tags")
        .param("id", new_id.value())
        .param("tag_set_by", "id")
        .param_opt("tag_set_include", include_set)
        .param_opt("tag_include_selector", include_selector)
        .param_opt("tag_set_exclude", exclude_set)
        .param_opt("tag_exclude_selector", exclude_selector)
        .param("evaluate_now", "0")
        .source(policy.source());
    Some(draft)
}

/// A tag set's target IDs and its selector (Qualys's default "any" when the source gives none);
/// `None` when nothing of it resolves.
fn resolve_tags<'a>(set: &TagSet<'a>, refs: &mut Refs, object: &str) -> Option<(Value, &'a str)> {
    let targets: Vec<_> = set
        .tag_ids
        .iter()
        .filter_map(|id| refs.require(RefKind::Tag, id, object, || TAG_HINT.to_owned()))
        .map(|t| t.segment())
        .collect();
    (!targets.is_empty()).then(|| (join_segments(targets, ","), set.selector.unwrap_or("any")))
}

/// What the import and the scope calls cannot carry.
fn list_losses(policy: &Policy<'_>, out: &mut TaskOutput) {
    let mut fields =
        vec!["owner".to_owned(), "CREATED".to_owned(), "LAST_MODIFIED".to_owned(), "exceptions".to_owned()];
    if policy.record.text("IS_LOCKED") == Some("1") {
        fields.push("IS_LOCKED".to_owned());
    }
    if policy.record.text("STATUS").is_some_and(|s| !s.eq_ignore_ascii_case("active")) {
        fields.push("STATUS".to_owned());
    }
    out.lose(
        policy.object(),
        fields,
        "the API user owns the imported policy, which starts as a new, active and unlocked one; exceptions are a \
         separate API qmig does not migrate. Lock or deactivate it and grant its exceptions again in the target's \
         user interface where the source had them",
        Some(policy.source()),
    );
}

/// The source's names of what scopes can refer to, so the review names each group and tag.
struct ScopeNames<'a> {
    /// Asset group ID -> title, and whether it can scope a policy (it has an IP, or is "All",
    /// which holds every host).
    groups: BTreeMap<&'a str, (&'a str, bool)>,
    tags: BTreeMap<&'a str, &'a str>,
}

impl<'a> ScopeNames<'a> {
    fn load(ctx: &Context<'a>) -> Result<ScopeNames<'a>, TransformError> {
        let mut groups = BTreeMap::new();
        for record in ctx.export.records(Kind::AssetGroupList) {
            let group = AssetGroup::parse(record)?;
            let can_scope = !group.ips.is_empty() || group.title == asset_groups::ALL;
            groups.insert(group.id, (group.title, can_scope));
        }
        let tags = ctx.export.records(Kind::TagSearch).filter_map(|t| Some((t.text("id")?, t.text("name")?))).collect();
        Ok(ScopeNames { groups, tags })
    }

    fn without_ips(&self, id: &str) -> bool {
        self.groups.get(id).is_some_and(|(_, can_scope)| !can_scope)
    }

    fn group(&self, id: &str) -> String {
        self.groups
            .get(id)
            .map_or_else(|| format!("{id} (not in the export)"), |(title, _)| format!("\"{title}\" ({id})"))
    }

    fn tag(&self, id: &str) -> String {
        self.tags.get(id).map_or_else(|| format!("tag {id} (not in the export)"), |name| format!("\"{name}\" ({id})"))
    }
}

/// The target's policies by title, from `--target-export`.
fn existing_in_target<'a>(ctx: &Context<'a>) -> Result<BTreeMap<&'a str, &'a str>, TransformError> {
    let mut existing = BTreeMap::new();
    for record in ctx.target_records(Kind::PolicyList) {
        let policy = Policy::parse(record)?;
        existing.insert(policy.title, policy.id);
    }
    Ok(existing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::test_support::{Fixture, param};
    use crate::tasks::{asset_groups, tags};

    const GROUPS: &str = "<ASSET_GROUP_LIST_OUTPUT><RESPONSE><ASSET_GROUP_LIST>\
        <ASSET_GROUP><ID>1</ID><TITLE>All</TITLE></ASSET_GROUP>\
        <ASSET_GROUP><ID>3</ID><TITLE>Web</TITLE><IP_SET><IP>10.0.0.1</IP></IP_SET></ASSET_GROUP>\
        <ASSET_GROUP><ID>4</ID><TITLE>DB</TITLE><IP_SET><IP_RANGE>10.0.1.1-10.0.1.9</IP_RANGE></IP_SET></ASSET_GROUP>\
        <ASSET_GROUP><ID>5</ID><TITLE>Names only</TITLE><DNS_LIST><DNS>a.example</DNS></DNS_LIST></ASSET_GROUP>\
        </ASSET_GROUP_LIST></RESPONSE></ASSET_GROUP_LIST_OUTPUT>";

    const TAGS: &str = "<ServiceResponse><responseCode>SUCCESS</responseCode><count>2</count>\
        <hasMoreRecords>false</hasMoreRecords><data>\
        <Tag><id>71</id><name>Linux</name></Tag><Tag><id>72</id><name>Lab</name></Tag>\
        </data></ServiceResponse>";

    fn row(id: &str, title: &str, scope: &str) -> String {
        format!(
            "<POLICY><ID>{id}</ID><TITLE><![CDATA[{title}]]></TITLE><CREATED><DATETIME>2024-01-02T03:04:05Z\
             </DATETIME><BY>admin</BY></CREATED>{scope}<STATUS>active</STATUS><IS_LOCKED>0</IS_LOCKED></POLICY>\n"
        )
    }

    fn list(rows: &[String]) -> String {
        format!(
            "<?xml version=\"1.0\"?>\n<POLICY_LIST_OUTPUT><RESPONSE><DATETIME>2024-06-01T00:00:00Z</DATETIME>\
             <POLICY_LIST>\n{}</POLICY_LIST></RESPONSE></POLICY_LIST_OUTPUT>\n",
            rows.concat()
        )
    }

    fn export(title: &str, extra: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?>\n<POLICY_EXPORT_OUTPUT><RESPONSE><DATETIME>2024-06-01T00:00:00Z</DATETIME>\n\
             <POLICY><TITLE><![CDATA[{title}]]></TITLE><SECTIONS><SECTION><NUMBER>1</NUMBER><CONTROLS>\
             <CONTROL><ID>1071</ID><CRITICALITY><VALUE>3</VALUE></CRITICALITY></CONTROL></CONTROLS></SECTION>\
             </SECTIONS>{extra}</POLICY></RESPONSE></POLICY_EXPORT_OUTPUT>\n"
        )
    }

    fn plans() -> [crate::tasks::Plan; 3] {
        [asset_groups::plan, tags::plan, plan]
    }

    #[test]
    fn asset_group_ranges_are_expanded() {
        assert_eq!(expand_ranges("1,3-5, 9").expect("ranges"), ["1", "3", "4", "5", "9"]);
        assert!(expand_ranges("5-3").is_err());
        assert!(expand_ranges("a-b").is_err());
        assert!(expand_ranges("1-99999999").is_err_and(|e| e.contains("more than 100000")));
    }

    #[test]
    fn each_policy_is_imported_then_scoped_by_groups_and_tags_without_evaluation() {
        let scope = "<ASSET_GROUP_IDS>3-4</ASSET_GROUP_IDS><TAG_SET_INCLUDE><TAG_ID>71</TAG_ID></TAG_SET_INCLUDE>\
                     <TAG_SET_EXCLUDE><TAG_ID>72</TAG_ID></TAG_SET_EXCLUDE><TAG_INCLUDE_SELECTOR>all\
                     </TAG_INCLUDE_SELECTOR><TAG_EXCLUDE_SELECTOR>any</TAG_EXCLUDE_SELECTOR>";
        let files = [
            ("groups.xml", GROUPS),
            ("tags.xml", TAGS),
            ("policies.xml", &list(&[row("9", "CIS & Linux #1", scope)])),
            ("policy_9.xml", &export("CIS & Linux #1", "<APPENDIX><TEXT>x</TEXT></APPENDIX>")),
        ];
        let (outputs, refs) = Fixture::new(&files).run(&plans()).expect("plans");
        assert!(refs.unresolved().is_empty(), "{:?}", refs.unresolved());
        let out = &outputs[2];
        let ids: Vec<&str> = out.requests.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            ["policy/CIS & Linux #1", "policy-asset-groups/CIS & Linux #1", "policy-asset-tags/CIS & Linux #1"]
        );
        let import = &out.requests[0];
        assert_eq!(param(import, "title").as_deref(), Some("CIS & Linux #1"));
        assert_eq!(param(import, "create_user_controls").as_deref(), Some("1"));
        let body = &import.body.as_ref().expect("the exported policy").text;
        assert!(body.contains("<ID>1071</ID>") && !body.contains("APPENDIX"), "{body}");
        assert!(out.warnings[0].message.contains("appendix"), "{:?}", out.warnings);
        assert_eq!(refs.get(RefKind::Policy, "9"), Some(&Target::captured("policy/CIS & Linux #1", Field::Id)));

        let groups = &out.requests[1];
        assert_eq!(param(groups, "id").as_deref(), Some("{{capture:policy/CIS & Linux #1#id}}"));
        assert_eq!(
            param(groups, "asset_group_ids").as_deref(),
            Some("{{capture:asset-group/Web#id}},{{capture:asset-group/DB#id}}")
        );
        let tags = &out.requests[2];
        assert_eq!(param(tags, "tag_set_by").as_deref(), Some("id"));
        assert_eq!(param(tags, "tag_include_selector").as_deref(), Some("all"));
        assert_eq!(param(tags, "tag_exclude_selector").as_deref(), Some("any"));
        assert!(
            param(tags, "tag_set_exclude").is_some_and(|v| v.contains("Lab")),
            "{:?}",
            param(tags, "tag_set_exclude")
        );
        for scope in &out.requests[1..] {
            assert_eq!(param(scope, "evaluate_now").as_deref(), Some("0"));
        }
    }

    #[test]
    fn an_asset_group_without_ip_is_left_out_of_the_scope_and_listed() {
        let files = [
            ("groups.xml", GROUPS),
            (
                "policies.xml",
                &list(&[
                    row("9", "Names", "<ASSET_GROUP_IDS>3,5</ASSET_GROUP_IDS>"),
                    row("10", "Only names", "<ASSET_GROUP_IDS>5</ASSET_GROUP_IDS>"),
                ]),
            ),
            ("p9.xml", &export("Names", "")),
            ("p10.xml", &export("Only names", "")),
        ];
        let (outputs, refs) = Fixture::new(&files).run(&[asset_groups::plan, plan]).expect("plans");
        assert!(refs.unresolved().is_empty(), "{:?}", refs.unresolved());
        let out = &outputs[1];
        assert_eq!(param(&out.requests[1], "asset_group_ids").as_deref(), Some("{{capture:asset-group/Web#id}}"));
        assert_eq!(out.requests.len(), 3, "no scope call for a policy whose only group has no IP");
        let step = &out.manual_steps[0];
        let items = &step.items;
        assert_eq!(step.id, Step::PolicyScopeGroups.id());
        assert_eq!(items.len(), 2);
        assert_eq!(items[1], "asset group \"Names only\" (5) in compliance policy \"Only names\"");
    }

    #[test]
    fn unresolved_scope_references_are_listed_all_at_once() {
        let scope = "<ASSET_GROUP_IDS>3,40-41</ASSET_GROUP_IDS><TAG_SET_INCLUDE><TAG_ID>71</TAG_ID><TAG_ID>99</TAG_ID>\
                     </TAG_SET_INCLUDE><TAG_SET_EXCLUDE><TAG_ID>98</TAG_ID></TAG_SET_EXCLUDE>";
        let files = [
            ("groups.xml", GROUPS),
            ("tags.xml", TAGS),
            ("policies.xml", &list(&[row("9", "A", scope), row("10", "B", "<ASSET_GROUP_IDS>41</ASSET_GROUP_IDS>")])),
            ("p9.xml", &export("A", "")),
            ("p10.xml", &export("B", "")),
        ];
        let (_, refs) = Fixture::new(&files).run(&plans()).expect("plans");
        let unresolved: Vec<(String, String, Vec<String>)> =
            refs.unresolved().into_iter().map(|u| (u.kind, u.key, u.used_by)).collect();
        let a = || vec!["compliance policy \"A\"".to_owned()];
        let both = vec!["compliance policy \"A\"".to_owned(), "compliance policy \"B\"".to_owned()];
        assert_eq!(
            unresolved,
            [
                ("asset group".to_owned(), "40".to_owned(), a()),
                ("asset group".to_owned(), "41".to_owned(), both),
                ("tag".to_owned(), "98".to_owned(), a()),
                ("tag".to_owned(), "99".to_owned(), a()),
            ]
        );
    }

    #[test]
    fn a_title_the_target_has_is_mapped_never_imported_twice() {
        let files = [("policies.xml", list(&[row("9", "PCI", "")])), ("p9.xml", export("PCI", ""))];
        let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let target = list(&[row("900", "PCI", "")]);
        let out = Fixture::new(&files).target(&[("policies.xml", &target)]);
        let (outputs, refs) = out.run(&[plan]).expect("plans");
        assert!(outputs[0].requests.is_empty());
        assert!(outputs[0].skipped[0].reason.contains("compliance policy 900"), "{:?}", outputs[0].skipped);
        assert_eq!(refs.get(RefKind::Policy, "9"), Some(&Target::Known("900".into())));
    }

    #[test]
    fn exports_are_tied_to_their_row_by_id_or_title_and_the_rest_refused() {
        let rows = list(&[row("9", "A", ""), row("10", "B", "")]);
        let by_id = export("renamed since", "").replace("<POLICY><TITLE>", "<POLICY><ID>10</ID><TITLE>");
        let out = Fixture::new(&[("l.xml", &rows), ("a.xml", &export("A", "")), ("b.xml", &by_id)]).plan(plan);
        assert_eq!(out.requests.len(), 2);
        assert!(out.requests[1].body.as_ref().expect("body").text.contains("renamed since"));

        let refusal = |exports: &[&str]| {
            let mut files = vec![("l.xml".to_owned(), rows.clone())];
            files.extend(exports.iter().map(|title| (format!("{}.xml", title.to_lowercase()), export(title, ""))));
            let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
            Fixture::new(&files).try_plan(plan).expect_err("refused").to_string()
        };
        let err = refusal(&["A"]);
        assert!(err.contains("l.xml:") && err.contains("id=10"), "B has no export: {err}");
        let err = refusal(&["A", "B", "C"]);
        assert!(err.contains("c.xml:") && err.contains("\"C\""), "C has no row: {err}");
        let twice = [("l.xml", rows.as_str()), ("a.xml", &export("A", "")), ("a2.xml", &export("A", ""))];
        let err = Fixture::new(&twice).try_plan(plan).expect_err("A exported twice").to_string();
        assert!(err.contains("another export (a.xml"), "{err}");
    }

    #[test]
    fn the_cutover_evaluates_each_imported_policy_with_a_scope_through_its_scope_call() {
        let rows = list(&[
            row("9", "Groups", "<ASSET_GROUP_IDS>3</ASSET_GROUP_IDS>"),
            row("10", "Unscoped", ""),
            row("11", "Theirs", "<ASSET_GROUP_IDS>3</ASSET_GROUP_IDS>"),
        ]);
        let exports = [export("Groups", ""), export("Unscoped", ""), export("Theirs", "")];
        let files = [
            ("groups.xml", GROUPS),
            ("l.xml", &rows),
            ("a.xml", &exports[0]),
            ("b.xml", &exports[1]),
            ("c.xml", &exports[2]),
        ];
        let target = list(&[row("900", "Theirs", "")]);
        let fixture = Fixture::new(&files).target(&[("l.xml", &target)]);
        let cutover: crate::tasks::Plan = |ctx, refs| {
            let mut out = TaskOutput::new("cutover");
            evaluations(ctx, refs)?.into_iter().for_each(|draft| out.request(draft));
            Ok(out)
        };
        let (outputs, _) = fixture.run(&[asset_groups::plan, plan, cutover]).expect("plans");
        let [evaluation] = outputs[2].requests.as_slice() else { panic!("{:?}", outputs[2].requests) };
        assert_eq!(evaluation.id, "policy-evaluation/Groups");
        assert_eq!(evaluation.phase, qmig_schemas::Phase::Cutover);
        assert_eq!(param(evaluation, "action").as_deref(), Some("set_asset_group_ids"));
        assert_eq!(param(evaluation, "asset_group_ids"), param(&outputs[1].requests[1], "asset_group_ids"));
        assert_eq!(param(evaluation, "evaluate_now").as_deref(), Some("1"));
    }

    #[test]
    fn locked_and_inactive_policies_are_listed_as_losses() {
        let locked = row("9", "A", "").replace("<IS_LOCKED>0", "<IS_LOCKED>1").replace(">active<", ">inactive<");
        let out = Fixture::new(&[("l.xml", &list(&[locked])), ("a.xml", &export("A", ""))]).plan(plan);
        let fields = &out.losses[0].fields;
        assert!(fields.contains(&"IS_LOCKED".to_owned()) && fields.contains(&"STATUS".to_owned()), "{fields:?}");
        assert!(fields.contains(&"exceptions".to_owned()));
    }
}
