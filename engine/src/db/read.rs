//! Reads: a column merged across tiers, listings, and per-tier sizes.

use super::{Db, Inner, LiveSegment};
use crate::error::{Error, Result};
use crate::hot::HotTier;
use crate::index::ColumnId;
use crate::manifest::Tier;
use crate::model::{ColumnData, ColumnValues, FieldType, SeriesKey, TimeRange};
use std::sync::Arc;

/// Sizes of one tier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierStats {
    /// Files (segments; 0 for hot).
    pub files: usize,
    /// Distinct series with data in the tier.
    pub series: usize,
    /// Columns with data in the tier (a column in several files counts once per file).
    pub columns: usize,
    /// Values stored (hot: written, duplicates included).
    pub points: u64,
    /// Bytes: file sizes, or heap bytes for hot.
    pub bytes: u64,
    /// Earliest and latest timestamps, if any data.
    pub time_range: Option<(i64, i64)>,
    /// Files relative to the data directory (empty for hot).
    pub paths: Vec<String>,
}

/// Sizes of every tier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TiersStats {
    /// The in-memory tier (data being rotated included).
    pub hot: TierStats,
    /// Warm segments.
    pub warm: TierStats,
    /// Cold segments.
    pub cold: TierStats,
    /// WAL files and their total size.
    pub wal_files: usize,
    /// WAL bytes.
    pub wal_bytes: u64,
}

fn widen(r: &mut Option<(i64, i64)>, lo: i64, hi: i64) {
    *r = Some(match *r {
        Some((a, b)) => (a.min(lo), b.max(hi)),
        None => (lo, hi),
    });
}

impl Db {
    /// The points of `field` in `series` within `range`, time-ordered, one per timestamp
    /// (the last written, across every tier); `None` if the series or field does not exist.
    pub fn read_column(
        &self,
        series: &SeriesKey,
        field: &str,
        range: TimeRange,
    ) -> Result<Option<ColumnData>> {
        let mut canonical = Vec::new();
        series.encode_into(&mut canonical);
        let (column, ty) = {
            let ix = self.inner.index.read();
            let Some(sid) = ix.lookup_key(&canonical) else {
                return Ok(None);
            };
            let Some(c) = ix.column_of(sid, field) else {
                return Ok(None);
            };
            c
        };
        self.inner.read_column_id(column, ty, range).map(Some)
    }

    /// Measurement names, sorted.
    pub fn measurements(&self) -> Vec<String> {
        self.inner
            .index
            .read()
            .measurements()
            .map(str::to_owned)
            .collect()
    }

    /// The series of `measurement`, in creation order.
    pub fn series(&self, measurement: &str) -> Vec<SeriesKey> {
        let ix = self.inner.index.read();
        ix.series_of(measurement)
            .iter()
            .filter_map(|&s| ix.series_key(s))
            .collect()
    }

    /// Tag keys of `measurement`, sorted.
    pub fn tag_keys(&self, measurement: &str) -> Vec<String> {
        self.inner.index.read().tag_keys(measurement)
    }

    /// Values of tag `key` in `measurement`, sorted.
    pub fn tag_values(&self, measurement: &str, key: &str) -> Vec<String> {
        self.inner.index.read().tag_values(measurement, key)
    }

    /// Per field of `measurement` (sorted by name): its type and how many visible series
    /// have a column for it, from the index (no key decoded).
    pub fn field_column_counts(&self, measurement: &str) -> Vec<(String, FieldType, usize)> {
        self.inner.index.read().field_column_counts(measurement)
    }

    /// Per value of tag `key` in `measurement` (sorted): how many columns whose type
    /// `keep` accepts the visible series carrying it have, from the index.
    pub fn tag_value_column_counts(
        &self,
        measurement: &str,
        key: &str,
        keep: impl Fn(FieldType) -> bool,
    ) -> Vec<(String, usize)> {
        self.inner
            .index
            .read()
            .tag_value_column_counts(measurement, key, keep)
    }

    /// Fields of `measurement` and their types, sorted by name.
    pub fn fields(&self, measurement: &str) -> Vec<(String, FieldType)> {
        self.inner.index.read().fields(measurement)
    }

    /// The fields (name and type) that `series` has data for.
    pub fn series_fields(&self, series: &SeriesKey) -> Vec<(String, FieldType)> {
        let mut canonical = Vec::new();
        series.encode_into(&mut canonical);
        let ix = self.inner.index.read();
        ix.lookup_key(&canonical)
            .map(|sid| {
                ix.columns_of(sid)
                    .into_iter()
                    .map(|(n, _, t)| (n, t))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Files, series, points, bytes and time range of each tier.
    pub fn tier_stats(&self) -> TiersStats {
        let st = self.inner.state.read();
        let ix = self.inner.index.read();
        let mut out = TiersStats::default();
        let mut hot_series = rustc_hash::FxHashSet::default();
        for tier in std::iter::once(&st.hot).chain(st.rotating.iter().map(|r| &**r)) {
            let s = tier.stats();
            out.hot.points += s.points;
            out.hot.bytes += s.bytes as u64;
            out.hot.columns += s.columns;
            if let Some((lo, hi)) = s.time_range {
                widen(&mut out.hot.time_range, lo, hi);
            }
            for c in tier.column_ids() {
                if let Some(info) = ix.column_info(c) {
                    hot_series.insert(info.series);
                }
            }
        }
        out.hot.series = hot_series.len();
        // Sized for every series up front: growing a million-entry set rehashes it ~20 times.
        let all = ix.series_count();
        let mut warm_series =
            rustc_hash::FxHashSet::with_capacity_and_hasher(all, Default::default());
        let mut cold_series =
            rustc_hash::FxHashSet::with_capacity_and_hasher(all, Default::default());
        for live in &st.segments {
            let (t, set) = match live.tier {
                Tier::Warm => (&mut out.warm, &mut warm_series),
                Tier::Cold => (&mut out.cold, &mut cold_series),
            };
            t.files += 1;
            t.points += live.seg.points();
            t.bytes += live.seg.bytes();
            t.columns += live.columns.len();
            let (lo, hi) = live.seg.time_range();
            widen(&mut t.time_range, lo, hi);
            t.paths.push(format!(
                "{}/{}",
                crate::segment::SEGMENT_DIR,
                crate::segment::file_name(live.seg.id())
            ));
            for s in live.seg.series() {
                set.insert(s.key.clone());
            }
        }
        out.warm.series = warm_series.len();
        out.cold.series = cold_series.len();
        let files = self.inner.wal.files();
        out.wal_files = files.len();
        out.wal_bytes = files.iter().map(|f| f.1).sum();
        out
    }
}

impl Inner {
    pub(super) fn read_column_id(
        &self,
        c: ColumnId,
        ty: FieldType,
        range: TimeRange,
    ) -> Result<ColumnData> {
        // Expired data is invisible at once, whatever maintenance has removed so far.
        let range = TimeRange::new(range.start.max(self.column_cutoff(c)), range.end);
        if range.start >= range.end {
            return Ok(ColumnData::empty(ty));
        }
        let (hot, rotating, segments, tombstones) = {
            let st = self.state.read();
            (
                st.hot.read(c, range),
                st.rotating.clone(),
                st.segments.clone(),
                st.tombstones.clone(),
            )
        };
        let rotating: Vec<Arc<HotTier>> = rotating;
        let segments: Vec<Arc<LiveSegment>> = segments;
        let mut sources = Vec::new();
        for live in &segments {
            if let Some(entry) = live.column(&c) {
                let (lo, hi) = live.seg.time_range();
                if range.overlaps(lo, hi) {
                    let data = live.seg.read_column(entry, range)?;
                    let deleted = tombstones.ranges(live.seg.id(), c);
                    sources.push(super::tombstone::without(data, &deleted));
                }
            }
        }
        let hot_err =
            |e| Error::Internal(format!("hot chunk of column {} does not decode: {e}", c.0));
        for r in &rotating {
            if let Some(d) = r.read(c, range) {
                sources.push(d.map_err(hot_err)?);
            }
        }
        if let Some(d) = hot {
            sources.push(d.map_err(hot_err)?);
        }
        merge(sources, ty)
    }
}

/// Merges time-ordered, deduplicated sources given oldest first into one, a later source
/// winning on equal timestamps.
pub(crate) fn merge(mut sources: Vec<ColumnData>, ty: FieldType) -> Result<ColumnData> {
    sources.retain(|s| !s.is_empty());
    if sources
        .iter()
        .any(|s| s.values.field_type() != ty || s.values.len() != s.timestamps.len())
    {
        return Err(Error::Internal(
            "sources of one column differ in type or length".into(),
        ));
    }
    match sources.len() {
        0 => return Ok(ColumnData::empty(ty)),
        1 => return Ok(sources.pop().unwrap_or_else(|| ColumnData::empty(ty))),
        _ => {}
    }
    let disjoint = sources
        .windows(2)
        .all(|w| w[0].timestamps.last() < w[1].timestamps.first());
    if disjoint {
        let mut out = ColumnData::empty(ty);
        for s in sources {
            out.timestamps.extend_from_slice(&s.timestamps);
            append_values(&mut out.values, s.values);
        }
        return Ok(out);
    }
    // (timestamp, source, position); a stable sort keeps older sources first on ties, and
    // the last entry of each run of equal timestamps wins.
    let mut order: Vec<(i64, u32, u32)> = Vec::new();
    for (si, s) in sources.iter().enumerate() {
        order.extend(
            s.timestamps
                .iter()
                .enumerate()
                .map(|(i, &t)| (t, si as u32, i as u32)),
        );
    }
    order.sort_by_key(|e| e.0);
    let keep: Vec<(u32, u32)> = order
        .iter()
        .enumerate()
        .filter(|(k, e)| order.get(k + 1).is_none_or(|n| n.0 != e.0))
        .map(|(_, e)| (e.1, e.2))
        .collect();
    let mut out = ColumnData::empty(ty);
    out.timestamps = keep
        .iter()
        .map(|&(s, i)| sources[s as usize].timestamps[i as usize])
        .collect();
    macro_rules! gather {
        ($variant:ident) => {{
            let vals: Vec<_> = keep
                .iter()
                .map(|&(s, i)| match &sources[s as usize].values {
                    ColumnValues::$variant(v) => Some(v[i as usize].clone()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Error::Internal("sources of one column differ in type".into()))?;
            ColumnValues::$variant(vals)
        }};
    }
    out.values = match ty {
        FieldType::Float => gather!(Float),
        FieldType::Integer => gather!(Integer),
        FieldType::Unsigned => gather!(Unsigned),
        FieldType::Boolean => gather!(Boolean),
        FieldType::String => gather!(String),
    };
    Ok(out)
}

fn append_values(dst: &mut ColumnValues, src: ColumnValues) {
    match (dst, src) {
        (ColumnValues::Float(d), ColumnValues::Float(s)) => d.extend(s),
        (ColumnValues::Integer(d), ColumnValues::Integer(s)) => d.extend(s),
        (ColumnValues::Unsigned(d), ColumnValues::Unsigned(s)) => d.extend(s),
        (ColumnValues::Boolean(d), ColumnValues::Boolean(s)) => d.extend(s),
        (ColumnValues::String(d), ColumnValues::String(s)) => d.extend(s),
        _ => debug_assert!(false, "sources of one column share its type"),
    }
}
