//! The hostile-input corpus (issue 21): over 100 kinds of bad input and abuse over every
//! endpoint, each sent to one running server. For every case: no 5xx (except where
//! Prometheus 2.42 itself answers 500 for its disabled admin API), an error answer carries a JSON body
//! with a non-empty message, the message names the position where the input has one
//! (line and column, a line number in a batch, a series index), and nothing hangs (each
//! request has the client's timeout). After the corpus the server still answers, and what
//! was written before it reads back unchanged.

use crate::{Srv, enc, request};
use std::io::{Read, Write};
use std::time::Duration;
use strata_server::remote_write::{Label, Sample, TimeSeries, WriteRequest, encode_remote_write};

/// What a case must get.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// 2xx: the input is odd but valid (or partly valid: the good part is stored).
    Ok,
    /// 4xx with a message.
    Refused,
    /// 200 with the statement's error in `results[i].error`, as InfluxDB 1.x answers an
    /// error found after parsing.
    StatementError,
    /// Exactly this status (Prometheus' own answer, e.g. 500 for a disabled admin API).
    Status(u16),
}

struct Case {
    name: String,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<Vec<u8>>,
    want: Want,
    /// Substrings the error message must hold (lower case), e.g. the position.
    mention: Vec<&'static str>,
}

fn case(name: impl Into<String>, method: &'static str, path: impl Into<String>) -> Case {
    Case {
        name: name.into(),
        method,
        path: path.into(),
        headers: Vec::new(),
        body: None,
        want: Want::Refused,
        mention: Vec::new(),
    }
}

impl Case {
    fn body(mut self, b: impl Into<Vec<u8>>) -> Case {
        self.body = Some(b.into());
        self
    }
    fn header(mut self, k: &'static str, v: &'static str) -> Case {
        self.headers.push((k, v));
        self
    }
    fn want(mut self, w: Want) -> Case {
        self.want = w;
        self
    }
    fn mentions(mut self, m: &[&'static str]) -> Case {
        self.mention.extend_from_slice(m);
        self
    }
}

/// A line-protocol body to `/write`.
fn lp(name: &str, body: impl Into<Vec<u8>>) -> Case {
    case(format!("write: {name}"), "POST", "/write?db=hostile").body(body)
}

/// An InfluxQL statement to `/query` (POST form, as clients send it).
fn influxql(name: &str, q: &str) -> Case {
    case(format!("influxql: {name}"), "POST", "/query?db=hostile")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("q={}", enc(q)))
}

/// A PromQL expression to `/api/v1/query`.
fn promql(name: &str, q: &str) -> Case {
    case(
        format!("promql: {name}"),
        "GET",
        format!("/api/v1/query?query={}&time=1700000000", enc(q)),
    )
}

fn snappy(bytes: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(bytes).unwrap()
}

fn remote_write(name: &str, body: Vec<u8>) -> Case {
    case(format!("remote write: {name}"), "POST", "/api/v1/write")
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .body(body)
}

fn series(labels: &[(&str, &str)], ts: i64) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect(),
        samples: vec![Sample {
            value: 1.0,
            timestamp: ts,
        }],
        ..Default::default()
    }
}

fn write_request(ts: Vec<TimeSeries>) -> Vec<u8> {
    encode_remote_write(&WriteRequest {
        timeseries: ts,
        ..Default::default()
    })
}

fn corpus() -> Vec<Case> {
    use Want::*;
    let mut c = vec![
        // ---- /write: line protocol ------------------------------------------------
        lp("no measurement", ",t=1 v=1 1\n").mentions(&["line 1"]),
        lp("no fields", "m,t=1\n").mentions(&["line 1"]),
        lp("field without a value", "m v= 1\n").mentions(&["line 1"]),
        lp("unterminated string", "m v=\"abc 1\n").mentions(&["line 1"]),
        lp("trailing backslash", "m\\").mentions(&["line 1"]),
        lp("integer with letters", "m v=12x 1\n").mentions(&["line 1"]),
        lp("integer overflow", "m v=99999999999999999999i 1\n").mentions(&["line 1"]),
        lp("negative unsigned", "m v=-1u 1\n").mentions(&["line 1"]),
        lp("two decimal points", "m v=1.2.3 1\n").mentions(&["line 1"]),
        lp("misspelt boolean", "m v=tru 1\n").mentions(&["line 1"]),
        lp("timestamp not a number", "m v=1 abc\n").mentions(&["line 1"]),
        lp("timestamp overflow", "m v=1 99999999999999999999\n").mentions(&["line 1"]),
        lp("timestamp i64::MIN", "m v=1 -9223372036854775808\n").mentions(&["line 1"]),
        lp("timestamp i64::MAX", "m v=1 9223372036854775807\n").mentions(&["line 1"]),
        lp("tag without a value", "m,a= v=1 1\n").mentions(&["line 1"]),
        lp("tag without '='", "m,a v=1 1\n").mentions(&["line 1"]),
        lp("field named time", "m time=1 1\n").mentions(&["line 1"]),
        lp("tag named time", "m,time=x v=1 1\n").mentions(&["line 1"]),
        // InfluxDB 1.6 stores it too; export writes it back byte for byte.
        lp("NUL in the measurement", b"m\0x v=1 1\n".to_vec()).want(Ok),
        lp("invalid UTF-8", b"m\xff\xfe v=1 1\n".to_vec()).mentions(&["line 1"]),
        lp(
            "bad line among good ones: partial write",
            "ok v=1 1\nok v=2 2\nbad v=\n",
        )
        .mentions(&["line 3"]),
        lp(
            "field type conflict in one batch",
            "tc v=1 1\ntc v=\"s\" 2\n",
        )
        .mentions(&["line 2"]),
        lp("field type conflict with stored data", "known v=\"s\" 5\n").mentions(&["line 1"]),
        lp(
            "100,000 fields on one line",
            format!(
                "wide {} 1\n",
                (0..100_000)
                    .map(|i| format!("f{i}=1"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        )
        .mentions(&["line 1", "fields"]),
        lp(
            "10,000 tags on one line",
            format!(
                "tags,{} v=1 1\n",
                (0..10_000)
                    .map(|i| format!("t{i}=v"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        )
        .mentions(&["line 1", "tags"]),
        lp(
            "a 70 KB measurement name",
            format!("{} v=1 1\n", "m".repeat(70_000)),
        )
        .mentions(&["line 1"]),
        lp("only spaces", "   \n  \n").want(Ok),
        lp(
            "only comments and blank lines",
            "# a comment\n\n# another\n",
        )
        .want(Ok),
        lp("an empty body", "").want(Ok),
        lp("CRLF line ends", "crlf v=1 1\r\ncrlf v=2 2\r\n").want(Ok),
        lp("a comma with no tag", "m, v=1 1\n").mentions(&["line 1"]),
        lp("a field set that ends in a comma", "m v=1, 1\n").mentions(&["line 1"]),
        lp("three parts after the fields", "m v=1 1 2\n").mentions(&["line 1"]),
        lp("a float out of range", "m v=1e400 1\n").mentions(&["line 1"]),
        case(
            "write: unknown precision",
            "POST",
            "/write?db=hostile&precision=fortnight",
        )
        .body("m v=1 1\n")
        .mentions(&["precision"]),
        case(
            "write: gzip header over plain text",
            "POST",
            "/write?db=hostile",
        )
        .header("Content-Encoding", "gzip")
        .body("m v=1 1\n"),
        case(
            "write: an unknown content encoding",
            "POST",
            "/write?db=hostile",
        )
        .header("Content-Encoding", "br")
        .body("m v=1 1\n"),
        case("write: GET instead of POST", "GET", "/write?db=hostile"),
        // ---- /query: InfluxQL ----------------------------------------------------
        influxql("unbalanced parentheses", "SELECT mean(v FROM m").mentions(&["line 1"]),
        influxql("unknown function", "SELECT foo(v) FROM known")
            .mentions(&["foo", "line 1"])
            .want(StatementError),
        influxql(
            "a bad time literal",
            "SELECT v FROM known WHERE time > '2020-13-45T99:00:00Z'",
        )
        .mentions(&["line 1"])
        .want(StatementError),
        influxql("no FROM", "SELECT v").mentions(&["line 1"]),
        influxql("SELECT alone", "SELECT").mentions(&["line 1"]),
        influxql("an empty statement", ""),
        influxql(
            "OFFSET at i64::MAX",
            "SELECT v FROM known LIMIT 1 OFFSET 9223372036854775807",
        )
        .want(Ok),
        influxql(
            "LIMIT and OFFSET at i64::MAX, time DESC",
            "SELECT v FROM known WHERE time > 0 ORDER BY time DESC LIMIT 9223372036854775807 \
             OFFSET 9223372036854775807",
        )
        .want(Ok),
        influxql(
            "SLIMIT and SOFFSET at i64::MAX",
            "SELECT v FROM known GROUP BY * SLIMIT 9223372036854775807 SOFFSET \
             9223372036854775807",
        )
        .want(Ok),
        // InfluxDB 1.6 reads a count past i64 as i64::MAX (all rows), and so does Strata
        // (server/tests/influxdb_peer.rs compares the answers).
        influxql(
            "a LIMIT past i64",
            "SELECT v FROM known LIMIT 99999999999999999999",
        )
        .want(Ok),
        influxql("a negative LIMIT", "SELECT v FROM known LIMIT -1").mentions(&["line 1"]),
        influxql("an invalid regex", "SELECT v FROM known WHERE h =~ /(/").want(StatementError),
        // InfluxDB 1.6 answers this one (one bucket), and so does Strata.
        influxql(
            "GROUP BY time(0s)",
            "SELECT mean(v) FROM known WHERE time > 0 GROUP BY time(0s)",
        )
        .want(Ok),
        influxql(
            "GROUP BY time of 1 ns over all time",
            "SELECT mean(v) FROM known WHERE time > 0 AND time < 9000000000000000000 GROUP BY \
             time(1ns)",
        )
        .want(StatementError),
        influxql(
            "1,000 nested parentheses",
            &format!(
                "SELECT {}v{} FROM known",
                "(".repeat(1000),
                ")".repeat(1000)
            ),
        ),
        influxql("five-part measurement name", "SELECT v FROM a.b.c.d.e").mentions(&["line 1"]),
        influxql(
            "an unterminated string",
            "SELECT v FROM known WHERE h = 'abc",
        )
        .mentions(&["line 1"]),
        influxql(
            "an unterminated regex",
            "SELECT v FROM known WHERE h =~ /abc",
        )
        .mentions(&["line 1"]),
        influxql(
            "percentile over 100",
            "SELECT percentile(v, 200) FROM known",
        )
        .want(Ok),
        influxql("top with a negative count", "SELECT top(v, -1) FROM known").want(StatementError),
        influxql(
            "an unknown fill",
            "SELECT mean(v) FROM known WHERE time > 0 GROUP BY time(1m) fill(bogus)",
        ),
        influxql(
            "a duration past i64",
            "SELECT v FROM known WHERE time > now() - 99999999999999d",
        ),
        influxql("division by zero", "SELECT v / 0 FROM known").want(Ok),
        influxql("SELECT INTO", "SELECT v INTO other FROM known"),
        influxql("DROP DATABASE", "DROP DATABASE hostile"),
        influxql("CREATE USER", "CREATE USER u WITH PASSWORD 'p'"),
        influxql(
            "SHOW TAG VALUES without a key",
            "SHOW TAG VALUES FROM known",
        ),
        influxql(
            "a wildcard in an aggregate with a bad argument",
            "SELECT mean(*, 2) FROM known",
        )
        .want(StatementError),
        influxql("a bare semicolon storm", &";".repeat(10_000)).want(Ok),
        influxql(
            "5,000 statements",
            &"SELECT v FROM known LIMIT 1;".repeat(5_000),
        )
        .want(Ok),
        influxql(
            "a statement with a NUL",
            "SELECT v FROM known WHERE h = 'a\u{0}b'",
        )
        .want(Ok),
        case("query: no q at all", "GET", "/query?db=hostile").mentions(&["q"]),
        case(
            "query: an unknown epoch",
            "GET",
            format!(
                "/query?db=hostile&epoch=fortnight&q={}",
                enc("SELECT v FROM known")
            ),
        ),
        case(
            "query: a form body that is not a form",
            "POST",
            "/query?db=hostile",
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(b"%%%\xff\xfe=&&&=".to_vec()),
        case("query: a wrong content type", "POST", "/query?db=hostile")
            .header("Content-Type", "application/json")
            .body("{\"q\": \"SELECT 1\"}"),
        // ---- /api/v1/query and query_range: PromQL --------------------------------
        promql("unclosed call", "sum(").mentions(&["1:"]),
        promql("range function on an instant vector", "rate(known_v)").mentions(&["1:"]),
        promql("unknown function", "foo(known_v)").mentions(&["foo"]),
        promql("unclosed range", "known_v[5m").mentions(&["1:"]),
        promql("offset without a duration", "known_v offset").mentions(&["1:"]),
        promql("@ with a word", "known_v @ abc").mentions(&["1:"]),
        promql("a trailing operator", "1 +").mentions(&["1:"]),
        promql("an empty selector", "{}"),
        promql("a selector matching everything", "{__name__=~\".*\"}"),
        promql("a zero range", "rate(known_v[0s])"),
        promql("a negative range", "rate(known_v[-5m])").mentions(&["1:"]),
        promql(
            "a subquery with a zero step",
            "max_over_time(known_v[1h:0s])",
        ),
        promql(
            "histogram_quantile with a string",
            "histogram_quantile(\"a\", known_v)",
        ),
        promql(
            "label_replace to an invalid label name",
            "label_replace(known_v, \"1bad\", \"\", \"\", \"\")",
        ),
        promql("topk with a string", "topk(\"x\", known_v)"),
        promql(
            "count_values to an invalid label",
            "count_values(\"1bad\", known_v)",
        ),
        promql(
            "10,000 nested parentheses",
            &format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000)),
        ),
        promql("an unterminated string", "known_v{h=\"abc}").mentions(&["1:"]),
        promql("a bad escape", "known_v{h=\"\\q\"}"),
        promql("a set operator between scalars", "1 and 2"),
        promql("bool on a set operator", "known_v and bool known_v"),
        promql(
            "group_left on a set operator",
            "known_v and on() group_left known_v",
        ),
        promql("an invalid regex", "known_v{h=~\"(\"}"),
        promql("a duplicate label in on()", "known_v + on(h, h) known_v").want(Ok),
        case("promql: no query parameter", "GET", "/api/v1/query"),
        case(
            "promql: a time that is not a time",
            "GET",
            "/api/v1/query?query=1&time=yesterday",
        ),
        case(
            "promql: a time past f64",
            "GET",
            "/api/v1/query?query=1&time=1e400",
        ),
        case(
            "promql: a negative timeout",
            "GET",
            "/api/v1/query?query=1&timeout=-1s",
        ),
        case(
            "promql range: step 0",
            "GET",
            "/api/v1/query_range?query=1&start=0&end=100&step=0",
        ),
        case(
            "promql range: a negative step",
            "GET",
            "/api/v1/query_range?query=1&start=0&end=100&step=-5",
        ),
        case(
            "promql range: end before start",
            "GET",
            "/api/v1/query_range?query=1&start=100&end=0&step=1",
        ),
        case(
            "promql range: 10 billion points",
            "GET",
            "/api/v1/query_range?query=1&start=0&end=10000000000&step=1",
        )
        .mentions(&["11,000"]),
        case(
            "promql range: no step",
            "GET",
            "/api/v1/query_range?query=1&start=0&end=100",
        ),
        // ---- metadata -------------------------------------------------------------
        case("series: no match[]", "GET", "/api/v1/series"),
        case(
            "series: an empty selector",
            "GET",
            "/api/v1/series?match[]=%7B%7D",
        ),
        case(
            "series: a selector that does not parse",
            "GET",
            "/api/v1/series?match[]=known_v%7B",
        ),
        case(
            "series: a start that is not a time",
            "GET",
            "/api/v1/series?match[]=known_v&start=soon",
        ),
        case(
            "labels: a match[] that does not parse",
            "GET",
            "/api/v1/labels?match[]=%28",
        ),
        case(
            "label values: an invalid label name",
            "GET",
            "/api/v1/label/1-bad!/values",
        ),
        case(
            "label values: a bad end",
            "GET",
            "/api/v1/label/h/values?end=later",
        ),
        case(
            "metadata: a limit that is not a number",
            "GET",
            "/api/v1/metadata?limit=many",
        ),
        case(
            "query_exemplars: no query",
            "GET",
            "/api/v1/query_exemplars",
        ),
        // ---- Prometheus remote write, remote read, text import ---------------------
        remote_write("not snappy", b"\xff\xff\xff\xff not snappy".to_vec()).mentions(&["snappy"]),
        remote_write(
            "snappy of garbage",
            snappy(b"\x0a\xff\xff\xff\xff\x0f garbage"),
        ),
        remote_write("an empty body", Vec::new()).mentions(&["snappy"]),
        remote_write(
            "a label name with a dash",
            snappy(&write_request(vec![series(
                &[("__name__", "up"), ("bad-name", "x")],
                1_700_000_000_000,
            )])),
        ),
        remote_write(
            "a metric name starting with a digit",
            snappy(&write_request(vec![series(
                &[("__name__", "1up")],
                1_700_000_000_000,
            )])),
        ),
        remote_write(
            "a duplicate label",
            snappy(&write_request(vec![series(
                &[("__name__", "up"), ("job", "a"), ("job", "b")],
                1_700_000_000_000,
            )])),
        ),
        remote_write(
            "no metric name",
            snappy(&write_request(vec![series(
                &[("job", "a")],
                1_700_000_000_000,
            )])),
        ),
        remote_write(
            "a timestamp at i64::MIN",
            snappy(&write_request(vec![series(
                &[("__name__", "up")],
                i64::MIN,
            )])),
        ),
        remote_write(
            "a protobuf length past the body",
            snappy(b"\x0a\xff\xff\xff\x07\x0a\x02ab"),
        ),
        case("remote write: no snappy header", "POST", "/api/v1/write").body("plain"),
        case("remote read: garbage", "POST", "/api/v1/read")
            .header("Content-Encoding", "snappy")
            .body(b"\x00\x01garbage".to_vec()),
        case("remote read: snappy of garbage", "POST", "/api/v1/read")
            .header("Content-Encoding", "snappy")
            .body(snappy(b"\x0a\xff\xff\xff\xff\x0f")),
        case(
            "text import: a value that is not a number",
            "POST",
            "/api/v1/import/prometheus",
        )
        .body("# TYPE x gauge\nx{a=\"1\"} abc\n")
        .mentions(&["line 2"]),
        case(
            "text import: unclosed braces",
            "POST",
            "/api/v1/import/prometheus",
        )
        .body("x{a=\"1\" 1\n")
        .mentions(&["line 1"]),
        case(
            "text import: an invalid metric name",
            "POST",
            "/api/v1/import/prometheus",
        )
        .body("1x 1\n")
        .mentions(&["line 1"]),
        case(
            "text import: a duplicate label",
            "POST",
            "/api/v1/import/prometheus",
        )
        .body("x{a=\"1\",a=\"2\"} 1\n")
        .mentions(&["line 1"]),
        case(
            "text import: a bad TYPE line",
            "POST",
            "/api/v1/import/prometheus",
        )
        .body("# TYPE x sometimes\nx 1\n")
        .mentions(&["line 1"]),
        // ---- admin, lifecycle, other endpoints -------------------------------------
        case(
            "admin: delete_series while the admin API is off",
            "POST",
            "/api/v1/admin/tsdb/delete_series?match[]=known_v",
        )
        .want(Status(500)),
        case(
            "admin: snapshot while the admin API is off",
            "POST",
            "/api/v1/admin/tsdb/snapshot",
        )
        .want(Status(500)),
        case("lifecycle: reload while it is off", "POST", "/-/reload").want(Status(403)),
        case(
            "aggregate: an unknown function",
            "GET",
            "/api/v1/aggregate?measurement=known&field=v&fn=frobnicate",
        ),
        case(
            "aggregate: no measurement",
            "GET",
            "/api/v1/aggregate?field=v&fn=mean",
        ),
        case(
            "subscribe: a bad match",
            "GET",
            "/api/v1/subscribe?match=%28%28",
        ),
        case(
            "ui: an asset that does not exist",
            "GET",
            "/ui/assets/..%2f..%2fetc%2fpasswd",
        ),
        case("an unknown path", "GET", "/no/such/endpoint"),
        case(
            "a wrong method on /api/v1/status",
            "DELETE",
            "/api/v1/status",
        ),
        case(
            "cluster members off the cluster",
            "GET",
            "/api/v1/cluster/members",
        ),
    ];
    // A repeated parameter: the first value counts, as in Prometheus.
    c.push(
        case(
            "promql: a second query parameter of garbage",
            "GET",
            "/api/v1/query?query=1&query=%FF%FE%00",
        )
        .want(Ok),
    );
    // Garbage in the PromQL API's time parameters.
    for p in ["time", "timeout"] {
        c.push(case(
            format!("promql: percent-garbage in {p}"),
            "GET",
            format!("/api/v1/query?query=1&{p}=%FF%FE%00"),
        ));
    }
    c
}

/// Sends one HTTP/1.1 request as raw bytes and returns the status and body of the answer
/// (`None` when the server closed without answering, which is allowed for input that is
/// not HTTP at all).
fn raw(addr: &str, bytes: &[u8]) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("no answer within 30 s: {e}"),
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let status: u16 = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map_or("", |b| b.1).to_owned();
    Some((status, body))
}

/// Whether an error body carries a message: JSON with a non-empty `error` (Influx and
/// Prometheus shapes), or, for the plain-text answers Prometheus gives (lifecycle),
/// non-empty text.
fn message(body: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) => {
            let e = v["error"]
                .as_str()
                .or_else(|| v["results"][0]["error"].as_str())
                .or_else(|| v["message"].as_str())?;
            (!e.is_empty()).then(|| e.to_owned())
        }
        Err(_) => None,
    }
}

#[test]
fn over_100_kinds_of_hostile_input_get_clear_answers_and_harm_nothing() {
    let s = Srv::start();
    s.write_ok("known,h=a v=1 1700000000000000000\nknown,h=b v=2 1700000000000000000\n");
    let cases = corpus();
    let mut failures = Vec::new();
    let mut answered = 0usize;
    for c in &cases {
        let r = request(c.method, &s.url(&c.path), &c.headers, c.body.as_deref());
        answered += 1;
        let ok = match c.want {
            Want::Ok => (200..300).contains(&r.status),
            Want::Refused => (400..500).contains(&r.status),
            Want::StatementError => {
                r.status == 200
                    && r.json()["results"]
                        .as_array()
                        .is_some_and(|rs| rs.iter().any(|x| x["error"].is_string()))
            }
            Want::Status(want) => r.status == want,
        };
        if !ok {
            failures.push(format!(
                "{}: status {} (want {:?}): {}",
                c.name,
                r.status,
                c.want,
                r.body.chars().take(300).collect::<String>()
            ));
            continue;
        }
        if r.status >= 400 || r.body.contains("\"error\"") {
            let text_answer = c.want == Want::Status(403);
            match message(&r.body) {
                Some(m) => {
                    let lower = m.to_lowercase();
                    for want in &c.mention {
                        if !lower.contains(want) {
                            failures.push(format!(
                                "{}: the message does not name {want:?}: {m}",
                                c.name
                            ));
                        }
                    }
                }
                None if text_answer && !r.body.trim().is_empty() => {}
                None => failures.push(format!(
                    "{}: status {} without a message: {:?}",
                    c.name,
                    r.status,
                    r.body.chars().take(300).collect::<String>()
                )),
            }
        }
    }
    // Bytes that are not (good) HTTP, on raw connections.
    let addr = s.base.trim_start_matches("http://").to_owned();
    let long_header = format!(
        "GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200_000)
    );
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(200_000));
    let raw_cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage request line", b"HELLO THERE\r\n\r\n".to_vec()),
        ("HTTP/0.9", b"GET /ping\r\n\r\n".to_vec()),
        (
            "a header without a colon",
            b"GET /ping HTTP/1.1\r\nHost x\r\n\r\n".to_vec(),
        ),
        ("a 200 KB header", long_header.into_bytes()),
        ("a 200 KB URI", long_uri.into_bytes()),
        (
            "a chunk size that is not hex",
            b"POST /write?db=hostile HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nm v=1\r\n0\r\n\r\n"
                .to_vec(),
        ),
        (
            "two different Content-Lengths",
            b"POST /write?db=hostile HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 9\r\n\r\nm v=1 1\n"
                .to_vec(),
        ),
        (
            "a negative Content-Length",
            b"POST /write?db=hostile HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".to_vec(),
        ),
        (
            "a Content-Length longer than the body",
            b"POST /write?db=hostile HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nm v=1 1\n"
                .to_vec(),
        ),
        (
            "a NUL in the path",
            b"GET /pi\x00ng HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "an unknown method",
            b"FROB /ping HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        ("binary noise", (0u8..=255).cycle().take(4096).collect()),
    ];
    for (name, bytes) in &raw_cases {
        answered += 1;
        match raw(&addr, bytes) {
            None => {}
            Some((status, body)) => {
                if status >= 500 {
                    failures.push(format!("raw: {name}: status {status}: {body}"));
                } else if status >= 400 && body.trim().is_empty() {
                    failures.push(format!("raw: {name}: status {status} with an empty body"));
                }
            }
        }
    }
    // Still serving, and what was there before reads back unchanged.
    assert_eq!(request("GET", &s.url("/ping"), &[], None).status, 204);
    let v = s.query("SELECT sum(v) FROM known");
    assert_eq!(v["results"][0]["series"][0]["values"][0][1], 3.0, "{v}");
    assert!(
        answered >= 100,
        "the corpus has {answered} kinds; the goal is at least 100"
    );
    assert!(
        failures.is_empty(),
        "{} of {answered} hostile inputs were not answered as they should be:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
