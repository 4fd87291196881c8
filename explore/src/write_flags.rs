//! Bio flags (issue 9: swarm over the workload). Every other draw issues plain bios: no
//! write asked for FUA or a preflush and no bio was sync, so dm core's preflush piece, dm_io's
//! and the devices' FUA writes, and the block layer's unplug by a sync IO ran in unit tests
//! only, and the data oracle's durability rules for them (a FUA write, and what a preflush
//! covers, must survive a power loss) were never asked.
//!
//! One seed in four marks some of its bios: writes FUA and/or with a preflush, any bio sync,
//! each at its own drawn rate. The marks come from a stream per segment, drawn as each bio is
//! taken, so a segment's marks do not depend on another's; the spec's draw has its own stream,
//! so the seeds' other dimensions stay as they were.

use dmsim_engine::block::Op;
use dmsim_engine::io::{Bio, BioDone};
use dmsim_engine::platform::BioSource;
use dmsim_sim::streams::stream;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How often a bio gets each flag: one in `n` (0: never).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagRates {
    /// Writes with FUA (durable once they complete).
    pub fua_one_in: u32,
    /// Writes with a preflush (every write completed before them durable first).
    pub preflush_one_in: u32,
    /// Reads and writes marked sync (a plugged queue lets them and what it held go at once).
    pub sync_one_in: u32,
}

/// The rarest a drawn flag gets: one bio in this many.
const ONE_IN_MAX: u32 = 64;

/// The rates of `seed`, if it marks its bios (one seed in four).
pub fn draw(seed: u64) -> Option<FlagRates> {
    let mut rng = stream(seed, "explore.spec.write_flags");
    if !rng.random_ratio(1, 4) {
        return None;
    }
    let rate = |rng: &mut ChaCha8Rng| {
        if rng.random_ratio(2, 3) {
            rng.random_range(1..=ONE_IN_MAX)
        } else {
            0
        }
    };
    let rates = FlagRates {
        fua_one_in: rate(&mut rng),
        preflush_one_in: rate(&mut rng),
        sync_one_in: rate(&mut rng),
    };
    // At least one flag, or the draw would be a no-op.
    Some(if rates == FlagRates::NONE {
        FlagRates {
            fua_one_in: 1 + rng.random_range(0..ONE_IN_MAX),
            ..rates
        }
    } else {
        rates
    })
}

impl FlagRates {
    const NONE: FlagRates = FlagRates {
        fua_one_in: 0,
        preflush_one_in: 0,
        sync_one_in: 0,
    };
}

/// `inner`'s bios, marked at `rates` (none: unchanged, and no draw).
pub struct Flagged<S> {
    inner: S,
    marks: Option<(FlagRates, ChaCha8Rng)>,
}

impl<S: BioSource> Flagged<S> {
    /// Segment `segment` of `seed`'s run.
    pub fn new(inner: S, rates: Option<FlagRates>, seed: u64, segment: usize) -> Flagged<S> {
        let marks = rates.map(|rates| {
            let name = format!("explore.write_flags.segment{segment}");
            (rates, stream(seed, &name))
        });
        Flagged { inner, marks }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

/// One in `n` (0: never), drawn only when it can happen.
fn one_in(rng: &mut ChaCha8Rng, n: u32) -> bool {
    n != 0 && rng.random_ratio(1, n)
}

impl<S: BioSource> BioSource for Flagged<S> {
    fn next_arrival_ns(&mut self) -> Option<u64> {
        self.inner.next_arrival_ns()
    }

    fn take_bio(&mut self, now_ns: u64) -> Bio {
        let mut bio = self.inner.take_bio(now_ns);
        let Some((rates, rng)) = &mut self.marks else {
            return bio;
        };
        if bio.op == Op::Write {
            bio.flags.fua |= one_in(rng, rates.fua_one_in);
            bio.flags.preflush |= one_in(rng, rates.preflush_one_in);
        }
        if matches!(bio.op, Op::Read | Op::Write) {
            bio.flags.sync |= one_in(rng, rates.sync_one_in);
        }
        bio
    }

    fn on_done(&mut self, now_ns: u64, done: BioDone) {
        self.inner.on_done(now_ns, done);
    }

    fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_in_about_four_marks_and_every_draw_marks_something() {
        let drawn: Vec<FlagRates> = (0..400).filter_map(draw).collect();
        assert!(
            (60..=140).contains(&drawn.len()),
            "{} of 400 seeds",
            drawn.len()
        );
        for rates in &drawn {
            assert_ne!(*rates, FlagRates::NONE);
            for n in [rates.fua_one_in, rates.preflush_one_in, rates.sync_one_in] {
                assert!(n <= ONE_IN_MAX, "{rates:?}");
            }
        }
        // Each flag is drawn on its own in some seeds and left off in others.
        for pick in [
            |r: &FlagRates| r.fua_one_in,
            |r: &FlagRates| r.preflush_one_in,
            |r: &FlagRates| r.sync_one_in,
        ] {
            assert!(drawn.iter().any(|r| pick(r) == 0));
            assert!(drawn.iter().any(|r| pick(r) != 0));
        }
    }
}
