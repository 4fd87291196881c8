//! [`RealRig`]: an engine built for real devices and the [`RealPlatform`] doing its IO,
//! owned together so the platform lets go of the engine's arena before the arena goes.
//!
//! Owns the pairing, the engine configuration real runs need (anomalies are recorded, never
//! a panic with IO in flight: [`dmsim_engine::AnomalyPolicy::Record`], and a run that
//! recorded any fails) and the release order. The platform's in-flight IO reads and writes
//! the engine's arena memory; if a run stops with IO in flight (a time limit), the rig's drop
//! drains it and gives the arena's loan back, so the arena frees its memory normally.
//! (Soundness does not depend on this order: an arena dropped while lent leaks its memory.)
//!
//! Deliberately not here: the workload and reporting (the CLI's).

use crate::device::RealDevice;
use crate::error::RealError;
use crate::platform::{PlatformOptions, RealPlatform};
use dmsim_engine::{
    drive, AnomalyPolicy, BioSource, DriveError, DriveObserver, DriveOptions, DriveReport, Engine,
    EngineConfig, TargetSpec,
};

/// See the module documentation.
#[derive(Debug)]
pub struct RealRig {
    platform: RealPlatform,
    /// `None` only inside [`RealRig::into_engine`].
    engine: Option<Engine>,
}

const ENGINE_PRESENT: &str = "a rig holds its engine until into_engine consumes it";

impl RealRig {
    /// Builds an engine with `config` and `target` over `devices` (engine `DeviceId(i)` =
    /// `devices[i]`) and a platform doing its IO, registering the engine's arena with it.
    /// Whatever `config` says, the engine records anomalies ([`AnomalyPolicy::Record`]): on
    /// real devices a panic would leave IO in flight, so an anomaly fails the run instead.
    pub fn build(
        mut config: EngineConfig,
        target: TargetSpec,
        devices: Vec<RealDevice>,
        options: PlatformOptions,
    ) -> Result<RealRig, RealError> {
        config.anomalies = AnomalyPolicy::Record;
        let infos = devices.iter().map(RealDevice::info).collect();
        let mut engine = Engine::new(config, infos, target)?;
        let platform = RealPlatform::new(devices, engine.arena_mut(), options)?;
        Ok(RealRig {
            platform,
            engine: Some(engine),
        })
    }

    /// Runs the engine on the devices with `source` (see [`dmsim_engine::drive`]).
    pub fn drive<S: BioSource, O: DriveObserver>(
        &mut self,
        source: &mut S,
        observer: &mut O,
        options: &DriveOptions,
    ) -> Result<DriveReport, DriveError> {
        drive(
            self.engine.as_mut().expect(ENGINE_PRESENT),
            &mut self.platform,
            source,
            observer,
            options,
        )
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        self.engine.as_ref().expect(ENGINE_PRESENT)
    }

    /// The engine, mutably (controls, stats).
    pub fn engine_mut(&mut self) -> &mut Engine {
        self.engine.as_mut().expect(ENGINE_PRESENT)
    }

    /// The platform (stats, backend, devices).
    pub fn platform(&self) -> &RealPlatform {
        &self.platform
    }

    /// The platform, mutably ([`RealPlatform::take_errors`]).
    pub fn platform_mut(&mut self) -> &mut RealPlatform {
        &mut self.platform
    }

    /// Both halves at once (for a hand-written drive loop).
    pub fn parts_mut(&mut self) -> (&mut Engine, &mut RealPlatform) {
        (
            self.engine.as_mut().expect(ENGINE_PRESENT),
            &mut self.platform,
        )
    }

    /// Cancels and drains the platform's IO (nothing is delivered to the engine), then
    /// returns the engine, its arena no longer lent.
    pub fn into_engine(mut self) -> Engine {
        let mut engine = self.engine.take().expect(ENGINE_PRESENT);
        self.platform.release_in_place(engine.arena_mut());
        engine
    }
}

impl Drop for RealRig {
    fn drop(&mut self) {
        if let Some(engine) = &mut self.engine {
            self.platform.release_in_place(engine.arena_mut());
        }
    }
}
