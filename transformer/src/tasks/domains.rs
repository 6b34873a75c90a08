//! Core task: Domains.
//!
//! Source: `DOMAIN_LIST` (`/msp/asset_domain_list.php`, or the v2 domain list): the domain name
//! and its netblock ranges (START, END).
//!
//! Rules:
//! - One Add Domain call (`/msp/asset_domain.php?action=add`) per domain, with every one of its
//!   ranges in `netblock` (a range whose START equals END is written as a single address).
//! - A domain without a netblock is still added, without one, and the review says so.
//! - The Add Domain call has no network parameter: a domain in a custom network is added to the
//!   default network, and the review lists it as a loss.
//! - A domain the target export already lists is not added again.
//! - A probe lists the target's domains, so an interrupted run can tell whether it exists.

use std::collections::BTreeSet;

use qmig_schemas::Effect;

use crate::context::Context;
use crate::error::TransformError;
use crate::export::{Kind, Record};
use crate::plan::{Draft, DraftProbe, Refs, TaskOutput, object_id};
use crate::ranges::parse_entry;
use crate::tasks::networks;

pub const TASK: &str = "domains";
const PATH: &str = "/msp/asset_domain.php";
pub(crate) const LIST_PATH: &str = "/msp/asset_domain_list.php";

pub fn plan(ctx: &Context<'_>, _refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let existing = ctx.target_records(Kind::DomainList).map(domain_name).collect::<Result<BTreeSet<&str>, _>>()?;
    for record in ctx.export.records(Kind::DomainList) {
        out.source_objects += 1;
        let name = domain_name(record)?;
        let object = format!("domain {name}");
        let source = record.source(record.text("DOMAIN_ID"), Some(name));
        if existing.contains(name) {
            out.skip_present(object, source);
            continue;
        }
        let mut netblock: Vec<String> = Vec::new();
        for range in record.element.all("NETBLOCK/RANGE") {
            let here = record.nested(range);
            let (Some(start), Some(end)) = (range.text_at("START"), range.text_at("END")) else {
                return Err(here.invalid(&object, "a netblock RANGE needs both START and END"));
            };
            let entry = if start == end { start.to_owned() } else { format!("{start}-{end}") };
            parse_entry(&entry).map_err(|problem| here.invalid(&object, problem))?;
            if !netblock.contains(&entry) {
                netblock.push(entry);
            }
        }
        let network = record.text("NETWORK/NETWORK_ID").or_else(|| record.text("NETWORK_ID"));
        if let Some(network) = network.filter(|id| *id != networks::DEFAULT_NETWORK) {
            let network_name = record.text("NETWORK/NETWORK_NAME").unwrap_or(network);
            out.lose(
                object.clone(),
                vec!["NETWORK".to_owned()],
                format!("the Add Domain call cannot place a domain in a network; it lands in the default network, not \"{network_name}\""),
                Some(source.clone()),
            );
        }
        let summary = if netblock.is_empty() {
            out.warn(format!("{object} has no netblock: it is added without one"), Some(source.clone()));
            format!("Add domain {name} (no netblock)")
        } else {
            format!("Add domain {name} with netblock {}", netblock.join(", "))
        };
        let id = object_id("domain", name);
        let netblock = (!netblock.is_empty()).then(|| netblock.join(","));
        let draft = Draft::post(TASK, id, Effect::Create, PATH, summary)
            .param("action", "add")
            .param("domain", name)
            .param_opt("netblock", netblock)
            .probe(DraftProbe::list(LIST_PATH, &[], "DOMAIN", "DOMAIN_NAME", name))
            .source(source);
        out.request(draft);
    }
    Ok(out)
}

fn domain_name(record: Record<'_>) -> Result<&str, TransformError> {
    record.text("DOMAIN_NAME").ok_or_else(|| record.invalid("domain", "has no DOMAIN_NAME"))
}
