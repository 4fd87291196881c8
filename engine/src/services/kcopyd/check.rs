//! kcopyd's invariant checks: the full check, and the check after each input that counts
//! only the jobs whose slab slots changed since its last call, with the full check every
//! [`FULL_CHECK_EVERY_CALLS`]th call and after a failure.
//!
//! Why changed slots suffice: what the check states of jobs is counted per client (pages
//! held) and per master (live sub-jobs); both counts are kept by difference from what each
//! slot counted at the last call, and a master is compared with its count when it or one
//! of its sub-jobs changed. The clients (their pages and queues) are checked whole on every
//! call: they are few, and a queue changes without its jobs changing.
//!
//! [`FULL_CHECK_EVERY_CALLS`]: crate::changed_ids::FULL_CHECK_EVERY_CALLS

use super::{JobRoute, JobStage, Kcopyd, KcopydJob, KcopydPages, SPLIT_COUNT};
use crate::arena::Arena;
use crate::changed_ids::CheckSchedule;
use crate::slab::SlabKey;
use std::collections::BTreeMap;

/// What one job counted for at the last call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counted {
    /// The client and the pages it held (copies only).
    client: usize,
    pages: usize,
    /// The master of a sub-job.
    master: Option<SlabKey>,
}

impl Counted {
    fn of(job: &KcopydJob) -> Counted {
        Counted {
            client: job.client.0 as usize,
            pages: if job.source.is_some() {
                job.pages.len()
            } else {
                0
            },
            master: match job.route {
                JobRoute::Master(master) => Some(master),
                JobRoute::External(_) => None,
            },
        }
    }
}

/// What [`Kcopyd::check_invariants_incremental`] carries between calls.
#[derive(Debug, Clone, Default)]
pub(super) struct IncrementalCheck {
    schedule: CheckSchedule,
    /// The changed slots being checked (kept for its allocation).
    changes: Vec<(u32, bool)>,
    /// Per slot, what its job counted for at the last call (`None`: empty slot).
    counted: Vec<Option<Counted>>,
    /// Per client, pages held by its jobs, as counted.
    held_by_client: Vec<usize>,
    /// Live sub-jobs per master key, as counted (no zero entries).
    subs_by_master: BTreeMap<SlabKey, usize>,
    /// Occupied slots as counted.
    occupied: usize,
    /// Masters to compare with their counts this call (scratch).
    masters: Vec<SlabKey>,
}

impl Kcopyd {
    pub fn check_invariants(&self) -> Result<(), String> {
        // One pass over the jobs, with the slab's check: pages held per client, live
        // sub-jobs per master.
        let mut held_by_client = vec![0usize; self.clients.len()];
        let mut subs_by_master: BTreeMap<SlabKey, usize> = Default::default();
        self.jobs.check_each(|_, job| {
            if job.source.is_some() {
                held_by_client[job.client.0 as usize] += job.pages.len();
            }
            if let JobRoute::Master(master) = job.route {
                *subs_by_master.entry(master).or_default() += 1;
            }
            Ok(())
        })??;
        self.check_clients(&held_by_client)?;
        for (key, job) in self.jobs.iter() {
            self.check_master(key, job, &subs_by_master)?;
        }
        Ok(())
    }

    /// Between inputs the engine has settled (`Services::run` returned): no awake worker
    /// has anything left to do. A completed job waits for no callback, the first job waiting
    /// for pages cannot get them, and no IO job can be issued. Work left runnable here would
    /// wait for an unrelated later input to run, a stall no other check sees.
    pub fn check_settled(&self, now_ns: u64, arena: &Arena) -> Result<(), String> {
        for (index, client) in self.clients.iter().enumerate() {
            if client.asleep_until_ns.is_some_and(|at| at > now_ns) {
                continue;
            }
            let label = &client.label;
            if let Some(key) = client.complete_jobs.front() {
                return Err(format!(
                    "kcopyd client \"{label}\": completed job {key:?} not called back though the worker is awake"
                ));
            }
            if let Some(&key) = client.pages_jobs.front() {
                if self.pages_available(arena, key) {
                    return Err(format!(
                        "kcopyd client \"{label}\": job {key:?} waits for pages that are free"
                    ));
                }
            }
            if let Some((_, key, _)) = self.next_io_job(index) {
                return Err(format!(
                    "kcopyd client \"{label}\": IO job {key:?} can be issued but was not"
                ));
            }
        }
        if let Some((caller, job, ..)) = self.done.front() {
            return Err(format!(
                "job {job:?} of {caller:?} done but not reported to its caller"
            ));
        }
        Ok(())
    }

    /// [`Kcopyd::check_invariants`] for a check after every input (see the module
    /// documentation). A failure found incrementally is reported as the full check reports
    /// it, if the full check finds it. Allocates nothing once warm but for masters counted
    /// for the first time.
    pub fn check_invariants_incremental(&mut self) -> Result<(), String> {
        // Borrowed in place: moving the state out and back cost more than the check.
        let mut progress = self.incremental_check.borrow_mut();
        let progress = &mut *progress;
        self.jobs.take_changes(&mut progress.changes);
        let result = if progress.schedule.full_due() {
            self.check_invariants().map(|()| self.recount(progress))
        } else {
            self.check_changed(progress)
                .or_else(|incremental| self.check_invariants().and(Err(incremental)))
        };
        progress.schedule.done(&result);
        result
    }

    /// After a full check: the counts from scratch.
    fn recount(&self, progress: &mut IncrementalCheck) {
        progress.counted.clear();
        progress.counted.resize(self.jobs.slots(), None);
        progress.held_by_client.clear();
        progress.held_by_client.resize(self.clients.len(), 0);
        progress.subs_by_master.clear();
        for (key, job) in self.jobs.iter() {
            let counted = Counted::of(job);
            count(progress, counted);
            progress.counted[key.index as usize] = Some(counted);
        }
        progress.masters.clear();
        progress.occupied = self.jobs.len();
    }

    /// The incremental part of [`Kcopyd::check_invariants_incremental`].
    fn check_changed(&self, progress: &mut IncrementalCheck) -> Result<(), String> {
        progress.counted.resize(self.jobs.slots(), None);
        progress.held_by_client.resize(self.clients.len(), 0);
        progress.masters.clear();
        let changes = std::mem::take(&mut progress.changes);
        for &(index, was_occupied) in &changes {
            if let Some(old) = progress.counted[index as usize].take() {
                uncount(progress, old);
            }
            let now = self.jobs.at(index);
            // Wrapping: a change that escaped the marking makes the count wrong, not a panic.
            progress.occupied = progress
                .occupied
                .wrapping_add(usize::from(now.is_some()))
                .wrapping_sub(usize::from(was_occupied));
            if let Some((key, job)) = now {
                let counted = Counted::of(job);
                count(progress, counted);
                progress.counted[index as usize] = Some(counted);
                progress.masters.push(key);
            }
        }
        progress.changes = changes;
        self.jobs.check_occupied(progress.occupied)?;
        self.check_clients(&progress.held_by_client)?;
        for &key in &progress.masters {
            if let Some(job) = self.jobs.get(key) {
                self.check_master(key, job, &progress.subs_by_master)?;
            }
        }
        Ok(())
    }

    /// Each client's pages (free and held by its jobs, `held_by_client`) against its pool
    /// or reserve, and each queued job in the stage of its queue.
    fn check_clients(&self, held_by_client: &[usize]) -> Result<(), String> {
        for (index, client) in self.clients.iter().enumerate() {
            let held = client.free_pages.len() + held_by_client[index];
            match client.config.pages {
                KcopydPages::Pool { pages } => {
                    if held != pages as usize {
                        return Err(format!(
                            "kcopyd client \"{}\": {held} pages accounted, pool holds {pages}",
                            client.label
                        ));
                    }
                }
                // Jobs take arena pages first and the reserve's rest; pages coming back
                // refill the reserve first. So the reserve is never above its size, and
                // what it lacks is held by jobs (all back once they are done).
                KcopydPages::Reserve { pages } => {
                    let free = client.free_pages.len();
                    if free > pages as usize || free + held_by_client[index] < pages as usize {
                        return Err(format!(
                            "kcopyd client \"{}\": reserve of {pages} pages has {free} free \
                             and jobs hold {}",
                            client.label, held_by_client[index]
                        ));
                    }
                }
            }
            for (queue, stage) in [
                (&client.complete_jobs, JobStage::CompleteQueue),
                (&client.pages_jobs, JobStage::PagesQueue),
                (&client.io_jobs, JobStage::IoQueue),
            ] {
                for &key in queue {
                    match self.jobs.get(key) {
                        Some(job) if job.stage == stage => {}
                        other => {
                            return Err(format!(
                                "kcopyd client \"{}\": queued job {} is {:?}",
                                client.label,
                                key.to_u64(),
                                other.map(|j| j.stage)
                            ))
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A split master's live sub-jobs, counted in `subs_by_master`, against its record.
    fn check_master(
        &self,
        key: SlabKey,
        job: &KcopydJob,
        subs_by_master: &BTreeMap<SlabKey, usize>,
    ) -> Result<(), String> {
        if let Some(split) = &job.split {
            let live = subs_by_master.get(&key).copied().unwrap_or(0);
            if live != usize::from(split.sub_jobs_live) || live > usize::from(SPLIT_COUNT) {
                return Err(format!(
                    "kcopyd job {}: {live} sub-jobs live, {} recorded",
                    key.to_u64(),
                    split.sub_jobs_live
                ));
            }
        }
        Ok(())
    }
}

/// Adds a job's pages to its client and, for a sub-job, itself to its master; the master
/// is compared with its count this call.
fn count(progress: &mut IncrementalCheck, counted: Counted) {
    progress.held_by_client[counted.client] += counted.pages;
    if let Some(master) = counted.master {
        *progress.subs_by_master.entry(master).or_default() += 1;
        progress.masters.push(master);
    }
}

/// Takes a job counted as `counted` off the counts.
fn uncount(progress: &mut IncrementalCheck, counted: Counted) {
    // Wrapping: counts made wrong by a change that escaped the marking fail the check.
    let held = &mut progress.held_by_client[counted.client];
    *held = held.wrapping_sub(counted.pages);
    if let Some(master) = counted.master {
        if let Some(subs) = progress.subs_by_master.get_mut(&master) {
            *subs -= 1;
            if *subs == 0 {
                progress.subs_by_master.remove(&master);
            }
        }
        progress.masters.push(master);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        JobStage, Kcopyd, KcopydConfig, KcopydFlags, KcopydJobId, KcopydPages, SPLIT_COUNT,
    };
    use crate::arena::{Arena, PageId};
    use crate::block::{DeviceId, DeviceInfo};
    use crate::changed_ids::FULL_CHECK_EVERY_CALLS;
    use crate::services::block_layer::BlockLayer;
    use crate::services::dm_io::{DmIo, DmIoRegion};
    use crate::services::handles::Caller;
    use crate::slab::SlabKey;

    /// kcopyd with one client (`config`) and one copy of `sectors` started, its workers not
    /// run yet.
    struct Rig {
        kcopyd: Kcopyd,
        dm_io: DmIo,
        bl: BlockLayer,
        zero_page: PageId,
        job: SlabKey,
    }

    impl Rig {
        fn started(config: KcopydConfig, arena_pages: u32, sectors: u64) -> Rig {
            let arena = Arena::new(arena_pages);
            let mut bl = BlockLayer::new(vec![DeviceInfo::new(1 << 20, 512)], arena, None);
            let mut dm_io = DmIo::default();
            let mut kcopyd = Kcopyd::default();
            let client = kcopyd
                .create_client(&mut dm_io, &mut bl, config, "test")
                .unwrap();
            let zero_page = bl.arena.alloc(1).unwrap()[0];
            let region = |sector| DmIoRegion {
                device: DeviceId(0),
                sector,
                sectors,
            };
            let job = kcopyd
                .start(
                    &mut bl,
                    client,
                    Some(region(0)),
                    &[region(4096)],
                    KcopydFlags::default(),
                    Caller(1),
                )
                .unwrap();
            Rig {
                kcopyd,
                dm_io,
                bl,
                zero_page,
                job: job.0,
            }
        }

        /// Runs the workers until they have nothing left to do.
        fn settle(&mut self) {
            for _ in 0..100 {
                if !self
                    .kcopyd
                    .run_workers(&mut self.dm_io, &mut self.bl, self.zero_page)
                {
                    return;
                }
            }
            panic!("the workers never settled");
        }

        fn check_settled(&self) -> Result<(), String> {
            self.kcopyd.check_settled(self.bl.now_ns, &self.bl.arena)
        }
    }

    /// A classic client of 32 pages with a split copy of 8 sub-jobs of 16 pages each.
    fn split_rig() -> Rig {
        let rig = Rig::started(KcopydConfig::classic(32), 64, 1024);
        assert_eq!(rig.kcopyd.jobs.len(), 1 + usize::from(SPLIT_COUNT));
        rig
    }

    /// A split copy after its workers ran: two sub-jobs hold the whole pool and read, six
    /// wait for pages.
    fn running_split() -> Rig {
        let mut rig = split_rig();
        rig.settle();
        let client = &rig.kcopyd.clients[0];
        assert!(client.free_pages.is_empty());
        assert_eq!(client.pages_jobs.len(), 6);
        rig.kcopyd.check_invariants().unwrap();
        rig.check_settled().unwrap();
        rig
    }

    /// A classic client with a split copy (its master and sub-jobs queued), after a first
    /// (full) incremental check. Returns the master's key.
    fn split_copy() -> (Kcopyd, SlabKey) {
        let Rig {
            mut kcopyd, job, ..
        } = split_rig();
        kcopyd.check_invariants_incremental().unwrap();
        kcopyd.check_invariants_incremental().unwrap();
        (kcopyd, job)
    }

    /// A sub-job of `master`.
    fn sub_job(kcopyd: &Kcopyd, master: SlabKey) -> SlabKey {
        kcopyd
            .jobs
            .iter()
            .find(|(_, job)| job.route == super::JobRoute::Master(master))
            .map(|(key, _)| key)
            .unwrap()
    }

    #[test]
    fn a_changed_master_is_checked_at_once() {
        let (mut kcopyd, master) = split_copy();
        kcopyd
            .jobs
            .get_mut(master)
            .unwrap()
            .split
            .as_mut()
            .unwrap()
            .sub_jobs_live -= 1;
        assert_eq!(
            kcopyd.check_invariants_incremental().unwrap_err(),
            format!(
                "kcopyd job {}: 8 sub-jobs live, 7 recorded",
                master.to_u64()
            )
        );
    }

    #[test]
    fn a_removed_sub_job_checks_its_master_at_once() {
        let (mut kcopyd, master) = split_copy();
        let sub = sub_job(&kcopyd, master);
        kcopyd.jobs.remove(sub).unwrap();
        // The full check meets the queue naming it first, as the incremental one does.
        let error = kcopyd.check_invariants_incremental().unwrap_err();
        assert!(
            error.contains(&format!("queued job {} is None", sub.to_u64())),
            "{error}"
        );
    }

    #[test]
    fn pages_held_follow_each_changed_job() {
        let (mut kcopyd, master) = split_copy();
        let sub = sub_job(&kcopyd, master);
        let page = kcopyd.clients[0].free_pages.pop().unwrap();
        kcopyd.jobs.get_mut(sub).unwrap().pages.push(page);
        kcopyd.check_invariants_incremental().unwrap();
        // A page held twice: by the job and by the pool.
        kcopyd.clients[0].free_pages.push(page);
        assert_eq!(
            kcopyd.check_invariants_incremental().unwrap_err(),
            "kcopyd client \"test\": 33 pages accounted, pool holds 32"
        );
    }

    #[test]
    fn a_job_changed_behind_the_slab_waits_for_the_periodic_full_check() {
        let (mut kcopyd, master) = split_copy();
        // Changed, then its mark dropped: as if the change had escaped the marking.
        kcopyd
            .jobs
            .get_mut(master)
            .unwrap()
            .split
            .as_mut()
            .unwrap()
            .sub_jobs_live -= 1;
        kcopyd.jobs.take_changes(&mut Vec::new());
        for call in 2..FULL_CHECK_EVERY_CALLS {
            assert_eq!(kcopyd.check_invariants_incremental(), Ok(()), "call {call}");
        }
        assert!(kcopyd
            .check_invariants_incremental()
            .unwrap_err()
            .contains("8 sub-jobs live, 7 recorded"));
    }

    // The check on each kind of corrupted state (the explorer only ever runs it on a
    // correct kcopyd, where it must pass: these are what show it would fail).

    #[test]
    fn pages_held_by_running_jobs_count_against_the_pool() {
        // running_split's full check passed with the whole pool held by two reading jobs.
        let mut rig = running_split();
        let key = rig
            .kcopyd
            .jobs
            .iter()
            .find(|(_, job)| job.stage == JobStage::InDmIo)
            .map(|(key, _)| key)
            .unwrap();
        let pages = &mut rig.kcopyd.jobs.get_mut(key).unwrap().pages;
        assert_eq!(pages.len(), 16);
        // A page dropped by a running job: the pool is short of it.
        pages.pop();
        assert_eq!(
            rig.kcopyd.check_invariants().unwrap_err(),
            "kcopyd client \"test\": 31 pages accounted, pool holds 32"
        );
    }

    /// A modern client (reserve of 128 pages) with one unsplit copy of 128 pages, in an
    /// arena that has 64 pages left for it.
    fn reserve_rig() -> Rig {
        let rig = Rig::started(KcopydConfig::modern(), 128 + 1 + 64, 1024);
        assert_eq!(
            rig.kcopyd.clients[0].config.pages,
            KcopydPages::Reserve { pages: 128 }
        );
        assert_eq!(rig.kcopyd.jobs.len(), 1);
        rig
    }

    #[test]
    fn a_reserve_whole_or_lent_to_a_job_passes() {
        let mut rig = reserve_rig();
        // Whole: 128 free, none held.
        rig.kcopyd.check_invariants().unwrap();
        // The job took the arena's 64 pages and 64 of the reserve's.
        rig.settle();
        assert_eq!(rig.kcopyd.clients[0].free_pages.len(), 64);
        assert_eq!(rig.kcopyd.jobs.get(rig.job).unwrap().pages.len(), 128);
        rig.kcopyd.check_invariants().unwrap();
        rig.check_settled().unwrap();
    }

    #[test]
    fn a_reserve_page_lost_is_named() {
        let mut rig = reserve_rig();
        rig.kcopyd.clients[0].free_pages.pop();
        assert_eq!(
            rig.kcopyd.check_invariants().unwrap_err(),
            "kcopyd client \"test\": reserve of 128 pages has 127 free and jobs hold 0"
        );
    }

    #[test]
    fn a_reserve_above_its_size_is_named() {
        let mut rig = reserve_rig();
        let page = rig.bl.arena.alloc(1).unwrap()[0];
        rig.kcopyd.clients[0].free_pages.push(page);
        assert_eq!(
            rig.kcopyd.check_invariants().unwrap_err(),
            "kcopyd client \"test\": reserve of 128 pages has 129 free and jobs hold 0"
        );
    }

    #[test]
    fn a_queued_job_in_another_stage_is_named() {
        let (mut kcopyd, _) = split_copy();
        let queued = *kcopyd.clients[0].pages_jobs.front().unwrap();
        kcopyd.jobs.get_mut(queued).unwrap().stage = JobStage::IoQueue;
        assert_eq!(
            kcopyd.check_invariants().unwrap_err(),
            format!(
                "kcopyd client \"test\": queued job {} is Some(IoQueue)",
                queued.to_u64()
            )
        );
    }

    #[test]
    fn more_sub_jobs_than_a_split_makes_are_named() {
        let (mut kcopyd, master) = split_copy();
        // A ninth sub-job, and the master's record agreeing with it.
        let sub = kcopyd.jobs.get(sub_job(&kcopyd, master)).unwrap().clone();
        kcopyd.jobs.insert(sub);
        let split = kcopyd.jobs.get_mut(master).unwrap().split.as_mut().unwrap();
        split.sub_jobs_live = SPLIT_COUNT + 1;
        assert_eq!(
            kcopyd.check_invariants().unwrap_err(),
            format!(
                "kcopyd job {}: 9 sub-jobs live, 9 recorded",
                master.to_u64()
            )
        );
    }

    #[test]
    fn a_job_waiting_for_free_pages_is_named_while_the_worker_is_awake() {
        let mut rig = split_rig();
        let first = *rig.kcopyd.clients[0].pages_jobs.front().unwrap();
        let waits = format!("kcopyd client \"test\": job {first:?} waits for pages that are free");
        assert_eq!(rig.check_settled().unwrap_err(), waits);
        // Asleep, the worker is not expected to have run.
        let now = rig.bl.now_ns;
        rig.kcopyd.clients[0].asleep_until_ns = Some(now + 1);
        rig.check_settled().unwrap();
        // A sleep that ends now is over.
        rig.kcopyd.clients[0].asleep_until_ns = Some(now);
        assert_eq!(rig.check_settled().unwrap_err(), waits);
    }

    #[test]
    fn a_completed_job_not_called_back_is_named() {
        let mut rig = running_split();
        let job = rig.job;
        rig.kcopyd.clients[0].complete_jobs.push_back(job);
        assert_eq!(
            rig.check_settled().unwrap_err(),
            format!(
                "kcopyd client \"test\": completed job {job:?} not called back though the worker is awake"
            )
        );
    }

    #[test]
    fn an_io_job_left_unissued_is_named() {
        let mut rig = running_split();
        // A job that got pages but was not issued (the next waiting one still cannot get any).
        let client = &mut rig.kcopyd.clients[0];
        let key = client.pages_jobs.pop_front().unwrap();
        client.io_jobs.push_back(key);
        rig.kcopyd.jobs.get_mut(key).unwrap().stage = JobStage::IoQueue;
        assert_eq!(
            rig.check_settled().unwrap_err(),
            format!("kcopyd client \"test\": IO job {key:?} can be issued but was not")
        );
    }

    #[test]
    fn a_job_done_but_not_reported_is_named() {
        let mut rig = running_split();
        let job = KcopydJobId(rig.job);
        rig.kcopyd.done.push_back((Caller(7), job, false, 0));
        assert_eq!(
            rig.check_settled().unwrap_err(),
            format!(
                "job {job:?} of {:?} done but not reported to its caller",
                Caller(7)
            )
        );
    }
}
