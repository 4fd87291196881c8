//! The io_uring backend: SQEs for transfers, flushes and cancels, one `io_uring_enter` per
//! batch, the arena registered as fixed buffers and the devices as fixed files, and a look
//! for completions that costs no system call.
//!
//! Owns the ring, the registrations and every `unsafe` SQE push. The arena is
//! registered as one iovec per gigabyte of pages (the kernel's limit per fixed buffer); a
//! transfer whose remaining part is one contiguous run inside one registered buffer goes out
//! as `READ_FIXED`/`WRITE_FIXED`, any other as `READV`/`WRITEV` over the record's iovecs.
//! Every transfer SQE carries its IO's `IoTag::to_u64` as `user_data`; an IO has at most one
//! transfer SQE in flight at a time, so the tag names it unambiguously.
//!
//! Completions of a deferred-task-run ring reach the completion queue only inside an
//! `io_uring_enter`; with `IORING_SETUP_TASKRUN_FLAG` the kernel raises a flag in shared
//! memory when some are pending, which [`RingBackend::completions_flagged`] reads, so a
//! waiter can poll without sleeping.
//!
//! Deliberately not here: what a result means (see `inflight`) and when to wait (`platform`).

use crate::inflight::IoRecord;
use dmsim_engine::arena::Arena;
use dmsim_engine::block::{Op, PAGE_SIZE};
use dmsim_engine::io::IoTag;
use io_uring::{opcode, squeue, types, IoUring};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

/// `user_data` of `ASYNC_CANCEL` SQEs; never a tag (see [`RingBackend::push_cancel`]).
pub(crate) const CANCEL_USER_DATA: u64 = u64::MAX;

/// Bytes per registered buffer: the kernel refuses fixed buffers above 1 GiB.
const REGISTERED_CHUNK_BYTES: usize = 1 << 30;

/// Largest single transfer SQE; longer transfers continue as short ones.
const MAX_TRANSFER_BYTES: usize = 1 << 30;

/// The arena memory registered with the ring.
#[derive(Debug, Clone, Copy)]
struct Registration {
    base: usize,
    length: usize,
}

/// Which SQE a transfer went out as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferKind {
    Fixed,
    Vectored,
}

/// See the module documentation.
pub(crate) struct RingBackend {
    ring: IoUring,
    registration: Option<Registration>,
    /// Why buffers are not registered, when they are not.
    registration_error: Option<io::Error>,
    /// The devices' descriptors are registered as fixed files, in device order: an SQE names
    /// its device by index, sparing the kernel a file lookup per IO.
    files_registered: bool,
    /// The kernel flags pending completions (`IORING_SETUP_TASKRUN_FLAG`), so they can be
    /// polled for.
    can_poll: bool,
    /// Completions reaped early to make room (see [`RingBackend::push`]), handed out first
    /// by [`RingBackend::drain_completions`].
    backlog: Vec<(u64, i32)>,
}

impl std::fmt::Debug for RingBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingBackend")
            .field("registration", &self.registration)
            .finish_non_exhaustive()
    }
}

/// The arena's memory as a base pointer and a length in bytes.
pub(crate) fn arena_region(arena: &mut Arena) -> (*mut u8, usize) {
    let memory = arena.memory_mut();
    (memory.as_mut_ptr().cast::<u8>(), memory.len() * PAGE_SIZE)
}

impl RingBackend {
    /// Sets up a ring of `entries` SQEs (completion queue twice that), registers `arena`'s
    /// memory if `register_buffers`, and `device_fds` (in device order; none if empty) as
    /// fixed files. A failed registration is not fatal: transfers then go out vectored
    /// ([`RingBackend::registration_error`] says why), or name the descriptors.
    pub fn new(
        entries: u32,
        arena: &mut Arena,
        register_buffers: bool,
        device_fds: &[RawFd],
    ) -> io::Result<RingBackend> {
        // Cooperative task running and a single issuer spare the kernel IPIs and locking, and
        // the task-run flag lets completions be polled for; kernels before 6.0 refuse some of
        // them, so fall back to a plain ring (which cannot be polled).
        let (ring, can_poll) = match IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_taskrun_flag()
            .build(entries)
            .or_else(|_| {
                IoUring::builder()
                    .setup_coop_taskrun()
                    .setup_single_issuer()
                    .setup_taskrun_flag()
                    .build(entries)
            }) {
            Ok(ring) => (ring, true),
            Err(_) => (IoUring::new(entries)?, false),
        };
        if !ring.params().is_feature_ext_arg() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the kernel's io_uring lacks IORING_FEAT_EXT_ARG (Linux 5.11+), needed for timed waits",
            ));
        }
        let mut backend = RingBackend {
            ring,
            registration: None,
            registration_error: None,
            files_registered: false,
            can_poll,
            backlog: Vec::new(),
        };
        if register_buffers {
            if let Err(error) = backend.register(arena) {
                backend.registration_error = Some(error);
            }
        }
        // Not fatal either: without it, SQEs name the descriptors themselves.
        backend.files_registered =
            !device_fds.is_empty() && backend.ring.submitter().register_files(device_fds).is_ok();
        Ok(backend)
    }

    fn register(&mut self, arena: &mut Arena) -> io::Result<()> {
        let (base, length) = arena_region(arena);
        if length == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty arena"));
        }
        let iovecs: Vec<libc::iovec> = (0..length)
            .step_by(REGISTERED_CHUNK_BYTES)
            .map(|start| libc::iovec {
                iov_base: base.wrapping_add(start).cast(),
                iov_len: (length - start).min(REGISTERED_CHUNK_BYTES),
            })
            .collect();
        // SAFETY: each iovec lies inside the arena's single allocation, which outlives any
        // IO that uses it: fixed transfers are only issued when the arena handed to `submit`
        // has exactly this base and length (so it is this live allocation, borrowed mutably
        // by the caller), and the platform drains every IO before it is dropped.
        unsafe { self.ring.submitter().register_buffers(&iovecs)? };
        self.registration = Some(Registration {
            base: base as usize,
            length,
        });
        Ok(())
    }

    /// True if the arena is registered as fixed buffers.
    pub fn is_registered(&self) -> bool {
        self.registration.is_some()
    }

    /// True if the devices are registered as fixed files.
    pub fn files_registered(&self) -> bool {
        self.files_registered
    }

    /// True if [`RingBackend::completions_flagged`] can see completions without blocking.
    pub fn can_poll(&self) -> bool {
        self.can_poll
    }

    /// The SQE target of device `device` whose descriptor is `fd`: its index among the
    /// registered files (with the flag saying so), or the descriptor itself.
    fn target(&self, device: usize, fd: BorrowedFd<'_>) -> (types::Fd, squeue::Flags) {
        if self.files_registered {
            let index = i32::try_from(device).expect("device index fits a registered-file slot");
            (types::Fd(index), squeue::Flags::FIXED_FILE)
        } else {
            (types::Fd(fd.as_raw_fd()), squeue::Flags::empty())
        }
    }

    /// Why registration failed, if it was asked for and failed.
    pub fn registration_error(&self) -> Option<&io::Error> {
        self.registration_error.as_ref()
    }

    /// Pushes `entry`, flushing the submission queue to the kernel first if it is full.
    ///
    /// # Safety
    /// Every buffer and iovec array `entry` points to must stay valid, and not be otherwise
    /// accessed in a conflicting way, until its completion is reaped.
    unsafe fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: forwarded from the caller's contract.
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            match self.ring.submit() {
                Ok(_) => {}
                Err(error) if error.raw_os_error() == Some(libc::EBUSY) => {
                    // The completion queue overflowed and the kernel wants it reaped before
                    // it takes more work: move the completions aside, to be handed out at
                    // the next drain.
                    for cqe in self.ring.completion() {
                        self.backlog.push((cqe.user_data(), cqe.result()));
                    }
                }
                Err(error) if error.raw_os_error() == Some(libc::EINTR) => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Queues the next transfer of `record` (its part not yet transferred) at absolute
    /// offset `record.offset_bytes + record.done_bytes`.
    pub fn push_transfer(
        &mut self,
        record: &mut IoRecord,
        fd: BorrowedFd<'_>,
        arena_base: *mut u8,
        arena_length: usize,
    ) -> io::Result<TransferKind> {
        let (fd, target_flags) = self.target(record.device, fd);
        let offset = record.offset_bytes + record.done_bytes;
        let user_data = record.tag.to_u64();
        let rw_flags = if record.fua && record.op == Op::Write {
            libc::RWF_DSYNC
        } else {
            0
        };
        let fixed = self.registration.and_then(|registration| {
            if registration.base != arena_base as usize || registration.length != arena_length {
                return None; // another arena than the registered one
            }
            let run = record.remaining_single_run()?;
            let length = run.length.min(MAX_TRANSFER_BYTES);
            let chunk = run.arena_offset / REGISTERED_CHUNK_BYTES;
            let last_chunk = (run.arena_offset + length - 1) / REGISTERED_CHUNK_BYTES;
            (chunk == last_chunk).then_some((run.arena_offset, length, chunk as u16))
        });
        let entry = match fixed {
            Some((arena_offset, length, buffer_index)) => {
                let pointer = arena_base.wrapping_add(arena_offset);
                match record.op {
                    Op::Read => opcode::ReadFixed::new(fd, pointer, length as u32, buffer_index)
                        .offset(offset)
                        .build(),
                    _ => opcode::WriteFixed::new(fd, pointer, length as u32, buffer_index)
                        .offset(offset)
                        .rw_flags(rw_flags)
                        .build(),
                }
            }
            None => {
                record.remaining_iovecs(arena_base);
                let (iovecs, count) = (record.iovecs.as_ptr(), record.iovecs.len() as u32);
                match record.op {
                    Op::Read => opcode::Readv::new(fd, iovecs, count).offset(offset).build(),
                    _ => opcode::Writev::new(fd, iovecs, count)
                        .offset(offset)
                        .rw_flags(rw_flags)
                        .build(),
                }
            }
        };
        // SAFETY: the transfer's memory is the part of the arena the IO's buffer names: the
        // engine leaves it untouched until the completion (arena in-flight rule), and the
        // allocation lives until every IO completed (the platform drains IO before it is
        // dropped; the caller holds the arena). The iovec array lives in the record, which
        // stays in the in-flight table until the completion is reaped.
        unsafe { self.push(&entry.flags(target_flags).user_data(user_data)) }?;
        Ok(if fixed.is_some() {
            TransferKind::Fixed
        } else {
            TransferKind::Vectored
        })
    }

    /// Queues `fdatasync` of `fd` (`IORING_OP_FSYNC` with `DATASYNC`).
    pub fn push_flush(&mut self, tag: IoTag, device: usize, fd: BorrowedFd<'_>) -> io::Result<()> {
        let (fd, target_flags) = self.target(device, fd);
        let entry = opcode::Fsync::new(fd)
            .flags(types::FsyncFlags::DATASYNC)
            .build()
            .flags(target_flags)
            .user_data(tag.to_u64());
        // SAFETY: a fsync names no memory.
        unsafe { self.push(&entry) }
    }

    /// Queues an attempt to cancel the SQE whose `user_data` is `tag`. Its own completion
    /// carries [`CANCEL_USER_DATA`]; the target still completes on its own (with
    /// `-ECANCELED` if the cancel took effect).
    pub fn push_cancel(&mut self, tag: IoTag) -> io::Result<()> {
        let entry = opcode::AsyncCancel::new(tag.to_u64())
            .build()
            .user_data(CANCEL_USER_DATA);
        // SAFETY: a cancel names no memory.
        unsafe { self.push(&entry) }
    }

    /// One `io_uring_enter`: submits every queued SQE and, if `wait`, waits for at least one
    /// completion or `timeout_ns`; without `wait` it still posts completions the kernel
    /// flagged. Interrupted or timed-out waits return normally.
    pub fn enter(&mut self, wait: bool, timeout_ns: Option<u64>) -> io::Result<()> {
        let submitter = self.ring.submitter();
        let result = match (wait, timeout_ns) {
            (true, Some(timeout_ns)) => {
                let timespec = types::Timespec::new()
                    .sec(timeout_ns / 1_000_000_000)
                    .nsec((timeout_ns % 1_000_000_000) as u32);
                let args = types::SubmitArgs::new().timespec(&timespec);
                submitter.submit_with_args(1, &args)
            }
            (true, None) => submitter.submit_and_wait(1),
            (false, _) => submitter.submit(),
        };
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if matches!(
                    error.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// True if the kernel flagged completions it has not posted yet: an `io_uring_enter`
    /// ([`RingBackend::enter`] without waiting) posts them. A load from shared memory; always
    /// false on a ring that cannot be polled.
    pub fn completions_flagged(&mut self) -> bool {
        // `submit` sees the same flag and enters with GETEVENTS, which runs the deferred
        // completions.
        self.can_poll && self.ring.submission().taskrun()
    }

    /// True if completions are ready to drain.
    pub fn has_completions(&mut self) -> bool {
        !self.backlog.is_empty() || !self.ring.completion().is_empty()
    }

    /// True if queued SQEs wait for an `io_uring_enter`.
    pub fn has_unsubmitted(&mut self) -> bool {
        !self.ring.submission().is_empty()
    }

    /// Moves every available completion to `out` as `(user_data, result)`.
    pub fn drain_completions(&mut self, out: &mut Vec<(u64, i32)>) {
        out.append(&mut self.backlog);
        for cqe in self.ring.completion() {
            out.push((cqe.user_data(), cqe.result()));
        }
    }
}
