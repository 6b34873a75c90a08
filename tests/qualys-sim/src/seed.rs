//! Loading an export directory (`--seed`): the same XML files the transformer reads, each
//! recognised by its root element, never by its name. A kind found in the seed replaces the
//! objects a new subscription starts with (the "All" asset group, system tags, the API user,
//! default report templates, "Initial Options"); the others keep them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::api::KINDS;
use crate::state::{State, parse_datetime};
use crate::xml::{Element, Parsed, XmlError, parse};

/// What reading one document can fail with: a message naming the field.
pub(crate) type SeedResult = Result<(), String>;

/// An export directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot list {path}: {source}")]
    Walk { path: PathBuf, source: walkdir::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not well-formed XML: {source}")]
    Xml { path: PathBuf, source: XmlError },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// One document of an export directory, as read.
pub(crate) struct SeedFile {
    pub doc: Parsed,
    /// Its file name, which only the IP lists captured without their request need.
    pub name: String,
}

impl SeedFile {
    pub fn root(&self) -> &Element {
        &self.doc.root
    }
}

/// How a kind recognises its seed documents.
#[derive(Clone, Copy)]
pub(crate) enum Recognise {
    Root(&'static str),
    Test(fn(&Parsed) -> bool),
}

/// One document kind a kind is seeded from.
pub(crate) struct SeedDoc {
    pub recognise: Recognise,
    pub apply: fn(&mut State, &SeedFile) -> SeedResult,
    /// Whether seeding it replaces what a new subscription holds of the kind.
    pub replaces_defaults: bool,
}

impl SeedDoc {
    /// The document whose root element is `root`; it replaces the kind's defaults.
    pub const fn root(root: &'static str, apply: fn(&mut State, &SeedFile) -> SeedResult) -> Self {
        SeedDoc { recognise: Recognise::Root(root), apply, replaces_defaults: true }
    }

    pub const fn test(test: fn(&Parsed) -> bool, apply: fn(&mut State, &SeedFile) -> SeedResult) -> Self {
        SeedDoc { recognise: Recognise::Test(test), apply, replaces_defaults: true }
    }

    /// Seeding this document leaves the kind's defaults in place.
    pub const fn keeping_defaults(mut self) -> Self {
        self.replaces_defaults = false;
        self
    }

    fn recognises(&self, doc: &Parsed) -> bool {
        match self.recognise {
            Recognise::Root(root) => doc.root.name == root,
            Recognise::Test(test) => test(doc),
        }
    }
}

/// Where a document belongs: the index of its kind in [`KINDS`] and of its seed document
/// there, which together give the order documents are applied in.
fn kind_of(doc: &Parsed) -> Option<(usize, usize)> {
    KINDS
        .iter()
        .enumerate()
        .find_map(|(k, kind)| kind.seeds.iter().position(|seed| seed.recognises(doc)).map(|d| (k, d)))
}

/// A subscription as Qualys hands it over: nothing but the system objects.
pub(crate) fn fresh(api_login: &str, virtual_licenses: u32) -> State {
    let mut state = State::empty(api_login, virtual_licenses);
    add_defaults(&mut state, &BTreeSet::new());
    state
}

/// The defaults of every kind no seed document replaced; `replaced` holds kind indexes.
fn add_defaults(state: &mut State, replaced: &BTreeSet<usize>) {
    for (k, kind) in KINDS.iter().enumerate() {
        if let Some(defaults) = kind.defaults.filter(|_| !replaced.contains(&k)) {
            defaults(state);
        }
    }
}

/// Loads every `*.xml` file under `dir`. Files of a kind the simulator does not know are
/// skipped and returned by name, so that a capture with extra files still loads.
pub(crate) fn load(dir: &Path, api_login: &str, virtual_licenses: u32) -> Result<(State, Vec<String>), SeedError> {
    let mut docs: Vec<((usize, usize), PathBuf, SeedFile)> = Vec::new();
    let mut skipped = Vec::new();
    for entry in WalkDir::new(dir).sort_by_file_name().follow_links(false) {
        let entry = entry.map_err(|source| SeedError::Walk { path: dir.to_owned(), source })?;
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|e| !e.eq_ignore_ascii_case("xml")) {
            continue;
        }
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read { path: path.to_owned(), source })?;
        let doc = parse(&text).map_err(|source| SeedError::Xml { path: path.to_owned(), source })?;
        match kind_of(&doc) {
            Some(order) => {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                docs.push((order, path.to_owned(), SeedFile { doc, name }));
            }
            None => skipped.push(path.strip_prefix(dir).unwrap_or(path).display().to_string()),
        }
    }
    // Stable: files of one kind keep their name order (the pages of a truncated list).
    docs.sort_by_key(|(order, _, _)| *order);
    let mut state = State::empty(api_login, virtual_licenses);
    let mut replaced = BTreeSet::new();
    for ((k, d), path, file) in &docs {
        observe_datetimes(&mut state, file.root());
        let seed = &KINDS[*k].seeds[*d];
        (seed.apply)(&mut state, file).map_err(|message| SeedError::Invalid { path: path.clone(), message })?;
        if seed.replaces_defaults {
            replaced.insert(*k);
        }
    }
    add_defaults(&mut state, &replaced);
    Ok((state, skipped))
}

/// Elements that record when something happened (unlike a schedule's start date, which
/// may lie in the future).
const TIMESTAMPS: &[&str] = &[
    "DATETIME",
    "LAST_UPDATE",
    "LAST_UPDATED_DATE",
    "CREATION_DATE",
    "LAST_LOGIN_DATE",
    "CREATED",
    "MODIFIED",
    "created",
    "modified",
];

/// The newest timestamp in a document moves the subscription's clock forward.
fn observe_datetimes(state: &mut State, el: &Element) {
    if TIMESTAMPS.contains(&el.name.as_str()) {
        let value = el.value();
        if parse_datetime(&value).is_some() {
            state.observe_datetime(&value);
        }
    }
    for child in el.elements() {
        observe_datetimes(state, child);
    }
}

/// The children of a seeded object that the simulator does not model, kept so that an
/// export gives back every field the seed had.
pub(crate) fn unmodelled(el: &Element, modelled: &[&str]) -> Vec<Element> {
    el.elements().filter(|c| !modelled.contains(&c.name.as_str())).cloned().collect()
}

/// A required child value.
pub(crate) fn text(el: &Element, name: &str) -> Result<String, String> {
    el.non_empty(name).ok_or_else(|| format!("{} has no {name}", el.name))
}

/// A required numeric child.
pub(crate) fn id(el: &Element, name: &str) -> Result<u64, String> {
    let v = text(el, name)?;
    v.parse().map_err(|_| format!("{}/{name} is not a number: {v:?}", el.name))
}

/// An optional numeric child.
pub(crate) fn opt_id(el: &Element, name: &str) -> Result<Option<u64>, String> {
    el.non_empty(name).map(|v| v.parse().map_err(|_| format!("{}/{name} is not a number: {v:?}", el.name))).transpose()
}
