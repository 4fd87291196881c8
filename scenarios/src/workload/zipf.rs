//! Zipf-distributed ranks over `1..=n` in constant time per draw, for any exponent > 0.
//!
//! Uses rejection-inversion (W. Hörmann and G. Derflinger, "Rejection-inversion to generate
//! variates from monotone discrete distributions", 1996): invert the integral of the
//! continuous density x^-theta over rank cells [k - 1/2, k + 1/2], and accept or reject the
//! rounded rank with a cheap test. Setup is O(1), so spans of billions of slots cost nothing
//! to prepare. This module owns only the sampler; mapping ranks to addresses is the
//! generator's.
//!
//! Every transcendental goes through `libm` (a pure-Rust port of musl's math), not the
//! platform's libm: the sampled ranks must be bit-identical on any libc, or the same
//! scenario and seed would give different runs on different machines.

use rand::{Rng, RngCore};

/// Draws ranks `k` in `1..=n` with probability proportional to `k^-theta`.
#[derive(Debug, Clone)]
pub struct ZipfSampler {
    n: u64,
    theta: f64,
    /// H(1.5) - 1: the upper end of the inversion interval (cell of rank 1 widened to 1).
    h_integral_x1: f64,
    /// H(n + 0.5): the lower end of the inversion interval.
    h_integral_n: f64,
    /// Acceptance shortcut: ranks within this distance of x are always accepted.
    squeeze: f64,
}

/// log(1 + x) / x, accurate near 0.
fn log1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        libm::log1p(x) / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// (exp(x) - 1) / x, accurate near 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        libm::expm1(x) / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

impl ZipfSampler {
    /// `n` ≥ 1 ranks, exponent `theta` > 0 and finite (validated by the caller).
    pub fn new(n: u64, theta: f64) -> Self {
        assert!(n >= 1, "zipf needs at least one rank");
        assert!(theta.is_finite() && theta > 0.0, "zipf theta must be > 0");
        let mut sampler = ZipfSampler {
            n,
            theta,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            squeeze: 0.0,
        };
        sampler.h_integral_x1 = sampler.h_integral(1.5) - 1.0;
        sampler.h_integral_n = sampler.h_integral(n as f64 + 0.5);
        sampler.squeeze =
            2.0 - sampler.h_integral_inverse(sampler.h_integral(2.5) - sampler.h(2.0));
        sampler
    }

    /// The density x^-theta.
    fn h(&self, x: f64) -> f64 {
        libm::exp(-self.theta * libm::log(x))
    }

    /// H(x) = ∫₁ˣ t^-theta dt (ln x when theta = 1), written to stay accurate near theta = 1.
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = libm::log(x);
        expm1_over_x((1.0 - self.theta) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        // Clamp guards against rounding pushing the argument just below the domain.
        let t = (x * (1.0 - self.theta)).max(-1.0);
        libm::exp(log1p_over_x(t) * x)
    }

    /// Number of ranks.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Draws one rank in `1..=n`. Uses a variable number of uniform draws (expected < 1.1).
    pub fn sample<R: RngCore + ?Sized>(&self, rng: &mut R) -> u64 {
        loop {
            let uniform: f64 = rng.random();
            let u = self.h_integral_n + uniform * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = ((x + 0.5).floor() as u64).clamp(1, self.n);
            let k_f = k as f64;
            if k_f - x <= self.squeeze || u >= self.h_integral(k_f + 0.5) - self.h(k_f) {
                return k;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn frequencies(n: u64, theta: f64, draws: usize) -> Vec<f64> {
        let sampler = ZipfSampler::new(n, theta);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = vec![0u64; n as usize + 1];
        for _ in 0..draws {
            let k = sampler.sample(&mut rng);
            assert!((1..=n).contains(&k));
            counts[k as usize] += 1;
        }
        counts.iter().map(|&c| c as f64 / draws as f64).collect()
    }

    fn expected(n: u64, theta: f64, k: u64) -> f64 {
        let harmonic: f64 = (1..=n).map(|i| (i as f64).powf(-theta)).sum();
        (k as f64).powf(-theta) / harmonic
    }

    #[test]
    fn rank_frequencies_follow_the_power_law() {
        for theta in [0.5, 0.99, 1.0, 1.5] {
            let observed = frequencies(100, theta, 100_000);
            for k in [1, 2, 10, 100] {
                let want = expected(100, theta, k);
                let tolerance = 4.0 * (want * (1.0 - want) / 100_000.0).sqrt() + 1e-4;
                assert!(
                    (observed[k as usize] - want).abs() < tolerance,
                    "theta {theta} rank {k}: observed {} expected {want}",
                    observed[k as usize]
                );
            }
        }
    }

    #[test]
    fn a_single_rank_is_always_drawn() {
        let sampler = ZipfSampler::new(1, 0.8);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!((0..100).all(|_| sampler.sample(&mut rng) == 1));
    }
}
