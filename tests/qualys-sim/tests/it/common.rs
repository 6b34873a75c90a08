//! Plain-HTTP client helpers: requests as qmig's executor makes them (Basic auth,
//! `X-Requested-With`, form bodies), answers parsed with an XML parser of their own so that
//! well-formedness is checked independently of the simulator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use qualys_sim::{Config, Running};
use xmltree::{Element, XMLNode};

pub const USER: &str = "nwind_mg";
pub const PASSWORD: &str = "s3cret pass";

pub fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/export")
}

pub fn config() -> Config {
    Config { user: USER.into(), password: PASSWORD.into(), ..Config::default() }
}

pub fn start(config: Config) -> (Running, Client) {
    let sim = qualys_sim::start(config).expect("the simulator starts");
    let client = Client::new(&sim.url());
    (sim, client)
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as XML; fails the test when it is not well-formed.
    pub fn xml(&self) -> Element {
        Element::parse(self.body.as_bytes()).unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{}", self.body))
    }

    /// `SIMPLE_RETURN` success: no `CODE`, and the `ITEM_LIST` ID.
    pub fn new_id(&self) -> u64 {
        let doc = self.xml();
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(doc.name, "SIMPLE_RETURN", "{}", self.body);
        assert!(doc.get_child("RESPONSE").and_then(|r| r.get_child("CODE")).is_none(), "{}", self.body);
        let items = all(child(&doc, &["RESPONSE", "ITEM_LIST"]), "ITEM");
        let item = items.iter().find(|i| text(i, &["KEY"]).eq_ignore_ascii_case("ID")).expect("an ID item");
        text(item, &["VALUE"]).parse().expect("a numeric ID")
    }

    /// `SIMPLE_RETURN` error: the HTTP status and `CODE`.
    pub fn error_code(&self) -> (u16, String) {
        let doc = self.xml();
        assert_eq!(doc.name, "SIMPLE_RETURN", "{}", self.body);
        (self.status, text(&doc, &["RESPONSE", "CODE"]))
    }
}

pub struct Client {
    pub base: String,
    agent: ureq::Agent,
    auth: String,
}

impl Client {
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}")));
        Client { base: base.to_owned(), agent, auth }
    }

    /// A form POST; `Err` when no answer came back.
    pub fn try_post(&self, path: &str, form: &[(&str, &str)]) -> Result<Reply, ureq::Error> {
        let resp = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", &self.auth)
            .header("X-Requested-With", "qmig tests")
            .send_form(form.iter().copied())?;
        read(resp)
    }

    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.try_post(path, form).unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub fn get(&self, path_and_query: &str) -> Reply {
        let resp = self
            .agent
            .get(format!("{}{path_and_query}", self.base))
            .header("Authorization", &self.auth)
            .header("X-Requested-With", "qmig tests")
            .call()
            .unwrap_or_else(|e| panic!("GET {path_and_query}: {e}"));
        read(resp).expect("an answer")
    }

    /// An XML-body call: parameters in the query string, the document as `text/xml`.
    pub fn post_xml(&self, path_and_query: &str, xml: &str) -> Reply {
        let resp = self
            .agent
            .post(format!("{}{path_and_query}", self.base))
            .header("Authorization", &self.auth)
            .header("X-Requested-With", "qmig tests")
            .content_type("text/xml")
            .send(xml.as_bytes())
            .unwrap_or_else(|e| panic!("POST {path_and_query}: {e}"));
        read(resp).expect("an answer")
    }

    /// A request with only the headers given, for the protocol checks.
    pub fn bare(&self, method: &str, path_and_query: &str, headers: &[(&str, &str)]) -> Reply {
        let url = format!("{}{path_and_query}", self.base);
        let mut builder = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder.body(Vec::<u8>::new()).expect("a valid request");
        read(self.agent.run(request).expect("an answer")).expect("an answer")
    }

    pub fn auth_header(&self) -> &str {
        &self.auth
    }
}

fn read(mut resp: ureq::http::Response<ureq::Body>) -> Result<Reply, ureq::Error> {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = resp.body_mut().read_to_string()?;
    Ok(Reply { status, headers, body })
}

/// The element at `path` below `el`; fails the test when missing.
pub fn child<'a>(el: &'a Element, path: &[&str]) -> &'a Element {
    path.iter().fold(el, |e, name| e.get_child(*name).unwrap_or_else(|| panic!("no {name} under {}", e.name)))
}

pub fn text(el: &Element, path: &[&str]) -> String {
    child(el, path).get_text().map(|t| t.trim().to_owned()).unwrap_or_default()
}

pub fn all<'a>(el: &'a Element, name: &str) -> Vec<&'a Element> {
    el.children.iter().filter_map(XMLNode::as_element).filter(|e| e.name == name).collect()
}

/// `RETURN@status` of a V1 answer (`USER_OUTPUT`, `GENERIC_RETURN`).
pub fn v1_status(doc: &Element) -> Option<&str> {
    child(doc, &["RETURN"]).attributes.get("status").map(String::as_str)
}

/// The names of the networks, in list order.
pub fn network_names(c: &Client) -> Vec<String> {
    let doc = c.get("/api/2.0/fo/network/?action=list").xml();
    all(child(&doc, &["RESPONSE", "NETWORK_LIST"]), "NETWORK").iter().map(|n| text(n, &["NAME"])).collect()
}

/// The files directly in `dir` (an export), by name.
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("export directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().expect("a name").to_string_lossy().into_owned(), std::fs::read(&p).expect("file")))
        .collect()
}

/// The `ServiceResponse` answer code of a QPS call.
pub fn qps_code(reply: &Reply) -> String {
    let doc = reply.xml();
    assert_eq!(doc.name, "ServiceResponse", "{}", reply.body);
    text(&doc, &["responseCode"])
}

/// Creates at least one object of every kind through the API, the way a bundle would.
pub fn populate(c: &Client) {
    let network = c.post("/api/2.0/fo/network/", &[("action", "create"), ("name", "Corp West")]).new_id().to_string();
    let appliance = c
        .post("/api/2.0/fo/appliance/", &[("action", "create"), ("name", "west-scanner"), ("polling_interval", "300")]);
    let appliance = text(&appliance.xml(), &["RESPONSE", "APPLIANCE", "ID"]);
    let updated = c.post(
        "/api/2.0/fo/appliance/",
        &[
            ("action", "update"),
            ("id", &appliance),
            ("set_vlans", "10|10.9.0.5|255.255.255.0|Servers"),
            ("set_routes", "10.8.0.0|255.255.0.0|10.9.0.1|Core"),
        ],
    );
    assert_eq!(updated.status, 200, "{}", updated.body);
    c.post(
        "/api/2.0/fo/appliance/",
        &[("action", "assign_network_id"), ("appliance_id", &appliance), ("network_id", &network)],
    );
    for (module, tracking, ips) in
        [("vm", "IP", "10.9.0.1-10.9.0.40,10.9.1.7"), ("pc", "DNS", "10.9.0.5"), ("vm", "NETBIOS", "10.9.2.1")]
    {
        let (vm, pc) = if module == "vm" { ("1", "0") } else { ("1", "1") };
        let r = c.post(
            "/api/2.0/fo/asset/ip/",
            &[("action", "add"), ("ips", ips), ("tracking_method", tracking), ("enable_vm", vm), ("enable_pc", pc)],
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    c.post(
        "/msp/asset_domain.php",
        &[("action", "add"), ("domain", "west.example"), ("netblock", "10.9.0.0-10.9.0.255,10.9.1.7")],
    );
    c.post(
        "/api/2.0/fo/asset/group/",
        &[
            ("action", "add"),
            ("title", "West Servers"),
            ("ips", "10.9.0.1-10.9.0.20"),
            ("network_id", &network),
            ("appliance_ids", &appliance),
            ("default_appliance_id", &appliance),
            ("domains", "west.example:[10.9.0.0-10.9.0.255]"),
            ("dns_names", "web.west.example"),
            ("netbios_names", "WEST01"),
            ("comments", "Tier 1 & 2"),
            ("division", "IT"),
            ("function", "Web"),
            ("location", "Zürich"),
            ("business_impact", "critical"),
            ("cvss_enviro_cdp", "medium-high"),
            ("cvss_enviro_cr", "high"),
        ],
    )
    .new_id();
    let user = c.post(
        "/msp/user.php",
        &[
            ("action", "add"),
            ("user_role", "scanner"),
            ("business_unit", "Unassigned"),
            ("asset_groups", "West Servers"),
            ("first_name", "Ada"),
            ("last_name", "Lovelace"),
            ("title", "Analyst"),
            ("phone", "+41 44 000 00 00"),
            ("email", "ada@example.invalid"),
            ("address1", "1 Main Street"),
            ("city", "Zürich"),
            ("country", "Switzerland"),
            ("send_email", "0"),
        ],
    );
    assert_eq!(v1_status(&user.xml()), Some("SUCCESS"), "{}", user.body);
    c.post(
        "/api/2.0/fo/asset/vhost/",
        &[("action", "create"), ("ip", "10.9.0.5"), ("port", "443"), ("fqdn", "a.west.example,b.west.example")],
    );
    c.post(
        "/api/2.0/fo/asset/ip/v4_v6/",
        &[("action", "add"), ("csv_data", "0.0.0.1,2001:db8::1\n0.0.0.2,2001:db8::2")],
    );
    let profile = "<OPTION_PROFILES><OPTION_PROFILE><BASIC_INFO><GROUP_NAME>West Scan</GROUP_NAME><GROUP_TYPE>user</GROUP_TYPE>\
        </BASIC_INFO><SCAN><PORTS><TCP_PORTS><TCP_PORTS_TYPE>standard</TCP_PORTS_TYPE></TCP_PORTS></PORTS></SCAN></OPTION_PROFILE>\
        <OPTION_PROFILE><BASIC_INFO><GROUP_NAME>West PC</GROUP_NAME><GROUP_TYPE>compliance</GROUP_TYPE></BASIC_INFO></OPTION_PROFILE>\
        </OPTION_PROFILES>";
    c.post_xml("/api/2.0/fo/subscription/option_profile/?action=import", profile).new_id();
    c.post(
        "/api/2.0/fo/qid/search_list/static/",
        &[("action", "create"), ("title", "West QIDs"), ("qids", "38170,38173-38175"), ("global", "1")],
    )
    .new_id();
    c.post(
        "/api/2.0/fo/qid/search_list/dynamic/",
        &[
            ("action", "create"),
            ("title", "West Criticals"),
            ("confirmed_severities", "4,5"),
            ("vuln_title", "openssl"),
            ("not_vuln_title", "1"),
        ],
    )
    .new_id();
    let template = "<REPORTTEMPLATE><SCANTEMPLATE><TITLE><INFO key=\"title\"><![CDATA[West Technical]]></INFO></TITLE>\
        <TARGET><INFO key=\"scan_selection\">HostBased</INFO></TARGET></SCANTEMPLATE></REPORTTEMPLATE>";
    assert_eq!(c.post_xml("/api/2.0/fo/report/template/scan/?action=create&report_format=xml", template).status, 200);
    c.post(
        "/api/2.0/fo/auth/unix/",
        &[
            ("action", "create"),
            ("title", "West Linux"),
            ("username", "scan"),
            ("password", "hunter2"),
            ("ips", "10.9.0.1-10.9.0.9"),
            ("port", "22"),
        ],
    );
    let tag = "<ServiceRequest><data><Tag><name>West</name><color>#FF0000</color><children><set>\
        <Tag><name>West Web</name><ruleType>NETWORK_RANGE</ruleType><ruleText>10.9.0.0/24</ruleText></Tag>\
        <TagSimple><name>West Other</name></TagSimple></set></children></Tag></data></ServiceRequest>";
    assert_eq!(qps_code(&c.post_xml("/qps/rest/2.0/create/am/tag", tag)), "SUCCESS");
    let policy = "<POLICY_EXPORT_OUTPUT><RESPONSE><POLICY><TITLE>Source title</TITLE><COVER_PAGE>cover</COVER_PAGE>\
        <SECTIONS><SECTION><NUMBER>1</NUMBER><HEADING>Access</HEADING></SECTION></SECTIONS></POLICY></RESPONSE></POLICY_EXPORT_OUTPUT>";
    let policy = c
        .post_xml("/api/2.0/fo/compliance/policy/?action=import&title=West%20Baseline&create_user_controls=1", policy)
        .new_id();
    c.post(
        "/api/2.0/fo/compliance/policy/",
        &[
            ("action", "set_asset_tags"),
            ("id", &policy.to_string()),
            ("tag_set_by", "name"),
            ("tag_set_include", "West"),
        ],
    )
    .new_id();
    c.post(
        "/api/2.0/fo/schedule/scan/",
        &[
            ("action", "create"),
            ("scan_title", "West weekly"),
            ("active", "0"),
            ("option_title", "West Scan"),
            ("priority", "3"),
            ("asset_groups", "West Servers"),
            ("ip", "10.9.1.7"),
            ("iscanner_name", "west-scanner"),
            ("occurrence", "weekly"),
            ("frequency_weeks", "1"),
            ("weekdays", "friday,monday"),
            ("start_date", "12/01/2026"),
            ("start_hour", "22"),
            ("start_minute", "30"),
            ("time_zone_code", "CH"),
            ("observe_dst", "yes"),
            ("before_notify", "1"),
            ("before_notify_unit", "hours"),
            ("before_notify_time", "2"),
            ("before_notify_message", "Scan soon"),
        ],
    )
    .new_id();
    c.post(
        "/api/2.0/fo/schedule/scan/compliance/",
        &[
            ("action", "create"),
            ("scan_title", "West PC monthly"),
            ("active", "1"),
            ("option_title", "West PC"),
            ("target_from", "tags"),
            ("tag_set_by", "name"),
            ("tag_set_include", "West Web"),
            ("scanners_in_ag", "1"),
            ("occurrence", "monthly"),
            ("frequency_months", "1"),
            ("day_of_week", "2"),
            ("week_of_month", "last"),
            ("start_hour", "3"),
            ("start_minute", "0"),
            ("time_zone_code", "US-NY"),
            ("resume_in_days", "Manually"),
        ],
    )
    .new_id();
    let prefs = "<USER_PREFS_OUTPUT><RESPONSE><USER_PREFS><PREFERENCES><LANGUAGE>German</LANGUAGE></PREFERENCES></USER_PREFS></RESPONSE></USER_PREFS_OUTPUT>";
    let users = c.post("/msp/user_list.php", &[]).xml();
    let ada = all(child(&users, &["USER_LIST"]), "USER")
        .into_iter()
        .find(|u| text(u, &["CONTACT_INFO", "FIRSTNAME"]) == "Ada")
        .map(|u| text(u, &["USER_ID"]));
    let ada = ada.expect("the new user is listed");
    assert_eq!(c.post_xml(&format!("/api/2.0/fo/user_prefs/?action=import&user_id={ada}"), prefs).status, 200);
    let config =
        "<RECORD><SUBSCRIPTION><FO><SCAN><EXCLUDED_IPS>10.9.9.9</EXCLUDED_IPS></SCAN></FO></SUBSCRIPTION></RECORD>";
    assert_eq!(c.post_xml("/api/2.0/fo/subscription/index.php?action=import", config).status, 200);
}
