//! A model of the target's tag service that runs a bundle the way the executor and Qualys
//! would: bodies with their slots filled from earlier captures, creates nesting
//! `children/set/Tag` and refusing read-only fields, searches filtering on `Criteria` (`EQUALS`,
//! `IN`), and the captures taken exactly as declared (a `Match` must select one record).

use std::collections::BTreeMap;
use std::io::Write as _;

use qmig_schemas::{BundleContents, Escape, Extract, Match, Request, Segment, Value};
use qmig_transform::xml::{self, Element};

pub const CREATE: &str = "/qps/rest/2.0/create/am/tag";
pub const SEARCH: &str = "/qps/rest/2.0/search/am/tag";
const WRITABLE: &[&str] = &["name", "ruleType", "ruleText", "color", "criticalityScore", "description", "provider"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetTag {
    pub id: u64,
    pub name: String,
    pub parent: Option<u64>,
    /// Every writable field but the name.
    pub fields: BTreeMap<String, String>,
}

pub struct TagTarget {
    pub tags: BTreeMap<u64, TargetTag>,
    pub captures: BTreeMap<String, String>,
    next_id: u64,
}

impl TagTarget {
    /// A target holding these root tags, as a new subscription does.
    pub fn with_roots(names: &[&str]) -> TagTarget {
        let mut target = TagTarget { tags: BTreeMap::new(), captures: BTreeMap::new(), next_id: 40_000_001 };
        for name in names {
            target.insert(name, None, BTreeMap::new());
        }
        target
    }

    /// Sends every request of the bundle in order.
    pub fn run(&mut self, bundle: &BundleContents) -> Result<(), String> {
        for request in &bundle.manifest.requests {
            self.send(bundle, request).map_err(|e| format!("request {} ({}): {e}", request.seq, request.id))?;
        }
        Ok(())
    }

    /// Every tag as its path of names from the root, with its fields, sorted.
    pub fn paths(&self) -> Vec<(Vec<String>, BTreeMap<String, String>)> {
        let mut paths: Vec<_> = self.tags.values().map(|t| (self.path(t.id), t.fields.clone())).collect();
        paths.sort();
        paths
    }

    pub fn path(&self, id: u64) -> Vec<String> {
        let mut names = Vec::new();
        let mut current = Some(id);
        while let Some(id) = current {
            names.push(self.tags[&id].name.clone());
            current = self.tags[&id].parent;
        }
        names.reverse();
        names
    }

    pub fn id_at(&self, path: &[&str]) -> Option<u64> {
        self.tags.values().find(|t| self.path(t.id) == path).map(|t| t.id)
    }

    fn send(&mut self, bundle: &BundleContents, request: &Request) -> Result<(), String> {
        let response = match request.path.as_str() {
            CREATE => self.create(&self.body(bundle, request)?)?,
            SEARCH => self.search(&self.body(bundle, request)?)?,
            _ => {
                // Another task's object: it gets a made-up ID.
                for capture in &request.captures {
                    self.captures.insert(capture.name.clone(), (90_000_000 + request.seq).to_string());
                }
                return Ok(());
            }
        };
        for capture in &request.captures {
            let value = match &capture.extract {
                Extract::NewId => response.text_at("data/Tag/id").map(str::to_owned),
                Extract::Match { matcher, take } => self.select(&response, matcher)?.text_at(take).map(str::to_owned),
                other => return Err(format!("a tag response has no {other:?}")),
            };
            let value = value.ok_or_else(|| format!("capture {} found nothing", capture.name))?;
            self.captures.insert(capture.name.clone(), value);
        }
        Ok(())
    }

    /// The body as it is sent: every slot checked and filled.
    fn body(&self, bundle: &BundleContents, request: &Request) -> Result<Element, String> {
        let body = request.body.as_ref().ok_or("no body")?;
        let bytes = &bundle.bodies.iter().find(|(file, _)| *file == body.file).ok_or("body file missing")?.1;
        let mut text = String::from_utf8(bytes.clone()).map_err(|e| e.to_string())?;
        for slot in body.slots.iter().rev() {
            let at = usize::try_from(slot.offset).map_err(|e| e.to_string())?;
            if text.get(at..at + slot.placeholder.len()) != Some(slot.placeholder.as_str()) {
                return Err(format!("slot at {at} does not hold {}", slot.placeholder));
            }
            let value = self.resolve(&Value::Parts(vec![slot.value.clone()]))?;
            let value = if slot.escape == Escape::Xml { xml::escape(&value) } else { value };
            text.replace_range(at..at + slot.placeholder.len(), &value);
        }
        parse(&text)
    }

    fn resolve(&self, value: &Value) -> Result<String, String> {
        match value {
            Value::Text(text) => Ok(text.clone()),
            Value::Parts(parts) => parts
                .iter()
                .map(|part| match part {
                    Segment::Text(text) => Ok(text.clone()),
                    Segment::Capture(name) => {
                        self.captures.get(name).cloned().ok_or_else(|| format!("capture {name} was never taken"))
                    }
                    Segment::Secret(name) => Err(format!("a tag request refers to secret {name}")),
                })
                .collect(),
        }
    }

    fn create(&mut self, request: &Element) -> Result<Element, String> {
        let [tag] = request.at("data").map(|d| d.children.as_slice()).unwrap_or_default() else {
            return Err("a create holds exactly one data/Tag".to_owned());
        };
        let parent = match tag.text_at("parentTagId") {
            Some(id) => {
                let id: u64 = id.parse().map_err(|_| format!("parentTagId {id} is not a number"))?;
                self.tags.contains_key(&id).then_some(id).ok_or(format!("parentTagId {id}: no such tag"))?;
                Some(id)
            }
            None => None,
        };
        let id = self.insert_tree(tag, parent, true)?;
        let mut created = node("Tag", vec![leaf("id", &id.to_string()), leaf("name", &self.tags[&id].name)]);
        let children: Vec<Element> = self
            .tags
            .values()
            .filter(|t| t.parent == Some(id))
            .map(|t| node("TagSimple", vec![leaf("id", &t.id.to_string()), leaf("name", &t.name)]))
            .collect();
        if !children.is_empty() {
            created.children.push(node("children", vec![node("list", children)]));
        }
        Ok(response(vec![created]))
    }

    fn insert_tree(&mut self, tag: &Element, parent: Option<u64>, top: bool) -> Result<u64, String> {
        let mut fields = BTreeMap::new();
        let mut children = Vec::new();
        for child in &tag.children {
            match child.name.as_str() {
                "name" => {}
                "parentTagId" if top => {}
                "children" => {
                    let [set] = child.children.as_slice() else { return Err("children holds one set".to_owned()) };
                    if set.name != "set" || set.children.iter().any(|c| c.name != "Tag") {
                        return Err("children are written as children/set/Tag".to_owned());
                    }
                    children.extend(set.children.iter());
                }
                name if WRITABLE.contains(&name) => {
                    fields.insert(name.to_owned(), child.value().to_owned());
                }
                name => return Err(format!("{name}: An error occurred while validating the element")),
            }
        }
        let name = tag.text_at("name").ok_or("a tag needs a name")?;
        let id = self.insert(name, parent, fields);
        for child in children {
            self.insert_tree(child, Some(id), false)?;
        }
        Ok(id)
    }

    fn insert(&mut self, name: &str, parent: Option<u64>, fields: BTreeMap<String, String>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.tags.insert(id, TargetTag { id, name: name.to_owned(), parent, fields });
        id
    }

    fn search(&self, request: &Element) -> Result<Element, String> {
        let mut found: Vec<&TargetTag> = self.tags.values().collect();
        for criteria in request.at("filters").into_iter().flat_map(|f| f.children_named("Criteria")) {
            let value = criteria.value();
            let values: Vec<&str> = match criteria.attr("operator") {
                Some("EQUALS") => vec![value],
                Some("IN") => value.split(',').map(str::trim).collect(),
                other => return Err(format!("only EQUALS and IN are expected, not {other:?}")),
            };
            match criteria.attr("field") {
                Some("name") => found.retain(|t| values.contains(&t.name.as_str())),
                Some("parent") => found.retain(|t| t.parent.is_some_and(|p| values.contains(&p.to_string().as_str()))),
                other => return Err(format!("unexpected Criteria field {other:?}")),
            }
        }
        let limit: usize =
            request.text_at("preferences/limitResults").map_or(Ok(100), str::parse).map_err(|_| "limit")?;
        if found.len() > limit {
            return Err(format!("{} results do not fit a page of {limit}", found.len()));
        }
        let records = found
            .into_iter()
            .map(|t| {
                let mut record = node("Tag", vec![leaf("id", &t.id.to_string()), leaf("name", &t.name)]);
                if let Some(parent) = t.parent {
                    record.children.push(leaf("parentTagId", &parent.to_string()));
                }
                record
            })
            .collect();
        Ok(response(records))
    }

    fn select<'r>(&self, response: &'r Element, matcher: &Match) -> Result<&'r Element, String> {
        let mut wanted = Vec::new();
        for condition in &matcher.conditions {
            wanted.push((condition.field.as_str(), self.resolve(&condition.equals)?));
        }
        let matching: Vec<&Element> = response
            .descendants()
            .into_iter()
            .filter(|e| e.name == matcher.record)
            .filter(|r| wanted.iter().all(|(field, value)| r.at(field).is_some_and(|f| f.value() == value.trim())))
            .collect();
        match matching.as_slice() {
            [one] => Ok(one),
            other => Err(format!("{} {} records match {wanted:?}; exactly one must", other.len(), matcher.record)),
        }
    }
}

fn parse(text: &str) -> Result<Element, String> {
    let mut file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    file.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    xml::read_document(file.path(), "body", &[]).map(|d| d.head).map_err(|e| e.to_string())
}

fn response(records: Vec<Element>) -> Element {
    node("ServiceResponse", vec![leaf("responseCode", "SUCCESS"), node("data", records)])
}

fn leaf(name: &str, text: &str) -> Element {
    Element { name: name.to_owned(), text: text.to_owned(), ..Element::default() }
}

fn node(name: &str, children: Vec<Element>) -> Element {
    Element { name: name.to_owned(), children, ..Element::default() }
}
