//! The array's persistent state (md's superblock, safemode and write-intent bitmap; see
//! [`super::superblock`] for the format): what is written to the members, when, and what
//! an array that starts reads back.
//!
//! - **Assembly**: an array with a superblock starts by reading every member's metadata
//!   pages; bios wait meanwhile. A member that cannot be read, holds garbage, or is more than
//!   one superblock write behind the freshest is failed, as are the roles the freshest
//!   superblock records as failed. Members all zero: a new array (zeros are consistent
//!   parity). If any superblock says dirty, a **resync** pass recomputes parity (only over
//!   the chunks set in any member's bitmap, when there is one); a degraded dirty array
//!   cannot resync and starts with its write hole exposed.
//! - **Dirty marking** (md's `md_write_start`): a write waits until the superblock on every
//!   working member says dirty and the bitmap bits of the chunks it touches are set; the
//!   metadata write is issued by the first write that needs it, and no array write starts
//!   while a metadata write is in flight (a clean-marking landing after a data write would
//!   lie).
//! - **Safemode**: `safe_mode_delay_ns` after the last write ended, with no write in the
//!   array and no resync owed, the superblock is marked clean and the bitmap cleared (bits
//!   are cleared lazily, all at once).
//! - **Durability** (md's `md_super_write`, PREFLUSH and FUA): a member with a volatile write
//!   cache is flushed before its metadata write, which goes with FUA; so a superblock never
//!   claims more than the member holds durably (regression 012).
//! - **Failures** are recorded: a member that fails (or a role being rebuilt) is written as
//!   failed, and no stripe is handled until that is on the members (md's
//!   `MD_SB_CHANGE_PENDING`), so a restart never trusts a member that missed writes.
//!
//! The write hole: [`Raid5::stripe_needs_resync`] says which stripes may still have stale
//! parity; a member failing while some do counts their data on it in
//! `write_hole_exposed_sectors` (data reconstructed there may be wrong; the simulator's
//! oracle judges those sectors as unknown).
//!
//! Deliberately simplified: a rebuilding spare is recorded as a failed role, so after a
//! restart it must be added again (its progress is not checkpointed); a restart assembles
//! the role devices it is given (the superblock records no device identity).

use super::geometry::STRIPE_SECTORS;
use super::instance::Raid5;
use super::io::{Raid5IoTag, Raid5Request};
use super::parity::read_page;
use super::superblock::{Found, Superblock, METADATA_BYTES, METADATA_SECTORS};
use super::sync::{SyncAction, SyncPass};
use crate::arena::{Arena, Buffer, PageId};
use crate::block::{IoStatus, Op, PAGE_SIZE};
use std::collections::VecDeque;

/// A bio waiting for assembly or for the dirty marking.
#[derive(Debug, Clone)]
pub(crate) struct HeldBio {
    pub id: u64,
    pub op: Op,
    pub sector: u64,
    pub sectors: u64,
    pub buffer: Buffer,
    pub sync: bool,
    /// A write with FUA (REQ_FUA).
    pub fua: bool,
}

/// What the members hold (or will, once a metadata write lands on all of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Persisted {
    pub dirty: bool,
    pub faulty_roles: u16,
    pub bitmap: Vec<u8>,
}

/// A metadata write in flight: md's `md_super_write` on every working member, a write with
/// PREFLUSH and FUA. A member with a volatile write cache is flushed first and then written
/// with FUA, so what the superblock says is durable, and so is every write that completed
/// before it (a clean marking never lands ahead of the data it vouches for); elsewhere the
/// block layer drops both flags and the write goes at once.
#[derive(Debug)]
struct MetadataWrite {
    image: Persisted,
    /// Member writes not yet ended (a member still flushing counts).
    pending: u32,
    /// Per member: its preflush is in flight, its write not yet issued.
    flushing: Vec<bool>,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct ArrayState {
    /// First sector of the metadata pages on every member.
    metadata_sector: u64,
    /// Each member's two metadata pages (its reads at assembly, its writes).
    pages: Vec<[PageId; 2]>,
    bitmap_chunk_sectors: Option<u64>,
    bitmap_bytes: usize,
    /// Assembly reads not yet answered, and what each member held.
    assembling: Option<u32>,
    found: Vec<Option<Found>>,
    events: u64,
    on_disk: Persisted,
    /// The metadata write in flight.
    writing: Option<MetadataWrite>,
    /// Bitmap bits writes in the array need (cleared when the array is marked clean).
    wanted_bitmap: Vec<u8>,
    pub held: VecDeque<HeldBio>,
    /// Write bios in the array (held or admitted), and when the last one ended.
    writes_in_flight: u64,
    last_write_ns: u64,
    /// The array was dirty at assembly and its resync has not finished.
    pub resync_needed: bool,
    /// The bitmap the resync covers (`None`: every stripe).
    resync_bitmap: Option<Vec<u8>>,
    /// Member sectors below this are resynced.
    pub resynced_below: u64,
}

fn bit(bitmap: &[u8], index: u64) -> bool {
    bitmap[(index / 8) as usize] & (1 << (index % 8)) != 0
}

/// Every wanted bit is on disk (a fold rather than an early exit, so it vectorises).
fn bitmap_covers(on_disk: &[u8], wanted: &[u8]) -> bool {
    on_disk
        .iter()
        .zip(wanted)
        .fold(0u8, |missing, (d, w)| missing | (w & !d))
        == 0
}

/// No bit is set.
fn all_clear(bitmap: &[u8]) -> bool {
    bitmap.iter().fold(0u8, |set, b| set | b) == 0
}

impl ArrayState {
    /// The state of an array whose metadata pages start at `metadata_sector` of every member,
    /// with `pages` (two per member) from the arena; assembly starts at once.
    pub fn new(
        metadata_sector: u64,
        pages: &[PageId],
        bitmap_chunk_sectors: Option<u64>,
        member_sectors: u64,
    ) -> ArrayState {
        assert_eq!(pages.len() % 2, 0);
        let members = pages.len() / 2;
        let bitmap_bytes = usize::try_from(
            bitmap_chunk_sectors.map_or(0, |chunk| member_sectors.div_ceil(chunk).div_ceil(8)),
        )
        .expect("a bitmap page");
        assert!(bitmap_bytes <= PAGE_SIZE, "the bitmap fits one page");
        ArrayState {
            metadata_sector,
            pages: pages.chunks_exact(2).map(|p| [p[0], p[1]]).collect(),
            bitmap_chunk_sectors,
            bitmap_bytes,
            assembling: Some(members as u32),
            found: vec![None; members],
            events: 0,
            on_disk: Persisted {
                dirty: false,
                faulty_roles: 0,
                bitmap: vec![0; bitmap_bytes],
            },
            writing: None,
            wanted_bitmap: vec![0; bitmap_bytes],
            held: VecDeque::new(),
            writes_in_flight: 0,
            last_write_ns: 0,
            resync_needed: false,
            resync_bitmap: None,
            resynced_below: 0,
        }
    }

    /// `member`'s write of its metadata pages (filled already), with FUA or not.
    fn metadata_write(&self, member: usize, fua: bool) -> Raid5Request {
        Raid5Request::MemberIo {
            tag: Raid5IoTag::Metadata {
                member: member as u8,
            },
            member,
            op: Op::Write,
            sector: self.metadata_sector,
            sectors: METADATA_SECTORS as u32,
            fua,
            buffer: Buffer::from_pages(self.pages[member].to_vec()),
        }
    }

    /// The superblock on the members says dirty.
    pub fn is_dirty(&self) -> bool {
        self.on_disk.dirty
    }

    /// Bitmap chunks set on the members.
    pub fn bitmap_dirty_chunks(&self) -> u64 {
        self.on_disk
            .bitmap
            .iter()
            .map(|b| u64::from(b.count_ones()))
            .sum()
    }

    /// The state in a few words, for a stall report.
    pub fn summary(&self) -> String {
        format!(
            "assembling {:?}, writing {}, on disk dirty {}, {} bits, {} held, {} writes in \
             flight, resync needed {} (done below {})",
            self.assembling,
            self.writing.is_some(),
            self.on_disk.dirty,
            self.bitmap_dirty_chunks(),
            self.held.len(),
            self.writes_in_flight,
            self.resync_needed,
            self.resynced_below
        )
    }

    pub fn is_assembling(&self) -> bool {
        self.assembling.is_some()
    }

    /// When the array is due to be marked clean, if it is waiting for that.
    fn safemode_deadline(&self, delay_ns: u64) -> Option<u64> {
        (self.on_disk.dirty
            && self.assembling.is_none()
            && self.writing.is_none()
            && self.writes_in_flight == 0
            && self.held.is_empty()
            && !self.resync_needed)
            .then_some(self.last_write_ns + delay_ns)
    }

    /// Nothing in flight and nothing owed but a resync (which runs as a sync pass).
    pub fn is_idle(&self) -> bool {
        self.assembling.is_none()
            && self.writing.is_none()
            && self.held.is_empty()
            && !(self.on_disk.dirty && self.writes_in_flight == 0 && !self.resync_needed)
    }
}

impl Raid5 {
    /// The roles not fully in sync (failed, or a spare being rebuilt), as the superblock
    /// records them.
    fn degraded_roles(&self) -> u16 {
        self.members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.degraded())
            .fold(0, |mask, (role, _)| mask | 1 << role)
    }

    /// Queues the assembly reads (called once, by `Raid5::new`).
    pub(crate) fn start_assembly(&mut self) {
        let state = self.metadata.as_ref().expect("a superblock");
        for (member, pages) in state.pages.iter().enumerate() {
            self.requests.push_back(Raid5Request::MemberIo {
                tag: Raid5IoTag::Metadata {
                    member: member as u8,
                },
                member,
                op: Op::Read,
                sector: state.metadata_sector,
                sectors: METADATA_SECTORS as u32,
                fua: false,
                buffer: Buffer::from_pages(pages.to_vec()),
            });
        }
    }

    /// True if a read or write bio must wait (assembly, dirty marking); a write is counted
    /// and its bitmap bits wanted whether it waits or not.
    pub(crate) fn hold_bio(&mut self, bio: HeldBio) -> Option<HeldBio> {
        let Some(state) = self.metadata.as_mut() else {
            return Some(bio);
        };
        if bio.op == Op::Write {
            state.writes_in_flight += 1;
            if let Some(chunk) = state.bitmap_chunk_sectors {
                let data = self.geometry.chunk_sectors() * self.geometry.data_members() as u64;
                let first_row = bio.sector / data;
                let last_row = (bio.sector + bio.sectors - 1) / data;
                let first = first_row * self.geometry.chunk_sectors() / chunk;
                let last = ((last_row + 1) * self.geometry.chunk_sectors() - 1) / chunk;
                for index in first..=last {
                    state.wanted_bitmap[(index / 8) as usize] |= 1 << (index % 8);
                }
            }
        }
        if self.must_wait(&bio) {
            self.metadata.as_mut().expect("checked").held.push_back(bio);
            None
        } else {
            Some(bio)
        }
    }

    fn must_wait(&self, bio: &HeldBio) -> bool {
        let state = self.metadata.as_ref().expect("a superblock");
        if state.assembling.is_some() {
            return true;
        }
        bio.op == Op::Write
            && (state.writing.is_some()
                || !state.on_disk.dirty
                || !bitmap_covers(&state.on_disk.bitmap, &state.wanted_bitmap))
    }

    /// md counts a write from its dirty marking until it ends (safemode waits for none in
    /// flight): the count is the array's write bios, held for the marking or admitted
    /// (`admitted_writes`).
    pub(crate) fn check_writes_in_flight(&self, admitted_writes: usize) -> Result<(), String> {
        let Some(state) = self.metadata.as_ref() else {
            return Ok(());
        };
        let held_writes = state.held.iter().filter(|b| b.op == Op::Write).count();
        let writes = (held_writes + admitted_writes) as u64;
        if state.writes_in_flight != writes {
            return Err(format!(
                "raid5: {} writes in flight counted, {held_writes} held + {admitted_writes} admitted",
                state.writes_in_flight
            ));
        }
        Ok(())
    }

    /// A write bio of the array ended (any status).
    pub(crate) fn write_ended(&mut self) {
        if let Some(state) = self.metadata.as_mut() {
            assert!(state.writes_in_flight > 0, "a write ended twice");
            state.writes_in_flight -= 1;
            state.last_write_ns = self.now_ns;
        }
    }

    /// A failure not yet on the members: stripes wait (md's `MD_SB_CHANGE_PENDING`).
    pub(crate) fn failure_unrecorded(&self) -> bool {
        self.metadata.as_ref().is_some_and(|state| {
            state.assembling.is_none() && state.on_disk.faulty_roles != self.degraded_roles()
        })
    }

    /// When the array is due to be marked clean (a deadline of the machine).
    pub(crate) fn safemode_deadline(&self) -> Option<u64> {
        self.metadata
            .as_ref()
            .and_then(|state| state.safemode_deadline(self.config.safe_mode_delay_ns))
    }

    /// Issues the metadata write the array needs now, if any and none is in flight: dirty
    /// marking and bitmap bits for waiting writes, a failure to record, or (safemode due)
    /// the clean marking.
    pub(crate) fn update_metadata(&mut self, arena: &mut Arena) {
        let faulty_roles = self.degraded_roles();
        let clean_due = self.safemode_deadline().is_some_and(|at| at <= self.now_ns);
        let Some(state) = self.metadata.as_mut() else {
            return;
        };
        if state.assembling.is_some() || state.writing.is_some() {
            return;
        }
        // Decided without building the image: this runs on every daemon pass, and the
        // bitmap is up to a page.
        let dirty = !clean_due && (state.on_disk.dirty || state.writes_in_flight > 0);
        if clean_due {
            state.wanted_bitmap.fill(0);
        }
        debug_assert_eq!(state.on_disk.bitmap.len(), state.wanted_bitmap.len());
        let bitmap_unchanged = if clean_due {
            all_clear(&state.on_disk.bitmap)
        } else {
            bitmap_covers(&state.on_disk.bitmap, &state.wanted_bitmap)
        };
        if dirty == state.on_disk.dirty
            && faulty_roles == state.on_disk.faulty_roles
            && bitmap_unchanged
        {
            return;
        }
        let image = Persisted {
            dirty,
            faulty_roles,
            bitmap: if clean_due {
                vec![0; state.bitmap_bytes]
            } else {
                state
                    .on_disk
                    .bitmap
                    .iter()
                    .zip(&state.wanted_bitmap)
                    .map(|(d, w)| d | w)
                    .collect()
            },
        };
        debug_assert_ne!(image, state.on_disk);
        state.events += 1;
        let superblock = Superblock {
            events: state.events,
            dirty: image.dirty,
            faulty_roles: image.faulty_roles,
            members: self.geometry.members() as u8,
            chunk_sectors: self.geometry.chunk_sectors(),
            member_sectors: self.geometry.member_sectors(),
            bitmap_chunk_sectors: state.bitmap_chunk_sectors.unwrap_or(0),
            bitmap: image.bitmap.clone(),
        };
        let mut bytes = Box::new([0u8; METADATA_BYTES]);
        superblock.encode(&mut bytes);
        let mut writes = 0;
        let mut flushing = vec![false; self.geometry.members()];
        for member in (0..self.geometry.members()).filter(|&m| !self.members[m].faulty) {
            let pages = state.pages[member];
            arena
                .bytes_mut(pages[0])
                .copy_from_slice(&bytes[..PAGE_SIZE]);
            arena
                .bytes_mut(pages[1])
                .copy_from_slice(&bytes[PAGE_SIZE..]);
            let request = if self.volatile_write_cache[member] {
                flushing[member] = true;
                let tag = Raid5IoTag::Metadata {
                    member: member as u8,
                };
                Raid5Request::member_flush(tag, member)
            } else {
                state.metadata_write(member, false)
            };
            self.requests.push_back(request);
            writes += 1;
        }
        self.stats.metadata_writes += 1;
        state.writing = Some(MetadataWrite {
            image,
            pending: writes,
            flushing,
        });
        if writes == 0 {
            // No member left to write to: nothing more can be recorded.
            self.metadata_write_landed(arena);
        }
    }

    /// A metadata read or write of `member` finished.
    pub(crate) fn metadata_io_done(&mut self, member: usize, status: IoStatus, arena: &mut Arena) {
        let state = self.metadata.as_mut().expect("a superblock");
        if let Some(pending) = state.assembling.as_mut() {
            *pending -= 1;
            state.found[member] = Some(if status.is_ok() {
                let mut bytes = Box::new([0u8; METADATA_BYTES]);
                let pages = state.pages[member];
                let (first, second) = bytes.split_at_mut(PAGE_SIZE);
                read_page(arena, pages[0], first.try_into().expect("a page"));
                read_page(arena, pages[1], second.try_into().expect("a page"));
                Superblock::decode(&bytes, state.bitmap_bytes)
            } else {
                Found::Invalid
            });
            if *pending == 0 {
                self.assembled(arena);
            }
            return;
        }
        let write = state.writing.as_mut().expect("a metadata write in flight");
        if std::mem::take(&mut write.flushing[member]) && status.is_ok() {
            // The preflush is done: now the write itself, durable when it completes.
            let request = state.metadata_write(member, true);
            self.requests.push_back(request);
            return;
        }
        // A failed preflush fails the write (md_error from super_written).
        if !status.is_ok() {
            self.stats.write_errors += 1;
            self.mark_faulty(member);
        }
        let state = self.metadata.as_mut().expect("a superblock");
        let write = state.writing.as_mut().expect("a metadata write in flight");
        assert!(
            write.pending > 0 && !write.flushing[member],
            "metadata write of member {member} ended twice or before its preflush"
        );
        write.pending -= 1;
        if write.pending == 0 {
            self.metadata_write_landed(arena);
        }
    }

    fn metadata_write_landed(&mut self, arena: &mut Arena) {
        let state = self.metadata.as_mut().expect("a superblock");
        let write = state.writing.take().expect("a metadata write in flight");
        debug_assert!(write.flushing.iter().all(|&f| !f), "landed while flushing");
        state.on_disk = write.image;
        self.release_held(arena);
    }

    /// Admits the waiting bios that may go now, in arrival order.
    fn release_held(&mut self, arena: &mut Arena) {
        let held = std::mem::take(&mut self.metadata.as_mut().expect("a superblock").held);
        for bio in held {
            if self.must_wait(&bio) {
                self.metadata
                    .as_mut()
                    .expect("a superblock")
                    .held
                    .push_back(bio);
            } else {
                self.admit(arena, bio);
            }
        }
    }

    /// Every member answered: decide the array's state (see the module documentation).
    fn assembled(&mut self, arena: &mut Arena) {
        let members = self.geometry.members();
        let state = self.metadata.as_mut().expect("a superblock");
        state.assembling = None;
        let expected = |sb: &Superblock| {
            usize::from(sb.members) == members
                && sb.chunk_sectors == self.geometry.chunk_sectors()
                && sb.member_sectors == self.geometry.member_sectors()
                && sb.bitmap_chunk_sectors == state.bitmap_chunk_sectors.unwrap_or(0)
        };
        // Events per member (fresh: 0), or None for a member that cannot be trusted.
        let events: Vec<Option<u64>> = state
            .found
            .iter()
            .map(|found| match found.as_ref().expect("answered") {
                Found::Fresh => Some(0),
                Found::Valid(sb) if expected(sb) => Some(sb.events),
                Found::Valid(_) | Found::Invalid => None,
            })
            .collect();
        let newest = events.iter().flatten().copied().max().unwrap_or(0);
        let mut on_disk = Persisted {
            dirty: false,
            faulty_roles: 0,
            bitmap: vec![0; state.bitmap_bytes],
        };
        let mut failed: Vec<usize> = Vec::new();
        for (member, found) in state.found.iter().enumerate() {
            match (events[member], found.as_ref().expect("answered")) {
                (Some(e), _) if e + 1 < newest => failed.push(member),
                (Some(_), Found::Valid(sb)) => {
                    on_disk.dirty |= sb.dirty;
                    for (d, b) in on_disk.bitmap.iter_mut().zip(&sb.bitmap) {
                        *d |= b;
                    }
                    if sb.events == newest {
                        on_disk.faulty_roles |= sb.faulty_roles;
                    }
                }
                (Some(_), _) => {}
                (None, _) => failed.push(member),
            }
        }
        state.events = newest;
        // Writes held during the assembly already asked for their bits (`hold_bio`): keep
        // them, so those writes wait for the bitmap write like any other (regression 016).
        assert_eq!(
            state.wanted_bitmap.len(),
            on_disk.bitmap.len(),
            "one bitmap size"
        );
        for (wanted, found) in state.wanted_bitmap.iter_mut().zip(&on_disk.bitmap) {
            *wanted |= found;
        }
        state.resync_bitmap = state.bitmap_chunk_sectors.map(|_| on_disk.bitmap.clone());
        let dirty = on_disk.dirty;
        let recorded = on_disk.faulty_roles;
        state.on_disk = on_disk;
        self.stats.assemblies += 1;
        // Failed before the resync is owed: the exposure is counted once, below.
        for member in 0..members {
            if recorded & (1 << member) != 0 || failed.contains(&member) {
                self.mark_faulty(member);
            }
        }
        self.metadata.as_mut().expect("a superblock").resync_needed = dirty;
        if dirty {
            self.stats.dirty_assemblies += 1;
            match self.degraded() {
                0 => {
                    self.mismatch_sectors = 0;
                    self.sync = Some(SyncPass::new(
                        SyncAction::Resync,
                        self.now_ns,
                        &self.normal_io_sectors,
                    ));
                }
                1 => {
                    let member = self
                        .members
                        .iter()
                        .position(|m| m.degraded())
                        .expect("one degraded");
                    self.count_write_hole_exposure(member);
                }
                _ => {}
            }
        }
        self.release_held(arena);
    }

    /// The stripe at member sector `sector` may have parity that disagrees with its data
    /// (the array was dirty at assembly and the resync has not covered it yet; while the
    /// array assembles, any stripe may).
    pub fn stripe_needs_resync(&self, sector: u64) -> bool {
        let Some(state) = self.metadata.as_ref() else {
            return false;
        };
        if state.assembling.is_some() {
            return true;
        }
        if !state.resync_needed || sector < state.resynced_below {
            return false;
        }
        match (&state.resync_bitmap, state.bitmap_chunk_sectors) {
            (Some(bitmap), Some(chunk)) => bit(bitmap, sector / chunk),
            _ => true,
        }
    }

    /// The resync skips stripes of clean bitmap chunks: the first member sector at or after
    /// `sector` it must do (`end` if none).
    pub(crate) fn next_resync_sector(&self, sector: u64, end: u64) -> u64 {
        let state = self.metadata.as_ref().expect("a resync has a superblock");
        let (Some(bitmap), Some(chunk)) = (&state.resync_bitmap, state.bitmap_chunk_sectors) else {
            return sector;
        };
        let mut at = sector;
        while at < end && !bit(bitmap, at / chunk) {
            at = (at / chunk + 1) * chunk;
        }
        at.min(end)
    }

    /// `member` failed while stripes may still have stale parity: its data there is
    /// reconstructed from that parity and may be wrong (the write hole).
    /// The exposed pages are told to the caller as [`Raid5Request::ContentsUnknown`] (runs of
    /// consecutive array sectors merged).
    pub(crate) fn count_write_hole_exposure(&mut self, member: usize) {
        let mut exposed = 0;
        let mut run: Option<(u64, u64)> = None;
        let mut sector = 0;
        while sector < self.geometry.member_sectors() {
            if self.stripe_needs_resync(sector)
                && self.geometry.parity_member(self.geometry.row_of(sector)) != member
            {
                exposed += STRIPE_SECTORS;
                let logical = self.geometry.logical_sector(member, sector);
                run = match run {
                    Some((start, sectors)) if start + sectors == logical => {
                        Some((start, sectors + STRIPE_SECTORS))
                    }
                    Some((start, sectors)) => {
                        self.requests.push_back(Raid5Request::ContentsUnknown {
                            sector: start,
                            sectors,
                        });
                        Some((logical, STRIPE_SECTORS))
                    }
                    None => Some((logical, STRIPE_SECTORS)),
                };
            }
            sector += STRIPE_SECTORS;
        }
        if let Some((start, sectors)) = run {
            self.requests.push_back(Raid5Request::ContentsUnknown {
                sector: start,
                sectors,
            });
        }
        self.stats.write_hole_exposed_sectors += exposed;
    }

    /// `member`'s data page at `member_sector` was computed after a read error in a stripe
    /// that still needed its resync: the write hole on one page. Counted, and told to the
    /// caller ([`Raid5Request::ContentsUnknown`]).
    pub(crate) fn note_read_error_exposure(&mut self, member: usize, member_sector: u64) {
        self.stats.write_hole_exposed_sectors += STRIPE_SECTORS;
        self.requests.push_back(Raid5Request::ContentsUnknown {
            sector: self.geometry.logical_sector(member, member_sector),
            sectors: STRIPE_SECTORS,
        });
    }

    /// A resync pass's progress: stripes below `done_below` are resynced; `finished`: the
    /// pass covered every stripe.
    pub(crate) fn resync_progress(&mut self, done_below: u64, finished: bool) {
        let member_sectors = self.geometry.member_sectors();
        let state = self.metadata.as_mut().expect("a resync has a superblock");
        state.resynced_below = state.resynced_below.max(done_below);
        if finished {
            state.resync_needed = false;
            state.resync_bitmap = None;
            state.resynced_below = member_sectors;
            state.last_write_ns = self.now_ns;
            self.stats.resyncs += 1;
        }
    }

    /// The array's persistent state, for observation: (superblock dirty, bitmap chunks set).
    pub fn array_state(&self) -> Option<(bool, u64)> {
        self.metadata
            .as_ref()
            .map(|state| (state.is_dirty(), state.bitmap_dirty_chunks()))
    }

    /// Bios waiting for assembly or the dirty marking.
    pub(crate) fn bios_held(&self) -> usize {
        self.metadata.as_ref().map_or(0, |state| state.held.len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Raid5, Raid5Config, Raid5IoTag, Raid5Request};
    use super::METADATA_SECTORS;
    use crate::arena::Arena;
    use crate::block::{DeviceInfo, Op};

    fn config(superblock: bool, bitmap_chunk_sectors: Option<u64>) -> Raid5Config {
        Raid5Config {
            superblock,
            bitmap_chunk_sectors,
            stripe_cache_size: 17,
            ..Raid5Config::new(32)
        }
    }

    #[test]
    fn a_superblock_takes_the_members_last_pages_and_assembly_reads_them_first() {
        // Two chunks more than 1024 sectors: the metadata takes its 16 at the end, and
        // whole chunks of the rest hold data.
        let members = vec![DeviceInfo::new(1024 + 64, 512); 4];
        let mut arena = Arena::new(256);
        let mut raid = Raid5::new(&config(true, Some(64)), &members, &mut arena).unwrap();
        assert_eq!(raid.geometry().member_sectors(), 1056);
        let mut reads = Vec::new();
        while let Some(request) = raid.poll_request() {
            let Raid5Request::MemberIo {
                tag,
                member,
                op,
                sector,
                sectors,
                ..
            } = request
            else {
                panic!("no bio can end before assembly: {request:?}");
            };
            assert_eq!(
                tag,
                Raid5IoTag::Metadata {
                    member: member as u8
                }
            );
            assert_eq!(
                (op, sector, u64::from(sectors)),
                (Op::Read, 1088 - METADATA_SECTORS, METADATA_SECTORS)
            );
            reads.push(member);
        }
        assert_eq!(reads, vec![0, 1, 2, 3]);
        assert!(!raid.is_idle(), "assembling");
        assert!(raid.stripe_needs_resync(0), "unknown until assembled");
        // Without a superblock the members' whole size holds data.
        let raid = Raid5::new(&config(false, None), &members, &mut arena).unwrap();
        assert_eq!(raid.geometry().member_sectors(), 1088);
        assert!(raid.is_idle() && raid.array_state().is_none());
    }

    #[test]
    fn an_impossible_bitmap_names_its_field() {
        let small = vec![DeviceInfo::new(1024 + METADATA_SECTORS, 512); 4];
        let large = vec![DeviceInfo::new((1 << 20) + METADATA_SECTORS, 512); 4];
        let mut arena = Arena::new(256);
        for (members, config) in [
            (&small, config(false, Some(64))),
            (&small, config(true, Some(48))),
            (&small, config(true, Some(4))),
            (&large, config(true, Some(8))),
        ] {
            let error = Raid5::new(&config, members, &mut arena).unwrap_err();
            assert!(
                error.to_string().starts_with("bitmap_chunk_sectors: "),
                "{error}"
            );
        }
        assert!(Raid5::new(&config(true, Some(32)), &large, &mut arena).is_ok());
    }

    #[test]
    fn a_write_counted_in_flight_that_is_not_is_named() {
        let members = vec![DeviceInfo::new(1024 + 64, 512); 4];
        let mut arena = Arena::new(256);
        let mut raid = Raid5::new(&config(true, Some(64)), &members, &mut arena).unwrap();
        raid.check_invariants().unwrap();
        raid.metadata.as_mut().unwrap().writes_in_flight += 1;
        assert_eq!(
            raid.check_invariants().unwrap_err(),
            "raid5: 1 writes in flight counted, 0 held + 0 admitted"
        );
    }
}
