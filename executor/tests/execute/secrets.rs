//! Secrets: decrypted in memory, sent to the target only, masked everywhere else.

use qmig_execute::secrets::{SecretsError, decrypt};
use zeroize::Zeroizing;

use crate::support::*;

/// A password with characters that XML and form encoding both change.
pub const SECRET: &str = "S3cr3t&<Value>";
/// [`SECRET`] as it would appear in each encoding: raw, form-encoded, XML-escaped.
pub const SECRET_FORMS: [&str; 3] = [SECRET, "S3cr3t%26%3CValue%3E", "S3cr3t&amp;&lt;Value&gt;"];

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
    let two = encrypt(br#"{"unix/root": "a", "unix/spare": "b"}"#, "right");
    let kept = decrypt(&two, pass("right"), 10, &["unix/root".into()]).expect("decrypts");
    assert_eq!((kept.get("unix/root"), kept.get("unix/spare")), (Some("a"), None), "only declared secrets are kept");
    let list = encrypt(b"[\"hunter2\"]", "p");
    assert!(!decrypt(&list, pass("p"), 10, &[]).expect_err("not an object").to_string().contains("hunter2"));
}

/// A bundle whose authentication-record create takes its password from `secrets.age` runs
/// against the simulator: a dry run shows the password masked and sends nothing; the run
/// creates the record (the simulator lists it, without its password, as Qualys does); and no
/// byte of the journal, the bundle, the target's export or any output of `run`, `status` or
/// the dry run holds the password, raw, form-encoded or XML-escaped.
#[test]
fn a_secret_reaches_the_target_and_no_byte_written_or_printed() {
    let work = Work::new();
    let requests = vec![auth_record("Linux", "unix/Linux"), network("A")];
    let digest = work.write(requests, vec![], &[("unix/Linux", SECRET)]);
    let sim = start(sim_config());

    let dry = run(&work, &sim.url(), &digest).arg("--dry-run").output().expect("dry run");
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(stdout(&dry).contains("password=********"), "{}", stdout(&dry));
    assert_eq!(calls(&sim.counters()), 0, "a dry run sends nothing");

    let passphrase = work.private_file("passphrase", &format!("{PASSPHRASE}\n"));
    let done = run(&work, &sim.url(), &digest)
        .env_remove("QMIG_SECRETS_PASSPHRASE")
        .arg("--passphrase-file")
        .arg(passphrase)
        .output()
        .expect("runs");
    assert!(done.status.success(), "{}", stderr(&done));
    let shown = status(&work);
    let counters = sim.counters();
    assert_eq!(count(&counters.calls, "/api/2.0/fo/auth/unix/?action=create"), 1);
    assert_eq!(count(&counters.objects, "auth_records"), 1);

    let export = Export::of(&sim, &work.path("target-export"));
    let records = export.auth_records("unix");
    assert_eq!(records.len(), 1, "one Unix record");
    assert_eq!(field(&records[0], "TITLE"), "Linux");
    assert_eq!(field(&records[0], "USERNAME"), "scanner");
    assert!(records[0].path("PASSWORD").is_none(), "the target never lists a password");
    let id = field(&records[0], "ID");
    assert_eq!(work.captures().get("auth-unix/Linux#id"), Some(&id));

    let outputs: Vec<&[u8]> =
        [&dry, &done, &shown].iter().flat_map(|o| [o.stdout.as_slice(), o.stderr.as_slice()]).collect();
    for form in SECRET_FORMS {
        assert_nowhere(&work, &outputs, form);
    }
}
