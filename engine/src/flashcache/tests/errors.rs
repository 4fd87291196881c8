//! Every row of spec 1.17's error table, in writethrough/writearound and writeback, with
//! device faults and with flashcache's one-shot injection flags.

use super::harness::{small_config, Fault, Harness};
use crate::block::{IoStatus, Op};
use crate::flashcache::config::{CacheMode, MdWriteFailure};
use crate::flashcache::inject::ErrorInjection;
use crate::flashcache::instance::{CacheInputError, Phase};
use crate::flashcache::io::{CacheRequest, Device, IoOp};
use crate::flashcache::state::BlockState;

fn harness(mode: CacheMode) -> Harness {
    Harness::new(small_config(mode))
}

fn fault(device: Device, op: IoOp) -> Fault {
    Fault {
        device,
        op,
        count: 1,
    }
}

fn cached_state(h: &Harness, dbn: u64) -> Option<BlockState> {
    h.fc.find_block(dbn).map(|index| h.fc.block(index).0)
}

// Row: READCACHE (SSD read of a hit) fails.

#[test]
fn readcache_error_writethrough_reissues_bio_and_queue_uncached() {
    let mut h = harness(CacheMode::WriteThrough);
    assert_eq!(h.io(Op::Write, 0, 8), IoStatus::Ok);
    h.faults.push(fault(Device::Ssd, IoOp::Read));
    let hit = h.submit(Op::Read, 0, 8);
    let queued = h.submit(Op::Read, 0, 8);
    h.settle();
    assert_eq!(h.status_of(hit), Some(IoStatus::Ok), "bio not failed");
    assert_eq!(h.status_of(queued), Some(IoStatus::Ok));
    assert_eq!(h.read_pages(hit), vec![1; 8]);
    assert_eq!(h.fc.errors().ssd_read_errors, 1);
    assert_eq!(h.fc.stats().uncached_reads, 2);
    assert!(
        h.fc.bypassing(),
        "a cache error switches writethrough to bypass"
    );
    assert_eq!(cached_state(&h, 0), None, "block invalidated");
    // Bypass: everything goes to the disk from now on, reads included.
    h.read_block(0);
    assert_eq!(h.fc.stats().uncached_reads, 3);
}

#[test]
fn readcache_error_writeback_fails_bio_and_queue_and_keeps_dirty_data() {
    let mut h = harness(CacheMode::WriteBack);
    h.read_block(8);
    h.fc.inject_errors(ErrorInjection::READCACHE_ERROR);
    let hit = h.submit(Op::Read, 8, 8);
    let queued = h.submit(Op::Read, 8, 8);
    h.settle();
    assert_eq!(h.status_of(hit), Some(IoStatus::IoError));
    assert_eq!(h.status_of(queued), Some(IoStatus::IoError));
    assert_eq!(cached_state(&h, 8), None, "a clean block is invalidated");
    assert!(!h.fc.bypassing(), "writeback never bypasses");
    // A dirty block is kept.
    assert_eq!(h.io(Op::Write, 16, 8), IoStatus::Ok);
    h.faults.push(fault(Device::Ssd, IoOp::Read));
    assert_eq!(h.io(Op::Read, 16, 8), IoStatus::IoError);
    assert_eq!(
        cached_state(&h, 16),
        Some(BlockState::VALID.union(BlockState::DIRTY))
    );
    assert_eq!(h.fc.errors().ssd_read_errors, 2);
    assert_eq!(
        h.read_block(16),
        vec![4; 8],
        "the dirty data is still served"
    );
}

// Row: READDISK (miss read) fails.

#[test]
fn readdisk_error_fails_bio_and_queue_in_every_mode() {
    for mode in [
        CacheMode::WriteThrough,
        CacheMode::WriteAround,
        CacheMode::WriteBack,
    ] {
        let mut h = harness(mode);
        h.faults.push(fault(Device::Disk, IoOp::Read));
        let miss = h.submit(Op::Read, 24, 8);
        let queued = h.submit(Op::Read, 24, 8);
        h.settle();
        assert_eq!(h.status_of(miss), Some(IoStatus::IoError), "{mode:?}");
        assert_eq!(h.status_of(queued), Some(IoStatus::IoError), "{mode:?}");
        assert_eq!(h.fc.errors().disk_read_errors, 1);
        assert_eq!(cached_state(&h, 24), None);
        // Even a disk error switches writethrough/writearound to bypass.
        assert_eq!(h.fc.bypassing(), mode != CacheMode::WriteBack, "{mode:?}");
    }
}

#[test]
fn injected_readdisk_error_does_not_switch_to_bypass() {
    let mut h = harness(CacheMode::WriteThrough);
    h.fc.inject_errors(ErrorInjection::READDISK_ERROR);
    assert_eq!(h.io(Op::Read, 24, 8), IoStatus::IoError);
    assert!(
        !h.fc.bypassing(),
        "flashcache tests bypass before injecting"
    );
    assert!(h.fc.armed_errors().is_empty(), "one-shot");
    assert_eq!(h.io(Op::Read, 24, 8), IoStatus::Ok);
}

// Row: READFILL (SSD fill write) fails.

#[test]
fn readfill_error_writethrough_reads_the_disk_again() {
    let mut h = harness(CacheMode::WriteAround);
    h.faults.push(fault(Device::Ssd, IoOp::Write));
    let read = h.submit(Op::Read, 32, 8);
    h.settle();
    assert_eq!(h.status_of(read), Some(IoStatus::Ok));
    assert_eq!(h.fc.errors().ssd_write_errors, 1);
    assert_eq!(h.fc.stats().disk_reads, 2, "second disk read, uncached");
    assert_eq!(cached_state(&h, 32), None);
}

#[test]
fn readfill_error_writeback_fails_the_bio_although_the_data_was_read() {
    let mut h = harness(CacheMode::WriteBack);
    h.fc.inject_errors(ErrorInjection::READFILL_ERROR);
    let read = h.submit(Op::Read, 32, 8);
    let queued = h.submit(Op::Read, 32, 8);
    h.settle();
    assert_eq!(h.status_of(read), Some(IoStatus::IoError));
    assert_eq!(h.status_of(queued), Some(IoStatus::IoError));
    assert_eq!(h.fc.errors().ssd_write_errors, 1);
    assert_eq!(cached_state(&h, 32), None);
}

// Row: WRITECACHE data write fails.

#[test]
fn writecache_error_writethrough_counts_both_and_fails() {
    let mut h = harness(CacheMode::WriteThrough);
    h.faults.push(fault(Device::Ssd, IoOp::Write));
    assert_eq!(h.io(Op::Write, 40, 8), IoStatus::IoError);
    let errors = h.fc.errors().clone();
    assert_eq!((errors.ssd_write_errors, errors.disk_write_errors), (1, 1));
    assert_eq!(cached_state(&h, 40), None);
    assert!(h.fc.bypassing());
}

#[test]
fn writecache_error_writeback_invalidates_clean_keeps_dirty() {
    let mut h = harness(CacheMode::WriteBack);
    h.fc.inject_errors(ErrorInjection::WRITECACHE_ERROR);
    assert_eq!(h.io(Op::Write, 48, 8), IoStatus::IoError);
    assert_eq!(cached_state(&h, 48), None, "was clean: invalidated");
    assert_eq!(h.io(Op::Write, 56, 8), IoStatus::Ok);
    h.faults.push(fault(Device::Ssd, IoOp::Write));
    assert_eq!(h.io(Op::Write, 56, 8), IoStatus::IoError);
    assert_eq!(
        cached_state(&h, 56),
        Some(BlockState::VALID.union(BlockState::DIRTY)),
        "was dirty: kept (possibly torn)"
    );
    assert_eq!(h.fc.errors().ssd_write_errors, 2);
}

// Row: metadata write (dirtying) fails — Decision 8.

#[test]
fn md_dirty_write_failure_fails_the_write_and_invalidates() {
    let mut h = harness(CacheMode::WriteBack);
    h.fc.inject_errors(ErrorInjection::WRITECACHE_MD_ERROR);
    let write = h.submit(Op::Write, 64, 8);
    let queued = h.submit(Op::Read, 64, 8);
    h.settle();
    assert_eq!(h.status_of(write), Some(IoStatus::IoError));
    assert_eq!(h.status_of(queued), Some(IoStatus::IoError));
    assert_eq!(h.fc.errors().ssd_write_errors, 1);
    assert_eq!(cached_state(&h, 64), None);
    assert_eq!(h.fc.gauges().nr_dirty, 0);
    assert_eq!(
        h.read_block(64),
        vec![0; 8],
        "the disk holds the last acknowledged data"
    );
}

#[test]
fn md_dirty_write_failure_panics_when_faithful() {
    let mut config = small_config(CacheMode::WriteBack);
    config.options.md_write_failure = MdWriteFailure::Panic;
    let mut h = Harness::new(config);
    h.check_invariants = false;
    // A real device error on the metadata write this time.
    let write = h.submit(Op::Write, 64, 8);
    h.complete_at(0);
    h.faults.push(fault(Device::Ssd, IoOp::Write));
    h.settle();
    assert_eq!(
        h.status_of(write),
        Some(IoStatus::IoError),
        "bio ended before the VERIFY"
    );
    assert!(matches!(h.fc.phase(), Phase::Halted(_)));
    let bio = crate::flashcache::io::CacheBio {
        id: crate::flashcache::io::CacheBioId(77),
        op: Op::Read,
        sector: 0,
        sectors: 8,
        pid: 1,
        tgid: 1,
    };
    assert!(matches!(
        h.fc.map(bio, 0),
        Err(CacheInputError::Halted { .. })
    ));
}

// Row: kcopyd cleaning copy fails (Decision 9: retried and counted).

#[test]
fn cleaning_copy_failure_keeps_dirty_fails_queue_and_is_retried() {
    for (device, op) in [(Device::Disk, IoOp::Write), (Device::Ssd, IoOp::Read)] {
        let mut h = harness(CacheMode::WriteBack);
        assert_eq!(h.io(Op::Write, 72, 8), IoStatus::Ok);
        h.faults.push(fault(device, op));
        // A partial write queues on the dirty block and starts its cleaning.
        let partial = h.submit(Op::Write, 72, 1);
        h.settle();
        assert_eq!(h.status_of(partial), Some(IoStatus::IoError));
        assert_eq!(
            cached_state(&h, 72),
            Some(BlockState::VALID.union(BlockState::DIRTY))
        );
        let errors = h.fc.errors().clone();
        if device == Device::Disk {
            assert_eq!(errors.disk_write_errors, 1);
        } else {
            assert_eq!(errors.ssd_read_errors, 1);
        }
        assert_eq!(h.fc.stats().cleanings, 1);
        // A later pass retries the block and succeeds.
        h.fc.do_sync(h.now_ns).expect("writeback");
        h.collect();
        h.settle();
        assert_eq!(h.fc.stats().clean_retries, 1);
        assert_eq!(h.fc.gauges().nr_dirty, 0);
        assert_eq!(h.disk.version(72), 1);
    }
}

#[test]
fn injected_kcopyd_callback_error_counts_an_ssd_read_error() {
    let mut h = harness(CacheMode::WriteBack);
    assert_eq!(h.io(Op::Write, 72, 8), IoStatus::Ok);
    h.fc.inject_errors(ErrorInjection::KCOPYD_CALLBACK_ERROR);
    assert_eq!(h.io(Op::Read, 72, 2), IoStatus::IoError);
    assert_eq!(h.fc.errors().ssd_read_errors, 1);
    assert_eq!(h.fc.gauges().nr_dirty, 1);
}

// Row: metadata write (cleaning) fails.

#[test]
fn md_clean_write_failure_keeps_dirty_and_fails_queue() {
    let mut h = harness(CacheMode::WriteBack);
    assert_eq!(h.io(Op::Write, 80, 8), IoStatus::Ok);
    h.fc.inject_errors(ErrorInjection::WRITEDISK_MD_ERROR);
    assert_eq!(h.io(Op::Read, 80, 4), IoStatus::IoError);
    assert_eq!(
        cached_state(&h, 80),
        Some(BlockState::VALID.union(BlockState::DIRTY))
    );
    assert_eq!(h.fc.errors().ssd_write_errors, 1);
    assert_eq!(h.fc.stats().md_write_clean, 0);
}

// Row: uncached disk IO fails.

#[test]
fn uncached_disk_errors_are_counted_and_returned() {
    for mode in [CacheMode::WriteAround, CacheMode::WriteBack] {
        let mut h = harness(mode);
        h.faults.push(fault(Device::Disk, IoOp::Write));
        assert_eq!(h.io(Op::Write, 88, 3), IoStatus::IoError);
        assert_eq!(h.fc.errors().disk_write_errors, 1);
        h.faults.push(fault(Device::Disk, IoOp::Read));
        assert_eq!(h.io(Op::Read, 88, 3), IoStatus::IoError);
        assert_eq!(h.fc.errors().disk_read_errors, 1);
        assert!(!h.fc.bypassing(), "uncached errors do not bypass");
    }
}

// Row: job / pending job / page allocation fails (injection flags).

/// An armed flag and the IO that trips it.
type AllocationCase<'a> = (ErrorInjection, &'a dyn Fn(&mut Harness) -> IoStatus);

#[test]
fn allocation_failures_fail_the_bio_and_count() {
    let cases: &[AllocationCase] = &[
        (ErrorInjection::READ_MISS_JOB_ALLOC_FAIL, &|h| {
            h.io(Op::Read, 0, 8)
        }),
        (ErrorInjection::READ_HIT_JOB_ALLOC_FAIL, &|h| {
            h.read_block(0);
            h.fc.inject_errors(ErrorInjection::READ_HIT_JOB_ALLOC_FAIL);
            h.io(Op::Read, 0, 8)
        }),
        (ErrorInjection::INVAL_PENDING_JOB_ALLOC_FAIL, &|h| {
            h.io(Op::Write, 0, 4)
        }),
        (ErrorInjection::WRITE_MISS_JOB_ALLOC_FAIL, &|h| {
            h.io(Op::Write, 0, 8)
        }),
        (ErrorInjection::WRITE_HIT_JOB_ALLOC_FAIL, &|h| {
            h.read_block(0);
            h.fc.inject_errors(ErrorInjection::WRITE_HIT_JOB_ALLOC_FAIL);
            h.io(Op::Write, 0, 8)
        }),
        (ErrorInjection::MD_ALLOC_SECTOR_ERROR, &|h| {
            h.io(Op::Write, 0, 8)
        }),
    ];
    for (flag, run) in cases {
        let mut h = harness(CacheMode::WriteBack);
        h.fc.inject_errors(*flag);
        assert_eq!(run(&mut h), IoStatus::IoError, "{:?}", flag.name());
        assert_eq!(h.fc.errors().memory_alloc_errors, 1, "{:?}", flag.name());
        assert!(h.fc.armed_errors().is_empty());
        h.fc.check_invariants();
        assert!(h.fc.is_idle());
    }
}

#[test]
fn pending_job_allocation_failures_fail_the_queued_bio() {
    for (flag, op) in [
        (ErrorInjection::READ_HIT_PENDING_JOB_ALLOC_FAIL, Op::Read),
        (ErrorInjection::WRITE_HIT_PENDING_JOB_ALLOC_FAIL, Op::Write),
    ] {
        let mut h = harness(CacheMode::WriteBack);
        let first = h.submit(Op::Read, 0, 8);
        h.fc.inject_errors(flag);
        let second = h.submit(op, 0, 8);
        assert_eq!(h.status_of(second), Some(IoStatus::IoError));
        h.settle();
        assert_eq!(h.status_of(first), Some(IoStatus::Ok));
        assert_eq!(h.fc.errors().memory_alloc_errors, 1);
    }
}

#[test]
fn writeback_job_and_writes_list_allocation_failures_skip_cleaning() {
    let mut h = harness(CacheMode::WriteBack);
    assert_eq!(h.io(Op::Write, 0, 8), IoStatus::Ok);
    h.fc.inject_errors(ErrorInjection::DIRTY_WRITEBACK_JOB_ALLOC_FAIL);
    // The partial read queues on the dirty block; its cleaning cannot start: it fails.
    assert_eq!(h.io(Op::Read, 0, 4), IoStatus::IoError);
    assert_eq!(h.fc.gauges().nr_dirty, 1);
    h.fc.inject_errors(ErrorInjection::WRITES_LIST_ALLOC_FAIL);
    h.fc.do_sync(h.now_ns).expect("writeback");
    h.collect();
    assert!(
        h.outstanding().is_empty(),
        "the sync pass had no scratch list"
    );
    assert_eq!(h.fc.errors().memory_alloc_errors, 2);
}

// Decision 12: SSD timeouts are cache errors.

#[test]
fn ssd_requests_carry_the_timeout_and_a_timeout_is_a_cache_error() {
    let mut config = small_config(CacheMode::WriteThrough);
    config.options.ssd_timeout_ns = Some(3_000_000);
    let mut h = Harness::new(config);
    assert_eq!(h.io(Op::Write, 96, 8), IoStatus::Ok);
    let read = h.submit(Op::Read, 96, 8);
    let Some(CacheRequest::DmIo(io)) = h.outstanding().first().copied() else {
        panic!("expected the SSD read");
    };
    assert_eq!(io.timeout_ns, Some(3_000_000));
    // The executor reports the timed-out region as failed.
    h.faults.push(fault(Device::Ssd, IoOp::Read));
    h.settle();
    assert_eq!(
        h.status_of(read),
        Some(IoStatus::Ok),
        "served from the disk"
    );
    assert!(h.fc.bypassing());
    let disk_only = h.count_log(|r| {
        matches!(r, CacheRequest::DmIo(io) if io.regions.as_slice().iter().all(|r| r.device == Device::Disk)
            && io.timeout_ns.is_some())
    });
    assert_eq!(disk_only, 0, "disk IO is never timed");
}
