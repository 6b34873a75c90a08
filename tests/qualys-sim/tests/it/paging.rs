//! Truncated lists: v2 `WARNING`/`URL` followed verbatim, QPS `hasMoreRecords`/`lastId`.

use std::collections::BTreeSet;

use crate::common::{Client, all, child, config, start, text};

/// Follows `WARNING/URL` from `first` until no warning is left; returns the IDs of every page.
fn follow(c: &Client, first: &str, list: &[&str], item: &str) -> (Vec<String>, usize) {
    let mut url = format!("{}{first}", c.base);
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let path = url.strip_prefix(&c.base).expect("the URL points back at the simulator").to_owned();
        let doc = c.get(&path).xml();
        pages += 1;
        ids.extend(all(child(&doc, list), item).iter().map(|e| text(e, &["ID"])));
        match doc.get_child("RESPONSE").and_then(|r| r.get_child("WARNING")) {
            Some(w) => {
                assert_eq!(text(w, &["CODE"]), "1980");
                url = text(w, &["URL"]);
            }
            None => return (ids, pages),
        }
    }
}

#[test]
fn asset_group_pages_yield_every_group_once() {
    let (_sim, c) = start(config());
    for i in 0..7 {
        c.post(
            "/api/2.0/fo/asset/group/",
            &[("action", "add"), ("title", &format!("Group {i}")), ("ips", &format!("10.1.{i}.1"))],
        )
        .new_id();
    }
    let (ids, pages) = follow(
        &c,
        "/api/2.0/fo/asset/group/?action=list&truncation_limit=3&show_attributes=ALL",
        &["RESPONSE", "ASSET_GROUP_LIST"],
        "ASSET_GROUP",
    );
    assert_eq!(pages, 3);
    assert_eq!(ids.len(), 8, "seven groups and All");
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 8, "no group twice: {ids:?}");
}

#[test]
fn ipv6_mapping_pages_yield_every_record_once() {
    let (_sim, c) = start(config());
    let csv: String = (1..=12).map(|i| format!("0.0.0.{i},2001:db8::{i:x}\n")).collect();
    c.post("/api/2.0/fo/asset/ip/v4_v6/", &[("action", "add"), ("csv_data", &csv)]);
    let (ids, pages) = follow(
        &c,
        "/api/2.0/fo/asset/ip/v4_v6/?action=list&output_format=xml&truncation_limit=5",
        &["RESPONSE", "IP_MAP_LIST"],
        "IP_MAP",
    );
    assert_eq!((ids.len(), pages), (12, 3));
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 12);
}

fn tag_page(c: &Client, filters: &str, offset: usize) -> (Vec<String>, bool, Option<String>) {
    let body = format!(
        "<ServiceRequest><filters>{filters}</filters><preferences><startFromOffset>{offset}</startFromOffset>\
         <limitResults>10</limitResults></preferences></ServiceRequest>"
    );
    let doc = c.post_xml("/qps/rest/2.0/search/am/tag", &body).xml();
    let ids: Vec<String> =
        doc.get_child("data").map(|d| all(d, "Tag").iter().map(|t| text(t, &["id"])).collect()).unwrap_or_default();
    assert_eq!(text(&doc, &["count"]), ids.len().to_string());
    let last = doc.get_child("lastId").map(|_| text(&doc, &["lastId"]));
    (ids, text(&doc, &["hasMoreRecords"]) == "true", last)
}

#[test]
fn tag_searches_page_by_last_id_and_by_offset() {
    let (_sim, c) = start(config());
    for i in 0..21 {
        let body = format!("<ServiceRequest><data><Tag><name>Tag {i}</name></Tag></data></ServiceRequest>");
        c.post_xml("/qps/rest/2.0/create/am/tag", &body);
    }
    let total = 21 + 4;
    let mut by_last_id = Vec::new();
    let mut filter = String::new();
    loop {
        let (ids, more, last) = tag_page(&c, &filter, 1);
        by_last_id.extend(ids);
        if !more {
            assert!(last.is_none());
            break;
        }
        let last = last.expect("lastId while there is more");
        filter = format!("<Criteria field=\"id\" operator=\"GREATER\">{last}</Criteria>");
    }
    let mut by_offset = Vec::new();
    let mut offset = 1;
    loop {
        let (ids, more, _) = tag_page(&c, "", offset);
        offset += ids.len();
        by_offset.extend(ids);
        if !more {
            break;
        }
    }
    assert_eq!(by_last_id.len(), total);
    assert_eq!(by_last_id.iter().collect::<BTreeSet<_>>().len(), total);
    assert_eq!(by_last_id, by_offset);
}

#[test]
fn policy_list_pages_yield_every_policy_once() {
    let (_sim, c) = start(config());
    for i in 0..5 {
        let body = format!(
            "<POLICY_EXPORT_OUTPUT><RESPONSE><POLICY><TITLE>P{i}</TITLE></POLICY></RESPONSE></POLICY_EXPORT_OUTPUT>"
        );
        c.post_xml(&format!("/api/2.0/fo/compliance/policy/?action=import&title=P{i}"), &body).new_id();
    }
    let (ids, pages) = follow(
        &c,
        "/api/2.0/fo/compliance/policy/?action=list&details=Basic&truncation_limit=2",
        &["RESPONSE", "POLICY_LIST"],
        "POLICY",
    );
    assert_eq!((ids.len(), pages), (5, 3));
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 5);
}
