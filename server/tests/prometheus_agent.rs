//! Strata in place of a Prometheus server, against real components on loopback ports of
//! their own: it scrapes a real node_exporter (1.5) and itself, a rule over the scraped
//! data fires and the alert appears in a real Alertmanager (0.25) with the right labels
//! and rendered annotations, then resolves when the condition clears (the target is
//! removed from the file_sd file); the rule file passes `promtool check rules`; a bad
//! configuration on `POST /-/reload` is refused with the key and line, the old one keeps
//! running.
//!
//! Needs `prometheus-node-exporter`, `prometheus-alertmanager` and `promtool`
//! (`../shared/peers/install.sh --all`). Without them the test says "skipped" and passes,
//! unless `STRATA_REQUIRE_PEERS=1`, where their absence fails it. Every wait polls with a
//! generous deadline; nothing asserts on time.

use serde_json::Value;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use strata_engine::Options;
use strata_server::prometheus::PrometheusSetup;
use strata_server::{Config, RunningServer};

const NODE_EXPORTER: &str = "prometheus-node-exporter";
const ALERTMANAGER: &str = "prometheus-alertmanager";

fn have(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn peers_present() -> bool {
    let ok = have(NODE_EXPORTER) && have(ALERTMANAGER) && have("promtool");
    if !ok {
        assert!(
            std::env::var("STRATA_REQUIRE_PEERS").as_deref() != Ok("1"),
            "{NODE_EXPORTER}/{ALERTMANAGER}/promtool not found and STRATA_REQUIRE_PEERS=1"
        );
        eprintln!(
            "skipped: node_exporter, alertmanager or promtool is not installed (../shared/peers/install.sh --all)"
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

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(url: &str) -> Option<(u16, String)> {
    match ureq::get(url).timeout(Duration::from_secs(5)).call() {
        Ok(r) => Some((r.status(), r.into_string().ok()?)),
        Err(ureq::Error::Status(code, r)) => Some((code, r.into_string().unwrap_or_default())),
        Err(_) => None,
    }
}

fn json(url: &str) -> Option<Value> {
    get(url).and_then(|(_, b)| serde_json::from_str(&b).ok())
}

/// Polls `f` until it gives `Some`, for at most `secs` seconds.
fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(x) = f() {
            return x;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
}

const RULES: &str = r#"groups:
  - name: node
    interval: 1s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: NodeExporterUp
        expr: node_exporter_build_info{job="node"} == 1
        for: 2s
        labels:
          severity: test
        annotations:
          summary: '{{ $labels.instance }} runs node_exporter {{ $labels.version }}'
          value: 'value {{ $value | humanize }} in {{ $externalLabels.dc }}'
"#;

#[test]
fn scrape_rules_alertmanager_end_to_end() {
    if !peers_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node_port = free_port();
    let am_port = free_port();
    let strata_port = free_port();
    let _node = Kill(
        Command::new(NODE_EXPORTER)
            .arg(format!("--web.listen-address=127.0.0.1:{node_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node_exporter starts"),
    );
    let am_cfg = dir.path().join("am.yml");
    write(
        &am_cfg,
        "route: {receiver: 'null', group_wait: 0s, group_interval: 1s}\nreceivers: [{name: 'null'}]\n",
    );
    let _am = Kill(
        Command::new(ALERTMANAGER)
            .arg(format!("--config.file={}", am_cfg.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("am-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("alertmanager starts"),
    );
    let rules = dir.path().join("rules.yml");
    write(&rules, RULES);
    let check = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "promtool rejects the test's rules: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    let targets = dir.path().join("node.json");
    write(
        &targets,
        &format!(r#"[{{"targets": ["127.0.0.1:{node_port}"], "labels": {{"env": "test"}}}}]"#),
    );
    let prom_yml = dir.path().join("prometheus.yml");
    let config_text = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  external_labels: {{dc: lab}}\n\
         rule_files: ['rules.yml']\n\
         alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\n\
         scrape_configs:\n  - job_name: node\n    file_sd_configs: [{{files: ['node.json']}}]\n\
         \x20 - job_name: strata\n    static_configs: [{{targets: ['127.0.0.1:{strata_port}']}}]\n"
    );
    write(&prom_yml, &config_text);

    let config = Config {
        listen: format!("127.0.0.1:{strata_port}").parse().unwrap(),
        prometheus: Some(PrometheusSetup {
            config_file: prom_yml.clone(),
            enable_lifecycle: true,
            external_url: Some(format!("http://strata.test:{strata_port}")),
        }),
        ..Config::default()
    };
    let opts = Options {
        fsync: strata_engine::FsyncPolicy::Never,
        ..Options::default()
    };
    let server =
        RunningServer::start(dir.path().join("data"), opts, config).expect("strata starts");
    let base = format!("http://{}", server.addr());
    wait_for("/-/ready", 30, || {
        get(&format!("{base}/-/ready")).filter(|r| r.0 == 200)
    });
    assert_eq!(
        get(&format!("{base}/-/healthy")).unwrap(),
        (200, "Prometheus Server is Healthy.\n".into())
    );

    // Both targets up, as /api/v1/targets tells it.
    let t = wait_for("both targets up", 60, || {
        let v = json(&format!("{base}/api/v1/targets"))?;
        let active = v["data"]["activeTargets"].as_array()?.clone();
        (active.len() == 2 && active.iter().all(|t| t["health"] == "up")).then_some(active)
    });
    let node = t.iter().find(|t| t["scrapePool"] == "node").unwrap();
    assert_eq!(
        node["scrapeUrl"],
        format!("http://127.0.0.1:{node_port}/metrics")
    );
    assert_eq!(node["labels"]["env"], "test");
    assert_eq!(node["labels"]["instance"], format!("127.0.0.1:{node_port}"));
    assert_eq!(node["scrapeInterval"], "1s");
    assert_eq!(node["lastError"], "");
    assert!(
        node["discoveredLabels"]["__meta_filepath"]
            .as_str()
            .unwrap()
            .ends_with("node.json")
    );

    // The scraped data and the report series are queryable.
    let q = |expr: &str| -> Vec<Value> {
        let url = format!("{base}/api/v1/query?query={}", urlencode(expr));
        json(&url)
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default()
    };
    wait_for("up series", 30, || (q("up == 1").len() == 2).then_some(()));
    wait_for("scraped samples", 30, || {
        let v = q("scrape_samples_scraped{job=\"node\"}");
        (v.len() == 1 && v[0]["value"][1].as_str()?.parse::<f64>().ok()? > 100.0).then_some(())
    });
    assert!(!q("node_cpu_seconds_total{job=\"node\",env=\"test\"}").is_empty());
    assert!(!q("scrape_duration_seconds{job=\"strata\"}").is_empty());
    assert!(!q("scrape_series_added{job=\"strata\"}").is_empty());
    assert!(!q("scrape_samples_post_metric_relabeling{job=\"node\"}").is_empty());
    wait_for("the recording rule", 30, || {
        (q("job:up:sum{job=\"node\"} == 1").len() == 1).then_some(())
    });

    // The alert fires and reaches Alertmanager with labels and rendered annotations.
    let am = format!("http://127.0.0.1:{am_port}/api/v2/alerts");
    let alert = wait_for("the alert in Alertmanager", 60, || {
        let v = json(&am)?;
        v.as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == "NodeExporterUp")
            .cloned()
    });
    let l = &alert["labels"];
    assert_eq!(l["instance"], format!("127.0.0.1:{node_port}"));
    assert_eq!(l["job"], "node");
    assert_eq!(l["severity"], "test");
    assert_eq!(l["dc"], "lab", "external labels are added");
    assert_eq!(l["env"], "test");
    let version = l["version"].as_str().unwrap().to_owned();
    assert!(version.starts_with("1.5"), "{version}");
    assert_eq!(
        alert["annotations"]["summary"],
        format!("127.0.0.1:{node_port} runs node_exporter {version}")
    );
    assert_eq!(alert["annotations"]["value"], "value 1 in lab");
    let gen_url = alert["generatorURL"].as_str().unwrap();
    assert!(
        gen_url.starts_with(&format!(
            "http://strata.test:{strata_port}/graph?g0.expr=node_exporter_build_info"
        )),
        "{gen_url}"
    );
    assert_eq!(alert["status"]["state"], "active");

    // Strata's own view: firing, in /api/v1/alerts and /api/v1/rules.
    let alerts = json(&format!("{base}/api/v1/alerts")).unwrap();
    let a = &alerts["data"]["alerts"][0];
    assert_eq!(a["state"], "firing");
    assert_eq!(a["value"], "1e+00");
    let rules = json(&format!("{base}/api/v1/rules")).unwrap();
    let g = &rules["data"]["groups"][0];
    assert_eq!(g["name"], "node");
    assert_eq!(g["interval"], 1.0);
    assert_eq!(g["rules"][0]["type"], "recording");
    assert_eq!(g["rules"][1]["state"], "firing");
    assert_eq!(g["rules"][1]["duration"], 2.0);
    assert_eq!(g["rules"][1]["health"], "ok");
    let alerting_only = json(&format!("{base}/api/v1/rules?type=alert")).unwrap();
    assert_eq!(
        alerting_only["data"]["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A bad configuration is refused on reload, naming the key and line; the old one runs on.
    write(
        &prom_yml,
        &config_text.replace("  scrape_interval: 1s\n", "  scrape_intervall: 1s\n"),
    );
    let resp = ureq::post(&format!("{base}/-/reload")).call();
    let (code, body) = match resp {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(c, r)) => (c, r.into_string().unwrap_or_default()),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(code, 500, "{body}");
    assert!(
        body.contains("unknown field `scrape_intervall`") && body.contains("line 2"),
        "{body}"
    );
    let metrics = get(&format!("{base}/metrics")).unwrap().1;
    assert!(
        metrics.contains("prometheus_config_last_reload_successful 0"),
        "{metrics}"
    );
    assert_eq!(
        json(&format!("{base}/api/v1/targets")).unwrap()["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    write(&prom_yml, &config_text);
    assert_eq!(
        ureq::post(&format!("{base}/-/reload"))
            .call()
            .map(|r| r.status())
            .ok(),
        Some(200)
    );

    // Clear the condition: the target leaves the file, its series go stale, the alert
    // resolves and Alertmanager no longer lists it as active.
    write(&targets, "[]");
    wait_for("the node target to go", 30, || {
        let v = json(&format!("{base}/api/v1/targets"))?;
        (v["data"]["activeTargets"].as_array()?.len() == 1).then_some(())
    });
    wait_for("the alert to resolve in Alertmanager", 90, || {
        let v = json(&am)?;
        let still = v.as_array()?.iter().any(|a| {
            a["labels"]["alertname"] == "NodeExporterUp" && a["status"]["state"] == "active"
        });
        (!still).then_some(())
    });
    wait_for("no alerts in Strata", 30, || {
        let v = json(&format!("{base}/api/v1/alerts"))?;
        v["data"]["alerts"].as_array()?.is_empty().then_some(())
    });
    assert!(
        q("up{job=\"node\"}").is_empty(),
        "the removed target's up is stale"
    );
    server.stop().unwrap();
}

#[test]
fn reload_needs_the_lifecycle_flag() {
    let dir = tempfile::tempdir().unwrap();
    let prom_yml = dir.path().join("prometheus.yml");
    write(&prom_yml, "global: {scrape_interval: 1m}\n");
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        prometheus: Some(PrometheusSetup {
            config_file: prom_yml,
            enable_lifecycle: false,
            external_url: None,
        }),
        ..Config::default()
    };
    let server = RunningServer::start(dir.path().join("data"), Options::default(), config).unwrap();
    let base = format!("http://{}", server.addr());
    wait_for("/-/ready", 30, || {
        get(&format!("{base}/-/ready")).filter(|r| r.0 == 200)
    });
    match ureq::post(&format!("{base}/-/reload")).call() {
        Err(ureq::Error::Status(403, r)) => {
            assert_eq!(r.into_string().unwrap(), "Lifecycle API is not enabled.")
        }
        other => panic!("expected 403, got {other:?}"),
    }
    let t = json(&format!("{base}/api/v1/targets")).unwrap();
    assert_eq!(
        t["data"],
        serde_json::json!({"activeTargets": [], "droppedTargets": []})
    );
    let r = json(&format!("{base}/api/v1/rules")).unwrap();
    assert_eq!(r["data"], serde_json::json!({"groups": []}));
    server.stop().unwrap();
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
