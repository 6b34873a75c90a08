//! The operator's view of a run: a progress bar on the terminal (done/total, the current
//! request, waits, ETA), and the same events as plain lines on stderr when it is not a terminal.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::pacing::Wait;

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(total: u64, done: u64) -> Progress {
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg} ETA {eta}")
            .expect("the template is valid")
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_position(done);
        Progress { bar }
    }

    pub fn current(&self, seq: u64, id: &str) {
        self.bar.set_message(format!("#{seq} {id}"));
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
        self.note(&format!("waiting {}: {} ({id})", seconds(wait.duration), wait.why));
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

pub fn seconds(duration: Duration) -> String {
    if duration < Duration::from_secs(10) {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        format!("{}s", duration.as_secs())
    }
}
