//! Prometheus HTTP API JSON, byte for byte as Prometheus 2.42 writes it: values as strings
//! (`"NaN"`, `"+Inf"`, exponent form below 1e-6 and from 1e21), timestamps as seconds with
//! up to three decimals, labels in sorted order, and the error envelope.

use super::{Labels, PromError, QueryValue};
use std::fmt::Write;

/// A sample value as the API prints it.
pub fn format_value(v: f64) -> String {
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
    let s = format!("{v:e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let point = 1 + exp; // position of the decimal point within digits
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-point) as usize));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.push_str(&"0".repeat(point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
    out
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: `1e+21`, `1.5e-07`.
fn format_go_e(v: f64) -> String {
    let s = format!("{v:e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!(
        "{mant}e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.unsigned_abs()
    )
}

/// A millisecond timestamp as the API prints it: seconds, and a three-digit fraction
/// when there is one.
pub fn format_time(ms: i64) -> String {
    let mut out = String::new();
    let mut t = ms;
    if t < 0 {
        out.push('-');
        t = t.wrapping_neg();
    }
    let t = t as u64;
    let _ = write!(out, "{}", t / 1000);
    let frac = t % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
    out
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

fn point(out: &mut String, t: i64, v: &str) {
    out.push('[');
    out.push_str(&format_time(t));
    out.push_str(",\"");
    out.push_str(v);
    out.push_str("\"]");
}

/// The `data` object of a query answer.
pub fn data_json(value: &QueryValue) -> String {
    let mut out = String::with_capacity(256);
    match value {
        QueryValue::Scalar { t, v } => {
            out.push_str("{\"resultType\":\"scalar\",\"result\":");
            point(&mut out, *t, &format_value(*v));
        }
        QueryValue::String { t, v } => {
            out.push_str("{\"resultType\":\"string\",\"result\":[");
            out.push_str(&format_time(*t));
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
                point(&mut out, *t, &format_value(*v));
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
                    point(&mut out, *t, &format_value(*v));
                }
                out.push_str("]}");
            }
            out.push(']');
        }
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
