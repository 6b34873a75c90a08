//! A small XML tree used for every document the simulator reads or writes.
//!
//! Reading goes through quick-xml (DTDs are never loaded, entities other than the five
//! predefined ones are refused). Writing produces the layout Qualys uses: a declaration, an
//! optional DOCTYPE, two-space indentation and CDATA where Qualys puts CDATA, so that documents
//! are byte-stable for the same content.

use std::fmt::Write as _;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// An XML document could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{message} (at byte {position})")]
pub struct XmlError {
    message: String,
    position: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
    CData(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

impl Element {
    pub fn new(name: impl Into<String>) -> Self {
        Element { name: name.into(), attrs: Vec::new(), children: Vec::new() }
    }

    /// `<NAME>value</NAME>`, escaped.
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> Self {
        let mut el = Element::new(name);
        el.children.push(Node::Text(value.into()));
        el
    }

    /// `<NAME><![CDATA[value]]></NAME>`, as Qualys writes free-text fields.
    pub fn cdata(name: impl Into<String>, value: impl Into<String>) -> Self {
        let mut el = Element::new(name);
        el.children.push(Node::CData(value.into()));
        el
    }

    pub fn attr(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attrs.push((key.into(), value.into()));
        self
    }

    /// Appends character data (for elements that mix attributes and text).
    pub fn content(mut self, text: impl Into<String>) -> Self {
        self.children.push(Node::Text(text.into()));
        self
    }

    pub fn child(mut self, el: Element) -> Self {
        self.children.push(Node::Element(el));
        self
    }

    pub fn push(&mut self, el: Element) {
        self.children.push(Node::Element(el));
    }

    /// Appends `el` when present; optional fields are left out rather than written empty.
    pub fn push_opt(&mut self, el: Option<Element>) {
        if let Some(el) = el {
            self.push(el);
        }
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.elements().filter(move |e| e.name == name)
    }

    /// Follows child names from this element.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |el, name| el.get(name))
    }

    /// Depth-first search for the first element with this name (this element included).
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.elements().find_map(|e| e.find(name))
    }

    /// Mutable counterpart of [`Element::get`].
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.children.iter_mut().find_map(|n| match n {
            Node::Element(e) if e.name == name => Some(e),
            _ => None,
        })
    }

    /// The named child, appended first when missing.
    pub fn entry(&mut self, name: &str) -> &mut Element {
        let index = match self.children.iter().position(|n| matches!(n, Node::Element(e) if e.name == name)) {
            Some(i) => i,
            None => {
                self.push(Element::new(name));
                self.children.len() - 1
            }
        };
        match &mut self.children[index] {
            Node::Element(e) => e,
            // `position` only finds elements and `push` appends one.
            _ => unreachable!("entry index points at an element"),
        }
    }

    /// Replaces the text of the named child, creating it at the front when missing.
    pub fn set_child_text(&mut self, name: &str, value: &str) {
        match self.get_mut(name) {
            Some(el) => el.children = vec![Node::Text(value.to_owned())],
            None => self.children.insert(0, Node::Element(Element::text(name, value))),
        }
    }

    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The element's character data (text and CDATA joined), trimmed as every Qualys
    /// consumer trims it: captured documents pad values with spaces and newlines.
    pub fn value(&self) -> String {
        let mut out = String::new();
        for node in &self.children {
            match node {
                Node::Text(t) | Node::CData(t) => out.push_str(t),
                Node::Element(_) => {}
            }
        }
        out.trim().to_owned()
    }

    /// The trimmed value of a child, `None` when the child is missing.
    pub fn child_value(&self, name: &str) -> Option<String> {
        self.get(name).map(Element::value)
    }

    /// The trimmed value of a child, `None` when the child is missing or empty.
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.child_value(name).filter(|v| !v.is_empty())
    }

    fn write(&self, out: &mut String, depth: usize) {
        let indent = "  ".repeat(depth);
        let _ = write!(out, "{indent}<{}", self.name);
        for (k, v) in &self.attrs {
            let _ = write!(out, " {k}=\"{}\"", escape(v, true));
        }
        if self.children.is_empty() {
            out.push_str("/>\n");
            return;
        }
        let has_elements = self.children.iter().any(|n| matches!(n, Node::Element(_)));
        if !has_elements {
            out.push('>');
            for node in &self.children {
                write_character_data(node, out);
            }
            let _ = writeln!(out, "</{}>", self.name);
            return;
        }
        out.push_str(">\n");
        for node in &self.children {
            match node {
                Node::Element(e) => e.write(out, depth + 1),
                Node::Text(t) if t.trim().is_empty() => {}
                other => {
                    out.push_str(&"  ".repeat(depth + 1));
                    write_character_data(other, out);
                    out.push('\n');
                }
            }
        }
        let _ = writeln!(out, "{indent}</{}>", self.name);
    }
}

fn write_character_data(node: &Node, out: &mut String) {
    match node {
        Node::Text(t) => out.push_str(&escape(t, false)),
        // "]]>" cannot appear inside a CDATA section: split it across two sections.
        Node::CData(t) => {
            let _ = write!(out, "<![CDATA[{}]]>", t.replace("]]>", "]]]]><![CDATA[>"));
        }
        Node::Element(_) => {}
    }
}

fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A document to send or write: the root element and, as Qualys sends for most documents,
/// a DOCTYPE naming the DTD.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub root: Element,
    pub dtd: Option<String>,
}

impl Document {
    pub fn new(root: Element) -> Self {
        Document { root, dtd: None }
    }

    pub fn with_dtd(root: Element, dtd_url: impl Into<String>) -> Self {
        Document { root, dtd: Some(dtd_url.into()) }
    }

    pub fn to_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n");
        if let Some(dtd) = &self.dtd {
            let _ = writeln!(out, "<!DOCTYPE {} SYSTEM \"{dtd}\">", self.root.name);
        }
        self.root.write(&mut out, 0);
        out
    }
}

/// A document as read: the root element and the raw DOCTYPE declaration, if any.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub root: Element,
    pub doctype: Option<String>,
}

/// Reads a whole document. Whitespace-only text between elements is dropped; comments,
/// processing instructions and anything after the root element are ignored.
pub(crate) fn parse(text: &str) -> Result<Parsed, XmlError> {
    // Captured files sometimes carry a BOM or stray whitespace before the declaration.
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut pending = String::new();
    let mut doctype = None;
    let fail = |reader: &Reader<&[u8]>, message: String| XmlError { message, position: reader.buffer_position() };
    loop {
        let event = reader.read_event().map_err(|e| fail(&reader, e.to_string()))?;
        if !matches!(event, Event::Text(_) | Event::GeneralRef(_)) {
            flush_text(&mut pending, &mut stack);
        }
        match event {
            Event::Start(start) => stack.push(open(&start).map_err(|e| fail(&reader, e))?),
            Event::Empty(start) => {
                let el = open(&start).map_err(|e| fail(&reader, e))?;
                if let Some(done) = close(&mut stack, el) {
                    return Ok(Parsed { root: done, doctype });
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| fail(&reader, "unexpected end tag".into()))?;
                if let Some(done) = close(&mut stack, el) {
                    return Ok(Parsed { root: done, doctype });
                }
            }
            Event::Text(t) => {
                if !stack.is_empty() {
                    pending.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| fail(&reader, e.to_string()))? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r)
                        .ok_or_else(|| fail(&reader, format!("unknown entity &{};", &*r)))?
                        .to_owned(),
                };
                if !stack.is_empty() {
                    pending.push_str(&resolved);
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.children.push(Node::CData(c.xml10_content().into_owned()));
                }
            }
            Event::DocType(d) => doctype = Some(d.xml10_content().trim().to_owned()),
            Event::Eof => return Err(fail(&reader, "no complete root element".into())),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
}

/// An element from its start tag, attributes normalised as XML 1.0 requires.
fn open(start: &BytesStart<'_>) -> Result<Element, String> {
    let mut el = Element::new(start.name().into_inner());
    for attr in start.attributes() {
        let attr = attr.map_err(|e| e.to_string())?;
        let value = attr.normalized_value(XmlVersion::Implicit1_0).map_err(|e| e.to_string())?;
        el.attrs.push((attr.key.into_inner().to_owned(), value.into_owned()));
    }
    Ok(el)
}

fn flush_text(pending: &mut String, stack: &mut [Element]) {
    if !pending.trim().is_empty()
        && let Some(top) = stack.last_mut()
    {
        top.children.push(Node::Text(pending.clone()));
    }
    pending.clear();
}

/// Attaches a finished element to its parent; returns it when it was the root.
fn close(stack: &mut [Element], el: Element) -> Option<Element> {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(Node::Element(el));
            None
        }
        None => Some(el),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_qualys_layout_and_reads_it_back() {
        let root = Element::new("LIST")
            .child(Element::text("ID", "7"))
            .child(Element::cdata("NAME", "DMZ & <Partners> ]]> end"))
            .child(Element::new("EMPTY").attr("note", "a\"b"));
        let doc = Document::with_dtd(root.clone(), "https://example.invalid/list.dtd");
        let xml = doc.to_xml();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<!DOCTYPE LIST SYSTEM"));
        assert!(xml.contains("  <ID>7</ID>\n"));
        let parsed = parse(&xml).expect("well-formed");
        assert_eq!(parsed.root.child_value("NAME").as_deref(), Some("DMZ & <Partners> ]]> end"));
        assert_eq!(parsed.root.path(&["EMPTY"]).and_then(|e| e.attribute("note")), Some("a\"b"));
        assert_eq!(parsed.doctype.as_deref(), Some("LIST SYSTEM \"https://example.invalid/list.dtd\""));
        assert_eq!(
            parse(&Document::new(parsed.root).to_xml()).expect("again").root.child_value("ID"),
            Some("7".into())
        );
    }

    #[test]
    fn joins_text_split_by_entities_and_ignores_trailing_comments() {
        let parsed = parse("\u{feff} <A><B>t &amp; u &#233;</B></A>\n<!-- trailer -->").expect("parse");
        assert_eq!(parsed.root.child_value("B").as_deref(), Some("t & u é"));
    }

    #[test]
    fn refuses_unknown_entities_and_truncated_documents() {
        assert!(parse("<A>&custom;</A>").is_err());
        assert!(parse("<A><B>").is_err());
    }
}
