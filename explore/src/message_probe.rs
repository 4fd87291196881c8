//! flashcache's control messages as a user mistypes them (issue 9; bad input gets a clear
//! error and changes nothing). As each segment starts, a running flashcache gets a few
//! messages drawn from a menu: malformed ones (unknown sysctl, a number that is none, a
//! list that does not exist, words missing or extra), sysctls its mode does not register,
//! and the same setting spelt another way (`0x` numbers, a policy by name or number). Each
//! must be refused naming the offending word, or taken with exactly the menu's effect on the
//! tunables; the counters never move.
//!
//! The menu's expectations come from the grammar flashcache documents (its sysctls, spec
//! 1.19; our message grammar in `dmsim_engine::flashcache::command`), not from the parser.

use dmsim_engine::flashcache::{CacheMode, Flashcache, FlashcacheStats, ReclaimPolicy, Tunables};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Messages per segment.
pub const MESSAGES_PER_SEGMENT: usize = 3;

/// What a probe message must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Refused, the reason naming this word.
    Refused(String),
    /// Taken; the tunables become these.
    Taken(Box<Tunables>),
}

/// One probe message and its expectation, for `fc` as it is now.
pub fn draw(rng: &mut ChaCha8Rng, fc: &Flashcache) -> (String, Expect) {
    let tunables = fc.tunables();
    let refused = |message: &str, word: &str| (message.to_string(), Expect::Refused(word.into()));
    let taken = |message: String, tunables: Tunables| (message, Expect::Taken(Box::new(tunables)));
    let write_back = fc.status().mode == CacheMode::WriteBack;
    match rng.random_range(0..20) {
        0 => refused("set no_such_sysctl 1", "no_such_sysctl"),
        1 => refused("set dirty_thresh_pct twenty", "twenty"),
        2 => refused("set max_pids -1", "-1"),
        3 => refused("set lru_hot_pct 0xZZ", "0xZZ"),
        // One past u32: sysctls are 32-bit.
        4 => refused("set cache_all 4294967296", "4294967296"),
        5 => refused("set reclaim_policy mru", "mru"),
        6 => refused("set reclaim_policy 3", "\"3\""),
        7 => refused("greylist add 5", "greylist"),
        8 => refused("whitelist add five", "five"),
        9 => refused("whitelist del", "unknown message"),
        10 => refused("do_sync now", "unknown message"),
        11 => refused("error_inject 0xq", "0xq"),
        12 => refused("set io_latency_hist", "unknown message"),
        // Writeback's sysctls: a writethrough or writearound cache registers none of them.
        13 if !write_back => refused("set dirty_thresh_pct 20", "dirty_thresh_pct"),
        14 if !write_back => refused("set max_clean_ios_set 2", "max_clean_ios_set"),
        15 if !write_back => refused("set do_sync 1", "do_sync"),
        // The same policy by its other name (no change).
        13..=15 => {
            let spelling = match tunables.reclaim_policy {
                ReclaimPolicy::Fifo => ["0", "fifo"][rng.random_range(0..2)],
                ReclaimPolicy::Lru => ["1", "lru"][rng.random_range(0..2)],
                ReclaimPolicy::LruStrict => {
                    ["2", "lru_strict", "lru-strict"][rng.random_range(0..3)]
                }
            };
            taken(format!("set reclaim_policy {spelling}"), tunables.clone())
        }
        // Numbers in hexadecimal, either prefix (no change).
        16 => taken(
            format!("set max_pids 0x{:x}", tunables.max_pids),
            tunables.clone(),
        ),
        17 => taken(
            format!("set lru_promote_thresh 0X{:X}", tunables.lru_promote_thresh),
            tunables.clone(),
        ),
        // The latency histogram on: counted from now, its buckets start empty.
        18 => taken(
            "set io_latency_hist 1".to_string(),
            Tunables {
                io_latency_hist: true,
                ..tunables.clone()
            },
        ),
        _ => taken(
            format!("set skip_seq_thresh_kb {}", tunables.skip_seq_thresh_kb),
            tunables.clone(),
        ),
    }
}

/// Whether the cache did what `expect` says of `message`: `result` is the engine's answer,
/// `before` the tunables and counters before it, `after` the cache after it.
pub fn judge(
    message: &str,
    expect: &Expect,
    result: Result<(), String>,
    before: &(Tunables, FlashcacheStats),
    after: &Flashcache,
) -> Result<(), String> {
    if &before.1 != after.stats() {
        return Err(format!("{message:?} moved flashcache's counters"));
    }
    match (expect, result) {
        (Expect::Refused(word), Err(reason)) if reason.contains(word.as_str()) => {
            if &before.0 == after.tunables() {
                Ok(())
            } else {
                Err(format!("{message:?} was refused but changed the tunables"))
            }
        }
        (Expect::Taken(tunables), Ok(())) if after.tunables() == &**tunables => Ok(()),
        (expect, result) => Err(format!(
            "{message:?}: the engine said {result:?} and left {:?}; expected {expect:?}",
            after.tunables()
        )),
    }
}
