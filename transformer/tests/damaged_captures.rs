//! Damaged, failed and ambiguous captures are refused with the place to look at, never
//! skipped: a bundle written without a damaged file's objects would drop them silently.

mod common;

use std::fs;
use std::path::Path;

use common::{cli, samples, transform};
use proptest::prelude::*;

/// The sample's network list, which every scenario damages in its own way.
fn network_list() -> String {
    fs::read_to_string(samples().join("networks.xml")).expect("read the sample network list")
}

/// An export directory holding these files as bytes.
fn export_of(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, bytes) in files {
        fs::write(dir.path().join(name), bytes).expect("write");
    }
    dir
}

/// Runs the transformer on `export`, checks it failed as invalid input (exit 3) without
/// writing a bundle, and returns its message.
fn refused(export: &Path) -> String {
    let out = tempfile::tempdir().expect("tempdir");
    let run = cli(export, &out.path().join("bundle"), &[]);
    assert_eq!(run.code, 3, "unexpected exit status: {}{}", run.stdout, run.stderr);
    assert!(!out.path().join("bundle").exists(), "a bundle was written");
    run.stderr
}

/// The network list with one damaged file beside it.
fn refused_beside_networks(name: &str, bytes: &[u8]) -> String {
    let networks = network_list();
    refused(export_of(&[("networks.xml", networks.as_bytes()), (name, bytes)]).path())
}

#[test]
fn an_empty_capture_is_refused() {
    for empty in ["", "\n  \n"] {
        let message = refused_beside_networks("users.xml", empty.as_bytes());
        assert!(message.contains("users.xml: the file is empty"), "{message}");
    }
}

#[test]
fn a_truncated_prologue_is_refused_with_its_position() {
    let message = refused_beside_networks("users.xml", b"<?xml vers");
    assert!(message.contains("users.xml:1:"), "{message}");
    assert!(message.contains("malformed XML"), "{message}");
}

#[test]
fn a_capture_cut_short_is_refused() {
    let networks = network_list();
    let half = networks[..networks.len() / 2].rfind('\n').expect("a line end");
    let cut = &networks[..=half];
    let message = refused(export_of(&[("networks.xml", cut.as_bytes())]).path());
    assert!(message.contains("networks.xml:") && message.contains("ends inside <NETWORK_LIST_OUTPUT/"), "{message}");
}

/// A `]]>` that lost a byte makes its CDATA section run on to the end of the next one: still
/// well-formed XML, but the records in between would become one name's text.
#[test]
fn a_cdata_section_that_lost_its_end_is_refused_not_read_short() {
    let networks = network_list();
    let end = networks.find("]]>").expect("a CDATA section");
    for damaged in [
        format!("{}{}", &networks[..end], &networks[end + 1..]),
        format!("{}{}", &networks[..end + 2], &networks[end + 3..]),
    ] {
        let message = refused(export_of(&[("networks.xml", damaged.as_bytes())]).path());
        assert!(message.contains("networks.xml:") && message.contains("its `]]>` is missing"), "{message}");
    }
}

#[test]
fn a_flipped_byte_in_the_root_name_is_refused_not_listed() {
    // With the DOCTYPE, the contradiction is what is reported; without it, the end tag.
    let flipped = network_list().replacen("<NETWORK_LIST_OUTPUT>", "<NETWORK_LIST_OUTPVT>", 1);
    let message = refused(export_of(&[("networks.xml", flipped.as_bytes())]).path());
    assert!(message.contains("networks.xml:3: the DOCTYPE declares <NETWORK_LIST_OUTPUT>"), "{message}");
    assert!(message.contains("root element is <NETWORK_LIST_OUTPVT>"), "{message}");

    let without_doctype: String =
        flipped.lines().filter(|l| !l.starts_with("<!DOCTYPE")).collect::<Vec<_>>().join("\n");
    let message = refused(export_of(&[("networks.xml", without_doctype.as_bytes())]).path());
    let last_line = without_doctype.lines().count();
    assert!(message.contains(&format!("networks.xml:{last_line}:")), "{message}");
    assert!(message.contains("malformed XML"), "{message}");
}

#[test]
fn damage_at_the_end_of_a_kind_qmig_does_not_read_is_still_refused() {
    let scans = "<?xml version=\"1.0\"?>\n<SCAN_LIST_OUTPUT>\n  <RESPONSE><SCAN_LIST>\n    <SCAN><REF>scan/1</REF></SCAN>\n  </SCAN_LIST></RESPONSE>\n</SCAN_LIST_OUTPT>\n";
    let message = refused_beside_networks("scans.xml", scans.as_bytes());
    assert!(message.contains("scans.xml:6:"), "{message}");
}

#[test]
fn http_headers_kept_by_curl_i_are_refused() {
    let captured = format!("HTTP/1.1 200 OK\r\nContent-Type: text/xml;charset=UTF-8\r\n\r\n{}", network_list());
    let message = refused(export_of(&[("networks.xml", captured.as_bytes())]).path());
    assert!(
        message.contains("networks.xml: the file starts with HTTP response headers (`HTTP/1.1 200 OK`)"),
        "{message}"
    );
    assert!(message.contains("without -i"), "{message}");
}

#[test]
fn a_nul_first_byte_is_refused_at_its_position() {
    let mut bytes = vec![0u8];
    bytes.extend_from_slice(network_list().as_bytes());
    let message = refused(export_of(&[("networks.xml", &bytes)]).path());
    assert!(message.contains("networks.xml:1:1: malformed XML: character U+0000 is not allowed"), "{message}");
}

/// The bytes of `text` in UTF-16 with a byte order mark, as Windows PowerShell writes them.
fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut bytes = if big_endian { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&if big_endian { unit.to_be_bytes() } else { unit.to_le_bytes() });
    }
    bytes
}

#[test]
fn utf16_captures_with_a_byte_order_mark_are_decoded() {
    // Non-ASCII text and a character outside the BMP check the decoding itself.
    let networks = network_list().replace("Global Default Network", "Réseau global 🌐").replace("UTF-8", "UTF-16");
    let as_utf8 =
        export_of(&[("networks.xml", network_list().replace("Global Default Network", "Réseau global 🌐").as_bytes())]);
    let expected = transform(as_utf8.path(), |_| {}).expect("the UTF-8 capture transforms");
    for big_endian in [false, true] {
        let export = export_of(&[("networks.xml", &utf16(&networks, big_endian))]);
        let contents = transform(export.path(), |_| {}).expect("the UTF-16 capture transforms");
        assert!(contents.manifest.unrecognised.is_empty(), "{:?}", contents.manifest.unrecognised);
        assert_eq!(contents.manifest.requests, expected.manifest.requests);
        let on_disk = qmig_schemas::sha256_hex(&fs::read(export.path().join("networks.xml")).expect("read"));
        assert_eq!(contents.manifest.sources[0].sha256, on_disk, "the manifest names the file as it is on disk");
    }
}

#[test]
fn damage_in_a_utf16_capture_is_named_by_line_and_column() {
    let damaged = network_list().replace("<ID>1103</ID>", "<ID>1103</IX>");
    let line = damaged.lines().position(|l| l.contains("</IX>")).expect("damaged line") + 1;
    let message = refused(export_of(&[("networks.xml", &utf16(&damaged, false))]).path());
    assert!(message.contains(&format!("networks.xml:{line}:")), "{message}");
}

#[test]
fn files_that_are_not_xml_are_still_listed() {
    let networks = network_list();
    let export = export_of(&[
        ("networks.xml", networks.as_bytes()),
        ("README", b"Captured from the source on Monday by the operator.\n"),
        ("capture.log", b"2026-10-02 09:14:07 GET /api/2.0/fo/network/?action=list 200\n"),
    ]);
    let contents = transform(export.path(), |_| {}).expect("transforms");
    let listed: Vec<(&str, &str)> =
        contents.manifest.unrecognised.iter().map(|u| (u.path.as_str(), u.reason.as_str())).collect();
    assert_eq!(listed, [("README", "not an XML document"), ("capture.log", "not an XML document")]);
}

#[test]
fn a_fifo_is_refused_by_name_and_never_opened() {
    let networks = network_list();
    let export = export_of(&[("networks.xml", networks.as_bytes())]);
    let fifo = export.path().join("users.xml");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(status.success());
    // Opening the FIFO would block this run forever: finishing at all shows it was not opened.
    let message = refused(export.path());
    assert!(message.contains("users.xml: a FIFO (named pipe) in the export directory"), "{message}");
}

#[test]
fn failed_v1_captures_are_refused_with_their_code_and_text() {
    // The failures V1 calls write inside their own roots: GENERIC_RETURN, USER_LIST_OUTPUT
    // (RETURN or ERROR) and USER_OUTPUT.
    let cases = [
        (
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<!DOCTYPE GENERIC_RETURN SYSTEM \"https://qualysapi.qualys.com/generic_return.dtd\">\n<GENERIC_RETURN>\n  <API name=\"user_list.php\" username=\"nwind_mg\" at=\"2026-10-02T09:14:07Z\" />\n  <RETURN status=\"FAILED\" number=\"2001\">Account Expired</RETURN>\n</GENERIC_RETURN>\n",
            "users.xml: this is a Qualys error response (CODE 2001: Account Expired)",
        ),
        (
            "<?xml version=\"1.0\"?>\n<USER_LIST_OUTPUT>\n  <API name=\"user_list.php\" username=\"nwind_mg\" at=\"2026-10-02T09:14:07Z\"/>\n  <RETURN status=\"FAILED\" number=\"1903\"><MESSAGE><![CDATA[Missing required parameter(s): action]]></MESSAGE></RETURN>\n</USER_LIST_OUTPUT>\n",
            "users.xml: this is a Qualys error response (CODE 1903: Missing required parameter(s): action)",
        ),
        (
            "<?xml version=\"1.0\"?>\n<USER_OUTPUT>\n  <RETURN status=\"FAILED\" number=\"1903\"><MESSAGE>Missing required parameter(s): state</MESSAGE></RETURN>\n</USER_OUTPUT>\n",
            "users.xml: this is a Qualys error response (CODE 1903: Missing required parameter(s): state)",
        ),
        (
            "<?xml version=\"1.0\"?>\n<USER_LIST_OUTPUT><ERROR number=\"2001\">Account Expired</ERROR></USER_LIST_OUTPUT>\n",
            "users.xml: this is a Qualys error response (CODE 2001: Account Expired)",
        ),
    ];
    for (document, expected) in cases {
        let message = refused_beside_networks("users.xml", document.as_bytes());
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn a_successful_generic_return_is_listed_as_not_a_list() {
    let networks = network_list();
    let success =
        "<?xml version=\"1.0\"?>\n<GENERIC_RETURN><RETURN status=\"SUCCESS\">Done</RETURN></GENERIC_RETURN>\n";
    let export = export_of(&[("networks.xml", networks.as_bytes()), ("done.xml", success.as_bytes())]);
    let contents = transform(export.path(), |_| {}).expect("transforms");
    assert_eq!(contents.manifest.unrecognised[0].reason, "a GENERIC_RETURN response, not a list");
}

#[test]
fn characters_xml_forbids_are_refused_raw_or_as_references() {
    let networks = network_list();
    let line = networks.lines().position(|l| l.contains("<ID>1103</ID>")).expect("line") + 1;
    let cases: [(&str, &str); 8] = [
        ("\u{0}", "U+0000 is not allowed"),
        ("\u{1b}[2J", "U+001B is not allowed"),
        ("\u{7}", "U+0007 is not allowed"),
        ("\u{7f}", "U+007F is not allowed"),
        ("&#27;", "reference to U+001B"),
        ("&#0;", "reference &#0; does not name a character XML allows"),
        ("&#x7F;", "reference to U+007F"),
        ("&#x1B;", "reference to U+001B"),
    ];
    for (inserted, expected) in cases {
        let damaged = networks.replace("<ID>1103</ID>", &format!("<ID>1103{inserted}</ID>"));
        let message = refused(export_of(&[("networks.xml", damaged.as_bytes())]).path());
        assert!(message.contains(&format!("networks.xml:{line}:")), "{inserted:?}: {message}");
        assert!(message.contains(expected), "{inserted:?}: {message}");
    }
    let in_attribute = networks.replace("<NETWORK_LIST>", "<NETWORK_LIST note=\"&#7;\">");
    let message = refused(export_of(&[("networks.xml", in_attribute.as_bytes())]).path());
    assert!(message.contains("reference to U+0007"), "{message}");
}

#[test]
fn a_field_given_twice_in_one_record_is_refused() {
    let networks = network_list().replace("<ID>1103</ID>", "<ID>1103</ID>\n        <ID>9999</ID>");
    let line = networks.lines().position(|l| l.contains("<ID>1103</ID>")).expect("line") + 1;
    let message = refused(export_of(&[("networks.xml", networks.as_bytes())]).path());
    assert!(message.contains("ID is given twice in one network list record"), "{message}");
    assert!(message.contains(&format!("lines {line} and {}", line + 1)), "{message}");

    let users = fs::read_to_string(samples().join("users.xml")).expect("read");
    let doubled = users.replacen("</EMAIL>", "</EMAIL><EMAIL>someone@else.example</EMAIL>", 1);
    let message = refused(export_of(&[("users.xml", doubled.as_bytes())]).path());
    assert!(message.contains("CONTACT_INFO/EMAIL is given twice in one user list record"), "{message}");
}

#[test]
fn no_control_character_reaches_the_review_raw() {
    // XML allows C1 controls and bidirectional overrides; file names allow nearly anything.
    let networks = network_list().replace("Global Default Network", "Corp\u{9b}8m hidden \u{202e}txet");
    let export = export_of(&[("networks.xml", networks.as_bytes()), ("notes\u{1b}[8m.txt", b"captured Monday\r\n")]);
    let out = tempfile::tempdir().expect("tempdir");
    let run = cli(export.path(), &out.path().join("bundle"), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let review = fs::read_to_string(out.path().join("bundle/REVIEW.md")).expect("review");
    let raw: Vec<char> =
        review.chars().filter(|c| (c.is_control() && *c != '\n') || ('\u{202a}'..='\u{202e}').contains(c)).collect();
    assert!(raw.is_empty(), "raw control characters in REVIEW.md: {raw:?}");
    assert!(review.contains("`notes\\u{1b}[8m.txt`: not an XML document"), "{review}");
    assert!(review.contains("Corp\\u{9b}8m hidden \\u{202e}txet"), "{review}");
}

#[test]
fn a_utf16_document_imported_as_it_is_is_sent_in_utf8() {
    let config = fs::read_to_string(samples().join("subscription_config.xml")).expect("read");
    let as_powershell_writes_it = config.replace("encoding=\"UTF-8\"", "encoding = 'UTF-16LE'");
    let export = export_of(&[("subscription_config.xml", &utf16(&as_powershell_writes_it, false))]);
    let contents = transform(export.path(), |_| {}).expect("transforms");
    let body = &contents.bodies.iter().find(|(name, _)| name.contains("subscription")).expect("the import body").1;
    let expected = config.replace("encoding=\"UTF-8\"", "encoding = 'UTF-8'");
    assert_eq!(String::from_utf8_lossy(body), expected, "decoded, and the declaration names UTF-8");
}

/// One byte of a capture changed, added or removed.
#[derive(Debug, Clone)]
enum Damage {
    Flip { at: usize, xor: u8 },
    Insert { at: usize, byte: u8 },
    Remove { at: usize },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Damage::Flip { at, xor }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Damage::Insert { at, byte }),
        any::<usize>().prop_map(|at| Damage::Remove { at }),
    ]
}

/// How many networks the tasks see in `contents`.
fn networks_read(contents: &qmig_schemas::BundleContents) -> u64 {
    contents.manifest.tasks.iter().find(|t| t.task == "networks").map_or(0, |t| t.source_objects)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Whatever single byte is damaged, and wherever (mostly in the prologue and the root
    /// element, where damage used to make a capture "unrecognised"), the capture is either
    /// refused as invalid input or still read with all its objects: never skipped.
    #[test]
    fn a_damaged_capture_is_refused_or_read_whole_never_skipped(damage in damage(), near_the_start in any::<bool>()) {
        // Beside another list, so that a skipped file would not leave the export empty.
        let domains = fs::read(samples().join("domains.xml")).expect("read the sample domain list");
        let original = network_list().into_bytes();
        let whole = export_of(&[("networks.xml", &original), ("domains.xml", &domains)]);
        let expected = networks_read(&transform(whole.path(), |_| {}).expect("the sample reads"));
        let span = if near_the_start { 200.min(original.len()) } else { original.len() };
        let mut bytes = original.clone();
        match damage {
            Damage::Flip { at, xor } => bytes[at % span] ^= xor,
            Damage::Insert { at, byte } => bytes.insert(at % (span + 1), byte),
            Damage::Remove { at } => { bytes.remove(at % span); }
        }
        let export = export_of(&[("networks.xml", &bytes), ("domains.xml", &domains)]);
        match transform(export.path(), |_| {}) {
            Err(error) => prop_assert_eq!(error.exit_code(), 3, "{}", error),
            Ok(contents) => {
                prop_assert!(contents.manifest.unrecognised.is_empty(), "skipped: {:?}", contents.manifest.unrecognised);
                prop_assert_eq!(networks_read(&contents), expected);
            }
        }
    }
}
