//! qualys-sim: a stateful simulated Qualys API for qmig's rehearsals and tests.
//!
//! It serves, on loopback, the VM/PC API v2 (`/api/2.0/fo/...`), the V1 `/msp/*.php` calls
//! and the QPS tag API that a migration uses: list and export calls for every object kind,
//! and the create/add/import/update calls a qmig bundle sends, answering in Qualys's own
//! documents and error codes. It enforces Basic auth and `X-Requested-With`, sends the rate
//! and concurrency limit headers on every answer, can enforce those limits, injects seeded
//! faults, and reads and writes its state as an export directory.
//!
//! ```no_run
//! let sim = qualys_sim::start(qualys_sim::Config::default())?;
//! println!("{}", sim.url());
//! let report = sim.stop();
//! # Ok::<(), std::io::Error>(())
//! ```

mod api;
mod export;
mod faults;
mod http;
mod ipset;
mod limits;
mod params;
mod seed;
mod sim;
mod state;
mod xml;

use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

pub use faults::{FaultKind, Faults, ScriptedFault};
pub use limits::{Limits, RateLimit};
pub use seed::SeedError;
pub use xml::XmlError;

use http::{Handler, Shutdown};
use sim::Sim;

/// A request handler that panicked leaves its data consistent (every change is made after
/// validation, in one step), so a poisoned lock is still usable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How to run the simulator.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Port 0 picks a free port; [`Running::url`] tells which.
    pub listen: SocketAddr,
    /// An export directory to start from; without one the subscription is new and empty.
    pub seed: Option<PathBuf>,
    /// The API user (the subscription's Primary Manager) and its password.
    pub user: String,
    pub password: String,
    pub limits: Limits,
    pub faults: Faults,
    /// Simulated seconds per real second, for the rate-limit window.
    pub time_scale: f64,
    /// Virtual scanner licences left for `appliance/?action=create`.
    pub virtual_scanner_licenses: u32,
    /// The role the user list shows for the API user (`Unit Manager`); set, it puts the API
    /// user in the list of a seed that does not hold it.
    pub api_user_role: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: None,
            user: "admin".into(),
            password: "secret".into(),
            limits: Limits::default(),
            faults: Faults::default(),
            time_scale: 1.0,
            virtual_scanner_licenses: 10,
            api_user_role: None,
        }
    }
}

/// The simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot load the seed: {0}")]
    Seed(#[from] SeedError),
}

impl Config {
    fn check(&self) -> Result<(), Error> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(Error::Config(format!("time_scale must be a positive number, got {}", self.time_scale)));
        }
        let f = &self.faults;
        for (name, rate) in
            [("server_error_rate", f.server_error_rate), ("drop_rate", f.drop_rate), ("slow_rate", f.slow_rate)]
        {
            if !(0.0..=1.0).contains(&rate) {
                return Err(Error::Config(format!("{name} must be between 0 and 1, got {rate}")));
            }
        }
        if f.server_error_rate + f.drop_rate + f.slow_rate > 1.0 {
            return Err(Error::Config("the fault rates add up to more than 1".into()));
        }
        if self.limits.concurrency == Some(0) {
            return Err(Error::Config("a concurrency limit of 0 would refuse every call".into()));
        }
        Ok(())
    }
}

/// What the simulator saw: calls per endpoint (`path?action=...`), mutating calls, faults
/// injected and calls blocked by limits, per kind, and the objects it now holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub calls: BTreeMap<String, u64>,
    pub mutating_calls: u64,
    pub faults: BTreeMap<String, u64>,
    pub blocked: BTreeMap<String, u64>,
    pub objects: BTreeMap<String, u64>,
    /// Seed files whose kind the simulator does not know, skipped.
    pub skipped_seed_files: Vec<String>,
    /// Simulated time (`time_scale` times the real one) from the first call admitted to the
    /// last answer, in milliseconds: what a run would take against a target as slow as the
    /// simulator's clock says.
    pub simulated_ms: u64,
}

/// The SHA-256 (hex) of every secret parameter each authentication record was created with:
/// `{type: {title: {parameter: digest}}}`. A record without secrets maps to `{}`.
pub type AuthSecrets = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>;

/// Lets another thread (a signal handler, say) ask a running simulator to stop.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(Arc<Shutdown>);

impl ShutdownHandle {
    pub fn request(&self) {
        self.0.request();
    }
}

/// A simulator serving on background threads. Dropping it stops it too.
pub struct Running {
    sim: Arc<Sim>,
    shutdown: Arc<Shutdown>,
    server: Option<JoinHandle<()>>,
    url: String,
}

/// Starts serving on background threads.
pub fn start(config: Config) -> io::Result<Running> {
    config.check().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let (mut state, skipped) = match &config.seed {
        Some(dir) => seed::load(dir, &config.user, config.virtual_scanner_licenses)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, Error::from(e)))?,
        None => (seed::fresh(&config.user, config.virtual_scanner_licenses), Vec::new()),
    };
    if let Some(role) = &config.api_user_role {
        api::user::set_api_user_role(&mut state, role);
    }
    let listener = TcpListener::bind(config.listen)?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let shutdown = Arc::new(Shutdown::new(addr));
    let sim = Arc::new(Sim::new(&config, state, skipped, url.clone(), Arc::clone(&shutdown)));
    let handler_sim = Arc::clone(&sim);
    let handler: Arc<Handler> = Arc::new(move |request| handler_sim.handle(request));
    let server = http::serve(listener, handler, Arc::clone(&shutdown));
    Ok(Running { sim, shutdown, server: Some(server), url })
}

impl Running {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn counters(&self) -> Counters {
        self.sim.counters()
    }

    /// Writes the current state as an export directory (created if missing, refused if not empty).
    pub fn export(&self, dir: &Path) -> io::Result<()> {
        self.sim.export(dir)
    }

    /// What each authentication record's secret parameters were, without revealing them
    /// (also `GET /__sim/auth-secrets`). For tests that check which password a record
    /// received; never in the export or the counters.
    pub fn auth_secrets(&self) -> AuthSecrets {
        self.sim.auth_secrets()
    }

    /// Turns the "registration not completed" mode (409 / CODE 2003 on every call) on or off.
    pub fn set_registration_pending(&self, pending: bool) {
        self.sim.set_registration_pending(pending);
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(Arc::clone(&self.shutdown))
    }

    /// Blocks until a stop is asked for (`POST /__sim/shutdown` or a [`ShutdownHandle`]).
    pub fn wait(&self) {
        self.shutdown.wait();
    }

    /// Stops accepting connections, lets the requests in flight finish, and reports.
    pub fn stop(mut self) -> Counters {
        self.halt();
        self.sim.counters()
    }

    fn halt(&mut self) {
        if let Some(server) = self.server.take() {
            self.shutdown.request();
            // The accept loop does not panic; a worker panic was already contained there.
            let _ = server.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.halt();
    }
}
