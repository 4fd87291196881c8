//! The arena's page census: each page's state as of the last invariant check, the number of
//! pages in each state, and the pages changed since. It lets the per-event check look only
//! at changed pages (see `Arena::check_invariants` for why that is complete).

use super::PageId;

/// A page's bookkeeping state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PageClass {
    Free,
    Owned,
    ReleasedInFlight,
    /// No legal state (an invariant violation).
    Illegal,
}

impl PageClass {
    fn slot(self) -> usize {
        match self {
            PageClass::Free => 0,
            PageClass::Owned => 1,
            PageClass::ReleasedInFlight => 2,
            PageClass::Illegal => 3,
        }
    }
}

/// One check in this many is a full recount that also verifies the census itself.
pub(super) const FULL_CHECK_EVERY: u32 = 256;

#[derive(Debug)]
pub(super) struct PageCensus {
    class_of: Vec<PageClass>,
    counts: [usize; 4],
    /// Pages changed since the last check, each once (`is_changed` dedups), so the list is
    /// bounded by the page count even if nobody ever checks (the real platform).
    changed: Vec<PageId>,
    is_changed: Vec<bool>,
    checks_until_full: u32,
}

impl PageCensus {
    /// A census of `pages` fresh (free) pages.
    pub(super) fn new(pages: usize) -> PageCensus {
        PageCensus {
            class_of: vec![PageClass::Free; pages],
            counts: [pages, 0, 0, 0],
            changed: Vec::new(),
            is_changed: vec![false; pages],
            checks_until_full: FULL_CHECK_EVERY,
        }
    }

    /// Records that `page`'s state may have changed.
    pub(super) fn touch(&mut self, page: PageId) {
        let flag = &mut self.is_changed[page.index()];
        if !*flag {
            *flag = true;
            self.changed.push(page);
        }
        debug_assert!(self.changed.len() <= self.class_of.len());
    }

    /// True once per [`FULL_CHECK_EVERY`] checks (counts this check).
    pub(super) fn full_check_due(&mut self) -> bool {
        self.checks_until_full -= 1;
        if self.checks_until_full == 0 {
            self.checks_until_full = FULL_CHECK_EVERY;
            return true;
        }
        false
    }

    pub(super) fn count(&self, class: PageClass) -> usize {
        self.counts[class.slot()]
    }

    /// Brings the changed pages up to date with `class_now`; an error names a page in no
    /// legal state.
    pub(super) fn update(&mut self, class_now: impl Fn(PageId) -> PageClass) -> Result<(), String> {
        let mut illegal = None;
        // Taken and given back cleared: the list keeps its allocation across checks.
        let mut changed = std::mem::take(&mut self.changed);
        for &page in &changed {
            self.is_changed[page.index()] = false;
            let now = class_now(page);
            let before = std::mem::replace(&mut self.class_of[page.index()], now);
            self.counts[before.slot()] -= 1;
            self.counts[now.slot()] += 1;
            if now == PageClass::Illegal {
                illegal.get_or_insert(page);
            }
        }
        changed.clear();
        self.changed = changed;
        match illegal {
            None => Ok(()),
            Some(page) => Err(format!(
                "page {}: owned/free/in-flight is not a legal state",
                page.index()
            )),
        }
    }

    /// After a full recount found every page legal: brings the census up to date and fails
    /// if an unchanged page's state differs from the census's (a change nobody recorded).
    pub(super) fn verify(&mut self, class_now: impl Fn(PageId) -> PageClass) -> Result<(), String> {
        self.update(&class_now)?;
        for (index, &class) in self.class_of.iter().enumerate() {
            let now = class_now(PageId(index as u32));
            if now != class {
                return Err(format!(
                    "arena census: page {index} is {now:?} but was recorded {class:?} (a state change not recorded)"
                ));
            }
        }
        Ok(())
    }
}
