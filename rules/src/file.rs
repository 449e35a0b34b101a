//! Prometheus rule files: parsed and checked as `promtool check rules` checks them, with
//! its messages (`FILE: group "g", rule 2, "name": invalid field 'for' in recording
//! rule`). Unknown keys are errors naming the key and line.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use strata_query::promql::ast::Expr;
use strata_scrape::duration::PromDuration;
use strata_scrape::relabel::{is_label_name, is_metric_name};

/// A rule file that does not load: every problem, each naming file, group and rule.
#[derive(Debug, thiserror::Error)]
#[error("{}", .errors.join("\n"))]
pub struct RuleFileError {
    /// One line per problem, `FILE: …`.
    pub errors: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    groups: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    name: String,
    interval: Option<PromDuration>,
    #[serde(default)]
    limit: u64,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    record: String,
    #[serde(default)]
    alert: String,
    #[serde(default)]
    expr: String,
    #[serde(default, rename = "for")]
    for_: Option<PromDuration>,
    #[serde(default)]
    keep_firing_for: Option<PromDuration>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// A checked group.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    /// Name, unique in its file.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// Evaluation interval, when the group sets one.
    pub interval: Option<PromDuration>,
    /// Most series (recording) or alerts (alerting) a rule may produce; 0: no limit.
    pub limit: u64,
    /// Rules in order.
    pub rules: Vec<RuleSpec>,
}

/// A checked rule.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// `record` or `alert` name.
    pub name: String,
    /// Alerting (true) or recording.
    pub alerting: bool,
    /// The expression as written.
    pub expr_text: String,
    /// Parsed.
    pub expr: Expr,
    /// `for`.
    pub for_: PromDuration,
    /// `keep_firing_for`.
    pub keep_firing_for: PromDuration,
    /// Labels (templates for alerts).
    pub labels: BTreeMap<String, String>,
    /// Annotations (alerts only).
    pub annotations: BTreeMap<String, String>,
}

/// Reads and checks one rule file.
pub fn load_file(path: &Path) -> Result<Vec<GroupSpec>, RuleFileError> {
    let name = path.to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).map_err(|e| RuleFileError {
        errors: vec![format!("{name}: {e}")],
    })?;
    parse_file(&text, &name)
}

/// Checks rule-file text as if read from `name`.
pub fn parse_file(text: &str, name: &str) -> Result<Vec<GroupSpec>, RuleFileError> {
    let raw: RawFile = if text.trim().is_empty() {
        RawFile { groups: Vec::new() }
    } else {
        serde_yaml::from_str(text).map_err(|e| {
            let mut msg = e.to_string();
            if let Some(loc) = e.location()
                && !msg.contains(" at line ")
            {
                msg = format!("{msg} at line {} column {}", loc.line(), loc.column());
            }
            RuleFileError {
                errors: vec![format!("{name}: {msg}")],
            }
        })?
    };
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut groups = Vec::new();
    for g in raw.groups {
        if g.name.is_empty() {
            errors.push(format!("{name}: Groupname must not be empty"));
        } else if !seen.insert(g.name.clone()) {
            errors.push(format!(
                "{name}: groupname: {:?} is repeated in the same file",
                g.name
            ));
        }
        let mut rules = Vec::new();
        for (i, r) in g.rules.into_iter().enumerate() {
            let rule_name = if r.alert.is_empty() {
                &r.record
            } else {
                &r.alert
            };
            let at = format!(
                "{name}: group {:?}, rule {}, {:?}",
                g.name,
                i + 1,
                rule_name
            );
            let mut problems = Vec::new();
            if !r.record.is_empty() && !r.alert.is_empty() {
                problems.push("only one of 'record' and 'alert' must be set".to_owned());
            }
            if r.record.is_empty() && r.alert.is_empty() {
                problems.push("one of 'record' or 'alert' must be set".to_owned());
            }
            let expr = if r.expr.is_empty() {
                problems.push("field 'expr' must be set in rule".to_owned());
                None
            } else {
                match strata_query::promql::parse_expr(&r.expr) {
                    Ok(e) => Some(e),
                    Err(e) => {
                        problems.push(format!("could not parse expression: {e}"));
                        None
                    }
                }
            };
            if !r.record.is_empty() {
                if !r.annotations.is_empty() {
                    problems.push("invalid field 'annotations' in recording rule".to_owned());
                }
                if r.for_.is_some_and(|d| d.ms() != 0) {
                    problems.push("invalid field 'for' in recording rule".to_owned());
                }
                if r.keep_firing_for.is_some_and(|d| d.ms() != 0) {
                    problems.push("invalid field 'keep_firing_for' in recording rule".to_owned());
                }
                if !is_metric_name(&r.record) {
                    problems.push(format!("invalid recording rule name: {}", r.record));
                }
            }
            for k in r.labels.keys() {
                if !is_label_name(k) || k == "__name__" {
                    problems.push(format!("invalid label name: {k}"));
                }
            }
            for k in r.annotations.keys() {
                if !is_label_name(k) {
                    problems.push(format!("invalid annotation name: {k}"));
                }
            }
            if !r.alert.is_empty() {
                let tname = format!("__alert_{}", r.alert);
                for (k, v) in &r.labels {
                    if let Err(e) = crate::template::parse(&tname, &with_defs(v)) {
                        problems.push(format!("label {k:?}: {}", strip_defs_line(e)));
                    }
                }
                for (k, v) in &r.annotations {
                    if let Err(e) = crate::template::parse(&tname, &with_defs(v)) {
                        problems.push(format!("annotation {k:?}: {}", strip_defs_line(e)));
                    }
                }
            }
            if !problems.is_empty() {
                errors.extend(problems.into_iter().map(|p| format!("{at}: {p}")));
                continue;
            }
            let Some(expr) = expr else { continue };
            rules.push(RuleSpec {
                name: rule_name.clone(),
                alerting: !r.alert.is_empty(),
                expr_text: r.expr,
                expr,
                for_: r.for_.unwrap_or_default(),
                keep_firing_for: r.keep_firing_for.unwrap_or_default(),
                labels: r.labels,
                annotations: r.annotations,
            });
        }
        groups.push(GroupSpec {
            name: g.name,
            file: name.to_owned(),
            interval: g.interval.filter(|d| d.ms() != 0),
            limit: g.limit,
            rules,
        });
    }
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(RuleFileError { errors })
    }
}

/// The definitions Prometheus puts in front of every alert template. They share the
/// template's first line, so line numbers are unchanged.
pub const TEMPLATE_DEFS: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// `text` with [`TEMPLATE_DEFS`] in front.
pub fn with_defs(text: &str) -> String {
    format!("{TEMPLATE_DEFS}{text}")
}

fn strip_defs_line(e: crate::template::TemplateError) -> String {
    e.to_string()
}

/// Expands the rule-file globs of a configuration into files, sorted, as Prometheus does.
pub fn expand_globs(patterns: &[String]) -> Result<Vec<std::path::PathBuf>, String> {
    let mut out = Vec::new();
    for p in patterns {
        let found = glob::glob(p).map_err(|e| format!("invalid rule file pattern {p:?}: {e}"))?;
        let mut files: Vec<_> = found.flatten().collect();
        files.sort();
        out.extend(files);
    }
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_file_group_and_rule() {
        // The cases and wording of `promtool check rules` (Prometheus 2.42).
        let text = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n      - record: b\n        expr: up\n        annotations: {x: y}\n      - record: 'bad name'\n        expr: up\n      - alert: C\n        expr: up\n        labels: {\"__name__\": x}\n        annotations: {s: '{{ $labels.x '}\n  - name: g\n    rules: []\n";
        let e = parse_file(text, "bad.yml").unwrap_err();
        assert_eq!(
            e.errors,
            vec![
                "bad.yml: group \"g\", rule 1, \"A\": could not parse expression: 1:6: parse error: unexpected end of input",
                "bad.yml: group \"g\", rule 2, \"b\": invalid field 'annotations' in recording rule",
                "bad.yml: group \"g\", rule 3, \"bad name\": invalid recording rule name: bad name",
                "bad.yml: group \"g\", rule 4, \"C\": invalid label name: __name__",
                "bad.yml: group \"g\", rule 4, \"C\": annotation \"s\": template: __alert_C:1: unclosed action",
                "bad.yml: groupname: \"g\" is repeated in the same file",
            ]
        );
        let e = parse_file(
            "groups: [{name: x, rules: [{record: y, expr: up, for: 1m}]}]",
            "f",
        )
        .unwrap_err();
        assert_eq!(
            e.errors,
            vec!["f: group \"x\", rule 1, \"y\": invalid field 'for' in recording rule"]
        );
        let e = parse_file("groups:\n- name: g\n  rules:\n  - alert: D\n    record: x\n    expr: up\n- name: ''\n  rules: [{expr: up}]\n", "f").unwrap_err();
        assert_eq!(
            e.errors,
            vec![
                "f: group \"g\", rule 1, \"D\": only one of 'record' and 'alert' must be set",
                "f: Groupname must not be empty",
                "f: group \"\", rule 1, \"\": one of 'record' or 'alert' must be set",
            ]
        );
        let e = parse_file(
            "groups:\n- name: g\n  rules:\n  - alert: D\n    expr: up\n    foo: bar\n",
            "f",
        )
        .unwrap_err();
        assert!(
            e.errors[0].contains("unknown field `foo`") && e.errors[0].contains("line 6"),
            "{e}"
        );
        let e = parse_file(
            "groups: [{name: g, rules: [{alert: A, expr: up, annotations: {s: '{{ nosuch }}'}}]}]",
            "f",
        )
        .unwrap_err();
        assert!(
            e.errors[0].ends_with(
                "annotation \"s\": template: __alert_A:1: function \"nosuch\" not defined"
            ),
            "{e}"
        );
    }

    #[test]
    fn good_files_load() {
        assert!(parse_file("", "empty.yml").unwrap().is_empty());
        let g = parse_file("groups:\n- name: g\n  interval: 10s\n  limit: 5\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n    labels: {a: b}\n  - alert: Down\n    expr: up == 0\n    for: 5m\n    keep_firing_for: 1m\n    labels: {severity: page}\n    annotations: {summary: '{{ $labels.instance }} down ({{ $value | humanize }})'}\n", "ok.yml").unwrap();
        assert_eq!(g[0].interval, Some(PromDuration(10_000)));
        assert_eq!(g[0].limit, 5);
        assert_eq!(g[0].rules.len(), 2);
        assert!(g[0].rules[1].alerting);
        assert_eq!(g[0].rules[1].for_, PromDuration(300_000));
    }
}
