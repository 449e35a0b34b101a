//! `strata snapshot` of a directory a running server writes to: the copy verifies, and a
//! server on it answers InfluxQL and PromQL exactly as the source does over the instant
//! the copy holds; every write acknowledged before the snapshot started is in it.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

const BASE_S: i64 = 1_700_000_000;
const BATCH: i64 = 100;

fn strata(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .unwrap()
}

fn get(base: &str, path_and_query: &[(&str, &str)], path: &str) -> String {
    let mut req = common::agent().get(&format!("{base}{path}"));
    for (k, v) in path_and_query {
        req = req.query(k, v);
    }
    req.call().unwrap().into_string().unwrap()
}

fn influxql(base: &str, q: &str) -> String {
    get(base, &[("db", "snap"), ("q", q)], "/query")
}

fn promql(base: &str, q: &str, at: i64) -> String {
    get(
        base,
        &[("query", q), ("time", &at.to_string())],
        "/api/v1/query",
    )
}

#[test]
fn a_snapshot_of_a_live_server_verifies_and_answers_as_the_source_at_its_instant() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("snap"));
    let flags = ["--rotation-interval", "200ms", "--hot-max-age", "1s"];
    let mut server = common::serve(&src, &flags);
    // One writer: point k at BASE_S + k s with n = k; `acked` is the last acknowledged k.
    let acked = Arc::new(AtomicI64::new(-1));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (base, acked, stop) = (server.base.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let agent = common::agent();
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                let body: String = (k..k + BATCH)
                    .map(|i| format!("snap,w=0 n={i}i {}\n", BASE_S + i))
                    .collect();
                let r = agent
                    .post(&format!("{base}/write?db=snap&precision=s"))
                    .send_string(&body)
                    .unwrap();
                assert_eq!(r.status(), 204);
                k += BATCH;
                acked.store(k - 1, Ordering::SeqCst);
            }
        })
    };
    // Long enough for rotations into warm segments, so the copy links files.
    while acked.load(Ordering::SeqCst) < 3000 {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(600));
    let before = acked.load(Ordering::SeqCst);
    let made = strata(&["snapshot", src.to_str().unwrap(), out.to_str().unwrap()]);
    let after = acked.load(Ordering::SeqCst);
    let said = String::from_utf8_lossy(&made.stdout);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(
        said.contains("segments") && said.contains("WAL files"),
        "{said}"
    );
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    // Refused into a directory that is not empty, with the reason.
    let again = strata(&["snapshot", src.to_str().unwrap(), out.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));

    let verified = strata(&["verify", "--data-dir", out.to_str().unwrap()]);
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
    let mut copy = common::serve(&out, &flags);
    let count = influxql(&copy.base, "SELECT count(n), max(n), min(n) FROM snap");
    let v: serde_json::Value = serde_json::from_str(&count).unwrap();
    let row = &v["results"][0]["series"][0]["values"][0];
    let (n, max, min) = (row[1].as_i64(), row[2].as_i64(), row[3].as_i64());
    let k = max.unwrap();
    assert_eq!(
        (n, min),
        (Some(k + 1), Some(0)),
        "a prefix of the log: {count}"
    );
    assert!(k >= before, "acknowledged writes missing: {k} < {before}");
    assert!(
        k <= after + BATCH,
        "writes from after the snapshot: {k} > {after}"
    );

    // The source, holding more, answers the same over the snapshot's range.
    let end = BASE_S + k;
    for q in [
        format!("SELECT * FROM snap WHERE time <= {end}s"),
        format!("SELECT mean(n), sum(n) FROM snap WHERE time <= {end}s GROUP BY time(7m), w"),
        "SHOW SERIES".to_owned(),
        "SHOW FIELD KEYS".to_owned(),
    ] {
        assert_eq!(influxql(&copy.base, &q), influxql(&server.base, &q), "{q}");
    }
    for q in [
        "sum_over_time(snap_n[1h])",
        "count_over_time(snap_n[30m])",
        "snap_n",
    ] {
        for at in [BASE_S + 600, end] {
            assert_eq!(
                promql(&copy.base, q, at),
                promql(&server.base, q, at),
                "{q} at {at}"
            );
        }
    }
    for s in [&mut copy, &mut server] {
        s.child.kill().unwrap();
        s.child.wait().unwrap();
    }
}
