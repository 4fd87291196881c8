//! Progress of long runs, on stderr only: a bar (or spinner) when stderr is a terminal and the
//! run has taken more than a second; otherwise, for logs, one status line every few seconds
//! once the run has taken ten. `--quiet` turns both off. The wall clock used here decides only
//! what is shown on stderr, never a result.

mod rate;

use dmsim_testbed::run_progress::RunProgress;
use indicatif::{ProgressBar, ProgressStyle};
use rate::RateMeter;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// A terminal shows nothing for runs shorter than this.
const BAR_AFTER: Duration = Duration::from_secs(1);
/// The bar's rate and ETA are rewritten at most this often (the count moves on every report).
const BAR_MESSAGE_EVERY: Duration = Duration::from_millis(250);
/// Without a terminal: the first status line after this long, then one every
/// [`STATUS_EVERY`].
const STATUS_AFTER: Duration = Duration::from_secs(10);
const STATUS_EVERY: Duration = Duration::from_secs(5);
/// Tests set this (milliseconds) to see status lines from a short run: both the first line
/// and the spacing between lines. A value that is not a number is ignored.
const STATUS_EVERY_ENV: &str = "DMSIM_STATUS_EVERY_MS";

/// Progress of one run (or of a comparison's runs), shown as the terminal allows.
pub struct Progress {
    label: String,
    /// What is counted, plural: `requests`, `runs`.
    unit: &'static str,
    total: Option<u64>,
    started: Instant,
    meter: RateMeter,
    display: Display,
    /// What runs beside the counted items (an md raid5 sync pass), appended to the line.
    note: Option<String>,
}

enum Display {
    Off,
    Terminal {
        bar: Option<ProgressBar>,
        message_at: Duration,
    },
    Status {
        next_at: Duration,
        every: Duration,
        printed: bool,
    },
}

impl Progress {
    /// `total` items if known (a bar), else a counter (a spinner); nothing with `quiet`.
    #[allow(clippy::disallowed_methods)] // display only
    pub fn new(
        label: impl Into<String>,
        total: Option<u64>,
        unit: &'static str,
        quiet: bool,
    ) -> Self {
        let display = if quiet {
            Display::Off
        } else if std::io::stderr().is_terminal() {
            Display::Terminal {
                bar: None,
                message_at: Duration::ZERO,
            }
        } else {
            let every = std::env::var(STATUS_EVERY_ENV)
                .ok()
                .and_then(|ms| ms.parse().ok())
                .map(Duration::from_millis);
            Display::Status {
                next_at: every.unwrap_or(STATUS_AFTER),
                every: every.unwrap_or(STATUS_EVERY),
                printed: false,
            }
        };
        Progress {
            label: label.into(),
            unit,
            total,
            started: Instant::now(),
            meter: RateMeter::default(),
            display,
            note: None,
        }
    }

    /// How often a thread that waits on others should re-report: no less often than the
    /// status lines are due (`DMSIM_STATUS_EVERY_MS` may ask for them faster than `default`).
    pub fn heartbeat(&self, default: Duration) -> Duration {
        match &self.display {
            Display::Status { every, .. } => default.min(*every),
            Display::Off | Display::Terminal { .. } => default,
        }
    }

    /// The total became known after the display started (a first pass counted it); call
    /// before the first [`Progress::update`] so a terminal's bar is drawn with it.
    pub fn set_total(&mut self, total: u64) {
        self.total = Some(total);
    }

    /// A run's progress: its bios, and the sync pass of its md raid5 array, if one runs
    /// (a run ends only when the array is idle, so a pass can outlast the workload by hours
    /// of simulated time; the line says so instead of sitting at 100 %).
    pub fn update_run(&mut self, progress: &RunProgress) {
        self.note = progress.array_sync.map(|(done, total)| {
            let workload_done = self.total.is_some_and(|t| progress.bios_done >= t);
            sync_note(done, total, workload_done)
        });
        self.update(progress.bios_done);
    }

    /// `done` items so far.
    pub fn update(&mut self, done: u64) {
        if matches!(self.display, Display::Off) {
            return;
        }
        let elapsed = self.started.elapsed();
        self.meter.record(elapsed, done);
        match &mut self.display {
            Display::Off => {}
            Display::Terminal { bar, message_at } => {
                if bar.is_none() && elapsed > BAR_AFTER {
                    *bar = Some(new_bar(&self.label, self.total));
                }
                if let Some(bar) = bar {
                    bar.set_position(done);
                    if elapsed >= *message_at {
                        let message = bar_message(
                            self.unit,
                            done,
                            self.total,
                            self.meter.per_sec(),
                            self.total.and_then(|t| self.meter.eta(t)),
                        );
                        bar.set_message(message + self.note.as_deref().unwrap_or(""));
                        *message_at = elapsed + BAR_MESSAGE_EVERY;
                    }
                }
            }
            Display::Status {
                next_at,
                every,
                printed,
            } => {
                if elapsed >= *next_at {
                    eprintln!(
                        "{}{}",
                        status_line(
                            &self.label,
                            self.unit,
                            done,
                            self.total,
                            self.meter.per_sec(),
                            self.total.and_then(|t| self.meter.eta(t)),
                            elapsed,
                        ),
                        self.note.as_deref().unwrap_or("")
                    );
                    *printed = true;
                    *next_at = elapsed + *every;
                }
            }
        }
    }

    /// Remove the bar; after status lines, say that the run ended and how long it took.
    pub fn finish(self) {
        match self.display {
            Display::Terminal { bar: Some(bar), .. } => bar.finish_and_clear(),
            Display::Status { printed: true, .. } => {
                eprintln!(
                    "dmsim: {}: finished in {}",
                    self.label,
                    rate::duration(self.started.elapsed())
                )
            }
            _ => {}
        }
    }
}

fn new_bar(label: &str, total: Option<u64>) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{prefix} [{bar:40}] {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {prefix}: {msg}").expect("valid template"),
        ),
    };
    bar.set_prefix(label.to_string());
    bar
}

/// `258,879/3,000,000 requests (4,318/s, eta 10m 38s)`.
fn bar_message(
    unit: &str,
    done: u64,
    total: Option<u64>,
    per_sec: Option<f64>,
    eta: Option<Duration>,
) -> String {
    let mut text = match total {
        Some(total) => format!("{}/{} {unit}", rate::count(done), rate::count(total)),
        None => format!("{} {unit}", rate::count(done)),
    };
    if let Some(per_sec) = per_sec {
        text += &format!(" ({}/s", rate::rate(per_sec));
        if let Some(eta) = eta {
            text += &format!(", eta {}", rate::duration(eta));
        }
        text += ")";
    }
    text
}

/// `; md sync pass 0.7% of 1,863.0 GiB per member`, and once the workload is done `, the run
/// ends when it does`. `done` and `total` are sectors of one member.
fn sync_note(done: u64, total: u64, workload_done: bool) -> String {
    let percent = if total == 0 {
        100.0
    } else {
        done.min(total) as f64 * 100.0 / total as f64
    };
    let gib = total as f64 * 512.0 / f64::from(1u32 << 30);
    let mut note = format!("; md sync pass {percent:.1}% of {gib:.1} GiB per member");
    if workload_done {
        note += ", the run ends when it does";
    }
    note
}

/// One line for a log: `dmsim: LABEL: 258,879/3,000,000 requests (8%), 4,318 requests/s,
/// eta 10m 38s, 1m 00s elapsed`.
fn status_line(
    label: &str,
    unit: &str,
    done: u64,
    total: Option<u64>,
    per_sec: Option<f64>,
    eta: Option<Duration>,
    elapsed: Duration,
) -> String {
    let mut text = format!("dmsim: {label}: {}", rate::count(done));
    if let Some(total) = total {
        let percent = (done.min(total) * 100).checked_div(total).unwrap_or(100);
        text += &format!("/{} {unit} ({percent}%)", rate::count(total));
    } else {
        text += &format!(" {unit}");
    }
    if let Some(per_sec) = per_sec {
        text += &format!(", {} {unit}/s", rate::rate(per_sec));
    }
    if let Some(eta) = eta {
        text += &format!(", eta {}", rate::duration(eta));
    }
    text + &format!(", {} elapsed", rate::duration(elapsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_pass_is_noted_and_said_to_hold_the_run_once_the_workload_is_done() {
        // 2 TB members (3,907,029,168 sectors), 0.75 % done.
        assert_eq!(
            sync_note(29_302_718, 3_907_029_168, false),
            "; md sync pass 0.7% of 1863.0 GiB per member"
        );
        assert_eq!(
            sync_note(8192, 8192, true),
            "; md sync pass 100.0% of 0.0 GiB per member, the run ends when it does"
        );
    }

    #[test]
    fn status_line_with_a_total() {
        let line = status_line(
            "run writeback/fifo/randrw",
            "requests",
            258_879,
            Some(3_000_000),
            Some(4_318.4),
            Some(Duration::from_secs(638)),
            Duration::from_secs(60),
        );
        assert_eq!(
            line,
            "dmsim: run writeback/fifo/randrw: 258,879/3,000,000 requests (8%), \
             4,318 requests/s, eta 10m 38s, 1m 00s elapsed"
        );
    }

    #[test]
    fn status_line_without_a_total() {
        let line = status_line(
            "replay writeback/fifo",
            "requests",
            1_234,
            None,
            Some(123.4),
            None,
            Duration::from_secs(10),
        );
        assert_eq!(
            line,
            "dmsim: replay writeback/fifo: 1,234 requests, 123 requests/s, 10s elapsed"
        );
    }

    #[test]
    fn bar_message_in_runs() {
        assert_eq!(
            bar_message(
                "runs",
                3,
                Some(9),
                Some(0.25),
                Some(Duration::from_secs(24))
            ),
            "3/9 runs (0.25/s, eta 24s)"
        );
        assert_eq!(bar_message("runs", 0, Some(9), None, None), "0/9 runs");
    }
}
