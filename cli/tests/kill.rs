//! Kill test: `strata serve` (fsync always, rotation every second) is killed with SIGKILL
//! at random moments while several clients write uniquely numbered batches; after every
//! round it restarts on the same directory. At the end every acknowledged point must be
//! there exactly once (and every batch whole or absent: one batch is one WAL record), and
//! `strata verify` must pass. Figures are printed (run with `--nocapture`) and recorded in
//! docs/RELIABILITY.md.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

const ROUNDS: usize = 22;
const CLIENTS: usize = 3;
const LINES_PER_BATCH: u64 = 100;
const BASE_TS: i64 = 1_700_000_000_000_000_000;

mod common;
use common::{Server, agent};

fn start(dir: &Path) -> Server {
    start_with(dir, &[])
}

fn start_with(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "--fsync",
        "always",
        "--rotation-interval",
        "1s",
        "--hot-max-age",
        "1s",
        "--max-rows",
        "10000000",
    ];
    args.extend_from_slice(extra);
    common::serve(dir, &args)
}

/// A batch's lines: one series per client, timestamps unique across the whole test.
fn batch(client: usize, id: u64) -> String {
    let mut s = String::with_capacity(64 * LINES_PER_BATCH as usize);
    for i in 0..LINES_PER_BATCH {
        let n = id * LINES_PER_BATCH + i;
        s.push_str(&format!(
            "kt,client=c{client} v={n}i,batch={id}i {}\n",
            BASE_TS + n as i64
        ));
    }
    s
}

/// Writes batches until the server goes away; returns the acknowledged batch ids.
fn client(base: String, client: usize, ids: Arc<AtomicU64>, stop: Arc<AtomicBool>) -> Vec<u64> {
    let agent = agent();
    let mut acked = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let id = ids.fetch_add(1, Ordering::Relaxed);
        match agent
            .post(&format!("{base}/write?db=kill"))
            .send_string(&batch(client, id))
        {
            Ok(r) if r.status() == 204 => acked.push(id),
            Ok(r) => panic!("unexpected status {}", r.status()),
            Err(ureq::Error::Status(503, _)) => {}
            Err(ureq::Error::Status(code, r)) => {
                panic!("status {code}: {}", r.into_string().unwrap_or_default())
            }
            Err(ureq::Error::Transport(_)) => break, // killed
        }
    }
    acked
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let ids = Arc::new(AtomicU64::new(0));
    let mut acked: BTreeMap<u64, usize> = BTreeMap::new(); // batch → client
    for _round in 0..ROUNDS {
        let mut server = start(dir.path());
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (base, ids, stop) = (server.base.clone(), ids.clone(), stop.clone());
                std::thread::spawn(move || (c, client(base, c, ids, stop)))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20 + rng.next() % 300));
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            let (c, got) = t.join().unwrap();
            acked.extend(got.into_iter().map(|id| (id, c)));
        }
    }
    // Restart once more and read everything back over HTTP.
    let server = start(dir.path());
    let url = format!(
        "{}/query?db=kill&epoch=ns&q={}",
        server.base, "SELECT%20v%2C%20batch%20FROM%20kt%20GROUP%20BY%20client"
    );
    let mut body = String::new();
    agent()
        .get(&url)
        .call()
        .unwrap()
        .into_reader()
        .read_to_string(&mut body)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["results"][0]["error"].is_null(), "{body}");
    let mut present: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new(); // batch → line numbers
    let mut points = 0usize;
    for s in v["results"][0]["series"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let client: usize = s["tags"]["client"].as_str().unwrap()[1..].parse().unwrap();
        let mut last_t = i64::MIN;
        for row in s["values"].as_array().unwrap() {
            let (t, n, b) = (
                row[0].as_i64().unwrap(),
                row[1].as_u64().unwrap(),
                row[2].as_u64().unwrap(),
            );
            assert!(
                t > last_t,
                "time {t} appears twice in client {client}: a duplicate"
            );
            last_t = t;
            assert_eq!(t, BASE_TS + n as i64, "value and time belong together");
            assert_eq!(b, n / LINES_PER_BATCH);
            assert!(present.entry(b).or_default().insert(n % LINES_PER_BATCH));
            points += 1;
        }
    }
    let mut lost = 0u64;
    for &b in acked.keys() {
        let lines = present.get(&b).map_or(0, BTreeSet::len) as u64;
        lost += LINES_PER_BATCH - lines;
    }
    for (b, lines) in &present {
        assert_eq!(
            lines.len() as u64,
            LINES_PER_BATCH,
            "batch {b} is torn: one batch is one WAL record"
        );
    }
    let acked_points = acked.len() as u64 * LINES_PER_BATCH;
    println!(
        "kill test (seed {seed}): {ROUNDS} rounds of SIGKILL, {CLIENTS} clients, {} batches \
         acknowledged = {acked_points} lines; {points} lines present ({} unacknowledged \
         batches landed whole); lost {lost}; duplicates 0",
        acked.len(),
        present.len().saturating_sub(acked.len()),
    );
    assert_eq!(lost, 0, "acknowledged points lost");
    assert!(acked_points > 0, "no write was ever acknowledged");
    // Graceful stop (SIGTERM), then verify every checksum.
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = server.child;
    assert!(
        child.wait().unwrap().success(),
        "SIGTERM ends the server cleanly"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["verify", "--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_creates_its_directory_and_stops_cleanly_on_sigterm() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("new").join("data");
    let server = start(&dir);
    assert!(dir.is_dir(), "serve creates the data directory");
    let r = agent()
        .get(&format!("{}/ping", server.base))
        .call()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.header("X-Influxdb-Version").is_some());
    let r = agent()
        .post(&format!("{}/write?db=x", server.base))
        .send_string("m v=1 1\n")
        .unwrap();
    assert_eq!(r.status(), 204);
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = server.child;
    assert!(child.wait().unwrap().success());
    // The lock is released and the write is there.
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["export", "--data-dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "m v=1.0 1\n");
}

/// Bug: after SIGTERM the server logged "stopped" but the process did not exit while a
/// request was still in flight. Fix: running queries are cancelled, in-flight requests get
/// `server.shutdown_timeout`, and the runtime does not wait on blocking tasks past
/// `RUNTIME_SHUTDOWN`. A request body that stalls (body timeout: a minute) and a head
/// that stalls are in flight here; the process must exit well before either times out.
#[test]
fn sigterm_ends_the_process_with_requests_in_flight() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(
        dir.path(),
        &["--shutdown-timeout", "1s", "--body-timeout", "5m"],
    );
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut slow_body = std::net::TcpStream::connect(&addr).unwrap();
    slow_body
        .write_all(b"POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nm v=1 1\n")
        .unwrap();
    let mut slow_head = std::net::TcpStream::connect(&addr).unwrap();
    slow_head.write_all(b"GET /ping HTTP/1.1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = server.child;
    // A watchdog, not a timing assertion: the bound stated is 10 s by default, 1 s here.
    for _ in 0..600 {
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(exit.success(), "{exit}");
            drop((slow_body, slow_head));
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("strata serve did not exit within 60 s of SIGTERM with requests in flight");
}
