use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn data(value: f64) -> Data {
    let labels: BTreeMap<String, String> = [("__name__", "m"), ("instance", "i"), ("job", "j")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    Data {
        labels,
        external_labels: [("dc".to_string(), "eu".to_string())].into_iter().collect(),
        external_url: "http://h:9090".into(),
        value,
    }
}

fn run(text: &str, v: f64) -> String {
    let t = parse("__alert_A", text).unwrap_or_else(|e| panic!("{text}: {e}"));
    expand(&t, &data(v)).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Outputs checked against Prometheus 2.42 (`promtool test rules` on the same
/// templates, $value = 1234567).
#[test]
fn outputs_match_prometheus() {
    let v = 1_234_567.0;
    assert_eq!(run("{{ $value }}", v), "1.234567e+06");
    assert_eq!(
        run(
            "{{ humanize $value }}|{{ $value | humanize1024 }}|{{ humanizePercentage $value }}|{{ humanizeDuration $value }}",
            v
        ),
        "1.235M|1.177Mi|1.235e+08%|14d 6h 56m 7s"
    );
    assert_eq!(
        run(
            r#"{{ printf "%.2f" $value }}|{{ printf "%d" 3 }}|{{ printf "%s-%v" $labels.job $value }}|{{ printf "%5.1f|%-4s|%x" $value "ab" 255 }}"#,
            v
        ),
        "1234567.00|3|j-1.234567e+06|1234567.0|ab  |ff"
    );
    assert_eq!(
        run(
            "[{{ $labels.missing }}]{{ if gt $value 100.0 }}big{{ else }}small{{ end }}{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
            v
        ),
        "[]big__name__=m;instance=i;job=j;"
    );
    assert_eq!(
        run(
            r#"{{ $externalLabels.dc }} {{ .Value }} {{ toUpper "ab" }} {{ title "foo bar" }} {{ reReplaceAll "a(b)" "x$1" "cab" }}"#,
            v
        ),
        "eu 1.234567e+06 AB Foo Bar cxb"
    );
    assert_eq!(
        run(
            "{{ humanizeTimestamp 1700000000.5 }}|{{ humanize 0.000012345 }}|{{ humanizeDuration 0.0123 }}|{{ humanizeDuration 93784 }}|{{ humanize 0 }}",
            v
        ),
        "2023-11-14 22:13:20.5 +0000 UTC|12.35u|12.3ms|1d 2h 3m 4s|0"
    );
    assert_eq!(
        run(
            r#"{{ 1e21 }} {{ 1.5 }} {{ 100000000.0 }} {{ 3 }} {{ "s" }} {{ true }}"#,
            v
        ),
        "1e+21 1.5 1e+08 3 s true"
    );
}

#[test]
fn control_flow_variables_and_trimming() {
    assert_eq!(run("a  {{- 1 -}}  b", 0.0), "a1b");
    assert_eq!(run("{{/* note */}}x", 0.0), "x");
    assert_eq!(run("{{ $x := 2 }}{{ $x }}{{ $x = 3 }}{{ $x }}", 0.0), "23");
    assert_eq!(
        run(
            "{{ if eq $labels.job \"j\" \"k\" }}y{{ else if true }}n{{ end }}",
            0.0
        ),
        "y"
    );
    assert_eq!(
        run(
            "{{ if lt $value 1.0 }}low{{ else if lt $value 10.0 }}mid{{ else }}high{{ end }}",
            5.0
        ),
        "mid"
    );
    assert_eq!(run("{{ with $labels.job }}<{{ . }}>{{ end }}", 0.0), "<j>");
    assert_eq!(
        run("{{ with $labels.nope }}x{{ else }}none{{ end }}", 0.0),
        "none"
    );
    assert_eq!(run("{{ (humanize $value) | toUpper }}", 2500.0), "2.5K");
    assert_eq!(
        run(
            "{{ and 1 0 }} {{ or 0 \"x\" }} {{ not false }} {{ len $labels }}",
            0.0
        ),
        "0 x true 3"
    );
    assert_eq!(run("{{ index $labels \"job\" }}", 0.0), "j");
    assert_eq!(
        run(
            "{{ stripPort \"h:9100\" }} {{ match \"^j$\" $labels.job }}",
            0.0
        ),
        "h true"
    );
}

#[test]
fn errors_are_go_words() {
    let e = |t: &str| parse("__alert_C", t).unwrap_err().to_string();
    assert_eq!(e("{{ $labels.x "), "template: __alert_C:1: unclosed action");
    assert_eq!(
        e("{{ nosuch }}"),
        "template: __alert_C:1: function \"nosuch\" not defined"
    );
    assert_eq!(e("a\n{{ if 1 }}"), "template: __alert_C:2: unexpected EOF");
    assert!(e("{{ end }}").contains("unexpected {{end}}"));
    // Run-time errors: bad comparisons, unsupported functions, unknown fields.
    let t = parse("x", "{{ gt $value 1 }}").unwrap();
    assert!(
        expand(&t, &data(2.0))
            .unwrap_err()
            .to_string()
            .contains("incompatible types")
    );
    let t = parse("x", "{{ query \"up\" }}").unwrap();
    assert!(expand(&t, &data(2.0)).is_err());
    let t = parse("x", "{{ .Nope }}").unwrap();
    assert!(
        expand(&t, &data(2.0))
            .unwrap_err()
            .to_string()
            .contains("can't evaluate field Nope")
    );
}

proptest! {
    /// Text without actions renders as itself.
    #[test]
    fn plain_text_is_verbatim(s in "[^{}]{0,40}") {
        let t = parse("x", &s).unwrap();
        prop_assert_eq!(expand(&t, &data(1.0)).unwrap(), s);
    }

    /// Any input: a parse result or an error, never a panic; and a parsed template
    /// runs to an output or an error, never a panic.
    #[test]
    fn never_panics(s in "[{}$a-z .|()\"0-9:=,-]{0,40}") {
        if let Ok(t) = parse("x", &s) {
            let _ = expand(&t, &data(1.5));
        }
    }

    /// `humanize` of any finite number has at most 4 significant digits and a prefix.
    #[test]
    fn humanize_is_short(v in -1e30f64..1e30) {
        let out = run("{{ humanize $value }}", v);
        let digits = out.chars().filter(char::is_ascii_digit).count();
        prop_assert!(digits <= 7, "{}", out); // 4 digits, plus an exponent's at most
    }
}
