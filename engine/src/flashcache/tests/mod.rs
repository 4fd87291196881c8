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

/// The panic message of `check`, which must panic: the state machine's checks assert.
pub(crate) fn panic_of(check: impl FnOnce()) -> String {
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check))
        .expect_err("the check passed");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
