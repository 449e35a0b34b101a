//! Connections as raw TCP sees them: JSON bodies on every error answer (hyper's own
//! included), the header and idle timeouts, the connection limit, refused writes that the
//! client can read, and a shutdown bounded with requests in flight.
//!
//! Reads have a generous socket timeout (a watchdog): a server that never answers fails
//! the test instead of hanging it. No assertion is about how long something took.

use crate::{Srv, test_config};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;
use strata_engine::Options;
use strata_server::Config;

const WATCHDOG: Duration = Duration::from_secs(30);

pub fn connect(s: &Srv) -> TcpStream {
    let c = TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
    c.set_read_timeout(Some(WATCHDOG)).unwrap();
    c
}

/// A raw answer: status, headers (lowercased names) and body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `error` of its JSON body; panics if the body is not InfluxDB's error JSON.
    pub fn error(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}: {}",
            self.status,
            self.body
        );
        let v: serde_json::Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {:?}", self.status, self.body));
        v["error"].as_str().unwrap_or_default().to_owned()
    }
}

/// Reads one answer (head, then `content-length` bytes of body).
pub fn read_answer(c: &mut TcpStream) -> Answer {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = c.read(&mut buf).expect("an answer before the watchdog");
        assert!(
            n > 0,
            "closed without an answer: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = raw[head_end + 4..].to_vec();
    while body.len() < len {
        let n = c.read(&mut buf).expect("the body before the watchdog");
        assert!(n > 0, "closed in the middle of the body");
        body.extend_from_slice(&buf[..n]);
    }
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Sends `request` on a new connection and reads the answer.
fn exchange(s: &Srv, request: &[u8]) -> Answer {
    let mut c = connect(s);
    c.write_all(request).unwrap();
    read_answer(&mut c)
}

/// Whether the server closed `c` (reads end of stream) before the watchdog.
fn closed(c: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Bug: HTTP-level answers (404, 405, and hyper's own 400 and 431) had empty bodies. Fix:
/// the router's fallbacks and a middleware give every error a JSON body, and the answers
/// hyper writes by itself are replaced by the same status with one.
#[test]
fn every_error_answer_has_a_json_body() {
    let s = Srv::start();
    let a = exchange(&s, b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(a.status, 404);
    assert!(a.error().contains("no endpoint GET /nowhere"), "{}", a.body);
    assert!(a.header("x-influxdb-version").is_some());
    let a = exchange(&s, b"DELETE /write HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(a.status, 405);
    assert!(
        a.error().contains("method not allowed: DELETE /write"),
        "{}",
        a.body
    );
    assert!(a.header("allow").is_some_and(|v| v.contains("POST")));
    // A request hyper cannot parse.
    let a = exchange(&s, b"THIS IS NOT HTTP\r\n\r\n");
    assert_eq!(a.status, 400);
    assert!(a.error().contains("malformed"), "{}", a.body);
    let a = exchange(
        &s,
        b"GET /ping HTTP/1.1\r\nHost: x\r\nBad Header Name: y\r\n\r\n",
    );
    assert_eq!(a.status, 400);
    assert!(!a.error().is_empty());
    // Headers over hyper's bounds: too many, or too large.
    let mut many = b"GET /ping HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        many.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let a = exchange(&s, &many);
    assert_eq!(a.status, 431);
    assert!(a.error().contains("too large"), "{}", a.body);
    let mut big = b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1 << 20));
    big.extend_from_slice(b"\r\n\r\n");
    let mut c = connect(&s);
    // The server may answer and close before taking all of it.
    let _ = c.write_all(&big);
    let a = read_answer(&mut c);
    assert_eq!(a.status, 431);
    assert!(a.error().contains("too large"), "{}", a.body);
    // The server is unharmed.
    assert_eq!(
        exchange(&s, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n").status,
        204
    );
}

fn short_timeouts() -> Config {
    Config {
        header_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        ..test_config()
    }
}

/// Bug: a connection that never finished its headers was never closed (slowloris).
#[test]
fn a_client_that_never_finishes_its_headers_gets_408_and_is_closed() {
    let s = Srv::with(short_timeouts(), Options::default());
    // Stalls in the middle of its headers.
    let mut c = connect(&s);
    c.write_all(b"POST /write HTTP/1.1\r\nHost: x\r\n").unwrap();
    let a = read_answer(&mut c);
    assert_eq!(a.status, 408);
    assert!(a.error().contains("server.header_timeout"), "{}", a.body);
    assert!(closed(&mut c));
    // Sends nothing at all.
    let mut c = connect(&s);
    assert!(closed(&mut c));
    // Trickles a header byte at a time, each within the timeout.
    let mut c = connect(&s);
    c.write_all(b"GET /ping HTTP/1.1\r\nX-Slow: ").unwrap();
    let mut cut = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(50));
        if c.write_all(b"a").is_err() {
            cut = true;
            break;
        }
    }
    assert!(cut || closed(&mut c), "a trickled head is bounded too");
    // Others are served meanwhile.
    assert_eq!(
        exchange(&s, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n").status,
        204
    );
}

#[test]
fn an_idle_keep_alive_connection_is_closed_and_a_busy_one_is_not() {
    let s = Srv::with(short_timeouts(), Options::default());
    let mut c = connect(&s);
    for _ in 0..3 {
        c.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert_eq!(read_answer(&mut c).status, 204);
        // Well within the idle timeout: the connection is reused.
        std::thread::sleep(Duration::from_millis(20));
    }
    // Idle past the timeout: closed without an answer.
    assert!(closed(&mut c));
    // A request whose body takes longer than the header and idle timeouts to arrive is
    // not cut by them (the body timeout governs it).
    let mut c = connect(&s);
    c.write_all(b"POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\nslow v=1 ")
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    c.write_all(b"1000000").unwrap();
    assert_eq!(read_answer(&mut c).status, 204);
}

#[test]
fn connections_over_the_limit_get_503_with_retry_after() {
    let config = Config {
        max_connections: 2,
        ..test_config()
    };
    let s = Srv::with(config, Options::default());
    // Two connections served and kept (retrying while the start-up checks' connections
    // are still being closed by the server).
    let mut held: Vec<TcpStream> = Vec::new();
    for _ in 0..400 {
        if held.len() == 2 {
            break;
        }
        let mut c = connect(&s);
        c.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        if read_answer(&mut c).status == 204 {
            held.push(c);
        } else {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    assert_eq!(held.len(), 2);
    let a = exchange(&s, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(a.status, 503);
    assert_eq!(a.header("retry-after"), Some("1"));
    assert!(a.error().contains("server.max_connections"), "{}", a.body);
    // Once one closes, new connections are served again.
    drop(held.pop());
    let mut served = false;
    for _ in 0..200 {
        if exchange(&s, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n").status == 204 {
            served = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(served);
}

/// Bug: under overload about 40 % of refused writes reached the client as a broken pipe,
/// not a readable 503: the answer came before the body was read, and closing a socket
/// with unread bytes resets it. Fix: early refusals drain the body (up to the body limit)
/// first. Shown with a refusal that is certain (a wrong token) and a body larger than the
/// socket buffers, which the client can only finish sending if the server reads it.
#[test]
fn a_refused_write_is_answered_after_its_body_is_read() {
    let config = Config {
        auth_token: Some("secret".into()),
        ..test_config()
    };
    let s = Srv::with(config, Options::default());
    let body = "m v=1 1\n".repeat(2 << 20); // 16 MiB
    for path in ["/write?db=x", "/api/v1/write", "/api/v1/import/prometheus"] {
        let mut c = connect(&s);
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Token wrong\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(body.as_bytes())
            .unwrap_or_else(|e| panic!("{path}: the server stopped reading: {e}"));
        let a = read_answer(&mut c);
        assert_eq!(a.status, 401, "{path}: {}", a.body);
        assert!(!a.error().is_empty());
        // The connection is still good for another request.
        c.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert_eq!(read_answer(&mut c).status, 204, "{path}");
    }
}

/// Bug: with a request in flight, shutdown waited for it without bound (and a process
/// with a query still running logged "stopped" but did not exit). Fix: running queries
/// are cancelled, in-flight requests get `shutdown_timeout`, then their connections close.
#[test]
fn shutdown_is_bounded_with_requests_in_flight() {
    let config = Config {
        shutdown_timeout: Duration::from_millis(300),
        ..test_config()
    };
    let s = Srv::with(config, Options::default());
    // A body that stalls (the body timeout is a minute) and a head that stalls.
    let mut slow_body = connect(&s);
    slow_body
        .write_all(b"POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nm v=1 1\n")
        .unwrap();
    let mut slow_head = connect(&s);
    slow_head.write_all(b"GET /ping HTTP/1.1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let dir = s.stop();
        let _ = tx.send(());
        drop(dir);
    });
    rx.recv_timeout(WATCHDOG)
        .expect("stop returns while requests are in flight");
    assert!(closed(&mut slow_body));
    assert!(closed(&mut slow_head));
}
