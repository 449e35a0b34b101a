//! A bounded cache of decoded blocks, shared by the segments of one database, so that
//! repeated queries over compressed (cold) blocks decode each block once. Raw (warm)
//! blocks are read in place from the mapping and never cached.
//!
//! Invariants: the bytes held never exceed the capacity after an insert returns (a block
//! larger than the whole capacity is not kept); eviction is CLOCK (second chance): a
//! block read since it last came up for eviction stays for another round. Keys are
//! (segment id, block index); segment ids are never reused within a database, so an entry
//! cannot be mistaken for another file's block.

use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::sync::Arc;

use super::reader::DecodedArc;

struct Entry {
    block: DecodedArc,
    bytes: usize,
    referenced: bool,
}

#[derive(Default)]
struct State {
    map: FxHashMap<(u64, u32), Entry>,
    queue: VecDeque<(u64, u32)>,
    bytes: usize,
}

/// Decoded blocks by (segment id, block index), at most `capacity` bytes.
pub struct BlockCache {
    capacity: usize,
    state: Mutex<State>,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.lock();
        f.debug_struct("BlockCache")
            .field("capacity", &self.capacity)
            .field("bytes", &st.bytes)
            .field("blocks", &st.map.len())
            .finish()
    }
}

impl BlockCache {
    /// A cache of at most `capacity` bytes of decoded data (0 disables it).
    pub fn new(capacity: usize) -> Arc<BlockCache> {
        Arc::new(BlockCache {
            capacity,
            state: Mutex::new(State::default()),
        })
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.state.lock().bytes
    }

    pub(crate) fn get(&self, key: (u64, u32)) -> Option<DecodedArc> {
        let mut st = self.state.lock();
        let e = st.map.get_mut(&key)?;
        e.referenced = true;
        Some(e.block.clone())
    }

    pub(crate) fn insert(&self, key: (u64, u32), block: DecodedArc, bytes: usize) {
        if bytes > self.capacity {
            return;
        }
        let mut st = self.state.lock();
        if st.map.contains_key(&key) {
            return;
        }
        st.bytes += bytes;
        st.map.insert(
            key,
            Entry {
                block,
                bytes,
                referenced: false,
            },
        );
        st.queue.push_back(key);
        while st.bytes > self.capacity {
            let Some(k) = st.queue.pop_front() else {
                break;
            };
            let second_chance = match st.map.get_mut(&k) {
                Some(e) if e.referenced => {
                    e.referenced = false;
                    true
                }
                _ => false,
            };
            if second_chance {
                st.queue.push_back(k);
            } else if let Some(e) = st.map.remove(&k) {
                st.bytes -= e.bytes;
            }
        }
    }

    /// Drops every block of segment `id` (its file is gone).
    pub(crate) fn forget_segment(&self, id: u64) {
        let mut st = self.state.lock();
        let State { map, queue, bytes } = &mut *st;
        map.retain(|k, e| {
            if k.0 == id {
                *bytes -= e.bytes;
                false
            } else {
                true
            }
        });
        queue.retain(|k| k.0 != id);
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
