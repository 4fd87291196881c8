//! The `ssd-nvme` and `ssd-sata` presets against the figures they claim, and preset plumbing
//! (registry, overrides by dotted path, memory of the mapping tables).

mod ssd_support;

use dmsim_models::presets::{find, DeviceParams};
use dmsim_models::probe::Pattern;
use dmsim_models::ssd::{presets, SsdModel};
use dmsim_models::{ModelOp, TimingModel};
use rand_chacha::rand_core::SeedableRng;
use ssd_support::*;

#[test]
fn every_ssd_preset_is_registered_validates_and_names_its_source() {
    for (info, params) in presets::presets() {
        params
            .validate()
            .unwrap_or_else(|e| panic!("{}: {e}", info.name));
        assert!(!info.source.is_empty());
        assert_eq!(find(info.name).unwrap(), DeviceParams::Ssd(params));
    }
    let names: Vec<&str> = presets::presets().iter().map(|(i, _)| i.name).collect();
    assert_eq!(names, ["ssd-sata", "ssd-nvme", "ssd-mqsim-default"]);
}

#[test]
fn overrides_reach_the_model_by_dotted_path() {
    let mut p = find("ssd-mqsim-default").unwrap();
    p.set("flash.page_read_ns", "25000").unwrap();
    p.set("write_buffer.enabled", "false").unwrap();
    let DeviceParams::Ssd(params) = &p else {
        panic!("not an ssd")
    };
    assert_eq!(params.flash.page_read_ns, 25_000);
    let mut m = p.build(Box::new(NoRandom)).unwrap();
    assert!(!m.volatile_write_cache());
    m.submit(0, request(1, ModelOp::Read, 0, 8, false));
    assert!(m.next_event_ns().is_some());
    let err = p.set("flash.page_read_us", "25").unwrap_err().to_string();
    assert!(err.contains("page_read_ns"), "{err}");
    // Accepted by serde, refused by validation when the model is built.
    p.set("ftl.overprovisioning", "0.01").unwrap();
    let DeviceParams::Ssd(params) = &p else {
        panic!("not an ssd")
    };
    assert!(SsdModel::new(params.clone(), Box::new(NoRandom)).is_err());
}

#[test]
fn a_mapping_entry_must_fit_a_translation_page() {
    let DeviceParams::Ssd(mut params) = find("ssd-mqsim-default").unwrap() else {
        panic!("not an ssd")
    };
    // MQSim's 3 bytes per 4 KiB unit do not divide the 8 KiB page; that is allowed.
    assert_eq!(params.mapping_cache.entry_bytes, 3);
    assert!(SsdModel::new(params.clone(), Box::new(NoRandom)).is_ok());
    params.mapping_cache.entry_bytes = params.geometry.page_bytes + 1;
    let err = SsdModel::new(params, Box::new(NoRandom))
        .err()
        .expect("an entry larger than a page is refused")
        .to_string();
    assert!(err.contains("mapping_cache.entry_bytes"), "{err}");
}

/// The SSD presets draw nothing without stalls; any stream will do.
struct NoRandom;
impl rand_core::RngCore for NoRandom {
    fn next_u32(&mut self) -> u32 {
        0
    }
    fn next_u64(&mut self) -> u64 {
        0
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        dst.fill(0);
    }
}

#[test]
fn datacenter_nvme_reads_in_80_to_100us_and_scales_with_depth() {
    let (mut m, span) = preconditioned(presets::nvme_datacenter(), 4 * GIB);
    let qd1 = probe(&mut m, 1, Pattern::RandRead, 1, 4096, Some(span), 1000);
    assert!(
        (80.0..=100.0).contains(&qd1.lat_mean_us),
        "{}",
        qd1.lat_mean_us
    );
    let qd128 = probe(&mut m, 2, Pattern::RandRead, 128, 4096, Some(span), 20_000);
    assert!(qd128.iops > 300_000.0, "{} IOPS", qd128.iops);
    let seq = probe(&mut m, 3, Pattern::SeqRead, 32, 131_072, Some(span), 2000);
    assert!((5000.0..=7000.0).contains(&seq.mbps), "{} MB/s", seq.mbps);
}

#[test]
fn datacenter_nvme_writes_land_in_its_protected_buffer() {
    let (mut m, span) = preconditioned(presets::nvme_datacenter(), 4 * GIB);
    assert!(!m.volatile_write_cache());
    let r = probe(&mut m, 4, Pattern::RandWrite, 1, 4096, Some(span), 2000);
    assert!((10.0..=30.0).contains(&r.lat_mean_us), "{}", r.lat_mean_us);
    // Protected: FLUSH need not wait for the flash.
    let flush = one(&mut m, ModelOp::Flush, 0, 0, false);
    assert!(flush < 20_000, "{flush} ns");
}

#[test]
fn sata_drive_is_capped_by_ncq_link_and_controller() {
    let (mut m, span) = preconditioned(presets::sata(), 4 * GIB);
    let qd1 = probe(&mut m, 5, Pattern::RandRead, 1, 4096, Some(span), 1000);
    assert!(
        (80.0..=110.0).contains(&qd1.lat_mean_us),
        "{}",
        qd1.lat_mean_us
    );
    let qd32 = probe(&mut m, 6, Pattern::RandRead, 32, 4096, Some(span), 10_000);
    assert!((80_000.0..=120_000.0).contains(&qd32.iops), "{}", qd32.iops);
    // NCQ holds 32: at depth 64 the extra commands wait on the host, latency doubles.
    let qd64 = probe(&mut m, 7, Pattern::RandRead, 64, 4096, Some(span), 10_000);
    assert!(qd64.iops < 1.1 * qd32.iops);
    assert!(qd64.lat_mean_us > 1.8 * qd32.lat_mean_us);
    let seq = probe(&mut m, 8, Pattern::SeqRead, 32, 131_072, Some(span), 1000);
    assert!((450.0..=560.0).contains(&seq.mbps), "{} MB/s", seq.mbps);
    let w = probe(&mut m, 9, Pattern::RandWrite, 1, 4096, Some(span), 1000);
    assert!((15.0..=40.0).contains(&w.lat_mean_us), "{}", w.lat_mean_us);
}

#[test]
fn sata_flush_is_not_queued() {
    let mut m = model(presets::sata());
    // Eight reads of unwritten space, then a flush, then a read: the flush waits for the
    // eight, and the last read waits for the flush.
    for tag in 0..8 {
        m.submit(0, request(tag, ModelOp::Read, tag * 8, 8, false));
    }
    m.submit(0, request(8, ModelOp::Flush, 0, 0, false));
    m.submit(0, request(9, ModelOp::Read, 0, 8, false));
    let done = drain(&mut m);
    let at = |tag: u64| done.iter().find(|c| c.tag == tag).unwrap().done_ns;
    let reads_done = (0..8).map(at).max().unwrap();
    assert!(at(8) > reads_done);
    assert!(at(9) > at(8));
    assert_eq!(done.last().unwrap().tag, 9);
}

#[test]
fn mapping_memory_grows_with_data_written_not_capacity() {
    let mut m = model(presets::nvme_datacenter());
    let empty = m.table_heap_bytes();
    // 1.9 TB of capacity costs about 20 MB before anything is written (page bitmap, block
    // state, chunk indexes); no per-unit tables yet.
    assert!(empty < 32 << 20, "{empty} bytes before any write");
    let capacity = (m.capacity_sectors() * 512) as f64;
    m.precondition(8.0 * GIB as f64 / capacity);
    let mut bigger = model(presets::nvme_datacenter());
    bigger.precondition(16.0 * GIB as f64 / capacity);
    let per_gib = (bigger.table_heap_bytes() - m.table_heap_bytes()) / 8;
    // 4 B forward + 4 B reverse per 4 KiB unit = 2 MiB per GiB. (The first GiBs cost more:
    // each of the 512 planes opens a 16 MiB block at once.)
    assert!(
        ((2 << 20) - (64 << 10)..=(2 << 20) + (64 << 10)).contains(&per_gib),
        "{per_gib} bytes per GiB written"
    );
}

/// Regression (issue 11 item 5, a 10 M-record trace replay): the reverse map kept a chunk
/// for every erase block ever written, and a drive GCs only when nearly full, so a small
/// working set rewritten over and over walked the whole flash and the map grew with the
/// bytes written (4 B per 4 KiB written, ~7 bytes per request of a cache replay, up to
/// 1.9 GB on ssd-nvme) instead of with the data held. A full block with no valid unit now
/// frees its chunk.
#[test]
fn mapping_memory_follows_the_data_held_not_the_bytes_written() {
    // 4 planes × 16,384 blocks × 16 pages of 4 KiB: 4 GiB of flash in 64 KiB blocks, so
    // rewriting 8 MiB for 2 GiB never needs GC, as in a cache on a big drive.
    let mut params = small_drive();
    params.geometry.blocks_per_plane = 16_384;
    params.geometry.pages_per_block = 16;
    let span_bytes = 8u64 << 20;
    let rewritten = |times: f64| {
        let mut m = model(params.clone());
        let fraction = span_bytes as f64 / (m.capacity_sectors() * 512) as f64;
        m.precondition(fraction);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        m.precondition_random_overwrite(fraction, times, &mut rng);
        m.check_invariants();
        m.table_heap_bytes()
    };
    let empty = model(params.clone()).table_heap_bytes();
    let after_256_mib = rewritten(32.0);
    let after_2_gib = rewritten(256.0);
    // Kept for every slot written, the reverse map would be 1.75 MiB larger after 2 GiB.
    assert!(
        after_2_gib <= after_256_mib + (64 << 10),
        "{after_2_gib} bytes after rewriting 8 MiB 256 times, {after_256_mib} after 32 times"
    );
    // The maps still hold the span's mappings beyond the fixed state.
    assert!(
        after_2_gib > empty,
        "{after_2_gib} bytes, {empty} before any write"
    );
}
