//! The bound every fixed-point loop of the engine runs under.
//!
//! The engine advances its components "until nothing moves" in several places (the settle
//! loop, the services' run loop, the flashcache adapter's pump, dm core's accounting, the
//! kcopyd and flashcache workers). Each such loop counts its rounds with a [`LoopBound`]
//! under a named limit far above any legitimate run; passing it means a component keeps
//! reporting progress forever (an engine bug), and the engine stops with a message naming
//! the loop instead of hanging the run.

/// Items one call of a draining loop (a worker list, a notification queue) may handle: far
/// above anything the arena lets be in flight at once.
pub(crate) const ITEMS_PER_CALL_MAX: u64 = 1 << 26;

/// Counts the rounds of one fixed-point loop; see the module documentation.
#[derive(Debug)]
pub(crate) struct LoopBound {
    loop_name: &'static str,
    rounds_max: u64,
    rounds: u64,
}

impl LoopBound {
    /// A bound of `rounds_max` rounds for the loop named `loop_name`.
    pub(crate) fn new(loop_name: &'static str, rounds_max: u64) -> LoopBound {
        LoopBound {
            loop_name,
            rounds_max,
            rounds: 0,
        }
    }

    /// Counts one round; panics, naming the loop, once the rounds exceed the limit.
    #[inline]
    pub(crate) fn round(&mut self) {
        self.rounds += 1;
        if self.rounds > self.rounds_max {
            self.spun();
        }
    }

    #[cold]
    #[inline(never)]
    fn spun(&self) -> ! {
        panic!(
            "fixed-point loop `{}` ran {} rounds without settling (limit {}): an engine bug",
            self.loop_name, self.rounds, self.rounds_max
        )
    }
}

#[cfg(test)]
mod tests {
    use super::LoopBound;

    #[test]
    fn rounds_up_to_the_limit_pass() {
        let mut bound = LoopBound::new("test loop", 3);
        for _ in 0..3 {
            bound.round();
        }
    }

    #[test]
    #[should_panic(
        expected = "fixed-point loop `test loop` ran 4 rounds without settling (limit 3)"
    )]
    fn a_round_past_the_limit_names_the_loop() {
        let mut bound = LoopBound::new("test loop", 3);
        for _ in 0..4 {
            bound.round();
        }
    }
}
