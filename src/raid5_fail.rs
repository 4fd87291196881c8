//! Failing members of an `--hdd-raid5` array during a run (issue 10, degraded mode), as
//! `mdadm --fail` would: `--raid5-fail MEMBER@WHEN` (repeatable) or the setting `raid5.fail`
//! (`--set raid5.fail=1@2s`, a scenario's `set` or a compare grid axis), a comma-separated
//! list. WHEN is a virtual time (`2s`, `500ms`) or a request count (`3000io`: right after
//! the 3000th request of the workload was issued, so IO is in flight when the member goes).
//!
//! [`FailSchedule`] cuts the drive loop at those points and sends the array `fail N`; what
//! happened is recorded in the run's `config.raid5.fail`.

use crate::units::parse_duration_ns;
use dmsim_engine::io::{Control, Input};
use dmsim_engine::{
    drive, BioSource, DeviceId, DriveError, DriveObserver, DriveOptions, DriveOutcome, DriveReport,
    Engine, Platform, TargetStatus,
};
use serde::Serialize;

/// When a member fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailWhen {
    /// At this virtual time.
    AtNs(u64),
    /// Right after this many requests were issued.
    AfterRequests(u64),
}

/// One `MEMBER@WHEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFail {
    pub member: usize,
    pub when: FailWhen,
    /// The text as given, for messages and the report.
    pub text: String,
}

/// Parses a comma-separated list of `MEMBER@WHEN` (empty: none). `what` names the flag or
/// setting in errors.
pub fn parse_fails(text: &str, what: &str) -> Result<Vec<MemberFail>, String> {
    let mut fails = Vec::new();
    for item in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let bad = |why: String| {
            format!(
                "{what} {item}: {why}; expected MEMBER@WHEN, WHEN a virtual time (2s, 500ms) \
                 or a request count (3000io), e.g. 1@2s"
            )
        };
        let (member, when) = item
            .split_once('@')
            .ok_or_else(|| bad("no '@'".to_string()))?;
        let member: usize = member
            .trim()
            .parse()
            .map_err(|_| bad(format!("member '{member}' is not a number")))?;
        let when = when.trim();
        let when = match when.strip_suffix("ios").or_else(|| when.strip_suffix("io")) {
            Some(count) => FailWhen::AfterRequests(
                count
                    .parse()
                    .map_err(|_| bad(format!("'{when}' is not a request count")))?,
            ),
            None => FailWhen::AtNs(parse_duration_ns(when).map_err(bad)?),
        };
        fails.push(MemberFail {
            member,
            when,
            text: item.to_string(),
        });
    }
    Ok(fails)
}

/// The `--raid5-fail` flags (each a list) for an array of `members`.
pub fn parse_flags(flags: &[String], members: usize) -> Result<Vec<MemberFail>, String> {
    let mut fails = Vec::new();
    for text in flags {
        fails.extend(parse_fails(text, "--raid5-fail")?);
    }
    check_members(&fails, members, "--raid5-fail")?;
    Ok(fails)
}

/// Refuses a member the array does not have.
pub fn check_members(fails: &[MemberFail], members: usize, what: &str) -> Result<(), String> {
    match fails.iter().find(|f| f.member >= members) {
        Some(fail) => Err(format!(
            "{what} {}: the array has members 0..={}",
            fail.text,
            members - 1
        )),
        None => Ok(()),
    }
}

/// A failure that happened.
#[derive(Debug, Clone, Serialize)]
struct Happened {
    member: usize,
    when: String,
    at_ns: u64,
    after_requests: u64,
}

/// The failures still to come in a run and those done; see the module documentation.
#[derive(Debug)]
pub struct FailSchedule {
    /// The array as the engine names it (the stacked device).
    array: DeviceId,
    pending: Vec<MemberFail>,
    happened: Vec<Happened>,
    requests: u64,
    /// Failures due before the first request were applied.
    started: bool,
}

impl FailSchedule {
    pub fn new(array: DeviceId, fails: &[MemberFail]) -> FailSchedule {
        FailSchedule {
            array,
            pending: fails.to_vec(),
            happened: Vec::new(),
            requests: 0,
            started: false,
        }
    }

    /// The options of the next drive slice, which must end at `limit_ns` at the latest:
    /// earlier at a pending failure's time; one input at a time while a request-count
    /// failure is pending (so it lands right after its request).
    pub fn slice_options(&self, limit_ns: Option<u64>) -> DriveOptions {
        let time = self
            .pending
            .iter()
            .filter_map(|f| match f.when {
                FailWhen::AtNs(at) => Some(at),
                FailWhen::AfterRequests(_) => None,
            })
            .min();
        let counting = self
            .pending
            .iter()
            .any(|f| matches!(f.when, FailWhen::AfterRequests(_)));
        DriveOptions {
            time_limit_ns: [time, limit_ns].into_iter().flatten().min(),
            input_limit: counting.then_some(1),
            ..DriveOptions::default()
        }
    }

    /// After a slice that issued `requests` and ended at `now_ns` (or before the first, with
    /// 0): fails every member whose time or request count has come.
    pub fn after_slice(
        &mut self,
        engine: &mut Engine,
        now_ns: u64,
        requests: u64,
    ) -> Result<(), DriveError> {
        self.requests += requests;
        let requests = self.requests;
        let (due, pending): (Vec<MemberFail>, Vec<MemberFail>) =
            self.pending.drain(..).partition(|f| match f.when {
                FailWhen::AtNs(at) => at <= now_ns,
                FailWhen::AfterRequests(count) => count <= requests,
            });
        self.pending = pending;
        for fail in due {
            engine
                .handle(
                    now_ns,
                    Input::Control(Control::StackedMessage {
                        device: self.array,
                        message: format!("fail {}", fail.member),
                    }),
                )
                .map_err(|error| DriveError::Input { now_ns, error })?;
            self.happened.push(Happened {
                member: fail.member,
                when: fail.text,
                at_ns: now_ns,
                after_requests: requests,
            });
        }
        Ok(())
    }

    /// Drives the run until `time_limit_ns`, its end or a stall, failing members on the
    /// way (one `drive` call when nothing is planned); the report sums the calls.
    pub fn drive<P: Platform, S: BioSource, O: DriveObserver>(
        &mut self,
        engine: &mut Engine,
        platform: &mut P,
        source: &mut S,
        observer: &mut O,
        time_limit_ns: Option<u64>,
    ) -> Result<DriveReport, DriveError> {
        if !self.started {
            self.started = true;
            self.after_slice(engine, platform.now_ns(), 0)?;
        }
        let mut total: Option<DriveReport> = None;
        loop {
            let options = self.slice_options(time_limit_ns);
            let report = drive(engine, platform, source, observer, &options)?;
            self.after_slice(engine, platform.now_ns(), report.bios_submitted)?;
            let cut_short = match report.outcome {
                DriveOutcome::InputLimit => true,
                DriveOutcome::TimeLimit => time_limit_ns.is_none_or(|limit| report.end_ns < limit),
                DriveOutcome::Finished | DriveOutcome::Stalled { .. } => false,
            };
            let sum = match total {
                None => report,
                Some(sum) => DriveReport {
                    inputs: sum.inputs + report.inputs,
                    bios_submitted: sum.bios_submitted + report.bios_submitted,
                    bios_done: sum.bios_done + report.bios_done,
                    ..report
                },
            };
            if !cut_short {
                return Ok(sum);
            }
            total = Some(sum);
        }
    }

    /// True if nothing is planned (the run drives as without a schedule).
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.happened.is_empty()
    }

    /// The array's end for `config.raid5`: `state` (running, degraded, failed), `mdstat`
    /// (md's `[4/3] [U_UU]`), and when failures were planned `fail` (those that happened:
    /// member, WHEN as given, time and requests issued then) and `fail_missed` (those the
    /// run ended before).
    pub fn end_status(&self, status: &TargetStatus) -> serde_json::Value {
        let mut end = serde_json::json!({ "state": status.state });
        if let Some(map) = status
            .text
            .lines()
            .nth(1)
            .and_then(|line| line.find(" [").map(|at| line[at..].trim()))
        {
            end["mdstat"] = map.into();
        }
        if self.is_empty() {
            return end;
        }
        end["fail"] = serde_json::to_value(&self.happened).expect("plain data");
        if !self.pending.is_empty() {
            end["fail_missed"] = self
                .pending
                .iter()
                .map(|f| f.text.clone())
                .collect::<Vec<_>>()
                .into();
        }
        end
    }

    /// A note for each failure the run ended before.
    pub fn missed_notes(&self, end_ns: u64) -> Vec<String> {
        self.pending
            .iter()
            .map(|f| {
                format!(
                    "raid5 fail {} never happened: the run ended at {:.3} s after {} requests",
                    f.text,
                    end_ns as f64 / 1e9,
                    self.requests
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_counts_parse_and_bad_ones_name_the_setting() {
        let fails = parse_fails("1@2s, 3@500ms,0@3000io,2@7ios", "--raid5-fail").unwrap();
        let whens: Vec<_> = fails.iter().map(|f| (f.member, f.when)).collect();
        assert_eq!(
            whens,
            [
                (1, FailWhen::AtNs(2_000_000_000)),
                (3, FailWhen::AtNs(500_000_000)),
                (0, FailWhen::AfterRequests(3000)),
                (2, FailWhen::AfterRequests(7)),
            ]
        );
        assert!(parse_fails("", "x").unwrap().is_empty());
        for bad in ["1", "a@2s", "1@2q", "1@xio"] {
            let e = parse_fails(bad, "--raid5-fail").unwrap_err();
            assert!(
                e.contains("--raid5-fail") && e.contains("MEMBER@WHEN"),
                "{e}"
            );
        }
        let e = check_members(&fails, 3, "--raid5-fail").unwrap_err();
        assert!(e.contains("3@500ms") && e.contains("0..=2"), "{e}");
    }
}
