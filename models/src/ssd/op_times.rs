//! Where flash ops spend their time, by purpose: how long each waited from its creation (the
//! moment the controller knew it would be needed, as MQSim stamps a transaction) to its start
//! on the die, and how long it then held the die (array time, channel phases and any wait for
//! the channel in between). A diagnostic for comparing the scheduler with MQSim's per
//! transaction report (waiting, execution + transfer); it never changes timing.

use super::ops::OpPurpose;
use serde::Serialize;

/// Totals of one kind of op.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OpTimes {
    /// Ops that ended.
    pub count: u64,
    /// Sum over those ops of start − creation.
    pub wait_ns: u64,
    /// Sum over those ops of end − start.
    pub service_ns: u64,
}

impl OpTimes {
    /// Mean wait in µs (0 without ops).
    pub fn wait_us_mean(&self) -> f64 {
        mean_us(self.wait_ns, self.count)
    }

    /// Mean service time in µs (0 without ops).
    pub fn service_us_mean(&self) -> f64 {
        mean_us(self.service_ns, self.count)
    }

    fn add(&mut self, wait_ns: u64, service_ns: u64) {
        self.count += 1;
        self.wait_ns += wait_ns;
        self.service_ns += service_ns;
    }
}

fn mean_us(total_ns: u64, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        total_ns as f64 / count as f64 / 1000.0
    }
}

/// Op times by purpose, since construction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FlashOpTimes {
    pub host_reads: OpTimes,
    pub modify_reads: OpTimes,
    pub mapping_reads: OpTimes,
    pub gc_reads: OpTimes,
    pub host_programs: OpTimes,
    pub gc_programs: OpTimes,
    pub mapping_programs: OpTimes,
    pub erases: OpTimes,
}

impl FlashOpTimes {
    pub(crate) fn record(&mut self, purpose: OpPurpose, wait_ns: u64, service_ns: u64) {
        let times = match purpose {
            OpPurpose::HostRead => &mut self.host_reads,
            OpPurpose::ModifyRead => &mut self.modify_reads,
            OpPurpose::MappingRead => &mut self.mapping_reads,
            OpPurpose::GcRead => &mut self.gc_reads,
            OpPurpose::HostProgram => &mut self.host_programs,
            OpPurpose::GcProgram => &mut self.gc_programs,
            OpPurpose::MappingProgram => &mut self.mapping_programs,
            OpPurpose::GcErase => &mut self.erases,
        };
        times.add(wait_ns, service_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_by_purpose_and_averages() {
        let mut t = FlashOpTimes::default();
        t.record(OpPurpose::HostRead, 1_000, 75_000);
        t.record(OpPurpose::HostRead, 3_000, 77_000);
        t.record(OpPurpose::HostProgram, 10_000, 750_000);
        assert_eq!(t.host_reads.count, 2);
        assert_eq!(t.host_reads.wait_us_mean(), 2.0);
        assert_eq!(t.host_reads.service_us_mean(), 76.0);
        assert_eq!(t.host_programs.service_us_mean(), 750.0);
        assert_eq!(t.mapping_reads, OpTimes::default());
        assert_eq!(t.mapping_reads.wait_us_mean(), 0.0);
    }
}
