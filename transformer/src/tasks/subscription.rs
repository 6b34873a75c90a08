//! Core task: Subscription configuration.
//!
//! Source: the subscription configuration export (`/api/2.0/fo/subscription/?action=export`),
//! root `RECORD`: the settings of the Setup pages, such as scanner trusted CAs, excluded IPs,
//! business risk, remediation setup, user setup and login IP restrictions
//! (`RECORD > SUBSCRIPTION > FO > SCAN > EXCLUDED_IPS`, ...).
//!
//! Rules:
//! - The document is imported exactly as exported (`action=import`, `text/xml` body): qmig
//!   neither rewrites nor drops settings, including ones it does not know.
//! - Importing the same document again leaves the same settings, so the call may be repeated.
//! - The review names the settings the document carries; a document without any is not sent.
//! - Only the target's Primary Manager may import: the review warns, since any other account
//!   is refused.
//! - Several captures of the configuration: identical ones are imported once; different ones
//!   stop the run, since either could be the one meant.

use qmig_schemas::Effect;

use crate::context::Context;
use crate::error::TransformError;
use crate::export::Kind;
use crate::plan::{Draft, DraftBody, Refs, TaskOutput};
use crate::xml::Element;

pub const TASK: &str = "subscription configuration";
pub(crate) const PATH: &str = "/api/2.0/fo/subscription/";

pub fn plan(ctx: &Context<'_>, _refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let mut files = ctx.export.files(Kind::SubscriptionConfig);
    let Some(first) = files.next() else { return Ok(out) };
    out.source_objects += 1;
    let source = first.head().source(None, Some("subscription configuration"));
    for other in files {
        out.source_objects += 1;
        let other_source = other.head().source(None, Some("subscription configuration"));
        if other.document.sha256 != first.document.sha256 {
            return Err(TransformError::ConflictingDuplicate {
                kind: "subscription configuration".to_owned(),
                key: "export".to_owned(),
                first: source,
                second: other_source,
            });
        }
        out.skip(
            "subscription configuration",
            format!("identical to {}, imported once", first.path),
            Some(other_source),
        );
    }
    let settings = settings(&first.document.head);
    if settings.is_empty() {
        // Importing an empty document could only clear the target's settings.
        out.skip("subscription configuration", "the export holds no setting", Some(source));
        return Ok(out);
    }
    let summary = format!("Import the subscription configuration: {}", settings.join(", "));
    out.warn(
        "only the target's Primary Manager can import the subscription configuration: run the bundle with \
         that account, or the import is refused",
        Some(source.clone()),
    );
    let body = DraftBody::verbatim(&ctx.export.bytes(first)?, "text/xml");
    let draft = Draft::post(TASK, "subscription/configuration".to_owned(), Effect::Idempotent, PATH, summary)
        .param("action", "import")
        .body(body)
        .source(source);
    out.request(draft);
    Ok(out)
}

/// The settings a configuration carries, as the guide names them (`SCAN > EXCLUDED_IPS`): the
/// children of each section below `SUBSCRIPTION/FO`, or the top-level elements that hold
/// something in a document of another shape.
fn settings(root: &Element) -> Vec<String> {
    let Some(fo) = root.at("SUBSCRIPTION/FO") else {
        let holds_something = |c: &&Element| !c.children.is_empty() || !c.value().is_empty();
        return root.children.iter().filter(holds_something).map(|c| c.name.clone()).collect();
    };
    fo.children
        .iter()
        .flat_map(|section| {
            if section.children.is_empty() {
                vec![section.name.clone()]
            } else {
                section.children.iter().map(|s| format!("{} > {}", section.name, s.name)).collect()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::test_support::Fixture;

    const CONFIG: &str = "<?xml version=\"1.0\"?>\n<RECORD><SUBSCRIPTION><FO>\
        <SCAN><EXCLUDED_IPS><IP>10.0.0.1</IP></EXCLUDED_IPS><SCANNER_TRUSTED_CA/></SCAN>\
        <REMEDIATION><SETUP>x</SETUP></REMEDIATION><REPORTS/>\
        </FO></SUBSCRIPTION></RECORD>\n";

    #[test]
    fn the_export_is_imported_byte_for_byte_naming_its_settings() {
        let fixture = Fixture::new(&[("config.xml", CONFIG)]);
        let out = fixture.plan(plan);
        let [request] = out.requests.as_slice() else { panic!("one request: {:?}", out.requests) };
        assert_eq!(request.path, PATH);
        assert_eq!(request.effect, Effect::Idempotent);
        assert_eq!(request.body.as_ref().map(|b| b.text.as_str()), Some(CONFIG));
        assert_eq!(
            request.summary,
            "Import the subscription configuration: SCAN > EXCLUDED_IPS, SCAN > SCANNER_TRUSTED_CA, \
             REMEDIATION > SETUP, REPORTS"
        );
        assert!(out.warnings.iter().any(|w| w.message.contains("Primary Manager")));
    }

    #[test]
    fn two_different_captures_stop_the_run_and_identical_ones_are_imported_once() {
        let same = Fixture::new(&[("a.xml", CONFIG), ("b.xml", CONFIG)]).plan(plan);
        assert_eq!(same.requests.len(), 1);
        assert_eq!(same.skipped.len(), 1);
        let other = CONFIG.replace("10.0.0.1", "10.0.0.2");
        let err = Fixture::new(&[("a.xml", CONFIG), ("b.xml", &other)]).try_plan(plan).expect_err("conflict");
        assert!(err.to_string().contains("a.xml") && err.to_string().contains("b.xml"), "{err}");
    }

    #[test]
    fn an_empty_configuration_is_not_imported() {
        let out = Fixture::new(&[("config.xml", "<RECORD><SUBSCRIPTION/></RECORD>")]).plan(plan);
        assert!(out.requests.is_empty());
        assert_eq!(out.skipped[0].reason, "the export holds no setting");
    }
}
