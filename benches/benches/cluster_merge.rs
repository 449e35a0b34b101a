//! The cluster front-end's share of a query at 3 to 100 members, simulated in-process:
//! each member's answer is a real `node_answer` (InfluxQL partial states, the wire bytes
//! a member sends) over the TSBS cpu-only 6-hour file, with its own node tag; the
//! front-end's work is then measured as it is done: decode every answer and run
//! `merge_answers`. Every simulated member holds the whole file, so groups that do not
//! include the node (`GROUP BY hostname`) collide on every member: an upper bound on what
//! a front-end receives and holds (real members hold a share of the hosts each).
//!
//! Prints a Markdown table (docs/ARCHITECTURE.md, "Growing to 100 nodes"):
//! `cargo bench -p strata-benches --bench cluster_merge`.
//! `STRATA_BENCH_MEMBERS=3,10` chooses the member counts.

use std::time::{Duration, Instant};
use strata_benches::{batches, load_lp, loaded_db};
use strata_query::partial::select::{decode_answer, merge_answers, node_answer};
use strata_query::{Cancel, Limits, QueryOptions};

const RANGE: &str = "time >= '2016-01-01T00:00:00Z' AND time < '2016-01-01T06:00:00Z'";

fn options() -> QueryOptions {
    QueryOptions {
        now: None,
        limits: Limits::default(),
        database: None,
        cancel: Cancel::new(),
        memory: None,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let members: Vec<usize> = std::env::var("STRATA_BENCH_MEMBERS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![3, 10, 30, 100]);
    let lp = match load_lp("tsbs_cpu_only_scale100_6h.lp.zst") {
        Ok(lp) => lp,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let (_dir, db, points) = loaded_db(&batches(&lp, 10_000));
    let queries = [
        (
            "mean, no grouping",
            format!("SELECT mean(usage_user) FROM cpu WHERE {RANGE}"),
        ),
        (
            "sum by node",
            format!("SELECT sum(usage_user) FROM cpu WHERE {RANGE} GROUP BY node"),
        ),
        (
            "mean by hostname (100)",
            format!("SELECT mean(usage_user) FROM cpu WHERE {RANGE} GROUP BY hostname"),
        ),
        (
            "max by time(1h), hostname (600)",
            format!("SELECT max(usage_user) FROM cpu WHERE {RANGE} GROUP BY time(1h), hostname"),
        ),
        (
            "p95 by node (sketch)",
            format!("SELECT percentile(usage_user, 95) FROM cpu WHERE {RANGE} GROUP BY node"),
        ),
    ];
    println!("Data per simulated member: {points} points (TSBS cpu-only 6 h).\n");
    println!(
        "| query | members | bytes per member | bytes at the front-end | decode + merge (median of 5) | per member |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, q) in &queries {
        let one = node_answer(&db, q, &options(), ("node".into(), "n0".into()));
        for &m in &members {
            let answers: Vec<Vec<u8>> = (0..m)
                .map(|i| {
                    if i == 0 {
                        one.clone()
                    } else {
                        node_answer(&db, q, &options(), ("node".into(), format!("n{i}")))
                    }
                })
                .collect();
            let total: usize = answers.iter().map(Vec::len).sum();
            let mut times = Vec::new();
            for _ in 0..5 {
                let start = Instant::now();
                let decoded: Vec<_> = answers
                    .iter()
                    .map(|a| decode_answer(a).expect("a member's answer decodes"))
                    .collect();
                let resp = merge_answers(&db, q, decoded, &options());
                assert!(resp.error.is_none(), "{q}: {:?}", resp.error);
                std::hint::black_box(resp);
                times.push(start.elapsed());
            }
            let t = median(times);
            println!(
                "| {name} | {m} | {} | {total} | {:.2} ms | {:.1} µs |",
                one.len(),
                t.as_secs_f64() * 1e3,
                t.as_secs_f64() * 1e6 / m as f64
            );
        }
    }
}
