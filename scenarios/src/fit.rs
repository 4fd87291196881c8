//! Fitting a trace's addresses onto the device it is replayed on.
//!
//! Production traces address terabytes; the replay target may be a small simulated or real
//! device. A record that does not fit is refused with a clear error unless the user chose a
//! fit (`--fit`):
//! - [`FitMode::Wrap`]: sector modulo the device size (rounded down to 4 KiB so aligned IO
//!   stays aligned); a request that would run past the end is moved back to end there.
//!   Cheap, streaming, but folds distant regions onto each other.
//! - [`FitMode::Compact`]: the trace's touched extents, in 1 MiB chunks, mapped densely in
//!   address order: chunk k of the touched set lands at k MiB. Locality within a chunk and the
//!   order of chunks are preserved, nothing is folded. It needs a first pass over the trace to
//!   learn the touched chunks ([`CompactMap::learn`]); memory grows with the touched footprint
//!   (one entry per MiB touched), not with the trace length.
//! - [`FitMode::Auto`] (the default): the first pass of compact; if every record fits the
//!   device, the addresses are kept as they are (as refuse would), otherwise compacted. The
//!   choice is resolved per device size with [`FitMode::resolve`] before a [`Fitter`] is built,
//!   and callers say when it compacted. Real devices keep refuse: their addresses are the
//!   user's data, not a model's.

use crate::traces::TraceRecord;
use std::collections::BTreeSet;

/// Sectors per 4 KiB: wrapping keeps this alignment.
const WRAP_ALIGN_SECTORS: u64 = 8;
/// Granularity of compaction: 1 MiB.
pub const COMPACT_CHUNK_SECTORS: u64 = 2048;

/// How to treat records beyond the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitMode {
    /// A record beyond the device is an error.
    Refuse,
    Wrap,
    Compact,
    /// Compact when the trace does not fit the device, keep the addresses when it does.
    #[default]
    Auto,
}

impl FitMode {
    /// The mode a [`Fitter`] for a device of `device_sectors` uses: `Auto` becomes `Refuse`
    /// when the trace (as `map` learned it) fits, `Compact` otherwise; the others stay.
    pub fn resolve(self, device_sectors: u64, map: Option<&CompactMap>) -> FitMode {
        match self {
            FitMode::Auto => {
                let map = map.expect("auto fitting learns a CompactMap first");
                if map.end_sector() <= device_sectors {
                    FitMode::Refuse
                } else {
                    FitMode::Compact
                }
            }
            other => other,
        }
    }

    /// Whether a [`CompactMap`] must be learned (a first pass over the trace) for this mode.
    pub fn needs_map(self) -> bool {
        matches!(self, FitMode::Compact | FitMode::Auto)
    }
}

impl std::str::FromStr for FitMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "refuse" => Ok(FitMode::Refuse),
            "wrap" => Ok(FitMode::Wrap),
            "compact" => Ok(FitMode::Compact),
            "auto" => Ok(FitMode::Auto),
            _ => Err(format!("'{s}' is not a fit (auto, refuse, wrap, compact)")),
        }
    }
}

/// A record that cannot be placed on the device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error("the trace addresses sectors {sector}..{end} but the device has {device_sectors} sectors; replay with --fit wrap (offsets modulo the device size) or --fit compact (touched extents mapped densely)", end = sector + sectors)]
    BeyondDevice {
        sector: u64,
        sectors: u64,
        device_sectors: u64,
    },
    #[error("a {sectors}-sector request is larger than the device ({device_sectors} sectors)")]
    RequestTooLarge { sectors: u64, device_sectors: u64 },
    #[error("the trace touches {chunks} MiB in distinct 1 MiB chunks, more than the device's {device_mib} MiB; use a larger device or --fit wrap")]
    FootprintTooLarge { chunks: u64, device_mib: u64 },
}

/// Chunks a bitmap tracks while learning a [`CompactMap`] (8 MiB of bits).
const BITMAP_CHUNKS_MAX: u64 = 1 << 26;

/// The touched 1 MiB chunks of a trace, in address order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactMap {
    chunks: Vec<u64>,
    /// One past the highest sector any record addresses (0 for a trace without data).
    end_sector: u64,
    /// Records learned: the replay's record count, known before it starts (progress).
    records: u64,
}

impl CompactMap {
    /// Learn the chunks touched by `records` (a first pass over the trace).
    pub fn learn<E>(
        records: impl Iterator<Item = Result<TraceRecord, E>>,
    ) -> Result<CompactMap, E> {
        // Chunks below BITMAP_CHUNKS_MAX (64 TiB of addresses) in a bitmap, O(1) a record;
        // any beyond in a set.
        let mut bitmap: Vec<u64> = Vec::new();
        let mut far = BTreeSet::new();
        let mut end_sector = 0;
        let mut learned = 0;
        for record in records {
            let record = record?;
            learned += 1;
            if record.sectors == 0 {
                continue;
            }
            end_sector = end_sector.max(record.sector.saturating_add(record.sectors));
            let first = record.sector / COMPACT_CHUNK_SECTORS;
            let last = (record.sector + record.sectors - 1) / COMPACT_CHUNK_SECTORS;
            for chunk in first..=last {
                if chunk < BITMAP_CHUNKS_MAX {
                    let word = (chunk / 64) as usize;
                    if word >= bitmap.len() {
                        bitmap.resize(word + 1, 0);
                    }
                    bitmap[word] |= 1 << (chunk % 64);
                } else {
                    far.insert(chunk);
                }
            }
        }
        let near = bitmap.iter().enumerate().flat_map(|(word, &bits)| {
            (0..64u64)
                .filter(move |bit| bits & (1 << bit) != 0)
                .map(move |bit| word as u64 * 64 + bit)
        });
        Ok(CompactMap {
            chunks: near.chain(far).collect(),
            end_sector,
            records: learned,
        })
    }

    /// One past the highest sector the trace addresses: it fits a device of at least this many
    /// sectors as it is.
    pub fn end_sector(&self) -> u64 {
        self.end_sector
    }

    /// Records the first pass read (after filters and the limit): what a replay will issue.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Distinct chunks touched.
    pub fn chunks(&self) -> u64 {
        self.chunks.len() as u64
    }

    /// Dense position of `sector`, which must lie in a learned chunk.
    fn map(&self, sector: u64) -> Option<u64> {
        let chunk = sector / COMPACT_CHUNK_SECTORS;
        let dense = self.chunks.binary_search(&chunk).ok()? as u64;
        Some(dense * COMPACT_CHUNK_SECTORS + sector % COMPACT_CHUNK_SECTORS)
    }
}

/// Places records on a device of `device_sectors`.
#[derive(Debug, Clone)]
pub struct Fitter {
    mode: FitMode,
    device_sectors: u64,
    compact: Option<CompactMap>,
    moved_records: u64,
}

impl Fitter {
    /// A fitter for `mode`; `Compact` needs the map from a first pass.
    pub fn new(
        mode: FitMode,
        device_sectors: u64,
        compact: Option<CompactMap>,
    ) -> Result<Fitter, FitError> {
        assert!(
            mode != FitMode::Compact || compact.is_some(),
            "compact fitting needs a CompactMap"
        );
        assert!(
            mode != FitMode::Auto,
            "FitMode::resolve turns auto into refuse or compact before a Fitter is built"
        );
        if let Some(map) = &compact {
            let device_chunks = device_sectors / COMPACT_CHUNK_SECTORS;
            if map.chunks() > device_chunks {
                return Err(FitError::FootprintTooLarge {
                    chunks: map.chunks(),
                    device_mib: device_chunks,
                });
            }
        }
        Ok(Fitter {
            mode,
            device_sectors,
            compact,
            moved_records: 0,
        })
    }

    /// Records whose address the fit changed.
    pub fn moved_records(&self) -> u64 {
        self.moved_records
    }

    /// `record` placed on the device, or why it cannot be.
    #[inline]
    pub fn place(&mut self, mut record: TraceRecord) -> Result<TraceRecord, FitError> {
        if record.sectors == 0 {
            // Flushes (and empty records the replay skips) address nothing.
            return Ok(record);
        }
        let beyond = record.sector + record.sectors > self.device_sectors;
        if record.sectors > self.device_sectors {
            return Err(FitError::RequestTooLarge {
                sectors: record.sectors,
                device_sectors: self.device_sectors,
            });
        }
        let placed = match self.mode {
            FitMode::Refuse if beyond => {
                return Err(FitError::BeyondDevice {
                    sector: record.sector,
                    sectors: record.sectors,
                    device_sectors: self.device_sectors,
                })
            }
            FitMode::Refuse => record.sector,
            FitMode::Wrap => {
                let modulus = self.device_sectors / WRAP_ALIGN_SECTORS * WRAP_ALIGN_SECTORS;
                if modulus == 0 {
                    return Err(FitError::RequestTooLarge {
                        sectors: record.sectors,
                        device_sectors: self.device_sectors,
                    });
                }
                let wrapped = record.sector % modulus;
                if wrapped + record.sectors > self.device_sectors {
                    (self.device_sectors - record.sectors) / WRAP_ALIGN_SECTORS * WRAP_ALIGN_SECTORS
                } else {
                    wrapped
                }
            }
            FitMode::Auto => unreachable!("refused in Fitter::new"),
            FitMode::Compact => {
                let map = self.compact.as_ref().expect("checked in new");
                let start = map.map(record.sector).ok_or(FitError::BeyondDevice {
                    sector: record.sector,
                    sectors: record.sectors,
                    device_sectors: self.device_sectors,
                })?;
                // A request crossing into the next chunk stays contiguous only if that chunk
                // is the next dense one; otherwise it is kept whole at its first chunk's place
                // (it may then spill into the following dense chunk, which is harmless).
                start.min(self.device_sectors - record.sectors)
            }
        };
        if placed != record.sector {
            self.moved_records += 1;
        }
        record.sector = placed;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::{DeviceKey, TraceOp};

    fn rec(sector: u64, sectors: u64) -> TraceRecord {
        TraceRecord {
            time_ns: 0,
            op: TraceOp::Read,
            sector,
            sectors,
            device: DeviceKey::Number(0),
            measured_latency_ns: None,
        }
    }

    #[test]
    fn refuse_names_the_range_and_the_fits() {
        let mut f = Fitter::new(FitMode::Refuse, 1000, None).unwrap();
        assert_eq!(f.place(rec(8, 8)).unwrap().sector, 8);
        let err = f.place(rec(996, 8)).unwrap_err().to_string();
        assert!(
            err.contains("996..1004") && err.contains("--fit wrap"),
            "{err}"
        );
    }

    #[test]
    fn wrap_keeps_alignment_and_stays_inside() {
        let mut f = Fitter::new(FitMode::Wrap, 1004, None).unwrap(); // modulus 1000
        assert_eq!(f.place(rec(1008, 8)).unwrap().sector, 8);
        let end = f.place(rec(1992, 16)).unwrap(); // 992 + 16 > 1004 → moved back, aligned
        assert!(
            end.sector + 16 <= 1004 && end.sector.is_multiple_of(8),
            "{end:?}"
        );
        assert_eq!(f.moved_records(), 2);
    }

    #[test]
    fn flushes_pass_through_and_tiny_devices_refuse_instead_of_dividing_by_zero() {
        let mut flush = rec(1 << 40, 0);
        flush.op = TraceOp::Flush;
        let mut f = Fitter::new(FitMode::Wrap, 4, None).unwrap();
        assert_eq!(f.place(flush).unwrap(), flush);
        assert!(matches!(
            f.place(rec(8, 4)),
            Err(FitError::RequestTooLarge { .. })
        ));
    }

    #[test]
    fn compact_maps_touched_chunks_densely_in_order() {
        let big = 1u64 << 40;
        let records = vec![
            rec(big + 16, 8),
            rec(5 * COMPACT_CHUNK_SECTORS + 100, 8),
            rec(big + 16, 8),
        ];
        let map = CompactMap::learn(records.iter().cloned().map(Ok::<_, ()>)).unwrap();
        assert_eq!(map.chunks(), 2);
        let mut f = Fitter::new(FitMode::Compact, 10 * COMPACT_CHUNK_SECTORS, Some(map)).unwrap();
        assert_eq!(
            f.place(rec(5 * COMPACT_CHUNK_SECTORS + 100, 8))
                .unwrap()
                .sector,
            100
        );
        assert_eq!(
            f.place(rec(big + 16, 8)).unwrap().sector,
            COMPACT_CHUNK_SECTORS + 16
        );
        let small = Fitter::new(
            FitMode::Compact,
            COMPACT_CHUNK_SECTORS,
            Some(CompactMap::learn(records.into_iter().map(Ok::<_, ()>)).unwrap()),
        );
        assert!(matches!(
            small,
            Err(FitError::FootprintTooLarge {
                chunks: 2,
                device_mib: 1
            })
        ));
    }

    #[test]
    fn compact_map_learns_the_chunks_a_set_would_in_address_order() {
        // Chunks on both sides of the bitmap's end, records spanning chunks, repeats.
        let edge = BITMAP_CHUNKS_MAX * COMPACT_CHUNK_SECTORS;
        let records = vec![
            rec(edge + 3 * COMPACT_CHUNK_SECTORS, 8),
            rec(63 * COMPACT_CHUNK_SECTORS + COMPACT_CHUNK_SECTORS - 4, 8),
            rec(edge - 4, 8),
            rec(7, 8),
            rec(64 * COMPACT_CHUNK_SECTORS, 8),
            rec(7, 8),
            rec(1 << 50, 16),
        ];
        let mut expected = BTreeSet::new();
        for r in &records {
            expected.extend(
                r.sector / COMPACT_CHUNK_SECTORS
                    ..=(r.sector + r.sectors - 1) / COMPACT_CHUNK_SECTORS,
            );
        }
        let map = CompactMap::learn(records.iter().cloned().map(Ok::<_, ()>)).unwrap();
        assert_eq!(map.chunks, expected.into_iter().collect::<Vec<u64>>());
        assert_eq!(map.chunks(), 7);
        assert_eq!(map.end_sector(), (1 << 50) + 16);
    }

    #[test]
    fn auto_keeps_a_fitting_trace_and_compacts_one_that_does_not() {
        let records = [rec(100, 8), rec(5 * COMPACT_CHUNK_SECTORS, 16)];
        let map = CompactMap::learn(records.iter().cloned().map(Ok::<_, ()>)).unwrap();
        assert_eq!(map.end_sector(), 5 * COMPACT_CHUNK_SECTORS + 16);
        // Exactly big enough: kept as it is, by refuse's rules.
        assert_eq!(
            FitMode::Auto.resolve(map.end_sector(), Some(&map)),
            FitMode::Refuse
        );
        // One sector short: compacted.
        assert_eq!(
            FitMode::Auto.resolve(map.end_sector() - 1, Some(&map)),
            FitMode::Compact
        );
        // The other modes are the user's explicit choice.
        for mode in [FitMode::Refuse, FitMode::Wrap, FitMode::Compact] {
            assert_eq!(mode.resolve(1, Some(&map)), mode);
        }
        assert_eq!("auto".parse::<FitMode>(), Ok(FitMode::Auto));
        assert_eq!(FitMode::default(), FitMode::Auto);
    }

    #[test]
    #[should_panic(expected = "FitMode::resolve")]
    fn a_fitter_never_sees_auto() {
        let _ = Fitter::new(FitMode::Auto, 1 << 20, Some(CompactMap::default()));
    }
}
