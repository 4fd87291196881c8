//! Counter oracles (issue 9 item 7): a target's counters must agree with each other, with
//! its status (the named counters and the `dmsetup status` text) and with the IO the checker
//! saw the engine take in and submit. A wrong counter hurts no data, so the data oracle never
//! sees one; these identities do.
//!
//! Checked only while the engine is idle (a segment's end, the run's end): in flight, a
//! counter bumped when an IO is issued legitimately runs ahead of the one bumped when it ends.
//! Each identity follows from where the engine bumps its counters (named at each); none pins
//! a value, so a correct engine passes it with any seed.
//!
//! Deliberately not here: counting itself (the [`IoCounts`] live in the checker).

use crate::resync::ResyncBound;
use crate::spec::{raid5_geometry, SeedSpec, TargetChoice};
use crate::tag_table::TagTable;
use dmsim_engine::block::{DeviceId, DeviceInfo, Op};
use dmsim_engine::flashcache::{CacheMode, ErrorInjection, ReclaimPolicy};
use dmsim_engine::io::{Bio, Input, Output};
use dmsim_engine::raid5::Geometry;
use dmsim_engine::{Engine, TargetStatus};
use std::collections::{BTreeMap, BTreeSet};

/// What the checker saw of one engine's life (reset when the engine is rebuilt).
#[derive(Debug, Default, Clone)]
pub struct IoCounts {
    /// Device IOs submitted and not yet completed.
    in_flight: TagTable<(DeviceId, Op, u64)>,
    /// Device IOs submitted, per device and op.
    submitted: BTreeMap<(DeviceId, Op), u64>,
    /// Device IOs that completed with an error, per device and op.
    failed: BTreeMap<(DeviceId, Op), u64>,
    /// Completions of IOs in flight (answers to nothing in flight are the engine's to refuse).
    completions: u64,
    /// Cancels the engine asked the platform for.
    cancels: u64,
    /// Sectors the engine said it no longer knows the contents of, per device (a raid5
    /// array reports its write hole on its own id, past the physical devices).
    contents_unknown_sectors: BTreeMap<DeviceId, u64>,
    /// flashcache: device 0's (the SSD's) IOs by op and sector, submitted and failed, to
    /// tell metadata from data IO once the cache's geometry is known.
    ssd_by_sector: BTreeMap<(Op, u64), SsdTally>,
    /// Device IO at or above this sector is counted apart (raid5's member metadata).
    high_sector: u64,
    /// Submitted IOs at or above `high_sector`, per device and op, and those that failed.
    submitted_high: BTreeMap<(DeviceId, Op), u64>,
    failed_high: BTreeMap<(DeviceId, Op), u64>,
    /// Read and write bios' cache blocks (flashcache maps one piece per cache block a bio
    /// touches; `None`: not a flashcache volume).
    cache_block_sectors: Option<u64>,
    pieces: PieceTally,
    /// Pieces of bios with a preflush, kept until the bio ends: dm core maps a bio's data
    /// pieces only once its flush piece succeeded (a flush flashcache passes on with
    /// `honor_flush` may fail).
    preflushed: BTreeMap<u64, PieceTally>,
    /// Pieces of preflushed bios that ended with an error: mapped or not.
    pieces_uncertain: PieceTally,
    /// Flush bios, and other bios with a preflush (dm core hands the target one empty
    /// flush piece for each).
    flush_bios: u64,
    preflushes: u64,
    /// Bios the engine took in, and those it ended with an error.
    bios: u64,
    bios_failed: u64,
    /// Read and write bios the engine took in.
    read_bios: u64,
    write_bios: u64,
    /// raid5 alone: its geometry and the members' `max_sectors`, and the read bios inside one
    /// chunk no longer than that (md's `chunk_aligned_read` sends them straight to a member).
    aligned_reads_rule: Option<(Geometry, u64)>,
    aligned_read_candidates: u64,
    /// raid5 with a bitmap: the chunks every write since the run began touched (kept when
    /// the engine is rebuilt: the bitmap outlives it).
    resync: Option<ResyncBound>,
    /// flashcache ran an LRU reclaim policy after some input of this engine: only LRU
    /// forces cleaning on a miss (`force_clean_block`).
    lru_seen: bool,
    /// Discard bios in the engine, and those that ended well.
    discards_in_flight: BTreeSet<u64>,
    discards_ok: u64,
}

impl IoCounts {
    /// Counts for `spec`'s volume.
    pub fn new(spec: &SeedSpec) -> IoCounts {
        let cache_block_sectors = match &spec.target {
            TargetChoice::Flashcache(config) => Some(config.table.block_size_sectors),
            TargetChoice::Raid5UnderFlashcache { flashcache, .. } => {
                Some(flashcache.table.block_size_sectors)
            }
            TargetChoice::Linear | TargetChoice::Raid5(_) => None,
        }
        .map(|sectors| if sectors == 0 { 8 } else { u64::from(sectors) });
        let high_sector = match &spec.target {
            TargetChoice::Raid5(config) => raid5_geometry(config, spec.member_devices())
                .map_or(u64::MAX, |geometry| geometry.member_sectors()),
            TargetChoice::Raid5UnderFlashcache { raid5, .. } => {
                raid5_geometry(raid5, &spec.devices[1..])
                    .map_or(u64::MAX, |geometry| geometry.member_sectors())
            }
            TargetChoice::Linear | TargetChoice::Flashcache(_) => u64::MAX,
        };
        IoCounts {
            high_sector,
            cache_block_sectors,
            resync: ResyncBound::new(spec),
            aligned_reads_rule: aligned_reads_rule(spec),
            ..IoCounts::default()
        }
    }

    /// A new engine starts counting from zero (IO of the one before is gone with it).
    pub fn engine_rebuilt(&mut self) {
        *self = IoCounts {
            high_sector: self.high_sector,
            cache_block_sectors: self.cache_block_sectors,
            resync: self.resync.take(),
            aligned_reads_rule: self.aligned_reads_rule,
            ..IoCounts::default()
        };
    }

    /// The explorer's own check or repair pass walked `stripes` stripes (see
    /// [`crate::scrub`]): the resync bound leaves them out.
    pub fn on_scrub(&mut self, stripes: u64) {
        if let Some(resync) = &mut self.resync {
            resync.on_scrub(stripes);
        }
    }

    /// Bios this engine took in.
    pub fn bios_taken(&self) -> u64 {
        self.bios
    }

    /// After the engine took an input: what its target runs with now.
    pub fn after_input(&mut self, engine: &Engine) {
        if let Some(fc) = engine.target().flashcache() {
            self.lru_seen |= fc.tunables().reclaim_policy != ReclaimPolicy::Fifo;
        }
    }

    pub fn on_input(&mut self, input: &Input) {
        match input {
            Input::Bio(bio) => {
                self.bios += 1;
                if bio.op == Op::Discard {
                    self.discards_in_flight.insert(bio.id.0);
                }
                if bio.flags.preflush && bio.op != Op::Flush {
                    self.preflushes += 1;
                }
                match bio.op {
                    Op::Read => self.read_bios += 1,
                    Op::Write => self.write_bios += 1,
                    Op::Flush => self.flush_bios += 1,
                    Op::Discard => {}
                }
                if let (Some(resync), Op::Write) = (&mut self.resync, bio.op) {
                    resync.on_write(bio.sector, u64::from(bio.sectors));
                }
                if let (Some((geometry, max_sectors)), Op::Read) =
                    (&self.aligned_reads_rule, bio.op)
                {
                    // Inside one chunk, worked out here: the engine's own test is what
                    // this counts against.
                    let sectors = u64::from(bio.sectors);
                    let chunk = geometry.chunk_sectors();
                    if sectors > 0
                        && bio.sector + sectors <= geometry.array_sectors()
                        && bio.sector / chunk == (bio.sector + sectors - 1) / chunk
                        && sectors <= *max_sectors
                    {
                        self.aligned_read_candidates += 1;
                    }
                }
                let Some(block) = self.cache_block_sectors else {
                    return;
                };
                if bio.sectors == 0 {
                    return;
                }
                if bio.op == Op::Flush {
                    return;
                }
                if bio.flags.preflush {
                    let mut tally = PieceTally::default();
                    tally.add_bio(bio, block);
                    self.preflushed.insert(bio.id.0, tally);
                } else {
                    self.pieces.add_bio(bio, block);
                }
            }
            Input::Completion(done) => {
                if let Some((device, op, sector)) = self.in_flight.remove(done.tag) {
                    self.completions += 1;
                    if !done.status.is_ok() {
                        *self.failed.entry((device, op)).or_default() += 1;
                        if sector >= self.high_sector {
                            *self.failed_high.entry((device, op)).or_default() += 1;
                        }
                        if let Some(tally) = self.ssd_tally(device, op, sector) {
                            tally.failed += 1;
                        }
                    }
                }
            }
            Input::Tick | Input::Control(_) => {}
        }
    }

    pub fn on_output(&mut self, output: &Output) {
        match output {
            Output::Submit(io) => {
                self.in_flight.insert(io.tag, (io.device, io.op, io.sector));
                *self.submitted.entry((io.device, io.op)).or_default() += 1;
                if io.sector >= self.high_sector {
                    *self.submitted_high.entry((io.device, io.op)).or_default() += 1;
                }
                if let Some(tally) = self.ssd_tally(io.device, io.op, io.sector) {
                    tally.submitted += 1;
                }
            }
            Output::Cancel(_) => self.cancels += 1,
            Output::ContentsUnknown { device, extent } => {
                *self.contents_unknown_sectors.entry(*device).or_default() += extent.sectors;
            }
            Output::BioDone(done) => {
                let discard = self.discards_in_flight.remove(&done.id.0);
                if let Some(tally) = self.preflushed.remove(&done.id.0) {
                    if done.status.is_ok() {
                        self.pieces.add(&tally);
                    } else {
                        self.pieces_uncertain.add(&tally);
                    }
                }
                if !done.status.is_ok() {
                    self.bios_failed += 1;
                } else if discard {
                    self.discards_ok += 1;
                }
            }
        }
    }

    fn submitted(&self, device: DeviceId, op: Op) -> u64 {
        self.submitted.get(&(device, op)).copied().unwrap_or(0)
    }

    fn submitted_high(&self, device: DeviceId, op: Op) -> u64 {
        self.submitted_high.get(&(device, op)).copied().unwrap_or(0)
    }

    fn failed(&self, device: DeviceId, op: Op) -> u64 {
        self.failed.get(&(device, op)).copied().unwrap_or(0)
    }

    /// flashcache's SSD: the tally of `op` at `sector` (other devices and targets: none).
    fn ssd_tally(&mut self, device: DeviceId, op: Op, sector: u64) -> Option<&mut SsdTally> {
        (device == DeviceId(0) && self.cache_block_sectors.is_some())
            .then(|| self.ssd_by_sector.entry((op, sector)).or_default())
    }

    /// The SSD's IOs of `op` in `sectors`.
    fn ssd_in(&self, op: Op, sectors: std::ops::Range<u64>) -> SsdTally {
        let mut sum = SsdTally::default();
        for (_, tally) in self
            .ssd_by_sector
            .range((op, sectors.start)..(op, sectors.end))
        {
            sum.submitted += tally.submitted;
            sum.failed += tally.failed;
        }
        sum
    }
}

/// The pieces dm core cuts bios into at cache block boundaries, by op, and those of up to
/// 32 sectors by size (flashcache's size histogram).
#[derive(Debug, Default, Clone)]
struct PieceTally {
    read: u64,
    write: u64,
    /// Neither a read nor a write, but flashcache's size histogram counts every piece it
    /// maps, discards too (spec 1.7 step 1).
    discard: u64,
    sizes: BTreeMap<u64, u64>,
}

impl PieceTally {
    /// Adds the pieces of a read, write or discard `bio` of at least one sector, cut at
    /// `block`-sector boundaries.
    fn add_bio(&mut self, bio: &Bio, block: u64) {
        let first = bio.sector / block;
        let end = bio.sector + u64::from(bio.sectors);
        let last = (end - 1) / block;
        match bio.op {
            Op::Read => self.read += last - first + 1,
            Op::Write => self.write += last - first + 1,
            Op::Discard => self.discard += last - first + 1,
            Op::Flush => unreachable!("a flush has no pieces to cut"),
        }
        for index in first..=last {
            let sectors = end.min((index + 1) * block) - bio.sector.max(index * block);
            if sectors <= 32 {
                *self.sizes.entry(sectors).or_default() += 1;
            }
        }
    }

    fn add(&mut self, other: &PieceTally) {
        self.read += other.read;
        self.write += other.write;
        self.discard += other.discard;
        for (sectors, count) in &other.sizes {
            *self.sizes.entry(*sectors).or_default() += count;
        }
    }

    fn all(&self) -> u64 {
        self.read + self.write + self.discard
    }
}

/// flashcache's SSD IO at one sector, or summed over a range.
#[derive(Debug, Default, Clone, Copy)]
struct SsdTally {
    submitted: u64,
    failed: u64,
}

/// Every counter identity of `spec`'s target on an idle `engine`; the first that fails.
pub fn check(engine: &Engine, spec: &SeedSpec, io: &IoCounts) -> Result<(), String> {
    if !engine.is_idle() {
        return Ok(());
    }
    // dm core counts every bio it takes in (refused ones are not taken) and every one it
    // ends with an error.
    let core = engine.stats().dm_core;
    equal("dm core bios vs bios taken in", core.bios, io.bios)?;
    // A discard that ended well reached a device: linear and flashcache pass every one on
    // (dm_io cuts it by the device's discard limit), and no target ends one early.
    let discards_sent: u64 = io
        .submitted
        .iter()
        .filter(|((_, op), _)| *op == Op::Discard)
        .map(|(_, count)| count)
        .sum();
    at_most(
        "discard bios ended well vs discards sent to the devices",
        io.discards_ok,
        discards_sent,
    )?;
    // dm core hands a bio over whole (linear, raid5, a flashcache still setting up) or cut
    // at cache block boundaries (a running flashcache), a flush as one empty piece, and
    // first a flush piece for a bio with a preflush (whose data pieces never go if that
    // flush fails).
    let whole = io.bios + io.preflushes;
    at_most("dm core bios vs pieces", io.bios, core.pieces)?;
    match io.cache_block_sectors {
        Some(_) => at_most(
            "dm core pieces vs the bios cut at cache blocks + preflushes",
            core.pieces,
            io.pieces.all() + io.pieces_uncertain.all() + io.flush_bios + io.preflushes,
        )?,
        None if spec.is_fault_free() => {
            equal("dm core pieces vs bios + preflushes", core.pieces, whole)?
        }
        None => at_most("dm core pieces vs bios + preflushes", core.pieces, whole)?,
    }
    equal(
        "dm core bios_failed vs bios ended with an error",
        core.bios_failed,
        io.bios_failed,
    )?;
    check_services(engine, spec, io)?;
    match &spec.target {
        TargetChoice::Linear => Ok(()),
        TargetChoice::Flashcache(_) => {
            check_flashcache(engine, io, Some((DeviceId(0), DeviceId(1))))
        }
        TargetChoice::Raid5(_) => {
            let status = engine.target_status();
            check_raid5_machine(engine, &status)?;
            if let (Some(bound), Some(raid)) = (&io.resync, engine.target().raid5()) {
                bound.check(&raid.stats())?;
            }
            check_raid5_aligned_reads(engine, io)?;
            // The array counts each page of its write hole as it reports it.
            if let Some(raid) = engine.target().raid5() {
                let reported: u64 = io
                    .contents_unknown_sectors
                    .range(DeviceId(spec.devices.len() as u16)..)
                    .map(|(_, sectors)| sectors)
                    .sum();
                equal(
                    "raid5 write_hole_exposed_sectors vs sectors reported unknown",
                    raid.stats().write_hole_exposed_sectors,
                    reported,
                )?;
            }
            check_raid5_bios(&status, io)?;
            if let Some(member) = spec.foreign_superblock_member {
                check_foreign_member_failed(engine, member)?;
            }
            // A spare added takes a member's role: its IO counts like the members'.
            let members: Vec<DeviceId> = (0..spec.devices.len())
                .map(|m| DeviceId(m as u16))
                .collect();
            check_raid5(&status, io, &members)
        }
        TargetChoice::Raid5UnderFlashcache { .. } => {
            check_flashcache(engine, io, None)?;
            let members: Vec<DeviceId> = (1..spec.devices.len())
                .map(|m| DeviceId(m as u16))
                .collect();
            for (_, status) in engine.stacked_status() {
                check_raid5(&status, io, &members)?;
            }
            Ok(())
        }
    }
}

/// The block layer's, dm_io's and kcopyd's counters on an idle engine, against the IO the
/// checker saw. A stacked device's IO is the engine's own (no output), so with a stack the
/// observed IO bounds the counts from below only.
fn check_services(engine: &Engine, spec: &SeedSpec, io: &IoCounts) -> Result<(), String> {
    let services = engine.stats().services;
    let blk = services.block_layer;
    // Idle: every IO submitted has completed (`complete` counts each IO it takes back).
    equal(
        "block layer completed vs submitted, idle",
        blk.completed,
        blk.submitted,
    )?;
    let observed: u64 = io.submitted.values().sum();
    let stacked = matches!(spec.target, TargetChoice::Raid5UnderFlashcache { .. });
    if stacked {
        at_most(
            "device IOs seen vs block layer submitted",
            observed,
            blk.submitted,
        )?;
        at_most(
            "cancels seen vs block layer cancels_requested",
            io.cancels,
            blk.cancels_requested,
        )?;
    } else {
        equal(
            "block layer submitted vs device IOs seen",
            blk.submitted,
            observed,
        )?;
        equal(
            "block layer completed vs completions of IOs in flight",
            blk.completed,
            io.completions,
        )?;
        equal(
            "block layer cancels_requested vs cancels seen",
            blk.cancels_requested,
            io.cancels,
        )?;
    }
    // flashcache issues every device IO through dm_io (its own and kcopyd's); linear and
    // raid5 submit theirs straight to the block layer.
    let dm_io_ios = services.dm_io.device_ios;
    if matches!(spec.target, TargetChoice::Flashcache(_)) {
        equal(
            "dm_io device_ios vs block layer submitted (flashcache)",
            dm_io_ios,
            blk.submitted,
        )?;
    } else {
        at_most(
            "dm_io device_ios vs block layer submitted",
            dm_io_ios,
            blk.submitted,
        )?;
    }
    Ok(())
}

/// A named counter of `status` (absent: an error naming it).
fn counter(status: &TargetStatus, name: &str) -> Result<u64, String> {
    status
        .counters
        .get(name)
        .copied()
        .ok_or_else(|| format!("{} status: no counter `{name}`", status.kind))
}

fn gauge(status: &TargetStatus, name: &str) -> Result<u64, String> {
    status
        .gauges
        .get(name)
        .copied()
        .ok_or_else(|| format!("{} status: no gauge `{name}`", status.kind))
}

/// `left <= right`, or an error showing both.
fn at_most(what: &str, left: u64, right: u64) -> Result<(), String> {
    if left <= right {
        Ok(())
    } else {
        Err(format!("{what}: {left} > {right}"))
    }
}

/// `low <= value <= low + uncertain` (equal when nothing is uncertain), or an error.
fn between(what: &str, value: u64, low: u64, uncertain: u64) -> Result<(), String> {
    if uncertain == 0 {
        return equal(what, value, low);
    }
    at_most(what, low, value)?;
    at_most(what, value, low + uncertain)
}

/// `left == right`, or with `loose` only `left >= right`.
fn equal_or_at_least(loose: bool, what: &str, left: u64, right: u64) -> Result<(), String> {
    if loose {
        at_most(what, right, left)
    } else {
        equal(what, left, right)
    }
}

fn equal(what: &str, left: u64, right: u64) -> Result<(), String> {
    if left == right {
        Ok(())
    } else {
        Err(format!("{what}: {left} != {right}"))
    }
}

/// flashcache's counters (spec 1.20). `devices`: the SSD and the disk when both are
/// physical (the observed-IO identities need them; a stacked disk's IO is not an output).
fn check_flashcache(
    engine: &Engine,
    io: &IoCounts,
    devices: Option<(DeviceId, DeviceId)>,
) -> Result<(), String> {
    let Some(fc) = engine.target().flashcache() else {
        return Ok(()); // setting up, or its setup failed: no counters yet
    };
    let stats = fc.stats();
    let errors = fc.errors();
    let gauges = fc.gauges();
    let status = engine.target_status();
    let services = engine.stats().services;
    let kcopyd_read_errors = services.kcopyd.read_errors;
    let regions_given_up = services.dm_io.regions_timed_out + services.dm_io.regions_cancelled;
    let mode = fc.mode();
    // flashcache_clean_set forces cleaning on a miss for LRU alone (clean.rs).
    if !io.lru_seen {
        equal(
            "force_clean_block with FIFO reclaim all along",
            stats.force_clean_block,
            0,
        )?;
    }
    // The named counters and gauges are the machine's, under flashcache's names.
    for (name, value) in [
        ("reads", stats.reads),
        ("writes", stats.writes),
        ("read_hits", stats.read_hits),
        ("write_hits", stats.write_hits),
        ("dirty_write_hits", stats.dirty_write_hits),
        ("uncached_reads", stats.uncached_reads),
        ("uncached_writes", stats.uncached_writes),
        ("disk_reads", stats.disk_reads),
        ("disk_writes", stats.disk_writes),
        ("ssd_reads", stats.ssd_reads),
        ("ssd_writes", stats.ssd_writes),
        ("cleanings", stats.cleanings),
        ("md_write_dirty", stats.md_write_dirty),
        ("md_write_clean", stats.md_write_clean),
        ("md_ssd_writes", stats.md_ssd_writes),
        ("pid_adds", stats.pid_adds),
        ("pid_dels", stats.pid_dels),
        ("disk_read_errors", errors.disk_read_errors),
        ("disk_write_errors", errors.disk_write_errors),
        ("ssd_read_errors", errors.ssd_read_errors),
        ("ssd_write_errors", errors.ssd_write_errors),
        ("memory_alloc_errors", errors.memory_alloc_errors),
    ] {
        equal(
            &format!("flashcache status counter {name} vs the machine's"),
            counter(&status, name)?,
            value,
        )?;
    }
    for (name, value) in [
        ("nr_dirty", gauges.nr_dirty),
        ("cached_blocks", gauges.cached_blocks),
        ("size_blocks", gauges.size_blocks),
    ] {
        equal(
            &format!("flashcache status gauge {name} vs the machine's"),
            gauge(&status, name)?,
            value,
        )?;
    }
    equal(
        "flashcache bypassing() vs gauge bypass_cache",
        u64::from(fc.bypassing()),
        u64::from(gauges.bypass_cache),
    )?;
    // The `dmsetup status` text shows the same numbers (spec 1.20's layout), and the
    // table its size (blocks of `block_size` sectors, in MiB) and its block size in KiB.
    let report = fc.status();
    let block_sectors = u64::from(report.block_size_sectors);
    // flashcache's percentages: integer division, 0 of nothing.
    let percent = |part: u64, whole: u64| (part * 100).checked_div(whole).unwrap_or(0);
    let mut lines = vec![
        format!("reads({}), writes({})", stats.reads, stats.writes),
        format!(
            "read hits({}), read hit percent({})",
            stats.read_hits,
            percent(stats.read_hits, stats.reads)
        ),
        format!(
            "disk reads({}), disk writes({}) ssd reads({}) ssd writes({})",
            stats.disk_reads, stats.disk_writes, stats.ssd_reads, stats.ssd_writes
        ),
        format!(
            "total blocks({}), cached blocks({}), cache percent({})",
            gauges.size_blocks,
            gauges.cached_blocks,
            percent(gauges.cached_blocks, gauges.size_blocks)
        ),
        format!(
            "capacity({}M), associativity({}), data block size({}K)",
            gauges.size_blocks * block_sectors * 512 / (1 << 20),
            report.assoc,
            block_sectors / 2
        ),
        format!("nr_queued({})", gauges.nr_queued),
        format!(
            "lru hot blocks({}), lru warm blocks({})",
            gauges.lru_hot_blocks, gauges.lru_warm_blocks
        ),
    ];
    if report.mode != CacheMode::WriteAround {
        lines.push(format!(
            "write hits({}) write hit percent({})",
            stats.write_hits,
            percent(stats.write_hits, stats.writes)
        ));
    }
    if report.mode == CacheMode::WriteBack {
        lines.push(format!(
            "dirty write hits({}) dirty write hit percent({})",
            stats.dirty_write_hits,
            percent(stats.dirty_write_hits, stats.writes)
        ));
        lines.push(format!(
            "dirty blocks({}), dirty percent({})",
            gauges.nr_dirty,
            percent(gauges.nr_dirty, gauges.size_blocks)
        ));
    }
    for line in lines {
        if !status.text.contains(&line) {
            return Err(format!(
                "flashcache status text lacks {line:?}:\n{}",
                status.text
            ));
        }
    }
    // The size histogram counts every piece of up to 32 sectors by its size (flushes, of
    // none, are not shown): exactly, unless a preflushed bio failed (its pieces may or may
    // not have been mapped).
    let mut size_hist = String::from("Size Hist: ");
    for (sectors, count) in &io.pieces.sizes {
        size_hist += &format!("{}:{count} ", sectors * 512);
    }
    if io.pieces_uncertain.all() == 0 && !status.text.lines().any(|line| line == size_hist) {
        return Err(format!(
            "flashcache status text lacks {size_hist:?}:\n{}",
            status.text
        ));
    }
    // Every piece is counted once as a read or a write when mapped (`flashcache_map`).
    between(
        "flashcache reads vs read pieces mapped",
        stats.reads,
        io.pieces.read,
        io.pieces_uncertain.read,
    )?;
    between(
        "flashcache writes vs write pieces mapped",
        stats.writes,
        io.pieces.write,
        io.pieces_uncertain.write,
    )?;
    at_most(
        "flashcache read_hits vs reads",
        stats.read_hits,
        stats.reads,
    )?;
    at_most(
        "flashcache write_hits vs writes",
        stats.write_hits,
        stats.writes,
    )?;
    at_most(
        "flashcache dirty_write_hits vs write_hits",
        stats.dirty_write_hits,
        stats.write_hits,
    )?;
    at_most(
        "flashcache uncached_reads vs disk_reads",
        stats.uncached_reads,
        stats.disk_reads,
    )?;
    at_most(
        "flashcache uncached_writes vs disk_writes",
        stats.uncached_writes,
        stats.disk_writes,
    )?;
    // disk_writes counts an uncached write (or discard) as it is issued, and in writeback
    // a cleaning as it starts (each ends counted in `cleanings`, done or failed), elsewhere a
    // write hit as it is issued (after its job allocation).
    let (disk_writes_expected, what) = if mode == CacheMode::WriteBack {
        (stats.uncached_writes + stats.cleanings, "cleanings")
    } else {
        let write_hits_issued =
            stats.write_hits - fc.injections_fired(ErrorInjection::WRITE_HIT_JOB_ALLOC_FAIL);
        (
            stats.uncached_writes + write_hits_issued,
            "write hits issued",
        )
    };
    equal(
        &format!("flashcache disk_writes vs uncached writes + {what}"),
        stats.disk_writes,
        disk_writes_expected,
    )?;
    // Each injected allocation failure (BUGGIFY's ExhaustJobPool arms them) is counted
    // once, where it fails its bio or job; no other failure counts here.
    let alloc_failures: u64 = ErrorInjection::ALL
        .iter()
        .filter(|(_, name)| name.ends_with("_ALLOC_FAIL") || *name == "MD_ALLOC_SECTOR_ERROR")
        .map(|(flag, _)| fc.injections_fired(*flag))
        .sum();
    equal(
        "flashcache memory_alloc_errors vs allocation failures injected",
        errors.memory_alloc_errors,
        alloc_failures,
    )?;
    // An SSD read is a read hit's (`flashcache_read_hit`) or a cleaning's
    // (`flashcache_dirty_writeback`); each cleaning ends counted in `cleanings`, done or
    // failed. A read hit whose job allocation failed is counted with no read.
    let read_hits_failed = fc.injections_fired(ErrorInjection::READ_HIT_JOB_ALLOC_FAIL);
    equal(
        "flashcache ssd_reads + read hits whose job allocation failed vs read_hits + cleanings",
        stats.ssd_reads + read_hits_failed,
        stats.read_hits + stats.cleanings,
    )?;
    // Each metadata write carries its lead job and the batched ones; each job ends as a
    // dirtying or cleaning metadata update, or fails (counted among ssd_write_errors). With
    // `ssd_timeout` a block is also rewritten from memory after a failed write's zombie
    // ends: a metadata write with no update of its own.
    let md_jobs = stats.md_ssd_writes + stats.md_write_batch;
    let md_done = stats.md_write_dirty + stats.md_write_clean;
    at_most("flashcache metadata updates done vs jobs", md_done, md_jobs)?;
    if fc.config().options.ssd_timeout_ns.is_none() {
        at_most(
            "flashcache metadata jobs vs updates done + ssd write errors",
            md_jobs,
            md_done + errors.ssd_write_errors,
        )?;
    }
    at_most(
        "flashcache md_ssd_writes vs ssd_writes",
        stats.md_ssd_writes,
        stats.ssd_writes,
    )?;
    // The SSD (device 0 in every flashcache spec) is physical even under a stack. Below the
    // data: the superblock and the metadata blocks. With `ssd_timeout` a request cancelled
    // while it waited for a dm_io slot never reaches the device: the counts then bound the
    // IO seen from above only.
    let timed = fc.config().options.ssd_timeout_ns.is_some();
    let data_start = fc.geometry().data_start_sector();
    let ssd_data_reads = io.ssd_in(Op::Read, data_start..u64::MAX);
    let ssd_data_writes = io.ssd_in(Op::Write, data_start..u64::MAX);
    let ssd_md_writes = io.ssd_in(Op::Write, 0..data_start);
    let fired = |flag| fc.injections_fired(flag);
    // Each failed SSD data read is a read hit's or a cleaning's, its job's one error (a
    // read hit's SSD read error, a cleaning's kcopyd read error); injected errors and, with
    // `ssd_timeout`, regions timed out or cancelled fail jobs whose reads did not.
    at_most(
        "flashcache SSD data reads failed vs ssd_read_errors",
        ssd_data_reads.failed,
        errors.ssd_read_errors,
    )?;
    at_most(
        "flashcache ssd_read_errors vs SSD data reads failed + injected + regions given up",
        errors.ssd_read_errors,
        ssd_data_reads.failed
            + fired(ErrorInjection::READCACHE_ERROR)
            + fired(ErrorInjection::KCOPYD_CALLBACK_ERROR)
            + regions_given_up,
    )?;
    // Each failed SSD data write is a fill's or a cache write's, each failed metadata block
    // write its own: one SSD write error each (the superblock's are not counted).
    let ssd_slot_writes = io.ssd_in(Op::Write, fc.geometry().md_block_sector(0)..u64::MAX);
    at_most(
        "flashcache SSD data and metadata block writes failed vs ssd_write_errors",
        ssd_slot_writes.failed,
        errors.ssd_write_errors,
    )?;
    // Writethrough and writearound switch to bypass at their first cache job error (a
    // failed SSD data IO is one), for good; writeback never does (`flashcache_io_callback`).
    let bypassing = u64::from(fc.bypassing());
    if mode == CacheMode::WriteBack {
        equal("flashcache bypassing in writeback", bypassing, 0)?;
    } else if ssd_data_reads.failed + ssd_data_writes.failed > 0 {
        equal(
            "flashcache bypassing after a failed SSD data IO (writethrough, writearound)",
            bypassing,
            1,
        )?;
    }
    // An SSD data read is a read hit's or a cleaning's (one block, one device IO).
    equal_or_at_least(
        timed,
        "flashcache ssd_reads vs SSD data reads submitted",
        stats.ssd_reads,
        ssd_data_reads.submitted,
    )?;
    // An SSD data write is a fill's, a write hit's or a write miss's; the rest of
    // ssd_writes are metadata block writes (counted in md_ssd_writes too). The superblock
    // and a block rewritten after a failed write are metadata IO uncounted.
    equal_or_at_least(
        timed,
        "flashcache ssd_writes - md_ssd_writes vs SSD data writes submitted",
        stats.ssd_writes - stats.md_ssd_writes,
        ssd_data_writes.submitted,
    )?;
    if !timed {
        at_most(
            "flashcache md_ssd_writes vs SSD metadata writes submitted",
            stats.md_ssd_writes,
            ssd_md_writes.submitted,
        )?;
    }
    if let Some((_, disk)) = devices {
        // A disk read is a read miss's (`flashcache_read_miss`) or an uncached read's
        // (`flashcache_start_uncached_io`), one device IO each (a piece is one block).
        equal(
            "flashcache disk_reads vs disk reads submitted",
            stats.disk_reads,
            io.submitted(disk, Op::Read),
        )?;
        // Each failed disk read is a read miss's or an uncached read's, counted once; an
        // uncached flush counts as a read, and an injected disk read error fails a miss
        // whose read did not.
        let failed_disk_reads = io.failed(disk, Op::Read);
        at_most(
            "flashcache disk reads failed vs disk_read_errors",
            failed_disk_reads,
            errors.disk_read_errors,
        )?;
        at_most(
            "flashcache disk_read_errors vs disk reads and flushes failed + injected",
            errors.disk_read_errors,
            failed_disk_reads + io.failed(disk, Op::Flush) + fired(ErrorInjection::READDISK_ERROR),
        )?;
        // A disk write is counted as a cleaning starts (its kcopyd job writes nothing if
        // its SSD read fails), as an uncached write or discard is issued (dm_io may cut a
        // discard in several) and as a writethrough write hit is; a writethrough write miss
        // writes the disk uncounted (only ssd_writes counts it).
        let disk_writes = io.submitted(disk, Op::Write);
        let disk_discards = io.submitted(disk, Op::Discard);
        at_most(
            "flashcache disk_writes vs disk writes and discards submitted + kcopyd read errors",
            stats.disk_writes,
            disk_writes + disk_discards + kcopyd_read_errors,
        )?;
        if mode != CacheMode::WriteThrough {
            at_most(
                "flashcache disk writes submitted vs disk_writes",
                disk_writes,
                stats.disk_writes,
            )?;
            // Outside writethrough each disk write error is a failed disk write's or
            // discard's (a cleaning's or an uncached one's).
            at_most(
                "flashcache disk_write_errors vs disk writes and discards failed",
                errors.disk_write_errors,
                io.failed(disk, Op::Write) + io.failed(disk, Op::Discard),
            )?;
        }
        // Each failed disk write is its job's, and each job counts one disk write error
        // (writethrough's two-region write too, whichever region failed), except that an
        // injected kcopyd callback error counts a cleaning's failure as an SSD read error.
        at_most(
            "flashcache disk writes failed vs disk_write_errors + kcopyd callback errors \
             injected",
            io.failed(disk, Op::Write),
            errors.disk_write_errors + fc.injections_fired(ErrorInjection::KCOPYD_CALLBACK_ERROR),
        )?;
    }
    Ok(())
}

/// md raid5's counters (spec section 7) through its status, against the IO the checker saw
/// on `members`.
fn check_raid5(status: &TargetStatus, io: &IoCounts, members: &[DeviceId]) -> Result<(), String> {
    let read_errors = counter(status, "read_errors")?;
    // A corrected read error and a retried aligned read each had its failed read first.
    at_most(
        "raid5 read_errors_corrected + aligned_read_retries vs read_errors",
        counter(status, "read_errors_corrected")? + counter(status, "aligned_read_retries")?,
        read_errors,
    )?;
    let failed_reads: u64 = members.iter().map(|&m| io.failed(m, Op::Read)).sum();
    at_most(
        "raid5 read_errors vs member reads that failed",
        read_errors,
        failed_reads,
    )?;
    // md counts each failed data read (a stripe's or an aligned read's) as it sees it.
    let failed_data = |op: Op| -> u64 {
        members
            .iter()
            .map(|&m| io.failed(m, op) - io.failed_high.get(&(m, op)).copied().unwrap_or(0))
            .sum()
    };
    at_most(
        "raid5 member data reads that failed vs read_errors",
        failed_data(Op::Read),
        read_errors,
    )?;
    // A failed data write fails its member, counted once; so does a failed superblock
    // write or its preflush.
    let write_errors = counter(status, "write_errors")?;
    at_most(
        "raid5 member data writes that failed vs write_errors",
        failed_data(Op::Write),
        write_errors,
    )?;
    let failed_writes_and_flushes: u64 = members
        .iter()
        .map(|&m| io.failed(m, Op::Write) + io.failed(m, Op::Flush))
        .sum();
    at_most(
        "raid5 write_errors vs member writes and flushes that failed",
        write_errors,
        failed_writes_and_flushes,
    )?;
    // Every data read and write of a member is counted when issued; the superblock and
    // bitmap IO (above the data, at the member's end) is not.
    let observed = |op: Op| -> u64 {
        members
            .iter()
            .map(|&m| io.submitted(m, op) - io.submitted_high(m, op))
            .sum()
    };
    equal(
        "raid5 member_reads vs member data reads submitted",
        counter(status, "member_reads")?,
        observed(Op::Read),
    )?;
    equal(
        "raid5 member_writes vs member data writes submitted",
        counter(status, "member_writes")?,
        observed(Op::Write),
    )?;
    at_most(
        "raid5 aligned_reads vs member_reads",
        counter(status, "aligned_reads")?,
        counter(status, "member_reads")?,
    )?;
    check_raid5_bitmap(status)
}

/// An array that is the volume: dm core hands each bio over whole (one raid5 bio), and md
/// counts each read and write bio when it enters the stripe cache (`make_request`) and each
/// that ends in error; at idle none is held for the dirty marking.
fn check_raid5_bios(status: &TargetStatus, io: &IoCounts) -> Result<(), String> {
    equal(
        "raid5 reads vs read bios taken in",
        counter(status, "reads")?,
        io.read_bios,
    )?;
    equal(
        "raid5 writes vs write bios taken in",
        counter(status, "writes")?,
        io.write_bios,
    )?;
    equal(
        "raid5 bios_failed vs bios ended with an error",
        counter(status, "bios_failed")?,
        io.bios_failed,
    )
}

/// An array with a superblock: marking it clean clears its bitmap in the same write, so a
/// clean array has no dirty chunk; mdstat's bitmap line shows the chunks the gauge counts.
fn check_raid5_bitmap(status: &TargetStatus) -> Result<(), String> {
    let (Some(&dirty), Some(&chunks)) = (
        status.gauges.get("array_dirty"),
        status.gauges.get("bitmap_dirty_chunks"),
    ) else {
        return Ok(());
    };
    if dirty == 0 && chunks != 0 {
        return Err(format!(
            "raid5: the array is clean on its members but {chunks} bitmap chunks are dirty"
        ));
    }
    if status.text.contains(" bitmap: ") && !status.text.contains(&format!(" bitmap: {chunks}/")) {
        return Err(format!(
            "raid5 status: the bitmap line does not show the {chunks} dirty chunks the gauge \
             counts:\n{}",
            status.text
        ));
    }
    Ok(())
}

/// raid5 alone: md's geometry and the members' smallest `max_sectors`.
pub(crate) fn aligned_reads_rule(spec: &SeedSpec) -> Option<(Geometry, u64)> {
    let TargetChoice::Raid5(config) = &spec.target else {
        return None;
    };
    let geometry = raid5_geometry(config, spec.member_devices())?;
    let max_sectors = spec
        .member_devices()
        .iter()
        .map(|d| d.max_sectors.unwrap_or(DeviceInfo::DEFAULT_MAX_SECTORS))
        .min()?;
    Some((geometry, u64::from(max_sectors)))
}

/// While every member is in sync (none failed, no spare rebuilt into a role), every read
/// inside one chunk and within the members' `max_sectors` goes straight to its member
/// (`chunk_aligned_read`), and no other read does.
fn check_raid5_aligned_reads(engine: &Engine, io: &IoCounts) -> Result<(), String> {
    let Some(raid) = engine.target().raid5() else {
        return Ok(());
    };
    let stats = raid.stats();
    if raid.degraded() > 0 || stats.spares_added > 0 || io.aligned_reads_rule.is_none() {
        return Ok(());
    }
    equal(
        "raid5 aligned_reads vs reads inside one chunk within max_sectors (no member degraded)",
        stats.aligned_reads,
        io.aligned_read_candidates,
    )
}

/// A member that carried another array's superblock at the first assembly is failed at
/// every assembly (its superblock, then the array's record, says so) until a spare takes
/// its role.
fn check_foreign_member_failed(engine: &Engine, member: usize) -> Result<(), String> {
    let Some(raid) = engine.target().raid5() else {
        return Ok(());
    };
    let stats = raid.stats();
    if stats.assemblies == 0 || stats.spares_added > 0 || raid.members()[member].faulty {
        return Ok(());
    }
    Err(format!(
        "raid5 member {member} carried another array's superblock, yet the array took it in \
         at assembly: {:?}",
        raid.members()
    ))
}

/// A raid5 volume's named counters are its machine's.
fn check_raid5_machine(engine: &Engine, status: &TargetStatus) -> Result<(), String> {
    let Some(raid) = engine.target().raid5() else {
        return Ok(());
    };
    let stats = raid.stats();
    for (name, value) in [
        ("reads", stats.reads),
        ("writes", stats.writes),
        ("member_reads", stats.member_reads),
        ("member_writes", stats.member_writes),
        ("read_errors", stats.read_errors),
        ("read_errors_corrected", stats.read_errors_corrected),
        ("aligned_reads", stats.aligned_reads),
        ("aligned_read_retries", stats.aligned_read_retries),
        ("write_errors", stats.write_errors),
        ("spares_added", stats.spares_added),
        ("recoveries", stats.recoveries),
    ] {
        equal(
            &format!("raid5 status counter {name} vs the machine's"),
            counter(status, name)?,
            value,
        )?;
    }
    equal(
        "raid5 status gauge degraded vs the machine's",
        gauge(status, "degraded")?,
        raid.degraded() as u64,
    )?;
    // The state word follows the members lost: none, one (still redundant-less), more.
    let state = match raid.degraded() {
        0 => "running",
        1 => "degraded",
        _ => "failed",
    };
    if status.state != state {
        return Err(format!(
            "raid5 status state {:?} with {} members degraded: expected {state:?}",
            status.state,
            raid.degraded()
        ));
    }
    // Each spare put into a role starts a recovery, which ends (the array idle) whole or
    // having skipped stripes it could not rebuild.
    at_most(
        "raid5 recoveries vs spares_added",
        stats.recoveries,
        stats.spares_added,
    )?;
    if stats.spares_added > stats.recoveries && stats.recovery_stripes_skipped == 0 {
        return Err(format!(
            "raid5: {} spares added, {} recoveries finished and none skipped a stripe",
            stats.spares_added, stats.recoveries
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmsim_engine::block::IoStatus;
    use dmsim_engine::io::{Bio, BioFlags, BioId, Completion, DeviceIo, IoTag, SectorData};
    use dmsim_engine::Buffer;

    #[test]
    fn pieces_count_the_cache_blocks_a_bio_touches() {
        let mut io = IoCounts {
            cache_block_sectors: Some(8),
            ..IoCounts::default()
        };
        let bio = |op, sector, sectors| {
            Input::Bio(Bio {
                id: BioId(1),
                op,
                sector,
                sectors,
                flags: BioFlags::default(),
                data: SectorData::new(),
            })
        };
        io.on_input(&bio(Op::Read, 7, 2)); // sectors 7 and 8: two blocks
        io.on_input(&bio(Op::Read, 8, 8)); // one block
        io.on_input(&bio(Op::Write, 0, 24)); // three blocks
        io.on_input(&bio(Op::Flush, 0, 0));
        assert_eq!((io.pieces.read, io.pieces.write), (3, 3));
    }

    #[test]
    fn a_preflushed_bios_pieces_count_once_it_ends_well_and_are_uncertain_if_it_fails() {
        let mut io = IoCounts {
            cache_block_sectors: Some(8),
            ..IoCounts::default()
        };
        let write = |id, sector| {
            Input::Bio(Bio {
                id: BioId(id),
                op: Op::Write,
                sector,
                sectors: 16,
                flags: BioFlags {
                    preflush: true,
                    ..BioFlags::default()
                },
                data: SectorData::new(),
            })
        };
        let done = |id, status| {
            Output::BioDone(dmsim_engine::io::BioDone {
                id: BioId(id),
                status,
                data: SectorData::new(),
            })
        };
        io.on_input(&write(1, 0));
        io.on_input(&write(2, 64));
        assert_eq!(io.pieces.write, 0, "not mapped before its flush succeeded");
        io.on_output(&done(1, IoStatus::Ok));
        io.on_output(&done(2, IoStatus::IoError));
        assert_eq!((io.pieces.write, io.pieces_uncertain.write), (2, 2));
        assert_eq!(io.pieces.sizes.get(&8), Some(&2));
        assert!(io.preflushed.is_empty());
        assert!(between("writes", 3, 2, 2).is_ok());
        assert!(between("writes", 5, 2, 2).is_err());
        assert!(between("writes", 3, 2, 0).is_err());
    }

    /// An 8-sector device IO the engine submits.
    fn submit(tag: u64, device: u16, op: Op, sector: u64) -> Output {
        Output::Submit(DeviceIo {
            tag: IoTag::from_u64(tag),
            device: DeviceId(device),
            op,
            sector,
            sectors: 8,
            fua: false,
            sync: false,
            buffer: Buffer::empty(),
        })
    }

    #[test]
    fn failed_reads_are_counted_by_device_and_metadata_io_apart() {
        let mut io = IoCounts {
            high_sector: 1000,
            ..IoCounts::default()
        };
        io.on_output(&submit(1, 0, Op::Read, 0));
        io.on_output(&submit(2, 0, Op::Read, 1000));
        io.on_output(&submit(3, 1, Op::Write, 8));
        let done = |tag: u64, status| {
            Input::Completion(Completion {
                tag: IoTag::from_u64(tag),
                status,
            })
        };
        io.on_input(&done(1, IoStatus::IoError));
        io.on_input(&done(2, IoStatus::Ok));
        io.on_input(&done(3, IoStatus::IoError));
        // A completion of nothing in flight is ignored.
        io.on_input(&done(9, IoStatus::IoError));
        assert_eq!(io.failed(DeviceId(0), Op::Read), 1);
        assert_eq!(io.failed(DeviceId(1), Op::Read), 0);
        assert_eq!(io.submitted(DeviceId(0), Op::Read), 2);
        assert_eq!(io.submitted_high(DeviceId(0), Op::Read), 1);
        assert_eq!(io.submitted(DeviceId(1), Op::Write), 1);
        assert_eq!(io.failed(DeviceId(1), Op::Write), 1);
        assert_eq!(
            io.failed_high.get(&(DeviceId(0), Op::Read)),
            None,
            "it ended well"
        );
        assert_eq!(
            io.completions, 3,
            "the answer to nothing in flight is not one"
        );
    }

    #[test]
    fn a_flashcache_ssd_io_is_tallied_by_sector_and_cancels_are_counted() {
        let mut io = IoCounts {
            cache_block_sectors: Some(8),
            ..IoCounts::default()
        };
        io.on_output(&submit(1, 0, Op::Write, 8)); // metadata
        io.on_output(&submit(2, 0, Op::Write, 64)); // data
        io.on_output(&submit(3, 0, Op::Write, 72)); // data
        io.on_output(&submit(4, 1, Op::Write, 64)); // the disk: not the SSD's
        io.on_output(&Output::Cancel(IoTag::from_u64(3)));
        io.on_input(&Input::Completion(Completion {
            tag: IoTag::from_u64(3),
            status: IoStatus::Cancelled,
        }));
        let data = io.ssd_in(Op::Write, 64..u64::MAX);
        assert_eq!((data.submitted, data.failed), (2, 1));
        let metadata = io.ssd_in(Op::Write, 0..64);
        assert_eq!((metadata.submitted, metadata.failed), (1, 0));
        assert_eq!(io.ssd_in(Op::Read, 0..u64::MAX).submitted, 0);
        assert_eq!(io.cancels, 1);
    }
}
