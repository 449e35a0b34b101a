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
    open_with(dir, clock, rollups, Some(raw_days))
}

/// A database on `clock` with `rules`, raw data kept `raw_days` (or forever).
fn open_with(
    dir: &std::path::Path,
    clock: &ManualClock,
    rules: Vec<RollupRule>,
    raw_days: Option<u64>,
) -> Db {
    Db::open(
        dir,
        Options {
            clock: Arc::new(clock.clone()),
            rotation_interval: Duration::ZERO,
            retention: raw_days.map(|d| Duration::from_secs(d * 86_400)),
            rollups: rules,
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

/// Many series in different states in one statement (the engine answers them in one
/// batch): some with late warm data, one with a delete recorded after its day was rolled
/// up, one with hot data, two measurements under one rule and a third under a coarser
/// rule; series that come and go between days; groups that merge many series and groups
/// of one. Each answer equals the raw one, before and after the next compaction folds the
/// changes in.
#[test]
fn a_batch_of_series_in_mixed_states_answers_like_raw() {
    let now = T0 + 4 * DAY;
    let clock = ManualClock::new(now);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let hourly = RollupRule::new(
        "mem",
        false,
        Duration::from_secs(3600),
        Aggregates::EXACT,
        None,
    )
    .unwrap();
    let five = RollupRule::new(
        "cp.*",
        false,
        Duration::from_secs(300),
        Aggregates::ALL,
        None,
    )
    .unwrap();
    let rolled = open_with(a.path(), &clock, vec![five, hourly], None);
    let plain = open_with(b.path(), &clock, Vec::new(), None);
    let mut lp = String::new();
    for i in 0..(3 * 288i64) {
        let t = T0 + i * 5 * MIN;
        for h in 0..12i64 {
            // Each series skips a different set of 5-minute steps; one series starts on
            // the second day and one stops after the first (so the days' rollup files
            // list different series).
            if (i + h) % (7 + h) == 3 || (h == 11 && i < 288) || (h == 10 && i >= 288) {
                continue;
            }
            for m in ["cpu", "cpux", "mem"] {
                lp.push_str(&format!(
                    "{m},host=h{h:02},rack=r{} n={}i,v={} {}\n",
                    h % 3,
                    (i * 37 + h * 11) % 1009 - 500,
                    ((i * (h + 1)) as f64 * 0.07).sin() * 50.0,
                    t + h * 1_000
                ));
            }
        }
    }
    for db in [&rolled, &plain] {
        db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
        settle(db);
        // Late points for two hosts on day 1 (warm until the next compaction), a delete for
        // one host on day 2, and hot points for another on day 2.
        let late = format!(
            "cpu,host=h03,rack=r0 n=7i,v=0.5 {}\ncpu,host=h07,rack=r1 n=9i,v=2.5 {}\n",
            T0 + DAY + 61 * MIN,
            T0 + DAY + 3 * 60 * MIN + 17
        );
        db.write_lp(late.as_bytes(), Precision::Nanosecond).unwrap();
        db.rotate().unwrap();
        let range =
            strata_engine::model::TimeRange::new(T0 + 2 * DAY + 30 * MIN, T0 + 2 * DAY + 200 * MIN);
        db.delete("cpu", &[("host", "h05")], range).unwrap();
        let hot = format!(
            "cpu,host=h09,rack=r0 n=1i,v=1.25 {}\n",
            T0 + 2 * DAY + 600 * MIN
        );
        db.write_lp(hot.as_bytes(), Precision::Nanosecond).unwrap();
    }
    let qs = [
        "SELECT count(n), sum(n), min(n), max(n), mean(n), first(n), last(n), spread(n) FROM cpu WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-04T00:00:00Z' GROUP BY time(1h)",
        "SELECT mean(n), max(v), min(v), first(v), last(v), count(v) FROM cpu WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-04T00:00:00Z' GROUP BY time(30m), rack",
        "SELECT sum(n), last(v) FROM cpu, cpux, mem WHERE time >= '2016-01-01T03:00:00Z' AND time < '2016-01-03T21:00:00Z' GROUP BY time(3h), host",
        "SELECT mean(n), count(v) FROM /cpu|mem/ WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-04T00:00:00Z' GROUP BY time(1d)",
        "SELECT min(n), max(n) FROM cpu WHERE host =~ /h0[3579]/ AND time >= '2016-01-01T00:00:00Z' AND time < '2016-01-04T00:00:00Z' GROUP BY time(2h), host",
    ];
    let check = |stage: &str| {
        for q in qs {
            assert_eq!(run(&rolled, q, now), run(&plain, q, now), "{stage}: {q}");
        }
    };
    check("with warm, deleted and hot data");
    let e = run(&rolled, &format!("EXPLAIN {}", qs[2]), now);
    assert!(
        e.contains("rollup 5m (rule cp.*)") && e.contains("rollup 1h (rule mem)"),
        "{e}"
    );
    assert!(e.contains("raw tiers outside"), "{e}");
    for db in [&rolled, &plain] {
        settle(db);
        db.compact(false, true).unwrap();
    }
    check("after compaction");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 12, ..Default::default() })]

    /// Random series over four days, then random late writes, deletes and hot points
    /// (each landing in a different tier), with or without a compaction after them: every
    /// eligible statement answers from rollups exactly as raw does.
    #[test]
    fn random_histories_answer_like_raw(
        hosts in 2usize..9,
        skip in 3i64..13,
        late in proptest::collection::vec((0usize..9, 0i64..4 * 288), 0..6),
        deletes in proptest::collection::vec((0usize..9, 0i64..4 * 288, 1i64..300), 0..3),
        hot in proptest::collection::vec((0usize..9, 0i64..4 * 288), 0..3),
        compact_after in proptest::prelude::any::<bool>(),
        interval_h in 1i64..30,
        offset_m in 0i64..3,
    ) {
        let now = T0 + 5 * DAY;
        let clock = ManualClock::new(now);
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let rule = RollupRule::new("cpu", false, Duration::from_secs(300), Aggregates::EXACT, None)
            .unwrap();
        let rolled = open_with(a.path(), &clock, vec![rule], None);
        let plain = open_with(b.path(), &clock, Vec::new(), None);
        let point = |h: usize, i: i64, x: i64| {
            format!("cpu,host=h{h} n={}i {}\n", (x * 7919 + h as i64 * 31) % 2003 - 1000, T0 + i * 5 * MIN + h as i64)
        };
        let mut lp = String::new();
        for i in 0..4 * 288i64 {
            for h in 0..hosts {
                if (i + h as i64) % skip != 0 {
                    lp.push_str(&point(h, i, i));
                }
            }
        }
        for db in [&rolled, &plain] {
            db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
            settle(db);
            let mut late_lp = String::new();
            for &(h, i) in &late {
                late_lp.push_str(&point(h % hosts, i, i + 5));
            }
            db.write_lp(late_lp.as_bytes(), Precision::Nanosecond).unwrap();
            db.rotate().unwrap();
            for &(h, i, len) in &deletes {
                let from = T0 + i * 5 * MIN;
                let range = strata_engine::model::TimeRange::new(from, from + len * MIN);
                db.delete("cpu", &[("host", &format!("h{}", h % hosts))], range).unwrap();
            }
            let mut hot_lp = String::new();
            for &(h, i) in &hot {
                hot_lp.push_str(&point(h % hosts, i, i + 9));
            }
            db.write_lp(hot_lp.as_bytes(), Precision::Nanosecond).unwrap();
            if compact_after {
                db.compact(false, true).unwrap();
            }
        }
        let qs = [
            format!("SELECT count(n), sum(n), min(n), max(n), mean(n), first(n), last(n), spread(n) FROM cpu WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-05T00:00:00Z' GROUP BY time({interval_h}h, {}m)", offset_m * 5),
            format!("SELECT sum(n), count(n), last(n) FROM cpu WHERE time >= '2016-01-01T0{offset_m}:07:00Z' AND time < '2016-01-04T13:02:00Z' GROUP BY time({interval_h}h), host"),
        ];
        for q in &qs {
            proptest::prop_assert_eq!(run(&rolled, q, now), run(&plain, q, now), "{}", q);
        }
    }
}
