//! Compliance policies (`/api/2.0/fo/compliance/policy/`): `list`, `export`, `import`, and
//! the calls that give a policy its scope back after an import (asset groups and tags):
//! an export carries no scope.

use std::collections::BTreeSet;

use crate::api::{
    Call, Ctx, Handler, Registration, Reply, delete_by_id, group, id_runs, id_set, list_document, page, read,
    read_with, simple_return, write,
};
use crate::export;
use crate::params::{ApiError, Params, id_matches, id_ranges};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State};
use crate::xml::{Document, Element};

const IDS: IdSequence = IdSequence::new("policy", 10_000_001);
/// "At most 1,000 policies per request" (D-POLLIST); the next page's URL is in the WARNING.
const DEFAULT_PAGE: u64 = 1000;
pub(crate) const PATH: &str = "/api/2.0/fo/compliance/policy/";

pub(crate) static KIND: Registration = Registration {
    ops: &[
        read(PATH, "list", list_doc),
        read_with(PATH, "export", Handler::Call(export)),
        write(PATH, "import", import),
        write(PATH, "delete", |call| {
            delete_by_id(call, "id", "compliance policy", |state| &mut state.policies, |_| true)
        }),
        write(PATH, "add_asset_group_ids", add_asset_groups),
        write(PATH, "set_asset_group_ids", set_asset_groups),
        write(PATH, "add_asset_tags", add_asset_tags),
        write(PATH, "set_asset_tags", set_asset_tags),
    ],
    seeds: &[SeedDoc::root("POLICY_LIST_OUTPUT", seed_list), SeedDoc::root("POLICY_EXPORT_OUTPUT", seed_export)],
    defaults: None,
    export: |state, ctx| {
        let list = [("action", "list"), ("details", "Basic"), ("truncation_limit", "0")];
        let mut files = vec![export::file("policies.xml", &list, |p| list_doc(state, p, ctx))?];
        for p in state.policies.values() {
            files.push((format!("policy_{}.xml", p.id), export_doc(state, p, ctx)));
        }
        Ok(files)
    },
    counts: &[("policies", |state| state.policies.len() as u64)],
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub id: u64,
    pub title: String,
    pub created: String,
    pub created_by: String,
    pub modified: String,
    /// Who last changed it: the API user, for a policy the simulator imported or scoped.
    pub modified_by: String,
    /// The exported `POLICY` element (sections, controls, technologies...).
    pub body: Element,
    pub asset_group_ids: BTreeSet<u64>,
    pub tags: TagScope,
    /// List fields the simulator does not model (a seeded policy's `STATUS`, `IS_LOCKED`,
    /// `LAST_EVALUATED`...), written after the modelled ones.
    pub extra: Vec<Element>,
}

/// The list fields the simulator models.
const MODELLED: &[&str] = &[
    "ID",
    "TITLE",
    "CREATED",
    "LAST_MODIFIED",
    "ASSET_GROUP_IDS",
    "TAG_SET_INCLUDE",
    "TAG_SET_EXCLUDE",
    "TAG_INCLUDE_SELECTOR",
    "TAG_EXCLUDE_SELECTOR",
];

/// What the list says of a policy the simulator created.
fn created_extras() -> Vec<Element> {
    vec![Element::text("STATUS", "active"), Element::text("IS_LOCKED", "0")]
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TagScope {
    pub include: BTreeSet<u64>,
    pub exclude: BTreeSet<u64>,
    pub include_selector: Option<String>,
    pub exclude_selector: Option<String>,
}

fn body_with_title(body: &Element, title: &str) -> Element {
    let mut body = body.clone();
    body.set_child_text("TITLE", title);
    body
}

/// IDs as Qualys writes them in `ASSET_GROUP_IDS`: runs as `a-b`, comma-separated.
fn ranges(ids: &BTreeSet<u64>) -> String {
    let runs = id_runs(ids.iter().copied());
    runs.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect::<Vec<_>>().join(",")
}

fn list_doc(state: &State, params: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    params.only(&[
        "action",
        "echo_request",
        "details",
        "ids",
        "id_min",
        "id_max",
        "updated_after_datetime",
        "created_after_datetime",
        "truncation_limit",
    ])?;
    let details = params.choice("details", &["None", "Basic", "All"])?.unwrap_or("Basic");
    let ids = params.id_list("ids")?;
    let updated_after = params.value("updated_after_datetime");
    let created_after = params.value("created_after_datetime");
    let selected = state.policies.values().filter(|p| {
        ids.as_ref().is_none_or(|ids| id_matches(ids, p.id))
            && updated_after.is_none_or(|t| p.modified.as_str() > t)
            && created_after.is_none_or(|t| p.created.as_str() > t)
    });
    let page = page(selected.map(|p| (p.id, p)), params, ctx, PATH, DEFAULT_PAGE)?;
    let mut body = vec![if details == "None" {
        id_set(page.items.iter().map(|p| p.id))
    } else {
        let mut list = Element::new("POLICY_LIST");
        for p in page.items {
            list.push(element(p));
        }
        list
    }];
    body.extend(page.warning);
    list_document("POLICY_LIST_OUTPUT", ctx, PATH, params, &state.now(), body)
}

fn element(p: &Policy) -> Element {
    let mut el = Element::new("POLICY")
        .child(Element::text("ID", p.id.to_string()))
        .child(Element::cdata("TITLE", &p.title))
        .child(
            Element::new("CREATED")
                .child(Element::text("DATETIME", &p.created))
                .child(Element::cdata("BY", &p.created_by)),
        )
        .child(
            Element::new("LAST_MODIFIED")
                .child(Element::text("DATETIME", &p.modified))
                .child(Element::cdata("BY", &p.modified_by)),
        );
    if !p.asset_group_ids.is_empty() {
        el.push(Element::text("ASSET_GROUP_IDS", ranges(&p.asset_group_ids)));
    }
    for (name, ids) in [("TAG_SET_INCLUDE", &p.tags.include), ("TAG_SET_EXCLUDE", &p.tags.exclude)] {
        if !ids.is_empty() {
            let mut set = Element::new(name);
            for id in ids {
                set.push(Element::text("TAG_ID", id.to_string()));
            }
            el.push(set);
        }
    }
    el.push_opt(p.tags.include_selector.as_ref().map(|s| Element::text("TAG_INCLUDE_SELECTOR", s)));
    el.push_opt(p.tags.exclude_selector.as_ref().map(|s| Element::text("TAG_EXCLUDE_SELECTOR", s)));
    for extra in &p.extra {
        el.push(extra.clone());
    }
    el
}

fn export(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "id", "title", "show_user_controls", "show_appendix"])?;
    p.flag("show_user_controls", false)?;
    p.flag("show_appendix", false)?;
    let policy = match (p.number("id")?, p.value("title")) {
        (Some(_), Some(_)) => return Err(ApiError::exclusive(&["id", "title"])),
        (None, None) => return Err(ApiError::missing(&["id", "title"])),
        (Some(id), None) => {
            call.state.policies.get(&id).ok_or_else(|| ApiError::invalid("id", id, "No such policy"))?
        }
        (None, Some(t)) => call
            .state
            .policies
            .values()
            .find(|x| x.title == t)
            .ok_or_else(|| ApiError::invalid("title", t, "No such policy"))?,
    };
    Ok(export_doc(call.state, policy, call.ctx).into())
}

/// `POLICY_EXPORT_OUTPUT/RESPONSE/(DATETIME, POLICY)`.
fn export_doc(state: &State, policy: &Policy, ctx: &Ctx) -> Document {
    let root = Element::new("POLICY_EXPORT_OUTPUT").child(
        Element::new("RESPONSE")
            .child(Element::text("DATETIME", state.now()))
            .child(body_with_title(&policy.body, &policy.title)),
    );
    Document::with_dtd(root, format!("{}{PATH}policy_export_output.dtd", ctx.base))
}

fn import(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "title", "create_user_controls"])?;
    let title = p.require("title")?.trim().to_owned();
    p.flag("create_user_controls", false)?;
    if call.state.policies.values().any(|x| x.title.eq_ignore_ascii_case(&title)) {
        return Err(ApiError::invalid("title", &title, "A policy with this title already exists"));
    }
    let doc = call.xml_body()?;
    let body = doc.find("POLICY").ok_or_else(|| ApiError::invalid_request("The document holds no POLICY"))?;
    if body.get("APPENDIX").is_some() {
        return Err(ApiError::invalid_request(
            "A policy exported with its appendix cannot be imported; export it with show_appendix=0",
        ));
    }
    let body = body_with_title(body, &title);
    let id = call.state.next_id(IDS);
    let now = call.state.tick();
    let policy = Policy {
        id,
        title,
        created: now.clone(),
        created_by: call.state.api_login.clone(),
        modified: now.clone(),
        modified_by: call.state.api_login.clone(),
        body,
        asset_group_ids: BTreeSet::new(),
        tags: TagScope::default(),
        extra: created_extras(),
    };
    let items = [("ID", id.to_string()), ("TITLE", policy.title.clone())];
    call.state.policies.insert(id, policy);
    Ok(simple_return(call.ctx, &now, "Successfully imported compliance policy", &items).into())
}

fn policy_param(state: &State, p: &Params) -> Result<u64, ApiError> {
    let id = p.number("id")?.ok_or_else(|| ApiError::missing(&["id"]))?;
    if !state.policies.contains_key(&id) {
        return Err(ApiError::invalid("id", id, "No such policy"));
    }
    Ok(id)
}

fn change_asset_groups(call: &mut Call<'_>, replace: bool) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "id", "asset_group_ids", "evaluate_now"])?;
    let id = policy_param(call.state, p)?;
    p.flag("evaluate_now", false)?;
    let mut groups = BTreeSet::new();
    for (lo, hi) in p.id_list("asset_group_ids")?.ok_or_else(|| ApiError::missing(&["asset_group_ids"]))? {
        for g in lo..=hi {
            let group = call
                .state
                .groups
                .get(&g)
                .ok_or_else(|| ApiError::invalid("asset_group_ids", g, "No such asset group"))?;
            // "All" holds every host of the subscription, whatever its own IP set says.
            if group.ips.is_empty() && group.title != group::ALL {
                return Err(ApiError::invalid(
                    "asset_group_ids",
                    g,
                    "each asset group must have at least 1 assigned IP address",
                ));
            }
            groups.insert(g);
        }
    }
    let now = call.state.tick();
    let login = call.state.api_login.clone();
    if let Some(policy) = call.state.policies.get_mut(&id) {
        if replace {
            policy.asset_group_ids = groups;
        } else {
            policy.asset_group_ids.extend(groups);
        }
        policy.modified = now.clone();
        policy.modified_by.clone_from(&login);
    }
    Ok(simple_return(call.ctx, &now, "Asset groups successfully assigned to the policy", &[("ID", id.to_string())])
        .into())
}

fn add_asset_groups(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    change_asset_groups(call, false)
}

fn set_asset_groups(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    change_asset_groups(call, true)
}

fn change_tags(call: &mut Call<'_>, replace: bool) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&[
        "action",
        "id",
        "evaluate_now",
        "tag_set_by",
        "tag_include_selector",
        "tag_exclude_selector",
        "tag_set_include",
        "tag_set_exclude",
    ])?;
    let id = policy_param(call.state, p)?;
    p.flag("evaluate_now", false)?;
    let by_name = p.choice("tag_set_by", &["id", "name"])? == Some("name");
    let resolve = |param: &str| -> Result<BTreeSet<u64>, ApiError> {
        p.list(param)
            .iter()
            .map(|item| {
                let tag = if by_name {
                    call.state.tags.values().find(|t| &t.name == item).map(|t| t.id)
                } else {
                    item.parse::<u64>().ok().filter(|id| call.state.tags.contains_key(id))
                };
                tag.ok_or_else(|| ApiError::invalid(param, item, "No such tag"))
            })
            .collect()
    };
    let include = resolve("tag_set_include")?;
    let exclude = resolve("tag_set_exclude")?;
    if include.is_empty() && exclude.is_empty() {
        return Err(ApiError::missing(&["tag_set_include"]));
    }
    let include_selector = p.choice("tag_include_selector", &["any", "all"])?.map(str::to_owned);
    let exclude_selector = p.choice("tag_exclude_selector", &["any", "all"])?.map(str::to_owned);
    let now = call.state.tick();
    let login = call.state.api_login.clone();
    if let Some(policy) = call.state.policies.get_mut(&id) {
        let tags = &mut policy.tags;
        if replace {
            *tags = TagScope::default();
        }
        tags.include.extend(include);
        tags.exclude.extend(exclude);
        tags.include_selector = include_selector.or(tags.include_selector.take()).or_else(|| Some("any".into()));
        tags.exclude_selector = exclude_selector.or(tags.exclude_selector.take()).or_else(|| Some("any".into()));
        policy.modified = now.clone();
        policy.modified_by.clone_from(&login);
    }
    Ok(simple_return(call.ctx, &now, "Asset tags successfully assigned to the policy", &[("ID", id.to_string())])
        .into())
}

fn add_asset_tags(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    change_tags(call, false)
}

fn set_asset_tags(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    change_tags(call, true)
}

/// Reads `POLICY_LIST_OUTPUT` (details Basic or All).
fn seed_list(state: &mut State, file: &SeedFile) -> SeedResult {
    let root = file.root();
    for el in root.path(&["RESPONSE", "POLICY_LIST"]).into_iter().flat_map(|l| l.all("POLICY")) {
        let id = seed::id(el, "ID")?;
        let title = seed::text(el, "TITLE")?;
        let groups = el.child_value("ASSET_GROUP_IDS").unwrap_or_default();
        let runs = id_ranges(&groups).ok_or_else(|| format!("ASSET_GROUP_IDS {groups:?}"))?;
        let asset_group_ids: BTreeSet<u64> = runs.into_iter().flat_map(|(a, b)| a..=b).collect();
        let tag_ids = |name: &str| -> Result<BTreeSet<u64>, String> {
            el.get(name)
                .into_iter()
                .flat_map(|s| s.all("TAG_ID"))
                .map(|t| t.value().parse().map_err(|_| format!("{name} TAG_ID")))
                .collect()
        };
        let policy = Policy {
            id,
            body: Element::new("POLICY").child(Element::cdata("TITLE", &title)),
            title,
            created: el.path(&["CREATED", "DATETIME"]).map(Element::value).unwrap_or_default(),
            created_by: el.path(&["CREATED", "BY"]).map(Element::value).unwrap_or_default(),
            modified: el.path(&["LAST_MODIFIED", "DATETIME"]).map(Element::value).unwrap_or_default(),
            modified_by: el.path(&["LAST_MODIFIED", "BY"]).map(Element::value).unwrap_or_default(),
            asset_group_ids,
            tags: TagScope {
                include: tag_ids("TAG_SET_INCLUDE")?,
                exclude: tag_ids("TAG_SET_EXCLUDE")?,
                include_selector: el.non_empty("TAG_INCLUDE_SELECTOR"),
                exclude_selector: el.non_empty("TAG_EXCLUDE_SELECTOR"),
            },
            extra: seed::unmodelled(el, MODELLED),
        };
        state.observe_id(IDS, id);
        state.policies.insert(id, policy);
    }
    Ok(())
}

/// Reads a `POLICY_EXPORT_OUTPUT`: the body joins the listed policy of the same title (read
/// first), or becomes a policy of its own.
fn seed_export(state: &mut State, file: &SeedFile) -> SeedResult {
    let root = file.root();
    let body = root.find("POLICY").ok_or("no POLICY element")?;
    let title = seed::text(body, "TITLE")?;
    match state.policies.values_mut().find(|p| p.title == title) {
        Some(p) => p.body = body.clone(),
        None => {
            let id = state.next_id(IDS);
            let now = state.now();
            let policy = Policy {
                id,
                title,
                created: now.clone(),
                created_by: state.api_login.clone(),
                modified: now,
                modified_by: state.api_login.clone(),
                body: body.clone(),
                asset_group_ids: BTreeSet::new(),
                tags: TagScope::default(),
                extra: created_extras(),
            };
            state.policies.insert(id, policy);
        }
    }
    Ok(())
}
