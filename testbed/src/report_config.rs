//! The `config` object a run's report carries: what decides its result, except the input's
//! bytes, in the words reports use (mode and policy names, device presets and parameters,
//! the flashcache table and tunables, pacing, seed, dmsim's version).
//!
//! A run spec carries only the part the front end decides, its *description* (the input's
//! name, mode and policy as asked for, pacing as described, grid values, the platform); the
//! rest is derived from the spec's setup and seed when the run starts ([`report_config`]), so
//! a spec does not repeat its own setup, and `replay`, `run` and every `compare` cell
//! describe a run the same way.

use crate::setup::{CacheSetup, VolumeTarget};

/// The description of a cache run. `input` names the trace or workload; `mode` and
/// `policy` are the names the run was asked for (`writeback`, `lru-strict`; a `--set` may
/// still change the tunables, which `flashcache` shows); `pacing` is the pacing as the front
/// end describes it (`{"qd": N}` or open loop).
pub fn cache_run_description(
    input: &str,
    mode: &str,
    policy: &str,
    pacing: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "trace": input,
        "mode": mode,
        "policy": policy,
        "pacing": pacing,
    })
}

/// The description of a replay onto the bare disk (`--target linear`): no cache, so no mode
/// or policy.
pub fn linear_run_description(input: &str, pacing: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "trace": input,
        "target": "linear",
        "pacing": pacing,
    })
}

/// The report's `config`: `description` with what `setup` and `seed` decide. A cache run
/// names its devices and shows the flashcache table, tunables and deviations; a linear run
/// (no cache, so no SSD or table) records its disk, or its bare device as `dev`.
pub fn report_config(
    description: &serde_json::Value,
    setup: &CacheSetup,
    seed: u64,
) -> serde_json::Value {
    let mut config = description.clone();
    config["seed"] = seed.into();
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
