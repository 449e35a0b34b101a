//! The in-memory series index and field catalog.
//!
//! - measurement → its series, and (tag key, tag value) → sorted postings of series ids;
//! - canonical series key → id, plus caches from the raw spelling of a series in each
//!   input format ([`RawKind`]: line protocol `cpu,host=a,region=eu` with tags in any
//!   order, a text-format `up{job="a"}`, a remote-write request's encoded labels) → id,
//!   so that the write path resolves a known series with one hash of the bytes it
//!   received: no tag parsing, sorting, validation or allocation;
//! - per measurement, its fields and their types (the first type written wins), and per
//!   series, the column id of each of its fields.
//!
//! Invariants: series ids and column ids are dense and assigned in increasing order, so
//! every postings list is sorted by construction; a field id indexes its measurement's
//! `fields`; `columns[c].series` has `c` in its column table. The index is rebuilt on open
//! from the WAL (and, once they exist, from the segment files' series tables).

mod catalog;
mod id_table;
pub(crate) mod image;
pub mod postings;
mod raw;
mod slots;
mod tag_values;

pub use catalog::FieldConflict;

use crate::model::series::read_uvarint;
use crate::model::{FieldType, SeriesKey, SeriesKeyError};
use crate::retention::{Retention, RetentionGroup};
use catalog::Measurement;
use id_table::{IdTable, hash32};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The length-prefixed parts of a canonical series key, borrowed.
#[derive(Clone)]
struct CanonicalParts<'a> {
    rest: &'a [u8],
    total: usize,
}

impl<'a> Iterator for CanonicalParts<'a> {
    type Item = Result<&'a str, SeriesKeyError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let offset = self.total - self.rest.len();
        let bad = SeriesKeyError::Malformed { offset };
        let part = read_uvarint(self.rest).and_then(|(len, used)| {
            let len = usize::try_from(len).ok()?;
            let bytes = self.rest.get(used..used.checked_add(len)?)?;
            let s = std::str::from_utf8(bytes).ok()?;
            self.rest = &self.rest[used + len..];
            Some(s)
        });
        if part.is_none() {
            self.rest = &[];
        }
        Some(part.ok_or(bad))
    }
}

/// Dense id of a series, assigned on first write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId(pub u32);

/// Dense id of a column (one field of one series).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ColumnId(pub u32);

const NO_COLUMN: u32 = u32::MAX;

/// How many [`RawKind`]s there are (one raw cache each).
pub const RAW_KINDS: usize = 4;

/// The starting hint of [`Index::lookup_raw_hinted`].
pub const RAW_NO_HINT: u32 = raw::NO_ENTRY;

#[derive(Debug)]
struct SeriesEntry {
    key: Arc<[u8]>,
    measurement: u32,
    /// Hidden by `DROP MEASUREMENT` until written again.
    hidden: bool,
    /// Column id per field id of the measurement; `NO_COLUMN` where the series has none.
    columns: slots::ColumnSlots,
}

/// Where a column lives and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnInfo {
    /// The series.
    pub series: SeriesId,
    /// The field id within the series' measurement.
    pub field: u32,
    /// The column's type.
    pub field_type: FieldType,
}

/// An input format whose raw series spellings the index caches (each in its own map: the
/// same bytes can name different series in two formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawKind {
    /// Line protocol: the measurement and tag section as written.
    LineProtocol = 0,
    /// Prometheus text exposition: the metric name and label set as written.
    PromText = 1,
    /// Prometheus remote write: a `TimeSeries`' encoded `Label` fields, back to back.
    RemoteWrite = 2,
    /// A scraped page's sample as written, behind the scraping loop's fingerprint of what
    /// turns it into a series (target labels, relabelling): see `strata-scrape`.
    Scrape = 3,
}

/// The series index; see the module docs.
#[derive(Debug, Default)]
pub struct Index {
    by_raw: [raw::RawCache; RAW_KINDS],
    /// Series ids by canonical key (the keys are the series table's).
    by_key: IdTable,
    series: Vec<SeriesEntry>,
    measurement_ids: BTreeMap<String, u32>,
    measurements: Vec<Measurement>,
    columns: Vec<ColumnInfo>,
    /// The retention policy, which sets each measurement's group when it is created.
    retention: Arc<Retention>,
    /// The retention group of each measurement, by measurement id.
    groups: Vec<RetentionGroup>,
}

impl Index {
    /// An empty index whose measurements take their retention group from `retention`.
    pub fn with_retention(retention: Arc<Retention>) -> Index {
        Index {
            retention,
            ..Index::default()
        }
    }

    /// The retention group of series `id`'s measurement (the global one for an unknown
    /// series).
    pub fn retention_group(&self, id: SeriesId) -> RetentionGroup {
        self.series
            .get(id.0 as usize)
            .and_then(|s| self.groups.get(s.measurement as usize))
            .copied()
            .unwrap_or_default()
    }

    /// The retention group of measurement `name`, if it exists.
    pub fn measurement_retention_group(&self, name: &str) -> Option<RetentionGroup> {
        let &m = self.measurement_ids.get(name)?;
        self.groups.get(m as usize).copied()
    }

    /// The retention group of column `c`'s series.
    pub fn column_retention_group(&self, c: ColumnId) -> RetentionGroup {
        self.columns
            .get(c.0 as usize)
            .map_or(RetentionGroup::GLOBAL, |i| self.retention_group(i.series))
    }

    /// The series whose raw spelling in format `kind` is `raw`, if seen before.
    pub fn lookup_raw(&self, kind: RawKind, raw: &[u8]) -> Option<SeriesId> {
        let mut hint = RAW_NO_HINT;
        self.by_raw[kind as usize].get(raw, &mut hint)
    }

    /// [`Index::lookup_raw`] for a writer that looks up many spellings in a row: `hint`
    /// (start with [`RAW_NO_HINT`]) carries what the previous lookup found, so that a
    /// sender's usual order of series is followed without hashing.
    #[inline]
    pub fn lookup_raw_hinted(&self, kind: RawKind, raw: &[u8], hint: &mut u32) -> Option<SeriesId> {
        self.by_raw[kind as usize].get(raw, hint)
    }

    /// The `value` column remembered ([`Index::remember_raw_value_column`]) for the raw
    /// spelling that a hinted lookup of format `kind` left in `hint`.
    #[inline]
    pub fn raw_value_column(&self, kind: RawKind, hint: u32) -> Option<ColumnId> {
        self.by_raw[kind as usize].value_column(hint).map(ColumnId)
    }

    /// Remembers `column` as the float `value` column of the series of the raw spelling
    /// that a hinted lookup of format `kind` left in `hint` (under the read lock: the
    /// column of a series' field never changes once created).
    pub fn remember_raw_value_column(&self, kind: RawKind, hint: u32, column: ColumnId) {
        self.by_raw[kind as usize].set_value_column(hint, column.0);
    }

    /// Remembers that `raw` spells series `id` in format `kind`. Bounded: at most 4
    /// spellings per series on average (per format) are kept, beyond which new spellings
    /// are simply not cached.
    pub fn remember_raw(&mut self, kind: RawKind, raw: &[u8], id: SeriesId) {
        let cache = &mut self.by_raw[kind as usize];
        if cache.len() < self.series.len().saturating_mul(4) + 1024 {
            cache.insert(raw, id);
        }
    }

    /// Series of measurement `name` (hidden ones included).
    pub fn series_count_of(&self, name: &str) -> usize {
        self.measurement(name).map_or(0, |m| m.series().len())
    }

    /// The series with canonical key bytes `canonical`, if any.
    pub fn lookup_key(&self, canonical: &[u8]) -> Option<SeriesId> {
        self.lookup_hashed(hash32(canonical), canonical)
    }

    #[inline]
    fn lookup_hashed(&self, h: u32, canonical: &[u8]) -> Option<SeriesId> {
        self.by_key
            .find(h, |id| &*self.series[id as usize].key == canonical)
            .map(SeriesId)
    }

    /// The id of `key`, creating the series (and its measurement) on first sight.
    /// `canonical` must be `key`'s canonical encoding.
    pub fn get_or_create(&mut self, key: &SeriesKey, canonical: &[u8]) -> SeriesId {
        let h = hash32(canonical);
        if let Some(id) = self.lookup_hashed(h, canonical) {
            return id;
        }
        let id = SeriesId(u32::try_from(self.series.len()).expect("fewer than 2^32 series"));
        let m = self.measurement_id_or_create(key.measurement());
        self.measurements[m as usize]
            .add_series(id, key.tags().iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.by_key.insert_new(h, id.0);
        self.series.push(SeriesEntry {
            key: canonical.into(),
            measurement: m,
            hidden: false,
            columns: Default::default(),
        });
        id
    }

    /// [`Index::get_or_create`] from canonical key bytes alone (a segment's directory):
    /// the key is read in place, and strings are allocated only for tag keys and values
    /// the index has not seen. The key must be canonical (tags sorted by key, keys
    /// unique, no empty part), else it is refused.
    pub fn get_or_create_canonical(
        &mut self,
        canonical: &Arc<[u8]>,
    ) -> Result<SeriesId, SeriesKeyError> {
        let h = hash32(canonical);
        if let Some(id) = self.lookup_hashed(h, canonical) {
            return Ok(id);
        }
        let mut parts = CanonicalParts {
            rest: canonical,
            total: canonical.len(),
        };
        let measurement = parts
            .next()
            .transpose()?
            .ok_or(SeriesKeyError::EmptyMeasurement)?;
        if measurement.is_empty() {
            return Err(SeriesKeyError::EmptyMeasurement);
        }
        // Check the tags before changing anything, keeping them (on the stack for the
        // usual few) so that the key is read once.
        const INLINE: usize = 8;
        let mut inline: [(&str, &str); INLINE] = [("", ""); INLINE];
        let mut spilled: Vec<(&str, &str)> = Vec::new();
        let mut n = 0usize;
        let mut previous: Option<&str> = None;
        while let Some(k) = parts.next().transpose()? {
            let v = parts.next().transpose()?.ok_or(SeriesKeyError::Malformed {
                offset: canonical.len(),
            })?;
            if k.is_empty() {
                return Err(SeriesKeyError::EmptyTagKey);
            }
            if v.is_empty() {
                return Err(SeriesKeyError::EmptyTagValue { key: k.to_owned() });
            }
            match previous.map(|p| p.cmp(k)) {
                Some(std::cmp::Ordering::Equal) => {
                    return Err(SeriesKeyError::DuplicateTagKey { key: k.to_owned() });
                }
                // Not canonical: tags out of order.
                Some(std::cmp::Ordering::Greater) => {
                    return Err(SeriesKeyError::Malformed { offset: 0 });
                }
                _ => {}
            }
            previous = Some(k);
            if n < INLINE {
                inline[n] = (k, v);
            } else {
                if spilled.is_empty() {
                    spilled.extend_from_slice(&inline);
                }
                spilled.push((k, v));
            }
            n += 1;
        }
        let pairs = if n <= INLINE {
            &inline[..n]
        } else {
            &spilled[..]
        };
        let id = SeriesId(u32::try_from(self.series.len()).expect("fewer than 2^32 series"));
        let m = self.measurement_id_or_create(measurement);
        self.measurements[m as usize].add_series(id, pairs.iter().copied());
        self.by_key.insert_new(h, id.0);
        self.series.push(SeriesEntry {
            key: canonical.clone(),
            measurement: m,
            hidden: false,
            columns: Default::default(),
        });
        Ok(id)
    }

    /// Makes room for `series` more series and `columns` more columns.
    pub fn reserve(&mut self, series: usize, columns: usize) {
        self.by_key.reserve(series);
        self.series.reserve(series);
        self.columns.reserve(columns);
    }

    fn measurement_id_or_create(&mut self, name: &str) -> u32 {
        if let Some(&m) = self.measurement_ids.get(name) {
            return m;
        }
        let m = u32::try_from(self.measurements.len()).expect("fewer than 2^32 measurements");
        self.measurement_ids.insert(name.to_owned(), m);
        self.measurements.push(Measurement::new(name));
        self.groups.push(self.retention.group_of(name));
        m
    }

    /// The column of field `name` in series `id` if both the field and the column exist,
    /// with the field's type; `Err` with the stored type when `ty` conflicts with it.
    /// `Ok(None)` means [`Index::column_or_create`] is needed.
    pub fn find_column(
        &self,
        id: SeriesId,
        name: &str,
        ty: FieldType,
    ) -> Result<Option<ColumnId>, FieldConflict> {
        let s = &self.series[id.0 as usize];
        let m = &self.measurements[s.measurement as usize];
        let Some(fid) = m.field_id(name, ty)? else {
            return Ok(None);
        };
        Ok(s.columns.get(fid as usize).map(ColumnId))
    }

    /// The column of field `name` in series `id`, registering the field with type `ty`
    /// and creating the column as needed; `Err` when the field exists with another type.
    pub fn column_or_create(
        &mut self,
        id: SeriesId,
        name: &str,
        ty: FieldType,
    ) -> Result<ColumnId, FieldConflict> {
        let mid = self.series[id.0 as usize].measurement as usize;
        let fid = self.measurements[mid].field_id_or_create(name, ty)?;
        let next = u32::try_from(self.columns.len()).expect("fewer than 2^32 columns");
        let s = &mut self.series[id.0 as usize];
        let slot = s.columns.slot(fid as usize);
        if *slot == NO_COLUMN {
            *slot = next;
            self.columns.push(ColumnInfo {
                series: id,
                field: fid,
                field_type: ty,
            });
        }
        Ok(ColumnId(*slot))
    }

    /// What column `c` is.
    pub fn column_info(&self, c: ColumnId) -> Option<ColumnInfo> {
        self.columns.get(c.0 as usize).copied()
    }

    /// The field name of column `c`, in constant time (a column knows its field id, and a
    /// field id indexes its measurement's fields), so callers that walk many columns stay
    /// linear in them however wide a series is.
    pub fn column_name(&self, c: ColumnId) -> Option<&str> {
        let info = self.columns.get(c.0 as usize)?;
        let s = self.series.get(info.series.0 as usize)?;
        let m = self.measurements.get(s.measurement as usize)?;
        m.fields().get(info.field as usize).map(|(n, _)| n.as_str())
    }

    /// Number of series.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Number of columns.
    pub fn column_count(&self) -> usize {
        self.columns.len()
    }

    /// The key of series `id`.
    pub fn series_key(&self, id: SeriesId) -> Option<SeriesKey> {
        let s = self.series.get(id.0 as usize)?;
        SeriesKey::decode(&s.key).ok()
    }

    /// The canonical key bytes of series `id`.
    pub fn series_key_bytes(&self, id: SeriesId) -> Option<&[u8]> {
        self.series.get(id.0 as usize).map(|s| &*s.key)
    }

    /// The canonical key of series `id` as the index holds it (shared with the segment
    /// directory it was read from, when it was).
    pub(crate) fn series_key_ref(&self, id: SeriesId) -> Option<&Arc<[u8]>> {
        self.series.get(id.0 as usize).map(|s| &s.key)
    }

    /// Measurement names with at least one visible series, sorted.
    pub fn measurements(&self) -> impl Iterator<Item = &str> {
        self.measurement_ids
            .iter()
            .filter(|(_, m)| {
                self.measurements[**m as usize]
                    .series()
                    .iter()
                    .any(|s| !self.series[s.0 as usize].hidden)
            })
            .map(|(n, _)| n.as_str())
    }

    /// Whether series `id` is hidden (its measurement was dropped, it was not written since).
    pub fn is_hidden(&self, id: SeriesId) -> bool {
        self.series.get(id.0 as usize).is_some_and(|s| s.hidden)
    }

    /// Shows or hides series `id` in listings.
    pub fn set_hidden(&mut self, id: SeriesId, hidden: bool) {
        if let Some(s) = self.series.get_mut(id.0 as usize) {
            s.hidden = hidden;
        }
    }

    /// Every measurement name, hidden ones included, sorted.
    pub fn all_measurements(&self) -> Vec<String> {
        self.measurement_ids.keys().cloned().collect()
    }

    /// Series ids of `measurement`, hidden ones included, sorted.
    pub fn all_series_of(&self, measurement: &str) -> Vec<SeriesId> {
        self.measurement(measurement)
            .map_or_else(Vec::new, |m| m.series().to_vec())
    }

    /// Series of `measurement` (hidden ones included) whose tags include every pair in
    /// `tags`.
    pub fn matching_series(&self, measurement: &str, tags: &[(String, String)]) -> Vec<SeriesId> {
        self.measurement(measurement).map_or_else(Vec::new, |m| {
            m.series()
                .iter()
                .copied()
                .filter(|&s| {
                    self.series_key(s)
                        .is_some_and(|k| tags.iter().all(|(tk, tv)| k.tag(tk) == Some(tv.as_str())))
                })
                .collect()
        })
    }

    fn measurement(&self, name: &str) -> Option<&Measurement> {
        self.measurement_ids
            .get(name)
            .map(|&m| &self.measurements[m as usize])
    }

    /// Visible series ids of `measurement`, sorted (empty if it does not exist).
    pub fn series_of(&self, measurement: &str) -> Vec<SeriesId> {
        self.measurement(measurement).map_or_else(Vec::new, |m| {
            m.series()
                .iter()
                .copied()
                .filter(|s| !self.series[s.0 as usize].hidden)
                .collect()
        })
    }

    /// Series ids of `measurement` with tag `key` = `value`, sorted.
    pub fn postings(&self, measurement: &str, key: &str, value: &str) -> &[SeriesId] {
        self.measurement(measurement)
            .map_or(&[], |m| m.postings(key, value))
    }

    fn any_hidden(&self, m: &Measurement) -> bool {
        m.series().iter().any(|s| self.series[s.0 as usize].hidden)
    }

    fn any_visible(&self, ids: &[SeriesId]) -> bool {
        ids.iter().any(|s| !self.series[s.0 as usize].hidden)
    }

    /// Whether `measurement` has a visible series (without listing them).
    fn visible(&self, measurement: &str) -> bool {
        self.measurement(measurement)
            .is_some_and(|m| self.any_visible(m.series()))
    }

    /// Tag keys of `measurement`, sorted (none once it is dropped).
    pub fn tag_keys(&self, measurement: &str) -> Vec<String> {
        if !self.visible(measurement) {
            return Vec::new();
        }
        let Some(m) = self.measurement(measurement) else {
            return Vec::new();
        };
        if !self.any_hidden(m) {
            return m.tag_keys().map(str::to_owned).collect();
        }
        // Keys of visible series only: a dropped series' tags leave the listings.
        m.tag_keys()
            .filter(|k| m.any_postings(k, |p| self.any_visible(p)))
            .map(str::to_owned)
            .collect()
    }

    /// Values of tag `key` in `measurement`, sorted (none once it is dropped).
    pub fn tag_values(&self, measurement: &str, key: &str) -> Vec<String> {
        if !self.visible(measurement) {
            return Vec::new();
        }
        let Some(m) = self.measurement(measurement) else {
            return Vec::new();
        };
        let hidden = self.any_hidden(m);
        m.tag_values(key)
            .into_iter()
            .filter(|(_, p)| !hidden || self.any_visible(p))
            .map(|(v, _)| v.to_owned())
            .collect()
    }

    /// Fields of `measurement` with their types, sorted by name (none once it is dropped).
    pub fn fields(&self, measurement: &str) -> Vec<(String, FieldType)> {
        if !self.visible(measurement) {
            return Vec::new();
        }
        let mut f = self
            .measurement(measurement)
            .map_or_else(Vec::new, |m| m.fields().to_vec());
        f.sort();
        f
    }

    /// Per field of `measurement` (sorted by name): its type and how many visible series
    /// have a column for it. No key is decoded.
    pub fn field_column_counts(&self, measurement: &str) -> Vec<(String, FieldType, usize)> {
        if !self.visible(measurement) {
            return Vec::new();
        }
        let Some(m) = self.measurement(measurement) else {
            return Vec::new();
        };
        let mut counts = vec![0usize; m.fields().len()];
        for &id in m.series() {
            let s = &self.series[id.0 as usize];
            if s.hidden {
                continue;
            }
            for (fid, &c) in s.columns.as_slice().iter().enumerate() {
                if c != NO_COLUMN
                    && let Some(n) = counts.get_mut(fid)
                {
                    *n += 1;
                }
            }
        }
        let mut out: Vec<(String, FieldType, usize)> = m
            .fields()
            .iter()
            .zip(counts)
            .map(|((name, ty), n)| (name.clone(), *ty, n))
            .collect();
        out.sort();
        out
    }

    /// Per value of tag `key` in `measurement` (sorted): how many columns whose type
    /// `keep` accepts the visible series carrying it have. No key is decoded.
    pub fn tag_value_column_counts(
        &self,
        measurement: &str,
        key: &str,
        keep: impl Fn(FieldType) -> bool,
    ) -> Vec<(String, usize)> {
        if !self.visible(measurement) {
            return Vec::new();
        }
        let Some(m) = self.measurement(measurement) else {
            return Vec::new();
        };
        let kept: Vec<bool> = m.fields().iter().map(|(_, t)| keep(*t)).collect();
        m.tag_values(key)
            .into_iter()
            .map(|(v, ids)| {
                let n = ids
                    .iter()
                    .map(|id| &self.series[id.0 as usize])
                    .filter(|s| !s.hidden)
                    .map(|s| {
                        s.columns
                            .as_slice()
                            .iter()
                            .zip(&kept)
                            .filter(|(c, k)| **c != NO_COLUMN && **k)
                            .count()
                    })
                    .sum();
                (v.to_owned(), n)
            })
            .collect()
    }

    /// The id and type of `field` in `measurement`, for [`Index::column_at`]: a field
    /// looked up once for a run of series of one measurement.
    pub fn field_of(&self, measurement: &str, field: &str) -> Option<(u32, FieldType)> {
        self.measurement(measurement)?.lookup_field(field)
    }

    /// The column of field id `fid` (from [`Index::field_of`] on the series' own
    /// measurement) in series `id`, if it has one.
    pub fn column_at(&self, id: SeriesId, fid: u32) -> Option<ColumnId> {
        let s = self.series.get(id.0 as usize)?;
        s.columns.get(fid as usize).map(ColumnId)
    }

    /// The column of `field` in series `id`, if it exists.
    pub fn column_of(&self, id: SeriesId, field: &str) -> Option<(ColumnId, FieldType)> {
        let s = self.series.get(id.0 as usize)?;
        let m = &self.measurements[s.measurement as usize];
        let (fid, ty) = m.lookup_field(field)?;
        s.columns.get(fid as usize).map(|c| (ColumnId(c), ty))
    }

    /// The columns of series `id` with their field (name and type), in field-id order.
    fn columns_with_fields(
        &self,
        id: SeriesId,
    ) -> impl Iterator<Item = (ColumnId, &(String, FieldType))> {
        self.series
            .get(id.0 as usize)
            .into_iter()
            .flat_map(move |s| {
                let fields = self.measurements[s.measurement as usize].fields();
                s.columns
                    .as_slice()
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c != NO_COLUMN)
                    .map(move |(fid, &c)| (ColumnId(c), &fields[fid]))
            })
    }

    /// The columns of series `id` and their types, in field-id order.
    pub fn column_ids(&self, id: SeriesId) -> Vec<(ColumnId, FieldType)> {
        self.columns_with_fields(id)
            .map(|(c, (_, ty))| (c, *ty))
            .collect()
    }

    /// The columns of series `id` with their field names, in field-id order.
    pub fn columns_of(&self, id: SeriesId) -> Vec<(String, ColumnId, FieldType)> {
        self.columns_with_fields(id)
            .map(|(c, (name, ty))| (name.clone(), c, *ty))
            .collect()
    }

    /// Approximate heap bytes held by the index.
    pub fn heap_bytes(&self) -> usize {
        let keys: usize = self
            .series
            .iter()
            .map(|s| s.key.len() + 16 + s.columns.heap_bytes() + 40)
            .sum();
        let raw: usize = self.by_raw.iter().map(raw::RawCache::heap_bytes).sum();
        let by_key = self.by_key.heap_bytes();
        let meas: usize = self.measurements.iter().map(Measurement::heap_bytes).sum();
        keys + raw + by_key + meas + self.columns.len() * std::mem::size_of::<ColumnInfo>()
    }
}

#[cfg(test)]
mod tests;
