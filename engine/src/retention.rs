//! Retention: the global period ([`crate::Options::retention`]) and the per-measurement
//! rules ([`crate::Options::retention_rules`]), and the cutoff (oldest timestamp kept) that
//! each series gets from them at a given time.
//!
//! A rule matches a measurement by its exact name or by a regular expression anchored at
//! both ends (as Prometheus anchors label matchers). Samples written through the
//! Prometheus paths are stored under their metric name as the measurement, so a rule names
//! a Prometheus metric as it is written (`http_requests_total`), not the `measurement_field`
//! name PromQL gives a line-protocol field. The first rule that matches wins; a measurement
//! no rule matches keeps the global retention.
//!
//! Invariants: every series of a measurement belongs to the same [`RetentionGroup`] (group
//! 0 is the global retention, group `i + 1` is rule `i`), fixed when the measurement is
//! first seen, since options do not change while a database is open; a cutoff is
//! `i64::MIN` when its group keeps data forever.

use std::time::Duration;

/// How a retention rule picks measurements.
#[derive(Debug, Clone)]
pub enum MeasurementMatch {
    /// The measurement named exactly this.
    Exact(String),
    /// Measurements whose whole name matches `pattern`.
    Regex {
        /// The pattern as written (without the anchors added).
        pattern: String,
        /// `^(?:pattern)$`, compiled.
        regex: regex::Regex,
    },
}

/// A pattern that is not a valid regular expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid retention pattern {pattern:?}: {reason}")]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
    /// What the regex parser said.
    pub reason: String,
}

/// One retention rule: which measurements, and how long their raw data is kept.
#[derive(Debug, Clone)]
pub struct RetentionRule {
    matcher: MeasurementMatch,
    raw: Option<Duration>,
}

impl RetentionRule {
    /// A rule for the measurement named `name`, keeping its data for `raw` (`None`:
    /// forever).
    pub fn exact(name: impl Into<String>, raw: Option<Duration>) -> RetentionRule {
        RetentionRule {
            matcher: MeasurementMatch::Exact(name.into()),
            raw,
        }
    }

    /// A rule for the measurements whose whole name matches `pattern`, keeping their data
    /// for `raw` (`None`: forever).
    pub fn regex(pattern: &str, raw: Option<Duration>) -> Result<RetentionRule, PatternError> {
        let regex = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| PatternError {
            pattern: pattern.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(RetentionRule {
            matcher: MeasurementMatch::Regex {
                pattern: pattern.to_owned(),
                regex,
            },
            raw,
        })
    }

    /// How the rule picks measurements.
    pub fn matcher(&self) -> &MeasurementMatch {
        &self.matcher
    }

    /// How long raw data is kept (`None`: forever).
    pub fn raw(&self) -> Option<Duration> {
        self.raw
    }

    /// Whether the rule applies to `measurement`.
    pub fn matches(&self, measurement: &str) -> bool {
        match &self.matcher {
            MeasurementMatch::Exact(name) => name == measurement,
            MeasurementMatch::Regex { regex, .. } => regex.is_match(measurement),
        }
    }
}

impl std::fmt::Display for RetentionRule {
    /// `measurement = "cpu", raw = 7d` or `match = "cpu_.*", raw = forever`, as written in
    /// `strata.toml`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.matcher {
            MeasurementMatch::Exact(n) => write!(f, "measurement = {n:?}")?,
            MeasurementMatch::Regex { pattern, .. } => write!(f, "match = {pattern:?}")?,
        }
        write!(f, ", raw = {}", DurationText(self.raw))
    }
}

/// A retention period as settings spell it: `30d`, `12h`, `90s`, or `forever`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationText(pub Option<Duration>);

impl std::fmt::Display for DurationText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(d) = self.0 else {
            return f.write_str("forever");
        };
        let (s, ms) = (d.as_secs(), d.subsec_millis());
        if ms != 0 || d.subsec_nanos() % 1_000_000 != 0 {
            return write!(f, "{}ms", d.as_millis());
        }
        for (unit, secs) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
            if s != 0 && s % secs == 0 {
                return write!(f, "{}{unit}", s / secs);
            }
        }
        write!(f, "{s}s")
    }
}

/// Which retention applies to a measurement: 0 the global one, `i + 1` rule `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RetentionGroup(pub u32);

impl RetentionGroup {
    /// The global retention (no rule matched).
    pub const GLOBAL: RetentionGroup = RetentionGroup(0);

    /// The index of the rule, `None` for the global retention.
    pub fn rule(self) -> Option<usize> {
        (self.0 as usize).checked_sub(1)
    }
}

/// The global retention and the rules, in order.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    global: Option<Duration>,
    rules: Vec<RetentionRule>,
}

impl Retention {
    /// The policy of `global` (`None`: forever) and `rules` (the first match wins).
    pub fn new(global: Option<Duration>, rules: Vec<RetentionRule>) -> Retention {
        Retention { global, rules }
    }

    /// Whether any rule exists (if not, every series has the global cutoff).
    pub fn has_rules(&self) -> bool {
        !self.rules.is_empty()
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[RetentionRule] {
        &self.rules
    }

    /// The group of `measurement`: its first matching rule, else the global retention.
    pub fn group_of(&self, measurement: &str) -> RetentionGroup {
        self.rules
            .iter()
            .position(|r| r.matches(measurement))
            .map_or(RetentionGroup::GLOBAL, |i| {
                RetentionGroup(u32::try_from(i + 1).unwrap_or(u32::MAX))
            })
    }

    /// The rule of `group`, `None` for the global retention.
    pub fn rule(&self, group: RetentionGroup) -> Option<&RetentionRule> {
        self.rules.get(group.rule()?)
    }

    /// `retention rule N (match = "cpu_.*", raw = 7d)` for a rule's group (N counting
    /// from 1), for messages; `None` for the global retention.
    pub fn describe(&self, group: RetentionGroup) -> Option<String> {
        let i = group.rule()?;
        let r = self.rules.get(i)?;
        Some(format!("retention rule {} ({r})", i + 1))
    }

    /// The cutoff of `group` at time `now` (ns): `i64::MIN` when it keeps data forever.
    pub fn cutoff(&self, group: RetentionGroup, now: i64) -> i64 {
        match self.period(group) {
            None => i64::MIN,
            Some(d) => now.saturating_sub(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
        }
    }

    /// How long `group` keeps data (`None`: forever).
    pub fn period(&self, group: RetentionGroup) -> Option<Duration> {
        match group.rule() {
            None => self.global,
            Some(i) => self.rules.get(i).and_then(|r| r.raw),
        }
    }

    /// Every group's cutoff at time `now` (ns).
    pub fn cutoffs(&self, now: i64) -> Cutoffs {
        Cutoffs(
            (0..=self.rules.len())
                .map(|g| self.cutoff(RetentionGroup(u32::try_from(g).unwrap_or(u32::MAX)), now))
                .collect(),
        )
    }
}

/// The oldest timestamp kept, per [`RetentionGroup`], at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cutoffs(pub(crate) Vec<i64>);

impl Cutoffs {
    /// The same cutoff for every group (`i64::MIN` keeps everything).
    pub fn uniform(keep_from: i64) -> Cutoffs {
        Cutoffs(vec![keep_from])
    }

    /// The cutoff of `group` (a group beyond the rules gets the global one).
    pub fn of(&self, group: RetentionGroup) -> i64 {
        let global = self.0.first().copied().unwrap_or(i64::MIN);
        self.0.get(group.0 as usize).copied().unwrap_or(global)
    }

    /// The global cutoff (of measurements no rule matches).
    pub fn global(&self) -> i64 {
        self.of(RetentionGroup::GLOBAL)
    }

    /// The earliest cutoff of any group: nothing older than this is kept anywhere.
    pub fn loosest(&self) -> i64 {
        self.0.iter().copied().min().unwrap_or(i64::MIN)
    }

    /// Whether every group has the same cutoff.
    pub fn is_uniform(&self) -> bool {
        self.0.windows(2).all(|w| w[0] == w[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn the_first_matching_rule_wins_and_regexes_are_anchored() {
        let r = Retention::new(
            Some(30 * DAY),
            vec![
                RetentionRule::exact("cpu_total", None),
                RetentionRule::regex("cpu_.*", Some(7 * DAY)).unwrap(),
                RetentionRule::regex("cpu_.*|mem", Some(DAY)).unwrap(),
            ],
        );
        assert_eq!(r.group_of("cpu_total"), RetentionGroup(1));
        assert_eq!(r.group_of("cpu_user"), RetentionGroup(2));
        assert_eq!(r.group_of("mem"), RetentionGroup(3));
        // Anchored: a pattern must match the whole name.
        assert_eq!(r.group_of("xcpu_user"), RetentionGroup::GLOBAL);
        assert_eq!(r.group_of("memory"), RetentionGroup::GLOBAL);
        let now = 100 * DAY.as_nanos() as i64;
        let c = r.cutoffs(now);
        assert_eq!(
            c.of(RetentionGroup::GLOBAL),
            now - 30 * DAY.as_nanos() as i64
        );
        assert_eq!(c.of(RetentionGroup(1)), i64::MIN);
        assert_eq!(c.of(RetentionGroup(2)), now - 7 * DAY.as_nanos() as i64);
        assert_eq!(c.loosest(), i64::MIN);
        assert_eq!(r.period(RetentionGroup(3)), Some(DAY));
        assert_eq!(
            r.rule(RetentionGroup(2)).unwrap().to_string(),
            "match = \"cpu_.*\", raw = 7d"
        );
        assert_eq!(
            r.rule(RetentionGroup(1)).unwrap().to_string(),
            "measurement = \"cpu_total\", raw = forever"
        );
    }

    #[test]
    fn a_bad_pattern_is_refused_with_its_text() {
        let e = RetentionRule::regex("cpu_(", None).unwrap_err();
        assert_eq!(e.pattern, "cpu_(");
        assert!(e.to_string().contains("cpu_("), "{e}");
    }

    #[test]
    fn durations_print_in_their_largest_whole_unit() {
        let t = |d| DurationText(Some(d)).to_string();
        assert_eq!(t(30 * DAY), "30d");
        assert_eq!(t(Duration::from_secs(7200)), "2h");
        assert_eq!(t(Duration::from_secs(90)), "90s");
        assert_eq!(t(Duration::from_millis(1500)), "1500ms");
        assert_eq!(DurationText(None).to_string(), "forever");
    }
}
