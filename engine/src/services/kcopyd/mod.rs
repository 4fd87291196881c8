//! kcopyd: copy one source region to 1..8 destinations, or zero them (spec §3, §5.4).
//!
//! A job reads its source once into pages from its client's pool, then writes the same
//! pages to every destination with one multi-region dm_io write. Jobs longer than the
//! sub-job size are split: the master spawns [`SPLIT_COUNT`] sub-jobs that each take the next
//! chunk (in offset order) and, when done, the next one — at most 8 chunks in flight per job.
//! Each client runs a worker whose every wake drains, in the kernel's order, the completed
//! jobs (freeing pages, calling back), the jobs waiting for pages (stopping at the first that
//! cannot get them: head-of-line waiting) and the IO jobs. Callbacks never run inline: they
//! come from the worker step as [`crate::services::ServiceEvent::KcopydDone`].
//!
//! Generations (Decision 4): [`KcopydConfig::classic`] — 64 KiB sub-jobs, split when
//! `count >= sub_job`, an all-or-nothing pool of pre-allocated pages (1024 for flashcache) —
//! is the default; [`KcopydConfig::modern`] — 512 KiB sub-jobs, split when `count > sub_job`,
//! pages from the arena with a per-client reserve of one sub-job's pages — is an option.
//!
//! Deliberately not here: dm_io itself (kcopyd is one of its clients) and cancellation or
//! timeouts (kcopyd has none).

mod check;
mod throttle;
mod worker;

use crate::arena::{PageId, PageList};
use crate::block::{DeviceId, Extent, SECTORS_PER_PAGE};
use crate::error::WaitingJob;
use crate::services::block_layer::BlockLayer;
use crate::services::dm_io::{DmIo, DmIoClientId, DmIoRegion};
use crate::services::handles::Caller;
use crate::slab::{Slab, SlabKey};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::VecDeque;
use throttle::Throttle;

/// Most destinations of one job (DM_KCOPYD_MAX_REGIONS).
pub const KCOPYD_MAX_REGIONS: usize = 8;
/// Sub-jobs a split job runs (SPLIT_COUNT): at most this many chunks in flight per job.
pub const SPLIT_COUNT: u8 = 8;

/// Names a kcopyd client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KcopydClientId(pub u32);

/// Names one kcopyd job (what `dm_kcopyd_copy` started) until its callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KcopydJobId(pub(crate) SlabKey);

impl KcopydJobId {
    pub fn to_u64(self) -> u64 {
        self.0.to_u64()
    }
}

/// Job flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
pub struct KcopydFlags {
    /// DM_KCOPYD_IGNORE_ERROR: keep going after errors (a failed read still writes; split
    /// jobs keep dispatching chunks).
    pub ignore_error: bool,
    /// DM_KCOPYD_WRITE_SEQ: chunk writes are issued in offset order; clears `ignore_error`;
    /// once the job has an error, later chunk writes fail at once.
    pub write_seq: bool,
}

/// Where a client's pages come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KcopydPages {
    /// Old kernels: `pages` pre-allocated at client creation; a job takes all it needs at
    /// once or waits.
    Pool { pages: u32 },
    /// New kernels: pages from the arena, falling back on a reserve of `pages` held by the
    /// client; pages beyond the reserve return to the arena on completion.
    Reserve { pages: u32 },
}

/// A kcopyd client's generation and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KcopydConfig {
    /// Chunk size of split jobs (128 sectors classic, 1024 modern).
    pub sub_job_sectors: u64,
    /// Classic splits when `count >= sub_job_sectors`, modern when `count > sub_job_sectors`.
    pub split_when_equal: bool,
    pub pages: KcopydPages,
    /// `dm_kcopyd_throttle` percentage; 100 = off.
    pub throttle_percent: u8,
    /// Request slots of the client's own dm_io client.
    pub dm_io_min_ios: u32,
}

impl KcopydConfig {
    /// Pool pages flashcache asks for (`dm_kcopyd_client_create(FLASHCACHE_COPY_PAGES)`).
    pub const FLASHCACHE_POOL_PAGES: u32 = 1024;

    /// The generation flashcache targeted (2.6.x–4.x): 64 KiB sub-jobs and an all-or-nothing
    /// pool of `pool_pages`; its dm_io client has `4 * pool_pages` slots as in 2.6.22–2.6.39.
    pub fn classic(pool_pages: u32) -> KcopydConfig {
        KcopydConfig {
            sub_job_sectors: 128,
            split_when_equal: true,
            pages: KcopydPages::Pool { pages: pool_pages },
            throttle_percent: 100,
            dm_io_min_ios: pool_pages.saturating_mul(4).max(1),
        }
    }

    /// Newer kernels: 512 KiB sub-jobs, a reserve of one sub-job's pages, 16 dm_io slots.
    pub fn modern() -> KcopydConfig {
        KcopydConfig {
            sub_job_sectors: 1024,
            split_when_equal: false,
            pages: KcopydPages::Reserve { pages: 128 },
            throttle_percent: 100,
            dm_io_min_ios: 16,
        }
    }

    fn validate(&self) -> Result<(), KcopydError> {
        let bad = |reason: String| Err(KcopydError::BadConfig(reason));
        if self.sub_job_sectors == 0 || !self.sub_job_sectors.is_multiple_of(SECTORS_PER_PAGE) {
            return bad(format!(
                "sub_job_sectors {} must be a positive multiple of a page",
                self.sub_job_sectors
            ));
        }
        let pages = match self.pages {
            KcopydPages::Pool { pages } | KcopydPages::Reserve { pages } => pages,
        };
        if matches!(self.pages, KcopydPages::Pool { .. })
            && u64::from(pages) < self.sub_job_sectors / SECTORS_PER_PAGE
        {
            return bad(format!(
                "a pool of {pages} pages cannot hold one {}-sector sub-job: every job would wait forever",
                self.sub_job_sectors
            ));
        }
        if self.dm_io_min_ios == 0 {
            return bad("dm_io_min_ios must be positive".to_string());
        }
        Ok(())
    }
}

/// Why a kcopyd call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KcopydError {
    #[error("kcopyd config: {0}")]
    BadConfig(String),
    #[error("the arena has {free} free pages, the client needs {needed}")]
    ArenaTooSmall { needed: usize, free: usize },
    #[error("unknown kcopyd client {0:?}")]
    UnknownClient(KcopydClientId),
    #[error("{dests} destinations; 1..={KCOPYD_MAX_REGIONS} allowed")]
    BadDestinationCount { dests: usize },
    #[error("{what}: {device} sectors {sector}+{sectors} unknown, out of range or misaligned")]
    BadRegion {
        what: &'static str,
        device: DeviceId,
        sector: u64,
        sectors: u64,
    },
    #[error("destination {dest} has {sectors} sectors, the job has {expected}")]
    LengthMismatch {
        dest: usize,
        sectors: u64,
        expected: u64,
    },
}

/// Counters of kcopyd.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KcopydStats {
    pub jobs: u64,
    pub sub_jobs_dispatched: u64,
    pub page_waits: u64,
    pub throttle_sleeps: u64,
    pub read_errors: u64,
    pub write_errors: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobRoute {
    External(Caller),
    /// A sub-job of this master.
    Master(SlabKey),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CopyPhase {
    Read,
    Write,
}

/// Where a job is, for the waiting report and invariants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobStage {
    PagesQueue,
    IoQueue,
    InDmIo,
    CompleteQueue,
    /// A master whose sub-jobs run.
    Split,
}

#[derive(Debug, Clone)]
struct SplitState {
    /// Sectors of the job handed to sub-jobs so far.
    progress: u64,
    sub_jobs_live: u8,
    /// WRITE_SEQ: the offset the next chunk write must start at.
    write_offset: u64,
}

/// A job's destinations: nearly always one, inline, so a job allocates nothing for them
/// (issue 11: a cleaning allocated three times).
type Dests = SmallVec<[DmIoRegion; 1]>;

#[derive(Debug, Clone)]
struct KcopydJob {
    client: KcopydClientId,
    route: JobRoute,
    flags: KcopydFlags,
    /// `None` for zeroing.
    source: Option<DmIoRegion>,
    dests: Dests,
    phase: CopyPhase,
    stage: JobStage,
    pages: PageList,
    /// Pages of `pages` taken from the client reserve (modern generation).
    read_err: bool,
    write_err: u8,
    /// Sub-jobs: the chunk's offset within the master.
    offset: u64,
    split: Option<SplitState>,
    throttle_sleeps: u8,
    created_ns: u64,
}

impl KcopydJob {
    fn sectors(&self) -> u64 {
        match self.source {
            Some(source) => source.sectors,
            None => self.dests.first().map_or(0, |d| d.sectors),
        }
    }
}

#[derive(Debug)]
struct KcopydClient {
    label: String,
    config: KcopydConfig,
    dm_io: DmIoClientId,
    /// Classic: the pool's free pages. Modern: the reserve's free pages.
    free_pages: Vec<PageId>,
    /// Pages the client holds in total (pool or reserve size).
    owned_pages: usize,
    complete_jobs: VecDeque<SlabKey>,
    pages_jobs: VecDeque<SlabKey>,
    io_jobs: VecDeque<SlabKey>,
    throttle: Throttle,
    asleep_until_ns: Option<u64>,
    /// Jobs (masters and plain ones) started and not yet called back.
    nr_jobs: u32,
}

/// The kcopyd service. See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct Kcopyd {
    clients: Vec<KcopydClient>,
    jobs: Slab<KcopydJob>,
    /// Finished jobs for external callers: (caller, job, read_err, write_err).
    pub done: VecDeque<(Caller, KcopydJobId, bool, u8)>,
    pub stats: KcopydStats,
    /// What the invariant check after every input keeps between calls (a cell: the check
    /// reads the jobs while it updates this).
    incremental_check: std::cell::RefCell<check::IncrementalCheck>,
}

impl Kcopyd {
    /// `dm_kcopyd_client_create`: takes the client's pool (or reserve) from the arena.
    pub fn create_client(
        &mut self,
        dm_io: &mut DmIo,
        bl: &mut BlockLayer,
        config: KcopydConfig,
        label: &str,
    ) -> Result<KcopydClientId, KcopydError> {
        config.validate()?;
        let wanted = match config.pages {
            KcopydPages::Pool { pages } | KcopydPages::Reserve { pages } => pages as usize,
        };
        let Some(pages) = bl.arena.alloc(wanted) else {
            return Err(KcopydError::ArenaTooSmall {
                needed: wanted,
                free: bl.arena.free_pages(),
            });
        };
        let id = KcopydClientId(self.clients.len() as u32);
        let dm_io_client = dm_io.create_client(config.dm_io_min_ios, &format!("kcopyd:{label}"));
        self.clients.push(KcopydClient {
            label: label.to_string(),
            config,
            dm_io: dm_io_client,
            free_pages: pages.into_vec(),
            owned_pages: wanted,
            complete_jobs: VecDeque::new(),
            pages_jobs: VecDeque::new(),
            io_jobs: VecDeque::new(),
            throttle: Throttle::new(config.throttle_percent),
            asleep_until_ns: None,
            nr_jobs: 0,
        });
        Ok(id)
    }

    fn validate_region(
        bl: &BlockLayer,
        what: &'static str,
        region: &DmIoRegion,
    ) -> Result<(), KcopydError> {
        let ok = bl
            .device(region.device)
            .is_some_and(|info| info.admits(Extent::new(region.sector, region.sectors)));
        if ok {
            Ok(())
        } else {
            Err(KcopydError::BadRegion {
                what,
                device: region.device,
                sector: region.sector,
                sectors: region.sectors,
            })
        }
    }

    /// `dm_kcopyd_copy` (with `source`) or `dm_kcopyd_zero` (without): starts a job whose
    /// callback reaches `caller` from the worker.
    pub fn start(
        &mut self,
        bl: &mut BlockLayer,
        client: KcopydClientId,
        source: Option<DmIoRegion>,
        dests: &[DmIoRegion],
        mut flags: KcopydFlags,
        caller: Caller,
    ) -> Result<KcopydJobId, KcopydError> {
        if client.0 as usize >= self.clients.len() {
            return Err(KcopydError::UnknownClient(client));
        }
        if dests.is_empty() || dests.len() > KCOPYD_MAX_REGIONS {
            return Err(KcopydError::BadDestinationCount { dests: dests.len() });
        }
        if let Some(source) = &source {
            Self::validate_region(bl, "source", source)?;
        }
        let expected = source.map_or(dests[0].sectors, |s| s.sectors);
        for (index, dest) in dests.iter().enumerate() {
            Self::validate_region(bl, "destination", dest)?;
            if dest.sectors != expected {
                return Err(KcopydError::LengthMismatch {
                    dest: index,
                    sectors: dest.sectors,
                    expected,
                });
            }
        }
        if flags.write_seq {
            flags.ignore_error = false;
        }
        let job = KcopydJob {
            client,
            route: JobRoute::External(caller),
            flags,
            source,
            dests: Dests::from_slice(dests),
            phase: if source.is_some() {
                CopyPhase::Read
            } else {
                CopyPhase::Write
            },
            stage: JobStage::PagesQueue,
            pages: PageList::new(),
            read_err: false,
            write_err: 0,
            offset: 0,
            split: None,
            throttle_sleeps: 0,
            created_ns: bl.now_ns,
        };
        let sectors = job.sectors();
        let key = self.jobs.insert(job);
        self.stats.jobs += 1;
        let config = self.clients[client.0 as usize].config;
        self.clients[client.0 as usize].nr_jobs += 1;
        let split = if config.split_when_equal {
            sectors >= config.sub_job_sectors
        } else {
            sectors > config.sub_job_sectors
        };
        if sectors == 0 {
            // Zero-length copies complete without IO, through the worker.
            self.push_complete(key);
        } else if split {
            let master = self.jobs.get_mut(key).expect("just inserted");
            master.stage = JobStage::Split;
            master.split = Some(SplitState {
                progress: 0,
                sub_jobs_live: SPLIT_COUNT,
                write_offset: 0,
            });
            for _ in 0..SPLIT_COUNT {
                let sub = KcopydJob {
                    route: JobRoute::Master(key),
                    split: None,
                    ..self.jobs.get(key).expect("master").clone()
                };
                let sub_key = self.jobs.insert(sub);
                self.next_segment(sub_key);
            }
        } else {
            self.dispatch(key);
        }
        Ok(KcopydJobId(key))
    }

    /// A job enters the worker's queues: zeroing goes straight to IO, copies wait for pages.
    fn dispatch(&mut self, key: SlabKey) {
        let job = self.jobs.get_mut(key).expect("live job");
        let client = &mut self.clients[job.client.0 as usize];
        if job.source.is_none() {
            job.stage = JobStage::IoQueue;
            client.io_jobs.push_back(key);
        } else {
            job.stage = JobStage::PagesQueue;
            client.pages_jobs.push_back(key);
        }
    }

    fn push_complete(&mut self, key: SlabKey) {
        let job = self.jobs.get_mut(key).expect("live job");
        job.stage = JobStage::CompleteQueue;
        self.clients[job.client.0 as usize]
            .complete_jobs
            .push_back(key);
    }

    /// True if no job exists and no callback is pending.
    pub fn is_idle(&self) -> bool {
        self.jobs.is_empty() && self.done.is_empty()
    }

    /// The earliest wake-up of a throttled worker.
    #[must_use]
    pub fn poll_deadline(&self) -> Option<u64> {
        self.clients.iter().filter_map(|c| c.asleep_until_ns).min()
    }

    /// Jobs that wait, for the deadlock report.
    pub fn waiting_report(&self, out: &mut Vec<WaitingJob>) {
        for client in &self.clients {
            for &key in &client.pages_jobs {
                let job = self.jobs.get(key).expect("queued job exists");
                out.push(WaitingJob {
                    component: "kcopyd",
                    description: format!(
                        "job {} ({} sectors, since {} ns) waits for {} pages of client \"{}\" ({} free of {})",
                        key.to_u64(),
                        job.sectors(),
                        job.created_ns,
                        job.sectors().div_ceil(SECTORS_PER_PAGE),
                        client.label,
                        client.free_pages.len(),
                        client.owned_pages
                    ),
                });
            }
            for &key in &client.io_jobs {
                out.push(WaitingJob {
                    component: "kcopyd",
                    description: format!(
                        "job {} waits to issue IO on client \"{}\"{}",
                        key.to_u64(),
                        client.label,
                        if client.asleep_until_ns.is_some() {
                            " (worker throttled)"
                        } else {
                            " (write order)"
                        }
                    ),
                });
            }
        }
    }
}
