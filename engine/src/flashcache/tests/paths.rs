//! Read and write paths of the four cache modes (spec 1.7–1.10, 1.13).

use super::harness::{is_io, is_md_write, small_config, Harness};
use crate::block::{IoStatus, Op};
use crate::flashcache::config::{CacheMode, Tunable};
use crate::flashcache::io::{CacheRequest, Device, IoOp};
use crate::flashcache::seq::PidList;
use crate::flashcache::state::BlockState;

fn writeback() -> Harness {
    Harness::new(small_config(CacheMode::WriteBack))
}

#[test]
fn writeback_read_miss_fills_then_hits() {
    let mut h = writeback();
    assert_eq!(h.read_block(64), vec![0; 8]);
    let index = h.fc.find_block(64).expect("filled");
    assert_eq!(h.fc.block(index), (BlockState::VALID, 64));
    // A miss is a disk read then an SSD write of the same pages.
    assert_eq!(h.count_log(|r| is_io(r, Device::Disk, IoOp::Read)), 1);
    assert_eq!(h.count_log(|r| is_io(r, Device::Ssd, IoOp::Write)), 1);
    h.read_block(64);
    let stats = h.fc.stats().clone();
    assert_eq!((stats.reads, stats.read_hits), (2, 1));
    assert_eq!(
        (stats.disk_reads, stats.ssd_reads, stats.ssd_writes),
        (1, 1, 1)
    );
    assert_eq!(h.fc.gauges().cached_blocks, 1);
    assert_eq!(h.count_log(is_md_write), 0, "fills write no metadata");
}

#[test]
fn writeback_write_miss_completes_after_the_metadata_write() {
    let mut h = writeback();
    let write = h.submit(Op::Write, 800, 8);
    // Only the data write is out; the bio is not complete.
    assert_eq!(h.outstanding().len(), 1);
    h.complete_at(0);
    assert_eq!(h.status_of(write), None, "waits for the md write");
    h.settle();
    assert_eq!(h.status_of(write), Some(IoStatus::Ok));
    let index = h.fc.find_block(800).expect("cached");
    assert_eq!(
        h.fc.block(index).0,
        BlockState::VALID.union(BlockState::DIRTY)
    );
    let stats = h.fc.stats().clone();
    assert_eq!(
        (stats.md_write_dirty, stats.md_ssd_writes, stats.ssd_writes),
        (1, 1, 2)
    );
    assert_eq!(h.fc.gauges().nr_dirty, 1);
    // Re-dirtying: a write hit on a dirty block writes no metadata.
    assert_eq!(h.io(Op::Write, 800, 8), IoStatus::Ok);
    let stats = h.fc.stats().clone();
    assert_eq!(
        (
            stats.write_hits,
            stats.dirty_write_hits,
            stats.md_ssd_writes
        ),
        (1, 1, 1)
    );
    assert_eq!(h.read_block(800), vec![2; 8]);
    // The disk still has nothing: the data is dirty in the cache.
    assert_eq!(h.disk.version(800), 0);
}

#[test]
fn writethrough_writes_both_devices_in_one_dm_io() {
    let mut h = Harness::new(small_config(CacheMode::WriteThrough));
    assert_eq!(h.fc.geometry().data_start_sector(), 0);
    assert_eq!(h.io(Op::Write, 4096, 8), IoStatus::Ok);
    let two_region = h.count_log(|r| {
        matches!(r, CacheRequest::DmIo(io) if io.op == IoOp::Write && io.regions.as_slice().len() == 2
            && io.regions.as_slice()[0].device == Device::Disk
            && io.regions.as_slice()[1].device == Device::Ssd)
    });
    assert_eq!(two_region, 1);
    assert_eq!(h.disk.version(4096), 1);
    let index = h.fc.find_block(4096).expect("cached");
    assert_eq!(h.fc.block(index).0, BlockState::VALID);
    // Write miss counts only ssd_writes (quirk); a write hit counts disk_writes too.
    assert_eq!((h.fc.stats().ssd_writes, h.fc.stats().disk_writes), (1, 0));
    assert_eq!(h.io(Op::Write, 4096, 8), IoStatus::Ok);
    assert_eq!((h.fc.stats().ssd_writes, h.fc.stats().disk_writes), (2, 1));
    assert_eq!(h.fc.gauges().nr_dirty, 0);
    assert_eq!(h.read_block(4096), vec![2; 8]);
    assert_eq!(h.fc.stats().read_hits, 1);
    assert_eq!(h.count_log(is_md_write), 0);
}

#[test]
fn writearound_sends_writes_to_disk_and_invalidates() {
    let mut h = Harness::new(small_config(CacheMode::WriteAround));
    h.read_block(16);
    assert!(h.fc.find_block(16).is_some(), "reads fill");
    assert_eq!(h.io(Op::Write, 16, 8), IoStatus::Ok);
    assert!(
        h.fc.find_block(16).is_none(),
        "the write invalidated the block"
    );
    let stats = h.fc.stats().clone();
    assert_eq!((stats.uncached_writes, stats.wr_invalidates), (1, 1));
    assert_eq!(h.read_block(16), vec![2; 8]);
}

#[test]
fn write_only_cache_never_fills_on_read() {
    let mut config = small_config(CacheMode::WriteBack);
    config.table.write_only = true;
    let mut h = Harness::new(config);
    h.read_block(0);
    assert!(h.fc.find_block(0).is_none());
    assert_eq!(h.fc.stats().uncached_reads, 1);
    assert_eq!(h.io(Op::Write, 0, 8), IoStatus::Ok);
    assert!(h.fc.find_block(0).is_some());
    h.read_block(0);
    assert_eq!(h.fc.stats().read_hits, 1, "reads still hit written blocks");
    assert!(h.fc.status().render_table().contains("WRITE_CACHE"));
}

#[test]
fn partial_write_on_clean_block_invalidates_and_goes_to_disk() {
    let mut h = writeback();
    h.read_block(24);
    assert_eq!(h.io(Op::Write, 26, 2), IoStatus::Ok);
    assert!(h.fc.find_block(24).is_none());
    assert_eq!(h.fc.stats().uncached_writes, 1);
    assert_eq!(h.read_block(24), vec![0, 0, 2, 2, 0, 0, 0, 0]);
}

#[test]
fn partial_write_on_dirty_block_cleans_first() {
    let mut h = writeback();
    assert_eq!(h.io(Op::Write, 24, 8), IoStatus::Ok);
    assert_eq!(h.io(Op::Write, 30, 1), IoStatus::Ok);
    // The dirty block was written back, invalidated, then the partial write hit the disk.
    assert!(h.fc.find_block(24).is_none());
    assert_eq!(h.fc.stats().cleanings, 1);
    assert_eq!(h.fc.stats().enqueues, 1);
    assert_eq!(h.read_block(24), vec![1, 1, 1, 1, 1, 1, 2, 1]);
    assert_eq!(h.fc.gauges().nr_dirty, 0);
}

#[test]
fn flush_and_discard_are_faithful_by_default_and_options_change_them() {
    let mut h = writeback();
    let flush = h.submit(Op::Flush, 0, 0);
    assert_eq!(h.status_of(flush), Some(IoStatus::Ok));
    assert!(
        h.outstanding().is_empty(),
        "faithful flushes reach no device"
    );
    let discard = h.submit(Op::Discard, 0, 8);
    assert_eq!(h.status_of(discard), Some(IoStatus::NotSupported));

    let mut config = small_config(CacheMode::WriteBack);
    config.options.honor_flush = true;
    config.options.discard = true;
    let mut h = Harness::new(config);
    assert_eq!(h.io(Op::Write, 40, 8), IoStatus::Ok);
    let flush = h.submit(Op::Flush, 0, 0);
    assert_eq!(h.status_of(flush), None);
    assert_eq!(h.count_log(|r| is_io(r, Device::Ssd, IoOp::Flush)), 1);
    h.settle();
    assert_eq!(h.status_of(flush), Some(IoStatus::Ok));
    // A whole-block discard of a dirty block cleans it first (regression 023: its slot
    // says DIRTY on the SSD until then), then invalidates it and discards the disk.
    assert_eq!(h.io(Op::Discard, 40, 8), IoStatus::Ok);
    assert!(h.fc.find_block(40).is_none());
    assert_eq!(h.fc.gauges().nr_dirty, 0);
    assert_eq!(h.fc.stats().cleanings, 1);
    assert_eq!(h.fc.stats().trim_blocks, 0);
    assert_eq!(h.count_log(|r| is_io(r, Device::Disk, IoOp::Discard)), 1);
    // A clean one is dropped at once, without cleaning.
    h.read_block(48);
    assert!(h.fc.find_block(48).is_some());
    assert_eq!(h.io(Op::Discard, 48, 8), IoStatus::Ok);
    assert!(h.fc.find_block(48).is_none());
    assert_eq!(h.fc.stats().cleanings, 1);
    assert_eq!(h.fc.stats().trim_blocks, 1);
    assert_eq!(h.count_log(|r| is_io(r, Device::Disk, IoOp::Discard)), 2);
}

#[test]
fn sequential_writes_past_the_threshold_bypass_the_cache() {
    let mut h = writeback();
    h.fc.set_tunable(Tunable::SkipSeqThreshKb(16))
        .expect("registered");
    // Start away from sector 0: the tracker's initial flows all sit at sector 0.
    let base = 65_536u64;
    for block in 0..6u64 {
        assert_eq!(h.io(Op::Write, base + 8 * block, 8), IoStatus::Ok);
    }
    // Blocks 0..4 are cached; the 5th and 6th of the run (20 KiB, 24 KiB) are not.
    assert!(h.fc.find_block(base + 24).is_some());
    assert!(h.fc.find_block(base + 32).is_none());
    assert!(h.fc.find_block(base + 40).is_none());
    assert_eq!(h.fc.stats().uncached_sequential_writes, 2);
    assert_eq!(h.fc.stats().uncached_writes, 2);
}

#[test]
fn blacklisted_pid_writes_bypass_but_its_reads_hit() {
    let mut h = writeback();
    h.read_block(8);
    h.fc.add_pid(PidList::Blacklist, 7, h.now_ns);
    let write = h.submit_as(Op::Write, 8, 8, 7, 7);
    h.settle();
    assert_eq!(h.status_of(write), Some(IoStatus::Ok));
    assert!(
        h.fc.find_block(8).is_none(),
        "uncacheable write invalidated the block"
    );
    assert_eq!(h.fc.stats().uncached_writes, 1);
    h.read_block(8);
    let read = h.submit_as(Op::Read, 8, 8, 7, 7);
    h.settle();
    assert_eq!(h.read_pages(read), vec![2; 8]);
    assert_eq!(
        h.fc.stats().read_hits,
        1,
        "reads are not pre-filtered by pid"
    );
    assert_eq!(h.fc.pid_list_len(PidList::Blacklist), 1);
}

#[test]
fn status_reports_and_renders_live_counters() {
    let mut h = writeback();
    h.io(Op::Write, 0, 8);
    h.read_block(0);
    let report = h.fc.status();
    assert_eq!(report.stats.writes, 1);
    assert_eq!(report.gauges.nr_dirty, 1);
    assert!(report.render_status().contains("metadata dirties(1)"));
    assert!(report.render_table().contains("dirty blocks(1)"));
    assert!(report.render_table().contains("Size Hist: 4096:2 "));
    let json = serde_json::to_string(&report).expect("serialises");
    assert!(json.contains("\"md_write_dirty\":1"));
}

#[test]
fn bios_that_straddle_blocks_are_refused() {
    let mut h = writeback();
    let bio = crate::flashcache::io::CacheBio {
        id: crate::flashcache::io::CacheBioId(999),
        op: Op::Read,
        sector: 6,
        sectors: 4,
        pid: 1,
        tgid: 1,
    };
    assert!(matches!(
        h.fc.map(bio, 0),
        Err(crate::flashcache::instance::CacheInputError::BioShape { .. })
    ));
    assert!(h.fc.poll_request().is_none());
}

#[test]
fn latency_histogram_records_bio_latency_when_enabled() {
    let mut h = writeback();
    h.fc.set_tunable(Tunable::IoLatencyHist(true))
        .expect("sysctl");
    let read = h.submit(Op::Read, 0, 8);
    h.now_ns += 600_000;
    h.settle();
    assert_eq!(h.status_of(read), Some(IoStatus::Ok));
    let report = h.fc.status();
    assert_eq!(
        report.histograms.latency_hist[2], 1,
        "600 µs lands in 500..750"
    );
    assert!(report.render_status().contains("< 750\tusecs : 1"));
}
