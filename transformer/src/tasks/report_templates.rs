//! Core task: Report templates (scan, PCI scan, patch, map).
//!
//! Source: `REPORT_TEMPLATE_LIST` (`/msp/report_template_list.php`): ID, TEMPLATE_TYPE, TITLE,
//! owner (USER/LOGIN) and GLOBAL of every template of every type; and one `REPORTTEMPLATE` per
//! template (`/api/2.0/fo/report/template/<type>/?action=export&report_format=xml&template_id=N`).
//! The exported body carries no ID, so each file is tied to its row of the list by the echoed
//! `template_id` (`echo_request=1`) or its name (`report_template_<ID>.xml`); a file that cannot
//! be tied, or holds several templates, is refused: matching by title breaks on duplicates.
//!
//! Rules:
//! - A template the target already lists with the same type and title (`--target-export`) is
//!   not created again; a template that is not stock is also warned about, since its settings
//!   are not compared.
//! - The stock templates every subscription has (Technical, Executive and High Severity Report,
//!   Qualys Patch Report, Unknown Device Report) and the platform's own (owned by "System") are
//!   mapped by type and title, not created.
//! - Compliance templates have no API (checklist, one item per template), nor do remediation,
//!   scorecard and every other type but scan, PCI scan, patch and map (checklist too).
//! - Every other template is created from its exported body (`text/xml`, one per request, so the
//!   new ID is read from the v2 `CODE` "... Created Successfully [ID]"), with every reference
//!   inside it remapped (card D3): `asset_groups` (IDs; titles are kept when the target will have
//!   them, since whether Qualys writes IDs or titles is UNVERIFIED), `network`,
//!   `tag_set_include`/`tag_set_exclude` when tags are set by ID, `search_list_ids` and
//!   `exclude_search_list_ids`, and `report_access_users` (the new logins the users task
//!   captures). `owner` is dropped: the API user owns what it creates; `global` is kept. A
//!   reference without a counterpart stops the transform, listed with every other.
//! - A probe lists the target's templates for the exact type and title, so an interrupted run
//!   can tell whether the template was created.

use std::collections::{BTreeMap, BTreeSet};

use qmig_schemas::{Effect, Extract, Segment};

use crate::checklist::Step;
use crate::context::Context;
use crate::error::TransformError;
use crate::export::{ExportFile, Kind, Record};
use crate::plan::{Draft, DraftBody, DraftProbe, Field, RefKind, Refs, Target, TaskOutput, object_id};
use crate::tasks::{asset_groups, networks, search_lists};
use crate::xml::{self, Element};

pub const TASK: &str = "report templates";
pub const LIST_PATH: &str = "/msp/report_template_list.php";

/// A template type the API exports and creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiType {
    /// The path segment: `/api/2.0/fo/report/template/<slug>/`.
    pub slug: &'static str,
    /// The element of one template inside `REPORTTEMPLATE`. Only `SCANTEMPLATE` is documented;
    /// the others are UNVERIFIED (card D1).
    pub element: &'static str,
    /// How the template list writes the type (compared without case). "PCI" and "PCI Scan" are
    /// both accepted: no capture of a PCI scan template's row was found (UNVERIFIED).
    pub listed_as: &'static [&'static str],
    /// How the review names it.
    pub label: &'static str,
}

pub const API_TYPES: [ApiType; 4] = [
    ApiType { slug: "scan", element: "SCANTEMPLATE", listed_as: &["Scan"], label: "scan" },
    ApiType { slug: "pciscan", element: "PCISCANTEMPLATE", listed_as: &["PCI", "PCI Scan"], label: "PCI scan" },
    ApiType { slug: "patch", element: "PATCHTEMPLATE", listed_as: &["Patch"], label: "patch" },
    ApiType { slug: "map", element: "MAPTEMPLATE", listed_as: &["Map"], label: "map" },
];

impl ApiType {
    pub fn of_listed(template_type: &str) -> Option<ApiType> {
        API_TYPES.into_iter().find(|t| t.listed_as.iter().any(|l| l.eq_ignore_ascii_case(template_type)))
    }

    pub fn path(self) -> String {
        format!("/api/2.0/fo/report/template/{}/", self.slug)
    }
}

/// (TEMPLATE_TYPE, TITLE) of the templates every new subscription has (card D3, and the real
/// list in `tests/corpus/report_template`).
pub(crate) const STOCK: [(&str, &str); 5] = [
    ("Scan", "Technical Report"),
    ("Scan", "Executive Report"),
    ("Scan", "High Severity Report"),
    ("Patch", "Qualys Patch Report"),
    ("Map", "Unknown Device Report"),
];

/// The owner the list gives the platform's own templates.
pub(crate) const PLATFORM_OWNER: &str = "System";
const COMPLIANCE: &str = "Compliance";

const ASSET_GROUP_HINT: &str = "export the asset group in the asset group list (the asset groups task creates it), \
     or capture the target's asset groups into --target-export";
const TAG_HINT: &str = "export the tag in the tag search (the asset tags task creates it), or capture the target's tags into --target-export";
const USER_HINT: &str = "the user is not migrated (absent from the user list, or a role the API cannot create): \
     create it in the target and capture the target's user list into --target-export, or remove it from the \
     template's users in the source and capture the template again";

/// A row of the template list.
#[derive(Debug, Clone)]
pub struct Listed<'a> {
    pub id: &'a str,
    pub template_type: &'a str,
    pub title: &'a str,
    pub owner: Option<&'a str>,
    pub record: Record<'a>,
}

impl<'a> Listed<'a> {
    pub fn parse(record: Record<'a>) -> Result<Listed<'a>, TransformError> {
        let id = record.required("report template", "ID")?;
        let object = format!("report template {id}");
        let required = |path: &str| record.required(&object, path);
        Ok(Listed {
            id,
            template_type: required("TEMPLATE_TYPE")?,
            title: required("TITLE")?,
            owner: record.text("USER/LOGIN"),
            record,
        })
    }

    /// A template every subscription has: mapped by type and title, never created.
    pub fn is_stock(&self) -> bool {
        self.owner == Some(PLATFORM_OWNER)
            || STOCK.iter().any(|(t, title)| t.eq_ignore_ascii_case(self.template_type) && *title == self.title)
    }

    fn key(&self) -> (String, &'a str) {
        (self.template_type.to_ascii_lowercase(), self.title)
    }
}

pub fn plan(ctx: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let mut target: BTreeMap<(String, &str), &str> = BTreeMap::new();
    for record in ctx.target_records(Kind::ReportTemplateList) {
        let listed = Listed::parse(record)?;
        target.insert(listed.key(), listed.id);
    }
    let mut bodies = exported(ctx)?;
    let mut group_titles: BTreeSet<&str> = asset_groups::source_titles(ctx).collect();
    group_titles.extend(asset_groups::existing_in_target(ctx)?.into_keys());
    group_titles.insert(asset_groups::ALL);
    let mut compliance = Vec::new();
    let mut by_hand = Vec::new();
    for record in ctx.export.records(Kind::ReportTemplateList) {
        let listed = Listed::parse(record)?;
        out.source_objects += 1;
        let body = bodies.remove(listed.id);
        let object = format!("{} report template \"{}\"", listed.template_type, listed.title);
        let source = record.source(Some(listed.id), Some(listed.title));
        if let Some(target_id) = target.get(&listed.key()) {
            let reason = format!("already in the target as report template {target_id} (target export)");
            if !listed.is_stock() {
                out.warn(
                    format!("{object} is not created: the target has one of that type and title, whose settings are not compared"),
                    Some(source.clone()),
                );
            }
            out.skip(object, reason, Some(source));
            continue;
        }
        if listed.is_stock() {
            let reason = "a stock template every subscription has: mapped by type and title, not created \
                          (changes made to it in the source are not carried over)";
            out.skip(object, reason, Some(source));
            continue;
        }
        let Some(api) = ApiType::of_listed(listed.template_type) else {
            let item = format!("\"{}\" ({}, ID {})", listed.title, listed.template_type, listed.id);
            if listed.template_type.eq_ignore_ascii_case(COMPLIANCE) {
                compliance.push(item);
            } else {
                by_hand.push(item);
            }
            out.skip(
                object,
                format!("{} templates have no create API (checklist)", listed.template_type),
                Some(source),
            );
            continue;
        };
        let body = body.ok_or_else(|| TransformError::TemplateUnexported {
            source_ref: source.clone(),
            template: object.clone(),
            slug: api.slug.to_owned(),
            id: listed.id.to_owned(),
        })?;
        check_body(&listed, api, body)?;
        let used_by = format!("report template \"{}\"", listed.title);
        let mut remapper = Remapper::new(refs, used_by, &group_titles, tags_set_by_id(body.element));
        let mut xml = DraftBody::xml();
        xml.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<REPORTTEMPLATE>");
        write_element(&mut xml, body.element, &mut |info| remapper.rewrite(info));
        xml.raw("</REPORTTEMPLATE>\n");
        let remaps = remapper.remaps;
        if let Some(owner) = info_value(body.element, "owner").or(listed.owner) {
            out.lose(
                object.clone(),
                vec![format!("owner ({owner})")],
                "the API user owns every template it creates",
                Some(source.clone()),
            );
        }
        let id = object_id("report-template", &format!("{}/{}", api.slug, listed.title));
        let probe = DraftProbe::list(LIST_PATH, &[], "REPORT_TEMPLATE", "TITLE", listed.title)
            .and("TEMPLATE_TYPE", listed.template_type)
            .fills(&id, Field::Id, "ID");
        let summary = format!("Create {} report template \"{}\"", api.label, listed.title);
        let mut draft = Draft::post(TASK, id, Effect::Create, &api.path(), summary)
            .param("action", "create")
            .param("report_format", "xml")
            .body(xml)
            .capture(Field::Id, Extract::NewId)
            .probe(probe)
            .source(source);
        for (kind, key, target) in &remaps {
            draft = draft.remap(*kind, key, target);
        }
        out.request(draft);
    }
    if let Some((id, body)) = bodies.into_iter().next() {
        return Err(TransformError::TemplateUntied {
            file: body.file.path.clone(),
            reason: format!("template {id} is not in the report template list; capture the list again"),
        });
    }
    out.step(Step::ComplianceReportTemplates, compliance);
    out.step(Step::ReportTemplatesByHand, by_hand);
    Ok(out)
}

/// The exported bodies by template ID, each file tied to one template.
fn exported<'a>(ctx: &Context<'a>) -> Result<BTreeMap<&'a str, Record<'a>>, TransformError> {
    let mut bodies: BTreeMap<&'a str, Record<'a>> = BTreeMap::new();
    for file in ctx.export.files(Kind::ReportTemplate) {
        let untied = |reason: String| TransformError::TemplateUntied { file: file.path.clone(), reason };
        let mut records = file.records();
        let body = records.next().ok_or_else(|| untied("it holds no template".to_owned()))?;
        if records.next().is_some() {
            return Err(untied(format!("it holds {} templates", file.document.records.len())));
        }
        let id = tied_id(file)
            .ok_or_else(|| untied("neither an echoed template_id nor the file name gives its ID".to_owned()))?;
        if let Some(first) = bodies.insert(id, body) {
            return Err(untied(format!("template {id} is also exported in {}", first.file.path)));
        }
    }
    Ok(bodies)
}

/// The ID of the one template a file holds: the echoed `template_id`, else the digits that end
/// the file name (`report_template_4711.xml`).
fn tied_id(file: &ExportFile) -> Option<&str> {
    let numeric = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    file.echoed("template_id")
        .filter(|id| numeric(id))
        .or_else(|| file.stem().rsplit(['_', '-', '.']).next().filter(|id| numeric(id)))
}

/// A body tied to the wrong row would create another template under this one's title.
fn check_body(listed: &Listed<'_>, api: ApiType, body: Record<'_>) -> Result<(), TransformError> {
    let object = format!("report template {} (\"{}\")", listed.id, listed.title);
    if body.element.name != api.element {
        let problem = format!(
            "the export holds a {} but the list says {} (expected {})",
            body.element.name, listed.template_type, api.element
        );
        return Err(body.invalid(&object, problem));
    }
    let mut keys = BTreeSet::new();
    for section in &body.element.children {
        for info in section.children_named("INFO") {
            let key = info.attr("key").unwrap_or_default();
            if !keys.insert(key) {
                let problem = format!("INFO key=\"{key}\" is given twice: either value could be the true one");
                return Err(body.nested(info).invalid(&object, problem));
            }
        }
    }
    match info_value(body.element, "title") {
        Some(title) if title == listed.title => Ok(()),
        Some(title) => Err(body.invalid(&object, format!("the export's title is \"{title}\", not the list's"))),
        None => Err(body.invalid(&object, "the export has no TITLE/INFO key=\"title\"")),
    }
}

/// The `INFO` element of `key`, in any section of a template.
fn info<'e>(template: &'e Element, key: &str) -> Option<&'e Element> {
    template.children.iter().flat_map(|section| section.children_named("INFO")).find(|i| i.attr("key") == Some(key))
}

fn info_value<'e>(template: &'e Element, key: &str) -> Option<&'e str> {
    info(template, key).map(Element::value).filter(|v| !v.is_empty())
}

/// Tags are chosen by ID unless the template says `tag_set_by` `name` (Qualys's default is ID).
fn tags_set_by_id(template: &Element) -> bool {
    !info_value(template, "tag_set_by").is_some_and(|by| by.eq_ignore_ascii_case("name"))
}

/// What becomes of one `INFO` element in the created template.
enum Rewrite {
    Keep,
    Drop,
    Replace(Vec<Segment>),
}

/// Replaces the references of one template by their targets, recording each for the review.
struct Remapper<'r> {
    refs: &'r mut Refs,
    used_by: String,
    group_titles: &'r BTreeSet<&'r str>,
    tags_by_id: bool,
    remaps: Vec<(RefKind, String, Target)>,
}

impl<'r> Remapper<'r> {
    fn new(refs: &'r mut Refs, used_by: String, group_titles: &'r BTreeSet<&'r str>, tags_by_id: bool) -> Self {
        Remapper { refs, used_by, group_titles, tags_by_id, remaps: Vec::new() }
    }

    fn rewrite(&mut self, info: &Element) -> Rewrite {
        let value = info.value();
        match info.attr("key").unwrap_or_default() {
            "owner" => Rewrite::Drop,
            _ if value.is_empty() => Rewrite::Keep,
            "network" => self.list(value, |this, id| this.resolve(RefKind::Network, id)),
            "asset_groups" => self.list(value, Remapper::asset_group),
            "tag_set_include" | "tag_set_exclude" if self.tags_by_id => {
                self.list(value, |this, id| this.resolve(RefKind::Tag, id))
            }
            "search_list_ids" | "exclude_search_list_ids" => {
                self.list(value, |this, id| this.resolve(RefKind::SearchList, id))
            }
            "report_access_users" => self.list(value, |this, login| this.resolve(RefKind::User, login)),
            _ => Rewrite::Keep,
        }
    }

    /// A comma-separated list, each entry replaced by `resolve`.
    fn list(&mut self, value: &str, mut resolve: impl FnMut(&mut Self, &str) -> Segment) -> Rewrite {
        let mut segments = Vec::new();
        for (index, entry) in value.split(',').map(str::trim).filter(|e| !e.is_empty()).enumerate() {
            if index > 0 {
                segments.push(Segment::Text(",".to_owned()));
            }
            segments.push(resolve(self, entry));
        }
        Rewrite::Replace(segments)
    }

    /// An asset group by ID, or by a title the target will have.
    fn asset_group(&mut self, entry: &str) -> Segment {
        if entry.bytes().all(|b| b.is_ascii_digit()) || !self.group_titles.contains(entry) {
            return self.resolve(RefKind::AssetGroup, entry);
        }
        Segment::Text(entry.to_owned())
    }

    fn resolve(&mut self, kind: RefKind, key: &str) -> Segment {
        let target = match kind {
            RefKind::Network => networks::require(self.refs, key, &self.used_by),
            RefKind::SearchList => search_lists::require(self.refs, key, &self.used_by),
            _ => self.refs.require(kind, key, &self.used_by, || hint(kind).to_owned()),
        };
        match target {
            Some(target) => {
                let segment = target.segment();
                self.remaps.push((kind, key.to_owned(), target));
                segment
            }
            // The transform stops with every unresolved reference listed; the text keeps the
            // body well-formed until then.
            None => Segment::Text(key.to_owned()),
        }
    }
}

fn hint(kind: RefKind) -> &'static str {
    match kind {
        RefKind::AssetGroup => ASSET_GROUP_HINT,
        RefKind::Tag => TAG_HINT,
        _ => USER_HINT,
    }
}

/// Writes an exported element back as XML, each `INFO` passed through `rewrite`.
fn write_element(out: &mut DraftBody, element: &Element, rewrite: &mut dyn FnMut(&Element) -> Rewrite) {
    let replaced = if element.name == "INFO" { rewrite(element) } else { Rewrite::Keep };
    if matches!(replaced, Rewrite::Drop) {
        return;
    }
    out.raw(&format!("<{}", element.name));
    for (name, value) in &element.attrs {
        out.raw(&format!(" {name}=\"{}\"", xml::escape(value)));
    }
    out.raw(">");
    match replaced {
        Rewrite::Replace(segments) => {
            for segment in segments {
                out.segment(segment);
            }
        }
        _ if element.children.is_empty() => {
            out.raw(&xml::escape(element.value()));
        }
        _ => {
            for child in &element.children {
                write_element(out, child, rewrite);
            }
        }
    }
    out.raw(&format!("</{}>", element.name));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransformError;
    use crate::tasks::test_support::Fixture;

    fn row(id: &str, template_type: &str, title: &str, owner: &str) -> String {
        format!(
            "<REPORT_TEMPLATE><ID>{id}</ID><TYPE>Auto</TYPE><TEMPLATE_TYPE>{template_type}</TEMPLATE_TYPE>\
             <TITLE><![CDATA[{title}]]></TITLE><USER><LOGIN><![CDATA[{owner}]]></LOGIN>\
             <FIRSTNAME>F</FIRSTNAME><LASTNAME>L</LASTNAME></USER>\
             <LAST_UPDATE>2026-01-05T10:00:00Z</LAST_UPDATE><GLOBAL>1</GLOBAL></REPORT_TEMPLATE>"
        )
    }

    fn list(rows: &[String]) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n\
             <!DOCTYPE REPORT_TEMPLATE_LIST SYSTEM \"https://qualysapi.qualys.com/report_template_list.dtd\">\n\
             <REPORT_TEMPLATE_LIST>\n{}\n</REPORT_TEMPLATE_LIST>\n",
            rows.join("\n")
        )
    }

    fn template(element: &str, title: &str, sections: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<REPORTTEMPLATE>\n<{element}>\n\
             <TITLE><INFO key=\"title\"><![CDATA[{title}]]></INFO><INFO key=\"owner\"><![CDATA[nw_mg]]></INFO></TITLE>\n\
             {sections}\n</{element}>\n</REPORTTEMPLATE>\n"
        )
    }

    const REFERENCES: &str = "<TARGET><INFO key=\"asset_groups\"><![CDATA[20, DMZ]]></INFO>\
        <INFO key=\"network\">1103</INFO><INFO key=\"tag_set_by\">id</INFO>\
        <INFO key=\"tag_set_include\">7001,7002</INFO><INFO key=\"tag_include_selector\">any</INFO></TARGET>\
        <FILTER><INFO key=\"search_list_ids\">501</INFO><INFO key=\"exclude_search_list_ids\"></INFO>\
        <INFO key=\"status_new\">1</INFO></FILTER>\
        <USERACCESS><INFO key=\"report_access_users\">nw_sc,nw_rd</INFO><INFO key=\"global\">1</INFO></USERACCESS>";

    const GROUPS: &str = "<ASSET_GROUP_LIST_OUTPUT><RESPONSE><ASSET_GROUP_LIST>\
        <ASSET_GROUP><ID>20</ID><TITLE>Web</TITLE></ASSET_GROUP><ASSET_GROUP><ID>21</ID><TITLE>DMZ</TITLE></ASSET_GROUP>\
        </ASSET_GROUP_LIST></RESPONSE></ASSET_GROUP_LIST_OUTPUT>";

    /// What the earlier tasks leave for this one: some targets known now, some captured.
    fn migrated(_: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
        refs.set(RefKind::Network, "1103", Target::Captured("network/Corp East#id".into()));
        refs.set(RefKind::AssetGroup, "20", Target::Captured("asset-group/Web#id".into()));
        refs.set(RefKind::AssetGroup, "21", Target::Known("921".into()));
        refs.set(RefKind::Tag, "7001", Target::Known("88001".into()));
        refs.set(RefKind::Tag, "7002", Target::Captured("tag/Linux#id".into()));
        refs.set(RefKind::SearchList, "501", Target::Captured("search-list/Patch Tuesday#id".into()));
        refs.set(RefKind::User, "nw_sc", Target::Captured("user/nw_sc#login".into()));
        refs.set(RefKind::User, "nw_rd", Target::Known("tg_rd".into()));
        Ok(TaskOutput::new("earlier tasks"))
    }

    fn sample_list() -> String {
        list(&[
            row("900", "Scan", "Technical Report", "nw_mg"),
            row("901", "Scan", "Weekly DMZ & Web", "nw_mg"),
            row("902", "Compliance", "PCI Policy Summary", "nw_mg"),
            row("903", "Remediation", "Tickets per Owner", "nw_mg"),
            row("904", "Compliance", "Qualys Top 20 Report", "System"),
            row("905", "Patch", "Patch by Group", "nw_sc"),
        ])
    }

    /// The sample files, each of `changes` replacing the file of its name (an empty text
    /// leaves the file out) or adding one.
    fn fixture(changes: &[(&str, &str)]) -> Fixture {
        let list = sample_list();
        let scan = template("SCANTEMPLATE", "Weekly DMZ & Web", REFERENCES);
        let patch =
            template("PATCHTEMPLATE", "Patch by Group", "<TARGET><INFO key=\"asset_groups\">21</INFO></TARGET>");
        let mut files = vec![
            ("groups.xml", GROUPS),
            ("report_templates.xml", list.as_str()),
            ("report_template_901.xml", scan.as_str()),
            ("templates/patch-905.xml", patch.as_str()),
        ];
        files.retain(|(name, _)| changes.iter().all(|(changed, _)| changed != name));
        files.extend(changes.iter().filter(|(_, text)| !text.is_empty()));
        Fixture::new(&files)
    }

    fn body_text(draft: &Draft) -> &str {
        &draft.body.as_ref().expect("an XML body").text
    }

    #[test]
    fn every_reference_inside_a_template_is_remapped_and_shown() {
        let out = fixture(&[]).try_plan_after(&[migrated], plan).expect("plans");
        assert_eq!(out.source_objects, 6);
        let [scan, patch] = out.requests.as_slice() else { panic!("two creates: {:?}", out.requests) };
        assert_eq!(scan.id, "report-template/scan/Weekly DMZ & Web");
        assert_eq!(scan.path, "/api/2.0/fo/report/template/scan/");
        assert_eq!(patch.path, "/api/2.0/fo/report/template/patch/");
        let body = body_text(scan);
        for expected in [
            "<INFO key=\"asset_groups\">{{capture:asset-group/Web#id}},DMZ</INFO>",
            "<INFO key=\"network\">{{capture:network/Corp East#id}}</INFO>",
            "<INFO key=\"tag_set_include\">88001,{{capture:tag/Linux#id}}</INFO>",
            "<INFO key=\"search_list_ids\">{{capture:search-list/Patch Tuesday#id}}</INFO>",
            "<INFO key=\"exclude_search_list_ids\"></INFO>",
            "<INFO key=\"report_access_users\">{{capture:user/nw_sc#login}},tg_rd</INFO>",
            "<INFO key=\"global\">1</INFO>",
            "<INFO key=\"title\">Weekly DMZ &amp; Web</INFO>",
        ] {
            assert!(body.contains(expected), "{expected} is not in {body}");
        }
        assert!(!body.contains("owner"), "the owner is dropped: {body}");
        assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<REPORTTEMPLATE><SCANTEMPLATE>"));
        let slots: Vec<String> =
            scan.body.as_ref().expect("body").slots.iter().map(|s| s.value.placeholder()).collect();
        assert_eq!(slots.len(), 5, "{slots:?}");
        let remapped: Vec<(String, String, String)> =
            scan.remapped.iter().map(|r| (r.kind.clone(), r.source.clone(), r.target.display())).collect();
        let remap = |k: &str, s: &str, t: &str| (k.to_owned(), s.to_owned(), t.to_owned());
        assert_eq!(
            remapped,
            [
                remap("asset group", "20", "{{capture:asset-group/Web#id}}"),
                remap("network", "1103", "{{capture:network/Corp East#id}}"),
                remap("tag", "7001", "88001"),
                remap("tag", "7002", "{{capture:tag/Linux#id}}"),
                remap("search list", "501", "{{capture:search-list/Patch Tuesday#id}}"),
                remap("user", "nw_sc", "{{capture:user/nw_sc#login}}"),
                remap("user", "nw_rd", "tg_rd"),
            ]
        );
        assert!(body_text(patch).contains("<INFO key=\"asset_groups\">921</INFO>"), "tied by its file name");
        let probe = scan.probe.as_ref().expect("probe");
        assert_eq!(probe.path, LIST_PATH);
        let conditions: Vec<(&str, String)> =
            probe.exists.conditions.iter().map(|c| (c.field.as_str(), c.equals.display())).collect();
        assert_eq!(conditions, [("TITLE", "Weekly DMZ & Web".to_owned()), ("TEMPLATE_TYPE", "Scan".to_owned())]);
        assert!(matches!(scan.captures[0].extract, Extract::NewId));
        assert!(out.losses.iter().any(|l| l.fields == ["owner (nw_mg)"]));
    }

    #[test]
    fn stock_platform_and_api_less_templates_are_not_created() {
        let out = fixture(&[]).try_plan_after(&[migrated], plan).expect("plans");
        let skipped: Vec<&str> = out.skipped.iter().map(|s| s.object.as_str()).collect();
        assert_eq!(
            skipped,
            [
                "Scan report template \"Technical Report\"",
                "Compliance report template \"PCI Policy Summary\"",
                "Remediation report template \"Tickets per Owner\"",
                "Compliance report template \"Qualys Top 20 Report\"",
            ]
        );
        assert!(out.skipped[0].reason.starts_with("a stock template"));
        let items = |step: Step| out.manual_steps.iter().find(|s| s.id == step.id()).map(|s| s.items.clone());
        assert_eq!(
            items(Step::ComplianceReportTemplates),
            Some(vec!["\"PCI Policy Summary\" (Compliance, ID 902)".into()])
        );
        assert_eq!(
            items(Step::ReportTemplatesByHand),
            Some(vec!["\"Tickets per Owner\" (Remediation, ID 903)".into()])
        );
    }

    #[test]
    fn a_title_the_target_has_is_mapped_and_a_clash_is_warned_about() {
        let target =
            list(&[row("6001", "Scan", "Technical Report", "tg_mg"), row("6002", "scan", "Weekly DMZ & Web", "tg_mg")]);
        let out =
            fixture(&[]).target(&[("report_templates.xml", &target)]).try_plan_after(&[migrated], plan).expect("plans");
        let ids: Vec<&str> = out.requests.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["report-template/patch/Patch by Group"]);
        let weekly = out.skipped.iter().find(|s| s.object.contains("Weekly")).expect("skipped");
        assert_eq!(weekly.reason, "already in the target as report template 6002 (target export)");
        assert_eq!(out.warnings.len(), 1, "only the template that is not stock: {:?}", out.warnings);
        assert!(out.warnings[0].message.contains("whose settings are not compared"));
    }

    #[test]
    fn references_without_a_counterpart_are_all_listed() {
        let refs_of_nothing = "<TARGET><INFO key=\"asset_groups\">20,Gone</INFO><INFO key=\"network\">4444</INFO>\
            <INFO key=\"tag_set_include\">7001</INFO></TARGET><FILTER><INFO key=\"exclude_search_list_ids\">502</INFO></FILTER>\
            <USERACCESS><INFO key=\"report_access_users\">nw_kb</INFO></USERACCESS>";
        let scan = template("SCANTEMPLATE", "Weekly DMZ & Web", refs_of_nothing);
        let fixture = fixture(&[("report_template_901.xml", &scan)]);
        let (_, refs) = fixture.run(&[plan]).expect("plans");
        let unresolved: Vec<(String, String, Vec<String>)> =
            refs.unresolved().into_iter().map(|u| (u.kind, u.key, u.used_by)).collect();
        let weekly = || vec!["report template \"Weekly DMZ & Web\"".to_owned()];
        let patch = vec!["report template \"Patch by Group\"".to_owned()];
        let found = |k: &str, key: &str, by: Vec<String>| (k.to_owned(), key.to_owned(), by);
        assert_eq!(
            unresolved,
            [
                found("network", "4444", weekly()),
                found("asset group", "20", weekly()),
                found("asset group", "21", patch),
                found("asset group", "Gone", weekly()),
                found("tag", "7001", weekly()),
                found("user", "nw_kb", weekly()),
                found("search list", "502", weekly()),
            ]
        );
    }

    #[test]
    fn an_export_that_cannot_be_tied_to_its_row_is_refused() {
        let scan = template("SCANTEMPLATE", "Weekly DMZ & Web", "");
        let untied = fixture(&[("report_template_901.xml", ""), ("scan_templates.xml", &scan)]);
        let error = untied.try_plan_after(&[migrated], plan).expect_err("refused");
        assert!(
            matches!(&error, TransformError::TemplateUntied { file, .. } if file == "scan_templates.xml"),
            "{error}"
        );

        let two = scan.replace("</REPORTTEMPLATE>", &format!("{}</REPORTTEMPLATE>", "<SCANTEMPLATE/>"));
        let several = fixture(&[("report_template_901.xml", &two)]).try_plan_after(&[migrated], plan);
        assert!(
            matches!(several, Err(TransformError::TemplateUntied { reason, .. }) if reason == "it holds 2 templates")
        );

        let stranger = fixture(&[("report_template_999.xml", &scan)]).try_plan_after(&[migrated], plan);
        assert!(
            matches!(&stranger, Err(TransformError::TemplateUntied { reason, .. }) if reason.contains("999 is not in the report template list")),
            "{stranger:?}"
        );
    }

    #[test]
    fn a_template_without_its_export_or_with_another_template_is_refused() {
        let missing = Fixture::new(&[("report_templates.xml", &list(&[row("905", "Patch", "Patch by Group", "x")]))]);
        let error = missing.try_plan(plan).expect_err("refused");
        assert!(
            error.to_string().contains("template/patch/?action=export&report_format=xml&template_id=905"),
            "{error}"
        );

        let map = template("MAPTEMPLATE", "Weekly DMZ & Web", "");
        let error =
            fixture(&[("report_template_901.xml", &map)]).try_plan_after(&[migrated], plan).expect_err("refused");
        assert!(error.to_string().contains("the export holds a MAPTEMPLATE but the list says Scan"), "{error}");

        let twice = template(
            "SCANTEMPLATE",
            "Weekly DMZ & Web",
            "<TARGET><INFO key=\"network\">1</INFO></TARGET>\
            <FILTER><INFO key=\"network\">2</INFO></FILTER>",
        );
        let error =
            fixture(&[("report_template_901.xml", &twice)]).try_plan_after(&[migrated], plan).expect_err("refused");
        assert!(error.to_string().contains("INFO key=\"network\" is given twice"), "{error}");

        let renamed = template("SCANTEMPLATE", "Monthly", "");
        let error =
            fixture(&[("report_template_901.xml", &renamed)]).try_plan_after(&[migrated], plan).expect_err("refused");
        assert!(error.to_string().contains("the export's title is \"Monthly\""), "{error}");
    }

    #[test]
    fn tags_chosen_by_name_are_kept() {
        let by_name = "<TARGET><INFO key=\"tag_set_by\">name</INFO><INFO key=\"tag_set_include\">Linux</INFO></TARGET>";
        let scan = template("SCANTEMPLATE", "Weekly DMZ & Web", by_name);
        let out = fixture(&[("report_template_901.xml", &scan)]).try_plan_after(&[migrated], plan).expect("plans");
        assert!(body_text(&out.requests[0]).contains("<INFO key=\"tag_set_include\">Linux</INFO>"));
        assert!(out.requests[0].remapped.is_empty());
    }
}
