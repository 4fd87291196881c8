//! A slab: a `Vec` of records addressed by u32 index, with a free list, so records of jobs and
//! flash ops are reused instead of allocated per request. Deliberately minimal: no iteration,
//! no generation counters (callers hold an index only while the record is live).

#[derive(Debug, Clone)]
pub(crate) struct Slab<T> {
    items: Vec<Option<T>>,
    free: Vec<u32>,
    live: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }
}

impl<T> Slab<T> {
    pub fn insert(&mut self, item: T) -> u32 {
        self.live += 1;
        if let Some(index) = self.free.pop() {
            debug_assert!(self.items[index as usize].is_none());
            self.items[index as usize] = Some(item);
            index
        } else {
            self.items.push(Some(item));
            u32::try_from(self.items.len() - 1).expect("slab index fits u32")
        }
    }

    pub fn remove(&mut self, index: u32) -> T {
        let item = self.items[index as usize]
            .take()
            .expect("slab entry removed twice");
        self.free.push(index);
        self.live -= 1;
        item
    }

    pub fn get(&self, index: u32) -> &T {
        self.items[index as usize]
            .as_ref()
            .expect("slab entry is live")
    }

    pub fn get_mut(&mut self, index: u32) -> &mut T {
        self.items[index as usize]
            .as_mut()
            .expect("slab entry is live")
    }

    pub fn len(&self) -> usize {
        self.live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_freed_slots() {
        let mut slab = Slab::default();
        let a = slab.insert(1);
        let b = slab.insert(2);
        assert_eq!(slab.remove(a), 1);
        let c = slab.insert(3);
        assert_eq!(c, a);
        assert_eq!(*slab.get(b), 2);
        assert_eq!(slab.len(), 2);
    }
}
