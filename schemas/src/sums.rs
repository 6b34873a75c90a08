//! `SHA256SUMS` in the coreutils format (`<64 hex>  <path>\n`, sorted by path) and the bundle
//! digest, which is the SHA-256 of its exact bytes.

use std::io;

use sha2::{Digest as _, Sha256};

/// Prefix of every digest string, so the algorithm can change later without ambiguity.
pub const DIGEST_PREFIX: &str = "sha256:";

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The digest a reviewer approves: `sha256:` + the SHA-256 of the `SHA256SUMS` bytes.
pub fn bundle_digest(sums_bytes: &[u8]) -> String {
    format!("{DIGEST_PREFIX}{}", sha256_hex(sums_bytes))
}

/// A writer that hashes what goes through it, for files hashed as they are written.
pub struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: io::Write> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Hashing { inner, hasher: Sha256::new() }
    }

    /// The inner writer and the hex SHA-256 of everything written.
    pub fn finish(self) -> (W, String) {
        (self.inner, hex::encode(self.hasher.finalize()))
    }
}

impl<W: io::Write> io::Write for Hashing<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The hex SHA-256 of everything `reader` yields, read in blocks, never held whole.
pub fn sha256_stream(reader: impl io::Read) -> io::Result<String> {
    let mut hashing = Hashing::new(io::sink());
    io::copy(&mut io::BufReader::with_capacity(256 * 1024, reader), &mut hashing)?;
    Ok(hashing.finish().1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumLine {
    pub sha256: String,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SumsError {
    #[error("SHA256SUMS line {line}: expected `<64 lowercase hex digits>  <path>`")]
    Malformed { line: usize },
    #[error("SHA256SUMS line {line}: `{path}` is not a plain relative path inside the bundle")]
    UnsafePath { line: usize, path: String },
    #[error("SHA256SUMS line {line}: `{path}` is listed twice or out of order")]
    Order { line: usize, path: String },
    #[error("SHA256SUMS does not end with a newline")]
    NoFinalNewline,
}

/// Renders the lines sorted by path, as `sha256sum` would print them for those files.
pub fn render(lines: &[SumLine]) -> String {
    let mut sorted: Vec<&SumLine> = lines.iter().collect();
    sorted.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    sorted.iter().map(|l| format!("{}  {}\n", l.sha256, l.path)).collect()
}

/// Parses strictly: lowercase hex, two spaces (text mode), relative `/`-separated paths without
/// `.`/`..` components, sorted and unique, one final newline. Anything else is refused rather
/// than interpreted.
pub fn parse(text: &str) -> Result<Vec<SumLine>, SumsError> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(SumsError::NoFinalNewline);
    }
    let mut lines: Vec<SumLine> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let (hash, path) = raw.split_once("  ").ok_or(SumsError::Malformed { line })?;
        let hex_ok = hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex_ok {
            return Err(SumsError::Malformed { line });
        }
        if !is_safe_relative_path(path) {
            return Err(SumsError::UnsafePath { line, path: path.to_owned() });
        }
        if lines.last().is_some_and(|previous| previous.path.as_bytes() >= path.as_bytes()) {
            return Err(SumsError::Order { line, path: path.to_owned() });
        }
        lines.push(SumLine { sha256: hash.to_owned(), path: path.to_owned() });
    }
    Ok(lines)
}

/// A relative path made of ordinary components: no leading `/`, no `.` or `..`, no backslash,
/// no control characters, no empty component.
fn is_safe_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
        && path.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(path: &str) -> SumLine {
        SumLine { sha256: sha256_hex(path.as_bytes()), path: path.to_owned() }
    }

    #[test]
    fn render_sorts_and_parse_reads_back() {
        let lines = vec![line("manifest.json"), line("bodies/b.xml"), line("REVIEW.md")];
        let text = render(&lines);
        let parsed = parse(&text).expect("rendered sums parse");
        let paths: Vec<&str> = parsed.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(paths, ["REVIEW.md", "bodies/b.xml", "manifest.json"]);
    }

    #[test]
    fn digest_is_sha256_of_exact_bytes() {
        assert_eq!(bundle_digest(b""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn refuses_unsafe_paths_and_bad_lines() {
        let hash = "0".repeat(64);
        assert!(matches!(parse(&format!("{hash}  ../x\n")), Err(SumsError::UnsafePath { .. })));
        assert!(matches!(parse(&format!("{hash}  /etc/x\n")), Err(SumsError::UnsafePath { .. })));
        assert!(matches!(parse(&format!("{hash} *x\n")), Err(SumsError::Malformed { .. })));
        assert!(matches!(parse(&format!("{}  x\n", "A".repeat(64))), Err(SumsError::Malformed { .. })));
        assert!(matches!(parse(&format!("{hash}  b\n{hash}  a\n")), Err(SumsError::Order { .. })));
        assert!(matches!(parse(&format!("{hash}  a")), Err(SumsError::NoFinalNewline)));
    }
}
