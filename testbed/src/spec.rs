//! A run as data: [`RunSpec`], serialisable, which [`crate::Testbed::sim`] builds and runs.
//! A run's `summary.json` embeds the spec it ran (`spec`), and `dmsim run --spec FILE`
//! reruns it: the same spec gives the same summary, byte for byte.
//!
//! It covers runs through a cache setup (flashcache or linear, over a disk or an md raid5
//! array) fed by a trace or a workload generator: `replay`, `run --target flashcache` and
//! every cell of `compare`. A generated workload on the linear target over one simulated
//! device or array (`run --target linear`) is a [`LinearRunSpec`], embedded as
//! `{"linear": …}`; [`SpecFile`] reads either.

use crate::linear_run::LinearDevice;
use crate::report_config::SpecConfig;
use crate::run_error::RunError;
use crate::setup::CacheSetup;
use crate::trace_records::{TraceInput, TraceSource};
use crate::workload::GeneratedWorkload;
use dmsim_scenarios::source::Pacing;
use dmsim_scenarios::workload::WorkloadSpec;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How requests are issued.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PacingSpec {
    /// Keep `queue_depth` requests in flight.
    ClosedLoop { queue_depth: u32 },
    /// Issue each record at its trace time divided by `speed`.
    OpenLoop { speed: f64 },
}

impl PacingSpec {
    pub fn pacing(self) -> Pacing {
        match self {
            PacingSpec::ClosedLoop { queue_depth } => Pacing::ClosedLoop { queue_depth },
            PacingSpec::OpenLoop { speed } => Pacing::OpenLoop { speed },
        }
    }

    pub fn from_pacing(pacing: Pacing) -> PacingSpec {
        match pacing {
            Pacing::ClosedLoop { queue_depth } => PacingSpec::ClosedLoop { queue_depth },
            Pacing::OpenLoop { speed } => PacingSpec::OpenLoop { speed },
        }
    }

    /// Refuses a depth of 0 or a speed that is not a positive number (the drive loop
    /// asserts both).
    pub fn check(self) -> Result<(), String> {
        match self {
            PacingSpec::ClosedLoop { queue_depth } if !(1..=4096).contains(&queue_depth) => Err(
                format!("pacing.closed_loop.queue_depth {queue_depth}: must lie in 1..=4096"),
            ),
            PacingSpec::OpenLoop { speed } if !(speed.is_finite() && speed > 0.0) => Err(format!(
                "pacing.open_loop.speed {speed}: must be a positive number"
            )),
            _ => Ok(()),
        }
    }
}

/// Where a spec's trace is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TraceRef {
    /// A file, as the user named it (relative paths are from the current folder).
    File(PathBuf),
    /// A trace compiled into dmsim, by name.
    Bundled(String),
}

impl TraceRef {
    pub fn from_source(source: &TraceSource) -> TraceRef {
        match source {
            TraceSource::File(path) => TraceRef::File(path.clone()),
            TraceSource::Bundled { name, .. } => TraceRef::Bundled(name.clone()),
        }
    }

    pub fn source(&self) -> Result<TraceSource, String> {
        match self {
            TraceRef::File(path) => Ok(TraceSource::File(path.clone())),
            TraceRef::Bundled(name) => dmsim_scenarios::scenario::bundled_trace(name)
                .map(|bytes| TraceSource::Bundled {
                    name: name.clone(),
                    bytes,
                })
                .ok_or_else(|| format!("no bundled trace '{name}'")),
        }
    }
}

/// Where a run's records come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RecordsSpec {
    /// A trace, read, filtered and fitted onto the volume.
    Trace {
        source: TraceRef,
        /// Which records, which window, how they are fitted onto the volume.
        input: TraceInput,
        /// Record in the report's config what `skip_bad_lines` skipped (`bad_lines_skipped`,
        /// `first_bad_line`), as `replay` does; comparison cells do not.
        #[serde(default)]
        record_skipped_lines: bool,
    },
    /// A workload generator (its stream is `workload` of the run's seed).
    Generator { workload: WorkloadSpec },
}

/// One run, fully resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Devices (preset names and their resolved parameters), the target and its table, the
    /// raid5 array if any, tie perturbation.
    pub setup: CacheSetup,
    pub records: RecordsSpec,
    pub pacing: PacingSpec,
    /// Issue nothing at or after this virtual time (`run --duration`).
    #[serde(default)]
    pub stop_at_ns: Option<u64>,
    /// Seed of every random stream of the run.
    pub seed: u64,
    /// The run's label in reports.
    pub label: String,
    /// The front end's description of the run for the report's `config` (input name, mode
    /// and policy as asked for, grid values, platform): the run adds what the rest of the
    /// spec decides ([`crate::report_config::report_config`]), the fit chosen and what the
    /// reader counted.
    pub config: SpecConfig,
}

impl RunSpec {
    /// Parses a spec's JSON (read by [`SpecFile::from_json`]); an error names `file` and the
    /// field (`setup.hdd.kind`).
    fn from_value(value: serde_json::Value, file: &str) -> Result<RunSpec, String> {
        let spec: RunSpec = deserialize(value, file, "")?;
        spec.pacing
            .check()
            .map_err(|e| format!("{file}: field `pacing`: {e}"))?;
        if let SpecConfig::Described(description) = &spec.config {
            description
                .check(&spec.setup)
                .map_err(|e| format!("{file}: {e}"))?;
        }
        Ok(spec)
    }
}

/// A generated workload on the linear target over one simulated device or md raid5 array of
/// simulated members (`run --target linear`): what `run_linear` takes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearRunSpec {
    pub device: LinearDevice,
    pub workload: GeneratedWorkload,
    /// `--perturb-ties`: the seed that orders simultaneous completions.
    #[serde(default)]
    pub perturb_ties_seed: Option<u64>,
}

impl LinearRunSpec {
    /// Refuses what the command line would have refused: real devices (a spec reruns a
    /// simulated run), a depth outside 1..=65536, a request size that is not a positive
    /// multiple of 512, a run with no end.
    fn check(&self) -> Result<(), String> {
        if matches!(
            self.device,
            LinearDevice::Real { .. } | LinearDevice::RealRaid5 { .. }
        ) {
            return Err("field `linear.device`: a spec reruns simulated devices only".into());
        }
        let workload = &self.workload;
        if !(1..=65_536).contains(&workload.qd) {
            return Err(format!(
                "field `linear.workload.qd`: {} must lie in 1..=65536",
                workload.qd
            ));
        }
        if workload.bs == 0 || !workload.bs.is_multiple_of(512) {
            return Err(format!(
                "field `linear.workload.bs`: {} must be a positive multiple of 512",
                workload.bs
            ));
        }
        if workload.requests.is_none() && workload.duration_ns.is_none() {
            return Err(
                "field `linear.workload`: give `requests` or `duration_ns` (a run must end)".into(),
            );
        }
        Ok(())
    }
}

/// What `dmsim run --spec` reruns: a run through a cache setup, or a linear run.
#[derive(Clone, Debug)]
pub enum SpecFile {
    Cache(Box<RunSpec>),
    Linear(Box<LinearRunSpec>),
}

impl SpecFile {
    /// Parses a spec, or the `spec` of a summary.json; an error names `file` and the field.
    pub fn from_json(text: &str, file: &str) -> Result<SpecFile, RunError> {
        SpecFile::parse(text, file).map_err(RunError::Input)
    }

    fn parse(text: &str, file: &str) -> Result<SpecFile, String> {
        let value = spec_value(text, file)?;
        match value.get("linear") {
            Some(linear) => {
                if value.as_object().is_some_and(|o| o.len() > 1) {
                    return Err(format!("{file}: a linear run's spec holds `linear` alone"));
                }
                let spec: LinearRunSpec = deserialize(linear.clone(), file, "linear.")?;
                spec.check().map_err(|e| format!("{file}: {e}"))?;
                Ok(SpecFile::Linear(Box::new(spec)))
            }
            None => Ok(SpecFile::Cache(Box::new(RunSpec::from_value(value, file)?))),
        }
    }

    /// The spec as a summary embeds it.
    pub fn to_value(&self) -> Result<serde_json::Value, RunError> {
        match self {
            SpecFile::Cache(spec) => serde_json::to_value(spec),
            SpecFile::Linear(spec) => {
                serde_json::to_value(spec).map(|linear| serde_json::json!({ "linear": linear }))
            }
        }
        .map_err(|e| RunError::Engine(format!("the run spec: {e}")))
    }
}

/// The JSON of a spec file: a summary.json holds its spec under `spec`; take that, or a bare
/// spec.
fn spec_value(text: &str, file: &str) -> Result<serde_json::Value, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("{file}: not JSON: {e}"))?;
    Ok(match value.get("spec") {
        Some(spec) if value.get("label").is_some() => spec.clone(),
        _ => value,
    })
}

/// Deserialises `value`; an error names `file` and the field's path after `prefix`.
fn deserialize<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    file: &str,
    prefix: &str,
) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        format!("{file}: field `{prefix}{path}`: {}", e.inner())
    })
}
