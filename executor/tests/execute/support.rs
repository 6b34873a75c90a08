//! Shared plumbing: bundles built with the contract crate, the simulated target (qualys-sim),
//! the real binary, and reading what they leave behind (the journal, the target's export).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use qmig_execute::xml::{self, Element};
use qmig_schemas::journal::{Found, Record, SendResult};
use qmig_schemas::manifest::*;
use qmig_schemas::{BundleContents, sha256_hex, write_bundle};
use qualys_sim::{Config, Counters, FaultKind, Running, ScriptedFault};

use crate::operator;

/// The target's API user and password, as the simulator is configured and the binary is given.
pub const USERNAME: &str = "qmig_api";
pub const PASSWORD: &str = "target-Pa55word";
pub const PASSPHRASE: &str = "correct horse battery staple";
/// The canonical name of the password of the Unix record titled "Linux".
pub const LINUX_PASSWORD: &str = "unix/title:Linux/password";

/// A body file of a bundle: its path inside the bundle and its bytes.
pub type BodyFile = (String, Vec<u8>);

/// A temporary workplace: the bundle, the journal, credential files and exports live here.
pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        Work { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn bundle(&self) -> PathBuf {
        self.path("bundle")
    }

    pub fn journal(&self) -> PathBuf {
        self.path("journal.jsonl")
    }

    /// Writes a private file (0600), as credential files must be.
    pub fn private_file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path).and_then(|mut f| f.write_all(content.as_bytes())).expect("writes");
        path
    }

    /// Writes the bundle (requests numbered in order) and returns its digest.
    pub fn write(&self, requests: Vec<Request>, bodies: Vec<BodyFile>, secrets: &[(&str, &str)]) -> String {
        self.write_reporting(requests, bodies, secrets, Vec::new())
    }

    /// As [`Work::write`], with captures reported to the operator.
    pub fn write_reporting(
        &self,
        requests: Vec<Request>,
        bodies: Vec<BodyFile>,
        secrets: &[(&str, &str)],
        report: Vec<Reported>,
    ) -> String {
        let credentials = (!secrets.is_empty()).then(|| {
            let format = SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { iterations: 10_000 };
            (format, operator::openssl_cli(credentials_csv(secrets).as_bytes(), PASSPHRASE, None))
        });
        let names = secrets.iter().map(|(n, _)| (*n).to_owned()).collect();
        self.write_credentials(requests, bodies, names, credentials, report)
    }

    /// Writes the bundle carrying an encrypted credentials file whose rows `names` refers to.
    pub fn write_credentials(
        &self,
        requests: Vec<Request>,
        bodies: Vec<BodyFile>,
        names: Vec<String>,
        credentials: Option<(SecretsFormat, Vec<u8>)>,
        report: Vec<Reported>,
    ) -> String {
        let declared =
            credentials.as_ref().map(|(format, _)| Secrets { file: format.file_name().into(), format: *format, names });
        let secrets = credentials.map(|(_, encrypted)| encrypted);
        let contents = BundleContents {
            manifest: manifest(requests, declared, report),
            review: REVIEW.into(),
            requests_table: REQUESTS.into(),
            bodies,
            secrets,
        };
        write_bundle(&self.bundle(), &contents, true).expect("bundle written")
    }

    /// Writes a bundle without secrets whose requests refer to `prerequisites` in the target.
    pub fn write_referring(&self, requests: Vec<Request>, prerequisites: Vec<Prerequisite>) -> String {
        let manifest = Manifest { prerequisites, ..manifest(requests, None, Vec::new()) };
        let contents = BundleContents {
            manifest,
            review: REVIEW.into(),
            requests_table: String::new(),
            bodies: vec![],
            secrets: None,
        };
        write_bundle(&self.bundle(), &contents, true).expect("bundle written")
    }

    /// Writes a bundle without secrets that was reviewed for `target` (canonical).
    pub fn write_reviewed_for(&self, requests: Vec<Request>, target: &str) -> String {
        let manifest = Manifest { target: Some(target.to_owned()), ..manifest(requests, None, Vec::new()) };
        let contents = BundleContents {
            manifest,
            review: REVIEW.into(),
            requests_table: REQUESTS.into(),
            bodies: vec![],
            secrets: None,
        };
        write_bundle(&self.bundle(), &contents, true).expect("bundle written")
    }

    /// Every byte of every file under the workplace.
    pub fn all_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut found = Vec::new();
        let mut pending = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).expect("reads dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    found.push((path.clone(), std::fs::read(&path).expect("reads file")));
                }
            }
        }
        found
    }

    pub fn records(&self) -> Vec<Record> {
        std::fs::read_to_string(self.journal())
            .expect("journal")
            .lines()
            .map(|l| serde_json::from_str(l).expect("every journal line is a record"))
            .collect()
    }

    /// Every value the journal captured (sent, probed or given by the operator). A name
    /// captured twice must have been captured with the same value.
    pub fn captures(&self) -> BTreeMap<String, String> {
        let mut all = BTreeMap::new();
        for record in self.records() {
            let captures = match record {
                Record::Outcome(o) if o.result == SendResult::Done => o.captures,
                Record::Probe(p) => p.captures,
                Record::Decision(d) => d.captures,
                _ => continue,
            };
            for (name, value) in captures {
                if let Some(before) = all.insert(name.clone(), value.clone()) {
                    assert_eq!(before, value, "{name} was captured twice with different values");
                }
            }
        }
        all
    }
}

const REVIEW: &str = "# Review\n";
/// A per-request table; the executor never reads it, `SHA256SUMS` covers it.
const REQUESTS: &str = "seq\tid\n";

/// The manifest of a test bundle: its requests numbered in order, nothing else a reviewer reads.
fn manifest(requests: Vec<Request>, secrets: Option<Secrets>, report: Vec<Reported>) -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        generator: Generator { name: "qmig-execute tests".into(), version: "0".into() },
        target: None,
        sources: vec![],
        inputs: vec![],
        unrecognised: vec![],
        secrets,
        tasks: vec![],
        requests: numbered(requests),
        skipped: vec![],
        losses: vec![],
        manual_steps: vec![],
        warnings: vec![],
        report,
        prerequisites: vec![],
    }
}

/// The operator's plaintext credentials file giving each canonical name its value.
pub fn credentials_csv(secrets: &[(&str, &str)]) -> String {
    let quoted = |field: &str| format!("\"{}\"", field.replace('"', "\"\""));
    let mut csv = String::from("type,title,username,parameter,value\n");
    for (name, value) in secrets {
        let name = SecretName::parse(name).expect("a canonical secret name");
        let (title, username) = match &name.selector {
            Selector::Title(title) => (title.as_str(), ""),
            Selector::Username(username) => ("", username.as_str()),
        };
        let fields = [name.record_type.as_str(), title, username, name.parameter.as_str(), value];
        csv.push_str(&fields.map(quoted).join(","));
        csv.push('\n');
    }
    csv
}

// ---------------------------------------------------------------------------------------------
// The binary

/// A number from the environment: the size or seed of a test's long variant.
pub fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number, got {v}")))
}

/// What each probe of a request found, from the journal's records.
pub fn probe_found(records: &[Record], id: &str) -> Vec<Found> {
    records
        .iter()
        .filter_map(|r| if let Record::Probe(p) = r { (p.id == id).then_some(p.found) } else { None })
        .collect()
}

/// The binary, with a clean environment: only what a test passes reaches it.
pub fn qmig(work: &Work) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_qmig-execute"));
    cmd.env_clear().env("XDG_STATE_HOME", work.path("state")).env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.timeout(std::time::Duration::from_secs(120));
    cmd
}

/// `run` against `url` with every credential from the environment and short pauses, without
/// the preflight (the replay alone: `preflight.rs` shows the checks before it).
pub fn run(work: &Work, url: &str, digest: &str) -> assert_cmd::Command {
    run_settling(work, url, digest, "0s")
}

/// `run` as an operator types it: with the preflight before the first write.
pub fn run_checked(work: &Work, url: &str, digest: &str) -> assert_cmd::Command {
    let mut cmd = qmig(work);
    cmd.arg("run").arg(work.bundle()).args(["--target", url, "--approve", digest]);
    cmd.arg("--journal").arg(work.journal());
    connected(cmd)
}

/// `preflight` of the workplace's bundle against `url`.
pub fn preflight(work: &Work, url: &str) -> assert_cmd::Command {
    let mut cmd = qmig(work);
    cmd.arg("preflight").arg(work.bundle()).args(["--target", url]);
    connected(cmd)
}

/// The API user's credentials and short pauses.
fn connected(mut cmd: assert_cmd::Command) -> assert_cmd::Command {
    cmd.args(["--username", USERNAME, "--retry-pause", "10ms"])
        .env("QMIG_TARGET_PASSWORD", PASSWORD)
        .env("QMIG_SECRETS_PASSPHRASE", PASSPHRASE);
    cmd
}

/// [`run`], giving a create whose outcome is unknown `settle` before it is probed.
pub fn run_settling(work: &Work, url: &str, digest: &str, settle: &str) -> assert_cmd::Command {
    run_with_journal(work, url, digest, settle, &work.journal())
}

/// [`run_settling`] with another journal than the workplace's.
pub fn run_with_journal(work: &Work, url: &str, digest: &str, settle: &str, journal: &Path) -> assert_cmd::Command {
    let mut cmd = qmig(work);
    cmd.arg("run").arg(work.bundle()).args(["--target", url, "--approve", digest, "--no-preflight"]);
    cmd.args(["--settle", settle]).arg("--journal").arg(journal);
    connected(cmd)
}

/// `status` of the workplace's bundle and journal.
pub fn status(work: &Work) -> Output {
    qmig(work).arg("status").arg(work.bundle()).arg("--journal").arg(work.journal()).output().expect("status runs")
}

/// `resolve` of one request of the workplace's bundle.
pub fn resolve(work: &Work, request: &str, decision: &[&str]) -> Output {
    let mut cmd = qmig(work);
    cmd.arg("resolve").arg(work.bundle()).args(["--request", request]).arg("--journal").arg(work.journal());
    cmd.args(decision).output().expect("resolve runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// What a run's summary line says: `retries: R, waits: W (...), probes: P`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub retries: u64,
    pub waits: u64,
    pub probes: u64,
}

impl Summary {
    pub fn of(output: &Output) -> Summary {
        let text = stdout(output);
        let line = text.lines().find(|l| l.starts_with("retries: ")).unwrap_or_else(|| panic!("no summary in {text}"));
        let number = |label: &str| -> u64 {
            let rest = line.split(label).nth(1).unwrap_or_else(|| panic!("no `{label}` in {line}"));
            rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().expect("a count")
        };
        Summary { retries: number("retries: "), waits: number("waits: "), probes: number("probes: ") }
    }
}

// ---------------------------------------------------------------------------------------------
// The simulated target

/// A new subscription that knows the binary's credentials.
pub fn sim_config() -> Config {
    Config { user: USERNAME.into(), password: PASSWORD.into(), ..Config::default() }
}

/// A fault of the simulator for its Nth mutating call.
pub fn fault(mutating_call: u64, kind: FaultKind) -> ScriptedFault {
    ScriptedFault { mutating_call, kind }
}

pub fn start(config: Config) -> Running {
    qualys_sim::start(config).expect("the simulator starts")
}

/// Every API call that reached the simulator, refused or not.
pub fn calls(counters: &Counters) -> u64 {
    counters.calls.values().sum()
}

/// What counters of one kind say, zero when absent.
pub fn count(map: &BTreeMap<String, u64>, key: &str) -> u64 {
    map.get(key).copied().unwrap_or(0)
}

/// The target's state as an export directory: the files, as the simulator wrote them.
pub struct Export {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Export {
    /// Exports the simulator's state into `dir` (which must not exist yet) and reads it back.
    pub fn of(sim: &Running, dir: &Path) -> Export {
        sim.export(dir).expect("the simulator exports");
        let files = std::fs::read_dir(dir)
            .expect("export dir")
            .map(|entry| {
                let path = entry.expect("entry").path();
                let name = path.file_name().expect("name").to_string_lossy().into_owned();
                (name, std::fs::read(&path).expect("reads export file"))
            })
            .collect();
        Export { files }
    }

    fn root(&self, file: &str) -> Element {
        let bytes = self.files.get(file).unwrap_or_else(|| panic!("the export has no {file}"));
        xml::parse(bytes).unwrap_or_else(|e| panic!("{file}: {e}")).root
    }

    /// `(ID, name)` of every network, the Global Default Network included.
    pub fn networks(&self) -> Vec<(String, String)> {
        let root = self.root("networks.xml");
        let list = root.path("RESPONSE/NETWORK_LIST").expect("NETWORK_LIST");
        list.children_named("NETWORK").map(|n| (field(n, "ID"), field(n, "NAME"))).collect()
    }

    /// `(ID, title, network ID)` of every asset group.
    pub fn asset_groups(&self) -> Vec<(String, String, String)> {
        let root = self.root("asset_groups.xml");
        let list = root.path("RESPONSE/ASSET_GROUP_LIST").expect("ASSET_GROUP_LIST");
        list.children_named("ASSET_GROUP")
            .map(|g| (field(g, "ID"), field(g, "TITLE"), field(g, "NETWORK_ID")))
            .collect()
    }

    /// `(USER_ID, login, email)` of every user.
    pub fn users(&self) -> Vec<(String, String, String)> {
        let root = self.root("users.xml");
        let list = root.child("USER_LIST").expect("USER_LIST");
        list.children_named("USER")
            .map(|u| (field(u, "USER_ID"), field(u, "USER_LOGIN"), field(u, "CONTACT_INFO/EMAIL")))
            .collect()
    }

    /// `(id, name, parent id)` of every tag.
    pub fn tags(&self) -> Vec<(String, String, Option<String>)> {
        let root = self.root("tags.xml");
        let data = root.child("data").expect("data");
        data.children_named("Tag")
            .map(|t| (field(t, "id"), field(t, "name"), t.child("parentTagId").map(|p| p.trimmed_text().to_owned())))
            .collect()
    }

    /// The addresses and ranges enabled for vulnerability management, tracked by IP.
    pub fn vm_ips(&self) -> Vec<String> {
        let Some(bytes) = self.files.get("ip_list_vm_ip.xml") else { return Vec::new() };
        let root = xml::parse(bytes).expect("ip list").root;
        let set = root.path("RESPONSE/IP_SET").expect("IP_SET");
        set.children.iter().map(|e| e.trimmed_text().to_owned()).collect()
    }

    /// The records of one authentication-record type, as elements.
    pub fn auth_records(&self, kind: &str) -> Vec<Element> {
        let upper = kind.to_ascii_uppercase();
        let Some(bytes) = self.files.get(&format!("auth_records_{kind}.xml")) else { return Vec::new() };
        let root = xml::parse(bytes).expect("auth records").root;
        let list = root.path(&format!("RESPONSE/AUTH_{upper}_LIST")).expect("record list").clone();
        list.children.into_iter().filter(|e| e.name == format!("AUTH_{upper}")).collect()
    }
}

pub fn field(element: &Element, path: &str) -> String {
    element.path(path).unwrap_or_else(|| panic!("{} has no {path}", element.name)).trimmed_text().to_owned()
}

/// Writes a seed (an export directory) holding the given networks, for a target that must
/// already hold them.
pub fn seed_networks(dir: &Path, networks: &[(u64, &str)]) {
    let list: String = networks
        .iter()
        .map(|(id, name)| format!("<NETWORK><ID>{id}</ID><NAME><![CDATA[{name}]]></NAME></NETWORK>"))
        .collect();
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<NETWORK_LIST_OUTPUT><RESPONSE><DATETIME>2024-05-01T10:00:00Z</DATETIME>\
         <NETWORK_LIST>{list}</NETWORK_LIST></RESPONSE></NETWORK_LIST_OUTPUT>\n"
    );
    std::fs::create_dir_all(dir).expect("seed dir");
    std::fs::write(dir.join("networks.xml"), document).expect("writes seed");
}

// ---------------------------------------------------------------------------------------------
// Requests the simulator serves

pub fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

pub fn capture(name: &str) -> Value {
    Value::Parts(vec![Segment::Capture(name.to_owned())])
}

pub fn request(id: &str, path: &str, params: Vec<Param>, effect: Effect) -> Request {
    Request {
        seq: 0,
        id: id.to_owned(),
        task: id.split('/').next().unwrap_or(id).to_owned(),
        summary: format!("{id} (test)"),
        method: Method::Post,
        path: path.to_owned(),
        params,
        body: None,
        effect,
        phase: Phase::Migration,
        captures: vec![],
        probe: None,
        source: None,
        remapped: vec![],
        depends_on: vec![],
    }
}

/// Makes each request depend on the one before, so that the run sends them in bundle order
/// whatever the limits.
pub fn chained(mut requests: Vec<Request>) -> Vec<Request> {
    let ids: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
    for (request, before) in requests.iter_mut().skip(1).zip(ids) {
        request.depends_on = vec![before];
    }
    requests
}

/// Numbers the requests 1, 2, 3, ... in order.
fn numbered(mut requests: Vec<Request>) -> Vec<Request> {
    for (index, request) in requests.iter_mut().enumerate() {
        request.seq = index as u64 + 1;
    }
    requests
}

fn matcher(record: &str, field: &str, equals: Value) -> Match {
    Match { record: record.to_owned(), conditions: vec![Condition { field: field.to_owned(), equals }] }
}

fn xml_body(file: String, xml: &str, slots: Vec<Slot>) -> (Body, BodyFile) {
    let body = Body { file: file.clone(), sha256: sha256_hex(xml.as_bytes()), content_type: "text/xml".into(), slots };
    (body, (file, xml.as_bytes().to_vec()))
}

/// Network create with its ID captured, and a probe listing networks by name.
pub fn network(name: &str) -> Request {
    let id = format!("network/{name}");
    let mut r = request(
        &id,
        "/api/2.0/fo/network/",
        vec![Param::text("action", "create"), Param::text("name", name)],
        Effect::Create,
    );
    r.captures = vec![Capture { name: format!("{id}#id"), extract: Extract::NewId }];
    r.probe = Some(Probe {
        method: Method::Post,
        path: "/api/2.0/fo/network/".into(),
        params: vec![Param::text("action", "list")],
        body: None,
        exists: matcher("NETWORK", "NAME", text(name)),
        captures: vec![ProbeCapture { name: format!("{id}#id"), take: "ID".into() }],
    });
    r
}

/// IP add: idempotent, no capture.
pub fn ips(ips: &str) -> Request {
    let params = vec![
        Param::text("action", "add"),
        Param::text("ips", ips),
        Param::text("enable_vm", "1"),
        Param::text("enable_pc", "0"),
        Param::text("tracking_method", "IP"),
    ];
    request(&format!("ips/vm/{ips}"), "/api/2.0/fo/asset/ip/", params, Effect::Idempotent)
}

/// Asset group add in a captured network, with a probe listing asset groups by title.
pub fn asset_group(title: &str, network: &str) -> Request {
    let params = vec![
        Param::text("action", "add"),
        Param::text("title", title),
        Param { name: "network_id".into(), value: capture(&format!("network/{network}#id")) },
    ];
    let mut r = request(&format!("asset-group/{title}"), "/api/2.0/fo/asset/group/", params, Effect::Create);
    r.captures = vec![Capture { name: format!("asset-group/{title}#id"), extract: Extract::NewId }];
    r.probe = Some(Probe {
        method: Method::Post,
        path: "/api/2.0/fo/asset/group/".into(),
        params: vec![Param::text("action", "list")],
        body: None,
        exists: matcher("ASSET_GROUP", "TITLE", text(title)),
        captures: vec![ProbeCapture { name: format!("asset-group/{title}#id"), take: "ID".into() }],
    });
    r
}

/// User add capturing the generated login; with a probe, the user list finds it by email.
pub fn user(email: &str, with_probe: bool) -> Request {
    let params = vec![
        Param::text("action", "add"),
        Param::text("user_role", "reader"),
        Param::text("business_unit", "Unassigned"),
        Param::text("first_name", "Jo"),
        Param::text("last_name", "Doe"),
        Param::text("title", "Analyst"),
        Param::text("phone", "555"),
        Param::text("email", email),
        Param::text("address1", "1 Main St"),
        Param::text("city", "Springfield"),
        Param::text("country", "United States of America"),
        Param::text("state", "Oregon"),
        Param::text("send_email", "0"),
    ];
    let id = format!("user/{email}");
    let mut r = request(&id, "/msp/user.php", params, Effect::Create);
    r.captures = vec![Capture { name: format!("{id}#login"), extract: Extract::Login }];
    if with_probe {
        r.probe = Some(Probe {
            method: Method::Post,
            path: "/msp/user_list.php".into(),
            params: vec![],
            body: None,
            exists: matcher("USER", "CONTACT_INFO/EMAIL", text(email)),
            captures: vec![ProbeCapture { name: format!("{id}#login"), take: "USER_LOGIN".into() }],
        });
    }
    r
}

/// The new user's ID: a read-only lookup of the user list by the captured login.
pub fn user_id(email: &str) -> Request {
    let id = format!("user-id/{email}");
    let mut r = request(&id, "/msp/user_list.php", vec![], Effect::Read);
    r.captures = vec![Capture {
        name: format!("{id}#id"),
        extract: Extract::Match {
            matcher: matcher("USER", "USER_LOGIN", capture(&format!("user/{email}#login"))),
            take: "USER_ID".into(),
        },
    }];
    r
}

/// The capture [`system_tag`] fills for a tag name.
pub fn system_tag_capture(name: &str) -> String {
    format!("system-tag/{name}#id")
}

/// A read-only QPS search that captures the ID of a tag the target created itself.
pub fn system_tag(name: &str) -> (Request, Vec<BodyFile>) {
    let search = format!(
        "<ServiceRequest><filters><Criteria field=\"name\" operator=\"EQUALS\">{name}</Criteria></filters></ServiceRequest>"
    );
    let (body, file) = xml_body(format!("bodies/system-tag-{name}.xml"), &search, vec![]);
    let mut r = request(&format!("system-tag/{name}"), "/qps/rest/2.0/search/am/tag", vec![], Effect::Read);
    r.body = Some(body);
    r.captures = vec![Capture {
        name: system_tag_capture(name),
        extract: Extract::Match { matcher: matcher("Tag", "name", text(name)), take: "id".into() },
    }];
    (r, vec![file])
}

/// QPS tag create, under the tag whose ID is captured as `parent_capture` (in a body slot) or
/// at the root, with a probe that identifies the tag by its name and its parent.
pub fn tag(name: &str, parent_capture: Option<&str>) -> (Request, Vec<BodyFile>) {
    let placeholder = parent_capture.map(|parent| Segment::Capture(parent.to_owned()).placeholder());
    let parent_element = placeholder.as_ref().map(|p| format!("<parentTagId>{p}</parentTagId>")).unwrap_or_default();
    let create =
        format!("<ServiceRequest><data><Tag><name>{name}</name>{parent_element}</Tag></data></ServiceRequest>");
    let slots = match (parent_capture, &placeholder) {
        (Some(parent), Some(placeholder)) => vec![Slot {
            offset: create.find(placeholder).expect("placeholder") as u64,
            placeholder: placeholder.clone(),
            value: Segment::Capture(parent.to_owned()),
            escape: Escape::Xml,
        }],
        _ => vec![],
    };
    let (body, create_file) = xml_body(format!("bodies/tag-{name}.xml"), &create, slots);
    let search = format!(
        "<ServiceRequest><filters><Criteria field=\"name\" operator=\"EQUALS\">{name}</Criteria></filters></ServiceRequest>"
    );
    let (probe_body, search_file) = xml_body(format!("bodies/tag-{name}-search.xml"), &search, vec![]);
    let id = format!("tag/{name}");
    let mut r = request(&id, "/qps/rest/2.0/create/am/tag", vec![], Effect::Create);
    r.body = Some(body);
    r.captures = vec![Capture { name: format!("{id}#id"), extract: Extract::NewId }];
    let mut exists = matcher("Tag", "name", text(name));
    let parent_id = parent_capture.map_or_else(|| text(""), capture);
    exists.conditions.push(Condition { field: "parentTagId".into(), equals: parent_id });
    r.probe = Some(Probe {
        method: Method::Post,
        path: "/qps/rest/2.0/search/am/tag".into(),
        params: vec![],
        body: Some(probe_body),
        exists,
        captures: vec![ProbeCapture { name: format!("{id}#id"), take: "id".into() }],
    });
    (r, vec![create_file, search_file])
}

/// A Unix authentication record whose password is a secret, sent in the form body.
pub fn auth_record(title: &str, secret: &str) -> Request {
    let params = vec![
        Param::text("action", "create"),
        Param::text("title", title),
        Param::text("username", "scanner"),
        Param { name: "password".into(), value: Value::Parts(vec![Segment::Secret(secret.to_owned())]) },
        Param::text("ips", "10.0.0.1"),
    ];
    let id = format!("auth-unix/{title}");
    let mut r = request(&id, "/api/2.0/fo/auth/unix/", params, Effect::Create);
    r.captures = vec![Capture { name: format!("{id}#id"), extract: Extract::NewId }];
    r
}

// ---------------------------------------------------------------------------------------------
// A migration plan and its expected result

/// A migration of `sites` sites. For each: a network, its IPs, an asset group in that
/// network, a user (and a lookup of the new user's ID), and a tag under the target's own
/// "Cloud Agent" tag, looked up once at the start. Every create declares a probe.
pub struct Plan {
    pub sites: u32,
}

const PARENT_TAG: &str = "Cloud Agent";

impl Plan {
    pub fn network(site: u32) -> String {
        format!("Net {site}")
    }

    pub fn group(site: u32) -> String {
        format!("Group {site}")
    }

    /// A range of its own in a /24 of its own, so that no two sites' ranges merge.
    pub fn ips(site: u32) -> String {
        let (high, low) = (site / 250, site % 250);
        format!("10.{high}.{low}.1-10.{high}.{low}.20")
    }

    pub fn email(site: u32) -> String {
        format!("user{site}@example.com")
    }

    pub fn tag(site: u32) -> String {
        format!("Tag {site}")
    }

    pub fn requests(&self) -> (Vec<Request>, Vec<BodyFile>) {
        let (lookup, mut bodies) = system_tag(PARENT_TAG);
        let mut requests = vec![lookup];
        for site in 1..=self.sites {
            let (tag, files) = tag(&Self::tag(site), Some(&system_tag_capture(PARENT_TAG)));
            requests.extend([
                network(&Self::network(site)),
                ips(&Self::ips(site)),
                asset_group(&Self::group(site), &Self::network(site)),
                user(&Self::email(site), true),
                user_id(&Self::email(site)),
                tag,
            ]);
            bodies.extend(files);
        }
        (requests, bodies)
    }

    /// Writes the plan as the workplace's bundle and returns its digest.
    pub fn write(&self, work: &Work) -> String {
        let (requests, bodies) = self.requests();
        work.write(requests, bodies, &[])
    }

    /// As [`Plan::write`], every request depending on the one before ([`chained`]).
    pub fn write_chained(&self, work: &Work) -> String {
        let (requests, bodies) = self.requests();
        work.write(chained(requests), bodies, &[])
    }

    pub fn request_count(&self) -> u64 {
        1 + 6 * u64::from(self.sites)
    }

    /// The target holds what it held `before`, plus exactly one of each object of the plan,
    /// each where it belongs, and the journal's captures name those very objects.
    pub fn assert_created(&self, before: &Export, after: &Export, captures: &BTreeMap<String, String>) {
        let sites: Vec<u32> = (1..=self.sites).collect();
        let grew = |kind: &str, old: Vec<String>, new: Vec<String>, added: Vec<String>| {
            let mut expected = old;
            expected.extend(added);
            expected.sort_unstable();
            let mut found = new;
            found.sort_unstable();
            assert_eq!(found, expected, "{kind}: exactly the objects held before plus one of each planned");
        };

        let networks = after.networks();
        grew(
            "networks",
            before.networks().into_iter().map(|(_, n)| n).collect(),
            networks.iter().map(|(_, n)| n.clone()).collect(),
            sites.iter().map(|&s| Self::network(s)).collect(),
        );
        let network_id = |name: &str| networks.iter().find(|(_, n)| n == name).map(|(id, _)| id.clone());

        let groups = after.asset_groups();
        grew(
            "asset groups",
            before.asset_groups().into_iter().map(|(_, t, _)| t).collect(),
            groups.iter().map(|(_, t, _)| t.clone()).collect(),
            sites.iter().map(|&s| Self::group(s)).collect(),
        );

        let users = after.users();
        grew(
            "users",
            before.users().into_iter().map(|(_, _, e)| e).collect(),
            users.iter().map(|(_, _, e)| e.clone()).collect(),
            sites.iter().map(|&s| Self::email(s)).collect(),
        );

        let tags = after.tags();
        grew(
            "tags",
            before.tags().into_iter().map(|(_, n, _)| n).collect(),
            tags.iter().map(|(_, n, _)| n.clone()).collect(),
            sites.iter().map(|&s| Self::tag(s)).collect(),
        );
        let parent = tags.iter().find(|(_, n, _)| n == PARENT_TAG).map(|(id, _, _)| id.clone()).expect("parent tag");

        let ips = after.vm_ips();
        for &site in &sites {
            let (network, group, email, tag) =
                (Self::network(site), Self::group(site), Self::email(site), Self::tag(site));
            let net_id = network_id(&network).expect("network");
            assert_eq!(captures.get(&format!("network/{network}#id")), Some(&net_id), "{network}: captured ID");

            let (group_id, _, in_network) = groups.iter().find(|(_, t, _)| *t == group).expect("group");
            assert_eq!(in_network, &net_id, "{group} is in its own network");
            assert_eq!(captures.get(&format!("asset-group/{group}#id")), Some(group_id), "{group}: captured ID");

            let (user_id, login, _) = users.iter().find(|(_, _, e)| *e == email).expect("user");
            assert_eq!(captures.get(&format!("user/{email}#login")), Some(login), "{email}: captured login");
            assert_eq!(captures.get(&format!("user-id/{email}#id")), Some(user_id), "{email}: looked-up ID");

            let (tag_id, _, tag_parent) = tags.iter().find(|(_, n, _)| *n == tag).expect("tag");
            assert_eq!(tag_parent.as_ref(), Some(&parent), "{tag} is under {PARENT_TAG}");
            assert_eq!(captures.get(&format!("tag/{tag}#id")), Some(tag_id), "{tag}: captured ID");

            assert!(ips.contains(&Self::ips(site)), "{} are enabled for VM: {ips:?}", Self::ips(site));
        }
    }
}

/// The simulator's object counts grew by exactly the plan's objects.
pub fn assert_objects_grew(before: &Counters, after: &Counters, by: u64) {
    for kind in ["networks", "asset_groups", "users", "tags"] {
        assert_eq!(count(&after.objects, kind), count(&before.objects, kind) + by, "{kind} in the counters");
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets

/// No file under the workplace (but the encrypted credentials file) and no output holds any
/// of `secrets` in any form (raw, form-encoded, XML-escaped, base64).
pub fn assert_nowhere(work: &Work, outputs: &[&[u8]], secrets: &[&str]) {
    for (path, bytes) in work.all_bytes() {
        if path.ends_with(SECRETS_AGE_FILE) || path.ends_with(SECRETS_AES_FILE) {
            continue;
        }
        assert_eq!(operator::leaked(&bytes, secrets), None, "{} holds a secret", path.display());
    }
    for output in outputs {
        let leak = operator::leaked(output, secrets);
        assert_eq!(leak, None, "output holds a secret: {}", String::from_utf8_lossy(output));
    }
}
