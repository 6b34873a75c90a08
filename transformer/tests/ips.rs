//! The IP task against an independent computation: for generated VM and PC lists of every
//! tracking method, the Add IPs requests cover each listed address exactly once per module, with
//! the right module flags and tracking method, and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::Ipv4Addr;

use proptest::prelude::*;
use qmig_schemas::{Request, Value};

const TRACKINGS: [&str; 3] = ["IP", "DNS", "NETBIOS"];

/// A list as generated: entries are offsets into a small address space, so lists overlap often.
#[derive(Debug, Clone)]
struct List {
    pc: bool,
    tracking: usize,
    entries: Vec<(u32, u32)>,
    echo: bool,
}

fn list() -> impl Strategy<Value = List> {
    let entry = (0u32..300, 0u32..6).prop_map(|(start, len)| (start, start + len));
    (any::<bool>(), 0usize..3, prop::collection::vec(entry, 1..25), any::<bool>())
        .prop_map(|(pc, tracking, entries, echo)| List { pc, tracking, entries, echo })
}

const BASE: u32 = 0x0a00_0000; // 10.0.0.0

fn address(offset: u32) -> String {
    Ipv4Addr::from(BASE + offset).to_string()
}

fn render(list: &List) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<IP_LIST_OUTPUT>\n");
    if list.echo {
        xml.push_str(&format!(
            "  <REQUEST><PARAM_LIST><PARAM><KEY>tracking_method</KEY><VALUE>{}</VALUE></PARAM>\
             <PARAM><KEY>compliance_enabled</KEY><VALUE>{}</VALUE></PARAM></PARAM_LIST></REQUEST>\n",
            TRACKINGS[list.tracking],
            u8::from(list.pc)
        ));
    }
    xml.push_str("  <RESPONSE>\n    <IP_SET>\n");
    for &(start, end) in &list.entries {
        if start == end {
            xml.push_str(&format!("      <IP>{}</IP>\n", address(start)));
        } else {
            xml.push_str(&format!("      <IP_RANGE>{}-{}</IP_RANGE>\n", address(start), address(end)));
        }
    }
    xml.push_str("    </IP_SET>\n  </RESPONSE>\n</IP_LIST_OUTPUT>\n");
    xml
}

fn addresses_of(value: &Value) -> Vec<u32> {
    let Value::Text(text) = value else { panic!("ips is plain text") };
    text.split(',')
        .flat_map(|entry| {
            let (start, end) = entry.split_once('-').unwrap_or((entry, entry));
            let start = u32::from(start.parse::<Ipv4Addr>().expect("address"));
            let end = u32::from(end.parse::<Ipv4Addr>().expect("address"));
            assert!(start <= end);
            start..=end
        })
        .collect()
}

fn param<'a>(request: &'a Request, name: &str) -> &'a Value {
    &request.params.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("{name} missing")).value
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_listed_address_is_added_once_per_module(lists in prop::collection::vec(list(), 1..6), per_request in 1usize..12) {
        // One tracking method per address: a host is tracked one way (conflicts are tested apart).
        let mut tracking_of: BTreeMap<u32, usize> = BTreeMap::new();
        let lists: Vec<List> = lists.into_iter().map(|mut l| {
            l.entries.retain(|&(s, e)| (s..=e).all(|a| *tracking_of.entry(a).or_insert(l.tracking) == l.tracking));
            l
        }).filter(|l| !l.entries.is_empty()).collect();
        prop_assume!(!lists.is_empty());

        let export = tempfile::tempdir().expect("tempdir");
        for (index, list) in lists.iter().enumerate() {
            let module = if list.pc { "pc" } else { "vm" };
            let tracking = TRACKINGS[list.tracking].to_ascii_lowercase();
            // Echoed lists get names that say nothing, to prove the echo is what counts.
            let name = if list.echo { format!("capture_{index}.xml") } else { format!("ip_list_{module}_{tracking}_{index}.xml") };
            fs::write(export.path().join(name), render(list)).expect("write");
        }
        let args = qmig_transform::cli::BundleArgs {
            ips_per_request: per_request,
            ..qmig_transform::cli::BundleArgs::new(export.path(), export.path().join("unused"))
        };
        let contents = qmig_transform::build(&args).expect("transforms");

        // Expected: per (tracking, module), the union of the listed addresses.
        let mut expected: BTreeMap<(String, &str), BTreeSet<u32>> = BTreeMap::new();
        for list in &lists {
            let module = if list.pc { "pc" } else { "vm" };
            let set = expected.entry((TRACKINGS[list.tracking].to_owned(), module)).or_default();
            for &(s, e) in &list.entries {
                set.extend((s..=e).map(|o| BASE + o));
            }
        }
        let mut added: BTreeMap<(String, &str), Vec<u32>> = BTreeMap::new();
        for request in contents.manifest.requests.iter().filter(|r| r.task == "IPs") {
            prop_assert_eq!(param(request, "action"), &Value::Text("add".into()));
            let Value::Text(tracking) = param(request, "tracking_method") else { panic!("text") };
            let entries = match param(request, "ips") { Value::Text(t) => t.split(',').count(), Value::Parts(_) => 0 };
            prop_assert!(entries <= per_request);
            let addresses = addresses_of(param(request, "ips"));
            for (module, flag) in [("vm", "enable_vm"), ("pc", "enable_pc")] {
                if param(request, flag) == &Value::Text("1".into()) {
                    added.entry((tracking.clone(), module)).or_default().extend(&addresses);
                }
            }
        }
        for (key, addresses) in &added {
            let unique: BTreeSet<u32> = addresses.iter().copied().collect();
            prop_assert_eq!(unique.len(), addresses.len(), "{:?}: an address is added twice", key);
        }
        let added: BTreeMap<(String, &str), BTreeSet<u32>> =
            added.into_iter().map(|(k, v)| (k, v.into_iter().collect())).collect();
        prop_assert_eq!(added, expected);
    }
}

#[test]
fn an_address_under_two_tracking_methods_is_refused_naming_both_lists() {
    let export = tempfile::tempdir().expect("tempdir");
    let ip = List { pc: false, tracking: 0, entries: vec![(1, 9)], echo: false };
    let dns = List { pc: true, tracking: 1, entries: vec![(20, 20), (5, 5)], echo: false };
    fs::write(export.path().join("ip_list_vm_ip.xml"), render(&ip)).expect("write");
    fs::write(export.path().join("ip_list_pc_dns.xml"), render(&dns)).expect("write");
    let args = qmig_transform::cli::BundleArgs {
        ips_per_request: 100,
        ..qmig_transform::cli::BundleArgs::new(export.path(), export.path().join("unused"))
    };
    let message = qmig_transform::build(&args).expect_err("conflict").to_string();
    assert!(message.contains("10.0.0.5"), "{message}");
    assert!(message.contains("ip_list_vm_ip.xml:5") && message.contains("ip_list_pc_dns.xml:6"), "{message}");
}
