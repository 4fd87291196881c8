//! The flashcache adapter's own records checked after every input: only the pieces, parts
//! (flashcache bios) and outstanding requests whose slab slots changed since the last call,
//! with the full check ([`FlashcacheTarget::check_adapter`]) every
//! [`FULL_CHECK_EVERY_CALLS`]th call and after a failure.
//!
//! Why changed slots suffice: a piece's invariants (its live parts against `remaining`, a
//! piece without parts waiting for setup) depend on the piece, the parts naming it and
//! `setup_waiting`; a part's on the piece it names. Every change of a part marks its slot,
//! and its old and new piece are checked; every change of `setup_waiting` marks the pieces
//! it names. Parts are counted per piece slot by difference, with the generation they were
//! counted for, so a part left behind by a finished piece is never counted for the next
//! piece in its slot.
//!
//! The page pool is checked whole when it changed since the last call; a free page of an
//! unchanged pool that someone else frees or puts in flight (a bug elsewhere) is caught by
//! the full check only. Requests kept for their zombies are counted by difference, so
//! agreeing with the state machine costs nothing while neither has any.
//!
//! [`FULL_CHECK_EVERY_CALLS`]: crate::changed_ids::FULL_CHECK_EVERY_CALLS

use super::execute::Outstanding;
use super::FlashcacheTarget;
use crate::changed_ids::CheckSchedule;
use crate::services::Services;
use crate::slab::SlabKey;

/// Parts counted for one piece slot: the slot's generation they name, and how many.
#[derive(Debug, Clone, Copy, Default)]
struct SlotParts {
    generation: u32,
    parts: u32,
}

/// What [`FlashcacheTarget::check_adapter_incremental`] carries between calls.
#[derive(Debug, Clone, Default)]
pub(super) struct AdapterCheck {
    schedule: CheckSchedule,
    /// Changed slots of the pieces, parts and outstanding requests (kept for their
    /// allocations).
    piece_changes: Vec<(u32, bool)>,
    part_changes: Vec<(u32, bool)>,
    outstanding_changes: Vec<(u32, bool)>,
    /// Per part slot, the piece its part was counted for at the last call.
    counted_for: Vec<Option<SlabKey>>,
    /// Per piece slot, the parts counted for it.
    per_piece: Vec<SlotParts>,
    /// Two generations of one piece slot both had parts counted since the last full check
    /// (a part outlived its piece): fails until the next full check recounts.
    mixed_generations: bool,
    /// Occupied slots as counted.
    pieces_occupied: usize,
    parts_occupied: usize,
    outstanding_occupied: usize,
    /// Per outstanding slot, whether it kept zombies at the last call, and how many did.
    keeps_zombies: Vec<bool>,
    zombie_requests: usize,
    /// [`PagePool::changes`] at the last check of the pool.
    ///
    /// [`PagePool::changes`]: super::page_pool::PagePool::changes
    pool_changes_checked: u64,
    /// Piece slots to check this call (scratch).
    piece_slots: Vec<u32>,
    /// Scratch of the full check.
    parts_scratch: Vec<u32>,
}

impl FlashcacheTarget {
    /// [`FlashcacheTarget::check_adapter`] for a check after every input (see the module
    /// documentation). A failure found incrementally is reported as the full check reports
    /// it, if the full check finds it. Allocates nothing once warm.
    pub(super) fn check_adapter_incremental(&mut self, services: &Services) -> Result<(), String> {
        // Borrowed in place: moving the state out and back cost more than the check.
        let mut progress = self.adapter_check.borrow_mut();
        let progress = &mut *progress;
        self.pieces.take_changes(&mut progress.piece_changes);
        self.fc_bios.take_changes(&mut progress.part_changes);
        self.outstanding
            .take_changes(&mut progress.outstanding_changes);
        let result = if progress.schedule.full_due() {
            self.check_adapter(services, &mut progress.parts_scratch)
                .map(|()| self.recount(progress))
        } else {
            self.check_adapter_changed(services, progress)
                .or_else(|incremental| {
                    self.check_adapter(services, &mut progress.parts_scratch)
                        .and(Err(incremental))
                })
        };
        progress.schedule.done(&result);
        result
    }

    /// After a full check: the counts from scratch.
    fn recount(&self, progress: &mut AdapterCheck) {
        progress.counted_for.clear();
        progress.counted_for.resize(self.fc_bios.slots(), None);
        progress.per_piece.clear();
        progress
            .per_piece
            .resize(self.pieces.slots(), SlotParts::default());
        for (id, part) in self.fc_bios.iter() {
            // The full check passed: every part names a live piece.
            let slot = &mut progress.per_piece[part.piece.index as usize];
            slot.generation = part.piece.generation;
            slot.parts += 1;
            progress.counted_for[id.index as usize] = Some(part.piece);
        }
        progress.mixed_generations = false;
        progress.pieces_occupied = self.pieces.len();
        progress.parts_occupied = self.fc_bios.len();
        progress.outstanding_occupied = self.outstanding.len();
        progress.keeps_zombies.clear();
        progress
            .keeps_zombies
            .resize(self.outstanding.slots(), false);
        progress.zombie_requests = 0;
        for (key, entry) in self.outstanding.iter() {
            if matches!(entry, Outstanding::Zombies { .. }) {
                progress.keeps_zombies[key.index as usize] = true;
                progress.zombie_requests += 1;
            }
        }
        progress.pool_changes_checked = self.pool.changes();
    }

    /// Whether the requests kept for their zombies may disagree with the state machine's:
    /// false when neither has any (as counted by the last check of the adapter's records).
    pub(super) fn zombies_to_agree(&self, fc: &crate::flashcache::Flashcache) -> bool {
        self.adapter_check.borrow().zombie_requests > 0 || fc.zombie_tags().next().is_some()
    }

    /// The incremental part of [`FlashcacheTarget::check_adapter_incremental`], in the full
    /// check's order: the anomalies, the slabs' bookkeeping, the page pool, then the parts
    /// and pieces.
    fn check_adapter_changed(
        &self,
        services: &Services,
        progress: &mut AdapterCheck,
    ) -> Result<(), String> {
        self.check_no_anomaly()?;
        progress.pieces_occupied =
            by_difference(progress.pieces_occupied, &progress.piece_changes, |index| {
                self.pieces.at(index).is_some()
            });
        self.pieces.check_occupied(progress.pieces_occupied)?;
        progress.counted_for.resize(self.fc_bios.slots(), None);
        progress
            .per_piece
            .resize(self.pieces.slots(), SlotParts::default());
        progress.piece_slots.clear();
        let mut parts_error = Ok(());
        for &(index, was_occupied) in &progress.part_changes {
            if let Some(old) = progress.counted_for[index as usize].take() {
                let slot = &mut progress.per_piece[old.index as usize];
                if slot.generation == old.generation {
                    // Wrapping: a count made wrong by a change that escaped the marking
                    // fails the check, it does not panic.
                    slot.parts = slot.parts.wrapping_sub(1);
                } else {
                    progress.mixed_generations = true;
                }
                progress.piece_slots.push(old.index);
            }
            let now = self.fc_bios.at(index);
            progress.parts_occupied = progress
                .parts_occupied
                .wrapping_add(usize::from(now.is_some()))
                .wrapping_sub(usize::from(was_occupied));
            let Some((id, part)) = now else { continue };
            if self.pieces.get(part.piece).is_none() {
                if parts_error.is_ok() {
                    parts_error = Err(format!(
                        "flashcache bio {} belongs to no live piece",
                        id.to_u64()
                    ));
                }
                continue;
            }
            let slot = &mut progress.per_piece[part.piece.index as usize];
            if slot.parts == 0 {
                slot.generation = part.piece.generation;
            } else if slot.generation != part.piece.generation {
                progress.mixed_generations = true;
            }
            slot.parts += 1;
            progress.counted_for[index as usize] = Some(part.piece);
            progress.piece_slots.push(part.piece.index);
        }
        self.fc_bios.check_occupied(progress.parts_occupied)?;
        progress.outstanding_occupied = by_difference(
            progress.outstanding_occupied,
            &progress.outstanding_changes,
            |index| self.outstanding.at(index).is_some(),
        );
        self.outstanding
            .check_occupied(progress.outstanding_occupied)?;
        progress
            .keeps_zombies
            .resize(self.outstanding.slots(), false);
        for &(index, _) in &progress.outstanding_changes {
            let keeps = matches!(
                self.outstanding.at(index),
                Some((_, Outstanding::Zombies { .. }))
            );
            let kept = std::mem::replace(&mut progress.keeps_zombies[index as usize], keeps);
            progress.zombie_requests = progress
                .zombie_requests
                .wrapping_add(usize::from(keeps))
                .wrapping_sub(usize::from(kept));
        }
        if self.pool.changes() != progress.pool_changes_checked {
            self.pool.check(services.arena())?;
            progress.pool_changes_checked = self.pool.changes();
        }
        parts_error?;
        if progress.mixed_generations {
            return Err("flashcache adapter: parts of two pieces of one slot counted".to_string());
        }
        let changed_pieces = progress.piece_changes.iter().map(|&(index, _)| index);
        for index in changed_pieces.chain(progress.piece_slots.iter().copied()) {
            let counted = progress.per_piece[index as usize];
            match self.pieces.at(index) {
                Some((key, piece)) => {
                    let live = if counted.generation == key.generation {
                        counted.parts
                    } else if counted.parts == 0 {
                        0
                    } else {
                        return Err(format!(
                            "piece {}: {} parts of an earlier piece in its slot counted",
                            key.to_u64(),
                            counted.parts
                        ));
                    };
                    self.check_piece(key, piece, live)?;
                }
                None if counted.parts != 0 => {
                    return Err(format!(
                        "piece slot {index}: {} parts left behind by a finished piece",
                        counted.parts
                    ));
                }
                None => {}
            }
        }
        Ok(())
    }
}

/// `occupied` brought up to date over `changes` (each slot with whether it held a value
/// before) by whether each slot holds one now.
fn by_difference(
    occupied: usize,
    changes: &[(u32, bool)],
    holds_now: impl Fn(u32) -> bool,
) -> usize {
    changes
        .iter()
        .fold(occupied, |occupied, &(index, was_occupied)| {
            // Wrapping: a change that escaped the marking makes the count wrong, not a panic.
            occupied
                .wrapping_add(usize::from(holds_now(index)))
                .wrapping_sub(usize::from(was_occupied))
        })
}

#[cfg(test)]
mod tests {
    use super::super::{FlashcacheTarget, KcopydGeneration};
    use crate::arena::Buffer;
    use crate::block::{DeviceId, DeviceInfo, Op};
    use crate::changed_ids::FULL_CHECK_EVERY_CALLS;
    use crate::config::{AnomalyPolicy, EngineConfig};
    use crate::flashcache::{CacheMode, FlashcacheConfig, Persistence, TableLine};
    use crate::services::Services;
    use crate::slab::SlabKey;
    use crate::target::io::{BioKey, TargetIo};

    const DISK_SECTORS: u64 = 1 << 16;

    /// A writethrough cache (running at once) with two read pieces in flight, after a
    /// first (full) incremental check.
    fn two_pieces() -> (FlashcacheTarget, Services, [SlabKey; 2]) {
        let config = EngineConfig {
            arena_pages: 2048,
            ..EngineConfig::default()
        };
        let devices = vec![
            DeviceInfo::new(1 << 14, 512),
            DeviceInfo::new(DISK_SECTORS, 512),
        ];
        let mut services = Services::new(&config, devices).unwrap();
        let table = TableLine::new(CacheMode::WriteThrough, Persistence::Create, DISK_SECTORS);
        let mut target = FlashcacheTarget::new(
            DeviceId(0),
            DeviceId(1),
            &FlashcacheConfig::new(table),
            KcopydGeneration::Classic,
            AnomalyPolicy::Panic,
            &mut services,
        )
        .unwrap();
        let mut finished = Vec::new();
        for (index, sector) in [0u32, 64].into_iter().enumerate() {
            let pages = services.arena_mut().alloc(1).unwrap();
            let io = TargetIo {
                bio: BioKey(SlabKey {
                    index: index as u32,
                    generation: 0,
                }),
                op: Op::Read,
                sector: u64::from(sector),
                sectors: 8,
                fua: false,
                sync: false,
                buffer: Buffer::from_pages(pages),
            };
            target.map(io, &mut services, &mut finished);
        }
        assert!(finished.is_empty());
        let keys: Vec<SlabKey> = target.pieces.iter().map(|(key, _)| key).collect();
        assert_eq!(keys.len(), 2);
        assert!(target.fc_bios.len() >= 2, "each piece has a part in flight");
        target.check_adapter_incremental(&services).unwrap();
        target.check_adapter_incremental(&services).unwrap();
        (target, services, [keys[0], keys[1]])
    }

    /// The parts (flashcache bios) of `piece`, in slab order.
    fn parts_of(target: &FlashcacheTarget, piece: SlabKey) -> Vec<SlabKey> {
        target
            .fc_bios
            .iter()
            .filter(|(_, part)| part.piece == piece)
            .map(|(id, _)| id)
            .collect()
    }

    #[test]
    fn a_changed_piece_is_checked_at_once() {
        let (mut target, services, [piece, _]) = two_pieces();
        target.pieces.get_mut(piece).unwrap().remaining += 1;
        let error = target.check_adapter_incremental(&services).unwrap_err();
        assert!(
            error.starts_with(&format!(
                "piece {}: 1 parts live, 2 remaining",
                piece.to_u64()
            )),
            "{error}"
        );
    }

    #[test]
    fn a_changed_part_checks_the_pieces_it_left_and_joined() {
        let (mut target, services, [first, second]) = two_pieces();
        let part = target
            .fc_bios
            .iter()
            .find(|(_, part)| part.piece == first)
            .map(|(id, _)| id)
            .unwrap();
        target.fc_bios.get_mut(part).unwrap().piece = second;
        let error = target.check_adapter_incremental(&services).unwrap_err();
        assert!(
            error.starts_with(&format!(
                "piece {}: 0 parts live, 1 remaining",
                first.to_u64()
            )),
            "{error}"
        );
    }

    #[test]
    fn a_part_left_behind_by_a_finished_piece_is_caught_at_once() {
        let (mut target, services, [piece, _]) = two_pieces();
        // The piece ends while its part lives, and a new piece takes its slot.
        let old = target.pieces.remove(piece).unwrap();
        let reused = target.pieces.insert(old);
        assert_eq!(reused.index, piece.index);
        let error = target.check_adapter_incremental(&services).unwrap_err();
        assert!(error.contains("belongs to no live piece"), "{error}");
        // The next call is full and fails the same way.
        assert_eq!(
            target.check_adapter_incremental(&services).unwrap_err(),
            error
        );
    }

    #[test]
    fn leaving_the_setup_queue_marks_the_piece() {
        let (mut target, services, [piece, _]) = two_pieces();
        // A piece without parts must wait for setup: one that is queued passes.
        let parts = parts_of(&target, piece);
        for part in parts {
            target.fc_bios.remove(part);
        }
        target.pieces.get_mut(piece).unwrap().remaining = 0;
        target.setup_waiting.push_back(piece);
        target.check_adapter_incremental(&services).unwrap();
        // Out of the queue, with the piece marked as `finish_setup` marks it: caught at once.
        target.setup_waiting.clear();
        target.pieces.touch(piece);
        let error = target.check_adapter_incremental(&services).unwrap_err();
        assert!(error.ends_with("waiting for setup: false"), "{error}");
    }

    #[test]
    fn a_piece_changed_behind_the_slab_waits_for_the_periodic_full_check() {
        let (mut target, services, [piece, _]) = two_pieces();
        // Changed, then its mark dropped: as if the change had escaped the marking.
        target.pieces.get_mut(piece).unwrap().remaining += 1;
        target.pieces.take_changes(&mut Vec::new());
        for call in 2..FULL_CHECK_EVERY_CALLS {
            assert_eq!(
                target.check_adapter_incremental(&services),
                Ok(()),
                "call {call}"
            );
        }
        let error = target.check_adapter_incremental(&services).unwrap_err();
        assert!(error.contains("2 remaining"), "{error}");
    }

    #[test]
    fn a_changed_pool_is_checked_at_once_an_unchanged_one_by_the_full_check() {
        let (mut target, mut services, _) = two_pieces();
        let pages = target.pool.take(2, services.arena_mut()).unwrap();
        let freed = pages[0];
        target.pool.put(pages, services.arena_mut());
        target.check_adapter_incremental(&services).unwrap();
        // A free page of the pool freed behind its back: unseen until the full check.
        services.arena_mut().release(freed);
        for call in 3..FULL_CHECK_EVERY_CALLS {
            assert_eq!(
                target.check_adapter_incremental(&services),
                Ok(()),
                "call {call}"
            );
        }
        let error = target.check_adapter_incremental(&services).unwrap_err();
        assert!(error.contains("is not owned or still in flight"), "{error}");
    }

    #[test]
    fn a_pool_that_changed_is_checked_at_once() {
        let (mut target, mut services, _) = two_pieces();
        let pages = target.pool.take(1, services.arena_mut()).unwrap();
        let freed = pages[0];
        target.pool.put(pages, services.arena_mut());
        services.arena_mut().release(freed);
        // Any call that may change the pool has it checked by the next check.
        target.pool.take(0, services.arena_mut()).unwrap();
        let error = target.check_adapter_incremental(&services).unwrap_err();
        assert!(error.contains("is not owned or still in flight"), "{error}");
    }

    #[test]
    fn a_request_kept_for_zombies_is_agreed_on_at_once() {
        let (mut target, services, _) = two_pieces();
        target.check_invariants_incremental(&services).unwrap();
        assert!(!target.zombies_to_agree(target.flashcache().unwrap()));
        let tag = crate::flashcache::CacheIoTag::Bulk(7);
        target
            .outstanding
            .insert(super::Outstanding::Zombies { tag, zombies: 1 });
        let error = target.check_invariants_incremental(&services).unwrap_err();
        assert!(error.contains("keeps zombies {Bulk(7)}"), "{error}");
    }

    // The incremental check's counts on valid states it must pass, and a corruption only
    // the incremental check can let through.

    #[test]
    fn a_piece_slot_reused_after_its_parts_ended_is_counted_afresh() {
        let (mut target, services, [piece, _]) = two_pieces();
        // The piece ends as in the engine: its parts first, then itself.
        let parts = parts_of(&target, piece);
        let mut template = None;
        for part in parts {
            template = target.fc_bios.remove(part);
        }
        let mut old = target.pieces.remove(piece).unwrap();
        target.check_adapter_incremental(&services).unwrap();
        // A new piece in the slot, waiting for setup: the slot's old generation had no
        // parts left, so none are counted for it.
        old.remaining = 0;
        let reused = target.pieces.insert(old);
        assert_eq!(reused.index, piece.index);
        assert_ne!(reused.generation, piece.generation);
        target.setup_waiting.push_back(reused);
        target.check_adapter_incremental(&services).unwrap();
        // Set up with two parts, both counted for the new generation.
        target.setup_waiting.clear();
        for _ in 0..2 {
            let mut part = template.clone().unwrap();
            part.piece = reused;
            target.fc_bios.insert(part);
        }
        target.pieces.get_mut(reused).unwrap().remaining = 2;
        target.check_adapter_incremental(&services).unwrap();
    }

    #[test]
    fn a_piece_ended_before_its_parts_is_caught_at_once() {
        let (mut target, services, [piece, _]) = two_pieces();
        target.pieces.remove(piece).unwrap();
        let error = target.check_adapter_incremental(&services).unwrap_err();
        assert!(error.contains("belongs to no live piece"), "{error}");
    }

    #[test]
    fn requests_kept_for_zombies_are_recounted_by_the_full_check() {
        let (mut target, services, _) = two_pieces();
        let tag = crate::flashcache::CacheIoTag::Bulk(7);
        target
            .outstanding
            .insert(super::Outstanding::Zombies { tag, zombies: 1 });
        // Through the next full check (its recount is what the later calls build on).
        for call in 0..FULL_CHECK_EVERY_CALLS {
            assert_eq!(
                target.check_adapter_incremental(&services),
                Ok(()),
                "call {call}"
            );
        }
        assert_eq!(target.adapter_check.borrow().zombie_requests, 1);
        assert!(target.zombies_to_agree(target.flashcache().unwrap()));
    }
}
