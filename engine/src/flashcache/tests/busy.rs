//! IO arriving on busy blocks (spec 1.12) and uncached IO re-invalidation (spec 1.13).

use super::harness::{small_config, Harness};
use crate::block::{IoStatus, Op};
use crate::flashcache::config::CacheMode;
use crate::flashcache::io::CacheRequest;

fn writeback() -> Harness {
    Harness::new(small_config(CacheMode::WriteBack))
}

#[test]
fn read_behind_a_fill_is_queued_and_served_uncached() {
    let mut h = writeback();
    let first = h.submit(Op::Read, 0, 8);
    let second = h.submit(Op::Read, 0, 8);
    assert_eq!(h.fc.stats().enqueues, 1, "the block is busy filling");
    assert_eq!(h.fc.gauges().nr_queued, 1);
    h.settle();
    assert_eq!(h.status_of(first), Some(IoStatus::Ok));
    assert_eq!(h.status_of(second), Some(IoStatus::Ok));
    let stats = h.fc.stats().clone();
    // The queued read is not a hit: it costs the cached copy and goes to the disk.
    assert_eq!(stats.read_hits, 0);
    assert_eq!(stats.pending_inval, 1);
    assert_eq!(stats.uncached_reads, 1);
    assert!(h.fc.find_block(0).is_none());
    assert_eq!(h.fc.gauges().cached_blocks, 0);
}

#[test]
fn write_behind_a_cleaning_goes_to_disk_after_the_clean() {
    let mut h = writeback();
    assert_eq!(h.io(Op::Write, 8, 8), IoStatus::Ok);
    h.fc.do_sync(h.now_ns).expect("writeback");
    h.collect();
    assert!(h
        .outstanding()
        .iter()
        .any(|r| matches!(r, CacheRequest::KcopydCopy(_))));
    let write = h.submit(Op::Write, 8, 8);
    assert_eq!(h.fc.stats().enqueues, 1);
    h.settle();
    assert_eq!(h.status_of(write), Some(IoStatus::Ok));
    assert_eq!(h.fc.stats().cleanings, 1);
    assert_eq!(h.fc.stats().md_write_clean, 1);
    assert!(h.fc.find_block(8).is_none(), "dropped after the clean");
    assert_eq!(h.disk.version(8), 2, "the queued write went to the disk");
    assert_eq!(h.read_block(8), vec![2; 8]);
}

#[test]
fn partial_read_on_a_dirty_block_cleans_then_reads_the_disk() {
    let mut h = writeback();
    assert_eq!(h.io(Op::Write, 16, 8), IoStatus::Ok);
    let read = h.submit(Op::Read, 18, 2);
    assert_eq!(h.fc.stats().rd_invalidates, 1);
    h.settle();
    assert_eq!(h.status_of(read), Some(IoStatus::Ok));
    assert_eq!(h.read_pages(read), vec![1, 1]);
    assert_eq!(h.fc.stats().cleanings, 1);
    assert_eq!(h.fc.stats().uncached_reads, 1);
    assert!(h.fc.find_block(16).is_none());
}

#[test]
fn write_during_a_read_fill_is_queued_then_uncached() {
    let mut h = writeback();
    let read = h.submit(Op::Read, 32, 8);
    let write = h.submit(Op::Write, 32, 8);
    h.settle();
    assert_eq!(h.status_of(read), Some(IoStatus::Ok));
    assert_eq!(h.status_of(write), Some(IoStatus::Ok));
    assert_eq!(h.fc.stats().uncached_writes, 1);
    assert_eq!(h.fc.stats().write_hits, 0, "a queued write is not a hit");
    assert_eq!(h.read_block(32), vec![2; 8]);
}

#[test]
fn uncached_io_racing_a_cacheable_write_is_requeued_and_run_again() {
    let mut h = writeback();
    // A partial write goes uncached; a full write to the same block is cached meanwhile.
    let partial = h.submit(Op::Write, 40, 2);
    let full = h.submit(Op::Write, 40, 8);
    assert_eq!(h.outstanding().len(), 2);
    h.settle();
    assert_eq!(h.status_of(partial), Some(IoStatus::Ok));
    assert_eq!(h.status_of(full), Some(IoStatus::Ok));
    let stats = h.fc.stats().clone();
    assert_eq!(stats.uncached_io_requeue, 1);
    // Executed twice, around the cleaning of the full write's block.
    assert_eq!(stats.uncached_writes, 2);
    assert_eq!(stats.cleanings, 1);
    assert!(h.fc.find_block(40).is_none());
    assert_eq!(h.read_block(40), vec![1, 1, 2, 2, 2, 2, 2, 2]);
}

#[test]
fn hits_on_an_idle_block_with_nothing_queued_are_served_from_the_ssd() {
    let mut h = writeback();
    h.read_block(48);
    let a = h.submit(Op::Read, 48, 8);
    // The hit makes the block busy: a second read queues behind it.
    let b = h.submit(Op::Read, 48, 8);
    h.settle();
    assert_eq!(
        (h.status_of(a), h.status_of(b)),
        (Some(IoStatus::Ok), Some(IoStatus::Ok))
    );
    assert_eq!(h.fc.stats().read_hits, 1);
    assert_eq!(h.fc.stats().pending_inval, 1);
}

#[test]
fn completions_of_unknown_or_finished_requests_are_refused() {
    use crate::flashcache::instance::CacheInputError;
    use crate::flashcache::io::{CacheIoTag, DmIoOutcome};
    let mut h = writeback();
    h.submit(Op::Read, 0, 8);
    let Some(CacheRequest::DmIo(io)) = h.outstanding().first().copied() else {
        panic!("disk read expected");
    };
    h.settle();
    // The job moved on (or finished): a second completion of that request is refused.
    assert_eq!(
        h.fc.complete_dm_io(io.tag, DmIoOutcome::OK, 0),
        Err(CacheInputError::UnknownTag { tag: io.tag })
    );
    assert!(h.fc.complete_kcopyd(io.tag, false, 0, 0).is_err());
    assert!(h
        .fc
        .complete_dm_io(CacheIoTag::Bulk(3), DmIoOutcome::OK, 0)
        .is_err());
    h.fc.check_invariants();
}
