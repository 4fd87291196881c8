//! The engine's buffer memory: aligned 4 KiB pages allocated once (DESIGN.md invariant 3).
//!
//! Owns page allocation, each page's content tag, and in-flight tracking. A page's content is
//! either *sectors* — eight [`SectorContent`] values, the compact form simulated devices and
//! workload data use — or *bytes* — the page memory itself is authoritative (engine metadata,
//! or what a real device read returned; sector contents are then obtained by decoding).
//!
//! Two kinds of access, for two parties:
//! - The engine (targets, dm_io, kcopyd, bios) uses the *checked* accessors ([`Arena::sector`],
//!   [`Arena::set_sector`], [`Arena::bytes`], [`Arena::bytes_mut`]). They panic if the sector
//!   or page is in flight: a page is in flight from the `Submit` of a device IO naming it until
//!   that IO's `Completion`, and the engine may not touch it meanwhile.
//! - The platform carrying out device IO uses the `io_*` accessors, [`Arena::materialize`] and
//!   [`Arena::mark_bytes`]; they are meant for pages in flight and do not check. A simulated
//!   platform reads and writes sector contents (`io_sector`, `io_set_sector`); a real one
//!   calls [`Arena::materialize_buffer`] before submitting and then lets the device read and
//!   write the page memory directly.
//!
//! Pages are freed by their owner with [`Arena::release`]; a page released while still in
//! flight (the buffer of a zombie IO) returns to the free list only when its last IO
//! completes.
//!
//! Deliberately not here: which IO a page belongs to (the IO table knows), and any unsafe
//! code. The backing memory is a `Vec` of `#[repr(C, align(4096))]` pages, so the real
//! platform can register [`Arena::memory_mut`] with io_uring as one aligned region.
//!
//! A page's bytes are allocated when they are first asked for (see `memory.rs`): a page
//! never asked for is all zero bytes, as a fresh page is, and a simulated run that never
//! asks for the bytes of most pages costs O(pages used), not O(pages) (the explorer builds
//! an engine of 16 MiB of pages several times per seed; zeroing them all was a fifth of its
//! time). [`Arena::memory_mut`] and [`Arena::lend`] put every page in one region first, and
//! it never moves after that: what the real platform registers or lends stays where it is.

mod census;
mod loan;
mod memory;

use crate::block::{PAGE_SIZE, SECTORS_PER_PAGE, SECTOR_SIZE};
use crate::content::{decode_sector, encode_content, SectorContent};
use census::{PageCensus, PageClass};
pub use loan::MemoryLoan;
use memory::PageMemory;
use smallvec::SmallVec;
use std::cell::RefCell;

/// Sectors per page as an index bound.
const SECTORS: usize = SECTORS_PER_PAGE as usize;

/// One page of arena memory, aligned to 4 KiB so it can be handed to O_DIRECT IO.
#[derive(Clone)]
#[repr(C, align(4096))]
pub struct PageBytes(pub [u8; PAGE_SIZE]);

impl std::fmt::Debug for PageBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PageBytes(..)")
    }
}

/// Names one arena page; its byte offset in [`Arena::memory`] is `index * PAGE_SIZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageId(pub u32);

impl PageId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Pages an IO or bio names at most without a heap allocation: a 4 KiB bio, and a cache
/// block of up to 16 KiB, fit inline, so the IO path clones and slices buffers without
/// allocating (issue 11); longer lists spill to the heap.
pub const PAGE_LIST_INLINE: usize = 4;

/// The arena pages of one buffer, bio or IO, in order.
pub type PageList = SmallVec<[PageId; PAGE_LIST_INLINE]>;

/// A piece of arena memory an IO reads from or writes into: a list of pages and the sector
/// offset of the first byte within the first page (like DM_IO_PAGE_LIST with an offset).
/// The same page may appear several times (the zero page of kcopyd's zeroing does).
#[derive(Debug, PartialEq, Eq, Hash, Default)]
pub struct Buffer {
    pub pages: PageList,
    /// Sectors to skip in the first page; always below [`SECTORS_PER_PAGE`].
    pub offset_sectors: u32,
}

impl Clone for Buffer {
    fn clone(&self) -> Buffer {
        Buffer {
            pages: copy_pages(&self.pages),
            offset_sectors: self.offset_sectors,
        }
    }
}

/// A copy of a page list. `SmallVec::clone` collects item by item through its generic
/// `Extend` (about 85 instructions for one page, several times per request); page ids are
/// plain data, copied at once here (issue 11).
pub fn copy_pages(pages: &[PageId]) -> PageList {
    PageList::from_slice(pages)
}

impl Buffer {
    /// A buffer that names no memory (flushes, discards).
    pub fn empty() -> Buffer {
        Buffer::default()
    }

    /// A buffer over `pages` starting at the first page's first sector.
    pub fn from_pages(pages: impl Into<PageList>) -> Buffer {
        Buffer {
            pages: pages.into(),
            offset_sectors: 0,
        }
    }

    /// Sectors this buffer can hold from its offset to the end of its last page.
    pub fn capacity_sectors(&self) -> u64 {
        (self.pages.len() as u64 * SECTORS_PER_PAGE).saturating_sub(u64::from(self.offset_sectors))
    }

    /// The sub-buffer that starts `skip_sectors` in and holds `sectors` sectors.
    ///
    /// Panics if the range exceeds the buffer (a bug of the caller, never input-derived).
    pub fn slice(&self, skip_sectors: u64, sectors: u64) -> Buffer {
        assert!(
            skip_sectors + sectors <= self.capacity_sectors(),
            "buffer slice {skip_sectors}+{sectors} beyond capacity {}",
            self.capacity_sectors()
        );
        if sectors == 0 {
            return Buffer::empty();
        }
        let start = u64::from(self.offset_sectors) + skip_sectors;
        let first_page = (start / SECTORS_PER_PAGE) as usize;
        let end = start + sectors;
        let end_page = end.div_ceil(SECTORS_PER_PAGE) as usize;
        Buffer {
            pages: PageList::from_slice(&self.pages[first_page..end_page]),
            offset_sectors: (start % SECTORS_PER_PAGE) as u32,
        }
    }

    /// `(page, sector indices within the page)` for each page the first `sectors` sectors
    /// lie on, in order: [`Buffer::sector_slots`] a page at a time, for bookkeeping kept
    /// per page (a sector at a time, it cost a lookup of the page list per sector).
    pub fn page_runs(
        &self,
        sectors: u64,
    ) -> impl Iterator<Item = (PageId, std::ops::Range<usize>)> + '_ {
        let start = u64::from(self.offset_sectors);
        let end = start + sectors;
        let pages = if sectors == 0 {
            0
        } else {
            end.div_ceil(SECTORS_PER_PAGE) as usize
        };
        self.pages[..pages]
            .iter()
            .zip((0u64..).step_by(SECTORS))
            .map(move |(&page, page_start)| {
                let first = start.saturating_sub(page_start) as usize;
                let last = (end - page_start).min(SECTORS_PER_PAGE) as usize;
                (page, first..last)
            })
    }

    /// `(page, sector index within the page)` for each of the first `sectors` sectors.
    pub fn sector_slots(&self, sectors: u64) -> impl Iterator<Item = (PageId, usize)> + '_ {
        let start = u64::from(self.offset_sectors);
        (start..start + sectors).map(move |position| {
            (
                self.pages[(position / SECTORS_PER_PAGE) as usize],
                (position % SECTORS_PER_PAGE) as usize,
            )
        })
    }
}

/// What a page's content is, as far as the engine and the platforms agree on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageMode {
    /// Eight sector contents are authoritative; the bytes are stale (a freshly allocated
    /// page, or one only simulated IO touched).
    Sectors,
    /// The page bytes are authoritative.
    Bytes,
}

#[derive(Debug, Clone)]
struct PageMeta {
    mode: PageMode,
    sectors: [SectorContent; SECTORS],
    /// Per sector: the number of submitted-but-uncompleted device IOs naming it.
    in_flight: [u16; SECTORS],
    /// True while an owner holds the page (between alloc and release).
    owned: bool,
    on_free_list: bool,
}

impl PageMeta {
    fn fresh() -> PageMeta {
        PageMeta {
            mode: PageMode::Sectors,
            sectors: [SectorContent::Zero; SECTORS],
            in_flight: [0; SECTORS],
            owned: false,
            on_free_list: true,
        }
    }

    fn any_in_flight(&self) -> bool {
        self.in_flight != [0; SECTORS]
    }

    /// Which of the legal page states this page is in (or none).
    fn class(&self) -> PageClass {
        match (self.owned, self.on_free_list, self.any_in_flight()) {
            (false, true, false) => PageClass::Free,
            (true, false, _) => PageClass::Owned,
            (false, false, true) => PageClass::ReleasedInFlight,
            _ => PageClass::Illegal,
        }
    }
}

/// The page arena. See the module documentation for the rules of access.
#[derive(Debug)]
pub struct Arena {
    /// The bytes of the pages asked for; the others are all zero bytes (see the module
    /// documentation).
    memory: PageMemory,
    meta: Vec<PageMeta>,
    /// Free pages, taken from the end: the most recently freed page is reused first.
    free: Vec<PageId>,
    /// Pages released by their owner while still in flight; freed on their last completion.
    released_in_flight: usize,
    /// Loans of the memory to asynchronous IO backends not yet ended (see [`MemoryLoan`]).
    loans: u32,
    /// Each page's state as of the last invariant check and the pages changed since: what
    /// makes [`Arena::check_invariants`] cost O(pages changed) instead of O(pages). A cell
    /// because checking (a `&self` operation) consumes the change list.
    census: RefCell<PageCensus>,
}

impl Arena {
    /// An arena of `pages` zeroed pages; it never holds more. Their bytes are allocated as
    /// they are first asked for (see the module documentation).
    pub fn new(pages: u32) -> Arena {
        let count = pages as usize;
        let memory = PageMemory::default();
        let meta = vec![PageMeta::fresh(); count];
        // Reversed so that the first allocations get the lowest page ids.
        let free = (0..pages).rev().map(PageId).collect();
        Arena {
            memory,
            meta,
            free,
            released_in_flight: 0,
            loans: 0,
            census: RefCell::new(PageCensus::new(count)),
        }
    }

    /// Total pages.
    pub fn page_count(&self) -> usize {
        self.meta.len()
    }

    /// Pages available to [`Arena::alloc`].
    pub fn free_pages(&self) -> usize {
        self.free.len()
    }

    /// Pages released by their owner but still pinned by an IO in flight (zombie buffers).
    pub fn pinned_released_pages(&self) -> usize {
        self.released_in_flight
    }

    /// Takes `count` pages, all or nothing. A fresh page holds eight `Zero` sectors.
    pub fn alloc(&mut self, count: usize) -> Option<PageList> {
        if count > self.free.len() {
            return None;
        }
        let start = self.free.len() - count;
        let pages: PageList = self.free.drain(start..).rev().collect();
        for &page in &pages {
            let meta = &mut self.meta[page.index()];
            assert!(meta.on_free_list && !meta.owned && !meta.any_in_flight());
            meta.on_free_list = false;
            meta.owned = true;
            self.census.get_mut().touch(page);
            meta.mode = PageMode::Sectors;
            meta.sectors = [SectorContent::Zero; SECTORS];
        }
        Some(pages)
    }

    /// Gives `page` back. If an IO still has it in flight, it is freed on that IO's
    /// completion instead.
    pub fn release(&mut self, page: PageId) {
        let meta = &mut self.meta[page.index()];
        assert!(meta.owned, "release of {page:?} which is not owned");
        meta.owned = false;
        self.census.get_mut().touch(page);
        if meta.any_in_flight() {
            self.released_in_flight += 1;
        } else {
            meta.on_free_list = true;
            self.free.push(page);
        }
    }

    /// Gives back every page of `pages` (see [`Arena::release`]).
    pub fn release_all(&mut self, pages: &[PageId]) {
        for &page in pages {
            self.release(page);
        }
    }

    /// True while any sector of `page` is named by a device IO in flight.
    pub fn is_in_flight(&self, page: PageId) -> bool {
        self.meta[page.index()].any_in_flight()
    }

    /// True while sector `index` of `page` is named by a device IO in flight.
    pub fn is_sector_in_flight(&self, page: PageId, index: usize) -> bool {
        self.meta[page.index()].in_flight[index] > 0
    }

    /// True while an owner holds `page`.
    pub fn is_owned(&self, page: PageId) -> bool {
        self.meta[page.index()].owned
    }

    /// The page's content mode.
    pub fn mode(&self, page: PageId) -> PageMode {
        self.meta[page.index()].mode
    }

    // ----- engine side: checked -------------------------------------------------------

    fn assert_sector_idle(&self, page: PageId, index: usize) {
        assert!(
            self.meta[page.index()].in_flight[index] == 0,
            "engine touched sector {index} of {page:?} while a device IO has it in flight"
        );
    }

    fn assert_page_idle(&self, page: PageId) {
        assert!(
            !self.meta[page.index()].any_in_flight(),
            "engine touched {page:?} while a device IO has it in flight"
        );
    }

    /// Content of sector `index` of `page`. Panics if that sector is in flight.
    pub fn sector(&self, page: PageId, index: usize) -> SectorContent {
        self.assert_sector_idle(page, index);
        self.io_sector(page, index)
    }

    /// Sets sector `index` of `page`. Panics if that sector is in flight.
    pub fn set_sector(&mut self, page: PageId, index: usize, content: SectorContent) {
        self.assert_sector_idle(page, index);
        self.io_set_sector(page, index, content);
    }

    /// The page as bytes (encoding sector contents first if needed). Panics if in flight.
    pub fn bytes(&mut self, page: PageId) -> &[u8; PAGE_SIZE] {
        self.assert_page_idle(page);
        self.materialize(page);
        &self.page_memory_mut(page).0
    }

    /// The page as writable bytes; the page becomes bytes-authoritative. Panics if in flight.
    pub fn bytes_mut(&mut self, page: PageId) -> &mut [u8; PAGE_SIZE] {
        self.assert_page_idle(page);
        self.io_bytes_mut(page)
    }

    /// Copies sector contents out of `buffer` (engine side: panics on sectors in flight).
    pub fn read_sectors(&self, buffer: &Buffer, sectors: u64, out: &mut Vec<SectorContent>) {
        for (page, index) in buffer.sector_slots(sectors) {
            out.push(self.sector(page, index));
        }
    }

    /// Copies `contents` into `buffer` (engine side: panics on sectors in flight).
    pub fn write_sectors(&mut self, buffer: &Buffer, contents: &[SectorContent]) {
        for ((page, index), &content) in buffer.sector_slots(contents.len() as u64).zip(contents) {
            self.set_sector(page, index, content);
        }
    }

    /// Makes `page` hold exactly `contents` in sectors mode, whatever its mode was (a page
    /// reused for workload data after holding bytes). Panics if in flight.
    pub fn reset_sectors(&mut self, page: PageId, contents: &[SectorContent; SECTORS]) {
        self.assert_page_idle(page);
        let meta = &mut self.meta[page.index()];
        meta.mode = PageMode::Sectors;
        meta.sectors = *contents;
    }

    /// Sets `sectors` sectors of `buffer` to `Zero` (read failures are zero-filled).
    pub fn zero_sectors(&mut self, buffer: &Buffer, sectors: u64) {
        for (page, index) in buffer.sector_slots(sectors) {
            self.set_sector(page, index, SectorContent::Zero);
        }
    }

    // ----- platform side: unchecked, meant for pages in flight --------------------------

    /// Content of sector `index` of `page`, decoding the bytes of a bytes-mode page.
    pub fn io_sector(&self, page: PageId, index: usize) -> SectorContent {
        let meta = &self.meta[page.index()];
        match meta.mode {
            PageMode::Sectors => meta.sectors[index],
            PageMode::Bytes => {
                let bytes = self
                    .memory
                    .get(page.index())
                    .expect("a bytes-mode page has bytes");
                decode_sector(&bytes.0[index * SECTOR_SIZE..][..SECTOR_SIZE])
            }
        }
    }

    /// The eight sector contents of a sectors-mode `page` (`None` in bytes mode), without
    /// the in-flight check: [`Arena::io_sector`] for a whole page at once.
    pub fn io_page_sectors(&self, page: PageId) -> Option<&[SectorContent; SECTORS]> {
        let meta = &self.meta[page.index()];
        (meta.mode == PageMode::Sectors).then_some(&meta.sectors)
    }

    /// Copies sector contents out of `buffer` without the in-flight check: a device reading
    /// the memory of a write (other devices may be reading the same pages, as when one
    /// buffer is written to two devices).
    pub fn io_read_sectors(&self, buffer: &Buffer, sectors: u64, out: &mut Vec<SectorContent>) {
        for (page, index) in buffer.sector_slots(sectors) {
            out.push(self.io_sector(page, index));
        }
    }

    /// Sets sector `index` of `page` (a simulated read delivering data).
    pub fn io_set_sector(&mut self, page: PageId, index: usize, content: SectorContent) {
        let meta = &mut self.meta[page.index()];
        match meta.mode {
            PageMode::Sectors => meta.sectors[index] = content,
            PageMode::Bytes => encode_content(
                content,
                &mut self.page_memory_mut(page).0[index * SECTOR_SIZE..][..SECTOR_SIZE],
            ),
        }
    }

    /// Bytes of sector `index` of `page`, encoding the page's sectors first if needed.
    pub fn io_sector_bytes(&mut self, page: PageId, index: usize) -> &[u8] {
        self.materialize(page);
        &self.page_memory_mut(page).0[index * SECTOR_SIZE..][..SECTOR_SIZE]
    }

    /// Writes `bytes` (one sector) into sector `index`; the page becomes bytes-authoritative.
    pub fn io_set_sector_bytes(&mut self, page: PageId, index: usize, bytes: &[u8]) {
        assert_eq!(bytes.len(), SECTOR_SIZE, "one sector of bytes expected");
        self.io_bytes_mut(page)[index * SECTOR_SIZE..][..SECTOR_SIZE].copy_from_slice(bytes);
    }

    /// Makes the page memory authoritative: a sectors-mode page has its contents encoded
    /// into its bytes and becomes bytes-mode (decoding gives the same contents back). The real
    /// platform calls this for every page of a buffer before submitting any IO on it (see
    /// [`Arena::materialize_buffer`]): the first real IO on a page finds it in sectors mode
    /// with no DMA running, so later IOs sharing the page never re-encode over data a device
    /// is writing. A no-op on a bytes-mode page.
    pub fn materialize(&mut self, page: PageId) {
        if self.meta[page.index()].mode == PageMode::Sectors {
            let memory = &mut self.memory.get_mut(page.index()).0;
            let meta = &mut self.meta[page.index()];
            for (index, &content) in meta.sectors.iter().enumerate() {
                encode_content(content, &mut memory[index * SECTOR_SIZE..][..SECTOR_SIZE]);
            }
            meta.mode = PageMode::Bytes;
        }
    }

    /// [`Arena::materialize`] for every page of `buffer`.
    pub fn materialize_buffer(&mut self, buffer: &Buffer) {
        for &page in &buffer.pages {
            self.materialize(page);
        }
    }

    /// Declares the page memory authoritative *without* encoding its sector contents (for
    /// memory rewritten wholesale through [`Arena::memory_mut`]).
    pub fn mark_bytes(&mut self, page: PageId) {
        self.memory.get_mut(page.index());
        self.meta[page.index()].mode = PageMode::Bytes;
    }

    /// The page's bytes, encoding its sectors first if needed.
    pub fn io_bytes(&mut self, page: PageId) -> &[u8; PAGE_SIZE] {
        self.materialize(page);
        &self.page_memory_mut(page).0
    }

    /// The page's bytes for writing; the page becomes bytes-authoritative (its sector
    /// contents are encoded first so no sector is lost).
    pub fn io_bytes_mut(&mut self, page: PageId) -> &mut [u8; PAGE_SIZE] {
        self.materialize(page);
        &mut self.page_memory_mut(page).0
    }

    /// The backing memory: one 4 KiB-aligned region of `page_count()` pages once
    /// [`Arena::memory_mut`] or [`Arena::lend`] was called (io_uring buffer registration),
    /// empty before. Page `p` starts at byte `p.index() * PAGE_SIZE`.
    pub fn memory(&self) -> &[PageBytes] {
        self.memory.whole()
    }

    /// The whole backing memory, `page_count()` pages, writable (see [`Arena::memory`]);
    /// it does not move from now on. Writing through it bypasses content tags: call
    /// [`Arena::mark_bytes`] for pages whose bytes changed.
    pub fn memory_mut(&mut self) -> &mut [PageBytes] {
        self.memory.whole_mut(self.meta.len())
    }

    /// The bytes of `page`, allocated (zero) if they were not yet.
    fn page_memory_mut(&mut self, page: PageId) -> &mut PageBytes {
        assert!(
            page.index() < self.meta.len(),
            "{page:?} is not an arena page"
        );
        self.memory.get_mut(page.index())
    }

    // ----- in-flight tracking (engine internal) -----------------------------------------

    /// Marks the first `sectors` sectors of `buffer` in flight (at `Submit`).
    pub(crate) fn begin_flight(&mut self, buffer: &Buffer, sectors: u64) {
        for (page, indices) in buffer.page_runs(sectors) {
            let meta = &mut self.meta[page.index()];
            assert!(
                meta.owned,
                "device IO names {page:?} which no owner holds (freed buffer)"
            );
            for count in &mut meta.in_flight[indices] {
                *count = count
                    .checked_add(1)
                    .expect("more than 65535 IOs in flight on one sector");
            }
            self.census.get_mut().touch(page);
        }
    }

    /// Ends the flight begun by [`Arena::begin_flight`] (at `Completion`); frees pages
    /// released meanwhile once nothing has them in flight.
    pub(crate) fn end_flight(&mut self, buffer: &Buffer, sectors: u64) {
        for (page, indices) in buffer.page_runs(sectors) {
            let meta = &mut self.meta[page.index()];
            for count in &mut meta.in_flight[indices] {
                assert!(*count > 0, "end_flight without begin_flight");
                *count -= 1;
            }
            self.census.get_mut().touch(page);
            // A page's last flight ends at its last sector's (a sector still in flight
            // would fail the assert above), so checking once per page frees it when a
            // check per sector did.
            if !meta.owned && !meta.on_free_list && !meta.any_in_flight() {
                meta.on_free_list = true;
                self.free.push(page);
                self.released_in_flight -= 1;
            }
        }
    }

    /// Checks the arena's bookkeeping: every page is exactly one of free, owned, or
    /// released-but-in-flight, and the counts agree. Incremental: it looks only at the pages
    /// changed since the last check, which is as complete as a full recount because a page's
    /// state (owned, on the free list, sectors in flight) changes only in `alloc`, `release`,
    /// `begin_flight` and `end_flight`, and each records the page as changed; the census's
    /// per-state counts then equal a recount. Every `census::FULL_CHECK_EVERY`th check is a
    /// full recount that also proves the census right (a changed page that was not recorded).
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut census = self.census.borrow_mut();
        if census.full_check_due() {
            drop(census);
            return self.check_invariants_full();
        }
        census.update(|page| self.meta[page.index()].class())?;
        self.check_counts(
            census.count(PageClass::Free),
            census.count(PageClass::ReleasedInFlight),
        )
    }

    /// The full recount (O(pages)): every page's state, the counts, and the census.
    pub fn check_invariants_full(&self) -> Result<(), String> {
        let mut free = 0usize;
        let mut released_in_flight = 0usize;
        for (index, meta) in self.meta.iter().enumerate() {
            match meta.class() {
                PageClass::Free => free += 1,
                PageClass::Owned => {}
                PageClass::ReleasedInFlight => released_in_flight += 1,
                PageClass::Illegal => {
                    return Err(format!(
                        "page {index}: owned/free/in-flight = {:?} is not a legal state",
                        (meta.owned, meta.on_free_list, meta.any_in_flight())
                    ))
                }
            }
        }
        self.check_counts(free, released_in_flight)?;
        self.census
            .borrow_mut()
            .verify(|page| self.meta[page.index()].class())
    }

    fn check_counts(&self, free: usize, released_in_flight: usize) -> Result<(), String> {
        if free != self.free.len() {
            return Err(format!(
                "arena: {free} pages marked free but the free list holds {}",
                self.free.len()
            ));
        }
        if released_in_flight != self.released_in_flight {
            return Err(format!(
                "arena: {released_in_flight} released pages in flight, counter says {}",
                self.released_in_flight
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::SectorStamp;

    fn stamp(sector: u64, write_id: u64) -> SectorContent {
        SectorContent::Stamp(SectorStamp { sector, write_id })
    }

    #[test]
    fn pages_are_aligned_to_4k() {
        let mut arena = Arena::new(3);
        let memory = arena.memory_mut();
        assert_eq!(memory.len(), 3);
        for page in memory.iter() {
            assert_eq!(page as *const PageBytes as usize % PAGE_SIZE, 0);
        }
    }

    #[test]
    fn memory_is_allocated_only_for_the_pages_asked_for_and_reads_zero_before() {
        let mut arena = Arena::new(64);
        assert!(arena.memory().is_empty(), "nothing allocated up front");
        let pages = arena.alloc(3).unwrap();
        assert_eq!(
            arena.bytes(pages[2]),
            &[0; PAGE_SIZE],
            "a fresh page is zero bytes"
        );
        assert!(arena.memory.get(pages[2].index()).is_some());
        assert!(
            arena.memory.get(pages[1].index()).is_none(),
            "never asked for"
        );
        assert!(arena.memory().is_empty(), "no region before memory_mut");
        arena.bytes_mut(pages[0])[7] = 9;
        assert_eq!(arena.bytes(pages[0])[7], 9);
        let address = arena.memory_mut().as_ptr() as usize;
        assert_eq!(arena.memory().len(), 64, "memory_mut gives every page");
        assert_eq!(arena.bytes(pages[0])[7], 9, "growing kept the bytes");
        let late = arena.alloc(60).unwrap();
        arena.bytes_mut(late[59])[0] = 1;
        assert_eq!(
            arena.memory().as_ptr() as usize,
            address,
            "the whole memory never moves"
        );
    }

    #[test]
    fn alloc_is_all_or_nothing() {
        let mut arena = Arena::new(4);
        let first = arena.alloc(3).unwrap();
        assert_eq!(first.as_slice(), [PageId(0), PageId(1), PageId(2)]);
        assert!(arena.alloc(2).is_none());
        assert_eq!(arena.free_pages(), 1);
        arena.release_all(&first);
        assert_eq!(arena.free_pages(), 4);
        arena.check_invariants().unwrap();
    }

    #[test]
    fn sector_contents_survive_materialize() {
        let mut arena = Arena::new(1);
        let page = arena.alloc(1).unwrap()[0];
        arena.set_sector(page, 3, stamp(11, 5));
        arena.set_sector(page, 4, SectorContent::Foreign);
        arena.materialize(page);
        assert_eq!(arena.mode(page), PageMode::Bytes);
        assert_eq!(arena.sector(page, 3), stamp(11, 5));
        assert_eq!(arena.sector(page, 4), SectorContent::Foreign);
        assert_eq!(arena.sector(page, 0), SectorContent::Zero);
        // Setting a sector of a bytes page encodes it in place.
        arena.set_sector(page, 0, stamp(1, 2));
        assert_eq!(arena.sector(page, 0), stamp(1, 2));
        assert_eq!(arena.sector(page, 3), stamp(11, 5));
    }

    #[test]
    fn a_real_read_lands_in_materialized_memory_without_losing_neighbours() {
        let mut arena = Arena::new(2);
        let page = arena.alloc(1).unwrap()[0];
        arena.set_sector(page, 3, stamp(30, 1));
        let buffer = Buffer::from_pages(vec![page]).slice(2, 1);
        arena.materialize_buffer(&buffer);
        // The "device" writes sector 2 straight into the registered memory.
        let mut sector = [0u8; SECTOR_SIZE];
        crate::content::encode_content(stamp(20, 9), &mut sector);
        let offset = page.index() * PAGE_SIZE + 2 * SECTOR_SIZE;
        let memory = arena.memory_mut();
        memory[offset / PAGE_SIZE].0[offset % PAGE_SIZE..][..SECTOR_SIZE].copy_from_slice(&sector);
        // A second materialize (another IO on the page) must not re-encode over it.
        arena.materialize(page);
        assert_eq!(arena.sector(page, 2), stamp(20, 9));
        assert_eq!(arena.sector(page, 3), stamp(30, 1));
        assert_eq!(arena.sector(page, 4), SectorContent::Zero);
        // Reallocation starts from clean sector contents again.
        arena.release(page);
        let again = arena.alloc(1).unwrap()[0];
        assert_eq!(again, page);
        assert_eq!(arena.mode(again), PageMode::Sectors);
        assert_eq!(arena.sector(again, 2), SectorContent::Zero);
    }

    #[test]
    fn page_runs_are_the_sector_slots_a_page_at_a_time() {
        let buffer = Buffer {
            pages: PageList::from_slice(&[PageId(4), PageId(4), PageId(6)]),
            offset_sectors: 3,
        };
        for sectors in 0..=buffer.capacity_sectors() {
            let by_page: Vec<(PageId, usize)> = buffer
                .page_runs(sectors)
                .flat_map(|(page, indices)| indices.map(move |index| (page, index)))
                .collect();
            let by_sector: Vec<(PageId, usize)> = buffer.sector_slots(sectors).collect();
            assert_eq!(by_page, by_sector, "{sectors} sectors");
            assert!(buffer
                .page_runs(sectors)
                .all(|(_, indices)| !indices.is_empty()));
        }
    }

    #[test]
    fn buffer_slices_keep_the_sector_offset() {
        let buffer = Buffer {
            pages: PageList::from_slice(&[PageId(4), PageId(5), PageId(6)]),
            offset_sectors: 3,
        };
        assert_eq!(buffer.capacity_sectors(), 21);
        // Buffer sectors 6..10 are page positions 9..13: all inside the second page.
        let piece = buffer.slice(6, 4);
        assert_eq!(piece.pages.as_slice(), [PageId(5)]);
        assert_eq!(piece.offset_sectors, 1);
        let slots: Vec<_> = piece.sector_slots(4).collect();
        assert_eq!(
            slots,
            vec![
                (PageId(5), 1),
                (PageId(5), 2),
                (PageId(5), 3),
                (PageId(5), 4)
            ]
        );
    }

    #[test]
    fn incremental_checks_follow_every_change_and_the_full_check_catches_unrecorded_ones() {
        let mut arena = Arena::new(8);
        // More checks than one full-check period, each after a change.
        for round in 0..(2 * census::FULL_CHECK_EVERY as usize) {
            let pages = arena.alloc(1 + round % 3).unwrap();
            let buffer = Buffer::from_pages(pages.clone());
            let sectors = SECTORS_PER_PAGE * pages.len() as u64;
            arena.begin_flight(&buffer, sectors);
            arena.check_invariants().unwrap();
            arena.release_all(&pages);
            assert_eq!(arena.pinned_released_pages(), pages.len());
            arena.check_invariants().unwrap();
            arena.end_flight(&buffer, sectors);
            arena.check_invariants().unwrap();
            assert_eq!(arena.free_pages(), 8);
        }
        // A state change that bypasses the recording mutators: the free list disagrees
        // (incremental check) and the census disagrees (full check).
        arena.meta[3].on_free_list = false;
        arena.meta[3].owned = true;
        let error = arena.check_invariants_full().unwrap_err();
        assert!(error.contains("free list"), "{error}");
        arena.meta[3].on_free_list = true;
        arena.meta[3].owned = false;
        arena.meta[5].in_flight[2] = 1;
        arena.meta[5].on_free_list = false;
        arena.free.retain(|p| p.index() != 5);
        arena.released_in_flight += 1;
        let error = arena.check_invariants_full().unwrap_err();
        assert!(
            error.contains("census") && error.contains("page 5"),
            "{error}"
        );
        // An illegal state reached through a recorded change is caught incrementally.
        let mut arena = Arena::new(2);
        let pages = arena.alloc(1).unwrap();
        arena.meta[pages[0].index()].on_free_list = true;
        arena.census.get_mut().touch(pages[0]);
        let error = arena.check_invariants().unwrap_err();
        assert!(error.contains("not a legal state"), "{error}");
    }

    #[test]
    fn a_page_released_in_flight_is_freed_on_completion() {
        let mut arena = Arena::new(2);
        let pages = arena.alloc(2).unwrap();
        let buffer = Buffer::from_pages(pages.clone());
        arena.begin_flight(&buffer, 16);
        arena.release_all(&pages);
        assert_eq!(arena.free_pages(), 0);
        assert_eq!(arena.pinned_released_pages(), 2);
        arena.check_invariants().unwrap();
        arena.end_flight(&buffer, 16);
        assert_eq!(arena.free_pages(), 2);
        assert_eq!(arena.pinned_released_pages(), 0);
        arena.check_invariants().unwrap();
    }

    #[test]
    #[should_panic(expected = "in flight")]
    fn touching_an_in_flight_sector_panics() {
        let mut arena = Arena::new(1);
        let page = arena.alloc(1).unwrap()[0];
        let buffer = Buffer::from_pages(vec![page]);
        arena.begin_flight(&buffer.slice(2, 1), 1);
        arena.set_sector(page, 1, SectorContent::Zero); // fine: sector 1 is idle
        arena.set_sector(page, 2, SectorContent::Zero); // panics
    }
}
