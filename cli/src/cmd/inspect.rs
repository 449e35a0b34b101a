//! `strata inspect`: per tier, the files, series, columns, points, bytes, bytes per point
//! and time range; with `--json`, the same as one JSON object. Also how long the open
//! took and the process's resident memory after it.

use super::CmdResult;
use crate::config::EngineArgs;
use serde_json::json;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use strata_engine::{Db, TierStats};

/// Arguments of `strata inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    engine: EngineArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn rfc3339(ns: i64) -> String {
    // Any i64, before the epoch included (humantime refuses those).
    strata_query::result::format_rfc3339(ns)
}

fn tier_json(t: &TierStats) -> serde_json::Value {
    json!({
        "files": t.files,
        "series": t.series,
        "columns": t.columns,
        "points": t.points,
        "bytes": t.bytes,
        "bytes_per_point": if t.points > 0 { t.bytes as f64 / t.points as f64 } else { 0.0 },
        "min_time": t.time_range.map(|r| r.0),
        "max_time": t.time_range.map(|r| r.1),
        "min_time_rfc3339": t.time_range.map(|r| rfc3339(r.0)),
        "max_time_rfc3339": t.time_range.map(|r| rfc3339(r.1)),
        "paths": t.paths,
    })
}

/// Runs `inspect`.
pub fn run(args: Args) -> CmdResult {
    if !args.engine.data_dir.is_dir() {
        return Err(format!("{} is not a data directory", args.engine.data_dir.display()).into());
    }
    let mut options = args.engine.options()?;
    options.rotation_interval = Duration::ZERO; // look, do not move data
    let started = Instant::now();
    let db = Db::open(&args.engine.data_dir, options)?;
    let open_secs = started.elapsed().as_secs_f64();
    let rss = rss_bytes();
    let t = db.tier_stats();
    let s = db.stats();
    if args.json {
        let v = json!({
            "data_dir": args.engine.data_dir.display().to_string(),
            "open_seconds": open_secs,
            "index_from_image": s.index_from_image,
            "rss_bytes": rss,
            "series": s.series,
            "columns": s.columns,
            "index_bytes": s.index_bytes,
            "wal": { "files": t.wal_files, "bytes": t.wal_bytes },
            "tiers": { "hot": tier_json(&t.hot), "warm": tier_json(&t.warm), "cold": tier_json(&t.cold) },
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("data directory {}", args.engine.data_dir.display());
        println!(
            "opened in {:.3} s ({}); resident memory {}; {} series, {} columns; WAL {} files, {} bytes",
            open_secs,
            if s.index_from_image {
                "index from the image"
            } else {
                "index rebuilt"
            },
            rss.map_or("unknown".into(), |b| format!(
                "{:.1} MiB",
                b as f64 / (1 << 20) as f64
            )),
            s.series,
            s.columns,
            t.wal_files,
            t.wal_bytes
        );
        println!(
            "{:<5} {:>6} {:>8} {:>8} {:>12} {:>14} {:>11}  time range",
            "tier", "files", "series", "columns", "points", "bytes", "bytes/point"
        );
        for (name, tier) in [("hot", &t.hot), ("warm", &t.warm), ("cold", &t.cold)] {
            let bpp = if tier.points > 0 {
                tier.bytes as f64 / tier.points as f64
            } else {
                0.0
            };
            let range = tier.time_range.map_or("-".to_owned(), |(a, b)| {
                format!("{} .. {}", rfc3339(a), rfc3339(b))
            });
            println!(
                "{:<5} {:>6} {:>8} {:>8} {:>12} {:>14} {:>11.3}  {range}",
                name, tier.files, tier.series, tier.columns, tier.points, tier.bytes, bpp
            );
        }
    }
    drop(db); // no rotation, no WAL rewrite: inspecting changes nothing it need not
    Ok(ExitCode::SUCCESS)
}
