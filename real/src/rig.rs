//! [`RealRig`]: an engine and the [`RealPlatform`] doing its IO, owned together so the
//! platform always lets go of the engine's arena first.
//!
//! Owns nothing but the pairing and its drop order. The platform's in-flight IO reads and
//! writes the engine's arena memory; if a run stops with IO in flight (a time limit), that
//! IO must be drained before the arena is freed. The platform drains on drop, and Rust drops
//! struct fields in declaration order, so holding both here makes the safe order the only
//! order.
//!
//! Deliberately not here: the workload and reporting (the CLI's).

use crate::device::RealDevice;
use crate::error::RealError;
use crate::platform::{PlatformOptions, RealPlatform};
use dmsim_engine::{
    drive, BioSource, DriveError, DriveObserver, DriveOptions, DriveReport, Engine,
};

/// See the module documentation.
#[derive(Debug)]
pub struct RealRig {
    // Field order is drop order: the platform drains its IO before the engine's arena goes.
    platform: RealPlatform,
    engine: Engine,
}

impl RealRig {
    /// Pairs `engine` with a platform over `devices` (engine `DeviceId(i)` = `devices[i]`),
    /// registering the engine's arena with the platform.
    pub fn new(
        mut engine: Engine,
        devices: Vec<RealDevice>,
        options: PlatformOptions,
    ) -> Result<RealRig, RealError> {
        let platform = RealPlatform::new(devices, engine.arena_mut(), options)?;
        Ok(RealRig { platform, engine })
    }

    /// Runs the engine on the devices with `source` (see [`dmsim_engine::drive`]).
    pub fn drive<S: BioSource, O: DriveObserver>(
        &mut self,
        source: &mut S,
        observer: &mut O,
        options: &DriveOptions,
    ) -> Result<DriveReport, DriveError> {
        drive(
            &mut self.engine,
            &mut self.platform,
            source,
            observer,
            options,
        )
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, mutably (controls, stats).
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
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
        (&mut self.engine, &mut self.platform)
    }

    /// Cancels and drains the platform's IO (nothing is delivered to the engine), then
    /// returns the engine.
    pub fn into_engine(mut self) -> Engine {
        self.platform.shutdown();
        let RealRig { platform, engine } = self;
        drop(platform);
        engine
    }
}
