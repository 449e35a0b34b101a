//! Relabelling (`relabel_configs`, `metric_relabel_configs`, `alert_relabel_configs`),
//! exactly as Prometheus 2.42's `model/relabel` does it.
//!
//! A rule joins its `source_labels` values with `separator`, matches the anchored
//! `regex` (`^(?:regex)$`) and acts: `replace` (the default), `keep`, `drop`,
//! `keepequal`, `dropequal`, `hashmod`, `labelmap`, `labeldrop`, `labelkeep`,
//! `lowercase`, `uppercase`. Defaults: separator `;`, regex `(.*)`, replacement `$1`.
//! Replacements expand `$1`, `${1}`, `$name` and `${name}` as Go's `Regexp.Expand` does
//! (the longest name wins: `$1x` is the group named `1x`).

use md5::{Digest, Md5};
use serde::{Deserialize, Deserializer};
use std::sync::OnceLock;
use strata_query::promql::Labels;

/// What a relabel rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Sets `target_label` to the expanded `replacement` when the regex matches.
    Replace,
    /// Keeps the label set only when the regex matches.
    Keep,
    /// Drops the label set when the regex matches.
    Drop,
    /// Keeps the label set only when the joined value equals `target_label`'s value.
    Keepequal,
    /// Drops the label set when the joined value equals `target_label`'s value.
    Dropequal,
    /// Sets `target_label` to the MD5 of the joined value modulo `modulus`.
    Hashmod,
    /// Copies labels whose name matches to the name the replacement gives.
    Labelmap,
    /// Removes labels whose name matches.
    Labeldrop,
    /// Removes labels whose name does not match.
    Labelkeep,
    /// Sets `target_label` to the joined value in lower case.
    Lowercase,
    /// Sets `target_label` to the joined value in upper case.
    Uppercase,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::Keepequal => "keepequal",
            Action::Dropequal => "dropequal",
            Action::Hashmod => "hashmod",
            Action::Labelmap => "labelmap",
            Action::Labeldrop => "labeldrop",
            Action::Labelkeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

/// An anchored regular expression that remembers how it was written.
#[derive(Debug, Clone)]
pub struct AnchoredRegex {
    source: String,
    re: regex::Regex,
}

impl AnchoredRegex {
    /// Compiles `^(?:source)$`.
    pub fn new(source: &str) -> Result<AnchoredRegex, regex::Error> {
        Ok(AnchoredRegex {
            source: source.to_owned(),
            re: regex::Regex::new(&format!("^(?:{source})$"))?,
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }
}

impl PartialEq for AnchoredRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl<'de> Deserialize<'de> for AnchoredRegex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AnchoredRegex::new(&s).map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
    }
}

/// The YAML form of one relabel rule, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelabel {
    #[serde(default)]
    source_labels: Option<Vec<String>>,
    #[serde(default)]
    separator: Option<String>,
    #[serde(default)]
    regex: Option<AnchoredRegex>,
    #[serde(default)]
    modulus: Option<u64>,
    #[serde(default)]
    target_label: Option<String>,
    #[serde(default)]
    replacement: Option<String>,
    #[serde(default)]
    action: Option<Action>,
}

/// One validated relabel rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RelabelConfig {
    /// Labels whose values are joined.
    pub source_labels: Vec<String>,
    /// Joins the source values. Default `;`.
    pub separator: String,
    /// Anchored. Default `(.*)`.
    pub regex: AnchoredRegex,
    /// For `hashmod`.
    pub modulus: u64,
    /// The label written.
    pub target_label: String,
    /// What `replace` writes. Default `$1`.
    pub replacement: String,
    /// What to do. Default `replace`.
    pub action: Action,
}

fn default_regex() -> AnchoredRegex {
    static RE: OnceLock<AnchoredRegex> = OnceLock::new();
    RE.get_or_init(|| AnchoredRegex::new("(.*)").expect("the default regex compiles"))
        .clone()
}

/// `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$`: a target label that may hold `$` references.
fn relabel_target_ok(s: &str) -> bool {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$").expect("compiles")
    })
    .is_match(s)
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn is_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_metric_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

impl<'de> Deserialize<'de> for RelabelConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawRelabel::deserialize(d)?;
        RelabelConfig::validate(raw).map_err(serde::de::Error::custom)
    }
}

impl RelabelConfig {
    fn validate(raw: RawRelabel) -> Result<RelabelConfig, String> {
        let action = raw.action.unwrap_or(Action::Replace);
        let defaults_only = raw.source_labels.is_none()
            && raw.target_label.is_none()
            && raw.modulus.is_none()
            && raw.separator.as_deref().is_none_or(|s| s == ";")
            && raw.replacement.as_deref().is_none_or(|s| s == "$1");
        let c = RelabelConfig {
            source_labels: raw.source_labels.clone().unwrap_or_default(),
            separator: raw.separator.clone().unwrap_or_else(|| ";".into()),
            regex: raw.regex.clone().unwrap_or_else(default_regex),
            modulus: raw.modulus.unwrap_or(0),
            target_label: raw.target_label.clone().unwrap_or_default(),
            replacement: raw.replacement.clone().unwrap_or_else(|| "$1".into()),
            action,
        };
        let name = action.name();
        if c.modulus == 0 && action == Action::Hashmod {
            return Err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        let needs_target = matches!(
            action,
            Action::Replace
                | Action::Hashmod
                | Action::Lowercase
                | Action::Uppercase
                | Action::Keepequal
                | Action::Dropequal
        );
        if needs_target && c.target_label.is_empty() {
            return Err(format!(
                "relabel configuration for {name} action requires 'target_label' value"
            ));
        }
        let invalid_target = || {
            Err(format!(
                "{:?} is invalid 'target_label' for {name} action",
                c.target_label
            ))
        };
        if matches!(
            action,
            Action::Replace | Action::Lowercase | Action::Uppercase
        ) && !relabel_target_ok(&c.target_label)
        {
            return invalid_target();
        }
        if matches!(action, Action::Lowercase | Action::Uppercase) && c.replacement != "$1" {
            return Err(format!("'replacement' can not be set for {name} action"));
        }
        if action == Action::Labelmap && !relabel_target_ok(&c.replacement) {
            return Err(format!(
                "{:?} is invalid 'replacement' for {name} action",
                c.replacement
            ));
        }
        if matches!(
            action,
            Action::Hashmod | Action::Keepequal | Action::Dropequal
        ) && !is_label_name(&c.target_label)
        {
            return invalid_target();
        }
        if matches!(action, Action::Labeldrop | Action::Labelkeep) && !defaults_only {
            return Err(format!(
                "{name} action requires only 'regex', and no other fields"
            ));
        }
        if matches!(action, Action::Keepequal | Action::Dropequal)
            && (raw.regex.is_some()
                || raw.modulus.is_some()
                || raw.separator.as_deref().is_some_and(|s| s != ";")
                || raw.replacement.as_deref().is_some_and(|s| s != "$1"))
        {
            return Err(format!(
                "{name} action requires only 'source_labels' and `target_label`, and no other fields"
            ));
        }
        Ok(c)
    }

    /// A rule from its parts (tests and built-in rules); validated as a file's would be.
    pub fn from_yaml(text: &str) -> Result<RelabelConfig, String> {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }
}

/// Applies `rules` in order. `None` when a rule dropped the label set (or it ended up
/// empty, which Prometheus treats as dropped).
pub fn process(labels: &Labels, rules: &[RelabelConfig]) -> Option<Labels> {
    let mut cur = labels.clone();
    for r in rules {
        cur = apply(cur, r)?;
    }
    if cur.0.is_empty() { None } else { Some(cur) }
}

fn apply(mut l: Labels, c: &RelabelConfig) -> Option<Labels> {
    let mut val = String::new();
    for (i, name) in c.source_labels.iter().enumerate() {
        if i > 0 {
            val.push_str(&c.separator);
        }
        val.push_str(l.get(name).unwrap_or(""));
    }
    match c.action {
        Action::Drop => {
            if c.regex.is_match(&val) {
                return None;
            }
        }
        Action::Keep => {
            if !c.regex.is_match(&val) {
                return None;
            }
        }
        Action::Dropequal => {
            if l.get(&c.target_label).unwrap_or("") == val {
                return None;
            }
        }
        Action::Keepequal => {
            if l.get(&c.target_label).unwrap_or("") != val {
                return None;
            }
        }
        Action::Replace => {
            if let Some(caps) = c.regex.re.captures(&val) {
                let mut target = String::new();
                caps.expand(&c.target_label, &mut target);
                if !is_label_name(&target) {
                    l.del(&c.target_label);
                } else {
                    let mut res = String::new();
                    caps.expand(&c.replacement, &mut res);
                    if res.is_empty() {
                        l.del(&c.target_label);
                    } else {
                        l.set(&target, &res);
                    }
                }
            }
        }
        Action::Lowercase => l.set(&c.target_label, &val.to_lowercase()),
        Action::Uppercase => l.set(&c.target_label, &val.to_uppercase()),
        Action::Hashmod => {
            let sum = Md5::digest(val.as_bytes());
            let mut low = [0u8; 8];
            low.copy_from_slice(&sum[8..16]);
            let m = u64::from_be_bytes(low) % c.modulus;
            l.set(&c.target_label, &m.to_string());
        }
        Action::Labelmap => {
            let mut out = l.clone();
            for (name, value) in &l.0 {
                if c.regex.is_match(name) {
                    let res = c.regex.re.replace_all(name, c.replacement.as_str());
                    out.set(&res, value);
                }
            }
            l = out;
        }
        Action::Labeldrop => l.0.retain(|(name, _)| !c.regex.is_match(name)),
        Action::Labelkeep => l.0.retain(|(name, _)| c.regex.is_match(name)),
    }
    Some(l)
}

#[cfg(test)]
mod tests;
