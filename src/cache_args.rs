//! The cache and device flags shared by `replay` and `compare`, and how they (with
//! `--set KEY=VALUE` settings) become a flashcache configuration and device parameters.
//!
//! `--set KEY=VALUE` routes by prefix: `ssd.…` and `hdd.…` override the device models' dotted
//! parameters (see `dmsim devices list` and the presets' JSON; with `--hdd-raid5`, `hdd.…`
//! applies to every member); `raid5.…` an md tunable of the array (`raid5.stripe_cache_size`,
//! `raid5.layout`, `raid5.preread_bypass_threshold`); `table.…` a table-line field
//! (`table.disk_assoc_sectors`, `table.md_block_size_sectors`); any other key a flashcache
//! tunable (`dirty_thresh_pct`, `max_clean_ios_set`, `skip_seq_thresh_kb`, …) or option
//! (`honor_flush`, `fallow_timer`, `ssd_timeout_ns`, …) by its name.

use clap::{Args, ValueEnum};
use dmsim_engine::flashcache::{
    Associativity, CacheMode, FlashcacheConfig, Persistence, ReclaimPolicy, TableLine, MAX_ASSOC,
    MIN_ASSOC,
};
use dmsim_engine::raid5::{Geometry, Raid5Config};
use dmsim_engine::DeviceInfo;
use dmsim_models::presets::{self, set_json_path, DeviceParams};
use dmsim_testbed::raid5_fail::{check_members, parse_fails, parse_spares, spare_count};
use dmsim_testbed::setup::{CacheSetup, Raid5Setup, VolumeTarget};
use dmsim_testbed::units::parse_size;
use serde::Serialize;

/// Cache mode as users name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModeArg {
    Writeback,
    Writethrough,
    Writearound,
    /// Writeback that never fills on a read miss (flashcache's write_only_cache).
    WriteOnly,
}

impl ModeArg {
    pub fn name(self) -> &'static str {
        match self {
            ModeArg::Writeback => "writeback",
            ModeArg::Writethrough => "writethrough",
            ModeArg::Writearound => "writearound",
            ModeArg::WriteOnly => "write-only",
        }
    }
}

/// Replacement policy as users name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyArg {
    /// flashcache's FIFO hand (its default).
    Fifo,
    /// flashcache's two-list hot/warm LRU.
    Lru,
    /// One plain LRU list per set (for comparison).
    LruStrict,
}

impl PolicyArg {
    pub fn name(self) -> &'static str {
        match self {
            PolicyArg::Fifo => "fifo",
            PolicyArg::Lru => "lru",
            PolicyArg::LruStrict => "lru-strict",
        }
    }
    fn policy(self) -> ReclaimPolicy {
        match self {
            PolicyArg::Fifo => ReclaimPolicy::Fifo,
            PolicyArg::Lru => ReclaimPolicy::Lru,
            PolicyArg::LruStrict => ReclaimPolicy::LruStrict,
        }
    }
}

/// Default cache size when neither --cache-size nor --cache-blocks is given: 1 GiB.
pub const DEFAULT_CACHE_BYTES: u64 = 1 << 30;

/// Cache and device flags. Each is optional so a scenario can supply it; the command line
/// wins over a scenario, and the documented default applies when neither says.
#[derive(Args, Clone, Debug, Default)]
pub struct CacheArgs {
    /// Simulated SSD (cache device) preset [default: ssd-nvme].
    #[arg(long)]
    pub ssd: Option<String>,
    /// Simulated HDD (disk) preset; the volume has its size [default: hdd-7200].
    #[arg(long, conflicts_with = "hdd_raid5")]
    pub hdd: Option<String>,
    /// The disk is an md raid5 array of N simulated members of one preset, as NxPRESET
    /// (`4xhdd-7200`, 3 to 16 members, left-symmetric); the volume is the array.
    #[arg(long, value_name = "NxPRESET")]
    pub hdd_raid5: Option<String>,
    /// Chunk size of the --hdd-raid5 array, a power of two of at least 4k [default: 512k,
    /// mdadm's].
    #[arg(long, value_parser = parse_size)]
    pub chunk: Option<u64>,
    /// Fail member MEMBER of the --hdd-raid5 array (mdadm --fail) at a virtual time (`1@2s`)
    /// or right after a request count (`1@3000io`); repeatable, also `--set raid5.fail=…`.
    /// The array then serves degraded; a second failure fails IO with errors.
    #[arg(long, value_name = "MEMBER@WHEN")]
    pub raid5_fail: Vec<String>,
    /// Add a spare of the members' preset to the --hdd-raid5 array (mdadm --add) at a
    /// virtual time (`3s`) or right after a request count (`5000io`): it replaces a failed
    /// member and is rebuilt while IO runs, within md's speed limits (`--set
    /// raid5.speed_limit_min_kib_s=…`, `raid5.speed_limit_max_kib_s`), or waits as a hot
    /// spare for the next failure. Repeatable, also `--set raid5.spare=…`.
    #[arg(long, value_name = "WHEN")]
    pub raid5_spare: Vec<String>,
    /// Cache block size, a power of two from 512 bytes [default: 4k, flashcache's].
    #[arg(long, value_parser = parse_size)]
    pub block_size: Option<u64>,
    /// Cache size; in writeback its metadata is carved out of it [default: 1 GiB].
    #[arg(long, value_parser = parse_size, conflicts_with = "cache_blocks")]
    pub cache_size: Option<u64>,
    /// Cache size in cache blocks.
    #[arg(long)]
    pub cache_blocks: Option<u64>,
    /// Set associativity: a power of two in 256..8192, or `full` (one set, beyond
    /// flashcache) [default: 512].
    #[arg(long)]
    pub assoc: Option<String>,
    /// Simulated devices only: completions due at the same virtual nanosecond reach the
    /// engine in an order drawn from SEED instead of device order. Different seeds reach
    /// interleavings the fixed order never shows; the same seed gives the same run.
    #[arg(long, value_name = "SEED")]
    pub perturb_ties: Option<u64>,
}

/// What sits on the disk in a trace replay (`--target`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VolumeTargetArg {
    /// flashcache: the SSD caches the disk.
    Flashcache,
    /// dm-linear straight onto the disk: the no-cache baseline (the SSD is not used).
    Linear,
}

impl From<VolumeTargetArg> for VolumeTarget {
    fn from(target: VolumeTargetArg) -> VolumeTarget {
        match target {
            VolumeTargetArg::Flashcache => VolumeTarget::Flashcache,
            VolumeTargetArg::Linear => VolumeTarget::Linear,
        }
    }
}

/// Parse `KEY=VALUE` flags into pairs.
pub fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>, String> {
    sets.iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("--set '{s}': expected KEY=VALUE"))
        })
        .collect()
}

impl CacheArgs {
    /// These flags, with the scenario's cache and device fields filling what they leave open.
    pub fn or_scenario(
        &self,
        scenario: &dmsim_scenarios::scenario::Scenario,
    ) -> Result<CacheArgs, String> {
        let size = |field: &str, text: &Option<String>| -> Result<Option<u64>, String> {
            text.as_deref()
                .map(|t| parse_size(t).map_err(|e| format!("scenario field `cache.{field}`: {e}")))
                .transpose()
        };
        let explicit_size = self.cache_size.is_some() || self.cache_blocks.is_some();
        // A flag wins over the scenario: --hdd over the scenario's array, and back.
        let hdd_raid5 = match (&self.hdd_raid5, &self.hdd) {
            (Some(raid), _) => Some(raid.clone()),
            (None, Some(_)) => None,
            (None, None) => scenario.devices.hdd_raid5.clone(),
        };
        let hdd = match hdd_raid5 {
            Some(_) => None,
            None => self.hdd.clone().or(Some(scenario.devices.hdd.clone())),
        };
        let chunk = match self.chunk {
            Some(bytes) => Some(bytes),
            None => scenario
                .devices
                .chunk
                .as_deref()
                .map(|t| parse_size(t).map_err(|e| format!("scenario field `devices.chunk`: {e}")))
                .transpose()?,
        };
        Ok(CacheArgs {
            ssd: self.ssd.clone().or(Some(scenario.devices.ssd.clone())),
            hdd,
            hdd_raid5,
            chunk,
            raid5_fail: self.raid5_fail.clone(),
            raid5_spare: self.raid5_spare.clone(),
            block_size: self
                .block_size
                .or(size("block_size", &scenario.cache.block_size)?),
            cache_size: if explicit_size {
                self.cache_size
            } else {
                size("cache_size", &scenario.cache.cache_size)?
            },
            cache_blocks: if explicit_size {
                self.cache_blocks
            } else {
                scenario.cache.cache_blocks
            },
            assoc: self.assoc.clone().or(scenario.cache.assoc.clone()),
            perturb_ties: self.perturb_ties.or(scenario.perturb_ties_seed),
        })
    }

    /// The configuration for `mode` and `policy`, with `sets` applied in order.
    pub fn resolve(
        &self,
        mode: ModeArg,
        policy: PolicyArg,
        sets: &[(String, String)],
    ) -> Result<CacheSetup, String> {
        let ssd_name = self.ssd.clone().unwrap_or_else(|| "ssd-nvme".to_string());
        let raid = self.hdd_raid5.as_deref().map(parse_hdd_raid5).transpose()?;
        if self.chunk.is_some() && raid.is_none() {
            return Err(
                "--chunk is the chunk size of an --hdd-raid5 array; give --hdd-raid5 \
                        NxPRESET too"
                    .to_string(),
            );
        }
        let hdd_name = match &raid {
            Some((_, preset)) => preset.clone(),
            None => self.hdd.clone().unwrap_or_else(|| "hdd-7200".to_string()),
        };
        let mut ssd = presets::find(&ssd_name).map_err(|e| format!("--ssd: {e}"))?;
        let hdd_flag = if raid.is_some() {
            "--hdd-raid5"
        } else {
            "--hdd"
        };
        let mut hdd = presets::find(&hdd_name).map_err(|e| format!("{hdd_flag}: {e}"))?;
        let block_size = self.block_size.unwrap_or(4096);
        if !block_size.is_power_of_two() || block_size < 512 {
            return Err(format!(
                "--block-size {block_size} must be a power of two of at least 512"
            ));
        }
        let block_sectors = block_size / 512;
        let cache_sectors = match (self.cache_size, self.cache_blocks) {
            (Some(bytes), _) => bytes / 512,
            (None, Some(blocks)) => blocks
                .checked_mul(block_sectors)
                .ok_or_else(|| format!("--cache-blocks {blocks} is too large"))?,
            (None, None) => DEFAULT_CACHE_BYTES / 512,
        };
        let assoc = parse_assoc(self.assoc.as_deref().unwrap_or("512"))?;
        let mut warnings = Vec::new();
        if let Some(warning) = swapped_presets(&ssd_name, &ssd, &hdd_name, &hdd) {
            warnings.push(warning);
        }
        let (cache_mode, write_only) = match mode {
            ModeArg::Writeback => (CacheMode::WriteBack, false),
            ModeArg::Writethrough => (CacheMode::WriteThrough, false),
            ModeArg::Writearound => (CacheMode::WriteAround, false),
            ModeArg::WriteOnly => (CacheMode::WriteBack, true),
        };
        let mut table = TableLine::new(cache_mode, Persistence::Create, 0);
        table.ssd_dev = ssd_name.clone();
        table.disk_dev = hdd_name.clone();
        table.block_size_sectors =
            u32::try_from(block_sectors).map_err(|_| "--block-size too large".to_string())?;
        table.cache_size_sectors = cache_sectors;
        table.assoc = assoc;
        table.write_only = write_only;
        let mut cache = FlashcacheConfig::new(table);
        cache.tunables.reclaim_policy = policy.policy();
        let chunk_bytes = self.chunk.unwrap_or(512 << 10);
        let mut raid_config = Raid5Config::new(chunk_bytes / 512);
        let mut fails = Vec::new();
        for text in &self.raid5_fail {
            fails.extend(parse_fails(text, "--raid5-fail")?);
        }
        for text in &self.raid5_spare {
            fails.extend(parse_spares(text, "--raid5-spare")?);
        }
        if !fails.is_empty() && raid.is_none() {
            return Err(
                "--raid5-fail and --raid5-spare change an --hdd-raid5 array; give --hdd-raid5 \
                        NxPRESET too"
                    .to_string(),
            );
        }
        for (key, value) in sets {
            if let Some(rest) = key.strip_prefix("raid5.") {
                if raid.is_none() {
                    return Err(format!(
                        "--set {key}={value}: raid5.… settings need an --hdd-raid5 array"
                    ));
                }
                if rest == "fail" {
                    fails.extend(parse_fails(value, &format!("--set {key}"))?);
                    continue;
                }
                if rest == "spare" {
                    fails.extend(parse_spares(value, &format!("--set {key}"))?);
                    continue;
                }
                patch(&mut raid_config, rest, value)
                    .map_err(|e| format!("--set {key}={value}: {e}"))?;
                continue;
            }
            apply_set(&mut ssd, &mut hdd, &mut cache, key, value)
                .map_err(|e| format!("--set {key}={value}: {e}"))?;
        }
        warnings.extend(clamp_tunables(&mut cache, sets));
        // The volume is the disk (or the array of disks).
        let flag = if raid.is_some() {
            "--hdd-raid5"
        } else {
            "--hdd"
        };
        let hdd_model = hdd
            .build(Box::new(dmsim_sim::streams::stream(0, "capacity-probe")))
            .map_err(|e| format!("{flag}: {e}"))?;
        let hdd_sectors = hdd_model.capacity_sectors();
        let raid5 = match raid {
            None => None,
            Some((members, _)) => {
                if !chunk_bytes.is_multiple_of(512) {
                    return Err(format!(
                        "--chunk {chunk_bytes}: not a whole number of sectors"
                    ));
                }
                let info = DeviceInfo::new(hdd_sectors, hdd_model.logical_block_size());
                let geometry = Geometry::new(
                    &vec![info; members],
                    raid_config.chunk_sectors,
                    raid_config.layout,
                )
                .map_err(|e| match e {
                    dmsim_engine::raid5::Raid5ConfigError::Chunk { .. } => format!(
                        "--chunk {chunk_bytes}: a raid5 chunk is a power of two of at least 4k"
                    ),
                    other => format!("--hdd-raid5: {other}"),
                })?;
                check_members(&fails, members, "--raid5-fail")?;
                Some(Raid5Setup {
                    members,
                    config: raid_config,
                    array_sectors: geometry.array_sectors(),
                    spares: spare_count(&fails),
                    fails,
                    spin_guard: false,
                })
            }
        };
        cache.table.target_sectors = raid5.as_ref().map_or(hdd_sectors, |r| r.array_sectors);
        Ok(CacheSetup {
            ssd_name,
            ssd,
            hdd_name,
            hdd,
            cache,
            raid5,
            target: VolumeTarget::Flashcache,
            bare_device: false,
            perturb_ties_seed: self.perturb_ties,
            warnings,
        })
    }
}

impl CacheArgs {
    /// The setup of a run with no cache (`--target linear`): the disk flags and `sets`
    /// resolved as for a cache run, without the warning about a flash preset on `--hdd`
    /// (there is no cache in front of it to make it slower).
    pub fn resolve_linear(&self, sets: &[(String, String)]) -> Result<CacheSetup, String> {
        let mut setup = self.resolve(ModeArg::Writeback, PolicyArg::Fifo, sets)?;
        if let Some(swapped) =
            swapped_presets(&setup.ssd_name, &setup.ssd, &setup.hdd_name, &setup.hdd)
        {
            setup.warnings.retain(|warning| *warning != swapped);
        }
        setup.target = VolumeTarget::Linear;
        Ok(setup)
    }
}

/// `--hdd-raid5 NxPRESET`: the member count and the members' preset.
pub fn parse_hdd_raid5(text: &str) -> Result<(usize, String), String> {
    let parsed = text
        .split_once('x')
        .and_then(|(count, preset)| Some((count.parse::<usize>().ok()?, preset)))
        .filter(|(_, preset)| !preset.is_empty());
    let Some((members, preset)) = parsed else {
        return Err(format!(
            "--hdd-raid5 {text}: expected NxPRESET, the member count and a disk preset, e.g. \
             4xhdd-7200"
        ));
    };
    if !(3..=16).contains(&members) {
        return Err(format!(
            "--hdd-raid5 {text}: a raid5 array has 3 to 16 members, got {members}"
        ));
    }
    Ok((members, preset.to_string()))
}

/// `--assoc`: a power of two in flashcache's range, or `full`.
pub fn parse_assoc(text: &str) -> Result<Associativity, String> {
    if text == "full" {
        return Ok(Associativity::Full);
    }
    let valid = format!(
        "flashcache takes a power of two from {MIN_ASSOC} to {MAX_ASSOC} (256, 512, 1024, 2048, \
         4096, 8192), or 'full' for one set"
    );
    match text.parse::<u32>() {
        Ok(ways) if ways.is_power_of_two() && (MIN_ASSOC..=MAX_ASSOC).contains(&ways) => {
            Ok(Associativity::Ways(ways))
        }
        _ => Err(format!("--assoc {text}: {valid}")),
    }
}

/// A preset's kind as a sentence says it: "an SSD", "a RAM device".
fn device_words(kind: &str) -> String {
    match kind {
        "ssd" => "an SSD".to_string(),
        "ram" => "a RAM device".to_string(),
        other => format!("a device of kind {other}"),
    }
}

/// A warning when the SSD preset is a disk and the HDD preset is flash (swapped flags).
fn swapped_presets(
    ssd_name: &str,
    ssd: &DeviceParams,
    hdd_name: &str,
    hdd: &DeviceParams,
) -> Option<String> {
    let ssd_is_disk = ssd.kind() == "hdd";
    let hdd_is_flash = matches!(hdd.kind(), "ssd" | "ram");
    let message = match (ssd_is_disk, hdd_is_flash) {
        (true, true) => format!(
            "--ssd {ssd_name} is a disk and --hdd {hdd_name} is {}: are the presets swapped? \
             The cache sits on --ssd, the data on --hdd",
            device_words(hdd.kind())
        ),
        (true, false) => {
            format!("--ssd {ssd_name} is a disk: the cache will be as slow as the disk it caches")
        }
        (false, true) => format!(
            "--hdd {hdd_name} is {}, not a disk: the cache in front of it may make it slower",
            device_words(hdd.kind())
        ),
        (false, false) => return None,
    };
    Some(message)
}

/// Apply flashcache's clamps to the tunables (as its sysctl handlers do) and say which
/// `--set` values were changed.
fn clamp_tunables(cache: &mut FlashcacheConfig, sets: &[(String, String)]) -> Vec<String> {
    let clamped = cache.tunables.clone().clamped();
    let before = serde_json::to_value(&cache.tunables).unwrap_or_default();
    let after = serde_json::to_value(&clamped).unwrap_or_default();
    let mut warnings = Vec::new();
    if let (Some(before), Some(after)) = (before.as_object(), after.as_object()) {
        for (name, value) in after {
            if before.get(name) == Some(value) {
                continue;
            }
            let given = sets
                .iter()
                .rev()
                .find(|(k, _)| k.strip_prefix("cache.").unwrap_or(k) == name)
                .map_or_else(|| "?".to_string(), |(_, v)| v.clone());
            warnings.push(format!(
                "--set {name}={given} is outside the range flashcache accepts: clamped to \
                 {value}, as flashcache's sysctl does"
            ));
        }
    }
    cache.tunables = clamped;
    warnings
}

/// Apply one `--set` (see the module documentation).
pub fn apply_set(
    ssd: &mut DeviceParams,
    hdd: &mut DeviceParams,
    cache: &mut FlashcacheConfig,
    key: &str,
    value: &str,
) -> Result<(), String> {
    if let Some(rest) = key.strip_prefix("ssd.") {
        return ssd.set(rest, value).map_err(|e| e.to_string());
    }
    if let Some(rest) = key.strip_prefix("hdd.") {
        return hdd.set(rest, value).map_err(|e| e.to_string());
    }
    if let Some(rest) = key.strip_prefix("table.") {
        return patch(&mut cache.table, rest, value);
    }
    let key = key.strip_prefix("cache.").unwrap_or(key);
    let in_tunables = serde_json::to_value(&cache.tunables)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.contains_key(key)))
        .unwrap_or(false);
    if in_tunables {
        return patch(&mut cache.tunables, key, value);
    }
    let in_options = serde_json::to_value(&cache.options)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.contains_key(key)))
        .unwrap_or(false);
    if in_options {
        return patch(&mut cache.options, key, value);
    }
    let names = |v: serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    Err(format!(
        "unknown key; use ssd.KEY, hdd.KEY, table.KEY, or a tunable ({}) or option ({})",
        names(serde_json::to_value(&cache.tunables).unwrap_or_default()).join(", "),
        names(serde_json::to_value(&cache.options).unwrap_or_default()).join(", ")
    ))
}

/// Set field `key` of a serde value by its JSON path.
pub(crate) fn patch<T: Serialize + serde::de::DeserializeOwned>(
    target: &mut T,
    key: &str,
    value: &str,
) -> Result<(), String> {
    let mut tree = serde_json::to_value(&*target).map_err(|e| e.to_string())?;
    set_json_path(&mut tree, key, value, &[])?;
    *target = serde_json::from_value(tree).map_err(|e| e.to_string())?;
    Ok(())
}
