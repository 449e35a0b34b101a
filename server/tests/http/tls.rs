//! TLS and users (`--web.config.file`) over real loopback sockets: a CA, a server and a
//! client certificate made here (rcgen), a rustls client (reqwest) that trusts that CA,
//! users with bcrypt hashes.

use base64::Engine as _;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;
use strata_engine::Options;
use strata_server::{Config, RunningServer};

#[path = "../pki/mod.rs"]
mod pki;

use pki::{Pki, pki};

const PASSWORD: &str = "wonderland";

/// Writes the PKI's files and `web.yml` (with `extra` appended to its TLS section) into
/// `dir`; the file names in it are relative, as Prometheus allows.
fn web_config(dir: &Path, pki: &Pki, tls_extra: &str, users: bool) -> std::path::PathBuf {
    std::fs::write(dir.join("server.crt"), &pki.server_cert).unwrap();
    std::fs::write(dir.join("server.key"), &pki.server_key).unwrap();
    std::fs::write(dir.join("ca.crt"), &pki.ca).unwrap();
    let mut yml =
        format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{tls_extra}");
    if users {
        // Cost 4 keeps the test fast; the server reads the cost from the hash.
        let hash = bcrypt::hash(PASSWORD, 4).unwrap();
        yml.push_str(&format!("basic_auth_users:\n  alice: '{hash}'\n"));
    }
    let path = dir.join("web.yml");
    std::fs::write(&path, yml).unwrap();
    path
}

fn start(dir: &Path, web: &Path, token: Option<&str>, open_need_auth: bool) -> RunningServer {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        web_config_file: Some(web.to_owned()),
        auth_token: token.map(str::to_owned),
        auth_open_endpoints: open_need_auth,
        ..Config::default()
    };
    RunningServer::start(dir.join("data"), Options::default(), config).unwrap()
}

fn client(pki: &Pki, identity: bool) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca.as_bytes()).unwrap())
        .timeout(Duration::from_secs(30));
    if identity {
        b = b.identity(reqwest::Identity::from_pem(pki.client.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Waits until `/ready` answers 200 over TLS (the database opens in the background).
async fn wait_ready(c: &reqwest::Client, base: &str, auth: Option<(&str, &str)>) {
    for _ in 0..2000 {
        let mut r = c.get(format!("{base}/ready"));
        if let Some((u, p)) = auth {
            r = r.basic_auth(u, Some(p));
        }
        if r.send().await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the server never became ready");
}

/// Status, `WWW-Authenticate` and the JSON body's `error` of a response.
async fn answer(r: reqwest::Response) -> (u16, Option<String>, serde_json::Value) {
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = r.text().await.unwrap();
    let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    (status, challenge, json)
}

#[test]
fn https_with_users_and_token() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let web = web_config(dir.path(), &pki, "", true);
    let server = start(dir.path(), &web, Some("tok3n"), false);
    let base = format!("https://localhost:{}", server.addr().port());
    let c = client(&pki, false);
    runtime().block_on(async {
        wait_ready(&c, &base, None).await;
        // Open endpoints answer without credentials.
        let r = c.get(format!("{base}/ping")).send().await.unwrap();
        assert_eq!(r.status(), 204);
        let r = c.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);

        // Everything else needs a user or the token.
        for path in ["/api/v1/status", "/query?q=SHOW%20MEASUREMENTS", "/ui/"] {
            let r = c.get(format!("{base}{path}")).send().await.unwrap();
            let (status, challenge, json) = answer(r).await;
            assert_eq!(status, 401, "{path}");
            assert_eq!(
                challenge.as_deref(),
                Some("Basic realm=\"strata\""),
                "{path}"
            );
            assert!(
                json["error"]
                    .as_str()
                    .unwrap()
                    .contains("authorization required"),
                "{json}"
            );
        }
        for (user, password) in [("alice", "wonderland!"), ("alice", ""), ("bob", PASSWORD)] {
            let r = c
                .get(format!("{base}/api/v1/status"))
                .basic_auth(user, Some(password))
                .send()
                .await
                .unwrap();
            let (status, challenge, json) = answer(r).await;
            assert_eq!(status, 401, "{user}:{password}");
            assert!(challenge.is_some());
            assert!(
                json["error"]
                    .as_str()
                    .unwrap()
                    .contains("unknown user or wrong password"),
                "{json}"
            );
        }
        // A user, and the token in its own forms; a wrong token is still 401.
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"))
        );
        for (query, authorization, want) in [
            ("", Some(basic.as_str()), 200),
            ("", Some("Token tok3n"), 200),
            ("?p=tok3n", None, 200),
            ("", Some("Token wrong"), 401),
        ] {
            let mut r = c.get(format!("{base}/api/v1/status{query}"));
            if let Some(a) = authorization {
                r = r.header("Authorization", a);
            }
            let status = r.send().await.unwrap().status().as_u16();
            assert_eq!(status, want, "{query} {authorization:?}");
        }

        // A large write with a wrong password: the body is discarded, the client reads
        // the 401 (not a reset connection), and the connection can carry the next request.
        let big = "cpu,host=a v=1 1000000000\n".repeat(200_000);
        for _ in 0..2 {
            let r = c
                .post(format!("{base}/write?db=x"))
                .basic_auth("alice", Some("wrong"))
                .body(big.clone())
                .send()
                .await
                .expect("the 401 reaches the client");
            assert_eq!(answer(r).await.0, 401);
        }

        // A write as alice, read back with InfluxDB's u= and p=.
        let r = c
            .post(format!("{base}/write?db=x"))
            .basic_auth("alice", Some(PASSWORD))
            .body("cpu,host=a v=1.5 1000000000\n")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let r = c
            .get(format!(
                "{base}/query?u=alice&p={PASSWORD}&q=SELECT%20v%20FROM%20cpu&epoch=s"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(
            body["results"][0]["series"][0]["values"][0],
            serde_json::json!([1, 1.5]),
            "{body}"
        );
        // A repeated p= is refused, whatever the values.
        let r = c
            .get(format!(
                "{base}/query?u=alice&p={PASSWORD}&p={PASSWORD}&q=SHOW%20MEASUREMENTS"
            ))
            .send()
            .await
            .unwrap();
        let (status, _, json) = answer(r).await;
        assert_eq!(status, 400);
        assert!(
            json["error"]
                .as_str()
                .unwrap()
                .contains("\"p\" given 2 times"),
            "{json}"
        );

        // A client that does not trust the CA gets no answer.
        let stranger = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .build()
            .unwrap();
        assert!(stranger.get(format!("{base}/ping")).send().await.is_err());
    });

    // Plain HTTP to the TLS port: 400 in plain HTTP, with a JSON body, then closed.
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    assert!(out.contains("HTTP request to an HTTPS server"), "{out}");
    let r = ureq::get(&format!("http://{}/ping", server.addr())).call();
    assert!(
        matches!(r, Err(ureq::Error::Status(400, _))),
        "plain HTTP got {r:?}"
    );
    server.stop().unwrap();
}

#[test]
fn open_endpoints_can_require_auth() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let web = web_config(dir.path(), &pki, "", true);
    let server = start(dir.path(), &web, None, true);
    let base = format!("https://127.0.0.1:{}", server.addr().port());
    let c = client(&pki, false);
    runtime().block_on(async {
        wait_ready(&c, &base, Some(("alice", PASSWORD))).await;
        for path in [
            "/ping",
            "/health",
            "/ready",
            "/metrics",
            "/-/healthy",
            "/-/ready",
        ] {
            let r = c.get(format!("{base}{path}")).send().await.unwrap();
            let (status, challenge, json) = answer(r).await;
            assert_eq!(status, 401, "{path}");
            assert!(challenge.is_some(), "{path}");
            assert!(json["error"].is_string(), "{path}: {json}");
            let r = c
                .get(format!("{base}{path}"))
                .basic_auth("alice", Some(PASSWORD))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
        }
    });
    server.stop().unwrap();
}

#[test]
fn token_alone_can_guard_open_endpoints_over_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    // No TLS and no users: plain HTTP, as Prometheus with an empty web configuration.
    std::fs::write(&web, "").unwrap();
    let server = start(dir.path(), &web, Some("tok3n"), true);
    let base = format!("http://{}", server.addr());
    let r = ureq::get(&format!("{base}/metrics")).call();
    assert!(matches!(r, Err(ureq::Error::Status(401, _))), "{r:?}");
    let r = ureq::get(&format!("{base}/metrics"))
        .set("Authorization", "Bearer tok3n")
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    // p= twice is 400 for the token too, even when both values are right.
    let r = ureq::get(&format!("{base}/api/v1/status?p=tok3n&p=tok3n")).call();
    match r {
        Err(ureq::Error::Status(400, r)) => {
            let body = r.into_string().unwrap();
            assert!(body.contains("\\\"p\\\" given 2 times"), "{body}");
        }
        other => panic!("expected 400, got {other:?}"),
    }
    server.stop().unwrap();
}

#[test]
fn client_certificates_are_verified_when_required() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let web = web_config(
        dir.path(),
        &pki,
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS13\n",
        false,
    );
    let server = start(dir.path(), &web, None, false);
    let base = format!("https://localhost:{}", server.addr().port());
    runtime().block_on(async {
        let with = client(&pki, true);
        wait_ready(&with, &base, None).await;
        let r = with
            .get(format!("{base}/api/v1/status"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let without = client(&pki, false);
        assert!(without.get(format!("{base}/ping")).send().await.is_err());
        // TLS 1.2 only is below min_version: no handshake.
        let old = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(pki.ca.as_bytes()).unwrap())
            .identity(reqwest::Identity::from_pem(pki.client.as_bytes()).unwrap())
            .max_tls_version(reqwest::tls::Version::TLS_1_2)
            .build()
            .unwrap();
        assert!(old.get(format!("{base}/ping")).send().await.is_err());
    });
    server.stop().unwrap();
}

#[test]
fn a_bad_web_configuration_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let web = web_config(dir.path(), &pki, "  cert_fiel: x.crt\n", false);
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        web_config_file: Some(web.clone()),
        ..Config::default()
    };
    let e = RunningServer::start(dir.path().join("data"), Options::default(), config)
        .err()
        .expect("an unknown key must stop the start")
        .to_string();
    assert!(e.contains("cert_fiel"), "{e}");
    assert!(e.contains(&web.display().to_string()), "{e}");
    // A key file that is not a key.
    std::fs::write(dir.path().join("server.key"), &pki.server_cert).unwrap();
    let e = strata_server::web_config::load(&web_config_only(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("key_file"), "{e}");
}

/// A web configuration naming the files already in `dir`.
fn web_config_only(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("web2.yml");
    std::fs::write(
        &path,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    )
    .unwrap();
    path
}

/// Rewrites `path` and dates it later, so the change is seen whatever the clock's grain.
fn rewrite(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    let later = std::time::SystemTime::now() + Duration::from_secs(10);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(later)
        .unwrap();
}

#[test]
fn a_changed_web_configuration_applies_to_the_next_request_and_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (pki(), pki());
    let web = web_config(dir.path(), &first, "", true);
    let server = start(dir.path(), &web, None, false);
    let base = format!("https://localhost:{}", server.addr().port());
    runtime().block_on(async {
        // A new client per check: a new connection, a new handshake.
        let status = |pki: &Pki, user: &'static str, password: &'static str| {
            let c = client(pki, false);
            let url = format!("{base}/api/v1/status");
            async move {
                c.get(url)
                    .basic_auth(user, Some(password))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            }
        };
        wait_ready(&client(&first, false), &base, Some(("alice", PASSWORD))).await;
        assert_eq!(status(&first, "alice", PASSWORD).await.unwrap(), 200);
        assert!(status(&second, "alice", PASSWORD).await.is_err(), "not trusted yet");

        // A new certificate from another CA: new handshakes present it.
        rewrite(&dir.path().join("server.crt"), &second.server_cert);
        rewrite(&dir.path().join("server.key"), &second.server_key);
        assert_eq!(status(&second, "alice", PASSWORD).await.unwrap(), 200);
        assert!(status(&first, "alice", PASSWORD).await.is_err(), "the old one is gone");

        // Users: alice's new password, and bob.
        let yml = format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  alice: '{}'\n  bob: '{}'\n",
            bcrypt::hash("looking-glass", 4).unwrap(),
            bcrypt::hash("builder", 4).unwrap(),
        );
        rewrite(&web, &yml);
        assert_eq!(status(&second, "alice", PASSWORD).await.unwrap(), 401);
        assert_eq!(status(&second, "alice", "looking-glass").await.unwrap(), 200);
        assert_eq!(status(&second, "bob", "builder").await.unwrap(), 200);

        // A version that does not load is not used: 500 naming the file (on connections
        // already open) and failed handshakes (new ones), until it loads again.
        let kept = client(&second, false);
        let r = kept
            .get(format!("{base}/ping"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        rewrite(&web, "basic_auth_users: [broken\n");
        let r = kept
            .get(format!("{base}/api/v1/status"))
            .send()
            .await
            .unwrap();
        let (code, _, json) = answer(r).await;
        assert_eq!(code, 500);
        let msg = json["error"].as_str().unwrap_or_default().to_owned();
        assert!(msg.contains("web.yml"), "{json}");
        assert!(status(&second, "bob", "builder").await.is_err());
        rewrite(&web, &yml);
        assert_eq!(status(&second, "bob", "builder").await.unwrap(), 200);
    });
    server.stop().unwrap();
}
