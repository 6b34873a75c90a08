//! Writing the state out as an export directory: one file per list or export call, each the
//! document that call returns, as curl would have captured it. The documents name a fixed
//! host rather than the simulator's port, and carry the state's own clock, so that the same
//! state always gives the same bytes.

use std::path::Path;

use crate::api::{Ctx, KINDS};
use crate::params::{ApiError, Params};
use crate::state::State;
use crate::xml::Document;

/// The host exported documents name.
const EXPORT_BASE: &str = "https://qualysapi.qualys-sim.invalid";

/// Every file of the export, by name, kind after kind.
pub(crate) fn documents(state: &State) -> Result<Vec<(String, Document)>, ApiError> {
    let ctx = Ctx { base: EXPORT_BASE.to_owned(), user: state.api_login.clone() };
    let mut files = Vec::new();
    for kind in KINDS {
        files.extend((kind.export)(state, &ctx)?);
    }
    Ok(files)
}

/// One file: `name` holding the answer to a list call with these parameters.
pub(crate) fn file(
    name: &str,
    pairs: &[(&str, &str)],
    doc: impl FnOnce(&Params) -> Result<Document, ApiError>,
) -> Result<(String, Document), ApiError> {
    Ok((name.to_owned(), doc(&Params::from_pairs(pairs))?))
}

/// A list with a fixed page size, written one file per page, following each `WARNING/URL`
/// as a client would: `NAME.xml`, `NAME_2.xml`, ...
pub(crate) fn pages(
    name: &str,
    first: Params,
    mut call: impl FnMut(&Params) -> Result<Document, ApiError>,
) -> Result<Vec<(String, Document)>, ApiError> {
    let mut out = Vec::new();
    let mut params = first;
    loop {
        let doc = call(&params)?;
        let next = doc.root.path(&["RESPONSE", "WARNING", "URL"]).map(|u| u.value());
        let file = if out.is_empty() { format!("{name}.xml") } else { format!("{name}_{}.xml", out.len() + 1) };
        out.push((file, doc));
        match next.and_then(|url| url.split_once('?').map(|(_, q)| q.to_owned())) {
            Some(query) => params = Params::parse(&query, None),
            None => return Ok(out),
        }
    }
}

/// Writes the export into `dir`, which must not exist yet or be empty, so that an export
/// never mixes with older files.
pub(crate) fn write(state: &State, dir: &Path) -> std::io::Result<()> {
    let docs = documents(state).map_err(|e| std::io::Error::other(e.text))?;
    std::fs::create_dir_all(dir)?;
    if std::fs::read_dir(dir)?.next().is_some() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} is not empty; an export is written into an empty directory", dir.display()),
        ));
    }
    for (name, doc) in docs {
        std::fs::write(dir.join(name), doc.to_xml())?;
    }
    Ok(())
}
