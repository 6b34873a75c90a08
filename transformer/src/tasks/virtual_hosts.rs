//! Core task: Virtual hosts.
//!
//! Source: `VIRTUAL_HOST_LIST_OUTPUT` (`/api/2.0/fo/asset/vhost/?action=list`): IP, PORT,
//! NETWORK_ID and the FQDNs served there.
//!
//! Rules:
//! - Each virtual host is created (`action=create`) with its IP, port, FQDNs and network; the
//!   network ID is remapped through the networks task (captured ID or mapping), and the default
//!   network is left out. A network that does not resolve stops the run, with every other
//!   unresolved reference.
//! - The FQDN list of one call must stay under 4000 bytes: longer lists are split, the rest
//!   added with `add_fqdn` (adding an FQDN that is there changes nothing).
//! - A virtual host the target export already has (same IP, port and network) is not created.
//! - A virtual host without an FQDN cannot be created: skipped.
//! - A probe lists the target's virtual hosts on that IP and port, so an interrupted run can
//!   tell whether it was created.

use std::collections::BTreeMap;
use std::net::IpAddr;

use qmig_schemas::Effect;

use crate::context::Context;
use crate::error::TransformError;
use crate::export::{Kind, Record};
use crate::plan::{Draft, DraftProbe, RefKind, Refs, Target, TaskOutput, object_id};
use crate::tasks::networks;

pub const TASK: &str = "virtual hosts";
pub(crate) const PATH: &str = "/api/2.0/fo/asset/vhost/";
/// The API refuses an FQDN list (commas included) of 4000 bytes or more.
const MAX_FQDN_BYTES: usize = 3999;

/// A virtual host as the source lists it.
#[derive(Debug, Clone)]
pub struct VirtualHost<'a> {
    pub ip: &'a str,
    pub port: &'a str,
    /// Set unless it is the default network.
    pub network_id: Option<&'a str>,
    pub fqdns: Vec<&'a str>,
    pub record: Record<'a>,
}

impl<'a> VirtualHost<'a> {
    pub fn parse(record: Record<'a>) -> Result<VirtualHost<'a>, TransformError> {
        let ip = record.text("IP").ok_or_else(|| record.invalid("virtual host", "has no IP"))?;
        let port = record.text("PORT").ok_or_else(|| record.invalid(&format!("virtual host {ip}"), "has no PORT"))?;
        let object = format!("virtual host {ip}:{port}");
        if ip.parse::<IpAddr>().is_err() {
            return Err(record.invalid(&object, format!("IP \"{ip}\" is not an address")));
        }
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(record.invalid(&object, format!("PORT \"{port}\" is not a port number")));
        }
        // Some captures give the FQDNs as one comma-separated text.
        let fqdns: Vec<&str> = record
            .element
            .children_named("FQDN")
            .flat_map(|f| f.value().split(','))
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        if let Some(long) = fqdns.iter().find(|f| f.len() > MAX_FQDN_BYTES) {
            return Err(record.invalid(&object, format!("FQDN \"{long}\" is longer than the API takes")));
        }
        Ok(VirtualHost {
            ip,
            port,
            network_id: record.text("NETWORK_ID").filter(|n| *n != networks::DEFAULT_NETWORK),
            fqdns,
            record,
        })
    }
}

/// FQDN lists that each fit one call, in order.
fn fqdn_chunks<'a>(fqdns: &[&'a str]) -> Vec<Vec<&'a str>> {
    let mut chunks: Vec<Vec<&str>> = Vec::new();
    let mut size = 0;
    for fqdn in fqdns {
        match chunks.last_mut() {
            Some(chunk) if size + 1 + fqdn.len() <= MAX_FQDN_BYTES => {
                size += 1 + fqdn.len();
                chunk.push(fqdn);
            }
            _ => {
                size = fqdn.len();
                chunks.push(vec![fqdn]);
            }
        }
    }
    chunks
}

pub fn plan(ctx: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    // The target's virtual hosts: the networks at each IP and port.
    let mut existing: BTreeMap<(&str, &str), Vec<Option<&str>>> = BTreeMap::new();
    for record in ctx.target_records(Kind::VirtualHostList) {
        let host = VirtualHost::parse(record)?;
        existing.entry((host.ip, host.port)).or_default().push(host.network_id);
    }
    for record in ctx.export.records(Kind::VirtualHostList) {
        let host = VirtualHost::parse(record)?;
        out.source_objects += 1;
        let place = format!("{}:{}", host.ip, host.port);
        let object = format!("virtual host {place}");
        let source = record.source(None, Some(&place));
        if host.fqdns.is_empty() {
            out.skip(object, "it serves no FQDN, and a virtual host needs at least one", Some(source));
            continue;
        }
        let network = match host.network_id {
            Some(id) => match networks::require(refs, id, &object) {
                Some(target) => Some(target),
                None => continue,
            },
            None => None,
        };
        let in_target =
            existing.get(&(host.ip, host.port)).into_iter().flatten().any(|other| match (&network, other) {
                (None, None) => true,
                (Some(Target::Known(id)), Some(other)) => id.as_str() == *other,
                _ => false,
            });
        if in_target {
            out.skip_present(object, source);
            continue;
        }
        let id = match host.network_id {
            Some(network_id) => object_id("virtual-host", &format!("{place} in network {network_id}")),
            None => object_id("virtual-host", &place),
        };
        let chunks = fqdn_chunks(&host.fqdns);
        let mut probe = DraftProbe::list(
            PATH,
            &[("action", "list"), ("ip", host.ip), ("port", host.port)],
            "VIRTUAL_HOST",
            "IP",
            host.ip,
        )
        .and("PORT", host.port);
        if let Some(network) = &network {
            probe = probe.and("NETWORK_ID", network.value());
        }
        let summary = format!("Create virtual host {place} serving {}", host.fqdns.join(", "));
        let mut create = Draft::post(TASK, id.clone(), Effect::Create, PATH, summary)
            .param("action", "create")
            .param("ip", host.ip)
            .param("port", host.port)
            .param("fqdn", chunks[0].join(","))
            .param_opt("network_id", network.as_ref().map(Target::value))
            .probe(probe)
            .source(source.clone());
        if let (Some(source_id), Some(target)) = (host.network_id, &network) {
            create = create.remap(RefKind::Network, source_id, target);
        }
        out.request(create);
        for (index, chunk) in chunks.iter().enumerate().skip(1) {
            let summary = format!("Add {} more FQDN(s) to virtual host {place}", chunk.len());
            let part = format!("{id} (FQDNs, part {})", index + 1);
            let more = Draft::post(TASK, part, Effect::Idempotent, PATH, summary)
                .param("action", "add_fqdn")
                .param("ip", host.ip)
                .param("port", host.port)
                .param("fqdn", chunk.join(","))
                .param_opt("network_id", network.as_ref().map(Target::value))
                .source(source.clone());
            out.request(more);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::networks;
    use crate::tasks::test_support::Fixture;

    #[test]
    fn fqdn_lists_are_split_below_the_limit() {
        let long = "a".repeat(1000);
        let fqdns: Vec<&str> = std::iter::repeat_n(long.as_str(), 9).collect();
        let chunks = fqdn_chunks(&fqdns);
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3]);
        assert!(chunks.iter().all(|c| c.join(",").len() <= MAX_FQDN_BYTES));
        assert_eq!(fqdn_chunks(&["a", "b"]), vec![vec!["a", "b"]]);
        assert!(fqdn_chunks(&[]).is_empty());
    }

    const NETWORKS: &str = "<NETWORK_LIST_OUTPUT><RESPONSE><NETWORK_LIST>\
        <NETWORK><ID>1104</ID><NAME><![CDATA[DMZ & Partners]]></NAME></NETWORK>\
        </NETWORK_LIST></RESPONSE></NETWORK_LIST_OUTPUT>";
    const HOSTS: &str = "<VIRTUAL_HOST_LIST_OUTPUT><RESPONSE><VIRTUAL_HOST_LIST>\n\
        <VIRTUAL_HOST><IP>10.10.1.5</IP><PORT>443</PORT><NETWORK_ID>0</NETWORK_ID>\
        <FQDN><![CDATA[www.northwind.example]]></FQDN><FQDN>shop.northwind.example</FQDN></VIRTUAL_HOST>\n\
        <VIRTUAL_HOST><IP>10.10.1.5</IP><PORT>443</PORT><NETWORK_ID>1104</NETWORK_ID>\
        <FQDN>partners.northwind.example</FQDN></VIRTUAL_HOST>\n\
        <VIRTUAL_HOST><IP>10.10.1.6</IP><PORT>80</PORT></VIRTUAL_HOST>\n\
        </VIRTUAL_HOST_LIST></RESPONSE></VIRTUAL_HOST_LIST_OUTPUT>\n";

    #[test]
    fn hosts_are_created_in_their_remapped_network() {
        let fixture = Fixture::new(&[("networks.xml", NETWORKS), ("vhosts.xml", HOSTS)]);
        let out = fixture.try_plan_after(&[networks::plan], plan).expect("plans");
        let ids: Vec<&str> = out.requests.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["virtual-host/10.10.1.5:443", "virtual-host/10.10.1.5:443 in network 1104"]);
        let shown =
            |r: &Draft| r.params.iter().map(|p| format!("{}={}", p.name, p.value.display())).collect::<Vec<_>>();
        assert_eq!(
            shown(&out.requests[0]),
            ["action=create", "ip=10.10.1.5", "port=443", "fqdn=www.northwind.example,shop.northwind.example"]
        );
        assert_eq!(shown(&out.requests[1])[4], "network_id={{capture:network/DMZ & Partners#id}}");
        assert_eq!(out.skipped.len(), 1, "the host without an FQDN");
    }

    #[test]
    fn an_unmapped_network_is_unresolved_and_known_hosts_are_skipped() {
        let target = "<VIRTUAL_HOST_LIST_OUTPUT><RESPONSE><VIRTUAL_HOST_LIST>\
            <VIRTUAL_HOST><IP>10.10.1.5</IP><PORT>443</PORT><NETWORK_ID>0</NETWORK_ID><FQDN>x</FQDN></VIRTUAL_HOST>\
            </VIRTUAL_HOST_LIST></RESPONSE></VIRTUAL_HOST_LIST_OUTPUT>";
        let fixture = Fixture::new(&[("vhosts.xml", HOSTS)]).target(&[("vhosts.xml", target)]);
        let (outputs, refs) = fixture.run(&[plan]).expect("plans");
        assert!(outputs[0].requests.is_empty());
        let unresolved = refs.unresolved();
        assert_eq!(unresolved.len(), 1);
        assert_eq!(
            (unresolved[0].key.as_str(), unresolved[0].used_by.as_slice()),
            ("1104", &["virtual host 10.10.1.5:443".to_owned()][..])
        );
    }
}
