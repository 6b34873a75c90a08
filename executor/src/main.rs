//! `qmig-execute`: parse the command line, run the command, print the error chain and exit
//! with the documented code.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // Before anything is read: a core file or a debugger attached to this process would hold
    // the decrypted secrets and the Basic credential.
    if let Err(e) = forbid_core_dumps() {
        eprintln!("error: core dumps could not be turned off ({e}); nothing was read or sent");
        return ExitCode::from(qmig_execute::exit::INTERNAL);
    }
    let cli = qmig_execute::cli::Cli::parse();
    match qmig_execute::execute(cli) {
        Ok(()) => ExitCode::from(qmig_execute::exit::SUCCESS),
        Err(error) => {
            let code = error.exit_code();
            eprintln!("error: {:#}", anyhow::Error::new(error));
            ExitCode::from(code)
        }
    }
}

/// No core file (limit 0, hard limit included) and not dumpable (no core on any signal, no
/// ptrace or /proc/PID/mem by other processes of the same user).
#[cfg(target_os = "linux")]
fn forbid_core_dumps() -> std::io::Result<()> {
    use rustix::process::{DumpableBehavior, Resource, Rlimit, set_dumpable_behavior, setrlimit};
    setrlimit(Resource::Core, Rlimit { current: Some(0), maximum: Some(0) })?;
    Ok(set_dumpable_behavior(DumpableBehavior::NotDumpable)?)
}

/// Elsewhere the operator turns core dumps off (`ulimit -c 0`), as the README says.
#[cfg(not(target_os = "linux"))]
fn forbid_core_dumps() -> std::io::Result<()> {
    Ok(())
}
