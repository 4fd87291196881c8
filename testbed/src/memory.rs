//! How much memory a simulated cache needs, and refusing one the machine cannot hold before
//! the run starts (a 1.9 TB cache would otherwise grow past every limit and be killed).
//!
//! The figures are estimates measured on the debug and release builds (peak RSS of
//! `dmsim replay` over 1, 8 and 32 GiB caches, minus a 64 MiB one): about 55 bytes of
//! flashcache per-block state and index per cache block, and about 14 bytes of simulated
//! flash mapping per 4 KiB of the SSD's cache area. They are rounded up so the check errs on
//! the side of refusing early rather than swapping late.

/// Bytes of flashcache state per cache block (block state, set lists, hash index).
pub const STATE_BYTES_PER_CACHE_BLOCK: u64 = 72;
/// Bytes of the simulated SSD's mapping per 4 KiB of preconditioned cache area.
pub const SSD_MODEL_BYTES_PER_4K: u64 = 16;
/// Fraction of the available memory a run may plan to use (the rest is for everything else).
const USABLE_PERCENT: u64 = 80;

/// Estimated bytes of memory a cache of `cache_sectors` in blocks of `block_sectors` needs;
/// `simulated_ssd` adds the simulated flash model's mapping.
pub fn cache_memory_bytes(cache_sectors: u64, block_sectors: u64, simulated_ssd: bool) -> u64 {
    assert!(block_sectors > 0, "a cache block has at least one sector");
    let blocks = cache_sectors / block_sectors;
    let state = blocks.saturating_mul(STATE_BYTES_PER_CACHE_BLOCK);
    let model = if simulated_ssd {
        (cache_sectors / 8).saturating_mul(SSD_MODEL_BYTES_PER_4K)
    } else {
        0
    };
    state.saturating_add(model)
}

/// Bytes of memory available to a new process (`MemAvailable` of /proc/meminfo), or `None`
/// where the kernel does not say.
pub fn available_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo_available(&text)
}

fn parse_meminfo_available(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line
        .trim_start_matches("MemAvailable:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// Refuse a cache whose state needs more than the usable part of `available_bytes`.
/// `what` says how the user asked for the cache (named in the message).
pub fn check_cache_fits(
    what: &str,
    cache_sectors: u64,
    block_sectors: u64,
    simulated_ssd: bool,
    available_bytes: Option<u64>,
) -> Result<(), String> {
    let Some(available) = available_bytes else {
        return Ok(());
    };
    let needed = cache_memory_bytes(cache_sectors, block_sectors, simulated_ssd);
    let usable = available / 100 * USABLE_PERCENT;
    if needed <= usable {
        return Ok(());
    }
    Err(format!(
        "{what}: a cache of {} would take about {} of memory to simulate, more than this machine \
         has available ({}); give a smaller --cache-size (or --cache-blocks), or a larger \
         --block-size",
        human_bytes(cache_sectors.saturating_mul(512)),
        human_bytes(needed),
        human_bytes(available)
    ))
}

/// `1.9 TB`-style binary sizes for messages.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_grows_with_blocks_and_the_simulated_flash() {
        let one_gib = (1u64 << 30) / 512;
        let sim = cache_memory_bytes(one_gib, 8, true);
        let real = cache_memory_bytes(one_gib, 8, false);
        assert_eq!(real, 262_144 * STATE_BYTES_PER_CACHE_BLOCK);
        assert_eq!(sim, real + 262_144 * SSD_MODEL_BYTES_PER_4K);
        assert!(cache_memory_bytes(one_gib, 128, false) < real);
    }

    #[test]
    fn a_whole_nvme_cache_is_refused_with_the_memory_it_needs() {
        let nvme_sectors = 1_920_000_000_000u64 / 512;
        let err =
            check_cache_fits("--cache-size 0", nvme_sectors, 8, true, Some(8 << 30)).unwrap_err();
        assert!(
            err.contains("--cache-size 0") && err.contains("GiB of memory"),
            "{err}"
        );
        assert!(check_cache_fits("x", (1 << 30) / 512, 8, true, Some(8 << 30)).is_ok());
        assert!(check_cache_fits("x", nvme_sectors, 8, true, None).is_ok());
    }

    #[test]
    fn meminfo_is_read_in_kib() {
        let text = "MemTotal:       24683784 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(parse_meminfo_available(text), Some(2048 * 1024));
        assert_eq!(parse_meminfo_available("MemTotal: 1 kB\n"), None);
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(512), "512 bytes");
    }
}
