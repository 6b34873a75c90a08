//! Core task: Scan Schedules, VM and PC.
//!
//! Source: `SCHEDULE_SCAN_LIST_OUTPUT`, captured without an `active` filter (`active=0` lists
//! only deactivated schedules, `active=1` only active ones) with `show_notifications=1`,
//! `show_cloud_details=1` and `echo_request=1`: VM (`/api/2.0/fo/schedule/scan/`) and PC
//! (`/api/2.0/fo/schedule/scan/compliance/`) lists share their root, so the echoed request's
//! RESOURCE says which is which, else the run stops.
//!
//! Rules (the list → create mapping of the scanning-configuration card):
//! - Every schedule is created inactive (`active=0`): switched on at once it would scan from the
//!   new subscription the same night as from the old one.
//! - The option profile, asset groups, tags, scanner appliances and network are sent as their
//!   target IDs, resolved through the tasks that created or mapped them; the network 0 (the
//!   default network) is no parameter at all.
//! - Vocabulary: weekday numbers (0 = Sunday) become names, `week_of_month` 1–5 becomes
//!   first…last while `day_of_week` stays a number, `DST_SELECTED` becomes `observe_dst`,
//!   "N - Label" priority becomes N, "manually" resumes become "Manually", scanner labels
//!   become the module's flag.
//! - The start date is kept: `START_DATE_UTC` is converted to the schedule's own zone, whose
//!   offset that day follows from the local `START_HOUR`/`START_MINUTE`. A start date before
//!   the transformation's reference day (the capture's `DATETIME`, or `--start-not-before` when
//!   later) becomes that day: the bundle never asks for a start in the past.
//! - Notification recipients (distribution groups) cannot be created by API: they are mapped
//!   through `inputs/distribution_groups.csv`; unmapped ones are dropped, listed as losses and
//!   as a manual step.
//! - Cloud perimeter and connector-based schedules are manual steps, named one by one.
//! - A schedule of the same module and title in the target export is not created again; the
//!   cutover still switches it on when the source had it on.

use std::collections::BTreeMap;

use qmig_schemas::{Effect, Extract, Segment, SourceRef};

use crate::calendar::{DAY, Date, Instant};
use crate::checklist::Step;
use crate::context::Context;
use crate::error::TransformError;
use crate::export::{ExportFile, Kind, Record};
use crate::plan::{Draft, DraftProbe, Field, RefKind, Refs, Target, TaskOutput, join_segments, object_id};
use crate::tasks::ips::Module;
use crate::tasks::{appliances, networks};

pub const TASK: &str = "scan schedules";
pub const VM_PATH: &str = "/api/2.0/fo/schedule/scan/";
pub const PC_PATH: &str = "/api/2.0/fo/schedule/scan/compliance/";

const WEEKDAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const WEEKS_OF_MONTH: [&str; 5] = ["first", "second", "third", "fourth", "last"];
const EXTERNAL_SCANNER: &str = "External Scanner";
/// What `ISCANNER_NAME` says for scanners chosen other than by name, and the create flag of each.
/// The asset-group label differs by module; the network label is UNVERIFIED.
const SCANNER_FLAGS: &[(&str, &str)] = &[
    ("All in Asset Group", "scanners_in_ag"),
    ("All Scanners in Asset Group", "scanners_in_ag"),
    ("All Scanners in TagSet", "scanners_in_tagset"),
    ("All Scanners in Network", "scanners_in_network"),
];
/// Fields copied as they are, list path → create parameter.
const RUN_LIMITS: &[(&str, &str)] = &[
    ("SCHEDULE/MAX_OCCURRENCE", "recurrence"),
    ("SCHEDULE/END_AFTER", "end_after"),
    ("SCHEDULE/END_AFTER_MINS", "end_after_mins"),
    ("SCHEDULE/PAUSE_AFTER_HOURS", "pause_after_hours"),
    ("SCHEDULE/PAUSE_AFTER_MINS", "pause_after_mins"),
];
const TAG_FIELDS: &[(&str, &str)] = &[
    ("ASSET_TAGS/TAG_INCLUDE_SELECTOR", "tag_include_selector"),
    ("ASSET_TAGS/TAG_EXCLUDE_SELECTOR", "tag_exclude_selector"),
    ("ASSET_TAGS/USE_IP_NT_RANGE_TAGS", "use_ip_nt_range_tags"),
    ("ASSET_TAGS/USE_IP_NT_RANGE_TAGS_INCLUDE", "use_ip_nt_range_tags_include"),
    ("ASSET_TAGS/USE_IP_NT_RANGE_TAGS_EXCLUDE", "use_ip_nt_range_tags_exclude"),
];
/// Notifications only Qualys's own scripts send, with parameters no documentation confirms.
const UNVERIFIED_NOTIFICATIONS: &[&str] = &["LAUNCH_DELAY", "LAUNCH_SKIP", "DEACTIVATE_SCHEDULE"];

pub fn path_of(module: Module) -> &'static str {
    match module {
        Module::Vm => VM_PATH,
        Module::Pc => PC_PATH,
    }
}

fn label(module: Module) -> &'static str {
    match module {
        Module::Vm => "VM",
        Module::Pc => "PC",
    }
}

/// The module a schedule list was captured for, from its echoed request.
pub fn module_of(file: &ExportFile) -> Result<Module, TransformError> {
    let resource = file.document.head.text_at("REQUEST/RESOURCE").unwrap_or_default();
    if resource.contains("/schedule/scan/compliance/") {
        Ok(Module::Pc)
    } else if resource.contains("/schedule/scan/") {
        Ok(Module::Vm)
    } else {
        Err(TransformError::ScheduleListUndetermined { file: file.path.clone() })
    }
}

/// The source's schedule lists with their module, in export order.
pub fn lists<'a>(ctx: &Context<'a>) -> Result<Vec<(Module, &'a ExportFile)>, TransformError> {
    ctx.export.files(Kind::ScheduleList).map(|file| Ok((module_of(file)?, file))).collect()
}

/// The request id of a schedule: its module and title.
pub fn request_id(module: Module, title: &str) -> String {
    object_id(&format!("{}-scan-schedule", label(module).to_ascii_lowercase()), title)
}

pub fn plan(ctx: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let existing = existing_in_target(ctx)?;
    let mut lookup = Lookup { ctx, refs, names: Names::read(ctx) };
    let mut by_hand = Vec::new();
    let mut recipients = Vec::new();
    for (module, file) in lists(ctx)? {
        let not_before = not_before(ctx, file)?;
        for record in file.records() {
            out.source_objects += 1;
            let schedule = Schedule::parse(record, module)?;
            if let Some(cloud) = schedule.cloud() {
                by_hand.push(format!("{} ({cloud})", schedule.object()));
                out.skip(schedule.object(), format!("{cloud}: not created by qmig"), Some(schedule.source()));
                continue;
            }
            if let Some(target_id) = existing.get(&(module, schedule.title)) {
                let request_id = request_id(module, schedule.title);
                lookup.refs.set(RefKind::ScanSchedule, &request_id, Target::Known((*target_id).to_owned()));
                out.skip_existing(schedule.object(), RefKind::ScanSchedule, target_id, schedule.source());
                continue;
            }
            let draft = create(&mut lookup, &schedule, not_before, &mut out, &mut recipients)?;
            lookup.refs.set(RefKind::ScanSchedule, &draft.id, Target::captured(&draft.id, Field::Id));
            out.request(draft);
        }
    }
    if !by_hand.is_empty() {
        out.step(Step::CloudSchedulesByHand, by_hand);
    }
    if !recipients.is_empty() {
        out.step(Step::ScheduleRecipients, recipients);
    }
    Ok(out)
}

/// The target's schedules by module and title, from `--target-export`.
fn existing_in_target<'a>(ctx: &Context<'a>) -> Result<BTreeMap<(Module, &'a str), &'a str>, TransformError> {
    let mut existing = BTreeMap::new();
    for file in ctx.target.into_iter().flat_map(|target| target.files(Kind::ScheduleList)) {
        let module = module_of(file)?;
        for record in file.records() {
            let schedule = Schedule::parse(record, module)?;
            existing.insert((module, schedule.title), schedule.id);
        }
    }
    Ok(existing)
}

/// The first day a start date may be: the capture's day, or `--start-not-before` when later.
#[derive(Debug, Clone, Copy)]
struct NotBefore {
    captured: Instant,
    option: Option<Date>,
}

impl NotBefore {
    /// That day in a zone `offset` minutes ahead of UTC.
    fn date_at(self, offset: i64) -> Date {
        let captured = self.captured.date_at(offset);
        self.option.map_or(captured, |option| option.max(captured))
    }
}

fn not_before(ctx: &Context<'_>, file: &ExportFile) -> Result<NotBefore, TransformError> {
    let captured = file
        .document
        .head
        .text_at("RESPONSE/DATETIME")
        .and_then(Instant::parse)
        .ok_or_else(|| TransformError::ScheduleListUndated { file: file.path.clone() })?;
    Ok(NotBefore { captured, option: ctx.options.start_not_before })
}

/// What a schedule's references are resolved with: the run's context, the references earlier
/// tasks recorded, and the source IDs of the names a schedule list uses.
struct Lookup<'c, 'a> {
    ctx: &'c Context<'a>,
    refs: &'c mut Refs,
    names: Names<'a>,
}

/// Source IDs by the names schedules use for option profiles, asset groups, tags and appliances.
#[derive(Default)]
struct Names<'a> {
    /// (title, group type) → ID.
    profiles: BTreeMap<(&'a str, &'a str), &'a str>,
    groups: BTreeMap<&'a str, &'a str>,
    /// Name → IDs: names of tags in different branches may repeat.
    tags: BTreeMap<&'a str, Vec<&'a str>>,
    appliances: BTreeMap<&'a str, &'a str>,
}

impl<'a> Names<'a> {
    fn read(ctx: &Context<'a>) -> Names<'a> {
        let mut names = Names::default();
        for record in ctx.export.records(Kind::OptionProfiles) {
            if let (Some(id), Some(title)) = (record.text("BASIC_INFO/ID"), record.text("BASIC_INFO/GROUP_NAME")) {
                let group_type = record.text("BASIC_INFO/GROUP_TYPE").unwrap_or("user");
                names.profiles.insert((title, group_type), id);
            }
        }
        for record in ctx.export.records(Kind::AssetGroupList) {
            if let (Some(id), Some(title)) = (record.text("ID"), record.text("TITLE")) {
                names.groups.insert(title, id);
            }
        }
        for record in ctx.export.records(Kind::TagSearch) {
            if let (Some(id), Some(name)) = (record.text("id"), record.text("name")) {
                names.tags.entry(name).or_default().push(id);
            }
        }
        for record in ctx.export.records(Kind::ApplianceList) {
            if let (Some(id), Some(name)) = (record.text("ID"), record.text("NAME")) {
                names.appliances.insert(name, id);
            }
        }
        names
    }
}

/// A schedule as the source lists it.
pub struct Schedule<'a> {
    pub module: Module,
    pub id: &'a str,
    pub title: &'a str,
    pub record: Record<'a>,
}

impl<'a> Schedule<'a> {
    pub fn parse(record: Record<'a>, module: Module) -> Result<Schedule<'a>, TransformError> {
        let id = record.required("scan schedule", "ID")?;
        let title = record.required(&format!("scan schedule {id}"), "TITLE")?;
        Ok(Schedule { module, id, title, record })
    }

    pub fn object(&self) -> String {
        format!("{} scan schedule \"{}\"", label(self.module), self.title)
    }

    pub fn source(&self) -> SourceRef {
        self.record.source(Some(self.id), Some(self.title))
    }

    fn text(&self, path: &str) -> Option<&'a str> {
        self.record.text(path)
    }

    fn invalid(&self, problem: impl Into<String>) -> TransformError {
        self.record.invalid(&self.object(), problem)
    }

    /// Why a cloud schedule is left to the operator; `None` for others.
    fn cloud(&self) -> Option<String> {
        if let Some(connector) = self.text("CLOUD_DETAILS/CONNECTOR/NAME") {
            return Some(format!("scans through cloud connector \"{connector}\""));
        }
        if self.record.element.at("CLOUD_DETAILS/EC2_INSTANCE").is_some() {
            return Some("scans EC2 instances".to_owned());
        }
        self.record.element.at("CLOUD_DETAILS").map(|_| "a cloud perimeter scan".to_owned())
    }

    /// A comma-separated list field, items trimmed.
    fn items(&self, path: &str) -> Vec<&'a str> {
        self.text(path)
            .map(|text| text.split(',').map(str::trim).filter(|t| !t.is_empty()).collect())
            .unwrap_or_default()
    }

    fn number(&self, path: &str, range: std::ops::RangeInclusive<i64>) -> Result<Option<i64>, TransformError> {
        let Some(text) = self.text(path) else { return Ok(None) };
        match text.parse::<i64>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(self.invalid(format!(
                "{path} is \"{text}\", not a number from {} to {}",
                range.start(),
                range.end()
            ))),
        }
    }
}

fn create(
    lookup: &mut Lookup<'_, '_>,
    schedule: &Schedule<'_>,
    not_before: NotBefore,
    out: &mut TaskOutput,
    recipients: &mut Vec<String>,
) -> Result<Draft, TransformError> {
    let module = schedule.module;
    let path = path_of(module);
    let id = request_id(module, schedule.title);
    let used_by = schedule.object();
    let was_active = schedule.text("ACTIVE").unwrap_or("0");
    let summary = format!(
        "Create {} inactive ({})",
        schedule.object(),
        if was_active == "1" { "switched on at the cutover" } else { "inactive in the source" }
    );
    let mut draft = Draft::post(TASK, id.clone(), Effect::Create, path, summary)
        .param("action", "create")
        .param("scan_title", schedule.title)
        .param("active", "0");
    draft = option_profile(lookup, schedule, draft)?;
    if module == Module::Vm {
        let priority = schedule.text("PROCESSING_PRIORITY").map(|p| p.split(" - ").next().unwrap_or(p).trim());
        if let Some(priority) = priority.filter(|p| !p.parse::<u8>().is_ok_and(|p| p <= 9)) {
            return Err(schedule.invalid(format!("PROCESSING_PRIORITY \"{priority}\" is not \"N - Label\", N 0–9")));
        }
        draft = draft.param_opt("priority", priority).param_opt("fqdn", schedule.text("FQDN"));
    }
    draft = targets(lookup, schedule, draft)?;
    if let Some(network) = schedule.text("NETWORK_ID").filter(|n| *n != networks::DEFAULT_NETWORK) {
        let target = networks::require(lookup.refs, network, &used_by);
        draft = draft.param_opt("ip_network_id", target.map(|t| t.value()));
    }
    draft = scanners(lookup, schedule, draft)?;
    draft = recurrence(schedule, draft)?;
    draft = start(schedule, not_before, draft, out)?;
    for (field, param) in RUN_LIMITS {
        draft = draft.param_opt(param, schedule.text(field));
    }
    match schedule.text("SCHEDULE/RESUME_IN_DAYS") {
        Some(days) if days.eq_ignore_ascii_case("manually") => draft = draft.param("resume_in_days", "Manually"),
        days => {
            draft = draft
                .param_opt("resume_in_days", days)
                .param_opt("resume_in_hours", schedule.text("SCHEDULE/RESUME_IN_HOURS"));
        }
    }
    draft = notifications(lookup.ctx, schedule, draft, out, recipients);
    let mut lost = Vec::new();
    if let Some(owner) = schedule.text("USER_LOGIN") {
        lost.push(format!("owner {owner} (the API user owns what it creates)"));
    }
    if !matches!(was_active, "0" | "1") {
        lost.push(format!("ACTIVE {was_active} (continuous or paused: no create parameter is documented)"));
    }
    if !lost.is_empty() {
        out.lose(schedule.object(), lost, "the create call has no parameter for it", Some(schedule.source()));
    }
    let probe =
        DraftProbe::list(path, &[("action", "list")], "SCAN", "TITLE", schedule.title).fills(&id, Field::Id, "ID");
    Ok(draft.capture(Field::Id, Extract::NewId).probe(probe).source(schedule.source()))
}

fn option_profile(lookup: &mut Lookup<'_, '_>, schedule: &Schedule<'_>, draft: Draft) -> Result<Draft, TransformError> {
    let title = schedule.text("OPTION_PROFILE/TITLE").ok_or_else(|| schedule.invalid("has no OPTION_PROFILE/TITLE"))?;
    let group_type = match schedule.module {
        Module::Vm => "user",
        Module::Pc => "compliance",
    };
    let key = lookup.names.profiles.get(&(title, group_type)).copied().unwrap_or(title);
    let target = lookup.refs.require(RefKind::OptionProfile, key, &schedule.object(), || {
        format!("export the {} option profile \"{title}\" with the option profiles", label(schedule.module))
    });
    Ok(draft.param_opt("option_id", target.map(|t| t.value())))
}

/// Resolves names to target IDs, recording every one that cannot be.
fn resolve(refs: &mut Refs, kind: RefKind, keys: &[&str], used_by: &str, hint: &str) -> Option<qmig_schemas::Value> {
    let targets: Vec<Option<Target>> =
        keys.iter().map(|key| refs.require(kind, key, used_by, || hint.to_owned())).collect();
    let segments: Option<Vec<Segment>> = targets.into_iter().map(|t| t.map(|t| t.segment())).collect();
    segments.map(|segments| join_segments(segments, ","))
}

fn targets(lookup: &mut Lookup<'_, '_>, schedule: &Schedule<'_>, mut draft: Draft) -> Result<Draft, TransformError> {
    let used_by = schedule.object();
    if schedule.record.element.at("ASSET_TAGS").is_some() {
        let tag_ids = |path: &str| -> Result<Vec<&str>, TransformError> {
            schedule
                .items(path)
                .into_iter()
                .map(|name| match lookup.names.tags.get(name).map(Vec::as_slice) {
                    Some([id]) => Ok(*id),
                    Some(_) => Err(schedule.invalid(format!(
                        "{path} names tag \"{name}\", which several source tags are called; the list gives names only, so rename them apart in the source"
                    ))),
                    None => Ok(name),
                })
                .collect()
        };
        let include = tag_ids("ASSET_TAGS/TAG_SET_INCLUDE")?;
        let exclude = tag_ids("ASSET_TAGS/TAG_SET_EXCLUDE")?;
        if include.is_empty() {
            return Err(schedule.invalid("targets tags but ASSET_TAGS/TAG_SET_INCLUDE names none"));
        }
        let hint = "export the tags with the tag search";
        draft = draft
            .param("target_from", "tags")
            .param("tag_set_by", "id")
            .param_opt("tag_set_include", resolve(lookup.refs, RefKind::Tag, &include, &used_by, hint));
        if !exclude.is_empty() {
            draft = draft.param_opt("tag_set_exclude", resolve(lookup.refs, RefKind::Tag, &exclude, &used_by, hint));
        }
        for (field, param) in TAG_FIELDS {
            draft = draft.param_opt(param, schedule.text(field).map(str::to_ascii_lowercase));
        }
    } else {
        let titles: Vec<&str> = schedule
            .record
            .element
            .descendants()
            .into_iter()
            .filter(|e| e.name == "ASSET_GROUP_TITLE")
            .map(|e| e.value())
            .filter(|t| !t.is_empty())
            .collect();
        let keys: Vec<&str> = titles.iter().map(|t| lookup.names.groups.get(t).copied().unwrap_or(t)).collect();
        if keys.is_empty() {
            // Whether TARGET holds an asset-group scan's resolved IPs is not documented: it is
            // the target only of scans without asset groups.
            draft = draft.param_opt("ip", schedule.text("TARGET"));
        } else {
            let hint = "export the asset group with the asset group list";
            draft =
                draft.param_opt("asset_group_ids", resolve(lookup.refs, RefKind::AssetGroup, &keys, &used_by, hint));
        }
        if keys.is_empty() && schedule.text("TARGET").is_none() && schedule.text("FQDN").is_none() {
            return Err(schedule.invalid("has no target: no TARGET, FQDN, ASSET_GROUP_TITLE or ASSET_TAGS"));
        }
    }
    Ok(draft.param_opt("exclude_ip_per_scan", schedule.text("EXCLUDE_IP_PER_SCAN")))
}

fn scanners(lookup: &mut Lookup<'_, '_>, schedule: &Schedule<'_>, draft: Draft) -> Result<Draft, TransformError> {
    let label = schedule.text("ISCANNER_NAME").unwrap_or(EXTERNAL_SCANNER);
    if label == EXTERNAL_SCANNER {
        // Qualys's scripts learned in live use that PC schedules want the external scanner
        // named as ID 0 while VM schedules take no scanner parameter for it.
        return Ok(match schedule.module {
            Module::Vm => draft,
            Module::Pc => draft.param("iscanner_id", "0"),
        });
    }
    if let Some((_, flag)) = SCANNER_FLAGS.iter().find(|(l, _)| *l == label) {
        return Ok(draft.param(flag, "1"));
    }
    let used_by = schedule.object();
    let mut targets = Vec::new();
    for name in schedule.items("ISCANNER_NAME") {
        // appliances.csv may map an appliance by name, so an unlisted name is still a key.
        let key = lookup.names.appliances.get(name).copied().unwrap_or(name);
        targets.push(appliances::require(lookup.ctx, lookup.refs, key, &used_by));
    }
    let segments: Option<Vec<Segment>> = targets.into_iter().map(|t| t.map(|t| t.segment())).collect();
    Ok(draft.param_opt("iscanner_id", segments.map(|s| join_segments(s, ","))))
}

fn recurrence(schedule: &Schedule<'_>, draft: Draft) -> Result<Draft, TransformError> {
    let at = |path: &str| schedule.record.element.at(path);
    let attr = |element: &crate::xml::Element, name: &str| -> Result<String, TransformError> {
        element
            .attr(name)
            .map(str::to_owned)
            .ok_or_else(|| schedule.invalid(format!("SCHEDULE/{} has no {name}", element.name)))
    };
    if let Some(daily) = at("SCHEDULE/DAILY") {
        return Ok(draft.param("occurrence", "daily").param("frequency_days", attr(daily, "frequency_days")?));
    }
    if let Some(weekly) = at("SCHEDULE/WEEKLY") {
        let numbers = attr(weekly, "weekdays")?;
        let days = numbers
            .split(',')
            .map(|n| n.trim().parse::<usize>().ok().and_then(|n| WEEKDAYS.get(n).copied()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| schedule.invalid(format!("weekdays \"{numbers}\" are not day numbers 0 (Sunday) to 6")))?;
        return Ok(draft
            .param("occurrence", "weekly")
            .param("frequency_weeks", attr(weekly, "frequency_weeks")?)
            .param("weekdays", days.join(",")));
    }
    let Some(monthly) = at("SCHEDULE/MONTHLY") else {
        return Err(schedule.invalid("has no SCHEDULE/DAILY, WEEKLY or MONTHLY"));
    };
    let draft = draft.param("occurrence", "monthly").param("frequency_months", attr(monthly, "frequency_months")?);
    if let Some(day) = monthly.attr("day_of_month") {
        return Ok(draft.param("day_of_month", day));
    }
    let week = attr(monthly, "week_of_month")?;
    let word = week
        .parse::<usize>()
        .ok()
        .and_then(|w| WEEKS_OF_MONTH.get(w.wrapping_sub(1)))
        .ok_or_else(|| schedule.invalid(format!("week_of_month \"{week}\" is not 1 to 5")))?;
    Ok(draft.param("day_of_week", attr(monthly, "day_of_week")?).param("week_of_month", *word))
}

/// The start: local date (moved to the reference day when earlier), time, zone and DST.
fn start(
    schedule: &Schedule<'_>,
    not_before: NotBefore,
    draft: Draft,
    out: &mut TaskOutput,
) -> Result<Draft, TransformError> {
    let hour = schedule
        .number("SCHEDULE/START_HOUR", 0..=23)?
        .ok_or_else(|| schedule.invalid("has no SCHEDULE/START_HOUR"))?;
    let minute = schedule.number("SCHEDULE/START_MINUTE", 0..=59)?.unwrap_or(0);
    let zone = schedule
        .text("SCHEDULE/TIME_ZONE/TIME_ZONE_CODE")
        .ok_or_else(|| schedule.invalid("has no SCHEDULE/TIME_ZONE/TIME_ZONE_CODE"))?;
    let dst = match schedule.text("SCHEDULE/DST_SELECTED") {
        Some("1") => "yes",
        _ => "no",
    };
    let mut draft = draft;
    if let Some(text) = schedule.text("SCHEDULE/START_DATE_UTC") {
        let utc = Instant::parse(text)
            .ok_or_else(|| schedule.invalid(format!("START_DATE_UTC \"{text}\" is not a UTC date and time")))?;
        let offset = zone_offset(hour * 60 + minute, utc);
        let local = utc.date_at(offset);
        let earliest = not_before.date_at(offset);
        let date = if local < earliest {
            out.warn(
                format!(
                    "{}: its start date {} is before {}, the day this bundle takes as today; it starts on {} \
                     instead (a schedule repeating every N days, weeks or months counts from that day)",
                    schedule.object(),
                    local.us(),
                    earliest.us(),
                    earliest.us()
                ),
                Some(schedule.source()),
            );
            earliest
        } else {
            local
        };
        draft = draft.param("start_date", date.us());
    }
    Ok(draft
        .param("start_hour", hour.to_string())
        .param("start_minute", minute.to_string())
        .param("time_zone_code", zone)
        .param("observe_dst", dst))
}

/// The schedule's zone offset from UTC in minutes on its start day: the local start time minus
/// the UTC one, taken in UTC−12…UTC+14. From UTC+12 on both readings fit (UTC+13 or UTC−11):
/// the eastern one is taken, whose date is the later, so a schedule never starts earlier than
/// in the source.
fn zone_offset(local_minute: i64, utc: Instant) -> i64 {
    let difference = (local_minute - utc.minute_of_day()).rem_euclid(DAY);
    if difference > 14 * 60 { difference - DAY } else { difference }
}

fn notifications(
    ctx: &Context<'_>,
    schedule: &Schedule<'_>,
    mut draft: Draft,
    out: &mut TaskOutput,
    recipients: &mut Vec<String>,
) -> Draft {
    if schedule.record.element.at("NOTIFICATIONS/BEFORE_LAUNCH").is_some() {
        draft = draft
            .param("before_notify", "1")
            .param_opt(
                "before_notify_unit",
                schedule.text("NOTIFICATIONS/BEFORE_LAUNCH/UNIT").map(str::to_ascii_lowercase),
            )
            .param_opt("before_notify_time", schedule.text("NOTIFICATIONS/BEFORE_LAUNCH/TIME"))
            .param_opt("before_notify_message", schedule.text("NOTIFICATIONS/BEFORE_LAUNCH/MESSAGE"));
    }
    if schedule.record.element.at("NOTIFICATIONS/AFTER_COMPLETE").is_some() {
        draft = draft
            .param("after_notify", "1")
            .param_opt("after_notify_message", schedule.text("NOTIFICATIONS/AFTER_COMPLETE/MESSAGE"));
    }
    let mut mapped = Vec::new();
    let mut unmapped = Vec::new();
    for group in schedule.record.element.all("NOTIFICATIONS/DISTRIBUTION_GROUPS/DISTRIBUTION_GROUP") {
        let id = group.text_at("ID").unwrap_or_default();
        let name = group.text_at("NAME").unwrap_or(id);
        match ctx.inputs.distribution_groups.lookup(id, name) {
            Some(row) => {
                mapped.push(row.target.clone());
                draft = draft.remap(RefKind::DistributionGroup, id, &Target::Known(row.target.clone()));
            }
            None => unmapped.push(format!("distribution group \"{name}\" ({id})")),
        }
    }
    if !mapped.is_empty() {
        draft = draft.param("recipient_group_ids", mapped.join(","));
    }
    if !unmapped.is_empty() {
        recipients.push(format!("{}: {}", schedule.object(), unmapped.join(", ")));
        out.lose(
            schedule.object(),
            unmapped,
            "distribution groups cannot be created by API and inputs/distribution_groups.csv does not map these",
            Some(schedule.source()),
        );
    }
    let unverified: Vec<String> = UNVERIFIED_NOTIFICATIONS
        .iter()
        .filter(|name| schedule.record.element.at(&format!("NOTIFICATIONS/{name}")).is_some())
        .map(|name| format!("NOTIFICATIONS/{name}"))
        .collect();
    if !unverified.is_empty() {
        out.lose(
            schedule.object(),
            unverified,
            "no documentation confirms a create parameter for these notifications",
            Some(schedule.source()),
        );
    }
    draft
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::test_support::{Fixture, param};
    use crate::tasks::{asset_groups, option_profiles, tags};

    const PROFILES: &str = "<OPTION_PROFILES>\
        <OPTION_PROFILE><BASIC_INFO><ID>7</ID><GROUP_NAME>Weekly VM</GROUP_NAME><GROUP_TYPE>user</GROUP_TYPE></BASIC_INFO></OPTION_PROFILE>\
        <OPTION_PROFILE><BASIC_INFO><ID>8</ID><GROUP_NAME>Weekly VM</GROUP_NAME><GROUP_TYPE>compliance</GROUP_TYPE></BASIC_INFO></OPTION_PROFILE>\
        </OPTION_PROFILES>";
    const GROUPS: &str = "<ASSET_GROUP_LIST_OUTPUT><RESPONSE><ASSET_GROUP_LIST>\
        <ASSET_GROUP><ID>31</ID><TITLE>Finance</TITLE><IP_SET><IP>10.0.0.1</IP></IP_SET></ASSET_GROUP>\
        <ASSET_GROUP><ID>32</ID><TITLE>Branch</TITLE><IP_SET><IP>10.0.0.2</IP></IP_SET></ASSET_GROUP>\
        </ASSET_GROUP_LIST></RESPONSE></ASSET_GROUP_LIST_OUTPUT>";
    const TAGS: &str = "<ServiceResponse><responseCode>SUCCESS</responseCode><count>2</count><hasMoreRecords>false</hasMoreRecords><data>\
        <Tag><id>501</id><name>PCI</name><ruleType>STATIC</ruleType></Tag>\
        <Tag><id>502</id><name>Retired</name><ruleType>STATIC</ruleType></Tag>\
        </data></ServiceResponse>";
    const NETWORKS: &str = "<NETWORK_LIST_OUTPUT><RESPONSE><NETWORK_LIST>\
        <NETWORK><ID>1104</ID><NAME>DMZ</NAME></NETWORK></NETWORK_LIST></RESPONSE></NETWORK_LIST_OUTPUT>";
    const APPLIANCES: &str = "<APPLIANCE_LIST_OUTPUT><RESPONSE><APPLIANCE_LIST>\
        <APPLIANCE><ID>5001</ID><NAME>Scanner East</NAME><TYPE>Physical</TYPE></APPLIANCE>\
        <APPLIANCE><ID>5002</ID><NAME>Scanner West</NAME><TYPE>Physical</TYPE></APPLIANCE>\
        </APPLIANCE_LIST></RESPONSE></APPLIANCE_LIST_OUTPUT>";
    const INPUTS: &[(&str, &str)] = &[
        ("networks.csv", "source,target\n1104,2204\n"),
        ("appliances.csv", "source,target\nScanner East,6601\nScanner West,6602\n"),
        ("distribution_groups.csv", "source,target\n41,9041\n"),
    ];
    const CAPTURED: &str = "2026-03-10T08:00:00Z";

    fn list(module: Module, scans: &str) -> String {
        format!(
            "<SCHEDULE_SCAN_LIST_OUTPUT><REQUEST><DATETIME>{CAPTURED}</DATETIME>\
             <RESOURCE>https://qualysapi.qualys.eu{}</RESOURCE></REQUEST>\
             <RESPONSE><DATETIME>{CAPTURED}</DATETIME><SCHEDULE_SCAN_LIST>{scans}</SCHEDULE_SCAN_LIST></RESPONSE>\
             </SCHEDULE_SCAN_LIST_OUTPUT>",
            path_of(module)
        )
    }

    /// A schedule starting at `start` UTC, 02:30 local in a zone one hour ahead of UTC.
    fn scan(id: &str, title: &str, active: &str, start: &str, fields: &str) -> String {
        format!(
            "<SCAN><ID>{id}</ID><ACTIVE>{active}</ACTIVE><TITLE><![CDATA[{title}]]></TITLE><USER_LOGIN>acme_ab</USER_LOGIN>\
             <OPTION_PROFILE><TITLE>Weekly VM</TITLE></OPTION_PROFILE>{fields}\
             <SCHEDULE><START_DATE_UTC>{start}</START_DATE_UTC><START_HOUR>2</START_HOUR><START_MINUTE>30</START_MINUTE>\
             <TIME_ZONE><TIME_ZONE_CODE>FR</TIME_ZONE_CODE></TIME_ZONE><DST_SELECTED>1</DST_SELECTED></SCHEDULE></SCAN>"
        )
    }

    fn with_recurrence(scan: String, recurrence: &str) -> String {
        scan.replace("<SCHEDULE>", &format!("<SCHEDULE>{recurrence}"))
    }

    /// The schedules task after the tasks it refers to; every reference must resolve.
    fn run(files: &[(&str, &str)]) -> Result<TaskOutput, TransformError> {
        let mut export = vec![
            ("op.xml", PROFILES),
            ("groups.xml", GROUPS),
            ("tags.xml", TAGS),
            ("networks.xml", NETWORKS),
            ("appliances.xml", APPLIANCES),
        ];
        export.extend_from_slice(files);
        let plans = [networks::plan, appliances::plan, asset_groups::plan, tags::plan, option_profiles::plan, plan];
        let (mut outputs, refs) = Fixture::new(&export).inputs(INPUTS).run(&plans)?;
        assert_eq!(refs.unresolved(), [], "every reference resolves");
        Ok(outputs.pop().expect("the task ran"))
    }

    fn params(draft: &Draft) -> Vec<(String, String)> {
        draft.params.iter().map(|p| (p.name.clone(), p.value.display())).collect()
    }

    #[test]
    fn a_weekly_vm_schedule_is_created_inactive_with_every_reference_through_its_new_identity() {
        let fields = "<ISCANNER_NAME>Scanner East, Scanner West</ISCANNER_NAME>\
            <ASSET_GROUP_TITLE_LIST><ASSET_GROUP_TITLE>Finance</ASSET_GROUP_TITLE><ASSET_GROUP_TITLE>Branch</ASSET_GROUP_TITLE></ASSET_GROUP_TITLE_LIST>\
            <EXCLUDE_IP_PER_SCAN>10.0.0.9</EXCLUDE_IP_PER_SCAN><NETWORK_ID>1104</NETWORK_ID>\
            <PROCESSING_PRIORITY>3 - Critical</PROCESSING_PRIORITY>\
            <NOTIFICATIONS><BEFORE_LAUNCH><UNIT>HOURS</UNIT><TIME>2</TIME><MESSAGE>Starting</MESSAGE></BEFORE_LAUNCH>\
            <AFTER_COMPLETE><MESSAGE>Done</MESSAGE></AFTER_COMPLETE>\
            <DISTRIBUTION_GROUPS><DISTRIBUTION_GROUP><ID>41</ID><NAME>SecOps</NAME></DISTRIBUTION_GROUP></DISTRIBUTION_GROUPS></NOTIFICATIONS>";
        let scan = scan("9001", "Nightly & weekly", "1", "2026-04-01T01:30:00Z", fields);
        let scan = with_recurrence(scan, r#"<WEEKLY frequency_weeks="1" weekdays="1,5"/>"#)
            .replace("</SCHEDULE>", "<MAX_OCCURRENCE>12</MAX_OCCURRENCE><PAUSE_AFTER_HOURS>4</PAUSE_AFTER_HOURS><RESUME_IN_DAYS>manually</RESUME_IN_DAYS></SCHEDULE>");
        let out = run(&[("schedules_vm.xml", &list(Module::Vm, &scan))]).expect("plans");
        let [draft] = out.requests.as_slice() else { panic!("one request: {:?}", out.requests) };
        assert_eq!(draft.id, "vm-scan-schedule/Nightly & weekly");
        assert_eq!(draft.path, VM_PATH);
        let expected: Vec<(String, String)> = [
            ("action", "create"),
            ("scan_title", "Nightly & weekly"),
            ("active", "0"),
            ("option_id", "{{capture:option-profile/Weekly VM#id}}"),
            ("priority", "3"),
            ("asset_group_ids", "{{capture:asset-group/Finance#id}},{{capture:asset-group/Branch#id}}"),
            ("exclude_ip_per_scan", "10.0.0.9"),
            ("ip_network_id", "2204"),
            ("iscanner_id", "6601,6602"),
            ("occurrence", "weekly"),
            ("frequency_weeks", "1"),
            ("weekdays", "monday,friday"),
            ("start_date", "04/01/2026"),
            ("start_hour", "2"),
            ("start_minute", "30"),
            ("time_zone_code", "FR"),
            ("observe_dst", "yes"),
            ("recurrence", "12"),
            ("pause_after_hours", "4"),
            ("resume_in_days", "Manually"),
            ("before_notify", "1"),
            ("before_notify_unit", "hours"),
            ("before_notify_time", "2"),
            ("before_notify_message", "Starting"),
            ("after_notify", "1"),
            ("after_notify_message", "Done"),
            ("recipient_group_ids", "9041"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(params(draft), expected);
        assert!(draft.summary.contains("switched on at the cutover"), "{}", draft.summary);
        let probe = draft.probe.as_ref().expect("probed by title");
        assert_eq!(probe.path, VM_PATH);
        assert_eq!(out.losses.len(), 1, "only the owner is lost: {:?}", out.losses);
        assert!(out.manual_steps.is_empty(), "{:?}", out.manual_steps);
    }

    #[test]
    fn the_default_network_and_the_external_scanner_are_no_parameters_on_vm() {
        let fields = "<TARGET>10.0.0.1-10.0.0.5</TARGET><ISCANNER_NAME>External Scanner</ISCANNER_NAME><NETWORK_ID>0</NETWORK_ID>";
        let scan = with_recurrence(
            scan("9002", "Perimeter", "0", "2026-04-01T01:30:00Z", fields),
            r#"<DAILY frequency_days="1"/>"#,
        );
        let out = run(&[("vm.xml", &list(Module::Vm, &scan))]).expect("the default network is no reference");
        let draft = &out.requests[0];
        assert_eq!(param(draft, "ip").as_deref(), Some("10.0.0.1-10.0.0.5"));
        assert_eq!(param(draft, "ip_network_id"), None);
        for scanner in ["iscanner_id", "iscanner_name", "scanners_in_ag", "default_scanner"] {
            assert_eq!(param(draft, scanner), None, "{scanner}");
        }
        assert_eq!(param(draft, "frequency_days").as_deref(), Some("1"));
        assert!(draft.summary.contains("inactive in the source"), "{}", draft.summary);
    }

    #[test]
    fn pc_schedules_use_their_module_s_scanner_labels_profiles_and_path() {
        let all_in_group = "<ISCANNER_NAME>All Scanners in Asset Group</ISCANNER_NAME>\
            <ASSET_GROUP_TITLE_LIST><ASSET_GROUP_TITLE>Finance</ASSET_GROUP_TITLE></ASSET_GROUP_TITLE_LIST>";
        let last_friday = r#"<MONTHLY frequency_months="1" day_of_week="5" week_of_month="5"/>"#;
        let external = "<TARGET>10.0.0.1</TARGET><ISCANNER_NAME>External Scanner</ISCANNER_NAME><PROCESSING_PRIORITY>3 - Critical</PROCESSING_PRIORITY>";
        let scans = with_recurrence(scan("7001", "Baseline", "1", "2026-04-01T01:30:00Z", all_in_group), last_friday)
            + &with_recurrence(
                scan("7002", "Outside", "0", "2026-04-01T01:30:00Z", external),
                r#"<MONTHLY frequency_months="3" day_of_month="15"/>"#,
            );
        let out = run(&[("pc.xml", &list(Module::Pc, &scans))]).expect("plans");
        let [baseline, outside] = out.requests.as_slice() else { panic!("two requests") };
        assert_eq!(baseline.id, "pc-scan-schedule/Baseline");
        assert_eq!(baseline.path, PC_PATH);
        assert_eq!(param(baseline, "option_id").as_deref(), Some("{{capture:option-profile/Weekly VM#id}}"));
        assert_eq!(param(baseline, "scanners_in_ag").as_deref(), Some("1"));
        assert_eq!(param(baseline, "day_of_week").as_deref(), Some("5"));
        assert_eq!(param(baseline, "week_of_month").as_deref(), Some("last"));
        assert_eq!(param(outside, "iscanner_id").as_deref(), Some("0"));
        assert_eq!(param(outside, "day_of_month").as_deref(), Some("15"));
        assert_eq!(param(outside, "frequency_months").as_deref(), Some("3"));
        assert_eq!(param(outside, "priority"), None, "PC schedules have no priority");
    }

    #[test]
    fn a_start_date_before_the_capture_moves_to_the_capture_s_day_in_the_schedule_s_zone() {
        let daily = r#"<DAILY frequency_days="2"/>"#;
        let fields = "<TARGET>10.0.0.1</TARGET>";
        // 01:30 UTC is 02:30 local: the local date is the UTC one. The capture (08:00 UTC on
        // 03/10) is 09:00 local on 03/10.
        let past = with_recurrence(scan("1", "Past", "1", "2025-06-01T01:30:00Z", fields), daily);
        // 23:30 UTC on 03/31 is 00:30 local on 04/01 in a zone an hour ahead.
        let late = with_recurrence(scan("2", "Late", "1", "2026-03-31T23:30:00Z", fields), daily)
            .replace("<START_HOUR>2</START_HOUR>", "<START_HOUR>0</START_HOUR>");
        // 18:30 local for 23:30 UTC: five hours behind, the same date.
        let west = with_recurrence(scan("3", "West", "1", "2026-03-31T23:30:00Z", fields), daily)
            .replace("<START_HOUR>2</START_HOUR>", "<START_HOUR>18</START_HOUR>");
        let out = run(&[("vm.xml", &list(Module::Vm, &(past + &late + &west)))]).expect("plans");
        let dates: Vec<Option<String>> = out.requests.iter().map(|d| param(d, "start_date")).collect();
        assert_eq!(dates, [Some("03/10/2026".into()), Some("04/01/2026".into()), Some("03/31/2026".into())]);
        let [warning] = out.warnings.as_slice() else { panic!("one warning: {:?}", out.warnings) };
        assert!(
            warning.message.contains("06/01/2025") && warning.message.contains("03/10/2026"),
            "{}",
            warning.message
        );
    }

    #[test]
    fn start_not_before_moves_start_dates_to_the_planned_day() {
        let scan = with_recurrence(
            scan("1", "Soon", "1", "2026-04-01T01:30:00Z", "<TARGET>10.0.0.1</TARGET>"),
            r#"<DAILY frequency_days="1"/>"#,
        );
        let out = Fixture::new(&[("op.xml", PROFILES), ("vm.xml", &list(Module::Vm, &scan))])
            .options(|o| o.start_not_before = Date::parse_iso("2026-05-04"))
            .try_plan_after(&[option_profiles::plan], plan)
            .expect("plans");
        assert_eq!(param(&out.requests[0], "start_date").as_deref(), Some("05/04/2026"));
    }

    #[test]
    fn an_unmapped_distribution_group_is_dropped_listed_as_lost_and_named_in_the_checklist() {
        let fields = "<TARGET>10.0.0.1</TARGET><NOTIFICATIONS><AFTER_COMPLETE><MESSAGE>Done</MESSAGE></AFTER_COMPLETE>\
            <DISTRIBUTION_GROUPS><DISTRIBUTION_GROUP><ID>77</ID><NAME>Auditors</NAME></DISTRIBUTION_GROUP></DISTRIBUTION_GROUPS>\
            <LAUNCH_SKIP/></NOTIFICATIONS>";
        let scan =
            with_recurrence(scan("1", "Audit", "0", "2026-04-01T01:30:00Z", fields), r#"<DAILY frequency_days="1"/>"#);
        let out = run(&[("vm.xml", &list(Module::Vm, &scan))]).expect("plans");
        assert_eq!(param(&out.requests[0], "recipient_group_ids"), None);
        assert_eq!(param(&out.requests[0], "after_notify").as_deref(), Some("1"));
        let lost: Vec<&str> = out.losses.iter().flat_map(|l| l.fields.iter().map(String::as_str)).collect();
        assert!(lost.contains(&"distribution group \"Auditors\" (77)"), "{lost:?}");
        assert!(lost.contains(&"NOTIFICATIONS/LAUNCH_SKIP"), "{lost:?}");
        let [step] = out.manual_steps.as_slice() else { panic!("one step: {:?}", out.manual_steps) };
        assert_eq!(step.id, "schedule-recipients");
        assert_eq!(step.items, ["VM scan schedule \"Audit\": distribution group \"Auditors\" (77)"]);
    }

    #[test]
    fn tag_targets_are_sent_by_new_tag_id_with_their_selectors() {
        let fields = "<ASSET_TAGS><TAG_INCLUDE_SELECTOR>ALL</TAG_INCLUDE_SELECTOR><TAG_SET_INCLUDE>PCI</TAG_SET_INCLUDE>\
            <TAG_EXCLUDE_SELECTOR>ANY</TAG_EXCLUDE_SELECTOR><TAG_SET_EXCLUDE>Retired</TAG_SET_EXCLUDE></ASSET_TAGS>\
            <ISCANNER_NAME>All Scanners in TagSet</ISCANNER_NAME>";
        let scan =
            with_recurrence(scan("1", "PCI", "1", "2026-04-01T01:30:00Z", fields), r#"<DAILY frequency_days="7"/>"#);
        let out = run(&[("vm.xml", &list(Module::Vm, &scan))]).expect("plans");
        let draft = &out.requests[0];
        assert_eq!(param(draft, "target_from").as_deref(), Some("tags"));
        assert_eq!(param(draft, "tag_set_by").as_deref(), Some("id"));
        assert!(param(draft, "tag_set_include").is_some_and(|v| v.contains("PCI")), "{:?}", params(draft));
        assert!(param(draft, "tag_set_exclude").is_some_and(|v| v.contains("Retired")), "{:?}", params(draft));
        assert_eq!(param(draft, "tag_include_selector").as_deref(), Some("all"));
        assert_eq!(param(draft, "scanners_in_tagset").as_deref(), Some("1"));
        assert_eq!(param(draft, "asset_group_ids"), None);
    }

    #[test]
    fn cloud_schedules_are_manual_steps_named_one_by_one() {
        let fields =
            "<TARGET>10.0.0.1</TARGET><CLOUD_DETAILS><CONNECTOR><NAME>AWS prod</NAME></CONNECTOR></CLOUD_DETAILS>";
        let scan = with_recurrence(
            scan("1", "EC2 weekly", "1", "2026-04-01T01:30:00Z", fields),
            r#"<DAILY frequency_days="7"/>"#,
        );
        let out = run(&[("vm.xml", &list(Module::Vm, &scan))]).expect("plans");
        assert!(out.requests.is_empty());
        assert_eq!(out.skipped.len(), 1);
        let [step] = out.manual_steps.as_slice() else { panic!("one step") };
        assert_eq!(step.items, ["VM scan schedule \"EC2 weekly\" (scans through cloud connector \"AWS prod\")"]);
    }

    /// `START_DATE_UTC`'s format is not documented: another form stops the run naming the
    /// schedule and its line, never a guessed date.
    #[test]
    fn an_unreadable_start_or_priority_is_refused_with_the_schedule_named() {
        let daily = r#"<DAILY frequency_days="1"/>"#;
        let fields = "<TARGET>10.0.0.1</TARGET>";
        let us_date = with_recurrence(scan("1", "Odd date", "1", "04/01/2026 01:30", fields), daily);
        let error = run(&[("vm.xml", &list(Module::Vm, &us_date))]).expect_err("refused");
        let message = error.to_string();
        assert!(message.contains("VM scan schedule \"Odd date\"") && message.contains("START_DATE_UTC"), "{message}");
        let priority = with_recurrence(
            scan("2", "Odd priority", "1", "2026-04-01T01:30:00Z", "<PROCESSING_PRIORITY>Urgent</PROCESSING_PRIORITY>"),
            daily,
        );
        let error = run(&[("vm.xml", &list(Module::Vm, &priority))]).expect_err("refused");
        assert!(error.to_string().contains("PROCESSING_PRIORITY \"Urgent\""), "{error}");
    }

    #[test]
    fn a_list_that_does_not_echo_its_request_is_refused() {
        let scan = with_recurrence(
            scan("1", "A", "1", "2026-04-01T01:30:00Z", "<TARGET>10.0.0.1</TARGET>"),
            r#"<DAILY frequency_days="7"/>"#,
        );
        let bare =
            list(Module::Vm, &scan).replace(&format!("<RESOURCE>https://qualysapi.qualys.eu{VM_PATH}</RESOURCE>"), "");
        let error = run(&[("schedules.xml", &bare)]).expect_err("refused");
        assert!(
            matches!(&error, TransformError::ScheduleListUndetermined { file } if file == "schedules.xml"),
            "{error}"
        );
    }
}
