//! Virtual hosts (`/api/2.0/fo/asset/vhost/`): `list` and `create`. A virtual host names the
//! FQDNs served on one IP and port of the subscription, in one network.

use std::net::Ipv4Addr;

use crate::api::{Call, Ctx, Registration, Reply, list_document, network, read, simple_return, write};
use crate::export;
use crate::params::{ApiError, Params};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::State;
use crate::xml::{Document, Element};

pub(crate) const PATH: &str = "/api/2.0/fo/asset/vhost/";
/// The FQDN list, commas included, must stay under this many bytes.
const MAX_FQDN_BYTES: usize = 4000;

pub(crate) static KIND: Registration = Registration {
    ops: &[read(PATH, "list", list_doc), write(PATH, "create", create), write(PATH, "delete", delete)],
    seeds: &[SeedDoc::root("VIRTUAL_HOST_LIST_OUTPUT", seed)],
    defaults: None,
    export: |state, ctx| {
        Ok(vec![export::file("virtual_hosts.xml", &[("action", "list")], |p| list_doc(state, p, ctx))?])
    },
    counts: &[("virtual_hosts", |state| state.vhosts.len() as u64)],
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VirtualHost {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub network_id: u64,
    pub fqdns: Vec<String>,
}

fn port(p: &Params, required: bool) -> Result<Option<u16>, ApiError> {
    match p.value("port") {
        None if required => Err(ApiError::missing(&["port"])),
        None => Ok(None),
        Some(v) => {
            v.trim().parse::<u16>().ok().filter(|p| *p > 0).map(Some).ok_or_else(|| ApiError::invalid("port", v, ""))
        }
    }
}

fn ip(p: &Params, required: bool) -> Result<Option<Ipv4Addr>, ApiError> {
    match p.value("ip") {
        None if required => Err(ApiError::missing(&["ip"])),
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| ApiError::invalid("ip", v, "")),
    }
}

/// `VIRTUAL_HOST_LIST_OUTPUT/RESPONSE/(DATETIME, VIRTUAL_HOST_LIST/VIRTUAL_HOST/(IP, PORT, NETWORK_ID, FQDN+))`.
fn list_doc(state: &State, params: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    params.only(&["action", "echo_request", "ip", "port", "network_id"])?;
    let (ip, port) = (ip(params, false)?, port(params, false)?);
    let net = network::param(state, params, "network_id")?;
    let mut list = Element::new("VIRTUAL_HOST_LIST");
    for v in state.vhosts.values() {
        if ip.is_none_or(|i| i == v.ip) && port.is_none_or(|p| p == v.port) && net.is_none_or(|n| n == v.network_id) {
            let mut el = Element::new("VIRTUAL_HOST")
                .child(Element::text("IP", v.ip.to_string()))
                .child(Element::text("PORT", v.port.to_string()))
                .child(Element::text("NETWORK_ID", v.network_id.to_string()));
            for f in &v.fqdns {
                el.push(Element::cdata("FQDN", f));
            }
            list.push(el);
        }
    }
    let body = if list.children.is_empty() { Vec::new() } else { vec![list] };
    list_document("VIRTUAL_HOST_LIST_OUTPUT", ctx, PATH, params, &state.now(), body)
}

fn create(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "echo_request", "ip", "port", "fqdn", "network_id"])?;
    let ip = ip(p, true)?.ok_or_else(|| ApiError::missing(&["ip"]))?;
    let port = port(p, true)?.ok_or_else(|| ApiError::missing(&["port"]))?;
    let fqdn = p.require("fqdn")?;
    if fqdn.len() >= MAX_FQDN_BYTES {
        return Err(ApiError::invalid("fqdn", "(too long)", "The FQDN list must be shorter than 4000 bytes"));
    }
    let network_id = network::param(call.state, p, "network_id")?.unwrap_or(0);
    if !call.state.ips.all().contains(u32::from(ip)) {
        return Err(ApiError::invalid("ip", ip, "The IP is not in the subscription"));
    }
    let key = (network_id, u32::from(ip), port);
    if call.state.vhosts.contains_key(&key) {
        return Err(ApiError::invalid("ip", ip, "A virtual host already exists for this IP and port"));
    }
    let fqdns = p.list("fqdn");
    let now = call.state.tick();
    call.state.vhosts.insert(key, VirtualHost { ip, port, network_id, fqdns });
    Ok(simple_return(call.ctx, &now, "Virtual host successfully created.", &[]).into())
}

/// `action=delete` with the IP, port and network (the default one unless given) of a virtual
/// host the subscription holds.
fn delete(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "echo_request", "ip", "port", "network_id"])?;
    let ip = ip(p, true)?.ok_or_else(|| ApiError::missing(&["ip"]))?;
    let port = port(p, true)?.ok_or_else(|| ApiError::missing(&["port"]))?;
    let network_id = network::param(call.state, p, "network_id")?.unwrap_or(0);
    if call.state.vhosts.remove(&(network_id, u32::from(ip), port)).is_none() {
        return Err(ApiError::invalid("ip", ip, "No virtual host for this IP, port and network"));
    }
    let now = call.state.tick();
    Ok(simple_return(call.ctx, &now, "Virtual host successfully deleted.", &[]).into())
}

/// Reads `VIRTUAL_HOST_LIST_OUTPUT`.
fn seed(state: &mut State, file: &SeedFile) -> SeedResult {
    for el in file.root().path(&["RESPONSE", "VIRTUAL_HOST_LIST"]).into_iter().flat_map(|l| l.all("VIRTUAL_HOST")) {
        let ip: Ipv4Addr = seed::text(el, "IP")?.parse().map_err(|_| "bad IP".to_owned())?;
        let port: u16 = seed::text(el, "PORT")?.parse().map_err(|_| "bad PORT".to_owned())?;
        let network_id = seed::opt_id(el, "NETWORK_ID")?.unwrap_or(0);
        let fqdns = el.all("FQDN").map(Element::value).collect();
        state.vhosts.insert((network_id, u32::from(ip), port), VirtualHost { ip, port, network_id, fqdns });
    }
    Ok(())
}
