//! XML plumbing shared by every task: a streaming reader that cuts a document into small record
//! subtrees (so memory follows the largest object, not the largest file), with line numbers for
//! error messages, and the escaping used when bodies are written. It reads UTF-8 and UTF-16
//! with a byte order mark, refuses the characters XML forbids wherever they are, and tells a
//! damaged capture (refused with its position) from a file that was never XML (listed).

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

    /// The element as indented XML markup, text and attributes escaped. Whitespace between
    /// children is not kept: the documents qmig sends again hold no mixed content.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(0, &mut out);
        out
    }

    fn write_xml(&self, depth: usize, out: &mut String) {
        let indent = "  ".repeat(depth);
        out.push_str(&indent);
        out.push('<');
        out.push_str(&self.name);
        for (name, value) in &self.attrs {
            out.push_str(&format!(" {name}=\"{}\"", escape(value)));
        }
        out.push('>');
        if self.children.is_empty() {
            out.push_str(&escape(&self.text));
        } else {
            out.push('\n');
            if !self.text.trim().is_empty() {
                out.push_str(&format!("{indent}  {}\n", escape(self.text.trim())));
            }
            for child in &self.children {
                child.write_xml(depth + 1, out);
            }
            out.push_str(&indent);
        }
        out.push_str(&format!("</{}>\n", self.name));
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
    /// The line of the root element's start tag.
    pub line: u64,
}

/// What the first bytes of a file say it is, before any parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// Starts like XML, announces itself as XML, or is named `.xml`: parsed, and refused with
    /// its position when damaged.
    Xml,
    /// Nothing but whitespace: an interrupted or failed capture.
    Empty,
    /// HTTP response headers before the document (`curl -i`); holds the status line.
    HttpHeaders(String),
    /// Text or binary that does not claim to be XML (a README, a log): listed, not read.
    NotXml,
}

/// How many decoded bytes `classify` looks at.
const SHAPE_WINDOW: usize = 1024;

/// Tells a damaged capture from a file that was never XML, from the first bytes (decoded from
/// UTF-16 when the file has that byte order mark) and, only to break the tie for a file that
/// starts with neither markup nor plain text, its `.xml` name.
pub fn classify(path: &Path, display: &str) -> Result<Shape, TransformError> {
    let io_error = |source| TransformError::Io { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io_error)?;
    let mut head = Vec::with_capacity(SHAPE_WINDOW);
    // A file that is not valid UTF-16 after its byte order mark is still XML: the parser names
    // the position of the damage.
    if Decoded::new(file).take(SHAPE_WINDOW as u64).read_to_end(&mut head).is_err() {
        return Ok(Shape::Xml);
    }
    let text = String::from_utf8_lossy(&head);
    let content = text.trim_start();
    if content.is_empty() {
        return Ok(Shape::Empty);
    }
    if content.starts_with("HTTP/") {
        let status = content.lines().next().unwrap_or_default().trim().to_owned();
        return Ok(Shape::HttpHeaders(status));
    }
    let announced = content.starts_with('<') || text.contains("<?xml") || text.contains("<!DOCTYPE");
    let named = display.rsplit('.').next().is_some_and(|ext| ext.eq_ignore_ascii_case("xml"));
    Ok(if announced || named { Shape::Xml } else { Shape::NotXml })
}

/// Reads a file up to its root element's start tag: its root element and DOCTYPE. Anything
/// wrong before it (a truncated prologue, a forbidden character) is refused with its position.
pub fn sniff(path: &Path, display: &str) -> Result<Prologue, TransformError> {
    let document = read(path, display, Cut::Prologue)?;
    Ok(Prologue { root: document.head.name, doctype: document.doctype, line: document.head.line })
}

/// Streams `path`, hashing every byte, and returns its records at `records` and the head.
pub fn read_document(path: &Path, display: &str, records: RecordPaths) -> Result<Document, TransformError> {
    read(path, display, Cut::Records(records))
}

/// Streams `path` through to its end, so that damage anywhere is found, and keeps only its
/// outline: the root, its children and grandchildren, without anything deeper. Enough to tell
/// a captured error from a document of a kind qmig does not read, in bounded memory.
pub fn read_outline(path: &Path, display: &str) -> Result<Document, TransformError> {
    read(path, display, Cut::Outline)
}

/// How much of a document the parser keeps.
#[derive(Clone, Copy)]
enum Cut {
    /// Stop at the root element's start tag.
    Prologue,
    /// Cut the records at these paths out of the head.
    Records(RecordPaths),
    /// Keep the elements down to `OUTLINE_DEPTH` (the root is depth 1).
    Outline,
}

/// The depth `Cut::Outline` keeps: `ROOT/RESPONSE/CODE`, `ROOT/RETURN/MESSAGE`.
const OUTLINE_DEPTH: usize = 3;

fn read(path: &Path, display: &str, cut: Cut) -> Result<Document, TransformError> {
    let io_error = |source| TransformError::Io { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io_error)?;
    let mut tracked = Tracked::new(BufReader::with_capacity(64 * 1024, Decoded::new(file)));
    let document = match parse(&mut tracked, display, cut) {
        Ok(document) => document,
        Err(Failure::Xml { offset, problem }) => {
            let (line, column) = line_and_column(path, offset);
            return Err(TransformError::Xml { file: display.to_owned(), line, column, problem });
        }
        Err(Failure::Other(error)) => return Err(error),
    };
    if matches!(cut, Cut::Prologue) {
        return Ok(document);
    }
    // Drain anything the parser did not need so the hash covers the whole file.
    io::copy(&mut tracked, &mut io::sink()).map_err(io_error)?;
    let hasher = tracked.inner.into_inner().hasher;
    Ok(Document { sha256: hex::encode(hasher.finalize()), ..document })
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

/// The open elements of a document being read, and what has been cut from them so far.
struct Tree {
    cut: Cut,
    /// Open elements from the root down.
    open: Vec<Element>,
    names: Vec<String>,
    /// Set while inside a record: the depth of its element.
    record_depth: Option<usize>,
    /// Elements below the outline depth that are open, and not kept.
    skipped: usize,
    found: Vec<Element>,
    head: Option<Element>,
}

impl Tree {
    fn start(&mut self, element: Element) {
        if matches!(self.cut, Cut::Outline) && self.open.len() >= OUTLINE_DEPTH {
            self.skipped += 1;
            return;
        }
        self.names.push(element.name.clone());
        if let Cut::Records(records) = self.cut
            && self.record_depth.is_none()
            && is_record(&self.names, records)
        {
            self.record_depth = Some(self.names.len());
        }
        self.open.push(element);
    }

    fn end(&mut self) {
        if self.skipped > 0 {
            self.skipped -= 1;
            return;
        }
        let Some(element) = self.open.pop() else { return };
        let depth = self.names.len();
        self.names.pop();
        if self.record_depth == Some(depth) {
            self.record_depth = None;
            self.found.push(element);
        } else if let Some(parent) = self.open.last_mut() {
            parent.children.push(element);
        } else {
            self.head = Some(element);
        }
    }

    fn text(&mut self, text: &str) -> Result<(), XmlProblem> {
        if self.skipped > 0 {
            return Ok(());
        }
        match self.open.last_mut() {
            Some(element) => {
                element.text.push_str(text);
                Ok(())
            }
            None if text.trim().is_empty() => Ok(()),
            None if self.head.is_some() => Err(XmlProblem::Syntax("text after the root element".into())),
            None => Err(XmlProblem::Syntax("text before the root element".into())),
        }
    }
}

fn parse<R: BufRead>(tracked: &mut Tracked<R>, display: &str, cut: Cut) -> Result<Document, Failure> {
    let mut reader = quick_xml::Reader::from_reader(tracked);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut doctype = None;
    let mut tree = Tree {
        cut,
        open: Vec::new(),
        names: Vec::new(),
        record_depth: None,
        skipped: 0,
        found: Vec::new(),
        head: None,
    };
    loop {
        buf.clear();
        let event = reader.read_event_into(&mut buf);
        let line = reader.get_ref().line;
        // A forbidden character is named before whatever the parser made of it.
        if let Some((offset, character)) = reader.get_ref().forbidden {
            return Err(Failure::Xml {
                offset,
                problem: XmlProblem::ForbiddenCharacter { character, reference: false },
            });
        }
        let xml_error = |problem: XmlProblem, offset: u64| Failure::Xml { offset, problem };
        let event = match event {
            Ok(event) => event,
            Err(error) => return Err(xml_error(XmlProblem::Syntax(error.to_string()), reader.error_position())),
        };
        let offset = reader.buffer_position();
        match event {
            Event::DocType(text) if tree.open.is_empty() => {
                doctype = Some(text.xml_content(XmlVersion::Implicit1_0).trim().to_owned());
            }
            Event::Start(_) | Event::Empty(_) if tree.head.is_some() => {
                return Err(xml_error(XmlProblem::Syntax("a second root element".into()), offset));
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                let mut element = Element { name: element_name(start, display, line)?, line, ..Element::default() };
                if matches!(cut, Cut::Prologue) {
                    return Ok(Document { doctype, head: element, records: Vec::new(), sha256: String::new() });
                }
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| xml_error(XmlProblem::Syntax(e.to_string()), offset))?;
                    let value = attr
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|e| xml_error(XmlProblem::Syntax(e.to_string()), offset))?;
                    // Raw characters were checked as they were read: what remains is a reference.
                    if let Some(character) = value.chars().find(|&c| forbidden(c)) {
                        return Err(xml_error(XmlProblem::ForbiddenCharacter { character, reference: true }, offset));
                    }
                    element.attrs.push((attr.key.into_inner().to_owned(), value.into_owned()));
                }
                tree.start(element);
                if matches!(event, Event::Empty(_)) {
                    tree.end();
                }
            }
            Event::End(_) => tree.end(),
            Event::Text(text) => {
                tree.text(&text.xml_content(XmlVersion::Implicit1_0)).map_err(|p| xml_error(p, offset))?;
            }
            Event::CData(data) => {
                let content = data.xml_content(XmlVersion::Implicit1_0);
                // A `]]>` lost to damage makes the section run on to the end of the next one: the
                // document stays well-formed while the records in between vanish into one text.
                if content.contains("<![CDATA[") {
                    return Err(xml_error(XmlProblem::UnterminatedCdata, offset));
                }
                tree.text(&content).map_err(|p| xml_error(p, offset))?;
            }
            Event::GeneralRef(reference) => {
                let name = reference.xml_content(XmlVersion::Implicit1_0).into_owned();
                let text = if reference.is_char_ref() {
                    let character = reference.resolve_char_ref().ok().flatten();
                    let character = character.ok_or_else(|| xml_error(XmlProblem::InvalidReference(name), offset))?;
                    if forbidden(character) {
                        let problem = XmlProblem::ForbiddenCharacter { character, reference: true };
                        return Err(xml_error(problem, offset));
                    }
                    String::from(character)
                } else {
                    let resolved = quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned);
                    resolved.ok_or_else(|| xml_error(XmlProblem::UnknownEntity(name), offset))?
                };
                tree.text(&text).map_err(|p| xml_error(p, offset))?;
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    let offset = reader.buffer_position();
    if !tree.open.is_empty() {
        let problem = XmlProblem::Syntax(format!("the file ends inside <{}>", tree.names.join("/")));
        return Err(Failure::Xml { offset, problem });
    }
    let head = tree.head.ok_or(Failure::Xml { offset, problem: XmlProblem::NoRoot })?;
    Ok(Document { doctype, head, records: tree.found, sha256: String::new() })
}

/// Whether XML forbids a character, raw or as a reference: the C0 controls other than tab and
/// line ends, and the non-characters U+FFFE and U+FFFF. DEL is allowed by XML 1.0 but no Qualys
/// value holds it and a terminal acts on it, so it is refused with them.
fn forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}' | '\u{fffe}' | '\u{ffff}')
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

/// Line and column (1-based, in characters) of an offset into the decoded text, read again
/// from the file: only used on the error path, so the fast path never keeps the file in memory.
fn line_and_column(path: &Path, offset: u64) -> (u64, u64) {
    let mut bytes = Vec::new();
    let Ok(file) = File::open(path) else { return (0, 0) };
    // A decoding failure still leaves the text up to it, which is all that is counted.
    let _ = Decoded::new(file).take(offset).read_to_end(&mut bytes);
    let line = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let line_start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&bytes[line_start..]).chars().count() as u64 + 1;
    (line, column)
}

/// A document's bytes in UTF-8: as they are, unless they are UTF-16 with a byte order mark,
/// which are decoded, and whose XML declaration then names UTF-8.
pub fn as_utf8(bytes: Vec<u8>) -> io::Result<Vec<u8>> {
    if !(bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF])) {
        return Ok(bytes);
    }
    let mut text = String::new();
    Decoded::new(bytes.as_slice()).read_to_string(&mut text)?;
    if let Some(value) = declared_encoding(&text) {
        text.replace_range(value, "UTF-8");
    }
    Ok(text.into_bytes())
}

/// Where the value of the XML declaration's `encoding` is (`UTF-16` of `encoding="UTF-16"`).
fn declared_encoding(text: &str) -> Option<std::ops::Range<usize>> {
    let declaration = &text[..text.find("?>").filter(|_| text.starts_with("<?xml"))?];
    let after_name = declaration.find("encoding")? + "encoding".len();
    let after_equals = after_name + declaration[after_name..].find('=')? + 1;
    let quote_at = after_equals + declaration[after_equals..].find(['"', '\''])?;
    let quote = &declaration[quote_at..=quote_at];
    let start = quote_at + 1;
    Some(start..start + declaration[start..].find(quote)?)
}

/// The encodings an export file comes in: UTF-8 as curl saves it, and UTF-16 with a byte order
/// mark as Windows PowerShell writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf16 { big_endian: bool },
}

/// A file's text as UTF-8 without its byte order mark, whatever its encoding, hashing the
/// file's own bytes as they are read (the manifest names the file as it is on disk).
struct Decoded<R> {
    raw: R,
    hasher: Sha256,
    /// Known once the first bytes are read.
    encoding: Option<Encoding>,
    /// Decoded bytes not yet handed out.
    ready: Vec<u8>,
    handed: usize,
    /// Raw bytes of an incomplete UTF-16 unit or surrogate pair.
    partial: Vec<u8>,
}

impl<R: Read> Decoded<R> {
    fn new(raw: R) -> Self {
        Decoded { raw, hasher: Sha256::new(), encoding: None, ready: Vec::new(), handed: 0, partial: Vec::new() }
    }

    /// Reads raw bytes, hashing them; 0 at the end of the file.
    fn read_raw(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.raw.read(out)?;
        self.hasher.update(&out[..n]);
        Ok(n)
    }

    /// Reads the byte order mark, if any; bytes that are not one are handed out as text.
    fn detect(&mut self) -> io::Result<Encoding> {
        let mut start = [0u8; 3];
        let mut len = 0;
        while len < start.len() {
            let n = self.read_raw(&mut start[len..])?;
            if n == 0 {
                break;
            }
            len += n;
        }
        let start = &start[..len];
        let (encoding, rest) = match start {
            [0xEF, 0xBB, 0xBF] => (Encoding::Utf8, &start[3..]),
            [0xFF, 0xFE, ..] => (Encoding::Utf16 { big_endian: false }, &start[2..]),
            [0xFE, 0xFF, ..] => (Encoding::Utf16 { big_endian: true }, &start[2..]),
            _ => (Encoding::Utf8, start),
        };
        match encoding {
            Encoding::Utf8 => self.ready.extend_from_slice(rest),
            Encoding::Utf16 { .. } => self.partial.extend_from_slice(rest),
        }
        Ok(encoding)
    }

    /// Decodes the next chunk of UTF-16 into `ready`; false at the end of the file.
    fn decode_utf16(&mut self, big_endian: bool) -> io::Result<bool> {
        let mut chunk = [0u8; 8 * 1024];
        let n = self.read_raw(&mut chunk)?;
        if n == 0 {
            if self.partial.is_empty() {
                return Ok(false);
            }
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the UTF-16 text ends in the middle of a character",
            ));
        }
        let mut raw = std::mem::take(&mut self.partial);
        raw.extend_from_slice(&chunk[..n]);
        let mut units: Vec<u16> = raw
            .chunks_exact(2)
            .map(|pair| {
                if big_endian { u16::from_be_bytes([pair[0], pair[1]]) } else { u16::from_le_bytes([pair[0], pair[1]]) }
            })
            .collect();
        let mut kept = raw.len() % 2;
        // A pair split across chunks is decoded with the next chunk.
        if units.last().is_some_and(|unit| (0xD800..0xDC00).contains(unit)) {
            units.pop();
            kept += 2;
        }
        self.partial = raw[raw.len() - kept..].to_vec();
        for decoded in char::decode_utf16(units) {
            let character = decoded.map_err(|e| {
                let message = format!("not valid UTF-16: a lone surrogate {:04X}", e.unpaired_surrogate());
                io::Error::new(io::ErrorKind::InvalidData, message)
            })?;
            let mut utf8 = [0u8; 4];
            self.ready.extend_from_slice(character.encode_utf8(&mut utf8).as_bytes());
        }
        Ok(true)
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let encoding = match self.encoding {
            Some(encoding) => encoding,
            None => {
                let encoding = self.detect()?;
                self.encoding = Some(encoding);
                encoding
            }
        };
        while self.handed == self.ready.len() {
            self.ready.clear();
            self.handed = 0;
            match encoding {
                Encoding::Utf8 => return self.read_raw(out),
                Encoding::Utf16 { big_endian } => {
                    if !self.decode_utf16(big_endian)? {
                        return Ok(0);
                    }
                }
            }
        }
        let n = (self.ready.len() - self.handed).min(out.len());
        out[..n].copy_from_slice(&self.ready[self.handed..self.handed + n]);
        self.handed += n;
        Ok(n)
    }
}

/// A reader that counts lines and finds characters XML forbids as the XML parser consumes the
/// decoded text, so that both are known wherever the parser is.
struct Tracked<R> {
    inner: R,
    /// The line of the next byte to be consumed (1-based).
    line: u64,
    /// Bytes consumed so far.
    position: u64,
    /// The last two bytes consumed, to see U+FFFE and U+FFFF, which take three.
    recent: [u8; 2],
    /// The first forbidden character consumed, and its offset.
    forbidden: Option<(u64, char)>,
}

impl<R: BufRead> Tracked<R> {
    fn new(inner: R) -> Self {
        Tracked { inner, line: 1, position: 0, recent: [0; 2], forbidden: None }
    }

    fn account(&mut self, bytes_len: usize) {
        let Ok(buffer) = self.inner.fill_buf() else { return };
        for (index, &byte) in buffer[..bytes_len.min(buffer.len())].iter().enumerate() {
            let offset = self.position + index as u64;
            if byte == b'\n' {
                self.line += 1;
            }
            let found = match (self.recent, byte) {
                ([0xEF, 0xBF], 0xBE | 0xBF) => Some((offset - 2, if byte == 0xBE { '\u{fffe}' } else { '\u{ffff}' })),
                (_, byte) if forbidden(char::from(byte)) => Some((offset, char::from(byte))),
                _ => None,
            };
            if self.forbidden.is_none() {
                self.forbidden = found;
            }
            self.recent = [self.recent[1], byte];
        }
        self.position += bytes_len as u64;
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
    fn an_element_written_as_xml_reads_back_the_same() {
        let text = "<L a=\"x &amp; y\"><R><ID>1</ID><N><![CDATA[a < b]]></N><E/></R></L>";
        let document = doc(text, &[]).expect("parses");
        let written = document.head.to_xml();
        assert!(written.contains("<N>a &lt; b</N>"), "{written}");
        let again = doc(&written, &[]).expect("reads back");
        assert!(again.head.same_content(&document.head), "{written}");
    }

    #[test]
    fn unknown_entities_are_refused() {
        let err = doc("<L><R>&custom;</R></L>", &["R"]).expect_err("entity");
        assert!(matches!(err, TransformError::Xml { problem: XmlProblem::UnknownEntity(ref e), .. } if e == "custom"));
    }

    /// Hands out its bytes a few at a time, so that every split of a character is seen.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.1 = self.1 % 3 + 1;
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn decode(bytes: &[u8]) -> io::Result<String> {
        let mut text = String::new();
        Decoded::new(Trickle(bytes, 0)).read_to_string(&mut text)?;
        Ok(text)
    }

    #[test]
    fn utf16_is_decoded_whatever_the_reads_split() {
        let text = "<L>Zoë 🌐 𝄞 end</L>";
        for big_endian in [false, true] {
            let mut bytes = if big_endian { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
            for unit in text.encode_utf16() {
                bytes.extend(if big_endian { unit.to_be_bytes() } else { unit.to_le_bytes() });
            }
            assert_eq!(decode(&bytes).expect("decodes"), text);
            assert!(decode(&bytes[..bytes.len() - 1]).is_err(), "a cut character is an error");
        }
        assert!(decode(&[0xFF, 0xFE, 0x3D, 0xD8, b'<', 0]).is_err(), "a lone surrogate is an error");
        assert_eq!(decode(b"\xEF\xBB\xBF<L/>").expect("decodes"), "<L/>", "the UTF-8 mark is dropped");
        assert_eq!(decode(b"<L/>").expect("decodes"), "<L/>");
    }

    #[test]
    fn non_characters_are_refused_where_they_are() {
        let err = doc("<L>\n<R>a\u{ffff}</R></L>", &["R"]).expect_err("U+FFFF");
        match err {
            TransformError::Xml { line, column, problem, .. } => {
                assert_eq!((line, column), (2, 5));
                assert_eq!(problem, XmlProblem::ForbiddenCharacter { character: '\u{ffff}', reference: false });
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_declared_encoding_is_found_in_either_quotes() {
        let text = "<?xml version=\"1.0\" encoding = 'UTF-16LE' ?><L/>";
        assert_eq!(declared_encoding(text).map(|r| &text[r]), Some("UTF-16LE"));
        assert_eq!(declared_encoding("<?xml version=\"1.0\"?><L encoding=\"x\"/>"), None);
        assert_eq!(declared_encoding("<L/>"), None);
    }
}
