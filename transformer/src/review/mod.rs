//! `REVIEW.md`: what a security team reads before approving a bundle, at any size. Anomalies
//! first, then counts per task, effect and endpoint with the run's estimated duration, then the
//! values that change the target's security posture shown inline; the request-by-request detail
//! is `requests.tsv` ([`table`]), made for tools.
//!
//! Everything in it comes from the manifest and the bodies, so it cannot say something the
//! bundle does not do. It is built by a [`Review`] that observes one request at a time and keeps
//! aggregates, never the requests, so a bundle writer can stream millions of them through it.

mod posture;
pub mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use qmig_schemas::{Effect, Manifest, Phase, REQUESTS_FILE, Request, SecretsFormat, StepTime, Value, Warning};

use self::posture::{Capped, Posture, SHOWN_ROWS};
use crate::credentials;
use crate::markdown::{code, md, shown_text, visible};

/// A rate limit of the target: at most `calls` per `seconds` on one API path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub calls: u32,
    pub seconds: u32,
}

impl Rate {
    /// The limit of a Qualys Standard subscription: 300 calls per hour on each API.
    pub const STANDARD: Rate = Rate { calls: 300, seconds: 3600 };

    /// How long the run waits for this limit to send `calls` calls to one path: the first
    /// window's calls go at once, each further full or partial window costs a whole window.
    fn paced_seconds(self, calls: u64) -> u64 {
        calls.div_ceil(u64::from(self.calls)).saturating_sub(1) * u64::from(self.seconds)
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Rate, String> {
        let wrong = || format!("`{text}` is not CALLS/SECONDS with both whole numbers above 0 (300/3600)");
        let (calls, seconds) = text.split_once('/').ok_or_else(wrong)?;
        let calls: u32 = calls.trim().parse().map_err(|_| wrong())?;
        let seconds: u32 = seconds.trim().parse().map_err(|_| wrong())?;
        if calls == 0 || seconds == 0 {
            return Err(wrong());
        }
        Ok(Rate { calls, seconds })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} calls per {}", self.calls, duration(u64::from(self.seconds)))
    }
}

/// Requests counted by effect.
#[derive(Debug, Default, Clone, Copy)]
struct Effects {
    create: u64,
    idempotent: u64,
    read: u64,
}

impl Effects {
    fn add(&mut self, effect: Effect) {
        match effect {
            Effect::Create => self.create += 1,
            Effect::Idempotent => self.idempotent += 1,
            Effect::Read => self.read += 1,
        }
    }

    fn total(self) -> u64 {
        self.create + self.idempotent + self.read
    }
}

#[derive(Debug, Default)]
struct Endpoint {
    methods: BTreeSet<&'static str>,
    effects: Effects,
}

/// The references of one kind replaced by the target's counterpart.
#[derive(Debug, Default)]
struct Remaps {
    /// Known when the bundle was built (a mapping table, the target's export): source → target
    /// and how many requests carry it.
    known: BTreeMap<(String, String), u64>,
    /// Distinct known pairs beyond what is shown.
    known_more: u64,
    /// Replaced when the bundle runs, by an ID captured from the target.
    captured: u64,
}

/// REVIEW.md, built one request at a time: [`Review::observe`] each request in order with its
/// body, then [`Review::finish`] with the manifest's other fields.
#[derive(Debug)]
pub struct Review {
    /// A rate limit given by the operator, estimated besides [`Rate::STANDARD`].
    rate: Option<Rate>,
    effects: Effects,
    tasks: BTreeMap<String, Effects>,
    endpoints: BTreeMap<String, Endpoint>,
    remaps: BTreeMap<String, Remaps>,
    cutover: Capped<(u64, String)>,
    posture: Posture,
}

impl Review {
    pub fn new(rate: Option<Rate>) -> Review {
        Review {
            rate,
            effects: Effects::default(),
            tasks: BTreeMap::new(),
            endpoints: BTreeMap::new(),
            remaps: BTreeMap::new(),
            cutover: Capped::default(),
            posture: Posture::default(),
        }
    }

    /// Takes one request into account, with the bytes of its body when it has one.
    pub fn observe(&mut self, request: &Request, body: Option<&[u8]>) {
        self.effects.add(request.effect);
        self.tasks.entry(request.task.clone()).or_default().add(request.effect);
        let endpoint = self.endpoints.entry(request.path.clone()).or_default();
        endpoint.methods.insert(request.method.as_str());
        endpoint.effects.add(request.effect);
        for remap in &request.remapped {
            let remaps = self.remaps.entry(remap.kind.clone()).or_default();
            match &remap.target {
                Value::Text(target) => {
                    let key = (remap.source.clone(), target.clone());
                    if let Some(count) = remaps.known.get_mut(&key) {
                        *count += 1;
                    } else if remaps.known.len() < SHOWN_ROWS {
                        remaps.known.insert(key, 1);
                    } else {
                        remaps.known_more += 1;
                    }
                }
                Value::Parts(_) => remaps.captured += 1,
            }
        }
        if request.phase == Phase::Cutover {
            self.cutover.push((request.seq, request.summary.clone()));
        }
        self.posture.observe(request, body);
    }

    /// Writes REVIEW.md. `manifest` gives everything but the requests, which were observed:
    /// its `requests` are not read, so a streaming writer may leave them empty.
    /// `purpose` says what the bundle is for and how many requests it holds, in one sentence.
    pub fn finish(self, manifest: &Manifest, purpose: &str, w: &mut dyn Write) -> io::Result<()> {
        writeln!(w, "# qmig bundle review")?;
        writeln!(w)?;
        writeln!(w, "{purpose}")?;
        writeln!(
            w,
            "Nothing has been sent yet. To check it: `sha256sum -c SHA256SUMS` inside the bundle, or `qmig-execute verify <bundle>`;"
        )?;
        writeln!(
            w,
            "the digest to approve is printed by both (it is the SHA-256 of `SHA256SUMS`, which covers this file)."
        )?;
        writeln!(
            w,
            "This document summarises; every request is one line of `{REQUESTS_FILE}` (see \"Every request\" below)."
        )?;
        writeln!(w)?;
        match &manifest.target {
            Some(target) => writeln!(
                w,
                "**Target:** {}. `qmig-execute run` refuses any other target unless it is given `--other-target`.",
                md(target)
            )?,
            None => writeln!(
                w,
                "**Target:** none recorded (`qmig-transform bundle --target URL` records one): the bundle runs against any target."
            )?,
        }
        writeln!(w)?;
        self.personal_data(w)?;
        self.anomalies(manifest, w)?;
        steps(w, manifest, StepTime::Before, "## Before running the bundle")?;
        self.summary(manifest, w)?;
        self.posture_sections(w)?;
        secrets(w, manifest, &self.posture.secrets)?;
        self.cutover_section(w)?;
        every_request(w)?;
        steps(w, manifest, StepTime::After, "## After running the bundle")?;
        reported(w, manifest)?;
        files(w, manifest)
    }

    fn personal_data(&self, w: &mut dyn Write) -> io::Result<()> {
        if self.posture.people == 0 {
            return Ok(());
        }
        let fields: Vec<String> =
            self.posture.personal_fields.iter().map(|(field, count)| format!("`{field}` ({count})")).collect();
        writeln!(
            w,
            "> **Personal data.** This bundle holds the details of {} people (names, phone numbers,",
            self.posture.people
        )?;
        writeln!(w, "> addresses, e-mail addresses: {}) in `manifest.json` and `{REQUESTS_FILE}`.", fields.join(", "))?;
        writeln!(w, "> Store, copy and delete it under the customer's rules for personal data.")?;
        writeln!(w)
    }

    fn anomalies(&self, manifest: &Manifest, w: &mut dyn Write) -> io::Result<()> {
        let warnings: Vec<&Warning> = manifest.warnings.iter().filter(|w| !is_unused_secret(w)).collect();
        let known: u64 = self.remaps.values().map(|r| r.known.values().sum::<u64>()).sum();
        writeln!(w, "## Read first: what is not carried over as it is")?;
        writeln!(w)?;
        writeln!(w, "- {} source objects skipped (no request)", manifest.skipped.len())?;
        writeln!(w, "- {} objects with data the API cannot carry over", manifest.losses.len())?;
        writeln!(w, "- {known} references replaced through a mapping table or the target's export")?;
        writeln!(w, "- {} warnings", warnings.len())?;
        writeln!(w, "- {} files of the export not recognised", manifest.unrecognised.len())?;
        writeln!(w, "- {} request bodies whose values this review could not read", self.posture.unreadable.len())?;
        writeln!(w)?;
        skipped(w, manifest)?;
        losses(w, manifest)?;
        self.remapped(w)?;
        if !warnings.is_empty() {
            writeln!(w, "### Warnings")?;
            writeln!(w)?;
            for warning in warnings {
                let source = warning.source.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
                writeln!(w, "- {}: {}{}", md(&warning.task), md(&warning.message), md(&source))?;
            }
            writeln!(w)?;
        }
        if !manifest.unrecognised.is_empty() {
            writeln!(w, "### Files not recognised (not migrated)")?;
            writeln!(w)?;
            for file in &manifest.unrecognised {
                writeln!(w, "- `{}`: {}", code(&file.path), md(&file.reason))?;
            }
            writeln!(w)?;
        }
        if !self.posture.unreadable.is_empty() {
            writeln!(w, "### Bodies to read by hand")?;
            writeln!(w)?;
            for (id, problem) in &self.posture.unreadable {
                writeln!(w, "- `{}`: {}", code(id), md(problem))?;
            }
            writeln!(w)?;
        }
        Ok(())
    }

    fn remapped(&self, w: &mut dyn Write) -> io::Result<()> {
        if self.remaps.is_empty() {
            return Ok(());
        }
        writeln!(w, "### References replaced by the target's counterpart")?;
        writeln!(w)?;
        writeln!(w, "Known now (from a mapping table of `--inputs` or from `--target-export`): check each pair.")?;
        writeln!(w)?;
        writeln!(w, "| Kind | In the source | In the target | Requests |")?;
        writeln!(w, "|---|---|---|---:|")?;
        for (kind, remaps) in &self.remaps {
            for ((source, target), count) in &remaps.known {
                writeln!(w, "| {} | {} | {} | {count} |", md(kind), shown_text(source), shown_text(target))?;
            }
            if remaps.known_more > 0 {
                writeln!(w, "| {} | … {} more pairs (see `{REQUESTS_FILE}`) | | |", md(kind), remaps.known_more)?;
            }
        }
        writeln!(w)?;
        let captured: Vec<String> = self
            .remaps
            .iter()
            .filter(|(_, r)| r.captured > 0)
            .map(|(kind, r)| format!("{} {}", r.captured, md(kind)))
            .collect();
        if !captured.is_empty() {
            writeln!(
                w,
                "Replaced when the bundle runs, by the ID the target gives the object a request creates: {}.",
                captured.join(", ")
            )?;
            writeln!(w)?;
        }
        Ok(())
    }

    fn summary(&self, manifest: &Manifest, w: &mut dyn Write) -> io::Result<()> {
        writeln!(w, "## Summary")?;
        writeln!(w)?;
        writeln!(w, "### Per task")?;
        writeln!(w)?;
        writeln!(w, "| Task | Source objects | Requests | Creates | Idempotent | Reads | Skipped | Losses |")?;
        writeln!(w, "|---|---:|---:|---:|---:|---:|---:|---:|")?;
        let mut total = (0, 0, Effects::default(), 0, 0);
        // A task that found nothing to do would only add a row of zeros.
        for task in manifest.tasks.iter().filter(|t| t.source_objects + t.requests + t.skipped > 0) {
            let effects = self.tasks.get(&task.task).copied().unwrap_or_default();
            let losses = manifest.losses.iter().filter(|l| l.task == task.task).count() as u64;
            writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} | {losses} |",
                md(&task.task),
                task.source_objects,
                effects.total(),
                effects.create,
                effects.idempotent,
                effects.read,
                task.skipped
            )?;
            total.0 += task.source_objects;
            total.1 += effects.total();
            total.3 += task.skipped;
            total.4 += losses;
        }
        let e = self.effects;
        writeln!(
            w,
            "| **total** | {} | {} | {} | {} | {} | {} | {} |",
            total.0, total.1, e.create, e.idempotent, e.read, total.3, total.4
        )?;
        writeln!(w)?;
        writeln!(w, "### Per effect")?;
        writeln!(w)?;
        writeln!(
            w,
            "- {} creates: each makes an object; never sent twice (after an unknown outcome its probe or the operator decides)",
            e.create
        )?;
        writeln!(w, "- {} idempotent: change the target, and sending one again leaves the same result", e.idempotent)?;
        writeln!(w, "- {} reads: change nothing (look-ups whose answer later requests use)", e.read)?;
        writeln!(w)?;
        self.endpoints_section(w)
    }

    fn endpoints_section(&self, w: &mut dyn Write) -> io::Result<()> {
        let rates: Vec<Rate> =
            std::iter::once(Rate::STANDARD).chain(self.rate.filter(|r| *r != Rate::STANDARD)).collect();
        writeln!(w, "### Per endpoint, and how long the run takes")?;
        writeln!(w)?;
        let heads: Vec<String> = rates.iter().map(|r| format!("Waits at {r}")).collect();
        writeln!(w, "| API path | Methods | Requests | Creates | Idempotent | Reads | {} |", heads.join(" | "))?;
        writeln!(w, "|---|---|---:|---:|---:|---:|{}", "---:|".repeat(rates.len()))?;
        for (path, endpoint) in &self.endpoints {
            let methods: Vec<&str> = endpoint.methods.iter().copied().collect();
            let e = endpoint.effects;
            let waits: Vec<String> = rates.iter().map(|r| duration(r.paced_seconds(e.total()))).collect();
            writeln!(
                w,
                "| `{}` | {} | {} | {} | {} | {} | {} |",
                code(path),
                methods.join(", "),
                e.total(),
                e.create,
                e.idempotent,
                e.read,
                waits.join(" | ")
            )?;
        }
        writeln!(w)?;
        writeln!(
            w,
            "The executor paces each API path on its own. Waiting is what the limit imposes, before the time the target takes"
        )?;
        writeln!(
            w,
            "to answer: the run takes at least the busiest path's wait, and up to the sum of all paths' waits if it has to"
        )?;
        writeln!(
            w,
            "wait on one path while requests for another are ready. Probes, sent only after an unknown outcome, are not counted."
        )?;
        writeln!(w)?;
        for rate in rates {
            let waits: Vec<u64> = self.endpoints.values().map(|e| rate.paced_seconds(e.effects.total())).collect();
            let busiest = waits.iter().copied().max().unwrap_or(0);
            let sum: u64 = waits.iter().sum();
            let origin = if rate == Rate::STANDARD { "Standard limits" } else { "the limit given with `--rate`" };
            writeln!(
                w,
                "- At {rate} per path ({origin}): at least {}, at most {} of waiting.",
                duration(busiest),
                duration(sum)
            )?;
        }
        if self.rate.is_none() {
            writeln!(w, "- Other limits: `qmig-transform bundle --rate CALLS/SECONDS` adds their estimate here.")?;
        }
        writeln!(w)
    }

    fn posture_sections(&self, w: &mut dyn Write) -> io::Result<()> {
        let posture = &self.posture;
        for (id, settings) in &posture.subscription {
            let heading = format!(
                "## Subscription configuration import (`{}`)\n\nImported as captured: these settings replace the \
                 target's (login IP allowlist, password policy, scan exclusions, ...).",
                code(id)
            );
            let rows = settings.shown.iter().map(|s| vec![md(&s.path), shown_text(&s.value)]).collect();
            table_section(w, &heading, &["Setting", "Value"], rows)?;
            more_rows(w, settings.more)?;
        }
        let rows = posture
            .tags
            .shown
            .iter()
            .map(|tag| {
                let text = if tag.rule_text.is_empty() { String::new() } else { shown_text(&tag.rule_text) };
                vec![md(&tag.path), md(&tag.rule_type), text]
            })
            .collect();
        table_section(w, "## Asset tags created, nested, with their rules", &["Tag", "Rule", "Rule text"], rows)?;
        more_rows(w, posture.tags.more)?;
        if !posture.code_rules.is_empty() {
            writeln!(w, "## Tag rules that are code or queries, in full")?;
            writeln!(w)?;
            writeln!(
                w,
                "The platform evaluates each of these over every asset of the target: `GROOVY` runs code, the others are QQL or asset searches."
            )?;
            writeln!(w)?;
            for tag in &posture.code_rules {
                writeln!(w, "- **{}** ({}):", md(&tag.path), md(&tag.rule_type))?;
                writeln!(w)?;
                fenced(w, &tag.rule_text)?;
            }
        }
        let rows =
            posture.auth_targets.shown.iter().map(|t| vec![md(&t.record), shown_text(&t.ips), md(&t.login)]).collect();
        table_section(w, "## Authentication records: where they log in", &["Record", "Hosts", "Login"], rows)?;
        more_rows(w, posture.auth_targets.more)?;
        let rows = posture
            .highlights
            .shown
            .iter()
            .map(|(id, setting, value)| vec![format!("`{}`", code(id)), md(setting), shown_text(value)])
            .collect();
        let heading = "## Option profiles and compliance policies: what scans do to hosts\n\nThe settings that decide how \
                       intrusive a scan is (authentication, password brute forcing, agents, performance), who may use a \
                       profile, and checks written by the customer (user-defined controls).";
        table_section(w, heading, &["Imported", "Setting", "Value"], rows)?;
        more_rows(w, posture.highlights.more)?;
        if !posture.user_roles.is_empty() {
            writeln!(w, "## Users created, by role")?;
            writeln!(w)?;
            for (role, count) in &posture.user_roles {
                writeln!(w, "- {}: {count}", md(role))?;
            }
            writeln!(w)?;
        }
        Ok(())
    }

    fn cutover_section(&self, w: &mut dyn Write) -> io::Result<()> {
        if self.cutover.shown.is_empty() {
            return Ok(());
        }
        writeln!(w, "## The cutover: what is switched on, only when the operator asks")?;
        writeln!(w)?;
        writeln!(
            w,
            "`qmig-execute run` stops before these requests. `qmig-execute run --cutover`, with the same journal and \
             approved digest, sends them once every other request is done: on the day the source subscription stops \
             scanning."
        )?;
        writeln!(w)?;
        for (seq, summary) in &self.cutover.shown {
            writeln!(w, "{seq}. {}", md(summary))?;
        }
        if self.cutover.more > 0 {
            writeln!(w, "\n… and {} more (see `{REQUESTS_FILE}`, column `phase`).", self.cutover.more)?;
        }
        writeln!(w)
    }
}

fn more_rows(w: &mut dyn Write, more: u64) -> io::Result<()> {
    if more > 0 {
        writeln!(
            w,
            "… {more} more rows, not shown (the first {SHOWN_ROWS} are); every value is in the request bodies.\n"
        )?;
    }
    Ok(())
}

/// Text in a fenced code block whose fence no line of the text can close.
fn fenced(w: &mut dyn Write, text: &str) -> io::Result<()> {
    let longest = text.lines().map(|l| l.trim_start().chars().take_while(|c| *c == '`').count()).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    writeln!(w, "  {fence}")?;
    for line in text.lines() {
        writeln!(w, "  {}", visible(line))?;
    }
    writeln!(w, "  {fence}")?;
    writeln!(w)
}

fn every_request(w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "## Every request")?;
    writeln!(w)?;
    writeln!(
        w,
        "`{REQUESTS_FILE}` has one line per request, in bundle order, tab-separated with a header line: {}.",
        table::COLUMNS.map(|c| format!("`{c}`")).join(", ")
    )?;
    writeln!(
        w,
        "`parameters`, `references`, `captures`, `remapped` and `depends_on` are JSON; secrets appear as `{{{{secret:NAME}}}}`, never as values."
    )?;
    writeln!(
        w,
        "The executor sends a request once the requests it waits for are done: those that capture a value it uses \
         (`references`) and those named in `depends_on` (an order no capture shows, such as IPs before the asset \
         groups that name them). Otherwise it keeps bundle order, except that it sends to an API path with rate \
         budget left rather than wait on another."
    )?;
    writeln!(w, "For example:")?;
    writeln!(w)?;
    writeln!(w, "```sh")?;
    writeln!(w, "column -t -s $'\\t' {REQUESTS_FILE} | less -S          # read it as a table")?;
    writeln!(w, "awk -F'\\t' '$7 == \"create\"' {REQUESTS_FILE}            # every request that creates an object")?;
    writeln!(w, "grep -F '{{{{secret:' {REQUESTS_FILE}                       # every request that sends a secret")?;
    writeln!(w, "cut -f6 {REQUESTS_FILE} | sort | uniq -c | sort -rn     # requests per API path")?;
    writeln!(w, "```")?;
    writeln!(w)?;
    writeln!(
        w,
        "`qmig-transform diff OLD_BUNDLE NEW_BUNDLE` shows what a re-transformed bundle changes, request by request."
    )?;
    writeln!(w)
}

/// A length of time in the largest units that matter: `2 h 5 min`, `3 d 4 h`, `0 min`.
fn duration(seconds: u64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) if seconds > 0 => format!("{seconds} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

fn steps(w: &mut dyn Write, manifest: &Manifest, when: StepTime, heading: &str) -> io::Result<()> {
    let steps: Vec<_> = manifest.manual_steps.iter().filter(|s| s.when == when).collect();
    if steps.is_empty() {
        return Ok(());
    }
    writeln!(w, "{heading}")?;
    writeln!(w)?;
    for step in steps {
        writeln!(w, "- [ ] **{}** ({}). {}", md(&step.title), step.id, md(&step.detail))?;
        for item in &step.items {
            writeln!(w, "  - {}", md(item))?;
        }
    }
    writeln!(w)
}

/// A Markdown table under a heading; nothing at all when it has no row.
fn table_section(w: &mut dyn Write, heading: &str, columns: &[&str], rows: Vec<Vec<String>>) -> io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(w, "{heading}")?;
    writeln!(w)?;
    writeln!(w, "| {} |", columns.join(" | "))?;
    writeln!(w, "|{}", "---|".repeat(columns.len()))?;
    for row in rows {
        writeln!(w, "| {} |", row.join(" | "))?;
    }
    writeln!(w)
}

fn source_text(source: Option<&qmig_schemas::SourceRef>) -> String {
    md(&source.map(ToString::to_string).unwrap_or_default())
}

fn skipped(w: &mut dyn Write, manifest: &Manifest) -> io::Result<()> {
    let rows = manifest
        .skipped
        .iter()
        .map(|s| vec![md(&s.task), md(&s.object), md(&s.reason), source_text(s.source.as_ref())])
        .collect();
    table_section(w, "### Skipped source objects", &["Task", "Object", "Why", "Source"], rows)
}

fn losses(w: &mut dyn Write, manifest: &Manifest) -> io::Result<()> {
    let rows = manifest
        .losses
        .iter()
        .map(|l| {
            vec![md(&l.task), md(&l.object), md(&l.fields.join(", ")), md(&l.reason), source_text(l.source.as_ref())]
        })
        .collect();
    table_section(w, "### What the API cannot carry over", &["Task", "Object", "Fields", "Why", "Source"], rows)
}

fn reported(w: &mut dyn Write, manifest: &Manifest) -> io::Result<()> {
    if manifest.report.is_empty() {
        return Ok(());
    }
    writeln!(w, "## Shown to the operator once the bundle has run")?;
    writeln!(w)?;
    writeln!(
        w,
        "The executor prints these values, captured from the target's responses, at the end of the run and in"
    )?;
    writeln!(w, "`qmig-execute status`. They are not in the bundle.")?;
    writeln!(w)?;
    for reported in &manifest.report {
        writeln!(w, "- {} (`{}`)", md(&reported.label), code(&reported.capture))?;
    }
    writeln!(w)
}

/// Warnings about rows of the credentials file no request uses: shown with the secrets.
fn is_unused_secret(warning: &Warning) -> bool {
    warning.task == credentials::TASK
}

/// The credentials file, and every secret reference by name (never by value) with the number
/// of requests that send it.
fn secrets(w: &mut dyn Write, manifest: &Manifest, sent: &BTreeMap<String, u64>) -> io::Result<()> {
    let unused: Vec<&Warning> = manifest.warnings.iter().filter(|w| is_unused_secret(w)).collect();
    if manifest.secrets.is_none() && unused.is_empty() {
        return Ok(());
    }
    writeln!(w, "## Secrets")?;
    writeln!(w)?;
    if let Some(secrets) = &manifest.secrets {
        let cipher = match secrets.format {
            SecretsFormat::Age => {
                "its cipher is ChaCha20-Poly1305, not the AES256 the migration guide names: \
                 check that it meets the customer's policy, or have the operator encrypt with `openssl enc` instead"
            }
            SecretsFormat::OpensslAes256CbcPbkdf2Sha256 { .. } => "this is the AES256 the migration guide asks for",
        };
        writeln!(
            w,
            "The bundle carries the operator's credentials file `{}` exactly as they encrypted it ({}; {cipher}).",
            secrets.file, secrets.format
        )?;
        writeln!(
            w,
            "No secret is in the bundle in plaintext: only `qmig-execute` decrypts the file, in memory, with the"
        )?;
        writeln!(
            w,
            "operator's passphrase, and sends each value only in the form body of the request that refers to it."
        )?;
        writeln!(
            w,
            "The requests refer to these rows (type, title or username, parameter), each sent by that many requests:"
        )?;
        writeln!(w)?;
        for name in &secrets.names {
            let count = sent.get(name).copied().unwrap_or(0);
            writeln!(w, "- `{}`: {count}", name.replace('`', "'"))?;
        }
        writeln!(w)?;
    }
    if !unused.is_empty() {
        writeln!(w, "Rows of the credentials file that match no authentication record, so no request uses them")?;
        writeln!(w, "(a typo in a title, or a record that is no longer in the source); `--strict` refuses them:")?;
        writeln!(w)?;
        for warning in unused {
            writeln!(w, "- {}", md(&warning.message))?;
        }
        writeln!(w)?;
    }
    Ok(())
}

fn files(w: &mut dyn Write, manifest: &Manifest) -> io::Result<()> {
    writeln!(w, "## Files read")?;
    writeln!(w)?;
    writeln!(w, "| File | Kind | SHA-256 |")?;
    writeln!(w, "|---|---|---|")?;
    for file in manifest.sources.iter().chain(&manifest.inputs) {
        writeln!(w, "| `{}` | {} | `{}` |", code(&file.path), md(&file.kind), file.sha256)?;
    }
    Ok(())
}

/// REVIEW.md and `requests.tsv` of a manifest whose requests are all in memory, with a body
/// lookup: what the bundle writer uses today.
pub fn render<'a>(
    manifest: &Manifest,
    purpose: &str,
    rate: Option<Rate>,
    body: impl Fn(&str) -> Option<&'a [u8]>,
) -> (String, String) {
    let mut review = Review::new(rate);
    let mut tsv = Vec::new();
    let write = |tsv: &mut Vec<u8>| -> io::Result<()> {
        table::write_header(tsv)?;
        for request in &manifest.requests {
            table::write_row(tsv, request)?;
        }
        Ok(())
    };
    write(&mut tsv).expect("writing to memory cannot fail");
    for request in &manifest.requests {
        review.observe(request, request.body.as_ref().and_then(|b| body(&b.file)));
    }
    let mut text = Vec::new();
    review.finish(manifest, purpose, &mut text).expect("writing to memory cannot fail");
    let utf8 = |bytes: Vec<u8>| String::from_utf8(bytes).expect("the review is written from strings");
    (utf8(text), utf8(tsv))
}

#[cfg(test)]
mod tests {
    use qmig_schemas::{Generator, Method, Param};

    use super::*;

    fn auth_record(seq: u64) -> Request {
        Request {
            seq,
            id: format!("auth-record/unix/r{seq}"),
            task: crate::tasks::auth_records::TASK.to_owned(),
            summary: format!("Create unix authentication record \"r{seq}\""),
            method: Method::Post,
            path: "/api/2.0/fo/auth/unix/".to_owned(),
            params: vec![Param::text("title", format!("r{seq}")), Param::text("ips", "10.0.0.1")],
            body: None,
            effect: Effect::Create,
            phase: Phase::Migration,
            captures: vec![],
            probe: None,
            source: None,
            remapped: vec![],
            depends_on: vec![],
        }
    }

    fn empty_manifest() -> Manifest {
        Manifest {
            format_version: qmig_schemas::FORMAT_VERSION,
            generator: Generator { name: "qmig-transform".into(), version: "test".into() },
            target: None,
            sources: vec![],
            inputs: vec![],
            unrecognised: vec![],
            secrets: None,
            tasks: vec![],
            requests: vec![],
            skipped: vec![],
            losses: vec![],
            manual_steps: vec![],
            warnings: vec![],
            report: vec![],
            prerequisites: vec![],
        }
    }

    /// Thousands of requests on one path: the lists a reviewer reads stop at SHOWN_ROWS and say
    /// how many more there are, and the wait is one window per further 300 calls.
    #[test]
    fn a_large_bundle_is_summarised_in_bounded_lists_with_its_paced_duration() {
        let mut review = Review::new(Some(Rate { calls: 1000, seconds: 3600 }));
        let count = SHOWN_ROWS as u64 + 1000;
        for seq in 1..=count {
            review.observe(&auth_record(seq), None);
        }
        assert_eq!(review.posture.auth_targets.shown.len(), SHOWN_ROWS);
        let mut text = Vec::new();
        review.finish(&empty_manifest(), "This bundle is a test.", &mut text).expect("written to memory");
        let text = String::from_utf8(text).expect("UTF-8");
        assert!(text.contains("… 1000 more rows, not shown (the first 2000 are)"), "{text}");
        assert!(text.contains("| `/api/2.0/fo/auth/unix/` | POST | 3000 | 3000 | 0 | 0 | 9 h | 2 h |"), "{text}");
        assert!(
            text.contains("- At 300 calls per 1 h per path (Standard limits): at least 9 h, at most 9 h of waiting.")
        );
        assert!(text.contains("- At 1000 calls per 1 h per path (the limit given with `--rate`): at least 2 h"));
    }

    #[test]
    fn a_body_the_review_cannot_read_is_listed_among_the_anomalies() {
        let mut review = Review::new(None);
        let import = Request {
            id: "subscription/configuration".into(),
            task: crate::tasks::subscription::TASK.into(),
            path: "/api/2.0/fo/subscription/".into(),
            effect: Effect::Idempotent,
            ..auth_record(1)
        };
        review.observe(&import, Some(b"<RECORD><SUBSCRIPTION></RECORD>"));
        let mut text = Vec::new();
        review.finish(&empty_manifest(), "This bundle is a test.", &mut text).expect("written to memory");
        let text = String::from_utf8(text).expect("UTF-8");
        assert!(text.contains("- 1 request bodies whose values this review could not read"), "{text}");
        assert!(
            text.contains("### Bodies to read by hand\n\n- `subscription/configuration`: not readable as XML"),
            "{text}"
        );
    }

    #[test]
    fn a_rate_is_calls_per_seconds() {
        assert_eq!("1000/3600".parse(), Ok(Rate { calls: 1000, seconds: 3600 }));
        assert!("0/60".parse::<Rate>().is_err());
        assert!("300".parse::<Rate>().is_err());
        assert!("300/1h".parse::<Rate>().is_err());
    }

    #[test]
    fn the_first_window_is_free_and_each_further_one_costs_a_window() {
        let standard = Rate::STANDARD;
        assert_eq!(standard.paced_seconds(0), 0);
        assert_eq!(standard.paced_seconds(300), 0);
        assert_eq!(standard.paced_seconds(301), 3600);
        assert_eq!(standard.paced_seconds(2_000_000), 6666 * 3600);
    }

    #[test]
    fn durations_read_in_the_largest_units() {
        assert_eq!(duration(0), "0 min");
        assert_eq!(duration(30), "30 s");
        assert_eq!(duration(3600 + 300), "1 h 5 min");
        assert_eq!(duration(7200), "2 h");
        assert_eq!(duration(6666 * 3600), "277 d 18 h");
    }
}
