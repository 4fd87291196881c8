//! kcopyd's optional IO throttle (`dm_kcopyd_throttle`, spec §3).
//!
//! Tracks the fraction of recent time during which the client had IO outstanding, over a
//! window that decays by halving once it exceeds about a second (2^10 jiffies at HZ=1000).
//! When that fraction is above the configured percentage, the worker that is about to issue
//! IO sleeps 100 ms, at most 10 times for one issue. 100 % (the default) turns it off.
//!
//! Deliberately not here: the sleeping itself (the worker marks its client asleep and asks
//! for a tick).

/// Window after which the accumulated periods are halved (1024 jiffies at HZ=1000).
pub(crate) const ACCOUNT_WINDOW_NS: u64 = 1_024_000_000;
/// How long a throttled worker sleeps.
pub(crate) const SLEEP_NS: u64 = 100_000_000;
/// Most sleeps before one IO is issued regardless.
pub(crate) const MAX_SLEEPS: u8 = 10;

#[derive(Debug, Clone, Default)]
pub(crate) struct Throttle {
    /// Allowed busy percentage; 100 or more = off.
    pub percent: u8,
    io_period_ns: u64,
    total_period_ns: u64,
    last_ns: u64,
    io_jobs_active: u32,
}

impl Throttle {
    pub fn new(percent: u8) -> Throttle {
        Throttle {
            percent,
            ..Throttle::default()
        }
    }

    pub fn is_off(&self) -> bool {
        self.percent >= 100
    }

    fn account(&mut self, now_ns: u64) {
        let elapsed = now_ns.saturating_sub(self.last_ns);
        self.last_ns = now_ns;
        if self.io_jobs_active > 0 {
            self.io_period_ns += elapsed;
        }
        self.total_period_ns += elapsed;
        while self.total_period_ns >= ACCOUNT_WINDOW_NS {
            self.total_period_ns /= 2;
            self.io_period_ns /= 2;
        }
    }

    /// Before issuing IO: true if the worker should sleep first (busy beyond the limit).
    pub fn should_sleep(&mut self, now_ns: u64, sleeps_so_far: u8) -> bool {
        if self.is_off() {
            return false;
        }
        self.account(now_ns);
        let busy = u128::from(self.io_period_ns) * 100;
        let allowed = u128::from(self.percent) * u128::from(self.total_period_ns);
        busy > allowed && sleeps_so_far < MAX_SLEEPS
    }

    /// An IO job starts (after `should_sleep` said no).
    pub fn start(&mut self, now_ns: u64) {
        if self.is_off() {
            return;
        }
        self.account(now_ns);
        self.io_jobs_active += 1;
    }

    /// An IO job finished.
    pub fn finish(&mut self, now_ns: u64) {
        if self.is_off() {
            return;
        }
        self.account(now_ns);
        self.io_jobs_active = self.io_jobs_active.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_client_is_throttled_and_an_idle_one_is_not() {
        let mut throttle = Throttle::new(50);
        throttle.start(0);
        assert!(throttle.should_sleep(400_000_000, 0), "100% busy > 50%");
        assert!(!throttle.should_sleep(400_000_000, MAX_SLEEPS));
        throttle.finish(400_000_000);
        // Idle for long enough brings the busy fraction under the limit.
        assert!(!throttle.should_sleep(1_000_000_000, 0));
    }

    #[test]
    fn off_never_sleeps() {
        let mut throttle = Throttle::new(100);
        throttle.start(0);
        assert!(!throttle.should_sleep(10_000_000_000, 0));
    }
}
