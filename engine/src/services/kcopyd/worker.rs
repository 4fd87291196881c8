//! kcopyd's worker: the per-client step that drains complete → pages → IO jobs, the
//! sub-job (segment) bookkeeping of split jobs, and the reaction to dm_io notifications.
//!
//! Deliberately not here: job creation and validation (see `mod.rs`).

use super::throttle::SLEEP_NS;
use super::{CopyPhase, Dests, JobRoute, JobStage, Kcopyd, KcopydJob, KcopydJobId, KcopydPages};
use crate::arena::{copy_pages, Arena, Buffer, PageId, PageList};
use crate::block::{Op, SECTORS_PER_PAGE};
use crate::bounded::{LoopBound, ITEMS_PER_CALL_MAX};
use crate::services::block_layer::BlockLayer;
use crate::services::dm_io::{DmIo, DmIoRegion, DmIoRequest};
use crate::services::handles::Route;
use crate::slab::SlabKey;

fn shifted(region: DmIoRegion, offset: u64, sectors: u64) -> DmIoRegion {
    DmIoRegion {
        device: region.device,
        sector: region.sector + offset,
        sectors,
    }
}

/// An IO job's queue position, its key, and the WRITE_SEQ master whose write offset issuing
/// it advances (by the job's sectors).
pub(super) type NextIoJob = (usize, SlabKey, Option<(SlabKey, u64)>);

impl Kcopyd {
    /// Runs every client's worker once; true if any did something.
    pub fn run_workers(
        &mut self,
        dm_io: &mut DmIo,
        bl: &mut BlockLayer,
        zero_page: PageId,
    ) -> bool {
        let mut progress = false;
        for index in 0..self.clients.len() {
            progress |= self.run_client(index, dm_io, bl, zero_page);
        }
        progress
    }

    fn run_client(
        &mut self,
        index: usize,
        dm_io: &mut DmIo,
        bl: &mut BlockLayer,
        zero_page: PageId,
    ) -> bool {
        match self.clients[index].asleep_until_ns {
            Some(at) if at > bl.now_ns => return false,
            Some(_) => self.clients[index].asleep_until_ns = None,
            None => {}
        }
        let mut progress = false;
        let mut completed = LoopBound::new("kcopyd worker: completed jobs", ITEMS_PER_CALL_MAX);
        let mut paged = LoopBound::new("kcopyd worker: jobs waiting for pages", ITEMS_PER_CALL_MAX);
        let mut issued = LoopBound::new("kcopyd worker: IO jobs", ITEMS_PER_CALL_MAX);
        // 1. Completed jobs: free their pages (which waiting jobs may need), call back.
        while let Some(key) = self.clients[index].complete_jobs.pop_front() {
            completed.round();
            self.run_complete(bl, key);
            progress = true;
        }
        // 2. Jobs waiting for pages, in order; the first that cannot get them blocks the rest.
        while let Some(&key) = self.clients[index].pages_jobs.front() {
            paged.round();
            if !self.take_pages(bl, key) {
                break;
            }
            self.clients[index].pages_jobs.pop_front();
            let job = self.jobs.get_mut(key).expect("live job");
            job.stage = JobStage::IoQueue;
            self.clients[index].io_jobs.push_back(key);
            progress = true;
        }
        // 3. IO jobs.
        while let Some(key) = self.pop_io_job(index) {
            issued.round();
            progress = true;
            if !self.run_io(index, dm_io, bl, key, zero_page) {
                break; // the worker went to sleep (throttle)
            }
        }
        progress
    }

    /// The next IO job to issue: reads and unordered writes in queue order; a WRITE_SEQ
    /// chunk write only when it is the next in offset order (or its job already failed).
    fn pop_io_job(&mut self, index: usize) -> Option<SlabKey> {
        let (position, key, advance) = self.next_io_job(index)?;
        self.clients[index].io_jobs.remove(position);
        if let Some((master_key, sectors)) = advance {
            let master = self.jobs.get_mut(master_key).expect("master");
            master.split.as_mut().expect("split").write_offset += sectors;
        }
        Some(key)
    }

    /// The choice [`Kcopyd::pop_io_job`] makes, without making it.
    pub(super) fn next_io_job(&self, index: usize) -> Option<NextIoJob> {
        let queue = &self.clients[index].io_jobs;
        if queue.is_empty() {
            return None; // the common case, without setting up the deque's iterator
        }
        let mut chosen = None;
        for (position, &key) in queue.iter().enumerate() {
            let job = self.jobs.get(key).expect("queued job exists");
            let ordered = job.phase == CopyPhase::Write && job.flags.write_seq;
            let JobRoute::Master(master_key) = job.route else {
                chosen = Some((position, key, None));
                break;
            };
            if !ordered {
                chosen = Some((position, key, None));
                break;
            }
            let master = self.jobs.get(master_key).expect("master of a live sub-job");
            let split = master.split.as_ref().expect("master is split");
            if master.read_err || master.write_err != 0 {
                chosen = Some((position, key, None));
                break;
            }
            if split.write_offset == job.offset {
                chosen = Some((position, key, Some((master_key, job.sectors()))));
                break;
            }
        }
        chosen
    }

    /// Issues a job's dm_io. Returns false if the worker must sleep first (throttle); the
    /// job then goes back to the head of the IO queue.
    fn run_io(
        &mut self,
        index: usize,
        dm_io: &mut DmIo,
        bl: &mut BlockLayer,
        key: SlabKey,
        zero_page: PageId,
    ) -> bool {
        let job = self.jobs.get(key).expect("live job");
        if job.phase == CopyPhase::Write && job.flags.write_seq {
            if let JobRoute::Master(master_key) = job.route {
                let master = self.jobs.get(master_key).expect("master");
                if master.read_err || master.write_err != 0 {
                    // Later chunks of a failed WRITE_SEQ job fail at once.
                    let inherited = master.write_err;
                    self.jobs.get_mut(key).expect("live").write_err |= inherited;
                    self.push_complete(key);
                    return true;
                }
            }
        }
        let sleeps = job.throttle_sleeps;
        let client = &mut self.clients[index];
        if client.throttle.should_sleep(bl.now_ns, sleeps) {
            client.asleep_until_ns = Some(bl.now_ns + SLEEP_NS);
            client.io_jobs.push_front(key);
            mark!(KcopydThrottleSleep);
            self.stats.throttle_sleeps += 1;
            let job = self.jobs.get_mut(key).expect("live");
            job.throttle_sleeps += 1;
            job.stage = JobStage::IoQueue;
            return false;
        }
        client.throttle.start(bl.now_ns);
        let dm_io_client = client.dm_io;
        let job = self.jobs.get_mut(key).expect("live job");
        job.throttle_sleeps = 0;
        let sectors = job.sectors();
        let buffer = if job.source.is_none() {
            // Zeroing writes a circular list of the shared zero page.
            Buffer::from_pages(vec![zero_page; sectors.div_ceil(SECTORS_PER_PAGE) as usize])
        } else {
            Buffer::from_pages(copy_pages(&job.pages))
        };
        let (op, regions) = match job.phase {
            CopyPhase::Read => (
                Op::Read,
                std::slice::from_ref(job.source.as_ref().expect("reads have a source")),
            ),
            CopyPhase::Write => (Op::Write, &job.dests[..]),
        };
        let request = DmIoRequest {
            op,
            fua: false,
            sync: false,
            buffer,
            notify: true,
        };
        match dm_io.submit(bl, dm_io_client, Route::Kcopyd(key), request, regions, None) {
            Ok(_) => job.stage = JobStage::InDmIo,
            Err(_) => {
                // A submission error fails the job ("rogue job").
                self.clients[index].throttle.finish(bl.now_ns);
                match op {
                    Op::Write => job.write_err = u8::MAX,
                    _ => job.read_err = true,
                }
                self.push_complete(key);
            }
        }
        true
    }

    /// A job's dm_io finished with `error_bits` (kcopyd's `complete_io`).
    pub fn on_dm_io_done(&mut self, now_ns: u64, key: SlabKey, error_bits: u64) {
        let job = self.jobs.get_mut(key).expect("dm_io done for a live job");
        assert_eq!(job.stage, JobStage::InDmIo);
        let client = job.client.0 as usize;
        self.clients[client].throttle.finish(now_ns);
        if error_bits != 0 {
            mark!(KcopydCopyFailed);
            match job.phase {
                CopyPhase::Write => {
                    job.write_err |= error_bits as u8;
                    self.stats.write_errors += 1;
                }
                CopyPhase::Read => {
                    job.read_err = true;
                    self.stats.read_errors += 1;
                }
            }
            if !job.flags.ignore_error {
                self.push_complete(key);
                return;
            }
        }
        match job.phase {
            CopyPhase::Write => self.push_complete(key),
            CopyPhase::Read => {
                job.phase = CopyPhase::Write;
                job.stage = JobStage::IoQueue;
                self.clients[client].io_jobs.push_back(key);
            }
        }
    }

    /// Takes every page the job needs, or none.
    /// Whether [`Kcopyd::take_pages`] would get job `key` its pages now.
    pub(super) fn pages_available(&self, arena: &Arena, key: SlabKey) -> bool {
        let job = self.jobs.get(key).expect("live job");
        let needed = job.sectors().div_ceil(SECTORS_PER_PAGE) as usize;
        let client = &self.clients[job.client.0 as usize];
        match client.config.pages {
            KcopydPages::Pool { .. } => client.free_pages.len() >= needed,
            KcopydPages::Reserve { .. } => client.free_pages.len() + arena.free_pages() >= needed,
        }
    }

    fn take_pages(&mut self, bl: &mut BlockLayer, key: SlabKey) -> bool {
        let job = self.jobs.get(key).expect("live job");
        let needed = job.sectors().div_ceil(SECTORS_PER_PAGE) as usize;
        let client = &mut self.clients[job.client.0 as usize];
        let pages = match client.config.pages {
            KcopydPages::Pool { .. } => {
                if client.free_pages.len() < needed {
                    None
                } else {
                    let start = client.free_pages.len() - needed;
                    Some(client.free_pages.drain(start..).collect::<PageList>())
                }
            }
            KcopydPages::Reserve { .. } => {
                let from_arena = needed.min(bl.arena.free_pages());
                let mut pages = bl.arena.alloc(from_arena).expect("counted free pages");
                let rest = needed - from_arena;
                if client.free_pages.len() >= rest {
                    let start = client.free_pages.len() - rest;
                    // A mark per reserve page, not a test of `rest`: a comparison only
                    // for the mark would be a mutant no oracle can kill.
                    for page in client.free_pages.drain(start..) {
                        mark!(KcopydReservePagesUsed);
                        pages.push(page);
                    }
                    Some(pages)
                } else {
                    bl.arena.release_all(&pages);
                    None
                }
            }
        };
        match pages {
            Some(pages) => {
                self.jobs.get_mut(key).expect("live").pages = pages;
                true
            }
            None => {
                mark!(KcopydPoolExhausted);
                self.stats.page_waits += 1;
                false
            }
        }
    }

    fn put_pages(&mut self, bl: &mut BlockLayer, client: usize, pages: PageList) {
        let client = &mut self.clients[client];
        match client.config.pages {
            KcopydPages::Pool { .. } => client.free_pages.extend(pages),
            KcopydPages::Reserve { pages: reserve } => {
                for page in pages {
                    if client.free_pages.len() < reserve as usize {
                        client.free_pages.push(page);
                    } else {
                        bl.arena.release(page);
                    }
                }
            }
        }
    }

    /// Frees a completed job's pages, then calls back (external caller) or moves the
    /// master's progress on (sub-job).
    fn run_complete(&mut self, bl: &mut BlockLayer, key: SlabKey) {
        let job = self.jobs.get_mut(key).expect("live job");
        let pages = std::mem::take(&mut job.pages);
        let client = job.client.0 as usize;
        self.put_pages(bl, client, pages);
        let job = self.jobs.get(key).expect("live job");
        match job.route {
            JobRoute::External(caller) => {
                let job = self.jobs.remove(key).expect("live job");
                self.clients[client].nr_jobs -= 1;
                self.done
                    .push_back((caller, KcopydJobId(key), job.read_err, job.write_err));
            }
            JobRoute::Master(master_key) => {
                let (read_err, write_err) = (job.read_err, job.write_err);
                let master = self.jobs.get_mut(master_key).expect("master");
                master.read_err |= read_err;
                master.write_err |= write_err;
                if (read_err || write_err != 0) && !master.flags.ignore_error {
                    // Errors stop further chunks.
                    let total = master.sectors();
                    master.split.as_mut().expect("split").progress = total;
                }
                self.next_segment(key);
            }
        }
    }

    /// A sub-job takes the next chunk of its master, or retires; the last one to retire
    /// completes the master.
    pub(super) fn next_segment(&mut self, sub_key: SlabKey) {
        let sub: &KcopydJob = self.jobs.get(sub_key).expect("live sub-job");
        let JobRoute::Master(master_key) = sub.route else {
            unreachable!("next_segment of a job that is not a sub-job");
        };
        let master = self.jobs.get_mut(master_key).expect("master");
        let total = master.sectors();
        let chunk_limit = self.clients[master.client.0 as usize]
            .config
            .sub_job_sectors;
        let split = master.split.as_mut().expect("split master");
        if split.progress < total {
            let offset = split.progress;
            let sectors = chunk_limit.min(total - offset);
            split.progress += sectors;
            let source = master.source.map(|s| shifted(s, offset, sectors));
            let dests: Dests = master
                .dests
                .iter()
                .map(|&d| shifted(d, offset, sectors))
                .collect();
            let sub = self.jobs.get_mut(sub_key).expect("live sub-job");
            sub.source = source;
            sub.dests = dests;
            sub.offset = offset;
            sub.phase = if source.is_some() {
                CopyPhase::Read
            } else {
                CopyPhase::Write
            };
            sub.read_err = false;
            sub.write_err = 0;
            sub.throttle_sleeps = 0;
            self.stats.sub_jobs_dispatched += 1;
            self.dispatch(sub_key);
        } else {
            split.sub_jobs_live -= 1;
            let last = split.sub_jobs_live == 0;
            self.jobs.remove(sub_key).expect("retiring sub-job");
            if last {
                self.push_complete(master_key);
            }
        }
    }
}
