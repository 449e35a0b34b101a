use super::*;

fn key(m: &str, tags: &[(&str, &str)]) -> (SeriesKey, Vec<u8>) {
    let k = SeriesKey::new(m, tags.iter().copied()).unwrap();
    let mut b = Vec::new();
    k.encode_into(&mut b);
    (k, b)
}

#[test]
fn series_get_ids_and_postings_stay_sorted() {
    let mut ix = Index::default();
    let (a, ab) = key("cpu", &[("host", "a"), ("region", "eu")]);
    let (b, bb) = key("cpu", &[("host", "b"), ("region", "eu")]);
    let (c, cb) = key("mem", &[("host", "a")]);
    let ia = ix.get_or_create(&a, &ab);
    let ib = ix.get_or_create(&b, &bb);
    let ic = ix.get_or_create(&c, &cb);
    assert_eq!(ix.get_or_create(&a, &ab), ia);
    assert_eq!((ia, ib, ic), (SeriesId(0), SeriesId(1), SeriesId(2)));
    assert_eq!(ix.series_of("cpu"), &[ia, ib]);
    assert_eq!(ix.postings("cpu", "region", "eu"), &[ia, ib]);
    assert_eq!(ix.postings("cpu", "host", "a"), &[ia]);
    assert_eq!(ix.postings("cpu", "host", "zzz"), &[] as &[SeriesId]);
    assert_eq!(ix.measurements().collect::<Vec<_>>(), ["cpu", "mem"]);
    assert_eq!(ix.tag_keys("cpu"), ["host", "region"]);
    assert_eq!(ix.tag_values("cpu", "host"), ["a", "b"]);
    assert_eq!(ix.series_key(ib).unwrap(), b);
    ix.remember_raw(RawKind::LineProtocol, b"cpu,region=eu,host=b", ib);
    assert_eq!(
        ix.lookup_raw(RawKind::LineProtocol, b"cpu,region=eu,host=b"),
        Some(ib)
    );
    // Each format has its own cache: the same bytes may spell another series elsewhere.
    assert_eq!(
        ix.lookup_raw(RawKind::PromText, b"cpu,region=eu,host=b"),
        None
    );
}

#[test]
fn first_field_type_wins_and_conflicts_are_reported() {
    let mut ix = Index::default();
    let (a, ab) = key("cpu", &[("host", "a")]);
    let (b, bb) = key("cpu", &[("host", "b")]);
    let ia = ix.get_or_create(&a, &ab);
    let ib = ix.get_or_create(&b, &bb);
    assert_eq!(ix.find_column(ia, "usage", FieldType::Float), Ok(None));
    let c = ix.column_or_create(ia, "usage", FieldType::Float).unwrap();
    assert_eq!(ix.find_column(ia, "usage", FieldType::Float), Ok(Some(c)));
    // Another series of the same measurement: field exists, column not yet.
    assert_eq!(ix.find_column(ib, "usage", FieldType::Float), Ok(None));
    let err = ix
        .column_or_create(ib, "usage", FieldType::Integer)
        .unwrap_err();
    assert_eq!(err.existing, FieldType::Float);
    assert_eq!(err.attempted, FieldType::Integer);
    assert!(err.to_string().contains("\"usage\" is float"), "{err}");
    let c2 = ix.column_or_create(ib, "usage", FieldType::Float).unwrap();
    assert_ne!(c, c2);
    assert_eq!(ix.column_info(c2).unwrap().series, ib);
    assert_eq!(
        ix.fields("cpu"),
        vec![("usage".to_owned(), FieldType::Float)]
    );
    assert_eq!(ix.column_of(ib, "usage"), Some((c2, FieldType::Float)));
    assert_eq!(
        ix.columns_of(ia),
        vec![("usage".to_owned(), c, FieldType::Float)]
    );
}

/// Building from canonical bytes (a segment's directory) gives the same index as building
/// from decoded keys, and bytes that are not a canonical key are refused, leaving the
/// index as it was.
#[test]
fn canonical_bytes_build_the_same_index_and_bad_keys_are_refused() {
    let keys = [
        key("cpu", &[("host", "a"), ("region", "eu")]),
        key("cpu", &[("host", "b"), ("region", "eu")]),
        key("mem", &[("host", "a")]),
        key("up", &[]),
    ];
    let mut decoded = Index::default();
    let mut canonical = Index::default();
    for (k, b) in &keys {
        let a = decoded.get_or_create(k, b);
        assert_eq!(canonical.get_or_create_canonical(&b[..].into()).unwrap(), a);
        assert_eq!(
            canonical.get_or_create_canonical(&b[..].into()).unwrap(),
            a,
            "found again"
        );
    }
    for m in ["cpu", "mem", "up"] {
        assert_eq!(canonical.series_of(m), decoded.series_of(m));
        assert_eq!(canonical.tag_keys(m), decoded.tag_keys(m));
        for t in decoded.tag_keys(m) {
            assert_eq!(canonical.tag_values(m, &t), decoded.tag_values(m, &t));
            for v in decoded.tag_values(m, &t) {
                assert_eq!(canonical.postings(m, &t, &v), decoded.postings(m, &t, &v));
            }
        }
    }
    let part = |s: &str| {
        let mut b = vec![s.len() as u8];
        b.extend_from_slice(s.as_bytes());
        b
    };
    let join = |parts: &[&str]| parts.iter().flat_map(|p| part(p)).collect::<Vec<u8>>();
    let bad = [
        join(&["cpu", "region", "eu", "host", "a"]), // tags out of order
        join(&["cpu", "host", "a", "host", "b"]),    // duplicate key
        join(&["cpu", "host", ""]),                  // empty value
        join(&["cpu", "", "a"]),                     // empty key
        join(&["cpu", "host"]),                      // key without a value
        join(&[""]),                                 // empty measurement
        vec![9, b'c'],                               // truncated part
        vec![1, 0xff],                               // not UTF-8
    ];
    let before = canonical.series_count();
    for b in &bad {
        assert!(
            canonical.get_or_create_canonical(&b[..].into()).is_err(),
            "{b:?}"
        );
    }
    assert_eq!(canonical.series_count(), before);
    assert_eq!(canonical.tag_keys("cpu"), ["host", "region"]);
}
