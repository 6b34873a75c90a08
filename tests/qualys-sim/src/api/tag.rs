//! Asset tags through the QPS REST API: `POST /qps/rest/2.0/create/am/tag` (a `Tag` with its
//! whole subtree nested under `children/set`) and `POST /qps/rest/2.0/search/am/tag`
//! (`Criteria` filters, `limitResults`/`startFromOffset` paging, `hasMoreRecords`/`lastId`).
//!
//! QPS answers every outcome in a `ServiceResponse` whose `responseCode` says whether it
//! worked; read-only fields in a create (`id`, `created`, `modified`...) are refused the way
//! Qualys refuses them.

use crate::api::{Call, Ctx, Registration, Reply, qps, typed};
use crate::params::ApiError;
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State};
use crate::xml::{Document, Element, Parsed};

const IDS: IdSequence = IdSequence::new("tag", 11_000_001);
pub(crate) const CREATE_PATH: &str = "/qps/rest/2.0/create/am/tag";
pub(crate) const SEARCH_PATH: &str = "/qps/rest/2.0/search/am/tag";
/// `POST /qps/rest/2.0/delete/am/tag/<id>`.
const DELETE_PATH: &str = "/qps/rest/2.0/delete/am/tag/*";

pub(crate) static KIND: Registration = Registration {
    ops: &[
        qps(CREATE_PATH, true, create),
        qps(SEARCH_PATH, false, search),
        typed(qps(DELETE_PATH, true, delete), |id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())),
    ],
    seeds: &[SeedDoc::test(is_tag_search, seed)],
    defaults: Some(add_defaults),
    export,
    counts: &[("tags", |state| state.tags.len() as u64)],
};
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// Tags the platform creates in every subscription.
const SYSTEM_TAGS: &[&str] = &["Asset Groups", "Business Units", "Cloud Agent", "Malware Domain Assets"];
const RULE_TYPES: &[&str] = &[
    "STATIC",
    "GROOVY",
    "OS_REGEX",
    "NETWORK_RANGE",
    "NETWORK_RANGE_ENHANCED",
    "NAME_CONTAINS",
    "INSTALLED_SOFTWARE",
    "OPEN_PORTS",
    "VULN_EXIST",
    "ASSET_SEARCH",
    "CLOUD_ASSET",
    "NETWORK_TAG",
    "NETWORK",
    "GLOBAL_ASSET_VIEW",
    "TAGSET",
    "BUSINESS_INFORMATION",
    "VULN_DETECTION",
];
/// The elements a create may carry besides `children`.
const WRITABLE: &[&str] =
    &["name", "ruleType", "ruleText", "color", "criticalityScore", "description", "provider", "parentTagId"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag {
    pub id: u64,
    pub name: String,
    pub parent: Option<u64>,
    pub rule_type: Option<String>,
    pub rule_text: Option<String>,
    pub color: Option<String>,
    pub criticality: Option<String>,
    pub description: Option<String>,
    pub provider: Option<String>,
    pub created: String,
    pub modified: String,
    /// Fields of a seeded tag that the simulator does not model (`srcAssetGroupId`...), kept as read.
    pub extra: Vec<Element>,
}

/// The fields the simulator models.
const MODELLED: &[&str] = &[
    "id",
    "name",
    "parentTagId",
    "created",
    "modified",
    "ruleType",
    "ruleText",
    "color",
    "criticalityScore",
    "description",
    "provider",
    "children",
];

fn add_defaults(state: &mut State) {
    let now = state.now();
    for name in SYSTEM_TAGS {
        let id = state.next_id(IDS);
        let tag = Tag {
            id,
            name: (*name).to_owned(),
            parent: None,
            rule_type: None,
            rule_text: None,
            color: None,
            criticality: None,
            description: None,
            provider: None,
            created: now.clone(),
            modified: now.clone(),
            extra: Vec::new(),
        };
        state.tags.insert(id, tag);
    }
}

fn response(ctx: &Ctx, code: &str) -> Element {
    Element::new("ServiceResponse")
        .attr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
        .attr("xsi:noNamespaceSchemaLocation", format!("{}/qps/xsd/2.0/am/tag.xsd", ctx.base))
        .child(Element::text("responseCode", code))
}

/// A failed `ServiceResponse`, with the `errorResolution` Qualys adds to some failures.
pub(crate) fn error_document(ctx: &Ctx, code: &str, message: &str, resolution: Option<&str>) -> Document {
    let mut details = Element::new("responseErrorDetails").child(Element::text("errorMessage", message));
    details.push_opt(resolution.map(|r| Element::text("errorResolution", r)));
    Document::new(response(ctx, code).child(details))
}

/// QPS reports every refusal of a request as `INVALID_REQUEST` (see `api::Style::Qps`).
fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid_request(message)
}

/// The full `Tag` as search and create answers show it.
fn element(state: &State, t: &Tag) -> Element {
    let mut el = Element::new("Tag").child(Element::text("id", t.id.to_string())).child(Element::text("name", &t.name));
    el.push_opt(t.parent.map(|p| Element::text("parentTagId", p.to_string())));
    el.push(Element::text("created", &t.created));
    el.push(Element::text("modified", &t.modified));
    for (name, value) in [
        ("ruleType", &t.rule_type),
        ("ruleText", &t.rule_text),
        ("color", &t.color),
        ("criticalityScore", &t.criticality),
        ("description", &t.description),
        ("provider", &t.provider),
    ] {
        el.push_opt(value.as_ref().map(|v| Element::text(name, v)));
    }
    let children: Vec<&Tag> = state.tags.values().filter(|c| c.parent == Some(t.id)).collect();
    if !children.is_empty() {
        let mut list = Element::new("list");
        for c in children {
            list.push(
                Element::new("TagSimple")
                    .child(Element::text("id", c.id.to_string()))
                    .child(Element::text("name", &c.name)),
            );
        }
        el.push(Element::new("children").child(list));
    }
    for extra in &t.extra {
        el.push(extra.clone());
    }
    el
}

/// A tag to create, checked in full before anything is created.
struct NewTag {
    fields: Vec<(String, String)>,
    children: Vec<NewTag>,
}

fn read_new(el: &Element, nested: bool) -> Result<NewTag, ApiError> {
    let mut fields = Vec::new();
    let mut children = Vec::new();
    for child in el.elements() {
        match child.name.as_str() {
            "children" => {
                for group in child.elements() {
                    if group.name != "set" && group.name != "add" {
                        return Err(invalid(format!("children/{}: only set or add can create children", group.name)));
                    }
                    for c in group.elements() {
                        if c.name != "Tag" && c.name != "TagSimple" {
                            return Err(invalid(format!("{}: An error occurred while validating the element", c.name)));
                        }
                        children.push(read_new(c, true)?);
                    }
                }
            }
            "parentTagId" if nested => {
                return Err(invalid("parentTagId: a nested child takes its parent from where it is nested"));
            }
            name if WRITABLE.contains(&name) => fields.push((name.to_owned(), child.value())),
            name => return Err(invalid(format!("{name}: An error occurred while validating the element"))),
        }
    }
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("name").is_none_or(str::is_empty) {
        return Err(invalid("name: A tag must have a name"));
    }
    if let Some(rule) = get("ruleType").filter(|r| !RULE_TYPES.contains(r)) {
        return Err(invalid(format!("ruleType: Invalid value {rule}")));
    }
    if let Some(score) = get("criticalityScore").filter(|s| !matches!(s.parse::<u8>(), Ok(1..=5))) {
        return Err(invalid(format!("criticalityScore: Invalid value {score}; expected 1 to 5")));
    }
    if let Some(color) =
        get("color").filter(|c| !(c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|h| h.is_ascii_hexdigit())))
    {
        return Err(invalid(format!("color: Invalid value {color}; expected #RRGGBB")));
    }
    Ok(NewTag { fields, children })
}

fn insert(state: &mut State, new: &NewTag, parent: Option<u64>, now: &str) -> u64 {
    let id = state.next_id(IDS);
    let get = |k: &str| new.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let tag = Tag {
        id,
        name: get("name").unwrap_or_default(),
        parent,
        rule_type: get("ruleType"),
        rule_text: get("ruleText"),
        color: get("color"),
        criticality: get("criticalityScore"),
        description: get("description"),
        provider: get("provider"),
        created: now.to_owned(),
        modified: now.to_owned(),
        extra: Vec::new(),
    };
    state.tags.insert(id, tag);
    for child in &new.children {
        insert(state, child, Some(id), now);
    }
    id
}

/// Deletes one tag by the ID in the path. A tag that still has children is refused
/// (UNVERIFIED: Qualys may delete the subtree instead), so that a client deleting children
/// first is proven to do so.
fn delete(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    call.params.only(&[])?;
    let id: u64 = call.segment.parse().map_err(|_| invalid(format!("id: Invalid value {}", call.segment)))?;
    if !call.state.tags.contains_key(&id) {
        return Err(invalid(format!("id: No tag with id {id}")));
    }
    if call.state.tags.values().any(|t| t.parent == Some(id)) {
        return Err(invalid(format!("id: Tag {id} has child tags; delete them first")));
    }
    call.state.tags.remove(&id);
    call.state.tick();
    let deleted = Element::new("Tag").child(Element::text("id", id.to_string()));
    let root =
        response(call.ctx, "SUCCESS").child(Element::text("count", "1")).child(Element::new("data").child(deleted));
    Ok(Document::new(root).into())
}

fn create(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    call.params.only(&["fields"])?;
    let doc = call.xml_body().map_err(|e| invalid(e.text))?;
    let tag = doc
        .path(&["data", "Tag"])
        .ok_or_else(|| invalid("data/Tag: A ServiceRequest to create a tag must hold one Tag"))?;
    let new = read_new(tag, false)?;
    let parent = match new.fields.iter().find(|(n, _)| n == "parentTagId") {
        Some((_, v)) => {
            let id = v.parse::<u64>().map_err(|_| invalid(format!("parentTagId: Invalid value {v}")))?;
            if !call.state.tags.contains_key(&id) {
                return Err(invalid(format!("parentTagId: No tag with id {id}")));
            }
            Some(id)
        }
        None => None,
    };
    let now = call.state.tick();
    let id = insert(call.state, &new, parent, &now);
    let created = element(call.state, call.state.tags.get(&id).expect("the tag was inserted above"));
    let root =
        response(call.ctx, "SUCCESS").child(Element::text("count", "1")).child(Element::new("data").child(created));
    Ok(Document::new(root).into())
}

/// One `Criteria` of a search.
struct Criterion {
    field: String,
    operator: String,
    values: Vec<String>,
}

fn criteria(doc: &Element) -> Result<Vec<Criterion>, ApiError> {
    doc.get("filters")
        .into_iter()
        .flat_map(|f| f.all("Criteria"))
        .map(|c| {
            let field = c.attribute("field").unwrap_or_default().to_owned();
            let operator = c.attribute("operator").unwrap_or_default().trim().to_ascii_uppercase();
            let numeric = matches!(field.as_str(), "id" | "parent");
            let allowed: &[&str] = match field.as_str() {
                "id" | "parent" => &["EQUALS", "NOT EQUALS", "GREATER", "LESSER", "IN"],
                "name" | "ruleType" | "provider" | "color" => &["EQUALS", "NOT EQUALS", "CONTAINS", "IN"],
                other => return Err(invalid(format!("Criteria: Unknown field '{other}'"))),
            };
            if !allowed.contains(&operator.as_str()) {
                return Err(invalid(format!("Criteria: Operator '{operator}' is not supported for field '{field}'")));
            }
            let text = c.value();
            let values: Vec<String> = if operator == "IN" {
                text.split(',').map(|v| v.trim().to_owned()).collect()
            } else {
                vec![text.clone()]
            };
            if numeric && values.iter().any(|v| v.parse::<u64>().is_err()) {
                return Err(invalid(format!(
                    "Criteria: Invalid value format for criteria '{field}' ({text}). Specify criteria value(s) as Long."
                )));
            }
            Ok(Criterion { field, operator, values })
        })
        .collect()
}

fn matches(t: &Tag, c: &Criterion) -> bool {
    let value: Option<String> = match c.field.as_str() {
        "id" => Some(t.id.to_string()),
        "parent" => t.parent.map(|p| p.to_string()),
        "name" => Some(t.name.clone()),
        "ruleType" => t.rule_type.clone(),
        "provider" => t.provider.clone(),
        _ => t.color.clone(),
    };
    let number = |v: &str| v.parse::<u64>().ok();
    let Some(value) = value else { return c.operator == "NOT EQUALS" };
    let first = c.values.first().map(String::as_str).unwrap_or_default();
    match c.operator.as_str() {
        "EQUALS" => value == first,
        "NOT EQUALS" => value != first,
        "CONTAINS" => value.to_lowercase().contains(&first.to_lowercase()),
        "IN" => c.values.contains(&value),
        "GREATER" => number(&value) > number(first),
        _ => number(&value) < number(first),
    }
}

fn preference(doc: &Element, name: &str, default: usize) -> Result<usize, ApiError> {
    match doc.path(&["preferences", name]).map(Element::value) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| invalid(format!("preferences/{name}: Invalid value {v}"))),
    }
}

fn search(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    call.params.only(&["fields"])?;
    let doc = if call.body.iter().all(u8::is_ascii_whitespace) {
        Element::new("ServiceRequest")
    } else {
        call.xml_body().map_err(|e| invalid(e.text))?
    };
    let filters = criteria(&doc)?;
    let limit = preference(&doc, "limitResults", DEFAULT_LIMIT)?;
    if limit > MAX_LIMIT {
        return Err(invalid(format!("preferences/limitResults: at most {MAX_LIMIT}")));
    }
    let offset = preference(&doc, "startFromOffset", 1)?;
    let found: Vec<&Tag> = call.state.tags.values().filter(|t| filters.iter().all(|c| matches(t, c))).collect();
    let page: Vec<&Tag> = found.iter().skip(offset - 1).take(limit).copied().collect();
    let more = found.len() > offset - 1 + page.len();
    let fields = call.params.list("fields");
    let root = search_response(call.state, call.ctx, &page, more, &fields);
    Ok(Document::new(root).into())
}

fn search_response(state: &State, ctx: &Ctx, page: &[&Tag], more: bool, fields: &[String]) -> Element {
    let root = response(ctx, "SUCCESS").child(Element::text("count", page.len().to_string()));
    // As captured from Qualys: a search that finds nothing has neither `hasMoreRecords` nor `data`.
    if page.is_empty() {
        return root;
    }
    let mut root = root.child(Element::text("hasMoreRecords", more.to_string()));
    if let Some(last) = page.last().filter(|_| more) {
        root.push(Element::text("lastId", last.id.to_string()));
    }
    let mut data = Element::new("data");
    for t in page {
        let mut el = element(state, t);
        if !fields.is_empty() {
            el.children.retain(|n| matches!(n, crate::xml::Node::Element(e) if fields.contains(&e.name)));
        }
        data.push(el);
    }
    root.child(data)
}

/// Every tag, as one search answer: what the export writes.
fn export(state: &State, ctx: &Ctx) -> Result<Vec<(String, Document)>, ApiError> {
    let all: Vec<&Tag> = state.tags.values().collect();
    Ok(vec![("tags.xml".to_owned(), Document::new(search_response(state, ctx, &all, false, &[])))])
}

/// A tag search answer; other QPS answers share the root but not the schema.
fn is_tag_search(doc: &Parsed) -> bool {
    let root = &doc.root;
    root.name == "ServiceResponse"
        && (root.attribute("xsi:noNamespaceSchemaLocation").is_some_and(|s| s.ends_with("/am/tag.xsd"))
            || root.path(&["data", "Tag"]).is_some())
}

/// Reads a search answer (`ServiceResponse/data/Tag`). Parents come from `parentTagId` or
/// from the `children/list/TagSimple` of the parent.
fn seed(state: &mut State, file: &SeedFile) -> SeedResult {
    let Some(data) = file.root().get("data") else { return Ok(()) };
    let mut adopted = Vec::new();
    for el in data.all("Tag") {
        let id = seed::id(el, "id")?;
        let get = |k: &str| el.non_empty(k);
        let tag = Tag {
            id,
            name: seed::text(el, "name")?,
            parent: seed::opt_id(el, "parentTagId")?,
            rule_type: get("ruleType"),
            rule_text: get("ruleText"),
            color: get("color"),
            criticality: get("criticalityScore"),
            description: get("description"),
            provider: get("provider"),
            created: get("created").unwrap_or_default(),
            modified: get("modified").unwrap_or_default(),
            extra: seed::unmodelled(el, MODELLED),
        };
        for child in el.path(&["children", "list"]).into_iter().flat_map(|l| l.all("TagSimple")) {
            adopted.push((seed::id(child, "id")?, id));
        }
        state.observe_id(IDS, id);
        state.tags.insert(id, tag);
    }
    for (child, parent) in adopted {
        if let Some(t) = state.tags.get_mut(&child) {
            t.parent.get_or_insert(parent);
        }
    }
    Ok(())
}
