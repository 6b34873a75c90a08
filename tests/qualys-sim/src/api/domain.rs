//! Domains through the V1 API, as Qualys's migration scripts use it: `/msp/asset_domain.php`
//! (`action=add`, `domain`, `netblock`) and `/msp/asset_domain_list.php` (`DOMAIN_LIST`).

use std::net::Ipv4Addr;

use crate::api::{Call, Ctx, Handler, Registration, Reply, Style, generic_success, network, v1};
use crate::ipset::parse_range;
use crate::params::{ApiError, Params};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State};
use crate::xml::{Document, Element};

const IDS: IdSequence = IdSequence::new("domain", 48_000_001);
pub(crate) const ADD_PATH: &str = "/msp/asset_domain.php";
pub(crate) const LIST_PATH: &str = "/msp/asset_domain_list.php";

pub(crate) static KIND: Registration = Registration {
    ops: &[
        v1(ADD_PATH, Some("add"), true, Style::GenericReturn, Handler::Call(add)),
        v1(ADD_PATH, Some("delete"), true, Style::GenericReturn, Handler::Call(delete)),
        v1(LIST_PATH, None, false, Style::GenericReturn, Handler::Doc(list_doc)),
    ],
    seeds: &[SeedDoc::root("DOMAIN_LIST", seed)],
    defaults: None,
    export: |state, ctx| Ok(vec![("domains.xml".to_owned(), list_doc(state, &Params::default(), ctx)?)]),
    counts: &[("domains", |state| state.domains.len() as u64)],
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Domain {
    pub id: u64,
    pub name: String,
    pub network_id: u64,
    /// In the order given; Qualys does not sort netblocks.
    pub netblock: Vec<(u32, u32)>,
}

fn add(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "domain", "netblock"])?;
    let name = p.require("domain")?.trim().to_owned();
    if name.contains(|c: char| c.is_whitespace() || c == ',') {
        return Err(ApiError::invalid("domain", &name, "Invalid domain name"));
    }
    if call.state.domains.values().any(|d| d.name.eq_ignore_ascii_case(&name)) {
        return Err(ApiError::invalid("domain", &name, "The domain already exists"));
    }
    let netblock = p
        .list("netblock")
        .iter()
        .map(|item| parse_range(item).map_err(|e| ApiError::invalid("netblock", e, "")))
        .collect::<Result<Vec<_>, _>>()?;
    let id = call.state.next_id(IDS);
    let now = call.state.tick();
    call.state.domains.insert(id, Domain { id, name: name.clone(), network_id: 0, netblock });
    Ok(generic_success(call.ctx, ADD_PATH, &now, &format!("Domain {name} has been added")).into())
}

/// `action=delete&domain=`: a domain the subscription holds, by name.
fn delete(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "domain"])?;
    let name = p.require("domain")?.trim();
    let found = call.state.domains.values().find(|d| d.name.eq_ignore_ascii_case(name));
    let id = found.map(|d| d.id).ok_or_else(|| ApiError::invalid("domain", name, "No such domain"))?;
    call.state.domains.remove(&id);
    let now = call.state.tick();
    Ok(generic_success(call.ctx, ADD_PATH, &now, &format!("Domain {name} has been deleted")).into())
}

/// `DOMAIN_LIST/DOMAIN/(DOMAIN_NAME, DOMAIN_ID, NETWORK/(NETWORK_NAME, NETWORK_ID), NETBLOCK/RANGE/(START, END))`.
fn list_doc(state: &State, params: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    params.only(&[])?;
    let mut root = Element::new("DOMAIN_LIST");
    for d in state.domains.values() {
        let mut el = Element::new("DOMAIN")
            .child(Element::cdata("DOMAIN_NAME", &d.name))
            .child(Element::text("DOMAIN_ID", d.id.to_string()))
            .child(
                Element::new("NETWORK")
                    .child(Element::cdata("NETWORK_NAME", network::name_of(state, d.network_id).unwrap_or_default()))
                    .child(Element::text("NETWORK_ID", d.network_id.to_string())),
            );
        if !d.netblock.is_empty() {
            let mut block = Element::new("NETBLOCK");
            for &(lo, hi) in &d.netblock {
                block.push(
                    Element::new("RANGE")
                        .child(Element::text("START", Ipv4Addr::from(lo).to_string()))
                        .child(Element::text("END", Ipv4Addr::from(hi).to_string())),
                );
            }
            el.push(block);
        }
        root.push(el);
    }
    Ok(Document::with_dtd(root, format!("{}/msp/domain_list.dtd", ctx.base)))
}

/// Reads `DOMAIN_LIST`.
fn seed(state: &mut State, file: &SeedFile) -> SeedResult {
    for el in file.root().all("DOMAIN") {
        let id = seed::id(el, "DOMAIN_ID")?;
        let network_id = el.get("NETWORK").map(|n| seed::opt_id(n, "NETWORK_ID")).transpose()?.flatten().unwrap_or(0);
        let netblock = el
            .get("NETBLOCK")
            .into_iter()
            .flat_map(|b| b.all("RANGE"))
            .map(|r| {
                let (start, end) = (seed::text(r, "START")?, seed::text(r, "END")?);
                parse_range(&format!("{start}-{end}")).map_err(|e| format!("bad netblock range {e}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        state.observe_id(IDS, id);
        state.domains.insert(id, Domain { id, name: seed::text(el, "DOMAIN_NAME")?, network_id, netblock });
    }
    Ok(())
}
