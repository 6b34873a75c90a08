//! Scan schedules, VM (`/api/2.0/fo/schedule/scan/`) and PC
//! (`/api/2.0/fo/schedule/scan/compliance/`): `list`, `create` and `update` (switching a
//! schedule on or off, as the cutover does). Distribution groups, which no API creates, are
//! seeded (`DISTRIBUTION_GROUP_LIST_OUTPUT`) or learnt from the schedules of a seed.
//!
//! A schedule is kept as the canonical form of its create parameters (IDs resolved to the
//! titles and names the list shows), and the list is written from it following the
//! list-to-create mapping of Qualys's migration scripts, so that reading a list back gives
//! the same parameters.

use std::collections::BTreeMap;

use crate::api::ip::Module;
use crate::api::{
    Call, Ctx, Handler, Registration, Reply, delete_by_id, group, list_document, network, read_with, simple_return,
    write,
};
use crate::ipset::Ipv4Set;
use crate::params::{ApiError, Params, id_matches};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State, format_datetime, parse_datetime};
use crate::xml::{Document, Element};

const IDS: IdSequence = IdSequence::new("schedule", 9_000_001);
pub(crate) const VM_PATH: &str = "/api/2.0/fo/schedule/scan/";
pub(crate) const PC_PATH: &str = "/api/2.0/fo/schedule/scan/compliance/";

pub(crate) static KIND: Registration = Registration {
    ops: &[
        read_with(VM_PATH, "list", Handler::Call(list)),
        write(VM_PATH, "create", create),
        write(VM_PATH, "update", update),
        write(VM_PATH, "delete", delete),
        read_with(PC_PATH, "list", Handler::Call(list)),
        write(PC_PATH, "create", create),
        write(PC_PATH, "delete", delete),
        write(PC_PATH, "update", update),
    ],
    seeds: &[
        SeedDoc::root("SCHEDULE_SCAN_LIST_OUTPUT", seed),
        SeedDoc::root("DISTRIBUTION_GROUP_LIST_OUTPUT", seed_distribution_groups),
    ],
    defaults: None,
    export,
    counts: &[
        ("schedules", |state| state.schedules.len() as u64),
        ("distribution_groups", |state| state.distribution_groups.len() as u64),
    ],
};

const CREATE_PARAMS: &[&str] = &[
    "action",
    "echo_request",
    "scan_title",
    "active",
    "option_id",
    "option_title",
    "target_from",
    "ip",
    "asset_groups",
    "asset_group_ids",
    "exclude_ip_per_scan",
    "tag_include_selector",
    "tag_exclude_selector",
    "tag_set_by",
    "tag_set_include",
    "tag_set_exclude",
    "use_ip_nt_range_tags",
    "use_ip_nt_range_tags_include",
    "use_ip_nt_range_tags_exclude",
    "ip_network_id",
    "iscanner_id",
    "iscanner_name",
    "default_scanner",
    "scanners_in_ag",
    "scanners_in_tagset",
    "scanners_in_network",
    "connector_name",
    "connector_uuid",
    "ec2_endpoint",
    "ec2_only_classic",
    "runtime_http_header",
    "client_id",
    "client_name",
    "occurrence",
    "frequency_days",
    "frequency_weeks",
    "weekdays",
    "frequency_months",
    "day_of_month",
    "day_of_week",
    "week_of_month",
    "recurrence",
    "start_date",
    "start_hour",
    "start_minute",
    "time_zone_code",
    "observe_dst",
    "end_after",
    "end_after_mins",
    "pause_after_hours",
    "pause_after_mins",
    "resume_in_days",
    "resume_in_hours",
    "before_notify",
    "before_notify_unit",
    "before_notify_time",
    "before_notify_message",
    "after_notify",
    "after_notify_message",
    "recipient_group_ids",
];
const VM_ONLY_PARAMS: &[&str] = &["priority", "fqdn"];

/// Parameters copied to and from one element of the list, in output order, by section.
const TARGET_FIELDS: &[(&str, &[&str])] = &[
    ("ip", &["TARGET"]),
    ("fqdn", &["FQDN"]),
    ("exclude_ip_per_scan", &["EXCLUDE_IP_PER_SCAN"]),
    ("ip_network_id", &["NETWORK_ID"]),
];
const TAG_FIELDS: &[(&str, &[&str])] = &[
    ("tag_include_selector", &["ASSET_TAGS", "TAG_INCLUDE_SELECTOR"]),
    ("tag_set_include", &["ASSET_TAGS", "TAG_SET_INCLUDE"]),
    ("tag_exclude_selector", &["ASSET_TAGS", "TAG_EXCLUDE_SELECTOR"]),
    ("tag_set_exclude", &["ASSET_TAGS", "TAG_SET_EXCLUDE"]),
    ("use_ip_nt_range_tags", &["ASSET_TAGS", "USE_IP_NT_RANGE_TAGS"]),
    ("use_ip_nt_range_tags_include", &["ASSET_TAGS", "USE_IP_NT_RANGE_TAGS_INCLUDE"]),
    ("use_ip_nt_range_tags_exclude", &["ASSET_TAGS", "USE_IP_NT_RANGE_TAGS_EXCLUDE"]),
];
const START_FIELDS: &[(&str, &[&str])] = &[
    ("start_hour", &["SCHEDULE", "START_HOUR"]),
    ("start_minute", &["SCHEDULE", "START_MINUTE"]),
    ("time_zone_code", &["SCHEDULE", "TIME_ZONE", "TIME_ZONE_CODE"]),
];
const RUN_FIELDS: &[(&str, &[&str])] = &[
    ("recurrence", &["SCHEDULE", "MAX_OCCURRENCE"]),
    ("end_after", &["SCHEDULE", "END_AFTER"]),
    ("end_after_mins", &["SCHEDULE", "END_AFTER_MINS"]),
    ("pause_after_hours", &["SCHEDULE", "PAUSE_AFTER_HOURS"]),
    ("pause_after_mins", &["SCHEDULE", "PAUSE_AFTER_MINS"]),
    ("resume_in_hours", &["SCHEDULE", "RESUME_IN_HOURS"]),
];
const NOTIFY_FIELDS: &[(&str, &[&str])] = &[
    ("before_notify_unit", &["NOTIFICATIONS", "BEFORE_LAUNCH", "UNIT"]),
    ("before_notify_time", &["NOTIFICATIONS", "BEFORE_LAUNCH", "TIME"]),
    ("before_notify_message", &["NOTIFICATIONS", "BEFORE_LAUNCH", "MESSAGE"]),
    ("after_notify_message", &["NOTIFICATIONS", "AFTER_COMPLETE", "MESSAGE"]),
];
const CLOUD_FIELDS: &[(&str, &[&str])] = &[
    ("connector_name", &["CLOUD_DETAILS", "CONNECTOR", "NAME"]),
    ("connector_uuid", &["CLOUD_DETAILS", "CONNECTOR", "UUID"]),
    ("ec2_endpoint", &["CLOUD_DETAILS", "EC2_INSTANCE", "EC2_ENDPOINT"]),
    ("ec2_only_classic", &["CLOUD_DETAILS", "EC2_INSTANCE", "EC2_ONLY_CLASSIC"]),
    ("runtime_http_header", &["RUNTIME_HTTP_HEADER"]),
    ("client_id", &["CLIENT", "ID"]),
    ("client_name", &["CLIENT", "NAME"]),
];

const WEEKDAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const WEEKS_OF_MONTH: [&str; 5] = ["first", "second", "third", "fourth", "last"];
const PRIORITIES: [&str; 10] =
    ["No Priority", "Emergency", "Ultimate", "Critical", "Major", "High", "Standard", "Medium", "Minor", "Low"];
/// What `ISCANNER_NAME` says for each way of choosing scanners other than by name.
const EXTERNAL_SCANNER: &str = "External Scanner";
const SCANNER_FLAGS: &[(&str, &str)] =
    &[("scanners_in_tagset", "All Scanners in TagSet"), ("scanners_in_network", "All Scanners in Network")];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub id: u64,
    pub module: Module,
    pub owner: String,
    /// Canonical create parameters.
    pub params: BTreeMap<String, String>,
    /// Top-level fields of a seeded schedule that the simulator does not model, kept as read.
    pub extra: Vec<Element>,
}

/// The top-level fields the list is written from.
const MODELLED: &[&str] = &[
    "ID",
    "ACTIVE",
    "TITLE",
    "USER_LOGIN",
    "TARGET",
    "FQDN",
    "EXCLUDE_IP_PER_SCAN",
    "NETWORK_ID",
    "ISCANNER_NAME",
    "ASSET_GROUP_TITLE_LIST",
    "ASSET_TAGS",
    "OPTION_PROFILE",
    "PROCESSING_PRIORITY",
    "SCHEDULE",
    "NOTIFICATIONS",
    "CLOUD_DETAILS",
    "RUNTIME_HTTP_HEADER",
    "CLIENT",
];

fn module_of(path: &str) -> Module {
    if path == PC_PATH { Module::Pc } else { Module::Vm }
}

fn path_of(module: Module) -> &'static str {
    match module {
        Module::Vm => VM_PATH,
        Module::Pc => PC_PATH,
    }
}

fn scanners_in_ag_label(module: Module) -> &'static str {
    match module {
        Module::Vm => "All in Asset Group",
        Module::Pc => "All Scanners in Asset Group",
    }
}

fn number_in(p: &Params, name: &str, range: std::ops::RangeInclusive<u64>) -> Result<Option<String>, ApiError> {
    match p.number(name)? {
        Some(v) if !range.contains(&v) => Err(ApiError::invalid(name, v, "")),
        other => Ok(other.map(|v| v.to_string())),
    }
}

fn required_in(p: &Params, name: &str, range: std::ops::RangeInclusive<u64>) -> Result<String, ApiError> {
    number_in(p, name, range)?.ok_or_else(|| ApiError::missing(&[name]))
}

fn create(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let module = module_of(call.path);
    let p = call.params;
    let mut allowed = CREATE_PARAMS.to_vec();
    if module == Module::Vm {
        allowed.extend(VM_ONLY_PARAMS);
    }
    p.only(&allowed)?;
    let params = canonical(call.state, p, module)?;
    let id = call.state.next_id(IDS);
    let now = call.state.tick();
    let owner = call.state.api_login.clone();
    call.state.schedules.insert(id, Schedule { id, module, owner, params, extra: Vec::new() });
    Ok(simple_return(call.ctx, &now, "New scan scheduled successfully", &[("ID", id.to_string())]).into())
}

/// Switches a schedule on or off; the other fields of an update are not modelled.
fn update(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let module = module_of(call.path);
    let p = call.params;
    p.only(&["action", "echo_request", "id", "active"])?;
    let id = p.number("id")?.ok_or_else(|| ApiError::missing(&["id"]))?;
    p.require("active")?;
    let active = if p.flag("active", false)? { "1" } else { "0" };
    let schedule = call
        .state
        .schedules
        .get_mut(&id)
        .filter(|s| s.module == module)
        .ok_or_else(|| ApiError::invalid("id", id, "No such scan schedule"))?;
    schedule.params.insert("active".into(), active.into());
    let now = call.state.tick();
    Ok(simple_return(call.ctx, &now, "Scan schedule updated successfully", &[("ID", id.to_string())]).into())
}

/// `action=delete&id=`: a schedule of the path's module.
fn delete(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let module = module_of(call.path);
    delete_by_id(call, "id", "scan schedule", |state| &mut state.schedules, |s| s.module == module)
}

/// Validates a create call and returns its canonical parameters.
fn canonical(state: &State, p: &Params, module: Module) -> Result<BTreeMap<String, String>, ApiError> {
    let mut c = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        c.insert(k.to_owned(), v);
    };
    put("scan_title", p.require("scan_title")?.trim().to_owned());
    p.require("active")?;
    put("active", if p.flag("active", false)? { "1" } else { "0" }.to_owned());

    let profile = match (p.number("option_id")?, p.value("option_title")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::exclusive(&["option_id", "option_title"]));
        }
        (None, None) => return Err(ApiError::missing(&["option_id", "option_title"])),
        (Some(id), None) => state
            .option_profiles
            .get(&id)
            .ok_or_else(|| ApiError::invalid("option_id", id, "No such option profile"))?,
        (None, Some(t)) => state
            .option_profiles
            .values()
            .find(|o| o.title == t)
            .ok_or_else(|| ApiError::invalid("option_title", t, "No such option profile"))?,
    };
    let compliance = profile.kind == "compliance";
    if compliance != (module == Module::Pc) {
        return Err(ApiError::invalid(
            "option_title",
            &profile.title,
            "The option profile is not of the right type for this scan",
        ));
    }
    put("option_title", profile.title.clone());
    if module == Module::Vm {
        put("priority", number_in(p, "priority", 0..=9)?.unwrap_or_else(|| "0".into()));
    }

    if p.choice("target_from", &["assets", "tags"])? == Some("tags") {
        put("target_from", "tags".into());
        let by_name = p.choice("tag_set_by", &["id", "name"])? == Some("name");
        let include =
            tag_names(state, p, "tag_set_include", by_name)?.ok_or_else(|| ApiError::missing(&["tag_set_include"]))?;
        put("tag_set_include", include);
        if let Some(exclude) = tag_names(state, p, "tag_set_exclude", by_name)? {
            put("tag_set_exclude", exclude);
        }
        for selector in ["tag_include_selector", "tag_exclude_selector"] {
            put(selector, p.choice(selector, &["any", "all"])?.unwrap_or("any").to_owned());
        }
        for flag in ["use_ip_nt_range_tags", "use_ip_nt_range_tags_include", "use_ip_nt_range_tags_exclude"] {
            if p.value(flag).is_some() {
                put(flag, if p.flag(flag, false)? { "1" } else { "0" }.to_owned());
            }
        }
    } else {
        let mut titles = p.list("asset_groups");
        if let Some(missing) = titles.iter().find(|t| group::by_title(state, t).is_none()) {
            return Err(ApiError::invalid("asset_groups", missing, "No such asset group"));
        }
        for (lo, hi) in p.id_list("asset_group_ids")?.unwrap_or_default() {
            for id in lo..=hi {
                let g = state
                    .groups
                    .get(&id)
                    .ok_or_else(|| ApiError::invalid("asset_group_ids", id, "No such asset group"))?;
                titles.push(g.title.clone());
            }
        }
        let ip = p.value("ip").map(Ipv4Set::parse_list).transpose().map_err(|e| ApiError::invalid("ip", e, ""))?;
        let fqdn = p.value("fqdn").filter(|_| module == Module::Vm);
        if titles.is_empty() && ip.is_none() && fqdn.is_none() {
            return Err(ApiError::at_least_one(&["ip", "asset_groups", "asset_group_ids", "fqdn"]));
        }
        if !titles.is_empty() {
            put("asset_groups", titles.join(","));
        }
        if let Some(ip) = ip {
            put("ip", ip.to_string());
        }
        if let Some(fqdn) = fqdn {
            put("fqdn", fqdn.to_owned());
        }
        if let Some(ex) = p.value("exclude_ip_per_scan") {
            put(
                "exclude_ip_per_scan",
                Ipv4Set::parse_list(ex).map_err(|e| ApiError::invalid("exclude_ip_per_scan", e, ""))?.to_string(),
            );
        }
    }
    if let Some(net) = network::param(state, p, "ip_network_id")? {
        put("ip_network_id", net.to_string());
    }
    scanner(state, p, module, &mut put)?;
    for (param, _) in CLOUD_FIELDS {
        if let Some(v) = p.value(param) {
            put(param, v.to_owned());
        }
    }
    recurrence(p, &mut put)?;
    put(
        "start_date",
        match p.value("start_date") {
            Some(d) => us_date(d).ok_or_else(|| ApiError::invalid("start_date", d, "Expected mm/dd/yyyy"))?,
            None => {
                let now = state.now();
                format!("{}/{}/{}", &now[5..7], &now[8..10], &now[0..4])
            }
        },
    );
    put("start_hour", required_in(p, "start_hour", 0..=23)?);
    put("start_minute", required_in(p, "start_minute", 0..=59)?);
    let zone = p.require("time_zone_code")?;
    if !zone.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-') {
        return Err(ApiError::invalid("time_zone_code", zone, ""));
    }
    put("time_zone_code", zone.to_owned());
    put("observe_dst", p.choice("observe_dst", &["yes", "no"])?.unwrap_or("no").to_owned());
    for (name, range) in [
        ("end_after", 0..=119),
        ("end_after_mins", 0..=59),
        ("pause_after_hours", 1..=119),
        ("pause_after_mins", 0..=59),
        ("resume_in_hours", 0..=23),
    ] {
        if let Some(v) = number_in(p, name, range)? {
            put(name, v);
        }
    }
    match p.value("resume_in_days") {
        Some(d) if d.eq_ignore_ascii_case("manually") => put("resume_in_days", "Manually".into()),
        Some(_) => put("resume_in_days", required_in(p, "resume_in_days", 0..=9)?),
        None => {}
    }
    if p.flag("before_notify", false)? {
        put("before_notify", "1".into());
        put(
            "before_notify_unit",
            p.choice("before_notify_unit", &["days", "hours", "minutes"])?
                .ok_or_else(|| ApiError::missing(&["before_notify_unit"]))?
                .to_owned(),
        );
        put("before_notify_time", required_in(p, "before_notify_time", 1..=999)?);
        if let Some(m) = p.value("before_notify_message") {
            put("before_notify_message", m.to_owned());
        }
    }
    if p.flag("after_notify", false)? {
        put("after_notify", "1".into());
        if let Some(m) = p.value("after_notify_message") {
            if m.chars().count() > 4000 {
                return Err(ApiError::invalid("after_notify_message", m, "At most 4000 characters"));
            }
            put("after_notify_message", m.to_owned());
        }
    }
    let mut recipients = Vec::new();
    for (lo, hi) in p.id_list("recipient_group_ids")?.unwrap_or_default() {
        for id in lo..=hi {
            if !state.distribution_groups.contains_key(&id) {
                return Err(ApiError::invalid("recipient_group_ids", id, "No such distribution group"));
            }
            recipients.push(id.to_string());
        }
    }
    if !recipients.is_empty() {
        put("recipient_group_ids", recipients.join(","));
    }
    Ok(c)
}

/// Tags named by ID or by name, as names.
fn tag_names(state: &State, p: &Params, param: &str, by_name: bool) -> Result<Option<String>, ApiError> {
    let items = p.list(param);
    if items.is_empty() {
        return Ok(None);
    }
    let names = items
        .iter()
        .map(|item| {
            let tag = if by_name {
                state.tags.values().find(|t| &t.name == item)
            } else {
                item.parse::<u64>().ok().and_then(|id| state.tags.get(&id))
            };
            tag.map(|t| t.name.clone()).ok_or_else(|| ApiError::invalid(param, item, "No such tag"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(names.join(",")))
}

fn scanner(state: &State, p: &Params, module: Module, put: &mut impl FnMut(&str, String)) -> Result<(), ApiError> {
    let mut names = p.list("iscanner_name");
    for name in &names {
        if !state.appliances.values().any(|a| &a.name == name) {
            return Err(ApiError::invalid("iscanner_name", name, "No such scanner appliance"));
        }
    }
    for (lo, hi) in p.id_list("iscanner_id")?.unwrap_or_default() {
        for id in lo..=hi {
            // 0 is the external scanner on PC schedules.
            if id == 0 && module == Module::Pc {
                continue;
            }
            let a = state
                .appliances
                .get(&id)
                .ok_or_else(|| ApiError::invalid("iscanner_id", id, "No such scanner appliance"))?;
            names.push(a.name.clone());
        }
    }
    p.flag("default_scanner", false)?;
    let flags: Vec<&str> = ["scanners_in_ag", "scanners_in_tagset", "scanners_in_network"]
        .into_iter()
        .map(|f| p.flag(f, false).map(|on| on.then_some(f)))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    match (names.is_empty(), flags.as_slice()) {
        (false, []) => put("iscanner_name", names.join(",")),
        (true, [flag]) => put(flag, "1".into()),
        (true, []) => {}
        _ => {
            return Err(ApiError::exclusive(&[
                "iscanner_id",
                "iscanner_name",
                "scanners_in_ag",
                "scanners_in_tagset",
                "scanners_in_network",
            ]));
        }
    }
    Ok(())
}

fn recurrence(p: &Params, put: &mut impl FnMut(&str, String)) -> Result<(), ApiError> {
    let occurrence =
        p.choice("occurrence", &["daily", "weekly", "monthly"])?.ok_or_else(|| ApiError::missing(&["occurrence"]))?;
    put("occurrence", occurrence.to_owned());
    match occurrence {
        "daily" => put("frequency_days", required_in(p, "frequency_days", 1..=365)?),
        "weekly" => {
            put("frequency_weeks", required_in(p, "frequency_weeks", 1..=52)?);
            let mut days = p
                .list("weekdays")
                .iter()
                .map(|d| {
                    WEEKDAYS
                        .iter()
                        .position(|w| w.eq_ignore_ascii_case(d))
                        .ok_or_else(|| ApiError::invalid("weekdays", d, ""))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if days.is_empty() {
                return Err(ApiError::missing(&["weekdays"]));
            }
            days.sort_unstable();
            days.dedup();
            put("weekdays", days.iter().map(|d| WEEKDAYS[*d]).collect::<Vec<_>>().join(","));
        }
        _ => {
            put("frequency_months", required_in(p, "frequency_months", 1..=12)?);
            match (number_in(p, "day_of_month", 1..=31)?, p.value("day_of_week")) {
                (Some(day), None) => put("day_of_month", day),
                (None, Some(_)) => {
                    put("day_of_week", required_in(p, "day_of_week", 0..=6)?);
                    let week = p
                        .choice("week_of_month", &WEEKS_OF_MONTH)?
                        .ok_or_else(|| ApiError::missing(&["week_of_month"]))?;
                    put("week_of_month", week.to_owned());
                }
                (Some(_), Some(_)) => return Err(ApiError::exclusive(&["day_of_month", "day_of_week"])),
                (None, None) => return Err(ApiError::missing(&["day_of_month", "day_of_week"])),
            }
        }
    }
    if let Some(r) = number_in(p, "recurrence", 1..=99)? {
        put("recurrence", r);
    }
    Ok(())
}

/// `mm/dd/yyyy`, validated and zero-padded.
fn us_date(text: &str) -> Option<String> {
    let mut parts = text.trim().split('/');
    let (m, d, y) =
        (parts.next()?.parse::<u32>().ok()?, parts.next()?.parse::<u32>().ok()?, parts.next()?.parse::<u32>().ok()?);
    (parts.next().is_none() && (1..=12).contains(&m) && (1..=31).contains(&d) && (1900..=9999).contains(&y))
        .then(|| format!("{m:02}/{d:02}/{y:04}"))
}

fn list(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    Ok(list_doc(call.state, call.params, call.ctx, module_of(call.path))?.into())
}

fn list_doc(state: &State, params: &Params, ctx: &Ctx, module: Module) -> Result<Document, ApiError> {
    params.only(&[
        "action",
        "echo_request",
        "id",
        "active",
        "scan_type",
        "show_notifications",
        "show_cloud_details",
        "client_id",
        "client_name",
    ])?;
    let ids = params.id_list("id")?;
    let active = params.value("active").map(|_| params.flag("active", false)).transpose()?;
    let notifications = params.flag("show_notifications", false)?;
    let cloud = params.flag("show_cloud_details", false)?;
    let mut list = Element::new("SCHEDULE_SCAN_LIST");
    for s in state.schedules.values().filter(|s| s.module == module) {
        let is_active = s.params.get("active").is_some_and(|a| a == "1");
        if ids.as_ref().is_none_or(|ids| id_matches(ids, s.id)) && active.is_none_or(|a| a == is_active) {
            list.push(element(s, &state.distribution_groups, notifications, cloud));
        }
    }
    list_document("SCHEDULE_SCAN_LIST_OUTPUT", ctx, path_of(module), params, &state.now(), vec![list])
}

/// The VM and the PC list, with every detail and the request echoed, so that a seed tells
/// them apart.
fn export(state: &State, ctx: &Ctx) -> Result<Vec<(String, Document)>, ApiError> {
    let params = Params::from_pairs(&[
        ("action", "list"),
        ("show_notifications", "1"),
        ("show_cloud_details", "1"),
        ("echo_request", "1"),
    ]);
    Ok(vec![
        ("schedules_vm.xml".to_owned(), list_doc(state, &params, ctx, Module::Vm)?),
        ("schedules_pc.xml".to_owned(), list_doc(state, &params, ctx, Module::Pc)?),
    ])
}

fn ensure<'e>(root: &'e mut Element, path: &[&str]) -> &'e mut Element {
    path.iter().fold(root, |el, name| el.entry(name))
}

fn put_path(root: &mut Element, path: &[&str], value: &str) {
    if let Some((leaf, parents)) = path.split_last() {
        ensure(root, parents).push(Element::cdata(*leaf, value));
    }
}

fn element(s: &Schedule, groups: &BTreeMap<u64, String>, notifications: bool, cloud: bool) -> Element {
    let get = |k: &str| s.params.get(k).map(String::as_str);
    let copy = |el: &mut Element, fields: &[(&str, &[&str])]| {
        for (param, path) in fields {
            if let Some(v) = get(param) {
                put_path(el, path, v);
            }
        }
    };
    let mut el = Element::new("SCAN")
        .child(Element::text("ID", s.id.to_string()))
        .child(Element::text("ACTIVE", get("active").unwrap_or("0")))
        .child(Element::cdata("TITLE", get("scan_title").unwrap_or_default()))
        .child(Element::cdata("USER_LOGIN", &s.owner));
    copy(&mut el, TARGET_FIELDS);
    let scanner = match get("iscanner_name") {
        Some(names) => names.split(',').collect::<Vec<_>>().join(", "),
        None if get("scanners_in_ag").is_some() => scanners_in_ag_label(s.module).to_owned(),
        None => {
            SCANNER_FLAGS.iter().find(|(f, _)| get(f).is_some()).map_or(EXTERNAL_SCANNER, |(_, label)| label).to_owned()
        }
    };
    el.push(Element::cdata("ISCANNER_NAME", scanner));
    if let Some(titles) = get("asset_groups") {
        let mut list = Element::new("ASSET_GROUP_TITLE_LIST");
        for t in titles.split(',') {
            list.push(Element::cdata("ASSET_GROUP_TITLE", t));
        }
        el.push(list);
    }
    copy(&mut el, TAG_FIELDS);
    el.push(Element::new("OPTION_PROFILE").child(Element::cdata("TITLE", get("option_title").unwrap_or_default())));
    if let Some(priority) = get("priority").and_then(|p| p.parse::<usize>().ok()) {
        el.push(Element::text("PROCESSING_PRIORITY", format!("{priority} - {}", PRIORITIES[priority.min(9)])));
    }
    let frequency = match get("occurrence") {
        Some("daily") => Element::new("DAILY").attr("frequency_days", get("frequency_days").unwrap_or("1")),
        Some("weekly") => {
            let days: Vec<String> = get("weekdays")
                .unwrap_or_default()
                .split(',')
                .filter_map(|d| WEEKDAYS.iter().position(|w| *w == d))
                .map(|i| i.to_string())
                .collect();
            Element::new("WEEKLY")
                .attr("frequency_weeks", get("frequency_weeks").unwrap_or("1"))
                .attr("weekdays", days.join(","))
        }
        _ => {
            let monthly = Element::new("MONTHLY").attr("frequency_months", get("frequency_months").unwrap_or("1"));
            match get("day_of_month") {
                Some(day) => monthly.attr("day_of_month", day),
                None => {
                    let week = get("week_of_month")
                        .and_then(|w| WEEKS_OF_MONTH.iter().position(|x| *x == w))
                        .map_or(1, |i| i + 1);
                    monthly
                        .attr("day_of_week", get("day_of_week").unwrap_or("0"))
                        .attr("week_of_month", week.to_string())
                }
            }
        }
    };
    let schedule = ensure(&mut el, &["SCHEDULE"]);
    schedule.push(frequency);
    if let Some(date) = get("start_date") {
        let (m, d, y) = (&date[0..2], &date[3..5], &date[6..10]);
        let (h, min) = (get("start_hour").unwrap_or("0"), get("start_minute").unwrap_or("0"));
        let local = parse_datetime(&format!("{y}-{m}-{d}T{h:0>2}:{min:0>2}:00Z")).unwrap_or_default();
        let offset = zone_offset(get("time_zone_code").unwrap_or_default());
        schedule.push(Element::text("START_DATE_UTC", format_datetime(local - offset)));
    }
    copy(&mut el, START_FIELDS);
    let schedule = ensure(&mut el, &["SCHEDULE"]);
    schedule.push(Element::text("DST_SELECTED", if get("observe_dst") == Some("yes") { "1" } else { "0" }));
    copy(&mut el, RUN_FIELDS);
    if let Some(days) = get("resume_in_days") {
        ensure(&mut el, &["SCHEDULE"]).push(Element::text("RESUME_IN_DAYS", days.to_ascii_lowercase()));
    }
    if notifications {
        if get("before_notify").is_some() {
            ensure(&mut el, &["NOTIFICATIONS", "BEFORE_LAUNCH"]);
        }
        if get("after_notify").is_some() {
            ensure(&mut el, &["NOTIFICATIONS", "AFTER_COMPLETE"]);
        }
        copy(&mut el, NOTIFY_FIELDS);
        if let Some(ids) = get("recipient_group_ids") {
            let list = ensure(&mut el, &["NOTIFICATIONS", "DISTRIBUTION_GROUPS"]);
            for id in ids.split(',') {
                let name = id.parse::<u64>().ok().and_then(|id| groups.get(&id)).cloned().unwrap_or_default();
                list.push(
                    Element::new("DISTRIBUTION_GROUP")
                        .child(Element::text("ID", id))
                        .child(Element::cdata("NAME", name)),
                );
            }
        }
    }
    if cloud {
        copy(&mut el, CLOUD_FIELDS);
    }
    for extra in &s.extra {
        el.push(extra.clone());
    }
    el
}

/// Reads a `SCHEDULE_SCAN_LIST_OUTPUT`. VM and PC lists share the root element; a PC list is
/// recognised by the echoed request's resource or by its DTD, both under `/compliance/`.
fn seed(state: &mut State, file: &SeedFile) -> SeedResult {
    let doc = &file.doc;
    let resource = doc.root.path(&["REQUEST", "RESOURCE"]).map(Element::value);
    let compliance = resource.as_deref().or(doc.doctype.as_deref()).is_some_and(|r| r.contains("/compliance/"));
    let module = if compliance { Module::Pc } else { Module::Vm };
    for el in doc.root.path(&["RESPONSE", "SCHEDULE_SCAN_LIST"]).into_iter().flat_map(|l| l.all("SCAN")) {
        let notified = el.path(&["NOTIFICATIONS", "DISTRIBUTION_GROUPS"]);
        for group in notified.into_iter().flat_map(|l| l.all("DISTRIBUTION_GROUP")) {
            let name = group.child_value("NAME").unwrap_or_default();
            state.distribution_groups.entry(seed::id(group, "ID")?).or_insert(name);
        }
        let id = seed::id(el, "ID")?;
        let params = read_params(el, module)?;
        state.observe_id(IDS, id);
        let owner = el.child_value("USER_LOGIN").unwrap_or_default();
        let extra = seed::unmodelled(el, MODELLED);
        state.schedules.insert(id, Schedule { id, module, owner, params, extra });
    }
    Ok(())
}

/// `DISTRIBUTION_GROUP_LIST_OUTPUT/RESPONSE/DISTRIBUTION_GROUP_LIST/DISTRIBUTION_GROUP/(ID, NAME)`:
/// the simulator's own document (Qualys has no distribution group API), standing for the groups
/// an administrator made by hand.
fn seed_distribution_groups(state: &mut State, file: &SeedFile) -> SeedResult {
    let list = file.doc.root.path(&["RESPONSE", "DISTRIBUTION_GROUP_LIST"]);
    for group in list.into_iter().flat_map(|l| l.all("DISTRIBUTION_GROUP")) {
        state.distribution_groups.insert(seed::id(group, "ID")?, seed::text(group, "NAME")?);
    }
    Ok(())
}

/// Standard offsets from UTC, in seconds, of the time zone codes the samples use; any other
/// code is taken as UTC. Daylight saving time is not modelled.
fn zone_offset(code: &str) -> i64 {
    const ZONES: &[(&str, i64)] = &[
        ("US-CA", -480),
        ("US-CO", -420),
        ("US-IL", -360),
        ("US-NY", -300),
        ("GB", 0),
        ("FR", 60),
        ("DE", 60),
        ("IN", 330),
        ("JP", 540),
        ("AU-NSW", 600),
        ("NZ", 720),
    ];
    ZONES.iter().find(|(c, _)| *c == code).map_or(0, |(_, minutes)| minutes * 60)
}

fn read_params(el: &Element, module: Module) -> Result<BTreeMap<String, String>, String> {
    let mut c = BTreeMap::new();
    let value = |path: &[&str]| el.path(path).map(Element::value).filter(|v| !v.is_empty());
    for (param, path) in TARGET_FIELDS
        .iter()
        .chain(TAG_FIELDS)
        .chain(START_FIELDS)
        .chain(RUN_FIELDS)
        .chain(NOTIFY_FIELDS)
        .chain(CLOUD_FIELDS)
    {
        if let Some(v) = value(path) {
            c.insert((*param).to_owned(), v);
        }
    }
    c.insert("active".into(), value(&["ACTIVE"]).unwrap_or_else(|| "0".into()));
    c.insert("scan_title".into(), seed::text(el, "TITLE")?);
    if let Some(t) = value(&["OPTION_PROFILE", "TITLE"]) {
        c.insert("option_title".into(), t);
    }
    if let Some(p) = value(&["PROCESSING_PRIORITY"]) {
        c.insert("priority".into(), p.split(' ').next().unwrap_or("0").to_owned());
    }
    match value(&["ISCANNER_NAME"]).as_deref() {
        None | Some(EXTERNAL_SCANNER) => {}
        Some(label) if label == scanners_in_ag_label(module) => {
            c.insert("scanners_in_ag".into(), "1".into());
        }
        Some(label) => match SCANNER_FLAGS.iter().find(|(_, l)| *l == label) {
            Some((flag, _)) => {
                c.insert((*flag).to_owned(), "1".into());
            }
            None => {
                c.insert("iscanner_name".into(), label.split(',').map(str::trim).collect::<Vec<_>>().join(","));
            }
        },
    }
    let titles: Vec<String> = el
        .get("ASSET_GROUP_TITLE_LIST")
        .into_iter()
        .flat_map(|l| l.all("ASSET_GROUP_TITLE"))
        .map(Element::value)
        .collect();
    if !titles.is_empty() {
        c.insert("asset_groups".into(), titles.join(","));
    }
    if el.get("ASSET_TAGS").is_some() {
        c.insert("target_from".into(), "tags".into());
    }
    if let Some(schedule) = el.get("SCHEDULE") {
        read_recurrence(schedule, &mut c)?;
        if let Some(utc) = schedule.child_value("START_DATE_UTC").and_then(|s| parse_datetime(&s)) {
            let zone = schedule.path(&["TIME_ZONE", "TIME_ZONE_CODE"]).map(Element::value).unwrap_or_default();
            let start = format_datetime(utc + zone_offset(&zone));
            c.insert("start_date".into(), format!("{}/{}/{}", &start[5..7], &start[8..10], &start[0..4]));
        }
        c.insert(
            "observe_dst".into(),
            if schedule.child_value("DST_SELECTED").as_deref() == Some("1") { "yes" } else { "no" }.into(),
        );
        if let Some(days) = schedule.non_empty("RESUME_IN_DAYS") {
            c.insert(
                "resume_in_days".into(),
                if days.eq_ignore_ascii_case("manually") { "Manually".into() } else { days },
            );
        }
    }
    let recipients: Vec<String> = el
        .path(&["NOTIFICATIONS", "DISTRIBUTION_GROUPS"])
        .into_iter()
        .flat_map(|l| l.all("DISTRIBUTION_GROUP"))
        .filter_map(|g| g.child_value("ID"))
        .collect();
    if !recipients.is_empty() {
        c.insert("recipient_group_ids".into(), recipients.join(","));
    }
    if el.path(&["NOTIFICATIONS", "BEFORE_LAUNCH"]).is_some() {
        c.insert("before_notify".into(), "1".into());
    }
    if el.path(&["NOTIFICATIONS", "AFTER_COMPLETE"]).is_some() {
        c.insert("after_notify".into(), "1".into());
    }
    Ok(c)
}

fn read_recurrence(schedule: &Element, c: &mut BTreeMap<String, String>) -> Result<(), String> {
    let mut put = |k: &str, v: &str| {
        c.insert(k.to_owned(), v.to_owned());
    };
    if let Some(daily) = schedule.get("DAILY") {
        put("occurrence", "daily");
        put("frequency_days", daily.attribute("frequency_days").unwrap_or("1"));
    } else if let Some(weekly) = schedule.get("WEEKLY") {
        put("occurrence", "weekly");
        put("frequency_weeks", weekly.attribute("frequency_weeks").unwrap_or("1"));
        let days = weekly
            .attribute("weekdays")
            .unwrap_or_default()
            .split(',')
            .map(|d| {
                d.trim()
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| WEEKDAYS.get(i).copied())
                    .ok_or_else(|| format!("weekday {d:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        put("weekdays", &days.join(","));
    } else if let Some(monthly) = schedule.get("MONTHLY") {
        put("occurrence", "monthly");
        put("frequency_months", monthly.attribute("frequency_months").unwrap_or("1"));
        if let Some(day) = monthly.attribute("day_of_month") {
            put("day_of_month", day);
        } else {
            put("day_of_week", monthly.attribute("day_of_week").unwrap_or("0"));
            let week = monthly.attribute("week_of_month").unwrap_or("1");
            let name =
                week.parse::<usize>().ok().and_then(|w| WEEKS_OF_MONTH.get(w.wrapping_sub(1))).copied().unwrap_or(week);
            put("week_of_month", name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 01:30 in Paris on 04/01 is 00:30 UTC; 20:00 in New York on 04/01 is 01:00 UTC on 04/02.
    #[test]
    fn start_dates_are_listed_in_utc_and_read_back_in_the_schedule_s_zone() {
        for (zone, hour, utc) in [("FR", "1", "2026-04-01T00:30:00Z"), ("US-NY", "20", "2026-04-02T01:30:00Z")] {
            let params: BTreeMap<String, String> = [
                ("scan_title", "S"),
                ("occurrence", "daily"),
                ("frequency_days", "1"),
                ("start_date", "04/01/2026"),
                ("start_hour", hour),
                ("start_minute", "30"),
                ("time_zone_code", zone),
                ("recipient_group_ids", "41"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
            let schedule = Schedule { id: 1, module: Module::Vm, owner: "o".into(), params, extra: Vec::new() };
            let groups = BTreeMap::from([(41, "SecOps".to_owned())]);
            let el = element(&schedule, &groups, true, false);
            assert_eq!(el.path(&["SCHEDULE", "START_DATE_UTC"]).map(Element::value).as_deref(), Some(utc));
            let group = el.path(&["NOTIFICATIONS", "DISTRIBUTION_GROUPS", "DISTRIBUTION_GROUP"]).expect("listed");
            assert_eq!(group.child_value("NAME").as_deref(), Some("SecOps"));
            let read = read_params(&el, Module::Vm).expect("reads back");
            assert_eq!(read.get("start_date").map(String::as_str), Some("04/01/2026"), "{zone}");
            assert_eq!(read.get("recipient_group_ids").map(String::as_str), Some("41"));
        }
    }

    #[test]
    fn us_dates_are_validated_and_padded() {
        assert_eq!(us_date("8/5/2026").as_deref(), Some("08/05/2026"));
        assert_eq!(us_date("13/01/2026"), None);
        assert_eq!(us_date("2026-08-05"), None);
    }
}
