//! The bytes of the arena's pages: allocated page by page as they are first asked for, or
//! all at once, as one aligned region that never moves, when a real platform registers or
//! lends them.
//!
//! Why page by page: a simulated run asks for the bytes of few pages (metadata, raid5's
//! parity), and the explorer builds engines several times per seed. One region grown on
//! demand was copied at every doubling; one reserved whole at once came fresh from the
//! system each time (a page fault per page first touched: a sixth of the raid5 explorer's
//! time). Single pages come from the allocator's free lists, reused from one engine to the
//! next.
//!
//! Deliberately not here: what a page's bytes mean (the arena's content tags).

use super::PageBytes;
use crate::block::PAGE_SIZE;

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct PageMemory {
    /// Pages allocated one by one (`None`: never asked for, all zero bytes). Empty once
    /// `whole` holds every page.
    single: Vec<Option<Box<PageBytes>>>,
    /// Every page in one region, once [`PageMemory::whole_mut`] was called; empty before.
    whole: Vec<PageBytes>,
}

impl PageMemory {
    /// Page `index`'s bytes, if they were ever asked for (else they are all zero).
    pub fn get(&self, index: usize) -> Option<&PageBytes> {
        if self.whole.is_empty() {
            self.single.get(index)?.as_deref()
        } else {
            self.whole.get(index)
        }
    }

    /// Page `index`'s bytes, allocated (zero) if they were not yet.
    pub fn get_mut(&mut self, index: usize) -> &mut PageBytes {
        if !self.whole.is_empty() {
            return &mut self.whole[index];
        }
        if self.single.len() <= index {
            self.single.resize_with(index + 1, || None);
        }
        self.single[index].get_or_insert_with(|| Box::new(PageBytes([0; PAGE_SIZE])))
    }

    /// Every one of `pages` pages in one region, writable: allocated once, with the bytes
    /// of the pages asked for so far; it never moves after that.
    pub fn whole_mut(&mut self, pages: usize) -> &mut [PageBytes] {
        if self.whole.is_empty() && pages > 0 {
            let mut whole = Vec::with_capacity(pages);
            for index in 0..pages {
                whole.push(match self.single.get_mut(index).and_then(Option::take) {
                    Some(page) => *page,
                    None => PageBytes([0; PAGE_SIZE]),
                });
            }
            self.whole = whole;
            self.single = Vec::new();
        }
        assert_eq!(self.whole.len(), pages, "the arena's page count is fixed");
        &mut self.whole
    }

    /// The region of [`PageMemory::whole_mut`]; empty if it was never asked for.
    pub fn whole(&self) -> &[PageBytes] {
        &self.whole
    }

    /// Gives up the region without freeing it (a backend may still write into it).
    pub fn leak_whole(&mut self) {
        std::mem::forget(std::mem::take(&mut self.whole));
    }
}
