//! Core task: Users.
//!
//! Source: `USER_LIST_OUTPUT` (`/msp/user_list.php`): USER_LOGIN, USER_ID, CONTACT_INFO (name,
//! title, phone, fax, email, address, city, country, state, zip code, time zone), EXTERNAL_ID,
//! USER_ROLE ("Unit Manager"), BUSINESS_UNIT, ASSIGNED_ASSET_GROUPS, and what the Add User call
//! cannot take: USER_STATUS, MANAGER_POC, UNIT_MANAGER_POC, UI_INTERFACE_STYLE, PERMISSIONS,
//! NOTIFICATIONS, CONTACT_INFO/COMPANY.
//!
//! Rules:
//! - Business units cannot be created by API: they are created by hand first (checklist). A
//!   user's business unit maps through `business_units.csv`, else to a business unit of the same
//!   title that the target's user list shows; "Unassigned" needs neither. A business unit that
//!   does not resolve stops the run, with every other unresolved reference and its users.
//! - A person the target's user list already has (same email, first and last name) is not added
//!   again; its login is used.
//! - Every other user is added (`/msp/user.php`, `action=add`) with its role in the API's form
//!   (`unit_manager`), contact fields, external ID and time zone ("Auto", the browser's, is sent
//!   empty). Asset groups go by title, only for the roles that take them (scanner, reader,
//!   contact), and only titles the target will have (this export's groups, the target export's,
//!   "All"); the others are listed as losses.
//! - `send_email` is the operator's reviewable choice (`--send-email`); contacts take none.
//! - Qualys generates the new login: each request captures it, so later tasks and the final
//!   report map old login to new login. A probe looks for the person in the target's user list,
//!   so an interrupted run can tell whether the user was added.
//! - Roles the call cannot create are skipped and listed for the checklist.
//! - What the call refuses is found here, not at request 1 of the run: a missing title,
//!   address, city or country, a country that needs a state (United States of America,
//!   Australia, Canada, India) without one, an external ID longer than 256 characters. Every
//!   such user is listed at once; `inputs/user_fields.csv` supplies or corrects the values.
//! - Permissions, notification settings, UI style, status and point-of-contact flags cannot be
//!   set by this API: listed per user as losses.

use std::collections::{BTreeMap, BTreeSet};

use qmig_schemas::{Effect, Extract};

use crate::checklist::Step;
use crate::context::{Context, SendEmail};
use crate::error::{Refused, TransformError};
use crate::export::{Kind, Record};
use crate::inputs::{FieldValues, USER_FIELDS};
use crate::plan::{Draft, DraftProbe, Field, RefKind, Refs, Target, TaskOutput, capture_name, object_id};
use crate::tasks::asset_groups;

pub const TASK: &str = "users";
const PATH: &str = "/msp/user.php";
pub const LIST_PATH: &str = "/msp/user_list.php";
pub const UNASSIGNED: &str = "Unassigned";
const USER_FIELDS_FILE: &str = "inputs/user_fields.csv";
const BUSINESS_UNIT_HINT: &str = "create it in the target (Users > Business Units), then map it in \
     inputs/business_units.csv, or capture the target's user list into --target-export once a user of it exists";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Manager,
    UnitManager,
    Administrator,
    Scanner,
    Reader,
    Contact,
}

impl Role {
    const ALL: [Role; 6] =
        [Role::Manager, Role::UnitManager, Role::Administrator, Role::Scanner, Role::Reader, Role::Contact];

    /// The role as the list writes it ("Unit Manager"), in any case.
    pub fn parse(text: &str) -> Option<Role> {
        let api = text.trim().to_ascii_lowercase().replace(' ', "_");
        Role::ALL.into_iter().find(|role| role.api() == api)
    }

    /// The role as `user_role` takes it.
    pub fn api(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::UnitManager => "unit_manager",
            Role::Administrator => "administrator",
            Role::Scanner => "scanner",
            Role::Reader => "reader",
            Role::Contact => "contact",
        }
    }

    /// Managers, unit managers and administrators see every group of their scope: the call
    /// refuses asset groups for them.
    pub fn takes_asset_groups(self) -> bool {
        matches!(self, Role::Scanner | Role::Reader | Role::Contact)
    }
}

/// The contact parameters the add call requires besides the name and email (which identify
/// the person, and without which a user is not read at all).
const REQUIRED_CONTACT: &[(&str, &str)] =
    &[("TITLE", "title"), ("ADDRESS1", "address1"), ("CITY", "city"), ("COUNTRY", "country")];
/// Countries, as `country` names them, for which the add call requires `state`.
const STATE_COUNTRIES: &[&str] = &["United States of America", "Australia", "Canada", "India"];
/// The longest `external_id` the add call takes, in characters.
const LONGEST_EXTERNAL_ID: usize = 256;

/// CONTACT_INFO element and the add call's parameter, in the order they are sent.
const CONTACT: &[(&str, &str)] = &[
    ("FIRSTNAME", "first_name"),
    ("LASTNAME", "last_name"),
    ("TITLE", "title"),
    ("PHONE", "phone"),
    ("FAX", "fax"),
    ("EMAIL", "email"),
    ("ADDRESS1", "address1"),
    ("ADDRESS2", "address2"),
    ("CITY", "city"),
    ("COUNTRY", "country"),
    ("STATE", "state"),
    ("ZIP_CODE", "zip_code"),
];

/// A user as the source lists it.
#[derive(Debug, Clone)]
pub struct User<'a> {
    pub login: &'a str,
    pub id: Option<&'a str>,
    /// As listed, and as the call takes it (`None` for roles the call cannot create).
    pub role_text: &'a str,
    pub role: Option<Role>,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email: &'a str,
    /// (parameter, value) of every contact field given.
    pub contact: Vec<(&'static str, &'a str)>,
    pub time_zone: Option<&'a str>,
    pub external_id: Option<&'a str>,
    pub business_unit: &'a str,
    pub asset_groups: Vec<&'a str>,
    /// What the call cannot set, with the values the export gives.
    pub unsettable: Vec<String>,
    pub record: Record<'a>,
}

impl<'a> User<'a> {
    pub fn parse(record: Record<'a>) -> Result<User<'a>, TransformError> {
        let login = record.required("user", "USER_LOGIN")?;
        let object = format!("user {login}");
        let required = |path: &str| record.required(&object, path);
        let role_text = required("USER_ROLE")?;
        let first_name = required("CONTACT_INFO/FIRSTNAME")?;
        let last_name = required("CONTACT_INFO/LASTNAME")?;
        let email = required("CONTACT_INFO/EMAIL")?;
        let contact = CONTACT
            .iter()
            .filter_map(|(element, param)| record.text(&format!("CONTACT_INFO/{element}")).map(|v| (*param, v)))
            .collect();
        let asset_groups = record
            .element
            .all("ASSIGNED_ASSET_GROUPS/ASSET_GROUP_TITLE")
            .map(|title| title.value())
            .filter(|title| !title.is_empty())
            .collect();
        Ok(User {
            login,
            id: record.text("USER_ID"),
            role_text,
            role: Role::parse(role_text),
            first_name,
            last_name,
            email,
            contact,
            time_zone: record.text("CONTACT_INFO/TIME_ZONE_CODE"),
            external_id: record.text("EXTERNAL_ID"),
            business_unit: record.text("BUSINESS_UNIT").unwrap_or(UNASSIGNED),
            asset_groups,
            unsettable: unsettable(record),
            record,
        })
    }

    /// Takes the values the operator supplies in `user_fields.csv` instead of the source's.
    fn supply(&mut self, supplied: &'a FieldValues) {
        for field in USER_FIELDS {
            let Some(row) = supplied.get(self.login, field) else { continue };
            if *field == "external_id" {
                self.external_id = Some(&row.value);
                continue;
            }
            match self.contact.iter_mut().find(|(param, _)| param == field) {
                Some(slot) => slot.1 = &row.value,
                None => self.contact.push((field, &row.value)),
            }
        }
        // In the order the call's parameters are listed, whatever was supplied.
        self.contact.sort_by_key(|(param, _)| CONTACT.iter().position(|(_, p)| p == param));
    }

    fn contact_value(&self, param: &str) -> Option<&'a str> {
        self.contact.iter().find(|(p, _)| *p == param).map(|(_, value)| *value)
    }

    /// Whether `other` is the same person (the fields a probe matches on).
    fn same_person(&self, other: &User<'_>) -> bool {
        self.email.eq_ignore_ascii_case(other.email)
            && self.first_name == other.first_name
            && self.last_name == other.last_name
    }
}

/// The fields of a user the add call cannot set, each with the values a person needs to set
/// it by hand (`PERMISSIONS (ADD_ASSETS, PURGE_INFO)`).
fn unsettable(record: Record<'_>) -> Vec<String> {
    let element = record.element;
    let mut fields = Vec::new();
    if let Some(status) = record.text("USER_STATUS").filter(|s| !matches!(*s, "Active" | "Pending Activation")) {
        fields.push(format!("USER_STATUS ({status}: the user is created active)"));
    }
    for flag in ["MANAGER_POC", "UNIT_MANAGER_POC"] {
        if record.text(flag) == Some("1") {
            fields.push(flag.to_owned());
        }
    }
    if let Some(style) = record.text("UI_INTERFACE_STYLE") {
        fields.push(format!("UI_INTERFACE_STYLE ({style})"));
    }
    if let Some(permissions) = element.at("PERMISSIONS") {
        let granted: Vec<&str> =
            permissions.children.iter().filter(|p| p.value() == "1").map(|p| p.name.as_str()).collect();
        let granted = if granted.is_empty() { "none granted".to_owned() } else { granted.join(", ") };
        fields.push(format!("PERMISSIONS ({granted})"));
    }
    if let Some(notifications) = element.at("NOTIFICATIONS") {
        let values: Vec<String> = notifications.children.iter().map(|n| format!("{}={}", n.name, n.value())).collect();
        fields.push(format!("NOTIFICATIONS ({})", values.join(", ")));
    }
    if let Some(company) = record.text("CONTACT_INFO/COMPANY") {
        fields.push(format!("CONTACT_INFO/COMPANY ({company}: the target's company is used)"));
    }
    fields
}

/// The target's users, from `--target-export`.
pub fn existing_in_target<'a>(ctx: &Context<'a>) -> Result<Vec<User<'a>>, TransformError> {
    ctx.target_records(Kind::UserList).map(User::parse).collect()
}

pub fn plan(ctx: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let existing = existing_in_target(ctx)?;
    let target_units: BTreeSet<&str> = existing.iter().map(|u| u.business_unit).collect();
    // The target's users by email, the key a person is found by.
    let mut people: BTreeMap<String, Vec<&User<'_>>> = BTreeMap::new();
    for person in &existing {
        people.entry(person.email.to_ascii_lowercase()).or_default().push(person);
    }
    let mut titles: BTreeSet<&str> = asset_groups::source_titles(ctx).collect();
    titles.extend(asset_groups::existing_in_target(ctx)?.into_keys());
    titles.insert(asset_groups::ALL);
    // Target business unit title -> the logins of the users created into it.
    let mut units: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut by_hand = Vec::new();
    let mut added = Vec::new();
    let mut refused = Vec::new();
    let supplied = &ctx.inputs.user_fields;
    let mut logins = BTreeSet::new();
    for record in ctx.export.records(Kind::UserList) {
        let mut user = User::parse(record)?;
        out.source_objects += 1;
        logins.insert(user.login);
        user.supply(supplied);
        let object = format!("user {} ({} {})", user.login, user.first_name, user.last_name);
        let source = record.source(user.id, Some(user.login));
        let same_email = people.get(&user.email.to_ascii_lowercase()).map(Vec::as_slice).unwrap_or_default();
        if let Some(found) = same_email.iter().find(|e| e.same_person(&user)) {
            refs.set(RefKind::User, user.login, Target::Known(found.login.to_owned()));
            out.skip_existing(object, RefKind::User, found.login, source);
            continue;
        }
        let Some(role) = user.role else {
            by_hand.push(format!("{} ({}), role {}", user.login, user.email, user.role_text));
            out.skip(object, format!("the Add User call cannot create the role \"{}\"", user.role_text), Some(source));
            continue;
        };
        let problems = refusals(&user);
        if !problems.is_empty() {
            let hint =
                format!("supply the values in {USER_FIELDS_FILE} (see transformer/INPUTS.md) or correct the source");
            let problem = format!("{}; {hint}", problems.join("; "));
            refused.push(Refused { source_ref: source, object, problem });
            continue;
        }
        let Some(unit) = business_unit(ctx, refs, &target_units, user.business_unit, &object) else { continue };
        if unit != UNASSIGNED {
            units.entry(unit.clone()).or_default().push(user.login);
        }
        let mut lost = user.unsettable.clone();
        let groups = assignable_groups(&user, role, &titles, &mut lost);
        if !lost.is_empty() {
            out.lose(
                object,
                lost,
                "the Add User call cannot set them: set them in the target by hand",
                Some(source.clone()),
            );
        }
        let mut draft = request(ctx, &user, role, &unit, groups);
        if unit != user.business_unit {
            draft = draft.remap(RefKind::BusinessUnit, user.business_unit, &Target::Known(unit.clone()));
        }
        let login = capture_name(&draft.id, Field::Login);
        out.report_capture(
            login.clone(),
            format!("new login of {} ({} {})", user.login, user.first_name, user.last_name),
        );
        refs.set(RefKind::User, user.login, Target::Captured(login));
        added.push(user.login.to_owned());
        out.request(draft.source(source));
    }
    if let Some(row) = supplied.rows.iter().find(|row| !logins.contains(row.object.as_str())) {
        let message = format!("no user of the export has the login `{}`", row.object);
        return Err(TransformError::Input { file: supplied.file.clone(), line: row.line, message });
    }
    if !refused.is_empty() {
        return Err(TransformError::TargetWouldRefuse(refused));
    }
    if !added.is_empty() {
        out.warn(send_email_note(ctx.options.send_email), None);
        out.step(Step::UserFollowUp, added);
    }
    if !units.is_empty() {
        let items = units
            .into_iter()
            .map(|(unit, logins)| format!("business unit \"{unit}\" for users {}", logins.join(", ")))
            .collect();
        out.step(Step::BusinessUnits, items);
    }
    if !by_hand.is_empty() {
        out.step(Step::UsersByHand, by_hand);
    }
    Ok(out)
}

/// What the add call would refuse in this user's values, each saying what it needs.
fn refusals(user: &User<'_>) -> Vec<String> {
    let mut problems: Vec<String> = REQUIRED_CONTACT
        .iter()
        .filter(|(_, param)| user.contact_value(param).is_none())
        .map(|(element, param)| format!("has no CONTACT_INFO/{element}, which the Add User call requires (`{param}`)"))
        .collect();
    if let Some(country) = user.contact_value("country")
        && STATE_COUNTRIES.contains(&country)
        && user.contact_value("state").is_none()
    {
        problems.push(format!(
            "COUNTRY is \"{country}\" and STATE is empty; for that country the Add User call requires `state`"
        ));
    }
    if let Some(external_id) = user.external_id
        && external_id.chars().count() > LONGEST_EXTERNAL_ID
    {
        problems.push(format!(
            "EXTERNAL_ID has {} characters; the Add User call takes at most {LONGEST_EXTERNAL_ID}",
            external_id.chars().count()
        ));
    }
    problems
}

fn send_email_note(send_email: SendEmail) -> &'static str {
    match send_email {
        SendEmail::Yes => {
            "send_email=1 (--send-email yes): Qualys emails each new user a registration link as soon as \
             the user is added"
        }
        SendEmail::No => {
            "send_email=0 (--send-email no): no email is sent; the new passwords come back in the responses, \
             which qmig never keeps, so reset each user's password in the target"
        }
    }
}

/// The target title of a user's business unit, or `None` after recording it as unresolved.
fn business_unit(
    ctx: &Context<'_>,
    refs: &mut Refs,
    target_units: &BTreeSet<&str>,
    unit: &str,
    used_by: &str,
) -> Option<String> {
    if unit == UNASSIGNED {
        return Some(UNASSIGNED.to_owned());
    }
    if let Some(Target::Known(title)) = refs.get(RefKind::BusinessUnit, unit) {
        return Some(title.clone());
    }
    let mapped = ctx.inputs.business_units.lookup(unit, unit).map(|row| row.target.clone());
    match mapped.or_else(|| target_units.contains(unit).then(|| unit.to_owned())) {
        Some(title) => {
            refs.set(RefKind::BusinessUnit, unit, Target::Known(title.clone()));
            Some(title)
        }
        None => {
            refs.require(RefKind::BusinessUnit, unit, used_by, || BUSINESS_UNIT_HINT.to_owned());
            None
        }
    }
}

/// The asset group titles the add call may carry for this user; the rest go to `lost`.
fn assignable_groups<'a>(user: &User<'a>, role: Role, titles: &BTreeSet<&str>, lost: &mut Vec<String>) -> Vec<&'a str> {
    if user.asset_groups.is_empty() {
        return Vec::new();
    }
    if !role.takes_asset_groups() {
        lost.push(format!(
            "ASSIGNED_ASSET_GROUPS ({}: the role {} sees every group of its scope)",
            user.asset_groups.join(", "),
            user.role_text
        ));
        return Vec::new();
    }
    let (groups, unknown): (Vec<&str>, Vec<&str>) =
        user.asset_groups.iter().copied().partition(|title| titles.contains(title) && !title.contains(','));
    if !unknown.is_empty() {
        lost.push(format!(
            "ASSIGNED_ASSET_GROUPS ({}: not in the export or the target export, or a title with a comma)",
            unknown.join(", ")
        ));
    }
    groups
}

fn request(ctx: &Context<'_>, user: &User<'_>, role: Role, unit: &str, groups: Vec<&str>) -> Draft {
    let id = object_id("user", user.login);
    let summary = format!(
        "Add {} {} {} (login {} in the source) to business unit {unit}",
        user.role_text, user.first_name, user.last_name, user.login
    );
    let mut draft = Draft::post(TASK, id.clone(), Effect::Create, PATH, summary)
        .param("action", "add")
        .param("user_role", role.api())
        .param("business_unit", unit)
        .param_opt("asset_groups", (!groups.is_empty()).then(|| groups.join(",")));
    for group in &groups {
        draft = draft.after_object(object_id("asset-group", group));
    }
    for (param, value) in &user.contact {
        draft = draft.param(param, *value);
    }
    // "Auto" means the browser's time zone, which is what an empty code selects.
    let time_zone = user.time_zone.map(|tz| if tz.eq_ignore_ascii_case("Auto") { "" } else { tz });
    let send_email = match ctx.options.send_email {
        SendEmail::Yes => "1",
        SendEmail::No => "0",
    };
    let probe = DraftProbe::list(LIST_PATH, &[], "USER", "CONTACT_INFO/EMAIL", user.email)
        .and("CONTACT_INFO/FIRSTNAME", user.first_name)
        .and("CONTACT_INFO/LASTNAME", user.last_name)
        .fills(&id, Field::Login, "USER_LOGIN");
    draft
        .param_opt("external_id", user.external_id)
        .param_opt("time_zone_code", time_zone)
        // The call refuses send_email for contacts, who never log in.
        .param_opt("send_email", (role != Role::Contact).then_some(send_email))
        .capture(Field::Login, Extract::Login)
        .probe(probe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::test_support::{Fixture, param};

    fn user(login: &str, role: &str, unit: &str, extra: &str) -> String {
        format!(
            "<USER><USER_LOGIN>{login}</USER_LOGIN><USER_ID>{}</USER_ID><CONTACT_INFO>\
             <FIRSTNAME><![CDATA[Zoë]]></FIRSTNAME><LASTNAME><![CDATA[{login}]]></LASTNAME>\
             <TITLE>Analyst</TITLE><EMAIL>{login}@northwind.example</EMAIL><COMPANY>Northwind</COMPANY>\
             <ADDRESS1>1 Main St</ADDRESS1><CITY>Boston</CITY><COUNTRY>United States of America</COUNTRY>\
             <STATE>Massachusetts</STATE><TIME_ZONE_CODE>Auto</TIME_ZONE_CODE></CONTACT_INFO>\
             <USER_STATUS>Active</USER_STATUS><USER_ROLE>{role}</USER_ROLE>\
             <BUSINESS_UNIT><![CDATA[{unit}]]></BUSINESS_UNIT>{extra}</USER>\n",
            login.len()
        )
    }

    fn list(users: &[String]) -> String {
        format!("<USER_LIST_OUTPUT><USER_LIST>\n{}</USER_LIST></USER_LIST_OUTPUT>\n", users.concat())
    }

    const GROUPS: &str = "<ASSET_GROUP_LIST_OUTPUT><RESPONSE><ASSET_GROUP_LIST>\
        <ASSET_GROUP><ID>20</ID><TITLE>Lab, East</TITLE></ASSET_GROUP>\
        <ASSET_GROUP><ID>21</ID><TITLE>DMZ</TITLE></ASSET_GROUP>\
        </ASSET_GROUP_LIST></RESPONSE></ASSET_GROUP_LIST_OUTPUT>";

    #[test]
    fn every_role_is_added_with_its_business_unit_and_groups() {
        let groups = "<ASSIGNED_ASSET_GROUPS><ASSET_GROUP_TITLE>DMZ</ASSET_GROUP_TITLE>\
            <ASSET_GROUP_TITLE>All</ASSET_GROUP_TITLE><ASSET_GROUP_TITLE>Lab, East</ASSET_GROUP_TITLE>\
            <ASSET_GROUP_TITLE>Gone</ASSET_GROUP_TITLE></ASSIGNED_ASSET_GROUPS>";
        let users = list(&[
            user("nw_mg", "Manager", "Unassigned", groups),
            user("nw_um", "Unit Manager", "Finance & Risk", ""),
            user("nw_ad", "Administrator", "Unassigned", ""),
            user("nw_sc", "Scanner", "Finance & Risk", groups),
            user("nw_rd", "Reader", "Unassigned", ""),
            user("nw_ct", "Contact", "Unassigned", ""),
        ]);
        let fixture = Fixture::new(&[("groups.xml", GROUPS), ("users.xml", &users)])
            .inputs(&[("business_units.csv", "source,target\nFinance & Risk,Finance\n")]);
        let (outputs, refs) = fixture.run(&[plan]).expect("plans");
        let out = &outputs[0];
        let roles: Vec<String> = out.requests.iter().filter_map(|r| param(r, "user_role")).collect();
        assert_eq!(roles, ["manager", "unit_manager", "administrator", "scanner", "reader", "contact"]);
        let units: Vec<String> = out.requests.iter().filter_map(|r| param(r, "business_unit")).collect();
        assert_eq!(units, ["Unassigned", "Finance", "Unassigned", "Finance", "Unassigned", "Unassigned"]);
        let scanner = &out.requests[3];
        assert_eq!(param(scanner, "asset_groups").as_deref(), Some("DMZ,All"));
        assert_eq!(param(scanner, "time_zone_code").as_deref(), Some(""));
        assert_eq!(param(scanner, "first_name").as_deref(), Some("Zoë"));
        assert_eq!(param(scanner, "send_email").as_deref(), Some("1"));
        assert_eq!(param(&out.requests[5], "send_email"), None, "contacts take no send_email");
        assert_eq!(param(&out.requests[0], "asset_groups"), None, "managers take no groups");
        assert_eq!(scanner.captures[0].name, "user/nw_sc#login");
        let reported: Vec<(&str, &str)> = out.report.iter().map(|r| (r.capture.as_str(), r.label.as_str())).collect();
        assert_eq!(reported.len(), 6, "every added user's new login");
        assert_eq!(reported[3], ("user/nw_sc#login", "new login of nw_sc (Zoë nw_sc)"));
        assert!(matches!(scanner.captures[0].extract, Extract::Login));
        let probe = scanner.probe.as_ref().expect("probe");
        let fields: Vec<&str> = probe.exists.conditions.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["CONTACT_INFO/EMAIL", "CONTACT_INFO/FIRSTNAME", "CONTACT_INFO/LASTNAME"]);
        assert_eq!(refs.get(RefKind::User, "nw_sc"), Some(&Target::Captured("user/nw_sc#login".into())));
        let lost_of = |login: &str| {
            out.losses.iter().find(|l| l.object.starts_with(&format!("user {login} "))).map(|l| l.fields.clone())
        };
        let scanner_lost = lost_of("nw_sc").expect("losses");
        assert!(
            scanner_lost.iter().any(|f| f.starts_with("ASSIGNED_ASSET_GROUPS (Lab, East, Gone:")),
            "{scanner_lost:?}"
        );
        assert!(scanner_lost.iter().any(|f| f.starts_with("CONTACT_INFO/COMPANY (Northwind")));
        let manager_lost = lost_of("nw_mg").expect("losses");
        assert!(manager_lost.iter().any(|f| f.contains("the role Manager sees every group")), "{manager_lost:?}");
        let units = out.manual_steps.iter().find(|s| s.id == Step::BusinessUnits.id()).expect("business units");
        assert_eq!(units.items, ["business unit \"Finance\" for users nw_um, nw_sc"]);
    }

    #[test]
    fn unresolved_business_units_are_listed_with_every_user() {
        let users = list(&[
            user("nw_a", "Scanner", "Sales", ""),
            user("nw_b", "Reader", "Sales", ""),
            user("nw_c", "Reader", "Ops", ""),
        ]);
        let (_, refs) = Fixture::new(&[("users.xml", &users)]).run(&[plan]).expect("plans");
        let unresolved: Vec<(String, Vec<String>)> =
            refs.unresolved().into_iter().map(|u| (u.key, u.used_by)).collect();
        assert_eq!(
            unresolved,
            [
                ("Ops".to_owned(), vec!["user nw_c (Zoë nw_c)".to_owned()]),
                ("Sales".to_owned(), vec!["user nw_a (Zoë nw_a)".to_owned(), "user nw_b (Zoë nw_b)".to_owned()]),
            ]
        );
    }

    #[test]
    fn the_target_export_maps_people_and_business_units() {
        let target = list(&[user("tg_a", "Reader", "Sales", "")])
            .replace("tg_a@", "nw_a@")
            .replace("<LASTNAME><![CDATA[tg_a]]>", "<LASTNAME><![CDATA[nw_a]]>");
        let users = list(&[user("nw_a", "Scanner", "Sales", ""), user("nw_b", "Reader", "Sales", "")]);
        let fixture = Fixture::new(&[("users.xml", &users)]).target(&[("users.xml", &target)]);
        let (outputs, refs) = fixture.run(&[plan]).expect("plans");
        assert_eq!(refs.get(RefKind::User, "nw_a"), Some(&Target::Known("tg_a".into())));
        assert_eq!(outputs[0].requests.len(), 1);
        assert_eq!(param(&outputs[0].requests[0], "business_unit").as_deref(), Some("Sales"));
        assert!(refs.unresolved().is_empty());
    }

    #[test]
    fn roles_the_call_cannot_create_and_the_email_choice_are_reported() {
        let users =
            list(&[user("nw_kb", "KnowledgeBase Only", "Unassigned", ""), user("nw_rd", "Reader", "Unassigned", "")]);
        let fixture = Fixture::new(&[("users.xml", &users)]).options(|o| o.send_email = SendEmail::No);
        let out = fixture.plan(plan);
        assert_eq!(out.requests.len(), 1);
        assert_eq!(param(&out.requests[0], "send_email").as_deref(), Some("0"));
        assert!(out.skipped[0].reason.contains("KnowledgeBase Only"));
        assert!(out.warnings[0].message.starts_with("send_email=0"));
        let by_hand = out.manual_steps.iter().find(|s| s.id == Step::UsersByHand.id()).expect("by hand");
        assert_eq!(by_hand.items, ["nw_kb (nw_kb@northwind.example), role KnowledgeBase Only"]);
    }

    #[test]
    fn a_user_without_an_email_is_refused_with_its_line() {
        let users =
            list(&[user("nw_a", "Reader", "Unassigned", "")]).replace("<EMAIL>nw_a@northwind.example</EMAIL>", "");
        let err = Fixture::new(&[("users.xml", &users)]).try_plan(plan).expect_err("no email");
        assert_eq!(err.to_string(), "users.xml:2: user nw_a: has no CONTACT_INFO/EMAIL");
    }

    #[test]
    fn every_listed_role_takes_the_api_form() {
        let cases = [
            ("Manager", "manager"),
            ("Unit Manager", "unit_manager"),
            ("Administrator", "administrator"),
            ("Scanner", "scanner"),
            ("Reader", "reader"),
            ("Contact", "contact"),
            ("unit manager", "unit_manager"),
        ];
        for (listed, api) in cases {
            assert_eq!(Role::parse(listed).map(Role::api), Some(api), "{listed}");
        }
        assert_eq!(Role::parse("KnowledgeBase Only"), None);
        let takes: Vec<Role> = Role::ALL.into_iter().filter(|r| r.takes_asset_groups()).collect();
        assert_eq!(takes, [Role::Scanner, Role::Reader, Role::Contact]);
    }
}
