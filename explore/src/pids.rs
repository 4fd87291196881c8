//! flashcache's pid white and black lists as the explorer drives them: control messages a
//! segment sends as it starts (`whitelist|blacklist add|del <pid>`, `... delall`,
//! `set cache_all 0|1`, and on some seeds `set pid_expiry_secs <s>` with `set do_pid_expiry
//! 1`), and a model of the lists they must leave. Every bio carries pid 1 (`BIO_PID`), so
//! listing it switches the whole workload between cached and uncached IO while the cache
//! holds data: the data oracle then checks that uncached writes invalidate and uncached reads
//! see the latest data.
//!
//! Oracle: after each message and at each segment's end, each list holds the model's
//! entries, less those expiry may have dropped, and `pid_adds`/`pid_dels`/`pid_drops`/
//! `expiry` count the model's adds, deletions, drops and expired entries (the explorer lists
//! at most 3 pids; some seeds set `max_pids` to 1 or 2, so an add to a full list drops the
//! newest entries). An entry may leave its list only while `do_pid_expiry` is on and once its
//! expiry (its add time plus `pid_expiry_secs` then) has passed; when it went is the engine's
//! business (an expiry pass runs as a bio is mapped, at most once per `pid_expiry_secs + 1`
//! seconds), so before each message the model takes the engine's word for which expirable
//! entries are gone and from then on holds the engine to it.

use dmsim_engine::flashcache::{Flashcache, PidList};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The pids the explorer lists: the bios' own and two others.
const PIDS: [i32; 3] = [dmsim_engine::BIO_PID, 2, 3];

/// A few messages for one segment.
pub fn draw_messages(rng: &mut ChaCha8Rng) -> Vec<String> {
    (0..rng.random_range(1..=4))
        .map(|_| {
            let list = ["whitelist", "blacklist"][rng.random_range(0..2)];
            let pid = PIDS[rng.random_range(0..PIDS.len())];
            match rng.random_range(0..8) {
                0..=3 => format!("{list} add {pid}"),
                4 | 5 => format!("{list} del {pid}"),
                6 => format!("{list} delall"),
                _ => format!("set cache_all {}", rng.random_range(0..=1)),
            }
        })
        .collect()
}

/// One listed pid and when flashcache may expire it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    pid: i32,
    expires_at_ns: u64,
}

/// One or two pids listed (after turning expiry on: something to expire).
pub fn draw_adds(rng: &mut ChaCha8Rng) -> Vec<String> {
    (0..rng.random_range(1..=2))
        .map(|_| {
            let list = ["whitelist", "blacklist"][rng.random_range(0..2)];
            let pid = PIDS[rng.random_range(0..PIDS.len())];
            format!("{list} add {pid}")
        })
        .collect()
}

/// What the lists must hold, since the engine started (they live in memory only).
#[derive(Debug, Default, Clone)]
pub struct PidModel {
    whitelist: Vec<Entry>,
    blacklist: Vec<Entry>,
    adds: u64,
    /// Deletions, the drops of an add to a full list among them.
    dels: u64,
    /// Entries an add to a list holding more than `max_pids` dropped.
    drops: u64,
    /// Entries the engine dropped by expiry, as far as reconciled.
    expired: u64,
    /// `do_pid_expiry` was on at some time since the last reconciliation.
    expiry_may_have_run: bool,
}

impl PidModel {
    /// A new engine starts with empty lists.
    pub fn engine_rebuilt(&mut self) {
        *self = PidModel::default();
    }

    fn list_mut(&mut self, list: PidList) -> &mut Vec<Entry> {
        match list {
            PidList::Whitelist => &mut self.whitelist,
            PidList::Blacklist => &mut self.blacklist,
        }
    }

    /// The effect of `message` (one `fc` accepted at `now_ns`) on the lists. Call
    /// [`PidModel::reconcile`] before the engine takes the message.
    pub fn apply(&mut self, message: &str, now_ns: u64, fc: &Flashcache) {
        let tunables = fc.tunables();
        self.expiry_may_have_run |= tunables.do_pid_expiry;
        let expires_at_ns = now_ns + u64::from(tunables.pid_expiry_secs) * 1_000_000_000;
        let words: Vec<&str> = message.split_whitespace().collect();
        let (list, rest) = match words.as_slice() {
            ["whitelist", rest @ ..] => (PidList::Whitelist, rest),
            ["blacklist", rest @ ..] => (PidList::Blacklist, rest),
            _ => return,
        };
        let (mut adds, mut dels, mut drops) = (0, 0, 0);
        let max_pids = tunables.max_pids as usize;
        let entries = self.list_mut(list);
        match rest {
            ["add", pid] => {
                let pid: i32 = pid.parse().expect("drawn pids are numbers");
                // A list already over `max_pids` loses its newest entries until it holds
                // fewer than `max_pids`, before the add.
                if entries.len() > max_pids {
                    let keep = max_pids.saturating_sub(1);
                    drops = (entries.len() - keep) as u64;
                    entries.truncate(keep);
                    dels += drops;
                }
                if !entries.iter().any(|entry| entry.pid == pid) {
                    entries.push(Entry { pid, expires_at_ns });
                    adds += 1;
                }
            }
            ["del", pid] => {
                let pid: i32 = pid.parse().expect("drawn pids are numbers");
                if let Some(position) = entries.iter().position(|entry| entry.pid == pid) {
                    entries.remove(position);
                    dels += 1;
                }
            }
            ["delall"] => {
                dels += entries.len() as u64;
                entries.clear();
            }
            _ => {}
        }
        self.adds += adds;
        self.dels += dels;
        self.drops += drops;
    }

    /// The model's entries `fc` no longer lists at `now_ns`: each must have been expirable
    /// while expiry could run.
    fn vanished(&self, fc: &Flashcache, now_ns: u64) -> Result<Vec<(PidList, i32)>, String> {
        let mut vanished = Vec::new();
        for (list, model) in [
            (PidList::Whitelist, &self.whitelist),
            (PidList::Blacklist, &self.blacklist),
        ] {
            for entry in model {
                if fc.pid_listed(list, entry.pid) {
                    continue;
                }
                if !self.expiry_may_have_run && !fc.tunables().do_pid_expiry {
                    return Err(format!(
                        "pid {} left the {list:?} with do_pid_expiry off",
                        entry.pid
                    ));
                }
                if entry.expires_at_ns > now_ns {
                    return Err(format!(
                        "pid {} left the {list:?} at or before {now_ns} ns, before its expiry \
                         at {} ns",
                        entry.pid, entry.expires_at_ns
                    ));
                }
                vanished.push((list, entry.pid));
            }
        }
        Ok(vanished)
    }

    /// Before the engine takes a message at `now_ns`: the entries `fc` expired are gone from
    /// the model too (each checked by [`PidModel::check`]'s rules).
    pub fn reconcile(&mut self, fc: &Flashcache, now_ns: u64) -> Result<(), String> {
        for (list, pid) in self.vanished(fc, now_ns)? {
            self.list_mut(list).retain(|entry| entry.pid != pid);
            self.expired += 1;
        }
        self.expiry_may_have_run = fc.tunables().do_pid_expiry;
        self.check(fc, now_ns)
    }

    /// The running cache's lists and pid counters against the model at `now_ns`.
    pub fn check(&self, fc: &Flashcache, now_ns: u64) -> Result<(), String> {
        let vanished = self.vanished(fc, now_ns)?;
        for (list, model) in [
            (PidList::Whitelist, &self.whitelist),
            (PidList::Blacklist, &self.blacklist),
        ] {
            if let Some(pid) = PIDS
                .into_iter()
                .find(|&pid| fc.pid_listed(list, pid) && !model.iter().any(|e| e.pid == pid))
            {
                return Err(format!(
                    "the {list:?} holds pid {pid}, which no message added"
                ));
            }
            let gone = vanished.iter().filter(|(l, _)| *l == list).count();
            let len = fc.pid_list_len(list);
            if len + gone != model.len() {
                return Err(format!(
                    "the {list:?} holds {len} pids ({gone} expired), the messages left {model:?}"
                ));
            }
        }
        let stats = fc.stats();
        let expired = self.expired + vanished.len() as u64;
        if (
            stats.pid_adds,
            stats.pid_dels,
            stats.pid_drops,
            stats.expiry,
        ) != (self.adds, self.dels, self.drops, expired)
        {
            return Err(format!(
                "pid_adds {}, pid_dels {}, pid_drops {} and expiry {}; the messages added {}, \
                 deleted {} (dropped {} of them from a full list), and {expired} entries expired",
                stats.pid_adds,
                stats.pid_dels,
                stats.pid_drops,
                stats.expiry,
                self.adds,
                self.dels,
                self.drops
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmsim_engine::flashcache::{
        Associativity, CacheDeviceSizes, CacheMode, FlashcacheConfig, HitCounter, Persistence,
        TableLine,
    };

    /// A writethrough cache whose time stays at 0 (the hit-counting mode's).
    fn cache() -> HitCounter {
        let mut table = TableLine::new(CacheMode::WriteThrough, Persistence::Create, 1 << 20);
        table.assoc = Associativity::Ways(256);
        table.cache_size_sectors = 4096;
        let devices = CacheDeviceSizes {
            ssd_sectors: 8192,
            disk_sectors: 1 << 20,
            ssd_logical_block_bytes: 512,
        };
        HitCounter::new(FlashcacheConfig::new(table), devices).expect("a valid cache")
    }

    /// `message` to both the cache and the model, as the explorer sends it at time 0.
    fn send(hits: &mut HitCounter, model: &mut PidModel, message: &str) {
        model.reconcile(hits.flashcache(), 0).expect("in step");
        hits.message(message).expect("accepted");
        model.apply(message, 0, hits.flashcache());
        model.check(hits.flashcache(), 0).expect("in step");
    }

    #[test]
    fn the_model_follows_flashcache_list_semantics() {
        let mut hits = cache();
        let mut model = PidModel::default();
        for message in [
            "whitelist add 1",
            "whitelist add 1", // already listed: no add
            "whitelist add 2",
            "blacklist add 3",
            "blacklist del 2", // not listed: no deletion
            "whitelist del 1",
            "set cache_all 0",
        ] {
            send(&mut hits, &mut model, message);
        }
        let pids = |entries: &[Entry]| entries.iter().map(|e| e.pid).collect::<Vec<_>>();
        assert_eq!(
            (pids(&model.whitelist), pids(&model.blacklist)),
            (vec![2], vec![3])
        );
        assert_eq!((model.adds, model.dels), (3, 1));
        send(&mut hits, &mut model, "blacklist delall");
        send(&mut hits, &mut model, "whitelist delall");
        assert!(model.whitelist.is_empty() && model.blacklist.is_empty());
        assert_eq!((model.adds, model.dels), (3, 3));
    }

    #[test]
    fn an_entry_may_leave_only_by_expiry_and_counted() {
        let mut hits = cache();
        let mut model = PidModel::default();
        send(&mut hits, &mut model, "set pid_expiry_secs 2");
        // The model lists pid 2 (added at 0 ns, expiring at 2 s); the cache does not.
        model.apply("whitelist add 2", 0, hits.flashcache());
        let error = model.check(hits.flashcache(), 5_000_000_000).unwrap_err();
        assert!(error.contains("with do_pid_expiry off"), "{error}");
        hits.message("set do_pid_expiry 1").expect("accepted");
        model.apply("set do_pid_expiry 1", 0, hits.flashcache());
        let error = model.check(hits.flashcache(), 1_000_000_000).unwrap_err();
        assert!(
            error.contains("before its expiry at 2000000000 ns"),
            "{error}"
        );
        // Expirable now, but the cache's `expiry` counter did not count it.
        let error = model.check(hits.flashcache(), 2_000_000_000).unwrap_err();
        assert!(
            error.contains("expiry 0") && error.contains("1 entries expired"),
            "{error}"
        );
    }

    #[test]
    fn a_pid_no_message_added_is_caught() {
        let mut hits = cache();
        let model = PidModel::default();
        hits.message("blacklist add 3").expect("accepted");
        let error = model.check(hits.flashcache(), 0).unwrap_err();
        assert!(error.contains("holds pid 3"), "{error}");
    }
}
