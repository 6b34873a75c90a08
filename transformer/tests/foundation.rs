//! The bundle as a whole: checksummed, verifiable, deterministic, tamper-evident, and never
//! half-written when the input is bad.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{cli, corpus, export_with, fixture, sample, sample_inputs, samples};
use proptest::prelude::*;
use qmig_schemas::{SUMS_FILE, verify_bundle};

fn digest_line(stdout: &str) -> String {
    stdout.lines().last().and_then(|l| l.strip_prefix("digest: ")).expect("last line is the digest").to_owned()
}

/// Every file of a bundle directory, by relative path.
fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = common::files_in(dir)
        .into_iter()
        .map(|p| (p.strip_prefix(dir).expect("inside").to_string_lossy().into_owned(), fs::read(&p).expect("read")))
        .collect();
    files.sort();
    files
}

/// Nothing but the expected entries is left beside a failed output.
fn assert_nothing_written(parent: &Path, out: &Path) {
    assert!(!out.exists(), "{} was written", out.display());
    let leftovers: Vec<String> = fs::read_dir(parent)
        .expect("read parent")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".qmig"))
        .collect();
    assert!(leftovers.is_empty(), "temporary directories left behind: {leftovers:?}");
}

#[test]
fn the_sample_bundle_is_checksummed_and_verifies_with_the_printed_digest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    let run = cli(&samples(), &out, &["--inputs", &sample_inputs()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let digest = digest_line(&run.stdout);
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");

    let verified = verify_bundle(&out).expect("the bundle verifies, schema included");
    assert_eq!(verified.digest, digest);
    assert!(!verified.manifest.requests.is_empty());

    let sha256sum = Command::new("sha256sum").arg("--check").arg("--strict").arg(SUMS_FILE).current_dir(&out).output();
    match sha256sum {
        Ok(output) => assert!(output.status.success(), "sha256sum -c: {}", String::from_utf8_lossy(&output.stdout)),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "sha256sum could not run: {e}"),
    }
}

#[test]
fn bundles_are_byte_identical_across_runs_and_thread_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bundles = Vec::new();
    for (name, threads) in [("a", "1"), ("b", "2"), ("c", "1"), ("d", "2")] {
        let out = dir.path().join(name);
        let run = cli(&samples(), &out, &["--inputs", &sample_inputs(), "--threads", threads]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        bundles.push((digest_line(&run.stdout), files_of(&out)));
    }
    for other in &bundles[1..] {
        assert_eq!(other.0, bundles[0].0, "digests differ");
        assert_eq!(other.1, bundles[0].1, "bundle files differ");
    }
}

#[test]
fn an_existing_bundle_is_kept_unless_forced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    assert_eq!(cli(&samples(), &out, &["--inputs", &sample_inputs()]).code, 0);
    let before = files_of(&out);
    let again = cli(&samples(), &out, &["--inputs", &sample_inputs()]);
    assert_eq!(again.code, 4);
    assert!(again.stderr.contains("already exists") && again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(files_of(&out), before);
    let forced = cli(&samples(), &out, &["--inputs", &sample_inputs(), "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
}

/// Runs the transformer on a bad export and returns its error message, checking that it failed
/// as invalid input and wrote nothing.
fn refused(export: &Path, extra: &[&str]) -> String {
    refused_with(export, extra, 3)
}

fn refused_with(export: &Path, extra: &[&str], code: i32) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    let run = cli(export, &out, extra);
    assert_eq!(run.code, code, "unexpected exit status: {}{}", run.stdout, run.stderr);
    assert_nothing_written(dir.path(), &out);
    run.stderr
}

#[test]
fn malformed_xml_is_named_by_file_line_and_column() {
    let message = refused(&fixture("malformed_xml"), &[]);
    assert!(message.contains("networks.xml:9:"), "{message}");
    assert!(message.contains("malformed XML"), "{message}");
}

#[test]
fn a_fault_in_the_target_export_names_it_as_the_target_export() {
    let target = fixture("malformed_xml").to_string_lossy().into_owned();
    let message = refused(&samples(), &["--inputs", &sample_inputs(), "--target-export", &target]);
    assert!(message.contains("target-export/networks.xml:9:"), "{message}");
}

#[test]
fn a_doctype_that_contradicts_the_root_element_is_refused() {
    let message = refused(&fixture("doctype_mismatch"), &[]);
    assert!(message.contains("networks.xml:3:"), "{message}");
    assert!(!message.contains("malformed"), "{message}");
    assert!(message.contains("DOCTYPE declares <ASSET_GROUP_LIST_OUTPUT>"), "{message}");
}

#[test]
fn a_missing_or_empty_export_directory_is_explained() {
    let message = refused(Path::new("/nonexistent/qmig-export"), &[]);
    assert!(message.contains("/nonexistent/qmig-export") && message.contains("does not exist"), "{message}");
    let empty = tempfile::tempdir().expect("tempdir");
    let message = refused(empty.path(), &[]);
    assert!(message.contains("holds no files"), "{message}");
}

#[test]
fn an_unreadable_file_is_named() {
    let export = export_with(&[("networks.xml", &fs::read_to_string(samples().join("networks.xml")).expect("read"))]);
    std::os::unix::fs::symlink("/nonexistent/capture.xml", export.path().join("ip_list_vm_ip.xml")).expect("symlink");
    let message = refused_with(export.path(), &[], 1);
    assert!(message.contains("ip_list_vm_ip.xml") && message.contains("No such file"), "{message}");
}

#[test]
fn unrecognised_files_are_listed_or_refused_with_strict() {
    let network_list = fs::read_to_string(samples().join("networks.xml")).expect("read");
    let export = export_with(&[
        ("networks.xml", &network_list),
        ("notes/readme.txt", "captured on Monday"),
        ("scan.xml", "<?xml version=\"1.0\"?>\n<SCAN_LIST_OUTPUT><RESPONSE/></SCAN_LIST_OUTPUT>\n"),
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    let run = cli(export.path(), &out, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("2 unrecognised files"), "{}", run.stdout);
    let review = fs::read_to_string(out.join("REVIEW.md")).expect("review");
    assert!(review.contains("`notes/readme.txt`: not an XML document"), "{review}");
    assert!(review.contains("`scan.xml`: root element \\<SCAN\\_LIST\\_OUTPUT\\>"), "{review}");

    let message = refused(export.path(), &["--strict"]);
    assert!(message.contains("notes/readme.txt") && message.contains("not a Qualys export"), "{message}");
}

#[test]
fn conflicting_duplicates_across_pages_name_both_places() {
    let message = refused(&fixture("conflicting_duplicates"), &[]);
    assert!(message.contains("network list 1104 is listed twice with different content"), "{message}");
    assert!(message.contains("networks_page1.xml:7") && message.contains("networks_page2.xml:7"), "{message}");
}

#[test]
fn identical_duplicates_across_pages_are_kept_once_with_a_warning() {
    let network_list = fs::read_to_string(samples().join("networks.xml")).expect("read");
    let export = export_with(&[("a.xml", &network_list), ("b.xml", &network_list)]);
    let contents = build(export.path());
    assert_eq!(contents.manifest.requests.len(), 4);
    assert!(contents.manifest.warnings.iter().any(|w| w.message.contains("listed again identically at b.xml")));
}

#[test]
fn an_ip_list_of_unknown_scope_says_how_to_fix_it() {
    let message = refused(&fixture("ip_list_without_scope"), &[]);
    assert!(message.contains("addresses.xml") && message.contains("echo_request=1"), "{message}");
    assert!(message.contains("ip_list_<vm|pc>_<ip|dns|netbios>.xml"), "{message}");
}

#[test]
fn a_captured_error_response_is_not_taken_for_an_export() {
    let message = refused(&fixture("error_response"), &[]);
    assert!(message.contains("networks.xml") && message.contains("CODE 1965"), "{message}");
}

#[test]
fn a_truncated_list_without_its_next_page_is_refused() {
    let page = fs::read_to_string(corpus(
        "domain_list/tf-provider-qualys-sjackson__domain_test.go.DOMAIN_LIST_truncated_mock.xml",
    ))
    .expect("read");
    let export = export_with(&[("domain_list/DOMAIN_LIST_truncated_mock.xml", &page)]);
    let message = refused(export.path(), &[]);
    assert!(message.contains("DOMAIN_LIST_truncated_mock.xml") && message.contains("id_min=2"), "{message}");
}

#[test]
fn an_invalid_address_is_named_with_its_line() {
    let message = refused(&fixture("invalid_address"), &[]);
    assert!(message.contains("ip_list_vm_ip.xml:8") && message.contains("10.0.0.300"), "{message}");
}

fn build(export: &Path) -> qmig_schemas::BundleContents {
    common::transform(export, |_| {}).expect("transforms")
}

#[test]
fn the_corpus_network_and_domain_lists_transform() {
    let network = build(&corpus("network_list"));
    assert_eq!(network.manifest.requests[0].id, "network/dmz");

    let truncated = fs::read_to_string(corpus(
        "domain_list/tf-provider-qualys-sjackson__domain_test.go.DOMAIN_LIST_truncated_mock.xml",
    ))
    .expect("read");
    let full = fs::read_to_string(corpus("domain_list/tf-provider-qualys-sjackson__domain_test.go.DOMAIN_LIST.xml"))
        .expect("read");
    let next_page = full.replace("<DOMAIN_ID>47943018</DOMAIN_ID>", "<DOMAIN_ID>2</DOMAIN_ID>");
    let export = export_with(&[("page1.xml", &truncated), ("page2.xml", &next_page)]);
    let domains = build(export.path());
    let ids: Vec<&str> = domains.manifest.requests.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["domain/a.example.com", "domain/qualysguard.com"]);
    let netblock = &domains.manifest.requests[1].params[2];
    assert_eq!((netblock.name.as_str(), netblock.value.display()), ("netblock", "10.10.10.10-20.20.20.20".to_owned()));
}

#[derive(Debug, Clone)]
enum Tamper {
    Flip { at: usize, xor: u8 },
    Insert { at: usize, byte: u8 },
    Remove { at: usize },
}

fn tamper() -> impl Strategy<Value = (usize, Tamper)> {
    let change = prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Tamper::Flip { at, xor }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Tamper::Insert { at, byte }),
        any::<usize>().prop_map(|at| Tamper::Remove { at }),
    ];
    (any::<usize>(), change)
}

fn copy_dir(from: &Path, to: &Path) {
    for path in common::files_in(from) {
        let target = to.join(path.strip_prefix(from).expect("inside"));
        fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        fs::copy(&path, &target).expect("copy");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Changing, adding or removing any single byte of any bundle file makes verification fail,
    /// naming the file (or, for SHA256SUMS itself, the line or file it no longer vouches for).
    #[test]
    fn any_single_byte_change_is_detected_and_named((file_pick, change) in tamper()) {
        let base = tempfile::tempdir().expect("tempdir");
        let original = base.path().join("original");
        let digest = qmig_schemas::write_bundle(&original, sample(), false).expect("written");
        let files = files_of(&original);
        let (name, bytes) = &files[file_pick % files.len()];
        let copy = base.path().join("copy");
        copy_dir(&original, &copy);
        let mut changed = bytes.clone();
        let at = match change {
            Tamper::Flip { at, xor } => { let at = at % changed.len(); changed[at] ^= xor; at }
            Tamper::Insert { at, byte } => { let at = at % (changed.len() + 1); changed.insert(at, byte); at }
            Tamper::Remove { at } => { let at = at % changed.len(); changed.remove(at); at }
        };
        fs::write(copy.join(name), &changed).expect("write");
        let message = match verify_bundle(&copy) {
            Ok(verified) => {
                prop_assert_ne!(verified.digest, digest.clone(), "tampering with {} went unnoticed", name);
                return Ok(());
            }
            Err(error) => error.to_string(),
        };
        if name == SUMS_FILE {
            let text = String::from_utf8_lossy(bytes);
            let line_start = text[..at.min(text.len())].rfind('\n').map_or(0, |p| p + 1);
            let line = text[line_start..].lines().next().unwrap_or_default();
            let listed = line.get(66..).unwrap_or_default();
            prop_assert!(message.contains(SUMS_FILE) || (!listed.is_empty() && message.contains(listed)), "{}", message);
        } else {
            prop_assert!(message.contains(name.as_str()), "{} not named in: {}", name, message);
        }
    }
}

#[test]
fn an_added_or_removed_file_is_named() {
    let base = tempfile::tempdir().expect("tempdir");
    let out = base.path().join("bundle");
    qmig_schemas::write_bundle(&out, sample(), false).expect("written");
    fs::write(out.join("bodies-extra.txt"), "x").expect("write");
    let message = verify_bundle(&out).expect_err("extra file").to_string();
    assert!(message.contains("bodies-extra.txt"), "{message}");
    fs::remove_file(out.join("bodies-extra.txt")).expect("rm");
    fs::remove_file(out.join("REVIEW.md")).expect("rm");
    let message = verify_bundle(&out).expect_err("missing file").to_string();
    assert!(message.contains("REVIEW.md"), "{message}");
}

#[test]
fn two_source_objects_that_would_become_one_target_object_are_refused_naming_both() {
    let groups = "<?xml version=\"1.0\"?>\n<ASSET_GROUP_LIST_OUTPUT><RESPONSE><ASSET_GROUP_LIST>\n\
        <ASSET_GROUP><ID>11</ID><TITLE>Web</TITLE></ASSET_GROUP>\n\
        <ASSET_GROUP><ID>12</ID><TITLE>Web</TITLE><COMMENTS>a second group of the same title</COMMENTS></ASSET_GROUP>\n\
        </ASSET_GROUP_LIST></RESPONSE></ASSET_GROUP_LIST_OUTPUT>\n";
    let export = export_with(&[("asset_groups.xml", groups)]);
    let message = refused(export.path(), &[]);
    assert!(message.contains("would both become `asset-group/Web`"), "{message}");
    assert!(message.contains("asset_groups.xml:3") && message.contains("asset_groups.xml:4"), "{message}");
}
