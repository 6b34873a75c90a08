//! `preflight`: read-only calls against the target before a bundle's first write, sent through
//! the run's own exchange and pacing, and a go or no-go with every reason at once. What is
//! asked and how the answers are judged is in `qmig_schemas::preflight`.

use qmig_schemas::preflight::{Announced, Findings, NoGo, Read, Report, probe_groups};
use qmig_schemas::{Manifest, VerifiedBundle, verify_bundle};

use crate::cli::PreflightArgs;
use crate::error::{Error, Stop};
use crate::progress::Progress;
use crate::run::{Call, Connection, Policy, Runner};

pub fn preflight(args: &PreflightArgs) -> Result<(), Error> {
    let bundle = verify_bundle(&args.bundle)?;
    let (client, username) = Connection::check(&bundle, &args.connect)?.client(&args.connect)?;
    let mut runner = Runner::new(Policy::from(&args.connect), None, client, Progress::new(0, 0));
    conclude(&runner.preflight(&bundle, &username)?)
}

/// Prints the report; a no-go ends the command with its own exit code.
pub(crate) fn conclude(report: &Report) -> Result<(), Error> {
    print!("{report}");
    let reasons = report.findings.no_go.len();
    if reasons == 0 { Ok(()) } else { Err(Error::NoGo { reasons }) }
}

impl Runner {
    /// Asks the target everything the preflight checks; refused credentials and a pending
    /// registration end it at once, since no other answer can come.
    pub(crate) fn preflight(&mut self, bundle: &VerifiedBundle, login: &str) -> Result<Report, Error> {
        let manifest = &bundle.manifest;
        let mut findings = Findings::default();
        for read in Read::needed(manifest) {
            let request = read.request();
            findings.calls += 1;
            let reason = match self.read(bundle, &request, Call::of(&request)) {
                Ok((_, document)) => {
                    findings.answer(read, manifest, login, &document.root);
                    continue;
                }
                Err(Error::Stopped(Stop::Registration { text, .. })) => NoGo::Registration(text),
                Err(Error::Stopped(Stop::ProbeFailed { status: Some(401), text, .. })) => NoGo::Credentials(text),
                Err(e) => return Err(e),
            };
            findings.no_go.push(reason);
            return Ok(self.report(manifest, findings));
        }
        let (groups, deferred) = probe_groups(manifest);
        findings.looked_for = (groups.iter().map(|g| g.requests.len()).sum(), deferred);
        for group in &groups {
            let Some(probe) = &group.first.probe else { continue };
            findings.calls += 1;
            let (_, document) = self.read(bundle, group.first, Call::probe(probe))?;
            findings.probe_answer(group, &document.root);
        }
        Ok(self.report(manifest, findings))
    }

    fn report(&self, manifest: &Manifest, findings: Findings) -> Report {
        let limits = self.pacer.limits().map(|(path, l)| {
            (path.to_owned(), Announced { limit: l.limit, window: l.window, concurrency: l.concurrency_limit })
        });
        Report::new(manifest, findings, limits.collect())
    }
}
