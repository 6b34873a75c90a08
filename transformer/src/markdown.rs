//! Text from the export shown in Markdown (REVIEW.md, `qmig-transform diff`): escaped so that a
//! value can neither change the document's structure nor hide part of it on a terminal.

use qmig_schemas::Value;

/// Values longer than this are shortened where they are shown (the manifest has them whole).
pub const LONGEST_VALUE: usize = 240;

/// Escapes text for Markdown prose and table cells.
pub fn md(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '|' | '<' | '>' | '[' | ']' | '#' => {
                escaped.push('\\');
                escaped.push(c);
            }
            '\n' | '\r' => escaped.push(' '),
            c if hides_text(c) => escaped.extend(c.escape_unicode()),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// Text for a Markdown code span: backticks would end it early.
pub fn code(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '`' => escaped.push('\''),
            '\n' => escaped.push(c),
            c if hides_text(c) => escaped.extend(c.escape_unicode()),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// Text as it is, but for the characters of [`hides_text`], for a fenced code block.
pub fn visible(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if hides_text(c) {
            escaped.extend(c.escape_unicode());
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// Characters a terminal or an editor acts on instead of showing (escape sequences, carriage
/// returns, bidirectional overrides), with which a value could hide or disguise part of the
/// review: they are shown as `\u{1b}`. Tabs and line ends are layout, not hidden text.
pub fn hides_text(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n'))
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A parameter value as a code span, references shown as placeholders, long values shortened.
pub fn shown(value: &Value) -> String {
    shown_text(&value.display())
}

/// Text as a code span on one line, shortened past [`LONGEST_VALUE`] characters.
pub fn shown_text(text: &str) -> String {
    let one_line = text.replace(['\n', '\r'], " ");
    let count = one_line.chars().count();
    if count <= LONGEST_VALUE {
        return format!("`{}`", code(&one_line));
    }
    let head: String = one_line.chars().take(LONGEST_VALUE).collect();
    format!("`{}…` ({count} characters in all)", code(&head))
}
