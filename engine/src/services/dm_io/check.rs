//! dm_io's invariant checks: the full check, and the check after each input that looks
//! only at the requests whose slab slots changed since its last call, with the full check
//! every [`FULL_CHECK_EVERY_CALLS`]th call.
//!
//! Why changed slots suffice: a request's own invariants depend on the request and on the
//! deadline index entry naming it, and every change of that entry goes with a change of the
//! request (the slab marks it). Per-client counts are kept by difference from what each
//! slot counted at the last call; the clients and the deadline index (timed requests only)
//! are checked whole on every call.
//!
//! [`FULL_CHECK_EVERY_CALLS`]: crate::changed_ids::FULL_CHECK_EVERY_CALLS

use super::{DmIo, DmIoClientId, DmIoPhase, DmIoRecord, RegionState};
use crate::changed_ids::CheckSchedule;
use crate::slab::SlabKey;

/// What [`DmIo::check_invariants_incremental`] carries between calls.
#[derive(Debug, Clone, Default)]
pub(super) struct IncrementalCheck {
    /// When the next call checks everything.
    schedule: CheckSchedule,
    /// The changed slots being checked (kept for its allocation).
    changes: Vec<(u32, bool)>,
    /// Per slot, what its request counted for at the last call (`None`: empty slot).
    counted: Vec<Option<(DmIoClientId, DmIoPhase)>>,
    /// Per client, (dispatched, waiting) requests as counted.
    per_client: Vec<(u32, usize)>,
    /// Occupied slots as counted.
    occupied: usize,
}

impl DmIo {
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut per_client = vec![(0u32, 0usize); self.clients.len()];
        self.requests.check_each(|key, request| {
            count(&mut per_client, request);
            self.check_request(key, request)
        })??;
        self.check_clients(&per_client)?;
        self.check_deadlines()
    }

    /// [`DmIo::check_invariants`] for a check after every input: each request whose slot
    /// changed since the last call is checked as the full check checks it, the slab's
    /// bookkeeping and the per-client counts by difference, the clients and deadlines
    /// whole; everything every [`FULL_CHECK_EVERY_CALLS`]th call and after a failure.
    /// Allocates nothing once warm.
    ///
    /// [`FULL_CHECK_EVERY_CALLS`]: crate::changed_ids::FULL_CHECK_EVERY_CALLS
    pub fn check_invariants_incremental(&mut self) -> Result<(), String> {
        let mut progress = std::mem::take(&mut self.incremental_check);
        self.requests.take_changes(&mut progress.changes);
        let result = if progress.schedule.full_due() {
            self.check_invariants()
                .map(|()| self.recount(&mut progress))
        } else {
            self.check_changed(&mut progress)
        };
        progress.schedule.done(&result);
        self.incremental_check = progress;
        result
    }

    /// After a full check: the counts from scratch.
    fn recount(&self, progress: &mut IncrementalCheck) {
        progress.counted.clear();
        progress.counted.resize(self.requests.slots(), None);
        progress.per_client.clear();
        progress.per_client.resize(self.clients.len(), (0, 0));
        for (key, request) in self.requests.iter() {
            count(&mut progress.per_client, request);
            progress.counted[key.index as usize] = Some((request.client, request.phase));
        }
        progress.occupied = self.requests.len();
    }

    /// The incremental part of [`DmIo::check_invariants_incremental`].
    fn check_changed(&self, progress: &mut IncrementalCheck) -> Result<(), String> {
        progress.counted.resize(self.requests.slots(), None);
        progress.per_client.resize(self.clients.len(), (0, 0));
        for &(index, was_occupied) in &progress.changes {
            let slot = &mut progress.counted[index as usize];
            if let Some((client, phase)) = slot.take() {
                uncount(&mut progress.per_client, client, phase);
            }
            let now = self.requests.at(index);
            // Wrapping: a change that escaped the marking makes the count wrong, not a panic.
            progress.occupied = progress
                .occupied
                .wrapping_add(usize::from(now.is_some()))
                .wrapping_sub(usize::from(was_occupied));
            if let Some((key, request)) = now {
                count(&mut progress.per_client, request);
                *slot = Some((request.client, request.phase));
                self.check_request(key, request)?;
            }
        }
        self.requests.check_occupied(progress.occupied)?;
        self.check_clients(&progress.per_client)?;
        self.check_deadlines()
    }

    /// One request: its references against its pending device IOs, its timed regions'
    /// states, its deadline indexed.
    fn check_request(&self, key: SlabKey, request: &DmIoRecord) -> Result<(), String> {
        if request.phase == DmIoPhase::Dispatched {
            let pending: u32 = request.regions.iter().map(|r| r.pending).sum();
            if pending != request.references {
                return Err(format!(
                    "request {}: {} references but {} device IOs pending",
                    key.to_u64(),
                    request.references,
                    pending
                ));
            }
            if request.references == 0 {
                return Err(format!(
                    "request {}: no references left but not finished",
                    key.to_u64()
                ));
            }
            if request.timed.is_some() {
                for (index, region) in request.regions.iter().enumerate() {
                    let (state, pending) = (region.state, region.pending);
                    let running = matches!(state, RegionState::Running | RegionState::Timeout);
                    if running != (pending > 0) || pending as usize != region.ios.len() {
                        return Err(format!(
                            "request {} region {index}: state {state:?} with {pending} pending, {} tracked",
                            key.to_u64(),
                            region.ios.len()
                        ));
                    }
                }
            }
        }
        if request
            .deadline_ns
            .is_some_and(|d| !self.deadlines.contains(&(d, key)))
        {
            return Err(format!("request {}: deadline not indexed", key.to_u64()));
        }
        Ok(())
    }

    /// Each client's counted requests against its own record and pool.
    fn check_clients(&self, per_client: &[(u32, usize)]) -> Result<(), String> {
        for (index, client) in self.clients.iter().enumerate() {
            let (dispatched, waiting) = per_client[index];
            if dispatched != client.in_flight || waiting != client.waiting.len() {
                return Err(format!(
                    "client \"{}\": {} in flight / {} waiting counted, {} / {} recorded",
                    client.label,
                    dispatched,
                    waiting,
                    client.in_flight,
                    client.waiting.len()
                ));
            }
            if client.in_flight > client.min_ios {
                return Err(format!(
                    "client \"{}\": {} requests in flight exceed min_ios {}",
                    client.label, client.in_flight, client.min_ios
                ));
            }
            if !client.waiting.is_empty() && client.in_flight < client.min_ios {
                return Err(format!(
                    "client \"{}\": requests wait although a slot is free",
                    client.label
                ));
            }
        }
        Ok(())
    }

    /// Every deadline indexed names a live request with that deadline.
    fn check_deadlines(&self) -> Result<(), String> {
        for &(at, key) in &self.deadlines {
            if self.requests.get(key).and_then(|r| r.deadline_ns) != Some(at) {
                return Err(format!("deadline {at} for a request without it"));
            }
        }
        Ok(())
    }
}

/// Adds `request` to its client's (dispatched, waiting) count.
fn count(per_client: &mut [(u32, usize)], request: &DmIoRecord) {
    let counts = &mut per_client[request.client.0 as usize];
    match request.phase {
        DmIoPhase::Dispatched => counts.0 += 1,
        DmIoPhase::Waiting => counts.1 += 1,
    }
}

/// Takes a request counted as (`client`, `phase`) off the counts.
fn uncount(per_client: &mut [(u32, usize)], client: DmIoClientId, phase: DmIoPhase) {
    let counts = &mut per_client[client.0 as usize];
    // Wrapping: counts made wrong by a change that escaped the marking fail the check.
    match phase {
        DmIoPhase::Dispatched => counts.0 = counts.0.wrapping_sub(1),
        DmIoPhase::Waiting => counts.1 = counts.1.wrapping_sub(1),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DmIo, DmIoPhase, DmIoRegion, DmIoRequest, RegionState, TimedControl};
    use crate::arena::{Arena, Buffer};
    use crate::block::{DeviceId, DeviceInfo, Op};
    use crate::changed_ids::FULL_CHECK_EVERY_CALLS;
    use crate::services::block_layer::BlockLayer;
    use crate::services::handles::{Caller, Route};
    use crate::slab::SlabKey;

    /// dm_io with one client of one slot: a dispatched read and a waiting one, after a
    /// first (full) incremental check.
    fn two_requests() -> (DmIo, [SlabKey; 2]) {
        let mut bl = BlockLayer::new(vec![DeviceInfo::new(1 << 20, 512)], Arena::new(16), None);
        let mut dm_io = DmIo::default();
        let client = dm_io.create_client(1, "test");
        let mut keys = Vec::new();
        for sector in [0, 8] {
            let buffer = Buffer::from_pages(bl.arena.alloc(1).unwrap());
            let request = DmIoRequest {
                op: Op::Read,
                fua: false,
                sync: false,
                buffer,
                notify: true,
            };
            let region = DmIoRegion {
                device: DeviceId(0),
                sector,
                sectors: 8,
            };
            let route = Route::External(Caller(1));
            let handle = dm_io.submit(&mut bl, client, route, request, &[region], None);
            keys.push(handle.unwrap().0);
        }
        dm_io.check_invariants_incremental().unwrap();
        (dm_io, [keys[0], keys[1]])
    }

    #[test]
    fn a_changed_request_is_checked_at_once() {
        let (mut dm_io, [dispatched, _]) = two_requests();
        dm_io.requests.get_mut(dispatched).unwrap().references += 1;
        assert_eq!(
            dm_io.check_invariants_incremental().unwrap_err(),
            format!(
                "request {}: 2 references but 1 device IOs pending",
                dispatched.to_u64()
            )
        );
    }

    #[test]
    fn per_client_counts_follow_each_changed_request() {
        let (mut dm_io, [_, waiting]) = two_requests();
        // The waiting request counted as dispatched: the client's record disagrees.
        dm_io.requests.get_mut(waiting).unwrap().phase = DmIoPhase::Dispatched;
        let error = dm_io.check_invariants_incremental().unwrap_err();
        assert!(error.contains("references"), "{error}");
        // After a failure the next call is full: the same state fails the same way.
        assert_eq!(dm_io.check_invariants_incremental().unwrap_err(), error);
        dm_io.requests.get_mut(waiting).unwrap().phase = DmIoPhase::Waiting;
        dm_io.check_invariants_incremental().unwrap();
        dm_io.check_invariants_incremental().unwrap();
        // A removed request is taken off its client's count.
        dm_io.requests.remove(waiting).unwrap();
        assert_eq!(
            dm_io.check_invariants_incremental().unwrap_err(),
            "client \"test\": 1 in flight / 0 waiting counted, 1 / 1 recorded"
        );
    }

    #[test]
    fn a_slot_changed_behind_the_slab_waits_for_the_periodic_full_check() {
        let (mut dm_io, [dispatched, _]) = two_requests();
        dm_io.check_invariants_incremental().unwrap();
        // Changed, then its mark dropped: as if the change had escaped the marking.
        dm_io.requests.get_mut(dispatched).unwrap().references += 1;
        dm_io.requests.take_changes(&mut Vec::new());
        for call in 2..FULL_CHECK_EVERY_CALLS {
            assert_eq!(dm_io.check_invariants_incremental(), Ok(()), "call {call}");
        }
        assert!(dm_io
            .check_invariants_incremental()
            .unwrap_err()
            .contains("2 references but 1 device IOs pending"));
    }

    // The check on each kind of corrupted state (the explorer only ever runs it on a
    // correct dm_io, where it must pass: these are what show it would fail).

    /// dm_io with one client of two slots and one timed write of two regions, one of 8
    /// sectors (running, one device IO) and one skipped (0 sectors: OK at once), its
    /// deadline indexed: every timed-region rule has a region on each side of it, and the
    /// client has a free slot with nobody waiting.
    fn timed_write() -> (DmIo, SlabKey) {
        let mut bl = BlockLayer::new(vec![DeviceInfo::new(1 << 20, 512)], Arena::new(16), None);
        let mut dm_io = DmIo::default();
        let client = dm_io.create_client(2, "timed");
        let request = DmIoRequest {
            op: Op::Write,
            fua: false,
            sync: false,
            buffer: Buffer::from_pages(bl.arena.alloc(1).unwrap()),
            notify: true,
        };
        let regions = [0, 8].map(|sectors| DmIoRegion {
            device: DeviceId(0),
            sector: 0,
            sectors,
        });
        let timed = TimedControl {
            timeout_ns: Some(1_000),
            cancel_on_timeout: false,
        };
        let route = Route::External(Caller(1));
        let handle = dm_io.submit(&mut bl, client, route, request, &regions, Some(timed));
        let key = handle.unwrap().0;
        let record = dm_io.requests.get(key).unwrap();
        assert_eq!(record.regions[0].state, RegionState::Ok);
        assert_eq!(record.regions[1].state, RegionState::Running);
        assert!(record.deadline_ns.is_some());
        dm_io.check_invariants().unwrap();
        dm_io.check_invariants_incremental().unwrap();
        (dm_io, key)
    }

    #[test]
    fn a_running_region_without_pending_io_is_named() {
        let (mut dm_io, key) = timed_write();
        // The skipped region said to be running: the other region's IO keeps the request's
        // references right, so only the region's rule can see it.
        dm_io.requests.get_mut(key).unwrap().regions[0].state = RegionState::Running;
        assert_eq!(
            dm_io.check_invariants().unwrap_err(),
            format!(
                "request {} region 0: state Running with 0 pending, 0 tracked",
                key.to_u64()
            )
        );
    }

    #[test]
    fn a_final_region_with_pending_io_is_named() {
        let (mut dm_io, key) = timed_write();
        dm_io.requests.get_mut(key).unwrap().regions[1].state = RegionState::Cancelled;
        assert_eq!(
            dm_io.check_invariants().unwrap_err(),
            format!(
                "request {} region 1: state Cancelled with 1 pending, 1 tracked",
                key.to_u64()
            )
        );
        // A region timed out is still running.
        dm_io.requests.get_mut(key).unwrap().regions[1].state = RegionState::Timeout;
        dm_io.check_invariants().unwrap();
    }

    #[test]
    fn a_pending_device_io_not_tracked_for_cancellation_is_named() {
        let (mut dm_io, key) = timed_write();
        dm_io.requests.get_mut(key).unwrap().regions[1].ios.clear();
        assert_eq!(
            dm_io.check_invariants_incremental().unwrap_err(),
            format!(
                "request {} region 1: state Running with 1 pending, 0 tracked",
                key.to_u64()
            )
        );
    }

    #[test]
    fn a_deadline_missing_from_the_index_is_named() {
        let (mut dm_io, key) = timed_write();
        let deadline = dm_io.requests.get(key).unwrap().deadline_ns.unwrap();
        dm_io.deadlines.remove(&(deadline, key));
        assert_eq!(
            dm_io.check_invariants().unwrap_err(),
            format!("request {}: deadline not indexed", key.to_u64())
        );
    }

    #[test]
    fn an_indexed_deadline_the_request_does_not_have_is_named() {
        let (mut dm_io, key) = timed_write();
        let deadline = dm_io.requests.get(key).unwrap().deadline_ns.unwrap();
        dm_io.deadlines.insert((deadline + 1, key));
        let stale = format!("deadline {} for a request without it", deadline + 1);
        assert_eq!(dm_io.check_invariants().unwrap_err(), stale);
        // Nor may a request that has none be named.
        let (mut dm_io, [dispatched, _]) = two_requests();
        dm_io.deadlines.insert((5, dispatched));
        assert_eq!(
            dm_io.check_invariants_incremental().unwrap_err(),
            "deadline 5 for a request without it"
        );
    }

    #[test]
    fn a_client_over_its_pool_is_named() {
        let (mut dm_io, _) = two_requests();
        dm_io.clients[0].min_ios = 0;
        assert_eq!(
            dm_io.check_invariants().unwrap_err(),
            "client \"test\": 1 requests in flight exceed min_ios 0"
        );
    }

    #[test]
    fn a_request_waiting_beside_a_free_slot_is_named() {
        let (mut dm_io, _) = two_requests();
        dm_io.clients[0].min_ios = 2;
        assert_eq!(
            dm_io.check_invariants().unwrap_err(),
            "client \"test\": requests wait although a slot is free"
        );
    }
}
