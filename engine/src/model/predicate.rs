//! Column predicates: which columns (measurement, tags, field) a delete covers.
//!
//! A predicate is a tree of `AND`, `OR` and matchers. A matcher compares the measurement,
//! the field name or one tag's value (a missing tag compares as the empty string, as in
//! InfluxQL and Prometheus) with `=`, `!=`, `=~` or `!~`. A regex matches when it matches
//! *anywhere* in the value (`Regex::is_match`), as InfluxQL's do; a caller that wants
//! Prometheus' anchored semantics passes the pattern wrapped as `^(?s:pattern)$`.

use regex::Regex;

/// Largest compiled size of a predicate's regex.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What a matcher compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The measurement name.
    Measurement,
    /// The field name.
    Field,
    /// The value of a tag (empty when the series lacks it).
    Tag(String),
}

/// How a matcher compares: the one operator type of both the engine's predicates and the
/// query languages' label matchers (`strata_query::plan::MatchOp` is this). Whether a regex
/// is anchored belongs to the matcher, not the operator: a predicate's regex matches
/// anywhere (InfluxQL), a query label matcher's is anchored (Prometheus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    /// The operator's text.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }

    /// The operator's code in the WAL and manifest encodings.
    pub fn code(self) -> u8 {
        match self {
            MatchOp::Equal => 0,
            MatchOp::NotEqual => 1,
            MatchOp::Regex => 2,
            MatchOp::NotRegex => 3,
        }
    }

    /// The operator with code `c`.
    pub fn from_code(c: u8) -> Option<MatchOp> {
        Some(match c {
            0 => MatchOp::Equal,
            1 => MatchOp::NotEqual,
            2 => MatchOp::Regex,
            3 => MatchOp::NotRegex,
            _ => return None,
        })
    }
}

/// A predicate could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PredicateError {
    /// A regex does not compile (or is too large).
    #[error("invalid regex /{pattern}/: {reason}")]
    BadRegex {
        /// The pattern.
        pattern: String,
        /// What is wrong.
        reason: String,
    },
}

/// `subject op value`.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// What is compared.
    pub subject: Subject,
    /// How.
    pub op: MatchOp,
    /// The literal, or the regex source.
    pub value: String,
    re: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, o: &Matcher) -> bool {
        self.subject == o.subject && self.op == o.op && self.value == o.value
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// A matcher; a regex is compiled here (bounded in size).
    pub fn new(subject: Subject, op: MatchOp, value: &str) -> Result<Matcher, PredicateError> {
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                regex::RegexBuilder::new(value)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .dfa_size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| PredicateError::BadRegex {
                        pattern: value.to_owned(),
                        reason: e.to_string(),
                    })?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher {
            subject,
            op,
            value: value.to_owned(),
            re,
        })
    }

    /// Whether `v` satisfies the matcher.
    pub fn matches(&self, v: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }
}

/// A predicate over columns; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Predicate {
    /// Every column.
    True,
    /// One comparison.
    Match(Matcher),
    /// Every part holds (true when empty).
    And(Vec<Predicate>),
    /// Some part holds (false when empty).
    Or(Vec<Predicate>),
}

impl Predicate {
    /// `measurement = name`.
    pub fn measurement(name: &str) -> Predicate {
        Predicate::Match(Matcher {
            subject: Subject::Measurement,
            op: MatchOp::Equal,
            value: name.to_owned(),
            re: None,
        })
    }

    /// `key = value` for a tag.
    pub fn tag_eq(key: &str, value: &str) -> Predicate {
        Predicate::Match(Matcher {
            subject: Subject::Tag(key.to_owned()),
            op: MatchOp::Equal,
            value: value.to_owned(),
            re: None,
        })
    }

    /// Whether the column `field` of the series (`measurement`, sorted `tags`) is covered.
    /// With `field` `None`, field matchers hold (the question is about some field).
    pub fn matches(
        &self,
        measurement: &str,
        tags: &[(String, String)],
        field: Option<&str>,
    ) -> bool {
        match self {
            Predicate::True => true,
            Predicate::And(ps) => ps.iter().all(|p| p.matches(measurement, tags, field)),
            Predicate::Or(ps) => ps.iter().any(|p| p.matches(measurement, tags, field)),
            Predicate::Match(m) => match &m.subject {
                Subject::Measurement => m.matches(measurement),
                Subject::Field => field.is_none_or(|f| m.matches(f)),
                Subject::Tag(k) => {
                    let v = tags
                        .binary_search_by(|(tk, _)| tk.as_str().cmp(k))
                        .ok()
                        .map_or("", |i| tags[i].1.as_str());
                    m.matches(v)
                }
            },
        }
    }

    /// The measurements the predicate can cover, when it names them with `=` (at the top,
    /// under `AND`, or in every branch of an `OR`); `None` when any measurement may be.
    pub fn measurements(&self) -> Option<Vec<String>> {
        match self {
            Predicate::Match(m) if m.subject == Subject::Measurement && m.op == MatchOp::Equal => {
                Some(vec![m.value.clone()])
            }
            Predicate::And(ps) => ps
                .iter()
                .filter_map(Predicate::measurements)
                .min_by_key(Vec::len),
            Predicate::Or(ps) if !ps.is_empty() => {
                let mut out = Vec::new();
                for p in ps {
                    out.extend(p.measurements()?);
                }
                out.sort();
                out.dedup();
                Some(out)
            }
            Predicate::Or(_) => Some(Vec::new()),
            _ => None,
        }
    }

    /// Whether some matcher compares field names.
    pub fn mentions_field(&self) -> bool {
        match self {
            Predicate::True => false,
            Predicate::Match(m) => m.subject == Subject::Field,
            Predicate::And(ps) | Predicate::Or(ps) => ps.iter().any(Predicate::mentions_field),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = t
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        v.sort();
        v
    }

    fn m(s: Subject, op: MatchOp, v: &str) -> Predicate {
        Predicate::Match(Matcher::new(s, op, v).unwrap())
    }

    #[test]
    fn matchers_follow_influxql() {
        let host = |op, v| m(Subject::Tag("host".into()), op, v);
        let a = tags(&[("host", "server-a"), ("dc", "x")]);
        let none = tags(&[("dc", "x")]);
        // Unanchored regex: `a` matches anywhere.
        assert!(host(MatchOp::Regex, "a$").matches("cpu", &a, None));
        assert!(host(MatchOp::Regex, "server").matches("cpu", &a, None));
        assert!(!host(MatchOp::Regex, "^a").matches("cpu", &a, None));
        assert!(!host(MatchOp::NotRegex, "server").matches("cpu", &a, None));
        // Anchored by the caller, as PromQL does.
        assert!(!host(MatchOp::Regex, "^(?s:server)$").matches("cpu", &a, None));
        // A missing tag is the empty string.
        assert!(host(MatchOp::Equal, "").matches("cpu", &none, None));
        assert!(host(MatchOp::NotEqual, "server-a").matches("cpu", &none, None));
        assert!(!host(MatchOp::NotEqual, "server-a").matches("cpu", &a, None));
        let or = Predicate::Or(vec![
            host(MatchOp::Equal, "nope"),
            Predicate::And(vec![
                Predicate::measurement("cpu"),
                m(Subject::Tag("dc".into()), MatchOp::Regex, "x|y"),
            ]),
        ]);
        assert!(or.matches("cpu", &a, None));
        assert!(!or.matches("mem", &a, None));
        let field = m(Subject::Field, MatchOp::Equal, "usage");
        assert!(field.matches("cpu", &a, Some("usage")));
        assert!(!field.matches("cpu", &a, Some("idle")));
        assert!(field.matches("cpu", &a, None));
        assert!(!Predicate::Or(vec![]).matches("cpu", &a, None));
        assert!(Predicate::And(vec![]).matches("cpu", &a, None));
    }

    #[test]
    fn measurement_hints() {
        let p = Predicate::Or(vec![
            Predicate::And(vec![
                Predicate::measurement("a"),
                Predicate::tag_eq("k", "v"),
            ]),
            Predicate::measurement("b"),
        ]);
        assert_eq!(p.measurements(), Some(vec!["a".into(), "b".into()]));
        assert_eq!(Predicate::tag_eq("k", "v").measurements(), None);
        let re = m(Subject::Measurement, MatchOp::Regex, "c.*");
        assert_eq!(re.measurements(), None);
        assert!(Matcher::new(Subject::Field, MatchOp::Regex, "(").is_err());
    }
}
