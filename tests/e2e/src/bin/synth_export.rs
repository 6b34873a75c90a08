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
    for (module, compliance) in [("vm", 0), ("pc", 1)] {
        write(&format!("ip_list_{module}_ip.xml"), ip_list(&mut rng, args.ip_entries, "IP", compliance))?;
    }
    write("ip_list_vm_dns.xml", ip_list(&mut rng, args.ip_entries / 20, "DNS", 0))?;
    write("domains.xml", domains(&mut rng, args.domains))?;
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

/// Entries spread over 10.0.0.0/8 with overlaps between calls, as ranges and single addresses.
fn ip_list(rng: &mut fastrand::Rng, entries: u32, tracking: &str, compliance: u8) -> String {
    let mut xml = format!(
        "{HEADER}<IP_LIST_OUTPUT>\n  <REQUEST>\n    <PARAM_LIST>\n      \
         <PARAM><KEY>tracking_method</KEY><VALUE>{tracking}</VALUE></PARAM>\n      \
         <PARAM><KEY>compliance_enabled</KEY><VALUE>{compliance}</VALUE></PARAM>\n    \
         </PARAM_LIST>\n  </REQUEST>\n  <RESPONSE>\n    <DATETIME>2026-10-02T09:15:31Z</DATETIME>\n    <IP_SET>\n"
    );
    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0)) + if tracking == "IP" { 0 } else { 1 << 23 };
    let mut cursor = base;
    for _ in 0..entries {
        cursor += rng.u32(2..40);
        let length = if rng.u8(..) < 200 { 0 } else { rng.u32(1..64) };
        let (start, end) = (Ipv4Addr::from(cursor), Ipv4Addr::from(cursor + length));
        if length == 0 {
            let _ = writeln!(xml, "      <IP>{start}</IP>");
        } else {
            let _ = writeln!(xml, "      <IP_RANGE>{start}-{end}</IP_RANGE>");
        }
        cursor += length;
    }
    xml.push_str("    </IP_SET>\n  </RESPONSE>\n</IP_LIST_OUTPUT>\n");
    xml
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
