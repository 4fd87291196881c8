//! What a run reports while it runs, for the front end's progress display: the bios done
//! and, with an md raid5 array, the sync pass in progress. Display only: nothing here
//! reaches a result.

/// A progress report (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunProgress {
    pub bios_done: u64,
    /// The array's running resync or recovery: (sectors done, sectors of the pass) per
    /// member. A run ends only when the array is idle, so after the workload a pass may
    /// still run for a long (simulated) while; the display says so.
    pub array_sync: Option<(u64, u64)>,
}
