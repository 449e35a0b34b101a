//! PromQL answers the same from every tier, and stale markers survive every tier bit for
//! bit: data written as Prometheus samples (with stale markers, an ordinary NaN and a NaN
//! with another payload) and as line protocol, queried in the hot tier, after rotation to
//! warm, after compaction to cold, and after reopening the directory.

use std::sync::Arc;
use std::time::Duration;
use strata_engine::model::{FieldValue, Point, Precision, SeriesKey};
use strata_engine::{Db, ManualClock, Options};
use strata_query::promql::{self, EvalOptions, QueryValue, STALE_NAN_BITS};

const T0: i64 = 1_700_000_000_000;
const ODD_NAN_BITS: u64 = 0x7ff8_0000_0000_0abc;

fn load(db: &Db) {
    let key = |job: &str| SeriesKey::new("up", [("job", job)]).unwrap();
    let mut points = Vec::new();
    for i in 0..120i64 {
        let v = match i {
            40 => f64::from_bits(STALE_NAN_BITS),
            60 => f64::NAN,
            61 => f64::from_bits(ODD_NAN_BITS),
            _ => (i % 7) as f64,
        };
        for job in ["a", "b"] {
            points.push(Point::new(
                key(job),
                vec![("value".into(), FieldValue::Float(v))],
                (T0 + i * 15_000) * 1_000_000,
            ));
        }
    }
    db.write_points(&points).unwrap();
    let mut lp = String::new();
    for i in 0..120i64 {
        lp.push_str(&format!(
            "cpu,host=h{} usage_user={}i,usage_idle={} {}\n",
            i % 3,
            i * 2,
            100.0 - i as f64 / 4.0,
            (T0 + i * 15_000) * 1_000_000
        ));
    }
    db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
}

const QUERIES: &[&str] = &[
    "up",
    "count_over_time(up[5m])",
    "sum_over_time(up[5m])",
    "avg_over_time(up[5m])",
    "max_over_time(up[2m])",
    "last_over_time(up[1m])",
    "rate(cpu_usage_user[2m])",
    "sum by (host) (cpu_usage_idle) / on(host) cpu_usage_user",
    "quantile_over_time(0.9, cpu_usage_idle[3m])",
    "changes(up[10m])",
];

/// Every query as a range query over the data, as text (NaN by bits).
fn answers(db: &Db) -> Vec<String> {
    let opts = EvalOptions::default();
    QUERIES
        .iter()
        .map(|q| {
            let e = promql::parse_expr(q).unwrap();
            match promql::range(db, &e, T0, T0 + 119 * 15_000, 30_000, &opts).unwrap() {
                QueryValue::Matrix(m) => m
                    .iter()
                    .map(|(l, pts)| {
                        let vals: Vec<String> = pts
                            .iter()
                            .map(|(t, v)| format!("{t}:{:x}", v.to_bits()))
                            .collect();
                        format!("{l} {}", vals.join(","))
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                other => panic!("{q}: {other:?}"),
            }
        })
        .collect()
}

/// The raw stored values of `up{job="a"}` as bits, as remote read returns them.
fn raw_bits(db: &Db) -> Vec<u64> {
    let m = promql::parse_selector("up{job=\"a\"}").unwrap();
    let found = promql::meta::raw_samples(db, &m, T0, T0 + 119 * 15_000, 1_000_000).unwrap();
    assert_eq!(found.len(), 1);
    found[0].1.vals.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn every_tier_answers_the_same_and_keeps_stale_markers() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new((T0 + 3_600_000) * 1_000_000));
    let options = || Options {
        clock: clock.clone(),
        rotation_interval: Duration::ZERO,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options()).unwrap();
    load(&db);
    let hot = answers(&db);
    for (q, a) in QUERIES.iter().zip(&hot) {
        assert!(a.contains(':'), "{q} answers nothing");
    }
    let bits = raw_bits(&db);
    assert_eq!(bits.len(), 120);
    assert_eq!(bits[40], STALE_NAN_BITS);
    assert_eq!(bits[60], f64::NAN.to_bits());
    assert_eq!(bits[61], ODD_NAN_BITS);
    // The stale marker ends the series at once: no sample at 40's time and after, until
    // the next one; an ordinary NaN is a value.
    let e = promql::parse_expr("up{job=\"a\"}").unwrap();
    let opts = EvalOptions::default();
    let at = |t| promql::instant(&db, &e, t, &opts).unwrap();
    assert!(
        matches!(at(T0 + 40 * 15_000 + 1), QueryValue::Vector { samples, .. } if samples.is_empty())
    );
    assert!(
        matches!(at(T0 + 60 * 15_000), QueryValue::Vector { samples, .. } if samples.len() == 1 && samples[0].1.is_nan())
    );

    db.compact(false, true).unwrap();
    assert_eq!(answers(&db), hot, "warm");
    assert_eq!(raw_bits(&db), bits, "warm");
    db.compact(true, true).unwrap();
    assert_eq!(answers(&db), hot, "cold");
    assert_eq!(raw_bits(&db), bits, "cold");
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(answers(&db), hot, "reopened");
    assert_eq!(raw_bits(&db), bits, "reopened");
}
