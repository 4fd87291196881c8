//! Tests of the raid5 machine over in-memory members (see `harness`).

mod assembly;
mod checks;
mod harness;
mod paths;
