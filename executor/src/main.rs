//! `qmig-execute`: parse the command line, run the command, print the error chain and exit
//! with the documented code.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
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
