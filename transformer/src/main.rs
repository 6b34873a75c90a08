use std::process::ExitCode;

use clap::Parser;
use qmig_transform::Outcome;
use qmig_transform::cli::Cli;
use qmig_transform::error::{EXIT_DIFFERENT, EXIT_IO};
use qmig_transform::interrupt::Interruption;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let interruption = match Interruption::install() {
        Ok(interruption) => interruption,
        Err(error) => {
            eprintln!("error: cannot handle SIGINT and SIGTERM: {error}");
            return ExitCode::from(EXIT_IO);
        }
    };
    match qmig_transform::run(cli, &mut std::io::stdout().lock(), &interruption) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Different) => ExitCode::from(EXIT_DIFFERENT),
        Err(error) => {
            let code = error.exit_code();
            eprintln!("error: {:#}", anyhow::Error::new(error));
            ExitCode::from(code)
        }
    }
}
