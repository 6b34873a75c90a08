//! Offline verification of a bundle directory: every file hashed and listed, the manifest of a
//! known format and schema, and every reference resolvable. The verified bytes are returned, so
//! nothing is re-read from disk between the check and the use.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::manifest::{
    BODIES_DIR, Body, Escape, Extract, FORMAT_VERSION, MANIFEST_FILE, Manifest, Match, Method, Param, Phase,
    REQUESTS_FILE, REVIEW_FILE, Request, SECRETS_AES_FILE, SECRETS_AGE_FILE, SUMS_FILE, SecretName, Segment,
};
use crate::sums::{self, SumsError};

/// Files of a bundle by relative path, with their verified bytes.
pub type BundleFiles = BTreeMap<String, Vec<u8>>;

/// A bundle whose every byte matched `SHA256SUMS` and whose manifest passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    pub digest: String,
    pub manifest: Manifest,
    /// The SHA-256 of `manifest.json`, as `SHA256SUMS` lists it.
    pub manifest_sha256: String,
    /// How many files `SHA256SUMS` lists.
    pub listed: usize,
    /// The files a run sends (bodies, the credentials file) by relative path, as they were
    /// hashed; the others (the manifest once parsed, the review) were hashed as streams and are
    /// not kept.
    pub files: BundleFiles,
}

impl VerifiedBundle {
    /// The verified bytes of a request's body file.
    pub fn body_bytes(&self, body: &Body) -> &[u8] {
        self.files.get(&body.file).map(Vec::as_slice).unwrap_or_default()
    }

    /// The verified bytes of the credentials file, when the bundle has secrets.
    pub fn secrets_bytes(&self) -> Option<&[u8]> {
        self.manifest.secrets.as_ref().and_then(|s| self.files.get(&s.file)).map(Vec::as_slice)
    }
}

/// A directory whose files are exactly those `SHA256SUMS` lists, each with its hash.
#[derive(Debug)]
pub struct CheckedSums {
    /// The exact bytes of `SHA256SUMS`, whose hash is the bundle digest.
    pub bytes: Vec<u8>,
    /// Every listed path, in the order of `SHA256SUMS`.
    pub listed: Vec<String>,
    /// The files that were asked to be kept, with the bytes that were hashed.
    pub kept: BundleFiles,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read {}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{0} is not a bundle directory")]
    NotADirectory(PathBuf),
    #[error("the bundle has no {SUMS_FILE}")]
    MissingSums,
    #[error(transparent)]
    Sums(#[from] SumsError),
    #[error("{path}: the file is in the bundle but not listed in {SUMS_FILE}")]
    NotListed { path: String },
    #[error("{path}: listed in {SUMS_FILE} but missing from the bundle")]
    MissingFile { path: String },
    #[error("{path}: its SHA-256 does not match {SUMS_FILE} (the file was changed)")]
    HashMismatch { path: String },
    #[error("{path}: not a regular file (links and special files are not allowed in a bundle)")]
    NotAFile { path: String },
    #[error("the bundle has no {0}")]
    MissingRequiredFile(&'static str),
    #[error("{MANIFEST_FILE}: {0}")]
    ManifestJson(String),
    #[error("{MANIFEST_FILE}: format version {found} is not supported (this build reads version {FORMAT_VERSION})")]
    UnknownFormatVersion { found: String },
    #[error("{MANIFEST_FILE}: does not match the bundle schema: {}", .0.join("; "))]
    Schema(Vec<String>),
    #[error("{MANIFEST_FILE}: request {seq} ({id}): {problem}")]
    Request { seq: u64, id: String, problem: RequestProblem },
    #[error("{MANIFEST_FILE}: requests refer to secrets but the bundle has no {0}")]
    SecretsFileMissing(String),
    #[error("{0}: the bundle holds a secrets file the manifest does not declare")]
    SecretsUndeclared(String),
    #[error("{MANIFEST_FILE}: the secrets file of format {format} must be named {expected}, not {file}")]
    SecretsFileName { file: String, format: String, expected: &'static str },
    #[error(
        "{MANIFEST_FILE}: declares secret `{0}`, which is not a canonical name \
         (`<type>/title:<title>/<parameter>` or `<type>/username:<username>/<parameter>`)"
    )]
    SecretName(String),
    #[error("{MANIFEST_FILE}: declares secret `{0}`, which no request refers to (only needed secrets may be shipped)")]
    SecretUnused(String),
    #[error("{MANIFEST_FILE}: reports capture `{0}` to the operator, but no request declares it")]
    ReportedUnknown(String),
    #[error("{MANIFEST_FILE}: target `{found}` is not a target URL in its canonical spelling ({problem})")]
    BadTarget { found: String, problem: String },
}

/// What is wrong with one request record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestProblem {
    #[error("is numbered {found}, expected {expected} (requests are numbered 1, 2, 3, ... in order)")]
    Sequence { expected: u64, found: u64 },
    #[error("is a migration request after cutover request {first}; every cutover request comes last")]
    MigrationAfterCutover { first: u64 },
    #[error("has the same id as request {first}")]
    DuplicateId { first: u64 },
    #[error("path `{0}` is not an absolute path without query string")]
    BadPath(String),
    #[error("a GET request cannot carry a body")]
    GetWithBody,
    #[error("body file `{0}` is not under {BODIES_DIR}/ or not in the bundle")]
    BodyMissing(String),
    #[error("body file `{0}` does not have the SHA-256 the manifest declares")]
    BodyHash(String),
    #[error("body slot at byte {offset} does not hold its declared placeholder")]
    SlotMismatch { offset: u64 },
    #[error("body slot at byte {offset} overlaps the previous slot or is out of order")]
    SlotOrder { offset: u64 },
    #[error("body slot at byte {offset} holds text, not a reference")]
    SlotText { offset: u64 },
    #[error("body slot at byte {offset} holds `{found}`, not `{expected}`, the placeholder of its reference")]
    SlotPlaceholder { offset: u64, found: String, expected: String },
    #[error("parameter `{0}` would put a secret into a URL")]
    SecretInUrl(String),
    #[error("its probe refers to secret `{0}`; probes may not carry secrets")]
    SecretInProbe(String),
    #[error("refers to capture `{0}`, which no earlier request declares")]
    UnknownCapture(String),
    #[error("declares capture `{name}`, already declared by request {first}")]
    DuplicateCapture { name: String, first: u64 },
    #[error("refers to secret `{0}`, which the manifest does not declare")]
    UnknownSecret(String),
    #[error("its probe fills `{0}`, which is not one of the request's captures")]
    ProbeCaptureUnknown(String),
    #[error("its probe does not fill capture `{0}`, so an existing object would leave it empty")]
    ProbeCaptureMissing(String),
    #[error("says it sends `{0}` for a remapped reference, but none of its parameters or body slots refers to it")]
    RemapNotSent(String),
    #[error("depends on `{0}`, which is not the id of any request of the bundle")]
    UnknownDependency(String),
    #[error("depends on request {seq} ({id}), which comes later; a request may depend only on earlier ones")]
    ForwardDependency { seq: u64, id: String },
    #[error("is part of a dependency cycle: {}", .0.join(" -> "))]
    DependencyCycle(Vec<String>),
}

/// Verifies the bundle in `dir` and returns its digest, manifest and the bytes a run sends.
pub fn verify_bundle(dir: &Path) -> Result<VerifiedBundle, VerifyError> {
    let kept = |path: &str| {
        path == MANIFEST_FILE
            || path == SECRETS_AGE_FILE
            || path == SECRETS_AES_FILE
            || path.strip_prefix(BODIES_DIR).is_some_and(|rest| rest.starts_with('/'))
    };
    let CheckedSums { bytes, listed, kept: mut files } = verify_sums(dir, kept)?;
    for required in [MANIFEST_FILE, REVIEW_FILE, REQUESTS_FILE] {
        if !listed.iter().any(|path| path == required) {
            return Err(VerifyError::MissingRequiredFile(required));
        }
    }
    let manifest_bytes = files.remove(MANIFEST_FILE).unwrap_or_default();
    let manifest = parse_manifest(&manifest_bytes)?;
    let manifest_sha256 = sums::sha256_hex(&manifest_bytes);
    drop(manifest_bytes);
    let listed: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    check_manifest(&manifest, &listed, &files)?;
    Ok(VerifiedBundle { digest: sums::bundle_digest(&bytes), manifest, manifest_sha256, listed: listed.len(), files })
}

/// Checks that `SHA256SUMS` lists exactly the files of `dir`, each with its hash: what makes a
/// directory a complete bundle, whatever its manifest says. Files for which `keep` holds are
/// read whole and returned with the bytes that were hashed (nothing is read again between the
/// check and the use); every other file is hashed as a stream, in bounded memory.
pub fn verify_sums(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<CheckedSums, VerifyError> {
    if !dir.is_dir() {
        return Err(VerifyError::NotADirectory(dir.to_path_buf()));
    }
    let sums_path = dir.join(SUMS_FILE);
    let sums_bytes = match fs::read(&sums_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(VerifyError::MissingSums),
        Err(source) => {
            return Err(VerifyError::Io { path: sums_path, source });
        }
    };
    let sums_text = std::str::from_utf8(&sums_bytes).map_err(|_| SumsError::Malformed { line: 1 })?;
    let listed = sums::parse(sums_text)?;

    let present = list_files(dir)?;
    let listed_paths: BTreeSet<&str> = listed.iter().map(|l| l.path.as_str()).collect();
    if let Some(path) = present.iter().find(|p| p.as_str() != SUMS_FILE && !listed_paths.contains(p.as_str())) {
        return Err(VerifyError::NotListed { path: path.clone() });
    }
    let mut kept = BTreeMap::new();
    for line in &listed {
        if !present.contains(&line.path) {
            return Err(VerifyError::MissingFile { path: line.path.clone() });
        }
        let path = dir.join(&line.path);
        let io_error = |source| VerifyError::Io { path: path.clone(), source };
        let sha256 = if keep(&line.path) {
            let bytes = fs::read(&path).map_err(io_error)?;
            let sha256 = sums::sha256_hex(&bytes);
            kept.insert(line.path.clone(), bytes);
            sha256
        } else {
            fs::File::open(&path).and_then(sums::sha256_stream).map_err(io_error)?
        };
        if sha256 != line.sha256 {
            return Err(VerifyError::HashMismatch { path: line.path.clone() });
        }
    }
    let listed = listed.into_iter().map(|line| line.path).collect();
    Ok(CheckedSums { bytes: sums_bytes, listed, kept })
}

/// Parses `manifest.json`: the format version first (so an unknown version is named as such),
/// then the JSON Schema when this crate is built with `validate`, then the types. Requests are
/// read one at a time (checked against the request schema and converted), so the manifest is
/// never held as a whole JSON tree beside its typed form.
fn parse_manifest(bytes: &[u8]) -> Result<Manifest, VerifyError> {
    #[cfg(feature = "validate")]
    let validators = crate::schema::Validators::new().map_err(VerifyError::Schema)?;
    let mut reading = ManifestReading {
        #[cfg(feature = "validate")]
        validators: &validators,
        #[cfg(not(feature = "validate"))]
        validators: std::marker::PhantomData,
        schema_errors: Vec::new(),
        type_error: None,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let (mut header, requests) = serde::Deserializer::deserialize_map(&mut deserializer, &mut reading)
        .and_then(|read| deserializer.end().map(|()| read))
        .map_err(|e| VerifyError::ManifestJson(e.to_string()))?;
    match header.get("format_version") {
        Some(v) if v.as_u64() == Some(u64::from(FORMAT_VERSION)) => {}
        Some(v) => {
            return Err(VerifyError::UnknownFormatVersion { found: v.to_string() });
        }
        None => return Err(VerifyError::ManifestJson("no format_version".to_owned())),
    }
    let Some(requests) = requests else { return Err(VerifyError::ManifestJson("no requests".to_owned())) };
    header.insert("requests".to_owned(), serde_json::Value::Array(Vec::new()));
    let header = serde_json::Value::Object(header);
    #[cfg(feature = "validate")]
    reading.schema_errors.splice(0..0, validators.manifest_errors(&header));
    if !reading.schema_errors.is_empty() {
        return Err(VerifyError::Schema(reading.schema_errors));
    }
    if let Some(error) = reading.type_error {
        return Err(VerifyError::ManifestJson(error));
    }
    let mut manifest: Manifest =
        serde_json::from_value(header).map_err(|e| VerifyError::ManifestJson(e.to_string()))?;
    manifest.requests = requests;
    Ok(manifest)
}

/// What reading `manifest.json` found besides its header and requests: schema violations and
/// the first request that is not a request record, reported once the format version is known.
struct ManifestReading<'a> {
    #[cfg(feature = "validate")]
    validators: &'a crate::schema::Validators,
    #[cfg(not(feature = "validate"))]
    validators: std::marker::PhantomData<&'a ()>,
    schema_errors: Vec<String>,
    type_error: Option<String>,
}

/// The manifest's top-level fields other than `requests`, and its requests when present.
type ReadManifest = (serde_json::Map<String, serde_json::Value>, Option<Vec<Request>>);

impl<'de> serde::de::Visitor<'de> for &mut ManifestReading<'_> {
    type Value = ReadManifest;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a manifest object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ReadManifest, A::Error> {
        let mut header = serde_json::Map::new();
        let mut requests = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "requests" {
                requests = Some(map.next_value_seed(&mut *self)?);
            } else {
                header.insert(key, map.next_value()?);
            }
        }
        Ok((header, requests))
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for &mut ManifestReading<'_> {
    type Value = Vec<Request>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Request>, D::Error> {
        struct Requests<'r, 'a>(&'r mut ManifestReading<'a>);

        impl<'de> serde::de::Visitor<'de> for Requests<'_, '_> {
            type Value = Vec<Request>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of requests")
            }

            fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut seq: S) -> Result<Vec<Request>, S::Error> {
                let mut requests = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(value) = seq.next_element::<serde_json::Value>()? {
                    #[cfg(feature = "validate")]
                    self.0.schema_errors.extend(self.0.validators.request_errors(requests.len(), &value));
                    match serde_json::from_value(value) {
                        Ok(request) => requests.push(request),
                        Err(e) => {
                            let at = requests.len();
                            self.0.type_error.get_or_insert_with(|| format!("requests[{at}]: {e}"));
                        }
                    }
                }
                Ok(requests)
            }
        }

        deserializer.deserialize_seq(Requests(self))
    }
}

fn list_files(dir: &Path) -> Result<BTreeSet<String>, VerifyError> {
    let mut found = BTreeSet::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = pending.pop() {
        let entries = fs::read_dir(&path).map_err(|source| VerifyError::Io { path: path.clone(), source })?;
        for entry in entries {
            let entry = entry.map_err(|source| VerifyError::Io { path: path.clone(), source })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let kind = entry.file_type().map_err(|source| VerifyError::Io { path: entry.path(), source })?;
            if kind.is_dir() {
                pending.push((entry.path(), relative));
            } else if kind.is_file() {
                found.insert(relative);
            } else {
                return Err(VerifyError::NotAFile { path: relative });
            }
        }
    }
    Ok(found)
}

/// The checks the JSON Schema cannot express: order, uniqueness, and that every reference
/// resolves to something declared earlier.
/// `listed` are the bundle's files, `files` the bytes of its bodies.
pub fn check_manifest(manifest: &Manifest, listed: &BTreeSet<&str>, files: &BundleFiles) -> Result<(), VerifyError> {
    if let Some(found) = &manifest.target {
        // Stored canonical, so that the reviewer reads exactly what the executor compares.
        let problem = match crate::Target::parse(found) {
            Ok(target) if target.as_str() == found => None,
            Ok(target) => Some(format!("it reads as `{}`", target.as_str())),
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = problem {
            return Err(VerifyError::BadTarget { found: found.clone(), problem });
        }
    }
    let secret_names: BTreeSet<&str> =
        manifest.secrets.iter().flat_map(|s| s.names.iter().map(String::as_str)).collect();
    let declared_file = manifest.secrets.as_ref().map(|s| s.file.as_str());
    if let Some(stray) =
        [SECRETS_AGE_FILE, SECRETS_AES_FILE].into_iter().find(|f| listed.contains(*f) && declared_file != Some(*f))
    {
        return Err(VerifyError::SecretsUndeclared(stray.to_owned()));
    }
    if let Some(secrets) = &manifest.secrets {
        let expected = secrets.format.file_name();
        if secrets.file != expected {
            let (file, format) = (secrets.file.clone(), secrets.format.to_string());
            return Err(VerifyError::SecretsFileName { file, format, expected });
        }
        if !listed.contains(secrets.file.as_str()) {
            return Err(VerifyError::SecretsFileMissing(secrets.file.clone()));
        }
        if let Some(name) = secrets.names.iter().find(|n| SecretName::parse(n).is_none()) {
            return Err(VerifyError::SecretName(name.clone()));
        }
    }
    let mut positions: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, request) in manifest.requests.iter().enumerate() {
        positions.entry(&request.id).or_insert(index);
    }
    let mut ids: BTreeMap<&str, u64> = BTreeMap::new();
    let mut captures: BTreeMap<&str, u64> = BTreeMap::new();
    let mut first_cutover = None;
    for (index, request) in manifest.requests.iter().enumerate() {
        let fail = |problem| VerifyError::Request { seq: request.seq, id: request.id.clone(), problem };
        let expected = index as u64 + 1;
        if request.seq != expected {
            return Err(fail(RequestProblem::Sequence { expected, found: request.seq }));
        }
        if let Some(first) = ids.insert(&request.id, request.seq) {
            return Err(fail(RequestProblem::DuplicateId { first }));
        }
        match (request.phase, first_cutover) {
            (Phase::Cutover, None) => first_cutover = Some(request.seq),
            (Phase::Migration, Some(first)) => return Err(fail(RequestProblem::MigrationAfterCutover { first })),
            _ => {}
        }
        check_call(request.method, &request.path, &request.params, request.body.as_ref(), files).map_err(fail)?;
        let earlier = |name: &str| captures.contains_key(name);
        check_references(request_references(request), &earlier, &secret_names).map_err(fail)?;
        check_remaps(request).map_err(fail)?;
        check_dependencies(manifest, &positions, index).map_err(fail)?;
        if let Some(probe) = &request.probe {
            check_call(probe.method, &probe.path, &probe.params, probe.body.as_ref(), files).map_err(fail)?;
            let refs = probe_references(probe);
            if let Some(Segment::Secret(name)) = refs.iter().find(|s| matches!(s, Segment::Secret(_))) {
                return Err(fail(RequestProblem::SecretInProbe(name.clone())));
            }
            check_references(refs, &earlier, &secret_names).map_err(fail)?;
            let own: BTreeSet<&str> = request.captures.iter().map(|c| c.name.as_str()).collect();
            let filled: BTreeSet<&str> = probe.captures.iter().map(|c| c.name.as_str()).collect();
            if let Some(name) = filled.difference(&own).next() {
                return Err(fail(RequestProblem::ProbeCaptureUnknown((*name).to_owned())));
            }
            if let Some(name) = own.difference(&filled).next() {
                return Err(fail(RequestProblem::ProbeCaptureMissing((*name).to_owned())));
            }
        }
        for capture in &request.captures {
            if let Some(first) = captures.insert(&capture.name, request.seq) {
                return Err(fail(RequestProblem::DuplicateCapture { name: capture.name.clone(), first }));
            }
        }
    }
    let referenced: BTreeSet<Segment> = manifest.requests.iter().flat_map(request_references).collect();
    if let Some(name) = secret_names.iter().find(|n| !referenced.contains(&Segment::Secret((**n).to_owned()))) {
        return Err(VerifyError::SecretUnused((*name).to_owned()));
    }
    if let Some(reported) = manifest.report.iter().find(|r| !captures.contains_key(r.capture.as_str())) {
        return Err(VerifyError::ReportedUnknown(reported.capture.clone()));
    }
    Ok(())
}

/// Every dependency of request `index` names an earlier request. A cycle always holds a
/// dependency on a later request; it is named as the cycle it is, which says more.
fn check_dependencies(
    manifest: &Manifest,
    positions: &BTreeMap<&str, usize>,
    index: usize,
) -> Result<(), RequestProblem> {
    let requests = &manifest.requests;
    for dependency in &requests[index].depends_on {
        let Some(&position) = positions.get(dependency.as_str()) else {
            return Err(RequestProblem::UnknownDependency(dependency.clone()));
        };
        if position < index {
            continue;
        }
        if let Some(cycle) = path_back(manifest, positions, position, index) {
            let mut named = vec![requests[index].id.clone()];
            named.extend(cycle.into_iter().map(|p| requests[p].id.clone()));
            return Err(RequestProblem::DependencyCycle(named));
        }
        return Err(RequestProblem::ForwardDependency { seq: requests[position].seq, id: dependency.clone() });
    }
    Ok(())
}

/// The requests on a dependency path from `from` to `to`, both included, if there is one.
fn path_back(manifest: &Manifest, positions: &BTreeMap<&str, usize>, from: usize, to: usize) -> Option<Vec<usize>> {
    let mut came_from: BTreeMap<usize, usize> = BTreeMap::new();
    let mut pending = vec![from];
    while let Some(at) = pending.pop() {
        if at == to {
            let mut path = vec![to];
            while let Some(&before) = came_from.get(path.last().expect("not empty")) {
                path.push(before);
            }
            path.reverse();
            return Some(path);
        }
        for dependency in &manifest.requests[at].depends_on {
            if let Some(&next) = positions.get(dependency.as_str())
                && next != from
                && !came_from.contains_key(&next)
            {
                came_from.insert(next, at);
                pending.push(next);
            }
        }
    }
    None
}

/// The review shows each remap as what the request sends: a captured target must be one of the
/// request's references, so the review cannot promise a value the request does not carry.
fn check_remaps(request: &Request) -> Result<(), RequestProblem> {
    let sent: BTreeSet<Segment> = request_references(request).into_iter().collect();
    for remap in &request.remapped {
        if let Some(missing) = remap.target.segments().find(|s| !sent.contains(*s)) {
            return Err(RequestProblem::RemapNotSent(missing.placeholder()));
        }
    }
    Ok(())
}

fn check_call(
    method: Method,
    path: &str,
    params: &[Param],
    body: Option<&Body>,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), RequestProblem> {
    let path_ok = path.starts_with('/') && !path.contains(['?', '#']) && !path.chars().any(char::is_whitespace);
    if !path_ok {
        return Err(RequestProblem::BadPath(path.to_owned()));
    }
    if method == Method::Get && body.is_some() {
        return Err(RequestProblem::GetWithBody);
    }
    let params_in_url = method == Method::Get || body.is_some();
    let secret_param = params.iter().find(|p| p.value.segments().any(|s| matches!(s, Segment::Secret(_))));
    if let (true, Some(param)) = (params_in_url, secret_param) {
        return Err(RequestProblem::SecretInUrl(param.name.clone()));
    }
    let Some(body) = body else { return Ok(()) };
    let in_bodies = body.file.strip_prefix(BODIES_DIR).is_some_and(|rest| rest.starts_with('/'));
    let bytes =
        files.get(&body.file).filter(|_| in_bodies).ok_or_else(|| RequestProblem::BodyMissing(body.file.clone()))?;
    if sums::sha256_hex(bytes) != body.sha256 {
        return Err(RequestProblem::BodyHash(body.file.clone()));
    }
    let mut end_of_previous = 0u64;
    for slot in &body.slots {
        let offset = slot.offset;
        if matches!(slot.value, Segment::Text(_)) {
            return Err(RequestProblem::SlotText { offset });
        }
        if offset < end_of_previous || slot.placeholder.is_empty() {
            return Err(RequestProblem::SlotOrder { offset });
        }
        let end = offset + slot.placeholder.len() as u64;
        let held = usize::try_from(offset).ok().zip(usize::try_from(end).ok()).and_then(|(s, e)| bytes.get(s..e));
        if held != Some(slot.placeholder.as_bytes()) {
            return Err(RequestProblem::SlotMismatch { offset });
        }
        // What the reviewer reads in the body file must name what is sent in its place.
        let expected = slot.value.placeholder();
        let reads = match slot.escape {
            Escape::Xml => xml_unescape(&slot.placeholder),
            Escape::None => slot.placeholder.clone(),
        };
        if reads != expected {
            return Err(RequestProblem::SlotPlaceholder { offset, found: slot.placeholder.clone(), expected });
        }
        end_of_previous = end;
    }
    Ok(())
}

/// The text of XML character data holding only the five predefined entities.
fn xml_unescape(text: &str) -> String {
    let entities = [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&apos;", "'"), ("&amp;", "&")];
    entities.iter().fold(text.to_owned(), |text, (entity, c)| text.replace(entity, c))
}

fn check_references(
    references: Vec<Segment>,
    earlier: &dyn Fn(&str) -> bool,
    secrets: &BTreeSet<&str>,
) -> Result<(), RequestProblem> {
    for reference in references {
        match reference {
            Segment::Capture(name) if !earlier(&name) => {
                return Err(RequestProblem::UnknownCapture(name));
            }
            Segment::Secret(name) if !secrets.contains(name.as_str()) => {
                return Err(RequestProblem::UnknownSecret(name));
            }
            _ => {}
        }
    }
    Ok(())
}

/// What each request waits for, by position: the requests listed in its `depends_on` and those
/// that declare a capture it or its probe uses, each once, in bundle order. For a verified
/// manifest every one is earlier than the request itself.
pub fn dependencies(requests: &[Request]) -> Vec<Vec<usize>> {
    let mut positions: BTreeMap<&str, usize> = BTreeMap::new();
    let mut producers: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, request) in requests.iter().enumerate() {
        positions.entry(&request.id).or_insert(index);
        for capture in &request.captures {
            producers.entry(&capture.name).or_insert(index);
        }
    }
    requests
        .iter()
        .enumerate()
        .map(|(index, request)| {
            let captures =
                request_references(request).into_iter().chain(request.probe.iter().flat_map(probe_references));
            let used = captures.filter_map(|s| match s {
                Segment::Capture(name) => producers.get(name.as_str()).copied(),
                _ => None,
            });
            let listed = request.depends_on.iter().filter_map(|id| positions.get(id.as_str()).copied());
            let all: BTreeSet<usize> = used.chain(listed).filter(|&p| p != index).collect();
            all.into_iter().collect()
        })
        .collect()
}

fn match_references(matcher: &Match) -> impl Iterator<Item = &Segment> {
    matcher.conditions.iter().flat_map(|c| c.equals.segments())
}

/// Every capture or secret a request uses: parameters, body slots, and the values its own
/// captures match on.
fn request_references(request: &Request) -> Vec<Segment> {
    let extracts = request.captures.iter().filter_map(|c| match &c.extract {
        Extract::Match { matcher, .. } => Some(matcher),
        _ => None,
    });
    request
        .references()
        .chain(extracts.flat_map(match_references))
        .filter(|s| !matches!(s, Segment::Text(_)))
        .cloned()
        .collect()
}

fn probe_references(probe: &crate::manifest::Probe) -> Vec<Segment> {
    let params = probe.params.iter().flat_map(|p| p.value.segments());
    let slots = probe.body.iter().flat_map(|b| b.slots.iter().map(|s| &s.value));
    params
        .chain(slots)
        .chain(match_references(&probe.exists))
        .filter(|s| !matches!(s, Segment::Text(_)))
        .cloned()
        .collect()
}
