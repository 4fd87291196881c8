//! Tests of the flashcache state machine driven by a scripted executor.
