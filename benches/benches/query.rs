//! Query latency: every TSBS devops query type (InfluxQL, as ../shared/peers/queries has
//! them, and the missing types written the same way) run in-process through
//! `strata_query::execute` on the 1-day cpu-only file, first with the data in warm
//! segments (as `strata import` leaves it), then after `compact --to-cold`.
//!
//! Needs ../shared/data/tsbs_cpu_only_scale100_1d.lp.zst; `STRATA_BENCH_DATA` overrides.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::Read;
use strata_engine::model::Precision;
use strata_engine::{Db, Options};
use strata_query::{QueryOptions, execute};

const FIELDS: [&str; 10] = [
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
const HOSTS8: &str = "(hostname = 'host_6' or hostname = 'host_67' or hostname = 'host_54' or hostname = 'host_30' or hostname = 'host_63' or hostname = 'host_64' or hostname = 'host_28' or hostname = 'host_52')";

fn fields(f: &str, n: usize) -> String {
    FIELDS[..n]
        .iter()
        .map(|x| format!("{f}({x})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One query of each type, named as TSBS names them.
fn queries() -> Vec<(&'static str, String)> {
    let h1 = "(hostname = 'host_6')";
    let t1h = "time >= '2016-01-01T07:13:10Z' and time < '2016-01-01T08:13:10Z'";
    let t8h = "time >= '2016-01-01T07:13:10Z' and time < '2016-01-01T15:13:10Z'";
    let t12h = "time >= '2016-01-01T11:13:10Z' and time < '2016-01-01T23:13:10Z'";
    vec![
        ("single-groupby-1-1-1", format!("SELECT {} from cpu where {h1} and {t1h} group by time(1m)", fields("max", 1))),
        ("single-groupby-1-1-12", format!("SELECT {} from cpu where {h1} and {t12h} group by time(1m)", fields("max", 1))),
        ("single-groupby-1-8-1", format!("SELECT {} from cpu where {HOSTS8} and {t1h} group by time(1m)", fields("max", 1))),
        ("single-groupby-5-1-1", format!("SELECT {} from cpu where {h1} and {t1h} group by time(1m)", fields("max", 5))),
        ("single-groupby-5-1-12", format!("SELECT {} from cpu where {h1} and {t12h} group by time(1m)", fields("max", 5))),
        ("single-groupby-5-8-1", format!("SELECT {} from cpu where {HOSTS8} and {t1h} group by time(1m)", fields("max", 5))),
        ("cpu-max-all-1", format!("SELECT {} from cpu where {h1} and {t8h} group by time(1h)", fields("max", 10))),
        ("cpu-max-all-8", format!("SELECT {} from cpu where {HOSTS8} and {t8h} group by time(1h)", fields("max", 10))),
        ("double-groupby-1", format!("SELECT {} from cpu where {t12h} group by time(1h),hostname", fields("mean", 1))),
        ("double-groupby-5", format!("SELECT {} from cpu where {t12h} group by time(1h),hostname", fields("mean", 5))),
        ("double-groupby-all", format!("SELECT {} from cpu where {t12h} group by time(1h),hostname", fields("mean", 10))),
        ("high-cpu-1", format!("SELECT * from cpu where usage_user > 90.0 and {h1} and {t12h}")),
        ("high-cpu-all", format!("SELECT * from cpu where usage_user > 90.0 and {t12h}")),
        ("lastpoint", "SELECT * from cpu group by \"hostname\" order by time desc limit 1".to_owned()),
        ("groupby-orderby-limit", "SELECT max(usage_user) from cpu WHERE time < '2016-01-01T08:13:10Z' group by time(1m) limit 5".to_owned()),
        ("scan-mean-1h", "SELECT mean(usage_user) FROM cpu WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-02T00:00:00Z' GROUP BY time(1h)".to_owned()),
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
        let batch: Vec<u8> = chunk.concat();
        let s = db.write_lp(&batch, Precision::Nanosecond).expect("write");
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
    let opts = QueryOptions::default();
    for tier in ["warm", "cold"] {
        if tier == "cold" {
            db.compact(true, true).expect("to cold");
        }
        let mut g = c.benchmark_group(format!("query_{tier}"));
        g.sample_size(20);
        g.warm_up_time(std::time::Duration::from_millis(500));
        g.measurement_time(std::time::Duration::from_secs(2));
        for (name, q) in queries() {
            let r = execute(&db, &q, &opts);
            assert!(r.first_error().is_none(), "{name}: {:?}", r.first_error());
            assert!(!r.results[0].series.is_empty(), "{name} returns data");
            g.bench_function(name, |b| b.iter(|| black_box(execute(&db, &q, &opts))));
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
