//! A run as data: [`RunSpec`], serialisable, which [`crate::Testbed::sim`] builds and runs.
//! A run's `summary.json` embeds the spec it ran (`spec`), and `dmsim run --spec FILE`
//! reruns it: the same spec gives the same summary, byte for byte.
//!
//! This first slice covers trace replays through a cache setup (flashcache or linear, over
//! a disk or an md raid5 array) on simulated devices; generated workloads and comparison
//! grids are still resolved by the front end alone.

use crate::setup::CacheSetup;
use crate::trace_records::TraceInput;
use dmsim_scenarios::source::Pacing;
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

/// One trace replay, fully resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Devices (preset names and their resolved parameters), the target and its table, the
    /// raid5 array if any, tie perturbation.
    pub setup: CacheSetup,
    /// The trace file, as the user named it (relative paths are from the current folder).
    pub trace: PathBuf,
    /// Which records, which window, how they are fitted onto the volume.
    pub input: TraceInput,
    pub pacing: PacingSpec,
    /// Seed of every random stream of the run.
    pub seed: u64,
    /// The run's label in reports.
    pub label: String,
    /// What the report's `config` says about the run before it runs (the fit chosen and
    /// what the reader counted are added by the run).
    pub config: serde_json::Value,
}

impl RunSpec {
    /// Parses a spec; an error names `file` and the field (`setup.hdd.kind`).
    pub fn from_json(text: &str, file: &str) -> Result<RunSpec, String> {
        // A summary.json holds its spec under `spec`: take that, or a bare spec.
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("{file}: not JSON: {e}"))?;
        let value = match value.get("spec") {
            Some(spec) if value.get("label").is_some() => spec.clone(),
            _ => value,
        };
        let spec: RunSpec = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            format!("{file}: field `{path}`: {}", e.inner())
        })?;
        spec.pacing
            .check()
            .map_err(|e| format!("{file}: field `pacing`: {e}"))?;
        Ok(spec)
    }
}
