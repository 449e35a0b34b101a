//! InfluxQL over rollups: a database with a 5-minute rollup rule answers aggregates by
//! time exactly as one without (integer and float fields, mixed rolled-up and raw ranges,
//! unaligned bounds); EXPLAIN says which source answered; a statement rollups cannot
//! serve falls back to raw with the same answer; after raw retention dropped the raw
//! files, the rollups still give the answers the raw data gave.

use std::sync::Arc;
use std::time::Duration;
use strata_engine::model::Precision;
use strata_engine::rollup::{Aggregates, RollupRule};
use strata_engine::{Db, ManualClock, Options};
use strata_query::{Epoch, QueryOptions, execute};

/// 2016-01-01T00:00:00Z, ns.
const T0: i64 = 1_451_606_400_000_000_000;
const MIN: i64 = 60_000_000_000;
const DAY: i64 = 1_440 * MIN;

fn open(dir: &std::path::Path, clock: &ManualClock, rollup: bool, raw_days: u64) -> Db {
    let rollups = if rollup {
        vec![
            RollupRule::new(
                "cp.*",
                false,
                Duration::from_secs(300),
                Aggregates::ALL,
                None,
            )
            .unwrap(),
        ]
    } else {
        Vec::new()
    };
    Db::open(
        dir,
        Options {
            clock: Arc::new(clock.clone()),
            rotation_interval: Duration::ZERO,
            retention: Some(Duration::from_secs(raw_days * 86_400)),
            rollups,
            ..Options::default()
        },
    )
    .unwrap()
}

/// Three days of three hosts every 30 s (some gaps), then 2 hours of hot data.
fn load(db: &Db) {
    let mut lp = String::new();
    for i in 0..(3 * 2880i64 + 240) {
        if i % 53 == 7 {
            continue;
        }
        for h in 0..3i64 {
            let t = T0 + i * 30_000_000_000 + h;
            lp.push_str(&format!(
                "cpu,host=h{h} n={}i,v={} {t}\n",
                (i * 31 + h * 17) % 997 - 400,
                ((i + h) as f64 * 0.11).cos() * 80.0
            ));
        }
    }
    let s = db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    assert!(s.rejected.is_empty());
}

fn settle(db: &Db) {
    for _ in 0..50 {
        if db.run_maintenance().unwrap().is_none() {
            return;
        }
    }
    panic!("maintenance never settled");
}

fn run(db: &Db, q: &str, now: i64) -> String {
    let opts = QueryOptions {
        now: Some(now),
        ..QueryOptions::default()
    };
    execute(db, q, &opts).to_json(Epoch::Nanoseconds)
}

const ELIGIBLE: &[&str] = &[
    "SELECT count(n), sum(n), min(n), max(n), mean(n), first(n), last(n), spread(n) FROM cpu WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-04T02:00:00Z' GROUP BY time(1h), host",
    "SELECT count(v), min(v), max(v), first(v), last(v) FROM cpu WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-04T00:00:00Z' GROUP BY time(15m)",
    "SELECT sum(n), count(n) FROM cpu WHERE time >= '2016-01-01T00:07:00Z' AND time < '2016-01-03T13:02:00Z' GROUP BY time(1d)",
    "SELECT max(n) FROM cpu WHERE host = 'h1' AND time >= '2016-01-01T00:00:00Z' AND time < '2016-01-04T00:00:00Z' GROUP BY time(6h, 1h)",
];

const NOT_ELIGIBLE: &[&str] = &[
    "SELECT percentile(n, 90) FROM cpu WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-03T00:00:00Z' GROUP BY time(1h)",
    "SELECT mean(n) FROM cpu WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-03T00:00:00Z' GROUP BY time(7m)",
    "SELECT mean(n) FROM cpu WHERE n > 0 AND time >= '2016-01-01T00:00:00Z' AND time < '2016-01-03T00:00:00Z' GROUP BY time(1h)",
];

#[test]
fn rollups_answer_like_raw_and_explain_says_so() {
    let now = T0 + 3 * DAY + 2 * 3_600_000_000_000;
    let clock = ManualClock::new(now + DAY + 3_600_000_000_000);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rolled = open(a.path(), &clock, true, 3650);
    let plain = open(b.path(), &clock, false, 3650);
    for db in [&rolled, &plain] {
        load(db);
        settle(db);
    }
    // Late data inside the last day keeps that day warm: a mixed range.
    for db in [&rolled, &plain] {
        let late = format!("cpu,host=h0 n=5i,v=1.5 {}\n", T0 + 2 * DAY + 90 * MIN + 3);
        db.write_lp(late.as_bytes(), Precision::Nanosecond).unwrap();
    }
    for q in ELIGIBLE.iter().chain(NOT_ELIGIBLE) {
        assert_eq!(run(&rolled, q, now), run(&plain, q, now), "{q}");
    }
    let explain = run(&rolled, &format!("EXPLAIN {}", ELIGIBLE[0]), now);
    assert!(explain.contains("rollup 5m (rule cp.*)"), "{explain}");
    assert!(explain.contains("raw tiers outside"), "{explain}");
    let explain = run(&plain, &format!("EXPLAIN {}", ELIGIBLE[0]), now);
    assert!(explain.contains("\"raw tiers\""), "{explain}");
    for q in NOT_ELIGIBLE {
        let e = run(&rolled, &format!("EXPLAIN {q}"), now);
        assert!(
            e.contains("\"raw tiers\"") && e.contains("raw because"),
            "{q}: {e}"
        );
    }

    // The raw data expires (retention 1 day from a later now): the rollups answer what
    // raw did over the first three days.
    // (The late point reaches cold, and so its rollup, at the next maintenance; data that
    // raw retention drops before it reaches cold is never rolled up: docs/QUERY.md.)
    settle(&rolled);
    let before: Vec<String> = ELIGIBLE.iter().map(|q| run(&rolled, q, now)).collect();
    drop(rolled);
    clock.set(T0 + 9 * DAY);
    let rolled = open(a.path(), &clock, true, 1);
    settle(&rolled);
    assert_eq!(rolled.tier_stats().cold.files, 0);
    let q = ELIGIBLE[1];
    assert_eq!(run(&rolled, q, now), before[1], "{q}");
    let e = run(&rolled, &format!("EXPLAIN {q}"), now);
    assert!(e.contains("rollup 5m"), "{e}");
}
