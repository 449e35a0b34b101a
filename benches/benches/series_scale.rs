//! A million series: write one point to each of N series (default 1,000,000; three tags,
//! Prometheus-like), then report the index's heap bytes and the process's resident memory,
//! close (rotating everything into a warm segment), and time a reopen. A measurement, not
//! a timing loop.
//!
//! `cargo bench -p strata-benches --bench series_scale [-- N]`

use std::time::Instant;
use strata_engine::model::Precision;

fn rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let options = strata_benches::bench_options();
    let rss0 = rss_mib();
    let db = strata_engine::Db::open(dir.path(), options.clone()).expect("open");
    let started = Instant::now();
    let mut batch = String::new();
    for i in 0..n {
        batch.push_str(&format!(
            "http_requests_total,instance=10.{}.{}.{}:9100,job=node,path=/api/v{} value={i} 1700000000000000000\n",
            i / 65_536 % 256,
            i / 256 % 256,
            i % 256,
            i % 7
        ));
        if batch.len() > 1 << 20 {
            db.write_lp(batch.as_bytes(), Precision::Nanosecond)
                .expect("write");
            batch.clear();
        }
    }
    db.write_lp(batch.as_bytes(), Precision::Nanosecond)
        .expect("write");
    let write_s = started.elapsed().as_secs_f64();
    let stats = db.stats();
    let rss = rss_mib() - rss0;
    println!(
        "{n} series written in {write_s:.2} s; index {:.0} MiB ({:.0} B/series); process RSS +{rss:.0} MiB",
        stats.index_bytes as f64 / (1 << 20) as f64,
        stats.index_bytes as f64 / n as f64
    );
    let started = Instant::now();
    db.close().expect("close");
    println!(
        "close (rotation into a warm segment): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let rss1 = rss_mib();
    let started = Instant::now();
    let db = strata_engine::Db::open(dir.path(), options).expect("reopen");
    let open_s = started.elapsed().as_secs_f64();
    println!(
        "reopen: {open_s:.2} s, {} series; index {:.0} MiB; RSS +{:.0} MiB",
        db.stats().series,
        db.stats().index_bytes as f64 / (1 << 20) as f64,
        rss_mib() - rss1
    );
}
