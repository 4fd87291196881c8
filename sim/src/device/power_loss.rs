//! Power loss of one simulated device: what reaches the media and what is lost.
//!
//! The model, all draws from the caller's seeded stream:
//! - The volatile write cache is lost block by block: each cached block reaches the media
//!   with probability `cache_survival_ppm`. With `tear_cached_blocks`, a block that reaches
//!   the media may do so only in part: its sectors are written in a seeded order and the
//!   power fails after a seeded number of them (0 to all 8).
//! - Every write or discard in flight is torn the same way: its sectors land in a seeded
//!   order, and a seeded number of them (0 to all, each count equally likely) land before
//!   the power fails. So a whole write landing and none of it landing are both common, not
//!   the 2^-n corner cases an independent coin per sector would make them. The in-flight
//!   writes land over the surviving cache: they are newer than anything cached.
//! - Every other IO in flight is lost. IOs whose outcome was already reported (cancelled, or
//!   failed when the drive was pulled) are not in flight any more and change nothing.
//!
//! Sectors are the unit of atomicity, as on real drives: a sector holds either its old or
//! its new content, never a mix.

use super::faults::{FaultError, CERTAIN_PPM};
use super::store::{BlockContent, SectorView, SectorWrite};
use super::{SimDevice, WritePayload};
use dmsim_engine::block::{Extent, Op, SECTORS_PER_PAGE};
use dmsim_engine::content::SectorContent;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

/// How a power loss treats a device's volatile write cache. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerLoss {
    /// Chance, in parts per million, that one cached block reaches the media (0: the whole
    /// cache is lost; 1 000 000: all of it survives).
    #[serde(default)]
    pub cache_survival_ppm: u32,
    /// A cached block reaching the media may land only in part (per sector).
    #[serde(default)]
    pub tear_cached_blocks: bool,
}

impl PowerLoss {
    /// The whole volatile cache is lost.
    pub const LOSE_CACHE: PowerLoss = PowerLoss {
        cache_survival_ppm: 0,
        tear_cached_blocks: false,
    };

    /// Each cached block survives whole with probability `survival` (clamped to 0..=1,
    /// rounded to whole parts per million).
    pub fn with_cache_survival(survival: f64) -> PowerLoss {
        PowerLoss {
            cache_survival_ppm: (survival.clamp(0.0, 1.0) * f64::from(CERTAIN_PPM)).round() as u32,
            tear_cached_blocks: false,
        }
    }

    /// Checks a power loss read from a scenario.
    pub fn check(&self) -> Result<(), FaultError> {
        if self.cache_survival_ppm > CERTAIN_PPM {
            return Err(FaultError::RateAboveCertain {
                rate_ppm: self.cache_survival_ppm,
            });
        }
        Ok(())
    }
}

/// What a crash did to a device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CrashReport {
    /// IOs in flight that the crash ended without a completion.
    pub in_flight_lost: u64,
    /// Cached blocks that reached the media (whole or torn).
    pub cached_blocks_kept: u64,
    /// Cached blocks of which some but not all sectors reached the media.
    pub cached_blocks_torn: u64,
    pub cached_blocks_lost: u64,
    /// Sectors of writes and discards in flight that reached the media.
    pub torn_sectors_written: u64,
}

/// True with probability `ppm` / 1 000 000; certain and impossible outcomes draw nothing.
fn chance(rng: &mut dyn RngCore, ppm: u32) -> bool {
    match ppm {
        0 => false,
        p if p >= CERTAIN_PPM => true,
        p => rng.random_ratio(p, CERTAIN_PPM),
    }
}

/// The indexes (0..n) of the sectors that land before the power fails: a seeded prefix,
/// of seeded length 0..=n, of a seeded order.
fn landed_sectors(rng: &mut dyn RngCore, n: u64) -> Vec<u64> {
    let mut order: Vec<u64> = (0..n).collect();
    order.shuffle(rng);
    let landed = rng.random_range(0..=n);
    order.truncate(landed as usize);
    order
}

/// The content sector `i` of a cached block carries (`None`: a discarded, all-zero block).
fn cached_sector(content: &Option<BlockContent>, i: usize) -> SectorWrite<'_> {
    match content.as_ref().map(|c| c.sector(i)) {
        None => SectorWrite::Content(SectorContent::Zero),
        Some(SectorView::Content(c)) => SectorWrite::Content(c),
        Some(SectorView::Bytes(b)) => SectorWrite::Bytes(b),
    }
}

impl SimDevice {
    /// Power loss (see the module documentation); `rng` decides what lands. The timing model
    /// is replaced by the caller (its queues still hold the lost IOs).
    pub fn crash(&mut self, rng: &mut dyn RngCore, loss: &PowerLoss) -> CrashReport {
        let mut report = CrashReport::default();
        let cached = self
            .cache
            .as_mut()
            .map(|cache| cache.drain_for_crash())
            .unwrap_or_default();
        for (block, content) in cached {
            if !chance(rng, loss.cache_survival_ppm) {
                report.cached_blocks_lost += 1;
                continue;
            }
            report.cached_blocks_kept += 1;
            let landed = if loss.tear_cached_blocks {
                landed_sectors(rng, SECTORS_PER_PAGE)
            } else {
                Vec::new()
            };
            if !loss.tear_cached_blocks || landed.len() as u64 == SECTORS_PER_PAGE {
                self.store.put_block(block, content);
                continue;
            }
            if !landed.is_empty() {
                report.cached_blocks_torn += 1;
            }
            for i in landed {
                let one = cached_sector(&content, i as usize);
                self.store
                    .write(block * SECTORS_PER_PAGE + i, 1, &move |_| one);
            }
        }
        for (_, entry) in self.inflight.take_all() {
            if entry.reported {
                continue;
            }
            report.in_flight_lost += 1;
            let io = &entry.io;
            if !matches!(io.op, Op::Write | Op::Discard) {
                continue;
            }
            for i in landed_sectors(rng, u64::from(io.sectors)) {
                report.torn_sectors_written += 1;
                let sector = io.sector + i;
                let one = match (&io.payload, io.op) {
                    (WritePayload::Contents(c), Op::Write) => SectorWrite::Content(c[i as usize]),
                    (WritePayload::Bytes(b), Op::Write) => {
                        SectorWrite::Bytes(&b[i as usize * 512..(i as usize + 1) * 512])
                    }
                    _ => SectorWrite::Content(SectorContent::Zero),
                };
                self.store.write(sector, 1, &move |_| one);
                if io.op == Op::Write {
                    self.fault_stats.latent_sectors_repaired +=
                        self.latent.repair(Extent::new(sector, 1));
                }
            }
        }
        self.by_tag.clear();
        self.inflight_writes.clear();
        self.delayed.clear();
        self.ready.clear();
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_writes_land_anything_from_nothing_to_everything() {
        let mut rng = crate::streams::stream(3, "crash.test");
        let mut counts = [0u32; 9];
        for _ in 0..900 {
            let landed = landed_sectors(&mut rng, 8);
            let mut sorted = landed.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), landed.len(), "no sector twice");
            assert!(landed.iter().all(|&i| i < 8));
            counts[landed.len()] += 1;
        }
        // Each count 0..=8 has probability 1/9: 100 expected, far from 0.
        assert!(counts.iter().all(|&c| c > 50), "{counts:?}");
    }

    #[test]
    fn certain_and_impossible_chances_draw_nothing() {
        let mut rng = crate::streams::stream(3, "crash.test");
        assert!(chance(&mut rng, CERTAIN_PPM));
        assert!(!chance(&mut rng, 0));
        let mut fresh = crate::streams::stream(3, "crash.test");
        assert_eq!(rng.next_u64(), fresh.next_u64());
        assert_eq!(
            PowerLoss::with_cache_survival(1.0).cache_survival_ppm,
            CERTAIN_PPM
        );
        assert!(PowerLoss {
            cache_survival_ppm: CERTAIN_PPM + 1,
            tear_cached_blocks: false
        }
        .check()
        .is_err());
    }
}
