//! Why a run produced no outcome, typed by whose move it is: the user's (fix the input),
//! the machine's (a real device), or ours (the run's own checks caught the engine: a
//! finding, to keep as a regression). Each kind displays as the message the CLI prints.
//!
//! Parsers of a single flag or field (`units`, `raid5_fail`) return a message instead: the
//! front end names the flag, and a run turns it into [`RunError::Input`].

/// See the module documentation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The spec, a trace line, a flag or a device description cannot run as given (or a
    /// run could never end); the message names the file, line and field, or the flag.
    #[error("{0}")]
    Input(String),
    /// A real device refused IO, failed, or could not be used as asked.
    #[error("{0}")]
    Platform(String),
    /// The data oracle refused a read: the engine returned data no write allows there.
    #[error("data verification failed: {0}")]
    DataVerification(String),
    /// The engine's invariants do not hold at the end of the run.
    #[error("the engine broke an invariant: {0}")]
    Invariant(String),
    /// The engine issued IO a simulated device refuses (outside the device, misaligned).
    #[error("the engine issued {count} IO(s) the simulated devices refuse; first: {first}")]
    DeviceViolation { count: usize, first: String },
    /// Requests waited and nothing could happen any more.
    #[error("the run deadlocked at {end_ns} ns; waiting:\n  {}", waiting.join("\n  "))]
    Deadlock { end_ns: u64, waiting: Vec<String> },
    /// The engine refused an input of the drive loop or lost its target.
    #[error("{0}")]
    Engine(String),
}

impl RunError {
    /// True when the run's own checks caught the engine (a bug to keep as a regression),
    /// false when the input or the platform is at fault.
    pub fn is_engine_bug(&self) -> bool {
        match self {
            RunError::Input(_) | RunError::Platform(_) => false,
            RunError::DataVerification(_)
            | RunError::Invariant(_)
            | RunError::DeviceViolation { .. }
            | RunError::Deadlock { .. }
            | RunError::Engine(_) => true,
        }
    }
}

/// The front end prints errors as messages.
impl From<RunError> for String {
    fn from(error: RunError) -> String {
        error.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_told_apart_from_bad_input_and_keep_their_messages() {
        let deadlock = RunError::Deadlock {
            end_ns: 5,
            waiting: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            String::from(deadlock.clone()),
            "the run deadlocked at 5 ns; waiting:\n  a\n  b"
        );
        assert!(deadlock.is_engine_bug());
        let violation = RunError::DeviceViolation {
            count: 2,
            first: "x".into(),
        };
        assert_eq!(
            violation.to_string(),
            "the engine issued 2 IO(s) the simulated devices refuse; first: x"
        );
        assert!(violation.is_engine_bug());
        assert!(RunError::DataVerification("r".into())
            .to_string()
            .starts_with("data verification failed: r"));
        assert!(!RunError::Input("bad".into()).is_engine_bug());
        assert!(!RunError::Platform("eio".into()).is_engine_bug());
    }
}
