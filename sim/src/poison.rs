//! Poison: the content a simulated fault leaves where no engine wrote.
//!
//! Misdirected writes and silent corruption put garbage on a device that no engine can detect
//! (flashcache keeps no checksums), so the garbage reaching the volume is the fault's doing,
//! not the engine's. To keep the data oracle exact, the simulated device never invents
//! plausible data: wherever such a fault leaves content the engine did not write, the sector
//! holds poison — a [`SectorStamp`] with the reserved write id [`POISON_WRITE_ID`] and the
//! device sector where the fault put it. The oracle, told that the run has faults producing
//! poison, counts a poison read as corruption delivered; stale or misplaced content that is
//! not poison stays a data error (see `oracle`'s module documentation).
//!
//! Why a stamp and not a new `SectorContent` variant: a stamp round-trips unchanged through
//! every byte path of the simulator (a device block holding engine metadata, an arena page in
//! bytes mode), so poison is never silently turned into something else, and the engine needs
//! no change. It never exists on a real device: no workload writes the id (the oracle refuses
//! a write with it), and an oracle not told about poison faults — every real run — judges a
//! poison read as the data error it would be.

use dmsim_engine::content::{SectorContent, SectorStamp};

/// The write id of poison. Workload write ids grow from 1 (simulation) or from a 32-bit
/// per-run nonce shifted left by 32 (real devices); neither reaches this. It differs from the
/// oracle's internal "unknown" version id (`u64::MAX`), which is never content.
pub const POISON_WRITE_ID: u64 = u64::MAX - 1;

/// Poison placed at device sector `device_sector` (kept for diagnostics only: the oracle
/// accepts poison wherever it is read).
pub fn poison(device_sector: u64) -> SectorContent {
    SectorContent::Stamp(SectorStamp {
        sector: device_sector,
        write_id: POISON_WRITE_ID,
    })
}

/// True if `content` is poison.
pub fn is_poison(content: &SectorContent) -> bool {
    matches!(content, SectorContent::Stamp(stamp) if stamp.write_id == POISON_WRITE_ID)
}

/// True if `content` is workload data (a stamp that is not poison): what silent corruption
/// may hit.
pub fn is_workload_data(content: &SectorContent) -> bool {
    matches!(content, SectorContent::Stamp(stamp) if stamp.write_id != POISON_WRITE_ID)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmsim_engine::content::{decode_sector, encode_content};

    #[test]
    fn poison_survives_the_byte_encoding_of_the_simulator() {
        let mut bytes = [0u8; 512];
        encode_content(poison(77), &mut bytes);
        let back = decode_sector(&bytes);
        assert!(is_poison(&back), "{back:?}");
        assert!(!is_workload_data(&back));
        assert!(is_workload_data(&SectorContent::Stamp(SectorStamp {
            sector: 77,
            write_id: 1
        })));
        assert!(!is_poison(&SectorContent::Zero) && !is_poison(&SectorContent::Foreign));
    }
}
