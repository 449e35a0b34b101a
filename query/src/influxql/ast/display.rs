//! `Display` for the AST: canonical InfluxQL that parses back to an equal AST.

use std::fmt::{self, Display, Formatter, Write};

use super::*;

/// Displays an identifier, double-quoted with `\"` and `\\` escapes when needed.
pub struct Ident<'a>(pub &'a str);

impl Display for Ident<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if is_bare_ident(self.0) {
            return f.write_str(self.0);
        }
        f.write_char('"')?;
        for c in self.0.chars() {
            if c == '"' || c == '\\' {
                f.write_char('\\')?;
            }
            f.write_char(c)?;
        }
        f.write_char('"')
    }
}

/// Displays a single-quoted string literal with `\'`, `\\` and `\n` escapes.
pub struct Quoted<'a>(pub &'a str);

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('\'')?;
        for c in self.0.chars() {
            match c {
                '\'' => f.write_str("\\'")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('\'')
    }
}

/// Displays a regex literal, escaping `/` as `\/` and keeping other `\x` pairs.
pub struct RegexLit<'a>(pub &'a str);

impl Display for RegexLit<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('/')?;
        let mut chars = self.0.chars();
        while let Some(c) = chars.next() {
            match c {
                '/' => f.write_str("\\/")?,
                '\\' => {
                    f.write_char('\\')?;
                    if let Some(next) = chars.next() {
                        if next == '/' {
                            f.write_str("\\/")?;
                        } else {
                            f.write_char(next)?;
                        }
                    }
                }
                c => f.write_char(c)?,
            }
        }
        f.write_char('/')
    }
}

const UNITS: [(&str, u64); 8] = [
    ("w", 604_800_000_000_000),
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("u", 1_000),
    ("ns", 1),
];

impl Display for Duration {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        if self.0 < 0 {
            f.write_char('-')?;
        }
        let mut rest = self.0.unsigned_abs();
        for (unit, nanos) in UNITS {
            if rest >= nanos {
                write!(f, "{}{unit}", rest / nanos)?;
                rest %= nanos;
            }
        }
        Ok(())
    }
}

/// Writes a float so that it reads back as a float (always a `.` or an exponent).
fn write_float(f: &mut Formatter<'_>, v: f64) -> fmt::Result {
    write!(f, "{v:?}")
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Var { name, cast } => {
                write!(f, "{}", Ident(name))?;
                write_cast(f, *cast)
            }
            Expr::Wildcard(cast) => {
                f.write_char('*')?;
                write_cast(f, *cast)
            }
            Expr::Regex(re) => write!(f, "{}", RegexLit(re)),
            Expr::Call { name, args } => {
                write!(f, "{name}(")?;
                write_list(f, args)?;
                f.write_char(')')
            }
            Expr::Integer(v) => write!(f, "{v}"),
            Expr::Float(v) => write_float(f, *v),
            Expr::String(s) => write!(f, "{}", Quoted(s)),
            Expr::Bool(b) => f.write_str(if *b { "true" } else { "false" }),
            Expr::Duration(d) => write!(f, "{d}"),
            Expr::Binary { op, lhs, rhs } => {
                let p = op.precedence();
                write_operand(f, lhs, |q| q < p)?;
                write!(f, " {} ", op.as_str())?;
                write_operand(f, rhs, |q| q <= p)
            }
        }
    }
}

fn write_operand(f: &mut Formatter<'_>, e: &Expr, paren: impl Fn(u8) -> bool) -> fmt::Result {
    match e {
        Expr::Binary { op, .. } if paren(op.precedence()) => write!(f, "({e})"),
        _ => write!(f, "{e}"),
    }
}

fn write_cast(f: &mut Formatter<'_>, cast: Option<Cast>) -> fmt::Result {
    match cast {
        Some(c) => write!(f, "::{}", c.as_str()),
        None => Ok(()),
    }
}

fn write_list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl Display for MeasurementName {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MeasurementName::Name(n) => write!(f, "{}", Ident(n)),
            MeasurementName::Regex(re) => write!(f, "{}", RegexLit(re)),
        }
    }
}

impl Display for Source {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(db) = &self.database {
            write!(f, "{}.", Ident(db))?;
            if let Some(rp) = &self.retention_policy {
                write!(f, "{}", Ident(rp))?;
            }
            f.write_char('.')?;
        } else if let Some(rp) = &self.retention_policy {
            write!(f, "{}.", Ident(rp))?;
        }
        write!(f, "{}", self.name)
    }
}

impl Display for Field {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        match &self.alias {
            Some(a) => write!(f, " AS {}", Ident(a)),
            None => Ok(()),
        }
    }
}

impl Display for Dimension {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Dimension::Time { interval, offset } => {
                write!(f, "time({interval}")?;
                if let Some(o) = offset {
                    write!(f, ", {o}")?;
                }
                f.write_char(')')
            }
            Dimension::Tag(t) => write!(f, "{}", Ident(t)),
            Dimension::Regex(re) => write!(f, "{}", RegexLit(re)),
            Dimension::All => f.write_char('*'),
        }
    }
}

impl Display for Fill {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("FILL(")?;
        match self {
            Fill::Null => f.write_str("null")?,
            Fill::None => f.write_str("none")?,
            Fill::Previous => f.write_str("previous")?,
            Fill::Linear => f.write_str("linear")?,
            Fill::Integer(v) => write!(f, "{v}")?,
            Fill::Float(v) => write_float(f, *v)?,
        }
        f.write_char(')')
    }
}

fn write_opt_u64(f: &mut Formatter<'_>, kw: &str, v: Option<u64>) -> fmt::Result {
    match v {
        Some(v) => write!(f, " {kw} {v}"),
        None => Ok(()),
    }
}

fn write_where(f: &mut Formatter<'_>, cond: &Option<Expr>) -> fmt::Result {
    match cond {
        Some(c) => write!(f, " WHERE {c}"),
        None => Ok(()),
    }
}

fn write_from(f: &mut Formatter<'_>, from: &[Source]) -> fmt::Result {
    if from.is_empty() {
        return Ok(());
    }
    f.write_str(" FROM ")?;
    write_list(f, from)
}

impl Display for Select {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        write_list(f, &self.fields)?;
        write_from(f, &self.sources)?;
        write_where(f, &self.condition)?;
        if !self.group_by.is_empty() {
            f.write_str(" GROUP BY ")?;
            write_list(f, &self.group_by)?;
        }
        if let Some(fill) = &self.fill {
            write!(f, " {fill}")?;
        }
        match self.order {
            Some(Order::Asc) => f.write_str(" ORDER BY time ASC")?,
            Some(Order::Desc) => f.write_str(" ORDER BY time DESC")?,
            None => {}
        }
        write_opt_u64(f, "LIMIT", self.limit)?;
        write_opt_u64(f, "OFFSET", self.offset)?;
        write_opt_u64(f, "SLIMIT", self.slimit)?;
        write_opt_u64(f, "SOFFSET", self.soffset)?;
        match &self.tz {
            Some(tz) => write!(f, " tz({})", Quoted(tz)),
            None => Ok(()),
        }
    }
}

impl Display for ShowFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_from(f, &self.from)?;
        write_where(f, &self.condition)?;
        write_opt_u64(f, "LIMIT", self.limit)?;
        write_opt_u64(f, "OFFSET", self.offset)
    }
}

impl Display for TagKeyMatch {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TagKeyMatch::Eq(k) => write!(f, "= {}", Ident(k)),
            TagKeyMatch::NotEq(k) => write!(f, "!= {}", Ident(k)),
            TagKeyMatch::In(keys) => {
                f.write_str("IN (")?;
                let idents: Vec<Ident<'_>> = keys.iter().map(|k| Ident(k)).collect();
                write_list(f, &idents)?;
                f.write_char(')')
            }
            TagKeyMatch::Regex(re) => write!(f, "=~ {}", RegexLit(re)),
            TagKeyMatch::NotRegex(re) => write!(f, "!~ {}", RegexLit(re)),
        }
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Statement::Select(s) => write!(f, "{s}"),
            Statement::Explain(s) => write!(f, "EXPLAIN {s}"),
            Statement::ShowMeasurements { with, filter } => {
                f.write_str("SHOW MEASUREMENTS")?;
                match with {
                    Some(MeasurementName::Name(n)) => {
                        write!(f, " WITH MEASUREMENT = {}", Ident(n))?
                    }
                    Some(MeasurementName::Regex(re)) => {
                        write!(f, " WITH MEASUREMENT =~ {}", RegexLit(re))?
                    }
                    None => {}
                }
                write!(f, "{filter}")
            }
            Statement::ShowTagKeys(filter) => write!(f, "SHOW TAG KEYS{filter}"),
            Statement::ShowTagValues { key, filter } => {
                f.write_str("SHOW TAG VALUES")?;
                write_from(f, &filter.from)?;
                write!(f, " WITH KEY {key}")?;
                write_where(f, &filter.condition)?;
                write_opt_u64(f, "LIMIT", filter.limit)?;
                write_opt_u64(f, "OFFSET", filter.offset)
            }
            Statement::ShowFieldKeys { from } => {
                f.write_str("SHOW FIELD KEYS")?;
                write_from(f, from)
            }
            Statement::ShowSeries(filter) => write!(f, "SHOW SERIES{filter}"),
            Statement::ShowDatabases => f.write_str("SHOW DATABASES"),
            Statement::ShowRetentionPolicies { database } => {
                f.write_str("SHOW RETENTION POLICIES")?;
                match database {
                    Some(db) => write!(f, " ON {}", Ident(db)),
                    None => Ok(()),
                }
            }
            Statement::ShowStats => f.write_str("SHOW STATS"),
            Statement::CreateDatabase { name } => write!(f, "CREATE DATABASE {}", Ident(name)),
            Statement::Delete { from, condition } => {
                f.write_str("DELETE")?;
                if let Some(m) = from {
                    write!(f, " FROM {m}")?;
                }
                write_where(f, condition)
            }
            Statement::DropMeasurement { name } => {
                write!(f, "DROP MEASUREMENT {}", Ident(name))
            }
            Statement::DropSeries { from, condition } => {
                f.write_str("DROP SERIES")?;
                write_from(f, from)?;
                write_where(f, condition)
            }
        }
    }
}
