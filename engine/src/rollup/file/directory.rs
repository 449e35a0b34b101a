//! A decoded rollup file's directory: which stripe, and which buckets in it, hold each
//! (series key, field).
//!
//! Laid out flat for queries that look up many columns in many day files: the series
//! keys sorted and distinct in one buffer, each key's fields in one array naming the
//! field by its index in a small table. A lookup touches a few adjacent cache lines
//! instead of chasing a boxed key, a vector of fields and a field string per column.
//!
//! Invariants: `key_ends` and `loc_ends` ascend and end at `keys.len()` and `locs.len()`;
//! keys are sorted and distinct; a key's locations keep the order they were added in.

use crate::model::FieldType;
use rustc_hash::FxHashMap;
use std::ops::Range;

/// Where one (series, field) lies: its field, type, stripe and bucket range in it.
#[derive(Debug, Clone)]
pub(super) struct Located {
    field: u32,
    pub(super) ty: FieldType,
    pub(super) stripe: usize,
    pub(super) range: Range<usize>,
}

/// One entry as decoded, before the directory is built.
pub(super) struct Entry {
    pub(super) key: Box<[u8]>,
    pub(super) field: String,
    pub(super) ty: FieldType,
    pub(super) stripe: usize,
    pub(super) range: Range<usize>,
}

#[derive(Debug, Default)]
pub(super) struct Directory {
    keys: Vec<u8>,
    key_ends: Vec<usize>,
    loc_ends: Vec<usize>,
    locs: Vec<Located>,
    fields: Vec<String>,
}

impl Directory {
    pub(super) fn build(mut entries: Vec<Entry>) -> Directory {
        // Stable: a key's fields keep their order.
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        let mut d = Directory::default();
        let mut field_ids: FxHashMap<String, u32> = FxHashMap::default();
        for e in entries {
            let new_key = d.key_ends.last().is_none_or(|&end| {
                let start = d.key_ends.len().checked_sub(2).map_or(0, |i| d.key_ends[i]);
                d.keys[start..end] != *e.key
            });
            if new_key {
                d.keys.extend_from_slice(&e.key);
                d.key_ends.push(d.keys.len());
                d.loc_ends.push(d.locs.len());
            }
            let next = d.fields.len() as u32;
            let field = *field_ids.entry(e.field).or_insert_with_key(|f| {
                d.fields.push(f.clone());
                next
            });
            d.locs.push(Located {
                field,
                ty: e.ty,
                stripe: e.stripe,
                range: e.range,
            });
            if let Some(end) = d.loc_ends.last_mut() {
                *end = d.locs.len();
            }
        }
        d
    }

    fn len(&self) -> usize {
        self.key_ends.len()
    }

    fn key(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.key_ends[i - 1] };
        &self.keys[start..self.key_ends[i]]
    }

    fn locs(&self, i: usize) -> &[Located] {
        let start = if i == 0 { 0 } else { self.loc_ends[i - 1] };
        &self.locs[start..self.loc_ends[i]]
    }

    /// Every (key, field, location), by key.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&[u8], &str, &Located)> {
        (0..self.len()).flat_map(move |i| {
            let key = self.key(i);
            (self.locs(i).iter()).map(move |l| (key, self.fields[l.field as usize].as_str(), l))
        })
    }

    /// Whether `other` has the same keys and field table (so positions and field indices
    /// mean the same in both; the locations may differ).
    pub(super) fn same_names(&self, other: &Directory) -> bool {
        self.key_ends == other.key_ends && self.keys == other.keys && self.fields == other.fields
    }

    /// The index of field `field` in the field table.
    pub(super) fn field_id(&self, field: &str) -> Option<u32> {
        self.fields
            .iter()
            .position(|f| f == field)
            .map(|i| i as u32)
    }

    /// Where the key at `pos` has field `field` (an index from [`Directory::field_id`]).
    pub(super) fn locate_at(&self, pos: usize, field: u32) -> Option<(usize, Range<usize>)> {
        if pos >= self.len() {
            return None;
        }
        let l = self.locs(pos).iter().find(|l| l.field == field)?;
        Some((l.stripe, l.range.clone()))
    }

    /// A cursor for many lookups, cheapest in ascending key order.
    pub(super) fn cursor(&self) -> Cursor<'_> {
        Cursor {
            dir: self,
            at: 0,
            field: None,
        }
    }
}

/// See [`super::RollupFile::cursor`].
#[derive(Debug)]
pub struct Cursor<'a> {
    dir: &'a Directory,
    /// Every key before this position is below the last key sought.
    at: usize,
    /// The last field found and its index in the field table.
    field: Option<(&'a str, u32)>,
}

impl<'a> Cursor<'a> {
    /// Where series `key`'s field `field` lies: (stripe, bucket range in it).
    pub fn seek(&mut self, key: &[u8], field: &str) -> Option<(usize, Range<usize>)> {
        let dir = self.dir;
        let id = match self.field {
            Some((f, id)) if f == field => id,
            _ => {
                let i = dir.fields.iter().position(|f| f == field)?;
                self.field = Some((dir.fields[i].as_str(), i as u32));
                i as u32
            }
        };
        let pos = self.seek_key(key)?;
        dir.locate_at(pos, id)
    }

    /// The position of series `key` in the directory (for
    /// [`super::RollupFile::locate_at`]).
    pub fn seek_key(&mut self, key: &[u8]) -> Option<usize> {
        let dir = self.dir;
        let n = dir.len();
        // Asked in key order, the key is most often the one after the cursor or the one
        // at it (another field of the same series).
        let near = [self.at + 1, self.at]
            .into_iter()
            .find(|&i| i < n && dir.key(i) == key);
        self.at = match near {
            Some(i) => i,
            None if self.at > 0 && dir.key(self.at - 1) >= key => {
                partition(0, n, |i| dir.key(i) < key)
            }
            None => {
                // Gallop forward from the last position.
                let (mut lo, mut step) = (self.at, 1);
                while lo + step < n && dir.key(lo + step) < key {
                    lo += step;
                    step *= 2;
                }
                partition(lo, (lo + step + 1).min(n), |i| dir.key(i) < key)
            }
        };
        (self.at < n && dir.key(self.at) == key).then_some(self.at)
    }
}

/// The first index in `lo..hi` where `below` turns false (it holds on a prefix).
fn partition(mut lo: usize, mut hi: usize, below: impl Fn(usize) -> bool) -> usize {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}
