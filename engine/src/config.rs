//! How an engine is built, beyond its devices and target: [`EngineConfig`] and the settings
//! it is made of. One config serves the [`crate::Engine`] and the [`crate::Services`] it
//! wraps (tests that drive `Services` alone pass the same value).
//!
//! Deliberately not here: the target's own configuration ([`crate::TargetSpec`]).

use serde::{Deserialize, Serialize};

/// How an engine is built, beyond its devices and target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// Pages of the buffer arena, allocated once (bio data, kcopyd pools, metadata).
    pub arena_pages: u32,
    /// Queue plugging of old kernels (Decision 5); `None` (default) = off.
    pub plugging: Option<PlugConfig>,
    /// What a broken calling obligation inside the engine (an adapter anomaly, always an
    /// engine bug) does. The engine does not know which platform it runs on: simulations
    /// keep the default [`AnomalyPolicy::Panic`]; real runs record, and the run fails.
    #[serde(default)]
    pub anomalies: AnomalyPolicy,
    /// BUGGIFY sites (see [`crate::BuggifyConfig`]): `None` (default) = off. Simulation
    /// only: real devices never pass it.
    #[serde(default)]
    pub buggify: Option<crate::BuggifyConfig>,
    /// At most this many request slots for each dm_io client a target creates (flashcache
    /// asks for 1024): memory pressure that makes requests wait for a slot. `None`
    /// (default): the client's own number. Simulation only, like BUGGIFY.
    #[serde(default)]
    pub dm_io_min_ios_max: Option<u32>,
    /// flashcache chooses victims through its victim index in every set, not only in sets
    /// of 1,024 ways or more, and checks each choice against flashcache's linear walk (a
    /// disagreement is an engine bug: a panic). `None` (default) = off. Simulation only,
    /// like BUGGIFY: it costs a walk of the set per victim.
    #[serde(default)]
    pub victim_index_check: Option<VictimIndexCheck>,
    /// flashcache in writethrough and writearound invalidates by its legacy set scan even
    /// where its hash finds the same block (a cache created here, whose blocks all came from
    /// whole aligned claims). Same result at O(assoc) a lookup: simulation only, like
    /// BUGGIFY, so the explorer holds the scan to the data oracle.
    #[serde(default)]
    pub invalidation_scan: bool,
}

/// See [`EngineConfig::victim_index_check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VictimIndexCheck {
    /// The index is kept from the cache's start (both its FIFO and LRU halves); otherwise
    /// from the first walk longer than 64 blocks on, as large sets build it.
    pub from_start: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            arena_pages: 4096,
            plugging: None,
            anomalies: AnomalyPolicy::Panic,
            buggify: None,
            dm_io_min_ios_max: None,
            victim_index_check: None,
            invalidation_scan: false,
        }
    }
}

/// What the engine does when one of its components breaks a calling obligation of another
/// (see [`crate::Anomaly`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyPolicy {
    /// Panic at once, with the component's state in the message (simulation: the seed
    /// reproduces it).
    #[default]
    Panic,
    /// Keep going and record it: [`crate::Engine::anomalies`] lists it and
    /// [`crate::drive`] ends the run with [`crate::DriveError::Anomalies`] (real devices:
    /// the run must not abort with IO in flight, but it must fail).
    Record,
}

/// Queue plugging of old kernels: async IO without REQ_SYNC sits in the plugged queue until
/// the unplug timer fires or enough IO has gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlugConfig {
    /// The unplug timer (3 ms on old kernels).
    pub unplug_delay_ns: u64,
    /// IOs held that make the queue unplug at once (`unplug_thresh`, 4 on old kernels).
    pub unplug_threshold: u32,
}

impl Default for PlugConfig {
    fn default() -> Self {
        PlugConfig {
            unplug_delay_ns: 3_000_000,
            unplug_threshold: 4,
        }
    }
}
