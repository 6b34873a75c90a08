//! Crash safety: the real binary is killed (SIGKILL) at random moments and resumed each time;
//! at the end every object exists exactly once. The target is a small stateful fake that
//! creates networks and asset groups, lists them for the probes and adds IPs, each answer a
//! little late so that kills land before, during and after the target's processing.
//!
//! `QMIG_CRASH_KILLS` sets the number of kills (50 by default; `make bench` runs more).

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::server::{Answer, Seen, Server, simple_id, xml};
use crate::support::*;

#[derive(Default)]
struct Target {
    next_id: u64,
    /// Every create that was executed, by kind and name (duplicates included).
    networks: Vec<(String, u64)>,
    groups: Vec<(String, u64, String)>,
    ip_adds: u64,
}

fn form(seen: &Seen) -> BTreeMap<String, String> {
    form_urlencoded::parse(&seen.body).into_owned().collect()
}

fn answer(target: &Mutex<Target>, seen: &Seen) -> Answer {
    std::thread::sleep(Duration::from_millis(fastrand::u64(5..25)));
    let params = form(seen);
    let mut target = target.lock().expect("lock");
    let action = params.get("action").map(String::as_str).unwrap_or_default();
    match (seen.target.as_str(), action) {
        ("/api/2.0/fo/network/", "create") => {
            target.next_id += 1;
            let id = target.next_id;
            target.networks.push((params["name"].clone(), id));
            simple_id(id)
        }
        ("/api/2.0/fo/network/", _) => {
            let list: String = target
                .networks
                .iter()
                .map(|(n, id)| format!("<NETWORK><ID>{id}</ID><NAME>{n}</NAME></NETWORK>"))
                .collect();
            xml(
                200,
                format!(
                    "<NETWORK_LIST_OUTPUT><RESPONSE><NETWORK_LIST>{list}</NETWORK_LIST></RESPONSE></NETWORK_LIST_OUTPUT>"
                ),
            )
        }
        ("/api/2.0/fo/asset/group/", "add") => {
            target.next_id += 1;
            let id = target.next_id;
            target.groups.push((params["title"].clone(), id, params["network_id"].clone()));
            simple_id(id)
        }
        ("/api/2.0/fo/asset/group/", _) => {
            let list: String = target
                .groups
                .iter()
                .map(|(t, id, _)| format!("<ASSET_GROUP><ID>{id}</ID><TITLE>{t}</TITLE></ASSET_GROUP>"))
                .collect();
            xml(
                200,
                format!(
                    "<ASSET_GROUP_LIST_OUTPUT><RESPONSE><ASSET_GROUP_LIST>{list}</ASSET_GROUP_LIST></RESPONSE></ASSET_GROUP_LIST_OUTPUT>"
                ),
            )
        }
        _ => {
            target.ip_adds += 1;
            xml(200, "<SIMPLE_RETURN><RESPONSE><TEXT>IPs successfully added</TEXT></RESPONSE></SIMPLE_RETURN>")
        }
    }
}

#[test]
fn killed_at_random_moments_and_resumed_nothing_is_created_twice_or_missed() {
    let kills: usize = std::env::var("QMIG_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let names: Vec<String> = (1..=20).map(|n| format!("Net {n}")).collect();
    let mut requests = Vec::new();
    for name in &names {
        requests.push(network(name));
        requests.push(asset_group(&format!("Group {name}"), name));
        requests.push(ips(&format!("10.0.{}.1-10.0.{}.9", name.len(), requests.len())));
    }
    let work = Work::new();
    let digest = work.write(numbered(requests), vec![], &[]);
    let target = Arc::new(Mutex::new(Target::default()));
    let server = {
        let target = Arc::clone(&target);
        Server::start(move |seen, _| answer(&target, seen))
    };

    let command = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_qmig-execute"));
        cmd.env_clear()
            .env("QMIG_TARGET_PASSWORD", PASSWORD)
            .arg("run")
            .arg(work.bundle())
            .args(["--target", server.url(), "--approve", &digest, "--username", "qmig_api", "--retry-pause", "0ms"])
            .arg("--journal")
            .arg(work.journal())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    let mut finished_early = 0;
    for kill in 0..kills {
        let arrived = server.seen().len();
        let mut child = command().spawn().expect("starts");
        if kill % 2 == 0 {
            std::thread::sleep(Duration::from_millis(fastrand::u64(5..60)));
        } else {
            // Aim at a request in flight: it may be processed after its sender is gone.
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while server.seen().len() == arrived && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(fastrand::u64(0..30)));
        }
        match child.try_wait().expect("polls") {
            Some(_) => finished_early += 1,
            None => {
                child.kill().expect("SIGKILL");
                child.wait().expect("reaped");
            }
        }
    }
    let last = command().stderr(Stdio::piped()).output().expect("runs");
    assert!(last.status.success(), "{}", String::from_utf8_lossy(&last.stderr));
    assert!(
        finished_early <= kills / 5,
        "most kills must land during runs ({finished_early} of {kills} finished first)"
    );

    let target = target.lock().expect("lock");
    let mut created: Vec<&str> = target.networks.iter().map(|(n, _)| n.as_str()).collect();
    created.sort_unstable();
    let mut expected: Vec<&str> = names.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(created, expected, "each network exactly once");
    assert_eq!(target.groups.len(), names.len(), "each asset group exactly once");
    for (title, _, network_id) in &target.groups {
        let name = title.trim_start_matches("Group ");
        let id = target.networks.iter().find(|(n, _)| n == name).map(|(_, id)| id.to_string());
        assert_eq!(id.as_deref(), Some(network_id.as_str()), "{title} is in its own network");
    }
    assert!(target.ip_adds >= names.len() as u64, "every IP add was sent (repeats allowed: idempotent)");
    let lines = work.journal_lines();
    let count = |record: &str| lines.iter().filter(|l| l["record"] == record).count();
    assert!(count("intent") > count("outcome"), "some kills must interrupt a request between intent and outcome");
}
