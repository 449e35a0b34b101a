//! Membership: this node registers under `<prefix><name>` with a lease it keeps alive,
//! and every node watches the prefix, so joins and leaves are seen as they happen.
//!
//! - **Register**: grant a lease of `lease_ttl`, put `{"node","url"}` under it, renew it
//!   every third of the TTL. A node that stops renewing (killed, partitioned) disappears
//!   when its lease expires; a node that shuts down revokes its lease and leaves at once.
//!   A renewal that finds the lease gone (etcd was away longer than the TTL) registers
//!   again with a new lease.
//! - **Watch**: read the prefix, then watch it from the next revision; each put or
//!   delete updates the member list. When the watch fails, the list is kept as it was
//!   (the *last known* members) and flagged stale until a fresh read succeeds.
//!
//! Invariant: [`Members::snapshot`] never blocks on etcd; it is a copy of what the watch
//! last saw, with `stale` set while etcd cannot be reached.

use crate::etcd::{Etcd, WatchEvent};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// What a node publishes about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Its name (`--cluster.node`).
    pub node: String,
    /// Where other nodes reach its HTTP API (`--cluster.advertise`).
    pub url: String,
}

/// The member list as this node knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberView {
    /// Members by name.
    pub members: BTreeMap<String, Member>,
    /// Whether etcd could not be reached when last tried: the list is the last known one.
    pub stale: bool,
    /// Why etcd is unreachable, while stale.
    pub error: Option<String>,
    /// Whether the list was ever read from etcd.
    pub loaded: bool,
}

/// Settings of membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipConfig {
    /// etcd endpoints (`--cluster.etcd`, comma-separated).
    pub etcd: Vec<String>,
    /// Key prefix members register under (`--cluster.prefix`). Default `/strata/members/`.
    pub prefix: String,
    /// This node's name (`--cluster.node`).
    pub node: String,
    /// This node's URL for the others (`--cluster.advertise`).
    pub advertise: String,
    /// Lease TTL (`--cluster.lease-ttl`). Default 10 s: a killed node leaves the list
    /// within this long.
    pub lease_ttl: Duration,
}

/// The live member list, shared by the watch task and the query paths.
#[derive(Debug, Default)]
pub struct Members {
    view: RwLock<MemberView>,
    lease: AtomicI64,
}

impl Members {
    /// A copy of the list as last seen.
    pub fn snapshot(&self) -> MemberView {
        self.view.read().clone()
    }

    fn apply(&self, prefix: &str, e: WatchEvent) {
        let mut v = self.view.write();
        match e {
            WatchEvent::Put { key, value } => {
                if let Ok(m) = serde_json::from_slice::<Member>(&value) {
                    v.members
                        .insert(key.trim_start_matches(prefix).to_owned(), m);
                }
            }
            WatchEvent::Delete { key } => {
                v.members.remove(key.trim_start_matches(prefix));
            }
        }
    }

    fn set_stale(&self, why: String) {
        let mut v = self.view.write();
        v.stale = true;
        v.error = Some(why);
    }
}

/// Starts registration and the watch on the current tokio runtime; they run until
/// `stop` is set (then the lease is revoked, so the node leaves at once).
pub fn start(
    cfg: MembershipConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(Arc<Members>, Vec<tokio::task::JoinHandle<()>>), crate::etcd::EtcdError> {
    let call = Duration::from_secs(3).min(cfg.lease_ttl);
    let etcd = Etcd::new(cfg.etcd.clone(), call)?;
    let members = Arc::new(Members::default());
    let reg = tokio::spawn(register(
        etcd.clone(),
        cfg.clone(),
        members.clone(),
        stop.clone(),
    ));
    let watch = tokio::spawn(watch(etcd, cfg, members.clone(), stop));
    Ok((members, vec![reg, watch]))
}

async fn sleep_or_stop(d: Duration, stop: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        r = stop.changed() => r.is_err() || *stop.borrow(),
    }
}

async fn register(
    etcd: Etcd,
    cfg: MembershipConfig,
    members: Arc<Members>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let call = Duration::from_secs(3).min(cfg.lease_ttl);
    let ttl = i64::try_from(cfg.lease_ttl.as_secs()).unwrap_or(10).max(2);
    let value = serde_json::to_vec(&Member {
        node: cfg.node.clone(),
        url: cfg.advertise.clone(),
    })
    .unwrap_or_default();
    let key = format!("{}{}", cfg.prefix, cfg.node);
    let renew_every = cfg.lease_ttl / 3;
    'outer: loop {
        if *stop.borrow() {
            break;
        }
        let lease = match etcd.grant(ttl, call).await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!("cluster: cannot register with etcd: {e}");
                if sleep_or_stop(Duration::from_secs(1), &mut stop).await {
                    break;
                }
                continue;
            }
        };
        if let Err(e) = etcd.put(&key, &value, lease, call).await {
            tracing::warn!("cluster: cannot register {key} with etcd: {e}");
            if sleep_or_stop(Duration::from_secs(1), &mut stop).await {
                break;
            }
            continue;
        }
        members.lease.store(lease, Ordering::Relaxed);
        tracing::info!(
            "cluster: registered as {} ({}) under {key}",
            cfg.node,
            cfg.advertise
        );
        loop {
            if sleep_or_stop(renew_every, &mut stop).await {
                break 'outer;
            }
            match etcd.keep_alive(lease, call).await {
                Ok(left) if left > 0 => {}
                Ok(_) => {
                    tracing::warn!("cluster: lease {lease} expired; registering again");
                    continue 'outer;
                }
                Err(e) => {
                    // Keep trying the same lease until it is known to be gone.
                    tracing::warn!("cluster: lease keep-alive failed: {e}");
                }
            }
        }
    }
    let lease = members.lease.load(Ordering::Relaxed);
    if lease != 0 {
        let _ = etcd.revoke(lease, call).await;
    }
}

async fn watch(
    etcd: Etcd,
    cfg: MembershipConfig,
    members: Arc<Members>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let call = Duration::from_secs(3).min(cfg.lease_ttl);
    loop {
        if *stop.borrow() {
            return;
        }
        let (kvs, revision) = match etcd.range_prefix(&cfg.prefix, call).await {
            Ok(r) => r,
            Err(e) => {
                members.set_stale(e.to_string());
                if sleep_or_stop(Duration::from_secs(1), &mut stop).await {
                    return;
                }
                continue;
            }
        };
        {
            let mut v = members.view.write();
            v.members.clear();
            for (k, val) in kvs {
                if let Ok(m) = serde_json::from_slice::<Member>(&val) {
                    v.members
                        .insert(k.trim_start_matches(&cfg.prefix).to_owned(), m);
                }
            }
            v.stale = false;
            v.error = None;
            v.loaded = true;
        }
        let prefix = cfg.prefix.clone();
        let m2 = members.clone();
        let why = tokio::select! {
            e = etcd.watch_prefix(&cfg.prefix, revision + 1, call, move |e| m2.apply(&prefix, e)) => e,
            _ = stop.changed() => return,
        };
        members.set_stale(why.to_string());
        tracing::warn!("cluster: membership watch stopped: {why}; keeping the last known members");
        if sleep_or_stop(Duration::from_millis(500), &mut stop).await {
            return;
        }
    }
}
