//! What a reviewer reads: REVIEW.md's summary, security-relevant values and notices, and the
//! per-request file `requests.tsv`, checked on the sample's bundle as written by the program;
//! and `qmig-transform diff` on bundles from exports that differ by known objects.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::cargo_bin;
use common::{SAMPLE_PASSPHRASE, cli, export_with, repo, sample_inputs, samples};
use qmig_schemas::credentials::{DEFAULT_MAX_WORK_FACTOR, open};
use qmig_schemas::{Manifest, REQUESTS_FILE, REVIEW_FILE};
use qmig_transform::error::{EXIT_DIFFERENT, EXIT_INVALID_INPUT};
use qmig_transform::review::table::COLUMNS;

/// The sample's bundle as the program writes it, with its manifest, REVIEW.md and requests.tsv.
struct Written {
    _dir: tempfile::TempDir,
    manifest: Manifest,
    review: String,
    table: String,
}

fn write_sample(extra: &[&str]) -> Written {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    let (inputs, target) = (sample_inputs(), repo().join("samples/target-export"));
    let mut args = vec!["--inputs", inputs.as_str(), "--target-export", target.to_str().expect("UTF-8")];
    args.extend(extra);
    let run = cli(&samples(), &out, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let read = |name: &str| fs::read_to_string(out.join(name)).expect("a bundle file");
    let manifest = serde_json::from_str(&read("manifest.json")).expect("manifest");
    Written { manifest, review: read(REVIEW_FILE), table: read(REQUESTS_FILE), _dir: dir }
}

/// The rows of `requests.tsv` as maps from column to cell.
fn rows(table: &str) -> Vec<BTreeMap<&'static str, String>> {
    let mut lines = table.lines();
    assert_eq!(lines.next(), Some(COLUMNS.join("\t").as_str()), "the header line");
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            assert_eq!(cells.len(), COLUMNS.len(), "{line}");
            COLUMNS.iter().copied().zip(cells.into_iter().map(str::to_owned)).collect()
        })
        .collect()
}

/// The table under a heading of REVIEW.md: each row's cells, header and rule left out.
fn table_after<'a>(review: &'a str, heading: &str) -> Vec<Vec<&'a str>> {
    let start = review.find(heading).unwrap_or_else(|| panic!("REVIEW.md has no {heading:?}"));
    review[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect()
}

fn count_by(rows: &[BTreeMap<&'static str, String>], column: &str, effect: Option<&str>) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for row in rows.iter().filter(|r| effect.is_none_or(|e| r["effect"] == e)) {
        *counts.entry(row[column].clone()).or_default() += 1;
    }
    counts
}

#[test]
fn the_sample_review_counts_every_request_by_task_effect_and_endpoint_as_the_table_lists_them() {
    let written = write_sample(&[]);
    let rows = rows(&written.table);
    assert_eq!(rows.len(), written.manifest.requests.len(), "one line per request");
    for (row, request) in rows.iter().zip(&written.manifest.requests) {
        assert_eq!(row["seq"], request.seq.to_string());
        assert_eq!(row["id"], request.id);
        assert_eq!(row["path"], request.path);
        let waits_for: Vec<String> = serde_json::from_str(&row["depends_on"]).unwrap_or_default();
        assert_eq!(waits_for, request.depends_on, "{}", request.id);
    }
    // An order no capture shows is stated: asset groups wait for the IPs they name, the first
    // for every IP add and the others for the first.
    let groups: Vec<_> = rows.iter().filter(|r| r["task"] == "asset groups").collect();
    let (first, others) = groups.split_first().expect("asset group requests");
    assert!(first["depends_on"].contains("\"ips/"), "{first:?}");
    assert!(!others.is_empty());
    for group in others {
        assert!(group["depends_on"].contains(&format!("\"{}\"", first["id"])), "{group:?}");
        assert!(!group["depends_on"].contains("\"ips/"), "{group:?}");
    }

    let per_task = table_after(&written.review, "### Per task");
    let listed: BTreeMap<String, [u64; 4]> = per_task
        .iter()
        .filter(|cells| cells[0] != "**total**")
        .map(|cells| {
            let n = |i: usize| cells[i].parse::<u64>().expect("a count");
            (cells[0].replace('\\', ""), [n(2), n(3), n(4), n(5)])
        })
        .collect();
    let in_table = |column: &str, effect: Option<&str>| count_by(&rows, column, effect);
    for (task, [requests, creates, idempotent, reads]) in &listed {
        let of = |effect| in_table("task", effect).get(task).copied().unwrap_or(0);
        assert_eq!(
            [*requests, *creates, *idempotent, *reads],
            [of(None), of(Some("create")), of(Some("idempotent")), of(Some("read"))],
            "{task}"
        );
    }
    let tasks = written.manifest.tasks.iter().filter(|t| t.source_objects + t.requests + t.skipped > 0);
    assert_eq!(listed.len(), tasks.count(), "one row per task that had something to do");
    let total = per_task.last().expect("a total row");
    assert_eq!(total[2], rows.len().to_string(), "the total is every request");

    let per_endpoint = table_after(&written.review, "### Per endpoint");
    let paths = in_table("path", None);
    assert_eq!(per_endpoint.len(), paths.len(), "one row per API path");
    for cells in &per_endpoint {
        let path = cells[0].trim_matches('`');
        assert_eq!(cells[2], paths[path].to_string(), "{path}");
    }
    assert!(written.review.contains("Waits at 300 calls per 1 h"), "the Standard estimate");
    assert!(written.review.contains("- At 300 calls per 1 h per path (Standard limits): at least 0 min"));

    let effects = in_table("effect", None);
    for (effect, words) in [("create", "creates"), ("idempotent", "idempotent"), ("read", "reads")] {
        assert!(written.review.contains(&format!("- {} {words}", effects[effect])), "{effect}");
    }
}

#[test]
fn anomalies_come_first_and_the_detail_is_in_the_table_not_the_review() {
    let written = write_sample(&[]);
    let review = &written.review;
    let first = review.find("## Read first").expect("anomalies");
    assert!(first < review.find("## Summary").expect("summary"), "anomalies before the summary");
    let skipped = table_after(review, "### Skipped source objects");
    assert_eq!(skipped.len(), written.manifest.skipped.len(), "every skipped object");
    assert!(review.contains(&format!("- {} source objects skipped", written.manifest.skipped.len())));
    assert!(review.contains("| scanner appliance | `5001` | `7001` | 2 |"), "a remap through appliances.csv");
    assert!(review.contains("| user | `nwind_mg` | `nwnew_mg` | 1 |"), "a remap through the target export");
    assert!(!review.contains("form `title`"), "no request-by-request detail in REVIEW.md");
    // The largest review of the sample stays a summary: the requests are in the table.
    assert!(review.lines().count() < 600, "{} lines", review.lines().count());
}

#[test]
fn security_posture_values_are_shown_inline_and_secrets_by_name_only() {
    let written = write_sample(&[]);
    let review = &written.review;
    for (what, expected) in [
        ("password policy", "USERS \\> Setup \\> PASSWORD\\_MIN\\_LENGTH | `14`"),
        ("login IP allowlist", "USERS \\> IP\\_RANGE | `203.0.113.0-203.0.113.63,198.51.100.25`"),
        ("scan exclusions", "SCAN \\> EXCLUDED\\_IPS \\> IP\\_RANGE | `10.20.0.250-10.20.0.254`"),
        ("a nested tag name", "| Environments / Production / Web Tier / Frankfurt | NAME\\_CONTAINS | `fra-` |"),
        ("a Groovy rule in full", "  return asset.getOperatingSystem().contains(\"Windows XP\");"),
        ("a QQL rule in full", "  tags.name:\"Production\" and software:(name:\"Apache Tomcat\")"),
        ("an authentication record's targets", "| windows \"Corp AD\" | `192.168.50.7-192.168.50.8` | svc-qualys |"),
        ("user roles", "- unit\\_manager: 1"),
    ] {
        assert!(review.contains(expected), "REVIEW.md lacks the {what}: {expected}\n{review}");
    }

    let names = written.manifest.secrets.as_ref().expect("the sample refers to secrets").names.clone();
    assert!(!names.is_empty());
    let sent_by = |name: &str| written.table.lines().filter(|l| l.contains(&format!("{{{{secret:{name}}}}}"))).count();
    for name in &names {
        assert!(review.contains(&format!("- `{name}`: {}", sent_by(name))), "{name} is named with its requests");
        assert!(sent_by(name) > 0, "{name} is referred to in requests.tsv");
    }
    let encrypted = fs::read(repo().join("samples/inputs/credentials.csv.age")).expect("credentials");
    let opened = open(&encrypted, SAMPLE_PASSPHRASE, None, DEFAULT_MAX_WORK_FACTOR).expect("the sample opens");
    for row in &opened.rows {
        let value = row.value();
        assert!(!review.contains(value) && !written.table.contains(value), "a secret value is shown");
    }
}

#[test]
fn a_bundle_of_users_carries_a_personal_data_notice_and_one_without_none() {
    let written = write_sample(&[]);
    assert!(
        written.review.contains("> **Personal data.** This bundle holds the details of 6 people"),
        "{}",
        written.review
    );
    assert!(written.review.contains("`phone` (6)"));

    let networks_only = export_with(&[("networks.xml", &network_list(&[(1103, "Corp East")]))]);
    let review = bundle_review(networks_only.path());
    assert!(!review.contains("Personal data"), "{review}");
}

#[test]
fn a_rate_given_with_the_flag_is_estimated_besides_the_standard_one() {
    let written = write_sample(&["--rate", "50/60"]);
    assert!(written.review.contains("| Waits at 300 calls per 1 h | Waits at 50 calls per 1 min |"));
    assert!(written.review.contains("- At 50 calls per 1 min per path (the limit given with `--rate`)"));
    let dir = tempfile::tempdir().expect("tempdir");
    let run = cli(&samples(), &dir.path().join("b"), &["--rate", "50"]);
    assert_eq!(run.code, 2, "a usage error");
    assert!(run.stderr.contains("CALLS/SECONDS"), "{}", run.stderr);
}

#[test]
fn a_value_cannot_break_a_line_of_the_table_or_start_a_formula() {
    let export = export_with(&[("networks.xml", &network_list(&[(1, "=HYPERLINK(\"http://x\")\tTab"), (2, "Plain")]))]);
    let (_dir, out) = bundled(export.path());
    let table = fs::read_to_string(out.join(REQUESTS_FILE)).expect("table");
    let rows = rows(&table);
    assert_eq!(rows.len(), 2, "{table}");
    assert_eq!(rows[0]["id"], "network/=HYPERLINK(\"http://x\")\\tTab");
    assert_eq!(rows[0]["parameters"], "{\"action\":\"create\",\"name\":\"=HYPERLINK(\\\"http://x\\\")\\u0009Tab\"}");
    let summary = &rows[0]["summary"];
    assert!(!summary.starts_with('='), "{summary}");
}

/// The review snapshot of a small export: its whole text, so any change to REVIEW.md's layout
/// is seen in the diff of `tests/fixtures/review/`. `QMIG_UPDATE_SNAPSHOTS=1` rewrites it.
#[test]
fn the_review_of_a_small_export_matches_its_snapshot() {
    let export = export_with(&[("networks.xml", &network_list(&[(1103, "Corp East"), (1104, "DMZ")]))]);
    let (_dir, out) = bundled(export.path());
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/review");
    for name in [REVIEW_FILE, REQUESTS_FILE] {
        let actual = fs::read_to_string(out.join(name)).expect("written");
        let expected_path = snapshots.join(name);
        if std::env::var_os("QMIG_UPDATE_SNAPSHOTS").is_some() {
            fs::create_dir_all(&snapshots).expect("mkdir");
            fs::write(&expected_path, &actual).expect("write snapshot");
        }
        let expected = fs::read_to_string(&expected_path).expect("a committed snapshot");
        assert_eq!(actual, expected, "{name} differs from {}", expected_path.display());
    }
}

fn network_list(networks: &[(u32, &str)]) -> String {
    let items: String = networks
        .iter()
        .map(|(id, name)| {
            let name = name.replace('&', "&amp;").replace('<', "&lt;").replace('\t', "&#9;");
            format!("<NETWORK><ID>{id}</ID><NAME>{name}</NAME></NETWORK>")
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<NETWORK_LIST_OUTPUT><RESPONSE><DATETIME>2026-10-02T09:14:07Z</DATETIME>\
         <NETWORK_LIST>{items}</NETWORK_LIST></RESPONSE></NETWORK_LIST_OUTPUT>\n"
    )
}

/// The bundle of `export`, written by the program into a new temporary directory.
fn bundled(export: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    let run = cli(export, &out, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    (dir, out)
}

fn bundle_review(export: &Path) -> String {
    let (_dir, out) = bundled(export);
    fs::read_to_string(out.join(REVIEW_FILE)).expect("review")
}

/// Runs `qmig-transform diff OLD NEW`.
fn diff(old: &Path, new: &Path) -> (i32, String, String) {
    let output = Command::new(cargo_bin("qmig-transform")).arg("diff").arg(old).arg(new).output().expect("runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

fn bundle_of(dir: &Path, name: &str, networks: &[(u32, &str)], domains: &[(&str, &str)]) -> PathBuf {
    let export = export_with(&[("networks.xml", &network_list(networks)), ("domains.xml", &domain_list(domains))]);
    let out = dir.join(name);
    let run = cli(export.path(), &out, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    out
}

fn domain_list(domains: &[(&str, &str)]) -> String {
    let items: String = domains
        .iter()
        .enumerate()
        .map(|(id, (domain, netblock))| {
            let (start, end) = netblock.split_once('-').expect("a range");
            format!(
                "<DOMAIN><DOMAIN_NAME>{domain}</DOMAIN_NAME><DOMAIN_ID>{id}</DOMAIN_ID>\
                 <NETBLOCK><RANGE><START>{start}</START><END>{end}</END></RANGE></NETBLOCK></DOMAIN>"
            )
        })
        .collect();
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<DOMAIN_LIST>{items}</DOMAIN_LIST>\n")
}

#[test]
fn diff_reports_exactly_the_changed_added_and_removed_objects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = bundle_of(
        dir.path(),
        "old",
        &[(1, "Corp East"), (2, "DMZ"), (3, "Lab")],
        &[("shop.example", "10.0.0.1-10.0.0.9"), ("www.example", "10.1.0.1-10.1.0.9")],
    );
    let new = bundle_of(
        dir.path(),
        "new",
        &[(1, "Corp East"), (3, "Lab"), (4, "Branch")],
        &[("shop.example", "10.0.0.1-10.0.0.20"), ("www.example", "10.1.0.1-10.1.0.9")],
    );
    let (code, out, err) = diff(&old, &new);
    assert_eq!(code, i32::from(EXIT_DIFFERENT), "{out}{err}");
    assert!(out.contains("**1 added, 1 removed, 1 changed requests.**"), "{out}");
    let added = table_after(&out, "## Added requests");
    let removed = table_after(&out, "## Removed requests");
    assert_eq!(added.len(), 1, "{out}");
    assert_eq!(added[0][1], "`network/Branch`");
    assert_eq!(removed.len(), 1, "{out}");
    assert_eq!(removed[0][1], "`network/DMZ`");
    let changed = out.find("## Changed requests").expect("a changed request");
    let section = &out[changed..];
    assert_eq!(section.matches("\n### ").count(), 1, "{out}");
    assert!(section.contains("### `domain/shop.example`"), "{out}");
    assert!(section.contains("- parameter `netblock`: `10.0.0.1-10.0.0.9` → `10.0.0.1-10.0.0.20`"), "{out}");
    assert!(!out.contains("www.example"), "an unchanged object whose position moved is not reported: {out}");
}

#[test]
fn diff_of_a_bundle_with_itself_says_identical_and_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let networks = [(1, "Corp East")];
    let old = bundle_of(dir.path(), "old", &networks, &[]);
    let again = bundle_of(dir.path(), "again", &networks, &[]);
    let (code, out, err) = diff(&old, &again);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("No difference: the bundles are identical."), "{out}");
}

#[test]
fn diff_refuses_a_bundle_that_does_not_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = bundle_of(dir.path(), "old", &[(1, "Corp East")], &[]);
    let new = bundle_of(dir.path(), "new", &[(1, "Corp East"), (2, "DMZ")], &[]);
    fs::write(new.join(REVIEW_FILE), "# a review someone edited\n").expect("tamper");
    let (code, out, err) = diff(&old, &new);
    assert_eq!(code, i32::from(EXIT_INVALID_INPUT), "{out}{err}");
    assert!(err.contains("cannot be compared, it is not a complete bundle"), "{err}");
    assert!(out.is_empty(), "{out}");
}
