//! Prometheus HTTP API JSON, byte for byte as Prometheus 2.42 writes it: values as strings
//! (`"NaN"`, `"+Inf"`, exponent form below 1e-6 and from 1e21), timestamps as seconds with
//! up to three decimals, labels in sorted order, and the error envelope.

use super::{Labels, PromError, QueryValue};

/// A sample value as the API prints it.
pub fn format_value(v: f64) -> String {
    let mut out = String::new();
    push_value(&mut out, v);
    out
}

/// [`format_value`] appended to `out`, without a `String` per value: whole numbers
/// below 2^53 print through `itoa`, other plain decimals straight from Ryu's buffer
/// (the matrix answers of range queries print thousands of values; formatting them was
/// a fifth of a small query's CPU).
pub fn push_value(out: &mut String, v: f64) {
    let a = v.abs();
    if a < 9_007_199_254_740_992.0 && v.trunc() == v {
        if v == 0.0 && v.is_sign_negative() {
            out.push_str("-0");
        } else {
            out.push_str(itoa::Buffer::new().format(v as i64));
        }
    } else if a.is_nan() || a.is_infinite() || (a != 0.0 && !(1e-6..1e21).contains(&a)) {
        out.push_str(&format_value_slow(v));
    } else {
        // 1e-6 ≤ |v| < 1e21 and not a whole number below 2^53: Ryu's plain form when
        // it gives one (the digits are Go's; a whole number loses Ryu's ".0"), else the
        // digit path.
        let mut buf = ryu::Buffer::new();
        let s = buf.format_finite(v);
        if s.contains(['e', 'E']) {
            out.push_str(&format_go_f_digits(v));
        } else {
            out.push_str(s.strip_suffix(".0").unwrap_or(s));
        }
    }
}

/// [`format_value`] by way of Go's two forms, for the values the fast paths leave.
fn format_value_slow(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && a.is_finite() && !(1e-6..1e21).contains(&a) {
        format_go_e(v)
    } else {
        format_go_f(v)
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest digits that read back as
/// `v`, never in exponent form.
pub fn format_go_f(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Ryu prints plain decimals for 1e-5 ≤ |v| < 1e16, with the same shortest digits
    // as Go: only its ".0" on whole numbers differs.
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v);
    if !s.contains(['e', 'E']) {
        return s.strip_suffix(".0").unwrap_or(s).to_owned();
    }
    format_go_f_digits(v)
}

/// [`format_go_f`] from the shortest digits and the point's position, for every finite
/// value (Ryu's exponent form included).
fn format_go_f_digits(v: f64) -> String {
    let (neg, digits, point) = shortest(v);
    let mut out = String::with_capacity(digits.len() + 8);
    if neg {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
    out
}

/// The shortest decimal digits that read back as finite `v` (Ryu), without leading or
/// trailing zeros, and where the decimal point goes: `v = 0.digits × 10^point` read as
/// `digits` with the point after `point` of them. Zero is `("0", 1)`.
fn shortest(v: f64) -> (bool, String, i32) {
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v);
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (mant, exp) = match s.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let mut digits: String = format!("{int}{frac}");
    let mut point = int.len() as i32 + exp;
    while digits.len() > 1 && digits.starts_with('0') {
        digits.remove(0);
        point -= 1;
    }
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if digits == "0" {
        point = 1;
    }
    (neg, digits, point)
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: `1e+21`, `1.5e-07`.
fn format_go_e(v: f64) -> String {
    let (neg, digits, point) = shortest(v);
    let exp = point - 1;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push_str(&format!(
        "e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.unsigned_abs()
    ));
    out
}

/// A millisecond timestamp as the API prints it: seconds, and a three-digit fraction
/// when there is one.
pub fn format_time(ms: i64) -> String {
    let mut out = String::new();
    push_time(&mut out, ms);
    out
}

/// [`format_time`] appended to `out`.
pub fn push_time(out: &mut String, ms: i64) {
    if ms < 0 {
        out.push('-');
    }
    let t = ms.unsigned_abs();
    out.push_str(itoa::Buffer::new().format(t / 1000));
    let frac = (t % 1000) as u32;
    if frac != 0 {
        out.push('.');
        for d in [frac / 100, frac / 10 % 10, frac % 10] {
            out.push(char::from_digit(d, 10).unwrap_or('0'));
        }
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// `{"a":"b",…}`
pub fn labels_json(l: &Labels) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in l.0.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_str(k));
        out.push(':');
        out.push_str(&json_str(v));
    }
    out.push('}');
    out
}

fn point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    push_time(out, t);
    out.push_str(",\"");
    push_value(out, v);
    out.push_str("\"]");
}

/// The `data` object of a query answer.
pub fn data_json(value: &QueryValue) -> String {
    data_json_with_stats(value, None)
}

/// The `stats` member Prometheus adds with `stats=all`: timings in seconds and samples.
pub fn stats_json(stats: &super::EvalStats, eval_seconds: f64) -> String {
    format!(
        "{{\"timings\":{{\"evalTotalTime\":{eval_seconds},\"resultSortTime\":0,\"queryPreparationTime\":0,\"innerEvalTime\":{eval_seconds},\"execQueueTime\":0,\"execTotalTime\":{eval_seconds}}},\"samples\":{{\"totalQueryableSamples\":{},\"peakSamples\":{}}}}}",
        stats.samples, stats.samples
    )
}

/// The `data` object, with a `stats` member (already JSON) when given.
pub fn data_json_with_stats(value: &QueryValue, stats: Option<&str>) -> String {
    let mut out = String::with_capacity(256);
    match value {
        QueryValue::Scalar { t, v } => {
            out.push_str("{\"resultType\":\"scalar\",\"result\":");
            point(&mut out, *t, *v);
        }
        QueryValue::String { t, v } => {
            out.push_str("{\"resultType\":\"string\",\"result\":[");
            push_time(&mut out, *t);
            out.push(',');
            out.push_str(&json_str(v));
            out.push(']');
        }
        QueryValue::Vector { t, samples } => {
            out.push_str("{\"resultType\":\"vector\",\"result\":[");
            for (i, (l, v)) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                out.push_str(&labels_json(l));
                out.push_str(",\"value\":");
                point(&mut out, *t, *v);
                out.push('}');
            }
            out.push(']');
        }
        QueryValue::Matrix(series) => {
            out.push_str("{\"resultType\":\"matrix\",\"result\":[");
            for (i, (l, pts)) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                out.push_str(&labels_json(l));
                out.push_str(",\"values\":[");
                for (j, (t, v)) in pts.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    point(&mut out, *t, *v);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    if let Some(st) = stats {
        out.push_str(",\"stats\":");
        out.push_str(st);
    }
    out.push('}');
    out
}

/// A successful answer with `data` (already JSON) and optional warnings.
pub fn success(data: &str, warnings: &[String]) -> String {
    let mut out = String::with_capacity(data.len() + 40);
    out.push_str("{\"status\":\"success\",\"data\":");
    out.push_str(data);
    if !warnings.is_empty() {
        out.push_str(",\"warnings\":[");
        for (i, w) in warnings.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&json_str(w));
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// An error answer.
pub fn error(error_type: &str, message: &str) -> String {
    format!(
        "{{\"status\":\"error\",\"errorType\":{},\"error\":{}}}",
        json_str(error_type),
        json_str(message)
    )
}

/// The error answer for a failed query.
pub fn query_error(e: &PromError) -> String {
    error(e.error_type(), &e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `edges`, then 200,000 rounds of an xorshift from `seed`, each giving a random bit
    /// pattern, a value in the usual range of samples (three decimals) and a whole number.
    fn cases(seed: u64, edges: &[f64]) -> Vec<f64> {
        let mut x = seed;
        let mut out = edges.to_vec();
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.push(f64::from_bits(x));
            out.push((x % 10_000_000) as f64 / 1000.0);
            out.push(((x % 2_000_000_000) as i64 - 1_000_000_000) as f64);
        }
        out
    }

    /// The fast path (Ryu's plain decimals) prints what the digit path prints, over
    /// random bit patterns and the boundaries of Ryu's plain range.
    #[test]
    fn fast_decimal_path_equals_the_digit_path() {
        let edges = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            1e-5,
            9.999e-6,
            1e15,
            1e16,
            9_999_999_999_999_998.0,
            123.0,
            0.1,
            0.3,
            1.5e-5,
            4503599627370496.5,
            2.5,
        ];
        for v in cases(0x9E37_79B9_7F4A_7C15, &edges)
            .into_iter()
            .filter(|v| v.is_finite())
        {
            assert_eq!(
                format_go_f(v),
                format_go_f_digits(v),
                "{v:e} ({:#x})",
                v.to_bits()
            );
        }
    }

    /// The allocation-free writer prints what Go's two forms print, over random bit
    /// patterns, whole numbers around 2^53, and the edges of the plain range.
    #[test]
    fn the_value_writer_equals_the_go_forms() {
        let edges = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            9_007_199_254_740_991.0,
            9_007_199_254_740_992.0,
            -9_007_199_254_740_993.0,
            1e-6,
            f64::from_bits(1e-6f64.to_bits() - 1),
            1e21,
            999_999_999_999_999_900_000.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            f64::MAX,
        ];
        for v in cases(0x2545_F491_4F6C_DD1D, &edges) {
            let mut out = String::from("x");
            push_value(&mut out, v);
            assert_eq!(out[1..], format_value_slow(v), "{v:e} ({:#x})", v.to_bits());
        }
    }

    #[test]
    fn times_print_as_seconds_with_milliseconds() {
        for (ms, want) in [
            (0, "0"),
            (1_451_632_449_000, "1451632449"),
            (1_451_632_449_005, "1451632449.005"),
            (1_451_632_449_120, "1451632449.120"),
            (-1_500, "-1.500"),
            (-1, "-0.001"),
            (i64::MIN, "-9223372036854775.808"),
        ] {
            assert_eq!(format_time(ms), want, "{ms}");
        }
    }

    #[test]
    fn values_print_as_prometheus_does() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.5), "0.5");
        assert_eq!(format_value(1e21), "1e+21");
        assert_eq!(format_value(1.5e-7), "1.5e-07");
        assert_eq!(format_value(0.000001), "0.000001");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(-0.0), "-0");
        assert_eq!(format_value(123456789.0), "123456789");
        assert_eq!(format_value(-2.5e-300), "-2.5e-300");
        assert_eq!(
            format_value(1.7976931348623157e308),
            "1.7976931348623157e+308"
        );
    }

    #[test]
    fn go_f_formatting() {
        assert_eq!(format_go_f(1.0), "1");
        assert_eq!(format_go_f(0.1), "0.1");
        assert_eq!(format_go_f(1e21), "1000000000000000000000");
        assert_eq!(format_go_f(1.5e-7), "0.00000015");
        assert_eq!(format_go_f(-2.5), "-2.5");
        assert_eq!(format_go_f(f64::INFINITY), "+Inf");
        assert_eq!(format_go_f(123.456), "123.456");
        assert_eq!(format_go_f(0.001), "0.001");
        assert_eq!(format_go_f(1e-300), format!("0.{}1", "0".repeat(299)));
        assert_eq!(format_go_f(123_000.0), "123000");
        assert_eq!(format_go_f(5e-324), format!("0.{}5", "0".repeat(323)));
        assert_eq!(format_go_f(f64::MAX).len(), 309);
        // Every value reads back to the same bits.
        for v in [
            0.1,
            1.0 / 3.0,
            2.5e-8,
            9_007_199_254_740_993.0,
            -7.25,
            1e-7,
            4.35e20,
        ] {
            assert_eq!(
                format_go_f(v).parse::<f64>().unwrap().to_bits(),
                v.to_bits(),
                "{v}"
            );
        }
    }

    #[test]
    fn times_print_as_seconds() {
        assert_eq!(format_time(1_500), "1.500");
        assert_eq!(format_time(1_050), "1.050");
        assert_eq!(format_time(2_000), "2");
        assert_eq!(format_time(-1_500), "-1.500");
    }

    #[test]
    fn vector_answer() {
        let v = QueryValue::Vector {
            t: 1000,
            samples: vec![(Labels::from_pairs([("a".into(), "b".into())]), 2.0)],
        };
        assert_eq!(
            success(&data_json(&v), &[]),
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"2"]}]}}"#
        );
        assert_eq!(
            query_error(&PromError::BadData("x".into())),
            r#"{"status":"error","errorType":"bad_data","error":"x"}"#
        );
    }
}
