//! Per-endpoint rate and concurrency limits with the headers Qualys sends on every response.
//!
//! Qualys counts each API function separately: a sliding window of calls (one hour on the
//! Standard tier) and a number of calls running at once. A blocked call is answered 409 and
//! is not executed. Time is simulated: `time_scale` simulated seconds pass per real second,
//! and every header is in simulated seconds, so a client that sleeps `ToWait-Sec / time_scale`
//! real seconds stays in step with the simulator.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use crate::lock;

/// What the headers advertise when a limit is off: large enough that no pacing client waits.
const UNLIMITED_RATE: u32 = 1_000_000;
const UNLIMITED_CONCURRENCY: u32 = 1_000;
const DEFAULT_WINDOW_SECS: u64 = 3600;

/// Limits applied to every endpoint independently. Both are off by default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    pub rate: Option<RateLimit>,
    pub concurrency: Option<u32>,
}

/// At most `calls` calls in any window of `window_secs` simulated seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub calls: u32,
    pub window_secs: u64,
}

impl std::str::FromStr for RateLimit {
    type Err = String;

    /// `N/SECONDS`, e.g. `300/3600`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected CALLS/WINDOW_SECONDS such as 300/3600, got {s:?}");
        let (calls, window) = s.split_once('/').ok_or_else(bad)?;
        let calls = calls.trim().parse().map_err(|_| bad())?;
        let window_secs = window.trim().parse().map_err(|_| bad())?;
        if calls == 0 || window_secs == 0 {
            return Err(bad());
        }
        Ok(RateLimit { calls, window_secs })
    }
}

/// The values of the `X-RateLimit-*` and `X-Concurrency-Limit-*` headers for one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LimitHeaders {
    pub limit: u32,
    pub window_secs: u64,
    pub remaining: u32,
    pub to_wait_secs: u64,
    pub concurrency_limit: u32,
    pub running: u32,
}

impl LimitHeaders {
    pub fn pairs(&self) -> [(&'static str, String); 6] {
        [
            ("X-RateLimit-Limit", self.limit.to_string()),
            ("X-RateLimit-Window-Sec", self.window_secs.to_string()),
            ("X-RateLimit-Remaining", self.remaining.to_string()),
            ("X-RateLimit-ToWait-Sec", self.to_wait_secs.to_string()),
            ("X-Concurrency-Limit-Limit", self.concurrency_limit.to_string()),
            ("X-Concurrency-Limit-Running", self.running.to_string()),
        ]
    }
}

/// Why a call was refused before it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blocked {
    /// 1960: this many of the calls running now must finish before another may start.
    Concurrency { to_finish: u32 },
    /// 1965: the window is full for this many more simulated seconds.
    Rate { to_wait_secs: u64 },
}

#[derive(Debug, Default)]
struct Usage {
    /// Simulated times of the admitted calls still inside the window.
    calls: VecDeque<f64>,
    running: u32,
}

#[derive(Debug)]
pub(crate) struct Limiter {
    limits: Limits,
    time_scale: f64,
    started: Instant,
    usage: Mutex<HashMap<String, Usage>>,
    /// Simulated times of the first call admitted and of the last answer, for rehearsals that
    /// measure how long a run would take against a real target.
    span: Mutex<Option<(f64, f64)>>,
}

/// A running call: it counts towards the concurrency limit until dropped.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    limiter: &'a Limiter,
    endpoint: String,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let now = self.limiter.now();
        if let Some((_, last)) = lock(&self.limiter.span).as_mut() {
            *last = now;
        }
        if let Some(usage) = lock(&self.limiter.usage).get_mut(&self.endpoint) {
            usage.running = usage.running.saturating_sub(1);
        }
    }
}

impl Limiter {
    pub fn new(limits: Limits, time_scale: f64) -> Self {
        Limiter {
            limits,
            time_scale,
            started: Instant::now(),
            usage: Mutex::new(HashMap::new()),
            span: Mutex::new(None),
        }
    }

    /// Simulated milliseconds from the first call admitted to the last answer given.
    pub fn simulated_ms(&self) -> u64 {
        lock(&self.span).map_or(0, |(first, last)| ((last - first).max(0.0) * 1000.0).round() as u64)
    }

    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * self.time_scale
    }

    fn window_secs(&self) -> u64 {
        self.limits.rate.map_or(DEFAULT_WINDOW_SECS, |r| r.window_secs)
    }

    /// Admits a call, or says why not. Concurrency is checked first: Qualys documents that
    /// the concurrency error takes precedence over the rate error.
    pub fn admit(&self, endpoint: &str) -> (Result<Permit<'_>, Blocked>, LimitHeaders) {
        let now = self.now();
        let mut all = lock(&self.usage);
        let usage = all.entry(endpoint.to_owned()).or_default();
        self.expire(usage, now);
        if let Some(max) = self.limits.concurrency
            && usage.running >= max
        {
            let to_finish = usage.running + 1 - max;
            return (Err(Blocked::Concurrency { to_finish }), self.headers(usage, now));
        }
        if let Some(rate) = self.limits.rate
            && usage.calls.len() >= rate.calls as usize
        {
            let to_wait_secs = self.to_wait(usage, now).max(1);
            return (Err(Blocked::Rate { to_wait_secs }), self.headers(usage, now));
        }
        usage.calls.push_back(now);
        usage.running += 1;
        lock(&self.span).get_or_insert((now, now));
        let headers = self.headers(usage, now);
        (Ok(Permit { limiter: self, endpoint: endpoint.to_owned() }), headers)
    }

    /// The headers for a response to a call that was not admitted (refused before the limits).
    pub fn peek(&self, endpoint: &str) -> LimitHeaders {
        let now = self.now();
        let mut all = lock(&self.usage);
        let usage = all.entry(endpoint.to_owned()).or_default();
        self.expire(usage, now);
        self.headers(usage, now)
    }

    fn expire(&self, usage: &mut Usage, now: f64) {
        let window = self.window_secs() as f64;
        while usage.calls.front().is_some_and(|&t| t + window <= now) {
            usage.calls.pop_front();
        }
    }

    /// Simulated seconds until the window has room again (0 while it has room).
    fn to_wait(&self, usage: &Usage, now: f64) -> u64 {
        match (self.limits.rate, usage.calls.front()) {
            (Some(rate), Some(&oldest)) if usage.calls.len() >= rate.calls as usize => {
                (oldest + self.window_secs() as f64 - now).max(0.0).ceil() as u64
            }
            _ => 0,
        }
    }

    fn headers(&self, usage: &Usage, now: f64) -> LimitHeaders {
        let limit = self.limits.rate.map_or(UNLIMITED_RATE, |r| r.calls);
        LimitHeaders {
            limit,
            window_secs: self.window_secs(),
            remaining: limit.saturating_sub(u32::try_from(usage.calls.len()).unwrap_or(u32::MAX)),
            to_wait_secs: self.to_wait(usage, now),
            concurrency_limit: self.limits.concurrency.unwrap_or(UNLIMITED_CONCURRENCY),
            running: usage.running,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_after_the_limit_waits_for_the_window() {
        let limiter =
            Limiter::new(Limits { rate: Some(RateLimit { calls: 2, window_secs: 3600 }), concurrency: None }, 1.0);
        let (first, h1) = limiter.admit("/a/");
        assert!(first.is_ok());
        assert_eq!((h1.remaining, h1.to_wait_secs), (1, 0));
        drop(first);
        let (second, h2) = limiter.admit("/a/");
        assert!(second.is_ok());
        assert_eq!(h2.remaining, 0);
        assert!(h2.to_wait_secs > 3590, "the next call would wait: {h2:?}");
        let (third, h3) = limiter.admit("/a/");
        assert!(matches!(third, Err(Blocked::Rate { to_wait_secs }) if to_wait_secs > 3590));
        assert_eq!(h3.remaining, 0);
        assert!(limiter.admit("/b/").0.is_ok(), "each endpoint has its own window");
    }

    #[test]
    fn concurrency_counts_running_calls_and_takes_precedence() {
        let limiter =
            Limiter::new(Limits { rate: Some(RateLimit { calls: 1, window_secs: 60 }), concurrency: Some(1) }, 1.0);
        let (running, headers) = limiter.admit("/a/");
        assert_eq!(headers.running, 1, "Running includes the call itself");
        assert!(matches!(limiter.admit("/a/").0, Err(Blocked::Concurrency { to_finish: 1 })));
        drop(running);
        assert!(matches!(limiter.admit("/a/").0, Err(Blocked::Rate { .. })));
    }

    #[test]
    fn a_blocked_call_waits_for_one_call_to_finish_not_all_of_them() {
        let limiter = Limiter::new(Limits { rate: None, concurrency: Some(2) }, 1.0);
        let (first, second) = (limiter.admit("/a/"), limiter.admit("/a/"));
        assert!(first.0.is_ok() && second.0.is_ok());
        let (blocked, headers) = limiter.admit("/a/");
        assert!(matches!(blocked, Err(Blocked::Concurrency { to_finish: 1 })));
        assert_eq!((headers.concurrency_limit, headers.running), (2, 2));
    }

    #[test]
    fn parses_rate_limits() {
        assert_eq!("300/3600".parse(), Ok(RateLimit { calls: 300, window_secs: 3600 }));
        assert!("0/10".parse::<RateLimit>().is_err());
        assert!("300".parse::<RateLimit>().is_err());
    }
}
