//! A tiny scripted executor for the flashcache state machine: devices holding per-sector
//! contents (data versions, or real bytes for metadata), bios with buffers, a policy for
//! the order in which outstanding requests complete, device faults, and an oracle of the
//! volume's contents that checks every read and every acknowledged write.

use crate::block::{IoStatus, Op};
use crate::flashcache::config::{
    Associativity, CacheDeviceSizes, CacheMode, FlashcacheConfig, Persistence, TableLine,
};
use crate::flashcache::instance::Flashcache;
use crate::flashcache::io::{
    CacheBio, CacheBioId, CacheBuffer, CacheDmIo, CacheIoTag, CacheRequest, Device, DmIoOutcome,
    IoOp, KcopydRequest,
};
use crate::flashcache::persist::{Setup, SetupError};
use crate::flashcache::set::Blocks;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// What one 512-byte sector of a simulated device holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sector {
    /// Workload data: the version (write id) that produced it.
    Data(u64),
    /// Real bytes (metadata).
    Bytes(Vec<u8>),
}

/// A device: sparse sectors, unwritten ones read as zero / version 0.
#[derive(Debug, Clone, Default)]
pub struct Store {
    pub sectors: BTreeMap<u64, Sector>,
}

impl Store {
    pub fn version(&self, sector: u64) -> u64 {
        match self.sectors.get(&sector) {
            Some(Sector::Data(version)) => *version,
            _ => 0,
        }
    }
    pub fn read_bytes(&self, sector: u64, out: &mut [u8]) {
        match self.sectors.get(&sector) {
            Some(Sector::Bytes(bytes)) => out.copy_from_slice(bytes),
            _ => out.fill(0),
        }
    }
    pub fn write_bytes(&mut self, sector: u64, bytes: &[u8]) {
        self.sectors.insert(sector, Sector::Bytes(bytes.to_vec()));
    }
}

/// A device fault: the next `count` requests matching fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub device: Device,
    /// Read or Write (a kcopyd copy reads its source and writes its destination).
    pub op: IoOp,
    pub count: u32,
}

/// In which order outstanding requests complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Oldest first, worker run as soon as woken.
    Fifo,
    /// A pseudo-random outstanding request (or the worker) next, from a seed.
    Shuffled(u64),
}

#[derive(Debug, Clone)]
struct HarnessBio {
    bio: CacheBio,
    /// Data versions per sector of the bio's pages.
    pages: Vec<u64>,
    submitted_at: u64,
    status: Option<IoStatus>,
}

/// One write to a volume sector, for the oracle.
#[derive(Debug, Clone, Copy)]
struct WriteRecord {
    version: u64,
    submitted: u64,
    completed: Option<u64>,
    ok: bool,
}

/// Per volume sector: every write it saw (version 0 = the initial content).
#[derive(Debug, Clone)]
struct SectorTruth {
    writes: Vec<WriteRecord>,
}

impl Default for SectorTruth {
    fn default() -> Self {
        SectorTruth {
            writes: vec![WriteRecord {
                version: 0,
                submitted: 0,
                completed: Some(0),
                ok: true,
            }],
        }
    }
}

impl SectorTruth {
    /// May a read submitted at `start` and completed at `end` return `version`? Yes if some
    /// write of that version began before the read ended and was not certainly overwritten
    /// before the read began (by a successful write submitted after it had completed).
    fn allows(&self, version: u64, start: u64, end: u64) -> bool {
        self.writes.iter().any(|w| {
            w.version == version
                && w.submitted < end
                && !self.writes.iter().any(|later| {
                    later.ok
                        && later.completed.is_some_and(|done| done < start)
                        && w.completed.is_some_and(|done| later.submitted > done)
                })
        })
    }

    /// The version of the latest successful write, if no other write could still land.
    fn settled(&self) -> Option<u64> {
        let last_ok = self
            .writes
            .iter()
            .filter(|w| w.ok)
            .max_by_key(|w| w.completed)?;
        let undecided = self.writes.iter().any(|w| {
            w.version != last_ok.version
                && (w.completed.is_none()
                    || (!w.ok && w.completed.unwrap_or(0) > last_ok.submitted)
                    || (w.ok && w.completed.unwrap_or(0) > last_ok.submitted))
        });
        (!undecided).then_some(last_ok.version)
    }
}

/// The executor plus the oracle.
pub struct Harness {
    pub fc: Flashcache,
    pub ssd: Store,
    pub disk: Store,
    pub now_ns: u64,
    pub order: Order,
    pub faults: Vec<Fault>,
    outstanding: Vec<CacheRequest>,
    worker_wanted: bool,
    bios: BTreeMap<CacheBioId, HarnessBio>,
    truth: BTreeMap<u64, SectorTruth>,
    next_bio: u64,
    clock: u64,
    /// Picks among outstanding requests in shuffled order (seeded, so runs repeat).
    rng: ChaCha8Rng,
    /// Every request the target emitted, for tests that look at the IO pattern.
    pub log: Vec<CacheRequest>,
    pub check_invariants: bool,
    /// The blocks as of the last check, to prove that every set changed since was marked
    /// for the incremental check (`None` before the first check).
    checked_blocks: Option<Blocks>,
    /// (device, first sector, end sector) of every zombie write still running: a new write
    /// overlapping one is refused, as the simulator's strict device check does.
    zombie_writes: Vec<(Device, u64, u64)>,
}

/// A timed request cancelled while running (see [`Harness::complete_as_zombie`]): what it
/// would still write if it landed.
#[derive(Debug, Clone)]
pub struct Zombie {
    pub io: CacheDmIo,
    landing: Vec<(Device, u64, Sector)>,
}

pub const SSD_SECTORS: u64 = 4200;
pub const DISK_SECTORS: u64 = 1 << 20;

pub fn devices() -> CacheDeviceSizes {
    CacheDeviceSizes {
        ssd_sectors: SSD_SECTORS,
        disk_sectors: DISK_SECTORS,
        ssd_logical_block_bytes: 512,
    }
}

/// A config of two 256-way sets (512 blocks) over a 512 MiB disk.
pub fn small_config(mode: CacheMode) -> FlashcacheConfig {
    let mut table = TableLine::new(mode, Persistence::Create, DISK_SECTORS);
    table.assoc = Associativity::Ways(256);
    FlashcacheConfig::new(table)
}

/// Drive a setup to completion against `ssd`.
pub fn run_setup(
    config: FlashcacheConfig,
    ssd: &mut Store,
    now_ns: u64,
) -> Result<Flashcache, SetupError> {
    run_setup_on(config, devices(), ssd, now_ns).map(|(fc, _)| fc)
}

/// Drive a setup to completion against `ssd`; also returns the bulk requests' sizes.
pub fn run_setup_on(
    config: FlashcacheConfig,
    devices: CacheDeviceSizes,
    ssd: &mut Store,
    now_ns: u64,
) -> Result<(Flashcache, Vec<u64>), SetupError> {
    // Both callbacks record sizes and reach the store, one at a time.
    let sizes = RefCell::new(Vec::new());
    let ssd = RefCell::new(ssd);
    let fc = Setup::new(config, devices, now_ns)
        .map_err(SetupError::Config)?
        .run_on(
            &mut |sector, bytes| {
                sizes.borrow_mut().push(bytes.len() as u64 / 512);
                for (i, chunk) in bytes.chunks_mut(512).enumerate() {
                    ssd.borrow_mut().read_bytes(sector + i as u64, chunk);
                }
            },
            &mut |sector, bytes| {
                sizes.borrow_mut().push(bytes.len() as u64 / 512);
                for (i, chunk) in bytes.chunks(512).enumerate() {
                    ssd.borrow_mut().write_bytes(sector + i as u64, chunk);
                }
            },
        )?;
    Ok((fc, sizes.into_inner()))
}

impl Harness {
    /// A new cache on blank devices.
    pub fn new(config: FlashcacheConfig) -> Harness {
        let mut ssd = Store::default();
        let fc = run_setup(config, &mut ssd, 0).expect("setup succeeds");
        Harness::with(fc, ssd, Store::default(), 0)
    }

    pub fn with(fc: Flashcache, ssd: Store, disk: Store, now_ns: u64) -> Harness {
        Harness {
            fc,
            ssd,
            disk,
            now_ns,
            order: Order::Fifo,
            faults: Vec::new(),
            outstanding: Vec::new(),
            worker_wanted: false,
            bios: BTreeMap::new(),
            truth: BTreeMap::new(),
            next_bio: 1,
            clock: 0,
            rng: ChaCha8Rng::seed_from_u64(0),
            log: Vec::new(),
            check_invariants: true,
            checked_blocks: None,
            zombie_writes: Vec::new(),
        }
    }

    pub fn shuffled(mut self, seed: u64) -> Harness {
        self.order = Order::Shuffled(seed);
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        self
    }

    fn tick_clock(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn random(&mut self, bound: usize) -> usize {
        (self.rng.next_u64() % bound.max(1) as u64) as usize
    }

    /// Submit a bio; returns its id. Writes carry a fresh version in every sector.
    pub fn submit(&mut self, op: Op, sector: u64, sectors: u32) -> CacheBioId {
        self.submit_as(op, sector, sectors, 100, 100)
    }

    pub fn submit_as(
        &mut self,
        op: Op,
        sector: u64,
        sectors: u32,
        pid: i32,
        tgid: i32,
    ) -> CacheBioId {
        let id = CacheBioId(self.next_bio);
        self.next_bio += 1;
        let bio = CacheBio {
            id,
            op,
            sector,
            sectors,
            pid,
            tgid,
        };
        let now = self.tick_clock();
        let pages = if op == Op::Write {
            vec![id.0; sectors as usize]
        } else {
            vec![0; sectors as usize]
        };
        if op == Op::Write {
            for s in sector..sector + u64::from(sectors) {
                self.truth.entry(s).or_default().writes.push(WriteRecord {
                    version: id.0,
                    submitted: now,
                    completed: None,
                    ok: false,
                });
            }
        }
        self.bios.insert(
            id,
            HarnessBio {
                bio,
                pages,
                submitted_at: now,
                status: None,
            },
        );
        self.fc.map(bio, self.now_ns).expect("bio accepted");
        self.collect();
        id
    }

    /// Move the target's requests to the outstanding list; bio completions are checked at
    /// once.
    pub fn collect(&mut self) {
        while let Some(request) = self.fc.poll_request() {
            self.log.push(request);
            match request {
                CacheRequest::CompleteBio { bio, status } => self.bio_done(bio, status),
                CacheRequest::WakeWorker => {
                    assert!(!self.worker_wanted, "WakeWorker while already scheduled");
                    self.worker_wanted = true;
                }
                CacheRequest::DmIo(io) => {
                    if io.op == IoOp::Write {
                        for region in io.regions.as_slice() {
                            self.assert_no_zombie_under(region.device, region.sector, region.end());
                        }
                    }
                    self.outstanding.push(request)
                }
                CacheRequest::KcopydCopy(copy) => {
                    self.assert_no_zombie_under(copy.to.device, copy.to.sector, copy.to.end());
                    self.outstanding.push(request)
                }
            }
        }
        if self.check_invariants {
            self.fc.check_invariants();
            // Every change since the last check was marked: the incremental check
            // below, which looks only at marked blocks, sets and buckets, would have seen it.
            if let Some(before) = &self.checked_blocks {
                self.fc.blocks.assert_unmarked_unchanged(before);
            }
            self.fc.check_invariants_incremental();
            self.checked_blocks = Some(self.fc.blocks.clone());
        }
    }

    fn assert_no_zombie_under(&self, device: Device, start: u64, end: u64) {
        assert!(
            !self
                .zombie_writes
                .iter()
                .any(|&(d, s, e)| d == device && s < end && start < e),
            "overlapping write: {device:?} {start}..{end} while a zombie write runs there \
             (zombies {:?})",
            self.zombie_writes
        );
    }

    /// Complete outstanding request `position` as an executor does when its timed SSD IO
    /// was cancelled while running (option `ssd_timeout`): every region failed, nothing has
    /// landed yet, and the device may still carry it out until [`Harness::end_zombie`].
    pub fn complete_as_zombie(&mut self, position: usize) -> Zombie {
        let CacheRequest::DmIo(io) = self.outstanding.remove(position) else {
            panic!("only a dm_io request can leave a zombie");
        };
        assert!(io.timeout_ns.is_some(), "only timed IO is cancelled");
        let mut landing = Vec::new();
        if io.op == IoOp::Write {
            for region in io.regions.as_slice() {
                self.zombie_writes
                    .push((region.device, region.sector, region.end()));
                for (i, sector) in (region.sector..region.end()).enumerate() {
                    let content = match io.buffer {
                        CacheBuffer::Bio(bio) => Sector::Data(self.bios[&bio].pages[i]),
                        CacheBuffer::Meta(buffer) => {
                            let bytes = self.fc.meta_buffer(buffer).expect("live buffer");
                            Sector::Bytes(bytes[i * 512..(i + 1) * 512].to_vec())
                        }
                        CacheBuffer::None => panic!("a write without data"),
                    };
                    landing.push((region.device, sector, content));
                }
            }
        }
        let failed_all = (1u64 << io.regions.as_slice().len()) - 1;
        self.fc
            .complete_dm_io(
                io.tag,
                DmIoOutcome {
                    error_bits: failed_all,
                    zombie_io: true,
                },
                self.now_ns,
            )
            .expect("completion accepted");
        self.collect();
        Zombie { io, landing }
    }

    /// The zombie ends: if `landed`, what it carried reaches the devices first (stale by
    /// now), then the target hears of the end.
    pub fn end_zombie(&mut self, zombie: Zombie, landed: bool) {
        for region in zombie.io.regions.as_slice() {
            if zombie.io.op == IoOp::Write {
                let range = (region.device, region.sector, region.end());
                let position = self
                    .zombie_writes
                    .iter()
                    .position(|&r| r == range)
                    .expect("a running zombie write");
                self.zombie_writes.remove(position);
            }
        }
        if landed {
            for (device, sector, content) in zombie.landing {
                self.store_mut(device).sectors.insert(sector, content);
            }
        }
        self.fc
            .zombie_ended(zombie.io.tag, self.now_ns)
            .expect("zombie end accepted");
        self.collect();
    }

    fn bio_done(&mut self, id: CacheBioId, status: IoStatus) {
        let now = self.tick_clock();
        let record = self.bios.get_mut(&id).expect("known bio");
        assert!(record.status.is_none(), "bio {id:?} completed twice");
        record.status = Some(status);
        let record = record.clone();
        let bio = record.bio;
        match bio.op {
            Op::Write => {
                for s in bio.sector..bio.sector + u64::from(bio.sectors) {
                    let truth = self.truth.entry(s).or_default();
                    let write = truth
                        .writes
                        .iter_mut()
                        .find(|w| w.version == id.0)
                        .expect("write recorded at submit");
                    write.completed = Some(now);
                    write.ok = status == IoStatus::Ok;
                }
            }
            Op::Read if status == IoStatus::Ok => {
                for (i, s) in (bio.sector..bio.sector + u64::from(bio.sectors)).enumerate() {
                    let got = record.pages[i];
                    let truth = self.truth.get(&s).cloned().unwrap_or_default();
                    assert!(
                        truth.allows(got, record.submitted_at, now),
                        "stale read: bio {id:?} sector {s} returned version {got}; writes {:?}",
                        truth.writes
                    );
                }
            }
            _ => {}
        }
    }

    pub fn status_of(&self, id: CacheBioId) -> Option<IoStatus> {
        self.bios[&id].status
    }

    /// Versions a completed read returned.
    pub fn read_pages(&self, id: CacheBioId) -> Vec<u64> {
        self.bios[&id].pages.clone()
    }

    pub fn outstanding(&self) -> &[CacheRequest] {
        &self.outstanding
    }

    pub fn worker_wanted(&self) -> bool {
        self.worker_wanted
    }

    pub fn run_worker(&mut self) {
        self.worker_wanted = false;
        self.fc.run_worker(self.now_ns).expect("worker runs");
        self.collect();
    }

    fn take_fault(&mut self, device: Device, op: IoOp) -> bool {
        if let Some(fault) = self
            .faults
            .iter_mut()
            .find(|f| f.device == device && f.op == op && f.count > 0)
        {
            fault.count -= 1;
            return true;
        }
        false
    }

    /// Complete outstanding request number `position`.
    pub fn complete_at(&mut self, position: usize) {
        let request = self.outstanding.remove(position);
        match request {
            CacheRequest::DmIo(io) => self.perform_dm_io(io),
            CacheRequest::KcopydCopy(copy) => self.perform_copy(copy),
            _ => unreachable!(),
        }
        self.collect();
    }

    fn store_mut(&mut self, device: Device) -> &mut Store {
        match device {
            Device::Ssd => &mut self.ssd,
            Device::Disk => &mut self.disk,
        }
    }

    fn perform_dm_io(&mut self, io: CacheDmIo) {
        let mut error_bits = 0u64;
        for (bit, region) in io.regions.as_slice().iter().enumerate() {
            let op = match io.op {
                IoOp::Read => IoOp::Read,
                _ => IoOp::Write,
            };
            if self.take_fault(region.device, op) {
                error_bits |= 1 << bit;
                continue;
            }
            match (io.op, io.buffer) {
                (IoOp::Read, CacheBuffer::Bio(bio)) => {
                    let versions: Vec<u64> = (region.sector..region.end())
                        .map(|s| match region.device {
                            Device::Ssd => self.ssd.version(s),
                            Device::Disk => self.disk.version(s),
                        })
                        .collect();
                    self.bios.get_mut(&bio).expect("bio").pages = versions;
                }
                (IoOp::Write, CacheBuffer::Bio(bio)) => {
                    let pages = self.bios[&bio].pages.clone();
                    assert_eq!(pages.len() as u64, region.sectors, "bio buffer vs region");
                    let store = self.store_mut(region.device);
                    for (i, version) in pages.into_iter().enumerate() {
                        store
                            .sectors
                            .insert(region.sector + i as u64, Sector::Data(version));
                    }
                }
                (IoOp::Write, CacheBuffer::Meta(buffer)) => {
                    let bytes = self.fc.meta_buffer(buffer).expect("live buffer").to_vec();
                    assert_eq!(bytes.len() as u64, region.sectors * 512);
                    for (i, chunk) in bytes.chunks(512).enumerate() {
                        self.store_mut(region.device)
                            .write_bytes(region.sector + i as u64, chunk);
                    }
                }
                (IoOp::Read, CacheBuffer::Meta(buffer)) => {
                    let mut bytes = vec![0u8; region.sectors as usize * 512];
                    for (i, chunk) in bytes.chunks_mut(512).enumerate() {
                        self.ssd.read_bytes(region.sector + i as u64, chunk);
                    }
                    self.fc
                        .meta_buffer_mut(buffer)
                        .expect("live buffer")
                        .copy_from_slice(&bytes);
                }
                (IoOp::Discard, _) => {
                    let store = self.store_mut(region.device);
                    for s in region.sector..region.end() {
                        store.sectors.remove(&s);
                    }
                }
                (IoOp::Flush, CacheBuffer::None) => {}
                other => panic!("unexpected dm_io shape {other:?}"),
            }
        }
        self.fc
            .complete_dm_io(
                io.tag,
                DmIoOutcome {
                    error_bits,
                    zombie_io: false,
                },
                self.now_ns,
            )
            .expect("completion accepted");
    }

    fn perform_copy(&mut self, copy: KcopydRequest) {
        assert_eq!(copy.from.sectors, copy.to.sectors);
        let read_error = self.take_fault(copy.from.device, IoOp::Read);
        let mut write_bits = 0;
        if !read_error {
            if self.take_fault(copy.to.device, IoOp::Write) {
                write_bits = 1;
            } else {
                for i in 0..copy.from.sectors {
                    let content = match copy.from.device {
                        Device::Ssd => self.ssd.sectors.get(&(copy.from.sector + i)).cloned(),
                        Device::Disk => self.disk.sectors.get(&(copy.from.sector + i)).cloned(),
                    };
                    let store = self.store_mut(copy.to.device);
                    match content {
                        Some(content) => {
                            store.sectors.insert(copy.to.sector + i, content);
                        }
                        None => {
                            store.sectors.remove(&(copy.to.sector + i));
                        }
                    }
                }
            }
        }
        self.fc
            .complete_kcopyd(copy.tag, read_error, write_bits, self.now_ns)
            .expect("completion accepted");
    }

    /// One scheduling step: run the worker or complete one request. False when idle.
    pub fn step(&mut self) -> bool {
        let choices = self.outstanding.len() + usize::from(self.worker_wanted);
        if choices == 0 {
            return false;
        }
        match self.order {
            Order::Fifo => {
                if self.worker_wanted {
                    self.run_worker();
                } else {
                    self.complete_at(0);
                }
            }
            Order::Shuffled(_) => {
                let pick = self.random(choices);
                if pick == self.outstanding.len() {
                    self.run_worker();
                } else {
                    self.complete_at(pick);
                }
            }
        }
        true
    }

    /// Complete requests (FIFO) and run the worker, leaving requests matching `hold` out.
    pub fn settle_except(&mut self, hold: impl Fn(&CacheRequest) -> bool) {
        loop {
            if self.worker_wanted {
                self.run_worker();
                continue;
            }
            match self.outstanding.iter().position(|r| !hold(r)) {
                Some(position) => self.complete_at(position),
                None => break,
            }
        }
    }

    /// Steps until nothing is outstanding (timers are not run).
    pub fn settle(&mut self) {
        let mut steps = 0;
        while self.step() {
            steps += 1;
            assert!(steps < 1_000_000, "no progress");
        }
    }

    /// Advance virtual time to `now_ns`, running due timers, then settle.
    pub fn advance_to(&mut self, now_ns: u64) {
        loop {
            match self.fc.poll_deadline() {
                Some(deadline) if deadline <= now_ns => {
                    self.now_ns = self.now_ns.max(deadline);
                    self.fc.tick(self.now_ns).expect("tick");
                    self.collect();
                    self.settle();
                }
                _ => break,
            }
        }
        self.now_ns = now_ns;
        self.settle();
    }

    /// Submit, settle, and return the status.
    pub fn io(&mut self, op: Op, sector: u64, sectors: u32) -> IoStatus {
        let id = self.submit(op, sector, sectors);
        self.settle();
        self.status_of(id).expect("bio completed after settle")
    }

    /// Read a whole block through the target and return the versions.
    pub fn read_block(&mut self, sector: u64) -> Vec<u64> {
        let block = u32::from(self.fc.geometry().block_size_sectors as u16);
        let id = self.submit(Op::Read, sector, block);
        self.settle();
        assert_eq!(
            self.status_of(id),
            Some(IoStatus::Ok),
            "read of {sector} failed"
        );
        self.read_pages(id)
    }

    /// The version a volume sector must now hold, if no failed or in-flight write makes
    /// it undecided.
    pub fn settled(&self, sector: u64) -> Option<u64> {
        self.truth.get(&sector).map_or(Some(0), |t| t.settled())
    }

    /// Every volume sector ever written, with the version it must hold (None: undecided).
    pub fn written_sectors(&self) -> Vec<(u64, Option<u64>)> {
        self.truth.iter().map(|(&s, t)| (s, t.settled())).collect()
    }

    /// Requests of the log matching a predicate.
    pub fn count_log(&self, predicate: impl Fn(&CacheRequest) -> bool) -> usize {
        self.log.iter().filter(|r| predicate(r)).count()
    }

    /// Crash (or stop after a remove) and bring the cache back with `load` run against the
    /// SSD: outstanding requests are lost (never completed), the devices keep what had
    /// landed, and the oracle carries on (unfinished writes stay possible values).
    pub fn restart(
        self,
        load: impl FnOnce(&mut Store) -> Result<Flashcache, SetupError>,
    ) -> Result<Harness, SetupError> {
        let mut ssd = self.ssd;
        let fc = load(&mut ssd)?;
        Ok(Harness {
            fc,
            ssd,
            disk: self.disk,
            now_ns: self.now_ns,
            order: self.order,
            faults: Vec::new(),
            outstanding: Vec::new(),
            worker_wanted: false,
            bios: self.bios,
            truth: self.truth,
            next_bio: self.next_bio,
            clock: self.clock,
            rng: self.rng,
            log: Vec::new(),
            check_invariants: self.check_invariants,
            // A new instance: its first incremental check is a full one.
            checked_blocks: None,
            // Power is gone: a zombie either landed before (see `end_zombie`) or never will.
            zombie_writes: Vec::new(),
        })
    }

    /// Run a remove to completion.
    pub fn remove(&mut self) {
        self.fc.remove(self.now_ns).expect("remove starts");
        self.collect();
        let mut rounds = 0;
        while !matches!(
            self.fc.phase(),
            crate::flashcache::instance::Phase::Stopped(_)
        ) {
            self.settle();
            if let Some(deadline) = self.fc.poll_deadline() {
                self.now_ns = self.now_ns.max(deadline);
                self.fc.tick(self.now_ns).expect("tick");
                self.collect();
            }
            rounds += 1;
            assert!(
                rounds < 10_000,
                "remove does not finish: {:?}",
                self.fc.phase()
            );
        }
    }
}

/// Convenience: is this request a dm_io on `device` with `op`?
pub fn is_io(request: &CacheRequest, device: Device, op: IoOp) -> bool {
    matches!(request, CacheRequest::DmIo(io) if io.op == op
        && io.regions.as_slice().iter().any(|r| r.device == device))
}

/// Is this request a metadata write?
pub fn is_md_write(request: &CacheRequest) -> bool {
    matches!(
        request,
        CacheRequest::DmIo(CacheDmIo {
            tag: CacheIoTag::MdWrite(_),
            ..
        })
    )
}
