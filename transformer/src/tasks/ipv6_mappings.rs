//! Core task: IPv6 mappings (optional: `--include ipv6-mappings`).
//!
//! Source: `IP_MAP_LIST_OUTPUT` (`/api/2.0/fo/asset/ip/v4_v6/?action=list&output_format=xml`, in
//! pages when truncated): each record maps one IPv6 address to a reserved IPv4 address
//! (0.0.0.1 to 0.254.255.255) that scans and reports use. The reserved addresses are ordinary
//! IPs of the subscription, which the IPs task adds.
//!
//! Rules:
//! - The guide advises against copying these records: the target's TAM enables "extended IPv6
//!   mappings", which map IPv6 hosts without them. The task runs only when asked for; otherwise
//!   the records are reported as skipped, with that advice.
//! - Records are added (`action=add`, `xml_data`) in batches of at most 10,000, the API's limit
//!   per call, with `all_or_nothing=0`: Qualys skips a record the target already has, so a batch
//!   may be sent again.
//! - A reserved address outside its block, an address that is not IPv6, or an address mapped
//!   twice is a fault of the export: the run stops naming it.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use qmig_schemas::{Effect, SourceRef};

use crate::context::{Context, OptionalTask};
use crate::error::TransformError;
use crate::export::{Kind, Record};
use crate::plan::{Draft, Refs, TaskOutput, object_id};
use crate::xml;

pub const TASK: &str = "IPv6 mappings";
pub(crate) const PATH: &str = "/api/2.0/fo/asset/ip/v4_v6/";
/// Most records one add call takes.
pub const BATCH: usize = 10_000;
/// The block IPv6 hosts are mapped into.
const RESERVED: std::ops::RangeInclusive<Ipv4Addr> = Ipv4Addr::new(0, 0, 0, 1)..=Ipv4Addr::new(0, 254, 255, 255);

/// One mapping record.
#[derive(Debug, Clone)]
pub struct Mapping<'a> {
    pub v4: Ipv4Addr,
    pub v6: Ipv6Addr,
    pub record: Record<'a>,
}

impl<'a> Mapping<'a> {
    pub fn parse(record: Record<'a>) -> Result<Mapping<'a>, TransformError> {
        let (Some(v4_text), Some(v6_text)) = (record.text("V4"), record.text("V6")) else {
            return Err(record.invalid("IPv6 mapping record", "needs both V4 and V6"));
        };
        let object = format!("IPv6 mapping {v6_text}");
        let v4 = v4_text
            .parse::<Ipv4Addr>()
            .ok()
            .filter(|v4| RESERVED.contains(v4))
            .ok_or_else(|| record.invalid(&object, format!("V4 \"{v4_text}\" is not in 0.0.0.1-0.254.255.255")))?;
        let v6 = v6_text
            .parse::<Ipv6Addr>()
            .map_err(|_| record.invalid(&object, format!("V6 \"{v6_text}\" is not an IPv6 address")))?;
        Ok(Mapping { v4, v6, record })
    }

    fn source(&self) -> SourceRef {
        self.record.source(self.record.text("ID"), Some(&self.v6.to_string()))
    }
}

pub fn plan(ctx: &Context<'_>, _refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let mut mappings = Vec::new();
    let mut by_v4: BTreeMap<Ipv4Addr, SourceRef> = BTreeMap::new();
    let mut by_v6: BTreeMap<Ipv6Addr, SourceRef> = BTreeMap::new();
    for record in ctx.export.records(Kind::Ipv6MappingList) {
        let mapping = Mapping::parse(record)?;
        out.source_objects += 1;
        let duplicate = |kind: &str, key: String, first: &SourceRef| TransformError::ConflictingDuplicate {
            kind: kind.to_owned(),
            key,
            first: first.clone(),
            second: mapping.source(),
        };
        if let Some(first) = by_v4.get(&mapping.v4) {
            return Err(duplicate("reserved IPv4 address of an IPv6 mapping", mapping.v4.to_string(), first));
        }
        if let Some(first) = by_v6.get(&mapping.v6) {
            return Err(duplicate("IPv6 address of a mapping", mapping.v6.to_string(), first));
        }
        by_v4.insert(mapping.v4, mapping.source());
        by_v6.insert(mapping.v6, mapping.source());
        mappings.push(mapping);
    }
    let Some(first) = mappings.first() else { return Ok(out) };
    if !ctx.options.include.contains(&OptionalTask::Ipv6Mappings) {
        out.skip(
            format!("{} IPv6 mapping record(s)", mappings.len()),
            "optional: the guide advises asking the target's TAM for extended IPv6 mappings instead; run with \
             --include ipv6-mappings to copy the records",
            Some(first.source()),
        );
        return Ok(out);
    }
    for batch in mappings.chunks(BATCH) {
        let mut data = String::from("<IP_MAP_LIST>");
        for mapping in batch {
            data.push_str(&format!(
                "<IP_MAP><V4>{}</V4><V6>{}</V6></IP_MAP>",
                xml::escape(&mapping.v4.to_string()),
                xml::escape(&mapping.v6.to_string())
            ));
        }
        data.push_str("</IP_MAP_LIST>");
        let (first, last) = (&batch[0], &batch[batch.len() - 1]);
        let summary = format!("Add {} IPv6 mapping record(s), {} to {}", batch.len(), first.v4, last.v4);
        let draft =
            Draft::post(TASK, object_id("ipv6-mappings", &first.v4.to_string()), Effect::Idempotent, PATH, summary)
                .param("action", "add")
                .param("xml_data", data)
                .param("all_or_nothing", "0")
                .source(first.source());
        out.request(draft);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::test_support::Fixture;

    fn list(count: u32) -> String {
        let mut text = String::from("<IP_MAP_LIST_OUTPUT><RESPONSE><IP_MAP_LIST>\n");
        for n in 1..=count {
            let v4 = Ipv4Addr::from(n);
            text.push_str(&format!("<IP_MAP><ID>{n}</ID><V4>{v4}</V4><V6>2001:db8::{n:x}</V6></IP_MAP>\n"));
        }
        text.push_str("</IP_MAP_LIST></RESPONSE></IP_MAP_LIST_OUTPUT>\n");
        text
    }

    #[test]
    fn records_are_skipped_unless_asked_for() {
        let out = Fixture::new(&[("v6.xml", &list(3))]).plan(plan);
        assert!(out.requests.is_empty());
        assert_eq!(out.skipped.len(), 1);
        assert!(out.skipped[0].reason.contains("--include ipv6-mappings"));
    }

    #[test]
    fn records_go_in_batches_of_at_most_ten_thousand() {
        let fixture = Fixture::new(&[("v6.xml", &list(10_001))]).options(|o| {
            o.include.insert(OptionalTask::Ipv6Mappings);
        });
        let out = fixture.plan(plan);
        let counts: Vec<usize> = out
            .requests
            .iter()
            .map(|r| match &r.params[1].value {
                qmig_schemas::Value::Text(data) => data.matches("<IP_MAP>").count(),
                other => panic!("xml_data is text: {other:?}"),
            })
            .collect();
        assert_eq!(counts, [10_000, 1]);
        assert_eq!(out.requests[1].id, "ipv6-mappings/0.0.39.17");
        assert!(out.requests.iter().all(|r| r.effect == Effect::Idempotent));
    }

    #[test]
    fn an_address_mapped_twice_or_outside_the_block_is_refused() {
        let twice = list(2).replace("<V4>0.0.0.2</V4>", "<V4>0.0.0.1</V4>");
        let err = Fixture::new(&[("v6.xml", &twice)]).try_plan(plan).expect_err("duplicate");
        assert!(err.to_string().contains("0.0.0.1"), "{err}");
        let outside = list(1).replace("<V4>0.0.0.1</V4>", "<V4>10.0.0.1</V4>");
        let err = Fixture::new(&[("v6.xml", &outside)]).try_plan(plan).expect_err("outside");
        assert!(err.to_string().contains("v6.xml:2"), "{err}");
    }
}
