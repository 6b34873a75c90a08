//! Values the target's create calls refuse are found when the bundle is made, every offending
//! object at once, instead of stopping the run at its first request; the operator supplies what
//! the source lacks in the inputs.

mod common;

use std::fs;

use common::{cli, export_with, param, transform};

/// A user as `/msp/user_list.php` lists it, with `contact` inside CONTACT_INFO.
fn user(login: &str, contact: &str, extra: &str) -> String {
    format!(
        "<USER><USER_LOGIN>{login}</USER_LOGIN><USER_ID>{}</USER_ID>{extra}<CONTACT_INFO>\
         <FIRSTNAME>First {login}</FIRSTNAME><LASTNAME>Last</LASTNAME><TITLE>Analyst</TITLE>\
         <EMAIL>{login}@northwind.example</EMAIL>{contact}</CONTACT_INFO>\
         <USER_ROLE>Reader</USER_ROLE><BUSINESS_UNIT>Unassigned</BUSINESS_UNIT></USER>\n",
        login.len()
    )
}

fn user_list(users: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<USER_LIST_OUTPUT><USER_LIST>\n{}</USER_LIST></USER_LIST_OUTPUT>\n",
        users.concat()
    )
}

/// A US user with an empty STATE (as a real capture had it), a user without a city and with an
/// external ID too long, and a user the call takes as it is.
fn users() -> String {
    let long_id = format!("<EXTERNAL_ID>{}</EXTERNAL_ID>", "x".repeat(300));
    user_list(&[
        user(
            "nw_us",
            "<ADDRESS1>1 Main St</ADDRESS1><CITY>Boston</CITY><COUNTRY>United States of America</COUNTRY><STATE></STATE>",
            "",
        ),
        user("nw_no", "<ADDRESS1>Storgata 1</ADDRESS1><COUNTRY>Norway</COUNTRY>", &long_id),
        user("nw_pt", "<ADDRESS1>Rua Augusta 1</ADDRESS1><CITY>Lisbon</CITY><COUNTRY>Portugal</COUNTRY>", ""),
    ])
}

#[test]
fn every_user_the_add_call_would_refuse_is_listed_at_once() {
    let export = export_with(&[("users.xml", &users())]);
    let out = tempfile::tempdir().expect("tempdir");
    let run = cli(export.path(), &out.path().join("bundle"), &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let message = run.stderr;
    assert!(message.contains("2 object(s) have values the target would refuse"), "{message}");
    assert!(message.contains("users.xml:3 (ID 5, \"nw_us\"): user nw_us"), "{message}");
    assert!(message.contains("COUNTRY is \"United States of America\" and STATE is empty"), "{message}");
    assert!(message.contains("users.xml:4 (ID 5, \"nw_no\"): user nw_no"), "{message}");
    assert!(message.contains("has no CONTACT_INFO/CITY"), "{message}");
    assert!(message.contains("EXTERNAL_ID has 300 characters; the Add User call takes at most 256"), "{message}");
    assert!(message.contains("inputs/user_fields.csv"), "{message}");
    assert!(!message.contains("nw_pt"), "{message}");
    assert!(!out.path().join("bundle").exists());
}

/// The export of `users()` and an inputs directory holding `user_fields.csv` with these rows.
fn with_user_fields(rows: &str) -> (tempfile::TempDir, tempfile::TempDir) {
    let csv = format!("login,field,value\n{rows}");
    (export_with(&[("users.xml", &users())]), export_with(&[("user_fields.csv", &csv)]))
}

#[test]
fn the_operator_supplies_what_the_source_lacks() {
    let (export, inputs) =
        with_user_fields("nw_us,state,Massachusetts\nnw_no,city,Oslo\nnw_no,external_id,EMP-00142\n");
    let contents =
        transform(export.path(), |args| args.inputs = Some(inputs.path().to_path_buf())).expect("transforms");
    let requests = &contents.manifest.requests;
    let us = requests.iter().find(|r| r.id == "user/nw_us").expect("nw_us is added");
    assert_eq!(param(us, "state").as_deref(), Some("Massachusetts"));
    let names: Vec<&str> = us.params.iter().map(|p| p.name.as_str()).collect();
    let (country, state) = (names.iter().position(|n| *n == "country"), names.iter().position(|n| *n == "state"));
    assert!(country < state, "parameters keep the call's order: {names:?}");
    let no = requests.iter().find(|r| r.id == "user/nw_no").expect("nw_no is added");
    assert_eq!(param(no, "city").as_deref(), Some("Oslo"));
    assert_eq!(param(no, "external_id").as_deref(), Some("EMP-00142"));
    let read = contents.manifest.inputs.iter().find(|f| f.path == "inputs/user_fields.csv").expect("recorded");
    assert_eq!(read.kind, "user fields");
    common::verified(&contents);
}

#[test]
fn a_supplied_value_for_a_login_the_export_lacks_is_refused() {
    let (export, inputs) =
        with_user_fields("nw_us,state,Massachusetts\nnw_nx,city,Oslo\nnw_no,city,Oslo\nnw_no,external_id,E-1\n");
    let out = tempfile::tempdir().expect("tempdir");
    let run = cli(export.path(), &out.path().join("bundle"), &["--inputs", &inputs.path().to_string_lossy()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("inputs/user_fields.csv:3: no user of the export has the login `nw_nx`"),
        "{}",
        run.stderr
    );
    assert!(fs::read_dir(out.path()).expect("read").next().is_none(), "nothing written");
}
