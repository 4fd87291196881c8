//! Lending the arena's memory to an asynchronous IO backend (io_uring), soundly.
//!
//! A kernel doing asynchronous IO into the arena may write into its memory until the IO
//! completes, whatever Rust code does meanwhile. The arena therefore never frees memory it
//! has lent: [`Arena::lend`] hands out a [`MemoryLoan`], and an arena dropped while any loan
//! is out leaks its memory instead of freeing it (a bounded leak, never a kernel write into
//! freed memory). The backend gives the loan back with [`Arena::end_loan`] once it has
//! waited for every completion; only the holder of the loan can end it, and a loan cannot
//! be copied or made up.
//!
//! Deliberately not here: waiting for completions (the backend's duty before it ends the
//! loan).

use super::Arena;

/// A loan of one arena's memory to an asynchronous IO backend. Not `Clone`: ending it is
/// the holder's promise that no IO it started is still in flight.
#[derive(Debug)]
#[must_use = "a loan that is dropped instead of ended makes its arena leak its memory"]
pub struct MemoryLoan {
    /// The lent memory's address, naming the arena it came from.
    memory_address: usize,
}

impl MemoryLoan {
    /// The address of the lent memory (what the backend may do IO into).
    pub fn memory_address(&self) -> usize {
        self.memory_address
    }
}

impl Arena {
    fn memory_address(&self) -> usize {
        self.memory.whole().as_ptr() as usize
    }

    /// Lends the memory to an asynchronous IO backend: until the loan is ended, dropping the
    /// arena leaks its memory rather than freeing it.
    pub fn lend(&mut self) -> MemoryLoan {
        // All of it, before its address is handed out: lent memory never moves.
        self.memory_mut();
        self.loans += 1;
        MemoryLoan {
            memory_address: self.memory_address(),
        }
    }

    /// Ends `loan`: its holder has no IO in flight on this memory any more. Panics if the
    /// loan is of another arena (a backend's bug).
    pub fn end_loan(&mut self, loan: MemoryLoan) {
        assert_eq!(
            loan.memory_address,
            self.memory_address(),
            "a memory loan was returned to an arena it did not come from"
        );
        assert!(self.loans > 0, "more loans ended than lent");
        self.loans -= 1;
    }

    /// True while any loan of the memory is out.
    pub fn is_lent(&self) -> bool {
        self.loans > 0
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        if self.loans > 0 {
            // A backend may still write into this memory: never give it back to the
            // allocator.
            self.memory.leak_whole();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loan_is_ended_by_the_arena_it_came_from() {
        let mut arena = Arena::new(4);
        assert!(!arena.is_lent());
        let loan = arena.lend();
        assert_eq!(loan.memory_address(), arena.memory().as_ptr() as usize);
        assert!(arena.is_lent());
        arena.end_loan(loan);
        assert!(!arena.is_lent());
    }

    #[test]
    #[should_panic(expected = "returned to an arena it did not come from")]
    fn a_loan_cannot_be_ended_by_another_arena() {
        let mut lender = Arena::new(4);
        let mut other = Arena::new(4);
        let loan = lender.lend();
        other.end_loan(loan);
    }
}
