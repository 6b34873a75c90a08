//! Seeding from an export directory and exporting back.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use qualys_sim::Config;
use xmltree::{Element, XMLNode};

use crate::common::{child, config, files, populate, samples, start, text};

/// Every XML document under `dir`, recursively, with its path.
fn documents(dir: &Path) -> Vec<(PathBuf, Element)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).expect("directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(documents(&path));
        } else if path.extension().is_some_and(|e| e == "xml") {
            let doc = Element::parse(fs::read(&path).expect("file").as_slice())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((path, doc));
        }
    }
    out
}

fn elements(el: &Element) -> impl Iterator<Item = &Element> {
    el.children.iter().filter_map(XMLNode::as_element)
}

/// Every address of an `IP_SET` (or of any list of `IP`/`IP_RANGE`), so that groupings compare equal.
fn addresses(set: &Element) -> String {
    let mut out: Vec<u32> = Vec::new();
    for e in elements(set) {
        let value = text(e, &[]);
        let (a, b) = value.split_once('-').unwrap_or((&value, &value));
        let (a, b): (Ipv4Addr, Ipv4Addr) = (a.parse().expect("IPv4"), b.parse().expect("IPv4"));
        out.extend(u32::from(a)..=u32::from(b));
    }
    out.sort_unstable();
    format!("{out:?}")
}

/// A field as a comparable string: name, attributes, text and sub-fields in order.
fn canonical(el: &Element) -> String {
    if el.name == "IP_SET" {
        return format!("IP_SET{}", addresses(el));
    }
    let attrs: Vec<String> = el.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let children: Vec<String> = elements(el).map(canonical).collect();
    let own = el.get_text().map(|t| t.trim().to_owned()).unwrap_or_default();
    format!("{}[{}]{{{}|{}}}", el.name, attrs.join(","), own, children.join(";"))
}

/// Where the objects of each kind of document are, and what identifies one.
fn layout(root: &str) -> Option<(Vec<&'static str>, String, Vec<&'static str>)> {
    let (list, item, key): (Vec<&str>, &str, Vec<&str>) = match root {
        "NETWORK_LIST_OUTPUT" => (vec!["RESPONSE", "NETWORK_LIST"], "NETWORK", vec!["ID"]),
        "APPLIANCE_LIST_OUTPUT" => (vec!["RESPONSE", "APPLIANCE_LIST"], "APPLIANCE", vec!["ID"]),
        "ASSET_GROUP_LIST_OUTPUT" => (vec!["RESPONSE", "ASSET_GROUP_LIST"], "ASSET_GROUP", vec!["ID"]),
        "DOMAIN_LIST" => (vec![], "DOMAIN", vec!["DOMAIN_ID"]),
        "USER_LIST_OUTPUT" => (vec!["USER_LIST"], "USER", vec!["USER_ID"]),
        "USER_PREFS_OUTPUT" => (vec!["RESPONSE"], "USER_PREFS", vec!["USER_ID"]),
        "IP_MAP_LIST_OUTPUT" => (vec!["RESPONSE", "IP_MAP_LIST"], "IP_MAP", vec!["ID"]),
        "VIRTUAL_HOST_LIST_OUTPUT" => {
            (vec!["RESPONSE", "VIRTUAL_HOST_LIST"], "VIRTUAL_HOST", vec!["NETWORK_ID", "IP", "PORT"])
        }
        "STATIC_SEARCH_LIST_OUTPUT" => (vec!["RESPONSE", "STATIC_LISTS"], "STATIC_LIST", vec!["ID"]),
        "DYNAMIC_SEARCH_LIST_OUTPUT" => (vec!["RESPONSE", "DYNAMIC_LISTS"], "DYNAMIC_LIST", vec!["ID"]),
        "REPORT_TEMPLATE_LIST" => (vec![], "REPORT_TEMPLATE", vec!["ID"]),
        "OPTION_PROFILES" => (vec![], "OPTION_PROFILE", vec!["BASIC_INFO"]),
        "SCHEDULE_SCAN_LIST_OUTPUT" => (vec!["RESPONSE", "SCHEDULE_SCAN_LIST"], "SCAN", vec!["ID"]),
        "POLICY_LIST_OUTPUT" => (vec!["RESPONSE", "POLICY_LIST"], "POLICY", vec!["ID"]),
        "POLICY_EXPORT_OUTPUT" => (vec!["RESPONSE"], "POLICY", vec!["TITLE"]),
        "ServiceResponse" => (vec!["data"], "Tag", vec!["id"]),
        "AUTH_VAULT_LIST_OUTPUT" => (vec!["RESPONSE", "AUTH_VAULTS"], "AUTH_VAULT", vec!["ID"]),
        auth if auth.starts_with("AUTH_") && auth.ends_with("_LIST_OUTPUT") => {
            let record = auth.trim_end_matches("_LIST_OUTPUT");
            return Some((vec!["RESPONSE"], format!("{record}_LIST/{record}"), vec!["ID"]));
        }
        _ => return None,
    };
    Some((list, item.to_owned(), key))
}

/// Every object of an export directory: (kind, identity) → its fields, order aside.
fn objects(dir: &Path) -> BTreeMap<(String, String), Vec<String>> {
    let mut out = BTreeMap::new();
    for (path, doc) in documents(dir) {
        let file = path.file_name().expect("a name").to_string_lossy().into_owned();
        match doc.name.as_str() {
            // Module and tracking method come from the echoed request, or else the file name.
            "IP_LIST_OUTPUT" => {
                let echoed: BTreeMap<String, String> = doc
                    .get_child("REQUEST")
                    .map(|r| {
                        elements(child(r, &["PARAM_LIST"])).map(|p| (text(p, &["KEY"]), text(p, &["VALUE"]))).collect()
                    })
                    .unwrap_or_default();
                let named: Vec<&str> = file.trim_end_matches(".xml").split('_').skip(2).collect();
                let module = echoed.get("compliance_enabled").map_or(named[0], |c| if c == "1" { "pc" } else { "vm" });
                let tracking = echoed.get("tracking_method").map_or(named[1].to_owned(), |t| t.to_ascii_lowercase());
                let set =
                    doc.get_child("RESPONSE").and_then(|r| r.get_child("IP_SET")).map(addresses).unwrap_or_default();
                out.insert(("IP_LIST".into(), format!("{module} {tracking}")), vec![set]);
            }
            // The inventory only counts the records of the per-type lists, compared below.
            "AUTH_LIST_OUTPUT" => {}
            "RECORD" => {
                out.insert(("RECORD".into(), String::new()), vec![canonical(&doc)]);
            }
            // One template per child, whatever its type; identified by type and title.
            "REPORTTEMPLATE" => {
                for template in elements(&doc) {
                    let mut fields: Vec<String> = elements(template).map(canonical).collect();
                    fields.sort();
                    out.insert(
                        (
                            "REPORTTEMPLATE".into(),
                            format!("{} {}", template.name, canonical(child(template, &["TITLE"]))),
                        ),
                        fields,
                    );
                }
            }
            root => {
                let (list, item, key) =
                    layout(root).unwrap_or_else(|| panic!("{file}: no comparison for {root} documents"));
                let (item_path, item_name) =
                    item.rsplit_once('/').map_or((vec![], item.as_str()), |(p, n)| (vec![p], n));
                let holder = child(&doc, &[list, item_path].concat());
                for object in elements(holder).filter(|e| e.name == item_name) {
                    let id: Vec<String> = key.iter().map(|k| canonical(child(object, &[k]))).collect();
                    let mut fields: Vec<String> = elements(object).map(canonical).collect();
                    fields.sort();
                    out.insert((root.to_owned(), id.join(" ")), fields);
                }
            }
        }
    }
    out
}

#[test]
fn the_sample_export_comes_back_field_for_field() {
    let (sim, _c) = start(Config { seed: Some(samples()), ..config() });
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("export");
    sim.export(&out).expect("export");
    let (seeded, exported) = (objects(&samples()), objects(&out));
    for (key, fields) in &seeded {
        let back = exported.get(key).unwrap_or_else(|| panic!("{key:?} is missing from the export"));
        assert_eq!(back, fields, "{key:?}");
    }
    assert!(seeded.keys().any(|(kind, _)| kind == "IP_LIST") && seeded.len() > 20, "the samples cover several kinds");
    let newest = documents(&samples())
        .iter()
        .filter_map(|(_, doc)| doc.get_child("RESPONSE").and_then(|r| r.get_child("DATETIME")).map(|d| text(d, &[])))
        .max()
        .expect("the samples carry DATETIMEs");
    let networks = Element::parse(fs::read(out.join("networks.xml")).expect("networks.xml").as_slice()).expect("XML");
    assert_eq!(text(&networks, &["RESPONSE", "DATETIME"]), newest, "the seed's clock");
}

#[test]
fn the_same_state_exports_the_same_bytes_and_seeds_back_identically() {
    let (sim, c) = start(config());
    populate(&c);
    let dir = tempfile::tempdir().expect("temp dir");
    let (first, second, third) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
    sim.export(&first).expect("export");
    sim.export(&second).expect("export");
    assert_eq!(files(&first), files(&second));
    assert!(sim.export(&first).is_err(), "an export never mixes with older files");

    let (reseeded, _c) = start(Config { seed: Some(first.clone()), ..config() });
    reseeded.export(&third).expect("export");
    let (before, after) = (files(&first), files(&third));
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (name, bytes) in &before {
        assert_eq!(String::from_utf8_lossy(bytes), String::from_utf8_lossy(&after[name]), "{name}");
    }
    assert!(before.contains_key("auth_records_unix.xml") && before.contains_key("report_templates_scan.xml"));
    assert_eq!(reseeded.counters().objects, sim.counters().objects);
}

#[test]
fn seeding_skips_unknown_documents_and_refuses_broken_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(dir.path().join("hosts.xml"), "<HOST_LIST_OUTPUT><RESPONSE/></HOST_LIST_OUTPUT>").expect("write");
    fs::write(dir.path().join("notes.txt"), "not XML at all").expect("write");
    let (sim, _c) = start(Config { seed: Some(dir.path().to_owned()), ..config() });
    assert_eq!(sim.stop().skipped_seed_files, ["hosts.xml"]);

    fs::write(dir.path().join("networks.xml"), "<NETWORK_LIST_OUTPUT><RESPONSE>").expect("write");
    let err = qualys_sim::start(Config { seed: Some(dir.path().to_owned()), ..config() }).err().expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("networks.xml"), "{err}");
}
