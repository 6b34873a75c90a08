//! What an operator does to a credentials file, with the real tools: `age -p` (driven through a
//! pseudo-terminal, since it reads the passphrase only from a terminal) and `openssl enc`. Shared
//! by the tests of the contract crate, the transformer and the executor.

use std::io::Write as _;
use std::process::{Command, Stdio};

use base64::Engine as _;

/// `age -p` (or `age -p -a`) of `plaintext` with `passphrase`, as the CLI writes it.
pub fn age_cli(plaintext: &[u8], passphrase: &str, armor: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, output) = (dir.path().join("credentials.csv"), dir.path().join("credentials.csv.age"));
    std::fs::write(&input, plaintext).expect("writes plaintext");
    let armor = if armor { "-a " } else { "" };
    let command = format!("age -p {armor}-o '{}' '{}'", output.display(), input.display());
    // `script` gives age a terminal whose input is this stdin: the passphrase, then its confirmation.
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("`script` (util-linux) runs");
    let typed = format!("{passphrase}\n{passphrase}\n");
    child.stdin.take().expect("stdin").write_all(typed.as_bytes()).expect("types the passphrase");
    let status = child.wait().expect("age finishes");
    assert!(status.success(), "`{command}` failed: is `age` installed (apt-get install age)?");
    std::fs::read(&output).expect("age wrote its output")
}

/// `openssl enc -aes-256-cbc -pbkdf2 -salt [-iter N]` of `plaintext` with `passphrase`.
pub fn openssl_cli(plaintext: &[u8], passphrase: &str, iterations: Option<u32>) -> Vec<u8> {
    let mut command = Command::new("openssl");
    command.args(["enc", "-aes-256-cbc", "-pbkdf2", "-salt", "-pass", "env:QMIG_TEST_PASSPHRASE"]);
    if let Some(iterations) = iterations {
        command.args(["-iter", &iterations.to_string()]);
    }
    let mut child = command
        .env("QMIG_TEST_PASSPHRASE", passphrase)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    child.stdin.take().expect("stdin").write_all(plaintext).expect("writes plaintext");
    let output = child.wait_with_output().expect("openssl finishes");
    assert!(output.status.success(), "openssl enc failed");
    output.stdout
}

/// Every form in which a secret could leak: raw, form-encoded, XML-escaped, base64.
pub fn leak_forms(secret: &str) -> Vec<String> {
    let xml = secret
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;");
    vec![
        secret.to_owned(),
        form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        xml,
        base64::engine::general_purpose::STANDARD.encode(secret),
    ]
}

/// Whether `bytes` hold any form of any of `secrets`; the first found, for the message.
pub fn leaked(bytes: &[u8], secrets: &[&str]) -> Option<String> {
    secrets.iter().flat_map(|s| leak_forms(s)).find(|form| bytes.windows(form.len()).any(|w| w == form.as_bytes()))
}
