//! Mechanical disk (HDD) timing model.
//!
//! A drive is a zoned layout ([`layout`]: LBN → cylinder/head/sector, skews, spares and
//! slips), an actuator ([`seek`]: seek curve, head switch, write settle), a spindle
//! ([`rotation`]: platter angle as a function of virtual time), a controller
//! ([`controller`]: command overheads, bus disconnect/reconnect, transfer), a segmented
//! buffer with read-ahead and optional write-back ([`cache`]) and a command queue with a
//! positional scheduler ([`scheduler`]). [`media`] composes layout, actuator and spindle
//! into sector-accurate media schedules; [`HddModel`] runs it all behind
//! [`crate::TimingModel`]. Parameters are plain serde data ([`HddParams`]); [`presets`]
//! names drives, and `crate::disksim` imports DiskSim 4.0 drive descriptions.
//!
//! Deliberately not modelled: zero-latency (out-of-order) writes, thermal recalibration,
//! power states.

#![deny(missing_docs)]

pub mod cache;
pub mod controller;
pub mod layout;
pub mod media;
mod model;
mod params;
mod presets;
pub mod rotation;
pub mod scheduler;
pub mod seek;

pub use model::HddModel;
pub use params::{
    BusParams, CacheParams, CommandOverheads, ControllerParams, DefectRemap, ExtraWriteDisconnect,
    GeometryParams, HddParams, MechanicsParams, QueueParams, ReadAheadStop, SchedulerKind,
    SeekParams, SeekPoint, Sparing, SurfaceOrder, ZoneParams,
};
pub use presets::{hdd_15k, hdd_7200, hdd_hp_c2247a, presets};
