//! Scanner appliances (`/api/2.0/fo/appliance/`): `list`, `create` (virtual scanners only;
//! each consumes a virtual-scanner licence), `update` and `assign_network_id`.

use std::net::Ipv4Addr;

use crate::api::{Call, Ctx, Registration, Reply, delete_by_id, list_document, network, read, simple_return, write};
use crate::export;
use crate::params::{ApiError, Params, id_matches};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State};
use crate::xml::{Document, Element};

const IDS: IdSequence = IdSequence::new("appliance", 200_001);
pub(crate) const PATH: &str = "/api/2.0/fo/appliance/";
const DEFAULT_POLLING_SECS: u32 = 180;

pub(crate) static KIND: Registration = Registration {
    ops: &[
        read(PATH, "list", list_doc),
        write(PATH, "create", create),
        write(PATH, "update", update),
        write(PATH, "assign_network_id", assign_network),
        write(PATH, "delete", delete),
    ],
    seeds: &[SeedDoc::root("APPLIANCE_LIST_OUTPUT", seed)],
    defaults: None,
    export: |state, ctx| {
        let params = [("action", "list"), ("output_mode", "full")];
        Ok(vec![export::file("appliances.xml", &params, |p| list_doc(state, p, ctx))?])
    },
    counts: &[("appliances", |state| state.appliances.len() as u64)],
};
const POLLING_RANGE: std::ops::RangeInclusive<u64> = 60..=3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Appliance {
    pub id: u64,
    pub uuid: Option<String>,
    pub name: String,
    pub network_id: u64,
    pub status: Option<String>,
    pub model: Option<String>,
    /// `TYPE`: Virtual, Physical, ...
    pub kind: Option<String>,
    pub serial: Option<String>,
    /// Shown until the appliance is personalised.
    pub activation_code: Option<String>,
    pub polling_secs: Option<u32>,
    pub vlans: Vec<Vlan>,
    pub routes: Vec<StaticRoute>,
    pub comments: Option<String>,
    /// Fields of a seeded appliance that the simulator does not model, kept as read.
    pub extra: Vec<Element>,
}

/// The fields the simulator models, in the order the full list writes them.
const MODELLED: &[&str] = &[
    "ID",
    "UUID",
    "NAME",
    "NETWORK_ID",
    "STATUS",
    "MODEL_NUMBER",
    "TYPE",
    "SERIAL_NUMBER",
    "ACTIVATION_CODE",
    "POLLING_INTERVAL",
    "VLANS",
    "STATIC_ROUTES",
    "COMMENTS",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Vlan {
    pub id: String,
    pub ip: String,
    pub netmask: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StaticRoute {
    pub ip: String,
    pub netmask: String,
    pub gateway: String,
    pub name: String,
}

impl Appliance {
    fn named(id: u64, name: &str, network_id: u64) -> Self {
        Appliance {
            id,
            uuid: None,
            name: name.to_owned(),
            network_id,
            status: None,
            model: None,
            kind: None,
            serial: None,
            activation_code: None,
            polling_secs: None,
            vlans: Vec::new(),
            routes: Vec::new(),
            comments: None,
            extra: Vec::new(),
        }
    }
}

/// Records that appliance `id` belongs to a network, as a network list says; an appliance
/// known only from there is kept with what the network list tells about it.
pub(crate) fn link(state: &mut State, id: u64, name: &str, network_id: u64) {
    state.observe_id(IDS, id);
    state.appliances.entry(id).or_insert_with(|| Appliance::named(id, name, network_id)).network_id = network_id;
}

fn list_doc(state: &State, params: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    params.only(&[
        "action",
        "echo_request",
        "output_mode",
        "ids",
        "name",
        "type",
        "busy",
        "scan_detail",
        "show_tags",
        "include_cloud_info",
        "include_license_info",
        "platform_provider",
    ])?;
    let full = params.choice("output_mode", &["brief", "full"])? == Some("full");
    let ids = params.id_list("ids")?;
    let kind = params.choice("type", &["physical", "virtual", "containerized", "offline"])?;
    let mut list = Element::new("APPLIANCE_LIST");
    for a in state.appliances.values() {
        let wanted = ids.as_ref().is_none_or(|ids| id_matches(ids, a.id))
            && params.value("name").is_none_or(|n| a.name == n)
            && kind.is_none_or(|k| a.kind.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(k)));
        if wanted {
            list.push(if full { full_element(a) } else { brief_element(a) });
        }
    }
    let mut body = Vec::new();
    if params.flag("include_license_info", false)? {
        body.push(license_info(state));
    }
    body.push(list);
    list_document("APPLIANCE_LIST_OUTPUT", ctx, PATH, params, &state.now(), body)
}

/// `LICENSE_INFO` as the appliance list gives it with `include_license_info=1` (UNVERIFIED in
/// qmig's references): the virtual scanner licences of the subscription and those in use.
fn license_info(state: &State) -> Element {
    let used =
        state.appliances.values().filter(|a| a.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("virtual")));
    let used = used.count() as u64;
    Element::new("LICENSE_INFO")
        .child(Element::text("QVSA_LICENSES_COUNT", (used + u64::from(state.virtual_licenses)).to_string()))
        .child(Element::text("QVSA_LICENSES_USED", used.to_string()))
}

fn brief_element(a: &Appliance) -> Element {
    let mut el =
        Element::new("APPLIANCE").child(Element::text("ID", a.id.to_string())).child(Element::cdata("NAME", &a.name));
    el.push_opt(a.status.as_ref().map(|s| Element::text("STATUS", s)));
    el
}

fn full_element(a: &Appliance) -> Element {
    let mut el = Element::new("APPLIANCE").child(Element::text("ID", a.id.to_string()));
    el.push_opt(a.uuid.as_ref().map(|u| Element::text("UUID", u)));
    el.push(Element::cdata("NAME", &a.name));
    el.push(Element::text("NETWORK_ID", a.network_id.to_string()));
    el.push_opt(a.status.as_ref().map(|s| Element::text("STATUS", s)));
    el.push_opt(a.model.as_ref().map(|m| Element::text("MODEL_NUMBER", m)));
    el.push_opt(a.kind.as_ref().map(|t| Element::text("TYPE", t)));
    el.push_opt(a.serial.as_ref().map(|s| Element::text("SERIAL_NUMBER", s)));
    el.push_opt(a.activation_code.as_ref().map(|c| Element::text("ACTIVATION_CODE", c)));
    el.push_opt(a.polling_secs.map(|p| Element::text("POLLING_INTERVAL", format!("{p} seconds"))));
    if !a.vlans.is_empty() {
        let mut vlans = Element::new("VLANS").child(Element::text("SETTING", "Enabled"));
        for v in &a.vlans {
            vlans.push(
                Element::new("VLAN")
                    .child(Element::text("ID", &v.id))
                    .child(Element::cdata("NAME", &v.name))
                    .child(Element::text("IP_ADDRESS", &v.ip))
                    .child(Element::text("NETMASK", &v.netmask)),
            );
        }
        el.push(vlans);
    }
    if !a.routes.is_empty() {
        let mut routes = Element::new("STATIC_ROUTES");
        for r in &a.routes {
            routes.push(
                Element::new("ROUTE")
                    .child(Element::cdata("NAME", &r.name))
                    .child(Element::text("IP_ADDRESS", &r.ip))
                    .child(Element::text("NETMASK", &r.netmask))
                    .child(Element::text("GATEWAY", &r.gateway)),
            );
        }
        el.push(routes);
    }
    el.push_opt(a.comments.as_ref().map(|c| Element::cdata("COMMENTS", c)));
    for extra in &a.extra {
        el.push(extra.clone());
    }
    el
}

/// `action=delete&id=`: only virtual scanners can be deleted, and their licence comes back.
fn delete(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let virtual_scanner = |a: &Appliance| a.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("virtual"));
    let reply = delete_by_id(call, "id", "virtual scanner appliance", |state| &mut state.appliances, virtual_scanner)?;
    call.state.virtual_licenses += 1;
    Ok(reply)
}

fn create(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "echo_request", "name", "polling_interval", "asset_group_id", "comment"])?;
    let name = p.require("name")?.trim().to_owned();
    ensure_unique_name(call.state, &name, None)?;
    let polling = polling_interval(p)?.unwrap_or(DEFAULT_POLLING_SECS);
    if let Some(ag) = p.number("asset_group_id")?
        && !call.state.groups.contains_key(&ag)
    {
        return Err(ApiError::invalid("asset_group_id", ag, "No such asset group"));
    }
    if call.state.virtual_licenses == 0 {
        return Err(ApiError::invalid_request("No virtual scanner licenses are available in this subscription"));
    }
    call.state.virtual_licenses -= 1;
    let id = call.state.next_id(IDS);
    let now = call.state.tick();
    let code = activation_code(id);
    call.state.appliances.insert(
        id,
        Appliance {
            uuid: Some(format!("00000000-0000-4000-8000-{id:012x}")),
            status: Some("Offline".into()),
            model: Some("Virtual Scanner".into()),
            kind: Some("Virtual".into()),
            activation_code: Some(code.clone()),
            polling_secs: Some(polling),
            comments: p.value("comment").map(str::to_owned),
            ..Appliance::named(id, &name, 0)
        },
    );
    let appliance = Element::new("APPLIANCE")
        .child(Element::text("ID", id.to_string()))
        .child(Element::cdata("FRIENDLY_NAME", &name))
        .child(Element::text("ACTIVATION_CODE", code))
        .child(Element::text("REMAINING_QVSA_LICENSES", call.state.virtual_licenses.to_string()));
    let root = Element::new("APPLIANCE_CREATE_OUTPUT")
        .child(Element::new("RESPONSE").child(Element::text("DATETIME", &now)).child(appliance));
    Ok(Document::with_dtd(root, format!("{}{PATH}appliance_create_output.dtd", call.ctx.base)).into())
}

/// Twelve digits derived from the ID: stable across runs, distinct per appliance.
fn activation_code(id: u64) -> String {
    format!("{:012}", id.wrapping_mul(7_919_281).wrapping_add(104_729) % 1_000_000_000_000)
}

fn polling_interval(p: &Params) -> Result<Option<u32>, ApiError> {
    match p.number("polling_interval")? {
        Some(v) if !POLLING_RANGE.contains(&v) => {
            Err(ApiError::invalid("polling_interval", v, "Must be between 60 and 3600"))
        }
        other => Ok(other.and_then(|v| u32::try_from(v).ok())),
    }
}

fn ensure_unique_name(state: &State, name: &str, except: Option<u64>) -> Result<(), ApiError> {
    if state.appliances.values().any(|a| Some(a.id) != except && a.name.eq_ignore_ascii_case(name)) {
        return Err(ApiError::invalid("name", name, "An appliance with this name already exists"));
    }
    Ok(())
}

fn update(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "echo_request", "id", "name", "polling_interval", "comment", "set_vlans", "set_routes"])?;
    let id = p.number("id")?.ok_or_else(|| ApiError::missing(&["id"]))?;
    if !call.state.appliances.contains_key(&id) {
        return Err(ApiError::invalid("id", id, "No such appliance"));
    }
    if let Some(name) = p.value("name") {
        ensure_unique_name(call.state, name.trim(), Some(id))?;
    }
    let polling = polling_interval(p)?;
    // `set_*` replaces the whole list; an empty value clears it.
    let vlans = p.get("set_vlans").map(|v| parse_entries(v, "set_vlans", parse_vlan)).transpose()?;
    let routes = p.get("set_routes").map(|v| parse_entries(v, "set_routes", parse_route)).transpose()?;
    let now = call.state.tick();
    let a = call.state.appliances.get_mut(&id).ok_or_else(|| ApiError::invalid("id", id, "No such appliance"))?;
    if let Some(name) = p.value("name") {
        a.name = name.trim().to_owned();
    }
    if polling.is_some() {
        a.polling_secs = polling;
    }
    if let Some(comment) = p.get("comment") {
        a.comments = Some(comment.to_owned()).filter(|c| !c.is_empty());
    }
    if let Some(vlans) = vlans {
        a.vlans = vlans;
    }
    if let Some(routes) = routes {
        a.routes = routes;
    }
    Ok(simple_return(call.ctx, &now, "Scanner appliance updated successfully", &[("ID", id.to_string())]).into())
}

fn parse_entries<T>(value: &str, param: &str, one: fn(&[&str]) -> Option<T>) -> Result<Vec<T>, ApiError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| one(&entry.split('|').collect::<Vec<_>>()).ok_or_else(|| ApiError::invalid(param, entry, "")))
        .collect()
}

/// `VLANID|IPv4|NETMASK|NAME`, optionally followed by the IPv6 mode and address.
fn parse_vlan(f: &[&str]) -> Option<Vlan> {
    let (id, ip, netmask, name) = (f.first()?, f.get(1)?, f.get(2)?, f.get(3)?);
    let vlan_id: u16 = id.parse().ok().filter(|v| (1..=4094).contains(v))?;
    ip.parse::<Ipv4Addr>().ok()?;
    netmask.parse::<Ipv4Addr>().ok()?;
    Some(Vlan { id: vlan_id.to_string(), ip: (*ip).into(), netmask: (*netmask).into(), name: (*name).into() })
}

/// `IP|NETMASK|GATEWAY|NAME`, optionally followed by IPv6 fields.
fn parse_route(f: &[&str]) -> Option<StaticRoute> {
    let (ip, netmask, gateway, name) = (f.first()?, f.get(1)?, f.get(2)?, f.get(3)?);
    for addr in [ip, netmask, gateway] {
        addr.parse::<Ipv4Addr>().ok()?;
    }
    Some(StaticRoute { ip: (*ip).into(), netmask: (*netmask).into(), gateway: (*gateway).into(), name: (*name).into() })
}

fn assign_network(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "echo_request", "appliance_id", "network_id"])?;
    let appliance_id = p.number("appliance_id")?.ok_or_else(|| ApiError::missing(&["appliance_id"]))?;
    let network_id = network::param(call.state, p, "network_id")?.ok_or_else(|| ApiError::missing(&["network_id"]))?;
    if !call.state.appliances.contains_key(&appliance_id) {
        return Err(ApiError::invalid("appliance_id", appliance_id, "No such appliance"));
    }
    let now = call.state.tick();
    if let Some(a) = call.state.appliances.get_mut(&appliance_id) {
        a.network_id = network_id;
    }
    let text = format!("Success: Network ID=[{network_id}] assigned to Appliance with ID=[{appliance_id}]");
    Ok(simple_return(call.ctx, &now, &text, &[]).into())
}

/// Whether every ID exists, for the parameters of other calls that name appliances.
pub(crate) fn check_ids(state: &State, param: &str, ids: &[u64]) -> Result<(), ApiError> {
    match ids.iter().find(|id| !state.appliances.contains_key(id)) {
        Some(id) => Err(ApiError::invalid(param, id, "No such scanner appliance")),
        None => Ok(()),
    }
}

/// Reads `APPLIANCE_LIST_OUTPUT` (brief or full).
fn seed(state: &mut State, file: &SeedFile) -> SeedResult {
    let root = file.root();
    let Some(list) = root.path(&["RESPONSE", "APPLIANCE_LIST"]) else { return Ok(()) };
    for el in list.all("APPLIANCE") {
        let id = seed::id(el, "ID")?;
        state.observe_id(IDS, id);
        let polling_secs = el
            .non_empty("POLLING_INTERVAL")
            .map(|p| {
                p.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .parse::<u32>()
                    .map_err(|_| format!("POLLING_INTERVAL {p:?}"))
            })
            .transpose()?;
        let vlans = el
            .get("VLANS")
            .into_iter()
            .flat_map(|v| v.all("VLAN"))
            .map(|v| {
                Ok(Vlan {
                    id: seed::text(v, "ID")?,
                    ip: seed::text(v, "IP_ADDRESS")?,
                    netmask: seed::text(v, "NETMASK")?,
                    name: v.child_value("NAME").unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let routes = el
            .get("STATIC_ROUTES")
            .into_iter()
            .flat_map(|r| r.all("ROUTE"))
            .map(|r| {
                Ok(StaticRoute {
                    ip: seed::text(r, "IP_ADDRESS")?,
                    netmask: seed::text(r, "NETMASK")?,
                    gateway: seed::text(r, "GATEWAY")?,
                    name: r.child_value("NAME").unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let appliance = Appliance {
            id,
            uuid: el.non_empty("UUID"),
            name: seed::text(el, "NAME")?,
            network_id: seed::opt_id(el, "NETWORK_ID")?.unwrap_or(0),
            status: el.non_empty("STATUS"),
            model: el.non_empty("MODEL_NUMBER"),
            kind: el.non_empty("TYPE"),
            serial: el.non_empty("SERIAL_NUMBER"),
            activation_code: el.non_empty("ACTIVATION_CODE"),
            polling_secs,
            vlans,
            routes,
            comments: el.non_empty("COMMENTS"),
            extra: seed::unmodelled(el, MODELLED),
        };
        state.appliances.insert(id, appliance);
    }
    Ok(())
}
