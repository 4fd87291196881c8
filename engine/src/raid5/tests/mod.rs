//! Tests of the raid5 machine over in-memory members (see `harness`).

mod assembly;
mod harness;
mod paths;
