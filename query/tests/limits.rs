//! Statements that must end: counts from the query text saturate instead of overflowing,
//! a statement past its deadline or cancelled stops with its own error, and `GROUP BY
//! time()` cannot hold more buckets than `max_rows` across its groups.
//!
//! Statements that once never returned run on a helper thread under a watchdog, so that
//! a regression fails the test instead of hanging the suite (the bound is generous: it is
//! not a timing assertion).

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;
use strata_engine::model::Precision;
use strata_engine::{Db, ManualClock, Options};
use strata_query::{Cancel, Limits, QueryOptions, QueryResponse, execute};

/// 2020-01-02T00:00:00Z.
const NOW: i64 = 1_577_923_200_000_000_000;

/// How long a statement may take before the watchdog calls it hung.
const WATCHDOG: Duration = Duration::from_secs(120);

fn open(series: usize, points: usize) -> (tempfile::TempDir, Arc<Db>) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            clock: Arc::new(ManualClock::new(NOW)),
            rotation_interval: Duration::ZERO,
            ..Options::default()
        },
    )
    .unwrap();
    let mut lp = String::new();
    for s in 0..series {
        for p in 0..points {
            lp.push_str(&format!(
                "known,host=h{s} v={p},i={p}i {}\n",
                1_577_836_800_000_000_000i64 + p as i64 * 1_000_000_000
            ));
        }
    }
    let w = db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    assert!(w.rejected.is_empty(), "{:?}", w.rejected);
    (dir, Arc::new(db))
}

fn options(limits: Limits) -> QueryOptions {
    QueryOptions {
        now: Some(NOW),
        limits,
        ..QueryOptions::default()
    }
}

/// Runs `q` on another thread; panics if it does not answer within [`WATCHDOG`].
fn run_watched(db: &Arc<Db>, q: &str, opts: QueryOptions) -> QueryResponse {
    let (tx, rx) = mpsc::channel();
    let (db, text) = (db.clone(), q.to_owned());
    std::thread::spawn(move || {
        let _ = tx.send(execute(&db, &text, &opts));
    });
    rx.recv_timeout(WATCHDOG)
        .unwrap_or_else(|_| panic!("{q} did not answer within {WATCHDOG:?}"))
}

fn series_count(r: &QueryResponse) -> usize {
    r.results.iter().map(|s| s.series.len()).sum()
}

/// Bug: `LIMIT 1 OFFSET 9223372036854775807` never answered and held a rayon thread
/// forever (ten such series starved every later query). Cause: `LIMIT + OFFSET` was cast
/// to `i64` (negative) to size the read window, which then never grew. Fix: every count
/// from the query text saturates, and the window loop checks the deadline.
#[test]
fn huge_limit_and_offset_answer_at_once() {
    let (_d, db) = open(10, 5);
    let no_timeout = Limits {
        timeout: None,
        ..Limits::default()
    };
    let max = u64::MAX;
    for q in [
        "SELECT v FROM known LIMIT 1 OFFSET 9223372036854775807".to_owned(),
        "SELECT v FROM known WHERE time > 0 LIMIT 1 OFFSET 9223372036854775807".to_owned(),
        "SELECT v FROM known ORDER BY time DESC LIMIT 1 OFFSET 9223372036854775807".to_owned(),
        "SELECT v FROM known GROUP BY host LIMIT 1 OFFSET 9223372036854775807".to_owned(),
        format!("SELECT v FROM known LIMIT {max} OFFSET {max}"),
        format!("SELECT v FROM known ORDER BY time DESC LIMIT {max} OFFSET {max}"),
        format!("SELECT v, i FROM known WHERE v > 1 LIMIT 1 OFFSET {max}"),
        format!("SELECT count(v) FROM known GROUP BY time(1s) LIMIT 1 OFFSET {max}"),
        format!(
            "SELECT count(v) FROM known WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:00:05Z' GROUP BY time(1s) fill(0) LIMIT {max} OFFSET {max}"
        ),
        format!("SELECT top(v, 2) FROM known LIMIT 3 OFFSET {max}"),
        format!("SELECT v FROM known GROUP BY * SLIMIT 1 SOFFSET {max}"),
        format!("SELECT v FROM known GROUP BY * SLIMIT {max} SOFFSET {max}"),
        format!("SHOW SERIES LIMIT 1 OFFSET {max}"),
        format!("SHOW TAG VALUES WITH KEY = host LIMIT {max} OFFSET {max}"),
        format!("SHOW MEASUREMENTS LIMIT {max} OFFSET {max}"),
    ] {
        let r = run_watched(&db, &q, options(no_timeout));
        assert_eq!(r.first_error(), None, "{q}");
        assert_eq!(series_count(&r), 0, "{q}: every row is past the offset");
    }
    // A huge LIMIT with a small OFFSET returns everything.
    let q = format!("SELECT v FROM known LIMIT {max} OFFSET 1");
    let r = run_watched(&db, &q, options(no_timeout));
    assert_eq!(series_count(&r), 1, "{q}");
    assert_eq!(r.results[0].series[0].values.len(), 49, "{q}");
    // Past 64 bits a count is i64::MAX, as InfluxDB 1.6 reads it: everything again.
    let q = "SELECT v FROM known LIMIT 99999999999999999999 OFFSET 1";
    let r = run_watched(&db, q, options(no_timeout));
    assert_eq!(r.first_error(), None, "{q}");
    assert_eq!(r.results[0].series[0].values.len(), 49, "{q}");
    let q = format!("SELECT v FROM known GROUP BY host SLIMIT {max} SOFFSET 3");
    assert_eq!(series_count(&run_watched(&db, &q, options(no_timeout))), 7);
}

/// A statement past its deadline fails with the timeout error, whatever it is doing.
#[test]
fn a_statement_past_its_deadline_gets_the_timeout_error() {
    let (_d, db) = open(3, 50);
    let expired = Limits {
        timeout: Some(Duration::ZERO),
        ..Limits::default()
    };
    for q in [
        "SELECT v FROM known",
        "SELECT v FROM known ORDER BY time DESC LIMIT 2",
        "SELECT mean(v) FROM known GROUP BY time(10s), host fill(linear)",
        "SELECT top(v, 3), host FROM known",
        "SELECT derivative(mean(v), 1s) FROM known WHERE time > 0 GROUP BY time(5s)",
        "SHOW SERIES",
        "SHOW TAG VALUES WITH KEY = host",
        "SHOW MEASUREMENTS WHERE host = 'h1'",
    ] {
        let r = run_watched(&db, q, options(expired));
        let e = r.first_error().unwrap_or_else(|| panic!("{q}: {r:?}"));
        assert!(e.starts_with("query timeout"), "{q}: {e}");
        assert!(e.contains("server.query_timeout"), "{q}: {e}");
    }
}

/// A cancelled statement (server shutdown, client gone) stops with its own error, and a
/// child flag sees its parent's cancellation.
#[test]
fn a_cancelled_statement_stops() {
    let (_d, db) = open(3, 50);
    let server = Cancel::new();
    let request = server.child();
    let opts = QueryOptions {
        cancel: request.clone(),
        ..options(Limits::default())
    };
    assert_eq!(
        run_watched(&db, "SELECT v FROM known", opts.clone()).first_error(),
        None
    );
    server.cancel();
    assert!(request.is_cancelled());
    for q in [
        "SELECT v FROM known",
        "SELECT count(v) FROM known GROUP BY time(1s)",
        "SHOW SERIES",
    ] {
        let r = run_watched(&db, q, opts.clone());
        assert_eq!(
            r.first_error(),
            Some("query cancelled: the server is shutting down or the client went away"),
            "{q}"
        );
    }
    // A sibling's own flag leaves the parent alone.
    let other = Cancel::new();
    let child = other.child();
    child.cancel();
    assert!(child.is_cancelled() && !other.is_cancelled());
}

/// `GROUP BY time()` over many groups: each group holds its buckets (and `fill()` turns
/// them into rows), so the buckets of all groups together are bounded by `max_rows`,
/// before any row is built.
#[test]
fn buckets_across_groups_are_bounded() {
    let (_d, db) = open(10, 5);
    let limits = Limits {
        max_rows: 5_000,
        ..Limits::default()
    };
    let range = "time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:16:40Z'";
    // 1,000 buckets in one group: fine.
    let r = run_watched(
        &db,
        &format!("SELECT count(v) FROM known WHERE {range} GROUP BY time(1s) fill(0)"),
        options(limits),
    );
    assert_eq!(r.first_error(), None);
    // 10 groups of 1,000 buckets: 10,000 > 5,000, whatever the fill or LIMIT.
    for tail in [
        "fill(0)",
        "fill(none) LIMIT 1",
        "fill(linear) ORDER BY time DESC LIMIT 1",
    ] {
        let q = format!("SELECT max(v) FROM known WHERE {range} GROUP BY time(1s), host {tail}");
        let r = run_watched(&db, &q, options(limits));
        let e = r.first_error().unwrap_or_else(|| panic!("{q}: {r:?}"));
        assert!(e.contains("max-select-buckets"), "{q}: {e}");
        assert!(
            e.contains("groups of 1000 GROUP BY time(1s) buckets"),
            "{q}: {e}"
        );
    }
    // A bucket count over the limit is refused up front, however wide the range.
    let q = "SELECT count(v) FROM known WHERE time >= -9223372036854775806 AND time <= 9223372036854775806 GROUP BY time(1ns) fill(0)";
    let e = run_watched(&db, q, options(limits))
        .first_error()
        .map(str::to_owned);
    assert!(
        e.as_deref()
            .is_some_and(|e| e.contains("max-select-buckets")),
        "{e:?}"
    );
}
