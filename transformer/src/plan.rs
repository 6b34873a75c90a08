//! The request plumbing every task shares: request drafts, bodies with declared reference slots,
//! probes, captures, and the references between tasks (a network's new ID used by an asset
//! group), so no task builds these by hand.

use std::collections::BTreeMap;

use qmig_schemas::{
    Capture, Condition, Effect, Escape, Extract, Loss, ManualStep, Match, Method, Param, Phase, PrerequisiteKind,
    ProbeCapture, Remap, Reported, Segment, Skipped, Slot, SourceRef, Value, Warning,
};

use crate::checklist::Step;
use crate::error::Unresolved;
use crate::xml;

/// The stable id of an object's request: `network/Corp East`.
pub fn object_id(kind: &str, name: &str) -> String {
    format!("{kind}/{name}")
}

/// What a request keeps from its response, for later requests or for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// The new object's ID.
    Id,
    /// The login Qualys generated for a new user.
    Login,
    /// A new virtual appliance's activation code.
    ActivationCode,
    /// The ID of a tag created nested in another's create, by its path below that tag.
    Child(&'a str),
}

impl Field<'_> {
    fn as_str(&self) -> &str {
        match self {
            Field::Id => "id",
            Field::Login => "login",
            Field::ActivationCode => "activation_code",
            Field::Child(name) => name,
        }
    }
}

/// The bundle-wide name of a value captured from a request's response: `network/Corp East#id`.
pub fn capture_name(request_id: &str, field: Field<'_>) -> String {
    format!("{request_id}#{}", field.as_str())
}

/// What a capture of request `request_id` keeps (the inverse of [`capture_name`]), or `None`
/// when the capture is another request's.
pub fn captured_field<'n>(capture: &'n str, request_id: &str) -> Option<&'n str> {
    capture.strip_prefix(request_id)?.strip_prefix('#')
}

/// A request before it has its place in the bundle.
#[derive(Debug, Clone)]
pub struct Draft {
    pub id: String,
    pub task: &'static str,
    pub summary: String,
    pub method: Method,
    pub path: String,
    pub params: Vec<Param>,
    pub body: Option<DraftBody>,
    pub effect: Effect,
    pub phase: Phase,
    pub captures: Vec<Capture>,
    pub probe: Option<DraftProbe>,
    pub source: Option<SourceRef>,
    /// The source object's references this request carries as their targets, for the review.
    pub remapped: Vec<Remap>,
    /// Ids of requests that must be done first, for orderings no capture shows.
    pub depends_on: Vec<String>,
}

impl Draft {
    /// A POST to `path` whose parameters go in a form body (or the query string once a body is set).
    pub fn post(task: &'static str, id: String, effect: Effect, path: &str, summary: String) -> Draft {
        Draft {
            id,
            task,
            summary,
            method: Method::Post,
            path: path.to_owned(),
            params: Vec::new(),
            body: None,
            effect,
            phase: Phase::Migration,
            captures: Vec::new(),
            probe: None,
            source: None,
            remapped: Vec::new(),
            depends_on: Vec::new(),
        }
    }

    pub fn param(mut self, name: &str, value: impl Into<Value>) -> Draft {
        self.params.push(Param { name: name.to_owned(), value: value.into() });
        self
    }

    /// Adds the parameter only when there is a value: Qualys treats an empty value as "clear".
    pub fn param_opt(self, name: &str, value: Option<impl Into<Value>>) -> Draft {
        match value {
            Some(value) => self.param(name, value),
            None => self,
        }
    }

    pub fn body(mut self, body: DraftBody) -> Draft {
        self.body = Some(body);
        self
    }

    /// Keeps `extract` from the response under [`capture_name`]`(id, field)`.
    pub fn capture(mut self, field: Field<'_>, extract: Extract) -> Draft {
        let name = capture_name(&self.id, field);
        self.captures.push(Capture { name, extract });
        self
    }

    /// Moves the request to the cutover phase, which runs only when the operator asks for it.
    pub fn cutover(mut self) -> Draft {
        self.phase = Phase::Cutover;
        self
    }

    /// Has the request wait for the request of id `id` (the one that creates object `id`, an
    /// [`object_id`], or an undo bundle's delete), for an ordering no capture shows (a user's
    /// asset groups go by title). When the bundle holds no such request (the target has the
    /// object already) there is nothing to wait for.
    pub fn after_object(mut self, id: String) -> Draft {
        if !self.depends_on.contains(&id) {
            self.depends_on.push(id);
        }
        self
    }

    pub fn probe(mut self, probe: DraftProbe) -> Draft {
        self.probe = Some(probe);
        self
    }

    pub fn source(mut self, source: SourceRef) -> Draft {
        self.source = Some(source);
        self
    }

    /// Records that the request carries `target` for the source's `source_key` of `kind`, so
    /// the review shows old → new; once per reference, however often it is sent.
    pub fn remap(mut self, kind: RefKind, source_key: &str, target: &Target) -> Draft {
        let remap = Remap { kind: kind.label().to_owned(), source: source_key.to_owned(), target: target.value() };
        if !self.remapped.contains(&remap) {
            self.remapped.push(remap);
        }
        self
    }
}

/// A body and the slots where references are substituted at send time.
#[derive(Debug, Clone, Default)]
pub struct DraftBody {
    pub text: String,
    pub content_type: String,
    pub slots: Vec<Slot>,
}

impl DraftBody {
    /// An XML body built piece by piece.
    pub fn xml() -> DraftBody {
        DraftBody { text: String::new(), content_type: "text/xml".to_owned(), slots: Vec::new() }
    }

    /// A body sent exactly as read from the export (imports of exported documents).
    pub fn verbatim(bytes: &[u8], content_type: &str) -> DraftBody {
        DraftBody {
            text: String::from_utf8_lossy(bytes).into_owned(),
            content_type: content_type.to_owned(),
            slots: Vec::new(),
        }
    }

    /// Appends markup as is.
    pub fn raw(&mut self, markup: &str) -> &mut DraftBody {
        self.text.push_str(markup);
        self
    }

    /// Appends `<name>text</name>` with the text escaped.
    pub fn element(&mut self, name: &str, text: &str) -> &mut DraftBody {
        self.text.push_str(&format!("<{name}>{}</{name}>", xml::escape(text)));
        self
    }

    /// Appends a reference whose value is only known at send time, as a declared slot.
    pub fn reference(&mut self, segment: Segment) -> &mut DraftBody {
        let placeholder = xml::escape(&segment.placeholder());
        self.slots.push(Slot {
            offset: self.text.len() as u64,
            placeholder: placeholder.clone(),
            value: segment,
            escape: Escape::Xml,
        });
        self.text.push_str(&placeholder);
        self
    }

    /// Appends text escaped, or a reference as a declared slot.
    pub fn segment(&mut self, segment: Segment) -> &mut DraftBody {
        match segment {
            Segment::Text(text) => self.raw(&xml::escape(&text)),
            reference => self.reference(reference),
        }
    }
}

/// A read-only request that tells whether the object already exists in the target.
#[derive(Debug, Clone)]
pub struct DraftProbe {
    pub method: Method,
    pub path: String,
    pub params: Vec<Param>,
    pub body: Option<DraftBody>,
    pub exists: Match,
    pub captures: Vec<ProbeCapture>,
}

impl DraftProbe {
    /// A POST list call whose records named `record` are searched for one with `field == value`.
    pub fn list(path: &str, params: &[(&str, &str)], record: &str, field: &str, value: impl Into<Value>) -> DraftProbe {
        DraftProbe {
            method: Method::Post,
            path: path.to_owned(),
            params: params.iter().map(|(k, v)| Param::text(*k, *v)).collect(),
            body: None,
            exists: Match {
                record: record.to_owned(),
                conditions: vec![Condition { field: field.to_owned(), equals: value.into() }],
            },
            captures: Vec::new(),
        }
    }

    /// A POST search whose body selects the candidates (QPS), searched like [`DraftProbe::list`].
    pub fn search(path: &str, body: DraftBody, record: &str, field: &str, value: impl Into<Value>) -> DraftProbe {
        DraftProbe { body: Some(body), ..DraftProbe::list(path, &[], record, field, value) }
    }

    /// Also requires `field == value` of the matching record.
    pub fn and(mut self, field: &str, value: impl Into<Value>) -> DraftProbe {
        self.exists.conditions.push(Condition { field: field.to_owned(), equals: value.into() });
        self
    }

    /// When found, fills the request's capture `<request id>#<field>` from the record's `take`.
    pub fn fills(mut self, request_id: &str, field: Field<'_>, take: &str) -> DraftProbe {
        self.captures.push(ProbeCapture { name: capture_name(request_id, field), take: take.to_owned() });
        self
    }
}

/// What one task produced: requests in order, and the account of everything else.
#[derive(Debug, Clone)]
pub struct TaskOutput {
    pub task: &'static str,
    pub source_objects: u64,
    pub requests: Vec<Draft>,
    pub skipped: Vec<Skipped>,
    pub losses: Vec<Loss>,
    pub manual_steps: Vec<ManualStep>,
    pub warnings: Vec<Warning>,
    /// Captured values the operator needs after the run and cannot look up in the target.
    pub report: Vec<Reported>,
}

impl TaskOutput {
    pub fn new(task: &'static str) -> TaskOutput {
        TaskOutput {
            task,
            source_objects: 0,
            requests: Vec::new(),
            skipped: Vec::new(),
            losses: Vec::new(),
            manual_steps: Vec::new(),
            warnings: Vec::new(),
            report: Vec::new(),
        }
    }

    pub fn request(&mut self, draft: Draft) {
        self.requests.push(draft);
    }

    pub fn skip(&mut self, object: impl Into<String>, reason: impl Into<String>, source: Option<SourceRef>) {
        self.skipped.push(Skipped { task: self.task.to_owned(), object: object.into(), reason: reason.into(), source });
    }

    pub fn lose(
        &mut self,
        object: impl Into<String>,
        fields: Vec<String>,
        reason: impl Into<String>,
        source: Option<SourceRef>,
    ) {
        self.losses.push(Loss {
            task: self.task.to_owned(),
            object: object.into(),
            fields,
            reason: reason.into(),
            source,
        });
    }

    pub fn warn(&mut self, message: impl Into<String>, source: Option<SourceRef>) {
        self.warnings.push(Warning { task: self.task.to_owned(), message: message.into(), source });
    }

    /// Has the executor show the operator a captured value once the bundle has run.
    pub fn report_capture(&mut self, capture: String, label: String) {
        self.report.push(Reported { capture, label });
    }

    /// Names the objects a manual step concerns.
    pub fn step(&mut self, step: Step, items: Vec<String>) {
        self.manual_steps.push(step.with(items));
    }

    /// Skips a source object the target already has, found in `--target-export`.
    pub fn skip_existing(&mut self, object: String, kind: RefKind, target: &str, source: SourceRef) {
        self.skip(object, already_in_target(kind, target), Some(source));
    }

    /// Skips a source object the target already has, when the target's ID of it does not matter.
    pub fn skip_present(&mut self, object: String, source: SourceRef) {
        self.skip(object, "already in the target (target export)", Some(source));
    }
}

/// The kinds of object one task refers to by an ID that differs between source and target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RefKind {
    /// Keyed by source network ID.
    Network,
    /// Keyed by source appliance ID.
    Appliance,
    /// Keyed by source asset group ID.
    AssetGroup,
    /// Keyed by source tag ID.
    Tag,
    /// Keyed by source user login; the target value is the new login.
    User,
    /// Keyed by source business unit title; the target value is the target's title.
    BusinessUnit,
    /// Keyed by source vault ID (vaults are created by hand, with their secrets).
    Vault,
    /// Keyed by source authentication record ID (the templates other records name).
    AuthRecord,
    /// Keyed by source search list ID (static and dynamic lists share one ID space).
    SearchList,
    /// Keyed by search list title, which titles are kept exactly: option profile imports name
    /// their lists by title.
    SearchListTitle,
    /// Keyed by source option profile ID.
    OptionProfile,
    /// Keyed by the schedule's request id (module and title): the schedules the bundle creates.
    ScanSchedule,
    /// Keyed by source compliance policy ID; the target value is the policy's new ID, captured
    /// from its import (or known, when the target already has the title).
    Policy,
    /// Keyed by source distribution group ID (groups are created by hand, mapped by a table).
    DistributionGroup,
}

impl RefKind {
    pub fn label(self) -> &'static str {
        match self {
            RefKind::Network => "network",
            RefKind::Appliance => "scanner appliance",
            RefKind::AssetGroup => "asset group",
            RefKind::Tag => "tag",
            RefKind::User => "user",
            RefKind::BusinessUnit => "business unit",
            RefKind::Vault => "authentication vault",
            RefKind::AuthRecord => "authentication record",
            RefKind::SearchList => "search list",
            RefKind::SearchListTitle => "search list titled",
            RefKind::OptionProfile => "option profile",
            RefKind::ScanSchedule => "scan schedule",
            RefKind::Policy => "compliance policy",
            RefKind::DistributionGroup => "distribution group",
        }
    }

    /// The kind of prerequisite a reference of this label is, when the target must already
    /// hold it: what no request creates.
    pub fn prerequisite(label: &str) -> Option<PrerequisiteKind> {
        [
            (RefKind::BusinessUnit, PrerequisiteKind::BusinessUnit),
            (RefKind::Appliance, PrerequisiteKind::ScannerAppliance),
            (RefKind::Vault, PrerequisiteKind::Vault),
            (RefKind::DistributionGroup, PrerequisiteKind::DistributionGroup),
        ]
        .into_iter()
        .find_map(|(kind, prerequisite)| (kind.label() == label).then_some(prerequisite))
    }
}

/// How a source object is known in the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Its target ID is known now (mapping table, target export).
    Known(String),
    /// Its target ID is captured when the bundle runs, under this name.
    Captured(String),
}

impl Target {
    /// The value `field` captured from request `request_id`'s response.
    pub fn captured(request_id: &str, field: Field<'_>) -> Target {
        Target::Captured(capture_name(request_id, field))
    }

    pub fn segment(&self) -> Segment {
        match self {
            Target::Known(id) => Segment::Text(id.clone()),
            Target::Captured(name) => Segment::Capture(name.clone()),
        }
    }

    pub fn value(&self) -> Value {
        match self {
            Target::Known(id) => Value::Text(id.clone()),
            Target::Captured(name) => Value::Parts(vec![Segment::Capture(name.clone())]),
        }
    }
}

/// Source objects' counterparts in the target, filled by earlier tasks and used by later ones.
/// References that cannot be resolved are collected, so the run stops listing all of them.
#[derive(Debug, Default)]
pub struct Refs {
    targets: BTreeMap<(RefKind, String), Target>,
    unresolved: BTreeMap<(RefKind, String), Unresolved>,
}

impl Refs {
    pub fn set(&mut self, kind: RefKind, source_key: &str, target: Target) {
        self.targets.insert((kind, source_key.to_owned()), target);
    }

    pub fn get(&self, kind: RefKind, source_key: &str) -> Option<&Target> {
        self.targets.get(&(kind, source_key.to_owned()))
    }

    /// The target of a reference, or `None` after recording who needed it and how to fix it
    /// (`hint`, asked for once per unresolved reference).
    pub fn require(
        &mut self,
        kind: RefKind,
        source_key: &str,
        used_by: &str,
        hint: impl FnOnce() -> String,
    ) -> Option<Target> {
        if let Some(target) = self.get(kind, source_key) {
            return Some(target.clone());
        }
        let entry = self.unresolved.entry((kind, source_key.to_owned())).or_insert_with(|| Unresolved {
            kind: kind.label().to_owned(),
            key: source_key.to_owned(),
            used_by: Vec::new(),
            hint: hint(),
        });
        if !entry.used_by.iter().any(|u| u == used_by) {
            entry.used_by.push(used_by.to_owned());
        }
        None
    }

    pub fn unresolved(&self) -> Vec<Unresolved> {
        self.unresolved.values().cloned().collect()
    }
}

/// Why an object is not created: the target export has it.
pub fn already_in_target(kind: RefKind, target: &str) -> String {
    format!("already in the target as {} {target} (target export)", kind.label())
}

/// Joins text and references into one parameter value, merging adjacent text.
pub fn join_segments(parts: impl IntoIterator<Item = Segment>, separator: &str) -> Value {
    let mut segments: Vec<Segment> = Vec::new();
    for (index, part) in parts.into_iter().enumerate() {
        if index > 0 {
            push_segment(&mut segments, Segment::Text(separator.to_owned()));
        }
        push_segment(&mut segments, part);
    }
    match segments.as_slice() {
        [] => Value::Text(String::new()),
        [Segment::Text(text)] => Value::Text(text.clone()),
        _ => Value::Parts(segments),
    }
}

fn push_segment(segments: &mut Vec<Segment>, segment: Segment) {
    if let (Some(Segment::Text(last)), Segment::Text(next)) = (segments.last_mut(), &segment) {
        last.push_str(next);
        return;
    }
    if !matches!(&segment, Segment::Text(t) if t.is_empty()) {
        segments.push(segment);
    }
}

/// `Extract::Match` for a lookup: the record named `record` whose `field` equals `value`.
pub fn match_extract(record: &str, field: &str, value: impl Into<Value>, take: &str) -> Extract {
    match_all(record, vec![(field, value.into())], take)
}

/// `Extract::Match` for a lookup whose record must meet every condition: a name alone may
/// select several records (two parents' children of one name, read back by one search).
pub fn match_all(record: &str, conditions: Vec<(&str, Value)>, take: &str) -> Extract {
    let conditions =
        conditions.into_iter().map(|(field, equals)| Condition { field: field.to_owned(), equals }).collect();
    Extract::Match { matcher: Match { record: record.to_owned(), conditions }, take: take.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_segments_merge_text_and_keep_references() {
        let value = join_segments(
            [Segment::Text("12".into()), Segment::Capture("a#id".into()), Segment::Text("14".into())],
            ",",
        );
        assert_eq!(
            value,
            Value::Parts(vec![
                Segment::Text("12,".into()),
                Segment::Capture("a#id".into()),
                Segment::Text(",14".into())
            ])
        );
        assert_eq!(
            join_segments([Segment::Text("1".into()), Segment::Text("2".into())], ","),
            Value::Text("1,2".into())
        );
    }

    #[test]
    fn body_references_are_declared_where_they_are_written() {
        let mut body = DraftBody::xml();
        body.raw("<Tag>").element("name", "R&D").raw("<parentTagId>").reference(Segment::Capture("t/A&B#id".into()));
        body.raw("</parentTagId></Tag>");
        let slot = &body.slots[0];
        let at = slot.offset as usize;
        assert_eq!(&body.text[at..at + slot.placeholder.len()], "{{capture:t/A&amp;B#id}}");
    }

    #[test]
    fn every_unresolved_reference_is_kept_with_its_users() {
        let mut refs = Refs::default();
        refs.set(RefKind::Network, "1", Target::Known("9".into()));
        let hint = || "hint".to_owned();
        assert_eq!(refs.require(RefKind::Network, "1", "a", hint), Some(Target::Known("9".into())));
        assert_eq!(refs.require(RefKind::Network, "2", "a", hint), None);
        assert_eq!(refs.require(RefKind::Network, "2", "b", || unreachable!("asked for once")), None);
        let unresolved = refs.unresolved();
        assert_eq!(unresolved.len(), 1);
        assert_eq!(unresolved[0].used_by, ["a", "b"]);
    }
}
