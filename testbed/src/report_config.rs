//! The `config` object a run's report carries: what decides its result, except the input's
//! bytes, in the words reports use (mode and policy names, device presets and parameters,
//! the flashcache table and tunables, pacing, seed, dmsim's version). Built from a resolved
//! setup, so `replay`, `run` and every `compare` cell describe a run the same way.

use crate::setup::CacheSetup;

/// The `config` object of a cache run's report. `input` names the trace or workload;
/// `mode` and `policy` are the names the run was asked for (`writeback`, `lru-strict`; a
/// `--set` may still change the tunables, which `flashcache` shows); `pacing` is the pacing
/// as the front end describes it (`{"qd": N}` or open loop).
pub fn cache_run_config(
    input: &str,
    mode: &str,
    policy: &str,
    setup: &CacheSetup,
    pacing: serde_json::Value,
    seed: u64,
) -> serde_json::Value {
    let mut config = serde_json::json!({
        "trace": input,
        "mode": mode,
        "policy": policy,
        "ssd": setup.ssd_name,
        "hdd": setup.hdd_name,
        "pacing": pacing,
        "seed": seed,
        "dmsim_version": env!("CARGO_PKG_VERSION"),
        "flashcache": setup.cache,
        "deviations": setup.cache.options.deviations(),
        "devices": { "ssd": setup.ssd, "hdd": setup.hdd },
    });
    // Only when given: runs without it keep the configuration they always had.
    if let Some(seed) = setup.perturb_ties_seed {
        config["perturb_ties_seed"] = seed.into();
    }
    config
}

/// The `config` object of a replay onto the bare disk (`--target linear`): no cache, so no
/// mode, policy, SSD or flashcache table.
pub fn linear_run_config(
    input: &str,
    setup: &CacheSetup,
    pacing: serde_json::Value,
    seed: u64,
) -> serde_json::Value {
    // A bare device is no disk: it is recorded under the name the summary gives it.
    let role = if setup.bare_device { "dev" } else { "hdd" };
    let mut config = serde_json::json!({
        "trace": input,
        "target": "linear",
        role: setup.hdd_name,
        "pacing": pacing,
        "seed": seed,
        "dmsim_version": env!("CARGO_PKG_VERSION"),
        "devices": { role: setup.hdd },
    });
    if let Some(seed) = setup.perturb_ties_seed {
        config["perturb_ties_seed"] = seed.into();
    }
    config
}
