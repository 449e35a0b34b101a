//! Where each index column sits in one live segment's directory: column id → (series,
//! column) positions.
//!
//! Built once when a segment is attached and read by every query that touches the
//! segment. Column ids are dense and a segment's columns are usually a run of them (the
//! open of a directory creates them segment by segment, a rotation's output holds the
//! columns written since the last one), so the map is an array indexed by column id less
//! the smallest when the ids are dense enough, and a sorted array searched by halving
//! otherwise. Neither hashes, and the open of a million-column segment fills it in one
//! pass.
//!
//! Invariant: `Dense` holds `NONE` exactly where the segment has no column; `Sorted` is
//! sorted by column id without repeats.

use crate::index::ColumnId;

const NONE: (u32, u32) = (u32::MAX, u32::MAX);

/// See the module docs.
#[derive(Debug)]
pub(crate) enum ColumnMap {
    Dense {
        first: u32,
        slots: Vec<(u32, u32)>,
        len: usize,
    },
    Sorted(Vec<(u32, (u32, u32))>),
}

impl ColumnMap {
    /// The map of `entries` (column, (series position, column position)); of a column
    /// named twice, the last entry counts.
    pub(crate) fn new(mut entries: Vec<(ColumnId, (u32, u32))>) -> ColumnMap {
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            // Stable: of repeats, the last stays last, and is the one kept below.
            entries.sort_by_key(|e| e.0);
            let mut kept: Vec<(ColumnId, (u32, u32))> = Vec::with_capacity(entries.len());
            for e in entries {
                match kept.last_mut() {
                    Some(last) if last.0 == e.0 => *last = e,
                    _ => kept.push(e),
                }
            }
            entries = kept;
        }
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return ColumnMap::Sorted(Vec::new());
        };
        let (first, span) = (first.0.0, (last.0.0 - first.0.0) as usize + 1);
        if span <= entries.len().saturating_mul(2).saturating_add(64) {
            let mut slots = vec![NONE; span];
            for (c, at) in &entries {
                slots[(c.0 - first) as usize] = *at;
            }
            ColumnMap::Dense {
                first,
                slots,
                len: entries.len(),
            }
        } else {
            ColumnMap::Sorted(entries.into_iter().map(|(c, at)| (c.0, at)).collect())
        }
    }

    /// The positions of column `c`, if the segment holds it.
    #[inline]
    pub(crate) fn get(&self, c: ColumnId) -> Option<(u32, u32)> {
        match self {
            ColumnMap::Dense { first, slots, .. } => {
                let at = *slots.get(c.0.checked_sub(*first)? as usize)?;
                (at != NONE).then_some(at)
            }
            ColumnMap::Sorted(v) => v.binary_search_by_key(&c.0, |e| e.0).ok().map(|i| v[i].1),
        }
    }

    /// The columns held, in id order.
    pub(crate) fn keys(&self) -> Box<dyn Iterator<Item = ColumnId> + '_> {
        match self {
            ColumnMap::Dense { first, slots, .. } => Box::new(
                slots
                    .iter()
                    .zip(*first..)
                    .filter(|(at, _)| **at != NONE)
                    .map(|(_, c)| ColumnId(c)),
            ),
            ColumnMap::Sorted(v) => Box::new(v.iter().map(|e| ColumnId(e.0))),
        }
    }

    /// Columns held.
    pub(crate) fn len(&self) -> usize {
        match self {
            ColumnMap::Dense { len, .. } => *len,
            ColumnMap::Sorted(v) => v.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Whatever the ids (dense runs, scattered, repeated, any order), the map answers
        /// as a hash map filled in the same order would.
        #[test]
        fn answers_as_a_hash_map(ids in proptest::collection::vec(0u32..3000, 0..400),
                                 base in prop_oneof![Just(0u32), Just(1_000_000u32), Just(u32::MAX - 4000)]) {
            let entries: Vec<(ColumnId, (u32, u32))> = ids
                .iter()
                .enumerate()
                .map(|(i, &c)| (ColumnId(base + c), (i as u32, c % 5)))
                .collect();
            let model: HashMap<ColumnId, (u32, u32)> = entries.iter().copied().collect();
            let map = ColumnMap::new(entries);
            prop_assert_eq!(map.len(), model.len());
            let mut keys: Vec<ColumnId> = model.keys().copied().collect();
            keys.sort();
            prop_assert_eq!(map.keys().collect::<Vec<_>>(), keys);
            for c in 0..3100u32 {
                let c = ColumnId(base.saturating_add(c));
                prop_assert_eq!(map.get(c), model.get(&c).copied());
            }
            prop_assert_eq!(map.get(ColumnId(base.wrapping_sub(1))), model.get(&ColumnId(base.wrapping_sub(1))).copied());
        }
    }

    #[test]
    fn both_shapes_are_used() {
        let dense = ColumnMap::new((0..100).map(|c| (ColumnId(c + 10), (c, 0))).collect());
        assert!(matches!(dense, ColumnMap::Dense { .. }));
        assert_eq!(dense.get(ColumnId(9)), None);
        assert_eq!(dense.get(ColumnId(10)), Some((0, 0)));
        assert_eq!(dense.get(ColumnId(109)), Some((99, 0)));
        assert_eq!(dense.get(ColumnId(110)), None);
        let sparse = ColumnMap::new((0..100).map(|c| (ColumnId(c * 1000), (c, 1))).collect());
        assert!(matches!(sparse, ColumnMap::Sorted(_)));
        assert_eq!(sparse.get(ColumnId(5000)), Some((5, 1)));
        assert_eq!(sparse.get(ColumnId(5001)), None);
    }
}
