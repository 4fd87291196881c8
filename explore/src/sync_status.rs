//! A raid5 sync pass's status, probed while the pass runs: mdstat's progress line
//! (`resync = 12.5% (1024/8192) finish=0.1min speed=1000K/sec`) exists only then, when the
//! engine is never idle, so the counter oracles (idle only) never read it.
//!
//! The speed is md's `currspeed`: KiB of one member per whole second since the oldest of
//! its marks, plus one. Until the first mark step has passed, the oldest mark is the pass's
//! start with nothing done, so the speed is bounded by what the pass did since it started;
//! later only by what it did at all. The line shows the pass's progress, that speed, and the
//! finish it implies (the KiB left at that speed).
//!
//! Deliberately not here: the pass's throttle (how fast it may go), which is md's policy.

use dmsim_engine::raid5::SYNC_MARK_STEP_NS;
use dmsim_engine::Engine;

/// The first wrong progress line seen, and how many lines were probed.
#[derive(Debug, Default, Clone)]
pub struct SyncStatusProbe {
    pub error: Option<String>,
    pub probes: u64,
    /// The last progress line found in the status text. The line is a function of the
    /// pass's progress and speed alone, which stay the same over many inputs: the status
    /// text (a tenth of a raid5 seed's time to render) is read again only for a new line
    /// or a new pass (its start time).
    last_line_found: (u64, String),
    /// What the last line probed was rendered from: (pass start, word, done, total, speed).
    /// The same again renders the same line, so its rendering (per input while a pass runs)
    /// is skipped too.
    last_rendered: Option<(u64, &'static str, u64, u64, u64)>,
}

impl SyncStatusProbe {
    /// After an input: if a raid5 array (the volume) runs a sync pass, its status line.
    pub fn after_input(&mut self, now_ns: u64, engine: &Engine) {
        if self.error.is_some() {
            return;
        }
        let Some(raid) = engine.target().raid5() else {
            return;
        };
        // md's `sync_action` names the running pass; every view of the pass must agree.
        let views = (
            raid.sync_running(),
            raid.sync_progress(),
            raid.sync_started_ns(),
            raid.sync_speed_kib_s(),
        );
        let (Some(action), Some((done, total)), Some(started_ns), Some(speed_kib_s)) = views else {
            if raid.sync_action() != "idle" || views != (None, None, None, None) {
                self.error = Some(format!(
                    "raid5 sync_action {:?}, but the pass's (action, progress, start, speed) \
                     are {views:?}",
                    raid.sync_action()
                ));
            }
            return;
        };
        if action.name() != raid.sync_action() {
            self.error = Some(format!(
                "raid5 sync_action {:?}, but the running pass is {action:?}",
                raid.sync_action()
            ));
            return;
        }
        self.probes += 1;
        let pass = Pass {
            word: action.progress_word(),
            done,
            total,
            elapsed_ns: now_ns.saturating_sub(started_ns),
            speed_kib_s,
        };
        if let Err(error) = check_speed(&pass) {
            self.error = Some(error);
            return;
        }
        let rendered_from = (started_ns, pass.word, done, total, speed_kib_s);
        if self.last_rendered == Some(rendered_from) {
            return;
        }
        self.last_rendered = Some(rendered_from);
        let line = render_line(&pass);
        if (started_ns, &line) != (self.last_line_found.0, &self.last_line_found.1) {
            self.error = find_line(&line, &engine.target_status_text()).err();
            self.last_line_found = (started_ns, line);
        }
    }
}

/// What the machine says of its running pass.
struct Pass {
    word: &'static str,
    /// Member sectors done, of `total`.
    done: u64,
    total: u64,
    /// Time since the pass started (at least the machine's own: it may lag the input's).
    elapsed_ns: u64,
    speed_kib_s: u64,
}

#[cfg(test)]
fn check(pass: &Pass, text: &str) -> Result<(), String> {
    find_line(&expected_line(pass)?, text)
}

fn find_line(line: &str, text: &str) -> Result<(), String> {
    if !text.contains(line) {
        return Err(format!(
            "raid5 status lacks the running pass's line {line:?}:\n{text}"
        ));
    }
    Ok(())
}

/// The progress line `pass` must show, once its speed is within what it did.
#[cfg(test)]
fn expected_line(pass: &Pass) -> Result<String, String> {
    check_speed(pass)?;
    Ok(render_line(pass))
}

/// The pass's speed is within what it did.
fn check_speed(pass: &Pass) -> Result<(), String> {
    let done_kib = pass.done / 2;
    // The oldest mark saw at least nothing done: the speed counts at most what was done.
    if pass.speed_kib_s == 0 || pass.speed_kib_s > done_kib + 1 {
        return Err(format!(
            "raid5 {} speed {} KiB/s with {done_kib} KiB done: outside 1..={}",
            pass.word,
            pass.speed_kib_s,
            done_kib + 1
        ));
    }
    if pass.elapsed_ns < SYNC_MARK_STEP_NS {
        // Before the first mark step the oldest mark is the start: at least the KiB done per
        // whole second elapsed (the machine's clock may only lag the input's).
        let seconds = pass.elapsed_ns / 1_000_000_000 + 1;
        let slowest = done_kib / seconds + 1;
        if pass.speed_kib_s < slowest {
            return Err(format!(
                "raid5 {} speed {} KiB/s, {done_kib} KiB done in {:.3} s since the pass \
                 started: at least {slowest}",
                pass.word,
                pass.speed_kib_s,
                pass.elapsed_ns as f64 / 1e9
            ));
        }
    }
    Ok(())
}

/// The progress line of `pass`, whose speed is checked (not zero).
fn render_line(pass: &Pass) -> String {
    let done_kib = pass.done / 2;
    let finish_s = (pass.total - pass.done) / 2 / pass.speed_kib_s;
    format!(
        "{} = {:.1}% ({done_kib}/{}) finish={}.{}min speed={}K/sec",
        pass.word,
        pass.done as f64 * 100.0 / pass.total.max(1) as f64,
        pass.total / 2,
        finish_s / 60,
        finish_s % 60 / 6,
        pass.speed_kib_s
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(done: u64, elapsed_ns: u64, speed_kib_s: u64) -> Pass {
        Pass {
            word: "resync",
            done,
            total: 8192,
            elapsed_ns,
            speed_kib_s,
        }
    }

    #[test]
    fn a_line_with_the_pass_and_its_finish_passes() {
        // 1024 sectors left at 256 KiB/s: 2 s, "0.0min".
        let line = "resync = 87.5% (3584/4096) finish=0.0min speed=256K/sec";
        assert_eq!(check(&pass(7168, 13_000_000_000, 256), line), Ok(()));
    }

    #[test]
    fn speeds_outside_what_was_done_fail() {
        assert!(check(&pass(100, 0, 0), "").unwrap_err().contains("outside"));
        assert!(check(&pass(100, 0, 52), "")
            .unwrap_err()
            .contains("outside"));
        // 50 KiB in the first second: at least 51 KiB/s.
        assert!(check(&pass(100, 500_000_000, 1), "")
            .unwrap_err()
            .contains("at least 51"));
        // After the first mark step the oldest mark may be recent: any speed down to 1.
        let late = "resync = 1.2% (50/4096) finish=67.4min speed=1K/sec";
        assert_eq!(check(&pass(100, 4_000_000_000, 1), late), Ok(()));
    }

    #[test]
    fn a_wrong_finish_fails() {
        let line = "resync = 87.5% (3584/4096) finish=0.1min speed=256K/sec";
        assert!(check(&pass(7168, 13_000_000_000, 256), line)
            .unwrap_err()
            .contains("lacks"));
    }
}
