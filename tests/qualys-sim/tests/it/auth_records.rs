//! Authentication records and vaults: what each type takes and requires, the refusals with
//! their codes, secrets kept as digests only, and the seed → export round trip.

use std::fs;
use std::path::Path;

use base64::Engine as _;
use qualys_sim::Config;
use xmltree::{Element, XMLNode};

use crate::common::{Client, all, child, config, files, start, text};

const AUTH: &str = "/api/2.0/fo/auth/";

fn path(auth_type: &str) -> String {
    format!("{AUTH}{auth_type}/")
}

fn create(c: &Client, auth_type: &str, params: &[(&str, &str)]) -> crate::common::Reply {
    let mut form = vec![("action", "create")];
    form.extend_from_slice(params);
    c.post(&path(auth_type), &form)
}

/// The new record's ID from a `BATCH_RETURN`; fails the test on a refusal.
fn created(c: &Client, auth_type: &str, params: &[(&str, &str)]) -> String {
    let reply = create(c, auth_type, params);
    assert_eq!(reply.status, 200, "{auth_type}: {}", reply.body);
    let doc = reply.xml();
    assert_eq!(doc.name, "BATCH_RETURN", "{}", reply.body);
    assert_eq!(text(&doc, &["RESPONSE", "BATCH_LIST", "BATCH", "TEXT"]), "Successfully Created");
    text(&doc, &["RESPONSE", "BATCH_LIST", "BATCH", "ID_SET", "ID"])
}

/// The refusal's code and text.
fn refused(c: &Client, auth_type: &str, params: &[(&str, &str)]) -> (String, String) {
    let reply = create(c, auth_type, params);
    assert_eq!(reply.status, 400, "{auth_type}: {}", reply.body);
    let doc = reply.xml();
    (text(&doc, &["RESPONSE", "CODE"]), text(&doc, &["RESPONSE", "TEXT"]))
}

/// The records of one type, as `details` lists them.
fn records(c: &Client, auth_type: &str, details: &str) -> Vec<Element> {
    let doc = c.get(&format!("{}?action=list&details={details}", path(auth_type))).xml();
    let upper = auth_type.to_ascii_uppercase();
    assert_eq!(doc.name, format!("AUTH_{upper}_LIST_OUTPUT"));
    all(child(&doc, &["RESPONSE", &format!("AUTH_{upper}_LIST")]), &format!("AUTH_{upper}"))
        .into_iter()
        .cloned()
        .collect()
}

fn names(el: &Element) -> Vec<String> {
    el.children.iter().filter_map(|n| n.as_element()).map(|e| e.name.clone()).collect()
}

fn write_vaults(dir: &Path) {
    fs::write(
        dir.join("vaults.xml"),
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<AUTH_VAULT_LIST_OUTPUT><RESPONSE>\
         <DATETIME>2026-10-02T09:15:44Z</DATETIME><AUTH_VAULTS>\
         <AUTH_VAULT><ID>501</ID><TITLE><![CDATA[CyberArk prod]]></TITLE>\
         <VAULT_TYPE><![CDATA[CyberArk AIM]]></VAULT_TYPE><PASSWORD>vault-master-pw</PASSWORD>\
         <LAST_MODIFIED>2026-09-01T00:00:00Z</LAST_MODIFIED></AUTH_VAULT>\
         <AUTH_VAULT><ID>502</ID><TITLE><![CDATA[Hashi]]></TITLE><VAULT_TYPE>HashiCorp</VAULT_TYPE></AUTH_VAULT>\
         </AUTH_VAULTS></RESPONSE></AUTH_VAULT_LIST_OUTPUT>\n",
    )
    .expect("write");
}

fn seeded_with_vaults() -> (tempfile::TempDir, qualys_sim::Running, Client) {
    let dir = tempfile::tempdir().expect("temp dir");
    write_vaults(dir.path());
    let (sim, c) = start(Config { seed: Some(dir.path().to_owned()), ..config() });
    (dir, sim, c)
}

#[test]
fn records_list_their_parameters_and_ip_set_at_basic() {
    let (_sim, c) = start(config());
    let id = created(
        &c,
        "unix",
        &[
            ("title", "Linux root"),
            ("username", "root"),
            ("password", "TopSecret!"),
            ("ips", "10.8.0.1-10.8.0.3"),
            ("port", "2222"),
            ("sub_type", "cisco"),
            ("use_agentless_tracking", "1"),
            ("agentless_tracking_path", "/opt/qualys"),
        ],
    );
    let basic = records(&c, "unix", "Basic");
    assert_eq!(basic.len(), 1);
    let r = &basic[0];
    assert_eq!(
        names(r),
        [
            "ID",
            "TITLE",
            "AGENTLESS_TRACKING_PATH",
            "LOGIN_TYPE",
            "PORT",
            "SUB_TYPE",
            "USE_AGENTLESS_TRACKING",
            "USERNAME",
            "IP_SET",
            "NETWORK_ID",
            "IS_SYSTEM_CREATED",
            "CREATED",
            "LAST_MODIFIED"
        ]
    );
    assert_eq!(text(r, &["ID"]), id);
    assert_eq!(text(r, &["LOGIN_TYPE"]), "basic");
    assert_eq!(text(r, &["IP_SET", "IP_RANGE"]), "10.8.0.1-10.8.0.3");
    assert_eq!((text(r, &["NETWORK_ID"]), text(r, &["IS_SYSTEM_CREATED"])), ("0".into(), "0".into()));
    assert_eq!(records(&c, "unix", "All"), basic, "All adds nothing");
    assert_eq!(names(&records(&c, "unix", "None")[0]), ["ID"]);
    let summary = c.get(&format!("{AUTH}?action=list")).xml();
    assert_eq!(text(&summary, &["RESPONSE", "AUTH_RECORDS", "AUTH_UNIX_RECORDS", "ID_SET", "ID"]), id);

    let again = [("title", "linux ROOT"), ("username", "u"), ("password", "p"), ("ips", "10.8.0.9")];
    assert_eq!(refused(&c, "unix", &again).0, "1905", "titles are unique per type, case aside");
    let unknown = [("title", "W"), ("username", "a"), ("password", "p"), ("sid", "X")];
    assert_eq!(refused(&c, "windows", &unknown), ("1901".into(), "Unrecognized parameter(s): sid".into()));
}

#[test]
fn the_title_filter_matches_part_of_a_title() {
    let (_sim, c) = start(config());
    for title in ["DB prod", "DB prod 2", "Other"] {
        created(&c, "windows", &[("title", title), ("username", "svc"), ("password", "pw")]);
    }
    let found = c.get(&format!("{}?action=list&title=DB%20prod", path("windows"))).xml();
    let titles: Vec<String> = all(child(&found, &["RESPONSE", "AUTH_WINDOWS_LIST"]), "AUTH_WINDOWS")
        .iter()
        .map(|r| text(r, &["TITLE"]))
        .collect();
    assert_eq!(titles, ["DB prod", "DB prod 2"], "a probe must compare titles exactly");
}

#[test]
fn credential_less_types_are_created_without_a_username() {
    let (_sim, c) = start(config());
    for auth_type in ["docker", "kubernetes", "apache", "ms_iis", "ibm_websphere", "tomcat", "ms_exchange"] {
        created(&c, auth_type, &[("title", "On the Linux hosts"), ("ips", "10.1.0.1")]);
        let with_user = [("title", "With a user"), ("ips", "10.1.0.1"), ("username", "root")];
        assert_eq!(refused(&c, auth_type, &with_user).0, "1901", "{auth_type} takes no credentials");
        assert_eq!(refused(&c, auth_type, &[("title", "No IPs")]).0, "1903", "{auth_type} needs its IPs");
        let listed = &records(&c, auth_type, "Basic")[0];
        assert!(!names(listed).contains(&"LOGIN_TYPE".to_owned()), "{auth_type}: {listed:?}");
    }
    for auth_type in ["nginx", "oracle_weblogic", "jboss"] {
        created(&c, auth_type, &[("title", "Probably credential-less"), ("ips", "10.1.0.2")]);
    }
    assert_eq!(refused(&c, "unix", &[("title", "No user"), ("ips", "10.1.0.1"), ("password", "p")]).0, "1903");
    let (code, text) = refused(&c, "unix", &[("title", "No password"), ("ips", "10.1.0.1"), ("username", "u")]);
    assert_eq!((code.as_str(), text.as_str()), ("1903", "Missing required parameter(s): password or login_type=vault"));
}

#[test]
fn type_specific_parameters_are_taken_and_required_as_the_card_says() {
    let (_sim, c) = start(config());
    fn with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        [("username", "scan"), ("password", "pw")].into_iter().chain(extra.iter().copied()).collect()
    }

    let infoblox = with(&[("title", "IB"), ("ips", "10.2.0.1"), ("ssl_verify", "1")]);
    assert_eq!(refused(&c, "infoblox", &infoblox).1, "Missing required parameter(s): api_version");
    created(
        &c,
        "infoblox",
        &with(&[("title", "IB"), ("ips", "10.2.0.1"), ("ssl_verify", "1"), ("api_version", "2.7")]),
    );
    assert_eq!(text(&records(&c, "infoblox", "Basic")[0], &["API_VERSION"]), "2.7");

    assert_eq!(
        refused(&c, "cisco_apic", &with(&[("title", "APIC"), ("ips", "10.2.0.2")])).1,
        "Missing required parameter(s): port"
    );
    created(&c, "cisco_apic", &with(&[("title", "APIC"), ("ips", "10.2.0.2"), ("port", "443"), ("ssl_verify", "1")]));

    let sharepoint = with(&[("title", "SP"), ("db_local", "0")]);
    assert_eq!(
        refused(&c, "microsoft_sharepoint", &sharepoint).1,
        "Missing required parameter(s): windows_domain (required when db_local=0)"
    );
    created(&c, "microsoft_sharepoint", &with(&[("title", "SP"), ("db_local", "0"), ("windows_domain", "CORP")]));

    let nsx = [
        ("title", "NSX"),
        ("ips", "10.2.0.3"),
        ("port", "443"),
        ("hosts", "nsx.corp"),
        ("ssl_verify_with_host", "1"),
        ("use_ad_hashicorp", "0"),
    ];
    created(&c, "nsx", &with(&nsx));

    let both = with(&[("title", "ORA"), ("sid", "ORCL"), ("servicename", "orcl.corp")]);
    assert_eq!(refused(&c, "oracle", &both).0, "1904");
    assert_eq!(
        refused(&c, "oracle", &with(&[("title", "ORA")])).1,
        "Missing required parameter(s): sid or servicename"
    );
    let oracle = [("title", "ORA"), ("servicename", "orcl.corp"), ("port", "1521"), ("is_cdb", "1"), ("pc_only", "0")];
    created(&c, "oracle", &with(&oracle));
    let template = created(&c, "oracle", &with(&[("title", "ORA template"), ("sid", "T"), ("is_template", "1")]));
    let from_template = [("title", "ORA from template"), ("sid", "X"), ("template_auth_id", template.as_str())];
    created(&c, "oracle", &with(&from_template));
    let not_a_template = [("title", "ORA bad"), ("sid", "X"), ("template_auth_id", "7000001")];
    assert_eq!(refused(&c, "oracle", &with(&not_a_template)).0, "1905");

    let v3 = [("title", "SNMP v3"), ("version", "3"), ("username", "snmpuser"), ("password", "authpw")];
    assert_eq!(refused(&c, "snmp", &v3).1, "Missing required parameter(s): auth_alg (required when version=3)");
    let v3 = [
        ("title", "SNMP v3"),
        ("version", "3"),
        ("username", "snmpuser"),
        ("password", "authpw"),
        ("auth_alg", "SHA1"),
        ("priv_alg", "AES"),
        ("encrypt_password", "privpw"),
        ("security_engine_id", "80001f88"),
        ("context_engine_id", "80001f89"),
        ("context", "ctx"),
    ];
    created(&c, "snmp", &v3);
    assert_eq!(refused(&c, "snmp", &[("title", "SNMP v2"), ("version", "2c")]).0, "1903");
    created(&c, "snmp", &[("title", "SNMP v2"), ("version", "2c"), ("community_strings", "public2")]);

    let ms_sql = [
        ("title", "SQL"),
        ("db_local", "0"),
        ("windows_domain", "CORP"),
        ("instance", "MSSQLSERVER"),
        ("database", "master"),
        ("port", "1433"),
    ];
    created(&c, "ms_sql", &with(&ms_sql));

    let unix = [
        ("title", "Unix all"),
        ("ips", "10.2.0.4"),
        ("sub_type", "checkpoint_firewall"),
        ("port", "22"),
        ("cleartext_password", "0"),
        ("skip_password", "0"),
        ("target_type", "auto"),
        ("use_agentless_tracking", "1"),
        ("agentless_tracking_path", "/opt"),
        ("expert_password", "expert"),
    ];
    created(&c, "unix", &with(&unix));
    let windows = [
        ("title", "Windows all"),
        ("windows_ad_domain", "corp.example"),
        ("ntlm", "0"),
        ("kerberos", "1"),
        ("ntlmv2", "1"),
        ("require_smb_signing", "1"),
        ("minimum_smb_version", "3.1.1"),
        ("use_agentless_tracking", "0"),
    ];
    created(&c, "windows", &with(&windows));
    let both_domains = [("title", "Two domains"), ("windows_ad_domain", "corp.example"), ("windows_domain", "CORP")];
    assert_eq!(refused(&c, "windows", &with(&both_domains)).0, "1904");
    assert_eq!(refused(&c, "snmp", &[("title", "SNMP v4"), ("version", "4"), ("community_strings", "c")]).0, "1905");
    let long_user = [("title", "Long"), ("username", "a-windows-user-name-of-32-chars-x"), ("password", "p")];
    assert_eq!(refused(&c, "windows", &long_user).0, "1905", "Windows user names have at most 31 characters");

    assert_eq!(refused(&c, "http", &with(&[("title", "Web"), ("vhost", "a"), ("realm", "b")])).0, "1904");
    assert_eq!(refused(&c, "http", &with(&[("title", "Web")])).0, "1903");
    created(&c, "http", &with(&[("title", "Web"), ("realm", "Intranet"), ("ssl", "1")]));
}

#[test]
fn records_may_target_existing_tags_instead_of_ips() {
    let (_sim, c) = start(config());
    let tag = c.post_xml(
        "/qps/rest/2.0/create/am/tag",
        "<ServiceRequest><data><Tag><name>Linux</name></Tag></data></ServiceRequest>",
    );
    let tag_id = text(&tag.xml(), &["data", "Tag", "id"]);
    let login = [("username", "root"), ("password", "pw")];
    let by_id = [
        ("target_type", "tag"),
        ("tag_set_by", "id"),
        ("tag_include_selector", "any"),
        ("tag_set_include", tag_id.as_str()),
    ];
    let params: Vec<_> = [("title", "By tag")].iter().chain(&login).chain(&by_id).copied().collect();
    created(&c, "unix", &params);
    let by_tag = &records(&c, "unix", "Basic")[0];
    assert_eq!(text(by_tag, &["TAG_SET_INCLUDE"]), tag_id);
    assert!(by_tag.get_child("IP_SET").is_none());
    let by_name = [("title", "By name"), ("tag_set_by", "name"), ("tag_set_include", "Linux")];
    created(&c, "unix", &by_name.iter().chain(&login).copied().collect::<Vec<_>>());
    let missing = [("title", "No tag"), ("tag_set_by", "name"), ("tag_set_include", "Solaris")];
    assert_eq!(refused(&c, "unix", &missing.iter().chain(&login).copied().collect::<Vec<_>>()).0, "1905");
}

#[test]
fn vaults_are_listed_and_records_name_an_existing_one_without_a_password() {
    let (_dir, _sim, c) = seeded_with_vaults();
    let listed = c.get("/api/2.0/fo/vault/?action=list");
    assert_eq!(listed.status, 200);
    assert!(!listed.body.contains("vault-master-pw"), "a vault's own credentials are never kept");
    let doc = listed.xml();
    assert_eq!(doc.name, "AUTH_VAULT_LIST_OUTPUT");
    let vaults = all(child(&doc, &["RESPONSE", "AUTH_VAULTS"]), "AUTH_VAULT");
    let rows: Vec<(String, String, String)> =
        vaults.iter().map(|v| (text(v, &["ID"]), text(v, &["TITLE"]), text(v, &["VAULT_TYPE"]))).collect();
    assert_eq!(
        rows,
        [
            ("501".into(), "CyberArk prod".into(), "CyberArk AIM".into()),
            ("502".into(), "Hashi".into(), "HashiCorp".into())
        ]
    );

    let vault = [
        ("title", "Vaulted"),
        ("username", "svc"),
        ("login_type", "vault"),
        ("vault_type", "cyberark_aim"),
        ("vault_id", "501"),
        ("folder", "Root"),
        ("file", "svc-account"),
    ];
    created(&c, "windows", &vault);
    let r = &records(&c, "windows", "Basic")[0];
    assert_eq!(
        (text(r, &["LOGIN_TYPE"]), text(r, &["VAULT_ID"]), text(r, &["VAULT_TYPE"]), text(r, &["FOLDER"])),
        ("vault".into(), "501".into(), "cyberark_aim".into(), "Root".into())
    );

    let with_password = [
        ("title", "Both"),
        ("username", "root"),
        ("ips", "10.4.0.1"),
        ("login_type", "vault"),
        ("vault_type", "cyberark_aim"),
        ("vault_id", "501"),
        ("password", "Do-Not-Echo-1"),
    ];
    let (code, message) = refused(&c, "unix", &with_password);
    assert_eq!(code, "1905");
    assert!(message.contains("unix") && message.contains("vault_id") && message.contains("password"), "{message}");
    assert!(!message.contains("Do-Not-Echo-1"), "{message}");
    let cleartext = [
        ("title", "Cleartext"),
        ("username", "root"),
        ("ips", "10.4.0.1"),
        ("login_type", "vault"),
        ("vault_type", "x"),
        ("vault_id", "501"),
        ("cleartext_password", "1"),
    ];
    assert!(refused(&c, "unix", &cleartext).1.contains("cleartext_password"));

    let no_such =
        [("title", "Nowhere"), ("username", "svc"), ("login_type", "vault"), ("vault_type", "x"), ("vault_id", "999")];
    assert_eq!(refused(&c, "windows", &no_such).0, "1905");
    let half = [("title", "Half"), ("username", "svc"), ("login_type", "vault"), ("vault_type", "x")];
    assert_eq!(refused(&c, "windows", &half), ("1903".into(), "Missing required parameter(s): vault_id".into()));
    let without_login_type = [("title", "Basic vault"), ("username", "svc"), ("password", "p"), ("vault_id", "501")];
    assert_eq!(refused(&c, "windows", &without_login_type).0, "1905");

    let nsx =
        [("title", "NSX"), ("ips", "10.4.0.2"), ("username", "admin"), ("login_type", "vault"), ("vault_id", "501")];
    let cyberark: Vec<_> = nsx.iter().copied().chain([("vault_type", "cyberark_aim")]).collect();
    assert_eq!(refused(&c, "nsx", &cyberark).0, "1905", "NSX takes HashiCorp vaults only");
    let hashicorp: Vec<_> = nsx.iter().copied().chain([("vault_type", "hashicorp")]).collect();
    created(&c, "nsx", &hashicorp);
}

/// Every secret parameter, each on a type that takes it, with a value found nowhere else.
const SECRETS: &[(&str, &str, &str)] = &[
    ("unix", "password", "unix-pw-&<1>"),
    ("unix", "enable_password", "enable-pw-2"),
    ("unix", "expert_password", "expert-pw-3"),
    ("network_ssh", "password2", "second-pw-4"),
    ("snmp", "community_strings", "community-5"),
    ("snmp", "encrypt_password", "encrypt-pw-6"),
    ("postgresql", "passphrase", "passphrase-7"),
    ("cassandra", "private_key", "-----BEGIN PRIVATE KEY-----8"),
    ("cisco_apic", "privatekey", "apic-key-9"),
    ("cisco_apic", "certificate", "apic-cert-10"),
    ("oracle", "cwallet", "cwallet-11"),
    ("oracle", "ewallet", "ewallet-12"),
    ("postgresql", "client_key", "client-key-13"),
];

/// The forms a secret could leak in: raw, XML-escaped, form-encoded, base64.
fn leaks(secret: &str) -> Vec<String> {
    let escaped = secret.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let base64 = base64::engine::general_purpose::STANDARD.encode(secret);
    vec![secret.to_owned(), escaped, encoded, base64]
}

fn sha256(secret: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn secrets_are_kept_as_digests_only_and_never_listed_exported_or_echoed() {
    let (sim, c) = start(config());
    let base: &[(&str, &[(&str, &str)])] = &[
        ("unix", &[("username", "root"), ("ips", "10.5.0.1"), ("sub_type", "cisco")]),
        ("network_ssh", &[("username", "admin"), ("password", "ssh-pw-14")]),
        ("snmp", &[("version", "3"), ("username", "snmpuser"), ("password", "snmp-pw-15"), ("auth_alg", "SHA1")]),
        (
            "postgresql",
            &[("username", "pg"), ("password", "pg-pw-16"), ("pgsql_db_name", "postgres"), ("port", "5432")],
        ),
        ("cassandra", &[("username", "cass"), ("password", "cass-pw-17")]),
        ("cisco_apic", &[("username", "apic"), ("password", "apic-pw-18"), ("ips", "10.5.0.2"), ("port", "443")]),
        (
            "oracle",
            &[("username", "sys"), ("password", "ora-pw-19"), ("sid", "ORCL"), ("passphrase", "wallet-pass-20")],
        ),
    ];
    let mut every_secret: Vec<&str> = SECRETS.iter().map(|(_, _, v)| *v).collect();
    every_secret.extend([
        "ssh-pw-14",
        "snmp-pw-15",
        "pg-pw-16",
        "cass-pw-17",
        "apic-pw-18",
        "ora-pw-19",
        "wallet-pass-20",
    ]);
    let mut refusals = String::new();
    for (auth_type, params) in base {
        let mut form: Vec<(&str, &str)> = vec![("title", "Shared title")];
        form.extend_from_slice(params);
        form.extend(SECRETS.iter().filter(|(t, _, _)| t == auth_type).map(|(_, name, value)| (*name, *value)));
        // A refused create (an unknown parameter) echoes no secret either.
        let mut bad = form.clone();
        bad.push(("bogus", "1"));
        refusals.push_str(&create(&c, auth_type, &bad).body);
        created(&c, auth_type, &form);
    }
    let too_long = "L".repeat(101);
    let long_password = [("title", "Long"), ("username", "u"), ("ips", "10.5.0.9"), ("password", too_long.as_str())];
    let (code, message) = refused(&c, "unix", &long_password);
    assert_eq!(code, "1905");
    assert!(!message.contains(&too_long) && message.contains("password"), "{message}");

    let digests = serde_json::to_value(sim.auth_secrets()).expect("JSON");
    for (auth_type, name, value) in SECRETS {
        assert_eq!(digests[auth_type]["Shared title"][name], sha256(value), "{auth_type} {name}");
    }
    assert_eq!(digests["unix"]["Shared title"].as_object().map(|o| o.len()), Some(3), "{digests}");
    let served = c.get("/__sim/auth-secrets");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&served.body).expect("JSON"), digests);
    assert_eq!(c.post("/__sim/auth-secrets", &[]).status, 405);

    let mut seen = refusals;
    for (auth_type, _) in base {
        for details in ["Basic", "All"] {
            seen.push_str(&c.get(&format!("{}?action=list&details={details}", path(auth_type))).body);
        }
    }
    seen.push_str(&c.get(&format!("{AUTH}?action=list")).body);
    seen.push_str(&c.get("/__sim/counters").body);
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("export");
    sim.export(&out).expect("export");
    for (name, bytes) in files(&out) {
        seen.push_str(&format!("\n{name}\n{}", String::from_utf8(bytes).expect("UTF-8")));
    }
    for secret in every_secret {
        for form in leaks(secret) {
            assert!(!seen.contains(&form), "{form} leaked");
        }
        assert!(!seen.contains(&sha256(secret)), "the digest of {secret} leaked");
    }
}

/// A record as comparable text: fields in name order, CDATA and text alike.
fn comparable(el: &Element) -> String {
    let mut fields: Vec<String> = el
        .children
        .iter()
        .map(|n| match n {
            XMLNode::Element(e) => format!("{}={}", e.name, comparable(e)),
            XMLNode::Text(t) | XMLNode::CData(t) => t.clone(),
            _ => String::new(),
        })
        .collect();
    fields.sort();
    fields.join("|")
}

#[test]
fn seeded_records_and_vaults_export_as_captured() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_vaults(dir.path());
    let unix = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<AUTH_UNIX_LIST_OUTPUT><RESPONSE>\
        <DATETIME>2026-10-02T09:15:44Z</DATETIME><AUTH_UNIX_LIST>\
        <AUTH_UNIX><ID>9001</ID><TITLE><![CDATA[R&D Linux — prod]]></TITLE><USERNAME>scanner</USERNAME>\
        <LOGIN_TYPE>vault</LOGIN_TYPE><VAULT_ID>501</VAULT_ID><VAULT_TYPE>cyberark_aim</VAULT_TYPE>\
        <PASSWORD>captured-by-a-privileged-user</PASSWORD>\
        <IP_SET><IP>10.6.0.1</IP><IP_RANGE>10.6.0.5-10.6.0.9</IP_RANGE></IP_SET><NETWORK_ID>0</NETWORK_ID>\
        <IS_SYSTEM_CREATED>0</IS_SYSTEM_CREATED><COMMENTS><![CDATA[seeded]]></COMMENTS>\
        <CREATED><DATETIME>2026-09-01T00:00:00Z</DATETIME><BY>nwind_mg</BY></CREATED>\
        <LAST_MODIFIED><DATETIME>2026-09-02T00:00:00Z</DATETIME></LAST_MODIFIED>\
        <VAULT><VAULT_ID>501</VAULT_ID></VAULT></AUTH_UNIX>\
        <AUTH_UNIX><ID>9002</ID><TITLE>Discovered</TITLE><IS_SYSTEM_CREATED>1</IS_SYSTEM_CREATED>\
        <NETWORK_ID>0</NETWORK_ID><CREATED><DATETIME>2026-09-01T00:00:00Z</DATETIME><BY>system</BY></CREATED>\
        <LAST_MODIFIED><DATETIME>2026-09-01T00:00:00Z</DATETIME></LAST_MODIFIED></AUTH_UNIX>\
        </AUTH_UNIX_LIST></RESPONSE></AUTH_UNIX_LIST_OUTPUT>\n";
    fs::write(dir.path().join("auth_unix.xml"), unix).expect("write");
    let docker = "<AUTH_DOCKER_LIST_OUTPUT><RESPONSE><DATETIME>2026-10-02T09:15:44Z</DATETIME><AUTH_DOCKER_LIST>\
        <AUTH_DOCKER><ID>9010</ID><TITLE>Containers</TITLE><DOCKER_COMMAND>/usr/bin/docker</DOCKER_COMMAND>\
        <IP_SET><IP>10.6.0.1</IP></IP_SET><NETWORK_ID>0</NETWORK_ID><IS_SYSTEM_CREATED>0</IS_SYSTEM_CREATED>\
        <CREATED><DATETIME>2026-09-01T00:00:00Z</DATETIME><BY>nwind_mg</BY></CREATED>\
        <LAST_MODIFIED><DATETIME>2026-09-01T00:00:00Z</DATETIME></LAST_MODIFIED></AUTH_DOCKER>\
        </AUTH_DOCKER_LIST></RESPONSE></AUTH_DOCKER_LIST_OUTPUT>";
    fs::write(dir.path().join("auth_docker.xml"), docker).expect("write");
    let (sim, c) = start(Config { seed: Some(dir.path().to_owned()), ..config() });

    let digests = serde_json::to_value(sim.auth_secrets()).expect("JSON");
    assert_eq!(digests["unix"]["R&D Linux — prod"]["password"], sha256("captured-by-a-privileged-user"));
    let summary = c.get(&format!("{AUTH}?action=list")).xml();
    assert_eq!(text(&summary, &["RESPONSE", "AUTH_RECORDS", "AUTH_UNIX_RECORDS", "ID_SET", "ID_RANGE"]), "9001-9002");

    let out = dir.path().join("export");
    sim.export(&out).expect("export");
    let exported = files(&out);
    let read = |bytes: &[u8]| Element::parse(bytes).expect("XML");
    let records_of = |doc: &Element, upper: &str| -> Vec<Element> {
        all(child(doc, &["RESPONSE", &format!("AUTH_{upper}_LIST")]), &format!("AUTH_{upper}"))
            .into_iter()
            .cloned()
            .collect()
    };
    let original = read(unix.as_bytes());
    let back = read(&exported["auth_records_unix.xml"]);
    let strip_password = |mut el: Element| {
        el.children.retain(|n| n.as_element().is_none_or(|e| e.name != "PASSWORD"));
        el
    };
    let expected: Vec<Element> = records_of(&original, "UNIX").into_iter().map(strip_password).collect();
    let (expected_sorted, back_sorted): (Vec<_>, Vec<_>) =
        (expected.iter().map(comparable).collect(), records_of(&back, "UNIX").iter().map(comparable).collect());
    assert_eq!(back_sorted, expected_sorted, "every field but the password comes back");
    assert!(!String::from_utf8_lossy(&exported["auth_records_unix.xml"]).contains("captured-by"));
    let comparable_records =
        |doc: &Element, upper: &str| -> Vec<String> { records_of(doc, upper).iter().map(comparable).collect() };
    assert_eq!(
        comparable_records(&read(&exported["auth_records_docker.xml"]), "DOCKER"),
        comparable_records(&read(docker.as_bytes()), "DOCKER"),
        "a credential-less record comes back as captured"
    );

    let vaults = read(&exported["vaults.xml"]);
    let vault_rows: Vec<(String, String)> = all(child(&vaults, &["RESPONSE", "AUTH_VAULTS"]), "AUTH_VAULT")
        .iter()
        .map(|v| (text(v, &["ID"]), text(v, &["TITLE"])))
        .collect();
    assert_eq!(vault_rows, [("501".into(), "CyberArk prod".into()), ("502".into(), "Hashi".into())]);
    assert!(!String::from_utf8_lossy(&exported["vaults.xml"]).contains("vault-master-pw"));

    let (reseeded, _c) = start(Config { seed: Some(out.clone()), ..config() });
    let again = dir.path().join("again");
    reseeded.export(&again).expect("export");
    assert_eq!(files(&again), exported, "a seeded export exports the same bytes");
}
