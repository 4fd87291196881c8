//! A [`SeedSpec`]: one whole explorer run, drawn from a seed's own stream under a
//! [`Profile`]. It is also the seed file format (JSON): `dmsim explore --replay FILE` runs
//! one, and shrinking edits one.
//!
//! Deliberately not here: running it (see [`crate::run`]).

use crate::scrub::Scrub;
use crate::trace_window::{BundledTrace, TraceWindow};
use crate::write_flags::FlagRates;
use dmsim_engine::block::{DeviceInfo, Extent, IoStatus, Op};
use dmsim_engine::flashcache::{
    Associativity, CacheMode, ErrorInjection, FlashcacheConfig, Persistence, ReclaimPolicy,
    TableLine,
};
use dmsim_engine::raid5::superblock::METADATA_SECTORS;
use dmsim_engine::raid5::{Geometry, Layout, Raid5Config, STRIPE_SECTORS};
use dmsim_engine::services::kcopyd::{KcopydConfig, KcopydPages};
use dmsim_engine::{KcopydGeneration, PlugConfig};
use dmsim_models::ram::RamParams;
use dmsim_sim::device::faults::{DeviceFault, FaultAction, FaultRule, Landing};
use dmsim_sim::device::PowerLoss;
use dmsim_sim::streams::stream;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which runs a seed draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Everything: linear or flashcache, a swarm of faults, power losses, BUGGIFY.
    Swarm,
    /// No fault and no power loss: the run is also compared with a pass-through volume.
    FaultFree,
    /// flashcache only, with the swarm.
    Flashcache,
    /// flashcache with `ssd_timeout` always set and SSD IO that times out (late, hung,
    /// ignored cancels): the zombie paths.
    Timeouts,
    /// md raid5 with a superblock (and maybe a bitmap) over 3..=5 members: member failures
    /// (`fail N`), power losses with assembly and resync, the write hole; delay faults.
    Raid5,
}

impl Profile {
    pub const ALL: [Profile; 5] = [
        Profile::Swarm,
        Profile::FaultFree,
        Profile::Flashcache,
        Profile::Timeouts,
        Profile::Raid5,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Swarm => "swarm",
            Profile::FaultFree => "fault-free",
            Profile::Flashcache => "flashcache",
            Profile::Timeouts => "timeouts",
            Profile::Raid5 => "raid5",
        }
    }

    /// The profile called `name`, or an error listing the known ones.
    pub fn parse(name: &str) -> Result<Profile, String> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
                format!("unknown profile {name:?} (known: {})", known.join(", "))
            })
    }
}

/// A simulated RAM device (named for the fault streams and reports).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceChoice {
    pub name: String,
    pub ram: RamParams,
    /// Bytes per logical block: 512 or 4096 (IO must be whole blocks).
    #[serde(default = "sector_bytes", skip_serializing_if = "is_sector_bytes")]
    pub logical_block_size: u32,
    /// The largest IO the engine may send it, in sectors (the queue's `max_sectors`;
    /// `None`: the default). raid5 members only: a chunk-aligned read longer than this goes
    /// through the stripe cache instead of straight to the member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sectors: Option<u32>,
    /// The largest discard the device takes, in sectors (`None`: it takes none, and the
    /// engine refuses discards to it as unsupported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_discard_sectors: Option<u32>,
}

fn sector_bytes() -> u32 {
    512
}

fn is_sector_bytes(bytes: &u32) -> bool {
    *bytes == 512
}

/// The target over the devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TargetChoice {
    /// dm-linear over device 0.
    Linear,
    /// flashcache: device 0 is the SSD, device 1 the disk.
    Flashcache(Box<FlashcacheConfig>),
    /// md raid5 over every device, in order.
    Raid5(Box<Raid5Config>),
    /// flashcache caching a raid5 array: device 0 is the SSD, the others the array's
    /// members in order (the array is flashcache's disk, stacked).
    Raid5UnderFlashcache {
        raid5: Box<Raid5Config>,
        flashcache: Box<FlashcacheConfig>,
    },
}

impl TargetChoice {
    /// The volume's size in sectors over `devices` (0 if the shape is impossible).
    pub fn volume_sectors(&self, devices: &[DeviceChoice]) -> u64 {
        match self {
            TargetChoice::Linear => devices[0].ram.capacity_sectors,
            TargetChoice::Flashcache(config) => config.table.target_sectors,
            TargetChoice::Raid5(config) => {
                raid5_geometry(config, devices).map_or(0, |geometry| geometry.array_sectors())
            }
            TargetChoice::Raid5UnderFlashcache { flashcache, .. } => {
                flashcache.table.target_sectors
            }
        }
    }

    /// flashcache's configuration, if flashcache is the volume (over a disk or an array).
    pub fn flashcache(&self) -> Option<&FlashcacheConfig> {
        match self {
            TargetChoice::Flashcache(config) => Some(config),
            TargetChoice::Raid5UnderFlashcache { flashcache, .. } => Some(flashcache),
            TargetChoice::Linear | TargetChoice::Raid5(_) => None,
        }
    }

    /// [`TargetChoice::flashcache`], to change.
    pub fn flashcache_mut(&mut self) -> Option<&mut FlashcacheConfig> {
        match self {
            TargetChoice::Flashcache(config) => Some(config),
            TargetChoice::Raid5UnderFlashcache { flashcache, .. } => Some(flashcache),
            TargetChoice::Linear | TargetChoice::Raid5(_) => None,
        }
    }
}

/// The raid5 array's geometry over `devices` (its superblock's sectors kept out).
pub fn raid5_geometry(config: &Raid5Config, devices: &[DeviceChoice]) -> Option<Geometry> {
    let infos: Vec<DeviceInfo> = devices
        .iter()
        .map(|d| DeviceInfo::new(d.ram.capacity_sectors, 512))
        .collect();
    let reserved = if config.superblock {
        METADATA_SECTORS
    } else {
        0
    };
    Geometry::reserving(&infos, config.chunk_sectors, config.layout, reserved).ok()
}

/// The generated workload: hot spots, unaligned IO and large multi-block IO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadChoice {
    /// Seed of the generators (kept apart from the spec's seed so shrinking can keep it).
    pub seed: u64,
    pub span_bytes: u64,
    /// Whole percentages (integers, so a seed file round-trips exactly).
    pub read_percent: u32,
    /// Requests that go to the hot space.
    pub hot_access_percent: u32,
    pub hot_space_percent: u32,
    /// One request in this many is 512-byte aligned (0: none).
    pub unaligned_one_in: u64,
    /// One request in this many is a large multi-block IO of 32..256 KiB (0: none).
    pub large_one_in: u64,
    /// Every this many requests a flush (0: none).
    pub flush_every: u64,
    /// One request in this many is a discard of what the generators drew (0: none).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub discard_one_in: u64,
    /// One request in this many starts a sequential run: the next 4 to 48 requests (but
    /// every third) become consecutive 4 KiB IOs from where it began (0: none).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub sequential_one_in: u64,
    /// Replay a window of a real trace instead of the generators (their fields then only
    /// give the flushes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceWindow>,
}

/// One stretch of IO, then possibly a power loss (the engine is rebuilt, flashcache reloads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    pub requests: u64,
    /// Times (from the segment's start) at which the SSD's timed IO is cancelled by device
    /// (`dm_io_cancel_by_device`, as an administrator would): flashcache only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssd_cancels_at_ns: Vec<u64>,
    /// raid5 only: this member fails (`fail N`) as the segment starts (right after the
    /// assembly, if a power loss came before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_member: Option<usize>,
    /// The segment stops after this many inputs (IO still in flight) instead of running to
    /// its end; its power loss then tears what was being written. Needs `power_loss`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_after_inputs: Option<u64>,
    pub power_loss: Option<PowerLoss>,
    /// The segment ends with a clean stop if its engine is idle: flashcache is removed
    /// (cleaned unless `fast_remove`, metadata stored) and a new engine reloads it (other
    /// targets: just a new engine). IO still held by a fault, or a remove a fault blocks:
    /// the power loss instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clean_stop: bool,
    /// Control messages the target gets as the segment starts, once it runs (flashcache
    /// only: pid lists and `set cache_all`; see [`crate::pids`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    /// The volume sits idle this long after the messages before the first request (timers
    /// fire, pid list entries expire, IO in flight completes); counts in the segment's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_before_requests_ns: Option<u64>,
}

const NS_PER_SEC: u64 = 1_000_000_000;

/// A whole explorer run; see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSpec {
    pub seed: u64,
    pub profile: Profile,
    pub target: TargetChoice,
    /// flashcache's kcopyd client (classic unless drawn; linear ignores it).
    #[serde(default)]
    pub kcopyd: KcopydGeneration,
    pub devices: Vec<DeviceChoice>,
    pub workload: WorkloadChoice,
    pub queue_depth: u32,
    /// Completions of one instant in a seeded random order.
    pub perturb_ties: bool,
    /// The engine's BUGGIFY sites are on (seeded by `seed`).
    pub buggify: bool,
    /// Faults per device (same order as `devices`).
    pub faults: Vec<Vec<DeviceFault>>,
    pub segments: Vec<Segment>,
    /// raid5 alone: the last this many `devices` are spares reserved for the array, not
    /// members. The liveness phase adds one (`add`): it rebuilds a failed role, whose
    /// contents a second read-back then checks, or waits as a hot spare.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub spares: usize,
    /// Pages of the engine's buffer arena (`None`: [`ARENA_PAGES_DEFAULT`]). A small one
    /// makes bios wait for pages and a kcopyd client with a reserve draw on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arena_pages: Option<u32>,
    /// flashcache's dm_io client gets at most this many request slots (`None`: its 1024):
    /// requests then wait for a slot, and a cancel by device meets waiting ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm_io_min_ios: Option<u32>,
    /// flashcache keeps its victim index from the start (otherwise from its first walk
    /// longer than 64 blocks). Either way every set may keep one and every victim it chooses
    /// is checked against flashcache's linear walk (the engine's `victim_index_check`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub victim_index_from_start: bool,
    /// raid5 alone: before the first assembly this member carries the superblock of another
    /// array (another chunk size), as a disk moved from elsewhere would: the array must fail
    /// it at assembly, not take it in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_superblock_member: Option<usize>,
    /// raid5 alone with a spare: while the recovery the liveness phase starts runs, its
    /// read-back also reads the rebuilt role's chunk across the recovery front (see
    /// [`crate::rebuild_front`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rebuild_front_reads: bool,
    /// Queue plugging of old kernels (`None`: off): async device IO waits for the unplug
    /// timer, a queue-depth threshold or a sync IO to its device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugging: Option<PlugConfig>,
    /// raid5: a scrub (`check` or `repair`) at the end of the liveness phase (see
    /// [`crate::scrub`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrub: Option<Scrub>,
    /// flashcache invalidates by its legacy set scan where the hash would do (the engine's
    /// `invalidation_scan`): writethrough and writearound run the scan under the oracles.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invalidation_scan: bool,
    /// Bios marked FUA, preflush or sync, at these rates (see [`crate::write_flags`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_flags: Option<FlagRates>,
}

/// Sectors every flashcache SSD the explorer draws holds beyond its cache blocks: room for
/// the superblock and the metadata, whatever the draws then do to the geometry.
pub const SSD_SLACK_SECTORS: u64 = 1024;

/// The arena of every spec that draws no small one.
pub const ARENA_PAGES_DEFAULT: u32 = 4096;

/// The smallest of the larger raid5 chunks a seed that reads across a rebuild's front may
/// draw (128 KiB; up to md's default, 512 KiB).
const LARGE_CHUNK_SECTORS_MIN: u64 = 256;

/// The smallest `max_sectors` a raid5 member may have: its superblock and bitmap pages go
/// as one IO.
const MEMBER_MAX_SECTORS_MIN: u32 = METADATA_SECTORS as u32;

/// Arena pages every engine takes up front besides kcopyd's: the zero page and
/// flashcache's metadata reserve.
const ARENA_FIXED_PAGES: u32 = 1 + 64;

/// Free arena pages a small arena keeps at least, above what is taken up front: the
/// largest bio (256 KiB, 64 pages) and a little more, so every bio can be admitted.
const ARENA_SLACK_PAGES_MIN: u32 = 80;

fn is_zero_u64(count: &u64) -> bool {
    *count == 0
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

impl SeedSpec {
    /// The run of `seed` under `profile`: everything drawn from the stream `explore.spec`.
    pub fn draw(seed: u64, profile: Profile) -> SeedSpec {
        let mut rng = stream(seed, "explore.spec");
        let raid5 = profile == Profile::Raid5;
        let flashcache = match profile {
            Profile::Swarm => rng.random_ratio(3, 4),
            Profile::FaultFree | Profile::Flashcache | Profile::Timeouts => true,
            Profile::Raid5 => false,
        };
        let (target, devices, full_sets) = if raid5 {
            let (target, mut devices) = draw_raid5(&mut rng, seed);
            if rng.random_ratio(1, 3) {
                let TargetChoice::Raid5(raid5) = target else {
                    unreachable!("drawn as raid5")
                };
                let array_sectors = raid5_geometry(&raid5, &devices)
                    .expect("a drawn array")
                    .array_sectors();
                let (TargetChoice::Flashcache(mut flashcache), cache_devices, _) =
                    draw_flashcache(&mut rng, profile)
                else {
                    unreachable!("drawn as flashcache")
                };
                flashcache.table.target_sectors = array_sectors;
                // Members under flashcache keep no volatile cache, as flashcache's disk never
                // does in these profiles: flashcache marks a cleaned block clean once the disk
                // write completes and issues no flush (spec 1.14), so a disk write cache loses
                // cleaned, once-flushed data at a power loss (13 of 80 seeds, "returned
                // Zero"). Faithful behaviour, a deployment hazard, not an engine bug.
                for device in &mut devices {
                    device.ram.volatile_write_cache = false;
                }
                devices.insert(0, cache_devices[0].clone());
                (
                    TargetChoice::Raid5UnderFlashcache { raid5, flashcache },
                    devices,
                    false,
                )
            } else {
                (target, devices, false)
            }
        } else if flashcache {
            draw_flashcache(&mut rng, profile)
        } else {
            let (target, devices) = draw_linear(&mut rng);
            (target, devices, false)
        };
        let kcopyd = if flashcache {
            draw_kcopyd(&mut rng)
        } else {
            KcopydGeneration::Classic
        };
        let timed =
            matches!(&target, TargetChoice::Flashcache(c) if c.options.ssd_timeout_ns.is_some());
        let span_bytes = target.volume_sectors(&devices) * 512;
        let volatile = devices.iter().any(|d| d.ram.volatile_write_cache);
        let workload = WorkloadChoice {
            seed: rng.random(),
            span_bytes: if full_sets {
                span_bytes
            } else {
                span_bytes.min(rng.random_range(1u64..=4) << 22)
            },
            read_percent: if full_sets {
                rng.random_range(5..=30)
            } else {
                rng.random_range(10..=90)
            },
            hot_access_percent: rng.random_range(50..=95),
            hot_space_percent: rng.random_range(1..=30),
            unaligned_one_in: [0, 2, 4, 8][rng.random_range(0..4)],
            large_one_in: [0, 4, 16, 64][rng.random_range(0..4)],
            discard_one_in: 0,
            sequential_one_in: 0,
            flush_every: if volatile || rng.random_ratio(1, 4) {
                rng.random_range(5..50)
            } else {
                0
            },
            trace: None,
        };
        let faulty = profile != Profile::FaultFree;
        let faults = devices
            .iter()
            .enumerate()
            .map(|(index, device)| {
                if !faulty {
                    return Vec::new();
                }
                if raid5 {
                    return raid5_faults(&mut rng);
                }
                let limits = SwarmLimits {
                    capacity_sectors: device.ram.capacity_sectors,
                    pull: profile != Profile::Timeouts,
                    timeouts_on_this_device: profile == Profile::Timeouts && index == 0,
                };
                swarm(&mut rng, &limits)
            })
            .collect();
        let segment_count = if faulty { rng.random_range(1..=3) } else { 1 };
        let segments = (0..segment_count)
            .map(|_| {
                let requests = rng.random_range(100..1_000);
                Segment {
                    requests,
                    ssd_cancels_at_ns: if timed && rng.random_ratio(1, 2) {
                        let mut at: Vec<u64> = (0..rng.random_range(1..=3))
                            .map(|_| rng.random_range(0..200_000_000))
                            .collect();
                        at.sort_unstable();
                        at
                    } else {
                        Vec::new()
                    },
                    // The write hole under flashcache is not modelled by the oracle: no
                    // member failures there.
                    fail_member: (matches!(target, TargetChoice::Raid5(_))
                        && rng.random_ratio(1, 3))
                    .then(|| rng.random_range(0..devices.len())),
                    // raid5 segments all end in a power loss; half of them mid-IO.
                    cut_after_inputs: (raid5 && rng.random_bool(0.5))
                        .then(|| rng.random_range(50..requests * 20)),
                    power_loss: faulty.then(|| PowerLoss {
                        cache_survival_ppm: rng.random_range(0..=1_000_000),
                        tear_cached_blocks: rng.random_bool(0.5),
                    }),
                    clean_stop: false,
                    messages: Vec::new(),
                    idle_before_requests_ns: None,
                }
            })
            .collect();
        let mut spec = SeedSpec {
            seed,
            profile,
            target,
            kcopyd,
            devices,
            workload,
            queue_depth: if full_sets {
                32
            } else {
                [1, 2, 4, 8, 16, 32][rng.random_range(0..6)]
            },
            perturb_ties: rng.random_bool(0.5),
            buggify: faulty && !raid5 && rng.random_ratio(1, 2),
            faults,
            segments,
            spares: 0,
            arena_pages: None,
            dm_io_min_ios: None,
            victim_index_from_start: false,
            foreign_superblock_member: None,
            rebuild_front_reads: false,
            plugging: None,
            scrub: None,
            invalidation_scan: false,
            write_flags: None,
        };
        spec.draw_later_dimensions();
        spec.draw_raid5_spares();
        spec.draw_rebuild_front_reads();
        spec.draw_member_max_sectors();
        spec.draw_foreign_superblock();
        spec.draw_smallest_kcopyd_pool();
        spec.draw_small_arena();
        spec.draw_dm_io_slots();
        spec.draw_victim_index();
        spec.draw_trace_window();
        spec.draw_large_cache();
        spec.draw_default_assoc();
        spec.draw_dirty_threshold_change();
        spec.draw_pid_expiry();
        spec.draw_plugging();
        spec.draw_discards();
        spec.draw_sequential_bypass();
        spec.draw_raid5_write_errors();
        spec.draw_small_pid_lists();
        spec.draw_scrub();
        spec.draw_invalidation_scan();
        crate::cache_geometry::draw(&mut spec);
        spec.draw_bad_patches();
        spec.draw_error_injection();
        spec.write_flags = crate::write_flags::draw(spec.seed);
        spec.draw_honor_flush();
        spec
    }

    /// flashcache: one seed in three turns on option `honor_flush` (Decision 1), so flush
    /// bios become a flush job sending one dm_io flush to both devices (timed on the SSD
    /// with `ssd_timeout`, failing with the devices' faults) instead of completing at once:
    /// a path no seed ran before. The devices keep no volatile cache (as every flashcache
    /// draw): the data oracle's durability rules stay those of acknowledged writes. Its own
    /// stream.
    fn draw_honor_flush(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.honor_flush");
        if let Some(config) = self.target.flashcache_mut() {
            config.options.honor_flush = rng.random_ratio(1, 3);
        }
    }

    /// flashcache with faults: one segment in three arms one to three of flashcache's own
    /// one-shot error injection flags (`error_inject`, spec 1.17) as it starts, each firing
    /// once where flashcache tests it. Its own stream.
    fn draw_error_injection(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.error_inject");
        let faulty = !self.is_fault_free();
        if !faulty || self.target.flashcache().is_none() {
            return;
        }
        for segment in &mut self.segments {
            if !rng.random_ratio(1, 3) {
                continue;
            }
            let mut flags = 0u32;
            for _ in 0..rng.random_range(1..=3) {
                let (flag, _) = ErrorInjection::ALL[rng.random_range(0..ErrorInjection::ALL.len())];
                flags |= flag.0;
            }
            segment.messages.push(format!("error_inject 0x{flags:x}"));
        }
    }

    /// Linear and flashcache with faults: a device in four gets a bad patch, a range of
    /// sectors where IO often fails or crawls (a worn or damaged region of a real drive),
    /// beside whatever the swarm put on it. Its own stream; after the SSD is sized.
    fn draw_bad_patches(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.bad_patch");
        let faulty = !self.faults.iter().all(Vec::is_empty);
        if !faulty
            || !matches!(
                self.target,
                TargetChoice::Linear | TargetChoice::Flashcache(_)
            )
        {
            return;
        }
        let cache_ssd = matches!(self.target, TargetChoice::Flashcache(_));
        let span_sectors = self.workload.span_bytes / 512;
        for (index, (device, faults)) in self.devices.iter().zip(&mut self.faults).enumerate() {
            if !rng.random_ratio(1, 4) {
                continue;
            }
            // Where the workload goes: all of a cache's SSD, the span of a disk or volume.
            let used_sectors = if cache_ssd && index == 0 {
                device.ram.capacity_sectors
            } else {
                span_sectors.clamp(8, device.ram.capacity_sectors)
            };
            let sectors = rng.random_range(8..=2048).min(used_sectors);
            let sector = rng.random_range(0..=used_sectors - sectors);
            let patch = Extent::new(sector, sectors);
            let (action, op) = match rng.random_range(0..4) {
                0 | 1 => (FaultAction::Fail(IoStatus::IoError), Some(Op::Read)),
                2 => (FaultAction::Fail(IoStatus::IoError), Some(Op::Write)),
                _ => (
                    FaultAction::Delay {
                        extra_ns: rng.random_range(1_000_000..50_000_000),
                    },
                    None,
                ),
            };
            let mut rule = FaultRule::always(action)
                .within(patch)
                .at_rate_ppm(rng.random_range(50_000..=500_000));
            if let Some(op) = op {
                rule = rule.on(op);
            }
            faults.push(rule.into());
        }
    }

    /// flashcache in writethrough or writearound: one seed in two invalidates by the legacy
    /// set scan, as flashcache does, instead of the hash's shortcut to the same block. Its
    /// own stream.
    fn draw_invalidation_scan(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.invalidation_scan");
        let Some(mode) = self.target.flashcache().map(|config| config.table.mode) else {
            return;
        };
        self.invalidation_scan = mode != CacheMode::WriteBack && rng.random_bool(0.5);
    }

    /// raid5: one seed in three (under flashcache: in two) scrubs the array at the end of
    /// its liveness phase, half of them `check`, half `repair` (under flashcache through a
    /// stacked device's message). Its own stream.
    fn draw_scrub(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.scrub");
        let one_in = match self.target {
            TargetChoice::Raid5(_) => 3,
            // Fewer seeds stack raid5 under flashcache: more of them scrub.
            TargetChoice::Raid5UnderFlashcache { .. } => 2,
            TargetChoice::Linear | TargetChoice::Flashcache(_) => return,
        };
        if rng.random_ratio(1, one_in) {
            self.scrub = Some(if rng.random_bool(0.5) {
                Scrub::Check
            } else {
                Scrub::Repair
            });
        }
    }

    /// flashcache: one seed in three whose segments send pid-list messages first sets
    /// `max_pids` to 1 or 2 in the first such segment and adds three pids to one list, so
    /// adds to a full list drop its newest entries (`pid_drops`). Its own stream.
    fn draw_small_pid_lists(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.small_pid_lists");
        let Some(segment) = self
            .segments
            .iter_mut()
            .find(|s| s.messages.iter().any(|m| m.contains("list ")))
        else {
            return;
        };
        if rng.random_ratio(1, 3) {
            let list = ["whitelist", "blacklist"][rng.random_range(0..2)];
            let mut messages = vec![format!("set max_pids {}", rng.random_range(1..=2))];
            // Enough adds to one list to overflow it whatever the segment's own messages do.
            messages.extend([2, 3, dmsim_engine::BIO_PID].map(|pid| format!("{list} add {pid}")));
            messages.append(&mut segment.messages);
            segment.messages = messages;
        }
    }

    /// raid5 alone, with faults: one seed in four gives one member write errors (at a
    /// rate of 0.1-5 %, at most 1 to 3 of them). md fails a member whose write fails (no
    /// retry, no repair), so the array goes degraded mid-IO, and with another failure it
    /// fails every bio. Its own stream.
    fn draw_raid5_write_errors(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.raid5_write_errors");
        if !matches!(self.target, TargetChoice::Raid5(_))
            || self.is_fault_free()
            || !rng.random_ratio(1, 4)
        {
            return;
        }
        let member = rng.random_range(0..self.member_devices().len());
        self.faults[member].push(
            FaultRule::always(FaultAction::Fail(IoStatus::IoError))
                .on(Op::Write)
                .at_rate_ppm(rate(&mut rng))
                .at_most(rng.random_range(1..=3))
                .into(),
        );
    }

    /// flashcache: one seed in four runs sequential streams through the workload and turns
    /// sequential bypass on as every segment starts (`set skip_seq_thresh_kb` 8, 32 or 128:
    /// a stream's third, ninth or 33rd block on goes to the disk uncached), so flashcache's
    /// flow tracker, its bypass and the invalidation of what the bypassed IO overlaps run
    /// under the data oracle. Its own stream.
    fn draw_sequential_bypass(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.sequential");
        if self.target.flashcache().is_none()
            || self.workload.trace.is_some()
            || !rng.random_ratio(1, 4)
        {
            return;
        }
        self.workload.sequential_one_in = [8, 32, 128][rng.random_range(0..3)];
        let thresh_kb = [8, 32, 128][rng.random_range(0..3)];
        for segment in &mut self.segments {
            segment
                .messages
                .insert(0, format!("set skip_seq_thresh_kb {thresh_kb}"));
        }
    }

    /// One seed in four of a linear or flashcache volume issues discards (one request in 4
    /// to 64, of the sizes the generators draw) to a disk that takes them in chunks of 8 to
    /// 2048 sectors; flashcache's option `discard` is on (off, it refuses them, and the
    /// pass-through comparison would differ). Its own stream.
    fn draw_discards(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.discards");
        if !rng.random_ratio(1, 4) || self.workload.trace.is_some() {
            return;
        }
        let disk = match &mut self.target {
            TargetChoice::Linear => 0,
            TargetChoice::Flashcache(config) => {
                config.options.discard = true;
                1
            }
            TargetChoice::Raid5(_) | TargetChoice::Raid5UnderFlashcache { .. } => return,
        };
        self.workload.discard_one_in = [4, 16, 64][rng.random_range(0..3)];
        let block_sectors = self.devices[disk].logical_block_size / 512;
        self.devices[disk].max_discard_sectors =
            Some([8, 64, 2048][rng.random_range(0..3)].max(block_sectors));
    }

    /// One seed in four plugs its device queues: an unplug timer from 50 us to 5 ms (old
    /// kernels: 3 ms; below half of an `ssd_timeout`) and a threshold of 1 to 8 held IOs (old
    /// kernels: 4), so IO waits in the queue, leaves on the timer, the threshold or a sync
    /// IO, and may be cancelled while held. Its own stream.
    fn draw_plugging(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.plugging");
        if rng.random_ratio(1, 4) {
            let delay_ns = rng.random_range(50_000..=5_000_000);
            // A timed SSD IO must reach the SSD well within its timeout (see `validate`).
            let delay_max_ns = self.ssd_timeout_ns().map_or(u64::MAX, |t| t / 2 - 1);
            self.plugging = Some(PlugConfig {
                unplug_delay_ns: delay_ns.min(delay_max_ns),
                unplug_threshold: rng.random_range(1..=8),
            });
        }
    }

    /// flashcache's `ssd_timeout`, if the target has one.
    fn ssd_timeout_ns(&self) -> Option<u64> {
        self.target.flashcache()?.options.ssd_timeout_ns
    }

    /// flashcache: one seed in four turns pid expiry on as a segment starts, with an expiry
    /// of 1 to 3 s, and lists a pid or two then, so entries expire while IO runs (an expiry
    /// pass runs as a bio is mapped) and later messages meet expired entries. Its own stream.
    fn draw_pid_expiry(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.pid_expiry");
        if self.target.flashcache().is_none() || !rng.random_ratio(1, 4) {
            return;
        }
        let segment = rng.random_range(0..self.segments.len());
        let expiry_secs = rng.random_range(1..=3);
        let mut messages = vec![
            format!("set pid_expiry_secs {expiry_secs}"),
            "set do_pid_expiry 1".to_string(),
        ];
        messages.append(&mut self.segments[segment].messages);
        messages.extend(crate::pids::draw_adds(&mut rng));
        self.segments[segment].messages = messages;
        // Mostly past the first expiry pass (the first entry's add plus expiry + 1 s), so
        // the first request expires what the messages listed; sometimes not yet.
        self.segments[segment].idle_before_requests_ns =
            Some(rng.random_range(expiry_secs * NS_PER_SEC / 2..=(expiry_secs + 3) * NS_PER_SEC));
    }

    /// flashcache alone: one seed in eight gets a cache of 16,896 to 23,552 blocks (33 to
    /// 46 sets of 512), more slots than one 256 KiB metadata IO holds (16,384), so a clean
    /// stop's store and a reload's load take more than one chunk, the last one partial. Its
    /// own stream; the workload stays as drawn (most of it then hits).
    fn draw_large_cache(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.large_cache");
        let TargetChoice::Flashcache(config) = &mut self.target else {
            return;
        };
        if !rng.random_ratio(1, 8) {
            return;
        }
        const ASSOC: u32 = 512;
        let sets = rng.random_range(33u64..=46);
        config.table.assoc = Associativity::Ways(ASSOC);
        assert_eq!(
            (
                config.table.block_size_sectors,
                config.table.cache_size_sectors
            ),
            (0, 0),
            "the explorer draws default (4 KiB) cache blocks over the whole SSD"
        );
        let block_sectors = 8;
        // Metadata: 16 bytes a slot and the superblock's block, well inside 1,024 sectors.
        self.devices[0].ram.capacity_sectors =
            sets * u64::from(ASSOC) * block_sectors + SSD_SLACK_SECTORS;
    }

    /// flashcache's table line may leave the associativity at its default (`0`, meaning
    /// 512 ways): half the 512-way caches say it that way. Its own stream.
    fn draw_default_assoc(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.default_assoc");
        let Some(config) = self.target.flashcache_mut() else {
            return;
        };
        if config.table.assoc == Associativity::Ways(512) && rng.random_bool(0.5) {
            config.table.assoc = Associativity::Ways(0);
        }
    }

    /// flashcache in writeback (the only mode with the sysctl): one seed in four changes
    /// `dirty_thresh_pct` as a segment starts, so sets holding more dirty blocks than the new
    /// threshold meet IO (or less than it). Its own stream.
    fn draw_dirty_threshold_change(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.dirty_threshold");
        let Some(mode) = self.target.flashcache().map(|config| config.table.mode) else {
            return;
        };
        if mode != CacheMode::WriteBack || !rng.random_ratio(1, 4) {
            return;
        }
        let segment = rng.random_range(0..self.segments.len());
        let pct = rng.random_range(1..=90);
        self.segments[segment]
            .messages
            .push(format!("set dirty_thresh_pct {pct}"));
    }

    /// One seed in four replays a window of a real trace (the repository's copies) instead
    /// of the generated mix. Its own stream; last, after the volume's block size is drawn.
    fn draw_trace_window(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.trace_window");
        if !rng.random_ratio(1, 4) {
            return;
        }
        let trace = BundledTrace::ALL[rng.random_range(0..BundledTrace::ALL.len())];
        let window = TraceWindow {
            trace,
            start: rng.random_range(0..trace.records().len() as u64),
            alignment_bytes: self.volume_block_bytes(),
        };
        if window
            .validate(self.workload.span_bytes, self.volume_block_bytes())
            .is_ok()
        {
            self.workload.trace = Some(window);
        }
    }

    /// flashcache: half the time the victim index from the start (both halves), else
    /// built by the first long walk, which explorer sets of 256 or 512 ways seldom take.
    /// Now and then a segment starts by moving blocks between the LRU lists (`set
    /// lru_hot_pct`, blocks enter a list at its LRU end) or by switching the policy, so
    /// the index follows list edits of every kind. Its own stream.
    fn draw_victim_index(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.victims");
        if self.target.flashcache().is_none() {
            return;
        }
        self.victim_index_from_start = rng.random_bool(0.5);
        let segments = self.segments.len();
        if rng.random_ratio(1, 2) {
            let pct = [0, 10, 25, 50, 75, 90, 100][rng.random_range(0..7)];
            let segment = rng.random_range(0..segments);
            self.segments[segment]
                .messages
                .push(format!("set lru_hot_pct {pct}"));
        }
        if rng.random_ratio(1, 3) {
            let policy = ["fifo", "lru", "lru_strict"][rng.random_range(0..3)];
            let segment = rng.random_range(0..segments);
            self.segments[segment]
                .messages
                .push(format!("set reclaim_policy {policy}"));
        }
    }

    /// flashcache with `ssd_timeout`: half the time a dm_io client of a few slots, so SSD
    /// IO queues for them and the segments' cancels by device find requests still waiting.
    /// Its own stream.
    fn draw_dm_io_slots(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.dm_io");
        let timed = matches!(&self.target, TargetChoice::Flashcache(c) if c.options.ssd_timeout_ns.is_some());
        if timed && rng.random_bool(0.5) {
            self.dm_io_min_ios = Some(rng.random_range(1..=4));
        }
    }

    /// raid5 alone with a superblock: one time in five a member that carries another array's
    /// superblock at the first assembly. Its own stream.
    fn draw_foreign_superblock(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.foreign_superblock");
        let TargetChoice::Raid5(config) = &self.target else {
            return;
        };
        if config.superblock && rng.random_ratio(1, 5) {
            self.foreign_superblock_member = Some(rng.random_range(0..self.member_devices().len()));
        }
    }

    /// raid5 alone: half the time members (and spare) whose `max_sectors` is a chunk's size
    /// or near it, so some reads inside one chunk are too long to go straight to a member.
    /// Its own stream.
    fn draw_member_max_sectors(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.max_sectors");
        if !matches!(self.target, TargetChoice::Raid5(_)) || !rng.random_bool(0.5) {
            return;
        }
        let max_sectors = MEMBER_MAX_SECTORS_MIN << rng.random_range(0..4);
        for device in &mut self.devices {
            device.max_sectors = Some(max_sectors);
        }
    }

    /// flashcache with a kcopyd pool: now and then the smallest pool there is, one sub-job
    /// of one cache block's pages, so every cleaning takes the pool to exactly empty and the
    /// next waits for its pages. Its own stream.
    fn draw_smallest_kcopyd_pool(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.kcopyd_pool");
        let block_sectors = match &self.target {
            TargetChoice::Flashcache(config) => config.table.block_size_sectors,
            TargetChoice::Raid5UnderFlashcache { flashcache, .. } => {
                flashcache.table.block_size_sectors
            }
            TargetChoice::Linear | TargetChoice::Raid5(_) => return,
        };
        let pool = matches!(self.kcopyd.config().pages, KcopydPages::Pool { .. });
        if pool && rng.random_ratio(1, 3) {
            let block_sectors = if block_sectors == 0 { 8 } else { block_sectors };
            let sub_job_sectors = u64::from(block_sectors).div_ceil(8) * 8;
            let pages = u32::try_from(sub_job_sectors / 8).expect("a block's pages fit u32");
            let mut config = KcopydConfig::classic(pages);
            config.sub_job_sectors = sub_job_sectors;
            config.throttle_percent = self.kcopyd.config().throttle_percent;
            self.kcopyd = KcopydGeneration::Custom(config);
        }
    }

    /// The arena's pages the engine takes up front (kcopyd's pool or reserve among them).
    fn arena_pages_taken(&self) -> u32 {
        let kcopyd = match self.kcopyd.config().pages {
            KcopydPages::Pool { pages } | KcopydPages::Reserve { pages } => pages,
        };
        ARENA_FIXED_PAGES + kcopyd
    }

    /// flashcache alone: now and then an arena only a little larger than what the engine
    /// takes up front, most often with a kcopyd client whose reserve then serves the
    /// cleanings the full arena cannot. Its own stream.
    fn draw_small_arena(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.arena");
        if !matches!(self.target, TargetChoice::Flashcache(_)) {
            return;
        }
        let reserve = matches!(self.kcopyd.config().pages, KcopydPages::Reserve { .. });
        if rng.random_ratio(1, if reserve { 2 } else { 6 }) {
            let slack = rng.random_range(ARENA_SLACK_PAGES_MIN..=4 * ARENA_SLACK_PAGES_MIN);
            self.arena_pages = Some(self.arena_pages_taken() + slack);
        }
    }

    /// Inputs a resync of the whole raid5 array may feed a phase behind its own IO: every
    /// stripe's member reads and parity write with their completions, twice over
    /// (regression 020: a read-back of few blocks waited for a full resync). 0 without raid5.
    pub fn resync_inputs_max(&self) -> u64 {
        let geometry = match &self.target {
            TargetChoice::Raid5(config) => raid5_geometry(config, self.member_devices()),
            TargetChoice::Raid5UnderFlashcache { raid5, .. } => {
                raid5_geometry(raid5, &self.devices[1..])
            }
            TargetChoice::Linear | TargetChoice::Flashcache(_) => None,
        };
        geometry.map_or(0, |g| {
            let stripes = g.member_sectors().div_ceil(STRIPE_SECTORS);
            stripes * (g.members() as u64 + 1) * 2 * 2
        })
    }

    /// The devices the target is built over: every device but the spares.
    pub fn member_devices(&self) -> &[DeviceChoice] {
        &self.devices[..self.devices.len().saturating_sub(self.spares)]
    }

    /// raid5 alone: maybe a spare of the members' size (no faults of its own), more often
    /// when a member fails on purpose. Its own stream: earlier draws stay as they were.
    fn draw_raid5_spares(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.spares");
        if !matches!(self.target, TargetChoice::Raid5(_)) {
            return;
        }
        let member_fails = self.segments.iter().any(|s| s.fail_member.is_some());
        let (numerator, denominator) = if member_fails { (3, 4) } else { (1, 4) };
        if rng.random_ratio(numerator, denominator) {
            let mut spare = self.devices[0].clone();
            spare.name = "s0".to_string();
            self.devices.push(spare);
            self.faults.push(Vec::new());
            self.spares = 1;
        }
    }

    /// raid5 alone with a spare: mostly reads across the recovery front while the spare is
    /// rebuilt (the rest rebuild under the plain read-back only), half of those with one of
    /// md's larger chunks: the front moves by md's window of 16 stripes (64 KiB) when the
    /// members answer alike, so it stops inside a chunk only if chunks are larger. Its own
    /// stream.
    fn draw_rebuild_front_reads(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.rebuild_front");
        if self.spares == 0 || !rng.random_ratio(3, 4) {
            return;
        }
        self.rebuild_front_reads = true;
        if rng.random_bool(0.5) {
            let TargetChoice::Raid5(config) = &mut self.target else {
                unreachable!("only raid5 alone takes spares")
            };
            config.chunk_sectors = LARGE_CHUNK_SECTORS_MIN << rng.random_range(0..=2);
            // Members hold whole chunks only: the array may have shrunk.
            let volume_bytes = self.target.volume_sectors(self.member_devices()) * 512;
            self.workload.span_bytes = self.workload.span_bytes.min(volume_bytes);
        }
    }

    /// Bytes per logical block of the volume: its device's (linear's, flashcache's disk);
    /// raid5 arrays have 512-byte sectors.
    pub fn volume_block_bytes(&self) -> u32 {
        match self.target {
            TargetChoice::Linear => self.devices[0].logical_block_size,
            TargetChoice::Flashcache(_) => self.devices[1].logical_block_size,
            TargetChoice::Raid5(_) | TargetChoice::Raid5UnderFlashcache { .. } => 512,
        }
    }

    /// Dimensions added after the first CI seed ranges were fixed, drawn from their own
    /// stream so the earlier dimensions of every seed stay as they were.
    fn draw_later_dimensions(&mut self) {
        let mut rng = stream(self.seed, "explore.spec.later");
        // 4 KiB-sector devices: dm_io and the targets must keep IO whole blocks; a volume on
        // one takes only 4 KiB-aligned bios (the run also checks it refuses others).
        if matches!(
            self.target,
            TargetChoice::Linear | TargetChoice::Flashcache(_)
        ) {
            for device in &mut self.devices {
                if rng.random_ratio(1, 4) {
                    device.logical_block_size = 4096;
                }
            }
            if self.volume_block_bytes() > 512 {
                self.workload.unaligned_one_in = 0;
            }
        }
        if let Some(config) = self.target.flashcache_mut() {
            // Clean stops: a remove stores the metadata (flashcache's md store), a reload
            // reads it back; with fast_remove the dirty blocks stay in the cache across it.
            config.tunables.fast_remove = rng.random_ratio(1, 3);
            for segment in &mut self.segments {
                segment.clean_stop = segment.cut_after_inputs.is_none() && rng.random_ratio(1, 3);
            }
            // The fallow timer (Decision 7): idle dirty blocks get cleaned without IO; the
            // fault-free liveness phase checks it (crate::fallow).
            if config.table.mode == CacheMode::WriteBack && rng.random_ratio(1, 3) {
                if config.tunables.fallow_delay_secs.is_none() {
                    config.tunables.fallow_delay_secs = Some(rng.random_range(1..=3));
                }
                config.options.fallow_timer = true;
            }
            // Pid lists: the whole workload (pid 1) switches between cached and uncached.
            for segment in &mut self.segments {
                if rng.random_ratio(1, 3) {
                    segment.messages = crate::pids::draw_messages(&mut rng);
                }
            }
            if self.segments.len() == 1 && self.segments[0].power_loss.is_none() {
                // Fault-free: one segment, so a clean stop needs a second one after it.
                if rng.random_ratio(1, 2) {
                    self.segments[0].clean_stop = true;
                    self.segments.push(Segment {
                        requests: rng.random_range(100..1_000),
                        ssd_cancels_at_ns: Vec::new(),
                        fail_member: None,
                        cut_after_inputs: None,
                        power_loss: None,
                        clean_stop: false,
                        messages: Vec::new(),
                        idle_before_requests_ns: None,
                    });
                }
            }
        }
    }

    /// `bound_ns` scaled by 100/throttle: a throttled kcopyd keeps its IO to that share of
    /// the time, so cleaning takes that much longer (regressions 013 and 015).
    fn scaled_by_kcopyd_throttle(&self, bound_ns: u64) -> u64 {
        let throttle_percent = u64::from(self.kcopyd.config().throttle_percent.clamp(1, 100));
        bound_ns * 100 / throttle_percent
    }

    /// The virtual time the liveness phase's drives may take: [`crate::run::LIVENESS_TIME_NS`]
    /// scaled by the kcopyd throttle (regression 013).
    pub fn liveness_time_ns(&self) -> u64 {
        self.scaled_by_kcopyd_throttle(crate::run::LIVENESS_TIME_NS)
    }

    /// The virtual time a segment's drive may take: `run::SEGMENT_TIME_NS`, scaled
    /// by the kcopyd throttle when no device fault or BUGGIFY site can act, as fallow
    /// cleaning and write misses waiting for a clean block run inside the segment and must
    /// finish (regression 015). With faults a segment may never finish (failed cleanings are
    /// retried without end); a longer bound would only run out its input cap (019).
    pub fn segment_time_ns(&self) -> u64 {
        self.bound_ns(crate::run::SEGMENT_TIME_NS)
    }

    /// The virtual time a clean stop's remove may take: [`crate::stop::REMOVE_TIME_NS`],
    /// scaled by the kcopyd throttle when no device fault or BUGGIFY site can act, as a slow
    /// remove cleans every dirty block (regression 015). With faults a remove may never
    /// finish, and ends blocked at the fixed bound (regression 019).
    pub fn remove_time_ns(&self) -> u64 {
        self.bound_ns(crate::stop::REMOVE_TIME_NS)
    }

    /// A segment's or remove's `bound_ns`: scaled by the throttle only if no device fault
    /// or BUGGIFY site can fail IO (regressions 015 and 019).
    fn bound_ns(&self, bound_ns: u64) -> u64 {
        if self.buggify || self.faults.iter().any(|rules| !rules.is_empty()) {
            bound_ns
        } else {
            self.scaled_by_kcopyd_throttle(bound_ns)
        }
    }

    /// True if no fault and no power loss can act: the pass-through comparison applies.
    pub fn is_fault_free(&self) -> bool {
        self.faults.iter().all(Vec::is_empty)
            && self
                .segments
                .iter()
                .all(|s| s.power_loss.is_none() && s.fail_member.is_none())
            && !self.buggify
    }

    /// Checks a spec read from a file; names the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.spares > 0 && !matches!(self.target, TargetChoice::Raid5(_)) {
            return Err("spares: only a raid5 array alone takes spares".to_string());
        }
        if self.spares > self.devices.len() {
            return Err(format!(
                "spares: {} spares but only {} devices",
                self.spares,
                self.devices.len()
            ));
        }
        let members = self.member_devices().len();
        let devices_needed = self.spares
            + match self.target {
                TargetChoice::Linear => 1,
                TargetChoice::Flashcache(_) => 2,
                TargetChoice::Raid5(_) => members.clamp(3, 16),
                TargetChoice::Raid5UnderFlashcache { .. } => members.clamp(4, 17),
            };
        if self.devices.len() != devices_needed {
            return Err(format!(
                "devices: the target needs {devices_needed} devices, the spec has {}",
                self.devices.len()
            ));
        }
        if self.faults.len() != self.devices.len() {
            return Err(format!(
                "faults: one list per device expected ({}), found {}",
                self.devices.len(),
                self.faults.len()
            ));
        }
        if let Some(pages) = self.arena_pages {
            let needed = self.arena_pages_taken() + ARENA_SLACK_PAGES_MIN;
            if pages < needed {
                return Err(format!(
                    "arena_pages: {pages} is below {needed} (what the engine takes up front \
                     and room for the largest bio)"
                ));
            }
        }
        if self.dm_io_min_ios == Some(0) {
            return Err("dm_io_min_ios: at least 1 slot".to_string());
        }
        if let (Some(plug), Some(timeout_ns)) = (self.plugging, self.ssd_timeout_ns()) {
            if timeout_ns <= plug.unplug_delay_ns * 2 {
                return Err(format!(
                    "plugging.unplug_delay_ns: {} ns may hold a timed SSD IO in the plug for \
                     half or more of ssd_timeout ({timeout_ns} ns), so the timeout can fire \
                     before the IO reaches the SSD, again on every retry (regression 022): \
                     give ssd_timeout more than twice the unplug delay",
                    plug.unplug_delay_ns
                ));
            }
        }
        if self.queue_depth == 0 {
            return Err("queue_depth: must be at least 1".to_string());
        }
        if self.segments.is_empty() {
            return Err("segments: at least one segment is needed".to_string());
        }
        let raid5 = matches!(self.target, TargetChoice::Raid5(_));
        for (index, segment) in self.segments.iter().enumerate() {
            if segment.cut_after_inputs.is_some() && segment.power_loss.is_none() {
                return Err(format!(
                    "segments[{index}].cut_after_inputs: a segment cut with IO in flight needs \
                     a power_loss (the next phase cannot share an engine mid-IO)"
                ));
            }
            if segment.clean_stop && segment.cut_after_inputs.is_some() {
                return Err(format!(
                    "segments[{index}].clean_stop: a segment cut with IO in flight cannot stop \
                     cleanly (drop cut_after_inputs or clean_stop)"
                ));
            }
            match segment.fail_member {
                Some(_) if !raid5 => {
                    return Err(format!(
                        "segments[{index}].fail_member: only a raid5 array alone has members to \
                         fail (under flashcache the oracle does not model the write hole)"
                    ))
                }
                Some(member) if member >= members => {
                    return Err(format!(
                        "segments[{index}].fail_member: {member} is not a member (0..{members})"
                    ))
                }
                _ => {}
            }
        }
        if self.target.flashcache().is_none() {
            if let Some(index) = self.segments.iter().position(|s| !s.messages.is_empty()) {
                return Err(format!(
                    "segments[{index}].messages: only flashcache takes control messages here"
                ));
            }
        }
        if !matches!(self.target, TargetChoice::Flashcache(_)) {
            if let Some(index) = self
                .segments
                .iter()
                .position(|s| !s.ssd_cancels_at_ns.is_empty())
            {
                return Err(format!(
                    "segments[{index}].ssd_cancels_at_ns: only flashcache has an SSD to cancel IO on"
                ));
            }
        }
        let raid5_anywhere = matches!(
            self.target,
            TargetChoice::Raid5(_) | TargetChoice::Raid5UnderFlashcache { .. }
        );
        if self.rebuild_front_reads && self.spares == 0 {
            return Err(
                "rebuild_front_reads: only a raid5 array alone with a spare rebuilds one".into(),
            );
        }
        if let Some(member) = self.foreign_superblock_member {
            let members = self.member_devices().len();
            if !matches!(&self.target, TargetChoice::Raid5(c) if c.superblock) || member >= members
            {
                return Err(format!(
                    "foreign_superblock_member: {member}, but only a raid5 array alone with a \
                     superblock has members to carry one ({members} devices are members)"
                ));
            }
        }
        for (index, device) in self.devices.iter().enumerate() {
            if let Some(max_sectors) = device.max_sectors {
                let raid5 = matches!(self.target, TargetChoice::Raid5(_));
                if !raid5 || max_sectors < MEMBER_MAX_SECTORS_MIN || !max_sectors.is_multiple_of(8)
                {
                    return Err(format!(
                        "devices[{index}].max_sectors: only raid5 alone takes one, a multiple \
                         of 8 of at least {MEMBER_MAX_SECTORS_MIN} (the superblock's pages go \
                         as one IO)"
                    ));
                }
            }
            let bytes = device.logical_block_size;
            if !(bytes.is_power_of_two() && (512..=4096).contains(&bytes)) {
                return Err(format!(
                    "devices[{index}].logical_block_size: {bytes} is not a power of two in \
                     512..=4096"
                ));
            }
            if bytes != 512 && raid5_anywhere {
                return Err(format!(
                    "devices[{index}].logical_block_size: raid5 seeds use 512-byte sectors"
                ));
            }
            if !device
                .ram
                .capacity_sectors
                .is_multiple_of(u64::from(bytes / 512))
            {
                return Err(format!(
                    "devices[{index}].ram.capacity_sectors: not whole {bytes}-byte blocks"
                ));
            }
            if device.ram.capacity_sectors < 2048 {
                return Err(format!(
                    "devices[{index}].ram.capacity_sectors: below 2048 (1 MiB)"
                ));
            }
            for (fault_index, fault) in self.faults[index].iter().enumerate() {
                fault
                    .check(device.ram.capacity_sectors)
                    .map_err(|e| format!("faults[{index}][{fault_index}]: {e}"))?;
            }
        }
        if let TargetChoice::Raid5UnderFlashcache { raid5, flashcache } = &self.target {
            let array = raid5_geometry(raid5, &self.devices[1..]).map(|g| g.array_sectors());
            if array.is_none_or(|sectors| sectors < flashcache.table.target_sectors) {
                return Err(format!(
                    "target.raid5_under_flashcache: the array over devices[1..] ({array:?} \
                     sectors) cannot hold flashcache's {} sectors",
                    flashcache.table.target_sectors
                ));
            }
        }
        if let TargetChoice::Raid5(config) = &self.target {
            let member_sectors = self.devices[0].ram.capacity_sectors;
            if let Some(index) = (members..self.devices.len())
                .find(|&i| self.devices[i].ram.capacity_sectors < member_sectors)
            {
                return Err(format!(
                    "devices[{index}].ram.capacity_sectors: a spare smaller than the members"
                ));
            }
            if raid5_geometry(config, self.member_devices()).is_none() {
                return Err("target.raid5: an impossible array over these devices \
                            (members of different sizes, or a chunk that is no power of two)"
                    .to_string());
            }
        }
        let volume_bytes = self.target.volume_sectors(self.member_devices()) * 512;
        let w = &self.workload;
        if w.span_bytes < 1 << 20 || w.span_bytes > volume_bytes {
            return Err(format!(
                "workload.span_bytes: {} must be in 1 MiB..={volume_bytes}",
                w.span_bytes
            ));
        }
        if let Some(window) = &w.trace {
            window.validate(w.span_bytes, self.volume_block_bytes())?;
        }
        if w.unaligned_one_in != 0 && self.volume_block_bytes() > 512 {
            return Err(format!(
                "workload.unaligned_one_in: the volume's {}-byte blocks take no 512-byte IO \
                 (0 here)",
                self.volume_block_bytes()
            ));
        }
        if w.read_percent > 100 {
            return Err("workload.read_percent: must be in 0..=100".to_string());
        }
        if w.hot_access_percent > 100 {
            return Err("workload.hot_access_percent: must be in 0..=100".to_string());
        }
        if !(1..=100).contains(&w.hot_space_percent) {
            return Err("workload.hot_space_percent: must be in 1..=100".to_string());
        }
        Ok(())
    }
}

/// md raid5 with a superblock over 3..=5 equal RAM members (no volatile cache: the
/// superblock is written without a flush), maybe with a write-intent bitmap; a small stripe
/// cache now and then (exhaustion waits).
fn draw_raid5(rng: &mut ChaCha8Rng, seed: u64) -> (TargetChoice, Vec<DeviceChoice>) {
    let members = rng.random_range(3..=5);
    let capacity_sectors = (1u64 << rng.random_range(13..=15)) + 64;
    let latency_ns = rng.random_range(5_000..500_000);
    let chunk_sectors = 8u64 << rng.random_range(0..=4);
    let config = Raid5Config {
        layout: layout_by_name(Layout::ALL[rng.random_range(0..4)], seed),
        stripe_cache_size: if rng.random_ratio(1, 3) { 17 } else { 256 },
        superblock: true,
        bitmap_chunk_sectors: rng
            .random_bool(0.5)
            .then(|| 64u64 << rng.random_range(0..=4)),
        safe_mode_delay_ns: rng.random_range(1_000_000..200_000_000),
        ..Raid5Config::new(chunk_sectors)
    };
    let volatile_write_cache = rng.random_ratio(1, 2);
    let devices = (0..members)
        .map(|m| DeviceChoice {
            name: format!("m{m}"),
            ram: RamParams {
                capacity_sectors,
                latency_ns,
                volatile_write_cache,
            },
            logical_block_size: 512,
            max_sectors: None,
            max_discard_sectors: None,
        })
        .collect();
    (TargetChoice::Raid5(Box::new(config)), devices)
}

/// `layout` as a user names it to mdadm (the long name or the short one, drawn from a
/// stream of its own), parsed back: the array is built from what the name says.
fn layout_by_name(layout: Layout, seed: u64) -> Layout {
    const SHORT_NAMES: [&str; 4] = ["la", "ra", "ls", "rs"];
    let index = Layout::ALL
        .iter()
        .position(|&l| l == layout)
        .expect("a known layout");
    let name = if stream(seed, "explore.spec.layout_name").random_bool(0.5) {
        layout.name()
    } else {
        SHORT_NAMES[index]
    };
    Layout::parse(name).unwrap_or_else(|| panic!("mdadm's layout name {name:?} does not parse"))
}

/// Faults of one device of a raid5 seed: delays and member read errors (transient EIO,
/// latent sectors). md repairs a failed read from the other members and rewrites it, fails
/// a member past `max_corrected_read_errors`, and before a resync either may compute data
/// from stale parity: the write hole, which the array reports (`ContentsUnknown`) and the
/// oracle accepts (regression 010). Member failures on purpose are the segments'
/// `fail_member`.
fn raid5_faults(rng: &mut ChaCha8Rng) -> Vec<DeviceFault> {
    let mut faults: Vec<DeviceFault> = Vec::new();
    if rng.random_ratio(1, 3) {
        faults.push(
            FaultRule::always(FaultAction::Delay {
                extra_ns: rng.random_range(100_000..20_000_000),
            })
            .at_rate_ppm(rate(rng))
            .into(),
        );
    }
    // Member read errors: md reconstructs the sectors from the other members and rewrites
    // them (its read-error repair), or fails the read when the stripe has lost a second
    // member; never wrong data.
    if rng.random_ratio(1, 4) {
        faults.push(
            FaultRule::always(FaultAction::Fail(IoStatus::IoError))
                .on(Op::Read)
                .at_rate_ppm(rate(rng))
                .into(),
        );
    }
    if rng.random_ratio(1, 4) {
        faults.push(
            FaultRule::always(FaultAction::LatentError)
                .at_rate_ppm(rate(rng))
                .at_most(rng.random_range(1..8))
                .into(),
        );
    }
    faults
}

fn draw_linear(rng: &mut ChaCha8Rng) -> (TargetChoice, Vec<DeviceChoice>) {
    let device = DeviceChoice {
        name: "ram".to_string(),
        ram: RamParams {
            capacity_sectors: 1 << rng.random_range(14..=16),
            latency_ns: rng.random_range(1_000..200_000),
            volatile_write_cache: rng.random_bool(0.5),
        },
        logical_block_size: 512,
        max_sectors: None,
        max_discard_sectors: None,
    };
    (TargetChoice::Linear, vec![device])
}

/// flashcache over an SSD and a disk; true if the sets are meant to fill with dirty blocks
/// (writeback, the highest dirty threshold, one cleaning at a time, a slow disk: write misses
/// then find no room).
fn draw_flashcache(
    rng: &mut ChaCha8Rng,
    profile: Profile,
) -> (TargetChoice, Vec<DeviceChoice>, bool) {
    let full_sets = rng.random_ratio(1, 5);
    let mode = match rng.random_range(0..4) {
        _ if full_sets => CacheMode::WriteBack,
        0 | 1 => CacheMode::WriteBack,
        2 => CacheMode::WriteThrough,
        _ => CacheMode::WriteAround,
    };
    let assoc = 256u32 << rng.random_range(0..=1);
    let sets = rng.random_range(1u64..=2);
    let block_sectors = 8u64;
    // Metadata takes a few blocks per set more than the slots.
    let ssd_sectors = sets * u64::from(assoc) * block_sectors + SSD_SLACK_SECTORS;
    let disk_sectors = 1u64 << rng.random_range(15..=17);
    let mut table = TableLine::new(mode, Persistence::Create, disk_sectors);
    table.assoc = Associativity::Ways(assoc);
    let mut config = FlashcacheConfig::new(table);
    let tunables = &mut config.tunables;
    tunables.reclaim_policy = [
        ReclaimPolicy::Fifo,
        ReclaimPolicy::Lru,
        ReclaimPolicy::LruStrict,
    ][rng.random_range(0..3)];
    tunables.dirty_thresh_pct = rng.random_range(1..=90);
    tunables.max_clean_ios_set = rng.random_range(1..=8);
    tunables.max_clean_ios_total = rng.random_range(1..=16);
    if rng.random_ratio(1, 3) {
        // Many cleanings at once: small kcopyd pools run dry.
        tunables.max_clean_ios_set = rng.random_range(16..=64);
        tunables.max_clean_ios_total = rng.random_range(tunables.max_clean_ios_set..=128);
    }
    if full_sets {
        tunables.dirty_thresh_pct = 95;
        tunables.max_clean_ios_set = 1;
        tunables.max_clean_ios_total = 1;
    }
    tunables.clean_on_read_miss = rng.random_range(0..=1);
    tunables.clean_on_write_miss = rng.random_range(0..=1);
    tunables.cache_all = true;
    if rng.random_ratio(1, 3) {
        tunables.fallow_delay_secs = Some(rng.random_range(1..=3));
    }
    let timeouts = match profile {
        Profile::Timeouts => true,
        Profile::FaultFree | Profile::Raid5 => false,
        Profile::Swarm | Profile::Flashcache => rng.random_ratio(1, 3),
    };
    if timeouts {
        config.options.ssd_timeout_ns = Some(rng.random_range(1_000_000..20_000_000));
    }
    let devices = vec![
        DeviceChoice {
            name: "ssd".to_string(),
            ram: RamParams {
                capacity_sectors: ssd_sectors,
                latency_ns: rng.random_range(5_000..100_000),
                volatile_write_cache: false,
            },
            logical_block_size: 512,
            max_sectors: None,
            max_discard_sectors: None,
        },
        DeviceChoice {
            name: "disk".to_string(),
            ram: RamParams {
                capacity_sectors: disk_sectors,
                latency_ns: if full_sets {
                    rng.random_range(2_000_000..5_000_000)
                } else {
                    rng.random_range(100_000..2_000_000)
                },
                volatile_write_cache: false,
            },
            logical_block_size: 512,
            max_sectors: None,
            max_discard_sectors: None,
        },
    ];
    (
        TargetChoice::Flashcache(Box::new(config)),
        devices,
        full_sets,
    )
}

/// flashcache's kcopyd client: either generation's defaults, or a small classic pool or
/// the modern reserve, each maybe throttled (kcopyd sleeps while busy beyond the percentage).
fn draw_kcopyd(rng: &mut ChaCha8Rng) -> KcopydGeneration {
    match rng.random_range(0..4) {
        0 => KcopydGeneration::Classic,
        1 => KcopydGeneration::Modern,
        _ => {
            let mut config = if rng.random_bool(0.5) {
                // The smallest pool that holds one 64 KiB sub-job, and a little more.
                KcopydConfig::classic(rng.random_range(16..=32))
            } else {
                KcopydConfig::modern()
            };
            if rng.random_ratio(2, 3) {
                config.throttle_percent = rng.random_range(1..=50);
            }
            KcopydGeneration::Custom(config)
        }
    }
}

/// A rate between 0.1% and 5%, log-uniform, in ppm.
fn rate(rng: &mut ChaCha8Rng) -> u32 {
    // libm, not the platform's ln/exp: the draw must be bit-identical on every machine.
    let exponent: f64 = rng.random_range(0.0..libm::log(50.0));
    (1_000.0 * libm::exp(exponent)) as u32
}

/// What the swarm may put on one device.
struct SwarmLimits {
    capacity_sectors: u64,
    /// The drive may be pulled.
    pull: bool,
    /// The timeout profile's SSD: IO that outlives `ssd_timeout` (delays, hangs, ignored
    /// cancels) is frequent.
    timeouts_on_this_device: bool,
}

/// A random subset of every fault kind at random rates.
fn swarm(rng: &mut ChaCha8Rng, limits: &SwarmLimits) -> Vec<DeviceFault> {
    let mut faults: Vec<DeviceFault> = Vec::new();
    let one_in = if limits.timeouts_on_this_device { 2 } else { 3 };
    let eio = FaultAction::Fail(IoStatus::IoError);
    if rng.random_ratio(1, one_in) {
        faults.push(
            FaultRule::always(eio)
                .on(Op::Read)
                .at_rate_ppm(rate(rng))
                .into(),
        );
    }
    if rng.random_ratio(1, one_in) {
        faults.push(
            FaultRule::always(eio)
                .on(Op::Write)
                .at_rate_ppm(rate(rng))
                .into(),
        );
    }
    if rng.random_ratio(1, one_in) {
        faults.push(
            FaultRule::always(FaultAction::LatentError)
                .at_rate_ppm(rate(rng))
                .at_most(rng.random_range(1..20))
                .into(),
        );
    }
    if rng.random_ratio(1, one_in) {
        let sector = rng.random_range(0..limits.capacity_sectors - 64);
        faults.push(DeviceFault::LatentErrors {
            extent: Extent::new(sector, rng.random_range(1..64)),
        });
    }
    if rng.random_ratio(1, one_in) {
        faults.push(
            FaultRule::always(FaultAction::Hang)
                .at_rate_ppm(rate(rng) / 10)
                .at_most(2)
                .into(),
        );
    }
    if rng.random_ratio(1, one_in) {
        faults.push(
            FaultRule::always(FaultAction::Delay {
                extra_ns: rng.random_range(100_000..20_000_000),
            })
            .at_rate_ppm(rate(rng))
            .into(),
        );
    }
    if rng.random_ratio(1, one_in) {
        faults.push(
            FaultRule::always(FaultAction::CompleteDespiteCancel {
                extra_ns: rng.random_range(0..10_000_000),
            })
            .at_rate_ppm(rate(rng))
            .into(),
        );
    }
    if rng.random_ratio(1, one_in + 1) {
        let landing = if rng.random_bool(0.5) {
            Landing::Random
        } else {
            Landing::Shift {
                sectors: rng.random_range(-512..512),
            }
        };
        faults.push(
            FaultRule::always(FaultAction::MisdirectedWrite { landing })
                .at_rate_ppm(rate(rng))
                .into(),
        );
    }
    if rng.random_ratio(1, one_in + 1) {
        faults.push(
            FaultRule::always(FaultAction::SilentCorruption)
                .at_rate_ppm(rate(rng))
                .into(),
        );
    }
    if limits.pull && rng.random_ratio(1, 8) {
        faults.push(DeviceFault::Disappear {
            at_ns: rng.random_range(0..200_000_000),
        });
    }
    faults
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_draws_the_same_spec_and_it_round_trips_through_json() {
        for profile in Profile::ALL {
            for seed in 0..20 {
                let spec = SeedSpec::draw(seed, profile);
                assert_eq!(spec, SeedSpec::draw(seed, profile));
                spec.validate().unwrap_or_else(|e| panic!("{seed}: {e}"));
                let json = serde_json::to_string(&spec).unwrap();
                let back: SeedSpec = serde_json::from_str(&json).unwrap();
                assert_eq!(back, spec);
                if profile == Profile::FaultFree {
                    assert!(spec.is_fault_free());
                }
            }
        }
        assert_ne!(
            SeedSpec::draw(1, Profile::Swarm),
            SeedSpec::draw(2, Profile::Swarm)
        );
    }

    #[test]
    fn profiles_parse_by_name_and_unknown_ones_are_named() {
        assert_eq!(Profile::parse("timeouts"), Ok(Profile::Timeouts));
        let error = Profile::parse("nope").unwrap_err();
        assert!(
            error.contains("nope") && error.contains("fault-free"),
            "{error}"
        );
    }

    /// Fault rates go through `libm`: these bits hold on every machine (the platform's
    /// `exp` may differ by an ulp on another libc, and a truncated rate with it).
    #[test]
    fn fault_rates_are_pinned() {
        use rand::SeedableRng;
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let rates: Vec<u32> = (0..8).map(|_| rate(&mut rng)).collect();
        assert_eq!(rates, PINNED_RATES);
        assert!(rates.iter().all(|r| (1_000..=50_000).contains(r)));
    }

    const PINNED_RATES: [u32; 8] = [3751, 1361, 3157, 2803, 20136, 17100, 2313, 20980];
}
