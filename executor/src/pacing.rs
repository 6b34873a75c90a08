//! Rate and concurrency limits, learned from the `X-RateLimit-*` and `X-Concurrency-Limit-*`
//! headers of every response. Qualys counts calls per API function, so the limits are kept per
//! endpoint: the API path (see `run::Runner::send` for why its actions are paced together).
//!
//! Only two things ever cause a wait: a response that says no call is left in the window
//! (`Remaining: 0`), and a call the target blocked (409 with CODE 1960/1965). A success never
//! counts as blocked, whatever its headers say: `Running` includes the call itself.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use qmig_schemas::schedule::Budget;

use crate::classify::Block;

/// The wait when a limit is hit and the headers name neither a wait nor a window.
pub const FALLBACK_WINDOW: Duration = Duration::from_secs(3600);

/// What one response said about the limits of its endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub limit: Option<u64>,
    pub window: Option<Duration>,
    pub remaining: Option<u64>,
    pub to_wait: Option<Duration>,
    pub concurrency_limit: Option<u64>,
    pub concurrency_running: Option<u64>,
}

impl Limits {
    /// Reads the headers, case-insensitively, accepting both spellings of the concurrency
    /// headers (`X-Concurrency-Limit-*` and `X-ConcurrencyLimit-*`).
    pub fn from_headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Limits {
        let mut limits = Limits::default();
        for (name, value) in headers {
            let Ok(number) = value.trim().parse::<u64>() else { continue };
            let name = name.to_ascii_lowercase();
            let name = name.replace("x-concurrencylimit-", "x-concurrency-limit-");
            match name.as_str() {
                "x-ratelimit-limit" => limits.limit = Some(number),
                "x-ratelimit-window-sec" => limits.window = Some(Duration::from_secs(number)),
                "x-ratelimit-remaining" => limits.remaining = Some(number),
                "x-ratelimit-towait-sec" => limits.to_wait = Some(Duration::from_secs(number)),
                "x-concurrency-limit-limit" => limits.concurrency_limit = Some(number),
                "x-concurrency-limit-running" => limits.concurrency_running = Some(number),
                _ => {}
            }
        }
        limits
    }

    /// The limits of a target whose clock runs `scale` times faster than the real one.
    pub fn scaled(self, scale: u32) -> Limits {
        let scale = scale.max(1);
        Limits { window: self.window.map(|w| w / scale), to_wait: self.to_wait.map(|w| w / scale), ..self }
    }

    fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// The window to wait when nothing more precise is known.
    fn window_or_fallback(&self) -> Duration {
        self.window.filter(|w| !w.is_zero()).unwrap_or(FALLBACK_WINDOW)
    }
}

/// How long to wait before the next call, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub duration: Duration,
    pub why: &'static str,
}

#[derive(Debug, Default)]
pub struct Pacer {
    endpoints: HashMap<String, (Limits, Instant)>,
}

impl Pacer {
    /// Remembers what a response said; a response without limit headers changes nothing.
    pub fn observe(&mut self, endpoint: &str, limits: Limits, now: Instant) {
        if !limits.is_empty() {
            self.endpoints.insert(endpoint.to_owned(), (limits, now));
        }
    }

    /// The rate limit of `endpoint` as its last response told it, if one did.
    pub fn budget(&self, endpoint: &str) -> Option<Budget> {
        let (limits, _) = self.endpoints.get(endpoint)?;
        Some(Budget { limit: limits.limit?, window: limits.window?, remaining: limits.remaining.unwrap_or_default() })
    }

    /// The limits each endpoint's last answer gave.
    pub fn limits(&self) -> impl Iterator<Item = (&str, &Limits)> {
        self.endpoints.iter().map(|(endpoint, (limits, _))| (endpoint.as_str(), limits))
    }

    /// The wait before the next call to `endpoint`, counted from when the last response came.
    pub fn before_call(&self, endpoint: &str, now: Instant) -> Option<Wait> {
        let (limits, seen) = self.endpoints.get(endpoint)?;
        if limits.remaining != Some(0) {
            return None;
        }
        let full = limits.to_wait.filter(|w| !w.is_zero()).unwrap_or_else(|| limits.window_or_fallback());
        let left = full.saturating_sub(now.saturating_duration_since(*seen));
        (!left.is_zero()).then_some(Wait { duration: left, why: "no call left in the rate-limit window" })
    }

    /// The wait after the target blocked a call. `blocked_before` counts the earlier blocks of
    /// the same request, so a concurrency block backs off exponentially from `backoff`.
    pub fn after_block(limits: &Limits, block: Block, blocked_before: u32, backoff: Duration) -> Wait {
        let asked = limits.to_wait.filter(|w| !w.is_zero());
        match block {
            Block::Rate => Wait {
                duration: asked.unwrap_or_else(|| limits.window_or_fallback()),
                why: "rate limit reached (1965)",
            },
            Block::Concurrency | Block::Other => {
                let exponential = backoff.saturating_mul(1u32 << blocked_before.min(16));
                Wait {
                    duration: asked.unwrap_or_else(|| exponential.min(limits.window_or_fallback())),
                    why: if block == Block::Concurrency {
                        "concurrency limit reached (1960)"
                    } else {
                        "blocked by other API requests (1920)"
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(headers: &[(&str, &str)]) -> Limits {
        Limits::from_headers(headers.iter().copied())
    }

    #[test]
    fn reads_both_spellings_case_insensitively() {
        let a = limits(&[
            ("X-Concurrency-Limit-Limit", "2"),
            ("x-ratelimit-remaining", " 7 "),
            ("X-RateLimit-Window-Sec", "3600"),
        ]);
        let b = limits(&[
            ("X-ConcurrencyLimit-Limit", "2"),
            ("X-RATELIMIT-REMAINING", "7"),
            ("x-ratelimit-window-sec", "3600"),
        ]);
        assert_eq!(a, b);
        assert_eq!(a.concurrency_limit, Some(2));
        assert_eq!(a.remaining, Some(7));
        assert_eq!(a.window, Some(Duration::from_secs(3600)));
        assert!(limits(&[("X-RateLimit-Remaining", "many")]).is_empty());
        assert_eq!(a.scaled(100).window, Some(Duration::from_secs(36)));
    }

    #[test]
    fn waits_only_when_no_call_is_left() {
        let now = Instant::now();
        let mut pacer = Pacer::default();
        let busy = limits(&[
            ("X-RateLimit-Remaining", "1"),
            ("X-Concurrency-Limit-Running", "2"),
            ("X-Concurrency-Limit-Limit", "2"),
        ]);
        pacer.observe("/e", busy, now);
        assert_eq!(pacer.before_call("/e", now), None, "a success with Running == Limit is not a block");

        pacer.observe("/e", limits(&[("X-RateLimit-Remaining", "0"), ("X-RateLimit-ToWait-Sec", "30")]), now);
        let later = now + Duration::from_secs(10);
        assert_eq!(pacer.before_call("/e", later).map(|w| w.duration), Some(Duration::from_secs(20)));
        assert_eq!(pacer.before_call("/e", now + Duration::from_secs(31)), None);
        assert_eq!(pacer.before_call("/other", later), None);

        pacer.observe("/e", limits(&[("X-RateLimit-Remaining", "0"), ("X-RateLimit-Window-Sec", "60")]), now);
        assert_eq!(pacer.before_call("/e", now).map(|w| w.duration), Some(Duration::from_secs(60)));
        pacer.observe("/e", limits(&[("X-RateLimit-Remaining", "0"), ("X-RateLimit-ToWait-Sec", "0")]), now);
        assert_eq!(pacer.before_call("/e", now).map(|w| w.duration), Some(FALLBACK_WINDOW));
    }

    #[test]
    fn blocked_calls_wait_as_asked_else_the_window() {
        let backoff = Duration::from_secs(15);
        let asked = limits(&[("X-RateLimit-ToWait-Sec", "42"), ("X-RateLimit-Window-Sec", "3600")]);
        assert_eq!(Pacer::after_block(&asked, Block::Rate, 0, backoff).duration, Duration::from_secs(42));
        let window = limits(&[("X-RateLimit-Window-Sec", "120")]);
        assert_eq!(Pacer::after_block(&window, Block::Rate, 0, backoff).duration, Duration::from_secs(120));
        assert_eq!(Pacer::after_block(&Limits::default(), Block::Rate, 0, backoff).duration, FALLBACK_WINDOW);
        let steps: Vec<u64> =
            (0..5).map(|n| Pacer::after_block(&window, Block::Concurrency, n, backoff).duration.as_secs()).collect();
        assert_eq!(steps, [15, 30, 60, 120, 120]);
    }
}
