//! md's `handle_stripe` for raid5: analyse a stripe head, return finished writes, serve
//! reads, fetch or compute missing pages, choose read-modify-write or reconstruct-write by
//! md's rule (delaying partial writes that need pre-reads), reconstruct parity, repair read
//! errors, and issue the decided member IOs.
//!
//! Called by the daemon loop with the head referenced; it only queues requests and finishes
//! bio segments. Every page state change goes through [`super::buffer::MemberBuffer::apply`].

use super::buffer::BufferTransition;
use super::geometry::STRIPE_SECTORS;
use super::instance::Raid5;
use super::io::{Raid5IoTag, Raid5Request};
use super::parity::{store_data, store_parity, xor_page_into, xor_pages};
use super::stripe::BioSegment;
use crate::arena::{Arena, Buffer};
use crate::block::{IoStatus, Op, PAGE_SIZE};

/// How parity is produced for a stripe write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParityMethod {
    /// P ^= old ^ new for every written member (needs old data and old parity).
    ReadModifyWrite,
    /// P = XOR of all data pages (needs every data page not fully overwritten).
    ReconstructWrite,
}

impl Raid5 {
    /// A member that can be read and written for this stripe (md's In_sync, no ReadError).
    fn in_sync(&self, head: usize, member: usize) -> bool {
        self.members[member].in_sync_at(self.cache.head(head).sector)
            && !self.cache.head(head).members[member]
                .buffer
                .has_read_error()
    }

    /// See the module documentation.
    pub(crate) fn handle_stripe(&mut self, head: usize, arena: &mut Arena) {
        self.stats.handle_stripe_runs += 1;
        let members = self.geometry.members();
        {
            let stripe = self.cache.head_mut(head);
            stripe.handle = false;
            stripe.delayed = false;
        }
        // Analyse.
        let failed: Vec<usize> = (0..members).filter(|&m| !self.in_sync(head, m)).collect();
        if failed.len() > 1 {
            self.fail_queued_bios(head);
            self.handle_sync(head, &failed, arena);
            self.issue_decided_io(head);
            return;
        }
        let parity = self.cache.head(head).parity_member;
        let mut finished: Vec<(BioSegment, IoStatus)> = Vec::new();

        // Writes whose data and parity are on the members are returned.
        let parity_dev = &self.cache.head(head).members[parity];
        if !parity_dev.buffer.is_locked() {
            let mut returned = false;
            for member in (0..members).filter(|&m| m != parity) {
                let dev = &mut self.cache.head_mut(head).members[member];
                if !dev.written.is_empty() && !dev.buffer.is_locked() && dev.buffer.is_uptodate() {
                    finished.extend(dev.written.drain(..).map(|s| (s, IoStatus::Ok)));
                    returned = true;
                }
            }
            let stripe = self.cache.head_mut(head);
            if returned && stripe.preread_active {
                stripe.preread_active = false;
                self.cache.preread_active_stripes -= 1;
            }
        }

        // Reads of up-to-date pages complete by copying.
        for member in 0..members {
            let dev = &mut self.cache.head_mut(head).members[member];
            if dev.toread.is_empty() || !dev.buffer.is_uptodate() || dev.buffer.is_locked() {
                continue;
            }
            let page = Buffer::from_pages(vec![dev.page]);
            for segment in dev.toread.drain(..) {
                let mut contents = Vec::with_capacity(segment.sectors as usize);
                arena.read_sectors(
                    &page.slice(u64::from(segment.page_offset), u64::from(segment.sectors)),
                    u64::from(segment.sectors),
                    &mut contents,
                );
                arena.write_sectors(&segment.buffer, &contents);
                finished.push((segment, IoStatus::Ok));
            }
        }

        // Fetch pages that reads need; compute a failed member's page once all others are
        // up to date.
        let failed_one = failed.first().copied();
        let failed_needed = failed_one.is_some_and(|f| {
            let dev = &self.cache.head(head).members[f];
            !dev.buffer.is_uptodate()
                && !dev.buffer.is_locked()
                && (!dev.toread.is_empty() || (!dev.towrite.is_empty() && !dev.overwrite()))
        });
        for member in 0..members {
            let dev = &self.cache.head(head).members[member];
            if dev.buffer.is_uptodate() || dev.buffer.is_locked() {
                continue;
            }
            if dev.toread.is_empty() && !failed_needed {
                continue;
            }
            if Some(member) == failed_one {
                self.compute_if_possible(head, member, arena);
            } else {
                self.cache.head_mut(head).members[member].apply(BufferTransition::StartRead);
            }
        }

        // Writes: choose rmw or rcw by md's rule.
        if self
            .cache
            .head(head)
            .members
            .iter()
            .any(|d| !d.towrite.is_empty())
        {
            self.plan_write(head, arena);
        }

        // A page computed after a read error is written back to its member.
        if failed.len() == 1 {
            let member = failed[0];
            let dev = &self.cache.head(head).members[member];
            if !self.members[member].faulty
                && dev.buffer.has_read_error()
                && dev.buffer.is_uptodate()
                && !dev.buffer.is_locked()
            {
                self.cache.head_mut(head).members[member].apply(BufferTransition::StartRewrite);
                self.stats.read_errors_corrected += 1;
                self.members[member].corrected_read_errors += 1;
            }
        }

        self.handle_sync(head, &failed, arena);
        self.issue_decided_io(head);
        for (segment, status) in finished {
            self.segment_done(segment.bio, status);
        }
    }

    /// Computes `member`'s page from all the others if they are up to date and idle.
    pub(crate) fn compute_if_possible(&mut self, head: usize, member: usize, arena: &mut Arena) {
        let stripe = self.cache.head(head);
        let ready = stripe
            .members
            .iter()
            .enumerate()
            .all(|(m, d)| m == member || (d.buffer.is_uptodate() && !d.buffer.is_locked()));
        if !ready {
            return;
        }
        let others: Vec<_> = stripe
            .members
            .iter()
            .enumerate()
            .filter(|&(m, _)| m != member)
            .map(|(_, d)| d.page)
            .collect();
        let image = xor_pages(arena, &others);
        let page = stripe.members[member].page;
        let (sector, parity_member) = (stripe.sector, stripe.parity_member);
        if member != parity_member
            && stripe.members[member].buffer.has_read_error()
            && self.stripe_needs_resync(sector)
        {
            // A read error on a stripe a crash may have torn: the page comes from parity
            // that may be stale (the write hole, reached without a member failing).
            self.note_read_error_exposure(member, sector);
        }
        if member == parity_member {
            store_parity(arena, page, &image);
        } else {
            store_data(arena, page, &image);
        }
        self.cache.head_mut(head).members[member].apply(BufferTransition::Computed);
        // Its readers are served on the next pass.
        self.cache.head_mut(head).handle = true;
        self.stats.reconstructions += 1;
    }

    /// md's rmw/rcw decision, pre-reads (or delay), and the reconstruction once every page
    /// it needs is up to date.
    fn plan_write(&mut self, head: usize, arena: &mut Arena) {
        let members = self.geometry.members();
        let parity = self.cache.head(head).parity_member;
        // A read md cannot issue (failed member) costs more than any real plan.
        let impossible = 2 * members;
        let (mut rmw, mut rcw) = (0usize, 0usize);
        let mut rmw_reads = Vec::new();
        let mut rcw_reads = Vec::new();
        for member in 0..members {
            let dev = &self.cache.head(head).members[member];
            if dev.buffer.is_locked() || dev.buffer.is_uptodate() {
                continue;
            }
            let cost = if self.in_sync(head, member) {
                1
            } else {
                impossible
            };
            if !dev.towrite.is_empty() || member == parity {
                rmw += cost;
                if cost == 1 {
                    rmw_reads.push(member);
                }
            }
            if !dev.overwrite() && member != parity {
                rcw += cost;
                if cost == 1 {
                    rcw_reads.push(member);
                }
            }
        }
        let reads = if rmw < rcw && rmw > 0 {
            rmw_reads
        } else if rcw <= rmw && rcw > 0 {
            rcw_reads
        } else {
            Vec::new()
        };
        if !reads.is_empty() {
            if self.cache.head(head).preread_active {
                for &member in &reads {
                    self.cache.head_mut(head).members[member].apply(BufferTransition::StartRead);
                    self.stats.prereads += 1;
                }
            } else {
                let stripe = self.cache.head_mut(head);
                if !stripe.delayed {
                    self.stats.delayed_stripes += 1;
                }
                stripe.delayed = true;
                stripe.handle = true;
            }
        }
        let stripe = self.cache.head(head);
        let any_locked = stripe.members.iter().any(|d| d.buffer.is_locked());
        if !any_locked && (rcw == 0 || rmw == 0) && !stripe.delayed {
            let method = if rcw == 0 {
                ParityMethod::ReconstructWrite
            } else {
                ParityMethod::ReadModifyWrite
            };
            self.reconstruct(head, method, arena);
        }
    }

    /// md's `compute_parity5` and the marking for write-out: copies queued writes into
    /// their pages (towrite → written), produces parity, marks written pages and parity
    /// dirty.
    fn reconstruct(&mut self, head: usize, method: ParityMethod, arena: &mut Arena) {
        let members = self.geometry.members();
        let parity = self.cache.head(head).parity_member;
        let written: Vec<usize> = (0..members)
            .filter(|&m| m != parity && !self.cache.head(head).members[m].towrite.is_empty())
            .collect();
        debug_assert!(!written.is_empty());
        let full_stripe = (0..members)
            .filter(|&m| m != parity)
            .all(|m| self.cache.head(head).members[m].overwrite());
        // md's R5_WantFUA: a FUA bio drained here makes every page written now, parity
        // too, go with FUA, so the stripe it lands in is durable when its writes complete.
        let fua = written.iter().any(|&m| {
            self.cache.head(head).members[m]
                .towrite
                .iter()
                .any(|segment| segment.fua)
        });
        match method {
            ParityMethod::ReadModifyWrite => self.stats.rmw += 1,
            ParityMethod::ReconstructWrite => self.stats.rcw += 1,
        }
        if full_stripe {
            self.stats.full_stripe_writes += 1;
        }
        let mut image = [0u8; PAGE_SIZE];
        if method == ParityMethod::ReadModifyWrite {
            let parity_page = self.cache.head(head).members[parity].page;
            assert!(self.cache.head(head).members[parity].buffer.is_uptodate());
            xor_page_into(arena, parity_page, &mut image);
            for &member in &written {
                let dev = &self.cache.head(head).members[member];
                assert!(
                    dev.buffer.is_uptodate(),
                    "rmw without old data of member {member}"
                );
                xor_page_into(arena, dev.page, &mut image);
            }
        }
        for &member in &written {
            let dev = &mut self.cache.head_mut(head).members[member];
            assert!(
                dev.buffer.is_uptodate() || dev.overwrite(),
                "drain into a partial page of member {member} that is not up to date"
            );
            let page = Buffer::from_pages(vec![dev.page]);
            let segments: Vec<BioSegment> = dev.towrite.drain(..).collect();
            for segment in &segments {
                let mut contents = Vec::with_capacity(segment.sectors as usize);
                // The array reads its write's memory as a device does: another device may
                // be writing the same pages (flashcache writethrough over a stacked array).
                arena.io_read_sectors(&segment.buffer, u64::from(segment.sectors), &mut contents);
                arena.write_sectors(
                    &page.slice(u64::from(segment.page_offset), u64::from(segment.sectors)),
                    &contents,
                );
            }
            dev.written.extend(segments);
            dev.apply(BufferTransition::Fill);
            dev.want_fua |= fua;
        }
        self.cache.head_mut(head).members[parity].want_fua |= fua;
        match method {
            ParityMethod::ReadModifyWrite => {
                for &member in &written {
                    let page = self.cache.head(head).members[member].page;
                    xor_page_into(arena, page, &mut image);
                }
            }
            ParityMethod::ReconstructWrite => {
                for member in (0..members).filter(|&m| m != parity) {
                    let dev = &self.cache.head(head).members[member];
                    assert!(
                        dev.buffer.is_uptodate(),
                        "rcw without data of member {member}"
                    );
                    xor_page_into(arena, dev.page, &mut image);
                }
            }
        }
        let parity_page = self.cache.head(head).members[parity].page;
        store_parity(arena, parity_page, &image);
        self.cache.head_mut(head).members[parity].apply(BufferTransition::Fill);
    }

    /// Submits every decided read and write; a write to a failed member is dropped (its page
    /// stays up to date in the cache).
    fn issue_decided_io(&mut self, head: usize) {
        let sector = self.cache.head(head).sector;
        // handle_sync works only on a head without bios: its IO is the pass's.
        let sync_io = {
            let stripe = self.cache.head(head);
            stripe.syncing && stripe.members.iter().all(|m| !m.has_bios())
        };
        for member in 0..self.geometry.members() {
            let dev = &self.cache.head(head).members[member];
            let op = if dev.buffer.wants_read() {
                Op::Read
            } else if dev.buffer.wants_write() {
                Op::Write
            } else {
                continue;
            };
            let page = dev.page;
            let dev = &mut self.cache.head_mut(head).members[member];
            dev.apply(BufferTransition::Submit);
            let fua = std::mem::take(&mut dev.want_fua);
            debug_assert!(!fua || op == Op::Write, "FUA wanted on a read");
            if self.members[member].faulty {
                assert_eq!(op, Op::Write, "a read decided for failed member {member}");
                dev.apply(BufferTransition::WriteFailed);
                self.cache.head_mut(head).handle = true;
                continue;
            }
            match op {
                Op::Read => self.stats.member_reads += 1,
                _ => self.stats.member_writes += 1,
            }
            if !sync_io {
                self.normal_io_sectors[member] += STRIPE_SECTORS;
            }
            self.cache.head_mut(head).count += 1;
            self.requests.push_back(Raid5Request::MemberIo {
                tag: Raid5IoTag::Stripe {
                    stripe: head as u32,
                    member: member as u8,
                },
                member,
                op,
                sector,
                sectors: STRIPE_SECTORS as u32,
                fua,
                buffer: Buffer::from_pages(vec![page]),
            });
        }
    }

    /// Two or more members lost for this stripe: every queued bio fails (never wrong data).
    fn fail_queued_bios(&mut self, head: usize) {
        let mut failed = Vec::new();
        for dev in &mut self.cache.head_mut(head).members {
            failed.append(&mut dev.toread);
            failed.append(&mut dev.towrite);
            failed.append(&mut dev.written);
        }
        let stripe = self.cache.head_mut(head);
        if stripe.preread_active {
            stripe.preread_active = false;
            self.cache.preread_active_stripes -= 1;
        }
        for segment in failed {
            self.segment_done(segment.bio, IoStatus::IoError);
        }
    }
}
