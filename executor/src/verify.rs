//! `verify`: the offline check of a bundle, as `qmig_schemas::verify_bundle` does it (format
//! version, JSON Schema, every file's hash, every reference), with the digest printed last.

use std::path::Path;

use qmig_schemas::{Effect, VerifiedBundle, verify_bundle};

use crate::error::Error;

pub fn verify(dir: &Path) -> Result<VerifiedBundle, Error> {
    let bundle = verify_bundle(dir)?;
    let requests = &bundle.manifest.requests;
    let count = |effect| requests.iter().filter(|r| r.effect == effect).count();
    let probed = requests.iter().filter(|r| r.probe.is_some()).count();
    println!("bundle: {} ({} files, format {})", dir.display(), bundle.listed + 1, bundle.manifest.format_version);
    println!(
        "requests: {} ({} create, {} with a probe; {} idempotent; {} read)",
        requests.len(),
        count(Effect::Create),
        probed,
        count(Effect::Idempotent),
        count(Effect::Read)
    );
    if let Some(secrets) = &bundle.manifest.secrets {
        println!("secrets: {} in {} (encrypted)", secrets.names.len(), secrets.file);
    }
    println!("digest: {}", bundle.digest);
    Ok(bundle)
}
