//! Flash SSD timing model: parallel flash (channels × chips × dies × planes) behind a page-
//! mapped FTL with greedy garbage collection, an optional DRAM write buffer and mapping-table
//! cache, and an NVMe or SATA front end. It answers when each command completes; it stores no
//! data.
//!
//! Map (one concept per file):
//! - [`params`]: `SsdParams` and its groups (what a preset sets, what a scenario overrides);
//! - `geometry`: counts and address arithmetic; `table`: compact lazily allocated u32 tables;
//! - `ftl`: mapping, allocation (page-striped over planes, channel first); `gc`: greedy,
//!   host-paced garbage collection; `cmt`: the cached mapping table; `mapping_fetch`:
//!   translation-page reads in flight and the lookups waiting for them;
//! - `flash`: die queues and occupancy, channel transfers; `timeline`: interval reservation
//!   of shared buses; `host`: queue slots, link, controller cores; `buffer`: write buffer;
//!   `hot_rewrites`: the buffer's hot/cold separation (rewrites kept in DRAM);
//! - `model`: `SsdModel` and its event loop; `flows`: the steps of each command; `job`,
//!   `ops`, `slab`: their records; `op_times`: where ops spend their time (diagnostic);
//!   [`presets`](mod@presets): named drives with sources.
//!
//! Modelling choices worth knowing:
//! - Mapping unit 4 KiB; a flash page holds several units. Writes smaller than a unit read
//!   the old unit first when written through (read-modify-write); buffered writes merge in
//!   DRAM (the old-data read is not modelled). Unfilled slots of a programmed page are
//!   padding: counted in write amplification, reclaimed by GC.
//! - The FTL updates the mapping when a command is accepted; timing follows. Data of pages
//!   not yet programmed is read from controller DRAM.
//! - Dies serve host reads (and the mapping fetches and read-modify-write reads they need)
//!   before programs, erases and GC, which run in FIFO order; no suspend/resume.
//! - `precondition` fills the first fraction of the logical space sequentially (no GC);
//!   `precondition_random_overwrite` then fragments it as random writes would.
//! - FLUSH and FUA wait for a volatile buffer to reach flash; with a power-loss protected
//!   buffer they complete without waiting (the data is already safe).
//! - Tail stalls: each command arriving may, with `stalls.probability`, freeze command
//!   processing for `stalls.duration_ns`; only these draws use the device's random stream.
//!
//! Memory: 4 bytes per logical unit (forward map, 64 Ki-entry chunks) and 4 bytes per physical
//! slot (reverse map, one chunk per erase block), allocated on first write: 2 MiB per GiB
//! written at 4 KiB units (so ~2 GiB for a 1 TB drive written end to end; nothing for space
//! never written). An erase block's reverse-map chunk is freed once the block is full and
//! holds no valid unit (or is erased), so the reverse map follows the data the drive holds,
//! not the bytes written: a drive GCs only when nearly full, so a small working set
//! rewritten for hours walks every block of the flash. Fixed state: 1 bit per flash page, ~9 bytes per block and the chunk
//! indexes, ~10 MiB per TB of raw flash. The mapping cache, when enabled, holds 13 bytes per
//! line.

mod buffer;
mod cmt;
mod flash;
mod flows;
mod ftl;
mod gc;
mod geometry;
mod host;
mod hot_rewrites;
mod job;
mod mapping_fetch;
mod model;
mod op_times;
mod ops;
pub mod params;
pub mod presets;
mod slab;
mod stats;
mod table;
mod timeline;

pub use ftl::FtlCounters;
pub use model::SsdModel;
pub use op_times::{FlashOpTimes, OpTimes};
pub use params::{
    Allocation, FlashParams, FtlParams, GeometryParams, HostInterface, HostParams,
    MappingCacheParams, SsdParams, StallParams, WriteBufferParams,
};
pub use presets::presets;
pub use stats::SsdStats;
