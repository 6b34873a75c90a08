//! What the transformer writes or replaces: `--force` replaces only a complete bundle, and an
//! interrupted write leaves nothing behind.

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
