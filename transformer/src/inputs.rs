//! What the API cannot provide and the operator supplies (`--inputs DIR`): mapping tables from
//! source objects to objects that already exist in the target. Each is a CSV file with a header
//! row `source,target`; `source` is the object's ID or name in the source, `target` what the
//! target calls it (an ID; for appliances an ID or a name, for business units a title). Every
//! row is checked, and errors name the file and line. `INPUTS.md` documents each file.

use std::collections::BTreeMap;
use std::path::Path;

use qmig_schemas::{SourceFile, sha256_hex};

use crate::error::TransformError;

/// The mapping tables qmig reads, by file name, with what each maps.
const KNOWN: &[(&str, &str)] = &[
    ("networks.csv", "networks mapping"),
    ("appliances.csv", "appliances mapping"),
    ("business_units.csv", "business units mapping"),
    ("vaults.csv", "authentication vaults mapping"),
];

#[derive(Debug, Default)]
pub struct Inputs {
    pub networks: Mapping,
    pub appliances: Mapping,
    pub business_units: Mapping,
    pub vaults: Mapping,
    /// The files read, for the manifest.
    pub files: Vec<SourceFile>,
    /// Files of the inputs directory that qmig does not read.
    pub ignored: Vec<String>,
}

/// One `source,target` table.
#[derive(Debug, Default, Clone)]
pub struct Mapping {
    /// Display name (`inputs/networks.csv`), empty when the file was not supplied.
    pub file: String,
    pub rows: Vec<MappingRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRow {
    pub source: String,
    pub target: String,
    pub line: u64,
}

impl Mapping {
    /// The row for a source object, matched by its ID first, then by its name.
    pub fn lookup(&self, id: &str, name: &str) -> Option<&MappingRow> {
        self.rows.iter().find(|r| r.source == id).or_else(|| self.rows.iter().find(|r| r.source == name))
    }
}

impl Inputs {
    pub fn load(dir: Option<&Path>) -> Result<Inputs, TransformError> {
        let mut inputs = Inputs::default();
        let Some(dir) = dir else { return Ok(inputs) };
        let entries =
            std::fs::read_dir(dir).map_err(|source| TransformError::Io { path: dir.to_path_buf(), source })?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| !name.starts_with('.'))
            .collect();
        names.sort();
        for name in names {
            let Some((_, kind)) = KNOWN.iter().find(|(known, _)| *known == name) else {
                inputs.ignored.push(name);
                continue;
            };
            let path = dir.join(&name);
            let bytes = std::fs::read(&path).map_err(|source| TransformError::Io { path: path.clone(), source })?;
            let display = format!("inputs/{name}");
            let mapping = parse_mapping(&display, &bytes)?;
            inputs.files.push(SourceFile { path: display, sha256: sha256_hex(&bytes), kind: (*kind).to_owned() });
            match name.as_str() {
                "networks.csv" => inputs.networks = mapping,
                "appliances.csv" => inputs.appliances = mapping,
                "business_units.csv" => inputs.business_units = mapping,
                "vaults.csv" => inputs.vaults = mapping,
                _ => unreachable!("every name of KNOWN has its table"),
            }
        }
        Ok(inputs)
    }
}

/// Parses a `source,target` table strictly: both columns present and non-empty on every row,
/// each source mapped once.
pub fn parse_mapping(display: &str, bytes: &[u8]) -> Result<Mapping, TransformError> {
    let error = |line: u64, message: String| TransformError::Input { file: display.to_owned(), line, message };
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(bytes);
    let headers = reader.headers().map_err(|e| error(1, e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(source_column), Some(target_column)) = (column("source"), column("target")) else {
        return Err(error(1, "the header row must name the columns `source` and `target`".to_owned()));
    };
    let mut rows = Vec::new();
    let mut first_line: BTreeMap<String, u64> = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| error(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, csv::Position::line);
        let source = record.get(source_column).unwrap_or_default().to_owned();
        let target = record.get(target_column).unwrap_or_default().to_owned();
        if source.is_empty() || target.is_empty() {
            return Err(error(line, "both `source` and `target` must have a value".to_owned()));
        }
        if let Some(first) = first_line.insert(source.clone(), line) {
            return Err(error(line, format!("`{source}` is already mapped on line {first}")));
        }
        rows.push(MappingRow { source, target, line });
    }
    Ok(Mapping { file: display.to_owned(), rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_with_their_lines() {
        let mapping =
            parse_mapping("inputs/networks.csv", b"source,target\nCorp East, 2201\n1104,2202\n").expect("valid");
        assert_eq!(mapping.rows[0], MappingRow { source: "Corp East".into(), target: "2201".into(), line: 2 });
        assert_eq!(mapping.lookup("1104", "DMZ").map(|r| r.target.as_str()), Some("2202"));
        assert_eq!(mapping.lookup("1103", "Corp East").map(|r| r.line), Some(2));
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let cases: [(&[u8], u64, &str); 4] = [
            (b"from,to\na,b\n", 1, "header row"),
            (b"source,target\na,\n", 2, "must have a value"),
            (b"source,target\na,1\nb,2\na,3\n", 4, "already mapped on line 2"),
            (b"source,target\na,1,extra\n", 2, "fields"),
        ];
        for (bytes, line, text) in cases {
            let err = parse_mapping("inputs/x.csv", bytes).expect_err("invalid");
            let message = err.to_string();
            assert!(message.starts_with(&format!("inputs/x.csv:{line}:")), "{message}");
            assert!(message.contains(text), "{message}");
        }
    }
}
