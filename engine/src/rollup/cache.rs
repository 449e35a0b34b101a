//! A bounded cache of decoded rollup stripes, shared by the rollup files of one
//! database, so that repeated queries decode each stripe of a file once.
//!
//! Invariants: the bytes held (as [`BucketColumns::heap_bytes`] counts them) never exceed
//! the capacity after an insert returns (a stripe larger than the whole capacity is not
//! kept); eviction is CLOCK (second chance). Keys are (file uid, stripe); a uid is given
//! to each live file once ([`super::store::LiveRollup`]) and never reused, so a file that
//! replaces another can never be answered with the old one's stripes; the store drops a
//! file's stripes when the file is replaced or dropped.

use super::columns::BucketColumns;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

struct Entry {
    cols: Arc<BucketColumns>,
    bytes: usize,
    referenced: bool,
}

#[derive(Default)]
struct State {
    map: HashMap<(u64, u32), Entry>,
    queue: VecDeque<(u64, u32)>,
    bytes: usize,
}

/// Decoded stripes by (file uid, stripe index), at most `capacity` bytes.
#[derive(Default)]
pub struct StripeCache {
    capacity: usize,
    state: Mutex<State>,
}

impl std::fmt::Debug for StripeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.lock();
        f.debug_struct("StripeCache")
            .field("capacity", &self.capacity)
            .field("bytes", &st.bytes)
            .field("stripes", &st.map.len())
            .finish()
    }
}

impl StripeCache {
    /// A cache of at most `capacity` bytes (0 keeps nothing).
    pub fn new(capacity: usize) -> StripeCache {
        StripeCache {
            capacity,
            state: Mutex::new(State::default()),
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.state.lock().bytes
    }

    /// The cached stripe, if any.
    pub fn get(&self, key: (u64, u32)) -> Option<Arc<BucketColumns>> {
        let mut st = self.state.lock();
        let e = st.map.get_mut(&key)?;
        e.referenced = true;
        Some(e.cols.clone())
    }

    /// Keeps `cols` under `key`, evicting others to stay within the capacity.
    pub fn insert(&self, key: (u64, u32), cols: Arc<BucketColumns>) {
        let bytes = cols.heap_bytes();
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
                cols,
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

    /// Drops every stripe of file `uid`.
    pub fn forget_file(&self, uid: u64) {
        let mut st = self.state.lock();
        let State { map, queue, bytes } = &mut *st;
        map.retain(|k, e| {
            if k.0 == uid {
                *bytes -= e.bytes;
                false
            } else {
                true
            }
        });
        queue.retain(|k| k.0 != uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ColumnData, ColumnValues};

    fn cols(n: i64) -> Arc<BucketColumns> {
        let data = ColumnData {
            timestamps: (0..n).collect(),
            values: ColumnValues::Float((0..n).map(|x| x as f64).collect()),
        };
        Arc::new(BucketColumns::compute(&data, 1, false).expect("numeric"))
    }

    #[test]
    fn stays_within_capacity_and_gives_second_chances() {
        let one = cols(1).heap_bytes();
        let c = StripeCache::new(2 * one + one / 2);
        c.insert((1, 0), cols(1));
        c.insert((1, 1), cols(1));
        assert!(c.get((1, 0)).is_some()); // referenced: survives the next eviction
        c.insert((1, 2), cols(1));
        assert!(c.bytes() <= 2 * one + one / 2);
        assert!(c.get((1, 0)).is_some());
        assert!(c.get((1, 1)).is_none());
        assert!(c.get((1, 2)).is_some());
        c.insert((2, 0), cols(100)); // larger than the whole cache: not kept
        assert!(c.get((2, 0)).is_none());
        c.forget_file(1);
        assert_eq!(c.bytes(), 0);
        assert!(c.get((1, 0)).is_none());
    }
}
