use std::process::ExitCode;

use clap::Parser;
use qmig_transform::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match qmig_transform::run(cli, &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = error.exit_code();
            eprintln!("error: {:#}", anyhow::Error::new(error));
            ExitCode::from(code)
        }
    }
}
