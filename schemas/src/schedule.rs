//! Which request the executor sends next, and when the run should end.
//!
//! Qualys limits calls per API endpoint, so a run that sends strictly in bundle order leaves
//! every other endpoint idle while it waits for one endpoint's window. The executor stays
//! synchronous (one request at a time) but chooses: among the requests whose dependencies are
//! done ([`crate::dependencies`]), the earliest in bundle order whose endpoint can take a call
//! now; only when no endpoint with ready work can, the one that frees first. Endpoints are API
//! paths, as the executor paces them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::Request;

/// What Qualys grants a Standard subscription per endpoint (`X-RateLimit-Limit` over
/// `X-RateLimit-Window-Sec`), assumed for an endpoint whose limits no response has told yet.
pub const STANDARD_BUDGET: Budget = Budget { limit: 300, window: Duration::from_secs(3600), remaining: 300 };

/// An endpoint's rate limit as its last response said: `limit` calls per `window`, `remaining`
/// of them left in the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: u64,
    pub window: Duration,
    pub remaining: u64,
}

/// The requests of a run not done yet, and which of them may be sent now.
#[derive(Debug, Clone)]
pub struct Schedule<'a> {
    requests: &'a [Request],
    /// For each request, how many of its dependencies are not done yet.
    blocked_by: Vec<usize>,
    /// For each request, the requests that depend on it.
    dependants: Vec<Vec<usize>>,
    /// The requests not done whose dependencies are all done, by endpoint, in bundle order.
    ready: BTreeMap<&'a str, BTreeSet<usize>>,
    /// Requests not done, by endpoint.
    left: BTreeMap<&'a str, u64>,
}

impl<'a> Schedule<'a> {
    /// The schedule of `requests[..end]`, where `done[i]` says request `i` needs nothing more.
    /// `dependencies` is [`crate::dependencies`] of the same requests.
    pub fn new(requests: &'a [Request], dependencies: &[Vec<usize>], done: &[bool], end: usize) -> Schedule<'a> {
        let mut schedule = Schedule {
            requests: &requests[..end],
            blocked_by: vec![0; end],
            dependants: vec![Vec::new(); end],
            ready: BTreeMap::new(),
            left: BTreeMap::new(),
        };
        for (index, request) in requests[..end].iter().enumerate().filter(|(i, _)| !done[*i]) {
            *schedule.left.entry(&request.path).or_default() += 1;
            for &dependency in dependencies[index].iter().filter(|&&d| !done[d]) {
                schedule.blocked_by[index] += 1;
                schedule.dependants[dependency].push(index);
            }
            if schedule.blocked_by[index] == 0 {
                schedule.ready.entry(&request.path).or_default().insert(index);
            }
        }
        schedule
    }

    /// The request to send next, given how long each endpoint must wait before its next call
    /// (`None`: it may be called now); `None` when nothing is left.
    pub fn next(&self, wait: impl Fn(&str) -> Option<Duration>) -> Option<usize> {
        let heads = self.ready.iter().filter_map(|(endpoint, ready)| Some((*ready.first()?, wait(endpoint))));
        heads.min_by_key(|&(index, wait)| (wait.unwrap_or_default(), index)).map(|(index, _)| index)
    }

    /// Records that request `index` is done: the requests waiting only for it become ready.
    pub fn done(&mut self, index: usize) {
        let endpoint = self.requests[index].path.as_str();
        let ready = self.ready.get_mut(endpoint).is_some_and(|ready| ready.remove(&index));
        if !ready {
            return;
        }
        if self.ready.get(endpoint).is_some_and(BTreeSet::is_empty) {
            self.ready.remove(endpoint);
        }
        if let Some(left) = self.left.get_mut(endpoint) {
            *left -= 1;
        }
        for dependant in std::mem::take(&mut self.dependants[index]) {
            self.blocked_by[dependant] -= 1;
            if self.blocked_by[dependant] == 0 {
                let path = self.requests[dependant].path.as_str();
                self.ready.entry(path).or_default().insert(dependant);
            }
        }
    }

    /// Requests not done, by endpoint, busiest first.
    pub fn left(&self) -> Vec<(&'a str, u64)> {
        let mut left: Vec<_> = self.left.iter().filter(|(_, n)| **n > 0).map(|(e, n)| (*e, *n)).collect();
        left.sort_by_key(|&(endpoint, n)| (std::cmp::Reverse(n), endpoint));
        left
    }

    /// How long the requests left need at best: the busiest endpoint's calls at its rate, beyond
    /// what its current window still allows (`budget`, else [`STANDARD_BUDGET`]).
    pub fn estimate(&self, budget: impl Fn(&str) -> Option<Budget>) -> Duration {
        self.left
            .iter()
            .map(|(endpoint, &left)| at_rate(left, budget(endpoint).unwrap_or(STANDARD_BUDGET)))
            .max()
            .unwrap_or_default()
    }
}

/// The time `calls` calls need at `budget`'s rate, the calls its current window still allows
/// being free.
fn at_rate(calls: u64, budget: Budget) -> Duration {
    let beyond = calls.saturating_sub(budget.remaining);
    if beyond == 0 || budget.limit == 0 {
        return Duration::ZERO;
    }
    let windows = beyond.div_ceil(budget.limit);
    budget.window.saturating_mul(u32::try_from(windows).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::create;
    use proptest::prelude::*;

    fn request(index: usize, path: &str, depends_on: &[usize]) -> Request {
        let depends_on = depends_on.iter().map(|d| format!("r/{d}")).collect();
        create(index as u64 + 1, format!("r/{index}"), path, depends_on)
    }

    /// Sends everything, an endpoint in `exhausted` waiting `wait`, and returns the order.
    fn order(requests: &[Request], exhausted: &[&str]) -> Vec<usize> {
        let dependencies = crate::dependencies(requests);
        let mut schedule = Schedule::new(requests, &dependencies, &vec![false; requests.len()], requests.len());
        let mut sent = Vec::new();
        while let Some(next) = schedule.next(|e| exhausted.contains(&e).then_some(Duration::from_secs(5))) {
            sent.push(next);
            schedule.done(next);
        }
        sent
    }

    #[test]
    fn bundle_order_while_every_endpoint_has_budget() {
        let requests = [request(0, "/a", &[]), request(1, "/b", &[]), request(2, "/a", &[]), request(3, "/b", &[1])];
        assert_eq!(order(&requests, &[]), [0, 1, 2, 3]);
    }

    #[test]
    fn an_exhausted_endpoint_does_not_hold_up_ready_work_elsewhere() {
        let requests = [request(0, "/a", &[]), request(1, "/a", &[]), request(2, "/b", &[]), request(3, "/b", &[0])];
        assert_eq!(order(&requests, &["/a"]), [2, 0, 3, 1], "/b's ready work first, then /a, whose wait is shortest");
    }

    #[test]
    fn requests_done_before_the_run_are_neither_sent_nor_waited_for() {
        let requests = [request(0, "/a", &[]), request(1, "/b", &[0]), request(2, "/a", &[])];
        let dependencies = crate::dependencies(&requests);
        let mut schedule = Schedule::new(&requests, &dependencies, &[true, false, false], 2);
        assert_eq!(schedule.next(|_| None), Some(1));
        assert_eq!(schedule.left(), [("/b", 1)]);
        schedule.done(1);
        assert_eq!(schedule.next(|_| None), None, "request 3 is beyond the end (the cutover gate)");
    }

    #[test]
    fn the_estimate_is_the_busiest_endpoint_at_its_rate() {
        let requests: Vec<Request> = (0..900).map(|i| request(i, if i < 700 { "/a" } else { "/b" }, &[])).collect();
        let dependencies = crate::dependencies(&requests);
        let schedule = Schedule::new(&requests, &dependencies, &vec![false; 900], 900);
        let hour = Duration::from_secs(3600);
        assert_eq!(schedule.estimate(|_| None), hour * 2, "700 calls at 300 an hour: 300 now, 2 more windows");
        let fast = Budget { limit: 1000, window: hour, remaining: 0 };
        assert_eq!(schedule.estimate(|e| (e == "/a").then_some(fast)), hour, "/a: one window; /b fits in its first");
    }

    proptest! {
        /// Whatever the dependencies and whichever endpoints wait, every request is sent once,
        /// after all it depends on.
        #[test]
        fn every_request_is_sent_once_after_its_dependencies(
            shape in prop::collection::vec((0usize..3, prop::collection::vec(any::<prop::sample::Index>(), 0..3)), 1..40),
            exhausted in prop::collection::vec(0usize..3, 0..3),
        ) {
            let paths = ["/a", "/b", "/c"];
            let requests: Vec<Request> = shape
                .iter()
                .enumerate()
                .map(|(i, (path, deps))| {
                    let deps: Vec<usize> = if i == 0 { vec![] } else { deps.iter().map(|d| d.index(i)).collect() };
                    request(i, paths[*path], &deps)
                })
                .collect();
            let exhausted: Vec<&str> = exhausted.iter().map(|&e| paths[e]).collect();
            let sent = order(&requests, &exhausted);
            let mut sorted = sent.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..requests.len()).collect::<Vec<_>>());
            let dependencies = crate::dependencies(&requests);
            for (at, &index) in sent.iter().enumerate() {
                for dependency in &dependencies[index] {
                    prop_assert!(sent[..at].contains(dependency));
                }
            }
        }
    }
}
