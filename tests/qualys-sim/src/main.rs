//! `qualys-sim`: serves the simulated Qualys API until SIGINT, SIGTERM or
//! `POST /__sim/shutdown`, then prints its report (JSON) on standard output.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use qualys_sim::{Config, Faults, Limits, RateLimit, ScriptedFault};

/// A stateful simulated Qualys API (VM/PC v2, V1 /msp, QPS tags) for rehearsals and tests.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port (the first line of output shows it).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Start from this export directory instead of an empty subscription.
    #[arg(long, value_name = "EXPORT_DIR")]
    seed: Option<PathBuf>,
    /// The API user's login.
    #[arg(long, default_value = "admin")]
    user: String,
    /// The API user's password.
    #[arg(long, default_value = "secret")]
    password: String,
    /// Rate limit per endpoint, e.g. 300/3600 (calls per window of seconds).
    #[arg(long, value_name = "CALLS/SECONDS")]
    rate_limit: Option<RateLimit>,
    /// Calls allowed to run at once per endpoint.
    #[arg(long, value_name = "N")]
    concurrency_limit: Option<u32>,
    /// Simulated seconds per real second (3600 turns an hour's window into a second).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Seed of the fault generator.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Probability of a 503 before a call is processed.
    #[arg(long, default_value_t = 0.0)]
    fault_5xx_rate: f64,
    /// Probability of a dropped connection after a call is processed.
    #[arg(long, default_value_t = 0.0)]
    fault_drop_rate: f64,
    /// Probability of a slow answer.
    #[arg(long, default_value_t = 0.0)]
    fault_slow_rate: f64,
    /// Delay of a slow answer, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    slow_ms: u64,
    /// A fault for the Nth mutating call: N=5xx, N=drop or N=slow (repeatable).
    #[arg(long = "fault-at", value_name = "N=KIND")]
    fault_at: Vec<ScriptedFault>,
    /// Answer every call 409 / CODE 2003 until POST /__sim/registration?pending=0.
    #[arg(long)]
    registration_pending: bool,
    /// Virtual scanner licences available to appliance creation.
    #[arg(long, default_value_t = 10)]
    scanner_licenses: u32,
    /// The role the user list shows for the API user (`Manager`, `Unit Manager`, ...); the API
    /// user is added to a seed that does not list it.
    #[arg(long, value_name = "ROLE")]
    api_user_role: Option<String>,
}

impl Args {
    fn into_config(self) -> Config {
        Config {
            listen: self.listen,
            seed: self.seed,
            user: self.user,
            password: self.password,
            limits: Limits { rate: self.rate_limit, concurrency: self.concurrency_limit },
            faults: Faults {
                seed: self.fault_seed,
                server_error_rate: self.fault_5xx_rate,
                drop_rate: self.fault_drop_rate,
                slow_rate: self.fault_slow_rate,
                slow_delay: Duration::from_millis(self.slow_ms),
                registration_pending: self.registration_pending,
                scripted: self.fault_at,
            },
            time_scale: self.time_scale,
            virtual_scanner_licenses: self.scanner_licenses,
            api_user_role: self.api_user_role,
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let running = qualys_sim::start(args.into_config()).context("cannot start the simulator")?;
    let mut out = std::io::stdout();
    writeln!(out, "listening on {}", running.url())?;
    out.flush()?;
    let handle = running.shutdown_handle();
    ctrlc::set_handler(move || handle.request()).context("cannot install the signal handler")?;
    running.wait();
    let report = running.stop();
    writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qualys-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}
