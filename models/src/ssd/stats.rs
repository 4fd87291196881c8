//! Counters an SSD model keeps about the work it did (since construction; preconditioning is
//! not counted). Figures derived from them (write amplification) are methods on the model,
//! which knows the geometry.

use serde::Serialize;

/// What the drive did, by cause.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SsdStats {
    /// Read commands accepted.
    pub host_reads: u64,
    /// Write commands accepted.
    pub host_writes: u64,
    /// FLUSH commands accepted.
    pub host_flushes: u64,
    /// Discard commands accepted.
    pub host_discards: u64,
    /// Mapping units covered by host writes.
    pub host_units_written: u64,
    /// Mapping units covered by host reads.
    pub host_units_read: u64,
    /// Requests that reached past the end of the drive (the excess was ignored).
    pub out_of_range_requests: u64,
    /// Page reads for host data.
    pub flash_reads_host: u64,
    /// Page reads of old data for sub-unit writes.
    pub flash_reads_modify: u64,
    /// Translation-page reads after mapping-cache misses.
    pub flash_reads_mapping: u64,
    /// Page reads by GC.
    pub flash_reads_gc: u64,
    /// Page programs of host data (with their padding).
    pub flash_programs_host: u64,
    /// Page programs of data moved by GC.
    pub flash_programs_gc: u64,
    /// Translation-page programs after dirty mapping-cache evictions.
    pub flash_programs_mapping: u64,
    /// Block erases.
    pub flash_erases: u64,
    /// Never-written units a read mapped to a fresh page (`ftl.reads_map_unwritten`; under
    /// static allocation one per logical page, its other units read from that page).
    pub units_mapped_by_reads: u64,
    /// Buffered unit writes kept in DRAM as rewrites of hot logical pages
    /// (`write_buffer.hot_rewrite_window_ns`) instead of going to flash.
    pub units_kept_in_dram: u64,
    /// Mapping-cache line lookups that hit (all of them when the table is resident).
    pub mapping_cache_hits: u64,
    /// Mapping-cache line lookups that missed.
    pub mapping_cache_misses: u64,
    /// Units read from controller memory (buffered or being programmed).
    pub units_read_from_dram: u64,
    /// Buffered units overwritten while their page was still open.
    pub units_coalesced_in_buffer: u64,
    /// Buffered writes that had to wait for room.
    pub buffer_full_waits: u64,
    /// Controller stalls drawn.
    pub stalls: u64,
}
