//! XML plumbing shared by every task: a streaming reader that cuts a document into small record
//! subtrees (so memory follows the largest object, not the largest file), with line numbers for
//! error messages, and the escaping used when bodies are written.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use sha2::{Digest as _, Sha256};

use crate::error::{TransformError, XmlProblem};

/// An element and its subtree, with the line it starts on.
#[derive(Debug, Clone, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// Character data directly inside the element (text and CDATA joined), untrimmed.
    pub text: String,
    pub line: u64,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The items of a list, by path: `NETBLOCK/RANGE` is every RANGE child of the NETBLOCK
    /// child; nothing when the list is missing.
    pub fn all<'a>(&'a self, path: &str) -> impl Iterator<Item = &'a Element> {
        let (list, item) = path.rsplit_once('/').unwrap_or(("", path));
        let list = if list.is_empty() { Some(self) } else { self.at(list) };
        list.into_iter().flat_map(|l| &l.children).filter(move |c| c.name == item)
    }

    /// The element at a `/`-separated path of child names below this one.
    pub fn at(&self, path: &str) -> Option<&Element> {
        path.split('/').try_fold(self, |element, name| element.child(name))
    }

    /// Trimmed text of the element at `path`; `None` when it is missing or blank.
    pub fn text_at(&self, path: &str) -> Option<&str> {
        self.at(path).map(|e| e.text.trim()).filter(|t| !t.is_empty())
    }

    /// Trimmed text of this element.
    pub fn value(&self) -> &str {
        self.text.trim()
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every element below this one, depth first, in document order.
    pub fn descendants(&self) -> Vec<&Element> {
        let mut found = Vec::new();
        let mut pending: Vec<&Element> = self.children.iter().rev().collect();
        while let Some(element) = pending.pop() {
            found.push(element);
            pending.extend(element.children.iter().rev());
        }
        found
    }

    /// Structural equality that ignores line numbers and surrounding whitespace of text: two
    /// pages listing the same object are the same object.
    pub fn same_content(&self, other: &Element) -> bool {
        self.name == other.name
            && self.attrs == other.attrs
            && self.text.trim() == other.text.trim()
            && self.children.len() == other.children.len()
            && self.children.iter().zip(&other.children).all(|(a, b)| a.same_content(b))
    }
}

/// A document cut into its records and the rest ("head": the root with everything that is not
/// a record, e.g. the echoed request, the truncation warning).
#[derive(Debug, Clone)]
pub struct Document {
    pub doctype: Option<String>,
    pub head: Element,
    pub records: Vec<Element>,
    pub sha256: String,
}

/// Where the records of a document are, as paths of element names below the root; `*` matches
/// any name in the last position.
pub type RecordPaths = &'static [&'static str];

/// The first things a file says about itself: its root element and DOCTYPE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prologue {
    pub root: String,
    pub doctype: Option<String>,
}

/// Reads just enough of a file to know its root element. `Ok(None)` when the file is not XML
/// at all (no root element could be read), so it can be listed rather than rejected.
pub fn sniff(path: &Path, display: &str) -> Result<Option<Prologue>, TransformError> {
    let file = File::open(path).map_err(|source| TransformError::Io { path: path.to_path_buf(), source })?;
    let mut reader = quick_xml::Reader::from_reader(BufReader::new(file));
    let mut buf = Vec::new();
    let mut doctype = None;
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf) {
            Ok(Event::DocType(text)) => doctype = Some(text.xml_content(XmlVersion::Implicit1_0).trim().to_owned()),
            Ok(Event::Start(start) | Event::Empty(start)) => {
                let root = element_name(&start, display, 1)?;
                return Ok(Some(Prologue { root, doctype }));
            }
            Ok(Event::Eof) | Err(_) => return Ok(None),
            Ok(Event::Text(text)) if !text.xml_content(XmlVersion::Implicit1_0).trim().is_empty() => return Ok(None),
            Ok(_) => {}
        }
    }
}

/// Streams `path`, hashing every byte, and returns its records at `records` and the head.
pub fn read_document(path: &Path, display: &str, records: RecordPaths) -> Result<Document, TransformError> {
    let file = File::open(path).map_err(|source| TransformError::Io { path: path.to_path_buf(), source })?;
    let mut tracked = Tracked::new(BufReader::with_capacity(64 * 1024, file));
    let parsed = parse(&mut tracked, display, records);
    let document = match parsed {
        Ok(document) => document,
        Err(Failure::Xml { offset, problem }) => {
            let (line, column) = line_and_column(path, offset);
            return Err(TransformError::Xml { file: display.to_owned(), line, column, problem });
        }
        Err(Failure::Other(error)) => return Err(error),
    };
    // Drain anything after the root (comments, whitespace) so the hash covers the whole file.
    io::copy(&mut tracked, &mut io::sink())
        .map_err(|source| TransformError::Io { path: path.to_path_buf(), source })?;
    Ok(Document { sha256: hex::encode(tracked.hasher.finalize()), ..document })
}

enum Failure {
    Xml { offset: u64, problem: XmlProblem },
    Other(TransformError),
}

impl From<TransformError> for Failure {
    fn from(error: TransformError) -> Self {
        Failure::Other(error)
    }
}

fn parse<R: BufRead>(tracked: &mut Tracked<R>, display: &str, records: RecordPaths) -> Result<Document, Failure> {
    let mut reader = quick_xml::Reader::from_reader(tracked);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut doctype = None;
    // Open elements from the root down; `record_depth` is set while inside a record.
    let mut open: Vec<Element> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut record_depth: Option<usize> = None;
    let mut found: Vec<Element> = Vec::new();
    let mut head: Option<Element> = None;
    loop {
        buf.clear();
        let event = reader.read_event_into(&mut buf);
        let line = reader.get_ref().line;
        let xml_error = |problem: XmlProblem, offset: u64| Failure::Xml { offset, problem };
        let event = match event {
            Ok(event) => event,
            Err(error) => return Err(xml_error(XmlProblem::Syntax(error.to_string()), reader.error_position())),
        };
        let offset = reader.buffer_position();
        match event {
            Event::DocType(text) if open.is_empty() => {
                doctype = Some(text.xml_content(XmlVersion::Implicit1_0).trim().to_owned());
            }
            Event::Start(_) | Event::Empty(_) if head.is_some() => {
                return Err(xml_error(XmlProblem::Syntax("a second root element".into()), offset));
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                let mut element = Element { name: element_name(start, display, line)?, line, ..Element::default() };
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| xml_error(XmlProblem::Syntax(e.to_string()), offset))?;
                    let value = attr
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|e| xml_error(XmlProblem::Syntax(e.to_string()), offset))?;
                    element.attrs.push((attr.key.into_inner().to_owned(), value.into_owned()));
                }
                names.push(element.name.clone());
                if record_depth.is_none() && is_record(&names, records) {
                    record_depth = Some(names.len());
                }
                open.push(element);
                if empty {
                    close(&mut open, &mut names, &mut record_depth, &mut found, &mut head);
                }
            }
            Event::End(_) => close(&mut open, &mut names, &mut record_depth, &mut found, &mut head),
            Event::Text(text) => {
                let content = text.xml_content(XmlVersion::Implicit1_0);
                append_text(&mut open, &content).map_err(|p| xml_error(p, offset))?;
            }
            Event::CData(data) => {
                let content = data.xml_content(XmlVersion::Implicit1_0);
                append_text(&mut open, &content).map_err(|p| xml_error(p, offset))?;
            }
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    reference.resolve_char_ref().ok().flatten().map(String::from)
                } else {
                    let name = reference.xml_content(XmlVersion::Implicit1_0);
                    quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned)
                };
                let name = reference.xml_content(XmlVersion::Implicit1_0).into_owned();
                let text = resolved.ok_or_else(|| xml_error(XmlProblem::UnknownEntity(name), offset))?;
                append_text(&mut open, &text).map_err(|p| xml_error(p, offset))?;
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    let head = head.ok_or(Failure::Xml { offset: 0, problem: XmlProblem::NoRoot })?;
    Ok(Document { doctype, head, records: found, sha256: String::new() })
}

fn element_name(start: &BytesStart<'_>, display: &str, line: u64) -> Result<String, TransformError> {
    let name = start.name();
    let name = name.into_inner();
    if name.is_empty() {
        return Err(TransformError::Xml {
            file: display.to_owned(),
            line,
            column: 1,
            problem: XmlProblem::Syntax("element without a name".into()),
        });
    }
    Ok(name.to_owned())
}

fn is_record(names: &[String], records: RecordPaths) -> bool {
    // names[0] is the root; record paths are relative to it.
    records.iter().any(|path| {
        let parts: Vec<&str> = path.split('/').collect();
        parts.len() + 1 == names.len()
            && parts
                .iter()
                .zip(&names[1..])
                .enumerate()
                .all(|(i, (want, have))| *want == have || (*want == "*" && i + 1 == parts.len()))
    })
}

fn append_text(open: &mut [Element], text: &str) -> Result<(), XmlProblem> {
    match open.last_mut() {
        Some(element) => {
            element.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlProblem::Syntax("text outside the root element".into())),
    }
}

fn close(
    open: &mut Vec<Element>,
    names: &mut Vec<String>,
    record_depth: &mut Option<usize>,
    found: &mut Vec<Element>,
    head: &mut Option<Element>,
) {
    let Some(element) = open.pop() else { return };
    let depth = names.len();
    names.pop();
    if *record_depth == Some(depth) {
        *record_depth = None;
        found.push(element);
    } else if let Some(parent) = open.last_mut() {
        parent.children.push(element);
    } else {
        *head = Some(element);
    }
}

/// Line and column (1-based, in characters) of a byte offset, read again from the file: only
/// used on the error path, so the fast path never keeps the file in memory.
fn line_and_column(path: &Path, offset: u64) -> (u64, u64) {
    let Ok(bytes) = std::fs::read(path) else { return (0, 0) };
    let end = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
    let before = &bytes[..end];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() as u64 + 1;
    (line, column)
}

/// A reader that hashes every byte and counts lines as the XML parser consumes them.
struct Tracked<R> {
    inner: R,
    hasher: Sha256,
    /// The line of the next byte to be consumed (1-based).
    line: u64,
}

impl<R: BufRead> Tracked<R> {
    fn new(inner: R) -> Self {
        Tracked { inner, hasher: Sha256::new(), line: 1 }
    }

    fn account(&mut self, bytes_len: usize) {
        if let Ok(buffer) = self.inner.fill_buf() {
            let consumed = &buffer[..bytes_len.min(buffer.len())];
            self.hasher.update(consumed);
            self.line += consumed.iter().filter(|&&b| b == b'\n').count() as u64;
        }
    }
}

impl<R: BufRead> Read for Tracked<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.inner.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Tracked<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.account(amount);
        self.inner.consume(amount);
    }
}

/// Escapes text for XML character data and attribute values.
pub fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn doc(text: &str, records: RecordPaths) -> Result<Document, TransformError> {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(text.as_bytes()).expect("write");
        read_document(file.path(), "t.xml", records)
    }

    #[test]
    fn records_carry_their_line_and_joined_text() {
        let text = "<?xml version=\"1.0\"?>\n<L>\n <R>\n  <ID>1</ID>\n  <N><![CDATA[a & b]]></N>\n </R>\n <R><ID>2</ID><N>t &amp; u &#233;</N></R>\n</L>\n";
        let document = doc(text, &["R"]).expect("parses");
        assert_eq!(document.head.name, "L");
        assert_eq!(document.records.len(), 2);
        assert_eq!(document.records[0].line, 3);
        assert_eq!(document.records[0].text_at("N"), Some("a & b"));
        assert_eq!(document.records[1].line, 7);
        assert_eq!(document.records[1].text_at("N"), Some("t & u é"));
        assert_eq!(document.sha256, qmig_schemas::sha256_hex(text.as_bytes()));
    }

    #[test]
    fn wildcard_records_and_head_are_split() {
        let text =
            "<O><REQUEST><P>x</P></REQUEST><RESPONSE><SET><IP>1</IP><IP_RANGE>2-3</IP_RANGE></SET></RESPONSE></O>";
        let document = doc(text, &["RESPONSE/SET/*"]).expect("parses");
        let names: Vec<&str> = document.records.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["IP", "IP_RANGE"]);
        assert_eq!(document.head.text_at("REQUEST/P"), Some("x"));
        assert!(document.head.at("RESPONSE/SET").is_some_and(|s| s.children.is_empty()));
    }

    #[test]
    fn list_items_are_found_by_path() {
        let document = doc("<L><N><R>1</R><X/><R>2</R></N></L>", &[]).expect("parses");
        let items: Vec<&str> = document.head.all("N/R").map(Element::value).collect();
        assert_eq!(items, ["1", "2"]);
        assert_eq!(document.head.all("N").count(), 1);
        assert_eq!(document.head.all("missing/R").count(), 0);
    }

    #[test]
    fn malformed_xml_names_line_and_column() {
        let err = doc("<L>\n  <R><ID>1</ID></X>\n</L>\n", &["R"]).expect_err("mismatched end");
        match err {
            TransformError::Xml { file, line, .. } => {
                assert_eq!(file, "t.xml");
                assert_eq!(line, 2);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_entities_are_refused() {
        let err = doc("<L><R>&custom;</R></L>", &["R"]).expect_err("entity");
        assert!(matches!(err, TransformError::Xml { problem: XmlProblem::UnknownEntity(ref e), .. } if e == "custom"));
    }
}
