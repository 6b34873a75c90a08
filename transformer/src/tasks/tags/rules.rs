//! Tag rules as the target takes them.
//!
//! - `NETWORK_RANGE`: since API release 3.14 the target stores the list normalised, so qmig
//!   writes it that way and reconcile compares like with like. The form: entries joined by `,`
//!   without spaces; IPv4 entries first, then IPv6, each in increasing address order; a single
//!   address as itself, anything longer as `first-last` (CIDR blocks expanded to that range);
//!   overlapping, adjacent and consecutive entries merged, duplicates dropped. The release
//!   notes' example, `10.0.0.0,10.0.0.1,…,10.0.0.5,10.200.0.20,10.15.0.5,…,10.15.0.9,` becomes
//!   `10.0.0.0-10.0.0.5,10.15.0.5-10.15.0.9,10.200.0.20`. A list qmig cannot read is sent as
//!   it is and flagged.
//! - Every other engine (`GLOBAL_ASSET_VIEW` QQL, `GROOVY`, `NETWORK_RANGE_ENHANCED`,
//!   `ASSET_SEARCH`, ...) is carried over as written, except for the IDs it embeds: a network,
//!   asset group or tag named by an attribute or element such as `network="…"`,
//!   `<NETWORK_ID>…</NETWORK_ID>`, `assetGroupIds="…"` or `<tagId>…</tagId>` is replaced by
//!   the target's ID when an earlier task knows it. An ID no task knows, a UUID (networks in
//!   `NETWORK_RANGE_ENHANCED` rules are named by UUID, which no export lists), or a mention of
//!   networks, asset groups or business units that is not such a reference is sent as written
//!   and flagged, never copied silently.

use std::ops::Range;

use qmig_schemas::{Segment, Value};

use crate::plan::{RefKind, Refs, join_segments};
use crate::ranges::{IpEntry, IpSet, parse_entry};

pub const STATIC: &str = "STATIC";
pub const GROOVY: &str = "GROOVY";
pub const NETWORK_RANGE: &str = "NETWORK_RANGE";
pub const TAGSET: &str = "TAGSET";

/// Engines whose text is plain data (names, patterns, ports, QIDs): a word like "network" in
/// them is data, not a reference.
const PLAIN_TEXT_ENGINES: &[&str] =
    &[STATIC, NETWORK_RANGE, "NAME_CONTAINS", "OS_REGEX", "INSTALLED_SOFTWARE", "OPEN_PORTS", "VULN_EXIST"];

/// Attribute and element names (compared without case, `_` and `-`) whose value holds IDs.
const REFERENCE_NAMES: &[(&str, RefKind)] = &[
    ("network", RefKind::Network),
    ("networkid", RefKind::Network),
    ("networkids", RefKind::Network),
    ("assetgroupid", RefKind::AssetGroup),
    ("assetgroupids", RefKind::AssetGroup),
    ("tagid", RefKind::Tag),
    ("tagids", RefKind::Tag),
];

/// Words (compared without case, spaces, `_`, `-` and `.`) that reveal a reference to an
/// object whose ID differs in the target.
const MENTIONS: &[(&str, &str)] =
    &[("network", "networks"), ("assetgroup", "asset groups"), ("businessunit", "business units")];

/// A rule as it will be sent, and what the review must say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    /// The rule text, with target IDs (captured ones as references) in place of source IDs.
    pub text: Vec<Segment>,
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A `NETWORK_RANGE` list rewritten in the normalised form; the source's text.
    Normalised { original: String, normalised: String },
    /// A `NETWORK_RANGE` list qmig could not read, sent as it is.
    NotNormalised { problem: String },
    /// An embedded ID qmig cannot map, sent as it is.
    Unmapped { kind: RefKind, value: String },
    /// The text mentions such objects, but not in a form qmig recognises as a reference.
    Mentions { what: &'static str },
}

/// Carries a tag's rule text over to the target.
pub fn carry(rule_type: &str, text: &str, refs: &Refs) -> Carried {
    if rule_type == NETWORK_RANGE {
        return match normalise_network_range(text) {
            Ok(normalised) if normalised == text => {
                Carried { text: vec![Segment::Text(normalised)], notes: Vec::new() }
            }
            Ok(normalised) => Carried {
                text: vec![Segment::Text(normalised.clone())],
                notes: vec![Note::Normalised { original: text.to_owned(), normalised }],
            },
            Err(problem) => {
                Carried { text: vec![Segment::Text(text.to_owned())], notes: vec![Note::NotNormalised { problem }] }
            }
        };
    }
    let mut parts = Vec::new();
    let mut notes = Vec::new();
    // What is left once recognised references are cut out, to look for other mentions in.
    let mut unexplained = String::new();
    let (mut copied, mut explained) = (0, 0);
    let references = find_references(text);
    let names_tags = references.iter().any(|r| r.kind == RefKind::Tag);
    for reference in references {
        parts.push(Segment::Text(text[copied..reference.value.start].to_owned()));
        unexplained.push_str(&text[explained..reference.span.start]);
        remap(&text[reference.value.clone()], reference.kind, refs, &mut parts, &mut notes);
        copied = reference.value.end;
        explained = reference.span.end;
    }
    parts.push(Segment::Text(text[copied..].to_owned()));
    unexplained.push_str(&text[explained..]);
    if !PLAIN_TEXT_ENGINES.contains(&rule_type) {
        let folded = fold(&unexplained);
        notes.extend(
            MENTIONS.iter().filter(|(word, _)| folded.contains(word)).map(|&(_, what)| Note::Mentions { what }),
        );
        // A tag set is made of other tags: if none is named in a form qmig recognises, the
        // reviewer must check how it refers to them.
        if rule_type == TAGSET && !names_tags {
            notes.push(Note::Mentions { what: "other tags" });
        }
    }
    let text = match join_segments(parts, "") {
        Value::Text(text) => vec![Segment::Text(text)],
        Value::Parts(parts) => parts,
    };
    Carried { text, notes }
}

/// A `NETWORK_RANGE` list in the form the target stores it (see the module documentation).
/// Entries may be separated by commas, semicolons or white space; `a - b` and `a / 24` are
/// read as one entry; empty entries (a trailing comma) are ignored.
pub fn normalise_network_range(text: &str) -> Result<String, String> {
    let mut entries = Vec::new();
    for piece in text.split([',', ';']) {
        for entry in entry_texts(piece) {
            entries.push(parse_entry(&entry)?);
        }
    }
    if entries.is_empty() {
        return Err("the list holds no address".to_owned());
    }
    let set = IpSet::from_entries(&entries);
    Ok(set.entries().iter().map(IpEntry::render).collect::<Vec<_>>().join(","))
}

/// Splits a comma-free piece on white space, gluing `-` and `/` to both their neighbours.
fn entry_texts(piece: &str) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    let mut glue = false;
    for word in piece.split_whitespace() {
        match texts.last_mut() {
            Some(last) if glue || word.starts_with(['-', '/']) => last.push_str(word),
            _ => texts.push(word.to_owned()),
        }
        glue = word.ends_with(['-', '/']);
    }
    texts
}

/// Replaces each ID of a comma-separated value, keeping separators and spacing as written.
fn remap(value: &str, kind: RefKind, refs: &Refs, parts: &mut Vec<Segment>, notes: &mut Vec<Note>) {
    for (index, item) in value.split(',').enumerate() {
        if index > 0 {
            parts.push(Segment::Text(",".to_owned()));
        }
        let id = item.trim();
        let lead = item.len() - item.trim_start().len();
        parts.push(Segment::Text(item[..lead].to_owned()));
        let numeric = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
        match refs.get(kind, id).filter(|_| numeric) {
            Some(target) => parts.push(target.segment()),
            None => {
                // A name (a network's NAME) is the same in the target; only IDs and UUIDs differ.
                if numeric || is_uuid(id) {
                    notes.push(Note::Unmapped { kind, value: id.to_owned() });
                }
                parts.push(Segment::Text(id.to_owned()));
            }
        }
        parts.push(Segment::Text(item[lead + id.len()..].to_owned()));
    }
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn fold(text: &str) -> String {
    text.chars().filter(|c| !matches!(c, ' ' | '_' | '-' | '.')).flat_map(char::to_lowercase).collect()
}

/// An embedded reference: where it is written (`name="value"` or `<name>value</name>`), where
/// its value is, and what it refers to.
#[derive(Debug, PartialEq, Eq)]
struct Reference {
    span: Range<usize>,
    value: Range<usize>,
    kind: RefKind,
}

/// Finds references by scanning, not parsing: rule texts are often fragments, not documents.
fn find_references(text: &str) -> Vec<Reference> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let starts_name = is_name_byte(bytes[at]) && (at == 0 || !is_name_byte(bytes[at - 1]));
        let reference = if bytes[at] == b'<' {
            element_at(text, at)
        } else if starts_name {
            attribute_at(text, at)
        } else {
            None
        };
        match reference {
            Some(reference) => {
                at = reference.span.end;
                found.push(reference);
            }
            None => at += 1,
        }
    }
    found
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

fn name_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..].iter().position(|&b| !is_name_byte(b)).map_or(bytes.len(), |n| start + n)
}

fn reference_kind(name: &str) -> Option<RefKind> {
    let folded: String = name.chars().filter(|c| !matches!(c, '_' | '-')).flat_map(char::to_lowercase).collect();
    REFERENCE_NAMES.iter().find(|(known, _)| *known == folded).map(|&(_, kind)| kind)
}

fn skip_spaces(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// `name = "value"` or `name='value'` starting at `start`.
fn attribute_at(text: &str, start: usize) -> Option<Reference> {
    let bytes = text.as_bytes();
    let end = name_end(bytes, start);
    let kind = reference_kind(&text[start..end])?;
    let equals = skip_spaces(bytes, end);
    if bytes.get(equals) != Some(&b'=') {
        return None;
    }
    let open = skip_spaces(bytes, equals + 1);
    let quote = *bytes.get(open).filter(|&&q| q == b'"' || q == b'\'')?;
    let close = open + 1 + bytes[open + 1..].iter().position(|&b| b == quote)?;
    Some(Reference { span: start..close + 1, value: open + 1..close, kind })
}

/// `<name>value</name>` starting at `start` (the `<`).
fn element_at(text: &str, start: usize) -> Option<Reference> {
    let bytes = text.as_bytes();
    let name_start = start + 1;
    let end = name_end(bytes, name_start);
    if end == name_start || bytes.get(end) != Some(&b'>') {
        return None;
    }
    let name = &text[name_start..end];
    let kind = reference_kind(name)?;
    let value_start = end + 1;
    let value_end = value_start + bytes[value_start..].iter().position(|&b| b == b'<')?;
    let closing = format!("</{name}>");
    text[value_end..].starts_with(&closing).then(|| Reference {
        span: start..value_end + closing.len(),
        value: value_start..value_end,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::net::Ipv4Addr;

    use proptest::prelude::*;

    use super::*;
    use crate::plan::Target;

    fn normalised(text: &str) -> String {
        normalise_network_range(text).expect("a valid list")
    }

    #[test]
    fn the_release_notes_example_is_normalised_as_the_target_stores_it() {
        let text = "10.0.0.0,10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5,10.200.0.20,10.15.0.5,10.15.0.6,\
                    10.15.0.7,10.15.0.8,10.15.0.9,";
        assert_eq!(normalised(text), "10.0.0.0-10.0.0.5,10.15.0.5-10.15.0.9,10.200.0.20");
    }

    #[test]
    fn addresses_are_ordered_numerically_not_as_text() {
        assert_eq!(normalised("10.0.0.10,10.0.0.9,9.255.255.255"), "9.255.255.255,10.0.0.9-10.0.0.10");
        assert_eq!(normalised("192.168.1.200, 192.168.1.20"), "192.168.1.20,192.168.1.200");
    }

    #[test]
    fn adjacent_and_overlapping_ranges_merge_and_duplicates_drop() {
        assert_eq!(normalised("10.0.0.1-10.0.0.5,10.0.0.6-10.0.0.8"), "10.0.0.1-10.0.0.8");
        assert_eq!(normalised("10.0.0.1-10.0.0.5,10.0.0.3-10.0.0.9,10.0.0.4"), "10.0.0.1-10.0.0.9");
        assert_eq!(normalised("10.0.0.7,10.0.0.7,10.0.0.7"), "10.0.0.7");
        assert_eq!(normalised("10.0.0.1-10.0.0.5,10.0.0.7"), "10.0.0.1-10.0.0.5,10.0.0.7");
    }

    #[test]
    fn cidr_blocks_are_expanded_to_ranges() {
        assert_eq!(normalised("10.1.0.0/24"), "10.1.0.0-10.1.0.255");
        assert_eq!(normalised("10.1.0.0/24,10.1.1.0/24"), "10.1.0.0-10.1.1.255");
        assert_eq!(normalised("10.1.0.5/32"), "10.1.0.5");
        assert_eq!(normalised("10.1.0.77/30"), "10.1.0.76-10.1.0.79");
    }

    #[test]
    fn separators_and_spacing_are_tolerated() {
        assert_eq!(
            normalised(" 10.0.0.3 ;10.0.0.1\n10.0.0.2 - 10.0.0.2,, 172.16.0.0 / 31 "),
            "10.0.0.1-10.0.0.3,172.16.0.0-172.16.0.1"
        );
    }

    #[test]
    fn ipv6_follows_ipv4() {
        assert_eq!(normalised("2001:db8::2,10.0.0.1,2001:db8::1"), "10.0.0.1,2001:db8::1-2001:db8::2");
    }

    #[test]
    fn an_unreadable_list_is_sent_as_written_and_flagged() {
        let carried = carry(NETWORK_RANGE, "10.0.0.1,10.0.0.*", &Refs::default());
        assert_eq!(carried.text, [Segment::Text("10.0.0.1,10.0.0.*".into())]);
        assert!(matches!(&carried.notes[..], [Note::NotNormalised { problem }] if problem.contains("10.0.0.*")));
        assert!(normalise_network_range(" , ").is_err());
    }

    #[test]
    fn a_list_already_normalised_has_no_note() {
        let carried = carry(NETWORK_RANGE, "10.0.0.1-10.0.0.4", &Refs::default());
        assert!(carried.notes.is_empty());
        let changed = carry(NETWORK_RANGE, "10.0.0.2,10.0.0.1", &Refs::default());
        assert_eq!(
            changed.notes,
            [Note::Normalised { original: "10.0.0.2,10.0.0.1".into(), normalised: "10.0.0.1-10.0.0.2".into() }]
        );
    }

    fn refs() -> Refs {
        let mut refs = Refs::default();
        refs.set(RefKind::Network, "1103", Target::Known("2201".into()));
        refs.set(RefKind::Network, "1104", Target::Captured("network/DMZ#id".into()));
        refs.set(RefKind::AssetGroup, "77", Target::Captured("asset-group/Web#id".into()));
        refs.set(RefKind::Tag, "5", Target::Captured("tag/Linux#id".into()));
        refs
    }

    #[test]
    fn embedded_network_and_asset_group_ids_are_remapped() {
        let text = r#"<RANGES><RANGE network="1103" type="IP">10.0.0.0-10.0.0.9</RANGE><RANGE network='1104'>10.1.0.1</RANGE></RANGES>"#;
        let carried = carry("NETWORK_RANGE_ENHANCED", text, &refs());
        assert!(carried.notes.is_empty(), "{:?}", carried.notes);
        assert_eq!(
            carried.text,
            [
                Segment::Text(
                    r#"<RANGES><RANGE network="2201" type="IP">10.0.0.0-10.0.0.9</RANGE><RANGE network='"#.into()
                ),
                Segment::Capture("network/DMZ#id".into()),
                Segment::Text("'>10.1.0.1</RANGE></RANGES>".into()),
            ]
        );
        let carried = carry("ASSET_SEARCH", "<ASSET_GROUP_IDS>77, 78</ASSET_GROUP_IDS>", &refs());
        assert_eq!(
            carried.text,
            [
                Segment::Text("<ASSET_GROUP_IDS>".into()),
                Segment::Capture("asset-group/Web#id".into()),
                Segment::Text(", 78</ASSET_GROUP_IDS>".into()),
            ]
        );
        assert_eq!(carried.notes, [Note::Unmapped { kind: RefKind::AssetGroup, value: "78".into() }]);
    }

    #[test]
    fn network_uuids_are_flagged_and_names_kept() {
        let text = r#"<RANGES><RANGE network="6b48277c-0742-61c1-82bb-cac0f9c4094a" type="IP">0.0.0.0-255.255.255.255</RANGE></RANGES>"#;
        let carried = carry("NETWORK_RANGE_ENHANCED", text, &refs());
        assert_eq!(carried.text, [Segment::Text(text.into())]);
        assert_eq!(
            carried.notes,
            [Note::Unmapped { kind: RefKind::Network, value: "6b48277c-0742-61c1-82bb-cac0f9c4094a".into() }]
        );
        let named = carry("NETWORK_RANGE_ENHANCED", "<NETWORK>Corp East</NETWORK>", &refs());
        assert!(named.notes.is_empty(), "{:?}", named.notes);
    }

    #[test]
    fn other_mentions_are_flagged_only_where_text_is_code_or_query() {
        let qql = carry("GLOBAL_ASSET_VIEW", "operatingSystem.category1:`Windows`", &refs());
        assert!(qql.notes.is_empty());
        assert_eq!(qql.text, [Segment::Text("operatingSystem.category1:`Windows`".into())]);
        let groovy = carry(GROOVY, "return asset.getNetworkId() == 1103", &refs());
        assert_eq!(groovy.notes, [Note::Mentions { what: "networks" }]);
        let name = carry("NAME_CONTAINS", "network-printer", &refs());
        assert!(name.notes.is_empty());
        let tagset = carry(TAGSET, "<TAG_ID_LIST>5</TAG_ID_LIST>", &refs());
        assert_eq!(tagset.notes, [Note::Mentions { what: "other tags" }]);
        let tagset = carry(TAGSET, "<tagId>5</tagId>", &refs());
        assert_eq!(tagset.text[1], Segment::Capture("tag/Linux#id".into()));
        assert!(tagset.notes.is_empty());
    }

    #[test]
    fn unicode_around_references_is_kept() {
        let text = "Zürich <networkId>1103</networkId> — 東京";
        let carried = carry("ASSET_SEARCH", text, &refs());
        assert_eq!(carried.text, [Segment::Text("Zürich <networkId>2201</networkId> — 東京".into())]);
    }

    /// One entry as an operator might write it, and the addresses it covers.
    fn entry() -> impl Strategy<Value = (String, u32, u32)> {
        let base = 0x0a00_0000u32;
        prop_oneof![
            (0u32..300).prop_map(move |a| (Ipv4Addr::from(base + a).to_string(), base + a, base + a)),
            (0u32..300, 0u32..20).prop_map(move |(a, len)| {
                let (start, end) = (base + a, base + a + len);
                (format!("{}-{}", Ipv4Addr::from(start), Ipv4Addr::from(end)), start, end)
            }),
            (0u32..300, 28u32..=32).prop_map(move |(a, prefix)| {
                let mask = u32::MAX << (32 - prefix);
                let start = (base + a) & mask;
                (format!("{}/{prefix}", Ipv4Addr::from(base + a)), start, start | !mask)
            }),
        ]
    }

    /// The normalised form computed independently: runs of consecutive addresses.
    fn expected(addresses: &BTreeSet<u32>) -> String {
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for &address in addresses {
            match runs.last_mut() {
                Some((_, end)) if *end + 1 == address => *end = address,
                _ => runs.push((address, address)),
            }
        }
        let render = |(a, b): (u32, u32)| {
            if a == b { Ipv4Addr::from(a).to_string() } else { format!("{}-{}", Ipv4Addr::from(a), Ipv4Addr::from(b)) }
        };
        runs.into_iter().map(render).collect::<Vec<_>>().join(",")
    }

    proptest! {
        #[test]
        fn normalisation_covers_exactly_the_listed_addresses_in_canonical_form(
            entries in prop::collection::vec(entry(), 1..25),
            separators in prop::collection::vec(prop::sample::select(vec![",", ", ", " ", ";", "\n", ",,"]), 25),
            trailing in any::<bool>(),
        ) {
            let mut text = String::new();
            for (index, (written, _, _)) in entries.iter().enumerate() {
                if index > 0 {
                    text.push_str(separators[index]);
                }
                text.push_str(written);
            }
            if trailing {
                text.push(',');
            }
            let addresses: BTreeSet<u32> = entries.iter().flat_map(|&(_, a, b)| a..=b).collect();
            let result = normalise_network_range(&text).expect("valid entries");
            prop_assert_eq!(&result, &expected(&addresses));
            // What the target stores reads back unchanged.
            prop_assert_eq!(normalise_network_range(&result).expect("normalised"), result);
        }
    }
}
