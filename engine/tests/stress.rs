//! Seeded randomised runs: many kcopyd jobs and dm_io requests with random lengths, flags,
//! delays and errors, and random bios through the linear target, each checked by invariants
//! after every step and by an oracle of the data at the end.

mod common;

use common::{stamps, FakePlatform, Fate, Harness};
use dmsim_engine::content::SectorContent;
use dmsim_engine::services::dm_io::{DmIoRegion, DmIoRequest, RegionState, TimedControl};
use dmsim_engine::services::kcopyd::{KcopydConfig, KcopydFlags};
use dmsim_engine::{
    drive, Bio, BioFlags, BioId, Buffer, Caller, DeviceId, DeviceInfo, DriveOptions, DriveOutcome,
    Engine, EngineConfig, IoStatus, Op, SectorData, ServiceEvent, Services, TargetSpec,
};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A seeded ChaCha stream for test scripts, fully determined by the seed.
#[derive(Clone)]
struct Rng(ChaCha8Rng);

impl Rng {
    fn seeded(seed: u64) -> Rng {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }
    fn below(&mut self, n: u64) -> u64 {
        // Modulo bias is at most n / 2^64: irrelevant for choosing test steps.
        self.0.next_u64() % n
    }
}

fn random_fates(seed: u64, error_per_mille: u64) -> FakePlatform {
    let mut rng = Rng::seeded(seed);
    FakePlatform::new(
        3,
        Box::new(move |_| {
            let delay_ns = rng.below(5_000_000);
            let status = if rng.below(1000) < error_per_mille {
                IoStatus::IoError
            } else {
                IoStatus::Ok
            };
            Fate::After { delay_ns, status }
        }),
    )
}

#[test]
fn random_kcopyd_jobs_all_complete_once_and_copy_correctly() {
    for seed in 1..=4u64 {
        let mut rng = Rng::seeded(seed * 7919);
        let services = Services::new(
            &EngineConfig {
                arena_pages: 1200,
                plugging: None,
                ..EngineConfig::default()
            },
            vec![DeviceInfo::new(1 << 22, 512); 3],
        )
        .unwrap();
        let error_rate = if seed % 2 == 0 { 20 } else { 0 };
        let mut h = Harness::new(services, random_fates(seed, error_rate));
        // Sources live on device 0 (never written); destinations on devices 1 and 2, each
        // job in its own slice so jobs never overlap.
        h.platform.fill(0, 0, &stamps(0, 1 << 16, 1));
        let client = h
            .services
            .kcopyd_client_create(KcopydConfig::classic(1024), "stress")
            .unwrap();
        let mut jobs = BTreeMap::new();
        for job in 0..60u64 {
            let sectors = 8 * (1 + rng.below(400));
            let source = DmIoRegion {
                device: DeviceId(0),
                sector: 8 * rng.below(4096),
                sectors,
            };
            let dests: Vec<DmIoRegion> = (0..1 + rng.below(3))
                .map(|d| DmIoRegion {
                    device: DeviceId(1 + (d % 2) as u16),
                    sector: job * 20_000 + d * 4000,
                    sectors,
                })
                .collect();
            let flags = KcopydFlags {
                ignore_error: rng.below(2) == 0,
                write_seq: rng.below(4) == 0,
            };
            h.services
                .kcopyd_copy(client, source, &dests, flags, Caller(job))
                .unwrap();
            jobs.insert(job, (source, dests));
            if rng.below(3) == 0 {
                h.step();
            }
        }
        h.run_until_quiet();
        assert!(
            h.services.is_idle(),
            "seed {seed}: {:?}",
            h.services.waiting_report()
        );
        let mut seen = BTreeMap::new();
        for event in h.event_list() {
            let ServiceEvent::KcopydDone {
                caller,
                read_err,
                write_err,
                ..
            } = event
            else {
                panic!("unexpected {event:?}");
            };
            assert!(seen.insert(caller.0, (read_err, write_err)).is_none());
        }
        assert_eq!(
            seen.len(),
            jobs.len(),
            "seed {seed}: every job called back once"
        );
        for (job, (read_err, write_err)) in &seen {
            let (source, dests) = &jobs[job];
            if *read_err || *write_err != 0 {
                assert!(error_rate > 0);
                continue;
            }
            for dest in dests {
                for s in [0, source.sectors / 2, source.sectors - 1] {
                    assert_eq!(
                        h.platform.read(dest.device.0, dest.sector + s),
                        h.platform.read(0, source.sector + s),
                        "seed {seed} job {job}"
                    );
                }
            }
        }
        // Only the zero page and the pool stay allocated.
        assert_eq!(h.services.arena().free_pages(), 1200 - 1 - 1024);
    }
}

#[test]
fn random_timed_requests_always_return_with_final_states() {
    for seed in 1..=4u64 {
        let mut rng = Rng::seeded(seed * 104_729);
        let services = Services::new(
            &EngineConfig {
                arena_pages: 256,
                plugging: None,
                ..EngineConfig::default()
            },
            vec![DeviceInfo::new(1 << 20, 512); 3],
        )
        .unwrap();
        let mut fates = Rng::seeded(seed);
        let platform = FakePlatform::new(
            3,
            Box::new(move |_| match fates.below(10) {
                0 => Fate::Hang,
                1 => Fate::After {
                    delay_ns: fates.below(20_000_000),
                    status: IoStatus::IoError,
                },
                _ => Fate::ok(fates.below(20_000_000)),
            }),
        );
        let mut h = Harness::new(services, platform);
        if seed % 2 == 0 {
            h.platform.cancel_effect = common::CancelEffect::Ignored;
        }
        let client = h.services.dm_io_client_create(4, "timed");
        let mut buffers = Vec::new();
        let mut handles = Vec::new();
        for request in 0..40u64 {
            let pages = h.services.arena_mut().alloc(2).unwrap();
            let buffer = Buffer::from_pages(pages);
            buffers.push(buffer.clone());
            let op = if rng.below(3) == 0 {
                Op::Read
            } else {
                Op::Write
            };
            let regions: Vec<DmIoRegion> = (0..if op == Op::Read { 1 } else { 1 + rng.below(3) })
                .map(|r| DmIoRegion {
                    device: DeviceId(r as u16),
                    sector: 16 * rng.below(1000),
                    sectors: 8 * (1 + rng.below(2)),
                })
                .collect();
            let control = TimedControl {
                timeout_ns: if rng.below(4) == 0 {
                    None
                } else {
                    Some(rng.below(15_000_000))
                },
                cancel_on_timeout: rng.below(2) == 0,
            };
            let handle = h
                .services
                .dm_io_timed(
                    client,
                    Caller(request),
                    DmIoRequest {
                        op,
                        fua: false,
                        sync: rng.below(2) == 0,
                        buffer,
                        notify: rng.below(3) != 0,
                    },
                    control,
                    &regions,
                )
                .unwrap();
            handles.push(handle);
            if rng.below(2) == 0 {
                h.step();
            }
            if rng.below(5) == 0 {
                let victim = handles[rng.below(handles.len() as u64) as usize];
                let _ = h.services.dm_io_cancel_by_handle(victim);
            }
            if rng.below(10) == 0 {
                h.services
                    .dm_io_cancel_by_device(Some(client), DeviceId(rng.below(3) as u16));
            }
        }
        // Hung IOs never complete: cancel whatever is left, then let the device answer them.
        h.run_until_quiet();
        for device in 0..3 {
            h.services.dm_io_cancel_by_device(None, DeviceId(device));
        }
        h.run_until_quiet();
        for tag in h.platform.pending_tags() {
            h.platform.release(tag, IoStatus::Ok);
        }
        h.run_until_quiet();
        let mut finished = BTreeMap::new();
        for event in h.event_list() {
            if let ServiceEvent::DmIoTimedDone { caller, states, .. } = event {
                assert!(states.iter().all(|s| s.is_final()), "{states:?}");
                assert!(states.iter().all(|s| *s != RegionState::Running));
                assert!(
                    finished.insert(caller.0, states).is_none(),
                    "returned twice"
                );
            }
        }
        assert_eq!(finished.len(), 40, "seed {seed}");
        for buffer in &buffers {
            h.services.arena_mut().release_all(&buffer.pages);
        }
        assert!(h.services.is_idle(), "seed {seed}");
        assert_eq!(
            h.services.arena().free_pages(),
            255,
            "seed {seed}: nothing leaked"
        );
        h.check();
    }
}

struct PendingRead {
    sector: u64,
    sectors: u32,
    snapshot: Vec<SectorContent>,
    concurrent_writes: Vec<u64>,
}

/// A closed-loop workload over the linear volume with an oracle: a read must return, for
/// every sector, the last acknowledged write or a write still in flight.
struct OracleSource {
    rng: Rng,
    remaining: u64,
    in_flight: usize,
    depth: usize,
    next_id: u64,
    volume_blocks: u64,
    acknowledged: BTreeMap<u64, SectorContent>,
    pending_writes: BTreeMap<u64, (u64, u32)>,
    /// Per read in flight: range, acknowledged contents at issue, writes seen meanwhile.
    pending_reads: BTreeMap<u64, PendingRead>,
    checked_sectors: Rc<Cell<u64>>,
}

impl dmsim_engine::BioSource for OracleSource {
    fn next_arrival_ns(&mut self) -> Option<u64> {
        (self.remaining > 0 && self.in_flight < self.depth).then_some(0)
    }

    fn take_bio(&mut self, _now_ns: u64) -> Bio {
        self.remaining -= 1;
        self.in_flight += 1;
        self.next_id += 1;
        let id = self.next_id;
        let sector = 8 * self.rng.below(self.volume_blocks - 64);
        let sectors = 8 * (1 + self.rng.below(40)) as u32;
        let overlaps_a_write = self
            .pending_writes
            .values()
            .any(|&(ws, wn)| sector < ws + u64::from(wn) && ws < sector + u64::from(sectors));
        // Overlapping concurrent writes have no defined result (the simulator refuses them).
        let op = if overlaps_a_write || self.rng.below(2) == 0 {
            Op::Read
        } else {
            Op::Write
        };
        let flags = BioFlags {
            fua: self.rng.below(8) == 0,
            preflush: self.rng.below(16) == 0,
            sync: self.rng.below(2) == 0,
        };
        if op == Op::Write {
            self.pending_writes.insert(id, (sector, sectors));
            for read in self.pending_reads.values_mut() {
                read.concurrent_writes.push(id);
            }
        } else {
            let snapshot = (sector..sector + u64::from(sectors))
                .map(|s| {
                    self.acknowledged
                        .get(&s)
                        .copied()
                        .unwrap_or(SectorContent::Zero)
                })
                .collect();
            self.pending_reads.insert(
                id,
                PendingRead {
                    sector,
                    sectors,
                    snapshot,
                    concurrent_writes: self.pending_writes.keys().copied().collect(),
                },
            );
        }
        Bio {
            id: BioId(id),
            op,
            sector,
            sectors,
            flags,
            data: if op == Op::Write {
                stamps(sector, sectors, id)
            } else {
                SectorData::new()
            },
        }
    }

    fn on_done(&mut self, _now_ns: u64, done: dmsim_engine::BioDone) {
        self.in_flight -= 1;
        assert_eq!(done.status, IoStatus::Ok);
        let id = done.id.0;
        if let Some((sector, sectors)) = self.pending_writes.remove(&id) {
            for (i, c) in stamps(sector, sectors, id).into_iter().enumerate() {
                self.acknowledged.insert(sector + i as u64, c);
            }
            return;
        }
        let read = self.pending_reads.remove(&id).expect("known bio");
        assert_eq!(done.data.len(), read.sectors as usize);
        for (i, got) in done.data.iter().enumerate() {
            let s = read.sector + i as u64;
            // Linearisable: what was acknowledged when the read started, or any write that
            // ran while the read did.
            let concurrent = read
                .concurrent_writes
                .iter()
                .any(|&w| *got == common::stamp(s, w));
            assert!(
                *got == read.snapshot[i] || concurrent,
                "sector {s}: read {got:?}, acknowledged at issue {:?}",
                read.snapshot[i]
            );
            self.checked_sectors.set(self.checked_sectors.get() + 1);
        }
    }

    fn is_finished(&self) -> bool {
        self.remaining == 0 && self.in_flight == 0
    }
}

#[test]
fn random_bios_through_linear_read_what_was_written() {
    for seed in 1..=3u64 {
        let device = DeviceInfo {
            max_sectors: 64,
            ..DeviceInfo::new(1 << 14, 512)
        };
        let mut engine = Engine::new(
            EngineConfig {
                arena_pages: 48,
                plugging: None,
                ..EngineConfig::default()
            },
            vec![device],
            TargetSpec::Linear {
                device: DeviceId(0),
                offset_sectors: 0,
            },
        )
        .unwrap();
        let mut platform = FakePlatform::new(1, {
            let mut rng = Rng::seeded(seed ^ 0xabcdef);
            Box::new(move |_| Fate::ok(rng.below(3_000_000)))
        });
        let checked = Rc::new(Cell::new(0));
        let mut source = OracleSource {
            rng: Rng::seeded(seed * 31),
            remaining: 1500,
            in_flight: 0,
            depth: 16,
            next_id: 0,
            volume_blocks: (1 << 14) / 8,
            acknowledged: BTreeMap::new(),
            pending_writes: BTreeMap::new(),
            pending_reads: BTreeMap::new(),
            checked_sectors: checked.clone(),
        };
        let options = DriveOptions {
            check_invariants: true,
            time_limit_ns: None,
            input_limit: None,
        };
        let report = drive(&mut engine, &mut platform, &mut source, &mut (), &options).unwrap();
        assert_eq!(report.outcome, DriveOutcome::Finished, "seed {seed}");
        assert_eq!(report.bios_done, 1500);
        assert!(
            checked.get() > 10_000,
            "the oracle checked {} sectors",
            checked.get()
        );
        assert!(engine.is_idle());
        assert_eq!(engine.arena().free_pages(), 47);
    }
}
