//! The values of a bundle that change the target's security posture, gathered one request at a
//! time so REVIEW.md can show them inline instead of leaving them in a body file: the imported
//! subscription configuration, tags and their rules, authentication records' targets, secret
//! references, user roles, and whether the bundle holds personal data.
//!
//! Memory is bounded by the number of such values, not of requests: lists a reviewer reads row
//! by row stop at [`SHOWN_ROWS`] and count the rest, which stay in `requests.tsv` and the bodies.

use std::collections::BTreeMap;

use qmig_schemas::{Request, Segment, Value};
use quick_xml::XmlVersion;
use quick_xml::events::Event;

use crate::tasks::{auth_records, option_profiles, policies, subscription, tags, users};

/// Most rows of one list shown in REVIEW.md.
pub const SHOWN_ROWS: usize = 2_000;

/// Tag engines whose rule is a program or a query the platform evaluates over every asset: a
/// reviewer reads each in full. `GROOVY` runs code; the others are QQL or asset searches.
pub const CODE_ENGINES: &[&str] = &["GROOVY", "GLOBAL_ASSET_VIEW", "ASSET_INVENTORY", "CLOUD_ASSET", "ASSET_SEARCH"];

/// Settings of an option profile that decide what a scan does to the hosts it touches or who
/// may use the profile: matched against each element name of a setting's path.
const PROFILE_HIGHLIGHTS: &[&str] = &[
    "AUTHENTICATION",
    "PASSWORD_BRUTE_FORCING",
    "DISSOLVABLE_AGENT_ENABLE",
    "IS_GLOBAL",
    "IS_DEFAULT",
    "OVERALL_PERFORMANCE",
    "SCAN_DEAD_HOSTS",
    "DETECTION_EXCLUDE",
];

/// Parameters of the user create call that describe a person.
const PERSONAL_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "title",
    "phone",
    "fax",
    "email",
    "address1",
    "address2",
    "city",
    "state",
    "zip_code",
    "country",
];

/// A list that keeps its first [`SHOWN_ROWS`] entries and counts the others.
#[derive(Debug)]
pub struct Capped<T> {
    pub shown: Vec<T>,
    pub more: u64,
}

impl<T> Default for Capped<T> {
    fn default() -> Self {
        Capped { shown: Vec::new(), more: 0 }
    }
}

impl<T> Capped<T> {
    pub fn push(&mut self, item: T) {
        if self.shown.len() < SHOWN_ROWS {
            self.shown.push(item);
        } else {
            self.more += 1;
        }
    }
}

/// One setting of the imported subscription configuration: its element path below the root
/// and what it holds (text and attributes).
#[derive(Debug)]
pub struct Setting {
    pub path: String,
    pub value: String,
}

/// A tag a request creates, with its place in the hierarchy.
#[derive(Debug, Clone)]
pub struct TagRule {
    /// Names from the root, joined by ` / `.
    pub path: String,
    pub rule_type: String,
    pub rule_text: String,
}

/// Where an authentication record logs in, and as whom.
#[derive(Debug)]
pub struct AuthTarget {
    pub record: String,
    pub ips: String,
    pub login: String,
}

#[derive(Debug, Default)]
pub struct Posture {
    /// Settings of every imported subscription configuration, by request id.
    pub subscription: Vec<(String, Capped<Setting>)>,
    pub tags: Capped<TagRule>,
    /// Tags whose rule is code or a query, all of them: each is read in full.
    pub code_rules: Vec<TagRule>,
    pub auth_targets: Capped<AuthTarget>,
    /// Option profile settings of [`PROFILE_HIGHLIGHTS`] and compliance policies' user-defined
    /// controls: (request id, setting, value).
    pub highlights: Capped<(String, String, String)>,
    /// Each secret reference by name, with the number of requests that send it.
    pub secrets: BTreeMap<String, u64>,
    pub user_roles: BTreeMap<String, u64>,
    /// Requests that carry a person's details, and which details.
    pub people: u64,
    pub personal_fields: BTreeMap<&'static str, u64>,
    /// Bodies that could not be read as XML, so their values are not shown: (request id, why).
    pub unreadable: Vec<(String, String)>,
}

impl Posture {
    pub fn observe(&mut self, request: &Request, body: Option<&[u8]>) {
        let mut secrets: Vec<&str> = request
            .references()
            .filter_map(|s| match s {
                Segment::Secret(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        secrets.dedup();
        for name in secrets {
            *self.secrets.entry(name.to_owned()).or_default() += 1;
        }
        let task = request.task.as_str();
        if task == auth_records::TASK {
            self.auth_target(request);
        }
        if task == users::TASK {
            self.user(request);
        }
        let Some(body) = body else { return };
        let read = if task == subscription::TASK {
            self.subscription(request, body)
        } else if task == tags::TASK {
            self.tags(request, body)
        } else if task == option_profiles::TASK {
            self.option_profile(request, body)
        } else if task == policies::TASK {
            self.policy(request, body)
        } else {
            Ok(())
        };
        if let Err(problem) = read {
            self.unreadable.push((request.id.clone(), problem));
        }
    }

    fn auth_target(&mut self, request: &Request) {
        let Some(ips) = param(request, "ips") else { return };
        let record = param(request, "title").unwrap_or_else(|| request.id.clone());
        let login = match (param(request, "username"), param(request, "login_type")) {
            (Some(user), Some(kind)) => format!("{user} ({kind})"),
            (Some(user), None) => user,
            (None, Some(kind)) => kind,
            (None, None) => String::new(),
        };
        // The record's type is the last segment of its path (`/api/2.0/fo/auth/unix/`).
        let kind = request.path.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
        self.auth_targets.push(AuthTarget { record: format!("{kind} \"{record}\""), ips, login });
    }

    fn user(&mut self, request: &Request) {
        if let Some(role) = param(request, "user_role") {
            *self.user_roles.entry(role).or_default() += 1;
        }
        let mut personal = false;
        for field in PERSONAL_FIELDS {
            if param(request, field).is_some_and(|v| !v.is_empty()) {
                *self.personal_fields.entry(field).or_default() += 1;
                personal = true;
            }
        }
        self.people += u64::from(personal);
    }

    fn subscription(&mut self, request: &Request, body: &[u8]) -> Result<(), String> {
        let mut settings = Capped::default();
        for_each_leaf(body, |path, attrs, text| {
            // The root element is the same for every setting; paths start below it.
            let path = path.get(1..).unwrap_or_default().join(" > ");
            let mut value: Vec<String> = attrs.iter().map(|(name, value)| format!("{name}=\"{value}\"")).collect();
            if !text.trim().is_empty() {
                value.push(text.trim().to_owned());
            }
            settings.push(Setting { path, value: value.join(" ") });
        })?;
        self.subscription.push((request.id.clone(), settings));
        Ok(())
    }

    fn option_profile(&mut self, request: &Request, body: &[u8]) -> Result<(), String> {
        for_each_leaf(body, |path, _, text| {
            if path.iter().any(|name| PROFILE_HIGHLIGHTS.contains(&name.as_str())) {
                // Below OPTION_PROFILES/OPTION_PROFILE, the same for every setting.
                let setting = path.get(2..).unwrap_or_default().join(" > ");
                self.highlights.push((request.id.clone(), setting, text.trim().to_owned()));
            }
        })
    }

    /// A compliance policy's user-defined controls: checks written by the customer, which the
    /// target runs on every host the policy covers.
    fn policy(&mut self, request: &Request, body: &[u8]) -> Result<(), String> {
        let mut user_defined = 0u64;
        for_each_leaf(body, |path, _, text| {
            user_defined += u64::from(path.last().is_some_and(|n| n == "USER_DEFINED") && text.trim() == "1");
        })?;
        if user_defined > 0 {
            self.highlights.push((request.id.clone(), "user-defined controls".to_owned(), user_defined.to_string()));
        }
        Ok(())
    }

    /// Reads the tags of a create body: `Tag` elements nested as `children/set/Tag`, whose
    /// `name` comes before `ruleType` and `ruleText`, as the tags task writes them.
    fn tags(&mut self, request: &Request, body: &[u8]) -> Result<(), String> {
        let Some(root) = request.id.strip_prefix("tag/") else { return Ok(()) };
        let mut found: Vec<TagRule> = Vec::new();
        // Indices into `found` of the tags enclosing the current element, outermost first.
        let mut open: Vec<usize> = Vec::new();
        for_each_leaf(body, |path, _, text| {
            let depth = path.iter().filter(|p| *p == "Tag").count();
            let Some([parent, field]) = path.len().checked_sub(2).map(|i| [&path[i], &path[i + 1]]) else { return };
            if parent != "Tag" || depth == 0 {
                return;
            }
            open.truncate(depth);
            match field.as_str() {
                "name" => {
                    open.truncate(depth - 1);
                    let tag_path = match open.last() {
                        Some(&parent) => format!("{} / {text}", found[parent].path),
                        None => root.to_owned(),
                    };
                    open.push(found.len());
                    found.push(TagRule { path: tag_path, rule_type: String::new(), rule_text: String::new() });
                }
                "ruleType" | "ruleText" => {
                    if let Some(&tag) = open.get(depth - 1) {
                        let tag = &mut found[tag];
                        let slot = if field == "ruleType" { &mut tag.rule_type } else { &mut tag.rule_text };
                        *slot = text.to_owned();
                    }
                }
                _ => {}
            }
        })?;
        for tag in found {
            if CODE_ENGINES.contains(&tag.rule_type.as_str()) {
                self.code_rules.push(tag.clone());
            }
            self.tags.push(tag);
        }
        Ok(())
    }
}

/// A parameter's value as the review shows it (references as placeholders).
fn param(request: &Request, name: &str) -> Option<String> {
    request.params.iter().find(|p| p.name == name).map(|p| Value::display(&p.value))
}

/// Calls `visit` with the path, attributes and text of every element that holds no element.
fn for_each_leaf(body: &[u8], mut visit: impl FnMut(&[String], &[(String, String)], &str)) -> Result<(), String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut path: Vec<String> = Vec::new();
    let mut attrs: Vec<(String, String)> = Vec::new();
    let mut text = String::new();
    // Whether the innermost open element has held an element, so it is no leaf.
    let mut parent = false;
    let name_of = |start: &quick_xml::events::BytesStart<'_>| start.name().into_inner().to_owned();
    loop {
        let event =
            reader.read_event().map_err(|e| format!("not readable as XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                path.push(name_of(start));
                attrs.clear();
                for attr in start.attributes().flatten() {
                    let value =
                        attr.normalized_value(XmlVersion::Implicit1_0).map(|v| v.into_owned()).unwrap_or_default();
                    attrs.push((attr.key.into_inner().to_owned(), value));
                }
                text.clear();
                parent = false;
                if matches!(event, Event::Empty(_)) {
                    if !attrs.is_empty() {
                        visit(&path, &attrs, "");
                    }
                    path.pop();
                    parent = true;
                }
            }
            Event::End(_) => {
                if !parent && (!text.trim().is_empty() || !attrs.is_empty()) {
                    visit(&path, &attrs, &text);
                }
                attrs.clear();
                text.clear();
                path.pop();
                parent = true;
            }
            Event::Text(t) => text.push_str(&t.xml_content(XmlVersion::Implicit1_0)),
            Event::CData(t) => text.push_str(&t.xml_content(XmlVersion::Implicit1_0)),
            Event::GeneralRef(reference) => {
                let name = reference.xml_content(XmlVersion::Implicit1_0);
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => Some(String::from(c)),
                    _ => quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned),
                };
                text.push_str(&resolved.unwrap_or_else(|| format!("&{name};")));
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(xml: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_leaf(xml.as_bytes(), |path, attrs, text| out.push(format!("{} {attrs:?} {text}", path.join("/"))))
            .expect("reads");
        out
    }

    #[test]
    fn leaves_carry_their_path_attributes_and_resolved_text() {
        let found = leaves("<R><A><B>x &amp; y</B><C n=\"1\"/></A><D><![CDATA[<z>]]></D><E/></R>");
        assert_eq!(found, ["R/A/B [] x & y", "R/A/C [(\"n\", \"1\")] ", "R/D [] <z>"]);
    }

    #[test]
    fn a_body_that_is_not_xml_is_reported_not_shown() {
        assert!(for_each_leaf(b"<R><A></R>", |_, _, _| {}).is_err());
    }
}
