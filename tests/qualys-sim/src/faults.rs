//! Seeded, reproducible fault injection.
//!
//! Every API call draws exactly one number from a generator seeded with `Faults::seed`, so
//! the same sequence of calls meets the same faults. On top of the rates, a test can script
//! a fault for the Nth mutating call (counted from 1 over the calls that create, add, update
//! or import something, whatever their outcome).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// 503 before the call is processed: nothing changes.
    ServerError,
    /// The call is processed, then the connection is closed without an answer.
    DropResponse,
    /// The answer is delayed by `Faults::slow_delay` (the call holds its concurrency slot).
    Slow,
}

impl FaultKind {
    /// Its key in [`crate::Counters::faults`].
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::ServerError => "server_error",
            FaultKind::DropResponse => "dropped_response",
            FaultKind::Slow => "slow",
        }
    }
}

/// A fault for one particular mutating call, written `N=KIND` on the command line
/// (KIND: `5xx`, `drop` or `slow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptedFault {
    pub mutating_call: u64,
    pub kind: FaultKind,
}

impl FromStr for ScriptedFault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected N=KIND with KIND one of 5xx, drop, slow (e.g. 3=drop), got {s:?}");
        let (n, kind) = s.split_once('=').ok_or_else(bad)?;
        let mutating_call = n.trim().parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(bad)?;
        let kind = match kind.trim() {
            "5xx" => FaultKind::ServerError,
            "drop" => FaultKind::DropResponse,
            "slow" => FaultKind::Slow,
            _ => return Err(bad()),
        };
        Ok(ScriptedFault { mutating_call, kind })
    }
}

impl fmt::Display for ScriptedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            FaultKind::ServerError => "5xx",
            FaultKind::DropResponse => "drop",
            FaultKind::Slow => "slow",
        };
        write!(f, "{}={kind}", self.mutating_call)
    }
}

/// Which faults to inject. All off by default.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    pub seed: u64,
    /// Probability, per call, of a 503 before processing.
    pub server_error_rate: f64,
    /// Probability, per call, of a lost response after processing.
    pub drop_rate: f64,
    /// Probability, per call, of a slow answer.
    pub slow_rate: f64,
    pub slow_delay: Duration,
    /// Every API call answers 409 / CODE 2003 until registration is completed
    /// (`POST /__sim/registration?pending=0` or [`crate::Running::set_registration_pending`]).
    pub registration_pending: bool,
    pub scripted: Vec<ScriptedFault>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            seed: 0,
            server_error_rate: 0.0,
            drop_rate: 0.0,
            slow_rate: 0.0,
            slow_delay: Duration::from_secs(2),
            registration_pending: false,
            scripted: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct FaultPlan {
    faults: Faults,
    rng: fastrand::Rng,
    mutating_calls: u64,
}

impl FaultPlan {
    pub fn new(faults: Faults) -> Self {
        let rng = fastrand::Rng::with_seed(faults.seed);
        FaultPlan { faults, rng, mutating_calls: 0 }
    }

    pub fn slow_delay(&self) -> Duration {
        self.faults.slow_delay
    }

    pub fn registration_pending(&self) -> bool {
        self.faults.registration_pending
    }

    pub fn set_registration_pending(&mut self, pending: bool) {
        self.faults.registration_pending = pending;
    }

    /// Decides the fault, if any, for the next admitted call.
    pub fn next(&mut self, mutating: bool) -> Option<FaultKind> {
        // Drawn for every call, scripted or not, so that a script does not shift the
        // sequence the rates produce.
        let draw = self.rng.f64();
        if mutating {
            self.mutating_calls += 1;
            let n = self.mutating_calls;
            if let Some(s) = self.faults.scripted.iter().find(|s| s.mutating_call == n) {
                return Some(s.kind);
            }
        }
        let f = &self.faults;
        if draw < f.server_error_rate {
            Some(FaultKind::ServerError)
        } else if draw < f.server_error_rate + f.drop_rate {
            Some(FaultKind::DropResponse)
        } else if draw < f.server_error_rate + f.drop_rate + f.slow_rate {
            Some(FaultKind::Slow)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let faults = Faults { seed: 42, server_error_rate: 0.2, drop_rate: 0.2, slow_rate: 0.2, ..Faults::default() };
        let run = || {
            let mut plan = FaultPlan::new(faults.clone());
            (0..200).map(|i| plan.next(i % 2 == 0)).collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        assert!(first.contains(&Some(FaultKind::ServerError)) && first.contains(&None));
    }

    #[test]
    fn a_script_hits_exactly_the_nth_mutating_call() {
        let mut plan = FaultPlan::new(Faults { scripted: vec!["2=drop".parse().expect("valid")], ..Faults::default() });
        assert_eq!(plan.next(true), None);
        assert_eq!(plan.next(false), None, "reads are not counted");
        assert_eq!(plan.next(true), Some(FaultKind::DropResponse));
        assert_eq!(plan.next(true), None);
    }

    #[test]
    fn parses_and_prints_scripted_faults() {
        for text in ["3=drop", "1=5xx", "10=slow"] {
            assert_eq!(text.parse::<ScriptedFault>().map(|s| s.to_string()), Ok(text.to_owned()));
        }
        assert!("0=drop".parse::<ScriptedFault>().is_err());
        assert!("3=explode".parse::<ScriptedFault>().is_err());
    }
}
