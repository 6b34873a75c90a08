//! The operator's credentials file: the secrets of authentication records, which no Qualys
//! export holds. One implementation for both sides: the transformer opens it to check it and to
//! correlate rows with records (detecting how it was encrypted), the executor opens it at send
//! time as the manifest declares. Neither ever writes it in plaintext.
//!
//! Plaintext, before the operator encrypts it: CSV with the header [`HEADER`] and one row per
//! secret parameter. A row names either a record title or a username, never both.
//!
//! Encrypted, with a passphrase, either by `age -p` (binary or `-a` armored) or by
//! `openssl enc -aes-256-cbc -pbkdf2 -salt [-iter N]`. OpenSSL's file does not say its iteration
//! count: [`open`] tries [`OPENSSL_ITERATIONS`] and accepts the count whose plaintext has valid
//! padding and starts with the header; the manifest records it so [`open_as`] does not search.
//!
//! Every plaintext byte is held in [`Zeroizing`] buffers that are sized once (so no reallocation
//! leaves a copy behind) and wiped when dropped. Errors name lines, never values.

use std::collections::BTreeMap;
use std::io::Read as _;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt as _, KeyIvInit as _};
use age::secrecy::SecretString;
use zeroize::Zeroizing;

use crate::manifest::{SecretName, SecretsFormat, Selector};

/// The exact first line of the plaintext.
pub const HEADER: &str = "type,title,username,parameter,value";

/// The highest scrypt work factor (log2 N) accepted by default. `age -p` uses 18; 20 needs
/// 1 GiB of memory and a few seconds, so a file from a fast laptop opens on a slow server.
pub const DEFAULT_MAX_WORK_FACTOR: u8 = 20;

/// OpenSSL's default iteration count for `-pbkdf2`, then counts that guides and OWASP
/// recommend, in the order they are tried.
pub const OPENSSL_ITERATIONS: [u32; 6] = [10_000, 100_000, 200_000, 310_000, 600_000, 1_000_000];

const OPENSSL_MAGIC: &[u8] = b"Salted__";
const OPENSSL_SALT_LEN: usize = 8;
/// `Salted__` in base64, how `openssl enc -a` output starts.
const OPENSSL_BASE64_MAGIC: &[u8] = b"U2FsdGVkX1";
const AGE_MAGIC: &[u8] = b"age-encryption.org/";
const AGE_ARMOR_BEGIN: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
const UTF8_BOM: &str = "\u{feff}";

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "not encrypted: this is the plaintext CSV; encrypt it with `age -p` or \
         `openssl enc -aes-256-cbc -pbkdf2 -salt` (see INPUTS.md) and delete the plaintext"
    )]
    Plaintext,
    #[error(
        "not encrypted as qmig reads it: neither an age file nor an `openssl enc` file (`Salted__`); see INPUTS.md"
    )]
    NotEncrypted,
    #[error("an `openssl enc -a` (base64) file: encrypt again without -a, or decode it with `openssl base64 -d`")]
    Base64,
    #[error("an age file encrypted to public keys, not with a passphrase (`age -p`)")]
    NotPassphraseEncrypted,
    #[error("the passphrase is wrong")]
    WrongPassphrase,
    #[error(
        "the passphrase is wrong, or `openssl enc` was given an -iter other than {tried} \
         (give it with --credentials-iter)"
    )]
    NoIterationMatches { tried: String },
    #[error(
        "encrypted with scrypt work factor {required}, above the accepted maximum {max} \
         (raise --max-work-factor if this is expected)"
    )]
    ExcessiveWork { required: u8, max: u8 },
    #[error("cannot be decrypted: {0}")]
    Unreadable(String),
    #[error("is encrypted as {found}, but the manifest declares {declared}")]
    FormatMismatch { declared: SecretsFormat, found: &'static str },
    #[error("line {line}: the decrypted text is not UTF-8")]
    NotUtf8 { line: u64 },
    #[error("line 1: the header must be exactly `{HEADER}`")]
    Header,
    #[error("line {line}: {problem}")]
    Row { line: u64, problem: RowProblem },
    #[error("lines {first} and {second} both give `{name}`; keep one")]
    Duplicate { first: u64, second: u64, name: String },
}

/// What is wrong with one row. Never quotes the row: any field could hold a secret when the
/// columns are shifted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowProblem {
    #[error("has {0} fields; every row has 5 (`{HEADER}`)")]
    FieldCount(usize),
    #[error("a quoted field is not closed, or text follows its closing quote")]
    Quoting,
    #[error("`type` is not an authentication-record type slug (`unix`, `windows`, `ms_sql`, ...)")]
    Type,
    #[error("`parameter` is not a parameter of the create call (`password`, `community_strings`, ...)")]
    Parameter,
    #[error("names both a title and a username; a row is for one record title or for one username")]
    TitleAndUsername,
    #[error("names neither a title nor a username")]
    NeitherTitleNorUsername,
    #[error("the value is empty")]
    EmptyValue,
}

/// One row: which secret it is and its value, wiped when dropped.
pub struct Row {
    /// 1-based line of the plaintext where the row starts.
    pub line: u64,
    pub name: SecretName,
    value: Zeroizing<String>,
}

impl Row {
    /// The plaintext secret. Only the executor needs it, to send it.
    pub fn value(&self) -> &str {
        &self.value
    }

    pub fn into_value(self) -> Zeroizing<String> {
        self.value
    }
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row").field("line", &self.line).field("name", &self.name.to_string()).finish_non_exhaustive()
    }
}

/// An opened credentials file: how it was encrypted and its rows.
#[derive(Debug)]
pub struct Opened {
    pub format: SecretsFormat,
    pub rows: Vec<Row>,
}

/// Why a file holding a password or passphrase was not read.
#[derive(Debug, thiserror::Error)]
pub enum PrivateFileError {
    #[error("{}: {source}", path.display())]
    Unreadable { path: std::path::PathBuf, source: std::io::Error },
    #[error("{}: readable by other users (mode {mode:o}); run `chmod 600` on it", path.display())]
    TooOpen { path: std::path::PathBuf, mode: u32 },
}

/// The first line of a file that holds a password or passphrase (for automation), without its
/// line ending; refused when other users could read it. Both programs read their secrets so.
pub fn read_private_line(path: &std::path::Path) -> Result<Zeroizing<String>, PrivateFileError> {
    let unreadable = |source| PrivateFileError::Unreadable { path: path.to_path_buf(), source };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).map_err(unreadable)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(PrivateFileError::TooOpen { path: path.to_path_buf(), mode });
        }
    }
    let content = Zeroizing::new(std::fs::read_to_string(path).map_err(unreadable)?);
    let first = content.split(['\n', '\r']).next().unwrap_or_default();
    Ok(Zeroizing::new(first.to_owned()))
}

/// Refuses a file that is not encrypted as qmig reads it, before a passphrase is asked for.
pub fn ensure_encrypted(encrypted: &[u8]) -> Result<(), CredentialsError> {
    envelope(encrypted).map(|_| ())
}

/// Opens a credentials file, detecting its format; for OpenSSL, `iterations` first (the count the
/// operator gave, if any), then [`OPENSSL_ITERATIONS`].
pub fn open(
    encrypted: &[u8],
    passphrase: &str,
    iterations: Option<u32>,
    max_work_factor: u8,
) -> Result<Opened, CredentialsError> {
    let (format, plaintext) = match envelope(encrypted)? {
        Envelope::Age => (SecretsFormat::Age, decrypt_age(encrypted, passphrase, max_work_factor)?),
        Envelope::OpenSsl { salt, ciphertext } => {
            let mut tried: Vec<u32> = iterations.into_iter().collect();
            tried.extend(OPENSSL_ITERATIONS.iter().filter(|n| Some(**n) != iterations));
            let found = tried.iter().find_map(|&count| {
                decrypt_openssl(salt, ciphertext, passphrase, count)
                    .map(|plaintext| (SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { iterations: count }, plaintext))
            });
            found.ok_or_else(|| {
                let tried = tried.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
                CredentialsError::NoIterationMatches { tried }
            })?
        }
    };
    Ok(Opened { format, rows: parse(&plaintext)? })
}

/// Opens a credentials file encrypted as `format` declares.
pub fn open_as(
    encrypted: &[u8],
    passphrase: &str,
    format: SecretsFormat,
    max_work_factor: u8,
) -> Result<Vec<Row>, CredentialsError> {
    let plaintext = match (format, envelope(encrypted)?) {
        (SecretsFormat::Age, Envelope::Age) => decrypt_age(encrypted, passphrase, max_work_factor)?,
        (SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { iterations }, Envelope::OpenSsl { salt, ciphertext }) => {
            decrypt_openssl(salt, ciphertext, passphrase, iterations).ok_or(CredentialsError::WrongPassphrase)?
        }
        (declared, Envelope::Age) => return Err(CredentialsError::FormatMismatch { declared, found: "age" }),
        (declared, Envelope::OpenSsl { .. }) => {
            return Err(CredentialsError::FormatMismatch { declared, found: "OpenSSL AES-256-CBC" });
        }
    };
    parse(&plaintext)
}

/// How a file is encrypted, as its first bytes tell.
enum Envelope<'a> {
    Age,
    OpenSsl { salt: &'a [u8], ciphertext: &'a [u8] },
}

/// A file starting with the header is the operator's plaintext, refused as such.
fn envelope(encrypted: &[u8]) -> Result<Envelope<'_>, CredentialsError> {
    let start = encrypted.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(encrypted.len());
    let trimmed = &encrypted[start..];
    if trimmed.starts_with(AGE_MAGIC) || trimmed.starts_with(AGE_ARMOR_BEGIN) {
        return Ok(Envelope::Age);
    }
    if let Some(salted) = encrypted.strip_prefix(OPENSSL_MAGIC) {
        let (salt, ciphertext) = salted
            .split_at_checked(OPENSSL_SALT_LEN)
            .ok_or_else(|| CredentialsError::Unreadable("shorter than its salt".to_owned()))?;
        return Ok(Envelope::OpenSsl { salt, ciphertext });
    }
    if trimmed.starts_with(OPENSSL_BASE64_MAGIC) {
        return Err(CredentialsError::Base64);
    }
    let text = encrypted.strip_prefix(UTF8_BOM.as_bytes()).unwrap_or(encrypted);
    if text.starts_with(HEADER.as_bytes()) {
        return Err(CredentialsError::Plaintext);
    }
    Err(CredentialsError::NotEncrypted)
}

fn decrypt_age(
    encrypted: &[u8],
    passphrase: &str,
    max_work_factor: u8,
) -> Result<Zeroizing<Vec<u8>>, CredentialsError> {
    let armored = age::armor::ArmoredReader::new(encrypted);
    let decryptor = age::Decryptor::new_buffered(armored).map_err(|e| CredentialsError::Unreadable(e.to_string()))?;
    if !decryptor.is_scrypt() {
        return Err(CredentialsError::NotPassphraseEncrypted);
    }
    let mut identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    identity.set_max_work_factor(max_work_factor);
    let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).map_err(|e| match e {
        age::DecryptError::DecryptionFailed
        | age::DecryptError::NoMatchingKeys
        | age::DecryptError::KeyDecryptionFailed => CredentialsError::WrongPassphrase,
        age::DecryptError::ExcessiveWork { required, .. } => {
            CredentialsError::ExcessiveWork { required, max: max_work_factor }
        }
        other => CredentialsError::Unreadable(other.to_string()),
    })?;
    // Sized from the ciphertext, which is longer than the plaintext, so reading never
    // reallocates and leaves no unwiped copy.
    let mut plaintext = Zeroizing::new(Vec::with_capacity(encrypted.len()));
    reader.read_to_end(&mut plaintext).map_err(|e| CredentialsError::Unreadable(e.to_string()))?;
    Ok(plaintext)
}

/// The plaintext when `iterations` is the right count for this passphrase: the padding is valid
/// and the text starts with the header line (a wrong key passes the padding check by chance one
/// time in 256, never both).
fn decrypt_openssl(salt: &[u8], ciphertext: &[u8], passphrase: &str, iterations: u32) -> Option<Zeroizing<Vec<u8>>> {
    if iterations == 0 {
        return None;
    }
    let mut key_iv = Zeroizing::new([0u8; 48]);
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passphrase.as_bytes(), salt, iterations, key_iv.as_mut_slice());
    let (key, iv) = key_iv.split_at(32);
    let decryptor = cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv).ok()?;
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    // Decrypted in place: the plaintext is the start of the buffer.
    let length = decryptor.decrypt_padded::<Pkcs7>(&mut buffer).ok()?.len();
    buffer.truncate(length);
    let text = buffer.strip_prefix(UTF8_BOM.as_bytes()).unwrap_or(&buffer);
    let header_line = text
        .strip_prefix(HEADER.as_bytes())
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"\n") || rest.starts_with(b"\r\n"));
    header_line.then_some(buffer)
}

/// The rows of the plaintext CSV (RFC 4180: quoted fields may hold commas, quotes doubled, line
/// breaks; LF or CRLF). Blank lines are skipped.
pub fn parse(plaintext: &[u8]) -> Result<Vec<Row>, CredentialsError> {
    let text = std::str::from_utf8(plaintext).map_err(|e| CredentialsError::NotUtf8 {
        line: 1 + plaintext[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() as u64,
    })?;
    let text = text.strip_prefix(UTF8_BOM).unwrap_or(text);
    let mut records = records(text);
    match records.next() {
        Some((_, Ok(header))) if header.iter().map(|f| f.as_str()).eq(HEADER.split(',')) => {}
        _ => return Err(CredentialsError::Header),
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut lines: BTreeMap<SecretName, u64> = BTreeMap::new();
    for (line, fields) in records {
        let row_error = |problem| CredentialsError::Row { line, problem };
        let fields = fields.map_err(row_error)?;
        let [record_type, title, username, parameter, value]: [Zeroizing<String>; 5] =
            fields.try_into().map_err(|f: Vec<_>| row_error(RowProblem::FieldCount(f.len())))?;
        let selector = match (title.is_empty(), username.is_empty()) {
            (false, false) => return Err(row_error(RowProblem::TitleAndUsername)),
            (true, true) => return Err(row_error(RowProblem::NeitherTitleNorUsername)),
            (false, true) => Selector::Title(title.to_string()),
            (true, false) => Selector::Username(username.to_string()),
        };
        let name = SecretName { record_type: record_type.to_string(), selector, parameter: parameter.to_string() };
        if !name.is_valid() {
            let typed = SecretName { parameter: "p".to_owned(), ..name.clone() };
            return Err(row_error(if typed.is_valid() { RowProblem::Parameter } else { RowProblem::Type }));
        }
        if value.is_empty() {
            return Err(row_error(RowProblem::EmptyValue));
        }
        if let Some(first) = lines.insert(name.clone(), line) {
            return Err(CredentialsError::Duplicate { first, second: line, name: name.to_string() });
        }
        rows.push(Row { line, name, value });
    }
    Ok(rows)
}

/// Each non-blank record with the line it starts on: its fields, or what is wrong with its quoting.
fn records(text: &str) -> impl Iterator<Item = (u64, Result<Vec<Zeroizing<String>>, RowProblem>)> + '_ {
    let mut rest = text;
    let mut line = 1u64;
    std::iter::from_fn(move || {
        while !rest.is_empty() {
            let start = line;
            let (fields, length) = record(rest);
            line += rest[..length].matches('\n').count() as u64;
            rest = &rest[length..];
            let blank = fields.as_ref().is_ok_and(|f| f.len() == 1 && f[0].is_empty());
            if !blank {
                return Some((start, fields));
            }
        }
        None
    })
}

/// The record at the start of `text` and how many bytes it spans, its line feed included. A field
/// is quoted only when it starts with a quote (inside it, `""` is one quote and commas and line
/// breaks are data); a quote inside an unquoted field is data, as spreadsheets and most CSV
/// readers take it.
fn record(text: &str) -> (Result<Vec<Zeroizing<String>>, RowProblem>, usize) {
    let bytes = text.as_bytes();
    let line_end = |from: usize| text[from..].find('\n').map_or(text.len(), |at| from + at + 1);
    let mut fields = Vec::new();
    let mut at = 0;
    loop {
        if bytes.get(at) == Some(&b'"') {
            let mut end = at + 1;
            let close = loop {
                match text[end..].find('"').map(|q| end + q) {
                    None => return (Err(RowProblem::Quoting), text.len()),
                    Some(quote) if bytes.get(quote + 1) == Some(&b'"') => end = quote + 2,
                    Some(quote) => break quote,
                }
            };
            let raw = &text[at + 1..close];
            // Sized once: unescaping only shortens, so no reallocation leaves a copy behind.
            let mut field = Zeroizing::new(String::with_capacity(raw.len()));
            let mut pieces = raw.split("\"\"");
            field.push_str(pieces.next().unwrap_or_default());
            for piece in pieces {
                field.push('"');
                field.push_str(piece);
            }
            fields.push(field);
            at = close + 1;
        } else {
            let end = text[at..].find([',', '\n']).map_or(text.len(), |e| at + e);
            let raw = &text[at..end];
            let raw = if bytes.get(end) == Some(&b',') { raw } else { raw.strip_suffix('\r').unwrap_or(raw) };
            fields.push(Zeroizing::new(raw.to_owned()));
            at = end;
        }
        match bytes.get(at) {
            Some(b',') => at += 1,
            Some(b'\n') => return (Ok(fields), at + 1),
            Some(b'\r') if bytes.get(at + 1) == Some(&b'\n') => return (Ok(fields), at + 2),
            None => return (Ok(fields), at),
            Some(_) => return (Err(RowProblem::Quoting), line_end(at)),
        }
    }
}
