//! `qmig-transform undo BUNDLE JOURNAL --out UNDO_BUNDLE`: a bundle of the delete calls for
//! everything the journal shows the run created, to empty a test subscription and rehearse
//! again. It is reviewed, approved and run like any bundle.
//!
//! - Only what the run created is deleted: a create the target answered as executed. Objects
//!   the bundle only looked up, objects its probe found in the target (they may have been
//!   there before) and objects an operator settled are not deleted, but listed to check by hand.
//! - Changes to objects the run did not create (the subscription configuration, user
//!   preferences, an appliance's network, the cutover's switches) are not undone: the review
//!   lists them.
//! - Deletes go in the reverse order of the creates, which the bundle sent parents first:
//!   schedules before the option profiles they use, users before their asset groups, asset
//!   groups before their IPs, a tag's children before the tag. Each delete depends on the
//!   deletes of the objects whose creates depended on its object's create, so an executor that
//!   reorders by dependencies still deletes children first.
//! - Every ID comes from the journal's captures, written into the requests as text: the undo
//!   bundle captures nothing.
//!
//! The delete calls, and which of them the references confirm, are in transformer/INPUTS.md.

use std::collections::BTreeMap;
use std::path::Path;

use qmig_schemas::journal::{Head, Integrity, Record, parse_lines};
use qmig_schemas::replay::{Replayed, Settled, State};
use qmig_schemas::{Effect, Extract, Request, Segment, SourceFile, Value};

use crate::bundle::{Provenance, Purpose};
use crate::checklist::Step;
use crate::error::TransformError;
use crate::plan::{Draft, TaskOutput, captured_field};
use crate::tasks::{
    appliances, asset_groups, auth_records, cutover, domains, ips, ipv6_mappings, networks, option_profiles, policies,
    report_templates, schedules, search_lists, subscription, tags, user_prefs, users, virtual_hosts,
};
use crate::xml;

/// How the objects of one task's creates are deleted, in the words of the bundle's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deletion {
    /// A v2 call on the create's own path: `action=delete` and the new ID as `param`.
    SamePath { param: &'static str },
    /// A v2 call on another path.
    OtherPath { path: &'static str, param: &'static str },
    /// The IDs of option profiles are deleted on the path of their type (`vm`, `pc`, `pci`).
    OptionProfile,
    /// `/msp/asset_domain.php?action=delete&domain=NAME`, as the domain was added.
    Domain,
    /// `/msp/user.php?action=delete&login=NEW_LOGIN`.
    User,
    /// `POST /qps/rest/2.0/delete/am/tag/ID`, the tag's children first.
    Tag,
    /// `action=delete` with the address, port and network the virtual host was created with.
    VirtualHost,
    /// `action=delete` with exactly the addresses the add call added.
    Ips,
    /// No API deletes it: a manual step.
    ByHand,
    /// The task only changes objects the run did not create: nothing to delete.
    ChangesOnly,
}

/// Each task of a bundle, and how what it created is deleted.
const DELETIONS: &[(&str, Deletion)] = &[
    (subscription::TASK, Deletion::ChangesOnly),
    (networks::TASK, Deletion::ByHand),
    (ips::TASK, Deletion::Ips),
    (appliances::TASK, Deletion::OtherPath { path: "/api/2.0/fo/appliance/", param: "id" }),
    (domains::TASK, Deletion::Domain),
    (asset_groups::TASK, Deletion::SamePath { param: "id" }),
    (tags::TASK, Deletion::Tag),
    (users::TASK, Deletion::User),
    (virtual_hosts::TASK, Deletion::VirtualHost),
    (search_lists::TASK, Deletion::SamePath { param: "id" }),
    (auth_records::TASK, Deletion::SamePath { param: "ids" }),
    (option_profiles::TASK, Deletion::OptionProfile),
    (policies::TASK, Deletion::SamePath { param: "id" }),
    (report_templates::TASK, Deletion::SamePath { param: "template_id" }),
    (schedules::TASK, Deletion::SamePath { param: "id" }),
    (user_prefs::TASK, Deletion::ChangesOnly),
    (ipv6_mappings::TASK, Deletion::ChangesOnly),
    (cutover::TASK, Deletion::ChangesOnly),
];

const TAG_DELETE_PATH: &str = "/qps/rest/2.0/delete/am/tag/";
const USER_PATH: &str = "/msp/user.php";
const OPTION_PROFILE_PATH: &str = "/api/2.0/fo/subscription/option_profile/";

/// Reads the bundle and its journal and plans the undo bundle, without writing anything.
pub fn build(bundle_dir: &Path, journal: &Path) -> Result<qmig_schemas::BundleContents, TransformError> {
    let bundle = qmig_schemas::verify_bundle(bundle_dir)
        .map_err(|source| TransformError::Bundle { path: bundle_dir.to_path_buf(), source })?;
    let (records, journal_file) = read_journal(journal, &bundle.digest)?;
    let replayed = qmig_schemas::replay::replay(&bundle.manifest, &records).map_err(|e| TransformError::Journal {
        path: journal.to_path_buf(),
        line: e.line,
        problem: e.problem,
    })?;
    let mut dependents = vec![Vec::new(); bundle.manifest.requests.len()];
    for (index, dependencies) in qmig_schemas::dependencies(&bundle.manifest.requests).into_iter().enumerate() {
        dependencies.into_iter().for_each(|dependency| dependents[dependency].push(index));
    }
    let requests = bundle.manifest.requests.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut undo = Undo {
        bundle_dir,
        replayed: &replayed,
        requests,
        dependents,
        deletes: BTreeMap::new(),
        outputs: BTreeMap::new(),
    };
    for (index, request) in bundle.manifest.requests.iter().enumerate().rev() {
        undo.request(index, request)?;
    }
    let manifest_file = SourceFile {
        path: qmig_schemas::MANIFEST_FILE.to_owned(),
        sha256: bundle.manifest_sha256.clone(),
        kind: format!("manifest of bundle {}", bundle.digest),
    };
    let provenance = Provenance {
        purpose: Purpose::Undo { digest: bundle.digest.clone() },
        target: bundle.manifest.target.clone(),
        sources: vec![manifest_file, journal_file],
        inputs: Vec::new(),
        unrecognised: Vec::new(),
        warnings: Vec::new(),
        secrets: None,
    };
    // In the order of the deletes: the task of the first delete first.
    let mut outputs: Vec<(usize, TaskOutput)> = undo.outputs.into_values().collect();
    outputs.sort_by_key(|(first, _)| *first);
    crate::bundle::assemble(outputs.into_iter().map(|(_, output)| output).collect(), provenance, None)
}

/// The journal's records, checked against its head and bound to the bundle, and the journal
/// as the undo bundle's manifest names it.
fn read_journal(path: &Path, digest: &str) -> Result<(Vec<Record>, SourceFile), TransformError> {
    let io = |source| TransformError::Io { path: path.to_path_buf(), source };
    let bytes = std::fs::read(path).map_err(io)?;
    let corrupt = |line: usize, problem: String| TransformError::Journal { path: path.to_path_buf(), line, problem };
    let (records, complete) = parse_lines(&bytes).map_err(|e| corrupt(e.line, e.problem))?;
    let mut head_path = path.as_os_str().to_owned();
    head_path.push(".head");
    let head_text = std::fs::read_to_string(&head_path)
        .map_err(|source| TransformError::Io { path: head_path.clone().into(), source })?;
    let head = Head::parse(&head_text).map_err(|problem| corrupt(0, problem))?;
    match head.check(&bytes[..complete]) {
        Integrity::Intact => {}
        Integrity::Lost { synced, found, .. } => {
            let problem = format!(
                "its head counts {synced} records but {found} are left: run `qmig-execute run` on it once, \
                 which records the loss, and check what it sent"
            );
            return Err(corrupt(0, problem));
        }
        Integrity::Edited { records } => {
            return Err(corrupt(0, format!("its first {records} records are not those its head hashed")));
        }
    }
    match records.first() {
        Some(Record::Header(header)) if header.bundle_digest == digest => {}
        Some(Record::Header(header)) => {
            return Err(TransformError::JournalOfOtherBundle {
                path: path.to_path_buf(),
                journal: header.bundle_digest.clone(),
                bundle: digest.to_owned(),
            });
        }
        _ => return Err(corrupt(1, "the journal is empty: the bundle never ran".to_owned())),
    }
    let file = SourceFile {
        path: path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        sha256: qmig_schemas::sha256_hex(&bytes),
        kind: "journal".to_owned(),
    };
    Ok((records, file))
}

struct Undo<'a> {
    bundle_dir: &'a Path,
    replayed: &'a Replayed,
    /// The bundle's requests by id.
    requests: BTreeMap<&'a str, &'a Request>,
    /// For each request of the bundle, by position: the positions of the requests that depend on it.
    dependents: Vec<Vec<usize>>,
    /// The ids of the deletes planned for each request of the bundle, by position.
    deletes: BTreeMap<usize, Vec<String>>,
    /// Per task: the position of its first delete, and what it does.
    outputs: BTreeMap<&'static str, (usize, TaskOutput)>,
}

impl Undo<'_> {
    fn output(&mut self, task: &'static str) -> &mut TaskOutput {
        let first = self.outputs.len();
        &mut self.outputs.entry(task).or_insert_with(|| (first, TaskOutput::new(task))).1
    }

    /// What undoing one request of the bundle takes.
    fn request(&mut self, index: usize, request: &Request) -> Result<(), TransformError> {
        let known = DELETIONS.iter().find(|(task, _)| *task == request.task).copied();
        let task = known.map_or("other tasks", |(task, _)| task);
        let deletion = known.map(|(_, deletion)| deletion);
        self.output(task).source_objects += 1;
        let object = request.id.clone();
        let source = request.source.clone();
        let changed =
            || format!("not undone: the run changed the target here ({}) but created nothing", request.summary);
        match (request.effect, &self.replayed.states[index], self.replayed.settled[index]) {
            (Effect::Read, ..) | (_, State::Pending(_), _) => {}
            (_, State::Done, Some(Settled::Sent)) => match deletion {
                Some(Deletion::ChangesOnly) => self.output(task).skip(object, changed(), source),
                Some(Deletion::ByHand) => self.output(task).step(Step::NetworksByHand, vec![object]),
                // A follow-up of a create (more FQDNs for a virtual host): the object's delete undoes it.
                Some(_) if request.effect == Effect::Idempotent && deletion != Some(Deletion::Ips) => {
                    self.output(task).skip(object, changed(), source)
                }
                Some(deletion) => self.delete(task, index, request, deletion)?,
                None => {
                    let item = format!("{object} (qmig knows no delete call for the task \"{}\")", request.task);
                    self.output(task).step(Step::UndoByHand, vec![item]);
                }
            },
            (Effect::Idempotent, ..) => self.output(task).skip(object, changed(), source),
            (Effect::Create, State::Done, settled) => {
                let how = match settled {
                    Some(Settled::Probed) => "its probe found it in the target, which may have held it before",
                    _ => "an operator decided it was done",
                };
                self.output(task).skip(object.clone(), format!("not deleted: {how}"), source);
                self.output(task).step(Step::UndoByHand, vec![format!("{object} ({how})")]);
            }
            (Effect::Create, State::Unresolved(why) | State::Incomplete(why), _) => {
                self.output(task).step(Step::UndoByHand, vec![format!("{object} ({why})")]);
            }
        }
        Ok(())
    }

    /// The value a capture of the run holds, as text.
    fn captured(&self, name: &str) -> Option<String> {
        self.replayed.captures.get(name).cloned()
    }

    /// The new ID (or login) the request's response gave, from the journal.
    fn new_id(&self, request: &Request) -> Option<String> {
        let capture = request.captures.iter().find(|c| matches!(c.extract, Extract::NewId | Extract::Login))?;
        self.captured(&capture.name)
    }

    /// A parameter of the request as it was sent, its captures resolved from the journal.
    fn sent(&self, request: &Request, name: &str) -> Option<String> {
        let param = request.params.iter().find(|p| p.name == name)?;
        match &param.value {
            Value::Text(text) => Some(text.clone()),
            Value::Parts(parts) => parts
                .iter()
                .map(|part| match part {
                    Segment::Text(text) => Some(text.clone()),
                    Segment::Capture(name) => self.captured(name),
                    Segment::Secret(_) => None,
                })
                .collect(),
        }
    }

    fn delete(
        &mut self,
        task: &'static str,
        index: usize,
        request: &Request,
        deletion: Deletion,
    ) -> Result<(), TransformError> {
        let object = request.id.as_str();
        let id = match deletion {
            Deletion::Domain => self.sent(request, "domain"),
            Deletion::Ips => self.sent(request, "ips"),
            Deletion::VirtualHost => self.sent(request, "ip"),
            _ => self.new_id(request),
        };
        let Some(id) = id else {
            self.output(task).step(Step::UndoByHand, vec![format!("{object} (the journal holds no ID for it)")]);
            return Ok(());
        };
        let draft = |path: &str, what: String| {
            let draft = Draft::post(task, format!("delete/{object}"), Effect::Idempotent, path, what);
            match &request.source {
                Some(source) => draft.source(source.clone()),
                None => draft,
            }
        };
        let by_id = format!("Delete {object} (ID {id})");
        let drafts = match deletion {
            Deletion::SamePath { param } => {
                vec![draft(&request.path, by_id).param("action", "delete").param(param, id)]
            }
            Deletion::OtherPath { path, param } => vec![draft(path, by_id).param("action", "delete").param(param, id)],
            Deletion::OptionProfile => {
                let path = format!("{OPTION_PROFILE_PATH}{}/", self.option_profile_type(request)?);
                vec![draft(&path, by_id).param("action", "delete").param("id", id)]
            }
            Deletion::Domain => {
                vec![draft(&request.path, format!("Delete {object}")).param("action", "delete").param("domain", id)]
            }
            Deletion::User => {
                let summary = format!("Delete {object}, whose login in the target is {id}");
                vec![draft(USER_PATH, summary).param("action", "delete").param("login", id)]
            }
            Deletion::VirtualHost => {
                let mut delete = draft(&request.path, format!("Delete {object}")).param("action", "delete");
                for name in ["ip", "port", "network_id"] {
                    if let Some(value) = self.sent(request, name) {
                        delete = delete.param(name, value);
                    }
                }
                vec![delete]
            }
            Deletion::Tag => match self.tag_deletes(task, request, &id) {
                Ok(drafts) => drafts,
                Err(unread) => {
                    let item = format!(
                        "{object} (ID {id}) and its nested tags {}: the run stopped before it read their IDs back",
                        unread.join(", ")
                    );
                    self.output(task).step(Step::UndoByHand, vec![item]);
                    return Ok(());
                }
            },
            Deletion::Ips => {
                let added = request.id.strip_prefix("ips/").unwrap_or(&request.id);
                let summary = format!("Remove the addresses added as {added}: {id}");
                vec![draft(&request.path, summary).param("action", "delete").param("ips", id)]
            }
            Deletion::ByHand | Deletion::ChangesOnly => Vec::new(),
        };
        // The deletes of what depended on this object go first, whatever order the executor picks.
        let after: Vec<String> =
            self.dependents[index].iter().flat_map(|d| self.deletes.get(d).into_iter().flatten()).cloned().collect();
        let drafts: Vec<Draft> =
            drafts.into_iter().map(|draft| after.iter().cloned().fold(draft, Draft::after_object)).collect();
        self.deletes.insert(index, drafts.iter().map(|d| d.id.clone()).collect());
        drafts.into_iter().for_each(|d| self.output(task).request(d));
        Ok(())
    }

    /// The tags nested in a created tag's create (captured by the searches that follow it, one
    /// per level), deepest first, then the tag. When the run stopped before a search read some
    /// of them back, their names: a tag with children cannot be deleted, so the whole subtree
    /// is left to a manual step.
    fn tag_deletes(&self, task: &'static str, request: &Request, id: &str) -> Result<Vec<Draft>, Vec<String>> {
        let path = request.id.strip_prefix("tag/").unwrap_or(&request.id);
        let mut children: Vec<(String, &String)> = Vec::new();
        let mut unread = Vec::new();
        for level in 2.. {
            let Some(search) = self.requests.get(tags::level_search_id(path, level).as_str()) else { break };
            for capture in &search.captures {
                let Some(nested) = captured_field(&capture.name, &search.id) else { continue };
                match self.replayed.captures.get(&capture.name) {
                    Some(value) => children.push((format!("{path} / {nested}"), value)),
                    None => unread.push(format!("{path} / {nested}")),
                }
            }
        }
        if !unread.is_empty() {
            return Err(unread);
        }
        // The searches go from the top level down.
        children.reverse();
        let delete = |tag: &str, id: &str| {
            let mut draft = Draft::post(
                task,
                format!("delete/tag/{tag}"),
                Effect::Idempotent,
                &format!("{TAG_DELETE_PATH}{id}"),
                format!("Delete tag \"{tag}\" (ID {id})"),
            );
            draft.source = request.source.clone();
            draft
        };
        let mut drafts: Vec<Draft> = children.iter().map(|(child, id)| delete(child, id)).collect();
        drafts.push(delete(path, id));
        // Each after the ones before it: deeper tags first, the created tag last.
        let mut earlier: Vec<String> = Vec::new();
        Ok(drafts
            .into_iter()
            .map(|draft| {
                let draft = earlier.iter().cloned().fold(draft, Draft::after_object);
                earlier.push(draft.id.clone());
                draft
            })
            .collect())
    }

    /// `vm`, `pc` or `pci`: the type of the imported profile, from the body the bundle sent.
    fn option_profile_type(&self, request: &Request) -> Result<&'static str, TransformError> {
        let Some(body) = &request.body else { return Err(self.unreadable(request, "holds no option profile")) };
        let path = self.bundle_dir.join(&body.file);
        let document = xml::read_document(&path, &path.display().to_string(), &["OPTION_PROFILE"])?;
        // Read again after the bundle was verified: it must still be the body that was sent.
        if document.sha256 != body.sha256 {
            return Err(self.unreadable(request, "has a body that changed since the bundle was verified"));
        }
        let group_type = document.records.first().and_then(|p| p.text_at("BASIC_INFO/GROUP_TYPE"));
        match group_type {
            Some("user") => Ok("vm"),
            Some("compliance") => Ok("pc"),
            Some("pci") => Ok("pci"),
            other => Err(self.unreadable(request, &format!("names no known profile type ({other:?})"))),
        }
    }

    fn unreadable(&self, request: &Request, problem: &str) -> TransformError {
        TransformError::UndoUnplannable {
            bundle: self.bundle_dir.to_path_buf(),
            request: request.id.clone(),
            problem: problem.to_owned(),
        }
    }
}
