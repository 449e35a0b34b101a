//! A cluster whose members serve TLS with verified client certificates and users: the
//! fan-out reaches `https://` members with `--cluster.tls-ca-file` and a client
//! certificate (the token passes the users' check); a node without the client
//! certificate gets every member left out and named with the reason. Real etcd 3.4 on loopback.
//!
//! Needs `etcd` (`../shared/peers/install.sh --all`). Without it the test says so and
//! passes, unless `STRATA_REQUIRE_PEERS=1`, where its absence fails it.

mod pki;

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use strata_cluster::{ClusterConfig, ClusterTls, MembershipConfig};
use strata_engine::Options;
use strata_server::{Config, RunningServer};

const TOKEN: &str = "cluster-t0ken";

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn etcd(dir: &Path) -> Option<(Proc, String)> {
    let present = Command::new("etcd")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        assert!(
            std::env::var("STRATA_REQUIRE_PEERS").as_deref() != Ok("1"),
            "etcd not found and STRATA_REQUIRE_PEERS=1"
        );
        eprintln!("skipped: etcd is not installed (../shared/peers/install.sh --all)");
        return None;
    }
    let (c, p) = (free_port(), free_port());
    let (curl, purl) = (
        format!("http://127.0.0.1:{c}"),
        format!("http://127.0.0.1:{p}"),
    );
    let child = Command::new("etcd")
        .args(["--name", "tls-test", "--data-dir", dir.to_str().unwrap()])
        .args([
            "--listen-client-urls",
            &curl,
            "--advertise-client-urls",
            &curl,
        ])
        .args([
            "--listen-peer-urls",
            &purl,
            "--initial-advertise-peer-urls",
            &purl,
        ])
        .args(["--initial-cluster", &format!("tls-test={purl}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcd starts");
    let proc = Proc(child);
    wait("etcd", || {
        ureq::get(&format!("{curl}/health"))
            .call()
            .ok()
            .filter(|r| r.status() == 200)
    });
    Some((proc, curl))
}

fn wait<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A member on `port`, serving TLS that requires a client certificate, with a user and
/// the token; it reaches the others with `tls`.
fn member(dir: &Path, etcd: &str, name: &str, port: u16, tls: ClusterTls) -> RunningServer {
    let hash = bcrypt::hash("secret", 4).unwrap();
    let web = dir.join(format!("{name}-web.yml"));
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\nbasic_auth_users:\n  alice: '{hash}'\n"
        ),
    )
    .unwrap();
    let config = Config {
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        web_config_file: Some(web),
        auth_token: Some(TOKEN.into()),
        cluster: Some(ClusterConfig {
            membership: MembershipConfig {
                etcd: vec![etcd.to_owned()],
                prefix: "/strata-tls-test/members/".into(),
                node: name.into(),
                advertise: format!("https://localhost:{port}"),
                lease_ttl: Duration::from_secs(10),
            },
            deadline: Duration::from_secs(3),
            node_label: "node".into(),
            auth_token: Some(TOKEN.into()),
            tls,
        }),
        ..Config::default()
    };
    RunningServer::start(dir.join(name), Options::default(), config).unwrap()
}

#[test]
fn members_serving_tls_with_client_certificates_answer_cluster_queries() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((_etcd, etcd_url)) = etcd(&tmp.path().join("etcd")) else {
        return;
    };
    let pki = pki::pki();
    let d = tmp.path();
    std::fs::write(d.join("server.crt"), &pki.server_cert).unwrap();
    std::fs::write(d.join("server.key"), &pki.server_key).unwrap();
    std::fs::write(d.join("ca.crt"), &pki.ca).unwrap();
    let at = pki.client.find("-----BEGIN PRIVATE KEY").unwrap();
    std::fs::write(d.join("client.crt"), &pki.client[..at]).unwrap();
    std::fs::write(d.join("client.key"), &pki.client[at..]).unwrap();
    let full = ClusterTls {
        ca_file: Some(d.join("ca.crt")),
        cert_file: Some(d.join("client.crt")),
        key_file: Some(d.join("client.key")),
    };
    let (pa, pb, pc) = (free_port(), free_port(), free_port());
    let a = member(d, &etcd_url, "a", pa, full.clone());
    let b = member(d, &etcd_url, "b", pb, full);
    // c trusts the CA but has no client certificate: the others refuse its handshakes.
    let no_cert = ClusterTls {
        ca_file: Some(d.join("ca.crt")),
        ..ClusterTls::default()
    };
    let c = member(d, &etcd_url, "c", pc, no_cert);

    let client = client(&pki);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let call = |port: u16, method: &str, path: &str, body: &str| -> (u16, String) {
        let url = format!("https://localhost:{port}{path}");
        rt.block_on(async {
            let req = match method {
                "POST" => client.post(url).body(body.to_owned()),
                _ => client.get(url),
            };
            match req.bearer_auth(TOKEN).send().await {
                Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
                Err(e) => (0, e.to_string()),
            }
        })
    };
    for (port, host, n) in [(pa, "ha", 3), (pb, "hb", 5)] {
        wait("the member to open", || {
            (call(port, "GET", "/ready", "").0 == 200).then_some(())
        });
        let lines: String = (0..n)
            .map(|i| format!("cpu,host={host} value={i} {}\n", 1_700_000_000 + i))
            .collect();
        let (code, body) = call(port, "POST", "/write?precision=s", &lines);
        assert_eq!(code, 204, "{body}");
    }
    // Every member's own view, not only a's: each learns the others from its etcd watch,
    // and c's fan-out below must include c itself.
    for port in [pa, pb, pc] {
        wait("three members", || {
            let (_, body) = call(port, "GET", "/api/v1/cluster/members", "");
            let v: Value = serde_json::from_str(&body).ok()?;
            (v["members"].as_array()?.len() == 3).then_some(())
        });
    }
    let q = "/query?cluster=true&q=SELECT%20count(value)%20FROM%20cpu";
    // From a: a and b answer over TLS with its client certificate; c has no data.
    let (code, body) = call(pa, "GET", q, "");
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["partial"], Value::Bool(false), "{body}");
    assert_eq!(v["results"][0]["series"][0]["values"][0][1], 8, "{body}");
    // From c: every member (c too: the fan-out asks itself over HTTPS as well) refuses
    // its handshake without a client certificate; each is named with the reason.
    let (code, body) = call(pc, "GET", q, "");
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["partial"], Value::Bool(true), "{body}");
    let mut failed: Vec<&str> = v["failed_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["node"].as_str())
        .collect();
    failed.sort_unstable();
    assert_eq!(failed, ["a", "b", "c"], "{body}");
    assert!(body.contains("CertificateRequired"), "{body}");
    for s in [a, b, c] {
        s.stop().unwrap();
    }
}

/// A client that trusts the test CA and shows the client certificate.
fn client(pki: &pki::Pki) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca.as_bytes()).unwrap())
        .identity(reqwest::Identity::from_pem(pki.client.as_bytes()).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}
