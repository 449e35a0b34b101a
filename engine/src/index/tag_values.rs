//! One tag key's values within a measurement, each with its postings.
//!
//! Built for the open of a large directory, where every series enters the index once: a
//! value's bytes go into one arena shared by all values of the key (no allocation per
//! value), a hash table holds value numbers, and a value seen by a single series keeps
//! its one id inline (no postings allocation either; a million `instance` values are a
//! million such values). The values' byte order, which listings need, is kept apart: a
//! sorted list of value numbers extended on the first listing after values were added
//! (the new ones sorted and merged in), so that adding stays O(1) and a listing sorts only
//! what is new.
//!
//! Invariants: value numbers are dense and assigned in first-seen order; each value's
//! postings are sorted and duplicate-free as long as ids are added in increasing order
//! (the index assigns series ids increasingly); `sorted` holds a prefix of the value
//! numbers (`0..sorted.len()`) ordered by their bytes.

use super::SeriesId;
use super::id_table::{IdTable, hash32};
use parking_lot::Mutex;

/// The series with one value, inline while there is one.
#[derive(Debug)]
enum Postings {
    One(SeriesId),
    Many(Vec<SeriesId>),
}

impl Postings {
    fn as_slice(&self) -> &[SeriesId] {
        match self {
            Postings::One(id) => std::slice::from_ref(id),
            Postings::Many(v) => v,
        }
    }

    fn push(&mut self, id: SeriesId) {
        match self {
            Postings::One(first) => *self = Postings::Many(vec![*first, id]),
            Postings::Many(v) => v.push(id),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Postings::One(_) => 0,
            Postings::Many(v) => v.capacity() * std::mem::size_of::<SeriesId>(),
        }
    }
}

#[derive(Debug)]
struct Value {
    start: usize,
    len: u32,
    postings: Postings,
}

/// See the module docs.
#[derive(Debug, Default)]
pub(super) struct TagValues {
    table: IdTable,
    values: Vec<Value>,
    arena: Vec<u8>,
    sorted: Mutex<Vec<u32>>,
}

fn text<'a>(arena: &'a [u8], v: &Value) -> &'a [u8] {
    &arena[v.start..v.start + v.len as usize]
}

impl TagValues {
    fn find(&self, value: &[u8]) -> Option<u32> {
        self.table.find(hash32(value), |i| {
            text(&self.arena, &self.values[i as usize]) == value
        })
    }

    /// Adds series `id` (larger than every id added before) to `value`'s postings.
    pub(super) fn add(&mut self, value: &str, id: SeriesId) {
        let bytes = value.as_bytes();
        let (values, arena) = (&mut self.values, &mut self.arena);
        let next = values.len();
        let (n, new) = self.table.find_or_insert(
            hash32(bytes),
            |i| text(arena, &values[i as usize]) == bytes,
            || u32::try_from(next).expect("fewer than 2^32 values of a tag key"),
        );
        if new {
            let len = u32::try_from(bytes.len()).expect("tag values are shorter than 4 GiB");
            let start = arena.len();
            arena.extend_from_slice(bytes);
            values.push(Value {
                start,
                len,
                postings: Postings::One(id),
            });
        } else {
            values[n as usize].postings.push(id);
        }
    }

    /// Series with `value`, sorted.
    /// An empty set with room for `n` values.
    pub(super) fn with_capacity(n: usize) -> TagValues {
        let mut t = TagValues::default();
        t.values.reserve_exact(n);
        t
    }

    /// Adds a value with its postings (sorted, at least one) without indexing it:
    /// [`TagValues::index_all`] must follow before any lookup. The caller guarantees the
    /// value is not present (an image holds each value once).
    pub(super) fn push_unindexed(&mut self, value: &[u8], ids: &[SeriesId]) {
        let Some((&first, rest)) = ids.split_first() else {
            return;
        };
        let start = self.arena.len();
        self.arena.extend_from_slice(value);
        self.values.push(Value {
            start,
            len: u32::try_from(value.len()).expect("tag values are shorter than 4 GiB"),
            postings: if rest.is_empty() {
                Postings::One(first)
            } else {
                Postings::Many(ids.to_vec())
            },
        });
    }

    /// Builds the lookup table over every value pushed by [`TagValues::push_unindexed`].
    pub(super) fn index_all(&mut self) {
        let entries = self
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u32, hash32(text(&self.arena, v))))
            .collect();
        self.table = IdTable::from_unique(entries);
    }

    /// Every value with its postings, in the order the values were added.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&[u8], &[SeriesId])> {
        self.values
            .iter()
            .map(|v| (text(&self.arena, v), v.postings.as_slice()))
    }

    pub(super) fn postings(&self, value: &str) -> &[SeriesId] {
        self.find(value.as_bytes())
            .map_or(&[], |i| self.values[i as usize].postings.as_slice())
    }

    /// Every value's postings, in no particular order (for a check that does not need the
    /// values sorted).
    pub(super) fn all_postings(&self) -> impl Iterator<Item = &[SeriesId]> {
        self.values.iter().map(|v| v.postings.as_slice())
    }

    /// Every value with its postings, in byte order of the values.
    pub(super) fn sorted(&self) -> Vec<(&str, &[SeriesId])> {
        let mut sorted = self.sorted.lock();
        let done = sorted.len();
        if done < self.values.len() {
            let by_text = |a: &u32, b: &u32| {
                text(&self.arena, &self.values[*a as usize])
                    .cmp(text(&self.arena, &self.values[*b as usize]))
            };
            let mut new: Vec<u32> = (done as u32..self.values.len() as u32).collect();
            new.sort_unstable_by(by_text);
            if done == 0 {
                *sorted = new;
            } else {
                let old = std::mem::take(&mut *sorted);
                let mut merged = Vec::with_capacity(old.len() + new.len());
                let (mut i, mut j) = (0, 0);
                while i < old.len() && j < new.len() {
                    if by_text(&new[j], &old[i]).is_lt() {
                        merged.push(new[j]);
                        j += 1;
                    } else {
                        merged.push(old[i]);
                        i += 1;
                    }
                }
                merged.extend_from_slice(&old[i..]);
                merged.extend_from_slice(&new[j..]);
                *sorted = merged;
            }
        }
        sorted
            .iter()
            .map(|&i| {
                let v = &self.values[i as usize];
                // Values enter as `&str` and the arena holds them whole: always UTF-8.
                let s = std::str::from_utf8(text(&self.arena, v)).unwrap_or_default();
                (s, v.postings.as_slice())
            })
            .collect()
    }

    /// Approximate heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.arena.capacity()
            + self.values.capacity() * std::mem::size_of::<Value>()
            + self.table.heap_bytes()
            + self
                .values
                .iter()
                .map(|v| v.postings.heap_bytes())
                .sum::<usize>()
            + self.sorted.lock().capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// Any sequence of adds, with listings in between, matches a BTreeMap of postings.
        #[test]
        fn matches_a_btreemap(ops in proptest::collection::vec((0u8..40, any::<bool>()), 1..300)) {
            let mut tv = TagValues::default();
            let mut model: BTreeMap<String, Vec<SeriesId>> = BTreeMap::new();
            for (id, (v, list)) in ops.into_iter().enumerate() {
                let value = format!("v{}", u32::from(v) * 7 % 40);
                let id = SeriesId(id as u32);
                tv.add(&value, id);
                model.entry(value).or_default().push(id);
                if list {
                    let got: Vec<(String, Vec<SeriesId>)> =
                        tv.sorted().into_iter().map(|(s, p)| (s.to_owned(), p.to_vec())).collect();
                    let want: Vec<(String, Vec<SeriesId>)> = model.clone().into_iter().collect();
                    prop_assert_eq!(got, want);
                }
            }
            for (v, p) in &model {
                prop_assert_eq!(tv.postings(v), &p[..]);
            }
            prop_assert_eq!(tv.postings("absent"), &[] as &[SeriesId]);
        }
    }
}
