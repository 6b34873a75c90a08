//! Secrets: decrypted in memory, on the wire only, masked everywhere else.

use qmig_execute::secrets::{SecretsError, decrypt};
use zeroize::Zeroizing;

use crate::server::{Server, simple_error, simple_id};
use crate::support::*;

const SECRET: &str = "S3cr3t&<Value>";

#[test]
fn decryption_checks_the_passphrase_the_work_factor_and_the_names() {
    let pass = |p: &str| Zeroizing::new(p.to_owned());
    let file = encrypt(br#"{"unix/root": "s3cr&t"}"#, "right");
    let secrets = decrypt(&file, pass("right"), 10, &["unix/root".into()]).expect("decrypts");
    assert_eq!(secrets.get("unix/root"), Some("s3cr&t"));
    assert_eq!(secrets.mask("bad value s3cr&amp;t and s3cr&t"), "bad value ******** and ********");
    assert!(!format!("{secrets:?}").contains("s3cr"));
    assert!(
        matches!(decrypt(&file, pass("right"), 10, &["other".into()]), Err(SecretsError::Missing(n)) if n == "other")
    );
    assert!(matches!(decrypt(&file, pass("wrong"), 10, &[]), Err(SecretsError::WrongPassphrase)));
    assert!(matches!(decrypt(&file, pass("right"), 1, &[]), Err(SecretsError::ExcessiveWork { .. })));
    let list = encrypt(b"[\"hunter2\"]", "p");
    assert!(!decrypt(&list, pass("p"), 10, &[]).expect_err("not an object").to_string().contains("hunter2"));
}

#[test]
fn a_secret_reaches_the_wire_and_no_byte_written_or_printed() {
    let work = Work::new();
    let digest =
        work.write(numbered(vec![auth_record("Linux", "unix/Linux"), network("A")]), vec![], &[("unix/Linux", SECRET)]);
    // The target echoes the rejected value, as Qualys does for invalid parameters.
    let server = Server::start(|_, index| match index {
        0 => simple_error(400, 1905, "parameter password has invalid value: S3cr3t&amp;&lt;Value&gt;"),
        n => simple_id(n as u64),
    });
    let mut outputs = Vec::new();
    let dry = run(&work, server.url(), &digest).arg("--dry-run").output().expect("dry run");
    assert!(dry.status.success());
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains("password=********"),
        "{}",
        String::from_utf8_lossy(&dry.stdout)
    );
    assert!(server.seen().is_empty(), "a dry run sends nothing");
    let failed = run(&work, server.url(), &digest).output().expect("runs");
    assert_eq!(failed.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("invalid value: ********"));
    let done = run(&work, server.url(), &digest).output().expect("runs");
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let status =
        qmig(&work).arg("status").arg(work.bundle()).arg("--journal").arg(work.journal()).output().expect("status");
    for output in [&dry, &failed, &done, &status] {
        outputs.push(output.stdout.clone());
        outputs.push(output.stderr.clone());
    }

    let wire = server.seen()[0].body_text();
    assert!(wire.contains("password=S3cr3t%26%3CValue%3E"), "{wire}");
    assert!(!server.seen()[0].target.contains("S3cr3t"), "never in a URL");
    let outputs: Vec<&[u8]> = outputs.iter().map(Vec::as_slice).collect();
    for form in [SECRET, "S3cr3t%26%3CValue%3E", "S3cr3t&amp;&lt;Value&gt;"] {
        assert_nowhere(&work, &outputs, form);
    }
}
