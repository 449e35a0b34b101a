//! The query AST. `Display` prints canonical InfluxQL that parses back to an equal AST:
//! keywords upper case, identifiers quoted only when needed, minimal parentheses,
//! durations in largest-unit-first form (`1h30m`). No parsing logic lives here.

mod display;

pub use display::{Ident, Quoted, RegexLit};

/// One statement of a query text.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `SELECT …`
    Select(Box<Select>),
    /// `EXPLAIN SELECT …`: where the answer would come from (raw tiers or rollups).
    Explain(Box<Select>),
    /// `SHOW MEASUREMENTS [WITH MEASUREMENT …] [WHERE …] [LIMIT n] [OFFSET n]`
    ShowMeasurements {
        /// `WITH MEASUREMENT = name | =~ /re/`
        with: Option<MeasurementName>,
        /// Filter on the rest of the statement.
        filter: ShowFilter,
    },
    /// `SHOW TAG KEYS [FROM …] [WHERE …] [LIMIT n] [OFFSET n]`
    ShowTagKeys(ShowFilter),
    /// `SHOW TAG VALUES [FROM …] WITH KEY … [WHERE …] [LIMIT n] [OFFSET n]`
    ShowTagValues {
        /// Which tag keys.
        key: TagKeyMatch,
        /// `FROM`, `WHERE`, `LIMIT`, `OFFSET`.
        filter: ShowFilter,
    },
    /// `SHOW FIELD KEYS [FROM …]`
    ShowFieldKeys {
        /// Measurements, empty for all.
        from: Vec<Source>,
    },
    /// `SHOW SERIES [FROM …] [WHERE …] [LIMIT n] [OFFSET n]`
    ShowSeries(ShowFilter),
    /// `SHOW DATABASES`
    ShowDatabases,
    /// `SHOW RETENTION POLICIES [ON db]`
    ShowRetentionPolicies {
        /// `ON db`
        database: Option<String>,
    },
    /// `SHOW STATS`
    ShowStats,
    /// `CREATE DATABASE name`
    CreateDatabase {
        /// Database name.
        name: String,
    },
    /// `DELETE FROM m [WHERE …]` or `DELETE WHERE …`; at least one of the two is set.
    Delete {
        /// `FROM` measurement.
        from: Option<Source>,
        /// `WHERE` condition.
        condition: Option<Expr>,
    },
    /// `DROP MEASUREMENT name`
    DropMeasurement {
        /// Measurement name.
        name: String,
    },
    /// `DROP SERIES [FROM …] [WHERE …]`; at least one of the two is set.
    DropSeries {
        /// Measurements, empty for all.
        from: Vec<Source>,
        /// `WHERE` condition.
        condition: Option<Expr>,
    },
}

/// `FROM`, `WHERE`, `LIMIT` and `OFFSET` shared by the `SHOW` statements.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowFilter {
    /// Measurements, empty for all.
    pub from: Vec<Source>,
    /// `WHERE` condition.
    pub condition: Option<Expr>,
    /// `LIMIT n`
    pub limit: Option<u64>,
    /// `OFFSET n`
    pub offset: Option<u64>,
}

/// `WITH KEY …` of `SHOW TAG VALUES`.
#[derive(Debug, Clone, PartialEq)]
pub enum TagKeyMatch {
    /// `= k`
    Eq(String),
    /// `!= k`
    NotEq(String),
    /// `IN (k1, k2)`
    In(Vec<String>),
    /// `=~ /re/`
    Regex(String),
    /// `!~ /re/`
    NotRegex(String),
}

/// A `SELECT` statement; clauses in InfluxQL order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Select {
    /// Projections.
    pub fields: Vec<Field>,
    /// `FROM` sources.
    pub sources: Vec<Source>,
    /// `WHERE` condition.
    pub condition: Option<Expr>,
    /// `GROUP BY` dimensions in written order; empty without `GROUP BY`.
    pub group_by: Vec<Dimension>,
    /// `FILL(…)`
    pub fill: Option<Fill>,
    /// `ORDER BY time ASC|DESC`
    pub order: Option<Order>,
    /// `LIMIT n`
    pub limit: Option<u64>,
    /// `OFFSET n`
    pub offset: Option<u64>,
    /// `SLIMIT n`
    pub slimit: Option<u64>,
    /// `SOFFSET n`
    pub soffset: Option<u64>,
    /// `tz('Zone/Name')`
    pub tz: Option<String>,
}

/// One projection: an expression and an optional `AS` alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The expression.
    pub expr: Expr,
    /// `AS alias`
    pub alias: Option<String>,
}

/// A `FROM` source: `[db.[rp].|rp.]name`.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Database; when set, the retention policy may still be empty (`db..m`).
    pub database: Option<String>,
    /// Retention policy.
    pub retention_policy: Option<String>,
    /// Measurement name or regex.
    pub name: MeasurementName,
}

/// A measurement given by name or by regex.
#[derive(Debug, Clone, PartialEq)]
pub enum MeasurementName {
    /// Exact name.
    Name(String),
    /// `/re/`, pattern text without the slashes.
    Regex(String),
}

/// A `GROUP BY` dimension.
#[derive(Debug, Clone, PartialEq)]
pub enum Dimension {
    /// `time(interval[, offset])`
    Time {
        /// Bucket width.
        interval: Duration,
        /// Bucket offset, may be negative.
        offset: Option<Duration>,
    },
    /// A tag key.
    Tag(String),
    /// `/re/` over tag keys.
    Regex(String),
    /// `*`: all tags.
    All,
}

/// `FILL(…)` option.
#[derive(Debug, Clone, PartialEq)]
pub enum Fill {
    /// `null`
    Null,
    /// `none`
    None,
    /// `previous`
    Previous,
    /// `linear`
    Linear,
    /// An integer constant.
    Integer(i64),
    /// A float constant.
    Float(f64),
}

/// `ORDER BY time` direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `ASC`
    Asc,
    /// `DESC`
    Desc,
}

/// A signed duration in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub i64);

/// `::type` cast on a variable reference or wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cast {
    /// `::field`
    Field,
    /// `::tag`
    Tag,
    /// `::float`
    Float,
    /// `::integer`
    Integer,
    /// `::string`
    String,
    /// `::boolean`
    Boolean,
}

/// An expression: a projection, a function argument or a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A field, tag or `time` reference.
    Var {
        /// Identifier.
        name: String,
        /// `::type`
        cast: Option<Cast>,
    },
    /// `*`, optionally `*::field` / `*::tag`.
    Wildcard(Option<Cast>),
    /// `/re/`, pattern text without the slashes (`\/` unescaped).
    Regex(String),
    /// `name(args)`, including `now()`.
    Call {
        /// Function name, a bare identifier.
        name: String,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// Integer literal.
    Integer(i64),
    /// Finite float literal.
    Float(f64),
    /// `'string'` literal (RFC 3339 times stay strings here).
    String(String),
    /// `true` / `false`
    Bool(bool),
    /// Duration literal such as `1h30m` or `1451606400s`.
    Duration(Duration),
    /// `lhs op rhs`
    Binary {
        /// Operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
}

/// Binary operators, all left-associative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `OR`
    Or,
    /// `AND`
    And,
    /// `=`
    Eq,
    /// `!=` (also written `<>`)
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `=~`
    RegexMatch,
    /// `!~`
    RegexNotMatch,
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
}

impl BinaryOp {
    /// Binding strength: higher binds tighter.
    pub fn precedence(self) -> u8 {
        use BinaryOp::*;
        match self {
            Or => 1,
            And => 2,
            Eq | NotEq | Lt | LtEq | Gt | GtEq | RegexMatch | RegexNotMatch => 3,
            Add | Sub => 4,
            Mul | Div | Mod => 5,
        }
    }

    /// Canonical spelling.
    pub fn as_str(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Or => "OR",
            And => "AND",
            Eq => "=",
            NotEq => "!=",
            Lt => "<",
            LtEq => "<=",
            Gt => ">",
            GtEq => ">=",
            RegexMatch => "=~",
            RegexNotMatch => "!~",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
        }
    }
}

impl Cast {
    /// Canonical spelling, without the `::`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cast::Field => "field",
            Cast::Tag => "tag",
            Cast::Float => "float",
            Cast::Integer => "integer",
            Cast::String => "string",
            Cast::Boolean => "boolean",
        }
    }
}

/// Words that cannot be bare identifiers (compared case-insensitively).
pub const RESERVED: &[&str] = &[
    "and", "as", "asc", "by", "create", "delete", "desc", "drop", "false", "fill", "from", "group",
    "in", "limit", "offset", "or", "order", "select", "show", "slimit", "soffset", "true", "where",
    "with",
];

/// Whether `name` can be written without double quotes.
pub fn is_bare_ident(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name))
}
