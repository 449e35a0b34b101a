//! Shared building blocks: the error type threaded through nom, whitespace and comment
//! skipping, word-bounded keywords, symbols, and `expect` commit points.

use nom::error::{ErrorKind, ParseError};
use nom::{Err, IResult, Parser};

/// Parser error: where the failure happened (a suffix of the whole text) and what was
/// expected there.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PErr<'a> {
    pub input: &'a str,
    pub expected: &'static str,
}

impl<'a> ParseError<&'a str> for PErr<'a> {
    fn from_error_kind(input: &'a str, _kind: ErrorKind) -> Self {
        PErr {
            input,
            expected: "valid syntax",
        }
    }

    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }

    /// Of two alternatives, report the one that got further.
    fn or(self, other: Self) -> Self {
        if other.input.len() < self.input.len() {
            other
        } else {
            self
        }
    }
}

pub(crate) type PResult<'a, O> = IResult<&'a str, O, PErr<'a>>;

/// A recoverable error: `alt` and `opt` may try something else.
pub(crate) fn fail<'a, O>(input: &'a str, expected: &'static str) -> PResult<'a, O> {
    Err(Err::Error(PErr { input, expected }))
}

/// An unrecoverable error: the statement is wrong here.
pub(crate) fn failure<'a, O>(input: &'a str, expected: &'static str) -> PResult<'a, O> {
    Err(Err::Failure(PErr { input, expected }))
}

/// Skips whitespace, `-- line` comments and `/* block */` comments.
pub(crate) fn ws(mut i: &str) -> PResult<'_, ()> {
    loop {
        let t = i.trim_start();
        if let Some(rest) = t.strip_prefix("--") {
            i = rest.find('\n').map_or("", |p| &rest[p..]);
        } else if let Some(rest) = t.strip_prefix("/*") {
            match rest.find("*/") {
                Some(p) => i = &rest[p + 2..],
                None => return failure(t, "*/ closing the comment"),
            }
        } else {
            return Ok((t, ()));
        }
    }
}

/// `ws` for error reporting: the position of the next token, or `i` itself.
pub(crate) fn skip_ws(i: &str) -> &str {
    ws(i).map_or(i, |(rest, ())| rest)
}

pub(crate) fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Case-insensitive keyword, not followed by an identifier character.
pub(crate) fn kw<'a>(word: &'static str) -> impl Fn(&'a str) -> PResult<'a, &'a str> {
    move |i| {
        let (i, ()) = ws(i)?;
        match i.get(..word.len()) {
            Some(head)
                if head.eq_ignore_ascii_case(word)
                    && !i[word.len()..].starts_with(is_ident_char) =>
            {
                Ok((&i[word.len()..], head))
            }
            _ => fail(i, word),
        }
    }
}

/// A punctuation symbol; `label` is what an error says was expected.
pub(crate) fn sym<'a>(
    s: &'static str,
    label: &'static str,
) -> impl Fn(&'a str) -> PResult<'a, &'a str> {
    move |i| {
        let (i, ()) = ws(i)?;
        match i.strip_prefix(s) {
            Some(rest) => Ok((rest, &i[..s.len()])),
            None => fail(i, label),
        }
    }
}

/// Commit point: after this, failing to parse `p` is a syntax error reported as
/// "expected `label`" at the next token, unless `p` itself got further.
pub(crate) fn expect<'a, O, P>(
    label: &'static str,
    mut p: P,
) -> impl FnMut(&'a str) -> PResult<'a, O>
where
    P: Parser<&'a str, Output = O, Error = PErr<'a>>,
{
    move |i| match p.parse(i) {
        Err(Err::Error(e)) => {
            let at = skip_ws(i);
            if e.input.len() < at.len() {
                Err(Err::Failure(e))
            } else {
                failure(at, label)
            }
        }
        other => other,
    }
}

/// `kw` then, committed, `p`: `SOFFSET` then a number.
pub(crate) fn clause<'a, O, P>(
    word: &'static str,
    label: &'static str,
    p: P,
) -> impl FnMut(&'a str) -> PResult<'a, Option<O>>
where
    P: Parser<&'a str, Output = O, Error = PErr<'a>>,
{
    let mut p = expect(label, p);
    move |i| match kw(word)(i) {
        Ok((rest, _)) => p(rest).map(|(rest, o)| (rest, Some(o))),
        Err(Err::Error(_)) => Ok((i, None)),
        Err(e) => Err(e),
    }
}
