//! Tests of the flashcache state machine driven by a scripted executor ([`harness`]).

mod harness;
mod paths;
