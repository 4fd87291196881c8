//! The spindle: platter angle as a function of virtual time.
//!
//! Rotational latency is not drawn at random: the platters turn at a fixed speed from a
//! fixed phase, so the wait for a sector follows from when the head arrives. Times are
//! integer picoseconds internally (u128, so no practical overflow) to keep sector
//! boundaries exact over long runs; callers round to nanoseconds at the edges. Owns speed
//! and phase only; which sector sits at which angle is the layout's business.

/// Picoseconds per nanosecond.
pub const PS_PER_NS: u128 = 1000;

/// Round picoseconds up to whole nanoseconds.
pub fn ps_to_ns_ceil(ps: u128) -> u64 {
    let (ns, rest) = div_rem(ps, PS_PER_NS as u64);
    let ns = ns + u128::from(rest > 0);
    u64::try_from(ns).expect("virtual time beyond u64 nanoseconds")
}

/// `(n / d, n % d)`. A numerator that fits 64 bits (every time below 213 days of virtual
/// time, every angle product of a real drive) is divided in 64 bits: the same result
/// without the 128-bit division routine, which cost the HDD model a few percent (issue 11).
fn div_rem(n: u128, d: u64) -> (u128, u64) {
    match u64::try_from(n) {
        Ok(n) => (u128::from(n / d), n % d),
        Err(_) => (n / u128::from(d), (n % u128::from(d)) as u64),
    }
}

/// `n / d`, as [`div_rem`].
fn div(n: u128, d: u64) -> u128 {
    div_rem(n, d).0
}

/// A spinning stack of platters.
#[derive(Debug, Clone, Copy)]
pub struct Spindle {
    period_ps: u64,
    /// Platter angle at time 0, in ps of rotation (0..period).
    phase_ps: u64,
}

impl Spindle {
    /// A spindle turning at `rpm`, at `phase` (fraction of a turn, 0..1) at time 0.
    pub fn new(rpm: f64, phase: f64) -> Spindle {
        assert!(rpm.is_finite() && rpm > 0.0, "rpm must be positive");
        assert!((0.0..1.0).contains(&phase), "phase must be in [0, 1)");
        let period_ps = (60.0e12 / rpm).round() as u64;
        Spindle {
            period_ps,
            phase_ps: ((phase * period_ps as f64) as u64).min(period_ps - 1),
        }
    }

    /// One revolution, in ps.
    pub fn period_ps(&self) -> u64 {
        self.period_ps
    }

    /// One revolution, in ns (rounded).
    pub fn period_ns(&self) -> u64 {
        (self.period_ps + 500) / 1000
    }

    /// Platter angle at absolute time `t_ps`, as ps of rotation since angle 0.
    #[inline]
    pub fn angle_ps(&self, t_ps: u128) -> u64 {
        div_rem(t_ps + u128::from(self.phase_ps), self.period_ps).1
    }

    /// Angle, in ps of rotation, at which sector position `angle_sectors` of a track with
    /// `spt` sectors starts.
    pub fn sector_angle_ps(&self, angle_sectors: u32, spt: u32) -> u64 {
        div(
            u128::from(angle_sectors) * u128::from(self.period_ps),
            u64::from(spt),
        ) as u64
    }

    /// Earliest time at or after `t_ps` at which the sector at `angle_sectors` (of `spt`)
    /// starts passing under the head.
    pub fn next_sector_start_ps(&self, t_ps: u128, angle_sectors: u32, spt: u32) -> u128 {
        self.next_angle_ps(t_ps, self.sector_angle_ps(angle_sectors % spt, spt))
    }

    /// Earliest time at or after `t_ps` at which the platter is at angle `target` (ps of
    /// rotation, below the period: a [`Spindle::sector_angle_ps`]).
    #[inline]
    pub fn next_angle_ps(&self, t_ps: u128, target: u64) -> u128 {
        let now = self.angle_ps(t_ps);
        let wait = if target >= now {
            target - now
        } else {
            self.period_ps - now + target
        };
        t_ps + u128::from(wait)
    }

    /// The sector position (of `spt`) whose start is the first to pass under the head at
    /// or after `t_ps`.
    pub fn next_boundary_sector(&self, t_ps: u128, spt: u32) -> u32 {
        let now = u128::from(self.angle_ps(t_ps));
        let p = u128::from(self.period_ps);
        let n = u128::from(spt);
        // Smallest a with floor(a·p/n) >= now; the estimate is off by at most one.
        let (whole, rest) = div_rem(now * n, self.period_ps);
        let mut a = whole + u128::from(rest > 0);
        while a > 0 && div((a - 1) * p, u64::from(spt)) >= now {
            a -= 1;
        }
        while div(a * p, u64::from(spt)) < now {
            a += 1;
        }
        div_rem(a, u64::from(spt)).1 as u32
    }

    /// Time for `count` consecutive sectors starting at `angle_sectors` (of `spt`) to pass.
    pub fn sectors_ps(&self, angle_sectors: u32, count: u64, spt: u32) -> u128 {
        let p = u128::from(self.period_ps);
        let spt = u64::from(spt);
        let a = u128::from(angle_sectors);
        div((a + u128::from(count)) * p, spt) - div(a * p, spt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_agrees_with_128_bits_on_both_sides_of_64() {
        for n in [
            0u128,
            999,
            1000,
            1001,
            u128::from(u64::MAX) - 1,
            u128::from(u64::MAX),
            u128::from(u64::MAX) + 1,
            u128::MAX,
        ] {
            for d in [1u64, 7, 1000, 8_333_333_333, u64::MAX] {
                assert_eq!(
                    div_rem(n, d),
                    (n / u128::from(d), (n % u128::from(d)) as u64)
                );
            }
        }
        assert_eq!(ps_to_ns_ceil(1001), 2);
        assert_eq!(ps_to_ns_ceil(1000), 1);
        assert_eq!(ps_to_ns_ceil(0), 0);
    }

    #[test]
    fn angle_is_a_function_of_time() {
        let s = Spindle::new(6000.0, 0.0); // 10 ms per turn
        assert_eq!(s.period_ps(), 10_000_000_000);
        assert_eq!(s.angle_ps(0), 0);
        assert_eq!(s.angle_ps(2_500_000_000), 2_500_000_000);
        assert_eq!(s.angle_ps(12_500_000_000), 2_500_000_000);
        let shifted = Spindle::new(6000.0, 0.25);
        assert_eq!(shifted.angle_ps(0), 2_500_000_000);
    }

    #[test]
    fn waits_for_the_next_pass_of_a_sector() {
        let s = Spindle::new(6000.0, 0.0);
        // Sector 25 of 100 starts at a quarter turn.
        assert_eq!(s.next_sector_start_ps(0, 25, 100), 2_500_000_000);
        // Just past it: a full turn minus the overshoot.
        assert_eq!(
            s.next_sector_start_ps(2_600_000_000, 25, 100),
            12_500_000_000
        );
        // Exactly at it: no wait.
        assert_eq!(
            s.next_sector_start_ps(12_500_000_000, 25, 100),
            12_500_000_000
        );
        assert_eq!(s.sectors_ps(99, 2, 100), 200_000_000);
        assert_eq!(s.next_boundary_sector(0, 100), 0);
        assert_eq!(s.next_boundary_sector(1, 100), 1);
        assert_eq!(s.next_boundary_sector(2_500_000_000, 100), 25);
        assert_eq!(
            s.next_boundary_sector(9_999_999_999, 100),
            0,
            "wraps to sector 0"
        );
    }
}
