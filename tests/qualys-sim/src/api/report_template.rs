//! Report templates: the V1 list of every template (`/msp/report_template_list.php`) and, for
//! the types the API can handle, `export` and `create` of `REPORTTEMPLATE` documents
//! (`/api/2.0/fo/report/template/{scan,pciscan,patch,map}/`).
//!
//! A v2 create answers with its success message in `CODE` ("Scan Report Template(s) Created
//! Successfully [ID]"), which Qualys documents and clients must not mistake for an error.

use crate::api::{
    Call, Ctx, Handler, Registration, Reply, Style, delete_by_id, read_with, simple_code, typed, v1, write,
};
use crate::params::{ApiError, Params};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State};
use crate::xml::{Document, Element};

const IDS: IdSequence = IdSequence::new("report_template", 6_000_001);
pub(crate) const LIST_PATH: &str = "/msp/report_template_list.php";
pub(crate) const PATH: &str = "/api/2.0/fo/report/template/*/";
const TYPES: &[&str] = &["scan", "pciscan", "patch", "map"];

fn is_type(slug: &str) -> bool {
    TYPES.contains(&slug)
}

pub(crate) static KIND: Registration = Registration {
    ops: &[
        v1(LIST_PATH, None, false, Style::GenericReturn, Handler::Doc(list_doc)),
        typed(read_with(PATH, "export", Handler::TypedDoc(export_doc)), is_type),
        typed(write(PATH, "create", create), is_type),
        typed(write(PATH, "delete", delete), is_type),
    ],
    seeds: &[SeedDoc::root("REPORT_TEMPLATE_LIST", seed_list), SeedDoc::root("REPORTTEMPLATE", seed_export)],
    defaults: Some(add_defaults),
    export,
    counts: &[("report_templates", |state| state.report_templates.len() as u64)],
};

/// Per API type: the element inside `REPORTTEMPLATE`, the list's `TEMPLATE_TYPE`, and the
/// name used in the create answer.
const SHAPES: [(&str, &str, &str, &str); 4] = [
    ("scan", "SCANTEMPLATE", "Scan", "Scan"),
    ("pciscan", "PCISCANTEMPLATE", "PCI", "PCI Scan"),
    ("patch", "PATCHTEMPLATE", "Patch", "Patch"),
    ("map", "MAPTEMPLATE", "Map", "Map"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReportTemplate {
    pub id: u64,
    /// The list's `TEMPLATE_TYPE`: Scan, PCI, Patch, Map, and the types without an API
    /// (Compliance, Remediation, ...).
    pub template_type: String,
    /// Auto or Manual.
    pub report_type: String,
    pub title: String,
    /// Login, first name, last name.
    pub owner: [String; 3],
    pub last_update: String,
    pub global: bool,
    /// The `*TEMPLATE` element, for the types the API exports.
    pub body: Option<Element>,
}

fn shape_of_slug(slug: &str) -> Option<(&'static str, &'static str, &'static str, &'static str)> {
    SHAPES.into_iter().find(|s| s.0 == slug)
}

/// The `INFO key="title"` of a `*TEMPLATE` element.
fn body_title(body: &Element) -> Option<String> {
    body.get("TITLE")?
        .all("INFO")
        .find(|i| i.attribute("key") == Some("title"))
        .map(Element::value)
        .filter(|t| !t.is_empty())
}

fn body(element: &str, title: &str, owner: &str) -> Element {
    Element::new(element).child(
        Element::new("TITLE")
            .child(Element::cdata("INFO", title).attr("key", "title"))
            .child(Element::cdata("INFO", owner).attr("key", "owner")),
    )
}

/// The templates Qualys gives every subscription, as a real list shows them
/// (`tests/corpus/report_template/ruby-qualys__templates.yml.response.xml`): the scan, patch
/// and map ones belong to the subscription's first user, the compliance and remediation ones to
/// "System".
fn add_defaults(state: &mut State) {
    const DEFAULTS: [(&str, &str, &str); 13] = [
        ("Auto", "Scan", "Executive Report"),
        ("Auto", "Scan", "Technical Report"),
        ("Auto", "Patch", "Qualys Patch Report"),
        ("Auto", "Scan", "High Severity Report"),
        ("Auto", "Compliance", "2008 SANS Top 20 Report"),
        ("Auto", "Compliance", "Qualys Top 20 Report"),
        ("Manual", "Compliance", "Payment Card Industry (PCI) Technical Report"),
        ("Manual", "Compliance", "Payment Card Industry (PCI) Executive Report"),
        ("Auto", "Remediation", "Executive Remediation Report"),
        ("Auto", "Remediation", "Tickets per Vulnerability"),
        ("Auto", "Remediation", "Tickets per User"),
        ("Auto", "Remediation", "Tickets per Asset Group"),
        ("Manual", "Map", "Unknown Device Report"),
    ];
    let first_user = api_user(state);
    let system = || ["System".to_owned(), "System".to_owned(), "System".to_owned()];
    for (report_type, template_type, title) in DEFAULTS {
        let id = state.next_id(IDS);
        let element = SHAPES.into_iter().find(|s| s.2 == template_type).map(|s| s.1);
        let owner = if element.is_some() { first_user.clone() } else { system() };
        let body = element.map(|e| body(e, title, &owner[0]));
        let template = ReportTemplate {
            id,
            template_type: template_type.into(),
            report_type: report_type.into(),
            title: title.into(),
            owner,
            last_update: state.now(),
            global: true,
            body,
        };
        state.report_templates.insert(id, template);
    }
}

/// Login, first and last name of the API user, who owns what it creates.
fn api_user(state: &State) -> [String; 3] {
    match state.users.values().find(|u| u.login == state.api_login) {
        Some(u) => {
            let name = |k: &str| u.contact.get(k).cloned().unwrap_or_default();
            [u.login.clone(), name("FIRSTNAME"), name("LASTNAME")]
        }
        None => [state.api_login.clone(), String::new(), String::new()],
    }
}

/// A template refers to asset groups (by ID, or by title), a network, tags (by ID unless
/// `tag_set_by` is `name`), search lists and users (by login): each must exist in the
/// subscription. Which error Qualys answers is not documented; the simulator answers 1905
/// naming the key and the value.
fn check_references(state: &State, body: &Element) -> Result<(), ApiError> {
    let infos: Vec<&Element> = body.elements().flat_map(|section| section.all("INFO")).collect();
    let tags_by_name =
        infos.iter().any(|i| i.attribute("key") == Some("tag_set_by") && i.value().trim().eq_ignore_ascii_case("name"));
    let id = |v: &str| v.parse::<u64>().ok();
    for info in &infos {
        let key = info.attribute("key").unwrap_or_default();
        let exists: &dyn Fn(&str) -> bool = match key {
            "asset_groups" => &|v| match id(v) {
                Some(group) => state.groups.contains_key(&group),
                None => state.groups.values().any(|g| g.title == v),
            },
            "network" => &|v| v == "0" || id(v).is_some_and(|n| state.networks.contains_key(&n)),
            "tag_set_include" | "tag_set_exclude" if tags_by_name => &|v| state.tags.values().any(|t| t.name == v),
            "tag_set_include" | "tag_set_exclude" => &|v| id(v).is_some_and(|t| state.tags.contains_key(&t)),
            "search_list_ids" | "exclude_search_list_ids" => {
                &|v| id(v).is_some_and(|l| state.static_lists.contains_key(&l) || state.dynamic_lists.contains_key(&l))
            }
            "report_access_users" => &|v| state.users.values().any(|u| u.login == v),
            _ => continue,
        };
        let value = info.value();
        if let Some(missing) = value.split(',').map(str::trim).filter(|v| !v.is_empty()).find(|v| !exists(v)) {
            return Err(ApiError::invalid(key, missing, "no such object in the subscription"));
        }
    }
    Ok(())
}

/// `REPORT_TEMPLATE_LIST/REPORT_TEMPLATE/(ID, TYPE, TEMPLATE_TYPE, TITLE, USER, LAST_UPDATE, GLOBAL)`.
fn list_doc(state: &State, params: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    params.only(&[])?;
    let mut root = Element::new("REPORT_TEMPLATE_LIST");
    for t in state.report_templates.values() {
        root.push(
            Element::new("REPORT_TEMPLATE")
                .child(Element::text("ID", t.id.to_string()))
                .child(Element::text("TYPE", &t.report_type))
                .child(Element::text("TEMPLATE_TYPE", &t.template_type))
                .child(Element::cdata("TITLE", &t.title))
                .child(
                    Element::new("USER")
                        .child(Element::cdata("LOGIN", &t.owner[0]))
                        .child(Element::cdata("FIRSTNAME", &t.owner[1]))
                        .child(Element::cdata("LASTNAME", &t.owner[2])),
                )
                .child(Element::text("LAST_UPDATE", &t.last_update))
                .child(Element::text("GLOBAL", if t.global { "1" } else { "0" })),
        );
    }
    Ok(Document::with_dtd(root, format!("{}/report_template_list.dtd", ctx.base)))
}

/// `REPORTTEMPLATE` holding one `*TEMPLATE` element per template of the type.
fn export_doc(state: &State, params: &Params, ctx: &Ctx, slug: &str) -> Result<Document, ApiError> {
    params.only(&["action", "report_format", "template_id"])?;
    check_format(params)?;
    let (_, _, template_type, _) = shape_of_slug(slug).ok_or_else(|| ApiError::invalid("type", slug, ""))?;
    let id = params.number("template_id")?;
    let mut root = Element::new("REPORTTEMPLATE");
    for t in
        state.report_templates.values().filter(|t| t.template_type == template_type && id.is_none_or(|i| i == t.id))
    {
        root.push_opt(t.body.clone());
    }
    Ok(Document::with_dtd(root, format!("{}/api/2.0/fo/report/template/{slug}/report_template.dtd", ctx.base)))
}

fn check_format(params: &Params) -> Result<(), ApiError> {
    match params.value("report_format") {
        Some(f) if !f.eq_ignore_ascii_case("xml") => Err(ApiError::invalid("report_format", f, "")),
        _ => Ok(()),
    }
}

/// `action=delete&template_id=`: a template of the path's type.
fn delete(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let (_, _, template_type, _) =
        shape_of_slug(call.segment).ok_or_else(|| ApiError::invalid("type", call.segment, ""))?;
    delete_by_id(
        call,
        "template_id",
        "report template",
        |state| &mut state.report_templates,
        |t| t.template_type == template_type,
    )
}

fn create(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    call.params.only(&["action", "report_format"])?;
    check_format(call.params)?;
    let (_, element, template_type, label) =
        shape_of_slug(call.segment).ok_or_else(|| ApiError::invalid("type", call.segment, ""))?;
    let doc = call.xml_body()?;
    let body = if doc.name == element { Some(&doc) } else { doc.get(element) }
        .cloned()
        .ok_or_else(|| ApiError::invalid_request(format!("The document holds no {element}")))?;
    let title =
        body_title(&body).ok_or_else(|| ApiError::invalid_request("The template has no TITLE/INFO key=\"title\""))?;
    if call
        .state
        .report_templates
        .values()
        .any(|t| t.template_type == template_type && t.title.eq_ignore_ascii_case(&title))
    {
        return Err(ApiError::invalid("title", &title, "A report template with this title already exists"));
    }
    check_references(call.state, &body)?;
    let global = body
        .get("USERACCESS")
        .into_iter()
        .flat_map(|u| u.all("INFO"))
        .any(|i| i.attribute("key") == Some("global") && i.value() == "1");
    let owner = api_user(call.state);
    let id = call.state.next_id(IDS);
    let now = call.state.tick();
    let template = ReportTemplate {
        id,
        template_type: template_type.into(),
        // Map templates work from map results, which the list shows as Manual (as the stock
        // Unknown Device Report); the other API types default to host-based (Auto) data.
        report_type: if template_type == "Map" { "Manual" } else { "Auto" }.into(),
        title,
        owner,
        last_update: now.clone(),
        global,
        body: Some(body),
    };
    call.state.report_templates.insert(id, template);
    let code = format!("{label} Report Template(s) Created Successfully [{id}]");
    Ok(simple_code(call.ctx, &now, &code, "").into())
}

/// The list of every template, then one `REPORTTEMPLATE` per API type that has templates.
fn export(state: &State, ctx: &Ctx) -> Result<Vec<(String, Document)>, ApiError> {
    let mut files = vec![("report_templates.xml".to_owned(), list_doc(state, &Params::default(), ctx)?)];
    let params = Params::from_pairs(&[("action", "export"), ("report_format", "xml")]);
    for slug in TYPES {
        let doc = export_doc(state, &params, ctx, slug)?;
        if !doc.root.children.is_empty() {
            files.push((format!("report_templates_{slug}.xml"), doc));
        }
    }
    Ok(files)
}

/// Reads `REPORT_TEMPLATE_LIST`.
fn seed_list(state: &mut State, file: &SeedFile) -> SeedResult {
    for el in file.root().all("REPORT_TEMPLATE") {
        let id = seed::id(el, "ID")?;
        let user = |k: &str| el.get("USER").and_then(|u| u.child_value(k)).unwrap_or_default();
        state.observe_id(IDS, id);
        let template = ReportTemplate {
            id,
            template_type: seed::text(el, "TEMPLATE_TYPE")?,
            report_type: el.child_value("TYPE").unwrap_or_default(),
            title: seed::text(el, "TITLE")?,
            owner: [user("LOGIN"), user("FIRSTNAME"), user("LASTNAME")],
            last_update: el.child_value("LAST_UPDATE").unwrap_or_default(),
            global: el.child_value("GLOBAL").as_deref() == Some("1"),
            body: None,
        };
        state.report_templates.insert(id, template);
    }
    Ok(())
}

/// Reads a `REPORTTEMPLATE` export: each template body joins the listed template of the
/// same type and title (read first), or becomes a template of its own.
fn seed_export(state: &mut State, file: &SeedFile) -> SeedResult {
    for body in file.root().elements() {
        let (_, _, template_type, _) = SHAPES
            .into_iter()
            .find(|s| s.1 == body.name)
            .ok_or_else(|| format!("unknown template element {}", body.name))?;
        let title = body_title(body).ok_or_else(|| format!("a {} has no title", body.name))?;
        let existing =
            state.report_templates.values_mut().find(|t| t.template_type == template_type && t.title == title);
        match existing {
            Some(t) => t.body = Some(body.clone()),
            None => {
                let id = state.next_id(IDS);
                let template = ReportTemplate {
                    id,
                    template_type: template_type.into(),
                    report_type: "Auto".into(),
                    title,
                    owner: [state.api_login.clone(), String::new(), String::new()],
                    last_update: state.now(),
                    global: false,
                    body: Some(body.clone()),
                };
                state.report_templates.insert(id, template);
            }
        }
    }
    Ok(())
}
