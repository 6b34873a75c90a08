//! Networks (`/api/2.0/fo/network/`), a Network Support feature: `list` and `create`.
//! Network 0, the Global Default Network, always exists and cannot be created.

use crate::api::{Call, Ctx, Registration, Reply, appliance, list_document, read, simple_return, write};
use crate::export;
use crate::params::{ApiError, Params, id_matches};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State};
use crate::xml::{Document, Element};

const IDS: IdSequence = IdSequence::new("network", 1001);
pub(crate) const PATH: &str = "/api/2.0/fo/network/";
const DEFAULT_NETWORK: &str = "Global Default Network";

pub(crate) static KIND: Registration = Registration {
    ops: &[read(PATH, "list", list_doc), write(PATH, "create", create)],
    seeds: &[SeedDoc::root("NETWORK_LIST_OUTPUT", seed)],
    defaults: None,
    export: |state, ctx| Ok(vec![export::file("networks.xml", &[("action", "list")], |p| list_doc(state, p, ctx))?]),
    counts: &[("networks", |state| state.networks.len() as u64)],
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Network {
    pub id: u64,
    pub name: String,
}

pub(crate) fn exists(state: &State, id: u64) -> bool {
    id == 0 || state.networks.contains_key(&id)
}

pub(crate) fn name_of(state: &State, id: u64) -> Option<&str> {
    if id == 0 { Some(DEFAULT_NETWORK) } else { state.networks.get(&id).map(|n| n.name.as_str()) }
}

/// Checks an optional `network_id`-style parameter against the subscription's networks.
pub(crate) fn param(state: &State, params: &Params, name: &str) -> Result<Option<u64>, ApiError> {
    match params.number(name)? {
        Some(id) if !exists(state, id) => Err(ApiError::invalid(name, id, "No such network ID")),
        other => Ok(other),
    }
}

fn list_doc(state: &State, params: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    params.only(&["action", "ids", "echo_request"])?;
    let ids = params.id_list("ids")?;
    let mut list = Element::new("NETWORK_LIST");
    let all = std::iter::once((0, DEFAULT_NETWORK)).chain(state.networks.values().map(|n| (n.id, n.name.as_str())));
    for (id, name) in all.filter(|(id, _)| ids.as_ref().is_none_or(|ids| id_matches(ids, *id))) {
        let mut network =
            Element::new("NETWORK").child(Element::text("ID", id.to_string())).child(Element::cdata("NAME", name));
        // Only custom networks list their scanners; the default network holds every other one.
        let scanners: Vec<_> = state.appliances.values().filter(|a| id != 0 && a.network_id == id).collect();
        if !scanners.is_empty() {
            let mut el = Element::new("SCANNER_APPLIANCE_LIST");
            for a in scanners {
                el.push(
                    Element::new("SCANNER_APPLIANCE")
                        .child(Element::text("ID", a.id.to_string()))
                        .child(Element::cdata("NAME", &a.name)),
                );
            }
            network.push(el);
        }
        list.push(network);
    }
    list_document("NETWORK_LIST_OUTPUT", ctx, PATH, params, &state.now(), vec![list])
}

fn create(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    call.params.only(&["action", "name", "echo_request"])?;
    let name = call.params.require("name")?.trim().to_owned();
    let taken = name.eq_ignore_ascii_case(DEFAULT_NETWORK)
        || call.state.networks.values().any(|n| n.name.eq_ignore_ascii_case(&name));
    if taken {
        return Err(ApiError::invalid("name", &name, "A network with this name already exists"));
    }
    let id = call.state.next_id(IDS);
    let now = call.state.tick();
    call.state.networks.insert(id, Network { id, name });
    Ok(simple_return(call.ctx, &now, "Network created successfully", &[("ID", id.to_string())]).into())
}

/// Reads `NETWORK_LIST_OUTPUT`; the appliances it names are linked to their network.
fn seed(state: &mut State, file: &SeedFile) -> SeedResult {
    let Some(list) = file.root().path(&["RESPONSE", "NETWORK_LIST"]) else { return Ok(()) };
    for el in list.all("NETWORK") {
        let id = seed::id(el, "ID")?;
        if id != 0 {
            state.observe_id(IDS, id);
            state.networks.insert(id, Network { id, name: seed::text(el, "NAME")? });
        }
        for scanner in el.path(&["SCANNER_APPLIANCE_LIST"]).into_iter().flat_map(|l| l.all("SCANNER_APPLIANCE")) {
            appliance::link(state, seed::id(scanner, "ID")?, &seed::text(scanner, "NAME")?, id);
        }
    }
    Ok(())
}
