//! Opening a data directory: manifest, segments, index rebuild, WAL replay.

use super::{Inner, LiveSegment, State, Turnstile};
use crate::compaction::GroupSpan;
use crate::error::{Error, Result};
use crate::hot::{HotEntry, HotTier};
use crate::index::{Index, SeriesId};
use crate::manifest::{self, Checkpoint, Manifest, SegmentRecord, Tier};
use crate::model::SeriesKey;
use crate::options::Options;
use crate::retention::RetentionGroup;
use crate::segment::{self, Segment};
use crate::wal::batch::decode_batch;
use crate::wal::delete::DeleteSpec;
use crate::wal::frame::RecordKind;
use crate::wal::{self, Wal};
use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(super) fn open_inner(dir: PathBuf, options: Options) -> Result<(Inner, Vec<DeleteSpec>)> {
    let segment_dir = dir.join(segment::SEGMENT_DIR);
    let wal_dir = dir.join(wal::WAL_DIR);
    for d in [&segment_dir, &wal_dir] {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    let (manifest, trusted) = load_manifest(&dir, &segment_dir)?;
    let rollup_dir = dir.join(crate::rollup::store::ROLLUP_DIR);
    let rollups = crate::rollup::store::RollupStore::open(
        &rollup_dir,
        trusted.then_some(manifest.next_segment_id),
        options.rollup_cache_bytes,
    )?;
    let cache =
        (options.cold_cache_bytes > 0).then(|| segment::BlockCache::new(options.cold_cache_bytes));
    let retention = Arc::new(crate::retention::Retention::new(
        options.retention,
        options.retention_rules.clone(),
    ));
    let mut index = Index::with_retention(retention.clone());
    let mut segments = Vec::with_capacity(manifest.segments.len());
    for rec in &manifest.segments {
        let path = segment::file_path(&segment_dir, rec.id);
        let seg = Segment::open(&path, rec.id)?.with_cache(cache.clone());
        segments.push(Arc::new(attach(&mut index, seg, rec.tier)));
    }
    // Series whose raw data has expired live on in rollup files of days no segment
    // covers: the index learns them from those files, so that queries still find them.
    for (_, live) in rollups.all() {
        let (lo, hi) = (
            live.day.saturating_mul(crate::compaction::DAY_NANOS),
            (live.day + 1).saturating_mul(crate::compaction::DAY_NANOS) - 1,
        );
        if manifest
            .segments
            .iter()
            .any(|s| s.min_ts <= hi && lo <= s.max_ts)
        {
            continue;
        }
        let file = live.file()?;
        for (key, field, ty) in file.columns() {
            match index.get_or_create_canonical(&std::sync::Arc::from(key)) {
                Ok(sid) => {
                    if let Err(e) = index.column_or_create(sid, field, ty) {
                        tracing::warn!("{}: skipping a column: {e}", live.path.display());
                    }
                }
                Err(e) => tracing::warn!("{}: skipping a series: {e}", live.path.display()),
            }
        }
    }
    let mut hot = HotTier::default();
    let mut file_max: BTreeMap<u64, i64> = BTreeMap::new();
    let checkpoint = manifest.checkpoint;
    let mut deletes: Vec<DeleteSpec> = Vec::new();
    let stats = wal::replay(
        &wal_dir,
        0,
        options.wal_recovery,
        |kind, payload, seq, file, offset| match kind {
            RecordKind::Write => {
                let max =
                    replay_write(&mut index, &mut hot, payload, seq, checkpoint, file, offset)?;
                let m = file_max.entry(seq).or_insert(i64::MIN);
                *m = (*m).max(max);
                Ok(())
            }
            RecordKind::Delete => {
                let spec = DeleteSpec::decode(payload).map_err(|(at, what)| Error::Corrupt {
                    file: file.to_path_buf(),
                    offset: offset + 9 + at as u64,
                    what: format!("WAL delete: {what}"),
                })?;
                let (cols, series) = super::tombstone::resolve(&index, &spec.predicate);
                if spec.drop {
                    for s in series {
                        index.set_hidden(s, true);
                    }
                }
                hot.delete(&cols, spec.range).map_err(|e| {
                    Error::Internal(format!("hot chunk does not decode during replay: {e}"))
                })?;
                file_max.entry(seq).or_insert(i64::MIN);
                deletes.push(spec);
                Ok(())
            }
        },
    )?;
    // Files that held no record (each open starts one) carry nothing: remove them.
    for f in wal::list_files(&wal_dir).map_err(|e| Error::io(&wal_dir, e))? {
        if !file_max.contains_key(&f) {
            let p = wal::file_path(&wal_dir, f);
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    if stats.records > 0 || stats.truncated_bytes > 0 {
        tracing::info!(
            "replayed {} WAL records from {} files ({} torn bytes cut)",
            stats.records,
            stats.files,
            stats.truncated_bytes
        );
    }
    let wal = Wal::start(
        &wal_dir,
        stats.next_file_seq,
        0,
        options.fsync,
        options.wal_segment_bytes,
        file_max,
    )?;
    // The manifest's tombstones, resolved against the index as rebuilt.
    let mut tombstones = super::tombstone::Tombstones::default();
    for t in &manifest.tombstones {
        let (cols, _) = super::tombstone::resolve(&index, &t.spec.predicate);
        tombstones = tombstones.with(t.clone(), cols);
    }
    let bucket = super::limits::NewSeriesBucket::new(options.max_new_series_per_minute);
    let next_delete = deletes
        .iter()
        .map(|d| d.id)
        .max()
        .unwrap_or(0)
        .max(manifest.last_delete);
    Ok((
        Inner {
            dir,
            segment_dir,
            options,
            index: RwLock::new(index),
            state: RwLock::new(State {
                hot,
                rotating: Vec::new(),
                segments,
                tombstones: Arc::new(tombstones),
            }),
            wal,
            turnstile: Turnstile::default(),
            manifest: Mutex::new(manifest),
            compacting: Mutex::new(()),
            closing: Default::default(),
            next_delete: Mutex::new(next_delete),
            hide_epoch: Default::default(),
            counters: Default::default(),
            new_series: Mutex::new(bucket),
            cache,
            retention,
            rollups,
        },
        deletes,
    ))
}

/// Registers a segment's series and columns in the index.
pub(super) fn attach(index: &mut Index, seg: Segment, tier: Tier) -> LiveSegment {
    let mut columns = FxHashMap::default();
    let n_columns: usize = seg.series().iter().map(|s| s.columns.len()).sum();
    columns.reserve(n_columns);
    index.reserve(seg.series().len(), n_columns);
    let mut spans: Vec<GroupSpan> = Vec::new();
    for (si, s) in seg.series().iter().enumerate() {
        let sid = match index.get_or_create_canonical(&s.key) {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(
                    "{}: skipping a series with a bad key: {e}",
                    seg.path().display()
                );
                continue;
            }
        };
        let group = index.retention_group(sid);
        for (ci, c) in s.columns.iter().enumerate() {
            match index.column_or_create(sid, &c.name, c.field_type) {
                Ok(col) => {
                    // Directory positions fit in u32: a segment has fewer than 2^32 blocks
                    // and every column has at least one.
                    columns.insert(col, (si as u32, ci as u32));
                }
                Err(e) => tracing::warn!("{}: skipping a column: {e}", seg.path().display()),
            }
            // Blocks of a column are in time order: the first and last bound it.
            if c.n_blocks > 0 {
                let first = seg.block_meta(c.first_block as usize);
                let last = seg.block_meta(c.first_block as usize + c.n_blocks as usize - 1);
                widen(&mut spans, group, first.min_ts, last.max_ts);
            }
        }
    }
    spans.sort_by_key(|g| g.group);
    LiveSegment {
        seg,
        tier,
        columns,
        doomed: std::sync::atomic::AtomicBool::new(false),
        spans,
    }
}

/// Widens `group`'s span in `spans` (a short list: one entry per group present) to
/// `min..=max`.
fn widen(spans: &mut Vec<GroupSpan>, group: RetentionGroup, min_ts: i64, max_ts: i64) {
    match spans.iter_mut().find(|g| g.group == group) {
        Some(g) => {
            g.min_ts = g.min_ts.min(min_ts);
            g.max_ts = g.max_ts.max(max_ts);
        }
        None => spans.push(GroupSpan {
            group,
            min_ts,
            max_ts,
        }),
    }
}

/// Loads the manifest. When it is trusted, files it does not name are garbage and are
/// removed. When it is damaged or missing while segment files exist, the segment list is
/// rebuilt from the files' own headers, nothing is deleted, and a new manifest is stored.
fn load_manifest(dir: &Path, segment_dir: &Path) -> Result<(Manifest, bool)> {
    let loaded = manifest::load(dir)?;
    for p in &loaded.problems {
        tracing::warn!("{p}");
    }
    let mut on_disk = Vec::new();
    for e in std::fs::read_dir(segment_dir).map_err(|e| Error::io(segment_dir, e))? {
        let e = e.map_err(|e| Error::io(segment_dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        on_disk.push((name.clone(), segment::parse_file_name(&name)));
    }
    let no_manifest_but_segments =
        loaded.manifest.generation == 0 && on_disk.iter().any(|(_, id)| id.is_some());
    if loaded.trusted && loaded.manifest.generation == 0 && !no_manifest_but_segments {
        // A new directory: store generation 1 now, so that from here on a missing manifest
        // always means a lost one, and an unnamed segment always means garbage.
        let m = Manifest {
            generation: 1,
            next_segment_id: 1,
            ..Manifest::default()
        };
        manifest::store(dir, &m)?;
        return Ok((m, true));
    }
    if loaded.trusted && !no_manifest_but_segments {
        let live: std::collections::HashSet<u64> =
            loaded.manifest.segments.iter().map(|s| s.id).collect();
        for (name, id) in &on_disk {
            if id.is_none_or(|id| !live.contains(&id)) {
                let p = segment_dir.join(name);
                tracing::info!("removing {} (not in the manifest)", p.display());
                std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
        return Ok((loaded.manifest, true));
    }
    tracing::warn!(
        "the manifest is damaged or missing: rebuilding the segment list from the segment files"
    );
    let mut m = loaded.manifest.clone();
    let tiers: FxHashMap<u64, Tier> = m.segments.iter().map(|s| (s.id, s.tier)).collect();
    m.segments.clear();
    let mut ids: Vec<u64> = on_disk.iter().filter_map(|(_, id)| *id).collect();
    ids.sort_unstable();
    for id in ids {
        let path = segment::file_path(segment_dir, id);
        match Segment::open(&path, id) {
            Ok(seg) => {
                let (min_ts, max_ts) = seg.time_range();
                m.segments.push(SegmentRecord {
                    id,
                    tier: tiers.get(&id).copied().unwrap_or(Tier::Warm),
                    min_ts,
                    max_ts,
                    points: seg.points(),
                    bytes: seg.bytes(),
                });
                m.next_segment_id = m.next_segment_id.max(id + 1);
            }
            Err(e) => tracing::warn!("not using {}: {e}", path.display()),
        }
    }
    m.generation += 1;
    manifest::store(dir, &m)?;
    Ok((m, false))
}

/// Rebuilds index and hot state from one WAL write record, skipping values the
/// checkpoint says are in segments. Returns the largest timestamp in the record.
fn replay_write(
    index: &mut Index,
    hot: &mut HotTier,
    payload: &[u8],
    file_seq: u64,
    checkpoint: Option<Checkpoint>,
    file: &Path,
    offset: u64,
) -> Result<i64> {
    let corrupt = |at: usize, what: &str| Error::Corrupt {
        file: file.to_path_buf(),
        offset: offset + 9 + at as u64,
        what: format!("WAL write batch: {what}"),
    };
    let skip_below = match checkpoint {
        Some(c) if file_seq < c.file => c.cutoff,
        _ => i64::MIN,
    };
    let lines = decode_batch(payload).map_err(|(at, what)| corrupt(at, what))?;
    let mut entries = Vec::new();
    let mut ids: FxHashMap<&[u8], SeriesId> = FxHashMap::default();
    let mut max_ts = i64::MIN;
    for line in lines {
        max_ts = max_ts.max(line.timestamp);
        if line.timestamp < skip_below {
            continue;
        }
        let sid = match ids.get(line.series) {
            Some(&s) => s,
            None => {
                let s = match index.lookup_key(line.series) {
                    Some(s) => s,
                    None => {
                        let key = SeriesKey::decode(line.series)
                            .map_err(|e| corrupt(0, &format!("bad series key: {e}")))?;
                        index.get_or_create(&key, line.series)
                    }
                };
                ids.insert(line.series, s);
                index.set_hidden(s, false);
                s
            }
        };
        for (name, v) in line.fields {
            match index.column_or_create(sid, name, v.field_type()) {
                Ok(c) => entries.push(HotEntry {
                    column: c,
                    timestamp: line.timestamp,
                    value: v.to_owned(),
                }),
                // Cannot happen for a log this build wrote (types were checked before the
                // write); skip rather than lose the rest of the log.
                Err(e) => {
                    tracing::warn!("{}: offset {offset}: skipping value: {e}", file.display())
                }
            }
        }
    }
    hot.apply(entries);
    Ok(max_ts)
}
