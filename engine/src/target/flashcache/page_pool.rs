//! The flashcache target's reserved pages: memory for metadata IO (bulk create/load/store
//! chunks and md block writes) and for bounce buffers of timed SSD reads.
//!
//! Owns: a fixed reserve taken from the arena when the target is built, so metadata IO never
//! competes with bios for arena pages (bios hold their pages until they complete, and a
//! write's completion may wait for a metadata write: competing for one pool could deadlock).
//! A page given back while a device IO still has it in flight (the buffer of a zombie IO
//! after a timeout) is released to the arena instead, which frees it when that IO completes;
//! the reserve is topped up from the arena on the next request.
//!
//! Deliberately not here: what the pages hold, and who waits for them (the target queues
//! requests the pool cannot serve yet).

use crate::arena::{Arena, PageId, PageList};

/// Pages the reserve holds: one 256 KiB bulk metadata chunk (`METADATA_IO_BLOCKSIZE`),
/// which also covers the largest md block (64 KiB) and a bounce buffer for any block size up
/// to 256 KiB.
pub(crate) const RESERVED_PAGES: usize = 64;

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct PagePool {
    free: Vec<PageId>,
    /// Pages handed out (owned by an IO of the target).
    lent: usize,
    /// Pages the reserve lost to zombie IO and has not yet replaced.
    missing: usize,
    /// Calls that may have changed the pool, so a check after every input can skip an
    /// unchanged one.
    changes: u64,
}

impl PagePool {
    /// Takes [`RESERVED_PAGES`] pages from `arena`, or `None` if it has fewer free.
    pub fn new(arena: &mut Arena) -> Option<PagePool> {
        let free = arena.alloc(RESERVED_PAGES)?.into_vec();
        Some(PagePool {
            free,
            lent: 0,
            missing: 0,
            changes: 0,
        })
    }

    /// `count` pages, or `None` while fewer are free (the caller waits for a `put`).
    pub fn take(&mut self, count: usize, arena: &mut Arena) -> Option<PageList> {
        self.changes += 1;
        assert!(
            count <= RESERVED_PAGES,
            "a request for {count} pages can never be served by a pool of {RESERVED_PAGES}"
        );
        if self.missing > 0 {
            let refill = self.missing.min(arena.free_pages());
            if let Some(pages) = arena.alloc(refill) {
                self.missing -= refill;
                self.free.extend(pages);
            }
        }
        if self.free.len() < count {
            return None;
        }
        let start = self.free.len() - count;
        let pages: PageList = self.free.drain(start..).collect();
        self.lent += count;
        Some(pages)
    }

    /// Gives pages back. A page still in flight goes to the arena (freed when its IO ends).
    pub fn put(&mut self, pages: PageList, arena: &mut Arena) {
        self.changes += 1;
        assert!(
            pages.len() <= self.lent,
            "pool: more pages returned than lent"
        );
        self.lent -= pages.len();
        for page in pages {
            if arena.is_in_flight(page) {
                arena.release(page);
                self.missing += 1;
            } else {
                self.free.push(page);
            }
        }
    }

    /// How many calls may have changed the pool so far (see [`PagePool::check`]).
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Pages currently lent out.
    pub fn lent(&self) -> usize {
        self.lent
    }

    /// Pool accounting: every reserved page is free, lent or missing.
    pub fn check(&self, arena: &Arena) -> Result<(), String> {
        if self.free.len() + self.lent + self.missing != RESERVED_PAGES {
            return Err(format!(
                "page pool: {} free + {} lent + {} missing != {RESERVED_PAGES}",
                self.free.len(),
                self.lent,
                self.missing
            ));
        }
        for &page in &self.free {
            if !arena.is_owned(page) || arena.is_in_flight(page) {
                return Err(format!(
                    "page pool: free {page:?} is not owned or still in flight"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arena::Buffer;

    /// A pool with three pages lent, and its arena.
    fn pool() -> (PagePool, Arena) {
        let mut arena = Arena::new(256);
        let mut pool = PagePool::new(&mut arena).expect("256 pages hold the reserve");
        let lent = pool.take(3, &mut arena).expect("free pages");
        assert_eq!(lent.len(), 3);
        pool.check(&arena).unwrap();
        (pool, arena)
    }

    #[test]
    fn a_page_given_back_in_flight_is_counted_missing_and_the_books_still_balance() {
        let (mut pool, mut arena) = pool();
        let lent = pool.take(1, &mut arena).expect("free pages");
        arena.begin_flight(&Buffer::from_pages(lent.clone()), 8);
        pool.put(lent, &mut arena);
        assert_eq!((pool.missing, pool.lent), (1, 3));
        pool.check(&arena).unwrap();
    }

    #[test]
    fn a_page_lost_from_the_books_is_named() {
        let (mut pool, arena) = pool();
        pool.lent -= 1;
        assert_eq!(
            pool.check(&arena).unwrap_err(),
            "page pool: 61 free + 2 lent + 0 missing != 64"
        );
    }

    #[test]
    fn a_free_page_the_arena_does_not_hold_for_the_pool_is_named() {
        let (pool, mut arena) = pool();
        let page = pool.free[0];
        arena.release(page);
        assert_eq!(
            pool.check(&arena).unwrap_err(),
            format!("page pool: free {page:?} is not owned or still in flight")
        );
    }

    #[test]
    fn a_free_page_still_in_flight_is_named() {
        let (pool, mut arena) = pool();
        let page = pool.free[5];
        arena.begin_flight(&Buffer::from_pages(PageList::from_slice(&[page])), 1);
        assert_eq!(
            pool.check(&arena).unwrap_err(),
            format!("page pool: free {page:?} is not owned or still in flight")
        );
    }
}
