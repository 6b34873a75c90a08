//! The operator's view of a run: a progress bar on the terminal (done/total, the estimated end
//! and the budget of the busiest endpoints, the current request, waits), and the same events
//! as plain lines on stderr when it is not a terminal.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use qmig_schemas::schedule::{Budget, Schedule};

use crate::pacing::Wait;

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(total: u64, done: u64) -> Progress {
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template("{bar:30} {pos}/{len} {prefix} {wide_msg}")
            .expect("the template is valid")
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_position(done);
        Progress { bar }
    }

    pub fn current(&self, seq: u64, id: &str) {
        self.bar.set_message(format!("#{seq} {id}"));
    }

    /// The estimated end and the busiest endpoints' calls left and budget, as the run goes.
    pub fn outlook(&self, schedule: &Schedule<'_>, budget: impl Fn(&str) -> Option<Budget>) {
        self.bar.set_prefix(outlook(schedule, budget));
    }

    /// A line that stays on screen (and goes to stderr when there is no bar).
    pub fn note(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// Sleeps through a wait, counting it down on the progress line.
    pub fn wait(&self, wait: Wait, id: &str) {
        self.note(&format!("waiting {}: {} ({id}); {}", seconds(wait.duration), wait.why, self.bar.prefix()));
        let until = Instant::now() + wait.duration;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.bar.set_message(format!("{id}: waiting {} ({})", seconds(left), wait.why));
            std::thread::sleep(left.min(Duration::from_secs(1)));
        }
    }

    pub fn advance(&self) {
        self.bar.inc(1);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// `end in ~1h05m; /api/2.0/fo/asset/group/ 420 left (12/300 in window), ...`; a budget not
/// learned yet is shown as `?`, and counted at [`qmig_schemas::schedule::STANDARD_BUDGET`].
pub fn outlook(schedule: &Schedule<'_>, budget: impl Fn(&str) -> Option<Budget>) -> String {
    let busiest = schedule.left().into_iter().take(3).map(|(endpoint, left)| {
        let window = budget(endpoint).map_or_else(|| "?".to_owned(), |b| format!("{}/{}", b.remaining, b.limit));
        format!("{endpoint} {left} left ({window} in window)")
    });
    let end = schedule.estimate(&budget).as_secs();
    let end = format!("end in ~{}h{:02}m", end / 3600, end % 3600 / 60);
    std::iter::once(end).chain(busiest).collect::<Vec<_>>().join("; ")
}

pub fn seconds(duration: Duration) -> String {
    if duration < Duration::from_secs(10) {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        format!("{}s", duration.as_secs())
    }
}
