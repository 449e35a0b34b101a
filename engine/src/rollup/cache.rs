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
use crate::clock_cache::ClockCache;
use std::sync::Arc;

/// Decoded stripes by (file uid, stripe index), at most `capacity` bytes.
pub struct StripeCache(ClockCache<Arc<BucketColumns>>);

impl Default for StripeCache {
    fn default() -> StripeCache {
        StripeCache::new(0)
    }
}

impl std::fmt::Debug for StripeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeCache")
            .field("capacity", &self.0.capacity())
            .field("bytes", &self.0.bytes())
            .field("stripes", &self.0.len())
            .finish()
    }
}

impl StripeCache {
    /// A cache of at most `capacity` bytes (0 keeps nothing).
    pub fn new(capacity: usize) -> StripeCache {
        StripeCache(ClockCache::new(capacity))
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.0.bytes()
    }

    /// The cached stripe, if any.
    pub fn get(&self, key: (u64, u32)) -> Option<Arc<BucketColumns>> {
        self.0.get(key)
    }

    /// Keeps `cols` under `key`, evicting others to stay within the capacity.
    pub fn insert(&self, key: (u64, u32), cols: Arc<BucketColumns>) {
        let bytes = cols.heap_bytes();
        self.0.insert(key, cols, bytes);
    }

    /// Drops every stripe of file `uid`.
    pub fn forget_file(&self, uid: u64) {
        self.0.forget(uid);
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
