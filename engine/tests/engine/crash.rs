//! A real crash: a child process writes batches, reports each acknowledged one, and
//! aborts mid-stream; the parent reopens the directory and finds every acknowledged point
//! exactly once.

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use strata_engine::model::Precision;
use strata_engine::{Db, FsyncPolicy};

const CHILD_ENV: &str = "STRATA_CRASH_CHILD_DIR";
const BATCH: usize = 500;

/// Runs only inside the child process: writes until it aborts itself.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // not the child: nothing to do
    };
    let abort_after: usize = std::env::var("STRATA_CRASH_AFTER")
        .unwrap()
        .parse()
        .unwrap();
    let mut o = options();
    o.fsync = FsyncPolicy::Always;
    let db = std::sync::Arc::new(Db::open(&dir, o).unwrap());
    // Two writers so that group commit and the apply turnstile are exercised.
    let handles: Vec<_> = (0..2)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                for b in 0.. {
                    let first = (b * 2 + w) * BATCH;
                    db.write_lp(
                        lp_batch(first, BATCH, 50, 3, 0).as_bytes(),
                        Precision::Nanosecond,
                    )
                    .unwrap();
                    println!("acked {first}");
                    if b * 2 + w >= abort_after {
                        std::process::abort();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
}

#[test]
fn acknowledged_writes_survive_abort() {
    for abort_after in [2usize, 7, 20] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash::crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .env("STRATA_CRASH_AFTER", abort_after.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut acked = Vec::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            // libtest prints "test crash::crash_child ... " before the first report.
            let line = line.unwrap();
            if let Some(at) = line.find("acked ") {
                acked.push(line[at + 6..].trim().parse::<usize>().unwrap());
            }
        }
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child must have aborted");
        assert!(!acked.is_empty());
        let db = Db::open(dir.path(), options()).unwrap();
        // Every acknowledged line is there, once, with its value.
        let mut present = std::collections::HashSet::new();
        for h in 0..50 {
            let c = read(&db, &host("m", h), "f2");
            let mut prev = None;
            for (&t, &v) in c.timestamps.iter().zip(ints(&c)) {
                assert!(prev < Some(t), "timestamps strictly increase");
                prev = Some(t);
                let l = (t / 1_000_000_000) as usize * 50 + h;
                assert_eq!(v, value(l, 2));
                present.insert(l);
            }
        }
        for first in acked {
            for l in first..first + BATCH {
                assert!(
                    present.contains(&l),
                    "acknowledged line {l} lost (abort after {abort_after})"
                );
            }
        }
    }
}
