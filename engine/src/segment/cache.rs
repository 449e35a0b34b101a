//! A bounded cache of decoded blocks, shared by the segments of one database, so that
//! repeated queries over compressed (cold) blocks decode each block once. Raw (warm)
//! blocks are read in place from the mapping and never cached.
//!
//! Invariants: the bytes held never exceed the capacity after an insert returns (a block
//! larger than the whole capacity is not kept); eviction is CLOCK (second chance): a
//! block read since it last came up for eviction stays for another round. Keys are
//! (segment id, block index); segment ids are never reused within a database, so an entry
//! cannot be mistaken for another file's block.

use crate::clock_cache::ClockCache;
use std::sync::Arc;

use super::reader::DecodedArc;

/// Decoded blocks by (segment id, block index), at most `capacity` bytes.
pub struct BlockCache(ClockCache<DecodedArc>);

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("capacity", &self.0.capacity())
            .field("bytes", &self.0.bytes())
            .field("blocks", &self.0.len())
            .finish()
    }
}

impl BlockCache {
    /// A cache of at most `capacity` bytes of decoded data (0 disables it).
    pub fn new(capacity: usize) -> Arc<BlockCache> {
        Arc::new(BlockCache(ClockCache::new(capacity)))
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.0.bytes()
    }

    pub(crate) fn get(&self, key: (u64, u32)) -> Option<DecodedArc> {
        self.0.get(key)
    }

    pub(crate) fn insert(&self, key: (u64, u32), block: DecodedArc, bytes: usize) {
        self.0.insert(key, block, bytes);
    }

    /// Drops every block of segment `id` (its file is gone).
    pub(crate) fn forget_segment(&self, id: u64) {
        self.0.forget(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(n: usize) -> DecodedArc {
        Arc::new((
            std::borrow::Cow::Owned(vec![0i64; n]),
            super::super::reader::owned_floats(vec![0.0; n]),
        ))
    }

    #[test]
    fn stays_within_capacity_and_gives_second_chances() {
        let c = BlockCache::new(100);
        c.insert((1, 0), block(1), 40);
        c.insert((1, 1), block(1), 40);
        assert!(c.get((1, 0)).is_some()); // referenced: survives the next eviction
        c.insert((1, 2), block(1), 40);
        assert!(c.bytes() <= 100);
        assert!(c.get((1, 0)).is_some());
        assert!(c.get((1, 1)).is_none());
        assert!(c.get((1, 2)).is_some());
        c.insert((2, 0), block(1), 500); // larger than the whole cache: not kept
        assert!(c.get((2, 0)).is_none());
        c.forget_segment(1);
        assert_eq!(c.bytes(), 0);
        assert!(c.get((1, 0)).is_none());
    }
}
