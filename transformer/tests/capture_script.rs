//! `qmig-transform capture-script`: the generated script, run with `sh` (dash) against the
//! simulator seeded with the sample subscription, captures an export that transforms into the
//! same requests; no credential ever reaches a command line; a re-run resumes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo::cargo_bin;
use common::{files_in, repo, sample_args};
use qmig_schemas::Request;
use qmig_transform::cli::BundleArgs;
use tempfile::TempDir;

const USER: &str = "capture-user";
/// Unique, and with the characters a curl config file must escape.
const PASSWORD: &str = "pw-7f3a\"capture\\only-here";

struct Capture {
    sim: qualys_sim::Running,
    dir: TempDir,
}

impl Capture {
    fn start() -> Capture {
        Capture::start_with(qualys_sim::Config::default())
    }

    /// The simulator with `config`, seeded with the sample subscription and the test's user.
    fn start_with(config: qualys_sim::Config) -> Capture {
        let config = qualys_sim::Config {
            seed: Some(repo().join("samples/export")),
            user: USER.into(),
            password: PASSWORD.into(),
            ..config
        };
        let sim = qualys_sim::start(config).expect("the simulator starts");
        let dir = tempfile::tempdir().expect("tempdir");
        generate_script(dir.path());
        // Every curl the script starts goes through this shim, which records its arguments.
        let shim = dir.path().join("shim");
        fs::create_dir(&shim).expect("mkdir");
        let curl = which("curl").expect("curl is installed");
        fs::write(
            shim.join("curl"),
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                dir.path().join("argv.log").display(),
                curl.display()
            ),
        )
        .expect("write the shim");
        fs::set_permissions(shim.join("curl"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        Capture { sim, dir }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("export")
    }

    /// `sh capture.sh --user USER ARGS... URL OUT`, the password typed on standard input.
    fn run(&self, password: &str, args: &[&str]) -> Output {
        let mut path = OsString::from(self.dir.path().join("shim"));
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        let mut command = Command::new("sh");
        command.arg(self.dir.path().join("capture.sh")).args(["--user", USER]).args(args);
        command.arg(self.sim.url()).arg(self.out()).env("PATH", path);
        let mut child = command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("sh runs");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), format!("{password}\n").as_bytes())
            .expect("type the password");
        child.wait_with_output().expect("the script ends")
    }

    fn argv_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("argv.log")).unwrap_or_default()
    }
}

/// `qmig-transform capture-script --out DIR/capture.sh`, the real program.
fn generate_script(dir: &Path) -> PathBuf {
    let script = dir.join("capture.sh");
    let generated = Command::new(cargo_bin("qmig-transform")).args(["capture-script", "--out"]).arg(&script).output();
    let generated = generated.expect("qmig-transform runs");
    assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
    script
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// The files of a capture, relative to it, in order.
fn files_below(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> =
        files_in(dir).iter().map(|p| p.strip_prefix(dir).expect("below").display().to_string()).collect();
    files.sort();
    files
}

/// Planned requests, each as what it does to which object:
/// without where it came from, its parameters in name order and list values sorted, and its
/// body by content type (the simulator writes documents, lists and bodies in its own order).
fn requests(planned: &[Request]) -> Vec<serde_json::Value> {
    let mut requests: Vec<serde_json::Value> = planned
        .iter()
        .map(|request| {
            let mut value = serde_json::to_value(request).expect("serialise");
            let object = value.as_object_mut().expect("an object");
            object.remove("source");
            object.remove("seq");
            // Which request of a task carries the task-order dependencies follows the export's
            // record order, which the capture need not share: compared apart, as a set.
            object.remove("depends_on");
            if let Some(body) = object.get_mut("body").and_then(|b| b.as_object_mut()) {
                body.retain(|key, _| key == "content_type");
            }
            if let Some(params) = object.get_mut("params").and_then(|p| p.as_array_mut()) {
                for param in params.iter_mut() {
                    if let Some(text) = param["value"].as_str() {
                        let mut items: Vec<&str> = text.split(',').collect();
                        items.sort_unstable();
                        param["value"] = items.join(",").into();
                    }
                }
                params.sort_by_key(|p| p.to_string());
            }
            value
        })
        .collect();
    requests.sort_by_key(|r| r.to_string());
    requests
}

#[test]
fn the_sample_subscription_is_captured_page_by_page_and_transforms_into_the_same_requests() {
    let capture = Capture::start();
    let run = capture.run(PASSWORD, &["--page-size", "2"]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));

    // Paging was forced: v2 lists followed their WARNING/URL, the tag search its lastId.
    let files = files_below(&capture.out());
    for page in ["asset_groups_2.xml", "asset_groups_4.xml", "ipv6_mappings_2.xml", "tags_2.xml"] {
        assert!(files.contains(&page.to_owned()), "{page} is missing: {files:?}");
    }
    for family in [
        "user_prefs/user_prefs_1201.xml",
        "report_templates/report_template_88303.xml",
        "policy_5102.xml",
        "auth_ms_sql.xml",
    ] {
        assert!(files.contains(&family.to_owned()), "{family} is missing: {files:?}");
    }
    assert!(!files.iter().any(|f| f.contains(".part")), "a temporary file is left: {files:?}");
    assert!(stdout.contains(&format!("{} file(s) fetched now, 0 kept", files.len())), "{stdout}");

    // No credential on any command line: every curl's arguments were recorded.
    let argv = capture.argv_log();
    assert!(argv.lines().count() > files.len() / 2, "curl was not called through the shim: {argv}");
    assert!(!argv.contains("7f3a"), "the password reached curl's arguments: {argv}");

    // The capture transforms into the sample's own requests, with the same dependencies.
    // Each task's waits on other tasks' requests (within a task, which request waits follows
    // the record order).
    let planned = |export: &Path| {
        let args = BundleArgs { export_dir: export.to_path_buf(), ..sample_args() };
        qmig_transform::build(&args).expect("the export transforms").manifest.requests
    };
    let (captured, sample) = (planned(&capture.out()), planned(&repo().join("samples/export")));
    let waited_for = |requests: &[Request]| -> BTreeSet<(String, String)> {
        let task_of: BTreeMap<&str, &str> = requests.iter().map(|r| (r.id.as_str(), r.task.as_str())).collect();
        let waits = requests.iter().flat_map(|r| r.depends_on.iter().map(move |d| (r.task.as_str(), d.as_str())));
        waits.filter(|(task, d)| task_of[d] != *task).map(|(task, d)| (task.to_owned(), d.to_owned())).collect()
    };
    assert_eq!(waited_for(&captured), waited_for(&sample));
    let (captured, sample) = (requests(&captured), requests(&sample));
    assert_eq!(captured.len(), sample.len());
    for (captured, sample) in captured.iter().zip(&sample) {
        assert_eq!(captured, sample);
    }

    // A re-run after an interruption fetches only what is missing, in the middle of a list too.
    fs::remove_file(capture.out().join("asset_groups_3.xml")).expect("remove a page");
    fs::remove_file(capture.out().join("policy_5102.xml")).expect("remove an export");
    let again = capture.run(PASSWORD, &["--page-size", "2"]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&again.stderr));
    assert!(stdout.contains(&format!("2 file(s) fetched now, {} kept", files.len() - 2)), "{stdout}");
    assert_eq!(files_below(&capture.out()), files);
}

#[test]
fn a_refused_call_stops_the_capture_and_keeps_nothing_of_it() {
    let capture = Capture::start();
    let run = capture.run("not the password", &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    assert!(files_below(&capture.out()).is_empty(), "{:?}", files_below(&capture.out()));
}

#[test]
fn a_curl_config_file_others_can_read_is_refused_and_one_of_mode_600_is_used() {
    let capture = Capture::start();
    let config = capture.dir.path().join("qualys.curl");
    fs::write(&config, format!("user = \"{USER}:{}\"\n", PASSWORD.replace('\\', "\\\\").replace('"', "\\\"")))
        .expect("write");
    let mode =
        |mode: u32| fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(mode)).expect("chmod");
    let config_arg = config.to_str().expect("UTF-8 path");
    mode(0o644);
    let refused = capture.run("", &["--config", config_arg]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("chmod 600"));
    assert!(files_below(&capture.out()).is_empty());
    mode(0o600);
    let run = capture.run("", &["--config", config_arg]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(files_below(&capture.out()).contains(&"policy_5101.xml".to_owned()));
    assert!(!capture.argv_log().contains("7f3a"), "the password reached curl's arguments");
}

#[test]
fn calls_blocked_by_the_rate_limit_are_retried_after_the_wait_qualys_names() {
    let limits = qualys_sim::Limits { rate: Some("4/2".parse().expect("a rate limit")), concurrency: None };
    let capture = Capture::start_with(qualys_sim::Config { limits, ..Default::default() });
    let run = capture.run(PASSWORD, &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("blocked by the API limits (HTTP 409); waiting"), "{stderr}");
    assert!(!capture.sim.counters().blocked.is_empty(), "no call was blocked");
    let files = files_below(&capture.out());
    assert!(files.contains(&"user_prefs/user_prefs_1208.xml".to_owned()), "{files:?}");
}

#[test]
fn an_api_user_without_the_eula_accepted_stops_the_capture_at_once() {
    let faults = qualys_sim::Faults { registration_pending: true, ..Default::default() };
    let capture = Capture::start_with(qualys_sim::Config { faults, ..Default::default() });
    let run = capture.run(PASSWORD, &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("HTTP 409") && stderr.contains("2003"), "{stderr}");
    assert!(!stderr.contains("waiting"), "a registration error is not waited out: {stderr}");
    assert!(files_below(&capture.out()).is_empty());
}

#[test]
fn the_target_is_captured_without_the_source_only_calls_and_reads_as_a_target_export() {
    let capture = Capture::start();
    let run = capture.run(PASSWORD, &["--target"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let files = files_below(&capture.out());
    assert!(!files.iter().any(|f| f.starts_with("subscription_config") || f.starts_with("user_prefs")), "{files:?}");
    assert!(files.contains(&"appliances.xml".to_owned()), "{files:?}");
    assert!(String::from_utf8_lossy(&run.stdout).contains("--target-export"));
    // Everything the source would create is already there: nothing is left to create.
    let args = BundleArgs { target_export: Some(capture.out()), ..sample_args() };
    let contents = qmig_transform::build(&args).expect("the capture reads as a target export");
    let creates: Vec<&str> = contents
        .manifest
        .requests
        .iter()
        .filter(|r| r.task == "networks" || r.task == "asset groups")
        .map(|r| r.id.as_str())
        .collect();
    assert!(creates.is_empty(), "{creates:?}");
}

#[test]
fn shellcheck_finds_nothing_in_the_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = generate_script(dir.path());
    let checked = Command::new("shellcheck").args(["-s", "sh"]).arg(&script).output().unwrap_or_else(|e| {
        panic!("shellcheck cannot run ({e}): install the distribution's package (apt-get install shellcheck)")
    });
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stdout));
}
