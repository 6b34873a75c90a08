//! What the transformer's integration tests share: where the sample export, the corpus and
//! the fixtures are, running the transformer (as a library or as the program), and checking a
//! bundle as the executor will.

// Each test program uses part of this module.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use assert_cmd::cargo::cargo_bin;
use qmig_schemas::{BundleContents, Request, verify_bundle};
use qmig_transform::cli::BundleArgs;
use qmig_transform::error::TransformError;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Every file below `dir`, at any depth.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() { found.extend(files_in(&path)) } else { found.push(path) }
    }
    found
}

/// The sample export of a fictional subscription.
pub fn samples() -> PathBuf {
    repo().join("samples/export")
}

/// The sample export's mapping tables (appliances, business units), which every run on it
/// needs, as a command-line argument.
pub fn sample_inputs() -> String {
    repo().join("samples/inputs").to_string_lossy().into_owned()
}

/// The passphrase of the sample's credentials file (`samples/README.md`).
pub const SAMPLE_PASSPHRASE: &str = "northwind-demo-passphrase";

/// [`SAMPLE_PASSPHRASE`] in a file only its owner can read, as `--credentials-passphrase-file`
/// requires (a file in the repository would not keep its mode).
pub fn sample_passphrase_file() -> PathBuf {
    // Written once per test program: tests run in parallel, and one rewriting the file while
    // another reads it would hand the reader an empty passphrase.
    static WRITTEN: OnceLock<PathBuf> = OnceLock::new();
    WRITTEN
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
            let mut file = tempfile::NamedTempFile::new_in(dir).expect("a temporary file");
            std::io::Write::write_all(&mut file, format!("{SAMPLE_PASSPHRASE}\n").as_bytes()).expect("write");
            fs::set_permissions(file.path(), std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
            // Renamed into place whole: other test programs read the same path meanwhile.
            let path = dir.join("sample-credentials-passphrase");
            file.persist(&path).expect("rename");
            path
        })
        .clone()
}

/// `bundle samples/export --inputs samples/inputs` with every other option at its default.
pub fn sample_args() -> BundleArgs {
    BundleArgs {
        inputs: Some(PathBuf::from(sample_inputs())),
        credentials_passphrase_file: Some(sample_passphrase_file()),
        ..BundleArgs::new(samples(), "unused")
    }
}

/// The sample's bundle, built once for every test of a program.
pub fn sample() -> &'static BundleContents {
    static SAMPLE: OnceLock<BundleContents> = OnceLock::new();
    SAMPLE.get_or_init(|| qmig_transform::build(&sample_args()).expect("the sample transforms"))
}

/// A scenario of `tests/fixtures`.
pub fn fixture(scenario: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(scenario)
}

/// Files of one kind in the shared corpus of real and third-party Qualys documents.
pub fn corpus(kind: &str) -> PathBuf {
    repo().join("tests/corpus").join(kind)
}

/// An export directory made of these files (name, content).
pub fn export_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }
    dir
}

/// Plans the bundle of `export` (nothing is written), with the options `configure` sets; the
/// sample's credentials passphrase is given, for runs with the sample's inputs.
pub fn transform(export: &Path, configure: impl FnOnce(&mut BundleArgs)) -> Result<BundleContents, TransformError> {
    let mut args = BundleArgs::new(export, export.join("unused"));
    args.credentials_passphrase_file = Some(sample_passphrase_file());
    configure(&mut args);
    qmig_transform::build(&args)
}

/// Writes the bundle and verifies it as the executor does: the schema, every hash, every
/// capture declared before its use.
pub fn verified(contents: &BundleContents) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    qmig_schemas::write_bundle(&out, contents, false).expect("written");
    verify_bundle(&out).expect("the bundle verifies");
}

/// A request's parameter as the review shows it (captures as placeholders).
pub fn param(request: &Request, name: &str) -> Option<String> {
    request.params.iter().find(|p| p.name == name).map(|p| p.value.display())
}

/// What the program did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `qmig-transform bundle EXPORT --out OUT EXTRA...`, the sample's credentials passphrase
/// in its environment.
pub fn cli(export: &Path, out: &Path, extra: &[&str]) -> Run {
    let output = Command::new(cargo_bin("qmig-transform"))
        .env(qmig_transform::credentials::PASSPHRASE_ENV, SAMPLE_PASSPHRASE)
        .arg("bundle")
        .arg(export)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("qmig-transform runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
