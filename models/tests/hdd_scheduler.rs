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

/// Regression (found 2026-12-06 while giving `run --target linear` a spec): `dmsim run
/// --hdd-raid5 3xhdd-7200 --raid5-fail 1@200io --raid5-spare 300io --requests 600` stopped at
/// 340 of 600 requests forever. md's recovery streams member IO just ahead of the head;
/// SPTF (and C-LOOK) always preferred it to the workload's far random writes, which then
/// never completed, so md saw the array idle and never throttled the recovery: starvation
/// feeding itself. FCFS finished the run. Real drives bound a command's wait (NCQ aging), so
/// the queue serves its oldest command once it has waited `queue.max_wait_ns`.
///
/// The test keeps 16 sequential reads near the start of the disk in the queue (a new one as
/// each completes) and adds one read at the far end: it must complete within the bound plus
/// a generous service time, under every policy.
#[test]
fn a_far_command_is_served_within_the_wait_bound_while_a_near_stream_keeps_coming() {
    use dmsim_models::{ModelCompletion, ModelOp, ModelRequest, TimingModel};
    for scheduler in [
        SchedulerKind::Sptf,
        SchedulerKind::CLook,
        SchedulerKind::Sstf,
    ] {
        let params = with(&hdd_7200(), scheduler);
        let max_wait_ns = params.queue.max_wait_ns.expect("hdd-7200 bounds a wait");
        let mut model =
            HddModel::new(params, Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(1))).unwrap();
        let far_sector = model.capacity_sectors() - 4096;
        const FAR_TAG: u64 = u64::MAX;
        let mut next_sector = 0u64;
        let mut tag = 0u64;
        let mut now_ns = 0u64;
        let mut submit_near = |model: &mut HddModel, now_ns: u64| {
            model.submit(
                now_ns,
                ModelRequest {
                    tag,
                    op: ModelOp::Read,
                    sector: next_sector,
                    sectors: 8,
                    fua: false,
                },
            );
            tag += 1;
            next_sector += 8;
        };
        for _ in 0..16 {
            submit_near(&mut model, now_ns);
        }
        model.submit(
            now_ns,
            ModelRequest {
                tag: FAR_TAG,
                op: ModelOp::Read,
                sector: far_sector,
                sectors: 8,
                fua: false,
            },
        );
        let mut done: Vec<ModelCompletion> = Vec::new();
        let bound_ns = max_wait_ns + 1_000_000_000;
        let mut far_done_ns = None;
        // Bounded: at most a million completions.
        for _ in 0..1_000_000 {
            now_ns = model.next_event_ns().expect("the queue is never empty");
            done.clear();
            model.advance(now_ns, &mut done);
            for completion in &done {
                if completion.tag == FAR_TAG {
                    far_done_ns = Some(completion.done_ns);
                } else {
                    submit_near(&mut model, now_ns);
                }
            }
            if far_done_ns.is_some() || now_ns > bound_ns {
                break;
            }
        }
        let far_done_ns = far_done_ns.unwrap_or_else(|| {
            panic!("{scheduler:?}: the far read waited past {bound_ns} ns (now {now_ns} ns)")
        });
        assert!(
            far_done_ns <= bound_ns,
            "{scheduler:?}: the far read completed at {far_done_ns} ns"
        );
    }
}
