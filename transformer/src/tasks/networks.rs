//! Core task: Networks.
//!
//! Source: `NETWORK_LIST_OUTPUT` (`/api/2.0/fo/network/?action=list`): ID, NAME, the scanner
//! appliances assigned to the network.
//!
//! Rules:
//! - The Global Default Network (ID 0) exists in every subscription: never created, it maps to 0.
//! - Names starting with "Global" or "Qualys" are reserved for system networks: never created;
//!   they are mapped by name when the target export has them.
//! - A network already in the target (`networks.csv`, or the same name in `--target-export`) is
//!   not created again; its target ID is used by later tasks.
//! - Every other network is created (`action=create&name=...`) and its new ID captured, for the
//!   asset groups, virtual hosts and scan schedules that refer to it. A probe lists the target's
//!   networks, so an interrupted run can tell whether the network already exists.
//! - Appliance assignments are not part of the create call: the appliance task re-assigns them.

use std::collections::BTreeMap;

use qmig_schemas::{Effect, Extract};

use crate::context::Context;
use crate::error::TransformError;
use crate::export::{Kind, Record};
use crate::plan::{Draft, DraftProbe, Field, RefKind, Refs, Target, TaskOutput, capture_name, object_id};

pub const TASK: &str = "networks";
pub(crate) const PATH: &str = "/api/2.0/fo/network/";
/// The Global Default Network: ID 0 in every subscription, never created or remapped.
pub const DEFAULT_NETWORK: &str = "0";
const HINT: &str =
    "export the network in the network list (the networks task creates it), or map it in inputs/networks.csv";

/// A network as the source lists it.
#[derive(Debug, Clone)]
pub struct Network<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub record: Record<'a>,
}

impl<'a> Network<'a> {
    pub fn parse(record: Record<'a>) -> Result<Network<'a>, TransformError> {
        let id = record.text("ID").ok_or_else(|| record.invalid("network", "has no ID"))?;
        let name = record.text("NAME").ok_or_else(|| record.invalid(&format!("network {id}"), "has no NAME"))?;
        Ok(Network { id, name, record })
    }
}

fn is_reserved(name: &str) -> bool {
    name.starts_with("Global") || name.starts_with("Qualys")
}

/// The target of network `id`, or `None` after recording that `used_by` needs it.
pub fn require(refs: &mut Refs, id: &str, used_by: &str) -> Option<Target> {
    refs.require(RefKind::Network, id, used_by, || HINT.to_owned())
}

pub fn plan(ctx: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let existing = existing_in_target(ctx)?;
    refs.set(RefKind::Network, DEFAULT_NETWORK, Target::Known(DEFAULT_NETWORK.to_owned()));
    // Name -> (source ID, capture of the new ID) of the networks this bundle creates.
    let mut created: BTreeMap<&str, (&str, String)> = BTreeMap::new();
    for record in ctx.export.records(Kind::NetworkList) {
        let network = Network::parse(record)?;
        out.source_objects += 1;
        let source = record.source(Some(network.id), Some(network.name));
        let object = format!("network \"{}\"", network.name);
        if network.id == DEFAULT_NETWORK {
            out.skip(object, "the Global Default Network exists in every subscription", Some(source));
            continue;
        }
        if let Some(target) = ctx.inputs.networks.lookup(network.id, network.name) {
            refs.set(RefKind::Network, network.id, Target::Known(target.target.clone()));
            let reason =
                format!("mapped to target network {} by {}:{}", target.target, ctx.inputs.networks.file, target.line);
            out.skip(object, reason, Some(source));
            continue;
        }
        if let Some(target_id) = existing.get(network.name) {
            refs.set(RefKind::Network, network.id, Target::Known((*target_id).to_owned()));
            out.skip_existing(object, RefKind::Network, target_id, source);
            continue;
        }
        if is_reserved(network.name) {
            out.skip(
                object,
                "names starting with \"Global\" or \"Qualys\" are reserved for system networks",
                Some(source),
            );
            continue;
        }
        if let Some((first, capture)) = created.get(network.name) {
            refs.set(RefKind::Network, network.id, Target::Captured(capture.clone()));
            out.skip(object, format!("same name as network {first}, which is created once"), Some(source));
            continue;
        }
        let id = object_id("network", network.name);
        let capture = capture_name(&id, Field::Id);
        created.insert(network.name, (network.id, capture.clone()));
        let draft = Draft::post(TASK, id.clone(), Effect::Create, PATH, format!("Create network \"{}\"", network.name))
            .param("action", "create")
            .param("name", network.name)
            .capture(Field::Id, Extract::NewId)
            .probe(DraftProbe::list(PATH, &[("action", "list")], "NETWORK", "NAME", network.name).fills(
                &id,
                Field::Id,
                "ID",
            ))
            .source(source);
        refs.set(RefKind::Network, network.id, Target::Captured(capture));
        out.request(draft);
    }
    Ok(out)
}

/// The target's networks by name, from `--target-export`.
fn existing_in_target<'a>(ctx: &Context<'a>) -> Result<BTreeMap<&'a str, &'a str>, TransformError> {
    let mut existing = BTreeMap::new();
    for record in ctx.target_records(Kind::NetworkList) {
        let network = Network::parse(record)?;
        existing.insert(network.name, network.id);
    }
    Ok(existing)
}
