//! Option profiles (`/api/2.0/fo/subscription/option_profile/`): `export` and `import` of
//! `OPTION_PROFILES` documents (VM, compliance and PCI profiles alike). Each profile's body
//! is kept as imported, with what Qualys documents its import to change ([`as_imported`]); the
//! simulator owns its ID and title (`BASIC_INFO/ID`, `BASIC_INFO/GROUP_NAME`) and its type
//! (`BASIC_INFO/GROUP_TYPE`).

use crate::api::search_list;
use crate::api::{Call, Ctx, Registration, Reply, delete_by_id, read, simple_return, typed, write};
use crate::export;
use crate::params::{ApiError, Params};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State};
use crate::xml::{Document, Element, Node};

const IDS: IdSequence = IdSequence::new("option_profile", 5_000_001);
pub(crate) const PATH: &str = "/api/2.0/fo/subscription/option_profile/";
/// The field-level API, one path per profile type.
const TYPED_PATH: &str = "/api/2.0/fo/subscription/option_profile/*/";
/// The typed paths' segment and the `GROUP_TYPE` each serves.
const TYPED: [(&str, &str); 3] = [("vm", "user"), ("pc", "compliance"), ("pci", "pci")];

pub(crate) static KIND: Registration = Registration {
    ops: &[
        read(PATH, "export", export_doc),
        write(PATH, "import", import),
        typed(write(TYPED_PATH, "delete", delete), |segment| TYPED.iter().any(|(slug, _)| *slug == segment)),
    ],
    // "Initial Options" stays whatever the seed holds: exports leave system profiles out.
    seeds: &[SeedDoc::root("OPTION_PROFILES", seed).keeping_defaults()],
    defaults: Some(add_defaults),
    export: |state, ctx| {
        // User-defined profiles only, as the migration guide exports them.
        let params = [("action", "export"), ("include_system_option_profiles", "0")];
        Ok(vec![export::file("option_profiles.xml", &params, |p| export_doc(state, p, ctx))?])
    },
    counts: &[("option_profiles", |state| state.option_profiles.len() as u64)],
};
const TYPES: &[&str] = &["user", "compliance", "pci"];
/// The profile every subscription starts with.
const INITIAL_OPTIONS: &str = "Initial Options";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OptionProfile {
    pub id: u64,
    pub title: String,
    pub kind: String,
    pub system: bool,
    pub body: Element,
}

/// Adds "Initial Options" unless a profile of that title was seeded: exports leave system
/// profiles out, yet every subscription has them.
fn add_defaults(state: &mut State) {
    if state.option_profiles.values().any(|p| p.title == INITIAL_OPTIONS) {
        return;
    }
    let id = state.next_id(IDS);
    let body = Element::new("OPTION_PROFILE").child(
        Element::new("BASIC_INFO")
            .child(Element::text("GROUP_TYPE", "user"))
            .child(Element::text("IS_DEFAULT", "1"))
            .child(Element::text("IS_GLOBAL", "1")),
    );
    state.option_profiles.insert(id, profile(id, INITIAL_OPTIONS, "user", true, body));
}

fn profile(id: u64, title: &str, kind: &str, system: bool, mut body: Element) -> OptionProfile {
    if body.get("BASIC_INFO").is_none() {
        body.children.insert(0, crate::xml::Node::Element(Element::new("BASIC_INFO")));
    }
    if let Some(info) = body.get_mut("BASIC_INFO") {
        info.set_child_text("GROUP_NAME", title);
        info.set_child_text("ID", &id.to_string());
    }
    OptionProfile { id, title: title.to_owned(), kind: kind.to_owned(), system, body }
}

fn export_doc(state: &State, params: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    params.only(&[
        "action",
        "option_profile_id",
        "option_profile_title",
        "option_profile_type",
        "include_system_option_profiles",
        "scan_disconnected_esxi",
    ])?;
    let id = params.number("option_profile_id")?;
    let title = params.value("option_profile_title");
    let kind = params.choice("option_profile_type", TYPES)?;
    let system = params.flag("include_system_option_profiles", false)?;
    params.flag("scan_disconnected_esxi", false)?;
    let mut root = Element::new("OPTION_PROFILES");
    for p in state.option_profiles.values() {
        let wanted = id.is_none_or(|i| i == p.id)
            && title.is_none_or(|t| t == p.title)
            && kind.is_none_or(|k| k.eq_ignore_ascii_case(&p.kind))
            && (system || !p.system);
        if wanted {
            root.push(p.body.clone());
        }
    }
    Ok(Document::with_dtd(root, format!("{}{PATH}option_profile_info.dtd", ctx.base)))
}

/// `action=delete&id=` on the path of the profile's type; system profiles cannot be deleted.
fn delete(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let kind = TYPED.iter().find(|(slug, _)| *slug == call.segment).map_or("", |(_, kind)| *kind);
    delete_by_id(call, "id", "option profile", |state| &mut state.option_profiles, |p| p.kind == kind && !p.system)
}

fn title_and_kind(el: &Element) -> Result<(String, String), String> {
    let info = el.get("BASIC_INFO").ok_or("an OPTION_PROFILE has no BASIC_INFO")?;
    let title = info.non_empty("GROUP_NAME").ok_or("an OPTION_PROFILE has no BASIC_INFO/GROUP_NAME")?;
    let kind = info.non_empty("GROUP_TYPE").unwrap_or_else(|| "user".into()).to_ascii_lowercase();
    if !TYPES.contains(&kind.as_str()) {
        return Err(format!("option profile {title:?} has an unknown GROUP_TYPE {kind:?}"));
    }
    Ok((title, kind))
}

fn import(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    call.params.only(&["action"])?;
    let doc = call.xml_body()?;
    if doc.name != "OPTION_PROFILES" {
        return Err(ApiError::invalid_request(format!("Expected an OPTION_PROFILES document, found {}", doc.name)));
    }
    let mut incoming = Vec::new();
    for el in doc.all("OPTION_PROFILE") {
        let (title, kind) = title_and_kind(el).map_err(ApiError::invalid_request)?;
        let clash = call.state.option_profiles.values().any(|p| p.title.eq_ignore_ascii_case(&title))
            || incoming.iter().any(|(t, _, _): &(String, String, &Element)| t.eq_ignore_ascii_case(&title));
        if clash {
            return Err(ApiError::invalid_request(format!("An option profile titled {title:?} already exists")));
        }
        incoming.push((title, kind, el));
    }
    if incoming.is_empty() {
        return Err(ApiError::invalid_request("The document holds no OPTION_PROFILE"));
    }
    let now = call.state.tick();
    let mut items = Vec::new();
    for (title, kind, el) in incoming {
        let id = call.state.next_id(IDS);
        let body = as_imported(call.state, &kind, el.clone());
        call.state.option_profiles.insert(id, profile(id, &title, &kind, false, body));
        items.push(("ID", id.to_string()));
    }
    let text = format!("{} option profile(s) successfully imported", items.len());
    Ok(simple_return(call.ctx, &now, &text, &items).into())
}

/// What Qualys's import does to a profile (8.10 release notes): the custom and excluded search
/// lists of its vulnerability detection are found by title and take this subscription's IDs,
/// and when one title is missing detection silently becomes "Complete"; custom password
/// brute-forcing lists arrive empty; a compliance profile's scan restrictions (elements named
/// `*RESTRICT*`, their layout UNVERIFIED) are dropped.
fn as_imported(state: &State, kind: &str, mut body: Element) -> Element {
    visit_mut(&mut body, &mut |el| match el.name.as_str() {
        "VULNERABILITY_DETECTION" => find_lists_by_title(state, el),
        "PASSWORD_BRUTE_FORCING" => remove_where(el, &|child| child.name.starts_with("CUSTOM")),
        _ => {}
    });
    if kind == "compliance" {
        remove_where(&mut body, &|child| child.name.contains("RESTRICT"));
    }
    body
}

fn find_lists_by_title(state: &State, detection: &mut Element) {
    let mut complete = false;
    visit_mut(detection, &mut |el| {
        if el.name != "CUSTOM" {
            return;
        }
        match el.non_empty("TITLE").and_then(|title| search_list::id_by_title(state, &title)) {
            Some(id) => el.set_child_text("ID", &id.to_string()),
            None => complete = true,
        }
    });
    if complete {
        remove_where(detection, &|child| child.name == "CUSTOM_LIST");
        if detection.get("COMPLETE").is_none() {
            detection.children.insert(0, Node::Element(Element::new("COMPLETE")));
        }
    }
}

/// Calls `f` on `el` and every element below it, parents first.
fn visit_mut(el: &mut Element, f: &mut impl FnMut(&mut Element)) {
    f(el);
    for node in &mut el.children {
        if let Node::Element(child) = node {
            visit_mut(child, f);
        }
    }
}

/// Removes the elements below `el`, at any depth, that `doomed` selects.
fn remove_where(el: &mut Element, doomed: &impl Fn(&Element) -> bool) {
    el.children.retain(|node| !matches!(node, Node::Element(child) if doomed(child)));
    for node in &mut el.children {
        if let Node::Element(child) = node {
            remove_where(child, doomed);
        }
    }
}

/// Reads `OPTION_PROFILES`.
fn seed(state: &mut State, file: &SeedFile) -> SeedResult {
    let root = file.root();
    for el in root.all("OPTION_PROFILE") {
        let (title, kind) = title_and_kind(el)?;
        let id = el
            .get("BASIC_INFO")
            .ok_or("no BASIC_INFO")
            .and_then(|i| seed::id(i, "ID").map_err(|_| "no BASIC_INFO/ID"))?;
        state.observe_id(IDS, id);
        state.option_profiles.insert(id, profile(id, &title, &kind, false, el.clone()));
    }
    Ok(())
}
