//! `preflight`: read-only calls against the target before a bundle's first write, sent through
//! the run's own exchange and pacing, and a go or no-go with every reason at once. What is
//! asked and how the answers are judged is in `qmig_schemas::preflight`.

use std::collections::BTreeMap;

use qmig_schemas::preflight::{Estimate, Findings, NoGo, RateLimit, Read, estimate, probe_groups};
use qmig_schemas::{VerifiedBundle, verify_bundle};

use crate::cli::PreflightArgs;
use crate::error::{Error, Stop};
use crate::pacing::Limits;
use crate::progress::{Progress, seconds};
use crate::run::{Call, Connection, Policy, Runner};

pub fn preflight(args: &PreflightArgs) -> Result<(), Error> {
    let bundle = verify_bundle(&args.bundle)?;
    let (client, username) = Connection::check(&bundle, &args.connect)?.client(&args.connect)?;
    let mut runner = Runner::new(Policy::from(&args.connect), None, client, Progress::new(0, 0));
    runner.preflight(&bundle, &username)?.conclude()
}

/// What a preflight found, and the calls it took.
pub struct Report {
    findings: Findings,
    calls: usize,
    probed: usize,
    /// Probes that name a value captured during the run, covered by their parent's probe.
    deferred: usize,
    limits: BTreeMap<String, Limits>,
    estimate: Estimate,
}

impl Report {
    /// Prints the report; a no-go ends the command with its own exit code.
    pub fn conclude(self) -> Result<(), Error> {
        println!(
            "preflight: read-only calls: {}; objects the bundle creates looked for: {} ({} through their parent)",
            self.calls,
            self.probed + self.deferred,
            self.deferred
        );
        // Qualys usually sets one limit for every API of a subscription: each one seen, once.
        let mut paths_by_limits: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (path, limits) in &self.limits {
            let rate = match (limits.limit, limits.window) {
                (Some(limit), Some(window)) => format!("{limit} calls per {}", seconds(window)),
                _ => "no rate limit given".to_owned(),
            };
            let concurrency = limits.concurrency_limit.map_or_else(String::new, |c| format!(", {c} at a time"));
            paths_by_limits.entry(format!("{rate}{concurrency}")).or_default().push(path);
        }
        for (limits, paths) in &paths_by_limits {
            println!("  limits of {}: {limits}", paths.join(", "));
        }
        let assumed = match self.estimate.assumed.len() {
            0 => String::new(),
            n => format!(" ({n} API paths not called here assumed to have the strictest limit seen)"),
        };
        println!(
            "  estimated duration of the {} requests: at least {} waiting for rate limits{assumed}",
            self.estimate.calls,
            seconds(self.estimate.at_least)
        );
        for note in &self.findings.notes {
            println!("  note: {note}");
        }
        for reason in &self.findings.no_go {
            println!("  no-go: {reason}");
        }
        if self.findings.go() {
            println!("GO");
            return Ok(());
        }
        println!("NO-GO");
        Err(Error::NoGo { reasons: self.findings.no_go.len() })
    }
}

impl Runner {
    /// Asks the target everything the preflight checks; refused credentials and a pending
    /// registration end it at once, since no other answer can come.
    pub(crate) fn preflight(&mut self, bundle: &VerifiedBundle, login: &str) -> Result<Report, Error> {
        let manifest = &bundle.manifest;
        let mut findings = Findings::default();
        let mut calls = 0;
        let (groups, deferred_probes) = probe_groups(manifest);
        let mut first_failure = None;
        for read in Read::needed(manifest) {
            let request = read.request();
            calls += 1;
            let root = match self.read(bundle, &request, Call::of(&request)) {
                Ok((_, document)) => document.root,
                Err(Error::Stopped(Stop::Registration { text, .. })) => {
                    first_failure = Some(NoGo::Registration(text));
                    break;
                }
                Err(Error::Stopped(Stop::ProbeFailed { status: Some(401), text, .. })) => {
                    first_failure = Some(NoGo::Credentials(text));
                    break;
                }
                Err(e) => return Err(e),
            };
            match read {
                Read::Users => findings.users(manifest, login, &root),
                Read::Appliances => findings.appliances(manifest, &root),
                Read::Vaults => findings.vaults(manifest, &root),
            }
        }
        let (mut probed, mut deferred) = (0, 0);
        if let Some(reason) = first_failure {
            findings.no_go.push(reason);
        } else {
            (probed, deferred) = (groups.iter().map(|g| g.requests.len()).sum(), deferred_probes);
            findings.distribution_groups(manifest);
            for group in &groups {
                let Some(probe) = &group.first.probe else { continue };
                calls += 1;
                let (_, document) = self.read(bundle, group.first, Call::probe(probe))?;
                findings.probe_answer(group, &document.root);
            }
        }
        let limits: BTreeMap<String, Limits> = self.pacer.limits().map(|(p, l)| (p.to_owned(), *l)).collect();
        let rates = limits.iter().filter_map(|(path, l)| {
            let (limit, window) = (l.limit?, l.window?);
            Some((path.clone(), RateLimit { limit, window }))
        });
        let estimate = estimate(manifest, &rates.collect());
        Ok(Report { findings, calls, probed, deferred, limits, estimate })
    }
}
