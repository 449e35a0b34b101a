//! Codec throughput on named, fixed-seed column shapes, in blocks of 1,000 and 8,192 values.
//!
//! Prints the encoded size of every shape (bytes per value) once, then measures encode and
//! decode throughput in values per second. Run with
//! `cargo bench -p strata-benches --bench codec`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use strata_engine::codec;

const SIZES: [usize; 2] = [1_000, 8_192];
const T0: i64 = 1_451_606_400_000_000_000;
const SEC: i64 = 1_000_000_000;

/// SplitMix64: a fixed-seed generator so that every run measures the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One column of one type, with a name.
enum Column {
    Ts(Vec<i64>),
    F64(Vec<f64>),
    I64(Vec<i64>),
}

fn shapes(n: usize) -> Vec<(&'static str, Column)> {
    let mut rng = Rng(0x5EED);
    let idx = 0..n as i64;
    let ts_regular = idx.clone().map(|i| T0 + i * 10 * SEC).collect();
    let ts_jitter_ms = idx
        .clone()
        .map(|i| T0 + i * SEC + rng.range(-3, 3) * 1_000_000)
        .collect();
    let ts_jitter_ns = idx
        .clone()
        .map(|i| T0 + i * 10 * SEC + rng.range(-500_000, 500_000))
        .collect();
    let f_constant = vec![0.1 + 0.2; n];
    let mut c = 1.0e6;
    let f_counter = (0..n)
        .map(|_| {
            c += rng.range(0, 5000) as f64;
            c
        })
        .collect();
    let mut g = 50.0;
    let f_gauge = (0..n)
        .map(|_| {
            g = (g + (rng.unit() - 0.5)).clamp(0.0, 100.0);
            g
        })
        .collect();
    let mut d = 5_000i64;
    let f_decimal = (0..n)
        .map(|_| {
            d = (d + rng.range(-25, 25)).clamp(0, 10_000);
            d as f64 / 100.0
        })
        .collect();
    let f_noise = (0..n).map(|_| rng.unit() * 1e3).collect();
    let mut w = 50i64;
    let i_walk = (0..n)
        .map(|_| {
            w = (w + rng.range(-3, 3)).clamp(0, 100);
            w
        })
        .collect();
    let mut k = 0i64;
    let i_counter = (0..n)
        .map(|_| {
            k += rng.range(0, 2000);
            k
        })
        .collect();
    vec![
        ("ts/regular", Column::Ts(ts_regular)),
        ("ts/jitter_ms", Column::Ts(ts_jitter_ms)),
        ("ts/jitter_ns", Column::Ts(ts_jitter_ns)),
        ("f64/constant", Column::F64(f_constant)),
        ("f64/counter", Column::F64(f_counter)),
        ("f64/gauge", Column::F64(f_gauge)),
        ("f64/decimal_gauge", Column::F64(f_decimal)),
        ("f64/noise", Column::F64(f_noise)),
        ("i64/walk_0_100", Column::I64(i_walk)),
        ("i64/counter", Column::I64(i_counter)),
    ]
}

fn encode(col: &Column, dst: &mut Vec<u8>) {
    match col {
        Column::Ts(v) => codec::encode_timestamps(v, dst),
        Column::F64(v) => codec::encode_floats(v, dst),
        Column::I64(v) => codec::encode_i64(v, dst),
    }
}

fn decode(col: &Column, src: &[u8], ints: &mut Vec<i64>, floats: &mut Vec<f64>) -> usize {
    ints.clear();
    floats.clear();
    let used = match col {
        Column::Ts(_) => codec::decode_timestamps(src, ints),
        Column::F64(_) => codec::decode_floats(src, floats),
        Column::I64(_) => codec::decode_i64(src, ints),
    };
    used.expect("bench blocks decode")
}

fn len(col: &Column) -> usize {
    match col {
        Column::Ts(v) | Column::I64(v) => v.len(),
        Column::F64(v) => v.len(),
    }
}

fn bench_codecs(c: &mut Criterion) {
    println!(
        "{:<20} {:>6} {:>8} {:>11}",
        "shape", "values", "bytes", "bytes/value"
    );
    for n in SIZES {
        for (name, col) in shapes(n) {
            let mut block = Vec::new();
            encode(&col, &mut block);
            let per = block.len() as f64 / len(&col) as f64;
            println!("{name:<20} {n:>6} {:>8} {per:>11.3}", block.len());
        }
    }

    let mut enc = c.benchmark_group("encode");
    enc.sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(600));
    for n in SIZES {
        for (name, col) in shapes(n) {
            enc.throughput(Throughput::Elements(n as u64));
            let mut dst = Vec::with_capacity(16 * n);
            enc.bench_with_input(BenchmarkId::new(name, n), &col, |b, col| {
                b.iter(|| {
                    dst.clear();
                    encode(black_box(col), &mut dst);
                    dst.len()
                })
            });
        }
    }
    enc.finish();

    let mut dec = c.benchmark_group("decode");
    dec.sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(600));
    for n in SIZES {
        for (name, col) in shapes(n) {
            let mut block = Vec::new();
            encode(&col, &mut block);
            let (mut ints, mut floats) = (Vec::with_capacity(n), Vec::with_capacity(n));
            dec.throughput(Throughput::Elements(n as u64));
            dec.bench_with_input(BenchmarkId::new(name, n), &block, |b, block| {
                b.iter(|| decode(&col, black_box(block), &mut ints, &mut floats))
            });
        }
    }
    dec.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench_codecs
}
criterion_main!(benches);
