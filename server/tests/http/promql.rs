//! The Prometheus query API over real HTTP: answers byte for byte as Prometheus writes
//! them, both data models (remote write and line protocol) visible to PromQL, stale
//! markers, errors with Prometheus' types and status codes, the metadata endpoints and
//! remote read.

use crate::{Srv, enc, get, post};
use strata_query::promql::STALE_NAN_BITS;
use strata_server::remote_read::{
    LabelMatcher, Query, ReadRequest, ReadResponse, decode_remote_read, encode_snappy,
};
use strata_server::remote_write::{Label, Sample, TimeSeries, WriteRequest, encode_remote_write};

const T0: i64 = 1_700_000_000_000;

fn label(n: &str, v: &str) -> Label {
    Label {
        name: n.into(),
        value: v.into(),
    }
}

/// `up{job="node"}` every 15 s for 10 minutes with a stale marker at 5 min, a counter
/// `requests_total{code}` rising by 15 per 15 s (1 per second), and line protocol
/// `cpu,host=a usage_user=…`.
fn load(s: &Srv) {
    let mut up = Vec::new();
    for i in 0..40 {
        let v = if i == 20 {
            f64::from_bits(STALE_NAN_BITS)
        } else {
            1.0
        };
        up.push(Sample {
            value: v,
            timestamp: T0 + i * 15_000,
        });
    }
    let counter = |code: &str, rate: f64| TimeSeries {
        labels: vec![
            label("__name__", "requests_total"),
            label("code", code),
            label("job", "api"),
        ],
        samples: (0..40)
            .map(|i| Sample {
                value: rate * 15.0 * i as f64,
                timestamp: T0 + i * 15_000,
            })
            .collect(),
        ..Default::default()
    };
    let req = WriteRequest {
        timeseries: vec![
            TimeSeries {
                labels: vec![label("__name__", "up"), label("job", "node")],
                samples: up,
                ..Default::default()
            },
            counter("200", 1.0),
            counter("500", 0.5),
        ],
        metadata: vec![],
    };
    let r = post(
        &s.url("/api/v1/write"),
        &[("Content-Encoding", "snappy")],
        &encode_remote_write(&req),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let mut lp = String::new();
    for i in 0..40 {
        let t = (T0 + i * 15_000) * 1_000_000;
        lp.push_str(&format!(
            "cpu,host=a usage_user={i},usage_idle={} {t}\n",
            100 - i
        ));
    }
    s.write_ok(&lp);
}

fn query(s: &Srv, q: &str, t: i64) -> crate::Resp {
    get(&s.url(&format!(
        "/api/v1/query?query={}&time={}",
        enc(q),
        t as f64 / 1000.0
    )))
}

#[test]
fn instant_queries_answer_as_prometheus() {
    let s = Srv::start();
    load(&s);
    let t = T0 + 120_000;
    let r = query(&s, "up", t);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"node"},"value":[1700000120,"1"]}]}}"#
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    // The stale marker at 300 s ends the series; the next sample brings it back.
    let r = query(&s, "up", T0 + 300_000);
    assert_eq!(
        r.json()["data"]["result"].as_array().unwrap().len(),
        0,
        "{}",
        r.body
    );
    let r = query(&s, "up", T0 + 315_000);
    assert_eq!(
        r.json()["data"]["result"].as_array().unwrap().len(),
        1,
        "{}",
        r.body
    );
    // rate over a counter rising 1/s, by code; the name is dropped.
    let r = query(&s, "sum by (code) (rate(requests_total[1m]))", T0 + 300_000);
    let v = r.json();
    let res = v["data"]["result"].as_array().unwrap();
    assert_eq!(res.len(), 2);
    assert_eq!(res[0]["metric"], serde_json::json!({"code": "200"}));
    assert_eq!(res[0]["value"][1], "1");
    assert_eq!(res[1]["value"][1], "0.5");
    // Line protocol: measurement_field, tags as labels.
    let r = query(&s, "cpu_usage_user{host=\"a\"}", T0 + 150_000);
    assert!(
        r.body.contains(
            r#""metric":{"__name__":"cpu_usage_user","host":"a"},"value":[1700000150,"10"]"#
        ),
        "{}",
        r.body
    );
    let r = query(&s, "cpu_usage_user + cpu_usage_idle", T0 + 150_000);
    assert!(
        r.body
            .contains(r#""metric":{"host":"a"},"value":[1700000150,"100"]"#),
        "{}",
        r.body
    );
    // Scalars, strings, NaN and infinities print as Prometheus prints them.
    let r = query(&s, "1/0", T0);
    assert_eq!(
        r.body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"+Inf"]}}"#
    );
    let r = query(&s, "\"hi\"", T0);
    assert_eq!(
        r.body,
        r#"{"status":"success","data":{"resultType":"string","result":[1700000000,"hi"]}}"#
    );
    let r = query(&s, "0/0", T0 + 500);
    assert_eq!(
        r.body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000.500,"NaN"]}}"#
    );
    // A range vector at the top of an instant query is a matrix of raw samples.
    let r = query(&s, "up[30s]", T0 + 30_000);
    assert!(
        r.body
            .contains(r#""values":[[1700000000,"1"],[1700000015,"1"],[1700000030,"1"]]"#),
        "{}",
        r.body
    );
}

#[test]
fn range_queries_and_form_posts() {
    let s = Srv::start();
    load(&s);
    let url = format!(
        "/api/v1/query_range?query={}&start={}&end={}&step=60",
        enc("requests_total{code=\"200\"}"),
        T0 / 1000,
        (T0 + 180_000) / 1000
    );
    let r = get(&s.url(&url));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(r#""resultType":"matrix""#));
    assert!(
        r.body.contains(
            r#""values":[[1700000000,"0"],[1700000060,"60"],[1700000120,"120"],[1700000180,"180"]]"#
        ),
        "{}",
        r.body
    );
    // The same as a form POST, with RFC 3339 times and a duration step.
    let form = format!(
        "query={}&start=2023-11-14T22:13:20Z&end=2023-11-14T22:16:20Z&step=1m",
        enc("requests_total{code=\"200\"}")
    );
    let r2 = post(
        &s.url("/api/v1/query_range"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    );
    assert_eq!(r2.body, r.body);
    // A scalar range query is one series without labels.
    let r = get(&s.url("/api/v1/query_range?query=time()&start=0&end=2&step=1"));
    assert_eq!(
        r.body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[0,"0"],[1,"1"],[2,"2"]]}]}}"#
    );
}

#[test]
fn bad_requests_get_prometheus_errors() {
    let s = Srv::start();
    load(&s);
    let check = |path: &str, status: u16, kind: &str, needle: &str| {
        let r = get(&s.url(path));
        assert_eq!(r.status, status, "{path}: {}", r.body);
        let v = r.json();
        assert_eq!(v["status"], "error", "{path}");
        assert_eq!(v["errorType"], kind, "{path}: {}", r.body);
        let e = v["error"].as_str().unwrap();
        assert!(e.contains(needle), "{path}: {e}");
    };
    check(
        "/api/v1/query",
        400,
        "bad_data",
        "invalid parameter \"query\": 1:1: parse error: no expression found in input",
    );
    check(
        &format!("/api/v1/query?query={}", enc("sum(")),
        400,
        "bad_data",
        "invalid parameter \"query\": 1:5: parse error",
    );
    check(
        &format!("/api/v1/query?query={}", enc("foo(up)")),
        400,
        "bad_data",
        "unknown function with name \"foo\"",
    );
    check(
        &format!("/api/v1/query?query={}", enc("{}")),
        400,
        "bad_data",
        "vector selector must contain at least one non-empty matcher",
    );
    check(
        &format!("/api/v1/query?query={}", enc("up{a=~\"(\"}")),
        400,
        "bad_data",
        "error parsing regexp: missing closing )",
    );
    check(
        &format!("/api/v1/query?query={}", enc("rate(up)")),
        400,
        "bad_data",
        "expected type range vector in call to function \"rate\", got instant vector",
    );
    check(
        "/api/v1/query?query=up&time=yesterday",
        400,
        "bad_data",
        "invalid parameter \"time\": Invalid time value for 'time': cannot parse \"yesterday\" to a valid timestamp",
    );
    check(
        "/api/v1/query_range?query=up&start=10&end=5&step=1",
        400,
        "bad_data",
        "end timestamp must not be before start time",
    );
    check(
        "/api/v1/query_range?query=up&start=0&end=5&step=0",
        400,
        "bad_data",
        "zero or negative query resolution step widths are not accepted",
    );
    check(
        "/api/v1/query_range?query=up&start=0&end=11001&step=1",
        400,
        "bad_data",
        "exceeded maximum resolution of 11,000 points per timeseries",
    );
    check(
        &format!(
            "/api/v1/query_range?query={}&start=0&end=1&step=1",
            enc("up[5m]")
        ),
        400,
        "bad_data",
        "invalid expression type \"range vector\" for range query",
    );
    check(
        "/api/v1/query?query=up&timeout=x",
        400,
        "bad_data",
        "invalid parameter \"timeout\"",
    );
    // Runtime errors are 422 execution.
    let q = enc("label_replace(requests_total, \"code\", \"\", \"code\", \".*\")");
    check(
        &format!("/api/v1/query?query={q}&time={}", (T0 + 60_000) / 1000),
        422,
        "execution",
        "vector cannot contain metrics with the same labelset",
    );
    check(
        "/api/v1/series",
        400,
        "bad_data",
        "no match[] parameter provided",
    );
    check(
        &format!("/api/v1/series?match[]={}", enc("{a=\"\"}")),
        400,
        "bad_data",
        "match[] must contain at least one non-empty matcher",
    );
    check(
        "/api/v1/label/a-b/values",
        400,
        "bad_data",
        "invalid label name",
    );
}

#[test]
fn a_sample_limit_is_an_execution_error() {
    let mut config = crate::test_config();
    config.promql_max_samples = 10;
    let s = Srv::with(config, strata_engine::Options::default());
    load(&s);
    let r = query(&s, "count_over_time(up[10m])", T0 + 600_000);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains(
            "query processing would load too many samples into memory in query execution"
        ),
        "{}",
        r.body
    );
}

#[test]
fn series_labels_and_values() {
    let s = Srv::start();
    load(&s);
    let r = get(&s.url(&format!(
        "/api/v1/series?match[]={}&match[]=up",
        enc("{job=\"api\"}")
    )));
    assert_eq!(
        r.body,
        r#"{"status":"success","data":[{"__name__":"requests_total","code":"200","job":"api"},{"__name__":"requests_total","code":"500","job":"api"},{"__name__":"up","job":"node"}]}"#
    );
    let r = get(&s.url("/api/v1/labels"));
    assert_eq!(
        r.body,
        r#"{"status":"success","data":["__name__","code","host","job"]}"#
    );
    let r = get(&s.url("/api/v1/label/__name__/values"));
    assert_eq!(
        r.body,
        r#"{"status":"success","data":["cpu_usage_idle","cpu_usage_user","requests_total","up"]}"#
    );
    let r = get(&s.url(&format!(
        "/api/v1/label/code/values?match[]={}",
        enc("requests_total")
    )));
    assert_eq!(r.body, r#"{"status":"success","data":["200","500"]}"#);
    // A time range with no data has no series.
    let r = get(&s.url("/api/v1/series?match[]=up&start=0&end=100"));
    assert_eq!(r.body, r#"{"status":"success","data":[]}"#);
    let r = get(&s.url("/api/v1/status/buildinfo"));
    assert_eq!(r.json()["data"]["version"], "2.42.0");
    let r = get(&s.url("/api/v1/status/tsdb"));
    let v = r.json();
    assert_eq!(v["data"]["headStats"]["numSeries"], 5, "{}", r.body);
    assert_eq!(
        v["data"]["seriesCountByMetricName"][0]["name"],
        "requests_total"
    );
    assert_eq!(v["data"]["headStats"]["minTime"], T0);
    let r = get(&s.url("/api/v1/query_exemplars?query=up&start=0&end=1"));
    assert_eq!(r.body, r#"{"status":"success","data":[]}"#);
}

#[test]
fn metadata_comes_from_pushed_pages() {
    let s = Srv::start();
    let page = "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total 3\n";
    let r = post(&s.url("/api/v1/import/prometheus"), &[], page.as_bytes());
    assert_eq!(r.status, 204, "{}", r.body);
    let r = get(&s.url("/api/v1/metadata"));
    assert_eq!(
        r.body,
        r#"{"status":"success","data":{"jobs_total":[{"help":"Jobs done.","type":"counter","unit":""}]}}"#
    );
}

#[test]
fn remote_read_returns_raw_samples_with_stale_markers() {
    let s = Srv::start();
    load(&s);
    let req = ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: T0 + 285_000,
            end_timestamp_ms: T0 + 315_000,
            matchers: vec![LabelMatcher {
                r#type: 0,
                name: "__name__".into(),
                value: "up".into(),
            }],
            hints: None,
        }],
        accepted_response_types: vec![0],
    };
    let r = crate::request(
        "POST",
        &s.url("/api/v1/read"),
        &[
            ("Content-Encoding", "snappy"),
            ("Content-Type", "application/x-protobuf"),
        ],
        Some(&encode_snappy(&req)),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    // The body is binary: fetch it again as bytes.
    let resp = ureq::post(&s.url("/api/v1/read"))
        .send_bytes(&encode_snappy(&req))
        .unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut bytes).unwrap();
    let raw = snap::raw::Decoder::new().decompress_vec(&bytes).unwrap();
    let back = <ReadResponse as prost::Message>::decode(&raw[..]).unwrap();
    let ts = &back.results[0].timeseries;
    assert_eq!(ts.len(), 1);
    let vals: Vec<u64> = ts[0].samples.iter().map(|s| s.value.to_bits()).collect();
    assert_eq!(vals, vec![1f64.to_bits(), STALE_NAN_BITS, 1f64.to_bits()]);
    // Junk is a 400 that says what is wrong.
    let r = post(&s.url("/api/v1/read"), &[], b"not snappy");
    assert_eq!(r.status, 400);
    assert!(r.error().contains("not valid snappy"), "{}", r.body);
    assert!(decode_remote_read(&encode_snappy(&req), 1 << 20).is_ok());
}

/// `explain=1` answers what a query would read instead of its value: the raw tiers (PromQL
/// never reads rollups, and says why), each selector with the series it matches and the
/// range it reads (offset, lookback, range and subquery windows applied).
#[test]
fn explain_names_the_source_the_selectors_their_series_and_ranges() {
    let s = Srv::start();
    load(&s);
    let secs = |ms: i64| serde_json::json!(ms as f64 / 1000.0);
    let t = T0 + 600_000;
    let q = "sum(rate(requests_total[5m])) / on() group_left max(up offset 1m) \
             + max_over_time(up[2m:30s]) + absent(nothing_here)";
    let r = get(&s.url(&format!(
        "/api/v1/query?query={}&time={}&explain=1",
        enc(q),
        t as f64 / 1000.0
    )));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["status"], "success", "{v}");
    assert_eq!(v["data"]["resultType"], "explain", "{v}");
    let e = &v["data"]["result"];
    assert_eq!(e["source"], "raw tiers", "{v}");
    assert!(
        e["rollups"].as_str().unwrap().starts_with("not used: "),
        "{v}"
    );
    assert_eq!((&e["start"], &e["end"]), (&secs(t), &secs(t)), "{v}");
    assert!(e["step"].is_null(), "{v}");
    assert_eq!(e["lookback_seconds"], 300.0, "{v}");
    let sel = e["selectors"].as_array().unwrap();
    let got: Vec<(String, i64, f64, f64)> = sel
        .iter()
        .map(|x| {
            (
                x["selector"].as_str().unwrap().to_owned(),
                x["series"].as_i64().unwrap(),
                x["start"].as_f64().unwrap(),
                x["end"].as_f64().unwrap(),
            )
        })
        .collect();
    let at = |ms: i64| ms as f64 / 1000.0;
    assert_eq!(
        got,
        [
            ("requests_total[5m]".to_owned(), 2, at(t - 300_000), at(t)),
            (
                "up offset 1m".to_owned(),
                1,
                at(t - 60_000 - 300_000),
                at(t - 60_000)
            ),
            ("up".to_owned(), 1, at(t - 120_000 - 300_000), at(t)),
            ("nothing_here".to_owned(), 0, at(t - 300_000), at(t)),
        ],
        "{v}"
    );
    assert_eq!(
        e["read"],
        serde_json::json!({"start": at(t - 420_000), "end": at(t)}),
        "{v}"
    );
    // The same query without explain evaluates as before.
    let plain = query(&s, q, t);
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert_eq!(plain.json()["data"]["resultType"], "vector");

    // A range query: the selector reads from start − lookback to end.
    let r = get(&s.url(&format!(
        "/api/v1/query_range?query={}&start={}&end={}&step=15&explain=true",
        enc("requests_total{code=\"500\"}"),
        (T0 + 100_000) / 1000,
        (T0 + 200_000) / 1000
    )));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let e = &v["data"]["result"];
    assert_eq!(e["step"], 15.0, "{v}");
    assert_eq!(e["selectors"][0]["series"], 1, "{v}");
    assert_eq!(e["selectors"][0]["start"], secs(T0 - 200_000), "{v}");
    assert_eq!(e["selectors"][0]["end"], secs(T0 + 200_000), "{v}");
    // Line-protocol data counts too.
    let r = query(&s, "cpu_usage_user", T0 + 100_000);
    assert_eq!(r.status, 200);
    let r = get(&s.url(&format!(
        "/api/v1/query?query=cpu_usage_user&time={}&explain=1",
        (T0 + 100_000) / 1000
    )));
    assert_eq!(
        r.json()["data"]["result"]["selectors"][0]["series"],
        1,
        "{}",
        r.body
    );
    // An unreadable explain= is a parameter error.
    let r = get(&s.url("/api/v1/query?query=up&explain=yes"));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.error().contains("invalid parameter \"explain\""),
        "{}",
        r.body
    );
}
