//! The raid5 write hole as the oracle sees it: which volume sectors a member failure after a
//! crash makes "contents unknown".
//!
//! The model: a raid5 volume (the array is the volume, sector for sector) loses power. A
//! stripe whose blocks the crash left uncertain ([`super::Oracle::crash_uncertain_blocks`]:
//! a write in flight, or acknowledged and not yet durable) may hold parity that disagrees
//! with its data: the data and parity member writes land or not independently. Such a
//! stripe is *suspect* until the array's resync has recomputed its parity. When a member
//! fails, every read of its data is computed as parity XOR the other members' data; in a
//! suspect stripe the resync has not covered, that result may be wrong. Those sectors — the
//! failed member's data unit in each such stripe, 8 sectors each — become unknown.
//!
//! The acceptance rule this adds (one-sided, as the oracle's): a sector is accepted with any
//! content only if it is the failed member's data in a stripe that (a) held a block the crash
//! left uncertain and (b) the array says still needed its resync when the member failed.
//! (a) is the oracle's own knowledge; (b) is the array's claim, and trusting it can only make
//! the oracle stricter: an array that claims a stripe resynced when it was not is caught by
//! the next reconstructed read. Everything else is judged exactly as before, so a raid5 bug
//! elsewhere is never hidden, and a real write hole is never reported as a data error. It is
//! exact at stripe granularity: a suspect stripe whose torn write happened not to reach any
//! member (it was still waiting for pre-reads) is counted too, as the oracle cannot see that.
//!
//! After the failure the array has no redundancy left: the suspect set is emptied (a later
//! rebuild writes the reconstructed, still unknown, content and parity consistent with it).
//! A crash while a member is failed opens the hole at once: a degraded array cannot resync,
//! so the failed member's data in every stripe the crash made suspect becomes unknown. Which
//! members are failed at a crash is the array's own state just before it
//! ([`WriteHole::array_failed`]), not the failures the caller injected: a member whose
//! failure the array could not record (every member had failed) comes back at the next
//! assembly, and one failed by read errors or found stale at assembly never went through
//! the caller (regression 014). Without that word, the injected failures stand.
//! The array also reports its write hole itself (`Output::ContentsUnknown` on the array's
//! device id): a member failing for any reason (too many read errors, a write error) with
//! stripes still owed a resync, and a page computed after a read error in such a stripe.
//! For an array that is the volume, those reports are narrowed to the suspect stripes
//! ([`WriteHole::suspect_part`]); for an array under flashcache (its disk, sector for
//! sector the volume's) the oracle has no crash knowledge of the array's stripes and takes
//! the array's word.

use dmsim_engine::block::SECTORS_PER_PAGE;
use dmsim_engine::raid5::{Geometry, STRIPE_SECTORS};
use std::collections::BTreeSet;

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct WriteHole {
    geometry: Geometry,
    /// Member sectors of suspect stripes.
    suspect: BTreeSet<u64>,
    /// Sectors made unknown by member failures, in all.
    unknown_sectors: u64,
    /// The members failed now (or being rebuilt), by role.
    failed: Vec<bool>,
}

impl WriteHole {
    /// The write hole of an array of `geometry` that is the volume.
    pub fn new(geometry: Geometry) -> WriteHole {
        WriteHole {
            geometry,
            suspect: BTreeSet::new(),
            unknown_sectors: 0,
            failed: vec![false; geometry.members()],
        }
    }

    /// A crash left `blocks` (4 KiB volume blocks) uncertain: their stripes are suspect.
    /// With a member already failed, returns the volume ranges that became unknown at once
    /// (see the module documentation).
    pub fn crashed<'a>(&mut self, blocks: impl IntoIterator<Item = &'a u64>) -> Vec<(u64, u64)> {
        for &block in blocks {
            let sector = block * SECTORS_PER_PAGE;
            if sector >= self.geometry.array_sectors() {
                continue;
            }
            let member_sector = self.geometry.locate(sector).member_sector;
            self.suspect
                .insert(member_sector - member_sector % STRIPE_SECTORS);
        }
        let failed: Vec<usize> = (0..self.failed.len()).filter(|&m| self.failed[m]).collect();
        self.open_hole(&failed, &|_| true)
    }

    /// The array's failed members (failed, or spares still being rebuilt) as the array
    /// itself had them, read just before a crash: they replace what the model knew (see the
    /// module documentation).
    pub fn array_failed(&mut self, failed: &[bool]) {
        assert_eq!(
            failed.len(),
            self.geometry.members(),
            "one entry per member of the array"
        );
        self.failed.copy_from_slice(failed);
    }

    /// Stripes that may hold stale parity (before any failure).
    pub fn suspect_stripes(&self) -> usize {
        self.suspect.len()
    }

    /// `member` failed; `needs_resync(member_sector)` is the array's word on whether the
    /// stripe there still needed its resync. Returns the volume ranges (sector, sectors) that
    /// became unknown, in volume order.
    pub fn member_failed(
        &mut self,
        member: usize,
        needs_resync: &dyn Fn(u64) -> bool,
    ) -> Vec<(u64, u64)> {
        assert!(
            member < self.geometry.members(),
            "member {member} of the array"
        );
        self.failed[member] = true;
        self.open_hole(&[member], needs_resync)
    }

    /// `failed` members' data in the suspect stripes that `needs_resync` (parity's member
    /// holds no data there) becomes unknown: those volume ranges, in volume order. With a
    /// member failed no stripe is suspect any more (see the module documentation).
    fn open_hole(
        &mut self,
        failed: &[usize],
        needs_resync: &dyn Fn(u64) -> bool,
    ) -> Vec<(u64, u64)> {
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for &member in failed {
            ranges.extend(
                self.suspect
                    .iter()
                    .copied()
                    .filter(|&stripe| {
                        needs_resync(stripe)
                            && self.geometry.parity_member(self.geometry.row_of(stripe)) != member
                    })
                    .map(|stripe| (self.geometry.logical_sector(member, stripe), STRIPE_SECTORS)),
            );
        }
        if !failed.is_empty() {
            self.suspect.clear();
        }
        ranges.sort_unstable();
        self.unknown_sectors += ranges.iter().map(|&(_, sectors)| sectors).sum::<u64>();
        ranges
    }

    /// The parts of volume range (`sector`, `sectors`) in stripes that are suspect now, in
    /// volume order: the array's own report of its write hole (a page computed from parity
    /// after a read error, a member failing), narrowed to what the oracle knows a crash
    /// may have torn.
    pub fn suspect_part(&self, sector: u64, sectors: u64) -> Vec<(u64, u64)> {
        let end = (sector + sectors).min(self.geometry.array_sectors());
        let mut parts: Vec<(u64, u64)> = Vec::new();
        let mut at = sector;
        while at < end {
            let page_end = ((at / SECTORS_PER_PAGE + 1) * SECTORS_PER_PAGE).min(end);
            let member_sector = self.geometry.locate(at).member_sector;
            if self
                .suspect
                .contains(&(member_sector - member_sector % STRIPE_SECTORS))
            {
                match parts.last_mut() {
                    Some((start, length)) if *start + *length == at => *length += page_end - at,
                    _ => parts.push((at, page_end - at)),
                }
            }
            at = page_end;
        }
        parts
    }

    /// Sectors member failures made unknown so far.
    pub fn unknown_sectors(&self) -> u64 {
        self.unknown_sectors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmsim_engine::block::DeviceInfo;
    use dmsim_engine::raid5::Layout;

    /// 4 members, 16-sector chunks, left-symmetric: row 0 has parity on member 3 and data
    /// chunks 0, 1, 2 on members 0, 1, 2.
    fn geometry() -> Geometry {
        Geometry::new(&[DeviceInfo::new(1024, 512); 4], 16, Layout::LeftSymmetric).expect("valid")
    }

    #[test]
    fn only_the_failed_members_data_in_unsynced_suspect_stripes_is_unknown() {
        let mut hole = WriteHole::new(geometry());
        // Volume block 0 (chunk 0 on member 0, member sector 0) and block 5 (chunk 2 on
        // member 2, member sector 8) were being written.
        hole.crashed(&[0, 5]);
        assert_eq!(hole.suspect_stripes(), 2);
        // Member 1 fails; the resync already covered member sector 0.
        let ranges = hole.member_failed(1, &|stripe| stripe >= 8);
        // Member 1's data at member sector 8 is chunk 1's second page: volume sector 24.
        assert_eq!(ranges, vec![(24, 8)]);
        assert_eq!(hole.unknown_sectors(), 8);
        assert_eq!(hole.suspect_stripes(), 0, "no redundancy left to be stale");
        // A crash while member 1 is failed: its data in the torn stripe is unknown at once.
        assert_eq!(hole.crashed(&[0]), vec![(16, 8)]);
        assert_eq!(hole.suspect_stripes(), 0);
        // Parity's member failing loses no data.
        let mut hole = WriteHole::new(geometry());
        assert!(hole.crashed(&[0]).is_empty());
        assert!(hole.member_failed(3, &|_| true).is_empty());
    }

    /// Regression 014: the caller failed member 2 while every member was failing, so the
    /// array never recorded it and took member 2 back at the next assembly; member 0, failed
    /// by read errors and stale, stayed out. A crash then tears a full-row write: member 0's
    /// data there is computed from parity the crash may have lost.
    #[test]
    fn a_crash_opens_the_hole_for_the_members_the_array_had_failed() {
        let mut hole = WriteHole::new(geometry());
        assert!(hole.member_failed(2, &|_| true).is_empty());
        hole.array_failed(&[true, false, false, false]);
        // Block 2 (chunk 1 on member 1, member sector 0) was being written.
        assert_eq!(
            hole.crashed(&[2]),
            vec![(0, 8)],
            "member 0's data in stripe 0"
        );
        assert_eq!(hole.suspect_stripes(), 0);
        // Healthy again (rebuilt): a crash only makes its stripes suspect.
        hole.array_failed(&[false; 4]);
        assert!(hole.crashed(&[2]).is_empty());
        assert_eq!(hole.suspect_stripes(), 1);
    }
}
