//! Warm scan: count / sum / min / max (hence mean) over float columns of a warm segment,
//! one thread, so the throughput is per core. Three ways: reading every block in place,
//! answering from block statistics (whole blocks inside the range), and hourly buckets
//! (each a GROUP BY time(1h) bucket, which the hour-aligned blocks answer from stats).
//!
//! Data: 100 series × 1 float column × 1 day at 1 s (8.64 M points), a fixed-seed random
//! walk with two decimals.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use strata_engine::model::{ColumnData, ColumnValues, TimeRange};
use strata_engine::scan::{FloatAgg, aggregate_float_column};
use strata_engine::segment::{BLOCK_SPAN_NANOS, Segment, SegmentWriter, file_path};

const SERIES: usize = 100;
const POINTS: usize = 86_400;
const T0: i64 = 1_451_606_400_000_000_000;

fn build(dir: &std::path::Path) -> Segment {
    let mut w = SegmentWriter::create(dir, 1).expect("create");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for s in 0..SERIES {
        let mut v = 50.0f64;
        let mut vals = Vec::with_capacity(POINTS);
        for _ in 0..POINTS {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v = ((v + (x % 201) as f64 / 100.0 - 1.0) * 100.0).round() / 100.0;
            vals.push(v);
        }
        let data = ColumnData {
            timestamps: (0..POINTS as i64).map(|i| T0 + i * 1_000_000_000).collect(),
            values: ColumnValues::Float(vals),
        };
        w.add_series(
            format!("\x03cpu\x04host\x05h{s:04}").as_bytes(),
            &[("usage", &data)],
        )
        .expect("add");
    }
    w.finish().expect("finish");
    Segment::open(&file_path(dir, 1), 1).expect("open")
}

fn scan(seg: &Segment, range: TimeRange, use_stats: bool) -> FloatAgg {
    let mut total = FloatAgg::default();
    for s in seg.series() {
        let (a, _) = aggregate_float_column(seg, &s.columns[0], range, use_stats).expect("scan");
        total.merge(&a);
    }
    total
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let seg = build(dir.path());
    let points = (SERIES * POINTS) as u64;
    // First pass verifies every block checksum; the benches measure the steady state.
    black_box(scan(&seg, TimeRange::ALL, false));
    let mut g = c.benchmark_group("warm_scan");
    g.throughput(Throughput::Elements(points));
    g.sample_size(20);
    g.bench_function("sum_mean_min_max/read_every_block", |b| {
        b.iter(|| black_box(scan(&seg, TimeRange::ALL, false)))
    });
    g.bench_function("sum_mean_min_max/block_stats", |b| {
        b.iter(|| black_box(scan(&seg, TimeRange::ALL, true)))
    });
    g.bench_function("mean_by_1h/block_stats", |b| {
        b.iter(|| {
            let mut buckets = Vec::with_capacity(24);
            for h in 0..24 {
                let r = TimeRange::new(T0 + h * BLOCK_SPAN_NANOS, T0 + (h + 1) * BLOCK_SPAN_NANOS);
                buckets.push(scan(&seg, r, true).mean());
            }
            black_box(buckets)
        })
    });
    g.bench_function("mean_by_1h/read_every_block", |b| {
        b.iter(|| {
            let mut buckets = Vec::with_capacity(24);
            for h in 0..24 {
                let r = TimeRange::new(T0 + h * BLOCK_SPAN_NANOS, T0 + (h + 1) * BLOCK_SPAN_NANOS);
                buckets.push(scan(&seg, r, false).mean());
            }
            black_box(buckets)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
