use super::*;
use crate::partial::select::{
    GroupPartial, MeasurementPartial, NodeAnswer, NodeStatement, decode_answer, encode_answer,
};
use proptest::prelude::*;

fn num() -> impl Strategy<Value = Num> {
    prop_oneof![
        any::<u64>().prop_map(|b| Num::F(f64::from_bits(b))),
        any::<i64>().prop_map(Num::I),
        any::<u64>().prop_map(Num::U),
        ".{0,8}".prop_map(Num::S),
        any::<bool>().prop_map(Num::B),
    ]
}

fn f() -> impl Strategy<Value = f64> {
    any::<u64>().prop_map(f64::from_bits)
}

fn sketch() -> impl Strategy<Value = Sketch> {
    proptest::collection::vec(f(), 0..200).prop_map(|vals| {
        let mut s = Sketch::new();
        for v in vals {
            s.add(v);
        }
        s
    })
}

fn state() -> impl Strategy<Value = State> {
    prop_oneof![
        any::<u64>().prop_map(State::Count),
        (f(), any::<i128>(), any::<u64>()).prop_map(|(f, i, n)| State::Sum { f, i, n }),
        (f(), any::<u64>()).prop_map(|(sum, n)| State::Mean { sum, n }),
        (
            proptest::option::of((num(), any::<i64>())),
            proptest::option::of((num(), any::<i64>()))
        )
            .prop_map(|(min, max)| State::MinMax { min, max }),
        (any::<u64>(), f(), f()).prop_map(|(n, mean, m2)| State::Moments { n, mean, m2 }),
        proptest::option::of((any::<i64>(), num())).prop_map(State::Point),
        (
            proptest::option::of((any::<i64>(), f())),
            proptest::option::of((any::<i64>(), f())),
            proptest::option::of(f()),
            f(),
            proptest::option::of(f())
        )
            .prop_map(|(first, last, prev, inc, merged)| State::Counter {
                first,
                last,
                prev,
                inc,
                merged
            }),
        proptest::collection::vec((any::<i64>(), num()), 0..20).prop_map(State::Values),
        proptest::collection::vec((f(), f()), 0..10).prop_map(State::Hist),
        proptest::option::of(f()).prop_map(State::Area),
        proptest::collection::vec((num(), any::<u64>(), any::<i64>()), 0..10)
            .prop_map(State::Counts),
        sketch().prop_map(State::Sketch),
    ]
}

/// Equality that compares floats by bits, so NaN payloads count.
fn same(a: &State, b: &State) -> bool {
    format!("{a:?}") == format!("{b:?}") && encode_state(a) == encode_state(b)
}

proptest! {
    #[test]
    fn every_state_round_trips(s in state()) {
        let bytes = encode_state(&s);
        let back = decode_state(&bytes).unwrap();
        prop_assert!(same(&s, &back), "{s:?} != {back:?}");
    }

    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(s) = decode_state(&bytes) {
            // What decodes re-encodes to the same bytes (one encoding per state).
            prop_assert_eq!(encode_state(&s), bytes.clone());
        }
        let _ = decode_answer(&bytes);
    }

    #[test]
    fn truncated_encodings_are_errors(s in state(), cut in any::<prop::sample::Index>()) {
        let bytes = encode_state(&s);
        let at = cut.index(bytes.len());
        prop_assert!(decode_state(&bytes[..at]).is_err());
    }

    #[test]
    fn answers_round_trip(states in proptest::collection::vec(state(), 0..6), tag in ".{0,6}") {
        let n = states.len();
        let a: NodeAnswer = Ok(vec![
            NodeStatement::States(vec![MeasurementPartial {
                name: "cpu".into(),
                tag_keys: vec!["host".into(), "node".into()],
                fields: vec![("usage".into(), strata_engine::model::FieldType::Float)],
                slots: vec![(AggKind::Percentile(99.0), "usage".into())],
                start: -5,
                interval: 10,
                n,
                groups: vec![GroupPartial { tags: vec![("host".into(), tag)], states }],
            }]),
            NodeStatement::Error("boom".into()),
        ]);
        let back = decode_answer(&encode_answer(&a)).unwrap();
        prop_assert_eq!(format!("{a:?}"), format!("{back:?}"));
    }

    /// Merging is the same whether states meet on one node or after the wire: a sketch
    /// of a union is the merge of the parts' sketches.
    #[test]
    fn sketches_merge_like_their_union(a in proptest::collection::vec(-1e6f64..1e6, 0..300),
                                       b in proptest::collection::vec(-1e6f64..1e6, 0..300)) {
        let (mut x, mut y, mut all) = (Sketch::new(), Sketch::new(), Sketch::new());
        for v in &a { x.add(*v); all.add(*v); }
        for v in &b { y.add(*v); all.add(*v); }
        let wire = |s: &Sketch| decode_state(&encode_state(&State::Sketch(s.clone()))).unwrap();
        let State::Sketch(mut x2) = wire(&x) else { unreachable!() };
        let State::Sketch(y2) = wire(&y) else { unreachable!() };
        x2.merge(&y2);
        prop_assert_eq!(x2, all);
    }
}

#[test]
fn large_value_sets_travel_as_sketches_and_small_ones_exactly() {
    let small = State::Values((0..10).map(|i| (i, Num::F(i as f64))).collect());
    assert!(
        matches!(small.clone().for_wire(AggKind::Percentile(50.0)), State::Values(v) if v.len() == 10)
    );
    let big = State::Values((0..5000).map(|i| (i, Num::F(i as f64))).collect());
    let wire = big.for_wire(AggKind::Percentile(95.0));
    let bytes = encode_state(&wire);
    assert!(matches!(wire, State::Sketch(_)));
    // 5000 points in well under a kilobyte: proportional to the value range's buckets.
    assert!(bytes.len() < 1500, "{} bytes", bytes.len());
    let modes = State::Values(vec![(5, Num::I(2)), (1, Num::I(1)), (3, Num::I(2))]);
    assert_eq!(
        modes.for_wire(AggKind::Mode),
        State::Counts(vec![(Num::I(1), 1, 1), (Num::I(2), 2, 3)])
    );
}

#[test]
fn varints_reject_overlong_input() {
    let mut r = Reader::new(&[0xff; 11]);
    assert!(r.u64().is_err());
    let mut r = Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]);
    assert!(r.u64().is_err());
    let mut w = Writer::default();
    w.u64(u64::MAX);
    w.i64(i64::MIN);
    let mut r = Reader::new(&w.buf);
    assert_eq!((r.u64().unwrap(), r.i64().unwrap()), (u64::MAX, i64::MIN));
}
