//! Turns a request record into the bytes that go on the wire: references resolved from the
//! captures and secrets at send time, parameters form-encoded, body slots filled.
//!
//! Without a body, the parameters are the form-encoded body of a POST or PUT (the query string
//! of a GET); with a body, they go in the query string, which the bundle verification has
//! already checked holds no secret.

use std::collections::BTreeMap;

use qmig_schemas::{Body, Escape, Method, Param, Segment, Value};
use zeroize::Zeroizing;

use crate::secrets::{MASK, Secrets};

const FORM: &str = "application/x-www-form-urlencoded";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("capture `{0}` has no value (the request that declares it is not done)")]
    NoCapture(String),
    #[error("secret `{0}` is not available")]
    NoSecret(String),
}

/// Resolves references. In masked mode (dry run) secrets read as [`MASK`] and captures not yet
/// known as their placeholder, so nothing secret or unknown is ever shown.
pub struct Resolver<'a> {
    pub captures: &'a BTreeMap<String, String>,
    pub secrets: Option<&'a Secrets>,
    pub masked: bool,
}

impl Resolver<'_> {
    fn segment(&self, segment: &Segment) -> Result<Zeroizing<String>, RenderError> {
        let value = match segment {
            Segment::Text(text) => text.clone(),
            Segment::Capture(name) => match self.captures.get(name) {
                Some(value) => value.clone(),
                None if self.masked => segment.placeholder(),
                None => return Err(RenderError::NoCapture(name.clone())),
            },
            Segment::Secret(_) if self.masked => MASK.to_owned(),
            Segment::Secret(name) => self
                .secrets
                .and_then(|s| s.get(name))
                .map(str::to_owned)
                .ok_or_else(|| RenderError::NoSecret(name.clone()))?,
        };
        Ok(Zeroizing::new(value))
    }

    pub fn value(&self, value: &Value) -> Result<Zeroizing<String>, RenderError> {
        match value {
            Value::Text(text) => Ok(Zeroizing::new(text.clone())),
            Value::Parts(parts) => {
                let resolved = parts.iter().map(|part| self.segment(part)).collect::<Result<Vec<_>, _>>()?;
                Ok(joined(&resolved.iter().map(|part| part.as_str()).collect::<Vec<_>>()))
            }
        }
    }
}

/// The parts joined in a string allocated at its final size: a buffer that grows leaves copies
/// of what it held (a secret) in freed memory.
pub(crate) fn joined(parts: &[&str]) -> Zeroizing<String> {
    let mut joined = Zeroizing::new(String::with_capacity(parts.iter().map(|part| part.len()).sum()));
    for part in parts {
        joined.push_str(part);
    }
    joined
}

/// A request ready to send.
pub struct Wire {
    pub method: Method,
    /// Path and query string; never holds a secret.
    pub target: String,
    pub content_type: Option<String>,
    pub body: Zeroizing<Vec<u8>>,
}

pub fn render(
    method: Method,
    path: &str,
    params: &[Param],
    body: Option<(&Body, &[u8])>,
    resolver: &Resolver<'_>,
) -> Result<Wire, RenderError> {
    let form = form_encode(params, resolver)?;
    let with_query = |query: &str| if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
    Ok(match (body, method) {
        (Some((body, bytes)), _) => Wire {
            method,
            target: with_query(&form),
            content_type: Some(body.content_type.clone()),
            body: fill_slots(body, bytes, resolver)?,
        },
        (None, Method::Get) => {
            Wire { method, target: with_query(&form), content_type: None, body: Zeroizing::new(Vec::new()) }
        }
        (None, Method::Post | Method::Put) => Wire {
            method,
            target: path.to_owned(),
            content_type: Some(FORM.to_owned()),
            body: Zeroizing::new(form.as_bytes().to_vec()),
        },
    })
}

fn form_encode(params: &[Param], resolver: &Resolver<'_>) -> Result<Zeroizing<String>, RenderError> {
    let values = params.iter().map(|param| resolver.value(&param.value)).collect::<Result<Vec<_>, _>>()?;
    // Sized so that it never grows (see `joined`): percent-encoding at most triples a byte.
    let size = params.iter().zip(&values).map(|(param, value)| 3 * (param.name.len() + value.len()) + 2).sum();
    let mut serializer = form_urlencoded::Serializer::new(String::with_capacity(size));
    for (param, value) in params.iter().zip(&values) {
        serializer.append_pair(&param.name, value);
    }
    Ok(Zeroizing::new(serializer.finish()))
}

/// Replaces each declared slot (verified to hold its placeholder) by its value, escaped.
fn fill_slots(body: &Body, bytes: &[u8], resolver: &Resolver<'_>) -> Result<Zeroizing<Vec<u8>>, RenderError> {
    let values = body
        .slots
        .iter()
        .map(|slot| {
            let value = resolver.segment(&slot.value)?;
            Ok(match slot.escape {
                Escape::Xml => Zeroizing::new(xml_escape(&value)),
                Escape::None => value,
            })
        })
        .collect::<Result<Vec<_>, RenderError>>()?;
    // Sized so that it never grows (see `joined`).
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() + values.iter().map(|v| v.len()).sum::<usize>()));
    let mut copied = 0usize;
    for (slot, value) in body.slots.iter().zip(&values) {
        let start = usize::try_from(slot.offset).unwrap_or(usize::MAX).min(bytes.len());
        out.extend_from_slice(&bytes[copied.min(start)..start]);
        out.extend_from_slice(value.as_bytes());
        copied = (start + slot.placeholder.len()).min(bytes.len());
    }
    out.extend_from_slice(&bytes[copied..]);
    Ok(out)
}

/// Escapes the five characters the contract names for XML character data and attributes, into
/// a string allocated at its final size (see `joined`).
pub fn xml_escape(value: &str) -> String {
    let size = value
        .chars()
        .map(|c| match c {
            '&' => 5,
            '<' | '>' => 4,
            '"' | '\'' => 6,
            c => c.len_utf8(),
        })
        .sum();
    let mut escaped = String::with_capacity(size);
    for c in value.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use qmig_schemas::{Slot, sha256_hex};

    use super::*;

    fn resolver<'a>(captures: &'a BTreeMap<String, String>, masked: bool) -> Resolver<'a> {
        Resolver { captures, secrets: None, masked }
    }

    #[test]
    fn params_are_a_form_body_without_a_body_and_a_query_with_one() {
        let captures = BTreeMap::from([("net".to_owned(), "7343".to_owned())]);
        let params = vec![
            Param::text("action", "create"),
            Param {
                name: "name".into(),
                value: Value::Parts(vec![Segment::Text("A&B #".into()), Segment::Capture("net".into())]),
            },
        ];
        let r = resolver(&captures, false);
        let post = render(Method::Post, "/api/2.0/fo/network/", &params, None, &r).expect("renders");
        assert_eq!(post.target, "/api/2.0/fo/network/");
        assert_eq!(post.body.as_slice(), b"action=create&name=A%26B+%237343");
        assert_eq!(post.content_type.as_deref(), Some(FORM));
        let get = render(Method::Get, "/x", &params, None, &r).expect("renders");
        assert_eq!(get.target, "/x?action=create&name=A%26B+%237343");
        assert!(get.body.is_empty());
        let missing = render(Method::Post, "/x", &params, None, &resolver(&BTreeMap::new(), false));
        assert_eq!(missing.err(), Some(RenderError::NoCapture("net".into())));
    }

    #[test]
    fn slots_are_filled_and_escaped() {
        let text = "<a>{{capture:x}}</a><b>{{capture:y}}</b>";
        let slot = |placeholder: &str, name: &str, escape| Slot {
            offset: text.find(placeholder).expect("placeholder") as u64,
            placeholder: placeholder.to_owned(),
            value: Segment::Capture(name.to_owned()),
            escape,
        };
        let body = Body {
            file: "bodies/t.xml".into(),
            sha256: sha256_hex(text.as_bytes()),
            content_type: "text/xml".into(),
            slots: vec![slot("{{capture:x}}", "x", Escape::Xml), slot("{{capture:y}}", "y", Escape::None)],
        };
        let captures = BTreeMap::from([("x".to_owned(), "<&'\">".to_owned()), ("y".to_owned(), "<raw>".to_owned())]);
        let params = [Param::text("action", "create")];
        let wire = render(Method::Post, "/qps", &params, Some((&body, text.as_bytes())), &resolver(&captures, false))
            .expect("renders");
        assert_eq!(wire.target, "/qps?action=create");
        assert_eq!(wire.content_type.as_deref(), Some("text/xml"));
        assert_eq!(String::from_utf8_lossy(&wire.body), "<a>&lt;&amp;&apos;&quot;&gt;</a><b><raw></b>");
        let masked =
            render(Method::Post, "/qps", &[], Some((&body, text.as_bytes())), &resolver(&BTreeMap::new(), true))
                .expect("renders masked");
        assert_eq!(String::from_utf8_lossy(&masked.body), text);
    }

    #[test]
    fn masked_secrets_never_resolve() {
        let params = vec![Param { name: "password".into(), value: Value::Parts(vec![Segment::Secret("s".into())]) }];
        let wire = render(Method::Post, "/x", &params, None, &resolver(&BTreeMap::new(), true)).expect("renders");
        assert_eq!(String::from_utf8_lossy(&wire.body), "password=********");
        let unmasked = render(Method::Post, "/x", &params, None, &resolver(&BTreeMap::new(), false));
        assert_eq!(unmasked.err(), Some(RenderError::NoSecret("s".into())));
    }
}
