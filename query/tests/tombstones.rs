//! Deletes are invisible to every query shape, block-statistics shortcuts included: a
//! database whose warm and cold segments hold deleted values under tombstones answers
//! InfluxQL aggregates and PromQL exactly as a database that never held those values,
//! before the purge and after it.

use std::sync::Arc;
use std::time::Duration;
use strata_engine::model::Precision;
use strata_engine::{Db, ManualClock, Options};
use strata_query::promql::{self, EvalOptions};
use strata_query::{Epoch, QueryOptions, execute};

/// 2016-01-01T00:00:00Z, ns.
const T0: i64 = 1_451_606_400_000_000_000;
const MIN: i64 = 60_000_000_000;
const DAY: i64 = 1_440 * MIN;
const HOSTS: [&str; 4] = ["a", "ab", "b", "c"];

/// Whether the statements of `delete` below cover (host, field, t).
fn deleted(host: &str, field: &str, t: i64) -> bool {
    let influx = (host == "a" || host == "ab") && (T0 + DAY / 2..T0 + DAY + DAY / 3).contains(&t);
    // PromQL: cpu_n{host=~"b|c"} in [T0 + 100 min, T0 + 700 min] (ms, inclusive).
    let prom = field == "n"
        && (host == "b" || host == "c")
        && (T0 + 100 * MIN..T0 + 700 * MIN + 1_000_000).contains(&t);
    influx || prom
}

/// Two days, one point a minute per host: day 0 into cold, day 1 into warm; with `skip`,
/// the deleted values are never written.
fn load(db: &Db, skip: bool) {
    for day in 0..2 {
        let mut lp = String::new();
        for i in 0..1_440i64 {
            let t = T0 + day * DAY + i * MIN;
            for (k, h) in HOSTS.iter().enumerate() {
                let v = (i * 7 + k as i64 * 3) % 101;
                let mut fields = Vec::new();
                for (f, text) in [("v", format!("{v}.25")), ("n", format!("{}i", v - 50))] {
                    if !(skip && deleted(h, f, t)) {
                        fields.push(format!("{f}={text}"));
                    }
                }
                if !fields.is_empty() {
                    lp.push_str(&format!("cpu,host={h} {} {t}\n", fields.join(",")));
                }
            }
        }
        db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
        db.compact(day == 0, true).unwrap();
    }
}

const INFLUXQL: &[&str] = &[
    "SELECT count(v), sum(v), min(v), max(v), mean(v) FROM cpu WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-03T00:00:00Z' GROUP BY time(1h), host",
    "SELECT count(n), sum(n), min(n), max(n), first(n), last(n) FROM cpu WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-03T00:00:00Z' GROUP BY time(6h), host",
    "SELECT count(v), sum(n) FROM cpu WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-03T00:00:00Z'",
    "SELECT mean(v) FROM cpu WHERE host = 'a' GROUP BY time(12h)",
    "SELECT * FROM cpu WHERE time >= '2016-01-01T11:55:00Z' AND time < '2016-01-01T12:05:00Z'",
    "SELECT last(v), first(n) FROM cpu GROUP BY host",
    "SHOW SERIES",
];

const PROMQL: &[&str] = &[
    "sum_over_time(cpu_v[1h])",
    "count_over_time(cpu_n[30m])",
    "max by (host) (max_over_time(cpu_n[2h]))",
    "cpu_v",
];

fn answers(db: &Db) -> Vec<String> {
    let opts = QueryOptions {
        now: Some(T0 + 3 * DAY),
        ..QueryOptions::default()
    };
    let mut out: Vec<String> = INFLUXQL
        .iter()
        .map(|q| execute(db, q, &opts).to_json(Epoch::Nanoseconds))
        .collect();
    let start = T0 / 1_000_000;
    for q in PROMQL {
        let e = promql::parse_expr(q).unwrap();
        let v = promql::range(
            db,
            &e,
            start,
            start + 2 * 86_400_000,
            600_000,
            &EvalOptions::default(),
        )
        .unwrap();
        out.push(format!("{v:?}"));
    }
    out
}

fn delete(db: &Db) {
    let opts = QueryOptions {
        now: Some(T0 + 3 * DAY),
        ..QueryOptions::default()
    };
    let r = execute(
        db,
        "DELETE FROM cpu WHERE (host =~ /a/ OR host = 'nobody') AND time >= '2016-01-01T12:00:00Z' AND time < '2016-01-02T08:00:00Z'",
        &opts,
    );
    assert!(r.first_error().is_none(), "{r:?}");
    let sets = vec![promql::parse_selector(r#"cpu_n{host=~"b|c"}"#).unwrap()];
    let start = T0 / 1_000_000 + 100 * 60_000;
    promql::delete::delete_series(db, &sets, start, start + 600 * 60_000).unwrap();
}

#[test]
fn tombstoned_segments_answer_as_if_the_values_were_never_written() {
    let clock = Arc::new(ManualClock::new(T0 + 3 * DAY));
    let options = || Options {
        clock: clock.clone(),
        rotation_interval: Duration::ZERO,
        ..Options::default()
    };
    let (da, db_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Db::open(da.path(), options()).unwrap();
    let b = Db::open(db_dir.path(), options()).unwrap();
    load(&a, false);
    load(&b, true);
    let t = a.tier_stats();
    assert!(t.cold.files >= 1 && t.warm.files >= 1, "{t:?}");
    let before = answers(&a);
    delete(&a);
    assert!(a.pending_tombstones() > 0);
    let want = answers(&b);
    assert_ne!(before, want, "the deletes must change answers");
    let got = answers(&a);
    for ((q, g), w) in INFLUXQL.iter().chain(PROMQL).zip(&got).zip(&want) {
        assert_eq!(g, w, "before the purge: {q}");
    }
    a.clean_tombstones().unwrap();
    assert_eq!(a.pending_tombstones(), 0);
    let got = answers(&a);
    for ((q, g), w) in INFLUXQL.iter().chain(PROMQL).zip(&got).zip(&want) {
        assert_eq!(g, w, "after the purge: {q}");
    }
}
