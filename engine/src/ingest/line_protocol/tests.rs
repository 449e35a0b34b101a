use super::*;
use crate::model::FieldValue;
use ParseErrorKind as K;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashSet};

fn parse(line: &str) -> Result<ParsedLine<'_>, ParseError> {
    parse_prec(line, Precision::Nanosecond)
}

fn parse_prec(line: &str, precision: Precision) -> Result<ParsedLine<'_>, ParseError> {
    let mut out = ParsedLine::default();
    parse_line(line.as_bytes(), precision, &mut out).map(|()| out)
}

fn value(text: &str) -> Result<ParsedValue<'_>, ParseError> {
    let mut p = parse(text)?;
    assert_eq!(p.fields.len(), 1, "{text}");
    Ok(p.fields.remove(0).1)
}

fn names(p: &ParsedLine) -> (String, Vec<(String, String)>, Vec<String>) {
    let tags = p
        .tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let fields = p.fields.iter().map(|(k, _)| k.to_string()).collect();
    (p.measurement.to_string(), tags, fields)
}

#[test]
fn parses_a_full_line_borrowing_everything() {
    let p =
        parse("cpu,host=a,region=eu usage=1.5,n=3i,ok=t,s=\"x y\" 1700000000000000000").unwrap();
    assert_eq!(p.raw_series, b"cpu,host=a,region=eu");
    assert!(matches!(p.measurement, Cow::Borrowed("cpu")));
    assert_eq!(
        p.tags,
        [("host".into(), "a".into()), ("region".into(), "eu".into())]
    );
    assert!(
        p.tags
            .iter()
            .all(|(k, v)| matches!((k, v), (Cow::Borrowed(_), Cow::Borrowed(_))))
    );
    assert_eq!(
        p.fields,
        [
            ("usage".into(), ParsedValue::Float(1.5)),
            ("n".into(), ParsedValue::Integer(3)),
            ("ok".into(), ParsedValue::Boolean(true)),
            ("s".into(), ParsedValue::String(Cow::Borrowed("x y"))),
        ]
    );
    assert_eq!(p.timestamp, Some(1_700_000_000_000_000_000));
    let p = parse("cpu f=1").unwrap();
    assert_eq!((p.raw_series, p.timestamp), (&b"cpu"[..], None));
}

#[test]
fn escapes_differ_per_element() {
    // Measurement: comma and space; `\=` stays literal.
    let p = parse(r"c\,p\ u\=x f=1").unwrap();
    assert_eq!(p.measurement, r"c,p u\=x");
    // Tag keys, tag values, field keys: comma, equals, space.
    let p = parse(r"m,k\,\=\ 1=v\,\=\ 1 f\,\=\ 1=1").unwrap();
    assert_eq!(names(&p).1, [("k,= 1".to_owned(), "v,= 1".to_owned())]);
    assert_eq!(names(&p).2, ["f,= 1"]);
    assert_eq!(p.raw_series, br"m,k\,\=\ 1=v\,\=\ 1");
    // A backslash before anything else is literal, in every element.
    let p = parse(r#"m\a,t\"=v\\ f\n="s\n" 1"#);
    assert_eq!(p.unwrap_err().reason, K::InvalidTagFormat); // `v\\ ` escapes the space
    let p = parse(r#"m\a,t\"=v\\x f\n="s\n\t" 1"#).unwrap();
    assert_eq!(
        names(&p),
        (
            r"m\a".into(),
            vec![(r#"t\""#.into(), r"v\\x".into())],
            vec![r"f\n".into()]
        )
    );
    assert_eq!(p.fields[0].1, ParsedValue::String(r"s\n\t".into()));
    // `\\,` is a literal backslash followed by an escaped comma (1.x's tag rule).
    assert_eq!(
        names(&parse(r"m,t=a\\,b f=1").unwrap()).1,
        [("t".to_owned(), r"a\,b".to_owned())]
    );
    // String values: `\"` and `\\` only.
    let v = value(r#"m f="a\"b\\c\d\\""#).unwrap();
    assert_eq!(v, ParsedValue::String(r#"a"b\c\d\"#.into()));
    assert!(matches!(
        value(r#"m f="plain""#).unwrap(),
        ParsedValue::String(Cow::Borrowed(_))
    ));
    // Quotes and other punctuation are ordinary in names.
    assert_eq!(parse(r#""m",t="v" "f"=1"#).unwrap().measurement, "\"m\"");
}

#[test]
fn every_value_type_and_spelling() {
    for (text, want) in [
        ("1", 1.0),
        ("-1", -1.0),
        ("1.", 1.0),
        (".5", 0.5),
        ("-.5", -0.5),
        ("007", 7.0),
        ("1e16", 1e16),
        ("1E16", 1e16),
        ("1e+16", 1e16),
        ("1.5e-7", 1.5e-7),
        ("1.7976931348623157e308", f64::MAX),
        ("1e-400", 0.0),
    ] {
        assert_eq!(
            value(&format!("m f={text}")),
            Ok(ParsedValue::Float(want)),
            "{text}"
        );
    }
    let bits = |t: &str| match value(&format!("m f={t}")) {
        Ok(ParsedValue::Float(v)) => v.to_bits(),
        other => panic!("{t}: {other:?}"),
    };
    assert_eq!(bits("-0.0"), (-0.0f64).to_bits());
    assert_eq!(bits("-0"), (-0.0f64).to_bits());
    assert_eq!(bits("5e-324"), 1);
    for (text, want) in [
        ("0i", 0),
        ("-0i", 0),
        ("007i", 7),
        ("9223372036854775807i", i64::MAX),
        ("-9223372036854775808i", i64::MIN),
    ] {
        assert_eq!(
            value(&format!("m f={text}")),
            Ok(ParsedValue::Integer(want)),
            "{text}"
        );
    }
    for (text, want) in [("0u", 0), ("18446744073709551615u", u64::MAX)] {
        assert_eq!(
            value(&format!("m f={text}")),
            Ok(ParsedValue::Unsigned(want))
        );
    }
    for (spellings, want) in [
        ("t T true True TRUE", true),
        ("f F false False FALSE", false),
    ] {
        for text in spellings.split(' ') {
            assert_eq!(
                value(&format!("m f={text}")),
                Ok(ParsedValue::Boolean(want)),
                "{text}"
            );
        }
    }
    assert_eq!(value("m f=\"\""), Ok(ParsedValue::String("".into())));
    assert_eq!(
        value("m f=\"a\nb, c=d\""),
        Ok(ParsedValue::String("a\nb, c=d".into()))
    );
    let v = value("m f=3u").unwrap();
    assert_eq!(
        (v.field_type(), v.as_ref(), v.to_owned_value()),
        (
            FieldType::Unsigned,
            FieldValueRef::Unsigned(3),
            FieldValue::Unsigned(3)
        )
    );
}

#[test]
fn each_error_kind_with_its_column() {
    let cases: &[(&str, usize, K)] = &[
        ("", 1, K::MissingMeasurement),
        (",t=1 f=1", 1, K::MissingMeasurement),
        ("  ,t=1 f=1", 3, K::MissingMeasurement),
        ("cpu", 4, K::MissingFields),
        ("cpu  ", 4, K::MissingFields),
        ("cpu,host=a", 11, K::MissingFields),
        ("cpu,=a f=1", 5, K::MissingTagKey),
        ("cpu, f=1", 5, K::MissingTagKey),
        ("cpu,a=1, f=1", 9, K::MissingTagKey),
        ("cpu,host f=1", 9, K::MissingTagValue),
        ("cpu,host", 9, K::MissingTagValue),
        ("cpu,host= f=1", 10, K::MissingTagValue),
        ("cpu,host=,x=1 f=1", 10, K::MissingTagValue),
        ("cpu,host=a=b f=1", 11, K::InvalidTagFormat),
        (
            "cpu,a=1,b=2,a=3 f=1",
            13,
            K::DuplicateTag { key: "a".into() },
        ),
        (
            r"cpu,a\ b=1,a\ b=2 f=1",
            12,
            K::DuplicateTag { key: "a b".into() },
        ),
        ("cpu =1", 5, K::MissingFieldKey),
        ("cpu f=1,=2", 9, K::MissingFieldKey),
        ("cpu f=1,", 9, K::MissingFieldKey),
        ("cpu f", 6, K::InvalidFieldFormat),
        ("cpu f=1,g 5", 10, K::InvalidFieldFormat),
        ("cpu f=\"a\"b", 10, K::InvalidFieldFormat),
        ("cpu f=", 7, K::MissingFieldValue),
        ("cpu f=,g=1", 7, K::MissingFieldValue),
        ("cpu f= 1", 7, K::MissingFieldValue),
        ("cpu f=\"abc", 7, K::UnbalancedQuotes),
        ("cpu f=\"abc\\\"", 7, K::UnbalancedQuotes),
        ("cpu f=1 12a", 9, K::InvalidTimestamp),
        ("cpu f=1 1.5", 9, K::InvalidTimestamp),
        ("cpu f=1 -", 9, K::InvalidTimestamp),
        ("cpu f=1 +5", 9, K::InvalidTimestamp),
        ("cpu f=1 99999999999999999999", 9, K::TimestampOutOfRange),
        ("cpu f=1 1 2", 11, K::ExtraData),
        ("cpu f=1  1   x ", 14, K::ExtraData),
        ("héllo,t=ü f=x", 13, K::InvalidBoolean),
    ];
    for (line, column, kind) in cases {
        let got = parse(line).map(|_| ()).unwrap_err();
        assert_eq!((got.column, &got.reason), (*column, kind), "{line:?}");
    }
    for (text, kind) in [
        ("1.2.3", K::InvalidNumber),
        ("1x", K::InvalidNumber),
        ("-", K::InvalidNumber),
        (".", K::InvalidNumber),
        ("1e", K::InvalidNumber),
        ("1e+", K::InvalidNumber),
        ("+1", K::InvalidNumber),
        ("0x10", K::InvalidNumber),
        ("1_000", K::InvalidNumber),
        ("NaN", K::InvalidNumber),
        ("nan", K::InvalidNumber),
        ("inf", K::InvalidNumber),
        ("Infinity", K::InvalidNumber),
        ("-Inf", K::InvalidNumber),
        ("1.5i", K::InvalidNumber),
        ("1e3i", K::InvalidNumber),
        ("1i2", K::InvalidNumber),
        ("i", K::InvalidNumber),
        ("-i", K::InvalidNumber),
        ("1.5u", K::InvalidNumber),
        ("-u", K::InvalidNumber),
        ("9223372036854775808i", K::IntegerOutOfRange),
        ("-9223372036854775809i", K::IntegerOutOfRange),
        ("18446744073709551616u", K::UnsignedOutOfRange),
        ("-1u", K::NegativeUnsigned),
        ("-0u", K::NegativeUnsigned),
        ("1e309", K::FloatOutOfRange),
        ("-1e309", K::FloatOutOfRange),
        ("tru", K::InvalidBoolean),
        ("yes", K::InvalidBoolean),
        ("tRUE", K::InvalidBoolean),
        ("e5", K::InvalidBoolean),
    ] {
        let got = value(&format!("cpu f={text}")).unwrap_err();
        assert_eq!((got.column, got.reason), (7, kind), "{text:?}");
    }
    let bad = b"cpu f=\"\xff\" 1";
    let got = parse_line(bad, Precision::Nanosecond, &mut ParsedLine::default()).unwrap_err();
    assert_eq!((got.column, got.reason), (8, K::InvalidUtf8));
    let got = parse_line(
        b"\xc3\xbc\xff f=1",
        Precision::Nanosecond,
        &mut ParsedLine::default(),
    )
    .unwrap_err();
    assert_eq!(got.column, 2);
    assert_eq!(got.to_string(), "column 2: invalid UTF-8");
}

#[test]
fn whitespace_timestamps_and_precision() {
    let p = parse("\t  cpu,t=a   f=1,g=2i    -5 \t ").unwrap();
    assert_eq!((p.raw_series, p.timestamp), (&b"cpu,t=a"[..], Some(-5)));
    assert_eq!(parse("cpu f=1 \t").unwrap().timestamp, None);
    // A tab is not a separator: it belongs to the next name.
    assert_eq!(names(&parse("cpu \tf=1").unwrap()).2, ["\tf"]);
    for (precision, want) in [
        (Precision::Nanosecond, 5),
        (Precision::Microsecond, 5_000),
        (Precision::Millisecond, 5_000_000),
        (Precision::Second, 5_000_000_000),
        (Precision::Minute, 300_000_000_000),
        (Precision::Hour, 18_000_000_000_000),
    ] {
        assert_eq!(
            parse_prec("cpu f=1 5", precision).unwrap().timestamp,
            Some(want)
        );
        assert_eq!(
            parse_prec("cpu f=1 -5", precision).unwrap().timestamp,
            Some(-want)
        );
    }
    let max = "cpu f=1 9223372036854775807";
    assert_eq!(parse(max).unwrap().timestamp, Some(i64::MAX));
    assert_eq!(
        parse("cpu f=1 -9223372036854775808").unwrap().timestamp,
        Some(i64::MIN)
    );
    let err = parse_prec(max, Precision::Millisecond).unwrap_err();
    assert_eq!((err.column, err.reason), (9, K::TimestampOutOfRange));
    let err = parse_prec("cpu f=1 -2562048", Precision::Hour).unwrap_err();
    assert_eq!(err.reason, K::TimestampOutOfRange);
}

#[test]
fn duplicate_field_keys_keep_the_last_value_in_the_first_place() {
    let p = parse("m a=1i,b=2i,a=\"x\",b=3i,c=t 1").unwrap();
    assert_eq!(
        p.fields,
        [
            ("a".into(), ParsedValue::String("x".into())),
            ("b".into(), ParsedValue::Integer(3)),
            ("c".into(), ParsedValue::Boolean(true)),
        ]
    );
    let p = parse(r"m a\ b=1,a\ b=2").unwrap();
    assert_eq!(p.fields, [("a b".into(), ParsedValue::Float(2.0))]);
    // Past 32 names a hash index takes over; it must agree with the small path.
    let many: Vec<String> = (0..5000).map(|i| format!("f{}={i}i", i % 3000)).collect();
    let line = format!("m {}", many.join(","));
    let p = parse(&line).unwrap();
    assert_eq!(p.fields.len(), 3000);
    assert_eq!(p.fields[7], ("f7".into(), ParsedValue::Integer(3007)));
    assert_eq!(p.fields[2999], ("f2999".into(), ParsedValue::Integer(2999)));
    let tags: Vec<String> = (0..100).map(|i| format!("t{i}=v")).collect();
    let line = format!("m,{},t64=x f=1", tags.join(","));
    let err = parse(&line).unwrap_err();
    assert_eq!(err.reason, K::DuplicateTag { key: "t64".into() });
    assert_eq!(err.column, line.find(",t64=x").unwrap() + 2);
}

#[test]
fn parse_points_reports_bad_lines_and_keeps_going() {
    let batch = b"cpu,b=2,a=1 f=1 10\ncpu f=\ncpu g=2i\n# done\nm f=1,g";
    let (points, errors) = parse_points(batch, Precision::Second, 77);
    assert_eq!(points.len(), 2);
    assert_eq!(
        points[0].series,
        SeriesKey::new("cpu", [("a", "1"), ("b", "2")]).unwrap()
    );
    assert_eq!(
        (points[0].timestamp, points[1].timestamp),
        (10_000_000_000, 77)
    );
    assert_eq!(points[1].fields, [("g".to_owned(), FieldValue::Integer(2))]);
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        shown,
        [
            "line 2, column 7: missing field value",
            "line 5, column 8: invalid field format"
        ]
    );
    let p = parse("cpu,z=1,a=2 f=1").unwrap();
    assert_eq!(series_key(&p).unwrap().to_string(), "cpu,a=2,z=1");
}

fn name() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        4 => prop::char::range('a', 'e'),
        1 => any::<char>(),
        1 => prop::sample::select(vec![',', ' ', '=', '"', '\\', '#', '\t', '\r', '\n', 'é']),
    ];
    prop::collection::vec(c, 1..8).prop_map(|cs| {
        // Make it representable (see `writer_refuses_what_line_protocol_cannot_say`).
        let mut s: String = cs.into_iter().filter(|&c| c != '\n').collect();
        if s.is_empty() || s.ends_with('\\') {
            s.push('z');
        }
        s
    })
}

fn field_value() -> impl Strategy<Value = FieldValue> {
    let finite = any::<u64>()
        .prop_map(f64::from_bits)
        .prop_filter("finite", |v| v.is_finite());
    let special = prop::sample::select(vec![
        0.0,
        -0.0,
        5e-324,
        -5e-324,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        1e16,
        1e-7,
        123456789.0,
    ]);
    let text = prop::collection::vec(
        prop_oneof![
            any::<char>(),
            prop::sample::select(vec!['"', '\\', '\n', '\r', ' ', ',', '='])
        ],
        0..10,
    )
    .prop_map(|cs| cs.into_iter().collect::<String>());
    prop_oneof![
        finite.prop_map(FieldValue::Float),
        special.prop_map(FieldValue::Float),
        any::<i64>().prop_map(FieldValue::Integer),
        prop::sample::select(vec![i64::MIN, i64::MAX, 0, -1]).prop_map(FieldValue::Integer),
        any::<u64>().prop_map(FieldValue::Unsigned),
        Just(FieldValue::Unsigned(u64::MAX)),
        any::<bool>().prop_map(FieldValue::Boolean),
        text.prop_map(FieldValue::String),
    ]
}

fn point() -> impl Strategy<Value = Point> {
    let measurement = name().prop_map(|m| {
        if m.starts_with(['#', '\t']) {
            format!("m{m}")
        } else {
            m
        }
    });
    let tags = prop::collection::btree_map(name(), name(), 0..4);
    let fields = prop::collection::vec((name(), field_value()), 1..5);
    (measurement, tags, fields, any::<i64>()).prop_map(
        |(m, tags, fields, ts): (String, BTreeMap<_, _>, Vec<_>, i64)| {
            let mut seen = HashSet::new();
            let fields = fields
                .into_iter()
                .filter(|(k, _)| seen.insert(k.clone()))
                .collect();
            Point::new(SeriesKey::new(m, tags).unwrap(), fields, ts)
        },
    )
}

fn same_point(a: &Point, b: &Point) -> bool {
    a.series == b.series
        && a.timestamp == b.timestamp
        && a.fields.len() == b.fields.len()
        && a.fields
            .iter()
            .zip(&b.fields)
            .all(|((ka, va), (kb, vb))| ka == kb && va.bit_eq(vb))
}

/// Writes `p` back (timestamp 0 when absent), checks that it is one line which parses
/// to the same values (floats bit for bit), and returns the text.
fn rewrite(p: &ParsedLine) -> Vec<u8> {
    let mut written = Vec::new();
    let tags = p.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref()));
    let fields = p.fields.iter().map(|(k, v)| (k.as_ref(), v.as_ref()));
    let ts = p.timestamp.unwrap_or(0);
    write_line(&mut written, &p.measurement, tags, fields, ts).unwrap();
    let lines: Vec<_> = LineSplitter::new(&written).collect();
    assert_eq!(lines.len(), 1, "{:?}", String::from_utf8_lossy(&written));
    let mut again = ParsedLine::default();
    parse_line(lines[0].1, Precision::Nanosecond, &mut again).unwrap();
    assert_eq!(
        (&again.measurement, &again.tags, again.timestamp),
        (&p.measurement, &p.tags, Some(ts))
    );
    let owned = |l: &ParsedLine| {
        l.fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_owned_value()))
            .collect::<Vec<_>>()
    };
    let (got, want) = (owned(&again), owned(p));
    assert_eq!(got.len(), want.len());
    assert!(
        got.iter()
            .zip(&want)
            .all(|(a, b)| a.0 == b.0 && a.1.bit_eq(&b.1)),
        "{got:?} != {want:?}"
    );
    written
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn write_then_parse_gives_the_same_points(points in prop::collection::vec(point(), 1..4)) {
        let mut batch = Vec::new();
        for p in &points {
            write_point(&mut batch, p).unwrap();
        }
        let (parsed, errors) = parse_points(&batch, Precision::Nanosecond, 0);
        prop_assert!(errors.is_empty(), "{errors:?} in {:?}", String::from_utf8_lossy(&batch));
        prop_assert_eq!(parsed.len(), points.len());
        for (got, want) in parsed.iter().zip(&points) {
            prop_assert!(same_point(got, want), "{got:?} != {want:?}");
        }
    }

    /// The write path's shortcut for known series: wherever `parse_line` succeeds, the
    /// series span is exactly its `raw_series`, and parsing only what follows it gives the
    /// same fields and timestamp; where it fails, the shortcut fails too (or the span is
    /// one no successful parse produced, so no cache can hold it).
    #[test]
    fn parsing_after_a_known_series_agrees_with_the_full_parse(
        points in prop::collection::vec(point(), 1..4),
        noise in prop::collection::vec(prop_oneof![
            4 => prop::sample::select(vec![
                "m", "cpu", ",", " ", "=", "\"", "\\", "\t", "#", "t", "1", "-", ".", "e", "i",
                "x=1", " 5", ",a=b", "\\ ", "\\,",
            ]).prop_map(|s| s.as_bytes().to_vec()),
            1 => any::<u8>().prop_map(|b| vec![b]),
        ], 0..30),
    ) {
        let mut batch = Vec::new();
        for p in &points {
            write_point(&mut batch, p).unwrap();
        }
        batch.extend_from_slice(&noise.concat());
        let (mut full, mut fast) = (ParsedLine::default(), ParsedLine::default());
        for (_, line) in LineSplitter::new(&batch) {
            let ok = parse_line(line, Precision::Microsecond, &mut full).is_ok();
            let span = series_span(line);
            if ok {
                let (start, end) = span.expect("a line that parses has a series span");
                prop_assert_eq!(&line[start..end], full.raw_series);
                prop_assert!(parse_after_series(line, None, end, Precision::Microsecond, &mut fast));
                prop_assert_eq!(&fast.fields, &full.fields);
                prop_assert_eq!(fast.timestamp, full.timestamp);
                // The same with the line's text given (a batch checked as a whole).
                let text = std::str::from_utf8(line).ok();
                prop_assert!(parse_after_series(line, text, end, Precision::Microsecond, &mut fast));
                prop_assert_eq!(&fast.fields, &full.fields);
                prop_assert_eq!(fast.timestamp, full.timestamp);
            } else if let Some((start, end)) = span {
                // The cache holds only spans of lines that parsed: if these bytes are such
                // a span, the rest of this line must be what fails.
                let known = format!("{} f=1", String::from_utf8_lossy(&line[start..end]));
                let mut probe = ParsedLine::default();
                if parse_line(known.as_bytes(), Precision::Microsecond, &mut probe).is_ok()
                    && probe.raw_series == &line[start..end]
                {
                    prop_assert!(!parse_after_series(line, None, end, Precision::Microsecond, &mut fast));
                }
            }
        }
    }

    /// The fuzz target's property, on line-protocol-shaped noise.
    #[test]
    fn noise_never_panics_and_what_parses_round_trips(parts in prop::collection::vec(prop_oneof![
        4 => prop::sample::select(vec![
            "m", "cpu", ",", " ", "=", "\"", "\\", "\n", "\r", "\t", "#", "t", "F", "1", "-",
            ".", "e", "i", "u", "é", "x=1", " 5", ",a=b",
        ]).prop_map(|s| s.as_bytes().to_vec()),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ], 0..40)) {
        let bytes = parts.concat();
        let mut out = ParsedLine::default();
        for precision in [Precision::Nanosecond, Precision::Hour] {
            for (_, line) in LineSplitter::new(&bytes) {
                if parse_line(line, precision, &mut out).is_ok() {
                    rewrite(&out);
                }
            }
        }
    }
}

#[test]
fn tsbs_file_parses_and_round_trips_exactly() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/tsbs_cpu_only_scale100_6h.lp.zst"
    );
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let batch = zstd::stream::decode_all(file).unwrap();
    let (mut lines, mut fields) = (0, 0);
    let mut parsed = ParsedLine::default();
    for (n, line) in LineSplitter::new(&batch) {
        parse_line(line, Precision::Nanosecond, &mut parsed)
            .unwrap_or_else(|e| panic!("line {n}: {e}"));
        let integers = parsed
            .fields
            .iter()
            .filter(|(_, v)| matches!(v, ParsedValue::Integer(_)));
        assert_eq!(integers.count(), 10, "line {n}");
        lines += 1;
        fields += parsed.fields.len();
        let written = rewrite(&parsed);
        assert_eq!(written.strip_suffix(b"\n"), Some(line), "line {n}");
    }
    assert_eq!((lines, fields), (216_000, 2_160_000));
}
