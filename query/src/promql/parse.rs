//! The PromQL parser: nom for the tokens (numbers, durations, strings, names), precedence
//! climbing for binary operators, and Prometheus' type checks applied as each node is
//! built, so every error carries the position of the node it is about.
//!
//! Errors read as Prometheus 2.42 prints them: `1:7: parse error: <message>` (line and
//! byte column, 1-based). The parser never panics; nesting deeper than [`MAX_DEPTH`] is an
//! error, so the stack stays bounded on any input.

use super::ast::*;
use super::functions;
use nom::IResult;
use nom::Parser;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, digit1, one_of};
use nom::combinator::{opt, recognize};
use std::cell::Cell;

/// Deepest nesting of parentheses, calls and operators the parser accepts.
pub const MAX_DEPTH: usize = 256;

/// A PromQL syntax or type error at a position of the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: parse error: {message}")]
pub struct PromParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based byte column within the line.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Error threaded through nom: where (a suffix of the text) and what.
#[derive(Debug, Clone, PartialEq)]
struct PErr<'a> {
    input: &'a str,
    msg: String,
}

impl<'a> nom::error::ParseError<&'a str> for PErr<'a> {
    fn from_error_kind(input: &'a str, _kind: nom::error::ErrorKind) -> Self {
        PErr {
            input,
            msg: String::new(),
        }
    }
    fn append(_: &'a str, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

type PResult<'a, O> = IResult<&'a str, O, PErr<'a>>;

fn fatal<'a, O>(input: &'a str, msg: impl Into<String>) -> PResult<'a, O> {
    Err(nom::Err::Failure(PErr {
        input,
        msg: msg.into(),
    }))
}

/// Parses one expression.
pub fn parse_expr(text: &str) -> Result<Expr, PromParseError> {
    parse_expr_in(text, false)
}

fn parse_expr_in<'a>(text: &'a str, allow_empty: bool) -> Result<Expr, PromParseError> {
    let p = Parser_ {
        text,
        depth: Cell::new(0),
        allow_empty,
    };
    let run = |i: &'a str| -> PResult<'a, Expr> {
        let (i, ()) = ws(i);
        if i.is_empty() {
            return fatal(i, "no expression found in input");
        }
        let (i, e) = p.expr(i, 0)?;
        let (i, ()) = ws(i);
        if !i.is_empty() {
            return fatal(i, format!("unexpected {}", describe(i)));
        }
        Ok((i, e))
    };
    match run(text) {
        Ok((_, e)) => Ok(e),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(p.error(e)),
        Err(nom::Err::Incomplete(_)) => Err(p.error(PErr {
            input: "",
            msg: "unexpected end of input".into(),
        })),
    }
}

/// Parses a series selector as the API's `match[]` takes it: `metric{…}` or `{…}`, no
/// range, offset or `@`. Returns its matchers. Unlike an expression, a selector whose
/// matchers all match the empty string parses (the API refuses it with its own message).
pub fn parse_selector(text: &str) -> Result<Vec<Matcher>, PromParseError> {
    let e = parse_expr_in(text, true)?;
    match e {
        Expr::Vector(v) if v.offset == 0 && v.at.is_none() => Ok(v.matchers),
        _ => Err(PromParseError {
            line: 1,
            column: 1,
            message: format!(
                "expected type instant vector selector, got {}",
                e.value_type().name()
            ),
        }),
    }
}

/// Parses a duration (`5m`, `1h30m`) into milliseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    match duration(s) {
        Ok(("", d)) => Some(d),
        _ => None,
    }
}

struct Parser_<'t> {
    text: &'t str,
    depth: Cell<usize>,
    /// Selectors may have only empty-matching matchers (`match[]` parsing).
    allow_empty: bool,
}

/// Skips whitespace and `#` comments.
fn ws(mut i: &str) -> (&str, ()) {
    loop {
        i = i.trim_start();
        match i.strip_prefix('#') {
            Some(rest) => i = rest.find('\n').map_or("", |p| &rest[p..]),
            None => return (i, ()),
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn identifier(i: &str) -> PResult<'_, &str> {
    recognize((
        take_while1(|c: char| is_ident_start(c)),
        take_while(is_ident_char),
    ))
    .parse(i)
}

/// A label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn label_name(i: &str) -> PResult<'_, &str> {
    recognize((
        take_while1(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))
    .parse(i)
}

/// One `<digits><unit>` of a duration, in ms.
fn duration_part(i: &str) -> PResult<'_, (i64, u8)> {
    let (rest, n) = digit1(i)?;
    fn unit(i: &str) -> PResult<'_, (&'static str, u8, i64)> {
        for (u, rank, size) in [
            ("ms", 6u8, 1i64),
            ("y", 0, 365 * 86_400_000),
            ("w", 1, 7 * 86_400_000),
            ("d", 2, 86_400_000),
            ("h", 3, 3_600_000),
            ("m", 4, 60_000),
            ("s", 5, 1_000),
        ] {
            if let Ok((r, _)) = tag::<_, _, PErr<'_>>(u).parse(i) {
                return Ok((r, (u, rank, size)));
            }
        }
        Err(nom::Err::Error(PErr {
            input: i,
            msg: String::new(),
        }))
    }
    let (rest, (_, rank, size)) = unit(rest)?;
    let n: i64 = n.parse().map_err(|_| {
        nom::Err::Failure(PErr {
            input: i,
            msg: format!("duration out of range: {n}"),
        })
    })?;
    match n.checked_mul(size) {
        Some(ms) => Ok((rest, (ms, rank))),
        None => fatal(i, "duration out of range"),
    }
}

/// A duration: parts with units in decreasing order, each unit at most once.
fn duration(i: &str) -> PResult<'_, i64> {
    let (mut rest, (mut total, mut last)) = duration_part(i)?;
    while let Ok((r, (ms, rank))) = duration_part(rest) {
        if rank <= last {
            return fatal(i, format!("not a valid duration string: {:?}", token_at(i)));
        }
        total = match total.checked_add(ms) {
            Some(t) => t,
            None => return fatal(i, "duration out of range"),
        };
        last = rank;
        rest = r;
    }
    if rest.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return fatal(i, format!("not a valid duration string: {:?}", token_at(i)));
    }
    Ok((rest, total))
}

/// A number: decimal with optional fraction and exponent, `0x` hex, or `Inf`/`NaN`.
fn number(i: &str) -> PResult<'_, f64> {
    if let Ok((rest, w)) = identifier(i) {
        let lw = w.to_ascii_lowercase();
        if lw == "inf" {
            return Ok((rest, f64::INFINITY));
        }
        if lw == "nan" {
            return Ok((rest, f64::NAN));
        }
        return Err(nom::Err::Error(PErr {
            input: i,
            msg: String::new(),
        }));
    }
    if let Ok((rest, _)) = (char::<_, PErr<'_>>('0'), one_of("xX")).parse(i) {
        let (rest2, hex) = take_while1(|c: char| c.is_ascii_hexdigit()).parse(rest)?;
        if rest2.starts_with(is_ident_char) {
            return Err(nom::Err::Error(PErr {
                input: i,
                msg: String::new(),
            }));
        }
        return match u64::from_str_radix(hex, 16) {
            Ok(v) => Ok((rest2, v as f64)),
            Err(_) => Ok((rest2, f64::INFINITY)),
        };
    }
    let (rest, text) = recognize((
        take_while(|c: char| c.is_ascii_digit()),
        opt((char('.'), take_while(|c: char| c.is_ascii_digit()))),
        opt((one_of("eE"), opt(one_of("+-")), digit1)),
    ))
    .parse(i)?;
    if text.is_empty() || text == "." || !text.starts_with(|c: char| c.is_ascii_digit() || c == '.')
    {
        return Err(nom::Err::Error(PErr {
            input: i,
            msg: String::new(),
        }));
    }
    if text.starts_with('.') && !text[1..].starts_with(|c: char| c.is_ascii_digit()) {
        return Err(nom::Err::Error(PErr {
            input: i,
            msg: String::new(),
        }));
    }
    // A number directly followed by a letter is a duration (or garbage), not a number.
    if rest.starts_with(is_ident_char) {
        return Err(nom::Err::Error(PErr {
            input: i,
            msg: String::new(),
        }));
    }
    match text.parse::<f64>() {
        Ok(v) => Ok((rest, v)),
        Err(_) => fatal(i, format!("bad number or duration syntax: {text:?}")),
    }
}

/// A string literal in `"…"`, `'…'` (Go escapes) or `` `…` `` (raw).
fn string_lit(i: &str) -> PResult<'_, String> {
    let Some(q) = i.chars().next().filter(|c| matches!(c, '"' | '\'' | '`')) else {
        return Err(nom::Err::Error(PErr {
            input: i,
            msg: String::new(),
        }));
    };
    let body = &i[1..];
    if q == '`' {
        return match body.find('`') {
            Some(end) => Ok((&body[end + 1..], body[..end].to_owned())),
            None => fatal(i, "unterminated raw string"),
        };
    }
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((p, c)) = chars.next() {
        match c {
            c if c == q => return Ok((&body[p + 1..], out)),
            '\n' => return fatal(i, "unterminated quoted string"),
            '\\' => {
                let Some((ep, e)) = chars.next() else {
                    return fatal(i, "unterminated quoted string");
                };
                let simple = match e {
                    'a' => Some('\u{7}'),
                    'b' => Some('\u{8}'),
                    'f' => Some('\u{c}'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    'v' => Some('\u{b}'),
                    '\\' => Some('\\'),
                    c if c == q => Some(c),
                    _ => None,
                };
                if let Some(s) = simple {
                    out.push(s);
                    continue;
                }
                let (len, radix) = match e {
                    'x' => (2, 16),
                    'u' => (4, 16),
                    'U' => (8, 16),
                    '0'..='7' => (3, 8),
                    _ => {
                        return fatal(
                            &body[ep..],
                            format!("unknown escape sequence {:?}", format!("\\{e}")),
                        );
                    }
                };
                let start = if radix == 8 { ep } else { ep + 1 };
                let digits = body.get(start..start + len).unwrap_or("");
                let ok = digits.len() == len && digits.chars().all(|c| c.is_digit(radix));
                let Some(v) = ok
                    .then(|| u32::from_str_radix(digits, radix).ok())
                    .flatten()
                else {
                    return fatal(&body[ep..], "invalid escape sequence");
                };
                if radix == 16 && len == 2 || radix == 8 {
                    // \x and octal escapes are bytes; Prometheus requires the result to be
                    // valid UTF-8, which for a lone byte means ASCII.
                    if v > 0x7f {
                        return fatal(&body[ep..], "invalid UTF-8 in string escape");
                    }
                }
                match char::from_u32(v) {
                    Some(c) => out.push(c),
                    None => {
                        return fatal(
                            &body[ep..],
                            "escape sequence is an invalid Unicode code point",
                        );
                    }
                }
                for _ in 0..(len - usize::from(radix == 8)) {
                    chars.next();
                }
            }
            c => out.push(c),
        }
    }
    fatal(i, "unterminated quoted string")
}

/// The error at `at`: Prometheus' message for an unclosed construct when the input ended
/// there, `msg` otherwise.
fn unclosed_or<'a, O>(at: &'a str, unclosed: &str, msg: String) -> PResult<'a, O> {
    if at.is_empty() {
        fatal(at, unclosed)
    } else {
        fatal(at, msg)
    }
}

/// A duration inside brackets: `bad duration syntax` for digits without a unit, and a
/// positive length.
fn bracket_duration<'a>(i: &'a str, what: &str) -> PResult<'a, i64> {
    match duration(i) {
        Ok((_, 0)) => fatal(i, "duration must be greater than 0"),
        Ok(r) => Ok(r),
        Err(nom::Err::Failure(f)) => Err(nom::Err::Failure(f)),
        Err(_) if i.starts_with(|c: char| c.is_ascii_digit()) => {
            let digits: &str = &i[..i.find(|c: char| !c.is_ascii_digit()).unwrap_or(i.len())];
            fatal(i, format!("bad duration syntax: {digits:?}"))
        }
        Err(_) => unclosed_or(
            i,
            "unclosed left bracket",
            format!("unexpected {} in {what}, expected duration", describe(i)),
        ),
    }
}

/// A short description of what is at `i`, for "unexpected …" messages.
fn describe(i: &str) -> String {
    if i.is_empty() {
        return "end of input".into();
    }
    if let Ok((_, w)) = identifier(i) {
        let lw = w.to_ascii_lowercase();
        if BIN_WORDS.iter().any(|(k, _)| *k == lw) || KEYWORDS.contains(&lw.as_str()) {
            return format!("<{lw}>");
        }
        if AggOp::from_name(w).is_some() {
            return format!("<aggr:{lw}>");
        }
        return format!("identifier {w:?}");
    }
    if let Ok((_, d)) = duration(i) {
        let _ = d;
        return format!("duration {:?}", token_at(i));
    }
    if number(i).is_ok() {
        return format!("number {:?}", token_at(i));
    }
    if i.starts_with(['"', '\'', '`']) {
        return format!("string {:?}", token_at(i));
    }
    if let Some((op, _)) = bin_symbol(i) {
        return format!("<op:{op}>");
    }
    let c = i.chars().next().unwrap_or(' ');
    match c {
        '(' => "\"(\"".into(),
        ')' => "\")\"".into(),
        '{' => "\"{\"".into(),
        '}' => "\"}\"".into(),
        '[' => "\"[\"".into(),
        ']' => "\"]\"".into(),
        ',' => "\",\"".into(),
        ':' => "\":\"".into(),
        '@' => "<@>".into(),
        '=' => "\"=\"".into(),
        c => format!("character {c:?}"),
    }
}

/// The token at the start of `s`, for messages.
fn token_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(is_ident_char(c) || c == '.'))
        .unwrap_or(s.len());
    let end = if end == 0 {
        s.chars().next().map_or(0, char::len_utf8)
    } else {
        end
    };
    &s[..end.min(s.len())]
}

const KEYWORDS: [&str; 8] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
];

const BIN_WORDS: [(&str, BinOp); 4] = [
    ("and", BinOp::And),
    ("or", BinOp::Or),
    ("unless", BinOp::Unless),
    ("atan2", BinOp::Atan2),
];

/// A symbolic binary operator at the start of `i`.
fn bin_symbol(i: &str) -> Option<(&'static str, BinOp)> {
    for (s, op) in [
        ("==", BinOp::Eq),
        ("!=", BinOp::Ne),
        (">=", BinOp::Ge),
        ("<=", BinOp::Le),
        (">", BinOp::Gt),
        ("<", BinOp::Lt),
        ("+", BinOp::Add),
        ("-", BinOp::Sub),
        ("*", BinOp::Mul),
        ("/", BinOp::Div),
        ("%", BinOp::Mod),
        ("^", BinOp::Pow),
    ] {
        if i.starts_with(s) {
            return Some((s, op));
        }
    }
    None
}

/// A case-insensitive keyword not followed by an identifier character.
fn keyword<'a>(i: &'a str, word: &str) -> Option<&'a str> {
    let (i, ()) = ws(i);
    match identifier(i) {
        Ok((rest, w)) if w.eq_ignore_ascii_case(word) => Some(rest),
        _ => None,
    }
}

fn symbol<'a>(i: &'a str, s: &str) -> Option<&'a str> {
    let (i, ()) = ws(i);
    i.strip_prefix(s)
}

impl Parser_<'_> {
    fn error(&self, e: PErr<'_>) -> PromParseError {
        let pos = self.text.len().saturating_sub(e.input.len());
        let before = self.text.get(..pos).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |p| p + 1);
        PromParseError {
            line,
            column: pos - line_start + 1,
            message: if e.msg.is_empty() {
                format!("unexpected {}", describe(e.input))
            } else {
                e.msg
            },
        }
    }

    fn enter<'a>(&self, i: &'a str) -> Result<(), nom::Err<PErr<'a>>> {
        let d = self.depth.get() + 1;
        if d > MAX_DEPTH {
            return Err(nom::Err::Failure(PErr {
                input: i,
                msg: format!("expression nested deeper than {MAX_DEPTH} levels"),
            }));
        }
        self.depth.set(d);
        Ok(())
    }

    fn leave(&self) {
        self.depth.set(self.depth.get().saturating_sub(1));
    }

    /// The binary operator at `i`, if any.
    fn peek_binop<'a>(&self, i: &'a str) -> Option<(&'a str, BinOp)> {
        let (i, ()) = ws(i);
        if let Some((s, op)) = bin_symbol(i) {
            return Some((&i[s.len()..], op));
        }
        let (rest, w) = identifier(i).ok()?;
        let lw = w.to_ascii_lowercase();
        BIN_WORDS
            .iter()
            .find(|(k, _)| *k == lw)
            .map(|(_, op)| (rest, *op))
    }

    /// Precedence climbing over binary operators of precedence ≥ `min`.
    fn expr<'a>(&self, i: &'a str, min: u8) -> PResult<'a, Expr> {
        self.enter(i)?;
        let start = ws(i).0;
        let (mut i, mut lhs) = self.unary(i)?;
        while let Some((after, op)) = self.peek_binop(i) {
            if op.precedence() < min {
                break;
            }
            let op_at = ws(i).0;
            let (after, (return_bool, matching)) = self.bin_modifiers(after, op)?;
            let next = if op.right_assoc() {
                op.precedence()
            } else {
                op.precedence() + 1
            };
            let (rest, rhs) = self.expr(after, next)?;
            lhs = self.binary(start, op_at, op, lhs, rhs, return_bool, matching)?;
            i = rest;
        }
        self.leave();
        Ok((i, lhs))
    }

    /// `bool`, `on(…)`/`ignoring(…)`, `group_left(…)`/`group_right(…)` after an operator.
    fn bin_modifiers<'a>(
        &self,
        mut i: &'a str,
        op: BinOp,
    ) -> PResult<'a, (bool, Option<VectorMatching>)> {
        let mut return_bool = false;
        if let Some(rest) = keyword(i, "bool") {
            if !op.is_comparison() {
                return fatal(
                    ws(i).0,
                    "bool modifier can only be used on comparison operators",
                );
            }
            return_bool = true;
            i = rest;
        }
        let mut m = VectorMatching {
            card: if op.is_set() {
                Cardinality::ManyToMany
            } else {
                Cardinality::OneToOne
            },
            on: false,
            labels: Vec::new(),
            include: Vec::new(),
            explicit: false,
        };
        let on = keyword(i, "on").map(|r| (r, true));
        let ign = keyword(i, "ignoring").map(|r| (r, false));
        if let Some((rest, is_on)) = on.or(ign) {
            let (rest, labels) = self.label_list(rest)?;
            m.on = is_on;
            m.labels = labels;
            m.explicit = true;
            i = rest;
            let left = keyword(i, "group_left").map(|r| (r, Cardinality::ManyToOne));
            let right = keyword(i, "group_right").map(|r| (r, Cardinality::OneToMany));
            if let Some((rest, card)) = left.or(right) {
                let at = ws(i).0;
                m.card = card;
                i = rest;
                if symbol(i, "(").is_some() {
                    let (rest, inc) = self.label_list(i)?;
                    if m.on
                        && let Some(l) = inc.iter().find(|l| m.labels.contains(l))
                    {
                        return fatal(
                            at,
                            format!("label {l:?} must not occur in ON and GROUP clause at once"),
                        );
                    }
                    m.include = inc;
                    i = rest;
                }
            }
        } else if let Some(w) = ["group_left", "group_right"]
            .iter()
            .find(|w| keyword(i, w).is_some())
        {
            return fatal(ws(i).0, format!("unexpected <{w}>"));
        }
        Ok((i, (return_bool, Some(m))))
    }

    /// `(a, b, …)` with an optional trailing comma; label names may be keywords.
    fn label_list<'a>(&self, i: &'a str) -> PResult<'a, Vec<String>> {
        let Some(mut i) = symbol(i, "(") else {
            let at = ws(i).0;
            return fatal(
                at,
                format!(
                    "unexpected {} in grouping opts, expected \"(\"",
                    describe(at)
                ),
            );
        };
        let mut out = Vec::new();
        loop {
            if let Some(rest) = symbol(i, ")") {
                return Ok((rest, out));
            }
            let at = ws(i).0;
            let Ok((rest, name)) = label_name(at) else {
                return unclosed_or(
                    at,
                    "unclosed left parenthesis",
                    format!(
                        "unexpected {} in grouping opts, expected label",
                        describe(at)
                    ),
                );
            };
            if rest.starts_with(is_ident_char) {
                return unclosed_or(
                    at,
                    "unclosed left parenthesis",
                    format!(
                        "unexpected {} in grouping opts, expected label",
                        describe(at)
                    ),
                );
            }
            out.push(name.to_owned());
            i = rest;
            if let Some(rest) = symbol(i, ",") {
                i = rest;
            } else if symbol(i, ")").is_none() {
                let at = ws(i).0;
                return unclosed_or(
                    at,
                    "unclosed left parenthesis",
                    format!(
                        "unexpected {} in grouping opts, expected \")\" or \",\"",
                        describe(at)
                    ),
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn binary<'a>(
        &self,
        start: &'a str,
        op_at: &'a str,
        op: BinOp,
        lhs: Expr,
        rhs: Expr,
        return_bool: bool,
        mut matching: Option<VectorMatching>,
    ) -> Result<Expr, nom::Err<PErr<'a>>> {
        let (lt, rt) = (lhs.value_type(), rhs.value_type());
        if op.is_set()
            && matching
                .as_ref()
                .is_some_and(|m| matches!(m.card, Cardinality::ManyToOne | Cardinality::OneToMany))
        {
            return fatal(
                start,
                format!("no grouping allowed for \"{}\" operation", op.as_str()),
            )
            .map(|(_, e)| e);
        }
        if op.is_comparison() && !return_bool && lt == ValueType::Scalar && rt == ValueType::Scalar
        {
            return fatal(op_at, "comparisons between scalars must use BOOL modifier")
                .map(|(_, e)| e);
        }
        for t in [lt, rt] {
            if t != ValueType::Scalar && t != ValueType::Vector {
                return fatal(
                    start,
                    "binary expression must contain only scalar and instant vector types",
                )
                .map(|(_, e)| e);
            }
        }
        if lt != ValueType::Vector || rt != ValueType::Vector {
            if matching
                .as_ref()
                .is_some_and(|m| !m.labels.is_empty() || m.explicit && m.on)
            {
                return fatal(
                    start,
                    "vector matching only allowed between instant vectors",
                )
                .map(|(_, e)| e);
            }
            matching = None;
        }
        if (lt == ValueType::Scalar || rt == ValueType::Scalar) && op.is_set() {
            return fatal(
                start,
                format!(
                    "set operator \"{}\" not allowed in binary scalar expression",
                    op.as_str()
                ),
            )
            .map(|(_, e)| e);
        }
        Ok(Expr::Binary(Box::new(Binary {
            op,
            lhs,
            rhs,
            return_bool,
            matching,
        })))
    }

    /// A unary operator applies to what binds tighter than `*`: only `^`.
    fn unary<'a>(&self, i: &'a str) -> PResult<'a, Expr> {
        let (i, ()) = ws(i);
        let op = if i.starts_with('-') {
            Some(UnaryOp::Neg)
        } else if i.starts_with('+') {
            Some(UnaryOp::Pos)
        } else {
            None
        };
        let Some(op) = op else {
            return self.postfix(i);
        };
        self.enter(i)?;
        let (rest, e) = self.expr(&i[1..], BinOp::Pow.precedence())?;
        self.leave();
        let t = e.value_type();
        if t != ValueType::Scalar && t != ValueType::Vector {
            return fatal(
                i,
                format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                    t.name()
                ),
            );
        }
        let e = match (op, e) {
            (UnaryOp::Neg, Expr::Number(v)) => Expr::Number(-v),
            (UnaryOp::Pos, Expr::Number(v)) => Expr::Number(v),
            (op, e) => Expr::Unary(op, Box::new(e)),
        };
        Ok((rest, e))
    }

    /// A primary expression followed by any `[range]`, `[range:step]`, `offset`, `@`.
    fn postfix<'a>(&self, i: &'a str) -> PResult<'a, Expr> {
        let start = i;
        let (mut i, mut e) = self.primary(i)?;
        loop {
            let (at, ()) = ws(i);
            if let Some(rest) = at.strip_prefix('[') {
                let (rest, ()) = ws(rest);
                let (rest, range) = bracket_duration(rest, "subquery selector")?;
                let (rest, ()) = ws(rest);
                if let Some(rest) = rest.strip_prefix(':') {
                    let (rest, ()) = ws(rest);
                    let (rest, step) = if rest.starts_with(|c: char| c.is_ascii_digit()) {
                        let (r, d) = bracket_duration(rest, "subquery selector")?;
                        (r, Some(d))
                    } else {
                        (rest, None)
                    };
                    let Some(rest) = symbol(rest, "]") else {
                        let a = ws(rest).0;
                        return unclosed_or(
                            a,
                            "unclosed left bracket",
                            format!(
                                "unexpected {} in subquery selector, expected \"]\"",
                                describe(a)
                            ),
                        );
                    };
                    if e.value_type() != ValueType::Vector {
                        return fatal(
                            start,
                            format!(
                                "subquery is only allowed on instant vector, got {} instead",
                                e.value_type().name()
                            ),
                        );
                    }
                    e = Expr::Subquery(Subquery {
                        expr: Box::new(e),
                        range,
                        step,
                        offset: 0,
                        at: None,
                    });
                    i = rest;
                    continue;
                }
                let Some(rest) = symbol(rest, "]") else {
                    let a = ws(rest).0;
                    return unclosed_or(
                        a,
                        "unclosed left bracket",
                        format!(
                            "unexpected {} in subquery selector, expected \":\" or \"]\"",
                            describe(a)
                        ),
                    );
                };
                match e {
                    Expr::Vector(v) => {
                        if v.offset != 0 || v.at.is_some() {
                            return fatal(at, "no offset modifiers allowed before range");
                        }
                        e = Expr::Matrix(MatrixSelector { vector: v, range });
                    }
                    _ => return fatal(start, "ranges only allowed for vector selectors"),
                }
                i = rest;
                continue;
            }
            if let Some(rest) = keyword(at, "offset") {
                let (rest, ()) = ws(rest);
                let (neg, rest) = match rest.strip_prefix('-') {
                    Some(r) => (true, ws(r).0),
                    None => (false, rest.strip_prefix('+').map_or(rest, |r| ws(r).0)),
                };
                let (rest, d) = match duration(rest) {
                    Ok(r) => r,
                    Err(nom::Err::Failure(f)) => return Err(nom::Err::Failure(f)),
                    Err(_) => {
                        return fatal(
                            rest,
                            format!("unexpected {} in offset, expected duration", describe(rest)),
                        );
                    }
                };
                let d = if neg { -d } else { d };
                let slot = match &mut e {
                    Expr::Vector(v) => &mut v.offset,
                    Expr::Matrix(m) => &mut m.vector.offset,
                    Expr::Subquery(s) => &mut s.offset,
                    _ => {
                        return fatal(
                            start,
                            "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                        );
                    }
                };
                if *slot != 0 {
                    return fatal(start, "offset may not be set multiple times");
                }
                *slot = d;
                i = rest;
                continue;
            }
            if let Some(rest) = at.strip_prefix('@') {
                let (rest, ()) = ws(rest);
                let (rest, t) = if let Some(r) = keyword(rest, "start") {
                    let Some(r) = symbol(r, "(").and_then(|r| symbol(r, ")")) else {
                        return fatal(r, "unexpected token after start, expected \"()\"");
                    };
                    (r, At::Start)
                } else if let Some(r) = keyword(rest, "end") {
                    let Some(r) = symbol(r, "(").and_then(|r| symbol(r, ")")) else {
                        return fatal(r, "unexpected token after end, expected \"()\"");
                    };
                    (r, At::End)
                } else {
                    let (neg, r) = match rest.strip_prefix('-') {
                        Some(r) => (true, ws(r).0),
                        None => (false, rest.strip_prefix('+').map_or(rest, |r| ws(r).0)),
                    };
                    let (r, v) = match number(r) {
                        Ok(x) => x,
                        Err(nom::Err::Failure(f)) => return Err(nom::Err::Failure(f)),
                        Err(_) => {
                            return fatal(
                                r,
                                format!(
                                    "unexpected {} in @, expected number or start() or end()",
                                    describe(r)
                                ),
                            );
                        }
                    };
                    let v = if neg { -v } else { v };
                    let ms = v * 1000.0;
                    if !ms.is_finite() || ms.abs() >= 9.2e18 {
                        return fatal(at, "timestamp out of bounds for @ modifier");
                    }
                    (r, At::Time(ms.round() as i64))
                };
                let slot = match &mut e {
                    Expr::Vector(v) => &mut v.at,
                    Expr::Matrix(m) => &mut m.vector.at,
                    Expr::Subquery(s) => &mut s.at,
                    _ => {
                        return fatal(
                            start,
                            "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                        );
                    }
                };
                if slot.is_some() {
                    return fatal(start, "@ <timestamp> may not be set multiple times");
                }
                *slot = Some(t);
                i = rest;
                continue;
            }
            return Ok((i, e));
        }
    }

    fn primary<'a>(&self, i: &'a str) -> PResult<'a, Expr> {
        let (i, ()) = ws(i);
        if i.is_empty() {
            return fatal(i, "unexpected end of input");
        }
        if let Some(rest) = i.strip_prefix('(') {
            self.enter(i)?;
            let (rest, e) = self.expr(rest, 0)?;
            self.leave();
            let Some(rest) = symbol(rest, ")") else {
                let at = ws(rest).0;
                return unclosed_or(
                    at,
                    "unclosed left parenthesis",
                    format!("unexpected {} in paren expression", describe(at)),
                );
            };
            return Ok((rest, Expr::Paren(Box::new(e))));
        }
        if i.starts_with('{') {
            let (rest, ms) = self.matchers(i)?;
            return Ok((rest, Expr::Vector(self.selector(i, None, ms)?)));
        }
        if i.starts_with(['"', '\'', '`']) {
            let (rest, s) = string_lit(i)?;
            return Ok((rest, Expr::String(s)));
        }
        match number(i) {
            Ok((rest, v)) => return Ok((rest, Expr::Number(v))),
            Err(nom::Err::Failure(f)) => return Err(nom::Err::Failure(f)),
            Err(_) => {}
        }
        if i.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            if duration(i).is_ok() {
                return fatal(i, format!("unexpected duration {:?}", token_at(i)));
            }
            return fatal(
                i,
                format!("bad number or duration syntax: {:?}", token_at(i)),
            );
        }
        let Ok((rest, word)) = identifier(i) else {
            return fatal(i, format!("unexpected {}", describe(i)));
        };
        let lw = word.to_ascii_lowercase();
        if let Some(op) = AggOp::from_name(word) {
            return self.aggregate(i, rest, op);
        }
        if KEYWORDS.contains(&lw.as_str()) || BIN_WORDS.iter().any(|(k, _)| *k == lw) {
            return fatal(i, format!("unexpected <{lw}>"));
        }
        if let Some(after) = symbol(rest, "(") {
            let Some(func) = functions::lookup(word) else {
                return fatal(i, format!("unknown function with name {word:?}"));
            };
            return self.call(i, after, func);
        }
        if symbol(rest, "{").is_some() {
            let (rest2, ms) = self.matchers(ws(rest).0)?;
            return Ok((rest2, Expr::Vector(self.selector(i, Some(word), ms)?)));
        }
        Ok((
            rest,
            Expr::Vector(self.selector(i, Some(word), Vec::new())?),
        ))
    }

    /// `{name op "value", …}` with an optional trailing comma.
    fn matchers<'a>(&self, i: &'a str) -> PResult<'a, Vec<Matcher>> {
        let mut i = &i[1..];
        let mut out = Vec::new();
        loop {
            if let Some(rest) = symbol(i, "}") {
                return Ok((rest, out));
            }
            let at = ws(i).0;
            let Ok((rest, name)) = label_name(at) else {
                return unclosed_or(
                    at,
                    "unexpected end of input inside braces",
                    format!(
                        "unexpected {} in label matching, expected label",
                        describe(at)
                    ),
                );
            };
            if rest.starts_with(is_ident_char) {
                return unclosed_or(
                    at,
                    "unexpected end of input inside braces",
                    format!(
                        "unexpected {} in label matching, expected label",
                        describe(at)
                    ),
                );
            }
            let (rest, ()) = ws(rest);
            let op = if rest.starts_with("=~") {
                MatchOp::Regex
            } else if rest.starts_with("!~") {
                MatchOp::NotRegex
            } else if rest.starts_with("!=") {
                MatchOp::NotEqual
            } else if rest.starts_with('=') && !rest.starts_with("==") {
                MatchOp::Equal
            } else {
                return unclosed_or(
                    rest,
                    "unexpected end of input inside braces",
                    format!(
                        "unexpected {} in label matching, expected label matching operator",
                        describe(rest)
                    ),
                );
            };
            let rest = &rest[op.as_str().len()..];
            let (rest, ()) = ws(rest);
            let (rest, value) = match string_lit(rest) {
                Ok(x) => x,
                Err(nom::Err::Failure(f)) => return Err(nom::Err::Failure(f)),
                Err(_) => {
                    return unclosed_or(
                        rest,
                        "unexpected end of input inside braces",
                        format!(
                            "unexpected {} in label matching, expected string",
                            describe(rest)
                        ),
                    );
                }
            };
            let m = match Matcher::new(name, op, &value) {
                Ok(m) => m,
                Err(msg) => return fatal(at, msg),
            };
            out.push(m);
            i = rest;
            if let Some(rest) = symbol(i, ",") {
                i = rest;
            } else if symbol(i, "}").is_none() {
                let at = ws(i).0;
                return unclosed_or(
                    at,
                    "unexpected end of input inside braces",
                    format!(
                        "unexpected {} in label matching, expected \",\" or \"}}\"",
                        describe(at)
                    ),
                );
            }
        }
    }

    /// Checks and builds a vector selector.
    fn selector<'a>(
        &self,
        at: &'a str,
        name: Option<&str>,
        mut matchers: Vec<Matcher>,
    ) -> Result<VectorSelector, nom::Err<PErr<'a>>> {
        if let Some(n) = name {
            if let Some(m) = matchers.iter().find(|m| m.name == "__name__") {
                return fatal(
                    at,
                    format!("metric name must not be set twice: {n:?} or {:?}", m.value),
                )
                .map(|(_, v)| v);
            }
            let m = Matcher::new("__name__", MatchOp::Equal, n)
                .map_err(|msg| nom::Err::Failure(PErr { input: at, msg }))?;
            matchers.push(m);
        }
        if !self.allow_empty && !matchers.iter().any(|m| !m.matches("")) {
            return fatal(
                at,
                "vector selector must contain at least one non-empty matcher",
            )
            .map(|(_, v)| v);
        }
        Ok(VectorSelector {
            name: name.map(str::to_owned),
            matchers,
            offset: 0,
            at: None,
        })
    }

    /// `name(args…)` after the opening parenthesis.
    fn call<'a>(
        &self,
        start: &'a str,
        i: &'a str,
        func: &'static functions::Function,
    ) -> PResult<'a, Expr> {
        self.enter(i)?;
        let mut args = Vec::new();
        let mut starts: Vec<&'a str> = Vec::new();
        let mut i = i;
        if let Some(rest) = symbol(i, ")") {
            i = rest;
        } else {
            loop {
                starts.push(ws(i).0);
                let (rest, a) = self.expr(i, 0)?;
                args.push(a);
                if let Some(rest) = symbol(rest, ",") {
                    if symbol(rest, ")").is_some() {
                        return fatal(
                            ws(rest).0,
                            "trailing commas not allowed in function call args",
                        );
                    }
                    i = rest;
                    continue;
                }
                let Some(rest) = symbol(rest, ")") else {
                    let at = ws(rest).0;
                    return unclosed_or(
                        at,
                        "unclosed left parenthesis",
                        format!(
                            "unexpected {} in function call args, expected \",\" or \")\"",
                            describe(at)
                        ),
                    );
                };
                i = rest;
                break;
            }
        }
        self.leave();
        let n = func.args.len();
        if func.variadic == 0 {
            if n != args.len() {
                return fatal(
                    start,
                    format!(
                        "expected {n} argument(s) in call to {:?}, got {}",
                        func.name,
                        args.len()
                    ),
                );
            }
        } else {
            let min = n - 1;
            if min > args.len() {
                return fatal(
                    start,
                    format!(
                        "expected at least {min} argument(s) in call to {:?}, got {}",
                        func.name,
                        args.len()
                    ),
                );
            }
            if func.variadic > 0 && min + (func.variadic as usize) < args.len() {
                return fatal(
                    start,
                    format!(
                        "expected at most {} argument(s) in call to {:?}, got {}",
                        min + func.variadic as usize,
                        func.name,
                        args.len()
                    ),
                );
            }
        }
        for (k, a) in args.iter().enumerate() {
            let want = func.args[k.min(n - 1)];
            let got = a.value_type();
            if got != want {
                return fatal(
                    starts.get(k).copied().unwrap_or(start),
                    format!(
                        "expected type {} in call to function {:?}, got {}",
                        want.name(),
                        func.name,
                        got.name()
                    ),
                );
            }
        }
        Ok((i, Expr::Call(Call { func, args })))
    }

    /// `op [by|without (…)] ([param,] expr) [by|without (…)]` after the keyword.
    fn aggregate<'a>(&self, start: &'a str, i: &'a str, op: AggOp) -> PResult<'a, Expr> {
        let grouping = |i: &'a str| -> PResult<'a, Option<(bool, Vec<String>)>> {
            let by = keyword(i, "by").map(|r| (r, false));
            let without = keyword(i, "without").map(|r| (r, true));
            match by.or(without) {
                Some((rest, w)) => {
                    let (rest, labels) = self.label_list(rest)?;
                    Ok((rest, Some((w, labels))))
                }
                None => Ok((i, None)),
            }
        };
        let (i, before) = grouping(i)?;
        let Some(i) = symbol(i, "(") else {
            let at = ws(i).0;
            return fatal(
                at,
                format!("unexpected {} in aggregation, expected \"(\"", describe(at)),
            );
        };
        self.enter(i)?;
        let mut args = Vec::new();
        let mut starts: Vec<&'a str> = Vec::new();
        let mut i = i;
        if symbol(i, ")").is_none() {
            loop {
                starts.push(ws(i).0);
                let (rest, a) = self.expr(i, 0)?;
                args.push(a);
                if let Some(rest) = symbol(rest, ",") {
                    if symbol(rest, ")").is_some() {
                        i = rest;
                        break;
                    }
                    i = rest;
                    continue;
                }
                i = rest;
                break;
            }
        }
        let Some(i) = symbol(i, ")") else {
            let at = ws(i).0;
            return unclosed_or(
                at,
                "unclosed left parenthesis",
                format!(
                    "unexpected {} in aggregation, expected \",\" or \")\"",
                    describe(at)
                ),
            );
        };
        self.leave();
        let (i, after) = grouping(i)?;
        if before.is_some() && after.is_some() {
            return fatal(
                start,
                "aggregation must not have both a leading and a trailing grouping clause",
            );
        }
        let want = if op.param_type().is_some() { 2 } else { 1 };
        if args.len() != want {
            return fatal(
                start,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {want}, got {}",
                    args.len()
                ),
            );
        }
        let expr = args.pop().unwrap_or(Expr::Number(0.0));
        let param = args.pop();
        let expr_at = starts.last().copied().unwrap_or(start);
        let param_at = starts.first().copied().unwrap_or(start);
        if expr.value_type() != ValueType::Vector {
            return fatal(
                expr_at,
                format!(
                    "expected type instant vector in aggregation expression, got {}",
                    expr.value_type().name()
                ),
            );
        }
        if let (Some(p), Some(t)) = (&param, op.param_type())
            && p.value_type() != t
        {
            return fatal(
                param_at,
                format!(
                    "expected type {} in aggregation parameter, got {}",
                    t.name(),
                    p.value_type().name()
                ),
            );
        }
        let g = before.or(after);
        Ok((
            i,
            Expr::Aggregate(Box::new(Aggregate {
                op,
                expr,
                param,
                without: g.as_ref().is_some_and(|g| g.0),
                has_grouping: g.is_some(),
                grouping: g.map(|g| g.1).unwrap_or_default(),
            })),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Expr {
        parse_expr(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        match parse_expr(s) {
            Ok(e) => panic!("{s} parsed as {e}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn literals() {
        assert_eq!(ok("12.34e6"), Expr::Number(12.34e6));
        assert_eq!(ok(".2"), Expr::Number(0.2));
        assert_eq!(ok("2."), Expr::Number(2.0));
        assert_eq!(ok("0x3d"), Expr::Number(61.0));
        assert_eq!(ok("-inf"), Expr::Number(f64::NEG_INFINITY));
        assert!(matches!(ok("nan"), Expr::Number(v) if v.is_nan()));
        assert_eq!(ok(r#""a\nb""#), Expr::String("a\nb".into()));
        assert_eq!(ok(r#"'\x41\u00e9'"#), Expr::String("Aé".into()));
        assert_eq!(ok("`a\\n`"), Expr::String("a\\n".into()));
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(ok("1 + 2 * 3").to_string(), "1 + 2 * 3");
        let e = ok("2 ^ 3 ^ 2");
        let Expr::Binary(b) = e else { panic!() };
        assert_eq!(b.lhs, Expr::Number(2.0));
        assert!(matches!(b.rhs, Expr::Binary(_)));
        let e = ok("1 - 2 - 3");
        let Expr::Binary(b) = e else { panic!() };
        assert_eq!(b.rhs, Expr::Number(3.0));
        // Unary minus binds looser than ^.
        let e = ok("-a ^ 2");
        assert!(matches!(e, Expr::Unary(UnaryOp::Neg, ref x) if matches!(**x, Expr::Binary(_))));
        let e = ok("a or b and c unless d");
        let Expr::Binary(b) = e else { panic!() };
        assert_eq!(b.op, BinOp::Or);
    }

    #[test]
    fn selectors_and_modifiers() {
        let e = ok(r#"foo{a="b", c=~"d.*",} offset -5m @ 100"#);
        let Expr::Vector(v) = e else { panic!() };
        assert_eq!(v.offset, -300_000);
        assert_eq!(v.at, Some(At::Time(100_000)));
        assert_eq!(v.matchers.len(), 3);
        let e = ok("rate(foo[1h30m] @ end() offset 1m)");
        let Expr::Call(c) = e else { panic!() };
        assert!(
            matches!(&c.args[0], Expr::Matrix(m) if m.range == 5_400_000 && m.vector.offset == 60_000)
        );
        let e = ok("max_over_time(rate(x[5m])[30m:1m] offset 2m)");
        assert_eq!(
            e.to_string(),
            "max_over_time(rate(x[5m])[30m:1m] offset 2m)"
        );
        ok("x[5m:]");
        ok("sum by (a, b,) (x)");
        ok("sum(x) without (on, by)");
        ok("topk(3, x)");
        ok(r#"count_values("v", x)"#);
        ok("a * on (b) group_left (c) d");
        ok("a > bool ignoring (x) b");
        ok("label_join(x, \"a\", \",\", \"b\", \"c\")");
        ok("day_of_month()");
        ok("SUM(x) BY (a)");
    }

    #[test]
    fn errors_name_position_and_reason() {
        assert_eq!(
            err("{}"),
            "1:1: parse error: vector selector must contain at least one non-empty matcher"
        );
        assert!(err("rate(x)").contains(
            "expected type range vector in call to function \"rate\", got instant vector"
        ));
        assert!(err("foo(x)").contains("unknown function with name \"foo\""));
        assert!(err("1 > 2").contains("comparisons between scalars must use BOOL modifier"));
        assert!(
            err("x + on(a) 1").contains("vector matching only allowed between instant vectors")
        );
        assert!(
            err("x and 1").contains("set operator \"and\" not allowed in binary scalar expression")
        );
        assert!(
            err("x and on(a) group_left y").contains("no grouping allowed for \"and\" operation")
        );
        assert!(err("sum(x) offset 5m").contains("offset modifier must be preceded"));
        assert!(err("x offset 1m offset 2m").contains("offset may not be set multiple times"));
        assert!(err("(x)[5m]").contains("ranges only allowed for vector selectors"));
        assert!(err("1[5m:1m]").contains("subquery is only allowed on instant vector"));
        assert!(err("foo{__name__=\"bar\"}").contains("metric name must not be set twice"));
        assert_eq!(
            err("x{a=~\"(\"}"),
            "1:3: parse error: error parsing regexp: missing closing ): `^(?:()$`"
        );
        assert!(err("rate(x[5m],)").contains("trailing commas"));
        assert!(err("sum(x, y)").contains("wrong number of arguments"));
        assert!(err("x[5]").contains("1:3:"));
        assert!(err("\n  x +").starts_with("2:6:"));
        assert!(err("x + + ").contains("unexpected end of input"));
        assert!(err("a bool b").contains("unexpected"));
        assert!(err(&"(".repeat(10_000)).contains("nested deeper"));
        assert!(err("").contains("no expression found"));
    }

    /// Messages and positions as Prometheus 2.42's API gave them for the same text.
    #[test]
    fn errors_read_as_prometheus_words_them() {
        for (q, want) in [
            ("x[0s]", "1:3: parse error: duration must be greater than 0"),
            (
                "x[5m:0s]",
                "1:6: parse error: duration must be greater than 0",
            ),
            ("x[5x]", "1:3: parse error: bad duration syntax: \"5\""),
            (
                "x offset 5m offset 5m",
                "1:1: parse error: offset may not be set multiple times",
            ),
            (
                "x @ 1 @ 2",
                "1:1: parse error: @ <timestamp> may not be set multiple times",
            ),
            ("sum(x", "1:6: parse error: unclosed left parenthesis"),
            (
                "{",
                "1:2: parse error: unexpected end of input inside braces",
            ),
            (
                "x{a=\"b\"",
                "1:8: parse error: unexpected end of input inside braces",
            ),
            ("(x", "1:3: parse error: unclosed left parenthesis"),
            ("rate(x", "1:7: parse error: unclosed left parenthesis"),
            ("x[5m", "1:5: parse error: unclosed left bracket"),
            (
                "foo(x)",
                "1:1: parse error: unknown function with name \"foo\"",
            ),
            ("x +", "1:4: parse error: unexpected end of input"),
            (
                "1 > 2",
                "1:3: parse error: comparisons between scalars must use BOOL modifier",
            ),
            (
                "rate(x)",
                "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector",
            ),
            (
                "abs(x[1m])",
                "1:5: parse error: expected type instant vector in call to function \"abs\", got range vector",
            ),
            (
                "topk(\"a\", x)",
                "1:6: parse error: expected type scalar in aggregation parameter, got string",
            ),
            (
                "sum(x, y)",
                "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2",
            ),
            ("sum by (a", "1:10: parse error: unclosed left parenthesis"),
            (
                "x and 1",
                "1:1: parse error: set operator \"and\" not allowed in binary scalar expression",
            ),
            (
                "-x[1m]",
                "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\"",
            ),
            (
                "x unless on(a) group_left y",
                "1:1: parse error: no grouping allowed for \"unless\" operation",
            ),
            (
                "sum(x) offset 5m",
                "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
            ),
            (
                "1 + on(a) 2",
                "1:1: parse error: vector matching only allowed between instant vectors",
            ),
            (
                "x{__name__=\"y\"}",
                "1:1: parse error: metric name must not be set twice: \"x\" or \"y\"",
            ),
            (
                "time() @ 5",
                "1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
            ),
        ] {
            assert_eq!(err(q), want, "{q}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "sum by (a) (rate(x{b!=\"c\"}[5m] offset 1m))",
            "-x ^ 2",
            "a / on (b) group_right (c) d",
            "x @ start()",
            "count_values(\"l\", x)",
            "1 < bool 2",
            "(a + b) * c",
            "histogram_quantile(0.9, sum by (le) (rate(h_bucket[1m])))",
        ] {
            let e = ok(s);
            assert_eq!(ok(&e.to_string()), e, "{s} -> {e}");
        }
    }
}
