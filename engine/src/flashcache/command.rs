//! flashcache's control messages: its sysctl writes, its actions and its DM messages, as
//! text (the flashcache target's `Control::TargetMessage`, the hit-counting mode's
//! messages) parsed into [`Command`]s, and carried out by the state machine.
//!
//! Grammar (words separated by whitespace; numbers decimal or `0x` hexadecimal):
//! - `set <sysctl> <value>` — a sysctl of `/proc/sys/dev/flashcache/<dev>/` by its name
//!   (`dirty_thresh_pct`, `max_clean_ios_set`, `max_clean_ios_total`, `fallow_delay`,
//!   `fallow_clean_speed`, `fast_remove`, `clean_on_read_miss`, `clean_on_write_miss`,
//!   `new_style_write_merge`, `reclaim_policy`, `lru_hot_pct`, `lru_promote_thresh`,
//!   `skip_seq_thresh_kb`, `cache_all`, `do_pid_expiry`, `max_pids`, `pid_expiry_secs`,
//!   `io_latency_hist`). Booleans take 0 or 1 (any non-zero is 1, as a sysctl write);
//!   `reclaim_policy` takes 0 (fifo), 1 (lru), 2 (lru_strict) or those names. The action
//!   sysctls `do_sync`, `stop_sync`, `zero_stats` and `error_inject` are accepted here too
//!   (a zero value does nothing, as in flashcache).
//! - `do_sync`, `stop_sync`, `zero_stats` — the actions.
//! - `error_inject <flags>` — arm one-shot error injection flags (e.g. `0x8`).
//! - `remove` — `dmsetup remove`: clean (unless `fast_remove`), store metadata, stop.
//! - `whitelist|blacklist add|del <pid>`, `whitelist|blacklist delall` — the pid lists
//!   (flashcache's DM messages on kernels ≥ 4.4).
//!
//! Owns: the grammar and the routing of each command to the state machine's control
//! calls ([`Flashcache::carry_out`]). Deliberately not here: what a command does (the
//! control calls, in `control.rs`), or moving the requests it makes (the caller pumps them).

use super::inject::ErrorInjection;
use super::instance::{CacheInputError, Flashcache};
use super::seq::PidList;
use super::{ReclaimPolicy, Tunable};

/// One parsed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Set(Tunable),
    DoSync,
    StopSync,
    ZeroStats,
    ErrorInject(ErrorInjection),
    Remove,
    PidAdd(PidList, i32),
    PidDel(PidList, i32),
    PidDelAll(PidList),
    /// A zero write to an action sysctl: accepted, does nothing.
    Nothing,
}

/// Parses a message; the error says what is wrong, in words.
pub fn parse(message: &str) -> Result<Command, String> {
    let words: Vec<&str> = message.split_whitespace().collect();
    match words.as_slice() {
        ["set", name, value] => parse_set(name, value),
        ["do_sync"] => Ok(Command::DoSync),
        ["stop_sync"] => Ok(Command::StopSync),
        ["zero_stats"] => Ok(Command::ZeroStats),
        ["error_inject", flags] => Ok(Command::ErrorInject(ErrorInjection(number(
            "error_inject",
            flags,
        )?))),
        ["remove"] => Ok(Command::Remove),
        [list, "add", pid] => Ok(Command::PidAdd(pid_list(list)?, parse_pid(pid)?)),
        [list, "del", pid] => Ok(Command::PidDel(pid_list(list)?, parse_pid(pid)?)),
        [list, "delall"] => Ok(Command::PidDelAll(pid_list(list)?)),
        _ => Err(format!(
            "flashcache: unknown message {message:?} (expected `set <sysctl> <value>`, \
             do_sync, stop_sync, zero_stats, `error_inject <flags>`, remove, or \
             `whitelist|blacklist add|del <pid>` / `... delall`)"
        )),
    }
}

fn parse_set(name: &str, value: &str) -> Result<Command, String> {
    let n = || number(name, value);
    let flag = || number(name, value).map(|v| v != 0);
    let action = |command: Command| n().map(|v| if v != 0 { command } else { Command::Nothing });
    let tunable = match name {
        "dirty_thresh_pct" => Tunable::DirtyThreshPct(n()?),
        "max_clean_ios_set" => Tunable::MaxCleanIosSet(n()?),
        "max_clean_ios_total" => Tunable::MaxCleanIosTotal(n()?),
        "fallow_delay" => Tunable::FallowDelaySecs(n()?),
        "fallow_clean_speed" => Tunable::FallowCleanSpeed(n()?),
        "fast_remove" => Tunable::FastRemove(flag()?),
        "clean_on_read_miss" => Tunable::CleanOnReadMiss(n()?),
        "clean_on_write_miss" => Tunable::CleanOnWriteMiss(n()?),
        "new_style_write_merge" => Tunable::NewStyleWriteMerge(n()?),
        "reclaim_policy" => Tunable::ReclaimPolicy(reclaim_policy(value)?),
        "lru_hot_pct" => Tunable::LruHotPct(n()?),
        "lru_promote_thresh" => Tunable::LruPromoteThresh(n()?),
        "skip_seq_thresh_kb" => Tunable::SkipSeqThreshKb(n()?),
        "cache_all" => Tunable::CacheAll(flag()?),
        "do_pid_expiry" => Tunable::DoPidExpiry(flag()?),
        "max_pids" => Tunable::MaxPids(n()?),
        "pid_expiry_secs" => Tunable::PidExpirySecs(n()?),
        "io_latency_hist" => Tunable::IoLatencyHist(flag()?),
        "do_sync" => return action(Command::DoSync),
        "stop_sync" => return action(Command::StopSync),
        "zero_stats" => return action(Command::ZeroStats),
        "error_inject" => return Ok(Command::ErrorInject(ErrorInjection(n()?))),
        _ => return Err(format!("flashcache: no sysctl named {name:?}")),
    };
    Ok(Command::Set(tunable))
}

fn number(name: &str, text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse::<u32>(),
    };
    parsed.map_err(|_| format!("flashcache: {name}: {text:?} is not a non-negative number"))
}

fn reclaim_policy(text: &str) -> Result<ReclaimPolicy, String> {
    match text {
        "0" | "fifo" => Ok(ReclaimPolicy::Fifo),
        "1" | "lru" => Ok(ReclaimPolicy::Lru),
        "2" | "lru_strict" | "lru-strict" => Ok(ReclaimPolicy::LruStrict),
        _ => Err(format!(
            "flashcache: reclaim_policy: {text:?} is none of 0/fifo, 1/lru, 2/lru_strict"
        )),
    }
}

fn pid_list(word: &str) -> Result<PidList, String> {
    match word {
        "whitelist" => Ok(PidList::Whitelist),
        "blacklist" => Ok(PidList::Blacklist),
        _ => Err(format!(
            "flashcache: {word:?} is neither whitelist nor blacklist"
        )),
    }
}

fn parse_pid(text: &str) -> Result<i32, String> {
    text.parse::<i32>()
        .map_err(|_| format!("flashcache: pid {text:?} is not a number"))
}

impl Flashcache {
    /// Carries `command` out at `now_ns`: the control call it names. The requests it makes
    /// (a sync's cleaning, a remove's stores) are the caller's to poll, as after any input.
    pub fn carry_out(&mut self, command: Command, now_ns: u64) -> Result<(), CacheInputError> {
        match command {
            Command::Set(tunable) => self.set_tunable(tunable),
            Command::DoSync => self.do_sync(now_ns),
            Command::StopSync => {
                self.stop_sync();
                Ok(())
            }
            Command::ZeroStats => {
                self.zero_stats();
                Ok(())
            }
            Command::ErrorInject(flags) => {
                self.inject_errors(flags);
                Ok(())
            }
            Command::Remove => self.remove(now_ns),
            Command::PidAdd(list, pid) => {
                self.add_pid(list, pid, now_ns);
                Ok(())
            }
            Command::PidDel(list, pid) => {
                self.delete_pid(list, pid);
                Ok(())
            }
            Command::PidDelAll(list) => {
                self.delete_all_pids(list);
                Ok(())
            }
            Command::Nothing => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_writes_parse_by_name() {
        assert_eq!(
            parse("set dirty_thresh_pct 30"),
            Ok(Command::Set(Tunable::DirtyThreshPct(30)))
        );
        assert_eq!(
            parse("  set   fast_remove 7 "),
            Ok(Command::Set(Tunable::FastRemove(true)))
        );
        assert_eq!(
            parse("set reclaim_policy lru_strict"),
            Ok(Command::Set(Tunable::ReclaimPolicy(
                ReclaimPolicy::LruStrict
            )))
        );
        assert_eq!(
            parse("set reclaim_policy 1"),
            Ok(Command::Set(Tunable::ReclaimPolicy(ReclaimPolicy::Lru)))
        );
        assert_eq!(parse("set do_sync 1"), Ok(Command::DoSync));
        assert_eq!(parse("set do_sync 0"), Ok(Command::Nothing));
    }

    #[test]
    fn actions_injection_and_pid_lists_parse() {
        assert_eq!(parse("do_sync"), Ok(Command::DoSync));
        assert_eq!(parse("remove"), Ok(Command::Remove));
        assert_eq!(
            parse("error_inject 0x8"),
            Ok(Command::ErrorInject(ErrorInjection::WRITECACHE_ERROR))
        );
        assert_eq!(
            parse("set error_inject 16"),
            Ok(Command::ErrorInject(ErrorInjection::WRITECACHE_MD_ERROR))
        );
        assert_eq!(
            parse("blacklist add 42"),
            Ok(Command::PidAdd(PidList::Blacklist, 42))
        );
        assert_eq!(
            parse("whitelist delall"),
            Ok(Command::PidDelAll(PidList::Whitelist))
        );
    }

    #[test]
    fn bad_messages_are_refused_with_a_reason() {
        let unknown = parse("set no_such_thing 1").unwrap_err();
        assert!(unknown.contains("no_such_thing"), "{unknown}");
        let bad_value = parse("set dirty_thresh_pct -3").unwrap_err();
        assert!(bad_value.contains("dirty_thresh_pct"), "{bad_value}");
        assert!(parse("graylist add 1").is_err());
        assert!(parse("set reclaim_policy 9").is_err());
        assert!(parse("").unwrap_err().contains("unknown message"));
    }
}
