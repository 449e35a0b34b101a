//! The InfluxQL parser (nom). One file per grammar area; every statement round-trips
//! through `Display`.

mod combinators;
mod delete;
mod expr;
mod literal;
mod locate;
mod meta;
mod select;

use nom::Err;

use crate::ast::Statement;
use crate::error::ParseError;
use combinators::{PErr, PResult, expect, fail, is_ident_char, kw, skip_ws, sym, ws};
pub use expr::{MAX_HEIGHT, MAX_NESTING};
pub(crate) use locate::{find_token, position};

/// Parses `;`-separated statements; empty statements are ignored.
///
/// Never panics; nesting is bounded by [`MAX_NESTING`] and [`MAX_HEIGHT`].
pub fn parse(text: &str) -> Result<Vec<Statement>, ParseError> {
    Ok(parse_spanned(text)?.into_iter().map(|(s, _)| s).collect())
}

/// [`parse`], with each statement's byte range in `text` (for errors found later).
pub(crate) fn parse_spanned(
    text: &str,
) -> Result<Vec<(Statement, std::ops::Range<usize>)>, ParseError> {
    let mut out = Vec::new();
    let mut i = text;
    loop {
        let step = (|i| -> PResult<'_, Option<(Statement, std::ops::Range<usize>)>> {
            let (i, ()) = ws(i)?;
            if i.is_empty() {
                return Ok((i, None));
            }
            if let Ok((i, _)) = sym(";", "';'")(i) {
                return Ok((i, None));
            }
            let start = text.len() - i.len();
            let (i, statement) =
                expect("SELECT, EXPLAIN, SHOW, CREATE, DELETE or DROP", statement)(i)?;
            let end = text.len() - i.len();
            let (i, ()) = ws(i)?;
            if !i.is_empty() && !i.starts_with(';') {
                return Err(Err::Failure(PErr {
                    input: i,
                    expected: "';' or end of input",
                }));
            }
            Ok((i, Some((statement, start..end))))
        })(i);
        match step {
            Ok((rest, statement)) => {
                out.extend(statement);
                if rest.is_empty() {
                    return Ok(out);
                }
                i = rest;
            }
            Err(Err::Error(e) | Err::Failure(e)) => return Err(to_error(text, e)),
            Err(Err::Incomplete(_)) => {
                return Err(to_error(
                    text,
                    PErr {
                        input: "",
                        expected: "complete input",
                    },
                ));
            }
        }
    }
}

fn statement(i: &str) -> PResult<'_, Statement> {
    if let Ok((i, _)) = kw("explain")(i) {
        let (i, _) = expect("SELECT after EXPLAIN", kw("select"))(i)?;
        let (i, s) = select::select(i)?;
        return Ok((i, Statement::Explain(Box::new(s))));
    }
    if let Ok((i, _)) = kw("select")(i) {
        let (i, s) = select::select(i)?;
        return Ok((i, Statement::Select(Box::new(s))));
    }
    if let Ok((i, _)) = kw("show")(i) {
        return meta::show(i);
    }
    if let Ok((i, _)) = kw("create")(i) {
        return meta::create(i);
    }
    if let Ok((i, _)) = kw("delete")(i) {
        return delete::delete(i);
    }
    if let Ok((i, _)) = kw("drop")(i) {
        return delete::drop(i);
    }
    fail(i, "statement")
}

/// Turns the failure position (a suffix of `text`) into line, column and found token.
fn to_error(text: &str, e: PErr<'_>) -> ParseError {
    let at = skip_ws(e.input);
    let offset = text.len().saturating_sub(at.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    let column = before[line_start..].chars().count() + 1;
    ParseError {
        line,
        column,
        expected: e.expected.to_owned(),
        found: token(at).to_owned(),
    }
}

/// The token at the start of `s`: a word or number, or else one char.
fn token(s: &str) -> &str {
    let word = s
        .find(|c: char| !(is_ident_char(c) || c == '.'))
        .unwrap_or(s.len());
    let end = match s.chars().next() {
        Some(c) if is_ident_char(c) => word,
        Some(c) => c.len_utf8(),
        None => 0,
    };
    let end = end.min(s.char_indices().nth(40).map_or(s.len(), |(p, _)| p));
    &s[..end]
}
