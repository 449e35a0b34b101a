//! Label matchers: the series-selection predicate both languages lower to (PromQL's
//! `{l="v", m=~"re"}` directly, InfluxQL's tag conditions where they are plain matchers).
//!
//! Invariant: a regex matcher holds its pattern compiled as `^(?s:pattern)$` (anchored,
//! as Prometheus matches), with a bounded compiled size; when the pattern matches only a
//! small finite set of strings (`a|b|c`, `cpu_(user|system)`), that set too, sorted, so
//! selection looks those values up in the index and matching is a set lookup.

/// How a label matcher compares: the engine's operator (one type for predicates and
/// matchers).
pub use strata_engine::model::MatchOp;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// One `name op "value"` of a selector.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name (`__name__` for the metric name).
    pub name: String,
    /// Comparison.
    pub op: MatchOp,
    /// The literal value or the regex source, as written.
    pub value: String,
    /// For regex matchers that are not literal sets: `^(?s:value)$`, compiled.
    pub re: Option<Arc<regex::Regex>>,
    /// For regex matchers whose pattern matches a small finite set of strings: that set,
    /// sorted.
    pub set: Option<Vec<String>>,
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
        let (re, set) = match op {
            // A pattern that is a literal set is matched by set lookups and never
            // compiled (compiling builds automata, which costs more than small queries).
            MatchOp::Regex | MatchOp::NotRegex => match literal_set(value) {
                Some(set) => (None, Some(set)),
                None => (Some(compile_anchored(value)?), None),
            },
            _ => (None, None),
        };
        Ok(Matcher {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
            re,
            set,
        })
    }

    /// Whether a label value (empty for a missing label) satisfies the matcher.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Equal => v == self.value,
            MatchOp::NotEqual => v != self.value,
            MatchOp::Regex => self.regex_match(v),
            MatchOp::NotRegex => !self.regex_match(v),
        }
    }

    /// The matcher for an unanchored regex (InfluxQL's `tag =~ /re/`, which matches
    /// anywhere in the value), when the pattern is anchored at both ends by itself
    /// (`/^(a|b)$/`); `None` otherwise, or when it does not compile.
    pub fn from_unanchored(name: &str, re: &str) -> Option<Matcher> {
        let inner = re.strip_prefix('^')?.strip_suffix('$')?;
        if inner.ends_with('\\') || inner.contains(['^', '$']) {
            return None;
        }
        Matcher::new(name, MatchOp::Regex, inner).ok()
    }

    fn regex_match(&self, v: &str) -> bool {
        match &self.set {
            Some(set) => set.binary_search_by(|x| x.as_str().cmp(v)).is_ok(),
            None => self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// The values a label must have to satisfy the matcher, when that is a finite set
    /// (`=` with its value, `=~` with a literal set), sorted.
    pub fn values(&self) -> Option<Vec<&str>> {
        match self.op {
            MatchOp::Equal => Some(vec![self.value.as_str()]),
            MatchOp::Regex => self
                .set
                .as_ref()
                .map(|s| s.iter().map(String::as_str).collect()),
            _ => None,
        }
    }
}

/// Most strings a literal set may hold; larger alternations stay regexes.
const MAX_SET: usize = 256;

/// The strings an (anchored) pattern matches, when it matches a finite set of at most
/// [`MAX_SET`] valid UTF-8 strings, sorted and unique.
fn literal_set(src: &str) -> Option<Vec<String>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let hir = regex_syntax::ParserBuilder::new()
        .dot_matches_new_line(true)
        .build()
        .parse(src)
        .ok()?;
    let mut ex = Extractor::new();
    ex.kind(ExtractKind::Prefix)
        .limit_total(MAX_SET * 64)
        .limit_class(MAX_SET);
    let seq = ex.extract(&hir);
    if !seq.is_exact() {
        return None;
    }
    let lits = seq.literals()?;
    if lits.len() > MAX_SET {
        return None;
    }
    let mut out: Vec<String> = lits
        .iter()
        .map(|l| String::from_utf8(l.as_bytes().to_vec()).ok())
        .collect::<Option<_>>()?;
    out.sort();
    out.dedup();
    // An exact prefix sequence of a pattern with look-around (`^`, `$`, `\b`) is still
    // only a prefix; such patterns keep the regex.
    if hir.properties().look_set().is_empty() {
        Some(out)
    } else {
        None
    }
}

/// Compiled patterns kept for the next query that names them (dashboards repeat theirs):
/// at most this many, the whole set dropped when full.
const REGEX_CACHE_MAX: usize = 64;
/// Only patterns whose program fits this are kept, each with a lazy-DFA cache of at most
/// [`CACHED_DFA_LIMIT`] per thread using it, so the cache holds at most
/// 64 × (64 KiB + threads × 256 KiB); larger patterns are compiled for their query alone.
const CACHED_PROGRAM_LIMIT: usize = 64 << 10;
const CACHED_DFA_LIMIT: usize = 256 << 10;

/// Compiles `^(?s:src)$` with a size bound, or takes it from the process-wide cache.
/// Compiling builds automata, which costs more than a small query; a cached regex is
/// shared (`Arc`), so its match caches are built once, not once per query.
pub fn compile_anchored(src: &str) -> Result<Arc<regex::Regex>, String> {
    static CACHE: LazyLock<Mutex<HashMap<String, Arc<regex::Regex>>>> =
        LazyLock::new(Mutex::default);
    let cache = || {
        CACHE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    if let Some(re) = cache().get(src) {
        return Ok(Arc::clone(re));
    }
    let anchored = format!("^(?s:{src})$");
    let small = regex::RegexBuilder::new(&anchored)
        .size_limit(CACHED_PROGRAM_LIMIT)
        .dfa_size_limit(CACHED_DFA_LIMIT)
        .build();
    let e = match small {
        Ok(re) => {
            let re = Arc::new(re);
            let mut c = cache();
            if c.len() >= REGEX_CACHE_MAX {
                c.clear();
            }
            c.insert(src.to_owned(), Arc::clone(&re));
            return Ok(re);
        }
        Err(e) => e,
    };
    if !matches!(e, regex::Error::CompiledTooBig(_)) {
        return Err(regex_message(src, &e));
    }
    regex::RegexBuilder::new(&anchored)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(Arc::new)
        .map_err(|e| regex_message(src, &e))
}

/// The error of a pattern that does not compile, in Go's words where Go's `regexp` has
/// them (as Prometheus reports it): `error parsing regexp: missing closing ): `^(?:()$``.
fn regex_message(src: &str, e: &regex::Error) -> String {
    use regex_syntax::ast::ErrorKind as K;
    let anchored = format!("^(?:{src})$");
    let reason = match regex_syntax::ast::parse::Parser::new().parse(src) {
        Err(err) => match err.kind() {
            K::GroupUnclosed => "missing closing )".to_owned(),
            K::GroupUnopened => "unexpected )".to_owned(),
            K::ClassUnclosed => "missing closing ]".to_owned(),
            K::RepetitionMissing => "missing argument to repetition operator".to_owned(),
            K::EscapeUnrecognized | K::EscapeUnexpectedEof => "invalid escape sequence".to_owned(),
            K::ClassRangeInvalid => "invalid character class range".to_owned(),
            K::RepetitionCountInvalid | K::RepetitionCountUnclosed => {
                "invalid repeat count".to_owned()
            }
            other => other.to_string(),
        },
        Ok(_) => match e {
            regex::Error::CompiledTooBig(limit) => {
                format!("expression too large (compiled size over {limit} bytes)")
            }
            other => other
                .to_string()
                .lines()
                .last()
                .unwrap_or("invalid")
                .to_owned(),
        },
    };
    format!("error parsing regexp: {reason}: `{anchored}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_patterns_are_shared_and_bad_ones_still_fail() {
        let a = compile_anchored("node_(cpu|memory)_.+").unwrap();
        let b = compile_anchored("node_(cpu|memory)_.+").unwrap();
        assert!(Arc::ptr_eq(&a, &b), "the second compile is the cached one");
        assert!(a.is_match("node_cpu_seconds_total"));
        assert!(!a.is_match("xnode_cpu_seconds_total"), "anchored");
        for _ in 0..2 {
            let e = compile_anchored("(").unwrap_err();
            assert!(e.contains("missing closing )"), "{e}");
        }
        // Too large to keep: compiled for its query, each time, and still right.
        let big = r"(a|b|c|d)\w{20}";
        let (x, y) = (
            compile_anchored(big).unwrap(),
            compile_anchored(big).unwrap(),
        );
        assert!(!Arc::ptr_eq(&x, &y), "not cached");
        assert!(x.is_match(&format!("a{}", "q".repeat(20))));
        assert!(!x.is_match(&format!("a{}", "q".repeat(19))));
        // More patterns than the cache holds: every one still compiles and matches.
        for i in 0..REGEX_CACHE_MAX + 10 {
            let re = compile_anchored(&format!("v{i}|w")).unwrap();
            assert!(re.is_match(&format!("v{i}")) && re.is_match("w"));
        }
    }

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

    #[test]
    fn self_anchored_patterns_convert() {
        let m = Matcher::from_unanchored("h", "^(host_1|host_2)$").unwrap();
        assert_eq!(m.values(), Some(vec!["host_1", "host_2"]));
        assert!(Matcher::from_unanchored("h", "host_1").is_none());
        assert!(Matcher::from_unanchored("h", "^a$|^b$").is_none());
        assert!(Matcher::from_unanchored("h", "^a\\$").is_none());
    }

    #[test]
    fn literal_alternations_become_sets() {
        let m = Matcher::new("a", MatchOp::Regex, "host_1|host_22|x").unwrap();
        assert_eq!(
            m.set.as_deref(),
            Some(&["host_1".to_owned(), "host_22".to_owned(), "x".to_owned()][..])
        );
        assert!(m.matches("host_22"));
        assert!(!m.matches("host_2"));
        let m = Matcher::new("a", MatchOp::Regex, "cpu_(user|system)").unwrap();
        assert_eq!(m.values(), Some(vec!["cpu_system", "cpu_user"]));
        for pattern in ["a.*", "a+", "(?i)ab", "^a$", "a|b*", ".", "a\\b"] {
            let m = Matcher::new("a", MatchOp::Regex, pattern).unwrap();
            if let Some(set) = &m.set {
                // A set is only kept when it is exactly what the regex matches.
                let re = compile_anchored(pattern).unwrap();
                for s in set {
                    assert!(re.is_match(s), "{pattern}: {s}");
                }
            }
        }
        assert!(
            Matcher::new("a", MatchOp::Regex, "a.*")
                .unwrap()
                .set
                .is_none()
        );
        let empty = Matcher::new("a", MatchOp::Regex, "|b").unwrap();
        assert!(empty.matches("") && empty.matches("b") && !empty.matches("c"));
    }
}
