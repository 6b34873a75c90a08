//! The ID map (`qmig-execute status --ids`): for every object a create request made, its ID in
//! the source and its new ID or login in the target, for the operator's records and for
//! re-pointing integrations. It is read from the manifest (each request names its source
//! object and the captures holding what the target gave it) and the captures a run recorded.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Effect, Extract, Manifest};

/// One migrated object. Empty strings stand for what the source or the target does not give
/// (a user has a new login and no ID qmig reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdRow {
    /// The kind of object, as its request id starts (`network`, `asset-group`, `user`, ...).
    pub kind: String,
    pub source_id: String,
    /// Its title, name or login in the source.
    pub source_name: String,
    pub target_id: String,
    pub target_login: String,
    /// The request that created it.
    pub request: String,
}

/// The columns of [`to_csv`], in order.
pub const CSV_HEADER: &str = "kind,source_id,source_name,target_id,target_login,request";

/// The rows of every create request whose new ID or login is among `captures`, in bundle order.
pub fn id_map(manifest: &Manifest, captures: &BTreeMap<String, String>) -> Vec<IdRow> {
    let mut rows = Vec::new();
    for request in manifest.requests.iter().filter(|r| r.effect == Effect::Create) {
        let captured = |wanted: fn(&Extract) -> bool| {
            let capture = request.captures.iter().find(|c| wanted(&c.extract));
            capture.and_then(|c| captures.get(&c.name)).cloned().unwrap_or_default()
        };
        let target_id = captured(|e| *e == Extract::NewId);
        let target_login = captured(|e| *e == Extract::Login);
        if target_id.is_empty() && target_login.is_empty() {
            continue;
        }
        let source = request.source.as_ref();
        rows.push(IdRow {
            kind: request.id.split_once('/').map_or(request.id.as_str(), |(kind, _)| kind).to_owned(),
            source_id: source.and_then(|s| s.id.clone()).unwrap_or_default(),
            source_name: source.and_then(|s| s.title.clone()).unwrap_or_default(),
            target_id,
            target_login,
            request: request.id.clone(),
        });
    }
    rows
}

/// `{"bundle": DIGEST, "objects": [IdRow...]}`, pretty-printed.
pub fn to_json(digest: &str, rows: &[IdRow]) -> String {
    let map = serde_json::json!({ "bundle": digest, "objects": rows });
    format!("{map:#}\n")
}

/// RFC 4180 CSV with [`CSV_HEADER`]: a field holding a comma, a quote or a line end is quoted.
pub fn to_csv(rows: &[IdRow]) -> String {
    let field = |text: &str| {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_owned()
        }
    };
    let mut csv = format!("{CSV_HEADER}\r\n");
    for row in rows {
        let fields = [&row.kind, &row.source_id, &row.source_name, &row.target_id, &row.target_login, &row.request];
        csv.push_str(&fields.map(|f| field(f)).join(","));
        csv.push_str("\r\n");
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_or_quotes_are_quoted() {
        let row = IdRow {
            kind: "asset-group".into(),
            source_id: "3102".into(),
            source_name: "DMZ, \"Partner\" Web".into(),
            target_id: "5".into(),
            target_login: String::new(),
            request: "asset-group/DMZ".into(),
        };
        assert_eq!(
            to_csv(&[row]),
            format!("{CSV_HEADER}\r\nasset-group,3102,\"DMZ, \"\"Partner\"\" Web\",5,,asset-group/DMZ\r\n")
        );
    }
}
