//! Time arguments: RFC 3339 (`2016-01-01T00:00:00Z`) or integer nanoseconds.

/// Parses an RFC 3339 time or an integer number of nanoseconds since the epoch.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    let t = humantime::parse_rfc3339_weak(s).map_err(|e| {
        format!(
            "{s:?} is neither an RFC 3339 time (2016-01-01T00:00:00Z) nor integer nanoseconds: {e}"
        )
    })?;
    let nanos = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()),
        Err(e) => i64::try_from(e.duration().as_nanos()).map(|n| -n),
    };
    nanos.map_err(|_| format!("{s:?} is out of the representable range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_and_nanoseconds() {
        assert_eq!(
            parse_time("1451606400000000000"),
            Ok(1_451_606_400_000_000_000)
        );
        assert_eq!(
            parse_time("2016-01-01T00:00:00Z"),
            Ok(1_451_606_400_000_000_000)
        );
        assert_eq!(
            parse_time("2016-01-01T00:00:01.5Z"),
            Ok(1_451_606_401_500_000_000)
        );
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
