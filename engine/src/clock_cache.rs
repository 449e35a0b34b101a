//! A bounded map from (owner, index) to a shared value, evicting by CLOCK (second chance):
//! the one policy behind the decoded-block cache of segments (`segment::cache`) and the
//! decoded-stripe cache of rollup files (`rollup::cache`).
//!
//! Invariants: the bytes held (as the caller counts each value) never exceed the capacity
//! after an insert returns, and a value larger than the whole capacity is not kept; a value
//! read since it last came up for eviction stays for another round; `forget` drops every
//! value of one owner (a file that is gone), so owners must not be reused while values of
//! an earlier holder of the same id may be in the cache.

use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// (owner id, index within the owner): a segment and a block, a rollup file and a stripe.
pub(crate) type Key = (u64, u32);

struct Entry<V> {
    value: V,
    bytes: usize,
    referenced: bool,
}

struct State<V> {
    map: FxHashMap<Key, Entry<V>>,
    queue: VecDeque<Key>,
    bytes: usize,
}

/// At most `capacity` bytes of values.
pub(crate) struct ClockCache<V> {
    capacity: usize,
    state: Mutex<State<V>>,
}

impl<V: Clone> ClockCache<V> {
    /// A cache of at most `capacity` bytes (0 keeps nothing).
    pub fn new(capacity: usize) -> ClockCache<V> {
        ClockCache {
            capacity,
            state: Mutex::new(State {
                map: FxHashMap::default(),
                queue: VecDeque::new(),
                bytes: 0,
            }),
        }
    }

    /// The capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.state.lock().bytes
    }

    /// Values held now.
    pub fn len(&self) -> usize {
        self.state.lock().map.len()
    }

    /// The value under `key`, if held (marking it recently used).
    pub fn get(&self, key: Key) -> Option<V> {
        let mut st = self.state.lock();
        let e = st.map.get_mut(&key)?;
        e.referenced = true;
        Some(e.value.clone())
    }

    /// Keeps `value` (counted as `bytes`) under `key` unless a value is already there,
    /// evicting others to stay within the capacity.
    pub fn insert(&self, key: Key, value: V, bytes: usize) {
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
                value,
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

    /// Drops every value of `owner`.
    pub fn forget(&self, owner: u64) {
        let mut st = self.state.lock();
        let State { map, queue, bytes } = &mut *st;
        map.retain(|k, e| {
            if k.0 == owner {
                *bytes -= e.bytes;
                false
            } else {
                true
            }
        });
        queue.retain(|k| k.0 != owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_capacity_and_gives_second_chances() {
        let c = ClockCache::new(100);
        c.insert((1, 0), 'a', 40);
        c.insert((1, 1), 'b', 40);
        assert_eq!(c.get((1, 0)), Some('a')); // referenced: survives the next eviction
        c.insert((1, 2), 'c', 40);
        assert!(c.bytes() <= 100);
        assert_eq!(c.get((1, 0)), Some('a'));
        assert_eq!(c.get((1, 1)), None);
        assert_eq!(c.get((1, 2)), Some('c'));
        c.insert((1, 2), 'x', 40); // already held: kept as it was
        assert_eq!(c.get((1, 2)), Some('c'));
        c.insert((2, 0), 'd', 500); // larger than the whole cache: not kept
        assert_eq!(c.get((2, 0)), None);
        c.insert((3, 0), 'e', 10);
        c.forget(1);
        assert_eq!((c.bytes(), c.len()), (10, 1));
        assert_eq!(c.get((1, 0)), None);
        assert_eq!(c.get((3, 0)), Some('e'));
    }
}
