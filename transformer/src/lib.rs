//! `qmig-transform`: reads a directory of XML exported from the source subscription and writes a
//! reviewable, checksummed bundle of the requests that re-create it in the target. Offline and
//! deterministic: the same export and inputs always give the same bytes.

pub mod bundle;
pub mod calendar;
pub mod capture_script;
pub mod checklist;
pub mod cli;
pub mod context;
pub mod credentials;
pub mod diff;
pub mod error;
pub mod export;
pub mod inputs;
pub mod interrupt;
pub mod markdown;
pub mod plan;
pub mod ranges;
pub mod reconcile;
pub mod review;
pub mod tasks;
pub mod undo;
pub mod xml;

use std::io::Write;

use qmig_schemas::BundleContents;

use crate::bundle::{Provenance, Purpose};
use crate::cli::{BundleArgs, CaptureScriptArgs, Cli, Command, DiffArgs, ReconcileArgs, TemplateArgs};
use crate::context::{Context, Options};
use crate::credentials::Credentials;
use crate::error::TransformError;
use crate::export::Export;
use crate::inputs::Inputs;
use crate::interrupt::Interruption;
use crate::plan::Refs;

/// How a command that succeeded ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// `diff` found differences (exit status [`error::EXIT_DIFFERENT`]).
    Different,
}

/// Runs the command line; the report goes to `out` (for `bundle`, its last line is the digest).
pub fn run(cli: Cli, out: &mut dyn Write, interruption: &Interruption) -> Result<Outcome, TransformError> {
    match cli.command {
        Command::Bundle(args) => {
            let contents = match args.threads {
                Some(threads) => {
                    let threads = usize::from(threads);
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .map_err(|e| TransformError::Threads { threads, message: e.to_string() })?;
                    pool.install(|| build(&args))?
                }
                None => build(&args)?,
            };
            let interrupted = interruption.start_writing().ok_or(TransformError::Interrupted)?;
            let digest = qmig_schemas::write_bundle_interruptible(&args.out, &contents, args.force, interrupted)?;
            report(out, &args.out, &contents, &digest).map_err(TransformError::Report)?;
            Ok(Outcome::Done)
        }
        Command::Undo(args) => {
            let contents = undo::build(&args.bundle, &args.journal)?;
            let interrupted = interruption.start_writing().ok_or(TransformError::Interrupted)?;
            let digest = qmig_schemas::write_bundle_interruptible(&args.out, &contents, args.force, interrupted)?;
            report(out, &args.out, &contents, &digest).map_err(TransformError::Report)?;
            Ok(Outcome::Done)
        }
        Command::CredentialsTemplate(args) => credentials_template(&args, out).map(|()| Outcome::Done),
        Command::Diff(args) => diff_bundles(&args, out),
        Command::CaptureScript(args) => write_capture_script(&args, out).map(|()| Outcome::Done),
        Command::Reconcile(args) => reconcile_exports(&args, out).map(|()| Outcome::Done),
    }
}

/// Compares two verified bundles; a bundle that does not verify is refused, so the diff never
/// shows what a tampered file claims.
fn diff_bundles(args: &DiffArgs, out: &mut dyn Write) -> Result<Outcome, TransformError> {
    let read = |path: &std::path::Path| {
        qmig_schemas::verify_bundle(path)
            .map_err(|source| TransformError::DiffBundle { path: path.to_path_buf(), source })
    };
    let (old, new) = (read(&args.old)?, read(&args.new)?);
    let names = [args.old.to_string_lossy(), args.new.to_string_lossy()];
    let differs = diff::write_diff(&old, &new, [&names[0], &names[1]], out).map_err(TransformError::DiffOutput)?;
    Ok(if differs { Outcome::Different } else { Outcome::Done })
}

fn write_capture_script(args: &CaptureScriptArgs, out: &mut dyn Write) -> Result<(), TransformError> {
    let script = capture_script::script();
    let Some(path) = &args.out else {
        return out
            .write_all(script.as_bytes())
            .map_err(|source| TransformError::Write { path: "standard output".into(), source });
    };
    write_file(path, script.as_bytes(), Some(0o755))
}

/// Writes the reconciliation report (Markdown, and JSON when asked), then fails when the
/// target lacks what the review does not explain.
fn reconcile_exports(args: &ReconcileArgs, out: &mut dyn Write) -> Result<(), TransformError> {
    let report = reconcile::run(args)?;
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report).expect("a report always serialises");
        write_file(path, &json, None)?;
    }
    let markdown = reconcile::markdown(&report);
    match &args.out {
        Some(path) => {
            write_file(path, markdown.as_bytes(), None)?;
            writeln!(out, "{}% reconciled: report written to {}", report.percent, path.display())
                .map_err(TransformError::Report)?;
        }
        None => out.write_all(markdown.as_bytes()).map_err(TransformError::Report)?,
    }
    let totals = &report.totals;
    if totals.reconciled() {
        Ok(())
    } else {
        Err(TransformError::NotReconciled {
            missing: totals.missing,
            different: totals.different,
            percent: report.percent,
        })
    }
}

/// Writes a whole file: into a temporary file beside it, synced and renamed into place, so that
/// a failure never leaves half a file behind. `mode` sets its permissions (Unix), for a script
/// that must be executable.
fn write_file(path: &std::path::Path, bytes: &[u8], mode: Option<u32>) -> Result<(), TransformError> {
    let write = || -> std::io::Result<()> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        file.write_all(bytes)?;
        #[cfg(unix)]
        if let Some(mode) = mode {
            std::fs::set_permissions(file.path(), std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        }
        file.as_file().sync_all()?;
        file.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(|source| TransformError::Write { path: path.to_path_buf(), source })
}

/// Writes the header of the credentials file and a row, value empty, for every secret a
/// captured record needs, by its title.
fn credentials_template(args: &TemplateArgs, out: &mut dyn Write) -> Result<(), TransformError> {
    let export = Export::load(&args.export_dir, false)?;
    let (inputs, options) = (Inputs::default(), Options::default());
    let ctx = Context { export: &export, target: None, inputs: &inputs, options: &options, credentials: None };
    let mut rows = vec![["type", "title", "username", "parameter", "value"]];
    let needed = tasks::auth_records::secrets_needed(&ctx)?;
    for (record, secrets) in &needed {
        rows.extend(secrets.iter().map(|secret| [record.kind.slug, record.title, "", secret, ""]));
    }
    let mut csv = csv::Writer::from_writer(Vec::new());
    for row in rows {
        csv.write_record(row).expect("writing CSV to memory cannot fail");
    }
    let text = csv.into_inner().expect("writing CSV to memory cannot fail");
    match &args.out {
        None => out.write_all(&text).map_err(|source| TransformError::Io { path: "standard output".into(), source }),
        Some(path) => {
            write_new_private(path, &text).map_err(|source| TransformError::Io { path: path.clone(), source })
        }
    }
}

/// Creates `path` (never replacing a file the operator may have filled in), readable by its
/// owner only, since it is where secrets will be typed.
fn write_new_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Reads the export and inputs and plans every task, without writing anything.
pub fn build(args: &BundleArgs) -> Result<BundleContents, TransformError> {
    let export = Export::load(&args.export_dir, args.strict)?;
    let target = args.target_export.as_deref().map(Export::load_target).transpose()?;
    let inputs = Inputs::load(args.inputs.as_deref())?;
    let credentials = Credentials::load(args)?;
    let options = Options {
        ips_per_request: args.ips_per_request,
        create_virtual_appliances: args.create_virtual_appliances,
        include: args.include.iter().copied().collect(),
        send_email: args.send_email,
        tags_per_request: args.tags_per_request,
        system_tags: args.system_tag.clone(),
        strict: args.strict,
        keep_default_flag: args.keep_default_flag,
        start_not_before: args.start_not_before,
    };
    let ctx = Context {
        export: &export,
        target: target.as_ref(),
        inputs: &inputs,
        credentials: credentials.as_ref(),
        options: &options,
    };
    let mut refs = Refs::default();
    let mut outputs = Vec::new();
    for plan in tasks::TASKS {
        outputs.push(plan(&ctx, &mut refs)?);
    }
    let unresolved = refs.unresolved();
    if !unresolved.is_empty() {
        return Err(TransformError::Unresolved(unresolved));
    }
    let carried = credentials::carry(credentials.as_ref(), &outputs, args.strict)?;
    let mut input_files = inputs.files.clone();
    input_files.extend(credentials.as_ref().map(|c| c.input.clone()));
    if let Some(target) = &target {
        input_files.extend(target.source_files());
    }
    let mut warnings = export.warnings.clone();
    let read = |name: &String| credentials.as_ref().is_some_and(|c| c.input.path == format!("inputs/{name}"));
    warnings.extend(inputs.ignored.iter().filter(|name| !read(name)).map(|name| qmig_schemas::Warning {
        task: "inputs".to_owned(),
        message: format!("inputs/{name} is not a file qmig reads; it was ignored"),
        source: None,
    }));
    warnings.extend(carried.warnings);
    let provenance = Provenance {
        purpose: Purpose::Migration,
        target: args.target.as_ref().map(|t| t.as_str().to_owned()),
        sources: export.source_files(),
        inputs: input_files,
        unrecognised: export.unrecognised.clone(),
        warnings,
        secrets: carried.secrets,
    };
    // Every task has planned: the exports' records go before the manifest and the review are
    // built, so that the two never take memory at the same time.
    drop((export, target));
    bundle::assemble(outputs, provenance, args.rate)
}

fn report(out: &mut dyn Write, dir: &std::path::Path, contents: &BundleContents, digest: &str) -> std::io::Result<()> {
    let manifest = &contents.manifest;
    writeln!(out, "bundle written to {}", dir.display())?;
    let width = manifest.tasks.iter().map(|t| t.task.len()).max().unwrap_or(0);
    for task in &manifest.tasks {
        writeln!(
            out,
            "  {:width$}  {:>6} source objects  {:>6} requests  {:>6} skipped",
            task.task, task.source_objects, task.requests, task.skipped
        )?;
    }
    writeln!(
        out,
        "  {} requests, {} manual steps, {} warnings, {} unrecognised files (see REVIEW.md)",
        manifest.requests.len(),
        manifest.manual_steps.len(),
        manifest.warnings.len(),
        manifest.unrecognised.len()
    )?;
    writeln!(out, "digest: {digest}")
}
