//! One table per kind of object, each reading like its task card: how an object is matched
//! across the two subscriptions (the name the migration keeps), which fields are compared and
//! how (references through the names they point to on each side), and which fields are left
//! out because the target sets them itself. A field no rule names is compared as it is.

use std::collections::BTreeMap;

use crate::error::TransformError;
use crate::export::{Export, Kind, Record};
use crate::inputs::Inputs;
use crate::ranges::{IpSet, parse_entry};
use crate::reconcile::{Object, Objects};
use crate::tasks::{
    asset_groups, auth_records, domains, ips, networks, option_profiles, policies, report_templates, schedules,
    search_lists, tags, users, virtual_hosts,
};
use crate::xml::Element;

/// Which export an object is read from: a few names change on the way (the source's "Asset
/// Search Tags" children live under "Imported Asset Search Tags" in the target).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

pub struct Table {
    /// How the report names the kind.
    pub kind: &'static str,
    /// The bundle task that migrates it, whose review entries explain its differences.
    pub task: &'static str,
    pub read: fn(&Export, &Names, Side) -> Result<Objects, TransformError>,
}

/// In the order the bundle migrates them.
pub const TABLES: &[Table] = &[
    Table { kind: "networks", task: networks::TASK, read: read_networks },
    Table { kind: "IP lists", task: ips::TASK, read: read_ip_lists },
    Table { kind: "domains", task: domains::TASK, read: read_domains },
    Table { kind: "asset groups", task: asset_groups::TASK, read: read_asset_groups },
    Table { kind: "asset tags", task: tags::TASK, read: read_tags },
    Table { kind: "users", task: users::TASK, read: read_users },
    Table { kind: "virtual hosts", task: virtual_hosts::TASK, read: read_virtual_hosts },
    Table { kind: "search lists", task: search_lists::TASK, read: read_search_lists },
    Table { kind: "authentication records", task: auth_records::TASK, read: read_auth_records },
    Table { kind: "option profiles", task: option_profiles::TASK, read: read_option_profiles },
    Table { kind: "report templates", task: report_templates::TASK, read: read_report_templates },
    Table { kind: "scan schedules", task: schedules::TASK, read: read_schedules },
    Table { kind: "compliance policies", task: policies::TASK, read: read_policies },
];

/// How references to network 0 read.
const GLOBAL_DEFAULT_NETWORK: &str = "Global Default Network";

/// What an ID refers to, resolved through one side's own lists.
#[derive(Debug, Clone, Copy)]
enum Ref {
    Network,
    Appliance,
    AssetGroup,
    Tag,
    SearchList,
    Vault,
    User,
}

/// How a field (a `/`-separated path below the record, `@attribute` for attributes) is
/// compared. A rule applies to the field at its path, or ending with `/` and its path.
#[derive(Debug, Clone, Copy)]
enum How {
    /// Set by the target itself (IDs, owners, dates): never compared.
    Skip,
    /// An address list, compared as the set of addresses it covers.
    Ips,
    /// IDs (comma-separated, ranges `a-b` allowed) compared through the names they refer to.
    Names(Ref),
    /// One ID compared through the name it refers to, with the ID Qualys assumes when absent.
    NameOr(Ref, &'static str),
    /// Compared case-insensitively, with the value Qualys assumes when the field is absent.
    Lower(Option<&'static str>),
    /// Compared as it is, with the value Qualys assumes when the field is absent.
    Default(&'static str),
}

type Rules = [(&'static str, How)];

/// ID → name maps of one export, and each person by user ID and login.
pub struct Names {
    maps: BTreeMap<&'static str, BTreeMap<String, String>>,
    /// The target business unit of each source one the operator mapped (`business_units.csv`).
    business_units: BTreeMap<String, String>,
}

impl Names {
    /// The names of `export`; `inputs` are the mapping tables the bundle was made with, for
    /// the source's side.
    pub fn of(export: &Export, side: Side, inputs: Option<&Inputs>) -> Names {
        let map = |kind: Kind, id: &str, name: &str| -> BTreeMap<String, String> {
            export
                .records(kind)
                .filter_map(|r| Some((r.text(id)?.to_owned(), r.text(name).unwrap_or_default().to_owned())))
                .collect()
        };
        let mut maps = BTreeMap::new();
        let mut network_names = map(Kind::NetworkList, "ID", "NAME");
        network_names.insert(networks::DEFAULT_NETWORK.to_owned(), GLOBAL_DEFAULT_NETWORK.to_owned());
        maps.insert("network", network_names);
        maps.insert("appliance", map(Kind::ApplianceList, "ID", "NAME"));
        maps.insert("asset group", map(Kind::AssetGroupList, "ID", "TITLE"));
        let mut lists = map(Kind::StaticSearchList, "ID", "TITLE");
        lists.extend(map(Kind::DynamicSearchList, "ID", "TITLE"));
        maps.insert("search list", lists);
        maps.insert("vault", map(Kind::VaultList, "ID", "TITLE"));
        let tag_paths = tag_paths(export).into_iter().map(|(id, path)| (id, tag_identity(&path, side)));
        maps.insert("tag", tag_paths.collect());
        let mut people = BTreeMap::new();
        for user in export.records(Kind::UserList) {
            let person = person(&user);
            people.extend(user.text("USER_ID").map(|id| (id.to_owned(), person.clone())));
            people.extend(user.text("USER_LOGIN").map(|login| (login.to_owned(), person)));
        }
        maps.insert("user", people);
        let units = inputs.into_iter().flat_map(|inputs| &inputs.business_units.rows);
        Names { maps, business_units: units.map(|row| (row.source.clone(), row.target.clone())).collect() }
    }

    fn resolve(&self, what: Ref, id: &str) -> String {
        let kind = match what {
            Ref::Network => "network",
            Ref::Appliance => "appliance",
            Ref::AssetGroup => "asset group",
            Ref::Tag => "tag",
            Ref::SearchList => "search list",
            Ref::Vault => "vault",
            Ref::User => "user",
        };
        self.maps[kind].get(id).cloned().unwrap_or_else(|| format!("unknown {kind} {id}"))
    }

    /// Each ID of a comma-separated list (ranges `a-b` of IDs expanded), by name, sorted.
    fn resolve_all(&self, what: Ref, ids: &str) -> String {
        let mut names: Vec<String> = Vec::new();
        for part in ids.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let range =
                part.split_once('-').and_then(|(low, high)| Some((low.parse::<u64>().ok()?, high.parse().ok()?)));
            match range {
                Some((low, high)) if high >= low && high - low < 100_000 => {
                    names.extend((low..=high).map(|id| self.resolve(what, &id.to_string())));
                }
                _ => names.push(self.resolve(what, part)),
            }
        }
        names.sort();
        names.dedup();
        names.join(", ")
    }
}

/// A person is who a user is across subscriptions: the login changes, the name and email do not.
fn person(user: &Record<'_>) -> String {
    let text = |path: &str| user.text(path).unwrap_or_default();
    format!(
        "{} {} <{}>",
        text("CONTACT_INFO/FIRSTNAME"),
        text("CONTACT_INFO/LASTNAME"),
        text("CONTACT_INFO/EMAIL").to_lowercase()
    )
}

/// Every field of a record below `element`, as `path` → value (repeated values sorted and
/// joined), after the rules.
fn fields(element: &Element, rules: &Rules, names: &Names) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    walk(element, "", rules, names, &mut values);
    let mut fields: BTreeMap<String, String> = values
        .into_iter()
        .map(|(path, mut values)| {
            values.sort();
            (path, values.join(", "))
        })
        .collect();
    for (path, how) in rules {
        let default = match how {
            How::Lower(Some(default)) | How::Default(default) => (*default).to_owned(),
            How::NameOr(what, id) => names.resolve(*what, id),
            _ => continue,
        };
        fields.entry((*path).to_owned()).or_insert(default);
    }
    fields
}

fn rule<'r>(rules: &'r Rules, path: &str) -> Option<&'r How> {
    rules.iter().find(|(rule, _)| path == *rule || path.ends_with(&format!("/{rule}"))).map(|(_, how)| how)
}

fn walk(element: &Element, path: &str, rules: &Rules, names: &Names, out: &mut BTreeMap<String, Vec<String>>) {
    for (name, value) in &element.attrs {
        let at = format!("{path}@{name}");
        if !matches!(rule(rules, &at), Some(How::Skip)) {
            out.entry(at).or_default().push(value.clone());
        }
    }
    for child in &element.children {
        let child_path = if path.is_empty() { child.name.clone() } else { format!("{path}/{}", child.name) };
        let value = match rule(rules, &child_path) {
            Some(How::Skip) => continue,
            Some(How::Ips) => {
                let entries = child.children.iter().map(|e| e.value()).chain(Some(child.value()));
                ip_set(entries)
            }
            _ if !child.children.is_empty() => {
                walk(child, &child_path, rules, names, out);
                continue;
            }
            // A blank field is an absent one: captures differ in whether they write it.
            _ if child.value().is_empty() => continue,
            Some(How::Names(what)) => names.resolve_all(*what, child.value()),
            Some(How::NameOr(what, _)) => names.resolve(*what, child.value()),
            Some(How::Lower(_)) => child.value().to_lowercase(),
            Some(How::Default(_)) | None => child.value().to_owned(),
        };
        out.entry(child_path).or_default().push(value);
    }
}

/// Addresses, ranges and CIDR blocks (comma-separated or one per item) as the ranges they cover.
fn ip_set<'a>(entries: impl Iterator<Item = &'a str>) -> String {
    let entries: Vec<_> = entries
        .flat_map(|e| e.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .filter_map(|e| parse_entry(e).ok())
        .collect();
    let set = IpSet::from_entries(&entries);
    set.entries().iter().map(|e| e.render()).collect::<Vec<_>>().join(",")
}

fn object(name: impl Into<String>, fields: BTreeMap<String, String>) -> Object {
    Object { name: name.into(), fields, default: false }
}

/// Marks the objects every subscription has.
fn defaults(mut objects: Objects, is_default: impl Fn(&str) -> bool) -> Objects {
    objects.values_mut().filter(|o| is_default(&o.name)).for_each(|o| o.default = true);
    objects
}

fn by_title(export: &Export, kind: Kind, title: &str, rules: &Rules, names: &Names) -> Objects {
    export
        .records(kind)
        .filter_map(|r| {
            let name = r.text(title)?.to_owned();
            Some((name.clone(), object(name, fields(r.element, rules, names))))
        })
        .collect()
}

/// Networks: by name, every user network (the Global Default Network exists everywhere).
fn read_networks(export: &Export, _: &Names, _: Side) -> Result<Objects, TransformError> {
    Ok(export
        .records(Kind::NetworkList)
        .filter(|n| n.text("ID") != Some(networks::DEFAULT_NETWORK))
        .filter_map(|n| n.text("NAME").map(|name| (name.to_owned(), object(name, BTreeMap::new()))))
        .collect())
}

/// IP lists: one object per module and tracking method, compared as the addresses it covers.
fn read_ip_lists(export: &Export, _: &Names, _: Side) -> Result<Objects, TransformError> {
    let mut sets: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in export.files(Kind::IpList) {
        let Some(scope) = ips::list_scope(file)? else { continue };
        let module = match scope.module {
            ips::Module::Vm => "VM",
            ips::Module::Pc => "PC",
        };
        let name = format!("{module}, {} tracked", scope.tracking.api());
        sets.entry(name).or_default().extend(file.document.records.iter().map(|r| r.value().to_owned()));
    }
    Ok(sets
        .into_iter()
        .map(|(name, entries)| {
            let addresses = BTreeMap::from([("addresses".to_owned(), ip_set(entries.iter().map(String::as_str)))]);
            (name.clone(), object(name, addresses))
        })
        .collect())
}

/// Domains: by name, with the netblock they cover.
fn read_domains(export: &Export, _: &Names, _: Side) -> Result<Objects, TransformError> {
    Ok(export
        .records(Kind::DomainList)
        .filter_map(|d| {
            let name = d.text("DOMAIN_NAME")?;
            let ranges = d.element.all("NETBLOCK/RANGE");
            let entries: Vec<String> = ranges
                .map(|r| format!("{}-{}", r.text_at("START").unwrap_or_default(), r.text_at("END").unwrap_or_default()))
                .collect();
            let netblock = BTreeMap::from([("NETBLOCK".to_owned(), ip_set(entries.iter().map(String::as_str)))]);
            Some((name.to_owned(), object(name, netblock)))
        })
        .collect())
}

/// Asset groups: by title, every field the add call takes, with the network and appliances by
/// name; owners and assignments are set by whoever creates the group (the review lists them).
fn read_asset_groups(export: &Export, names: &Names, _: Side) -> Result<Objects, TransformError> {
    let mut rules: Vec<(&'static str, How)> = vec![
        ("ID", How::Skip),
        ("LAST_UPDATE", How::Skip),
        ("NETWORK_ID", How::NameOr(Ref::Network, networks::DEFAULT_NETWORK)),
        ("DEFAULT_APPLIANCE_ID", How::Names(Ref::Appliance)),
        ("APPLIANCE_IDS", How::Names(Ref::Appliance)),
        ("IP_SET", How::Ips),
        ("BUSINESS_IMPACT", How::Lower(Some("high"))),
        ("CVSS_ENVIRO_CDP", How::Lower(Some("not defined"))),
        ("CVSS_ENVIRO_TD", How::Lower(Some("not defined"))),
        ("CVSS_ENVIRO_CR", How::Lower(Some("not defined"))),
        ("CVSS_ENVIRO_IR", How::Lower(Some("not defined"))),
        ("CVSS_ENVIRO_AR", How::Lower(Some("not defined"))),
        ("UNIT_ID", How::Default("0")),
    ];
    rules.extend(asset_groups::OUTPUT_ONLY.iter().map(|field| (*field, How::Skip)));
    let groups = by_title(export, Kind::AssetGroupList, "TITLE", &rules, names);
    Ok(defaults(groups, |title| title == asset_groups::ALL))
}

/// Every tag's path of names from its root, by ID.
fn tag_paths(export: &Export) -> BTreeMap<String, String> {
    let tags: BTreeMap<&str, (&str, &str)> = export
        .records(Kind::TagSearch)
        .filter_map(|t| {
            Some((t.text("id")?, (t.text("name").unwrap_or_default(), t.text("parentTagId").unwrap_or_default())))
        })
        .collect();
    let mut paths = BTreeMap::new();
    for start in tags.keys() {
        let mut parts = Vec::new();
        let mut id = *start;
        while let Some((name, parent)) = tags.get(id) {
            // A parent loop in a damaged capture must not hang the comparison.
            if parts.len() > tags.len() {
                break;
            }
            parts.push(*name);
            id = parent;
        }
        parts.reverse();
        paths.insert((*start).to_owned(), parts.join(" / "));
    }
    paths
}

/// The path a tag has in the target: the source's "Asset Search Tags" is re-created as
/// "Imported Asset Search Tags", with its children below it.
fn tag_identity(path: &str, side: Side) -> String {
    let renamed = path.strip_prefix(tags::ASSET_SEARCH).filter(|rest| rest.is_empty() || rest.starts_with(" / "));
    match (side, renamed) {
        (Side::Source, Some(rest)) => format!("{}{rest}", tags::IMPORTED_ASSET_SEARCH),
        _ => path.to_owned(),
    }
}

/// The tags the platform keeps itself: the target has its own.
fn platform_tag(path: &str) -> bool {
    let root = path.split(" / ").next().unwrap_or(path);
    tags::SYSTEM_TREES.iter().any(|(system, _)| *system == root) || path == tags::CLOUD_AGENT
}

/// Tags: by path from the root, every field the create call takes (the name is the path).
fn read_tags(export: &Export, _: &Names, side: Side) -> Result<Objects, TransformError> {
    let paths = tag_paths(export);
    Ok(export
        .records(Kind::TagSearch)
        .filter_map(|t| {
            let path = paths.get(t.text("id")?)?;
            let writable = tags::WRITABLE.iter().filter(|f| **f != "name");
            let fields = writable.filter_map(|f| Some(((*f).to_owned(), t.text(f)?.to_owned()))).collect();
            let tag = Object { default: platform_tag(path), ..object(path.clone(), fields) };
            Some((tag_identity(path, side), tag))
        })
        .collect())
}

/// Users: matched as persons (name and email), since the target generates new logins; their
/// role, business unit, contact and asset groups (by title) compared. What the add call cannot
/// set (permissions, notifications, interface style, company) the review lists as losses.
fn read_users(export: &Export, names: &Names, _: Side) -> Result<Objects, TransformError> {
    let rules: &Rules = &[
        ("USER_LOGIN", How::Skip),
        ("USER_ID", How::Skip),
        ("LAST_LOGIN_DATE", How::Skip),
        ("CREATION_DATE", How::Skip),
        ("BUSINESS_UNIT", How::Default(users::UNASSIGNED)),
        ("USER_STATUS", How::Skip),
    ];
    Ok(export
        .records(Kind::UserList)
        .filter_map(|u| {
            let login = u.text("USER_LOGIN")?;
            let mut fields = fields(u.element, rules, names);
            if let Some(unit) = fields.get_mut("BUSINESS_UNIT")
                && let Some(mapped) = names.business_units.get(unit.as_str())
            {
                unit.clone_from(mapped);
            }
            Some((person(&u), object(login, fields)))
        })
        .collect())
}

/// Virtual hosts: by address, port and network (by name), with their FQDNs.
fn read_virtual_hosts(export: &Export, names: &Names, _: Side) -> Result<Objects, TransformError> {
    Ok(export
        .records(Kind::VirtualHostList)
        .filter_map(|v| {
            let network = names.resolve(Ref::Network, v.text("NETWORK_ID").unwrap_or(networks::DEFAULT_NETWORK));
            let name = format!("{}:{} in {network}", v.text("IP")?, v.text("PORT")?);
            let mut fqdns: Vec<&str> =
                v.element.children_named("FQDN").flat_map(|f| f.value().split(',')).map(str::trim).collect();
            fqdns.sort_unstable();
            let fields = BTreeMap::from([("FQDN".to_owned(), fqdns.join(", "))]);
            Some((name.clone(), object(name, fields)))
        })
        .collect())
}

/// Search lists: by type and title, with their QIDs or criteria; the objects that use a list
/// are compared with those objects.
fn read_search_lists(export: &Export, names: &Names, _: Side) -> Result<Objects, TransformError> {
    let rules: &Rules = &[
        ("ID", How::Skip),
        ("OWNER", How::Skip),
        ("CREATED", How::Skip),
        ("MODIFIED", How::Skip),
        ("MODIFIED_BY", How::Skip),
        ("OPTION_PROFILES", How::Skip),
        ("REPORT_TEMPLATES", How::Skip),
        ("DISTRIBUTION_GROUPS", How::Skip),
        ("REMEDIATION_POLICIES", How::Skip),
        ("GLOBAL", How::Lower(None)),
    ];
    let mut lists = by_title(export, Kind::StaticSearchList, "TITLE", rules, names);
    lists.extend(by_title(export, Kind::DynamicSearchList, "TITLE", rules, names));
    Ok(lists)
}

/// Authentication records: by type and title, every field the create call takes, with the
/// network and vault by name and the addresses as the set they cover.
fn read_auth_records(export: &Export, names: &Names, _: Side) -> Result<Objects, TransformError> {
    let mut rules: Vec<(&'static str, How)> = vec![
        ("IP_SET", How::Ips),
        ("NETWORK_ID", How::NameOr(Ref::Network, networks::DEFAULT_NETWORK)),
        ("VAULT_ID", How::Names(Ref::Vault)),
        // A record created with its password lists the default login type; a capture may not.
        ("LOGIN_TYPE", How::Default("basic")),
    ];
    rules.extend(auth_records::OUTPUT_ONLY.iter().map(|field| (*field, How::Skip)));
    Ok(export
        .records(Kind::AuthRecordList)
        .filter_map(|r| {
            let root = &r.file.document.head.name;
            let kind = root.trim_start_matches("AUTH_").trim_end_matches("_LIST_OUTPUT").to_ascii_lowercase();
            let title = r.text("TITLE")?;
            Some((format!("{kind}/{title}"), object(title, fields(r.element, &rules, names))))
        })
        .collect())
}

/// Option profiles: by title, every setting, with the search lists they use by title.
fn read_option_profiles(export: &Export, names: &Names, _: Side) -> Result<Objects, TransformError> {
    let rules: &Rules = &[
        ("BASIC_INFO/ID", How::Skip),
        ("BASIC_INFO/USER_ID", How::Skip),
        ("BASIC_INFO/UPDATE_DATE", How::Skip),
        ("CUSTOM/ID", How::Names(Ref::SearchList)),
    ];
    let profiles = by_title(export, Kind::OptionProfiles, "BASIC_INFO/GROUP_NAME", rules, names);
    Ok(defaults(profiles, |title| title == option_profiles::INITIAL_OPTIONS))
}

/// Report templates: by type and title, the list's fields and every setting of the template's
/// export, its asset groups, tags, search lists, networks and users by name; the owner is the
/// API user in the target (the review lists it).
fn read_report_templates(export: &Export, names: &Names, _: Side) -> Result<Objects, TransformError> {
    let list_rules: &Rules = &[("ID", How::Skip), ("USER", How::Skip), ("LAST_UPDATE", How::Skip)];
    let mut settings: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for template in export.records(Kind::ReportTemplate) {
        let mut values = BTreeMap::new();
        let mut title = String::new();
        for section in &template.element.children {
            for info in section.children_named("INFO") {
                let key = info.attr("key").unwrap_or_default();
                let value = match key {
                    "owner" => continue,
                    "title" => {
                        title = info.value().to_owned();
                        continue;
                    }
                    "asset_groups" => names.resolve_all(Ref::AssetGroup, info.value()),
                    "network" => names.resolve_all(Ref::Network, info.value()),
                    "tag_set_include" | "tag_set_exclude" => names.resolve_all(Ref::Tag, info.value()),
                    "search_list_ids" | "exclude_search_list_ids" => names.resolve_all(Ref::SearchList, info.value()),
                    "report_access_users" => names.resolve_all(Ref::User, info.value()),
                    _ => info.value().to_owned(),
                };
                values.insert(format!("{}/{key}", section.name), value);
            }
        }
        settings.insert(title, values);
    }
    export
        .records(Kind::ReportTemplateList)
        .map(|t| {
            let listed = report_templates::Listed::parse(t)?;
            let mut fields = fields(t.element, list_rules, names);
            fields.extend(settings.get(listed.title).into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
            let template = Object { default: listed.is_stock(), ..object(listed.title, fields) };
            Ok((format!("{}/{}", listed.template_type, listed.title), template))
        })
        .collect()
}

/// Scan schedules: by module and title, every field, the network by name; the owner is the
/// API user in the target, and distribution groups are compared by name.
fn read_schedules(export: &Export, names: &Names, _: Side) -> Result<Objects, TransformError> {
    let rules: &Rules = &[
        ("ID", How::Skip),
        ("USER_LOGIN", How::Skip),
        ("DISTRIBUTION_GROUP/ID", How::Skip),
        ("NETWORK_ID", How::NameOr(Ref::Network, networks::DEFAULT_NETWORK)),
    ];
    let mut objects = Objects::new();
    for file in export.files(Kind::ScheduleList) {
        let module = match schedules::module_of(file)? {
            ips::Module::Vm => "VM",
            ips::Module::Pc => "PC",
        };
        for scan in file.records() {
            let Some(title) = scan.text("TITLE") else { continue };
            objects.insert(format!("{module}/{title}"), object(title, fields(scan.element, rules, names)));
        }
    }
    Ok(objects)
}

/// Compliance policies: by title, the scope (asset groups by title, tags by path, selectors)
/// and the controls of the policy's export; creation and evaluation dates are the target's.
fn read_policies(export: &Export, names: &Names, _: Side) -> Result<Objects, TransformError> {
    let rules: &Rules = &[
        ("ID", How::Skip),
        ("CREATED", How::Skip),
        ("LAST_MODIFIED", How::Skip),
        ("LAST_EVALUATED", How::Skip),
        ("ASSET_GROUP_IDS", How::Names(Ref::AssetGroup)),
        ("TAG_ID", How::Names(Ref::Tag)),
    ];
    let controls: BTreeMap<&str, String> = export
        .records(Kind::PolicyExport)
        .filter_map(|p| {
            let mut ids: Vec<&str> = p
                .element
                .descendants()
                .into_iter()
                .filter(|e| e.name == "CONTROL")
                .filter_map(|c| c.text_at("ID"))
                .collect();
            ids.sort_unstable();
            ids.dedup();
            Some((p.text("TITLE")?, ids.join(", ")))
        })
        .collect();
    let mut objects = by_title(export, Kind::PolicyList, "TITLE", rules, names);
    for (title, policy) in &mut objects {
        if let Some(ids) = controls.get(title.as_str()) {
            policy.fields.insert("controls".to_owned(), ids.clone());
        }
    }
    Ok(objects)
}
