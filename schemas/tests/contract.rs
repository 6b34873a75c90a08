//! The contract end to end: a bundle written with these types verifies, validates against the
//! committed JSON Schemas, and every way of breaking a reference is refused with the request named.

use qmig_schemas::manifest::*;
use qmig_schemas::verify::RequestProblem;
use qmig_schemas::{BundleContents, VerifyError, sha256_hex, verify_bundle, write_bundle};

/// The canonical name of the Linux record's password row in the credentials file.
const LINUX_PASSWORD: &str = "unix/title:Linux servers/password";

const BODY: &str = "<ServiceRequest><data><Tag><name>Linux</name><parentTagId>{{capture:tag/Cloud Agent#id}}</parentTagId></Tag></data></ServiceRequest>";

fn create_network() -> Request {
    Request {
        seq: 1,
        id: "network/Corp East".into(),
        task: "networks".into(),
        summary: "Create network \"Corp East\"".into(),
        method: Method::Post,
        path: "/api/2.0/fo/network/".into(),
        params: vec![Param::text("action", "create"), Param::text("name", "Corp East")],
        body: None,
        effect: Effect::Create,
        phase: Phase::Migration,
        captures: vec![Capture { name: "network/Corp East#id".into(), extract: Extract::NewId }],
        probe: Some(Probe {
            method: Method::Post,
            path: "/api/2.0/fo/network/".into(),
            params: vec![Param::text("action", "list")],
            body: None,
            exists: Match {
                record: "NETWORK".into(),
                conditions: vec![Condition { field: "NAME".into(), equals: Value::Text("Corp East".into()) }],
            },
            captures: vec![ProbeCapture { name: "network/Corp East#id".into(), take: "ID".into() }],
        }),
        source: Some(SourceRef {
            file: "networks.xml".into(),
            line: 7,
            id: Some("1103".into()),
            title: Some("Corp East".into()),
        }),
        remapped: vec![],
        depends_on: vec![],
    }
}

fn lookup_tag() -> Request {
    Request {
        seq: 2,
        id: "tag-lookup/Cloud Agent".into(),
        task: "asset tags".into(),
        summary: "Look up the target's Cloud Agent tag".into(),
        method: Method::Post,
        path: "/qps/rest/2.0/search/am/tag".into(),
        params: vec![],
        body: None,
        effect: Effect::Read,
        phase: Phase::Migration,
        captures: vec![Capture {
            name: "tag/Cloud Agent#id".into(),
            extract: Extract::Match {
                matcher: Match {
                    record: "Tag".into(),
                    conditions: vec![Condition { field: "name".into(), equals: Value::Text("Cloud Agent".into()) }],
                },
                take: "id".into(),
            },
        }],
        probe: None,
        source: None,
        remapped: vec![],
        depends_on: vec![],
    }
}

fn create_tag() -> Request {
    let offset = BODY.find("{{capture").expect("placeholder") as u64;
    Request {
        seq: 3,
        id: "tag/Linux".into(),
        task: "asset tags".into(),
        summary: "Create tag \"Linux\" under Cloud Agent".into(),
        method: Method::Post,
        path: "/qps/rest/2.0/create/am/tag".into(),
        params: vec![],
        body: Some(Body {
            file: "bodies/tag-Linux.xml".into(),
            sha256: sha256_hex(BODY.as_bytes()),
            content_type: "text/xml".into(),
            slots: vec![Slot {
                offset,
                placeholder: "{{capture:tag/Cloud Agent#id}}".into(),
                value: Segment::Capture("tag/Cloud Agent#id".into()),
                escape: Escape::Xml,
            }],
        }),
        effect: Effect::Create,
        phase: Phase::Migration,
        captures: vec![],
        probe: None,
        source: None,
        remapped: vec![],
        depends_on: vec![],
    }
}

fn create_auth() -> Request {
    Request {
        seq: 4,
        id: "auth/unix/Linux servers".into(),
        task: "authentication records".into(),
        summary: "Create Unix record".into(),
        method: Method::Post,
        path: "/api/2.0/fo/auth/unix/".into(),
        params: vec![
            Param::text("action", "create"),
            Param { name: "password".into(), value: Value::Parts(vec![Segment::Secret(LINUX_PASSWORD.into())]) },
            Param {
                name: "network_id".into(),
                value: Value::Parts(vec![Segment::Capture("network/Corp East#id".into())]),
            },
        ],
        body: None,
        effect: Effect::Create,
        phase: Phase::Migration,
        captures: vec![],
        probe: None,
        source: None,
        remapped: vec![Remap {
            kind: "network".into(),
            source: "1103".into(),
            target: Value::Parts(vec![Segment::Capture("network/Corp East#id".into())]),
        }],
        // The record's scanners must be tagged first: an ordering no capture shows.
        depends_on: vec!["tag/Linux".into()],
    }
}

fn contents(requests: Vec<Request>) -> BundleContents {
    BundleContents {
        manifest: Manifest {
            format_version: FORMAT_VERSION,
            generator: Generator { name: "test".into(), version: "0".into() },
            target: None,
            sources: vec![],
            inputs: vec![],
            unrecognised: vec![],
            secrets: Some(Secrets {
                file: SECRETS_AES_FILE.into(),
                format: SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { iterations: 10_000 },
                names: vec![LINUX_PASSWORD.into()],
            }),
            tasks: vec![],
            requests,
            skipped: vec![],
            losses: vec![],
            manual_steps: vec![],
            warnings: vec![],
            report: vec![],
            prerequisites: vec![],
        },
        review: "# Review\n".into(),
        requests_table: "seq\tid\n".into(),
        bodies: vec![("bodies/tag-Linux.xml".into(), BODY.as_bytes().to_vec())],
        secrets: Some(b"Salted__ not really encrypted".to_vec()),
    }
}

fn written(requests: Vec<Request>) -> (tempfile::TempDir, std::path::PathBuf, String) {
    written_contents(&contents(requests))
}

fn written_contents(contents: &BundleContents) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    let digest = write_bundle(&out, contents, false).expect("write");
    (dir, out, digest)
}

fn all() -> Vec<Request> {
    vec![create_network(), lookup_tag(), create_tag(), create_auth()]
}

#[test]
fn written_bundle_verifies_and_matches_schema() {
    let (_dir, out, digest) = written(all());
    let verified = verify_bundle(&out).expect("verifies");
    assert_eq!(verified.digest, digest);
    assert_eq!(verified.manifest.requests, all());
    #[cfg(feature = "validate")]
    {
        let value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join(MANIFEST_FILE)).expect("reads")).expect("manifest is JSON");
        qmig_schemas::schema::validate_manifest(&value).expect("schema");
    }
}

/// The target a bundle was reviewed for is recorded in the one spelling the executor compares,
/// so that the reviewer reads exactly what is enforced; any other spelling is refused.
#[test]
fn the_reviewed_target_is_recorded_in_its_canonical_spelling() {
    let mut reviewed = contents(all());
    reviewed.manifest.target = Some("https://qualysapi.qualys.eu".into());
    let (_dir, out, _) = written_contents(&reviewed);
    let verified = verify_bundle(&out).expect("verifies");
    assert_eq!(verified.manifest.target.as_deref(), Some("https://qualysapi.qualys.eu"));
    #[cfg(feature = "validate")]
    {
        let value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join(MANIFEST_FILE)).expect("reads")).expect("manifest is JSON");
        qmig_schemas::schema::validate_manifest(&value).expect("schema");
    }
    for spelled in ["https://QualysAPI.qualys.eu:443/", "http://localhost:8080", "http://qualysapi.qualys.eu"] {
        let mut other = contents(all());
        other.manifest.target = Some(spelled.into());
        let (_dir, out, _) = written_contents(&other);
        // Refused by the schema's pattern, or by the canonical spelling check behind it.
        let refused = verify_bundle(&out).expect_err(spelled).to_string();
        assert!(refused.contains(spelled) && refused.contains("target"), "{refused}");
    }
}

#[test]
fn existing_output_is_kept_without_force_and_replaced_with_it() {
    let (_dir, out, first) = written(all());
    let again = write_bundle(&out, &contents(all()), false);
    assert!(matches!(again, Err(qmig_schemas::WriteError::Exists(_))));
    let mut fewer = all();
    fewer.truncate(3);
    let mut replaced = contents(fewer);
    replaced.secrets = None;
    replaced.manifest.secrets = None;
    let second = write_bundle(&out, &replaced, true).expect("forced");
    assert_ne!(first, second);
    assert_eq!(verify_bundle(&out).expect("verifies").digest, second);
}

#[test]
fn force_never_replaces_a_directory_that_is_not_a_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("precious.txt"), "keep me").expect("write");
    let result = write_bundle(dir.path(), &contents(all()), true);
    assert!(matches!(result, Err(qmig_schemas::WriteError::NotABundle { .. })));
    assert!(dir.path().join("precious.txt").exists());
}

fn problem_of(requests: Vec<Request>) -> (u64, RequestProblem) {
    let (_dir, out, _) = written(requests);
    match verify_bundle(&out) {
        Err(VerifyError::Request { seq, problem, .. }) => (seq, problem),
        other => panic!("expected a request problem, got {other:?}"),
    }
}

#[test]
fn a_capture_used_before_it_is_declared_is_refused() {
    let mut requests = all();
    requests.swap(0, 3);
    requests[0].seq = 1;
    requests[3].seq = 4;
    let (seq, problem) = problem_of(requests);
    assert_eq!(seq, 1);
    assert_eq!(problem, RequestProblem::UnknownCapture("network/Corp East#id".into()));
}

/// `run` stops before the first cutover request: a migration request after it would be held
/// back with the cutover, so verify refuses the order.
#[test]
fn a_migration_request_after_a_cutover_request_is_refused() {
    let mut requests = all();
    requests[1].phase = Phase::Cutover;
    assert_eq!(problem_of(requests.clone()), (3, RequestProblem::MigrationAfterCutover { first: 2 }));
    for request in &mut requests[1..] {
        request.phase = Phase::Cutover;
    }
    let (_dir, out, _) = written(requests);
    assert!(verify_bundle(&out).is_ok(), "the cutover may be any tail of the bundle");
}

#[test]
fn an_undeclared_secret_is_refused() {
    let mut requests = all();
    requests[3].params[1].value = Value::Parts(vec![Segment::Secret("other".into())]);
    assert_eq!(problem_of(requests), (4, RequestProblem::UnknownSecret("other".into())));
}

#[test]
fn a_secret_that_would_land_in_a_url_is_refused() {
    let mut requests = all();
    requests[3].method = Method::Get;
    assert_eq!(problem_of(requests), (4, RequestProblem::SecretInUrl("password".into())));
}

#[test]
fn a_slot_that_does_not_hold_its_placeholder_is_refused() {
    let mut requests = all();
    let body = requests[2].body.as_mut().expect("body");
    body.slots[0].offset += 1;
    let offset = body.slots[0].offset;
    assert_eq!(problem_of(requests), (3, RequestProblem::SlotMismatch { offset }));
}

/// A reviewer reads the body file: the placeholder there must name what is sent in its place.
#[test]
fn a_slot_whose_placeholder_names_another_reference_is_refused() {
    let mut requests = all();
    let body = requests[2].body.as_mut().expect("body");
    body.slots[0].value = Segment::Secret(LINUX_PASSWORD.into());
    let offset = body.slots[0].offset;
    let problem = RequestProblem::SlotPlaceholder {
        offset,
        found: "{{capture:tag/Cloud Agent#id}}".into(),
        expected: format!("{{{{secret:{LINUX_PASSWORD}}}}}"),
    };
    assert_eq!(problem_of(requests), (3, problem));
}

/// In an XML body the placeholder may be written escaped, as the body's other text is.
#[test]
fn a_slot_may_hold_its_placeholder_xml_escaped() {
    let name = "tag/R&D#id";
    let text = "<Tag><parentTagId>{{capture:tag/R&amp;D#id}}</parentTagId></Tag>";
    let mut requests = all();
    requests[1].captures[0].name = name.into();
    let body = requests[2].body.as_mut().expect("body");
    body.sha256 = sha256_hex(text.as_bytes());
    body.slots[0] = Slot {
        offset: text.find("{{").expect("placeholder") as u64,
        placeholder: "{{capture:tag/R&amp;D#id}}".into(),
        value: Segment::Capture(name.into()),
        escape: Escape::Xml,
    };
    let mut escaped = contents(requests.clone());
    escaped.bodies = vec![("bodies/tag-Linux.xml".into(), text.as_bytes().to_vec())];
    let (_dir, out, _) = written_contents(&escaped);
    assert!(verify_bundle(&out).is_ok());

    requests[2].body.as_mut().expect("body").slots[0].escape = Escape::None;
    let mut raw = contents(requests);
    raw.bodies = escaped.bodies;
    let (_dir, out, _) = written_contents(&raw);
    assert!(matches!(
        verify_bundle(&out),
        Err(VerifyError::Request { seq: 3, problem: RequestProblem::SlotPlaceholder { .. }, .. })
    ));
}

#[test]
fn a_secret_no_request_refers_to_is_refused() {
    let mut spare = contents(all());
    spare.manifest.secrets.as_mut().expect("secrets").names.push("unix/username:spare/password".into());
    let (_dir, out, _) = written_contents(&spare);
    assert!(
        matches!(verify_bundle(&out), Err(VerifyError::SecretUnused(name)) if name == "unix/username:spare/password")
    );
}

#[test]
fn a_secret_name_that_is_not_canonical_is_refused() {
    let mut requests = all();
    requests[3].params[1].value = Value::Parts(vec![Segment::Secret("Linux servers".into())]);
    let mut odd = contents(requests);
    odd.manifest.secrets.as_mut().expect("secrets").names = vec!["Linux servers".into()];
    let (_dir, out, _) = written_contents(&odd);
    assert!(matches!(verify_bundle(&out), Err(VerifyError::SecretName(name)) if name == "Linux servers"));
}

/// The file's name says how it is encrypted, so a reviewer knows which tool opens it.
#[test]
fn the_secrets_file_is_named_after_its_format_and_no_other_is_carried() {
    let mut misnamed = contents(all());
    misnamed.manifest.secrets.as_mut().expect("secrets").format = SecretsFormat::Age;
    let (_dir, out, _) = written_contents(&misnamed);
    let error = verify_bundle(&out).expect_err("misnamed");
    assert!(matches!(error, VerifyError::SecretsFileName { expected: SECRETS_AGE_FILE, .. }), "{error}");

    let (_dir, out, _) = written(all());
    std::fs::write(out.join(SECRETS_AGE_FILE), "stray").expect("write");
    let mut sums = std::fs::read_to_string(out.join(SUMS_FILE)).expect("sums");
    sums.push_str(&format!("{}  {SECRETS_AGE_FILE}\n", sha256_hex(b"stray")));
    std::fs::write(out.join(SUMS_FILE), sums).expect("write");
    assert!(matches!(verify_bundle(&out), Err(VerifyError::SecretsUndeclared(f)) if f == SECRETS_AGE_FILE));
}

#[test]
fn a_probe_that_leaves_a_capture_empty_is_refused() {
    let mut requests = all();
    requests[0].probe.as_mut().expect("probe").captures.clear();
    assert_eq!(problem_of(requests), (1, RequestProblem::ProbeCaptureMissing("network/Corp East#id".into())));
}

#[test]
fn gaps_and_duplicates_in_numbering_are_refused() {
    let mut requests = all();
    requests[1].seq = 3;
    assert_eq!(problem_of(requests), (3, RequestProblem::Sequence { expected: 2, found: 3 }));
    let mut requests = all();
    requests[1].id = "network/Corp East".into();
    assert_eq!(problem_of(requests), (2, RequestProblem::DuplicateId { first: 1 }));
}

/// Version 2 bundles state no dependencies: this build would reorder requests whose order
/// carries them, so it reads only its own version.
#[test]
fn an_unknown_format_version_is_named() {
    let (_dir, out, _) = written(all());
    let manifest = out.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest).expect("read");
    std::fs::write(&manifest, text.replacen("\"format_version\": 3", "\"format_version\": 2", 1)).expect("write");
    // Re-seal so only the version is wrong.
    reseal(&out, &[MANIFEST_FILE, REVIEW_FILE, REQUESTS_FILE, SECRETS_AES_FILE, "bodies/tag-Linux.xml"]);
    match verify_bundle(&out) {
        Err(VerifyError::UnknownFormatVersion { found }) => assert_eq!(found, "2"),
        other => panic!("expected unknown version, got {other:?}"),
    }
}

/// Writes `SHA256SUMS` anew over these files of the bundle, as someone forging one would.
fn reseal(out: &std::path::Path, files: &[&str]) {
    let lines: Vec<_> = files
        .iter()
        .map(|p| qmig_schemas::sums::SumLine {
            sha256: sha256_hex(&std::fs::read(out.join(p)).expect("read")),
            path: p.to_string(),
        })
        .collect();
    std::fs::write(out.join(SUMS_FILE), qmig_schemas::sums::render(&lines)).expect("write");
}

/// The per-request table is part of what is reviewed: a bundle without it is incomplete.
#[test]
fn a_bundle_without_its_request_table_is_refused() {
    let (_dir, out, _) = written(all());
    std::fs::remove_file(out.join(REQUESTS_FILE)).expect("rm");
    reseal(&out, &[MANIFEST_FILE, REVIEW_FILE, SECRETS_AES_FILE, "bodies/tag-Linux.xml"]);
    assert!(matches!(verify_bundle(&out), Err(VerifyError::MissingRequiredFile(REQUESTS_FILE))));
}

#[test]
fn an_unlisted_or_missing_file_is_named() {
    let (_dir, out, _) = written(all());
    std::fs::write(out.join("bodies/extra.xml"), "x").expect("write");
    assert!(matches!(verify_bundle(&out), Err(VerifyError::NotListed { path }) if path == "bodies/extra.xml"));
    std::fs::remove_file(out.join("bodies/extra.xml")).expect("rm");
    std::fs::remove_file(out.join(REVIEW_FILE)).expect("rm");
    assert!(matches!(verify_bundle(&out), Err(VerifyError::MissingFile { path }) if path == REVIEW_FILE));
}

#[test]
fn a_remap_the_request_does_not_send_is_refused() {
    let mut requests = all();
    requests[3].remapped[0].target = Value::Parts(vec![Segment::Capture("tag/Cloud Agent#id".into())]);
    let problem = RequestProblem::RemapNotSent("{{capture:tag/Cloud Agent#id}}".into());
    assert_eq!(problem_of(requests), (4, problem));
}

#[test]
fn a_reported_capture_nobody_declares_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    let mut bundle = contents(all());
    bundle.manifest.report = vec![Reported { capture: "user/jdoe#login".into(), label: "new login of jdoe".into() }];
    write_bundle(&out, &bundle, false).expect("write");
    match verify_bundle(&out) {
        Err(VerifyError::ReportedUnknown(name)) => assert_eq!(name, "user/jdoe#login"),
        other => panic!("expected an unknown reported capture, got {other:?}"),
    }
    bundle.manifest.report =
        vec![Reported { capture: "network/Corp East#id".into(), label: "ID of network Corp East".into() }];
    write_bundle(&out, &bundle, true).expect("write");
    verify_bundle(&out).expect("a declared capture may be reported");
}

#[test]
fn a_dependency_on_a_later_or_unknown_request_is_refused() {
    let mut requests = all();
    requests[1].depends_on = vec!["tag/Linux".into()];
    assert_eq!(problem_of(requests.clone()), (2, RequestProblem::ForwardDependency { seq: 3, id: "tag/Linux".into() }));
    requests[1].depends_on = vec!["network/Corp West".into()];
    assert_eq!(problem_of(requests), (2, RequestProblem::UnknownDependency("network/Corp West".into())));
}

#[test]
fn a_dependency_cycle_is_refused_and_named() {
    let mut requests = all();
    requests[0].depends_on = vec!["tag/Linux".into()];
    requests[2].depends_on = vec!["tag-lookup/Cloud Agent".into()];
    requests[1].depends_on = vec!["network/Corp East".into()];
    let cycle = ["network/Corp East", "tag/Linux", "tag-lookup/Cloud Agent", "network/Corp East"];
    let expected = RequestProblem::DependencyCycle(cycle.iter().map(|id| (*id).to_owned()).collect());
    assert_eq!(problem_of(requests.clone()), (1, expected));
    requests[0].depends_on = vec!["network/Corp East".into()];
    let own = RequestProblem::DependencyCycle(vec!["network/Corp East".into(), "network/Corp East".into()]);
    assert_eq!(problem_of(requests), (1, own), "a request that waits for itself");
}
