//! `ftl.reads_map_unwritten`: a read of never-written data maps it to a fresh page of its
//! plane and reads that page from flash, as MQSim's page-level FTL does
//! (online_create_entry_for_reads); without it such data reads as zeros at once.

mod ssd_support;

use dmsim_models::ssd::{presets, SsdParams};
use dmsim_models::ModelOp;
use ssd_support::*;

fn params(map: bool) -> SsdParams {
    let mut p = presets::mqsim_default();
    p.mapping_cache.capacity_bytes = 0;
    p.ftl.reads_map_unwritten = map;
    p
}

#[test]
fn a_read_of_unwritten_data_takes_a_page_and_reads_flash() {
    let mut m = model(params(true));
    let first = one(&mut m, ModelOp::Read, 0, 16, false);
    // One array read (75 µs) plus 8 KiB over the channel.
    assert!(first > 75_000, "read took {first} ns");
    // Under static allocation one page holds the logical page: its first unit is mapped,
    // the second is read from the same page.
    assert_eq!(m.stats().units_mapped_by_reads, 1);
    assert_eq!(m.stats().flash_reads_host, 1);
    // The logical page has its page now: a second read maps nothing new.
    one(&mut m, ModelOp::Read, 0, 16, false);
    assert_eq!(m.stats().units_mapped_by_reads, 1);
    assert_eq!(m.stats().flash_reads_host, 2);
    // Either half of the next logical page read first maps it; the other half follows it.
    one(&mut m, ModelOp::Read, 24, 8, false);
    one(&mut m, ModelOp::Read, 16, 8, false);
    assert_eq!(m.stats().units_mapped_by_reads, 2);
    assert_eq!(m.stats().flash_reads_host, 4);
    assert_eq!(m.stats().flash_programs_host, 0, "nothing is programmed");
    m.check_invariants();
}

#[test]
fn without_it_unwritten_data_reads_as_zeros() {
    let mut m = model(params(false));
    let first = one(&mut m, ModelOp::Read, 0, 16, false);
    assert!(first < 20_000, "read took {first} ns");
    assert_eq!(m.stats().units_mapped_by_reads, 0);
    assert_eq!(m.stats().flash_reads_host, 0);
}
