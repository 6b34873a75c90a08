//! Loading an export directory (`--seed`): the same XML files the transformer reads, each
//! recognised by its root element, never by its name. A kind found in the seed replaces the
//! objects a new subscription starts with (the "All" asset group, system tags, the API user,
//! default report templates, "Initial Options"); the others keep them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::api::{
    appliance, auth_record, domain, group, ip, network, option_profile, policy, report_template, schedule, search_list,
    subscription, tag, user, vhost,
};
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

/// The kinds of document, in the order they are applied: what others refer to comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SeedKind {
    Subscription,
    Appliances,
    Networks,
    Ips,
    Ipv6,
    Domains,
    AssetGroups,
    Users,
    UserPrefs,
    OptionProfiles,
    StaticLists,
    DynamicLists,
    ReportTemplateList,
    ReportTemplateExport,
    AuthRecords,
    Tags,
    PolicyList,
    PolicyExport,
    Schedules,
    VirtualHosts,
}

fn kind_of(doc: &Parsed) -> Option<SeedKind> {
    let root = &doc.root;
    Some(match root.name.as_str() {
        subscription::ROOT => SeedKind::Subscription,
        "APPLIANCE_LIST_OUTPUT" => SeedKind::Appliances,
        "NETWORK_LIST_OUTPUT" => SeedKind::Networks,
        "IP_LIST_OUTPUT" => SeedKind::Ips,
        "IP_MAP_LIST_OUTPUT" => SeedKind::Ipv6,
        "DOMAIN_LIST" => SeedKind::Domains,
        "ASSET_GROUP_LIST_OUTPUT" => SeedKind::AssetGroups,
        "USER_LIST_OUTPUT" => SeedKind::Users,
        "USER_PREFS_OUTPUT" => SeedKind::UserPrefs,
        "OPTION_PROFILES" => SeedKind::OptionProfiles,
        "STATIC_SEARCH_LIST_OUTPUT" => SeedKind::StaticLists,
        "DYNAMIC_SEARCH_LIST_OUTPUT" => SeedKind::DynamicLists,
        "REPORT_TEMPLATE_LIST" => SeedKind::ReportTemplateList,
        "REPORTTEMPLATE" => SeedKind::ReportTemplateExport,
        "POLICY_LIST_OUTPUT" => SeedKind::PolicyList,
        "POLICY_EXPORT_OUTPUT" => SeedKind::PolicyExport,
        "SCHEDULE_SCAN_LIST_OUTPUT" => SeedKind::Schedules,
        "VIRTUAL_HOST_LIST_OUTPUT" => SeedKind::VirtualHosts,
        // A tag search answer; other QPS answers share the root but not the schema.
        "ServiceResponse"
            if root.attribute("xsi:noNamespaceSchemaLocation").is_some_and(|s| s.ends_with("/am/tag.xsd"))
                || root.path(&["data", "Tag"]).is_some() =>
        {
            SeedKind::Tags
        }
        name if auth_record::type_of_root(name).is_some() => SeedKind::AuthRecords,
        _ => return None,
    })
}

fn apply(kind: SeedKind, state: &mut State, doc: &Parsed, file_name: &str) -> SeedResult {
    let root = &doc.root;
    match kind {
        SeedKind::Subscription => subscription::seed(state, root),
        SeedKind::Appliances => appliance::seed(state, root),
        SeedKind::Networks => network::seed(state, root),
        SeedKind::Ips => ip::seed(state, root, file_name),
        SeedKind::Ipv6 => ip::seed_v6(state, root),
        SeedKind::Domains => domain::seed(state, root),
        SeedKind::AssetGroups => group::seed(state, root),
        SeedKind::Users => user::seed(state, root),
        SeedKind::UserPrefs => user::seed_prefs(state, root),
        SeedKind::OptionProfiles => option_profile::seed(state, root),
        SeedKind::StaticLists => search_list::seed_static(state, root),
        SeedKind::DynamicLists => search_list::seed_dynamic(state, root),
        SeedKind::ReportTemplateList => report_template::seed_list(state, root),
        SeedKind::ReportTemplateExport => report_template::seed_export(state, root),
        SeedKind::AuthRecords => auth_record::seed(state, root),
        SeedKind::Tags => tag::seed(state, root),
        SeedKind::PolicyList => policy::seed_list(state, root),
        SeedKind::PolicyExport => policy::seed_export(state, root),
        SeedKind::Schedules => schedule::seed(state, doc),
        SeedKind::VirtualHosts => vhost::seed(state, root),
    }
}

/// A subscription as Qualys hands it over: nothing but the system objects.
pub(crate) fn fresh(api_login: &str, virtual_licenses: u32) -> State {
    let mut state = State::empty(api_login, virtual_licenses);
    add_defaults(&mut state, &BTreeSet::new());
    state
}

fn add_defaults(state: &mut State, seeded: &BTreeSet<SeedKind>) {
    let missing = |kinds: &[SeedKind]| !kinds.iter().any(|k| seeded.contains(k));
    if missing(&[SeedKind::Subscription]) {
        subscription::add_defaults(state);
    }
    if missing(&[SeedKind::Users]) {
        user::add_defaults(state);
    }
    if missing(&[SeedKind::AssetGroups]) {
        group::add_defaults(state);
    }
    option_profile::add_defaults(state);
    if missing(&[SeedKind::ReportTemplateList, SeedKind::ReportTemplateExport]) {
        report_template::add_defaults(state);
    }
    if missing(&[SeedKind::Tags]) {
        tag::add_defaults(state);
    }
}

/// Loads every `*.xml` file under `dir`. Files of a kind the simulator does not know are
/// skipped and returned by name, so that a capture with extra files still loads.
pub(crate) fn load(dir: &Path, api_login: &str, virtual_licenses: u32) -> Result<(State, Vec<String>), SeedError> {
    let mut docs: Vec<(SeedKind, PathBuf, Parsed)> = Vec::new();
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
            Some(kind) => docs.push((kind, path.to_owned(), doc)),
            None => skipped.push(path.strip_prefix(dir).unwrap_or(path).display().to_string()),
        }
    }
    // Stable: files of one kind keep their name order (the pages of a truncated list).
    docs.sort_by_key(|(kind, _, _)| *kind);
    let mut state = State::empty(api_login, virtual_licenses);
    let mut seeded = BTreeSet::new();
    for (kind, path, doc) in &docs {
        observe_datetimes(&mut state, &doc.root);
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        apply(*kind, &mut state, doc, &file_name)
            .map_err(|message| SeedError::Invalid { path: path.clone(), message })?;
        seeded.insert(*kind);
    }
    add_defaults(&mut state, &seeded);
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
