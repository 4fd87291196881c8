//! md's throttle of a sync pass (`md_do_sync`): the pass's speed, in KiB/s of one member, is
//! measured over a window of marks taken every [`SYNC_MARK_STEP_NS`] (the oldest of the last
//! [`SYNC_MARKS`]), as `sectors / 2 / (whole seconds + 1) + 1`. Every [`SYNC_CHECK_SECTORS`]
//! of progress the pass checks it: above `speed_limit_max`, or above `speed_limit_min` while
//! the array is not idle, it sleeps [`SYNC_THROTTLE_NS`] and checks again. The array is idle
//! when no member saw more than [`IDLE_SLACK_SECTORS`] of normal (non-sync) IO since the
//! previous check (md's `is_mddev_idle`).
//!
//! Owns the marks and the idle snapshot; the decision is taken in [`Raid5::throttle_sync`].

use super::instance::Raid5;
use std::collections::VecDeque;

/// md's `SYNC_MARKS`.
pub(crate) const SYNC_MARKS: usize = 10;
/// md's `SYNC_MARK_STEP` (3 s).
pub const SYNC_MARK_STEP_NS: u64 = 3_000_000_000;
/// md checks the speed every 32 pages of progress.
pub(crate) const SYNC_CHECK_SECTORS: u64 = 256;
/// md's `msleep(500)` when the pass is too fast.
pub(crate) const SYNC_THROTTLE_NS: u64 = 500_000_000;
/// Normal IO a member may see between checks and still count as idle (md's 64 sectors).
pub(crate) const IDLE_SLACK_SECTORS: u64 = 64;

/// See the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct SyncSpeed {
    /// (time, sectors done) marks, oldest first.
    marks: VecDeque<(u64, u64)>,
    /// Progress at the last speed check.
    last_check_sectors: u64,
    /// Each member's normal IO sectors at the last check.
    idle_snapshot: Vec<u64>,
    /// The pass slept: check again before the next stripe (md's `goto repeat`).
    recheck: bool,
}

impl SyncSpeed {
    pub fn new(now_ns: u64, normal_io_sectors: &[u64]) -> SyncSpeed {
        SyncSpeed {
            marks: VecDeque::from([(now_ns, 0)]),
            last_check_sectors: 0,
            idle_snapshot: normal_io_sectors.to_vec(),
            recheck: false,
        }
    }

    /// Takes a mark if a step passed since the last.
    fn mark(&mut self, now_ns: u64, done_sectors: u64) {
        let last = self.marks.back().expect("a mark").0;
        if now_ns >= last + SYNC_MARK_STEP_NS {
            self.marks.push_back((now_ns, done_sectors));
            if self.marks.len() > SYNC_MARKS {
                self.marks.pop_front();
            }
        }
    }

    /// md's `currspeed` at `now_ns` with `done_sectors` done.
    pub fn speed_kib_s(&self, now_ns: u64, done_sectors: u64) -> u64 {
        let (mark_ns, mark_sectors) = *self.marks.front().expect("a mark");
        let seconds = now_ns.saturating_sub(mark_ns) / 1_000_000_000 + 1;
        done_sectors.saturating_sub(mark_sectors) / 2 / seconds + 1
    }
}

impl Raid5 {
    /// The pass's speed check before it takes the next stripe: true if it must sleep (the
    /// throttle's end is then a deadline).
    pub(crate) fn throttle_sync(&mut self) -> bool {
        let now_ns = self.now_ns;
        let (min, max) = (
            self.config.speed_limit_min_kib_s,
            self.config.speed_limit_max_kib_s,
        );
        let pass = self.sync.as_mut().expect("a pass runs");
        pass.speed.mark(now_ns, pass.next_sector);
        if !pass.speed.recheck
            && pass.next_sector < pass.speed.last_check_sectors + SYNC_CHECK_SECTORS
        {
            return false;
        }
        pass.speed.last_check_sectors = pass.next_sector;
        let idle = self
            .normal_io_sectors
            .iter()
            .zip(&pass.speed.idle_snapshot)
            .all(|(now, then)| now - then <= IDLE_SLACK_SECTORS);
        pass.speed.idle_snapshot.clone_from(&self.normal_io_sectors);
        let speed = pass.speed.speed_kib_s(now_ns, pass.next_sector);
        if speed > min && (speed > max || !idle) {
            pass.throttled_until_ns = Some(now_ns + SYNC_THROTTLE_NS);
            pass.speed.recheck = true;
            self.stats.sync_throttles += 1;
            return true;
        }
        pass.speed.recheck = false;
        false
    }
}
