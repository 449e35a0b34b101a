//! Label matchers: the series-selection predicate both languages lower to (PromQL's
//! `{l="v", m=~"re"}` directly, InfluxQL's tag conditions where they are plain matchers).
//!
//! Invariant: a regex matcher holds its pattern compiled as `^(?s:pattern)$` (anchored,
//! as Prometheus matches), with a bounded compiled size.

/// How a label matcher compares.
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
}

/// One `name op "value"` of a selector.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name (`__name__` for the metric name).
    pub name: String,
    /// Comparison.
    pub op: MatchOp,
    /// The literal value or the regex source, as written.
    pub value: String,
    /// For regex matchers: `^(?s:value)$`, compiled.
    pub re: Option<regex::Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, o: &Matcher) -> bool {
        self.name == o.name && self.op == o.op && self.value == o.value
    }
}

/// Largest compiled size of a user regex.
const REGEX_SIZE_LIMIT: usize = 1 << 22;

impl Matcher {
    /// Builds a matcher, compiling (anchored) regexes. The error names the pattern and
    /// what is wrong with it.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher, String> {
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(compile_anchored(value)?),
            _ => None,
        };
        Ok(Matcher {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
            re,
        })
    }

    /// Whether a label value (empty for a missing label) satisfies the matcher.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Equal => v == self.value,
            MatchOp::NotEqual => v != self.value,
            MatchOp::Regex => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::NotRegex => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }
}

/// Compiles `^(?s:src)$` with a size bound.
pub fn compile_anchored(src: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(&format!("^(?s:{src})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| regex_message(src, &e))
}

/// The regex crate's error, in one line.
fn regex_message(src: &str, e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => {
            let last = s.lines().rev().find(|l| l.starts_with("error:"));
            format!(
                "invalid regular expression {src:?}: {}",
                last.unwrap_or(s).trim_start_matches("error: ")
            )
        }
        other => format!("invalid regular expression {src:?}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_are_anchored() {
        let m = Matcher::new("a", MatchOp::Regex, "fo+").unwrap();
        assert!(m.matches("foo"));
        assert!(!m.matches("xfoo"));
        assert!(!m.matches("foox"));
        let n = Matcher::new("a", MatchOp::NotRegex, "").unwrap();
        assert!(!n.matches(""));
        assert!(n.matches("x"));
        assert!(Matcher::new("a", MatchOp::Regex, "(").is_err());
    }
}
