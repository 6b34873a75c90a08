//! The target password and the secrets passphrase: from a file (automation), an environment
//! variable, or a prompt on the terminal without echo; never from a command-line value, which
//! other users can read in the process list.

use std::path::Path;

use qmig_schemas::credentials::{PrivateFileError, read_private_line};
use zeroize::Zeroizing;

pub const USERNAME_ENV: &str = "QMIG_TARGET_USERNAME";
pub const PASSWORD_ENV: &str = "QMIG_TARGET_PASSWORD";
pub const PASSPHRASE_ENV: &str = "QMIG_SECRETS_PASSPHRASE";

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(transparent)]
    File(#[from] PrivateFileError),
    #[error("the {what} is empty")]
    Empty { what: &'static str },
    #[error("no {what}: there is no terminal to ask on; give {flag} or set {env}")]
    NoTerminal { what: &'static str, flag: &'static str, env: &'static str },
    #[error("no target username: give --username or set {USERNAME_ENV}")]
    NoUsername,
}

/// The target password: `--password-file`, else `$QMIG_TARGET_PASSWORD`, else a prompt.
pub fn password(file: Option<&Path>) -> Result<Zeroizing<String>, CredentialError> {
    read("target password", file, "--password-file", PASSWORD_ENV)
}

/// The passphrase of the credentials file: `--passphrase-file`, else `$QMIG_SECRETS_PASSPHRASE`,
/// else a prompt.
pub fn passphrase(file: Option<&Path>) -> Result<Zeroizing<String>, CredentialError> {
    read("secrets passphrase", file, "--passphrase-file", PASSPHRASE_ENV)
}

/// One secret, looked for in order in the file, the variable, the terminal.
fn read(
    what: &'static str,
    file: Option<&Path>,
    flag: &'static str,
    env: &'static str,
) -> Result<Zeroizing<String>, CredentialError> {
    let value = if let Some(path) = file {
        read_private_line(path)?
    } else if let Some(value) = std::env::var_os(env) {
        Zeroizing::new(value.to_string_lossy().into_owned())
    } else {
        let prompt = format!("{} (not echoed): ", capitalised(what));
        rpassword::prompt_password(prompt).map(Zeroizing::new).map_err(|_| CredentialError::NoTerminal {
            what,
            flag,
            env,
        })?
    };
    if value.is_empty() {
        return Err(CredentialError::Empty { what });
    }
    Ok(value)
}

pub fn username(flag: Option<&str>) -> Result<String, CredentialError> {
    flag.map(str::to_owned)
        .or_else(|| std::env::var(USERNAME_ENV).ok())
        .filter(|u| !u.is_empty())
        .ok_or(CredentialError::NoUsername)
}

fn capitalised(what: &str) -> String {
    let mut chars = what.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_gives_its_first_line_and_must_be_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\r\nignored\n").expect("writes");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
            assert_eq!(password(Some(&path)).expect("reads").as_str(), "s3cret");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            assert!(matches!(
                password(Some(&path)),
                Err(CredentialError::File(PrivateFileError::TooOpen { mode: 0o644, .. }))
            ));
        }
    }
}
