//! Asset groups (`/api/2.0/fo/asset/group/`): `list` (with `show_attributes`, ID filters and
//! truncation) and `add`. The "All" group is a system object: it always holds every IP of
//! the subscription and cannot be added.

use crate::api::{
    Call, Ctx, Registration, Reply, appliance, capitalize, delete_by_id, list_document, network, page, read,
    simple_return, write,
};
use crate::export;
use crate::ipset::Ipv4Set;
use crate::params::{ApiError, Params, id_matches};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State};
use crate::xml::{Document, Element};

const IDS: IdSequence = IdSequence::new("asset_group", 3_000_001);
pub(crate) const PATH: &str = "/api/2.0/fo/asset/group/";
pub(crate) const ALL: &str = "All";
const DEFAULT_PAGE: u64 = 1000;

pub(crate) static KIND: Registration = Registration {
    ops: &[
        read(PATH, "list", list_doc),
        write(PATH, "add", add),
        // The "All" group is the system's: never deleted.
        write(PATH, "delete", |call| {
            delete_by_id(call, "id", "asset group", |state| &mut state.groups, |g| g.title != ALL)
        }),
    ],
    seeds: &[SeedDoc::root("ASSET_GROUP_LIST_OUTPUT", seed)],
    defaults: Some(add_defaults),
    export: |state, ctx| {
        let params = [("action", "list"), ("show_attributes", "ALL"), ("truncation_limit", "0")];
        Ok(vec![export::file("asset_groups.xml", &params, |p| list_doc(state, p, ctx))?])
    },
    counts: &[("asset_groups", |state| state.groups.len() as u64)],
};

const IMPACT: &[&str] = &["critical", "high", "medium", "low", "none"];
/// (parameter, list element, accepted values) of the CVSS environmental attributes.
const CVSS: [(&str, &str, &[&str]); 5] = [
    ("cvss_enviro_cdp", "CVSS_ENVIRO_CDP", &["high", "medium-high", "low-medium", "low", "none"]),
    ("cvss_enviro_td", "CVSS_ENVIRO_TD", &["high", "medium", "low", "none"]),
    ("cvss_enviro_cr", "CVSS_ENVIRO_CR", &["high", "medium", "low"]),
    ("cvss_enviro_ir", "CVSS_ENVIRO_IR", &["high", "medium", "low"]),
    ("cvss_enviro_ar", "CVSS_ENVIRO_AR", &["high", "medium", "low"]),
];
const NOT_DEFINED: &str = "Not Defined";

/// Every attribute `show_attributes` can name, in output order.
const ATTRIBUTES: &[&str] = &[
    "ID",
    "TITLE",
    "OWNER_USER_ID",
    "UNIT_ID",
    "NETWORK_ID",
    "LAST_UPDATE",
    "BUSINESS_IMPACT",
    "CVSS_ENVIRO_CDP",
    "CVSS_ENVIRO_TD",
    "CVSS_ENVIRO_CR",
    "CVSS_ENVIRO_IR",
    "CVSS_ENVIRO_AR",
    "DEFAULT_APPLIANCE_ID",
    "APPLIANCE_IDS",
    "IP_SET",
    "DOMAIN_LIST",
    "DNS_LIST",
    "NETBIOS_LIST",
    "COMMENTS",
    "DIVISION",
    "FUNCTION",
    "LOCATION",
];
/// What a list without `show_attributes` shows.
const DEFAULT_ATTRIBUTES: &[&str] = &["ID", "TITLE", "OWNER_USER_ID", "UNIT_ID", "NETWORK_ID", "IP_SET"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AssetGroup {
    pub id: u64,
    pub title: String,
    pub owner_user_id: Option<u64>,
    pub unit_id: Option<u64>,
    /// `None`: the Global Default Network, and no `NETWORK_ID` in the list (as some captures have).
    pub network_id: Option<u64>,
    pub last_update: Option<String>,
    /// As the list writes it ("High").
    pub business_impact: Option<String>,
    /// CDP, TD, CR, IR, AR, as the list writes them ("Medium-High", "Not Defined").
    pub cvss: [Option<String>; 5],
    pub default_appliance_id: Option<u64>,
    pub appliance_ids: Vec<u64>,
    pub ips: Ipv4Set,
    /// Domain name and optional netblock.
    pub domains: Vec<(String, Option<String>)>,
    pub dns_names: Vec<String>,
    pub netbios_names: Vec<String>,
    pub comments: Option<String>,
    pub division: Option<String>,
    pub function: Option<String>,
    pub location: Option<String>,
    /// Attributes of a seeded group that the simulator does not model, kept as read.
    pub extra: Vec<Element>,
}

impl AssetGroup {
    /// A group as seeded: nothing but its ID and title until the list says more.
    fn bare(id: u64, title: &str) -> Self {
        AssetGroup {
            id,
            title: title.to_owned(),
            owner_user_id: None,
            unit_id: None,
            network_id: None,
            last_update: None,
            business_impact: None,
            cvss: Default::default(),
            default_appliance_id: None,
            appliance_ids: Vec::new(),
            ips: Ipv4Set::default(),
            domains: Vec::new(),
            dns_names: Vec::new(),
            netbios_names: Vec::new(),
            comments: None,
            division: None,
            function: None,
            location: None,
            extra: Vec::new(),
        }
    }

    /// A group as Qualys creates it: every attribute set, defaults where none was given.
    fn created(state: &State, id: u64, title: &str, now: &str) -> Self {
        let owner = state.users.values().find(|u| u.login == state.api_login).map(|u| u.id);
        AssetGroup {
            owner_user_id: owner,
            unit_id: Some(0),
            network_id: Some(0),
            last_update: Some(now.to_owned()),
            business_impact: Some(capitalize("high")),
            cvss: std::array::from_fn(|_| Some(NOT_DEFINED.to_owned())),
            ..AssetGroup::bare(id, title)
        }
    }

    fn is_all(&self) -> bool {
        self.title == ALL
    }
}

/// The system "All" group of a subscription that was not seeded with its own.
fn add_defaults(state: &mut State) {
    let id = state.next_id(IDS);
    let group = AssetGroup::created(state, id, ALL, &state.now());
    state.groups.insert(id, group);
}

pub(crate) fn by_title<'s>(state: &'s State, title: &str) -> Option<&'s AssetGroup> {
    state.groups.values().find(|g| g.title == title)
}

fn list_doc(state: &State, params: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    params.only(&[
        "action",
        "echo_request",
        "ids",
        "id_min",
        "id_max",
        "truncation_limit",
        "network_ids",
        "unit_id",
        "user_id",
        "title",
        "show_attributes",
    ])?;
    let attributes: Vec<&str> = match params.value("show_attributes") {
        None => DEFAULT_ATTRIBUTES.to_vec(),
        Some(v) if v.trim().eq_ignore_ascii_case("ALL") => ATTRIBUTES.to_vec(),
        Some(v) => {
            let asked: Vec<String> = v.split(',').map(|a| a.trim().to_ascii_uppercase()).collect();
            if let Some(bad) = asked.iter().find(|a| !ATTRIBUTES.contains(&a.as_str())) {
                return Err(ApiError::invalid("show_attributes", bad, ""));
            }
            ATTRIBUTES.iter().copied().filter(|a| *a == "ID" || asked.iter().any(|x| x == a)).collect()
        }
    };
    let ids = params.id_list("ids")?;
    let networks = params.id_list("network_ids")?;
    let unit = params.number("unit_id")?;
    let user = params.number("user_id")?;
    let selected = state.groups.values().filter(|g| {
        ids.as_ref().is_none_or(|ids| id_matches(ids, g.id))
            && networks.as_ref().is_none_or(|n| id_matches(n, g.network_id.unwrap_or(0)))
            && unit.is_none_or(|u| g.unit_id == Some(u))
            && user.is_none_or(|u| g.owner_user_id == Some(u))
            && params.value("title").is_none_or(|t| g.title == t)
    });
    let page = page(selected.map(|g| (g.id, g)), params, ctx, PATH, DEFAULT_PAGE)?;
    let mut list = Element::new("ASSET_GROUP_LIST");
    for g in page.items {
        list.push(element(state, g, &attributes));
    }
    let mut body = vec![list];
    body.extend(page.warning);
    list_document("ASSET_GROUP_LIST_OUTPUT", ctx, PATH, params, &state.now(), body)
}

fn element(state: &State, g: &AssetGroup, attributes: &[&str]) -> Element {
    let mut el = Element::new("ASSET_GROUP");
    let cdata_opt = |name: &str, v: &Option<String>| v.as_ref().map(|v| Element::cdata(name, v));
    for attribute in attributes {
        let child = match *attribute {
            "ID" => Some(Element::text("ID", g.id.to_string())),
            "TITLE" => Some(Element::cdata("TITLE", &g.title)),
            "OWNER_USER_ID" => g.owner_user_id.map(|o| Element::text("OWNER_USER_ID", o.to_string())),
            "UNIT_ID" => g.unit_id.map(|u| Element::text("UNIT_ID", u.to_string())),
            "NETWORK_ID" => g.network_id.map(|n| Element::text("NETWORK_ID", n.to_string())),
            "LAST_UPDATE" => g.last_update.as_ref().map(|l| Element::text("LAST_UPDATE", l)),
            "BUSINESS_IMPACT" => g.business_impact.as_ref().map(|b| Element::text("BUSINESS_IMPACT", b)),
            "DEFAULT_APPLIANCE_ID" => {
                g.default_appliance_id.map(|d| Element::text("DEFAULT_APPLIANCE_ID", d.to_string()))
            }
            "APPLIANCE_IDS" => (!g.appliance_ids.is_empty()).then(|| {
                Element::text(
                    "APPLIANCE_IDS",
                    g.appliance_ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
                )
            }),
            "IP_SET" => {
                let ips = if g.is_all() { state.ips.all() } else { g.ips.clone() };
                (!ips.is_empty()).then(|| ips.to_ip_set())
            }
            "DOMAIN_LIST" => (!g.domains.is_empty()).then(|| {
                let mut list = Element::new("DOMAIN_LIST");
                for (name, netblock) in &g.domains {
                    let mut d = Element::cdata("DOMAIN", name);
                    if let Some(n) = netblock {
                        d = d.attr("netblock", n);
                    }
                    list.push(d);
                }
                list
            }),
            "DNS_LIST" => names_element("DNS_LIST", "DNS", &g.dns_names),
            "NETBIOS_LIST" => names_element("NETBIOS_LIST", "NETBIOS", &g.netbios_names),
            "COMMENTS" => cdata_opt("COMMENTS", &g.comments),
            "DIVISION" => cdata_opt("DIVISION", &g.division),
            "FUNCTION" => cdata_opt("FUNCTION", &g.function),
            "LOCATION" => cdata_opt("LOCATION", &g.location),
            cvss => CVSS
                .iter()
                .position(|(_, name, _)| name == &cvss)
                .and_then(|i| g.cvss[i].as_ref())
                .map(|v| Element::text(cvss, v)),
        };
        el.push_opt(child);
    }
    if attributes.len() == ATTRIBUTES.len() {
        for extra in &g.extra {
            el.push(extra.clone());
        }
    }
    el
}

fn names_element(list: &str, item: &str, names: &[String]) -> Option<Element> {
    (!names.is_empty()).then(|| {
        let mut el = Element::new(list);
        for n in names {
            el.push(Element::cdata(item, n));
        }
        el
    })
}

/// A comma-separated list of plain IDs (`appliance_ids=1,2`).
fn id_values(params: &Params, name: &str) -> Result<Vec<u64>, ApiError> {
    params.list(name).iter().map(|v| v.parse::<u64>().map_err(|_| ApiError::invalid(name, v, ""))).collect()
}

/// `domains`: names, each optionally followed by `:[netblock]` (the netblock may contain
/// commas, so the list is split outside brackets only).
fn parse_domains(value: &str) -> Result<Vec<(String, Option<String>)>, ApiError> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in value.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&value[start..]);
    items
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match item.split_once(":[") {
            Some((name, rest)) => match rest.strip_suffix(']') {
                Some(block) => Ok((name.trim().to_owned(), Some(block.trim().to_owned()).filter(|b| !b.is_empty()))),
                None => Err(ApiError::invalid("domains", item, "")),
            },
            None => Ok((item.to_owned(), None)),
        })
        .collect()
}

fn add(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&[
        "action",
        "echo_request",
        "title",
        "network_id",
        "ips",
        "appliance_ids",
        "default_appliance_id",
        "domains",
        "dns_names",
        "netbios_names",
        "comments",
        "division",
        "function",
        "location",
        "business_impact",
        "cvss_enviro_cdp",
        "cvss_enviro_td",
        "cvss_enviro_cr",
        "cvss_enviro_ir",
        "cvss_enviro_ar",
    ])?;
    let title = p.require("title")?.trim().to_owned();
    if title.eq_ignore_ascii_case(ALL) || call.state.groups.values().any(|g| g.title.eq_ignore_ascii_case(&title)) {
        return Err(ApiError::invalid("title", &title, "An asset group with this title already exists"));
    }
    let network_id = network::param(call.state, p, "network_id")?.unwrap_or(0);
    let ips = p.value("ips").map(Ipv4Set::parse_list).transpose().map_err(|e| ApiError::invalid("ips", e, ""))?;
    let appliance_ids = id_values(p, "appliance_ids")?;
    appliance::check_ids(call.state, "appliance_ids", &appliance_ids)?;
    let default_appliance_id = p.number("default_appliance_id")?;
    if let Some(d) = default_appliance_id {
        appliance::check_ids(call.state, "default_appliance_id", &[d])?;
    }
    let mut cvss: [Option<String>; 5] = Default::default();
    for (slot, (param, _, allowed)) in cvss.iter_mut().zip(CVSS) {
        *slot = Some(p.choice(param, allowed)?.map_or_else(|| NOT_DEFINED.to_owned(), capitalize));
    }
    let business_impact = capitalize(p.choice("business_impact", IMPACT)?.unwrap_or("high"));
    let domains = p.value("domains").map(parse_domains).transpose()?.unwrap_or_default();
    let owned = |name: &str| p.value(name).map(str::to_owned);

    let id = call.state.next_id(IDS);
    let now = call.state.tick();
    let group = AssetGroup {
        network_id: Some(network_id),
        business_impact: Some(business_impact),
        cvss,
        default_appliance_id,
        appliance_ids,
        ips: ips.unwrap_or_default(),
        domains,
        dns_names: p.list("dns_names"),
        netbios_names: p.list("netbios_names"),
        comments: owned("comments"),
        division: owned("division"),
        function: owned("function"),
        location: owned("location"),
        ..AssetGroup::created(call.state, id, &title, &now)
    };
    call.state.groups.insert(id, group);
    Ok(simple_return(call.ctx, &now, "Asset Group successfully added.", &[("ID", id.to_string())]).into())
}

/// Reads `ASSET_GROUP_LIST_OUTPUT` (any `show_attributes`).
fn seed(state: &mut State, file: &SeedFile) -> SeedResult {
    let root = file.root();
    let Some(list) = root.path(&["RESPONSE", "ASSET_GROUP_LIST"]) else { return Ok(()) };
    for el in list.all("ASSET_GROUP") {
        let id = seed::id(el, "ID")?;
        let title = seed::text(el, "TITLE")?;
        let mut g = AssetGroup::bare(id, &title);
        g.last_update = el.non_empty("LAST_UPDATE");
        g.owner_user_id = match seed::opt_id(el, "OWNER_USER_ID")? {
            Some(o) => Some(o),
            None => seed::opt_id(el, "OWNER_ID")?,
        };
        g.unit_id = seed::opt_id(el, "UNIT_ID")?;
        g.network_id = seed::opt_id(el, "NETWORK_ID")?;
        g.business_impact = el.non_empty("BUSINESS_IMPACT");
        for (slot, (_, name, _)) in g.cvss.iter_mut().zip(CVSS) {
            *slot = el.non_empty(name);
        }
        g.default_appliance_id = seed::opt_id(el, "DEFAULT_APPLIANCE_ID")?;
        g.appliance_ids = el
            .non_empty("APPLIANCE_IDS")
            .map(|ids| {
                ids.split(',').map(|i| i.trim().parse::<u64>().map_err(|_| format!("APPLIANCE_IDS {ids:?}"))).collect()
            })
            .transpose()?
            .unwrap_or_default();
        if let Some(set) = el.get("IP_SET").filter(|_| title != ALL) {
            g.ips = Ipv4Set::from_ip_set(set).map_err(|e| format!("bad address {e}"))?;
        }
        g.domains = el
            .get("DOMAIN_LIST")
            .into_iter()
            .flat_map(|l| l.all("DOMAIN"))
            .map(|d| (d.value(), d.attribute("netblock").map(str::to_owned)))
            .collect();
        g.dns_names = el.get("DNS_LIST").into_iter().flat_map(|l| l.all("DNS")).map(Element::value).collect();
        g.netbios_names =
            el.get("NETBIOS_LIST").into_iter().flat_map(|l| l.all("NETBIOS")).map(Element::value).collect();
        g.comments = el.non_empty("COMMENTS");
        g.division = el.non_empty("DIVISION");
        g.function = el.non_empty("FUNCTION");
        g.location = el.non_empty("LOCATION");
        g.extra = seed::unmodelled(el, &[ATTRIBUTES, &["OWNER_ID"]].concat());
        state.observe_id(IDS, id);
        state.groups.insert(id, g);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_split_outside_brackets() {
        let parsed = parse_domains("a.example:[10.0.0.0-10.0.0.255,10.1.0.1], b.example").expect("valid");
        assert_eq!(
            parsed,
            vec![("a.example".into(), Some("10.0.0.0-10.0.0.255,10.1.0.1".into())), ("b.example".into(), None)]
        );
        assert!(parse_domains("a.example:[10.0.0.1").is_err());
    }
}
