//! Flash operations as the FTL emits them and the die scheduler executes them. The FTL decides
//! *what* happens on which die (a GC copy, an erase); `flash.rs` decides *when*.

use super::table::NONE;

/// What the die does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Read,
    Program,
    Erase,
}

/// Why the op exists: decides its scheduling class and which counter it feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpPurpose {
    /// Host data read (foreground).
    HostRead,
    /// Read of old data for a sub-unit write (foreground).
    ModifyRead,
    /// Fetch of mapping entries after a mapping-cache miss (foreground).
    MappingRead,
    /// Program of host data, written through or flushed from the write buffer.
    HostProgram,
    /// Write-back of a translation page after a dirty mapping-cache eviction (background).
    MappingProgram,
    /// GC: read the valid units of a victim page (background).
    GcRead,
    /// GC: program a page of moved units (background).
    GcProgram,
    /// GC: erase the emptied victim (background).
    GcErase,
}

impl OpPurpose {
    /// Foreground ops are host reads a request is waiting on; the die serves them before
    /// programs, erases and GC.
    pub fn is_foreground_read(self) -> bool {
        matches!(
            self,
            OpPurpose::HostRead | OpPurpose::ModifyRead | OpPurpose::MappingRead
        )
    }
}

/// One operation to run on one die.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpSpec {
    pub die: u32,
    pub kind: OpKind,
    /// Bytes crossing the channel (data out of a read, data into a program).
    pub bytes: u32,
    /// Physical page read or programmed (a program's "data only in controller DRAM" mark
    /// clears when it ends); `NONE` when the op does not name one (mapping fetches and
    /// write-backs, erases).
    pub page: u32,
    pub purpose: OpPurpose,
}

impl OpSpec {
    pub fn new(die: u32, kind: OpKind, bytes: u32, purpose: OpPurpose) -> OpSpec {
        OpSpec {
            die,
            kind,
            bytes,
            page: NONE,
            purpose,
        }
    }
}
