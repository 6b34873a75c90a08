//! Writing the state out as an export directory: one file per list or export call, each the
//! document that call returns, as curl would have captured it. The documents name a fixed
//! host rather than the simulator's port, and carry the state's own clock, so that the same
//! state always gives the same bytes.

use std::path::Path;

use crate::api::ip::{Module, Tracking};
use crate::api::{
    Ctx, appliance, auth_record, domain, group, ip, network, option_profile, policy, report_template, schedule,
    search_list, subscription, tag, user, vhost,
};
use crate::params::{ApiError, Params};
use crate::state::State;
use crate::xml::Document;

/// The host exported documents name.
const EXPORT_BASE: &str = "https://qualysapi.qualys-sim.invalid";

/// Every file of the export, by name, in a stable order.
pub(crate) fn documents(state: &State) -> Result<Vec<(String, Document)>, ApiError> {
    let ctx = Ctx { base: EXPORT_BASE.to_owned(), user: state.api_login.clone() };
    let list = |pairs: &[(&str, &str)]| Params::from_pairs(pairs);
    let mut files: Vec<(String, Document)> = vec![
        ("subscription_config.xml".into(), subscription::export_doc(state, &ctx)),
        ("networks.xml".into(), network::list_doc(state, &list(&[("action", "list")]), &ctx)?),
        (
            "appliances.xml".into(),
            appliance::list_doc(state, &list(&[("action", "list"), ("output_mode", "full")]), &ctx)?,
        ),
    ];
    for module in Module::ALL {
        for tracking in Tracking::ALL {
            if !state.ips.get(module, tracking).is_empty() {
                let name = format!("ip_list_{}_{}.xml", module.slug(), tracking.param().to_ascii_lowercase());
                files.push((name, ip::list_doc(state, &ip::export_params(module, tracking), &ctx)?));
            }
        }
    }
    let v6 = list(&[("action", "list"), ("output_format", "xml"), ("truncation_limit", "0")]);
    files.push(("ipv6_mappings.xml".into(), ip::list_v6_doc(state, &v6, &ctx)?));
    files.push(("domains.xml".into(), domain::list_doc(state, &Params::default(), &ctx)?));
    let groups = list(&[("action", "list"), ("show_attributes", "ALL"), ("truncation_limit", "0")]);
    files.push(("asset_groups.xml".into(), group::list_doc(state, &groups, &ctx)?));
    files.push(("users.xml".into(), user::list_doc(state, &Params::default(), &ctx)?));
    for id in state.users.keys() {
        files.push((format!("user_prefs_{id}.xml"), user::prefs_doc(state, *id, &ctx)));
    }
    files.push((
        "option_profiles.xml".into(),
        option_profile::export_doc(state, &option_profile::export_params(), &ctx)?,
    ));
    files.push((
        "search_lists_static.xml".into(),
        search_list::list_static_doc(state, &list(&[("action", "list")]), &ctx)?,
    ));
    files.push((
        "search_lists_dynamic.xml".into(),
        search_list::list_dynamic_doc(state, &list(&[("action", "list")]), &ctx)?,
    ));
    files.push(("report_templates.xml".into(), report_template::list_doc(state, &Params::default(), &ctx)?));
    for slug in report_template::TYPES {
        let doc =
            report_template::export_doc(state, &list(&[("action", "export"), ("report_format", "xml")]), &ctx, slug)?;
        if !doc.root.children.is_empty() {
            files.push((format!("report_templates_{slug}.xml"), doc));
        }
    }
    for auth_type in auth_record::TYPES {
        if state.auth_records.values().any(|r| r.auth_type == *auth_type) {
            files.extend(pages(&format!("auth_records_{auth_type}"), auth_record::export_params(), |params| {
                auth_record::list_doc(state, params, &ctx, auth_type)
            })?);
        }
    }
    files.push(("schedules_vm.xml".into(), schedule::list_doc(state, &schedule::export_params(), &ctx, Module::Vm)?));
    files.push(("schedules_pc.xml".into(), schedule::list_doc(state, &schedule::export_params(), &ctx, Module::Pc)?));
    files.push((
        "policies.xml".into(),
        policy::list_doc(state, &list(&[("action", "list"), ("details", "Basic")]), &ctx)?,
    ));
    for p in state.policies.values() {
        files.push((format!("policy_{}.xml", p.id), policy::export_doc(state, p, &ctx)));
    }
    files.push(("virtual_hosts.xml".into(), vhost::list_doc(state, &list(&[("action", "list")]), &ctx)?));
    files.push(("tags.xml".into(), tag::export_doc(state, &ctx)));
    Ok(files)
}

/// A list with a fixed page size, written one file per page, following each `WARNING/URL`
/// as a client would: `NAME.xml`, `NAME_2.xml`, ...
fn pages(
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
