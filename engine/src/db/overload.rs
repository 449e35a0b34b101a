//! Overload: whether the database should refuse new writes for a while (a server answers
//! them 503 with `Retry-After`) instead of letting memory or the WAL grow without bound,
//! and the engine's monitoring counters.
//!
//! The hot tier is overloaded above [`OVERLOAD_HOT_FACTOR`] × `hot_max_bytes`: rotation
//! starts at 1× and brings it back to about half, so 2× means rotation cannot keep up. The
//! WAL is overloaded above [`OVERLOAD_WAL_FACTOR`] × `hot_max_bytes` plus one WAL file:
//! the WAL holds what rotation has not checkpointed yet, uncompressed, so it is several
//! times the hot tier's size in normal running; far beyond that means checkpoints stall.

use super::Db;
use crate::metrics::MetricsSnapshot;
use std::sync::atomic::Ordering;

/// Writes are refused while the hot tier holds more than this many times `hot_max_bytes`.
pub const OVERLOAD_HOT_FACTOR: usize = 2;
/// Writes are refused while the WAL holds more than this many times `hot_max_bytes`
/// (plus one WAL file, which grows to at most `wal::MAX_SEGMENT_FACTOR` × `wal_segment_bytes`).
pub const OVERLOAD_WAL_FACTOR: u64 = 16;

impl Db {
    /// `Some(reason)` while the database is over one of its bounds (see the module docs),
    /// `None` when writes are welcome. Costs one `stat` per WAL file: call it every so
    /// often, not per write.
    pub fn overloaded(&self) -> Option<String> {
        let o = &self.inner.options;
        let hot_bytes: usize = {
            let st = self.inner.state.read();
            st.hot.bytes() + st.rotating.iter().map(|r| r.bytes()).sum::<usize>()
        };
        let hot_limit = o.hot_max_bytes.saturating_mul(OVERLOAD_HOT_FACTOR);
        if hot_bytes > hot_limit {
            return Some(format!(
                "the hot tier holds {hot_bytes} bytes, over {OVERLOAD_HOT_FACTOR} × hot.max_bytes \
                 ({hot_limit} bytes): rotation to warm is behind"
            ));
        }
        let wal_bytes: u64 = self.inner.wal.files().iter().map(|f| f.1).sum();
        let wal_limit = (o.hot_max_bytes as u64)
            .saturating_mul(OVERLOAD_WAL_FACTOR)
            .saturating_add(
                o.wal_segment_bytes
                    .saturating_mul(crate::wal::MAX_SEGMENT_FACTOR),
            );
        if wal_bytes > wal_limit {
            return Some(format!(
                "the WAL holds {wal_bytes} bytes not yet checkpointed, over its bound of \
                 {wal_limit} bytes: rotation to warm is behind"
            ));
        }
        None
    }

    /// The engine's counters: WAL fsync latency, rotations and compactions since open.
    pub fn metrics(&self) -> MetricsSnapshot {
        let c = &self.inner.counters;
        MetricsSnapshot {
            wal_fsync: self.inner.wal.fsync_latency(),
            rotations: c.rotations.load(Ordering::Relaxed),
            compactions: c.compactions.load(Ordering::Relaxed),
            compactions_redone: c.compactions_redone.load(Ordering::Relaxed),
            series_limit_per_metric: c.series_limit_per_metric.load(Ordering::Relaxed),
            series_limit_per_minute: c.series_limit_per_minute.load(Ordering::Relaxed),
            series_created: c.series_created.load(Ordering::Relaxed),
            write_path: self.write_path(),
        }
    }

    /// The write path's serialised sections and totals since open.
    fn write_path(&self) -> crate::metrics::WritePathSnapshot {
        use crate::metrics::Section;
        let w = &self.inner.counters.write;
        let [submit, wal_write, fsync] = self.inner.wal.sections();
        crate::metrics::WritePathSnapshot {
            batches: w.batches.load(Ordering::Relaxed),
            batch_seconds: w.batch_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            durable_wait_seconds: w.durable_wait_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            sections: vec![
                w.index_create.snapshot(Section::IndexCreate),
                submit,
                wal_write,
                fsync,
                w.turnstile.snapshot(Section::Turnstile),
                w.hot_insert.snapshot(Section::HotInsert),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::Precision;
    use crate::{Db, Options};
    use std::time::Duration;

    fn tiny(hot_max_bytes: usize) -> Options {
        Options {
            hot_max_bytes,
            rotation_interval: Duration::ZERO,
            ..Options::default()
        }
    }

    #[test]
    fn hot_tier_over_twice_its_bound_is_overloaded() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), tiny(1 << 20)).unwrap();
        db.write_lp(b"cpu,host=a v=1 1\n", Precision::Nanosecond)
            .unwrap();
        assert_eq!(db.overloaded(), None);
        drop(db);
        let db = Db::open(dir.path(), tiny(16 << 10)).unwrap();
        let mut lp = String::new();
        for i in 0..20_000 {
            lp.push_str(&format!("cpu,host=h{} v={i} {i}\n", i % 50));
        }
        db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
        let why = db.overloaded().expect("overloaded");
        assert!(
            why.contains("hot tier") && why.contains("hot.max_bytes"),
            "{why}"
        );
        db.compact(false, true).unwrap();
        assert_eq!(db.overloaded(), None, "rotation brings it back");
    }

    #[test]
    fn metrics_count_fsyncs_and_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), tiny(1 << 20)).unwrap();
        let before = db.metrics();
        db.write_lp(b"cpu,host=a v=1 1\n", Precision::Nanosecond)
            .unwrap();
        let m = db.metrics();
        assert!(m.wal_fsync.count > before.wal_fsync.count);
        assert_eq!(m.rotations, 0);
        db.compact(false, true).unwrap();
        assert_eq!(db.metrics().rotations, 1);
    }

    #[test]
    fn metrics_time_every_serialised_section_of_the_write_path() {
        use crate::metrics::Section;
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), tiny(1 << 20)).unwrap();
        let passes = |m: &crate::MetricsSnapshot, s: Section| {
            m.write_path
                .sections
                .iter()
                .find(|x| x.section == s)
                .map(|x| x.count)
                .unwrap()
        };
        let before = db.metrics();
        assert_eq!(
            before
                .write_path
                .sections
                .iter()
                .map(|s| s.section)
                .collect::<Vec<_>>(),
            Section::ALL
        );
        db.write_lp(
            b"cpu,host=a v=1 1\ncpu,host=b v=2 2\n",
            Precision::Nanosecond,
        )
        .unwrap();
        let first = db.metrics();
        db.write_prom_text(b"up{job=\"a\"} 1 5\n", 0).unwrap();
        db.write_lp(b"cpu,host=a v=3 3\n", Precision::Nanosecond)
            .unwrap();
        let last = db.metrics();
        assert_eq!(first.write_path.batches, before.write_path.batches + 1);
        assert_eq!(last.write_path.batches, first.write_path.batches + 2);
        for (a, b) in [(&before, &first), (&first, &last)] {
            assert!(b.write_path.batch_seconds >= a.write_path.batch_seconds);
            assert!(b.write_path.durable_wait_seconds >= a.write_path.durable_wait_seconds);
            for (x, y) in a.write_path.sections.iter().zip(&b.write_path.sections) {
                assert!(
                    y.count >= x.count && y.hold_seconds >= x.hold_seconds,
                    "{y:?}"
                );
                assert!(y.wait_seconds >= x.wait_seconds, "{y:?}");
            }
            for s in [
                Section::WalSubmit,
                Section::WalWrite,
                Section::Turnstile,
                Section::HotInsert,
            ] {
                assert!(passes(b, s) > passes(a, s), "{s:?}");
            }
        }
        // Two new series and a column: the index's write lock; one more series (`up`) and
        // its column in the second pair of batches, none for the known `cpu,host=a`.
        assert!(passes(&first, Section::IndexCreate) > passes(&before, Section::IndexCreate));
        assert!(passes(&last, Section::IndexCreate) > passes(&first, Section::IndexCreate));
        let known = db.metrics();
        db.write_lp(b"cpu,host=a v=4 4\n", Precision::Nanosecond)
            .unwrap();
        assert_eq!(
            passes(&db.metrics(), Section::IndexCreate),
            passes(&known, Section::IndexCreate)
        );
    }
}
