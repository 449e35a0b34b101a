//! The index image (`INDEX`, docs/FORMAT.md "Index image"): what opening the directory
//! would rebuild from the segments' directories and the rollup files (before WAL
//! replay), stored at close so that the next open loads it instead of parsing and
//! hashing every series key.
//!
//! Invariants:
//! - an image describes exactly one state: the manifest generation it names, with the
//!   segments (ids and directory sizes) and rollup files (rule, day, source, bytes) it
//!   lists. Open uses it only when all of these match what it found and its checksum
//!   holds; otherwise it rebuilds as before and removes the file. Every manifest change
//!   (rotation, compaction, delete) makes a new generation, so an image is never applied
//!   to segments it was not made for; WAL replay then adds what came after, as it does
//!   after a rebuild;
//! - it holds what a rebuild would: only series and columns some listed segment or
//!   uncovered rollup file holds (a series whose data is gone everywhere is not
//!   restored), no hidden flags (open derives them from the tombstones, as after a
//!   rebuild), and retention groups are not stored (they follow the options of the open);
//! - it is an optimisation only: failing to write it never fails a close, and any damage
//!   means a rebuild, never an error or wrong data. A directory copied without it opens
//!   as before.

use super::column_map::ColumnMap;
use super::{Inner, LiveSegment};
use crate::compaction::DAY_NANOS;
use crate::error::{Error, Result};
use crate::index::image::{Cursor, DROPPED, ImageError, KeySource};
use crate::index::{ColumnId, Index, SeriesId};
use crate::manifest::{Manifest, Tier};
use crate::model::series::put_uvarint;
use crate::retention::Retention;
use crate::rollup::store::{LiveRollup, RollupStore};
use crate::segment::Segment;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The image's file name in the data directory.
pub const INDEX_FILE: &str = "INDEX";
const MAGIC: &[u8; 8] = b"STRATAIX";
/// Version 2: the body after the version byte is one zstd frame (version 1 stored it
/// plain; an image of another version is stale, never an error).
const VERSION: u8 = 2;
/// The zstd level of the body: the fastest, since the image is written in the
/// background and read on the open path (a 1 M-series body of 33 MB becomes 8.4 MB and
/// decompresses in about 25 ms on one core).
const ZSTD_LEVEL: i32 = 1;
/// The largest body a frame may declare (a 1 M-series image holds about 33 MB); a larger
/// one is treated as damage, so a forged size cannot drive the allocation.
const MAX_BODY: u64 = 1 << 32;

/// The image's path in `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(INDEX_FILE)
}

/// One rollup file as the image records it: (rule key, day, source, bytes).
type RollupMark = (String, i64, u64, u64);

fn rollup_marks(files: &[(String, Arc<LiveRollup>)]) -> Vec<RollupMark> {
    let mut v: Vec<RollupMark> = files
        .iter()
        .map(|(k, f)| (k.clone(), f.day, f.source, f.bytes))
        .collect();
    v.sort();
    v
}

/// Whether a rollup file's day lies outside every segment of `manifest`: its series are
/// known from the file alone (see `open.rs`).
pub(super) fn uncovered(manifest: &Manifest, day: i64) -> bool {
    let (lo, hi) = (
        day.saturating_mul(DAY_NANOS),
        (day + 1).saturating_mul(DAY_NANOS) - 1,
    );
    !manifest
        .segments
        .iter()
        .any(|s| s.min_ts <= hi && lo <= s.max_ts)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Writes the image of `inner`'s current state: at close after the last rotation, and
/// from the rotation thread. Returns the bytes written, or `Ok(0)` when there was
/// nothing to do (this generation's image is written already) or the state cannot be
/// imaged (a rollup-only series the index lacks; a manifest whose segments the state
/// does not hold, after a store that failed but may be published).
///
/// Locks: the manifest and the state only to take the manifest and its segments
/// together; then the index's read lock while encoding (new series wait, writes of
/// known ones do not). Series and columns made meanwhile are not in the segments taken,
/// so they are left out like any other the segments do not hold.
pub(super) fn store(inner: &Inner) -> Result<usize> {
    let (manifest, segments) = {
        let m = inner.manifest.lock();
        let st = inner.state.read();
        (m.clone(), st.segments.clone())
    };
    if *inner.imaged.lock() == manifest.generation
        || manifest.segments.len() != segments.len()
        || manifest
            .segments
            .iter()
            .any(|r| !segments.iter().any(|s| s.seg.id() == r.id))
    {
        return Ok(0);
    }
    let index = inner.index.read();
    let mut keep_s = vec![false; index.series_count()];
    let mut keep_c = vec![false; index.column_count()];
    let mut source: Vec<KeySource> = vec![KeySource::Inline; index.series_count()];
    // Per segment, by directory position: the series there (old ids), or DROPPED.
    let mut positions: Vec<Vec<u32>> = Vec::with_capacity(segments.len());
    for (ord, live) in segments.iter().enumerate() {
        let mut at = vec![DROPPED; live.seg.series().len()];
        for c in live.columns.keys() {
            let (Some(info), Some((si, _))) = (index.column_info(c), live.columns.get(c)) else {
                continue;
            };
            keep_c[c.0 as usize] = true;
            let s = info.series.0 as usize;
            if !keep_s[s] {
                keep_s[s] = true;
                source[s] = KeySource::At {
                    segment: ord as u32,
                    position: si,
                };
            }
            if let Some(slot) = at.get_mut(si as usize) {
                *slot = info.series.0;
            }
        }
        positions.push(at);
    }
    // One listing for both the series kept and the files named, so they agree.
    let rollups = inner.rollups.all();
    for (_, live) in &rollups {
        if !uncovered(&manifest, live.day) {
            continue;
        }
        let file = live.file()?;
        for (key, field, _) in file.columns() {
            let Some((s, c)) = index
                .lookup_key(key)
                .and_then(|s| Some((s, index.column_of(s, field)?.0)))
            else {
                tracing::warn!(
                    "{}: a column the index lacks: not writing an index image",
                    live.path.display()
                );
                return Ok(0);
            };
            keep_s[s.0 as usize] = true;
            keep_c[c.0 as usize] = true;
        }
    }

    let mut out = Vec::with_capacity(64 + index.series_count() * 24);
    put_uvarint(&mut out, manifest.generation);
    put_uvarint(&mut out, segments.len() as u64);
    for live in &segments {
        put_uvarint(&mut out, live.seg.id());
        put_uvarint(&mut out, live.seg.series().len() as u64);
    }
    let marks = rollup_marks(&rollups);
    put_uvarint(&mut out, marks.len() as u64);
    for (rule, day, src, bytes) in &marks {
        put_uvarint(&mut out, rule.len() as u64);
        out.extend_from_slice(rule.as_bytes());
        put_uvarint(&mut out, zigzag(*day));
        put_uvarint(&mut out, *src);
        put_uvarint(&mut out, *bytes);
    }
    let renumbered = index.encode_image(&keep_s, &keep_c, |s| source[s.0 as usize], &mut out);
    for at in &positions {
        // By position: the series' new id + 1 (0: none), as a signed delta from the last.
        let mut prev = 0i64;
        for &old in at {
            let v = if old == DROPPED {
                0
            } else {
                i64::from(renumbered.series[old as usize]) + 1
            };
            put_uvarint(&mut out, zigzag(v - prev));
            prev = v;
        }
    }
    drop(index);
    let frame = crate::codec::zstd_ctx::compress(&out, ZSTD_LEVEL)
        .map_err(|e| Error::io(path(&inner.dir), e))?;
    let mut file = Vec::with_capacity(MAGIC.len() + 1 + frame.len() + 4);
    file.extend_from_slice(MAGIC);
    file.push(VERSION);
    file.extend_from_slice(&frame);
    let crc = crc32fast::hash(&file);
    file.extend_from_slice(&crc.to_le_bytes());
    write_atomically(&inner.dir, &file)?;
    *inner.imaged.lock() = manifest.generation;
    Ok(file.len())
}

fn write_atomically(dir: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let path = path(dir);
    let tmp = path.with_extension("tmp");
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&path, e));
    }
    crate::fault::sync_dir(crate::fault::Site::Manifest, dir).map_err(|e| Error::io(dir, e))
}

/// Removes the image (and a temporary left by a crash while writing one), if any.
pub(super) fn remove(dir: &Path) {
    let p = path(dir);
    for f in [p.with_extension("tmp"), p] {
        match std::fs::remove_file(&f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("{}: cannot remove: {e}", f.display()),
        }
    }
}

/// What loading an image gives: the index and the live segments, in `segments`' order.
pub(super) struct Loaded {
    pub index: Index,
    pub segments: Vec<LiveSegment>,
}

/// Why an image was not used.
#[derive(Debug, thiserror::Error)]
pub(super) enum Unusable {
    #[error("no image")]
    Missing,
    #[error("made for another state ({0})")]
    Stale(&'static str),
    #[error("damaged: {0}")]
    Damaged(ImageError),
}

/// Loads the image in `dir` for `manifest` (whose segments, opened in its order, are
/// `segments`, with their tiers) and `rollups`.
pub(super) fn load(
    dir: &Path,
    manifest: &Manifest,
    segments: Vec<(Segment, Tier)>,
    rollups: &RollupStore,
    retention: Arc<Retention>,
) -> std::result::Result<Loaded, (Unusable, Vec<(Segment, Tier)>)> {
    let bytes = match std::fs::read(path(dir)) {
        Ok(b) => b,
        Err(_) => return Err((Unusable::Missing, segments)),
    };
    match decode(&bytes, manifest, &segments, rollups, retention) {
        Ok((index, maps)) => {
            let segments = segments
                .into_iter()
                .zip(maps)
                .map(|((seg, tier), (columns, spans))| LiveSegment {
                    seg,
                    tier,
                    columns,
                    doomed: std::sync::atomic::AtomicBool::new(false),
                    spans,
                })
                .collect();
            Ok(Loaded { index, segments })
        }
        Err(e) => Err((e, segments)),
    }
}

type SegmentMaps = (ColumnMap, Vec<crate::compaction::GroupSpan>);

fn decode(
    bytes: &[u8],
    manifest: &Manifest,
    segments: &[(Segment, Tier)],
    rollups: &RollupStore,
    retention: Arc<Retention>,
) -> std::result::Result<(Index, Vec<SegmentMaps>), Unusable> {
    let damaged = |offset: usize, what: &str| {
        Unusable::Damaged(ImageError {
            offset,
            what: what.to_owned(),
        })
    };
    let Some(body_len) = bytes.len().checked_sub(4) else {
        return Err(damaged(0, "shorter than its checksum"));
    };
    let (stored, crc) = bytes.split_at(body_len);
    if crc32fast::hash(stored).to_le_bytes() != crc {
        return Err(damaged(body_len, "checksum mismatch"));
    }
    let head = MAGIC.len() + 1;
    if stored.len() < head || &stored[..MAGIC.len()] != MAGIC {
        return Err(damaged(0, "not an index image"));
    }
    if stored[MAGIC.len()] != VERSION {
        return Err(Unusable::Stale("another format version"));
    }
    let frame = &stored[head..];
    let size = zstd::zstd_safe::get_frame_content_size(frame)
        .ok()
        .flatten()
        .filter(|&n| n <= MAX_BODY)
        .ok_or_else(|| damaged(head, "not a zstd frame of a declared size up to 4 GiB"))?;
    let body = crate::codec::zstd_ctx::decompress(frame, size as usize)
        .map_err(|e| damaged(head, &format!("zstd: {e}")))?;
    // Offsets from here on are in the decompressed body.
    let body = body.as_slice();
    let mut cur = Cursor::new(body);
    let d = Unusable::Damaged;
    if cur.uvarint().map_err(d)? != manifest.generation {
        return Err(Unusable::Stale("another manifest generation"));
    }
    let n = cur.count(2, "segment").map_err(d)?;
    if n != segments.len() {
        return Err(Unusable::Stale("another segment list"));
    }
    // The image's segment order → position in `segments` (the manifest's order).
    let mut order = Vec::with_capacity(n);
    for _ in 0..n {
        let id = cur.uvarint().map_err(d)?;
        let len = cur.uvarint().map_err(d)?;
        let Some(i) = segments.iter().position(|(s, _)| s.id() == id) else {
            return Err(Unusable::Stale("another segment list"));
        };
        if segments[i].0.series().len() as u64 != len || order.contains(&i) {
            return Err(Unusable::Stale("another segment list"));
        }
        order.push(i);
    }
    let n_marks = cur.count(4, "rollup").map_err(d)?;
    let mut marks = Vec::with_capacity(n_marks);
    for _ in 0..n_marks {
        let rule = cur.str().map_err(d)?.to_owned();
        let day = unzigzag(cur.uvarint().map_err(d)?);
        marks.push((
            rule,
            day,
            cur.uvarint().map_err(d)?,
            cur.uvarint().map_err(d)?,
        ));
    }
    if marks != rollup_marks(&rollups.all()) {
        return Err(Unusable::Stale("other rollup files"));
    }
    let key_at = |ord: u32, pos: u32| {
        let &i = order.get(ord as usize)?;
        Some(segments[i].0.series().get(pos as usize)?.key.clone())
    };
    let index = Index::decode_image(&mut cur, retention, key_at).map_err(d)?;
    let mut maps: Vec<Option<SegmentMaps>> = (0..n).map(|_| None).collect();
    for &i in &order {
        let seg = &segments[i].0;
        let mut sids = Vec::with_capacity(seg.series().len());
        let mut prev = 0i64;
        for _ in 0..seg.series().len() {
            let at = cur.pos();
            let v = prev.wrapping_add(unzigzag(cur.uvarint().map_err(d)?));
            if v < 0 || v > index.series_count() as i64 {
                return Err(damaged(at, "series id out of range"));
            }
            prev = v;
            sids.push(v);
        }
        maps[i] = Some(segment_maps(&index, seg, &sids).map_err(|what| damaged(cur.pos(), &what))?);
    }
    if cur.pos() != body.len() {
        return Err(damaged(cur.pos(), "bytes after the last section"));
    }
    Ok((index, maps.into_iter().flatten().collect()))
}

/// A segment's column map and retention spans from the series at each directory
/// position (`sids[p]` = id + 1, 0 for none), checking that each names the key there.
fn segment_maps(
    index: &Index,
    seg: &Segment,
    sids: &[i64],
) -> std::result::Result<SegmentMaps, String> {
    let n_columns: usize = seg.series().iter().map(|s| s.columns.len()).sum();
    let mut columns: Vec<(ColumnId, (u32, u32))> = Vec::with_capacity(n_columns);
    let mut spans = Vec::new();
    for (si, (s, &v)) in seg.series().iter().zip(sids).enumerate() {
        if v == 0 {
            continue;
        }
        let sid = SeriesId((v - 1) as u32);
        match index.series_key_ref(sid) {
            Some(k) if Arc::ptr_eq(k, &s.key) || **k == *s.key => {}
            _ => {
                return Err(format!(
                    "position {si} of segment {} names another series",
                    seg.id()
                ));
            }
        }
        let group = index.retention_group(sid);
        for (ci, c) in s.columns.iter().enumerate() {
            let Some((col, ty)) = index.column_of(sid, &c.name) else {
                return Err(format!(
                    "segment {} column {:?} not in the image",
                    seg.id(),
                    c.name
                ));
            };
            if ty != c.field_type {
                return Err(format!(
                    "segment {} column {:?} of another type",
                    seg.id(),
                    c.name
                ));
            }
            columns.push((col, (si as u32, ci as u32)));
            if c.n_blocks > 0 {
                let first = seg.block_meta(c.first_block as usize);
                let last = seg.block_meta(c.first_block as usize + c.n_blocks as usize - 1);
                super::open::widen(&mut spans, group, first.min_ts, last.max_ts);
            }
        }
    }
    spans.sort_by_key(|g: &crate::compaction::GroupSpan| g.group);
    Ok((ColumnMap::new(columns), spans))
}
