//! Responses as a small element tree. Qualys responses are small, but not always well formed:
//! some arrive with whitespace before the XML declaration, some are cut off before the root's
//! end tag. Both are read; a cut-off document is flagged, so that a response that merely looks
//! successful is never taken as proof that a request was executed.
//!
//! DOCTYPE declarations are skipped, never loaded; only the five predefined entities and
//! character references are resolved.

use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// The element's own character data (text, CDATA, references), concatenated, untrimmed.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub root: Element,
    /// False when the input ended before every element was closed.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not readable as XML: {0}")]
pub struct XmlError(String);

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Follows a `/`-separated path of child names, taking the first child at each step.
    pub fn path(&self, path: &str) -> Option<&Element> {
        path.split('/').filter(|step| !step.is_empty()).try_fold(self, |element, step| element.child(step))
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn trimmed_text(&self) -> &str {
        self.text.trim()
    }

    /// This element and every descendant, in document order.
    pub fn descendants(&self) -> Vec<&Element> {
        let mut found = Vec::new();
        let mut pending = vec![self];
        while let Some(element) = pending.pop() {
            found.push(element);
            pending.extend(element.children.iter().rev());
        }
        found
    }
}

/// Parses a response body. Leading whitespace and a byte-order mark are skipped.
pub fn parse(body: &[u8]) -> Result<Document, XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| XmlError("the body is not UTF-8".to_owned()))?;
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut open: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let error = |e: &dyn std::fmt::Display, at: u64| XmlError(format!("{e} (at byte {at})"));
    loop {
        let event = reader.read_event().map_err(|e| error(&e, reader.error_position()))?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(XmlError("content after the root element".to_owned()));
                }
                open.push(start_element(&start)?);
            }
            Event::Empty(start) => {
                let element = start_element(&start)?;
                close(element, &mut open, &mut root)?;
            }
            Event::End(_) => {
                let element = open.pop().ok_or_else(|| XmlError("unexpected end tag".to_owned()))?;
                close(element, &mut open, &mut root)?;
            }
            Event::Text(text) => append(&mut open, &text.xml_content(XmlVersion::Implicit1_0)),
            Event::CData(data) => append(&mut open, &data.xml_content(XmlVersion::Implicit1_0)),
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().map_err(|e| error(&e, reader.buffer_position()))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = reference.into_inner();
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| XmlError(format!("unknown entity &{name};")))?
                            .to_owned()
                    }
                };
                append(&mut open, &resolved);
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    let complete = open.is_empty();
    while let Some(element) = open.pop() {
        close(element, &mut open, &mut root)?;
    }
    let root = root.ok_or_else(|| XmlError("no root element".to_owned()))?;
    Ok(Document { root, complete })
}

fn start_element(start: &BytesStart<'_>) -> Result<Element, XmlError> {
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| XmlError(e.to_string()))?;
        let value = attribute.normalized_value(XmlVersion::Implicit1_0).map_err(|e| XmlError(e.to_string()))?;
        attributes.push((attribute.key.as_ref().to_owned(), value.into_owned()));
    }
    Ok(Element { name: start.name().as_ref().to_owned(), attributes, ..Element::default() })
}

fn close(element: Element, open: &mut [Element], root: &mut Option<Element>) -> Result<(), XmlError> {
    match open.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return Err(XmlError("more than one root element".to_owned())),
    }
    Ok(())
}

fn append(open: &mut [Element], text: &str) {
    // Text outside the root (whitespace, stray lines) carries no meaning.
    if let Some(element) = open.last_mut() {
        element.text.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_text_entities_attributes_and_cdata() {
        let doc = parse(b"\n  <?xml version=\"1.0\"?><!DOCTYPE R SYSTEM \"x.dtd\"><R a=\"1&amp;2\"><T>a &amp; b &#65;<![CDATA[<c>]]></T><E/></R>")
            .expect("parses");
        assert!(doc.complete);
        assert_eq!(doc.root.attribute("a"), Some("1&2"));
        assert_eq!(doc.root.path("T").map(Element::trimmed_text), Some("a & b A<c>"));
        assert!(doc.root.child("E").is_some());
    }

    #[test]
    fn flags_a_cut_off_document() {
        let doc = parse(b"<SIMPLE_RETURN><RESPONSE><CODE>1905</CODE></RESPONSE>").expect("parses");
        assert!(!doc.complete);
        assert_eq!(doc.root.path("RESPONSE/CODE").map(Element::trimmed_text), Some("1905"));
    }

    #[test]
    fn refuses_what_is_not_xml() {
        assert!(parse(b"plain text").is_err());
        assert!(parse(b"<a></b>").is_err());
        assert!(parse(b"<a/><b/>").is_err());
        assert!(parse(b"<a>&custom;</a>").is_err());
    }

    #[test]
    fn descendants_are_in_document_order() {
        let doc = parse(b"<a><b><c/></b><d/></a>").expect("parses");
        let names: Vec<&str> = doc.root.descendants().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
    }
}
