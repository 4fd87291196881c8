//! The knobs and counters of [`crate::RealPlatform`]: which backend, how large a ring,
//! whether to register buffers, and what the platform did.
//!
//! Deliberately not here: the platform's behaviour (see `platform`).

/// Which backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// io_uring, or the blocking backend if io_uring cannot be set up
    /// ([`crate::RealPlatform::fallback_reason`] says why).
    #[default]
    Auto,
    /// io_uring or an error.
    IoUring,
    /// Blocking `preadv2`/`pwritev2`.
    Blocking,
}

/// How to build a [`crate::RealPlatform`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformOptions {
    /// io_uring, blocking, or io_uring with fallback.
    pub backend: BackendChoice,
    /// Submission queue entries of the ring (a power of two; the completion queue is twice
    /// as large, and the kernel keeps overflowing completions).
    pub queue_entries: u32,
    /// Register the arena as io_uring fixed buffers.
    pub register_buffers: bool,
    /// Register the devices as io_uring fixed files (saves the kernel a file lookup per IO).
    pub register_files: bool,
    /// How long a wait polls the ring for completions, yielding the CPU between looks,
    /// before it blocks in `io_uring_enter` (io_uring only; 0 = block at once). A blocked
    /// wait costs two task switches and, on a virtual machine whose idle vCPU halts, a
    /// wake-up that can take longer than a fast device takes to answer.
    pub poll_before_block_ns: u64,
}

/// Default of [`PlatformOptions::poll_before_block_ns`]: a few times a fast device's answer
/// (loop devices and NVMe take 5-20 µs), a small price per wait on slow ones.
pub const DEFAULT_POLL_BEFORE_BLOCK_NS: u64 = 50_000;

impl Default for PlatformOptions {
    fn default() -> Self {
        PlatformOptions {
            backend: BackendChoice::Auto,
            queue_entries: 256,
            register_buffers: true,
            register_files: true,
            poll_before_block_ns: DEFAULT_POLL_BEFORE_BLOCK_NS,
        }
    }
}

/// The backend in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// io_uring; `fixed_buffers` if the arena is registered, `fixed_files` if the devices are.
    IoUring {
        /// The arena is registered: contiguous transfers use READ_FIXED/WRITE_FIXED.
        fixed_buffers: bool,
        /// The devices are registered: SQEs name them by index.
        fixed_files: bool,
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
    /// Waits that found a completion by polling the ring, without blocking.
    pub polled_waits: u64,
    /// Waits that blocked in `io_uring_enter`.
    pub blocked_waits: u64,
    /// Times polling was paused because a yield lost the CPU to another task.
    pub poll_pauses: u64,
    /// Completions whose tag named no IO in flight (never expected).
    pub unknown_completions: u64,
}
