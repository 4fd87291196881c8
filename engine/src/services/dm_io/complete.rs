//! dm_io's completion side: device IO completions, the end of a request, timeouts and
//! cancellation of timed requests, and zombies.
//!
//! Deliberately not here: submission and splitting (see `mod.rs` and `split.rs`).

use super::RegionState;
use super::{
    DmIo, DmIoClientId, DmIoError, DmIoHandle, DmIoPhase, Notice, NoticeBody, RegionNotice,
};
use crate::block::{DeviceId, IoStatus, Op};
use crate::bounded::{LoopBound, ITEMS_PER_CALL_MAX};
use crate::io::{IoTag, Output};
use crate::services::block_layer::{failed, BlockLayer, InFlightIo, IoOwner};
use crate::slab::SlabKey;

impl DmIo {
    /// A device IO owned by dm_io (a live request's piece, or a zombie) completed.
    pub fn on_io_done(
        &mut self,
        bl: &mut BlockLayer,
        tag: IoTag,
        io: InFlightIo,
        status: IoStatus,
    ) {
        match io.owner {
            IoOwner::DmIo { request, region } => {
                self.on_piece_done(bl, request, usize::from(region), tag, io, status)
            }
            IoOwner::Zombie {
                route,
                handle,
                region,
            } => {
                // Nobody waits for this IO's data any more. A write that was not really
                // cancelled may have changed the device: the range's content is now unknown.
                // Either way the caller hears of the end: until then the range may still
                // change under it (a cache must not reuse it).
                mark!(ZombieCompletes);
                if io.op == Op::Write && status != IoStatus::Cancelled {
                    self.stats.late_writes += 1;
                    bl.outputs.push_back(Output::ContentsUnknown {
                        device: io.device,
                        extent: io.extent(),
                    });
                    self.notices.push_back(Notice {
                        route,
                        body: NoticeBody::LateWrite {
                            handle,
                            region,
                            device: io.device,
                            sector: io.sector,
                            sectors: u64::from(io.sectors),
                            status,
                        },
                    });
                }
                self.notices.push_back(Notice {
                    route,
                    body: NoticeBody::ZombieEnded {
                        handle,
                        region,
                        status,
                    },
                });
            }
            IoOwner::Raw(_) => unreachable!("raw IO routed to dm_io"),
        }
    }

    fn on_piece_done(
        &mut self,
        bl: &mut BlockLayer,
        key: SlabKey,
        index: usize,
        tag: IoTag,
        io: InFlightIo,
        status: IoStatus,
    ) {
        let request = self
            .requests
            .get_mut(key)
            .expect("a live piece's request exists");
        assert_eq!(request.phase, DmIoPhase::Dispatched);
        if failed(status) {
            mark!(DmIoRegionFailed);
            request.error_bits |= 1 << index;
            request.regions[index].status = request.regions[index].status.worst(status);
            if request.op == Op::Read {
                // dm_io zero-fills the pages of a failed read bio.
                bl.arena.zero_sectors(&io.buffer, u64::from(io.sectors));
            }
        }
        assert!(request.regions[index].pending > 0);
        request.regions[index].pending -= 1;
        if request.timed.is_some() {
            let tags = &mut request.regions[index].ios;
            let position = tags.iter().position(|&t| t == tag).expect("piece tracked");
            tags.swap_remove(position);
            if request.regions[index].pending == 0 {
                self.finish_region(key, index);
            }
        }
        self.drop_reference(bl, key);
    }

    /// Timed: region `index` has no IO left in flight: it becomes OK or ERROR and is noticed.
    pub(super) fn finish_region(&mut self, key: SlabKey, index: usize) {
        let request = self.requests.get_mut(key).expect("live request");
        let state = request.regions[index].state;
        if state.is_final() {
            return;
        }
        let status = request.regions[index].status;
        let new_state = if status.is_ok() {
            RegionState::Ok
        } else {
            RegionState::Error
        };
        request.regions[index].state = new_state;
        if request.notify {
            let route = request.route;
            self.notices.push_back(Notice {
                route,
                body: NoticeBody::Region {
                    handle: DmIoHandle(key),
                    notice: RegionNotice {
                        region: index as u8,
                        state: new_state,
                        status,
                    },
                },
            });
        }
    }

    /// Drops one reference; the last one finishes the request.
    pub(super) fn drop_reference(&mut self, bl: &mut BlockLayer, key: SlabKey) {
        let request = self.requests.get_mut(key).expect("live request");
        assert!(request.references > 0, "reference count underflow");
        request.references -= 1;
        if request.references == 0 {
            self.finish(bl, key);
        }
    }

    /// The request is returned upward: its client slot goes to the next waiting request.
    fn finish(&mut self, bl: &mut BlockLayer, key: SlabKey) {
        let request = self.requests.remove(key).expect("finishing a live request");
        if let Some(deadline) = request.deadline_ns {
            self.deadlines.remove(&(deadline, key));
        }
        let handle = DmIoHandle(key);
        let body = if request.timed.is_some() {
            assert!(request.regions.iter().all(|r| r.state.is_final()));
            NoticeBody::TimedDone {
                handle,
                states: request.regions.iter().map(|r| r.state).collect(),
                zombies: request.zombies,
            }
        } else {
            NoticeBody::Done {
                handle: Some(handle),
                error_bits: request.error_bits,
                sync: !request.notify,
            }
        };
        self.notices.push_back(Notice {
            route: request.route,
            body,
        });
        if request.phase == DmIoPhase::Dispatched {
            self.release_slot(bl, request.client);
        }
    }

    fn release_slot(&mut self, bl: &mut BlockLayer, client: DmIoClientId) {
        let slot = &mut self.clients[client.0 as usize];
        assert!(slot.in_flight > 0);
        slot.in_flight -= 1;
        if let Some(next) = slot.waiting.pop_front() {
            slot.in_flight += 1;
            self.dispatch(bl, next);
        }
    }

    /// Fires the timeouts that are due.
    pub fn on_tick(&mut self, bl: &mut BlockLayer) {
        let mut bound = LoopBound::new("dm_io timeouts", ITEMS_PER_CALL_MAX);
        while let Some(&(at, key)) = self.deadlines.first() {
            bound.round();
            if at > bl.now_ns {
                break;
            }
            self.deadlines.remove(&(at, key));
            let request = self
                .requests
                .get_mut(key)
                .expect("deadline of a live request");
            request.deadline_ns = None;
            let control = request.timed.expect("only timed requests have deadlines");
            let auto_cancel = control.cancel_on_timeout || !request.notify;
            let running: Vec<usize> = (0..request.regions.len())
                .filter(|&index| request.regions[index].state == RegionState::Running)
                .collect();
            if !running.is_empty() {
                // Only flashcache's `ssd_timeout` issues timed requests today: SSD IO.
                if request.op == Op::Write {
                    mark!(TimedWriteTimedOut);
                } else {
                    mark!(TimedReadTimedOut);
                }
            }
            self.stats.regions_timed_out += running.len() as u64;
            let references_held = auto_cancel && !running.is_empty();
            if references_held {
                // Hold the request open while cancelling several regions.
                request.references += 1;
            }
            for index in running {
                if auto_cancel {
                    self.cancel_region(bl, key, index);
                } else {
                    let request = self.requests.get_mut(key).expect("live");
                    request.regions[index].state = RegionState::Timeout;
                    let notice = RegionNotice {
                        region: index as u8,
                        state: RegionState::Timeout,
                        status: request.regions[index].status,
                    };
                    let route = request.route;
                    self.notices.push_back(Notice {
                        route,
                        body: NoticeBody::Region {
                            handle: DmIoHandle(key),
                            notice,
                        },
                    });
                }
            }
            if references_held {
                self.drop_reference(bl, key);
            }
        }
    }

    /// Cancels one non-final region: its IOs become zombies (the platform is asked to
    /// cancel them), the region is CANCELLED and noticed. The caller holds a reference.
    fn cancel_region(&mut self, bl: &mut BlockLayer, key: SlabKey, index: usize) {
        let request = self.requests.get_mut(key).expect("live request");
        assert!(!request.regions[index].state.is_final());
        request.regions[index].state = RegionState::Cancelled;
        let tags = std::mem::take(&mut request.regions[index].ios);
        let detached = request.regions[index].pending;
        assert_eq!(detached as usize, tags.len());
        request.regions[index].pending = 0;
        request.references -= detached;
        request.zombies += detached;
        assert!(request.references > 0, "caller must hold a reference");
        let route = request.route;
        let notify = request.notify;
        let status = request.regions[index].status;
        for tag in tags {
            bl.set_owner(
                tag,
                IoOwner::Zombie {
                    route,
                    handle: DmIoHandle(key),
                    region: index as u8,
                },
            );
            bl.cancel(tag);
        }
        self.stats.regions_cancelled += 1;
        if notify {
            self.notices.push_back(Notice {
                route,
                body: NoticeBody::Region {
                    handle: DmIoHandle(key),
                    notice: RegionNotice {
                        region: index as u8,
                        state: RegionState::Cancelled,
                        status,
                    },
                },
            });
        }
    }

    /// `dm_io_cancel_by_handle`: cancels every non-final region of a timed request.
    pub fn cancel_by_handle(
        &mut self,
        bl: &mut BlockLayer,
        handle: DmIoHandle,
    ) -> Result<(), DmIoError> {
        let request = self
            .requests
            .get(handle.0)
            .ok_or(DmIoError::UnknownHandle)?;
        if request.timed.is_none() {
            return Err(DmIoError::NotTimed);
        }
        let regions: Vec<usize> = (0..request.regions.len()).collect();
        self.cancel_regions(bl, handle.0, &regions);
        Ok(())
    }

    /// `dm_io_cancel_by_device`: cancels the non-final regions on `device` of every timed
    /// request of `client` (of every client if `None`). Returns the regions cancelled.
    pub fn cancel_by_device(
        &mut self,
        bl: &mut BlockLayer,
        client: Option<DmIoClientId>,
        device: DeviceId,
    ) -> usize {
        let mut cancelled = 0;
        for key in self.requests.keys() {
            let Some(request) = self.requests.get(key) else {
                continue; // finished by an earlier cancellation in this loop
            };
            if request.timed.is_none() || client.is_some_and(|c| c != request.client) {
                continue;
            }
            let regions: Vec<usize> = (0..request.regions.len())
                .filter(|&i| {
                    request.regions[i].region.device == device
                        && !request.regions[i].state.is_final()
                })
                .collect();
            if !regions.is_empty() {
                mark!(DeviceCancelIssued);
            }
            cancelled += regions.len();
            self.cancel_regions(bl, key, &regions);
        }
        cancelled
    }

    fn cancel_regions(&mut self, bl: &mut BlockLayer, key: SlabKey, regions: &[usize]) {
        let request = self.requests.get_mut(key).expect("live request");
        let targets: Vec<usize> = regions
            .iter()
            .copied()
            .filter(|&i| !request.regions[i].state.is_final())
            .collect();
        if targets.is_empty() {
            return;
        }
        if request.phase == DmIoPhase::Waiting {
            // Never dispatched: nothing in flight; the regions are simply cancelled.
            for &index in &targets {
                request.regions[index].state = RegionState::Cancelled;
                self.stats.regions_cancelled += 1;
                if request.notify {
                    self.notices.push_back(Notice {
                        route: request.route,
                        body: NoticeBody::Region {
                            handle: DmIoHandle(key),
                            notice: RegionNotice {
                                region: index as u8,
                                state: RegionState::Cancelled,
                                status: request.regions[index].status,
                            },
                        },
                    });
                }
            }
            if request.regions.iter().all(|r| r.state.is_final()) {
                let client = request.client.0 as usize;
                // Any others waiting for a slot keep their places.
                mark!(DeviceCancelOfWaitingRequest);
                self.clients[client].waiting.retain(|&k| k != key);
                self.finish(bl, key);
            }
            return;
        }
        request.references += 1;
        for index in targets {
            self.cancel_region(bl, key, index);
        }
        self.drop_reference(bl, key);
    }
}
