//! The operator's credentials file (INPUTS.md): the secrets of authentication records, which no
//! export holds. The transformer opens it only to check it and to tell each record which rows
//! are its own; it keeps no value. The bundle carries the encrypted file byte for byte (its
//! encryption is randomised, so re-encrypting would make bundles irreproducible), and requests
//! refer to its rows by canonical name; only the executor decrypts it, at send time.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use qmig_schemas::credentials as file_format;
use qmig_schemas::{SecretName, Secrets, SecretsFormat, Segment, Selector, SourceFile, Warning, sha256_hex};
use zeroize::Zeroizing;

use crate::cli::BundleArgs;
use crate::error::TransformError;
use crate::plan::TaskOutput;

/// Where automation gives the passphrase.
pub const PASSPHRASE_ENV: &str = "QMIG_CREDENTIALS_PASSPHRASE";
/// The file names looked for in the inputs directory when `--credentials` is not given.
pub const DEFAULT_FILES: [&str; 2] = ["credentials.csv.age", "credentials.csv.aes"];
/// The name under which the manifest's warnings report unused rows.
pub const TASK: &str = "credentials";

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    // Not a `source`: the message already says it, and error chains would repeat it.
    #[error("{file}: {problem}")]
    File { file: String, problem: file_format::CredentialsError },
    #[error("{0}: holds both credentials.csv.age and credentials.csv.aes; keep one, or name it with --credentials")]
    TwoFiles(PathBuf),
    #[error(transparent)]
    PassphraseFile(file_format::PrivateFileError),
    #[error("the credentials passphrase is empty")]
    EmptyPassphrase,
    #[error(
        "no passphrase for the credentials file, and no terminal to ask on: \
         give --credentials-passphrase-file or set {PASSPHRASE_ENV}"
    )]
    NoPassphrase,
    #[error(
        "{file}: lines {title_line} and {username_line} both give the {record_type} record \"{title}\" its \
         `{parameter}`, one by its title and one by its username; keep one"
    )]
    Ambiguous {
        file: String,
        record_type: String,
        title: String,
        parameter: String,
        title_line: u64,
        username_line: u64,
    },
    #[error("{file}: {} row(s) match no authentication record, refused with --strict:{}", rows.len(), UnusedList(rows))]
    Unused { file: String, rows: Vec<UnusedRow> },
    #[error("requests refer to secret `{0}`, which no row of the credentials file gives")]
    NoRow(String),
}

/// The secret of one parameter of one record, as a task puts it into a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSecret {
    pub parameter: String,
    /// The canonical name requests refer to, as [`Segment::Secret`].
    pub name: String,
    /// The line of the credentials file it comes from.
    pub line: u64,
}

impl RecordSecret {
    /// The reference a request carries in place of the value.
    pub fn reference(&self) -> Segment {
        Segment::Secret(self.name.clone())
    }
}

/// A row of the credentials file no request refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedRow {
    pub line: u64,
    pub name: SecretName,
}

impl fmt::Display for UnusedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (key, named) = match &self.name.selector {
            Selector::Title(title) => ("title", title),
            Selector::Username(username) => ("username", username),
        };
        write!(
            f,
            "line {}: {} {key} \"{named}\", parameter `{}`",
            self.line, self.name.record_type, self.name.parameter
        )
    }
}

struct UnusedList<'a>(&'a [UnusedRow]);

impl fmt::Display for UnusedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|row| write!(f, "\n  {row}"))
    }
}

/// The opened credentials file: the encrypted bytes, how they are encrypted, and which row is
/// where. The values were checked and wiped when it was opened.
#[derive(Debug)]
pub struct Credentials {
    /// The file as the operator named it, for messages.
    pub file: String,
    /// The file as the manifest lists it among the inputs.
    pub input: SourceFile,
    pub format: SecretsFormat,
    encrypted: Vec<u8>,
    rows: Vec<(u64, SecretName)>,
}

/// What the bundle carries of the credentials file once every task has planned its requests.
#[derive(Debug, Default)]
pub struct Carried {
    /// The manifest's declaration and the encrypted bytes, when some request refers to a secret.
    pub secrets: Option<(Secrets, Vec<u8>)>,
    /// One per unused row.
    pub warnings: Vec<Warning>,
}

impl Credentials {
    /// Finds, decrypts and checks the credentials file the arguments name, if any: the file of
    /// `--credentials`, else `credentials.csv.age` or `.aes` in `--inputs`. A file that is not
    /// encrypted is refused before the passphrase is asked for.
    pub fn load(args: &BundleArgs) -> Result<Option<Credentials>, TransformError> {
        let Some((path, listed)) = locate(args)? else { return Ok(None) };
        let file = path.display().to_string();
        let encrypted = std::fs::read(&path).map_err(|source| TransformError::Io { path: path.clone(), source })?;
        let invalid = |problem| CredentialsError::File { file: file.clone(), problem };
        file_format::ensure_encrypted(&encrypted).map_err(invalid)?;
        let passphrase = passphrase(args.credentials_passphrase_file.as_deref())?;
        let opened =
            file_format::open(&encrypted, &passphrase, args.credentials_iter, args.max_work_factor).map_err(invalid)?;
        let rows = opened.rows.iter().map(|row| (row.line, row.name.clone())).collect();
        let kind = format!("credentials, {}", opened.format);
        let input = SourceFile { path: listed, sha256: sha256_hex(&encrypted), kind };
        Ok(Some(Credentials { file, input, format: opened.format, encrypted, rows }))
    }

    /// The secrets the operator supplied for one record: one entry per parameter, from the row
    /// naming the record's title or else the row naming its username. A parameter supplied both
    /// by a title row and by a username row is ambiguous: an error naming both lines.
    pub fn for_record(
        &self,
        record_type: &str,
        title: &str,
        username: Option<&str>,
    ) -> Result<Vec<RecordSecret>, TransformError> {
        let mut by_parameter: BTreeMap<&str, (u64, &SecretName)> = BTreeMap::new();
        for (line, name) in self.rows.iter().filter(|(_, name)| name.record_type == record_type) {
            let is_for_record = match &name.selector {
                Selector::Title(named) => named == title,
                Selector::Username(named) => Some(named.as_str()) == username,
            };
            if !is_for_record {
                continue;
            }
            // Rows are unique per (type, title or username, parameter), so two rows for one
            // parameter of one record are a title row and a username row.
            if let Some((other_line, _)) = by_parameter.insert(&name.parameter, (*line, name)) {
                let (title_line, username_line) = match name.selector {
                    Selector::Title(_) => (*line, other_line),
                    Selector::Username(_) => (other_line, *line),
                };
                return Err(CredentialsError::Ambiguous {
                    file: self.file.clone(),
                    record_type: record_type.to_owned(),
                    title: title.to_owned(),
                    parameter: name.parameter.clone(),
                    title_line,
                    username_line,
                }
                .into());
            }
        }
        Ok(by_parameter
            .into_iter()
            .map(|(parameter, (line, name))| RecordSecret {
                parameter: parameter.to_owned(),
                name: name.to_string(),
                line,
            })
            .collect())
    }

    /// The rows whose names are not in `referenced`, in file order.
    fn unused(&self, referenced: &BTreeSet<String>) -> Vec<UnusedRow> {
        let rows = self.rows.iter().filter(|(_, name)| !referenced.contains(&name.to_string()));
        rows.map(|(line, name)| UnusedRow { line: *line, name: name.clone() }).collect()
    }
}

/// What the bundle carries of the credentials file: the file itself when some request refers to
/// one of its rows (declaring exactly those), and a warning per row no request refers to; with
/// `strict`, such rows are an error listing them all.
pub fn carry(
    credentials: Option<&Credentials>,
    outputs: &[TaskOutput],
    strict: bool,
) -> Result<Carried, TransformError> {
    let referenced = referenced_secrets(outputs);
    let Some(credentials) = credentials else {
        return match referenced.into_iter().next() {
            Some(name) => Err(CredentialsError::NoRow(name).into()),
            None => Ok(Carried::default()),
        };
    };
    let rows: BTreeSet<String> = credentials.rows.iter().map(|(_, name)| name.to_string()).collect();
    if let Some(name) = referenced.iter().find(|name| !rows.contains(*name)) {
        return Err(CredentialsError::NoRow(name.clone()).into());
    }
    let unused = credentials.unused(&referenced);
    if strict && !unused.is_empty() {
        return Err(CredentialsError::Unused { file: credentials.file.clone(), rows: unused }.into());
    }
    let warnings = unused
        .iter()
        .map(|row| Warning {
            task: TASK.to_owned(),
            message: format!("{}: {row} matches no authentication record: unused", credentials.input.path),
            source: None,
        })
        .collect();
    let secrets = (!referenced.is_empty()).then(|| {
        let format = credentials.format;
        let declared = Secrets { file: format.file_name().to_owned(), format, names: referenced.into_iter().collect() };
        (declared, credentials.encrypted.clone())
    });
    Ok(Carried { secrets, warnings })
}

/// Every secret the planned requests refer to, in parameters or body slots.
fn referenced_secrets(outputs: &[TaskOutput]) -> BTreeSet<String> {
    let drafts = outputs.iter().flat_map(|output| &output.requests);
    let segments = drafts.flat_map(|draft| {
        let params = draft.params.iter().flat_map(|p| p.value.segments());
        params.chain(draft.body.iter().flat_map(|b| b.slots.iter().map(|s| &s.value)))
    });
    segments
        .filter_map(|segment| match segment {
            Segment::Secret(name) => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// The credentials file and how the manifest lists it (`inputs/<name>` for the default file of
/// the inputs directory, `credentials/<name>` for one named with `--credentials`).
fn locate(args: &BundleArgs) -> Result<Option<(PathBuf, String)>, TransformError> {
    let listed = |role: &str, path: &Path| {
        format!("{role}/{}", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default())
    };
    if let Some(path) = &args.credentials {
        return Ok(Some((path.clone(), listed("credentials", path))));
    }
    let Some(inputs) = &args.inputs else { return Ok(None) };
    let present: Vec<PathBuf> = DEFAULT_FILES.iter().map(|name| inputs.join(name)).filter(|p| p.is_file()).collect();
    match present.as_slice() {
        [] => Ok(None),
        [path] => Ok(Some((path.clone(), listed("inputs", path)))),
        _ => Err(CredentialsError::TwoFiles(inputs.clone()).into()),
    }
}

/// The passphrase: from the file (which must be private), else the environment, else a prompt
/// without echo when there is a terminal; never from a command-line value, which other users can
/// read in the process list.
fn passphrase(file: Option<&Path>) -> Result<Zeroizing<String>, TransformError> {
    let passphrase = if let Some(path) = file {
        file_format::read_private_line(path).map_err(CredentialsError::PassphraseFile)?
    } else if let Some(value) = std::env::var_os(PASSPHRASE_ENV) {
        Zeroizing::new(value.to_string_lossy().into_owned())
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Passphrase of the credentials file (not echoed): ")
            .map(Zeroizing::new)
            .map_err(|_| CredentialsError::NoPassphrase)?
    } else {
        return Err(CredentialsError::NoPassphrase.into());
    };
    if passphrase.is_empty() {
        return Err(CredentialsError::EmptyPassphrase.into());
    }
    Ok(passphrase)
}

#[cfg(test)]
impl Credentials {
    /// Credentials as if the operator had encrypted `plaintext` with `openssl enc`'s defaults,
    /// for unit tests of the tasks that correlate records with rows.
    pub fn from_plaintext(plaintext: &[u8]) -> Credentials {
        let rows = file_format::parse(plaintext).expect("valid credentials CSV");
        let encrypted = b"Salted__ stands for the encrypted file".to_vec();
        let format = SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { iterations: 10_000 };
        Credentials {
            file: "credentials.csv.aes".to_owned(),
            input: SourceFile {
                path: "inputs/credentials.csv.aes".to_owned(),
                sha256: sha256_hex(&encrypted),
                kind: "credentials".to_owned(),
            },
            format,
            encrypted,
            rows: rows.iter().map(|row| (row.line, row.name.clone())).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "type,title,username,parameter,value\n\
        unix,Linux,,password,a\n\
        unix,,scanner,password,b\n\
        unix,,scanner,enable_password,c\n\
        windows,Linux,,password,d\n";

    fn secret(parameter: &str, name: &str, line: u64) -> RecordSecret {
        RecordSecret { parameter: parameter.to_owned(), name: name.to_owned(), line }
    }

    #[test]
    fn a_record_gets_its_title_rows_and_its_username_rows_by_type() {
        let credentials = Credentials::from_plaintext(CSV.as_bytes());
        let unix = credentials.for_record("unix", "Web", Some("scanner")).expect("not ambiguous");
        assert_eq!(
            unix,
            [
                secret("enable_password", "unix/username:scanner/enable_password", 4),
                secret("password", "unix/username:scanner/password", 3)
            ]
        );
        let windows = credentials.for_record("windows", "Linux", Some("scanner")).expect("not ambiguous");
        assert_eq!(windows, [secret("password", "windows/title:Linux/password", 5)], "types do not mix");
        assert_eq!(credentials.for_record("oracle", "Linux", None).expect("none"), []);
    }

    #[test]
    fn a_parameter_given_by_title_and_by_username_is_ambiguous() {
        let credentials = Credentials::from_plaintext(CSV.as_bytes());
        let error = credentials.for_record("unix", "Linux", Some("scanner")).expect_err("ambiguous");
        assert_eq!(
            error.to_string(),
            "credentials.csv.aes: lines 2 and 3 both give the unix record \"Linux\" its `password`, one by its \
             title and one by its username; keep one"
        );
    }
}
