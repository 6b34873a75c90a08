//! What the API cannot provide and the operator supplies (`--inputs DIR`): mapping tables from
//! source objects to objects that already exist in the target, and values the source lacks.
//! Each mapping is a CSV file with a header row `source,target`; `source` is the object's ID or
//! name in the source, `target` what the target calls it (an ID; for appliances an ID or a
//! name, for business units a title). `user_fields.csv` (`login,field,value`) supplies or
//! corrects the contact fields a user is added with. Every row is checked, and errors name the
//! file and line. `INPUTS.md` documents each file.

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
    ("distribution_groups.csv", "distribution groups mapping"),
    ("user_fields.csv", "user fields"),
];

/// The fields of a user that `user_fields.csv` may supply, as the Add User call names them.
/// The name and email are not among them: they identify the person in the target.
pub const USER_FIELDS: &[&str] =
    &["title", "phone", "fax", "address1", "address2", "city", "country", "state", "zip_code", "external_id"];

#[derive(Debug, Default)]
pub struct Inputs {
    pub networks: Mapping,
    pub appliances: Mapping,
    pub business_units: Mapping,
    pub vaults: Mapping,
    pub distribution_groups: Mapping,
    pub user_fields: FieldValues,
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

/// Values the operator supplies for fields of source objects (`login,field,value`).
#[derive(Debug, Default, Clone)]
pub struct FieldValues {
    /// Display name (`inputs/user_fields.csv`), empty when the file was not supplied.
    pub file: String,
    pub rows: Vec<FieldRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRow {
    /// The object's key in the source (a user's login).
    pub object: String,
    pub field: String,
    pub value: String,
    pub line: u64,
}

impl FieldValues {
    pub fn get(&self, object: &str, field: &str) -> Option<&FieldRow> {
        self.rows.iter().find(|r| r.object == object && r.field == field)
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
            match name.as_str() {
                "networks.csv" => inputs.networks = parse_mapping(&display, &bytes)?,
                "appliances.csv" => inputs.appliances = parse_mapping(&display, &bytes)?,
                "business_units.csv" => inputs.business_units = parse_mapping(&display, &bytes)?,
                "vaults.csv" => inputs.vaults = parse_mapping(&display, &bytes)?,
                "distribution_groups.csv" => inputs.distribution_groups = parse_mapping(&display, &bytes)?,
                "user_fields.csv" => inputs.user_fields = parse_fields(&display, &bytes, "login", USER_FIELDS)?,
                _ => unreachable!("every name of KNOWN has its table"),
            }
            inputs.files.push(SourceFile { path: display, sha256: sha256_hex(&bytes), kind: (*kind).to_owned() });
        }
        Ok(inputs)
    }
}

/// Parses a `source,target` table strictly: both columns present and non-empty on every row,
/// each source mapped once.
pub fn parse_mapping(display: &str, bytes: &[u8]) -> Result<Mapping, TransformError> {
    let mut rows = Vec::new();
    let mut first_line: BTreeMap<String, u64> = BTreeMap::new();
    for (line, mut values) in read_table(display, bytes, &["source", "target"])? {
        let (target, source) = (values.pop().unwrap_or_default(), values.pop().unwrap_or_default());
        if let Some(first) = first_line.insert(source.clone(), line) {
            return Err(input_error(display, line, format!("`{source}` is already mapped on line {first}")));
        }
        rows.push(MappingRow { source, target, line });
    }
    Ok(Mapping { file: display.to_owned(), rows })
}

/// Parses a `KEY,field,value` table strictly: every value present, each field one of `fields`,
/// and given once per object.
pub fn parse_fields(display: &str, bytes: &[u8], key: &str, fields: &[&str]) -> Result<FieldValues, TransformError> {
    let mut rows = Vec::new();
    let mut first_line: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (line, mut values) in read_table(display, bytes, &[key, "field", "value"])? {
        let (value, field, object) =
            (values.pop().unwrap_or_default(), values.pop().unwrap_or_default(), values.pop().unwrap_or_default());
        if !fields.contains(&field.as_str()) {
            let message = format!("`{field}` is not a field qmig can supply; use one of {}", fields.join(", "));
            return Err(input_error(display, line, message));
        }
        if let Some(first) = first_line.insert((object.clone(), field.clone()), line) {
            return Err(input_error(
                display,
                line,
                format!("`{field}` of `{object}` is already given on line {first}"),
            ));
        }
        rows.push(FieldRow { object, field, value, line });
    }
    Ok(FieldValues { file: display.to_owned(), rows })
}

fn input_error(display: &str, line: u64, message: String) -> TransformError {
    TransformError::Input { file: display.to_owned(), line, message }
}

/// The rows of a CSV table with a header row naming `columns` (in any order and case; other
/// columns are ignored): each row's line and its values of `columns`, in that order, trimmed
/// and all non-empty.
fn read_table(display: &str, bytes: &[u8], columns: &[&str]) -> Result<Vec<(u64, Vec<String>)>, TransformError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(bytes);
    let headers = reader.headers().map_err(|e| input_error(display, 1, e.to_string()))?.clone();
    let positions: Option<Vec<usize>> =
        columns.iter().map(|name| headers.iter().position(|h| h.eq_ignore_ascii_case(name))).collect();
    let names = || columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
    let Some(positions) = positions else {
        return Err(input_error(display, 1, format!("the header row must name the columns {}", names())));
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| input_error(display, e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, csv::Position::line);
        let values: Vec<String> = positions.iter().map(|&p| record.get(p).unwrap_or_default().to_owned()).collect();
        if values.iter().any(String::is_empty) {
            return Err(input_error(display, line, format!("{} must all have a value", names())));
        }
        rows.push((line, values));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_values_are_checked_row_by_row() {
        let table = parse_fields(
            "inputs/user_fields.csv",
            b"login,field,value\nnw_jd, state ,Massachusetts\n",
            "login",
            USER_FIELDS,
        )
        .expect("valid");
        assert_eq!(table.get("nw_jd", "state").map(|r| (r.value.as_str(), r.line)), Some(("Massachusetts", 2)));
        let cases: [(&[u8], u64, &str); 3] = [
            (b"login,value\nnw_jd,x\n", 1, "`login`, `field`, `value`"),
            (b"login,field,value\nnw_jd,email,a@b.example\n", 2, "`email` is not a field qmig can supply"),
            (b"login,field,value\nnw_jd,city,Boston\nnw_jd,city,Salem\n", 3, "already given on line 2"),
        ];
        for (bytes, line, text) in cases {
            let message =
                parse_fields("inputs/user_fields.csv", bytes, "login", USER_FIELDS).expect_err("invalid").to_string();
            assert!(message.starts_with(&format!("inputs/user_fields.csv:{line}:")), "{message}");
            assert!(message.contains(text), "{message}");
        }
    }

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
            (b"source,target\na,\n", 2, "must all have a value"),
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
