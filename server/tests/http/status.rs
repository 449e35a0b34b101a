//! `/ping`, `/health`, `/ready`, `/metrics`, `/api/v1/status`, and the server's life.

use crate::{Srv, get, post, test_config};
use std::sync::Arc;
use strata_engine::{Db, Options};
use strata_server::app::{AppState, DbSlot, router};
use strata_server::{RunningServer, ServeError};

#[test]
fn ping_health_ready() {
    let s = Srv::start();
    let r = get(&s.url("/ping"));
    assert_eq!(r.status, 204);
    assert!(
        r.header("x-influxdb-version")
            .unwrap()
            .starts_with("1.8.10-strata")
    );
    assert_eq!(r.header("x-influxdb-build"), Some("OSS"));
    let r = get(&s.url("/ping?verbose=true"));
    assert_eq!(r.status, 200);
    assert!(r.json()["version"].as_str().unwrap().starts_with("1.8"));
    let r = get(&s.url("/health"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "pass");
    assert_eq!(get(&s.url("/ready")).status, 200);
    assert_eq!(get(&s.url("/nope")).status, 404);
}

#[test]
fn metrics_and_status_describe_the_database() {
    let s = Srv::start();
    s.write_ok("m,host=a v=1 1\nm,host=b v=2 2\n");
    let _ = post(&s.url("/write"), &[], b"bad\n");
    let _ = s.query("SELECT count(v) FROM m");
    let page = get(&s.url("/metrics"));
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let m = &page.body;
    for needle in [
        "strata_points_written_total{protocol=\"line_protocol\"} 2",
        "strata_lines_rejected_total{protocol=\"line_protocol\"} 1",
        "strata_http_requests_total{endpoint=\"/write\",status=\"204\"} 1",
        "strata_http_requests_total{endpoint=\"/write\",status=\"400\"} 1",
        "strata_query_duration_seconds_count 1",
        "strata_tier_points{tier=\"hot\"} 2",
        "strata_series 2",
        "strata_wal_fsync_duration_seconds_count",
        "strata_rotations_total 0",
        "strata_compactions_total 0",
        "strata_compactions_redone_total 0",
        "strata_ready 1",
    ] {
        assert!(m.contains(needle), "{needle} missing from:\n{m}");
    }
    let (_, errors) = strata_engine::ingest::prom_text::parse_page(m.as_bytes(), 0);
    assert!(errors.is_empty(), "{errors:?}");
    let v = get(&s.url("/api/v1/status")).json();
    assert_eq!(v["series"], 2, "{v}");
    assert_eq!(v["points"], 2, "{v}");
    assert_eq!(v["tiers"]["hot"]["points"], 2, "{v}");
    assert_eq!(v["tiers"]["warm"]["files"], 0, "{v}");
    assert!(v["uptime_seconds"].as_f64().is_some(), "{v}");
    assert!(v["version"].is_string(), "{v}");
}

/// The value of the sample `name` (with its labels, as written) on a `/metrics` page.
fn sample(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing from:\n{page}"))
        .parse()
        .unwrap()
}

#[test]
fn metrics_time_the_write_paths_serialised_sections() {
    let s = Srv::start();
    let sections = [
        "index_create",
        "wal_submit",
        "wal_write",
        "wal_fsync",
        "turnstile",
        "hot_insert",
    ];
    let read = || {
        let m = get(&s.url("/metrics")).body;
        let mut v = vec![
            sample(&m, "strata_write_batches_total"),
            sample(&m, "strata_write_batch_seconds_total"),
            sample(&m, "strata_write_durable_wait_seconds_total"),
        ];
        for name in [
            "strata_write_serial_seconds_total",
            "strata_write_lock_wait_seconds_total",
            "strata_write_serial_passes_total",
        ] {
            for sec in sections {
                v.push(sample(&m, &format!("{name}{{section=\"{sec}\"}}")));
            }
        }
        let (_, errors) = strata_engine::ingest::prom_text::parse_page(m.as_bytes(), 0);
        assert!(errors.is_empty(), "{errors:?}");
        v
    };
    let before = read();
    s.write_ok("m,host=a v=1 1\nm,host=b v=2 2\n");
    let first = read();
    s.write_ok("m,host=a v=3 3\n");
    let second = read();
    // Counters only grow.
    for (a, b) in before.iter().zip(&first).chain(first.iter().zip(&second)) {
        assert!(b >= a, "{before:?} {first:?} {second:?}");
    }
    // Passes: 3 + 12 + i for section i's pass count.
    let passes = |v: &[f64], sec: &str| v[15 + sections.iter().position(|s| *s == sec).unwrap()];
    assert_eq!(first[0] - before[0], 1.0, "one batch");
    assert_eq!(second[0] - first[0], 1.0, "one batch");
    for sec in ["wal_submit", "wal_write", "turnstile", "hot_insert"] {
        assert!(passes(&second, sec) > passes(&first, sec), "{sec}");
        assert!(passes(&first, sec) > passes(&before, sec), "{sec}");
    }
    // New series take the index's write lock; a known series does not.
    assert!(passes(&first, "index_create") > passes(&before, "index_create"));
    assert_eq!(
        passes(&second, "index_create"),
        passes(&first, "index_create")
    );
}

#[test]
fn not_ready_until_the_database_is_open() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let state = Arc::new(AppState::new(test_config()));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(state.clone());
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    // The database is still opening: data endpoints say so, liveness answers.
    let r = get(&format!("{base}/ready"));
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.error().contains("opening"), "{}", r.body);
    let r = post(&format!("{base}/write"), &[], b"m v=1 1\n");
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(get(&format!("{base}/health")).json()["database"], "opening");
    assert_eq!(get(&format!("{base}/ping")).status, 204);
    // Once open, ready.
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    *state.db.write() = DbSlot::Open(Arc::new(db));
    assert_eq!(get(&format!("{base}/ready")).status, 200);
    let r = post(&format!("{base}/write"), &[], b"m v=1 1\n");
    assert_eq!(r.status, 204, "{}", r.body);
    runtime.shutdown_background();
}

#[test]
fn a_locked_directory_stops_the_server_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let holder = Db::open(dir.path(), Options::default()).unwrap();
    let server =
        RunningServer::start(dir.path().to_path_buf(), Options::default(), test_config()).unwrap();
    let err = server.stop().unwrap_err();
    assert!(matches!(err, ServeError::Open { .. }), "{err}");
    assert!(
        err.to_string().contains("could not open the database"),
        "{err}"
    );
    holder.close().unwrap();
}

#[test]
fn status_shows_the_retention_rules_in_force_and_writes_name_them() {
    const NOW: i64 = 1_451_606_400_000_000_000; // 2016-01-01
    const DAY: i64 = 86_400_000_000_000;
    let clock = strata_engine::ManualClock::new(NOW);
    let options = Options {
        clock: Arc::new(clock.clone()),
        retention: Some(std::time::Duration::from_secs(30 * 86_400)),
        retention_rules: vec![
            strata_engine::RetentionRule::exact("cpu_total", None),
            strata_engine::RetentionRule::regex(
                "cpu_.*",
                Some(std::time::Duration::from_secs(7 * 86_400)),
            )
            .unwrap(),
        ],
        ..Options::default()
    };
    let s = crate::Srv::with(test_config(), options);
    s.write_ok(&format!(
        "cpu_user v=1 {}\ncpu_total v=1 {}\nmem v=1 {}\ndisk v=1 {}\n",
        NOW - DAY,
        NOW - 100 * DAY,
        NOW - DAY,
        NOW - DAY
    ));
    let v = get(&s.url("/api/v1/status")).json();
    let r = &v["retention"];
    assert_eq!(r["default"]["raw"], "30d", "{v}");
    assert_eq!(r["default"]["raw_seconds"], 30.0 * 86_400.0, "{v}");
    assert_eq!(r["default"]["cutoff"], NOW - 30 * DAY, "{v}");
    assert_eq!(
        r["default"]["cutoff_rfc3339"], "2015-12-02T00:00:00Z",
        "{v}"
    );
    assert_eq!(r["default"]["measurements"], 2, "mem and disk: {v}");
    let rules = r["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "{v}");
    assert_eq!(
        (
            &rules[0]["rule"],
            &rules[0]["measurement"],
            &rules[0]["raw"]
        ),
        (
            &serde_json::json!(1),
            &serde_json::json!("cpu_total"),
            &serde_json::json!("forever")
        ),
        "{v}"
    );
    assert!(rules[0]["cutoff"].is_null(), "kept forever: {v}");
    assert_eq!(rules[0]["measurements"], 1, "{v}");
    assert_eq!(rules[1]["match"], "cpu_.*", "{v}");
    assert_eq!(rules[1]["raw"], "7d", "{v}");
    assert_eq!(rules[1]["cutoff"], NOW - 7 * DAY, "{v}");
    assert_eq!(rules[1]["measurements"], 1, "cpu_user: {v}");
    // A late write to a ruled measurement is refused per line, naming the rule.
    let r = post(
        &s.url("/write?db=test"),
        &[],
        format!(
            "cpu_user v=1 {}\nmem v=1 {}\n",
            NOW - 8 * DAY,
            NOW - 8 * DAY
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.error()
            .contains("retention rule 2 (match = \"cpu_.*\", raw = 7d)"),
        "{}",
        r.body
    );
    let q = s.query("SELECT count(v) FROM mem");
    assert_eq!(crate::rows(&q, 0)[0][1], 2, "{q}");
    // Once cpu_user's only point is past its rule's cutoff, Prometheus' series listing
    // drops it at once (as it does for the global retention); cpu_total stays.
    let names = |s: &crate::Srv| -> Vec<String> {
        let v = get(&s.url(&format!(
            "/api/v1/series?match[]={}&start=0",
            crate::enc("{__name__=~\"cpu_.*\"}")
        )))
        .json();
        let mut n: Vec<String> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["__name__"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&s), ["cpu_total_v", "cpu_user_v"]);
    clock.advance(std::time::Duration::from_secs(7 * 86_400));
    assert_eq!(names(&s), ["cpu_total_v"]);
}

#[test]
fn status_lists_the_rollup_rules_their_retention_and_files() {
    use strata_engine::rollup::{Aggregates, RollupRule};
    const NOW: i64 = 1_451_606_400_000_000_000; // 2016-01-01
    const DAY: i64 = 86_400_000_000_000;
    let clock = strata_engine::ManualClock::new(NOW);
    let options = Options {
        clock: Arc::new(clock.clone()),
        rotation_interval: std::time::Duration::ZERO,
        retention: Some(std::time::Duration::from_secs(30 * 86_400)),
        rollups: vec![
            RollupRule::new(
                "m",
                true,
                std::time::Duration::from_secs(300),
                Aggregates::ALL,
                None,
            )
            .unwrap(),
            RollupRule::new(
                "cpu_.*",
                false,
                std::time::Duration::from_secs(3600),
                Aggregates::parse(["min", "max"]).unwrap(),
                Some(std::time::Duration::from_secs(365 * 86_400)),
            )
            .unwrap(),
        ],
        ..Options::default()
    };
    // Three days of m, 5 to 3 days ago, compacted into cold (with its rollups) offline.
    let dir = tempfile::tempdir().unwrap();
    {
        let db = strata_engine::Db::open(dir.path(), options.clone()).unwrap();
        let mut lp = String::new();
        for i in 0..(3 * 288i64) {
            lp.push_str(&format!(
                "m,host=a v={i} {}\n",
                NOW - 5 * DAY + i * 300_000_000_000
            ));
        }
        db.write_lp(lp.as_bytes(), strata_engine::model::Precision::Nanosecond)
            .unwrap();
        db.compact(true, true).unwrap();
        db.close().unwrap();
    }
    let s = crate::Srv::in_dir(dir, test_config(), options);
    let v = get(&s.url("/api/v1/status")).json();
    let rollups = v["retention"]["rollups"]
        .as_array()
        .expect("a rollups list");
    assert_eq!(rollups.len(), 2, "{v}");
    let m = &rollups[0];
    assert_eq!(m["rule"], 1, "{v}");
    assert_eq!(m["measurement"], "m", "{v}");
    assert!(m.get("match").is_none(), "{v}");
    assert_eq!(m["interval"], "5m", "{v}");
    assert_eq!(m["interval_seconds"], 300.0, "{v}");
    assert_eq!(
        m["aggregates"],
        serde_json::json!(["count", "sum", "min", "max", "first", "last", "quantile"]),
        "{v}"
    );
    assert_eq!(m["retention"], "forever", "{v}");
    assert!(
        m["retention_seconds"].is_null() && m["cutoff"].is_null(),
        "{v}"
    );
    assert_eq!(m["files"], 3, "one per UTC day: {v}");
    assert!(m["bytes"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(m["first_day"], "2015-12-27T00:00:00Z", "{v}");
    assert_eq!(m["last_day"], "2015-12-29T00:00:00Z", "{v}");
    let cpu = &rollups[1];
    assert_eq!(cpu["match"], "cpu_.*", "{v}");
    assert_eq!(cpu["interval"], "1h", "{v}");
    assert_eq!(
        cpu["aggregates"],
        serde_json::json!(["count", "min", "max"])
    );
    assert_eq!(cpu["retention"], "365d", "{v}");
    assert_eq!(cpu["retention_seconds"], 365.0 * 86_400.0, "{v}");
    assert_eq!(cpu["cutoff"], NOW - 365 * DAY, "{v}");
    assert_eq!(cpu["cutoff_rfc3339"], "2015-01-01T00:00:00Z", "{v}");
    assert_eq!(
        (&cpu["files"], &cpu["bytes"]),
        (&serde_json::json!(0), &serde_json::json!(0))
    );
    assert!(cpu["first_day"].is_null(), "{v}");
    // The raw retention is reported as before, beside the rollups'.
    assert_eq!(v["retention"]["default"]["raw"], "30d", "{v}");
    // The rollups answer after the raw data expired (raw 30 d, 5 m rollups forever).
    clock.advance(std::time::Duration::from_secs(40 * 86_400));
    let q = s.query(
        "SELECT count(v) FROM m WHERE time >= '2015-12-27T00:00:00Z' \
         AND time < '2015-12-30T00:00:00Z' GROUP BY time(1d) fill(none)",
    );
    let counts: Vec<i64> = crate::rows(&q, 0)
        .iter()
        .filter_map(|r| r[1].as_i64())
        .collect();
    assert_eq!(counts, [288, 288, 288], "{q}");
}
