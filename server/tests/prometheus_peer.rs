//! Real Prometheus clients against Strata, on loopback:
//!
//! - `promtool query instant|range|series|labels` gives the same output against Strata
//!   as against a real Prometheus 2.42 holding the same data (built with
//!   `promtool tsdb create-blocks-from openmetrics`);
//! - a real Prometheus with `remote_read` pointed at Strata, and no data of its own,
//!   answers PromQL over data only Strata holds.
//!
//! - with `--web.config.file` (TLS and a bcrypt user): `promtool check web-config` accepts
//!   Strata's file, and a real Prometheus scrapes Strata's `/metrics` and remote-writes into
//!   it over TLS with basic auth (a wrong password is refused: its target is down).
//!
//! - the TSDB admin API (snapshot, delete_series, clean_tombstones), on and off, answers
//!   as Prometheus' does: the same status and body (a snapshot's random name aside).
//!
//! Needs `prometheus` and `promtool` (`../shared/peers/install.sh`). Without them the
//! test says so and passes, unless `STRATA_REQUIRE_PEERS=1` (as `.ci/run` sets), where
//! their absence fails it.

mod pki;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use strata_engine::Options;
use strata_server::remote_write::{Label, Sample, TimeSeries, WriteRequest, encode_remote_write};
use strata_server::{Config, RunningServer};

/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;
const STEP: i64 = 15_000;
const POINTS: i64 = 240;

fn have(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn peers_present() -> bool {
    let ok = have("prometheus") && have("promtool");
    if !ok {
        assert!(
            std::env::var("STRATA_REQUIRE_PEERS").as_deref() != Ok("1"),
            "prometheus/promtool not found and STRATA_REQUIRE_PEERS=1"
        );
        eprintln!(
            "skipped: prometheus and promtool are not installed (../shared/peers/install.sh)"
        );
    }
    ok
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The test data: counters with a reset, a gauge, and a histogram, every 15 s for an
/// hour; as (labels, values).
/// A series: its labels and its values at `T0 + i * STEP`.
type TestSeries = (Vec<(String, String)>, Vec<f64>);

fn data() -> Vec<TestSeries> {
    let l = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let mut out = Vec::new();
    for (inst, scale) in [("a", 1.0), ("b", 2.5)] {
        for (code, share) in [("200", 0.9), ("500", 0.1)] {
            let mut v = 0.0;
            let vals = (0..POINTS)
                .map(|i| {
                    v += scale * share * (10.0 + (i % 7) as f64);
                    if inst == "b" && code == "200" && i == 120 {
                        v = 3.0; // a counter reset
                    }
                    v
                })
                .collect();
            out.push((
                l(&[
                    ("__name__", "demo_requests_total"),
                    ("code", code),
                    ("instance", inst),
                    ("job", "api"),
                ]),
                vals,
            ));
        }
        out.push((
            l(&[
                ("__name__", "demo_temperature_celsius"),
                ("instance", inst),
                ("job", "api"),
            ]),
            (0..POINTS)
                .map(|i| 20.0 + scale * ((i as f64) / 17.0).sin() + (i % 5) as f64 * 0.25)
                .collect(),
        ));
        let bounds = ["0.05", "0.1", "0.25", "0.5", "1", "+Inf"];
        let mut counts = [0.0; 6];
        let mut series: Vec<Vec<f64>> = vec![Vec::new(); 6];
        for i in 0..POINTS {
            for (b, c) in counts.iter_mut().enumerate() {
                *c += ((b as i64 + 1) * (3 + i % 4)) as f64 * scale;
            }
            for b in 0..6 {
                series[b].push(counts[b]);
            }
        }
        for (b, vals) in bounds.iter().zip(series) {
            out.push((
                l(&[
                    ("__name__", "demo_latency_seconds_bucket"),
                    ("instance", inst),
                    ("job", "api"),
                    ("le", b),
                ]),
                vals,
            ));
        }
    }
    out
}

fn openmetrics(data: &[TestSeries]) -> String {
    let mut out = String::new();
    for (labels, vals) in data {
        let name = &labels
            .iter()
            .find(|(k, _)| k == "__name__")
            .expect("name")
            .1;
        let rest: Vec<String> = labels
            .iter()
            .filter(|(k, _)| k != "__name__")
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        for (i, v) in vals.iter().enumerate() {
            let t = T0 + i as i64 * STEP;
            out.push_str(&format!(
                "{name}{{{}}} {v} {}.{:03}\n",
                rest.join(","),
                t / 1000,
                t % 1000
            ));
        }
    }
    out.push_str("# EOF\n");
    out
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_prometheus(dir: &Path, config: &str, port: u16) -> Proc {
    start_prometheus_with(dir, config, port, &[])
}

fn start_prometheus_with(dir: &Path, config: &str, port: u16, extra: &[&str]) -> Proc {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).expect("config");
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg("--storage.tsdb.retention.time=100y")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let p = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if ureq::get(&format!("http://127.0.0.1:{port}/-/ready"))
            .call()
            .is_ok()
        {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not become ready: {}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}

/// Output lines sorted: Prometheus does not define the order of most results.
fn sorted(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_owned).collect();
    v.sort();
    v
}

/// Whether two outputs of `promtool query` agree: the same lines in any order, to the
/// last digit.
fn same(a: &str, b: &str) -> bool {
    sorted(a) == sorted(b)
}

#[test]
fn promtool_and_remote_read_agree_with_prometheus() {
    if !peers_present() {
        return;
    }
    let data = data();
    // Strata, loaded through remote write.
    let sdir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    let server =
        RunningServer::start(sdir.path().to_path_buf(), Options::default(), config).unwrap();
    let strata = format!("http://{}", server.addr());
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{strata}/ready")).call().is_err() {
        assert!(Instant::now() < deadline, "strata not ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    let req = WriteRequest {
        timeseries: data
            .iter()
            .map(|(labels, vals)| TimeSeries {
                labels: labels
                    .iter()
                    .map(|(n, v)| Label {
                        name: n.clone().into_bytes(),
                        value: v.clone().into_bytes(),
                    })
                    .collect(),
                samples: vals
                    .iter()
                    .enumerate()
                    .map(|(i, &value)| Sample {
                        value,
                        timestamp: T0 + i as i64 * STEP,
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        metadata: vec![],
    };
    let r = ureq::post(&format!("{strata}/api/v1/write"))
        .set("Content-Encoding", "snappy")
        .send_bytes(&encode_remote_write(&req))
        .expect("remote write");
    assert_eq!(r.status(), 204);

    // Prometheus over the same data.
    let pdir = tempfile::tempdir().unwrap();
    let om = pdir.path().join("data.om");
    std::fs::write(&om, openmetrics(&data)).unwrap();
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(pdir.path().join("data"))
        .output()
        .expect("promtool tsdb");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pport = free_port();
    let _prom = start_prometheus(pdir.path(), "global:\n  scrape_interval: 1h\n", pport);
    let prom = format!("http://127.0.0.1:{pport}");

    let t = |ms: i64| format!("{}", ms / 1000);
    let mid = T0 + 40 * 60_000;
    let instant = [
        "demo_requests_total",
        "sum by (code) (rate(demo_requests_total[5m]))",
        "histogram_quantile(0.9, sum by (le, instance) (rate(demo_latency_seconds_bucket[5m])))",
        "topk(2, demo_temperature_celsius)",
        "increase(demo_requests_total{code=\"200\"}[30m])",
        "avg_over_time(demo_temperature_celsius[10m]) > 20",
        "demo_requests_total / ignoring(code) group_left sum without (code) (demo_requests_total)",
        "quantile_over_time(0.9, demo_temperature_celsius[15m])",
        "max_over_time(deriv(demo_temperature_celsius[5m])[20m:1m])",
        "count_values(\"v\", round(demo_temperature_celsius))",
        "absent(nonexistent{job=\"x\"})",
    ];
    let mut differ = Vec::new();
    for q in instant {
        let a = promtool(&[
            "query",
            "instant",
            &strata,
            q,
            &format!("--time={}", t(mid)),
        ]);
        let b = promtool(&["query", "instant", &prom, q, &format!("--time={}", t(mid))]);
        assert!(!a.trim().is_empty(), "{q}: strata answered nothing");
        if !same(&a, &b) {
            differ.push(format!("{q}\nstrata:\n{a}\nprometheus:\n{b}"));
        }
    }
    let range = [
        "rate(demo_requests_total[1m])",
        "sum(demo_temperature_celsius)",
        "resets(demo_requests_total[10m])",
    ];
    for q in range {
        let args = [
            "query",
            "range",
            "--start",
            &t(T0 + 10 * 60_000),
            "--end",
            &t(T0 + 50 * 60_000),
            "--step",
            "60s",
        ];
        let mut sa = args.to_vec();
        sa.insert(2, &strata);
        sa.push(q);
        let mut pa = args.to_vec();
        pa.insert(2, &prom);
        pa.push(q);
        let a = promtool(&sa);
        let b = promtool(&pa);
        assert!(!a.trim().is_empty(), "{q}: strata answered nothing");
        if !same(&a, &b) {
            differ.push(format!("{q}\nstrata:\n{a}\nprometheus:\n{b}"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    let (from, to) = (format!("--start={}", t(T0)), format!("--end={}", t(mid)));
    let a = promtool(&[
        "query",
        "series",
        &strata,
        "--match=demo_requests_total",
        &from,
        &to,
    ]);
    let b = promtool(&[
        "query",
        "series",
        &prom,
        "--match=demo_requests_total",
        &from,
        &to,
    ]);
    assert_eq!(a, b, "strata:\n{a}\nprometheus:\n{b}");
    assert!(a.contains("code=\"500\""), "{a}");
    let a = promtool(&["query", "labels", &strata, "instance", &from, &to]);
    let b = promtool(&["query", "labels", &prom, "instance", &from, &to]);
    assert!(a.contains('b'), "{a}");
    assert_eq!(a, b, "strata:\n{a}\nprometheus:\n{b}");

    // A Prometheus with no data of its own reads Strata's through remote_read.
    let rdir = tempfile::tempdir().unwrap();
    let rport = free_port();
    let cfg = format!(
        "global:\n  scrape_interval: 1h\nremote_read:\n  - url: {strata}/api/v1/read\n    read_recent: true\n"
    );
    let _reader = start_prometheus(rdir.path(), &cfg, rport);
    let q = "sum by (code) (increase(demo_requests_total[10m]))";
    let url = |base: &str| {
        format!(
            "{base}/api/v1/query?query={}&time={}",
            q.replace(' ', "%20")
                .replace('(', "%28")
                .replace(')', "%29")
                .replace('[', "%5B")
                .replace(']', "%5D"),
            t(mid)
        )
    };
    let body = |u: String| {
        let mut s = String::new();
        ureq::get(&u)
            .call()
            .expect("query")
            .into_reader()
            .read_to_string(&mut s)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        let mut res: Vec<String> = v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.to_string())
            .collect();
        res.sort();
        res
    };
    let via_remote = body(url(&format!("http://127.0.0.1:{rport}")));
    assert_eq!(via_remote.len(), 2, "{via_remote:?}");
    assert_eq!(via_remote, body(url(&strata)));
    assert_eq!(via_remote, body(url(&prom)));
    server.stop().unwrap();
}

/// Waits (up to a minute) until Strata, over TLS as alice, answers `up` for `job` with
/// `want`; the samples arrive by Prometheus' remote write.
fn wait_for_up(base: &str, ca: &str, job: &str, want: &str) {
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while Instant::now() < deadline {
        last = rt.block_on(async {
            let r = client
                .get(format!("{base}/api/v1/query"))
                .query(&[("query", format!("up{{job=\"{job}\"}}"))])
                .basic_auth("alice", Some("wonderland"))
                .send()
                .await;
            match r {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(e) => e.to_string(),
            }
        });
        let v: serde_json::Value = serde_json::from_str(&last).unwrap_or_default();
        if v["data"]["result"][0]["value"][1].as_str() == Some(want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("Strata never answered up{{job={job:?}}} = {want}: last answer {last}");
}

#[test]
fn prometheus_scrapes_and_remote_writes_over_tls_with_basic_auth() {
    if !peers_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = pki::pki();
    std::fs::write(dir.path().join("server.crt"), &pki.server_cert).unwrap();
    std::fs::write(dir.path().join("server.key"), &pki.server_key).unwrap();
    std::fs::write(dir.path().join("ca.crt"), &pki.ca).unwrap();
    let hash = bcrypt::hash("wonderland", 4).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\nbasic_auth_users:\n  alice: '{hash}'\n"
        ),
    )
    .unwrap();
    // Prometheus' own checker accepts the file Strata serves with.
    let check = Command::new("promtool")
        .arg("check")
        .arg("web-config")
        .arg(&web)
        .output()
        .expect("promtool");
    assert!(
        check.status.success(),
        "promtool check web-config: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        web_config_file: Some(web),
        auth_open_endpoints: true,
        ..Config::default()
    };
    let strata = RunningServer::start(dir.path().join("strata"), Options::default(), config)
        .expect("strata starts");
    let target = format!("127.0.0.1:{}", strata.addr().port());
    let prom_dir = dir.path();
    let job = |name: &str, password: &str| {
        format!(
            "  - job_name: {name}
    scheme: https
    tls_config:
      ca_file: ca.crt
    basic_auth:
      username: alice
      password: {password}
    static_configs:
      - targets: ['{target}']
"
        )
    };
    let prometheus_yml = format!(
        "global:
  scrape_interval: 1s
scrape_configs:
{}{}remote_write:
  - url: https://{target}/api/v1/write
    tls_config:
      ca_file: ca.crt
    basic_auth:
      username: alice
      password: wonderland
    queue_config:
      batch_send_deadline: 1s
",
        job("strata", "wonderland"),
        job("strata_wrong_password", "nope")
    );
    let _prometheus = start_prometheus(prom_dir, &prometheus_yml, free_port());
    let base = format!("https://{target}");
    wait_for_up(&base, &pki.ca, "strata", "1");
    wait_for_up(&base, &pki.ca, "strata_wrong_password", "0");
    strata.stop().unwrap();
}

/// Status and body of `method url`, whatever the status.
fn call(method: &str, url: &str) -> (u16, String) {
    match ureq::request(method, url).call() {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("{method} {url}: {e}"),
    }
}

/// A snapshot's name (`20060102T150405Z-<16 hex>`) replaced by its shape.
fn shape_of_name(body: &str) -> String {
    let v: serde_json::Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => return body.to_owned(),
    };
    match v["data"]["name"].as_str() {
        Some(name) => {
            let ok = name.len() == 33
                && name.as_bytes()[8] == b'T'
                && &name[15..17] == "Z-"
                && name[17..].bytes().all(|b| b.is_ascii_hexdigit());
            body.replace(name, if ok { "<name>" } else { "<bad name>" })
        }
        None => body.to_owned(),
    }
}

#[test]
fn the_admin_api_answers_as_prometheus_on_and_off() {
    if !peers_present() {
        return;
    }
    let requests: &[(&str, &str)] = &[
        ("POST", "/api/v1/admin/tsdb/snapshot"),
        ("PUT", "/api/v1/admin/tsdb/snapshot?skip_head=true"),
        ("POST", "/api/v1/admin/tsdb/snapshot?skip_head=1"),
        ("POST", "/api/v1/admin/tsdb/snapshot?skip_head=maybe"),
        ("POST", "/api/v1/admin/tsdb/delete_series"),
        ("POST", "/api/v1/admin/tsdb/delete_series?match[]=up"),
        (
            "PUT",
            "/api/v1/admin/tsdb/delete_series?match[]=up&start=0&end=100",
        ),
        (
            "POST",
            "/api/v1/admin/tsdb/delete_series?match[]=up&start=x",
        ),
        ("POST", "/api/v1/admin/tsdb/clean_tombstones"),
    ];
    for admin in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let extra: &[&str] = if admin {
            &["--web.enable-admin-api"]
        } else {
            &[]
        };
        let _prom =
            start_prometheus_with(dir.path(), "global:\n  scrape_interval: 1h\n", port, extra);
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            enable_admin_api: admin,
            ..Config::default()
        };
        let strata =
            RunningServer::start(dir.path().join("strata"), Options::default(), config).unwrap();
        let strata_base = format!("http://{}", strata.addr());
        for _ in 0..2000 {
            if call("GET", &format!("{strata_base}/ready")).0 == 200 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        for (method, path) in requests {
            let want = call(method, &format!("http://127.0.0.1:{port}{path}"));
            let got = call(method, &format!("{strata_base}{path}"));
            assert_eq!(
                (got.0, shape_of_name(&got.1)),
                (want.0, shape_of_name(&want.1)),
                "{method} {path} (admin API {})",
                if admin { "on" } else { "off" }
            );
        }
        if admin {
            let snaps = std::fs::read_dir(dir.path().join("strata/snapshots")).unwrap();
            assert_eq!(snaps.count(), 3, "three snapshots taken");
        }
        strata.stop().unwrap();
    }
}
