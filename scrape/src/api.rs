//! `/api/v1/targets` in Prometheus 2.42's JSON.

use crate::gotime::rfc3339_nano;
use crate::manager::TargetsView;
use serde_json::{Map, Value, json};
use strata_query::promql::Labels;

fn labels(l: &Labels) -> Value {
    Value::Object(
        l.0.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

/// Which targets to list (`state=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    /// `active`.
    Active,
    /// `dropped`.
    Dropped,
    /// `any` or absent.
    Any,
}

/// Prometheus' `getGlobalURL`: a loopback host is replaced by this machine's name (and
/// scheme and port too when the target is this server itself).
pub fn global_url(url: &str, hostname: &str, own_port: u16) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let host = u
        .host_str()
        .unwrap_or("")
        .trim_matches(['[', ']'])
        .to_owned();
    if !["127.0.0.1", "localhost", "::1"].contains(&host.as_str()) {
        return url.to_owned();
    }
    let _ = u.set_host(Some(hostname));
    if u.port_or_known_default() == Some(own_port) {
        let _ = u.set_scheme("http");
    }
    u.to_string()
}

/// The `data` object of `/api/v1/targets`.
pub fn targets_json(
    view: &TargetsView,
    state: StateFilter,
    pool: Option<&str>,
    hostname: &str,
    own_port: u16,
) -> Value {
    let in_pool = |p: &str| pool.is_none_or(|want| want == p);
    let mut active: Vec<_> = view.active.iter().filter(|a| in_pool(&a.pool)).collect();
    active.sort_by(|a, b| (&a.pool, &a.target.url).cmp(&(&b.pool, &b.target.url)));
    let active: Vec<Value> = active
        .into_iter()
        .map(|a| {
            json!({
                "discoveredLabels": labels(&a.target.discovered),
                "labels": labels(&a.target.public_labels()),
                "scrapePool": a.pool,
                "scrapeUrl": a.target.url,
                "globalUrl": global_url(&a.target.url, hostname, own_port),
                "lastError": a.status.last_error,
                "lastScrape": rfc3339_nano(a.status.last_scrape),
                "lastScrapeDuration": a.status.last_duration,
                "health": a.status.health.as_str(),
                "scrapeInterval": a.target.interval.to_string(),
                "scrapeTimeout": a.target.timeout.to_string(),
            })
        })
        .collect();
    let dropped: Vec<Value> = view
        .dropped
        .iter()
        .filter(|(p, _)| in_pool(p))
        .map(|(_, d)| json!({"discoveredLabels": labels(&d.discovered)}))
        .collect();
    let mut m = Map::new();
    match state {
        StateFilter::Active => {
            m.insert("activeTargets".into(), Value::Array(active));
            m.insert("droppedTargets".into(), Value::Array(vec![]));
        }
        StateFilter::Dropped => {
            m.insert("activeTargets".into(), Value::Array(vec![]));
            m.insert("droppedTargets".into(), Value::Array(dropped));
        }
        StateFilter::Any => {
            m.insert("activeTargets".into(), Value::Array(active));
            m.insert("droppedTargets".into(), Value::Array(dropped));
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_urls_as_prometheus() {
        assert_eq!(
            global_url("http://127.0.0.1:9100/metrics", "box", 9090),
            "http://box:9100/metrics"
        );
        assert_eq!(
            global_url("http://10.1.2.3:9100/metrics", "box", 9090),
            "http://10.1.2.3:9100/metrics"
        );
    }
}
