//! Flashcache's invariant checks (`check_invariants`, `check_invariants_incremental` and the
//! parts they share) pass a consistent cache, and name one corruption at a time of what they
//! state: every check that covers it, the full one and the incremental one alike. A check
//! passes on a correct engine whatever it asserts, so no workload test can tell a weakened
//! check; these can.
//!
//! A corruption goes through the accessor that marks what it hands out, as the engine's own
//! changes do, so the incremental check is due to see it at its next call; where a test
//! says so, it goes around the marking (a bug in the marking) or touches what the
//! incremental check only looks at on its periodic full call.

use super::{SetCounts, FULL_CHECK_EVERY_CALLS};
use crate::block::Op;
use crate::flashcache::config::{
    Associativity, CacheDeviceSizes, CacheMode, FlashcacheConfig, Persistence, TableLine,
};
use crate::flashcache::geometry::Geometry;
use crate::flashcache::instance::Flashcache;
use crate::flashcache::io::{CacheBio, CacheBioId, CacheIoTag, JobId};
use crate::flashcache::job::{Action, PendingAction};
use crate::flashcache::set::{LruList, VictimIndexMode, NIL};
use crate::flashcache::state::{BlockState, Transition};
use crate::flashcache::tests::panic_of;
use crate::flashcache::zombie::ZombieHold;

const SETS: u32 = 3;
const ASSOC: u32 = 256;
/// The hot share of the ways, 64 of 256: a set's hot and warm lists differ in length.
const HOT_PCT: u32 = 25;
/// The incremental checks the fixture ran: the first (a full one) and one more.
const FIXTURE_CALLS: u64 = 2;

/// A writeback cache of three 256-way sets, checked by both checks, whose blocks count in
/// every column the checks add up. Set 0 holds a clean idle block, dirty ones (one of them
/// fallow), a block being read with a bio queued behind it and a block being cleaned, whose
/// job holds a metadata buffer; set 1 a VALID block and an INVALID slot that a zombie holds
/// busy; set 2 a VALID block, the rest INVALID. The victim index is kept.
struct Fixture {
    fc: Flashcache,
    /// Exactly VALID: cached and reclaimable.
    clean: u32,
    dirty: u32,
    /// VALID|DIRTY with both fallow bits.
    fallow: u32,
    /// VALID|CACHE_READ_IN_PROGRESS with one bio on the pending queue.
    queued: u32,
    /// VALID|DIRTY|DISK_WRITE_IN_PROGRESS: its set's and the cache's `clean_inprog`.
    cleaning: u32,
    cleaning_job: JobId,
    /// INVALID|CACHE_WRITE_IN_PROGRESS, held by the zombie of `held_tag`.
    held: u32,
    held_tag: CacheIoTag,
    /// Set 2's VALID block, alone in its hash bucket.
    alone: u32,
}

/// Block-aligned disk sectors that hash to `set`.
fn dbns_of(geometry: Geometry, set: u32) -> impl Iterator<Item = u64> {
    (0u64..)
        .map(move |block| block * u64::from(geometry.block_size_sectors))
        .filter(move |&dbn| geometry.set_of(dbn) == set)
}

fn bio(id: u64, sector: u64) -> CacheBio {
    CacheBio {
        id: CacheBioId(id),
        op: Op::Read,
        sector,
        sectors: 8,
        pid: 1,
        tgid: 1,
    }
}

fn fixture() -> Fixture {
    let blocks = u64::from(SETS * ASSOC);
    let mut table = TableLine::new(CacheMode::WriteBack, Persistence::Create, 1 << 20);
    table.assoc = Associativity::Ways(ASSOC);
    // The blocks' 8 sectors each and 5 metadata blocks of 8 sectors.
    let devices = CacheDeviceSizes {
        ssd_sectors: blocks * 8 + 5 * 8,
        disk_sectors: 1 << 20,
        ssd_logical_block_bytes: 512,
    };
    let mut config = FlashcacheConfig::new(table);
    config.options.lru_hot_pct = Some(HOT_PCT);
    config
        .table
        .validate(&devices, &config.options)
        .expect("a valid table");
    let geometry = Geometry::for_new_cache(&config.table, &devices).expect("sized");
    assert_eq!((geometry.num_sets, geometry.assoc), (SETS, ASSOC));
    let mut loaded = vec![(0u64, BlockState::INVALID); (SETS * ASSOC) as usize];
    let dirty = BlockState::VALID.union(BlockState::DIRTY);
    let (clean, dirty_index, fallow, queued, cleaning) = (0, 1, 2, 3, 4);
    let states = [
        (clean, BlockState::VALID),
        (dirty_index, dirty),
        (fallow, dirty),
        (queued, BlockState::VALID),
        (cleaning, dirty),
    ];
    for ((index, state), dbn) in states.into_iter().zip(dbns_of(geometry, 0)) {
        loaded[index as usize] = (dbn, state);
    }
    let valid_in_1 = geometry.set_start(1);
    let alone = geometry.set_start(2);
    for (index, set) in [(valid_in_1, 1), (alone, 2)] {
        let dbn = dbns_of(geometry, set).next().expect("a dbn of the set");
        loaded[index as usize] = (dbn, BlockState::VALID);
    }
    let mut fc = Flashcache::assemble(config, devices, geometry, false, Some(&loaded), 0);
    assert_eq!(fc.hot_list_pct, HOT_PCT);

    fc.blocks.apply(fallow, Transition::FallowSweep);
    fc.blocks.apply(fallow, Transition::FallowSweep);
    fc.blocks.set_mut(0).dirty_fallow = 1;

    fc.blocks.apply(queued, Transition::ReadHit);
    let sector = fc.blocks.block(queued).dbn;
    let reading = fc.new_job(Action::ReadCache, Some(bio(1, sector)), queued);
    fc.jobs.job_mut(reading).in_flight = true;
    fc.blocks.block_mut(queued).nr_queued = 1;
    fc.pending
        .enqueue(bio(2, sector), queued, PendingAction::ReadCache);

    fc.blocks.apply(cleaning, Transition::StartCleaning);
    fc.blocks.set_mut(0).clean_inprog = 1;
    fc.clean_inprog = 1;
    let cleaning_job = fc.new_job(Action::WriteDisk, None, cleaning);
    let buffer = fc.meta.alloc(4096);
    fc.jobs.job_mut(cleaning_job).md_buffer = Some(buffer);

    // A write miss's slot whose SSD write was cancelled while running: invalidated, busy
    // until its zombie ends.
    let held = fc.blocks.invalid_get(1).expect("a free slot in set 1");
    fc.blocks.apply(held, Transition::ClaimForWrite);
    fc.blocks.apply(held, Transition::InvalidateWhileBusy);
    let writing = fc.new_job(Action::WriteCache, None, held);
    let held_tag = CacheIoTag::Job(writing);
    fc.zombies.insert(held_tag, ZombieHold::Slot);

    fc.blocks.set_victim_index_mode(VictimIndexMode::Always);
    fc.check_invariants();
    for _ in 0..FIXTURE_CALLS {
        fc.check_invariants_incremental();
    }
    Fixture {
        fc,
        clean,
        dirty: dirty_index,
        fallow,
        queued,
        cleaning,
        cleaning_job,
        held,
        held_tag,
        alone,
    }
}

/// The full check fails, naming `what`.
fn full_check_names(fc: &Flashcache, what: &str) {
    let message = panic_of(|| fc.check_invariants());
    assert!(message.contains(what), "full check: {message}");
}

/// The next incremental check (not a periodic full one) fails, naming `what`.
fn incremental_check_names(fc: &mut Flashcache, what: &str) {
    assert!(
        !fc.incremental_check
            .calls
            .is_multiple_of(FULL_CHECK_EVERY_CALLS),
        "the next call is a full one"
    );
    let message = panic_of(|| fc.check_invariants_incremental());
    assert!(message.contains(what), "incremental check: {message}");
}

/// Both checks fail, naming `what`.
fn both_checks_name(fc: &mut Flashcache, what: &str) {
    full_check_names(fc, what);
    incremental_check_names(fc, what);
}

/// Both checks fail; the incremental one names `what` (the full one fails earlier, in the
/// list walks).
fn both_checks_fail_the_incremental_one_naming(fc: &mut Flashcache, what: &str) {
    panic_of(|| fc.check_invariants());
    incremental_check_names(fc, what);
}

/// Set-relative `index` in `set`.
fn relative(fc: &Flashcache, set: u32, index: u32) -> u32 {
    index - fc.blocks.geometry.set_start(set)
}

// ------------------------------------------------------------------ the consistent cache

#[test]
fn the_consistent_cache_passes_both_checks_and_counts_in_every_column() {
    let mut f = fixture();
    let fc = &mut f.fc;
    // Every count the checks add up is non-zero somewhere, and differs between the two
    // things a slip could confuse (hot and warm blocks).
    assert_eq!(fc.cached_blocks, 7);
    assert_eq!(fc.nr_dirty, 3);
    assert_eq!(fc.pending.len(), 1);
    assert_eq!(fc.clean_inprog, 1);
    assert_eq!(fc.blocks.set(0).dirty_fallow, 1);
    let set_0 = fc.blocks.set(0);
    assert_eq!((set_0.hot.count, set_0.warm.count), (64, 192));
    assert!(fc.blocks.state(f.clean).is_reclaimable());
    assert!(fc.blocks.state(f.queued).is_busy() && fc.blocks.state(f.queued).is_valid());
    assert!(fc.blocks.state(f.held).is_busy() && fc.blocks.state(f.held).is_invalid());
    assert_eq!(fc.zombie_held_slots().collect::<Vec<_>>(), vec![f.held]);
    assert_eq!(fc.jobs.live(), 3);
    assert_eq!(fc.meta.in_use(), 1);
    assert!(fc.blocks.victim_index.is_some());
    fc.check_invariants();
    fc.check_invariants_incremental();
    // A periodic full call agrees with the counts kept by difference.
    while !fc
        .incremental_check
        .calls
        .is_multiple_of(FULL_CHECK_EVERY_CALLS)
    {
        fc.check_invariants_incremental();
    }
    fc.check_invariants_incremental();
}

#[test]
fn consistent_changes_keep_the_incremental_counts_in_step() {
    let mut f = fixture();
    let fc = &mut f.fc;
    // Each block changed through the marking accessor (its use count only): what it counts
    // comes off its set's counts and the totals, and goes back on, in every column.
    let hot = fc.blocks.lru_head(0, LruList::Hot).expect("a hot list");
    for index in [
        f.clean, f.dirty, f.fallow, f.queued, f.cleaning, f.held, hot,
    ] {
        fc.blocks.block_mut(index).use_cnt += 1;
        fc.check_invariants_incremental();
    }
    // The cleaning ends: its set's clean_inprog goes from 1 to 0.
    fc.blocks.apply(f.cleaning, Transition::MarkClean);
    fc.blocks.apply(f.cleaning, Transition::IoFinished);
    fc.blocks.set_mut(0).nr_dirty -= 1;
    fc.nr_dirty -= 1;
    fc.blocks.set_mut(0).clean_inprog = 0;
    fc.clean_inprog = 0;
    let buffer = fc.jobs.job_mut(f.cleaning_job).md_buffer.take();
    fc.meta
        .free(buffer.expect("the cleaning's metadata buffer"));
    fc.free_job(f.cleaning_job);
    fc.check_invariants_incremental();
    // Another starts: from 0 to 1.
    fc.blocks.apply(f.dirty, Transition::StartCleaning);
    fc.blocks.set_mut(0).clean_inprog = 1;
    fc.clean_inprog = 1;
    fc.check_invariants_incremental();
    fc.check_invariants();
}

// ------------------------------------------------------------------ one block's state

#[test]
fn a_block_both_valid_and_invalid_is_named() {
    let mut f = fixture();
    let state = f.fc.blocks.state(f.dirty).union(BlockState::INVALID);
    f.fc.blocks.block_mut(f.dirty).state = state;
    both_checks_name(&mut f.fc, "exactly one of VALID/INVALID");
}

#[test]
fn a_dirty_block_without_valid_is_named() {
    let mut f = fixture();
    let state = f.fc.blocks.state(f.held).union(BlockState::DIRTY);
    f.fc.blocks.block_mut(f.held).state = state;
    both_checks_name(&mut f.fc, "DIRTY without VALID");
}

#[test]
fn fallow_bits_on_a_busy_dirty_block_are_named() {
    let mut f = fixture();
    let state = f.fc.blocks.state(f.cleaning);
    f.fc.blocks.block_mut(f.cleaning).state = state.union(BlockState::DIRTY_FALLOW_1);
    both_checks_name(&mut f.fc, "fallow bits on");
}

#[test]
fn a_bio_queued_on_an_idle_block_is_named() {
    let mut f = fixture();
    f.fc.blocks.block_mut(f.clean).nr_queued = 1;
    f.fc.pending
        .enqueue(bio(3, 0), f.clean, PendingAction::ReadCache);
    both_checks_name(&mut f.fc, "bios queued on idle");
}

#[test]
fn an_invalid_busy_slot_no_zombie_holds_is_named() {
    let mut f = fixture();
    let fc = &mut f.fc;
    let slot = fc.blocks.invalid_get(2).expect("a free slot in set 2");
    fc.blocks.apply(slot, Transition::ClaimForRead);
    fc.blocks.apply(slot, Transition::InvalidateWhileBusy);
    both_checks_name(
        fc,
        &format!("block {slot}: INVALID and busy between inputs"),
    );
}

#[test]
fn a_slot_its_zombie_let_go_of_while_still_busy_is_named_at_once() {
    let mut f = fixture();
    // The hold ends and nothing releases the slot: the block itself does not change.
    f.fc.zombies.remove(&f.held_tag);
    both_checks_name(
        &mut f.fc,
        &format!("block {}: INVALID and busy between inputs", f.held),
    );
}

// ------------------------------------------------------------------ one set's record

#[test]
fn a_set_dirty_count_off_by_one_is_named() {
    let mut f = fixture();
    f.fc.blocks.set_mut(0).nr_dirty += 1;
    both_checks_name(&mut f.fc, "set 0 nr_dirty");
}

#[test]
fn a_set_fallow_count_off_by_one_is_named() {
    let mut f = fixture();
    f.fc.blocks.set_mut(0).dirty_fallow -= 1;
    both_checks_name(&mut f.fc, "set 0 dirty_fallow");
}

#[test]
fn a_set_whose_lru_lists_lost_count_of_a_block_is_named() {
    let mut f = fixture();
    f.fc.blocks.set_mut(2).warm.count -= 1;
    both_checks_fail_the_incremental_one_naming(
        &mut f.fc,
        "set 2: LRU lists hold some of its blocks",
    );
}

#[test]
fn a_set_hot_count_its_blocks_disagree_with_is_named() {
    let mut f = fixture();
    let set = f.fc.blocks.set_mut(2);
    set.hot.count += 1;
    set.warm.count -= 1;
    both_checks_fail_the_incremental_one_naming(
        &mut f.fc,
        "set 2: hot list length against its blocks' lists",
    );
}

#[test]
fn hot_blocks_above_the_hot_share_are_named_by_the_incremental_check_with_their_set() {
    let mut f = fixture();
    // The share shrinks and no block moves to the warm list.
    f.fc.hot_list_pct = HOT_PCT / 2;
    full_check_names(&f.fc, "set 0: 64 hot blocks, above the hot share");
    // The incremental check reads the share with a changed set's record.
    f.fc.check_invariants_incremental();
    f.fc.blocks.set_mut(1);
    incremental_check_names(&mut f.fc, "set 1: 64 hot blocks, above the hot share");
}

#[test]
fn a_set_record_is_checked_against_each_count_of_its_blocks() {
    let f = fixture();
    let held: Vec<u32> = f.fc.zombie_held_slots().collect();
    let counts = f.fc.check_set(0, &held, &mut Vec::new());
    f.fc.check_set_record(0, counts);
    // The reclaimable count meets only the victim index here: a block that changed
    // without telling the index fails the index's own checks first.
    type Corruption = fn(&mut SetCounts);
    let corruptions: [(&str, Corruption); 4] = [
        ("set 0 nr_dirty", |counts| counts.dirty += 1),
        ("set 0 dirty_fallow", |counts| counts.fallow -= 1),
        ("victim index: heap length of set 0", |counts| {
            counts.reclaimable += 1
        }),
        ("set 0: hot list length", |counts| counts.hot -= 1),
    ];
    for (what, corrupt) in corruptions {
        let mut wrong = counts;
        corrupt(&mut wrong);
        let message = panic_of(|| f.fc.check_set_record(0, wrong));
        assert!(message.contains(what), "{what}: {message}");
    }
}

// ------------------------------------------------------------------ cache-wide counters

#[test]
fn a_cached_block_count_off_by_one_is_named() {
    let mut f = fixture();
    f.fc.cached_blocks -= 1;
    both_checks_name(&mut f.fc, "failed: cached_blocks");
}

#[test]
fn a_dirty_block_count_off_by_one_is_named() {
    let mut f = fixture();
    f.fc.nr_dirty += 1;
    both_checks_name(&mut f.fc, "failed: nr_dirty");
}

#[test]
fn a_pending_bio_no_block_counts_is_named() {
    let mut f = fixture();
    f.fc.pending
        .enqueue(bio(3, 0), f.cleaning, PendingAction::WriteCache);
    both_checks_name(&mut f.fc, "failed: pending_jobs_count");
}

#[test]
fn a_cleaning_count_off_by_one_is_named() {
    let mut f = fixture();
    f.fc.clean_inprog += 1;
    both_checks_name(&mut f.fc, "failed: clean_inprog");
}

#[test]
fn a_set_cleaning_count_off_by_one_is_named() {
    let mut f = fixture();
    f.fc.blocks.set_mut(1).clean_inprog += 1;
    both_checks_name(&mut f.fc, "failed: clean_inprog");
}

#[test]
fn lru_list_totals_that_miss_a_block_are_named() {
    let mut f = fixture();
    f.fc.blocks.lru_warm_blocks -= 1;
    both_checks_name(&mut f.fc, "lru_total == 0 ||");
}

#[test]
fn a_zombie_holding_a_slot_with_io_in_flight_is_named() {
    let mut f = fixture();
    let CacheIoTag::Job(job) = f.held_tag else {
        unreachable!("a data IO's zombie");
    };
    f.fc.jobs.job_mut(job).in_flight = true;
    both_checks_name(&mut f.fc, "holds a slot with IO in flight");
}

#[test]
fn a_metadata_rewrite_waiter_on_an_idle_block_is_named() {
    let mut f = fixture();
    f.fc.md_heads[0].rewrite_waiters.push(f.cleaning_job);
    both_checks_name(&mut f.fc, "metadata block 0: waiters on an idle block");
}

// ------------------------------------------------------------------ jobs and buffers

const BUFFERS: &str = "metadata buffers handed out vs their holders";

#[test]
fn a_leaked_metadata_buffer_is_named_by_the_full_check_and_the_next_periodic_one() {
    let mut f = fixture();
    f.fc.meta.alloc(512);
    full_check_names(&f.fc, BUFFERS);
    // The incremental check counts buffers on its full calls only (outside a store).
    for _ in FIXTURE_CALLS..FULL_CHECK_EVERY_CALLS {
        f.fc.check_invariants_incremental();
    }
    let message = panic_of(|| f.fc.check_invariants_incremental());
    assert!(message.contains(BUFFERS), "{message}");
}

#[test]
fn a_metadata_buffer_freed_under_its_job_is_named() {
    let mut f = fixture();
    let buffer = f.fc.jobs.job(f.cleaning_job).md_buffer;
    f.fc.meta
        .free(buffer.expect("the cleaning's metadata buffer"));
    full_check_names(&f.fc, BUFFERS);
}

#[test]
fn while_a_store_runs_the_incremental_check_counts_buffers_on_every_call() {
    let mut f = fixture();
    f.fc.start_store();
    f.fc.check_invariants_incremental();
    f.fc.meta.alloc(512);
    incremental_check_names(&mut f.fc, BUFFERS);
}

// ------------------------------------------------------------------ what the incremental one sees

#[test]
fn an_old_neighbour_still_linking_to_a_moved_block_is_named_at_once() {
    let mut f = fixture();
    let fc = &mut f.fc;
    // Without the victim index, which would see the move first (it mirrors the lists).
    fc.blocks.set_victim_index_mode(VictimIndexMode::Never);
    fc.check_invariants_incremental();
    let warm = fc.blocks.lru_order(2, LruList::Warm);
    let (before, moved, after) = (warm[1], warm[2], warm[3]);
    let tail = *warm.last().expect("a warm list");
    let (moved_relative, tail_relative) = (relative(fc, 2, moved), relative(fc, 2, tail));
    // The block moves to the MRU end, its new neighbour and the set's tail told, its old
    // neighbours not: every changed block is linked right, the old ones are not.
    let block = fc.blocks.block_mut(moved);
    block.lru_prev = tail_relative;
    block.lru_next = NIL;
    fc.blocks.block_mut(tail).lru_next = moved_relative;
    fc.blocks.set_mut(2).warm.tail = moved_relative;
    panic_of(|| fc.check_invariants());
    let message = panic_of(|| fc.check_invariants_incremental());
    let old_neighbours = [
        format!("block {before} (Warm): successor {moved_relative} does not link back"),
        format!("block {after} (Warm): predecessor {moved_relative} does not link back"),
    ];
    assert!(old_neighbours.contains(&message), "{message}");
}

#[test]
fn a_free_list_head_its_set_record_dropped_is_named_at_once() {
    let mut f = fixture();
    let fc = &mut f.fc;
    let head = fc.blocks.set(2).invalid_head;
    fc.blocks.set_mut(2).invalid_head = NIL;
    let head = fc.blocks.geometry.set_start(2) + head;
    both_checks_fail_the_incremental_one_naming(
        fc,
        &format!("block {head} (Free) has no predecessor and is not the head"),
    );
}

/// A dbn of set 2 whose hash bucket is empty there, and the bucket.
fn empty_bucket_of_set_2(fc: &Flashcache, but_not: u32) -> (u64, u32) {
    let geometry = fc.blocks.geometry;
    dbns_of(geometry, 2)
        .map(|dbn| (dbn, geometry.bucket_of(dbn)))
        .find(|&(_, bucket)| bucket != but_not && fc.blocks.bucket_head(2, bucket) == NIL)
        .expect("an empty bucket")
}

#[test]
fn a_block_rehashed_without_leaving_its_old_bucket_is_named_at_once() {
    let mut f = fixture();
    let fc = &mut f.fc;
    let old_bucket = fc.blocks.geometry.bucket_of(fc.blocks.block(f.alone).dbn);
    assert_eq!(
        fc.blocks.bucket_head(2, old_bucket),
        relative(fc, 2, f.alone)
    );
    assert_eq!(
        fc.blocks.block(f.alone).hash_next,
        NIL,
        "alone in its bucket"
    );
    // Re-keyed and hashed under its new dbn, still the head of its old bucket: the block
    // and its new bucket are right, the old bucket is not.
    let (dbn, _) = empty_bucket_of_set_2(fc, old_bucket);
    fc.blocks.block_mut(f.alone).dbn = dbn;
    fc.blocks.hash_insert(f.alone);
    both_checks_fail_the_incremental_one_naming(
        fc,
        &format!("bucket {old_bucket} of set 2: head {} (", f.alone),
    );
}

#[test]
fn a_freshly_hashed_slot_re_keyed_in_place_is_named_by_its_bucket_at_once() {
    let mut f = fixture();
    let fc = &mut f.fc;
    // A write miss claims a free slot and hashes it...
    let slot = fc.blocks.invalid_get(2).expect("a free slot in set 2");
    fc.blocks.apply(slot, Transition::ClaimForWrite);
    let (dbn, bucket) = empty_bucket_of_set_2(fc, NIL);
    fc.blocks.block_mut(slot).dbn = dbn;
    fc.blocks.hash_insert(slot);
    // ...then takes another dbn without leaving the bucket. The slot was INVALID before:
    // only the changed bucket's check names it.
    let (other, _) = empty_bucket_of_set_2(fc, bucket);
    fc.blocks.block_mut(slot).dbn = other;
    both_checks_fail_the_incremental_one_naming(
        fc,
        &format!("bucket {bucket} of set 2: head {slot} ("),
    );
}

#[test]
fn an_out_of_set_link_in_a_blocks_old_value_is_not_followed() {
    let mut f = fixture();
    let fc = &mut f.fc;
    // The incremental check marks a changed block's old neighbours (`mark_linked`) if they
    // lie in its set. Set 2 is the last: one past its end is past the cache's.
    let warm = fc.blocks.lru_order(2, LruList::Warm);
    let block = warm[1];
    let next = fc.blocks.block(block).lru_next;
    // A link broken behind the marking's back, unseen until the block changes...
    fc.blocks.block_mut_unmarked(block).lru_next = ASSOC;
    fc.check_invariants_incremental();
    // ...and mended through it: the old value is the broken one.
    fc.blocks.block_mut(block).lru_next = next;
    fc.check_invariants_incremental();
    fc.check_invariants();
}

#[test]
fn the_bucket_a_free_slots_stale_dbn_hashes_to_is_left_to_the_full_check() {
    let mut f = fixture();
    let fc = &mut f.fc;
    let geometry = fc.blocks.geometry;
    let stale = fc.blocks.block(f.alone).dbn;
    let bucket = geometry.bucket_of(stale);
    // A slot joins the bucket of the lone VALID block, which is then invalidated: it heads
    // the free list and keeps its dbn, of that bucket.
    let joining = fc.blocks.invalid_get(2).expect("a free slot in set 2");
    fc.blocks.apply(joining, Transition::ClaimForRead);
    fc.blocks.block_mut(joining).dbn = dbns_of(geometry, 2)
        .find(|&dbn| dbn != stale && geometry.bucket_of(dbn) == bucket)
        .expect("another dbn of the bucket");
    fc.blocks.hash_insert(joining);
    fc.blocks.apply(joining, Transition::IoFinished);
    fc.blocks.hash_remove(f.alone);
    fc.blocks.apply(f.alone, Transition::Invalidate);
    fc.blocks.invalid_insert(f.alone);
    fc.check_invariants_incremental();
    assert_eq!(fc.blocks.bucket_head(2, bucket), relative(fc, 2, joining));
    assert_eq!(fc.blocks.set(2).invalid_head, relative(fc, 2, f.alone));
    // The bucket's head breaks behind the marking's back; then the free slot changes. It
    // headed no bucket: the incremental check does not look at the one its dbn names.
    fc.blocks.block_mut_unmarked(joining).hash_prev = 1;
    fc.blocks.block_mut(f.alone).use_cnt += 1;
    fc.check_invariants_incremental();
    full_check_names(
        fc,
        &format!("block {joining} (Bucket({bucket})): predecessor 1 does not link back"),
    );
}
