//! Turning the tasks' outputs into a bundle: requests numbered in order, bodies written to files
//! named after the request's stable id, the manifest, the review and the per-request table.

use std::collections::BTreeMap;

use qmig_schemas::{
    BODIES_DIR, Body, BundleContents, FORMAT_VERSION, Generator, Manifest, ManualStep, Prerequisite, PrerequisiteKind,
    Probe, Request, Secrets, SourceFile, SourceRef, TaskSummary, Unrecognised, Value, sha256_hex,
};

use crate::checklist;
use crate::error::TransformError;
use crate::plan::{Draft, DraftBody, RefKind, TaskOutput};
use crate::review::{self, Rate};
use crate::tasks;

/// What a bundle is for: its review says so, and the manual steps every review of that kind
/// holds follow from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// Re-creating the source subscription's configuration in the target.
    Migration,
    /// Deleting what the run of the bundle of this digest created (`qmig-transform undo`).
    Undo { digest: String },
}

impl Purpose {
    /// The review's opening sentence, for a bundle of `requests` requests.
    pub fn description(&self, requests: usize) -> String {
        match self {
            Purpose::Migration => format!(
                "This bundle holds the {requests} requests that re-create the source subscription's configuration \
                 in the target subscription."
            ),
            Purpose::Undo { digest } => format!(
                "This bundle holds the {requests} requests that delete from the target subscription what the run of \
                 bundle {digest} created, children before parents, so that the rehearsal can start again. What the run \
                 changed but did not create is listed as not undone."
            ),
        }
    }

    fn checklist(&self) -> Vec<ManualStep> {
        match self {
            Purpose::Migration => checklist::general_steps(),
            Purpose::Undo { .. } => Vec::new(),
        }
    }
}

/// Everything the manifest records besides the tasks' outputs.
pub struct Provenance {
    pub purpose: Purpose,
    /// The target the bundle is reviewed for, canonical (`--target`).
    pub target: Option<String>,
    pub sources: Vec<SourceFile>,
    pub inputs: Vec<SourceFile>,
    pub unrecognised: Vec<Unrecognised>,
    pub warnings: Vec<qmig_schemas::Warning>,
    /// The credentials file as the bundle carries it, when requests refer to its rows.
    pub secrets: Option<(Secrets, Vec<u8>)>,
}

/// The bundle of the tasks' outputs; `rate` is a rate limit the review estimates the run's
/// duration at, besides the Standard one.
pub fn assemble(
    outputs: Vec<TaskOutput>,
    provenance: Provenance,
    rate: Option<Rate>,
) -> Result<BundleContents, TransformError> {
    let mut requests = Vec::new();
    let mut bodies: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    // Where each request id was first planned from, to name both places of a duplicate.
    let mut first_source: BTreeMap<String, Option<SourceRef>> = BTreeMap::new();
    let mut tasks = Vec::new();
    let mut skipped = Vec::new();
    let mut losses = Vec::new();
    let mut steps = Vec::new();
    let mut warnings = provenance.warnings;
    let mut report = Vec::new();
    let (declared, encrypted) = provenance.secrets.unzip();
    let mut by_task: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for output in outputs {
        let after_tasks = tasks::AFTER_TASKS.iter().filter(|(task, _)| *task == output.task);
        let after: Vec<String> = after_tasks
            .flat_map(|(_, earlier)| earlier.iter().flat_map(|t| by_task.get(t).into_iter().flatten()))
            .cloned()
            .collect();
        tasks.push(TaskSummary {
            task: output.task.to_owned(),
            source_objects: output.source_objects,
            requests: output.requests.len() as u64,
            skipped: output.skipped.len() as u64,
        });
        // The task's first request waits for every request of the earlier tasks, and each of
        // the others for that first one: the same order with one dependency per request, not
        // one per pair (thousands of asset groups times thousands of domain adds).
        let mut gate: Option<String> = None;
        for draft in output.requests {
            if let Some(first) = first_source.insert(draft.id.clone(), draft.source.clone()) {
                return Err(duplicate_id(first, &draft));
            }
            let seq = requests.len() as u64 + 1;
            // An object the bundle does not create (the target has it) is nothing to wait for.
            let mut depends_on: Vec<String> =
                draft.depends_on.into_iter().filter(|id| first_source.contains_key(id) && *id != draft.id).collect();
            match &gate {
                Some(gate) => depends_on.push(gate.clone()),
                None if !after.is_empty() => {
                    depends_on.extend(after.iter().cloned());
                    gate = Some(draft.id.clone());
                }
                None => {}
            }
            if tasks::AFTER_TASKS.iter().any(|(_, earlier)| earlier.contains(&draft.task)) {
                by_task.entry(draft.task).or_default().push(draft.id.clone());
            }
            let body = draft.body.map(|b| body_file(&draft.id, "", b, &mut bodies));
            let probe = draft.probe.map(|p| Probe {
                method: p.method,
                path: p.path,
                params: p.params,
                body: p.body.map(|b| body_file(&draft.id, "probe-", b, &mut bodies)),
                exists: p.exists,
                captures: p.captures,
            });
            requests.push(Request {
                seq,
                id: draft.id,
                task: draft.task.to_owned(),
                summary: draft.summary,
                method: draft.method,
                path: draft.path,
                params: draft.params,
                body,
                effect: draft.effect,
                phase: draft.phase,
                captures: draft.captures,
                probe,
                source: draft.source,
                remapped: draft.remapped,
                depends_on,
            });
        }
        skipped.extend(output.skipped);
        losses.extend(output.losses);
        steps.extend(output.manual_steps);
        warnings.extend(output.warnings);
        report.extend(output.report);
    }
    let prerequisites = prerequisites(&requests);
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        generator: Generator { name: "qmig-transform".to_owned(), version: env!("CARGO_PKG_VERSION").to_owned() },
        target: provenance.target,
        sources: provenance.sources,
        inputs: provenance.inputs,
        unrecognised: provenance.unrecognised,
        secrets: declared,
        tasks,
        requests,
        skipped,
        losses,
        manual_steps: checklist::merge(provenance.purpose.checklist(), steps),
        warnings,
        report,
        prerequisites,
    };
    let (review, requests_table) =
        review::render(&manifest, &provenance.purpose.description(manifest.requests.len()), rate, |file| {
            bodies.get(file).map(Vec::as_slice)
        });
    Ok(BundleContents { manifest, review, requests_table, bodies: bodies.into_iter().collect(), secrets: encrypted })
}

/// The target's objects the requests name by a value known now (from a mapping table or the
/// target's export) and no request creates: the executor's preflight checks each exists.
fn prerequisites(requests: &[Request]) -> Vec<Prerequisite> {
    let mut found: BTreeMap<(PrerequisiteKind, String), Vec<String>> = BTreeMap::new();
    for request in requests {
        for remap in &request.remapped {
            let Some(kind) = RefKind::prerequisite(&remap.kind) else { continue };
            if let Value::Text(value) = &remap.target {
                let used_by = found.entry((kind, value.clone())).or_default();
                if used_by.last() != Some(&request.id) {
                    used_by.push(request.id.clone());
                }
            }
        }
    }
    found.into_iter().map(|((kind, value), used_by)| Prerequisite { kind, value, used_by }).collect()
}

fn duplicate_id(first: Option<SourceRef>, second: &Draft) -> TransformError {
    let unknown = || SourceRef { file: "(derived)".to_owned(), line: 0, id: None, title: None };
    TransformError::SameTarget {
        id: second.id.clone(),
        task: second.task.to_owned(),
        first: first.unwrap_or_else(unknown),
        second: second.source.clone().unwrap_or_else(unknown),
    }
}

/// Stores a body under `bodies/<readable id>-<hash of id>.<ext>`: the name follows the object,
/// not its position, so an unchanged object keeps its file from one bundle to the next.
fn body_file(id: &str, prefix: &str, body: DraftBody, bodies: &mut BTreeMap<String, Vec<u8>>) -> Body {
    let readable: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let readable: String = readable.chars().take(60).collect();
    let extension = if body.content_type.contains("xml") { "xml" } else { "txt" };
    let hash = &sha256_hex(format!("{prefix}{id}").as_bytes())[..12];
    let file = format!("{BODIES_DIR}/{prefix}{readable}-{hash}.{extension}");
    let bytes = body.text.into_bytes();
    let sha256 = sha256_hex(&bytes);
    bodies.insert(file.clone(), bytes);
    Body { file, sha256, content_type: body.content_type, slots: body.slots }
}
