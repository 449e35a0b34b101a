//! Prometheus: remote write (snappy + protobuf) and text exposition import.

use crate::{Srv, enc, get, post, rows, test_config};
use strata_server::remote_write::{
    Histogram, Label, Sample, TimeSeries, WriteRequest, encode_remote_write,
};

fn label(n: &str, v: &str) -> Label {
    Label {
        name: n.into(),
        value: v.into(),
    }
}

const REMOTE_WRITE_HEADERS: [(&str, &str); 3] = [
    ("Content-Encoding", "snappy"),
    ("Content-Type", "application/x-protobuf"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

#[test]
fn remote_write_payload_from_the_proto_types() {
    let s = Srv::start();
    let t0 = 1_700_000_000_000i64;
    let req = WriteRequest {
        timeseries: vec![
            TimeSeries {
                labels: vec![
                    label("__name__", "node_cpu_seconds_total"),
                    label("cpu", "0"),
                    label("mode", "idle"),
                    label("instance", "host:9100"),
                    label("job", "node"),
                ],
                samples: (0..10)
                    .map(|i| Sample {
                        value: 100.0 + i as f64,
                        timestamp: t0 + i * 15_000,
                    })
                    .collect(),
                ..Default::default()
            },
            TimeSeries {
                labels: vec![
                    label("__name__", "up"),
                    label("job", "node"),
                    label("instance", "host:9100"),
                ],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: t0,
                }],
                ..Default::default()
            },
            TimeSeries {
                labels: vec![
                    label("__name__", "rpc_latency_seconds"),
                    label("job", "api"),
                ],
                histograms: vec![Histogram {
                    count_int: Some(42),
                    count_float: None,
                    sum: 3.5,
                    timestamp: t0,
                }],
                ..Default::default()
            },
        ],
        metadata: vec![],
    };
    let r = post(
        &s.url("/api/v1/write"),
        &REMOTE_WRITE_HEADERS,
        &encode_remote_write(&req),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let v = s.query(
        "SELECT count(value), last(value) FROM node_cpu_seconds_total WHERE mode = 'idle' AND cpu = '0'; \
         SELECT value FROM up; SELECT value FROM rpc_latency_seconds_count; SHOW TAG KEYS FROM up",
    );
    assert_eq!(rows(&v, 0)[0][1], 10, "{v}");
    assert_eq!(rows(&v, 0)[0][2], 109.0, "{v}");
    assert_eq!(
        rows(&v, 1)[0][0],
        "2023-11-14T22:13:20Z",
        "ms timestamps: {v}"
    );
    assert_eq!(rows(&v, 2)[0][1], 42.0, "{v}");
    let keys: Vec<_> = rows(&v, 3).iter().map(|r| r[0].clone()).collect();
    assert_eq!(keys, ["instance", "job"], "{v}");
}

#[test]
fn malformed_snappy_and_protobuf_are_400() {
    let s = Srv::start();
    let r = post(
        &s.url("/api/v1/write"),
        &REMOTE_WRITE_HEADERS,
        b"\xff\xff\xff\xff\xff\xff not snappy",
    );
    assert_eq!(r.status, 400);
    assert!(r.error().contains("snappy"), "{}", r.body);
    let garbage = snap::raw::Encoder::new()
        .compress_vec(b"\x0a\xff\xff\xff\xff\x0f garbage")
        .unwrap();
    let r = post(&s.url("/api/v1/write"), &REMOTE_WRITE_HEADERS, &garbage);
    assert_eq!(r.status, 400);
    assert!(r.error().contains("protobuf"), "{}", r.body);
    // A series without a metric name: refused by name, the rest stored.
    let req = WriteRequest {
        timeseries: vec![
            TimeSeries {
                labels: vec![label("job", "x")],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 1,
                }],
                ..Default::default()
            },
            TimeSeries {
                labels: vec![label("__name__", "ok")],
                samples: vec![Sample {
                    value: 2.0,
                    timestamp: 1,
                }],
                ..Default::default()
            },
        ],
        metadata: vec![],
    };
    let r = post(
        &s.url("/api/v1/write"),
        &REMOTE_WRITE_HEADERS,
        &encode_remote_write(&req),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.error().contains("timeseries 0") && r.error().contains("__name__"),
        "{}",
        r.body
    );
    assert_eq!(rows(&s.query("SELECT value FROM ok"), 0).len(), 1);
    // A sample whose millisecond timestamp is beyond the nanosecond range is refused,
    // naming its series; the series' other sample and the other series are stored.
    let req = WriteRequest {
        timeseries: vec![
            TimeSeries {
                labels: vec![label("__name__", "far"), label("job", "x")],
                samples: vec![
                    Sample {
                        value: 1.0,
                        timestamp: i64::MAX / 1000,
                    },
                    Sample {
                        value: 2.0,
                        timestamp: 2,
                    },
                ],
                ..Default::default()
            },
            TimeSeries {
                labels: vec![label("__name__", "ok")],
                samples: vec![Sample {
                    value: 3.0,
                    timestamp: 3,
                }],
                ..Default::default()
            },
        ],
        metadata: vec![],
    };
    let r = post(
        &s.url("/api/v1/write"),
        &REMOTE_WRITE_HEADERS,
        &encode_remote_write(&req),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let e = r.error();
    assert!(
        e.contains("timeseries 0 ({__name__=\"far\",job=\"x\"})") && e.contains("out of range"),
        "{e}"
    );
    assert_eq!(rows(&s.query("SELECT value FROM far"), 0).len(), 1);
    assert_eq!(rows(&s.query("SELECT value FROM ok"), 0).len(), 2);
}

/// A node_exporter page as it serves it (trimmed): HELP and TYPE, counters, gauges, a
/// histogram and a summary, label escapes, NaN and +Inf.
pub const NODE_EXPORTER_PAGE: &str = r#"# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.1329e-05
go_gc_duration_seconds{quantile="0.25"} 3.3472e-05
go_gc_duration_seconds{quantile="0.5"} 4.0592e-05
go_gc_duration_seconds{quantile="0.75"} 5.5264e-05
go_gc_duration_seconds{quantile="1"} 0.000227327
go_gc_duration_seconds_sum 0.012739393
go_gc_duration_seconds_count 249
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 8
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 2.23455341e+06
node_cpu_seconds_total{cpu="0",mode="iowait"} 1143.27
node_cpu_seconds_total{cpu="0",mode="system"} 5341.02
node_cpu_seconds_total{cpu="0",mode="user"} 20387.8
node_cpu_seconds_total{cpu="1",mode="idle"} 2.23544627e+06
node_cpu_seconds_total{cpu="1",mode="user"} 20133.64
# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/nvme0n1p2",fstype="ext4",mountpoint="/"} 3.0512631808e+11
node_filesystem_avail_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/run/user/1000"} 3.3528832e+09
# HELP node_hwmon_sensor_label Label for given chip and sensor
# TYPE node_hwmon_sensor_label gauge
node_hwmon_sensor_label{chip="platform_coretemp_0",label="Package id 0",sensor="temp1"} 1
node_hwmon_sensor_label{chip="acpi",label="a \"quoted\" C:\\ path\nline two",sensor="temp9"} 1
# HELP node_network_receive_drop_total Network device statistic receive_drop.
# TYPE node_network_receive_drop_total counter
node_network_receive_drop_total{device="eth0"} 0
node_network_receive_drop_total{device="lo"} 0
# HELP node_scrape_collector_duration_seconds node_exporter: Duration of a collector scrape.
# TYPE node_scrape_collector_duration_seconds gauge
node_scrape_collector_duration_seconds{collector="cpu"} 0.000436
node_scrape_collector_duration_seconds{collector="thermal_zone"} NaN
# HELP prometheus_http_request_duration_seconds Histogram of latencies for HTTP requests.
# TYPE prometheus_http_request_duration_seconds histogram
prometheus_http_request_duration_seconds_bucket{handler="/metrics",le="0.1"} 21
prometheus_http_request_duration_seconds_bucket{handler="/metrics",le="0.2"} 23
prometheus_http_request_duration_seconds_bucket{handler="/metrics",le="0.4"} 24
prometheus_http_request_duration_seconds_bucket{handler="/metrics",le="+Inf"} 24
prometheus_http_request_duration_seconds_sum{handler="/metrics"} 1.2939402
prometheus_http_request_duration_seconds_count{handler="/metrics"} 24
# HELP process_max_fds Maximum number of open file descriptors.
# TYPE process_max_fds gauge
process_max_fds 1.048576e+06
# A plain comment, ignored.
node_time_seconds 1.7000000122e+09 1700000012000
"#;

#[test]
fn node_exporter_text_page() {
    let s = Srv::start();
    let r = post(
        &s.url("/api/v1/import/prometheus?timestamp=1700000000"),
        &[("Content-Type", "text/plain; version=0.0.4")],
        NODE_EXPORTER_PAGE.as_bytes(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let v = s.query(
        "SELECT value FROM go_gc_duration_seconds WHERE quantile = '0.5'; \
         SELECT value FROM node_cpu_seconds_total WHERE cpu = '1' AND mode = 'idle'; \
         SELECT value FROM prometheus_http_request_duration_seconds_bucket WHERE le = '+Inf'; \
         SELECT value FROM node_time_seconds; \
         SHOW TAG VALUES FROM node_hwmon_sensor_label WITH KEY = \"label\"",
    );
    assert_eq!(
        rows(&v, 0)[0],
        serde_json::json!(["2023-11-14T22:13:20Z", 4.0592e-05]),
        "{v}"
    );
    assert_eq!(rows(&v, 1)[0][1], 2.23544627e+06, "{v}");
    assert_eq!(rows(&v, 2)[0][1], 24.0, "{v}");
    assert_eq!(
        rows(&v, 3)[0][0],
        "2023-11-14T22:13:32Z",
        "own timestamp kept: {v}"
    );
    let labels: Vec<_> = rows(&v, 4).iter().map(|r| r[1].clone()).collect();
    assert!(
        labels.contains(&serde_json::json!("a \"quoted\" C:\\ path\nline two")),
        "{v}"
    );
}

#[test]
fn malformed_text_lines_are_named_and_the_rest_stored() {
    let s = Srv::start();
    let page = "# TYPE good gauge\ngood{a=\"1\"} 1\nbad{a=\"1\" 2\ngood{a=\"2\"} 2\n9starts_with_digit 3\n";
    let r = post(
        &s.url(&format!(
            "/api/v1/import/prometheus?timestamp={}",
            enc("2023-11-14T22:13:20Z")
        )),
        &[],
        page.as_bytes(),
    );
    assert_eq!(r.status, 400);
    let e = r.error();
    assert!(
        e.contains("line 3") && e.contains("line 5") && e.contains("dropped=2"),
        "{e}"
    );
    assert_eq!(rows(&s.query("SELECT count(value) FROM good"), 0)[0][1], 2);
    let r = post(
        &s.url("/api/v1/import/prometheus?timestamp=soon"),
        &[],
        b"x 1\n",
    );
    assert_eq!(r.status, 400);
    assert!(r.error().contains("timestamp"), "{}", r.body);
}

/// Remote write validates labels as Prometheus' receiver does: a bad series is refused
/// with 400 naming it (index, labels, reason), the valid series of the request are
/// stored; label values may hold any UTF-8, newlines included, and read back exactly.
#[test]
fn remote_write_refuses_invalid_labels_by_series_and_stores_the_rest() {
    let s = Srv::start();
    let series = |labels: Vec<Label>, value: f64| TimeSeries {
        labels,
        samples: vec![Sample {
            value,
            timestamp: 1_700_000_000_000,
        }],
        ..Default::default()
    };
    let bad_utf8 = Label {
        name: b"job".to_vec(),
        value: vec![0xff, 0xfe],
    };
    let req = WriteRequest {
        timeseries: vec![
            series(
                vec![label("__name__", "up"), label("job", "line1\nline2")],
                1.0,
            ),
            series(vec![label("__name__", "up"), label("bad-name", "x")], 2.0),
            series(vec![label("__name__", "1up"), label("job", "a")], 3.0),
            series(
                vec![
                    label("__name__", "up"),
                    label("job", "a"),
                    label("job", "b"),
                ],
                4.0,
            ),
            series(vec![label("__name__", "up"), bad_utf8], 5.0),
            series(vec![label("__name__", ""), label("job", "c")], 6.0),
            series(
                vec![label("__name__", "ns:up_total"), label("_k9", "v")],
                7.0,
            ),
        ],
        metadata: vec![],
    };
    let r = post(
        &s.url("/api/v1/write"),
        &REMOTE_WRITE_HEADERS,
        &encode_remote_write(&req),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let e = r.error();
    for want in [
        "timeseries 1 ({__name__=\"up\",bad-name=\"x\"}): invalid label name \"bad-name\"",
        "timeseries 2 ({__name__=\"1up\",job=\"a\"}): invalid metric name \"1up\"",
        "timeseries 3 (",
        "duplicate label name \"job\"",
        "timeseries 4 (",
        "not valid UTF-8",
        "timeseries 5 (",
        "dropped=5 stored=2",
    ] {
        assert!(e.contains(want), "{want:?} not in {e}");
    }
    assert!(
        !e.contains("timeseries 0") && !e.contains("timeseries 6"),
        "{e}"
    );
    let v = s.query("SELECT value, job FROM up");
    assert_eq!(
        rows(&v, 0),
        [serde_json::json!([
            "2023-11-14T22:13:20Z",
            1,
            "line1\nline2"
        ])]
    );
    let v = s.query("SELECT value FROM \"ns:up_total\"");
    assert_eq!(rows(&v, 0).len(), 1);
}

/// A series limit refuses the series that would pass it, over each protocol, with a 400
/// naming the metric and the limit; the valid series of the request are stored, and the
/// refusals are counted in /metrics.
#[test]
fn series_limit_refuses_per_series_over_every_protocol_and_is_counted() {
    let s = Srv::with(
        test_config(),
        strata_engine::Options {
            max_series_per_metric: 1,
            ..strata_engine::Options::default()
        },
    );
    let series = |job: &str| TimeSeries {
        labels: vec![label("__name__", "up"), label("job", job)],
        samples: vec![Sample {
            value: 1.0,
            timestamp: 1_700_000_000_000,
        }],
        ..Default::default()
    };
    let req = WriteRequest {
        timeseries: vec![series("a"), series("b"), series("a")],
        metadata: vec![],
    };
    let r = post(
        &s.url("/api/v1/write"),
        &REMOTE_WRITE_HEADERS,
        &encode_remote_write(&req),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let e = r.error();
    assert!(
        e.contains("timeseries 1 ({__name__=\"up\",job=\"b\"})")
            && e.contains("measurement \"up\" already has 1 series")
            && e.contains("write.max_series_per_metric")
            && e.contains("dropped=1 stored=2"),
        "{e}"
    );
    let r = post(
        &s.url("/api/v1/import/prometheus"),
        &[],
        b"up{job=\"a\"} 2 1700000001000\nup{job=\"c\"} 2 1700000001000\n",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.error().contains("line 2, column 1 (up{job=\"c\"})")
            && r.error().contains("write.max_series_per_metric"),
        "{}",
        r.body
    );
    let r = post(
        &s.url("/write"),
        &[],
        b"up,job=d value=1 1700000002000000000\n",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.error().contains("line 1, column 1: series limit reached"),
        "{}",
        r.body
    );
    let m = get(&s.url("/metrics")).body;
    assert!(
        m.contains("strata_series_limit_rejected_total{limit=\"max_series_per_metric\"} 3"),
        "{m}"
    );
    assert!(m.contains("strata_series_created_total 1"), "{m}");
}
