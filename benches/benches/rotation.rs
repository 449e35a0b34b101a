//! Rotation throughput: the TSBS devops cpu-only 6-hour file (2.16 M points) sits in the
//! hot tier; one rotation moves it all into a warm segment (split, merge, write, fsync,
//! manifest, WAL checkpoint). Also prints the warm segment's bytes per point.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::{Duration, Instant};
use strata_engine::Db;

const FILE: &str = "tsbs_cpu_only_scale100_6h.lp.zst";

fn loaded_db(batches: &[Vec<u8>]) -> (tempfile::TempDir, Db) {
    let (dir, db, _) = strata_benches::loaded_db(batches);
    (dir, db)
}

fn bench(c: &mut Criterion) {
    let lp = strata_benches::load_lp(FILE).expect("shared data");
    let points = strata_benches::count_points(&lp) as u64;
    let batches = strata_benches::batches(&lp, 5_000);
    {
        let (_dir, db) = loaded_db(&batches);
        let r = db.rotate().expect("rotate").expect("rotated");
        println!(
            "warm segment: {} points, {} bytes, {:.2} bytes/point",
            r.segment.points,
            r.segment.bytes,
            r.segment.bytes as f64 / r.segment.points as f64
        );
    }
    let mut g = c.benchmark_group("rotation");
    g.throughput(Throughput::Elements(points));
    g.sample_size(10);
    g.bench_function("devops_6h_hot_to_warm", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (_dir, db) = loaded_db(&batches);
                let start = Instant::now();
                db.rotate().expect("rotate").expect("rotated");
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
