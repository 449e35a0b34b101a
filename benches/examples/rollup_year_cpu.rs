//! The rollup bench's year query (benches/benches/rollups.rs, `rollup_year_query`) timed
//! by CPU time as well as wall time, for a machine shared with other work, where wall
//! times swing with the load but the CPU a query burns does not (much).
//!
//! `cargo run --release -p strata-benches --example rollup_year_cpu -- [runs]` builds the
//! two directories (1 h rollup rule / none), runs the query `runs` times (default 30) on
//! each, and prints the minimum and median wall time and the process CPU time per query
//! (user + system, all threads, from /proc/self/stat). A second argument (`rollup_1h` or
//! `raw`) runs that case alone, for a profiler.

use std::path::Path;
use std::time::{Duration, Instant};
use strata_engine::model::Precision;
use strata_engine::rollup::{Aggregates, RollupRule};
use strata_engine::{Db, Options};
use strata_query::{QueryOptions, execute};

const Y2016: i64 = 1_451_606_400_000_000_000;
const DAYS: i64 = 366;
const HOSTS: i64 = 100;
const STEP: i64 = 30 * 60_000_000_000;

fn year_db(dir: &Path, rules: Vec<RollupRule>) -> Db {
    let options = Options {
        rotation_interval: Duration::ZERO,
        rollups: rules,
        ..Options::default()
    };
    let db = Db::open(dir, options).expect("open");
    let per_day = 86_400_000_000_000 / STEP;
    for day in 0..DAYS {
        let mut lp = String::new();
        for i in 0..per_day {
            let t = Y2016 + (day * per_day + i) * STEP;
            for h in 0..HOSTS {
                let v = ((day * per_day + i) * 31 + h * 17) % 1000;
                lp.push_str(&format!("m,host=h{h} v={v}.5 {t}\n"));
            }
        }
        db.write_lp(lp.as_bytes(), Precision::Nanosecond)
            .expect("write");
    }
    db.compact(true, true).expect("to cold");
    db
}

/// CPU seconds (user + system) of this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime and stime are the
    // 12th and 13th of them, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let only = std::env::args().nth(2);
    let q = "SELECT mean(v) FROM m WHERE time >= '2016-01-01T00:00:00Z' \
             AND time < '2017-01-01T00:00:00Z' GROUP BY time(1h)";
    let opts = QueryOptions::default();
    let hourly = RollupRule::new(
        "m",
        true,
        Duration::from_secs(3600),
        Aggregates::EXACT,
        None,
    )
    .expect("a valid rule");
    for (name, rules) in [("rollup_1h", vec![hourly]), ("raw", vec![])] {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let db = year_db(dir.path(), rules);
        let r = execute(&db, q, &opts);
        assert!(r.first_error().is_none(), "{:?}", r.first_error());
        let mut wall = Vec::with_capacity(runs);
        let cpu0 = cpu_seconds();
        for _ in 0..runs {
            let t = Instant::now();
            std::hint::black_box(execute(&db, q, &opts));
            wall.push(t.elapsed());
        }
        let cpu = (cpu_seconds() - cpu0) / runs as f64;
        wall.sort();
        println!(
            "{name}: wall min {:.1} ms, median {:.1} ms; CPU {:.1} ms per query ({runs} runs)",
            wall[0].as_secs_f64() * 1e3,
            wall[runs / 2].as_secs_f64() * 1e3,
            cpu * 1e3
        );
        db.close().expect("close");
    }
}
