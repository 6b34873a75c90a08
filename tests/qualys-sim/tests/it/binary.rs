//! The `qualys-sim` binary: first line, curl, clean shutdown and the report.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};

use crate::common::{PASSWORD, USER, samples};

fn spawn(extra: &[&str]) -> (Child, BufReader<ChildStdout>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qualys-sim"))
        .args(["--listen", "127.0.0.1:0", "--user", USER, "--password", PASSWORD])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    out.read_line(&mut first).expect("a first line");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    assert!(!url.ends_with(":0"), "the real port is shown: {url}");
    (child, out, url)
}

fn report(child: Child, mut out: BufReader<ChildStdout>) -> serde_json::Value {
    let mut rest = String::new();
    out.read_to_string(&mut rest).expect("the report");
    let status = child.wait_with_output().expect("exit").status;
    assert!(status.success(), "exit status {status}");
    serde_json::from_str(&rest).unwrap_or_else(|e| panic!("a JSON report ({e}): {rest}"))
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

#[test]
fn curl_works_against_the_binary_and_shutdown_reports() {
    let (child, out, url) = spawn(&["--seed", samples().to_str().expect("UTF-8 path")]);
    if have("curl") {
        let run = |args: &[&str]| {
            let output = Command::new("curl")
                .args(["-sS", "-u", &format!("{USER}:{PASSWORD}"), "-H", "X-Requested-With: curl"])
                .args(args)
                .output()
                .expect("curl runs");
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8(output.stdout).expect("UTF-8")
        };
        assert!(run(&[&format!("{url}/api/2.0/fo/network/?action=list")]).contains("Corp East"));
        let created = run(&["-d", "action=create", "-d", "name=From curl", &format!("{url}/api/2.0/fo/network/")]);
        assert!(created.contains("<KEY>ID</KEY>"), "{created}");
        let tag = run(&[
            "-H",
            "Content-Type: text/xml",
            "--data-binary",
            "<ServiceRequest><data><Tag><name>curl</name></Tag></data></ServiceRequest>",
            &format!("{url}/qps/rest/2.0/create/am/tag"),
        ]);
        assert!(tag.contains("<responseCode>SUCCESS</responseCode>"), "{tag}");
    }
    let client = crate::common::Client::new(&url);
    assert_eq!(client.post("/__sim/shutdown", &[]).status, 200);
    let report = report(child, out);
    assert_eq!(report["objects"]["networks"], if have("curl") { 5 } else { 4 });
}

#[test]
fn sigterm_stops_the_binary_cleanly() {
    let (mut child, out, url) = spawn(&[]);
    crate::common::Client::new(&url).get("/api/2.0/fo/network/?action=list");
    let Ok(killed) = Command::new("kill").args(["-TERM", &child.id().to_string()]).status() else {
        // No kill(1) on this machine: nothing to send the signal with.
        child.kill().expect("stopped");
        return;
    };
    assert!(killed.success());
    let report = report(child, out);
    assert_eq!(report["calls"]["/api/2.0/fo/network/?action=list"], 1);
}

#[test]
fn bad_arguments_fail_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_qualys-sim")).args(["--rate-limit", "0/60"]).output().expect("runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("CALLS/WINDOW_SECONDS"));
    let output = Command::new(env!("CARGO_BIN_EXE_qualys-sim")).args(["--time-scale", "0"]).output().expect("runs");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("time_scale"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
