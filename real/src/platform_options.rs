//! The knobs and counters of [`crate::RealPlatform`]: which backend, how large a ring,
//! whether to register buffers, and what the platform did.
//!
//! Deliberately not here: the platform's behaviour (see `platform`).

/// Which backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// io_uring, or the blocking backend if io_uring cannot be set up
    /// ([`RealPlatform::fallback_reason`] says why).
    #[default]
    Auto,
    /// io_uring or an error.
    IoUring,
    /// Blocking `preadv2`/`pwritev2`.
    Blocking,
}

/// How to build a [`RealPlatform`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformOptions {
    /// io_uring, blocking, or io_uring with fallback.
    pub backend: BackendChoice,
    /// Submission queue entries of the ring (a power of two; the completion queue is twice
    /// as large, and the kernel keeps overflowing completions).
    pub queue_entries: u32,
    /// Register the arena as io_uring fixed buffers.
    pub register_buffers: bool,
}

impl Default for PlatformOptions {
    fn default() -> Self {
        PlatformOptions {
            backend: BackendChoice::Auto,
            queue_entries: 256,
            register_buffers: true,
        }
    }
}

/// The backend in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// io_uring; `fixed_buffers` if the arena is registered.
    IoUring {
        /// The arena is registered: contiguous transfers use READ_FIXED/WRITE_FIXED.
        fixed_buffers: bool,
    },
    /// Blocking `preadv2`/`pwritev2`/`fdatasync`.
    Blocking,
}

/// Counters of what the platform did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlatformStats {
    /// Device IOs handed to `submit`.
    pub submitted: u64,
    /// Completions produced (exactly one per submitted IO, once it is done).
    pub completed: u64,
    /// IOs refused before any syscall (read-only, outside the window, bad buffer…).
    pub refused: u64,
    /// Transfers sent as READ_FIXED/WRITE_FIXED on registered buffers.
    pub fixed_transfers: u64,
    /// Transfers sent as READV/WRITEV (or blocking preadv2/pwritev2).
    pub vectored_transfers: u64,
    /// Continuations of short transfers.
    pub short_transfers: u64,
    /// Flushes carried out (`fdatasync`).
    pub flushes: u64,
    /// Discards carried out or answered NotSupported.
    pub discards: u64,
    /// `cancel` calls naming an IO still in flight.
    pub cancel_requests: u64,
    /// Cancels that took effect (the IO completed `Cancelled`).
    pub cancelled: u64,
    /// io_uring cancels the kernel answered "not found" or "already running".
    pub cancels_missed: u64,
    /// `io_uring_enter` calls.
    pub ring_enters: u64,
    /// Completions whose tag named no IO in flight (never expected).
    pub unknown_completions: u64,
}
