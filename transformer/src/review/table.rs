//! `requests.tsv`: one line per request, for tools (grep, sort, cut, awk, a spreadsheet), where
//! REVIEW.md only summarises.
//!
//! Tab-separated, a header line first, one line per request in the order they are sent. A cell
//! never holds a raw tab, line end or a character a terminal acts on: text cells escape them as
//! `\t`, `\n`, `\r`, `\\` and `\u{1b}`; the multi-valued cells (`parameters`, `references`,
//! `captures`, `remapped`, `depends_on`) are JSON (`cut -f10 requests.tsv | jq`), empty when there is nothing. A text cell
//! that a spreadsheet would run as a formula (starting with `=`, `+`, `-` or `@`) starts with
//! `'`. Secrets appear as `{{secret:NAME}}`, never as values.

use std::io::{self, Write};

use qmig_schemas::{Effect, Request, Segment};

use crate::markdown::hides_text;

/// The columns, in order.
pub const COLUMNS: [&str; 15] = [
    "seq",
    "id",
    "task",
    "phase",
    "method",
    "path",
    "effect",
    "summary",
    "source",
    "parameters",
    "body",
    "references",
    "captures",
    "remapped",
    "depends_on",
];

pub fn write_header(w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "{}", COLUMNS.join("\t"))
}

pub fn write_row(w: &mut dyn Write, request: &Request) -> io::Result<()> {
    let source = request.source.as_ref().map(ToString::to_string).unwrap_or_default();
    let parameters = if request.params.is_empty() {
        String::new()
    } else {
        let pairs: Vec<String> =
            request.params.iter().map(|p| format!("{}:{}", json(&p.name), json(&p.value.display()))).collect();
        format!("{{{}}}", pairs.join(","))
    };
    let references: Vec<String> = request.references().map(Segment::placeholder).collect();
    let captures: Vec<String> = request.captures.iter().map(|c| c.name.clone()).collect();
    let remapped: Vec<String> =
        request.remapped.iter().map(|r| format!("{} {} → {}", r.kind, r.source, r.target.display())).collect();
    let cells = [
        request.seq.to_string(),
        text(&request.id),
        text(&request.task),
        request.phase.label().to_owned(),
        request.method.as_str().to_owned(),
        text(&request.path),
        effect_label(request.effect).to_owned(),
        text(&request.summary),
        text(&source),
        parameters,
        request.body.as_ref().map(|b| text(&b.file)).unwrap_or_default(),
        json_list(&references),
        json_list(&captures),
        json_list(&remapped),
        json_list(&request.depends_on),
    ];
    writeln!(w, "{}", cells.join("\t"))
}

pub fn effect_label(effect: Effect) -> &'static str {
    match effect {
        Effect::Create => "create",
        Effect::Idempotent => "idempotent",
        Effect::Read => "read",
    }
}

/// A text cell: escapes as the module says.
fn text(value: &str) -> String {
    let mut cell = String::with_capacity(value.len());
    if value.starts_with(['=', '+', '-', '@']) {
        cell.push('\'');
    }
    for c in value.chars() {
        match c {
            '\\' => cell.push_str("\\\\"),
            '\t' => cell.push_str("\\t"),
            '\n' => cell.push_str("\\n"),
            '\r' => cell.push_str("\\r"),
            c if hides_text(c) => cell.extend(c.escape_unicode()),
            c => cell.push(c),
        }
    }
    cell
}

/// A JSON string whose every control and direction-changing character is a `\u` escape, so the
/// cell stays on one line and shows what it holds.
fn json(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || hides_text(c) => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_list(values: &[String]) -> String {
    if values.is_empty() {
        return String::new();
    }
    let items: Vec<String> = values.iter().map(|v| json(v)).collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_stay_on_one_line_and_show_hidden_characters() {
        assert_eq!(text("a\tb\nc\\d\u{1b}[8m"), "a\\tb\\nc\\\\d\\u{1b}[8m");
        assert_eq!(json("say \"hi\"\t\u{202e}"), "\"say \\\"hi\\\"\\u0009\\u202e\"");
    }

    #[test]
    fn a_cell_a_spreadsheet_would_run_as_a_formula_is_quoted() {
        assert_eq!(text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(text("-1"), "'-1");
        assert_eq!(text("a=b"), "a=b");
    }

    #[test]
    fn json_cells_are_json() {
        let parsed: serde_json::Value = serde_json::from_str(&json("x\u{7}\"\\y")).expect("valid JSON");
        assert_eq!(parsed, serde_json::Value::String("x\u{7}\"\\y".into()));
    }
}
