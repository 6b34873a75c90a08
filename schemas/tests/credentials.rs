//! The credentials file as operators make it: the real `age` and `openssl` CLIs write it, the
//! contract crate opens it (detecting format and iteration count), and every mistake in it is
//! refused with its line named and no value quoted.

mod operator;

use base64::Engine as _;
use qmig_schemas::credentials::{CredentialsError, RowProblem, open, open_as, parse};
use qmig_schemas::{SecretName, SecretsFormat, Selector};

use operator::{age_cli, leaked, openssl_cli};

const PASSPHRASE: &str = "correct horse battery staple";
const WORK_FACTOR: u8 = 20;
/// Values with characters every encoding changes, a comma, a quote and a line break.
const ROOT: &str = "R00t&<pw>\"1";
const COMMUNITY: &str = "pub,lic'x\nline2";
/// Unquoted, with a quote inside: data, as spreadsheets write it.
const SA: &str = "Sä p@ss=\"1+2";

/// Titles with a comma, a quote, a slash, `&` and unicode; a username row; CRLF line ends.
fn plaintext() -> String {
    [
        "type,title,username,parameter,value",
        "unix,\"Linux, \"\"prod\"\" / east\",,password,\"R00t&<pw>\"\"1\"",
        "snmp,Routers & Switches — Zürich,,community_strings,\"pub,lic'x\nline2\"",
        "ms_sql,,sa,password,Sä p@ss=\"1+2",
        "",
    ]
    .join("\r\n")
}

fn names_and_values(rows: &[qmig_schemas::credentials::Row]) -> Vec<(u64, String, String)> {
    rows.iter().map(|r| (r.line, r.name.to_string(), r.value().to_owned())).collect()
}

fn expected() -> Vec<(u64, String, String)> {
    vec![
        (2, "unix/title:Linux, \"prod\" / east/password".to_owned(), ROOT.to_owned()),
        (3, "snmp/title:Routers & Switches — Zürich/community_strings".to_owned(), COMMUNITY.to_owned()),
        (5, "ms_sql/username:sa/password".to_owned(), SA.to_owned()),
    ]
}

#[test]
fn files_from_the_age_cli_binary_and_armored_are_read() {
    for armor in [false, true] {
        let file = age_cli(plaintext().as_bytes(), PASSPHRASE, armor);
        let opened = open(&file, PASSPHRASE, None, WORK_FACTOR).expect("opens");
        assert_eq!(opened.format, SecretsFormat::Age);
        assert_eq!(names_and_values(&opened.rows), expected(), "armor: {armor}");
        let wrong = open(&file, "not it", None, WORK_FACTOR).expect_err("wrong passphrase");
        assert!(matches!(wrong, CredentialsError::WrongPassphrase), "{wrong}");
        let low = open(&file, PASSPHRASE, None, 10).expect_err("above the work factor");
        assert!(matches!(low, CredentialsError::ExcessiveWork { required: 18, max: 10 }), "{low}");
    }
}

#[test]
fn files_from_openssl_enc_are_read_and_their_iteration_count_detected() {
    for (given, detected) in [(None, 10_000), (Some(310_000), 310_000), (Some(1_000_000), 1_000_000)] {
        let file = openssl_cli(plaintext().as_bytes(), PASSPHRASE, given);
        assert!(file.starts_with(b"Salted__"));
        let opened = open(&file, PASSPHRASE, None, WORK_FACTOR).expect("opens");
        assert_eq!(opened.format, SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { iterations: detected });
        assert_eq!(names_and_values(&opened.rows), expected());
        let rows = open_as(&file, PASSPHRASE, opened.format, WORK_FACTOR).expect("opens as declared");
        assert_eq!(names_and_values(&rows), expected());
    }
}

#[test]
fn an_iteration_count_outside_the_list_is_found_only_when_given() {
    let file = openssl_cli(plaintext().as_bytes(), PASSPHRASE, Some(4_321));
    let searched = open(&file, PASSPHRASE, None, WORK_FACTOR).expect_err("not in the list");
    let message = searched.to_string();
    assert!(message.contains("10000, 100000, 200000, 310000, 600000, 1000000"), "{message}");
    assert!(message.contains("--credentials-iter"), "{message}");
    let given = open(&file, PASSPHRASE, Some(4_321), WORK_FACTOR).expect("opens with the count given");
    assert_eq!(given.format, SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { iterations: 4_321 });
}

#[test]
fn the_declared_format_is_the_only_one_tried() {
    let file = openssl_cli(plaintext().as_bytes(), PASSPHRASE, None);
    let declared = SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { iterations: 100_000 };
    let wrong_count = open_as(&file, PASSPHRASE, declared, WORK_FACTOR).expect_err("another count");
    assert!(matches!(wrong_count, CredentialsError::WrongPassphrase), "{wrong_count}");
    let declared = SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { iterations: 10_000 };
    let wrong = open_as(&file, "not it", declared, WORK_FACTOR).expect_err("wrong passphrase");
    assert!(matches!(wrong, CredentialsError::WrongPassphrase), "{wrong}");
    let mismatch = open_as(&file, PASSPHRASE, SecretsFormat::Age, WORK_FACTOR).expect_err("not age");
    assert_eq!(
        mismatch.to_string(),
        "is encrypted as OpenSSL AES-256-CBC, but the manifest declares age (passphrase, scrypt)"
    );
}

#[test]
fn a_file_that_is_not_encrypted_is_refused() {
    let plain = open(plaintext().as_bytes(), PASSPHRASE, None, WORK_FACTOR).expect_err("plaintext");
    assert!(matches!(plain, CredentialsError::Plaintext), "{plain}");
    let with_bom = format!("\u{feff}{}", plaintext());
    assert!(matches!(open(with_bom.as_bytes(), PASSPHRASE, None, WORK_FACTOR), Err(CredentialsError::Plaintext)));
    let armored = base64::engine::general_purpose::STANDARD.encode(openssl_cli(b"x", PASSPHRASE, None));
    let base64 = open(armored.as_bytes(), PASSPHRASE, None, WORK_FACTOR).expect_err("base64");
    assert!(matches!(base64, CredentialsError::Base64), "{base64}");
    let other = open(b"PK\x03\x04 a zip file", PASSPHRASE, None, WORK_FACTOR).expect_err("not encrypted");
    assert!(matches!(other, CredentialsError::NotEncrypted), "{other}");
    assert!(leaked(plain.to_string().as_bytes(), &[ROOT, COMMUNITY, SA]).is_none());
}

/// Each mistake an operator makes in the plaintext, with the message they see: the line, what is
/// wrong, and never the value (which, with shifted columns, could be in any field).
#[test]
fn every_mistake_names_its_line_and_never_a_value() {
    let cases: [(&str, &str); 9] = [
        (
            "unix,Linux,root,password,Hunter2!x",
            "line 2: names both a title and a username; a row is for one record title or for one username",
        ),
        ("unix,,,password,Hunter2!x", "line 2: names neither a title nor a username"),
        ("unix,Linux,,password,", "line 2: the value is empty"),
        (
            "unix,Linux,,password,Hunter2!x\nunix,Linux,,password,Hunter2!x",
            "lines 2 and 3 both give `unix/title:Linux/password`; keep one",
        ),
        (
            "Hunter2!x,Linux,,password,unix",
            "line 2: `type` is not an authentication-record type slug (`unix`, `windows`, `ms_sql`, ...)",
        ),
        (
            "unix,Linux,,Hunter2!x,password",
            "line 2: `parameter` is not a parameter of the create call (`password`, `community_strings`, ...)",
        ),
        (
            "unix,Linux,,password,Hunter2!x,extra",
            "line 2: has 6 fields; every row has 5 (`type,title,username,parameter,value`)",
        ),
        (
            "\n\nunix,Linux,,password,\"Hunter2!x",
            "line 4: a quoted field is not closed, or text follows its closing quote",
        ),
        (
            "unix,Linux,,password,\"Hun\"ter2!x\"",
            "line 2: a quoted field is not closed, or text follows its closing quote",
        ),
    ];
    for (rows, message) in cases {
        let text = format!("type,title,username,parameter,value\n{rows}\n");
        let error = parse(text.as_bytes()).expect_err(rows);
        assert_eq!(error.to_string(), message);
        assert_eq!(leaked(error.to_string().as_bytes(), &["Hunter2!x"]), None);
        assert!(!format!("{error:?}").contains("Hunter2"), "{error:?}");
    }
    let header = parse(b"type,title,user,parameter,value\nunix,Linux,,password,Hunter2!x\n").expect_err("header");
    assert!(matches!(header, CredentialsError::Header));
    let rows = parse(b"type,title,username,parameter,value\nunix,Linux,,password,Hunter2!x\n").expect("parses");
    assert!(!format!("{rows:?}").contains("Hunter2"), "Debug never shows a value: {rows:?}");
    let bad = parse(b"type,title,username,parameter,value\nunix,Linux,,password,\xff\xfe\n").expect_err("not utf-8");
    assert!(matches!(bad, CredentialsError::NotUtf8 { line: 2 }));
    assert!(matches!(
        parse(b"type,title,username,parameter,value\nwindows,Domain,,password\n"),
        Err(CredentialsError::Row { line: 2, problem: RowProblem::FieldCount(4) })
    ));
}

#[test]
fn canonical_names_read_back_whatever_the_title_holds() {
    for name in ["unix/title:Linux, \"prod\" / east/password", "ms_sql/username:DOM\\sa/password"] {
        let parsed = SecretName::parse(name).expect("canonical");
        assert_eq!(parsed.to_string(), name);
    }
    let parsed = SecretName::parse("oracle/title:a/b/c/passphrase").expect("canonical");
    assert_eq!(parsed.selector, Selector::Title("a/b/c".to_owned()));
    for not_canonical in
        ["unix/password", "Unix/title:x/password", "unix/name:x/password", "unix/title:/password", "unix/title:x/"]
    {
        assert_eq!(SecretName::parse(not_canonical), None, "{not_canonical}");
    }
}
