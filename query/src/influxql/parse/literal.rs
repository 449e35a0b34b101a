//! Literals: identifiers, strings, regexes, numbers and durations.

use super::combinators::{PResult, fail, failure, is_ident_char, ws};
use crate::ast::RESERVED;

/// A number literal as lexed; `1451606400s` is a duration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
    Duration(i64),
}

/// `[A-Za-z_][A-Za-z0-9_]*`, not a reserved word.
pub(crate) fn bare_ident(i: &str) -> PResult<'_, &str> {
    let (i, ()) = ws(i)?;
    if !i.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return fail(i, "identifier");
    }
    let end = i.find(|c| !is_ident_char(c)).unwrap_or(i.len());
    let word = &i[..end];
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word)) {
        return fail(i, "identifier");
    }
    Ok((&i[end..], word))
}

/// A bare or double-quoted identifier.
pub(crate) fn ident(i: &str) -> PResult<'_, String> {
    let (i, ()) = ws(i)?;
    if i.starts_with('"') {
        delimited_text(i, '"', "\" closing the identifier")
    } else {
        bare_ident(i).map(|(rest, w)| (rest, w.to_owned()))
    }
}

/// `'…'` with `\'`, `\\` and `\n` escapes; other `\x` pairs are kept as written.
pub(crate) fn string_lit(i: &str) -> PResult<'_, String> {
    let (i, ()) = ws(i)?;
    if !i.starts_with('\'') {
        return fail(i, "string");
    }
    delimited_text(i, '\'', "' closing the string")
}

/// Text between `quote`s starting at `i`, unescaping `\quote`, `\\` and `\n`.
fn delimited_text<'a>(i: &'a str, quote: char, unclosed: &'static str) -> PResult<'a, String> {
    let mut out = String::new();
    let mut chars = i.char_indices().skip(1);
    while let Some((pos, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((&i[pos + 1..], out)),
            '\\' => match chars.next() {
                Some((_, c)) if c == quote || c == '\\' => out.push(c),
                Some((_, 'n')) => out.push('\n'),
                Some((_, c)) => {
                    out.push('\\');
                    out.push(c);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    failure(i, unclosed)
}

/// `/…/` with `\/` escapes; other `\x` pairs are kept as written.
pub(crate) fn regex_lit(i: &str) -> PResult<'_, String> {
    let (i, ()) = ws(i)?;
    if !i.starts_with('/') {
        return fail(i, "regex");
    }
    let mut out = String::new();
    let mut chars = i.char_indices().skip(1);
    while let Some((pos, c)) = chars.next() {
        match c {
            '/' => return Ok((&i[pos + 1..], out)),
            '\\' => match chars.next() {
                Some((_, '/')) => out.push('/'),
                Some((_, c)) => {
                    out.push('\\');
                    out.push(c);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    failure(i, "/ closing the regex")
}

const UNITS: [(&str, i128); 10] = [
    ("ns", 1),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("u", 1_000),
    ("µ", 1_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
    ("w", 604_800_000_000_000),
];

fn unit(i: &str) -> Option<(&str, i128)> {
    UNITS
        .iter()
        .find_map(|(u, n)| i.strip_prefix(u).map(|rest| (rest, *n)))
}

fn digits(i: &str) -> (&str, &str) {
    let end = i.find(|c: char| !c.is_ascii_digit()).unwrap_or(i.len());
    (&i[end..], &i[..end])
}

/// An unsigned number, a float, or a duration such as `1h30m`; negated when `negative`.
pub(crate) fn number(i: &str, negative: bool) -> PResult<'_, Num> {
    let (i, ()) = ws(i)?;
    let (rest, int) = digits(i);
    if int.is_empty() {
        return fail(i, "number");
    }
    let mut end = i.len() - rest.len();
    let mut is_float = false;
    if rest.starts_with('.') && rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
        end += 1 + digits(&rest[1..]).1.len();
        is_float = true;
    }
    let after = &i[end..];
    if let Some(exp) = after.strip_prefix(['e', 'E']) {
        let signed = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        let (_, d) = digits(signed);
        if !d.is_empty() {
            end += 1 + (exp.len() - signed.len()) + d.len();
            is_float = true;
        }
    }
    if is_float {
        return match i[..end].parse::<f64>() {
            Ok(v) if v.is_finite() => Ok((&i[end..], Num::Float(if negative { -v } else { v }))),
            _ => failure(i, "a finite number"),
        };
    }
    let magnitude = |d: &str| d.parse::<i128>().ok().filter(|v| *v <= 1 << 64);
    let Some(first) = magnitude(int) else {
        return failure(i, "an integer within 64 bits");
    };
    let Some((mut rest, mult)) = unit(rest) else {
        let v = if negative { -first } else { first };
        return match i64::try_from(v) {
            Ok(v) => Ok((rest, Num::Int(v))),
            Err(_) => failure(i, "an integer within 64 bits"),
        };
    };
    let mut total = first * mult;
    while rest.starts_with(|c: char| c.is_ascii_digit()) {
        let (r, d) = digits(rest);
        let Some((r, mult)) = unit(r) else {
            return failure(r, "duration unit (ns u µ ms s m h d w)");
        };
        let Some(v) = magnitude(d) else {
            return failure(rest, "a duration within 64 bits");
        };
        total = total.saturating_add(v * mult);
        rest = r;
    }
    if rest.starts_with(is_ident_char) {
        return failure(rest, "duration unit (ns u µ ms s m h d w)");
    }
    let v = if negative { -total } else { total };
    match i64::try_from(v) {
        Ok(v) => Ok((rest, Num::Duration(v))),
        Err(_) => failure(i, "a duration within 64 bits"),
    }
}

/// A row or series count (`LIMIT`, `OFFSET`, `SLIMIT`, `SOFFSET`): a non-negative integer,
/// where one past `i64::MAX` counts as `i64::MAX`, as InfluxDB 1.x reads it (its parser
/// takes `strconv.ParseInt`'s clamped value), so `LIMIT 99999999999999999999` is "all".
pub(crate) fn count(i: &str) -> PResult<'_, u64> {
    let (i, ()) = ws(i)?;
    let (rest, d) = digits(i);
    if d.is_empty() || rest.starts_with(|c: char| is_ident_char(c) || c == '.') {
        return fail(i, "non-negative integer");
    }
    let v = d.parse::<i64>().unwrap_or(i64::MAX);
    Ok((rest, v.unsigned_abs()))
}
