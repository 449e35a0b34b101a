//! A rule group: its rules evaluated in order at one timestamp, results written to the
//! database, series that a rule stopped producing marked stale, alerts handed to the
//! notifier, and — once after a start — `for` state restored from `ALERTS_FOR_STATE`.

use crate::file::GroupSpec;
use crate::rule::{Alert, AlertState, EvalEnv, Rule};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::time::Instant;
use strata_engine::Db;
use strata_query::promql::{self, EvalOptions, Labels, QueryValue, STALE_NAN_BITS};
use strata_scrape::scrape_loop::point;

/// Prometheus' defaults for restoring `for` state.
pub const OUTAGE_TOLERANCE_MS: i64 = 3_600_000;
/// Alerts with a shorter `for` are not restored; restored ones wait at least this long.
pub const FOR_GRACE_PERIOD_MS: i64 = 600_000;

/// What a group's evaluation hands to the notifier: the rule's query and its alerts.
pub type Notify<'a> = &'a (dyn Fn(&str, Vec<Alert>) + Sync);

/// Mutable state of a group.
#[derive(Debug)]
pub struct GroupState {
    /// The rules, in file order.
    pub rules: Vec<Rule>,
    /// Per rule, the series it wrote last time (for staleness).
    pub prev_series: Vec<HashSet<Labels>>,
    /// Last evaluation (ms) and its duration (s).
    pub last_eval: Option<i64>,
    /// Seconds the last evaluation took.
    pub eval_seconds: f64,
}

/// A loaded group.
#[derive(Debug)]
pub struct Group {
    /// As written.
    pub name: String,
    /// Its file.
    pub file: String,
    /// Evaluation interval (ms).
    pub interval_ms: i64,
    /// `limit`.
    pub limit: u64,
    /// State, locked while evaluating.
    pub state: Mutex<GroupState>,
}

impl Group {
    /// A group from its spec; `restored` is false only for groups loaded at startup,
    /// which restore `for` state after their second evaluation.
    pub fn new(spec: GroupSpec, default_interval_ms: i64, restored: bool) -> Group {
        let n = spec.rules.len();
        Group {
            name: spec.name,
            file: spec.file,
            interval_ms: spec.interval.map_or(default_interval_ms, |d| d.ms()).max(1),
            limit: spec.limit,
            state: Mutex::new(GroupState {
                rules: spec
                    .rules
                    .into_iter()
                    .map(|r| Rule::new(r, restored))
                    .collect(),
                prev_series: vec![HashSet::new(); n],
                last_eval: None,
                eval_seconds: 0.0,
            }),
        }
    }

    /// Prometheus' group hash (labels `name`, `file`), which places its evaluations.
    pub fn hash(&self) -> u64 {
        let l = Labels::from_pairs([
            ("file".to_owned(), self.file.clone()),
            ("name".to_owned(), self.name.clone()),
        ]);
        strata_scrape::target::labels_hash(&l)
    }

    /// The evaluation time at or before `now_ns` (Prometheus' `EvalTimestamp`), in ms.
    pub fn eval_timestamp(&self, now_ns: i64) -> i64 {
        let interval = self.interval_ms.saturating_mul(1_000_000);
        let offset = (self.hash() % interval as u64) as i64;
        let adj = now_ns - offset;
        let base = adj - adj.rem_euclid(interval);
        (base + offset).div_euclid(1_000_000)
    }

    /// Takes over alert state and staleness memory from the group it replaces (same
    /// file and name): rules are matched by name and labels, as Prometheus does.
    pub fn copy_state(&self, old: &Group) {
        let mut new = self.state.lock();
        let mut old = old.state.lock();
        new.last_eval = old.last_eval;
        new.eval_seconds = old.eval_seconds;
        let mut taken = vec![false; old.rules.len()];
        for i in 0..new.rules.len() {
            let key = (&new.rules[i].spec.name, &new.rules[i].spec.labels);
            let Some(j) = (0..old.rules.len()).find(|&j| {
                !taken[j] && (&old.rules[j].spec.name, &old.rules[j].spec.labels) == key
            }) else {
                continue;
            };
            taken[j] = true;
            new.prev_series[i] = std::mem::take(&mut old.prev_series[j]);
            let o = &mut old.rules[j];
            let n = &mut new.rules[i];
            n.health = o.health;
            n.last_error = o.last_error.clone();
            n.last_eval = o.last_eval;
            n.eval_seconds = o.eval_seconds;
            if n.spec.alerting && o.spec.alerting {
                n.active = std::mem::take(&mut o.active);
                n.restored = n.restored || o.restored;
            }
        }
    }

    /// Evaluates every rule at `ts` (ms), writes results and staleness markers, and hands
    /// alerts to `notify`.
    pub fn eval(&self, db: &Db, ts: i64, env: &EvalEnv, resend_delay_ms: i64, notify: Notify<'_>) {
        let started = Instant::now();
        let mut st = self.state.lock();
        let mut points = Vec::new();
        let GroupState {
            rules, prev_series, ..
        } = &mut *st;
        for (i, rule) in rules.iter_mut().enumerate() {
            let t0 = Instant::now();
            let res = rule.eval(db, ts, env, self.limit);
            rule.last_eval = Some(ts);
            rule.eval_seconds = t0.elapsed().as_secs_f64();
            let vector = match res {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!("rule {} of group {} failed: {e}", rule.spec.name, self.name);
                    rule.health = crate::rule::Health::Bad;
                    rule.last_error = Some(e);
                    continue;
                }
            };
            rule.health = crate::rule::Health::Good;
            rule.last_error = None;
            if rule.spec.alerting {
                let alerts = rule.alerts_to_send(ts, resend_delay_ms, self.interval_ms);
                if !alerts.is_empty() {
                    notify(&rule.query(), alerts);
                }
            }
            let mut returned = HashSet::with_capacity(vector.len());
            for (l, v) in vector {
                if let Some(p) = point(&l, v, ts) {
                    points.push(p);
                }
                returned.insert(l);
            }
            for gone in prev_series[i].difference(&returned) {
                if let Some(p) = point(gone, f64::from_bits(STALE_NAN_BITS), ts) {
                    points.push(p);
                }
            }
            prev_series[i] = returned;
        }
        st.last_eval = Some(ts);
        st.eval_seconds = started.elapsed().as_secs_f64();
        drop(st);
        if !points.is_empty()
            && let Err(e) = db.write_points(&points)
        {
            tracing::warn!("group {}: writing rule results failed: {e}", self.name);
        }
    }

    /// Marks every series the group wrote stale at `ts` (the group was removed).
    pub fn mark_stale(&self, db: &Db, ts: i64) {
        let mut st = self.state.lock();
        let mut points = Vec::new();
        for set in st.prev_series.iter_mut() {
            for l in set.drain() {
                if let Some(p) = point(&l, f64::from_bits(STALE_NAN_BITS), ts) {
                    points.push(p);
                }
            }
        }
        drop(st);
        if !points.is_empty()
            && let Err(e) = db.write_points(&points)
        {
            tracing::warn!("group {}: writing staleness markers failed: {e}", self.name);
        }
    }

    /// Prometheus' `RestoreForState` at `ts` (ms): pending alerts of rules with a `for`
    /// of at least the grace period take their `ActiveAt` from `ALERTS_FOR_STATE`.
    pub fn restore_for_state(&self, db: &Db, ts: i64, opts: &EvalOptions) {
        let mut st = self.state.lock();
        let mut lookback = opts.clone();
        lookback.lookback_ms = OUTAGE_TOLERANCE_MS;
        for rule in st.rules.iter_mut().filter(|r| r.spec.alerting) {
            let hold = rule.spec.for_.ms();
            if hold < FOR_GRACE_PERIOD_MS {
                rule.restored = true;
                continue;
            }
            for a in rule.active.values_mut() {
                let mut sel = String::from("ALERTS_FOR_STATE{");
                for (i, (k, v)) in a.labels.0.iter().enumerate() {
                    if i > 0 {
                        sel.push(',');
                    }
                    sel.push_str(&format!("{k}={}", promql::ast::quote(v)));
                }
                sel.push('}');
                let value = one_value(db, &sel, ts, &lookback);
                let at = one_value(db, &format!("timestamp({sel})"), ts, &lookback);
                let (Some(active_s), Some(down_s)) = (value, at) else {
                    continue;
                };
                let restored_active = (active_s as i64) * 1000;
                let down_at = (down_s as i64) * 1000;
                let spent = down_at - restored_active;
                let remaining = hold - spent;
                let new_active = if remaining <= 0 {
                    restored_active
                } else if remaining < FOR_GRACE_PERIOD_MS {
                    ts + FOR_GRACE_PERIOD_MS - hold
                } else {
                    restored_active + (ts - down_at)
                };
                a.active_at = new_active;
                if a.state == AlertState::Inactive {
                    continue;
                }
                tracing::info!("restored for-state of {} to {new_active}", a.labels);
            }
            rule.restored = true;
        }
    }
}

fn one_value(db: &Db, q: &str, ts: i64, opts: &EvalOptions) -> Option<f64> {
    let expr = promql::parse_expr(q).ok()?;
    match promql::instant(db, &expr, ts, opts).ok()? {
        QueryValue::Vector { samples, .. } => samples.first().map(|s| s.1),
        _ => None,
    }
}
