//! flashcache's table line (spec 1.2): parsing, rendering, defaults, and the constructor's
//! argument checks in its order and with its reasons.
//!
//! Owns: the arguments of `flashcache_ctr`. Does not own sizing (see [`super::geometry`])
//! nor checks that need device IO (module `persist`).

use super::config::{
    Associativity, CacheMode, ConfigError, DiskAssocRule, Options, Persistence, DEFAULT_ASSOC,
    DEFAULT_BLOCK_SIZE_SECTORS, DEFAULT_MD_BLOCK_SIZE_SECTORS, MAX_ASSOC, MAX_DISK_ASSOC_SECTORS,
    MAX_MD_BLOCK_SIZE_SECTORS, MD_SLOT_BYTES, MIN_ASSOC, MIN_DISK_ASSOC_SECTORS,
};
use serde::{Deserialize, Serialize};

/// flashcache's table line: `0 <disk_sectors> flashcache <disk_dev> <ssd_dev> <vdev_name>
/// <mode> <persistence> [block_size] [cache_size] [assoc] [disk_assoc] [write_only]
/// [md_block_size]`. Zero in a numeric field means "flashcache's default".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableLine {
    /// Length of the target in sectors (the disk's size).
    pub target_sectors: u64,
    pub disk_dev: String,
    pub ssd_dev: String,
    /// The DM device name, stored in the superblock's `cache_devname` since v2.
    pub vdev_name: String,
    pub mode: CacheMode,
    pub persistence: Persistence,
    /// Cache block size in sectors; 0 = 8.
    pub block_size_sectors: u32,
    /// Cache size in sectors; 0 = the whole SSD.
    pub cache_size_sectors: u64,
    /// Associativity; `Ways(0)` = 512.
    pub assoc: Associativity,
    /// Disk associativity in sectors; 0 = off (legacy mapping).
    pub disk_assoc_sectors: u32,
    /// Write-only cache (writeback only): writes are cached, read misses never fill.
    pub write_only: bool,
    /// Metadata block size in sectors (writeback only); 0 = 8.
    pub md_block_size_sectors: u32,
}

impl TableLine {
    /// A writeback table line with every geometry argument at flashcache's default.
    pub fn new(mode: CacheMode, persistence: Persistence, target_sectors: u64) -> TableLine {
        TableLine {
            target_sectors,
            disk_dev: "/dev/disk".to_string(),
            ssd_dev: "/dev/ssd".to_string(),
            vdev_name: "cachedev".to_string(),
            mode,
            persistence,
            block_size_sectors: 0,
            cache_size_sectors: 0,
            assoc: Associativity::Ways(0),
            disk_assoc_sectors: 0,
            write_only: false,
            md_block_size_sectors: 0,
        }
    }

    /// Parse a `dmsetup table` line for the flashcache target. Numeric fields that do not
    /// parse are refused with the reason flashcache gives for that argument.
    pub fn parse(line: &str) -> Result<TableLine, ConfigError> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 {
            return Err(ConfigError::NotATableLine {
                line: line.to_string(),
            });
        }
        if fields[0] != "0" || fields[2] != "flashcache" {
            return Err(ConfigError::NotATableLine {
                line: line.to_string(),
            });
        }
        let target_sectors: u64 = fields[1].parse().map_err(|_| ConfigError::NotATableLine {
            line: line.to_string(),
        })?;
        let args = &fields[3..];
        if args.len() < 4 {
            // flashcache checks for 3 and then reads argv[3] regardless; 4 are needed.
            return Err(ConfigError::NeedArguments);
        }
        let mode_number: u32 = args[3].parse().map_err(|_| ConfigError::ModeUnparsable {
            value: args[3].to_string(),
        })?;
        let mode = CacheMode::from_number(mode_number)
            .ok_or(ConfigError::InvalidCacheMode { mode: mode_number })?;
        let persistence = if mode == CacheMode::WriteBack {
            match args.get(4) {
                None => Persistence::Reload,
                Some(text) => {
                    let number: u32 =
                        text.parse()
                            .map_err(|_| ConfigError::PersistenceUnparsable {
                                value: text.to_string(),
                            })?;
                    match number {
                        1 => Persistence::Reload,
                        2 => Persistence::Create,
                        3 => Persistence::ForceCreate,
                        _ => {
                            return Err(ConfigError::InvalidPersistence {
                                persistence: number,
                            })
                        }
                    }
                }
            }
        } else {
            // Persistence is ignored for writethrough and writearound: always "create".
            Persistence::Create
        };
        let number = |index: usize, error: ConfigError| -> Result<u64, ConfigError> {
            match args.get(index) {
                None => Ok(0),
                Some(text) => text.parse::<u64>().map_err(|_| error),
            }
        };
        let block_size = number(5, ConfigError::InvalidBlockSize { block_size: 0 })?;
        let cache_size = number(6, ConfigError::InvalidCacheSize)?;
        // `full` is this project's one-set cache (`render` writes it); flashcache has none.
        // `None` for it; a number is checked for 32 bits with the others, below.
        let assoc = match args.get(7) {
            Some(&"full") => None,
            _ => Some(number(7, ConfigError::InvalidAssociativity { assoc: 0 })?),
        };
        let disk_assoc = number(8, ConfigError::InvalidDiskAssociativity { disk_assoc: 0 })?;
        let write_only = number(9, ConfigError::WriteCacheUnparsable)?;
        let md_block_size = number(
            10,
            ConfigError::InvalidMetadataBlockSize { md_block_size: 0 },
        )?;
        let to_u32 = |value: u64, error: ConfigError| u32::try_from(value).map_err(|_| error);
        let write_only = match write_only {
            0 => false,
            1 => true,
            other => return Err(ConfigError::InvalidWriteCacheSetting { value: other }),
        };
        Ok(TableLine {
            target_sectors,
            disk_dev: args[0].to_string(),
            ssd_dev: args[1].to_string(),
            vdev_name: args[2].to_string(),
            mode,
            persistence,
            block_size_sectors: to_u32(
                block_size,
                ConfigError::InvalidBlockSize { block_size: 0 },
            )?,
            cache_size_sectors: cache_size,
            assoc: match assoc {
                None => Associativity::Full,
                Some(ways) => Associativity::Ways(to_u32(
                    ways,
                    ConfigError::InvalidAssociativity { assoc: 0 },
                )?),
            },
            disk_assoc_sectors: to_u32(
                disk_assoc,
                ConfigError::InvalidDiskAssociativity { disk_assoc: 0 },
            )?,
            write_only,
            md_block_size_sectors: to_u32(
                md_block_size,
                ConfigError::InvalidMetadataBlockSize { md_block_size: 0 },
            )?,
        })
    }

    /// Render as the 11-argument line `flashcache_create` emits.
    pub fn render(&self) -> String {
        let assoc = match self.assoc {
            Associativity::Ways(ways) => ways.to_string(),
            Associativity::Full => "full".to_string(),
        };
        format!(
            "0 {} flashcache {} {} {} {} {} {} {} {} {} {} {}",
            self.target_sectors,
            self.disk_dev,
            self.ssd_dev,
            self.vdev_name,
            self.mode.number(),
            self.persistence.number(),
            self.block_size_sectors,
            self.cache_size_sectors,
            assoc,
            self.disk_assoc_sectors,
            u32::from(self.write_only),
            self.md_block_size_sectors
        )
    }

    /// The block size in effect (default applied).
    pub fn effective_block_size_sectors(&self) -> u32 {
        if self.block_size_sectors == 0 {
            DEFAULT_BLOCK_SIZE_SECTORS
        } else {
            self.block_size_sectors
        }
    }

    /// The metadata block size in effect (default applied; writethrough/writearound keep none
    /// on the SSD but the value is still reported).
    pub fn effective_md_block_size_sectors(&self) -> u32 {
        if self.md_block_size_sectors == 0 {
            DEFAULT_MD_BLOCK_SIZE_SECTORS
        } else {
            self.md_block_size_sectors
        }
    }

    /// Check the arguments in the order `flashcache_ctr` does and with its reasons.
    /// Arguments a RELOAD ignores (all geometry) are not checked for RELOAD.
    pub fn validate(
        &self,
        devices: &CacheDeviceSizes,
        options: &Options,
    ) -> Result<(), ConfigError> {
        if self.mode == CacheMode::WriteBack && self.persistence == Persistence::Reload {
            return Ok(());
        }
        let block_size = self.effective_block_size_sectors();
        if !block_size.is_power_of_two() {
            return Err(ConfigError::InvalidBlockSize {
                block_size: self.block_size_sectors,
            });
        }
        let block_shift = block_size.trailing_zeros();
        // flashcache compares assoc with the size while it is still in sectors.
        let size_sectors = if self.cache_size_sectors == 0 {
            devices.ssd_sectors
        } else {
            self.cache_size_sectors
        };
        let assoc = match self.assoc {
            Associativity::Ways(0) => DEFAULT_ASSOC,
            Associativity::Ways(ways) => {
                if !ways.is_power_of_two()
                    || !(MIN_ASSOC..=MAX_ASSOC).contains(&ways)
                    || size_sectors < u64::from(ways)
                {
                    return Err(ConfigError::InvalidAssociativity { assoc: ways });
                }
                ways
            }
            // One set of the whole cache: no upper limit; the size check is done by sizing.
            Associativity::Full => u32::MAX,
        };
        let disk_assoc = self.disk_assoc_sectors;
        if disk_assoc > 0 {
            let assoc_limit_violated = match options.disk_assoc_rule {
                DiskAssocRule::Faithful => {
                    u64::from(assoc) * u64::from(block_shift) < u64::from(disk_assoc)
                }
                DiskAssocRule::Intended => {
                    u64::from(disk_assoc) > (u64::from(assoc) << block_shift)
                }
            };
            if !disk_assoc.is_power_of_two()
                || !(MIN_DISK_ASSOC_SECTORS..=MAX_DISK_ASSOC_SECTORS).contains(&disk_assoc)
                || size_sectors < u64::from(disk_assoc)
                || assoc_limit_violated
            {
                return Err(ConfigError::InvalidDiskAssociativity { disk_assoc });
            }
        }
        if self.write_only && self.mode != CacheMode::WriteBack {
            return Err(ConfigError::WriteCacheNeedsWriteBack);
        }
        if self.mode == CacheMode::WriteBack {
            let md_block_size = self.effective_md_block_size_sectors();
            if !md_block_size.is_power_of_two() || md_block_size > MAX_MD_BLOCK_SIZE_SECTORS {
                return Err(ConfigError::InvalidMetadataBlockSize {
                    md_block_size: self.md_block_size_sectors,
                });
            }
            // An md block may never span two sets.
            let slots_per_md_block = md_block_size * 512 / MD_SLOT_BYTES;
            if u64::from(assoc) < u64::from(slots_per_md_block) {
                return Err(ConfigError::MetadataBlockLargerThanSet {
                    md_block_size,
                    assoc,
                });
            }
            if md_block_size * 512 < devices.ssd_logical_block_bytes {
                return Err(ConfigError::MetadataBlockSmallerThanSsdSector {
                    md_block_bytes: md_block_size * 512,
                    ssd_logical_block_bytes: devices.ssd_logical_block_bytes,
                });
            }
        }
        Ok(())
    }
}

/// What the constructor needs to know about the two devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheDeviceSizes {
    /// SSD capacity in sectors.
    pub ssd_sectors: u64,
    /// Disk capacity in sectors.
    pub disk_sectors: u64,
    /// The SSD's logical block size in bytes (512 or 4096).
    pub ssd_logical_block_bytes: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEVICES: CacheDeviceSizes = CacheDeviceSizes {
        ssd_sectors: 2_097_152,
        disk_sectors: 20_971_520,
        ssd_logical_block_bytes: 512,
    };

    fn check(line: &str) -> Result<TableLine, ConfigError> {
        let table = TableLine::parse(line)?;
        table.validate(&DEVICES, &Options::default())?;
        Ok(table)
    }

    #[test]
    fn parses_the_eleven_argument_line_of_flashcache_create() {
        let table = check("0 20971520 flashcache /dev/sdb /dev/sdc cachedev 1 2 8 0 512 0 0 8")
            .expect("valid line");
        assert_eq!(table.mode, CacheMode::WriteBack);
        assert_eq!(table.persistence, Persistence::Create);
        assert_eq!(table.block_size_sectors, 8);
        assert_eq!(table.assoc, Associativity::Ways(512));
        assert_eq!(table.md_block_size_sectors, 8);
        assert_eq!(table.vdev_name, "cachedev");
        assert_eq!(
            table.render(),
            "0 20971520 flashcache /dev/sdb /dev/sdc cachedev 1 2 8 0 512 0 0 8"
        );
    }

    #[test]
    fn writethrough_ignores_persistence_and_defaults_apply() {
        let table = check("0 100 flashcache d s v 2 7").expect("persistence ignored");
        assert_eq!(table.persistence, Persistence::Create);
        assert_eq!(table.effective_block_size_sectors(), 8);
    }

    #[test]
    fn reload_ignores_geometry_arguments() {
        // Garbage geometry is not looked at when the superblock supplies it.
        assert!(check("0 100 flashcache d s v 1 1 3 0 7").is_ok());
    }

    #[test]
    fn refuses_with_flashcaches_reasons() {
        let cases: &[(&str, ConfigError)] = &[
            ("0 100 flashcache d s", ConfigError::NeedArguments),
            (
                "0 100 flashcache d s v x",
                ConfigError::ModeUnparsable { value: "x".into() },
            ),
            (
                "0 100 flashcache d s v 4",
                ConfigError::InvalidCacheMode { mode: 4 },
            ),
            (
                "0 100 flashcache d s v 0",
                ConfigError::InvalidCacheMode { mode: 0 },
            ),
            (
                "0 100 flashcache d s v 1 4",
                ConfigError::InvalidPersistence { persistence: 4 },
            ),
            (
                "0 100 flashcache d s v 1 z",
                ConfigError::PersistenceUnparsable { value: "z".into() },
            ),
            (
                "0 100 flashcache d s v 1 2 6",
                ConfigError::InvalidBlockSize { block_size: 6 },
            ),
            (
                "0 100 flashcache d s v 1 2 q",
                ConfigError::InvalidBlockSize { block_size: 0 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 q",
                ConfigError::InvalidCacheSize,
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 384",
                ConfigError::InvalidAssociativity { assoc: 384 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 128",
                ConfigError::InvalidAssociativity { assoc: 128 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 16384",
                ConfigError::InvalidAssociativity { assoc: 16384 },
            ),
            // assoc must not exceed the size (still in sectors at that point).
            (
                "0 100 flashcache d s v 1 2 8 300 512",
                ConfigError::InvalidAssociativity { assoc: 512 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 512 384",
                ConfigError::InvalidDiskAssociativity { disk_assoc: 384 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 512 128",
                ConfigError::InvalidDiskAssociativity { disk_assoc: 128 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 512 4096",
                ConfigError::InvalidDiskAssociativity { disk_assoc: 4096 },
            ),
            (
                "0 100 flashcache d s v 2 2 8 0 512 0 1",
                ConfigError::WriteCacheNeedsWriteBack,
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 512 0 2",
                ConfigError::InvalidWriteCacheSetting { value: 2 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 512 0 0 12",
                ConfigError::InvalidMetadataBlockSize { md_block_size: 12 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 512 0 0 256",
                ConfigError::InvalidMetadataBlockSize { md_block_size: 256 },
            ),
            (
                // 64 KiB md blocks hold 4096 slots: more than a 512-way set.
                "0 100 flashcache d s v 1 2 8 0 512 0 0 128",
                ConfigError::MetadataBlockLargerThanSet {
                    md_block_size: 128,
                    assoc: 512,
                },
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(check(line).as_ref().err(), Some(expected), "line {line:?}");
        }
    }

    #[test]
    fn md_block_must_cover_an_ssd_logical_block() {
        let table = TableLine::parse("0 100 flashcache d s v 1 2 8 0 512 0 0 1").expect("parses");
        let devices = CacheDeviceSizes {
            ssd_logical_block_bytes: 4096,
            ..DEVICES
        };
        assert_eq!(
            table.validate(&devices, &Options::default()),
            Err(ConfigError::MetadataBlockSmallerThanSsdSector {
                md_block_bytes: 512,
                ssd_logical_block_bytes: 4096
            })
        );
    }

    #[test]
    fn disk_assoc_rule_faithful_versus_intended() {
        // 2048 sectors: assoc*block_shift = 512*3 = 1536 < 2048 refuses under the faithful
        // formula; 512 << 3 = 4096 accepts under the intended one.
        let table = TableLine::parse("0 100 flashcache d s v 1 2 8 0 512 2048").expect("parses");
        let faithful = Options {
            disk_assoc_rule: DiskAssocRule::Faithful,
            ..Options::default()
        };
        assert_eq!(
            table.validate(&DEVICES, &faithful),
            Err(ConfigError::InvalidDiskAssociativity { disk_assoc: 2048 })
        );
        assert_eq!(table.validate(&DEVICES, &Options::default()), Ok(()));
        let ok = TableLine::parse("0 100 flashcache d s v 1 2 8 0 512 1024").expect("parses");
        assert_eq!(ok.validate(&DEVICES, &faithful), Ok(()));
    }

    #[test]
    fn full_associativity_skips_the_8192_limit() {
        let mut table = TableLine::new(CacheMode::WriteBack, Persistence::Create, 1000);
        table.assoc = Associativity::Full;
        assert_eq!(table.validate(&DEVICES, &Options::default()), Ok(()));
        assert!(table.render().contains(" full "));
        // What `render` writes reads back (it did not: `full` was no number).
        assert_eq!(TableLine::parse(&table.render()), Ok(table));
    }
}
