//! IPs in the subscription (`/api/2.0/fo/asset/ip/`: `list`, `add`) and IPv6 mapping records
//! (`/api/2.0/fo/asset/ip/v4_v6/`: `list`, `add`).
//!
//! Each IP is enabled for VM, PC or both, and has one tracking method. The list filter
//! follows the convention of Qualys's own migration scripts: `compliance_enabled=0` lists the
//! IPs enabled for VM, `=1` those enabled for PC, and leaving it out lists all of them.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::api::{
    Call, Ctx, Handler, Registration, Reply, group, list_document, network, page, read, read_with, simple_return, write,
};
use crate::export;
use crate::ipset::{Ipv4Set, parse_range};
use crate::params::{ApiError, Params};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State};
use crate::xml::{Document, Element, parse};

const IPV6_MAP_IDS: IdSequence = IdSequence::new("ipv6_map", 1);
pub(crate) const PATH: &str = "/api/2.0/fo/asset/ip/";
pub(crate) const V6_PATH: &str = "/api/2.0/fo/asset/ip/v4_v6/";
const MAX_V6_RECORDS: usize = 10_000;

pub(crate) static KIND: Registration = Registration {
    ops: &[
        read(PATH, "list", list_doc),
        write(PATH, "add", add),
        write(PATH, "delete", delete),
        read_with(V6_PATH, "list", Handler::Call(list_v6)),
        write(V6_PATH, "add", add_v6),
    ],
    seeds: &[SeedDoc::root("IP_LIST_OUTPUT", seed), SeedDoc::root("IP_MAP_LIST_OUTPUT", seed_v6)],
    defaults: None,
    export,
    counts: &[
        ("ips_vm", |state| state.ips.module(Module::Vm).len()),
        ("ips_pc", |state| state.ips.module(Module::Pc).len()),
        ("ipv6_mappings", |state| state.ipv6.len() as u64),
    ],
};
const DEFAULT_V6_PAGE: u64 = 5000;
/// IPv6 hosts are mapped to addresses from this reserved block.
const MAPPED_V4: std::ops::RangeInclusive<u32> = 0x0000_0001..=0x00fe_ffff;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Module {
    Vm,
    Pc,
}

impl Module {
    pub const ALL: [Module; 2] = [Module::Vm, Module::Pc];

    /// The short name used in export file names.
    pub fn slug(self) -> &'static str {
        match self {
            Module::Vm => "vm",
            Module::Pc => "pc",
        }
    }

    fn compliance_enabled(self) -> &'static str {
        match self {
            Module::Vm => "0",
            Module::Pc => "1",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tracking {
    Ip,
    Dns,
    Netbios,
}

impl Tracking {
    pub const ALL: [Tracking; 3] = [Tracking::Ip, Tracking::Dns, Tracking::Netbios];

    pub fn param(self) -> &'static str {
        match self {
            Tracking::Ip => "IP",
            Tracking::Dns => "DNS",
            Tracking::Netbios => "NETBIOS",
        }
    }

    fn from_param(value: &str) -> Option<Tracking> {
        Tracking::ALL.into_iter().find(|t| t.param().eq_ignore_ascii_case(value.trim()))
    }
}

/// The subscription's IPv4 addresses by module and tracking method. An IP has one tracking
/// method: adding it again with another method moves it in both modules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IpAssets {
    sets: [[Ipv4Set; 3]; 2],
}

impl IpAssets {
    pub fn get(&self, module: Module, tracking: Tracking) -> &Ipv4Set {
        &self.sets[module as usize][tracking as usize]
    }

    pub fn add(&mut self, ips: &Ipv4Set, tracking: Tracking, modules: &[Module]) {
        for module in Module::ALL {
            for other in Tracking::ALL.into_iter().filter(|t| *t != tracking) {
                let moved = self.get(module, other).intersection(ips);
                if !moved.is_empty() {
                    self.sets[module as usize][other as usize].subtract(&moved);
                    self.sets[module as usize][tracking as usize].union_with(&moved);
                }
            }
        }
        for module in modules {
            self.sets[*module as usize][tracking as usize].union_with(ips);
        }
    }

    /// Removes the addresses from every module and tracking method.
    pub fn remove(&mut self, ips: &Ipv4Set) {
        self.sets.iter_mut().flatten().for_each(|set| set.subtract(ips));
    }

    pub fn module(&self, module: Module) -> Ipv4Set {
        let mut all = Ipv4Set::default();
        for t in Tracking::ALL {
            all.union_with(self.get(module, t));
        }
        all
    }

    pub fn all(&self) -> Ipv4Set {
        let mut all = self.module(Module::Vm);
        all.union_with(&self.module(Module::Pc));
        all
    }
}

fn list_doc(state: &State, params: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    params.only(&[
        "action",
        "echo_request",
        "ips",
        "network_id",
        "tracking_method",
        "compliance_enabled",
        "certview_enabled",
    ])?;
    // IPs added through the API belong to every network, so a network filter keeps them all.
    network::param(state, params, "network_id")?;
    params.flag("certview_enabled", false)?;
    let trackings: Vec<Tracking> = match params.choice("tracking_method", &["IP", "DNS", "NETBIOS", "EC2", "AGENT"])? {
        None => Tracking::ALL.to_vec(),
        // Cloud and agent tracked hosts cannot be added through this API: there are none.
        Some(t) => Tracking::from_param(t).into_iter().collect(),
    };
    let modules: Vec<Module> = match params.value("compliance_enabled") {
        None => Module::ALL.to_vec(),
        Some(_) if params.flag("compliance_enabled", false)? => vec![Module::Pc],
        Some(_) => vec![Module::Vm],
    };
    let mut found = Ipv4Set::default();
    for m in &modules {
        for t in &trackings {
            found.union_with(state.ips.get(*m, *t));
        }
    }
    if let Some(filter) = params.value("ips") {
        found = found.intersection(&Ipv4Set::parse_list(filter).map_err(|e| ApiError::invalid("ips", e, ""))?);
    }
    let body = if found.is_empty() { Vec::new() } else { vec![found.to_ip_set()] };
    list_document("IP_LIST_OUTPUT", ctx, PATH, params, &state.now(), body)
}

/// One IP list per (module, tracking) pair that has IPs, with the request echoed so that a
/// seed reads the pair back from the document; then the IPv6 mappings.
fn export(state: &State, ctx: &Ctx) -> Result<Vec<(String, Document)>, ApiError> {
    let mut files = Vec::new();
    for module in Module::ALL {
        for tracking in Tracking::ALL {
            if !state.ips.get(module, tracking).is_empty() {
                let name = format!("ip_list_{}_{}.xml", module.slug(), tracking.param().to_ascii_lowercase());
                let params = [
                    ("action", "list"),
                    ("tracking_method", tracking.param()),
                    ("compliance_enabled", module.compliance_enabled()),
                    ("echo_request", "1"),
                ];
                files.push(export::file(&name, &params, |p| list_doc(state, p, ctx))?);
            }
        }
    }
    let v6 = [("action", "list"), ("output_format", "xml"), ("truncation_limit", "0")];
    files.push(export::file("ipv6_mappings.xml", &v6, |p| list_v6_doc(state, p, ctx))?);
    Ok(files)
}

fn add(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&[
        "action",
        "echo_request",
        "ips",
        "tracking_method",
        "enable_vm",
        "enable_pc",
        "enable_certview",
        "enable_sca",
        "owner",
        "ud1",
        "ud2",
        "ud3",
        "comment",
        "ag_title",
    ])?;
    let ips = Ipv4Set::parse_list(p.require("ips")?).map_err(|e| ApiError::invalid("ips", e, ""))?;
    let tracking = match p.value("tracking_method") {
        None => Tracking::Ip,
        Some(t) => Tracking::from_param(t).ok_or_else(|| ApiError::invalid("tracking_method", t, ""))?,
    };
    let mut modules = Vec::new();
    if p.flag("enable_vm", false)? {
        modules.push(Module::Vm);
    }
    if p.flag("enable_pc", false)? {
        modules.push(Module::Pc);
    }
    p.flag("enable_certview", false)?;
    p.flag("enable_sca", false)?;
    if modules.is_empty() {
        return Err(ApiError::at_least_one(&["enable_vm", "enable_pc"]));
    }
    if let Some(title) = p.value("ag_title") {
        group::by_title(call.state, title)
            .ok_or_else(|| ApiError::invalid("ag_title", title, "No such asset group"))?;
    }
    let now = call.state.tick();
    call.state.ips.add(&ips, tracking, &modules);
    let names: Vec<&str> = modules
        .iter()
        .map(|m| match m {
            Module::Vm => "Vulnerability Management",
            Module::Pc => "Policy Compliance",
        })
        .collect();
    Ok(simple_return(call.ctx, &now, &format!("IPs successfully added to {}", names.join(" and ")), &[]).into())
}

/// `action=delete&ips=` (UNVERIFIED in Qualys: the references list no IP removal call): every
/// address must be in the subscription, or nothing is removed.
fn delete(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "echo_request", "ips"])?;
    let ips = Ipv4Set::parse_list(p.require("ips")?).map_err(|e| ApiError::invalid("ips", e, ""))?;
    if call.state.ips.all().intersection(&ips).len() != ips.len() {
        return Err(ApiError::invalid("ips", p.require("ips")?, "Some of these IPs are not in the subscription"));
    }
    call.state.ips.remove(&ips);
    let now = call.state.tick();
    Ok(simple_return(call.ctx, &now, "IPs successfully removed from the subscription", &[]).into())
}

/// Reads an `IP_LIST_OUTPUT`. The module and tracking method come from the echoed request;
/// a capture without one is placed by its file name (`ip_list_<vm|pc>_<ip|dns|netbios>`),
/// as the sample export does, and otherwise counts as IP-tracked in both modules.
fn seed(state: &mut State, file: &SeedFile) -> SeedResult {
    let (root, file_name) = (file.root(), file.name.as_str());
    let echoed = |key: &str| {
        root.path(&["REQUEST", "PARAM_LIST"])
            .into_iter()
            .flat_map(|l| l.all("PARAM"))
            .filter(|p| p.child_value("KEY").as_deref() == Some(key))
            .filter_map(|p| p.child_value("VALUE"))
            .last()
    };
    let mut name_parts = file_name.trim_end_matches(".xml").strip_prefix("ip_list_").map(|s| s.split('_'));
    let named_module = name_parts.as_mut().and_then(Iterator::next);
    let named_tracking = name_parts.as_mut().and_then(Iterator::next);
    let modules = match (echoed("compliance_enabled").as_deref(), named_module) {
        (Some("1"), _) | (None, Some("pc")) => vec![Module::Pc],
        (Some(_), _) | (None, Some("vm")) => vec![Module::Vm],
        (None, _) => Module::ALL.to_vec(),
    };
    let tracking = match echoed("tracking_method") {
        Some(t) => Tracking::from_param(&t).ok_or_else(|| format!("unknown tracking_method {t:?}"))?,
        None => named_tracking.and_then(Tracking::from_param).unwrap_or(Tracking::Ip),
    };
    if let Some(set) = root.path(&["RESPONSE", "IP_SET"]) {
        let ips = Ipv4Set::from_ip_set(set).map_err(|e| format!("bad address {e}"))?;
        state.ips.add(&ips, tracking, &modules);
    }
    Ok(())
}

/// One IPv6 mapping record: an IPv6 host scanned through a reserved IPv4 address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ipv6Map {
    pub id: u64,
    pub v4: Ipv4Addr,
    pub v6: Ipv6Addr,
}

fn list_v6(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&[
        "action",
        "echo_request",
        "id_min",
        "id_max",
        "ipv4_filter",
        "ipv6_network",
        "output_format",
        "truncation_limit",
    ])?;
    if p.choice("output_format", &["csv", "xml"])?.unwrap_or("csv") == "xml" {
        return Ok(list_v6_doc(call.state, p, call.ctx)?.into());
    }
    let mut csv = String::from("\"ID\",\"IPV4\",\"IPV6\"\n");
    for m in select_v6(call.state, p)? {
        csv.push_str(&format!("\"{}\",\"{}\",\"{}\"\n", m.id, m.v4, m.v6));
    }
    Ok(Reply::Csv(csv))
}

fn select_v6<'s>(state: &'s State, p: &Params) -> Result<Vec<&'s Ipv6Map>, ApiError> {
    let v4 = p
        .value("ipv4_filter")
        .map(|f| parse_range(f).map_err(|e| ApiError::invalid("ipv4_filter", e, "")))
        .transpose()?;
    let network = p
        .value("ipv6_network")
        .map(|n| parse_v6_network(n).ok_or_else(|| ApiError::invalid("ipv6_network", n, "")))
        .transpose()?;
    Ok(state
        .ipv6
        .values()
        .filter(|m| v4.is_none_or(|(lo, hi)| (lo..=hi).contains(&u32::from(m.v4))))
        .filter(|m| network.is_none_or(|(addr, bits)| prefix(m.v6, bits) == prefix(addr, bits)))
        .collect())
}

fn parse_v6_network(text: &str) -> Option<(Ipv6Addr, u32)> {
    let (addr, bits) = text.split_once('/').unwrap_or((text, "128"));
    let bits: u32 = bits.trim().parse().ok().filter(|b| *b <= 128)?;
    Some((addr.trim().parse().ok()?, bits))
}

fn prefix(addr: Ipv6Addr, bits: u32) -> u128 {
    u128::from(addr).checked_shr(128 - bits).unwrap_or(0)
}

fn list_v6_doc(state: &State, p: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    let selected = select_v6(state, p)?;
    let page = page(selected.into_iter().map(|m| (m.id, m)), p, ctx, V6_PATH, DEFAULT_V6_PAGE)?;
    let mut list = Element::new("IP_MAP_LIST");
    for m in page.items {
        list.push(
            Element::new("IP_MAP")
                .child(Element::text("ID", m.id.to_string()))
                .child(Element::text("V4", m.v4.to_string()))
                .child(Element::text("V6", m.v6.to_string())),
        );
    }
    let mut body = vec![list];
    body.extend(page.warning);
    list_document("IP_MAP_LIST_OUTPUT", ctx, V6_PATH, p, &state.now(), body)
}

fn add_v6(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "echo_request", "csv_data", "xml_data", "all_or_nothing"])?;
    let records = match (p.value("csv_data"), p.value("xml_data")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::exclusive(&["csv_data", "xml_data"]));
        }
        (None, None) => return Err(ApiError::missing(&["csv_data", "xml_data"])),
        (Some(csv), None) => parse_v6_csv(csv)?,
        (None, Some(xml)) => parse_v6_xml(xml)?,
    };
    if records.len() > MAX_V6_RECORDS {
        return Err(ApiError::invalid_request(format!(
            "At most {MAX_V6_RECORDS} mapping records can be added per request"
        )));
    }
    let all_or_nothing = p.flag("all_or_nothing", true)?;
    let mut accepted: Vec<(Ipv4Addr, Ipv6Addr)> = Vec::new();
    let mut conflicts = 0;
    for (v4, v6) in records {
        let clash = call.state.ipv6.values().any(|m| m.v4 == v4 || m.v6 == v6)
            || accepted.iter().any(|(a, b)| *a == v4 || *b == v6);
        if clash {
            conflicts += 1;
        } else {
            accepted.push((v4, v6));
        }
    }
    if conflicts > 0 && all_or_nothing {
        return Err(ApiError::invalid_request(format!(
            "{conflicts} mapping record(s) conflict with existing records; nothing was added"
        )));
    }
    let now = call.state.tick();
    for (v4, v6) in &accepted {
        let id = call.state.next_id(IPV6_MAP_IDS);
        call.state.ipv6.insert(id, Ipv6Map { id, v4: *v4, v6: *v6 });
    }
    let text = format!("{} IPv6 mapping record(s) added, {conflicts} skipped", accepted.len());
    Ok(simple_return(call.ctx, &now, &text, &[("COUNT", accepted.len().to_string())]).into())
}

fn mapping(v4: &str, v6: &str) -> Result<(Ipv4Addr, Ipv6Addr), ApiError> {
    let v4_addr: Ipv4Addr = v4.trim().parse().map_err(|_| ApiError::invalid("V4", v4, ""))?;
    if !MAPPED_V4.contains(&u32::from(v4_addr)) {
        return Err(ApiError::invalid("V4", v4, "Must be in the range 0.0.0.1-0.254.255.255"));
    }
    let v6_addr: Ipv6Addr = v6.trim().parse().map_err(|_| ApiError::invalid("V6", v6, ""))?;
    Ok((v4_addr, v6_addr))
}

/// One `IPv4,IPv6` pair per line; a header line is skipped.
fn parse_v6_csv(csv: &str) -> Result<Vec<(Ipv4Addr, Ipv6Addr)>, ApiError> {
    csv.lines()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(|f| f.trim().trim_matches('"')).collect::<Vec<_>>())
        .filter(|f| f.first().is_some_and(|v4| v4.parse::<Ipv4Addr>().is_ok()))
        .map(|f| mapping(f[0], f.get(1).copied().unwrap_or_default()))
        .collect()
}

/// `<IP_MAP_LIST><IP_MAP><V4>..</V4><V6>..</V6></IP_MAP>...</IP_MAP_LIST>`.
fn parse_v6_xml(xml: &str) -> Result<Vec<(Ipv4Addr, Ipv6Addr)>, ApiError> {
    let root = parse(xml).map_err(|e| ApiError::invalid("xml_data", e, ""))?.root;
    root.all("IP_MAP")
        .map(|m| mapping(&m.child_value("V4").unwrap_or_default(), &m.child_value("V6").unwrap_or_default()))
        .collect()
}

/// Reads `IP_MAP_LIST_OUTPUT`.
fn seed_v6(state: &mut State, file: &SeedFile) -> SeedResult {
    for m in file.root().path(&["RESPONSE", "IP_MAP_LIST"]).into_iter().flat_map(|l| l.all("IP_MAP")) {
        let id = seed::id(m, "ID")?;
        let (v4, v6) = mapping(&seed::text(m, "V4")?, &seed::text(m, "V6")?).map_err(|e| e.text)?;
        state.observe_id(IPV6_MAP_IDS, id);
        state.ipv6.insert(id, Ipv6Map { id, v4, v6 });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_keeps_one_tracking_method_across_modules() {
        let mut ips = IpAssets::default();
        let set = |l: &str| Ipv4Set::parse_list(l).expect("valid");
        ips.add(&set("10.0.0.1-10.0.0.3"), Tracking::Ip, &[Module::Vm, Module::Pc]);
        ips.add(&set("10.0.0.2"), Tracking::Dns, &[Module::Vm]);
        assert_eq!(ips.get(Module::Vm, Tracking::Ip).to_string(), "10.0.0.1,10.0.0.3");
        assert_eq!(ips.get(Module::Pc, Tracking::Dns).to_string(), "10.0.0.2");
        assert_eq!(ips.all().to_string(), "10.0.0.1-10.0.0.3");
    }

    #[test]
    fn reads_mapping_records_from_csv_and_xml() {
        let csv = parse_v6_csv("IPv4,IPv6\n0.0.0.1,2001:db8::1\n").expect("valid");
        let xml = parse_v6_xml("<IP_MAP_LIST><IP_MAP><V4>0.0.0.1</V4><V6>2001:db8::1</V6></IP_MAP></IP_MAP_LIST>")
            .expect("valid");
        assert_eq!(csv, xml);
        assert!(parse_v6_csv("10.0.0.1,2001:db8::1").is_err(), "outside the reserved block");
        assert_eq!(prefix("2001:db8::1".parse().expect("v6"), 32), prefix("2001:db8:ffff::".parse().expect("v6"), 32));
    }
}
