//! The bundle contract between `qmig-transform` and `qmig-execute` (format version 1).
//!
//! A bundle is a directory:
//!
//! ```text
//! manifest.json   the ordered requests and everything a reviewer needs (see [`manifest`])
//! bodies/         XML bodies of the calls that take one
//! secrets.age     only when requests refer to secrets: the operator's credentials file, byte
//!  or .aes        for byte as they encrypted it (`age -p` or `openssl enc -aes-256-cbc -pbkdf2`)
//! REVIEW.md       what a reviewer reads: anomalies, counts, security-relevant values
//! requests.tsv    one tab-separated line per request, for tools
//! SHA256SUMS      coreutils format over every other file; its SHA-256 is the bundle digest
//! ```
//!
//! The transformer writes bundles with these types; the executor reads them back only through
//! [`verify::verify_bundle`], which checks every byte before anything is sent.
//!
//! Optional features keep the default crate light: `validate` checks manifests against the
//! committed JSON Schemas, `credentials` opens the operator's encrypted credentials file (age or
//! OpenSSL), the one implementation the transformer and the executor share, and `responses`
//! reads the target's answers ([`xml`]), says what each means ([`classify`]) and takes from them
//! the values a request declares it captures or a probe matches ([`extract`]): the rules by which
//! the executor judges that a request was executed, refused, blocked or left in doubt, and what
//! it keeps from the answer, sit here next to the request types they interpret, for a reviewer
//! to read in one place. `schedule` chooses which request the executor sends next, by the
//! requests' dependencies and each endpoint's rate limit, and estimates when the run ends.

#[cfg(feature = "responses")]
pub mod classify;
#[cfg(feature = "credentials")]
pub mod credentials;
#[cfg(feature = "responses")]
pub mod extract;
pub mod idmap;
pub mod journal;
pub mod manifest;
#[cfg(feature = "responses")]
pub mod preflight;
pub mod replay;
#[cfg(feature = "schedule")]
pub mod schedule;
#[cfg(feature = "validate")]
pub mod schema;
pub mod sums;
pub mod target;
#[cfg(test)]
mod test_support;
pub mod verify;
pub mod write;
#[cfg(feature = "responses")]
pub mod xml;

pub use manifest::*;
pub use sums::{DIGEST_PREFIX, bundle_digest, sha256_hex};
pub use target::{Target, TargetError};
pub use verify::{CheckedSums, VerifiedBundle, VerifyError, dependencies, verify_bundle, verify_sums};
pub use write::{BundleContents, WriteError, write_bundle, write_bundle_interruptible};
