//! Tests of the flashcache state machine driven by a scripted executor ([`harness`]).

mod busy;
mod errors;
mod harness;
mod incremental_check;
mod paths;
mod persistence;
mod random;
mod throughput;
mod victim_index;
mod writeback;
mod zombie;
