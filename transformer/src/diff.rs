//! `qmig-transform diff OLD NEW`: a re-transformed bundle reviewed as a change, not from scratch.
//!
//! Requests are matched by their stable id. A request is changed when what is sent or how it is
//! judged changes: task, summary, method, path, parameters, body (bytes and slots), effect,
//! phase, captures or probe. Its position and its source line are not compared: an object added
//! early in the export shifts both for every later one without changing what they do. Skipped
//! objects, losses, manual steps, warnings, the target, the secrets referred to and the values
//! reported to the operator are compared as sets.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use qmig_schemas::{Body, Request, VerifiedBundle};

use crate::markdown::{code, md, shown_text};
use crate::review::table::effect_label;

/// Writes the differences of `new` from `old` as Markdown; returns whether there are any.
pub fn write_diff(old: &VerifiedBundle, new: &VerifiedBundle, names: [&str; 2], w: &mut dyn Write) -> io::Result<bool> {
    let (om, nm) = (&old.manifest, &new.manifest);
    let old_ids: BTreeMap<&str, &Request> = om.requests.iter().map(|r| (r.id.as_str(), r)).collect();
    let new_ids: BTreeMap<&str, &Request> = nm.requests.iter().map(|r| (r.id.as_str(), r)).collect();
    let added: Vec<&Request> = nm.requests.iter().filter(|r| !old_ids.contains_key(r.id.as_str())).collect();
    let removed: Vec<&Request> = om.requests.iter().filter(|r| !new_ids.contains_key(r.id.as_str())).collect();
    let changed: Vec<(&Request, &Request, Vec<String>)> = nm
        .requests
        .iter()
        .filter_map(|n| old_ids.get(n.id.as_str()).map(|o| (*o, n)))
        .map(|(o, n)| (o, n, request_changes(o, n, old, new)))
        .filter(|(_, _, changes)| !changes.is_empty())
        .collect();

    let sections: Vec<(&str, Changes)> = vec![
        ("Target", set_changes(om.target.iter().map(|t| md(t)), nm.target.iter().map(|t| md(t)))),
        ("Secrets referred to", set_changes(secret_names(om), secret_names(nm))),
        (
            "Skipped source objects",
            set_changes(
                om.skipped.iter().map(|s| format!("{}: {} ({})", md(&s.task), md(&s.object), md(&s.reason))),
                nm.skipped.iter().map(|s| format!("{}: {} ({})", md(&s.task), md(&s.object), md(&s.reason))),
            ),
        ),
        (
            "What the API cannot carry over",
            set_changes(om.losses.iter().map(loss_line), nm.losses.iter().map(loss_line)),
        ),
        (
            "Manual steps",
            set_changes(om.manual_steps.iter().flat_map(step_lines), nm.manual_steps.iter().flat_map(step_lines)),
        ),
        (
            "Warnings",
            set_changes(
                om.warnings.iter().map(|w| format!("{}: {}", md(&w.task), md(&w.message))),
                nm.warnings.iter().map(|w| format!("{}: {}", md(&w.task), md(&w.message))),
            ),
        ),
        (
            "Shown to the operator after the run",
            set_changes(
                om.report.iter().map(|r| format!("{} (`{}`)", md(&r.label), code(&r.capture))),
                nm.report.iter().map(|r| format!("{} (`{}`)", md(&r.label), code(&r.capture))),
            ),
        ),
    ];
    let differs = !added.is_empty()
        || !removed.is_empty()
        || !changed.is_empty()
        || sections.iter().any(|(_, c)| !c.added.is_empty() || !c.removed.is_empty());

    writeln!(w, "# qmig bundle diff")?;
    writeln!(w)?;
    writeln!(w, "- old: `{}` ({}, {} requests)", code(names[0]), old.digest, om.requests.len())?;
    writeln!(w, "- new: `{}` ({}, {} requests)", code(names[1]), new.digest, nm.requests.len())?;
    writeln!(w)?;
    if !differs {
        let same =
            if old.digest == new.digest { "the bundles are identical" } else { "the bundles send the same requests" };
        writeln!(w, "No difference: {same}.")?;
        if old.digest != new.digest {
            writeln!(w, "Their digests differ only by what is not compared (source files, line numbers, positions).")?;
        }
        return Ok(false);
    }
    writeln!(w, "**{} added, {} removed, {} changed requests.**", added.len(), removed.len(), changed.len())?;
    writeln!(w)?;
    request_list(w, "Added requests", &added)?;
    request_list(w, "Removed requests", &removed)?;
    if !changed.is_empty() {
        writeln!(w, "## Changed requests")?;
        writeln!(w)?;
        for (o, n, changes) in &changed {
            let place = if o.seq == n.seq { format!("seq {}", n.seq) } else { format!("seq {} → {}", o.seq, n.seq) };
            writeln!(w, "### `{}` ({place})", code(&n.id))?;
            writeln!(w)?;
            for change in changes {
                writeln!(w, "- {change}")?;
            }
            writeln!(w)?;
        }
    }
    for (title, changes) in sections {
        if changes.added.is_empty() && changes.removed.is_empty() {
            continue;
        }
        writeln!(w, "## {title}")?;
        writeln!(w)?;
        for line in changes.added {
            writeln!(w, "- added: {line}")?;
        }
        for line in changes.removed {
            writeln!(w, "- removed: {line}")?;
        }
        writeln!(w)?;
    }
    Ok(true)
}

fn request_list(w: &mut dyn Write, title: &str, requests: &[&Request]) -> io::Result<()> {
    if requests.is_empty() {
        return Ok(());
    }
    writeln!(w, "## {title}")?;
    writeln!(w)?;
    writeln!(w, "| Seq | Id | Task | Effect | Summary |")?;
    writeln!(w, "|---:|---|---|---|---|")?;
    for r in requests {
        writeln!(
            w,
            "| {} | `{}` | {} | {} | {} |",
            r.seq,
            code(&r.id),
            md(&r.task),
            effect_label(r.effect),
            md(&r.summary)
        )?;
    }
    writeln!(w)
}

/// What differs between two requests of the same id, one line each.
fn request_changes(o: &Request, n: &Request, old: &VerifiedBundle, new: &VerifiedBundle) -> Vec<String> {
    let mut changes = Vec::new();
    let mut field = |name: &str, a: &str, b: &str| {
        if a != b {
            changes.push(format!("{name}: {} → {}", shown_text(a), shown_text(b)));
        }
    };
    field("task", &o.task, &n.task);
    field("summary", &o.summary, &n.summary);
    field("method", o.method.as_str(), n.method.as_str());
    field("path", &o.path, &n.path);
    field("effect", effect_label(o.effect), effect_label(n.effect));
    field("phase", o.phase.label(), n.phase.label());
    changes.extend(param_changes(o, n));
    changes.extend(body_changes(o.body.as_ref(), n.body.as_ref(), old, new));
    if o.captures != n.captures {
        changes.push(format!("captures: {} → {}", shown_text(&json(&o.captures)), shown_text(&json(&n.captures))));
    }
    if o.probe != n.probe {
        changes.push(format!("probe: {} → {}", shown_text(&json(&o.probe)), shown_text(&json(&n.probe))));
    }
    changes
}

/// A part of the contract as compact JSON, to show how it changed.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Parameters compared by name (a name may repeat: its values in order are compared).
fn param_changes(o: &Request, n: &Request) -> Vec<String> {
    let values = |r: &Request| {
        let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for p in &r.params {
            by_name.entry(p.name.clone()).or_default().push(p.value.display());
        }
        by_name
    };
    let (before, after) = (values(o), values(n));
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let joined = |v: &Vec<String>| shown_text(&v.join(" | "));
    let mut changes = Vec::new();
    for name in names {
        match (before.get(name), after.get(name)) {
            (Some(a), Some(b)) if a != b => {
                changes.push(format!("parameter `{}`: {} → {}", code(name), joined(a), joined(b)))
            }
            (Some(a), None) => changes.push(format!("parameter `{}` removed (was {})", code(name), joined(a))),
            (None, Some(b)) => changes.push(format!("parameter `{}` added: {}", code(name), joined(b))),
            _ => {}
        }
    }
    changes
}

fn body_changes(o: Option<&Body>, n: Option<&Body>, old: &VerifiedBundle, new: &VerifiedBundle) -> Vec<String> {
    match (o, n) {
        (None, None) => Vec::new(),
        (Some(a), None) => vec![format!("body removed (was `{}`)", code(&a.file))],
        (None, Some(b)) => vec![format!("body added: `{}`", code(&b.file))],
        (Some(a), Some(b)) => {
            let mut changes = Vec::new();
            if a.content_type != b.content_type {
                changes.push(format!("body content type: `{}` → `{}`", code(&a.content_type), code(&b.content_type)));
            }
            if a.sha256 != b.sha256 {
                changes.push(bytes_change(old.body_bytes(a), new.body_bytes(b), &b.file));
            }
            if a.slots != b.slots {
                let slots = |body: &Body| {
                    let each: Vec<String> =
                        body.slots.iter().map(|s| format!("{} at byte {}", s.value.placeholder(), s.offset)).collect();
                    if each.is_empty() { "none".to_owned() } else { each.join(", ") }
                };
                changes.push(format!("body slots: {} → {}", shown_text(&slots(a)), shown_text(&slots(b))));
            }
            changes
        }
    }
}

/// Where two bodies first differ: the byte, and the line around it in each.
fn bytes_change(a: &[u8], b: &[u8], file: &str) -> String {
    let first = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let line_of = |bytes: &[u8]| {
        let start = bytes[..first.min(bytes.len())].iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
        let end = bytes[start..].iter().position(|&c| c == b'\n').map_or(bytes.len(), |i| start + i);
        String::from_utf8_lossy(&bytes[start..end]).into_owned()
    };
    let line = a[..first.min(a.len())].iter().filter(|&&c| c == b'\n').count() + 1;
    format!(
        "body `{}`: {} → {} bytes, first difference at byte {first} (line {line}): {} → {}",
        code(file),
        a.len(),
        b.len(),
        shown_text(&line_of(a)),
        shown_text(&line_of(b))
    )
}

fn secret_names(manifest: &qmig_schemas::Manifest) -> impl Iterator<Item = String> + '_ {
    manifest.secrets.iter().flat_map(|s| s.names.iter().map(|n| format!("`{}`", n.replace('`', "'"))))
}

fn loss_line(loss: &qmig_schemas::Loss) -> String {
    format!("{}: {} loses {} ({})", md(&loss.task), md(&loss.object), md(&loss.fields.join(", ")), md(&loss.reason))
}

/// A manual step and each of its items, so a changed item shows on its own.
fn step_lines(step: &qmig_schemas::ManualStep) -> Vec<String> {
    let head = format!("**{}** ({})", md(&step.title), step.id);
    let mut lines = vec![format!("{head}: {}", md(&step.detail))];
    lines.extend(step.items.iter().map(|item| format!("{head} item: {}", md(item))));
    lines
}

/// Lines only in the new bundle, and only in the old one, each sorted.
struct Changes {
    added: Vec<String>,
    removed: Vec<String>,
}

fn set_changes(old: impl IntoIterator<Item = String>, new: impl IntoIterator<Item = String>) -> Changes {
    let (old, new): (BTreeSet<String>, BTreeSet<String>) = (old.into_iter().collect(), new.into_iter().collect());
    Changes { added: new.difference(&old).cloned().collect(), removed: old.difference(&new).cloned().collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_differing_byte_is_named_with_its_lines() {
        let change = bytes_change(b"<a>\n<b>1</b>\n</a>", b"<a>\n<b>2</b>\n</a>", "bodies/x.xml");
        assert_eq!(
            change,
            "body `bodies/x.xml`: 17 → 17 bytes, first difference at byte 7 (line 2): `<b>1</b>` → `<b>2</b>`"
        );
    }

    #[test]
    fn one_body_extending_the_other_differs_at_its_end() {
        let change = bytes_change(b"ab", b"abc", "f");
        assert!(change.contains("2 → 3 bytes, first difference at byte 2 (line 1)"), "{change}");
    }
}
