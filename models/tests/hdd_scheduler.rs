//! Queue depth changes throughput as on a disk: positional schedulers (SSTF, C-LOOK, SPTF)
//! beat FCFS at queue depth 32, and FCFS gains nothing from depth.

use dmsim_models::hdd::{hdd_15k, hdd_7200, HddModel, HddParams, SchedulerKind};
use dmsim_models::probe::{run, Pattern, ProbeResult, ProbeSpec};
use rand_chacha::rand_core::SeedableRng;

fn probe(p: &HddParams, qd: u32) -> ProbeResult {
    let mut m = HddModel::new(
        p.clone(),
        Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(1)),
    )
    .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    run(
        &mut m,
        &ProbeSpec {
            pattern: Pattern::RandRead,
            block_bytes: 4096,
            queue_depth: qd,
            warmup_requests: 200,
            measured_requests: 2000,
            span_sectors: None,
        },
        &mut rng,
        0,
    )
}

fn with(p: &HddParams, scheduler: SchedulerKind) -> HddParams {
    let mut p = p.clone();
    p.queue.scheduler = scheduler;
    p.queue.depth = 32;
    p
}

#[test]
fn positional_schedulers_beat_fcfs_at_queue_depth_32() {
    for base in [hdd_7200(), hdd_15k()] {
        let fcfs = probe(&with(&base, SchedulerKind::Fcfs), 32).iops;
        let sstf = probe(&with(&base, SchedulerKind::Sstf), 32).iops;
        let clook = probe(&with(&base, SchedulerKind::CLook), 32).iops;
        let sptf = probe(&with(&base, SchedulerKind::Sptf), 32).iops;
        assert!(sstf > 1.4 * fcfs, "SSTF {sstf} vs FCFS {fcfs}");
        assert!(clook > 1.4 * fcfs, "C-LOOK {clook} vs FCFS {fcfs}");
        assert!(sptf > 1.1 * sstf, "SPTF {sptf} vs SSTF {sstf}");
        // FCFS at depth 32 is no better than one at a time.
        let qd1 = probe(&with(&base, SchedulerKind::Fcfs), 1).iops;
        assert!((fcfs - qd1).abs() / qd1 < 0.1, "FCFS {fcfs} vs QD1 {qd1}");
    }
}

#[test]
fn throughput_grows_with_queue_depth_under_sptf() {
    let p = hdd_7200();
    let iops: Vec<f64> = [1, 4, 16, 32]
        .iter()
        .map(|&qd| probe(&p, qd).iops)
        .collect();
    for w in iops.windows(2) {
        assert!(w[1] > w[0], "IOPS by depth {iops:?}");
    }
    assert!(iops[3] > 1.8 * iops[0], "{iops:?}");
}

#[test]
fn queue_depth_one_makes_the_scheduler_irrelevant() {
    let mut p = with(&hdd_7200(), SchedulerKind::Sptf);
    p.queue.depth = 1;
    let a = probe(&p, 32);
    p.queue.scheduler = SchedulerKind::Fcfs;
    let b = probe(&p, 32);
    assert_eq!(a, b);
}
