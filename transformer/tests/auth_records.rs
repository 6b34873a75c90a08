//! Authentication records on the sample export: the credentials template the operator fills
//! in, and what the bundle does with every record.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use assert_cmd::cargo::cargo_bin;
use common::samples;

/// One row per secret that a record the bundle would create needs, by its title: no vault
/// record, no system-created one, none that must be created by hand.
const SAMPLE_TEMPLATE: &str = "type,title,username,parameter,value
unix,Linux servers & DB hosts — Zürich,,password,
windows,Corp AD,,password,
ms_sql,Corp AD,,password,
oracle,Oracle finance,,password,
snmp,Core switches v3,,password,
snmp,Core switches v3,,encrypt_password,
";

fn template(extra: &[&std::ffi::OsStr]) -> std::process::Output {
    let mut command = Command::new(cargo_bin("qmig-transform"));
    command.arg("credentials-template").arg(samples()).args(extra);
    command.output().expect("qmig-transform runs")
}

#[test]
fn the_credentials_template_names_every_secret_the_records_need() {
    let output = template(&[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout), SAMPLE_TEMPLATE);
}

#[test]
fn the_credentials_template_is_written_to_a_new_private_file_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("credentials.csv");
    let output = template(&["--out".as_ref(), path.as_os_str()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(fs::read_to_string(&path).expect("written"), SAMPLE_TEMPLATE);
    assert_eq!(fs::metadata(&path).expect("metadata").permissions().mode() & 0o777, 0o600);

    // A file the operator may have filled in already is never replaced.
    fs::write(&path, "type,title,username,parameter,value\nunix,a,,password,filled\n").expect("write");
    let output = template(&["--out".as_ref(), path.as_os_str()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("credentials.csv"));
    assert!(fs::read_to_string(&path).expect("kept").contains("filled"));
}
