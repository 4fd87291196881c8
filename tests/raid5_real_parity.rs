//! md raid5 over real devices keeps real parity (issue 10 item 5): random writes through the
//! array land on 4 loop devices (created here as root, detached and deleted afterwards; plain
//! files when not root), then the members' bytes are read straight from their backing files:
//! every parity page is the XOR of its row's data pages, and every data sector holds the
//! stamp of the volume sector md's layout puts there. Then member 1's bytes are destroyed on
//! the device itself: a new array over the same members returns garbage for them while the
//! member is trusted, and exactly the written data once it is failed (reconstructed from
//! the others' real bytes).

use dmsim_engine::block::{IoStatus, Op, PAGE_SIZE, SECTOR_SIZE};
use dmsim_engine::content::{decode_sector, SectorContent};
use dmsim_engine::io::{Bio, BioDone, BioFlags, BioId, Control, Input, SectorData};
use dmsim_engine::platform::BioSource;
use dmsim_engine::raid5::{Geometry, Layout, Raid5Config};
use dmsim_engine::{DeviceId, DeviceInfo, DriveOptions, DriveOutcome, EngineConfig, TargetSpec};
use dmsim_real::testing::{FixtureOptions, LoopDevice, Medium};
use dmsim_real::{OpenOptions, PlatformOptions, RealDevice, RealRig};
use dmsim_scenarios::source::{Pacing, RecordSource};
use dmsim_scenarios::workload::{AccessPattern, SizeDistribution, WorkloadGenerator, WorkloadSpec};
use dmsim_sim::oracle_observer::OracleObserver;
use dmsim_sim::streams::stream;
use std::io::Write;

const MEMBERS: usize = 4;
const MEMBER_BYTES: u64 = 2 << 20;
const MEMBER_SECTORS: u64 = MEMBER_BYTES / 512;
const CHUNK_SECTORS: u64 = 16;
const ARRAY: DeviceId = DeviceId(MEMBERS as u16);
const PAGE_SECTORS: u64 = (PAGE_SIZE / SECTOR_SIZE) as u64;

fn target() -> TargetSpec {
    TargetSpec::Stack {
        lower: vec![TargetSpec::Raid5 {
            members: (0..MEMBERS).map(|m| DeviceId(m as u16)).collect(),
            config: Raid5Config::new(CHUNK_SECTORS),
            spares: Vec::new(),
        }],
        upper: Box::new(TargetSpec::Linear {
            device: ARRAY,
            offset_sectors: 0,
        }),
    }
}

fn rig(fixtures: &[LoopDevice]) -> RealRig {
    let devices = fixtures
        .iter()
        .map(|f| {
            RealDevice::open(
                f.path(),
                OpenOptions {
                    allow_write: true,
                    range: None,
                },
            )
            .unwrap()
        })
        .collect();
    let config = EngineConfig {
        arena_pages: 1024 + 256 * MEMBERS as u32,
        ..EngineConfig::default()
    };
    RealRig::build(config, target(), devices, PlatformOptions::default()).unwrap()
}

fn geometry() -> Geometry {
    let info = DeviceInfo::new(MEMBER_SECTORS, 512);
    Geometry::new(&[info; MEMBERS], CHUNK_SECTORS, Layout::LeftSymmetric).unwrap()
}

/// Reads every page of the array, one bio at a time, and keeps what each sector returned.
struct ReadAll {
    next_page: u64,
    pages: u64,
    in_flight: bool,
    contents: Vec<SectorContent>,
}

impl ReadAll {
    fn new(array_sectors: u64) -> ReadAll {
        ReadAll {
            next_page: 0,
            pages: array_sectors / PAGE_SECTORS,
            in_flight: false,
            contents: vec![SectorContent::Foreign; array_sectors as usize],
        }
    }
}

impl BioSource for ReadAll {
    fn next_arrival_ns(&mut self) -> Option<u64> {
        (!self.in_flight && self.next_page < self.pages).then_some(0)
    }
    fn take_bio(&mut self, _now_ns: u64) -> Bio {
        self.in_flight = true;
        let page = self.next_page;
        self.next_page += 1;
        Bio {
            id: BioId(page),
            op: Op::Read,
            sector: page * PAGE_SECTORS,
            sectors: PAGE_SECTORS as u32,
            flags: BioFlags::default(),
            data: SectorData::new(),
        }
    }
    fn on_done(&mut self, _now_ns: u64, done: BioDone) {
        assert_eq!(done.status, IoStatus::Ok, "read of page {}", done.id.0);
        let first = (done.id.0 * PAGE_SECTORS) as usize;
        self.contents[first..first + done.data.len()].copy_from_slice(&done.data);
        self.in_flight = false;
    }
    fn is_finished(&self) -> bool {
        !self.in_flight && self.next_page >= self.pages
    }
}

/// Reads the whole array through a fresh engine over `fixtures`, failing `fail` first.
fn read_array(fixtures: &[LoopDevice], fail: Option<usize>) -> (Vec<SectorContent>, u64) {
    let mut rig = rig(fixtures);
    if let Some(member) = fail {
        rig.engine_mut()
            .handle(
                0,
                Input::Control(Control::StackedMessage {
                    device: ARRAY,
                    message: format!("fail {member}"),
                }),
            )
            .unwrap();
    }
    let mut reads = ReadAll::new(geometry().array_sectors());
    let report = rig
        .drive(&mut reads, &mut (), &DriveOptions::default())
        .unwrap();
    assert_eq!(report.outcome, DriveOutcome::Finished);
    let errors = rig.platform_mut().take_errors();
    assert!(errors.is_empty(), "{errors:?}");
    let (_, status) = rig.engine().stacked_status().remove(0);
    (reads.contents, status.counters["reconstructions"])
}

#[test]
fn parity_on_real_members_is_the_xor_of_their_bytes_and_rebuilds_a_destroyed_member() {
    // As root these must be real loop devices (fails, never skips); otherwise files.
    let fixtures: Vec<LoopDevice> = (0..MEMBERS)
        .map(|_| {
            LoopDevice::for_tests(FixtureOptions::new(MEMBER_BYTES, Medium::Tmpfs))
                .expect("a loop device (run as root) or a file")
        })
        .collect();
    let geometry = geometry();

    // Random writes of 512 B to 32 KiB over the whole array, 4 in flight, checked by the
    // oracle (the fresh members read as zeros).
    let spec = WorkloadSpec {
        span_start_bytes: 0,
        span_bytes: geometry.array_sectors() * 512,
        alignment_bytes: 512,
        pattern: AccessPattern::Uniform,
        read_percent: 20.0,
        request_size: SizeDistribution::Uniform {
            min_bytes: 512,
            max_bytes: 32 << 10,
        },
        arrival: Default::default(),
        requests: Some(1_500),
        device: 0,
    };
    let generator = WorkloadGenerator::new(&spec, stream(5, "workload")).unwrap();
    let mut writes = RecordSource::new(generator, Pacing::ClosedLoop { queue_depth: 4 });
    let mut oracle = OracleObserver::new(true);
    {
        let mut rig = rig(&fixtures);
        let report = rig
            .drive(&mut writes, &mut oracle, &DriveOptions::default())
            .unwrap();
        assert_eq!(report.outcome, DriveOutcome::Finished);
        let errors = rig.platform_mut().take_errors();
        assert!(errors.is_empty(), "{errors:?}");
    }
    oracle.assert_clean("writes through the array");

    // The members' bytes, straight from their backing files.
    let members: Vec<Vec<u8>> = fixtures
        .iter()
        .map(|f| std::fs::read(f.backing_file()).unwrap())
        .collect();
    let mut nonzero_parity_pages = 0;
    let mut expected = vec![SectorContent::Zero; geometry.array_sectors() as usize];
    let mut stamped_sectors = 0;
    for page_sector in (0..geometry.member_sectors()).step_by(PAGE_SECTORS as usize) {
        let row = geometry.row_of(page_sector);
        let parity_member = geometry.parity_member(row);
        let bytes = |member: usize| {
            let at = page_sector as usize * SECTOR_SIZE;
            &members[member][at..at + PAGE_SIZE]
        };
        let mut xor = vec![0u8; PAGE_SIZE];
        for member in (0..MEMBERS).filter(|&m| m != parity_member) {
            for (acc, byte) in xor.iter_mut().zip(bytes(member)) {
                *acc ^= byte;
            }
            for index in 0..PAGE_SECTORS {
                let sector = page_sector + index;
                let logical = geometry.logical_sector(member, sector);
                let at = index as usize * SECTOR_SIZE;
                let content = decode_sector(&bytes(member)[at..at + SECTOR_SIZE]);
                match content {
                    SectorContent::Stamp(stamp) => {
                        assert_eq!(stamp.sector, logical, "member {member} sector {sector}");
                        stamped_sectors += 1;
                    }
                    SectorContent::Zero => {}
                    SectorContent::Foreign => {
                        panic!("member {member} sector {sector} holds neither data nor zeros")
                    }
                }
                expected[logical as usize] = content;
            }
        }
        assert!(
            xor == bytes(parity_member),
            "row {row}, member sector {page_sector}: parity on member {parity_member} is not \
             the XOR of the data members"
        );
        if xor.iter().any(|&b| b != 0) {
            nonzero_parity_pages += 1;
        }
    }
    assert!(stamped_sectors > 3_000, "{stamped_sectors}");
    assert!(nonzero_parity_pages > 300, "{nonzero_parity_pages}");

    // Destroy member 1 on the device itself.
    let garbage = vec![0x5Au8; MEMBER_BYTES as usize];
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(fixtures[1].path())
        .unwrap();
    file.write_all(&garbage).unwrap();
    file.sync_all().unwrap();
    drop(file);

    // Trusted, the destroyed member returns garbage (the test can tell)...
    let (trusting, _) = read_array(&fixtures, None);
    let wrong = expected
        .iter()
        .zip(&trusting)
        .filter(|(want, got)| want != got)
        .count();
    assert!(wrong > 1_000, "{wrong} sectors differ");
    assert!(trusting.contains(&SectorContent::Foreign));
    // ... failed, its data comes back exactly, computed from the others' bytes.
    let (degraded, reconstructions) = read_array(&fixtures, Some(1));
    for (sector, (want, got)) in expected.iter().zip(&degraded).enumerate() {
        assert_eq!(want, got, "array sector {sector}");
    }
    assert!(reconstructions > 100, "{reconstructions}");
}
