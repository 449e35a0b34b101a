//! The index's part of an index image (docs/FORMAT.md, "Index image"): measurements with
//! their fields and tag postings, series and columns, encoded so that loading them costs
//! no key parsing and no hash probe per tag value pair.
//!
//! Invariants the encoder keeps and the decoder checks: only the series and columns the
//! caller keeps are written, renumbered densely in the order of their old ids (so every
//! postings list and every measurement's series list stays sorted); a field is written
//! only if some kept column uses it, a tag value only if some kept series has it, a
//! measurement only if it has a kept series. Hidden flags and the raw-spelling caches are
//! not part of an image: an index rebuilt from segments has neither.
//!
//! The series keys are not in the index part when a segment directory holds them: the
//! caller names, per series, where the key is (a segment's directory position, read back
//! through the caller's resolver, which shares the directory's `Arc`), or writes it inline.

use super::catalog::Measurement;
use super::id_table::hash32;
use super::tag_values::TagValues;
use super::{ColumnInfo, Index, NO_COLUMN, SeriesEntry, SeriesId};
use crate::model::FieldType;
use crate::model::series::{put_uvarint, read_uvarint};
use crate::retention::Retention;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a series' key is read from when the image is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// Written in the image.
    Inline,
    /// The key of the series at `position` of the directory of the image's `segment`-th
    /// segment.
    At { segment: u32, position: u32 },
}

/// Marks an old id that the image does not keep, in [`Renumbering`].
pub(crate) const DROPPED: u32 = u32::MAX;

/// Old series id → id in the image (or [`DROPPED`]).
#[derive(Debug)]
pub(crate) struct Renumbering {
    /// By old series id.
    pub series: Vec<u32>,
}

fn renumber(keep: &[bool]) -> Vec<u32> {
    let mut next = 0u32;
    keep.iter()
        .map(|&k| {
            if k {
                next += 1;
                next - 1
            } else {
                DROPPED
            }
        })
        .collect()
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A measurement as decoded: name, fields, tag values.
type MeasurementParts = (
    String,
    Vec<(String, FieldType)>,
    BTreeMap<String, TagValues>,
);

/// Why an image's index part does not decode: the byte offset (from the start of the
/// bytes given) and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {what}")]
pub struct ImageError {
    /// Offset of the problem.
    pub offset: usize,
    /// What is wrong.
    pub what: String,
}

/// A bounds-checked reader over an image's bytes.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, pos: 0 }
    }

    /// The offset of the next byte.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// An error at the current offset.
    pub(crate) fn err(&self, what: impl Into<String>) -> ImageError {
        ImageError {
            offset: self.pos,
            what: what.into(),
        }
    }

    /// The next unsigned LEB128 value.
    pub(crate) fn uvarint(&mut self) -> Result<u64, ImageError> {
        let (v, used) = read_uvarint(&self.bytes[self.pos..])
            .ok_or_else(|| self.err("truncated or overlong varint"))?;
        self.pos += used;
        Ok(v)
    }

    /// The next varint as a `u32` below `bound` (what it counts or indexes: `what`).
    pub(crate) fn below(&mut self, bound: u64, what: &str) -> Result<u32, ImageError> {
        let at = self.pos;
        let v = self.uvarint()?;
        if v >= bound || v >= u64::from(u32::MAX) {
            return Err(ImageError {
                offset: at,
                what: format!("{what} {v} out of range (limit {bound})"),
            });
        }
        Ok(v as u32)
    }

    /// A count of items each at least `min_bytes` long: refused when the rest of the
    /// input could not hold them (so no allocation is sized by a damaged count).
    pub(crate) fn count(&mut self, min_bytes: usize, what: &str) -> Result<usize, ImageError> {
        let at = self.pos;
        let n = self.uvarint()?;
        let room = (self.bytes.len() - self.pos) as u64 / min_bytes.max(1) as u64;
        if n > room {
            return Err(ImageError {
                offset: at,
                what: format!("{what} count {n} exceeds what the file holds"),
            });
        }
        Ok(n as usize)
    }

    /// The next length-prefixed byte string.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], ImageError> {
        let len = self.count(1, "byte string")?;
        let b = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(b)
    }

    /// The next length-prefixed UTF-8 string.
    pub(crate) fn str(&mut self) -> Result<&'a str, ImageError> {
        let at = self.pos;
        let b = self.bytes()?;
        std::str::from_utf8(b).map_err(|_| ImageError {
            offset: at,
            what: "string is not UTF-8".into(),
        })
    }

    /// The next byte.
    pub(crate) fn u8(&mut self) -> Result<u8, ImageError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| self.err("unexpected end"))?;
        self.pos += 1;
        Ok(b)
    }
}

impl Index {
    /// Appends the index part of an image to `out`, keeping the series and columns
    /// marked in `keep_series` / `keep_columns` (by id; an id past the end is not kept;
    /// a kept column's series must be kept). `source` says where each kept series' key
    /// is read back from. Returns the renumbering used.
    pub(crate) fn encode_image(
        &self,
        keep_series: &[bool],
        keep_columns: &[bool],
        mut source: impl FnMut(SeriesId) -> KeySource,
        out: &mut Vec<u8>,
    ) -> Renumbering {
        let kept = |v: &[bool], i: usize| v.get(i).copied().unwrap_or(false);
        let keep_s: Vec<bool> = (0..self.series.len())
            .map(|i| kept(keep_series, i))
            .collect();
        let keep_c: Vec<bool> = (0..self.columns.len())
            .map(|c| kept(keep_columns, c) && keep_s[self.columns[c].series.0 as usize])
            .collect();
        let series_ids = renumber(&keep_s);
        // Fields some kept column uses, per measurement; then their new numbers.
        let mut field_used: Vec<Vec<bool>> = self
            .measurements
            .iter()
            .map(|m| vec![false; m.fields().len()])
            .collect();
        for (c, info) in self.columns.iter().enumerate() {
            if keep_c[c] {
                let m = self.series[info.series.0 as usize].measurement as usize;
                field_used[m][info.field as usize] = true;
            }
        }
        let field_ids: Vec<Vec<u32>> = field_used.iter().map(|u| renumber(u)).collect();
        let mut meas_used = vec![false; self.measurements.len()];
        for (i, s) in self.series.iter().enumerate() {
            if keep_s[i] {
                meas_used[s.measurement as usize] = true;
            }
        }
        let meas_ids = renumber(&meas_used);

        // Measurements, in id order.
        put_uvarint(out, meas_used.iter().filter(|&&u| u).count() as u64);
        let mut postings: Vec<u32> = Vec::new();
        let (mut tags_buf, mut values_buf) = (Vec::new(), Vec::new());
        for (mi, m) in self.measurements.iter().enumerate() {
            if !meas_used[mi] {
                continue;
            }
            put_bytes(out, m.name().as_bytes());
            let fields: Vec<&(String, FieldType)> = m
                .fields()
                .iter()
                .enumerate()
                .filter(|(f, _)| field_used[mi][*f])
                .map(|(_, f)| f)
                .collect();
            put_uvarint(out, fields.len() as u64);
            for (name, ty) in fields {
                put_bytes(out, name.as_bytes());
                out.push(ty.tag());
            }
            // Tag keys and values that keep a series, each written once: a key's values
            // go to `values_buf` first, since their count comes before them.
            let mut n_keys = 0u64;
            tags_buf.clear();
            for (key, values) in m.tags() {
                values_buf.clear();
                let mut n_values = 0u64;
                for (text, ids) in values.iter() {
                    postings.clear();
                    postings.extend(
                        ids.iter()
                            .map(|s| series_ids[s.0 as usize])
                            .filter(|&s| s != DROPPED),
                    );
                    if postings.is_empty() {
                        continue;
                    }
                    n_values += 1;
                    put_bytes(&mut values_buf, text);
                    put_uvarint(&mut values_buf, postings.len() as u64);
                    let mut prev = 0u32;
                    for (i, &s) in postings.iter().enumerate() {
                        // Sorted, without repeats: deltas after the first are ≥ 1.
                        put_uvarint(
                            &mut values_buf,
                            u64::from(if i == 0 { s } else { s - prev - 1 }),
                        );
                        prev = s;
                    }
                }
                if n_values > 0 {
                    n_keys += 1;
                    put_bytes(&mut tags_buf, key.as_bytes());
                    put_uvarint(&mut tags_buf, n_values);
                    tags_buf.extend_from_slice(&values_buf);
                }
            }
            put_uvarint(out, n_keys);
            out.extend_from_slice(&tags_buf);
        }
        // Series, in id order.
        put_uvarint(out, keep_s.iter().filter(|&&k| k).count() as u64);
        for (i, s) in self.series.iter().enumerate() {
            if !keep_s[i] {
                continue;
            }
            put_uvarint(out, u64::from(meas_ids[s.measurement as usize]));
            match source(SeriesId(i as u32)) {
                KeySource::Inline => {
                    put_uvarint(out, 0);
                    put_bytes(out, &s.key);
                }
                KeySource::At { segment, position } => {
                    put_uvarint(out, u64::from(segment) + 1);
                    put_uvarint(out, u64::from(position));
                }
            }
        }
        // Columns, in id order: series, field.
        put_uvarint(out, keep_c.iter().filter(|&&k| k).count() as u64);
        for (c, info) in self.columns.iter().enumerate() {
            if !keep_c[c] {
                continue;
            }
            let m = self.series[info.series.0 as usize].measurement as usize;
            put_uvarint(out, u64::from(series_ids[info.series.0 as usize]));
            put_uvarint(out, u64::from(field_ids[m][info.field as usize]));
        }
        Renumbering { series: series_ids }
    }

    /// Reads the index part of an image written by [`Index::encode_image`]. `key_at`
    /// returns the key at a segment's directory position (`None` if there is none).
    /// Every number is checked against what it indexes, so damage is an error, never a
    /// panic; the caller treats any error as "rebuild instead".
    pub(crate) fn decode_image(
        cur: &mut Cursor<'_>,
        retention: Arc<Retention>,
        mut key_at: impl FnMut(u32, u32) -> Option<Arc<[u8]>>,
    ) -> Result<Index, ImageError> {
        let mut index = Index::with_retention(retention);
        let n_meas = cur.count(2, "measurement")?;
        // Per measurement: its series from the postings, checked against the series table.
        let mut meas_parts: Vec<MeasurementParts> = Vec::with_capacity(n_meas);
        let mut ids: Vec<SeriesId> = Vec::new();
        for _ in 0..n_meas {
            let name = cur.str()?.to_owned();
            if name.is_empty() || index.measurement_ids.contains_key(&name) {
                return Err(cur.err(format!("measurement {name:?} empty or repeated")));
            }
            let n_fields = cur.count(2, "field")?;
            let mut fields = Vec::with_capacity(n_fields);
            for _ in 0..n_fields {
                let f = cur.str()?.to_owned();
                let ty =
                    FieldType::from_tag(cur.u8()?).ok_or_else(|| cur.err("unknown field type"))?;
                if fields.iter().any(|(g, _)| *g == f) {
                    return Err(cur.err(format!("field {f:?} repeated")));
                }
                fields.push((f, ty));
            }
            let n_keys = cur.count(2, "tag key")?;
            let mut tags = BTreeMap::new();
            for _ in 0..n_keys {
                let key = cur.str()?.to_owned();
                let n_values = cur.count(3, "tag value")?;
                if n_values == 0 {
                    return Err(cur.err(format!("tag key {key:?} without values")));
                }
                let mut values = TagValues::with_capacity(n_values);
                for _ in 0..n_values {
                    let text = cur.bytes()?;
                    let n = cur.count(1, "postings")?;
                    if n == 0 {
                        return Err(cur.err("empty postings"));
                    }
                    ids.clear();
                    let mut prev: u64 = 0;
                    for i in 0..n {
                        let d = cur.uvarint()?;
                        let s = if i == 0 {
                            d
                        } else {
                            prev.saturating_add(d).saturating_add(1)
                        };
                        if s >= u64::from(u32::MAX) {
                            return Err(cur.err("series id out of range"));
                        }
                        ids.push(SeriesId(s as u32));
                        prev = s;
                    }
                    values.push_unindexed(text, &ids);
                }
                values.index_all();
                if tags.insert(key, values).is_some() {
                    return Err(cur.err("tag key repeated"));
                }
            }
            index
                .measurement_ids
                .insert(name.clone(), meas_parts.len() as u32);
            meas_parts.push((name, fields, tags));
        }
        let n_series = cur.count(2, "series")?;
        index.series.reserve_exact(n_series);
        let mut hashes: Vec<(u32, u32)> = Vec::with_capacity(n_series);
        let mut by_meas: Vec<Vec<SeriesId>> = vec![Vec::new(); n_meas];
        for id in 0..n_series as u32 {
            let m = cur.below(n_meas as u64, "measurement")?;
            let key: Arc<[u8]> = match cur.uvarint()? {
                0 => Arc::from(cur.bytes()?),
                seg => {
                    let seg =
                        u32::try_from(seg - 1).map_err(|_| cur.err("segment out of range"))?;
                    let pos = cur.below(u64::from(u32::MAX), "position")?;
                    key_at(seg, pos)
                        .ok_or_else(|| cur.err(format!("no key at segment {seg} position {pos}")))?
                }
            };
            hashes.push((id, hash32(&key)));
            by_meas[m as usize].push(SeriesId(id));
            index.series.push(SeriesEntry {
                key,
                measurement: m,
                hidden: false,
                columns: Default::default(),
            });
        }
        index.by_key = super::id_table::IdTable::from_unique(hashes);
        let n_columns = cur.count(2, "column")?;
        index.columns.reserve_exact(n_columns);
        for c in 0..n_columns as u32 {
            let s = cur.below(n_series as u64, "series")?;
            let entry = &mut index.series[s as usize];
            let fields = &meas_parts[entry.measurement as usize].1;
            let f = cur.below(fields.len() as u64, "field")?;
            let slot = f as usize;
            let at = entry.columns.slot(slot);
            if *at != NO_COLUMN {
                return Err(cur.err("two columns for one field of a series"));
            }
            *at = c;
            index.columns.push(ColumnInfo {
                series: SeriesId(s),
                field: f,
                field_type: fields[slot].1,
            });
        }
        for (mi, (name, fields, tags)) in meas_parts.into_iter().enumerate() {
            let series = std::mem::take(&mut by_meas[mi]);
            if series.is_empty() {
                return Err(cur.err(format!("measurement {name:?} has no series")));
            }
            // Postings are sorted (checked as read) and name existing series: their last
            // id bounds them all.
            let n = index.series.len();
            for values in tags.values() {
                if values
                    .all_postings()
                    .any(|ids| ids.last().is_some_and(|s| s.0 as usize >= n))
                {
                    return Err(cur.err(format!(
                        "postings of measurement {name:?} name a series the image lacks"
                    )));
                }
            }
            index.groups.push(index.retention.group_of(&name));
            index
                .measurements
                .push(Measurement::from_parts(name, series, tags, fields));
        }
        Ok(index)
    }
}

/// The fuzz target's property (`fuzz/fuzz_targets/index_image.rs`): arbitrary bytes
/// decode to an index or an error, never a panic; a decoded index answers every listing
/// without panicking, and its own image decodes to an index that lists the same.
pub(crate) fn fuzz_check(data: &[u8]) {
    let keys = fuzz_keys();
    let key_at = |seg: u32, pos: u32| {
        (seg == 0)
            .then(|| keys.get(pos as usize).cloned())
            .flatten()
    };
    let Ok(index) = Index::decode_image(&mut Cursor::new(data), Arc::default(), key_at) else {
        return;
    };
    let listed = fuzz_listing(&index);
    let mut again = Vec::new();
    let all_s = vec![true; index.series_count()];
    let all_c = vec![true; index.column_count()];
    index.encode_image(&all_s, &all_c, |_| KeySource::Inline, &mut again);
    let back = Index::decode_image(&mut Cursor::new(&again), Arc::default(), |_, _| None)
        .expect("an image the encoder wrote decodes");
    assert_eq!(fuzz_listing(&back), listed);
}

fn fuzz_keys() -> Vec<Arc<[u8]>> {
    (0..4)
        .map(|i| {
            let mut k = Vec::new();
            crate::model::series::encode_canonical(
                "m",
                [("h", format!("{i}").as_str())].into_iter(),
                &mut k,
            );
            Arc::from(k)
        })
        .collect()
}

fn fuzz_listing(ix: &Index) -> Vec<String> {
    let mut out = Vec::new();
    for m in ix.all_measurements() {
        // Not `fields`: a damaged image may list fields no column uses, which the
        // encoder leaves out (the columns below name every field that matters).
        let _ = ix.fields(&m);
        out.push(format!("{m} {:?}", ix.tag_keys(&m)));
        for k in ix.tag_keys(&m) {
            for v in ix.tag_values(&m, &k) {
                let keys: Vec<Option<Vec<u8>>> = ix
                    .postings(&m, &k, &v)
                    .iter()
                    .map(|s| ix.series_key_bytes(*s).map(<[u8]>::to_vec))
                    .collect();
                out.push(format!("{k}={v} {keys:?}"));
            }
        }
        for s in ix.all_series_of(&m) {
            let key = ix.series_key_bytes(s).map(<[u8]>::to_vec);
            // Field ids are renumbered when unused fields are left out: compare names.
            let cols: Vec<String> = ix
                .columns_of(s)
                .into_iter()
                .map(|(n, c, _)| {
                    let info = ix.column_info(c).map(|i| (i.series, i.field_type));
                    format!("{n} {info:?} {:?}", ix.column_name(c))
                })
                .collect();
            out.push(format!(
                "{key:?} {cols:?} {:?}",
                key.as_deref().map(|k| ix.lookup_key(k))
            ));
        }
    }
    out
}

/// A small image (every key inline) for the fuzz target's seeds.
pub(crate) fn fuzz_seed() -> Vec<u8> {
    let mut ix = Index::default();
    for (m, h, f) in [
        ("cpu", "a", "x"),
        ("cpu", "b", "x"),
        ("cpu", "b", "y"),
        ("mem", "a", "z"),
    ] {
        let k = crate::model::SeriesKey::new(m, [("host", h)]).expect("a valid key");
        let mut canon = Vec::new();
        k.encode_into(&mut canon);
        let id = ix.get_or_create(&k, &canon);
        let _ = ix.column_or_create(id, f, FieldType::Float);
    }
    let mut out = Vec::new();
    ix.encode_image(
        &[true; 3],
        &[true; 4],
        |s| {
            if s.0 == 1 {
                KeySource::At {
                    segment: 0,
                    position: 2,
                }
            } else {
                KeySource::Inline
            }
        },
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SeriesKey;

    fn build() -> Index {
        let mut ix = Index::default();
        let keys = [
            ("cpu", vec![("host", "a"), ("dc", "x")]),
            ("cpu", vec![("host", "b"), ("dc", "x")]),
            ("mem", vec![("host", "a")]),
            ("cpu", vec![("host", "c"), ("dc", "y")]),
            ("disk", vec![("host", "z")]),
        ];
        for (m, tags) in keys {
            let k = SeriesKey::new(m, tags).unwrap();
            let mut canon = Vec::new();
            k.encode_into(&mut canon);
            let id = ix.get_or_create(&k, &canon);
            ix.column_or_create(id, "usage", FieldType::Float).unwrap();
            ix.column_or_create(id, "count", FieldType::Integer)
                .unwrap();
        }
        ix
    }

    fn listing(ix: &Index) -> Vec<String> {
        let mut out = Vec::new();
        for m in ix.all_measurements() {
            out.push(format!("m {m} fields {:?}", ix.fields(&m)));
            for k in ix.tag_keys(&m) {
                for v in ix.tag_values(&m, &k) {
                    let keys: Vec<String> = ix
                        .postings(&m, &k, &v)
                        .iter()
                        .map(|s| format!("{:?}", ix.series_key(*s).unwrap()))
                        .collect();
                    out.push(format!("  {k}={v}: {keys:?}"));
                }
            }
            for s in ix.series_of(&m) {
                let cols: Vec<(String, FieldType)> = ix
                    .columns_of(s)
                    .into_iter()
                    .map(|(n, c, t)| {
                        assert_eq!(ix.column_info(c).unwrap().series, s);
                        (n, t)
                    })
                    .collect();
                let key = ix.series_key_bytes(s).unwrap().to_vec();
                assert_eq!(ix.lookup_key(&key), Some(s));
                out.push(format!("  series {:?} {cols:?}", ix.series_key(s).unwrap()));
            }
        }
        out
    }

    fn round_trip(ix: &Index, keep_s: &[bool], keep_c: &[bool]) -> Result<Index, ImageError> {
        let mut out = Vec::new();
        ix.encode_image(keep_s, keep_c, |_| KeySource::Inline, &mut out);
        let mut cur = Cursor::new(&out);
        let back = Index::decode_image(&mut cur, Arc::default(), |_, _| None)?;
        assert_eq!(cur.pos(), out.len());
        Ok(back)
    }

    #[test]
    fn an_image_of_everything_lists_the_same() {
        let ix = build();
        let back = round_trip(&ix, &[true; 5], &[true; 10]).unwrap();
        assert_eq!(listing(&back), listing(&ix));
        assert_eq!(back.series_count(), 5);
        assert_eq!(back.column_count(), 10);
    }

    #[test]
    fn dropped_series_fields_values_and_measurements_leave_no_trace() {
        let ix = build();
        // Series 1 (cpu host=b) and 4 (disk) go; of the rest only `usage` (even column
        // ids) is kept, except series 3 keeps both.
        let keep_s = [true, false, true, true, false];
        let keep_c = [true, false, true, true, true, false, true, true, true, true];
        let back = round_trip(&ix, &keep_s, &keep_c).unwrap();
        assert_eq!(back.all_measurements(), vec!["cpu", "mem"]);
        assert_eq!(back.tag_values("cpu", "host"), vec!["a", "c"]);
        assert_eq!(back.tag_values("cpu", "dc"), vec!["x", "y"]);
        // `mem` lost its `count` column, so its field list lost `count`.
        assert_eq!(
            back.fields("mem"),
            vec![("usage".to_string(), FieldType::Float)]
        );
        assert_eq!(back.series_count(), 3);
        assert_eq!(back.column_count(), 4);
        let cpu_c = SeriesKey::new("cpu", [("host", "c"), ("dc", "y")]).unwrap();
        let mut canon = Vec::new();
        cpu_c.encode_into(&mut canon);
        let id = back.lookup_key(&canon).unwrap();
        assert_eq!(back.columns_of(id).len(), 2);
    }

    #[test]
    fn every_truncation_and_byte_flip_is_an_error_or_a_valid_index() {
        let ix = build();
        let mut out = Vec::new();
        ix.encode_image(&[true; 5], &[true; 10], |_| KeySource::Inline, &mut out);
        for cut in 0..out.len() {
            let mut cur = Cursor::new(&out[..cut]);
            assert!(Index::decode_image(&mut cur, Arc::default(), |_, _| None).is_err());
        }
        for i in 0..out.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = out.clone();
                bad[i] ^= flip;
                let mut cur = Cursor::new(&bad);
                // Must not panic; a decoded index must answer listings without panicking.
                if let Ok(back) = Index::decode_image(&mut cur, Arc::default(), |_, _| None) {
                    let _ = listing_lenient(&back);
                }
            }
        }
    }

    fn listing_lenient(ix: &Index) -> usize {
        let mut n = 0;
        for m in ix.all_measurements() {
            for k in ix.tag_keys(&m) {
                n += ix.tag_values(&m, &k).len();
            }
            for s in ix.series_of(&m) {
                n += ix.columns_of(s).len();
            }
        }
        n
    }

    #[test]
    fn keys_come_from_the_resolver() {
        let ix = build();
        let keys: Vec<Arc<[u8]>> = (0..5)
            .map(|i| Arc::from(ix.series_key_bytes(SeriesId(i)).unwrap()))
            .collect();
        let mut out = Vec::new();
        ix.encode_image(
            &[true; 5],
            &[true; 10],
            |s| KeySource::At {
                segment: 7,
                position: s.0 * 2,
            },
            &mut out,
        );
        let mut cur = Cursor::new(&out);
        let back = Index::decode_image(&mut cur, Arc::default(), |seg, pos| {
            (seg == 7 && pos % 2 == 0).then(|| keys[(pos / 2) as usize].clone())
        })
        .unwrap();
        assert!(Arc::ptr_eq(&back.series[3].key, &keys[3]));
        assert_eq!(listing(&back), listing(&ix));
        let mut cur = Cursor::new(&out);
        assert!(Index::decode_image(&mut cur, Arc::default(), |_, _| None).is_err());
    }
}
