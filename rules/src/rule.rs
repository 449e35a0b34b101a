//! One rule's evaluation: recording rules write their result back as series; alerting
//! rules keep alert state (pending → firing → resolved, `for`, `keep_firing_for`) and
//! produce the `ALERTS` and `ALERTS_FOR_STATE` series — Prometheus 2.42's
//! `RecordingRule.Eval` and `AlertingRule.Eval`, step for step.

use crate::file::{RuleSpec, with_defs};
use crate::template::{self, Data, Template};
use std::collections::{BTreeMap, HashMap};
use strata_engine::Db;
use strata_query::promql::{self, EvalOptions, Labels, QueryValue};

/// Resolved alerts are kept (and re-sent) this long, as in Prometheus.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    /// Resolved.
    Inactive,
    /// Active for less than `for`.
    Pending,
    /// Active for `for` or longer.
    Firing,
}

impl AlertState {
    /// `inactive`, `pending`, `firing`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of an alerting rule (times in ms).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Labels: the sample's without `__name__`, the rule's, `alertname`.
    pub labels: Labels,
    /// Rendered annotations.
    pub annotations: Labels,
    /// State.
    pub state: AlertState,
    /// The expression's value at the last evaluation.
    pub value: f64,
    /// When it became active.
    pub active_at: i64,
    /// When it started firing.
    pub fired_at: Option<i64>,
    /// When it was resolved.
    pub resolved_at: Option<i64>,
    /// When it was last sent to Alertmanager.
    pub last_sent_at: Option<i64>,
    /// `endsAt` while firing: four resend periods ahead.
    pub valid_until: i64,
    /// Since when it is kept firing by `keep_firing_for`.
    pub keep_firing_since: Option<i64>,
}

impl Alert {
    /// Prometheus' `needsSending`.
    pub fn needs_sending(&self, ts: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        if let Some(r) = self.resolved_at
            && self.last_sent_at.is_none_or(|s| r > s)
        {
            return true;
        }
        self.last_sent_at.is_none_or(|s| s + resend_delay_ms < ts)
    }
}

/// A rule's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    Unknown,
    /// The last evaluation worked.
    Good,
    /// The last evaluation failed.
    Bad,
}

impl Health {
    /// `unknown`, `ok`, `err`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Good => "ok",
            Health::Bad => "err",
        }
    }
}

/// What a rule evaluation needs besides the database.
#[derive(Debug, Clone)]
pub struct EvalEnv {
    /// PromQL settings.
    pub opts: EvalOptions,
    /// For templates.
    pub external_labels: Labels,
    /// For templates and generator URLs.
    pub external_url: String,
}

/// A loaded rule and its state.
#[derive(Debug)]
pub struct Rule {
    /// As written.
    pub spec: RuleSpec,
    label_templates: Vec<(String, Template)>,
    annotation_templates: Vec<(String, Template)>,
    /// Health of the last evaluation.
    pub health: Health,
    /// Error of the last evaluation.
    pub last_error: Option<String>,
    /// When it was last evaluated (ms).
    pub last_eval: Option<i64>,
    /// How long that took (s).
    pub eval_seconds: f64,
    /// Alerts by label set.
    pub active: HashMap<Labels, Alert>,
    /// Whether `for` state has been restored (ALERTS series are written only then).
    pub restored: bool,
}

impl Rule {
    /// Compiles a checked rule (templates were checked when the file loaded).
    pub fn new(spec: RuleSpec, restored: bool) -> Rule {
        let tname = format!("__alert_{}", spec.name);
        let compile = |m: &BTreeMap<String, String>| -> Vec<(String, Template)> {
            m.iter()
                .filter_map(|(k, v)| {
                    template::parse(&tname, &with_defs(v))
                        .ok()
                        .map(|t| (k.clone(), t))
                })
                .collect()
        };
        let (label_templates, annotation_templates) = if spec.alerting {
            (compile(&spec.labels), compile(&spec.annotations))
        } else {
            (Vec::new(), Vec::new())
        };
        Rule {
            spec,
            label_templates,
            annotation_templates,
            health: Health::Unknown,
            last_error: None,
            last_eval: None,
            eval_seconds: 0.0,
            active: HashMap::new(),
            restored,
        }
    }

    /// The rule's query, printed as Prometheus prints it.
    pub fn query(&self) -> String {
        self.spec.expr.to_string()
    }

    /// Evaluates at `ts`: the samples to write (ms timestamps), or an error.
    pub fn eval(
        &mut self,
        db: &Db,
        ts: i64,
        env: &EvalEnv,
        limit: u64,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let vector = query_vector(db, &self.spec.expr, ts, &env.opts)?;
        if self.spec.alerting {
            self.eval_alerting(vector, ts, env, limit)
        } else {
            self.eval_recording(vector, limit)
        }
    }

    fn eval_recording(
        &self,
        vector: Vec<(Labels, f64)>,
        limit: u64,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let mut out = Vec::with_capacity(vector.len());
        let mut seen = std::collections::HashSet::new();
        for (mut l, v) in vector {
            l.set("__name__", &self.spec.name);
            for (k, val) in &self.spec.labels {
                l.set(k, val);
            }
            if !seen.insert(l.clone()) {
                return Err(
                    "vector contains metrics with the same labelset after applying rule labels"
                        .into(),
                );
            }
            out.push((l, v));
        }
        if limit > 0 && out.len() as u64 > limit {
            return Err(format!(
                "exceeded limit of {limit} with {} series",
                out.len()
            ));
        }
        Ok(out)
    }

    fn expand(&self, t: &Template, data: &Data) -> String {
        template::expand(t, data).unwrap_or_else(|e| {
            tracing::warn!("expanding alert template of {} failed: {e}", self.spec.name);
            format!("<error expanding template: {e}>")
        })
    }

    fn eval_alerting(
        &mut self,
        vector: Vec<(Labels, f64)>,
        ts: i64,
        env: &EvalEnv,
        limit: u64,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let external: BTreeMap<String, String> = env.external_labels.0.iter().cloned().collect();
        let mut fresh: HashMap<Labels, Alert> = HashMap::new();
        for (l, v) in vector {
            let data = Data {
                labels: l.0.iter().cloned().collect(),
                external_labels: external.clone(),
                external_url: env.external_url.clone(),
                value: v,
            };
            let mut lb = l.without_name();
            for (k, t) in &self.label_templates {
                let val = self.expand(t, &data);
                lb.set(k, &val);
            }
            lb.set("alertname", &self.spec.name);
            let annotations = Labels::from_pairs(
                self.annotation_templates
                    .iter()
                    .map(|(k, t)| (k.clone(), self.expand(t, &data))),
            );
            if fresh.contains_key(&lb) {
                self.health = Health::Bad;
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                );
            }
            fresh.insert(
                lb.clone(),
                Alert {
                    labels: lb,
                    annotations,
                    state: AlertState::Pending,
                    value: v,
                    active_at: ts,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: 0,
                    keep_firing_since: None,
                },
            );
        }
        let result_keys: std::collections::HashSet<Labels> = fresh.keys().cloned().collect();
        for (k, a) in fresh {
            match self.active.get_mut(&k) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = a.value;
                    old.annotations = a.annotations;
                }
                _ => {
                    self.active.insert(k, a);
                }
            }
        }
        let hold = self.spec.for_.ms();
        let keep_for = self.spec.keep_firing_for.ms();
        let mut out = Vec::new();
        let mut active_pending = 0usize;
        let mut remove = Vec::new();
        let mut keys: Vec<Labels> = self.active.keys().cloned().collect();
        keys.sort();
        for k in keys {
            let Some(a) = self.active.get_mut(&k) else {
                continue;
            };
            if !result_keys.contains(&k) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && keep_for > 0 {
                    let since = *a.keep_firing_since.get_or_insert(ts);
                    keep_firing = ts - since < keep_for;
                }
                if !keep_firing {
                    if a.state == AlertState::Pending
                        || a.resolved_at
                            .is_some_and(|r| ts - r > RESOLVED_RETENTION_MS)
                    {
                        remove.push(k.clone());
                    }
                    if a.state != AlertState::Inactive {
                        a.state = AlertState::Inactive;
                        a.resolved_at = Some(ts);
                    }
                    continue;
                }
            } else {
                a.keep_firing_since = None;
            }
            active_pending += 1;
            if a.state == AlertState::Pending && ts - a.active_at >= hold {
                a.state = AlertState::Firing;
                a.fired_at = Some(ts);
            }
            if self.restored {
                let mut s = a.labels.clone();
                s.set("__name__", "ALERTS");
                s.set("alertstate", a.state.as_str());
                out.push((s, 1.0));
                let mut f = a.labels.clone();
                f.set("__name__", "ALERTS_FOR_STATE");
                out.push((f, (a.active_at.div_euclid(1000)) as f64));
            }
        }
        for k in remove {
            self.active.remove(&k);
        }
        if limit > 0 && active_pending as u64 > limit {
            self.active.clear();
            return Err(format!(
                "exceeded limit of {limit} with {active_pending} alerts"
            ));
        }
        Ok(out)
    }

    /// Alerts to send at `ts`, marking them sent (Prometheus' `sendAlerts`).
    pub fn alerts_to_send(
        &mut self,
        ts: i64,
        resend_delay_ms: i64,
        interval_ms: i64,
    ) -> Vec<Alert> {
        let delta = resend_delay_ms.max(interval_ms);
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if a.needs_sending(ts, resend_delay_ms) {
                a.last_sent_at = Some(ts);
                a.valid_until = ts + 4 * delta;
                out.push(a.clone());
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// Alerts that are pending or firing, sorted by labels.
    pub fn active_alerts(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self
            .active
            .values()
            .filter(|a| a.state != AlertState::Inactive)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// The highest state of its alerts.
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }
}

/// Runs `expr` at `ts` as a rule query: a vector, a scalar as one unlabelled sample, an
/// error otherwise.
pub fn query_vector(
    db: &Db,
    expr: &promql::ast::Expr,
    ts: i64,
    opts: &EvalOptions,
) -> Result<Vec<(Labels, f64)>, String> {
    match promql::instant(db, expr, ts, opts).map_err(|e| e.to_string())? {
        QueryValue::Vector { samples, .. } => Ok(samples),
        QueryValue::Scalar { v, .. } => Ok(vec![(Labels::default(), v)]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}
