//! Sorted postings lists of series ids: intersection, union and difference, each a
//! linear merge of sorted, duplicate-free inputs producing a sorted, duplicate-free output.

use super::SeriesId;
use std::cmp::Ordering;

/// Ids in both `a` and `b`.
pub fn intersect(a: &[SeriesId], b: &[SeriesId]) -> Vec<SeriesId> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Ids in `a` or `b`.
pub fn union(a: &[SeriesId], b: &[SeriesId]) -> Vec<SeriesId> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len() + b.len());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Ids in `a` but not in `b`.
pub fn difference(a: &[SeriesId], b: &[SeriesId]) -> Vec<SeriesId> {
    let mut j = 0;
    let mut out = Vec::with_capacity(a.len());
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn ids(s: &BTreeSet<u32>) -> Vec<SeriesId> {
        s.iter().map(|&x| SeriesId(x)).collect()
    }

    proptest! {
        #[test]
        fn set_operations_match_btreeset(a in proptest::collection::btree_set(0u32..200, 0..60),
                                         b in proptest::collection::btree_set(0u32..200, 0..60)) {
            prop_assert_eq!(intersect(&ids(&a), &ids(&b)), ids(&a.intersection(&b).copied().collect()));
            prop_assert_eq!(union(&ids(&a), &ids(&b)), ids(&a.union(&b).copied().collect()));
            prop_assert_eq!(difference(&ids(&a), &ids(&b)), ids(&a.difference(&b).copied().collect()));
        }
    }
}
