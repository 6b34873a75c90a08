//! Core task: Authentication records.
//!
//! Source: one `AUTH_<TYPE>_LIST_OUTPUT` per record type
//! (`/api/2.0/fo/auth/<type>/?action=list&details=Basic`, paged), the inventory
//! `AUTH_LIST_OUTPUT` (`/api/2.0/fo/auth/?action=list`) and the vault list
//! `AUTH_VAULT_LIST_OUTPUT` (`/api/2.0/fo/vault/?action=list`). No export carries a secret.
//!
//! Rules:
//! - Every ID the inventory lists must be in a captured per-type list: a type whose list was
//!   not captured would otherwise be dropped without a word.
//! - Records made by instance discovery (system-created) are skipped: the target makes them
//!   again when auto record creation is on in its option profiles.
//! - A record already in the target (same type and title in `--target-export`) is not created.
//! - A record is created from an explicit allow-list of its type's parameters ([`types`]);
//!   whatever else it holds is listed as a loss. A capture that holds a secret is refused.
//! - Secrets come from the operator's encrypted credentials file, by record title or by username.
//!   A record that logs in with a password and has neither its secrets nor a vault is skipped and
//!   listed in the checklist (an error with `--strict`).
//! - Vault IDs are mapped by `inputs/vaults.csv` or by the vault's title in the target export
//!   (vaults are created by hand, with their secrets); networks, tag targets and the templates
//!   named by `template_auth_id` by the tasks and records that create them.
//! - Records whose secrets the create call would carry in an XML document of unverified format
//!   (Unix private keys, root delegation) are created by hand, unless a vault holds them.
//! - Order: Unix and Windows records, then templates, then every other record (application and
//!   database records need an OS record on the same IPs).
//! - Each create carries a probe by exact title in its type's list (the list's `title` filter
//!   matches substrings).

pub mod types;

use std::collections::{BTreeMap, BTreeSet};

use qmig_schemas::{Effect, Extract, Segment, Value};

use crate::checklist::Step;
use crate::context::Context;
use crate::error::{Refused, TransformError};
use crate::export::{Kind, Record};
use crate::plan::{Draft, DraftProbe, Field, RefKind, Refs, Target, TaskOutput, join_segments, object_id};
use crate::tasks::networks;
use types::{AuthType, COMMON_PARAMS, Login, SECRET_ELEMENTS, XML_ONLY_ELEMENTS};

pub const TASK: &str = "authentication records";
pub(crate) const PATH: &str = "/api/2.0/fo/auth/";
const VAULT_HINT: &str = "create the vault in the target by hand with its secrets, then map it in inputs/vaults.csv \
     (or capture the target's vault list into --target-export)";
const TAG_HINT: &str = "export the tag in the tag search (the asset tags task creates it)";
const TEMPLATE_HINT: &str = "export the template record in its type's list";

/// Output-only elements: what Qualys sets itself.
pub const OUTPUT_ONLY: &[&str] = &["ID", "CREATED", "LAST_MODIFIED", "OWNER", "IS_SYSTEM_CREATED"];

/// An authentication record as its type's list shows it.
#[derive(Debug, Clone, Copy)]
pub struct AuthRecord<'a> {
    pub kind: &'static AuthType,
    pub id: &'a str,
    pub title: &'a str,
    pub username: Option<&'a str>,
    pub record: Record<'a>,
}

impl<'a> AuthRecord<'a> {
    pub fn parse(record: Record<'a>) -> Result<AuthRecord<'a>, TransformError> {
        let root = &record.file.document.head.name;
        let kind = types::by_root(root).ok_or_else(|| record.invalid("authentication record", "unknown type"))?;
        let id = record.required("authentication record", "ID")?;
        let title = record.required(&format!("record {id}"), "TITLE")?;
        Ok(AuthRecord { kind, id, title, username: record.text("USERNAME"), record })
    }

    fn object(&self) -> String {
        format!("{} authentication record \"{}\"", self.kind.slug, self.title)
    }

    fn flag(&self, path: &str) -> bool {
        self.record.text(path).is_some_and(|v| ["1", "yes", "true"].iter().any(|t| v.eq_ignore_ascii_case(t)))
    }

    /// The vault the record logs in with, flat or nested under `VAULT` (the layout is UNVERIFIED).
    fn vault_id(&self) -> Option<&'a str> {
        self.record.text("VAULT_ID").or_else(|| self.record.text("VAULT/VAULT_ID"))
    }

    fn uses_vault(&self) -> bool {
        self.vault_id().is_some() || self.record.text("LOGIN_TYPE").is_some_and(|t| t.eq_ignore_ascii_case("vault"))
    }

    /// The secret parameters a create of this record cannot do without.
    pub fn required_secrets(&self) -> Vec<&'static str> {
        match self.kind.login {
            _ if self.uses_vault() => Vec::new(),
            Login::Host => Vec::new(),
            Login::Password => vec!["password"],
            // Qualys writes the version as `3`; some documents say `v3` (UNVERIFIED): both are v3.
            Login::Snmp if self.record.text("VERSION").is_some_and(|v| v.trim_start_matches(['v', 'V']) == "3") => {
                let privacy = self.record.text("PRIV_ALG").is_some_and(|a| !a.eq_ignore_ascii_case("none"));
                if privacy { vec!["password", "encrypt_password"] } else { vec!["password"] }
            }
            Login::Snmp => vec!["community_strings"],
        }
    }

    /// The creation phase: OS records, then templates, then the records that rely on them.
    fn phase(&self) -> usize {
        match self.kind.slug {
            "unix" | "windows" => 0,
            _ if self.flag("IS_TEMPLATE") => 1,
            _ => 2,
        }
    }

    fn needs_xml_body(&self) -> bool {
        self.record.element.children.iter().any(|c| XML_ONLY_ELEMENTS.contains(&c.name.as_str()))
    }
}

/// The records a create is planned for, in the order they are created.
pub fn records<'a>(ctx: &Context<'a>) -> Result<Vec<AuthRecord<'a>>, TransformError> {
    let mut records = ctx.export.records(Kind::AuthRecordList).map(AuthRecord::parse).collect::<Result<Vec<_>, _>>()?;
    records.sort_by_key(AuthRecord::phase);
    Ok(records)
}

/// What the operator must find for the record to be created: (record, secret parameters).
pub fn secrets_needed<'a>(ctx: &Context<'a>) -> Result<Vec<(AuthRecord<'a>, Vec<&'static str>)>, TransformError> {
    let needed = records(ctx)?.into_iter().filter(|r| !r.flag("IS_SYSTEM_CREATED") && !r.needs_xml_body());
    Ok(needed.map(|r| (r, r.required_secrets())).filter(|(_, secrets)| !secrets.is_empty()).collect())
}

pub fn plan(ctx: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let records = records(ctx)?;
    check_inventory(ctx, &records)?;
    let existing = existing_in_target(ctx)?;
    let vaults = map_vaults(ctx, refs)?;
    let refused: Vec<Refused> = records.iter().filter(|r| !r.flag("IS_SYSTEM_CREATED")).flat_map(refusals).collect();
    if !refused.is_empty() {
        return Err(TransformError::TargetWouldRefuse(refused));
    }
    let mut manual = Manual::default();
    for record in &records {
        out.source_objects += 1;
        let object = record.object();
        let source = record.record.source(Some(record.id), Some(record.title));
        if record.flag("IS_SYSTEM_CREATED") {
            let reason = "made by instance discovery: the target makes it again when auto record creation is on";
            out.skip(object, reason, Some(source));
            continue;
        }
        if let Some(target_id) = existing.get(&(record.kind.slug, record.title)) {
            refs.set(RefKind::AuthRecord, record.id, Target::Known((*target_id).to_owned()));
            out.skip_existing(object, RefKind::AuthRecord, target_id, source);
            continue;
        }
        let mut create = Create::new(record);
        create.fields(record, refs, &mut manual)?;
        if !create.unknown.is_empty() {
            let reason = format!("not a parameter qmig knows for {} records: not copied", record.kind.slug);
            out.lose(object.clone(), std::mem::take(&mut create.unknown), reason, Some(source.clone()));
        }
        if let Some(vault) = record.vault_id() {
            let used = vaults.get(vault).map_or_else(|| format!("vault {vault}"), |v| format!("vault {vault} ({v})"));
            manual.vaults.entry(used).or_default().push(object.clone());
        } else if record.needs_xml_body() {
            manual.by_hand.push(format!(
                "{object}: uses private keys, certificates or root delegation, which the create call would carry \
                 in an XML document of unverified format; create it by hand or keep its secrets in a vault"
            ));
            out.skip(object, "private keys or root delegation: created by hand", Some(source));
            continue;
        }
        if !record.uses_vault() {
            let missing = create.secrets(ctx, record)?;
            if !missing.is_empty() {
                let missing = missing.join(", ");
                manual.missing.push(format!("{object}: no {missing} in the credentials file"));
                out.skip(object, format!("no secret supplied for {missing} (credentials file)"), Some(source));
                continue;
            }
        }
        let draft = create.draft(record).source(source);
        refs.set(RefKind::AuthRecord, record.id, Target::captured(&draft.id, Field::Id));
        out.request(draft);
    }
    if !out.requests.is_empty() {
        out.lose(
            "every authentication record",
            vec!["OWNER".into(), "CREATED".into(), "LAST_MODIFIED".into()],
            "the target's API user owns the records the bundle creates",
            None,
        );
    }
    manual.finish(ctx, &mut out)?;
    Ok(out)
}

/// One create call being put together from a record's fields.
struct Create {
    id: String,
    path: String,
    params: Vec<(&'static str, Value)>,
    /// Parameters the list shows, upper-cased; kept with their own names.
    copied: Vec<(String, Value)>,
    unknown: Vec<String>,
    /// The references replaced by their targets, for the review.
    remapped: Vec<(RefKind, String, Target)>,
}

impl Create {
    fn new(record: &AuthRecord<'_>) -> Create {
        Create {
            id: object_id(&format!("auth-record/{}", record.kind.slug), record.title),
            path: format!("{PATH}{}/", record.kind.slug),
            params: vec![("title", Value::from(record.title))],
            copied: Vec::new(),
            unknown: Vec::new(),
            remapped: Vec::new(),
        }
    }

    /// Maps every field of the record to its parameter, remapping IDs.
    fn fields(&mut self, record: &AuthRecord<'_>, refs: &mut Refs, manual: &mut Manual) -> Result<(), TransformError> {
        let object = record.object();
        for field in &record.record.element.children {
            let name = field.name.as_str();
            let value = field.value();
            let parameter = name.to_ascii_lowercase();
            match name {
                _ if SECRET_ELEMENTS.contains(&name) && !value.is_empty() => {
                    return Err(record.record.nested(field).invalid(
                        &object,
                        format!("holds a secret ({name}): no export may carry one; capture the list again without it"),
                    ));
                }
                "TITLE" => {}
                _ if OUTPUT_ONLY.contains(&name) || XML_ONLY_ELEMENTS.contains(&name) => {}
                "COMMENTS" => self.params.push(("comments", Value::from(value))),
                "IP_SET" => {
                    let ips: Vec<&str> = field.children.iter().map(|ip| ip.value()).collect();
                    self.params.push(("ips", Value::from(ips.join(","))));
                }
                "NETWORK_ID" if value == networks::DEFAULT_NETWORK || value.is_empty() => {}
                "NETWORK_ID" => {
                    if let Some(target) = networks::require(refs, value, &object) {
                        self.params.push(("network_id", target.value()));
                        self.remapped.push((RefKind::Network, value.to_owned(), target));
                    }
                }
                "VAULT" => {
                    for nested in &field.children {
                        self.copy(nested.name.to_ascii_lowercase(), nested.value(), record, refs);
                    }
                }
                "TEMPLATE_AUTH_ID" => {
                    if let Some(target) = refs.require(RefKind::AuthRecord, value, &object, || TEMPLATE_HINT.into()) {
                        self.params.push(("template_auth_id", target.value()));
                        self.remapped.push((RefKind::AuthRecord, value.to_owned(), target));
                    }
                }
                "TAG_SET_INCLUDE" | "TAG_SET_EXCLUDE" => {
                    manual.tag_targets.push(object.clone());
                    let ids: Vec<&str> = match field.children.as_slice() {
                        [] => value.split(',').map(str::trim).filter(|id| !id.is_empty()).collect(),
                        children => children.iter().map(|c| c.value()).collect(),
                    };
                    let mut targets = Vec::new();
                    for id in ids {
                        if let Some(target) = refs.require(RefKind::Tag, id, &object, || TAG_HINT.into()) {
                            self.remapped.push((RefKind::Tag, id.to_owned(), target.clone()));
                            targets.push(target);
                        }
                    }
                    self.copied.push(("tag_set_by".into(), Value::from("id")));
                    self.copied.push((parameter, join_segments(targets.iter().map(Target::segment), ",")));
                }
                "USE_AGENTLESS_TRACKING" if record.flag(name) => {
                    manual.agentless.push(object.clone());
                    self.copy(parameter, value, record, refs);
                }
                _ => self.copy(parameter, value, record, refs),
            }
        }
        Ok(())
    }

    /// Copies a field its type allows; a vault ID is remapped. Anything else is a loss.
    fn copy(&mut self, parameter: String, value: &str, record: &AuthRecord<'_>, refs: &mut Refs) {
        if value.is_empty() {
            return;
        }
        if parameter == "vault_id" {
            if let Some(target) = refs.require(RefKind::Vault, value, &record.object(), || VAULT_HINT.into()) {
                self.copied.push((parameter, target.value()));
                self.remapped.push((RefKind::Vault, value.to_owned(), target));
            }
            return;
        }
        let allowed = COMMON_PARAMS.contains(&parameter.as_str()) || record.kind.params.contains(&parameter.as_str());
        if allowed {
            self.copied.push((parameter, Value::from(value)));
        } else {
            self.unknown.push(parameter.to_ascii_uppercase());
        }
    }

    /// Adds the operator's secrets for the record; returns the required ones nobody supplied.
    fn secrets(&mut self, ctx: &Context<'_>, record: &AuthRecord<'_>) -> Result<Vec<&'static str>, TransformError> {
        let supplied = match ctx.credentials {
            Some(credentials) => credentials.for_record(record.kind.slug, record.title, record.username)?,
            None => Vec::new(),
        };
        for secret in &supplied {
            if !record.kind.secrets.contains(&secret.parameter.as_str()) {
                return Err(TransformError::SecretNotOfType {
                    line: secret.line,
                    parameter: secret.parameter.clone(),
                    object: record.object(),
                    accepted: record.kind.secrets.join(", "),
                });
            }
            self.copied.push((secret.parameter.clone(), Value::Parts(vec![Segment::Secret(secret.name.clone())])));
        }
        let supplied: BTreeSet<&str> = supplied.iter().map(|s| s.parameter.as_str()).collect();
        Ok(record.required_secrets().into_iter().filter(|p| !supplied.contains(p)).collect())
    }

    fn draft(self, record: &AuthRecord<'_>) -> Draft {
        let summary = format!("Create {} authentication record \"{}\"", record.kind.slug, record.title);
        let mut draft =
            Draft::post(TASK, self.id.clone(), Effect::Create, &self.path, summary).param("action", "create");
        for (name, value) in self.params {
            draft = draft.param(name, value);
        }
        let login_type_listed = self.copied.iter().any(|(name, _)| name == "login_type");
        for (name, value) in self.copied {
            draft = draft.param(&name, value);
        }
        if record.uses_vault() && !login_type_listed {
            draft = draft.param("login_type", "vault");
        }
        for (kind, key, target) in &self.remapped {
            draft = draft.remap(*kind, key, target);
        }
        let probe = DraftProbe::list(
            &self.path,
            &[("action", "list"), ("title", record.title)],
            record.kind.record,
            "TITLE",
            record.title,
        )
        .fills(&self.id, Field::Id, "ID");
        draft.capture(Field::Id, Extract::NewId).probe(probe)
    }
}

/// What the checklist must say once every record is planned.
#[derive(Default)]
struct Manual {
    by_hand: Vec<String>,
    missing: Vec<String>,
    agentless: Vec<String>,
    tag_targets: Vec<String>,
    /// Vault → the records that use it.
    vaults: BTreeMap<String, Vec<String>>,
}

impl Manual {
    fn finish(self, ctx: &Context<'_>, out: &mut TaskOutput) -> Result<(), TransformError> {
        if ctx.options.strict && !self.missing.is_empty() {
            return Err(TransformError::MissingSecrets(self.missing));
        }
        let mut by_hand = self.by_hand;
        by_hand.extend(self.missing);
        if !by_hand.is_empty() {
            out.step(Step::AuthRecordsByHand, by_hand);
        }
        if !self.vaults.is_empty() {
            let items =
                self.vaults.into_iter().map(|(vault, records)| format!("{vault}: used by {}", records.join(", ")));
            out.step(Step::Vaults, items.collect());
        }
        if !self.agentless.is_empty() {
            let items = self
                .agentless
                .into_iter()
                .map(|r| format!("{r} uses agentless tracking: clean up the source's host IDs"));
            out.step(Step::AgentCleanup, items.collect());
        }
        if !self.tag_targets.is_empty() {
            out.step(Step::TagSupportForAuthRecords, self.tag_targets);
        }
        Ok(())
    }
}

/// The values the create call refuses (D-UNIX, D-WIN: title at most 255 characters, comments at
/// most 1,999, a Windows username of 1 to 31), each with what to do.
fn refusals(record: &AuthRecord<'_>) -> Vec<Refused> {
    let longer = |path: &str, most: usize| record.record.text(path).is_some_and(|v| v.chars().count() > most);
    let mut problems = Vec::new();
    if longer("TITLE", 255) {
        problems
            .push("the title has more than 255 characters, the most the create call takes; shorten it in the source");
    }
    if longer("COMMENTS", 1999) {
        problems.push("the comments have more than 1,999 characters, the most the create call takes");
    }
    if record.kind.slug == "windows" && longer("USERNAME", 31) {
        problems.push("the username has more than 31 characters, the most a Windows record takes");
    }
    let source = record.record.source(Some(record.id), Some(record.title));
    let refused =
        |problem: &str| Refused { source_ref: source.clone(), object: record.object(), problem: problem.to_owned() };
    problems.into_iter().map(refused).collect()
}

/// Every ID the inventory lists must be in a captured per-type list.
fn check_inventory(ctx: &Context<'_>, records: &[AuthRecord<'_>]) -> Result<(), TransformError> {
    let captured: BTreeSet<u64> = records.iter().filter_map(|r| r.id.parse().ok()).collect();
    let mut missing = Vec::new();
    for entry in ctx.export.records(Kind::AuthInventory) {
        let name = &entry.element.name;
        let slug = name.strip_prefix("AUTH_").and_then(|n| n.strip_suffix("_RECORDS")).unwrap_or(name);
        let ids = entry.element.child("ID_SET").map(|set| set.children.as_slice()).unwrap_or_default();
        for item in ids {
            let (low, high) = match item.value().split_once('-') {
                Some((low, high)) => (low.trim(), high.trim()),
                None => (item.value(), item.value()),
            };
            let (Ok(low), Ok(high)) = (low.parse::<u64>(), high.parse::<u64>()) else {
                return Err(entry.nested(item).invalid("authentication record inventory", "an ID is not a number"));
            };
            let found = captured.range(low..=high).count() as u64;
            if found < high.saturating_sub(low) + 1 {
                missing.push(format!(
                    "{} ({}, {}:{})",
                    item.value(),
                    slug.to_ascii_lowercase(),
                    entry.file.path,
                    item.line
                ));
            }
        }
    }
    if missing.is_empty() { Ok(()) } else { Err(TransformError::AuthRecordsNotCaptured(missing)) }
}

/// The target's records by (type, title), from `--target-export`.
fn existing_in_target<'a>(ctx: &Context<'a>) -> Result<BTreeMap<(&'static str, &'a str), &'a str>, TransformError> {
    let mut existing = BTreeMap::new();
    for record in ctx.target_records(Kind::AuthRecordList) {
        let record = AuthRecord::parse(record)?;
        existing.insert((record.kind.slug, record.title), record.id);
    }
    Ok(existing)
}

/// Maps every source vault that `vaults.csv` or the target export knows; returns how the
/// review names each source vault (`"Title" (type)`).
fn map_vaults(ctx: &Context<'_>, refs: &mut Refs) -> Result<BTreeMap<String, String>, TransformError> {
    let in_target: BTreeMap<&str, &str> =
        ctx.target_records(Kind::VaultList).filter_map(|v| Some((v.text("TITLE")?, v.text("ID")?))).collect();
    let mut names = BTreeMap::new();
    for vault in ctx.export.records(Kind::VaultList) {
        let id = vault.text("ID").ok_or_else(|| vault.invalid("authentication vault", "has no ID"))?;
        let title = vault.text("TITLE").unwrap_or_default();
        names.insert(id.to_owned(), format!("\"{title}\", {}", vault.text("VAULT_TYPE").unwrap_or("type not listed")));
        let target = ctx.inputs.vaults.lookup(id, title).map(|row| row.target.as_str());
        if let Some(target) = target.or_else(|| in_target.get(title).copied()) {
            refs.set(RefKind::Vault, id, Target::Known(target.to_owned()));
        }
    }
    for row in &ctx.inputs.vaults.rows {
        if refs.get(RefKind::Vault, &row.source).is_none() {
            refs.set(RefKind::Vault, &row.source, Target::Known(row.target.clone()));
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::test_support::{Fixture, param};

    fn list(slug: &str, records: &str) -> String {
        let upper = slug.to_ascii_uppercase();
        format!(
            "<AUTH_{upper}_LIST_OUTPUT><RESPONSE><DATETIME>2026-01-01T00:00:00Z</DATETIME>\
             <AUTH_{upper}_LIST>{records}</AUTH_{upper}_LIST></RESPONSE></AUTH_{upper}_LIST_OUTPUT>"
        )
    }

    fn record(slug: &str, id: u32, title: &str, fields: &str) -> String {
        let upper = slug.to_ascii_uppercase();
        format!("<AUTH_{upper}><ID>{id}</ID><TITLE><![CDATA[{title}]]></TITLE>{fields}</AUTH_{upper}>")
    }

    const CREDENTIALS: &str = "type,title,username,parameter,value\n\
        unix,Linux & Co ü,,password,s1\n\
        windows,,svc-scan,password,s2\n\
        oracle,Oracle template,,password,s3\n\
        oracle,Oracle prod,,password,s4\n\
        snmp,Core switches,,password,s5\n\
        snmp,Core switches,,encrypt_password,s6\n";

    fn export() -> Vec<(String, String)> {
        vec![
            ("auth_docker.xml".into(), list("docker", &record("docker", 40, "Docker hosts", "<IP_SET><IP>10.0.0.5</IP></IP_SET>"))),
            (
                "auth_oracle.xml".into(),
                list(
                    "oracle",
                    &[
                        record("oracle", 30, "Oracle prod", "<USERNAME>dbsnmp</USERNAME><SID>PROD</SID><TEMPLATE_AUTH_ID>31</TEMPLATE_AUTH_ID>"),
                        record("oracle", 31, "Oracle template", "<USERNAME>dbsnmp</USERNAME><IS_TEMPLATE>1</IS_TEMPLATE>"),
                    ]
                    .concat(),
                ),
            ),
            (
                "auth_snmp.xml".into(),
                list(
                    "snmp",
                    &record("snmp", 50, "Core switches", "<USERNAME>snmpv3</USERNAME><VERSION>3</VERSION><AUTH_ALG>SHA1</AUTH_ALG><PRIV_ALG>AES</PRIV_ALG>"),
                ),
            ),
            (
                "auth_unix.xml".into(),
                list(
                    "unix",
                    &[
                        record(
                            "unix",
                            10,
                            "Linux & Co ü",
                            "<USERNAME>scan</USERNAME><IP_SET><IP>10.0.0.5</IP><IP_RANGE>10.0.1.1-10.0.1.9</IP_RANGE></IP_SET>\
                             <NETWORK_ID>0</NETWORK_ID><USE_AGENTLESS_TRACKING>1</USE_AGENTLESS_TRACKING><FANCY_NEW>x</FANCY_NEW>",
                        ),
                        record("unix", 11, "Vaulted", "<USERNAME>root</USERNAME><VAULT><VAULT_ID>7</VAULT_ID><VAULT_TYPE>CyberArk AIM</VAULT_TYPE></VAULT>"),
                        record("unix", 12, "Sudo hosts", "<USERNAME>ops</USERNAME><ROOT_DELEGATION><TOOL>sudo</TOOL></ROOT_DELEGATION>"),
                        record("unix", 13, "No secret", "<USERNAME>nobody</USERNAME>"),
                        record("unix", 14, "Discovered", "<USERNAME>x</USERNAME><IS_SYSTEM_CREATED>1</IS_SYSTEM_CREATED>"),
                    ]
                    .concat(),
                ),
            ),
            ("auth_windows.xml".into(), list("windows", &record("windows", 20, "Linux & Co ü", "<USERNAME>svc-scan</USERNAME><WINDOWS_DOMAIN>CORP</WINDOWS_DOMAIN>"))),
        ]
    }

    fn fixture(extra: &[(&str, &str)]) -> Fixture {
        let files = export();
        let mut all: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        all.extend_from_slice(extra);
        Fixture::new(&all).inputs(&[("vaults.csv", "source,target\n7,907\n")]).credentials(CREDENTIALS)
    }

    fn step(out: &TaskOutput, step: Step) -> &[String] {
        out.manual_steps.iter().find(|s| s.id == step.id()).map_or(&[], |s| s.items.as_slice())
    }

    #[test]
    fn records_are_created_in_dependency_order_with_the_operators_secrets() {
        let out = fixture(&[]).plan(plan);
        let ids: Vec<&str> = out.requests.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "auth-record/unix/Linux & Co ü",
                "auth-record/unix/Vaulted",
                "auth-record/windows/Linux & Co ü",
                "auth-record/oracle/Oracle template",
                "auth-record/docker/Docker hosts",
                "auth-record/oracle/Oracle prod",
                "auth-record/snmp/Core switches",
            ]
        );
        let unix = &out.requests[0];
        assert_eq!(unix.path, "/api/2.0/fo/auth/unix/");
        assert_eq!(param(unix, "ips").as_deref(), Some("10.0.0.5,10.0.1.1-10.0.1.9"));
        assert_eq!(param(unix, "password").as_deref(), Some("{{secret:unix/title:Linux & Co ü/password}}"));
        assert_eq!(param(unix, "network_id"), None, "the default network is no parameter");
        assert_eq!(param(unix, "use_agentless_tracking").as_deref(), Some("1"));
        let probe = unix.probe.as_ref().expect("a probe");
        assert_eq!(probe.exists.record, "AUTH_UNIX");
        // The windows record gets its password by its username; the title it shares with a Unix
        // record does not mix them up.
        assert_eq!(
            param(&out.requests[2], "password").as_deref(),
            Some("{{secret:windows/username:svc-scan/password}}")
        );
        let vaulted = &out.requests[1];
        assert_eq!(param(vaulted, "vault_id").as_deref(), Some("907"));
        assert_eq!(param(vaulted, "login_type").as_deref(), Some("vault"));
        assert_eq!(param(vaulted, "password"), None);
        assert_eq!(param(&out.requests[4], "username"), None, "Docker takes no credentials");
        assert_eq!(
            param(&out.requests[5], "template_auth_id").as_deref(),
            Some("{{capture:auth-record/oracle/Oracle template#id}}")
        );
        let snmp = &out.requests[6];
        assert_eq!(
            param(snmp, "encrypt_password").as_deref(),
            Some("{{secret:snmp/title:Core switches/encrypt_password}}")
        );

        let skipped: Vec<(&str, &str)> = out.skipped.iter().map(|s| (s.object.as_str(), s.reason.as_str())).collect();
        assert!(
            skipped.iter().any(|(o, r)| o.contains("\"Discovered\"") && r.contains("instance discovery")),
            "{skipped:?}"
        );
        assert!(
            skipped.iter().any(|(o, r)| o.contains("\"No secret\"") && r.contains("no secret supplied for password"))
        );
        assert!(skipped.iter().any(|(o, r)| o.contains("\"Sudo hosts\"") && r.contains("by hand")));
        let by_hand = step(&out, Step::AuthRecordsByHand);
        assert!(
            by_hand.iter().any(|i| i.contains("\"No secret\": no password in the credentials file")),
            "{by_hand:?}"
        );
        assert!(by_hand.iter().any(|i| i.contains("\"Sudo hosts\"") && i.contains("root delegation")));
        assert!(step(&out, Step::Vaults)[0].starts_with("vault 7"));
        assert!(step(&out, Step::AgentCleanup)[0].contains("agentless tracking"));
        let loss = out.losses.iter().find(|l| l.object.contains("Linux & Co ü")).expect("the unknown field");
        assert_eq!(loss.fields, ["FANCY_NEW"]);
    }

    #[test]
    fn values_the_create_call_refuses_are_listed_all_at_once() {
        let long = "x".repeat(256);
        let records = [
            record("windows", 20, &long, "<USERNAME>a</USERNAME>"),
            record("windows", 21, "Short", &format!("<USERNAME>{}</USERNAME>", "u".repeat(32))),
        ]
        .concat();
        let err = Fixture::new(&[("auth.xml", &list("windows", &records))]).try_plan(plan).expect_err("refused");
        let message = err.to_string();
        assert!(
            message.contains("more than 255 characters") && message.contains("more than 31 characters"),
            "{message}"
        );
        assert!(message.contains("(ID 20") && message.contains("(ID 21"), "{message}");
    }

    #[test]
    fn a_capture_holding_a_secret_is_refused_without_quoting_it() {
        let unix = list("unix", &record("unix", 10, "Leaky", "<USERNAME>a</USERNAME><PASSWORD>hunter2</PASSWORD>"));
        let err = Fixture::new(&[("auth.xml", &unix)]).try_plan(plan).expect_err("refused");
        let message = err.to_string();
        assert!(message.contains("auth.xml:1") && message.contains("holds a secret (PASSWORD)"), "{message}");
        assert!(!message.contains("hunter2"));
    }

    #[test]
    fn an_inventory_naming_records_no_list_holds_is_refused() {
        let inventory = "<AUTH_LIST_OUTPUT><RESPONSE><AUTH_RECORDS>\
            <AUTH_UNIX_RECORDS><ID_SET><ID_RANGE>10-14</ID_RANGE></ID_SET></AUTH_UNIX_RECORDS>\
            <AUTH_MS_SQL_RECORDS><ID_SET><ID>60</ID></ID_SET></AUTH_MS_SQL_RECORDS>\
            </AUTH_RECORDS></RESPONSE></AUTH_LIST_OUTPUT>";
        let err = fixture(&[("inventory.xml", inventory)]).try_plan(plan).expect_err("refused");
        let message = err.to_string();
        assert!(message.contains("60 (ms_sql, inventory.xml:1)"), "{message}");
        assert!(!message.contains("10-14"), "the Unix records are all captured: {message}");
    }

    #[test]
    fn strict_refuses_records_left_without_secrets_listing_them_all() {
        let err = fixture(&[]).options(|o| o.strict = true).try_plan(plan).expect_err("refused");
        let message = err.to_string();
        assert!(message.contains("1 authentication record(s) have no secret"), "{message}");
        assert!(message.contains("unix authentication record \"No secret\": no password"), "{message}");
    }

    #[test]
    fn a_secret_the_type_does_not_take_is_refused_with_its_line() {
        let unix = list("unix", &record("unix", 10, "Linux", "<USERNAME>a</USERNAME>"));
        let csv = "type,title,username,parameter,value\nunix,Linux,,password,x\nunix,Linux,,community_strings,y\n";
        let err = Fixture::new(&[("auth.xml", &unix)]).credentials(csv).try_plan(plan).expect_err("refused");
        let message = err.to_string();
        assert!(message.contains("line 3: `community_strings` is not a secret parameter of the unix"), "{message}");
    }

    #[test]
    fn records_the_target_has_are_mapped_not_created() {
        let target = list("windows", &record("windows", 920, "Linux & Co ü", "<USERNAME>svc-scan</USERNAME>"));
        let out = fixture(&[]).target(&[("auth_windows.xml", &target)]).plan(plan);
        assert!(out.requests.iter().all(|d| d.id != "auth-record/windows/Linux & Co ü"));
        assert!(
            out.requests.iter().any(|d| d.id == "auth-record/unix/Linux & Co ü"),
            "only the same type is the same record"
        );
        let skip = out.skipped.iter().find(|s| s.object.starts_with("windows")).expect("skipped");
        assert_eq!(skip.reason, "already in the target as authentication record 920 (target export)");
    }

    #[test]
    fn an_unmapped_vault_is_an_unresolved_reference() {
        let unix = list("unix", &record("unix", 11, "Vaulted", "<USERNAME>root</USERNAME><VAULT_ID>8</VAULT_ID>"));
        let (_, refs) = Fixture::new(&[("auth.xml", &unix)]).run(&[plan]).expect("planned");
        let unresolved = refs.unresolved();
        assert_eq!(unresolved.len(), 1);
        assert_eq!((unresolved[0].kind.as_str(), unresolved[0].key.as_str()), ("authentication vault", "8"));
        assert_eq!(unresolved[0].used_by, ["unix authentication record \"Vaulted\""]);
    }
}
