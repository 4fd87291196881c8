//! A second reading of flashcache's lookup, allocation and replacement (spec 1.7-1.11),
//! written from the spec alone, held against the engine's state machine in the hit-counting
//! mode (`dmsim hits`) on the seed's own workload.
//!
//! Why: which block a miss evicts, and in what order the LRU lists move, change no byte a
//! reader sees: the data oracle and every invariant pass a cache that evicts the wrong
//! block, promotes too early or never moves a hit to the MRU end. Yet that order is what
//! users compare policies by. The model predicts, for every part of every request, whether
//! it hits, which slot it takes and what each counter of the path does; the engine must
//! place every dbn in the slot the model put it in, and end with the model's counters.
//!
//! Scope: writethrough and writearound (no dirty blocks, so no cleaning order: a writeback
//! seed's cache runs as writethrough); FIFO, LRU and `lru_strict`, with `set
//! reclaim_policy`, `set lru_hot_pct`, `set lru_promote_thresh` and `set
//! skip_seq_thresh_kb` messages (the seed's other messages are not sent); the sequential
//! detector as drawn; everything else cached (`cache_all`, no pid lists, no discards). The
//! seed's workload and geometry as drawn. The hit-counting mode maps every part of a
//! request before any completes, so the blocks a request's earlier parts took are busy for
//! its later ones; it runs faults free, so no block is ever queued on.
//!
//! Deliberately shared with the engine: the placement of hashed sets (`disk_assoc`: the
//! lookup3 hash, pinned by the engine's test vectors) and the text of messages.

use crate::rig::workload;
use crate::spec::{SeedSpec, TargetChoice};
use dmsim_engine::block::Op;
use dmsim_engine::flashcache::command::{parse, Command};
use dmsim_engine::flashcache::geometry::Geometry;
use dmsim_engine::flashcache::{
    CacheDeviceSizes, CacheMode, FlashcacheConfig, FlashcacheStats, HitCounter, ReclaimPolicy,
    Tunable, Tunables,
};
use std::collections::VecDeque;

/// The sequential detector's flows (`SEQUENTIAL_TRACKER_QUEUE_DEPTH`).
const SEQUENTIAL_FLOWS: usize = 32;

/// flashcache's internal hot share at creation (the exposed sysctl says 75: quirk).
const HOT_PCT_AT_CREATION: u32 = 50;

/// The cache the model runs: the seed's flashcache as drawn, brought into the model's
/// scope (see the module): a writeback cache runs as writethrough (with the legacy
/// placement and read fills, which writethrough has), everything cached that the
/// sequential detector lets through. `None`: not a flashcache seed.
fn model_config(spec: &SeedSpec) -> Option<FlashcacheConfig> {
    let TargetChoice::Flashcache(config) = &spec.target else {
        return None;
    };
    let mut config = (**config).clone();
    if config.table.mode == CacheMode::WriteBack {
        config.table.mode = CacheMode::WriteThrough;
        config.table.disk_assoc_sectors = 0;
        config.table.write_only = false;
    }
    config.tunables.cache_all = true;
    Some(config)
}

/// Whether `spec` has a cache for the model.
pub fn applies(spec: &SeedSpec) -> bool {
    // Flashcache over the bare disk (not over a raid5 array: `TargetChoice::flashcache`
    // answers for both).
    matches!(spec.target, TargetChoice::Flashcache(_)) && !spec.segments.is_empty()
}

/// Runs the first segment's requests (less its discards, which the hit-counting mode does
/// not take) and its messages within the model's scope through a [`HitCounter`] and the
/// model side by side. Only for a spec that [`applies`]. `Ok(false)`: the hit-counting
/// mode refused the cache brought into scope (not compared).
pub fn check(spec: &SeedSpec, devices: CacheDeviceSizes) -> Result<bool, String> {
    let config = model_config(spec).expect("policy_model::check outside its scope");
    let Ok(mut hits) = HitCounter::new(config.clone(), devices) else {
        return Ok(false);
    };
    if spec.victim_index_from_start {
        // The index's own FIFO and LRU halves, against the model as the walk is.
        hits.choose_victims_by_index();
    }
    let geometry = *hits.flashcache().geometry();
    let mut model = Model::new(
        Shape {
            block_sectors: u64::from(geometry.block_size_sectors),
            assoc: geometry.assoc,
            num_sets: geometry.num_sets,
            hashed: (!geometry.uses_legacy_mapping()).then_some(geometry),
        },
        config.table.mode,
        hits.flashcache().status().write_only,
        &config.tunables,
    );
    let first = &spec.segments[0];
    for (text, tunable) in first
        .messages
        .iter()
        .filter_map(|text| Some((text, tunable_in_scope(text)?)))
    {
        // A message the target refuses (a tunable writeback alone registers) changes nothing.
        if hits.message(text).is_ok() {
            model.set(tunable);
        }
    }
    let mut parts = Vec::new();
    for (request, record) in workload(&spec.workload, first.requests, 0).enumerate() {
        let Some(op) = record.op.to_block_op().filter(|op| *op != Op::Discard) else {
            continue;
        };
        hits.request(op, record.sector, record.sectors)
            .map_err(|e| format!("the hit-counting mode refused request {request}: {e}"))?;
        parts.clear();
        model.request(op, record.sector, record.sectors, &mut parts);
        for &(dbn, model_slot) in &parts {
            let engine = hits.flashcache().find_block(dbn);
            if engine != model_slot {
                return Err(format!(
                    "{:?} cache, request {request} ({} of {} sectors at {}): disk block {dbn} \
                     is in cache block {engine:?}, the model put it in {model_slot:?}",
                    config.table.mode,
                    op_name(op),
                    record.sectors,
                    record.sector,
                ));
            }
        }
    }
    check_every_slot(&hits, &model)?;
    check_stats(hits.stats(), hits.gauges().cached_blocks, &model)
        .map_err(|e| format!("{:?} cache: {e}", config.table.mode))?;
    Ok(true)
}

fn op_name(op: Op) -> &'static str {
    if op.is_write() {
        "write"
    } else {
        "read"
    }
}

/// Every slot of the cache holds what the model says, valid or not.
fn check_every_slot(hits: &HitCounter, model: &Model) -> Result<(), String> {
    for (set_number, set) in model.sets.iter().enumerate() {
        for (offset, slot) in set.slots.iter().enumerate() {
            let index = model.shape.index(set_number as u32, offset as u32);
            let (state, dbn) = hits.flashcache().block(index);
            let engine = state.is_valid().then_some(dbn);
            let expected = slot.valid.then_some(slot.dbn);
            if engine != expected {
                return Err(format!(
                    "at the end cache block {index} holds disk block {engine:?}, the model \
                     says {expected:?}"
                ));
            }
        }
    }
    Ok(())
}

/// The tunable `text` sets, if the model follows it (read by the engine's own parser: the
/// text of messages is shared, see the module).
fn tunable_in_scope(text: &str) -> Option<Tunable> {
    match parse(text) {
        Ok(Command::Set(
            tunable @ (Tunable::ReclaimPolicy(_)
            | Tunable::LruHotPct(_)
            | Tunable::LruPromoteThresh(_)
            | Tunable::SkipSeqThreshKb(_)),
        )) => Some(tunable),
        _ => None,
    }
}

/// The cache's shape.
#[derive(Debug, Clone, Copy)]
struct Shape {
    block_sectors: u64,
    assoc: u32,
    num_sets: u32,
    /// `disk_assoc` placement: the engine's geometry places (see the module); `None`: the
    /// legacy mapping.
    hashed: Option<Geometry>,
}

impl Shape {
    /// Spec 1.3 `hash_block`: consecutive runs of `assoc` blocks go to consecutive sets.
    fn set_of(&self, dbn: u64) -> u32 {
        if let Some(geometry) = &self.hashed {
            return geometry.set_of(dbn);
        }
        ((dbn / self.block_sectors / u64::from(self.assoc)) % u64::from(self.num_sets)) as u32
    }

    fn index(&self, set: u32, offset: u32) -> u32 {
        set * self.assoc + offset
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    valid: bool,
    dbn: u64,
    hot: bool,
    use_cnt: u8,
    /// Taken by an earlier part of the request being mapped.
    busy: bool,
}

#[derive(Debug, Clone, Default)]
struct Set {
    slots: Vec<Slot>,
    /// The free list, LIFO: its head is the last element.
    free: Vec<u32>,
    /// LRU lists, LRU end first.
    hot: VecDeque<u32>,
    warm: VecDeque<u32>,
    fifo_next: u32,
}

impl Set {
    fn new(assoc: u32, hot_pct: u32) -> Set {
        let hot_ways = hot_ways(assoc, hot_pct);
        let mut set = Set {
            slots: vec![Slot::default(); assoc as usize],
            // Created in index order, pushed on a LIFO: the highest index is handed out first.
            free: (0..assoc).collect(),
            ..Set::default()
        };
        for offset in 0..assoc {
            // Each slot joins its list at the LRU end.
            let hot = offset < hot_ways;
            set.slots[offset as usize].hot = hot;
            set.list(hot).push_front(offset);
        }
        set
    }

    fn list(&mut self, hot: bool) -> &mut VecDeque<u32> {
        if hot {
            &mut self.hot
        } else {
            &mut self.warm
        }
    }

    fn unlink(&mut self, offset: u32) {
        let hot = self.slots[offset as usize].hot;
        let list = self.list(hot);
        let at = list
            .iter()
            .position(|&o| o == offset)
            .expect("every slot is on its list");
        list.remove(at);
    }

    fn move_to_mru(&mut self, offset: u32, hot: bool) {
        self.unlink(offset);
        self.slots[offset as usize].hot = hot;
        self.list(hot).push_back(offset);
    }

    fn move_to_lru_end(&mut self, offset: u32, hot: bool) {
        self.unlink(offset);
        self.slots[offset as usize].hot = hot;
        self.list(hot).push_front(offset);
    }

    fn find(&self, dbn: u64) -> Option<u32> {
        self.slots
            .iter()
            .position(|s| s.valid && s.dbn == dbn)
            .map(|o| o as u32)
    }

    /// Exactly VALID: clean (always, here), idle.
    fn reclaimable(&self, offset: u32) -> bool {
        let slot = &self.slots[offset as usize];
        slot.valid && !slot.busy
    }

    /// The first reclaimable block from the warm list's LRU end, then the hot list's.
    fn first_reclaimable(&self) -> Option<u32> {
        self.warm
            .iter()
            .chain(self.hot.iter())
            .copied()
            .find(|&o| self.reclaimable(o))
    }
}

/// A set's hot ways for a hot share of `pct` percent, rounded down.
fn hot_ways(assoc: u32, pct: u32) -> u32 {
    (u64::from(assoc) * u64::from(pct) / 100) as u32
}

/// What a lookup found (spec 1.8).
#[derive(Debug, Clone, Copy)]
enum Lookup {
    Hit(u32),
    /// A free slot (INVALID) or one reclaimed (VALID), by offset in the set.
    Slot(u32),
    NoRoom,
}

/// The engine's counters against the model's: every one the model moves, and every other
/// one still at zero (nothing on these paths may move them).
fn check_stats(
    engine: &FlashcacheStats,
    engine_cached_blocks: u64,
    model: &Model,
) -> Result<(), String> {
    if *engine == model.stats && engine_cached_blocks == model.cached_blocks {
        return Ok(());
    }
    Err(format!(
        "the engine's counters differ from the model's:\nengine {engine:?}, cached_blocks \
         {engine_cached_blocks}\nmodel  {:?}, cached_blocks {}",
        model.stats, model.cached_blocks
    ))
}

struct Model {
    shape: Shape,
    mode: CacheMode,
    write_only: bool,
    policy: ReclaimPolicy,
    promote_thresh: u32,
    /// The hot share the lists were last balanced to.
    hot_list_pct: u32,
    sets: Vec<Set>,
    stats: FlashcacheStats,
    cached_blocks: u64,
    /// Slots the request being mapped took: (set, offset).
    busy: Vec<(u32, u32)>,
    /// `skip_seq_thresh_kb`; 0: the detector is off.
    seq_thresh_kb: u32,
    /// The sequential detector's flows (sector, count), most recently used first.
    flows: VecDeque<(u64, u64)>,
}

impl Model {
    fn new(shape: Shape, mode: CacheMode, write_only: bool, tunables: &Tunables) -> Model {
        let policy = tunables.reclaim_policy;
        // lru_strict keeps one list: a cache created under it starts all warm.
        let hot_list_pct = if policy == ReclaimPolicy::LruStrict {
            0
        } else {
            HOT_PCT_AT_CREATION
        };
        Model {
            shape,
            mode,
            write_only,
            policy,
            promote_thresh: tunables.lru_promote_thresh,
            hot_list_pct,
            sets: (0..shape.num_sets)
                .map(|_| Set::new(shape.assoc, hot_list_pct))
                .collect(),
            stats: FlashcacheStats::default(),
            cached_blocks: 0,
            busy: Vec::new(),
            seq_thresh_kb: tunables.skip_seq_thresh_kb,
            // Every flow starts at sector 0 with count 0.
            flows: vec![(0, 0); SEQUENTIAL_FLOWS].into(),
        }
    }

    /// A tunable [`tunable_in_scope`] let through.
    fn set(&mut self, tunable: Tunable) {
        match tunable {
            Tunable::ReclaimPolicy(policy) => self.policy = policy,
            Tunable::LruPromoteThresh(n) => self.promote_thresh = n,
            Tunable::LruHotPct(pct) => self.rebalance(pct),
            Tunable::SkipSeqThreshKb(kb) => self.seq_thresh_kb = kb,
            other => unreachable!("{other:?} is outside the model's scope"),
        }
    }

    /// Moves blocks between the lists' LRU ends from the last balance's hot share to
    /// `pct`'s; a share above 100 is ignored.
    fn rebalance(&mut self, pct: u32) {
        if pct > 100 {
            return;
        }
        let old_hot = hot_ways(self.shape.assoc, self.hot_list_pct);
        let new_hot = hot_ways(self.shape.assoc, pct);
        let (from_hot, count) = if new_hot > old_hot {
            (false, new_hot - old_hot)
        } else {
            (true, old_hot - new_hot)
        };
        for set in &mut self.sets {
            for _ in 0..count {
                let Some(&offset) = set.list(from_hot).front() else {
                    break;
                };
                set.slots[offset as usize].use_cnt = 0;
                set.move_to_lru_end(offset, !from_hot);
            }
        }
        self.hot_list_pct = pct;
    }

    /// One request: split at cache block boundaries, each part mapped in order; then all
    /// complete. `parts` gets each part's disk block and the cache block holding it.
    fn request(&mut self, op: Op, sector: u64, sectors: u64, parts: &mut Vec<(u64, Option<u32>)>) {
        let bs = self.shape.block_sectors;
        let end = sector + sectors;
        let mut at = sector;
        while at < end {
            let dbn = at - at % bs;
            let part_end = end.min(dbn + bs);
            self.map(op, dbn, part_end - at == bs);
            at = part_end;
        }
        for (set, offset) in self.busy.drain(..) {
            self.sets[set as usize].slots[offset as usize].busy = false;
        }
        let mut at = sector;
        while at < end {
            let dbn = at - at % bs;
            let set = self.shape.set_of(dbn);
            let slot = self.sets[set as usize].find(dbn);
            parts.push((dbn, slot.map(|offset| self.shape.index(set, offset))));
            at = dbn + bs;
        }
    }

    fn map(&mut self, op: Op, dbn: u64, whole_block: bool) {
        let write = op.is_write();
        if write {
            self.stats.writes += 1;
        } else {
            self.stats.reads += 1;
        }
        let set = self.shape.set_of(dbn);
        // Writes are filtered before the lookup (writearound's never reach the detector);
        // reads only when a miss found a slot.
        if !whole_block
            || (write && (self.mode == CacheMode::WriteAround || self.sequential(dbn, write)))
        {
            self.invalidate(set, dbn, write);
            self.uncached(write);
            return;
        }
        let lookup = self.lookup(set, dbn);
        match (lookup, write) {
            (Lookup::Hit(offset), false) => {
                self.stats.read_hits += 1;
                self.stats.ssd_reads += 1;
                self.take(set, offset);
            }
            (Lookup::Hit(offset), true) => {
                // Writethrough: one write to both devices.
                self.stats.write_hits += 1;
                self.stats.disk_writes += 1;
                self.stats.ssd_writes += 1;
                self.take(set, offset);
            }
            (Lookup::Slot(offset), false) if !self.write_only && !self.sequential(dbn, write) => {
                self.claim(set, offset, dbn, false);
                self.stats.disk_reads += 1;
                // The fill.
                self.stats.ssd_writes += 1;
            }
            (Lookup::Slot(offset), false) => {
                // A write-only cache fills nothing, nor a sequential read: a free slot goes
                // back.
                let sets = &mut self.sets[set as usize];
                if !sets.slots[offset as usize].valid {
                    sets.free.push(offset);
                }
                self.uncached(false);
            }
            (Lookup::Slot(offset), true) => {
                // The write to both devices counts on the SSD alone here (quirk).
                self.claim(set, offset, dbn, true);
                self.stats.ssd_writes += 1;
            }
            (Lookup::NoRoom, _) => self.uncached(write),
        }
    }

    /// Spec 1.7 `skip_sequential_io`: whether this IO continues a flow past the threshold.
    /// Moves the flows on every call while the detector is on.
    fn sequential(&mut self, sector: u64, write: bool) -> bool {
        if self.seq_thresh_kb == 0 {
            return false;
        }
        let bs = self.shape.block_sectors;
        let found = self
            .flows
            .iter()
            .position(|&(last, _)| sector == last || sector == last + bs);
        let Some(at) = found else {
            // A new flow recycles the least recently used one.
            self.flows.pop_back();
            self.flows.push_front((sector, 1));
            return false;
        };
        let (last, count) = self.flows.remove(at).expect("found");
        if sector == last {
            // A repeat: only moves to the front.
            self.flows.push_front((last, count));
            return false;
        }
        self.flows.push_front((sector, count + 1));
        let skip = (count + 1) * bs * 512 > u64::from(self.seq_thresh_kb) * 1024;
        if skip && write {
            self.stats.uncached_sequential_writes += 1;
        } else if skip {
            self.stats.uncached_sequential_reads += 1;
        }
        skip
    }

    fn uncached(&mut self, write: bool) {
        if write {
            self.stats.uncached_writes += 1;
            self.stats.disk_writes += 1;
        } else {
            self.stats.uncached_reads += 1;
            self.stats.disk_reads += 1;
        }
    }

    /// Spec 1.11: an idle cached copy of the block is dropped onto the free list.
    fn invalidate(&mut self, set: u32, dbn: u64, write: bool) {
        let sets = &mut self.sets[set as usize];
        let Some(offset) = sets.find(dbn) else {
            return;
        };
        if write {
            self.stats.wr_invalidates += 1;
        } else {
            self.stats.rd_invalidates += 1;
        }
        assert!(
            !sets.slots[offset as usize].busy,
            "a request's parts are distinct blocks"
        );
        sets.slots[offset as usize].valid = false;
        sets.free.push(offset);
        self.cached_blocks -= 1;
    }

    fn take(&mut self, set: u32, offset: u32) {
        self.sets[set as usize].slots[offset as usize].busy = true;
        self.busy.push((set, offset));
    }

    fn claim(&mut self, set: u32, offset: u32, dbn: u64, write: bool) {
        let slot = &mut self.sets[set as usize].slots[offset as usize];
        match (slot.valid, write) {
            (true, false) => self.stats.replace += 1,
            (true, true) => self.stats.wr_replace += 1,
            (false, _) => self.cached_blocks += 1,
        }
        slot.valid = true;
        slot.dbn = dbn;
        self.take(set, offset);
    }

    /// Spec 1.8.
    fn lookup(&mut self, set: u32, dbn: u64) -> Lookup {
        let sets = &mut self.sets[set as usize];
        if let Some(offset) = sets.find(dbn) {
            if !sets.slots[offset as usize].busy {
                self.accessed(set, offset);
            }
            return Lookup::Hit(offset);
        }
        if let Some(offset) = sets.free.pop() {
            self.accessed(set, offset);
            return Lookup::Slot(offset);
        }
        let victim = match self.policy {
            ReclaimPolicy::Fifo => self.fifo_victim(set),
            ReclaimPolicy::Lru => self.lru_victim(set),
            ReclaimPolicy::LruStrict => {
                let victim = self.sets[set as usize].first_reclaimable();
                if let Some(offset) = victim {
                    self.sets[set as usize].move_to_mru(offset, false);
                }
                victim
            }
        };
        match victim {
            Some(offset) => Lookup::Slot(offset),
            None => {
                self.stats.noroom += 1;
                Lookup::NoRoom
            }
        }
    }

    /// Spec 1.8, FIFO: scan round the set from the hand; the hand ends one past where the
    /// scan stopped, also when it found nothing (then it stopped where it began).
    fn fifo_victim(&mut self, set: u32) -> Option<u32> {
        let assoc = self.shape.assoc;
        let sets = &mut self.sets[set as usize];
        let hand = sets.fifo_next;
        let found = (0..assoc)
            .map(|step| (hand + step) % assoc)
            .find(|&o| sets.reclaimable(o));
        sets.fifo_next = (found.unwrap_or(hand) + 1) % assoc;
        found
    }

    /// Spec 1.8, LRU reclaim: warm from its LRU end, else hot, demoted by swapping with
    /// the warm list's MRU block.
    fn lru_victim(&mut self, set: u32) -> Option<u32> {
        let sets = &mut self.sets[set as usize];
        let offset = sets.first_reclaimable()?;
        if !sets.slots[offset as usize].hot {
            sets.slots[offset as usize].use_cnt = 0;
            sets.move_to_mru(offset, false);
            return Some(offset);
        }
        let Some(&warm_mru) = sets.warm.back() else {
            sets.move_to_mru(offset, true);
            return Some(offset);
        };
        sets.slots[offset as usize].use_cnt = 0;
        sets.slots[warm_mru as usize].use_cnt = 0;
        sets.move_to_mru(offset, false);
        sets.move_to_lru_end(warm_mru, true);
        self.stats.lru_demotions += 1;
        Some(offset)
    }

    /// Spec 1.8 `lru_accessed` (and `lru_strict`'s move to the MRU end); FIFO keeps no order.
    fn accessed(&mut self, set: u32, offset: u32) {
        let sets = &mut self.sets[set as usize];
        match self.policy {
            ReclaimPolicy::Fifo => {}
            ReclaimPolicy::LruStrict => sets.move_to_mru(offset, false),
            ReclaimPolicy::Lru => {
                let slot = sets.slots[offset as usize];
                if slot.hot {
                    sets.move_to_mru(offset, true);
                    return;
                }
                if !slot.valid {
                    sets.move_to_mru(offset, false);
                    return;
                }
                let use_cnt = slot.use_cnt.wrapping_add(1);
                sets.slots[offset as usize].use_cnt = use_cnt;
                let Some(&hot_lru) = sets.hot.front() else {
                    sets.move_to_mru(offset, false);
                    return;
                };
                if u32::from(use_cnt) < self.promote_thresh {
                    sets.move_to_mru(offset, false);
                    return;
                }
                // Promoted: it enters the hot list at its LRU end (quirk); the hot list's
                // LRU block goes to the warm MRU end.
                sets.slots[offset as usize].use_cnt = 0;
                sets.slots[hot_lru as usize].use_cnt = 0;
                sets.move_to_lru_end(offset, true);
                sets.move_to_mru(hot_lru, false);
                self.stats.lru_promotions += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The model against hand-worked examples of spec 1.8, so it cannot simply agree with
    //! an engine that shares its mistake. One set of 4 blocks of 8 sectors.
    use super::*;

    fn model(mode: CacheMode, policy: ReclaimPolicy) -> Model {
        let shape = Shape {
            block_sectors: 8,
            assoc: 4,
            num_sets: 1,
            hashed: None,
        };
        let tunables = Tunables {
            reclaim_policy: policy,
            ..Tunables::default()
        };
        Model::new(shape, mode, false, &tunables)
    }

    /// Where each of `blocks` (block numbers) is cached, by slot.
    fn slots(model: &Model, blocks: &[u64]) -> Vec<Option<u32>> {
        blocks.iter().map(|&b| model.sets[0].find(b * 8)).collect()
    }

    fn access(model: &mut Model, op: Op, block: u64) {
        model.request(op, block * 8, 8, &mut Vec::new());
    }

    #[test]
    fn fifo_fills_from_the_highest_slot_then_evicts_round_from_slot_0() {
        let mut m = model(CacheMode::WriteThrough, ReclaimPolicy::Fifo);
        for block in 0..4 {
            access(&mut m, Op::Read, block);
        }
        assert_eq!(
            slots(&m, &[0, 1, 2, 3]),
            [Some(3), Some(2), Some(1), Some(0)]
        );
        // A hit does not protect block 3 (slot 0) under FIFO.
        access(&mut m, Op::Read, 3);
        access(&mut m, Op::Read, 4);
        access(&mut m, Op::Write, 5);
        assert_eq!(slots(&m, &[3, 2, 4, 5]), [None, None, Some(0), Some(1)]);
        let c = &m.stats;
        assert_eq!((c.read_hits, c.replace, c.wr_replace), (1, 1, 1));
        assert_eq!((m.cached_blocks, c.ssd_writes, c.disk_writes), (4, 6, 0));
    }

    #[test]
    fn lru_promotes_into_the_hot_lists_lru_end_and_demotes_from_it() {
        let mut m = model(CacheMode::WriteThrough, ReclaimPolicy::Lru);
        // Half the ways hot: slots 0 and 1 hot, 2 and 3 warm; slot 3 is handed out first.
        for block in 0..4 {
            access(&mut m, Op::Read, block);
        }
        // Block 0 sits in warm slot 3: the second access promotes it, swapping with the hot
        // list's LRU block (slot 1, block 2), which goes to the warm MRU end.
        access(&mut m, Op::Read, 0);
        access(&mut m, Op::Read, 0);
        assert_eq!(m.stats.lru_promotions, 1);
        assert_eq!(m.sets[0].hot, [3, 0]);
        assert_eq!(m.sets[0].warm, [2, 1]);
        // Reclaim takes the warm list's LRU block: slot 2 (block 1).
        access(&mut m, Op::Read, 9);
        assert_eq!(slots(&m, &[1, 9]), [None, Some(2)]);
        assert_eq!(m.sets[0].warm, [1, 2]);
    }

    #[test]
    fn writearound_writes_drop_the_cached_copy_onto_the_free_list() {
        let mut m = model(CacheMode::WriteAround, ReclaimPolicy::Fifo);
        access(&mut m, Op::Read, 7);
        assert_eq!(slots(&m, &[7]), [Some(3)]);
        access(&mut m, Op::Write, 7);
        assert_eq!(slots(&m, &[7]), [None]);
        // The freed slot is the free list's head again.
        access(&mut m, Op::Read, 8);
        assert_eq!(slots(&m, &[8]), [Some(3)]);
        let c = &m.stats;
        assert_eq!(
            (c.wr_invalidates, c.uncached_writes, c.disk_writes),
            (1, 1, 1)
        );
        assert_eq!(m.cached_blocks, 1);
    }

    #[test]
    fn a_partial_read_of_a_cached_block_invalidates_it() {
        let mut m = model(CacheMode::WriteThrough, ReclaimPolicy::Fifo);
        access(&mut m, Op::Read, 2);
        m.request(Op::Read, 2 * 8 + 1, 3, &mut Vec::new());
        assert_eq!(slots(&m, &[2]), [None]);
        assert_eq!((m.stats.rd_invalidates, m.stats.uncached_reads), (1, 1));
    }

    #[test]
    fn the_sequential_detector_lets_a_flow_through_until_it_passes_the_threshold() {
        let mut m = model(CacheMode::WriteThrough, ReclaimPolicy::Fifo);
        m.seq_thresh_kb = 8;
        // Sector 0 repeats the flows' starting sector; then each block adds 4 KiB to the
        // flow, and the third block after it (12 KiB > 8 KiB) is skipped.
        for block in 0..4 {
            access(&mut m, Op::Read, block);
        }
        assert_eq!(slots(&m, &[0, 1, 2, 3]), [Some(3), Some(2), Some(1), None]);
        assert_eq!(
            (m.stats.uncached_sequential_reads, m.stats.uncached_reads),
            (1, 1)
        );
        // The skipped read pushed its free slot back: the next miss takes it.
        access(&mut m, Op::Write, 9);
        assert_eq!(slots(&m, &[9]), [Some(0)]);
    }
}
