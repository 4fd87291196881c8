//! Counter reach: which of the engine's counters a batch of seeds ever saw above zero.
//!
//! The counter identities ([`crate::counters`]) check a counter against another observer;
//! many counters have none (md's `delayed_stripes`, the block layer's `unplugs_sync`). A
//! counter that no seed of a batch moves is either a path the explorer never drives or a
//! count that stopped counting: a test over a fixed batch asks that every counter is
//! reached, like every coverage mark, with its exceptions named and explained. It does not
//! check values, only that counting happens at all.
//!
//! Names are the engine's own, under a prefix: `engine.` for [`Engine::stats`] (dotted
//! through its nested structs), then the target kind (`flashcache.`, `raid5.`) for the named
//! counters of the target's status and of every stacked target's. Gauges are levels, not
//! counts, and are left out.

use dmsim_engine::{Engine, TargetStatus};
use serde_json::Value;
use std::collections::BTreeMap;

/// For each counter name seen, whether it was ever above zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterReach {
    reached: BTreeMap<String, bool>,
}

impl CounterReach {
    /// Notes every counter of `engine` as it stands (before it is dropped or rebuilt: a
    /// rebuilt engine counts from zero).
    pub fn observe(&mut self, engine: &Engine) {
        let stats = serde_json::to_value(engine.stats()).expect("engine stats serialise");
        self.observe_value("engine", &stats);
        self.observe_status(&engine.target_status());
        for (_, status) in engine.stacked_status() {
            self.observe_status(&status);
        }
    }

    fn observe_status(&mut self, status: &TargetStatus) {
        for (name, value) in &status.counters {
            self.note(format!("{}.{name}", status.kind), *value);
        }
    }

    fn observe_value(&mut self, prefix: &str, value: &Value) {
        match value {
            Value::Object(fields) => {
                for (name, field) in fields {
                    self.observe_value(&format!("{prefix}.{name}"), field);
                }
            }
            Value::Number(number) => {
                let count = number.as_u64().expect("engine counters are unsigned");
                self.note(prefix.to_string(), count);
            }
            other => panic!("engine stats: `{prefix}` is not a count: {other}"),
        }
    }

    fn note(&mut self, name: String, count: u64) {
        *self.reached.entry(name).or_insert(false) |= count > 0;
    }

    /// Adds `other`'s observations to these.
    pub fn add(&mut self, other: &CounterReach) {
        for (name, reached) in &other.reached {
            *self.reached.entry(name.clone()).or_insert(false) |= *reached;
        }
    }

    /// Counter names seen.
    pub fn seen(&self) -> impl Iterator<Item = &str> {
        self.reached.keys().map(String::as_str)
    }

    /// Counter names seen but never above zero, in name order.
    pub fn never_reached(&self) -> Vec<&str> {
        self.reached
            .iter()
            .filter(|(_, reached)| !**reached)
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn status(counters: &[(&str, u64)]) -> TargetStatus {
        TargetStatus {
            kind: "flashcache",
            state: "running".to_string(),
            text: String::new(),
            counters: counters
                .iter()
                .map(|(name, value)| (name.to_string(), *value))
                .collect(),
            gauges: BTreeMap::from([("nr_dirty".to_string(), 0)]),
        }
    }

    #[test]
    fn a_counter_is_reached_once_any_observation_saw_it_above_zero() {
        let mut first = CounterReach::default();
        first.observe_status(&status(&[("reads", 0), ("writes", 3)]));
        first.observe_status(&status(&[("reads", 0), ("writes", 0)]));
        assert_eq!(first.never_reached(), vec!["flashcache.reads"]);
        let mut second = CounterReach::default();
        second.observe_status(&status(&[("reads", 1)]));
        first.add(&second);
        assert!(first.never_reached().is_empty());
        assert_eq!(
            first.seen().collect::<Vec<_>>(),
            vec!["flashcache.reads", "flashcache.writes"],
            "gauges are not counters"
        );
    }

    #[test]
    fn nested_engine_stats_are_named_by_their_path() {
        let mut reach = CounterReach::default();
        let stats = serde_json::json!({"services": {"kcopyd": {"jobs": 0, "pages": 2}}});
        reach.observe_value("engine", &stats);
        assert_eq!(reach.never_reached(), vec!["engine.services.kcopyd.jobs"]);
        assert_eq!(reach.seen().count(), 2);
    }
}
