//! Every endpoint: its answer document, its errors, and IDs that later lists agree with.

use qualys_sim::Config;
use xmltree::Element;

use crate::common::{
    Client, Reply, USER, all, child, config, files, populate, qps_code, samples, start, text, v1_status,
};

fn ids_listed(c: &Client, path_and_query: &str, list: &[&str], item: &str) -> Vec<String> {
    let doc = c.get(path_and_query).xml();
    all(child(&doc, list), item).iter().map(|e| text(e, &["ID"])).collect()
}

#[test]
fn networks_are_created_once_and_listed() {
    let (_sim, c) = start(config());
    let id = c.post("/api/2.0/fo/network/", &[("action", "create"), ("name", "DMZ & Partners #2")]).new_id();
    let doc = c.get("/api/2.0/fo/network/?action=list").xml();
    assert_eq!(doc.name, "NETWORK_LIST_OUTPUT");
    let networks = all(child(&doc, &["RESPONSE", "NETWORK_LIST"]), "NETWORK");
    let names: Vec<(String, String)> = networks.iter().map(|n| (text(n, &["ID"]), text(n, &["NAME"]))).collect();
    assert_eq!(names, [("0".into(), "Global Default Network".into()), (id.to_string(), "DMZ & Partners #2".into())]);
    let again = c.post("/api/2.0/fo/network/", &[("action", "create"), ("name", "dmz & partners #2")]);
    assert_eq!(again.error_code(), (400, "1905".into()));
}

#[test]
fn ips_are_listed_per_module_and_tracking_method() {
    let (_sim, c) = start(config());
    let add = |ips: &str, tracking: &str, vm: &str, pc: &str| {
        let r = c.post(
            "/api/2.0/fo/asset/ip/",
            &[("action", "add"), ("ips", ips), ("tracking_method", tracking), ("enable_vm", vm), ("enable_pc", pc)],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r
    };
    let both = add("10.0.0.1-10.0.0.3,10.0.0.4", "IP", "1", "1");
    assert_eq!(
        text(&both.xml(), &["RESPONSE", "TEXT"]),
        "IPs successfully added to Vulnerability Management and Policy Compliance"
    );
    add("10.0.0.9", "DNS", "1", "0");
    let ip_set = |query: &str| {
        let doc = c.get(&format!("/api/2.0/fo/asset/ip/?action=list&{query}")).xml();
        assert_eq!(doc.name, "IP_LIST_OUTPUT");
        doc.get_child("RESPONSE")
            .and_then(|r| r.get_child("IP_SET"))
            .map(|s| {
                s.children
                    .iter()
                    .filter_map(|n| n.as_element())
                    .map(|e| format!("{}={}", e.name, text(e, &[])))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(ip_set("compliance_enabled=0&tracking_method=IP"), ["IP_RANGE=10.0.0.1-10.0.0.4"]);
    assert_eq!(
        ip_set("compliance_enabled=1&tracking_method=IP"),
        ["IP_RANGE=10.0.0.1-10.0.0.4"],
        "an IP in both modules is in both lists"
    );
    assert_eq!(ip_set("compliance_enabled=0&tracking_method=DNS"), ["IP=10.0.0.9"]);
    assert!(ip_set("compliance_enabled=1&tracking_method=DNS").is_empty());
    assert_eq!(ip_set(""), ["IP_RANGE=10.0.0.1-10.0.0.4", "IP=10.0.0.9"]);
    assert_eq!(ip_set("ips=10.0.0.2-10.0.0.9"), ["IP_RANGE=10.0.0.2-10.0.0.4", "IP=10.0.0.9"]);

    let echoed = c
        .post(
            "/api/2.0/fo/asset/ip/",
            &[("action", "list"), ("tracking_method", "IP"), ("compliance_enabled", "1"), ("echo_request", "1")],
        )
        .xml();
    let params: Vec<(String, String)> = all(child(&echoed, &["REQUEST", "PARAM_LIST"]), "PARAM")
        .iter()
        .map(|p| (text(p, &["KEY"]), text(p, &["VALUE"])))
        .collect();
    assert_eq!(params[1], ("tracking_method".into(), "IP".into()));
    assert_eq!(params[2], ("compliance_enabled".into(), "1".into()));

    let none = c.post("/api/2.0/fo/asset/ip/", &[("action", "add"), ("ips", "10.0.0.20")]);
    assert_eq!(none.error_code(), (400, "1922".into()));
    let bad = c.post("/api/2.0/fo/asset/ip/", &[("action", "add"), ("ips", "10.0.0.0/24"), ("enable_vm", "1")]);
    assert_eq!(bad.error_code(), (400, "1905".into()));
}

#[test]
fn domains_go_through_the_v1_api() {
    let (_sim, c) = start(config());
    let added = c
        .post(
            "/msp/asset_domain.php",
            &[("action", "add"), ("domain", "corp.example"), ("netblock", "10.1.0.0-10.1.0.255,10.2.0.1")],
        )
        .xml();
    assert_eq!(added.name, "GENERIC_RETURN");
    assert_eq!(v1_status(&added), Some("SUCCESS"));
    let again = c.post("/msp/asset_domain.php", &[("action", "add"), ("domain", "corp.example")]).xml();
    assert_eq!(v1_status(&again), Some("FAILED"));
    let list = c.post("/msp/asset_domain_list.php", &[]).xml();
    assert_eq!(list.name, "DOMAIN_LIST");
    let domain = all(&list, "DOMAIN")[0];
    assert_eq!(text(domain, &["DOMAIN_NAME"]), "corp.example");
    assert!(text(domain, &["DOMAIN_ID"]).parse::<u64>().is_ok());
    assert_eq!(text(domain, &["NETWORK", "NETWORK_ID"]), "0");
    let ranges: Vec<String> = all(child(domain, &["NETBLOCK"]), "RANGE")
        .iter()
        .map(|r| format!("{}-{}", text(r, &["START"]), text(r, &["END"])))
        .collect();
    assert_eq!(ranges, ["10.1.0.0-10.1.0.255", "10.2.0.1-10.2.0.1"]);
}

#[test]
fn asset_groups_check_their_references_and_list_every_attribute() {
    let (_sim, c) = start(config());
    let net = c.post("/api/2.0/fo/network/", &[("action", "create"), ("name", "East")]).new_id().to_string();
    let scanner = c.post("/api/2.0/fo/appliance/", &[("action", "create"), ("name", "east-1")]).xml();
    let scanner = text(&scanner, &["RESPONSE", "APPLIANCE", "ID"]);
    let add = |extra: &[(&'static str, &str)]| {
        let mut form = vec![("action", "add"), ("title", "Finance Servers")];
        form.extend_from_slice(extra);
        c.post("/api/2.0/fo/asset/group/", &form)
    };
    assert_eq!(add(&[("appliance_ids", "999")]).error_code(), (400, "1905".into()));
    assert_eq!(add(&[("business_impact", "enormous")]).error_code(), (400, "1905".into()));
    let id = add(&[
        ("network_id", &net),
        ("ips", "10.5.0.1-10.5.0.9"),
        ("appliance_ids", &scanner),
        ("default_appliance_id", &scanner),
        ("business_impact", "medium"),
        ("cvss_enviro_cdp", "low-medium"),
        ("comments", "PCI scope"),
    ])
    .new_id();
    assert_eq!(add(&[]).error_code(), (400, "1905".into()), "titles are unique");
    assert_eq!(
        c.post("/api/2.0/fo/asset/group/", &[("action", "add"), ("title", "All")]).error_code(),
        (400, "1905".into())
    );

    let doc = c.get(&format!("/api/2.0/fo/asset/group/?action=list&show_attributes=ALL&ids={id}")).xml();
    let group = all(child(&doc, &["RESPONSE", "ASSET_GROUP_LIST"]), "ASSET_GROUP")[0];
    assert_eq!(text(group, &["TITLE"]), "Finance Servers");
    assert_eq!(text(group, &["NETWORK_ID"]), net);
    assert_eq!(text(group, &["BUSINESS_IMPACT"]), "Medium");
    assert_eq!(text(group, &["CVSS_ENVIRO_CDP"]), "Low-Medium");
    assert_eq!(text(group, &["CVSS_ENVIRO_TD"]), "Not Defined");
    assert_eq!(text(group, &["APPLIANCE_IDS"]), scanner);
    assert_eq!(text(group, &["IP_SET", "IP_RANGE"]), "10.5.0.1-10.5.0.9");
    assert_eq!(text(group, &["COMMENTS"]), "PCI scope");
    let brief = c.get(&format!("/api/2.0/fo/asset/group/?action=list&show_attributes=TITLE&ids={id}")).xml();
    let brief = all(child(&brief, &["RESPONSE", "ASSET_GROUP_LIST"]), "ASSET_GROUP")[0];
    assert_eq!(
        brief.children.iter().filter_map(|n| n.as_element()).map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["ID", "TITLE"]
    );
    let titled = ids_listed(
        &c,
        "/api/2.0/fo/asset/group/?action=list&title=Finance%20Servers",
        &["RESPONSE", "ASSET_GROUP_LIST"],
        "ASSET_GROUP",
    );
    assert_eq!(titled, [id.to_string()]);
}

#[test]
fn users_get_generated_logins_and_preferences_travel() {
    let (_sim, c) = start(config());
    let form = |extra: &[(&'static str, &'static str)]| {
        let mut f = vec![
            ("action", "add"),
            ("user_role", "reader"),
            ("business_unit", "Unassigned"),
            ("first_name", "Grace"),
            ("last_name", "Hopper"),
            ("title", "Auditor"),
            ("email", "grace@example.invalid"),
            ("address1", "1 Navy Way"),
            ("city", "Arlington"),
            ("country", "United States of America"),
            ("state", "Virginia"),
        ];
        f.extend_from_slice(extra);
        f
    };
    let created = c.post("/msp/user.php", &form(&[])).xml();
    assert_eq!(created.name, "USER_OUTPUT");
    assert_eq!(v1_status(&created), Some("SUCCESS"));
    assert_eq!(text(&created, &["RETURN", "MESSAGE"]), "nwind_gh1 user has been successfully created.");
    assert!(created.get_child("USER").is_none(), "credentials only come back with send_email=0");
    let second = c.post("/msp/user.php", &form(&[("send_email", "0")])).xml();
    assert_eq!(text(&second, &["USER", "USER_LOGIN"]), "nwind_gh2");
    assert!(!text(&second, &["USER", "PASSWORD"]).is_empty());
    for (extra, field) in [(("business_unit", "Finance"), "business_unit"), (("asset_groups", "Nope"), "asset_groups")]
    {
        let failed = c.post("/msp/user.php", &form(&[extra])).xml();
        assert_eq!(v1_status(&failed), Some("FAILED"));
        assert!(text(&failed, &["RETURN", "MESSAGE"]).contains(field));
    }
    let no_state =
        c.post("/msp/user.php", &form(&[]).into_iter().filter(|(k, _)| *k != "state").collect::<Vec<_>>()).xml();
    assert_eq!(child(&no_state, &["RETURN"]).attributes.get("number").map(String::as_str), Some("1903"));

    let list = c.post("/msp/user_list.php", &[]).xml();
    assert_eq!(list.name, "USER_LIST_OUTPUT");
    let users = all(child(&list, &["USER_LIST"]), "USER");
    let grace = users.iter().find(|u| text(u, &["USER_LOGIN"]) == "nwind_gh1").expect("listed by login");
    assert_eq!(text(grace, &["USER_ROLE"]), "Reader");
    assert_eq!(text(grace, &["USER_STATUS"]), "Pending Activation");
    let user_id = text(grace, &["USER_ID"]);

    let exported = c.get(&format!("/api/2.0/fo/user_prefs/?action=export&user_id={user_id}"));
    assert_eq!(text(&exported.xml(), &["RESPONSE", "USER_PREFS", "USER_ID"]), user_id);
    let changed = exported.body.replace("English", "Français");
    let imported = c.post_xml(&format!("/api/2.0/fo/user_prefs/?action=import&user_id={user_id}"), &changed);
    assert_eq!(imported.status, 200, "{}", imported.body);
    let again = c.get(&format!("/api/2.0/fo/user_prefs/?action=export&user_id={user_id}")).xml();
    assert_eq!(text(&again, &["RESPONSE", "USER_PREFS", "PREFERENCES", "LANGUAGE"]), "Français");
    assert_eq!(c.get("/api/2.0/fo/user_prefs/?action=export&user_id=1").error_code(), (400, "1905".into()));
}

#[test]
fn appliances_consume_licences_and_take_updates() {
    let mut cfg = config();
    cfg.virtual_scanner_licenses = 1;
    let (_sim, c) = start(cfg);
    let created =
        c.post("/api/2.0/fo/appliance/", &[("action", "create"), ("name", "dmz-1"), ("polling_interval", "120")]).xml();
    assert_eq!(created.name, "APPLIANCE_CREATE_OUTPUT");
    let id = text(&created, &["RESPONSE", "APPLIANCE", "ID"]);
    assert_eq!(text(&created, &["RESPONSE", "APPLIANCE", "ACTIVATION_CODE"]).len(), 12);
    assert_eq!(text(&created, &["RESPONSE", "APPLIANCE", "REMAINING_QVSA_LICENSES"]), "0");
    let listed = c.post("/api/2.0/fo/appliance/", &[("action", "list"), ("include_license_info", "1")]).xml();
    assert_eq!(text(&listed, &["RESPONSE", "LICENSE_INFO", "QVSA_LICENSES_COUNT"]), "1");
    assert_eq!(text(&listed, &["RESPONSE", "LICENSE_INFO", "QVSA_LICENSES_USED"]), "1");
    let none_left = c.post("/api/2.0/fo/appliance/", &[("action", "create"), ("name", "dmz-2")]);
    assert_eq!(none_left.error_code(), (400, "1905".into()));
    let bogus = c.post("/api/2.0/fo/appliance/", &[("action", "create"), ("name", "x"), ("asset_group", "None")]);
    assert_eq!(bogus.error_code(), (400, "1901".into()));

    let update = [
        ("action", "update"),
        ("id", id.as_str()),
        ("set_vlans", "20|10.20.0.5|255.255.255.0|DMZ"),
        ("set_routes", "10.30.0.0|255.255.0.0|10.20.0.1|Core"),
    ];
    assert_eq!(c.post("/api/2.0/fo/appliance/", &update).status, 200);
    let bad_vlan = c.post(
        "/api/2.0/fo/appliance/",
        &[("action", "update"), ("id", id.as_str()), ("set_vlans", "20|not-an-ip|255.0.0.0|X")],
    );
    assert_eq!(bad_vlan.error_code(), (400, "1905".into()));
    let net = c.post("/api/2.0/fo/network/", &[("action", "create"), ("name", "DMZ")]).new_id().to_string();
    let assigned = c.post(
        "/api/2.0/fo/appliance/",
        &[("action", "assign_network_id"), ("appliance_id", &id), ("network_id", &net)],
    );
    assert!(text(&assigned.xml(), &["RESPONSE", "TEXT"]).starts_with("Success: Network ID="));

    let full = c.get("/api/2.0/fo/appliance/?action=list&output_mode=full").xml();
    let a = all(child(&full, &["RESPONSE", "APPLIANCE_LIST"]), "APPLIANCE")[0];
    assert_eq!(
        (text(a, &["ID"]), text(a, &["NAME"]), text(a, &["NETWORK_ID"])),
        (id.clone(), "dmz-1".into(), net.clone())
    );
    assert_eq!(text(a, &["POLLING_INTERVAL"]), "120 seconds");
    assert_eq!(text(a, &["VLANS", "VLAN", "IP_ADDRESS"]), "10.20.0.5");
    assert_eq!(text(a, &["STATIC_ROUTES", "ROUTE", "GATEWAY"]), "10.20.0.1");
    let networks = c.get("/api/2.0/fo/network/?action=list").body;
    assert!(networks.contains("<NAME><![CDATA[dmz-1]]></NAME>"), "the network lists its scanner: {networks}");
}

#[test]
fn subscription_configuration_is_exported_and_imported() {
    let (_sim, c) = start(config());
    let exported = c.get("/api/2.0/fo/subscription/index.php?action=export");
    assert_eq!(child(&exported.xml(), &["SUBSCRIPTION", "FO", "SCAN"]).name, "SCAN");
    let config =
        "<RECORD><SUBSCRIPTION><FO><SCAN><EXCLUDED_IPS>10.6.6.6</EXCLUDED_IPS></SCAN></FO></SUBSCRIPTION></RECORD>";
    assert_eq!(c.post_xml("/api/2.0/fo/subscription/?action=import", config).status, 200);
    assert_eq!(
        text(&c.get("/api/2.0/fo/subscription/?action=export").xml(), &["SUBSCRIPTION", "FO", "SCAN", "EXCLUDED_IPS"]),
        "10.6.6.6"
    );
    assert_eq!(
        c.post_xml("/api/2.0/fo/subscription/index.php?action=import", "<OTHER/>").error_code(),
        (400, "1905".into())
    );
    assert_eq!(
        c.post_xml("/api/2.0/fo/subscription/index.php?action=import", "<RECORD>").error_code(),
        (400, "1905".into())
    );
}

#[test]
fn virtual_hosts_and_ipv6_mappings() {
    let (_sim, c) = start(config());
    let outside = c.post(
        "/api/2.0/fo/asset/vhost/",
        &[("action", "create"), ("ip", "10.7.0.1"), ("port", "443"), ("fqdn", "a.example")],
    );
    assert_eq!(outside.error_code(), (400, "1905".into()), "the IP must be in the subscription");
    c.post("/api/2.0/fo/asset/ip/", &[("action", "add"), ("ips", "10.7.0.1"), ("enable_vm", "1")]);
    let created = c.post(
        "/api/2.0/fo/asset/vhost/",
        &[("action", "create"), ("ip", "10.7.0.1"), ("port", "443"), ("fqdn", "a.example,b.example")],
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let list = c.get("/api/2.0/fo/asset/vhost/?action=list&port=443").xml();
    let vhost = child(&list, &["RESPONSE", "VIRTUAL_HOST_LIST", "VIRTUAL_HOST"]);
    assert_eq!(all(vhost, "FQDN").iter().map(|f| text(f, &[])).collect::<Vec<_>>(), ["a.example", "b.example"]);

    let xml_data = "<IP_MAP_LIST><IP_MAP><V4>0.0.0.7</V4><V6>2001:db8::7</V6></IP_MAP></IP_MAP_LIST>";
    let added = c.post("/api/2.0/fo/asset/ip/v4_v6/", &[("action", "add"), ("xml_data", xml_data)]);
    assert_eq!(added.status, 200, "{}", added.body);
    let conflict = c.post(
        "/api/2.0/fo/asset/ip/v4_v6/",
        &[("action", "add"), ("csv_data", "0.0.0.7,2001:db8::8\n0.0.0.9,2001:db8::9")],
    );
    assert_eq!(conflict.error_code(), (400, "1905".into()), "all or nothing by default");
    let partial = c.post(
        "/api/2.0/fo/asset/ip/v4_v6/",
        &[("action", "add"), ("all_or_nothing", "0"), ("csv_data", "0.0.0.7,2001:db8::8\n0.0.0.9,2001:db8::9")],
    );
    assert_eq!(partial.status, 200);
    let both = c.post("/api/2.0/fo/asset/ip/v4_v6/", &[("action", "add"), ("csv_data", "x"), ("xml_data", "y")]);
    assert_eq!(both.error_code(), (400, "1904".into()));
    let list = c.get("/api/2.0/fo/asset/ip/v4_v6/?action=list&output_format=xml").xml();
    let maps: Vec<String> =
        all(child(&list, &["RESPONSE", "IP_MAP_LIST"]), "IP_MAP").iter().map(|m| text(m, &["V6"])).collect();
    assert_eq!(maps, ["2001:db8::7", "2001:db8::9"]);
    let csv = c.get("/api/2.0/fo/asset/ip/v4_v6/?action=list");
    assert!(csv.header("Content-Type").is_some_and(|t| t.starts_with("text/csv")));
    assert_eq!(csv.body.lines().count(), 3);
}

#[test]
fn tags_are_created_with_their_children_and_searched() {
    let (_sim, c) = start(config());
    let cloud_agent = c.post_xml(
        "/qps/rest/2.0/search/am/tag",
        "<ServiceRequest><filters><Criteria field=\"name\" operator=\"EQUALS\">Cloud Agent</Criteria></filters></ServiceRequest>",
    );
    let doc = cloud_agent.xml();
    assert_eq!(text(&doc, &["count"]), "1", "a new subscription has its system tags");
    let parent = text(&doc, &["data", "Tag", "id"]);

    let body = format!(
        "<ServiceRequest><data><Tag><name>Linux</name><parentTagId>{parent}</parentTagId><ruleType>OS_REGEX</ruleType>\
         <ruleText>linux</ruleText><criticalityScore>3</criticalityScore><children><set><Tag><name>Debian</name>\
         <children><set><TagSimple><name>Bookworm</name></TagSimple></set></children></Tag><TagSimple><name>RHEL</name></TagSimple>\
         </set></children></Tag></data></ServiceRequest>"
    );
    let created = c.post_xml("/qps/rest/2.0/create/am/tag", &body);
    assert_eq!(qps_code(&created), "SUCCESS");
    let tag = child(&created.xml(), &["data", "Tag"]).clone();
    let id = text(&tag, &["id"]);
    let children: Vec<String> =
        all(child(&tag, &["children", "list"]), "TagSimple").iter().map(|t| text(t, &["name"])).collect();
    assert_eq!(children, ["Debian", "RHEL"]);

    let search = |criteria: &str| {
        let reply = c.post_xml(
            "/qps/rest/2.0/search/am/tag",
            &format!("<ServiceRequest><filters>{criteria}</filters></ServiceRequest>"),
        );
        assert_eq!(qps_code(&reply), "SUCCESS", "{}", reply.body);
        let doc = reply.xml();
        doc.get_child("data")
            .map(|d| all(d, "Tag").iter().map(|t| text(t, &["name"])).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(search(&format!("<Criteria field=\"parent\" operator=\"EQUALS\">{id}</Criteria>")), ["Debian", "RHEL"]);
    assert_eq!(search("<Criteria field=\"ruleType\" operator=\"EQUALS\">\n  OS_REGEX</Criteria>"), ["Linux"]);
    assert_eq!(search("<Criteria field=\"name\" operator=\"IN\">Bookworm,RHEL</Criteria>"), ["Bookworm", "RHEL"]);
    let nothing = c
        .post_xml(
            "/qps/rest/2.0/search/am/tag",
            "<ServiceRequest><filters><Criteria field=\"name\" operator=\"EQUALS\">Nope</Criteria></filters></ServiceRequest>",
        )
        .xml();
    assert_eq!(text(&nothing, &["count"]), "0");
    assert!(
        nothing.get_child("data").is_none() && nothing.get_child("hasMoreRecords").is_none(),
        "an empty search carries neither data nor hasMoreRecords, as Qualys answers it"
    );

    for bad in [
        "<ServiceRequest><data><Tag><id>5</id><name>X</name></Tag></data></ServiceRequest>",
        "<ServiceRequest><data><Tag><name>X</name><modified>2024-01-01T00:00:00Z</modified></Tag></data></ServiceRequest>",
        "<ServiceRequest><data><Tag><name>X</name><ruleType>MAGIC</ruleType></Tag></data></ServiceRequest>",
        "<ServiceRequest><data><Tag><name>X</name><parentTagId>1</parentTagId></Tag></data></ServiceRequest>",
    ] {
        let refused = c.post_xml("/qps/rest/2.0/create/am/tag", bad);
        assert_eq!(qps_code(&refused), "INVALID_REQUEST", "{bad}");
    }
    let bad_value = c.post_xml(
        "/qps/rest/2.0/search/am/tag",
        "<ServiceRequest><filters><Criteria field=\"id\" operator=\"EQUALS\">abc</Criteria></filters></ServiceRequest>",
    );
    assert_eq!(qps_code(&bad_value), "INVALID_REQUEST");
    assert!(bad_value.body.contains("Specify criteria value(s) as Long."));
}

#[test]
fn option_profiles_are_imported_and_exported() {
    let (_sim, c) = start(config());
    let doc = "<OPTION_PROFILES><OPTION_PROFILE><BASIC_INFO><ID>51451401</ID><GROUP_NAME>Web Tier</GROUP_NAME><GROUP_TYPE>user</GROUP_TYPE>\
        </BASIC_INFO><SCAN><SCAN_DEAD_HOSTS>0</SCAN_DEAD_HOSTS></SCAN></OPTION_PROFILE></OPTION_PROFILES>";
    let id = c.post_xml("/api/2.0/fo/subscription/option_profile/?action=import", doc).new_id();
    assert_eq!(
        c.post_xml("/api/2.0/fo/subscription/option_profile/?action=import", doc).error_code(),
        (400, "1905".into())
    );
    let exported = c.get("/api/2.0/fo/subscription/option_profile/?action=export").xml();
    let profiles = all(&exported, "OPTION_PROFILE");
    assert_eq!(profiles.len(), 1, "system profiles only on request");
    assert_eq!(text(profiles[0], &["BASIC_INFO", "ID"]), id.to_string(), "the new ID replaces the source's");
    assert_eq!(text(profiles[0], &["SCAN", "SCAN_DEAD_HOSTS"]), "0");
    let with_system =
        c.get("/api/2.0/fo/subscription/option_profile/?action=export&include_system_option_profiles=1").xml();
    assert!(
        all(&with_system, "OPTION_PROFILE").iter().any(|p| text(p, &["BASIC_INFO", "GROUP_NAME"]) == "Initial Options")
    );
}

#[test]
fn option_profile_imports_find_search_lists_by_title_and_lose_what_qualys_loses() {
    let (_sim, c) = start(config());
    let list = c
        .post("/api/2.0/fo/qid/search_list/static/", &[("action", "create"), ("title", "Weak TLS"), ("qids", "38170")])
        .new_id();
    let profile = |title: &str, kind: &str, lists: &str, more: &str| {
        format!(
            "<OPTION_PROFILES><OPTION_PROFILE><BASIC_INFO><ID>90211</ID><GROUP_NAME>{title}</GROUP_NAME>\
             <GROUP_TYPE>{kind}</GROUP_TYPE></BASIC_INFO><SCAN><VULNERABILITY_DETECTION>{lists}\
             <DETECTION_INCLUDE><OVAL_CHECKS>0</OVAL_CHECKS></DETECTION_INCLUDE></VULNERABILITY_DETECTION></SCAN>\
             <ADDITIONAL><PASSWORD_BRUTE_FORCING><SYSTEM><HAS_SYSTEM>1</HAS_SYSTEM></SYSTEM><CUSTOM_LIST><CUSTOM>\
             <ID>17</ID><TITLE>Defaults</TITLE></CUSTOM></CUSTOM_LIST></PASSWORD_BRUTE_FORCING></ADDITIONAL>{more}\
             </OPTION_PROFILE></OPTION_PROFILES>"
        )
    };
    let custom =
        |title: &str| format!("<CUSTOM_LIST><CUSTOM><ID>4101</ID><TITLE>{title}</TITLE></CUSTOM></CUSTOM_LIST>");
    let import = |doc: String| c.post_xml("/api/2.0/fo/subscription/option_profile/?action=import", &doc).new_id();
    let found = import(profile("Found", "user", &custom("Weak TLS"), ""));
    let missing = import(profile("Missing", "user", &custom("Weak TLS 2"), ""));
    let restricted = import(profile(
        "PC",
        "compliance",
        "<COMPLETE/>",
        "<SCAN_RESTRICTION><POLICY_ID>9</POLICY_ID></SCAN_RESTRICTION>",
    ));
    let export = |id: u64| {
        let doc =
            c.get(&format!("/api/2.0/fo/subscription/option_profile/?action=export&option_profile_id={id}")).xml();
        child(&doc, &["OPTION_PROFILE"]).clone()
    };
    let found = export(found);
    let detection = child(&found, &["SCAN", "VULNERABILITY_DETECTION"]);
    assert_eq!(text(detection, &["CUSTOM_LIST", "CUSTOM", "ID"]), list.to_string(), "this subscription's list ID");
    let brute = child(&found, &["ADDITIONAL", "PASSWORD_BRUTE_FORCING"]);
    assert!(
        brute.get_child("CUSTOM_LIST").is_none() && brute.get_child("SYSTEM").is_some(),
        "custom lists arrive empty"
    );
    let missing = export(missing);
    let detection = child(&missing, &["SCAN", "VULNERABILITY_DETECTION"]);
    assert!(detection.get_child("COMPLETE").is_some(), "a missing title silently becomes Complete");
    assert!(detection.get_child("CUSTOM_LIST").is_none());
    assert!(detection.get_child("DETECTION_INCLUDE").is_some(), "the other settings stay");
    assert!(export(restricted).get_child("SCAN_RESTRICTION").is_none(), "compliance restrictions are dropped");
}

#[test]
fn report_templates_answer_with_the_code_quirk() {
    let (_sim, c) = start(config());
    let body = "<REPORTTEMPLATE><SCANTEMPLATE><TITLE><INFO key=\"title\"><![CDATA[Board Report]]></INFO></TITLE>\
        <USERACCESS><INFO key=\"global\">1</INFO></USERACCESS></SCANTEMPLATE></REPORTTEMPLATE>";
    let created = c.post_xml("/api/2.0/fo/report/template/scan/?action=create&report_format=xml", body);
    assert_eq!(created.status, 200);
    let code = text(&created.xml(), &["RESPONSE", "CODE"]);
    let id = code
        .strip_prefix("Scan Report Template(s) Created Successfully [")
        .and_then(|s| s.strip_suffix(']'))
        .expect("the quirk");
    let list = c.post("/msp/report_template_list.php", &[]).xml();
    let listed =
        all(&list, "REPORT_TEMPLATE").into_iter().find(|t| text(t, &["ID"]) == id).expect("listed under its new ID");
    assert_eq!(
        (text(listed, &["TITLE"]), text(listed, &["TEMPLATE_TYPE"]), text(listed, &["GLOBAL"])),
        ("Board Report".into(), "Scan".into(), "1".into())
    );
    let exported =
        c.get(&format!("/api/2.0/fo/report/template/scan/?action=export&report_format=xml&template_id={id}")).xml();
    assert_eq!(exported.name, "REPORTTEMPLATE");
    assert_eq!(all(&exported, "SCANTEMPLATE").len(), 1);
    let duplicate = c.post_xml("/api/2.0/fo/report/template/scan/?action=create&report_format=xml", body);
    assert_eq!(duplicate.error_code(), (400, "1905".into()));
    let wrong_type = c.post_xml("/api/2.0/fo/report/template/map/?action=create&report_format=xml", body);
    assert_eq!(wrong_type.error_code(), (400, "1905".into()));
}

#[test]
fn report_templates_refer_only_to_objects_of_the_subscription() {
    let (_sim, c) = start(config());
    let group = c.post("/api/2.0/fo/asset/group/", &[("action", "add"), ("title", "Web")]).new_id();
    let list = c
        .post("/api/2.0/fo/qid/search_list/static/", &[("action", "create"), ("title", "TLS"), ("qids", "38140")])
        .new_id();
    let template = |title: &str, groups: &str, lists: &str, users: &str| {
        format!(
            "<REPORTTEMPLATE><SCANTEMPLATE><TITLE><INFO key=\"title\">{title}</INFO></TITLE>\
             <TARGET><INFO key=\"asset_groups\">{groups}</INFO><INFO key=\"network\">0</INFO></TARGET>\
             <FILTER><INFO key=\"search_list_ids\">{lists}</INFO></FILTER>\
             <USERACCESS><INFO key=\"report_access_users\">{users}</INFO></USERACCESS></SCANTEMPLATE></REPORTTEMPLATE>"
        )
    };
    let create = |xml: &str| c.post_xml("/api/2.0/fo/report/template/scan/?action=create&report_format=xml", xml);
    let unknown_group = create(&template("A", &format!("{group},999"), &list.to_string(), USER));
    assert_eq!(unknown_group.error_code(), (400, "1905".into()));
    assert!(unknown_group.body.contains("asset_groups has invalid value: 999"), "{}", unknown_group.body);
    let unknown_list = create(&template("A", &group.to_string(), "4999", USER));
    assert!(unknown_list.body.contains("search_list_ids has invalid value: 4999"));
    let unknown_user = create(&template("A", "Web", &list.to_string(), "nobody"));
    assert!(unknown_user.body.contains("report_access_users has invalid value: nobody"));
    let by_title = create(&template("A", "Web", &list.to_string(), USER));
    assert_eq!(by_title.status, 200, "{}", by_title.body);
}

#[test]
fn default_report_templates_are_owned_as_a_real_subscription_shows() {
    let (_sim, c) = start(config());
    let list = c.post("/msp/report_template_list.php", &[]).xml();
    let owner = |title: &str| {
        let template = all(&list, "REPORT_TEMPLATE").into_iter().find(|t| text(t, &["TITLE"]) == title);
        template.map(|t| (text(t, &["TEMPLATE_TYPE"]), text(t, &["USER", "LOGIN"])))
    };
    assert_eq!(owner("Technical Report"), Some(("Scan".into(), USER.into())));
    assert_eq!(owner("Unknown Device Report"), Some(("Map".into(), USER.into())));
    assert_eq!(owner("Tickets per Asset Group"), Some(("Remediation".into(), "System".into())));
    assert_eq!(owner("Payment Card Industry (PCI) Executive Report"), Some(("Compliance".into(), "System".into())));
    assert_eq!(all(&list, "REPORT_TEMPLATE").len(), 13);
}

#[test]
fn search_lists_static_and_dynamic() {
    let (_sim, c) = start(config());
    let static_id = c
        .post(
            "/api/2.0/fo/qid/search_list/static/",
            &[("action", "create"), ("title", "Patch Tuesday"), ("qids", "90001,90003-90004"), ("comments", "monthly")],
        )
        .new_id();
    let dynamic_id = c
        .post(
            "/api/2.0/fo/qid/search_list/dynamic/",
            &[
                ("action", "create"),
                ("title", "Exploitable"),
                ("patch_available", "1"),
                ("published_date_within_last_days", "30"),
            ],
        )
        .new_id();
    assert_eq!(
        c.post("/api/2.0/fo/qid/search_list/dynamic/", &[("action", "create"), ("title", "patch tuesday")])
            .error_code(),
        (400, "1905".into())
    );
    let s = c.get("/api/2.0/fo/qid/search_list/static/?action=list").xml();
    let list = child(&s, &["RESPONSE", "STATIC_LISTS", "STATIC_LIST"]);
    assert_eq!(text(list, &["ID"]), static_id.to_string());
    assert_eq!(
        all(child(list, &["QIDS"]), "QID").iter().map(|q| text(q, &[])).collect::<Vec<_>>(),
        ["90001", "90003", "90004"]
    );
    let d = c.get("/api/2.0/fo/qid/search_list/dynamic/?action=list").xml();
    let list = child(&d, &["RESPONSE", "DYNAMIC_LISTS", "DYNAMIC_LIST"]);
    assert_eq!(text(list, &["ID"]), dynamic_id.to_string());
    assert_eq!(text(list, &["CRITERIA", "PATCH_AVAILABLE"]), "Yes");
    assert_eq!(text(list, &["CRITERIA", "PUBLISHED"]), "Last 30 days");
}

#[test]
fn search_lists_write_dates_as_qualys_does_and_seeded_dynamic_lists_their_qids() {
    let seed = tempfile::tempdir().expect("tempdir");
    let dynamic = "<DYNAMIC_SEARCH_LIST_OUTPUT><RESPONSE><DATETIME>2026-03-02T10:00:00Z</DATETIME><DYNAMIC_LISTS>\
        <DYNAMIC_LIST><ID>4201</ID><TITLE>Criticals</TITLE><GLOBAL>No</GLOBAL>\
        <CRITERIA><CONFIRMED_SEVERITY>5</CONFIRMED_SEVERITY></CRITERIA><QIDS><QID>90001</QID><QID>90007</QID></QIDS>\
        </DYNAMIC_LIST></DYNAMIC_LISTS></RESPONSE></DYNAMIC_SEARCH_LIST_OUTPUT>";
    std::fs::write(seed.path().join("dynamic.xml"), dynamic).expect("write");
    let (_sim, c) = start(qualys_sim::Config { seed: Some(seed.path().to_path_buf()), ..config() });
    c.post("/api/2.0/fo/qid/search_list/static/", &[("action", "create"), ("title", "Patch"), ("qids", "90001")])
        .new_id();
    let s = c.get("/api/2.0/fo/qid/search_list/static/?action=list").xml();
    let created = text(child(&s, &["RESPONSE", "STATIC_LISTS", "STATIC_LIST"]), &["CREATED"]);
    assert_eq!(created, "03/02/2026 at 10:00:01 (GMT+0000)", "one second after the seed's clock");
    let qids = |query: &str| {
        let d = c.get(&format!("/api/2.0/fo/qid/search_list/dynamic/?action=list{query}")).xml();
        let list = child(&d, &["RESPONSE", "DYNAMIC_LISTS", "DYNAMIC_LIST"]).clone();
        list.get_child("QIDS").map(|q| all(q, "QID").iter().map(|q| text(q, &[])).collect::<Vec<_>>())
    };
    assert_eq!(qids(""), Some(vec!["90001".to_owned(), "90007".to_owned()]), "show_qids is 1 by default");
    assert_eq!(qids("&show_qids=0"), None);
}

#[test]
fn scan_schedules_list_as_the_migration_scripts_read_them() {
    let (_sim, c) = start(config());
    populate(&c);
    let vm = c.get("/api/2.0/fo/schedule/scan/?action=list&show_notifications=1").xml();
    let scan = child(&vm, &["RESPONSE", "SCHEDULE_SCAN_LIST", "SCAN"]).clone();
    assert_eq!(text(&scan, &["TITLE"]), "West weekly");
    assert_eq!(text(&scan, &["OPTION_PROFILE", "TITLE"]), "West Scan");
    assert_eq!(text(&scan, &["PROCESSING_PRIORITY"]), "3 - Critical");
    assert_eq!(text(&scan, &["ISCANNER_NAME"]), "west-scanner");
    assert_eq!(text(&scan, &["ASSET_GROUP_TITLE_LIST", "ASSET_GROUP_TITLE"]), "West Servers");
    let weekly = child(&scan, &["SCHEDULE", "WEEKLY"]);
    assert_eq!(weekly.attributes.get("weekdays").map(String::as_str), Some("1,5"));
    assert_eq!(text(&scan, &["SCHEDULE", "DST_SELECTED"]), "1");
    assert_eq!(text(&scan, &["NOTIFICATIONS", "BEFORE_LAUNCH", "UNIT"]), "hours");
    let pc = c.get("/api/2.0/fo/schedule/scan/compliance/?action=list").xml();
    let scan = child(&pc, &["RESPONSE", "SCHEDULE_SCAN_LIST", "SCAN"]);
    assert_eq!(text(scan, &["ISCANNER_NAME"]), "All Scanners in Asset Group");
    assert_eq!(child(scan, &["SCHEDULE", "MONTHLY"]).attributes.get("week_of_month").map(String::as_str), Some("5"));
    assert_eq!(text(scan, &["ASSET_TAGS", "TAG_SET_INCLUDE"]), "West Web");

    let base = [
        ("action", "create"),
        ("scan_title", "x"),
        ("active", "0"),
        ("ip", "10.9.0.1"),
        ("occurrence", "daily"),
        ("frequency_days", "1"),
        ("start_hour", "1"),
        ("start_minute", "0"),
        ("time_zone_code", "US-CA"),
    ];
    assert_eq!(
        c.post("/api/2.0/fo/schedule/scan/", &base).error_code(),
        (400, "1903".into()),
        "an option profile is required"
    );
    let pc_profile: Vec<_> = base.iter().copied().chain([("option_title", "West PC")]).collect();
    assert_eq!(c.post("/api/2.0/fo/schedule/scan/", &pc_profile).error_code(), (400, "1905".into()));
    let groups: Vec<_> =
        base.iter().copied().chain([("option_title", "West Scan"), ("recipient_group_ids", "7")]).collect();
    assert_eq!(c.post("/api/2.0/fo/schedule/scan/", &groups).error_code(), (400, "1905".into()));
}

#[test]
fn compliance_policies_are_imported_and_scoped() {
    let (_sim, c) = start(config());
    populate(&c);
    let list = c.get("/api/2.0/fo/compliance/policy/?action=list").xml();
    let policy = child(&list, &["RESPONSE", "POLICY_LIST", "POLICY"]).clone();
    let id = text(&policy, &["ID"]);
    assert_eq!(text(&policy, &["TITLE"]), "West Baseline");
    assert!(text(&policy, &["TAG_SET_INCLUDE", "TAG_ID"]).parse::<u64>().is_ok());
    let groups =
        ids_listed(&c, "/api/2.0/fo/asset/group/?action=list", &["RESPONSE", "ASSET_GROUP_LIST"], "ASSET_GROUP");
    let set = c.post(
        "/api/2.0/fo/compliance/policy/",
        &[("action", "set_asset_group_ids"), ("id", &id), ("asset_group_ids", &groups.join(","))],
    );
    assert_eq!(set.status, 200, "{}", set.body);
    let listed = c.get(&format!("/api/2.0/fo/compliance/policy/?action=list&ids={id}")).xml();
    assert!(!text(&listed, &["RESPONSE", "POLICY_LIST", "POLICY", "ASSET_GROUP_IDS"]).is_empty());
    let names_only = c.post(
        "/api/2.0/fo/asset/group/",
        &[("action", "add"), ("title", "Names only"), ("dns_names", "a.west.example")],
    );
    let names_only = names_only.new_id().to_string();
    let refused = c.post(
        "/api/2.0/fo/compliance/policy/",
        &[("action", "set_asset_group_ids"), ("id", &id), ("asset_group_ids", &names_only)],
    );
    assert_eq!(refused.error_code(), (400, "1905".into()), "a group without any IP cannot scope a policy");
    assert!(refused.body.contains("at least 1 assigned IP address"), "{}", refused.body);
    let ids_only = c.get("/api/2.0/fo/compliance/policy/?action=list&details=None").xml();
    assert_eq!(text(&ids_only, &["RESPONSE", "ID_SET", "ID"]), id);

    let exported = c.get(&format!("/api/2.0/fo/compliance/policy/?action=export&id={id}&show_user_controls=1"));
    let doc = exported.xml();
    assert_eq!(doc.name, "POLICY_EXPORT_OUTPUT");
    assert_eq!(text(&doc, &["RESPONSE", "POLICY", "TITLE"]), "West Baseline");
    assert_eq!(text(&doc, &["RESPONSE", "POLICY", "SECTIONS", "SECTION", "HEADING"]), "Access");
    let imported = c.post_xml("/api/2.0/fo/compliance/policy/?action=import&title=Copy", &exported.body).xml();
    assert_eq!(text(&imported, &["RESPONSE", "TEXT"]), "Successfully imported compliance policy");
    let items = all(child(&imported, &["RESPONSE", "ITEM_LIST"]), "ITEM");
    let item = |key: &str| items.iter().find(|i| text(i, &["KEY"]) == key).map(|i| text(i, &["VALUE"]));
    assert_eq!(item("TITLE").as_deref(), Some("Copy"));
    let copy: u64 = item("ID").expect("an ID item").parse().expect("numeric");
    assert!(copy > id.parse::<u64>().expect("numeric"));
    let with_appendix = exported.body.replace("</POLICY>", "<APPENDIX/></POLICY>");
    assert_eq!(
        c.post_xml("/api/2.0/fo/compliance/policy/?action=import&title=Other", &with_appendix).error_code(),
        (400, "1905".into())
    );
    assert_eq!(
        c.post_xml("/api/2.0/fo/compliance/policy/?action=import&title=Copy", &exported.body).error_code(),
        (400, "1905".into())
    );
}

/// Whether an answer refuses its call, in the document of the call's API family.
fn refused(reply: &Reply) -> bool {
    let doc = reply.xml();
    match doc.name.as_str() {
        "SIMPLE_RETURN" => reply.status == 400 && doc.get_child("RESPONSE").and_then(|r| r.get_child("CODE")).is_some(),
        "USER_OUTPUT" | "GENERIC_RETURN" => v1_status(&doc) == Some("FAILED"),
        "ServiceResponse" => text(&doc, &["responseCode"]) != "SUCCESS",
        _ => false,
    }
}

/// Every change refused (a duplicate, a missing reference, one bad item among good ones,
/// often on the call's last check) leaves the subscription as it was, byte for byte, clock
/// included.
#[test]
fn refused_calls_change_nothing() {
    let (sim, c) = start(config());
    populate(&c);
    let dir = tempfile::tempdir().expect("temp dir");
    let (before, after) = (dir.path().join("before"), dir.path().join("after"));
    sim.export(&before).expect("export");
    let objects = sim.counters().objects;

    let forms: &[(&str, &[(&str, &str)])] = &[
        ("/api/2.0/fo/network/", &[("action", "create"), ("name", "corp west")]),
        ("/api/2.0/fo/asset/ip/", &[("action", "add"), ("ips", "10.9.3.1"), ("enable_vm", "1"), ("ag_title", "Nope")]),
        (
            "/api/2.0/fo/asset/ip/v4_v6/",
            &[("action", "add"), ("csv_data", "0.0.0.9,2001:db8::9\n0.0.0.1,2001:db8::99")],
        ),
        ("/msp/asset_domain.php", &[("action", "add"), ("domain", "West.example")]),
        (
            "/api/2.0/fo/asset/group/",
            &[("action", "add"), ("title", "East"), ("ips", "10.9.0.1"), ("default_appliance_id", "999")],
        ),
        ("/api/2.0/fo/appliance/", &[("action", "create"), ("name", "east-scanner"), ("asset_group_id", "999")]),
        ("/api/2.0/fo/appliance/", &[("action", "assign_network_id"), ("appliance_id", "999"), ("network_id", "0")]),
        ("/api/2.0/fo/auth/unix/", &[("action", "create"), ("title", "West Linux"), ("username", "u")]),
        ("/api/2.0/fo/qid/search_list/static/", &[("action", "create"), ("title", "West Criticals"), ("qids", "1")]),
        (
            "/api/2.0/fo/qid/search_list/dynamic/",
            &[("action", "create"), ("title", "X"), ("qualys_top_lists", "Top_5")],
        ),
        (
            "/api/2.0/fo/schedule/scan/",
            &[
                ("action", "create"),
                ("scan_title", "East"),
                ("active", "0"),
                ("option_title", "West Scan"),
                ("ip", "10.9.0.1"),
                ("occurrence", "daily"),
                ("frequency_days", "1"),
                ("start_hour", "1"),
                ("start_minute", "0"),
                ("time_zone_code", "US-CA"),
                ("recipient_group_ids", "7"),
            ],
        ),
        (
            "/api/2.0/fo/asset/vhost/",
            &[("action", "create"), ("ip", "10.9.0.5"), ("port", "443"), ("fqdn", "c.example")],
        ),
    ];
    for (path, form) in forms {
        let reply = c.post(path, form);
        assert!(refused(&reply), "{path} {form:?}: {}", reply.body);
    }
    let user = [
        ("action", "add"),
        ("user_role", "reader"),
        ("business_unit", "Unassigned"),
        ("asset_groups", "West Servers,Nope"),
        ("first_name", "Ada"),
        ("last_name", "Byron"),
        ("title", "Analyst"),
        ("email", "ada@example.invalid"),
        ("address1", "1 Main Street"),
        ("city", "Zürich"),
        ("country", "Switzerland"),
    ];
    assert!(refused(&c.post("/msp/user.php", &user)));
    let policies =
        all(child(&c.get("/api/2.0/fo/compliance/policy/?action=list").xml(), &["RESPONSE", "POLICY_LIST"]), "POLICY")
            .iter()
            .map(|p| text(p, &["ID"]))
            .collect::<Vec<_>>();
    let policy = &policies[0];
    let scope: [&[(&str, &str)]; 2] = [
        &[("action", "set_asset_group_ids"), ("id", policy), ("asset_group_ids", "1-99999999")],
        &[("action", "set_asset_tags"), ("id", policy), ("tag_set_by", "name"), ("tag_set_include", "West,Nope")],
    ];
    for form in scope {
        assert!(refused(&c.post("/api/2.0/fo/compliance/policy/", form)), "{form:?}");
    }
    let xml_calls = [
        (
            "/api/2.0/fo/subscription/option_profile/?action=import",
            "<OPTION_PROFILES><OPTION_PROFILE><BASIC_INFO><GROUP_NAME>East</GROUP_NAME></BASIC_INFO></OPTION_PROFILE>\
             <OPTION_PROFILE><BASIC_INFO><GROUP_NAME>West Scan</GROUP_NAME></BASIC_INFO></OPTION_PROFILE></OPTION_PROFILES>",
        ),
        (
            "/api/2.0/fo/report/template/scan/?action=create&report_format=xml",
            "<REPORTTEMPLATE><SCANTEMPLATE><TITLE><INFO key=\"title\">West Technical</INFO></TITLE></SCANTEMPLATE></REPORTTEMPLATE>",
        ),
        ("/api/2.0/fo/compliance/policy/?action=import&title=west%20baseline", "<POLICY><TITLE>T</TITLE></POLICY>"),
        ("/api/2.0/fo/subscription/index.php?action=import", "<OTHER/>"),
        ("/api/2.0/fo/user_prefs/?action=import&user_id=4000001", "<USER_PREFS_OUTPUT/>"),
        (
            "/qps/rest/2.0/create/am/tag",
            "<ServiceRequest><data><Tag><name>East</name><children><set><Tag><name>Good</name></Tag>\
             <Tag><name>Bad</name><color>red</color></Tag></set></children></Tag></data></ServiceRequest>",
        ),
    ];
    for (path, body) in xml_calls {
        let reply = c.post_xml(path, body);
        assert!(refused(&reply), "{path}: {}", reply.body);
    }

    assert_eq!(sim.counters().objects, objects);
    sim.export(&after).expect("export");
    let (before, after) = (files(&before), files(&after));
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (name, bytes) in &before {
        assert_eq!(String::from_utf8_lossy(bytes), String::from_utf8_lossy(&after[name]), "{name} changed");
    }
}

/// The API user's role, as preflight reads it from the user list: set by the configuration,
/// and the API user added to a seed that does not list it.
#[test]
fn the_api_user_is_listed_with_the_configured_role() {
    let role_of = |users: &Element, login: &str| {
        let user =
            all(child(users, &["USER_LIST"]), "USER").into_iter().find(|u| text(u, &["USER_LOGIN"]) == login).cloned();
        user.map(|u| text(&u, &["USER_ROLE"]))
    };
    let (_sim, c) = start(Config { api_user_role: Some("Unit Manager".into()), ..config() });
    let users = c.post("/msp/user_list.php", &[]).xml();
    assert_eq!(role_of(&users, USER).as_deref(), Some("Unit Manager"));

    let seeded = Config { seed: Some(samples().join("../target-export")), ..config() };
    let (_sim, c) = start(seeded.clone());
    assert_eq!(role_of(&c.post("/msp/user_list.php", &[]).xml(), USER), None, "not in the seed");
    let (_sim, c) = start(Config { api_user_role: Some("Manager".into()), ..seeded });
    let users = c.post("/msp/user_list.php", &[]).xml();
    assert_eq!(role_of(&users, USER).as_deref(), Some("Manager"));
    assert_eq!(role_of(&users, "nwnew_zo").as_deref(), Some("Unit Manager"), "the seeded users are kept");
}
