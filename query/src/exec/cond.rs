//! `WHERE` conditions without time: partially evaluated against each series' tags, which
//! leaves `true`, `false`, or a residual condition over fields that is evaluated a batch
//! of rows at a time.
//!
//! Invariant: a residual never mentions a tag; identifiers are resolved once per
//! measurement (a tag key of the measurement is a tag, anything else a field, unless a
//! `::tag`/`::field` cast says otherwise), and a missing tag compares as `''`.

use crate::ast::{BinaryOp, Cast, Expr};
use crate::error::{QueryError, Token};
use crate::plan::{MatchOp, Matcher, selection};
use regex::Regex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use strata_engine::index::{SeriesId, postings};
use strata_engine::model::SeriesKey;

/// Compiled regexes of a statement, by pattern text.
#[derive(Default, Clone)]
pub(crate) struct Regexes(HashMap<String, Arc<Regex>>);

/// Largest compiled size a user regex may have.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Regexes {
    /// Compiles every regex in `e` (bounded in size, so a huge pattern is an error).
    pub fn collect(&mut self, e: &Expr) -> Result<(), QueryError> {
        match e {
            Expr::Regex(p) => self.add(p),
            Expr::Binary { lhs, rhs, .. } => {
                self.collect(lhs)?;
                self.collect(rhs)
            }
            Expr::Call { args, .. } => args.iter().try_for_each(|a| self.collect(a)),
            _ => Ok(()),
        }
    }

    pub fn add(&mut self, p: &str) -> Result<(), QueryError> {
        if !self.0.contains_key(p) {
            let re = regex::RegexBuilder::new(p)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    QueryError::invalid_at(
                        Token::Regex(p.to_owned()),
                        format!("invalid regex /{p}/: {e}"),
                    )
                })?;
            self.0.insert(p.to_owned(), Arc::new(re));
        }
        Ok(())
    }

    pub fn get(&self, p: &str) -> Option<&Regex> {
        self.0.get(p).map(|r| &**r)
    }
}

/// A literal or a value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    String(String),
    Boolean(bool),
}

impl Scalar {
    fn as_f64(&self) -> Option<f64> {
        match *self {
            Scalar::Float(f) => Some(f),
            Scalar::Integer(i) => Some(i as f64),
            Scalar::Unsigned(u) => Some(u as f64),
            _ => None,
        }
    }
}

/// A condition over the fields of one row.
#[derive(Debug, Clone)]
pub(crate) enum Residual {
    And(Box<Residual>, Box<Residual>),
    Or(Box<Residual>, Box<Residual>),
    /// `lhs op rhs` with a comparison operator.
    Cmp {
        op: BinaryOp,
        lhs: Operand,
        rhs: Operand,
    },
    /// `lhs =~ re` / `!~`
    Regex {
        negate: bool,
        lhs: Operand,
        re: Arc<Regex>,
    },
}

/// A value in a residual condition.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Field(String),
    Lit(Scalar),
    Arith {
        op: BinaryOp,
        lhs: Box<Operand>,
        rhs: Box<Operand>,
    },
}

/// A condition after the series' tags were substituted.
#[derive(Debug, Clone)]
pub(crate) enum Partial {
    Const(bool),
    Residual(Residual),
}

/// What identifiers mean in one measurement.
pub(crate) struct Names<'a> {
    pub tag_keys: &'a HashSet<String>,
    /// A tag added at query time (the cluster's node tag): never looked up in the index.
    pub virtual_key: Option<&'a str>,
}

impl Names<'_> {
    fn is_tag(&self, name: &str, cast: Option<Cast>) -> bool {
        match cast {
            Some(Cast::Tag) => true,
            Some(Cast::Field) => false,
            _ => self.tag_keys.contains(name),
        }
    }
}

/// Operand after tag substitution: a known value or something depending on fields.
enum Val {
    Known(Scalar),
    Row(Operand),
}

/// Substitutes `series`' tags into `cond`.
pub(crate) fn partial(
    cond: &Expr,
    names: &Names<'_>,
    series: &SeriesKey,
    regexes: &Regexes,
) -> Result<Partial, QueryError> {
    Ok(match cond {
        Expr::Binary {
            op: BinaryOp::And,
            lhs,
            rhs,
        } => match partial(lhs, names, series, regexes)? {
            Partial::Const(false) => Partial::Const(false),
            Partial::Const(true) => partial(rhs, names, series, regexes)?,
            Partial::Residual(l) => match partial(rhs, names, series, regexes)? {
                Partial::Const(false) => Partial::Const(false),
                Partial::Const(true) => Partial::Residual(l),
                Partial::Residual(r) => Partial::Residual(Residual::And(Box::new(l), Box::new(r))),
            },
        },
        Expr::Binary {
            op: BinaryOp::Or,
            lhs,
            rhs,
        } => match partial(lhs, names, series, regexes)? {
            Partial::Const(true) => Partial::Const(true),
            Partial::Const(false) => partial(rhs, names, series, regexes)?,
            Partial::Residual(l) => match partial(rhs, names, series, regexes)? {
                Partial::Const(true) => Partial::Const(true),
                Partial::Const(false) => Partial::Residual(l),
                Partial::Residual(r) => Partial::Residual(Residual::Or(Box::new(l), Box::new(r))),
            },
        },
        Expr::Binary { op, lhs, rhs }
            if matches!(op, BinaryOp::RegexMatch | BinaryOp::RegexNotMatch) =>
        {
            let negate = *op == BinaryOp::RegexNotMatch;
            let Expr::Regex(p) = &**rhs else {
                return Err(QueryError::Invalid(format!(
                    "{cond}: the right side of {} must be a regex such as /pattern/",
                    op.as_str()
                )));
            };
            let re = regexes
                .0
                .get(p)
                .cloned()
                .ok_or_else(|| QueryError::Invalid(format!("regex /{p}/ was not compiled")))?;
            match operand(lhs, names, series)? {
                Val::Known(Scalar::String(s)) => Partial::Const(re.is_match(&s) != negate),
                Val::Known(_) => Partial::Const(negate),
                Val::Row(o) => Partial::Residual(Residual::Regex { negate, lhs: o, re }),
            }
        }
        Expr::Binary { op, lhs, rhs }
            if matches!(
                op,
                BinaryOp::Eq
                    | BinaryOp::NotEq
                    | BinaryOp::Lt
                    | BinaryOp::LtEq
                    | BinaryOp::Gt
                    | BinaryOp::GtEq
            ) =>
        {
            match (operand(lhs, names, series)?, operand(rhs, names, series)?) {
                (Val::Known(a), Val::Known(b)) => Partial::Const(compare(*op, &a, &b)),
                (a, b) => Partial::Residual(Residual::Cmp {
                    op: *op,
                    lhs: into_operand(a),
                    rhs: into_operand(b),
                }),
            }
        }
        Expr::Bool(b) => Partial::Const(*b),
        other => {
            return Err(QueryError::Invalid(format!(
                "invalid condition {other}: expected a comparison such as host = 'a' or usage > 90"
            )));
        }
    })
}

fn into_operand(v: Val) -> Operand {
    match v {
        Val::Known(s) => Operand::Lit(s),
        Val::Row(o) => o,
    }
}

fn operand(e: &Expr, names: &Names<'_>, series: &SeriesKey) -> Result<Val, QueryError> {
    Ok(match e {
        Expr::Var { name, cast } => {
            if names.is_tag(name, *cast) {
                Val::Known(Scalar::String(series.tag(name).unwrap_or("").to_owned()))
            } else {
                Val::Row(Operand::Field(name.clone()))
            }
        }
        Expr::Integer(i) => Val::Known(Scalar::Integer(*i)),
        Expr::Float(f) => Val::Known(Scalar::Float(*f)),
        Expr::String(s) => Val::Known(Scalar::String(s.clone())),
        Expr::Bool(b) => Val::Known(Scalar::Boolean(*b)),
        Expr::Duration(d) => Val::Known(Scalar::Integer(d.0)),
        Expr::Binary { op, lhs, rhs }
            if matches!(
                op,
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod
            ) =>
        {
            match (operand(lhs, names, series)?, operand(rhs, names, series)?) {
                (Val::Known(a), Val::Known(b)) => Val::Known(arith(*op, &a, &b)),
                (a, b) => Val::Row(Operand::Arith {
                    op: *op,
                    lhs: Box::new(into_operand(a)),
                    rhs: Box::new(into_operand(b)),
                }),
            }
        }
        other => {
            return Err(QueryError::Invalid(format!(
                "invalid operand {other} in a condition"
            )));
        }
    })
}

/// `a op b` for arithmetic operators; integers stay integers except under `/`; `x / 0`
/// and `x % 0` are 0 (InfluxDB's rule); `%` truncates like Go's (and C's).
pub(crate) fn arith(op: BinaryOp, a: &Scalar, b: &Scalar) -> Scalar {
    use Scalar::*;
    match (a, b) {
        (Integer(x), Integer(y)) if op != BinaryOp::Div => match op {
            BinaryOp::Add => Integer(x.wrapping_add(*y)),
            BinaryOp::Sub => Integer(x.wrapping_sub(*y)),
            BinaryOp::Mod => Integer(if *y == 0 { 0 } else { x.wrapping_rem(*y) }),
            _ => Integer(x.wrapping_mul(*y)),
        },
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => Float(match op {
                BinaryOp::Add => x + y,
                BinaryOp::Sub => x - y,
                BinaryOp::Mul => x * y,
                _ if y == 0.0 => 0.0,
                BinaryOp::Mod => x % y,
                _ => x / y,
            }),
            _ => Null,
        },
    }
}

/// `a op b` for comparison operators; mismatched types and nulls compare false.
pub(crate) fn compare(op: BinaryOp, a: &Scalar, b: &Scalar) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (a, b) {
        (Scalar::String(x), Scalar::String(y)) => Some(x.cmp(y)),
        (Scalar::Boolean(x), Scalar::Boolean(y)) => {
            return match op {
                BinaryOp::Eq => x == y,
                BinaryOp::NotEq => x != y,
                _ => false,
            };
        }
        (Scalar::Integer(x), Scalar::Integer(y)) => Some(x.cmp(y)),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        },
    };
    let Some(o) = ord else {
        return false;
    };
    match op {
        BinaryOp::Eq => o == Ordering::Equal,
        BinaryOp::NotEq => o != Ordering::Equal,
        BinaryOp::Lt => o == Ordering::Less,
        BinaryOp::LtEq => o != Ordering::Greater,
        BinaryOp::Gt => o == Ordering::Greater,
        BinaryOp::GtEq => o != Ordering::Less,
        _ => false,
    }
}

impl Residual {
    /// Field names the condition reads.
    pub fn fields(&self, out: &mut Vec<String>) {
        match self {
            Residual::And(a, b) | Residual::Or(a, b) => {
                a.fields(out);
                b.fields(out);
            }
            Residual::Cmp { lhs, rhs, .. } => {
                lhs.fields(out);
                rhs.fields(out);
            }
            Residual::Regex { lhs, .. } => lhs.fields(out),
        }
    }

    /// Evaluates the condition on one row; `field` gives a field's value in the row.
    pub fn eval(&self, field: &dyn Fn(&str) -> Scalar) -> bool {
        match self {
            Residual::And(a, b) => a.eval(field) && b.eval(field),
            Residual::Or(a, b) => a.eval(field) || b.eval(field),
            Residual::Cmp { op, lhs, rhs } => compare(*op, &lhs.eval(field), &rhs.eval(field)),
            Residual::Regex { negate, lhs, re } => match lhs.eval(field) {
                Scalar::String(s) => re.is_match(&s) != *negate,
                Scalar::Null => false,
                _ => *negate,
            },
        }
    }
}

impl Operand {
    fn fields(&self, out: &mut Vec<String>) {
        match self {
            Operand::Field(f) => {
                if !out.contains(f) {
                    out.push(f.clone());
                }
            }
            Operand::Lit(_) => {}
            Operand::Arith { lhs, rhs, .. } => {
                lhs.fields(out);
                rhs.fields(out);
            }
        }
    }

    fn eval(&self, field: &dyn Fn(&str) -> Scalar) -> Scalar {
        match self {
            Operand::Field(f) => field(f),
            Operand::Lit(s) => s.clone(),
            Operand::Arith { op, lhs, rhs } => arith(*op, &lhs.eval(field), &rhs.eval(field)),
        }
    }
}

/// A superset of the series of measurement `m` that can satisfy `cond`, from the tag
/// postings of its `tag = 'value'` and self-anchored `tag =~ /^(a|b)$/` comparisons under
/// AND and OR, lowered to the plan's label matchers ([`crate::plan::selection`]); `None`
/// when the condition does not narrow the series (the caller then looks at every one).
pub(crate) fn candidates(
    cond: &Expr,
    names: &Names<'_>,
    db: &strata_engine::Db,
    m: &str,
) -> Option<Vec<SeriesId>> {
    match cond {
        Expr::Binary {
            op: BinaryOp::And,
            lhs,
            rhs,
        } => match (candidates(lhs, names, db, m), candidates(rhs, names, db, m)) {
            (Some(a), Some(b)) => Some(postings::intersect(&a, &b)),
            (a, None) => a,
            (None, b) => b,
        },
        Expr::Binary {
            op: BinaryOp::Or,
            lhs,
            rhs,
        } => match (candidates(lhs, names, db, m), candidates(rhs, names, db, m)) {
            (Some(a), Some(b)) => Some(postings::union(&a, &b)),
            _ => None,
        },
        Expr::Binary {
            op: BinaryOp::Eq,
            lhs,
            rhs,
        } => match (&**lhs, &**rhs) {
            (Expr::Var { name, cast }, Expr::String(v))
            | (Expr::String(v), Expr::Var { name, cast })
                if names.is_tag(name, *cast) && names.virtual_key != Some(name.as_str()) =>
            {
                let matcher = Matcher::new(name, MatchOp::Equal, v).ok()?;
                selection::postings_for(db, m, &matcher)
            }
            _ => None,
        },
        Expr::Binary {
            op: BinaryOp::RegexMatch,
            lhs,
            rhs,
        } => match (&**lhs, &**rhs) {
            (Expr::Var { name, cast }, Expr::Regex(re))
                if names.is_tag(name, *cast) && names.virtual_key != Some(name.as_str()) =>
            {
                let matcher = Matcher::from_unanchored(name, re)?;
                selection::postings_for(db, m, &matcher)
            }
            _ => None,
        },
        _ => None,
    }
}

/// Tag-only evaluation for listings (`SHOW SERIES WHERE …`): field references are false.
pub(crate) fn matches_tags(
    cond: &Expr,
    names: &Names<'_>,
    series: &SeriesKey,
    regexes: &Regexes,
) -> Result<bool, QueryError> {
    Ok(match partial(cond, names, series, regexes)? {
        Partial::Const(b) => b,
        Partial::Residual(r) => r.eval(&|_| Scalar::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Statement;

    fn cond(q: &str) -> Expr {
        match crate::parse(&format!("SELECT a FROM m WHERE {q}"))
            .unwrap()
            .remove(0)
        {
            Statement::Select(s) => s.condition.unwrap(),
            _ => unreachable!(),
        }
    }

    fn run(q: &str, tags: &[(&str, &str)]) -> Partial {
        let e = cond(q);
        let mut re = Regexes::default();
        re.collect(&e).unwrap();
        let keys: HashSet<String> = ["host", "region"].iter().map(|s| s.to_string()).collect();
        let key = SeriesKey::new(
            "m",
            tags.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        partial(
            &e,
            &Names {
                tag_keys: &keys,
                virtual_key: None,
            },
            &key,
            &re,
        )
        .unwrap()
    }

    #[test]
    fn tags_fold_to_constants() {
        assert!(matches!(
            run("host = 'a'", &[("host", "a")]),
            Partial::Const(true)
        ));
        assert!(matches!(
            run("host = 'a' or host = 'b'", &[("host", "c")]),
            Partial::Const(false)
        ));
        assert!(matches!(
            run("host =~ /^a/ and region != 'x'", &[("host", "ab")]),
            Partial::Const(true)
        ));
        assert!(matches!(
            run("region = ''", &[("host", "a")]),
            Partial::Const(true)
        ));
        assert!(matches!(
            run("host !~ /a/", &[("host", "a")]),
            Partial::Const(false)
        ));
    }

    #[test]
    fn fields_leave_a_residual() {
        let Partial::Residual(r) = run("usage > 90.0 and (host = 'a')", &[("host", "a")]) else {
            panic!("expected a residual");
        };
        assert!(r.eval(&|f| if f == "usage" {
            Scalar::Integer(91)
        } else {
            Scalar::Null
        }));
        assert!(!r.eval(&|f| if f == "usage" {
            Scalar::Float(90.0)
        } else {
            Scalar::Null
        }));
        assert!(!r.eval(&|_| Scalar::Null));
        assert!(matches!(
            run("usage > 90.0 and host = 'b'", &[("host", "a")]),
            Partial::Const(false)
        ));
        let Partial::Residual(r) = run("usage * 2 >= 10 or host = 'z'", &[("host", "a")]) else {
            panic!("expected a residual");
        };
        assert!(r.eval(&|_| Scalar::Integer(5)));
    }

    #[test]
    fn huge_regex_is_an_error() {
        let mut re = Regexes::default();
        let p = format!("({})", "a{1000}".repeat(200));
        assert!(re.add(&p).is_err());
    }
}
