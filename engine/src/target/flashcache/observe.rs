//! Observation of the flashcache target by the engine: idleness, the deadlock report and
//! the invariants linking pieces, flashcache bios, reserved pages and the state machine.
//!
//! Deliberately not here: anything that changes state.

use super::execute::Outstanding;
use super::{FlashcacheTarget, LifeStage, Piece};
use crate::error::WaitingJob;
use crate::flashcache::{CacheIoTag, Flashcache, Phase};
use crate::services::Services;
use crate::slab::SlabKey;
use std::collections::BTreeSet;

impl FlashcacheTarget {
    /// Nothing in flight or waiting, setup over, and no remove half done (a halted target
    /// counts as idle once nothing of ours is in flight).
    pub fn is_idle(&self) -> bool {
        let stage_idle = match &self.stage {
            LifeStage::SettingUp(_) => false,
            // A halted target never moves again: once its IO has drained it is idle.
            LifeStage::Running(fc) => match fc.phase() {
                Phase::Halted(_) => true,
                Phase::Removing | Phase::Storing => false,
                Phase::Running | Phase::Stopped(_) => fc.is_idle(),
            },
            LifeStage::Failed(_) => true,
        };
        stage_idle
            && self.pieces.is_empty()
            && self.fc_bios.is_empty()
            && self.outstanding.is_empty()
            && self.pool_waiting.is_empty()
            && self.refused.is_empty()
            && !self.worker_wanted
    }

    pub fn waiting_report(&self, out: &mut Vec<WaitingJob>) {
        if !self.setup_waiting.is_empty() || matches!(self.stage, LifeStage::SettingUp(_)) {
            out.push(WaitingJob {
                component: "flashcache",
                description: format!(
                    "setup in progress; {} piece(s) wait for it",
                    self.setup_waiting.len()
                ),
            });
        }
        for (key, piece) in self.pieces.iter() {
            out.push(WaitingJob {
                component: "flashcache",
                description: format!(
                    "piece {} ({:?} {}+{}) waits for {} flashcache bio(s)",
                    key.to_u64(),
                    piece.op,
                    piece.sector,
                    piece.sectors,
                    piece.remaining
                ),
            });
        }
        if !self.pool_waiting.is_empty() {
            out.push(WaitingJob {
                component: "flashcache",
                description: format!(
                    "{} dm_io request(s) wait for reserved pages ({} lent)",
                    self.pool_waiting.len(),
                    self.pool.lent()
                ),
            });
        }
        if let LifeStage::Running(fc) = &self.stage {
            out.push(WaitingJob {
                component: "flashcache",
                description: format!(
                    "phase {:?}, {} job(s), {} request(s) outstanding, {} late write(s), gauges {:?}",
                    fc.phase(),
                    fc.jobs_in_flight(),
                    self.outstanding.len(),
                    self.late_writes,
                    fc.gauges()
                ),
            });
        }
    }

    /// The adapter's state in one line, for an anomaly's panic message.
    pub(super) fn state_summary(&self) -> String {
        let machine = match &self.stage {
            LifeStage::SettingUp(_) => "setting up".to_string(),
            LifeStage::Failed(error) => format!("setup failed: {error}"),
            LifeStage::Running(fc) => format!(
                "phase {:?}, {} job(s) in flight, gauges {:?}",
                fc.phase(),
                fc.jobs_in_flight(),
                fc.gauges()
            ),
        };
        format!(
            "{machine}; {} piece(s), {} flashcache bio(s), {} request(s) outstanding, {} waiting \
             for pages, {} refused, worker wanted {}, {} late write(s)",
            self.pieces.len(),
            self.fc_bios.len(),
            self.outstanding.len(),
            self.pool_waiting.len(),
            self.refused.len(),
            self.worker_wanted,
            self.late_writes
        )
    }

    pub fn check_invariants(&self, services: &Services) -> Result<(), String> {
        self.check_adapter(services, &mut Vec::new())?;
        if let LifeStage::Running(fc) = &self.stage {
            self.check_zombies_agree(fc)?;
            as_error(|| fc.check_invariants())?;
        }
        Ok(())
    }

    /// [`FlashcacheTarget::check_invariants`] for a check after every input: the adapter's
    /// records and the state machine each check only what changed since the last call (all
    /// of it every so many calls; see [`FlashcacheTarget::check_adapter_incremental`],
    /// [`Flashcache::check_invariants_incremental`]).
    pub fn check_invariants_incremental(&mut self, services: &Services) -> Result<(), String> {
        self.check_adapter_incremental(services)?;
        if let LifeStage::Running(fc) = &self.stage {
            if self.zombies_to_agree(fc) {
                self.check_zombies_agree(fc)?;
            }
        }
        if let LifeStage::Running(fc) = &mut self.stage {
            as_error(|| fc.check_invariants_incremental())?;
        }
        Ok(())
    }

    /// The adapter's own records: pieces, flashcache bios, requests and reserved pages.
    /// `parts` is scratch.
    pub(super) fn check_adapter(
        &self,
        services: &Services,
        parts: &mut Vec<u32>,
    ) -> Result<(), String> {
        self.check_no_anomaly()?;
        self.pieces.check()?;
        // Live parts of each piece, by the piece's slab slot (no map: this runs per input),
        // counted in the pass that checks the bios' slab; an error there is reported after
        // the other slabs' bookkeeping, as if it had been checked first.
        parts.clear();
        parts.resize(self.pieces.slots(), 0);
        let parts_counted = self.fc_bios.check_each(|id, part| {
            if self.pieces.get(part.piece).is_none() {
                return Err(format!(
                    "flashcache bio {} belongs to no live piece",
                    id.to_u64()
                ));
            }
            parts[part.piece.index as usize] += 1;
            Ok(())
        })?;
        self.outstanding.check()?;
        self.pool.check(services.arena())?;
        parts_counted?;
        for (key, piece) in self.pieces.iter() {
            self.check_piece(key, piece, parts[key.index as usize])?;
        }
        Ok(())
    }

    /// No broken calling obligation was recorded.
    pub(super) fn check_no_anomaly(&self) -> Result<(), String> {
        match self.anomalies.first() {
            Some(first) => Err(format!(
                "flashcache adapter: {} anomalies, first: {first}",
                self.anomalies.len()
            )),
            None => Ok(()),
        }
    }

    /// One piece against its `live` parts: as many as it waits for, and a piece without
    /// any waits for setup.
    pub(super) fn check_piece(&self, key: SlabKey, piece: &Piece, live: u32) -> Result<(), String> {
        // Only a piece without live parts must be waiting (a linear search: not per piece).
        if live != piece.remaining || (live == 0 && !self.setup_waiting.contains(&key)) {
            let waiting = self.setup_waiting.contains(&key);
            return Err(format!(
                "piece {}: {} parts live, {} remaining, waiting for setup: {waiting}",
                key.to_u64(),
                live,
                piece.remaining
            ));
        }
        Ok(())
    }

    /// The requests the adapter keeps for their zombies are exactly those whose end the
    /// state machine waits for (a halted machine refuses both the news of a zombie and of
    /// its end, so it is left out).
    fn check_zombies_agree(&self, fc: &Flashcache) -> Result<(), String> {
        let keeps_zombies =
            |(_, entry): (_, &Outstanding)| matches!(entry, Outstanding::Zombies { .. });
        // Mostly there are none: agreeing then needs no sets built (this runs per input).
        if fc.zombie_tags().next().is_none() && !self.outstanding.iter().any(keeps_zombies) {
            return Ok(());
        }
        let kept: BTreeSet<CacheIoTag> = self
            .outstanding
            .iter()
            .filter_map(|(_, entry)| match entry {
                Outstanding::Zombies { tag, .. } => Some(*tag),
                Outstanding::DmIo { .. } | Outstanding::Kcopyd { .. } => None,
            })
            .collect();
        let waited: BTreeSet<CacheIoTag> = fc.zombie_tags().collect();
        if kept == waited || matches!(fc.phase(), Phase::Halted(_)) {
            Ok(())
        } else {
            Err(format!(
                "flashcache adapter keeps zombies {kept:?}, the state machine waits for {waited:?}"
            ))
        }
    }
}

/// Runs one of the state machine's checks, which assert, and reports a failure as a value.
fn as_error(check: impl FnOnce()) -> Result<(), String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).map_err(|panic| {
        let text = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(no message)".to_string());
        format!("flashcache: {text}")
    })
}
