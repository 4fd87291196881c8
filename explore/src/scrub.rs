//! raid5's scrub at the end of a seed's liveness phase: md's `sync_action` `check` or
//! `repair` over the whole array, with faults off and every write done.
//!
//! Oracles: the pass ends (one more `sync_passes`) within the liveness bound; a check writes
//! nothing to the members and a repair writes only the parity it rewrites; on an array with
//! every member working and readable that the write hole never touched, every stripe's parity
//! matches its data (`mismatch_cnt` 0, nothing rewritten: a power loss's resync must have
//! made them consistent); and the data reads back as before.

use dmsim_engine::raid5::{Raid5, Raid5Stats};
use serde::{Deserialize, Serialize};

/// Which pass a seed asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scrub {
    /// Compare parity with data, count mismatches, write nothing.
    Check,
    /// Compare, and rewrite parity that does not match.
    Repair,
}

impl Scrub {
    /// The message that starts it (md's `echo check > sync_action`).
    pub fn message(self) -> &'static str {
        match self {
            Scrub::Check => "check",
            Scrub::Repair => "repair",
        }
    }
}

/// The array as the pass found it: counters, and whether its parity must be consistent.
#[derive(Debug, Clone, Copy)]
pub struct BeforeScrub {
    stats: Raid5Stats,
    consistent: bool,
}

impl BeforeScrub {
    /// `raid` before the pass; `readable`: no member sector is unreadable (latent) and the
    /// write hole left no sector unknown.
    pub fn of(raid: &Raid5, readable: bool) -> BeforeScrub {
        BeforeScrub {
            stats: raid.stats(),
            consistent: readable && raid.degraded() == 0,
        }
    }

    /// Stripes the pass compared or skipped, once it ended on `raid`.
    pub fn stripes_walked(&self, raid: &Raid5) -> u64 {
        let after = raid.stats();
        let walked = |s: &Raid5Stats| s.sync_stripes + s.sync_stripes_skipped;
        walked(&after) - walked(&self.stats)
    }

    /// The verdict on `raid` after a `scrub` pass that ran to its end.
    pub fn check_after(&self, scrub: Scrub, raid: &Raid5) -> Result<(), String> {
        let after = raid.stats();
        let before = &self.stats;
        if after.sync_passes != before.sync_passes + 1 {
            return Err(format!(
                "{}: {} sync passes ended, expected one",
                scrub.message(),
                after.sync_passes - before.sync_passes
            ));
        }
        let rewrites = after.sync_parity_rewrites - before.sync_parity_rewrites;
        let writes = after.member_writes - before.member_writes;
        let allowed_writes = match scrub {
            Scrub::Check => 0,
            Scrub::Repair => rewrites,
        };
        if writes > allowed_writes || (scrub == Scrub::Check && rewrites > 0) {
            return Err(format!(
                "{}: {writes} member writes and {rewrites} parity rewrites",
                scrub.message()
            ));
        }
        if self.consistent && (raid.mismatch_cnt() > 0 || rewrites > 0) {
            return Err(format!(
                "{}: mismatch_cnt {} and {rewrites} parity rewrites on a whole, readable array \
                 after its resync: parity must match the data",
                scrub.message(),
                raid.mismatch_cnt()
            ));
        }
        Ok(())
    }
}
