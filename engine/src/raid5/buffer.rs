//! One member's page in a stripe head (md's `r5dev` flags) and the one checked transition
//! function every change of it goes through.
//!
//! UPTODATE × LOCKED give md's four buffer states: empty (neither), want (locked, not up to
//! date: a read in flight), clean (up to date, not locked: matches the member) and dirty (both:
//! new data or parity, being written). Wantread / Wantwrite say an IO is decided but not yet
//! submitted; ReadError and ReWrite track the repair of a failed read. An illegal transition
//! is a bug of the state machine, never an input error, so it panics naming both sides.
//! Does not own the bio lists queued on the page (see `stripe`).

/// The four states of UPTODATE × LOCKED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BufferPhase {
    Empty,
    Want,
    Clean,
    Dirty,
}

/// A member page's flags; change them only with [`MemberBuffer::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemberBuffer {
    uptodate: bool,
    locked: bool,
    want_read: bool,
    want_write: bool,
    read_error: bool,
    rewrite: bool,
}

/// Everything that may happen to a member page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferTransition {
    /// handle_stripe decides to read the page: empty → want, Wantread.
    StartRead,
    /// The decided IO (read or write) is submitted: Wantread/Wantwrite cleared.
    Submit,
    /// The read completed: want → clean.
    ReadDone,
    /// The read failed: want → empty with ReadError.
    ReadFailed,
    /// The page was computed from the other members (parity XOR): empty → clean.
    Computed,
    /// New data was copied in, or parity was computed into the page: clean or empty (a
    /// fully overwritten or parity page, maybe one whose read failed) → dirty, Wantwrite.
    Fill,
    /// A computed page replacing a failed read is written back: clean with ReadError →
    /// dirty, Wantwrite, ReWrite.
    StartRewrite,
    /// The write completed (the member accepted it): dirty → clean; a rewrite's ReadError
    /// and ReWrite are cleared (md re-reads to confirm; the rewrite is trusted here).
    WriteDone,
    /// The write failed: dirty → clean; the member is failed by the caller, so the page
    /// stays up to date as the only copy of the data.
    WriteFailed,
    /// The page no longer holds anything (stripe reuse, or a failed member's stale page):
    /// empty or clean → empty.
    Invalidate,
}

impl MemberBuffer {
    /// md's buffer state.
    pub fn phase(self) -> BufferPhase {
        match (self.uptodate, self.locked) {
            (false, false) => BufferPhase::Empty,
            (false, true) => BufferPhase::Want,
            (true, false) => BufferPhase::Clean,
            (true, true) => BufferPhase::Dirty,
        }
    }
    pub fn is_uptodate(self) -> bool {
        self.uptodate
    }
    pub fn is_locked(self) -> bool {
        self.locked
    }
    pub fn wants_read(self) -> bool {
        self.want_read
    }
    pub fn wants_write(self) -> bool {
        self.want_write
    }
    pub fn has_read_error(self) -> bool {
        self.read_error
    }
    pub fn is_rewrite(self) -> bool {
        self.rewrite
    }

    /// The one place a member page changes state. Panics on a transition not allowed from
    /// this state (a bug of the state machine).
    #[track_caller]
    pub fn apply(self, transition: BufferTransition) -> MemberBuffer {
        use BufferPhase::*;
        use BufferTransition::*;
        let phase = self.phase();
        let legal = match transition {
            StartRead => phase == Empty && !self.want_write,
            Submit => phase == Want && self.want_read || phase == Dirty && self.want_write,
            ReadDone | ReadFailed => phase == Want && !self.want_read,
            Computed => phase == Empty,
            // A page whose read failed may be filled too: the new data (or parity) is written
            // over the bad sectors, which repairs them as a rewrite would (WriteDone clears
            // ReadError).
            Fill => phase == Clean || phase == Empty,
            StartRewrite => phase == Clean && self.read_error,
            WriteDone | WriteFailed => phase == Dirty && !self.want_write,
            Invalidate => phase == Empty || phase == Clean,
        };
        assert!(
            legal,
            "member buffer transition {transition:?} is illegal from {phase:?} ({self:?})"
        );
        let mut next = self;
        match transition {
            StartRead => {
                next.locked = true;
                next.want_read = true;
            }
            Submit => {
                next.want_read = false;
                next.want_write = false;
            }
            ReadDone => {
                next.locked = false;
                next.uptodate = true;
            }
            ReadFailed => {
                next.locked = false;
                next.read_error = true;
            }
            Computed => next.uptodate = true,
            Fill => {
                next.uptodate = true;
                next.locked = true;
                next.want_write = true;
            }
            StartRewrite => {
                next.locked = true;
                next.want_write = true;
                next.rewrite = true;
            }
            WriteDone | WriteFailed => {
                next.locked = false;
                next.read_error = false;
                next.rewrite = false;
            }
            Invalidate => next = MemberBuffer::default(),
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::BufferPhase::*;
    use super::BufferTransition::*;
    use super::*;

    fn run(steps: &[BufferTransition]) -> MemberBuffer {
        steps
            .iter()
            .fold(MemberBuffer::default(), |buffer, &t| buffer.apply(t))
    }

    #[test]
    fn read_then_write_walks_the_four_phases() {
        let mut buffer = MemberBuffer::default();
        assert_eq!(buffer.phase(), Empty);
        buffer = buffer.apply(StartRead);
        assert_eq!(buffer.phase(), Want);
        assert!(buffer.wants_read());
        buffer = buffer.apply(Submit).apply(ReadDone);
        assert_eq!(buffer.phase(), Clean);
        buffer = buffer.apply(Fill);
        assert_eq!(buffer.phase(), Dirty);
        assert!(buffer.wants_write());
        buffer = buffer.apply(Submit).apply(WriteDone);
        assert_eq!(buffer.phase(), Clean);
        assert_eq!(buffer.apply(Invalidate), MemberBuffer::default());
    }

    #[test]
    fn a_failed_read_is_computed_and_rewritten() {
        let buffer = run(&[StartRead, Submit, ReadFailed]);
        assert_eq!(buffer.phase(), Empty);
        assert!(buffer.has_read_error());
        let buffer = buffer.apply(Computed).apply(StartRewrite);
        assert!(buffer.is_rewrite() && buffer.phase() == Dirty);
        let buffer = buffer.apply(Submit).apply(WriteDone);
        assert!(!buffer.has_read_error() && !buffer.is_rewrite());
        assert_eq!(buffer.phase(), Clean);
    }

    #[test]
    #[should_panic(expected = "Fill is illegal from Want")]
    fn filling_a_page_being_read_panics() {
        run(&[StartRead, Fill]);
    }

    #[test]
    #[should_panic(expected = "Invalidate is illegal from Dirty")]
    fn invalidating_a_page_being_written_panics() {
        run(&[Fill, Invalidate]);
    }

    #[test]
    #[should_panic(expected = "ReadDone is illegal from Want")]
    fn completing_an_unsubmitted_read_panics() {
        run(&[StartRead, ReadDone]);
    }
}
