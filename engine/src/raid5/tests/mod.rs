//! Tests of the raid5 machine over in-memory members (see `harness`).

mod harness;
mod paths;
