//! Unit tests of the data oracle: the acceptance rule, history retention, crashes.

use super::*;

fn data(sector: u64, n: u64, id: u64) -> Vec<SectorContent> {
    (0..n)
        .map(|i| {
            SectorContent::Stamp(SectorStamp {
                sector: sector + i,
                write_id: id,
            })
        })
        .collect()
}

#[test]
fn reads_see_the_last_acknowledged_write() {
    let mut o = Oracle::new(true);
    let m = o.read_started();
    o.read_done(1, m, 0, &[SectorContent::Zero; 8]).unwrap();
    o.write_submitted(1, 0, 8, false);
    o.write_done(1, true);
    let m = o.read_started();
    o.read_done(2, m, 0, &data(0, 8, 1)).unwrap();
    let m = o.read_started();
    let err = o.read_done(3, m, 0, &[SectorContent::Zero; 8]).unwrap_err();
    assert_eq!(err.sector, 0);
    assert_eq!(o.verified_reads(), 3);
}

#[test]
fn stale_and_misdirected_data_are_caught() {
    let mut o = Oracle::new(true);
    o.write_submitted(1, 0, 16, false);
    o.write_done(1, true);
    o.write_submitted(2, 8, 8, false);
    o.write_done(2, true);
    let m = o.read_started();
    assert!(
        o.read_done(1, m, 8, &data(8, 8, 1)).is_err(),
        "stale: write 1 was overwritten by 2"
    );
    let m = o.read_started();
    assert!(
        o.read_done(1, m, 8, &data(0, 8, 2)).is_err(),
        "misdirected: data written for sector 0"
    );
    let m = o.read_started();
    o.read_done(1, m, 0, &[data(0, 8, 1), data(8, 8, 2)].concat())
        .unwrap();
}

#[test]
fn a_read_racing_a_write_may_see_either_version() {
    let mut o = Oracle::new(true);
    o.write_submitted(1, 0, 8, false);
    o.write_done(1, true);
    let marks = [o.read_started(), o.read_started(), o.read_started()];
    o.write_submitted(2, 0, 8, false);
    o.read_done(1, marks[0], 0, &data(0, 8, 2)).unwrap(); // in flight: allowed
    o.read_done(2, marks[1], 0, &data(0, 8, 1)).unwrap();
    o.write_done(2, true);
    o.read_done(3, marks[2], 0, &data(0, 8, 1)).unwrap(); // acked during the read: old still allowed
    let m2 = o.read_started();
    assert!(
        o.read_done(4, m2, 0, &data(0, 8, 1)).is_err(),
        "a read begun after the ack must see it"
    );
}

#[test]
fn failed_writes_make_contents_unknown_until_the_next_good_write() {
    let mut o = Oracle::new(true);
    o.write_submitted(1, 0, 8, false);
    o.write_done(1, false);
    let m = o.read_started();
    o.read_done(1, m, 0, &[SectorContent::Foreign; 8]).unwrap();
    o.write_submitted(2, 0, 8, false);
    o.write_done(2, true);
    let m = o.read_started();
    assert!(o.read_done(2, m, 0, &[SectorContent::Foreign; 8]).is_err());
}

#[test]
fn partial_block_writes_split_the_block_state() {
    let mut o = Oracle::new(true);
    o.write_submitted(1, 0, 8, false);
    o.write_done(1, true);
    o.write_submitted(2, 3, 1, false);
    o.write_done(2, true);
    let mut want = data(0, 8, 1);
    want[3] = SectorContent::Stamp(SectorStamp {
        sector: 3,
        write_id: 2,
    });
    let m = o.read_started();
    o.read_done(1, m, 0, &want).unwrap();
    assert_eq!(o.acknowledged(3), Some(2));
    assert_eq!(o.acknowledged(4), Some(1));
}

#[test]
fn a_read_spanning_two_acknowledged_writes_may_see_the_first_version() {
    let mut o = Oracle::new(true);
    o.write_submitted(1, 0, 8, false);
    o.write_done(1, true);
    let marks = [o.read_started(), o.read_started(), o.read_started()];
    for id in 2..=3 {
        o.write_submitted(id, 0, 8, false);
        o.write_done(id, true);
    }
    o.read_done(1, marks[0], 0, &data(0, 8, 1)).unwrap();
    o.read_done(2, marks[1], 0, &data(0, 8, 2)).unwrap();
    o.read_done(3, marks[2], 0, &data(0, 8, 3)).unwrap();
    let later = o.read_started();
    assert!(o.read_done(4, later, 0, &data(0, 8, 1)).is_err());
}

#[test]
fn unknown_content_stays_allowed_for_a_read_begun_before_the_next_write() {
    let mut o = Oracle::new(true);
    o.contents_unknown(0, 8);
    let m = o.read_started();
    o.write_submitted(1, 0, 8, false);
    o.write_done(1, true);
    o.read_done(1, m, 0, &[SectorContent::Foreign; 8]).unwrap();
    let later = o.read_started();
    assert!(o
        .read_done(2, later, 0, &[SectorContent::Foreign; 8])
        .is_err());
}

#[test]
fn unknown_initial_contents_accept_anything_never_written() {
    let mut o = Oracle::new(false);
    let m = o.read_started();
    o.read_done(1, m, 100, &[SectorContent::Foreign, SectorContent::Zero])
        .unwrap();
}

#[test]
fn a_read_outliving_many_writes_may_return_the_version_it_started_with() {
    // Regression 001: the oracle kept four versions and refused this legal read.
    let mut o = Oracle::new(true);
    let slow = o.read_started();
    for id in 1..=20 {
        o.write_submitted(id, 0, 8, false);
        o.write_done(id, true);
    }
    o.read_done(1, slow, 0, &[SectorContent::Zero; 8]).unwrap();
    let m = o.read_started();
    assert!(
        o.read_done(2, m, 0, &[SectorContent::Zero; 8]).is_err(),
        "a read begun after the writes must see the last"
    );
}

#[test]
fn history_is_pruned_to_what_reads_in_flight_may_return() {
    let mut o = Oracle::new(true);
    let first = o.read_started();
    o.write_submitted(1, 0, 8, false);
    o.write_done(1, true);
    let second = o.read_started();
    for id in 2..=5 {
        o.write_submitted(id, 0, 8, false);
        o.write_done(id, true);
    }
    // The first read may see zeros and 1..=5; the second 1..=5 but not zeros.
    assert_eq!(o.state(0).unwrap().history_len(), 5);
    assert!(o
        .read_done(2, second, 0, &[SectorContent::Zero; 8])
        .is_err());
    o.read_done(1, first, 0, &data(0, 8, 3)).unwrap();
    assert_eq!(o.reads_in_flight(), 0);
    o.write_submitted(6, 0, 8, false);
    o.write_done(6, true);
    assert!(
        o.state(0).unwrap().history_len() == 0,
        "no read in flight: one version"
    );
    let m = o.read_started();
    assert!(o.read_done(3, m, 0, &data(0, 8, 5)).is_err());
}

#[test]
fn an_abandoned_read_releases_its_history() {
    let mut o = Oracle::new(true);
    let m = o.read_started();
    o.write_submitted(1, 0, 8, false);
    o.write_done(1, true);
    assert_eq!(o.state(0).unwrap().history_len(), 1);
    o.read_abandoned(m);
    o.write_submitted(2, 0, 8, false);
    o.write_done(2, true);
    assert!(o.state(0).unwrap().history_len() == 0);
}

#[test]
fn history_kept_for_a_read_goes_when_the_read_ends_without_another_write() {
    // Issue 11 item 5: history was pruned only at the block's next write, so a block
    // overwritten while a read was in flight and never written again kept it for the rest
    // of the run (a big trace's oracle grew with the blocks ever overwritten).
    let mut o = Oracle::new(true);
    let slow = o.read_started();
    o.write_submitted(1, 0, 16, false);
    o.write_done(1, true);
    let later = o.read_started();
    o.write_submitted(2, 0, 4, false);
    o.write_done(2, true);
    assert_eq!(o.state(0).unwrap().history_len(), 2, "zeros and write 1");
    assert_eq!(o.state(8).unwrap().history_len(), 1, "zeros");
    o.read_done(1, slow, 8, &data(8, 8, 1)).unwrap();
    assert_eq!(
        o.state(0).unwrap().history_len(),
        1,
        "write 1, for the later read"
    );
    assert_eq!(
        o.state(8).unwrap().history_len(),
        0,
        "block 1: nothing needs zeros"
    );
    // The later read may still return write 1 in sectors 0..4, but not zeros.
    o.read_done(2, later, 0, &data(0, 4, 1)).unwrap();
    assert_eq!(o.state(0).unwrap().history_len(), 0);
    assert_eq!(o.state(4).unwrap().history_len(), 0);
    let m = o.read_started();
    assert!(
        o.read_done(3, m, 0, &data(0, 4, 1)).is_err(),
        "write 2 is current"
    );
}

fn write(o: &mut Oracle, id: u64, sector: u64, sectors: u64, fua: bool) {
    o.write_submitted(id, sector, sectors, fua);
    o.write_done(id, true);
}

fn read(o: &mut Oracle, sector: u64, got: &[SectorContent]) -> Result<(), DataError> {
    let m = o.read_started();
    o.read_done(99, m, sector, got)
}

#[test]
fn on_ack_a_crash_keeps_every_acknowledged_write() {
    let mut o = Oracle::new(true);
    write(&mut o, 1, 0, 8, false);
    write(&mut o, 2, 0, 8, false);
    o.crash();
    assert!(
        read(&mut o, 0, &data(0, 8, 1)).is_err(),
        "write 2 was acked"
    );
    read(&mut o, 0, &data(0, 8, 2)).unwrap();
    assert_eq!(o.crashes(), 1);
}

#[test]
fn a_write_in_flight_at_a_crash_may_land_per_sector_and_the_first_read_fixes_it() {
    let mut o = Oracle::new(true);
    write(&mut o, 1, 0, 8, false);
    o.write_submitted(2, 0, 8, false);
    o.crash();
    assert_eq!(o.acknowledged(0), None, "one of two versions");
    // Torn: the first four sectors got write 2, the rest kept write 1.
    let torn = [data(0, 4, 2), data(4, 4, 1)].concat();
    read(&mut o, 0, &torn).unwrap();
    assert_eq!(o.acknowledged(0), Some(2));
    assert_eq!(o.acknowledged(4), Some(1));
    assert!(
        read(&mut o, 0, &data(0, 8, 2)).is_err(),
        "sector 4 was seen holding write 1: it cannot change without a write"
    );
    read(&mut o, 0, &torn).unwrap();
}

/// Writes 1 (flushed), 2 (completed while the flush ran: not covered) and 3 to sector 0,
/// and the FUA write 4 to sector 8, then crashes.
fn flushed_history() -> Oracle {
    let mut o = Oracle::new(true).with_durability(Durability::OnFlush);
    write(&mut o, 1, 0, 8, false);
    let flush = o.flush_started();
    write(&mut o, 2, 0, 8, false);
    o.flush_done(flush, true);
    write(&mut o, 3, 0, 8, false);
    write(&mut o, 4, 8, 8, true);
    o.crash();
    o
}

#[test]
fn on_flush_unflushed_writes_may_be_lost_and_flushed_ones_may_not() {
    for id in 1..=3 {
        let mut o = flushed_history();
        read(&mut o, 0, &data(0, 8, id)).unwrap_or_else(|e| panic!("write {id}: {e}"));
    }
    let mut o = flushed_history();
    assert!(
        read(&mut o, 0, &[SectorContent::Zero; 8]).is_err(),
        "write 1 was flushed: zeros cannot come back"
    );
    assert!(
        read(&mut o, 8, &[SectorContent::Zero; 8]).is_err(),
        "write 4 was FUA"
    );
    read(&mut o, 8, &data(8, 8, 4)).unwrap();
}

#[test]
fn a_failed_flush_makes_nothing_durable() {
    let mut o = Oracle::new(true).with_durability(Durability::OnFlush);
    write(&mut o, 1, 0, 8, false);
    let flush = o.flush_started();
    o.flush_done(flush, false);
    o.crash();
    read(&mut o, 0, &[SectorContent::Zero; 8]).unwrap();
}

#[test]
fn on_flush_history_is_pruned_behind_the_newest_durable_version() {
    let mut o = Oracle::new(true).with_durability(Durability::OnFlush);
    for id in 1..=5 {
        write(&mut o, id, 0, 8, false);
    }
    assert_eq!(o.state(0).unwrap().history_len(), 5, "back to the zeros");
    let flush = o.flush_started();
    o.flush_done(flush, true);
    write(&mut o, 6, 0, 8, false);
    assert_eq!(
        o.state(0).unwrap().history_len(),
        1,
        "write 5 is durable: nothing older can come back"
    );
}

#[test]
fn reads_in_flight_at_a_crash_are_forgotten() {
    let mut o = Oracle::new(true);
    let _lost = o.read_started();
    write(&mut o, 1, 0, 8, false);
    o.crash();
    assert_eq!(o.reads_in_flight(), 0);
    write(&mut o, 2, 0, 8, false);
    assert_eq!(o.state(0).unwrap().history_len(), 0);
}

fn poisoned(sector: u64, n: u64) -> Vec<SectorContent> {
    (sector..sector + n).map(crate::poison::poison).collect()
}

#[test]
fn poison_is_a_data_error_unless_the_run_declared_faults_producing_it() {
    let mut o = Oracle::new(true);
    write(&mut o, 1, 0, 8, false);
    let err = read(&mut o, 0, &poisoned(0, 8)).unwrap_err();
    assert!(err.allowed.contains("no fault of this run"), "{err}");
    assert_eq!(o.corrupt_sectors_delivered(), 0);

    let mut o = Oracle::new(true).accepting_poison();
    write(&mut o, 1, 0, 8, false);
    let mut mixed = data(0, 8, 1);
    mixed[3] = crate::poison::poison(3);
    read(&mut o, 0, &mixed).unwrap();
    read(&mut o, 8, &poisoned(8, 8)).unwrap();
    assert_eq!(o.corrupt_sectors_delivered(), 9);
    assert_eq!(o.corrupt_reads_delivered(), 2);
    mixed[4] = SectorContent::Zero;
    assert!(
        read(&mut o, 0, &mixed).is_err(),
        "poison in one sector excuses no other"
    );
}

#[test]
fn after_a_misdirected_write_old_or_misplaced_data_is_still_a_data_error() {
    // The device holds poison where the write was meant to go and where it landed; old
    // data there can only come from the engine serving it from somewhere it should not.
    let mut o = Oracle::new(true).accepting_poison();
    write(&mut o, 1, 0, 16, false);
    write(&mut o, 2, 0, 8, false); // misdirected to 8..16 on the device
    read(&mut o, 0, &poisoned(0, 8)).unwrap();
    read(&mut o, 8, &poisoned(8, 8)).unwrap();
    assert!(read(&mut o, 0, &data(0, 8, 1)).is_err(), "the old data");
    assert!(
        read(&mut o, 8, &data(0, 8, 2)).is_err(),
        "the write's own data, misplaced"
    );
    read(&mut o, 0, &data(0, 8, 2)).unwrap();
    read(&mut o, 8, &data(8, 8, 1)).unwrap();
}

#[test]
fn poison_after_a_crash_fixes_no_version() {
    let mut o = Oracle::new(true).accepting_poison();
    write(&mut o, 1, 0, 8, false);
    o.write_submitted(2, 0, 8, false);
    o.crash();
    read(&mut o, 0, &poisoned(0, 8)).unwrap();
    assert_eq!(o.acknowledged(0), None, "still one of two versions");
    read(&mut o, 0, &data(0, 8, 1)).unwrap();
    assert!(read(&mut o, 0, &data(0, 8, 2)).is_err());
    read(&mut o, 0, &poisoned(0, 8)).unwrap();
}

#[test]
#[should_panic(expected = "reserved")]
fn a_workload_write_may_not_use_the_poison_id() {
    let mut o = Oracle::new(true);
    o.write_submitted(crate::poison::POISON_WRITE_ID, 0, 8, false);
}

/// Regression 018: a write that failed since the last flush may have reached some devices
/// (a raid5 stripe's data and not its parity); a crash may tear what did, so its blocks are
/// crash uncertain even when their content is as unknown after it as before.
#[test]
fn a_failed_write_since_the_last_flush_leaves_its_blocks_crash_uncertain() {
    let mut o = Oracle::new(true).with_durability(Durability::OnFlush);
    let fail = |o: &mut Oracle, id: u64| {
        o.write_submitted(id, 0, 8, false);
        o.write_done(id, false);
    };
    fail(&mut o, 1);
    write(&mut o, 2, 16, 8, false);
    let flush = o.flush_started();
    o.flush_done(flush, true);
    fail(&mut o, 3);
    o.crash();
    assert_eq!(
        o.crash_uncertain_blocks()
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        vec![0],
        "block 0's failed write was not flushed; block 2's write was"
    );
}
