//! A series' column id per field id of its measurement, held inline for up to two fields
//! (a Prometheus series has one, `value`) and on the heap beyond, so that a million
//! one-field series cost no allocation each.
//!
//! Invariant: `Inline { len, .. }` has `len <= INLINE`; a slot without a column holds
//! `NO_COLUMN`.

use super::NO_COLUMN;

const INLINE: usize = 2;

/// See the module docs.
#[derive(Debug, Clone)]
pub(super) enum ColumnSlots {
    Inline { len: u8, ids: [u32; INLINE] },
    Heap(Vec<u32>),
}

impl Default for ColumnSlots {
    fn default() -> Self {
        ColumnSlots::Inline {
            len: 0,
            ids: [NO_COLUMN; INLINE],
        }
    }
}

impl ColumnSlots {
    /// The slots, by field id.
    #[inline]
    pub(super) fn as_slice(&self) -> &[u32] {
        match self {
            ColumnSlots::Inline { len, ids } => &ids[..*len as usize],
            ColumnSlots::Heap(v) => v,
        }
    }

    /// The column of field `fid`, if the series has one.
    #[inline]
    pub(super) fn get(&self, fid: usize) -> Option<u32> {
        self.as_slice()
            .get(fid)
            .copied()
            .filter(|&c| c != NO_COLUMN)
    }

    /// The slot of field `fid`, made as needed (holding `NO_COLUMN` until set).
    pub(super) fn slot(&mut self, fid: usize) -> &mut u32 {
        if fid >= self.as_slice().len() {
            match self {
                ColumnSlots::Inline { len, .. } if fid < INLINE => *len = fid as u8 + 1,
                _ => {
                    let mut v = self.as_slice().to_vec();
                    v.resize(fid + 1, NO_COLUMN);
                    *self = ColumnSlots::Heap(v);
                }
            }
        }
        match self {
            ColumnSlots::Inline { ids, .. } => &mut ids[fid],
            ColumnSlots::Heap(v) => &mut v[fid],
        }
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            ColumnSlots::Inline { .. } => 0,
            ColumnSlots::Heap(v) => v.capacity() * 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn answers_as_a_vec(sets in proptest::collection::vec((0usize..12, 0u32..1000), 0..30)) {
            let mut slots = ColumnSlots::default();
            let mut model: Vec<u32> = Vec::new();
            for (fid, c) in sets {
                *slots.slot(fid) = c;
                if model.len() <= fid {
                    model.resize(fid + 1, NO_COLUMN);
                }
                model[fid] = c;
                prop_assert_eq!(slots.as_slice(), &model[..]);
            }
            for fid in 0..14 {
                prop_assert_eq!(slots.get(fid), model.get(fid).copied().filter(|&c| c != NO_COLUMN));
            }
        }
    }

    #[test]
    fn two_fields_stay_inline() {
        let mut s = ColumnSlots::default();
        *s.slot(1) = 7;
        assert_eq!(s.as_slice(), &[NO_COLUMN, 7]);
        assert!(matches!(s, ColumnSlots::Inline { .. }));
        *s.slot(2) = 9;
        assert!(matches!(s, ColumnSlots::Heap(_)));
        assert_eq!(s.as_slice(), &[NO_COLUMN, 7, 9]);
        assert_eq!(
            std::mem::size_of::<ColumnSlots>(),
            std::mem::size_of::<Vec<u32>>()
        );
    }
}
