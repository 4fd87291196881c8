//! The `config` object a run's report carries: what decides its result, except the input's
//! bytes, in the words reports use (mode and policy names, device presets and parameters,
//! the flashcache table and tunables, pacing, seed, dmsim's version).
//!
//! A run spec carries only what the front end decides and the spec does not already say,
//! its [`RunDescription`] (the input's name, mode and policy as asked for, grid values, the
//! platform); the rest is derived from the spec's setup, records, pacing and seed when the
//! run starts ([`report_config`]), so a spec does not repeat itself, and `replay`, `run` and
//! every `compare` cell describe a run the same way.

use crate::setup::{CacheSetup, VolumeTarget};
use crate::spec::{PacingSpec, RecordsSpec, RunSpec};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// How the front end describes a run, besides what its spec says anyway. Serialised with the
/// report's key names (`trace` for the input's name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunDescription {
    /// The input's name in reports: a trace's file name, `workload:randrw`, a scenario's.
    #[serde(rename = "trace")]
    pub input: String,
    /// The target, where the front end names it: `run` names flashcache; replays and grids
    /// name only the linear target. Must agree with the setup's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<VolumeTarget>,
    /// The cache mode as asked for (`writeback`); a `--set` may still change the tunables,
    /// which the report's `flashcache` shows. None on the linear target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The replacement policy as asked for (`lru`). None on the linear target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The request size of a generated workload as given (`run --bs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bs: Option<u32>,
    /// A grid cell's value per `--set` axis, as `compare` shows them (`hdd.rpm` = `"15000"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub grid: BTreeMap<String, String>,
    /// The label of the run a grid's cache cell is measured against (its disk's baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

/// Where a run ran, as reports name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Sim,
    Real,
}

impl Platform {
    pub fn of(real: bool) -> Platform {
        if real {
            Platform::Real
        } else {
            Platform::Sim
        }
    }
}

impl RunDescription {
    /// A run through the cache: `input` names the trace or workload, `mode` and `policy`
    /// are the names the run was asked for (`writeback`, `lru`).
    pub fn cache(input: &str, mode: &str, policy: &str) -> RunDescription {
        RunDescription {
            mode: Some(mode.to_string()),
            policy: Some(policy.to_string()),
            ..RunDescription::bare(input)
        }
    }

    /// A run onto the bare disk (`--target linear`): no cache, so no mode or policy.
    pub fn linear(input: &str) -> RunDescription {
        RunDescription {
            target: Some(VolumeTarget::Linear),
            ..RunDescription::bare(input)
        }
    }

    fn bare(input: &str) -> RunDescription {
        RunDescription {
            input: input.to_string(),
            target: None,
            mode: None,
            policy: None,
            platform: None,
            bs: None,
            grid: BTreeMap::new(),
            baseline: None,
        }
    }

    /// Refuses a description its setup contradicts.
    pub fn check(&self, setup: &CacheSetup) -> Result<(), String> {
        if let Some(target) = self.target {
            if target != setup.target {
                return Err(format!(
                    "field `config.target`: {} but the setup's target is {}",
                    target.name(),
                    setup.target.name()
                ));
            }
        }
        let cache = setup.target == VolumeTarget::Flashcache;
        if !cache && (self.mode.is_some() || self.policy.is_some()) {
            return Err(
                "field `config`: a linear run has no cache `mode` or `policy` to describe".into(),
            );
        }
        Ok(())
    }
}

/// A spec's `config`: its description, or, in a spec written before descriptions were
/// typed (2026-12-06), the config as it was given: the whole report config, or an untyped
/// description with the pacing in it; its derived keys are derived again when the run
/// starts and come out the same.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SpecConfig {
    Described(RunDescription),
    Whole(serde_json::Map<String, serde_json::Value>),
}

/// An old config is told apart by keys only old configs have (the whole config's version,
/// the untyped description's pacing); anything else must be a description, so a misspelt
/// key is refused instead of taken for an old config.
const OLD_CONFIG_KEYS: [&str; 2] = ["dmsim_version", "pacing"];

impl<'de> Deserialize<'de> for SpecConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SpecConfig, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        match value {
            serde_json::Value::Object(map)
                if OLD_CONFIG_KEYS.iter().any(|k| map.contains_key(*k)) =>
            {
                Ok(SpecConfig::Whole(map))
            }
            value => RunDescription::deserialize(value)
                .map(SpecConfig::Described)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl From<RunDescription> for SpecConfig {
    fn from(description: RunDescription) -> SpecConfig {
        SpecConfig::Described(description)
    }
}

/// The report's `config` of `spec`'s run: its description with what the spec's setup,
/// records, pacing and seed decide. A cache run names its devices and shows the flashcache
/// table, tunables and deviations; a linear run (no cache, so no SSD or table) records its
/// disk, or its bare device as `dev`.
pub fn report_config(spec: &RunSpec) -> serde_json::Value {
    let mut config = match &spec.config {
        SpecConfig::Described(description) => described(description, spec),
        SpecConfig::Whole(whole) => serde_json::Value::Object(whole.clone()),
    };
    let setup = &spec.setup;
    config["seed"] = spec.seed.into();
    config["dmsim_version"] = env!("CARGO_PKG_VERSION").into();
    match setup.target {
        VolumeTarget::Flashcache => {
            config["ssd"] = setup.ssd_name.clone().into();
            config["hdd"] = setup.hdd_name.clone().into();
            config["flashcache"] = serde_json::json!(setup.cache);
            config["deviations"] = serde_json::json!(setup.cache.options.deviations());
            config["devices"] = serde_json::json!({ "ssd": setup.ssd, "hdd": setup.hdd });
        }
        VolumeTarget::Linear => {
            // A bare device is no disk: it is recorded under the name the summary gives it.
            let role = if setup.bare_device { "dev" } else { "hdd" };
            config[role] = setup.hdd_name.clone().into();
            config["devices"] = serde_json::json!({ role: setup.hdd });
        }
    }
    // Only when given: runs without it keep the configuration they always had.
    if let Some(seed) = setup.perturb_ties_seed {
        config["perturb_ties_seed"] = seed.into();
    }
    config
}

/// `description` in the report's words: grid values are top-level keys, and the pacing and
/// a generated workload are described from the spec.
fn described(description: &RunDescription, spec: &RunSpec) -> serde_json::Value {
    let mut config = serde_json::json!({ "trace": description.input });
    if let Some(target) = description.target {
        config["target"] = target.name().into();
    }
    if let Some(mode) = &description.mode {
        config["mode"] = mode.clone().into();
    }
    if let Some(policy) = &description.policy {
        config["policy"] = policy.clone().into();
    }
    if let Some(platform) = description.platform {
        config["platform"] = serde_json::json!(platform);
    }
    if let Some(bs) = description.bs {
        config["bs"] = bs.into();
    }
    for (key, value) in &description.grid {
        config[key.as_str()] = value.clone().into();
    }
    if let Some(baseline) = &description.baseline {
        config[dmsim_reports::BASELINE_KEY] = baseline.clone().into();
    }
    config["pacing"] = match spec.pacing {
        PacingSpec::ClosedLoop { queue_depth } => serde_json::json!({ "qd": queue_depth }),
        PacingSpec::OpenLoop { speed } => serde_json::json!({ "open_loop": true, "speed": speed }),
    };
    if let RecordsSpec::Generator { workload } = &spec.records {
        config["workload"] = workload.to_string().into();
    }
    config
}
