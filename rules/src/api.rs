//! `/api/v1/rules` and `/api/v1/alerts` in Prometheus 2.42's JSON.

use crate::group::Group;
use crate::rule::{Alert, Rule};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use strata_query::promql::Labels;
use strata_scrape::gotime::{format_e, from_ms, rfc3339_nano};

fn labels(l: &Labels) -> Value {
    Value::Object(
        l.0.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

fn alert_json(a: &Alert) -> Value {
    json!({
        "labels": labels(&a.labels),
        "annotations": labels(&a.annotations),
        "state": a.state.as_str(),
        "activeAt": rfc3339_nano(Some(from_ms(a.active_at))),
        "value": format_e(a.value),
    })
}

fn last_eval(ms: Option<i64>) -> String {
    rfc3339_nano(ms.map(from_ms))
}

fn rule_json(r: &Rule) -> Value {
    let mut m = Map::new();
    if r.spec.alerting {
        m.insert("state".into(), json!(r.state().as_str()));
        m.insert("name".into(), json!(r.spec.name));
        m.insert("query".into(), json!(r.query()));
        m.insert("duration".into(), json!(r.spec.for_.secs_f64()));
        m.insert(
            "keepFiringFor".into(),
            json!(r.spec.keep_firing_for.secs_f64()),
        );
        m.insert(
            "labels".into(),
            labels(&Labels::from_pairs(r.spec.labels.clone())),
        );
        m.insert(
            "annotations".into(),
            labels(&Labels::from_pairs(r.spec.annotations.clone())),
        );
        m.insert(
            "alerts".into(),
            Value::Array(r.active_alerts().iter().map(alert_json).collect()),
        );
    } else {
        m.insert("name".into(), json!(r.spec.name));
        m.insert("query".into(), json!(r.query()));
        if !r.spec.labels.is_empty() {
            m.insert(
                "labels".into(),
                labels(&Labels::from_pairs(r.spec.labels.clone())),
            );
        }
    }
    m.insert("health".into(), json!(r.health.as_str()));
    if let Some(e) = &r.last_error {
        m.insert("lastError".into(), json!(e));
    }
    m.insert("evaluationTime".into(), json!(r.eval_seconds));
    m.insert("lastEvaluation".into(), json!(last_eval(r.last_eval)));
    m.insert(
        "type".into(),
        json!(if r.spec.alerting {
            "alerting"
        } else {
            "recording"
        }),
    );
    Value::Object(m)
}

/// Which rules `/api/v1/rules` lists (`type=alert|record`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleType {
    /// Both.
    Any,
    /// `alert`.
    Alerting,
    /// `record`.
    Recording,
}

/// The `data` of `/api/v1/rules`.
pub fn rules_json(groups: &[Arc<Group>], which: RuleType) -> Value {
    let out: Vec<Value> = groups
        .iter()
        .map(|g| {
            let st = g.state.lock();
            let rules: Vec<Value> = st
                .rules
                .iter()
                .filter(|r| match which {
                    RuleType::Any => true,
                    RuleType::Alerting => r.spec.alerting,
                    RuleType::Recording => !r.spec.alerting,
                })
                .map(rule_json)
                .collect();
            json!({
                "name": g.name,
                "file": g.file,
                "rules": rules,
                "interval": g.interval_ms as f64 / 1000.0,
                "limit": g.limit,
                "evaluationTime": st.eval_seconds,
                "lastEvaluation": last_eval(st.last_eval),
            })
        })
        .collect();
    json!({ "groups": out })
}

/// The `data` of `/api/v1/alerts`.
pub fn alerts_json(groups: &[Arc<Group>]) -> Value {
    let mut alerts = Vec::new();
    for g in groups {
        let st = g.state.lock();
        for r in st.rules.iter().filter(|r| r.spec.alerting) {
            alerts.extend(r.active_alerts().iter().map(alert_json));
        }
    }
    json!({ "alerts": alerts })
}
