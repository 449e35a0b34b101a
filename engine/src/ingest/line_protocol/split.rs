//! Cutting a batch into logical lines.
//!
//! The fast path finds the next `\n` with memchr. Only a physical line that contains a
//! double quote can continue past its newline (a string field value may hold newlines),
//! and only then is the line walked with the parser's own tokenizing rules to find where it
//! really ends. A string that never closes ends at its first newline instead of swallowing
//! the rest of the batch, so one bad line costs only itself.
//!
//! The work stays linear: a string that closes is scanned once, and a search that fails
//! proves there is no string opener (`="` outside an escape) left in the batch, so no later
//! search can fail again. As in 1.x, a string left open is closed by the next quote, even
//! one on a later line.

use memchr::memchr;

/// Iterates the logical lines of a batch: yields (line number, line bytes without the
/// trailing `\n` or `\r\n`), skipping blank lines and comment lines (first non-blank byte
/// `#`, except the exact form's `#!strata ` lines, see [`super::exact`]). A newline inside a double-quoted string field value belongs to the line, as in
/// InfluxDB 1.x. Line numbers are 1-based physical line numbers, so a line after a
/// multi-line string gets the number an editor would show.
#[derive(Debug, Clone)]
pub struct LineSplitter<'a> {
    buf: &'a [u8],
    pos: usize,
    line: usize,
    /// The first `"` at or after `pos` (`buf.len()` if none), once looked for: lines that
    /// end before it hold no quote, with no search of their own.
    quote: Option<usize>,
}

impl<'a> LineSplitter<'a> {
    /// Splits `batch`, numbering lines from 1.
    pub fn new(batch: &'a [u8]) -> Self {
        Self::with_first_line(batch, 1)
    }

    /// Splits `batch`, numbering its first line `first_line_number` (for a batch that
    /// continues an earlier one).
    pub fn with_first_line(batch: &'a [u8], first_line_number: usize) -> Self {
        LineSplitter {
            buf: batch,
            pos: 0,
            line: first_line_number,
            quote: None,
        }
    }
}

impl<'a> Iterator for LineSplitter<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<(usize, &'a [u8])> {
        loop {
            let rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
            let number = self.line;
            let (physical, after) = match memchr(b'\n', rest) {
                Some(nl) => (rest.get(..nl).unwrap_or(rest), nl + 1),
                None => (rest, rest.len()),
            };
            let line = strip_cr(physical);
            let first = line.iter().find(|&&b| b != b' ' && b != b'\t');
            match first {
                // An exact-form line (`#!strata …`) is data, and never spans lines.
                Some(b'#') if super::exact::after_marker(line).is_some() => {
                    self.pos += after;
                    self.line += 1;
                    return Some((number, line));
                }
                None | Some(b'#') => {
                    self.pos += after;
                    self.line += 1;
                }
                Some(_) if self.next_quote() >= self.pos + physical.len() => {
                    self.pos += after;
                    self.line += 1;
                    return Some((number, line));
                }
                Some(_) => {
                    let end = logical_end(rest);
                    let logical = rest.get(..end).unwrap_or(rest);
                    let newlines = memchr::memchr_iter(b'\n', logical).count();
                    self.pos += (end + 1).min(rest.len());
                    self.line += 1 + newlines;
                    return Some((number, strip_cr(logical)));
                }
            }
        }
    }
}

impl LineSplitter<'_> {
    /// The first `"` at or after `pos`, or `buf.len()`.
    fn next_quote(&mut self) -> usize {
        match self.quote {
            Some(q) if q >= self.pos => q,
            _ => {
                let rest = self.buf.get(self.pos..).unwrap_or_default();
                let q = memchr(b'"', rest).map_or(self.buf.len(), |k| self.pos + k);
                self.quote = Some(q);
                q
            }
        }
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether the byte at `i` follows a backslash (the name escaping rule).
fn escaped(b: &[u8], i: usize) -> bool {
    i > 0 && b.get(i - 1) == Some(&b'\\')
}

/// The index of the `\n` that ends the logical line starting at `b[0]`, or `b.len()`.
/// Follows the tokenizing of `parse_line`: names end at unescaped delimiters, a value that
/// starts with `"` is a string in which `\"` and `\\` are escapes.
fn logical_end(b: &[u8]) -> usize {
    let n = b.len();
    let first_newline = |from: usize| {
        b.get(from..)
            .and_then(|r| memchr(b'\n', r))
            .map_or(n, |k| from + k)
    };
    let mut i = b.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
    // Measurement and tags: up to the first unescaped space.
    loop {
        match b.get(i) {
            None => return n,
            Some(b'\n') => return i,
            Some(b' ') if !escaped(b, i) => break,
            Some(_) => i += 1,
        }
    }
    // Fields: key=value pairs; only a value's opening quote can hide newlines.
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let mut in_key = true;
    loop {
        let Some(&c) = b.get(i) else { return n };
        match c {
            b'\n' => return i,
            // Past the field set nothing more can be quoted.
            b' ' if !(in_key && escaped(b, i)) => return first_newline(i),
            b'=' if in_key && !escaped(b, i) => {
                in_key = false;
                i += 1;
                if b.get(i) == Some(&b'"') {
                    match string_end(b, i + 1) {
                        Some(close) => i = close + 1,
                        None => return first_newline(i),
                    }
                }
            }
            b',' if !in_key => {
                in_key = true;
                i += 1;
            }
            _ => i += 1,
        }
    }
}

/// The index of the quote closing a string whose content starts at `from`, if any.
pub(super) fn string_end(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        let k = memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        let at = i + k;
        if b.get(at) == Some(&b'"') {
            return Some(at);
        }
        // A backslash escapes only a quote or another backslash.
        i = match b.get(at + 1) {
            Some(b'"' | b'\\') => at + 2,
            _ => at + 1,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The remembered quote position gives the lines a search per line gives.
        #[test]
        fn remembered_quote_splits_as_a_search_per_line(
            batch in proptest::collection::vec(
                prop::sample::select(b"m f=1\"\\ ,\n\r#\t".to_vec()), 0..200),
        ) {
            let mut fresh = LineSplitter::new(&batch);
            let want: Vec<_> = std::iter::from_fn(|| {
                fresh.quote = None;
                fresh.next()
            })
            .collect();
            let got: Vec<_> = LineSplitter::new(&batch).collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn an_open_string_is_closed_by_the_next_quote() {
        let batch = b"m f=\"x\n".repeat(1000);
        let lines: Vec<_> = LineSplitter::new(&batch).collect();
        assert_eq!(lines.len(), 500);
        assert_eq!(lines[1], (3, &b"m f=\"x\nm f=\"x"[..]));
    }

    #[test]
    fn splitter_skips_blanks_and_comments_and_keeps_quoted_newlines() {
        let batch =
            b"# comment\n\ncpu f=1 1\r\n   \n  # indented \"comment\ncpu f=\"a\nb\" 2\r\ncpu g=2";
        let lines: Vec<_> = LineSplitter::new(batch).collect();
        assert_eq!(
            lines,
            [
                (3, &b"cpu f=1 1"[..]),
                (6, b"cpu f=\"a\nb\" 2"),
                (8, b"cpu g=2")
            ]
        );
        // An escaped quote keeps the string open; one that never closes ends at its newline.
        let batch = b"a f=\"x\\\"\ny\" 1\nb f=\"open\nc,t=q f=1\n\nd g=1\n";
        let lines: Vec<_> = LineSplitter::with_first_line(batch, 10).collect();
        assert_eq!(
            lines,
            [
                (10, &b"a f=\"x\\\"\ny\" 1"[..]),
                (12, b"b f=\"open"),
                (13, b"c,t=q f=1"),
                (15, b"d g=1")
            ]
        );
        assert_eq!(LineSplitter::new(b"").count(), 0);
        assert_eq!(LineSplitter::new(b"\n\r\n \t\n#x").count(), 0);
        // Quotes in names and in a timestamp position do not open strings.
        let lines: Vec<_> = LineSplitter::new(b"m,t=\"a b\\ \"=1 \"\nm f=1 \"2\nm f=1")
            .map(|(n, _)| n)
            .collect();
        assert_eq!(lines, [1, 2, 3]);
        // Outside a string every newline ends the line, even in a quoted line's field set.
        for batch in [
            &b"m,q=\"x f=1\nm g=2"[..],
            b"m f=\"s\",g=1\nm g=2",
            b"m f=\"s\"\nm g=2",
            b"m f=\"s\",g\nm g=2",
        ] {
            let lines: Vec<_> = LineSplitter::new(batch).map(|(n, _)| n).collect();
            assert_eq!(lines, [1, 2], "{:?}", String::from_utf8_lossy(batch));
        }
    }
}
