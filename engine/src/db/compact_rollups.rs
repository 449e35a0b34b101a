//! Writing a cold compaction's rollup files: one per (rule, UTC day written), from the
//! buckets the workers computed out of the merged, deduplicated, tombstone-filtered data
//! of that day (`compact_outputs`), so nothing is read twice.
//!
//! Why a bucket never counts a point twice: a cold compaction of day D takes every cold
//! file of D as an input (compaction planning), so the merged data is *all* raw data of D
//! in cold, each (series, field, time) once; D's rollup file is then rebuilt from it and
//! replaces the previous one whole, never merged with it. The one exception is raw data
//! that retention has already cut: buckets that start before a series' raw cutoff are
//! carried from the previous file of D unchanged (their raw points are gone), and the
//! recomputed bucket is dropped in their favour.
//!
//! Publication follows segments': files are written (tmp, fsync, rename) before the
//! manifest naming their source segment is stored; they become visible to queries only
//! after it, and the files they replace are deleted then (`rollup::store`).

use super::Inner;
use super::compact_outputs::Written;
use crate::compaction::DAY_NANOS;
use crate::error::Result;
use crate::model::TimeRange;
use crate::rollup::file::{self, encode_on};
use crate::rollup::store::{LiveRollup, file_name};
use crate::rollup::{RollupEntry, RollupMeta, RollupRule};
use std::collections::HashMap;
use std::sync::Arc;

/// Rollup files written and not yet installed: (rule key, file).
pub(super) type NewRollups = Vec<(String, Arc<LiveRollup>)>;

impl Inner {
    /// Writes the rollup files of a cold compaction's `partitions`. `keep_from(key)` is a
    /// series' raw cutoff. Ids for days left without raw data come from `*next_id`.
    pub(super) fn write_rollups(
        &self,
        rules: &[RollupRule],
        partitions: &[TimeRange],
        written: &Written,
        keep_from: &dyn Fn(&[u8]) -> i64,
        next_id: &mut u64,
    ) -> Result<NewRollups> {
        let mut out: NewRollups = Vec::new();
        let result =
            self.write_rollups_into(rules, partitions, written, keep_from, next_id, &mut out);
        if let Err(e) = result {
            for (_, f) in &out {
                let _ = std::fs::remove_file(&f.path);
            }
            return Err(e);
        }
        Ok(out)
    }

    fn write_rollups_into(
        &self,
        rules: &[RollupRule],
        partitions: &[TimeRange],
        written: &Written,
        keep_from: &dyn Fn(&[u8]) -> i64,
        next_id: &mut u64,
        out: &mut NewRollups,
    ) -> Result<()> {
        let source_of: HashMap<usize, u64> = written
            .partitions
            .iter()
            .zip(&written.records)
            .map(|(p, r)| (*p, r.id))
            .collect();
        for (p, part) in partitions.iter().enumerate() {
            let day = part.start.div_euclid(DAY_NANOS);
            for (r, rule) in rules.iter().enumerate() {
                let key = rule.key();
                let fresh = written.rollups.get(&(p, r));
                let old = self.rollups.get(&key, day);
                if fresh.is_none() && old.is_none() {
                    continue;
                }
                let (source, no_raw) = match source_of.get(&p) {
                    Some(id) => (*id, false),
                    None => {
                        let id = *next_id;
                        *next_id += 1;
                        (id, true)
                    }
                };
                let meta = RollupMeta {
                    pattern: rule.pattern(),
                    interval: rule.interval(),
                    day,
                    source,
                    no_raw,
                    aggregates: rule.aggregates().0,
                };
                let empty = Vec::new();
                let fresh = fresh.unwrap_or(&empty);
                let carried;
                let entries: &[RollupEntry] = match old {
                    Some(old) if part.start > day * DAY_NANOS => {
                        carried = carry(&old, fresh, keep_from)?;
                        &carried
                    }
                    _ => fresh,
                };
                let path = self.rollups.dir().join(file_name(&key, day, source));
                let threads = crate::pool::resolve_threads(self.options.compaction_threads);
                let bytes = encode_on(&meta, entries, self.options.cold_zstd_level, threads)?;
                file::write(&path, &bytes)?;
                out.push((
                    key,
                    Arc::new(LiveRollup::new(path, day, source, bytes.len() as u64)),
                ));
            }
        }
        Ok(())
    }
}

/// `fresh` with the buckets of `old` that start before their series' raw cutoff carried
/// over (replacing a recomputed bucket of the same start, which saw only part of it).
fn carry(
    old: &LiveRollup,
    fresh: &[RollupEntry],
    keep_from: &dyn Fn(&[u8]) -> i64,
) -> Result<Vec<RollupEntry>> {
    let old_file = old.file()?;
    let mut by_entry: std::collections::BTreeMap<(Vec<u8>, String), RollupEntry> = fresh
        .iter()
        .map(|e| ((e.key.clone(), e.field.clone()), e.clone()))
        .collect();
    for e in old_file.all_entries(&old.path)? {
        let cut = keep_from(&e.key);
        let k = (e.key.clone(), e.field.clone());
        let mut buckets = e.buckets;
        buckets.retain_starts(i64::MIN..cut);
        let Some(&last_old) = buckets.start.last() else {
            continue;
        };
        if let Some(n) = by_entry.get(&k) {
            // The recomputed buckets after the carried ones (the one sharing a start with a
            // carried bucket saw only its points after the cutoff); a type change since
            // keeps the recomputed buckets alone.
            let from = n.buckets.start.partition_point(|&s| s <= last_old);
            if !buckets.extend_from(&n.buckets, from..n.buckets.len()) {
                continue;
            }
        }
        by_entry.insert(
            k,
            RollupEntry {
                key: e.key,
                field: e.field,
                buckets,
            },
        );
    }
    Ok(by_entry.into_values().collect())
}
