//! PromQL over the cluster: the front-end evaluates the query with its own evaluator,
//! and the sub-expressions [`strata_query::partial::promql::plan`] picks are evaluated by
//! the members — aggregations pushed down as partial states, node-local expressions
//! pulled as series — through the evaluator's [`Remote`] hook.
//!
//! The hook runs on the evaluator's (blocking or rayon) thread and waits for the fan-out
//! on the runtime it was created on.

use crate::PROMQL_PATH;
use crate::fanout::{Cluster, ClusterInfo, Failed};
use crate::wire::PromqlRequest;
use parking_lot::Mutex;
use std::sync::Arc;
use strata_query::partial::promql::{
    Mode, PromAnswer, RemotePlan, decode_answer, merge_aggregate, merge_series, plan,
};
use strata_query::promql::ast::Expr;
use strata_query::promql::{PromError, Remote, Series, Steps};

/// The members' side of one PromQL query: what was asked, who failed.
#[derive(Debug)]
pub struct PromRemote {
    cluster: Arc<Cluster>,
    handle: tokio::runtime::Handle,
    plan: RemotePlan,
    nodes: Option<Vec<String>>,
    info: Mutex<ClusterInfo>,
}

impl PromRemote {
    /// What the answer must say about the members.
    pub fn info(&self) -> ClusterInfo {
        self.info.lock().clone()
    }

    /// The Prometheus API `warnings` for this answer.
    pub fn warnings(&self) -> Vec<String> {
        let info = self.info();
        let mut w: Vec<String> = info
            .failed_nodes
            .iter()
            .map(|f| {
                format!(
                    "cluster: node {} left out of the answer: {}",
                    f.node, f.error
                )
            })
            .collect();
        if info.stale_membership {
            w.push(
                "cluster: etcd cannot be reached; answered over the last known member list".into(),
            );
        }
        w
    }
}

impl Cluster {
    /// The hook that sends `expr`'s node-local parts to the members (all, or `nodes`).
    /// Must be called on the tokio runtime.
    pub fn prom_remote(
        self: &Arc<Self>,
        expr: &Expr,
        nodes: Option<Vec<String>>,
    ) -> Result<Arc<PromRemote>, PromError> {
        Ok(Arc::new(PromRemote {
            cluster: self.clone(),
            handle: tokio::runtime::Handle::current(),
            plan: plan(expr, &self.config.node_label)?,
            nodes,
            info: Mutex::new(ClusterInfo::default()),
        }))
    }
}

impl Remote for PromRemote {
    fn eval(
        &self,
        e: &Expr,
        steps: &Steps,
        query_start: i64,
        query_end: i64,
    ) -> Option<Result<Vec<Series>, PromError>> {
        let mode = self.plan.mode_of(e)?;
        let req = PromqlRequest {
            expr: e.to_string(),
            start: steps.start,
            step: steps.step,
            n: steps.n as u64,
            query_start,
            query_end,
            node_label: self.cluster.config.node_label.clone(),
            mode: mode as u8,
            timeout_ms: u64::try_from(self.cluster.config.deadline.as_millis()).unwrap_or(u64::MAX),
        };
        let g = self.handle.block_on(self.cluster.gather(
            PROMQL_PATH,
            req.encode(),
            self.nodes.as_deref(),
        ));
        let mut failed: Vec<Failed> = g.failed;
        let mut series = Vec::new();
        let mut groups = Vec::new();
        let mut asked: Vec<String> = failed.iter().map(|f| f.node.clone()).collect();
        for (node, bytes) in g.answers {
            asked.push(node.clone());
            match decode_answer(&bytes, steps.n) {
                Ok(PromAnswer::Series(s)) if mode == Mode::Series => series.push(s),
                Ok(PromAnswer::Groups { groups: gs, .. }) if mode == Mode::Aggregate => {
                    groups.push(gs)
                }
                Ok(_) => failed.push(Failed {
                    node,
                    error: "bad answer: not the kind asked for".into(),
                }),
                Err(err) => failed.push(Failed {
                    node,
                    error: format!("bad answer: {err}"),
                }),
            }
        }
        {
            let mut info = self.info.lock();
            info.bytes += g.bytes;
            info.stale_membership |= g.stale;
            for n in asked {
                if !info.nodes.contains(&n) {
                    info.nodes.push(n);
                }
            }
            info.nodes.sort();
            for f in failed {
                if !info.failed_nodes.iter().any(|x| x.node == f.node) {
                    info.failed_nodes.push(f);
                }
            }
            info.failed_nodes.sort_by(|a, b| a.node.cmp(&b.node));
        }
        Some(match (mode, e.unparen()) {
            (Mode::Aggregate, Expr::Aggregate(a)) => Ok(merge_aggregate(a.op, groups, steps.n)),
            (Mode::Aggregate, _) => Err(PromError::Internal(
                "cluster: an aggregate push-down of something that is not an aggregation".into(),
            )),
            (Mode::Series, _) => merge_series(series),
        })
    }
}
