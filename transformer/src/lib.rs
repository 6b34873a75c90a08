//! `qmig-transform`: reads a directory of XML exported from the source subscription and writes a
//! reviewable, checksummed bundle of the requests that re-create it in the target. Offline and
//! deterministic: the same export and inputs always give the same bytes.

pub mod bundle;
pub mod checklist;
pub mod cli;
pub mod context;
pub mod error;
pub mod export;
pub mod inputs;
pub mod interrupt;
pub mod plan;
pub mod ranges;
pub mod review;
pub mod tasks;
pub mod xml;

use std::io::Write;

use qmig_schemas::BundleContents;

use crate::bundle::Provenance;
use crate::cli::{BundleArgs, Cli, Command};
use crate::context::{Context, Options};
use crate::error::TransformError;
use crate::export::Export;
use crate::inputs::Inputs;
use crate::interrupt::Interruption;
use crate::plan::Refs;

/// Runs the command line; the report goes to `out`, its last line being the bundle digest.
pub fn run(cli: Cli, out: &mut dyn Write, interruption: &Interruption) -> Result<(), TransformError> {
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
            report(out, &args, &contents, &digest).map_err(TransformError::Report)
        }
    }
}

/// Reads the export and inputs and plans every task, without writing anything.
pub fn build(args: &BundleArgs) -> Result<BundleContents, TransformError> {
    let export = Export::load(&args.export_dir, args.strict)?;
    let target = args.target_export.as_deref().map(Export::load_target).transpose()?;
    let inputs = Inputs::load(args.inputs.as_deref())?;
    let options = Options {
        ips_per_request: args.ips_per_request,
        create_virtual_appliances: args.create_virtual_appliances,
        include: args.include.iter().copied().collect(),
        send_email: args.send_email,
        tags_per_request: args.tags_per_request,
        system_tags: args.system_tag.clone(),
    };
    let ctx = Context { export: &export, target: target.as_ref(), inputs: &inputs, options: &options };
    let mut refs = Refs::default();
    let mut outputs = Vec::new();
    for plan in tasks::TASKS {
        outputs.push(plan(&ctx, &mut refs)?);
    }
    let unresolved = refs.unresolved();
    if !unresolved.is_empty() {
        return Err(TransformError::Unresolved(unresolved));
    }
    let mut input_files = inputs.files.clone();
    if let Some(target) = &target {
        input_files.extend(target.source_files());
    }
    let mut warnings = export.warnings.clone();
    warnings.extend(inputs.ignored.iter().map(|name| qmig_schemas::Warning {
        task: "inputs".to_owned(),
        message: format!("inputs/{name} is not a file qmig reads; it was ignored"),
        source: None,
    }));
    let provenance = Provenance {
        sources: export.source_files(),
        inputs: input_files,
        unrecognised: export.unrecognised.clone(),
        warnings,
    };
    bundle::assemble(outputs, provenance)
}

fn report(out: &mut dyn Write, args: &BundleArgs, contents: &BundleContents, digest: &str) -> std::io::Result<()> {
    let manifest = &contents.manifest;
    writeln!(out, "bundle written to {}", args.out.display())?;
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
