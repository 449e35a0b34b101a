//! Counters of cluster work, rendered by the server's `/metrics`.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Plain atomics; the server renders them.
#[derive(Debug, Default)]
pub struct ClusterMetrics {
    /// Cluster queries answered (any language, subscriptions' runs included).
    pub queries: AtomicU64,
    /// Answers flagged partial (a member left out).
    pub partial: AtomicU64,
    /// Answers given over a stale member list (etcd unreachable).
    pub stale: AtomicU64,
    /// Bytes of member answers received.
    pub bytes_received: AtomicU64,
    /// Member failures by node: down, past the deadline, or an error answer.
    failures: Mutex<BTreeMap<String, u64>>,
}

impl ClusterMetrics {
    /// Counts one failure of `node`.
    pub fn failed(&self, node: &str) {
        *self.failures.lock().entry(node.to_owned()).or_insert(0) += 1;
    }

    /// Failures so far, by node.
    pub fn failures(&self) -> BTreeMap<String, u64> {
        self.failures.lock().clone()
    }

    /// Adds `n` to a counter.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}
