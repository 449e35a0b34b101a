//! Opens an existing data directory (read-only use: it is opened and closed, nothing is
//! written but what opening a database writes) `times` times and prints the time of each
//! open, the index size and the process' resident memory: the reopen row of
//! docs/BENCHMARKS.md measured on a directory of one's own, and a target for `perf`.
//!
//! `cargo run --release -p strata-benches --example reopen -- DIR [times] [rebuild]`
//!
//! Each close writes the index image (`INDEX`), so opens after the first load it; with
//! `rebuild` the image is removed before each open, which then rebuilds the index from
//! the segments (the figure before the image existed). Each line says which it was.

use std::time::Instant;

/// The allocator `strata serve` runs with (cli/src/main.rs), so the figure is the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: reopen DIR [times] [rebuild]");
        std::process::exit(2);
    };
    let times: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let rebuild = args.next().as_deref() == Some("rebuild");
    for i in 0..times {
        if rebuild {
            let _ = std::fs::remove_file(std::path::Path::new(&dir).join("INDEX"));
        }
        let rss0 = rss_mib();
        let started = Instant::now();
        let db = match strata_engine::Db::open(&dir, strata_benches::bench_options()) {
            Ok(db) => db,
            Err(e) => {
                eprintln!("{dir}: {e}");
                std::process::exit(1);
            }
        };
        let open_s = started.elapsed().as_secs_f64();
        let stats = db.stats();
        println!(
            "open {i}: {open_s:.3} s ({}), {} series; index {:.0} MiB; RSS +{:.0} MiB",
            if stats.index_from_image {
                "index image"
            } else {
                "rebuilt"
            },
            stats.series,
            stats.index_bytes as f64 / (1 << 20) as f64,
            rss_mib() - rss0
        );
        let closing = Instant::now();
        let closed = db.close();
        println!(
            "close {i}: {:.3} s (writes the index image)",
            closing.elapsed().as_secs_f64()
        );
        if let Err(e) = closed {
            eprintln!("{dir}: closing: {e}");
            std::process::exit(1);
        }
    }
}
