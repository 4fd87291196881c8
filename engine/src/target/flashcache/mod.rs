//! The flashcache target inside the engine: the adapter between dm core and the services on
//! one side and the sans-IO flashcache state machine ([`crate::flashcache`]) on the other.
//!
//! Owns: the target's life (setup IO, then running, or failed), bio pieces and their
//! flashcache bios, and the calling obligations of [`crate::flashcache`]: every
//! `Request::DmIo` is carried out with the services' dm_io (classic; timed when the
//! `ssd_timeout` option gave the request a deadline, Decision 12), every
//! `Request::KcopydCopy` with the target's one kcopyd client, `WakeWorker` by running the
//! worker in the engine's settle loop (after the events of the same round, as a work item
//! runs after the interrupt handlers that queued it), ticks via `poll_deadline`, and
//! `CompleteBio` back to dm core. Sub-modules: `execute` (requests to services and their
//! completions back), `page_pool` (reserved metadata and bounce pages), `message` (the text
//! of target messages), `observe` (idleness, deadlock report, invariants).
//!
//! Setup obligation: `Engine::new` only starts the constructor's IO (writeback create or
//! load: superblock probe, slots, superblock; writethrough and writearound need none). The
//! platform's first inputs carry it out. Bios that arrive meanwhile are admitted by dm core
//! and wait here, unsplit (a reloaded cache's block size is known only once its superblock
//! is read); when setup succeeds they are split at block boundaries and mapped in arrival
//! order, and when it fails they fail with `IoError` (so does every later bio). Messages are
//! refused until the target runs. [`FlashcacheState`] says where setup is.
//!
//! Deliberately not here: any cache decision (the state machine makes them all) and the
//! dm_io/kcopyd machinery (the services).

mod adapter_check;
mod execute;
mod message;
mod observe;
mod page_pool;

use crate::arena::Buffer;
use crate::block::{split_at_boundaries, BoundaryPieces};
use crate::block::{DeviceId, IoStatus, Op};
use crate::bounded::{LoopBound, ITEMS_PER_CALL_MAX};
use crate::config::AnomalyPolicy;
use crate::error::{Anomaly, EngineError};
use crate::flashcache::{
    self as fc, Flashcache, FlashcacheConfig, Phase, Setup, SetupError, SetupStatus,
};
use crate::services::dm_io::DmIoClientId;
use crate::services::kcopyd::{KcopydClientId, KcopydConfig};
use crate::services::{ServiceEvent, Services};
use crate::slab::{Slab, SlabKey};
use crate::target::io::BioKey;
use crate::target::io::TargetIo;
use execute::Outstanding;
use page_pool::PagePool;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The pid and tgid every bio is mapped with: engine bios carry no submitter, so the pid
/// lists see one process (blacklisting it makes every write uncacheable).
pub const BIO_PID: i32 = 1;

/// dm_io request slots of the target's client (flashcache creates its client with
/// `FLASHCACHE_COPY_PAGES` = 1024).
const DM_IO_MIN_IOS: u32 = 1024;

/// Which kcopyd generation the target's one kcopyd client is (specs/dm-io-kcopyd.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KcopydGeneration {
    /// The kernels flashcache targeted: 64 KiB sub-jobs, a pool of 1024 pages
    /// (`FLASHCACHE_COPY_PAGES`) taken from the arena at construction.
    #[default]
    Classic,
    /// Newer kernels: 512 KiB sub-jobs, pages from the arena with a small reserve.
    Modern,
    /// Any client configuration (the race explorer draws small pools and throttles, which
    /// no generation's defaults reach).
    Custom(KcopydConfig),
}

impl KcopydGeneration {
    /// The client configuration this generation stands for.
    pub fn config(self) -> KcopydConfig {
        match self {
            KcopydGeneration::Classic => KcopydConfig::classic(KcopydConfig::FLASHCACHE_POOL_PAGES),
            KcopydGeneration::Modern => KcopydConfig::modern(),
            KcopydGeneration::Custom(config) => config,
        }
    }
}

/// Where an engine's flashcache target is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlashcacheState {
    /// The constructor's metadata IO runs; bios wait.
    SettingUp,
    /// Serving bios (or removed: see [`Flashcache::phase`]).
    Running,
    /// Create or load failed; every bio fails with `IoError`.
    Failed(SetupError),
}

enum LifeStage {
    SettingUp(Box<Setup>),
    Running(Box<Flashcache>),
    Failed(SetupError),
}

impl std::fmt::Debug for LifeStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LifeStage::SettingUp(_) => write!(f, "SettingUp"),
            LifeStage::Running(fc) => write!(f, "Running({:?})", fc.phase()),
            LifeStage::Failed(error) => write!(f, "Failed({error})"),
        }
    }
}

/// A piece of a bio from dm core (never crossing a block boundary once the target runs).
#[derive(Debug, Clone)]
struct Piece {
    bio: BioKey,
    op: Op,
    sector: u64,
    sectors: u64,
    buffer: Buffer,
    /// Flashcache bios of this piece not yet completed (0 while it waits for setup).
    remaining: u32,
    status: IoStatus,
}

/// A bio as flashcache sees it: one block-bounded part of a piece. Its slab key is the
/// flashcache `BioId`.
#[derive(Debug, Clone)]
struct FcBio {
    piece: SlabKey,
    op: Op,
    buffer: Buffer,
    sectors: u64,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct FlashcacheTarget {
    ssd: DeviceId,
    disk: DeviceId,
    volume_sectors: u64,
    volume_block_sectors: u64,
    stage: LifeStage,
    dm_io_client: DmIoClientId,
    kcopyd_client: KcopydClientId,
    pool: PagePool,
    pieces: Slab<Piece>,
    fc_bios: Slab<FcBio>,
    /// Pieces that arrived during setup, in arrival order.
    setup_waiting: VecDeque<SlabKey>,
    /// dm_io and kcopyd requests in flight; the slab key is the services' `Caller`.
    outstanding: Slab<Outstanding>,
    /// dm_io requests waiting for reserved pages, in order.
    pool_waiting: VecDeque<fc::CacheDmIo>,
    /// Requests the services refused (an engine bug, recorded as an anomaly): completed as
    /// failed in the next settle round, never inline.
    refused: VecDeque<SlabKey>,
    worker_wanted: bool,
    /// What a broken calling obligation does (see [`AnomalyPolicy`]).
    anomaly_policy: AnomalyPolicy,
    /// Broken calling obligations seen at run time under [`AnomalyPolicy::Record`] (each a
    /// bug); reported by the invariants and [`crate::Engine::anomalies`].
    anomalies: Vec<Anomaly>,
    /// Cancelled SSD writes that completed after all (timed dm_io).
    late_writes: u64,
    /// What the invariant check after every input keeps between calls (a cell: the check
    /// reads the adapter while it updates this).
    adapter_check: std::cell::RefCell<adapter_check::AdapterCheck>,
}

impl FlashcacheTarget {
    /// Validates the devices and the configuration and starts the setup IO.
    pub fn new(
        ssd: DeviceId,
        disk: DeviceId,
        config: &FlashcacheConfig,
        kcopyd: KcopydGeneration,
        anomaly_policy: AnomalyPolicy,
        services: &mut Services,
    ) -> Result<FlashcacheTarget, EngineError> {
        let devices = services.devices();
        let device = |id: DeviceId| {
            devices
                .get(usize::from(id.0))
                .copied()
                .ok_or(EngineError::UnknownDevice {
                    device: id,
                    devices: devices.len(),
                })
        };
        let (ssd_info, disk_info) = (device(ssd)?, device(disk)?);
        let bad = |reason: String| Err(EngineError::BadTarget(format!("flashcache: {reason}")));
        if ssd == disk {
            return bad(format!("the SSD and the disk are the same device {ssd}"));
        }
        let table = &config.table;
        if table.target_sectors == 0 || table.target_sectors > disk_info.capacity_sectors {
            return bad(format!(
                "the table's length {} sectors must be in 1..={} (the disk's size)",
                table.target_sectors, disk_info.capacity_sectors
            ));
        }
        let reload =
            table.mode == fc::CacheMode::WriteBack && table.persistence == fc::Persistence::Reload;
        let block_bytes = u64::from(table.effective_block_size_sectors()) * 512;
        if !reload && block_bytes < u64::from(ssd_info.logical_block_size) {
            return bad(format!(
                "a {block_bytes}-byte cache block is smaller than the SSD's {}-byte logical block",
                ssd_info.logical_block_size
            ));
        }
        let info = fc::CacheDeviceSizes {
            ssd_sectors: ssd_info.capacity_sectors,
            disk_sectors: disk_info.capacity_sectors,
            ssd_logical_block_bytes: ssd_info.logical_block_size,
        };
        let setup = Setup::new(config.clone(), info, services.now_ns())
            .map_err(|error| EngineError::BadTarget(format!("flashcache: {error}")))?;
        let pool = PagePool::new(services.arena_mut()).ok_or_else(|| EngineError::BadConfig {
            field: "arena_pages",
            reason: format!(
                "flashcache reserves {} pages for metadata; the arena has {} free",
                page_pool::RESERVED_PAGES,
                services.arena().free_pages()
            ),
        })?;
        let kcopyd_client = services
            .kcopyd_client_create(kcopyd.config(), "flashcache")
            .map_err(|error| EngineError::BadConfig {
                field: "arena_pages",
                reason: format!("flashcache's kcopyd client: {error}"),
            })?;
        let dm_io_client = services.dm_io_client_create(DM_IO_MIN_IOS, "flashcache");
        let mut target = FlashcacheTarget {
            ssd,
            disk,
            volume_sectors: table.target_sectors,
            volume_block_sectors: disk_info.block_sectors(),
            stage: LifeStage::SettingUp(Box::new(setup)),
            dm_io_client,
            kcopyd_client,
            pool,
            pieces: Slab::new(),
            fc_bios: Slab::new(),
            setup_waiting: VecDeque::new(),
            outstanding: Slab::new(),
            pool_waiting: VecDeque::new(),
            refused: VecDeque::new(),
            worker_wanted: false,
            anomaly_policy,
            anomalies: Vec::new(),
            late_writes: 0,
            adapter_check: Default::default(),
        };
        let mut finished = Vec::new();
        target.pump(services, &mut finished);
        assert!(
            finished.is_empty(),
            "no bio can finish before the first one"
        );
        Ok(target)
    }

    pub fn volume_sectors(&self) -> u64 {
        self.volume_sectors
    }

    /// A broken calling obligation (an engine bug): panics with the adapter's state, or is
    /// recorded, as the engine's [`AnomalyPolicy`] says.
    fn anomaly(&mut self, description: String) {
        match self.anomaly_policy {
            AnomalyPolicy::Panic => panic!(
                "flashcache adapter anomaly: {description}\n  adapter state: {}",
                self.state_summary()
            ),
            AnomalyPolicy::Record => self.anomalies.push(Anomaly {
                component: "flashcache adapter",
                description,
            }),
        }
    }

    /// Reports `description` as an anomaly, for tests of the policy (no real anomaly can be
    /// provoked from outside: each is an engine bug).
    #[cfg(test)]
    pub(crate) fn inject_anomaly(&mut self, description: &str) {
        self.anomaly(description.to_string());
    }

    /// The anomalies recorded so far (always empty under [`AnomalyPolicy::Panic`]).
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }

    pub fn block_sectors(&self) -> u64 {
        self.volume_block_sectors
    }

    /// The cache block size once known (dm core splits at it); `None` during setup.
    pub fn max_io_len(&self) -> Option<u64> {
        match &self.stage {
            LifeStage::Running(fc) => Some(u64::from(fc.geometry().block_size_sectors)),
            LifeStage::SettingUp(_) | LifeStage::Failed(_) => None,
        }
    }

    /// The running state machine, for observation.
    pub fn flashcache(&self) -> Option<&Flashcache> {
        match &self.stage {
            LifeStage::Running(fc) => Some(fc),
            LifeStage::SettingUp(_) | LifeStage::Failed(_) => None,
        }
    }

    pub fn state(&self) -> FlashcacheState {
        match &self.stage {
            LifeStage::SettingUp(_) => FlashcacheState::SettingUp,
            LifeStage::Running(_) => FlashcacheState::Running,
            LifeStage::Failed(error) => FlashcacheState::Failed(error.clone()),
        }
    }

    // ------------------------------------------------------------------ bios

    /// dm core hands over a piece.
    pub fn map(
        &mut self,
        io: TargetIo,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) {
        let key = self.pieces.insert(Piece {
            bio: io.bio,
            op: io.op,
            sector: io.sector,
            sectors: io.sectors,
            buffer: io.buffer,
            remaining: 0,
            status: IoStatus::Ok,
        });
        match &self.stage {
            LifeStage::SettingUp(_) => self.setup_waiting.push_back(key),
            LifeStage::Running(_) => {
                self.map_piece(key, services, finished);
                self.pump(services, finished);
            }
            LifeStage::Failed(_) => {
                let piece = self.pieces.remove(key).expect("just inserted");
                finished.push((piece.bio, IoStatus::IoError));
            }
        }
    }

    /// Splits a piece at cache block boundaries and maps each part (`flashcache_map`).
    fn map_piece(
        &mut self,
        key: SlabKey,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) {
        let block_sectors = self
            .max_io_len()
            .expect("pieces are mapped only while running");
        let piece = self.pieces.get_mut(key).expect("live piece");
        let parts = if piece.op == Op::Flush {
            BoundaryPieces::from_slice(&[(0, 0)])
        } else {
            split_at_boundaries(piece.sector, piece.sectors, Some(block_sectors))
        };
        assert!(!parts.is_empty(), "a piece has at least one part");
        piece.remaining = parts.len() as u32;
        let (op, first_sector, buffer) = (piece.op, piece.sector, piece.buffer.clone());
        let now_ns = services.now_ns();
        for (skip, sectors) in parts {
            let part_buffer = match op {
                Op::Read | Op::Write => buffer.slice(skip, sectors),
                Op::Flush | Op::Discard => Buffer::empty(),
            };
            let id = self.fc_bios.insert(FcBio {
                piece: key,
                op,
                buffer: part_buffer,
                sectors,
            });
            let bio = fc::CacheBio {
                id: fc::CacheBioId(id.to_u64()),
                op,
                sector: first_sector + skip,
                sectors: u32::try_from(sectors).expect("a part is at most one cache block"),
                pid: BIO_PID,
                tgid: BIO_PID,
            };
            let LifeStage::Running(fc) = &mut self.stage else {
                unreachable!("pieces are mapped only while running");
            };
            if op != Op::Flush && services.buggify(crate::BuggifySite::ForceCleanNow) {
                fc.buggify_clean_now(bio.sector);
            }
            if op != Op::Flush && services.buggify(crate::BuggifySite::ExhaustJobPool) {
                fc.inject_errors(fc::ErrorInjection(
                    fc::ErrorInjection::READ_MISS_JOB_ALLOC_FAIL.0
                        | fc::ErrorInjection::WRITE_MISS_JOB_ALLOC_FAIL.0
                        | fc::ErrorInjection::WRITE_HIT_JOB_ALLOC_FAIL.0
                        | fc::ErrorInjection::READ_HIT_JOB_ALLOC_FAIL.0
                        | fc::ErrorInjection::DIRTY_WRITEBACK_JOB_ALLOC_FAIL.0
                        | fc::ErrorInjection::WRITES_LIST_ALLOC_FAIL.0,
                ));
            }
            if let Err(error) = fc.map(bio, now_ns) {
                // A removed or halted target fails new bios; a shape error is our bug.
                if !matches!(
                    error,
                    fc::CacheInputError::NotRunning { .. } | fc::CacheInputError::Halted { .. }
                ) {
                    self.anomaly(format!("flashcache refused {bio:?}: {error}"));
                }
                self.finish_fc_bio(id, IoStatus::IoError, services, finished);
            }
        }
    }

    /// A flashcache bio ended; its piece ends with the last of its parts.
    fn finish_fc_bio(
        &mut self,
        id: SlabKey,
        status: IoStatus,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) {
        let Some(part) = self.fc_bios.remove(id) else {
            self.anomaly(format!("flashcache completed unknown bio {}", id.to_u64()));
            return;
        };
        if !status.is_ok() && part.op == Op::Read {
            // Failed reads are zero-filled (deterministic), except sectors a zombie IO
            // still has in flight (dm core reads those as zeroes).
            let arena = services.arena_mut();
            let idle: Vec<_> = part
                .buffer
                .sector_slots(part.sectors)
                .filter(|&(page, index)| !arena.is_sector_in_flight(page, index))
                .collect();
            for (page, index) in idle {
                arena.set_sector(page, index, crate::content::SectorContent::Zero);
            }
        }
        let piece = self
            .pieces
            .get_mut(part.piece)
            .expect("a part's piece lives");
        piece.status = piece.status.worst(status);
        assert!(piece.remaining > 0, "piece part count underflow");
        piece.remaining -= 1;
        if piece.remaining == 0 {
            let piece = self.pieces.remove(part.piece).expect("live piece");
            finished.push((piece.bio, piece.status));
        }
    }

    // ------------------------------------------------------------------ driving

    /// Carries out everything the state machine asked for, and moves setup along.
    fn pump(&mut self, services: &mut Services, finished: &mut Vec<(BioKey, IoStatus)>) {
        // Setup advances at most from setting up to running or failed: two stage changes.
        let mut stages = LoopBound::new("flashcache adapter pump: setup stages", 3);
        let mut requests = LoopBound::new("flashcache adapter pump: requests", ITEMS_PER_CALL_MAX);
        loop {
            stages.round();
            loop {
                requests.round();
                let request = match &mut self.stage {
                    LifeStage::SettingUp(setup) => setup.poll_request(),
                    LifeStage::Running(fc) => fc.poll_request(),
                    LifeStage::Failed(_) => None,
                };
                let Some(request) = request else { break };
                match request {
                    fc::CacheRequest::DmIo(io) => self.start_dm_io(io, services),
                    fc::CacheRequest::KcopydCopy(copy) => self.start_kcopyd(copy, services),
                    fc::CacheRequest::CompleteBio { bio, status } => {
                        self.finish_fc_bio(SlabKey::from_u64(bio.0), status, services, finished)
                    }
                    fc::CacheRequest::WakeWorker => {
                        if self.worker_wanted {
                            self.anomaly("WakeWorker while the worker was scheduled".to_string());
                        }
                        self.worker_wanted = true;
                    }
                }
            }
            if !self.advance_setup(services, finished) {
                break;
            }
        }
        self.fail_all_if_halted(services, finished);
    }

    /// Ends setup when it is done; true if the stage changed.
    fn advance_setup(
        &mut self,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) -> bool {
        let LifeStage::SettingUp(setup) = &self.stage else {
            return false;
        };
        let outcome = match setup.status() {
            SetupStatus::InProgress => return false,
            SetupStatus::Ready | SetupStatus::Failed(_) => {
                let LifeStage::SettingUp(setup) = std::mem::replace(
                    &mut self.stage,
                    LifeStage::Failed(SetupError::Io {
                        what: "setup in transition",
                        sector: 0,
                    }),
                ) else {
                    unreachable!("matched above");
                };
                setup.finish()
            }
        };
        let waiting: Vec<SlabKey> = self.setup_waiting.drain(..).collect();
        // Leaving the queue changes what the pieces' invariants say (see `adapter_check`).
        for &key in &waiting {
            self.pieces.touch(key);
        }
        match outcome {
            Ok(mut fc) => {
                if let Some(check) = services.victim_index_check() {
                    fc.check_victims_against_walk(check.from_start);
                }
                fc.invalidation_always_scans = services.invalidation_scan();
                self.stage = LifeStage::Running(Box::new(fc));
                for key in waiting {
                    self.map_piece(key, services, finished);
                }
            }
            Err(error) => {
                self.stage = LifeStage::Failed(error);
                for key in waiting {
                    let piece = self.pieces.remove(key).expect("waiting piece lives");
                    finished.push((piece.bio, IoStatus::IoError));
                }
            }
        }
        true
    }

    /// A halted target (flashcache's VERIFY failed) completes nothing any more: its bios
    /// fail so the volume does not hang the run.
    fn fail_all_if_halted(
        &mut self,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) {
        let halted =
            matches!(&self.stage, LifeStage::Running(fc) if matches!(fc.phase(), Phase::Halted(_)));
        if halted {
            // Requests not yet started would only be refused by the halted machine.
            self.pool_waiting.clear();
            for key in self.fc_bios.keys() {
                self.finish_fc_bio(key, IoStatus::IoError, services, finished);
            }
        }
    }

    /// Deferred work of the settle loop: refused requests, requests waiting for pages, the
    /// worker. True if anything ran.
    pub fn run_deferred(
        &mut self,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) -> bool {
        let mut progress = self.fail_refused(services);
        progress |= self.start_pool_waiting(services);
        if self.worker_wanted {
            self.worker_wanted = false;
            progress = true;
            if let LifeStage::Running(fc) = &mut self.stage {
                if let Err(error) = fc.run_worker(services.now_ns()) {
                    if !matches!(error, fc::CacheInputError::Halted { .. }) {
                        self.anomaly(format!("run_worker: {error}"));
                    }
                }
            }
        }
        if progress {
            self.pump(services, finished);
        }
        progress
    }

    pub fn on_event(
        &mut self,
        event: ServiceEvent,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) {
        self.handle_event(event, services);
        self.pump(services, finished);
    }

    #[must_use]
    pub fn poll_deadline(&self) -> Option<u64> {
        match &self.stage {
            LifeStage::Running(fc) => fc.poll_deadline(),
            LifeStage::SettingUp(_) | LifeStage::Failed(_) => None,
        }
    }

    pub fn on_tick(&mut self, services: &mut Services, finished: &mut Vec<(BioKey, IoStatus)>) {
        let now_ns = services.now_ns();
        if let LifeStage::Running(fc) = &mut self.stage {
            if fc.poll_deadline().is_some_and(|at| at <= now_ns) {
                if let Err(error) = fc.tick(now_ns) {
                    if !matches!(error, fc::CacheInputError::Halted { .. }) {
                        self.anomaly(format!("tick: {error}"));
                    }
                }
            }
        }
        self.pump(services, finished);
    }
}
