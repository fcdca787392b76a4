//! The host side of the paged KV cache: which of a device's cache blocks are free. A sample
//! takes blocks one at a time as it grows, from the low end of the pool; a prompt takes one
//! run of consecutive blocks, from the high end, so that its cache is a single region the
//! prompt attention reads in place (see [`crate::model::KvPool`]). Keeping the two at
//! opposite ends keeps runs free for prompts while samples come and go. Blocks are given
//! back the moment a sample or prompt ends.

use std::collections::BTreeSet;

/// The free blocks of one device's pool.
#[derive(Debug, Clone)]
pub struct BlockAllocator {
    free: BTreeSet<u32>,
    total: usize,
}

impl BlockAllocator {
    /// A pool of `total` blocks, all free.
    pub fn new(total: usize) -> Self {
        BlockAllocator {
            free: (0..total as u32).collect(),
            total,
        }
    }

    /// Blocks in the pool.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Blocks free now.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    /// One block (the lowest free), if any is free.
    pub fn take_one(&mut self) -> Option<u32> {
        self.free.pop_first()
    }

    /// `n` consecutive blocks (the highest such run), or none when no run is that long.
    pub fn take_run(&mut self, n: usize) -> Option<Vec<u32>> {
        if n == 0 || n > self.free.len() {
            return None;
        }
        // Descending: the current run is end - len + 1 ..= end; b extends it when adjacent.
        let (mut end, mut len) = (0u32, 0usize);
        for &b in self.free.iter().rev() {
            if len > 0 && b as u64 + len as u64 == end as u64 {
                len += 1;
            } else {
                end = b;
                len = 1;
            }
            if len == n {
                let run: Vec<u32> = (b..=end).collect();
                for block in &run {
                    self.free.remove(block);
                }
                return Some(run);
            }
        }
        None
    }

    /// Returns blocks to the pool.
    pub fn give_back(&mut self, blocks: impl IntoIterator<Item = u32>) {
        for b in blocks {
            let fresh = self.free.insert(b);
            debug_assert!(fresh, "block {b} was given back twice");
        }
    }

    /// Frees every block (after a device error cleared all work).
    pub fn reset(&mut self) {
        *self = BlockAllocator::new(self.total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_take_from_the_bottom_and_prompts_take_runs_from_the_top() {
        let mut a = BlockAllocator::new(8);
        assert_eq!(a.take_one(), Some(0));
        assert_eq!(a.take_run(3), Some(vec![5, 6, 7]));
        assert_eq!(a.take_one(), Some(1));
        // Free: 2, 3, 4. Give 6 back: the longest run is still 2..=4.
        a.give_back([6]);
        assert_eq!(a.take_run(4), None);
        assert_eq!(a.take_run(2), Some(vec![3, 4]));
        assert_eq!(a.available(), 2);
        assert_eq!(a.take_run(2), None, "2 and 6 are free but not consecutive");
        a.give_back([0, 1, 3, 4, 5, 7]);
        assert_eq!(a.take_run(8), Some((0..8).collect()), "all free again");
        a.reset();
        assert_eq!((a.available(), a.total()), (8, 8));
    }
}
