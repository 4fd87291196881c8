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
//! so the failed member's data in every stripe the crash made suspect becomes unknown (the
//! model remembers the first failed member; a rebuilt spare is not modelled, which only
//! makes the oracle accept more after a later crash).
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
    /// The member that failed first, if any.
    failed_member: Option<usize>,
}

impl WriteHole {
    /// The write hole of an array of `geometry` that is the volume.
    pub fn new(geometry: Geometry) -> WriteHole {
        WriteHole {
            geometry,
            suspect: BTreeSet::new(),
            unknown_sectors: 0,
            failed_member: None,
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
        match self.failed_member {
            Some(member) => self.member_failed(member, &|_| true),
            None => Vec::new(),
        }
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
        self.failed_member.get_or_insert(member);
        let mut ranges: Vec<(u64, u64)> = std::mem::take(&mut self.suspect)
            .into_iter()
            .filter(|&stripe| {
                needs_resync(stripe)
                    && self.geometry.parity_member(self.geometry.row_of(stripe)) != member
            })
            .map(|stripe| (self.geometry.logical_sector(member, stripe), STRIPE_SECTORS))
            .collect();
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
}
