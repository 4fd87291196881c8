//! What the engine tells about its target, whichever target it is: [`TargetStatus`] (the
//! `dmsetup status`/`table` text, named counters and gauges, for reports and time series)
//! and [`TargetView`] (a typed, read-only view of the target's state machine, for tests).
//!
//! Adding a target adds one arm to [`TargetView`] and one to each `match` in
//! [`super::Target`]; the status keeps its shape.

use crate::flashcache::Flashcache;
use crate::raid5::Raid5;
use crate::target::flashcache::FlashcacheState;
use serde::Serialize;
use std::collections::BTreeMap;

/// A target's status, target-neutral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetStatus {
    /// The target's kind as in a table line (`"linear"`, `"flashcache"`, `"raid5"`).
    pub kind: &'static str,
    /// Where the target is in its life (`"running"`, `"setting up"`, `"setup failed: …"`).
    pub state: String,
    /// What `dmsetup status` followed by `dmsetup table` would print (empty while a target
    /// has nothing to show, e.g. a flashcache target during setup).
    pub text: String,
    /// Monotonic counters under the target's own names (flashcache: `reads`, `read_hits`,
    /// `ssd_write_errors`, …); empty for targets without any.
    pub counters: BTreeMap<String, u64>,
    /// Current levels under the target's own names (flashcache: `nr_dirty`,
    /// `cached_blocks`, …).
    pub gauges: BTreeMap<String, u64>,
}

/// A typed, read-only view of the engine's target.
#[derive(Debug, Clone)]
pub enum TargetView<'a> {
    /// dm-linear (no state worth a view).
    Linear,
    /// A flashcache target: where it is in its life, and its state machine once running.
    Flashcache {
        /// Setting up, running, or failed.
        state: FlashcacheState,
        /// The state machine (`None` during setup and after a failed setup).
        machine: Option<&'a Flashcache>,
    },
    /// An md raid5 array: its machine (geometry, member health, stripe cache, counters).
    Raid5 { machine: &'a Raid5 },
}

impl<'a> TargetView<'a> {
    /// The flashcache state machine, if this is a running flashcache target.
    pub fn flashcache(&self) -> Option<&'a Flashcache> {
        match self {
            TargetView::Flashcache { machine, .. } => *machine,
            TargetView::Linear | TargetView::Raid5 { .. } => None,
        }
    }

    /// The raid5 machine, if this is a raid5 target.
    pub fn raid5(&self) -> Option<&'a Raid5> {
        match self {
            TargetView::Raid5 { machine } => Some(machine),
            TargetView::Linear | TargetView::Flashcache { .. } => None,
        }
    }

    /// Where a flashcache target is in its life (`None` for other targets).
    pub fn flashcache_state(&self) -> Option<FlashcacheState> {
        match self {
            TargetView::Flashcache { state, .. } => Some(state.clone()),
            TargetView::Linear | TargetView::Raid5 { .. } => None,
        }
    }
}

/// The numeric fields of a serialisable struct of counters, under their field names.
pub(crate) fn numeric_fields<T: Serialize>(value: &T) -> BTreeMap<String, u64> {
    let value = serde_json::to_value(value).expect("plain counter structs serialise");
    let fields = value
        .as_object()
        .expect("counter structs serialise as objects");
    fields
        .iter()
        .filter_map(|(name, v)| v.as_u64().map(|n| (name.clone(), n)))
        .collect()
}
