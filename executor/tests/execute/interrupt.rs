//! What the operator sees when a run is interrupted or its output cut short, and what a
//! crashing executor could leave behind.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use qualys_sim::{Config, FaultKind, Faults};

use crate::support::*;

/// `run`, as [`run`] builds it, as a process the test can signal and read from.
fn spawn(work: &Work, url: &str, digest: &str, extra: &[&str]) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qmig-execute"));
    cmd.env_clear()
        .env("XDG_STATE_HOME", work.path("state"))
        .env("QMIG_TARGET_PASSWORD", PASSWORD)
        .arg("run")
        .arg(work.bundle())
        .args(["--target", url, "--approve", digest, "--username", USERNAME, "--retry-pause", "10ms"])
        .args(["--settle", "0s", "--journal"])
        .arg(work.journal())
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("starts")
}

/// A run is interrupted (SIGINT) while the target takes its time over a create. Before any
/// secret was read it had turned core dumps off. It exits 130 saying which request it stopped
/// at and how to resume; the resumed run settles the create with its probe and completes, with
/// every object exactly once.
#[cfg(target_os = "linux")]
#[test]
fn sigint_says_where_the_run_stopped_and_the_run_resumes() {
    let plan = Plan { sites: 1 };
    let work = Work::new();
    let digest = plan.write(&work);
    let faults =
        Faults { scripted: vec![fault(1, FaultKind::Slow)], slow_delay: Duration::from_secs(3), ..Faults::default() };
    let sim = start(Config { faults, ..sim_config() });
    let before = Export::of(&sim, &work.path("before"));
    let child = spawn(&work, &sim.url(), &digest, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&sim.counters().faults, "slow") == 0 {
        assert!(Instant::now() < deadline, "the create never reached the target");
        std::thread::sleep(Duration::from_millis(10));
    }
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).expect("limits");
    let core = limits.lines().find(|l| l.starts_with("Max core file size")).expect("core limit");
    assert_eq!(core.split_whitespace().skip(4).take(2).collect::<Vec<_>>(), ["0", "0"], "{core}");
    let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(sent.success());
    let output = child.wait_with_output().expect("ends");
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("interrupted at request 2 (network/Net 1)"), "{message}");
    assert!(message.contains("run the same command again to resume"), "{message}");

    let resumed = run(&work, &sim.url(), &digest).output().expect("runs");
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    plan.assert_created(&before, &Export::of(&sim, &work.path("after")), &work.captures());
}

/// `run --dry-run | head -1`: the reader goes away after the first line; the listing stops
/// quietly, without a panic.
#[test]
fn a_dry_run_into_a_closed_pipe_ends_quietly() {
    let work = Work::new();
    let digest = Plan { sites: 300 }.write(&work);
    let mut child = spawn(&work, "https://qualysapi.qualys.eu", &digest, &["--dry-run"]);
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("reads a line");
    assert!(first.starts_with("#1 "), "{first}");
    let output = child.wait_with_output().expect("ends");
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}
