//! Secrets: decrypted in memory, sent to the target only, masked everywhere else.

use qmig_execute::secrets::{SecretsError, decrypt};
use qmig_schemas::credentials::CredentialsError;
use qmig_schemas::{Secrets, SecretsFormat, sha256_hex};
use zeroize::Zeroizing;

use crate::operator::{age_cli, openssl_cli};
use crate::support::*;

/// A password with characters that XML and form encoding both change.
pub const SECRET: &str = "S3cr3t&<Value>";
/// [`SECRET`] XML-escaped, as a target may echo it.
pub const SECRET_XML: &str = "S3cr3t&amp;&lt;Value&gt;";

const SPARE: &str = "unix/username:spare/password";
const SPARE_VALUE: &str = "Sp4re-never-sent";

/// The credentials file as `age -p` and `openssl enc` write it: only the declared rows are kept,
/// a declared row that is missing is named, and the passphrase and format are checked.
#[test]
fn decryption_keeps_the_declared_rows_of_files_the_real_tools_wrote() {
    let csv = credentials_csv(&[(LINUX_PASSWORD, "s3cr&t"), (SPARE, "other")]);
    let pass = |p: &str| Zeroizing::new(p.to_owned());
    let openssl = SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { iterations: 100_000 };
    let files = [
        (SecretsFormat::Age, age_cli(csv.as_bytes(), PASSPHRASE, true)),
        (openssl, openssl_cli(csv.as_bytes(), PASSPHRASE, Some(100_000))),
    ];
    for (format, file) in files {
        let declared = |names: &[&str]| Secrets {
            file: format.file_name().into(),
            format,
            names: names.iter().map(|n| (*n).to_owned()).collect(),
        };
        let secrets = decrypt(&file, pass(PASSPHRASE), 20, &declared(&[LINUX_PASSWORD])).expect("decrypts");
        assert_eq!(
            (secrets.get(LINUX_PASSWORD), secrets.get(SPARE)),
            (Some("s3cr&t"), None),
            "only declared rows are kept"
        );
        assert_eq!(secrets.mask("bad value s3cr&amp;t and s3cr&t"), "bad value ******** and ********");
        assert!(!format!("{secrets:?}").contains("s3cr"));
        let missing =
            decrypt(&file, pass(PASSPHRASE), 20, &declared(&["unix/title:Other/password"])).expect_err("no such row");
        assert!(matches!(&missing, SecretsError::Missing { name, .. } if name == "unix/title:Other/password"));
        assert_eq!(
            missing.to_string(),
            format!(
                "{}: holds no row for secret `unix/title:Other/password`, which the manifest declares",
                format.file_name()
            )
        );
        let wrong = decrypt(&file, pass("wrong"), 20, &declared(&[])).expect_err("wrong passphrase");
        assert!(
            matches!(wrong, SecretsError::Unreadable { problem: CredentialsError::WrongPassphrase, .. }),
            "{wrong}"
        );
    }
}

/// A bundle whose authentication-record create takes its password from a credentials file
/// written by `age -p` runs against the simulator: a dry run shows the password masked and sends
/// nothing; the run creates the record with exactly the operator's password (the simulator lists
/// it without, as Qualys does); and no byte of the journal, the bundle (but the encrypted file),
/// the target's export or any output of `run`, `status` or the dry run holds the password or
/// the file's unused row, raw, form-encoded, XML-escaped or base64.
#[test]
fn a_secret_reaches_the_target_and_no_byte_written_or_printed() {
    let work = Work::new();
    let requests = vec![auth_record("Linux", LINUX_PASSWORD), network("A")];
    // The file holds a row no request refers to: it travels encrypted, and is never sent.
    let csv = credentials_csv(&[(LINUX_PASSWORD, SECRET), (SPARE, SPARE_VALUE)]);
    let credentials = (SecretsFormat::Age, age_cli(csv.as_bytes(), PASSPHRASE, false));
    let digest = work.write_credentials(requests, vec![], vec![LINUX_PASSWORD.into()], Some(credentials), vec![]);
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
    let received = sim.auth_secrets();
    assert_eq!(received["unix"]["Linux"]["password"], sha256_hex(SECRET.as_bytes()), "exactly the operator's secret");

    let outputs: Vec<&[u8]> =
        [&dry, &done, &shown].iter().flat_map(|o| [o.stdout.as_slice(), o.stderr.as_slice()]).collect();
    assert_nowhere(&work, &outputs, &[SECRET, SPARE_VALUE]);
}
