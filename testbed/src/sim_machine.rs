//! The simulated machine of a cache setup, built the one way every simulated cache run
//! builds it: the devices in platform order with their fixed random stream names, the SSD
//! preconditioned over its cache area, the engine's configuration and the target over them.
//! `run_cache` uses it, and so do tests that drive the engine themselves (crashes, reloads,
//! idle timers): such a test's machine times exactly as a CLI run of the same setup.
//!
//! Device order: the SSD, then the disk; or the SSD, the md members (`hdd0`..) and spares
//! (`spare0`..), the array stacked after them; or a bare device alone.

use crate::run_error::RunError;
use crate::setup::{CacheSetup, VolumeTarget};
use dmsim_engine::flashcache::FlashcacheConfig;
use dmsim_engine::{DeviceId, Engine, EngineConfig, TargetSpec};
use dmsim_models::TimingModel;
use dmsim_sim::crash::crash_all;
use dmsim_sim::device::{CrashReport, SimDevice};
use dmsim_sim::platform::{SimOptions, SimPlatform};
use dmsim_sim::streams::stream;

/// Arena pages of a cache run (32 MiB): kcopyd's 1024-page pool, 64 metadata pages, and bio
/// data; dm core makes bios wait when it is short, so this bounds memory, not correctness.
const ARENA_PAGES: u32 = 8_192;

/// The engine's configuration for `setup`: the arena grows by the stripe cache's pages.
pub fn engine_config(setup: &CacheSetup) -> EngineConfig {
    let stripe_cache_pages = setup.raid5.as_ref().map_or(0, |r| {
        r.config.stripe_cache_size.saturating_mul(r.members as u32)
    });
    EngineConfig {
        arena_pages: ARENA_PAGES.saturating_add(stripe_cache_pages),
        ..EngineConfig::default()
    }
}

/// The device the volume sits on: the disk, the array (stacked after the platform's
/// devices), or the bare device.
pub fn volume_device(setup: &CacheSetup) -> DeviceId {
    if setup.bare_device {
        DeviceId(0)
    } else {
        DeviceId(
            setup
                .raid5
                .as_ref()
                .map_or(1, |raid| (raid.members + raid.spares) as u16 + 1),
        )
    }
}

/// The target of `setup`: flashcache (SSD = device 0) or linear over the volume's device,
/// stacked over the raid5 array if there is one.
pub fn target(setup: &CacheSetup) -> TargetSpec {
    let disk = volume_device(setup);
    let upper = match setup.target {
        VolumeTarget::Linear => TargetSpec::Linear {
            device: disk,
            offset_sectors: 0,
        },
        VolumeTarget::Flashcache => TargetSpec::flashcache(DeviceId(0), disk, setup.cache.clone()),
    };
    match &setup.raid5 {
        None => upper,
        Some(raid) => TargetSpec::Stack {
            lower: vec![TargetSpec::Raid5 {
                members: (1..=raid.members).map(|m| DeviceId(m as u16)).collect(),
                config: raid.config.clone(),
                spares: (raid.members + 1..=raid.members + raid.spares)
                    .map(|d| DeviceId(d as u16))
                    .collect(),
            }],
            upper: Box::new(upper),
        },
    }
}

/// One simulated device of the machine: its name on the platform, the random stream its
/// timing draws from, and the flag a bad preset is reported under.
struct DeviceSlot {
    name: String,
    stream: String,
    flag: String,
    ssd: bool,
}

/// The machine's devices in platform order. Member 0 of an array uses the stream a disk
/// always had, and a bare device the disk's (`--dev P` times as `--hdd P` would).
fn slots(setup: &CacheSetup) -> Vec<DeviceSlot> {
    let slot = |name: &str, stream: &str, flag: String, ssd: bool| DeviceSlot {
        name: name.to_string(),
        stream: stream.to_string(),
        flag,
        ssd,
    };
    if setup.bare_device {
        return vec![slot(
            "dev",
            "device.hdd",
            format!("--dev {}", setup.hdd_name),
            false,
        )];
    }
    let mut slots = vec![slot(
        "ssd",
        "device.ssd",
        format!("--ssd {}", setup.ssd_name),
        true,
    )];
    match &setup.raid5 {
        None => slots.push(slot(
            "hdd",
            "device.hdd",
            format!("--hdd {}", setup.hdd_name),
            false,
        )),
        Some(raid) => {
            let flag = format!("--hdd-raid5 {}", setup.hdd_name);
            slots.push(slot("hdd0", "device.hdd", flag.clone(), false));
            for member in 1..raid.members {
                let name = format!("hdd{member}");
                slots.push(slot(&name, &format!("device.{name}"), flag.clone(), false));
            }
            for spare in 0..raid.spares {
                let name = format!("spare{spare}");
                let stream = format!("device.{name}");
                slots.push(slot(&name, &stream, "--raid5-spare".to_string(), false));
            }
        }
    }
    slots
}

/// The timing model of `slot`, drawing from the stream named `stream_name`.
fn model(
    setup: &CacheSetup,
    slot: &DeviceSlot,
    seed: u64,
    stream_name: &str,
) -> Result<Box<dyn TimingModel>, RunError> {
    let params = if slot.ssd { &setup.ssd } else { &setup.hdd };
    let mut model = params
        .build(Box::new(stream(seed, stream_name)))
        .map_err(|e| RunError::Input(format!("{}: {e}", slot.flag)))?;
    // A flashcache SSD in service has been written over its cache area (also when it
    // restarts after power loss): reads and GC behave as in steady state. Linear leaves the
    // SSD idle.
    if slot.ssd && setup.target == VolumeTarget::Flashcache {
        // Refuse an oversized cache first: preconditioning a whole large SSD takes seconds.
        setup
            .check_simulated_fit(model.capacity_sectors())
            .map_err(RunError::Input)?;
        let cache_sectors = setup
            .cache
            .table
            .cache_size_sectors
            .min(model.capacity_sectors());
        model.precondition(cache_sectors);
    }
    Ok(model)
}

/// The names of the machine's devices, in platform order.
pub fn device_names(setup: &CacheSetup) -> Vec<String> {
    slots(setup).into_iter().map(|slot| slot.name).collect()
}

/// The simulated devices of `setup`, in platform order; a flashcache SSD preconditioned over
/// its cache area. Linear leaves the SSD idle (it stays so device numbers do not move).
pub fn devices(setup: &CacheSetup, seed: u64) -> Result<Vec<SimDevice>, RunError> {
    let mut devices = Vec::new();
    for slot in slots(setup) {
        let model = model(setup, &slot, seed, &slot.stream)?;
        devices.push(SimDevice::new(slot.name.clone(), model));
    }
    Ok(devices)
}

/// Fresh timing models of every device for its restart after power loss number `restart`
/// (empty queues, new draws): stream `NAME.restartN` of each device's stream.
pub fn restart_models(
    setup: &CacheSetup,
    seed: u64,
    restart: u32,
) -> Result<Vec<Box<dyn TimingModel>>, RunError> {
    slots(setup)
        .iter()
        .map(|slot| {
            model(
                setup,
                slot,
                seed,
                &format!("{}.restart{restart}", slot.stream),
            )
        })
        .collect()
}

/// The simulated machine of a cache setup: its platform, and what an engine over it and a
/// restart after power loss need. The platform is public: callers drive it.
pub struct SimMachine {
    pub platform: SimPlatform,
    setup: CacheSetup,
    seed: u64,
    power_losses: u32,
}

impl SimMachine {
    /// The devices of `setup` (see [`devices`]) on a platform that orders simultaneous
    /// completions by the setup's tie perturbation.
    pub fn new(setup: &CacheSetup, seed: u64) -> Result<SimMachine, RunError> {
        let options = SimOptions {
            perturb_ties_seed: setup.perturb_ties_seed,
        };
        Ok(SimMachine {
            platform: SimPlatform::with_options(devices(setup, seed)?, options),
            setup: setup.clone(),
            seed,
            power_losses: 0,
        })
    }

    pub fn setup(&self) -> &CacheSetup {
        &self.setup
    }

    /// An engine with the setup's target over this machine's devices.
    pub fn engine(&self) -> Result<Engine, RunError> {
        Engine::new(
            engine_config(&self.setup),
            self.platform.device_infos(),
            target(&self.setup),
        )
        .map_err(|e| RunError::Input(format!("cannot build the cache: {e}")))
    }

    /// [`SimMachine::engine`] with `cache` in place of the setup's flashcache configuration:
    /// a reload after power loss, other tunables over the same devices.
    pub fn engine_with_cache(&self, cache: FlashcacheConfig) -> Result<Engine, RunError> {
        let setup = CacheSetup {
            cache,
            ..self.setup.clone()
        };
        Engine::new(
            engine_config(&setup),
            self.platform.device_infos(),
            target(&setup),
        )
        .map_err(|e| RunError::Input(format!("cannot build the cache: {e}")))
    }

    /// Power loss of every device: in-flight IO is lost, each volatile write cache keeps a
    /// block with probability `cache_survival`; the devices restart with fresh models
    /// ([`restart_models`]). Which blocks survive draws from stream `crashN`.
    pub fn power_loss(&mut self, cache_survival: f64) -> Result<Vec<CrashReport>, RunError> {
        self.power_losses += 1;
        let models = restart_models(&self.setup, self.seed, self.power_losses)?;
        let mut rng = stream(self.seed, &format!("crash{}", self.power_losses));
        // The models come from the setup the devices were built from: they match.
        Ok(
            crash_all(&mut self.platform, models, &mut rng, cache_survival)
                .expect("restart models match the devices they were built like"),
        )
    }
}
