//! Subscription configuration (`/api/2.0/fo/subscription/index.php` and
//! `/api/2.0/fo/subscription/`): `export` and `import`. The document is opaque to the
//! simulator: an import replaces it, an export returns it.

use crate::api::{Call, Ctx, Registration, Reply, read, simple_return, write};
use crate::params::{ApiError, Params};
use crate::seed::{SeedDoc, SeedFile, SeedResult};
use crate::state::State;
use crate::xml::{Document, Element};

pub(crate) const PATH: &str = "/api/2.0/fo/subscription/";
/// The same calls under the name Qualys's migration scripts use.
pub(crate) const INDEX_PATH: &str = "/api/2.0/fo/subscription/index.php";
const ROOT: &str = "RECORD";

pub(crate) static KIND: Registration = Registration {
    ops: &[
        read(INDEX_PATH, "export", export_doc),
        write(INDEX_PATH, "import", import),
        read(PATH, "export", export_doc),
        write(PATH, "import", import),
    ],
    seeds: &[SeedDoc::root(ROOT, seed)],
    defaults: Some(add_defaults),
    export: |state, ctx| {
        let params = Params::from_pairs(&[("action", "export")]);
        Ok(vec![("subscription_config.xml".to_owned(), export_doc(state, &params, ctx)?)])
    },
    counts: &[],
};

/// The sections Qualys's migration guide lists as transferable, empty, as in a new subscription.
fn add_defaults(state: &mut State) {
    let section = |name: &str, children: &[&str]| {
        children.iter().fold(Element::new(name), |el, child| el.child(Element::new(*child)))
    };
    let fo = Element::new("FO")
        .child(section("SCAN", &["SCANNER_TRUSTED_CA", "EXCLUDED_IPS", "EXCLUDED_IPS_EXPIRATION", "EXCLUDED_HISTORY"]))
        .child(section("REPORTS", &["BUSINESS_RISK", "BUSINESS_RISK_MATRIX"]))
        .child(section("REMEDIATION", &["SETUP"]))
        .child(section("USERS", &["Setup", "SUB_IPV6_RESTRICT_MAP", "SUBSCRIPTION_IP_RESTRICT_MAP", "IP_RANGE"]));
    state.subscription = Element::new(ROOT).child(Element::new("SUBSCRIPTION").child(fo));
}

fn export_doc(state: &State, params: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    params.only(&["action"])?;
    Ok(Document::with_dtd(state.subscription.clone(), format!("{}{PATH}subscription_config.dtd", ctx.base)))
}

fn import(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    call.params.only(&["action"])?;
    let doc = call.xml_body()?;
    if doc.name != ROOT {
        return Err(ApiError::invalid_request(format!("Expected a {ROOT} document, found {}", doc.name)));
    }
    let now = call.state.tick();
    call.state.subscription = doc;
    Ok(simple_return(call.ctx, &now, "Subscription configuration imported successfully", &[]).into())
}

fn seed(state: &mut State, file: &SeedFile) -> SeedResult {
    state.subscription = file.root().clone();
    Ok(())
}
