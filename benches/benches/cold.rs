//! Cold tier: decode speed of cold blocks (timestamps + floats, and timestamps + integers),
//! one thread, and compaction throughput (warm → cold) on the devops 6-hour file.
//!
//! Decode data: 100 series × 1 day at 10 s (86,400 points per column... 8,640 each), a
//! two-decimal random-walk gauge (floats) and a TSBS-like 0..100 random walk (integers).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use strata_engine::Db;
use strata_engine::model::{ColumnData, ColumnValues};
use strata_engine::scan::{sum_f64, sum_i64};
use strata_engine::segment::{Segment, SegmentWriter, ValuesView, WriterOptions, file_path};

const SERIES: usize = 100;
const POINTS: usize = 8_640;
const T0: i64 = 1_451_606_400_000_000_000;

fn build(dir: &std::path::Path, id: u64, floats: bool) -> Segment {
    let mut w = SegmentWriter::create_with(dir, id, WriterOptions::cold(12)).expect("create");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for s in 0..SERIES {
        let mut v = 50i64;
        let mut ints = Vec::with_capacity(POINTS);
        for _ in 0..POINTS {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v = (v + (x % 5) as i64 - 2).clamp(0, 100);
            ints.push(v);
        }
        let values = if floats {
            // Two decimals, as parsed from text (exporters and sensors print decimals).
            ColumnValues::Float(
                ints.iter()
                    .map(|&i| ((i as f64 * 0.37 + 0.01) * 100.0).round() / 100.0)
                    .collect(),
            )
        } else {
            ColumnValues::Integer(ints)
        };
        let data = ColumnData {
            timestamps: (0..POINTS as i64)
                .map(|i| T0 + i * 10_000_000_000)
                .collect(),
            values,
        };
        w.add_series(
            format!("\x03cpu\x04host\x05h{s:04}").as_bytes(),
            &[("v", &data)],
        )
        .expect("add");
    }
    let info = w.finish().expect("finish");
    println!(
        "cold {}: {} points, {:.3} bytes/point",
        if floats { "floats" } else { "integers" },
        info.points,
        info.bytes as f64 / info.points as f64
    );
    Segment::open(&file_path(dir, id), id).expect("open")
}

fn decode_all(seg: &Segment) -> (f64, i128, usize) {
    let (mut f, mut i, mut n) = (0.0, 0i128, 0usize);
    for b in 0..seg.block_count() {
        let block = seg.block(b).expect("block");
        n += block.timestamps().len();
        match block.values() {
            ValuesView::Float(v) => f += sum_f64(v),
            ValuesView::Integer(v) => i += sum_i64(v),
            _ => {}
        }
    }
    (f, i, n)
}

fn loaded_warm(batches: &[Vec<u8>]) -> (tempfile::TempDir, Db) {
    let (dir, db, _) = strata_benches::loaded_db(batches);
    db.rotate().expect("rotate");
    (dir, db)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let floats = build(dir.path(), 1, true);
    let ints = build(dir.path(), 2, false);
    let points = (SERIES * POINTS) as u64;
    let mut g = c.benchmark_group("cold_decode");
    g.throughput(Throughput::Elements(points));
    g.sample_size(20);
    g.bench_function("timestamps_and_floats", |b| {
        b.iter(|| black_box(decode_all(&floats)))
    });
    g.bench_function("timestamps_and_integers", |b| {
        b.iter(|| black_box(decode_all(&ints)))
    });
    g.finish();

    let lp = strata_benches::load_lp("tsbs_cpu_only_scale100_6h.lp.zst").expect("shared data");
    let n = strata_benches::count_points(&lp) as u64;
    let batches = strata_benches::batches(&lp, 5_000);
    let mut g = c.benchmark_group("compaction");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("devops_6h_warm_to_cold", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (_dir, db) = loaded_warm(&batches);
                let start = Instant::now();
                db.compact(true, false)
                    .expect("compact")
                    .expect("compacted");
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
