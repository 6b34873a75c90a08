//! What the executor refuses before sending anything, and the offline `verify`.

use std::path::Path;

use crate::support::*;

/// A bundle with a secret, and a target that would accept it: a wrong digest, a wrong
/// passphrase, a plain-http target that is not loopback, a password file others can read, a
/// journal another executor holds, a journal of another bundle, a `--journal` that is not a
/// journal (text without a newline, other JSON, a FIFO, a device: each left untouched) and a
/// tampered bundle file are each refused (exit 3) with a message saying why, and the
/// simulator's counters show that no request reached it.
#[test]
fn every_refusal_happens_before_anything_is_sent() {
    let work = Work::new();
    let digest =
        work.write(vec![auth_record("Linux", LINUX_PASSWORD), network("A")], vec![], &[(LINUX_PASSWORD, "pw")]);
    let sim = start(sim_config());
    let url = sim.url();
    let refused = |cmd: &mut assert_cmd::Command, why: &str| {
        let output = cmd.output().expect("runs");
        assert_eq!(output.status.code(), Some(3), "{why}: {}", stderr(&output));
        assert_eq!(calls(&sim.counters()), 0, "{why}: no request reached the target");
        stderr(&output)
    };

    let other = format!("sha256:{}", "0".repeat(64));
    let message = refused(&mut run(&work, &url, &other), "wrong digest");
    assert!(message.contains(&digest) && message.contains(&other), "{message}");
    let message = refused(run(&work, &url, &digest).env("QMIG_SECRETS_PASSPHRASE", "wrong"), "wrong passphrase");
    assert!(message.contains("passphrase is wrong"), "{message}");
    let message = refused(&mut run(&work, "http://qualysapi.qualys.eu", &digest), "plain http");
    assert!(message.contains("https"), "{message}");

    let open = work.path("open-password");
    std::fs::write(&open, PASSWORD).expect("writes");
    #[cfg(unix)]
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o644)).expect("chmod");
    let message = refused(run(&work, &url, &digest).arg("--password-file").arg(&open), "readable password file");
    assert!(message.contains("chmod 600"), "{message}");

    let held = std::fs::File::create(work.journal()).expect("journal");
    held.try_lock().expect("locks");
    let message = refused(&mut run(&work, &url, &digest), "locked journal");
    assert!(message.contains("lock"), "{message}");
    drop(held);

    let foreign = format!(
        "{{\"record\":\"header\",\"journal_format\":2,\"bundle_digest\":\"sha256:{}\",\"executor\":\"qmig-execute\",\
         \"executor_version\":\"{}\",\"target\":\"{url}\",\"at\":0}}\n",
        "1".repeat(64),
        env!("CARGO_PKG_VERSION")
    );
    std::fs::write(work.journal(), foreign).expect("writes");
    let message = refused(&mut run(&work, &url, &digest), "foreign journal");
    assert!(message.contains("belongs to bundle"), "{message}");
    std::fs::remove_file(work.journal()).expect("removes");

    for (name, content) in [("notes.txt", &b"no newline here"[..]), ("other.json", b"{\"a\":1}\n{\"b\":2}\n")] {
        let path = work.path(name);
        std::fs::write(&path, content).expect("writes");
        let message = refused(&mut run_with_journal(&work, &url, &digest, "0s", &path), name);
        assert!(message.contains("is not a qmig journal"), "{message}");
        assert_eq!(std::fs::read(&path).expect("reads"), content, "{name} left untouched");
    }
    #[cfg(unix)]
    {
        let fifo = work.path("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
        assert!(made.success());
        for special in [fifo.as_path(), Path::new("/dev/null")] {
            let message = refused(&mut run_with_journal(&work, &url, &digest, "0s", special), "special file");
            assert!(message.contains("not a regular file"), "{message}");
        }
    }

    tamper(&work.bundle().join("REVIEW.md"));
    let message = refused(&mut run(&work, &url, &digest), "tampered file");
    assert!(message.contains("REVIEW.md"), "{message}");
}

/// A bundle reviewed for one target runs against that target however it is spelled; against
/// another it is refused before anything is sent, unless the operator says `--other-target`.
#[test]
fn a_bundle_reviewed_for_one_target_runs_only_there_unless_told_otherwise() {
    let sim = start(sim_config());
    let url = sim.url();
    let work = Work::new();
    let digest = work.write_reviewed_for(vec![network("A")], "https://qualysapi.qualys.eu");
    let output = run(&work, &url, &digest).output().expect("runs");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("https://qualysapi.qualys.eu") && message.contains("--other-target"), "{message}");
    assert_eq!(calls(&sim.counters()), 0, "no request reached the target");
    assert!(!work.journal().exists(), "no journal was started");
    let output = run(&work, &url, &digest).arg("--other-target").output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(network_names(&sim, &work), ["A"]);
    let shown = String::from_utf8_lossy(&status(&work).stdout).into_owned();
    assert!(shown.contains("reviewed for: https://qualysapi.qualys.eu"), "{shown}");

    let sim = start(sim_config());
    let url = sim.url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let work = Work::new();
    let digest = work.write_reviewed_for(vec![network("B")], &url);
    let spelled = format!("{}/", url.replace("127.0.0.1", "localhost"));
    let output = run(&work, &spelled, &digest).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(network_names(&sim, &work), ["B"]);
}

/// The networks the simulator holds but its Global Default Network (ID 0).
fn network_names(sim: &qualys_sim::Running, work: &Work) -> Vec<String> {
    let networks = Export::of(sim, &work.path("export")).networks();
    networks.into_iter().filter(|(id, _)| id != "0").map(|(_, name)| name).collect()
}

fn tamper(path: &Path) {
    let mut bytes = std::fs::read(path).expect("reads");
    bytes.extend_from_slice(b"one more line\n");
    std::fs::write(path, bytes).expect("tampers");
}

/// `verify` needs no target: it prints the digest last, and names the file a change was made in.
#[test]
fn verify_prints_the_digest_last_and_names_the_first_problem() {
    let work = Work::new();
    let (tag, bodies) = tag("Linux", Some("network/A#id"));
    let digest = work.write(vec![network("A"), tag], bodies, &[]);
    let output = qmig(&work).arg("verify").arg(work.bundle()).output().expect("verify");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().last(), Some(format!("digest: {digest}").as_str()));
    tamper(&work.bundle().join("bodies/tag-Linux.xml"));
    let output = qmig(&work).arg("verify").arg(work.bundle()).output().expect("verify");
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("bodies/tag-Linux.xml"), "{}", stderr(&output));
}
