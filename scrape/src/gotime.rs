//! Times and numbers printed as Go prints them in Prometheus' JSON answers.

use chrono::{DateTime, Utc};

/// Go's `time.Time` JSON form (RFC 3339 with nanoseconds, trailing zeros trimmed) in
/// UTC; the zero time (`0001-01-01T00:00:00Z`) for `None`.
pub fn rfc3339_nano(t: Option<DateTime<Utc>>) -> String {
    let Some(t) = t else {
        return "0001-01-01T00:00:00Z".into();
    };
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Milliseconds since the epoch as a UTC time.
pub fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: `1e+00`, `1.5e-07`, `NaN`, `+Inf`.
pub fn format_e(v: f64) -> String {
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
    format!(
        "{mant}e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.unsigned_abs()
    )
}

/// The machine's host name (for `globalUrl`, the generator URL and the jitter seed).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_forms() {
        assert_eq!(rfc3339_nano(None), "0001-01-01T00:00:00Z");
        let t = DateTime::from_timestamp(1_700_000_000, 120_000_000);
        assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20.12Z");
        assert_eq!(
            rfc3339_nano(DateTime::from_timestamp(1_700_000_000, 0)),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(format_e(1.0), "1e+00");
        assert_eq!(format_e(15.5), "1.55e+01");
        assert_eq!(format_e(0.0), "0e+00");
        assert_eq!(format_e(1.5e-7), "1.5e-07");
        assert_eq!(format_e(-2e100), "-2e+100");
    }
}
