//! `REVIEW.md`: the manifest in plain words, for the security team and the operator. Everything
//! in it comes from the manifest, so it cannot say something the bundle does not do.

use std::fmt::Write as _;

use qmig_schemas::{Condition, Effect, Extract, Manifest, Phase, Request, SecretsFormat, StepTime, Value, Warning};

use crate::credentials;

/// Parameter values longer than this are shortened in the review (the manifest has them whole).
const LONGEST_VALUE: usize = 240;

/// The review of a bundle; `purpose` says what it is for, in one sentence.
pub fn render(manifest: &Manifest, purpose: &str) -> String {
    let mut out = String::new();
    let w = &mut out;
    line(w, "# qmig bundle review");
    line(w, "");
    line(w, purpose);
    line(
        w,
        "Nothing has been sent yet. To check it: `sha256sum -c SHA256SUMS` inside the bundle, or `qmig-execute verify <bundle>`;",
    );
    line(w, "the digest to approve is printed by both (it is the SHA-256 of `SHA256SUMS`, which covers this file).");
    line(w, "");
    match &manifest.target {
        Some(target) => line(
            w,
            &format!(
                "**Target:** {}. `qmig-execute run` refuses any other target unless it is given `--other-target`.",
                md(target)
            ),
        ),
        None => line(
            w,
            "**Target:** none recorded (`qmig-transform bundle --target URL` records one): the bundle runs against any target.",
        ),
    }
    line(w, "");
    summary(w, manifest);
    steps(w, manifest, StepTime::Before, "## Before running the bundle");
    requests(w, manifest);
    skipped(w, manifest);
    losses(w, manifest);
    steps(w, manifest, StepTime::After, "## After running the bundle");
    reported(w, manifest);
    secrets(w, manifest);
    warnings(w, manifest);
    files(w, manifest);
    out
}

fn line(w: &mut String, text: &str) {
    w.push_str(text);
    w.push('\n');
}

/// Escapes text for Markdown prose and table cells.
fn md(text: &str) -> String {
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
fn code(text: &str) -> String {
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

/// Characters a terminal or an editor acts on instead of showing (escape sequences, carriage
/// returns, bidirectional overrides), with which a value could hide or disguise part of the
/// review: they are shown as `\u{1b}`. Tabs and line ends are layout, not hidden text.
fn hides_text(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n'))
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn summary(w: &mut String, manifest: &Manifest) {
    line(w, "## Summary");
    line(w, "");
    line(w, "| Task | Source objects | Requests | Skipped |");
    line(w, "|---|---:|---:|---:|");
    for task in &manifest.tasks {
        let _ = writeln!(w, "| {} | {} | {} | {} |", md(&task.task), task.source_objects, task.requests, task.skipped);
    }
    let total = |f: fn(&qmig_schemas::TaskSummary) -> u64| manifest.tasks.iter().map(f).sum::<u64>();
    let _ = writeln!(
        w,
        "| **total** | {} | {} | {} |",
        total(|t| t.source_objects),
        total(|t| t.requests),
        total(|t| t.skipped)
    );
    line(w, "");
}

fn steps(w: &mut String, manifest: &Manifest, when: StepTime, heading: &str) {
    let steps: Vec<_> = manifest.manual_steps.iter().filter(|s| s.when == when).collect();
    if steps.is_empty() {
        return;
    }
    line(w, heading);
    line(w, "");
    for step in steps {
        let _ = writeln!(w, "- [ ] **{}** ({}). {}", md(&step.title), step.id, md(&step.detail));
        for item in &step.items {
            let _ = writeln!(w, "  - {}", md(item));
        }
    }
    line(w, "");
}

fn requests(w: &mut String, manifest: &Manifest) {
    line(w, "## Requests, in the order they are sent");
    line(w, "");
    if manifest.requests.is_empty() {
        line(w, "The bundle holds no request.");
        line(w, "");
        return;
    }
    let (migration, cutover): (Vec<&Request>, Vec<&Request>) =
        manifest.requests.iter().partition(|r| r.phase == Phase::Migration);
    by_task(w, &migration);
    if cutover.is_empty() {
        return;
    }
    line(w, "## The cutover: what is switched on, only when the operator asks");
    line(w, "");
    line(
        w,
        "`qmig-execute run` stops before these requests. `qmig-execute run --cutover`, with the same journal and \
         approved digest, sends them once every request above is done: on the day the source subscription stops \
         scanning.",
    );
    line(w, "");
    by_task(w, &cutover);
}

fn by_task(w: &mut String, requests: &[&Request]) {
    let mut current_task = "";
    for request in requests {
        if request.task != current_task {
            current_task = &request.task;
            let _ = writeln!(w, "### {}", md(current_task));
            line(w, "");
        }
        describe(w, request);
    }
}

fn describe(w: &mut String, request: &Request) {
    let marker = format!("{}. ", request.seq);
    // Details indented as far as the item's text, so that Markdown nests them under it.
    let pad = " ".repeat(marker.len());
    let _ = writeln!(w, "{marker}**{}** (`{}`)", md(&request.summary), code(&request.id));
    let _ = writeln!(w, "{pad}- {} `{}`{}", request.method.as_str(), request.path, effect_words(request.effect));
    if let Some(source) = &request.source {
        let _ = writeln!(w, "{pad}- from {}", md(&source.to_string()));
    }
    let location = if request.body.is_some() { "query" } else { "form" };
    for param in &request.params {
        let _ = writeln!(w, "{pad}- {location} `{}` = {}", param.name, shown(&param.value));
    }
    if let Some(body) = &request.body {
        let _ = writeln!(w, "{pad}- body `{}` ({}, sha256 {})", body.file, body.content_type, &body.sha256[..16]);
        for slot in &body.slots {
            let _ = writeln!(w, "{pad}  - at byte {}: {}", slot.offset, md(&slot.value.placeholder()));
        }
    }
    for remap in &request.remapped {
        let _ =
            writeln!(w, "{pad}- remaps {} {} → {}", md(&remap.kind), shown_key(&remap.source), shown(&remap.target));
    }
    for capture in &request.captures {
        let from = match &capture.extract {
            Extract::NewId => "the new object's ID".to_owned(),
            Extract::Login => "the generated login".to_owned(),
            Extract::Element { name } => format!("the response's {}", md(name)),
            Extract::Match { matcher, take } => {
                format!("{} of the {} whose {}", md(take), md(&matcher.record), conditions(&matcher.conditions))
            }
        };
        let _ = writeln!(w, "{pad}- keeps {from} as `{}`", code(&capture.name));
    }
    if let Some(probe) = &request.probe {
        let _ = writeln!(
            w,
            "{pad}- if its outcome is unknown, first checks with {} `{}` for an existing {} whose {}",
            probe.method.as_str(),
            probe.path,
            md(&probe.exists.record),
            conditions(&probe.exists.conditions)
        );
    }
    line(w, "");
}

/// What a record must hold, in words: NAME is `x` and PORT is `443`.
fn conditions(conditions: &[Condition]) -> String {
    let each: Vec<String> = conditions.iter().map(|c| format!("{} is {}", md(&c.field), shown(&c.equals))).collect();
    each.join(" and ")
}

fn effect_words(effect: Effect) -> &'static str {
    match effect {
        Effect::Create => " (creates; never sent twice)",
        Effect::Idempotent => " (repeating it changes nothing)",
        Effect::Read => " (read only)",
    }
}

fn shown(value: &Value) -> String {
    let text = value.display();
    let count = text.chars().count();
    if count <= LONGEST_VALUE {
        return format!("`{}`", code(&text));
    }
    let head: String = text.chars().take(LONGEST_VALUE).collect();
    format!("`{}…` ({} characters in all, see manifest.json)", code(&head), count)
}

fn shown_key(key: &str) -> String {
    format!("`{}`", key.replace('`', "'"))
}

fn skipped(w: &mut String, manifest: &Manifest) {
    if manifest.skipped.is_empty() {
        return;
    }
    line(w, "## Skipped source objects");
    line(w, "");
    line(w, "| Task | Object | Why | Source |");
    line(w, "|---|---|---|---|");
    for skip in &manifest.skipped {
        let source = skip.source.as_ref().map(ToString::to_string).unwrap_or_default();
        let _ = writeln!(w, "| {} | {} | {} | {} |", md(&skip.task), md(&skip.object), md(&skip.reason), md(&source));
    }
    line(w, "");
}

fn losses(w: &mut String, manifest: &Manifest) {
    if manifest.losses.is_empty() {
        return;
    }
    line(w, "## What the API cannot carry over");
    line(w, "");
    line(w, "| Task | Object | Fields | Why | Source |");
    line(w, "|---|---|---|---|---|");
    for loss in &manifest.losses {
        let source = loss.source.as_ref().map(ToString::to_string).unwrap_or_default();
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} |",
            md(&loss.task),
            md(&loss.object),
            md(&loss.fields.join(", ")),
            md(&loss.reason),
            md(&source)
        );
    }
    line(w, "");
}

fn reported(w: &mut String, manifest: &Manifest) {
    if manifest.report.is_empty() {
        return;
    }
    line(w, "## Shown to the operator once the bundle has run");
    line(w, "");
    line(w, "The executor prints these values, captured from the target's responses, at the end of the run and in");
    line(w, "`qmig-execute status`. They are not in the bundle.");
    line(w, "");
    for reported in &manifest.report {
        let _ = writeln!(w, "- {} (`{}`)", md(&reported.label), code(&reported.capture));
    }
    line(w, "");
}

/// Warnings about rows of the credentials file no request uses: shown with the secrets.
fn is_unused_secret(warning: &Warning) -> bool {
    warning.task == credentials::TASK
}

fn secrets(w: &mut String, manifest: &Manifest) {
    let unused: Vec<&Warning> = manifest.warnings.iter().filter(|w| is_unused_secret(w)).collect();
    if manifest.secrets.is_none() && unused.is_empty() {
        return;
    }
    line(w, "## Secrets");
    line(w, "");
    if let Some(secrets) = &manifest.secrets {
        let cipher = match secrets.format {
            SecretsFormat::Age => {
                "its cipher is ChaCha20-Poly1305, not the AES256 the migration guide names: \
                 check that it meets the customer's policy, or have the operator encrypt with `openssl enc` instead"
            }
            SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { .. } => "this is the AES256 the migration guide asks for",
        };
        let _ = writeln!(
            w,
            "The bundle carries the operator's credentials file `{}` exactly as they encrypted it ({}; {cipher}).",
            secrets.file, secrets.format
        );
        line(w, "No secret is in the bundle in plaintext: only `qmig-execute` decrypts the file, in memory, with the");
        line(w, "operator's passphrase, and sends each value only in the form body of the request that refers to it.");
        line(w, "The requests refer to these rows (type, title or username, parameter):");
        line(w, "");
        for name in &secrets.names {
            let _ = writeln!(w, "- `{}`", name.replace('`', "'"));
        }
        line(w, "");
    }
    if !unused.is_empty() {
        line(w, "Rows of the credentials file that match no authentication record, so no request uses them");
        line(w, "(a typo in a title, or a record that is no longer in the source); `--strict` refuses them:");
        line(w, "");
        for warning in unused {
            let _ = writeln!(w, "- {}", md(&warning.message));
        }
        line(w, "");
    }
}

fn warnings(w: &mut String, manifest: &Manifest) {
    let warnings: Vec<&Warning> = manifest.warnings.iter().filter(|w| !is_unused_secret(w)).collect();
    if warnings.is_empty() {
        return;
    }
    line(w, "## Warnings");
    line(w, "");
    for warning in warnings {
        let source = warning.source.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
        let _ = writeln!(w, "- {}: {}{}", md(&warning.task), md(&warning.message), md(&source));
    }
    line(w, "");
}

fn files(w: &mut String, manifest: &Manifest) {
    if !manifest.unrecognised.is_empty() {
        line(w, "## Files not recognised (not migrated)");
        line(w, "");
        for file in &manifest.unrecognised {
            let _ = writeln!(w, "- `{}`: {}", code(&file.path), md(&file.reason));
        }
        line(w, "");
    }
    line(w, "## Files read");
    line(w, "");
    line(w, "| File | Kind | SHA-256 |");
    line(w, "|---|---|---|");
    for file in manifest.sources.iter().chain(&manifest.inputs) {
        let _ = writeln!(w, "| `{}` | {} | `{}` |", code(&file.path), md(&file.kind), file.sha256);
    }
}
