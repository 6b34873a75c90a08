//! Validation against the committed JSON Schemas (`schemas/json/`), offline: the request schema
//! is registered under its `$id`, nothing is ever fetched.

use serde_json::Value;

pub const MANIFEST_SCHEMA: &str = include_str!("../json/manifest.schema.json");
pub const REQUEST_SCHEMA: &str = include_str!("../json/request.schema.json");

const REQUEST_SCHEMA_ID: &str = "https://schemas.qmig.dev/v1/request.schema.json";

/// Validates a parsed `manifest.json`; on failure returns every violation with its JSON path.
pub fn validate_manifest(manifest: &Value) -> Result<(), Vec<String>> {
    let parse = |text: &str| serde_json::from_str::<Value>(text).map_err(|e| vec![format!("schema file: {e}")]);
    let request = parse(REQUEST_SCHEMA)?;
    let schema = parse(MANIFEST_SCHEMA)?;
    let registry = jsonschema::Registry::new()
        .add(REQUEST_SCHEMA_ID, request)
        .and_then(|r| r.prepare())
        .map_err(|e| vec![format!("schema registry: {e}")])?;
    let validator = jsonschema::options()
        .offline()
        .with_registry(&registry)
        .build(&schema)
        .map_err(|e| vec![format!("schema: {e}")])?;
    let errors: Vec<String> = validator
        .iter_errors(manifest)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() { e.to_string() } else { format!("{e} at {at}") }
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}
