//! dmsim-real: the dmsim engine over real block devices. All `unsafe` of the project lives
//! here, each block with a `// SAFETY:` comment.
//!
//! Map of this crate:
//! - [`device`]: [`RealDevice`] — opening a block device or file with `O_DIRECT`, geometry,
//!   read-only by default, the window of sectors the engine may touch.
//! - [`safety`]: the checks that keep dmsim off mounted or stacked-on devices.
//! - `ioctl`: the raw block ioctls (`BLKSSZGET`, `BLKGETSIZE64`, `BLKDISCARD`).
//! - [`platform`]: [`RealPlatform`] — the engine's `Platform` on real devices: io_uring with
//!   the arena as registered buffers (`ring`), or blocking `preadv2`/`pwritev2` (`blocking`);
//!   the in-flight table and errno mapping (`inflight`).
//! - [`RealRig`]: the one builder of a real run: an engine that records anomalies and its
//!   platform, owned together; the platform gives the arena back after its last completion.
//! - [`closed_loop`]: a closed-loop bio source for this crate's tests and benchmark.
//! - [`testing`]: loop-device fixtures for this crate's and the CLI's tests.
//!
//! Deliberately not here: anything the engine decides (timeouts, retries, what to submit).

#![deny(missing_docs)]

mod blocking;
pub mod closed_loop;
pub mod device;
pub mod error;
mod inflight;
mod ioctl;
pub mod platform;
mod platform_options;
mod rig;
mod ring;
pub mod safety;
pub mod testing;

pub use device::{DeviceKind, OpenOptions, RealDevice};
pub use error::RealError;
pub use platform::{BackendChoice, BackendKind, PlatformOptions, PlatformStats, RealPlatform};
pub use rig::RealRig;
