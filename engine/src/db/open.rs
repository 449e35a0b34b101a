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
use crate::wal::batch::{SeriesNaming, SeriesTable, decode_batch};
use crate::wal::delete::DeleteSpec;
use crate::wal::dict::{FileDict, SeriesKeys, decode_defs};
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
    let mut opened = Vec::with_capacity(manifest.segments.len());
    for rec in &manifest.segments {
        let path = segment::file_path(&segment_dir, rec.id);
        opened.push((
            Segment::open(&path, rec.id)?.with_cache(cache.clone()),
            rec.tier,
        ));
    }
    // The index image when it describes exactly this state; else a rebuild from the
    // segments' directories and the rollup files.
    let loaded = if trusted {
        super::index_image::load(&dir, &manifest, opened, &rollups, retention.clone())
    } else {
        Err((
            super::index_image::Unusable::Stale("untrusted manifest"),
            opened,
        ))
    };
    let index_from_image = loaded.is_ok();
    let manifest_generation = manifest.generation;
    let (mut index, segments) = match loaded {
        Ok(l) => (l.index, l.segments.into_iter().map(Arc::new).collect()),
        Err((why, opened)) => {
            if !matches!(why, super::index_image::Unusable::Missing) {
                tracing::info!("not using the index image: {why}; rebuilding the index");
                super::index_image::remove(&dir);
            }
            rebuild(&retention, opened, &manifest, &rollups)?
        }
    };
    let mut hot = HotTier::default();
    let mut file_max: BTreeMap<u64, i64> = BTreeMap::new();
    let checkpoint = manifest.checkpoint;
    let mut deletes: Vec<DeleteSpec> = Vec::new();
    let mut dict: FileDict<Def> = FileDict::default();
    let stats = wal::replay(
        &wal_dir,
        0,
        options.wal_recovery,
        |kind, payload, seq, file, offset| match kind {
            RecordKind::SeriesDefs => {
                dict.enter(seq);
                replay_defs(&index, &mut dict, payload, file, offset)
            }
            RecordKind::Write | RecordKind::WriteKeys => {
                dict.enter(seq);
                let record = Record {
                    kind,
                    payload,
                    file_seq: seq,
                    file,
                    offset,
                };
                let max = replay_write(&mut index, &mut hot, &mut dict, record, checkpoint)?;
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
    drop(dict);
    // Files that held no write or delete (each open starts one) carry nothing: remove them.
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
    let index = Arc::new(RwLock::new(index));
    let wal = Wal::start(
        &wal_dir,
        stats.next_file_seq,
        0,
        options.fsync,
        options.wal_segment_bytes,
        file_max,
        Arc::new(IndexKeys(index.clone())),
    )?;
    // The manifest's tombstones, resolved against the index as rebuilt.
    let mut tombstones = super::tombstone::Tombstones::default();
    {
        let index = index.read();
        for t in &manifest.tombstones {
            let (cols, _) = super::tombstone::resolve(&index, &t.spec.predicate);
            tombstones = tombstones.with(t.clone(), cols);
        }
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
            index,
            index_from_image,
            imaged: Mutex::new(if index_from_image {
                manifest_generation
            } else {
                0
            }),
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

/// The index as the segments' directories and the rollup files of days no segment
/// covers describe it, with the segments attached.
fn rebuild(
    retention: &Arc<crate::retention::Retention>,
    opened: Vec<(Segment, Tier)>,
    manifest: &Manifest,
    rollups: &crate::rollup::store::RollupStore,
) -> Result<(Index, Vec<Arc<LiveSegment>>)> {
    let mut index = Index::with_retention(retention.clone());
    let mut segments = Vec::with_capacity(opened.len());
    for (seg, tier) in opened {
        segments.push(Arc::new(attach(&mut index, seg, tier)));
    }
    // Series whose raw data has expired live on in rollup files of days no segment
    // covers: the index learns them from those files, so that queries still find them.
    for (_, live) in rollups.all() {
        if !super::index_image::uncovered(manifest, live.day) {
            continue;
        }
        let file = live.file()?;
        for (key, field, ty) in file.columns() {
            match index.get_or_create_canonical(&Arc::from(key)) {
                Ok(sid) => {
                    if let Err(e) = index.column_or_create(sid, field, ty) {
                        tracing::warn!("{}: skipping a column: {e}", live.path.display());
                    }
                }
                Err(e) => tracing::warn!("{}: skipping a series: {e}", live.path.display()),
            }
        }
    }
    Ok((index, segments))
}

/// Registers a segment's series and columns in the index.
pub(super) fn attach(index: &mut Index, seg: Segment, tier: Tier) -> LiveSegment {
    let n_columns: usize = seg.series().iter().map(|s| s.columns.len()).sum();
    let mut columns = Vec::with_capacity(n_columns);
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
                    columns.push((col, (si as u32, ci as u32)));
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
        columns: super::column_map::ColumnMap::new(columns),
        doomed: std::sync::atomic::AtomicBool::new(false),
        spans,
    }
}

/// Widens `group`'s span in `spans` (a short list: one entry per group present) to
/// `min..=max`.
pub(super) fn widen(spans: &mut Vec<GroupSpan>, group: RetentionGroup, min_ts: i64, max_ts: i64) {
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

/// Series keys for the WAL writer thread's definitions, from the index. The read lock
/// is taken per [`KEYS_PER_LOCK`] keys, so that a file's first group after a roll, which
/// defines every active series, does not hold series creation up for long. No thread
/// waits for the WAL while it holds the index lock (writers drop their guard before
/// submitting), so the writer thread taking it cannot deadlock.
struct IndexKeys(Arc<RwLock<Index>>);

/// Keys copied per hold of the index read lock.
const KEYS_PER_LOCK: usize = 4096;

impl SeriesKeys for IndexKeys {
    fn keys(&self, ids: &[u32], each: &mut dyn FnMut(u32, &[u8])) -> std::result::Result<(), u32> {
        for chunk in ids.chunks(KEYS_PER_LOCK) {
            let ix = self.0.read();
            for &id in chunk {
                each(id, ix.series_key_bytes(SeriesId(id)).ok_or(id)?);
            }
        }
        Ok(())
    }
}

/// What replay made of a series number of the file being replayed.
enum Def {
    /// The series, resolved in the index.
    Known(SeriesId),
    /// A key the index does not hold yet (checked to decode): the series is created when
    /// a replayed line uses it, so that lines the checkpoint skips create nothing.
    Pending(Box<[u8]>),
}

/// One WAL record being replayed and where it is.
struct Record<'a> {
    kind: RecordKind,
    payload: &'a [u8],
    file_seq: u64,
    file: &'a Path,
    offset: u64,
}

/// Corruption at byte `at` of the payload of the record at `offset` in `file`.
fn corrupt_at(file: &Path, offset: u64, at: usize, what: String) -> Error {
    Error::Corrupt {
        file: file.to_path_buf(),
        offset: offset + (wal::frame::FRAME_PREFIX_LEN + 1 + at) as u64,
        what,
    }
}

/// Adds a `SeriesDefs` record's definitions to the file's dictionary.
fn replay_defs(
    index: &Index,
    dict: &mut FileDict<Def>,
    payload: &[u8],
    file: &Path,
    offset: u64,
) -> Result<()> {
    let defs = decode_defs(payload).map_err(|(at, what)| {
        corrupt_at(file, offset, at, format!("WAL series definitions: {what}"))
    })?;
    for (id, key) in defs {
        let def = match index.lookup_key(key) {
            Some(sid) => Def::Known(sid),
            None => {
                SeriesKey::decode(key).map_err(|e| {
                    corrupt_at(
                        file,
                        offset,
                        0,
                        format!("WAL series definitions: bad key of number {id}: {e}"),
                    )
                })?;
                Def::Pending(key.into())
            }
        };
        dict.define(id, def).map_err(|what| {
            corrupt_at(
                file,
                offset,
                0,
                format!("WAL series definitions: {what} (number {id})"),
            )
        })?;
    }
    Ok(())
}

/// The series of canonical key `key`, created if the index lacks it.
fn series_of(index: &mut Index, key: &[u8]) -> std::result::Result<SeriesId, String> {
    if let Some(s) = index.lookup_key(key) {
        return Ok(s);
    }
    let k = SeriesKey::decode(key).map_err(|e| format!("bad series key: {e}"))?;
    Ok(index.get_or_create(&k, key))
}

/// Rebuilds index and hot state from one WAL write record (either kind), skipping values
/// the checkpoint says are in segments. Returns the largest timestamp in the record. A
/// series number the file has not defined before the record is damage, whether or not
/// its lines are skipped.
fn replay_write(
    index: &mut Index,
    hot: &mut HotTier,
    dict: &mut FileDict<Def>,
    record: Record<'_>,
    checkpoint: Option<Checkpoint>,
) -> Result<i64> {
    let Record {
        kind,
        payload,
        file_seq,
        file,
        offset,
    } = record;
    let corrupt =
        |at: usize, what: &str| corrupt_at(file, offset, at, format!("WAL write batch: {what}"));
    let skip_below = match checkpoint {
        Some(c) if file_seq < c.file => c.cutoff,
        _ => i64::MIN,
    };
    let naming = match kind {
        RecordKind::WriteKeys => SeriesNaming::Keys,
        _ => SeriesNaming::Numbers,
    };
    let batch = decode_batch(payload, naming).map_err(|(at, what)| corrupt(at, what))?;
    if let SeriesTable::Numbers(ids) = &batch.series
        && let Some(id) = ids.iter().find(|&&id| dict.get_mut(id).is_none())
    {
        return Err(corrupt(
            0,
            &format!("series number {id} used before its definition"),
        ));
    }
    let mut entries = Vec::new();
    let mut sids: Vec<Option<SeriesId>> = vec![None; batch.series.len()];
    let mut max_ts = i64::MIN;
    for line in batch.lines {
        max_ts = max_ts.max(line.timestamp);
        if line.timestamp < skip_below {
            continue;
        }
        let sid = match sids[line.series] {
            Some(s) => s,
            None => {
                let s = match &batch.series {
                    SeriesTable::Keys(keys) => {
                        series_of(index, keys[line.series]).map_err(|e| corrupt(0, &e))?
                    }
                    SeriesTable::Numbers(ids) => {
                        let id = ids[line.series];
                        let def = dict.get_mut(id).ok_or_else(|| {
                            corrupt(0, &format!("series number {id} used before its definition"))
                        })?;
                        match def {
                            Def::Known(s) => *s,
                            Def::Pending(key) => {
                                let s = series_of(index, key).map_err(|e| corrupt(0, &e))?;
                                *def = Def::Known(s);
                                s
                            }
                        }
                    }
                };
                sids[line.series] = Some(s);
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
