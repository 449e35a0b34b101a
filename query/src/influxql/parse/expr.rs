//! Expressions by precedence climbing: `OR` < `AND` < comparisons < `+ -` < `* /`, all
//! left-associative. Nesting is bounded so that no input can exhaust the stack.

use nom::branch::alt;
use nom::combinator::value;
use nom::{Err, Parser};

use super::combinators::{PErr, PResult, expect, fail, failure, kw, sym, ws};
use super::literal::{Num, bare_ident, ident, number, regex_lit, string_lit};
use crate::ast::{BinaryOp, Cast, Duration, Expr};

/// Deepest nesting of parentheses and function calls.
pub const MAX_NESTING: usize = 64;
/// Tallest expression tree (operators plus nesting), which bounds every recursive walk.
pub const MAX_HEIGHT: usize = 256;

/// A full expression.
pub(crate) fn expr(i: &str) -> PResult<'_, Expr> {
    climb(i, 0, 0).map(|(rest, (e, _))| (rest, e))
}

/// Expressions at precedence `min_prec` and above; returns the tree and its height.
fn climb(i: &str, depth: usize, min_prec: u8) -> PResult<'_, (Expr, usize)> {
    let (mut i, (mut lhs, mut height)) = operand(i, depth)?;
    loop {
        let (rest, op) = match binary_op(i) {
            Ok(r) => r,
            Err(Err::Error(_)) => return Ok((i, (lhs, height))),
            Err(e) => return Err(e),
        };
        let prec = op.precedence();
        if prec < min_prec {
            return Ok((i, (lhs, height)));
        }
        let (rest, (rhs, rhs_height)) = expect("expression", |x| climb(x, depth, prec + 1))(rest)?;
        height = 1 + height.max(rhs_height);
        if height > MAX_HEIGHT {
            return failure(i, "an expression at most 256 operators deep");
        }
        lhs = Expr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        };
        i = rest;
    }
}

fn binary_op(i: &str) -> PResult<'_, BinaryOp> {
    use BinaryOp::*;
    alt((
        value(RegexMatch, sym("=~", "operator")),
        value(RegexNotMatch, sym("!~", "operator")),
        value(NotEq, sym("!=", "operator")),
        value(NotEq, sym("<>", "operator")),
        value(LtEq, sym("<=", "operator")),
        value(GtEq, sym(">=", "operator")),
        value(Eq, sym("=", "operator")),
        value(Lt, sym("<", "operator")),
        value(Gt, sym(">", "operator")),
        value(Add, sym("+", "operator")),
        value(Sub, sym("-", "operator")),
        value(Mul, sym("*", "operator")),
        value(Div, sym("/", "operator")),
        value(Mod, sym("%", "operator")),
        value(And, kw("and")),
        value(Or, kw("or")),
    ))
    .parse_complete(i)
}

fn num_expr(n: Num) -> Expr {
    match n {
        Num::Int(v) => Expr::Integer(v),
        Num::Float(v) => Expr::Float(v),
        Num::Duration(v) => Expr::Duration(Duration(v)),
    }
}

fn too_deep(i: &str, depth: usize) -> Result<(), Err<PErr<'_>>> {
    if depth >= MAX_NESTING {
        return Err(Err::Failure(PErr {
            input: i,
            expected: "at most 64 nested parentheses or calls",
        }));
    }
    Ok(())
}

/// A single operand: literal, reference, call, wildcard, regex or parenthesised expression.
fn operand(i: &str, depth: usize) -> PResult<'_, (Expr, usize)> {
    let (i, ()) = ws(i)?;
    let Some(c) = i.chars().next() else {
        return fail(i, "expression");
    };
    match c {
        '(' => {
            too_deep(i, depth)?;
            let (rest, inner) = expect("expression", |x| climb(x, depth + 1, 0))(&i[1..])?;
            let (rest, _) = expect("')'", sym(")", "')'"))(rest)?;
            Ok((rest, inner))
        }
        '*' => {
            let (rest, cast) = cast(&i[1..])?;
            Ok((rest, (Expr::Wildcard(cast), 0)))
        }
        '/' => regex_lit(i).map(|(rest, re)| (rest, (Expr::Regex(re), 0))),
        '\'' => string_lit(i).map(|(rest, s)| (rest, (Expr::String(s), 0))),
        '0'..='9' => number(i, false).map(|(rest, n)| (rest, (num_expr(n), 0))),
        '-' => {
            let (rest, ()) = ws(&i[1..])?;
            match number(rest, true) {
                Ok((rest, n)) => Ok((rest, (num_expr(n), 0))),
                Err(Err::Error(_)) => fail(i, "expression"),
                Err(e) => Err(e),
            }
        }
        '"' => var(i),
        c if c.is_ascii_alphabetic() || c == '_' => {
            if let Ok((rest, b)) =
                alt((value(true, kw("true")), value(false, kw("false")))).parse_complete(i)
            {
                return Ok((rest, (Expr::Bool(b), 0)));
            }
            let Ok((after_name, name)) = bare_ident(i) else {
                return fail(i, "expression");
            };
            match sym("(", "'('")(after_name) {
                Ok((rest, _)) => call(i, rest, name, depth),
                Err(_) => var(i),
            }
        }
        _ => fail(i, "expression"),
    }
}

/// `name(args)`; `rest` follows the `(`.
fn call<'a>(
    start: &'a str,
    mut rest: &'a str,
    name: &str,
    depth: usize,
) -> PResult<'a, (Expr, usize)> {
    too_deep(start, depth)?;
    let mut args = Vec::new();
    let mut height = 0;
    if let Ok((r, _)) = sym(")", "')'")(rest) {
        rest = r;
    } else {
        loop {
            let (r, (arg, h)) = expect("argument", |x| climb(x, depth + 1, 0))(rest)?;
            args.push(arg);
            height = height.max(h + 1);
            if let Ok((r, _)) = sym(",", "','")(r) {
                rest = r;
                continue;
            }
            let (r, _) = expect("',' or ')'", sym(")", "')'"))(r)?;
            rest = r;
            break;
        }
    }
    let name = name.to_owned();
    Ok((rest, (Expr::Call { name, args }, height)))
}

/// A variable reference with an optional `::type` cast.
fn var(i: &str) -> PResult<'_, (Expr, usize)> {
    let (rest, name) = ident(i)?;
    let (rest, cast) = cast(rest)?;
    Ok((rest, (Expr::Var { name, cast }, 0)))
}

fn cast(i: &str) -> PResult<'_, Option<Cast>> {
    let Some(rest) = i.strip_prefix("::") else {
        return Ok((i, None));
    };
    expect(
        "field, tag, float, integer, string or boolean after ::",
        alt((
            value(Cast::Field, kw("field")),
            value(Cast::Tag, kw("tag")),
            value(Cast::Float, kw("float")),
            value(Cast::Integer, kw("integer")),
            value(Cast::String, kw("string")),
            value(Cast::Boolean, kw("boolean")),
        )),
    )(rest)
    .map(|(rest, c)| (rest, Some(c)))
}
