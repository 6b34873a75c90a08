//! Reading an export directory: every file's kind is recognised from its root element (never its
//! name), pages of one list are merged with duplicates detected, truncated lists must have their
//! next page, and files that are not a known export are listed rather than ignored. Damaged and
//! failed captures (malformed XML, an error response, a field given twice) and special files
//! are refused: skipping them would drop their objects without anyone noticing.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use qmig_schemas::{SourceFile, SourceRef, Unrecognised, Warning};
use rayon::prelude::*;
use walkdir::WalkDir;

use crate::error::TransformError;
use crate::tasks::auth_records::types as auth_types;
use crate::xml::{self, Document, Element, Prologue, RecordPaths, Shape};

/// The kinds of exported document qmig reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    NetworkList,
    IpList,
    DomainList,
    AssetGroupList,
    UserList,
    UserPrefs,
    ApplianceList,
    SubscriptionConfig,
    VirtualHostList,
    Ipv6MappingList,
    TagSearch,
    AuthInventory,
    AuthRecordList,
    VaultList,
    StaticSearchList,
    DynamicSearchList,
    OptionProfiles,
    ReportTemplateList,
    ReportTemplate,
    ScheduleList,
    PolicyList,
    PolicyExport,
}

/// How a kind of document is recognised and cut into records.
pub struct KindSpec {
    pub kind: Kind,
    /// How the review names it (`network list`).
    pub label: &'static str,
    /// Root elements that identify it.
    pub roots: &'static [&'static str],
    /// Where its records are, below the root.
    pub records: RecordPaths,
    /// Child paths whose texts identify a record across pages; empty when records are not objects.
    pub key: &'static [&'static str],
    /// The numeric ID a truncated list continues from (`id_min` in the WARNING's URL).
    pub paging_id: Option<&'static str>,
    /// Fields of a record that may be given more than once, besides the items of lists
    /// (elements named `*_LIST`, `*_SET`, `list`): a virtual host's FQDNs, a user's groups.
    pub repeatable: &'static [&'static str],
}

/// How the files of the target's export are named in messages and the manifest.
const TARGET_PREFIX: &str = "target-export/";

pub const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: Kind::NetworkList,
        label: "network list",
        roots: &["NETWORK_LIST_OUTPUT"],
        records: &["RESPONSE/NETWORK_LIST/NETWORK"],
        key: &["ID"],
        paging_id: Some("ID"),
        repeatable: &[],
    },
    KindSpec {
        kind: Kind::IpList,
        label: "IP list",
        roots: &["IP_LIST_OUTPUT"],
        records: &["RESPONSE/IP_SET/*"],
        key: &[],
        paging_id: None,
        repeatable: &[],
    },
    KindSpec {
        kind: Kind::DomainList,
        label: "domain list",
        // V1 /msp/asset_domain_list.php and the v2 domain list.
        roots: &["DOMAIN_LIST", "DOMAIN_LIST_OUTPUT"],
        records: &["DOMAIN", "RESPONSE/DOMAIN_LIST/DOMAIN"],
        key: &["DOMAIN_NAME"],
        paging_id: Some("DOMAIN_ID"),
        repeatable: &[],
    },
    KindSpec {
        kind: Kind::AssetGroupList,
        label: "asset group list",
        roots: &["ASSET_GROUP_LIST_OUTPUT"],
        records: &["RESPONSE/ASSET_GROUP_LIST/ASSET_GROUP"],
        key: &["ID"],
        paging_id: Some("ID"),
        repeatable: &[],
    },
    KindSpec {
        kind: Kind::UserList,
        label: "user list",
        // V1 `/msp/user_list.php` puts the list directly under the root.
        roots: &["USER_LIST_OUTPUT"],
        records: &["USER_LIST/USER", "RESPONSE/USER_LIST/USER"],
        key: &["USER_LOGIN"],
        paging_id: None,
        repeatable: &["ASSET_GROUP_TITLE"],
    },
    KindSpec {
        kind: Kind::UserPrefs,
        label: "user preferences",
        // One document per user, imported as it is: no records.
        roots: &["USER_PREFS_OUTPUT", "USER_PREFS"],
        records: &[],
        key: &[],
        paging_id: None,
        repeatable: &[],
    },
    KindSpec {
        kind: Kind::ApplianceList,
        label: "scanner appliance list",
        roots: &["APPLIANCE_LIST_OUTPUT"],
        records: &["RESPONSE/APPLIANCE_LIST/APPLIANCE"],
        key: &["ID"],
        paging_id: Some("ID"),
        repeatable: &[],
    },
    KindSpec {
        kind: Kind::SubscriptionConfig,
        label: "subscription configuration",
        // The guide names its settings `RECORD > SUBSCRIPTION > FO > ...`; imported as it is.
        roots: &["RECORD"],
        records: &[],
        key: &[],
        paging_id: None,
        repeatable: &[],
    },
    KindSpec {
        kind: Kind::VirtualHostList,
        label: "virtual host list",
        roots: &["VIRTUAL_HOST_LIST_OUTPUT"],
        records: &["RESPONSE/VIRTUAL_HOST_LIST/VIRTUAL_HOST"],
        key: &["IP", "PORT", "NETWORK_ID"],
        paging_id: None,
        repeatable: &["FQDN"],
    },
    KindSpec {
        kind: Kind::Ipv6MappingList,
        label: "IPv6 mapping list",
        roots: &["IP_MAP_LIST_OUTPUT"],
        records: &["RESPONSE/IP_MAP_LIST/IP_MAP"],
        key: &["ID", "V4"],
        paging_id: Some("ID"),
        repeatable: &[],
    },
    KindSpec {
        kind: Kind::TagSearch,
        label: "tag search",
        // The root of every QPS response: `load_file` keeps only tag searches.
        roots: &["ServiceResponse"],
        records: &["data/*"],
        key: &["id"],
        paging_id: Some("id"),
        repeatable: &[],
    },
    KindSpec {
        kind: Kind::AuthInventory,
        label: "authentication record inventory",
        roots: &["AUTH_LIST_OUTPUT"],
        // One record per type: `AUTH_UNIX_RECORDS/ID_SET`.
        records: &["RESPONSE/AUTH_RECORDS/*"],
        key: &[],
        paging_id: None,
        repeatable: &[],
    },
    KindSpec {
        kind: Kind::AuthRecordList,
        label: "authentication record list",
        // One document per type (`AUTH_UNIX_LIST_OUTPUT`); the record's type is its root's.
        roots: auth_types::LIST_ROOTS,
        records: auth_types::RECORD_PATHS,
        key: &["ID"],
        paging_id: Some("ID"),
        // Tag targets list their tags as TAG_ID children (UNVERIFIED layout).
        repeatable: &["TAG_ID"],
    },
    KindSpec {
        kind: Kind::VaultList,
        label: "authentication vault list",
        roots: &["AUTH_VAULT_LIST_OUTPUT"],
        records: &["RESPONSE/AUTH_VAULTS/AUTH_VAULT"],
        key: &["ID"],
        paging_id: Some("ID"),
        repeatable: &[],
    },
    KindSpec {
        kind: Kind::StaticSearchList,
        label: "static search lists",
        roots: &["STATIC_SEARCH_LIST_OUTPUT"],
        records: &["RESPONSE/STATIC_LISTS/STATIC_LIST"],
        key: &["ID"],
        paging_id: Some("ID"),
        repeatable: &["QID"],
    },
    KindSpec {
        kind: Kind::DynamicSearchList,
        label: "dynamic search lists",
        // The DTD's root, and the one the documentation's sample prints.
        roots: &["DYNAMIC_SEARCH_LIST_OUTPUT", "SEARCH_LIST_OUTPUT"],
        records: &["RESPONSE/DYNAMIC_LISTS/DYNAMIC_LIST"],
        key: &["ID"],
        paging_id: Some("ID"),
        repeatable: &["QID"],
    },
    KindSpec {
        kind: Kind::OptionProfiles,
        label: "option profile export",
        roots: &["OPTION_PROFILES"],
        records: &["OPTION_PROFILE"],
        key: &["BASIC_INFO/ID"],
        paging_id: None,
        repeatable: &[],
    },
    KindSpec {
        kind: Kind::ReportTemplateList,
        label: "report template list",
        // V1 `/msp/report_template_list.php`: every template of every type.
        roots: &["REPORT_TEMPLATE_LIST"],
        records: &["REPORT_TEMPLATE"],
        key: &["ID"],
        paging_id: None,
        repeatable: &[],
    },
    KindSpec {
        kind: Kind::ReportTemplate,
        label: "report template export",
        // `/api/2.0/fo/report/template/<type>/?action=export`: one `SCANTEMPLATE`,
        // `PATCHTEMPLATE`, ... per template. The body carries no ID, so pages are not merged:
        // each file is tied to its row of the list by the task.
        roots: &["REPORTTEMPLATE"],
        records: &["*"],
        key: &[],
        paging_id: None,
        // Every setting is an `INFO` told apart by its `key` (checked by the task).
        repeatable: &["INFO"],
    },
    KindSpec {
        kind: Kind::ScheduleList,
        label: "scan schedule list",
        // VM and PC lists share the root; the schedules task tells them apart.
        roots: &["SCHEDULE_SCAN_LIST_OUTPUT"],
        records: &["RESPONSE/SCHEDULE_SCAN_LIST/SCAN"],
        // No paging is documented, and whether VM and PC IDs share one sequence is not either.
        key: &[],
        paging_id: None,
        repeatable: &[],
    },
    KindSpec {
        kind: Kind::PolicyList,
        label: "compliance policy list",
        roots: &["POLICY_LIST_OUTPUT"],
        records: &["RESPONSE/POLICY_LIST/POLICY"],
        key: &["ID"],
        paging_id: Some("ID"),
        repeatable: &["TAG_ID"],
    },
    KindSpec {
        kind: Kind::PolicyExport,
        label: "compliance policy export",
        // One document per policy, tied to its list row by the policies task.
        roots: &["POLICY_EXPORT_OUTPUT"],
        records: &["RESPONSE/POLICY"],
        key: &[],
        paging_id: None,
        repeatable: &[],
    },
];

impl Kind {
    pub fn spec(self) -> &'static KindSpec {
        KINDS.iter().find(|s| s.kind == self).expect("every kind has a spec")
    }
}

/// One recognised file of the export.
#[derive(Debug)]
pub struct ExportFile {
    /// Path relative to the export directory, `/`-separated; files of the target's export
    /// are named `target-export/...`, so no message confuses them with the source's.
    pub path: String,
    pub kind: Kind,
    pub document: Document,
}

impl ExportFile {
    /// The records of this file, in document order.
    pub fn records(&self) -> impl Iterator<Item = Record<'_>> {
        self.document.records.iter().map(move |element| Record { file: self, element })
    }

    /// The document as a whole (its root with everything that is not a record).
    pub fn head(&self) -> Record<'_> {
        Record { file: self, element: &self.document.head }
    }

    /// A parameter of the request the capture echoed (`echo_request=1`).
    pub fn echoed(&self, key: &str) -> Option<&str> {
        let params = self.document.head.all("REQUEST/PARAM_LIST/PARAM");
        params.filter(|p| p.text_at("KEY") == Some(key)).find_map(|p| p.text_at("VALUE"))
    }

    /// The file name without directory and extension, for the naming conventions of captures
    /// that do not say what they hold (`ip_list_vm_dns`).
    pub fn stem(&self) -> &str {
        let name = self.path.rsplit('/').next().unwrap_or(&self.path);
        name.rsplit_once('.').map_or(name, |(stem, _)| stem)
    }
}

/// A record of a list, with the file it came from.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub file: &'a ExportFile,
    pub element: &'a Element,
}

impl<'a> Record<'a> {
    /// Where the record is, naming the object by its ID and title when it has them.
    pub fn source(&self, id: Option<&str>, title: Option<&str>) -> SourceRef {
        SourceRef {
            file: self.file.path.clone(),
            line: self.element.line,
            id: id.map(str::to_owned),
            title: title.map(str::to_owned),
        }
    }

    /// An element inside this record (a netblock range, a VLAN), so that errors name its line.
    pub fn nested(&self, element: &'a Element) -> Record<'a> {
        Record { file: self.file, element }
    }

    /// An error about this record's content.
    pub fn invalid(&self, object: &str, problem: impl Into<String>) -> TransformError {
        TransformError::InvalidObject {
            source_ref: self.source(None, None),
            object: object.to_owned(),
            problem: problem.into(),
        }
    }

    /// Trimmed text of a field, or `None` when missing or blank.
    pub fn text(&self, path: &str) -> Option<&'a str> {
        self.element.text_at(path)
    }

    /// Trimmed text of a field the object cannot do without, or an error naming it.
    pub fn required(&self, object: &str, path: &str) -> Result<&'a str, TransformError> {
        self.text(path).ok_or_else(|| self.invalid(object, format!("has no {path}")))
    }
}

/// Everything read from one export directory.
#[derive(Debug)]
pub struct Export {
    pub root: PathBuf,
    /// What the names of its files start with: empty for the source's export.
    prefix: &'static str,
    files: Vec<ExportFile>,
    pub unrecognised: Vec<Unrecognised>,
    /// Duplicates across pages that were identical and kept once.
    pub warnings: Vec<Warning>,
}

impl Export {
    /// Reads every file below `root`. `strict` turns unrecognised files into errors.
    pub fn load(root: &Path, strict: bool) -> Result<Export, TransformError> {
        Export::read(root, strict, "")
    }

    /// Reads the target's own export (`--target-export`), its files named `target-export/...`.
    pub fn load_target(root: &Path) -> Result<Export, TransformError> {
        Export::read(root, false, TARGET_PREFIX)
    }

    fn read(root: &Path, strict: bool, prefix: &'static str) -> Result<Export, TransformError> {
        if !root.exists() {
            return Err(TransformError::ExportMissing(root.to_path_buf()));
        }
        if !root.is_dir() {
            return Err(TransformError::NotADirectory(root.to_path_buf()));
        }
        let paths = list_files(root)?;
        if paths.is_empty() {
            return Err(TransformError::ExportEmpty(root.to_path_buf()));
        }
        let loaded: Vec<Result<Loaded, TransformError>> =
            paths.par_iter().map(|(relative, path)| load_file(&format!("{prefix}{relative}"), path)).collect();
        let mut files = Vec::new();
        let mut unrecognised = Vec::new();
        for result in loaded {
            match result? {
                Loaded::File(file) => files.push(file),
                Loaded::Unrecognised(entry) if strict => {
                    return Err(TransformError::Unrecognised { file: entry.path, reason: entry.reason });
                }
                Loaded::Unrecognised(entry) => unrecognised.push(entry),
            }
        }
        if files.is_empty() {
            return Err(TransformError::ExportEmpty(root.to_path_buf()));
        }
        let mut export = Export { root: root.to_path_buf(), prefix, files, unrecognised, warnings: Vec::new() };
        export.merge_pages()?;
        export.check_truncation()?;
        Ok(export)
    }

    /// The recognised files, for the manifest.
    pub fn source_files(&self) -> Vec<SourceFile> {
        self.files
            .iter()
            .map(|f| SourceFile {
                path: f.path.clone(),
                sha256: f.document.sha256.clone(),
                kind: f.kind.spec().label.to_owned(),
            })
            .collect()
    }

    /// The files of one kind, in path order.
    pub fn files(&self, kind: Kind) -> impl Iterator<Item = &ExportFile> {
        self.files.iter().filter(move |f| f.kind == kind)
    }

    /// The bytes of a file, for the imports that send an exported document as it is: exactly
    /// the file's, except that a UTF-16 file is sent in UTF-8 (its declaration saying so), the
    /// encoding every Qualys import is documented with. A file that changed since it was read
    /// would make the bundle disagree with its manifest.
    pub fn bytes(&self, file: &ExportFile) -> Result<Vec<u8>, TransformError> {
        let path = self.root.join(file.path.strip_prefix(self.prefix).unwrap_or(&file.path));
        let bytes = std::fs::read(&path).map_err(|source| TransformError::Io { path: path.clone(), source })?;
        if qmig_schemas::sha256_hex(&bytes) != file.document.sha256 {
            let source = std::io::Error::other("the file changed while qmig was reading the export");
            return Err(TransformError::Io { path, source });
        }
        xml::as_utf8(bytes).map_err(|source| TransformError::Io { path, source })
    }

    /// Every record of one kind over all its pages, in path order, duplicates removed.
    pub fn records(&self, kind: Kind) -> impl Iterator<Item = Record<'_>> {
        self.files(kind).flat_map(ExportFile::records)
    }

    /// Identical objects on several pages are kept once (with a warning); the same key with a
    /// different content is an error, since either capture could be the true one.
    fn merge_pages(&mut self) -> Result<(), TransformError> {
        let mut seen: BTreeMap<(Kind, String), (usize, usize)> = BTreeMap::new();
        let mut drop: BTreeSet<(usize, usize)> = BTreeSet::new();
        for (file_index, file) in self.files.iter().enumerate() {
            let spec = file.kind.spec();
            if spec.key.is_empty() {
                continue;
            }
            for (record_index, element) in file.document.records.iter().enumerate() {
                let parts: Vec<&str> = spec.key.iter().map(|k| element.text_at(k).unwrap_or("")).collect();
                let (first_file, first_record) = match seen.entry((file.kind, parts.join("/"))) {
                    Entry::Vacant(slot) => {
                        slot.insert((file_index, record_index));
                        continue;
                    }
                    Entry::Occupied(slot) => *slot.get(),
                };
                let key = parts.join("/");
                let here = Record { file, element };
                let first_file = &self.files[first_file];
                let first = Record { file: first_file, element: &first_file.document.records[first_record] };
                if !first.element.same_content(element) {
                    return Err(TransformError::ConflictingDuplicate {
                        kind: spec.label.to_owned(),
                        key,
                        first: first.source(None, None),
                        second: here.source(None, None),
                    });
                }
                self.warnings.push(Warning {
                    task: "export".to_owned(),
                    message: format!(
                        "{} {key} is listed again identically at {}:{}; kept once",
                        spec.label, file.path, element.line
                    ),
                    source: Some(first.source(None, None)),
                });
                drop.insert((file_index, record_index));
            }
        }
        if drop.is_empty() {
            return Ok(());
        }
        // In one pass per file: removing records one by one would move the rest of a large
        // page for each duplicate.
        for (file_index, file) in self.files.iter_mut().enumerate() {
            let mut record_index = 0;
            file.document.records.retain(|_| {
                record_index += 1;
                !drop.contains(&(file_index, record_index - 1))
            });
        }
        Ok(())
    }

    /// A page that says it was truncated must be followed by its next page somewhere in the
    /// export; otherwise objects would be missing without anyone noticing.
    fn check_truncation(&self) -> Result<(), TransformError> {
        for file in &self.files {
            let head = &file.document.head;
            // A QPS page may say it has more records while holding none (a known Qualys bug):
            // that is the end of the list.
            if head.text_at("hasMoreRecords") == Some("true") && !file.document.records.is_empty() {
                let last_id = head.text_at("lastId").unwrap_or_default().to_owned();
                let id_min = last_id.parse::<u64>().ok().and_then(|id| id.checked_add(1));
                if !self.continued(file, id_min) {
                    return Err(TransformError::SearchTruncated { file: file.path.clone(), last_id });
                }
                continue;
            }
            let Some(warning) = head.at("RESPONSE/WARNING") else { continue };
            if warning.text_at("CODE") != Some("1980") {
                continue;
            }
            let url = warning.text_at("URL").unwrap_or_default().to_owned();
            let id_min =
                url.split(['?', '&']).find_map(|pair| pair.strip_prefix("id_min=")).and_then(|v| v.parse::<u64>().ok());
            if !self.continued(file, id_min) {
                return Err(TransformError::Truncated { file: file.path.clone(), url });
            }
        }
        Ok(())
    }

    /// Whether another page of the same list (same kind and root: each authentication record
    /// type is a list of its own) holds a record from `id_min` on (any other page, when the next
    /// ID is not known).
    fn continued(&self, file: &ExportFile, id_min: Option<u64>) -> bool {
        let paging_id = file.kind.spec().paging_id;
        let pages = self.files(file.kind).filter(|other| other.path != file.path);
        let mut pages = pages.filter(|other| other.document.head.name == file.document.head.name);
        pages.any(|other| match (id_min, paging_id) {
            (Some(min), Some(key)) => other
                .document
                .records
                .iter()
                .any(|r| r.text_at(key).and_then(|v| v.parse::<u64>().ok()).is_some_and(|id| id >= min)),
            _ => true,
        })
    }
}

enum Loaded {
    File(ExportFile),
    Unrecognised(Unrecognised),
}

fn list_files(root: &Path) -> Result<Vec<(String, PathBuf)>, TransformError> {
    let mut paths = Vec::new();
    for entry in WalkDir::new(root).sort_by_file_name().follow_links(true) {
        let entry = entry.map_err(|e| TransformError::Io {
            path: e.path().map_or_else(|| root.to_path_buf(), Path::to_path_buf),
            source: e.into_io_error().unwrap_or_else(|| std::io::Error::other("directory loop")),
        })?;
        let hidden = entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.');
        let file_type = entry.file_type();
        if hidden || file_type.is_dir() {
            continue;
        }
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let relative: Vec<String> =
            relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        let relative = relative.join("/");
        // Opening a FIFO blocks until someone writes to it, and a device may never end.
        if !file_type.is_file() {
            return Err(TransformError::SpecialFile { file: relative, kind: special_kind(file_type) });
        }
        paths.push((relative, entry.path().to_path_buf()));
    }
    Ok(paths)
}

#[cfg(unix)]
fn special_kind(file_type: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: std::fs::FileType) -> &'static str {
    "a special file"
}

fn load_file(relative: &str, path: &Path) -> Result<Loaded, TransformError> {
    let unrecognised = |reason: String| Ok(Loaded::Unrecognised(Unrecognised { path: relative.to_owned(), reason }));
    match xml::classify(path, relative)? {
        Shape::Xml => {}
        Shape::NotXml => return unrecognised("not an XML document".to_owned()),
        Shape::Empty => return Err(TransformError::EmptyFile { file: relative.to_owned() }),
        Shape::HttpHeaders(status_line) => {
            return Err(TransformError::HttpHeaders { file: relative.to_owned(), status_line });
        }
    }
    let prologue = xml::sniff(path, relative)?;
    if prologue.root.eq_ignore_ascii_case("html") {
        return Err(TransformError::HtmlPage { file: relative.to_owned() });
    }
    check_doctype(relative, &prologue)?;
    let spec = KINDS.iter().find(|s| s.roots.contains(&prologue.root.as_str()));
    let document = match spec {
        Some(spec) => xml::read_document(path, relative, spec.records)?,
        None => xml::read_outline(path, relative)?,
    };
    if let Some((code, text)) = captured_failure(&document.head) {
        return Err(TransformError::ErrorResponse { file: relative.to_owned(), code, text });
    }
    let Some(spec) = spec else {
        let reason = match prologue.root.as_str() {
            "SIMPLE_RETURN" | "GENERIC_RETURN" => format!("a {} response, not a list", prologue.root),
            root => format!("root element <{root}> is not a kind qmig migrates"),
        };
        return unrecognised(reason);
    };
    let file = ExportFile { path: relative.to_owned(), kind: spec.kind, document };
    if spec.kind == Kind::TagSearch
        && let Some(reason) = not_a_tag_search(relative, &file.document)?
    {
        return unrecognised(reason);
    }
    file.records().try_for_each(|record| check_fields(record, record.element, ""))?;
    Ok(Loaded::File(file))
}

/// A DOCTYPE names the root element it describes: a file whose root differs was damaged or
/// assembled by hand wrongly, and cannot be trusted to be the list it claims to be.
fn check_doctype(relative: &str, prologue: &Prologue) -> Result<(), TransformError> {
    match prologue.doctype.as_deref().and_then(|d| d.split_whitespace().next()) {
        Some(declared) if declared != prologue.root => Err(TransformError::DoctypeMismatch {
            file: relative.to_owned(),
            line: prologue.line,
            declared: declared.to_owned(),
            root: prologue.root.clone(),
        }),
        _ => Ok(()),
    }
}

/// The code and text of a captured error, in every form the APIs qmig captures write one:
/// `SIMPLE_RETURN` with a numeric CODE (v2), `RETURN status="FAILED"` (V1: `GENERIC_RETURN`,
/// `USER_OUTPUT`, ...) and `ERROR` (V1 `user_list.php`), in any root.
fn captured_failure(head: &Element) -> Option<(String, String)> {
    let no_code = || "(none)".to_owned();
    if head.name == "SIMPLE_RETURN" {
        let code = head.text_at("RESPONSE/CODE").filter(|c| c.chars().all(|c| c.is_ascii_digit()))?;
        return Some((code.to_owned(), head.text_at("RESPONSE/TEXT").unwrap_or_default().to_owned()));
    }
    let failed =
        head.children_named("RETURN").find(|r| r.attr("status").is_some_and(|s| s.eq_ignore_ascii_case("FAILED")));
    if let Some(failed) = failed {
        let text = failed.text_at("MESSAGE").unwrap_or_else(|| failed.value());
        return Some((failed.attr("number").map_or_else(no_code, str::to_owned), text.to_owned()));
    }
    let error = head.child("ERROR")?;
    Some((error.attr("number").map_or_else(no_code, str::to_owned), error.value().to_owned()))
}

/// A field given twice in one record cannot be resolved: either value could be the true one.
/// `path` is where `element` is below the record (`CONTACT_INFO/`).
fn check_fields(record: Record<'_>, element: &Element, path: &str) -> Result<(), TransformError> {
    let spec = record.file.kind.spec();
    let list = element.name.ends_with("_LIST") || element.name.ends_with("_SET") || element.name == "list";
    let mut seen: BTreeMap<&str, &Element> = BTreeMap::new();
    for child in &element.children {
        if !child.children.is_empty() {
            check_fields(record, child, &format!("{path}{}/", child.name))?;
            continue;
        }
        if list || spec.repeatable.contains(&child.name.as_str()) {
            continue;
        }
        if let Some(first) = seen.insert(&child.name, child) {
            let key: Vec<&str> = spec.key.iter().filter_map(|k| record.text(k)).collect();
            let id = (!key.is_empty()).then(|| key.join("/"));
            return Err(TransformError::DuplicateField {
                source_ref: record.source(id.as_deref(), None),
                kind: spec.label.to_owned(),
                field: format!("{path}{}", child.name),
                first_line: first.line,
                second_line: child.line,
            });
        }
    }
    Ok(())
}

/// Every QPS response has the root `ServiceResponse`: a failure is refused like a SIMPLE_RETURN
/// error, and a search for other objects (HostAsset, WebApp, ...) is listed rather than read as
/// tags. `Some(reason)` when the response is not a tag search.
fn not_a_tag_search(relative: &str, document: &Document) -> Result<Option<String>, TransformError> {
    let code = document.head.text_at("responseCode").unwrap_or("(none)");
    if code != "SUCCESS" {
        let text = document.head.text_at("responseErrorDetails/errorMessage").unwrap_or("no error message");
        return Err(TransformError::ErrorResponse {
            file: relative.to_owned(),
            code: code.to_owned(),
            text: text.to_owned(),
        });
    }
    if let Some(other) = document.records.iter().find(|r| r.name != "Tag") {
        return Ok(Some(format!("a QPS response listing {} objects, not tags", other.name)));
    }
    // An empty page says what it would have held only through its schema.
    let schema = document.head.attr("xsi:noNamespaceSchemaLocation").unwrap_or_default();
    if document.records.is_empty() && !schema.is_empty() && !schema.ends_with("/tag.xsd") {
        return Ok(Some(format!("an empty QPS response described by {schema}, not a tag search")));
    }
    Ok(None)
}
