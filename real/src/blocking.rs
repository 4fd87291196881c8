//! The blocking backend: `preadv2`/`pwritev2`/`fdatasync`, for kernels or sandboxes without
//! io_uring, or when asked for.
//!
//! Owns the queue of IOs submitted but not yet carried out and the blocking syscalls. IOs
//! are carried out in submission order when the platform waits, not at submit, so a cancel
//! that arrives first takes effect (`Cancelled`) exactly as it would on a ring that had not
//! started the IO yet. Short transfers are continued like the ring continues them.
//!
//! Deliberately not here: what a result means (see `inflight`).

use crate::inflight::IoRecord;
use dmsim_engine::block::Op;
use dmsim_engine::io::IoTag;
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, BorrowedFd};

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct BlockingBackend {
    queued: VecDeque<IoTag>,
}

impl BlockingBackend {
    /// Queues `tag` to be carried out at the next wait.
    pub fn push(&mut self, tag: IoTag) {
        self.queued.push_back(tag);
    }

    /// Removes `tag` from the queue; true if it had not been carried out yet.
    pub fn unqueue(&mut self, tag: IoTag) -> bool {
        match self.queued.iter().position(|&queued| queued == tag) {
            Some(position) => {
                self.queued.remove(position);
                true
            }
            None => false,
        }
    }

    /// The next IO to carry out.
    pub fn pop(&mut self) -> Option<IoTag> {
        self.queued.pop_front()
    }
}

/// One blocking transfer of `record`'s remaining part; returns bytes or a negative errno,
/// like a CQE.
pub(crate) fn transfer_once(record: &mut IoRecord, fd: BorrowedFd<'_>, arena_base: *mut u8) -> i64 {
    record.remaining_iovecs(arena_base);
    let offset = (record.offset_bytes + record.done_bytes) as libc::off_t;
    let count = record.iovecs.len().min(libc::UIO_MAXIOV as usize) as libc::c_int;
    let result = match record.op {
        // SAFETY: the iovecs point into the arena memory the IO's buffer names, which the
        // engine leaves untouched while the IO is in flight and which the caller's `&mut
        // Arena` keeps alive for the duration of this call; the array lives in the record.
        Op::Read => unsafe {
            libc::preadv2(fd.as_raw_fd(), record.iovecs.as_ptr(), count, offset, 0)
        },
        Op::Write => {
            let flags = if record.fua { libc::RWF_DSYNC } else { 0 };
            // SAFETY: as for the read above; the kernel only reads the memory.
            unsafe { libc::pwritev2(fd.as_raw_fd(), record.iovecs.as_ptr(), count, offset, flags) }
        }
        Op::Flush | Op::Discard => unreachable!("only transfers reach transfer_once"),
    };
    if result < 0 {
        -i64::from(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    } else {
        result as i64
    }
}
