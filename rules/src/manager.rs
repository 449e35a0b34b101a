//! The rule manager: loads the rule files a configuration names, runs each group on
//! its interval (at Prometheus' hash-placed phase), restores `for` state after a start,
//! and swaps groups on reload keeping the state of unchanged ones.

use crate::file::{expand_globs, load_file};
use crate::group::Group;
use crate::notifier::{Notifier, to_am_alerts};
use crate::rule::EvalEnv;
use parking_lot::RwLock;
use std::sync::Arc;
use std::time::Duration;
use strata_engine::Db;
use strata_query::promql::EvalOptions;
use strata_scrape::Config;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Prometheus' `--rules.alert.resend-delay` default.
pub const DEFAULT_RESEND_DELAY_MS: i64 = 60_000;

struct Running {
    group: Arc<Group>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// All rule groups of the configuration in force.
pub struct RuleManager {
    db: Arc<Db>,
    notifier: Arc<Notifier>,
    opts: EvalOptions,
    env: RwLock<EvalEnv>,
    running: tokio::sync::Mutex<Vec<Running>>,
    groups: RwLock<Vec<Arc<Group>>>,
    started: std::sync::atomic::AtomicBool,
    /// How often firing alerts are re-sent.
    pub resend_delay_ms: i64,
}

impl RuleManager {
    /// A manager with no groups yet.
    pub fn new(
        db: Arc<Db>,
        notifier: Arc<Notifier>,
        opts: EvalOptions,
        external_url: String,
    ) -> RuleManager {
        RuleManager {
            db,
            notifier,
            env: RwLock::new(EvalEnv {
                opts: opts.clone(),
                external_labels: Default::default(),
                external_url,
            }),
            opts,
            running: tokio::sync::Mutex::new(Vec::new()),
            groups: RwLock::new(Vec::new()),
            started: std::sync::atomic::AtomicBool::new(false),
            resend_delay_ms: DEFAULT_RESEND_DELAY_MS,
        }
    }

    /// Loads the rule files of `cfg`. Any error leaves the running groups as they are
    /// and says which file, group and rule.
    pub async fn apply(&self, cfg: &Config) -> Result<(), String> {
        let files = expand_globs(&cfg.rule_files)?;
        let mut specs = Vec::new();
        let mut errors = Vec::new();
        for f in files {
            match load_file(&f) {
                Ok(g) => specs.extend(g),
                Err(e) => errors.extend(e.errors),
            }
        }
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        self.notifier
            .apply(&cfg.alerting, &cfg.global.external_labels)?;
        {
            let mut env = self.env.write();
            env.external_labels = cfg.global.external_labels.clone();
        }
        let first = !self.started.swap(true, std::sync::atomic::Ordering::SeqCst);
        let interval = cfg.global.evaluation_interval.ms();
        let mut running = self.running.lock().await;
        let mut old: Vec<Running> = std::mem::take(&mut *running);
        let mut new_groups = Vec::new();
        for spec in specs {
            let g = Arc::new(Group::new(spec, interval, !first));
            if let Some(i) = old
                .iter()
                .position(|r| r.group.file == g.file && r.group.name == g.name)
            {
                let r = old.swap_remove(i);
                let _ = r.stop.send(true);
                let _ = r.task.await;
                g.copy_state(&r.group);
            }
            new_groups.push(g);
        }
        // Groups that are gone: stop, then mark their series stale.
        for r in old {
            let _ = r.stop.send(true);
            let _ = r.task.await;
            let db = self.db.clone();
            let g = r.group.clone();
            let now = chrono::Utc::now().timestamp_millis();
            let _ = tokio::task::spawn_blocking(move || g.mark_stale(&db, now)).await;
        }
        for g in &new_groups {
            let (stop, stop_rx) = watch::channel(false);
            let task = tokio::spawn(run_group(
                g.clone(),
                self.db.clone(),
                self.notifier.clone(),
                self.env.read().clone(),
                self.resend_delay_ms,
                first,
                stop_rx,
            ));
            running.push(Running {
                group: g.clone(),
                stop,
                task,
            });
        }
        *self.groups.write() = new_groups;
        let _ = &self.opts;
        Ok(())
    }

    /// Stops every group (no staleness markers).
    pub async fn stop(&self) {
        let mut running = self.running.lock().await;
        for r in running.drain(..) {
            let _ = r.stop.send(true);
            let _ = r.task.await;
        }
    }

    /// The groups in force, in file order.
    pub fn groups(&self) -> Vec<Arc<Group>> {
        self.groups.read().clone()
    }

    /// The notifier.
    pub fn notifier(&self) -> &Arc<Notifier> {
        &self.notifier
    }
}

async fn run_group(
    g: Arc<Group>,
    db: Arc<Db>,
    notifier: Arc<Notifier>,
    env: EvalEnv,
    resend_delay_ms: i64,
    restore: bool,
    mut stop: watch::Receiver<bool>,
) {
    let interval = g.interval_ms;
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let mut ts = g.eval_timestamp(now_ns) + interval;
    let mut evals = 0u32;
    let env = Arc::new(env);
    loop {
        let wait = ts - chrono::Utc::now().timestamp_millis();
        if wait > 0 {
            tokio::select! {
                () = async { let _ = stop.wait_for(|s| *s).await; } => return,
                () = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            }
        }
        if *stop.borrow() {
            return;
        }
        let (g2, db2, n2, env2) = (g.clone(), db.clone(), notifier.clone(), env.clone());
        let url = env.external_url.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let notify = |expr: &str, alerts| n2.send(to_am_alerts(expr, alerts, &url));
            g2.eval(&db2, ts, &env2, resend_delay_ms, &notify);
        })
        .await;
        evals += 1;
        if restore && evals == 2 {
            let (g2, db2, opts) = (g.clone(), db.clone(), env.opts.clone());
            let now = chrono::Utc::now().timestamp_millis();
            let _ =
                tokio::task::spawn_blocking(move || g2.restore_for_state(&db2, now, &opts)).await;
        }
        // Skip evaluations that were missed, as Prometheus does.
        let now = chrono::Utc::now().timestamp_millis();
        ts += interval;
        if ts <= now {
            let missed = (now - ts) / interval + 1;
            ts += missed * interval;
        }
    }
}
