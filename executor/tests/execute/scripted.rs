//! The few things a scripted server checks that the simulator cannot: the exact bytes on the
//! wire, answers the simulator never gives, and a target that echoes a secret back.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use qmig_schemas::journal::{Found, Record, SendResult};

use crate::secrets::{SECRET, SECRET_XML};
use crate::server::{Answer, Server, Tunnel, simple_error, simple_id, xml};
use crate::support::*;

const IPS_ADDED: &str = "<SIMPLE_RETURN><RESPONSE><TEXT>IPs successfully added to Vulnerability Management</TEXT></RESPONSE></SIMPLE_RETURN>";

/// Why scripted: the simulator parses what it receives, so only a server that records the raw
/// request can show the exact bytes. Each request goes out as a POST with Basic auth and
/// `X-Requested-With`; parameters form-encoded in the body, in bundle order, a captured value
/// substituted; an XML body with its slot filled and its own content type; and a secret
/// form-encoded in the body, never in the URL.
#[test]
fn the_wire_carries_exactly_what_the_bundle_says() {
    let work = Work::new();
    let (tag, bodies) = tag("Linux", Some("network/Corp East#id"));
    let requests = vec![
        network("Corp East"),
        asset_group("Finance", "Corp East"),
        tag,
        ips("10.0.0.1-10.0.0.5"),
        auth_record("Linux", LINUX_PASSWORD),
    ];
    let digest = work.write(requests, bodies, &[(LINUX_PASSWORD, SECRET)]);
    let server = Server::start(|seen, _| match seen.target.as_str() {
        "/api/2.0/fo/network/" => simple_id(7343),
        "/api/2.0/fo/asset/group/" => simple_id(55),
        "/qps/rest/2.0/create/am/tag" => xml(
            200,
            "<ServiceResponse><responseCode>SUCCESS</responseCode><count>1</count><data><Tag><id>99</id><name>Linux</name></Tag></data></ServiceResponse>",
        ),
        "/api/2.0/fo/auth/unix/" => xml(
            200,
            "<BATCH_RETURN><RESPONSE><BATCH_LIST><BATCH><TEXT>Successfully Created</TEXT><ID_SET><ID>12</ID></ID_SET></BATCH></BATCH_LIST></RESPONSE></BATCH_RETURN>",
        ),
        _ => xml(200, IPS_ADDED),
    });
    let dry = run(&work, server.url(), &digest).arg("--dry-run").output().expect("dry run");
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(server.seen().is_empty(), "a dry run sends nothing");
    let shown = stdout(&dry);
    assert!(shown.contains("| <ServiceRequest><data><Tag><name>Linux</name><parentTagId>{{capture:"), "{shown}");
    assert!(shown.contains("    | <ServiceRequest><filters><Criteria field=\"name\""), "the probe's body: {shown}");
    assert!(shown.contains("password=********"), "{shown}");
    let output = run(&work, server.url(), &digest).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));

    let seen = server.seen();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USERNAME}:{PASSWORD}"));
    for request in &seen {
        assert_eq!(request.method, "POST");
        assert_eq!(request.header("Authorization"), Some(format!("Basic {basic}").as_str()));
        assert!(request.header("X-Requested-With").is_some_and(|v| !v.is_empty()));
    }
    let targets: Vec<&str> = seen.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/api/2.0/fo/network/",
            "/api/2.0/fo/asset/group/",
            "/qps/rest/2.0/create/am/tag",
            "/api/2.0/fo/asset/ip/",
            "/api/2.0/fo/auth/unix/"
        ],
        "parameters never go in the URL"
    );
    assert_eq!(seen[0].header("Content-Type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(seen[0].body_text(), "action=create&name=Corp+East");
    assert_eq!(seen[1].body_text(), "action=add&title=Finance&network_id=7343");
    assert_eq!(seen[2].header("Content-Type"), Some("text/xml"));
    assert_eq!(
        seen[2].body_text(),
        "<ServiceRequest><data><Tag><name>Linux</name><parentTagId>7343</parentTagId></Tag></data></ServiceRequest>"
    );
    assert_eq!(seen[3].body_text(), "action=add&ips=10.0.0.1-10.0.0.5&enable_vm=1&enable_pc=0&tracking_method=IP");
    assert_eq!(
        seen[4].body_text(),
        "action=create&title=Linux&username=scanner&password=S3cr3t%26%3CValue%3E&ips=10.0.0.1"
    );
}

/// Why scripted: the simulator answers every call whole and never with CODE 1920 or an HTML
/// 414 page. A 409 with CODE 1920 is waited out and sent again; a 200 whose body is cut off
/// proves nothing, so the create's probe decides (and finds it); an HTML 414 page stops the
/// run with what it means.
#[test]
fn answers_the_simulator_never_gives_are_read_for_what_they_are() {
    let work = Work::new();
    let digest = work.write(vec![network("A"), network("B"), ips("10.0.0.1")], vec![], &[]);
    let server = Server::start(|_, index| {
        match index {
        0 => Answer {
            status: 409,
            headers: vec![("X-RateLimit-ToWait-Sec", "1".into())],
            body: "<SIMPLE_RETURN><RESPONSE><CODE>1920</CODE><TEXT>Blocked by other API requests</TEXT></RESPONSE></SIMPLE_RETURN>".into(),
        },
        1 => simple_id(1),
        2 => xml(200, "<SIMPLE_RETURN><RESPONSE><TEXT>Network created successfully</TEXT><ITEM_LIST><ITEM><KEY>ID</KEY>"),
        3 => xml(
            200,
            "<NETWORK_LIST_OUTPUT><RESPONSE><NETWORK_LIST><NETWORK><ID>1</ID><NAME>A</NAME></NETWORK>\
             <NETWORK><ID>2</ID><NAME>B</NAME></NETWORK></NETWORK_LIST></RESPONSE></NETWORK_LIST_OUTPUT>",
        ),
        _ => xml(
            414,
            "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\"><html><head><title>414 Request-URI Too Long</title></head></html>",
        ),
    }
    });
    let output = run(&work, server.url(), &digest).args(["--time-scale", "100"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("blocked by other API requests (1920)"), "{}", stderr(&output));
    assert!(stderr(&output).contains("ips/vm/10.0.0.1") && stderr(&output).contains("too long"), "{}", stderr(&output));
    assert_eq!(server.seen().len(), 5, "the blocked create was sent again, the cut-off one was not");

    let records = work.records();
    let blocked = records.iter().any(|r| {
        matches!(r, Record::Outcome(o) if o.result == SendResult::Blocked && o.qualys_code.as_deref() == Some("1920"))
    });
    assert!(blocked, "the block is journaled");
    let probe = records.iter().find_map(|r| if let Record::Probe(p) = r { Some(p) } else { None }).expect("a probe");
    assert_eq!((probe.id.as_str(), probe.found), ("network/B", Found::Exists));
    assert_eq!(work.captures().get("network/B#id").map(String::as_str), Some("2"));
}

/// Why scripted: the simulator never echoes a password back. When a target's error text
/// repeats the secret it was sent (raw or XML-escaped, as Qualys does for invalid values),
/// the executor masks it in what it prints and journals.
#[test]
fn a_target_echoing_a_secret_back_is_masked() {
    let work = Work::new();
    let digest = work.write(vec![auth_record("Linux", LINUX_PASSWORD)], vec![], &[(LINUX_PASSWORD, SECRET)]);
    // The text reads, once parsed: "... invalid value: <raw secret> (<XML-escaped secret>)".
    let escaped = SECRET_XML;
    let server = Server::start(move |_, _| {
        simple_error(400, 1905, &format!("parameter password has invalid value: {escaped} (<![CDATA[{escaped}]]>)"))
    });
    let output = run(&work, server.url(), &digest).output().expect("runs");
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("invalid value: ******** (********)"), "{}", stderr(&output));
    let shown = status(&work);
    assert!(stdout(&shown).contains("invalid value: ********"), "{}", stdout(&shown));
    assert_nowhere(&work, &[&output.stdout, &output.stderr, &shown.stdout, &shown.stderr], &[SECRET]);
}

const NETWORK_A_CREATED: &str = "action=create&name=A";

fn network_list(networks: &str) -> Answer {
    xml(
        200,
        format!(
            "<NETWORK_LIST_OUTPUT><RESPONSE><NETWORK_LIST>{networks}</NETWORK_LIST></RESPONSE></NETWORK_LIST_OUTPUT>"
        ),
    )
}

/// Why scripted: the simulator always names the new ID. A create answered with success but
/// without it was executed: when its probe then finds nothing (a wrong or early probe), it is
/// not sent again, on this run or the next; the operator decides, and `status` says so.
#[test]
fn a_create_executed_without_its_capture_is_never_sent_again() {
    let work = Work::new();
    let digest = work.write(vec![network("A")], vec![], &[]);
    let server = Server::start(|seen, _| match seen.body_text().as_str() {
        NETWORK_A_CREATED => {
            xml(200, "<SIMPLE_RETURN><RESPONSE><TEXT>Network created</TEXT></RESPONSE></SIMPLE_RETURN>")
        }
        _ => network_list(""),
    });
    let stopped = run(&work, server.url(), &digest).output().expect("runs");
    assert_eq!(stopped.status.code(), Some(4), "{}", stderr(&stopped));
    assert!(stderr(&stopped).contains("was executed, but"), "{}", stderr(&stopped));
    for _ in 0..2 {
        let output = run(&work, server.url(), &digest).output().expect("runs");
        assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
        assert!(stderr(&output).contains("its probe finds no such object"), "{}", stderr(&output));
    }
    let bodies: Vec<String> = server.seen().iter().map(|r| r.body_text()).collect();
    assert_eq!(bodies, [NETWORK_A_CREATED, "action=list", "action=list"], "one create, then a probe per run");
    let shown = status(&work);
    assert!(stdout(&shown).contains("captures missing: #1 network/A"), "{}", stdout(&shown));
}

/// Why scripted: the simulator makes its changes at once. A create answered with a 503 may
/// still be running at the target: its probe finds nothing at first, so it is asked again
/// once `--settle` has passed since the create was sent, and finds the network the target
/// finished meanwhile: the create is not sent again.
#[test]
fn an_unknown_create_is_given_time_to_settle_before_its_probe() {
    let work = Work::new();
    let digest = work.write(vec![network("A")], vec![], &[]);
    let received = Arc::new(Mutex::new(None::<Instant>));
    let server = Server::start(move |seen, _| {
        let mut received = received.lock().expect("lock");
        if seen.body_text() == NETWORK_A_CREATED {
            *received = Some(Instant::now());
            return xml(503, "");
        }
        // The target finishes the create 0.9 s after it answered 503.
        match *received {
            Some(at) if at.elapsed() >= Duration::from_millis(900) => {
                network_list("<NETWORK><ID>7</ID><NAME>A</NAME></NETWORK>")
            }
            _ => network_list(""),
        }
    });
    let output = run_settling(&work, server.url(), &digest, "1s").output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("not found yet; asking again"), "{}", stderr(&output));
    let bodies: Vec<String> = server.seen().iter().map(|r| r.body_text()).collect();
    assert_eq!(bodies, [NETWORK_A_CREATED, "action=list", "action=list"], "the create is not sent again");
    assert_eq!(work.captures().get("network/A#id").map(String::as_str), Some("7"));
}

/// Why scripted: the simulator never cuts a list into pages. A probe whose answer is one page
/// of a longer list (WARNING 1980), without the object, cannot tell that it is absent: the
/// create is not sent again, and the operator decides.
#[test]
fn a_probe_reading_one_page_of_a_longer_list_does_not_decide() {
    let work = Work::new();
    let digest = work.write(vec![network("A")], vec![], &[]);
    let server = Server::start(|seen, _| match seen.body_text().as_str() {
        NETWORK_A_CREATED => xml(503, ""),
        _ => xml(
            200,
            "<NETWORK_LIST_OUTPUT><RESPONSE><NETWORK_LIST><NETWORK><ID>1</ID><NAME>Z</NAME></NETWORK></NETWORK_LIST>\
             <WARNING><CODE>1980</CODE><TEXT>1 record limit exceeded. Use URL to get next batch of results.</TEXT>\
             <URL>https://qualysapi.qualys.eu/api/2.0/fo/network/?action=list&amp;id_min=2</URL></WARNING>\
             </RESPONSE></NETWORK_LIST_OUTPUT>",
        ),
    });
    let output = run(&work, server.url(), &digest).output().expect("runs");
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    assert!(stderr(&output).contains("one page of a longer list"), "{}", stderr(&output));
    let bodies: Vec<String> = server.seen().iter().map(|r| r.body_text()).collect();
    assert_eq!(bodies, [NETWORK_A_CREATED, "action=list"], "the create is not sent again");
}

/// Why scripted: the simulator cannot tell whether a call came through a proxy. Every call goes
/// through the proxy asked for (a CONNECT to the target), and without `--proxy` the proxy
/// settings of the environment are ignored.
#[test]
fn calls_go_through_the_proxy_asked_for_and_never_the_environments() {
    let tunnel = Tunnel::start();
    let sim = start(sim_config());
    let work = Work::new();
    let digest = work.write(vec![ips("10.0.0.1-10.0.0.5")], vec![], &[]);
    let output = run(&work, &sim.url(), &digest).args(["--proxy", tunnel.url()]).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let authority = sim.url().trim_start_matches("http://").to_owned();
    assert_eq!(tunnel.connects(), [format!("CONNECT {authority} HTTP/1.1")]);
    assert_eq!(sim.counters().mutating_calls, 1, "the call reached the target through the tunnel");

    let other = Work::new();
    let digest = other.write(vec![ips("10.0.0.6")], vec![], &[]);
    let output = run(&other, &sim.url(), &digest)
        .env("HTTP_PROXY", tunnel.url())
        .env("http_proxy", tunnel.url())
        .env("ALL_PROXY", tunnel.url())
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(tunnel.connects().len(), 1, "the environment's proxy saw nothing more");
    assert_eq!(sim.counters().mutating_calls, 2, "sent straight to the target");
}
