//! A cache from the raw bytes that spell a series in one input format to its id.
//!
//! Keys live back to back in one arena, in the order they were first seen; the table holds
//! entry numbers. Each entry also remembers which entry was looked up right after it (a
//! relaxed atomic, a hint only): senders repeat their series in the same order at every
//! scrape, so the writer checks that successor first (a comparison with bytes that sit
//! next to the previous key) and only hashes and probes the table when the guess is wrong.
//! With tens of thousands of series this turns two cache misses per line into none.

use super::SeriesId;
use hashbrown::HashTable;
use std::hash::Hasher;
use std::sync::atomic::{AtomicU32, Ordering};

/// No entry (no successor seen yet, or no hint).
pub(crate) const NO_ENTRY: u32 = u32::MAX;

#[derive(Debug)]
struct Entry {
    start: usize,
    len: u32,
    sid: SeriesId,
    hash: u64,
    next: AtomicU32,
    /// The series' float `value` column once a sample writer has resolved it
    /// ([`NO_ENTRY`] before): the index never removes or retypes a column, so a known
    /// spelling's sample costs no field lookup.
    value_column: AtomicU32,
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct RawCache {
    table: HashTable<u32>,
    entries: Vec<Entry>,
    arena: Vec<u8>,
}

fn hash(raw: &[u8]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(raw);
    h.finish()
}

impl RawCache {
    fn key(&self, e: &Entry) -> &[u8] {
        &self.arena[e.start..e.start + e.len as usize]
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The series spelled `raw`. `hint` is the entry found by the previous lookup of the
    /// same writer (or [`NO_ENTRY`]); it is updated to this lookup's entry.
    #[inline]
    pub(crate) fn get(&self, raw: &[u8], hint: &mut u32) -> Option<SeriesId> {
        let prev = self.entries.get(*hint as usize);
        if let Some(p) = prev {
            let n = p.next.load(Ordering::Relaxed);
            if let Some(e) = self.entries.get(n as usize)
                && self.key(e) == raw
            {
                *hint = n;
                return Some(e.sid);
            }
        }
        let h = hash(raw);
        let found = self
            .table
            .find(h, |&i| {
                let e = &self.entries[i as usize];
                e.hash == h && self.key(e) == raw
            })
            .copied();
        match found {
            Some(i) => {
                if let Some(p) = prev {
                    p.next.store(i, Ordering::Relaxed);
                }
                *hint = i;
                Some(self.entries[i as usize].sid)
            }
            None => {
                *hint = NO_ENTRY;
                None
            }
        }
    }

    /// The `value` column remembered for entry `entry` (a hint from [`RawCache::get`]).
    #[inline]
    pub(crate) fn value_column(&self, entry: u32) -> Option<u32> {
        let c = self
            .entries
            .get(entry as usize)?
            .value_column
            .load(Ordering::Relaxed);
        (c != NO_ENTRY).then_some(c)
    }

    /// Remembers column `column` as entry `entry`'s series' `value` column.
    pub(crate) fn set_value_column(&self, entry: u32, column: u32) {
        if let Some(e) = self.entries.get(entry as usize) {
            e.value_column.store(column, Ordering::Relaxed);
        }
    }

    /// Remembers `raw` → `sid` (a spelling already present keeps its series).
    pub(crate) fn insert(&mut self, raw: &[u8], sid: SeriesId) {
        let h = hash(raw);
        let entries = &self.entries;
        let arena = &self.arena;
        let present = self.table.find(h, |&i| {
            let e = &entries[i as usize];
            e.hash == h && &arena[e.start..e.start + e.len as usize] == raw
        });
        if present.is_some() {
            return;
        }
        let (Ok(len), Ok(i)) = (u32::try_from(raw.len()), u32::try_from(self.entries.len())) else {
            return;
        };
        if i == NO_ENTRY {
            return;
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(raw);
        self.entries.push(Entry {
            start,
            len,
            sid,
            hash: h,
            next: AtomicU32::new(NO_ENTRY),
            value_column: AtomicU32::new(NO_ENTRY),
        });
        let entries = &self.entries;
        self.table
            .insert_unique(h, i, |&j| entries[j as usize].hash);
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.arena.capacity()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.table.capacity() * (std::mem::size_of::<u32>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_misses_and_successor_hints() {
        let mut c = RawCache::default();
        for (i, k) in ["a,x=1", "a,x=2", "a,x=3"].iter().enumerate() {
            c.insert(k.as_bytes(), SeriesId(i as u32 + 10));
        }
        c.insert(b"a,x=1", SeriesId(99));
        assert_eq!(c.len(), 3, "a spelling keeps its first series");
        let mut hint = NO_ENTRY;
        assert_eq!(c.get(b"a,x=1", &mut hint), Some(SeriesId(10)));
        assert_eq!(hint, 0);
        assert_eq!(c.get(b"a,x=3", &mut hint), Some(SeriesId(12)));
        assert_eq!(c.entries[0].next.load(Ordering::Relaxed), 2, "learned");
        // The hint is followed, and a wrong guess falls back to the table.
        let mut hint = 0;
        assert_eq!(c.get(b"a,x=3", &mut hint), Some(SeriesId(12)));
        let mut hint = 0;
        assert_eq!(c.get(b"a,x=2", &mut hint), Some(SeriesId(11)));
        assert_eq!(c.get(b"zzz", &mut hint), None);
        assert_eq!(hint, NO_ENTRY);
        assert_eq!(c.get(b"", &mut hint), None);
    }

    #[test]
    fn value_columns_are_remembered_per_entry() {
        let mut c = RawCache::default();
        c.insert(b"a", SeriesId(1));
        c.insert(b"b", SeriesId(2));
        assert_eq!(c.value_column(1), None);
        c.set_value_column(1, 7);
        assert_eq!(c.value_column(1), Some(7));
        assert_eq!(c.value_column(0), None);
        c.set_value_column(NO_ENTRY, 9);
        assert_eq!(c.value_column(NO_ENTRY), None);
    }
}
