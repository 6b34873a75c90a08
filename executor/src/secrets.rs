//! `secrets.age`: an age file encrypted with a passphrase (scrypt) holding a JSON object
//! `{"name": "secret", ...}`. It is decrypted into memory only; every copy this module makes
//! is wiped when dropped.

use std::collections::BTreeMap;
use std::io::Read as _;

use age::secrecy::SecretString;
use zeroize::Zeroizing;

/// What a masked secret reads as, in dry-run output and in messages from the target.
pub const MASK: &str = "********";

/// The highest scrypt work factor (log2 N) accepted by default. age's own default depends on
/// the speed of the machine, so a file written on a fast laptop could be refused on a slow one;
/// 20 needs 1 GiB of memory and a few seconds.
pub const DEFAULT_MAX_WORK_FACTOR: u8 = 20;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("secrets.age: the passphrase is wrong")]
    WrongPassphrase,
    #[error("secrets.age: not a passphrase-encrypted age file")]
    NotPassphraseEncrypted,
    #[error(
        "secrets.age: encrypted with scrypt work factor {required}, above the accepted maximum {max} (raise --max-work-factor if this is expected)"
    )]
    ExcessiveWork { required: u8, max: u8 },
    #[error("secrets.age: cannot be decrypted: {0}")]
    Unreadable(String),
    // The JSON error is not shown: its text could quote the plaintext.
    #[error("secrets.age: the decrypted content is not a JSON object of names to strings")]
    NotAnObject,
    #[error("secrets.age: holds no secret named `{0}`, which the manifest declares")]
    Missing(String),
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

/// Decrypts `secrets.age`, checks that it holds every declared name, and keeps only those.
pub fn decrypt(
    encrypted: &[u8],
    passphrase: Zeroizing<String>,
    max_work_factor: u8,
    declared: &[String],
) -> Result<Secrets, SecretsError> {
    let armored = age::armor::ArmoredReader::new(encrypted);
    let decryptor = age::Decryptor::new_buffered(armored).map_err(|e| SecretsError::Unreadable(e.to_string()))?;
    if !decryptor.is_scrypt() {
        return Err(SecretsError::NotPassphraseEncrypted);
    }
    let mut identity = age::scrypt::Identity::new(SecretString::from(passphrase.as_str().to_owned()));
    identity.set_max_work_factor(max_work_factor);
    let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).map_err(|e| match e {
        age::DecryptError::DecryptionFailed
        | age::DecryptError::NoMatchingKeys
        | age::DecryptError::KeyDecryptionFailed => SecretsError::WrongPassphrase,
        age::DecryptError::ExcessiveWork { required, .. } => {
            SecretsError::ExcessiveWork { required, max: max_work_factor }
        }
        other => SecretsError::Unreadable(other.to_string()),
    })?;
    let mut plaintext = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut plaintext).map_err(|e| SecretsError::Unreadable(e.to_string()))?;
    let parsed: BTreeMap<String, String> = serde_json::from_slice(&plaintext).map_err(|_| SecretsError::NotAnObject)?;
    let mut values: BTreeMap<String, Zeroizing<String>> =
        parsed.into_iter().map(|(k, v)| (k, Zeroizing::new(v))).collect();
    if let Some(name) = declared.iter().find(|n| !values.contains_key(n.as_str())) {
        return Err(SecretsError::Missing(name.clone()));
    }
    values.retain(|name, _| declared.contains(name));
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
