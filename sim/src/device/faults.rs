//! Faults a test, a scenario or the race explorer asks a simulated device to produce, as data.
//!
//! A device's faults are a list of [`DeviceFault`]s: rules acting on the IOs they match
//! ([`FaultRule`]), sectors unreadable from the start ([`DeviceFault::LatentErrors`]) and the
//! moment the drive is pulled ([`DeviceFault::Disappear`]). They serialise with serde, so a
//! scenario file or the explorer's seed file can hold them.
//!
//! A rule matches an IO by operation, range and submission time (its window), and only IOs
//! its action can apply to (silent corruption matches reads, a misdirected write matches
//! writes of workload data). From its `skip`-th match on, each match fires with probability
//! `rate_ppm` parts per million, until the rule has fired `count` times. The draws come from
//! the device's own fault stream (`streams::stream(seed, "faults.<device>")`), one per match
//! that could fire, so adding draws elsewhere changes nothing here, and a certain rule
//! (`rate_ppm` = 1 000 000, the count-based rules of old) draws nothing. The first rule that
//! fires decides the IO's fault; later rules still count the match.
//!
//! What the actions do is the device's business (`SimDevice`); this module only holds the
//! rules, checks them, and decides which fires.

use dmsim_engine::block::{Extent, IoStatus, Op};
use rand::Rng;
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

/// `rate_ppm` of a rule that fires on every match.
pub const CERTAIN_PPM: u32 = 1_000_000;

/// Where a misdirected write's data lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Landing {
    /// `sectors` away from the intended place (negative: before it), folded back into the
    /// device when that falls off either end, and aligned down to the logical block size.
    Shift { sectors: i64 },
    /// A seeded place anywhere on the device, aligned to the logical block size.
    Random,
}

/// What happens to an IO a rule fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// Complete at the model's time with this (error) status; a failed write changes nothing.
    /// Transient EIO on read or write is `Fail(IoError)`.
    Fail(IoStatus),
    /// Never complete unless cancelled.
    Hang,
    /// Complete this many ns after the model says (a cancel still works meanwhile).
    Delay { extra_ns: u64 },
    /// Ignore every cancel and complete normally (status Ok; a write lands) `extra_ns` after
    /// the model says.
    CompleteDespiteCancel {
        #[serde(default)]
        extra_ns: u64,
    },
    /// A latent sector error develops: one seeded logical block of the IO (inside the rule's
    /// range) becomes unreadable — every read overlapping it fails with EIO — until a write
    /// covers it. On a read, that read is the first to fail; on a write, the data lands and
    /// the block goes bad afterwards.
    LatentError,
    /// The read returns success, but one seeded logical block of it (inside the rule's range)
    /// is silently corrupted on the media: its sectors of workload data hold poison from now
    /// until they are rewritten, and this read already returns it. Engine metadata (sectors
    /// held as real bytes, or anything that is not a workload stamp) is never corrupted: an
    /// engine without checksums cannot notice corrupt metadata, and the wrong data it then
    /// serves under valid stamps is indistinguishable from an engine bug.
    SilentCorruption,
    /// The write reports success but its data lands elsewhere: the intended range holds
    /// poison (the write was lost there), and so does the landing range, except blocks of it
    /// that hold engine metadata (see `SilentCorruption`). Writes of engine metadata are never
    /// misdirected.
    MisdirectedWrite { landing: Landing },
}

impl FaultAction {
    /// True if the action can act on an IO of `op`; `workload_data`: the IO is a write whose
    /// payload is sector contents (workload data), not real bytes (engine metadata).
    pub fn applies_to(&self, op: Op, workload_data: bool) -> bool {
        match self {
            FaultAction::Fail(_)
            | FaultAction::Hang
            | FaultAction::Delay { .. }
            | FaultAction::CompleteDespiteCancel { .. } => true,
            FaultAction::LatentError => matches!(op, Op::Read | Op::Write),
            FaultAction::SilentCorruption => op == Op::Read,
            FaultAction::MisdirectedWrite { .. } => op == Op::Write && workload_data,
        }
    }

    /// True if the action puts poison on the device (the oracle must be told).
    pub fn produces_poison(&self) -> bool {
        matches!(
            self,
            FaultAction::SilentCorruption | FaultAction::MisdirectedWrite { .. }
        )
    }

    /// The operations this action can ever apply to (for checking a rule's `op`).
    fn possible_ops(&self) -> &'static [Op] {
        match self {
            FaultAction::LatentError => &[Op::Read, Op::Write],
            FaultAction::SilentCorruption => &[Op::Read],
            FaultAction::MisdirectedWrite { .. } => &[Op::Write],
            _ => &[Op::Read, Op::Write, Op::Flush, Op::Discard],
        }
    }
}

/// Submission times a rule is active in: `from_ns <= t < until_ns` (no end if `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    #[serde(default)]
    pub from_ns: u64,
    #[serde(default)]
    pub until_ns: Option<u64>,
}

impl TimeWindow {
    /// Every time.
    pub const ALWAYS: TimeWindow = TimeWindow {
        from_ns: 0,
        until_ns: None,
    };

    pub fn contains(&self, t_ns: u64) -> bool {
        t_ns >= self.from_ns && self.until_ns.is_none_or(|until| t_ns < until)
    }
}

fn unlimited() -> u64 {
    u64::MAX
}

fn certain() -> u32 {
    CERTAIN_PPM
}

/// A fault rule: which IOs it matches, how often it fires, and what it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Only IOs of this operation (None = any the action applies to).
    #[serde(default)]
    pub op: Option<Op>,
    /// Only IOs overlapping this device range (None = any).
    #[serde(default)]
    pub range: Option<Extent>,
    /// Only IOs submitted in this window.
    #[serde(default)]
    pub window: TimeWindow,
    /// Matching IOs to let pass before the rule may fire.
    #[serde(default)]
    pub skip: u64,
    /// Most times the rule fires (u64::MAX = no limit).
    #[serde(default = "unlimited")]
    pub count: u64,
    /// Chance, in parts per million, that a match after the skipped ones fires.
    #[serde(default = "certain")]
    pub rate_ppm: u32,
    pub action: FaultAction,
}

impl FaultRule {
    /// A rule firing on every IO the action applies to, from the start, without limit.
    pub fn always(action: FaultAction) -> Self {
        FaultRule {
            op: None,
            range: None,
            window: TimeWindow::ALWAYS,
            skip: 0,
            count: u64::MAX,
            rate_ppm: CERTAIN_PPM,
            action,
        }
    }

    /// A rule acting on the next matching IO only.
    pub fn once(op: Option<Op>, range: Option<Extent>, action: FaultAction) -> Self {
        FaultRule {
            op,
            range,
            ..FaultRule::always(action).at_most(1)
        }
    }

    /// Only IOs of `op`.
    pub fn on(mut self, op: Op) -> Self {
        self.op = Some(op);
        self
    }

    /// Only IOs overlapping `range`.
    pub fn within(mut self, range: Extent) -> Self {
        self.range = Some(range);
        self
    }

    /// Only IOs submitted in `window`.
    pub fn during(mut self, window: TimeWindow) -> Self {
        self.window = window;
        self
    }

    /// Let `skip` matching IOs pass first.
    pub fn after(mut self, skip: u64) -> Self {
        self.skip = skip;
        self
    }

    /// Fire at most `count` times.
    pub fn at_most(mut self, count: u64) -> Self {
        self.count = count;
        self
    }

    /// Fire on a match with probability `rate_ppm` / 1 000 000.
    pub fn at_rate_ppm(mut self, rate_ppm: u32) -> Self {
        self.rate_ppm = rate_ppm;
        self
    }

    /// True if the rule matches an IO (before skip, count and rate).
    fn matches(&self, io: &IoFacts) -> bool {
        self.op.is_none_or(|o| o == io.op)
            && self.range.is_none_or(|r| r.overlaps(&io.extent))
            && self.window.contains(io.now_ns)
            && self.action.applies_to(io.op, io.workload_data)
    }

    fn check(&self, capacity_sectors: u64) -> Result<(), FaultError> {
        if self.rate_ppm > CERTAIN_PPM {
            return Err(FaultError::RateAboveCertain {
                rate_ppm: self.rate_ppm,
            });
        }
        if let FaultAction::Fail(status) = self.action {
            if status.is_ok() {
                return Err(FaultError::FailWithOk);
            }
        }
        if let Some(op) = self.op {
            if !self.action.possible_ops().contains(&op) {
                return Err(FaultError::OpNeverApplies {
                    op,
                    action: self.action,
                });
            }
        }
        if let Some(range) = self.range {
            check_extent("range", range, capacity_sectors)?;
        }
        if self
            .window
            .until_ns
            .is_some_and(|until| until <= self.window.from_ns)
        {
            return Err(FaultError::EmptyWindow {
                from_ns: self.window.from_ns,
                until_ns: self.window.until_ns.unwrap_or_default(),
            });
        }
        Ok(())
    }
}

/// One fault of a device, as a scenario or the explorer writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeviceFault {
    /// A rule acting on the IOs it matches.
    Rule(FaultRule),
    /// These sectors are unreadable from the start (reads overlapping them fail with EIO)
    /// until a write covers them.
    LatentErrors { extent: Extent },
    /// The drive is pulled at `at_ns`: every IO in flight then completes with EIO at that
    /// instant, and every IO submitted from then on fails at once, for the rest of the run
    /// (crashes included).
    Disappear { at_ns: u64 },
}

impl DeviceFault {
    /// True if the fault puts poison on the device (the oracle must accept it).
    pub fn produces_poison(&self) -> bool {
        matches!(self, DeviceFault::Rule(rule) if rule.action.produces_poison())
    }

    /// Checks the fault against a device of `capacity_sectors`.
    pub fn check(&self, capacity_sectors: u64) -> Result<(), FaultError> {
        match self {
            DeviceFault::Rule(rule) => rule.check(capacity_sectors),
            DeviceFault::LatentErrors { extent } => {
                check_extent("extent", *extent, capacity_sectors)
            }
            DeviceFault::Disappear { .. } => Ok(()),
        }
    }
}

impl From<FaultRule> for DeviceFault {
    fn from(rule: FaultRule) -> Self {
        DeviceFault::Rule(rule)
    }
}

fn check_extent(field: &'static str, extent: Extent, capacity: u64) -> Result<(), FaultError> {
    if extent.sectors == 0 {
        return Err(FaultError::EmptyExtent { field });
    }
    if extent
        .sector
        .checked_add(extent.sectors)
        .is_none_or(|end| end > capacity)
    {
        return Err(FaultError::ExtentOutsideDevice {
            field,
            sector: extent.sector,
            sectors: extent.sectors,
            capacity,
        });
    }
    Ok(())
}

/// A fault that cannot be carried out (the field is named as in the serialised form).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    #[error("rate_ppm {rate_ppm} is above 1000000 (certain)")]
    RateAboveCertain { rate_ppm: u32 },
    #[error("action fail needs an error status, not ok")]
    FailWithOk,
    #[error("op {op:?}: action {action:?} never applies to such IOs")]
    OpNeverApplies { op: Op, action: FaultAction },
    #[error("window: until_ns {until_ns} is not after from_ns {from_ns}")]
    EmptyWindow { from_ns: u64, until_ns: u64 },
    #[error("{field}: empty extent")]
    EmptyExtent { field: &'static str },
    #[error("{field}: sectors {sector}..+{sectors} end beyond the device ({capacity} sectors)")]
    ExtentOutsideDevice {
        field: &'static str,
        sector: u64,
        sectors: u64,
        capacity: u64,
    },
}

/// What a rule needs to know of an IO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoFacts {
    pub op: Op,
    pub extent: Extent,
    /// Submission time.
    pub now_ns: u64,
    /// A write of sector contents (workload data) rather than real bytes (engine metadata).
    pub workload_data: bool,
}

/// A rule that fired on an IO: its action, and the range it was limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fired {
    pub action: FaultAction,
    pub range: Option<Extent>,
}

/// One rule with its counters.
#[derive(Debug, Clone)]
struct RuleState {
    rule: FaultRule,
    /// IOs matched so far.
    seen: u64,
    /// Times fired so far.
    fired: u64,
}

/// Fault rules of one device with their counters. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    rules: Vec<RuleState>,
}

impl FaultPlan {
    /// Adds a rule (checked by the caller, see [`DeviceFault::check`]).
    pub fn add(&mut self, rule: FaultRule) {
        self.rules.push(RuleState {
            rule,
            seen: 0,
            fired: 0,
        });
    }

    /// The fault for an IO, if a rule fires; counts matches and draws from `rng`.
    pub fn action_for(&mut self, io: &IoFacts, rng: &mut dyn RngCore) -> Option<Fired> {
        let mut chosen = None;
        for state in &mut self.rules {
            if !state.rule.matches(io) {
                continue;
            }
            let index = state.seen;
            state.seen += 1;
            if chosen.is_some() || index < state.rule.skip || state.fired >= state.rule.count {
                continue;
            }
            let fires = state.rule.rate_ppm >= CERTAIN_PPM
                || rng.random_ratio(state.rule.rate_ppm, CERTAIN_PPM);
            if fires {
                state.fired += 1;
                chosen = Some(Fired {
                    action: state.rule.action,
                    range: state.rule.range,
                });
            }
        }
        chosen
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Each rule with how many IOs it matched and how many times it fired, in order.
    pub fn rules(&self) -> impl Iterator<Item = (&FaultRule, u64, u64)> + '_ {
        self.rules.iter().map(|s| (&s.rule, s.seen, s.fired))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::stream;

    fn read_at(now_ns: u64, sector: u64) -> IoFacts {
        IoFacts {
            op: Op::Read,
            extent: Extent::new(sector, 8),
            now_ns,
            workload_data: false,
        }
    }

    #[test]
    fn count_based_rules_skip_then_fire_and_draw_nothing() {
        let mut plan = FaultPlan::default();
        plan.add(FaultRule::always(FaultAction::Hang).after(2).at_most(2));
        let mut rng = stream(1, "faults.test");
        let fired: Vec<bool> = (0..6)
            .map(|i| plan.action_for(&read_at(i, 0), &mut rng).is_some())
            .collect();
        assert_eq!(fired, [false, false, true, true, false, false]);
        let mut untouched = stream(1, "faults.test");
        assert_eq!(
            rng.next_u64(),
            untouched.next_u64(),
            "a certain rule draws nothing"
        );
    }

    #[test]
    fn a_rate_fires_about_that_often_and_the_same_seed_fires_the_same_ios() {
        let run = |seed| {
            let mut plan = FaultPlan::default();
            plan.add(FaultRule::always(FaultAction::Fail(IoStatus::IoError)).at_rate_ppm(100_000));
            let mut rng = stream(seed, "faults.test");
            (0..10_000)
                .filter(|&i| plan.action_for(&read_at(i, 0), &mut rng).is_some())
                .collect::<Vec<u64>>()
        };
        let fired = run(7);
        assert!((800..1_200).contains(&fired.len()), "{}", fired.len());
        assert_eq!(fired, run(7));
        assert_ne!(fired, run(8));
    }

    #[test]
    fn window_range_op_and_applicability_limit_the_matches() {
        let mut plan = FaultPlan::default();
        plan.add(
            FaultRule::always(FaultAction::SilentCorruption)
                .within(Extent::new(100, 8))
                .during(TimeWindow {
                    from_ns: 10,
                    until_ns: Some(20),
                }),
        );
        plan.add(FaultRule::always(FaultAction::MisdirectedWrite {
            landing: Landing::Random,
        }));
        let mut rng = stream(1, "faults.test");
        let mut fire = |io: IoFacts| plan.action_for(&io, &mut rng).map(|f| f.action);
        assert_eq!(fire(read_at(5, 100)), None, "before the window");
        assert_eq!(fire(read_at(20, 100)), None, "the window is half open");
        assert_eq!(fire(read_at(15, 50)), None, "outside the range");
        assert_eq!(fire(read_at(15, 104)), Some(FaultAction::SilentCorruption));
        let metadata_write = IoFacts {
            op: Op::Write,
            workload_data: false,
            ..read_at(15, 0)
        };
        assert_eq!(fire(metadata_write), None, "metadata is never misdirected");
        let data_write = IoFacts {
            workload_data: true,
            ..metadata_write
        };
        assert!(matches!(
            fire(data_write),
            Some(FaultAction::MisdirectedWrite { .. })
        ));
        assert_eq!(plan.rules().map(|(_, seen, _)| seen).sum::<u64>(), 2);
    }

    #[test]
    fn rules_serialise_with_defaults_and_bad_ones_name_their_field() {
        let json = r#"{"kind":"rule","op":"read","rate_ppm":5000,"action":"silent_corruption"}"#;
        let fault: DeviceFault = serde_json::from_str(json).expect("parses");
        assert_eq!(
            fault,
            DeviceFault::Rule(
                FaultRule::always(FaultAction::SilentCorruption)
                    .on(Op::Read)
                    .at_rate_ppm(5_000)
            )
        );
        assert!(fault.produces_poison());
        let back: DeviceFault =
            serde_json::from_str(&serde_json::to_string(&fault).unwrap()).unwrap();
        assert_eq!(back, fault);
        let pulled: DeviceFault =
            serde_json::from_str(r#"{"kind":"disappear","at_ns":5}"#).expect("parses");
        assert_eq!(pulled, DeviceFault::Disappear { at_ns: 5 });
        let typo = r#"{"kind":"rule","rate":5000,"action":"hang"}"#;
        let err = serde_json::from_str::<DeviceFault>(typo).unwrap_err();
        assert!(err.to_string().contains("rate"), "{err}");

        let bad = |fault: DeviceFault| fault.check(1024).unwrap_err().to_string();
        assert!(bad(FaultRule::always(FaultAction::Hang)
            .at_rate_ppm(2_000_000)
            .into())
        .starts_with("rate_ppm"));
        assert!(bad(FaultRule::always(FaultAction::SilentCorruption)
            .on(Op::Write)
            .into())
        .starts_with("op"));
        assert!(
            bad(FaultRule::always(FaultAction::Fail(IoStatus::Ok)).into()).contains("error status")
        );
        assert!(bad(DeviceFault::LatentErrors {
            extent: Extent::new(1020, 8)
        })
        .starts_with("extent"));
        assert!(bad(FaultRule::always(FaultAction::Hang)
            .during(TimeWindow {
                from_ns: 5,
                until_ns: Some(5)
            })
            .into())
        .starts_with("window"));
    }
}
