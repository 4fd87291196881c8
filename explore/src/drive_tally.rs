//! What one drive of the engine did, as the checker saw it: the drive loop's own report
//! (`DriveReport`: inputs fed, bios taken from the source, bios ended) must count the same
//! inputs and outputs the checker observed while it ran. The report's counts stop runs and
//! size phases; nothing else checks them.

use dmsim_engine::io::{Input, Output};
use dmsim_engine::platform::DriveReport;

/// Inputs, bio inputs and ended bios the checker saw, since its engine began.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriveTally {
    inputs: u64,
    bios_in: u64,
    bios_done: u64,
}

impl DriveTally {
    pub fn on_input(&mut self, input: &Input) {
        self.inputs += 1;
        self.bios_in += u64::from(matches!(input, Input::Bio(_)));
    }

    pub fn on_output(&mut self, output: &Output) {
        self.bios_done += u64::from(matches!(output, Output::BioDone(_)));
    }

    /// `report`, of a drive that began when the tally stood at `since`, against what the
    /// checker saw during it.
    pub fn check(&self, since: &DriveTally, report: &DriveReport) -> Result<(), String> {
        let seen = (
            self.inputs - since.inputs,
            self.bios_in - since.bios_in,
            self.bios_done - since.bios_done,
        );
        let reported = (report.inputs, report.bios_submitted, report.bios_done);
        if seen == reported {
            Ok(())
        } else {
            Err(format!(
                "the drive reported (inputs, bios submitted, bios done) {reported:?}, the \
                 checker saw {seen:?}"
            ))
        }
    }
}
