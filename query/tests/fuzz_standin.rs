//! Stand-in fuzzing inside `cargo test` for the query language: the parser's fuzz property
//! on statements of every kind and a bounded number of their mutations, and the executor
//! on every mutation that parses, against a small real database — errors are fine,
//! panics and hangs are not (each statement runs under a timeout and small limits).

use std::sync::Arc;
use std::time::Duration;
use strata_engine::fuzzing::Mutator;
use strata_engine::model::Precision;
use strata_engine::{Db, ManualClock, Options};
use strata_query::{Limits, QueryOptions};

const ROUNDS: usize = 4_000;

const SEEDS: &[&str] = &[
    "SELECT mean(usage) AS m, max(\"usage\") FROM cpu, /^me/ WHERE host =~ /a.*/ AND time > now() - 1h GROUP BY time(10m, -5m), host FILL(previous) ORDER BY time DESC LIMIT 10 OFFSET 5 SLIMIT 3 SOFFSET 1 tz('America/New_York')",
    "SELECT derivative(mean(n), 1s) * 8, n % 3, count(*) FROM cpu WHERE n > 1.5 OR s = 'x' GROUP BY time(1m)",
    "SELECT top(usage, host, 2), region FROM cpu WHERE time >= '2016-01-01T00:00:00Z' AND time < 1451692800s",
    "SELECT percentile(usage, 95), p99(n), histogram_quantile(0.9, usage), rate(n, 1m), increase(n) FROM cpu GROUP BY *",
    "SELECT * FROM cpu WHERE usage > 1 AND (host = 'a' OR region != 'x') ORDER BY time DESC LIMIT 1",
    "SELECT moving_average(usage, 2), cumulative_sum(n), elapsed(n, 1ms), abs(n), log(usage, 2) FROM cpu",
    "SHOW MEASUREMENTS WITH MEASUREMENT =~ /c.*/ WHERE host = 'a' LIMIT 5; SHOW TAG KEYS FROM cpu; SHOW TAG VALUES WITH KEY IN (host, region); SHOW FIELD KEYS; SHOW SERIES; SHOW DATABASES; SHOW RETENTION POLICIES ON db; SHOW STATS",
    "CREATE DATABASE x; DELETE FROM cpu WHERE host = 'zz' AND time < 0; DROP SERIES FROM cpu WHERE host = 'a'",
    "select max(usage) from cpu where time < '2016-01-01T08:13:10Z' group by time(1m) limit 5 -- comment\n/* block */",
];

#[test]
fn parser_and_executor_on_mutated_statements() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            clock: Arc::new(ManualClock::new(1_451_700_000_000_000_000)),
            rotation_interval: Duration::ZERO,
            ..Options::default()
        },
    )
    .unwrap();
    let mut lp = String::new();
    for i in 0..200i64 {
        lp.push_str(&format!(
            "cpu,host={},region=r{} usage={},n={}i,s=\"v{}\" {}\n",
            ["a", "b", "c"][i as usize % 3],
            i % 2,
            i as f64 * 0.5,
            i - 50,
            i % 4,
            1_451_606_400_000_000_000 + i * 10_000_000_000
        ));
    }
    db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    db.compact(false, true).unwrap();
    let options = QueryOptions {
        now: Some(1_451_700_000_000_000_000),
        limits: Limits {
            max_series: 1_000,
            max_rows: 10_000,
            timeout: Some(Duration::from_secs(5)),
        },
        ..QueryOptions::default()
    };
    let corpus: Vec<&[u8]> = SEEDS.iter().map(|s| s.as_bytes()).collect();
    let run = |input: &[u8]| {
        strata_query::fuzzing::query_parse(input);
        if let Ok(text) = std::str::from_utf8(input)
            && strata_query::parse(text).is_ok()
            // Deletions would empty the database for the rest of the run.
            && !text.to_ascii_lowercase().contains("delete")
            && !text.to_ascii_lowercase().contains("drop")
        {
            let _ = strata_query::execute(&db, text, &options);
        }
    };
    for s in &corpus {
        run(s);
    }
    let mut m = Mutator::new(0x5eed);
    for i in 0..ROUNDS {
        let input = m.mutate(corpus[i % corpus.len()], corpus[(i * 5 + 1) % corpus.len()]);
        run(&input);
    }
}

const PROMQL_SEEDS: &[&str] = &[
    "sum by (host) (rate(cpu_n{host=~\"a|b\", region!=\"r9\"}[5m] offset 1m)) / on(host) group_left count(cpu_usage) > bool 0.5",
    "histogram_quantile(0.9, sum without (le) (increase(req_bucket[10m:1m] @ start())))",
    "topk(2, max_over_time(cpu_usage[1h])) or bottomk(1, -cpu_n ^ 2 ^ 0.5) unless absent(nothing{a=\"b\"})",
    "label_replace(label_join(cpu_usage, \"x\", \",\", \"host\", \"region\"), \"y\", \"$1\", \"host\", \"(.*)\")",
    "quantile_over_time(0.5, cpu_usage[30m]) atan2 clamp(cpu_n, -1, 1) % 3 == scalar(vector(time()))",
    "count_values(\"v\", round(cpu_usage, 0.1)) + holt_winters(cpu_usage[1h], 0.5, 0.5) - predict_linear(cpu_n[1h], 60)",
    "sort_desc(deriv(cpu_usage[10m])) * on() group_right day_of_week() # comment\n",
    "stddev(changes(cpu_n[1h]) + resets(cpu_n[1h])) - stdvar by (region) (irate(cpu_n[1m]) + idelta(cpu_n[1m]))",
];

#[test]
fn promql_parser_and_evaluator_on_mutated_expressions() {
    use strata_query::promql::{self, EvalOptions};
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut lp = String::new();
    for i in 0..300i64 {
        lp.push_str(&format!(
            "cpu,host={},region=r{} usage={},n={}i {}\n",
            ["a", "b", "c"][i as usize % 3],
            i % 2,
            i as f64 * 0.5,
            i - 50,
            1_451_606_400_000_000_000 + i * 10_000_000_000
        ));
    }
    db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    let opts = EvalOptions {
        max_samples: 200_000,
        timeout: Some(Duration::from_secs(5)),
        ..EvalOptions::default()
    };
    let t0 = 1_451_606_400_000i64;
    let run = |input: &[u8]| {
        strata_query::fuzzing::promql_parse(input);
        if let Ok(text) = std::str::from_utf8(input)
            && let Ok(expr) = promql::parse_expr(text)
        {
            let _ = promql::instant(&db, &expr, t0 + 1_800_000, &opts);
            let _ = promql::range(&db, &expr, t0, t0 + 3_000_000, 60_000, &opts);
        }
    };
    let corpus: Vec<&[u8]> = PROMQL_SEEDS.iter().map(|s| s.as_bytes()).collect();
    for s in &corpus {
        run(s);
    }
    let mut m = Mutator::new(0x9e0_5eed);
    for i in 0..ROUNDS {
        let input = m.mutate(corpus[i % corpus.len()], corpus[(i * 3 + 1) % corpus.len()]);
        run(&input);
    }
}
