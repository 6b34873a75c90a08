//! Authentication records: the summary of every type (`/api/2.0/fo/auth/` `list`) and, per
//! type, `list` and `create` (`/api/2.0/fo/auth/<type>/`). Create answers with a
//! `BATCH_RETURN`. Passwords and other secrets are never listed or exported, as Qualys never
//! exports them; only their SHA-256 is kept, so that a test can check which secret a record
//! received (`/__sim/auth-secrets`).

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};

use crate::api::{
    Call, Ctx, Handler, Registration, Reply, id_set, list_document, network, page, read_with, typed, write,
};
use crate::export;
use crate::ipset::Ipv4Set;
use crate::params::{ApiError, Params, id_matches};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State};
use crate::xml::{Document, Element, Parsed};

const IDS: IdSequence = IdSequence::new("auth_record", 7_000_001);
pub(crate) const PATH: &str = "/api/2.0/fo/auth/";
pub(crate) const TYPE_PATH: &str = "/api/2.0/fo/auth/*/";
pub(crate) static KIND: Registration = Registration {
    ops: &[
        read_with(PATH, "list", Handler::Call(list_all)),
        typed(read_with(TYPE_PATH, "list", Handler::TypedDoc(list_doc)), TYPES),
        typed(write(TYPE_PATH, "create", create), TYPES),
    ],
    seeds: &[SeedDoc::test(is_type_list, seed)],
    defaults: None,
    export,
    counts: &[("auth_records", |state| state.auth_records.len() as u64)],
};
/// "A maximum of 1,000 authentication records can be processed per request."
const PAGE: u64 = 1000;

pub(crate) const TYPES: &[&str] = &[
    "windows",
    "unix",
    "network_ssh",
    "oracle",
    "oracle_listener",
    "snmp",
    "ms_sql",
    "azure_ms_sql",
    "mysql",
    "mariadb",
    "postgresql",
    "sybase",
    "ibm_db2",
    "informixdb",
    "mongodb",
    "cassandra",
    "datastax",
    "greenplum",
    "marklogic",
    "neo4j",
    "sapiq",
    "sap_hana",
    "vmware",
    "vcenter",
    "nsx",
    "http",
    "apache",
    "nginx",
    "ms_iis",
    "ibm_websphere",
    "tomcat",
    "oracle_weblogic",
    "oracle_http_server",
    "jboss",
    "kubernetes",
    "docker",
    "palo_alto_firewall",
    "cisco_apic",
    "infoblox",
    "bind",
    "microsoft_sharepoint",
    "ms_exchange",
];

/// Parameters every type takes.
const COMMON: &[&str] = &[
    "action",
    "echo_request",
    "title",
    "comments",
    "ips",
    "network_id",
    "username",
    "password",
    "login_type",
    "vault_type",
    "vault_id",
];

/// Parameters particular to a type (the ones Qualys documents for the types qmig meets most).
const SPECIFIC: &[(&str, &[&str])] = &[
    (
        "unix",
        &[
            "sub_type",
            "port",
            "cleartext_password",
            "skip_password",
            "enable_password",
            "expert_password",
            "target_type",
            "use_agentless_tracking",
            "agentless_tracking_path",
        ],
    ),
    (
        "windows",
        &[
            "windows_ad_domain",
            "windows_domain",
            "ntlm",
            "kerberos",
            "ntlmv2",
            "require_smb_signing",
            "minimum_smb_version",
            "use_agentless_tracking",
        ],
    ),
    ("oracle", &["sid", "servicename", "port", "is_cdb", "pc_only", "is_template"]),
    (
        "ms_sql",
        &[
            "db_local",
            "windows_domain",
            "auth_os_type",
            "instance",
            "auto_discover_instances",
            "database",
            "auto_discover_databases",
            "port",
            "auto_discover_ports",
            "member_domain",
            "kerberos",
            "ntlmv2",
            "ntlmv1",
            "mssql_unix_insta_path",
            "mssql_unix_conf_path",
        ],
    ),
    (
        "mysql",
        &[
            "database",
            "port",
            "ssl_verify",
            "hosts",
            "windows_config_file",
            "unix_config_file",
            "client_cert",
            "client_key",
        ],
    ),
    (
        "postgresql",
        &[
            "pgsql_db_name",
            "port",
            "pgsql_win_conf_path",
            "pgsql_unix_conf_path",
            "ssl_verify",
            "hosts",
            "client_cert",
            "client_key",
            "passphrase",
        ],
    ),
    ("vmware", &["port", "hosts", "ssl_verify", "is_disconnect"]),
    (
        "snmp",
        &[
            "version",
            "community_strings",
            "auth_alg",
            "encrypt_password",
            "priv_alg",
            "security_engine_id",
            "context_engine_id",
            "context",
        ],
    ),
    ("http", &["vhost", "realm", "ssl"]),
    ("docker", &["docker_deamon_conf_file", "docker_command"]),
    ("kubernetes", &["unix_bin_path", "unix_conf_path"]),
    ("mongodb", &["unix_conf_file", "database_name", "port", "ssl_verify", "hosts", "credential_type", "cleartext"]),
    ("ibm_db2", &["database", "port", "pc_only", "win_db2dir", "unix_db2dir"]),
    ("sybase", &["port", "database", "auto_discover_databases", "installation_dir", "password_encryption"]),
    ("network_ssh", &["password2", "port", "target_type", "cleartext_password"]),
    (
        "tomcat",
        &[
            "installation_path",
            "instance_path",
            "auto_discover_instances",
            "installation_path_windows",
            "instance_path_windows",
            "service_name",
            "status",
        ],
    ),
    (
        "apache",
        &[
            "unix_apache_config_file",
            "unix_apache_control_command",
            "windows_apache_config_file",
            "windows_apache_control_command",
            "status",
        ],
    ),
];

/// Never stored, never listed: only their SHA-256 is kept.
const SECRETS: &[&str] = &[
    "password",
    "enable_password",
    "expert_password",
    "password2",
    "passphrase",
    "encrypt_password",
    "community_strings",
    "client_key",
];
/// Types that authenticate without a user name.
const NO_USERNAME: &[&str] = &["snmp"];
/// Parameters that have their own place in the record rather than a field of their own.
const STRUCTURAL: &[&str] = &["action", "echo_request", "title", "comments", "ips", "network_id"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthRecord {
    pub id: u64,
    pub auth_type: String,
    pub title: String,
    /// Every other non-secret parameter, by name.
    pub fields: BTreeMap<String, String>,
    pub ips: Ipv4Set,
    pub network_id: u64,
    pub comments: Option<String>,
    pub created: String,
    pub created_by: String,
    pub modified: String,
    /// SHA-256 (hex) of each secret parameter the record was created with, by name. Seeded
    /// records have none: exports never hold secrets.
    pub secret_sha256: BTreeMap<String, String>,
}

/// `AUTH_UNIX`, `AUTH_MS_SQL`, ...
fn element_name(auth_type: &str) -> String {
    format!("AUTH_{}", auth_type.to_ascii_uppercase())
}

/// The type whose list document has this root (`AUTH_UNIX_LIST_OUTPUT` → `unix`).
pub(crate) fn type_of_root(root: &str) -> Option<&'static str> {
    let slug = root.strip_prefix("AUTH_")?.strip_suffix("_LIST_OUTPUT")?.to_ascii_lowercase();
    TYPES.iter().copied().find(|t| *t == slug)
}

fn list_all(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "echo_request", "ids", "title"])?;
    let ids = p.id_list("ids")?;
    let mut records = Element::new("AUTH_RECORDS");
    for auth_type in TYPES {
        let of_type = call.state.auth_records.values().filter(|r| {
            r.auth_type == *auth_type
                && ids.as_ref().is_none_or(|ids| id_matches(ids, r.id))
                && p.value("title").is_none_or(|t| r.title == t)
        });
        let set = id_set(of_type.map(|r| r.id));
        if !set.children.is_empty() {
            records.push(Element::new(format!("{}_RECORDS", element_name(auth_type))).child(set));
        }
    }
    Ok(list_document("AUTH_LIST_OUTPUT", call.ctx, PATH, p, &call.state.now(), vec![records])?.into())
}

fn list_doc(state: &State, params: &Params, ctx: &Ctx, auth_type: &str) -> Result<Document, ApiError> {
    params.only(&["action", "echo_request", "details", "ids", "id_min", "id_max", "title"])?;
    let details = params.choice("details", &["None", "Basic", "All"])?.unwrap_or("Basic");
    let ids = params.id_list("ids")?;
    let selected = state.auth_records.values().filter(|r| {
        r.auth_type == auth_type
            && ids.as_ref().is_none_or(|ids| id_matches(ids, r.id))
            && params.value("title").is_none_or(|t| r.title == t)
    });
    let path = format!("{PATH}{auth_type}/");
    let page = page(selected.map(|r| (r.id, r)), params, ctx, &path, PAGE)?;
    let name = element_name(auth_type);
    let mut list = Element::new(format!("{name}_LIST"));
    for r in page.items {
        list.push(element(r, &name, details));
    }
    let mut body = vec![list];
    body.extend(page.warning);
    list_document(&format!("{name}_LIST_OUTPUT"), ctx, &path, params, &state.now(), body)
}

fn element(r: &AuthRecord, name: &str, details: &str) -> Element {
    let mut el = Element::new(name).child(Element::text("ID", r.id.to_string()));
    if details == "None" {
        return el;
    }
    el.push(Element::cdata("TITLE", &r.title));
    for (field, value) in &r.fields {
        el.push(Element::cdata(field.to_ascii_uppercase(), value));
    }
    if details == "All" && !r.ips.is_empty() {
        el.push(r.ips.to_ip_set());
    }
    el.push(Element::text("NETWORK_ID", r.network_id.to_string()));
    el.push_opt(r.comments.as_ref().map(|c| Element::cdata("COMMENTS", c)));
    el.push(
        Element::new("CREATED").child(Element::text("DATETIME", &r.created)).child(Element::cdata("BY", &r.created_by)),
    );
    el.push(Element::new("LAST_MODIFIED").child(Element::text("DATETIME", &r.modified)));
    el
}

/// One file per type that has records, one more per page of 1000.
fn export(state: &State, ctx: &Ctx) -> Result<Vec<(String, Document)>, ApiError> {
    let mut files = Vec::new();
    for auth_type in TYPES {
        if state.auth_records.values().any(|r| r.auth_type == *auth_type) {
            let params = Params::from_pairs(&[("action", "list"), ("details", "All")]);
            files.extend(export::pages(&format!("auth_records_{auth_type}"), params, |params| {
                list_doc(state, params, ctx, auth_type)
            })?);
        }
    }
    Ok(files)
}

fn is_type_list(doc: &Parsed) -> bool {
    type_of_root(&doc.root.name).is_some()
}

fn create(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let auth_type = call.segment.to_owned();
    let p = call.params;
    let specific = SPECIFIC.iter().find(|(t, _)| *t == auth_type).map_or(&[][..], |(_, params)| *params);
    p.only(&COMMON.iter().chain(specific).copied().collect::<Vec<_>>())?;
    let title = p.require("title")?.trim().to_owned();
    if title.chars().count() > 255 {
        return Err(ApiError::invalid("title", &title, "At most 255 characters"));
    }
    if call.state.auth_records.values().any(|r| r.auth_type == auth_type && r.title.eq_ignore_ascii_case(&title)) {
        return Err(ApiError::invalid("title", &title, "An authentication record with this title already exists"));
    }
    if !NO_USERNAME.contains(&auth_type.as_str()) {
        p.require("username")?;
    }
    let vault = p.choice("login_type", &["basic", "vault"])? == Some("vault");
    if vault {
        let missing: Vec<&str> = ["vault_type", "vault_id"].into_iter().filter(|v| p.value(v).is_none()).collect();
        if !missing.is_empty() {
            return Err(ApiError::missing(&missing));
        }
    }
    if let Some(comments) = p.value("comments").filter(|c| c.chars().count() > 1999) {
        return Err(ApiError::invalid("comments", comments, "At most 1999 characters"));
    }
    let ips = p.value("ips").map(Ipv4Set::parse_list).transpose().map_err(|e| ApiError::invalid("ips", e, ""))?;
    let network_id = network::param(call.state, p, "network_id")?.unwrap_or(0);
    let fields = p
        .pairs()
        .iter()
        .filter(|(k, v)| !STRUCTURAL.contains(&k.as_str()) && !SECRETS.contains(&k.as_str()) && !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let secret_sha256 = SECRETS
        .iter()
        .filter_map(|name| p.value(name).map(|secret| ((*name).to_owned(), sha256_hex(secret))))
        .collect();
    let id = call.state.next_id(IDS);
    let now = call.state.tick();
    let record = AuthRecord {
        id,
        auth_type,
        title,
        fields,
        ips: ips.unwrap_or_default(),
        network_id,
        comments: p.value("comments").map(str::to_owned),
        created: now.clone(),
        created_by: call.state.api_login.clone(),
        modified: now.clone(),
        secret_sha256,
    };
    call.state.auth_records.insert(id, record);
    let batch = Element::new("BATCH")
        .child(Element::text("TEXT", "Successfully Created"))
        .child(Element::new("ID_SET").child(Element::text("ID", id.to_string())));
    let root = Element::new("BATCH_RETURN").child(
        Element::new("RESPONSE").child(Element::text("DATETIME", &now)).child(Element::new("BATCH_LIST").child(batch)),
    );
    Ok(Document::with_dtd(root, format!("{}/api/2.0/batch_return.dtd", call.ctx.base)).into())
}

fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The secret digests of every record, by title: `{title: {parameter: sha256}}`. Titles are
/// unique per type only; a title two types share lists the parameters of both records.
pub(crate) fn secret_digests(state: &State) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for r in state.auth_records.values() {
        out.entry(r.title.clone()).or_default().extend(r.secret_sha256.clone());
    }
    out
}

/// Reads `AUTH_<TYPE>_LIST_OUTPUT`.
fn seed(state: &mut State, file: &SeedFile) -> SeedResult {
    let root = file.root();
    let auth_type = type_of_root(&root.name).ok_or_else(|| format!("unknown record type in {}", root.name))?;
    let name = element_name(auth_type);
    let Some(list) = root.path(&["RESPONSE", &format!("{name}_LIST")]) else { return Ok(()) };
    for el in list.all(&name) {
        let id = seed::id(el, "ID")?;
        let mut record = AuthRecord {
            id,
            auth_type: auth_type.to_owned(),
            title: seed::text(el, "TITLE")?,
            fields: BTreeMap::new(),
            ips: Ipv4Set::default(),
            network_id: seed::opt_id(el, "NETWORK_ID")?.unwrap_or(0),
            comments: el.non_empty("COMMENTS"),
            created: el.path(&["CREATED", "DATETIME"]).map(Element::value).unwrap_or_default(),
            created_by: el.path(&["CREATED", "BY"]).map(Element::value).unwrap_or_default(),
            modified: el.path(&["LAST_MODIFIED", "DATETIME"]).map(Element::value).unwrap_or_default(),
            secret_sha256: BTreeMap::new(),
        };
        for child in el.elements() {
            match child.name.as_str() {
                "ID" | "TITLE" | "NETWORK_ID" | "COMMENTS" | "CREATED" | "LAST_MODIFIED" => {}
                "IP_SET" => record.ips = Ipv4Set::from_ip_set(child).map_err(|e| format!("bad address {e}"))?,
                field => {
                    record.fields.insert(field.to_ascii_lowercase(), child.value());
                }
            }
        }
        state.observe_id(IDS, id);
        state.auth_records.insert(id, record);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_kept_as_sha256_hex() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn list_roots_name_their_type() {
        assert_eq!(type_of_root("AUTH_MS_SQL_LIST_OUTPUT"), Some("ms_sql"));
        assert_eq!(type_of_root("AUTH_BOGUS_LIST_OUTPUT"), None);
    }
}
