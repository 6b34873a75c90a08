//! The operator's credentials file carried in the bundle (`secrets.age` or `secrets.aes`),
//! decrypted into memory only as the manifest declares; only the rows the manifest names are
//! kept, and every copy this module makes is wiped when dropped.

use std::collections::BTreeMap;

use qmig_schemas::credentials::{self, CredentialsError};
use zeroize::Zeroizing;

pub use qmig_schemas::credentials::DEFAULT_MAX_WORK_FACTOR;

/// What a masked secret reads as, in dry-run output and in messages from the target.
pub const MASK: &str = "********";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    // Not a `source`: the message already says it, and error chains would repeat it.
    #[error("{file}: {problem}")]
    Unreadable { file: String, problem: CredentialsError },
    #[error("{file}: holds no row for secret `{name}`, which the manifest declares")]
    Missing { file: String, name: String },
}

/// The decrypted secrets, by name.
#[derive(Default)]
pub struct Secrets {
    values: BTreeMap<String, Zeroizing<String>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").field("names", &self.values.keys().collect::<Vec<_>>()).finish()
    }
}

impl Secrets {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|v| v.as_str())
    }

    /// Replaces every secret in text that came from the target (an error message may echo a
    /// parameter), raw, XML-escaped or form-encoded, with [`MASK`]. Longer secrets go first, so
    /// that a secret holding another is not left half visible.
    pub fn mask(&self, text: &str) -> String {
        let mut values: Vec<&str> = self.values.values().map(|v| v.as_str()).filter(|v| !v.is_empty()).collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let mut masked = text.to_owned();
        for value in values {
            let escaped = Zeroizing::new(crate::render::xml_escape(value));
            let encoded = Zeroizing::new(form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>());
            for form in [value, escaped.as_str(), encoded.as_str()] {
                masked = masked.replace(form, MASK);
            }
        }
        masked
    }
}

/// Decrypts the credentials file as `declared` says, checks that it holds every declared name,
/// and keeps only those.
pub fn decrypt(
    encrypted: &[u8],
    passphrase: Zeroizing<String>,
    max_work_factor: u8,
    declared: &qmig_schemas::Secrets,
) -> Result<Secrets, SecretsError> {
    let file = || declared.file.clone();
    let rows = credentials::open_as(encrypted, &passphrase, declared.format, max_work_factor)
        .map_err(|problem| SecretsError::Unreadable { file: file(), problem })?;
    let mut values: BTreeMap<String, Zeroizing<String>> =
        rows.into_iter().map(|row| (row.name.to_string(), row.into_value())).collect();
    if let Some(name) = declared.names.iter().find(|n| !values.contains_key(n.as_str())) {
        return Err(SecretsError::Missing { file: file(), name: name.clone() });
    }
    values.retain(|name, _| declared.names.contains(name));
    Ok(Secrets { values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_every_secret_is_masked_whole() {
        let secret = |v: &str| Zeroizing::new(v.to_owned());
        let values = BTreeMap::from([("a".to_owned(), secret("pass")), ("b".to_owned(), secret("password&1"))]);
        let secrets = Secrets { values };
        assert_eq!(
            secrets.mask("echoed: password&1, password&amp;1, password%261 and pass"),
            "echoed: ********, ********, ******** and ********"
        );
    }
}
