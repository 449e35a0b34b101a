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
        let got = parse_go_float(text.as_bytes(), None);
        assert_eq!(got.map(f64::to_bits), Ok(want.to_bits()), "{text}");
    }
    for nan in ["NaN", "nan", "NAN"] {
        assert!(parse_go_float(nan.as_bytes(), None).is_ok_and(f64::is_nan));
    }
    for bad in ["", "+", "e5", "1..2", "1_0", "++1", "+NaN", "Infx", "1e+"] {
        assert!(parse_go_float(bad.as_bytes(), None).is_err(), "{bad}");
    }
}

#[test]
fn timestamps_are_milliseconds() {
    assert_eq!(parse_timestamp(b"+5"), Ok(5_000_000));
    assert_eq!(parse_timestamp(b"-5"), Ok(-5_000_000));
    assert_eq!(parse_timestamp(b"0"), Ok(0));
    assert!(parse_timestamp(b"9223372036854").is_ok());
    assert!(parse_timestamp(b"-9223372036855").is_err());
    assert_eq!(parse_timestamp(b"-0"), Ok(0));
    assert_eq!(
        parse_timestamp(b"92233720368547758070"),
        Err("timestamp \"92233720368547758070\" is out of the int64 range".into())
    );
    assert_eq!(
        parse_timestamp(b"9223372036855"),
        Err("timestamp \"9223372036855\" ms is out of the nanosecond range".into())
    );
    for bad in ["", "-", "+", "1.5", "+-1", "1e3", "0x10", " 1"] {
        assert_eq!(
            parse_timestamp(bad.as_bytes()),
            Err(format!("invalid timestamp {bad:?}")),
            "{bad}"
        );
    }
}

#[test]
fn lines_split_like_the_bytes() {
    for page in ["", "\n", "a", "a\n", "a\r\nb", "a\n\nb\r\n", "\r\n\r"] {
        let want: Vec<(usize, &[u8])> = page
            .as_bytes()
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .collect();
        assert_eq!(lines(page.as_bytes()).collect::<Vec<_>>(), want, "{page:?}");
    }
}

#[test]
fn lines_carry_their_text_when_valid() {
    let page = b"# HELP m \xc3\xa9t\xc3\xa9\nm 1\nbad \xff\r\n";
    let got: Vec<_> = lines_with_text(page).collect();
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].2, Some("# HELP m été"));
    assert_eq!(got[1].2, Some("m 1"));
    assert_eq!((got[2].1, got[2].2), (&b"bad \xff"[..], None));
    assert_eq!(got[3].2, Some(""));
    // A valid page: every line's text is its bytes.
    let page = "a 1\r\n# TYPE a gauge\n\nb{x=\"ü\"} 2 3\n";
    for (_, line, text) in lines_with_text(page.as_bytes()) {
        assert_eq!(text.map(str::as_bytes), Some(line));
    }
}

#[test]
fn comment_lines_read_the_same_with_text() {
    for line in [
        "# HELP node_cpu Seconds the CPUs spent.",
        "# HELP m a \\\\ b \\n c",
        "# HELP m \u{e9}t\u{e9}",
        "# TYPE m counter",
        "  #  TYPE  m:sub_1  gauge  ",
        "# TYPE m bogus",
        "# TYPE 1m gauge",
        "# HELP",
        "# a plain comment",
    ] {
        let bytes = parse_comment_line(line.as_bytes(), None, 7);
        let text = parse_comment_line(line.as_bytes(), Some(line), 7);
        assert_eq!(bytes, text, "{line}");
    }
    let help = parse_comment_line(b"# HELP m \xff", None, 3);
    assert_eq!(
        help.map_err(|e| (e.line, e.column)),
        Err((3, 10)),
        "invalid UTF-8 in a docstring"
    );
}

#[test]
fn values_read_the_same_with_text() {
    for line in [
        "m 1.5",
        "m{a=\"b\"} -Inf 17",
        "m 1e-7 -3",
        "m NaN",
        "m 1 2 3",
        "m x",
        "m 1 1.5",
    ] {
        let (_, end) = sample_series_span(line.as_bytes()).unwrap();
        let bytes = parse_value_and_timestamp(line.as_bytes(), None, end, 9);
        let text = parse_value_and_timestamp(line.as_bytes(), Some(line), end, 9);
        assert_eq!(
            bytes.map(|(v, t)| (v.to_bits(), t)),
            text.map(|(v, t)| (v.to_bits(), t))
        );
    }
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

/// The label section's end as the byte-at-a-time scan found it before `memchr`.
fn series_span_reference(line: &[u8]) -> Option<(usize, usize)> {
    let start = line
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    if matches!(line.get(start), None | Some(b'#')) {
        return None;
    }
    let mut i = start;
    while line
        .get(i)
        .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
    {
        i += 1;
    }
    let name_end = i;
    if !matches!(line.get(i), None | Some(b' ' | b'\t' | b'{')) {
        return None;
    }
    while matches!(line.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if line.get(i) != Some(&b'{') {
        return Some((start, name_end));
    }
    let mut quoted = false;
    i += 1;
    loop {
        match *line.get(i)? {
            b'\\' if quoted => i += 2,
            b'"' => {
                quoted = !quoted;
                i += 1;
            }
            b'}' if !quoted => return Some((start, i + 1)),
            _ => i += 1,
        }
    }
}

/// The span must be the reference's wherever the line parses as a sample: a cache keyed
/// by spans would otherwise give a line another line's series.
fn span_agrees(line: &[u8]) -> Result<(), TestCaseError> {
    let got = sample_series_span(line);
    if let Ok(PageLine::Sample { .. }) = parse_page_line(line, 1, 0) {
        prop_assert_eq!(got, series_span_reference(line));
    }
    if let Some((s, e)) = got {
        prop_assert!(s <= e && e <= line.len());
    }
    Ok(())
}

proptest! {
    #[test]
    fn series_span_matches_the_reference(line in "[ \ta-z_:0-9{}=\",\\\\#$.]{0,40}") {
        span_agrees(line.as_bytes())?;
    }

    #[test]
    fn series_span_matches_the_reference_on_bytes(line in proptest::collection::vec(any::<u8>(), 0..40)) {
        span_agrees(&line)?;
    }

    #[test]
    fn series_span_of_written_samples(samples in proptest::collection::vec(sample(), 1..5)) {
        let mut page = String::new();
        for s in &samples {
            write_sample(&mut page, s);
        }
        for (_, line) in lines(page.as_bytes()) {
            if !line.is_empty() {
                let parsed = matches!(parse_page_line(line, 1, 0), Ok(PageLine::Sample { .. }));
                prop_assert!(parsed, "{:?}", String::from_utf8_lossy(line));
                span_agrees(line)?;
            }
        }
    }

    #[test]
    fn go_floats_read_as_the_standard_parser(
        whole in "[0-9]{0,12}",
        fraction in proptest::option::of("[0-9]{0,12}"),
        sign in "[+-]?",
    ) {
        let text = match &fraction {
            Some(f) => format!("{sign}{whole}.{f}"),
            None => format!("{sign}{whole}"),
        };
        let digits = whole.len() + fraction.as_ref().map_or(0, String::len);
        let got = parse_go_float(text.as_bytes(), None);
        if digits == 0 {
            prop_assert!(got.is_err(), "{}", text);
        } else {
            let want: f64 = text.parse().unwrap();
            prop_assert_eq!(got.map(f64::to_bits), Ok(want.to_bits()), "{}", text);
        }
    }

    #[test]
    fn timestamps_read_as_int64(ms in any::<i64>(), plus in any::<bool>()) {
        let text = if plus && ms >= 0 { format!("+{ms}") } else { ms.to_string() };
        prop_assert_eq!(parse_timestamp(text.as_bytes()).ok(), ms.checked_mul(1_000_000));
    }

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
