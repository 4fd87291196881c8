//! dm_io: synchronous and asynchronous IO to regions of devices (spec §2, §4, §5.1–5.3).
//!
//! Two faces of one service:
//! - **Classic** (`DmIo::submit` with `timed = None`): one notification per request with an
//!   error bitset (bit *i* set iff a device IO of region *i* failed); `notify == false` means
//!   synchronous — the caller waits for the same event, which then carries the request's
//!   result. Reads use exactly one region (otherwise -EIO: async callers are also notified
//!   with error bit 1 at once), writes up to [`DM_IO_MAX_REGIONS`] regions from the same
//!   memory. Regions of length 0 are skipped (a flush sends one empty IO per region). The
//!   extra-reference rule holds: the request completes only after every region has been
//!   dispatched, exactly once, even with zero device IOs.
//! - **Timed** (`timed = Some(..)`, Bader's 2006 proposal): per-region states OK / TIMEOUT /
//!   CANCELLED / ERROR, a notice per region and again when a timed-out region finishes,
//!   `cancel_on_timeout`, automatic cancellation on timeout when there is no notify, cancel by
//!   handle and by device, and a final "returned upward" event once every region is OK,
//!   CANCELLED or ERROR. A cancelled region's device IOs become zombies: their buffers stay
//!   pinned until the device answers, and a zombie write that did not end `Cancelled` makes
//!   its range "contents unknown". The caller hears of every zombie's end (`TimedDone`
//!   says how many the request left), so it can keep the range out of use until then.
//!
//! Clients bound the requests they have in flight by `min_ios`; excess requests wait in FIFO
//! order and never fail (Decision 3), which makes careless nested use deadlock detectably.
//!
//! Deliberately not here: routing notifications to callers ([`crate::services`] does), and
//! the memory itself (callers pass arena [`Buffer`]s and own them).

mod check;
mod complete;
mod split;

pub use split::BIO_MAX_PAGES;

use super::block_layer::{BlockLayer, IoOwner, IoRequest};
pub use super::handles::DmIoHandle;
use super::handles::Route;
use crate::arena::Buffer;
use crate::block::{DeviceId, IoStatus, Op};
use crate::error::WaitingJob;
use crate::io::IoTag;
use crate::slab::{Slab, SlabKey};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::{BTreeSet, VecDeque};

/// Most regions one request may name (BITS_PER_LONG: the region index lives in a pointer's
/// low bits in Linux).
pub const DM_IO_MAX_REGIONS: usize = 64;

/// Names a dm_io client (its own pool of request slots).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DmIoClientId(pub u32);

/// A run of sectors on one device (`struct dm_io_region`); `sectors == 0` means "skip".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DmIoRegion {
    pub device: DeviceId,
    pub sector: u64,
    pub sectors: u64,
}

/// What the caller asks (`struct dm_io_request` minus the client and the notify target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmIoRequest {
    pub op: Op,
    /// REQ_FUA on every write piece.
    pub fua: bool,
    /// REQ_SYNC on every piece (implied for synchronous classic requests).
    pub sync: bool,
    /// The memory every region reads into / writes from (the cursor is rewound per region).
    pub buffer: Buffer,
    /// Classic: `true` = asynchronous (notify), `false` = synchronous (caller waits).
    /// Timed: whether per-region notices are sent.
    pub notify: bool,
}

/// The timed face's `struct dm_io_control` extras.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TimedControl {
    /// Deadline after dispatch; `None` = never times out (cancellation still works).
    pub timeout_ns: Option<u64>,
    /// DM_IO_CANCEL_ON_TIMEOUT: cancel a region when its timeout fires.
    pub cancel_on_timeout: bool,
}

/// State of one region of a timed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RegionState {
    /// Device IO still running, no notice sent yet.
    Running,
    /// Every piece succeeded. Final.
    Ok,
    /// The deadline passed; the IO still runs and may finish by itself. Not final.
    Timeout,
    /// The caller (or the timeout) gave up on it; its IO may still run as a zombie. Final.
    Cancelled,
    /// A piece failed. Final.
    Error,
}

impl RegionState {
    /// OK, CANCELLED and ERROR are final: the request returns upward once all regions are.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RegionState::Ok | RegionState::Cancelled | RegionState::Error
        )
    }
}

/// One per-region notification of a timed request (`struct dm_io_region_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionNotice {
    pub region: u8,
    pub state: RegionState,
    /// The worst device status seen for the region (`Ok` while none failed).
    pub status: IoStatus,
}

/// Why a dm_io call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DmIoError {
    /// -EIO: a read must name exactly one region. Async classic callers are also notified
    /// with error bit 1.
    #[error("a read must use exactly one region, got {regions}")]
    ReadNeedsOneRegion { regions: usize },
    #[error("{regions} regions exceed the limit of {DM_IO_MAX_REGIONS}")]
    TooManyRegions { regions: usize },
    #[error("unknown dm_io client {0:?}")]
    UnknownClient(DmIoClientId),
    #[error("region {region}: unknown device {device}")]
    UnknownDevice { region: usize, device: DeviceId },
    #[error("region {region}: {device} sectors {sector}+{sectors} out of range or misaligned")]
    BadRegion {
        region: usize,
        device: DeviceId,
        sector: u64,
        sectors: u64,
    },
    #[error("region {region} needs {needed} sectors of memory, the buffer holds {available}")]
    BufferTooSmall {
        region: usize,
        needed: u64,
        available: u64,
    },
    #[error("unknown or finished dm_io request handle")]
    UnknownHandle,
    #[error("the request is not timed: classic requests cannot be cancelled")]
    NotTimed,
}

/// What a dm_io request tells its caller (routed by [`crate::services`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NoticeBody {
    /// Classic completion (async notify, or the sync call's return).
    Done {
        handle: Option<DmIoHandle>,
        error_bits: u64,
        sync: bool,
    },
    /// Timed: a region changed state.
    Region {
        handle: DmIoHandle,
        notice: RegionNotice,
    },
    /// Timed: every region is final; the request is returned upward. `zombies` of its
    /// device IOs were cancelled while running: each one's end comes as a `ZombieEnded`
    /// (before or after this notice).
    TimedDone {
        handle: DmIoHandle,
        states: Vec<RegionState>,
        zombies: u32,
    },
    /// Timed: a zombie write completed other than `Cancelled`: its range's content is unknown.
    LateWrite {
        handle: DmIoHandle,
        region: u8,
        device: DeviceId,
        sector: u64,
        sectors: u64,
        status: IoStatus,
    },
    /// Timed: a zombie device IO ended (landed, failed or cancelled after all); sent after
    /// its `LateWrite`, if any.
    ZombieEnded {
        handle: DmIoHandle,
        region: u8,
        status: IoStatus,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice {
    pub route: Route,
    pub body: NoticeBody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DmIoPhase {
    /// Waiting for a client slot.
    Waiting,
    Dispatched,
}

/// One region of a request and its progress.
#[derive(Debug, Clone)]
struct PerRegion {
    region: DmIoRegion,
    /// Device IOs of the region not yet done.
    pending: u32,
    /// The worst status of the region's device IOs.
    status: IoStatus,
    /// Timed only (classic requests leave it `Running` and never read it).
    state: RegionState,
    /// Timed only: the device IOs in flight (for cancellation).
    ios: SmallVec<[IoTag; 2]>,
}

impl PerRegion {
    fn new(region: DmIoRegion) -> PerRegion {
        PerRegion {
            region,
            pending: 0,
            status: IoStatus::Ok,
            state: RegionState::Running,
            ios: SmallVec::new(),
        }
    }
}

/// A request's regions, inline for the one or two flashcache uses: a request costs no
/// allocation of its own (issue 11).
type PerRegionList = SmallVec<[PerRegion; 2]>;

#[derive(Debug, Clone)]
struct DmIoRecord {
    client: DmIoClientId,
    route: Route,
    op: Op,
    fua: bool,
    device_sync: bool,
    notify: bool,
    buffer: Buffer,
    /// The regions and each one's progress, in order.
    regions: PerRegionList,
    timed: Option<TimedControl>,
    phase: DmIoPhase,
    /// References: 1 during dispatch (the extra one) plus one per device IO not yet done.
    references: u32,
    error_bits: u64,
    deadline_ns: Option<u64>,
    created_ns: u64,
    /// Timed only: device IOs cancelled while running (zombies), reported with `TimedDone`.
    zombies: u32,
}

#[derive(Debug, Clone)]
struct DmIoClient {
    label: String,
    min_ios: u32,
    in_flight: u32,
    waiting: VecDeque<SlabKey>,
}

/// Counters of dm_io.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmIoStats {
    pub requests: u64,
    pub requests_waited_for_slot: u64,
    pub device_ios: u64,
    pub regions_timed_out: u64,
    pub regions_cancelled: u64,
    pub late_writes: u64,
}

/// The dm_io service. See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct DmIo {
    clients: Vec<DmIoClient>,
    requests: Slab<DmIoRecord>,
    /// Timed requests by deadline. Every change of an entry goes with a change of the
    /// request it names, which marks the request's slot for the incremental check.
    deadlines: BTreeSet<(u64, SlabKey)>,
    pub notices: VecDeque<Notice>,
    pub stats: DmIoStats,
    /// What the incremental invariant check carries between calls.
    incremental_check: check::IncrementalCheck,
}

impl DmIo {
    /// `dm_io_client_create`: a client whose pool allows `min_ios` requests in flight.
    pub fn create_client(&mut self, min_ios: u32, label: &str) -> DmIoClientId {
        assert!(
            min_ios > 0,
            "a dm_io client needs at least one request slot"
        );
        let id = DmIoClientId(self.clients.len() as u32);
        self.clients.push(DmIoClient {
            label: label.to_string(),
            min_ios,
            in_flight: 0,
            waiting: VecDeque::new(),
        });
        id
    }

    /// `dm_io()`: validates, then dispatches the request or queues it for a client slot.
    pub fn submit(
        &mut self,
        bl: &mut BlockLayer,
        client: DmIoClientId,
        route: Route,
        request: DmIoRequest,
        regions: &[DmIoRegion],
        timed: Option<TimedControl>,
    ) -> Result<DmIoHandle, DmIoError> {
        if let Err(error) = self.validate(bl, client, &request, regions) {
            if matches!(error, DmIoError::ReadNeedsOneRegion { .. })
                && timed.is_none()
                && request.notify
            {
                // The kernel WARNs, calls fn(1, ctx) at once and returns -EIO.
                self.notices.push_back(Notice {
                    route,
                    body: NoticeBody::Done {
                        handle: None,
                        error_bits: 1,
                        sync: false,
                    },
                });
            }
            return Err(error);
        }
        let classic_sync = timed.is_none() && !request.notify;
        let key = self.requests.insert(DmIoRecord {
            client,
            route,
            op: request.op,
            fua: request.fua,
            device_sync: request.sync || classic_sync,
            notify: request.notify,
            buffer: request.buffer,
            regions: regions.iter().copied().map(PerRegion::new).collect(),
            timed,
            phase: DmIoPhase::Waiting,
            references: 0,
            error_bits: 0,
            deadline_ns: None,
            created_ns: bl.now_ns,
            zombies: 0,
        });
        self.stats.requests += 1;
        let slot = &mut self.clients[client.0 as usize];
        if slot.in_flight < slot.min_ios && slot.waiting.is_empty() {
            slot.in_flight += 1;
            self.dispatch(bl, key);
        } else {
            self.stats.requests_waited_for_slot += 1;
            slot.waiting.push_back(key);
        }
        Ok(DmIoHandle(key))
    }

    fn validate(
        &self,
        bl: &BlockLayer,
        client: DmIoClientId,
        request: &DmIoRequest,
        regions: &[DmIoRegion],
    ) -> Result<(), DmIoError> {
        if client.0 as usize >= self.clients.len() {
            return Err(DmIoError::UnknownClient(client));
        }
        if regions.len() > DM_IO_MAX_REGIONS {
            return Err(DmIoError::TooManyRegions {
                regions: regions.len(),
            });
        }
        if request.op == Op::Read && regions.len() > 1 {
            return Err(DmIoError::ReadNeedsOneRegion {
                regions: regions.len(),
            });
        }
        for (index, region) in regions.iter().enumerate() {
            let Some(info) = bl.device(region.device) else {
                return Err(DmIoError::UnknownDevice {
                    region: index,
                    device: region.device,
                });
            };
            if request.op == Op::Flush || region.sectors == 0 {
                continue;
            }
            if !info.admits(crate::block::Extent::new(region.sector, region.sectors)) {
                return Err(DmIoError::BadRegion {
                    region: index,
                    device: region.device,
                    sector: region.sector,
                    sectors: region.sectors,
                });
            }
            if matches!(request.op, Op::Read | Op::Write)
                && region.sectors > request.buffer.capacity_sectors()
            {
                return Err(DmIoError::BufferTooSmall {
                    region: index,
                    needed: region.sectors,
                    available: request.buffer.capacity_sectors(),
                });
            }
        }
        Ok(())
    }

    /// `dispatch_io`: submits every region's pieces under the extra reference, then drops it.
    fn dispatch(&mut self, bl: &mut BlockLayer, key: SlabKey) {
        let request = self
            .requests
            .get_mut(key)
            .expect("dispatching a live request");
        debug_assert_eq!(request.phase, DmIoPhase::Waiting);
        request.phase = DmIoPhase::Dispatched;
        request.references = 1;
        if let Some(timeout) = request.timed.and_then(|t| t.timeout_ns) {
            let deadline = bl.now_ns.saturating_add(timeout);
            request.deadline_ns = Some(deadline);
            self.deadlines.insert((deadline, key));
        }
        for index in 0..request.regions.len() {
            let region = request.regions[index].region;
            if region.sectors == 0 && request.op != Op::Flush {
                continue;
            }
            if request.timed.is_some() && request.regions[index].state.is_final() {
                continue; // cancelled while the request waited for a slot
            }
            let info = *bl.device(region.device).expect("validated");
            let pieces = split::split_region(
                &info,
                request.op,
                region.sector,
                region.sectors,
                u64::from(request.buffer.offset_sectors),
            );
            let Some(pieces) = pieces else {
                // The device cannot do this op: the region fails at once.
                request.error_bits |= 1 << index;
                request.regions[index].status = IoStatus::NotSupported;
                continue;
            };
            for piece in pieces {
                let buffer = match request.op {
                    Op::Read | Op::Write => request
                        .buffer
                        .slice(piece.memory_skip_sectors, piece.sectors),
                    Op::Flush | Op::Discard => Buffer::empty(),
                };
                let tag = bl.submit(
                    IoRequest {
                        device: region.device,
                        op: request.op,
                        sector: piece.sector,
                        sectors: u32::try_from(piece.sectors).expect("pieces are bounded"),
                        fua: request.fua && request.op == Op::Write,
                        sync: request.device_sync,
                        buffer,
                    },
                    IoOwner::DmIo {
                        request: key,
                        region: index as u8,
                    },
                );
                self.stats.device_ios += 1;
                request.references += 1;
                request.regions[index].pending += 1;
                if request.timed.is_some() {
                    request.regions[index].ios.push(tag);
                }
            }
        }
        // Regions with nothing in flight are final right away (timed face).
        let idle_regions: Vec<usize> = if request.timed.is_some() {
            (0..request.regions.len())
                .filter(|&index| request.regions[index].pending == 0)
                .collect()
        } else {
            Vec::new()
        };
        for index in idle_regions {
            self.finish_region(key, index);
        }
        self.drop_reference(bl, key);
    }

    /// Waiting requests and their clients, for the deadlock report.
    pub fn waiting_report(&self, out: &mut Vec<WaitingJob>) {
        for client in &self.clients {
            for &key in &client.waiting {
                let request = self.requests.get(key).expect("waiting request exists");
                out.push(WaitingJob {
                    component: "dm_io",
                    description: format!(
                        "request {} ({:?}, {} region(s), since {} ns) waits for a slot of client \"{}\" ({} of {} in flight)",
                        key.to_u64(),
                        request.op,
                        request.regions.len(),
                        request.created_ns,
                        client.label,
                        client.in_flight,
                        client.min_ios
                    ),
                });
            }
        }
    }

    /// No request exists and no notice is pending.
    pub fn is_idle(&self) -> bool {
        self.requests.is_empty() && self.notices.is_empty()
    }

    /// The earliest timed-request deadline.
    #[must_use]
    pub fn poll_deadline(&self) -> Option<u64> {
        self.deadlines.first().map(|&(at, _)| at)
    }
}
