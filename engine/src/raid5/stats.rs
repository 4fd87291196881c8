//! md's counters for one array (spec section 7), as plain numbers.

use serde::{Deserialize, Serialize};

/// Counters of a raid5 array since assembly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Raid5Stats {
    /// Array bios admitted, by direction.
    pub reads: u64,
    pub writes: u64,
    /// Member IOs issued, by direction (pre-reads included in `member_reads`).
    pub member_reads: u64,
    pub member_writes: u64,
    /// Stripe writes whose parity was produced by read-modify-write / reconstruct-write.
    pub rmw: u64,
    pub rcw: u64,
    /// Stripe writes that needed no read at all (every data page fully overwritten).
    pub full_stripe_writes: u64,
    /// Member reads issued to produce parity for a write.
    pub prereads: u64,
    /// Times a stripe was put on the delayed list.
    pub delayed_stripes: u64,
    /// Member pages computed from the others (degraded reads, read-error repair).
    pub reconstructions: u64,
    /// Times a bio waited for a free stripe head.
    pub stripe_cache_waits: u64,
    /// Times a bio waited for an overlapping bio on the same page.
    pub overlap_waits: u64,
    /// Reads sent straight to a member (chunk_aligned_read), and those retried through the
    /// cache after an error.
    pub aligned_reads: u64,
    pub aligned_read_retries: u64,
    /// Failed member reads, and those repaired by rewriting a computed page.
    pub read_errors: u64,
    pub read_errors_corrected: u64,
    /// Member write failures.
    pub write_errors: u64,
    /// Bios failed because two or more members were lost.
    pub bios_failed: u64,
    /// handle_stripe runs.
    pub handle_stripe_runs: u64,
    /// Check/repair passes finished.
    pub sync_passes: u64,
    /// Stripes a pass compared, and those it skipped (a member failed).
    pub sync_stripes: u64,
    pub sync_stripes_skipped: u64,
    /// Member reads of the passes (also in `member_reads`).
    pub sync_reads: u64,
    /// Parity pages a repair pass rewrote.
    pub sync_parity_rewrites: u64,
    /// Times a sync pass slept for md's speed limits (500 ms each).
    pub sync_throttles: u64,
    /// Spares put into a failed role, and recoveries that finished.
    pub spares_added: u64,
    pub recoveries: u64,
    /// Stripes a recovery rebuilt, the pages it wrote, and stripes it could not rebuild.
    pub recovery_stripes: u64,
    pub recovery_writes: u64,
    pub recovery_stripes_skipped: u64,
    /// Superblock (and bitmap) writes: dirty and clean marking, failures recorded.
    pub metadata_writes: u64,
    /// Times the array was assembled from its superblocks, and of those, found dirty.
    pub assemblies: u64,
    pub dirty_assemblies: u64,
    /// Resync passes that finished (parity recomputed after a dirty assembly).
    pub resyncs: u64,
    /// Data sectors on a member that failed while their stripes' parity was possibly stale
    /// (dirty, not yet resynced), and data pages computed after a read error in such a
    /// stripe: the write hole, counted stripe by stripe.
    pub write_hole_exposed_sectors: u64,
}
