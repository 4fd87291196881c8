//! Reads at a raid5 rebuild's front: while a recovery pass rebuilds a spare into a failed
//! role, the liveness read-back also reads, one at a time, a part of the role's chunk
//! around the pass's `recovery_offset`: its first stripes rebuilt, its last ones not yet.
//! Such a read must not go straight to the spare (md's `chunk_aligned_read` sends a read
//! there only when the role is in sync over all of it): the data oracle sees what a read of
//! the unrebuilt part returned.
//!
//! The front moves only while the pass runs; the checker looks at it after every input
//! ([`FrontWatch`]) and [`FrontReads`] draws a read each time it moved and stands inside a
//! chunk the role holds data in, with written data above it (unwritten sectors read zero
//! rebuilt or not, so only written ones tell). With members that answer alike the front
//! moves by md's window of 16 stripes (64 KiB), so it stands inside a chunk mostly with
//! chunks larger than that (the seeds draw some: `SeedSpec::rebuild_front_reads`).
//!
//! Deliberately not here: where the pass is allowed to be (the sync status probe and the
//! rebuilt read-back check that).

use crate::spec::SeedSpec;
use dmsim_engine::block::Op;
use dmsim_engine::io::{Bio, BioDone, BioFlags, BioId, SectorData};
use dmsim_engine::platform::BioSource;
use dmsim_engine::raid5::{Geometry, SyncAction, STRIPE_SECTORS};
use dmsim_engine::Engine;
use dmsim_sim::streams::stream;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::cell::Cell;
use std::collections::BTreeSet;
use std::rc::Rc;

/// Front reads one liveness read-back sends at most: enough to meet the front in many rows,
/// few enough that the pass soon runs alone again (each read makes the array busy, which
/// holds the pass at `speed_limit_min`).
pub const FRONT_READS_MAX: u32 = 32;

/// Bio ids of front reads start here, far above any id the read-back's own source gives.
const FRONT_READ_ID_BASE: u64 = 1 << 62;

/// Where a running recovery stands: the role being rebuilt and its `recovery_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildFront {
    pub member: usize,
    pub offset_sectors: u64,
}

/// What the checker saw after the last input: its time, and the front if a recovery pass
/// runs then.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrontSeen {
    pub now_ns: u64,
    pub front: Option<RebuildFront>,
}

impl FrontSeen {
    /// The recovery front of `engine`'s raid5 array at `now_ns`, if a recovery pass runs.
    pub fn of(now_ns: u64, engine: &Engine) -> FrontSeen {
        let front = engine.target().raid5().and_then(|raid| {
            if raid.sync_running() != Some(SyncAction::Recover) {
                return None;
            }
            let member = raid.rebuilding_member()?;
            Some(RebuildFront {
                member,
                offset_sectors: raid.members()[member].recovery_offset_sectors?,
            })
        });
        FrontSeen { now_ns, front }
    }
}

/// Shared between the checker, which updates it after every input, and [`FrontReads`].
pub type FrontWatch = Rc<Cell<FrontSeen>>;

/// What front reads of a spec need: the array's geometry, its members' smallest
/// `max_sectors` and the reads' own stream.
pub struct FrontReadPlan {
    pub geometry: Geometry,
    pub max_sectors: u64,
    pub rng: ChaCha8Rng,
}

impl FrontReadPlan {
    /// The plan of `spec`, if it reads across a rebuild's front.
    pub fn of(spec: &SeedSpec) -> Option<FrontReadPlan> {
        if !spec.rebuild_front_reads {
            return None;
        }
        let (geometry, max_sectors) = crate::counters::aligned_reads_rule(spec)?;
        Some(FrontReadPlan {
            geometry,
            max_sectors,
            rng: stream(spec.seed, "explore.rebuild_front"),
        })
    }
}

/// A bio source that adds front reads (at most one in flight) to `inner`'s bios.
pub struct FrontReads<S: BioSource> {
    inner: S,
    watch: FrontWatch,
    geometry: Geometry,
    /// The members' smallest `max_sectors`: a longer read would go through the stripe cache
    /// whatever the front.
    max_sectors: u64,
    /// 4 KiB volume blocks some write touched.
    written_blocks: BTreeSet<u64>,
    rng: ChaCha8Rng,
    reads_left: u32,
    in_flight: Option<BioId>,
    /// The front the last read was drawn at: one draw per position.
    last_front: Option<RebuildFront>,
    /// The read drawn and not yet taken: (logical sector, sectors).
    drawn: Option<(u64, u64)>,
    /// Front reads sent (they number their bio ids).
    issued: u64,
}

impl<S: BioSource> FrontReads<S> {
    pub fn new(
        inner: S,
        watch: FrontWatch,
        plan: FrontReadPlan,
        written_blocks: BTreeSet<u64>,
    ) -> FrontReads<S> {
        let FrontReadPlan {
            geometry,
            max_sectors,
            rng,
        } = plan;
        assert!(
            max_sectors >= 2 * STRIPE_SECTORS,
            "a read across the front spans two stripes at least"
        );
        FrontReads {
            inner,
            watch,
            geometry,
            max_sectors,
            written_blocks,
            rng,
            reads_left: FRONT_READS_MAX,
            in_flight: None,
            last_front: None,
            drawn: None,
            issued: 0,
        }
    }

    /// Draws the next read once the last one ended and the front moved.
    fn draw(&mut self) {
        if self.reads_left == 0 || self.in_flight.is_some() || self.drawn.is_some() {
            return;
        }
        let seen = self.watch.get().front;
        if seen == self.last_front {
            return;
        }
        self.last_front = seen;
        if let Some(front) = seen {
            self.drawn = read_across(
                &self.geometry,
                self.max_sectors,
                front,
                &self.written_blocks,
                &mut self.rng,
            );
        }
    }
}

/// A read of the rebuilt role inside the chunk `front` stands in, from at least one stripe
/// below the front to at least one above it (its ends drawn), over written data above it.
/// `None` at a chunk's start (no read inside one chunk spans the front there), in a row
/// whose parity the role holds, or with nothing written above the front in reach.
fn read_across(
    geometry: &Geometry,
    max_sectors: u64,
    front: RebuildFront,
    written_blocks: &BTreeSet<u64>,
    rng: &mut ChaCha8Rng,
) -> Option<(u64, u64)> {
    let chunk = geometry.chunk_sectors();
    let offset = front.offset_sectors;
    let chunk_start = offset - offset % chunk;
    if offset == chunk_start
        || offset >= geometry.member_sectors()
        || geometry.parity_member(geometry.row_of(offset)) == front.member
    {
        return None;
    }
    // In stripes from here on.
    let span = chunk.min(max_sectors) / STRIPE_SECTORS;
    let (start, at, end) = (
        chunk_start / STRIPE_SECTORS,
        offset / STRIPE_SECTORS,
        (chunk_start + chunk) / STRIPE_SECTORS,
    );
    let first = rng.random_range(start.max((at + 1).saturating_sub(span))..at);
    let last = rng.random_range(at..end.min(first + span));
    let (first, sectors) = (first * STRIPE_SECTORS, (last + 1 - first) * STRIPE_SECTORS);
    debug_assert!(first < offset && offset < first + sectors && sectors <= max_sectors);
    // Logical sectors are contiguous inside a chunk.
    let logical = geometry.logical_sector(front.member, first);
    let above = logical + (offset - first);
    written_blocks
        .range(above / 8..(logical + sectors).div_ceil(8))
        .next()
        .map(|_| (logical, sectors))
}

impl<S: BioSource> BioSource for FrontReads<S> {
    fn next_arrival_ns(&mut self) -> Option<u64> {
        self.draw();
        match self.drawn {
            Some(_) => Some(self.watch.get().now_ns),
            None => self.inner.next_arrival_ns(),
        }
    }

    fn take_bio(&mut self, now_ns: u64) -> Bio {
        let Some((sector, sectors)) = self.drawn.take() else {
            return self.inner.take_bio(now_ns);
        };
        let id = BioId(FRONT_READ_ID_BASE + self.issued);
        self.issued += 1;
        self.reads_left -= 1;
        self.in_flight = Some(id);
        Bio {
            id,
            op: Op::Read,
            sector,
            sectors: u32::try_from(sectors).expect("a chunk's sectors fit u32"),
            flags: BioFlags::default(),
            data: SectorData::new(),
        }
    }

    fn on_done(&mut self, now_ns: u64, done: BioDone) {
        if Some(done.id) == self.in_flight {
            self.in_flight = None;
        } else {
            self.inner.on_done(now_ns, done);
        }
    }

    fn is_finished(&self) -> bool {
        // Without a pass running (or with the budget spent) only the inner source's bios
        // come. A recovery that starts later (a reloaded array assembles first) keeps the
        // array busy, so the drive goes on and a front read may still follow.
        self.inner.is_finished()
            && self.drawn.is_none()
            && (self.reads_left == 0 || self.watch.get().front.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmsim_engine::block::DeviceInfo;
    use dmsim_engine::raid5::Layout;

    fn geometry() -> Geometry {
        // 4 members, chunks of 32 sectors.
        Geometry::new(&[DeviceInfo::new(1024, 512); 4], 32, Layout::LeftSymmetric)
            .expect("a valid array")
    }

    #[test]
    fn a_front_read_spans_the_front_inside_one_chunk_over_written_data() {
        let geometry = geometry();
        // Row 1 (member sectors 32..64) of a member that holds data there.
        let member = (0..4)
            .find(|&m| m != geometry.parity_member(1))
            .expect("a data member");
        let front = RebuildFront {
            member,
            offset_sectors: 48,
        };
        let chunk_logical = geometry.logical_sector(member, 32);
        let all: BTreeSet<u64> = (0..1024).collect();
        let mut rng = stream(1, "test.rebuild_front");
        for max_sectors in [16, 24, 1024] {
            for _ in 0..100 {
                let (sector, sectors) =
                    read_across(&geometry, max_sectors, front, &all, &mut rng).expect("a read");
                let front_logical = chunk_logical + 16;
                assert!(sector >= chunk_logical && sector + sectors <= chunk_logical + 32);
                assert!(sector + 8 <= front_logical && front_logical + 8 <= sector + sectors);
                assert!(sectors <= max_sectors && sector % 8 == 0 && sectors % 8 == 0);
            }
        }
        // Nothing written above the front in that chunk: nothing to tell.
        let below_only: BTreeSet<u64> = [chunk_logical / 8, chunk_logical / 8 + 1].into();
        assert_eq!(
            read_across(&geometry, 1024, front, &below_only, &mut rng),
            None
        );
        // At a chunk's start no read inside one chunk spans the front.
        let at_start = RebuildFront {
            member,
            offset_sectors: 64,
        };
        assert_eq!(read_across(&geometry, 1024, at_start, &all, &mut rng), None);
        // The parity member of the row holds no data there.
        let parity = RebuildFront {
            member: geometry.parity_member(1),
            offset_sectors: 48,
        };
        assert_eq!(read_across(&geometry, 1024, parity, &all, &mut rng), None);
    }
}
