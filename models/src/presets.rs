//! Named devices. Every preset says where its numbers come from; a scenario names a preset
//! and may override any parameter by its dotted path (`DeviceParams::set`).

use crate::hdd::{HddModel, HddParams};
use crate::ram::{RamModel, RamParams};
use crate::ssd::{SsdModel, SsdParams};
use crate::{ModelError, ModelRng, TimingModel};
use serde::{Deserialize, Serialize};

/// What `dmsim devices list` shows about a preset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PresetInfo {
    pub name: &'static str,
    /// One line: what the device is.
    pub summary: &'static str,
    /// Where the numbers come from.
    pub source: &'static str,
}

/// Parameters of any device model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DeviceParams {
    Hdd(HddParams),
    Ssd(SsdParams),
    Ram(RamParams),
}

impl DeviceParams {
    /// "hdd", "ssd" or "ram".
    pub fn kind(&self) -> &'static str {
        match self {
            DeviceParams::Hdd(_) => "hdd",
            DeviceParams::Ssd(_) => "ssd",
            DeviceParams::Ram(_) => "ram",
        }
    }

    /// Build the timing model; `rng` is the device's own seeded stream.
    pub fn build(&self, rng: ModelRng) -> Result<Box<dyn TimingModel>, ModelError> {
        Ok(match self {
            DeviceParams::Hdd(p) => Box::new(HddModel::new(p.clone(), rng)?),
            DeviceParams::Ssd(p) => Box::new(SsdModel::new(p.clone(), rng)?),
            DeviceParams::Ram(p) => Box::new(RamModel::new(p.clone())),
        })
    }

    /// Override one parameter by its dotted path (`"queue_depth"`, `"flash.page_read_ns"`).
    /// The value is read as JSON when it parses as JSON, else as a string. Unknown keys are
    /// refused with the list of keys at that level.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ModelError> {
        let mut tree = serde_json::to_value(&*self).map_err(|e| invalid(key, e.to_string()))?;
        set_json_path(&mut tree, key, value, &["kind"]).map_err(|reason| invalid(key, reason))?;
        *self = serde_json::from_value(tree).map_err(|e| invalid(key, e.to_string()))?;
        Ok(())
    }
}

/// Set the field at dotted path `key` of a serialised parameter tree to `value` (JSON if it
/// parses as JSON, else a string). Refuses a path that does not exist, or one naming a key in
/// `reserved`, with the keys known at that level. Shared by every "override a parameter by
/// name" feature, so they all accept and refuse the same way.
pub fn set_json_path(
    tree: &mut serde_json::Value,
    key: &str,
    value: &str,
    reserved: &[&str],
) -> Result<(), String> {
    let parsed: serde_json::Value = serde_json::from_str(value)
        .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
    let mut node = tree;
    let parts: Vec<&str> = key.split('.').collect();
    for (depth, part) in parts.iter().enumerate() {
        let obj = node
            .as_object_mut()
            .ok_or_else(|| format!("'{}' is not a group", parts[..depth].join(".")))?;
        if reserved.contains(part) || !obj.contains_key(*part) {
            let known: Vec<&str> = obj
                .keys()
                .map(|k| k.as_str())
                .filter(|k| !reserved.contains(k))
                .collect();
            return Err(format!(
                "no such parameter; known here: {}",
                known.join(", ")
            ));
        }
        node = obj.get_mut(*part).expect("key checked above");
    }
    *node = parsed;
    Ok(())
}

fn invalid(key: &str, reason: String) -> ModelError {
    ModelError::InvalidParameter {
        key: key.to_string(),
        reason,
    }
}

/// Every preset, in the order `dmsim devices list` shows them.
pub fn all() -> Vec<(PresetInfo, DeviceParams)> {
    let mut out: Vec<(PresetInfo, DeviceParams)> = Vec::new();
    out.extend(
        crate::hdd::presets()
            .into_iter()
            .map(|(i, p)| (i, DeviceParams::Hdd(p))),
    );
    out.extend(
        crate::ssd::presets()
            .into_iter()
            .map(|(i, p)| (i, DeviceParams::Ssd(p))),
    );
    out.push((
        PresetInfo {
            name: "ram",
            summary: "near-zero latency (1 µs), unlimited parallelism: isolates engine behaviour",
            source: "synthetic",
        },
        DeviceParams::Ram(RamParams::default()),
    ));
    out
}

/// The parameters of the preset called `name`.
pub fn find(name: &str) -> Result<DeviceParams, ModelError> {
    let all = all();
    match all.iter().find(|(info, _)| info.name == name) {
        Some((_, params)) => Ok(params.clone()),
        None => Err(ModelError::UnknownPreset {
            name: name.to_string(),
            known: all
                .iter()
                .map(|(i, _)| i.name)
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_preset_names_the_known_ones() {
        let err = find("floppy").unwrap_err().to_string();
        assert!(err.contains("floppy") && err.contains("ram"), "{err}");
    }

    #[test]
    fn set_overrides_a_known_key_and_refuses_an_unknown_one() {
        let mut p = find("ram").unwrap();
        p.set("latency_ns", "5000").unwrap();
        assert_eq!(
            p,
            DeviceParams::Ram(RamParams {
                latency_ns: 5000,
                ..RamParams::default()
            })
        );
        let err = p.set("latency_us", "5").unwrap_err().to_string();
        assert!(
            err.contains("latency_us") && err.contains("latency_ns"),
            "{err}"
        );
    }

    #[test]
    fn preset_names_are_unique() {
        let all = all();
        let mut names: Vec<&str> = all.iter().map(|(i, _)| i.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }
}
