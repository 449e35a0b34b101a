//! `for` state survives a restart as in Prometheus' `RestoreForState`: a new group that
//! has not restored yet writes no ALERTS series, and after restoring its pending alert
//! takes `activeAt` from the last `ALERTS_FOR_STATE` sample, shifted by the downtime.
//! Evaluations are driven at chosen timestamps: nothing depends on the clock.

use strata_engine::model::{FieldValue, Point, SeriesKey};
use strata_engine::{Db, FsyncPolicy, Options};
use strata_query::promql::{EvalOptions, Labels};
use strata_rules::file::parse_file;
use strata_rules::group::Group;
use strata_rules::rule::{AlertState, EvalEnv};

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

fn env() -> EvalEnv {
    EvalEnv {
        opts: EvalOptions::default(),
        external_labels: Labels::default(),
        external_url: String::new(),
    }
}

fn group(restored: bool) -> Group {
    let spec = parse_file(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: m == 1\n    for: 20m\n",
        "r.yml",
    )
    .unwrap()
    .remove(0);
    Group::new(spec, MIN, restored)
}

#[test]
fn for_state_is_restored_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            fsync: FsyncPolicy::Never,
            ..Options::default()
        },
    )
    .unwrap();
    let key = SeriesKey::new("m", [("a", "1")]).unwrap();
    let points: Vec<Point> = (0..=20)
        .map(|i| {
            Point::new(
                key.clone(),
                vec![("value".into(), FieldValue::Float(1.0))],
                (T0 + i * MIN) * 1_000_000,
            )
        })
        .collect();
    db.write_points(&points).unwrap();
    let none = |_: &str, _| {};

    // Before the restart: pending from T0, ALERTS_FOR_STATE written up to T0+10m.
    let before = group(true);
    for i in 0..=10 {
        before.eval(&db, T0 + i * MIN, &env(), 60_000, &none);
    }
    let a = before.state.lock().rules[0].active_alerts();
    assert_eq!((a[0].state, a[0].active_at), (AlertState::Pending, T0));

    // After the restart at T0+15m: a fresh group sees the alert as new…
    let after = group(false);
    after.eval(&db, T0 + 15 * MIN, &env(), 60_000, &none);
    after.eval(&db, T0 + 16 * MIN, &env(), 60_000, &none);
    assert_eq!(
        after.state.lock().rules[0].active_alerts()[0].active_at,
        T0 + 15 * MIN
    );
    // …and takes its activeAt back: T0 plus the 6 minutes between the last
    // ALERTS_FOR_STATE sample (T0+10m) and the restore (T0+16m).
    after.restore_for_state(&db, T0 + 16 * MIN, &EvalOptions::default());
    let st = after.state.lock();
    assert!(st.rules[0].restored);
    assert_eq!(st.rules[0].active_alerts()[0].active_at, T0 + 6 * MIN);
    drop(st);
    // It fires 20 minutes after the restored activeAt, not after the restart.
    after.eval(&db, T0 + 20 * MIN, &env(), 60_000, &none);
    assert_eq!(
        after.state.lock().rules[0].active_alerts()[0].state,
        AlertState::Pending
    );
    let db2 = &db;
    let key2 = key.clone();
    let more: Vec<Point> = (21..=30)
        .map(|i| {
            Point::new(
                key2.clone(),
                vec![("value".into(), FieldValue::Float(1.0))],
                (T0 + i * MIN) * 1_000_000,
            )
        })
        .collect();
    db2.write_points(&more).unwrap();
    after.eval(&db, T0 + 26 * MIN, &env(), 60_000, &none);
    assert_eq!(
        after.state.lock().rules[0].active_alerts()[0].state,
        AlertState::Firing
    );
}

#[test]
fn short_for_is_not_restored() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            fsync: FsyncPolicy::Never,
            ..Options::default()
        },
    )
    .unwrap();
    let spec = parse_file(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: vector(1)\n    for: 1m\n",
        "r.yml",
    )
    .unwrap()
    .remove(0);
    let g = Group::new(spec, MIN, false);
    let none = |_: &str, _| {};
    g.eval(&db, T0, &env(), 60_000, &none);
    g.restore_for_state(&db, T0, &EvalOptions::default());
    let st = g.state.lock();
    assert!(
        st.rules[0].restored,
        "below the grace period: marked restored, activeAt kept"
    );
    assert_eq!(st.rules[0].active_alerts()[0].active_at, T0);
}
