//! Batch payload tests: exact round trips (hand-picked and generated), the version 1
//! layout, and damage that must be refused without a panic.

use super::*;
use proptest::prelude::*;

fn sample() -> Vec<u8> {
    let mut e = BatchEncoder::default();
    let a = e.add_series(7);
    let b = e.add_series(300_000);
    e.begin_line(a, 10);
    e.field(
        "usage",
        FieldValueRef::Float(f64::from_bits(0x7ff8_0000_0000_0abc)),
    );
    e.field("n", FieldValueRef::Integer(i64::MIN));
    e.end_line();
    e.begin_line(b, -5);
    e.field("u", FieldValueRef::Unsigned(u64::MAX));
    e.field("ok", FieldValueRef::Boolean(true));
    e.field("s", FieldValueRef::String("a \"q\"\nline"));
    e.end_line();
    let mut out = Vec::new();
    assert_eq!(e.finish_into(&mut out), [7, 300_000]);
    out
}

#[test]
fn batch_round_trips_exactly() {
    let buf = sample();
    let batch = decode_batch(&buf, SeriesNaming::Numbers).unwrap();
    assert_eq!(batch.series, SeriesTable::Numbers(vec![7, 300_000]));
    let lines = batch.lines;
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[0].series, lines[1].series), (0, 1));
    match lines[0].fields[0].1 {
        FieldValueRef::Float(v) => assert_eq!(v.to_bits(), 0x7ff8_0000_0000_0abc),
        ref other => panic!("{other:?}"),
    }
    assert_eq!(lines[0].fields[1].1, FieldValueRef::Integer(i64::MIN));
    assert_eq!(lines[1].timestamp, -5);
    assert_eq!(
        lines[1].fields[2],
        ("s", FieldValueRef::String("a \"q\"\nline"))
    );
}

#[test]
fn the_encoder_is_reset_by_finish() {
    let mut e = BatchEncoder::default();
    let s = e.add_series(1);
    e.begin_line(s, 1);
    e.field("v", FieldValueRef::Integer(1));
    e.end_line();
    let mut first = Vec::new();
    e.finish_into(&mut first);
    let s = e.add_series(2);
    e.begin_line(s, 2);
    e.field("v", FieldValueRef::Integer(2));
    e.end_line();
    let mut second = Vec::new();
    assert_eq!(e.finish_into(&mut second), [2]);
    let b = decode_batch(&second, SeriesNaming::Numbers).unwrap();
    assert_eq!(b.series, SeriesTable::Numbers(vec![2]));
    assert_eq!(b.lines.len(), 1);
}

#[test]
fn many_fields_widen_the_count() {
    let mut e = BatchEncoder::default();
    let s = e.add_series(0);
    e.begin_line(s, 1);
    for i in 0..300 {
        e.field(&format!("f{i}"), FieldValueRef::Integer(i));
    }
    e.end_line();
    let mut out = Vec::new();
    e.finish_into(&mut out);
    let lines = decode_batch(&out, SeriesNaming::Numbers).unwrap().lines;
    assert_eq!(lines[0].fields.len(), 300);
    assert_eq!(lines[0].fields[299], ("f299", FieldValueRef::Integer(299)));
}

/// A version 1 (`WriteKeys`) payload, laid out by hand as docs/FORMAT.md gives it: the
/// series table holds length-prefixed keys (the engine's `compat` tests replay a whole
/// file that the version 1 writer made).
#[test]
fn version_1_payloads_name_series_by_key() {
    let mut p = vec![2];
    for key in [&b"\x03cpu\x04host\x01a"[..], b"\x03mem"] {
        p.push(key.len() as u8);
        p.extend_from_slice(key);
    }
    p.extend_from_slice(&[1, 1]); // one line, of series 1
    p.extend_from_slice(&42i64.to_le_bytes());
    p.extend_from_slice(&[1, 1, b'v', FieldType::Integer.tag()]);
    p.extend_from_slice(&(-3i64).to_le_bytes());
    let b = decode_batch(&p, SeriesNaming::Keys).unwrap();
    assert_eq!(
        b.series,
        SeriesTable::Keys(vec![b"\x03cpu\x04host\x01a", b"\x03mem"])
    );
    assert_eq!(b.lines[0].series, 1);
    assert_eq!(b.lines[0].timestamp, 42);
    assert_eq!(b.lines[0].fields, [("v", FieldValueRef::Integer(-3))]);
    // Read as numbers, the same bytes are not a valid batch: the kinds are not
    // interchangeable.
    assert!(decode_batch(&p, SeriesNaming::Numbers).is_err());
}

#[test]
fn out_of_range_numbers_and_indices_are_refused() {
    // A series number above u32::MAX.
    let mut p = vec![1];
    put_uvarint(&mut p, 1 << 32);
    p.push(0);
    assert_eq!(
        decode_batch(&p, SeriesNaming::Numbers).map(|_| ()),
        Err((1, "series number above 2^32 - 1"))
    );
    // A line naming table entry 1 of a one-entry table.
    let mut p = vec![1, 5, 1, 1];
    p.extend_from_slice(&0i64.to_le_bytes());
    p.extend_from_slice(&[1, 1, b'v', FieldType::Boolean.tag(), 1]);
    assert_eq!(
        decode_batch(&p, SeriesNaming::Numbers).map(|_| ()),
        Err((3, "series index out of range"))
    );
    p[3] = 0;
    assert!(decode_batch(&p, SeriesNaming::Numbers).is_ok());
}

#[test]
fn truncated_or_damaged_batches_error_without_panic() {
    let buf = sample();
    for cut in 0..buf.len() {
        assert!(
            decode_batch(&buf[..cut], SeriesNaming::Numbers).is_err(),
            "cut {cut}"
        );
    }
    for i in 0..buf.len() {
        let mut bad = buf.clone();
        bad[i] = 0xff;
        let _ = decode_batch(&bad, SeriesNaming::Numbers);
        let _ = decode_batch(&bad, SeriesNaming::Keys);
    }
}

/// A generated field value, owned.
#[derive(Debug, Clone)]
enum Value {
    Float(u64),
    Integer(i64),
    Unsigned(u64),
    Boolean(bool),
    String(String),
}

impl Value {
    fn as_ref(&self) -> FieldValueRef<'_> {
        match self {
            Value::Float(bits) => FieldValueRef::Float(f64::from_bits(*bits)),
            Value::Integer(v) => FieldValueRef::Integer(*v),
            Value::Unsigned(v) => FieldValueRef::Unsigned(*v),
            Value::Boolean(v) => FieldValueRef::Boolean(*v),
            Value::String(s) => FieldValueRef::String(s),
        }
    }
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::Float),
        any::<i64>().prop_map(Value::Integer),
        any::<u64>().prop_map(Value::Unsigned),
        any::<bool>().prop_map(Value::Boolean),
        ".{0,12}".prop_map(Value::String),
    ]
}

type Line = (usize, i64, Vec<(String, Value)>);

fn batch() -> impl Strategy<Value = (Vec<u32>, Vec<Line>)> {
    proptest::collection::vec(any::<u32>(), 1..20).prop_flat_map(|ids| {
        let n = ids.len();
        let line = (
            0..n,
            any::<i64>(),
            proptest::collection::vec(("[a-z]{0,6}", value()), 1..140),
        );
        (Just(ids), proptest::collection::vec(line, 0..12))
    })
}

proptest! {
    #[test]
    fn generated_batches_round_trip_bit_for_bit((ids, lines) in batch()) {
        let mut e = BatchEncoder::with_capacity(ids.len(), lines.len());
        let slots: Vec<u64> = ids.iter().map(|&id| e.add_series(id)).collect();
        for (s, ts, fields) in &lines {
            e.begin_line(slots[*s], *ts);
            for (name, v) in fields {
                e.field(name, v.as_ref());
            }
            e.end_line();
        }
        prop_assert_eq!(e.lines(), lines.len() as u64);
        let mut out = vec![0xaa];
        let table = e.finish_into(&mut out);
        prop_assert_eq!(&table, &ids);
        let b = decode_batch(&out[1..], SeriesNaming::Numbers).unwrap();
        prop_assert_eq!(b.series, SeriesTable::Numbers(ids.clone()));
        prop_assert_eq!(b.lines.len(), lines.len());
        for (got, (s, ts, fields)) in b.lines.iter().zip(&lines) {
            prop_assert_eq!(got.series, *s);
            prop_assert_eq!(got.timestamp, *ts);
            prop_assert_eq!(got.fields.len(), fields.len());
            for (&(name, v), (want_name, want)) in got.fields.iter().zip(fields) {
                prop_assert_eq!(name, want_name.as_str());
                match (v, want.as_ref()) {
                    (FieldValueRef::Float(a), FieldValueRef::Float(b)) => {
                        prop_assert_eq!(a.to_bits(), b.to_bits())
                    }
                    (a, b) => prop_assert_eq!(a, b),
                }
            }
        }
    }
}

#[test]
fn a_finished_record_frames_the_same_payload() {
    let build = || {
        let mut e = BatchEncoder::with_capacity(2, 2);
        let a = e.add_series(9);
        e.begin_line(a, 3);
        e.field("v", FieldValueRef::Float(1.5));
        e.end_line();
        e
    };
    let mut payload = Vec::new();
    let ids = build().finish_into(&mut payload);
    let record = build().finish_record();
    assert_eq!(record.series, ids);
    match frame::decode_record(&record.frame) {
        frame::Frame::Record {
            kind,
            payload: p,
            size,
        } => {
            assert_eq!(kind, RecordKind::Write as u8);
            assert_eq!(p, payload);
            assert_eq!(size, record.frame.len());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_float_line_is_the_bytes_of_its_three_calls() {
    for (series, ts, name, v) in [
        (0u64, 0i64, "value", 0.0f64),
        (127, -1, "value", f64::NAN),
        (128, i64::MAX, "v", -1.5),
        (
            u64::from(u32::MAX),
            i64::MIN,
            &"n".repeat(200),
            f64::INFINITY,
        ),
    ] {
        let mut a = BatchEncoder::default();
        let mut b = BatchEncoder::default();
        for e in [&mut a, &mut b] {
            for id in 0..=series.min(300) {
                e.add_series(id as u32);
            }
        }
        a.begin_line(series, ts);
        a.field(name, FieldValueRef::Float(v));
        a.end_line();
        b.float_line(series, ts, name, v);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        a.finish_into(&mut x);
        b.finish_into(&mut y);
        assert_eq!(x, y, "{series} {ts} {name} {v}");
    }
}
