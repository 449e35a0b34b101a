//! The PromQL AST (Prometheus 2.42's language). `Display` prints an expression back as
//! PromQL that parses to an equal AST (the property tests rely on it). Times and durations
//! are milliseconds, as in Prometheus. No parsing or evaluation logic lives here.
//!
//! Invariants kept by the parser (evaluation relies on them): every node is type-checked
//! ([`Expr::value_type`] is the node's type); a vector selector has at least one matcher
//! that does not match the empty string and at most one metric name; regex matchers carry
//! their compiled, anchored regex.

use super::functions::Function;
pub use crate::plan::{MatchOp, Matcher};
use std::fmt;

/// The four value types of PromQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// A single number.
    Scalar,
    /// A string literal.
    String,
    /// One sample per series.
    Vector,
    /// A window of samples per series.
    Matrix,
}

impl ValueType {
    /// Prometheus' name for the type, as in its error messages and API (`resultType`).
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
        }
    }

    /// The `resultType` of the HTTP API.
    pub fn api_name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
        }
    }
}

/// A PromQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number literal.
    Number(f64),
    /// A string literal.
    String(String),
    /// `metric{l="v"} offset 5m @ 123`
    Vector(VectorSelector),
    /// `metric{…}[5m]`
    Matrix(MatrixSelector),
    /// `expr[range:step]`
    Subquery(Subquery),
    /// `(expr)`
    Paren(Box<Expr>),
    /// `-expr` or `+expr`
    Unary(UnaryOp, Box<Expr>),
    /// `lhs op lhs` with its modifiers.
    Binary(Box<Binary>),
    /// `sum by (l) (expr)`, `topk(3, expr)`…
    Aggregate(Box<Aggregate>),
    /// `rate(x[5m])`…
    Call(Call),
}

/// `-` or `+` in front of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `+x`
    Pos,
}

/// `@ t`, `@ start()`, `@ end()`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum At {
    /// A fixed time in milliseconds.
    Time(i64),
    /// The query's start.
    Start,
    /// The query's end.
    End,
}

/// An instant vector selector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSelector {
    /// The metric name when written outside the braces.
    pub name: Option<String>,
    /// Every matcher, the metric name's (`__name__ = "name"`) included.
    pub matchers: Vec<Matcher>,
    /// `offset d` in ms (negative: later data).
    pub offset: i64,
    /// `@ t`.
    pub at: Option<At>,
}

/// A range vector selector.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSelector {
    /// The selector; its offset and `@` apply to the window.
    pub vector: VectorSelector,
    /// Window length in ms.
    pub range: i64,
}

/// `expr[range:step] offset d @ t`.
#[derive(Debug, Clone, PartialEq)]
pub struct Subquery {
    /// The inner expression (an instant vector or scalar).
    pub expr: Box<Expr>,
    /// Window length in ms.
    pub range: i64,
    /// Resolution in ms; `None` takes the default evaluation interval.
    pub step: Option<i64>,
    /// `offset d` in ms.
    pub offset: i64,
    /// `@ t`.
    pub at: Option<At>,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `atan2`
    Atan2,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `<`
    Lt,
    /// `>=`
    Ge,
    /// `<=`
    Le,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

impl BinOp {
    /// The operator's text.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Atan2 => "atan2",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Gt => ">",
            BinOp::Lt => "<",
            BinOp::Ge => ">=",
            BinOp::Le => "<=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Unless => "unless",
        }
    }

    /// Binding strength: higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And | BinOp::Unless => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Lt | BinOp::Ge | BinOp::Le => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Atan2 => 5,
            BinOp::Pow => 6,
        }
    }

    /// `^` groups to the right, every other operator to the left.
    pub fn right_assoc(self) -> bool {
        self == BinOp::Pow
    }

    /// `==`, `!=`, `>`, `<`, `>=`, `<=`.
    pub fn is_comparison(self) -> bool {
        self.precedence() == 3
    }

    /// `and`, `or`, `unless`.
    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
}

/// How the two sides of a vector/vector operation pair up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    /// Each side's series match at most one of the other side.
    OneToOne,
    /// `group_left`: many left series per right series.
    ManyToOne,
    /// `group_right`: many right series per left series.
    OneToMany,
    /// Set operators.
    ManyToMany,
}

/// `on(…)`/`ignoring(…)` and `group_left(…)`/`group_right(…)`.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatching {
    /// How many series of each side pair up.
    pub card: Cardinality,
    /// `on` (true) or `ignoring` (false).
    pub on: bool,
    /// The `on`/`ignoring` labels.
    pub labels: Vec<String>,
    /// The `group_x` labels copied from the "one" side.
    pub include: Vec<String>,
    /// Whether `on`/`ignoring` was written (for printing back).
    pub explicit: bool,
}

/// A binary operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    /// The operator.
    pub op: BinOp,
    /// Left side.
    pub lhs: Expr,
    /// Right side.
    pub rhs: Expr,
    /// `bool` on a comparison.
    pub return_bool: bool,
    /// Set only when both sides are instant vectors.
    pub matching: Option<VectorMatching>,
}

/// Aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `count`
    Count,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `group`
    Group,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk`
    Topk,
    /// `bottomk`
    Bottomk,
    /// `quantile`
    Quantile,
    /// `count_values`
    CountValues,
}

impl AggOp {
    /// Every operator with its keyword.
    pub const ALL: [(&'static str, AggOp); 12] = [
        ("sum", AggOp::Sum),
        ("avg", AggOp::Avg),
        ("count", AggOp::Count),
        ("min", AggOp::Min),
        ("max", AggOp::Max),
        ("group", AggOp::Group),
        ("stddev", AggOp::Stddev),
        ("stdvar", AggOp::Stdvar),
        ("topk", AggOp::Topk),
        ("bottomk", AggOp::Bottomk),
        ("quantile", AggOp::Quantile),
        ("count_values", AggOp::CountValues),
    ];

    /// The keyword.
    pub fn as_str(self) -> &'static str {
        AggOp::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("?", |(n, _)| n)
    }

    /// The operator for a (case-insensitive) keyword.
    pub fn from_name(s: &str) -> Option<AggOp> {
        AggOp::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, o)| *o)
    }

    /// Whether the operator takes a parameter before the expression, and its type.
    pub fn param_type(self) -> Option<ValueType> {
        match self {
            AggOp::Topk | AggOp::Bottomk | AggOp::Quantile => Some(ValueType::Scalar),
            AggOp::CountValues => Some(ValueType::String),
            _ => None,
        }
    }
}

/// An aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// The operator.
    pub op: AggOp,
    /// The aggregated expression (an instant vector).
    pub expr: Expr,
    /// The parameter of `topk`, `bottomk`, `quantile`, `count_values`.
    pub param: Option<Expr>,
    /// `without` (true) or `by` (false).
    pub without: bool,
    /// The grouping labels.
    pub grouping: Vec<String>,
    /// Whether a `by`/`without` clause was written.
    pub has_grouping: bool,
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The function.
    pub func: &'static Function,
    /// Its arguments, type-checked.
    pub args: Vec<Expr>,
}

impl Expr {
    /// The type of value the expression evaluates to.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number(_) => ValueType::Scalar,
            Expr::String(_) => ValueType::String,
            Expr::Vector(_) => ValueType::Vector,
            Expr::Matrix(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::Paren(e) | Expr::Unary(_, e) => e.value_type(),
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar
                    && b.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Aggregate(_) => ValueType::Vector,
            Expr::Call(c) => c.func.ret,
        }
    }

    /// Strips parentheses.
    pub fn unparen(&self) -> &Expr {
        match self {
            Expr::Paren(e) => e.unparen(),
            e => e,
        }
    }
}

/// Prints a duration in Prometheus' form (`1h30m`, `500ms`, `0s`).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
    }
    let mut rest = ms.unsigned_abs();
    for (unit, size) in [
        ("y", 365 * 86_400_000u64),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if rest >= size {
            out.push_str(&(rest / size).to_string());
            out.push_str(unit);
            rest %= size;
        }
    }
    out
}

fn write_labels(f: &mut fmt::Formatter<'_>, labels: &[String]) -> fmt::Result {
    f.write_str("(")?;
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        f.write_str(l)?;
    }
    f.write_str(")")
}

fn write_modifiers(f: &mut fmt::Formatter<'_>, offset: i64, at: Option<At>) -> fmt::Result {
    if offset != 0 {
        write!(f, " offset {}", format_duration(offset))?;
    }
    match at {
        None => Ok(()),
        Some(At::Start) => f.write_str(" @ start()"),
        Some(At::End) => f.write_str(" @ end()"),
        Some(At::Time(t)) => write!(f, " @ {}", format_number(t as f64 / 1000.0)),
    }
}

/// Prints a number so that it parses back to the same bits (NaN and ±Inf by name; no
/// `+` sign, which would read as a unary operator binding looser than `^`).
pub fn format_number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        let s = ryu::Buffer::new().format(v).to_owned();
        s.strip_suffix(".0").map_or(s.clone(), str::to_owned)
    }
}

/// Prints a string literal with Go escapes, in double quotes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for VectorSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = &self.name {
            f.write_str(n)?;
        }
        let rest: Vec<&Matcher> = self
            .matchers
            .iter()
            .filter(|m| {
                !(self.name.is_some()
                    && m.name == "__name__"
                    && m.op == MatchOp::Equal
                    && Some(&m.value) == self.name.as_ref())
            })
            .collect();
        if !rest.is_empty() || self.name.is_none() {
            f.write_str("{")?;
            for (i, m) in rest.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}{}{}", m.name, m.op.as_str(), quote(&m.value))?;
            }
            f.write_str("}")?;
        }
        write_modifiers(f, self.offset, self.at)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(v) => f.write_str(&format_number(*v)),
            Expr::String(s) => f.write_str(&quote(s)),
            Expr::Vector(v) => v.fmt(f),
            Expr::Matrix(m) => {
                let v = &m.vector;
                let bare = VectorSelector {
                    offset: 0,
                    at: None,
                    ..v.clone()
                };
                write!(f, "{bare}[{}]", format_duration(m.range))?;
                write_modifiers(f, v.offset, v.at)
            }
            Expr::Subquery(s) => {
                write!(f, "{}[{}:", s.expr, format_duration(s.range))?;
                if let Some(step) = s.step {
                    f.write_str(&format_duration(step))?;
                }
                f.write_str("]")?;
                write_modifiers(f, s.offset, s.at)
            }
            Expr::Paren(e) => write!(f, "({e})"),
            Expr::Unary(op, e) => {
                f.write_str(if *op == UnaryOp::Neg { "-" } else { "+" })?;
                e.fmt(f)
            }
            Expr::Binary(b) => {
                write!(f, "{} {}", b.lhs, b.op.as_str())?;
                if b.return_bool {
                    f.write_str(" bool")?;
                }
                if let Some(m) = &b.matching {
                    if m.explicit {
                        f.write_str(if m.on { " on" } else { " ignoring" })?;
                        write_labels(f, &m.labels)?;
                    }
                    match m.card {
                        Cardinality::ManyToOne => {
                            f.write_str(" group_left")?;
                            write_labels(f, &m.include)?;
                        }
                        Cardinality::OneToMany => {
                            f.write_str(" group_right")?;
                            write_labels(f, &m.include)?;
                        }
                        _ => {}
                    }
                }
                write!(f, " {}", b.rhs)
            }
            Expr::Aggregate(a) => {
                f.write_str(a.op.as_str())?;
                if a.has_grouping {
                    f.write_str(if a.without { " without " } else { " by " })?;
                    write_labels(f, &a.grouping)?;
                    f.write_str(" ")?;
                }
                f.write_str("(")?;
                if let Some(p) = &a.param {
                    write!(f, "{p}, ")?;
                }
                write!(f, "{})", a.expr)
            }
            Expr::Call(c) => {
                write!(f, "{}(", c.func.name)?;
                for (i, a) in c.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    a.fmt(f)?;
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_largest_unit_first() {
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(500), "500ms");
        assert_eq!(format_duration(-300_000), "-5m");
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(8 * 86_400_000), "1w1d");
    }

    #[test]
    fn numbers_print_back_exactly() {
        assert_eq!(format_number(1.0), "1");
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_number(1e300), "1e300");
    }
}
