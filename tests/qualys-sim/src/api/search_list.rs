//! QID search lists: static (`/api/2.0/fo/qid/search_list/static/`) and dynamic
//! (`/api/2.0/fo/qid/search_list/dynamic/`), `list` and `create`.
//!
//! A dynamic list's criteria come back from Qualys as prose ("NOT openssl", "Previous
//! month", "Top Internal 10"). The simulator writes the prose at create time, following the
//! phrases Qualys's migration scripts parse, and keeps it as it is from then on.
//!
//! The simulator has no KnowledgeBase: a dynamic list reports QIDs (`show_qids`, 1 by default
//! as in Qualys) only when its seed carried them, so a created list never does.

use crate::api::{Call, Ctx, Registration, Reply, delete_by_id, list_document, read, simple_return, write};
use crate::export;
use crate::params::{ApiError, Params, id_matches};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State};
use crate::xml::{Document, Element};

const IDS: IdSequence = IdSequence::new("search_list", 8_000_001);
pub(crate) const STATIC_PATH: &str = "/api/2.0/fo/qid/search_list/static/";
pub(crate) const DYNAMIC_PATH: &str = "/api/2.0/fo/qid/search_list/dynamic/";

pub(crate) static KIND: Registration = Registration {
    ops: &[
        read(STATIC_PATH, "list", list_static_doc),
        write(STATIC_PATH, "create", create_static),
        write(STATIC_PATH, "delete", |call| {
            delete_by_id(call, "id", "static search list", |state| &mut state.static_lists, |_| true)
        }),
        read(DYNAMIC_PATH, "list", list_dynamic_doc),
        write(DYNAMIC_PATH, "create", create_dynamic),
        write(DYNAMIC_PATH, "delete", |call| {
            delete_by_id(call, "id", "dynamic search list", |state| &mut state.dynamic_lists, |_| true)
        }),
    ],
    seeds: &[
        SeedDoc::root("STATIC_SEARCH_LIST_OUTPUT", seed_static),
        SeedDoc::root("DYNAMIC_SEARCH_LIST_OUTPUT", seed_dynamic),
    ],
    defaults: None,
    export: |state, ctx| {
        let list = [("action", "list")];
        Ok(vec![
            export::file("search_lists_static.xml", &list, |p| list_static_doc(state, p, ctx))?,
            export::file("search_lists_dynamic.xml", &list, |p| list_dynamic_doc(state, p, ctx))?,
        ])
    },
    counts: &[
        ("search_lists_static", |state| state.static_lists.len() as u64),
        ("search_lists_dynamic", |state| state.dynamic_lists.len() as u64),
    ],
};

const LIST_PARAMS: &[&str] = &[
    "action",
    "echo_request",
    "ids",
    "show_qids",
    "show_option_profiles",
    "show_distribution_groups",
    "show_report_templates",
    "show_remediation_policies",
];

/// (parameter, `CRITERIA` element) of the criteria copied as given.
const CRITERIA: &[(&str, &str)] = &[
    ("vuln_title", "VULNERABILITY_TITLE"),
    ("discovery_methods", "DISCOVERY_METHOD"),
    ("auth_types", "AUTHENTICATION_TYPE"),
    ("user_configuration", "USER_CONFIGURATION"),
    ("categories", "CATEGORY"),
    ("confirmed_severities", "CONFIRMED_SEVERITY"),
    ("potential_severities", "POTENTIAL_SEVERITY"),
    ("ig_severities", "INFORMATION_SEVERITY"),
    ("vendor_ids", "VENDOR"),
    ("products", "PRODUCT"),
    ("patch_available", "PATCH_AVAILABLE"),
    ("virtual_patch_available", "VIRTUAL_PATCH_AVAILABLE"),
    ("cve_ids", "CVE_ID"),
    ("exploitability", "EXPLOITABILITY"),
    ("malware_associated", "ASSOCIATED_MALWARE"),
    ("vendor_refs", "VENDOR_REFERENCE"),
    ("bugtraq_id", "BUGTRAQ_ID"),
    ("vuln_details", "VULNERABILITY_DETAILS"),
    ("compliance_details", "COMPLIANCE_DETAILS"),
    ("supported_modules", "SUPPORTED_MODULES"),
    ("compliance_types", "COMPLIANCE_TYPES"),
    ("qualys_top_lists", "QUALYS_TOP_20"),
    ("cpe", "CPE"),
    ("nac_nam", "NETWORK_ACCESS"),
    ("cvss_base", "CVSS_BASE_SCORE"),
    ("cvss_base_operand", "CVSS_BASE_SCORE_OPERAND"),
    ("cvss_temp", "CVSS_TEMPORAL_SCORE"),
    ("cvss_temp_operand", "CVSS_TEMPORAL_SCORE_OPERAND"),
    ("cvss_access_vector", "CVSS_ACCESS_VECTOR"),
    ("cvss3_base", "CVSS3_BASE_SCORE"),
    ("cvss3_base_operand", "CVSS3_BASE_SCORE_OPERAND"),
    ("cvss3_temp", "CVSS3_TEMPORAL_SCORE"),
    ("cvss3_temp_operand", "CVSS3_TEMPORAL_SCORE_OPERAND"),
];
/// Criteria that accept a `not_<param>=1` negation.
const NEGATABLE: &[&str] = &["vuln_title", "categories", "products", "cve_ids", "vendor_refs", "bugtraq_id"];
/// The flags written together in `OTHER`, with their prose.
const OTHER: &[(&str, &str)] = &[
    ("qids_not_exploitable", "Not exploitable due to configuration"),
    ("non_running_services", "Non-running services"),
    ("sans_20", "2008 Sans 20"),
];
/// The date criteria: parameter prefix and element.
const DATES: &[(&str, &str)] =
    &[("user_modified", "USER_MODIFIED"), ("published", "PUBLISHED"), ("service_modified", "SERVICE_MODIFIED")];
const DATE_FORMS: &[&str] = &["date_between", "date_today", "date_in_previous", "date_within_last_days"];

/// What both kinds of list carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub id: u64,
    pub title: String,
    pub global: bool,
    pub owner: String,
    pub created: String,
    pub modified: String,
    /// Fields of a seeded list that the simulator does not model (`OPTION_PROFILES`,
    /// `REPORT_TEMPLATES`...), kept as read and written last.
    pub extra: Vec<Element>,
}

/// The fields the simulator models.
const MODELLED: &[&str] = &["ID", "TITLE", "GLOBAL", "OWNER", "CREATED", "MODIFIED", "QIDS", "CRITERIA", "COMMENTS"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StaticList {
    pub header: Header,
    pub qids: Vec<u64>,
    pub comments: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DynamicList {
    pub header: Header,
    /// `CRITERIA` children: element and prose, in output order.
    pub criteria: Vec<(String, String)>,
    pub comments: Option<String>,
    /// The QIDs the list selected when its seed was captured with `show_qids=1`.
    pub qids: Vec<u64>,
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "Yes" } else { "No" }
}

/// The ID of the list titled exactly `title`, as an option profile import finds it.
pub(crate) fn id_by_title(state: &State, title: &str) -> Option<u64> {
    let statics = state.static_lists.values().map(|l| &l.header);
    statics.chain(state.dynamic_lists.values().map(|l| &l.header)).find(|h| h.title == title).map(|h| h.id)
}

fn title_taken(state: &State, title: &str) -> bool {
    state.static_lists.values().any(|l| l.header.title.eq_ignore_ascii_case(title))
        || state.dynamic_lists.values().any(|l| l.header.title.eq_ignore_ascii_case(title))
}

impl Header {
    fn new(state: &mut State, title: String, global: bool) -> (Self, String) {
        let id = state.next_id(IDS);
        let now = state.tick();
        let owner = state.api_login.clone();
        let written = as_qualys_writes(&now);
        (Header { id, title, global, owner, created: written.clone(), modified: written, extra: Vec::new() }, now)
    }

    fn element(&self, name: &str) -> Element {
        Element::new(name)
            .child(Element::text("ID", self.id.to_string()))
            .child(Element::cdata("TITLE", &self.title))
            .child(Element::text("GLOBAL", yes_no(self.global)))
            .child(Element::cdata("OWNER", &self.owner))
            .child(Element::text("CREATED", &self.created))
            .child(Element::text("MODIFIED", &self.modified))
    }

    fn read(el: &Element) -> Result<Self, String> {
        Ok(Header {
            id: seed::id(el, "ID")?,
            title: seed::text(el, "TITLE")?,
            global: el.child_value("GLOBAL").is_some_and(|g| g.eq_ignore_ascii_case("yes") || g == "1"),
            owner: el.child_value("OWNER").unwrap_or_default(),
            created: el.child_value("CREATED").unwrap_or_default(),
            modified: el.child_value("MODIFIED").unwrap_or_default(),
            extra: seed::unmodelled(el, MODELLED),
        })
    }
}

/// A list's CREATED and MODIFIED as Qualys writes them, "04/27/2018 at 15:18:42 (GMT+0530)", in
/// the API user's time zone (UTC here), from the simulator's `2018-04-27T09:48:42Z`.
fn as_qualys_writes(timestamp: &str) -> String {
    let part = |range: std::ops::Range<usize>| timestamp.get(range).unwrap_or_default();
    format!("{}/{}/{} at {} (GMT+0000)", part(5..7), part(8..10), part(0..4), part(11..19))
}

fn qid_list(qids: &[u64]) -> Element {
    let mut list = Element::new("QIDS");
    for q in qids {
        list.push(Element::text("QID", q.to_string()));
    }
    list
}

fn list_static_doc(state: &State, params: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    params.only(LIST_PARAMS)?;
    let ids = params.id_list("ids")?;
    let mut lists = Element::new("STATIC_LISTS");
    for l in state.static_lists.values().filter(|l| ids.as_ref().is_none_or(|ids| id_matches(ids, l.header.id))) {
        let mut el = l.header.element("STATIC_LIST");
        el.push(qid_list(&l.qids));
        el.push_opt(l.comments.as_ref().map(|c| Element::cdata("COMMENTS", c)));
        for extra in &l.header.extra {
            el.push(extra.clone());
        }
        lists.push(el);
    }
    list_document("STATIC_SEARCH_LIST_OUTPUT", ctx, STATIC_PATH, params, &state.now(), vec![lists])
}

fn list_dynamic_doc(state: &State, params: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    params.only(LIST_PARAMS)?;
    let ids = params.id_list("ids")?;
    let show_qids = params.flag("show_qids", true)?;
    let mut lists = Element::new("DYNAMIC_LISTS");
    for l in state.dynamic_lists.values().filter(|l| ids.as_ref().is_none_or(|ids| id_matches(ids, l.header.id))) {
        let mut el = l.header.element("DYNAMIC_LIST");
        let mut criteria = Element::new("CRITERIA");
        for (name, prose) in &l.criteria {
            criteria.push(Element::cdata(name, prose));
        }
        el.push(criteria);
        el.push_opt(l.comments.as_ref().map(|c| Element::cdata("COMMENTS", c)));
        if show_qids && !l.qids.is_empty() {
            el.push(qid_list(&l.qids));
        }
        for extra in &l.header.extra {
            el.push(extra.clone());
        }
        lists.push(el);
    }
    list_document("DYNAMIC_SEARCH_LIST_OUTPUT", ctx, DYNAMIC_PATH, params, &state.now(), vec![lists])
}

fn create_static(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "echo_request", "title", "qids", "global", "comments"])?;
    let title = new_title(call.state, p)?;
    let mut qids = Vec::new();
    for (lo, hi) in p.id_list("qids")?.ok_or_else(|| ApiError::missing(&["qids"]))? {
        qids.extend(lo..=hi);
    }
    qids.sort_unstable();
    qids.dedup();
    let global = p.flag("global", false)?;
    let (header, now) = Header::new(call.state, title, global);
    let id = header.id;
    call.state.static_lists.insert(id, StaticList { header, qids, comments: p.value("comments").map(str::to_owned) });
    Ok(simple_return(call.ctx, &now, "New search list created successfully", &[("ID", id.to_string())]).into())
}

fn new_title(state: &State, p: &Params) -> Result<String, ApiError> {
    let title = p.require("title")?.trim().to_owned();
    if title_taken(state, &title) {
        return Err(ApiError::invalid("title", &title, "A search list with this title already exists"));
    }
    Ok(title)
}

fn create_dynamic(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    let mut allowed: Vec<String> = ["action", "echo_request", "title", "global", "comments"].map(String::from).to_vec();
    allowed.extend(CRITERIA.iter().map(|(param, _)| (*param).to_owned()));
    allowed.extend(NEGATABLE.iter().map(|param| format!("not_{param}")));
    allowed.extend(OTHER.iter().map(|(param, _)| (*param).to_owned()));
    for (prefix, _) in DATES {
        allowed.push(format!("not_{prefix}"));
        allowed.extend(DATE_FORMS.iter().map(|form| format!("{prefix}_{form}")));
    }
    p.only(&allowed.iter().map(String::as_str).collect::<Vec<_>>())?;
    let title = new_title(call.state, p)?;
    let global = p.flag("global", false)?;
    let criteria = criteria_prose(p)?;
    let (header, now) = Header::new(call.state, title, global);
    let id = header.id;
    let comments = p.value("comments").map(str::to_owned);
    call.state.dynamic_lists.insert(id, DynamicList { header, criteria, comments, qids: Vec::new() });
    Ok(simple_return(call.ctx, &now, "New search list created successfully", &[("ID", id.to_string())]).into())
}

/// The `CRITERIA` prose for the criteria parameters of a create call.
fn criteria_prose(p: &Params) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for (param, element) in CRITERIA {
        let Some(value) = p.value(param) else { continue };
        let prose = match *param {
            "discovery_methods" if value.eq_ignore_ascii_case("ALL") => "All".to_owned(),
            "discovery_methods" => value.split(',').map(str::trim).collect::<Vec<_>>().join(" and "),
            "patch_available" | "virtual_patch_available" => yes_no(p.flag(param, false)?).to_owned(),
            "qualys_top_lists" => value
                .split(',')
                .map(|t| match t.trim() {
                    "Internal_10" => Ok("Top Internal 10"),
                    "External_10" => Ok("Top External 10"),
                    other => Err(ApiError::invalid(param, other, "")),
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(", "),
            _ if NEGATABLE.contains(param) && p.flag(&format!("not_{param}"), false)? => format!("NOT {value}"),
            _ => value.to_owned(),
        };
        out.push(((*element).to_owned(), prose));
    }
    let mut other = Vec::new();
    for (param, prose) in OTHER {
        if p.flag(param, false)? {
            other.push(*prose);
        }
    }
    if !other.is_empty() {
        out.push(("OTHER".to_owned(), other.join(", ")));
    }
    for (prefix, element) in DATES {
        let value = |form: &str| p.value(&format!("{prefix}_{form}"));
        let prose = if let Some(range) = value("date_between") {
            range.to_owned()
        } else if p.flag(&format!("{prefix}_date_today"), false)? {
            "Today".to_owned()
        } else if let Some(period) = value("date_in_previous") {
            format!("Previous {}", period.to_ascii_lowercase())
        } else if let Some(days) = value("date_within_last_days") {
            format!("Last {days} days")
        } else {
            continue;
        };
        let negated = p.flag(&format!("not_{prefix}"), false)?;
        out.push(((*element).to_owned(), if negated { format!("NOT {prose}") } else { prose }));
    }
    Ok(out)
}

/// Reads `STATIC_SEARCH_LIST_OUTPUT`.
fn seed_static(state: &mut State, file: &SeedFile) -> SeedResult {
    for el in file.root().path(&["RESPONSE", "STATIC_LISTS"]).into_iter().flat_map(|l| l.all("STATIC_LIST")) {
        let header = Header::read(el)?;
        let qids = seeded_qids(el)?;
        state.observe_id(IDS, header.id);
        state.static_lists.insert(header.id, StaticList { header, qids, comments: el.non_empty("COMMENTS") });
    }
    Ok(())
}

/// Reads `DYNAMIC_SEARCH_LIST_OUTPUT`.
fn seed_dynamic(state: &mut State, file: &SeedFile) -> SeedResult {
    for el in file.root().path(&["RESPONSE", "DYNAMIC_LISTS"]).into_iter().flat_map(|l| l.all("DYNAMIC_LIST")) {
        let header = Header::read(el)?;
        let criteria =
            el.get("CRITERIA").into_iter().flat_map(Element::elements).map(|c| (c.name.clone(), c.value())).collect();
        let qids = seeded_qids(el)?;
        state.observe_id(IDS, header.id);
        let comments = el.non_empty("COMMENTS");
        state.dynamic_lists.insert(header.id, DynamicList { header, criteria, comments, qids });
    }
    Ok(())
}

fn seeded_qids(list: &Element) -> Result<Vec<u64>, String> {
    let qids = list.get("QIDS").into_iter().flat_map(|q| q.all("QID"));
    qids.map(|q| q.value().parse::<u64>().map_err(|_| format!("QID {:?}", q.value()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_read_as_qualys_writes_them() {
        let p = Params::parse(
            "vuln_title=openssl&not_vuln_title=1&discovery_methods=Remote,Authenticated&patch_available=1\
             &qualys_top_lists=Internal_10,External_10&sans_20=1&non_running_services=1\
             &published_date_in_previous=Month",
            None,
        );
        let prose = criteria_prose(&p).expect("valid");
        let get = |name: &str| prose.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("VULNERABILITY_TITLE"), Some("NOT openssl"));
        assert_eq!(get("DISCOVERY_METHOD"), Some("Remote and Authenticated"));
        assert_eq!(get("PATCH_AVAILABLE"), Some("Yes"));
        assert_eq!(get("QUALYS_TOP_20"), Some("Top Internal 10, Top External 10"));
        assert_eq!(get("OTHER"), Some("Non-running services, 2008 Sans 20"));
        assert_eq!(get("PUBLISHED"), Some("Previous month"));
    }
}
