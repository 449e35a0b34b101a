//! Prometheus text exposition format (version 0.0.4): a scraped page turned into points.
//!
//! ```text
//! # HELP <metric> <docstring>
//! # TYPE <metric> counter|gauge|histogram|summary|untyped
//! <metric>[{<label>="<value>"[,<label>="<value>"]*[,]}] <value> [<timestamp_ms>]
//! ```
//!
//! # Mapping to Strata
//!
//! Each sample becomes one [`Point`]: measurement = metric name, tags = labels, one float
//! field named `value` ([`VALUE_FIELD`]), timestamp = the sample's milliseconds × 10⁶,
//! or the caller's default when the sample has none. Histograms and summaries keep the
//! series the exposition shows (`x_bucket{le="…"}`, `x_sum`, `x_count`,
//! `x{quantile="…"}`), each its own measurement, as Prometheus stores them. A label with
//! an empty value means "no label" in Prometheus and is dropped. `# HELP` and `# TYPE`
//! are checked, and [`metadata`] returns them; they do not change the points.
//!
//! # Grammar
//!
//! - Lines end with `\n`; a trailing `\r` is ignored. Blank lines are ignored. Tokens are
//!   separated by spaces or tabs; leading and trailing blanks are ignored.
//! - A line whose first non-blank byte is `#` is a comment, unless its first token is
//!   `HELP` (metric name, then the docstring, with escapes `\\` and `\n`) or `TYPE`
//!   (metric name and one of the five types).
//! - Metric names match `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*`;
//!   the label `__name__` is rejected, and so is a label given twice in one sample.
//!   Label values are double-quoted UTF-8 with escapes `\\`, `\"` and `\n`.
//! - Values are read as Go's `strconv.ParseFloat` reads decimals: `1`, `-1.5`, `.5`,
//!   `5.`, `1e-7`, `+3`; `Inf`/`Infinity` in any case with an optional sign; `NaN` in any
//!   case without a sign. A literal that overflows to infinity is an error, as in Go.
//!   Go's hexadecimal floats and underscores (`0x1p-2`, `0x_1p0`) are not accepted.
//! - Timestamps are signed decimal `int64` milliseconds; one whose nanoseconds overflow
//!   `i64` is an error.
//!
//! A bad line is reported as a [`PromLineError`] (1-based line, 1-based column in
//! characters) and never stops the page. The parser does not panic on any input, runs in
//! O(n log n) of the line length and allocates no more than a constant times the input.

use crate::model::{FieldValue, Point, SeriesKey};

/// The name of the one field each sample becomes.
pub const VALUE_FIELD: &str = "value";

/// A line of a page that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {reason}")]
pub struct PromLineError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters, where the problem starts.
    pub column: usize,
    /// What is wrong.
    pub reason: String,
}

/// Parses a text exposition page. Samples without a timestamp get `default_timestamp_ns`.
/// Returns the points (one `value` field each) and the errors of bad lines; a bad line
/// never stops the page.
pub fn parse_page(page: &[u8], default_timestamp_ns: i64) -> (Vec<Point>, Vec<PromLineError>) {
    let mut points = Vec::new();
    let mut errors = Vec::new();
    for (number, line) in lines(page) {
        match parse_line(line, default_timestamp_ns) {
            Ok(Line::Sample(point)) => points.push(point),
            Ok(_) => {}
            Err(fail) => errors.push(fail.into_error(number, line)),
        }
    }
    (points, errors)
}

/// Metric metadata seen on the page: (metric name, TYPE, HELP), in order of first
/// appearance. A later HELP or TYPE line for the same metric replaces an earlier one;
/// malformed lines are skipped (they are reported by [`parse_page`]).
pub fn metadata(page: &[u8]) -> Vec<(String, Option<String>, Option<String>)> {
    let mut out: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    let mut index = rustc_hash::FxHashMap::<String, usize>::default();
    for (_, line) in lines(page) {
        let is_comment = line.iter().find(|&&b| b != b' ' && b != b'\t') == Some(&b'#');
        if !is_comment {
            continue;
        }
        let (name, kind, help) = match parse_line(line, 0) {
            Ok(Line::Help { name, text }) => (name, None, Some(text)),
            Ok(Line::Type { name, kind }) => (name, Some(kind.to_owned()), None),
            _ => continue,
        };
        let at = *index.entry(name.clone()).or_insert_with(|| {
            out.push((name, None, None));
            out.len() - 1
        });
        if kind.is_some() {
            out[at].1 = kind;
        }
        if help.is_some() {
            out[at].2 = help;
        }
    }
    out
}

/// Splits a page into numbered lines (1-based), without `\n` or a trailing `\r`.
pub fn lines(page: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut rest = Some(page);
    let mut number = 0;
    std::iter::from_fn(move || {
        let r = rest?;
        let line = match memchr::memchr(b'\n', r) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                &r[..i]
            }
            None => {
                rest = None;
                r
            }
        };
        number += 1;
        Some((number, line.strip_suffix(b"\r").unwrap_or(line)))
    })
}

/// [`lines`], with each line also as text when it is valid UTF-8. The page is checked
/// once as a whole; only a page that is not valid UTF-8 is checked line by line. A line's
/// text lets the parsers below take names, docstrings and values from it without
/// checking each again.
pub fn lines_with_text(page: &[u8]) -> impl Iterator<Item = (usize, &[u8], Option<&str>)> {
    let whole = std::str::from_utf8(page).ok();
    lines(page).map(move |(number, line)| {
        let text = match whole {
            Some(t) => super::text_within(page, t, line),
            None => std::str::from_utf8(line).ok(),
        };
        (number, line, text)
    })
}

/// Bytes of a metric or label name: bit 0 for `[a-zA-Z_]`, bit 1 for digits, bit 2 for
/// `:`.
const NAME_CHAR: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphabetic() || c == b'_' {
            t[b] = 1;
        } else if c.is_ascii_digit() {
            t[b] = 2;
        } else if c == b':' {
            t[b] = 4;
        }
        b += 1;
    }
    t
};

/// Where the series of a sample line (its metric name and label set, exactly as written)
/// starts and ends: from the first non-blank byte up to the first blank or `{`, then, if a
/// `{` follows (after blanks), to just after the `}` that closes it (a `}` inside a quoted
/// value does not close it). `None` for a comment, a blank line or an unclosed label set.
///
/// When a line parses, the bytes of this span determine its metric name and labels
/// (nothing after them does), so a caller that has seen the span parse before can take the
/// series from a cache and read only the value and timestamp with
/// [`parse_value_and_timestamp`]. The span does not check the name: on a line that does
/// not parse it may hold bytes a name cannot.
pub fn sample_series_span(line: &[u8]) -> Option<(usize, usize)> {
    let start = line
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    if matches!(line.get(start), None | Some(b'#')) {
        return None;
    }
    // The name's characters are not checked here: a line whose span is in a cache has
    // parsed before, so its name is valid; any other line gets the full parse.
    let mut i =
        memchr::memchr3(b' ', b'\t', b'{', &line[start..]).map_or(line.len(), |n| start + n);
    let name_end = i;
    while matches!(line.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if line.get(i) != Some(&b'{') {
        return Some((start, name_end));
    }
    // Outside quotes the next `"` or `}` decides; inside, the next `"` or `\\`.
    i += 1;
    loop {
        i += memchr::memchr2(b'"', b'}', line.get(i..)?)?;
        if line[i] == b'}' {
            return Some((start, i + 1));
        }
        i += 1;
        loop {
            i += memchr::memchr2(b'"', b'\\', line.get(i..)?)?;
            if line[i] == b'"' {
                break;
            }
            i += 2;
        }
        i += 1;
    }
}

/// The value and timestamp (ns; `default_timestamp_ns` when absent) of a sample line whose
/// series ends at `series_end` (from [`sample_series_span`]), read as [`parse_page`] reads
/// them; `None` when they do not parse (the full parse then gives the error and its
/// column).
pub fn parse_value_and_timestamp(
    line: &[u8],
    text: Option<&str>,
    series_end: usize,
    default_timestamp_ns: i64,
) -> Option<(f64, i64)> {
    let mut c = Cursor::new(line, text);
    c.pos = series_end;
    c.skip_blanks();
    let (at, token) = c.token();
    if token.is_empty() {
        return None;
    }
    let value = parse_go_float(token, c.text.and_then(|t| t.get(at..c.pos))).ok()?;
    c.skip_blanks();
    if c.at_end() {
        return Some((value, default_timestamp_ns));
    }
    let (_, token) = c.token();
    let ts = parse_timestamp(token).ok()?;
    c.skip_blanks();
    c.at_end().then_some((value, ts))
}

/// One line of a page, parsed: a sample's series, value and timestamp, or nothing to
/// store (a blank line or a comment: HELP and TYPE lines are read by
/// [`parse_comment_line`]).
#[derive(Debug)]
pub enum PageLine {
    /// Blank, or a comment.
    Nothing,
    /// A sample.
    Sample {
        /// Its series.
        series: SeriesKey,
        /// Its value.
        value: f64,
        /// Its timestamp (ns).
        timestamp: i64,
    },
}

/// Parses one line (without its newline) completely, or says why not.
pub fn parse_page_line(
    line: &[u8],
    number: usize,
    default_timestamp_ns: i64,
) -> Result<PageLine, PromLineError> {
    match parse_line(line, default_timestamp_ns) {
        Ok(Line::Blank | Line::Comment | Line::Help { .. } | Line::Type { .. }) => {
            Ok(PageLine::Nothing)
        }
        Ok(Line::Sample(p)) => {
            let value = match p.fields.first() {
                Some((_, FieldValue::Float(v))) => *v,
                _ => f64::NAN,
            };
            Ok(PageLine::Sample {
                series: p.series,
                value,
                timestamp: p.timestamp,
            })
        }
        Err(fail) => Err(fail.into_error(number, line)),
    }
}

/// What one line holds.
enum Line {
    Blank,
    Comment,
    Help { name: String, text: String },
    Type { name: String, kind: &'static str },
    Sample(Point),
}

/// A failure at byte offset `at` of the line.
struct Fail {
    at: usize,
    reason: String,
}

impl Fail {
    fn new(at: usize, reason: impl Into<String>) -> Fail {
        Fail {
            at,
            reason: reason.into(),
        }
    }

    fn into_error(self, line: usize, text: &[u8]) -> PromLineError {
        let end = self.at.min(text.len());
        // Characters before the offset: every byte that is not a UTF-8 continuation byte.
        let column = text[..end].iter().filter(|&&b| b & 0xC0 != 0x80).count() + 1;
        PromLineError {
            line,
            column,
            reason: self.reason,
        }
    }
}

/// A position in one line.
struct Cursor<'a> {
    s: &'a [u8],
    /// `s` as text, when the caller has it (see [`lines_with_text`]).
    text: Option<&'a str>,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a [u8], text: Option<&'a str>) -> Cursor<'a> {
        Cursor { s, text, pos: 0 }
    }

    /// `s[start..end]` as text, if it is valid UTF-8.
    fn str(&self, start: usize, end: usize) -> Option<&'a str> {
        match self.text {
            Some(t) => t.get(start..end),
            None => std::str::from_utf8(self.s.get(start..end)?).ok(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// The bytes up to the next blank or the end of the line.
    fn token(&mut self) -> (usize, &'a [u8]) {
        let start = self.pos;
        while !matches!(self.peek(), None | Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        (start, &self.s[start..self.pos])
    }

    /// A run of `[a-zA-Z0-9_]` (plus `:` if `colon`) whose first byte is not a digit.
    fn name(&mut self, colon: bool) -> Option<&'a str> {
        let start = self.pos;
        let first = NAME_CHAR[*self.s.get(start)? as usize];
        if first & 1 == 0 && !(colon && first == 4) {
            return None;
        }
        let allowed = if colon { 7 } else { 3 };
        let run = self.s[start..]
            .iter()
            .take_while(|&&b| NAME_CHAR[b as usize] & allowed != 0)
            .count();
        self.pos = start + run;
        // The run is ASCII, so this never fails.
        self.str(start, self.pos)
    }

    /// A metric name that must end at a blank, the end of the line or (if `brace`) `{`.
    fn metric_name(&mut self, brace: bool) -> Result<&'a str, Fail> {
        let start = self.pos;
        let Some(name) = self.name(true) else {
            return Err(match self.peek() {
                None => Fail::new(start, "expected a metric name"),
                Some(b) => Fail::new(start, format!("invalid metric name start {}", show(b))),
            });
        };
        match self.peek() {
            None | Some(b' ' | b'\t') => Ok(name),
            Some(b'{') if brace => Ok(name),
            Some(b) => Err(Fail::new(
                self.pos,
                format!("invalid character {} in metric name", show(b)),
            )),
        }
    }
}

/// A byte for an error message.
fn show(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

fn parse_line(line: &[u8], default_timestamp_ns: i64) -> Result<Line, Fail> {
    let mut c = Cursor::new(line, None);
    c.skip_blanks();
    match c.peek() {
        None => Ok(Line::Blank),
        Some(b'#') => {
            c.pos += 1;
            parse_comment(&mut c)
        }
        Some(_) => parse_sample(&mut c, default_timestamp_ns).map(Line::Sample),
    }
}

const TYPES: [&str; 5] = ["counter", "gauge", "histogram", "summary", "untyped"];

fn parse_comment(c: &mut Cursor<'_>) -> Result<Line, Fail> {
    Ok(match parse_comment_ref(c)? {
        None => Line::Comment,
        Some((name, Meta::Help(text))) => Line::Help {
            name: name.to_owned(),
            text: text.into_owned(),
        },
        Some((name, Meta::Type(kind))) => Line::Type {
            name: name.to_owned(),
            kind,
        },
    })
}

/// A `# HELP` or `# TYPE` line's content, borrowed from the page where it can be.
#[derive(Debug, Clone, PartialEq)]
pub enum Meta<'a> {
    /// The docstring, unescaped.
    Help(std::borrow::Cow<'a, str>),
    /// The type.
    Type(&'static str),
}

/// A comment line (the cursor after its `#`): `None` for a plain comment, else the metric
/// and its HELP or TYPE.
fn parse_comment_ref<'a>(c: &mut Cursor<'a>) -> Result<Option<(&'a str, Meta<'a>)>, Fail> {
    c.skip_blanks();
    let (_, keyword) = c.token();
    let help = match keyword {
        b"HELP" => true,
        b"TYPE" => false,
        _ => return Ok(None),
    };
    c.skip_blanks();
    let name = c.metric_name(false)?;
    c.skip_blanks();
    if help {
        let raw = &c.s[c.pos..];
        let text = if memchr::memchr(b'\\', raw).is_some() {
            std::borrow::Cow::Owned(unescape(c, c.pos, c.s.len(), false)?)
        } else {
            std::borrow::Cow::Borrowed(
                c.str(c.pos, c.s.len())
                    .ok_or_else(|| Fail::new(c.pos, "text is not valid UTF-8"))?,
            )
        };
        return Ok(Some((name, Meta::Help(text))));
    }
    let (at, kind) = c.token();
    if kind.is_empty() {
        return Err(Fail::new(at, "expected a metric type"));
    }
    let Some(&kind) = TYPES.iter().find(|t| t.as_bytes() == kind) else {
        return Err(Fail::new(
            at,
            format!("unknown metric type {:?}", String::from_utf8_lossy(kind)),
        ));
    };
    c.skip_blanks();
    if !c.at_end() {
        return Err(Fail::new(c.pos, "unexpected text after the metric type"));
    }
    Ok(Some((name, Meta::Type(kind))))
}

/// A comment line's metadata, borrowed: `Ok(None)` for a plain comment.
///
/// `text` is the line as text, if the caller has it ([`lines_with_text`]): names and the
/// docstring are then taken from it without another UTF-8 check.
pub fn parse_comment_line<'a>(
    line: &'a [u8],
    text: Option<&'a str>,
    number: usize,
) -> Result<Option<(&'a str, Meta<'a>)>, PromLineError> {
    let mut c = Cursor::new(line, text);
    c.skip_blanks();
    c.pos += 1; // the '#'
    parse_comment_ref(&mut c).map_err(|f| f.into_error(number, line))
}

/// Unescapes `c.s[start..end]`: `\\` and `\n`, and `\"` too if `quote`. Fails on any
/// other escape and on invalid UTF-8 (reported at `start`).
fn unescape(c: &Cursor<'_>, start: usize, end: usize, quote: bool) -> Result<String, Fail> {
    let raw = &c.s[start..end];
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\\' {
            match raw.get(i + 1) {
                Some(b'\\') => out.push(b'\\'),
                Some(b'n') => out.push(b'\n'),
                Some(b'"') if quote => out.push(b'"'),
                Some(&e) => {
                    return Err(Fail::new(
                        start + i,
                        format!("invalid escape sequence '\\{}'", e.escape_ascii()),
                    ));
                }
                None => return Err(Fail::new(start + i, "escape sequence at end of text")),
            }
            i += 2;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Fail::new(start, "text is not valid UTF-8"))
}

fn parse_sample(c: &mut Cursor<'_>, default_timestamp_ns: i64) -> Result<Point, Fail> {
    let name = c.metric_name(true)?;
    c.skip_blanks();
    let mut labels: Vec<(String, String, usize)> = Vec::new();
    if c.peek() == Some(b'{') {
        c.pos += 1;
        parse_labels(c, &mut labels)?;
        c.skip_blanks();
    }
    let (at, token) = c.token();
    if token.is_empty() {
        return Err(Fail::new(at, "expected a value"));
    }
    let value = parse_go_float(token, None).map_err(|why| Fail::new(at, why))?;
    c.skip_blanks();
    let timestamp = if c.at_end() {
        default_timestamp_ns
    } else {
        let (at, token) = c.token();
        let ns = parse_timestamp(token).map_err(|why| Fail::new(at, why))?;
        c.skip_blanks();
        if !c.at_end() {
            return Err(Fail::new(c.pos, "unexpected text after the timestamp"));
        }
        ns
    };
    // Stable sort: of two equal names, the later one is reported.
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(pair) = labels.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(Fail::new(
            pair[1].2,
            format!("duplicate label name {:?}", pair[1].0),
        ));
    }
    let tags = labels
        .into_iter()
        .filter(|(_, v, _)| !v.is_empty())
        .map(|(k, v, _)| (k, v));
    let series = SeriesKey::new(name, tags).map_err(|e| Fail::new(0, e.to_string()))?;
    Ok(Point::new(
        series,
        vec![(VALUE_FIELD.to_owned(), FieldValue::Float(value))],
        timestamp,
    ))
}

/// Parses labels after the `{` up to and including the `}`.
fn parse_labels(c: &mut Cursor<'_>, labels: &mut Vec<(String, String, usize)>) -> Result<(), Fail> {
    loop {
        c.skip_blanks();
        let at = c.pos;
        match c.peek() {
            Some(b'}') => {
                c.pos += 1;
                return Ok(());
            }
            None => return Err(Fail::new(at, "unterminated label set, expected '}'")),
            Some(_) => {}
        }
        let Some(name) = c.name(false) else {
            return Err(Fail::new(
                at,
                format!("invalid label name start {}", show(c.s[at])),
            ));
        };
        if name == "__name__" {
            return Err(Fail::new(at, "label name \"__name__\" is not allowed"));
        }
        c.skip_blanks();
        match c.peek() {
            Some(b'=') => c.pos += 1,
            Some(b) => {
                return Err(Fail::new(
                    c.pos,
                    format!("expected '=' after label name, found {}", show(b)),
                ));
            }
            None => return Err(Fail::new(c.pos, "expected '=' after label name")),
        }
        c.skip_blanks();
        let quote = c.pos;
        if c.peek() != Some(b'"') {
            return Err(Fail::new(quote, "expected '\"' to open the label value"));
        }
        // Find the closing quote, skipping escaped bytes.
        let mut end = quote + 1;
        loop {
            match c.s.get(end) {
                None => return Err(Fail::new(quote, "unterminated label value")),
                Some(b'"') => break,
                Some(b'\\') => end += 2,
                Some(_) => end += 1,
            }
        }
        let value = unescape(c, quote + 1, end, true)?;
        c.pos = end + 1;
        labels.push((name.to_owned(), value, at));
        c.skip_blanks();
        match c.peek() {
            Some(b',') => c.pos += 1,
            Some(b'}') => {}
            Some(b) => {
                return Err(Fail::new(
                    c.pos,
                    format!("expected ',' or '}}' after label value, found {}", show(b)),
                ));
            }
            None => return Err(Fail::new(c.pos, "unterminated label set, expected '}'")),
        }
    }
}

/// Reads a float as Go's `strconv.ParseFloat(s, 64)` reads decimal input. `text` is the
/// token as text, if the caller has it.
fn parse_go_float(token: &[u8], text: Option<&str>) -> Result<f64, String> {
    let invalid = || format!("invalid value {:?}", String::from_utf8_lossy(token));
    let (negative, unsigned) = match token.first() {
        Some(b'-') => (true, &token[1..]),
        Some(b'+') => (false, &token[1..]),
        _ => (false, token),
    };
    // digits [. digits] [e [sign] digits], with at least one mantissa digit; the mantissa's
    // digits are gathered (wrapping: used only when there are at most 19).
    let mut i = 0;
    let mut m: u64 = 0;
    let digits = |i: &mut usize, m: &mut u64| {
        let start = *i;
        while let Some(&d) = unsigned.get(*i)
            && d.is_ascii_digit()
        {
            *m = m.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            *i += 1;
        }
        *i - start
    };
    let whole = digits(&mut i, &mut m);
    let mut fraction = 0;
    if unsigned.get(i) == Some(&b'.') {
        i += 1;
        fraction = digits(&mut i, &mut m);
    }
    if whole + fraction == 0 {
        if unsigned.eq_ignore_ascii_case(b"inf") || unsigned.eq_ignore_ascii_case(b"infinity") {
            return Ok(if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        // Go accepts no sign before NaN.
        if unsigned.eq_ignore_ascii_case(b"nan") && unsigned.len() == token.len() {
            return Ok(f64::NAN);
        }
        return Err(invalid());
    }
    let mut exponent = false;
    if matches!(unsigned.get(i), Some(b'e' | b'E')) {
        exponent = true;
        i += 1;
        if matches!(unsigned.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let mut ignored = 0;
        if digits(&mut i, &mut ignored) == 0 {
            return Err(invalid());
        }
    }
    if i != unsigned.len() {
        return Err(invalid());
    }
    if !exponent && let Some(v) = super::exact_decimal(m, whole + fraction, fraction, negative) {
        return Ok(v);
    }
    // The token is ASCII digits, '.', 'e', signs: valid UTF-8 and Rust float syntax.
    let text = match text {
        Some(t) => t,
        None => std::str::from_utf8(token).map_err(|_| invalid())?,
    };
    let value: f64 = text.parse().map_err(|_| invalid())?;
    if value.is_infinite() {
        return Err(format!("value {text:?} is out of the float range"));
    }
    Ok(value)
}

/// Reads an `int64` of milliseconds and returns nanoseconds.
fn parse_timestamp(token: &[u8]) -> Result<i64, String> {
    let shown = || String::from_utf8_lossy(token);
    let (negative, digits) = match token.first() {
        Some(b'-') => (true, &token[1..]),
        Some(b'+') => (false, &token[1..]),
        _ => (false, token),
    };
    let invalid = || format!("invalid timestamp {:?}", shown());
    if digits.is_empty() {
        return Err(invalid());
    }
    if digits.len() <= 18 {
        // At most 10^18 - 1: it fits an i64.
        let v = super::short_digits(digits).ok_or_else(invalid)? as i64;
        let ms = if negative { -v } else { v };
        return ms
            .checked_mul(1_000_000)
            .ok_or_else(|| format!("timestamp {:?} ms is out of the nanosecond range", shown()));
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    // Accumulated negatively so that `i64::MIN` itself is read.
    let mut ms: i64 = 0;
    for &d in digits {
        ms = ms
            .checked_mul(10)
            .and_then(|m| m.checked_sub(i64::from(d - b'0')))
            .ok_or_else(|| format!("timestamp {:?} is out of the int64 range", shown()))?;
    }
    if !negative {
        ms = ms
            .checked_neg()
            .ok_or_else(|| format!("timestamp {:?} is out of the int64 range", shown()))?;
    }
    ms.checked_mul(1_000_000)
        .ok_or_else(|| format!("timestamp {:?} ms is out of the nanosecond range", shown()))
}

#[cfg(test)]
mod tests;
