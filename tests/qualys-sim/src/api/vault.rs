//! Authentication vaults (`/api/2.0/fo/vault/`): `list` only. Vaults hold third-party
//! credentials, so a migration creates them by hand and records name them by `vault_id`;
//! the simulator knows the vaults it was seeded with, and an authentication record may
//! only name one of those. Whatever a seeded vault holds besides its ID, title and type is
//! kept as read, except anything named like a secret, which is dropped.

use crate::api::{Ctx, Registration, list_document, read};
use crate::export;
use crate::params::{ApiError, Params, id_matches};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::State;
use crate::xml::{Document, Element};

pub(crate) static KIND: Registration = Registration {
    ops: &[read(PATH, "list", list_doc)],
    seeds: &[SeedDoc::root(ROOT, seed)],
    defaults: None,
    export: |state, ctx| Ok(vec![export::file("vaults.xml", &[("action", "list")], |p| list_doc(state, p, ctx))?]),
    counts: &[("vaults", |state| state.vaults.len() as u64)],
};

const PATH: &str = "/api/2.0/fo/vault/";
const ROOT: &str = "AUTH_VAULT_LIST_OUTPUT";
/// Elements that may carry a vault's own credentials, never kept.
const SECRET_WORDS: &[&str] = &["PASSWORD", "SECRET", "KEY", "TOKEN", "CERTIFICATE"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Vault {
    pub id: u64,
    pub title: String,
    /// The display name Qualys lists ("Cyber-Ark PIM Suite", "HashiCorp", ...).
    pub vault_type: String,
    pub extra: Vec<Element>,
}

pub(crate) fn exists(state: &State, id: u64) -> bool {
    state.vaults.contains_key(&id)
}

/// `AUTH_VAULT_LIST_OUTPUT/RESPONSE/(DATETIME, AUTH_VAULTS/AUTH_VAULT/(ID, TITLE, VAULT_TYPE, ...))`.
fn list_doc(state: &State, params: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    params.only(&["action", "echo_request", "ids"])?;
    let ids = params.id_list("ids")?;
    let mut vaults = Element::new("AUTH_VAULTS");
    for v in state.vaults.values().filter(|v| ids.as_ref().is_none_or(|ids| id_matches(ids, v.id))) {
        let mut el = Element::new("AUTH_VAULT")
            .child(Element::text("ID", v.id.to_string()))
            .child(Element::cdata("TITLE", &v.title))
            .child(Element::cdata("VAULT_TYPE", &v.vault_type));
        for extra in &v.extra {
            el.push(extra.clone());
        }
        vaults.push(el);
    }
    list_document(ROOT, ctx, PATH, params, &state.now(), vec![vaults])
}

fn secret_looking(el: &Element) -> bool {
    SECRET_WORDS.iter().any(|word| el.name.to_ascii_uppercase().contains(word))
}

fn seed(state: &mut State, file: &SeedFile) -> SeedResult {
    for el in file.root().path(&["RESPONSE", "AUTH_VAULTS"]).into_iter().flat_map(|l| l.all("AUTH_VAULT")) {
        let id = seed::id(el, "ID")?;
        let extra = seed::unmodelled(el, &["ID", "TITLE", "VAULT_TYPE"]).into_iter().filter(|e| !secret_looking(e));
        let vault = Vault {
            id,
            title: seed::text(el, "TITLE")?,
            vault_type: seed::text(el, "VAULT_TYPE")?,
            extra: extra.collect(),
        };
        state.vaults.insert(id, vault);
    }
    Ok(())
}
