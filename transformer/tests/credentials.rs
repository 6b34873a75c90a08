//! The operator's credentials file through `qmig-transform`: files made by the real `age` and
//! `openssl` CLIs are read; a wrong passphrase, a plaintext file and every mistake in a row are
//! refused before anything is written, naming the line and never the value; unused rows are
//! reported, and refused with `--strict`; a request that refers to a row makes the bundle carry
//! the operator's file byte for byte, reproducibly. No byte written or printed holds a secret.

mod common;
#[path = "../../schemas/tests/operator/mod.rs"]
mod operator;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use assert_cmd::cargo::cargo_bin;
use qmig_schemas::credentials::open_as;
use qmig_schemas::{Effect, Manifest, SecretsFormat, verify_bundle, write_bundle};
use qmig_transform::bundle::{self, Provenance, Purpose};
use qmig_transform::cli::BundleArgs;
use qmig_transform::credentials::{self, Credentials};
use qmig_transform::plan::{Draft, TaskOutput};

use common::samples;
use operator::{age_cli, leaked, openssl_cli};

const PASSPHRASE: &str = "Tr0ub4dor & 3";
const LINUX: &str = "L1nux&<pw>\"root";
const ROUTERS: &str = "c0mmunity'str,ing";
const SA: &str = "sa-Pässword=1";
const SECRETS: [&str; 3] = [LINUX, ROUTERS, SA];

/// Three rows: a title with `&` and unicode, a username row, quoting.
fn plaintext() -> String {
    format!(
        "type,title,username,parameter,value\n\
         unix,Linux & Co — Zürich,,password,\"{}\"\n\
         snmp,Routers,,community_strings,\"{ROUTERS}\"\n\
         ms_sql,,sa,password,{SA}\n",
        LINUX.replace('"', "\"\"")
    )
}

struct Workplace {
    dir: tempfile::TempDir,
}

impl Workplace {
    fn new() -> Workplace {
        let workplace = Workplace { dir: tempfile::tempdir().expect("tempdir") };
        let networks = fs::read_to_string(samples().join("networks.xml")).expect("sample networks");
        fs::create_dir_all(workplace.export()).expect("mkdir");
        fs::write(workplace.export().join("networks.xml"), networks).expect("write");
        fs::create_dir_all(workplace.inputs()).expect("mkdir");
        workplace
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn export(&self) -> PathBuf {
        self.path("export")
    }

    fn inputs(&self) -> PathBuf {
        self.path("inputs")
    }

    fn out(&self) -> PathBuf {
        self.path("bundle")
    }

    /// Writes the encrypted file into the inputs directory, where it is found by its name.
    fn credentials(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.inputs().join(name);
        fs::write(&path, bytes).expect("write credentials");
        path
    }

    /// A passphrase file with `mode`.
    fn passphrase_file(&self, passphrase: &str, mode: u32) -> PathBuf {
        let path = self.path("passphrase");
        fs::write(&path, format!("{passphrase}\n")).expect("write");
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode)).expect("chmod");
        path
    }

    /// `qmig-transform bundle` with only the environment given here; stdin is not a terminal.
    fn transform(&self, passphrase: Option<&str>, extra: &[&str]) -> Transformed {
        let mut command = Command::new(cargo_bin("qmig-transform"));
        command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
        if let Some(passphrase) = passphrase {
            command.env(credentials::PASSPHRASE_ENV, passphrase);
        }
        let output = command
            .arg("bundle")
            .arg(self.export())
            .arg("--out")
            .arg(self.out())
            .arg("--inputs")
            .arg(self.inputs())
            .args(extra)
            .output()
            .expect("qmig-transform runs");
        Transformed { code: output.status.code(), stdout: output.stdout, stderr: output.stderr }
    }

    /// Every byte of the bundle but the carried encrypted file.
    fn bundle_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        let mut pending = vec![self.out()];
        while let Some(dir) = pending.pop() {
            for entry in fs::read_dir(&dir).expect("read dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    pending.push(path);
                } else if !path.ends_with("secrets.age") && !path.ends_with("secrets.aes") {
                    files.push((path.clone(), fs::read(&path).expect("read")));
                }
            }
        }
        files
    }

    fn manifest(&self) -> Manifest {
        serde_json::from_slice(&fs::read(self.out().join("manifest.json")).expect("manifest")).expect("parses")
    }
}

struct Transformed {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Transformed {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    fn digest(&self) -> String {
        let stdout = String::from_utf8_lossy(&self.stdout);
        stdout.lines().last().and_then(|l| l.strip_prefix("digest: ")).expect("a digest line").to_owned()
    }
}

/// No output and no byte of the bundle (but the carried encrypted file) holds a secret.
fn assert_no_secret(work: &Workplace, run: &Transformed) {
    assert_eq!(leaked(&run.stdout, &SECRETS), None, "stdout");
    assert_eq!(leaked(&run.stderr, &SECRETS), None, "stderr");
    if work.out().exists() {
        for (path, bytes) in work.bundle_bytes() {
            assert_eq!(leaked(&bytes, &SECRETS), None, "{}", path.display());
        }
    }
}

/// Files made by `age -p` (binary and armored) and `openssl enc` (default and non-default
/// `-iter`) are read; the manifest lists the file with how it is encrypted; no task refers to
/// its rows yet, so every row is reported unused, in REVIEW.md and the manifest's warnings; the
/// same inputs give the same digest.
#[test]
fn files_from_the_real_tools_are_read_and_their_unused_rows_reported() {
    let text = plaintext();
    let cases: [(&str, Vec<u8>, &[&str], &str); 5] = [
        ("credentials.csv.age", age_cli(text.as_bytes(), PASSPHRASE, false), &[], "age (passphrase, scrypt)"),
        ("credentials.csv.age", age_cli(text.as_bytes(), PASSPHRASE, true), &[], "age (passphrase, scrypt)"),
        (
            "credentials.csv.aes",
            openssl_cli(text.as_bytes(), PASSPHRASE, None),
            &[],
            "OpenSSL AES-256-CBC, PBKDF2-HMAC-SHA256 with 10000 iterations",
        ),
        (
            "credentials.csv.aes",
            openssl_cli(text.as_bytes(), PASSPHRASE, Some(600_000)),
            &[],
            "OpenSSL AES-256-CBC, PBKDF2-HMAC-SHA256 with 600000 iterations",
        ),
        (
            "credentials.csv.aes",
            openssl_cli(text.as_bytes(), PASSPHRASE, Some(25_000)),
            &["--credentials-iter", "25000"],
            "OpenSSL AES-256-CBC, PBKDF2-HMAC-SHA256 with 25000 iterations",
        ),
    ];
    for (name, bytes, extra, kind) in cases {
        let work = Workplace::new();
        work.credentials(name, &bytes);
        let run = work.transform(Some(PASSPHRASE), extra);
        assert_eq!(run.code, Some(0), "{name} ({kind}): {}", run.stderr());
        let manifest = work.manifest();
        let listed = manifest.inputs.iter().find(|i| i.path == format!("inputs/{name}")).expect("listed as an input");
        assert_eq!(listed.kind, format!("credentials, {kind}"));
        assert_eq!(manifest.secrets, None, "no request refers to a row: the file is not carried");
        let unused: Vec<&str> =
            manifest.warnings.iter().filter(|w| w.task == "credentials").map(|w| w.message.as_str()).collect();
        assert_eq!(
            unused,
            [
                format!(
                    "inputs/{name}: line 2: unix title \"Linux & Co — Zürich\", parameter `password` matches no authentication record: unused"
                ),
                format!(
                    "inputs/{name}: line 3: snmp title \"Routers\", parameter `community_strings` matches no authentication record: unused"
                ),
                format!(
                    "inputs/{name}: line 4: ms_sql username \"sa\", parameter `password` matches no authentication record: unused"
                ),
            ]
        );
        assert!(!manifest.warnings.iter().any(|w| w.message.contains("not a file qmig reads")), "the file is read");
        let review = fs::read_to_string(work.out().join("REVIEW.md")).expect("review");
        assert!(review.contains("## Secrets") && review.contains("line 4: ms\\_sql username"), "{review}");
        assert_no_secret(&work, &run);

        let again = work.transform(Some(PASSPHRASE), &[extra, &["--force"]].concat());
        assert_eq!(again.digest(), run.digest(), "same inputs, same bundle");
    }
}

/// A wrong passphrase, a plaintext file, a passphrase file others can read, no passphrase at
/// all and two credentials files are each refused (exit 3) before anything is written.
#[test]
fn what_cannot_be_opened_is_refused_before_anything_is_written() {
    let text = plaintext();
    let refused = |work: &Workplace, passphrase: Option<&str>, extra: &[&str], expected: &str| {
        let run = work.transform(passphrase, extra);
        assert_eq!(run.code, Some(3), "{}", run.stderr());
        assert!(run.stderr().contains(expected), "expected `{expected}` in: {}", run.stderr());
        assert!(!work.out().exists(), "nothing written");
        assert_no_secret(work, &run);
    };

    let work = Workplace::new();
    let file = work.credentials("credentials.csv.age", &age_cli(text.as_bytes(), PASSPHRASE, false));
    refused(&work, Some("not the passphrase"), &[], &format!("{}: the passphrase is wrong", file.display()));

    let work = Workplace::new();
    work.credentials("credentials.csv.aes", &openssl_cli(text.as_bytes(), PASSPHRASE, None));
    refused(
        &work,
        Some("not the passphrase"),
        &[],
        "the passphrase is wrong, or `openssl enc` was given an -iter other than 10000, 100000, 200000, 310000, 600000, 1000000",
    );
    let open = work.passphrase_file(PASSPHRASE, 0o644);
    let flag = open.to_str().expect("utf-8");
    refused(
        &work,
        None,
        &["--credentials-passphrase-file", flag],
        "readable by other users (mode 644); run `chmod 600` on it",
    );
    refused(&work, None, &[], "no passphrase for the credentials file, and no terminal to ask on");
    work.credentials("credentials.csv.age", &age_cli(text.as_bytes(), PASSPHRASE, false));
    refused(&work, Some(PASSPHRASE), &[], "holds both credentials.csv.age and credentials.csv.aes");

    // Refused as plaintext without a passphrase being asked for (none is given).
    let work = Workplace::new();
    let file = work.path("credentials.csv");
    fs::write(&file, &text).expect("write");
    refused(&work, None, &["--credentials", file.to_str().expect("utf-8")], "not encrypted: this is the plaintext CSV");
}

/// Each mistake in a row, with the message the operator sees (once: the chain does not repeat
/// it): the file, the line, what is wrong; never the value.
#[test]
fn every_mistake_in_a_row_names_its_line_and_never_the_value() {
    let cases = [
        (
            "unix,Linux,root,password,{v}",
            "line 2: names both a title and a username; a row is for one record title or for one username",
        ),
        ("unix,,,password,{v}", "line 2: names neither a title nor a username"),
        ("unix,Linux,,password,", "line 2: the value is empty"),
        (
            "unix,Linux,,password,{v}\nunix,Linux,,password,{v}",
            "lines 2 and 3 both give `unix/title:Linux/password`; keep one",
        ),
    ];
    for (row, expected) in cases {
        let work = Workplace::new();
        let text = format!("type,title,username,parameter,value\n{}\n", row.replace("{v}", SA));
        let file = work.credentials("credentials.csv.aes", &openssl_cli(text.as_bytes(), PASSPHRASE, None));
        let run = work.transform(Some(PASSPHRASE), &[]);
        assert_eq!(run.code, Some(3), "{}", run.stderr());
        assert_eq!(run.stderr(), format!("error: {}: {expected}\n", file.display()));
        assert!(!work.out().exists(), "nothing written");
        assert_no_secret(&work, &run);
    }
}

#[test]
fn unused_rows_are_refused_with_strict_listing_them_all() {
    let work = Workplace::new();
    let file = work.credentials("credentials.csv.aes", &openssl_cli(plaintext().as_bytes(), PASSPHRASE, None));
    let run = work.transform(Some(PASSPHRASE), &["--strict"]);
    assert_eq!(run.code, Some(3), "{}", run.stderr());
    let expected = format!(
        "{}: 3 row(s) match no authentication record, refused with --strict:\n  \
         line 2: unix title \"Linux & Co — Zürich\", parameter `password`\n  \
         line 3: snmp title \"Routers\", parameter `community_strings`\n  \
         line 4: ms_sql username \"sa\", parameter `password`",
        file.display()
    );
    assert!(run.stderr().contains(&expected), "{}", run.stderr());
    assert!(!work.out().exists(), "nothing written");
    assert_no_secret(&work, &run);
}

/// The authentication-record task's side of the contract, with a synthetic request: a record
/// gets its rows by title or username; the bundle then carries the operator's file byte for byte
/// and declares exactly the rows requests refer to; it verifies, opens as declared, and the same
/// inputs give the same digest.
#[test]
fn a_request_referring_to_a_row_makes_the_bundle_carry_the_file_verbatim() {
    for (name, encrypted) in [
        ("credentials.csv.aes", openssl_cli(plaintext().as_bytes(), PASSPHRASE, Some(200_000))),
        ("credentials.csv.age", age_cli(plaintext().as_bytes(), PASSPHRASE, true)),
    ] {
        let work = Workplace::new();
        work.credentials(name, &encrypted);
        let passphrase = work.passphrase_file(PASSPHRASE, 0o600);
        let args = BundleArgs {
            inputs: Some(work.inputs()),
            credentials_passphrase_file: Some(passphrase),
            ..BundleArgs::new(work.export(), work.out())
        };
        let loaded = Credentials::load(&args).expect("loads").expect("found in the inputs directory");
        let secrets = loaded.for_record("unix", "Linux & Co — Zürich", Some("root")).expect("not ambiguous");
        assert_eq!(secrets.len(), 1);
        assert_eq!(secrets[0].name, "unix/title:Linux & Co — Zürich/password");
        assert_eq!(secrets[0].line, 2);

        let mut output = TaskOutput::new("authentication records");
        output.requests.push(
            Draft::post(
                "authentication records",
                "auth/unix/Linux".into(),
                Effect::Create,
                "/api/2.0/fo/auth/unix/",
                "Create".into(),
            )
            .param("action", "create")
            .param(&secrets[0].parameter, qmig_schemas::Value::Parts(vec![secrets[0].reference()])),
        );
        let digests: Vec<String> = (0..2)
            .map(|_| {
                let outputs = vec![output.clone()];
                let carried = credentials::carry(Some(&loaded), &outputs, false).expect("carried");
                assert_eq!(carried.warnings.len(), 2, "the two other rows are unused");
                let provenance = Provenance {
                    purpose: Purpose::Migration,
                    target: None,
                    sources: vec![],
                    inputs: vec![loaded.input.clone()],
                    unrecognised: vec![],
                    warnings: carried.warnings,
                    secrets: carried.secrets,
                };
                let contents = bundle::assemble(outputs, provenance, None).expect("assembled");
                write_bundle(&work.out(), &contents, true).expect("written")
            })
            .collect();
        assert_eq!(digests[0], digests[1], "same inputs, same bundle");

        let verified = verify_bundle(&work.out()).expect("verifies");
        let declared = verified.manifest.secrets.clone().expect("declares the carried file");
        assert_eq!(declared.names, ["unix/title:Linux & Co — Zürich/password"]);
        assert_eq!(declared.file, declared.format.file_name());
        assert_eq!(verified.secrets_bytes(), Some(encrypted.as_slice()), "byte for byte");
        let rows = open_as(&encrypted, PASSPHRASE, declared.format, 20).expect("opens as declared");
        assert!(rows.iter().any(|r| r.name.to_string() == declared.names[0] && r.value() == LINUX));
        let review = fs::read_to_string(work.out().join("REVIEW.md")).expect("review");
        let expected_cipher = match declared.format {
            SecretsFormat::Age => "not the AES256 the migration guide names",
            SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { .. } => "this is the AES256 the migration guide asks for",
        };
        assert!(review.contains(expected_cipher), "{review}");
        assert!(review.contains("- `unix/title:Linux & Co — Zürich/password`"), "{review}");
        for (path, bytes) in work.bundle_bytes() {
            assert_eq!(leaked(&bytes, &SECRETS), None, "{}", path.display());
        }
    }
}

/// A record that is given a parameter both by its title and by its username is refused with
/// the two lines named.
#[test]
fn a_parameter_given_by_title_and_by_username_is_refused() {
    let text = "type,title,username,parameter,value\nwindows,DC,,password,a1!\nwindows,,svc_scan,password,b2!\n";
    let work = Workplace::new();
    let file = work.credentials("credentials.csv.aes", &openssl_cli(text.as_bytes(), PASSPHRASE, None));
    let args = BundleArgs {
        inputs: Some(work.inputs()),
        credentials_passphrase_file: Some(work.passphrase_file(PASSPHRASE, 0o600)),
        ..BundleArgs::new(work.export(), work.out())
    };
    let loaded = Credentials::load(&args).expect("loads").expect("found");
    let error = loaded.for_record("windows", "DC", Some("svc_scan")).expect_err("ambiguous");
    assert_eq!(
        error.to_string(),
        format!(
            "{}: lines 2 and 3 both give the windows record \"DC\" its `password`, one by its title and one by its \
             username; keep one",
            file.display()
        )
    );
    assert!(!error.to_string().contains("a1!") && !error.to_string().contains("b2!"));
}
