//! Rollups (issue 19 goals).
//!
//! 1. `rollup_year_query`: `SELECT mean(v) FROM m WHERE <one year> GROUP BY time(1h)` over
//!    100 hosts, in a directory compacted to cold with a 1 h rollup rule (answered from
//!    rollups) and in the same data compacted without rules (the raw scan). Synthetic data:
//!    100 hosts × one point per 30 min × 366 days of 2016 (1.76 M points per directory).
//! 2. `rollup_compaction`: compaction to cold of the 6-hour TSBS cpu-only file (2.16 M
//!    points, warm as `strata import` leaves it), without rules, with a 5 m rollup of
//!    `cpu` keeping the default (exact) aggregates, and with the quantile sketch too; each
//!    iteration compacts a fresh copy of the warm directory (the copy is not
//!    timed). The cold and rollup bytes of each are printed once.
//!
//! Needs ../shared/data/tsbs_cpu_only_scale100_6h.lp.zst; `STRATA_BENCH_DATA` overrides.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};
use strata_engine::model::Precision;
use strata_engine::rollup::{Aggregates, RollupRule};
use strata_engine::{Db, Options};
use strata_query::{QueryOptions, execute};

const Y2016: i64 = 1_451_606_400_000_000_000;
const DAYS: i64 = 366;
const HOSTS: i64 = 100;
const STEP: i64 = 30 * 60_000_000_000;

fn options(rules: Vec<RollupRule>) -> Options {
    Options {
        rotation_interval: Duration::ZERO,
        rollups: rules,
        ..Options::default()
    }
}

fn rule(measurement: &str, secs: u64) -> RollupRule {
    rule_keeping(measurement, secs, Aggregates::EXACT)
}

fn rule_keeping(measurement: &str, secs: u64, keep: Aggregates) -> RollupRule {
    RollupRule::new(measurement, true, Duration::from_secs(secs), keep, None).expect("a valid rule")
}

fn year_db(dir: &Path, rules: Vec<RollupRule>) -> Db {
    let db = Db::open(dir, options(rules)).expect("open");
    let per_day = 86_400_000_000_000 / STEP;
    for day in 0..DAYS {
        let mut lp = String::with_capacity((per_day * HOSTS * 40) as usize);
        for i in 0..per_day {
            let t = Y2016 + (day * per_day + i) * STEP;
            for h in 0..HOSTS {
                let v = ((day * per_day + i) * 31 + h * 17) % 1000;
                lp.push_str(&format!("m,host=h{h} v={v}.5 {t}\n"));
            }
        }
        let s = db
            .write_lp(lp.as_bytes(), Precision::Nanosecond)
            .expect("write");
        assert!(s.rejected.is_empty());
    }
    db.compact(true, true).expect("to cold");
    db
}

fn year_query(c: &mut Criterion) {
    let q = "SELECT mean(v) FROM m WHERE time >= '2016-01-01T00:00:00Z' \
             AND time < '2017-01-01T00:00:00Z' GROUP BY time(1h)";
    let opts = QueryOptions::default();
    let mut g = c.benchmark_group("rollup_year_query");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    for (name, rules) in [("rollup_1h", vec![rule("m", 3600)]), ("raw", vec![])] {
        let dir = tempfile::tempdir().expect("tempdir");
        let started = Instant::now();
        let db = year_db(dir.path(), rules);
        eprintln!("{name}: loaded and compacted in {:.1?}", started.elapsed());
        let explain = execute(&db, &format!("EXPLAIN {q}"), &opts);
        eprintln!(
            "{name}: {:?}",
            explain.results[0].series.first().map(|s| &s.values)
        );
        let r = execute(&db, q, &opts);
        assert!(r.first_error().is_none(), "{:?}", r.first_error());
        assert_eq!(r.results[0].series[0].values.len(), (DAYS * 24) as usize);
        g.bench_function(name, |b| b.iter(|| black_box(execute(&db, q, &opts))));
        db.close().expect("close");
    }
    g.finish();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst);
        } else if e.file_name() != "LOCK" {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|r| {
            r.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn compaction(c: &mut Criterion) {
    let path = std::env::var("STRATA_BENCH_DATA").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/tsbs_cpu_only_scale100_6h.lp.zst"
        )
        .to_owned()
    });
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut text = Vec::new();
    zstd::Decoder::new(file)
        .expect("zstd")
        .read_to_end(&mut text)
        .expect("read");
    let warm = tempfile::tempdir().expect("tempdir");
    {
        let db = Db::open(warm.path(), options(vec![])).expect("open");
        for chunk in text
            .split_inclusive(|&b| b == b'\n')
            .collect::<Vec<_>>()
            .chunks(50_000)
        {
            let s = db
                .write_lp(&chunk.concat(), Precision::Nanosecond)
                .expect("write");
            assert!(s.rejected.is_empty());
        }
        db.compact(false, true).expect("to warm");
        db.close().expect("close");
    }
    let mut g = c.benchmark_group("rollup_compaction");
    g.warm_up_time(Duration::from_millis(1));
    g.measurement_time(Duration::from_secs(10));
    for (name, rules) in [
        ("no_rollup", vec![]),
        ("rollup_5m", vec![rule("cpu", 300)]),
        (
            "rollup_5m_with_sketch",
            vec![rule_keeping("cpu", 300, Aggregates::ALL)],
        ),
    ] {
        let scratch = tempfile::tempdir().expect("tempdir");
        let mut printed = false;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let d = scratch.path().join(format!("{i}"));
                    copy_dir(warm.path(), &d);
                    let db = Db::open(&d, options(rules.clone())).expect("open");
                    let t = Instant::now();
                    db.compact(true, true).expect("to cold");
                    total += t.elapsed();
                    db.close().expect("close");
                    if !printed {
                        let seg = dir_bytes(&d.join("segments"));
                        let rup = dir_bytes(&d.join("rollups"));
                        eprintln!(
                            "{name}: segments {seg} B, rollups {rup} B, total {} B",
                            seg + rup
                        );
                        printed = true;
                    }
                    std::fs::remove_dir_all(&d).expect("cleanup");
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, year_query, compaction);
criterion_main!(benches);
