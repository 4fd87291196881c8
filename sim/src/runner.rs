//! The run loop of a simulation, and its deadlock report.
//!
//! A [`World`] reacts to events and schedules new ones. [`run`] pops events in order until
//! none is pending or a time limit is reached. If no event is pending while the world still
//! has waiting work, nothing can ever wake that work: the run ends in a [`Deadlock`] that lists
//! what waits (DESIGN.md, "Time and events").

use crate::event_queue::EventQueue;

/// Something simulated: it handles its events and says what work it has waiting.
pub trait World {
    type Event;
    /// React to `event` at `now_ns`; schedule follow-ups on `queue`.
    fn handle(&mut self, now_ns: u64, event: Self::Event, queue: &mut EventQueue<Self::Event>);
    /// Descriptions of work that waits for something (empty when the world is idle).
    fn waiting(&self) -> Vec<String>;
}

/// How a run that did not deadlock ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// No event pending and nothing waiting.
    Idle { at_ns: u64, events: u64 },
    /// The next event lies beyond the time limit; it stays pending.
    TimeLimit { at_ns: u64, events: u64 },
}

/// Work waits and no event is pending: nothing will ever wake it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("deadlock at {at_ns} ns: no event pending while {} job(s) wait:\n  {}", waiting.len(), waiting.join("\n  "))]
pub struct Deadlock {
    pub at_ns: u64,
    pub waiting: Vec<String>,
}

/// Run `world` until idle, deadlocked, or past `limit_ns`.
pub fn run<W: World>(
    world: &mut W,
    queue: &mut EventQueue<W::Event>,
    limit_ns: Option<u64>,
) -> Result<RunEnd, Deadlock> {
    let mut events: u64 = 0;
    loop {
        match queue.peek_time_ns() {
            None => {
                let waiting = world.waiting();
                return if waiting.is_empty() {
                    Ok(RunEnd::Idle {
                        at_ns: queue.now_ns(),
                        events,
                    })
                } else {
                    Err(Deadlock {
                        at_ns: queue.now_ns(),
                        waiting,
                    })
                };
            }
            Some(t) if limit_ns.is_some_and(|limit| t > limit) => {
                return Ok(RunEnd::TimeLimit {
                    at_ns: queue.now_ns(),
                    events,
                });
            }
            Some(_) => {
                let (now, event) = queue.pop().expect("peeked an event");
                world.handle(now, event, queue);
                events += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::stream;
    use rand_chacha::ChaCha8Rng;
    use rand_core::RngCore;

    /// Two "devices" serving requests with random service times from their own streams;
    /// each completion issues the next request. Logs every event.
    struct Toy {
        rngs: [ChaCha8Rng; 2],
        remaining: [u32; 2],
        log: Vec<(u64, usize)>,
    }

    impl World for Toy {
        type Event = usize;
        fn handle(&mut self, now_ns: u64, dev: usize, queue: &mut EventQueue<usize>) {
            self.log.push((now_ns, dev));
            if self.remaining[dev] > 0 {
                self.remaining[dev] -= 1;
                queue.schedule_in(1 + self.rngs[dev].next_u64() % 1000, dev);
            }
        }
        fn waiting(&self) -> Vec<String> {
            Vec::new()
        }
    }

    fn toy_log(seed: u64, perturb: bool) -> Vec<(u64, usize)> {
        let mut toy = Toy {
            rngs: [stream(seed, "dev0"), stream(seed, "dev1")],
            remaining: [50, 50],
            log: Vec::new(),
        };
        let mut q = if perturb {
            EventQueue::with_perturbation(stream(seed, "schedule"))
        } else {
            EventQueue::new()
        };
        q.schedule_at(0, 0);
        q.schedule_at(0, 1);
        let end = run(&mut toy, &mut q, None).expect("no deadlock");
        assert!(matches!(end, RunEnd::Idle { events: 102, .. }), "{end:?}");
        toy.log
    }

    #[test]
    fn same_seed_gives_the_same_event_log() {
        assert_eq!(toy_log(11, false), toy_log(11, false));
        assert_eq!(toy_log(11, true), toy_log(11, true));
        assert_ne!(toy_log(11, false), toy_log(12, false));
    }

    struct Stuck;
    impl World for Stuck {
        type Event = ();
        fn handle(&mut self, _: u64, _: (), _: &mut EventQueue<()>) {}
        fn waiting(&self) -> Vec<String> {
            vec!["dm_io request 3 waits for a client slot (min_ios 16)".to_string()]
        }
    }

    #[test]
    fn waiting_work_with_no_event_is_a_deadlock() {
        let mut q = EventQueue::new();
        q.schedule_at(42, ());
        let err = run(&mut Stuck, &mut q, None).unwrap_err();
        assert_eq!(err.at_ns, 42);
        assert!(err.to_string().contains("client slot"), "{err}");
    }

    #[test]
    fn time_limit_leaves_later_events_pending() {
        let mut idle = Toy {
            rngs: [stream(1, "a"), stream(1, "b")],
            remaining: [0, 0],
            log: Vec::new(),
        };
        let mut q2: EventQueue<usize> = EventQueue::new();
        q2.schedule_at(10, 0);
        q2.schedule_at(100, 1);
        let end = run(&mut idle, &mut q2, Some(50)).unwrap();
        assert_eq!(
            end,
            RunEnd::TimeLimit {
                at_ns: 10,
                events: 1
            }
        );
        assert_eq!(q2.len(), 1);
    }
}
