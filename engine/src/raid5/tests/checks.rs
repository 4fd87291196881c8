//! The array's own checks of its bios (`Raid5::check_invariants` past the stripe cache's,
//! which `cache/check.rs` tests) on each kind of corrupted state: the harness only ever runs
//! them on a correct array, where they must pass.

use super::harness::Harness;
use crate::raid5::instance::WaitReason;
use crate::slab::SlabKey;

/// Two overlapping writes: the second waits for the first (the harness checked that state
/// after each submission). Returns the keys of the admitted and the waiting bio.
fn overlapping_writes() -> (Harness, SlabKey, SlabKey) {
    let mut h = Harness::new(4, 4096, Harness::config(16));
    h.write(0, 8);
    h.write(4, 8);
    assert_eq!(h.raid.stats().overlap_waits, 1);
    let waiting = *h.raid.waiting.front().unwrap();
    let admitted = h
        .raid
        .bios
        .iter()
        .find(|(_, bio)| bio.waiting.is_none())
        .map(|(key, _)| key)
        .unwrap();
    (h, admitted, waiting)
}

#[test]
fn a_queued_waiter_that_does_not_wait_is_named() {
    let (mut h, _, waiting) = overlapping_writes();
    h.raid.bios.get_mut(waiting).unwrap().waiting = None;
    let error = format!("raid5 waiter {} not a waiting bio", waiting.to_u64());
    assert_eq!(h.raid.check_invariants().unwrap_err(), error);
    assert_eq!(h.raid.check_invariants_incremental().unwrap_err(), error);
}

#[test]
fn a_waiting_bio_not_queued_is_named() {
    let (mut h, admitted, _) = overlapping_writes();
    h.raid.bios.get_mut(admitted).unwrap().waiting = Some(WaitReason::Overlap);
    let error = "raid5: 2 bios wait but 1 are queued";
    assert_eq!(h.raid.check_invariants().unwrap_err(), error);
    assert_eq!(h.raid.check_invariants_incremental().unwrap_err(), error);
}
