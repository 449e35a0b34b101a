//! `/api/v1/subscribe`: answers every interval over Server-Sent Events; a subscriber that
//! stops reading is dropped with a final event once its buffer is full, and the server's
//! memory for it is freed.

use crate::{Srv, enc, get, test_config};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use strata_engine::Options;

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn metric(s: &Srv, name: &str) -> f64 {
    let page = get(&s.url("/metrics")).body;
    page.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Opens a subscription on a raw connection; the response head is read, not the events.
fn open(s: &Srv, query: &str) -> TcpStream {
    let addr = s.base.trim_start_matches("http://");
    let mut c = TcpStream::connect(addr).expect("connects");
    write!(
        c,
        "GET /api/v1/subscribe?{query} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("request sent");
    c
}

#[test]
fn influxql_answers_arrive_every_interval() {
    let s = Srv::start();
    let t = now_ns() - 5_000_000_000;
    s.write_ok(&format!("m,host=a value=1 {t}\nm,host=b value=2 {t}\n"));
    let c = open(
        &s,
        &format!(
            "lang=influxql&every=100ms&query={}",
            enc("SELECT sum(value) FROM m")
        ),
    );
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut lines = BufReader::new(c).lines();
    let head = lines.next().unwrap().unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut sums = Vec::new();
    let mut name = String::new();
    while sums.len() < 3 {
        let line = lines.next().expect("more events").expect("readable");
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_owned();
        }
        if let Some(d) = line.strip_prefix("data: ") {
            assert_eq!(name, "result", "{d}");
            let v: serde_json::Value = serde_json::from_str(d).expect("JSON data");
            sums.push(v["results"][0]["series"][0]["values"][0][1].clone());
        }
    }
    assert!(sums.iter().all(|v| v.as_f64() == Some(3.0)), "{sums:?}");
    assert_eq!(metric(&s, "strata_subscribers"), 1.0);
}

#[test]
fn bad_subscriptions_are_refused() {
    let s = Srv::start();
    for (q, want) in [
        ("every=10s", "query"),
        ("query=up&every=10ms", "every"),
        ("query=up&every=soon", "every"),
        ("query=sum(", "query"),
        ("query=up&lang=sql", "lang"),
        ("query=up&cluster=true", "cluster"),
    ] {
        let r = get(&s.url(&format!("/api/v1/subscribe?{q}")));
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        assert!(r.error().contains(want), "{q}: {}", r.error());
    }
}

#[test]
fn a_subscriber_that_stops_reading_is_dropped_with_a_final_event() {
    let config = strata_server::Config {
        subscribe_buffer: 2,
        ..test_config()
    };
    let s = Srv::with(config, Options::default());
    // 3,000 series: each answer is a few hundred kilobytes of JSON, so the socket's
    // buffers fill after a few answers and the subscriber's buffer after two more.
    let t = now_ns() - 5_000_000_000;
    let mut lp = String::new();
    for i in 0..3000 {
        lp.push_str(&format!(
            "big,series=s{i:05},pad=pppppppppppppppppppppppp value={i} {t}\n"
        ));
    }
    s.write_ok(&lp);
    let mut c = open(&s, &format!("every=100ms&query={}", enc("big")));
    wait_for("the subscriber to be dropped", || {
        metric(&s, "strata_subscribers_dropped_total") == 1.0
    });
    // What the socket held, then the final event.
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while !got.ends_with(b"0\r\n\r\n") {
        let n = c.read(&mut buf).expect("the rest of the stream");
        assert!(n > 0, "the stream ended without its last chunk");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    let last = text.rfind("event: ").map(|i| &text[i..]).unwrap_or("");
    assert!(
        last.starts_with("event: dropped\n"),
        "{}",
        &last[..last.len().min(200)]
    );
    assert!(last.contains("too slow"), "{last}");
    wait_for("the subscription to close", || {
        metric(&s, "strata_subscribers") == 0.0
    });
}
