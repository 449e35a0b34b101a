//! The Prometheus server's own endpoints, answered while Strata runs in its place
//! (`--config.file`): `/api/v1/targets`, `/api/v1/rules`, `/api/v1/alerts`,
//! `/api/v1/alertmanagers`, `/-/healthy`, `/-/ready`, `/-/reload`.

use crate::app::{AppState, params};
use crate::prom_api::{PromResponse, first};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use strata_rules::api::{RuleType, alerts_json, rules_json};
use strata_scrape::api::{StateFilter, targets_json};

fn no_agent() -> PromResponse {
    PromResponse::error(
        "unavailable",
        "scraping and rules are off: start with --config.file prometheus.yml",
    )
}

/// `GET /api/v1/targets?state=active|dropped|any&scrapePool=…`
pub async fn targets(State(state): State<Arc<AppState>>, uri: Uri) -> PromResponse {
    let p = params(&uri);
    let Some(agent) = state.agent.get() else {
        return no_agent();
    };
    let filter = match first(&p, "state").map(str::to_ascii_lowercase).as_deref() {
        Some("active") => StateFilter::Active,
        Some("dropped") => StateFilter::Dropped,
        _ => StateFilter::Any,
    };
    let view = agent.scrape.targets();
    let data = targets_json(
        &view,
        filter,
        first(&p, "scrapePool").filter(|s| !s.is_empty()),
        &strata_scrape::gotime::hostname(),
        state.config.listen.port(),
    );
    PromResponse::data(&data.to_string(), &[])
}

/// `GET /api/v1/rules?type=alert|record`
pub async fn rules(State(state): State<Arc<AppState>>, uri: Uri) -> PromResponse {
    let p = params(&uri);
    let Some(agent) = state.agent.get() else {
        return no_agent();
    };
    let which = match first(&p, "type").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => RuleType::Any,
        Some("alert") => RuleType::Alerting,
        Some("record") => RuleType::Recording,
        Some(t) => {
            return PromResponse::bad_data(format!("not supported value {t:?}"));
        }
    };
    PromResponse::data(&rules_json(&agent.rules.groups(), which).to_string(), &[])
}

/// `GET /api/v1/alerts`
pub async fn alerts(State(state): State<Arc<AppState>>) -> PromResponse {
    let Some(agent) = state.agent.get() else {
        return no_agent();
    };
    PromResponse::data(&alerts_json(&agent.rules.groups()).to_string(), &[])
}

/// `GET /api/v1/alertmanagers`
pub async fn alertmanagers(State(state): State<Arc<AppState>>) -> PromResponse {
    let Some(agent) = state.agent.get() else {
        return no_agent();
    };
    let active: Vec<_> = agent
        .notifier
        .alertmanagers()
        .into_iter()
        .map(|u| json!({ "url": u }))
        .collect();
    PromResponse::data(
        &json!({"activeAlertmanagers": active, "droppedAlertmanagers": []}).to_string(),
        &[],
    )
}

/// `GET /-/healthy`
pub async fn healthy() -> Response {
    (StatusCode::OK, "Prometheus Server is Healthy.\n").into_response()
}

/// `GET /-/ready`: ready once the database is open (and the configuration loaded).
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let loaded = state.config.prometheus.is_none() || state.agent.get().is_some();
    if state.db().is_ok() && loaded {
        (StatusCode::OK, "Prometheus Server is Ready.\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
    }
}

/// `POST`/`PUT /-/reload`: only with `--web.enable-lifecycle`.
pub async fn reload(State(state): State<Arc<AppState>>) -> Response {
    let enabled = state
        .config
        .prometheus
        .as_ref()
        .is_some_and(|p| p.enable_lifecycle);
    if !enabled {
        return (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.").into_response();
    }
    let Some(agent) = state.agent.get() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    };
    match agent.reload().await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
    }
}
