//! Closed-loop 4 KiB random reads through the engine's linear target on a real device, at
//! queue depth 1 and 32: IOPS of the whole stack (engine + RealPlatform), to compare with
//! `fio --ioengine=io_uring --direct=1` on the same device.
//!
//! `cargo bench -p dmsim-real --bench linear_qd` uses a 256 MiB loop device on tmpfs (a plain
//! file when not root). `DMSIM_BENCH_DEVICE=/dev/loopN` measures an existing device instead
//! (opened read-only); `DMSIM_BENCH_BACKEND=blocking` uses the blocking backend;
//! `DMSIM_BENCH_IOS` sets the reads per depth (default 200000); `DMSIM_BENCH_QD=1,32` the
//! queue depths; `DMSIM_BENCH_POLL_NS` how long a wait polls before it blocks (default
//! [`PlatformOptions::default`]'s; 0 blocks at once).

use dmsim_engine::{drive, DeviceId, DriveOptions, DriveOutcome, Engine, EngineConfig, TargetSpec};
use dmsim_real::closed_loop::ClosedLoopSource;
use dmsim_real::testing::{FixtureOptions, LoopDevice, Medium};
use dmsim_real::{BackendChoice, OpenOptions, PlatformOptions, RealDevice, RealPlatform};

fn main() {
    let fixture;
    let path = match std::env::var_os("DMSIM_BENCH_DEVICE") {
        Some(path) => std::path::PathBuf::from(path),
        None => {
            fixture = LoopDevice::create(FixtureOptions::new(256 << 20, Medium::Tmpfs))
                .expect("bench fixture");
            // Fill the device so reads are not of holes (tmpfs returns holes without work).
            std::fs::write(fixture.backing_file(), vec![0x5au8; 256 << 20]).expect("fill");
            println!(
                "device: {} ({:?})",
                fixture.path().display(),
                fixture.kind()
            );
            fixture.path().to_path_buf()
        }
    };
    let backend = match std::env::var("DMSIM_BENCH_BACKEND").as_deref() {
        Ok("blocking") => BackendChoice::Blocking,
        _ => BackendChoice::IoUring,
    };
    let ios: u64 = std::env::var("DMSIM_BENCH_IOS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(200_000);
    let depths: Vec<usize> = match std::env::var("DMSIM_BENCH_QD") {
        Ok(text) => text
            .split(',')
            .map(|depth| {
                depth
                    .trim()
                    .parse()
                    .expect("DMSIM_BENCH_QD: numbers, comma-separated")
            })
            .collect(),
        Err(_) => vec![1, 32],
    };
    let poll_before_block_ns = std::env::var("DMSIM_BENCH_POLL_NS")
        .ok()
        .map(|text| text.parse().expect("DMSIM_BENCH_POLL_NS: nanoseconds"))
        .unwrap_or(PlatformOptions::default().poll_before_block_ns);
    for depth in depths {
        let device = RealDevice::open(&path, OpenOptions::default()).expect("open device");
        let info = device.info();
        let mut engine = Engine::new(
            EngineConfig {
                arena_pages: 1024,
                plugging: None,
                ..EngineConfig::default()
            },
            vec![info],
            TargetSpec::Linear {
                device: DeviceId(0),
                offset_sectors: 0,
            },
        )
        .expect("engine");
        let mut platform = RealPlatform::new(
            vec![device],
            engine.arena_mut(),
            PlatformOptions {
                backend,
                poll_before_block_ns,
                ..PlatformOptions::default()
            },
        )
        .expect("platform");
        let reads = ClosedLoopSource::random_reads(ios, 8, info.capacity_sectors, depth as u64);
        let mut source = ClosedLoopSource::new(reads, depth, false);
        let started_ns = platform.now_ns();
        let report = drive(
            &mut engine,
            &mut platform,
            &mut source,
            &mut (),
            &DriveOptions::default(),
        )
        .expect("drive");
        let elapsed_ns = platform.now_ns() - started_ns;
        assert_eq!(report.outcome, DriveOutcome::Finished);
        assert_eq!(source.failed_count, 0);
        let stats = platform.stats();
        println!(
            "qd {depth:>2} {backend:?}: {ios} reads in {:.3} s = {:.0} IOPS ({} io_uring_enter, {} waits polled, {} blocked, {} poll pauses, {} fixed, {} vectored)",
            elapsed_ns as f64 / 1e9,
            ios as f64 * 1e9 / elapsed_ns as f64,
            stats.ring_enters,
            stats.polled_waits,
            stats.blocked_waits,
            stats.poll_pauses,
            stats.fixed_transfers,
            stats.vectored_transfers,
        );
    }
}
