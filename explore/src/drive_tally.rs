//! What one drive of the engine did, as the checker saw it: the drive loop's own report
//! (`DriveReport`: inputs fed, bios taken from the source, bios ended) must count the same
//! inputs and outputs the checker observed while it ran. The report's counts stop runs and
//! size phases; nothing else checks them.

use dmsim_engine::platform::DriveReport;

/// Inputs, bio inputs and ended bios the checker had seen at one moment (counts it keeps
/// anyway: its inputs, its IO counts' bios taken in, its bio statuses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriveTally {
    pub inputs: u64,
    pub bios_in: u64,
    pub bios_done: u64,
}

impl DriveTally {
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
