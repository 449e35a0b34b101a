use super::*;
use proptest::prelude::*;

fn l(p: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(p.iter().map(|(a, b)| (a.to_string(), b.to_string())))
}

fn rules(yaml: &str) -> Vec<RelabelConfig> {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn replace_with_defaults_and_groups() {
    let r = rules(
        r#"
- source_labels: [a]
  regex: "f(.*)"
  target_label: d
  replacement: "ch${1}-ch${1}"
"#,
    );
    assert_eq!(
        process(&l(&[("a", "foo"), ("b", "bar")]), &r),
        Some(l(&[("a", "foo"), ("b", "bar"), ("d", "choo-choo")]))
    );
    // No match: nothing changes.
    assert_eq!(process(&l(&[("a", "boo")]), &r), Some(l(&[("a", "boo")])));
    // Defaults: regex (.*), replacement $1, separator ;.
    let r = rules("- source_labels: [a, b]\n  target_label: c\n");
    assert_eq!(
        process(&l(&[("a", "x"), ("b", "y")]), &r),
        Some(l(&[("a", "x"), ("b", "y"), ("c", "x;y")]))
    );
    // An empty result deletes the target label.
    let r = rules("- source_labels: [missing]\n  target_label: a\n");
    assert_eq!(
        process(&l(&[("a", "x"), ("b", "y")]), &r),
        Some(l(&[("b", "y")]))
    );
    // `$1x` is the group named 1x, which does not exist: empty, so deleted.
    let r =
        rules("- source_labels: [a]\n  regex: '(.*)'\n  target_label: b\n  replacement: '$1x'\n");
    assert_eq!(
        process(&l(&[("a", "v"), ("b", "old")]), &r),
        Some(l(&[("a", "v")]))
    );
    // A target built from a group; an invalid one deletes the literal target label.
    let r = rules("- source_labels: [a]\n  regex: '(.*)'\n  target_label: 'x_$1'\n");
    assert_eq!(
        process(&l(&[("a", "v")]), &r),
        Some(l(&[("a", "v"), ("x_v", "v")]))
    );
    assert_eq!(process(&l(&[("a", "-")]), &r), Some(l(&[("a", "-")])));
}

#[test]
fn keep_drop_and_equal() {
    let keep = rules("- source_labels: [a]\n  regex: 'f.*'\n  action: keep\n");
    assert!(process(&l(&[("a", "foo")]), &keep).is_some());
    assert!(process(&l(&[("a", "xfoo")]), &keep).is_none(), "anchored");
    let drop = rules("- source_labels: [a]\n  regex: 'f.*'\n  action: drop\n");
    assert!(process(&l(&[("a", "foo")]), &drop).is_none());
    assert!(process(&l(&[("a", "bar")]), &drop).is_some());
    let ke = rules("- source_labels: [a]\n  target_label: b\n  action: keepequal\n");
    assert!(process(&l(&[("a", "1"), ("b", "1")]), &ke).is_some());
    assert!(process(&l(&[("a", "1"), ("b", "2")]), &ke).is_none());
    let de = rules("- source_labels: [a]\n  target_label: b\n  action: dropequal\n");
    assert!(process(&l(&[("a", "1"), ("b", "1")]), &de).is_none());
}

#[test]
fn hashmod_matches_prometheus() {
    // Values from Prometheus' relabel_test.go ("hashmod" cases).
    let r = rules("- source_labels: [c]\n  target_label: d\n  action: hashmod\n  modulus: 1000\n");
    assert_eq!(
        process(&l(&[("a", "foo"), ("b", "bar"), ("c", "baz")]), &r)
            .and_then(|x| x.get("d").map(str::to_owned)),
        Some("976".into())
    );
    let r = rules("- source_labels: [c]\n  target_label: d\n  action: hashmod\n  modulus: 2\n");
    assert_eq!(
        process(&l(&[("c", "foo")]), &r).and_then(|x| x.get("d").map(str::to_owned)),
        Some("0".into())
    );
}

#[test]
fn labelmap_labeldrop_labelkeep_case() {
    let r = rules("- regex: '__meta_(.+)'\n  action: labelmap\n");
    assert_eq!(
        process(&l(&[("__meta_x", "1"), ("y", "2")]), &r),
        Some(l(&[("__meta_x", "1"), ("x", "1"), ("y", "2")]))
    );
    let r = rules("- regex: '__meta_.*'\n  action: labeldrop\n");
    assert_eq!(
        process(&l(&[("__meta_x", "1"), ("y", "2")]), &r),
        Some(l(&[("y", "2")]))
    );
    let r = rules("- regex: 'y|z'\n  action: labelkeep\n");
    assert_eq!(
        process(&l(&[("x", "1"), ("y", "2")]), &r),
        Some(l(&[("y", "2")]))
    );
    let r = rules("- source_labels: [a]\n  target_label: b\n  action: uppercase\n");
    assert_eq!(
        process(&l(&[("a", "aBc")]), &r).unwrap().get("b"),
        Some("ABC")
    );
    let r = rules("- source_labels: [a]\n  target_label: b\n  action: lowercase\n");
    assert_eq!(
        process(&l(&[("a", "aBc")]), &r).unwrap().get("b"),
        Some("abc")
    );
    // Dropping every label drops the set.
    let r = rules("- regex: '.*'\n  action: labeldrop\n");
    assert_eq!(process(&l(&[("a", "1")]), &r), None);
}

#[test]
fn validation_errors_are_prometheus_words() {
    let e = |y: &str| RelabelConfig::from_yaml(y).unwrap_err();
    assert!(e("action: hashmod\ntarget_label: x\n").contains("requires non-zero modulus"));
    assert!(e("action: replace\n").contains("requires 'target_label' value"));
    assert!(e("action: replace\ntarget_label: '1x'\n").contains("is invalid 'target_label'"));
    assert!(
        e("action: labeldrop\nregex: x\nsource_labels: [a]\n").contains("requires only 'regex'")
    );
    assert!(e("action: lowercase\ntarget_label: x\nreplacement: y\n").contains("can not be set"));
    assert!(e("action: nonsense\n").contains("unknown variant"));
    assert!(e("regex: '('\ntarget_label: x\n").contains("regex"));
    assert!(e("target: x\n").contains("unknown field `target`"));
}

proptest! {
    /// An escaped value is matched whole and only whole: anchoring holds for any text.
    #[test]
    fn escaped_regex_matches_exactly(v in "\\PC{0,12}", extra in "\\PC{1,3}") {
        let re = AnchoredRegex::new(&regex::escape(&v)).unwrap();
        prop_assert!(re.is_match(&v));
        let longer = format!("{v}{extra}");
        prop_assert!(!re.is_match(&longer));
    }

    /// Replace with the defaults copies the joined source values for any label values,
    /// and the result is always a valid, sorted label set.
    #[test]
    fn default_replace_copies(a in "\\PC{1,10}", b in "\\PC{1,10}") {
        let r = rules("- source_labels: [a, b]\n  target_label: t\n");
        let out = process(&l(&[("a", &a), ("b", &b)]), &r).unwrap();
        let joined = format!("{a};{b}");
        prop_assert_eq!(out.get("t"), Some(joined.as_str()));
        prop_assert!(out.0.windows(2).all(|w| w[0].0 < w[1].0));
    }

    /// Arbitrary regexes and replacements never panic; a failure to compile is an error.
    #[test]
    fn arbitrary_rules_never_panic(re in "\\PC{0,8}", rep in "[$a-z0-9{}]{0,8}", v in "\\PC{0,8}") {
        if let Ok(re) = AnchoredRegex::new(&re) {
            let c = RelabelConfig {
                source_labels: vec!["a".into()],
                separator: ";".into(),
                regex: re,
                modulus: 0,
                target_label: "t".into(),
                replacement: rep,
                action: Action::Replace,
            };
            let _ = process(&l(&[("a", &v)]), &[c]);
        }
    }
}
