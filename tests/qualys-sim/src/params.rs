//! Request parameters and the Qualys error codes a call can fail with.

use std::fmt::Display;

/// A call refused with a Qualys error code. How it is written depends on the API family
/// (SIMPLE_RETURN, V1 RETURN@status or ERROR, QPS responseCode); see `api::Style`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: u32,
    pub text: String,
}

impl ApiError {
    pub fn new(status: u16, code: u32, text: impl Into<String>) -> Self {
        ApiError { status, code, text: text.into() }
    }

    fn unrecognized(names: &[&str]) -> Self {
        ApiError::new(400, 1901, format!("Unrecognized parameter(s): {}", names.join(", ")))
    }

    pub fn missing(names: &[&str]) -> Self {
        ApiError::new(400, 1903, format!("Missing required parameter(s): {}", names.join(", ")))
    }

    /// 1904: parameters that exclude each other were given together.
    pub fn exclusive(names: &[&str]) -> Self {
        ApiError::new(400, 1904, format!("Specify only one of these parameters: {}", names.join(", ")))
    }

    /// 1922: the call needs at least one of these parameters and got none.
    pub fn at_least_one(names: &[&str]) -> Self {
        let text = format!("Please specify at least one of the following parameters: {}", names.join(", "));
        ApiError::new(400, 1922, text)
    }

    /// 1905 in the wording of the Qualys documentation:
    /// `parameter network_id has invalid value: 1103 (No such network ID)`.
    pub fn invalid(param: &str, value: impl Display, reason: &str) -> Self {
        let mut text = format!("parameter {param} has invalid value: {value}");
        if !reason.is_empty() {
            text.push_str(&format!(" ({reason})"));
        }
        ApiError::new(400, 1905, text)
    }

    /// 1905 for a request whose problem is not one parameter (a malformed XML body, say).
    pub fn invalid_request(text: impl Into<String>) -> Self {
        ApiError::new(400, 1905, text)
    }

    pub fn method(method: &str) -> Self {
        ApiError::new(400, 1908, format!("HTTP method {method} is not supported for this API function"))
    }
}

/// Parameters from the query string and the form body together, in arrival order.
/// Qualys accepts both places; when a name repeats, the last one wins.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(query: &str, form_body: Option<&[u8]>) -> Self {
        let mut pairs: Vec<(String, String)> =
            form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        if let Some(body) = form_body {
            pairs.extend(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())));
        }
        Params { pairs }
    }

    /// Parameters built by the simulator itself (the export's list calls).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Params { pairs: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect() }
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The value, treating an empty value as absent (Qualys clears or ignores empty values).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.value(name).ok_or_else(|| ApiError::missing(&[name]))
    }

    /// Refuses any parameter outside `allowed` (1901), naming each once, in arrival order.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        let mut unknown: Vec<&str> = Vec::new();
        for (k, _) in &self.pairs {
            if !allowed.contains(&k.as_str()) && !unknown.contains(&k.as_str()) {
                unknown.push(k);
            }
        }
        if unknown.is_empty() { Ok(()) } else { Err(ApiError::unrecognized(&unknown)) }
    }

    /// A 0/1 flag; absent means `default`.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.value(name) {
            None => Ok(default),
            Some("0") => Ok(false),
            Some("1") => Ok(true),
            Some(other) => Err(ApiError::invalid(name, other, "")),
        }
    }

    pub fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.value(name).map(|v| v.trim().parse::<u64>().map_err(|_| ApiError::invalid(name, v, ""))).transpose()
    }

    /// One of a fixed set of values, compared case-insensitively; returns the canonical spelling.
    pub fn choice(&self, name: &str, allowed: &[&'static str]) -> Result<Option<&'static str>, ApiError> {
        self.value(name)
            .map(|v| {
                allowed
                    .iter()
                    .copied()
                    .find(|a| a.eq_ignore_ascii_case(v.trim()))
                    .ok_or_else(|| ApiError::invalid(name, v, ""))
            })
            .transpose()
    }

    /// A comma-separated list of IDs (`1,2,5-9` ranges allowed, as Qualys's `ids` parameters take).
    pub fn id_list(&self, name: &str) -> Result<Option<Vec<(u64, u64)>>, ApiError> {
        self.value(name).map(|v| id_ranges(v).ok_or_else(|| ApiError::invalid(name, v, ""))).transpose()
    }

    /// A comma-separated list of names, trimmed, empty items dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.value(name)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

/// `1,2,5-9`, the form of `ids` parameters and of ID lists in list outputs; `None` when
/// an item is not an ID or a range `a-b` with `a <= b`.
pub(crate) fn id_ranges(text: &str) -> Option<Vec<(u64, u64)>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (a, b) = item.split_once('-').unwrap_or((item, item));
            let (a, b) = (a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?);
            (a <= b).then_some((a, b))
        })
        .collect()
}

/// Whether `id` falls in a parsed `ids` list.
pub(crate) fn id_matches(ranges: &[(u64, u64)], id: u64) -> bool {
    ranges.iter().any(|&(a, b)| (a..=b).contains(&id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_body_merge_and_the_last_value_wins() {
        let p = Params::parse("action=list&title=a", Some(b"title=b%20c&ids=1,4-6"));
        assert_eq!(p.get("title"), Some("b c"));
        assert_eq!(p.id_list("ids"), Ok(Some(vec![(1, 1), (4, 6)])));
        assert!(id_matches(&[(4, 6)], 5));
        assert_eq!(p.only(&["action", "title"]).map_err(|e| e.text), Err("Unrecognized parameter(s): ids".into()));
    }

    #[test]
    fn codes_match_the_qualys_appendix() {
        let p = Params::parse("flag=yes&empty=", None);
        assert_eq!(p.require("empty").map_err(|e| e.code), Err(1903));
        assert_eq!(
            p.flag("flag", false).map_err(|e| (e.code, e.text)),
            Err((1905, "parameter flag has invalid value: yes".into()))
        );
        assert_eq!(p.choice("flag", &["YES"]), Ok(Some("YES")));
    }
}
