//! flashcache's pid white and black lists as the explorer drives them: control messages a
//! segment sends as it starts (`whitelist|blacklist add|del <pid>`, `... delall`,
//! `set cache_all 0|1`), and a model of the lists they must leave. Every bio carries pid 1
//! (`BIO_PID`), so listing it switches the whole workload between cached and uncached IO
//! while the cache holds data: the data oracle then checks that uncached writes invalidate
//! and uncached reads see the latest data.
//!
//! Oracle: after each message and at each segment's end, each list holds the model's
//! entries and `pid_adds`/`pid_dels` count the model's adds and deletions (the explorer
//! lists at most 3 pids, far below `max_pids`, and never turns pid expiry on).

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

/// What the lists must hold, since the engine started (they live in memory only).
#[derive(Debug, Default, Clone)]
pub struct PidModel {
    whitelist: Vec<i32>,
    blacklist: Vec<i32>,
    adds: u64,
    dels: u64,
}

impl PidModel {
    /// A new engine starts with empty lists.
    pub fn engine_rebuilt(&mut self) {
        *self = PidModel::default();
    }

    /// The effect of `message` (one the target accepted) on the lists.
    pub fn apply(&mut self, message: &str) {
        let words: Vec<&str> = message.split_whitespace().collect();
        let (list, rest) = match words.as_slice() {
            ["whitelist", rest @ ..] => (&mut self.whitelist, rest),
            ["blacklist", rest @ ..] => (&mut self.blacklist, rest),
            _ => return,
        };
        match rest {
            ["add", pid] => {
                let pid: i32 = pid.parse().expect("drawn pids are numbers");
                if !list.contains(&pid) {
                    list.push(pid);
                    self.adds += 1;
                }
            }
            ["del", pid] => {
                let pid: i32 = pid.parse().expect("drawn pids are numbers");
                if let Some(position) = list.iter().position(|&p| p == pid) {
                    list.remove(position);
                    self.dels += 1;
                }
            }
            ["delall"] => {
                self.dels += list.len() as u64;
                list.clear();
            }
            _ => {}
        }
    }

    /// The running cache's lists and pid counters against the model.
    pub fn check(&self, fc: &Flashcache) -> Result<(), String> {
        for (list, model) in [
            (PidList::Whitelist, &self.whitelist),
            (PidList::Blacklist, &self.blacklist),
        ] {
            let len = fc.pid_list_len(list);
            if len != model.len() {
                return Err(format!(
                    "the {list:?} holds {len} pids, the messages left {model:?}"
                ));
            }
        }
        let stats = fc.stats();
        if (stats.pid_adds, stats.pid_dels) != (self.adds, self.dels) {
            return Err(format!(
                "pid_adds {} and pid_dels {}; the messages added {} and deleted {}",
                stats.pid_adds, stats.pid_dels, self.adds, self.dels
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_follows_flashcache_list_semantics() {
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
            model.apply(message);
        }
        assert_eq!(
            (model.whitelist.clone(), model.blacklist.clone()),
            (vec![2], vec![3])
        );
        assert_eq!((model.adds, model.dels), (3, 1));
        model.apply("blacklist delall");
        model.apply("whitelist delall");
        assert!(model.whitelist.is_empty() && model.blacklist.is_empty());
        assert_eq!((model.adds, model.dels), (3, 3));
    }
}
