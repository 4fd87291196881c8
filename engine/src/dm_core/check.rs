//! dm core's invariant checks: the full check, and the check after each input that looks
//! only at the bio records whose slab slots changed since its last call (a record whose id
//! entry changes is marked too), with the full check every [`FULL_CHECK_EVERY_CALLS`]th
//! call.
//!
//! Not covered between full checks: a page freed behind the back of an unchanged record
//! (a bug of whoever freed it, which owns no record here to mark) is caught by the next
//! full check, within [`FULL_CHECK_EVERY_CALLS`] inputs.
//!
//! [`FULL_CHECK_EVERY_CALLS`]: crate::changed_ids::FULL_CHECK_EVERY_CALLS

use super::{BioRecord, DmCore};
use crate::changed_ids::CheckSchedule;
use crate::services::Services;
use crate::slab::SlabKey;

/// What [`DmCore::check_invariants_incremental`] carries between calls.
#[derive(Debug, Clone, Default)]
pub(super) struct IncrementalCheck {
    /// When the next call checks everything.
    schedule: CheckSchedule,
    /// The changed slots being checked (kept for its allocation).
    changes: Vec<(u32, bool)>,
    /// Occupied slots as counted.
    occupied: usize,
}

impl DmCore {
    pub fn check_invariants(&self, services: &Services) -> Result<(), String> {
        let records_checked = self
            .bios
            .check_each(|key, record| self.check_record(key, record, services))?;
        self.check_index_and_admission(services, records_checked)
    }

    /// [`DmCore::check_invariants`] for a check after every input: each record whose slot
    /// changed since the last call is checked as the full check checks it, the slab's
    /// bookkeeping by difference, the id index's size and the admission queue's head on
    /// every call; everything every [`FULL_CHECK_EVERY_CALLS`]th call and after a failure.
    ///
    /// [`FULL_CHECK_EVERY_CALLS`]: crate::changed_ids::FULL_CHECK_EVERY_CALLS
    pub fn check_invariants_incremental(&mut self, services: &Services) -> Result<(), String> {
        let mut progress = std::mem::take(&mut self.incremental_check);
        self.bios.take_changes(&mut progress.changes);
        let result = if progress.schedule.full_due() {
            progress.occupied = self.bios.len();
            self.check_invariants(services)
        } else {
            self.check_changed(&mut progress, services)
        };
        progress.schedule.done(&result);
        self.incremental_check = progress;
        result
    }

    /// The incremental part of [`DmCore::check_invariants_incremental`].
    fn check_changed(
        &self,
        progress: &mut IncrementalCheck,
        services: &Services,
    ) -> Result<(), String> {
        let records_checked =
            self.bios
                .check_changed(&progress.changes, &mut progress.occupied, |key, record| {
                    self.check_record(key, record, services)
                })?;
        self.check_index_and_admission(services, records_checked)
    }

    /// One record: indexed by its id, some piece pending, its pages owned.
    fn check_record(
        &self,
        key: SlabKey,
        record: &BioRecord,
        services: &Services,
    ) -> Result<(), String> {
        if self.ids.get(record.id.0) != Some(&key) {
            return Err(format!("bio {:?} not indexed by its id", record.id));
        }
        if record.pending == 0 {
            return Err(format!(
                "bio {:?} has no pending piece but lives",
                record.id
            ));
        }
        for &page in &record.pages {
            if !services.arena().is_owned(page) {
                return Err(format!("bio {:?} holds {page:?} which is free", record.id));
            }
        }
        Ok(())
    }

    /// The id index's size, then the records' first error, then the admission queue (the
    /// full check's order).
    fn check_index_and_admission(
        &self,
        services: &Services,
        records_checked: Result<(), String>,
    ) -> Result<(), String> {
        if self.ids.len() != self.bios.len() {
            return Err(format!(
                "{} bio ids indexed for {} bios",
                self.ids.len(),
                self.bios.len()
            ));
        }
        records_checked?;
        if let Some((bio, _)) = self.admission.front() {
            if services.arena().free_pages() >= Self::pages_for(bio) && self.finished.is_empty() {
                return Err(format!(
                    "bio {:?} waits for memory although enough pages are free",
                    bio.id
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::DmCore;
    use crate::block::{DeviceId, DeviceInfo, Op};
    use crate::changed_ids::FULL_CHECK_EVERY_CALLS;
    use crate::io::{Bio, BioFlags, BioId, SectorData};
    use crate::services::Services;
    use crate::slab::SlabKey;
    use crate::target::{Target, TargetSpec};
    use crate::{AnomalyPolicy, EngineConfig};

    /// A read of `sectors` at sector `id * 8`.
    fn read(id: u64, sectors: u32) -> Bio {
        Bio {
            id: BioId(id),
            op: Op::Read,
            sector: id * 8,
            sectors,
            flags: BioFlags::default(),
            data: SectorData::new(),
        }
    }

    /// dm core over a linear target with two reads admitted, after a first (full)
    /// incremental check.
    fn two_bios() -> (DmCore, Services, [SlabKey; 2]) {
        let config = EngineConfig {
            arena_pages: 64,
            plugging: None,
            ..EngineConfig::default()
        };
        let mut services = Services::new(&config, vec![DeviceInfo::new(1 << 20, 512)]).unwrap();
        let spec = TargetSpec::Linear {
            device: DeviceId(0),
            offset_sectors: 0,
        };
        let mut target = Target::new(&spec, AnomalyPolicy::default(), &mut services).unwrap();
        let mut core = DmCore::default();
        for id in [1, 2] {
            core.submit(read(id, 8), &mut target, &mut services)
                .unwrap();
        }
        core.check_invariants_incremental(&services).unwrap();
        let keys = [1, 2].map(|id| *core.ids.get(id).unwrap());
        (core, services, keys)
    }

    #[test]
    fn a_changed_record_is_checked_at_once() {
        let (mut core, services, [first, _]) = two_bios();
        core.bios.get_mut(first).unwrap().pending = 0;
        assert_eq!(
            core.check_invariants_incremental(&services).unwrap_err(),
            "bio BioId(1) has no pending piece but lives"
        );
    }

    #[test]
    fn an_id_entry_changed_marks_the_record_it_named() {
        let (mut core, services, [first, second]) = two_bios();
        // The id of the first bio now names the second: both records are marked.
        core.ids.insert(1, second);
        core.bios.touch(first);
        assert_eq!(
            core.check_invariants_incremental(&services).unwrap_err(),
            "bio BioId(1) not indexed by its id"
        );
    }

    #[test]
    fn a_record_changed_behind_the_slab_waits_for_the_periodic_full_check() {
        let (mut core, services, [_, second]) = two_bios();
        core.bios.get_mut(second).unwrap().pending = 0;
        core.bios.take_changes(&mut Vec::new());
        for call in 1..FULL_CHECK_EVERY_CALLS {
            assert_eq!(
                core.check_invariants_incremental(&services),
                Ok(()),
                "call {call}"
            );
        }
        assert_eq!(
            core.check_invariants_incremental(&services).unwrap_err(),
            "bio BioId(2) has no pending piece but lives"
        );
    }

    #[test]
    fn a_removed_record_is_counted_off_the_slab() {
        let (mut core, services, [first, _]) = two_bios();
        core.bios.remove(first).unwrap();
        assert_eq!(
            core.check_invariants_incremental(&services).unwrap_err(),
            "2 bio ids indexed for 1 bios"
        );
    }

    // The check on each kind of corrupted state (the explorer only ever runs it on a
    // correct dm core, where it must pass: these are what show it would fail).

    #[test]
    fn a_page_freed_under_a_live_bio_is_named() {
        let (core, mut services, [first, _]) = two_bios();
        let page = core.bios.get(first).unwrap().pages[0];
        services.arena_mut().release(page);
        assert_eq!(
            core.check_invariants(&services).unwrap_err(),
            format!("bio BioId(1) holds {page:?} which is free")
        );
    }

    #[test]
    fn a_bio_waiting_for_memory_that_is_free_is_named() {
        let (mut core, services, _) = two_bios();
        core.admission.push_back((read(3, 8), 0));
        assert_eq!(
            core.check_invariants(&services).unwrap_err(),
            "bio BioId(3) waits for memory although enough pages are free"
        );
    }

    #[test]
    fn a_bio_waiting_for_memory_passes_while_too_little_is_free_or_pieces_are_to_be_accounted() {
        let (mut core, services, [first, _]) = two_bios();
        // More pages than the whole arena holds.
        core.admission.push_back((read(3, 8 * 128), 0));
        core.check_invariants(&services).unwrap();
        // Enough free, but finished pieces may admit it first (they are accounted before).
        core.admission.clear();
        core.admission.push_back((read(3, 8), 0));
        core.finished
            .push((crate::target::BioKey(first), crate::block::IoStatus::Ok));
        core.check_invariants(&services).unwrap();
    }
}
