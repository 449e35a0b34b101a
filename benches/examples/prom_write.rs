//! Writes the line-protocol or text-format bodies of a `promgen` frames file into a fresh
//! database, in process, `reps` times, and prints the median and the fastest µs per
//! sample, in wall time and in CPU time of the whole process (the WAL writer thread
//! included): the server's per-sample write cost without HTTP, and a steady target for
//! `perf` (the HTTP load of the node set lasts a fifth of a second).
//!
//! `cargo run --release -p strata-benches --example prom_write -- FRAMES lp|text [reps]
//! [threads] [never|always]`
//!
//! FRAMES is `lp.frames` or `text.frames` from `promgen --out-dir` (frames of `u32 LE body
//! length | u32 LE samples | u32 LE shard | body`). `reps` defaults to 10. `threads`
//! (default 1) writer threads share the bodies, thread `k` writing bodies `k`, `k +
//! threads`, ... in order, as concurrent requests would. The database is opened in a
//! temporary directory per rep with `fsync = never` (the WAL is written but not synced)
//! or, given `always`, fsyncing before each write returns, as `strata serve` does. The
//! hot-tier insert is the part of a write that runs one batch at a time, in WAL order
//! (`strata_write_serial_seconds_total{section="hot_insert"}`).

use std::time::Instant;

/// The allocator `strata serve` runs with (cli/src/main.rs), so the figure is the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn fail(msg: String) -> ! {
    eprintln!("{msg}");
    std::process::exit(1);
}

/// The bodies of a frames file.
fn frames(path: &str) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_else(|e| fail(format!("{path}: {e}")));
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let Some(head) = data.get(at..at + 12) else {
            fail(format!("{path}: truncated frame header at offset {at}"))
        };
        let n = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        at += 12;
        let Some(body) = data.get(at..at + n) else {
            fail(format!("{path}: truncated frame at offset {at}"))
        };
        out.push(body.to_vec());
        at += n;
    }
    out
}

/// CPU time (ns) the process's live threads have run so far, from
/// `/proc/self/task/*/schedstat` (Linux); threads that have exited are not counted.
fn process_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Writes one body, line protocol or text format.
fn write(db: &strata_engine::Db, body: &[u8], text: bool) -> strata_engine::write::WriteSummary {
    if text {
        db.write_prom_text(body, 0)
            .unwrap_or_else(|e| fail(format!("write: {e}")))
            .write
    } else {
        db.write_lp(body, strata_engine::model::Precision::Nanosecond)
            .unwrap_or_else(|e| fail(format!("write: {e}")))
    }
}

/// CPU time (ns) the calling thread has run so far, from `/proc/thread-self/schedstat`.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn median_and_min(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0])
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        fail("usage: prom_write FRAMES lp|text [reps] [threads] [never|always]".into());
    }
    let bodies = frames(&args[0]);
    let text = match args[1].as_str() {
        "lp" => false,
        "text" => true,
        other => fail(format!("format {other:?}: expected lp or text")),
    };
    let reps: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .max(1);
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    let mut options = strata_benches::bench_options();
    match args.get(4).map(String::as_str) {
        None | Some("never") => {}
        Some("always") => options.fsync = strata_engine::FsyncPolicy::Always,
        Some(other) => fail(format!("fsync {other:?}: expected never or always")),
    }
    let mut per_sample = Vec::with_capacity(reps);
    let mut cpu_per_sample = Vec::with_capacity(reps);
    let mut hot_per_sample = Vec::with_capacity(reps);
    for rep in 0..reps {
        let dir = tempfile::tempdir().unwrap_or_else(|e| fail(format!("tempdir: {e}")));
        let db = strata_engine::Db::open(dir.path(), options.clone())
            .unwrap_or_else(|e| fail(format!("open: {e}")));
        let cpu = process_cpu_ns();
        let t = Instant::now();
        // Thread `k` writes bodies k, k + threads, ...: concurrent writers, as the
        // server's request threads are.
        let counts: Vec<(usize, usize, u64)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|k| {
                    let (db, bodies) = (&db, &bodies);
                    s.spawn(move || {
                        let cpu = thread_cpu_ns();
                        let (mut samples, mut refused) = (0usize, 0usize);
                        for body in bodies.iter().skip(k).step_by(threads) {
                            let summary = write(db, body, text);
                            samples += summary.points;
                            refused += summary.rejected.len();
                        }
                        (samples, refused, thread_cpu_ns().saturating_sub(cpu))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| fail("a writer panicked".into()))
                })
                .collect()
        });
        let samples: usize = counts.iter().map(|c| c.0).sum();
        let refused: usize = counts.iter().map(|c| c.1).sum();
        let writers_cpu: u64 = counts.iter().map(|c| c.2).sum();
        let took = t.elapsed().as_secs_f64();
        // The writer threads have exited: their own figures, plus the process's other
        // threads (the WAL writer's).
        let cpu = (process_cpu_ns().saturating_sub(cpu) + writers_cpu) as f64 / 1e9;
        if rep == 0 {
            println!(
                "{} bodies, {samples} samples, {refused} refused",
                bodies.len()
            );
        }
        let hot = db
            .metrics()
            .write_path
            .sections
            .iter()
            .find(|s| s.section == strata_engine::metrics::Section::HotInsert)
            .map_or(0.0, |s| s.hold_seconds);
        per_sample.push(took * 1e6 / samples.max(1) as f64);
        cpu_per_sample.push(cpu * 1e6 / samples.max(1) as f64);
        hot_per_sample.push(hot * 1e6 / samples.max(1) as f64);
        drop(db);
    }
    let (wall, wall_min) = median_and_min(per_sample);
    let (cpu, cpu_min) = median_and_min(cpu_per_sample);
    let (hot, hot_min) = median_and_min(hot_per_sample);
    println!(
        "µs per sample ({reps} reps, {threads} writer threads, median / fastest): wall {wall:.4} / {wall_min:.4}, \
         CPU {cpu:.4} / {cpu_min:.4}, hot-tier insert (held, serial) {hot:.4} / {hot_min:.4}"
    );
}
