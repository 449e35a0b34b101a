//! The live rollup files of a database (`rollups/` in the data directory): which file holds
//! a rule's buckets for a day, loading a file the first time a query needs it, and the
//! cleanup rules at open.
//!
//! A file's name carries what the store needs without reading it:
//! `<rule key>_<day>_<source>.rup` (see docs/FORMAT.md, "Rollup file").
//!
//! Invariants:
//! - at most one live file per (rule key, day): a newer file (larger source id) replaces
//!   an older one, and the older one is deleted once the manifest naming the new source is
//!   stored, so a crash in between leaves both and open keeps the newer;
//! - a file whose source id is at or past the trusted manifest's next segment id was
//!   written by a compaction that never stored its manifest: open deletes it (the file it
//!   replaced is still there);
//! - a loaded file is immutable; readers hold it by `Arc`, so deleting its file never
//!   changes what a query that already loaded it reads;
//! - decoded stripes live in one bounded [`StripeCache`] keyed by the file's uid (unique
//!   per [`LiveRollup`], never reused), and are dropped when their file is replaced or
//!   dropped.

use super::cache::StripeCache;
use super::columns::BucketColumns;
use super::file::{self, RollupFile};
use crate::error::{Error, Result};
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// The next [`LiveRollup::uid`].
static NEXT_UID: AtomicU64 = AtomicU64::new(1);

/// The rollup directory inside the data directory.
pub const ROLLUP_DIR: &str = "rollups";

/// The file name of a rule's file for `day` computed with segment `source`.
pub fn file_name(rule_key: &str, day: i64, source: u64) -> String {
    format!("{rule_key}_{day}_{source:020}.rup")
}

/// Parses a file name back into (rule key, day, source).
pub fn parse_file_name(name: &str) -> Option<(String, i64, u64)> {
    let stem = name.strip_suffix(".rup")?;
    let mut parts = stem.split('_');
    let key = parts.next()?;
    let day = parts.next()?.parse().ok()?;
    let source = parts.next()?;
    if parts.next().is_some()
        || key.len() != 16
        || !key.bytes().all(|b| b.is_ascii_hexdigit())
        || source.len() != 20
    {
        return None;
    }
    Some((key.to_owned(), day, source.parse().ok()?))
}

/// One live rollup file.
#[derive(Debug)]
pub struct LiveRollup {
    /// Its path.
    pub path: PathBuf,
    /// The UTC day it covers.
    pub day: i64,
    /// The cold segment it was computed with (or an id of its own when no raw was left).
    pub source: u64,
    /// Bytes on disk.
    pub bytes: u64,
    /// This file's key in the stripe cache: unique in the process.
    pub uid: u64,
    loaded: OnceLock<std::result::Result<Arc<RollupFile>, String>>,
}

impl LiveRollup {
    /// A file known by its name.
    pub fn new(path: PathBuf, day: i64, source: u64, bytes: u64) -> LiveRollup {
        LiveRollup {
            path,
            day,
            source,
            bytes,
            uid: NEXT_UID.fetch_add(1, Ordering::Relaxed),
            loaded: OnceLock::new(),
        }
    }

    /// The decoded file (read once, then shared).
    pub fn file(&self) -> Result<Arc<RollupFile>> {
        self.loaded
            .get_or_init(|| {
                let f = file::read(&self.path).map_err(|e| e.to_string())?;
                if f.meta.day != self.day || f.meta.source != self.source {
                    return Err(format!(
                        "corruption in {}: its day or source differs from its name",
                        self.path.display()
                    ));
                }
                Ok(Arc::new(f))
            })
            .clone()
            .map_err(|what| Error::Corrupt {
                file: self.path.clone(),
                offset: 0,
                what,
            })
    }
}

/// The live rollup files by (rule key, day).
#[derive(Debug, Default)]
pub struct RollupStore {
    dir: PathBuf,
    files: RwLock<BTreeMap<(String, i64), Arc<LiveRollup>>>,
    cache: StripeCache,
}

impl RollupStore {
    /// Opens `dir` (created if missing). When `next_id` is given (the manifest is
    /// trusted), unpublished files are deleted and only the newest file of each (rule,
    /// day) stays; otherwise nothing is deleted and the newest is used.
    /// Decoded stripes are kept up to `cache_bytes`.
    pub fn open(dir: &Path, next_id: Option<u64>, cache_bytes: usize) -> Result<RollupStore> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut files: BTreeMap<(String, i64), Arc<LiveRollup>> = BTreeMap::new();
        let mut doomed = Vec::new();
        for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let e = e.map_err(|e| Error::io(dir, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let path = dir.join(&name);
            let Some((key, day, source)) = parse_file_name(&name) else {
                if name.ends_with(".tmp") {
                    doomed.push(path);
                } else {
                    tracing::warn!("ignoring {} (not a rollup file name)", path.display());
                }
                continue;
            };
            if next_id.is_some_and(|n| source >= n) {
                doomed.push(path);
                continue;
            }
            let bytes = e.metadata().map(|m| m.len()).unwrap_or(0);
            let live = Arc::new(LiveRollup::new(path, day, source, bytes));
            match files.get(&(key.clone(), day)) {
                Some(old) if old.source > source => doomed.push(live.path.clone()),
                Some(old) => {
                    doomed.push(old.path.clone());
                    files.insert((key, day), live);
                }
                None => {
                    files.insert((key, day), live);
                }
            }
        }
        if next_id.is_some() {
            for p in doomed {
                tracing::info!(
                    "removing {} (a replaced or unpublished rollup file)",
                    p.display()
                );
                std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
        Ok(RollupStore {
            dir: dir.to_path_buf(),
            files: RwLock::new(files),
            cache: StripeCache::new(cache_bytes),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The live file of `rule_key` for `day`.
    pub fn get(&self, rule_key: &str, day: i64) -> Option<Arc<LiveRollup>> {
        self.files.read().get(&(rule_key.to_owned(), day)).cloned()
    }

    /// The live files of `rule_key` for days in `days`, by day.
    pub fn range(&self, rule_key: &str, days: std::ops::Range<i64>) -> Vec<(i64, Arc<LiveRollup>)> {
        let lo = (rule_key.to_owned(), days.start);
        let hi = (rule_key.to_owned(), days.end);
        self.files
            .read()
            .range(lo..hi)
            .map(|((_, d), f)| (*d, f.clone()))
            .collect()
    }

    /// Makes `live` the file of (`rule_key`, its day); returns the one it replaced, whose
    /// file the caller deletes once the manifest naming the new source is stored.
    pub fn install(&self, rule_key: &str, live: Arc<LiveRollup>) -> Option<Arc<LiveRollup>> {
        let old = self
            .files
            .write()
            .insert((rule_key.to_owned(), live.day), live);
        if let Some(o) = &old {
            self.cache.forget_file(o.uid);
        }
        old
    }

    /// Stripe `j` of `live` (whose decoded file is `file`), from the cache or decoded
    /// and cached now.
    pub fn stripe(
        &self,
        live: &LiveRollup,
        file: &RollupFile,
        j: usize,
    ) -> Result<Arc<BucketColumns>> {
        let key = (live.uid, u32::try_from(j).unwrap_or(u32::MAX));
        if let Some(c) = self.cache.get(key) {
            return Ok(c);
        }
        let c = file.stripe(&live.path, j)?;
        self.cache.insert(key, c.clone());
        Ok(c)
    }

    /// Bytes of decoded stripes cached now.
    pub fn cached_bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// Forgets and deletes the files of `rule_key` whose day ends at or before `cutoff`.
    pub fn drop_before(&self, rule_key: &str, cutoff: i64) -> Result<usize> {
        let day_end = |d: i64| (d + 1).saturating_mul(crate::compaction::DAY_NANOS);
        let gone: Vec<Arc<LiveRollup>> = {
            let mut files = self.files.write();
            let keys: Vec<(String, i64)> = files
                .keys()
                .filter(|(k, d)| k == rule_key && day_end(*d) <= cutoff)
                .cloned()
                .collect();
            keys.into_iter().filter_map(|k| files.remove(&k)).collect()
        };
        for f in &gone {
            self.cache.forget_file(f.uid);
            crate::fault::remove(crate::fault::Site::Delete, &f.path)
                .map_err(|e| Error::io(&f.path, e))?;
        }
        Ok(gone.len())
    }

    /// Every live file: (rule key, file).
    pub fn all(&self) -> Vec<(String, Arc<LiveRollup>)> {
        self.files
            .read()
            .iter()
            .map(|((k, _), f)| (k.clone(), f.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_junk_is_refused() {
        let n = file_name("00112233aabbccdd", -3, 17);
        assert_eq!(
            parse_file_name(&n),
            Some(("00112233aabbccdd".into(), -3, 17))
        );
        for bad in [
            "x.rup",
            "00112233aabbccdd_1_2.rup",
            "00112233aabbccdd_1_00000000000000000002.seg",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn open_keeps_the_newest_published_file_of_each_day() {
        let dir = tempfile::tempdir().expect("tempdir");
        let k = "00112233aabbccdd";
        for (day, source) in [(1, 3), (1, 5), (2, 4), (2, 9)] {
            std::fs::write(dir.path().join(file_name(k, day, source)), b"x").expect("write");
        }
        std::fs::write(dir.path().join("a.tmp"), b"x").expect("write");
        let store = RollupStore::open(dir.path(), Some(9), 1 << 20).expect("open");
        assert_eq!(store.get(k, 1).map(|f| f.source), Some(5));
        assert_eq!(
            store.get(k, 2).map(|f| f.source),
            Some(4),
            "9 was never published"
        );
        let left = std::fs::read_dir(dir.path()).expect("list").count();
        assert_eq!(left, 2);
        assert_eq!(
            store
                .drop_before(k, 2 * crate::compaction::DAY_NANOS)
                .expect("drop"),
            1
        );
        assert!(store.get(k, 1).is_none() && store.get(k, 2).is_some());
    }
}
