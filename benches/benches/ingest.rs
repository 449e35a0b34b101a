//! Embedded ingest: parse + WAL (fsync `always`, group commit) + hot tier, 4 concurrent
//! writers, batches of 5,000 lines of the TSBS devops cpu-only file (6 hours, 2.16 M points).
//! Every iteration writes the whole file into a fresh data directory.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use strata_engine::model::Precision;
use strata_engine::{Db, FsyncPolicy, Options};

const FILE: &str = "tsbs_cpu_only_scale100_6h.lp.zst";

fn ingest_once(batches: &Arc<Vec<Vec<u8>>>, writers: usize, fsync: FsyncPolicy) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(
        Db::open(
            dir.path(),
            Options {
                fsync,
                ..Options::default()
            },
        )
        .expect("open"),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|_| {
            let (db, batches, next) = (db.clone(), batches.clone(), next.clone());
            std::thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(b) = batches.get(i) else { break };
                    let s = db.write_lp(b, Precision::Nanosecond).expect("write");
                    assert!(s.rejected.is_empty());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("writer");
    }
    let took = start.elapsed();
    drop(db);
    took
}

fn bench(c: &mut Criterion) {
    let lp = strata_benches::load_lp(FILE).expect("shared data");
    let points = strata_benches::count_points(&lp);
    let batches = Arc::new(strata_benches::batches(&lp, 5_000));
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(points as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    for (name, fsync) in [
        ("fsync_always", FsyncPolicy::Always),
        ("fsync_never", FsyncPolicy::Never),
    ] {
        g.bench_function(format!("devops_6h_4_writers_5000_lines/{name}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| ingest_once(&batches, 4, fsync)).sum())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
