//! Building bundles with the contract crate, running the real binary, and reading what it left.

use std::io::Write as _;
use std::path::PathBuf;

use age::secrecy::SecretString;
use qmig_schemas::manifest::*;
use qmig_schemas::{BundleContents, sha256_hex, write_bundle};

pub const PASSWORD: &str = "target-Pa55word";
pub const PASSPHRASE: &str = "correct horse battery staple";

/// A temporary workplace: the bundle, the journal and the secret files live here.
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

    /// Writes the bundle and returns its digest.
    pub fn write(&self, requests: Vec<Request>, bodies: Vec<(String, Vec<u8>)>, secrets: &[(&str, &str)]) -> String {
        let names: Vec<String> = secrets.iter().map(|(n, _)| (*n).to_owned()).collect();
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            generator: Generator { name: "qmig-execute tests".into(), version: "0".into() },
            sources: vec![],
            inputs: vec![],
            unrecognised: vec![],
            secrets: (!secrets.is_empty()).then(|| Secrets { file: SECRETS_FILE.into(), names }),
            tasks: vec![],
            requests,
            skipped: vec![],
            losses: vec![],
            manual_steps: vec![],
            warnings: vec![],
        };
        let secrets_age = (!secrets.is_empty()).then(|| {
            let object: serde_json::Map<String, serde_json::Value> =
                secrets.iter().map(|(n, v)| ((*n).to_owned(), serde_json::Value::from(*v))).collect();
            encrypt(&serde_json::to_vec(&object).expect("json"), PASSPHRASE)
        });
        let contents = BundleContents { manifest, review: "# Review\n".into(), bodies, secrets_age };
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

    pub fn journal_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.journal())
            .expect("journal")
            .lines()
            .map(|l| serde_json::from_str(l).expect("journal line is JSON"))
            .collect()
    }
}

/// An armored age file for `plaintext`, at a work factor low enough for tests.
pub fn encrypt(plaintext: &[u8], passphrase: &str) -> Vec<u8> {
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    recipient.set_work_factor(2);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient)).expect("recipient");
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).expect("armor");
    let mut writer = encryptor.wrap_output(armor).expect("stream");
    writer.write_all(plaintext).expect("write");
    writer.finish().and_then(|armor| armor.finish()).expect("finish");
    out
}

/// The binary, with a clean environment: only what a test passes reaches it.
pub fn qmig(work: &Work) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("qmig-execute").expect("binary");
    cmd.env_clear().env("XDG_STATE_HOME", work.path("state")).env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.timeout(std::time::Duration::from_secs(120));
    cmd
}

/// `run` against `url` with every credential from the environment and short pauses.
pub fn run(work: &Work, url: &str, digest: &str) -> assert_cmd::Command {
    let mut cmd = qmig(work);
    cmd.arg("run")
        .arg(work.bundle())
        .args(["--target", url, "--approve", digest, "--username", "qmig_api", "--retry-pause", "10ms"])
        .arg("--journal")
        .arg(work.journal())
        .env("QMIG_TARGET_PASSWORD", PASSWORD)
        .env("QMIG_SECRETS_PASSPHRASE", PASSPHRASE);
    cmd
}

pub fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

pub fn capture(name: &str) -> Value {
    Value::Parts(vec![Segment::Capture(name.to_owned())])
}

fn request(id: &str, path: &str, params: Vec<Param>, effect: Effect) -> Request {
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
        captures: vec![],
        probe: None,
        source: None,
    }
}

/// Numbers the requests 1, 2, 3, ... in order.
pub fn numbered(mut requests: Vec<Request>) -> Vec<Request> {
    for (index, request) in requests.iter_mut().enumerate() {
        request.seq = index as u64 + 1;
    }
    requests
}

fn matcher(record: &str, field: &str, equals: Value) -> Match {
    Match { record: record.to_owned(), conditions: vec![Condition { field: field.to_owned(), equals }] }
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

/// Asset group add in a captured network.
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

/// User create capturing the generated login; the probe finds the user by email.
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

/// The new user's ID, looked up by the captured login.
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

/// QPS tag create whose body holds the parent tag's captured ID in a slot.
pub fn tag(name: &str, parent_capture: &str) -> (Request, Vec<(String, Vec<u8>)>) {
    let placeholder = format!("{{{{capture:{parent_capture}}}}}");
    let xml = format!(
        "<ServiceRequest><data><Tag><name>{name}</name><parentTagId>{placeholder}</parentTagId></Tag></data></ServiceRequest>"
    );
    let file = format!("bodies/tag-{name}.xml");
    let id = format!("tag/{name}");
    let mut r = request(&id, "/qps/rest/2.0/create/am/tag", vec![], Effect::Create);
    r.body = Some(Body {
        file: file.clone(),
        sha256: sha256_hex(xml.as_bytes()),
        content_type: "text/xml".into(),
        slots: vec![Slot {
            offset: xml.find(&placeholder).expect("placeholder") as u64,
            placeholder,
            value: Segment::Capture(parent_capture.to_owned()),
            escape: Escape::Xml,
        }],
    });
    r.captures = vec![Capture { name: format!("{id}#id"), extract: Extract::NewId }];
    let search = format!(
        "<ServiceRequest><filters><Criteria field=\"name\" operator=\"EQUALS\">{name}</Criteria></filters></ServiceRequest>"
    );
    let search_file = format!("bodies/tag-{name}-search.xml");
    r.probe = Some(Probe {
        method: Method::Post,
        path: "/qps/rest/2.0/search/am/tag".into(),
        params: vec![],
        body: Some(Body {
            file: search_file.clone(),
            sha256: sha256_hex(search.as_bytes()),
            content_type: "text/xml".into(),
            slots: vec![],
        }),
        exists: matcher("Tag", "name", text(name)),
        captures: vec![ProbeCapture { name: format!("{id}#id"), take: "id".into() }],
    });
    (r, vec![(file, xml.into_bytes()), (search_file, search.into_bytes())])
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

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn assert_nowhere(work: &Work, outputs: &[&[u8]], secret: &str) {
    for (path, bytes) in work.all_bytes() {
        if path.ends_with("secrets.age") {
            continue;
        }
        assert!(!contains(&bytes, secret.as_bytes()), "{} holds the secret", path.display());
    }
    for output in outputs {
        assert!(!contains(output, secret.as_bytes()), "output holds the secret: {}", String::from_utf8_lossy(output));
    }
}
