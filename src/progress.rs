//! Progress display for long runs: a spinner or bar on stderr that appears only when the run
//! has taken more than a second and stderr is a terminal. The wall clock used here decides
//! only what is drawn, never a result.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// A progress display that stays invisible for short runs and non-terminals.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    total: Option<u64>,
    message: String,
    enabled: bool,
}

impl Progress {
    /// `total` items if known (a bar), else a counter (a spinner).
    #[allow(clippy::disallowed_methods)] // display only
    pub fn new(message: impl Into<String>, total: Option<u64>) -> Self {
        Progress {
            bar: None,
            started: Instant::now(),
            total,
            message: message.into(),
            enabled: std::io::stderr().is_terminal(),
        }
    }

    /// `done` items so far.
    pub fn update(&mut self, done: u64) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() > Duration::from_secs(1) {
            let bar = match self.total {
                Some(total) => ProgressBar::new(total).with_style(
                    ProgressStyle::with_template(
                        "{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                ),
                None => ProgressBar::new_spinner().with_style(
                    ProgressStyle::with_template("{spinner} {msg}: {pos} requests ({per_sec})")
                        .expect("valid template"),
                ),
            };
            bar.set_message(self.message.clone());
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// Remove the display.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
