//! Core task: Search lists (static, then dynamic).
//!
//! Source: `STATIC_SEARCH_LIST_OUTPUT` (`/api/2.0/fo/qid/search_list/static/?action=list`) and
//! `DYNAMIC_SEARCH_LIST_OUTPUT` (`.../dynamic/?action=list&show_qids=0`; the documentation's
//! sample names the root `SEARCH_LIST_OUTPUT`, both are read): ID, TITLE, GLOBAL, QIDS (static),
//! CRITERIA (dynamic, as prose), COMMENTS, and the option profiles, report templates and
//! distribution groups that use each list.
//!
//! Rules:
//! - Titles are kept exactly: option profile imports find their lists by title.
//! - Static: `title`, `qids` (comma-joined, in the form body), `global` from GLOBAL Yes/No,
//!   `comments`.
//! - Dynamic: every criterion's prose becomes create parameters again ([`criterion_params`]):
//!   "NOT x" becomes `not_<param>=1` with `x`, "A and B" lists become `A,B`, top lists are
//!   trimmed item by item, OTHER phrases become their flags, every date phrase its date
//!   parameter. A list with a criterion not understood is not created (it would select more
//!   QIDs than the source's): it is a manual step naming the criterion.
//! - Threat Protection RTI criteria are never exported, so every dynamic list carries that loss
//!   in the review, with the QID comparison that reveals it; a list with no exported criterion
//!   at all (RTIs only) would select every QID, and is a manual step.
//! - A list whose title the target already has (same type, `--target-export`) is mapped to it; a
//!   title the target has for the other type of list is refused, and so are two source lists of
//!   one title (as every two requests of one id): an option profile could not tell them apart.
//! - Each new list's ID is captured (`RefKind::SearchList` by source ID, `RefKind::SearchListTitle`
//!   by title) for the option profiles and report templates; a probe finds it by exact title.

use std::collections::BTreeMap;

use qmig_schemas::{Effect, Extract, SourceRef};

use crate::checklist::Step;
use crate::context::Context;
use crate::error::TransformError;
use crate::export::{Kind, Record};
use crate::plan::{Draft, DraftProbe, Field, RefKind, Refs, Target, TaskOutput, object_id};

pub const TASK: &str = "search lists";
pub const STATIC_PATH: &str = "/api/2.0/fo/qid/search_list/static/";
pub const DYNAMIC_PATH: &str = "/api/2.0/fo/qid/search_list/dynamic/";
/// Qualys refuses longer dynamic list titles.
pub const DYNAMIC_TITLE_MAX: usize = 256;
const HINT: &str = "the search list is not migrated (see the search lists task); create it in the target and \
                    capture the target's search lists into --target-export";

/// Static or dynamic: each has its own list and create call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    Static,
    Dynamic,
}

impl ListType {
    fn label(self) -> &'static str {
        match self {
            ListType::Static => "static search list",
            ListType::Dynamic => "dynamic search list",
        }
    }

    fn kind(self) -> Kind {
        match self {
            ListType::Static => Kind::StaticSearchList,
            ListType::Dynamic => Kind::DynamicSearchList,
        }
    }

    fn record(self) -> &'static str {
        match self {
            ListType::Static => "STATIC_LIST",
            ListType::Dynamic => "DYNAMIC_LIST",
        }
    }

    fn path(self) -> &'static str {
        match self {
            ListType::Static => STATIC_PATH,
            ListType::Dynamic => DYNAMIC_PATH,
        }
    }
}

/// A search list as the source lists it.
#[derive(Debug, Clone)]
pub struct SearchList<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub list_type: ListType,
    pub global: bool,
    pub comments: Option<&'a str>,
    pub record: Record<'a>,
}

impl<'a> SearchList<'a> {
    pub fn parse(record: Record<'a>, list_type: ListType) -> Result<SearchList<'a>, TransformError> {
        let label = list_type.label();
        let id = record.text("ID").ok_or_else(|| record.invalid(label, "has no ID"))?;
        // Titles are matched exactly by option profile imports: never trimmed.
        let title = record
            .element
            .at("TITLE")
            .map(|t| t.text.as_str())
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| record.invalid(&format!("{label} {id}"), "has no TITLE"))?;
        let global = match record.text("GLOBAL") {
            Some(g) if g.eq_ignore_ascii_case("yes") || g == "1" => true,
            Some(g) if g.eq_ignore_ascii_case("no") || g == "0" => false,
            None => false,
            Some(other) => {
                return Err(record.invalid(
                    &format!("{label} \"{title}\""),
                    format!("GLOBAL is \"{other}\"; Qualys writes Yes or No"),
                ));
            }
        };
        Ok(SearchList { id, title, list_type, global, comments: record.text("COMMENTS"), record })
    }

    fn object(&self) -> String {
        format!("{} \"{}\"", self.list_type.label(), self.title)
    }

    fn source(&self) -> SourceRef {
        self.record.source(Some(self.id), Some(self.title))
    }

    /// Who uses the list, as the list says (`show_option_profiles=1` and the like).
    fn used_by(&self) -> Vec<String> {
        const USERS: [(&str, &str); 4] = [
            ("OPTION_PROFILES", "option profiles"),
            ("REPORT_TEMPLATES", "report templates"),
            ("DISTRIBUTION_GROUPS", "distribution groups"),
            ("REMEDIATION_POLICIES", "remediation policies"),
        ];
        let mut used = Vec::new();
        for (list, label) in USERS {
            let names: Vec<String> = self
                .record
                .element
                .at(list)
                .into_iter()
                .flat_map(|l| &l.children)
                .filter_map(|user| {
                    user.text_at("TITLE").or_else(|| user.text_at("NAME")).or_else(|| user.text_at("ID"))
                })
                .map(|name| format!("\"{name}\""))
                .collect();
            if !names.is_empty() {
                used.push(format!("{label} {}", names.join(", ")));
            }
        }
        used
    }
}

/// The target of search list `id`, or `None` after recording that `used_by` needs it.
pub fn require(refs: &mut Refs, id: &str, used_by: &str) -> Option<Target> {
    refs.require(RefKind::SearchList, id, used_by, || HINT.to_owned())
}

/// The target of the search list titled `title`, or `None` after recording that `used_by` (an
/// option profile, whose import finds its lists by title) needs it.
pub fn require_title(refs: &mut Refs, title: &str, used_by: &str) -> Option<Target> {
    refs.require(RefKind::SearchListTitle, title, used_by, || {
        "the target will have no search list of this title (not created by this bundle, not in --target-export), \
         and Qualys would import the option profile with \"Complete\" detection instead, silently; migrate the \
         list, or create it in the target and capture the target's search lists into --target-export"
            .to_owned()
    })
}

pub fn plan(ctx: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let existing = existing_in_target(ctx)?;
    for (title, list) in &existing {
        refs.set(RefKind::SearchListTitle, title, Target::Known(list.id.to_owned()));
    }
    let mut by_hand = Vec::new();
    for list_type in [ListType::Static, ListType::Dynamic] {
        for record in ctx.export.records(list_type.kind()) {
            let list = SearchList::parse(record, list_type)?;
            out.source_objects += 1;
            let source = list.source();
            if let Some(other) = existing.get(list.title) {
                if other.list_type != list_type {
                    return Err(TransformError::TitleTaken {
                        source_ref: source,
                        object: list.object(),
                        existing: format!("{} {}", other.list_type.label(), other.id),
                    });
                }
                let target = Target::Known(other.id.to_owned());
                refs.set(RefKind::SearchList, list.id, target.clone());
                refs.set(RefKind::SearchListTitle, list.title, target);
                out.skip_existing(list.object(), RefKind::SearchList, other.id, source);
                continue;
            }
            let draft = match list_type {
                ListType::Static => create_static(&list, &mut out)?,
                ListType::Dynamic => create_dynamic(&list, &mut out, &mut by_hand)?,
            };
            let Some(draft) = draft else { continue };
            let target = Target::captured(&draft.id, Field::Id);
            refs.set(RefKind::SearchList, list.id, target.clone());
            refs.set(RefKind::SearchListTitle, list.title, target);
            out.request(draft);
        }
    }
    if !by_hand.is_empty() {
        out.step(Step::SearchListsByHand, by_hand);
    }
    Ok(out)
}

/// The create request every list starts from: title, global, comments, and a probe by title;
/// `selection` says what selects its QIDs ("6 QIDs").
fn draft(list: &SearchList<'_>, selection: String) -> Draft {
    let id = object_id("search-list", list.title);
    let path = list.list_type.path();
    let scope = if list.global { ", global" } else { "" };
    let mut summary = format!("Create {} \"{}\" ({selection}{scope})", list.list_type.label(), list.title);
    let used_by = list.used_by();
    if !used_by.is_empty() {
        summary.push_str(&format!("; in the source it is used by {}", used_by.join("; ")));
    }
    let probe_params: &[(&str, &str)] = match list.list_type {
        ListType::Static => &[("action", "list")],
        ListType::Dynamic => &[("action", "list"), ("show_qids", "0")],
    };
    Draft::post(TASK, id.clone(), Effect::Create, path, summary)
        .param("action", "create")
        .param("title", list.title)
        .param("global", if list.global { "1" } else { "0" })
        .param_opt("comments", list.comments)
        .capture(Field::Id, Extract::NewId)
        .probe(DraftProbe::list(path, probe_params, list.list_type.record(), "TITLE", list.title).fills(
            &id,
            Field::Id,
            "ID",
        ))
        .source(list.source())
}

fn create_static(list: &SearchList<'_>, out: &mut TaskOutput) -> Result<Option<Draft>, TransformError> {
    let mut qids = Vec::new();
    for qid in list.record.element.all("QIDS/QID") {
        let value = qid.value();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            let problem = format!("QID \"{value}\" is not a QID number (Qualys lists one number per QID)");
            return Err(list.record.nested(qid).invalid(&list.object(), problem));
        }
        qids.push(value);
    }
    if qids.is_empty() {
        out.skip(
            list.object(),
            "it holds no QID, and Qualys creates a static list only with QIDs",
            Some(list.source()),
        );
        return Ok(None);
    }
    // In the form body: thousands of QIDs would not fit in a URL.
    Ok(Some(draft(list, format!("{} QIDs", qids.len())).param("qids", qids.join(","))))
}

fn create_dynamic(
    list: &SearchList<'_>,
    out: &mut TaskOutput,
    by_hand: &mut Vec<String>,
) -> Result<Option<Draft>, TransformError> {
    let length = list.title.chars().count();
    if length > DYNAMIC_TITLE_MAX {
        return Err(list.record.invalid(
            &list.object(),
            format!("the title has {length} characters; Qualys takes at most {DYNAMIC_TITLE_MAX} for a dynamic list"),
        ));
    }
    let captured_on = list.record.file.head().text("RESPONSE/DATETIME").and_then(capture_date);
    let mut params = Vec::new();
    let mut not_understood = Vec::new();
    let criteria = list.record.element.at("CRITERIA").into_iter().flat_map(|c| &c.children);
    for criterion in criteria {
        match criterion_params(&criterion.name, criterion.value(), captured_on.as_deref()) {
            Some(more) => params.extend(more),
            None => not_understood.push(format!("{} \"{}\"", criterion.name, criterion.value())),
        }
    }
    if params.is_empty() && not_understood.is_empty() {
        // Qualys exports every criterion but Threat Protection RTIs: a list without any selected
        // by those alone, and created empty it would select every QID.
        by_hand.push(format!(
            "{}: no criterion was exported, so it selects by Threat Protection RTIs only",
            list.object()
        ));
        out.skip(list.object(), "no criterion was exported (manual step)", Some(list.source()));
        return Ok(None);
    }
    if !not_understood.is_empty() {
        by_hand.push(format!("{}: criteria not understood: {}", list.object(), not_understood.join(", ")));
        out.skip(
            list.object(),
            "a criterion is not understood, and creating the list without it would select more QIDs (manual step)",
            Some(list.source()),
        );
        return Ok(None);
    }
    // Captured with show_qids=1, the list says how many QIDs it selected: the figure to compare.
    let selected = match list.record.element.all("QIDS/QID").count() {
        0 => String::new(),
        count => format!(" (it selected {count} QIDs when the source was captured)"),
    };
    out.lose(
        list.object(),
        vec!["Threat Protection RTI criteria".to_owned()],
        format!(
            "Qualys does not export them: if the source list used any, the new list selects more QIDs. Compare the \
             list's QIDs in source{selected} and target (list with show_qids=1) and add the RTI criteria in the \
             target's user interface"
        ),
        Some(list.source()),
    );
    let criteria = list.record.element.at("CRITERIA").map_or(0, |c| c.children.len());
    let mut draft = draft(list, format!("{criteria} criteria"));
    for (name, value) in params {
        draft = draft.param(&name, value);
    }
    Ok(Some(draft))
}

/// The capture's date as criteria write dates (`mm/dd/yyyy`), from its `2019-05-31T19:03:37Z`.
fn capture_date(datetime: &str) -> Option<String> {
    let date = datetime.get(..10)?;
    let mut parts = date.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    Some(format!("{month}/{day}/{year}"))
}

/// Criteria copied as written, by element: create parameter and whether "NOT " negates it.
const COPIED: &[(&str, &str, bool)] = &[
    ("VULNERABILITY_TITLE", "vuln_title", true),
    ("AUTHENTICATION_TYPE", "auth_types", false),
    ("USER_CONFIGURATION", "user_configuration", false),
    ("CATEGORY", "categories", true),
    ("CONFIRMED_SEVERITY", "confirmed_severities", false),
    ("POTENTIAL_SEVERITY", "potential_severities", false),
    ("INFORMATION_SEVERITY", "ig_severities", false),
    ("VENDOR", "vendor_ids", false),
    ("PRODUCT", "products", true),
    ("CVE_ID", "cve_ids", true),
    ("EXPLOITABILITY", "exploitability", false),
    ("ASSOCIATED_MALWARE", "malware_associated", false),
    ("VENDOR_REFERENCE", "vendor_refs", true),
    ("BUGTRAQ_ID", "bugtraq_id", true),
    ("VULNERABILITY_DETAILS", "vuln_details", false),
    ("COMPLIANCE_DETAILS", "compliance_details", false),
    ("SUPPORTED_MODULES", "supported_modules", false),
    ("COMPLIANCE_TYPES", "compliance_types", false),
    ("CPE", "cpe", false),
    ("NETWORK_ACCESS", "nac_nam", false),
    // Operands are copied as prose; whether create takes "greater than or equal to" is UNVERIFIED.
    ("CVSS_BASE_SCORE", "cvss_base", false),
    ("CVSS_BASE_SCORE_OPERAND", "cvss_base_operand", false),
    ("CVSS_TEMPORAL_SCORE", "cvss_temp", false),
    ("CVSS_TEMPORAL_SCORE_OPERAND", "cvss_temp_operand", false),
    ("CVSS_ACCESS_VECTOR", "cvss_access_vector", false),
    ("CVSS3_BASE_SCORE", "cvss3_base", false),
    ("CVSS3_BASE_SCORE_OPERAND", "cvss3_base_operand", false),
    ("CVSS3_TEMPORAL_SCORE", "cvss3_temp", false),
    ("CVSS3_TEMPORAL_SCORE_OPERAND", "cvss3_temp_operand", false),
];
/// OTHER's phrases and their flags.
const OTHER: &[(&str, &str)] = &[
    ("Not exploitable due to configuration", "qids_not_exploitable"),
    ("Non-running services", "non_running_services"),
    ("2008 Sans 20", "sans_20"),
];
/// The date criteria and the prefix of their parameters.
const DATES: &[(&str, &str)] =
    &[("USER_MODIFIED", "user_modified"), ("PUBLISHED", "published"), ("SERVICE_MODIFIED", "service_modified")];

type Params = Vec<(String, String)>;

fn one(name: &str, value: impl Into<String>) -> Params {
    vec![(name.to_owned(), value.into())]
}

/// The create parameters of one criterion (element `name`, prose `prose`), or `None` when the
/// prose is not understood. `captured_on` is the capture's date, which a "today" range shows.
pub fn criterion_params(name: &str, prose: &str, captured_on: Option<&str>) -> Option<Params> {
    match name {
        "DISCOVERY_METHOD" if prose.eq_ignore_ascii_case("all") => Some(one("discovery_methods", "ALL")),
        "DISCOVERY_METHOD" => {
            let methods: Vec<&str> = prose.split(" and ").map(str::trim).collect();
            methods.iter().all(|m| is_word(m)).then(|| one("discovery_methods", methods.join(",")))
        }
        "PATCH_AVAILABLE" | "VIRTUAL_PATCH_AVAILABLE" => {
            let flag = match prose {
                p if p.eq_ignore_ascii_case("yes") => "1",
                p if p.eq_ignore_ascii_case("no") => "0",
                _ => return None,
            };
            Some(one(&name.to_ascii_lowercase(), flag))
        }
        "QUALYS_TOP_20" => {
            let lists = prose.split(',').map(|item| match item.trim() {
                "Top Internal 10" => Some("Internal_10"),
                "Top External 10" => Some("External_10"),
                _ => None,
            });
            Some(one("qualys_top_lists", lists.collect::<Option<Vec<_>>>()?.join(",")))
        }
        "OTHER" => prose
            .split(',')
            .map(|phrase| {
                let phrase = phrase.trim();
                OTHER
                    .iter()
                    .find(|(p, _)| p.eq_ignore_ascii_case(phrase))
                    .map(|(_, flag)| ((*flag).to_owned(), "1".to_owned()))
            })
            .collect(),
        _ => {
            if let Some((_, prefix)) = DATES.iter().find(|(element, _)| *element == name) {
                return date_params(prefix, prose, captured_on);
            }
            let (_, param, negatable) = COPIED.iter().find(|(element, _, _)| *element == name)?;
            match prose.strip_prefix("NOT ") {
                Some(value) if *negatable && !value.trim().is_empty() => {
                    Some(vec![((*param).to_owned(), value.trim().to_owned()), (format!("not_{param}"), "1".to_owned())])
                }
                // Dropping the NOT of a criterion that cannot be negated would invert it.
                Some(_) => None,
                None if prose.is_empty() => None,
                None => Some(one(param, prose)),
            }
        }
    }
}

fn is_word(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ')
}

/// A date criterion's phrase: a range, today, the previous period, the last N days; "NOT "
/// before any of them.
fn date_params(prefix: &str, prose: &str, captured_on: Option<&str>) -> Option<Params> {
    let (negated, phrase) = match prose.strip_prefix("NOT ") {
        Some(rest) => (true, rest.trim()),
        None => (false, prose.trim()),
    };
    let lower = phrase.to_ascii_lowercase();
    let (form, value) = if lower == "today" {
        ("date_today", "1".to_owned())
    } else if let Some(period) = lower.strip_prefix("previous ") {
        let period = match period {
            "week" => "Week",
            "month" => "Month",
            "quarter" => "Quarter",
            "year" => "Year",
            _ => return None,
        };
        ("date_in_previous", period.to_owned())
    } else if let Some(days) =
        lower.strip_prefix("last ").and_then(|r| r.strip_suffix(" days").or(r.strip_suffix(" day")))
    {
        if days.is_empty() || !days.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        ("date_within_last_days", days.to_owned())
    } else {
        let (from, to) = phrase.split_once('-')?;
        let (from, to) = (from.trim(), to.trim());
        if !is_date(from) || !is_date(to) {
            return None;
        }
        // Qualys shows a "today" criterion as today's date on both ends: on the capture's date,
        // that is what the source list selects every day.
        if from == to && captured_on == Some(from) {
            ("date_today", "1".to_owned())
        } else {
            ("date_between", format!("{from}-{to}"))
        }
    };
    let mut params = one(&format!("{prefix}_{form}"), value);
    if negated {
        params.push((format!("not_{prefix}"), "1".to_owned()));
    }
    Some(params)
}

/// `mm/dd/yyyy`.
fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('/').collect();
    matches!(parts.as_slice(), [m, d, y]
        if m.len() == 2 && d.len() == 2 && y.len() == 4
            && [m, d, y].iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())))
}

/// A list of the target's, from `--target-export`.
struct Existing<'a> {
    id: &'a str,
    list_type: ListType,
}

/// The target's search lists by title.
fn existing_in_target<'a>(ctx: &Context<'a>) -> Result<BTreeMap<&'a str, Existing<'a>>, TransformError> {
    let mut existing = BTreeMap::new();
    for list_type in [ListType::Static, ListType::Dynamic] {
        for record in ctx.target_records(list_type.kind()) {
            let list = SearchList::parse(record, list_type)?;
            existing.insert(list.title, Existing { id: list.id, list_type });
        }
    }
    Ok(existing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::test_support::{Fixture, param};

    const STATIC: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<STATIC_SEARCH_LIST_OUTPUT>
  <RESPONSE>
    <DATETIME>2026-03-02T10:00:00Z</DATETIME>
    <STATIC_LISTS>
      <STATIC_LIST>
        <ID>101</ID>
        <TITLE><![CDATA[Excluded QIDs & friends]]></TITLE>
        <GLOBAL>Yes</GLOBAL>
        <OWNER><![CDATA[acme_as]]></OWNER>
        <CREATED>04/27/2018 at 15:18:42 (GMT+0530)</CREATED>
        <QIDS><QID>38170</QID><QID>38173</QID></QIDS>
        <OPTION_PROFILES><OPTION_PROFILE><ID>7</ID><TITLE><![CDATA[Custom VM]]></TITLE></OPTION_PROFILE></OPTION_PROFILES>
        <DISTRIBUTION_GROUPS><DISTRIBUTION_GROUP><ID>3</ID><NAME><![CDATA[SecOps]]></NAME></DISTRIBUTION_GROUP></DISTRIBUTION_GROUPS>
        <COMMENTS><![CDATA[weak TLS]]></COMMENTS>
      </STATIC_LIST>
    </STATIC_LISTS>
  </RESPONSE>
</STATIC_SEARCH_LIST_OUTPUT>
"#;

    fn dynamic(root: &str, criteria: &str) -> String {
        format!(
            "<{root}><RESPONSE><DATETIME>2026-03-02T10:00:00Z</DATETIME><DYNAMIC_LISTS>\n<DYNAMIC_LIST><ID>201</ID>\
             <TITLE>Fresh criticals</TITLE><GLOBAL>No</GLOBAL><CRITERIA>{criteria}</CRITERIA></DYNAMIC_LIST>\n\
             </DYNAMIC_LISTS></RESPONSE></{root}>"
        )
    }

    fn dynamic_draft(criteria: &str) -> Draft {
        let out = Fixture::new(&[("dynamic.xml", &dynamic("DYNAMIC_SEARCH_LIST_OUTPUT", criteria))]).plan(plan);
        assert!(out.manual_steps.is_empty(), "{:?}", out.manual_steps);
        out.requests.into_iter().next().expect("one create")
    }

    fn params_of(draft: &Draft) -> Vec<(String, String)> {
        draft.params.iter().map(|p| (p.name.clone(), p.value.display())).filter(|(n, _)| n != "action").collect()
    }

    #[test]
    fn a_static_list_keeps_title_qids_global_and_comments_and_says_who_uses_it() {
        let out = Fixture::new(&[("static.xml", STATIC)]).plan(plan);
        let draft = &out.requests[0];
        assert_eq!(draft.id, "search-list/Excluded QIDs & friends");
        assert_eq!(draft.path, STATIC_PATH);
        assert_eq!(param(draft, "title").as_deref(), Some("Excluded QIDs & friends"));
        assert_eq!(param(draft, "qids").as_deref(), Some("38170,38173"));
        assert_eq!(param(draft, "global").as_deref(), Some("1"));
        assert_eq!(param(draft, "comments").as_deref(), Some("weak TLS"));
        assert!(draft.summary.contains("option profiles \"Custom VM\""), "{}", draft.summary);
        assert!(draft.summary.contains("distribution groups \"SecOps\""), "{}", draft.summary);
        let probe = draft.probe.as_ref().expect("probe");
        assert_eq!(probe.exists.record, "STATIC_LIST");
        assert_eq!(probe.exists.conditions[0].equals.display(), "Excluded QIDs & friends");
        assert!(out.losses.is_empty(), "static lists carry no RTI criteria");
    }

    #[test]
    fn new_ids_are_captured_by_source_id_and_title() {
        let (_, refs) = Fixture::new(&[("static.xml", STATIC)]).run(&[plan]).expect("plans");
        let captured = Target::captured("search-list/Excluded QIDs & friends", Field::Id);
        assert_eq!(refs.get(RefKind::SearchList, "101"), Some(&captured));
        assert_eq!(refs.get(RefKind::SearchListTitle, "Excluded QIDs & friends"), Some(&captured));
    }

    #[test]
    fn both_roots_of_the_dynamic_list_are_read_and_every_list_states_the_rti_loss() {
        for root in ["DYNAMIC_SEARCH_LIST_OUTPUT", "SEARCH_LIST_OUTPUT"] {
            let text = dynamic(root, "<CONFIRMED_SEVERITY>4, 5</CONFIRMED_SEVERITY>");
            let out = Fixture::new(&[("dynamic.xml", &text)]).plan(plan);
            assert_eq!(out.requests.len(), 1, "{root}");
            assert_eq!(out.requests[0].path, DYNAMIC_PATH);
            assert_eq!(param(&out.requests[0], "global").as_deref(), Some("0"));
            assert_eq!(out.losses.len(), 1);
            assert_eq!(out.losses[0].fields, ["Threat Protection RTI criteria"]);
            assert!(out.losses[0].reason.contains("show_qids=1"));
            assert!(!out.losses[0].reason.contains("it selected"), "no QIDs captured");
        }
    }

    #[test]
    fn not_prefixes_become_flags_with_the_prefix_removed() {
        let draft = dynamic_draft(
            "<VULNERABILITY_TITLE>NOT openssl</VULNERABILITY_TITLE><CATEGORY>NOT Local</CATEGORY>\
             <PRODUCT>NOT ios</PRODUCT><CVE_ID>NOT CVE-2014-0160</CVE_ID><VENDOR_REFERENCE>NOT MS17-010</VENDOR_REFERENCE>\
             <BUGTRAQ_ID>NOT 1234</BUGTRAQ_ID>",
        );
        let params = params_of(&draft);
        for (param, value) in [
            ("vuln_title", "openssl"),
            ("categories", "Local"),
            ("products", "ios"),
            ("cve_ids", "CVE-2014-0160"),
            ("vendor_refs", "MS17-010"),
            ("bugtraq_id", "1234"),
        ] {
            assert!(params.contains(&(param.to_owned(), value.to_owned())), "{param}: {params:?}");
            assert!(params.contains(&(format!("not_{param}"), "1".to_owned())), "not_{param}: {params:?}");
        }
    }

    #[test]
    fn lists_top_lists_flags_and_other_phrases_are_spelled_as_create_takes_them() {
        let draft = dynamic_draft(
            "<DISCOVERY_METHOD>Remote and Authenticated</DISCOVERY_METHOD><PATCH_AVAILABLE>Yes</PATCH_AVAILABLE>\
             <VIRTUAL_PATCH_AVAILABLE>No</VIRTUAL_PATCH_AVAILABLE>\
             <QUALYS_TOP_20>Top Internal 10, Top External 10</QUALYS_TOP_20>\
             <OTHER>Not exploitable due to configuration, Non-running services, 2008 Sans 20</OTHER>\
             <CVSS_BASE_SCORE>7.0</CVSS_BASE_SCORE><CVSS_BASE_SCORE_OPERAND>greater than or equal to</CVSS_BASE_SCORE_OPERAND>",
        );
        let expected = [
            ("title", "Fresh criticals"),
            ("global", "0"),
            ("discovery_methods", "Remote,Authenticated"),
            ("patch_available", "1"),
            ("virtual_patch_available", "0"),
            ("qualys_top_lists", "Internal_10,External_10"),
            ("qids_not_exploitable", "1"),
            ("non_running_services", "1"),
            ("sans_20", "1"),
            ("cvss_base", "7.0"),
            ("cvss_base_operand", "greater than or equal to"),
        ];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        assert_eq!(params_of(&draft), expected);
        assert_eq!(criterion_params("DISCOVERY_METHOD", "All", None), Some(one("discovery_methods", "ALL")));
    }

    #[test]
    fn every_date_phrase_and_its_negation_becomes_its_date_parameter() {
        type Named = &'static [(&'static str, &'static str)];
        let cases: &[(&str, &str, Named)] = &[
            ("PUBLISHED", "01/01/2025-06/30/2025", &[("published_date_between", "01/01/2025-06/30/2025")]),
            ("PUBLISHED", "03/02/2026-03/02/2026", &[("published_date_today", "1")]),
            ("PUBLISHED", "02/01/2026-02/01/2026", &[("published_date_between", "02/01/2026-02/01/2026")]),
            ("USER_MODIFIED", "Today", &[("user_modified_date_today", "1")]),
            ("USER_MODIFIED", "Previous week", &[("user_modified_date_in_previous", "Week")]),
            ("USER_MODIFIED", "Previous month", &[("user_modified_date_in_previous", "Month")]),
            ("SERVICE_MODIFIED", "Previous quarter", &[("service_modified_date_in_previous", "Quarter")]),
            ("SERVICE_MODIFIED", "Previous year", &[("service_modified_date_in_previous", "Year")]),
            ("SERVICE_MODIFIED", "Last 30 days", &[("service_modified_date_within_last_days", "30")]),
            ("PUBLISHED", "NOT Last 7 days", &[("published_date_within_last_days", "7"), ("not_published", "1")]),
            (
                "USER_MODIFIED",
                "NOT 01/01/2025-06/30/2025",
                &[("user_modified_date_between", "01/01/2025-06/30/2025"), ("not_user_modified", "1")],
            ),
        ];
        for (element, prose, expected) in cases {
            let expected: Vec<(String, String)> =
                expected.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
            assert_eq!(criterion_params(element, prose, Some("03/02/2026")), Some(expected), "{element} {prose}");
        }
        for prose in ["Last days", "Previous decade", "1/1/2025-6/30/2025", "since Monday"] {
            assert_eq!(criterion_params("PUBLISHED", prose, None), None, "{prose}");
        }
        let draft = dynamic_draft("<PUBLISHED>03/02/2026-03/02/2026</PUBLISHED>");
        assert_eq!(param(&draft, "published_date_today").as_deref(), Some("1"), "the capture's own date");
    }

    #[test]
    fn an_unknown_criterion_makes_the_list_a_manual_step_naming_it() {
        let text = dynamic(
            "DYNAMIC_SEARCH_LIST_OUTPUT",
            "<CONFIRMED_SEVERITY>5</CONFIRMED_SEVERITY><THREAT_PROTECTION>Zero Day</THREAT_PROTECTION>\
             <OTHER>Exploit kit, Non-running services</OTHER><EXPLOITABILITY>NOT Metasploit</EXPLOITABILITY>",
        );
        let (outputs, refs) = Fixture::new(&[("dynamic.xml", &text)]).run(&[plan]).expect("plans");
        let out = &outputs[0];
        assert!(out.requests.is_empty(), "never created with fewer criteria");
        assert_eq!(out.skipped.len(), 1);
        let step = &out.manual_steps[0];
        assert_eq!(step.id, Step::SearchListsByHand.id());
        assert_eq!(
            step.items,
            ["dynamic search list \"Fresh criticals\": criteria not understood: THREAT_PROTECTION \"Zero Day\", \
                 OTHER \"Exploit kit, Non-running services\", EXPLOITABILITY \"NOT Metasploit\""]
        );
        assert_eq!(refs.get(RefKind::SearchListTitle, "Fresh criticals"), None);
    }

    #[test]
    fn a_list_without_exported_criteria_selects_by_rtis_only_and_is_a_manual_step() {
        for criteria in ["", "<CRITERIA/>"] {
            let text = dynamic("DYNAMIC_SEARCH_LIST_OUTPUT", "").replace("<CRITERIA></CRITERIA>", criteria);
            let out = Fixture::new(&[("dynamic.xml", &text)]).plan(plan);
            assert!(out.requests.is_empty(), "it would select every QID");
            assert!(out.manual_steps[0].items[0].contains("Threat Protection RTIs only"), "{:?}", out.manual_steps);
        }
    }

    #[test]
    fn a_dynamic_title_longer_than_qualys_takes_is_refused() {
        let text = dynamic("DYNAMIC_SEARCH_LIST_OUTPUT", "").replace("Fresh criticals", &"t".repeat(257));
        let err = Fixture::new(&[("dynamic.xml", &text)]).try_plan(plan).expect_err("too long");
        assert!(err.to_string().contains("dynamic.xml:2"), "{err}");
        assert!(err.to_string().contains("257 characters"), "{err}");
    }

    #[test]
    fn a_list_the_target_has_is_mapped_and_a_title_of_the_other_type_refused() {
        let target = STATIC.replace("<ID>101</ID>", "<ID>9001</ID>");
        let fixture = Fixture::new(&[("static.xml", STATIC)]).target(&[("static.xml", &target)]);
        let (outputs, refs) = fixture.run(&[plan]).expect("plans");
        assert!(outputs[0].requests.is_empty());
        assert!(outputs[0].skipped[0].reason.contains("search list 9001"));
        assert_eq!(refs.get(RefKind::SearchListTitle, "Excluded QIDs & friends"), Some(&Target::Known("9001".into())));

        let dynamic_target =
            dynamic("DYNAMIC_SEARCH_LIST_OUTPUT", "").replace("Fresh criticals", "Excluded QIDs &amp; friends");
        let fixture = Fixture::new(&[("static.xml", STATIC)]).target(&[("dynamic.xml", &dynamic_target)]);
        let err = fixture.try_plan(plan).expect_err("title of a dynamic list");
        assert!(matches!(err, TransformError::TitleTaken { .. }), "{err}");
        assert!(err.to_string().contains("dynamic search list 201"), "{err}");
    }

    #[test]
    fn the_qids_a_list_selected_in_the_source_are_the_figure_to_compare() {
        let text = dynamic("DYNAMIC_SEARCH_LIST_OUTPUT", "<CONFIRMED_SEVERITY>5</CONFIRMED_SEVERITY>")
            .replace("</CRITERIA>", "</CRITERIA><QIDS><QID>1</QID><QID>2</QID></QIDS>");
        let out = Fixture::new(&[("dynamic.xml", &text)]).plan(plan);
        assert!(out.losses[0].reason.contains("(it selected 2 QIDs when the source was captured)"));
        assert!(param(&out.requests[0], "qids").is_none(), "a dynamic list selects by its criteria");
    }

    #[test]
    fn a_qid_that_is_not_a_number_is_refused_with_its_line() {
        let text = STATIC.replace("<QID>38173</QID>", "\n<QID>38173-38175</QID>");
        let err = Fixture::new(&[("static.xml", &text)]).try_plan(plan).expect_err("a range");
        assert!(err.to_string().contains("static.xml:13"), "{err}");
        assert!(err.to_string().contains("\"38173-38175\""), "{err}");
    }

    #[test]
    fn a_global_flag_qualys_does_not_write_is_refused() {
        let text = STATIC.replace("<GLOBAL>Yes</GLOBAL>", "<GLOBAL>Maybe</GLOBAL>");
        let err = Fixture::new(&[("static.xml", &text)]).try_plan(plan).expect_err("GLOBAL");
        assert!(err.to_string().contains("\"Maybe\""), "{err}");
    }
}
