//! What `qmig-execute preflight` asks the target before a bundle's first write, and how it
//! judges the answers: go, or no-go with every reason at once.
//!
//! Every call is a read: the user list (the credentials work, the EULA is accepted, the API
//! user's role, the business units), the appliance list with its licence information, the vault
//! list, and the probes the bundle declares for the objects it creates (one call for every group
//! of probes that send the same read). The executor sends them through the run's own exchange
//! and pacing; this module only builds the calls and reads the answers.
//!
//! Facts about the Qualys API that no cited source confirms are read tolerantly: an answer that
//! does not say what is looked for makes a note for the operator, never a no-go.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use crate::extract::{self, Matched};
use crate::xml::Element;
use crate::{Effect, Manifest, Method, Param, Phase, Prerequisite, PrerequisiteKind, Request, Segment, Value};

const USER_LIST: &str = "/msp/user_list.php";
const APPLIANCES: &str = "/api/2.0/fo/appliance/";
const VAULTS: &str = "/api/2.0/fo/vault/";
/// The business unit every subscription has, which no user list needs to show.
const UNASSIGNED: &str = "Unassigned";
/// Calls that only a Manager may send (subscription configuration and option profile imports).
const MANAGER_ONLY: &[(&str, &str)] =
    &[("/api/2.0/fo/subscription/", "import"), ("/api/2.0/fo/subscription/option_profile/", "import")];

/// One of the reads besides the probes; each is a request record so that the executor sends it
/// exactly as it sends the bundle's (rendering, pacing, classification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    Users,
    Appliances,
    Vaults,
}

impl Read {
    /// The reads this bundle needs, the user list first: its answer alone says whether the
    /// credentials work and the EULA is accepted.
    pub fn needed(manifest: &Manifest) -> Vec<Read> {
        let refers = |kind| manifest.prerequisites.iter().any(|p| p.kind == kind);
        let mut reads = vec![Read::Users];
        if refers(PrerequisiteKind::ScannerAppliance) || virtual_appliances(manifest) > 0 {
            reads.push(Read::Appliances);
        }
        if refers(PrerequisiteKind::Vault) {
            reads.push(Read::Vaults);
        }
        reads
    }

    pub fn request(self) -> Request {
        let (id, path, params): (&str, &str, &[(&str, &str)]) = match self {
            Read::Users => ("preflight/user list", USER_LIST, &[]),
            Read::Appliances => (
                "preflight/appliance list",
                APPLIANCES,
                &[("action", "list"), ("output_mode", "brief"), ("include_license_info", "1")],
            ),
            Read::Vaults => ("preflight/vault list", VAULTS, &[("action", "list")]),
        };
        Request {
            seq: 0,
            id: id.to_owned(),
            task: "preflight".to_owned(),
            summary: format!("read {path}"),
            method: Method::Post,
            path: path.to_owned(),
            params: params.iter().map(|(name, value)| Param::text(*name, *value)).collect(),
            body: None,
            effect: Effect::Read,
            phase: Phase::Migration,
            captures: Vec::new(),
            probe: None,
            source: None,
            remapped: Vec::new(),
            depends_on: Vec::new(),
        }
    }
}

/// Why the bundle must not run against this target now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoGo {
    /// The target refused the credentials (the target's text).
    Credentials(String),
    /// The API user has not accepted the EULA (Qualys code 2003).
    Registration(String),
    /// The API user's role is below what some requests need.
    Role { login: String, role: String, needs: &'static str, requests: Vec<String> },
    /// An object the requests refer to is not in the target.
    Missing(Prerequisite),
    /// An object the bundle creates is in the target already.
    Collision { request: String, source: String, found: usize },
    /// Fewer virtual scanner licences left than virtual appliances the bundle creates.
    Licences { needed: usize, available: u64 },
}

impl fmt::Display for NoGo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoGo::Credentials(text) => write!(f, "the target refused the credentials: {text}"),
            NoGo::Registration(text) => write!(
                f,
                "the API user has not accepted the EULA (Qualys code 2003: {text}): log in to the target's web \
                 interface as this user and accept it"
            ),
            NoGo::Role { login, role, needs, requests } => write!(
                f,
                "the API user {login} is a {role}; {} need a {needs}: {}",
                plural(requests.len(), "request"),
                requests.join(", ")
            ),
            NoGo::Missing(p) => write!(
                f,
                "the {} {} is not in the target (used by {}): create it by hand, or correct the mapping and \
                 transform again",
                p.kind.label(),
                p.value,
                p.used_by.join(", ")
            ),
            NoGo::Collision { request, source, found } => write!(
                f,
                "{request} ({source}) is in the target already{}: the target changed since its export, or the \
                 bundle is stale; capture the target again and transform again",
                if *found > 1 { format!(" ({found} times)") } else { String::new() }
            ),
            NoGo::Licences { needed, available } => write!(
                f,
                "the bundle creates {} but the target has {available} virtual scanner licences left",
                plural(*needed, "virtual appliance")
            ),
        }
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

/// What the preflight found so far: the reasons for a no-go, notes for the operator, and the
/// calls it took.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Findings {
    pub no_go: Vec<NoGo>,
    pub notes: Vec<String>,
    pub calls: usize,
    /// Objects the bundle creates that probes looked for, and those left to their parent's
    /// probe (see [`probe_groups`]).
    pub looked_for: (usize, usize),
}

impl Findings {
    pub fn go(&self) -> bool {
        self.no_go.is_empty()
    }

    /// Reads the answer to one of the [`Read`]s; the distribution groups, which no call lists,
    /// are noted with the first.
    pub fn answer(&mut self, read: Read, manifest: &Manifest, login: &str, root: &Element) {
        match read {
            Read::Users => {
                self.users(manifest, login, root);
                self.distribution_groups(manifest);
            }
            Read::Appliances => self.appliances(manifest, root),
            Read::Vaults => self.vaults(manifest, root),
        }
    }

    /// Reads the user list: the API user's role against the requests that need a Manager, and
    /// the business units the requests name. Qualys lists a business unit only through its
    /// users; a unit is created with its Unit Manager, so one that exists shows (UNVERIFIED).
    pub fn users(&mut self, manifest: &Manifest, login: &str, root: &Element) {
        let users: Vec<&Element> = root.descendants().into_iter().filter(|e| e.name == "USER").collect();
        let field = |user: &Element, name: &str| user.child(name).map(|e| e.trimmed_text().to_owned());
        let manager_only: Vec<String> = manifest
            .requests
            .iter()
            .filter(|r| MANAGER_ONLY.iter().any(|(path, action)| r.path == *path && action_of(r) == Some(action)))
            .map(|r| r.id.clone())
            .collect();
        match users.iter().find(|u| field(u, "USER_LOGIN").as_deref() == Some(login)) {
            None => self.notes.push(format!(
                "the user list does not show the API user {login}: its role is not confirmed ({} need a Manager)",
                plural(manager_only.len(), "request")
            )),
            Some(user) => {
                let role = field(user, "USER_ROLE").unwrap_or_default();
                if !manager_only.is_empty() && role != "Manager" {
                    let login = login.to_owned();
                    self.no_go.push(NoGo::Role { login, role, needs: "Manager", requests: manager_only });
                }
            }
        }
        let units: BTreeSet<String> = users.iter().filter_map(|u| field(u, "BUSINESS_UNIT")).collect();
        self.missing(manifest, PrerequisiteKind::BusinessUnit, |title| title == UNASSIGNED || units.contains(title));
    }

    /// Reads the appliance list: the appliances the requests name, and the virtual scanner
    /// licences left for those the bundle creates (`LICENSE_INFO`, UNVERIFIED: a list without it
    /// makes a note).
    pub fn appliances(&mut self, manifest: &Manifest, root: &Element) {
        let ids = ids(root, "APPLIANCE");
        self.missing(manifest, PrerequisiteKind::ScannerAppliance, |id| ids.contains(id));
        let needed = virtual_appliances(manifest);
        if needed == 0 {
            return;
        }
        let number =
            |name: &str| root.descendants().into_iter().find(|e| e.name == name)?.trimmed_text().parse::<u64>().ok();
        match (number("QVSA_LICENSES_COUNT"), number("QVSA_LICENSES_USED")) {
            (Some(count), Some(used)) if count < used + needed as u64 => {
                self.no_go.push(NoGo::Licences { needed, available: count.saturating_sub(used) });
            }
            (Some(_), Some(_)) => {}
            _ => self.notes.push(format!(
                "the appliance list does not say how many virtual scanner licences are left; the bundle creates {}",
                plural(needed, "virtual appliance")
            )),
        }
    }

    pub fn vaults(&mut self, manifest: &Manifest, root: &Element) {
        let ids = ids(root, "AUTH_VAULT");
        self.missing(manifest, PrerequisiteKind::Vault, |id| ids.contains(id));
    }

    /// Qualys has no API that lists distribution groups: the operator confirms them.
    fn distribution_groups(&mut self, manifest: &Manifest) {
        for group in manifest.prerequisites.iter().filter(|p| p.kind == PrerequisiteKind::DistributionGroup) {
            self.notes.push(format!(
                "distribution group {} (used by {}): no API lists distribution groups; confirm it exists in the target",
                group.value,
                group.used_by.join(", ")
            ));
        }
    }

    fn missing(&mut self, manifest: &Manifest, kind: PrerequisiteKind, exists: impl Fn(&str) -> bool) {
        let missing = manifest.prerequisites.iter().filter(|p| p.kind == kind && !exists(&p.value));
        self.no_go.extend(missing.cloned().map(NoGo::Missing));
    }

    /// Reads the answer to one group's probe call: each request whose object it finds collides.
    pub fn probe_answer(&mut self, group: &ProbeGroup<'_>, root: &Element) {
        for request in &group.requests {
            let Some(probe) = &request.probe else { continue };
            let source = request.source.as_ref().map_or_else(|| request.summary.clone(), ToString::to_string);
            match extract::select(root, &probe.exists, known) {
                Ok(Matched::One(_)) => {
                    self.no_go.push(NoGo::Collision { request: request.id.clone(), source, found: 1 })
                }
                Ok(Matched::Several(found)) => {
                    self.no_go.push(NoGo::Collision { request: request.id.clone(), source, found })
                }
                Ok(Matched::None) if extract::is_one_page(root) => self.notes.push(format!(
                    "{}: its probe's answer is one page of a longer list; whether it is in the target is not confirmed",
                    request.id
                )),
                Ok(Matched::None) | Err(Unknowable) => {}
            }
        }
    }
}

/// The probes that send one read: their requests are checked against one answer.
#[derive(Debug)]
pub struct ProbeGroup<'a> {
    /// The first request of the group: its probe is the call sent.
    pub first: &'a Request,
    pub requests: Vec<&'a Request>,
}

/// The create requests' probes that can be sent before the run, grouped by the read they send,
/// and how many cannot: a probe that names a value captured during the run (a child tag under
/// a parent the bundle creates) looks for an object that cannot exist before its parent does,
/// which the parent's own probe checks.
pub fn probe_groups(manifest: &Manifest) -> (Vec<ProbeGroup<'_>>, usize) {
    let mut groups: BTreeMap<String, ProbeGroup<'_>> = BTreeMap::new();
    let mut deferred = 0;
    for request in manifest.requests.iter().filter(|r| r.effect == Effect::Create) {
        let Some(probe) = &request.probe else { continue };
        let values = probe.params.iter().map(|p| &p.value).chain(probe.exists.conditions.iter().map(|c| &c.equals));
        let mut segments = values.flat_map(Value::segments);
        if segments.any(|s| !matches!(s, Segment::Text(_))) || probe.body.as_ref().is_some_and(|b| !b.slots.is_empty())
        {
            deferred += 1;
            continue;
        }
        let body = probe.body.as_ref().map(|b| b.sha256.as_str());
        let key = serde_json::json!([probe.method.as_str(), probe.path, probe.params, body]).to_string();
        groups.entry(key).or_insert_with(|| ProbeGroup { first: request, requests: Vec::new() }).requests.push(request);
    }
    (groups.into_values().collect(), deferred)
}

/// A probe value that names a capture: [`probe_groups`] keeps none.
#[derive(Debug)]
struct Unknowable;

fn known(value: &Value) -> Result<String, Unknowable> {
    match value {
        Value::Text(text) => Ok(text.clone()),
        Value::Parts(parts) => parts
            .iter()
            .map(|s| if let Segment::Text(text) = s { Ok(text.as_str()) } else { Err(Unknowable) })
            .collect(),
    }
}

fn action_of(request: &Request) -> Option<&str> {
    request.params.iter().find(|p| p.name == "action").and_then(|p| match &p.value {
        Value::Text(action) => Some(action.as_str()),
        Value::Parts(_) => None,
    })
}

fn virtual_appliances(manifest: &Manifest) -> usize {
    manifest.requests.iter().filter(|r| r.path == APPLIANCES && action_of(r) == Some("create")).count()
}

fn ids(root: &Element, record: &str) -> BTreeSet<String> {
    let records = root.descendants().into_iter().filter(|e| e.name == record);
    records.filter_map(|r| r.child("ID")).map(|id| id.trimmed_text().to_owned()).collect()
}

/// The limits an answer's headers announced for its API path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Announced {
    pub limit: Option<u64>,
    pub window: Option<Duration>,
    pub concurrency: Option<u64>,
}

/// What a preflight found and the limits the target announced, per API path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub findings: Findings,
    pub limits: BTreeMap<String, Announced>,
    pub estimate: Estimate,
}

impl Report {
    pub fn new(manifest: &Manifest, findings: Findings, limits: BTreeMap<String, Announced>) -> Report {
        let rates = limits
            .iter()
            .filter_map(|(path, a)| Some((path.clone(), RateLimit { limit: a.limit?, window: a.window? })));
        let estimate = estimate(manifest, &rates.collect());
        Report { findings, limits, estimate }
    }
}

/// The report as the operator reads it, ending with `GO` or `NO-GO` on a line of its own.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "preflight: read-only calls: {}; objects the bundle creates looked for: {} ({} through their parent)",
            self.findings.calls,
            self.findings.looked_for.0 + self.findings.looked_for.1,
            self.findings.looked_for.1
        )?;
        // Qualys usually sets one limit for every API of a subscription: each one seen, once.
        let mut paths_by_limits: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (path, announced) in &self.limits {
            let rate = match (announced.limit, announced.window) {
                (Some(limit), Some(window)) => format!("{limit} calls per {}s", window.as_secs()),
                _ => "no rate limit given".to_owned(),
            };
            let concurrency = announced.concurrency.map_or_else(String::new, |c| format!(", {c} at a time"));
            paths_by_limits.entry(format!("{rate}{concurrency}")).or_default().push(path);
        }
        for (limits, paths) in &paths_by_limits {
            writeln!(f, "  limits of {}: {limits}", paths.join(", "))?;
        }
        let assumed = match self.estimate.assumed.len() {
            0 => String::new(),
            n => format!(" ({n} API paths not called here assumed to have the strictest limit seen)"),
        };
        writeln!(
            f,
            "  estimated duration of the {} requests: at least {}s waiting for rate limits{assumed}",
            self.estimate.calls,
            self.estimate.at_least.as_secs()
        )?;
        for note in &self.findings.notes {
            writeln!(f, "  note: {note}")?;
        }
        for reason in &self.findings.no_go {
            writeln!(f, "  no-go: {reason}")?;
        }
        writeln!(f, "{}", if self.findings.go() { "GO" } else { "NO-GO" })
    }
}

/// A rate limit read from an answer's headers: `limit` calls per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u64,
    pub window: Duration,
}

/// How long the rate limits make a run at least: per API path, the windows its calls fill
/// beyond the first, added up (one request at a time, so one path's wait holds up the rest).
/// A path whose limit no answer gave is assumed to have the strictest limit seen (Qualys sets
/// one limit per subscription for most APIs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    pub calls: usize,
    pub at_least: Duration,
    /// The paths whose limit was assumed.
    pub assumed: Vec<String>,
}

pub fn estimate(manifest: &Manifest, limits: &BTreeMap<String, RateLimit>) -> Estimate {
    let mut calls: BTreeMap<&str, u64> = BTreeMap::new();
    for request in &manifest.requests {
        *calls.entry(request.path.as_str()).or_default() += 1;
    }
    let per_call = |l: &&RateLimit| l.window / u32::try_from(l.limit).unwrap_or(u32::MAX);
    let strictest = limits.values().filter(|l| l.limit > 0).max_by_key(per_call).copied();
    let mut at_least = Duration::ZERO;
    let mut assumed = Vec::new();
    for (path, count) in &calls {
        let limit = match limits.get(*path).filter(|l| l.limit > 0) {
            Some(limit) => *limit,
            None => {
                assumed.push((*path).to_owned());
                match strictest {
                    Some(limit) => limit,
                    None => continue,
                }
            }
        };
        at_least += limit.window * u32::try_from(count.saturating_sub(1) / limit.limit).unwrap_or(u32::MAX);
    }
    Estimate { calls: manifest.requests.len(), at_least, assumed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::manifest_of;
    use crate::xml::parse;
    use crate::{Condition, Match, Probe};

    fn request(id: &str, path: &str, action: &str) -> Request {
        let mut request = Read::Users.request();
        request.id = id.to_owned();
        request.path = path.to_owned();
        request.params = vec![Param::text("action", action)];
        request.effect = Effect::Create;
        request
    }

    fn manifest(requests: Vec<Request>, prerequisites: Vec<Prerequisite>) -> Manifest {
        Manifest { prerequisites, ..manifest_of(requests) }
    }

    fn prerequisite(kind: PrerequisiteKind, value: &str) -> Prerequisite {
        Prerequisite { kind, value: value.into(), used_by: vec!["user/x".into()] }
    }

    fn root(xml: &str) -> Element {
        parse(xml.as_bytes()).expect("xml").root
    }

    const USERS: &str = "<USER_LIST_OUTPUT><USER_LIST>\
        <USER><USER_LOGIN>api_um</USER_LOGIN><USER_ROLE>Unit Manager</USER_ROLE><BUSINESS_UNIT>Zurich Office</BUSINESS_UNIT></USER>\
        <USER><USER_LOGIN>api_mg</USER_LOGIN><USER_ROLE>Manager</USER_ROLE><BUSINESS_UNIT>Unassigned</BUSINESS_UNIT></USER>\
        </USER_LIST></USER_LIST_OUTPUT>";

    #[test]
    fn a_unit_manager_cannot_import_the_subscription_a_manager_can() {
        let bundle = manifest(vec![request("subscription", "/api/2.0/fo/subscription/", "import")], vec![]);
        let mut findings = Findings::default();
        findings.users(&bundle, "api_um", &root(USERS));
        assert!(
            matches!(&findings.no_go[..], [NoGo::Role { role, requests, .. }] if role == "Unit Manager" && requests == &["subscription"])
        );
        let mut findings = Findings::default();
        findings.users(&bundle, "api_mg", &root(USERS));
        assert!(findings.go(), "{findings:?}");
        let mut findings = Findings::default();
        findings.users(&bundle, "someone_else", &root(USERS));
        assert!(findings.go() && findings.notes[0].contains("not confirmed"), "{findings:?}");
    }

    #[test]
    fn business_units_are_known_through_their_users() {
        let bundle = manifest(
            vec![],
            vec![
                prerequisite(PrerequisiteKind::BusinessUnit, "Zurich Office"),
                prerequisite(PrerequisiteKind::BusinessUnit, "Unassigned"),
                prerequisite(PrerequisiteKind::BusinessUnit, "Paris"),
            ],
        );
        let mut findings = Findings::default();
        findings.users(&bundle, "api_mg", &root(USERS));
        assert_eq!(findings.no_go, [NoGo::Missing(prerequisite(PrerequisiteKind::BusinessUnit, "Paris"))]);
    }

    #[test]
    fn licences_are_counted_against_the_virtual_appliances_created() {
        let create = |name: &str| request(&format!("appliance/{name}"), APPLIANCES, "create");
        let bundle = manifest(vec![create("a"), create("b")], vec![]);
        let list = |count: u64, used: u64| {
            root(&format!(
                "<APPLIANCE_LIST_OUTPUT><RESPONSE><LICENSE_INFO><QVSA_LICENSES_COUNT>{count}</QVSA_LICENSES_COUNT>\
                 <QVSA_LICENSES_USED>{used}</QVSA_LICENSES_USED></LICENSE_INFO></RESPONSE></APPLIANCE_LIST_OUTPUT>"
            ))
        };
        let mut findings = Findings::default();
        findings.appliances(&bundle, &list(3, 2));
        assert_eq!(findings.no_go, [NoGo::Licences { needed: 2, available: 1 }]);
        let mut findings = Findings::default();
        findings.appliances(&bundle, &list(4, 2));
        assert!(findings.go() && findings.notes.is_empty(), "{findings:?}");
        let mut findings = Findings::default();
        findings.appliances(&bundle, &root("<APPLIANCE_LIST_OUTPUT/>"));
        assert!(findings.go() && findings.notes[0].contains("licences"), "{findings:?}");
        assert_eq!(Read::needed(&bundle), [Read::Users, Read::Appliances]);
    }

    #[test]
    fn probes_sharing_a_read_are_grouped_and_those_naming_captures_deferred() {
        let probed = |id: &str, name: Value| {
            let mut r = request(id, "/api/2.0/fo/network/", "create");
            r.probe = Some(Probe {
                method: Method::Post,
                path: "/api/2.0/fo/network/".into(),
                params: vec![Param::text("action", "list")],
                body: None,
                exists: Match {
                    record: "NETWORK".into(),
                    conditions: vec![Condition { field: "NAME".into(), equals: name }],
                },
                captures: vec![],
            });
            r
        };
        let captured = Value::Parts(vec![Segment::Capture("tag/a#id".into())]);
        let bundle = manifest(
            vec![probed("network/A", "A".into()), probed("network/B", "B".into()), probed("network/C", captured)],
            vec![],
        );
        let (groups, deferred) = probe_groups(&bundle);
        assert_eq!((groups.len(), groups[0].requests.len(), deferred), (1, 2, 1));
        let mut findings = Findings::default();
        let answer = "<NETWORK_LIST_OUTPUT><RESPONSE><NETWORK_LIST><NETWORK><ID>1</ID><NAME>B</NAME></NETWORK>\
                      </NETWORK_LIST></RESPONSE></NETWORK_LIST_OUTPUT>";
        findings.probe_answer(&groups[0], &root(answer));
        assert!(matches!(&findings.no_go[..], [NoGo::Collision { request, found: 1, .. }] if request == "network/B"));
    }

    #[test]
    fn the_estimate_counts_the_windows_each_path_fills() {
        let tags: Vec<Request> = (0..601).map(|i| request(&format!("tag/{i}"), "/qps/tag", "")).collect();
        let mut requests = tags;
        requests.push(request("network/A", "/api/2.0/fo/network/", "create"));
        let hour = Duration::from_secs(3600);
        let limits = BTreeMap::from([("/qps/tag".to_owned(), RateLimit { limit: 300, window: hour })]);
        let estimate = estimate(&manifest(requests, vec![]), &limits);
        assert_eq!(estimate.at_least, hour * 2, "601 calls fill three windows: two waits");
        assert_eq!(estimate.assumed, ["/api/2.0/fo/network/"]);
    }
}
