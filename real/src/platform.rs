//! [`RealPlatform`]: carries out the engine's device IO on real devices and keeps a
//! monotonic clock, implementing the engine's [`Platform`] trait.
//!
//! Owns the in-flight table, the choice of backend (io_uring, or blocking
//! `preadv2`/`pwritev2`), the arena bookkeeping the engine asks of a platform
//! (`materialize` before a write, `mark_bytes` for a read), refusals (an IO that fails
//! [`RealDevice::check_io`] never reaches a syscall: it completes with `IoError` and the
//! reason is kept for [`RealPlatform::take_errors`]), and the promise of exactly one
//! completion per submitted IO, cancelled or not. Discards are carried out synchronously at
//! submit (`BLKDISCARD` and hole punching are blocking calls); their completion is
//! delivered at the next wait like any other.
//!
//! Deliberately not here: the safety checks of opening a device (`device`, `safety`), the SQE
//! details (`ring`), and any decision about timeouts or retries (the engine's).

pub use crate::platform_options::{BackendChoice, BackendKind, PlatformOptions, PlatformStats};

use crate::blocking::{self, BlockingBackend};
use crate::device::RealDevice;
use crate::error::RealError;
use crate::inflight::{buffer_segments, InFlightTable, IoRecord, Progress};
use crate::ring::{arena_region, RingBackend, TransferKind, CANCEL_USER_DATA};
use dmsim_engine::arena::{Arena, MemoryLoan};
use dmsim_engine::block::{DeviceInfo, IoStatus, Op, PAGE_SIZE, SECTOR_SIZE};
use dmsim_engine::io::{Completion, DeviceIo, Input, IoTag};
use dmsim_engine::platform::Platform;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// Retries of one blocking transfer that keeps failing with EINTR/EAGAIN before it is
/// reported as an IO error.
const BLOCKING_RETRIES_MAX: u32 = 1000;

enum Backend {
    Ring(Box<RingBackend>),
    Blocking(BlockingBackend),
}

/// Waits that block without polling after a yield lost the CPU (see
/// [`RealPlatform::poll_until_ready`]): under CPU contention at most one lost slice per this
/// many waits, and polling resumes once the contention is gone.
const POLL_PAUSE_WAITS: u32 = 1000;

/// How long `drain` waits between reports that the kernel still owns buffers.
const DRAIN_REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// The engine's platform over real devices. See the module documentation.
///
/// Memory safety does not rest on the caller: the platform does IO only into the arena it
/// was built with, which it holds a [`MemoryLoan`] of — an IO naming another arena is
/// refused ([`RealError::ForeignArena`]) and `wait` with another arena panics — and an arena
/// dropped while lent leaks its memory instead of freeing it, so the kernel never writes
/// into freed memory, whatever the drop order. Dropping the platform (or
/// [`RealPlatform::shutdown`]) cancels its IO and waits for every completion; giving the
/// loan back ([`RealPlatform::release`], done by [`crate::RealRig`]) lets the arena free its
/// memory normally.
pub struct RealPlatform {
    devices: Vec<RealDevice>,
    backend: Backend,
    epoch: Instant,
    table: InFlightTable,
    ready: Vec<Completion>,
    /// Scratch for reaped CQEs.
    cqes: Vec<(u64, i32)>,
    errors: Vec<RealError>,
    stats: PlatformStats,
    fallback_reason: Option<String>,
    /// The loan of the arena this platform does IO into (`None` once given back).
    loan: Option<MemoryLoan>,
    /// That arena's memory: address and length in bytes.
    lent_memory: (usize, usize),
    /// See [`PlatformOptions::poll_before_block_ns`]; 0 if the ring cannot be polled.
    poll_before_block_ns: u64,
    /// Waits left that block without polling, after a yield lost the CPU to another task.
    poll_paused_waits: u32,
}

impl std::fmt::Debug for RealPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealPlatform")
            .field("devices", &self.devices)
            .field("backend", &self.backend_kind())
            .field("in_flight", &self.table.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// The monotonic clock's reading: real mode is the one place dmsim reads a clock.
#[allow(clippy::disallowed_methods)] // real devices run in real time; sim never gets here
fn monotonic_now() -> Instant {
    Instant::now()
}

impl RealPlatform {
    /// A platform over `devices` (engine `DeviceId(i)` is `devices[i]`) doing IO on `arena`'s
    /// memory. Time 0 is now.
    pub fn new(
        devices: Vec<RealDevice>,
        arena: &mut Arena,
        options: PlatformOptions,
    ) -> Result<RealPlatform, RealError> {
        let mut fallback_reason = None;
        let backend = match options.backend {
            BackendChoice::Blocking => Backend::Blocking(BlockingBackend::default()),
            BackendChoice::IoUring | BackendChoice::Auto => {
                let device_fds: Vec<RawFd> = if options.register_files {
                    devices
                        .iter()
                        .map(|device| device.fd().as_raw_fd())
                        .collect()
                } else {
                    Vec::new()
                };
                match RingBackend::new(
                    options.queue_entries,
                    arena,
                    options.register_buffers,
                    &device_fds,
                ) {
                    Ok(ring) => Backend::Ring(Box::new(ring)),
                    Err(source) if options.backend == BackendChoice::Auto => {
                        fallback_reason = Some(format!("io_uring setup failed: {source}"));
                        Backend::Blocking(BlockingBackend::default())
                    }
                    Err(source) => {
                        return Err(RealError::Ring {
                            what: "setup",
                            source,
                        })
                    }
                }
            }
        };
        let poll_before_block_ns = match &backend {
            Backend::Ring(ring) if ring.can_poll() => options.poll_before_block_ns,
            _ => 0,
        };
        let loan = arena.lend();
        Ok(RealPlatform {
            lent_memory: memory_of(arena),
            loan: Some(loan),
            devices,
            backend,
            epoch: monotonic_now(),
            table: InFlightTable::default(),
            ready: Vec::new(),
            cqes: Vec::new(),
            errors: Vec::new(),
            stats: PlatformStats::default(),
            fallback_reason,
            poll_before_block_ns,
            poll_paused_waits: 0,
        })
    }

    /// The devices, in engine `DeviceId` order.
    pub fn devices(&self) -> &[RealDevice] {
        &self.devices
    }

    /// What the engine is told about the devices, in `DeviceId` order.
    pub fn device_infos(&self) -> Vec<DeviceInfo> {
        self.devices.iter().map(RealDevice::info).collect()
    }

    /// The backend in use.
    pub fn backend_kind(&self) -> BackendKind {
        match &self.backend {
            Backend::Ring(ring) => BackendKind::IoUring {
                fixed_buffers: ring.is_registered(),
                fixed_files: ring.files_registered(),
            },
            Backend::Blocking(_) => BackendKind::Blocking,
        }
    }

    /// Why `Auto` fell back to the blocking backend, or why buffers are not registered.
    pub fn fallback_reason(&self) -> Option<String> {
        match &self.backend {
            Backend::Ring(ring) => ring
                .registration_error()
                .map(|error| format!("buffer registration failed: {error}")),
            Backend::Blocking(_) => self.fallback_reason.clone(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> PlatformStats {
        self.stats
    }

    /// IOs submitted and not yet completed (delivered or ready to be).
    pub fn in_flight(&self) -> usize {
        self.table.len()
    }

    /// Why IOs were refused or the backend failed since the last call (each refused IO also
    /// completed with `IoError`).
    pub fn take_errors(&mut self) -> Vec<RealError> {
        std::mem::take(&mut self.errors)
    }

    /// Nanoseconds since the platform was built (monotonic).
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn refuse(&mut self, tag: IoTag, error: RealError) {
        self.stats.refused += 1;
        self.errors.push(error);
        self.complete_now(tag, IoStatus::IoError);
    }

    fn complete_now(&mut self, tag: IoTag, status: IoStatus) {
        self.stats.completed += 1;
        if status == IoStatus::Cancelled {
            self.stats.cancelled += 1;
        }
        self.ready.push(Completion { tag, status });
    }

    /// True if `arena` is the one this platform was built with and still holds a loan of.
    fn is_own_arena(&self, arena: &Arena) -> bool {
        self.loan.is_some() && memory_of(arena) == self.lent_memory
    }

    /// Starts `io` (see [`Platform::submit`]). Refused IOs complete with `IoError` at the
    /// next wait and leave their reason in [`RealPlatform::take_errors`]; so does any IO
    /// given another arena than the platform's own.
    pub fn submit_io(&mut self, io: DeviceIo, arena: &mut Arena) {
        self.stats.submitted += 1;
        let tag = io.tag;
        assert_ne!(
            tag.to_u64(),
            CANCEL_USER_DATA,
            "tag collides with the cancel marker"
        );
        if !self.is_own_arena(arena) {
            return self.refuse(tag, RealError::ForeignArena);
        }
        let device_index = usize::from(io.device.0);
        let Some(device) = self.devices.get(device_index) else {
            let error = RealError::UnknownDevice {
                device: io.device.0,
                devices: self.devices.len(),
            };
            return self.refuse(tag, error);
        };
        let sectors = u64::from(io.sectors);
        let offset_bytes = match device.check_io(io.op, io.sector, sectors) {
            Ok(offset) => offset,
            Err(error) => return self.refuse(tag, error),
        };
        let length_bytes = sectors * SECTOR_SIZE as u64;
        match io.op {
            Op::Read | Op::Write => {
                if io.buffer.capacity_sectors() < sectors {
                    let error = RealError::BadBuffer {
                        path: device.path().to_path_buf(),
                        op: io.op,
                        sectors,
                        capacity_sectors: io.buffer.capacity_sectors(),
                    };
                    return self.refuse(tag, error);
                }
                if let Some(page) = io
                    .buffer
                    .pages
                    .iter()
                    .find(|p| p.index() >= arena.page_count())
                {
                    let error = RealError::PageOutsideArena {
                        page: page.0,
                        pages: arena.page_count(),
                    };
                    return self.refuse(tag, error);
                }
                if sectors == 0 {
                    return self.complete_now(tag, IoStatus::Ok);
                }
                for &page in &io.buffer.pages {
                    // Writes: the device gets the bytes of the sector contents. Reads: the
                    // page's other sectors are encoded first and the page becomes bytes
                    // now, so a later IO on the same page never re-encodes over bytes the
                    // device is writing into.
                    arena.materialize(page);
                    if io.op == Op::Read {
                        arena.mark_bytes(page);
                    }
                }
            }
            Op::Flush => {
                if sectors != 0 || !io.buffer.pages.is_empty() {
                    let error = RealError::BadBuffer {
                        path: device.path().to_path_buf(),
                        op: io.op,
                        sectors,
                        capacity_sectors: io.buffer.capacity_sectors(),
                    };
                    return self.refuse(tag, error);
                }
            }
            Op::Discard => {
                self.stats.discards += 1;
                let status = match device.discard_bytes(offset_bytes, length_bytes) {
                    Ok(()) => IoStatus::Ok,
                    Err(error) => crate::inflight::status_from_errno(
                        error.raw_os_error().unwrap_or(libc::EIO),
                    ),
                };
                return self.complete_now(tag, status);
            }
        }
        device.assert_inside_window(offset_bytes, length_bytes);
        let (mut segments, iovecs) = self.table.take_vectors();
        if io.op != Op::Flush {
            buffer_segments(&io.buffer, sectors, &mut segments);
        }
        let record = IoRecord {
            tag,
            device: device_index,
            op: io.op,
            fua: io.fua,
            offset_bytes,
            length_bytes,
            done_bytes: 0,
            buffer: io.buffer,
            segments,
            iovecs,
            cancel_requested: false,
        };
        self.table.insert(record);
        match &mut self.backend {
            Backend::Blocking(queue) => queue.push(tag),
            Backend::Ring(_) => {
                let (base, length) = arena_region(arena);
                self.start_on_ring(tag, base, length);
            }
        }
    }

    /// Pushes the next SQE of the in-flight IO `tag`; a ring failure completes it as an
    /// error.
    fn start_on_ring(&mut self, tag: IoTag, arena_base: *mut u8, arena_length: usize) {
        let Backend::Ring(ring) = &mut self.backend else {
            unreachable!("start_on_ring on the blocking backend")
        };
        let Some(record) = self.table.get_mut(tag) else {
            return;
        };
        let device = &self.devices[record.device];
        let pushed = match record.op {
            Op::Flush => {
                self.stats.flushes += 1;
                ring.push_flush(tag, record.device, device.fd())
            }
            _ => {
                device.assert_inside_window(
                    record.offset_bytes + record.done_bytes,
                    record.length_bytes - record.done_bytes,
                );
                ring.push_transfer(record, device.fd(), arena_base, arena_length)
                    .map(|kind| match kind {
                        TransferKind::Fixed => self.stats.fixed_transfers += 1,
                        TransferKind::Vectored => self.stats.vectored_transfers += 1,
                    })
            }
        };
        if let Err(source) = pushed {
            self.errors.push(RealError::Ring {
                what: "submission",
                source,
            });
            self.finish(tag, IoStatus::IoError, None);
        }
    }

    /// Removes the finished IO `tag` and queues its completion.
    fn finish(&mut self, tag: IoTag, status: IoStatus, arena: Option<&mut Arena>) {
        let Some(record) = self.table.remove(tag) else {
            return;
        };
        if let (Op::Read, Some(arena)) = (record.op, arena) {
            for &page in &record.buffer.pages {
                arena.mark_bytes(page);
            }
        }
        self.complete_now(tag, status);
        self.table.recycle(record);
    }

    /// Tries to cancel `tag` (see [`Platform::cancel`]).
    pub fn cancel_io(&mut self, tag: IoTag) {
        let Some(record) = self.table.get_mut(tag) else {
            return; // already complete: its completion is queued or delivered
        };
        if record.cancel_requested {
            return;
        }
        record.cancel_requested = true;
        self.stats.cancel_requests += 1;
        match &mut self.backend {
            Backend::Blocking(queue) => {
                if queue.unqueue(tag) {
                    self.finish(tag, IoStatus::Cancelled, None);
                }
            }
            Backend::Ring(ring) => {
                if let Err(source) = ring.push_cancel(tag) {
                    // The IO still completes on its own; only the cancel is lost.
                    self.errors.push(RealError::Ring {
                        what: "cancel",
                        source,
                    });
                }
            }
        }
    }

    /// Reaps the ring's completions: finished IOs become ready, short ones are continued.
    fn reap_ring(&mut self, arena: &mut Arena) {
        let Backend::Ring(ring) = &mut self.backend else {
            return;
        };
        let mut cqes = std::mem::take(&mut self.cqes);
        cqes.clear();
        ring.drain_completions(&mut cqes);
        let (base, length) = arena_region(arena);
        for &(user_data, result) in &cqes {
            if user_data == CANCEL_USER_DATA {
                if result != 0 {
                    self.stats.cancels_missed += 1;
                }
                continue;
            }
            let tag = IoTag::from_u64(user_data);
            let Some(record) = self.table.get_mut(tag) else {
                self.stats.unknown_completions += 1;
                continue;
            };
            match record.on_result(i64::from(result)) {
                Progress::Again => {
                    self.stats.short_transfers += 1;
                    self.start_on_ring(tag, base, length);
                }
                Progress::Done(status) => self.finish(tag, status, Some(arena)),
            }
        }
        self.cqes = cqes;
    }

    /// Carries out every queued IO of the blocking backend.
    fn run_blocking(&mut self, arena: &mut Arena) {
        let (base, _) = arena_region(arena);
        loop {
            let Backend::Blocking(queue) = &mut self.backend else {
                return;
            };
            let Some(tag) = queue.pop() else {
                return;
            };
            let Some(record) = self.table.get_mut(tag) else {
                continue;
            };
            let device = &self.devices[record.device];
            let mut retries = 0;
            let status = loop {
                let result = match record.op {
                    Op::Flush => match device.flush_blocking() {
                        Ok(()) => 0,
                        Err(error) => -i64::from(error.raw_os_error().unwrap_or(libc::EIO)),
                    },
                    _ => {
                        device.assert_inside_window(
                            record.offset_bytes + record.done_bytes,
                            record.length_bytes - record.done_bytes,
                        );
                        blocking::transfer_once(record, device.fd(), base)
                    }
                };
                if result > 0 && record.done_bytes + (result as u64) < record.length_bytes {
                    self.stats.short_transfers += 1;
                }
                match record.on_result(result) {
                    Progress::Again if retries < BLOCKING_RETRIES_MAX => retries += 1,
                    Progress::Again => break IoStatus::IoError,
                    Progress::Done(status) => break status,
                }
            };
            match record.op {
                Op::Flush => self.stats.flushes += 1,
                _ => self.stats.vectored_transfers += 1,
            }
            self.finish(tag, status, Some(arena));
        }
    }

    /// Waits for completions (see [`Platform::wait`]) and appends them to `completions`.
    pub fn wait_for(
        &mut self,
        deadline_ns: Option<u64>,
        arena: &mut Arena,
        completions: &mut Vec<Completion>,
    ) {
        self.wait_until_ready(deadline_ns, arena);
        completions.append(&mut self.ready);
    }

    /// Blocks until a completion is ready, `deadline_ns` passes, or — without a deadline —
    /// nothing is in flight. Panics if `arena` is not the platform's own (short transfers
    /// are continued into it, and read data is accounted in it).
    fn wait_until_ready(&mut self, deadline_ns: Option<u64>, arena: &mut Arena) {
        assert!(
            self.is_own_arena(arena) || (self.table.len() == 0 && self.loan.is_none()),
            "RealPlatform::wait was given an arena other than the one the platform was built with"
        );
        match self.backend {
            Backend::Ring(_) => self.wait_ring(deadline_ns, arena),
            Backend::Blocking(_) => {
                self.run_blocking(arena);
                if self.ready.is_empty() {
                    if let Some(deadline_ns) = deadline_ns {
                        let now_ns = self.now_ns();
                        if deadline_ns > now_ns {
                            std::thread::sleep(Duration::from_nanos(deadline_ns - now_ns));
                        }
                    }
                }
            }
        }
    }

    fn enter(&mut self, wait: bool, timeout_ns: Option<u64>) {
        let Backend::Ring(ring) = &mut self.backend else {
            return;
        };
        self.stats.ring_enters += 1;
        if let Err(source) = ring.enter(wait, timeout_ns) {
            // Not an IO failure but the ring itself: nothing sensible can continue.
            panic!("io_uring_enter failed: {source}");
        }
    }

    fn has_unsubmitted(&mut self) -> bool {
        match &mut self.backend {
            Backend::Ring(ring) => ring.has_unsubmitted(),
            Backend::Blocking(_) => false,
        }
    }

    fn wait_ring(&mut self, deadline_ns: Option<u64>, arena: &mut Arena) {
        self.reap_ring(arena);
        loop {
            if !self.ready.is_empty() || (self.table.len() == 0 && deadline_ns.is_none()) {
                // Hand out what is ready; queued SQEs start now rather than at the next wait.
                if self.has_unsubmitted() {
                    self.enter(false, None);
                }
                return;
            }
            let timeout_ns = deadline_ns.map(|deadline| deadline.saturating_sub(self.now_ns()));
            if timeout_ns == Some(0) {
                // The deadline has passed: one non-blocking look (a zero timeout still runs
                // the ring's deferred completion work) and back.
                self.enter(true, Some(0));
                self.reap_ring(arena);
                return;
            }
            if self.poll_until_ready(deadline_ns, arena) {
                continue;
            }
            let timeout_ns = deadline_ns.map(|deadline| deadline.saturating_sub(self.now_ns()));
            if timeout_ns == Some(0) {
                continue; // the deadline passed while polling: the non-blocking look above
            }
            self.stats.blocked_waits += 1;
            self.enter(true, timeout_ns);
            self.reap_ring(arena);
        }
    }

    /// Submits what is queued and polls the ring for up to
    /// [`PlatformOptions::poll_before_block_ns`] (never past `deadline_ns`): true if
    /// completions were reaped (they may only have continued short transfers). Polls only
    /// while IO is in flight: nothing else completes.
    ///
    /// Between two looks it yields the CPU rather than spinning: the work that completes the
    /// IO (a loop device's worker, the block softirq thread) often runs on this very CPU,
    /// and a spinning waiter would hold it off until preempted. Yielding keeps the CPU busy
    /// (no halt, no wake-up to wait for) and returns at once when nothing else wants it.
    /// When another task is runnable here, though, a yield can hand it the CPU for a whole
    /// slice, while a blocked waiter would preempt it on its wake-up: a yield that outlasts
    /// the polling budget ends the polling, and the next [`POLL_PAUSE_WAITS`] waits block
    /// at once.
    fn poll_until_ready(&mut self, deadline_ns: Option<u64>, arena: &mut Arena) -> bool {
        if self.poll_before_block_ns == 0 || self.table.len() == 0 {
            return false;
        }
        if self.poll_paused_waits > 0 {
            self.poll_paused_waits -= 1;
            return false;
        }
        if self.has_unsubmitted() {
            self.enter(false, None);
        }
        let until_ns = (self.now_ns().saturating_add(self.poll_before_block_ns))
            .min(deadline_ns.unwrap_or(u64::MAX));
        loop {
            let Backend::Ring(ring) = &mut self.backend else {
                return false;
            };
            if ring.completions_flagged() {
                self.enter(false, None);
            }
            let Backend::Ring(ring) = &mut self.backend else {
                return false;
            };
            if ring.has_completions() {
                break;
            }
            let before_yield_ns = self.now_ns();
            if before_yield_ns >= until_ns {
                return false;
            }
            std::thread::yield_now();
            if self.now_ns() - before_yield_ns > self.poll_before_block_ns {
                self.stats.poll_pauses += 1;
                self.poll_paused_waits = POLL_PAUSE_WAITS;
                return false;
            }
        }
        self.stats.polled_waits += 1;
        self.reap_ring(arena);
        true
    }

    /// Cancels every IO in flight and waits until the kernel has finished with all of them;
    /// nothing is delivered (the engine hears of none of it). After this the arena may be
    /// freed. Dropping the platform does the same.
    pub fn shutdown(&mut self) {
        self.drain();
        self.ready.clear();
    }

    /// Cancels every IO in flight, waits for the platform to finish with all of them and
    /// gives the arena's loan back: afterwards `arena` frees its memory normally when
    /// dropped. `arena` must be the one the platform was built with; given another one, the
    /// loan is dropped instead (the platform's own arena then leaks its memory when it is
    /// dropped, which is safe). Nothing is delivered to the engine.
    pub fn release(mut self, arena: &mut Arena) {
        self.release_in_place(arena);
    }

    /// [`RealPlatform::release`] on a platform that stays in place, unusable (every later IO
    /// is refused): for owners that cannot move it out ([`crate::RealRig`]'s drop).
    pub(crate) fn release_in_place(&mut self, arena: &mut Arena) {
        self.shutdown();
        // The ring goes first: it unregisters the arena's memory.
        self.backend = Backend::Blocking(BlockingBackend::default());
        if let Some(loan) = self.loan.take() {
            if memory_of(arena) == self.lent_memory {
                arena.end_loan(loan);
            }
        }
    }

    /// Cancels and reaps every IO in flight, without an arena (nothing is delivered). Never
    /// returns while the kernel may still own a buffer: it waits for every completion, and
    /// aborts the process if the ring itself fails (returning would let the arena's memory
    /// be reused under a transfer still in progress).
    fn drain(&mut self) {
        for tag in self.table.tags() {
            self.cancel_io(tag);
        }
        let mut reported_at = monotonic_now();
        while self.table.len() > 0 {
            match &mut self.backend {
                Backend::Blocking(_) => {
                    // Blocking transfers run inside `wait` only: whatever is still in the
                    // table was queued, never started, and cancelling unqueued it.
                    assert_eq!(
                        self.table.len(),
                        0,
                        "blocking backend: queued IOs survived their cancellation"
                    );
                }
                Backend::Ring(ring) => {
                    if let Err(error) = ring.enter(true, Some(1_000_000_000)) {
                        if error.kind() != std::io::ErrorKind::Interrupted {
                            eprintln!(
                                "dmsim: io_uring failed ({error}) while {} IO(s) may still \
                                 own arena memory; aborting rather than freeing it under them",
                                self.table.len()
                            );
                            std::process::abort();
                        }
                    }
                    let mut cqes = std::mem::take(&mut self.cqes);
                    cqes.clear();
                    ring.drain_completions(&mut cqes);
                    for &(user_data, _) in &cqes {
                        if user_data != CANCEL_USER_DATA {
                            self.finish(IoTag::from_u64(user_data), IoStatus::Cancelled, None);
                        }
                    }
                    self.cqes = cqes;
                }
            }
            if self.table.len() > 0 && reported_at.elapsed() >= DRAIN_REPORT_INTERVAL {
                reported_at = monotonic_now();
                eprintln!(
                    "dmsim: still waiting for {} IO(s) the kernel owns before the platform can \
                     let go of their memory",
                    self.table.len()
                );
            }
        }
    }
}

/// The address and byte length of `arena`'s memory, naming it.
fn memory_of(arena: &Arena) -> (usize, usize) {
    (
        arena.memory().as_ptr() as usize,
        arena.page_count() * PAGE_SIZE,
    )
}

impl Drop for RealPlatform {
    fn drop(&mut self) {
        self.drain();
    }
}

impl Platform for RealPlatform {
    fn now_ns(&self) -> u64 {
        RealPlatform::now_ns(self)
    }

    fn submit(&mut self, io: DeviceIo, arena: &mut Arena) {
        self.submit_io(io, arena);
    }

    fn cancel(&mut self, tag: IoTag) {
        self.cancel_io(tag);
    }

    fn wait(&mut self, deadline_ns: Option<u64>, arena: &mut Arena, inputs: &mut Vec<Input>) {
        self.wait_until_ready(deadline_ns, arena);
        inputs.extend(self.ready.drain(..).map(Input::Completion));
    }

    fn is_quiescent(&self) -> bool {
        self.table.len() == 0 && self.ready.is_empty()
    }
}
