//! Core task: Scanner appliances.
//!
//! Source: `APPLIANCE_LIST_OUTPUT` (`/api/2.0/fo/appliance/?action=list&output_mode=full`): ID,
//! NAME, TYPE (Physical, Virtual, ...), SERIAL_NUMBER, MODEL_NUMBER, the user the appliance is
//! bound to (USER_LOGIN), POLLING_INTERVAL ("180 seconds"), VLANS, STATIC_ROUTES, COMMENTS,
//! NETWORK_ID; and the networks' SCANNER_APPLIANCE_LIST (which appliances scan which network).
//!
//! Appliances do not move between subscriptions: the target has its own, and the guide asks
//! that they keep the old names so that everything referring to them can be mapped.
//!
//! Rules:
//! - Each appliance is mapped to its counterpart in the target: by `appliances.csv` (source ID
//!   or name to target ID or name) first, else by the same name in the target's appliance list
//!   (`--target-export`). Rows of `appliances.csv` for IDs the export does not list still map
//!   references to them (an asset group naming an appliance the list omits).
//! - A virtual appliance without a counterpart is created when the operator asks for it
//!   (`--create-virtual-appliances`; each takes a virtual-scanner licence), with its name and
//!   polling interval. Its new ID and activation code are captured when the bundle runs: the code
//!   is for the operator, who deploys the image with it, and is never written into the bundle.
//!   Its VLANs, static routes and comment are then set on the new ID.
//! - A physical appliance cannot be created: it goes to the checklist with its serial number and
//!   the user it is bound to (unbinding through Qualys Support; replacement between platforms).
//!   Any other appliance without a counterpart goes to the checklist, to be deployed in the
//!   target under the same name.
//! - VLANs and static routes of appliances this bundle does not create are listed in the
//!   checklist, to be set on their counterparts.
//! - Network assignments (a network's SCANNER_APPLIANCE_LIST, or the appliance's NETWORK_ID) are
//!   made again with `assign_network_id` once appliance and network both exist in the target;
//!   otherwise they are a checklist item. The default network needs no assignment.
//! - An appliance nobody refers to may stay without a counterpart. Every appliance an asset
//!   group (or a later task) refers to must resolve, or the run stops listing all of them.
//! - Asset tags of appliances are set by tag ID in the target: listed as a loss.

use std::collections::{BTreeMap, BTreeSet};

use qmig_schemas::{Effect, Extract, SourceRef};

use crate::checklist::Step;
use crate::context::Context;
use crate::error::TransformError;
use crate::export::{Kind, Record};
use crate::inputs::MappingRow;
use crate::plan::{
    Draft, DraftProbe, Field, RefKind, Refs, Target, TaskOutput, already_in_target, capture_name, object_id,
};
use crate::tasks::networks::{self, Network};

pub const TASK: &str = "scanner appliances";
pub(crate) const PATH: &str = "/api/2.0/fo/appliance/";
/// Where a network lists the appliances that scan it.
const MEMBERS: &str = "SCANNER_APPLIANCE_LIST/SCANNER_APPLIANCE";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplianceType {
    Physical,
    Virtual,
    /// Containerized, offline, or a TYPE the list does not give.
    Other,
}

/// A scanner appliance as the source lists it (or as a network's list names it).
#[derive(Debug, Clone)]
pub struct Appliance<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub kind: ApplianceType,
    pub serial: Option<&'a str>,
    pub model: Option<&'a str>,
    /// The user the appliance is bound to.
    pub bound_to: Option<&'a str>,
    /// Seconds.
    pub polling_interval: Option<u32>,
    pub network_id: Option<&'a str>,
    /// In the syntax of `set_vlans`: `ID|IPv4|NETMASK|NAME|IPv6 mode|IPv6`.
    pub vlans: Vec<String>,
    /// In the syntax of `set_routes`: `IPv4|NETMASK|GATEWAY|NAME|IPv6|IPv6 gateway`.
    pub routes: Vec<String>,
    pub comments: Option<&'a str>,
    pub has_tags: bool,
    pub record: Record<'a>,
}

impl<'a> Appliance<'a> {
    pub fn parse(record: Record<'a>) -> Result<Appliance<'a>, TransformError> {
        let id = record.text("ID").ok_or_else(|| record.invalid("scanner appliance", "has no ID"))?;
        let name = record.text("NAME").unwrap_or(id);
        let object = format!("scanner appliance \"{name}\"");
        let kind = match record.text("TYPE").map(str::to_ascii_lowercase).as_deref() {
            Some("physical") => ApplianceType::Physical,
            Some("virtual") => ApplianceType::Virtual,
            _ => ApplianceType::Other,
        };
        let polling_interval = record
            .text("POLLING_INTERVAL")
            .map(|text| {
                polling_seconds(text).ok_or_else(|| {
                    record.invalid(&object, format!("POLLING_INTERVAL \"{text}\" is not a number of seconds"))
                })
            })
            .transpose()?;
        let vlan_fields = [("ID", true), ("IP_ADDRESS", true), ("NETMASK", true), ("NAME", false)];
        let route_fields = [("IP_ADDRESS", true), ("NETMASK", true), ("GATEWAY", true), ("NAME", false)];
        let vlans = settings(record, "VLANS", "VLAN", &vlan_fields, &object)?;
        let routes = settings(record, "STATIC_ROUTES", "ROUTE", &route_fields, &object)?;
        let has_tags = record.element.at("ASSET_TAGS_LIST").is_some_and(|tags| !tags.children.is_empty());
        Ok(Appliance {
            id,
            name,
            kind,
            serial: record.text("SERIAL_NUMBER"),
            model: record.text("MODEL_NUMBER"),
            bound_to: record.text("USER_LOGIN"),
            polling_interval,
            network_id: record.text("NETWORK_ID"),
            vlans,
            routes,
            comments: record.text("COMMENTS"),
            has_tags,
            record,
        })
    }

    fn object(&self) -> String {
        format!("scanner appliance \"{}\"", self.name)
    }

    fn settings_item(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.vlans.is_empty() {
            parts.push(format!("set_vlans={}", self.vlans.join(",")));
        }
        if !self.routes.is_empty() {
            parts.push(format!("set_routes={}", self.routes.join(",")));
        }
        (!parts.is_empty()).then(|| format!("{}: {}", self.name, parts.join("; ")))
    }
}

/// "180 seconds" (full list output) or "180".
fn polling_seconds(text: &str) -> Option<u32> {
    text.split_whitespace().next()?.parse().ok()
}

/// The entries of a VLAN or static route list, rendered for `set_vlans`/`set_routes`: the
/// fields in order, then the two IPv6 fields left empty.
fn settings(
    record: Record<'_>,
    list: &str,
    item: &str,
    fields: &[(&str, bool)],
    object: &str,
) -> Result<Vec<String>, TransformError> {
    let path = format!("{list}/{item}");
    record
        .element
        .all(&path)
        .map(|entry| {
            let here = record.nested(entry);
            let mut values = Vec::with_capacity(fields.len() + 2);
            for &(field, required) in fields {
                let value = entry.text_at(field).unwrap_or_default();
                if required && value.is_empty() {
                    return Err(here.invalid(object, format!("a {item} of {list} has no {field}")));
                }
                // `|` separates the fields of an entry and `,` the entries: no escape exists.
                if value.contains(['|', ',']) {
                    return Err(here.invalid(
                        object,
                        format!("{item} {field} \"{value}\" holds `|` or `,`, which the API cannot take"),
                    ));
                }
                values.push(value);
            }
            values.extend(["", ""]);
            Ok(values.join("|"))
        })
        .collect()
}

/// How to resolve an appliance reference, for the list of unresolved references.
fn hint(ctx: &Context<'_>, id: &str) -> String {
    let listed = ctx.export.records(Kind::ApplianceList).chain(network_members(ctx)).find(|r| r.text("ID") == Some(id));
    let appliance = listed.and_then(|record| Appliance::parse(record).ok());
    let named = appliance.as_ref().map(|a| format!(" (\"{}\")", a.name)).unwrap_or_default();
    let create = match appliance.map(|a| a.kind) {
        Some(ApplianceType::Virtual) => ", or create it with --create-virtual-appliances",
        _ => "",
    };
    format!(
        "map appliance {id}{named} in inputs/appliances.csv, or capture the target's appliance list into \
         --target-export (matched by name){create}"
    )
}

/// The target of appliance `id`, or `None` after recording that `used_by` needs it.
pub fn require(ctx: &Context<'_>, refs: &mut Refs, id: &str, used_by: &str) -> Option<Target> {
    refs.require(RefKind::Appliance, id, used_by, || hint(ctx, id))
}

/// The SCANNER_APPLIANCE entries of every network of the export.
fn network_members<'a>(ctx: &Context<'a>) -> impl Iterator<Item = Record<'a>> + 'a {
    ctx.export
        .records(Kind::NetworkList)
        .flat_map(|network| network.element.all(MEMBERS).map(move |m| network.nested(m)))
}

/// Checklist items gathered while planning.
#[derive(Default)]
struct Manual {
    unbind: Vec<String>,
    deploy: Vec<String>,
    activate: Vec<String>,
    settings: Vec<String>,
    assign: Vec<String>,
}

pub fn plan(ctx: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let mut manual = Manual::default();
    let existing = existing_in_target(ctx)?;
    let mut appliances: Vec<Appliance<'_>> = Vec::new();
    for record in ctx.export.records(Kind::ApplianceList) {
        appliances.push(Appliance::parse(record)?);
    }
    // Appliances only a network's list names are accounted for as well.
    let mut known: BTreeSet<&str> = appliances.iter().map(|a| a.id).collect();
    for record in network_members(ctx) {
        let appliance = Appliance::parse(record)?;
        if known.insert(appliance.id) {
            appliances.push(appliance);
        }
    }
    for appliance in &appliances {
        out.source_objects += 1;
        plan_appliance(ctx, refs, &existing, appliance, &mut out, &mut manual)?;
    }
    for row in &ctx.inputs.appliances.rows {
        let by_id = row.source.chars().all(|c| c.is_ascii_digit());
        let matched = appliances.iter().any(|a| a.id == row.source || a.name == row.source);
        if by_id && !matched {
            refs.set(RefKind::Appliance, &row.source, Target::Known(mapped_id(ctx, row, &existing)?));
        } else if !matched {
            out.warn(
                format!(
                    "{}:{}: no appliance of the export is named \"{}\"; the row is not used",
                    ctx.inputs.appliances.file, row.line, row.source
                ),
                None,
            );
        }
    }
    assign_networks(ctx, refs, &appliances, &existing, &mut out, &mut manual)?;
    checklist(&mut out, manual);
    Ok(out)
}

/// An appliance of the target export.
struct Existing<'a> {
    id: &'a str,
    network_id: Option<&'a str>,
}

/// The target's appliances by name, from `--target-export`.
fn existing_in_target<'a>(ctx: &Context<'a>) -> Result<BTreeMap<&'a str, Existing<'a>>, TransformError> {
    let mut existing = BTreeMap::new();
    for record in ctx.target_records(Kind::ApplianceList) {
        let appliance = Appliance::parse(record)?;
        existing.insert(appliance.name, Existing { id: appliance.id, network_id: appliance.network_id });
    }
    Ok(existing)
}

/// The target ID a row of `appliances.csv` names: an ID as is, a name through the target export.
fn mapped_id(
    ctx: &Context<'_>,
    row: &MappingRow,
    existing: &BTreeMap<&str, Existing<'_>>,
) -> Result<String, TransformError> {
    if row.target.chars().all(|c| c.is_ascii_digit()) {
        return Ok(row.target.clone());
    }
    existing.get(row.target.as_str()).map(|e| e.id.to_owned()).ok_or_else(|| TransformError::Input {
        file: ctx.inputs.appliances.file.clone(),
        line: row.line,
        message: format!(
            "target appliance `{}` is not an ID, and no appliance of the target export has that name",
            row.target
        ),
    })
}

fn plan_appliance(
    ctx: &Context<'_>,
    refs: &mut Refs,
    existing: &BTreeMap<&str, Existing<'_>>,
    appliance: &Appliance<'_>,
    out: &mut TaskOutput,
    manual: &mut Manual,
) -> Result<(), TransformError> {
    let object = appliance.object();
    let source = appliance.record.source(Some(appliance.id), Some(appliance.name));
    if appliance.has_tags {
        out.lose(
            object.clone(),
            vec!["ASSET_TAGS_LIST".to_owned()],
            "appliance tags are set by tag ID, which the target gives only once its tags exist: set them by hand",
            Some(source.clone()),
        );
    }
    let mapped = match ctx.inputs.appliances.lookup(appliance.id, appliance.name) {
        Some(row) => {
            let id = mapped_id(ctx, row, existing)?;
            let reason = format!("mapped to target appliance {id} by {}:{}", ctx.inputs.appliances.file, row.line);
            Some((id, reason))
        }
        None => existing.get(appliance.name).map(|e| (e.id.to_owned(), already_in_target(RefKind::Appliance, e.id))),
    };
    if let Some((id, reason)) = mapped {
        refs.set(RefKind::Appliance, appliance.id, Target::Known(id));
        out.skip(object, reason, Some(source));
        manual.settings.extend(appliance.settings_item());
        return Ok(());
    }
    let reason = match appliance.kind {
        ApplianceType::Virtual if ctx.options.create_virtual_appliances => {
            create(refs, appliance, source, out);
            manual.activate.push(appliance.name.to_owned());
            return Ok(());
        }
        ApplianceType::Physical => {
            let serial = appliance.serial.unwrap_or("unknown");
            let user = appliance.bound_to.unwrap_or("unknown");
            let model = appliance.model.map(|m| format!(", model {m}")).unwrap_or_default();
            manual.unbind.push(format!("{}: serial {serial}{model}, bound to user {user}", appliance.name));
            "a physical appliance cannot be created through the API: Qualys Support unbinds it (see the checklist)"
        }
        ApplianceType::Virtual => {
            manual.deploy.push(appliance.name.to_owned());
            "virtual appliances are created only with --create-virtual-appliances; otherwise deploy it in the \
             target under the same name (see the checklist)"
        }
        ApplianceType::Other => {
            manual.deploy.push(appliance.name.to_owned());
            "no counterpart in the target: deploy it there under the same name (see the checklist)"
        }
    };
    out.skip(object, reason, Some(source));
    manual.settings.extend(appliance.settings_item());
    Ok(())
}

/// Creates a virtual appliance, then sets what the create call cannot take.
fn create(refs: &mut Refs, appliance: &Appliance<'_>, source: SourceRef, out: &mut TaskOutput) {
    let id = object_id("appliance", appliance.name);
    let probe =
        DraftProbe::list(PATH, &[("action", "list"), ("output_mode", "full")], "APPLIANCE", "NAME", appliance.name)
            .fills(&id, Field::Id, "ID")
            .fills(&id, Field::ActivationCode, "ACTIVATION_CODE");
    let summary =
        format!("Create virtual scanner appliance \"{}\" (takes one virtual-scanner licence)", appliance.name);
    let create = Draft::post(TASK, id.clone(), Effect::Create, PATH, summary)
        .param("action", "create")
        .param("name", appliance.name)
        .param_opt("polling_interval", appliance.polling_interval.map(|p| p.to_string()))
        .capture(Field::Id, Extract::NewId)
        .capture(Field::ActivationCode, Extract::Element { name: "ACTIVATION_CODE".to_owned() })
        .probe(probe)
        .source(source.clone());
    let target = Target::captured(&id, Field::Id);
    out.request(create);
    let label = format!("activation code of virtual scanner appliance \"{}\"", appliance.name);
    out.report_capture(capture_name(&id, Field::ActivationCode), label);
    if !appliance.vlans.is_empty() || !appliance.routes.is_empty() || appliance.comments.is_some() {
        let join = |entries: &[String]| (!entries.is_empty()).then(|| entries.join(","));
        let summary = format!(
            "Set {} VLAN(s), {} static route(s){} of scanner appliance \"{}\"",
            appliance.vlans.len(),
            appliance.routes.len(),
            if appliance.comments.is_some() { " and the comment" } else { "" },
            appliance.name
        );
        // `set_*` replaces the whole list, so sending it again gives the same settings.
        let update =
            Draft::post(TASK, object_id("appliance-settings", appliance.name), Effect::Idempotent, PATH, summary)
                .param("action", "update")
                .param("id", target.value())
                .param_opt("comment", appliance.comments)
                .param_opt("set_vlans", join(&appliance.vlans))
                .param_opt("set_routes", join(&appliance.routes))
                .source(source);
        out.request(update);
    }
    refs.set(RefKind::Appliance, appliance.id, target);
}

/// One appliance's place in a network, as the export says.
struct Assignment<'a> {
    network_id: &'a str,
    network_name: String,
    source: SourceRef,
}

fn assign_networks(
    ctx: &Context<'_>,
    refs: &mut Refs,
    appliances: &[Appliance<'_>],
    existing: &BTreeMap<&str, Existing<'_>>,
    out: &mut TaskOutput,
    manual: &mut Manual,
) -> Result<(), TransformError> {
    let mut assignments: BTreeMap<&str, Assignment<'_>> = BTreeMap::new();
    for record in ctx.export.records(Kind::NetworkList) {
        let network = Network::parse(record)?;
        for member in record.element.all(MEMBERS) {
            let Some(appliance_id) = member.text_at("ID") else { continue };
            let here = record.nested(member);
            let assignment = Assignment {
                network_id: network.id,
                network_name: network.name.to_owned(),
                source: here.source(Some(appliance_id), member.text_at("NAME")),
            };
            assignments.insert(appliance_id, assignment);
        }
    }
    for appliance in appliances {
        let Some(network_id) = appliance.network_id else { continue };
        match assignments.get(appliance.id) {
            Some(listed) if listed.network_id != network_id => out.warn(
                format!(
                    "{} says it is in network {network_id}, the network list puts it in \"{}\"; the network list is used",
                    appliance.object(),
                    listed.network_name
                ),
                Some(appliance.record.source(Some(appliance.id), Some(appliance.name))),
            ),
            Some(_) => {}
            None => {
                let assignment = Assignment {
                    network_id,
                    network_name: format!("network {network_id}"),
                    source: appliance.record.source(Some(appliance.id), Some(appliance.name)),
                };
                assignments.insert(appliance.id, assignment);
            }
        }
    }
    for (appliance_id, assignment) in assignments {
        if assignment.network_id == networks::DEFAULT_NETWORK {
            continue;
        }
        let name = appliances.iter().find(|a| a.id == appliance_id).map_or(appliance_id, |a| a.name);
        let (Some(appliance), Some(network)) = (
            refs.get(RefKind::Appliance, appliance_id).cloned(),
            refs.get(RefKind::Network, assignment.network_id).cloned(),
        ) else {
            manual.assign.push(format!("{name} to network \"{}\"", assignment.network_name));
            continue;
        };
        let in_place = match (&appliance, &network) {
            (Target::Known(a), Target::Known(n)) => {
                existing.values().any(|e| e.id == a.as_str() && e.network_id == Some(n.as_str()))
            }
            _ => false,
        };
        let object = format!("assignment of scanner appliance \"{name}\" to network \"{}\"", assignment.network_name);
        if in_place {
            out.skip(object, "the target export shows it in place already", Some(assignment.source));
            continue;
        }
        let summary = format!("Assign scanner appliance \"{name}\" to network \"{}\"", assignment.network_name);
        // An appliance is in one network: assigning it again leaves it there.
        let draft = Draft::post(TASK, object_id("appliance-network", name), Effect::Idempotent, PATH, summary)
            .param("action", "assign_network_id")
            .param("appliance_id", appliance.value())
            .param("network_id", network.value())
            .source(assignment.source)
            .remap(RefKind::Appliance, appliance_id, &appliance)
            .remap(RefKind::Network, assignment.network_id, &network);
        out.request(draft);
    }
    Ok(())
}

fn checklist(out: &mut TaskOutput, manual: Manual) {
    if !manual.unbind.is_empty() {
        out.step(Step::ApplianceUnbinding, manual.unbind);
    }
    if !manual.deploy.is_empty() {
        out.step(Step::ApplianceDeployment, manual.deploy);
    }
    if !manual.activate.is_empty() {
        out.step(Step::ApplianceActivation, manual.activate);
    }
    if !manual.settings.is_empty() {
        out.step(Step::ApplianceSettings, manual.settings);
    }
    if !manual.assign.is_empty() {
        out.step(Step::ApplianceNetworks, manual.assign);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::networks;
    use crate::tasks::test_support::{Fixture, param};

    const NETWORKS: &str = "<NETWORK_LIST_OUTPUT><RESPONSE><NETWORK_LIST>\
        <NETWORK><ID>0</ID><NAME>Global Default Network</NAME></NETWORK>\
        <NETWORK><ID>1103</ID><NAME>Corp East</NAME><SCANNER_APPLIANCE_LIST>\
        <SCANNER_APPLIANCE><ID>5001</ID><NAME>nw-east-01</NAME></SCANNER_APPLIANCE>\
        <SCANNER_APPLIANCE><ID>5009</ID><NAME>nw-lab-09</NAME></SCANNER_APPLIANCE>\
        </SCANNER_APPLIANCE_LIST></NETWORK>\
        </NETWORK_LIST></RESPONSE></NETWORK_LIST_OUTPUT>";

    const APPLIANCES: &str = "<APPLIANCE_LIST_OUTPUT><RESPONSE><APPLIANCE_LIST>\n\
        <APPLIANCE><ID>5001</ID><NAME>nw-east-01</NAME><TYPE>Virtual</TYPE>\
        <POLLING_INTERVAL>300 seconds</POLLING_INTERVAL><NETWORK_ID>1103</NETWORK_ID>\
        <VLANS><SETTING>Enabled</SETTING><VLAN><ID>10</ID><NAME><![CDATA[Servers & DB]]></NAME>\
        <IP_ADDRESS>10.10.0.5</IP_ADDRESS><NETMASK>255.255.255.0</NETMASK></VLAN></VLANS>\
        <STATIC_ROUTES><ROUTE><NAME>Backbone</NAME><IP_ADDRESS>10.20.0.0</IP_ADDRESS>\
        <NETMASK>255.255.0.0</NETMASK><GATEWAY>10.10.0.1</GATEWAY></ROUTE></STATIC_ROUTES>\
        <COMMENTS>East data centre</COMMENTS></APPLIANCE>\n\
        <APPLIANCE><ID>5002</ID><NAME>nw-hq-02</NAME><TYPE>Physical</TYPE><MODEL_NUMBER>QGSA-2120</MODEL_NUMBER>\
        <SERIAL_NUMBER>QAGPA0091</SERIAL_NUMBER><USER_LOGIN>nwind_mg</USER_LOGIN>\
        <ASSET_TAGS_LIST><ASSET_TAG><NAME>HQ</NAME></ASSET_TAG></ASSET_TAGS_LIST></APPLIANCE>\n\
        <APPLIANCE><ID>5003</ID><NAME>nw-cloud-03</NAME><TYPE>Virtual</TYPE></APPLIANCE>\n\
        </APPLIANCE_LIST></RESPONSE></APPLIANCE_LIST_OUTPUT>\n";

    #[test]
    fn physical_appliances_go_to_the_checklist_and_virtual_ones_wait_for_the_option() {
        let fixture = Fixture::new(&[("networks.xml", NETWORKS), ("appliances.xml", APPLIANCES)]);
        let out = fixture.try_plan_after(&[networks::plan], plan).expect("plans");
        assert!(out.requests.is_empty(), "{:?}", out.requests);
        assert_eq!(out.source_objects, 4, "three listed, one known only from its network");
        let unbinding =
            out.manual_steps.iter().find(|s| s.id == Step::ApplianceUnbinding.id()).expect("unbinding step");
        assert_eq!(unbinding.items, ["nw-hq-02: serial QAGPA0091, model QGSA-2120, bound to user nwind_mg"]);
        let deploy = out.manual_steps.iter().find(|s| s.id == Step::ApplianceDeployment.id()).expect("deployment step");
        assert_eq!(deploy.items, ["nw-east-01", "nw-cloud-03", "nw-lab-09"]);
        let settings = out.manual_steps.iter().find(|s| s.id == Step::ApplianceSettings.id()).expect("settings step");
        assert_eq!(
            settings.items,
            [
                "nw-east-01: set_vlans=10|10.10.0.5|255.255.255.0|Servers & DB||; set_routes=10.20.0.0|255.255.0.0|10.10.0.1|Backbone||"
            ]
        );
        let assign = out.manual_steps.iter().find(|s| s.id == Step::ApplianceNetworks.id()).expect("assignment step");
        assert_eq!(assign.items, ["nw-east-01 to network \"Corp East\"", "nw-lab-09 to network \"Corp East\""]);
        assert_eq!(out.losses.len(), 1);
        assert_eq!(out.losses[0].fields, ["ASSET_TAGS_LIST"]);
    }

    #[test]
    fn virtual_appliances_are_created_then_configured_and_assigned() {
        let fixture = Fixture::new(&[("networks.xml", NETWORKS), ("appliances.xml", APPLIANCES)])
            .options(|o| o.create_virtual_appliances = true);
        let (outputs, refs) = fixture.run(&[networks::plan, plan]).expect("plans");
        let out = &outputs[1];
        let ids: Vec<&str> = out.requests.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "appliance/nw-east-01",
                "appliance-settings/nw-east-01",
                "appliance/nw-cloud-03",
                "appliance-network/nw-east-01"
            ]
        );
        let create = &out.requests[0];
        assert_eq!(param(create, "polling_interval").as_deref(), Some("300"));
        let captures: Vec<&str> = create.captures.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(captures, ["appliance/nw-east-01#id", "appliance/nw-east-01#activation_code"]);
        let probe = create.probe.as_ref().expect("probe");
        assert_eq!(probe.captures.len(), 2, "the probe fills every capture");
        let update = &out.requests[1];
        assert_eq!(param(update, "id").as_deref(), Some("{{capture:appliance/nw-east-01#id}}"));
        assert_eq!(param(update, "comment").as_deref(), Some("East data centre"));
        assert_eq!(param(update, "set_vlans").as_deref(), Some("10|10.10.0.5|255.255.255.0|Servers & DB||"));
        assert_eq!(param(&out.requests[2], "polling_interval"), None, "nw-cloud-03 has none to send");
        let assign = &out.requests[3];
        assert_eq!(param(assign, "network_id").as_deref(), Some("{{capture:network/Corp East#id}}"));
        assert_eq!(refs.get(RefKind::Appliance, "5003"), Some(&Target::Captured("appliance/nw-cloud-03#id".into())));
        let activation =
            out.manual_steps.iter().find(|s| s.id == Step::ApplianceActivation.id()).expect("activation step");
        assert_eq!(activation.items, ["nw-east-01", "nw-cloud-03"]);
        let reported: Vec<(&str, &str)> = out.report.iter().map(|r| (r.capture.as_str(), r.label.as_str())).collect();
        assert_eq!(
            reported,
            [
                ("appliance/nw-east-01#activation_code", "activation code of virtual scanner appliance \"nw-east-01\""),
                (
                    "appliance/nw-cloud-03#activation_code",
                    "activation code of virtual scanner appliance \"nw-cloud-03\""
                ),
            ]
        );
    }

    #[test]
    fn the_csv_and_the_target_export_map_appliances() {
        let target = "<APPLIANCE_LIST_OUTPUT><RESPONSE><APPLIANCE_LIST>\
            <APPLIANCE><ID>9001</ID><NAME>nw-east-01</NAME><NETWORK_ID>2201</NETWORK_ID></APPLIANCE>\
            <APPLIANCE><ID>9002</ID><NAME>hq-replacement</NAME></APPLIANCE>\
            </APPLIANCE_LIST></RESPONSE></APPLIANCE_LIST_OUTPUT>";
        let csv = "source,target\nnw-hq-02,hq-replacement\n5003,9003\n7,9007\nghost,9008\n";
        let fixture = Fixture::new(&[("appliances.xml", APPLIANCES)])
            .target(&[("appliances.xml", target)])
            .inputs(&[("appliances.csv", csv)]);
        let (outputs, refs) = fixture.run(&[plan]).expect("plans");
        let known = |id: &str| refs.get(RefKind::Appliance, id).cloned();
        assert_eq!(known("5001"), Some(Target::Known("9001".into())), "same name in the target");
        assert_eq!(known("5002"), Some(Target::Known("9002".into())), "CSV row naming a target appliance");
        assert_eq!(known("5003"), Some(Target::Known("9003".into())), "CSV row by ID");
        assert_eq!(known("7"), Some(Target::Known("9007".into())), "an ID the export does not list");
        let out = &outputs[0];
        assert!(out.requests.is_empty());
        assert!(out.manual_steps.iter().all(|s| s.id != Step::ApplianceUnbinding.id()));
        assert_eq!(out.warnings.len(), 1, "the row matching nothing is reported: {:?}", out.warnings);
        assert!(out.warnings[0].message.contains("inputs/appliances.csv:5"));
    }

    #[test]
    fn a_csv_target_name_the_target_export_lacks_is_an_input_error() {
        let fixture = Fixture::new(&[("appliances.xml", APPLIANCES)])
            .inputs(&[("appliances.csv", "source,target\n5001,nowhere\n")]);
        let err = fixture.try_plan(plan).expect_err("unknown target name");
        assert!(err.to_string().starts_with("inputs/appliances.csv:2: target appliance `nowhere`"), "{err}");
    }

    #[test]
    fn settings_the_api_cannot_carry_are_refused_with_their_line() {
        let bad = APPLIANCES.replace("Servers & DB", "Servers|DB");
        let err = Fixture::new(&[("appliances.xml", &bad)]).try_plan(plan).expect_err("pipe in a VLAN name");
        assert!(err.to_string().starts_with("appliances.xml:2:"), "{err}");
        let bad = APPLIANCES.replace("300 seconds", "often");
        let err = Fixture::new(&[("appliances.xml", &bad)]).try_plan(plan).expect_err("polling interval");
        assert!(err.to_string().contains("POLLING_INTERVAL \"often\""), "{err}");
        assert_eq!(polling_seconds("180 seconds"), Some(180));
        assert_eq!(polling_seconds("180"), Some(180));
    }
}
