//! `qmig-transform reconcile`: does the target now hold what the source held? Both exports are
//! read with the export reader; each kind of object is then seen through the migration's own
//! mappings ([`kinds`]): objects are matched by the name the migration keeps (a title, a tag's
//! path, a person for a user whose login changes), references are compared through the names
//! they point to on each side, and fields the target sets itself are left out. What is
//! missing or different is then looked up in the bundle's review (skipped objects, losses,
//! manual steps): documented there, it is a documented loss, not a failure.

mod kinds;
mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use qmig_schemas::Manifest;
use serde::Serialize;

use crate::cli::ReconcileArgs;
use crate::error::TransformError;
use crate::export::Export;
use crate::inputs::Inputs;

pub use kinds::TABLES;
pub use render::markdown;

/// What an object of the source became in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In the target with every compared field equal.
    Matched,
    /// Missing or different, as the bundle's review says it would be.
    Documented,
    /// In the target, but some field differs and the review does not say why.
    Different,
    /// Not in the target, and the review does not say why.
    Missing,
    /// Only in the target, and not one of the objects every subscription has: informative,
    /// since the target may hold objects of its own.
    Extra,
}

/// One field whose values differ, each side's references already turned into names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub field: String,
    pub source: Option<String>,
    pub target: Option<String>,
    /// The review's explanation, when it documents the difference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documented: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectReport {
    pub name: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Difference>,
    /// Why a missing object is documented (the review's skip reason or manual step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documented: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindReport {
    pub kind: &'static str,
    pub objects: Vec<ObjectReport>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Objects of the source compared.
    pub source_objects: usize,
    pub matched: usize,
    pub documented: usize,
    pub different: usize,
    pub missing: usize,
    pub extra: usize,
}

impl Totals {
    fn count(&mut self, status: Status) {
        match status {
            Status::Matched => self.matched += 1,
            Status::Documented => self.documented += 1,
            Status::Different => self.different += 1,
            Status::Missing => self.missing += 1,
            Status::Extra => self.extra += 1,
        }
        if status != Status::Extra {
            self.source_objects += 1;
        }
    }

    /// Share of the source's objects that are matched or documented, rounded down, so that a
    /// single difference never shows as 100%.
    pub fn percent(&self) -> usize {
        if self.source_objects == 0 {
            return 100;
        }
        (self.matched + self.documented) * 100 / self.source_objects
    }

    /// Nothing missing or different beyond what the review documents.
    pub fn reconciled(&self) -> bool {
        self.different == 0 && self.missing == 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub source: String,
    pub target: String,
    /// The bundle whose review explained differences, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    pub totals: Totals,
    pub percent: usize,
    pub kinds: Vec<KindReport>,
}

/// An object as one side holds it: the name a report shows, and its compared fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object {
    pub name: String,
    pub fields: BTreeMap<String, String>,
    /// One of the objects every subscription has (the All asset group, the platform's tags,
    /// stock report templates): never "extra" when only the target holds it.
    pub default: bool,
}

/// The objects of one kind on one side, by the identity they are matched on.
pub type Objects = BTreeMap<String, Object>;

/// Compares the source's export with the target's, explaining what the bundle's review
/// documents when `review` is given.
pub fn reconcile(
    source: &Export,
    target: &Export,
    inputs: Option<&Inputs>,
    review: Option<&Manifest>,
) -> Result<Report, TransformError> {
    let source_names = kinds::Names::of(source, kinds::Side::Source, inputs);
    let target_names = kinds::Names::of(target, kinds::Side::Target, None);
    let mut kinds = Vec::new();
    let mut totals = Totals::default();
    for table in TABLES {
        let from = (table.read)(source, &source_names, kinds::Side::Source)?;
        let to = (table.read)(target, &target_names, kinds::Side::Target)?;
        let documents = Documents::of(review, table.task);
        let objects = compare(&from, &to, &documents);
        objects.iter().for_each(|o| totals.count(o.status));
        if !objects.is_empty() {
            kinds.push(KindReport { kind: table.kind, objects });
        }
    }
    Ok(Report {
        source: source.root.display().to_string(),
        target: target.root.display().to_string(),
        bundle: None,
        percent: totals.percent(),
        totals,
        kinds,
    })
}

fn compare(from: &Objects, to: &Objects, documents: &Documents<'_>) -> Vec<ObjectReport> {
    let mut reports = Vec::new();
    for (identity, source) in from {
        let report = match to.get(identity) {
            None => match documents.object(&source.name) {
                Some(why) => ObjectReport {
                    name: source.name.clone(),
                    status: Status::Documented,
                    differences: Vec::new(),
                    documented: Some(why),
                },
                None => ObjectReport {
                    name: source.name.clone(),
                    status: Status::Missing,
                    differences: Vec::new(),
                    documented: None,
                },
            },
            Some(target) => {
                let differences = differences(source, target, documents);
                let status = if differences.is_empty() {
                    Status::Matched
                } else if differences.iter().all(|d| d.documented.is_some()) {
                    Status::Documented
                } else {
                    Status::Different
                };
                ObjectReport { name: source.name.clone(), status, differences, documented: None }
            }
        };
        reports.push(report);
    }
    let extra = to.iter().filter(|(identity, object)| !from.contains_key(*identity) && !object.default);
    reports.extend(extra.map(|(_, object)| ObjectReport {
        name: object.name.clone(),
        status: Status::Extra,
        differences: Vec::new(),
        documented: None,
    }));
    reports
}

fn differences(source: &Object, target: &Object, documents: &Documents<'_>) -> Vec<Difference> {
    let fields: BTreeSet<&String> = source.fields.keys().chain(target.fields.keys()).collect();
    fields
        .into_iter()
        .filter_map(|field| {
            let (from, to) = (source.fields.get(field), target.fields.get(field));
            (from != to).then(|| Difference {
                field: field.clone(),
                source: from.cloned(),
                target: to.cloned(),
                documented: documents.field(&source.name, field),
            })
        })
        .collect()
}

/// What the bundle's review says about one task's objects.
struct Documents<'a> {
    /// (object, reason) of every skipped object: left as it was, or not created.
    skipped: Vec<(&'a str, &'a str)>,
    /// (item, title) of every manual step's items: done by hand, if at all.
    steps: Vec<(&'a str, &'a str)>,
    /// (object, lost fields, reason) of every loss.
    losses: Vec<(&'a str, &'a [String], &'a str)>,
    /// Warnings, which name the object and what was changed on the way (a start date moved).
    warnings: Vec<&'a str>,
}

impl<'a> Documents<'a> {
    fn of(review: Option<&'a Manifest>, task: &str) -> Documents<'a> {
        let Some(manifest) = review else {
            return Documents { skipped: Vec::new(), steps: Vec::new(), losses: Vec::new(), warnings: Vec::new() };
        };
        let skipped = manifest.skipped.iter().filter(|s| s.task == task);
        let steps = manifest.manual_steps.iter();
        let losses = manifest.losses.iter().filter(|l| l.task == task);
        Documents {
            skipped: skipped.map(|s| (s.object.as_str(), s.reason.as_str())).collect(),
            steps: steps
                .flat_map(|step| step.items.iter().map(move |item| (item.as_str(), step.title.as_str())))
                .collect(),
            losses: losses.map(|l| (l.object.as_str(), l.fields.as_slice(), l.reason.as_str())).collect(),
            warnings: manifest.warnings.iter().filter(|w| w.task == task).map(|w| w.message.as_str()).collect(),
        }
    }

    /// The review's reason for an object's absence: skipped, or a manual step.
    fn object(&self, name: &str) -> Option<String> {
        let skipped = self.skipped.iter().find(|(object, _)| names(object, name)).map(|(_, why)| (*why).to_owned());
        skipped.or_else(|| {
            let step = self.steps.iter().find(|(item, _)| names(item, name));
            step.map(|(_, title)| format!("manual step: {title}"))
        })
    }

    /// The review's reason for a field's difference: the field is among the object's losses,
    /// a warning about the object names it, or the object was skipped (it was already in the
    /// target, and left as it was there).
    fn field(&self, name: &str, field: &str) -> Option<String> {
        let lost = self.losses.iter().filter(|(object, ..)| names(object, name) || object.starts_with("every "));
        let mut lost = lost.filter(|(_, fields, _)| fields.iter().any(|lost| same_field(lost, field)));
        if let Some((_, _, why)) = lost.next() {
            return Some(format!("lost: {why}"));
        }
        let warned = self.warnings.iter().find(|message| names(message, name) && mentions(message, field));
        if let Some(message) = warned {
            return Some(format!("warning: {message}"));
        }
        self.skipped.iter().find(|(object, _)| names(object, name)).map(|(_, why)| format!("skipped: {why}"))
    }
}

/// Whether the review's description of an object (`asset group "All"`, `user nwind_um (Seán
/// O'Brien)`, `VM scan schedule "X"`) names the object `name`.
fn names(object: &str, name: &str) -> bool {
    object.contains(&format!("\"{name}\""))
        || object.contains(&format!(" {name} ("))
        || object.ends_with(&format!(" {name}"))
        || object == name
        || object.starts_with(&format!("{name} ("))
}

/// Whether a lost field as the review names it (`OWNER_USER_ID`, `USER_STATUS (Inactive: ...)`,
/// `password brute forcing lists`) is the compared field `field` (a path of the export): the
/// same element, or every word of its description in the path (plurals as singulars).
fn same_field(lost: &str, field: &str) -> bool {
    let head = lost.split([' ', '(']).next().unwrap_or(lost);
    let element = |path: &str| path == head || path.ends_with(&format!("/{head}"));
    // A lost element (`PERMISSIONS`) covers the fields below it (`PERMISSIONS/ADD_ASSETS`).
    if element(field) || field.rsplit_once('/').is_some_and(|(parent, _)| element(parent)) {
        return true;
    }
    let described = lost.split(['(', '"']).next().unwrap_or(lost);
    let words: Vec<String> =
        described.split_whitespace().map(|w| w.to_ascii_uppercase().trim_end_matches('S').to_owned()).collect();
    let path = field.to_ascii_uppercase();
    words.len() > 1 && words.iter().all(|w| w.len() > 2 && path.contains(w.as_str()))
}

/// Whether a warning's message speaks of the field (`SCHEDULE/START_DATE_UTC`: "start date").
fn mentions(message: &str, field: &str) -> bool {
    let element = field.rsplit('/').next().unwrap_or(field).to_ascii_lowercase();
    let words: Vec<&str> = element.split('_').filter(|w| w.len() > 2 && *w != "utc").collect();
    let message = message.to_lowercase();
    !words.is_empty() && message.contains(&words.join(" "))
}

/// Reads both exports, the mapping tables and the bundle's manifest (when given), and compares them.
pub fn run(args: &ReconcileArgs) -> Result<Report, TransformError> {
    let bundle = args.bundle.as_deref();
    let manifest = bundle.map(read_manifest).transpose()?;
    let inputs = args.inputs.as_deref().map(|dir| Inputs::load(Some(dir))).transpose()?;
    let source_export = Export::load(&args.source_export, false)?;
    let target_export = Export::load(&args.target_export, false)?;
    let mut report = reconcile(&source_export, &target_export, inputs.as_ref(), manifest.as_ref())?;
    report.bundle = bundle.map(|b| b.display().to_string());
    Ok(report)
}

/// A bundle's manifest, its files checked against SHA256SUMS first: a review that was edited
/// after it was written would explain away differences nobody approved.
pub fn read_manifest(bundle: &Path) -> Result<Manifest, TransformError> {
    let verified = qmig_schemas::verify_bundle(bundle)
        .map_err(|source| TransformError::Bundle { path: bundle.to_path_buf(), source })?;
    Ok(verified.manifest)
}
