//! Validation against the committed JSON Schemas (`schemas/json/`), offline: the request schema
//! is registered under its `$id`, nothing is ever fetched.

use serde_json::Value;

pub const MANIFEST_SCHEMA: &str = include_str!("../json/manifest.schema.json");
pub const REQUEST_SCHEMA: &str = include_str!("../json/request.schema.json");

const REQUEST_SCHEMA_ID: &str = "https://schemas.qmig.dev/v1/request.schema.json";

/// The committed schemas, compiled once: the manifest's, and the request's on its own so that
/// requests can be checked one at a time as they are read.
pub struct Validators {
    manifest: jsonschema::Validator,
    request: jsonschema::Validator,
}

impl Validators {
    pub fn new() -> Result<Validators, Vec<String>> {
        let parse = |text: &str| serde_json::from_str::<Value>(text).map_err(|e| vec![format!("schema file: {e}")]);
        let request = parse(REQUEST_SCHEMA)?;
        let schema = parse(MANIFEST_SCHEMA)?;
        let registry = jsonschema::Registry::new()
            .add(REQUEST_SCHEMA_ID, request.clone())
            .and_then(|r| r.prepare())
            .map_err(|e| vec![format!("schema registry: {e}")])?;
        let build = |schema: &Value| {
            jsonschema::options()
                .offline()
                .with_registry(&registry)
                .build(schema)
                .map_err(|e| vec![format!("schema: {e}")])
        };
        Ok(Validators { manifest: build(&schema)?, request: build(&request)? })
    }

    /// Every violation of the manifest schema, with its JSON path.
    pub fn manifest_errors(&self, manifest: &Value) -> Vec<String> {
        errors(&self.manifest, manifest, "")
    }

    /// Every violation of the request schema by the request at `index` of `requests`, with its
    /// JSON path in the manifest.
    pub fn request_errors(&self, index: usize, request: &Value) -> Vec<String> {
        errors(&self.request, request, &format!("/requests/{index}"))
    }
}

fn errors(validator: &jsonschema::Validator, instance: &Value, prefix: &str) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| {
            let at = format!("{prefix}{}", e.instance_path());
            if at.is_empty() { e.to_string() } else { format!("{e} at {at}") }
        })
        .collect()
}

/// Validates a parsed `manifest.json`; on failure returns every violation with its JSON path.
pub fn validate_manifest(manifest: &Value) -> Result<(), Vec<String>> {
    let errors = Validators::new()?.manifest_errors(manifest);
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}
