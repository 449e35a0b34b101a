//! Query results and their three renderings: InfluxDB 1.x JSON, CSV and an aligned table.
//!
//! A result is a list of statement results, each a list of series (`name`, `tags`,
//! `columns`, `values`) or an error. Times stay integer nanoseconds ([`Value::Time`]) until
//! rendering, where [`Epoch`] decides between RFC 3339 strings and integers.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One cell of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (a missing field, an empty bucket under `fill(null)`).
    Null,
    /// A time in nanoseconds since the epoch, rendered per [`Epoch`].
    Time(i64),
    /// Float.
    Float(f64),
    /// Signed integer.
    Integer(i64),
    /// Unsigned integer.
    Unsigned(u64),
    /// String.
    String(String),
    /// Boolean.
    Boolean(bool),
}

impl Value {
    /// The value as a float, if numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(f) => Some(f),
            Value::Integer(i) => Some(i as f64),
            Value::Unsigned(u) => Some(u as f64),
            _ => None,
        }
    }
}

/// One series of a statement's result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Measurement (or `measurements`, `tags`… for SHOW statements).
    pub name: String,
    /// The GROUP BY tag values; `None` when the statement groups by no tag.
    pub tags: Option<BTreeMap<String, String>>,
    /// Column names; `time` first for SELECT results.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub values: Vec<Vec<Value>>,
}

/// The result of one statement.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatementResult {
    /// Position of the statement in the request, from 0.
    pub statement_id: usize,
    /// Series, empty when nothing matched.
    pub series: Vec<Series>,
    /// Set when the statement failed; `series` is then empty.
    pub error: Option<String>,
}

impl StatementResult {
    /// Statement `statement_id`'s series, or its error message (then no series).
    pub fn of(statement_id: usize, outcome: Result<Vec<Series>, String>) -> StatementResult {
        match outcome {
            Ok(series) => StatementResult {
                statement_id,
                series,
                error: None,
            },
            Err(e) => StatementResult {
                statement_id,
                series: Vec::new(),
                error: Some(e),
            },
        }
    }
}

/// The result of a whole request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResponse {
    /// One entry per statement that ran.
    pub results: Vec<StatementResult>,
    /// Set when the request did not parse; `results` is then empty.
    pub error: Option<String>,
}

impl QueryResponse {
    /// A response that carries only a request-level error (a parse error).
    pub fn failed(error: impl Into<String>) -> QueryResponse {
        QueryResponse {
            results: Vec::new(),
            error: Some(error.into()),
        }
    }

    /// The first error, request-level or per statement.
    pub fn first_error(&self) -> Option<&str> {
        self.error
            .as_deref()
            .or_else(|| self.results.iter().find_map(|r| r.error.as_deref()))
    }
}

/// How times are rendered: RFC 3339 (InfluxDB's default) or an integer count of a unit
/// since the epoch (InfluxDB's `epoch=` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Epoch {
    /// `2016-01-01T00:00:10.5Z`
    #[default]
    Rfc3339,
    /// Nanoseconds.
    Nanoseconds,
    /// Microseconds.
    Microseconds,
    /// Milliseconds.
    Milliseconds,
    /// Seconds.
    Seconds,
    /// Minutes.
    Minutes,
    /// Hours.
    Hours,
}

impl Epoch {
    /// Parses InfluxDB's `epoch=` values: `ns`, `u`/`µ`, `ms`, `s`, `m`, `h`.
    pub fn parse(s: &str) -> Option<Epoch> {
        Some(match s {
            "ns" | "n" => Epoch::Nanoseconds,
            "u" | "us" | "µ" => Epoch::Microseconds,
            "ms" => Epoch::Milliseconds,
            "s" => Epoch::Seconds,
            "m" => Epoch::Minutes,
            "h" => Epoch::Hours,
            _ => return None,
        })
    }

    fn divisor(self) -> i64 {
        match self {
            Epoch::Rfc3339 | Epoch::Nanoseconds => 1,
            Epoch::Microseconds => 1_000,
            Epoch::Milliseconds => 1_000_000,
            Epoch::Seconds => 1_000_000_000,
            Epoch::Minutes => 60_000_000_000,
            Epoch::Hours => 3_600_000_000_000,
        }
    }
}

/// `ns` as RFC 3339 in UTC with the fraction's trailing zeros removed, as Go's
/// `time.RFC3339Nano` prints it (`2016-01-01T00:00:00Z`, `…00:00:10.25Z`).
pub fn format_rfc3339(ns: i64) -> String {
    let mut out = String::with_capacity(30);
    push_rfc3339(&mut out, ns);
    out
}

/// Appends [`format_rfc3339`]'s text to `out` (the civil date by Howard Hinnant's
/// days-to-date algorithm, without allocating).
pub fn push_rfc3339(out: &mut String, ns: i64) {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if frac != 0 {
        let mut digits = [b'0'; 9];
        let mut f = frac;
        for i in (0..9).rev() {
            digits[i] = b'0' + (f % 10) as u8;
            f /= 10;
        }
        let len = 9 - digits.iter().rev().take_while(|&&c| c == b'0').count();
        out.push('.');
        out.push_str(std::str::from_utf8(&digits[..len]).unwrap_or("0"));
    }
    out.push('Z');
}

/// A float as Go's JSON encoder writes it: shortest round-trip digits, no `.0` on
/// integral values, exponent form for very large and very small magnitudes.
fn write_go_float(out: &mut String, f: f64) {
    if !f.is_finite() {
        out.push_str("null");
        return;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Go: 'e' format with at least two exponent digits, e.g. 1e+21, 1e-07.
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        let _ = write!(out, "{mant}e{sign}{digits:0>2}");
        return;
    }
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(f);
    if let Some(int) = s.strip_suffix(".0") {
        out.push_str(int);
    } else if s.contains('e') {
        // ryu uses exponents for some values Go prints plainly; fall back to Display,
        // which never uses an exponent and gives the shortest round-trip digits.
        let _ = write!(out, "{f}");
    } else {
        out.push_str(s);
    }
}

pub(crate) fn write_json_string(out: &mut String, s: &str) {
    // serde_json escapes exactly as JSON requires; a String never fails to serialize.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn write_json_value(out: &mut String, v: &Value, epoch: Epoch) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Time(t) => match epoch {
            Epoch::Rfc3339 => {
                out.push('"');
                push_rfc3339(out, *t);
                out.push('"');
            }
            e => {
                // Truncation toward zero, as InfluxDB's Go division gives.
                let _ = write!(out, "{}", t / e.divisor());
            }
        },
        Value::Float(f) => write_go_float(out, *f),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Unsigned(u) => {
            let _ = write!(out, "{u}");
        }
        Value::String(s) => write_json_string(out, s),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

impl QueryResponse {
    /// The InfluxDB 1.x JSON body.
    pub fn to_json(&self, epoch: Epoch) -> String {
        let mut out = String::with_capacity(256);
        out.push('{');
        if let Some(e) = &self.error {
            out.push_str("\"error\":");
            write_json_string(&mut out, e);
            out.push('}');
            return out;
        }
        out.push_str("\"results\":[");
        for (i, r) in self.results.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_json_statement(&mut out, r, epoch);
        }
        out.push_str("]}");
        out
    }

    /// CSV as InfluxDB 1.x writes it for `Accept: application/csv`: a header
    /// `name,tags,<columns>` per change of columns, tags as `k=v` joined by commas, times
    /// as integers (nanoseconds unless `epoch` says otherwise).
    pub fn to_csv(&self, epoch: Epoch) -> String {
        let epoch = csv_epoch(epoch);
        let mut out = String::new();
        let mut last_header: Option<Vec<String>> = None;
        for r in &self.results {
            if let Some(e) = &r.error {
                write_csv_error(&mut out, e);
                continue;
            }
            for s in &r.series {
                write_csv_header(&mut out, &s.columns, &mut last_header);
                write_csv_rows(&mut out, &s.name, &tags_text(s), &s.values, epoch);
            }
        }
        if let Some(e) = &self.error {
            write_csv_error(&mut out, e);
        }
        out
    }

    /// An aligned text table per series, for terminals.
    pub fn to_table(&self, epoch: Epoch) -> String {
        let mut out = String::new();
        if let Some(e) = &self.error {
            let _ = writeln!(out, "error: {e}");
            return out;
        }
        for r in &self.results {
            if let Some(e) = &r.error {
                let _ = writeln!(out, "error: {e}");
                continue;
            }
            for s in &r.series {
                if !out.is_empty() {
                    out.push('\n');
                }
                let _ = writeln!(out, "name: {}", s.name);
                let tags = tags_text(s);
                if !tags.is_empty() {
                    let _ = writeln!(out, "tags: {tags}");
                }
                let cells: Vec<Vec<String>> = s
                    .values
                    .iter()
                    .map(|row| row.iter().map(|v| plain_text(v, epoch)).collect())
                    .collect();
                let widths: Vec<usize> = s
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        cells
                            .iter()
                            .filter_map(|r| r.get(i))
                            .map(|c| c.chars().count())
                            .chain([c.chars().count()])
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                let line = |out: &mut String, row: &[String]| {
                    let text: Vec<String> = row
                        .iter()
                        .zip(&widths)
                        .map(|(c, w)| format!("{c:<w$}"))
                        .collect();
                    let _ = writeln!(out, "{}", text.join(" ").trim_end());
                };
                line(&mut out, &s.columns);
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                line(&mut out, &rule);
                for r in &cells {
                    line(&mut out, r);
                }
            }
        }
        out
    }
}

/// One statement's result object (`{"statement_id":…}`), as in `results[]`.
pub(crate) fn write_json_statement(out: &mut String, r: &StatementResult, epoch: Epoch) {
    let _ = write!(out, "{{\"statement_id\":{}", r.statement_id);
    if !r.series.is_empty() {
        out.push_str(",\"series\":[");
        for (j, s) in r.series.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            write_json_series(out, s, epoch);
        }
        out.push(']');
    }
    if let Some(e) = &r.error {
        out.push_str(",\"error\":");
        write_json_string(out, e);
    }
    out.push('}');
}

fn write_json_series(out: &mut String, s: &Series, epoch: Epoch) {
    write_json_series_head(out, &s.name, s.tags.as_ref(), &s.columns);
    write_json_rows(out, &s.values, epoch, true);
    write_json_series_tail(out);
}

/// A series up to the opening of its `values` array. The whole rendering
/// ([`QueryResponse::to_json`]) and the streamed one ([`crate::stream::JsonStream`]) share
/// these three pieces, so both write the same bytes.
pub(crate) fn write_json_series_head(
    out: &mut String,
    name: &str,
    tags: Option<&BTreeMap<String, String>>,
    columns: &[String],
) {
    out.push('{');
    if !name.is_empty() {
        out.push_str("\"name\":");
        write_json_string(out, name);
        out.push(',');
    }
    if let Some(tags) = tags {
        out.push_str("\"tags\":{");
        for (k, (key, val)) in tags.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            write_json_string(out, key);
            out.push(':');
            write_json_string(out, val);
        }
        out.push_str("},");
    }
    out.push_str("\"columns\":[");
    for (k, c) in columns.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        write_json_string(out, c);
    }
    out.push_str("],\"values\":[");
}

/// Rows of a series' `values` array; `first`: no row of the series was written yet.
pub(crate) fn write_json_rows(out: &mut String, rows: &[Vec<Value>], epoch: Epoch, first: bool) {
    for (k, row) in rows.iter().enumerate() {
        if k > 0 || !first {
            out.push(',');
        }
        out.push('[');
        for (m, v) in row.iter().enumerate() {
            if m > 0 {
                out.push(',');
            }
            write_json_value(out, v, epoch);
        }
        out.push(']');
    }
}

/// Closes a series opened by [`write_json_series_head`].
pub(crate) fn write_json_series_tail(out: &mut String) {
    out.push_str("]}");
}

/// CSV times are integers: RFC 3339 becomes nanoseconds.
pub(crate) fn csv_epoch(epoch: Epoch) -> Epoch {
    if epoch == Epoch::Rfc3339 {
        Epoch::Nanoseconds
    } else {
        epoch
    }
}

/// The `name,tags,<columns>` header when the columns differ from the last header's (a
/// blank line before every header but the first). Shared by the whole CSV rendering and
/// the streamed one ([`crate::stream::CsvStream`]), so both write the same bytes.
pub(crate) fn write_csv_header(
    out: &mut String,
    columns: &[String],
    last_header: &mut Option<Vec<String>>,
) {
    if last_header.as_deref() != Some(columns) {
        if last_header.is_some() {
            out.push('\n');
        }
        out.push_str("name,tags");
        for c in columns {
            out.push(',');
            push_csv_field(out, c);
        }
        out.push('\n');
        *last_header = Some(columns.to_vec());
    }
}

/// Rows of a series as CSV lines.
pub(crate) fn write_csv_rows(
    out: &mut String,
    name: &str,
    tags: &str,
    rows: &[Vec<Value>],
    epoch: Epoch,
) {
    for row in rows {
        push_csv_field(out, name);
        out.push(',');
        push_csv_field(out, tags);
        for v in row {
            out.push(',');
            push_csv_field(out, &plain_text(v, epoch));
        }
        out.push('\n');
    }
}

/// A statement's (or the request's) error as CSV.
pub(crate) fn write_csv_error(out: &mut String, e: &str) {
    out.push_str("error\n");
    push_csv_field(out, e);
    out.push('\n');
}

fn tags_text(s: &Series) -> String {
    tags_text_of(s.tags.as_ref())
}

/// Tags as `k=v` joined by commas.
pub(crate) fn tags_text_of(tags: Option<&BTreeMap<String, String>>) -> String {
    tags.map(|t| {
        t.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    })
    .unwrap_or_default()
}

fn plain_text(v: &Value, epoch: Epoch) -> String {
    let mut s = String::new();
    match v {
        Value::Null => {}
        Value::String(x) => s.push_str(x),
        Value::Time(t) if epoch == Epoch::Rfc3339 => s.push_str(&format_rfc3339(*t)),
        other => write_json_value(&mut s, other, epoch),
    }
    s
}

fn push_csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> QueryResponse {
        QueryResponse {
            results: vec![StatementResult {
                statement_id: 0,
                series: vec![Series {
                    name: "cpu".into(),
                    tags: Some(BTreeMap::from([("host".into(), "a,b".into())])),
                    columns: vec!["time".into(), "max".into(), "mean".into()],
                    values: vec![
                        vec![
                            Value::Time(1_451_606_400_000_000_000),
                            Value::Integer(90),
                            Value::Float(2.5),
                        ],
                        vec![
                            Value::Time(1_451_606_410_500_000_000),
                            Value::Null,
                            Value::Float(3.0),
                        ],
                    ],
                }],
                error: None,
            }],
            error: None,
        }
    }

    #[test]
    fn json_matches_influxdb_shape() {
        assert_eq!(
            sample().to_json(Epoch::Rfc3339),
            r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a,b"},"columns":["time","max","mean"],"values":[["2016-01-01T00:00:00Z",90,2.5],["2016-01-01T00:00:10.5Z",null,3]]}]}]}"#
        );
        assert!(
            sample()
                .to_json(Epoch::Seconds)
                .contains("[1451606410,null,3]")
        );
        let empty = QueryResponse {
            results: vec![StatementResult::default()],
            error: None,
        };
        assert_eq!(
            empty.to_json(Epoch::Rfc3339),
            r#"{"results":[{"statement_id":0}]}"#
        );
        assert_eq!(
            QueryResponse::failed("bad").to_json(Epoch::Rfc3339),
            r#"{"error":"bad"}"#
        );
    }

    #[test]
    fn csv_quotes_tags_and_uses_integer_times() {
        assert_eq!(
            sample().to_csv(Epoch::Rfc3339),
            "name,tags,time,max,mean\ncpu,\"host=a,b\",1451606400000000000,90,2.5\ncpu,\"host=a,b\",1451606410500000000,,3\n"
        );
    }

    #[test]
    fn table_aligns_columns() {
        let t = sample().to_table(Epoch::Rfc3339);
        assert!(t.contains("time                   max mean\n"), "{t}");
        assert!(t.contains("2016-01-01T00:00:10.5Z     3\n"), "{t}");
    }

    #[test]
    fn go_float_format() {
        let f = |x: f64| {
            let mut s = String::new();
            write_go_float(&mut s, x);
            s
        };
        assert_eq!(f(90.0), "90");
        assert_eq!(f(-0.5), "-0.5");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(1e-7), "1e-07");
        assert_eq!(f(123456789012.5), "123456789012.5");
        assert_eq!(f(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(f(f64::NAN), "null");
    }

    #[test]
    fn rfc3339_matches_chrono_everywhere() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ns = x as i64 / 4; // years ~ -500..2500
            let dt = chrono::DateTime::from_timestamp(
                ns.div_euclid(1_000_000_000),
                ns.rem_euclid(1_000_000_000) as u32,
            )
            .unwrap();
            let want = dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            let got = format_rfc3339(ns);
            // chrono pads fractions to 3, 6 or 9 digits; Go trims every trailing zero.
            let (wd, wf) = want
                .trim_end_matches('Z')
                .split_once('.')
                .unwrap_or((want.trim_end_matches('Z'), ""));
            let (gd, gf) = got
                .trim_end_matches('Z')
                .split_once('.')
                .unwrap_or((got.trim_end_matches('Z'), ""));
            assert_eq!(wd, gd, "{ns}");
            assert_eq!(wf.trim_end_matches('0'), gf, "{ns}");
        }
    }

    #[test]
    fn rfc3339_before_epoch() {
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        let r = QueryResponse {
            results: vec![StatementResult {
                statement_id: 0,
                series: vec![Series {
                    name: String::new(),
                    tags: None,
                    columns: vec!["time".into()],
                    values: vec![vec![Value::Time(-1_500_000_000)]],
                }],
                error: None,
            }],
            error: None,
        };
        // Go truncates toward zero; a series without a name has no "name" key.
        assert_eq!(
            r.to_json(Epoch::Seconds),
            r#"{"results":[{"statement_id":0,"series":[{"columns":["time"],"values":[[-1]]}]}]}"#
        );
    }
}
