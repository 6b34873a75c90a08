//! Core task: User preferences (the guide's "export/import user settings").
//!
//! Source: one `USER_PREFS_OUTPUT` document per user
//! (`/api/2.0/fo/user_prefs/?action=export&user_id=N`). It names its user by USER_ID (or
//! USER_LOGIN) inside; failing that, by the echoed `user_id` parameter, or by the file name
//! (`user_prefs_<source user ID>.xml`).
//!
//! Rules:
//! - Each document is imported as exported for the user's counterpart in the target
//!   (`action=import&user_id=M`, `text/xml` body). Importing it again gives the same
//!   preferences, so the call may be repeated.
//! - The target user ID exists only once the user does (the Add User call returns a login, not
//!   an ID): for a user the users task adds, a read-only request finds the ID in the target's
//!   user list by the captured login, and the import uses that capture. A user already in the
//!   target export has its ID now.
//! - Preferences of a user the user list does not have, or that is not migrated, are reported
//!   as skipped.

use std::collections::{BTreeMap, BTreeSet};

use qmig_schemas::{Effect, SourceRef};

use crate::context::Context;
use crate::error::TransformError;
use crate::export::{ExportFile, Kind};
use crate::plan::{Draft, DraftBody, Field, RefKind, Refs, Target, TaskOutput, match_extract, object_id};
use crate::tasks::users::{self, User};

pub const TASK: &str = "user preferences";
pub(crate) const PATH: &str = "/api/2.0/fo/user_prefs/";

/// How a preferences document names its user.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner<'a> {
    id: Option<&'a str>,
    login: Option<&'a str>,
}

fn owner(file: &ExportFile) -> Owner<'_> {
    let head = &file.document.head;
    let inside = |name: &str| {
        head.descendants().into_iter().find(|e| e.name == name).map(|e| e.value()).filter(|v| !v.is_empty())
    };
    let echoed = || file.echoed("user_id");
    let named = || file.stem().rsplit('_').next().filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    Owner { id: inside("USER_ID").or_else(echoed).or_else(named), login: inside("USER_LOGIN") }
}

pub fn plan(ctx: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    // User logins are unique in an export (its pages are merged on them).
    let mut logins = BTreeSet::new();
    let mut login_of_id = BTreeMap::new();
    for record in ctx.export.records(Kind::UserList) {
        let user = User::parse(record)?;
        if let Some(id) = user.id {
            login_of_id.entry(id).or_insert(user.login);
        }
        logins.insert(user.login);
    }
    let target_ids: BTreeMap<&str, &str> =
        users::existing_in_target(ctx)?.into_iter().filter_map(|u| Some((u.login, u.id?))).collect();
    for file in ctx.export.files(Kind::UserPrefs) {
        out.source_objects += 1;
        let owner = owner(file);
        let head = file.head();
        let source = head.source(owner.id, owner.login);
        if owner.id.is_none() && owner.login.is_none() {
            return Err(head.invalid(
                "user preferences",
                "the document names no user (USER_ID or USER_LOGIN): capture it with echo_request=1, or name \
                 it user_prefs_<source user ID>.xml",
            ));
        }
        let object = format!("preferences of user {}", owner.login.or(owner.id).unwrap_or_default());
        let user = match owner.id {
            Some(id) => login_of_id.get(id).copied(),
            None => owner.login.filter(|login| logins.contains(login)),
        };
        let Some(user) = user else {
            out.skip(object, "the exported user list has no such user", Some(source));
            continue;
        };
        let object = format!("preferences of user {user}");
        let Some(login) = refs.get(RefKind::User, user).cloned() else {
            out.skip(object, "the user is not migrated (see the users task)", Some(source));
            continue;
        };
        let known_id = match &login {
            Target::Known(login) => target_ids.get(login.as_str()).copied(),
            Target::Captured(_) => None,
        };
        let user_id = match known_id {
            Some(id) => Target::Known(id.to_owned()),
            None => lookup(user, &login, source.clone(), &mut out),
        };
        let body = DraftBody::verbatim(&ctx.export.bytes(file)?, "text/xml");
        let summary = format!("Import the preferences of user {user} for the user's new account");
        let draft = Draft::post(TASK, object_id("user-prefs", user), Effect::Idempotent, PATH, summary)
            .param("action", "import")
            .param("user_id", user_id.value())
            .body(body)
            .source(source);
        out.request(draft);
    }
    Ok(out)
}

/// A read-only request that finds the target user ID of `login` in the target's user list.
fn lookup(source_login: &str, login: &Target, source: SourceRef, out: &mut TaskOutput) -> Target {
    let id = object_id("user-id", source_login);
    let summary = format!("Look up the target user ID of user {source_login}'s new account");
    let draft = Draft::post(TASK, id.clone(), Effect::Read, users::LIST_PATH, summary)
        .capture(Field::Id, match_extract("USER", "USER_LOGIN", login.value(), "USER_ID"))
        .source(source)
        .remap(RefKind::User, source_login, login);
    out.request(draft);
    Target::captured(&id, Field::Id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::test_support::Fixture;

    const USERS: &str = "<USER_LIST_OUTPUT><USER_LIST>\
        <USER><USER_LOGIN>nw_sc</USER_LOGIN><USER_ID>1201</USER_ID><CONTACT_INFO><FIRSTNAME>Ana</FIRSTNAME>\
        <LASTNAME>Silva</LASTNAME><TITLE>Analyst</TITLE><EMAIL>ana@northwind.example</EMAIL>\
        <ADDRESS1>Rua Augusta 1</ADDRESS1><CITY>Lisbon</CITY><COUNTRY>Portugal</COUNTRY></CONTACT_INFO>\
        <USER_ROLE>Scanner</USER_ROLE>\
        <BUSINESS_UNIT>Unassigned</BUSINESS_UNIT></USER>\
        <USER><USER_LOGIN>nw_kb</USER_LOGIN><USER_ID>1202</USER_ID><CONTACT_INFO><FIRSTNAME>Kim</FIRSTNAME>\
        <LASTNAME>Berg</LASTNAME><EMAIL>kim@northwind.example</EMAIL></CONTACT_INFO>\
        <USER_ROLE>KnowledgeBase Only</USER_ROLE></USER>\
        </USER_LIST></USER_LIST_OUTPUT>";

    fn prefs(user: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?>\n<USER_PREFS_OUTPUT><RESPONSE><USER_PREFS>{user}\
             <PREFERENCES><LANGUAGE>English</LANGUAGE></PREFERENCES></USER_PREFS></RESPONSE></USER_PREFS_OUTPUT>\n"
        )
    }

    #[test]
    fn the_target_user_id_is_looked_up_by_the_captured_login() {
        let document = prefs("<USER_ID>1201</USER_ID>");
        let fixture = Fixture::new(&[("users.xml", USERS), ("prefs/a.xml", &document)]);
        let out = fixture.try_plan_after(&[users::plan], plan).expect("plans");
        let [lookup, import] = out.requests.as_slice() else { panic!("two requests: {:?}", out.requests) };
        assert_eq!(lookup.effect, Effect::Read);
        assert_eq!(lookup.path, users::LIST_PATH);
        let qmig_schemas::Extract::Match { matcher, take } = &lookup.captures[0].extract else { panic!("a match") };
        assert_eq!(take, "USER_ID");
        assert_eq!(matcher.conditions[0].equals.display(), "{{capture:user/nw_sc#login}}");
        assert_eq!(import.effect, Effect::Idempotent);
        assert_eq!(import.params[1].value.display(), "{{capture:user-id/nw_sc#id}}");
        assert_eq!(import.body.as_ref().map(|b| b.text.as_str()), Some(document.as_str()));
    }

    #[test]
    fn the_owner_comes_from_inside_the_echoed_request_or_the_file_name() {
        let echoed = "<USER_PREFS_OUTPUT><REQUEST><PARAM_LIST><PARAM><KEY>user_id</KEY><VALUE>1202</VALUE></PARAM>\
            </PARAM_LIST></REQUEST><RESPONSE/></USER_PREFS_OUTPUT>";
        let files = [
            ("users.xml", USERS),
            ("by_login.xml", &prefs("<USER_LOGIN>nw_sc</USER_LOGIN>")),
            ("echoed.xml", echoed),
            ("user_prefs_1999.xml", &prefs("")),
        ];
        let fixture = Fixture::new(&files);
        let out = fixture.try_plan_after(&[users::plan], plan).expect("plans");
        assert_eq!(out.source_objects, 3);
        assert_eq!(out.requests.len(), 2, "nw_sc by its login");
        let reasons: Vec<(&str, &str)> = out.skipped.iter().map(|s| (s.object.as_str(), s.reason.as_str())).collect();
        assert_eq!(
            reasons,
            [
                ("preferences of user nw_kb", "the user is not migrated (see the users task)"),
                ("preferences of user 1999", "the exported user list has no such user"),
            ]
        );
        let nameless = Fixture::new(&[("users.xml", USERS), ("p.xml", &prefs(""))]);
        let err = nameless.try_plan(plan).expect_err("names nobody");
        assert!(err.to_string().starts_with("p.xml:2: user preferences: the document names no user"), "{err}");
    }

    #[test]
    fn a_user_already_in_the_target_gets_its_known_id() {
        let target = USERS.replace("nw_sc", "tg_sc").replace("1201", "8801");
        let fixture = Fixture::new(&[("users.xml", USERS), ("a.xml", &prefs("<USER_ID>1201</USER_ID>"))])
            .target(&[("users.xml", &target)]);
        let out = fixture.try_plan_after(&[users::plan], plan).expect("plans");
        let [import] = out.requests.as_slice() else { panic!("one request: {:?}", out.requests) };
        assert_eq!(import.params[1].value.display(), "8801");
    }
}
