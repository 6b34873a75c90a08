//! Core task: Asset tags.
//!
//! Source: the tag search (`POST /qps/rest/2.0/search/am/tag`), a QPS `ServiceResponse` in as
//! many pages as `hasMoreRecords` asked for. Every tag is a flat `Tag` record; a parent lists
//! its children only as `children/list/TagSimple` (ID and name) and each child carries
//! `parentTagId`. The hierarchy is rebuilt from both, and they must agree.
//!
//! Rules:
//! - System trees are not created, each of their tags listed as skipped with why: "Business
//!   Units" and "Asset Groups" (the target mirrors its own business units and asset groups, and
//!   any tag carrying `srcAssetGroupId`/`srcBusinessUnitId`/`srcOperatingSystemName` wherever it
//!   is), "Malware Domain Assets" with its children, "Passive Sensor" (with "Unmanaged" and
//!   "ICS_OCA"), "Internet Facing Assets", and the root tags named with `--system-tag`. System
//!   names are matched on root tags only: a user's "Asset Groups" tag inside another tag is a
//!   user tag.
//! - "Cloud Agent" exists in every target with Cloud Agent: its user children (and their
//!   subtrees) are created under the target's own Cloud Agent tag, whose ID comes from
//!   `--target-export`, else from a read-only lookup by name at the start of the task.
//! - "Asset Search Tags" is created by the target itself: its children are created under a new
//!   root tag "Imported Asset Search Tags" (a source root of that name is reused).
//! - A tag `--target-export` shows under the same parent with the same name is not created
//!   again (siblings sharing a name are matched in ID order): its target ID is used, and its
//!   missing children are created under it.
//! - A child known only from its parent's `children/list` (a search filtered by name returns
//!   no more) is created with its name only, and the review lists what it may lose.
//! - One create request (`POST /qps/rest/2.0/create/am/tag`, `text/xml`) per root tag with its
//!   subtree nested as `children/set/Tag`, only the fields the create takes (name, ruleType,
//!   ruleText, color, criticalityScore, description, provider): IDs, timestamps, UUIDs,
//!   evaluation status and source asset-group/business-unit IDs are the target's to set, and a
//!   field qmig does not know is listed as a loss rather than sent.
//! - Subtree limit: one request carries at most `--tags-per-request` tags (100 by default: the
//!   size of a default QPS page, a body of some tens of KB, and little left in doubt when an
//!   outcome is unknown; never more than the 1000 one search page can read back). A larger
//!   subtree is cut breadth first: the request carries the tags that fit, and each child left
//!   out is created by a request of its own (with its own subtree, cut the same way) naming its
//!   captured parent in `parentTagId`. A tag sharing its name with a sibling is created the
//!   same way, since a name cannot tell them apart in a response.
//! - IDs: every created tag's ID is captured for the tasks that follow (scan schedules, report
//!   templates, policies refer to tags by ID). The root's comes from the create response; the
//!   nested tags' from read-only searches after it, one per level of the nested subtree
//!   (`tag-children/<root>/level-2` for the root's children, `level-3` for theirs...): `parent`
//!   `IN` the captured IDs of every tag of the level above that has nested children (`EQUALS`
//!   when there is one), each tag picked by its name and its `parentTagId` (two parents of a
//!   level may each have a child of one name). A create with its subtree thus takes one create
//!   and one search per nested level, whatever the number of parents. A create response does
//!   list its direct children, but a create's probe must be able to fill every capture of its
//!   request, and it can only read the one tag it finds, so the children are read by the
//!   searches, which also work after a resumed run. ⚠ UNVERIFIED: the `IN` operator on
//!   `parent` comes from client libraries' lists of QPS search operators, not from a capture
//!   of a real tenant (transformer/INPUTS.md).
//! - Rules: see [`rules`]: `NETWORK_RANGE` normalised (the source text kept in the review),
//!   `GLOBAL_ASSET_VIEW` QQL as written, every other engine carried over, embedded network,
//!   asset group and tag IDs remapped or flagged.
//! - Groovy rules need Qualys Support to enable them in the target first: a manual step names
//!   every Groovy tag, and their requests come after every other tag of this task (not at the
//!   end of the bundle: later tasks refer to tags by captured ID, which must exist before they
//!   are used). `TAGSET` tags come last too, after the tags they are made of.
//! - Static tags' assignments to assets are not in the tag search, and the target's assets
//!   have no IDs until they are scanned: a manual step names the static tags to apply again.

mod hierarchy;
mod rules;

use std::collections::{BTreeMap, BTreeSet};

use qmig_schemas::{Effect, Extract, Segment, SourceRef, Value};

use crate::checklist::Step;
use crate::context::Context;
use crate::error::TransformError;
use crate::export::Kind;
use crate::plan::{
    Draft, DraftBody, DraftProbe, Field, RefKind, Refs, Target, TaskOutput, already_in_target, match_all,
    match_extract, object_id,
};
use hierarchy::{Hierarchy, Listed, describe};
use rules::Note;

pub const TASK: &str = "asset tags";
const CREATE_PATH: &str = "/qps/rest/2.0/create/am/tag";
pub(crate) const SEARCH_PATH: &str = "/qps/rest/2.0/search/am/tag";
/// The most results one QPS search page may return.
const SEARCH_PAGE: usize = 1000;

pub const CLOUD_AGENT: &str = "Cloud Agent";
pub const ASSET_SEARCH: &str = "Asset Search Tags";
pub const IMPORTED_ASSET_SEARCH: &str = "Imported Asset Search Tags";

/// Root tags the platform creates and maintains itself, and why their trees are not created.
pub const SYSTEM_TREES: &[(&str, &str)] = &[
    (
        "Business Units",
        "platform-managed: it mirrors the business units, and the target builds its own once they exist",
    ),
    (
        "Asset Groups",
        "platform-managed: it mirrors the asset groups, and the target builds its own as they are created",
    ),
    ("Malware Domain Assets", "platform-managed by Malware Detection, in the target as in the source"),
    ("Passive Sensor", "platform-managed: the target's passive sensors maintain their own"),
    ("Unmanaged", "platform-managed: the target's passive sensors maintain their own"),
    ("ICS_OCA", "platform-managed by Industrial Control Systems in the target"),
    (
        "Internet Facing Assets",
        "platform-managed: the target creates its own; if its address ranges were edited in the source, edit the target's the same way",
    ),
];

/// Fields that mark a tag the platform made as a mirror of another object, and of what.
const MIRROR_FIELDS: &[(&str, &str)] = &[
    ("srcAssetGroupId", "an asset group"),
    ("srcBusinessUnitId", "a business unit"),
    ("srcOperatingSystemName", "an operating system"),
];

/// The fields the create call takes, in the order they are written.
pub const WRITABLE: &[&str] = &["name", "ruleType", "ruleText", "color", "criticalityScore", "description", "provider"];

/// Fields the target sets itself, or that qmig writes its own way (the hierarchy).
const READ_ONLY: &[&str] = &[
    "id",
    "created",
    "modified",
    "tagUuid",
    "reEvalStatus",
    "parentTagId",
    "children",
    "srcAssetGroupId",
    "srcBusinessUnitId",
    "srcOperatingSystemName",
];

pub fn plan(ctx: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let hierarchy = Hierarchy::read(ctx.export.records(Kind::TagSearch))?;
    out.source_objects = hierarchy.tags.len() as u64;
    let target_hierarchy = Hierarchy::read(ctx.target_records(Kind::TagSearch))?;
    let target = TargetTags::new(&target_hierarchy, ctx.target.is_some());
    let layout = Layout::build(&hierarchy, &ctx.options.system_tags, &target, refs, &mut out);
    let mut planner = Planner {
        hierarchy: &hierarchy,
        layout: &layout,
        target: &target,
        refs,
        out,
        // The nested tags of one request are read back level by level, each level by one search
        // page: a request carrying at most one page of tags keeps every level within a page.
        limit: ctx.options.tags_per_request.clamp(1, SEARCH_PAGE),
        last_phase: false,
        normal: Vec::new(),
        last: Vec::new(),
        deferred: Vec::new(),
        placed: BTreeMap::new(),
        groovy: Vec::new(),
        statics: Vec::new(),
    };
    let cloud_agent = planner.cloud_agent();
    for &(node, anchor) in &layout.tops {
        let parent = match anchor {
            Anchor::Root => None,
            Anchor::CloudAgent => cloud_agent.clone(),
        };
        planner.place(node, parent, false);
    }
    planner.last_phase = true;
    for (node, parent) in std::mem::take(&mut planner.deferred) {
        planner.create(node, parent, true);
    }
    Ok(planner.finish())
}

/// The target's tags, from `--target-export`.
struct TargetTags<'a> {
    captured: bool,
    /// The IDs of the tags with this parent (`None`: root tags) and name, lowest first.
    children: BTreeMap<(Option<&'a str>, &'a str), Vec<&'a str>>,
}

impl<'a> TargetTags<'a> {
    fn new(hierarchy: &Hierarchy<'a>, captured: bool) -> TargetTags<'a> {
        let mut children: BTreeMap<(Option<&'a str>, &'a str), Vec<&'a str>> = BTreeMap::new();
        for tag in &hierarchy.tags {
            let parent = tag.parent.map(|p| hierarchy.tags[p].id);
            children.entry((parent, tag.name)).or_default().push(tag.id);
        }
        for ids in children.values_mut() {
            ids.sort_by_key(|id| (id.len(), *id));
        }
        TargetTags { captured, children }
    }

    /// The `occurrence`-th tag (0 for the first) named `name` under `parent`: siblings sharing
    /// a name in the source are matched to the target's in ID order.
    fn child(&self, parent: Option<&str>, name: &str, occurrence: usize) -> Option<&'a str> {
        self.children.get(&(parent, name)).and_then(|ids| ids.get(occurrence).copied())
    }

    /// The target's tag at a path of names from the root.
    fn at_path(&self, path: &[&str]) -> Option<&'a str> {
        path.iter().try_fold(None, |parent, name| self.child(parent, name, 0).map(Some)).flatten()
    }
}

/// Where a top-level node of the layout attaches in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    Root,
    CloudAgent,
}

/// What a tag of the layout comes from.
#[derive(Debug, Clone, Copy)]
enum Origin<'a> {
    /// A full tag record: its index in the hierarchy.
    Tag(usize),
    /// A child known only from its parent's `children/list`.
    Listed(Listed<'a>),
    /// The root qmig adds for the Asset Search tags.
    Added,
}

/// A tag as it will stand in the target.
#[derive(Debug, Clone)]
struct Node<'a> {
    name: &'a str,
    origin: Origin<'a>,
    children: Vec<usize>,
    /// Unique among all nodes: the path, with the source ID added where siblings share a name.
    key: String,
    /// How many earlier siblings share its name. Such a tag is created by a request of its
    /// own, since a name cannot tell siblings apart in a response.
    occurrence: usize,
    /// Its rule needs to come after every other tag (Groovy, tag sets).
    last: bool,
    /// Source tags the node stands for besides its own (the source's "Asset Search Tags").
    stands_for: Vec<&'a str>,
}

/// The target's side of the hierarchy: the source's tags once system trees are removed and
/// the Cloud Agent and Asset Search children re-parented.
struct Layout<'a> {
    nodes: Vec<Node<'a>>,
    tops: Vec<(usize, Anchor)>,
    /// Source IDs of the source's "Cloud Agent" tags, which stand for the target's own.
    cloud_agent_ids: Vec<&'a str>,
}

impl<'a> Layout<'a> {
    fn build(
        hierarchy: &Hierarchy<'a>,
        system_tags: &[String],
        target: &TargetTags<'a>,
        refs: &mut Refs,
        out: &mut TaskOutput,
    ) -> Layout<'a> {
        let mut layout = Layout { nodes: Vec::new(), tops: Vec::new(), cloud_agent_ids: Vec::new() };
        let mut removal = Removal { hierarchy, target, refs, out };
        let mut asset_search: Option<usize> = None;
        let mut asset_search_roots: Vec<usize> = Vec::new();
        for &root in &hierarchy.roots {
            let tag = &hierarchy.tags[root];
            let configured = system_tags.iter().any(|name| name == tag.name);
            if let Some(&(_, why)) = SYSTEM_TREES.iter().find(|(name, _)| *name == tag.name) {
                removal.remove(root, why.to_owned());
            } else if configured {
                removal.remove(root, "platform-managed (named with --system-tag)".to_owned());
            } else if tag.name == CLOUD_AGENT {
                let why =
                    "the target has its own Cloud Agent tag; its child tags are created under the target's".to_owned();
                removal.skip_one(root, why);
                layout.cloud_agent_ids.push(tag.id);
                for node in layout.add_children(hierarchy, root, &mut removal) {
                    layout.tops.push((node, Anchor::CloudAgent));
                }
            } else if tag.name == ASSET_SEARCH {
                let why = format!(
                    "the target creates its own when it needs it; its child tags are created under the root tag \"{IMPORTED_ASSET_SEARCH}\""
                );
                removal.skip_one(root, why);
                asset_search_roots.push(root);
            } else if let Some(node) = layout.add(hierarchy, root, &mut removal) {
                if tag.name == IMPORTED_ASSET_SEARCH && asset_search.is_none() {
                    asset_search = Some(node);
                }
                layout.tops.push((node, Anchor::Root));
            }
        }
        let mut imported = Vec::new();
        for &root in &asset_search_roots {
            imported.extend(layout.add_children(hierarchy, root, &mut removal));
        }
        if !imported.is_empty() {
            let parent = match asset_search {
                Some(node) => node,
                None => {
                    let node = layout.push(Node::new(IMPORTED_ASSET_SEARCH, Origin::Added));
                    layout.tops.push((node, Anchor::Root));
                    node
                }
            };
            layout.nodes[parent].stands_for.extend(asset_search_roots.iter().map(|&root| hierarchy.tags[root].id));
            layout.nodes[parent].children.extend(imported);
        }
        layout.assign_keys(hierarchy);
        layout
    }

    fn push(&mut self, node: Node<'a>) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Adds a source tag and its subtree, unless it is a platform mirror.
    fn add(&mut self, hierarchy: &Hierarchy<'a>, index: usize, removal: &mut Removal<'_, 'a>) -> Option<usize> {
        let tag = &hierarchy.tags[index];
        if let Some((field, what)) = MIRROR_FIELDS.iter().find(|(field, _)| tag.text(field).is_some()) {
            removal.remove(index, format!("platform-managed: a mirror of {what} ({field})"));
            return None;
        }
        let rule = tag.text("ruleType").unwrap_or(rules::STATIC);
        let node = self.push(Node {
            last: rule == rules::GROOVY || rule == rules::TAGSET,
            ..Node::new(tag.name, Origin::Tag(index))
        });
        let children = self.add_children(hierarchy, index, removal);
        self.nodes[node].children = children;
        Some(node)
    }

    /// Adds the children of a source tag: full records with their subtrees, then the children
    /// known only from its list.
    fn add_children(&mut self, hierarchy: &Hierarchy<'a>, index: usize, removal: &mut Removal<'_, 'a>) -> Vec<usize> {
        let mut children = Vec::new();
        for &child in &hierarchy.tags[index].children {
            children.extend(self.add(hierarchy, child, removal));
        }
        for listed in hierarchy.listed_only.get(&index).into_iter().flatten() {
            children.push(self.push(Node::new(listed.name, Origin::Listed(*listed))));
        }
        children
    }

    /// Orders siblings by name and source ID, and gives every node its unique key.
    fn assign_keys(&mut self, hierarchy: &Hierarchy<'a>) {
        let sort_key = |nodes: &[Node<'a>], n: usize| {
            let id = nodes[n].source_id(hierarchy).unwrap_or_default();
            (nodes[n].name, id.len(), id)
        };
        let mut tops = std::mem::take(&mut self.tops);
        tops.sort_by(|a, b| {
            let prefix = |anchor: Anchor| if anchor == Anchor::CloudAgent { CLOUD_AGENT } else { "" };
            (prefix(a.1), sort_key(&self.nodes, a.0)).cmp(&(prefix(b.1), sort_key(&self.nodes, b.0)))
        });
        for anchor in [Anchor::Root, Anchor::CloudAgent] {
            let group: Vec<usize> = tops.iter().filter(|t| t.1 == anchor).map(|t| t.0).collect();
            let prefix = if anchor == Anchor::CloudAgent { format!("{CLOUD_AGENT} / ") } else { String::new() };
            self.key_siblings(hierarchy, &group, &prefix);
        }
        self.tops = tops;
        let mut pending: Vec<usize> = self.tops.iter().map(|t| t.0).collect();
        while let Some(node) = pending.pop() {
            let mut children = std::mem::take(&mut self.nodes[node].children);
            children.sort_by(|&a, &b| sort_key(&self.nodes, a).cmp(&sort_key(&self.nodes, b)));
            let prefix = format!("{} / ", self.nodes[node].key);
            self.key_siblings(hierarchy, &children, &prefix);
            pending.extend(children.iter().copied());
            self.nodes[node].children = children;
        }
    }

    fn key_siblings(&mut self, hierarchy: &Hierarchy<'a>, siblings: &[usize], prefix: &str) {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for &node in siblings {
            *seen.entry(self.nodes[node].name).or_default() += 1;
        }
        let mut earlier: BTreeMap<&str, usize> = BTreeMap::new();
        for &node in siblings {
            let name = self.nodes[node].name;
            let shared = seen[name] > 1;
            let id = self.nodes[node].source_id(hierarchy).unwrap_or_default();
            self.nodes[node].key = if shared { format!("{prefix}{name} [{id}]") } else { format!("{prefix}{name}") };
            let occurrence = earlier.entry(name).or_default();
            self.nodes[node].occurrence = *occurrence;
            *occurrence += 1;
        }
    }
}

impl<'a> Node<'a> {
    fn new(name: &'a str, origin: Origin<'a>) -> Node<'a> {
        Node {
            name,
            origin,
            children: Vec::new(),
            key: String::new(),
            occurrence: 0,
            last: false,
            stands_for: Vec::new(),
        }
    }

    /// The ID the source knows the tag by.
    fn source_id(&self, hierarchy: &Hierarchy<'a>) -> Option<&'a str> {
        match self.origin {
            Origin::Tag(index) => Some(hierarchy.tags[index].id),
            Origin::Listed(listed) => Some(listed.id),
            Origin::Added => None,
        }
    }

    fn source(&self, hierarchy: &Hierarchy<'a>) -> Option<SourceRef> {
        match self.origin {
            Origin::Tag(index) => {
                let tag = &hierarchy.tags[index];
                Some(tag.record.source(Some(tag.id), Some(tag.name)))
            }
            Origin::Listed(listed) => Some(listed.record.source(Some(listed.id), Some(listed.name))),
            Origin::Added => None,
        }
    }
}

/// Removes system tags from the plan, each listed with why, mapping those the target export
/// shows at the same path (later tasks may refer to them). Children a removed tag only lists
/// are not in the export, so there is nothing to list for them.
struct Removal<'r, 'a> {
    hierarchy: &'r Hierarchy<'a>,
    target: &'r TargetTags<'a>,
    refs: &'r mut Refs,
    out: &'r mut TaskOutput,
}

impl<'a> Removal<'_, 'a> {
    fn remove(&mut self, index: usize, why: String) {
        let root = &self.hierarchy.tags[index];
        for (position, member) in self.hierarchy.subtree(index).into_iter().enumerate() {
            let reason = if position == 0 { why.clone() } else { format!("below {}: {why}", describe(root)) };
            self.skip_one(member, reason);
        }
    }

    fn skip_one(&mut self, index: usize, reason: String) {
        let tag = &self.hierarchy.tags[index];
        let path = self.hierarchy.path(index);
        if let Some(target_id) = self.target.at_path(&path) {
            self.refs.set(RefKind::Tag, tag.id, Target::Known(target_id.to_owned()));
        }
        let source = tag.record.source(Some(tag.id), Some(tag.name));
        self.out.skip(format!("tag \"{}\"", path.join(" / ")), reason, Some(source));
    }
}

struct Planner<'p, 'a> {
    hierarchy: &'p Hierarchy<'a>,
    layout: &'p Layout<'a>,
    target: &'p TargetTags<'a>,
    refs: &'p mut Refs,
    out: TaskOutput,
    limit: usize,
    /// Set once every tag that is not deferred has been planned.
    last_phase: bool,
    normal: Vec<Draft>,
    last: Vec<Draft>,
    /// Tags whose requests wait for the last phase, with their parent.
    deferred: Vec<(usize, Option<Target>)>,
    /// How each planned node is known in the target.
    placed: BTreeMap<usize, Target>,
    groovy: Vec<String>,
    statics: Vec<String>,
}

impl<'a> Planner<'_, 'a> {
    /// The target's Cloud Agent tag, when some tag is to be created under it.
    fn cloud_agent(&mut self) -> Option<Target> {
        if !self.layout.tops.iter().any(|t| t.1 == Anchor::CloudAgent) {
            return None;
        }
        let target = match self.target.child(None, CLOUD_AGENT, 0) {
            Some(id) => Target::Known(id.to_owned()),
            None => {
                if self.target.captured {
                    self.out.warn(
                        "the target export has no \"Cloud Agent\" tag: the bundle looks it up when it runs, which fails unless Cloud Agent is enabled in the target by then",
                        None,
                    );
                }
                let id = object_id("tag-lookup", CLOUD_AGENT);
                let draft = Draft::post(
                    TASK,
                    id.clone(),
                    Effect::Read,
                    SEARCH_PATH,
                    "Look up the ID of the target's own \"Cloud Agent\" tag".to_owned(),
                )
                .body(search_body(&[("name", vec![Segment::Text(CLOUD_AGENT.to_owned())])]))
                .capture(Field::Id, match_extract("Tag", "name", CLOUD_AGENT, "id"));
                self.normal.push(draft);
                Target::captured(&id, Field::Id)
            }
        };
        for id in &self.layout.cloud_agent_ids {
            self.refs.set(RefKind::Tag, id, target.clone());
        }
        Some(target)
    }

    /// Plans a node below `parent`: mapped when the target has it, deferred when its rule must
    /// come last, otherwise created with as much of its subtree as fits.
    fn place(&mut self, node: usize, parent: Option<Target>, parent_last: bool) {
        let layout = self.layout;
        let n = &layout.nodes[node];
        // Below a tag this bundle creates, nothing can exist yet.
        let existing = match &parent {
            None => self.target.child(None, n.name, n.occurrence),
            Some(Target::Known(parent)) => self.target.child(Some(parent.as_str()), n.name, n.occurrence),
            Some(Target::Captured(_)) => None,
        };
        if let Some(target_id) = existing {
            let known = Target::Known(target_id.to_owned());
            self.map(node, known.clone());
            self.skip(node, already_in_target(RefKind::Tag, target_id));
            for &child in &n.children {
                self.place(child, Some(known.clone()), false);
            }
            return;
        }
        let last = n.last || parent_last;
        if last && !self.last_phase {
            self.deferred.push((node, parent));
            return;
        }
        self.create(node, parent, last);
    }

    /// One create request for `root` and the part of its subtree that fits, the searches that
    /// capture the nested tags' IDs, then the requests for the children left out.
    fn create(&mut self, root: usize, parent: Option<Target>, last: bool) {
        let layout = self.layout;
        let nodes = &layout.nodes;
        let mut included = vec![root];
        let mut left_out: Vec<(usize, usize)> = Vec::new();
        let mut next = 0;
        while next < included.len() {
            let node = included[next];
            next += 1;
            for &child in &nodes[node].children {
                let same_phase = last || !nodes[child].last;
                if included.len() < self.limit && same_phase && nodes[child].occurrence == 0 {
                    included.push(child);
                } else {
                    left_out.push((child, node));
                }
            }
        }
        let inline: BTreeSet<usize> = included.iter().copied().collect();
        let root_node = &nodes[root];
        let id = object_id("tag", &root_node.key);
        let mut body = DraftBody::xml();
        body.raw("<ServiceRequest><data>");
        self.write_tag(&mut body, root, parent.as_ref(), &inline);
        body.raw("</data></ServiceRequest>");
        let rule =
            self.rule_type(root).filter(|r| *r != rules::STATIC).map(|r| format!(" ({r} rule)")).unwrap_or_default();
        let nested = match included.len() - 1 {
            0 => String::new(),
            1 => " with 1 nested tag".to_owned(),
            n => format!(" with {n} nested tags"),
        };
        let mut criteria = vec![("name", vec![Segment::Text(root_node.name.to_owned())])];
        if let Some(parent) = &parent {
            criteria.push(("parent", vec![parent.segment()]));
        }
        let mut draft = Draft::post(
            TASK,
            id.clone(),
            Effect::Create,
            CREATE_PATH,
            format!("Create tag \"{}\"{rule}{nested}", root_node.key),
        )
        .body(body)
        .capture(Field::Id, Extract::NewId);
        // A probe identifies the tag by its name and its parent (none for a root: a tag of the
        // same name elsewhere in the tree is another tag). For a tag whose sibling has the same
        // name it could find the sibling, so only the operator can tell whether it was created.
        if root_node.occurrence == 0 {
            let parent_id = parent.as_ref().map_or_else(|| Value::Text(String::new()), Target::value);
            let probe = DraftProbe::search(SEARCH_PATH, search_body(&criteria), "Tag", "name", root_node.name);
            draft = draft.probe(probe.and("parentTagId", parent_id).fills(&id, Field::Id, "id"));
        }
        if let Some(source) = self.source(root) {
            draft = draft.source(source);
        }
        self.push(draft, last);
        self.map(root, Target::captured(&id, Field::Id));
        self.read_back(root, &inline, last);
        for (child, parent) in left_out {
            let parent = self.placed.get(&parent).cloned().expect("a parent is placed before its children");
            self.place(child, Some(parent), last);
        }
    }

    /// The read-only searches for the tags nested in `root`'s create, one per level below it,
    /// capturing each tag's ID.
    fn read_back(&mut self, root: usize, inline: &BTreeSet<usize>, last: bool) {
        let layout = self.layout;
        let nodes = &layout.nodes;
        let mut parents = vec![root];
        for level in 2.. {
            let nested: Vec<(usize, usize)> = parents
                .iter()
                .flat_map(|&parent| {
                    nodes[parent].children.iter().filter(|c| inline.contains(c)).map(move |&child| (parent, child))
                })
                .collect();
            if nested.is_empty() {
                break;
            }
            self.look_up_level(root, level, &nested, last);
            parents = nested.into_iter().map(|(_, child)| child).collect();
        }
    }

    /// One search for the tags of one level of `root`'s create (`nested`: each with its parent,
    /// grouped by parent), below the parents' captured IDs.
    fn look_up_level(&mut self, root: usize, level: usize, nested: &[(usize, usize)], last: bool) {
        let layout = self.layout;
        let nodes = &layout.nodes;
        // Only the tags of this create are below its parents yet (the children left out of it
        // are created after these searches), and a create carries at most `limit` tags, at
        // most one page: one page holds the whole level.
        assert!(nested.len() < self.limit && self.limit <= SEARCH_PAGE, "a level fits one search page");
        let id = level_search_id(&nodes[root].key, level);
        let below = format!("{} / ", nodes[root].key);
        let path = |child: usize| nodes[child].key.strip_prefix(&below).expect("a nested tag's key extends its root's");
        let mut parents: Vec<usize> = nested.iter().map(|&(parent, _)| parent).collect();
        parents.dedup();
        let what = match nested.len() {
            1 => "the new ID of the tag".to_owned(),
            n => format!("the new IDs of the {n} tags"),
        };
        let under = match parents.as_slice() {
            [parent] => format!("\"{}\"", nodes[*parent].key),
            several => format!("the {} level-{} tags of \"{}\"", several.len(), level - 1, nodes[root].key),
        };
        let target = |node: usize| self.placed.get(&node).cloned().expect("a parent is placed before its children");
        let criteria = [("parent", parents.iter().map(|&parent| target(parent).segment()).collect())];
        let mut draft =
            Draft::post(TASK, id.clone(), Effect::Read, SEARCH_PATH, format!("Look up {what} created under {under}"))
                .body(search_body(&criteria));
        for &(parent, child) in nested {
            let conditions = vec![("name", nodes[child].name.into()), ("parentTagId", target(parent).value())];
            draft = draft.capture(Field::Child(path(child)), match_all("Tag", conditions, "id"));
        }
        if let Some(source) = self.source(root) {
            draft = draft.source(source);
        }
        self.push(draft, last);
        for &(_, child) in nested {
            self.map(child, Target::captured(&id, Field::Child(path(child))));
        }
    }

    /// Writes `node` as a `Tag` element, with the included part of its subtree nested.
    fn write_tag(&mut self, body: &mut DraftBody, node: usize, parent: Option<&Target>, inline: &BTreeSet<usize>) {
        let layout = self.layout;
        let n = &layout.nodes[node];
        body.raw("<Tag>");
        body.element("name", n.name);
        match n.origin {
            Origin::Tag(index) => self.write_fields(body, node, index),
            Origin::Listed(listed) => self.out.lose(
                format!("tag \"{}\"", n.key),
                WRITABLE[1..].iter().map(|f| (*f).to_owned()).collect(),
                "only its parent's list of children names it, its full record is not in the export: it is created \
                 with its name only; capture the whole tag search to keep its rule",
                Some(listed.record.source(Some(listed.id), Some(listed.name))),
            ),
            Origin::Added => {}
        }
        if let Some(parent) = parent {
            body.raw("<parentTagId>").segment(parent.segment()).raw("</parentTagId>");
        }
        let children: Vec<usize> = n.children.iter().copied().filter(|c| inline.contains(c)).collect();
        if !children.is_empty() {
            body.raw("<children><set>");
            for child in children {
                self.write_tag(body, child, None, inline);
            }
            body.raw("</set></children>");
        }
        body.raw("</Tag>");
    }

    /// The writable fields of a source tag, its rule carried over, and what the review must
    /// say about them.
    fn write_fields(&mut self, body: &mut DraftBody, node: usize, index: usize) {
        let (hierarchy, layout) = (self.hierarchy, self.layout);
        let tag = &hierarchy.tags[index];
        let key = &layout.nodes[node].key;
        let object = format!("tag \"{key}\"");
        let source = tag.record.source(Some(tag.id), Some(tag.name));
        let rule = tag.text("ruleType").unwrap_or(rules::STATIC);
        match rule {
            rules::STATIC => self.statics.push(key.clone()),
            rules::GROOVY => self.groovy.push(key.clone()),
            _ => {}
        }
        // The name is written by the caller, first.
        for field in WRITABLE.iter().skip(1) {
            let Some(value) = tag.text(field) else { continue };
            if *field != "ruleText" {
                body.element(field, value);
                continue;
            }
            let carried = rules::carry(rule, value, self.refs);
            body.raw("<ruleText>");
            for segment in carried.text {
                body.segment(segment);
            }
            body.raw("</ruleText>");
            for note in carried.notes {
                self.note(&object, rule, note, &source);
            }
        }
        let mut unknown: Vec<String> = Vec::new();
        for child in &tag.record.element.children {
            let name = child.name.as_str();
            if !WRITABLE.contains(&name) && !READ_ONLY.contains(&name) && !unknown.iter().any(|u| u == name) {
                unknown.push(name.to_owned());
            }
        }
        if !unknown.is_empty() {
            self.out.lose(
                object,
                unknown,
                "not a field qmig knows the tag create call to take, so it is not sent: set it by hand if the target needs it",
                Some(source),
            );
        }
    }

    fn note(&mut self, object: &str, rule: &str, note: Note, source: &SourceRef) {
        let source = Some(source.clone());
        match note {
            Note::Normalised { original, normalised } => self.out.lose(
                object,
                vec!["ruleText".to_owned()],
                format!(
                    "the target stores NETWORK_RANGE rules normalised (API 3.14): sent as `{normalised}`; the source's text was `{original}`"
                ),
                source,
            ),
            Note::NotNormalised { problem } => self.out.warn(
                format!("{object}: its NETWORK_RANGE rule could not be normalised ({problem}); it is sent as written"),
                source,
            ),
            Note::Unmapped { kind, value } => self.out.warn(
                format!(
                    "{object}: its {rule} rule names {} {value}, which qmig cannot map to the target's; it is sent as written: correct it in the target",
                    kind.label()
                ),
                source,
            ),
            Note::Mentions { what } => self.out.warn(
                format!(
                    "{object}: its {rule} rule mentions {what} in a form qmig does not recognise as an ID; it is sent as written: check it in the target"
                ),
                source,
            ),
        }
    }

    fn rule_type(&self, node: usize) -> Option<&'a str> {
        match self.layout.nodes[node].origin {
            Origin::Tag(index) => Some(self.hierarchy.tags[index].text("ruleType").unwrap_or(rules::STATIC)),
            Origin::Listed(_) | Origin::Added => None,
        }
    }

    fn source(&self, node: usize) -> Option<SourceRef> {
        self.layout.nodes[node].source(self.hierarchy)
    }

    fn skip(&mut self, node: usize, reason: String) {
        let source = self.source(node);
        self.out.skip(format!("tag \"{}\"", self.layout.nodes[node].key), reason, source);
    }

    /// Records how a node is known in the target, for its children and for later tasks.
    fn map(&mut self, node: usize, target: Target) {
        let n = &self.layout.nodes[node];
        for id in n.source_id(self.hierarchy).into_iter().chain(n.stands_for.iter().copied()) {
            self.refs.set(RefKind::Tag, id, target.clone());
        }
        self.placed.insert(node, target);
    }

    fn push(&mut self, draft: Draft, last: bool) {
        if last { self.last.push(draft) } else { self.normal.push(draft) }
    }

    fn finish(mut self) -> TaskOutput {
        if !self.groovy.is_empty() {
            self.out.step(Step::GroovyTagRules, self.groovy);
        }
        if !self.statics.is_empty() {
            self.out.step(Step::StaticTagAssignments, self.statics);
        }
        let mut out = self.out;
        out.requests = self.normal;
        out.requests.extend(self.last);
        out
    }
}

/// The id of the search that reads back the tags nested `level` levels deep (the root's
/// children: 2) in the create of the tag keyed `root_key`.
pub(crate) fn level_search_id(root_key: &str, level: usize) -> String {
    object_id("tag-children", &format!("{root_key}/level-{level}"))
}

/// A QPS tag search body selecting on each criterion, one full page: `field EQUALS value`, or
/// `field IN` the values joined by commas when there are several.
fn search_body(criteria: &[(&str, Vec<Segment>)]) -> DraftBody {
    let mut body = DraftBody::xml();
    body.raw("<ServiceRequest><filters>");
    for (field, values) in criteria {
        let operator = if values.len() > 1 { "IN" } else { "EQUALS" };
        body.raw(&format!("<Criteria field=\"{field}\" operator=\"{operator}\">"));
        for (position, value) in values.iter().enumerate() {
            if position > 0 {
                body.raw(",");
            }
            body.segment(value.clone());
        }
        body.raw("</Criteria>");
    }
    body.raw(&format!(
        "</filters><preferences><limitResults>{SEARCH_PAGE}</limitResults></preferences></ServiceRequest>"
    ));
    body
}
