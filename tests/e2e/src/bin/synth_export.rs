//! Writes a large synthetic export in the shapes of the sample export, for `make bench`: the
//! same generator arguments always give the same files.

use std::fmt::Write as _;
use std::fs;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Write a synthetic Qualys export of a given size")]
struct Args {
    /// Directory to write (created; existing files of the same names are replaced).
    out: PathBuf,
    /// Networks to list.
    #[arg(long, default_value_t = 500)]
    networks: u32,
    /// IP list entries per module (single addresses and ranges).
    #[arg(long, default_value_t = 200_000)]
    ip_entries: u32,
    /// Domains to list.
    #[arg(long, default_value_t = 20_000)]
    domains: u32,
    /// Asset groups to list (each with a handful of IP ranges, in a network).
    #[arg(long, default_value_t = 5_000)]
    asset_groups: u32,
    /// Users to list (scanners and readers assigned to asset groups).
    #[arg(long, default_value_t = 2_000)]
    users: u32,
    /// Tags to list, in trees of four children per tag.
    #[arg(long, default_value_t = 5_000)]
    tags: u32,
    /// Levels of each tag tree (1: root tags alone, 4: 1 + 4 + 16 + 64 tags per tree).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=8))]
    tag_levels: u32,
    /// Seed of the generator.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

const HEADER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut rng = fastrand::Rng::with_seed(args.seed);
    let write = |name: &str, text: String| {
        let path = args.out.join(name);
        fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    write("networks.xml", networks(args.networks))?;
    // Both modules list the same span of addresses (overlapping), and the DNS-tracked list
    // starts after the end of the longer one, so no size runs one into the other.
    let ip_base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    let mut dns_base = ip_base;
    for (module, compliance) in [("vm", 0), ("pc", 1)] {
        let (xml, end) = ip_list(&mut rng, args.ip_entries, ip_base, "IP", compliance)?;
        write(&format!("ip_list_{module}_ip.xml"), xml)?;
        dns_base = dns_base.max(end + 1);
    }
    write("ip_list_vm_dns.xml", ip_list(&mut rng, args.ip_entries / 20, dns_base, "DNS", 0)?.0)?;
    write("domains.xml", domains(&mut rng, args.domains))?;
    write("asset_groups.xml", asset_groups(&mut rng, args.asset_groups, args.networks))?;
    write("users.xml", users(&mut rng, args.users, args.asset_groups))?;
    write("tags.xml", tags(args.tags, args.tag_levels))?;
    Ok(())
}

fn networks(count: u32) -> String {
    let mut xml = format!(
        "{HEADER}<NETWORK_LIST_OUTPUT>\n  <RESPONSE>\n    <DATETIME>2026-10-02T09:14:07Z</DATETIME>\n    <NETWORK_LIST>\n"
    );
    for id in 0..count {
        let name = if id == 0 { "Global Default Network".to_owned() } else { format!("Network {id} & Co") };
        let _ = writeln!(
            xml,
            "      <NETWORK>\n        <ID>{}</ID>\n        <NAME><![CDATA[{name}]]></NAME>\n      </NETWORK>",
            id * 7
        );
    }
    xml.push_str("    </NETWORK_LIST>\n  </RESPONSE>\n</NETWORK_LIST_OUTPUT>\n");
    xml
}

/// Entries from `base` upwards, as ranges and single addresses; returns the document and the
/// last address it lists. Unicast addresses end at 223.255.255.255: a list that would pass it
/// is refused rather than wrapped.
fn ip_list(
    rng: &mut fastrand::Rng,
    entries: u32,
    base: u32,
    tracking: &str,
    compliance: u8,
) -> anyhow::Result<(String, u32)> {
    let mut xml = format!(
        "{HEADER}<IP_LIST_OUTPUT>\n  <REQUEST>\n    <PARAM_LIST>\n      \
         <PARAM><KEY>tracking_method</KEY><VALUE>{tracking}</VALUE></PARAM>\n      \
         <PARAM><KEY>compliance_enabled</KEY><VALUE>{compliance}</VALUE></PARAM>\n    \
         </PARAM_LIST>\n  </REQUEST>\n  <RESPONSE>\n    <DATETIME>2026-10-02T09:15:31Z</DATETIME>\n    <IP_SET>\n"
    );
    let last_unicast = u32::from(Ipv4Addr::new(223, 255, 255, 255));
    let mut cursor = base;
    for _ in 0..entries {
        let step = rng.u32(2..40);
        let length = if rng.u8(..) < 200 { 0 } else { rng.u32(1..64) };
        let start = cursor.checked_add(step).filter(|s| s.saturating_add(length) <= last_unicast);
        let start = start.with_context(|| format!("{entries} {tracking} entries do not fit below 224.0.0.0"))?;
        let end = start + length;
        if length == 0 {
            let _ = writeln!(xml, "      <IP>{}</IP>", Ipv4Addr::from(start));
        } else {
            let _ = writeln!(xml, "      <IP_RANGE>{}-{}</IP_RANGE>", Ipv4Addr::from(start), Ipv4Addr::from(end));
        }
        cursor = end;
    }
    xml.push_str("    </IP_SET>\n  </RESPONSE>\n</IP_LIST_OUTPUT>\n");
    Ok((xml, cursor))
}

fn domains(rng: &mut fastrand::Rng, count: u32) -> String {
    let mut xml = format!("{HEADER}<DOMAIN_LIST>\n");
    for id in 0..count {
        let _ = write!(
            xml,
            "  <DOMAIN>\n    <DOMAIN_NAME><![CDATA[d{id}.northwind.example]]></DOMAIN_NAME>\n    <DOMAIN_ID>{}</DOMAIN_ID>\n    <NETBLOCK>\n",
            47_000_000 + id
        );
        for _ in 0..rng.u32(1..4) {
            let start = Ipv4Addr::from(
                rng.u32(u32::from(Ipv4Addr::new(198, 18, 0, 0))..u32::from(Ipv4Addr::new(198, 19, 255, 0))),
            );
            let end = Ipv4Addr::from(u32::from(start) + rng.u32(0..255));
            let _ = writeln!(
                xml,
                "      <RANGE>\n        <START>{start}</START>\n        <END>{end}</END>\n      </RANGE>"
            );
        }
        xml.push_str("    </NETBLOCK>\n  </DOMAIN>\n");
    }
    xml.push_str("</DOMAIN_LIST>\n");
    xml
}

fn asset_groups(rng: &mut fastrand::Rng, count: u32, networks: u32) -> String {
    let mut xml = format!(
        "{HEADER}<ASSET_GROUP_LIST_OUTPUT>\n  <RESPONSE>\n    <DATETIME>2026-10-02T09:17:44Z</DATETIME>\n    <ASSET_GROUP_LIST>\n"
    );
    for id in 1..=count {
        let network = if networks > 1 { rng.u32(1..networks) * 7 } else { 0 };
        let _ = write!(
            xml,
            "      <ASSET_GROUP>\n        <ID>{}</ID>\n        <TITLE><![CDATA[Group {id} & Servers]]></TITLE>\n        \
             <NETWORK_ID>{network}</NETWORK_ID>\n        <BUSINESS_IMPACT>Medium</BUSINESS_IMPACT>\n        \
             <CVSS_ENVIRO_CDP>Low-Medium</CVSS_ENVIRO_CDP>\n        <COMMENTS><![CDATA[synthetic group {id}]]></COMMENTS>\n        <IP_SET>\n",
            100_000 + id
        );
        for _ in 0..rng.u32(1..6) {
            let start = u32::from(Ipv4Addr::new(10, 0, 0, 0)) + rng.u32(0..1 << 22);
            let _ = writeln!(
                xml,
                "          <IP_RANGE>{}-{}</IP_RANGE>",
                Ipv4Addr::from(start),
                Ipv4Addr::from(start + rng.u32(0..128))
            );
        }
        xml.push_str("        </IP_SET>\n      </ASSET_GROUP>\n");
    }
    xml.push_str("    </ASSET_GROUP_LIST>\n  </RESPONSE>\n</ASSET_GROUP_LIST_OUTPUT>\n");
    xml
}

fn users(rng: &mut fastrand::Rng, count: u32, groups: u32) -> String {
    let mut xml = format!("{HEADER}<USER_LIST_OUTPUT>\n  <USER_LIST>\n");
    for id in 1..=count {
        let role = if id % 3 == 0 { "Reader" } else { "Scanner" };
        let _ = write!(
            xml,
            "    <USER>\n      <USER_LOGIN>nwind_u{id}</USER_LOGIN>\n      <USER_ID>{}</USER_ID>\n      <CONTACT_INFO>\n        \
             <FIRSTNAME><![CDATA[First{id}]]></FIRSTNAME>\n        <LASTNAME><![CDATA[Last{id}]]></LASTNAME>\n        \
             <TITLE><![CDATA[Analyst]]></TITLE>\n        <PHONE><![CDATA[+1 617 555 0100]]></PHONE>\n        \
             <EMAIL><![CDATA[user{id}@northwind.example]]></EMAIL>\n        <ADDRESS1><![CDATA[100 Federal Street]]></ADDRESS1>\n        \
             <CITY><![CDATA[Boston]]></CITY>\n        <COUNTRY>United States of America</COUNTRY>\n        \
             <STATE>Massachusetts</STATE>\n        <ZIP_CODE><![CDATA[02110]]></ZIP_CODE>\n        \
             <TIME_ZONE_CODE><![CDATA[Auto]]></TIME_ZONE_CODE>\n      </CONTACT_INFO>\n      <ASSIGNED_ASSET_GROUPS>\n",
            200_000 + id
        );
        if groups > 0 {
            for _ in 0..rng.u32(1..4) {
                let _ = writeln!(
                    xml,
                    "        <ASSET_GROUP_TITLE><![CDATA[Group {} & Servers]]></ASSET_GROUP_TITLE>",
                    rng.u32(1..=groups)
                );
            }
        }
        let _ = write!(
            xml,
            "      </ASSIGNED_ASSET_GROUPS>\n      <USER_STATUS>Active</USER_STATUS>\n      <USER_ROLE>{role}</USER_ROLE>\n      \
             <BUSINESS_UNIT><![CDATA[Unassigned]]></BUSINESS_UNIT>\n    </USER>\n"
        );
    }
    xml.push_str("  </USER_LIST>\n</USER_LIST_OUTPUT>\n");
    xml
}

/// Trees of `levels` levels (1 + 4 + 16 + 64 tags for four), as one tag search response.
fn tags(count: u32, levels: u32) -> String {
    let per_tree = (4u32.pow(levels) - 1) / 3;
    let mut xml = format!(
        "{HEADER}<ServiceResponse xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:noNamespaceSchemaLocation=\"https://qualysapi.qg2.apps.qualys.com/qps/xsd/2.0/am/tag.xsd\">\n  \
         <responseCode>SUCCESS</responseCode>\n  <count>{count}</count>\n  <hasMoreRecords>false</hasMoreRecords>\n  <data>\n"
    );
    let base = 80_000_000;
    for index in 0..count {
        let (tree, position) = (index / per_tree, index % per_tree);
        let id = base + index;
        // Position 0 is the root; the children of position p are 4p+1 ..= 4p+4.
        let parent = (position > 0).then(|| base + tree * per_tree + (position - 1) / 4);
        let _ = write!(xml, "    <Tag>\n      <id>{id}</id>\n      <name>Tree {tree} node {position}</name>\n");
        if let Some(parent) = parent {
            let _ = writeln!(xml, "      <parentTagId>{parent}</parentTagId>");
        }
        let rule = if position % 5 == 4 { "NETWORK_RANGE" } else { "STATIC" };
        let _ = writeln!(xml, "      <ruleType>{rule}</ruleType>");
        if rule == "NETWORK_RANGE" {
            let _ = writeln!(
                xml,
                "      <ruleText>10.{}.0.0/24,10.{}.0.1-10.{}.0.9</ruleText>",
                position, position, position
            );
        }
        let children: Vec<u32> =
            (4 * position + 1..=4 * position + 4).filter(|c| *c < per_tree && tree * per_tree + c < count).collect();
        if !children.is_empty() {
            xml.push_str("      <children>\n        <list>\n");
            for child in children {
                let _ = writeln!(
                    xml,
                    "          <TagSimple><id>{}</id><name>Tree {tree} node {child}</name></TagSimple>",
                    base + tree * per_tree + child
                );
            }
            xml.push_str("        </list>\n      </children>\n");
        }
        xml.push_str("    </Tag>\n");
    }
    xml.push_str("  </data>\n</ServiceResponse>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_ip_list_runs_past_a_slash_nine_and_stops_before_multicast() {
        let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
        let (_, end) = ip_list(&mut fastrand::Rng::with_seed(7), 400_000, base, "IP", 0).expect("fits");
        assert!(end > base + (1 << 23), "400,000 entries span more than the old DNS offset");
        let near_the_end = u32::from(Ipv4Addr::new(223, 255, 255, 0));
        let refused = ip_list(&mut fastrand::Rng::with_seed(7), 100, near_the_end, "DNS", 0);
        assert!(refused.expect_err("past 223.255.255.255").to_string().contains("do not fit"));
    }
}
