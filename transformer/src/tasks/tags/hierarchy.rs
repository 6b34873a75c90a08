//! The tag hierarchy of a tag search export. The search lists every tag flat, each child once
//! as a `children/list/TagSimple` (ID and name) of its parent and once as a full `Tag` of its
//! own carrying `parentTagId`; both must agree. A child known only from its parent's list (a
//! search filtered by name returns no more) is kept as such.

use std::collections::BTreeMap;

use crate::error::TransformError;
use crate::export::Record;

/// One tag of the export and its place in the hierarchy (indices into [`Hierarchy::tags`]).
#[derive(Debug, Clone)]
pub struct Tag<'a> {
    pub record: Record<'a>,
    pub id: &'a str,
    pub name: &'a str,
    pub parent: Option<usize>,
    /// In name order, then ID order, so the bundle does not depend on the order of the pages.
    pub children: Vec<usize>,
}

impl<'a> Tag<'a> {
    pub fn text(&self, field: &str) -> Option<&'a str> {
        self.record.text(field)
    }
}

/// A child a tag lists (`TagSimple`) whose full record is not in the export, as a search
/// filtered by name returns it.
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a> {
    /// The `TagSimple` element.
    pub record: Record<'a>,
    pub id: &'a str,
    pub name: &'a str,
}

#[derive(Debug, Clone, Default)]
pub struct Hierarchy<'a> {
    pub tags: Vec<Tag<'a>>,
    /// Tags without a parent, in name order.
    pub roots: Vec<usize>,
    /// By listing tag, in the order listed.
    pub listed_only: BTreeMap<usize, Vec<Listed<'a>>>,
}

impl<'a> Hierarchy<'a> {
    /// Rebuilds the hierarchy; a tag without ID or name, a parent that is not in the export,
    /// parents that disagree, and cycles are errors naming the tag's record.
    pub fn read(records: impl IntoIterator<Item = Record<'a>>) -> Result<Hierarchy<'a>, TransformError> {
        let mut tags = Vec::new();
        let mut by_id: BTreeMap<&'a str, usize> = BTreeMap::new();
        for record in records {
            let id = record.text("id").ok_or_else(|| record.invalid("tag", "has no id"))?;
            let name = record.text("name").ok_or_else(|| record.invalid(&format!("tag {id}"), "has no name"))?;
            by_id.insert(id, tags.len());
            tags.push(Tag { record, id, name, parent: None, children: Vec::new() });
        }
        // Who lists each tag as a child.
        let mut listed_by: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let mut listed_only: BTreeMap<usize, Vec<Listed<'a>>> = BTreeMap::new();
        for (index, tag) in tags.iter().enumerate() {
            for simple in tag.record.element.all("children/list/TagSimple") {
                let record = tag.record.nested(simple);
                let Some(id) = simple.text_at("id") else {
                    return Err(record.invalid(&describe(tag), "lists a child without an id"));
                };
                match by_id.get(id) {
                    Some(&child) => {
                        let listers = listed_by.entry(child).or_default();
                        // A parent listing the same child twice still lists it once.
                        if listers.last() != Some(&index) {
                            listers.push(index);
                        }
                    }
                    None => {
                        let name = simple.text_at("name").ok_or_else(|| {
                            record.invalid(
                                &describe(tag),
                                format!(
                                    "lists child tag {id} without a name, and its full record is not in the export"
                                ),
                            )
                        })?;
                        listed_only.entry(index).or_default().push(Listed { record, id, name });
                    }
                }
            }
        }
        for index in 0..tags.len() {
            let tag = &tags[index];
            let listers = listed_by.get(&index).map(Vec::as_slice).unwrap_or_default();
            let parent = match tag.text("parentTagId") {
                Some(parent_id) => {
                    let parent = *by_id.get(parent_id).ok_or_else(|| {
                        tag.record.invalid(
                            &describe(tag),
                            format!(
                                "its parent tag {parent_id} is not in the export: capture every page of the tag search"
                            ),
                        )
                    })?;
                    if let Some(&other) = listers.iter().find(|&&l| l != parent) {
                        return Err(disagree(tag, &tags[other], parent_id));
                    }
                    Some(parent)
                }
                None => match listers {
                    [] => None,
                    [only] => Some(*only),
                    [first, second, ..] => {
                        let problem = format!(
                            "is listed as a child of both {} and {}",
                            describe(&tags[*first]),
                            describe(&tags[*second])
                        );
                        return Err(tag.record.invalid(&describe(tag), problem));
                    }
                },
            };
            tags[index].parent = parent;
        }
        let mut hierarchy = Hierarchy { tags, roots: Vec::new(), listed_only };
        hierarchy.check_acyclic()?;
        // Visiting the tags in name and ID order leaves every list of children in that order.
        let mut order: Vec<usize> = (0..hierarchy.tags.len()).collect();
        order.sort_by_key(|&i| {
            let tag = &hierarchy.tags[i];
            (tag.name, tag.id.len(), tag.id)
        });
        for index in order {
            match hierarchy.tags[index].parent {
                Some(parent) => hierarchy.tags[parent].children.push(index),
                None => hierarchy.roots.push(index),
            }
        }
        Ok(hierarchy)
    }

    fn check_acyclic(&self) -> Result<(), TransformError> {
        for (index, tag) in self.tags.iter().enumerate() {
            let mut current = tag.parent;
            for _ in 0..self.tags.len() {
                match current {
                    Some(parent) if parent == index => {
                        return Err(tag
                            .record
                            .invalid(&describe(tag), "is its own ancestor (the parents form a cycle)"));
                    }
                    Some(parent) => current = self.tags[parent].parent,
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Names from the root down to the tag.
    pub fn path(&self, index: usize) -> Vec<&'a str> {
        let mut path = vec![self.tags[index].name];
        let mut current = self.tags[index].parent;
        while let Some(parent) = current {
            path.push(self.tags[parent].name);
            current = self.tags[parent].parent;
        }
        path.reverse();
        path
    }

    /// The tag and everything below it, parents before children.
    pub fn subtree(&self, index: usize) -> Vec<usize> {
        let mut found = Vec::new();
        let mut pending = vec![index];
        while let Some(next) = pending.pop() {
            found.push(next);
            pending.extend(self.tags[next].children.iter().rev());
        }
        found
    }
}

/// How errors and the review name a tag.
pub fn describe(tag: &Tag<'_>) -> String {
    format!("tag {} \"{}\"", tag.id, tag.name)
}

fn disagree(tag: &Tag<'_>, lister: &Tag<'_>, parent_id: &str) -> TransformError {
    tag.record.invalid(
        &describe(tag),
        format!(
            "its parentTagId is {parent_id}, but {} lists it as a child: the pages were captured at different times; capture the tag search again",
            describe(lister)
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::export::{ExportFile, Kind};
    use crate::xml;

    fn export(tags: &str) -> ExportFile {
        let text =
            format!("<ServiceResponse><responseCode>SUCCESS</responseCode><data>{tags}</data></ServiceResponse>");
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(text.as_bytes()).expect("write");
        let document = xml::read_document(file.path(), "tags.xml", &["data/*"]).expect("parses");
        ExportFile { path: "tags.xml".to_owned(), kind: Kind::TagSearch, document }
    }

    fn read(file: &ExportFile) -> Result<Hierarchy<'_>, TransformError> {
        Hierarchy::read(file.records())
    }

    fn names(hierarchy: &Hierarchy<'_>, indices: &[usize]) -> Vec<String> {
        indices.iter().map(|&i| format!("{} {}", hierarchy.tags[i].name, hierarchy.tags[i].id)).collect()
    }

    #[test]
    fn parents_come_from_either_side_and_children_are_ordered_by_name_then_id() {
        let file = export(
            "<Tag><id>1</id><name>Root</name><children><list><TagSimple><id>10</id><name>b</name></TagSimple>\
             <TagSimple><id>9</id><name>b</name></TagSimple></list></children></Tag>\
             <Tag><id>10</id><name>b</name></Tag><Tag><id>9</id><name>b</name><parentTagId>1</parentTagId></Tag>\
             <Tag><id>2</id><name>a</name><parentTagId>1</parentTagId></Tag><Tag><id>3</id><name>Other</name></Tag>",
        );
        let hierarchy = read(&file).expect("valid");
        assert_eq!(names(&hierarchy, &hierarchy.roots), ["Other 3", "Root 1"]);
        assert_eq!(names(&hierarchy, &hierarchy.tags[0].children), ["a 2", "b 9", "b 10"]);
        assert_eq!(hierarchy.path(1), ["Root", "b"]);
        assert_eq!(hierarchy.subtree(0), [0, 3, 2, 1]);
    }

    #[test]
    fn children_known_only_from_the_list_are_kept() {
        let file = export(
            "<Tag><id>1</id><name>Root</name><children><list><TagSimple><id>7</id><name>seven</name></TagSimple>\
             </list></children></Tag>",
        );
        let hierarchy = read(&file).expect("valid");
        let listed = &hierarchy.listed_only[&0];
        assert_eq!((listed[0].id, listed[0].name), ("7", "seven"));
        assert!(hierarchy.tags[0].children.is_empty());
    }

    #[test]
    fn inconsistent_hierarchies_are_refused_naming_the_tag() {
        let cases = [
            ("<Tag><id>1</id><name>Lost</name><parentTagId>5</parentTagId></Tag>", "parent tag 5 is not in the export"),
            (
                "<Tag><id>1</id><name>A</name><parentTagId>2</parentTagId></Tag>\
                 <Tag><id>2</id><name>B</name><parentTagId>1</parentTagId></Tag>",
                "cycle",
            ),
            (
                "<Tag><id>1</id><name>A</name><children><list><TagSimple><id>3</id></TagSimple></list></children></Tag>\
                 <Tag><id>2</id><name>B</name><children><list><TagSimple><id>3</id></TagSimple></list></children></Tag>\
                 <Tag><id>3</id><name>C</name></Tag>",
                "is listed as a child of both tag 1 \"A\" and tag 2 \"B\"",
            ),
            ("<Tag><id>1</id></Tag>", "has no name"),
            (
                "<Tag><id>1</id><name>A</name><children><list><TagSimple><id>8</id></TagSimple></list></children></Tag>",
                "lists child tag 8 without a name",
            ),
        ];
        for (tags, problem) in cases {
            let file = export(tags);
            let message = read(&file).expect_err("refused").to_string();
            assert!(message.starts_with("tags.xml:1:") && message.contains(problem), "{message}");
        }
    }
}
