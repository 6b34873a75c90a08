//! The replay loop against a scripted server: what goes on the wire, and what each kind of
//! answer leads to.

use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::server::{Answer, Server, simple_error, simple_id, xml};
use crate::support::*;

const IP_ADDED: &str = "<SIMPLE_RETURN><RESPONSE><TEXT>IPs successfully added to Vulnerability Management</TEXT></RESPONSE></SIMPLE_RETURN>";

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn network_list(entries: &[(&str, u64)]) -> Answer {
    let networks: String =
        entries.iter().map(|(name, id)| format!("<NETWORK><ID>{id}</ID><NAME>{name}</NAME></NETWORK>")).collect();
    xml(
        200,
        format!(
            "<NETWORK_LIST_OUTPUT><RESPONSE><NETWORK_LIST>{networks}</NETWORK_LIST></RESPONSE></NETWORK_LIST_OUTPUT>"
        ),
    )
}

#[test]
fn a_run_sends_every_request_in_order_and_a_rerun_sends_nothing() {
    let work = Work::new();
    let (tag, bodies) = tag("Linux", "network/Corp East#id");
    let requests =
        numbered(vec![network("Corp East"), asset_group("Finance", "Corp East"), tag, ips("10.0.0.1-10.0.0.5")]);
    let digest = work.write(requests, bodies, &[]);
    let server = Server::start(|seen, _| match seen.target.as_str() {
        "/api/2.0/fo/network/" => simple_id(7343),
        "/api/2.0/fo/asset/group/" => simple_id(55),
        "/qps/rest/2.0/create/am/tag" => xml(
            200,
            "<ServiceResponse><responseCode>SUCCESS</responseCode><count>1</count><data><Tag><id>99</id><name>Linux</name></Tag></data></ServiceResponse>",
        ),
        _ => xml(200, IP_ADDED),
    });
    let output = run(&work, server.url(), &digest).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("done: 4 requests in this run, 0 before, 0 left of 4"), "{}", stdout(&output));

    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("qmig_api:{PASSWORD}"));
    for request in &seen {
        assert_eq!(request.method, "POST");
        assert_eq!(request.header("Authorization"), Some(format!("Basic {basic}").as_str()));
        assert!(request.header("X-Requested-With").is_some());
    }
    assert_eq!(seen[0].target, "/api/2.0/fo/network/");
    assert_eq!(seen[0].header("Content-Type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(seen[0].body_text(), "action=create&name=Corp+East");
    assert_eq!(seen[1].body_text(), "action=add&title=Finance&network_id=7343");
    assert_eq!(seen[2].header("Content-Type"), Some("text/xml"));
    assert!(seen[2].body_text().contains("<parentTagId>7343</parentTagId>"), "{}", seen[2].body_text());
    assert_eq!(seen[3].body_text(), "action=add&ips=10.0.0.1-10.0.0.5&enable_vm=1&enable_pc=0&tracking_method=IP");

    let lines = work.journal_lines();
    assert_eq!(lines[0]["record"], "header");
    assert_eq!(lines[0]["bundle_digest"], digest.as_str());
    let kinds: Vec<&str> = lines[1..].iter().map(|l| l["record"].as_str().expect("record")).collect();
    assert_eq!(kinds, ["intent", "outcome", "intent", "outcome", "intent", "outcome", "intent", "outcome"]);
    assert_eq!(lines[2]["captures"]["network/Corp East#id"], "7343");
    assert_eq!(lines[6]["captures"]["tag/Linux#id"], "99");

    let again = run(&work, server.url(), &digest).output().expect("runs");
    assert!(again.status.success());
    assert!(stdout(&again).contains("done: 0 requests in this run, 4 before, 0 left of 4"), "{}", stdout(&again));
    assert_eq!(server.seen().len(), 4, "nothing is sent twice");
    let status =
        qmig(&work).arg("status").arg(work.bundle()).arg("--journal").arg(work.journal()).output().expect("status");
    assert!(stdout(&status).contains("done: 4 of 4 requests"), "{}", stdout(&status));
    assert!(stdout(&status).contains("left: nothing"), "{}", stdout(&status));
}

#[test]
fn blocked_calls_wait_as_the_headers_ask_then_retry() {
    let work = Work::new();
    let digest = work.write(numbered(vec![network("A")]), vec![], &[]);
    let server = Server::start(|_, index| {
        match index {
        0 => Answer::Reply {
            status: 409,
            headers: vec![("X-RateLimit-ToWait-Sec", "30".into()), ("X-RateLimit-Remaining", "0".into())],
            body: "<SIMPLE_RETURN><RESPONSE><CODE>1965</CODE><TEXT>This API cannot be run again for another 30 seconds.</TEXT></RESPONSE></SIMPLE_RETURN>".into(),
        },
        _ => simple_id(1),
    }
    });
    let started = Instant::now();
    let password_file = work.private_file("password", &format!("{PASSWORD}\n"));
    let mut cmd = run(&work, server.url(), &digest);
    let output = cmd.args(["--time-scale", "100"]).arg("--password-file").arg(password_file).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(started.elapsed() >= Duration::from_millis(300), "waited ToWait-Sec (scaled)");
    assert_eq!(server.seen().len(), 2);
    assert!(stdout(&output).contains("retries: 1, waits: 1"), "{}", stdout(&output));
    assert!(stderr(&output).contains("rate limit reached (1965)"), "{}", stderr(&output));
    let lines = work.journal_lines();
    assert_eq!(lines[2]["result"], "blocked");
    assert_eq!(lines[2]["qualys_code"], "1965");
    assert_eq!(lines[3]["reason"], "after_blocked");
}

#[test]
fn pacing_waits_before_the_limit_is_hit_and_never_on_a_busy_success() {
    let work = Work::new();
    let digest = work.write(numbered(vec![ips("10.0.0.1"), ips("10.0.0.2"), ips("10.0.0.3")]), vec![], &[]);
    let server = Server::start(|_, index| {
        let headers = match index {
            // A success at the concurrency limit: Running counts the call itself.
            0 => vec![
                ("X-Concurrency-Limit-Limit", "2".to_owned()),
                ("X-Concurrency-Limit-Running", "2".to_owned()),
                ("X-RateLimit-Remaining", "5".to_owned()),
            ],
            _ => vec![("x-ratelimit-remaining", "0".to_owned()), ("X-RATELIMIT-TOWAIT-SEC", "20".to_owned())],
        };
        Answer::Reply { status: 200, headers, body: IP_ADDED.into() }
    });
    let output = run(&work, server.url(), &digest).args(["--time-scale", "100"]).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(server.seen().len(), 3, "no call was repeated");
    assert!(stdout(&output).contains("retries: 0, waits: 1"), "{}", stdout(&output));
}

#[test]
fn registration_pending_stops_and_explains_the_eula() {
    let work = Work::new();
    let digest = work.write(numbered(vec![network("A"), network("B")]), vec![], &[]);
    let server = Server::start(|_, _| {
        simple_error(409, 2003, "Registration must be completed before API requests will be served for this account")
    });
    let output = run(&work, server.url(), &digest).output().expect("runs");
    assert_eq!(output.status.code(), Some(4));
    assert!(stderr(&output).contains("accept the EULA"), "{}", stderr(&output));
    assert!(stderr(&output).contains("2003"));
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn a_target_error_stops_the_run_and_a_later_run_sends_it_again() {
    let work = Work::new();
    let digest = work.write(numbered(vec![network("A"), network("B"), network("C")]), vec![], &[]);
    let server = Server::start(|_, index| match index {
        1 => simple_error(400, 1905, "parameter name has invalid value: B"),
        n => simple_id(n as u64),
    });
    let output = run(&work, server.url(), &digest).output().expect("runs");
    assert_eq!(output.status.code(), Some(4));
    let message = stderr(&output);
    assert!(
        message.contains("network/B") && message.contains("1905") && message.contains("invalid value: B"),
        "{message}"
    );
    assert_eq!(server.seen().len(), 2, "nothing after the error is sent");
    let status =
        qmig(&work).arg("status").arg(work.bundle()).arg("--journal").arg(work.journal()).output().expect("status");
    assert!(stdout(&status).contains("stopped on an error: #2 network/B: Qualys code 1905"), "{}", stdout(&status));

    let resumed = run(&work, server.url(), &digest).output().expect("runs");
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(server.seen().len(), 4);
    assert_eq!(work.journal_lines().last().expect("line")["captures"]["network/C#id"], "3");
}

#[test]
fn html_error_pages_stop_the_run() {
    let work = Work::new();
    let digest = work.write(numbered(vec![network("A")]), vec![], &[]);
    let server = Server::start(|_, _| Answer::Reply {
        status: 401,
        headers: vec![],
        body: "<html><body>401 Unauthorized</body></html>".into(),
    });
    let output = run(&work, server.url(), &digest).output().expect("runs");
    assert_eq!(output.status.code(), Some(4));
    assert!(stderr(&output).contains("refused the credentials"), "{}", stderr(&output));
}

#[test]
fn a_lost_create_response_is_settled_by_its_probe() {
    let work = Work::new();
    let digest = work.write(numbered(vec![network("A"), asset_group("G", "A")]), vec![], &[]);
    let server = Server::start(|_, index| match index {
        0 => Answer::Drop,
        1 => network_list(&[("Other", 3), ("A", 7)]),
        _ => simple_id(55),
    });
    let output = run(&work, server.url(), &digest).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "the create was not sent again");
    assert_eq!(seen[1].body_text(), "action=list");
    assert_eq!(seen[2].body_text(), "action=add&title=G&network_id=7");
    assert!(stderr(&output).contains("probe: it exists"), "{}", stderr(&output));
    let probe = work.journal_lines().into_iter().find(|l| l["record"] == "probe").expect("probe record");
    assert_eq!(probe["found"], "exists");
    assert_eq!(probe["captures"]["network/A#id"], "7");
}

#[test]
fn a_lost_create_is_sent_again_only_when_the_probe_finds_nothing() {
    let work = Work::new();
    let digest = work.write(numbered(vec![network("A")]), vec![], &[]);
    let server = Server::start(|_, index| match index {
        0 => Answer::Reply { status: 503, headers: vec![], body: String::new() },
        1 => network_list(&[]),
        _ => simple_id(8),
    });
    let output = run(&work, server.url(), &digest).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(server.seen().len(), 3);
    let reasons: Vec<String> =
        work.journal_lines().iter().filter(|l| l["record"] == "intent").map(|l| l["reason"].to_string()).collect();
    assert_eq!(reasons, ["\"first\"", "\"after_probe_absent\""]);
}

#[test]
fn an_idempotent_request_is_repeated_after_an_unknown_outcome() {
    let work = Work::new();
    let digest = work.write(numbered(vec![ips("10.0.0.1")]), vec![], &[]);
    let server = Server::start(|_, index| match index {
        0 => Answer::Drop,
        _ => xml(200, IP_ADDED),
    });
    let output = run(&work, server.url(), &digest).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(server.seen().len(), 2);
    assert!(stderr(&output).contains("an idempotent request may be repeated"), "{}", stderr(&output));
}

#[test]
fn an_unknown_create_without_probe_waits_for_the_operator() {
    let work = Work::new();
    let email = "jo@example.com";
    let digest = work.write(numbered(vec![user(email, false), user_id(email)]), vec![], &[]);
    let server = Server::start(|_, index| match index {
        0 => Answer::Drop,
        _ => xml(
            200,
            "<USER_LIST_OUTPUT><USER_LIST><USER><USER_LOGIN>acme_zz9</USER_LOGIN><USER_ID>1</USER_ID></USER><USER><USER_LOGIN>acme_jd2</USER_LOGIN><USER_ID>63</USER_ID></USER></USER_LIST></USER_LIST_OUTPUT>",
        ),
    });
    let output = run(&work, server.url(), &digest).output().expect("runs");
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    assert!(stderr(&output).contains("resolve"), "{}", stderr(&output));
    let again = run(&work, server.url(), &digest).output().expect("runs");
    assert_eq!(again.status.code(), Some(5));
    assert_eq!(server.seen().len(), 1, "never re-sent blindly");

    let status =
        qmig(&work).arg("status").arg(work.bundle()).arg("--journal").arg(work.journal()).output().expect("status");
    assert!(stdout(&status).contains("unknown outcome: #1 user/jo@example.com"), "{}", stdout(&status));

    let resolve = |extra: &[&str]| {
        let mut cmd = qmig(&work);
        cmd.arg("resolve")
            .arg(work.bundle())
            .args(["--request", "user/jo@example.com"])
            .arg("--journal")
            .arg(work.journal());
        cmd.args(extra).output().expect("resolve")
    };
    let without = resolve(&["--as", "done"]);
    assert_eq!(without.status.code(), Some(3));
    assert!(stderr(&without).contains("--capture 'user/jo@example.com#login=VALUE'"), "{}", stderr(&without));
    let recorded = resolve(&["--as", "done", "--capture", "user/jo@example.com#login=acme_jd2"]);
    assert!(recorded.status.success(), "{}", stderr(&recorded));
    let twice = resolve(&["--as", "retry"]);
    assert_eq!(twice.status.code(), Some(3), "a settled request takes no second decision");

    let resumed = run(&work, server.url(), &digest).output().expect("runs");
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(server.seen().len(), 2, "only the lookup was sent");
    assert_eq!(work.journal_lines().last().expect("line")["captures"]["user-id/jo@example.com#id"], "63");
}

#[test]
fn stop_after_stops_between_requests() {
    let work = Work::new();
    let digest = work.write(numbered(vec![network("A"), network("B"), network("C")]), vec![], &[]);
    let server = Server::start(|_, index| simple_id(index as u64));
    let first = run(&work, server.url(), &digest).args(["--stop-after", "2"]).output().expect("runs");
    assert!(first.status.success());
    assert!(stdout(&first).contains("stopped as asked"), "{}", stdout(&first));
    assert_eq!(server.seen().len(), 2);
    let rest = run(&work, server.url(), &digest).output().expect("runs");
    assert!(stdout(&rest).contains("done: 1 requests in this run, 2 before, 0 left of 3"), "{}", stdout(&rest));
}

#[test]
fn every_refusal_happens_before_anything_is_sent() {
    let work = Work::new();
    let digest = work.write(numbered(vec![auth_record("Linux", "unix/Linux")]), vec![], &[("unix/Linux", "pw")]);
    let server = Server::start(|_, _| simple_id(1));
    let refused = |cmd: &mut assert_cmd::Command, why: &str| {
        let output = cmd.output().expect("runs");
        assert_eq!(output.status.code(), Some(3), "{why}: {}", stderr(&output));
        stderr(&output)
    };

    let other = format!("sha256:{}", "0".repeat(64));
    let message = refused(&mut run(&work, server.url(), &other), "wrong digest");
    assert!(message.contains(&digest) && message.contains(&other), "{message}");
    assert!(
        refused(run(&work, server.url(), &digest).env("QMIG_SECRETS_PASSPHRASE", "wrong"), "passphrase")
            .contains("passphrase is wrong")
    );
    assert!(refused(&mut run(&work, "http://qualysapi.qualys.eu", &digest), "plain http").contains("https"));
    let open = work.path("open-password");
    std::fs::write(&open, "x").expect("writes");
    #[cfg(unix)]
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o644)).expect("chmod");
    assert!(
        refused(run(&work, server.url(), &digest).arg("--password-file").arg(&open), "open file").contains("chmod 600")
    );

    let held = std::fs::File::create(work.journal()).expect("journal");
    held.try_lock().expect("locks");
    assert!(refused(&mut run(&work, server.url(), &digest), "locked").contains("lock"));
    drop(held);
    let foreign = format!(
        "{{\"record\":\"header\",\"journal_format\":1,\"bundle_digest\":\"sha256:{}\",\"executor\":\"qmig-execute\",\"executor_version\":\"0.1.0\",\"target\":\"x\",\"at\":0}}\n",
        "1".repeat(64)
    );
    std::fs::write(work.journal(), foreign).expect("writes");
    assert!(refused(&mut run(&work, server.url(), &digest), "foreign journal").contains("belongs to bundle"));
    std::fs::write(work.journal(), "").expect("empties");

    std::fs::write(work.bundle().join("REVIEW.md"), "# Review, edited\n").expect("tampers");
    assert!(refused(&mut run(&work, server.url(), &digest), "tampered").contains("REVIEW.md"));
    assert!(server.seen().is_empty(), "no request reached the target");
}

#[test]
fn verify_prints_the_digest_last_and_names_the_first_problem() {
    let work = Work::new();
    let (tag, bodies) = tag("Linux", "network/A#id");
    let digest = work.write(numbered(vec![network("A"), tag]), bodies, &[]);
    let output = qmig(&work).arg("verify").arg(work.bundle()).output().expect("verify");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().last(), Some(format!("digest: {digest}").as_str()));
    std::fs::write(work.bundle().join("bodies/tag-Linux.xml"), "<x/>").expect("tampers");
    let output = qmig(&work).arg("verify").arg(work.bundle()).output().expect("verify");
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("bodies/tag-Linux.xml"), "{}", stderr(&output));
}
