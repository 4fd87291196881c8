//! Exact hit counts fast: the flashcache state machine ([`Flashcache`]) driven with instant
//! devices and no data, one request at a time (issue 11 item 2).
//!
//! Owns: the executor of the hit-counting mode. Every request of the trace is split at cache
//! block boundaries as dm core splits it, and every part is mapped in order, as the timed
//! engine maps one bio's pieces. Then the state machine's requests are carried out at once,
//! in the order the timed engine settles them: device IO completes oldest first (one
//! completion at a time, never failing, moving no bytes); the worker runs as soon as a
//! completion woke it, before the next completion (the engine runs a work item after the
//! interrupt that queued it); a completed bio is only counted. A request ends when nothing
//! is left in flight, so the next request finds the cache quiescent.
//!
//! Time does not pass: virtual time stays at 0, so nothing that waits for time runs (the
//! 1 s delayed cleaning pass, fallow cleaning, pid expiry, the `fallow_timer` option).
//! Cleaning that a request starts (dirty threshold, no room, a queued invalidation) runs to
//! its end within that request.
//!
//! How this relates to the timed `--qd 1` replay (proved by `sim/tests/hits_equal_timed.rs`):
//! - writethrough and writearound: every counter and gauge equal, whatever the devices'
//!   timing. A QD1 replay has one request in flight; its parts are distinct cache blocks,
//!   every lookup happens when the part is mapped (before any of its IO completes), and
//!   nothing of a request outlives its completion.
//! - writeback: equal when the timed run cleans no block (`cleanings == 0`) and the SSD
//!   completes the data writes of one request before the metadata write the first of them
//!   started (the `ssd-nvme` preset does at QD1). Cleaning — started by the dirty
//!   threshold, a set without room, a partial or uncacheable IO over a dirty block, the
//!   1 s delayed pass or fallow cleaning — is background work in the timed run: its copies
//!   run while later requests arrive (finding its blocks busy, its set's `clean_inprog`
//!   raised, its metadata writes batching with theirs), and the delayed pass and fallow
//!   cleaning fire as virtual time passes. Here a cleaning ends before the next request and
//!   no timer fires, so the counters cleaning touches may differ (metadata batching first,
//!   then through busy blocks also hits and replacements).
//!
//! Control messages ([`HitCounter::message`]) are carried out between requests, as a
//! request is. Deliberately not here: timing, data, faults, reload (a writeback cache
//! is created fresh, its setup IO carried out instantly without bytes).

use super::command::{parse, Command};
use super::config::{CacheDeviceSizes, FlashcacheConfig};
use super::instance::{CacheInputError, Flashcache};
use super::io::{CacheBio, CacheBioId, CacheIoTag, CacheRequest, DmIoOutcome};
use super::persist::{Setup, SetupError};
use super::stats::{FlashcacheErrors, FlashcacheStats, Gauges};
use crate::block::{IoStatus, Op};
use crate::bounded::{LoopBound, ITEMS_PER_CALL_MAX};
use std::collections::VecDeque;
use thiserror::Error;

/// The pid and tgid of every bio (as the engine's flashcache adapter maps them).
const BIO_PID: i32 = crate::BIO_PID;

/// Why the hit counter could not go on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HitsError {
    #[error("cannot set the cache up: {0}")]
    Setup(#[from] SetupError),
    #[error("the cache refused a bio: {0}")]
    Input(#[from] CacheInputError),
    #[error("message {text:?} refused: {reason}")]
    Message { text: String, reason: String },
    #[error(
        "a request of {sectors} sectors at sector {sector} lies beyond the volume's \
         {volume_sectors} sectors"
    )]
    BeyondVolume {
        sector: u64,
        sectors: u64,
        volume_sectors: u64,
    },
}

/// Bios completed, by status, over the whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BioCounts {
    pub ok: u64,
    pub failed: u64,
}

/// A device request in flight: what its completion needs, its tag. Kept instead of the
/// whole request (104 bytes): copying that through a second queue was a tenth of the CPU.
#[derive(Debug, Clone, Copy)]
enum InFlight {
    DmIo(CacheIoTag),
    Kcopyd(CacheIoTag),
}

/// See the module documentation.
#[derive(Debug)]
pub struct HitCounter {
    fc: Flashcache,
    /// Device requests in flight (dm_io and kcopyd), oldest first.
    in_flight: VecDeque<InFlight>,
    worker_wanted: bool,
    next_bio: u64,
    requests: u64,
    bios: BioCounts,
}

impl HitCounter {
    /// A new cache (writeback: created over blank metadata, its setup IO done instantly).
    pub fn new(
        config: FlashcacheConfig,
        devices: CacheDeviceSizes,
    ) -> Result<HitCounter, HitsError> {
        // A read finds the blank metadata the buffer already holds (zeroes): no cache.
        let fc = Setup::new(config, devices, 0)
            .map_err(SetupError::Config)?
            .run_on(&mut |_, _| {}, &mut |_, _| {})?;
        Ok(HitCounter {
            fc,
            in_flight: VecDeque::new(),
            worker_wanted: false,
            next_bio: 0,
            requests: 0,
            bios: BioCounts::default(),
        })
    }

    /// One request of the workload (a trace record): split at cache block boundaries,
    /// mapped part by part, then run until the cache is quiescent.
    pub fn request(&mut self, op: Op, sector: u64, sectors: u64) -> Result<(), HitsError> {
        let volume_sectors = self.fc.config().table.target_sectors;
        if sector
            .checked_add(sectors)
            .is_none_or(|end| end > volume_sectors)
        {
            return Err(HitsError::BeyondVolume {
                sector,
                sectors,
                volume_sectors,
            });
        }
        self.requests += 1;
        if op == Op::Flush {
            self.map(op, 0, 0)?;
        } else {
            let geometry = *self.fc.geometry();
            let block_sectors = u64::from(geometry.block_size_sectors);
            let mut done = 0;
            while done < sectors {
                let at = sector + done;
                // A mask, not `%`: the block size is a power of two (a division was a
                // tenth of this function's instructions).
                let len = (sectors - done).min(block_sectors - (at - geometry.block_start(at)));
                self.map(op, at, len)?;
                done += len;
            }
        }
        self.settle()
    }

    /// A control message (the flashcache target's grammar, [`super::command`]) between
    /// requests, carried out like a request: whatever it starts (a sync's cleaning) runs to
    /// its end. `remove` is refused: the counter has no stopped cache to report on.
    pub fn message(&mut self, text: &str) -> Result<(), HitsError> {
        let refused = |reason: String| HitsError::Message {
            text: text.to_string(),
            reason,
        };
        let command = parse(text).map_err(refused)?;
        if command == Command::Remove {
            return Err(refused("the hit-counting mode keeps its cache".to_string()));
        }
        self.fc
            .carry_out(command, 0)
            .map_err(|error| refused(error.to_string()))?;
        self.settle()
    }

    fn map(&mut self, op: Op, sector: u64, sectors: u64) -> Result<(), HitsError> {
        let bio = CacheBio {
            id: CacheBioId(self.next_bio),
            op,
            sector,
            sectors: u32::try_from(sectors).expect("a part is at most one cache block"),
            pid: BIO_PID,
            tgid: BIO_PID,
        };
        self.next_bio += 1;
        self.fc.map(bio, 0)?;
        Ok(())
    }

    /// Carry out everything the state machine asked for, until nothing is in flight.
    fn settle(&mut self) -> Result<(), HitsError> {
        let mut bound = LoopBound::new("HitCounter::settle", ITEMS_PER_CALL_MAX);
        loop {
            bound.round();
            self.collect();
            if self.worker_wanted {
                self.worker_wanted = false;
                self.fc.run_worker(0)?;
                continue;
            }
            match self.in_flight.pop_front() {
                Some(InFlight::DmIo(tag)) => self.fc.complete_dm_io(tag, DmIoOutcome::OK, 0)?,
                Some(InFlight::Kcopyd(tag)) => self.fc.complete_kcopyd(tag, false, 0, 0)?,
                None => return Ok(()),
            }
        }
    }

    /// Move the state machine's new requests to the in-flight list, count completed bios.
    fn collect(&mut self) {
        while let Some(request) = self.fc.poll_request() {
            match request {
                CacheRequest::DmIo(io) => self.in_flight.push_back(InFlight::DmIo(io.tag)),
                CacheRequest::KcopydCopy(copy) => {
                    self.in_flight.push_back(InFlight::Kcopyd(copy.tag))
                }
                CacheRequest::CompleteBio { status, .. } => {
                    if status == IoStatus::Ok {
                        self.bios.ok += 1;
                    } else {
                        self.bios.failed += 1;
                    }
                }
                CacheRequest::WakeWorker => {
                    assert!(
                        !self.worker_wanted,
                        "WakeWorker while the worker was scheduled"
                    );
                    self.worker_wanted = true;
                }
            }
        }
    }

    /// Requests run so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Bios (request parts) completed so far.
    pub fn bios(&self) -> BioCounts {
        self.bios
    }

    pub fn stats(&self) -> &FlashcacheStats {
        self.fc.stats()
    }

    pub fn errors(&self) -> &FlashcacheErrors {
        self.fc.errors()
    }

    pub fn gauges(&self) -> Gauges {
        self.fc.gauges()
    }

    /// The state machine, for observation.
    pub fn flashcache(&self) -> &Flashcache {
        &self.fc
    }

    /// From now on every victim is found through the victim index, whatever the set size
    /// (the blocks flashcache's walk would take, in O(log n)); by default only sets of
    /// `VICTIM_INDEX_MIN_ASSOC` ways and more switch to it, at their first long walk.
    pub fn choose_victims_by_index(&mut self) {
        self.fc
            .blocks
            .set_victim_index_mode(super::set::VictimIndexMode::Always);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flashcache::config::{Associativity, CacheMode, Persistence, TableLine};

    const DISK_SECTORS: u64 = 1 << 20;

    fn counter(mode: CacheMode) -> HitCounter {
        let mut table = TableLine::new(mode, Persistence::Create, DISK_SECTORS);
        table.assoc = Associativity::Ways(256);
        table.cache_size_sectors = 4096;
        let devices = CacheDeviceSizes {
            ssd_sectors: 8192,
            disk_sectors: DISK_SECTORS,
            ssd_logical_block_bytes: 512,
        };
        HitCounter::new(FlashcacheConfig::new(table), devices).expect("a valid cache")
    }

    #[test]
    fn a_request_is_split_into_blocks_and_the_second_read_hits() {
        for mode in [
            CacheMode::WriteBack,
            CacheMode::WriteThrough,
            CacheMode::WriteAround,
        ] {
            let mut hits = counter(mode);
            // Sectors 4..28: a partial block, two whole blocks, a partial block.
            hits.request(Op::Read, 4, 24).expect("mapped");
            hits.request(Op::Read, 8, 16).expect("mapped");
            let stats = hits.stats();
            assert_eq!((stats.reads, stats.read_hits), (6, 2), "{mode:?}");
            assert_eq!(stats.uncached_reads, 2, "{mode:?}: the partial blocks");
            assert_eq!(hits.bios(), BioCounts { ok: 6, failed: 0 });
            assert_eq!(hits.requests(), 2);
            assert!(
                hits.flashcache().is_idle(),
                "{mode:?}: quiescent between requests"
            );
        }
    }

    #[test]
    fn victims_through_the_index_are_the_walks() {
        for mode in [CacheMode::WriteBack, CacheMode::WriteThrough] {
            let mut walked = counter(mode);
            let mut indexed = counter(mode);
            indexed.choose_victims_by_index();
            // 512 cached blocks in 2 sets of 256 ways; 2,000 requests over 1,024 blocks
            // (a fixed stride walk) keep both sets full and replacing.
            for i in 0..2_000u64 {
                let block = (i * 389) % 1_024;
                let op = if i % 3 == 0 { Op::Write } else { Op::Read };
                walked.request(op, block * 8, 8).expect("mapped");
                indexed.request(op, block * 8, 8).expect("mapped");
            }
            assert!(walked.stats().replace > 100, "{mode:?}: replacing");
            assert_eq!(walked.stats(), indexed.stats(), "{mode:?}");
            for block in 0..1_024u64 {
                assert_eq!(
                    walked.flashcache().find_block(block * 8),
                    indexed.flashcache().find_block(block * 8),
                    "{mode:?}: block {block}"
                );
            }
        }
    }

    #[test]
    fn writeback_write_is_dirty_when_the_request_returns() {
        let mut hits = counter(CacheMode::WriteBack);
        hits.request(Op::Write, 64, 8).expect("mapped");
        assert_eq!(hits.gauges().nr_dirty, 1);
        assert_eq!(hits.stats().md_write_dirty, 1);
    }

    #[test]
    fn a_request_beyond_the_volume_is_refused() {
        let mut hits = counter(CacheMode::WriteThrough);
        let error = hits
            .request(Op::Read, DISK_SECTORS - 4, 8)
            .expect_err("beyond the end");
        assert!(matches!(error, HitsError::BeyondVolume { .. }), "{error}");
        assert_eq!(hits.requests(), 0);
    }

    #[test]
    fn messages_are_carried_out_between_requests() {
        let mut hits = counter(CacheMode::WriteBack);
        hits.request(Op::Write, 64, 8).expect("mapped");
        hits.message("do_sync").expect("a sync");
        assert_eq!(
            hits.gauges().nr_dirty,
            0,
            "the sync's cleaning ran to its end"
        );
        assert!(hits.stats().cleanings >= 1);

        // Only whitelisted pids are cached once cache_all is off.
        hits.message("set cache_all 0").expect("a sysctl");
        hits.request(Op::Read, 800, 8).expect("mapped");
        hits.request(Op::Read, 800, 8).expect("mapped");
        assert_eq!(hits.stats().read_hits, 0, "neither read was cached");
        hits.message(&format!("whitelist add {BIO_PID}"))
            .expect("a pid list");
        hits.request(Op::Read, 800, 8).expect("mapped");
        hits.request(Op::Read, 800, 8).expect("mapped");
        assert_eq!(hits.stats().read_hits, 1, "cached again once whitelisted");
    }

    #[test]
    fn remove_and_unknown_messages_are_refused() {
        let mut hits = counter(CacheMode::WriteThrough);
        for text in ["remove", "set no_such_sysctl 1"] {
            let error = hits.message(text).expect_err(text);
            assert!(matches!(error, HitsError::Message { .. }), "{error}");
            assert!(error.to_string().contains(text), "{error}");
        }
        hits.request(Op::Read, 0, 8).expect("still running");
    }
}
