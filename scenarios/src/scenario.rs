//! Scenario files: one JSON document describing a comparison or a run — devices, cache
//! geometry, the input (a trace or a generated workload), pacing, the grid of modes,
//! policies and settings to compare, and the seed. The schema is documented in
//! `scenarios/README.md`; [`Scenario::parse`] refuses unknown fields and names the file, line
//! and column of what is wrong.
//!
//! Bundled scenarios ([`bundled`]) are compiled into the binary with the bundled traces they
//! name (`"bundled:NAME"`), so they run from any directory.

use crate::fit::FitMode;
use crate::traces::Format;
use crate::workload::WorkloadSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used as the report's title.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Seed of every random stream of every run.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Simulated devices: completions due at the same nanosecond reach the engine in an
    /// order drawn from this seed instead of device order (`--perturb-ties`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perturb_ties_seed: Option<u64>,
    pub input: Input,
    #[serde(default)]
    pub pacing: PacingSpec,
    #[serde(default)]
    pub devices: DevicesSpec,
    #[serde(default)]
    pub cache: CacheSpec,
    /// Settings applied to every run, as `--set KEY=VALUE` takes them (`ssd.…`, `hdd.…`,
    /// `table.…`, or a flashcache tunable or option by name).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub grid: GridSpec,
}

fn default_seed() -> u64 {
    1
}

/// What the runs replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Input {
    /// A generated workload (see `WorkloadSpec`); `span_bytes` 0 means the whole volume.
    Workload(WorkloadSpec),
    /// A trace file.
    Trace(TraceInput),
}

/// A trace to replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceInput {
    /// Path relative to the scenario file, or `bundled:NAME` for a trace shipped with dmsim.
    pub path: String,
    #[serde(default)]
    pub format: Option<Format>,
    #[serde(default)]
    pub fit: FitMode,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub skip_bad_lines: bool,
}

/// Closed loop at `qd` (default 32), or open loop at trace times divided by `speed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacingSpec {
    #[serde(default = "default_qd")]
    pub qd: u32,
    #[serde(default)]
    pub open_loop: bool,
    #[serde(default = "default_speed")]
    pub speed: f64,
}

fn default_qd() -> u32 {
    32
}

fn default_speed() -> f64 {
    1.0
}

impl Default for PacingSpec {
    fn default() -> Self {
        PacingSpec {
            qd: default_qd(),
            open_loop: false,
            speed: default_speed(),
        }
    }
}

/// Device presets (see `dmsim devices list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicesSpec {
    #[serde(default = "default_ssd")]
    pub ssd: String,
    #[serde(default = "default_hdd")]
    pub hdd: String,
    /// The disk as an md raid5 array of simulated members, `NxPRESET` (`4xhdd-7200`);
    /// replaces `hdd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdd_raid5: Option<String>,
    /// The array's chunk size (`64k`; mdadm's default 512k).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<String>,
}

fn default_ssd() -> String {
    "ssd-nvme".to_string()
}

fn default_hdd() -> String {
    "hdd-7200".to_string()
}

impl Default for DevicesSpec {
    fn default() -> Self {
        DevicesSpec {
            ssd: default_ssd(),
            hdd: default_hdd(),
            hdd_raid5: None,
            chunk: None,
        }
    }
}

/// Cache geometry, as the CLI flags take it (sizes like "4k", "256m").
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    #[serde(default)]
    pub block_size: Option<String>,
    #[serde(default)]
    pub cache_size: Option<String>,
    #[serde(default)]
    pub cache_blocks: Option<u64>,
    #[serde(default)]
    pub assoc: Option<String>,
}

/// What to compare: every combination of mode, policy and each `set` key's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    #[serde(default = "default_modes")]
    pub modes: Vec<String>,
    #[serde(default = "default_policies")]
    pub policies: Vec<String>,
    #[serde(default)]
    pub set: BTreeMap<String, Vec<String>>,
}

fn default_modes() -> Vec<String> {
    vec!["writeback".to_string()]
}

fn default_policies() -> Vec<String> {
    vec!["fifo".to_string()]
}

impl Default for GridSpec {
    fn default() -> Self {
        GridSpec {
            modes: default_modes(),
            policies: default_policies(),
            set: BTreeMap::new(),
        }
    }
}

/// A scenario file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: field `{field}`: {problem}")]
    Invalid {
        path: String,
        field: String,
        problem: String,
    },
}

impl Scenario {
    /// Parse `text`, read from `path` (named in errors).
    pub fn parse(text: &str, path: &str) -> Result<Scenario, ScenarioError> {
        let parse_error = |line: usize, column: usize, message: String| ScenarioError::Parse {
            path: path.to_string(),
            line,
            column,
            message,
        };
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let scenario: Scenario =
            serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
                let field = e.path().to_string();
                let inner = e.into_inner();
                // serde_json ends its message with the position, which the prefix gives.
                let text = inner.to_string();
                let position = format!(" at line {} column {}", inner.line(), inner.column());
                let text = text.strip_suffix(&position).unwrap_or(&text);
                let message = if field.is_empty() || field == "." {
                    text.to_string()
                } else {
                    format!("field `{field}`: {text}")
                };
                parse_error(inner.line(), inner.column(), message)
            })?;
        // Anything after the document is an error too.
        deserializer
            .end()
            .map_err(|e| parse_error(e.line(), e.column(), e.to_string()))?;
        scenario.validate(path)?;
        Ok(scenario)
    }

    /// Read and parse the scenario file at `path`.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Scenario::parse(&text, &path.display().to_string())
    }

    fn validate(&self, path: &str) -> Result<(), ScenarioError> {
        let invalid = |field: &str, problem: String| ScenarioError::Invalid {
            path: path.to_string(),
            field: field.to_string(),
            problem,
        };
        if self.grid.modes.is_empty() {
            return Err(invalid("grid.modes", "names no mode".to_string()));
        }
        if self.grid.policies.is_empty() {
            return Err(invalid("grid.policies", "names no policy".to_string()));
        }
        for (key, values) in &self.grid.set {
            if values.is_empty() {
                return Err(invalid(
                    &format!("grid.set.{key}"),
                    "names no value".to_string(),
                ));
            }
        }
        if self.pacing.qd == 0 || self.pacing.qd > 4096 {
            return Err(invalid(
                "pacing.qd",
                format!("{} is not in 1..=4096", self.pacing.qd),
            ));
        }
        if !(self.pacing.speed.is_finite() && self.pacing.speed > 0.0) {
            return Err(invalid(
                "pacing.speed",
                format!("{} is not positive", self.pacing.speed),
            ));
        }
        if let Input::Workload(w) = &self.input {
            if w.requests.is_none() {
                return Err(invalid(
                    "input.workload.requests",
                    "a generated workload needs a request count".to_string(),
                ));
            }
            // span 0 = the whole volume, checked by the runner once it knows the volume.
            if w.span_bytes > 0 {
                w.validate()
                    .map_err(|e| invalid(&format!("input.workload.{}", e.field), e.problem))?;
            }
        }
        Ok(())
    }

    /// Where the trace of this scenario is: a bundled trace's bytes, or a path resolved
    /// against the scenario file's folder.
    pub fn trace_location(&self, scenario_dir: Option<&Path>) -> Option<TraceLocation> {
        let Input::Trace(t) = &self.input else {
            return None;
        };
        Some(match t.path.strip_prefix("bundled:") {
            Some(name) => TraceLocation::Bundled(name.to_string()),
            None => TraceLocation::File(match scenario_dir {
                Some(dir) => dir.join(&t.path),
                None => PathBuf::from(&t.path),
            }),
        })
    }
}

/// Where a scenario's trace comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceLocation {
    Bundled(String),
    File(PathBuf),
}

/// Scenarios shipped with dmsim: (name, JSON text). `default` is what `dmsim compare` runs
/// without arguments.
pub fn bundled() -> &'static [(&'static str, &'static str)] {
    &[
        ("default", include_str!("../bundled/default.json")),
        ("msr-hm0", include_str!("../bundled/msr-hm0.json")),
    ]
}

/// Traces shipped with dmsim: (name, bytes). Origins and licences in bundled/traces/README.md.
pub fn bundled_trace(name: &str) -> Option<&'static [u8]> {
    match name {
        "msr-cambridge1-sample.csv" => Some(include_bytes!(
            "../bundled/traces/msr-cambridge1-sample.csv"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_scenario_parses_and_names_a_bundled_trace_that_exists() {
        for (name, text) in bundled() {
            let s = Scenario::parse(text, name).unwrap_or_else(|e| panic!("{name}: {e}"));
            if let Some(TraceLocation::Bundled(trace)) = s.trace_location(None) {
                assert!(
                    bundled_trace(&trace).is_some(),
                    "{name} names missing trace {trace}"
                );
            }
        }
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let err = Scenario::parse("{\n \"name\": \"x\",\n \"input\": {\"trace\": {\"path\": \"t\"}},\n \"grid\": {\"modez\": []}\n}", "s.json").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("s.json:4:") && text.contains("modez"),
            "{text}"
        );
        let err = Scenario::parse(
            r#"{"name": "x", "input": {"trace": {"path": "t"}}, "grid": {"modes": []}}"#,
            "s.json",
        )
        .unwrap_err();
        assert!(err.to_string().contains("grid.modes"), "{err}");
        let err = Scenario::parse(
            r#"{"name": "x", "input": {"trace": {"path": "t"}}, "pacing": {"qd": 0}}"#,
            "s.json",
        )
        .unwrap_err();
        assert!(err.to_string().contains("pacing.qd"), "{err}");
        let err = Scenario::parse(
            "{\"name\": \"x\", \"input\": {\"trace\": {\"path\": \"t\"}},\n \"cache\": {\"cache_size\": 4096}}",
            "s.json",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("s.json:2:") && text.contains("field `cache.cache_size`"),
            "{text}"
        );
    }

    #[test]
    fn a_tie_perturbation_seed_is_optional_and_kept() {
        let plain = Scenario::parse(r#"{"name": "x", "input": {"trace": {"path": "t"}}}"#, "s")
            .expect("valid");
        assert_eq!(plain.perturb_ties_seed, None);
        let perturbed = Scenario::parse(
            r#"{"name": "x", "perturb_ties_seed": 9, "input": {"trace": {"path": "t"}}}"#,
            "s",
        )
        .expect("valid");
        assert_eq!(perturbed.perturb_ties_seed, Some(9));
        let wrong = Scenario::parse(
            r#"{"name": "x", "perturb_ties_seed": "nine", "input": {"trace": {"path": "t"}}}"#,
            "s",
        )
        .expect_err("a seed is a number");
        assert!(wrong.to_string().contains("perturb_ties_seed"), "{wrong}");
    }

    #[test]
    fn trace_paths_resolve_against_the_scenario_folder() {
        let s = Scenario::parse(
            r#"{"name": "x", "input": {"trace": {"path": "t.csv"}}}"#,
            "s",
        )
        .unwrap();
        assert_eq!(
            s.trace_location(Some(Path::new("/a/b"))),
            Some(TraceLocation::File(PathBuf::from("/a/b/t.csv")))
        );
    }
}
