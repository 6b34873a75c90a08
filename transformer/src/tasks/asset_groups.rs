//! Core task: Asset groups.
//!
//! Source: `ASSET_GROUP_LIST_OUTPUT` (`/api/2.0/fo/asset/group/?action=list&show_attributes=ALL`,
//! in pages when truncated): ID, TITLE, NETWORK_ID, IP_SET (IP, IP_RANGE), DOMAIN_LIST
//! (DOMAIN@netblock), DNS_LIST, NETBIOS_LIST, DEFAULT_APPLIANCE_ID, APPLIANCE_IDS ("1, 2"),
//! COMMENTS, DIVISION, FUNCTION, LOCATION, BUSINESS_IMPACT and CVSS_ENVIRO_CDP/TD/CR/IR/AR
//! (capitalised words, or "Not Defined"). OWNER_*, UNIT_ID, ASSIGNED_USER_IDS and host IDs are
//! output only.
//!
//! Rules:
//! - "All" is the system group of every subscription: never added; mapped to the target's own
//!   when the target export lists it.
//! - A group whose title the target export already has is not added again; its ID is used.
//! - Every other group is added (`action=add`) with every field the call takes: the network
//!   through the networks task (captured ID or mapping), appliance IDs and the default appliance
//!   through the appliances task, domains as `name:[netblock]`, business impact and CVSS
//!   environment values in the API's lower-case form ("Not Defined" omitted). Its new ID is
//!   captured for later tasks; a probe looks for its title, so an interrupted run can tell
//!   whether it was added.
//! - An appliance or network that does not resolve stops the run, with every other unresolved
//!   reference and the groups that use it.
//! - The call cannot set the owner (the API user becomes it), the business unit or the assigned
//!   users: listed as losses. Business unit assignment is a checklist item; users get their
//!   groups back from the users task.
//! - Qualys does not export division, function and location in every release: when no group of
//!   the export carries any of them, the checklist says to set them by hand.

use std::collections::BTreeMap;

use qmig_schemas::{Effect, Extract};

use crate::checklist::Step;
use crate::context::Context;
use crate::error::TransformError;
use crate::export::{Kind, Record};
use crate::plan::{Draft, DraftProbe, Field, RefKind, Refs, Target, TaskOutput, join_segments, object_id};
use crate::ranges::parse_entry;
use crate::tasks::{appliances, networks};

pub const TASK: &str = "asset groups";
pub(crate) const PATH: &str = "/api/2.0/fo/asset/group/";
/// The system group every subscription has.
pub const ALL: &str = "All";
const NOT_DEFINED: &str = "Not Defined";

const BUSINESS_IMPACT: &[&str] = &["critical", "high", "medium", "low", "none"];

/// A CVSS environmental attribute: add-call parameter, list element, the element's name inside
/// a `CVSS` block (some exports nest them), and the values the call takes.
struct Cvss {
    param: &'static str,
    element: &'static str,
    nested: &'static str,
    values: &'static [&'static str],
}

const CVSS: [Cvss; 5] = [
    Cvss {
        param: "cvss_enviro_cdp",
        element: "CVSS_ENVIRO_CDP",
        nested: "CVSS/CDP",
        values: &["high", "medium-high", "low-medium", "low", "none"],
    },
    Cvss {
        param: "cvss_enviro_td",
        element: "CVSS_ENVIRO_TD",
        nested: "CVSS/TD",
        values: &["high", "medium", "low", "none"],
    },
    Cvss { param: "cvss_enviro_cr", element: "CVSS_ENVIRO_CR", nested: "CVSS/CR", values: &["high", "medium", "low"] },
    Cvss { param: "cvss_enviro_ir", element: "CVSS_ENVIRO_IR", nested: "CVSS/IR", values: &["high", "medium", "low"] },
    Cvss { param: "cvss_enviro_ar", element: "CVSS_ENVIRO_AR", nested: "CVSS/AR", values: &["high", "medium", "low"] },
];

/// Output-only fields: what the add call cannot carry over.
pub const OUTPUT_ONLY: &[&str] =
    &["OWNER_ID", "OWNER_USER_ID", "OWNER_USER_NAME", "ASSIGNED_UNIT_IDS", "ASSIGNED_USER_IDS", "HOST_IDS", "EC2_IDS"];

/// An asset group as the source lists it, its values already in the add call's form.
#[derive(Debug, Clone)]
pub struct AssetGroup<'a> {
    pub id: &'a str,
    pub title: &'a str,
    /// Set unless it is the default network.
    pub network_id: Option<&'a str>,
    pub ips: Vec<&'a str>,
    /// `name` or `name:[netblock]`.
    pub domains: Vec<String>,
    pub dns_names: Vec<&'a str>,
    pub netbios_names: Vec<&'a str>,
    pub default_appliance_id: Option<&'a str>,
    pub appliance_ids: Vec<&'a str>,
    pub comments: Option<&'a str>,
    pub division: Option<&'a str>,
    pub function: Option<&'a str>,
    pub location: Option<&'a str>,
    pub business_impact: Option<&'static str>,
    /// (parameter, value) of each defined CVSS environmental attribute.
    pub cvss: Vec<(&'static str, &'static str)>,
    /// The source business unit's ID, unless unassigned.
    pub unit_id: Option<&'a str>,
    /// Output-only fields the export gives for this group.
    pub output_only: Vec<String>,
    pub record: Record<'a>,
}

impl<'a> AssetGroup<'a> {
    pub fn parse(record: Record<'a>) -> Result<AssetGroup<'a>, TransformError> {
        let id = record.text("ID").ok_or_else(|| record.invalid("asset group", "has no ID"))?;
        let title = record.text("TITLE").ok_or_else(|| record.invalid(&format!("asset group {id}"), "has no TITLE"))?;
        let object = format!("asset group \"{title}\"");
        let invalid = |problem: String| record.invalid(&object, problem);

        let network_id = match record.text("NETWORK_ID").or_else(|| record.text("NETWORK_IDS")) {
            Some(ids) if ids.contains(',') => {
                return Err(invalid(format!("lists several networks ({ids}); the add call takes one")));
            }
            Some(id) if id != networks::DEFAULT_NETWORK => Some(id),
            _ => None,
        };
        let ip_set = record.element.at("IP_SET").map(|set| set.children.as_slice()).unwrap_or_default();
        let mut ips = Vec::with_capacity(ip_set.len());
        for entry in ip_set {
            let text = entry.value();
            parse_entry(text).map_err(|problem| record.nested(entry).invalid(&object, problem))?;
            ips.push(text);
        }
        let mut domains = Vec::new();
        for domain in record.element.all("DOMAIN_LIST/DOMAIN") {
            let name = domain.value();
            if name.is_empty() || name.contains([',', '[', ']', ':']) {
                return Err(invalid(format!("domain \"{name}\" cannot be written in the add call's domain list")));
            }
            domains.push(match domain.attr("netblock").map(str::trim).filter(|n| !n.is_empty()) {
                Some(netblock) => format!("{name}:[{netblock}]"),
                None => name.to_owned(),
            });
        }
        let names = |path: &str, item: &str| -> Result<Vec<&'a str>, TransformError> {
            let names: Vec<&'a str> = record.element.all(path).map(|e| e.value()).filter(|n| !n.is_empty()).collect();
            match names.iter().find(|n| n.contains(',')) {
                Some(bad) => {
                    Err(invalid(format!("{item} name \"{bad}\" holds a comma, which the add call's lists cannot")))
                }
                None => Ok(names),
            }
        };
        let dns_names = names("DNS_LIST/DNS", "DNS")?;
        let netbios_names = names("NETBIOS_LIST/NETBIOS", "NETBIOS")?;
        let appliance_ids: Vec<&str> = record
            .text("APPLIANCE_IDS")
            .map(|ids| ids.split(',').map(str::trim).filter(|i| !i.is_empty()).collect())
            .unwrap_or_default();
        let default_appliance_id = record.text("DEFAULT_APPLIANCE_ID").filter(|id| *id != "0");
        if let Some(bad) =
            appliance_ids.iter().chain(&default_appliance_id).find(|i| !i.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid(format!("appliance ID \"{bad}\" is not a number")));
        }
        let business_impact = match record.text("BUSINESS_IMPACT") {
            Some(text) => api_value(text, BUSINESS_IMPACT).map_err(|p| invalid(format!("BUSINESS_IMPACT {p}")))?,
            None => None,
        };
        let mut cvss = Vec::new();
        for attribute in &CVSS {
            let Some(text) = record.text(attribute.element).or_else(|| record.text(attribute.nested)) else { continue };
            let value = api_value(text, attribute.values).map_err(|p| invalid(format!("{} {p}", attribute.element)))?;
            cvss.extend(value.map(|v| (attribute.param, v)));
        }
        let unit_id = record.text("UNIT_ID").filter(|u| *u != "0");
        let mut output_only: Vec<String> =
            OUTPUT_ONLY.iter().filter(|f| record.text(f).is_some()).map(|f| (*f).to_owned()).collect();
        if unit_id.is_some() {
            output_only.push("UNIT_ID".to_owned());
        }
        Ok(AssetGroup {
            id,
            title,
            network_id,
            ips,
            domains,
            dns_names,
            netbios_names,
            default_appliance_id,
            appliance_ids,
            comments: record.text("COMMENTS"),
            division: record.text("DIVISION"),
            function: record.text("FUNCTION"),
            location: record.text("LOCATION"),
            business_impact,
            cvss,
            unit_id,
            output_only,
            record,
        })
    }

    fn has_attributes(&self) -> bool {
        self.division.is_some() || self.function.is_some() || self.location.is_some()
    }
}

/// The add call's form of a list value ("Medium-High" becomes `medium-high`); `None` for
/// "Not Defined".
fn api_value(text: &str, values: &[&'static str]) -> Result<Option<&'static str>, String> {
    if text.eq_ignore_ascii_case(NOT_DEFINED) {
        return Ok(None);
    }
    let lower = text.to_ascii_lowercase().replace(' ', "-");
    match values.iter().find(|v| **v == lower) {
        Some(value) => Ok(Some(value)),
        None => Err(format!("\"{text}\" is not one of {}, or \"{NOT_DEFINED}\"", values.join(", "))),
    }
}

/// The titles of the source's asset groups: what users may be given (the target has every one
/// of them once this task ran, "All" included).
pub fn source_titles<'a>(ctx: &Context<'a>) -> impl Iterator<Item = &'a str> + 'a {
    ctx.export.records(Kind::AssetGroupList).filter_map(|r| r.text("TITLE"))
}

/// The target's asset groups by title, from `--target-export`.
pub fn existing_in_target<'a>(ctx: &Context<'a>) -> Result<BTreeMap<&'a str, &'a str>, TransformError> {
    let mut existing = BTreeMap::new();
    for record in ctx.target_records(Kind::AssetGroupList) {
        let group = AssetGroup::parse(record)?;
        existing.insert(group.title, group.id);
    }
    Ok(existing)
}

pub fn plan(ctx: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let existing = existing_in_target(ctx)?;
    let mut added: Vec<&str> = Vec::new();
    let mut any_attributes = false;
    let mut unit_items = Vec::new();
    for record in ctx.export.records(Kind::AssetGroupList) {
        let group = AssetGroup::parse(record)?;
        out.source_objects += 1;
        any_attributes |= group.has_attributes();
        let object = format!("asset group \"{}\"", group.title);
        let source = record.source(Some(group.id), Some(group.title));
        if group.title == ALL {
            if let Some(id) = existing.get(ALL) {
                refs.set(RefKind::AssetGroup, group.id, Target::Known((*id).to_owned()));
            }
            out.skip(object, "\"All\" is the system group every subscription has", Some(source));
            continue;
        }
        if let Some(id) = existing.get(group.title) {
            refs.set(RefKind::AssetGroup, group.id, Target::Known((*id).to_owned()));
            out.skip_existing(object, RefKind::AssetGroup, id, source);
            continue;
        }
        if !group.output_only.is_empty() {
            out.lose(
                object.clone(),
                group.output_only.clone(),
                "the add call cannot set them: the API user becomes the owner, business units are assigned by \
                 hand (see the checklist), users get their asset groups from the users task, and hosts join \
                 by their IPs",
                Some(source.clone()),
            );
        }
        if let Some(unit) = group.unit_id {
            unit_items
                .push(format!("assign asset group \"{}\" to its business unit (source unit ID {unit})", group.title));
        }
        let Some(draft) = request(ctx, refs, &group, &object) else { continue };
        refs.set(RefKind::AssetGroup, group.id, Target::captured(&draft.id, Field::Id));
        added.push(group.title);
        out.request(draft.source(source));
    }
    if !unit_items.is_empty() {
        out.step(Step::BusinessUnits, unit_items);
    }
    if !any_attributes && !added.is_empty() {
        out.step(Step::AssetGroupAttributes, added.iter().map(|t| (*t).to_owned()).collect());
    }
    Ok(out)
}

/// The add call of a group; `None` when a reference does not resolve (the run stops then).
fn request(ctx: &Context<'_>, refs: &mut Refs, group: &AssetGroup<'_>, object: &str) -> Option<Draft> {
    let network = group.network_id.map(|id| networks::require(refs, id, object));
    let appliances: Vec<Option<Target>> =
        group.appliance_ids.iter().map(|id| appliances::require(ctx, refs, id, object)).collect();
    let default_appliance = group.default_appliance_id.map(|id| appliances::require(ctx, refs, id, object));
    let network = network.map_or(Some(None), |n| n.map(Some))?;
    let appliances = appliances.into_iter().collect::<Option<Vec<Target>>>()?;
    let default_appliance = default_appliance.map_or(Some(None), |d| d.map(Some))?;

    let id = object_id("asset-group", group.title);
    let list = |items: &[&str]| (!items.is_empty()).then(|| items.join(","));
    let appliance_ids = (!appliances.is_empty()).then(|| join_segments(appliances.iter().map(Target::segment), ","));
    let mut draft = Draft::post(TASK, id.clone(), Effect::Create, PATH, format!("Add asset group \"{}\"", group.title))
        .param("action", "add")
        .param("title", group.title)
        .param_opt("network_id", network.as_ref().map(Target::value))
        .param_opt("ips", list(&group.ips))
        .param_opt("domains", (!group.domains.is_empty()).then(|| group.domains.join(",")))
        .param_opt("dns_names", list(&group.dns_names))
        .param_opt("netbios_names", list(&group.netbios_names))
        .param_opt("appliance_ids", appliance_ids)
        .param_opt("default_appliance_id", default_appliance.as_ref().map(Target::value))
        .param_opt("comments", group.comments)
        .param_opt("division", group.division)
        .param_opt("function", group.function)
        .param_opt("location", group.location)
        .param_opt("business_impact", group.business_impact);
    for (param, value) in &group.cvss {
        draft = draft.param(param, *value);
    }
    if let (Some(source), Some(target)) = (group.network_id, &network) {
        draft = draft.remap(RefKind::Network, source, target);
    }
    let appliance_sources = group.appliance_ids.iter().zip(&appliances);
    for (source, target) in appliance_sources.chain(group.default_appliance_id.as_ref().zip(default_appliance.as_ref()))
    {
        draft = draft.remap(RefKind::Appliance, source, target);
    }
    let probe = DraftProbe::list(
        PATH,
        &[("action", "list"), ("title", group.title), ("show_attributes", "ID,TITLE")],
        "ASSET_GROUP",
        "TITLE",
        group.title,
    )
    .fills(&id, Field::Id, "ID");
    Some(draft.capture(Field::Id, Extract::NewId).probe(probe))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::test_support::Fixture;
    use crate::tasks::{appliances, networks};

    const NETWORKS: &str = "<NETWORK_LIST_OUTPUT><RESPONSE><NETWORK_LIST>\
        <NETWORK><ID>1103</ID><NAME>Corp East</NAME></NETWORK>\
        </NETWORK_LIST></RESPONSE></NETWORK_LIST_OUTPUT>";

    const GROUPS: &str = "<ASSET_GROUP_LIST_OUTPUT><RESPONSE><ASSET_GROUP_LIST>\n\
        <ASSET_GROUP><ID>1</ID><TITLE>All</TITLE></ASSET_GROUP>\n\
        <ASSET_GROUP><ID>20</ID><TITLE><![CDATA[R&D #2 + Lab]]></TITLE><OWNER_USER_ID>77</OWNER_USER_ID>\
        <UNIT_ID>4</UNIT_ID><NETWORK_ID>1103</NETWORK_ID><BUSINESS_IMPACT>Critical</BUSINESS_IMPACT>\
        <CVSS_ENVIRO_CDP>Medium-High</CVSS_ENVIRO_CDP><CVSS_ENVIRO_TD>Not Defined</CVSS_ENVIRO_TD>\
        <CVSS_ENVIRO_CR>High</CVSS_ENVIRO_CR><CVSS_ENVIRO_IR>Medium</CVSS_ENVIRO_IR><CVSS_ENVIRO_AR>Low</CVSS_ENVIRO_AR>\
        <DEFAULT_APPLIANCE_ID>5001</DEFAULT_APPLIANCE_ID><APPLIANCE_IDS>5001, 5002</APPLIANCE_IDS>\
        <IP_SET><IP>10.1.0.5</IP><IP_RANGE>10.1.0.10-10.1.0.20</IP_RANGE></IP_SET>\
        <DOMAIN_LIST><DOMAIN netblock=\"10.1.0.0-10.1.0.255\">lab.example</DOMAIN><DOMAIN>bare.example</DOMAIN></DOMAIN_LIST>\
        <DNS_LIST><DNS>db.lab.example</DNS></DNS_LIST><NETBIOS_LIST><NETBIOS>LABDB</NETBIOS></NETBIOS_LIST>\
        <COMMENTS>Zürich &amp; Basel</COMMENTS><DIVISION>Research</DIVISION>\
        <ASSIGNED_USER_IDS>12,13</ASSIGNED_USER_IDS></ASSET_GROUP>\n\
        <ASSET_GROUP><ID>21</ID><TITLE>Bare</TITLE></ASSET_GROUP>\n\
        </ASSET_GROUP_LIST></RESPONSE></ASSET_GROUP_LIST_OUTPUT>\n";

    const APPLIANCES_CSV: &str = "source,target\n5001,9001\n5002,9002\n";

    fn params(draft: &Draft) -> Vec<(String, String)> {
        draft.params.iter().map(|p| (p.name.clone(), p.value.display())).collect()
    }

    #[test]
    fn every_field_the_add_call_takes_is_sent_in_its_form() {
        let fixture = Fixture::new(&[("networks.xml", NETWORKS), ("groups.xml", GROUPS)])
            .inputs(&[("appliances.csv", APPLIANCES_CSV)]);
        let (outputs, refs) = fixture.run(&[networks::plan, appliances::plan, plan]).expect("plans");
        let out = &outputs[2];
        assert_eq!(out.source_objects, 3);
        assert_eq!(out.skipped.len(), 1, "All");
        let [lab, bare] = out.requests.as_slice() else { panic!("two groups: {:?}", out.requests) };
        let expected: Vec<(String, String)> = [
            ("action", "add"),
            ("title", "R&D #2 + Lab"),
            ("network_id", "{{capture:network/Corp East#id}}"),
            ("ips", "10.1.0.5,10.1.0.10-10.1.0.20"),
            ("domains", "lab.example:[10.1.0.0-10.1.0.255],bare.example"),
            ("dns_names", "db.lab.example"),
            ("netbios_names", "LABDB"),
            ("appliance_ids", "9001,9002"),
            ("default_appliance_id", "9001"),
            ("comments", "Zürich & Basel"),
            ("division", "Research"),
            ("business_impact", "critical"),
            ("cvss_enviro_cdp", "medium-high"),
            ("cvss_enviro_cr", "high"),
            ("cvss_enviro_ir", "medium"),
            ("cvss_enviro_ar", "low"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(params(lab), expected);
        assert_eq!(lab.id, "asset-group/R&D #2 + Lab");
        assert_eq!(params(bare), [("action".to_owned(), "add".to_owned()), ("title".to_owned(), "Bare".to_owned())]);
        assert_eq!(refs.get(RefKind::AssetGroup, "20"), Some(&Target::Captured("asset-group/R&D #2 + Lab#id".into())));
        assert_eq!(out.losses.len(), 1);
        assert_eq!(out.losses[0].fields, ["OWNER_USER_ID", "ASSIGNED_USER_IDS", "UNIT_ID"]);
        let units = out.manual_steps.iter().find(|s| s.id == Step::BusinessUnits.id()).expect("business unit items");
        assert_eq!(units.items, ["assign asset group \"R&D #2 + Lab\" to its business unit (source unit ID 4)"]);
        assert!(out.manual_steps.iter().all(|s| s.id != Step::AssetGroupAttributes.id()), "a group has a division");
    }

    #[test]
    fn unresolved_appliances_and_networks_are_all_recorded_with_their_groups() {
        let groups = GROUPS.replace(
            "<TITLE>Bare</TITLE>",
            "<TITLE>Bare</TITLE><APPLIANCE_IDS>5002</APPLIANCE_IDS>\
            <NETWORK_ID>4444</NETWORK_ID>",
        );
        let fixture = Fixture::new(&[("groups.xml", &groups)]);
        let (outputs, refs) = fixture.run(&[appliances::plan, plan]).expect("plans");
        assert_eq!(outputs[1].requests.len(), 0);
        let unresolved: Vec<(String, String, Vec<String>)> =
            refs.unresolved().into_iter().map(|u| (u.kind, u.key, u.used_by)).collect();
        let group = |t: &str| vec![format!("asset group \"{t}\"")];
        assert_eq!(
            unresolved,
            [
                ("network".to_owned(), "1103".to_owned(), group("R&D #2 + Lab")),
                ("network".to_owned(), "4444".to_owned(), group("Bare")),
                ("scanner appliance".to_owned(), "5001".to_owned(), group("R&D #2 + Lab")),
                ("scanner appliance".to_owned(), "5002".to_owned(), [group("R&D #2 + Lab"), group("Bare")].concat()),
            ]
        );
    }

    #[test]
    fn groups_of_the_target_are_mapped_not_added() {
        let target = "<ASSET_GROUP_LIST_OUTPUT><RESPONSE><ASSET_GROUP_LIST>\
            <ASSET_GROUP><ID>900</ID><TITLE>All</TITLE></ASSET_GROUP>\
            <ASSET_GROUP><ID>921</ID><TITLE>Bare</TITLE></ASSET_GROUP>\
            </ASSET_GROUP_LIST></RESPONSE></ASSET_GROUP_LIST_OUTPUT>";
        let only = GROUPS.replace("R&D #2 + Lab", "Lab").replace("<DIVISION>Research</DIVISION>", "");
        let fixture = Fixture::new(&[("networks.xml", NETWORKS), ("groups.xml", &only)])
            .target(&[("groups.xml", target)])
            .inputs(&[("appliances.csv", APPLIANCES_CSV)]);
        let (outputs, refs) = fixture.run(&[networks::plan, appliances::plan, plan]).expect("plans");
        assert_eq!(refs.get(RefKind::AssetGroup, "1"), Some(&Target::Known("900".into())));
        assert_eq!(refs.get(RefKind::AssetGroup, "21"), Some(&Target::Known("921".into())));
        let out = &outputs[2];
        assert_eq!(out.requests.len(), 1);
        let step =
            out.manual_steps.iter().find(|s| s.id == Step::AssetGroupAttributes.id()).expect("no group has them");
        assert_eq!(step.items, ["Lab"]);
    }

    #[test]
    fn an_unknown_value_is_refused_with_its_line() {
        let groups = GROUPS
            .replace("<CVSS_ENVIRO_TD>Not Defined</CVSS_ENVIRO_TD>", "<CVSS_ENVIRO_TD>Medium-High</CVSS_ENVIRO_TD>");
        let err = Fixture::new(&[("groups.xml", &groups)]).try_plan(plan).expect_err("TD has no medium-high");
        assert!(err.to_string().starts_with("groups.xml:3: asset group \"R&D #2 + Lab\""), "{err}");
        assert!(err.to_string().contains("CVSS_ENVIRO_TD"), "{err}");
    }

    #[test]
    fn list_values_take_the_add_calls_form() {
        assert_eq!(api_value("Medium-High", CVSS[0].values), Ok(Some("medium-high")));
        assert_eq!(api_value("Low-Medium", CVSS[0].values), Ok(Some("low-medium")));
        assert_eq!(api_value("Not Defined", CVSS[2].values), Ok(None));
        assert_eq!(api_value("Critical", BUSINESS_IMPACT), Ok(Some("critical")));
        let err = api_value("Medium-High", CVSS[1].values).expect_err("TD has no medium-high");
        assert!(err.contains("high, medium, low, none"), "{err}");
    }
}
