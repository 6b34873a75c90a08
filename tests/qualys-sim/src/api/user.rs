//! Users through the V1 API (`/msp/user.php` `action=add`, `/msp/user_list.php`) and user
//! preferences (`/api/2.0/fo/user_prefs/` `export` and `import`).
//!
//! `user.php add` answers with a generated login and no user ID; the ID only shows in the
//! user list, which is how a migration finds the target user to import preferences into.

use std::collections::BTreeMap;

use crate::api::{Call, Ctx, Handler, Registration, Reply, Style, group, read_with, simple_return, v1, v1_api, write};
use crate::params::{ApiError, Params};
use crate::seed::{self, SeedDoc, SeedFile, SeedResult};
use crate::state::{IdSequence, State};
use crate::xml::{Document, Element};

const IDS: IdSequence = IdSequence::new("user", 4_000_001);
pub(crate) const ADD_PATH: &str = "/msp/user.php";
pub(crate) const LIST_PATH: &str = "/msp/user_list.php";
pub(crate) const PREFS_PATH: &str = "/api/2.0/fo/user_prefs/";

pub(crate) static KIND: Registration = Registration {
    ops: &[
        v1(ADD_PATH, Some("add"), true, Style::UserOutput, Handler::Call(add)),
        v1(ADD_PATH, Some("delete"), true, Style::UserOutput, Handler::Call(delete)),
        v1(LIST_PATH, None, false, Style::UserList, Handler::Doc(list_doc)),
        read_with(PREFS_PATH, "export", Handler::Call(export_prefs)),
        write(PREFS_PATH, "import", import_prefs),
    ],
    // Preferences alone leave the API user in place: they belong to users seeded or not.
    seeds: &[
        SeedDoc::root("USER_LIST_OUTPUT", seed),
        SeedDoc::root("USER_PREFS_OUTPUT", seed_prefs).keeping_defaults(),
    ],
    defaults: Some(add_defaults),
    export: |state, ctx| {
        let mut files = vec![("users.xml".to_owned(), list_doc(state, &Params::default(), ctx)?)];
        for id in state.users.keys() {
            files.push((format!("user_prefs_{id}.xml"), prefs_doc(state, *id, ctx)));
        }
        Ok(files)
    },
    counts: &[("users", |state| state.users.len() as u64)],
};

/// (parameter, list output) of each role.
const ROLES: &[(&str, &str)] = &[
    ("manager", "Manager"),
    ("unit_manager", "Unit Manager"),
    ("scanner", "Scanner"),
    ("reader", "Reader"),
    ("contact", "Contact"),
    ("administrator", "Administrator"),
];
/// Roles that see every asset group and so cannot be given some.
const ALL_GROUP_ROLES: &[&str] = &["manager", "unit_manager", "administrator"];
/// (parameter, `CONTACT_INFO` element) in output order; `COMPANY` is the subscription's.
const CONTACT: &[(&str, &str)] = &[
    ("first_name", "FIRSTNAME"),
    ("last_name", "LASTNAME"),
    ("title", "TITLE"),
    ("phone", "PHONE"),
    ("fax", "FAX"),
    ("email", "EMAIL"),
    ("", "COMPANY"),
    ("address1", "ADDRESS1"),
    ("address2", "ADDRESS2"),
    ("city", "CITY"),
    ("country", "COUNTRY"),
    ("state", "STATE"),
    ("zip_code", "ZIP_CODE"),
    ("time_zone_code", "TIME_ZONE_CODE"),
];
const REQUIRED: &[&str] =
    &["user_role", "business_unit", "first_name", "last_name", "title", "email", "address1", "city", "country"];
/// Countries for which `state` is required.
const STATE_COUNTRIES: &[&str] = &["United States of America", "Australia", "Canada", "India"];
const DEFAULT_COMPANY: &str = "Simulated Subscription";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub id: u64,
    pub login: String,
    pub external_id: Option<String>,
    /// `CONTACT_INFO` values by element name.
    pub contact: BTreeMap<String, String>,
    pub asset_groups: Vec<String>,
    pub status: Option<String>,
    pub creation_date: Option<String>,
    pub last_login_date: Option<String>,
    /// As the list writes it ("Unit Manager").
    pub role: String,
    pub business_unit: String,
    pub unit_manager_poc: Option<String>,
    pub manager_poc: Option<String>,
    pub ui_style: Option<String>,
    pub permissions: Vec<(String, String)>,
    pub notifications: Vec<(String, String)>,
    /// Fields of a seeded user that the simulator does not model, kept as read.
    pub extra: Vec<Element>,
}

/// The fields the simulator models, in list order.
const MODELLED: &[&str] = &[
    "USER_LOGIN",
    "USER_ID",
    "EXTERNAL_ID",
    "CONTACT_INFO",
    "ASSIGNED_ASSET_GROUPS",
    "USER_STATUS",
    "CREATION_DATE",
    "LAST_LOGIN_DATE",
    "USER_ROLE",
    "BUSINESS_UNIT",
    "UNIT_MANAGER_POC",
    "MANAGER_POC",
    "UI_INTERFACE_STYLE",
    "PERMISSIONS",
    "NOTIFICATIONS",
];

fn default_permissions() -> Vec<(String, String)> {
    ["CREATE_OPTION_PROFILES", "PURGE_INFO", "ADD_ASSETS", "EDIT_REMEDIATION_POLICY", "EDIT_AUTH_RECORDS"]
        .into_iter()
        .map(|p| (p.to_owned(), "0".to_owned()))
        .collect()
}

fn default_notifications() -> Vec<(String, String)> {
    [("LATEST_VULN", "none"), ("MAP", "none"), ("SCAN", "none"), ("DAILY_TICKETS", "0")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The API user, Primary Manager of a subscription that was not seeded with its users.
fn add_defaults(state: &mut State) {
    let id = state.next_id(IDS);
    let login = state.api_login.clone();
    let contact = [
        ("FIRSTNAME", "API"),
        ("LASTNAME", "Manager"),
        ("TITLE", "Primary Manager"),
        ("EMAIL", "api.manager@example.invalid"),
        ("COMPANY", DEFAULT_COMPANY),
        ("TIME_ZONE_CODE", "Auto"),
    ];
    let user = User {
        id,
        login,
        external_id: None,
        contact: contact.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        asset_groups: Vec::new(),
        status: Some("Active".into()),
        creation_date: Some(state.now()),
        last_login_date: Some(state.now()),
        role: "Manager".into(),
        business_unit: "Unassigned".into(),
        unit_manager_poc: Some("0".into()),
        manager_poc: Some("1".into()),
        ui_style: Some("standard_blue".into()),
        permissions: default_permissions().into_iter().map(|(k, _)| (k, "1".to_owned())).collect(),
        notifications: default_notifications(),
        extra: Vec::new(),
    };
    state.users.insert(id, user);
}

/// The API user shows in the user list with `role` (as the list writes it): a seed without it
/// gets it, as a subscription that was never seeded has it.
pub(crate) fn set_api_user_role(state: &mut State, role: &str) {
    let login = state.api_login.clone();
    if !state.users.values().any(|u| u.login == login) {
        add_defaults(state);
    }
    for user in state.users.values_mut().filter(|u| u.login == login) {
        user.role = role.to_owned();
    }
}

fn company(state: &State) -> String {
    state.users.values().find_map(|u| u.contact.get("COMPANY").cloned()).unwrap_or_else(|| DEFAULT_COMPANY.to_owned())
}

/// Qualys logins: the subscription prefix, an underscore, the initials and a number.
fn generate_login(state: &State, first: &str, last: &str) -> String {
    let prefix: String = state
        .api_login
        .split('_')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(5)
        .collect();
    let prefix = if prefix.is_empty() { "qsim".to_owned() } else { prefix.to_ascii_lowercase() };
    let initial = |s: &str| s.chars().find(char::is_ascii_alphabetic).map_or('x', |c| c.to_ascii_lowercase());
    let stem = format!("{prefix}_{}{}", initial(first), initial(last));
    (1u32..)
        .map(|n| format!("{stem}{n}"))
        .find(|login| !state.users.values().any(|u| u.login.eq_ignore_ascii_case(login)))
        .unwrap_or(stem)
}

/// A password for `send_email=0`, derived from the user ID so runs are reproducible.
fn generate_password(id: u64) -> String {
    let mut rng = fastrand::Rng::with_seed(id);
    let alphabet: Vec<char> = ('a'..='z').chain('A'..='Z').chain('2'..='9').collect();
    (0..14).map(|_| alphabet[rng.usize(..alphabet.len())]).collect()
}

fn add(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    let mut allowed = vec!["action", "user_role", "business_unit", "asset_groups", "external_id", "send_email"];
    allowed.extend(CONTACT.iter().map(|(param, _)| *param).filter(|param| !param.is_empty()));
    p.only(&allowed)?;
    let missing: Vec<&str> = REQUIRED.iter().copied().filter(|r| p.value(r).is_none()).collect();
    if !missing.is_empty() {
        return Err(ApiError::missing(&missing));
    }
    let country = p.require("country")?;
    if STATE_COUNTRIES.contains(&country) && p.value("state").is_none() {
        return Err(ApiError::missing(&["state"]));
    }
    let role = p.choice("user_role", &ROLES.iter().map(|(r, _)| *r).collect::<Vec<_>>())?.unwrap_or_default();
    let business_unit = p.require("business_unit")?.trim();
    if !call.state.business_units.contains(business_unit) {
        return Err(ApiError::invalid("business_unit", business_unit, "No such business unit"));
    }
    let groups = p.list("asset_groups");
    if !groups.is_empty() && ALL_GROUP_ROLES.contains(&role) {
        return Err(ApiError::invalid("asset_groups", groups.join(","), "Not allowed for this user role"));
    }
    if let Some(missing) = groups.iter().find(|t| group::by_title(call.state, t).is_none()) {
        return Err(ApiError::invalid("asset_groups", missing, "No such asset group"));
    }
    let send_email = p.flag("send_email", true)?;
    if role == "contact" && p.value("send_email").is_some() {
        return Err(ApiError::invalid(
            "send_email",
            p.get("send_email").unwrap_or_default(),
            "Not allowed for a contact",
        ));
    }
    if let Some(external) = p.value("external_id").filter(|e| e.chars().count() > 256) {
        return Err(ApiError::invalid("external_id", external, "At most 256 characters"));
    }

    let mut contact: BTreeMap<String, String> = CONTACT
        .iter()
        .filter(|(param, _)| !param.is_empty())
        .filter_map(|(param, element)| p.value(param).map(|v| ((*element).to_owned(), v.trim().to_owned())))
        .collect();
    contact.insert("COMPANY".into(), company(call.state));
    contact.entry("TIME_ZONE_CODE".into()).or_insert_with(|| "Auto".into());
    let login = generate_login(call.state, p.require("first_name")?, p.require("last_name")?);
    let id = call.state.next_id(IDS);
    let now = call.state.tick();
    let display = ROLES.iter().find(|(r, _)| *r == role).map_or(role, |(_, d)| *d);
    call.state.users.insert(
        id,
        User {
            id,
            login: login.clone(),
            external_id: p.value("external_id").map(str::to_owned),
            contact,
            asset_groups: groups,
            status: Some("Pending Activation".into()),
            creation_date: Some(now.clone()),
            last_login_date: Some("N/A".into()),
            role: display.to_owned(),
            business_unit: business_unit.to_owned(),
            unit_manager_poc: Some("0".into()),
            manager_poc: Some("0".into()),
            ui_style: Some("standard_blue".into()),
            permissions: default_permissions(),
            notifications: default_notifications(),
            extra: Vec::new(),
        },
    );
    let mut root = Element::new("USER_OUTPUT").child(v1_api(ADD_PATH, call.ctx, &now)).child(
        Element::new("RETURN")
            .attr("status", "SUCCESS")
            .child(Element::cdata("MESSAGE", format!("{login} user has been successfully created."))),
    );
    if !send_email {
        root.push(
            Element::new("USER")
                .child(Element::cdata("USER_LOGIN", &login))
                .child(Element::cdata("PASSWORD", generate_password(id))),
        );
    }
    Ok(Document::with_dtd(root, format!("{}/user_output.dtd", call.ctx.base)).into())
}

/// `action=delete&login=`: the user and its preferences. The API user cannot delete itself,
/// and an unknown login is refused.
fn delete(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "login"])?;
    let login = p.require("login")?.trim();
    let found = call.state.users.values().find(|u| u.login == login && u.login != call.state.api_login);
    let id = found.map(|u| u.id).ok_or_else(|| ApiError::invalid("login", login, "No such user"))?;
    call.state.users.remove(&id);
    call.state.user_prefs.remove(&id);
    let now = call.state.tick();
    let root = Element::new("USER_OUTPUT").child(v1_api(ADD_PATH, call.ctx, &now)).child(
        Element::new("RETURN")
            .attr("status", "SUCCESS")
            .child(Element::cdata("MESSAGE", format!("{login} user has been successfully deleted."))),
    );
    Ok(Document::with_dtd(root, format!("{}/user_output.dtd", call.ctx.base)).into())
}

/// `USER_LIST_OUTPUT/USER_LIST/USER`.
fn list_doc(state: &State, params: &Params, ctx: &Ctx) -> Result<Document, ApiError> {
    params.only(&["external_id_contains", "external_id_assigned"])?;
    let assigned =
        params.value("external_id_assigned").map(|_| params.flag("external_id_assigned", false)).transpose()?;
    let mut list = Element::new("USER_LIST");
    for u in state.users.values() {
        let external = u.external_id.as_deref();
        if params.value("external_id_contains").is_some_and(|c| !external.is_some_and(|e| e.contains(c)))
            || assigned.is_some_and(|a| a != external.is_some())
        {
            continue;
        }
        list.push(element(u));
    }
    Ok(list_output(ctx, list))
}

/// How `user_list.php` reports a refused call: `USER_LIST_OUTPUT/ERROR@number`.
pub(crate) fn list_error(ctx: &Ctx, err: &ApiError) -> Document {
    list_output(ctx, Element::new("ERROR").attr("number", err.code.to_string()).content(&err.text))
}

fn list_output(ctx: &Ctx, content: Element) -> Document {
    Document::with_dtd(
        Element::new("USER_LIST_OUTPUT").child(content),
        format!("{}/msp/user_list_output.dtd", ctx.base),
    )
}

fn element(u: &User) -> Element {
    let mut el = Element::new("USER")
        .child(Element::text("USER_LOGIN", &u.login))
        .child(Element::text("USER_ID", u.id.to_string()));
    el.push_opt(u.external_id.as_ref().map(|e| Element::cdata("EXTERNAL_ID", e)));
    let mut contact = Element::new("CONTACT_INFO");
    let listed = CONTACT.iter().map(|(_, name)| *name);
    let others = u.contact.keys().map(String::as_str).filter(|k| !CONTACT.iter().any(|(_, n)| n == k));
    for name in listed.chain(others) {
        if let Some(v) = u.contact.get(name) {
            contact.push(if matches!(name, "COUNTRY" | "STATE") {
                Element::text(name, v)
            } else {
                Element::cdata(name, v)
            });
        }
    }
    el.push(contact);
    if !u.asset_groups.is_empty() {
        let mut groups = Element::new("ASSIGNED_ASSET_GROUPS");
        for t in &u.asset_groups {
            groups.push(Element::cdata("ASSET_GROUP_TITLE", t));
        }
        el.push(groups);
    }
    let text = |name: &str, v: &Option<String>| v.as_ref().map(|v| Element::text(name, v));
    el.push_opt(text("USER_STATUS", &u.status));
    el.push_opt(text("CREATION_DATE", &u.creation_date));
    el.push_opt(text("LAST_LOGIN_DATE", &u.last_login_date));
    el.push(Element::text("USER_ROLE", &u.role));
    el.push(Element::cdata("BUSINESS_UNIT", &u.business_unit));
    el.push_opt(text("UNIT_MANAGER_POC", &u.unit_manager_poc));
    el.push_opt(text("MANAGER_POC", &u.manager_poc));
    el.push_opt(text("UI_INTERFACE_STYLE", &u.ui_style));
    for (name, pairs) in [("PERMISSIONS", &u.permissions), ("NOTIFICATIONS", &u.notifications)] {
        if !pairs.is_empty() {
            let mut group = Element::new(name);
            for (k, v) in pairs {
                group.push(Element::text(k, v));
            }
            el.push(group);
        }
    }
    for extra in &u.extra {
        el.push(extra.clone());
    }
    el
}

/// Reads `USER_LIST_OUTPUT`; every business unit named there exists in the subscription.
fn seed(state: &mut State, file: &SeedFile) -> SeedResult {
    let Some(list) = file.root().find("USER_LIST") else { return Ok(()) };
    for el in list.all("USER") {
        let id = seed::id(el, "USER_ID")?;
        let pairs = |name: &str| -> Vec<(String, String)> {
            el.get(name).into_iter().flat_map(Element::elements).map(|e| (e.name.clone(), e.value())).collect()
        };
        let business_unit = el.child_value("BUSINESS_UNIT").unwrap_or_else(|| "Unassigned".into());
        state.business_units.insert(business_unit.clone());
        let user = User {
            id,
            login: seed::text(el, "USER_LOGIN")?,
            external_id: el.non_empty("EXTERNAL_ID"),
            contact: pairs("CONTACT_INFO").into_iter().collect(),
            asset_groups: el
                .get("ASSIGNED_ASSET_GROUPS")
                .into_iter()
                .flat_map(|g| g.all("ASSET_GROUP_TITLE"))
                .map(Element::value)
                .collect(),
            status: el.child_value("USER_STATUS"),
            creation_date: el.child_value("CREATION_DATE"),
            last_login_date: el.child_value("LAST_LOGIN_DATE"),
            role: seed::text(el, "USER_ROLE")?,
            business_unit,
            unit_manager_poc: el.child_value("UNIT_MANAGER_POC"),
            manager_poc: el.child_value("MANAGER_POC"),
            ui_style: el.child_value("UI_INTERFACE_STYLE"),
            permissions: pairs("PERMISSIONS"),
            notifications: pairs("NOTIFICATIONS"),
            extra: seed::unmodelled(el, MODELLED),
        };
        state.observe_id(IDS, id);
        state.users.insert(id, user);
    }
    Ok(())
}

/// The preferences of a user who never had any imported.
fn default_preferences() -> Element {
    let mut prefs = Element::new("PREFERENCES");
    for (name, value) in [("LANGUAGE", "English"), ("DATE_FORMAT", "mm/dd/yyyy"), ("START_PAGE", "Dashboard")] {
        prefs.push(Element::text(name, value));
    }
    prefs
}

fn user_param(state: &State, params: &Params) -> Result<u64, ApiError> {
    let id = params.number("user_id")?.ok_or_else(|| ApiError::missing(&["user_id"]))?;
    if !state.users.contains_key(&id) {
        return Err(ApiError::invalid("user_id", id, "No such user"));
    }
    Ok(id)
}

fn export_prefs(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    call.params.only(&["action", "user_id", "echo_request"])?;
    let id = user_param(call.state, call.params)?;
    Ok(prefs_doc(call.state, id, call.ctx).into())
}

/// `USER_PREFS_OUTPUT/RESPONSE/(DATETIME, USER_PREFS/(USER_ID, USER_LOGIN, PREFERENCES))`.
fn prefs_doc(state: &State, id: u64, ctx: &Ctx) -> Document {
    let prefs = state.user_prefs.get(&id).cloned().unwrap_or_else(default_preferences);
    let user = Element::new("USER_PREFS")
        .child(Element::text("USER_ID", id.to_string()))
        .child(Element::cdata("USER_LOGIN", state.login_of(id).unwrap_or_default()))
        .child(prefs);
    let root = Element::new("USER_PREFS_OUTPUT")
        .child(Element::new("RESPONSE").child(Element::text("DATETIME", state.now())).child(user));
    Document::with_dtd(root, format!("{}{PREFS_PATH}user_prefs_output.dtd", ctx.base))
}

fn import_prefs(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    call.params.only(&["action", "user_id", "echo_request"])?;
    let id = user_param(call.state, call.params)?;
    let doc = call.xml_body()?;
    let prefs = doc
        .find("PREFERENCES")
        .cloned()
        .ok_or_else(|| ApiError::invalid_request("The document holds no PREFERENCES"))?;
    let now = call.state.tick();
    call.state.user_prefs.insert(id, prefs);
    Ok(simple_return(call.ctx, &now, "User preferences imported successfully", &[("USER_ID", id.to_string())]).into())
}

/// Reads `USER_PREFS_OUTPUT`: the user comes from `USER_ID` inside the document.
fn seed_prefs(state: &mut State, file: &SeedFile) -> SeedResult {
    let user = file.root().find("USER_PREFS").ok_or("no USER_PREFS element")?;
    let id = seed::id(user, "USER_ID")?;
    if let Some(prefs) = user.get("PREFERENCES") {
        state.user_prefs.insert(id, prefs.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_follow_the_qualys_pattern_and_never_repeat() {
        let mut state = State::empty("nwind_mg", 0);
        assert_eq!(generate_login(&state, "Jane", "Doe"), "nwind_jd1");
        add_defaults(&mut state);
        if let Some(u) = state.users.values_mut().next() {
            u.login = "nwind_jd1".into();
        }
        assert_eq!(generate_login(&state, "Jörg", "Élan"), "nwind_jl1");
        assert_eq!(generate_login(&state, "John", "Dunn"), "nwind_jd2");
        assert_eq!(generate_password(7), generate_password(7));
    }
}
