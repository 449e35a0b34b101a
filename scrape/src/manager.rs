//! The scrape manager: one pool per job, each with a supervising task that follows
//! discovery (static targets, file changes) and keeps one [`ScrapeLoop`] per target.
//!
//! On a configuration change ([`ScrapeManager::apply`]) a job whose settings did not
//! change keeps its loops; a changed job restarts its loops, which carry their memory
//! over (no spurious staleness); a removed job's targets are marked stale after one more
//! interval, as Prometheus does. Shutdown ([`ScrapeManager::stop`]) writes no staleness
//! markers.

use crate::config::{Config, ScrapeConfig};
use crate::discovery::{FileWatcher, TargetGroup, static_groups};
use crate::scrape_loop::{LoopMemory, ScrapeLoop, Stop, TargetStatus};
use crate::target::{DroppedTarget, Target, jitter_seed, targets_from_groups};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use strata_engine::Db;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// How often target files are checked for changes.
const FILE_SD_POLL: Duration = Duration::from_secs(1);

/// One active target as the API shows it.
#[derive(Debug, Clone)]
pub struct ActiveTarget {
    /// The target.
    pub target: Target,
    /// Its job.
    pub pool: String,
    /// Its last scrape.
    pub status: TargetStatus,
}

/// What `/api/v1/targets` needs.
#[derive(Debug, Clone, Default)]
pub struct TargetsView {
    /// Active targets, by pool.
    pub active: Vec<ActiveTarget>,
    /// Dropped targets with their pool.
    pub dropped: Vec<(String, DroppedTarget)>,
}

#[derive(Default)]
struct PoolView {
    active: Vec<(Target, Arc<Mutex<TargetStatus>>)>,
    dropped: Vec<DroppedTarget>,
}

enum PoolMsg {
    Reload(Arc<ScrapeConfig>),
    Stop(Stop),
}

struct PoolHandle {
    cfg: Arc<ScrapeConfig>,
    tx: mpsc::Sender<PoolMsg>,
    task: JoinHandle<()>,
}

/// All scraping.
pub struct ScrapeManager {
    db: Arc<Db>,
    pools: tokio::sync::Mutex<BTreeMap<String, PoolHandle>>,
    views: RwLock<BTreeMap<String, Arc<RwLock<PoolView>>>>,
    jitter: RwLock<u64>,
    hostname: String,
}

impl ScrapeManager {
    /// A manager writing to `db`; nothing runs until [`ScrapeManager::apply`].
    pub fn new(db: Arc<Db>) -> ScrapeManager {
        ScrapeManager {
            db,
            pools: tokio::sync::Mutex::new(BTreeMap::new()),
            views: RwLock::new(BTreeMap::new()),
            jitter: RwLock::new(0),
            hostname: crate::gotime::hostname(),
        }
    }

    /// Brings the pools in line with `cfg`. Client errors (unreadable TLS files) are
    /// returned before anything changes.
    pub async fn apply(&self, cfg: &Config) -> Result<(), crate::config::ConfigError> {
        let mut clients = HashMap::new();
        for sc in &cfg.scrape_configs {
            clients.insert(
                sc.job_name.clone(),
                sc.http.client(sc.scrape_timeout.std())?,
            );
        }
        *self.jitter.write() = jitter_seed(&self.hostname, &cfg.global.external_labels);
        let jitter = *self.jitter.read();
        let mut pools = self.pools.lock().await;
        let wanted: HashMap<&str, &ScrapeConfig> = cfg
            .scrape_configs
            .iter()
            .map(|s| (s.job_name.as_str(), s))
            .collect();
        let gone: Vec<String> = pools
            .keys()
            .filter(|k| !wanted.contains_key(k.as_str()))
            .cloned()
            .collect();
        for name in gone {
            if let Some(p) = pools.remove(&name) {
                let _ = p.tx.send(PoolMsg::Stop(Stop::Removed)).await;
                // The pool marks its series stale after one more interval; let it.
                drop(p.task);
            }
            self.views.write().remove(&name);
        }
        for sc in &cfg.scrape_configs {
            let sc_arc = Arc::new(sc.clone());
            match pools.get_mut(&sc.job_name) {
                Some(p) if *p.cfg == *sc => {}
                Some(p) => {
                    p.cfg = sc_arc.clone();
                    let _ = p.tx.send(PoolMsg::Reload(sc_arc)).await;
                }
                None => {
                    let view = Arc::new(RwLock::new(PoolView::default()));
                    let (tx, rx) = mpsc::channel(8);
                    let client = clients.remove(&sc.job_name).unwrap_or_default();
                    let pool = Pool {
                        cfg: sc_arc.clone(),
                        client,
                        db: self.db.clone(),
                        jitter,
                        view: view.clone(),
                        loops: HashMap::new(),
                        forced: Arc::new(Mutex::new(None)),
                    };
                    let task = tokio::spawn(pool.run(rx));
                    self.views.write().insert(sc.job_name.clone(), view.clone());
                    pools.insert(
                        sc.job_name.clone(),
                        PoolHandle {
                            cfg: sc_arc,
                            tx,
                            task,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    /// Stops every loop without staleness markers and waits for them.
    pub async fn stop(&self) {
        let mut pools = self.pools.lock().await;
        for (_, p) in std::mem::take(&mut *pools) {
            let _ = p.tx.send(PoolMsg::Stop(Stop::Quietly)).await;
            let _ = p.task.await;
        }
        self.views.write().clear();
    }

    /// The targets as they are now.
    pub fn targets(&self) -> TargetsView {
        let mut out = TargetsView::default();
        for (pool, view) in self.views.read().iter() {
            let v = view.read();
            for (t, st) in &v.active {
                out.active.push(ActiveTarget {
                    target: t.clone(),
                    pool: pool.clone(),
                    status: st.lock().clone(),
                });
            }
            for d in &v.dropped {
                out.dropped.push((pool.clone(), d.clone()));
            }
        }
        out
    }

    /// The number of active targets (for readiness and metrics).
    pub fn active_count(&self) -> usize {
        self.views
            .read()
            .values()
            .map(|v| v.read().active.len())
            .sum()
    }
}

struct RunningLoop {
    target: Target,
    stop: watch::Sender<Stop>,
    task: JoinHandle<LoopMemory>,
    status: Arc<Mutex<TargetStatus>>,
}

struct Pool {
    cfg: Arc<ScrapeConfig>,
    client: reqwest::Client,
    db: Arc<Db>,
    jitter: u64,
    view: Arc<RwLock<PoolView>>,
    loops: HashMap<u64, RunningLoop>,
    forced: Arc<Mutex<Option<String>>>,
}

impl Pool {
    async fn run(mut self, mut rx: mpsc::Receiver<PoolMsg>) {
        let mut files = FileWatcher::new(self.cfg.file_sd_configs.clone());
        let mut file_groups: Vec<TargetGroup> = Vec::new();
        self.sync(&file_groups, HashMap::new()).await;
        let mut poll = tokio::time::interval(FILE_SD_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(PoolMsg::Reload(cfg)) => {
                        if let Ok(client) = cfg.http.client(cfg.scrape_timeout.std()) {
                            self.client = client;
                        }
                        if cfg.file_sd_configs != self.cfg.file_sd_configs {
                            files = FileWatcher::new(cfg.file_sd_configs.clone());
                            file_groups.clear();
                        }
                        self.cfg = cfg;
                        // Restart every loop with the new settings, carrying memory over.
                        let mut memories = HashMap::new();
                        for (h, l) in self.loops.drain() {
                            let _ = l.stop.send(Stop::Quietly);
                            if let Ok(m) = l.task.await {
                                memories.insert(h, m);
                            }
                        }
                        self.sync(&file_groups, memories).await;
                    }
                    Some(PoolMsg::Stop(how)) => {
                        for (_, l) in self.loops.drain() {
                            let _ = l.stop.send(how);
                            let _ = l.task.await;
                        }
                        return;
                    }
                    None => return,
                },
                _ = poll.tick(), if !files.is_empty() => {
                    if let Some(g) = files.poll() {
                        file_groups = g;
                        self.sync(&file_groups, HashMap::new()).await;
                    }
                }
            }
        }
    }

    /// Starts loops for new targets and stops those of vanished ones.
    async fn sync(&mut self, file_groups: &[TargetGroup], mut memories: HashMap<u64, LoopMemory>) {
        let mut groups = match static_groups(&self.cfg.static_configs) {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!("job {}: {e}", self.cfg.job_name);
                Vec::new()
            }
        };
        groups.extend_from_slice(file_groups);
        let (mut active, dropped, errors) = targets_from_groups(&self.cfg, &groups);
        for e in errors {
            tracing::warn!("job {}: creating target failed: {e}", self.cfg.job_name);
        }
        // The same target twice (same labels and URL) is scraped once.
        let mut seen = std::collections::HashSet::new();
        active.retain(|t| seen.insert(t.hash()));
        let limit = self.cfg.target_limit;
        *self.forced.lock() = (limit > 0 && active.len() as u64 > limit).then(|| {
            format!(
                "target_limit exceeded (number of targets: {}, limit: {limit})",
                active.len()
            )
        });
        let keep: std::collections::HashSet<u64> = active.iter().map(Target::hash).collect();
        let gone: Vec<u64> = self
            .loops
            .keys()
            .filter(|h| !keep.contains(h))
            .copied()
            .collect();
        for h in gone {
            if let Some(l) = self.loops.remove(&h) {
                let _ = l.stop.send(Stop::Removed);
                // It waits one interval, writes markers and ends by itself.
                drop(l.task);
            }
        }
        for t in &active {
            let h = t.hash();
            if self.loops.contains_key(&h) {
                continue;
            }
            let status = Arc::new(Mutex::new(TargetStatus::default()));
            let (stop, stop_rx) = watch::channel(Stop::Run);
            let sl = ScrapeLoop {
                target: t.clone(),
                cfg: self.cfg.clone(),
                client: self.client.clone(),
                db: self.db.clone(),
                status: status.clone(),
                forced_error: self.forced.clone(),
                jitter_seed: self.jitter,
            };
            let memory = memories.remove(&h).unwrap_or_default();
            let task = tokio::spawn(sl.run(memory, stop_rx));
            self.loops.insert(
                h,
                RunningLoop {
                    target: t.clone(),
                    stop,
                    task,
                    status,
                },
            );
        }
        let mut v = self.view.write();
        v.active = active
            .iter()
            .filter_map(|t| {
                self.loops
                    .get(&t.hash())
                    .map(|l| (l.target.clone(), l.status.clone()))
            })
            .collect();
        v.dropped = dropped;
    }
}
