//! A resolved cache run setup: the devices' models, the flashcache configuration, the md
//! raid5 array under it if any, and what sits on the volume. The command line resolves its
//! flags into one; [`crate::cache_run::run_cache`] builds and runs it.

use crate::raid5_fail::ArrayEvent;
use dmsim_engine::flashcache::FlashcacheConfig;
use dmsim_engine::raid5::Raid5Config;
use dmsim_models::presets::DeviceParams;
use serde::{Deserialize, Serialize};

/// The disk as an md raid5 array: `members` simulated devices of the `hdd` preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raid5Setup {
    pub members: usize,
    pub config: Raid5Config,
    /// The array's size in sectors (the volume's).
    pub array_sectors: u64,
    /// Members to fail and spares to add during the run (`--raid5-fail`, `raid5.fail`,
    /// `--raid5-spare`, `raid5.spare`).
    pub fails: Vec<ArrayEvent>,
    /// Spare devices reserved for the array (one per spare added).
    pub spares: usize,
    /// The workload is bounded by time only: stop it if a failed array makes it spin at one
    /// instant (see [`crate::raid5_fail::FailSchedule::with_spin_guard`]).
    pub spin_guard: bool,
}

/// What sits on the disk in a cache run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolumeTarget {
    /// flashcache: the SSD caches the disk.
    Flashcache,
    /// dm-linear straight onto the disk: the no-cache baseline (the SSD is not used).
    Linear,
}

impl VolumeTarget {
    /// The name reports and `--target` use.
    pub fn name(self) -> &'static str {
        match self {
            VolumeTarget::Flashcache => "flashcache",
            VolumeTarget::Linear => "linear",
        }
    }
}

/// Everything a cache run needs, resolved from flags. Serialised as the `setup` of a
/// [`crate::spec::RunSpec`] (without the warnings, which were said when it was resolved).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSetup {
    pub ssd_name: String,
    pub ssd: DeviceParams,
    pub hdd_name: String,
    pub hdd: DeviceParams,
    pub cache: FlashcacheConfig,
    /// `Some` when the disk is an md raid5 array of `hdd` members (`--hdd-raid5`).
    pub raid5: Option<Raid5Setup>,
    /// flashcache over the disk, or linear (no cache): `--target`.
    pub target: VolumeTarget,
    /// Linear onto one device alone (`replay --dev PRESET`): the platform holds only that
    /// device, named `dev`, built from the `hdd` fields (which may be any preset, SSD too).
    pub bare_device: bool,
    /// `--perturb-ties`: the seed that orders simultaneous completions (simulation only).
    pub perturb_ties_seed: Option<u64>,
    /// Things the user should know about the setup (a clamped tunable, presets that look
    /// swapped); printed as warnings before the run.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl CacheSetup {
    /// Refuse, before anything is built, a simulated cache larger than its SSD or too large
    /// for this machine's memory. `ssd_sectors` is the simulated SSD's capacity.
    pub fn check_simulated_fit(&self, ssd_sectors: u64) -> Result<(), String> {
        let table = &self.cache.table;
        let requested = table.cache_size_sectors;
        let what = if requested == 0 {
            format!(
                "--cache-size 0 (the whole {} SSD {})",
                crate::memory::human_bytes(ssd_sectors.saturating_mul(512)),
                self.ssd_name
            )
        } else {
            format!(
                "--cache-size {}",
                crate::memory::human_bytes(requested.saturating_mul(512))
            )
        };
        if requested > ssd_sectors {
            return Err(format!(
                "{what} is larger than the SSD {} ({}); give at most its size",
                self.ssd_name,
                crate::memory::human_bytes(ssd_sectors.saturating_mul(512))
            ));
        }
        let cache_sectors = if requested == 0 {
            ssd_sectors
        } else {
            requested
        };
        crate::memory::check_cache_fits(
            &what,
            cache_sectors,
            u64::from(table.block_size_sectors.max(1)),
            true,
            crate::memory::available_memory_bytes(),
        )
    }
}
