//! Event-queue throughput in a steady state: N events pending; each step pops the earliest
//! and schedules a replacement at a pseudo-random later time (the "hold" model of classic
//! priority-queue benchmarks). Reported as events per second at 1k and 64k pending, against a
//! bare `BinaryHeap<(u64, u64)>` doing the same work in the same run as the baseline.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dmsim_sim::event_queue::EventQueue;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const STEPS: u64 = 100_000;

fn next_delay(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x % 1_000_000
}

fn hold_event_queue(pending: usize) -> u64 {
    let mut q = EventQueue::new();
    let mut x = 0x1234_5678_9abc_def0u64;
    for i in 0..pending {
        q.schedule_at(next_delay(&mut x), i as u32);
    }
    let mut sum = 0u64;
    for _ in 0..STEPS {
        let (t, e) = q.pop().expect("steady state");
        sum = sum.wrapping_add(t ^ u64::from(e));
        q.schedule_at(t + next_delay(&mut x), e);
    }
    sum
}

fn hold_binary_heap(pending: usize) -> u64 {
    let mut q = BinaryHeap::new();
    let mut x = 0x1234_5678_9abc_def0u64;
    let mut seq = 0u64;
    for i in 0..pending {
        q.push(Reverse((next_delay(&mut x), seq, i as u32)));
        seq += 1;
    }
    let mut sum = 0u64;
    for _ in 0..STEPS {
        let Reverse((t, _, e)) = q.pop().expect("steady state");
        sum = sum.wrapping_add(t ^ u64::from(e));
        q.push(Reverse((t + next_delay(&mut x), seq, e)));
        seq += 1;
    }
    sum
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_queue_hold");
    group.throughput(Throughput::Elements(STEPS));
    group.sample_size(20);
    for pending in [1_000usize, 65_536] {
        group.bench_with_input(
            BenchmarkId::new("dmsim_event_queue", pending),
            &pending,
            |b, &p| b.iter(|| hold_event_queue(p)),
        );
        group.bench_with_input(
            BenchmarkId::new("baseline_binary_heap", pending),
            &pending,
            |b, &p| b.iter(|| hold_binary_heap(p)),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
