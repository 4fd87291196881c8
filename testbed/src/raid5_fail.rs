//! Failing members of an `--hdd-raid5` array during a run (issue 10, degraded mode), as
//! `mdadm --fail` would: `--raid5-fail MEMBER@WHEN` (repeatable) or the setting `raid5.fail`
//! (`--set raid5.fail=1@2s`, a scenario's `set` or a compare grid axis), a comma-separated
//! list. WHEN is a virtual time (`2s`, `500ms`) or a request count (`3000io`: right after
//! the 3000th request of the workload was issued, so IO is in flight when the member goes).
//!
//! A spare is added the same way: `--raid5-spare WHEN` (repeatable) or `raid5.spare`, a list
//! of WHEN: one more simulated device of the members' preset, reserved for the array, is
//! added (`mdadm --add`) at that point; it replaces a failed member and is rebuilt under md's
//! speed limits, or waits as a hot spare for the next failure.
//!
//! [`FailSchedule`] cuts the drive loop at those points and sends the array `fail N` or
//! `add`; what happened is recorded in the run's `config.raid5.fail` and `config.raid5.spare`.
//!
//! A failed array (two members lost) fails every request at once, as md does: a closed loop
//! bounded by time only then issues requests forever at one virtual instant. With the guard
//! armed ([`FailSchedule::with_spin_guard`]) the schedule stops such a run after
//! [`INSTANT_REQUESTS_MAX`] requests at one instant, with an error that says why.

use crate::run_error::RunError;
use crate::units::parse_duration_ns;
use dmsim_engine::io::{Control, Input};
use dmsim_engine::{
    drive, BioSource, DeviceId, DriveError, DriveObserver, DriveOptions, DriveOutcome, DriveReport,
    Engine, Platform, TargetStatus,
};
use serde::{Deserialize, Serialize};

/// Requests a failed array may take at one virtual instant before the run is stopped as
/// spinning (a closed loop keeps at most its queue depth in flight at one instant).
pub const INSTANT_REQUESTS_MAX: u64 = 10_000;

/// When a member fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FailWhen {
    /// At this virtual time.
    AtNs(u64),
    /// Right after this many requests were issued.
    AfterRequests(u64),
}

/// What happens to the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ArrayChange {
    /// Member N fails (mdadm --fail).
    Fail(usize),
    /// The next reserved spare is added (mdadm --add).
    AddSpare,
}

/// One `MEMBER@WHEN` or spare `WHEN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrayEvent {
    pub change: ArrayChange,
    pub when: FailWhen,
    /// The text as given, for messages and the report.
    pub text: String,
}

/// Parses WHEN: a virtual time (`2s`) or a request count (`3000io`).
fn parse_when(when: &str) -> Result<FailWhen, String> {
    let when = when.trim();
    match when.strip_suffix("ios").or_else(|| when.strip_suffix("io")) {
        Some(count) => count
            .parse()
            .map(FailWhen::AfterRequests)
            .map_err(|_| format!("'{when}' is not a request count")),
        None => parse_duration_ns(when).map(FailWhen::AtNs),
    }
}

/// Parses a comma-separated list of WHEN for spares (empty: none).
pub fn parse_spares(text: &str, what: &str) -> Result<Vec<ArrayEvent>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|item| {
            let when = parse_when(item).map_err(|why| {
                format!(
                    "{what} {item}: {why}; expected WHEN, a virtual time (2s, 500ms) or a \
                     request count (3000io), e.g. 3s"
                )
            })?;
            Ok(ArrayEvent {
                change: ArrayChange::AddSpare,
                when,
                text: item.to_string(),
            })
        })
        .collect()
}

/// How many spares `events` add.
pub fn spare_count(events: &[ArrayEvent]) -> usize {
    events
        .iter()
        .filter(|e| e.change == ArrayChange::AddSpare)
        .count()
}

/// Parses a comma-separated list of `MEMBER@WHEN` (empty: none). `what` names the flag or
/// setting in errors.
pub fn parse_fails(text: &str, what: &str) -> Result<Vec<ArrayEvent>, String> {
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
        let when = parse_when(when).map_err(bad)?;
        fails.push(ArrayEvent {
            change: ArrayChange::Fail(member),
            when,
            text: item.to_string(),
        });
    }
    Ok(fails)
}

/// The `--raid5-fail` and `--raid5-spare` flags (each a list) for an array of `members`.
pub fn parse_flags(
    fail_flags: &[String],
    spare_flags: &[String],
    members: usize,
) -> Result<Vec<ArrayEvent>, String> {
    let mut events = Vec::new();
    for text in fail_flags {
        events.extend(parse_fails(text, "--raid5-fail")?);
    }
    check_members(&events, members, "--raid5-fail")?;
    for text in spare_flags {
        events.extend(parse_spares(text, "--raid5-spare")?);
    }
    Ok(events)
}

/// Refuses a member the array does not have.
pub fn check_members(fails: &[ArrayEvent], members: usize, what: &str) -> Result<(), String> {
    match fails
        .iter()
        .find(|f| matches!(f.change, ArrayChange::Fail(m) if m >= members))
    {
        Some(fail) => Err(format!(
            "{what} {}: the array has members 0..={}",
            fail.text,
            members - 1
        )),
        None => Ok(()),
    }
}

/// A failure (or spare) that happened.
#[derive(Debug, Clone, Serialize)]
struct Happened {
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<usize>,
    when: String,
    at_ns: u64,
    after_requests: u64,
}

/// The failures still to come in a run and those done; see the module documentation.
#[derive(Debug)]
pub struct FailSchedule {
    /// The array as the engine names it (the stacked device).
    array: DeviceId,
    pending: Vec<ArrayEvent>,
    happened: Vec<Happened>,
    requests: u64,
    /// Failures due before the first request were applied.
    started: bool,
    /// Stop a spin at one instant (the workload is bounded by time only: it would spin
    /// forever over a failed array).
    spin_guard: bool,
    /// The array failed (its status says so after an event).
    array_failed: bool,
    /// The virtual time of the last slice's end and the requests issued at it since.
    instant_ns: u64,
    requests_at_instant: u64,
}

impl FailSchedule {
    pub fn new(array: DeviceId, fails: &[ArrayEvent]) -> FailSchedule {
        FailSchedule {
            array,
            pending: fails.to_vec(),
            happened: Vec::new(),
            requests: 0,
            started: false,
            spin_guard: false,
            array_failed: false,
            instant_ns: 0,
            requests_at_instant: 0,
        }
    }

    /// Arms the guard against a spin at one instant: for a workload bounded by time only.
    #[must_use]
    pub fn with_spin_guard(mut self, armed: bool) -> FailSchedule {
        self.spin_guard = armed;
        self
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
        // A failed array's slices end often enough to see a spin at one instant.
        let guard = (self.spin_guard && self.array_failed).then_some(INSTANT_REQUESTS_MAX);
        DriveOptions {
            time_limit_ns: [time, limit_ns].into_iter().flatten().min(),
            input_limit: [counting.then_some(1), guard].into_iter().flatten().min(),
            ..DriveOptions::default()
        }
    }

    /// After a slice that issued `requests` and ended at `now_ns` (or before the first, with
    /// 0): fails every member whose time or request count has come. Errs (a full message) if
    /// the engine refuses an event, or if a failed array took [`INSTANT_REQUESTS_MAX`]
    /// requests without virtual time passing.
    pub fn after_slice(
        &mut self,
        engine: &mut Engine,
        now_ns: u64,
        requests: u64,
    ) -> Result<(), RunError> {
        if now_ns == self.instant_ns {
            self.requests_at_instant += requests;
        } else {
            self.instant_ns = now_ns;
            self.requests_at_instant = requests;
        }
        if self.spin_guard && self.array_failed && self.requests_at_instant >= INSTANT_REQUESTS_MAX
        {
            return Err(RunError::Input(format!(
                "the raid5 array has failed (two or more members lost) and fails every request at \
                 once: {} requests failed at {:.3} s without virtual time passing, so the \
                 workload would never reach its end; the run stops here (bound it with \
                 --requests to measure a failed array)",
                self.requests_at_instant,
                now_ns as f64 / 1e9
            )));
        }
        self.requests += requests;
        let requests = self.requests;
        let (due, pending): (Vec<ArrayEvent>, Vec<ArrayEvent>) =
            self.pending.drain(..).partition(|f| match f.when {
                FailWhen::AtNs(at) => at <= now_ns,
                FailWhen::AfterRequests(count) => count <= requests,
            });
        self.pending = pending;
        for fail in due {
            let (message, member) = match fail.change {
                ArrayChange::Fail(member) => (format!("fail {member}"), Some(member)),
                ArrayChange::AddSpare => ("add".to_string(), None),
            };
            engine
                .handle(
                    now_ns,
                    Input::Control(Control::StackedMessage {
                        device: self.array,
                        message,
                    }),
                )
                .map_err(|error| {
                    RunError::Engine(format!(
                        "the engine failed: {}",
                        DriveError::Input { now_ns, error }
                    ))
                })?;
            self.happened.push(Happened {
                member,
                when: fail.text,
                at_ns: now_ns,
                after_requests: requests,
            });
            self.array_failed = engine
                .stacked_status()
                .iter()
                .any(|(device, status)| *device == self.array && status.state == "failed");
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
    ) -> Result<DriveReport, RunError> {
        if !self.started {
            self.started = true;
            self.after_slice(engine, platform.now_ns(), 0)?;
        }
        let mut total: Option<DriveReport> = None;
        loop {
            let options = self.slice_options(time_limit_ns);
            let report = drive(engine, platform, source, observer, &options)
                .map_err(|e| RunError::Engine(format!("the engine failed: {e}")))?;
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
        let (spares, fails): (Vec<&Happened>, Vec<&Happened>) =
            self.happened.iter().partition(|h| h.member.is_none());
        end["fail"] = serde_json::to_value(&fails).expect("plain data");
        if !spares.is_empty() {
            end["spare"] = serde_json::to_value(&spares).expect("plain data");
        }
        let missed = |spare: bool| -> Vec<String> {
            self.pending
                .iter()
                .filter(|f| (f.change == ArrayChange::AddSpare) == spare)
                .map(|f| f.text.clone())
                .collect()
        };
        if !missed(false).is_empty() {
            end["fail_missed"] = missed(false).into();
        }
        if !missed(true).is_empty() {
            end["spare_missed"] = missed(true).into();
        }
        end
    }

    /// A note for each failure the run ended before.
    pub fn missed_notes(&self, end_ns: u64) -> Vec<String> {
        self.pending
            .iter()
            .map(|f| {
                format!(
                    "raid5 {} {} never happened: the run ended at {:.3} s after {} requests",
                    match f.change {
                        ArrayChange::Fail(_) => "fail",
                        ArrayChange::AddSpare => "spare",
                    },
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
        let whens: Vec<_> = fails.iter().map(|f| (f.change, f.when)).collect();
        assert_eq!(
            whens,
            [
                (ArrayChange::Fail(1), FailWhen::AtNs(2_000_000_000)),
                (ArrayChange::Fail(3), FailWhen::AtNs(500_000_000)),
                (ArrayChange::Fail(0), FailWhen::AfterRequests(3000)),
                (ArrayChange::Fail(2), FailWhen::AfterRequests(7)),
            ]
        );
        let spares = parse_spares("3s, 100io", "--raid5-spare").unwrap();
        assert_eq!(spare_count(&spares), 2);
        assert_eq!(spares[1].when, FailWhen::AfterRequests(100));
        let e = parse_spares("1@3s", "--raid5-spare").unwrap_err();
        assert!(
            e.contains("--raid5-spare 1@3s") && e.contains("WHEN"),
            "{e}"
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
