//! The reconciliation report in Markdown: the totals first, then, kind by kind, every object
//! that is not simply matched, with its differing fields side by side.

use std::fmt::Write as _;

use crate::reconcile::{Report, Status};

pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let totals = &report.totals;
    let _ = writeln!(out, "# Reconciliation: {}% of the source's objects are in the target\n", report.percent);
    let _ = writeln!(out, "- source export: `{}`", report.source);
    let _ = writeln!(out, "- target export: `{}`", report.target);
    match &report.bundle {
        Some(bundle) => {
            let _ = writeln!(out, "- documented losses from the review of bundle `{bundle}`");
        }
        None => out.push_str("- no bundle given: nothing counts as a documented loss\n"),
    }
    let _ = writeln!(
        out,
        "\n{} source objects: {} matched, {} documented losses, {} different, {} missing; {} only in the target.\n",
        totals.source_objects, totals.matched, totals.documented, totals.different, totals.missing, totals.extra
    );
    out.push_str(if totals.reconciled() {
        "Nothing is missing or different beyond what the review documents.\n"
    } else {
        "**The target lacks objects or fields that the review does not explain: see below.**\n"
    });
    out.push_str(
        "\n| kind | matched | documented | different | missing | only in target |\n|---|---|---|---|---|---|\n",
    );
    for kind in &report.kinds {
        let count = |status| kind.objects.iter().filter(|o| o.status == status).count();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            kind.kind,
            count(Status::Matched),
            count(Status::Documented),
            count(Status::Different),
            count(Status::Missing),
            count(Status::Extra)
        );
    }
    for kind in &report.kinds {
        let unmatched: Vec<_> = kind.objects.iter().filter(|o| o.status != Status::Matched).collect();
        if unmatched.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n## {}\n", kind.kind);
        for object in unmatched {
            let status = match object.status {
                Status::Matched => "matched",
                Status::Documented => "documented loss",
                Status::Different => "DIFFERENT",
                Status::Missing => "MISSING from the target",
                Status::Extra => "only in the target",
            };
            let _ = write!(out, "- **{}**: {status}", cell(&object.name));
            match &object.documented {
                Some(why) => {
                    let _ = writeln!(out, " ({})", cell(why));
                }
                None => out.push('\n'),
            }
            for difference in &object.differences {
                let side = |value: &Option<String>| value.as_deref().map_or_else(|| "(absent)".to_owned(), cell);
                let _ = write!(
                    out,
                    "  - `{}`: source {}, target {}",
                    difference.field,
                    side(&difference.source),
                    side(&difference.target)
                );
                match &difference.documented {
                    Some(why) => {
                        let _ = writeln!(out, " (documented: {})", cell(why));
                    }
                    None => out.push('\n'),
                }
            }
        }
    }
    out
}

/// A value on one line, quoted so that leading or trailing spaces show.
fn cell(text: &str) -> String {
    let flat: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if flat.trim() == flat { flat } else { format!("\"{flat}\"") }
}
