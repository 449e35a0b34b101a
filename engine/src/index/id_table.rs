//! A hash table of `u32` numbers whose keys live elsewhere (series keys in the series
//! table, tag values in an arena).
//!
//! Each slot holds the number beside 32 bits of its key's hash, and the table's hash is
//! derived from those 32 bits alone, so growing the table never reads a key (the open of a
//! large directory inserts a million keys into tables that grow from empty), and a probe
//! reads a key only when the stored bits match (one in 2^32 for a different key).

use hashbrown::HashTable;
use std::hash::Hasher;

/// 32 bits of the hash of `bytes`.
#[inline]
pub(super) fn hash32(bytes: &[u8]) -> u32 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(bytes);
    (h.finish() >> 32) as u32
}

/// The table's 64-bit hash for stored bits `h`: spread over every bit, since the table
/// takes its bucket from the low bits and its tag from the top ones.
#[inline]
fn spread(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// See the module docs.
#[derive(Debug, Default)]
pub(super) struct IdTable {
    table: HashTable<(u32, u32)>,
}

impl IdTable {
    /// The number whose key hashes to `h` and satisfies `eq`.
    #[inline]
    pub(super) fn find(&self, h: u32, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        self.table
            .find(spread(h), |&(n, bits)| bits == h && eq(n))
            .map(|&(n, _)| n)
    }

    /// The number whose key hashes to `h` and satisfies `eq`, or `new()` stored for it;
    /// `true` when it was stored now.
    #[inline]
    pub(super) fn find_or_insert(
        &mut self,
        h: u32,
        mut eq: impl FnMut(u32) -> bool,
        new: impl FnOnce() -> u32,
    ) -> (u32, bool) {
        match self.table.entry(
            spread(h),
            |&(n, bits)| bits == h && eq(n),
            |&(_, bits)| spread(bits),
        ) {
            hashbrown::hash_table::Entry::Occupied(o) => (o.get().0, false),
            hashbrown::hash_table::Entry::Vacant(v) => {
                let n = new();
                v.insert((n, h));
                (n, true)
            }
        }
    }

    /// Stores `n` for a key that hashes to `h` and is not in the table yet.
    #[inline]
    pub(super) fn insert_new(&mut self, h: u32, n: u32) {
        self.table
            .insert_unique(spread(h), (n, h), |&(_, bits)| spread(bits));
    }

    /// Makes room for `n` more numbers.
    /// A table of `entries` (number, hash bits), numbers unique, built in bucket order:
    /// each insert lands next to the previous one instead of missing the cache (an image
    /// load inserts a million entries into a table of tens of MiB).
    pub(super) fn from_unique(mut entries: Vec<(u32, u32)>) -> IdTable {
        let mut table = HashTable::with_capacity(entries.len());
        // hashbrown's bucket count for this capacity (7/8 load); a wrong guess only
        // costs speed.
        let buckets = (table.capacity() / 7 * 8).max(1).next_power_of_two() as u64;
        if buckets <= 1 << 32 {
            let mask = buckets - 1;
            radix_sort(
                &mut entries,
                |&(_, h)| (spread(h) & mask) as u32,
                64 - mask.leading_zeros(),
            );
        }
        for (n, h) in entries {
            table.insert_unique(spread(h), (n, h), |&(_, bits)| spread(bits));
        }
        IdTable { table }
    }

    pub(super) fn reserve(&mut self, n: usize) {
        self.table.reserve(n, |&(_, bits)| spread(bits));
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.table.capacity() * (std::mem::size_of::<(u32, u32)>() + 1)
    }
}

/// Sorts `v` by `key` (of which only the low `bits` bits are set), stably, 11 bits a pass.
fn radix_sort<T: Copy>(v: &mut [T], key: impl Fn(&T) -> u32, bits: u32) {
    const DIGIT: u32 = 11;
    let mut scratch: Vec<T> = Vec::with_capacity(v.len());
    let mut shift = 0;
    while shift < bits {
        let mut counts = vec![0usize; 1 << DIGIT];
        let digit = |t: &T| ((key(t) >> shift) & ((1 << DIGIT) - 1)) as usize;
        for t in v.iter() {
            counts[digit(t)] += 1;
        }
        let mut at = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = at;
            at += n;
        }
        scratch.clear();
        scratch.extend_from_slice(v);
        for t in scratch.iter() {
            let d = digit(t);
            v[counts[d]] = *t;
            counts[d] += 1;
        }
        shift += DIGIT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bulk_table_finds_what_inserts_would() {
        let keys: Vec<String> = (0..20_000).map(|i| format!("key{i}")).collect();
        let t = IdTable::from_unique(
            keys.iter()
                .enumerate()
                .map(|(i, k)| (i as u32, hash32(k.as_bytes())))
                .collect(),
        );
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(
                t.find(hash32(k.as_bytes()), |n| keys[n as usize] == *k),
                Some(i as u32)
            );
        }
        assert_eq!(
            t.find(hash32(b"absent"), |n| keys[n as usize] == "absent"),
            None
        );
        let mut v: Vec<(u32, u32)> = (0..5000u32)
            .map(|i| (i, i.wrapping_mul(2_654_435_761)))
            .collect();
        radix_sort(&mut v, |&(_, h)| h, 32);
        assert!(v.windows(2).all(|w| w[0].1 <= w[1].1));
        assert_eq!(IdTable::from_unique(Vec::new()).find(1, |_| true), None);
    }

    #[test]
    fn numbers_are_found_by_their_keys_through_growth_and_collisions() {
        let keys: Vec<String> = (0..5000).map(|i| format!("k{i}")).collect();
        let mut t = IdTable::default();
        for (i, k) in keys.iter().enumerate() {
            let (n, new) = t.find_or_insert(
                hash32(k.as_bytes()),
                |n| keys[n as usize] == *k,
                || i as u32,
            );
            assert_eq!((n, new), (i as u32, true));
        }
        for (i, k) in keys.iter().enumerate() {
            let (n, new) = t.find_or_insert(hash32(k.as_bytes()), |n| keys[n as usize] == *k, || 0);
            assert_eq!((n, new), (i as u32, false));
            assert_eq!(
                t.find(hash32(k.as_bytes()), |n| keys[n as usize] == *k),
                Some(i as u32)
            );
        }
        assert_eq!(t.find(hash32(b"absent"), |_| true), None);
        // Equal stored bits are told apart by the keys.
        let mut t = IdTable::default();
        t.find_or_insert(7, |_| false, || 1);
        t.find_or_insert(7, |n| n == 2, || 2);
        assert_eq!(t.find(7, |n| n == 1), Some(1));
        assert_eq!(t.find(7, |n| n == 2), Some(2));
        assert_eq!(t.find(7, |n| n == 3), None);
    }
}
