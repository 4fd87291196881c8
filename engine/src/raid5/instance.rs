//! The raid5 machine: [`Raid5`], its entry points, `make_request`'s walk over stripe heads
//! with its waits, member IO completions, and the daemon loop (md's `raid5d`) that hands
//! stripe heads to `handle_stripe` (see [`super::handle`]).

use super::buffer::{BufferPhase, BufferTransition};
use super::cache::{Got, StripeCache};
use super::config::{Raid5Config, Raid5ConfigError, BITMAP_CHUNKS_MAX, STRIPE_CACHE_SIZE_MAX};
use super::geometry::{Geometry, STRIPE_SECTORS};
use super::io::{Raid5IoTag, Raid5Request};
use super::metadata::{ArrayState, HeldBio};
use super::stats::Raid5Stats;
use super::stripe::BioSegment;
use super::superblock::METADATA_SECTORS;
use super::sync::SyncPass;
use crate::arena::{Arena, Buffer, PageList};
use crate::block::{DeviceInfo, IoStatus, Op};
use crate::bounded::{LoopBound, ITEMS_PER_CALL_MAX};
use crate::slab::{Slab, SlabKey};
use std::collections::VecDeque;

/// Rounds of the daemon loop per entry point (see `crate::bounded`).
const DAEMON_ROUNDS_MAX: u64 = 1 << 24;

/// One member's health as the array sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemberHealth {
    /// Failed (md's Faulty): no IO goes to it.
    pub faulty: bool,
    /// Failed reads (md's `read_errors`); past `max_corrected_read_errors` the member fails.
    pub read_errors: u32,
    /// Read errors repaired by rewriting (md's `corrected_errors`).
    pub corrected_read_errors: u32,
    /// A spare being rebuilt into this role (md's rdev not In_sync): its stripes below this
    /// member sector are rebuilt (md's `recovery_offset`); above it the role counts as
    /// failed, is never read, and is still written.
    pub recovery_offset_sectors: Option<u64>,
}

impl MemberHealth {
    /// The member holds current data for the stripe at member sector `sector`.
    pub fn in_sync_at(&self, sector: u64) -> bool {
        !self.faulty
            && self
                .recovery_offset_sectors
                .is_none_or(|offset| sector + STRIPE_SECTORS <= offset)
    }

    /// Failed or still being rebuilt (md's count of `degraded`).
    pub fn degraded(&self) -> bool {
        self.faulty || self.recovery_offset_sectors.is_some()
    }
}

/// Why a bio's walk over stripe heads is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitReason {
    /// No free stripe head (md's `wait_for_stripe`).
    StripeHead,
    /// An overlapping bio is queued on the same page (md's `wait_for_overlap`).
    Overlap,
}

/// A bio of the array.
#[derive(Debug, Clone)]
pub(crate) struct ArrayBio {
    pub id: u64,
    pub op: Op,
    pub sector: u64,
    pub sectors: u64,
    pub buffer: Buffer,
    /// A write with FUA: its segments mark the member writes they drain into.
    pub fua: bool,
    /// Next logical sector (stripe-unit aligned) the walk adds.
    pub next_sector: u64,
    /// Segments queued plus one for the walk itself while it runs (md's
    /// `bi_phys_segments`), or member IOs of an aligned read or flush.
    pub pending: u32,
    pub status: IoStatus,
    pub waiting: Option<WaitReason>,
}

/// See the module documentation of [`super`].
#[derive(Debug)]
pub struct Raid5 {
    pub(crate) geometry: Geometry,
    pub(crate) config: Raid5Config,
    pub(crate) members: Vec<MemberHealth>,
    pub(crate) cache: StripeCache,
    pub(crate) bios: Slab<ArrayBio>,
    /// Bios whose walk waits, in arrival order.
    pub(crate) waiting: VecDeque<SlabKey>,
    pub(crate) requests: VecDeque<Raid5Request>,
    pub(crate) now_ns: u64,
    /// While set, delayed stripes stay delayed until this time (md's queue plug).
    pub(crate) plugged_until_ns: Option<u64>,
    pub(crate) stats: Raid5Stats,
    /// The largest IO every member accepts (md's `bio_fits_rdev` for aligned reads).
    pub(crate) member_max_sectors: u64,
    /// The check or repair pass running (md's sync thread), if any.
    pub(crate) sync: Option<SyncPass>,
    /// md's `mismatch_cnt`, in sectors.
    pub(crate) mismatch_sectors: u64,
    /// A recovery to start once the running check or repair ends.
    pub(crate) recovery_pending: bool,
    /// When the running (or last) recovery started, and how long the last finished one took.
    pub(crate) recovery_started_ns: u64,
    pub(crate) recovery_duration_ns: Option<u64>,
    /// Member IO sectors issued for array bios (not for a sync pass), per member: md's
    /// `is_mddev_idle` compares them between throttle checks.
    pub(crate) normal_io_sectors: Vec<u64>,
    /// The persistent superblock's state (see [`super::metadata`]); `None` without one.
    pub(crate) metadata: Option<ArrayState>,
    /// Per role: its device keeps writes in a volatile cache, so md's metadata writes to it
    /// carry PREFLUSH and FUA (elsewhere the block layer drops both).
    pub(crate) volatile_write_cache: Vec<bool>,
}

impl Raid5 {
    /// Assembles an array over `members` (role order), taking the stripe cache's pages from
    /// `arena`.
    pub fn new(
        config: &Raid5Config,
        members: &[DeviceInfo],
        arena: &mut Arena,
    ) -> Result<Raid5, Raid5ConfigError> {
        let reserved = if config.superblock {
            METADATA_SECTORS
        } else {
            0
        };
        let geometry = Geometry::reserving(members, config.chunk_sectors, config.layout, reserved)?;
        if let Some(chunk) = config.bitmap_chunk_sectors {
            if !config.superblock
                || !chunk.is_power_of_two()
                || chunk < STRIPE_SECTORS
                || geometry.member_sectors().div_ceil(chunk) > BITMAP_CHUNKS_MAX
            {
                return Err(Raid5ConfigError::BitmapChunk {
                    chunk_sectors: chunk,
                    member_sectors: geometry.member_sectors(),
                });
            }
        }
        if config.speed_limit_max_kib_s == 0
            || config.speed_limit_min_kib_s > config.speed_limit_max_kib_s
        {
            return Err(Raid5ConfigError::SpeedLimits {
                min: config.speed_limit_min_kib_s,
                max: config.speed_limit_max_kib_s,
            });
        }
        if config.stripe_cache_size <= 16 || config.stripe_cache_size > STRIPE_CACHE_SIZE_MAX {
            return Err(Raid5ConfigError::StripeCacheSize {
                size: config.stripe_cache_size,
            });
        }
        let size = config.stripe_cache_size as usize;
        let metadata_pages = if config.superblock {
            2 * members.len()
        } else {
            0
        };
        let mut pages = arena
            .alloc(size * members.len() + metadata_pages)
            .map(PageList::into_vec)
            .ok_or(Raid5ConfigError::StripeCacheMemory {
                pages: size * members.len() + metadata_pages,
                free: arena.free_pages(),
            })?;
        let metadata = config.superblock.then(|| {
            let metadata_pages = pages.split_off(size * members.len());
            ArrayState::new(
                members[0].capacity_sectors - METADATA_SECTORS,
                &metadata_pages,
                config.bitmap_chunk_sectors,
                geometry.member_sectors(),
            )
        });
        let mut raid = Raid5 {
            geometry,
            config: config.clone(),
            members: vec![MemberHealth::default(); members.len()],
            cache: StripeCache::new(size, members.len(), &pages),
            bios: Slab::new(),
            waiting: VecDeque::new(),
            requests: VecDeque::new(),
            now_ns: 0,
            plugged_until_ns: None,
            stats: Raid5Stats::default(),
            member_max_sectors: members
                .iter()
                .map(|m| u64::from(m.max_sectors))
                .min()
                .unwrap_or(0),
            sync: None,
            mismatch_sectors: 0,
            recovery_pending: false,
            recovery_started_ns: 0,
            recovery_duration_ns: None,
            normal_io_sectors: vec![0; members.len()],
            metadata,
            volatile_write_cache: members.iter().map(|m| m.volatile_write_cache).collect(),
        };
        if raid.metadata.is_some() {
            raid.start_assembly();
        }
        Ok(raid)
    }

    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    pub fn config(&self) -> &Raid5Config {
        &self.config
    }

    pub fn stats(&self) -> Raid5Stats {
        self.stats
    }

    pub fn members(&self) -> &[MemberHealth] {
        &self.members
    }

    /// Members failed or still being rebuilt (md's `degraded`).
    pub fn degraded(&self) -> usize {
        self.members.iter().filter(|m| m.degraded()).count()
    }

    /// md's `stripe_cache_active`.
    pub fn stripe_cache_active(&self) -> usize {
        self.cache.active()
    }

    /// The next request to carry out, in order.
    pub fn poll_request(&mut self) -> Option<Raid5Request> {
        self.requests.pop_front()
    }

    /// True when no bio is in the array and no stripe has work (nothing will happen without
    /// new input).
    pub fn is_idle(&self) -> bool {
        self.bios.is_empty()
            && self.metadata.as_ref().is_none_or(ArrayState::is_idle)
            && self.sync.is_none()
            && self.requests.is_empty()
            && self
                .cache
                .heads()
                .iter()
                .all(|h| h.count == 0 && h.is_quiet())
    }

    /// When the machine needs a [`Raid5::tick`]: the end of the plug, or of a sync pass's
    /// throttle sleep.
    #[must_use]
    pub fn poll_deadline(&self) -> Option<u64> {
        let resume = self.sync.as_ref().and_then(|s| s.throttled_until_ns);
        [self.plugged_until_ns, resume, self.safemode_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    pub(crate) fn set_now(&mut self, now_ns: u64) {
        assert!(now_ns >= self.now_ns, "raid5 time went backwards");
        self.now_ns = now_ns;
    }

    /// Time passed: an expired plug lets delayed stripes go.
    pub fn tick(&mut self, now_ns: u64, arena: &mut Arena) {
        self.set_now(now_ns);
        if self.plugged_until_ns.is_some_and(|until| until <= now_ns) {
            self.unplug();
        }
        if let Some(pass) = self.sync.as_mut() {
            if pass.throttled_until_ns.is_some_and(|until| until <= now_ns) {
                pass.throttled_until_ns = None;
            }
        }
        self.run_daemon(arena);
    }

    /// Fails `member` (fault injection or `mdadm --fail`).
    pub fn fail_member(&mut self, now_ns: u64, member: usize, arena: &mut Arena) {
        self.set_now(now_ns);
        // Heads with work are on a list or have IO in flight: they see the failure when next
        // handled.
        self.mark_faulty(member);
        self.run_daemon(arena);
    }

    fn count_read_error(&mut self, member: usize) {
        let health = &mut self.members[member];
        health.read_errors += 1;
        if health.read_errors > self.config.max_corrected_read_errors {
            self.mark_faulty(member);
        }
    }

    /// Some role's device keeps writes in a volatile cache.
    pub fn has_volatile_write_cache(&self) -> bool {
        self.volatile_write_cache.iter().any(|&volatile| volatile)
    }

    pub(crate) fn mark_faulty(&mut self, member: usize) {
        if self.degraded() == 0
            && !self.members[member].faulty
            && self
                .metadata
                .as_ref()
                .is_some_and(|m| !m.is_assembling() && m.resync_needed)
        {
            self.count_write_hole_exposure(member);
        }
        let health = &mut self.members[member];
        health.faulty = true;
        // A spare that fails while rebuilt is no longer rebuilt.
        health.recovery_offset_sectors = None;
    }

    /// md's `make_request` for one array bio (`id` is the caller's; echoed in
    /// [`Raid5Request::BioDone`]). `buffer` holds the bio's data (empty for flush and
    /// discard). `sync` asks to unplug at once (REQ_SYNC); `fua` (a write's REQ_FUA) asks
    /// that the write be durable when it completes, parity included.
    #[allow(clippy::too_many_arguments)]
    pub fn make_request(
        &mut self,
        now_ns: u64,
        arena: &mut Arena,
        id: u64,
        op: Op,
        sector: u64,
        sectors: u64,
        buffer: Buffer,
        sync: bool,
        fua: bool,
    ) {
        self.set_now(now_ns);
        match op {
            Op::Discard => {
                self.requests.push_back(Raid5Request::BioDone {
                    id,
                    status: IoStatus::NotSupported,
                });
                return;
            }
            Op::Flush => {
                self.flush(id);
                return;
            }
            Op::Read | Op::Write => {}
        }
        assert!(
            sectors > 0 && sector + sectors <= self.geometry.array_sectors(),
            "bio {sector}+{sectors} outside the array's {} sectors",
            self.geometry.array_sectors()
        );
        let bio = HeldBio {
            id,
            op,
            sector,
            sectors,
            buffer,
            sync,
            fua: fua && op == Op::Write,
        };
        if let Some(bio) = self.hold_bio(bio) {
            self.admit(arena, bio);
        }
        self.run_daemon(arena);
    }

    /// make_request past the dirty marking: the bio enters the stripe cache (or goes
    /// straight to a member).
    pub(crate) fn admit(&mut self, arena: &mut Arena, bio: HeldBio) {
        let HeldBio {
            id,
            op,
            sector,
            sectors,
            buffer,
            sync,
            fua,
        } = bio;
        if op == Op::Read {
            self.stats.reads += 1;
        } else {
            self.stats.writes += 1;
        }
        let key = self.bios.insert(ArrayBio {
            id,
            op,
            sector,
            sectors,
            buffer,
            fua,
            next_sector: sector - sector % STRIPE_SECTORS,
            pending: 1,
            status: IoStatus::Ok,
            waiting: None,
        });
        if self.degraded() > 1 {
            self.stats.bios_failed += 1;
            let bio = self.bios.remove(key).expect("live bio");
            if bio.op == Op::Write {
                self.write_ended();
            }
            self.requests.push_back(Raid5Request::BioDone {
                id: bio.id,
                status: IoStatus::IoError,
            });
            return;
        }
        if op == Op::Read && self.try_aligned_read(key) {
            return;
        }
        if !self.waiting.is_empty() && self.cache.inactive_blocked {
            // Behind earlier waiters: md's waiters sleep on the same queue.
            self.wait(key, WaitReason::StripeHead);
        } else {
            self.walk(key, arena, false);
        }
        if sync {
            self.unplug();
        }
    }

    /// A flush goes to every working member; the bio ends when all have answered.
    fn flush(&mut self, id: u64) {
        let working: Vec<usize> = (0..self.members.len())
            .filter(|&m| !self.members[m].faulty)
            .collect();
        if working.is_empty() {
            self.stats.bios_failed += 1;
            self.requests.push_back(Raid5Request::BioDone {
                id,
                status: IoStatus::IoError,
            });
            return;
        }
        let key = self.bios.insert(ArrayBio {
            id,
            op: Op::Flush,
            sector: 0,
            sectors: 0,
            buffer: Buffer::empty(),
            fua: false,
            next_sector: 0,
            pending: working.len() as u32,
            status: IoStatus::Ok,
            waiting: None,
        });
        for member in working {
            let tag = Raid5IoTag::Flush {
                bio: key.to_u64(),
                member: member as u8,
            };
            self.requests
                .push_back(Raid5Request::member_flush(tag, member));
        }
    }

    /// md's `chunk_aligned_read`: a read inside one chunk whose member works goes straight
    /// to the member. True if sent.
    fn try_aligned_read(&mut self, key: SlabKey) -> bool {
        let bio = self.bios.get(key).expect("live bio");
        // md's bio_fits_rdev: a read the member's queue would have to split goes through
        // the cache instead.
        if !self.geometry.within_chunk(bio.sector, bio.sectors)
            || bio.sectors > self.member_max_sectors
        {
            return false;
        }
        let location = self.geometry.locate(bio.sector);
        let stripe_sector = location.member_sector - location.member_sector % STRIPE_SECTORS;
        let last = location.member_sector + bio.sectors - 1;
        let member = &self.members[location.data_member];
        let (first_in_sync, last_in_sync) = (
            member.in_sync_at(stripe_sector),
            member.in_sync_at(last - last % STRIPE_SECTORS),
        );
        if !first_in_sync || !last_in_sync {
            if first_in_sync {
                // A spare's recovery_offset lies inside the read: only its first stripes
                // are rebuilt.
                mark!(AlignedReadAcrossRebuildFront);
            }
            return false;
        }
        self.normal_io_sectors[location.data_member] += bio.sectors;
        self.stats.aligned_reads += 1;
        self.stats.member_reads += 1;
        self.requests.push_back(Raid5Request::MemberIo {
            tag: Raid5IoTag::AlignedRead { bio: key.to_u64() },
            member: location.data_member,
            op: Op::Read,
            sector: location.member_sector,
            sectors: u32::try_from(bio.sectors).expect("a chunk fits u32"),
            fua: false,
            buffer: bio.buffer.clone(),
        });
        true
    }

    fn wait(&mut self, key: SlabKey, reason: WaitReason) {
        let bio = self.bios.get_mut(key).expect("live bio");
        debug_assert!(bio.waiting.is_none());
        bio.waiting = Some(reason);
        match reason {
            WaitReason::StripeHead => {
                self.stats.stripe_cache_waits += 1;
                // A writer sleeping for a stripe unplugs the queue (delayed stripes go).
                self.unplug();
            }
            WaitReason::Overlap => self.stats.overlap_waits += 1,
        }
        self.waiting.push_back(key);
    }

    /// The walk of make_request: adds the bio to one stripe head per 4 KiB logical step
    /// until done or a wait. `waiter`: the bio was waiting (it may take a free head while
    /// the cache is blocked refilling).
    fn walk(&mut self, key: SlabKey, arena: &mut Arena, waiter: bool) {
        let mut bound = LoopBound::new("raid5 make_request walk", ITEMS_PER_CALL_MAX);
        loop {
            bound.round();
            let bio = self.bios.get(key).expect("live bio");
            let end = bio.sector + bio.sectors;
            if bio.next_sector >= end {
                break;
            }
            let logical = bio.next_sector;
            let location = self.geometry.locate(logical);
            let head = match self.cache.get_active(
                location.member_sector,
                location.parity_member,
                arena,
                waiter,
            ) {
                Got::Head(head) => head,
                Got::Wait => return self.wait(key, WaitReason::StripeHead),
            };
            let first = bio.sector.max(logical);
            let last = end.min(logical + STRIPE_SECTORS);
            let segment = BioSegment {
                bio: key,
                page_offset: (first - logical) as u32,
                sectors: (last - first) as u32,
                buffer: bio.buffer.slice(first - bio.sector, last - first),
                fua: bio.fua,
            };
            let for_write = bio.op == Op::Write;
            let stripe = self.cache.head_mut(head);
            match stripe.add_bio(location.data_member, segment, for_write) {
                Ok(()) => {
                    stripe.handle = true;
                    let bio = self.bios.get_mut(key).expect("live bio");
                    bio.pending += 1;
                    bio.next_sector = logical + STRIPE_SECTORS;
                    self.release(head);
                }
                Err(_) => {
                    self.release(head);
                    return self.wait(key, WaitReason::Overlap);
                }
            }
        }
        // The walk's own reference.
        self.segment_done(key, IoStatus::Ok);
    }

    /// One segment (or the walk) of a bio finished with `status`.
    pub(crate) fn segment_done(&mut self, key: SlabKey, status: IoStatus) {
        let bio = self.bios.get_mut(key).expect("segment of a live bio");
        bio.status = bio.status.worst(status);
        assert!(bio.pending > 0, "bio {} finished twice", bio.id);
        bio.pending -= 1;
        if bio.pending == 0 {
            let bio = self.bios.remove(key).expect("live bio");
            if !bio.status.is_ok() {
                self.stats.bios_failed += 1;
            }
            if bio.op == Op::Write {
                self.write_ended();
            }
            self.requests.push_back(Raid5Request::BioDone {
                id: bio.id,
                status: bio.status,
            });
        }
    }

    pub(crate) fn release(&mut self, head: usize) {
        if self.cache.release(head) && self.plugged_until_ns.is_none() {
            // md plugs the queue when a stripe is delayed.
            self.plugged_until_ns = Some(self.now_ns + self.config.unplug_delay_ns);
        }
    }

    pub(crate) fn unplug(&mut self) {
        self.plugged_until_ns = None;
        self.cache.activate_delayed();
    }

    /// A member IO finished.
    pub fn complete_member_io(
        &mut self,
        now_ns: u64,
        arena: &mut Arena,
        tag: Raid5IoTag,
        status: IoStatus,
    ) {
        self.set_now(now_ns);
        match tag {
            Raid5IoTag::Stripe { stripe, member } => {
                let (head, member) = (stripe as usize, usize::from(member));
                let dev = &mut self.cache.head_mut(head).members[member];
                match (dev.buffer.phase(), status.is_ok()) {
                    (BufferPhase::Want, true) => dev.apply(BufferTransition::ReadDone),
                    (BufferPhase::Want, false) => {
                        dev.apply(BufferTransition::ReadFailed);
                        self.stats.read_errors += 1;
                        self.count_read_error(member);
                    }
                    (BufferPhase::Dirty, true) => dev.apply(BufferTransition::WriteDone),
                    (BufferPhase::Dirty, false) => {
                        dev.apply(BufferTransition::WriteFailed);
                        self.stats.write_errors += 1;
                        self.mark_faulty(member);
                    }
                    (phase, _) => {
                        panic!("raid5 completion for stripe {head} member {member} in {phase:?}")
                    }
                }
                self.cache.head_mut(head).handle = true;
                self.release(head);
            }
            Raid5IoTag::AlignedRead { bio } => {
                let key = SlabKey::from_u64(bio);
                if status.is_ok() {
                    self.segment_done(key, IoStatus::Ok);
                } else {
                    // Retry through the stripe cache, which repairs the error.
                    self.stats.aligned_read_retries += 1;
                    self.stats.read_errors += 1;
                    let member = self
                        .geometry
                        .locate(self.bios.get(key).expect("live").sector);
                    self.count_read_error(member.data_member);
                    self.walk(key, arena, false);
                }
            }
            Raid5IoTag::Flush { bio, .. } => {
                self.segment_done(SlabKey::from_u64(bio), status);
            }
            Raid5IoTag::Metadata { member } => {
                self.metadata_io_done(usize::from(member), status, arena);
            }
        }
        self.run_daemon(arena);
    }

    /// md's `raid5d`: wakes waiting bios, activates delayed stripes when allowed, and
    /// handles stripes until nothing moves.
    pub(crate) fn run_daemon(&mut self, arena: &mut Arena) {
        let mut bound = LoopBound::new("raid5d", DAEMON_ROUNDS_MAX);
        loop {
            bound.round();
            self.update_metadata(arena);
            let mut moved = self.wake_waiters(arena);
            moved |= self.feed_sync(arena);
            if self.cache.handle_list_empty()
                && self.plugged_until_ns.is_none()
                && self.cache.activate_delayed() > 0
            {
                moved = true;
            }
            if self.failure_unrecorded() {
                // Stripes wait until the failure is on the members (a restart must not
                // trust a member that missed writes).
            } else if let Some(head) = self
                .cache
                .next_to_handle(self.config.preread_bypass_threshold)
            {
                self.handle_stripe(head, arena);
                self.release(head);
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }

    /// Lets waiting bios try again, in arrival order. True if any made progress.
    fn wake_waiters(&mut self, arena: &mut Arena) -> bool {
        let mut progressed = false;
        let count = self.waiting.len();
        for _ in 0..count {
            let key = self.waiting.pop_front().expect("counted");
            let bio = self.bios.get_mut(key).expect("waiting bio is live");
            let reason = bio.waiting.take().expect("waiting bio has a reason");
            if reason == WaitReason::StripeHead && !self.cache.free_head_available() {
                self.bios.get_mut(key).expect("live").waiting = Some(reason);
                self.waiting.push_back(key);
                continue;
            }
            let before = self.bios.get(key).expect("live").next_sector;
            self.walk(key, arena, reason == WaitReason::StripeHead);
            let after = self.bios.get(key).map(|b| (b.next_sector, b.waiting));
            match after {
                // Waiting again at the same place: no progress; it was re-queued at the back,
                // so rotate the queue back to arrival order.
                // A wait for the same thing goes on: it was counted when it began, so the
                // count `wait` just added is undone. A wait for something else at the same
                // place (a head found, then an overlap) is a new wait and stays counted.
                Some((next, Some(again))) if next == before => match (reason, again) {
                    (WaitReason::StripeHead, WaitReason::StripeHead) => {
                        self.stats.stripe_cache_waits -= 1
                    }
                    (WaitReason::Overlap, WaitReason::Overlap) => self.stats.overlap_waits -= 1,
                    _ => {}
                },
                _ => progressed = true,
            }
        }
        progressed
    }

    /// Array bios inside the machine (admitted, not yet ended by a `BioDone` request).
    pub fn bios_in_flight(&self) -> usize {
        self.bios.len() + self.bios_held()
    }

    /// Bios whose walk waits for a stripe head or an overlapping bio.
    pub fn bios_waiting(&self) -> usize {
        self.waiting.len()
    }

    /// What keeps the machine from being idle, for a stall report.
    pub fn busy_summary(&self) -> String {
        let sync = self.sync.as_ref().map_or("none".to_string(), |s| {
            format!(
                "{} at {} ({} stripes active {:?}, throttled until {:?})",
                s.action.name(),
                s.next_sector,
                s.active,
                s.in_flight.iter().take(4).collect::<Vec<_>>(),
                s.throttled_until_ns
            )
        });
        let busy_heads = self
            .cache
            .heads()
            .iter()
            .filter(|h| h.count > 0 || !h.is_quiet())
            .count();
        format!(
            "sync pass {sync}; metadata {:?}; {} bios, {} waiting; {busy_heads} stripe heads \
             busy, {} requests queued, plug until {:?}",
            self.metadata.as_ref().map(|m| m.summary()),
            self.bios.len(),
            self.waiting.len(),
            self.requests.len(),
            self.plugged_until_ns
        )
    }

    /// Checks the machine's bookkeeping.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.cache.check_invariants()?;
        self.check_bios()
    }

    /// [`Raid5::check_invariants`] for a check after every input: the stripe cache checks
    /// the heads changed since the last call, and every head every
    /// [`FULL_CHECK_EVERY_CALLS`](super::FULL_CHECK_EVERY_CALLS)th call.
    pub fn check_invariants_incremental(&mut self) -> Result<(), String> {
        self.cache.check_invariants_incremental()?;
        self.check_bios()
    }

    /// The bios and their waiting queue (both checks).
    fn check_bios(&self) -> Result<(), String> {
        self.bios.check()?;
        for &key in &self.waiting {
            match self.bios.get(key) {
                Some(bio) if bio.waiting.is_some() => {}
                _ => return Err(format!("raid5 waiter {} not a waiting bio", key.to_u64())),
            }
        }
        let (mut waiting, mut writes) = (0usize, 0usize);
        for (_, bio) in self.bios.iter() {
            waiting += usize::from(bio.waiting.is_some());
            writes += usize::from(bio.op == Op::Write);
        }
        if waiting != self.waiting.len() {
            return Err(format!(
                "raid5: {waiting} bios wait but {} are queued",
                self.waiting.len()
            ));
        }
        self.check_writes_in_flight(writes)
    }
}
