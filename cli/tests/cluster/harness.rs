//! Processes for the cluster tests: a real etcd and `strata serve` nodes on loopback, the
//! test data, and comparisons of JSON answers.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `etcd` is on PATH; without it the tests say so and pass, unless
/// `STRATA_REQUIRE_PEERS=1`, where its absence fails them.
pub fn etcd_present() -> bool {
    let ok = Command::new("etcd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("STRATA_REQUIRE_PEERS").as_deref() != Ok("1"),
            "etcd not found and STRATA_REQUIRE_PEERS=1"
        );
        eprintln!("skipped: etcd is not installed (../shared/peers/install.sh --all)");
    }
    ok
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(2))
        .timeout(Duration::from_secs(30))
        .build()
}

/// A child process killed when the test ends.
pub struct Proc {
    pub child: Option<Child>,
}

impl Proc {
    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let ok = Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "kill {sig} failed");
        }
    }

    /// `kill -9`, and reap.
    pub fn kill9(&mut self) {
        self.signal("-KILL");
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `f` until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A real etcd on a free loopback port; its client URL.
pub fn start_etcd(dir: &Path) -> (Proc, String) {
    let client = free_port();
    let peer = free_port();
    let curl = format!("http://127.0.0.1:{client}");
    let purl = format!("http://127.0.0.1:{peer}");
    let child = Command::new("etcd")
        .args([
            "--name",
            "strata-test",
            "--data-dir",
            dir.to_str().expect("utf-8 path"),
            "--listen-client-urls",
            &curl,
            "--advertise-client-urls",
            &curl,
            "--listen-peer-urls",
            &purl,
            "--initial-advertise-peer-urls",
            &purl,
            "--initial-cluster",
            &format!("strata-test={purl}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcd starts");
    let p = Proc { child: Some(child) };
    let a = agent();
    wait_for("etcd health", Duration::from_secs(30), || {
        a.get(&format!("{curl}/health"))
            .call()
            .ok()
            .filter(|r| r.status() == 200)
    });
    (p, curl)
}

/// A `strata serve` process.
pub struct Node {
    pub proc: Proc,
    pub base: String,
    pub name: String,
    pub dir: PathBuf,
    pub port: u16,
    pub cluster: Vec<String>,
}

/// Starts `strata serve` on `port` over `dir`, with `cluster` flags (empty: one node).
pub fn start_node(name: &str, dir: &Path, port: u16, cluster: Vec<String>) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args([
            "serve",
            "--data-dir",
            dir.to_str().expect("utf-8 path"),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(&cluster)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strata serve starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("a first line");
    assert!(line.contains("listening"), "{name}: {line}");
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
    });
    let base = format!("http://127.0.0.1:{port}");
    let a = agent();
    wait_for("the node to be ready", Duration::from_secs(60), || {
        a.get(&format!("{base}/ready"))
            .call()
            .ok()
            .filter(|r| r.status() == 200)
    });
    Node {
        proc: Proc { child: Some(child) },
        base,
        name: name.to_owned(),
        dir: dir.to_owned(),
        port,
        cluster,
    }
}

/// The flags that make `name` a member.
pub fn cluster_flags(etcd: &str, name: &str, port: u16, ttl: &str) -> Vec<String> {
    [
        "--cluster.etcd",
        etcd,
        "--cluster.node",
        name,
        "--cluster.advertise",
        &format!("http://127.0.0.1:{port}"),
        "--cluster.lease-ttl",
        ttl,
        "--cluster.deadline",
        "2s",
        "--cluster.prefix",
        "/strata-test/members/",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

impl Node {
    pub fn restart(&mut self) {
        let n = start_node(&self.name, &self.dir, self.port, self.cluster.clone());
        *self = n;
    }

    pub fn get(&self, path_and_query: &str) -> Value {
        let r = agent()
            .get(&format!("{}{path_and_query}", self.base))
            .call()
            .unwrap_or_else(|e| panic!("{} GET {path_and_query}: {e}", self.name));
        serde_json::from_reader(r.into_reader()).expect("a JSON answer")
    }

    pub fn text(&self, path_and_query: &str) -> String {
        agent()
            .get(&format!("{}{path_and_query}", self.base))
            .call()
            .unwrap_or_else(|e| panic!("{} GET {path_and_query}: {e}", self.name))
            .into_string()
            .expect("a text answer")
    }

    pub fn write(&self, lines: &str) {
        let r = agent()
            .post(&format!("{}/write?precision=ns", self.base))
            .send_string(lines)
            .expect("write accepted");
        assert_eq!(r.status(), 204);
    }

    /// Member names this node sees.
    pub fn members(&self) -> Vec<String> {
        let v = self.get("/api/v1/cluster/members");
        let mut names: Vec<String> = v["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["node"].as_str().map(str::to_owned))
            .collect();
        names.sort();
        names
    }
}

/// Percent-encodes a query parameter.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "+Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            s => s.parse().ok(),
        },
        _ => None,
    }
}

/// Whether two answers are equal, numbers up to float summation order (relative 1e-9).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ if a == b => true,
        _ => match (num(a), num(b)) {
            (Some(p), Some(q)) if p.is_nan() && q.is_nan() => true,
            (Some(p), Some(q)) => (p - q).abs() <= 1e-9 * p.abs().max(q.abs()).max(1.0),
            _ => false,
        },
    }
}

/// A Prometheus answer's result, sorted by labels (the order of series is not part of
/// an instant or range vector).
pub fn prom_result(v: &Value) -> Value {
    assert_eq!(v["status"], "success", "{v}");
    match &v["data"]["result"] {
        Value::Array(items) => {
            let mut items = items.clone();
            items.sort_by_key(|i| i["metric"].to_string());
            Value::Array(items)
        }
        other => other.clone(),
    }
}

/// Test data: per node, `cpu` (field `value`, tags host and job) and a counter
/// `req_total`, every 10 s for `points` steps from `t0_ns`; with `node_tag`, each line also
/// carries `node=<name>` (what a single node holding everyone's data stores).
pub fn node_lines(node: usize, name: &str, t0_ns: i64, points: i64, node_tag: bool) -> String {
    let mut out = String::new();
    let tag = if node_tag {
        format!(",node={name}")
    } else {
        String::new()
    };
    for (h, host) in ["x", "y"].iter().enumerate() {
        let job = if h == 0 { "api" } else { "db" };
        let mut counter = 0.0;
        for i in 0..points {
            let t = t0_ns + i * 10_000_000_000;
            let v = ((i * 37 + node as i64 * 101 + h as i64 * 13) % 97) as f64 * 1.5
                + node as f64
                + 0.25;
            counter += ((i + node as i64 * 3 + h as i64) % 7) as f64;
            out.push_str(&format!("cpu,host={host},job={job}{tag} value={v} {t}\n"));
            out.push_str(&format!(
                "req_total,host={host},job={job}{tag} value={counter} {t}\n"
            ));
        }
    }
    out
}
