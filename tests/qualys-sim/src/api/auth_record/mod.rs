//! Authentication records: the summary of every type (`/api/2.0/fo/auth/` `list`) and, per
//! type, `list` and `create` (`/api/2.0/fo/auth/<type>/`). Create answers with a
//! `BATCH_RETURN`. What each type takes and requires is in [`types`].
//!
//! A record lists every non-secret parameter it was created with as an element named after
//! the parameter, upper-cased (`sub_type` → `SUB_TYPE`), and seeds from the same shape, so a
//! seeded record exports as it was captured. Secrets (`password`, keys, wallets, community
//! strings, ...) are never listed, exported or echoed in an error, as Qualys never exports
//! them; only their SHA-256 is kept, so that a test can check which secret a record received
//! (`/__sim/auth-secrets`).

mod types;

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};

use crate::api::{
    Call, Ctx, Handler, Registration, Reply, id_set, list_document, network, page, read_with, typed, vault, write,
};
use crate::ipset::Ipv4Set;
use crate::params::{ApiError, Params, id_matches};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State};
use crate::xml::{Document, Element, Parsed};
use crate::{AuthSecrets, export};
use types::{LOGIN_PARAMS, Login, RECORD_TYPES, RecordType, SECRETS, TAG_PARAMS, is_record_type, record_type};

pub(crate) static KIND: Registration = Registration {
    ops: &[
        read_with(PATH, "list", Handler::Call(list_all)),
        typed(read_with(TYPE_PATH, "list", Handler::TypedDoc(list_doc)), is_record_type),
        typed(write(TYPE_PATH, "create", create), is_record_type),
        typed(write(TYPE_PATH, "delete", delete), is_record_type),
    ],
    seeds: &[SeedDoc::test(is_type_list, seed)],
    defaults: None,
    export,
    counts: &[("auth_records", |state| state.auth_records.len() as u64)],
};

const IDS: IdSequence = IdSequence::new("auth_record", 7_000_001);
const PATH: &str = "/api/2.0/fo/auth/";
const TYPE_PATH: &str = "/api/2.0/fo/auth/*/";
/// "A maximum of 1,000 authentication records can be processed per request."
const PAGE: u64 = 1000;
const MAX_TITLE: usize = 255;
const MAX_COMMENTS: usize = 1999;
const MAX_PASSWORD: usize = 100;
const MAX_USERNAME: usize = 255;
/// "Windows: 1–31 characters" (D-WIN).
const MAX_WINDOWS_USERNAME: usize = 31;

/// Parameters every type takes.
const COMMON: &[&str] = &["action", "echo_request", "title", "comments", "ips", "network_id"];
/// Elements that have their own place in a record rather than being a parameter's field.
const STRUCTURAL: &[&str] =
    &["ID", "TITLE", "IP_SET", "NETWORK_ID", "IS_SYSTEM_CREATED", "COMMENTS", "CREATED", "LAST_MODIFIED"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthRecord {
    pub id: u64,
    pub auth_type: &'static str,
    pub title: String,
    /// Every other non-secret parameter, by name (`login_type` included).
    pub fields: BTreeMap<String, String>,
    pub ips: Ipv4Set,
    pub network_id: u64,
    pub comments: Option<String>,
    /// Made by instance discovery ("auto record creation"), never through the API.
    pub system_created: bool,
    pub created: String,
    pub created_by: String,
    pub modified: String,
    /// Elements of a seeded record with children of their own (`VAULT/(VAULT_ID, ...)` in
    /// some captures), kept as read.
    pub extra: Vec<Element>,
    /// SHA-256 (hex) of each secret parameter the record was created with, by name.
    pub secret_sha256: BTreeMap<String, String>,
}

/// `AUTH_UNIX`, `AUTH_MS_SQL`, ...
fn element_name(auth_type: &str) -> String {
    format!("AUTH_{}", auth_type.to_ascii_uppercase())
}

/// The type whose list document has this root (`AUTH_UNIX_LIST_OUTPUT` → `unix`).
fn type_of_root(root: &str) -> Option<&'static RecordType> {
    record_type(&root.strip_prefix("AUTH_")?.strip_suffix("_LIST_OUTPUT")?.to_ascii_lowercase())
}

fn is_type_list(doc: &Parsed) -> bool {
    type_of_root(&doc.root.name).is_some()
}

/// The list's `title` filter: "records which have a certain string" in their title, so a
/// client looking for one record must compare the titles itself.
fn title_matches(params: &Params, title: &str) -> bool {
    params.value("title").is_none_or(|t| title.contains(t))
}

fn list_all(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "echo_request", "ids", "id_min", "id_max", "title", "comments"])?;
    let ids = p.id_list("ids")?;
    let (id_min, id_max) = (p.number("id_min")?.unwrap_or(0), p.number("id_max")?.unwrap_or(u64::MAX));
    let mut records = Element::new("AUTH_RECORDS");
    for t in RECORD_TYPES {
        let of_type = call.state.auth_records.values().filter(|r| {
            r.auth_type == t.slug
                && ids.as_ref().is_none_or(|ids| id_matches(ids, r.id))
                && (id_min..=id_max).contains(&r.id)
                && title_matches(p, &r.title)
                && p.value("comments").is_none_or(|c| r.comments.as_deref().is_some_and(|rc| rc.contains(c)))
        });
        let set = id_set(of_type.map(|r| r.id));
        if !set.children.is_empty() {
            records.push(Element::new(format!("{}_RECORDS", element_name(t.slug))).child(set));
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
            && title_matches(params, &r.title)
    });
    let path = format!("{PATH}{auth_type}/");
    let page = page(selected.map(|r| (r.id, r)), params, ctx, &path, PAGE)?;
    let name = element_name(auth_type);
    let mut list = Element::new(format!("{name}_LIST"));
    for r in page.items {
        list.push(element(r, &name, details != "None"));
    }
    let mut body = vec![list];
    body.extend(page.warning);
    list_document(&format!("{name}_LIST_OUTPUT"), ctx, &path, params, &state.now(), body)
}

/// One record. `Basic` and `All` list the same: `All` adds only an owners glossary, which
/// the simulator does not write, and neither ever holds a secret.
fn element(r: &AuthRecord, name: &str, attributes: bool) -> Element {
    let mut el = Element::new(name).child(Element::text("ID", r.id.to_string()));
    if !attributes {
        return el;
    }
    el.push(Element::cdata("TITLE", &r.title));
    for (field, value) in &r.fields {
        el.push(Element::cdata(field.to_ascii_uppercase(), value));
    }
    if !r.ips.is_empty() {
        el.push(r.ips.to_ip_set());
    }
    el.push(Element::text("NETWORK_ID", r.network_id.to_string()));
    el.push(Element::text("IS_SYSTEM_CREATED", if r.system_created { "1" } else { "0" }));
    el.push_opt(r.comments.as_ref().map(|c| Element::cdata("COMMENTS", c)));
    el.push(
        Element::new("CREATED").child(Element::text("DATETIME", &r.created)).child(Element::cdata("BY", &r.created_by)),
    );
    el.push(Element::new("LAST_MODIFIED").child(Element::text("DATETIME", &r.modified)));
    for extra in &r.extra {
        el.push(extra.clone());
    }
    el
}

/// One file per type that has records, one more per page of 1000.
fn export(state: &State, ctx: &Ctx) -> Result<Vec<(String, Document)>, ApiError> {
    let mut files = Vec::new();
    for t in RECORD_TYPES {
        if state.auth_records.values().any(|r| r.auth_type == t.slug) {
            let params = Params::from_pairs(&[("action", "list"), ("details", "All")]);
            files.extend(export::pages(&format!("auth_records_{}", t.slug), params, |params| {
                list_doc(state, params, ctx, t.slug)
            })?);
        }
    }
    Ok(files)
}

/// The parameters a type takes.
fn allowed(t: &RecordType) -> Vec<&'static str> {
    let mut allowed: Vec<&str> = COMMON.iter().chain(t.params).chain(t.secrets).copied().collect();
    if t.login != Login::None {
        allowed.extend(LOGIN_PARAMS);
        allowed.push("password");
    }
    if t.tag_targets {
        allowed.extend(TAG_PARAMS);
    }
    allowed
}

/// 1905 for a secret parameter: names it, never shows it.
fn invalid_secret(param: &str, reason: &str) -> ApiError {
    ApiError::new(400, 1905, format!("parameter {param} has an invalid value ({reason})"))
}

/// 1903 for pairs of which one is required.
fn missing_one_of(pair: [&str; 2]) -> ApiError {
    ApiError::new(400, 1903, format!("Missing required parameter(s): {} or {}", pair[0], pair[1]))
}

/// What the type requires besides the login: its own parameters, the pairs of which one is
/// needed, and what some values call for.
fn check_required(t: &RecordType, p: &Params) -> Result<(), ApiError> {
    // A record that targets tags (D-TAGAUTH) has no IPs of its own.
    let targets_tags = t.tag_targets && p.value("tag_set_include").is_some();
    let missing: Vec<&str> = t
        .required
        .iter()
        .copied()
        .filter(|name| p.value(name).is_none() && !(*name == "ips" && targets_tags))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::missing(&missing));
    }
    for pair in t.exactly_one {
        match (p.value(pair[0]), p.value(pair[1])) {
            (Some(_), Some(_)) => return Err(ApiError::exclusive(pair)),
            (None, None) => return Err(missing_one_of(*pair)),
            _ => {}
        }
    }
    for pair in t.at_most_one {
        if p.value(pair[0]).is_some() && p.value(pair[1]).is_some() {
            return Err(ApiError::exclusive(pair));
        }
    }
    for (param, allowed) in t.choices {
        p.choice(param, allowed)?;
    }
    for (param, value, needed) in t.required_when {
        if p.value(param) == Some(*value) && p.value(needed).is_none() {
            return Err(ApiError::new(
                400,
                1903,
                format!("Missing required parameter(s): {needed} (required when {param}={value})"),
            ));
        }
    }
    Ok(())
}

/// The login: a user name and a password, or a vault that must exist; never both a vault
/// and a password.
fn check_login(state: &State, t: &RecordType, p: &Params) -> Result<(), ApiError> {
    let vault = p.choice("login_type", &["basic", "vault"])? == Some("vault");
    if vault {
        let missing: Vec<&str> = ["vault_type", "vault_id"].into_iter().filter(|v| p.value(v).is_none()).collect();
        if !missing.is_empty() {
            return Err(ApiError::missing(&missing));
        }
        if let Some(with) = ["password", "cleartext_password"].into_iter().find(|s| p.value(s).is_some()) {
            return Err(ApiError::new(
                400,
                1905,
                format!("A {} record cannot take both vault_id and {with}: a vault record has no password", t.slug),
            ));
        }
        let vault_id = p.number("vault_id")?.unwrap_or_default();
        if !vault::exists(state, vault_id) {
            return Err(ApiError::invalid("vault_id", vault_id, "No such vault"));
        }
        if let Some(only) = t.vault_only {
            let vault_type = p.value("vault_type").unwrap_or_default();
            if !vault_type.to_ascii_lowercase().contains(only) {
                let reason = format!("A {} record takes {only} vaults only", t.slug);
                return Err(ApiError::invalid("vault_type", vault_type, &reason));
            }
        }
    } else if let Some(param) = ["vault_id", "vault_type"].into_iter().find(|v| p.value(v).is_some()) {
        return Err(ApiError::invalid(param, p.value(param).unwrap_or_default(), "Requires login_type=vault"));
    }
    if t.login == Login::Required {
        p.require("username")?;
        if !vault && p.value("password").is_none() {
            return Err(ApiError::new(400, 1903, "Missing required parameter(s): password or login_type=vault"));
        }
    }
    if let Some(username) = p.value("username") {
        let max = if t.slug == "windows" { MAX_WINDOWS_USERNAME } else { MAX_USERNAME };
        if username.chars().count() > max {
            return Err(ApiError::invalid("username", username, &format!("At most {max} characters")));
        }
    }
    if p.value("password").is_some_and(|pw| pw.chars().count() > MAX_PASSWORD) {
        return Err(invalid_secret("password", "at most 100 characters"));
    }
    Ok(())
}

/// References to other objects: a template record of the same type, tags.
fn check_references(state: &State, t: &RecordType, p: &Params) -> Result<(), ApiError> {
    if let Some(template) = p.number("template_auth_id")? {
        let is_template = state
            .auth_records
            .get(&template)
            .is_some_and(|r| r.auth_type == t.slug && r.fields.get("is_template").is_some_and(|v| v == "1"));
        if !is_template {
            return Err(ApiError::invalid("template_auth_id", template, "No such template record of this type"));
        }
    }
    let by_name = p.choice("tag_set_by", &["id", "name"])? == Some("name");
    for param in ["tag_set_include", "tag_set_exclude"] {
        for tag in p.list(param) {
            let exists = if by_name {
                state.tags.values().any(|existing| existing.name == tag)
            } else {
                tag.parse::<u64>().is_ok_and(|id| state.tags.contains_key(&id))
            };
            if !exists {
                return Err(ApiError::invalid(param, &tag, "No such tag"));
            }
        }
    }
    Ok(())
}

fn create(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let t = record_type(call.segment).ok_or_else(|| ApiError::invalid("type", call.segment, ""))?;
    let p = call.params;
    p.only(&allowed(t))?;
    let title = p.require("title")?.trim().to_owned();
    if title.chars().count() > MAX_TITLE {
        return Err(ApiError::invalid("title", &title, "At most 255 characters"));
    }
    if call.state.auth_records.values().any(|r| r.auth_type == t.slug && r.title.eq_ignore_ascii_case(&title)) {
        return Err(ApiError::invalid("title", &title, "An authentication record with this title already exists"));
    }
    check_required(t, p)?;
    check_login(call.state, t, p)?;
    check_references(call.state, t, p)?;
    if let Some(comments) = p.value("comments").filter(|c| c.chars().count() > MAX_COMMENTS) {
        return Err(ApiError::invalid("comments", comments, "At most 1999 characters"));
    }
    let ips = p.value("ips").map(Ipv4Set::parse_list).transpose().map_err(|e| ApiError::invalid("ips", e, ""))?;
    let network_id = network::param(call.state, p, "network_id")?.unwrap_or(0);
    let mut fields: BTreeMap<String, String> = p
        .pairs()
        .iter()
        .filter(|(k, v)| !COMMON.contains(&k.as_str()) && !SECRETS.contains(&k.as_str()) && !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if t.login != Login::None && (fields.contains_key("username") || p.value("password").is_some()) {
        fields.entry("login_type".into()).or_insert_with(|| "basic".into());
    }
    let secret_sha256 = SECRETS
        .iter()
        .filter_map(|name| p.value(name).map(|secret| ((*name).to_owned(), sha256_hex(secret))))
        .collect();
    let id = call.state.next_id(IDS);
    let now = call.state.tick();
    let record = AuthRecord {
        id,
        auth_type: t.slug,
        title,
        fields,
        ips: ips.unwrap_or_default(),
        network_id,
        comments: p.value("comments").map(str::to_owned),
        system_created: false,
        created: now.clone(),
        created_by: call.state.api_login.clone(),
        modified: now.clone(),
        extra: Vec::new(),
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

/// `action=delete&ids=`: records of the path's type, all or none; an ID the subscription does
/// not hold is refused and nothing is deleted. Answers the batch of deleted IDs.
fn delete(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "echo_request", "ids"])?;
    let ranges = p.id_list("ids")?.ok_or_else(|| ApiError::missing(&["ids"]))?;
    let ids: Vec<u64> = ranges.iter().flat_map(|&(low, high)| low..=high).collect();
    let slug = call.segment;
    if let Some(unknown) = ids.iter().find(|id| call.state.auth_records.get(id).is_none_or(|r| r.auth_type != slug)) {
        return Err(ApiError::invalid("ids", unknown, &format!("No such {slug} authentication record")));
    }
    ids.iter().for_each(|id| {
        call.state.auth_records.remove(id);
    });
    let now = call.state.tick();
    let batch = Element::new("BATCH").child(Element::text("TEXT", "Successfully Deleted")).child(id_set(ids));
    let root = Element::new("BATCH_RETURN").child(
        Element::new("RESPONSE").child(Element::text("DATETIME", &now)).child(Element::new("BATCH_LIST").child(batch)),
    );
    Ok(Document::with_dtd(root, format!("{}/api/2.0/batch_return.dtd", call.ctx.base)).into())
}

fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every record's secret digests, by type and title (titles are unique per type only).
pub(crate) fn secret_digests(state: &State) -> AuthSecrets {
    let mut out = AuthSecrets::new();
    for r in state.auth_records.values() {
        out.entry(r.auth_type.to_owned()).or_default().insert(r.title.clone(), r.secret_sha256.clone());
    }
    out
}

/// Reads `AUTH_<TYPE>_LIST_OUTPUT`. A secret element (a capture made by a user allowed to
/// view passwords may hold one) is kept as its digest only, never listed again.
fn seed(state: &mut State, file: &SeedFile) -> SeedResult {
    let root = file.root();
    let t = type_of_root(&root.name).ok_or_else(|| format!("unknown record type in {}", root.name))?;
    let name = element_name(t.slug);
    let Some(list) = root.path(&["RESPONSE", &format!("{name}_LIST")]) else { return Ok(()) };
    for el in list.all(&name) {
        let id = seed::id(el, "ID")?;
        let mut record = AuthRecord {
            id,
            auth_type: t.slug,
            title: seed::text(el, "TITLE")?,
            fields: BTreeMap::new(),
            ips: el
                .get("IP_SET")
                .map(Ipv4Set::from_ip_set)
                .transpose()
                .map_err(|e| format!("bad address {e}"))?
                .unwrap_or_default(),
            network_id: seed::opt_id(el, "NETWORK_ID")?.unwrap_or(0),
            comments: el.non_empty("COMMENTS"),
            system_created: el.child_value("IS_SYSTEM_CREATED").as_deref() == Some("1"),
            created: el.path(&["CREATED", "DATETIME"]).map(Element::value).unwrap_or_default(),
            created_by: el.path(&["CREATED", "BY"]).map(Element::value).unwrap_or_default(),
            modified: el.path(&["LAST_MODIFIED", "DATETIME"]).map(Element::value).unwrap_or_default(),
            extra: Vec::new(),
            secret_sha256: BTreeMap::new(),
        };
        for child in el.elements().filter(|c| !STRUCTURAL.contains(&c.name.as_str())) {
            let param = child.name.to_ascii_lowercase();
            if SECRETS.contains(&param.as_str()) {
                record.secret_sha256.insert(param, sha256_hex(&child.value()));
            } else if child.elements().next().is_some() {
                record.extra.push(child.clone());
            } else {
                record.fields.insert(param, child.value());
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
        assert_eq!(type_of_root("AUTH_MS_SQL_LIST_OUTPUT").map(|t| t.slug), Some("ms_sql"));
        assert!(type_of_root("AUTH_BOGUS_LIST_OUTPUT").is_none());
        assert!(type_of_root("AUTH_VAULT_LIST_OUTPUT").is_none(), "the vault list is not a record type");
    }
}
