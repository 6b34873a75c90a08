//! Writing a bundle: every file and `SHA256SUMS` go into a temporary directory beside the target,
//! which is renamed into place only when complete, so a failure never leaves half a bundle.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::manifest::{MANIFEST_FILE, Manifest, REQUESTS_FILE, REVIEW_FILE, SUMS_FILE};
use crate::sums::{self, SumLine};
use crate::verify::{VerifyError, verify_sums};

/// Everything a bundle holds, before it is written.
#[derive(Debug, Clone)]
pub struct BundleContents {
    pub manifest: Manifest,
    pub review: String,
    /// `requests.tsv`: one line per request, for tools.
    pub requests_table: String,
    /// Body files by their path inside the bundle (`bodies/...`).
    pub bodies: Vec<(String, Vec<u8>)>,
    /// The operator's encrypted credentials file, when requests refer to secrets; written under
    /// the manifest's `secrets.file`.
    pub secrets: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0} already exists; pass --force to replace it")]
    Exists(PathBuf),
    #[error("{} exists and is not a complete qmig bundle ({reason}); refusing to replace it even with --force", path.display())]
    NotABundle { path: PathBuf, reason: VerifyError },
    #[error("cannot write {}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "interrupted while the bundle was written: its unfinished copy {} was removed and {} was left as it was",
        staging.display(),
        out.display()
    )]
    Interrupted { staging: PathBuf, out: PathBuf },
}

/// Writes the bundle to `out` and returns its digest. An existing `out` is replaced only with
/// `force`, and only when it is itself a complete bundle (or empty).
pub fn write_bundle(out: &Path, contents: &BundleContents, force: bool) -> Result<String, WriteError> {
    write_bundle_interruptible(out, contents, force, &AtomicBool::new(false))
}

/// `write_bundle` that stops when `interrupted` is set (by a signal handler) before the bundle
/// is renamed into place: the staging directory is removed and `out` is left as it was. Once
/// the rename has begun, the bundle is completed, since stopping half-way through replacing an
/// old bundle would leave neither.
pub fn write_bundle_interruptible(
    out: &Path,
    contents: &BundleContents,
    force: bool,
    interrupted: &AtomicBool,
) -> Result<String, WriteError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    let replacing = out.exists();
    if replacing {
        if !force {
            return Err(WriteError::Exists(out.to_path_buf()));
        }
        replaceable(out)?;
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let staging = tempfile::Builder::new().prefix(".qmig-bundle-").tempdir_in(&parent).map_err(io_err(&parent))?;
    let stop = |staging: tempfile::TempDir| {
        let path = staging.path().to_path_buf();
        match staging.close() {
            Ok(()) => WriteError::Interrupted { staging: path, out: out.to_path_buf() },
            Err(source) => WriteError::Io { path, source },
        }
    };
    let mut staged = Staged { root: staging.path(), sums: Vec::new() };
    staged.file(MANIFEST_FILE, |w| {
        serde_json::to_writer_pretty(&mut *w, &contents.manifest).map_err(io::Error::from)?;
        w.write_all(b"\n")
    })?;
    staged.file(REVIEW_FILE, |w| w.write_all(contents.review.as_bytes()))?;
    staged.file(REQUESTS_FILE, |w| w.write_all(contents.requests_table.as_bytes()))?;
    for (relative, bytes) in &contents.bodies {
        if interrupted.load(Ordering::SeqCst) {
            return Err(stop(staging));
        }
        staged.file(relative, |w| w.write_all(bytes))?;
    }
    if let (Some(declared), Some(secrets)) = (&contents.manifest.secrets, &contents.secrets) {
        staged.file(&declared.file, |w| w.write_all(secrets))?;
    }
    let sums_text = sums::render(&staged.sums);
    let digest = sums::bundle_digest(sums_text.as_bytes());
    staged.file(SUMS_FILE, |w| w.write_all(sums_text.as_bytes()))?;
    // One flush of the whole file system instead of one per file: a bundle holds a file per
    // body, and a sync each made writing it cost more than building it.
    durable(staging.path())?;
    if interrupted.load(Ordering::SeqCst) {
        return Err(stop(staging));
    }

    let staged = staging.keep();
    let result = if replacing {
        tempfile::Builder::new()
            .prefix(".qmig-old-")
            .tempdir_in(&parent)
            .map(tempfile::TempDir::keep)
            .and_then(|old| fs::remove_dir(&old).map(|()| old))
            .and_then(|old| fs::rename(out, &old).map(|()| old))
            .and_then(|old| fs::rename(&staged, out).and_then(|()| fs::remove_dir_all(&old)))
            .map_err(io_err(out))
    } else {
        fs::rename(&staged, out).map_err(io_err(out))
    };
    if result.is_err() {
        let _ = fs::remove_dir_all(&staged);
    }
    result?;
    File::open(&parent).and_then(|d| d.sync_all()).map_err(io_err(&parent))?;
    Ok(digest)
}

/// Whether `--force` may replace `out`: only a complete bundle, whose `SHA256SUMS` lists
/// exactly its files with their hashes, so that nothing the operator added or edited there is
/// lost; or an empty directory, which holds nothing to lose.
fn replaceable(out: &Path) -> Result<(), WriteError> {
    let refused = |reason| WriteError::NotABundle { path: out.to_path_buf(), reason };
    // A link would be replaced itself, not the bundle it points to.
    if !fs::symlink_metadata(out).is_ok_and(|m| m.is_dir()) {
        return Err(refused(VerifyError::NotADirectory(out.to_path_buf())));
    }
    if fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_none()) {
        return Ok(());
    }
    verify_sums(out, |_| false).map(drop).map_err(refused)
}

/// The staging directory as it is filled: every file is hashed while it is written, so no
/// file is read back or held twice.
struct Staged<'a> {
    root: &'a Path,
    sums: Vec<SumLine>,
}

impl Staged<'_> {
    fn file(
        &mut self,
        relative: &str,
        write: impl FnOnce(&mut BufWriter<sums::Hashing<File>>) -> io::Result<()>,
    ) -> Result<(), WriteError> {
        let path = self.root.join(relative);
        let io_err = |source| WriteError::Io { path: path.clone(), source };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|source| WriteError::Io { path: dir.to_path_buf(), source })?;
        }
        let file = File::create(&path).map_err(io_err)?;
        let mut writer = BufWriter::with_capacity(256 * 1024, sums::Hashing::new(file));
        write(&mut writer).map_err(io_err)?;
        let (_, sha256) = writer.into_inner().map_err(|e| io_err(e.into_error()))?.finish();
        self.sums.push(SumLine { sha256, path: relative.to_owned() });
        Ok(())
    }
}

/// Puts every file and directory of `root` on disk before it is renamed into place.
#[cfg(target_os = "linux")]
fn durable(root: &Path) -> Result<(), WriteError> {
    let dir = File::open(root).map_err(|source| WriteError::Io { path: root.to_path_buf(), source })?;
    rustix::fs::syncfs(&dir).map_err(|e| WriteError::Io { path: root.to_path_buf(), source: e.into() })
}

/// Puts every file and directory of `root` on disk before it is renamed into place (one sync
/// per file where no file-system-wide sync exists).
#[cfg(not(target_os = "linux"))]
fn durable(root: &Path) -> Result<(), WriteError> {
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let io_err = |source| WriteError::Io { path: dir.clone(), source };
        for entry in fs::read_dir(&dir).map_err(io_err)? {
            let path = entry.map_err(io_err)?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                File::open(&path).and_then(|f| f.sync_all()).map_err(|source| WriteError::Io { path, source })?;
            }
        }
        File::open(&dir).and_then(|d| d.sync_all()).map_err(io_err)?;
    }
    Ok(())
}
