//! Integration tests of the HTTP server: real HTTP on 127.0.0.1 (an ephemeral port), the
//! real `Db` in a temporary directory, a blocking client (ureq).

mod aggregate;
mod connections;
mod deletes;
mod hostile;
mod limits;
mod prom;
mod promql;
mod python;
mod query;
mod snapshot;
mod status;
mod subscribe;
mod tls;
mod write;

use std::io::Read;
use std::path::Path;
use std::time::Duration;
use strata_engine::Options;
use strata_server::{Config, RunningServer};

/// A server on a free loopback port over a temporary directory.
pub struct Srv {
    server: Option<RunningServer>,
    pub base: String,
    pub dir: tempfile::TempDir,
}

/// Settings for tests: a free port, a fast overload check.
pub fn test_config() -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        overload_check_every: Duration::from_millis(20),
        ..Config::default()
    }
}

impl Srv {
    pub fn start() -> Srv {
        Srv::with(test_config(), Options::default())
    }

    pub fn with(config: Config, options: Options) -> Srv {
        let dir = tempfile::tempdir().unwrap();
        Srv::in_dir(dir, config, options)
    }

    pub fn in_dir(dir: tempfile::TempDir, config: Config, options: Options) -> Srv {
        let server = RunningServer::start(dir.path().to_path_buf(), options, config).unwrap();
        let base = format!("http://{}", server.addr());
        let s = Srv {
            server: Some(server),
            base,
            dir,
        };
        s.wait_ready();
        s
    }

    fn wait_ready(&self) {
        for _ in 0..2000 {
            if get(&self.url("/ready")).status == 200 {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the server never became ready");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Stops gracefully (closing the database) and hands back the directory.
    pub fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.server.take() {
            s.stop().unwrap();
        }
        let Srv { dir, .. } = self;
        dir
    }

    /// POSTs line protocol to /write and expects 204.
    pub fn write_ok(&self, lp: &str) {
        let r = post(&self.url("/write?db=test"), &[], lp.as_bytes());
        assert_eq!(r.status, 204, "{}", r.body);
    }

    /// Runs a query and returns the JSON.
    pub fn query(&self, q: &str) -> serde_json::Value {
        let r = get(&self.url(&format!("/query?db=test&q={}", enc(q))));
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        r.json()
    }
}

/// An answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The `error` of a JSON error body.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error in {}", self.body))
            .to_owned()
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
}

pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
    let mut r = agent().request(method, url);
    for (k, v) in headers {
        r = r.set(k, v);
    }
    let result = match body {
        Some(b) => r.send_bytes(b),
        None => r.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = resp.header(&n).unwrap_or_default().to_owned();
            (n, v)
        })
        .collect();
    let mut bytes = Vec::new();
    resp.into_reader().read_to_end(&mut bytes).unwrap();
    Resp {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        headers,
    }
}

pub fn get(url: &str) -> Resp {
    request("GET", url, &[], None)
}

pub fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    request("POST", url, headers, Some(body))
}

/// Percent-encodes a URL parameter value.
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

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The rows of the first series of statement `i`.
pub fn rows(v: &serde_json::Value, i: usize) -> Vec<serde_json::Value> {
    v["results"][i]["series"][0]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}
