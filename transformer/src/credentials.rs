//! The operator's secrets for authentication records, correlated with the records that need them.

use crate::error::TransformError;

/// One secret row of the credentials file, without its value.
#[derive(Debug, Clone)]
pub struct CredentialRow {
    pub record_type: String,
    pub title: Option<String>,
    pub username: Option<String>,
    pub parameter: String,
    pub name: String,
    pub line: u64,
}

#[derive(Debug, Default)]
pub struct Credentials {
    pub rows: Vec<CredentialRow>,
}

/// A secret supplied for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSecret {
    pub parameter: String,
    pub name: String,
    pub line: u64,
}

impl Credentials {
    #[cfg(test)]
    pub fn from_plaintext(csv: &[u8]) -> Credentials {
        let mut reader = csv::Reader::from_reader(csv);
        let rows = reader.records().map(|r| {
            let r = r.expect("csv");
            let opt = |i: usize| Some(r[i].to_owned()).filter(|v| !v.is_empty());
            let kind = if r[1].is_empty() { format!("username:{}", &r[2]) } else { format!("title:{}", &r[1]) };
            CredentialRow {
                record_type: r[0].to_owned(),
                title: opt(1),
                username: opt(2),
                parameter: r[3].to_owned(),
                name: format!("{}/{kind}/{}", &r[0], &r[3]),
                line: r.position().map_or(0, |p| p.line()),
            }
        });
        Credentials { rows: rows.collect() }
    }

    pub fn for_record(
        &self,
        record_type: &str,
        title: &str,
        username: Option<&str>,
    ) -> Result<Vec<RecordSecret>, TransformError> {
        let by_title = self.rows.iter().filter(|r| r.record_type == record_type && r.title.as_deref() == Some(title));
        let by_user = self
            .rows
            .iter()
            .filter(|r| r.record_type == record_type && username.is_some() && r.username.as_deref() == username);
        let mut found: Vec<RecordSecret> = Vec::new();
        for row in by_title.chain(by_user) {
            if found.iter().any(|f| f.parameter == row.parameter) {
                continue;
            }
            found.push(RecordSecret { parameter: row.parameter.clone(), name: row.name.clone(), line: row.line });
        }
        Ok(found)
    }
}
