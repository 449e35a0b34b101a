//! PromQL latency in-process: the TSBS query types as PromQL (as
//! ../shared/peers/queries/promql has them; the types whose range function drops the metric
//! name across several metrics — invalid in Prometheus 2.42 — in their per-metric form) and
//! dashboard shapes (`rate`, `sum by`, `quantile_over_time`, `topk`), run through
//! `strata_query::promql::range` on the 1-day cpu-only file in the warm tier, then after
//! `compact --to-cold`.
//!
//! Needs ../shared/data/tsbs_cpu_only_scale100_1d.lp.zst; `STRATA_BENCH_DATA` overrides.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::Read;
use strata_engine::model::Precision;
use strata_engine::{Db, Options};
use strata_query::promql::{self, EvalOptions, QueryValue};

const HOSTS8: &str = "host_6|host_67|host_54|host_30|host_63|host_64|host_28|host_52";
const METRICS5: [&str; 5] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
];
const METRICS10: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];

/// `agg by (...) (fn(cpu_M{sel}[r]))` per metric, the name put back, joined with `or`.
fn per_metric(agg: &str, by: &str, f: &str, metrics: &[&str], sel: &str, r: &str) -> String {
    metrics
        .iter()
        .map(|m| {
            let by = if by.is_empty() { String::new() } else { format!(" by ({by})") };
            format!(
                "label_replace({agg}{by} ({f}(cpu_{m}{{{sel}}}[{r}])), \"__name__\", \"cpu_{m}\", \"\", \"\")"
            )
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// (name, expression, start s, end s, step s), times inside the day.
fn queries() -> Vec<(&'static str, String, i64, i64, i64)> {
    let d = 1_451_606_400; // 2016-01-01T00:00:00Z
    let h = 3600;
    vec![
        (
            "single-groupby-1-1-1",
            "max(max_over_time(cpu_usage_user{hostname='host_6'}[1m])) by (__name__)".into(),
            d + 7 * h,
            d + 8 * h,
            60,
        ),
        (
            "single-groupby-1-8-1",
            format!("max(max_over_time(cpu_usage_user{{hostname=~'{HOSTS8}'}}[1m])) by (__name__)"),
            d + 7 * h,
            d + 8 * h,
            60,
        ),
        (
            "single-groupby-5-1-12",
            per_metric(
                "max",
                "",
                "max_over_time",
                &METRICS5,
                "hostname='host_6'",
                "1m",
            ),
            d + 11 * h,
            d + 23 * h,
            60,
        ),
        (
            "cpu-max-all-8",
            per_metric(
                "max",
                "",
                "max_over_time",
                &METRICS10,
                &format!("hostname=~'{HOSTS8}'"),
                "1h",
            ),
            d + 7 * h,
            d + 15 * h,
            3600,
        ),
        (
            "double-groupby-1",
            "avg(avg_over_time(cpu_usage_user[1h])) by (__name__, hostname)".into(),
            d + 11 * h,
            d + 23 * h,
            3600,
        ),
        (
            "double-groupby-all",
            per_metric("avg", "hostname", "avg_over_time", &METRICS10, "", "1h"),
            d + 11 * h,
            d + 23 * h,
            3600,
        ),
        (
            "scan",
            "avg(avg_over_time(cpu_usage_user[1h]))".into(),
            d,
            d + 24 * h - 1,
            3600,
        ),
        (
            "rate-sum-by-15s",
            "sum by (hostname) (rate(cpu_usage_user{hostname=~'host_1.*'}[1m]))".into(),
            d + 7 * h,
            d + 8 * h,
            15,
        ),
        (
            "quantile-over-time-5m",
            "quantile_over_time(0.99, cpu_usage_user{hostname=~'host_1.*'}[5m])".into(),
            d + 7 * h,
            d + 8 * h,
            15,
        ),
        (
            "topk-5",
            "topk(5, avg_over_time(cpu_usage_user[5m]))".into(),
            d + 7 * h,
            d + 8 * h,
            60,
        ),
    ]
}

fn load(db: &Db) {
    let path = std::env::var("STRATA_BENCH_DATA").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/tsbs_cpu_only_scale100_1d.lp.zst"
        )
        .to_owned()
    });
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut text = Vec::new();
    zstd::Decoder::new(file)
        .expect("zstd")
        .read_to_end(&mut text)
        .expect("read");
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
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = Options {
        rotation_interval: std::time::Duration::ZERO,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options).expect("open");
    load(&db);
    db.compact(false, true).expect("to warm");
    let opts = EvalOptions::default();
    for tier in ["warm", "cold"] {
        if tier == "cold" {
            db.compact(true, true).expect("to cold");
        }
        let mut g = c.benchmark_group(format!("promql_{tier}"));
        g.sample_size(20);
        g.warm_up_time(std::time::Duration::from_millis(500));
        g.measurement_time(std::time::Duration::from_secs(2));
        for (name, q, s, e, step) in queries() {
            let expr = promql::parse_expr(&q).unwrap_or_else(|err| panic!("{name}: {err}"));
            let run = || promql::range(&db, &expr, s * 1000, e * 1000, step * 1000, &opts);
            match run() {
                Ok(QueryValue::Matrix(m)) => assert!(!m.is_empty(), "{name} returns data"),
                other => panic!("{name}: {other:?}"),
            }
            g.bench_function(name, |b| b.iter(|| black_box(run())));
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
