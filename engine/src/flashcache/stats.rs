//! Statistics under flashcache's own names (spec 1.20) and their `dmsetup status` /
//! `dmsetup table` renderings.
//!
//! Owns: the counter structs, histograms, derived percentages and text rendering. Does not
//! own when counters change (the target bumps them where flashcache does; e.g. `ssd_writes`
//! at issue time, queued hits are not hits).

use super::config::CacheMode;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// `struct flashcache_stats` (checksum counters are compiled out in production).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashcacheStats {
    pub reads: u64,
    pub writes: u64,
    pub read_hits: u64,
    pub write_hits: u64,
    pub dirty_write_hits: u64,
    pub replace: u64,
    pub wr_replace: u64,
    pub wr_invalidates: u64,
    pub rd_invalidates: u64,
    pub pending_inval: u64,
    pub enqueues: u64,
    pub cleanings: u64,
    pub fallow_cleanings: u64,
    pub noroom: u64,
    pub md_write_dirty: u64,
    pub md_write_clean: u64,
    pub md_write_batch: u64,
    pub md_ssd_writes: u64,
    pub pid_drops: u64,
    pub pid_adds: u64,
    pub pid_dels: u64,
    pub expiry: u64,
    pub front_merge: u64,
    pub back_merge: u64,
    pub uncached_reads: u64,
    pub uncached_writes: u64,
    pub uncached_sequential_reads: u64,
    pub uncached_sequential_writes: u64,
    pub disk_reads: u64,
    pub disk_writes: u64,
    pub ssd_reads: u64,
    pub ssd_writes: u64,
    pub uncached_io_requeue: u64,
    /// Unused by flashcache.
    pub skipclean: u64,
    /// Unused by flashcache; counts blocks dropped by a discard when option `discard` is on.
    pub trim_blocks: u64,
    pub clean_set_ios: u64,
    pub force_clean_block: u64,
    pub lru_promotions: u64,
    pub lru_demotions: u64,
    /// Decision 9: cleanings of a block whose previous cleaning failed.
    pub clean_retries: u64,
}

/// `struct flashcache_errors`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashcacheErrors {
    pub disk_read_errors: u64,
    pub disk_write_errors: u64,
    pub ssd_read_errors: u64,
    pub ssd_write_errors: u64,
    pub memory_alloc_errors: u64,
}

/// Buckets of the bio latency histogram (250 µs each, to 10 ms).
pub const LATENCY_BUCKETS: usize = 40;
/// Width of a latency bucket.
pub const LATENCY_BUCKET_NS: u64 = 250_000;
/// Entries of the write clustering histogram.
pub const WRITE_CLUSTER_BUCKETS: usize = 128;

/// Histograms (vectors so that they serialise at any length).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histograms {
    /// `size_hist[sectors]` for bios of up to 32 sectors (global in flashcache; per target here).
    pub size_hist: Vec<u64>,
    /// Bio latency, 250 µs buckets (recorded only while `io_latency_hist` is on).
    pub latency_hist: Vec<u64>,
    pub latency_hist_10ms: u64,
    /// Blocks per cleaning pass (not printed by flashcache).
    pub write_clust_hist: Vec<u64>,
    pub write_clust_hist_ovf: u64,
}

impl Default for Histograms {
    fn default() -> Self {
        Histograms {
            size_hist: vec![0; 33],
            latency_hist: vec![0; LATENCY_BUCKETS],
            latency_hist_10ms: 0,
            write_clust_hist: vec![0; WRITE_CLUSTER_BUCKETS],
            write_clust_hist_ovf: 0,
        }
    }
}

impl Histograms {
    /// `flashcache_record_latency`.
    pub fn record_latency(&mut self, latency_ns: u64) {
        let bucket = (latency_ns / LATENCY_BUCKET_NS) as usize;
        if bucket < LATENCY_BUCKETS {
            self.latency_hist[bucket] += 1;
        } else {
            self.latency_hist_10ms += 1;
        }
    }

    /// Count one cleaning pass of `blocks` blocks.
    pub fn record_cluster(&mut self, blocks: usize) {
        if blocks < WRITE_CLUSTER_BUCKETS {
            self.write_clust_hist[blocks] += 1;
        } else {
            self.write_clust_hist_ovf += 1;
        }
    }
}

/// Occupancy gauges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gauges {
    pub size_blocks: u64,
    pub cached_blocks: u64,
    pub nr_dirty: u64,
    /// Bios on pending queues (`pending_jobs_count`).
    pub nr_queued: u64,
    pub lru_hot_blocks: u64,
    pub lru_warm_blocks: u64,
    /// Outstanding jobs (`nr_jobs`).
    pub nr_jobs: u64,
    pub clean_inprog: u64,
    pub bypass_cache: bool,
}

/// Everything `dmsetup status` and `dmsetup table` show, as one serialisable value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub mode: CacheMode,
    pub write_only: bool,
    pub ssd_dev: String,
    pub disk_dev: String,
    pub block_size_sectors: u32,
    pub md_block_size_sectors: u32,
    pub assoc: u32,
    pub disk_assoc_sectors: u32,
    pub skip_seq_thresh_kb: u32,
    pub io_latency_hist: bool,
    pub stats: FlashcacheStats,
    pub errors: FlashcacheErrors,
    pub gauges: Gauges,
    pub histograms: Histograms,
    /// Names of the options deviating from flashcache (Decisions).
    pub deviations: Vec<String>,
}

fn percent(part: u64, whole: u64) -> u64 {
    (part * 100).checked_div(whole).unwrap_or(0)
}

impl StatusReport {
    pub fn read_hit_percent(&self) -> u64 {
        percent(self.stats.read_hits, self.stats.reads)
    }
    pub fn write_hit_percent(&self) -> u64 {
        percent(self.stats.write_hits, self.stats.writes)
    }
    pub fn dirty_write_hit_percent(&self) -> u64 {
        percent(self.stats.dirty_write_hits, self.stats.writes)
    }
    pub fn cache_percent(&self) -> u64 {
        percent(self.gauges.cached_blocks, self.gauges.size_blocks)
    }
    pub fn dirty_percent(&self) -> u64 {
        percent(self.gauges.nr_dirty, self.gauges.size_blocks)
    }

    /// `dmsetup status` (STATUSTYPE_INFO): the mode-dependent statistics text.
    pub fn render_status(&self) -> String {
        let s = &self.stats;
        let e = &self.errors;
        let mut out = String::new();
        let _ = write!(out, "stats: \n\treads({}), writes({})\n", s.reads, s.writes);
        match self.mode {
            CacheMode::WriteBack => {
                let _ = write!(
                    out,
                    "\tread hits({}), read hit percent({})\n\twrite hits({}) write hit percent({})\n\
                     \tdirty write hits({}) dirty write hit percent({})\n\
                     \treplacement({}), write replacement({})\n\
                     \twrite invalidates({}), read invalidates({})\n",
                    s.read_hits,
                    self.read_hit_percent(),
                    s.write_hits,
                    self.write_hit_percent(),
                    s.dirty_write_hits,
                    self.dirty_write_hit_percent(),
                    s.replace,
                    s.wr_replace,
                    s.wr_invalidates,
                    s.rd_invalidates
                );
                let _ = write!(
                    out,
                    "\tpending enqueues({}), pending inval({})\n\
                     \tmetadata dirties({}), metadata cleans({})\n\
                     \tmetadata batch({}) metadata ssd writes({})\n\
                     \tcleanings({}) fallow cleanings({})\n\
                     \tno room({}) front merge({}) back merge({})\n\
                     \tforce_clean_block({})\n",
                    s.enqueues,
                    s.pending_inval,
                    s.md_write_dirty,
                    s.md_write_clean,
                    s.md_write_batch,
                    s.md_ssd_writes,
                    s.cleanings,
                    s.fallow_cleanings,
                    s.noroom,
                    s.front_merge,
                    s.back_merge,
                    s.force_clean_block
                );
            }
            CacheMode::WriteThrough => {
                let _ = write!(
                    out,
                    "\tread hits({}), read hit percent({})\n\twrite hits({}) write hit percent({})\n\
                     \treplacement({}), write replacement({})\n\
                     \twrite invalidates({}), read invalidates({})\n\
                     \tpending enqueues({}), pending inval({})\n\tno room({})\n",
                    s.read_hits,
                    self.read_hit_percent(),
                    s.write_hits,
                    self.write_hit_percent(),
                    s.replace,
                    s.wr_replace,
                    s.wr_invalidates,
                    s.rd_invalidates,
                    s.enqueues,
                    s.pending_inval,
                    s.noroom
                );
            }
            CacheMode::WriteAround => {
                let _ = write!(
                    out,
                    "\tread hits({}), read hit percent({})\n\
                     \treplacement({}), write replacement({})\n\tinvalidates({})\n\
                     \tpending enqueues({}), pending inval({})\n\tno room({})\n",
                    s.read_hits,
                    self.read_hit_percent(),
                    s.replace,
                    s.wr_replace,
                    s.rd_invalidates,
                    s.enqueues,
                    s.pending_inval,
                    s.noroom
                );
            }
        }
        let _ = write!(
            out,
            "\tdisk reads({}), disk writes({}) ssd reads({}) ssd writes({})\n\
             \tuncached reads({}), uncached writes({}), uncached IO requeue({})\n\
             \tdisk read errors({}), disk write errors({}) ssd read errors({}) ssd write errors({})\n\
             \tuncached sequential reads({}), uncached sequential writes({})\n\
             \tpid_adds({}), pid_dels({}), pid_drops({}) pid_expiry({})\n\
             \tlru hot blocks({}), lru warm blocks({})\n\
             \tlru promotions({}), lru demotions({})",
            s.disk_reads,
            s.disk_writes,
            s.ssd_reads,
            s.ssd_writes,
            s.uncached_reads,
            s.uncached_writes,
            s.uncached_io_requeue,
            e.disk_read_errors,
            e.disk_write_errors,
            e.ssd_read_errors,
            e.ssd_write_errors,
            s.uncached_sequential_reads,
            s.uncached_sequential_writes,
            s.pid_adds,
            s.pid_dels,
            s.pid_drops,
            s.expiry,
            self.gauges.lru_hot_blocks,
            self.gauges.lru_warm_blocks,
            s.lru_promotions,
            s.lru_demotions
        );
        if self.io_latency_hist {
            out.push_str("\nIO Latency Histogram: \n");
            for (bucket, count) in self.histograms.latency_hist.iter().enumerate() {
                let _ = writeln!(out, "< {}\tusecs : {}", (bucket + 1) * 250, count);
            }
            let _ = write!(out, "> 10\tmsecs : {}", self.histograms.latency_hist_10ms);
        }
        out
    }

    /// `dmsetup table` (STATUSTYPE_TABLE): configuration and occupancy.
    pub fn render_table(&self) -> String {
        let mode = match (self.mode, self.write_only) {
            (CacheMode::WriteBack, true) => "WRITE_CACHE",
            (CacheMode::WriteBack, false) => "WRITE_BACK",
            (CacheMode::WriteThrough, _) => "WRITE_THROUGH",
            (CacheMode::WriteAround, _) => "WRITE_AROUND",
        };
        let mut out = String::new();
        out.push_str("conf:\n");
        let _ = writeln!(
            out,
            "\tssd dev ({}), disk dev ({}) cache mode({})",
            self.ssd_dev, self.disk_dev, mode
        );
        let capacity_mib = (self.gauges.size_blocks * u64::from(self.block_size_sectors)) >> 11;
        let block_kib = self.block_size_sectors >> 1;
        if self.mode == CacheMode::WriteBack {
            let _ = writeln!(
                out,
                "\tcapacity({}M), associativity({}), data block size({}K) metadata block size({}b)",
                capacity_mib,
                self.assoc,
                block_kib,
                self.md_block_size_sectors * 512
            );
        } else {
            let _ = writeln!(
                out,
                "\tcapacity({}M), associativity({}), data block size({}K)",
                capacity_mib, self.assoc, block_kib
            );
        }
        let _ = writeln!(out, "\tdisk assoc({}K)", self.disk_assoc_sectors >> 1);
        let _ = writeln!(
            out,
            "\tskip sequential thresh({}K)",
            self.skip_seq_thresh_kb
        );
        let _ = writeln!(
            out,
            "\ttotal blocks({}), cached blocks({}), cache percent({})",
            self.gauges.size_blocks,
            self.gauges.cached_blocks,
            self.cache_percent()
        );
        if self.mode == CacheMode::WriteBack {
            let _ = writeln!(
                out,
                "\tdirty blocks({}), dirty percent({})",
                self.gauges.nr_dirty,
                self.dirty_percent()
            );
        }
        let _ = writeln!(out, "\tnr_queued({})", self.gauges.nr_queued);
        out.push_str("Size Hist: ");
        for (sectors, count) in self.histograms.size_hist.iter().enumerate().skip(1) {
            if *count > 0 {
                let _ = write!(out, "{}:{} ", sectors * 512, count);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(mode: CacheMode) -> StatusReport {
        StatusReport {
            mode,
            write_only: false,
            ssd_dev: "/dev/ssd".into(),
            disk_dev: "/dev/disk".into(),
            block_size_sectors: 8,
            md_block_size_sectors: 8,
            assoc: 512,
            disk_assoc_sectors: 0,
            skip_seq_thresh_kb: 0,
            io_latency_hist: false,
            stats: FlashcacheStats {
                reads: 200,
                read_hits: 50,
                writes: 10,
                write_hits: 4,
                dirty_write_hits: 1,
                ..FlashcacheStats::default()
            },
            errors: FlashcacheErrors::default(),
            gauges: Gauges {
                size_blocks: 260_608,
                cached_blocks: 130_304,
                nr_dirty: 2606,
                ..Gauges::default()
            },
            histograms: Histograms::default(),
            deviations: Vec::new(),
        }
    }

    #[test]
    fn percentages_use_integer_division() {
        let r = report(CacheMode::WriteBack);
        assert_eq!(r.read_hit_percent(), 25);
        assert_eq!(r.write_hit_percent(), 40);
        assert_eq!(r.dirty_write_hit_percent(), 10);
        assert_eq!(r.cache_percent(), 50);
        assert_eq!(r.dirty_percent(), 0);
    }

    #[test]
    fn status_text_is_mode_dependent() {
        let wb = report(CacheMode::WriteBack).render_status();
        assert!(wb.starts_with("stats: \n\treads(200), writes(10)\n"));
        assert!(wb.contains("\tread hits(50), read hit percent(25)\n"));
        assert!(wb.contains("metadata dirties(0)"));
        let wa = report(CacheMode::WriteAround).render_status();
        assert!(!wa.contains("metadata"));
        assert!(wa.contains("\tinvalidates(0)\n"));
        assert!(wa.ends_with("lru promotions(0), lru demotions(0)"));
    }

    #[test]
    fn table_text_shows_configuration_and_occupancy() {
        let mut r = report(CacheMode::WriteBack);
        r.histograms.size_hist[8] = 3;
        let table = r.render_table();
        assert!(table.contains("cache mode(WRITE_BACK)"));
        assert!(table.contains(
            "capacity(1018M), associativity(512), data block size(4K) metadata block size(4096b)"
        ));
        assert!(table.contains("total blocks(260608), cached blocks(130304), cache percent(50)"));
        assert!(table.contains("Size Hist: 4096:3 "));
        r.write_only = true;
        assert!(r.render_table().contains("WRITE_CACHE"));
    }

    #[test]
    fn histograms_bucket_latency_and_clusters() {
        let mut h = Histograms::default();
        h.record_latency(0);
        h.record_latency(249_999);
        h.record_latency(250_000);
        h.record_latency(10_000_000);
        assert_eq!(
            (h.latency_hist[0], h.latency_hist[1], h.latency_hist_10ms),
            (2, 1, 1)
        );
        h.record_cluster(3);
        h.record_cluster(128);
        assert_eq!((h.write_clust_hist[3], h.write_clust_hist_ovf), (1, 1));
        let json = serde_json::to_string(&h).expect("serialises");
        assert_eq!(
            serde_json::from_str::<Histograms>(&json).expect("parses"),
            h
        );
    }
}
