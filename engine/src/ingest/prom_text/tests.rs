use super::*;
use proptest::prelude::*;

const DEFAULT_TS: i64 = 1_700_000_000_123_000_000;

/// (measurement, tags, value bits, timestamp) of a point, for exact comparison.
type Flat = (String, Vec<(String, String)>, u64, i64);

fn flat(points: &[Point]) -> Vec<Flat> {
    points
        .iter()
        .map(|p| {
            assert_eq!(p.fields.len(), 1);
            assert_eq!(p.fields[0].0, VALUE_FIELD);
            let FieldValue::Float(v) = p.fields[0].1 else {
                panic!("not a float: {p:?}");
            };
            (
                p.series.measurement().to_owned(),
                p.series.tags().to_vec(),
                v.to_bits(),
                p.timestamp,
            )
        })
        .collect()
}

fn pt(name: &str, tags: &[(&str, &str)], v: f64, ts: i64) -> Flat {
    let mut tags: Vec<(String, String)> = tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tags.sort();
    (name.to_owned(), tags, v.to_bits(), ts)
}

const NODE_EXPORTER: &str = r#"# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 1.23456789e+06
node_cpu_seconds_total{cpu="0",mode="system"} 3245.67
node_cpu_seconds_total{cpu="1",mode="idle",} 1.2e+06
# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.52

# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 4.2949672e+10
node_filesystem_avail_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 1.6777216e+07
# HELP node_hwmon_temp_celsius Hardware monitor for temperature (input).
# TYPE node_hwmon_temp_celsius gauge
node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp1"} NaN
node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp2"} +Inf
node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp3"} -Inf
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{handler="/metrics",le="0.005"} 24054
http_request_duration_seconds_bucket{handler="/metrics",le="0.01"} 33444
http_request_duration_seconds_bucket{handler="/metrics",le="0.1"} 100392
http_request_duration_seconds_bucket{handler="/metrics",le="1"} 129389
http_request_duration_seconds_bucket{handler="/metrics",le="+Inf"} 133988
http_request_duration_seconds_sum{handler="/metrics"} 53423.5
http_request_duration_seconds_count{handler="/metrics"} 133988
# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.1e-05
go_gc_duration_seconds{quantile="0.25"} 3.4e-05
go_gc_duration_seconds{quantile="0.5"} 4.5e-05
go_gc_duration_seconds{quantile="1"} 0.000813
go_gc_duration_seconds_sum 0.123
go_gc_duration_seconds_count 2731
# A plain comment, not metadata.
# HELP node_uname_info Labeled system information as provided by the uname system call.
# TYPE node_uname_info gauge
node_uname_info{domainname="(none)",machine="x86_64",nodename="host \"a\"\\b\nc",release=""} 1
# TYPE scrape_ts untyped
scrape_ts{job="node"} -12.5e-3 1395066363000
  node_boot_time_seconds	1.7e+09  
node_memory_MemFree_bytes{ } 8e9
"#;

#[test]
fn node_exporter_page_gives_exact_points() {
    let page = NODE_EXPORTER.replace("node_load1 0.52\n", "node_load1 0.52\r\n");
    let (points, errors) = parse_page(page.as_bytes(), DEFAULT_TS);
    assert_eq!(errors, []);
    let t = DEFAULT_TS;
    let cpu = "node_cpu_seconds_total";
    let fs = "node_filesystem_avail_bytes";
    let hw = "node_hwmon_temp_celsius";
    let h = "http_request_duration_seconds";
    let hb = "http_request_duration_seconds_bucket";
    let m = ("handler", "/metrics");
    let gc = "go_gc_duration_seconds";
    let expected = vec![
        pt(cpu, &[("cpu", "0"), ("mode", "idle")], 1.23456789e+06, t),
        pt(cpu, &[("cpu", "0"), ("mode", "system")], 3245.67, t),
        pt(cpu, &[("cpu", "1"), ("mode", "idle")], 1.2e+06, t),
        pt("node_load1", &[], 0.52, t),
        pt(
            fs,
            &[
                ("device", "/dev/sda1"),
                ("fstype", "ext4"),
                ("mountpoint", "/"),
            ],
            4.2949672e+10,
            t,
        ),
        pt(
            fs,
            &[
                ("device", "tmpfs"),
                ("fstype", "tmpfs"),
                ("mountpoint", "/run"),
            ],
            1.6777216e+07,
            t,
        ),
        pt(
            hw,
            &[("chip", "platform_coretemp_0"), ("sensor", "temp1")],
            f64::NAN,
            t,
        ),
        pt(
            hw,
            &[("chip", "platform_coretemp_0"), ("sensor", "temp2")],
            f64::INFINITY,
            t,
        ),
        pt(
            hw,
            &[("chip", "platform_coretemp_0"), ("sensor", "temp3")],
            f64::NEG_INFINITY,
            t,
        ),
        pt(hb, &[m, ("le", "0.005")], 24054.0, t),
        pt(hb, &[m, ("le", "0.01")], 33444.0, t),
        pt(hb, &[m, ("le", "0.1")], 100392.0, t),
        pt(hb, &[m, ("le", "1")], 129389.0, t),
        pt(hb, &[m, ("le", "+Inf")], 133988.0, t),
        pt(&format!("{h}_sum"), &[m], 53423.5, t),
        pt(&format!("{h}_count"), &[m], 133988.0, t),
        pt(gc, &[("quantile", "0")], 2.1e-05, t),
        pt(gc, &[("quantile", "0.25")], 3.4e-05, t),
        pt(gc, &[("quantile", "0.5")], 4.5e-05, t),
        pt(gc, &[("quantile", "1")], 0.000813, t),
        pt("go_gc_duration_seconds_sum", &[], 0.123, t),
        pt("go_gc_duration_seconds_count", &[], 2731.0, t),
        pt(
            "node_uname_info",
            &[
                ("domainname", "(none)"),
                ("machine", "x86_64"),
                ("nodename", "host \"a\"\\b\nc"),
            ],
            1.0,
            t,
        ),
        pt(
            "scrape_ts",
            &[("job", "node")],
            -12.5e-3,
            1_395_066_363_000_000_000,
        ),
        pt("node_boot_time_seconds", &[], 1.7e9, t),
        pt("node_memory_MemFree_bytes", &[], 8e9, t),
    ];
    let got = flat(&points);
    // NaN: checked with is_nan, then compared with the canonical bits.
    assert!(f64::from_bits(got[6].2).is_nan());
    assert_eq!(got, expected);
}

#[test]
fn metadata_of_node_exporter_page() {
    let meta = metadata(NODE_EXPORTER.as_bytes());
    assert_eq!(meta.len(), 8);
    assert_eq!(
        meta[0],
        (
            "node_cpu_seconds_total".to_owned(),
            Some("counter".to_owned()),
            Some("Seconds the CPUs spent in each mode.".to_owned())
        )
    );
    assert_eq!(
        meta[7],
        ("scrape_ts".to_owned(), Some("untyped".to_owned()), None)
    );
    let escaped = metadata(b"# HELP a x\\\\y\\nz\n# HELP b\n#TYPE a gauge\n");
    assert_eq!(
        escaped,
        vec![
            (
                "a".to_owned(),
                Some("gauge".to_owned()),
                Some("x\\y\nz".to_owned())
            ),
            ("b".to_owned(), None, Some(String::new())),
        ]
    );
}

fn one_error(page: &str) -> PromLineError {
    let (_, errors) = parse_page(page.as_bytes(), 0);
    assert_eq!(errors.len(), 1, "{page:?}: {errors:?}");
    errors.into_iter().next().unwrap_or_else(|| unreachable!())
}

#[test]
fn every_error_names_line_and_column() {
    // (page, line, column, start of the reason)
    let cases: &[(&str, usize, usize, &str)] = &[
        ("ok 1\n1bad 2\n", 2, 1, "invalid metric name start '1'"),
        ("a-b 1\n", 1, 2, "invalid character '-' in metric name"),
        ("a\n", 1, 2, "expected a value"),
        ("a{x=\"1\"}\n", 1, 9, "expected a value"),
        ("a{1x=\"1\"} 1\n", 1, 3, "invalid label name start '1'"),
        ("a{,} 1\n", 1, 3, "invalid label name start ','"),
        ("a{x:y=\"1\"} 1\n", 1, 4, "expected '=' after label name"),
        ("a{x} 1\n", 1, 4, "expected '=' after label name"),
        ("a{x=1} 1\n", 1, 5, "expected '\"' to open the label value"),
        ("a{x=\"1} 1\n", 1, 5, "unterminated label value"),
        ("a{x=\"1\" y=\"2\"} 1\n", 1, 9, "expected ',' or '}'"),
        ("a{x=\"1\"\n", 1, 8, "unterminated label set"),
        ("a{x=\"1\",\n", 1, 9, "unterminated label set"),
        ("a{x=\"\\t\"} 1\n", 1, 6, "invalid escape sequence '\\t'"),
        ("a{x=\"1\",x=\"2\"} 1\n", 1, 9, "duplicate label name \"x\""),
        ("a{x=\"\",x=\"2\"} 1\n", 1, 8, "duplicate label name \"x\""),
        (
            "a{__name__=\"b\"} 1\n",
            1,
            3,
            "label name \"__name__\" is not allowed",
        ),
        (
            "a{x=\"\u{e9}\\q\"} 1\n",
            1,
            7,
            "invalid escape sequence '\\q'",
        ),
        ("a 1x\n", 1, 3, "invalid value \"1x\""),
        ("a -NaN\n", 1, 3, "invalid value \"-NaN\""),
        ("a 0x10\n", 1, 3, "invalid value \"0x10\""),
        ("a .\n", 1, 3, "invalid value \".\""),
        ("a 1e\n", 1, 3, "invalid value \"1e\""),
        (
            "a 1e400\n",
            1,
            3,
            "value \"1e400\" is out of the float range",
        ),
        ("a 1 12.5\n", 1, 5, "invalid timestamp \"12.5\""),
        ("a 1 -\n", 1, 5, "invalid timestamp \"-\""),
        (
            "a 1 9223372036854775808\n",
            1,
            5,
            "timestamp \"9223372036854775808\" is out of the int64 range",
        ),
        (
            "a 1 9223372036855\n",
            1,
            5,
            "timestamp \"9223372036855\" ms is out of the nanosecond range",
        ),
        ("a 1 2 3\n", 1, 7, "unexpected text after the timestamp"),
        ("# TYPE a gauges\n", 1, 10, "unknown metric type \"gauges\""),
        ("# TYPE a\n", 1, 9, "expected a metric type"),
        (
            "# TYPE a gauge x\n",
            1,
            16,
            "unexpected text after the metric type",
        ),
        ("# TYPE 9a gauge\n", 1, 8, "invalid metric name start '9'"),
        ("# HELP\n", 1, 7, "expected a metric name"),
        ("# HELP a b\\c\n", 1, 11, "invalid escape sequence '\\c'"),
        ("# HELP a b\\\n", 1, 11, "escape sequence at end of text"),
        ("a{x=\"1\"}\u{e9} 1\n", 1, 9, "invalid value"),
        ("a\r1\n", 1, 2, "invalid character byte 0x0d in metric name"),
    ];
    let mut wrong = Vec::new();
    for &(page, line, column, reason) in cases {
        let e = one_error(page);
        if (e.line, e.column) != (line, column) || !e.reason.starts_with(reason) {
            wrong.push(format!("{page:?}: {e}"));
        }
    }
    assert_eq!(wrong, Vec::<String>::new());
    // Invalid UTF-8 as bytes, counted as one column per lead byte.
    let (_, errors) = parse_page(b"a{x=\"\xc3\xa9\xc3\xa9\\z\"} 1\n", 0);
    assert_eq!((errors[0].line, errors[0].column), (1, 8));
    let (_, errors) = parse_page(b"ok 1\na{x=\"\xff\"} 1\n", 0);
    assert_eq!((errors[0].line, errors[0].column), (2, 6));
    assert_eq!(errors[0].reason, "text is not valid UTF-8");
    assert_eq!(
        one_error("x 1\n\n# c\na 1 2 3\n").to_string(),
        "line 4, column 7: unexpected text after the timestamp"
    );
}

#[test]
fn a_bad_line_does_not_stop_the_page() {
    let (points, errors) = parse_page(b"a 1\nb{ 2\nc 3", 7);
    assert_eq!(
        flat(&points),
        vec![pt("a", &[], 1.0, 7), pt("c", &[], 3.0, 7)]
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 2);
}

#[test]
fn go_float_spellings() {
    let cases: &[(&str, f64)] = &[
        ("Inf", f64::INFINITY),
        ("+inf", f64::INFINITY),
        ("-INF", f64::NEG_INFINITY),
        ("infinity", f64::INFINITY),
        ("-Infinity", f64::NEG_INFINITY),
        ("+3", 3.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("-0", -0.0),
        ("1E-7", 1e-7),
        ("5e-324", 5e-324),
        ("1e-400", 0.0),
        ("1.7976931348623157e308", f64::MAX),
    ];
    for &(text, want) in cases {
        let got = parse_go_float(text.as_bytes());
        assert_eq!(got.map(f64::to_bits), Ok(want.to_bits()), "{text}");
    }
    for nan in ["NaN", "nan", "NAN"] {
        assert!(parse_go_float(nan.as_bytes()).is_ok_and(f64::is_nan));
    }
    for bad in ["", "+", "e5", "1..2", "1_0", "++1", "+NaN", "Infx", "1e+"] {
        assert!(parse_go_float(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn timestamps_are_milliseconds() {
    assert_eq!(parse_timestamp(b"+5"), Ok(5_000_000));
    assert_eq!(parse_timestamp(b"-5"), Ok(-5_000_000));
    assert_eq!(parse_timestamp(b"0"), Ok(0));
    assert!(parse_timestamp(b"9223372036854").is_ok());
    assert!(parse_timestamp(b"-9223372036855").is_err());
}

// ---- property tests ----

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z0-9]{1,6}",
        any::<String>(),
        "[\"\\\\\n a{},=]{1,8}",
    ]
}

fn sample() -> impl Strategy<Value = (String, Vec<(String, String)>, f64, Option<i64>)> {
    let ts = -9_223_372_036_854i64..=9_223_372_036_854;
    (
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}",
        proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,8}", label_value(), 0..5),
        prop_oneof![
            any::<f64>(),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0)
        ],
        proptest::option::of(ts),
    )
        .prop_map(|(name, labels, v, ts)| {
            let labels = labels
                .into_iter()
                .filter(|(k, _)| k != "__name__")
                .collect();
            (name, labels, v, ts)
        })
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn write_sample(out: &mut String, s: &(String, Vec<(String, String)>, f64, Option<i64>)) {
    let (name, labels, v, ts) = s;
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (k, val) in labels {
            out.push_str(&format!("{k}=\"{}\",", escape(val)));
        }
        out.push('}');
    }
    let value = if v.is_nan() {
        "NaN".to_owned()
    } else if *v == f64::INFINITY {
        "+Inf".to_owned()
    } else if *v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v:?}")
    };
    out.push(' ');
    out.push_str(&value);
    if let Some(ts) = ts {
        out.push_str(&format!(" {ts}"));
    }
    out.push('\n');
}

proptest! {
    #[test]
    fn written_samples_parse_back(samples in proptest::collection::vec(sample(), 0..20)) {
        let mut page = String::from("# HELP x some help\n# TYPE x gauge\n");
        for s in &samples {
            write_sample(&mut page, s);
        }
        let (points, errors) = parse_page(page.as_bytes(), DEFAULT_TS);
        prop_assert_eq!(errors, vec![]);
        prop_assert_eq!(points.len(), samples.len());
        for (p, (name, labels, v, ts)) in points.iter().zip(&samples) {
            let tags: Vec<(String, String)> =
                labels.iter().filter(|(_, v)| !v.is_empty()).cloned().collect();
            prop_assert_eq!(p.series.measurement(), name.as_str());
            prop_assert_eq!(p.series.tags(), tags.as_slice());
            prop_assert_eq!(p.timestamp, ts.map_or(DEFAULT_TS, |ms| ms * 1_000_000));
            let FieldValue::Float(got) = p.fields[0].1 else {
                panic!("not a float");
            };
            if v.is_nan() {
                prop_assert!(got.is_nan());
            } else {
                prop_assert_eq!(got.to_bits(), v.to_bits());
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(page in proptest::collection::vec(any::<u8>(), 0..512)) {
        let lines = page.split(|&b| b == b'\n').count();
        let (_, errors) = parse_page(&page, 0);
        for e in errors {
            prop_assert!(e.line >= 1 && e.line <= lines && e.column >= 1);
        }
        let _ = metadata(&page);
    }

    #[test]
    fn near_valid_text_never_panics(page in "[a-z_{}=\",\\\\ #\t\r\n0-9.eE+-]{0,200}") {
        let (_, errors) = parse_page(page.as_bytes(), 0);
        for e in errors {
            prop_assert!(e.line >= 1 && e.column >= 1 && e.column <= page.len() + 1);
        }
        let _ = metadata(page.as_bytes());
    }
}
