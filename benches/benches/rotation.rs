//! Rotation throughput: the TSBS devops cpu-only 6-hour file (2.16 M points) sits in the
//! hot tier; one rotation moves it all into a warm segment (split, merge, write, fsync,
//! manifest, WAL checkpoint). Also prints the warm segment's bytes per point.
//!
//! `wide_line`: one line of 1,000 / 10,000 / 100,000 fields rotated on its own, which
//! must cost time linear in the fields (it was quadratic: 100,000 fields took minutes).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::{Duration, Instant};
use strata_engine::model::Precision;
use strata_engine::{Db, Options};

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

/// A fresh database holding one hour-old line of `fields` fields in its hot tier.
fn wide_db(fields: usize) -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = Options {
        max_fields_per_line: fields,
        rotation_interval: Duration::ZERO,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options).expect("open");
    let mut line = String::from("wide,host=a ");
    for f in 0..fields {
        if f > 0 {
            line.push(',');
        }
        line.push_str(&format!("f{f}={f}i"));
    }
    let hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as i64
        - 3_600_000_000_000;
    line.push_str(&format!(" {hour_ago}\n"));
    let w = db
        .write_lp(line.as_bytes(), Precision::Nanosecond)
        .expect("write");
    assert!(w.rejected.is_empty(), "{:?}", w.rejected);
    (dir, db)
}

fn wide_line(c: &mut Criterion) {
    let mut g = c.benchmark_group("rotation_wide_line");
    g.sample_size(10);
    for fields in [1_000usize, 10_000, 100_000] {
        g.throughput(Throughput::Elements(fields as u64));
        g.bench_function(format!("{fields}_fields"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (_dir, db) = wide_db(fields);
                    let start = Instant::now();
                    db.rotate().expect("rotate").expect("rotated");
                    total += start.elapsed();
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, wide_line, bench);
criterion_main!(benches);
