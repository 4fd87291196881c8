//! The platform's record of each device IO between `submit` and its completion, and the
//! pieces of logic both backends share: where a buffer lies in arena memory, how far a
//! transfer got, and what an errno means to the engine.
//!
//! Owns [`IoRecord`], the table of records indexed by the engine's tag slot (no hashing: the
//! engine's IO slots are small dense integers), and the errno → [`IoStatus`] mapping.
//!
//! Deliberately not here: syscalls and io_uring (see `ring` and `blocking`).

use dmsim_engine::arena::Buffer;
use dmsim_engine::block::{IoStatus, Op, PAGE_SIZE, SECTOR_SIZE};
use dmsim_engine::io::IoTag;

/// A contiguous piece of arena memory, as byte offset and length from the arena's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub arena_offset: usize,
    pub length: usize,
}

/// Appends to `out` the contiguous memory runs the first `sectors` sectors of `buffer` occupy
/// (pages adjacent in the arena merge into one run). The caller checked that every page is
/// inside the arena and that the buffer holds `sectors`.
pub(crate) fn buffer_segments(buffer: &Buffer, sectors: u64, out: &mut Vec<Segment>) {
    let mut remaining = sectors as usize * SECTOR_SIZE;
    let mut start_in_page = buffer.offset_sectors as usize * SECTOR_SIZE;
    for page in &buffer.pages {
        if remaining == 0 {
            break;
        }
        let length = (PAGE_SIZE - start_in_page).min(remaining);
        let arena_offset = page.index() * PAGE_SIZE + start_in_page;
        match out.last_mut() {
            Some(last) if last.arena_offset + last.length == arena_offset => last.length += length,
            _ => out.push(Segment {
                arena_offset,
                length,
            }),
        }
        remaining -= length;
        start_in_page = 0;
    }
    assert_eq!(
        remaining, 0,
        "buffer shorter than its IO (checked at submit)"
    );
}

/// One device IO the platform carries out.
#[derive(Debug)]
pub(crate) struct IoRecord {
    pub tag: IoTag,
    /// Index into the platform's devices.
    pub device: usize,
    pub op: Op,
    pub fua: bool,
    /// Absolute byte offset on the device (window applied).
    pub offset_bytes: u64,
    pub length_bytes: u64,
    /// Bytes transferred so far (short transfers are resubmitted from here).
    pub done_bytes: u64,
    pub buffer: Buffer,
    pub segments: Vec<Segment>,
    /// Scratch for vectored submissions; pointers into the arena. Kept in the record so the
    /// array outlives the submission until the completion.
    pub iovecs: Vec<libc::iovec>,
    pub cancel_requested: bool,
}

/// Where a record stands after one transfer result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Submit the rest (short transfer, or interrupted).
    Again,
    Done(IoStatus),
}

/// What an errno means to the engine.
pub(crate) fn status_from_errno(errno: i32) -> IoStatus {
    match errno {
        libc::EOPNOTSUPP | libc::ENOTTY => IoStatus::NotSupported,
        libc::ECANCELED => IoStatus::Cancelled,
        _ => IoStatus::IoError,
    }
}

impl IoRecord {
    /// Accounts one transfer result (`result` as a syscall or CQE returns it: bytes, or a
    /// negative errno).
    pub fn on_result(&mut self, result: i64) -> Progress {
        if result < 0 {
            let errno = i32::try_from(-result).unwrap_or(libc::EIO);
            return match errno {
                libc::EINTR | libc::EAGAIN => Progress::Again,
                // A cancel that hit a half-done transfer did not take effect before the
                // device acted: the range is torn, which the engine must hear as an error.
                libc::ECANCELED if self.done_bytes > 0 => Progress::Done(IoStatus::IoError),
                errno => Progress::Done(status_from_errno(errno)),
            };
        }
        match self.op {
            Op::Flush | Op::Discard => Progress::Done(IoStatus::Ok),
            Op::Read | Op::Write => {
                self.done_bytes += result as u64;
                if self.done_bytes >= self.length_bytes {
                    Progress::Done(IoStatus::Ok)
                } else if result == 0 {
                    // End of file or device: the rest can never come.
                    Progress::Done(IoStatus::IoError)
                } else {
                    Progress::Again
                }
            }
        }
    }

    /// Fills `self.iovecs` with the part not yet transferred, as pointers from `arena_base`.
    pub fn remaining_iovecs(&mut self, arena_base: *mut u8) {
        self.iovecs.clear();
        let mut skip = self.done_bytes as usize;
        for segment in &self.segments {
            if skip >= segment.length {
                skip -= segment.length;
                continue;
            }
            self.iovecs.push(libc::iovec {
                // The pointer is only computed here; it is dereferenced by the kernel, inside
                // the arena allocation (offsets were checked against the arena at submit).
                iov_base: arena_base.wrapping_add(segment.arena_offset + skip).cast(),
                iov_len: segment.length - skip,
            });
            skip = 0;
        }
    }

    /// The single remaining contiguous run, if the rest of the transfer is one run.
    pub fn remaining_single_run(&self) -> Option<Segment> {
        let mut skip = self.done_bytes as usize;
        let mut found = None;
        for segment in &self.segments {
            if skip >= segment.length {
                skip -= segment.length;
                continue;
            }
            if found.is_some() {
                return None;
            }
            found = Some(Segment {
                arena_offset: segment.arena_offset + skip,
                length: segment.length - skip,
            });
            skip = 0;
        }
        found
    }
}

/// Records of the IOs in flight, indexed by tag slot.
#[derive(Debug, Default)]
pub(crate) struct InFlightTable {
    slots: Vec<Option<IoRecord>>,
    live: usize,
    /// Emptied vectors of finished records, reused to avoid per-IO allocation.
    spare_segments: Vec<Vec<Segment>>,
    spare_iovecs: Vec<Vec<libc::iovec>>,
}

impl InFlightTable {
    /// Number of records in flight.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Empty vectors for a new record.
    pub fn take_vectors(&mut self) -> (Vec<Segment>, Vec<libc::iovec>) {
        (
            self.spare_segments.pop().unwrap_or_default(),
            self.spare_iovecs.pop().unwrap_or_default(),
        )
    }

    /// Adds a record. Panics if its tag's slot is still live: the engine promises tags are
    /// unique among IOs in flight.
    pub fn insert(&mut self, record: IoRecord) {
        let slot = record.tag.slot as usize;
        if slot >= self.slots.len() {
            self.slots.resize_with(slot + 1, || None);
        }
        assert!(
            self.slots[slot].is_none(),
            "{} submitted while {} is still in flight",
            record.tag,
            self.slots[slot].as_ref().map_or(record.tag, |r| r.tag)
        );
        self.slots[slot] = Some(record);
        self.live += 1;
    }

    /// The record of `tag`, if it is in flight (slot and generation match).
    pub fn get_mut(&mut self, tag: IoTag) -> Option<&mut IoRecord> {
        self.slots
            .get_mut(tag.slot as usize)
            .and_then(|slot| slot.as_mut())
            .filter(|record| record.tag == tag)
    }

    /// Removes the record of `tag`.
    pub fn remove(&mut self, tag: IoTag) -> Option<IoRecord> {
        let slot = self.slots.get_mut(tag.slot as usize)?;
        if slot.as_ref().is_some_and(|record| record.tag == tag) {
            self.live -= 1;
            slot.take()
        } else {
            None
        }
    }

    /// Takes back a finished record's vectors for reuse.
    pub fn recycle(&mut self, mut record: IoRecord) {
        record.segments.clear();
        record.iovecs.clear();
        self.spare_segments.push(record.segments);
        self.spare_iovecs.push(record.iovecs);
    }

    /// Tags of every IO in flight, in slot order.
    pub fn tags(&self) -> Vec<IoTag> {
        self.slots
            .iter()
            .flatten()
            .map(|record| record.tag)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmsim_engine::arena::{PageId, PageList};

    fn record(segments: Vec<Segment>, length_bytes: u64) -> IoRecord {
        IoRecord {
            tag: IoTag {
                slot: 1,
                generation: 1,
            },
            device: 0,
            op: Op::Read,
            fua: false,
            offset_bytes: 0,
            length_bytes,
            done_bytes: 0,
            buffer: Buffer::empty(),
            segments,
            iovecs: Vec::new(),
            cancel_requested: false,
        }
    }

    #[test]
    fn adjacent_pages_merge_and_offsets_are_honoured() {
        let buffer = Buffer {
            pages: PageList::from_slice(&[PageId(3), PageId(4), PageId(9), PageId(10)]),
            offset_sectors: 2,
        };
        let mut segments = Vec::new();
        buffer_segments(&buffer, 6 + 8 + 8 + 1, &mut segments);
        assert_eq!(
            segments,
            vec![
                Segment {
                    arena_offset: 3 * PAGE_SIZE + 1024,
                    length: (6 + 8) * SECTOR_SIZE
                },
                Segment {
                    arena_offset: 9 * PAGE_SIZE,
                    length: 9 * SECTOR_SIZE
                },
            ]
        );
    }

    #[test]
    fn short_transfers_resume_where_they_stopped() {
        let mut record = record(
            vec![
                Segment {
                    arena_offset: 0,
                    length: 4096,
                },
                Segment {
                    arena_offset: 8192,
                    length: 4096,
                },
            ],
            8192,
        );
        assert_eq!(record.on_result(1024), Progress::Again);
        assert_eq!(record.remaining_single_run(), None);
        let base = std::ptr::null_mut::<u8>().wrapping_add(1 << 20);
        record.remaining_iovecs(base);
        assert_eq!(record.iovecs.len(), 2);
        assert_eq!(record.iovecs[0].iov_len, 3072);
        assert_eq!(record.iovecs[0].iov_base as usize, (1 << 20) + 1024);
        assert_eq!(record.on_result(3072 + 512), Progress::Again);
        assert_eq!(
            record.remaining_single_run(),
            Some(Segment {
                arena_offset: 8192 + 512,
                length: 3584
            })
        );
        assert_eq!(record.on_result(3584), Progress::Done(IoStatus::Ok));
    }

    #[test]
    fn errnos_map_to_statuses_and_a_torn_cancel_is_an_error() {
        let mut fresh = record(Vec::new(), 4096);
        assert_eq!(
            fresh.on_result(-i64::from(libc::ECANCELED)),
            Progress::Done(IoStatus::Cancelled)
        );
        assert_eq!(fresh.on_result(-i64::from(libc::EINTR)), Progress::Again);
        assert_eq!(
            fresh.on_result(-i64::from(libc::EOPNOTSUPP)),
            Progress::Done(IoStatus::NotSupported)
        );
        assert_eq!(
            fresh.on_result(-i64::from(libc::EIO)),
            Progress::Done(IoStatus::IoError)
        );
        let mut torn = record(Vec::new(), 4096);
        assert_eq!(torn.on_result(512), Progress::Again);
        assert_eq!(
            torn.on_result(-i64::from(libc::ECANCELED)),
            Progress::Done(IoStatus::IoError)
        );
        let mut eof = record(Vec::new(), 4096);
        assert_eq!(eof.on_result(0), Progress::Done(IoStatus::IoError));
    }

    #[test]
    fn the_table_matches_generations() {
        let mut table = InFlightTable::default();
        table.insert(record(Vec::new(), 0));
        let stale = IoTag {
            slot: 1,
            generation: 0,
        };
        assert!(table.get_mut(stale).is_none());
        assert!(table.remove(stale).is_none());
        assert_eq!(table.len(), 1);
        let live = IoTag {
            slot: 1,
            generation: 1,
        };
        let removed = table.remove(live).unwrap();
        assert_eq!(table.len(), 0);
        table.recycle(removed);
        assert_eq!(table.spare_segments.len(), 1);
    }
}
