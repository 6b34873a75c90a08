//! Option profiles (`/api/2.0/fo/subscription/option_profile/`): `export` and `import` of
//! `OPTION_PROFILES` documents (VM, compliance and PCI profiles alike). Each profile's body
//! is kept as imported; the simulator owns only its ID and title (`BASIC_INFO/ID`,
//! `BASIC_INFO/GROUP_NAME`) and its type (`BASIC_INFO/GROUP_TYPE`).

use crate::api::{Call, Ctx, Registration, Reply, read, simple_return, write};
use crate::export;
use crate::params::{ApiError, Params};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State};
use crate::xml::{Document, Element};

const IDS: IdSequence = IdSequence::new("option_profile", 5_000_001);
pub(crate) const PATH: &str = "/api/2.0/fo/subscription/option_profile/";

pub(crate) static KIND: Registration = Registration {
    ops: &[read(PATH, "export", export_doc), write(PATH, "import", import)],
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
        call.state.option_profiles.insert(id, profile(id, &title, &kind, false, el.clone()));
        items.push(("ID", id.to_string()));
    }
    let text = format!("{} option profile(s) successfully imported", items.len());
    Ok(simple_return(call.ctx, &now, &text, &items).into())
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
