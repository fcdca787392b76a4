//! The host side of the paged KV cache: which of a device's cache blocks are free, and how
//! many caches hold each of the others. Blocks are handed out one at a time as caches grow
//! and given back the moment a sample or prompt ends; a block that holds the head several
//! prompts share is held by each of them and freed when the last lets it go. The tensors
//! themselves live in [`crate::model::KvPool`].

/// The free blocks of one device's pool, and the holders of the rest.
#[derive(Debug, Clone)]
pub struct BlockAllocator {
    free: Vec<u32>,
    /// Caches holding each block (0: free).
    holders: Vec<u32>,
}

impl BlockAllocator {
    /// A pool of `total` blocks, all free.
    pub fn new(total: usize) -> Self {
        // Reversed, so blocks are handed out from 0 up (easier to read in a debugger).
        BlockAllocator {
            free: (0..total as u32).rev().collect(),
            holders: vec![0; total],
        }
    }

    /// Blocks in the pool.
    pub fn total(&self) -> usize {
        self.holders.len()
    }

    /// Blocks free now.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    /// One block, if any is free.
    pub fn take_one(&mut self) -> Option<u32> {
        let block = self.free.pop()?;
        self.holders[block as usize] = 1;
        Some(block)
    }

    /// `n` blocks, or none at all when fewer are free.
    pub fn take(&mut self, n: usize) -> Option<Vec<u32>> {
        let keep = self.free.len().checked_sub(n)?;
        let mut taken = self.free.split_off(keep);
        taken.reverse();
        for &b in &taken {
            self.holders[b as usize] = 1;
        }
        Some(taken)
    }

    /// Another cache holds `blocks` too (they are in use).
    pub fn share(&mut self, blocks: &[u32]) {
        for &b in blocks {
            debug_assert!(self.holders[b as usize] > 0, "sharing free block {b}");
            self.holders[b as usize] += 1;
        }
    }

    /// Whether more than one cache holds `block`.
    pub fn is_shared(&self, block: u32) -> bool {
        self.holders.get(block as usize).is_some_and(|&h| h > 1)
    }

    /// A cache lets `blocks` go; those no other cache holds are free again.
    pub fn give_back(&mut self, blocks: impl IntoIterator<Item = u32>) {
        for b in blocks {
            let holders = &mut self.holders[b as usize];
            debug_assert!(*holders > 0, "block {b} was given back twice");
            *holders = holders.saturating_sub(1);
            if *holders == 0 {
                self.free.push(b);
            }
        }
    }

    /// Frees every block (after a device error cleared all work).
    pub fn reset(&mut self) {
        *self = BlockAllocator::new(self.total());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_taken_whole_or_not_at_all_and_come_back() {
        let mut a = BlockAllocator::new(5);
        assert_eq!(a.take(2), Some(vec![0, 1]));
        assert_eq!(a.take(4), None, "only 3 are free");
        assert_eq!(a.available(), 3);
        assert_eq!(a.take_one(), Some(2));
        a.give_back([0, 1]);
        assert_eq!(a.available(), 4);
        assert_eq!(a.take(4).map(|b| b.len()), Some(4));
        assert_eq!(a.take_one(), None);
        a.reset();
        assert_eq!((a.available(), a.total()), (5, 5));
    }

    #[test]
    fn a_shared_block_is_free_only_when_its_last_holder_lets_go() {
        let mut a = BlockAllocator::new(3);
        let head = a.take(2).unwrap();
        a.share(&head[..1]);
        assert!(a.is_shared(head[0]) && !a.is_shared(head[1]));
        a.give_back(head.clone());
        assert_eq!(a.available(), 2, "block {} is still held", head[0]);
        a.give_back([head[0]]);
        assert_eq!(a.available(), 3);
    }
}
