//! Zombie IO (option `ssd_timeout`, regression 004): a timed SSD IO cancelled while running
//! fails at once, but the slot or metadata block it may still write stays out of use until
//! the executor reports its end. The harness refuses any write that overlaps a running
//! zombie write, as the simulator's strict device check does.

use super::harness::{is_md_write, small_config, Harness, Zombie};
use crate::block::{IoStatus, Op};
use crate::flashcache::config::{CacheMode, Persistence};
use crate::flashcache::instance::{CacheInputError, Phase};
use crate::flashcache::io::{CacheIoTag, CacheRequest, Device, DmIoOutcome, IoOp, JobId};

const SSD_TIMEOUT_NS: u64 = 5_000_000;

fn timed(mode: CacheMode) -> Harness {
    let mut config = small_config(mode);
    config.options.ssd_timeout_ns = Some(SSD_TIMEOUT_NS);
    Harness::new(config)
}

/// Position of the only outstanding request matching `predicate`.
fn only(h: &Harness, predicate: impl Fn(&CacheRequest) -> bool) -> usize {
    let positions: Vec<usize> = (0..h.outstanding().len())
        .filter(|&i| predicate(&h.outstanding()[i]))
        .collect();
    assert_eq!(positions.len(), 1, "outstanding: {:?}", h.outstanding());
    positions[0]
}

fn is_ssd_data_write(request: &CacheRequest) -> bool {
    matches!(request, CacheRequest::DmIo(io) if io.op == IoOp::Write
        && matches!(io.tag, CacheIoTag::Job(_))
        && io.regions.as_slice().iter().any(|r| r.device == Device::Ssd))
}

/// The SSD sector the outstanding data write lands on.
fn ssd_sector_of(request: &CacheRequest) -> u64 {
    let CacheRequest::DmIo(io) = request else {
        panic!("not a dm_io: {request:?}");
    };
    io.regions
        .as_slice()
        .iter()
        .find(|r| r.device == Device::Ssd)
        .expect("an SSD region")
        .sector
}

/// The cache block whose data lives at SSD sector `sector`.
fn slot_at(h: &Harness, sector: u64) -> u32 {
    let geometry = *h.fc.geometry();
    (0..geometry.size_blocks)
        .find(|&index| geometry.data_sector(index) == sector)
        .expect("a data sector")
}

/// `count` block-aligned disk sectors other than `dbn` that map to `dbn`'s set.
fn same_set(h: &Harness, dbn: u64, count: usize) -> Vec<u64> {
    let geometry = *h.fc.geometry();
    let set = geometry.set_of(dbn);
    (1u64..)
        .map(|k| dbn + k * u64::from(geometry.block_size_sectors))
        .filter(|&sector| geometry.set_of(sector) == set)
        .take(count)
        .collect()
}

/// Submit a write and fail its SSD data write as a zombie; returns the bio and the zombie.
fn write_left_as_zombie(h: &mut Harness, dbn: u64) -> (crate::flashcache::io::CacheBioId, Zombie) {
    let bio = h.submit(Op::Write, dbn, 8);
    let position = only(h, is_ssd_data_write);
    let zombie = h.complete_as_zombie(position);
    h.settle();
    assert_eq!(
        h.status_of(bio),
        Some(IoStatus::IoError),
        "a cancelled write fails at once"
    );
    (bio, zombie)
}

/// Submit a writeback write and fail its dirtying metadata write as a zombie; returns the
/// bio and the zombie.
fn md_write_left_as_zombie(
    h: &mut Harness,
    dbn: u64,
) -> (crate::flashcache::io::CacheBioId, Zombie) {
    let bio = h.submit(Op::Write, dbn, 8);
    h.settle_except(is_md_write);
    let position = only(h, is_md_write);
    let zombie = h.complete_as_zombie(position);
    h.settle();
    assert_eq!(h.status_of(bio), Some(IoStatus::IoError));
    (bio, zombie)
}

#[test]
fn writeback_data_write_zombie_holds_its_slot_until_it_ends() {
    let mut h = timed(CacheMode::WriteBack);
    let others = same_set(&h, 0, 2);
    let (_, zombie) = write_left_as_zombie(&mut h, 0);
    let held_sector = ssd_sector_of(&CacheRequest::DmIo(zombie.io));
    let held = slot_at(&h, held_sector);
    let (state, _) = h.fc.block(held);
    assert!(
        state.is_invalid() && state.is_busy(),
        "invalidated, still busy: {state:?}"
    );
    assert_eq!(h.fc.find_block(0), None);
    assert_eq!(h.fc.zombies_outstanding(), 1);
    assert!(!h.fc.is_idle(), "a held slot keeps the target busy");
    // The free list is LIFO: without the hold the next write miss of this set would take
    // the held slot (regression 004). It gets another one.
    let second = h.submit(Op::Write, others[0], 8);
    let position = only(&h, is_ssd_data_write);
    assert_ne!(ssd_sector_of(&h.outstanding()[position]), held_sector);
    h.settle();
    assert_eq!(h.status_of(second), Some(IoStatus::Ok));
    // The zombie lands (stale bytes) and ends: the slot is free again, first in line.
    h.end_zombie(zombie, true);
    assert_eq!(h.fc.zombies_outstanding(), 0);
    let (state, _) = h.fc.block(held);
    assert!(
        state.is_invalid() && !state.is_busy(),
        "released: {state:?}"
    );
    let third = h.submit(Op::Write, others[1], 8);
    let position = only(&h, is_ssd_data_write);
    assert_eq!(ssd_sector_of(&h.outstanding()[position]), held_sector);
    h.settle();
    assert_eq!(h.status_of(third), Some(IoStatus::Ok));
    assert_eq!(h.read_block(others[0]), vec![second.0; 8]);
    assert_eq!(h.read_block(others[1]), vec![third.0; 8]);
    assert!(h.fc.is_idle());
}

#[test]
fn zombie_on_a_dirty_block_keeps_it_dirty_and_cleans_it_after_the_end() {
    let mut h = timed(CacheMode::WriteBack);
    let first = h.submit(Op::Write, 64, 8);
    h.settle();
    assert_eq!(h.status_of(first), Some(IoStatus::Ok));
    let index = h.fc.find_block(64).expect("cached");
    assert!(h.fc.block(index).0.is_dirty());
    let (_, zombie) = write_left_as_zombie(&mut h, 64);
    let (state, _) = h.fc.block(index);
    assert!(
        state.is_dirty() && state.is_busy(),
        "dirty data is kept, the slot held: {state:?}"
    );
    // A read of the block waits for the hold (its IO could race the zombie).
    let read = h.submit(Op::Read, 64, 8);
    h.settle();
    assert_eq!(h.status_of(read), None, "queued behind the held block");
    assert!(h.outstanding().is_empty());
    h.end_zombie(zombie, false);
    h.settle();
    // The block is cleaned first, then the read is served from the disk.
    assert_eq!(h.status_of(read), Some(IoStatus::Ok));
    assert_eq!(h.read_pages(read), vec![first.0; 8]);
    assert_eq!(h.disk.version(64), first.0);
    assert_eq!(h.fc.gauges().nr_dirty, 0);
    assert!(h.fc.is_idle());
}

#[test]
fn writethrough_zombie_holds_the_slot_and_the_bios_queued_behind_it() {
    let mut h = timed(CacheMode::WriteThrough);
    assert_eq!(h.io(Op::Write, 128, 8), IoStatus::Ok);
    let index = h.fc.find_block(128).expect("cached");
    // A write hit: one dm_io to the disk and the SSD, both regions cancelled while running.
    let (_, zombie) = write_left_as_zombie(&mut h, 128);
    assert_eq!(zombie.io.regions.as_slice().len(), 2);
    assert!(h.fc.bypassing(), "a cache error switches to bypass");
    let (state, _) = h.fc.block(index);
    assert!(state.is_valid() && state.is_busy(), "held whole: {state:?}");
    // A write to the same block must not reach the disk while the zombie may still write
    // it there: it queues (the harness refuses an overlapping write).
    let queued = h.submit(Op::Write, 128, 8);
    h.settle();
    assert_eq!(h.status_of(queued), None);
    h.end_zombie(zombie, true);
    h.settle();
    // Writethrough's error path runs now: the block is dropped and the queued bio fails.
    assert_eq!(h.status_of(queued), Some(IoStatus::IoError));
    assert_eq!(h.fc.find_block(128), None);
    assert!(h.fc.block(index).0.is_invalid());
    assert_eq!(h.fc.zombies_outstanding(), 0);
    assert!(h.fc.is_idle());
}

#[test]
fn metadata_write_zombie_holds_its_block_until_it_ends() {
    let mut h = timed(CacheMode::WriteBack);
    let others = same_set(&h, 0, 1);
    let (_, zombie) = md_write_left_as_zombie(&mut h, 0);
    // Failed, but the slot stays claimed (busy, dbn 0 hashed) until the metadata block has
    // been rewritten from memory: the zombie may name dbn 0 DIRTY in it.
    let held = h.fc.find_block(0).expect("held until the rewrite");
    assert!(h.fc.block(held).0.is_busy());
    assert_eq!(h.fc.zombies_outstanding(), 1);
    // The next dirtying of a slot in that metadata block waits: no metadata write while
    // the zombie may still land on the same sectors.
    let second = h.submit(Op::Write, others[0], 8);
    h.settle();
    let index = h.fc.find_block(others[0]).expect("data written");
    let geometry = *h.fc.geometry();
    let zombie_md = zombie.io.regions.as_slice()[0].sector;
    assert_eq!(
        geometry.md_block_sector(geometry.md_block_of(index)),
        zombie_md
    );
    assert_eq!(h.status_of(second), None, "its metadata write waits");
    assert!(h.outstanding().is_empty());
    h.end_zombie(zombie, true);
    assert!(
        h.outstanding().iter().any(is_md_write),
        "the rewrite starts at the end"
    );
    h.settle();
    assert_eq!(h.fc.find_block(0), None, "invalidated after the rewrite");
    assert_eq!(h.status_of(second), Some(IoStatus::Ok));
    assert_eq!(h.read_block(others[0]), vec![second.0; 8]);
    assert_eq!(h.fc.zombies_outstanding(), 0);
    assert!(h.fc.is_idle());
}

#[test]
fn remove_waits_for_every_zombie() {
    let mut h = timed(CacheMode::WriteBack);
    let (_, zombie) = write_left_as_zombie(&mut h, 0);
    h.fc.remove(h.now_ns).expect("remove starts");
    h.collect();
    assert!(
        !run_remove(&mut h, 100),
        "the remove waits for the zombie: {:?}",
        h.fc.phase()
    );
    assert_eq!(h.fc.phase(), &Phase::Removing);
    h.end_zombie(zombie, false);
    assert!(run_remove(&mut h, 100), "{:?}", h.fc.phase());
    assert!(matches!(h.fc.phase(), Phase::Stopped(Some(_))));
}

/// Settle and run timers for up to `rounds` rounds; true once the remove has stopped.
fn run_remove(h: &mut Harness, rounds: u32) -> bool {
    for _ in 0..rounds {
        if matches!(h.fc.phase(), Phase::Stopped(_)) {
            return true;
        }
        h.settle();
        if let Some(deadline) = h.fc.poll_deadline() {
            h.now_ns = h.now_ns.max(deadline);
            h.fc.tick(h.now_ns).expect("tick");
            h.collect();
        }
    }
    matches!(h.fc.phase(), Phase::Stopped(_))
}

#[test]
fn a_crash_forgets_the_zombies_and_the_reloaded_cache_serves_acknowledged_data() {
    let mut config = small_config(CacheMode::WriteBack);
    config.options.ssd_timeout_ns = Some(SSD_TIMEOUT_NS);
    let mut h = Harness::new(config.clone());
    assert_eq!(h.io(Op::Write, 72, 8), IoStatus::Ok);
    let (_, zombie) = write_left_as_zombie(&mut h, 72);
    assert_eq!(h.fc.zombies_outstanding(), 1);
    drop(zombie); // power is lost before it lands
    config.table.persistence = Persistence::Reload;
    let mut h = h
        .restart(|ssd| super::harness::run_setup(config, ssd, 0))
        .expect("loads after a crash");
    assert_eq!(h.fc.zombies_outstanding(), 0);
    assert_eq!(h.fc.gauges().nr_dirty, 1);
    // The harness's oracle accepts the acknowledged write or the failed one.
    h.read_block(72);
    assert!(h.fc.is_idle());
}

#[test]
fn zombie_news_the_target_cannot_hold_is_refused() {
    let mut h = timed(CacheMode::WriteBack);
    let stranger = CacheIoTag::Job(JobId {
        index: 999,
        generation: 0,
    });
    assert_eq!(
        h.fc.zombie_ended(stranger, h.now_ns),
        Err(CacheInputError::UnknownTag { tag: stranger })
    );
    let bio = h.submit(Op::Write, 0, 8);
    let CacheRequest::DmIo(io) = h.outstanding()[only(&h, is_ssd_data_write)] else {
        unreachable!("a data write");
    };
    let succeeded_with_a_zombie = DmIoOutcome {
        error_bits: 0,
        zombie_io: true,
    };
    assert_eq!(
        h.fc.complete_dm_io(io.tag, succeeded_with_a_zombie, h.now_ns),
        Err(CacheInputError::UnexpectedZombie { tag: io.tag })
    );
    assert_eq!(h.fc.zombies_outstanding(), 0, "nothing recorded");
    h.settle();
    assert_eq!(h.status_of(bio), Some(IoStatus::Ok));
    assert_eq!(
        h.fc.zombie_ended(io.tag, h.now_ns),
        Err(CacheInputError::UnknownTag { tag: io.tag }),
        "a request that left no zombie"
    );
}

#[test]
fn writethrough_fill_zombie_holds_the_bio_it_reads_from() {
    let mut h = timed(CacheMode::WriteThrough);
    let read = h.submit(Op::Read, 200, 8);
    // The disk read of the miss succeeds; the fill writes the SSD from the bio's pages.
    h.settle_except(is_ssd_data_write);
    let position = only(&h, is_ssd_data_write);
    let zombie = h.complete_as_zombie(position);
    h.settle();
    // Re-reading the disk into those pages, or ending the bio, would hand them over while
    // the zombie still reads them (regression 006): both wait.
    assert_eq!(h.status_of(read), None, "the bio waits for the zombie");
    assert!(h.outstanding().is_empty(), "no re-read yet");
    let index = h.fc.find_block(200).expect("still claimed");
    assert!(h.fc.block(index).0.is_busy());
    h.end_zombie(zombie, true);
    h.settle();
    assert_eq!(
        h.status_of(read),
        Some(IoStatus::Ok),
        "served from the disk"
    );
    assert_eq!(h.read_pages(read), vec![0; 8]);
    assert_eq!(h.fc.find_block(200), None, "the failed fill is dropped");
    assert_eq!(h.fc.zombies_outstanding(), 0);
    assert!(h.fc.is_idle());
}

/// Regression (found 2026-12-05 by reading the zombie holds, kept as an open-bug test
/// before its fix, fixed 2026-12-06).
///
/// What broke: a writeback write's dirtying metadata write timed out (`ssd_timeout`) and
/// left a zombie. The write failed and its slot was invalidated and freed at once (only the
/// metadata block was held). The zombie then landed: the metadata block on the SSD named
/// the failed write's block DIRTY in that slot, while memory said the slot was free, and
/// nothing wrote the block again. A write miss reused the slot; power was lost after its
/// data landed and before its own metadata write: the reload found the old block DIRTY in
/// the slot and served the new write's data for it (dbn 0 read version 2, the write to
/// another block).
/// Why: the hold covered the metadata block only while the zombie might land; what it left
/// on the SSD was never reconciled with memory after it ended.
/// Fix: a failed metadata write that may land keeps its batch's slots busy (dbns hashed,
/// error paths waiting) until, after the zombie's end, the block is rewritten from memory
/// (`md_rewrite_kickoff`).
#[test]
fn a_landed_metadata_zombie_cannot_name_a_reused_slot_after_a_crash() {
    let mut config = small_config(CacheMode::WriteBack);
    config.options.ssd_timeout_ns = Some(SSD_TIMEOUT_NS);
    let mut h = Harness::new(config.clone());
    let others = same_set(&h, 0, 1);
    let (first, zombie) = md_write_left_as_zombie(&mut h, 0);
    // It lands: the metadata block on the SSD now says dbn 0 is DIRTY in the freed slot.
    h.end_zombie(zombie, true);
    h.settle();
    // A write miss of the same set takes a slot; power is lost after its data landed and
    // before its own metadata write did.
    let second = h.submit(Op::Write, others[0], 8);
    h.settle_except(is_md_write);
    assert_eq!(h.status_of(second), None, "waits for its metadata write");
    config.table.persistence = Persistence::Reload;
    let mut h = h
        .restart(|ssd| super::harness::run_setup(config, ssd, 0))
        .expect("loads after a crash");
    // dbn 0 holds what it held before (nothing) or the failed write, never another block's
    // data.
    let got = h.read_block(0);
    assert!(
        got.iter()
            .all(|&version| version == 0 || version == first.0),
        "dbn 0 read {got:?}; the failed write was {}",
        first.0
    );
}

/// Regression (found 2026-12-06 while fixing the test above; the same hole on the cleaning
/// side). What broke: a cleaning's metadata write (dirty→clean) timed out and left a zombie;
/// the block stayed DIRTY in memory and went idle at once. The zombie landed, naming the
/// block clean on the SSD. A write hit on the dirty block needs no metadata write and was
/// acknowledged; after a crash only DIRTY slots are trusted, so the reload dropped the block
/// and the disk's older copy came back: an acknowledged write lost.
/// Fix: the same as above; the cleaning's error path waits for the block's rewrite, which
/// names it DIRTY again, and the hit waits on the busy block meanwhile.
#[test]
fn a_landed_cleaning_metadata_zombie_cannot_lose_a_later_write_hit_after_a_crash() {
    let mut config = small_config(CacheMode::WriteBack);
    config.options.ssd_timeout_ns = Some(SSD_TIMEOUT_NS);
    let mut h = Harness::new(config.clone());
    let first = h.submit(Op::Write, 80, 8);
    h.settle();
    assert_eq!(h.status_of(first), Some(IoStatus::Ok));
    // A partial read of a dirty block cleans it first; the cleaning's metadata write times
    // out, leaving a zombie.
    let read = h.submit(Op::Read, 80, 4);
    h.settle_except(is_md_write);
    let position = only(&h, is_md_write);
    let zombie = h.complete_as_zombie(position);
    h.settle();
    let index = h.fc.find_block(80).expect("still cached");
    assert!(
        h.fc.block(index).0.is_dirty(),
        "a failed cleaning keeps it dirty"
    );
    // A write hit now must not be acknowledged while the SSD may name the block clean.
    let early_hit = h.submit(Op::Write, 80, 8);
    h.settle();
    assert_eq!(h.status_of(early_hit), None, "waits for the rewrite");
    // The zombie lands (the SSD says clean) and ends; the block is rewritten from memory.
    h.end_zombie(zombie, true);
    h.settle();
    assert_eq!(h.status_of(read), Some(IoStatus::IoError), "queue failed");
    assert_eq!(
        h.status_of(early_hit),
        Some(IoStatus::IoError),
        "queue failed"
    );
    let hit = h.submit(Op::Write, 80, 8);
    h.settle();
    assert_eq!(h.status_of(hit), Some(IoStatus::Ok));
    config.table.persistence = Persistence::Reload;
    let mut h = h
        .restart(|ssd| super::harness::run_setup(config, ssd, 0))
        .expect("loads after a crash");
    assert_eq!(
        h.read_block(80),
        vec![hit.0; 8],
        "the acknowledged hit survives"
    );
}

/// The check of the jobs waiting for a metadata rewrite, on a corrupted state (the harness
/// only ever runs it on a correct cache, where it must pass).
#[test]
#[should_panic(expected = "metadata block 0: waiters on an idle block")]
fn a_rewrite_waiter_on_an_idle_metadata_block_is_named() {
    let mut h = Harness::new(small_config(CacheMode::WriteBack));
    h.check_invariants = false;
    assert!(!h.fc.md_heads[0].in_prog);
    h.fc.md_heads[0].rewrite_waiters.push(JobId {
        index: 0,
        generation: 0,
    });
    h.fc.check_md_rewrite_waiters();
}
