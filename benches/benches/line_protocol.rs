//! Line protocol: `LineSplitter` + `parse_line` over the TSBS cpu-only file (216,000 lines,
//! 2,160,000 points), reported per line and per point, and the serializer.

use criterion::{
    BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime,
};
use std::hint::black_box;
use std::time::Duration;
use strata_engine::ingest::line_protocol::{
    LineSplitter, ParsedLine, parse_line, parse_points, write_point,
};
use strata_engine::model::Precision;

const FILE: &str = "tsbs_cpu_only_scale100_6h.lp.zst";

/// Splits and parses the whole batch into one reused `ParsedLine`; returns the points seen.
fn split_and_parse(batch: &[u8]) -> usize {
    let mut parsed = ParsedLine::default();
    let mut points = 0;
    for (_, line) in LineSplitter::new(batch) {
        if parse_line(line, Precision::Nanosecond, &mut parsed).is_ok() {
            points += parsed.fields.len();
        }
    }
    points
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
}

fn bench(c: &mut Criterion) {
    let batch = strata_benches::load_lp(FILE).unwrap_or_else(|e| panic!("{FILE}: {e}"));
    let lines = LineSplitter::new(&batch).count() as u64;
    let points = split_and_parse(&batch) as u64;

    let mut group = c.benchmark_group("line_protocol");
    configure(&mut group);
    group.throughput(Throughput::Elements(lines));
    group.bench_function("split_parse/lines", |b| {
        b.iter(|| split_and_parse(black_box(&batch)))
    });
    group.throughput(Throughput::Elements(points));
    group.bench_function("split_parse/points", |b| {
        b.iter(|| split_and_parse(black_box(&batch)))
    });
    group.throughput(Throughput::Elements(lines));
    group.bench_function("split_only/lines", |b| {
        b.iter(|| LineSplitter::new(black_box(&batch)).count())
    });

    // Serializer: every line back to text, from owned points.
    let (owned, _) = parse_points(&batch, Precision::Nanosecond, 0);
    let mut out = Vec::with_capacity(batch.len());
    group.throughput(Throughput::Elements(lines));
    group.bench_function("write_point/lines", |b| {
        b.iter(|| {
            out.clear();
            for p in &owned {
                let _ = write_point(&mut out, p);
            }
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
