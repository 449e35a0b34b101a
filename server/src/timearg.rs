//! Times in URL parameters: RFC 3339 (`2026-11-22T10:00:00Z`) or Unix seconds, with an
//! optional fraction (`1700000000`, `1700000000.25`).

/// Now, in nanoseconds since the epoch.
pub fn now_nanos() -> i64 {
    strata_engine::Clock::now_nanos(&strata_engine::SystemClock)
}

/// Parses a time parameter into nanoseconds since the epoch.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return t
            .timestamp_nanos_opt()
            .ok_or_else(|| format!("{s:?} is out of range"));
    }
    let bad = || format!("{s:?} is neither RFC 3339 (2026-01-02T03:04:05Z) nor Unix seconds");
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    let secs: i64 = if int.is_empty() || int == "-" {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return Err(bad());
    }
    let mut nanos: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    nanos *= 10_i64.pow(9 - frac.len() as u32);
    if s.starts_with('-') {
        nanos = -nanos;
    }
    secs.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(nanos))
        .ok_or_else(|| format!("{s:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000_000_000_000));
        assert_eq!(parse_time("1700000000.25"), Ok(1_700_000_000_250_000_000));
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Ok(1_000_000_000));
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
        assert!(parse_time("99999999999999999999").is_err());
        assert!(parse_time("1.2.3").is_err());
    }
}
