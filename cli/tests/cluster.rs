//! The cluster end to end: one real etcd and three `strata serve` members (a, b, c) on
//! 127.0.0.1, each holding its own data, beside two single nodes holding the same data
//! with the `node` tag stored (`all`: a, b and c; `ab`: a and b). Checked:
//!
//! - the members register and see each other (etcd watch);
//! - every cluster answer (InfluxQL `/query`, `/api/v1/aggregate`, `/metrics/cluster`,
//!   PromQL `/api/v1/query_range` and `/api/v1/query`) equals the single node's answer
//!   over all the data, for every aggregation and grouped by node;
//! - a stopped member (SIGSTOP: slower than the deadline) is left out, named, counted;
//! - after `kill -9` of c, answers are partial, name c and equal the two-node answers;
//!   once c's lease expires it leaves the member list and answers are whole over a and b;
//!   when c restarts it registers again and answers are whole over all three; a member
//!   that shuts down leaves the list at once (its lease revoked);
//! - a subscriber (SSE, `cluster=true`) sees every interval's figures through c's loss
//!   and return;
//! - with etcd gone, queries go on over the last known member list, flagged.
//!
//! Needs `etcd` (`../shared/peers/install.sh --all`). Without it the test says so and
//! passes, unless `STRATA_REQUIRE_PEERS=1`, where its absence fails it.

#[path = "cluster/harness.rs"]
mod harness;

use harness::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const POINTS: i64 = 120;
const NAMES: [&str; 3] = ["a", "b", "c"];

/// The InfluxQL statements compared, over `[t0, t1)`.
fn influx_queries(t0: i64, t1: i64) -> Vec<String> {
    let range = format!("time >= {t0} AND time < {t1}");
    let mut out = Vec::new();
    for f in [
        "count(value)",
        "sum(value)",
        "mean(value)",
        "min(value)",
        "max(value)",
        "first(value)",
        "last(value)",
        "stddev(value)",
        "spread(value)",
        "median(value)",
        "percentile(value, 50)",
        "percentile(value, 95)",
        "percentile(value, 99)",
    ] {
        out.push(format!("SELECT {f} FROM cpu WHERE {range}"));
        out.push(format!("SELECT {f} FROM cpu WHERE {range} GROUP BY node"));
        out.push(format!(
            "SELECT {f} FROM cpu WHERE {range} GROUP BY time(5m), host fill(none)"
        ));
    }
    out.push(format!(
        "SELECT mean(value), max(value), count(value) FROM cpu WHERE {range} GROUP BY time(5m), node, host fill(none)"
    ));
    out.push(format!(
        "SELECT non_negative_derivative(last(value), 1m) FROM req_total WHERE {range} GROUP BY time(2m), node, host fill(none)"
    ));
    out
}

/// The PromQL expressions compared.
const PROM_QUERIES: &[&str] = &[
    "sum(cpu)",
    "avg(cpu)",
    "min(cpu)",
    "max(cpu)",
    "count(cpu)",
    "stddev(cpu)",
    "stdvar(cpu)",
    "group(cpu)",
    "sum by (node) (cpu)",
    "avg by (host) (cpu)",
    "max without (host) (cpu)",
    "sum by (job) (rate(req_total[2m]))",
    "sum by (node) (rate(req_total[2m]))",
    "topk(2, cpu)",
    "bottomk(1, avg by (host) (cpu))",
    "quantile(0.9, cpu)",
    "cpu",
    "avg_over_time(cpu[2m])",
    "sum(cpu) / count(cpu)",
    "cpu / on (host) group_left avg by (host) (cpu)",
    "scalar(sum(cpu)) * 2",
    "sort_desc(sum by (host) (cpu))",
    "absent(nothing_here)",
    "max_over_time(sum(cpu)[5m:1m])",
    "count_values(\"v\", round(cpu / 50))",
];

/// The `/api/v1/aggregate` and `/metrics/cluster` aggregations.
const AGGREGATIONS: &[&str] = &["sum", "avg", "min", "max", "count", "p50", "p95", "p99"];

struct World {
    members: Vec<Node>,
    all: Node,
    ab: Node,
    t0: i64,
    t1: i64,
}

impl World {
    fn a(&self) -> &Node {
        &self.members[0]
    }

    /// Checks every query on member a (with `cluster=true`) against `reference`; each
    /// cluster answer must have exactly `failed` as its failed nodes.
    fn check_all(&self, reference: &Node, failed: &[&str]) {
        let a = self.a();
        let flagged = |v: &Value, what: &str| {
            let names: Vec<&str> = v["failed_nodes"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: no failed_nodes in {v}"))
                .iter()
                .filter_map(|f| f["node"].as_str())
                .collect();
            assert_eq!(names, failed, "{what}: {v}");
            assert_eq!(v["partial"], Value::Bool(!failed.is_empty()), "{what}");
        };
        for q in influx_queries(self.t0, self.t1) {
            let got = a.get(&format!("/query?q={}&cluster=true", enc(&q)));
            flagged(&got, &q);
            let want = reference.get(&format!("/query?q={}", enc(&q)));
            assert!(
                same(&got["results"], &want["results"]),
                "{q}\ncluster: {}\nsingle:  {}",
                got["results"],
                want["results"]
            );
        }
        let (from, to) = (self.t0 / 1_000_000_000, self.t1 / 1_000_000_000);
        for agg in AGGREGATIONS {
            for group in ["", "&group_by=node", "&group_by=host&step=5m"] {
                let p = format!("metric=cpu&aggregation={agg}&from={from}&to={to}{group}");
                let got = a.get(&format!("/api/v1/aggregate?{p}&cluster=true"));
                flagged(&got, &p);
                let want = reference.get(&format!("/api/v1/aggregate?{p}"));
                assert!(
                    same(&got["series"], &want["series"]),
                    "aggregate {p}\ncluster: {}\nsingle:  {}",
                    got["series"],
                    want["series"]
                );
                let seed = a.get(&format!("/metrics/cluster?{p}"));
                assert!(
                    same(&seed["series"], &want["series"]),
                    "/metrics/cluster {p}"
                );
            }
        }
        let (start, end) = (self.t0 / 1_000_000_000 + 300, self.t1 / 1_000_000_000);
        for q in PROM_QUERIES {
            let range = format!("query={}&start={start}&end={end}&step=30", enc(q));
            let got = a.get(&format!("/api/v1/query_range?{range}&cluster=true"));
            let want = reference.get(&format!("/api/v1/query_range?{range}"));
            assert!(
                same(&prom_result(&got), &prom_result(&want)),
                "{q}\ncluster: {}\nsingle:  {}",
                prom_result(&got),
                prom_result(&want)
            );
            let warnings: Vec<String> = got["warnings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|w| w.as_str().map(str::to_owned))
                .collect();
            assert_eq!(warnings.len(), failed.len(), "{q}: {warnings:?}");
            for (w, f) in warnings.iter().zip(failed) {
                assert!(w.contains(&format!("node {f} ")), "{q}: {w}");
            }
            let instant = format!("query={}&time={}", enc(q), end - 60);
            let got = a.get(&format!("/api/v1/query?{instant}&cluster=true"));
            let want = reference.get(&format!("/api/v1/query?{instant}"));
            assert!(same(&prom_result(&got), &prom_result(&want)), "instant {q}");
        }
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// The value of a subscription event's PromQL vector (one sample) and its failed nodes.
fn event_figures(data: &Value) -> Option<(f64, Vec<String>)> {
    let v = data["data"]["result"][0]["value"][1]
        .as_str()?
        .parse()
        .ok()?;
    let failed = data["failed_nodes"]
        .as_array()?
        .iter()
        .filter_map(|f| f["node"].as_str().map(str::to_owned))
        .collect();
    Some((v, failed))
}

/// Reads SSE events (name, data) from node a's subscription in a thread.
fn subscribe(base: &str, query: &str) -> mpsc::Receiver<(String, Value)> {
    let url = format!(
        "{base}/api/v1/subscribe?query={}&every=300ms&cluster=true",
        enc(query)
    );
    let r = ureq::AgentBuilder::new()
        .timeout_read(Duration::from_secs(60))
        .build()
        .get(&url)
        .call()
        .expect("subscribed");
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut name = String::new();
        for line in BufReader::new(r.into_reader()).lines() {
            let Ok(line) = line else { return };
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.to_owned();
            } else if let Some(d) = line.strip_prefix("data: ") {
                let v = serde_json::from_str(d).unwrap_or(Value::Null);
                if tx.send((name.clone(), v)).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Waits for a subscription event whose figures satisfy `ok`.
fn next_event(
    rx: &mpsc::Receiver<(String, Value)>,
    what: &str,
    ok: impl Fn(f64, &[String]) -> bool,
) {
    loop {
        let (name, data) = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no subscription event for {what}"));
        assert_eq!(name, "result", "{what}: {data}");
        if let Some((v, failed)) = event_figures(&data)
            && ok(v, &failed)
        {
            return;
        }
    }
}

fn counter(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

#[test]
fn three_members_answer_as_one_node_through_failures() {
    if !etcd_present() {
        return;
    }
    let tmp = tempfile::tempdir().expect("a temp dir");
    let (mut etcd, etcd_url) = start_etcd(&tmp.path().join("etcd"));
    // Aligned to the minute, ending a minute ago: inside the subscription's hour.
    let t0 = (now_ns() / 60_000_000_000 - 22) * 60_000_000_000;
    let t1 = t0 + POINTS * 10_000_000_000;
    let members: Vec<Node> = NAMES
        .iter()
        .map(|n| {
            let port = free_port();
            let flags = cluster_flags(&etcd_url, n, port, "15s");
            start_node(n, &tmp.path().join(n), port, flags)
        })
        .collect();
    let all = start_node("all", &tmp.path().join("all"), free_port(), Vec::new());
    let ab = start_node("ab", &tmp.path().join("ab"), free_port(), Vec::new());
    for (i, m) in members.iter().enumerate() {
        m.write(&node_lines(i, NAMES[i], t0, POINTS, false));
        all.write(&node_lines(i, NAMES[i], t0, POINTS, true));
        if i < 2 {
            ab.write(&node_lines(i, NAMES[i], t0, POINTS, true));
        }
    }
    let mut w = World {
        members,
        all,
        ab,
        t0,
        t1,
    };
    for m in &w.members {
        wait_for("three members", Duration::from_secs(30), || {
            (m.members() == NAMES).then_some(())
        });
    }

    // Whole cluster: every answer equals the single node over all the data.
    w.check_all(&w.all, &[]);
    let split = w.a().text("/metrics?cluster=true&by=node");
    for n in NAMES {
        assert!(
            split.contains(&format!("strata_subscribers{{node=\"{n}\"}} 0")),
            "{n} missing from the per-node page:\n{split}"
        );
    }

    // A subscriber over the cluster: the total number of points in the last hour.
    let per_node = 2.0 * POINTS as f64;
    let rx = subscribe(&w.a().base, "sum(count_over_time(cpu[1h]))");
    next_event(&rx, "the whole total", |v, f| {
        v == 3.0 * per_node && f.is_empty()
    });
    let page = w.a().text("/metrics");
    assert_eq!(counter(&page, "strata_subscribers"), 1.0);

    // b stopped: slower than the 2 s deadline, left out and named.
    w.members[1].proc.signal("-STOP");
    let q = format!(
        "/query?q={}&cluster=true",
        enc(&format!(
            "SELECT count(value) FROM cpu WHERE time >= {t0} AND time < {t1}"
        ))
    );
    let asked = std::time::Instant::now();
    let v = w.a().get(&q);
    eprintln!(
        "b stopped: answered in {:?} (deadline 2 s)",
        asked.elapsed()
    );
    assert_eq!(v["partial"], Value::Bool(true), "{v}");
    assert_eq!(v["failed_nodes"][0]["node"], "b", "{v}");
    assert_eq!(
        v["results"][0]["series"][0]["values"][0][1],
        2.0 * per_node,
        "{v}"
    );
    next_event(&rx, "b past the deadline", |v, f| {
        v == 2.0 * per_node && f == ["b"]
    });
    w.members[1].proc.signal("-CONT");
    next_event(&rx, "b back", |v, f| v == 3.0 * per_node && f.is_empty());

    // kill -9 of c: partial answers naming c, equal to the two-node answers.
    w.members[2].proc.kill9();
    let killed = std::time::Instant::now();
    w.check_all(&w.ab, &["c"]);
    eprintln!(
        "c killed: every check answered partial, naming c, in {:?}",
        killed.elapsed()
    );
    next_event(&rx, "c lost", |v, f| v == per_node * 2.0 && f == ["c"]);
    let page = w.a().text("/metrics");
    assert!(counter(&page, "strata_cluster_partial_answers_total") > 0.0);
    assert!(
        page.contains("strata_cluster_member_failures_total{node=\"c\"}"),
        "{page}"
    );

    // c's lease expires: it leaves the list; answers are whole over a and b.
    wait_for("c to leave", Duration::from_secs(60), || {
        (w.a().members() == ["a", "b"]).then_some(())
    });
    eprintln!(
        "c left the member list {:?} after kill -9 (lease TTL 15 s)",
        killed.elapsed()
    );
    w.check_all(&w.ab, &[]);

    // c restarts on its data and registers again: whole over all three.
    w.members[2].restart();
    wait_for("c to return", Duration::from_secs(30), || {
        (w.a().members() == NAMES).then_some(())
    });
    w.check_all(&w.all, &[]);
    next_event(&rx, "c back", |v, f| v == 3.0 * per_node && f.is_empty());

    // A member that shuts down (SIGTERM) revokes its lease and leaves at once: d's lease
    // would hold it in the list for 300 s otherwise.
    let port = free_port();
    let d = start_node(
        "d",
        &tmp.path().join("d"),
        port,
        cluster_flags(&etcd_url, "d", port, "300s"),
    );
    wait_for("d to join", Duration::from_secs(30), || {
        (w.a().members() == ["a", "b", "c", "d"]).then_some(())
    });
    d.proc.signal("-TERM");
    wait_for("d to leave", Duration::from_secs(60), || {
        (w.a().members() == NAMES).then_some(())
    });
    drop(d);

    // etcd gone: the last known members answer, and the answer says so.
    etcd.kill9();
    let v = wait_for("a stale answer", Duration::from_secs(60), || {
        let v = w.a().get(&q);
        (v["stale_membership"] == Value::Bool(true)).then_some(v)
    });
    assert_eq!(v["partial"], Value::Bool(false), "{v}");
    assert_eq!(
        v["results"][0]["series"][0]["values"][0][1],
        3.0 * per_node,
        "{v}"
    );
    let prom = w.a().get(&format!(
        "/api/v1/query?query={}&time={}&cluster=true",
        enc("count(cpu)"),
        t1 / 1_000_000_000 - 60
    ));
    assert!(
        prom["warnings"]
            .to_string()
            .contains("last known member list"),
        "{prom}"
    );
}
