//! Core task: IPs.
//!
//! Source: `IP_LIST_OUTPUT` (`/api/2.0/fo/asset/ip/?action=list`), one list per module and
//! tracking method. A list does not say what it was listed for, so the module and tracking
//! method come from the echoed request (`echo_request=1`: `tracking_method`, and
//! `compliance_enabled` 0 for the VM list, 1 for the PC list), else from the file name
//! (`ip_list_<vm|pc>_<ip|dns|netbios>.xml`), else the run stops and says how to fix it.
//!
//! Rules:
//! - Per tracking method, an address in both the VM and the PC list is added once with both
//!   modules enabled; the others with their one module.
//! - Consecutive addresses are merged into ranges, duplicates dropped.
//! - Every call is a POST form body (never a long URL), packed with as many entries as
//!   `--ips-per-request` allows.
//! - Adding an address that exists changes nothing, so the calls may be repeated safely.
//! - An address listed under two tracking methods is a contradiction in the export: stop.
//! - EC2 and agent tracked hosts cannot be added through the API: reported as skipped.

use std::collections::BTreeMap;

use qmig_schemas::Effect;

use crate::context::Context;
use crate::error::TransformError;
use crate::export::{ExportFile, Kind, Record};
use crate::plan::{Draft, Refs, TaskOutput, object_id};
use crate::ranges::{IpEntry, IpSet, parse_entry};

pub const TASK: &str = "IPs";
pub(crate) const PATH: &str = "/api/2.0/fo/asset/ip/";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Module {
    Vm,
    Pc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tracking {
    Ip,
    Dns,
    Netbios,
}

impl Tracking {
    const ALL: [Tracking; 3] = [Tracking::Ip, Tracking::Dns, Tracking::Netbios];

    pub fn api(self) -> &'static str {
        match self {
            Tracking::Ip => "IP",
            Tracking::Dns => "DNS",
            Tracking::Netbios => "NETBIOS",
        }
    }
}

/// What an IP list file was listed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListScope {
    pub module: Module,
    pub tracking: Tracking,
}

/// Tracking methods the list call knows but the add call cannot set.
const NOT_ADDABLE: &[&str] = &["EC2", "AGENT", "AZURE", "GCP"];

enum Scope {
    Known(ListScope, Option<String>),
    NotAddable(String),
}

/// Reads the module and tracking method of an IP list: echoed request first, file name second.
fn scope_of(file: &ExportFile) -> Result<Scope, TransformError> {
    let echoed = |key: &str| file.echoed(key).map(str::to_ascii_uppercase);
    let tracking_echo = echoed("tracking_method");
    if let Some(method) = tracking_echo.as_deref().filter(|m| NOT_ADDABLE.contains(m)) {
        return Ok(Scope::NotAddable(method.to_owned()));
    }
    let module_echo = echoed("compliance_enabled").and_then(|v| match v.as_str() {
        "1" => Some(Module::Pc),
        "0" => Some(Module::Vm),
        _ => None,
    });
    let tracking_echo = tracking_echo.and_then(|m| Tracking::ALL.into_iter().find(|t| t.api() == m));
    let stem = file.stem().to_ascii_lowercase();
    let tokens: Vec<&str> = stem.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    // The convention is `ip_list_<module>_<tracking>`: the last token naming each one counts, so
    // the `ip` of the prefix is not read as a tracking method.
    let module_name = tokens.iter().rev().find_map(|t| match *t {
        "vm" => Some(Module::Vm),
        "pc" => Some(Module::Pc),
        _ => None,
    });
    let tracking_name =
        tokens.iter().rev().find_map(|t| Tracking::ALL.into_iter().find(|m| m.api().eq_ignore_ascii_case(t)));
    let (Some(module), Some(tracking)) = (module_echo.or(module_name), tracking_echo.or(tracking_name)) else {
        return Err(TransformError::IpListUndetermined { file: file.path.clone() });
    };
    let disagrees = module_echo.zip(module_name).is_some_and(|(a, b)| a != b)
        || tracking_echo.zip(tracking_name).is_some_and(|(a, b)| a != b);
    let note = disagrees
        .then(|| format!("{}: the file name and the echoed request disagree; the echoed request is used", file.path));
    Ok(Scope::Known(ListScope { module, tracking }, note))
}

/// The module and tracking method of an IP list; `None` for tracking methods the add call
/// cannot set (those hosts come back through their connector or agents).
pub fn list_scope(file: &ExportFile) -> Result<Option<ListScope>, TransformError> {
    Ok(match scope_of(file)? {
        Scope::Known(scope, _) => Some(scope),
        Scope::NotAddable(_) => None,
    })
}

/// The addresses of every list, by tracking method and module, with where each entry was read.
#[derive(Default)]
struct Lists<'a> {
    sets: BTreeMap<(Tracking, Module), IpSet>,
    entries: BTreeMap<Tracking, Vec<(IpEntry, Record<'a>)>>,
}

impl Lists<'_> {
    fn set(&self, tracking: Tracking, module: Module) -> IpSet {
        self.sets.get(&(tracking, module)).cloned().unwrap_or_default()
    }
}

pub fn plan(ctx: &Context<'_>, _refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let mut lists = Lists::default();
    for file in ctx.export.files(Kind::IpList) {
        let count = file.document.records.len() as u64;
        out.source_objects += count;
        let scope = match scope_of(file)? {
            Scope::NotAddable(method) => {
                let source = file.head().source(None, None);
                out.skip(
                    format!("{count} {method}-tracked IP entries"),
                    format!("{method}-tracked hosts cannot be added through the API; they reappear when their connector or agents report to the target"),
                    Some(source),
                );
                continue;
            }
            Scope::Known(scope, note) => {
                if let Some(note) = note {
                    out.warn(note, None);
                }
                scope
            }
        };
        let mut entries = Vec::with_capacity(file.document.records.len());
        for record in file.records() {
            let element = record.element;
            let entry = parse_entry(element.value()).map_err(|problem| record.invalid(&element.name, problem))?;
            entries.push((entry, record));
        }
        let set = IpSet::from_entries(&entries.iter().map(|(e, _)| *e).collect::<Vec<_>>());
        let slot = lists.sets.entry((scope.tracking, scope.module)).or_default();
        *slot = slot.union(&set);
        lists.entries.entry(scope.tracking).or_default().extend(entries);
    }
    check_single_tracking(&lists)?;
    for tracking in Tracking::ALL {
        let (vm, pc) = (lists.set(tracking, Module::Vm), lists.set(tracking, Module::Pc));
        let groups = [
            (vm.intersection(&pc), true, true, "VM and PC"),
            (vm.difference(&pc), true, false, "VM"),
            (pc.difference(&vm), false, true, "PC"),
        ];
        let listed = lists.entries.get(&tracking).map(Vec::as_slice).unwrap_or_default();
        for (set, enable_vm, enable_pc, modules) in groups {
            add_requests(
                &mut out,
                ctx.options.ips_per_request,
                tracking,
                &set,
                (enable_vm, enable_pc),
                modules,
                listed,
            );
        }
    }
    Ok(out)
}

fn add_requests(
    out: &mut TaskOutput,
    per_request: usize,
    tracking: Tracking,
    set: &IpSet,
    (enable_vm, enable_pc): (bool, bool),
    modules: &str,
    listed: &[(IpEntry, Record<'_>)],
) {
    let entries = set.entries();
    let chunks: Vec<&[IpEntry]> = entries.chunks(per_request.max(1)).collect();
    let sources = first_listed(&chunks, listed);
    let parts = chunks.len();
    for (index, (chunk, source)) in chunks.into_iter().zip(sources).enumerate() {
        let name = match parts {
            1 => format!("{} tracked, {modules}", tracking.api()),
            _ => format!("{} tracked, {modules} ({} of {parts})", tracking.api(), index + 1),
        };
        let addresses: u128 = chunk.iter().map(IpEntry::address_count).sum();
        let ips: Vec<String> = chunk.iter().map(IpEntry::render).collect();
        let summary = format!(
            "Add {addresses} {}-tracked address(es) in {} entr{} to {modules}",
            tracking.api(),
            chunk.len(),
            if chunk.len() == 1 { "y" } else { "ies" }
        );
        let flag = |on: bool| if on { "1" } else { "0" };
        let mut draft = Draft::post(TASK, object_id("ips", &name), Effect::Idempotent, PATH, summary)
            .param("action", "add")
            .param("ips", ips.join(","))
            .param("tracking_method", tracking.api())
            .param("enable_vm", flag(enable_vm))
            .param("enable_pc", flag(enable_pc));
        if let Some(record) = source {
            draft = draft.source(record.source(None, None));
        }
        out.request(draft);
    }
}

/// A request merges many entries: it names the first entry listed (in file order) that
/// overlaps one of its ranges. The chunks' ranges are sorted and disjoint, so each listed entry
/// finds the ranges it overlaps by binary search.
fn first_listed<'a>(chunks: &[&[IpEntry]], listed: &'a [(IpEntry, Record<'a>)]) -> Vec<Option<&'a Record<'a>>> {
    let ranges: Vec<(IpEntry, usize)> =
        chunks.iter().enumerate().flat_map(|(index, chunk)| chunk.iter().map(move |range| (*range, index))).collect();
    let mut found: Vec<Option<&Record<'a>>> = vec![None; chunks.len()];
    let mut missing = chunks.len();
    for (entry, record) in listed {
        if missing == 0 {
            break;
        }
        let first = ranges.partition_point(|(range, _)| range.before(entry));
        for (_, chunk) in ranges[first..].iter().take_while(|(range, _)| !entry.before(range)) {
            if found[*chunk].is_none() {
                found[*chunk] = Some(record);
                missing -= 1;
            }
        }
    }
    found
}

/// A host is tracked one way; an address under two tracking methods cannot be added twice.
fn check_single_tracking(lists: &Lists<'_>) -> Result<(), TransformError> {
    let listed = Tracking::ALL.map(|tracking| lists.set(tracking, Module::Vm).union(&lists.set(tracking, Module::Pc)));
    for (i, first) in Tracking::ALL.into_iter().enumerate() {
        for (j, second) in Tracking::ALL.into_iter().enumerate().skip(i + 1) {
            let Some(&overlap) = listed[i].intersection(&listed[j]).entries().first() else { continue };
            let address = match overlap {
                IpEntry::V4(a, _) => IpEntry::V4(a, a),
                IpEntry::V6(a, _) => IpEntry::V6(a, a),
            };
            let where_listed = |tracking: Tracking| {
                let entries = lists.entries.get(&tracking)?;
                let (_, record) =
                    entries.iter().find(|(entry, _)| !entry.before(&address) && !address.before(entry))?;
                Some(record.source(None, None))
            };
            if let (Some(first_at), Some(second_at)) = (where_listed(first), where_listed(second)) {
                return Err(TransformError::ConflictingDuplicate {
                    kind: format!("IP address (listed as {}- and {}-tracked)", first.api(), second.api()),
                    key: address.render(),
                    first: first_at,
                    second: second_at,
                });
            }
        }
    }
    Ok(())
}
