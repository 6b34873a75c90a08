//! Core task: Option profiles (VM, PC and PCI).
//!
//! Source: `OPTION_PROFILES`
//! (`/api/2.0/fo/subscription/option_profile/?action=export&include_system_option_profiles=0`):
//! each `OPTION_PROFILE` with `BASIC_INFO` (ID, GROUP_NAME = title, GROUP_TYPE user|compliance|pci,
//! IS_DEFAULT, ...) and its settings.
//!
//! Rules:
//! - One import per profile (`?action=import`, the profile in an `OPTION_PROFILES` body sent as
//!   `text/xml`), so each new ID is captured (`RefKind::OptionProfile`) and one refusal concerns
//!   one profile. The settings are sent as exported; the title is kept exactly, which is how scan
//!   schedules name their profile.
//! - The import finds the profile's custom and excluded search lists by title, and silently uses
//!   "Complete" detection when the target has no list of that title: every such title must be one
//!   the target will have (created by the search lists task or in `--target-export`), or the
//!   transformation stops listing all of them.
//! - A title the target already has is never imported twice: with the same type it is mapped to
//!   the target's profile (whose settings are kept); with another type it is refused. Every
//!   subscription has "Initial Options", whose ID is looked up when the target export lacks it.
//! - `IS_DEFAULT=1` is cleared and listed in the review, so the target keeps its default profile,
//!   unless `--keep-default-flag` is given.
//! - What Qualys's import drops is listed per profile: password brute-force lists, and the
//!   policies a compliance profile restricts its scans to.
//!
//! The layout of the search-list references (`CUSTOM_LIST/CUSTOM/TITLE`, excluded ones below
//! `DETECTION_EXCLUDE`) and of the brute-force settings is UNVERIFIED: any such element at any
//! depth is read.

use std::collections::BTreeMap;

use qmig_schemas::{Effect, Extract, SourceRef};

use crate::context::Context;
use crate::error::TransformError;
use crate::export::{Kind, Record};
use crate::plan::{Draft, DraftBody, DraftProbe, Field, RefKind, Refs, Target, TaskOutput, match_extract, object_id};
use crate::tasks::search_lists;
use crate::xml::Element;

pub const TASK: &str = "option profiles";
pub const PATH: &str = "/api/2.0/fo/subscription/option_profile/";
/// The profile every subscription has, exported only with `include_system_option_profiles=1`.
pub const INITIAL_OPTIONS: &str = "Initial Options";
const TYPES: [(&str, &str); 3] = [("user", "VM"), ("compliance", "PC"), ("pci", "PCI")];

/// An option profile as the source exports it.
#[derive(Debug, Clone)]
pub struct OptionProfile<'a> {
    pub id: &'a str,
    pub title: &'a str,
    /// `GROUP_TYPE`: user (VM), compliance (PC) or pci.
    pub group_type: &'a str,
    pub record: Record<'a>,
}

impl<'a> OptionProfile<'a> {
    pub fn parse(record: Record<'a>) -> Result<OptionProfile<'a>, TransformError> {
        let id =
            record.text("BASIC_INFO/ID").ok_or_else(|| record.invalid("option profile", "has no BASIC_INFO/ID"))?;
        let title = record
            .element
            .at("BASIC_INFO/GROUP_NAME")
            .map(|t| t.text.as_str())
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                record.invalid(&format!("option profile {id}"), "has no BASIC_INFO/GROUP_NAME (its title)")
            })?;
        let group_type = record.text("BASIC_INFO/GROUP_TYPE").unwrap_or("user");
        if !TYPES.iter().any(|(t, _)| *t == group_type) {
            return Err(record.invalid(
                &format!("option profile \"{title}\""),
                format!("GROUP_TYPE is \"{group_type}\"; Qualys writes user, compliance or pci"),
            ));
        }
        Ok(OptionProfile { id, title, group_type, record })
    }

    fn type_label(&self) -> &'static str {
        TYPES.iter().find(|(t, _)| *t == self.group_type).map_or("VM", |(_, label)| label)
    }

    fn object(&self) -> String {
        format!("{} option profile \"{}\"", self.type_label(), self.title)
    }

    fn source(&self) -> SourceRef {
        self.record.source(Some(self.id), Some(self.title))
    }

    fn is_default(&self) -> bool {
        self.record.text("BASIC_INFO/IS_DEFAULT") == Some("1")
    }

    /// The titles of the search lists the profile's vulnerability detection uses, and whether
    /// each is excluded.
    fn search_lists(&self) -> Vec<(&'a str, bool)> {
        let mut found = Vec::new();
        for detection in self.record.element.descendants().into_iter().filter(|e| e.name == "VULNERABILITY_DETECTION") {
            collect_lists(detection, false, &mut found);
        }
        found
    }

    /// Whether the profile has custom password brute-forcing lists, which the import empties.
    fn has_brute_force_lists(&self) -> bool {
        let brute_forcing = self.record.element.descendants().into_iter().filter(|e| e.name.contains("BRUTE_FORC"));
        brute_forcing.flat_map(Element::descendants).any(|e| e.name.starts_with("CUSTOM"))
    }
}

fn collect_lists<'a>(element: &'a Element, excluded: bool, found: &mut Vec<(&'a str, bool)>) {
    let excluded = excluded || element.name.contains("EXCLUDE");
    if element.name == "CUSTOM_LIST" {
        for title in element.children_named("CUSTOM").filter_map(|custom| custom.at("TITLE")) {
            found.push((title.text.as_str(), excluded));
        }
        return;
    }
    for child in &element.children {
        collect_lists(child, excluded, found);
    }
}

pub fn plan(ctx: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    let existing = existing_in_target(ctx)?;
    for record in ctx.export.records(Kind::OptionProfiles) {
        let profile = OptionProfile::parse(record)?;
        out.source_objects += 1;
        let source = profile.source();
        if let Some(target) = existing.get(profile.title) {
            if target.group_type != profile.group_type {
                return Err(TransformError::TitleTaken {
                    source_ref: source,
                    object: profile.object(),
                    existing: format!("an option profile of type {} ({})", target.group_type, target.id),
                });
            }
            refs.set(RefKind::OptionProfile, profile.id, Target::Known(target.id.to_owned()));
            let reason = format!(
                "already in the target as option profile {} (target export); its settings there are kept",
                target.id
            );
            out.skip(profile.object(), reason, Some(source));
            continue;
        }
        if profile.title == INITIAL_OPTIONS {
            let target = look_up(&profile, &mut out);
            refs.set(RefKind::OptionProfile, profile.id, target);
            let reason = "every subscription has it: mapped to the target's, whose settings are kept";
            out.skip(profile.object(), reason, Some(source));
            continue;
        }
        let used_by = profile.object();
        let mut uses = Vec::new();
        for (title, excluded) in profile.search_lists() {
            // An unresolved title is recorded, and the run stops listing every one of them.
            search_lists::require_title(refs, title, &used_by);
            uses.push(format!("{}\"{title}\"", if excluded { "excluded " } else { "" }));
        }
        let draft = import(ctx, &profile, &uses, &mut out);
        refs.set(RefKind::OptionProfile, profile.id, Target::captured(&draft.id, Field::Id));
        out.request(draft);
    }
    Ok(out)
}

/// The import of one profile, with the losses it entails listed.
fn import(ctx: &Context<'_>, profile: &OptionProfile<'_>, uses: &[String], out: &mut TaskOutput) -> Draft {
    let mut element = profile.record.element.clone();
    if profile.is_default() {
        if ctx.options.keep_default_flag {
            out.warn(
                format!(
                    "{} is imported as the target's default option profile (--keep-default-flag)",
                    profile.object()
                ),
                Some(profile.source()),
            );
        } else {
            set_text(&mut element, "BASIC_INFO/IS_DEFAULT", "0");
            out.lose(
                profile.object(),
                vec!["IS_DEFAULT".to_owned()],
                "it is the source's default profile; imported as an ordinary one, so the target keeps its own \
                 default. Make it the default in the target's user interface, or transform with --keep-default-flag",
                Some(profile.source()),
            );
        }
    }
    if profile.has_brute_force_lists() {
        out.lose(
            profile.object(),
            vec!["password brute forcing lists".to_owned()],
            "Qualys's import always leaves them empty: enter the custom login/password lists again in the \
             target's profile",
            Some(profile.source()),
        );
    }
    if profile.group_type == "compliance" {
        out.lose(
            profile.object(),
            vec!["scan restrictions".to_owned()],
            "Qualys's import drops the policies a compliance profile restricts its scans to (their IDs differ in \
             the target anyway): if the source profile had any, select the migrated policies again",
            Some(profile.source()),
        );
    }
    let id = object_id("option-profile", profile.title);
    let mut summary = format!("Import {}", profile.object());
    if !uses.is_empty() {
        summary.push_str(&format!(", which uses search lists {} (found by title)", uses.join(", ")));
    }
    let mut body = DraftBody::xml();
    body.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<OPTION_PROFILES>\n").raw(&element.to_xml());
    body.raw("</OPTION_PROFILES>\n");
    let probe = DraftProbe::list(
        PATH,
        &[("action", "export"), ("option_profile_title", profile.title)],
        "OPTION_PROFILE",
        "BASIC_INFO/GROUP_NAME",
        profile.title,
    )
    .and("BASIC_INFO/GROUP_TYPE", profile.group_type)
    .fills(&id, Field::Id, "BASIC_INFO/ID");
    let draft = Draft::post(TASK, id.clone(), Effect::Create, PATH, summary)
        .param("action", "import")
        .body(body)
        .capture(Field::Id, Extract::NewId)
        .probe(probe)
        .source(profile.source());
    uses.iter().fold(draft, |draft, title| draft.after_object(object_id("search-list", title)))
}

/// A read-only request that finds the target's ID of a profile every subscription has.
fn look_up(profile: &OptionProfile<'_>, out: &mut TaskOutput) -> Target {
    let id = object_id("option-profile-id", profile.title);
    let summary = format!("Look up the target's ID of option profile \"{}\"", profile.title);
    let draft = Draft::post(TASK, id.clone(), Effect::Read, PATH, summary)
        .param("action", "export")
        .param("option_profile_title", profile.title)
        .param("include_system_option_profiles", "1")
        .capture(Field::Id, match_extract("OPTION_PROFILE", "BASIC_INFO/GROUP_NAME", profile.title, "BASIC_INFO/ID"))
        .source(profile.source());
    out.request(draft);
    Target::captured(&id, Field::Id)
}

fn set_text(element: &mut Element, path: &str, text: &str) {
    let mut current = element;
    for name in path.split('/') {
        match current.children.iter_mut().find(|c| c.name == name) {
            Some(child) => current = child,
            None => return,
        }
    }
    current.text = text.to_owned();
}

/// A profile of the target's, from `--target-export`.
struct Existing<'a> {
    id: &'a str,
    group_type: &'a str,
}

/// The target's option profiles by title.
fn existing_in_target<'a>(ctx: &Context<'a>) -> Result<BTreeMap<&'a str, Existing<'a>>, TransformError> {
    let mut existing = BTreeMap::new();
    for record in ctx.target_records(Kind::OptionProfiles) {
        let profile = OptionProfile::parse(record)?;
        existing.insert(profile.title, Existing { id: profile.id, group_type: profile.group_type });
    }
    Ok(existing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Unresolved;
    use crate::tasks::test_support::{Fixture, param};

    const LISTS: &str = "<STATIC_SEARCH_LIST_OUTPUT><RESPONSE><STATIC_LISTS>\
        <STATIC_LIST><ID>101</ID><TITLE>Weak TLS</TITLE><GLOBAL>No</GLOBAL><QIDS><QID>38170</QID></QIDS></STATIC_LIST>\
        <STATIC_LIST><ID>103</ID><TITLE>Patch Tuesday</TITLE><GLOBAL>No</GLOBAL><QIDS><QID>90001</QID></QIDS></STATIC_LIST>\
        </STATIC_LISTS></RESPONSE></STATIC_SEARCH_LIST_OUTPUT>";

    fn profile(id: &str, title: &str, group_type: &str, settings: &str) -> String {
        format!(
            "<OPTION_PROFILE>\n<BASIC_INFO><ID>{id}</ID><GROUP_NAME><![CDATA[{title}]]></GROUP_NAME>\
             <GROUP_TYPE>{group_type}</GROUP_TYPE><USER_ID>11</USER_ID><IS_DEFAULT>0</IS_DEFAULT>\
             <IS_GLOBAL>1</IS_GLOBAL></BASIC_INFO>{settings}</OPTION_PROFILE>\n"
        )
    }

    fn export(profiles: &[String]) -> String {
        format!("<OPTION_PROFILES>\n{}</OPTION_PROFILES>\n", profiles.concat())
    }

    const CUSTOM: &str = "<SCAN><VULNERABILITY_DETECTION><CUSTOM_LIST><CUSTOM><ID>101</ID><TITLE>Weak TLS</TITLE>\
        </CUSTOM><CUSTOM><ID>103</ID><TITLE>Patch Tuesday</TITLE></CUSTOM></CUSTOM_LIST><DETECTION_EXCLUDE><CUSTOM_LIST><CUSTOM><ID>102</ID><TITLE>Noisy &amp; slow</TITLE>\
        </CUSTOM></CUSTOM_LIST></DETECTION_EXCLUDE></VULNERABILITY_DETECTION></SCAN>";

    fn plans() -> [crate::tasks::Plan; 2] {
        [search_lists::plan, plan]
    }

    #[test]
    fn each_profile_is_one_import_of_its_own_document_with_its_id_captured() {
        let profiles = export(&[
            profile("7", "Web & DB", "user", "<SCAN><PORTS><TCP_PORTS>standard</TCP_PORTS></PORTS></SCAN>"),
            profile("8", "PCI quarterly", "pci", ""),
        ]);
        let (outputs, refs) = Fixture::new(&[("op.xml", &profiles)]).run(&plans()).expect("plans");
        let out = &outputs[1];
        assert_eq!(out.requests.len(), 2);
        let draft = &out.requests[0];
        assert_eq!(draft.id, "option-profile/Web & DB");
        assert_eq!(draft.path, PATH);
        assert_eq!(param(draft, "action").as_deref(), Some("import"));
        let body = draft.body.as_ref().expect("an XML body");
        assert_eq!(body.content_type, "text/xml");
        assert_eq!(body.text.matches("<OPTION_PROFILE>").count(), 1);
        assert!(body.text.contains("<GROUP_NAME>Web &amp; DB</GROUP_NAME>"), "{}", body.text);
        assert!(body.text.contains("<TCP_PORTS>standard</TCP_PORTS>"), "{}", body.text);
        let probe = draft.probe.as_ref().expect("probe by title and type");
        assert_eq!(probe.exists.conditions.len(), 2);
        assert_eq!(
            refs.get(RefKind::OptionProfile, "8"),
            Some(&Target::captured("option-profile/PCI quarterly", Field::Id))
        );
        assert!(out.losses.is_empty(), "{:?}", out.losses);
    }

    #[test]
    fn a_search_list_the_target_will_not_have_stops_the_transformation_listing_all() {
        let profiles = export(&[profile("7", "Custom VM", "user", CUSTOM), profile("9", "Other", "pci", CUSTOM)]);
        let (_, refs) = Fixture::new(&[("op.xml", &profiles)]).run(&plans()).expect("plans");
        let keys: Vec<String> = refs.unresolved().into_iter().map(|u| u.key).collect();
        assert_eq!(keys, ["Noisy & slow", "Patch Tuesday", "Weak TLS"], "every list of every profile");
        let fixture = Fixture::new(&[("op.xml", &profiles), ("lists.xml", LISTS)]);
        let (_, refs) = fixture.run(&plans()).expect("plans");
        let unresolved: Vec<Unresolved> = refs.unresolved();
        assert_eq!(unresolved.len(), 1, "the bundle creates the others: {unresolved:?}");
        assert_eq!(unresolved[0].key, "Noisy & slow");
        assert_eq!(unresolved[0].used_by, ["VM option profile \"Custom VM\"", "PCI option profile \"Other\""]);
        assert!(unresolved[0].hint.contains("\"Complete\""), "{}", unresolved[0].hint);
    }

    #[test]
    fn search_lists_found_by_title_are_shown_and_target_lists_count() {
        let profiles = export(&[profile("7", "Custom VM", "user", CUSTOM)]);
        let target_lists = LISTS.replace("<ID>101</ID>", "<ID>5000</ID>").replace("Weak TLS", "Noisy &amp; slow");
        let fixture =
            Fixture::new(&[("op.xml", &profiles), ("lists.xml", LISTS)]).target(&[("lists.xml", &target_lists)]);
        let (outputs, refs) = fixture.run(&plans()).expect("plans");
        assert!(refs.unresolved().is_empty(), "{:?}", refs.unresolved());
        let summary = &outputs[1].requests[0].summary;
        assert!(summary.contains("\"Weak TLS\", \"Patch Tuesday\", excluded \"Noisy & slow\""), "{summary}");
    }

    #[test]
    fn a_title_the_target_has_is_mapped_or_refused_never_imported_twice() {
        let profiles = export(&[profile("7", "Web", "user", "")]);
        let same = export(&[profile("70", "Web", "user", "")]);
        let fixture = Fixture::new(&[("op.xml", &profiles)]).target(&[("op.xml", &same)]);
        let (outputs, refs) = fixture.run(&plans()).expect("plans");
        assert!(outputs[1].requests.is_empty());
        assert!(outputs[1].skipped[0].reason.contains("option profile 70"), "{:?}", outputs[1].skipped);
        assert_eq!(refs.get(RefKind::OptionProfile, "7"), Some(&Target::Known("70".into())));

        let other_type = export(&[profile("70", "Web", "compliance", "")]);
        let fixture = Fixture::new(&[("op.xml", &profiles)]).target(&[("op.xml", &other_type)]);
        let err = fixture.try_plan(plan).expect_err("a PC profile has the title");
        assert!(matches!(err, TransformError::TitleTaken { .. }), "{err}");
        assert!(err.to_string().contains("op.xml:2"), "{err}");
    }

    #[test]
    fn initial_options_is_never_imported_its_target_id_is_looked_up() {
        let profiles = export(&[profile("1", INITIAL_OPTIONS, "user", "")]);
        let (outputs, refs) = Fixture::new(&[("op.xml", &profiles)]).run(&plans()).expect("plans");
        let out = &outputs[1];
        assert_eq!(out.requests.len(), 1);
        assert_eq!(out.requests[0].effect, Effect::Read);
        assert_eq!(param(&out.requests[0], "include_system_option_profiles").as_deref(), Some("1"));
        assert_eq!(
            refs.get(RefKind::OptionProfile, "1"),
            Some(&Target::captured("option-profile-id/Initial Options", Field::Id))
        );
    }

    #[test]
    fn the_default_flag_is_cleared_and_listed_unless_kept() {
        let default = export(&[profile("7", "Web", "user", "").replace("<IS_DEFAULT>0", "<IS_DEFAULT>1")]);
        let out = Fixture::new(&[("op.xml", &default)]).plan(plan);
        let body = &out.requests[0].body.as_ref().expect("body").text;
        assert!(body.contains("<IS_DEFAULT>0</IS_DEFAULT>"), "{body}");
        assert_eq!(out.losses[0].fields, ["IS_DEFAULT"]);

        let out = Fixture::new(&[("op.xml", &default)]).options(|o| o.keep_default_flag = true).plan(plan);
        let body = &out.requests[0].body.as_ref().expect("body").text;
        assert!(body.contains("<IS_DEFAULT>1</IS_DEFAULT>"), "{body}");
        assert!(out.losses.is_empty());
        assert!(out.warnings[0].message.contains("--keep-default-flag"));
    }

    #[test]
    fn the_import_losses_are_listed_per_profile() {
        let brute = "<ADDITIONAL><PASSWORD_BRUTE_FORCING><CUSTOM_LIST><CUSTOM><ID>17</ID><TITLE>Defaults</TITLE>\
                     </CUSTOM></CUSTOM_LIST></PASSWORD_BRUTE_FORCING></ADDITIONAL>";
        let profiles = export(&[profile("7", "Web", "user", brute), profile("8", "Policies", "compliance", "")]);
        let (outputs, refs) = Fixture::new(&[("op.xml", &profiles)]).run(&[plan]).expect("plans");
        assert!(refs.unresolved().is_empty(), "a brute-forcing list is not a search list: {:?}", refs.unresolved());
        let out = &outputs[0];
        let losses: Vec<(&str, &str)> = out.losses.iter().map(|l| (l.object.as_str(), l.fields[0].as_str())).collect();
        assert_eq!(
            losses,
            [
                ("VM option profile \"Web\"", "password brute forcing lists"),
                ("PC option profile \"Policies\"", "scan restrictions")
            ]
        );
    }
}
