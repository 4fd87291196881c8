//! `dmsim-testbed`: the simulation logic under the command line, the tests and the explorer.
//! From a resolved setup it builds the devices (simulated, or real ones the caller opened),
//! the engine and its target, the record pipeline (trace readers with filters and fit, or a
//! workload generator), the data oracle and the recorder, runs the drive loop (with an md
//! raid5 array's failures and spares on the way), and checks the run at its end (device
//! violations, the engine's invariants, a deadlock). It prints nothing: notes and warnings
//! come back as values, for the front end to show.

pub mod cache_run;
pub mod check;
pub mod checked_records;
pub mod grid;
pub mod hit_counts;
pub mod linear_run;
pub mod memory;
pub mod raid5_fail;
pub mod real_raid5;
pub mod report_config;
pub mod run_error;
pub mod run_progress;
pub mod setup;
pub mod sim_machine;
pub mod spec;
mod testbed;
pub mod trace_records;
pub mod units;
pub mod verifier;
pub mod workload;

pub use run_error::RunError;
pub use spec::{PacingSpec, RunSpec};
pub use testbed::{RunOutcome, Testbed};
