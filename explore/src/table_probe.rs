//! flashcache's table line as text (issue 9; spec 1.2). A user creates the cache with a line
//! of `dmsetup create`, not a struct: each flashcache seed's line must read back as the
//! table it renders, and lines that differ from it in one argument must be taken or refused
//! as the spec's constructor rules say, with the spec's reason, under either disk_assoc rule.
//!
//! The rules are written here again from the spec, independently of the engine's parser:
//! the explorer's second opinion at the boundaries (a power of two or not, the limits of
//! each argument, the checks that only writeback makes, the order the constructor checks
//! in). A line is only parsed and validated, never used: the seed's run is unchanged.

use crate::spec::SeedSpec;
use dmsim_engine::flashcache::{
    Associativity, CacheDeviceSizes, CacheMode, ConfigError, DiskAssocRule, Options, Persistence,
    TableLine,
};
use dmsim_sim::streams::stream;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Lines that differ from the seed's in one place or two, per seed.
const VARIANTS_PER_SEED: usize = 6;

/// Checks `spec`'s table line and its variants; Ok without flashcache. The error names the
/// line, what the engine said and what the spec's rules say.
pub fn check(spec: &SeedSpec) -> Result<(), String> {
    let Some(config) = spec.target.flashcache() else {
        return Ok(());
    };
    let devices = CacheDeviceSizes {
        ssd_sectors: spec.devices[0].ram.capacity_sectors,
        // Not looked at by the constructor's argument checks.
        disk_sectors: config.table.target_sectors,
        ssd_logical_block_bytes: spec.devices[0].logical_block_size,
    };
    let line = config.table.render();
    match TableLine::parse(&line) {
        Ok(parsed) if parsed == config.table => {}
        other => {
            return Err(format!(
                "table line {line:?} reads back as {other:?}, not {:?}",
                config.table
            ))
        }
    }
    let mut rng = stream(spec.seed, "explore.table_probe");
    for _ in 0..VARIANTS_PER_SEED {
        let variant = draw_variant(&mut rng, &line, &devices);
        // Under both disk_assoc rules (Decision 4), whichever the seed runs.
        for rule in [DiskAssocRule::Intended, DiskAssocRule::Faithful] {
            let options = Options {
                disk_assoc_rule: rule,
                ..config.options.clone()
            };
            let engine = TableLine::parse(&variant)
                .and_then(|table| table.validate(&devices, &options).map(|()| table));
            let model = expected(&variant, &devices, rule);
            if engine != model {
                return Err(format!(
                    "table line {variant:?} (SSD of {} sectors, {}-byte sectors, {rule:?} \
                     disk_assoc rule): the engine says {engine:?}, the spec's rules {model:?}",
                    devices.ssd_sectors, devices.ssd_logical_block_bytes
                ));
            }
        }
    }
    Ok(())
}

/// `line` with a word or two replaced, or cut short.
fn draw_variant(rng: &mut ChaCha8Rng, line: &str, devices: &CacheDeviceSizes) -> String {
    let once = change_a_word(rng, line, devices);
    if rng.random_ratio(1, 3) {
        // Two arguments judged together (disk assoc against assoc and block size, ...).
        change_a_word(rng, &once, devices)
    } else {
        once
    }
}

/// `line` with one word replaced, or cut short.
fn change_a_word(rng: &mut ChaCha8Rng, line: &str, devices: &CacheDeviceSizes) -> String {
    let mut words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    let ssd = devices.ssd_sectors;
    // Word positions: 0 "0", 1 length, 2 "flashcache", 3-5 devices and name, 6 mode,
    // 7 persistence, 8 block size, 9 cache size, 10 assoc, 11 disk assoc, 12 write-only,
    // 13 metadata block size.
    let position = rng.random_range(0..=14);
    if position == 14 {
        words.truncate(rng.random_range(0..words.len().max(1)));
        return words.join(" ");
    }
    let values: Vec<String> = match position {
        0 => vec!["1".into(), "00".into()],
        1 => vec!["x".into(), "-8".into()],
        2 => vec!["linear".into(), "Flashcache".into()],
        3..=5 => vec!["/dev/other".into()],
        6 => words_of(&["0", "1", "2", "3", "4", "x", "-1", "4294967296"]),
        7 => words_of(&["0", "1", "2", "3", "4", "z", "-1"]),
        8 => words_of(&[
            "0",
            "1",
            "2",
            "3",
            "4",
            "6",
            "8",
            "16",
            "32",
            "64",
            "q",
            "4294967296",
        ]),
        9 => vec![
            "0".into(),
            "q".into(),
            "255".into(),
            "256".into(),
            "511".into(),
            "512".into(),
            ssd.to_string(),
        ],
        10 => words_of(&[
            "0",
            "128",
            "255",
            "256",
            "384",
            "512",
            "1024",
            "8192",
            "16384",
            "q",
            "4294967296",
        ]),
        11 => words_of(&[
            "0",
            "128",
            "256",
            "384",
            "512",
            "1024",
            "2048",
            "4096",
            "q",
            "4294967296",
        ]),
        12 => words_of(&["0", "1", "2", "q"]),
        13 => words_of(&["0", "1", "2", "3", "8", "12", "16", "32", "128", "256", "q"]),
        _ => unreachable!("positions 0..=14"),
    };
    let value = values[rng.random_range(0..values.len())].clone();
    if position < words.len() {
        words[position] = value;
    }
    words.join(" ")
}

fn words_of(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// What flashcache's constructor makes of `line` (spec 1.2, its checks in its order), for a
/// cache over `devices` under `rule`: the table, or the reason it refuses.
fn expected(
    line: &str,
    devices: &CacheDeviceSizes,
    rule: DiskAssocRule,
) -> Result<TableLine, ConfigError> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let not_a_line = || ConfigError::NotATableLine {
        line: line.to_string(),
    };
    if words.len() < 3 || words[0] != "0" || words[2] != "flashcache" {
        return Err(not_a_line());
    }
    let target_sectors: u64 = words[1].parse().map_err(|_| not_a_line())?;
    let args = &words[3..];
    if args.len() < 4 {
        return Err(ConfigError::NeedArguments);
    }
    let mode = match args[3].parse::<u32>() {
        Err(_) => {
            return Err(ConfigError::ModeUnparsable {
                value: args[3].to_string(),
            })
        }
        Ok(1) => CacheMode::WriteBack,
        Ok(2) => CacheMode::WriteThrough,
        Ok(3) => CacheMode::WriteAround,
        Ok(mode) => return Err(ConfigError::InvalidCacheMode { mode }),
    };
    let write_back = mode == CacheMode::WriteBack;
    // Persistence matters to writeback only; absent, it reloads.
    let persistence = match (write_back, args.get(4)) {
        (false, _) => Persistence::Create,
        (true, None) => Persistence::Reload,
        (true, Some(text)) => match text.parse::<u32>() {
            Err(_) => {
                return Err(ConfigError::PersistenceUnparsable {
                    value: text.to_string(),
                })
            }
            Ok(1) => Persistence::Reload,
            Ok(2) => Persistence::Create,
            Ok(3) => Persistence::ForceCreate,
            Ok(persistence) => return Err(ConfigError::InvalidPersistence { persistence }),
        },
    };
    // Optional numbers, absent = 0 = the default; each refused in its own words. Every one
    // is read before any is judged.
    let optional = |index: usize, error: ConfigError| match args.get(index) {
        None => Ok(0u64),
        Some(text) => text.parse::<u64>().map_err(|_| error),
    };
    let block_size = optional(5, ConfigError::InvalidBlockSize { block_size: 0 })?;
    let cache_size = optional(6, ConfigError::InvalidCacheSize)?;
    let assoc = optional(7, ConfigError::InvalidAssociativity { assoc: 0 })?;
    let disk_assoc = optional(8, ConfigError::InvalidDiskAssociativity { disk_assoc: 0 })?;
    let write_only = match optional(9, ConfigError::WriteCacheUnparsable)? {
        0 => false,
        1 => true,
        value => return Err(ConfigError::InvalidWriteCacheSetting { value }),
    };
    let md_block_size = optional(
        10,
        ConfigError::InvalidMetadataBlockSize { md_block_size: 0 },
    )?;
    let fits = |value: u64, error: ConfigError| u32::try_from(value).map_err(|_| error);
    let table = TableLine {
        target_sectors,
        disk_dev: args[0].to_string(),
        ssd_dev: args[1].to_string(),
        vdev_name: args[2].to_string(),
        mode,
        persistence,
        block_size_sectors: fits(block_size, ConfigError::InvalidBlockSize { block_size: 0 })?,
        cache_size_sectors: cache_size,
        assoc: Associativity::Ways(fits(assoc, ConfigError::InvalidAssociativity { assoc: 0 })?),
        disk_assoc_sectors: fits(
            disk_assoc,
            ConfigError::InvalidDiskAssociativity { disk_assoc: 0 },
        )?,
        write_only,
        md_block_size_sectors: fits(
            md_block_size,
            ConfigError::InvalidMetadataBlockSize { md_block_size: 0 },
        )?,
    };
    judge(&table, devices, rule).map(|()| table)
}

/// The constructor's checks of a parsed line (spec 1.2): a reload takes its geometry from
/// the superblock and is not judged.
fn judge(
    table: &TableLine,
    devices: &CacheDeviceSizes,
    rule: DiskAssocRule,
) -> Result<(), ConfigError> {
    let write_back = table.mode == CacheMode::WriteBack;
    if write_back && table.persistence == Persistence::Reload {
        return Ok(());
    }
    let block = u64::from(match table.block_size_sectors {
        0 => 8,
        sectors => sectors,
    });
    if !block.is_power_of_two() {
        return Err(ConfigError::InvalidBlockSize {
            block_size: table.block_size_sectors,
        });
    }
    let size = match table.cache_size_sectors {
        0 => devices.ssd_sectors,
        sectors => sectors,
    };
    let Associativity::Ways(ways) = table.assoc else {
        unreachable!("the explorer's lines give a number of ways")
    };
    let assoc = match u64::from(ways) {
        0 => 512,
        n if n.is_power_of_two() && (256..=8192).contains(&n) && n <= size => n,
        _ => return Err(ConfigError::InvalidAssociativity { assoc: ways }),
    };
    let disk_assoc = u64::from(table.disk_assoc_sectors);
    if disk_assoc != 0 {
        let shift = u64::from(block.trailing_zeros());
        let within_assoc = match rule {
            DiskAssocRule::Intended => disk_assoc <= assoc << shift,
            DiskAssocRule::Faithful => assoc * shift >= disk_assoc,
        };
        if !(disk_assoc.is_power_of_two()
            && (256..=2048).contains(&disk_assoc)
            && disk_assoc <= size
            && within_assoc)
        {
            return Err(ConfigError::InvalidDiskAssociativity {
                disk_assoc: table.disk_assoc_sectors,
            });
        }
    }
    if table.write_only && !write_back {
        return Err(ConfigError::WriteCacheNeedsWriteBack);
    }
    if write_back {
        let md = match table.md_block_size_sectors {
            0 => 8,
            sectors => sectors,
        };
        if !md.is_power_of_two() || md > 128 {
            return Err(ConfigError::InvalidMetadataBlockSize {
                md_block_size: table.md_block_size_sectors,
            });
        }
        // 16-byte slots: an md block may not hold more slots than a set has ways.
        if u64::from(md) * 512 / 16 > assoc {
            return Err(ConfigError::MetadataBlockLargerThanSet {
                md_block_size: md,
                assoc: assoc as u32,
            });
        }
        if md * 512 < devices.ssd_logical_block_bytes {
            return Err(ConfigError::MetadataBlockSmallerThanSsdSector {
                md_block_bytes: md * 512,
                ssd_logical_block_bytes: devices.ssd_logical_block_bytes,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Profile;

    /// The probe passes on the engine as it is, over seeds of every flashcache shape.
    #[test]
    fn the_engine_agrees_with_the_spec_rules_on_drawn_lines() {
        for seed in 0..300 {
            for profile in [Profile::Flashcache, Profile::Raid5] {
                let spec = SeedSpec::draw(seed, profile);
                check(&spec).unwrap_or_else(|e| panic!("seed {seed} {profile:?}: {e}"));
            }
        }
    }

    /// The model is no echo of the engine: it refuses what the spec refuses.
    #[test]
    fn the_model_refuses_with_the_spec_reasons() {
        let devices = CacheDeviceSizes {
            ssd_sectors: 1 << 20,
            disk_sectors: 1 << 20,
            ssd_logical_block_bytes: 4096,
        };
        let base = "0 1048576 flashcache /dev/disk /dev/ssd cachedev";
        let cases = [
            ("1 2 8 0 512 0 0 8", None),
            ("1 2 8 0 256 0 0 16", Some("MetadataBlockLargerThanSet")),
            (
                "1 2 8 0 512 0 0 4",
                Some("MetadataBlockSmallerThanSsdSector"),
            ),
            ("1 2 8 0 8192 0 0 8", None),
            ("1 2 8 0 16384", Some("InvalidAssociativity")),
            ("1 2 8 0 512 4096", Some("InvalidDiskAssociativity")),
            ("2 2 8 0 512 0 1", Some("WriteCacheNeedsWriteBack")),
            ("1 1 7 q", Some("InvalidCacheSize")),
            ("1 1 7", None),
            ("1", None),
            ("3 9 q", Some("InvalidBlockSize")),
            // 2048 > 512 * 3 under flashcache's own formula, <= 512 << 3 as intended.
            ("1 2 8 0 512 2048", None),
        ];
        for (args, refusal) in cases {
            let line = format!("{base} {args}");
            let got = expected(&line, &devices, DiskAssocRule::Intended);
            match refusal {
                None => assert!(got.is_ok(), "{line}: {got:?}"),
                Some(reason) => assert!(
                    format!("{got:?}").contains(reason),
                    "{line}: {got:?}, expected {reason}"
                ),
            }
        }
        let faithful = expected(
            &format!("{base} 1 2 8 0 512 2048"),
            &devices,
            DiskAssocRule::Faithful,
        );
        assert_eq!(
            faithful,
            Err(ConfigError::InvalidDiskAssociativity { disk_assoc: 2048 })
        );
    }
}
