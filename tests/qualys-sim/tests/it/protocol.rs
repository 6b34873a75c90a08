//! Authentication, required headers, routing and the generic error codes.

use crate::common::{Reply, all, child, config, network_names, qps_code, start, text};

const LIMIT_HEADERS: [&str; 6] = [
    "X-RateLimit-Limit",
    "X-RateLimit-Window-Sec",
    "X-RateLimit-Remaining",
    "X-RateLimit-ToWait-Sec",
    "X-Concurrency-Limit-Limit",
    "X-Concurrency-Limit-Running",
];

fn assert_limit_headers(reply: &Reply) {
    for name in LIMIT_HEADERS {
        let value = reply.header(name).unwrap_or_else(|| panic!("{name} missing on a {} answer", reply.status));
        assert!(value.parse::<u64>().is_ok(), "{name}: {value}");
    }
}

#[test]
fn basic_auth_is_required_and_checked() {
    let (_sim, c) = start(config());
    let anonymous = c.bare("GET", "/api/2.0/fo/network/?action=list", &[("X-Requested-With", "t")]);
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("Content-Type").is_some_and(|t| t.starts_with("text/html")));
    assert!(anonymous.header("WWW-Authenticate").is_some_and(|v| v.starts_with("Basic")));
    assert_limit_headers(&anonymous);

    let wrong = "Basic bndpbmRfbWc6d3Jvbmc="; // nwind_mg:wrong
    let v2 = c.bare("GET", "/api/2.0/fo/network/?action=list", &[("Authorization", wrong), ("X-Requested-With", "t")]);
    assert_eq!(v2.error_code(), (401, "2000".into()));
    assert_eq!(text(&v2.xml(), &["RESPONSE", "TEXT"]), "Bad Login/Password");
    // QPS answers HTTP 200 and says it in the body only, as captured from Qualys.
    let qps = c.bare("POST", "/qps/rest/2.0/search/am/tag", &[("Authorization", wrong), ("X-Requested-With", "t")]);
    assert_eq!((qps.status, qps_code(&qps)), (200, "INVALID_CREDENTIALS".into()));
    let details = child(&qps.xml(), &["responseErrorDetails"]).clone();
    assert_eq!(text(&details, &["errorMessage"]), "Authentication failed");
    assert_eq!(text(&details, &["errorResolution"]), "Verify both, user and password credentials.");
    let v1 = c.bare("GET", "/msp/user_list.php", &[("Authorization", wrong), ("X-Requested-With", "t")]);
    assert_eq!(v1.status, 401);
    assert!(v1.body.contains("<html>"));
}

#[test]
fn x_requested_with_is_required() {
    let (_sim, c) = start(config());
    let reply = c.bare("GET", "/api/2.0/fo/network/?action=list", &[("Authorization", c.auth_header())]);
    assert_eq!(reply.error_code(), (400, "1903".into()));
    assert!(text(&reply.xml(), &["RESPONSE", "TEXT"]).contains("X-Requested-With"));
    assert_limit_headers(&reply);
}

#[test]
fn unknown_paths_get_an_html_page_and_unslashed_paths_a_redirect() {
    let (_sim, c) = start(config());
    let missing = c.get("/api/2.0/fo/nothing/?action=list");
    assert_eq!(missing.status, 404);
    assert!(missing.header("Content-Type").is_some_and(|t| t.starts_with("text/html")));
    assert!(missing.body.contains("Not Found"));
    let unslashed = c.get("/api/2.0/fo/network?action=list");
    assert_eq!(unslashed.status, 301);
    assert_eq!(unslashed.header("Location"), Some(format!("{}/api/2.0/fo/network/?action=list", c.base).as_str()));
    let bad_type = c.get("/api/2.0/fo/auth/bogus/?action=list");
    assert_eq!(bad_type.status, 404);
}

#[test]
fn generic_errors_use_the_documented_codes() {
    let (_sim, c) = start(config());
    let net = "/api/2.0/fo/network/";
    assert_eq!(
        c.post(net, &[("action", "create"), ("name", "x"), ("colour", "red")]).error_code(),
        (400, "1901".into())
    );
    assert_eq!(c.post(net, &[("action", "create")]).error_code(), (400, "1903".into()));
    assert_eq!(c.post(net, &[]).error_code(), (400, "1903".into()));
    assert_eq!(c.post(net, &[("action", "destroy")]).error_code(), (400, "1905".into()));
    assert_eq!(c.get("/api/2.0/fo/network/?action=create&name=x").error_code(), (400, "1908".into()));
    let unknown_network =
        c.post("/api/2.0/fo/asset/group/", &[("action", "add"), ("title", "G"), ("network_id", "4242")]);
    assert_eq!(unknown_network.error_code(), (400, "1905".into()));
    assert_eq!(
        text(&unknown_network.xml(), &["RESPONSE", "TEXT"]),
        "parameter network_id has invalid value: 4242 (No such network ID)"
    );
}

#[test]
fn user_list_errors_answer_in_its_own_document() {
    let (_sim, c) = start(config());
    let refused = c.post("/msp/user_list.php", &[("login", "nwind_mg")]);
    assert_eq!(refused.status, 200, "V1 calls report failures in the body");
    let doc = refused.xml();
    assert_eq!(doc.name, "USER_LIST_OUTPUT");
    let error = child(&doc, &["ERROR"]);
    assert_eq!(error.attributes.get("number").map(String::as_str), Some("1901"));
    assert!(text(error, &[]).contains("login"), "{}", refused.body);
}

#[test]
fn parameters_count_from_the_query_and_the_body() {
    let (_sim, c) = start(config());
    let id = c.post("/api/2.0/fo/network/?action=create", &[("name", "Split")]).new_id();
    assert_eq!(network_names(&c), ["Global Default Network", "Split"]);
    let listed = c.post(&format!("/api/2.0/fo/network/?ids={id}"), &[("action", "list")]).xml();
    let networks = all(child(&listed, &["RESPONSE", "NETWORK_LIST"]), "NETWORK");
    assert_eq!(networks.iter().map(|n| text(n, &["NAME"])).collect::<Vec<_>>(), ["Split"], "the ids filter applies");
}

#[test]
fn every_answer_carries_the_limit_headers() {
    let (_sim, c) = start(config());
    let answers = [
        c.get("/api/2.0/fo/network/?action=list"),
        c.post("/api/2.0/fo/network/", &[("action", "create")]),
        c.post("/msp/user_list.php", &[]),
        c.post("/qps/rest/2.0/search/am/tag", &[]),
    ];
    for reply in &answers {
        assert_limit_headers(reply);
    }
    assert_eq!(answers[0].header("X-Concurrency-Limit-Running"), Some("1"), "Running counts the call itself");
}
