//! SIGINT and SIGTERM. While the export is read nothing has been written, so the program stops
//! at once; while the bundle is written, the writer is told, removes its staging directory
//! (`.qmig-bundle-*`) and the program stops; once the bundle is being renamed into place it is
//! completed, since stopping half-way through replacing an old bundle would leave neither.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crate::error::EXIT_INTERRUPTED;

const READING: u8 = 0;
const WRITING: u8 = 1;
const STOPPED: u8 = 2;

/// What a signal does at this point of the run; shared by the handler and the run.
#[derive(Debug, Clone, Default)]
pub struct Interruption {
    phase: Arc<AtomicU8>,
    /// Set by a signal while the bundle is written, for the writer to see.
    requested: Arc<AtomicBool>,
}

impl Interruption {
    /// Handles SIGINT and SIGTERM (and SIGHUP) for the rest of the process.
    pub fn install() -> Result<Interruption, ctrlc::Error> {
        let interruption = Interruption::default();
        let handler = interruption.clone();
        ctrlc::set_handler(move || handler.on_signal())?;
        Ok(interruption)
    }

    fn on_signal(&self) {
        self.requested.store(true, Ordering::SeqCst);
        if self.phase.compare_exchange(READING, STOPPED, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            eprintln!("interrupted while reading the export: nothing was written");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    }

    /// Enters the writing phase; `None` when a signal has already stopped the run (the handler
    /// is then ending the process).
    pub fn start_writing(&self) -> Option<&AtomicBool> {
        let entered = self.phase.compare_exchange(READING, WRITING, Ordering::SeqCst, Ordering::SeqCst).is_ok();
        entered.then_some(&*self.requested)
    }
}
