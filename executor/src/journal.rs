//! The journal file: JSON lines (records in `qmig_schemas::journal`), append-only, held under an
//! exclusive lock while a run or a decision writes to it. Every record is synced to disk before
//! the executor acts on it.
//!
//! On open, an unterminated last line is the trace of a crash in the middle of a write: it was
//! never synced, so nothing was done on its account, and it is cut off. Anything else that does
//! not read as a record is corruption, and the journal is refused rather than guessed at.
//!
//! A journal can also lose whole records it once synced (restored from a backup, copied while a
//! run was writing, a file system that lost its tail), and a complete line can be edited. So a
//! small head file next to it (`<journal>.head`, see [`Head`]) is rewritten and synced after
//! every record with their count and chained hash. A journal whose synced records changed is
//! refused; one with fewer records than its head counts gets a `lost` record, after which every
//! request not proven done is probed (or left to the operator) before it is sent again.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use qmig_schemas::Manifest;
use qmig_schemas::journal::{
    HEADER_START, Head, Header, Integrity, JOURNAL_FORMAT, LineError, Lost, Record, chained, complete_lines,
};
use qmig_schemas::replay::Replayed;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}: another qmig-execute holds this journal's lock; wait for it to finish")]
    Locked(PathBuf),
    #[error("{path}: line {line} is corrupt ({problem}); the journal cannot be trusted, so nothing is sent")]
    Corrupt { path: PathBuf, line: usize, problem: String },
    #[error(
        "{path}: is not a qmig journal ({problem}); it was left untouched: pass --journal a new path or this bundle's journal"
    )]
    NotAJournal { path: PathBuf, problem: &'static str },
    #[error(
        "{path}: journal format {found}, but this executor reads format {JOURNAL_FORMAT}; finish it with an executor of format {found}"
    )]
    Format { path: PathBuf, found: u32 },
    #[error("{path}: belongs to bundle {journal}, not to this bundle ({bundle}); pass the right --journal")]
    OtherBundle { path: PathBuf, journal: String, bundle: String },
    #[error(
        "{path}: was started against {journal}, not {target}; a journal is never resumed against another target: \
         run with --target {journal}, or pass --journal a new path for a run against {target}"
    )]
    OtherTarget { path: PathBuf, journal: String, target: String },
    #[error(
        "{path}: its first {records} records are not those that were synced (its head {head} says otherwise): \
         records were edited, reordered or replaced, so nothing is sent; restore the journal that goes with the head"
    )]
    Edited { path: PathBuf, head: PathBuf, records: u64 },
    #[error(
        "{path}: holds records but its head {head} is missing, so it cannot be proven complete and nothing is sent; \
         restore the head next to it"
    )]
    HeadMissing { path: PathBuf, head: PathBuf },
    #[error("{path}: {problem}; nothing is sent")]
    BadHead { path: PathBuf, problem: String },
    #[error("{0}: no journal here; nothing has been run for this bundle yet")]
    Missing(PathBuf),
    #[error("no default journal location: set XDG_STATE_HOME or HOME, or pass --journal")]
    NoDefaultLocation,
}

/// An open journal, locked exclusively until dropped.
#[derive(Debug)]
pub struct Journal {
    file: File,
    head: File,
    path: PathBuf,
    records: Vec<Record>,
    chain: [u8; 32],
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

/// `<journal>.head`.
pub fn head_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".head");
    PathBuf::from(name)
}

impl Journal {
    /// Opens the journal for a run, creating it with `header` when it does not exist, and
    /// refuses one that belongs to another bundle, target or journal format.
    pub fn open_for_run(path: &Path, header: &Header) -> Result<Journal, JournalError> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let made: Vec<&Path> = dir.ancestors().take_while(|d| !d.as_os_str().is_empty() && !d.exists()).collect();
        fs::create_dir_all(dir).map_err(|source| JournalError::Io { path: dir.to_path_buf(), source })?;
        let journal = Self::open_locked(path, &header.bundle_digest, Some(header))?;
        if journal.records.len() == 1 {
            // The new file's directory entry, and those of the directories made for it, must
            // survive a crash as well as its content.
            for dir in std::iter::once(dir).chain(made.iter().filter_map(|d| d.parent())) {
                let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
                File::open(dir).and_then(|d| d.sync_all()).map_err(|source| journal.io(source))?;
            }
        }
        Ok(journal)
    }

    /// Opens an existing journal of `digest` exclusively, to record a decision.
    pub fn open_existing(path: &Path, digest: &str) -> Result<Journal, JournalError> {
        if !path.is_file() {
            return Err(JournalError::Missing(path.to_path_buf()));
        }
        Self::open_locked(path, digest, None)
    }

    /// Reads a journal without locking or repairing it (for `status`, which may run while a
    /// run holds the lock): an unterminated last line is ignored, records lost since the head
    /// was synced are marked as such. Also tells whether a run holds the lock right now.
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
        let (mut records, complete_len) = parse_lines(path, &bytes)?;
        // Shown as the next run will see it. A run under way checked it when it started, and its
        // head may be a line ahead of what was read.
        let lost = if running { None } else { check_head(path, &head_path(path), &bytes[..complete_len])? };
        match records.first() {
            Some(Record::Header(found)) => check_header(path, found, digest, None)?,
            _ if lost.is_some() => {}
            _ => return Err(JournalError::Missing(path.to_path_buf())),
        }
        if let Some((synced, found, synced_at)) = lost {
            records.push(Record::Lost(Lost { synced, found, synced_at, at: crate::run::now() }));
        }
        Ok((records, running))
    }

    /// Opens, locks and checks the journal, and its head, before anything in them is changed:
    /// `new` is the header of a journal a run may start; without it the journal must exist.
    fn open_locked(path: &Path, digest: &str, new: Option<&Header>) -> Result<Journal, JournalError> {
        let io = |source| JournalError::Io { path: path.to_path_buf(), source };
        let not_a_journal = |problem| JournalError::NotAJournal { path: path.to_path_buf(), problem };
        if fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(not_a_journal("not a regular file"));
        }
        let file = private_options().read(true).append(true).create(new.is_some()).open(path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(JournalError::Locked(path.to_path_buf())),
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let bytes = read_all(&file).map_err(io)?;
        let start = &bytes[..bytes.len().min(HEADER_START.len())];
        if !HEADER_START.starts_with(start) {
            return Err(not_a_journal("its first line is not a journal header"));
        }
        let (records, complete_len) = parse_lines(path, &bytes)?;
        match (records.first(), new) {
            (Some(Record::Header(found)), _) => check_header(path, found, digest, new)?,
            (_, None) => return Err(JournalError::Missing(path.to_path_buf())),
            _ => {}
        }
        let head_path = head_path(path);
        let lost = check_head(path, &head_path, &bytes[..complete_len])?;
        if complete_len < bytes.len() {
            file.set_len(complete_len as u64).and_then(|()| file.sync_all()).map_err(io)?;
        }
        let head = private_options().read(true).write(true).create(true).truncate(false).open(&head_path);
        let head = head.map_err(|source| JournalError::Io { path: head_path.clone(), source })?;
        let mut journal = Journal { file, head, path: path.to_path_buf(), records: Vec::new(), chain: [0; 32] };
        for (line, record) in complete_lines(&bytes[..complete_len]).zip(records) {
            journal.chain = chained(&journal.chain, line);
            journal.records.push(record);
        }
        if let Some(header) = new.filter(|_| journal.records.is_empty()) {
            journal.append(&Record::Header(header.clone()))?;
        }
        if let Some((synced, found, synced_at)) = lost {
            journal.append(&Record::Lost(Lost { synced, found, synced_at, at: crate::run::now() }))?;
        }
        Ok(journal)
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Appends one record as one line and syncs it, then the head, to disk before returning.
    pub fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        let mut line = serde_json::to_vec(record).map_err(|e| self.io(io::Error::other(e)))?;
        self.chain = chained(&self.chain, &line);
        line.push(b'\n');
        self.file.write_all(&line).and_then(|()| self.file.sync_data()).map_err(|source| self.io(source))?;
        self.records.push(record.clone());
        let head = Head {
            journal_format: JOURNAL_FORMAT,
            records: self.records.len() as u64,
            chain: hex::encode(self.chain),
            at: crate::run::now(),
        };
        let written = self.head.rewind().and_then(|()| self.head.write_all(head.to_line().as_bytes()));
        written
            .and_then(|()| self.head.sync_data())
            .map_err(|source| JournalError::Io { path: head_path(&self.path), source })
    }

    fn io(&self, source: io::Error) -> JournalError {
        JournalError::Io { path: self.path.clone(), source }
    }
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    // Captured values (a new appliance's activation code, a generated login) are for the
    // operator's eyes only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Compares the complete lines with the head: `Some((synced, found, synced_at))` when lines
/// the head counts are missing; an error when the lines it counts are not those it hashed.
fn check_head(path: &Path, head_path: &Path, complete: &[u8]) -> Result<Option<(u64, u64, u64)>, JournalError> {
    let text = match fs::read_to_string(head_path) {
        Ok(text) => text,
        // A crash between the header line and the first head leaves a journal that sent nothing.
        Err(e) if e.kind() == io::ErrorKind::NotFound && complete_lines(complete).nth(1).is_none() => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(JournalError::HeadMissing { path: path.to_path_buf(), head: head_path.to_path_buf() });
        }
        Err(source) => return Err(JournalError::Io { path: head_path.to_path_buf(), source }),
    };
    let head =
        Head::parse(&text).map_err(|problem| JournalError::BadHead { path: head_path.to_path_buf(), problem })?;
    match head.check(complete) {
        Integrity::Intact => Ok(None),
        Integrity::Lost { synced, found, synced_at } => Ok(Some((synced, found, synced_at))),
        Integrity::Edited { records } => {
            Err(JournalError::Edited { path: path.to_path_buf(), head: head_path.to_path_buf(), records })
        }
    }
}

fn check_header(path: &Path, found: &Header, digest: &str, new: Option<&Header>) -> Result<(), JournalError> {
    let path = path.to_path_buf();
    if found.journal_format != JOURNAL_FORMAT {
        return Err(JournalError::Format { path, found: found.journal_format });
    }
    if found.bundle_digest != digest {
        let (journal, bundle) = (found.bundle_digest.clone(), digest.to_owned());
        return Err(JournalError::OtherBundle { path, journal, bundle });
    }
    match new {
        Some(new) if new.target != found.target => {
            Err(JournalError::OtherTarget { path, journal: found.target.clone(), target: new.target.clone() })
        }
        _ => Ok(()),
    }
}

fn read_all(mut file: &File) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The records of every complete line and their length, or the first line that is corrupt.
fn parse_lines(path: &Path, bytes: &[u8]) -> Result<(Vec<Record>, usize), JournalError> {
    qmig_schemas::journal::parse_lines(bytes).map_err(corrupt(path))
}

fn corrupt(path: &Path) -> impl FnOnce(LineError) -> JournalError + '_ {
    |e| JournalError::Corrupt { path: path.to_path_buf(), line: e.line, problem: e.problem }
}

/// Where each request stands according to the records (see `qmig_schemas::replay`); a record no
/// run writes in its place is corruption.
pub fn replay(path: &Path, manifest: &Manifest, records: &[Record]) -> Result<Replayed, JournalError> {
    qmig_schemas::replay::replay(manifest, records).map_err(corrupt(path))
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
    fn refuses_another_bundle_target_or_format_but_not_another_executor_version() {
        let (_dir, path, _) = written(1);
        let mut other = header();
        other.bundle_digest = format!("sha256:{}", "e".repeat(64));
        assert!(matches!(Journal::open_for_run(&path, &other), Err(JournalError::OtherBundle { .. })));
        let mut other = header();
        other.target = "https://qualysapi.qualys.com".into();
        let refused = Journal::open_for_run(&path, &other).expect_err("another target");
        assert!(refused.to_string().contains("--journal"), "{refused}");
        let mut patched = header();
        patched.executor_version = "0.1.1".into();
        assert_eq!(Journal::open_for_run(&path, &patched).expect("a patched executor resumes").records().len(), 2);
        let old = fs::read_to_string(&path).expect("reads").replacen("\"journal_format\":2", "\"journal_format\":1", 1);
        fs::write(&path, old).expect("writes");
        assert!(matches!(Journal::open_for_run(&path, &header()), Err(JournalError::Format { found: 1, .. })));
    }

    #[cfg(unix)]
    #[test]
    fn a_new_journal_and_its_head_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let (_dir, path, _) = written(0);
        for file in [path.clone(), head_path(&path)] {
            assert_eq!(fs::metadata(&file).expect("metadata").permissions().mode() & 0o777, 0o600);
        }
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

    #[test]
    fn a_file_that_is_not_a_journal_is_refused_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        for content in [&b"no newline at all"[..], b"{\"some\":\"json\"}\n", b"\x00\x01", b"# notes\nline\n"] {
            let path = dir.path().join("notes.txt");
            fs::write(&path, content).expect("writes");
            let refused = Journal::open_for_run(&path, &header());
            assert!(matches!(refused, Err(JournalError::NotAJournal { .. })), "{refused:?}");
            assert_eq!(fs::read(&path).expect("reads"), content, "left untouched");
            assert!(!head_path(&path).exists(), "no head written");
        }
        let refused = Journal::open_for_run(dir.path(), &header());
        assert!(matches!(refused, Err(JournalError::NotAJournal { problem: "not a regular file", .. })));
    }

    #[test]
    fn a_journal_without_its_head_or_with_edited_records_is_refused() {
        let (_dir, path, bytes) = written(3);
        let edited = String::from_utf8(bytes.clone()).expect("utf-8").replace("\"at\":2", "\"at\":9");
        fs::write(&path, edited).expect("writes");
        assert!(matches!(Journal::open_for_run(&path, &header()), Err(JournalError::Edited { records: 4, .. })));
        fs::write(&path, &bytes).expect("writes");
        fs::remove_file(head_path(&path)).expect("removes the head");
        assert!(matches!(Journal::open_for_run(&path, &header()), Err(JournalError::HeadMissing { .. })));
    }

    #[test]
    fn a_deleted_journal_whose_head_remains_lost_every_record() {
        let (_dir, path, _) = written(3);
        fs::remove_file(&path).expect("removes");
        let journal = Journal::open_for_run(&path, &header()).expect("opens");
        let lost = journal.records().iter().find_map(|r| if let Record::Lost(l) = r { Some(l.clone()) } else { None });
        assert_eq!(lost.map(|l| (l.synced, l.found)), Some((4, 0)));
    }

    proptest! {
        /// A line being written when the run died (never synced, so not in the head) is cut
        /// off, and nothing is reported lost.
        #[test]
        fn a_torn_last_line_is_repaired(torn in 1usize..60) {
            let (_dir, path, bytes) = written(3);
            let mut with_torn = bytes.clone();
            let next = serde_json::to_vec(&intent(4)).expect("json");
            with_torn.extend_from_slice(&next[..torn.min(next.len())]);
            fs::write(&path, &with_torn).expect("writes");
            let journal = Journal::open_for_run(&path, &header()).expect("repairs");
            prop_assert_eq!(journal.records().len(), 4);
            drop(journal);
            prop_assert_eq!(fs::read(&path).expect("reads"), bytes);
        }

        /// Cutting the file anywhere (a lost tail, a copy taken mid-run) keeps every complete
        /// line and records how many of the synced ones are missing.
        #[test]
        fn records_lost_from_the_tail_are_recorded_as_lost(cut in 0usize..400) {
            let (_dir, path, bytes) = written(3);
            let cut = cut.min(bytes.len() - 1);
            fs::write(&path, &bytes[..cut]).expect("truncates");
            let complete = bytes[..cut].iter().filter(|&&b| b == b'\n').count() as u64;
            let journal = Journal::open_for_run(&path, &header()).expect("opens");
            let lost = journal.records().iter().find_map(|r| if let Record::Lost(l) = r { Some(l.clone()) } else { None });
            prop_assert_eq!(lost.map(|l| (l.synced, l.found)), Some((4, complete)));
        }

        /// Damage to any complete line is refused, naming the line (or, for the header, the
        /// file).
        #[test]
        fn corruption_elsewhere_is_refused(line in 0usize..4, at in 0usize..200) {
            let (_dir, path, bytes) = written(3);
            let starts: Vec<usize> = std::iter::once(0)
                .chain(bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1))
                .collect();
            let (start, end) = (starts[line], starts[line + 1] - 1);
            let mut damaged = bytes.clone();
            damaged.insert(start + 1 + at % (end - start - 1), 0);
            fs::write(&path, &damaged).expect("writes");
            let refused = Journal::open_for_run(&path, &header());
            let is_corrupt = matches!(refused, Err(JournalError::Corrupt { line: l, .. }) if l == line + 1);
            // A damaged header may no longer read as the start of a journal at all.
            let not_a_journal = line == 0 && matches!(refused, Err(JournalError::NotAJournal { .. }));
            prop_assert!(is_corrupt || not_a_journal);
        }
    }
}
