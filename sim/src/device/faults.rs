//! Faults a test or scenario asks a simulated device to produce.
//!
//! A rule matches device IOs by operation and range and, from its `skip`-th match on, acts on
//! up to `count` of them. Actions cover what the engine must survive: an error, an IO that
//! never completes, one that completes late, and one that completes although it was
//! cancelled (DESIGN.md invariant 4; specs/dm-io-kcopyd.md §5.2).

use dmsim_engine::block::{Extent, IoStatus, Op};
use serde::{Deserialize, Serialize};

/// What happens to a matching IO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// Complete at the model's time with this status; a failed write changes nothing.
    Fail(IoStatus),
    /// Never complete unless cancelled.
    Hang,
    /// Complete this many ns after the model says.
    Delay { extra_ns: u64 },
    /// Ignore a cancel: complete normally (status Ok) at the model's time.
    CompleteDespiteCancel,
}

/// A fault rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Only IOs of this operation (None = any).
    pub op: Option<Op>,
    /// Only IOs overlapping this range (None = any).
    pub range: Option<Extent>,
    /// Matching IOs to let pass before acting.
    pub skip: u64,
    /// Matching IOs to act on after the skipped ones (u64::MAX = all).
    pub count: u64,
    pub action: FaultAction,
}

impl FaultRule {
    /// A rule acting on the next matching IO only.
    pub fn once(op: Option<Op>, range: Option<Extent>, action: FaultAction) -> Self {
        FaultRule {
            op,
            range,
            skip: 0,
            count: 1,
            action,
        }
    }

    pub(crate) fn matches(&self, op: Op, extent: Extent) -> bool {
        self.op.is_none_or(|o| o == op) && self.range.is_none_or(|r| r.overlaps(&extent))
    }
}

/// Fault rules of one device with their match counters.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    rules: Vec<(FaultRule, u64)>,
}

impl FaultPlan {
    pub fn add(&mut self, rule: FaultRule) {
        self.rules.push((rule, 0));
    }

    /// The action for an IO (the first rule that matches and is active), counting matches.
    pub fn action_for(&mut self, op: Op, extent: Extent) -> Option<FaultAction> {
        let mut chosen = None;
        for (rule, seen) in &mut self.rules {
            if !rule.matches(op, extent) {
                continue;
            }
            let index = *seen;
            *seen += 1;
            if chosen.is_none() && index >= rule.skip && index - rule.skip < rule.count {
                chosen = Some(rule.action);
            }
        }
        chosen
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}
