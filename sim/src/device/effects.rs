//! What the faults of [`faults`](super::faults) do to a simulated device: a fired rule's
//! action resolved for one IO (its seeded choices drawn when the IO is submitted), latent
//! sector errors, silent corruption, misdirected writes, and the drive being pulled.
//!
//! Poison (see [`crate::poison`]) is what corruption and misdirection leave behind; it goes
//! through the same write path as data (volatile cache, FUA, flush), so a crash treats it as
//! it would treat the data.

use super::faults::{FaultAction, Fired, Landing};
use super::store::{for_each_block, merge_block, BlockContent, SectorWrite};
use super::{DeviceCompletion, SimDevice, SimIo, WritePayload};
use crate::poison::{is_workload_data, poison};
use dmsim_engine::block::{Extent, IoStatus, SECTORS_PER_PAGE};
use rand::Rng;
use serde::Serialize;

/// A fired rule's action, resolved for one IO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    None,
    Fail(IoStatus),
    Hang,
    Delay {
        extra_ns: u64,
    },
    IgnoreCancel {
        extra_ns: u64,
    },
    /// These sectors go bad when the IO completes.
    LatentError {
        block: Extent,
    },
    /// These sectors are corrupted when the read completes.
    Corrupt {
        block: Extent,
    },
    /// The write's data lands at this device sector instead.
    Misdirect {
        landing: u64,
    },
}

/// What the faults did to one device (for reports and tests).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FaultStats {
    /// IOs a rule fired on.
    pub fired: u64,
    /// Logical blocks that went bad (latent errors from rules; static ones not counted).
    pub latent_blocks_marked: u64,
    /// Reads failed by a latent sector error.
    pub latent_error_reads: u64,
    /// Bad sectors made readable again by a write.
    pub latent_sectors_repaired: u64,
    /// Cancels a `CompleteDespiteCancel` IO ignored.
    pub cancels_ignored: u64,
    /// Sectors of workload data silently corrupted (now holding poison).
    pub corrupted_sectors: u64,
    pub misdirected_writes: u64,
    /// Sectors a misdirected write would have landed on but spared: they hold engine
    /// metadata.
    pub misdirect_sectors_spared: u64,
    /// When the drive was pulled, if it was.
    pub disappeared_at_ns: Option<u64>,
    /// IOs failed because the drive was gone (in flight then, or submitted later).
    pub failed_by_disappearance: u64,
}

/// `sector` rounded down to a multiple of `lbs`.
fn align_down(sector: u64, lbs: u64) -> u64 {
    sector - sector % lbs
}

impl SimDevice {
    /// Resolves a fired rule for `io`, drawing its seeded choices from the fault stream.
    pub(super) fn resolve(&mut self, fired: Fired, io: &SimIo) -> Effect {
        self.fault_stats.fired += 1;
        match fired.action {
            FaultAction::Fail(status) => Effect::Fail(status),
            FaultAction::Hang => Effect::Hang,
            FaultAction::Delay { extra_ns } => Effect::Delay { extra_ns },
            FaultAction::CompleteDespiteCancel { extra_ns } => Effect::IgnoreCancel { extra_ns },
            FaultAction::LatentError => Effect::LatentError {
                block: self.seeded_block(io, fired.range),
            },
            FaultAction::SilentCorruption => Effect::Corrupt {
                block: self.seeded_block(io, fired.range),
            },
            FaultAction::MisdirectedWrite { landing } => Effect::Misdirect {
                landing: self.landing_sector(landing, io),
            },
        }
    }

    /// One seeded logical block of `io` inside `range` (which overlaps the IO: it matched).
    fn seeded_block(&mut self, io: &SimIo, range: Option<Extent>) -> Extent {
        let lbs = self.lbs_sectors;
        let end = io.sector + u64::from(io.sectors);
        let (mut lo, mut hi) = (io.sector, end);
        if let Some(range) = range {
            lo = lo.max(align_down(range.sector, lbs));
            hi = hi.min(align_down(range.end() + lbs - 1, lbs));
        }
        assert!(hi > lo, "a matching rule's range overlaps the IO");
        let blocks = (hi - lo) / lbs;
        let chosen = self.fault_rng.random_range(0..blocks);
        Extent::new(lo + chosen * lbs, lbs)
    }

    /// Where a misdirected write of `io` lands (inside the device, aligned).
    fn landing_sector(&mut self, landing: Landing, io: &SimIo) -> u64 {
        let lbs = self.lbs_sectors;
        let last_start = self.capacity_sectors - u64::from(io.sectors);
        match landing {
            Landing::Shift { sectors } => {
                let target = i128::from(io.sector) + i128::from(sectors);
                let folded = target.rem_euclid(i128::from(last_start) + 1) as u64;
                align_down(folded, lbs)
            }
            Landing::Random => self.fault_rng.random_range(0..=last_start / lbs) * lbs,
        }
    }

    /// True if `block`'s current content (cache over media) is engine metadata (real bytes).
    fn holds_metadata(&self, block: u64) -> bool {
        let content = match self.cache.as_ref().and_then(|c| c.get(block)) {
            Some(cached) => cached.as_ref(),
            None => self.store.block(block),
        };
        matches!(content, Some(BlockContent::Bytes(_)))
    }

    /// Poison over `sectors` sectors at `sector`, through the write path.
    fn write_poison(&mut self, sector: u64, sectors: u64, fua: bool) {
        let payload = WritePayload::Contents((sector..sector + sectors).map(poison).collect());
        self.write_content(sector, sectors, fua, false, &payload);
    }

    /// A misdirected write completed: see [`FaultAction::MisdirectedWrite`].
    pub(super) fn misdirect(&mut self, io: &SimIo, landing: u64) {
        let sectors = u64::from(io.sectors);
        self.fault_stats.misdirected_writes += 1;
        self.stats.bytes_written += sectors * 512;
        // Nothing was written where the engine meant: what is there is as wrong as garbage.
        self.write_poison(io.sector, sectors, io.fua);
        let mut pieces = Vec::new();
        for_each_block(landing, sectors, &mut |block, first, last, _| {
            let piece = Extent::new(
                block * SECTORS_PER_PAGE + first as u64,
                (last - first) as u64,
            );
            pieces.push((piece, self.holds_metadata(block)));
        });
        for (piece, metadata) in pieces {
            if metadata {
                self.fault_stats.misdirect_sectors_spared += piece.sectors;
                continue;
            }
            self.write_poison(piece.sector, piece.sectors, io.fua);
            self.fault_stats.latent_sectors_repaired += self.latent.repair(piece);
        }
    }

    /// Silent corruption of `block` (see [`FaultAction::SilentCorruption`]): its sectors of
    /// workload data hold poison where reads see them (the cached copy, else the media).
    pub(super) fn corrupt(&mut self, block: Extent) {
        for sector in block.sector..block.end() {
            let mut current = None;
            self.read_into(sector, 1, &mut |_, view| current = Some(view.content()));
            if !current.is_some_and(|c| is_workload_data(&c)) {
                continue;
            }
            self.fault_stats.corrupted_sectors += 1;
            let (page, index) = (
                sector / SECTORS_PER_PAGE,
                (sector % SECTORS_PER_PAGE) as usize,
            );
            let bad = SectorWrite::Content(poison(sector));
            match self.cache.as_mut() {
                Some(cache) if cache.get(page).is_some() => {
                    let cached = cache.get(page).cloned().flatten();
                    let damaged = merge_block(cached.as_ref(), index, index + 1, &|_| bad);
                    cache.replace_content(page, Some(damaged));
                }
                _ => self.store.write(sector, 1, &|_| bad),
            }
        }
    }

    /// The drive is pulled at `at_ns`: every IO in flight completes with EIO then (the model
    /// still holds some of them until it lets go; they change nothing).
    pub(super) fn vanish(&mut self, at_ns: u64) {
        debug_assert!(!self.gone, "a drive is pulled once");
        self.gone = true;
        self.fault_stats.disappeared_at_ns = Some(at_ns);
        let failing: Vec<u64> = self
            .inflight
            .iter()
            .filter(|(_, entry)| !entry.reported)
            .map(|(internal, _)| internal)
            .collect();
        for internal in failing {
            let entry = self
                .inflight
                .get_mut(internal)
                .expect("collected from inflight");
            entry.reported = true;
            let (tag, model_done) = (entry.io.tag, entry.model_done);
            self.finish_bookkeeping(internal, model_done);
            self.fail_gone(tag, at_ns);
        }
    }

    /// An IO of a pulled drive fails at `at_ns`.
    pub(super) fn fail_gone(&mut self, tag: u64, at_ns: u64) {
        self.stats.errors += 1;
        self.fault_stats.failed_by_disappearance += 1;
        self.ready.push_back(DeviceCompletion {
            tag,
            status: IoStatus::IoError,
            done_ns: at_ns,
        });
    }
}
