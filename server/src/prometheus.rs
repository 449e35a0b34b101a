//! Strata in place of a Prometheus server: with `--config.file prometheus.yml` the
//! server scrapes (strata_scrape), evaluates rules and notifies Alertmanager
//! (strata_rules), and reloads the file on SIGHUP and on `POST /-/reload` (with
//! `--web.enable-lifecycle`). A file that fails to load on reload leaves the running
//! configuration in place and the error is returned (and logged).

use crate::app::AppState;
use parking_lot::{Mutex, RwLock};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use strata_rules::{Notifier, RuleManager};
use strata_scrape::ScrapeManager;
use tokio::sync::watch;

/// What `--config.file` and friends ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusSetup {
    /// `prometheus.yml`.
    pub config_file: PathBuf,
    /// `--web.enable-lifecycle`: `POST /-/reload` allowed.
    pub enable_lifecycle: bool,
    /// `--web.external-url`; default `http://<hostname>:<port>`.
    pub external_url: Option<String>,
}

/// The running scrape and rule managers.
pub struct Agent {
    /// Settings.
    pub setup: PrometheusSetup,
    /// Scraping.
    pub scrape: Arc<ScrapeManager>,
    /// Rules and alerts.
    pub rules: Arc<RuleManager>,
    /// Alertmanager client.
    pub notifier: Arc<Notifier>,
    /// The URL alerts link back to.
    pub external_url: String,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    /// Whether the last (re)load worked, and when (s).
    pub last_reload: Mutex<(bool, f64)>,
}

/// Where the agent is.
#[derive(Default)]
pub struct AgentSlot(pub RwLock<Option<Arc<Agent>>>);

impl AgentSlot {
    /// The agent, once started.
    pub fn get(&self) -> Option<Arc<Agent>> {
        self.0.read().clone()
    }
}

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Agent {
    /// Reads the file again and applies it; on error nothing changes.
    pub async fn reload(&self) -> Result<(), String> {
        let _one = self.reloading.lock().await;
        let path = &self.setup.config_file;
        let res = async {
            let cfg = strata_scrape::config::load(path).map_err(|e| {
                format!(
                    "couldn't load configuration (--config.file={:?}): {e}",
                    path.display().to_string()
                )
            })?;
            // Rules first: they are checked completely before anything changes.
            self.rules.apply(&cfg).await.map_err(|e| {
                format!(
                    "one or more errors occurred while applying the new configuration (--config.file={:?}): {e}",
                    path.display().to_string()
                )
            })?;
            self.scrape.apply(&cfg).await.map_err(|e| e.to_string())?;
            Ok::<(), String>(())
        }
        .await;
        let mut last = self.last_reload.lock();
        match &res {
            Ok(()) => {
                *last = (true, now_s());
                tracing::info!("completed loading of configuration file {}", path.display());
            }
            Err(e) => {
                last.0 = false;
                tracing::error!("error reloading config: {e}");
            }
        }
        res
    }

    /// `/metrics` lines of scraping, rules and notifications (Prometheus' names).
    pub fn metrics_text(&self) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        let m = &self.notifier.metrics;
        let (ok, at) = *self.last_reload.lock();
        let mut out = String::new();
        let mut add = |name: &str, kind: &str, help: &str, v: f64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            ));
        };
        add(
            "prometheus_config_last_reload_successful",
            "gauge",
            "Whether the last configuration reload attempt was successful.",
            f64::from(u8::from(ok)),
        );
        add(
            "prometheus_config_last_reload_success_timestamp_seconds",
            "gauge",
            "Timestamp of the last successful configuration reload.",
            at,
        );
        add(
            "prometheus_notifications_sent_total",
            "counter",
            "Total number of alerts sent.",
            m.sent.load(Relaxed) as f64,
        );
        add(
            "prometheus_notifications_errors_total",
            "counter",
            "Total number of errors sending alert notifications.",
            m.errors.load(Relaxed) as f64,
        );
        add(
            "prometheus_notifications_dropped_total",
            "counter",
            "Total number of alerts dropped due to errors when sending to Alertmanager.",
            m.dropped.load(Relaxed) as f64,
        );
        add(
            "prometheus_notifications_queue_length",
            "gauge",
            "The number of alert notifications in the queue.",
            self.notifier.queue_len() as f64,
        );
        add(
            "prometheus_notifications_queue_capacity",
            "gauge",
            "The capacity of the alert notifications queue.",
            strata_rules::notifier::DEFAULT_QUEUE_CAPACITY as f64,
        );
        add(
            "prometheus_sd_discovered_targets",
            "gauge",
            "Current number of discovered targets.",
            self.scrape.active_count() as f64,
        );
        out
    }
}

/// Starts the agent once the database is open; runs until `stop`, then stops scraping
/// and rule evaluation (no staleness markers, as at a Prometheus shutdown).
pub async fn run(state: Arc<AppState>, setup: PrometheusSetup, mut stop: watch::Receiver<bool>) {
    let db = loop {
        if let Ok(db) = state.db() {
            break db;
        }
        tokio::select! {
            () = async { let _ = stop.wait_for(|s| *s).await; } => return,
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    };
    let external_url = setup.external_url.clone().unwrap_or_else(|| {
        format!(
            "http://{}:{}",
            strata_scrape::gotime::hostname(),
            state.config.listen.port()
        )
    });
    let notifier = Notifier::new(strata_rules::notifier::DEFAULT_QUEUE_CAPACITY);
    let agent = Arc::new(Agent {
        scrape: Arc::new(ScrapeManager::new(db.clone())),
        rules: Arc::new(RuleManager::new(
            db,
            notifier.clone(),
            state.config.promql_options(),
            external_url.clone(),
        )),
        notifier: notifier.clone(),
        external_url,
        setup,
        reloading: tokio::sync::Mutex::new(()),
        last_reload: Mutex::new((false, 0.0)),
    });
    let sender = tokio::spawn(notifier.run(stop.clone()));
    if let Err(e) = agent.reload().await {
        tracing::error!("{e}");
    }
    // The handler is in place before the agent is visible, so a SIGHUP sent once the
    // API answers reloads rather than ending the process.
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    *state.agent.0.write() = Some(agent.clone());
    loop {
        #[cfg(unix)]
        let sighup = async {
            match hup.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let sighup = std::future::pending::<()>();
        tokio::select! {
            () = async { let _ = stop.wait_for(|s| *s).await; } => break,
            () = sighup => {
                tracing::info!("SIGHUP: reloading {}", agent.setup.config_file.display());
                let _ = agent.reload().await;
            }
        }
    }
    agent.rules.stop().await;
    agent.scrape.stop().await;
    let _ = sender.await;
}
