//! What the transformer writes or replaces: `--force` replaces only a complete bundle, an
//! interrupted write leaves nothing behind, and `--target` records the target a bundle is
//! reviewed for.

mod common;

use std::fs;
use std::path::Path;

use common::{cli, sample_inputs, samples};

/// Writes the sample's bundle to `out`.
fn write_sample(out: &Path) {
    let run = cli(&samples(), out, &["--inputs", &sample_inputs()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// `--force` onto `out`: refused with exit 4 and a message naming `named`.
fn force_refused(out: &Path, named: &str) {
    let run = cli(&samples(), out, &["--inputs", &sample_inputs(), "--force"]);
    assert_eq!(run.code, 4, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("is not a complete qmig bundle") && run.stderr.contains(named), "{}", run.stderr);
}

/// `--target` is recorded in the manifest in the executor's one spelling and shown in REVIEW.md;
/// a bundle without it says so; a URL that is no target is a usage error, and nothing is written.
#[test]
fn the_target_a_bundle_is_reviewed_for_is_recorded_and_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    let run = cli(&samples(), &out, &["--inputs", &sample_inputs(), "--target", "https://QualysAPI.qualys.eu:443/"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let verified = qmig_schemas::verify_bundle(&out).expect("verifies");
    assert_eq!(verified.manifest.target.as_deref(), Some("https://qualysapi.qualys.eu"));
    let review = fs::read_to_string(out.join("REVIEW.md")).expect("review");
    assert!(review.contains("**Target:** https://qualysapi.qualys.eu."), "{review}");
    assert!(review.contains("--other-target"), "{review}");

    let without = dir.path().join("without");
    write_sample(&without);
    let verified = qmig_schemas::verify_bundle(&without).expect("verifies");
    assert_eq!(verified.manifest.target, None);
    let review = fs::read_to_string(without.join("REVIEW.md")).expect("review");
    assert!(review.contains("**Target:** none recorded"), "{review}");

    let refused = dir.path().join("refused");
    let run = cli(&samples(), &refused, &["--inputs", &sample_inputs(), "--target", "http://qualysapi.qualys.eu"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("https"), "{}", run.stderr);
    assert!(!refused.exists());
}

#[test]
fn force_keeps_a_bundle_holding_a_file_it_does_not_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    write_sample(&out);
    fs::write(out.join("approval-notes.txt"), "approved by J. Doe").expect("write");
    force_refused(&out, "approval-notes.txt");
    assert_eq!(fs::read_to_string(out.join("approval-notes.txt")).expect("kept"), "approved by J. Doe");
}

#[test]
fn force_keeps_a_bundle_whose_files_were_edited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    write_sample(&out);
    let review = fs::read_to_string(out.join("REVIEW.md")).expect("read");
    fs::write(out.join("REVIEW.md"), format!("{review}\nReviewed: OK\n")).expect("write");
    force_refused(&out, "REVIEW.md");
    assert!(fs::read_to_string(out.join("REVIEW.md")).expect("kept").ends_with("Reviewed: OK\n"));
}

#[test]
fn force_keeps_a_directory_that_is_not_a_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    fs::create_dir(&out).expect("mkdir");
    fs::write(out.join("manifest.json"), "{}").expect("write");
    force_refused(&out, "SHA256SUMS");
    assert!(out.join("manifest.json").exists());

    let file = dir.path().join("file");
    fs::write(&file, "precious").expect("write");
    force_refused(&file, "is not a bundle directory");
    assert_eq!(fs::read_to_string(&file).expect("kept"), "precious");
}

#[test]
fn force_does_not_replace_a_link_to_a_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = dir.path().join("real");
    write_sample(&real);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    force_refused(&link, "is not a bundle directory");
    assert!(fs::symlink_metadata(&link).expect("link kept").file_type().is_symlink());
}

#[test]
fn force_replaces_a_complete_bundle_or_an_empty_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    write_sample(&out);
    let forced = cli(&samples(), &out, &["--inputs", &sample_inputs(), "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).expect("mkdir");
    let forced = cli(&samples(), &empty, &["--inputs", &sample_inputs(), "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    qmig_schemas::verify_bundle(&empty).expect("written");
}

/// An export of `count` root tags: each is a request with its own body file, so that writing
/// the bundle takes long enough (every file is synced) to be interrupted.
fn many_tags(count: usize) -> tempfile::TempDir {
    let tags: String = (0..count)
        .map(|i| format!("<Tag><id>{}</id><name>Tag {i}</name><ruleType>STATIC</ruleType></Tag>\n", 1000 + i))
        .collect();
    let search = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceResponse><responseCode>SUCCESS</responseCode>\
         <count>{count}</count><hasMoreRecords>false</hasMoreRecords><data>\n{tags}</data></ServiceResponse>\n"
    );
    common::export_with(&[("tags.xml", &search)])
}

/// The entries of `dir` whose names start with `.qmig`.
fn staging_dirs(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".qmig"))
        .collect()
}

/// Whether the process handles SIGINT yet (bit 2 of `SigCgt` in its status).
fn catches_sigint(pid: u32) -> bool {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let caught = status.lines().find_map(|l| l.strip_prefix("SigCgt:")).map(str::trim).unwrap_or("0");
    u64::from_str_radix(caught, 16).is_ok_and(|mask| mask & 0b10 != 0)
}

/// Starts a transformation of `export` into `out`, waits until `ready` says so, sends
/// `signal`, and returns the exit code and the error output.
fn interrupted(export: &Path, out: &Path, signal: &str, ready: impl Fn(u32) -> bool) -> (i32, String) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("qmig-transform"))
        .arg("bundle")
        .arg(export)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("qmig-transform starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !ready(child.id()) {
        assert!(std::time::Instant::now() < deadline, "the run never reached the point to interrupt");
        assert!(child.try_wait().expect("wait").is_none(), "the run ended before it could be interrupted");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let kill = std::process::Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status();
    assert!(kill.expect("kill runs").success());
    let output = child.wait_with_output().expect("the run ends");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_signal_while_the_bundle_is_written_removes_the_staging_directory() {
    let export = many_tags(2000);
    for signal in ["INT", "TERM"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("bundle");
        let (code, stderr) = interrupted(export.path(), &out, signal, |_| !staging_dirs(dir.path()).is_empty());
        assert_eq!(code, 130, "SIG{signal}: {stderr}");
        assert!(stderr.contains("interrupted while the bundle was written"), "{stderr}");
        assert!(stderr.contains(".qmig-bundle-") && stderr.contains("was removed"), "{stderr}");
        assert!(!out.exists(), "SIG{signal}: a bundle was written");
        assert_eq!(staging_dirs(dir.path()), Vec::<String>::new(), "SIG{signal}: left behind");
    }
}

#[test]
fn a_signal_before_the_bundle_is_written_leaves_nothing() {
    let export = many_tags(2000);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    let (code, stderr) = interrupted(export.path(), &out, "INT", catches_sigint);
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!out.exists(), "a bundle was written");
    assert_eq!(staging_dirs(dir.path()), Vec::<String>::new());
}
