//! OpenMetrics 1.0 text format, as Prometheus 2.42's parser reads it.
//!
//! ```text
//! # TYPE name counter|gauge|histogram|gaugehistogram|stateset|info|summary|unknown
//! # HELP name text           # UNIT name unit
//! name{label="value",...} value [timestamp_seconds] [# {exemplar labels} value [ts]]
//! # EOF
//! ```
//!
//! Single spaces separate tokens; label values escape `\\`, `\"` and `\n`; timestamps
//! are float seconds, kept as milliseconds truncated (`int64(ts*1000)` in Prometheus);
//! exemplars are read and dropped; `_created` samples are ordinary series, as in 2.42.
//! The page must end with `# EOF` and nothing may follow it. Any error fails the whole
//! page. The parser never panics and is linear in the input.

use super::{ParseError, Sample};
use strata_query::promql::Labels;

fn err<T>(line: usize, msg: impl std::fmt::Display) -> Result<T, ParseError> {
    Err(ParseError(format!("line {line}: {msg}")))
}

/// Parses a whole page.
pub fn parse(body: &[u8]) -> Result<Vec<Sample>, ParseError> {
    let text = std::str::from_utf8(body).map_err(|e| ParseError(format!("invalid UTF-8: {e}")))?;
    let mut out = Vec::new();
    let mut eof = false;
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let n = i + 1;
        if eof {
            // Only a final empty string after the last newline may follow "# EOF".
            if line.is_empty() && lines.peek().is_none() {
                break;
            }
            return err(n, "unexpected data after # EOF");
        }
        if line == "# EOF" {
            eof = true;
            continue;
        }
        if line.is_empty() {
            if lines.peek().is_none() {
                break;
            }
            return err(n, "unexpected empty line");
        }
        if let Some(rest) = line.strip_prefix("# ") {
            meta(rest, n)?;
            continue;
        }
        if line.starts_with('#') {
            return err(n, format!("invalid comment {line:?}"));
        }
        out.push(sample(line, n)?);
    }
    if !eof {
        return Err(ParseError("data does not end with # EOF".into()));
    }
    Ok(out)
}

fn meta(rest: &str, n: usize) -> Result<(), ParseError> {
    let mut parts = rest.splitn(3, ' ');
    let kind = parts.next().unwrap_or("");
    let name = parts.next().unwrap_or("");
    let arg = parts.next();
    if !is_metric_name(name) {
        return err(n, format!("invalid metric name in {kind} line: {name:?}"));
    }
    match kind {
        "TYPE" => match arg {
            Some(
                "counter" | "gauge" | "histogram" | "gaugehistogram" | "stateset" | "info"
                | "summary" | "unknown",
            ) => Ok(()),
            other => err(n, format!("invalid metric type {:?}", other.unwrap_or(""))),
        },
        "HELP" | "UNIT" => Ok(()),
        _ => err(n, format!("\"{kind}\" is not a valid start token")),
    }
}

fn is_metric_name(s: &str) -> bool {
    crate::relabel::is_metric_name(s)
}

/// A cursor over one line.
struct Cur<'a> {
    s: &'a str,
    at: usize,
    line: usize,
}

impl<'a> Cur<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.at).copied()
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.at;
        while self.peek().is_some_and(&f) {
            self.at += 1;
        }
        &self.s[start..self.at]
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), ParseError> {
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            err(
                self.line,
                format!("expected {what} at column {}", self.at + 1),
            )
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T, ParseError> {
        err(self.line, format!("{what} at column {}", self.at + 1))
    }

    /// `{name="value",...}` → pairs.
    fn labels(&mut self) -> Result<Vec<(String, String)>, ParseError> {
        let mut out: Vec<(String, String)> = Vec::new();
        self.expect(b'{', "'{'")?;
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(out);
        }
        loop {
            let name = self.take_while(|c| c.is_ascii_alphanumeric() || c == b'_');
            if !crate::relabel::is_label_name(name) {
                return self.fail("invalid label name");
            }
            self.expect(b'=', "'='")?;
            self.expect(b'"', "'\"'")?;
            let mut value = String::new();
            loop {
                let rest = &self.s[self.at..];
                let Some(pos) = rest.find(['"', '\\']) else {
                    return self.fail("unterminated label value");
                };
                value.push_str(&rest[..pos]);
                self.at += pos;
                if self.peek() == Some(b'"') {
                    self.at += 1;
                    break;
                }
                self.at += 1;
                match self.peek() {
                    Some(b'\\') => value.push('\\'),
                    Some(b'"') => value.push('"'),
                    Some(b'n') => value.push('\n'),
                    _ => return self.fail("invalid escape in label value"),
                }
                self.at += 1;
            }
            if out.iter().any(|(k, _)| k == name) {
                return err(self.line, format!("duplicate label name {name:?}"));
            }
            out.push((name.to_owned(), value));
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    if self.peek() == Some(b'}') {
                        return self.fail("trailing comma in label set");
                    }
                }
                Some(b'}') => {
                    self.at += 1;
                    return Ok(out);
                }
                _ => return self.fail("expected ',' or '}'"),
            }
        }
    }

    fn token(&mut self) -> &'a str {
        self.take_while(|c| c != b' ')
    }
}

/// An OpenMetrics number: decimal, `+Inf`, `-Inf`, `NaN` (and Go's spellings of them).
fn number(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ if s.is_empty()
            || !s
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E')) =>
        {
            None
        }
        _ => s.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

fn sample(line: &str, n: usize) -> Result<Sample, ParseError> {
    let mut c = Cur {
        s: line,
        at: 0,
        line: n,
    };
    let name = c.take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
    if !is_metric_name(name) {
        return c.fail("invalid metric name");
    }
    let mut pairs = if c.peek() == Some(b'{') {
        c.labels()?
    } else {
        Vec::new()
    };
    if pairs.iter().any(|(k, _)| k == "__name__") {
        return err(n, "label __name__ is not allowed in a label set");
    }
    pairs.retain(|(_, v)| !v.is_empty());
    pairs.push(("__name__".into(), name.to_owned()));
    c.expect(b' ', "a space before the value")?;
    let v = c.token();
    let Some(value) = number(v) else {
        return err(n, format!("invalid value {v:?}"));
    };
    let mut ts_ms = None;
    if c.peek() == Some(b' ') {
        c.at += 1;
        if c.peek() != Some(b'#') {
            let t = c.token();
            let Some(ts) = number(t).filter(|t| t.is_finite()) else {
                return err(n, format!("invalid timestamp {t:?}"));
            };
            let ms = ts * 1000.0;
            if !(i64::MIN as f64..=i64::MAX as f64).contains(&ms) {
                return err(n, format!("timestamp {t} out of range"));
            }
            ts_ms = Some(ms as i64);
            if c.peek() == Some(b' ') {
                c.at += 1;
            }
        }
        if c.peek() == Some(b'#') {
            exemplar(&mut c)?;
        }
    }
    if c.at != line.len() {
        return c.fail("unexpected text after the sample");
    }
    Ok(Sample {
        labels: Labels::from_pairs(pairs),
        value,
        ts_ms,
    })
}

/// `# {labels} value [ts]`: checked, then dropped.
fn exemplar(c: &mut Cur<'_>) -> Result<(), ParseError> {
    c.expect(b'#', "'#'")?;
    c.expect(b' ', "a space after '#'")?;
    let labels = c.labels()?;
    let len: usize = labels
        .iter()
        .map(|(k, v)| k.chars().count() + v.chars().count())
        .sum();
    if len > 128 {
        return c.fail("exemplar labels are longer than 128 characters");
    }
    c.expect(b' ', "a space before the exemplar value")?;
    let v = c.token();
    if number(v).is_none() {
        return err(c.line, format!("invalid exemplar value {v:?}"));
    }
    if c.peek() == Some(b' ') {
        c.at += 1;
        let t = c.token();
        if number(t).is_none() {
            return err(c.line, format!("invalid exemplar timestamp {t:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_full_page() {
        let page = "# TYPE req counter\n# HELP req Requests.\n# UNIT req requests\n\
                    req_total{code=\"200\",path=\"/a\\\"b\\\\c\\nd\"} 10 1700000000.123\n\
                    req_created{code=\"200\",path=\"x\"} 1.7e9\n\
                    # TYPE lat histogram\n\
                    lat_bucket{le=\"0.5\"} 3 # {trace_id=\"abc\"} 0.4 1700000000\n\
                    lat_bucket{le=\"+Inf\"} 5\nlat_count 5\nlat_sum 2.5\n\
                    g{} +Inf\nh NaN\n# EOF\n";
        let s = parse(page.as_bytes()).unwrap();
        assert_eq!(s.len(), 8);
        assert_eq!(s[0].labels.get("path"), Some("/a\"b\\c\nd"));
        assert_eq!(s[0].ts_ms, Some(1_700_000_000_123));
        assert_eq!(s[1].value, 1.7e9);
        assert_eq!(s[2].labels.get("le"), Some("0.5"));
        assert!(s[6].value.is_infinite() && s[7].value.is_nan());
    }

    #[test]
    fn errors_fail_the_page() {
        for bad in [
            "a 1\n",                  // no EOF
            "a 1\n# EOF\nb 2\n",      // data after EOF
            "a  1\n# EOF\n",          // double space
            "a{b=\"1\",} 1\n# EOF\n", // trailing comma
            "a{b=\"1\",b=\"2\"} 1\n# EOF\n",
            "a one\n# EOF\n",
            "# TYPE a bogus\n# EOF\n",
            "a 1 NaN\n# EOF\n",
            "a{__name__=\"x\"} 1\n# EOF\n",
            "\na 1\n# EOF\n",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(parse(b"# EOF").is_ok());
    }

    type Written = (String, Vec<(String, String)>, f64);

    fn page_of(samples: &[Written]) -> String {
        let mut out = String::new();
        for (name, labels, v) in samples {
            out.push_str(name);
            out.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let esc = val
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                out.push_str(&format!("{k}=\"{esc}\""));
            }
            out.push_str(&format!("}} {v:?}\n"));
        }
        out.push_str("# EOF\n");
        out
    }

    proptest! {
        /// Any bytes: an answer, never a panic.
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&b);
        }

        /// Any text built from the grammar's pieces: never a panic.
        #[test]
        fn never_panics_on_near_misses(s in "[a-z_{}=\",# .0-9\\\\\n+-]{0,80}") {
            let _ = parse(s.as_bytes());
        }

        /// Written samples read back: names, labels (escapes included) and values.
        #[test]
        fn round_trip(samples in proptest::collection::vec(
            ("[a-z_][a-z0-9_:]{0,6}",
             proptest::collection::btree_map("[a-z][a-z0-9_]{0,4}", "\\PC{1,6}", 0..3),
             -1e9f64..1e9),
            0..8)
        ) {
            let samples: Vec<Written> = samples
                .into_iter()
                .map(|(n, l, v)| (n, l.into_iter().collect(), v))
                .collect();
            let got = parse(page_of(&samples).as_bytes()).unwrap();
            prop_assert_eq!(got.len(), samples.len());
            for (g, (name, labels, v)) in got.iter().zip(&samples) {
                prop_assert_eq!(g.labels.get("__name__"), Some(name.as_str()));
                for (k, val) in labels {
                    prop_assert_eq!(g.labels.get(k), Some(val.as_str()));
                }
                prop_assert_eq!(g.value, *v);
            }
        }
    }
}
