//! The journal file: JSON lines (records in `qmig_schemas::journal`), append-only, held under an
//! exclusive lock while a run or a decision writes to it. Every record is synced to disk before
//! the executor acts on it.
//!
//! On open, an unterminated last line is the trace of a crash in the middle of a write: it was
//! never synced, so nothing was done on its account, and it is cut off. Anything else that does
//! not read as a record is corruption, and the journal is refused rather than guessed at.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use qmig_schemas::journal::{Header, JOURNAL_FORMAT, Record};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}: another qmig-execute holds this journal's lock; wait for it to finish")]
    Locked(PathBuf),
    #[error("{path}: line {line} is corrupt ({problem}); the journal cannot be trusted, so nothing is sent")]
    Corrupt { path: PathBuf, line: usize, problem: String },
    #[error("{path}: belongs to bundle {journal}, not to this bundle ({bundle}); pass the right --journal")]
    OtherBundle { path: PathBuf, journal: String, bundle: String },
    #[error("{path}: was started against {journal}, not {target}; a journal is never resumed against another target")]
    OtherTarget { path: PathBuf, journal: String, target: String },
    #[error(
        "{path}: was started by {journal}, not {this}; finish the run with the executor that started it, or start a new journal"
    )]
    OtherExecutor { path: PathBuf, journal: String, this: String },
    #[error("{0}: no journal here; nothing has been run for this bundle yet")]
    Missing(PathBuf),
    #[error("no default journal location: set XDG_STATE_HOME or HOME, or pass --journal")]
    NoDefaultLocation,
}

/// An open journal, locked exclusively until dropped.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    records: Vec<Record>,
}

/// The journal of the bundle with `digest`: `given` (`--journal`), or by default
/// `$XDG_STATE_HOME/qmig/journals/<digest hex>.jsonl`, or `~/.local/state/qmig/journals/...`.
/// Outside the bundle, so the bundle stays exactly what was approved.
pub fn path(given: Option<&Path>, digest: &str) -> Result<PathBuf, JournalError> {
    if let Some(given) = given {
        return Ok(given.to_path_buf());
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".local/state")))
        .ok_or(JournalError::NoDefaultLocation)?;
    let hex = digest.strip_prefix(qmig_schemas::DIGEST_PREFIX).unwrap_or(digest);
    Ok(state.join("qmig").join("journals").join(format!("{hex}.jsonl")))
}

impl Journal {
    /// Opens the journal for a run, creating it with `header` when it does not exist, and
    /// refuses one that belongs to another bundle, target or executor version.
    pub fn open_for_run(path: &Path, header: &Header) -> Result<Journal, JournalError> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let made: Vec<&Path> = dir.ancestors().take_while(|d| !d.as_os_str().is_empty() && !d.exists()).collect();
        fs::create_dir_all(dir).map_err(|source| JournalError::Io { path: dir.to_path_buf(), source })?;
        let mut journal = Self::open_locked(path, true)?;
        match journal.records.first() {
            Some(Record::Header(found)) => {
                let path = path.to_path_buf();
                check_bundle(&path, found, &header.bundle_digest)?;
                if found.target != header.target {
                    let (journal, target) = (found.target.clone(), header.target.clone());
                    return Err(JournalError::OtherTarget { path, journal, target });
                }
                if (&found.executor, &found.executor_version) != (&header.executor, &header.executor_version) {
                    let journal = format!("{} {}", found.executor, found.executor_version);
                    let this = format!("{} {}", header.executor, header.executor_version);
                    return Err(JournalError::OtherExecutor { path, journal, this });
                }
            }
            // Empty (new, or only a torn first line): parse_lines guarantees a header otherwise.
            _ => {
                journal.append(&Record::Header(header.clone()))?;
                // The new file's directory entry, and those of the directories made for it, must
                // survive a crash as well as its content.
                for dir in std::iter::once(dir).chain(made.iter().filter_map(|d| d.parent())) {
                    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
                    File::open(dir).and_then(|d| d.sync_all()).map_err(|source| journal.io(source))?;
                }
            }
        }
        Ok(journal)
    }

    /// Opens an existing journal of `digest` exclusively, to record a decision.
    pub fn open_existing(path: &Path, digest: &str) -> Result<Journal, JournalError> {
        if !path.is_file() {
            return Err(JournalError::Missing(path.to_path_buf()));
        }
        let journal = Self::open_locked(path, false)?;
        match journal.records.first() {
            Some(Record::Header(found)) => check_bundle(path, found, digest)?,
            _ => return Err(JournalError::Missing(path.to_path_buf())),
        }
        Ok(journal)
    }

    /// Reads a journal without locking or repairing it (for `status`, which may run while a
    /// run holds the lock): an unterminated last line is ignored. Also tells whether a run
    /// holds the lock right now.
    pub fn read(path: &Path, digest: &str) -> Result<(Vec<Record>, bool), JournalError> {
        let io = |source| JournalError::Io { path: path.to_path_buf(), source };
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(JournalError::Missing(path.to_path_buf())),
            Err(e) => return Err(io(e)),
        };
        let running = match file.try_lock_shared() {
            // Released at once: while held, a run starting now would be refused as locked out.
            Ok(()) => {
                file.unlock().map_err(io)?;
                false
            }
            Err(fs::TryLockError::WouldBlock) => true,
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        };
        let bytes = read_all(&file).map_err(io)?;
        let (records, _) = parse_lines(path, &bytes)?;
        match records.first() {
            Some(Record::Header(found)) => check_bundle(path, found, digest)?,
            _ => return Err(JournalError::Missing(path.to_path_buf())),
        }
        Ok((records, running))
    }

    fn open_locked(path: &Path, create: bool) -> Result<Journal, JournalError> {
        let io = |source| JournalError::Io { path: path.to_path_buf(), source };
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(create);
        // Captured values (a new appliance's activation code, a generated login) are for the
        // operator's eyes only.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(JournalError::Locked(path.to_path_buf())),
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let bytes = read_all(&file).map_err(io)?;
        let (records, complete_len) = parse_lines(path, &bytes)?;
        if complete_len < bytes.len() {
            file.set_len(complete_len as u64).and_then(|()| file.sync_all()).map_err(io)?;
        }
        Ok(Journal { file, path: path.to_path_buf(), records })
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Appends one record as one line and syncs it to disk before returning.
    pub fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        let mut line = serde_json::to_vec(record).map_err(|e| self.io(io::Error::other(e)))?;
        line.push(b'\n');
        self.file.write_all(&line).and_then(|()| self.file.sync_data()).map_err(|source| self.io(source))?;
        self.records.push(record.clone());
        Ok(())
    }

    fn io(&self, source: io::Error) -> JournalError {
        JournalError::Io { path: self.path.clone(), source }
    }
}

fn check_bundle(path: &Path, found: &Header, digest: &str) -> Result<(), JournalError> {
    if found.bundle_digest == digest {
        return Ok(());
    }
    let (journal, bundle) = (found.bundle_digest.clone(), digest.to_owned());
    Err(JournalError::OtherBundle { path: path.to_path_buf(), journal, bundle })
}

fn read_all(mut file: &File) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The records of every complete line, and the length of those lines. The first record must be
/// the only header, of a known journal format.
fn parse_lines(path: &Path, bytes: &[u8]) -> Result<(Vec<Record>, usize), JournalError> {
    let complete_len = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut records = Vec::new();
    for (index, line) in bytes[..complete_len].split_inclusive(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        let line = &line[..line.len() - 1];
        let corrupt = |problem: String| JournalError::Corrupt { path: path.to_path_buf(), line: number, problem };
        let record: Record = serde_json::from_slice(line).map_err(|e| corrupt(e.to_string()))?;
        match (&record, number) {
            (Record::Header(h), 1) if h.journal_format != JOURNAL_FORMAT => {
                return Err(corrupt(format!("journal format {} is not supported", h.journal_format)));
            }
            (Record::Header(_), 1) => {}
            (Record::Header(_), _) => return Err(corrupt("a second header".to_owned())),
            (_, 1) => return Err(corrupt("the first line is not a header".to_owned())),
            _ => {}
        }
        records.push(record);
    }
    Ok((records, complete_len))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use qmig_schemas::journal::{Intent, SendReason};

    use super::*;

    fn header() -> Header {
        Header {
            journal_format: JOURNAL_FORMAT,
            bundle_digest: format!("sha256:{}", "d".repeat(64)),
            executor: "qmig-execute".into(),
            executor_version: "0.1.0".into(),
            target: "https://qualysapi.qualys.eu".into(),
            at: 0,
        }
    }

    fn intent(seq: u64) -> Record {
        Record::Intent(Intent { seq, id: format!("r/{seq}"), attempt: 1, reason: SendReason::First, at: seq })
    }

    fn written(records: usize) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state/journals/j.jsonl");
        let mut journal = Journal::open_for_run(&path, &header()).expect("creates, and its directories");
        for seq in 1..=records as u64 {
            journal.append(&intent(seq)).expect("appends");
        }
        drop(journal);
        let bytes = fs::read(&path).expect("reads");
        (dir, path, bytes)
    }

    #[test]
    fn refuses_another_bundle_target_or_executor() {
        let (_dir, path, _) = written(1);
        let mut other = header();
        other.bundle_digest = format!("sha256:{}", "e".repeat(64));
        assert!(matches!(Journal::open_for_run(&path, &other), Err(JournalError::OtherBundle { .. })));
        let mut other = header();
        other.target = "https://qualysapi.qualys.com".into();
        assert!(matches!(Journal::open_for_run(&path, &other), Err(JournalError::OtherTarget { .. })));
        let mut other = header();
        other.executor_version = "9.9.9".into();
        assert!(matches!(Journal::open_for_run(&path, &other), Err(JournalError::OtherExecutor { .. })));
        assert_eq!(Journal::open_for_run(&path, &header()).expect("reopens").records().len(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn a_new_journal_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let (_dir, path, _) = written(0);
        assert_eq!(fs::metadata(&path).expect("metadata").permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_second_opener_is_locked_out() {
        let (_dir, path, _) = written(0);
        let held = Journal::open_for_run(&path, &header()).expect("opens");
        assert!(matches!(Journal::open_for_run(&path, &header()), Err(JournalError::Locked(_))));
        assert!(Journal::read(&path, &header().bundle_digest).expect("reads").1, "status sees the run");
        drop(held);
        assert!(Journal::open_for_run(&path, &header()).is_ok());
    }

    proptest! {
        /// Cutting the file anywhere (a crash during a write) loses at most the line being
        /// written, and the journal opens with every complete line.
        #[test]
        fn a_torn_last_line_is_repaired(cut in 0usize..400) {
            let (_dir, path, bytes) = written(3);
            let cut = cut.min(bytes.len());
            fs::write(&path, &bytes[..cut]).expect("truncates");
            let complete_lines = bytes[..cut].iter().filter(|&&b| b == b'\n').count();
            let journal = Journal::open_for_run(&path, &header()).expect("repairs");
            prop_assert_eq!(journal.records().len(), complete_lines.max(1));
            drop(journal);
            let repaired = fs::read(&path).expect("reads");
            prop_assert!(repaired.ends_with(b"\n"));
            prop_assert!(bytes.starts_with(&repaired));
        }

        /// Damage to any complete line is refused, naming the line.
        #[test]
        fn corruption_elsewhere_is_refused(line in 0usize..4, at in 0usize..200) {
            let (_dir, path, bytes) = written(3);
            let starts: Vec<usize> = std::iter::once(0)
                .chain(bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1))
                .collect();
            let (start, end) = (starts[line], starts[line + 1] - 1);
            let mut damaged = bytes.clone();
            damaged.insert(start + at % (end - start), 0);
            fs::write(&path, &damaged).expect("writes");
            let refused = Journal::open_for_run(&path, &header());
            let is_corrupt = matches!(refused, Err(JournalError::Corrupt { line: l, .. }) if l == line + 1);
            prop_assert!(is_corrupt);
        }
    }
}
