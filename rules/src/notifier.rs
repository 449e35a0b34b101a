//! Sending alerts to Alertmanager (`POST /api/v2/alerts`), as Prometheus 2.42's notifier
//! does: external labels added where missing, `alert_relabel_configs` applied, a
//! bounded queue (oldest alerts dropped, and counted, when full), batches of 64 posted
//! to every Alertmanager at once. Sending never blocks rule evaluation: [`Notifier::send`]
//! only queues. A failed post is counted as an error; the alerts are posted again at
//! their next resend (`resend_delay`, 1m by default) while they fire, which is how
//! Prometheus retries.

use crate::rule::{Alert, AlertState};
use parking_lot::{Mutex, RwLock};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use strata_query::promql::Labels;
use strata_scrape::config::{AlertingConfig, AlertmanagerConfig, HttpClientConfig};
use strata_scrape::discovery::{read_file, static_groups};
use strata_scrape::gotime::{from_ms, rfc3339_nano};
use strata_scrape::relabel::{RelabelConfig, process};
use tokio::sync::Notify;

/// Prometheus' `--alertmanager.notification-queue-capacity` default.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;
/// Alerts per POST.
pub const MAX_BATCH: usize = 64;

/// One alert as Alertmanager's v2 API takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AmAlert {
    /// Labels (external labels and relabelling applied).
    pub labels: Labels,
    /// Annotations.
    pub annotations: Labels,
    /// ms
    pub starts_at: i64,
    /// ms
    pub ends_at: i64,
    /// Link back to the expression.
    pub generator_url: String,
}

impl AmAlert {
    fn to_json(&self) -> Value {
        let map = |l: &Labels| -> Value {
            Value::Object(
                l.0.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        };
        json!({
            "labels": map(&self.labels),
            "annotations": map(&self.annotations),
            "startsAt": rfc3339_nano(Some(from_ms(self.starts_at))),
            "endsAt": rfc3339_nano(Some(from_ms(self.ends_at))),
            "generatorURL": self.generator_url,
        })
    }
}

/// Prometheus' `sendAlerts`: a rule's alerts as Alertmanager alerts.
pub fn to_am_alerts(expr: &str, alerts: Vec<Alert>, external_url: &str) -> Vec<AmAlert> {
    alerts
        .into_iter()
        .map(|a| AmAlert {
            starts_at: a.fired_at.unwrap_or(a.active_at),
            ends_at: match (a.state, a.resolved_at) {
                (AlertState::Inactive, Some(r)) => r,
                _ => a.valid_until,
            },
            labels: a.labels,
            annotations: a.annotations,
            generator_url: format!(
                "{external_url}/graph?g0.expr={}&g0.tab=1",
                crate::template::url_escape(expr)
            ),
        })
        .collect()
}

/// An Alertmanager to post to.
#[derive(Debug, Clone)]
struct Target {
    url: String,
    http: HttpClientConfig,
    client: reqwest::Client,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct NotifierMetrics {
    /// Alerts posted successfully (per Alertmanager).
    pub sent: AtomicU64,
    /// Alerts whose post failed (per Alertmanager).
    pub errors: AtomicU64,
    /// Alerts dropped because the queue was full.
    pub dropped: AtomicU64,
}

/// The queue and its sender.
pub struct Notifier {
    queue: Mutex<VecDeque<AmAlert>>,
    capacity: usize,
    more: Notify,
    targets: RwLock<Vec<Target>>,
    relabel: RwLock<Vec<RelabelConfig>>,
    external_labels: RwLock<Labels>,
    /// Counters.
    pub metrics: NotifierMetrics,
}

impl Notifier {
    /// An idle notifier with a queue of `capacity` alerts.
    pub fn new(capacity: usize) -> Arc<Notifier> {
        Arc::new(Notifier {
            queue: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            more: Notify::new(),
            targets: RwLock::new(Vec::new()),
            relabel: RwLock::new(Vec::new()),
            external_labels: RwLock::new(Labels::default()),
            metrics: NotifierMetrics::default(),
        })
    }

    /// Takes the `alerting` section and external labels of a (re)loaded configuration.
    pub fn apply(&self, cfg: &AlertingConfig, external: &Labels) -> Result<(), String> {
        let mut targets = Vec::new();
        for am in &cfg.alertmanagers {
            targets.extend(alertmanager_urls(am)?);
        }
        *self.targets.write() = targets;
        *self.relabel.write() = cfg.alert_relabel_configs.clone();
        *self.external_labels.write() = external.clone();
        Ok(())
    }

    /// The Alertmanager URLs alerts go to.
    pub fn alertmanagers(&self) -> Vec<String> {
        self.targets.read().iter().map(|t| t.url.clone()).collect()
    }

    /// Queues alerts (never blocks): external labels and relabelling first; when the
    /// queue is full the oldest alerts go, counted in `dropped`.
    pub fn send(&self, alerts: Vec<AmAlert>) {
        let ext = self.external_labels.read().clone();
        let relabel = self.relabel.read().clone();
        let mut ready: Vec<AmAlert> = alerts
            .into_iter()
            .filter_map(|mut a| {
                for (k, v) in &ext.0 {
                    if a.labels.get(k).is_none() {
                        a.labels.set(k, v);
                    }
                }
                a.labels = process(&a.labels, &relabel)?;
                Some(a)
            })
            .collect();
        if ready.is_empty() {
            return;
        }
        if ready.len() > self.capacity {
            let d = ready.len() - self.capacity;
            ready.drain(..d);
            self.metrics.dropped.fetch_add(d as u64, Ordering::Relaxed);
            tracing::warn!("alert batch larger than queue capacity, dropping {d} alerts");
        }
        let mut q = self.queue.lock();
        let over = (q.len() + ready.len()).saturating_sub(self.capacity);
        if over > 0 {
            q.drain(..over);
            self.metrics
                .dropped
                .fetch_add(over as u64, Ordering::Relaxed);
            tracing::warn!("alert notification queue full, dropping {over} alerts");
        }
        q.extend(ready);
        drop(q);
        self.more.notify_one();
    }

    /// Alerts waiting.
    pub fn queue_len(&self) -> usize {
        self.queue.lock().len()
    }

    /// Posts queued alerts until `stop` fires.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let batch: Vec<AmAlert> = {
                let mut q = self.queue.lock();
                let n = q.len().min(MAX_BATCH);
                q.drain(..n).collect()
            };
            if batch.is_empty() {
                tokio::select! {
                    () = async { let _ = stop.wait_for(|s| *s).await; } => return,
                    () = self.more.notified() => continue,
                }
            }
            let targets = self.targets.read().clone();
            if targets.is_empty() {
                continue;
            }
            let body = Value::Array(batch.iter().map(AmAlert::to_json).collect()).to_string();
            let posts = targets.iter().map(|t| post(t, body.clone()));
            let results = futures_join(posts).await;
            let n = batch.len() as u64;
            for (t, r) in targets.iter().zip(results) {
                match r {
                    Ok(()) => {
                        self.metrics.sent.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(e) => {
                        self.metrics.errors.fetch_add(n, Ordering::Relaxed);
                        tracing::warn!("error sending {n} alerts to {}: {e}", t.url);
                    }
                }
            }
        }
    }
}

async fn futures_join<F: std::future::Future<Output = Result<(), String>> + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<Result<(), String>> {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap_or_else(|e| Err(e.to_string())));
    }
    out
}

fn post(
    t: &Target,
    body: String,
) -> impl std::future::Future<Output = Result<(), String>> + Send + 'static {
    let mut req = t
        .client
        .post(&t.url)
        .header("Content-Type", "application/json")
        .body(body);
    let auth = t.http.auth_header();
    let url = t.url.clone();
    async move {
        match auth {
            Ok(Some(h)) => req = req.header("Authorization", h),
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        let resp = req.send().await.map_err(|e| format!("Post {url:?}: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("bad response status {status}"));
        }
        Ok(())
    }
}

/// The alerts URLs of one `alertmanagers` entry: its static and file targets,
/// relabelled, as `scheme://address/path_prefix/api/v2/alerts`.
fn alertmanager_urls(am: &AlertmanagerConfig) -> Result<Vec<Target>, String> {
    let mut groups = static_groups(&am.static_configs)?;
    for f in &am.file_sd_configs {
        for pattern in &f.files {
            for path in glob::glob(pattern).map_err(|e| e.to_string())?.flatten() {
                match read_file(&path) {
                    Ok(g) => groups.extend(g),
                    Err(e) => tracing::warn!("alertmanager file_sd: {e}"),
                }
            }
        }
    }
    let client = am
        .http
        .client(am.timeout.std())
        .map_err(|e| e.to_string())?;
    let path = format!("{}/api/v2/alerts", am.path_prefix.trim_end_matches('/'));
    let mut out = Vec::new();
    for g in groups {
        for t in &g.targets {
            let mut l = g.labels.clone();
            for (k, v) in &t.0 {
                l.set(k, v);
            }
            if l.get("__scheme__").is_none() {
                l.set("__scheme__", &am.scheme);
            }
            if l.get("__alerts_path__").is_none() {
                l.set("__alerts_path__", &path);
            }
            let Some(l) = process(&l, &am.relabel_configs) else {
                continue;
            };
            let (Some(scheme), Some(addr), Some(p)) = (
                l.get("__scheme__"),
                l.get("__address__"),
                l.get("__alerts_path__"),
            ) else {
                continue;
            };
            out.push(Target {
                url: format!("{scheme}://{addr}{p}"),
                http: am.http.clone(),
                client: client.clone(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(name: &str) -> AmAlert {
        AmAlert {
            labels: Labels::from_pairs([("alertname".to_owned(), name.to_owned())]),
            annotations: Labels::default(),
            starts_at: 1_700_000_000_000,
            ends_at: 1_700_000_240_000,
            generator_url: "http://h/graph".into(),
        }
    }

    #[test]
    fn queue_is_bounded_and_counts_drops() {
        let n = Notifier::new(3);
        n.send((0..2).map(|i| alert(&format!("a{i}"))).collect());
        n.send((2..5).map(|i| alert(&format!("a{i}"))).collect());
        assert_eq!(n.queue_len(), 3);
        assert_eq!(n.metrics.dropped.load(Ordering::Relaxed), 2);
        // The newest are kept.
        let q: Vec<String> = n
            .queue
            .lock()
            .iter()
            .map(|a| a.labels.get("alertname").unwrap_or("").to_owned())
            .collect();
        assert_eq!(q, ["a2", "a3", "a4"]);
        n.send((5..10).map(|i| alert(&format!("a{i}"))).collect());
        assert_eq!(n.metrics.dropped.load(Ordering::Relaxed), 7);
    }

    #[test]
    fn external_labels_and_relabelling() {
        let n = Notifier::new(10);
        let cfg = AlertingConfig {
            alert_relabel_configs: serde_yaml::from_str(
                "- source_labels: [alertname]\n  regex: drop.*\n  action: drop\n- target_label: team\n  replacement: core\n",
            )
            .unwrap(),
            alertmanagers: Vec::new(),
        };
        n.apply(
            &cfg,
            &Labels::from_pairs([
                ("dc".to_owned(), "eu".to_owned()),
                ("alertname".to_owned(), "x".to_owned()),
            ]),
        )
        .unwrap();
        n.send(vec![alert("keep"), alert("drop_me")]);
        let q = n.queue.lock();
        assert_eq!(q.len(), 1);
        assert_eq!(
            q[0].labels.to_string(),
            r#"{alertname="keep", dc="eu", team="core"}"#
        );
        assert_eq!(
            q[0].to_json()["startsAt"],
            Value::String("2023-11-14T22:13:20Z".into())
        );
    }
}
