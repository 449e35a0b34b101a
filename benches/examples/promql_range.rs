//! Evaluates one PromQL range query on an existing data directory, in process, `times`
//! times, and prints the median and the fastest evaluation: the server's query cost
//! without HTTP or JSON, and a target for `perf` (one thread, no sockets in the profile).
//!
//! `cargo run --release -p strata-benches --example promql_range -- DIR QUERY START END STEP [times]`
//!
//! START and END in unix seconds (fractions allowed), STEP in seconds; `times` defaults to
//! 1000. The answer's size is printed once, so two builds can be checked to agree.

use std::time::Instant;
use strata_query::promql::{self, EvalOptions, QueryValue};

/// The allocator `strata serve` runs with (cli/src/main.rs), so the figure is the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn fail(msg: String) -> ! {
    eprintln!("{msg}");
    std::process::exit(1);
}

fn secs_to_ms(s: &str, what: &str) -> i64 {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => (v * 1000.0).round() as i64,
        _ => fail(format!("{what}: {s:?} is not a number of seconds")),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        fail("usage: promql_range DIR QUERY START END STEP [times]".into());
    }
    let times: usize = args
        .get(5)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
        .max(1);
    let (start, end, step) = (
        secs_to_ms(&args[2], "START"),
        secs_to_ms(&args[3], "END"),
        secs_to_ms(&args[4], "STEP"),
    );
    let expr = promql::parse_expr(&args[1]).unwrap_or_else(|e| fail(format!("query: {e}")));
    let db = strata_engine::Db::open(&args[0], strata_benches::bench_options())
        .unwrap_or_else(|e| fail(format!("{}: {e}", args[0])));
    let opts = EvalOptions::default();
    let mut took = Vec::with_capacity(times);
    for i in 0..times {
        let t = Instant::now();
        let v = promql::range(&db, &expr, start, end, step, &opts)
            .unwrap_or_else(|e| fail(format!("evaluation: {e}")));
        took.push(t.elapsed().as_secs_f64() * 1e6);
        if i == 0 {
            match &v {
                QueryValue::Matrix(m) => println!(
                    "answer: {} series, {} points",
                    m.len(),
                    m.iter().map(|(_, p)| p.len()).sum::<usize>()
                ),
                other => println!("answer: {other:?}"),
            }
        }
    }
    took.sort_by(f64::total_cmp);
    println!(
        "{times} evaluations: median {:.1} µs, fastest {:.1} µs",
        took[times / 2],
        took[0]
    );
}
