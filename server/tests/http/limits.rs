//! Limits and safety: body size after decompression, lines per request, auth, overload.

use crate::{Srv, enc, get, gzip, post, request, rows, test_config};
use base64::Engine as _;
use std::time::Duration;
use strata_engine::Options;
use strata_server::Config;

fn small_limits() -> Config {
    Config {
        max_body_bytes: 4096,
        max_lines_per_request: 50,
        ..test_config()
    }
}

#[test]
fn oversize_body_is_413() {
    let s = Srv::with(small_limits(), Options::default());
    let body = "m v=1 1\n".repeat(1000);
    let r = post(&s.url("/write"), &[], body.as_bytes());
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.error().contains("limit of 4096 bytes"), "{}", r.body);
    let r = post(&s.url("/api/v1/import/prometheus"), &[], body.as_bytes());
    assert_eq!(r.status, 413);
    let r = post(&s.url("/api/v1/write"), &[], body.as_bytes());
    assert_eq!(r.status, 413);
    // The limit is on what the snappy body decompresses to.
    let big = snap::raw::Encoder::new()
        .compress_vec(&vec![0u8; 60_000])
        .unwrap();
    assert!(big.len() < 4096);
    let r = post(&s.url("/api/v1/write"), &[], &big);
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(
        r.error().contains("decompresses to 60000 bytes"),
        "{}",
        r.body
    );
}

#[test]
fn gzip_bomb_is_413_without_inflating_it() {
    let s = Srv::with(small_limits(), Options::default());
    // 64 MiB of zeros compress to ~64 KiB; the limit is on the inflated size, and the
    // compressed body must itself fit: raise it for this test with a bigger config.
    drop(s);
    let config = Config {
        max_body_bytes: 1 << 20,
        ..test_config()
    };
    let s = Srv::with(config, Options::default());
    let bomb = gzip(&vec![b'0'; 64 << 20]);
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    let r = post(&s.url("/write"), &[("Content-Encoding", "gzip")], &bomb);
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.error().contains("decompressed gzip body"), "{}", r.body);
    assert_eq!(get(&s.url("/ping")).status, 204, "still serving");
    s.write_ok("after v=1 1\n");
}

#[test]
fn too_many_lines_is_413() {
    let s = Srv::with(small_limits(), Options::default());
    let body = "m v=1 1\n".repeat(51);
    let r = post(&s.url("/write"), &[], body.as_bytes());
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(
        r.error().contains("51 lines") && r.error().contains("max_lines_per_request"),
        "{}",
        r.body
    );
    s.write_ok(&"m v=1 1\n".repeat(50));
}

#[test]
fn auth_in_every_client_form() {
    let config = Config {
        auth_token: Some("s3cret".into()),
        ..test_config()
    };
    let s = Srv::with(config, Options::default());
    let lp = b"m v=1 1\n";
    let q = format!("/query?q={}", enc("SELECT v FROM m"));
    // Without credentials: 401 on write, query, Prometheus, aggregate and status.
    assert_eq!(post(&s.url("/write"), &[], lp).status, 401);
    let r = get(&s.url(&q));
    assert_eq!(r.status, 401);
    assert!(r.error().contains("authorization"), "{}", r.body);
    assert_eq!(post(&s.url("/api/v1/write"), &[], b"").status, 401);
    assert_eq!(
        post(&s.url("/api/v1/import/prometheus"), &[], b"").status,
        401
    );
    assert_eq!(
        get(&s.url("/api/v1/aggregate?metric=m&aggregation=sum")).status,
        401
    );
    assert_eq!(get(&s.url("/api/v1/status")).status, 401);
    // A wrong token.
    assert_eq!(
        post(&s.url("/write"), &[("Authorization", "Token nope")], lp).status,
        401
    );
    assert_eq!(post(&s.url("/write?u=admin&p=nope"), &[], lp).status, 401);
    // Every accepted form.
    assert_eq!(
        post(&s.url("/write"), &[("Authorization", "Token s3cret")], lp).status,
        204
    );
    assert_eq!(
        post(&s.url("/write"), &[("Authorization", "Bearer s3cret")], lp).status,
        204
    );
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:s3cret")
    );
    assert_eq!(
        request("GET", &s.url(&q), &[("Authorization", &basic)], None).status,
        200
    );
    let r = get(&s.url(&format!("{q}&u=admin&p=s3cret")));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(rows(&r.json(), 0).len(), 1);
    // Open endpoints.
    assert_eq!(get(&s.url("/ping")).status, 204);
    assert_eq!(get(&s.url("/health")).status, 200);
    assert_eq!(get(&s.url("/ready")).status, 200);
    assert_eq!(get(&s.url("/metrics")).status, 200);
}

#[test]
fn overload_answers_503_with_retry_after_then_recovers() {
    // A hot tier bound of 16 KiB and no background rotation: a few writes put it over
    // twice its bound, and it stays there until a rotation.
    let options = Options {
        hot_max_bytes: 16 << 10,
        rotation_interval: Duration::ZERO,
        ..Options::default()
    };
    let s = Srv::with(test_config(), options);
    let mut lp = String::new();
    for i in 0..3000 {
        lp.push_str(&format!("load,host=h{} v={i} {i}\n", i % 100));
    }
    s.write_ok(&lp);
    let mut refused = None;
    for _ in 0..2000 {
        let r = post(&s.url("/write"), &[], b"load,host=x v=1 1\n");
        if r.status == 503 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, 204, "{}", r.body);
        std::thread::sleep(Duration::from_millis(5));
    }
    let r = refused.expect("writes are refused once the overload check runs");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(
        r.error().contains("overloaded") && r.error().contains("hot.max_bytes"),
        "{}",
        r.body
    );
    // Reads go on.
    assert_eq!(
        get(&s.url(&format!("/query?q={}", enc("SELECT count(v) FROM load")))).status,
        200
    );
    let m = get(&s.url("/metrics")).body;
    assert!(m.contains("strata_overloaded 1"), "{m}");
    // A refused write with a body larger than the socket buffers: the body is drained, so
    // the client finishes sending and reads the 503 (it used to see a broken pipe).
    use std::io::Write;
    let body = "load,host=x v=1 1\n".repeat(1 << 20);
    let mut c = crate::connections::connect(&s);
    let head = format!(
        "POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(body.as_bytes())
        .expect("the server reads a refused body instead of resetting the connection");
    let a = crate::connections::read_answer(&mut c);
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.header("retry-after"), Some("1"));
    assert!(a.error().contains("overloaded"), "{}", a.body);
}

#[test]
fn a_slow_client_gets_408_and_the_server_keeps_serving() {
    use std::io::{Read, Write};
    let config = Config {
        body_timeout: Duration::from_millis(300),
        ..test_config()
    };
    let s = Srv::with(config, Options::default());
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // Announces 1,000 bytes, sends 10, then stalls.
    conn.write_all(
        b"POST /write?db=x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nm v=1 1\nm ",
    )
    .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("body_timeout") {
        let n = conn.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed without an answer: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    // Nothing of the partial body was stored, and other clients are served.
    assert_eq!(get(&s.url("/ping")).status, 204);
    let r = get(&s.url(&format!("/query?q={}", enc("SELECT count(v) FROM m"))));
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("\"values\""), "{}", r.body);
}

#[test]
fn a_query_past_the_memory_budget_is_a_readable_503_and_small_ones_still_run() {
    let s = Srv::with(
        Config {
            query_max_memory: 256 << 10, // 5,000 rows of 3 values need 1.4 MB
            ..test_config()
        },
        Options::default(),
    );
    let lp: String = (0..5000)
        .map(|i| {
            format!(
                "mb,host=h{} a={i},b={i} {}\n",
                i % 5,
                1_600_000_000_000_000_000i64 + i
            )
        })
        .collect();
    s.write_ok(&lp);
    for _ in 0..2 {
        let r = get(&s.url(&format!("/query?db=test&q={}", enc("SELECT * FROM mb"))));
        assert_eq!(r.status, 503, "{}", r.body);
        assert_eq!(r.header("retry-after"), Some("1"));
        assert!(
            r.error().contains("query memory budget exceeded"),
            "{}",
            r.body
        );
        assert!(r.error().contains("query.max_memory"), "{}", r.body);
        // Nothing stays charged: the small query runs after every refusal.
        let j = s.query("SELECT count(a) FROM mb GROUP BY host");
        assert_eq!(j["results"][0]["series"].as_array().unwrap().len(), 5);
    }
    let j = s.query("SELECT * FROM mb LIMIT 10");
    assert_eq!(
        j["results"][0]["series"][0]["values"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
}

/// PromQL counts against the same budget: the samples a query holds (16 B each) are
/// charged as it loads them; past the budget it is a readable 503 `unavailable` naming
/// the setting, nothing stays charged, and a small query runs.
#[test]
fn a_promql_query_past_the_memory_budget_is_a_readable_503() {
    let s = Srv::with(
        Config {
            query_max_memory: 64 << 10, // 4,096 samples
            ..test_config()
        },
        Options::default(),
    );
    let t0 = 1_600_000_000i64;
    let lp: String = (0..20_000i64)
        .map(|i| {
            format!(
                "pm,host=h{} value={i} {}\n",
                i % 10,
                (t0 + i / 10 * 15) * 1_000_000_000
            )
        })
        .collect();
    s.write_ok(&lp);
    let range = |q: &str| {
        get(&s.url(&format!(
            "/api/v1/query_range?query={}&start={t0}&end={}&step=15",
            enc(q),
            t0 + 2_000 * 15
        )))
    };
    for _ in 0..2 {
        let r = range("pm");
        assert_eq!(r.status, 503, "{}", r.body);
        let v = r.json();
        assert_eq!(v["errorType"], "unavailable", "{v}");
        assert!(r.error().contains("query.max_memory"), "{}", r.body);
        // Nothing stays charged: a small query runs after every refusal.
        let small = get(&s.url(&format!(
            "/api/v1/query?query={}&time={}",
            enc("sum(pm)"),
            t0 + 100
        )));
        assert_eq!(small.status, 200, "{}", small.body);
    }
}
