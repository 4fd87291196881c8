//! BUGGIFY (after FoundationDB): seeded sites inside the engine that, when the capability is
//! passed in, now and then do something legal but unlikely — shrink an SSD timeout, force
//! cleaning now, fail a job allocation as if the pool were exhausted — so rare interleavings
//! happen often under the race explorer.
//!
//! Owns: the sites and the decision whether one fires. The capability is
//! [`EngineConfig::buggify`](crate::EngineConfig::buggify): `None` (the default, and always
//! on real devices) compiles every site to a not-taken branch. With a seed, each site is
//! enabled for the whole run with probability 1/2 and then fires at its own rate, all drawn
//! from one ChaCha stream of that seed (deterministic: same seed, same firings).

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The capability: BUGGIFY on, with the seed of its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuggifyConfig {
    pub seed: u64,
}

/// A BUGGIFY site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuggifySite {
    /// flashcache's `ssd_timeout` deadline becomes 1/1000 of itself (at least 1 µs).
    ShrinkSsdTimeout,
    /// A bio mapped by flashcache first forces cleaning of its set.
    ForceCleanNow,
    /// A bio mapped by flashcache finds its job allocation failing (pool exhausted).
    ExhaustJobPool,
}

impl BuggifySite {
    const COUNT: usize = 3;

    /// One in how many reaches of an enabled site fires.
    fn one_in(self) -> u32 {
        match self {
            BuggifySite::ShrinkSsdTimeout => 20,
            BuggifySite::ForceCleanNow => 50,
            BuggifySite::ExhaustJobPool => 500,
        }
    }
}

/// The run's BUGGIFY state (see the module documentation).
#[derive(Debug)]
pub(crate) struct Buggify {
    stream: Option<(ChaCha8Rng, [bool; BuggifySite::COUNT])>,
}

impl Buggify {
    pub(crate) fn new(config: Option<BuggifyConfig>) -> Buggify {
        let stream = config.map(|config| {
            // The seed is mixed with the component name, like sim's named streams.
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x6275_6767_6966_7921);
            let mut enabled = [false; BuggifySite::COUNT];
            for site in enabled.iter_mut() {
                *site = rng.next_u32() % 2 == 0;
            }
            (rng, enabled)
        });
        Buggify { stream }
    }

    /// Whether `site` fires this time.
    #[inline]
    pub(crate) fn fires(&mut self, site: BuggifySite) -> bool {
        let Some((rng, enabled)) = &mut self.stream else {
            return false;
        };
        if !enabled[site as usize] || rng.next_u32() % site.one_in() != 0 {
            return false;
        }
        mark!(BuggifyFired);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn firings(seed: Option<u64>) -> Vec<bool> {
        let mut buggify = Buggify::new(seed.map(|seed| BuggifyConfig { seed }));
        let sites = [
            BuggifySite::ShrinkSsdTimeout,
            BuggifySite::ForceCleanNow,
            BuggifySite::ExhaustJobPool,
        ];
        (0..3000).map(|i| buggify.fires(sites[i % 3])).collect()
    }

    #[test]
    fn off_never_fires_and_on_is_deterministic_per_seed() {
        assert!(firings(None).iter().all(|fired| !fired));
        assert_eq!(firings(Some(7)), firings(Some(7)));
        let any_fired = (0..8).any(|seed| firings(Some(seed)).iter().any(|f| *f));
        assert!(any_fired);
        let differ = (1..8).any(|seed| firings(Some(seed)) != firings(Some(0)));
        assert!(differ);
    }
}
