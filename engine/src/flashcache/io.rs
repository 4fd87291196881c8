//! The vocabulary between the flashcache state machine and whoever executes its IO: bios in,
//! requests out, completions back (the calling obligations are in the module doc of
//! [`super`]).
//!
//! Owns: plain data types. Deliberately small: dm_io (one or two regions, a buffer), kcopyd
//! (one source, one destination), bio completion, and a worker wake-up. Does not own any
//! behaviour; an adapter maps these onto the engine's real dm_io and kcopyd.

use crate::block::{IoStatus, Op};
use serde::{Deserialize, Serialize};

/// Which of the target's two devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    /// The cache device.
    Ssd,
    /// The backing ("source") device.
    Disk,
}

/// `struct dm_io_region`: a run of sectors on one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Region {
    pub device: Device,
    pub sector: u64,
    pub sectors: u64,
}

impl Region {
    pub fn new(device: Device, sector: u64, sectors: u64) -> Region {
        Region {
            device,
            sector,
            sectors,
        }
    }
    /// One past the last sector.
    pub fn end(&self) -> u64 {
        self.sector + self.sectors
    }
}

/// One or two regions (flashcache never uses more: writethrough writes disk and SSD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RegionList {
    regions: [Region; 2],
    len: u8,
}

impl RegionList {
    /// A single region.
    pub fn one(region: Region) -> RegionList {
        RegionList {
            regions: [region, region],
            len: 1,
        }
    }
    /// Two regions written with the same data, in this order (error bit i = region i).
    pub fn two(first: Region, second: Region) -> RegionList {
        RegionList {
            regions: [first, second],
            len: 2,
        }
    }
    /// The regions, in order.
    pub fn as_slice(&self) -> &[Region] {
        &self.regions[..self.len as usize]
    }
}

/// Caller-assigned identity of a bio; the target never reuses or invents one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CacheBioId(pub u64);

/// A bio as the target sees it, already split by dm core so it never straddles a block.
/// `sector` is relative to the target's start (= the disk sector). `pid`/`tgid` are the
/// submitting thread and thread group, for the pid lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheBio {
    pub id: CacheBioId,
    pub op: Op,
    pub sector: u64,
    pub sectors: u32,
    pub pid: i32,
    pub tgid: i32,
}

impl CacheBio {
    /// True for data-carrying writes and discards (`bio_data_dir == WRITE`).
    pub fn is_write(&self) -> bool {
        matches!(self.op, Op::Write | Op::Discard)
    }
}

/// Handle of a metadata byte buffer the target owns (see `meta_buffer`/`meta_buffer_mut`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MetaBufferId(pub u32);

/// Where a dm_io's data comes from or goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CacheBuffer {
    /// The pages of a bio (never inspected by the target).
    Bio(CacheBioId),
    /// Engine-owned metadata bytes, exactly `sectors * 512` long.
    Meta(MetaBufferId),
    /// No data (flush).
    None,
}

/// A job's slab handle; the generation catches stale completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// What a completion refers to; echoed back unchanged by the executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CacheIoTag {
    /// A cache job's data IO, an uncached disk IO, a flush, or a cleaning copy.
    Job(JobId),
    /// The metadata write led by this job (`flashcache_md_write_callback`).
    MdWrite(JobId),
    /// A synchronous bulk metadata IO of create/load/store, numbered in issue order.
    Bulk(u32),
}

/// Direction of a dm_io.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IoOp {
    Read,
    Write,
    /// REQ_PREFLUSH with no data (option `honor_flush`).
    Flush,
    /// Option `discard`, passed to the disk.
    Discard,
}

/// A `dm_io()` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CacheDmIo {
    pub tag: CacheIoTag,
    pub op: IoOp,
    /// Reads always have exactly one region.
    pub regions: RegionList,
    pub buffer: CacheBuffer,
    /// Synchronous in flashcache (bulk metadata IO): the target issues nothing else for
    /// this cache until it completes.
    pub sync: bool,
    /// Option `ssd_timeout` (Decision 12): use timed dm_io with this deadline; a timed-out
    /// region must be reported as failed.
    pub timeout_ns: Option<u64>,
}

/// A `dm_kcopyd_copy()` call with one destination and flags 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KcopydRequest {
    pub tag: CacheIoTag,
    pub from: Region,
    pub to: Region,
}

/// Something the target wants done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CacheRequest {
    /// Submit a dm_io; report it with `complete_dm_io`.
    DmIo(CacheDmIo),
    /// Submit a kcopyd copy; report it with `complete_kcopyd`.
    KcopydCopy(KcopydRequest),
    /// End this bio with this status (`bio_endio`). Exactly once per bio.
    CompleteBio { bio: CacheBioId, status: IoStatus },
    /// `schedule_work(&_kcached_wq)`: call `run_worker` (now or after a modelled delay).
    /// Emitted only when the worker was not already scheduled.
    WakeWorker,
}

/// How a dm_io ended: bit i set iff region i failed (dm_io's `error_bits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DmIoOutcome {
    pub error_bits: u64,
    /// Timed dm_io only: a device IO of the request was cancelled while running and may
    /// still be running (a zombie; its region failed). The caller reports its end with
    /// [`super::Flashcache::zombie_ended`] and the same tag; until then the target keeps
    /// whatever that IO may still write (a cache slot, a metadata block) out of use.
    #[serde(default)]
    pub zombie_io: bool,
}

impl DmIoOutcome {
    pub const OK: DmIoOutcome = DmIoOutcome {
        error_bits: 0,
        zombie_io: false,
    };
    /// Every region failed.
    pub const FAILED: DmIoOutcome = DmIoOutcome {
        error_bits: !0,
        zombie_io: false,
    };
    /// True if any region failed.
    pub fn failed(&self) -> bool {
        self.error_bits != 0
    }
    /// The bio status flashcache derives (-EIO on any error).
    pub fn status(&self) -> IoStatus {
        if self.failed() {
            IoStatus::IoError
        } else {
            IoStatus::Ok
        }
    }
}
