//! The values that cross the engine's boundary: [`Input`] in, [`Output`] out.
//!
//! Bios cross as values: a write bio carries one [`SectorContent`] per sector, which the
//! engine copies into its arena when it admits the bio; a finished read carries its sectors
//! back in [`BioDone`]. Device IO crosses by reference to arena memory: a [`DeviceIo`] names
//! its [`Buffer`] pages, which stay in flight until the matching [`Completion`].
//!
//! Deliberately not here: how the platform carries out device IO, and the workload.

use crate::arena::Buffer;
use crate::block::{DeviceId, Extent, IoStatus, Op};
use crate::content::SectorContent;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// The contents of a bio's sectors, one per sector: inline up to one 4 KiB page (eight
/// 512-byte sectors), so the common bio carries its data without an allocation.
pub type SectorData = SmallVec<[SectorContent; SECTOR_DATA_INLINE]>;

/// Sectors a [`SectorData`] holds without allocating.
pub const SECTOR_DATA_INLINE: usize = 8;

/// Identifies a bio for its submitter; unique among the bios in the engine at one time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BioId(pub u64);

/// Request flags of a bio (the subset of `REQ_*` dmsim models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
pub struct BioFlags {
    /// REQ_FUA: the write is durable when it completes.
    pub fua: bool,
    /// REQ_PREFLUSH: flush the volume's write caches before this bio's data.
    pub preflush: bool,
    /// REQ_SYNC: someone waits for this IO (never plugged).
    pub sync: bool,
}

/// A block IO submitted to the engine's volume.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bio {
    pub id: BioId,
    pub op: Op,
    /// First volume sector.
    pub sector: u64,
    /// Length; 0 only for a flush.
    pub sectors: u32,
    pub flags: BioFlags,
    /// Writes: one content per sector. Reads, flushes, discards: empty.
    pub data: SectorData,
}

/// A finished bio.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BioDone {
    pub id: BioId,
    /// The worst status of the bio's pieces.
    pub status: IoStatus,
    /// Reads: one content per sector (zeroes where a piece failed). Others: empty.
    pub data: SectorData,
}

/// Names one device IO in flight: a slot of the engine's IO table and the slot's generation,
/// so a stale or duplicate completion is recognised and never misrouted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IoTag {
    pub slot: u32,
    pub generation: u32,
}

impl IoTag {
    /// Packs the tag into one integer (e.g. io_uring `user_data`): slot in the low half.
    pub fn to_u64(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.slot)
    }

    /// Inverse of [`IoTag::to_u64`].
    pub fn from_u64(value: u64) -> IoTag {
        IoTag {
            slot: value as u32,
            generation: (value >> 32) as u32,
        }
    }
}

impl std::fmt::Display for IoTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "io#{}.{}", self.slot, self.generation)
    }
}

/// One IO the engine asks the platform to carry out on a device.
///
/// Promises: `sector + sectors` lies within the device; `sector` and `sectors` are multiples
/// of the device's logical block size; for reads and writes `buffer` covers exactly `sectors`
/// sectors of arena memory, which stays in flight (untouched by the engine) until the
/// matching [`Completion`]; for flushes `sectors == 0` and for flushes and discards the buffer
/// is empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceIo {
    pub tag: IoTag,
    pub device: DeviceId,
    pub op: Op,
    pub sector: u64,
    pub sectors: u32,
    /// REQ_FUA on a write.
    pub fua: bool,
    /// REQ_SYNC: someone waits for this IO.
    pub sync: bool,
    pub buffer: Buffer,
}

impl DeviceIo {
    /// The device range this IO covers.
    pub fn extent(&self) -> Extent {
        Extent::new(self.sector, u64::from(self.sectors))
    }
}

/// The platform's answer to one [`DeviceIo`]: exactly one per `Submit`, whether or not the
/// engine asked to cancel it (`Cancelled` if the cancel took effect before the device acted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Completion {
    pub tag: IoTag,
    pub status: IoStatus,
}

/// Administrative requests to the engine.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Control {
    /// Cancel every timed dm_io region still running on `device`, in every client
    /// (`dm_io_cancel_by_device`).
    CancelTimedIoOnDevice(DeviceId),
    /// A message for the target (like `dmsetup message`); targets that know none reject it.
    TargetMessage(String),
    /// A message for the lower target of a stack presented as `device` (raid5: `fail N`).
    StackedMessage { device: DeviceId, message: String },
}

/// Everything that can happen to the engine.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Input {
    /// A bio arrives at the volume.
    Bio(Bio),
    /// A device IO finished.
    Completion(Completion),
    /// The deadline the engine asked for (`poll_deadline`) has come.
    Tick,
    Control(Control),
}

/// Everything the engine wants done.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Output {
    /// Carry out this device IO and answer with a [`Completion`].
    Submit(DeviceIo),
    /// Try to cancel this device IO; its `Completion` still follows (`Cancelled` or not).
    Cancel(IoTag),
    /// A bio finished.
    BioDone(BioDone),
    /// A write the engine had given up on (cancelled or timed out and cancelled) completed
    /// anyway, or failed: the range's content is now either the old or the new data, or torn.
    /// Or a raid5 array computed a page after a read error from parity a crash may have left
    /// stale (the write hole); `device` is then the array's id as a device (see
    /// `TargetSpec::Stack`). Data oracles must accept anything there from here on.
    ContentsUnknown { device: DeviceId, extent: Extent },
}
