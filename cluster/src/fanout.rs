//! Fan-out: one request to every chosen member in parallel, each bounded by the
//! per-member deadline; the answers that came back in time, and for the others why not.
//! Then the merges: InfluxQL through [`strata_query::partial::select`].

use crate::membership::{self, Member, MemberView, Members, MembershipConfig};
use crate::metrics::ClusterMetrics;
use crate::wire::InfluxqlRequest;
use crate::{CONTENT_TYPE, INFLUXQL_PATH};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use strata_engine::Db;
use strata_query::partial::select::{NodeAnswer, decode_answer, merge_answers};
use strata_query::{QueryOptions, QueryResponse};

/// Settings of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Membership (etcd, name, URL, lease).
    pub membership: MembershipConfig,
    /// Longest a member may take to answer one query (`--cluster.deadline`, default 5 s).
    pub deadline: Duration,
    /// The tag / label each member adds to its series at query time
    /// (`--cluster.node-label`, default `node`).
    pub node_label: String,
    /// Credentials members expect (the server's own `auth_token`), sent as a bearer
    /// token.
    pub auth_token: Option<String>,
    /// How to reach members whose URL is `https://`.
    pub tls: ClusterTls,
}

/// TLS towards members served with `--web.config.file` TLS (`--cluster.tls-*`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterTls {
    /// PEM CA certificates that members' certificates are checked against, in place of
    /// the built-in web roots (`--cluster.tls-ca-file`).
    pub ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate chain shown to members that verify clients
    /// (`--cluster.tls-cert-file`, with the key).
    pub cert_file: Option<std::path::PathBuf>,
    /// Its PEM private key (`--cluster.tls-key-file`).
    pub key_file: Option<std::path::PathBuf>,
}

impl ClusterTls {
    /// The fan-out client's builder with these settings; errors name the file.
    fn apply(
        &self,
        mut b: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, crate::etcd::EtcdError> {
        let bad = |file: &std::path::Path, what: String| crate::etcd::EtcdError::Settings {
            what: format!("{}: {what}", file.display()),
        };
        let read =
            |file: &std::path::Path| std::fs::read(file).map_err(|e| bad(file, e.to_string()));
        if let Some(ca) = &self.ca_file {
            let certs = reqwest::Certificate::from_pem_bundle(&read(ca)?)
                .map_err(|e| bad(ca, format!("not PEM certificates ({e})")))?;
            if certs.is_empty() {
                return Err(bad(ca, "no certificate in it".into()));
            }
            b = b.tls_built_in_root_certs(false);
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        match (&self.cert_file, &self.key_file) {
            (None, None) => {}
            (Some(cert), Some(key)) => {
                let mut pem = read(cert)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                let id = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| bad(cert, format!("not a PEM certificate and key ({e})")))?;
                b = b.identity(id);
            }
            _ => {
                return Err(crate::etcd::EtcdError::Settings {
                    what: "--cluster.tls-cert-file and --cluster.tls-key-file go together".into(),
                });
            }
        }
        Ok(b)
    }
}

/// A member left out of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failed {
    /// Its name.
    pub node: String,
    /// Why: unreachable, past the deadline, an error status, or a bad answer.
    pub error: String,
}

/// What a fan-out gathered.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    /// Answers of the members that answered in time, in member-name order.
    pub answers: Vec<(String, Vec<u8>)>,
    /// The members that did not.
    pub failed: Vec<Failed>,
    /// Whether the member list was the last known one (etcd unreachable).
    pub stale: bool,
    /// Bytes received from members.
    pub bytes: u64,
}

/// How a cluster answer came about, for the `partial`/`failed_nodes` fields.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterInfo {
    /// Members asked.
    pub nodes: Vec<String>,
    /// Members left out.
    pub failed_nodes: Vec<Failed>,
    /// Whether the member list was the last known one.
    pub stale_membership: bool,
    /// Bytes of partial results received.
    pub bytes: u64,
}

impl ClusterInfo {
    /// Whether a member was left out.
    pub fn partial(&self) -> bool {
        !self.failed_nodes.is_empty()
    }
}

/// A running cluster node: membership plus the HTTP client for fan-outs.
#[derive(Debug)]
pub struct Cluster {
    /// Settings.
    pub config: ClusterConfig,
    members: Arc<Members>,
    http: reqwest::Client,
    /// Counters for `/metrics`.
    pub metrics: ClusterMetrics,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Cluster {
    /// Registers this node and starts watching the member list (on the current tokio
    /// runtime).
    pub fn start(config: ClusterConfig) -> Result<Cluster, crate::etcd::EtcdError> {
        let builder = reqwest::Client::builder()
            .connect_timeout(config.deadline)
            .pool_idle_timeout(Duration::from_secs(30));
        let http =
            config
                .tls
                .apply(builder)?
                .build()
                .map_err(|source| crate::etcd::EtcdError::Http {
                    endpoint: "members".into(),
                    source,
                })?;
        // Settings first: nothing is registered in etcd for a node that cannot start.
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let (members, tasks) = membership::start(config.membership.clone(), stop_rx)?;
        Ok(Cluster {
            config,
            members,
            http,
            metrics: ClusterMetrics::default(),
            stop,
            tasks: parking_lot::Mutex::new(tasks),
        })
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.config.membership.node
    }

    /// The member list as last seen.
    pub fn members(&self) -> MemberView {
        self.members.snapshot()
    }

    /// Leaves the cluster: the lease is revoked, so the others drop this node at once.
    pub async fn leave(&self) {
        let _ = self.stop.send(true);
        let tasks: Vec<_> = std::mem::take(&mut *self.tasks.lock());
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(3), t).await;
        }
    }

    /// Posts `body` to `path` on every member (or those in `nodes`) in parallel; each
    /// member has the deadline to answer with 200.
    pub async fn gather(&self, path: &str, body: Vec<u8>, nodes: Option<&[String]>) -> Gathered {
        self.fan(path, Some(body), nodes).await
    }

    /// GETs `path` from every member (or those in `nodes`), as [`Cluster::gather`].
    pub async fn gather_get(&self, path: &str, nodes: Option<&[String]>) -> Gathered {
        self.fan(path, None, nodes).await
    }

    async fn fan(&self, path: &str, body: Option<Vec<u8>>, nodes: Option<&[String]>) -> Gathered {
        let view = self.members();
        let mut failed = Vec::new();
        let chosen: Vec<Member> = match nodes {
            None => view.members.values().cloned().collect(),
            Some(names) => {
                let mut out = Vec::new();
                for n in names {
                    match view.members.get(n) {
                        Some(m) => out.push(m.clone()),
                        None => failed.push(Failed {
                            node: n.clone(),
                            error: "not a member of the cluster (not registered in etcd)".into(),
                        }),
                    }
                }
                out
            }
        };
        let mut set = tokio::task::JoinSet::new();
        for m in chosen {
            let url = format!("{}{path}", m.url.trim_end_matches('/'));
            let req = match &body {
                Some(b) => self
                    .http
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                    .body(b.clone()),
                None => self.http.get(url),
            }
            .timeout(self.config.deadline);
            let req = match &self.config.auth_token {
                Some(t) => req.bearer_auth(t),
                None => req,
            };
            let deadline = self.config.deadline;
            set.spawn(async move {
                let r = tokio::time::timeout(deadline, async {
                    let resp = req.send().await.map_err(describe)?;
                    let status = resp.status();
                    let bytes = resp.bytes().await.map_err(describe)?;
                    if !status.is_success() {
                        let text = String::from_utf8_lossy(&bytes);
                        return Err(format!("HTTP {status}: {}", text.trim()));
                    }
                    Ok(bytes.to_vec())
                })
                .await
                .unwrap_or_else(|_| Err(format!("no answer within the deadline ({deadline:?})")));
                (m.node, r)
            });
        }
        let mut answers = Vec::new();
        let mut bytes = 0u64;
        while let Some(j) = set.join_next().await {
            let Ok((node, r)) = j else { continue };
            match r {
                Ok(b) => {
                    bytes += b.len() as u64;
                    answers.push((node, b));
                }
                Err(error) => failed.push(Failed { node, error }),
            }
        }
        answers.sort_by(|a, b| a.0.cmp(&b.0));
        failed.sort_by(|a, b| a.node.cmp(&b.node));
        for f in &failed {
            self.metrics.failed(&f.node);
        }
        ClusterMetrics::add(&self.metrics.bytes_received, bytes);
        Gathered {
            answers,
            failed,
            stale: view.stale,
            bytes,
        }
    }

    /// Records an answer's outcome in the counters.
    pub fn count(&self, info: &ClusterInfo) {
        ClusterMetrics::add(&self.metrics.queries, 1);
        if info.partial() {
            ClusterMetrics::add(&self.metrics.partial, 1);
        }
        if info.stale_membership {
            ClusterMetrics::add(&self.metrics.stale, 1);
        }
    }

    /// Runs InfluxQL `text` over the cluster: every member's partial answer, merged as
    /// one node holding all their data would answer.
    pub async fn influxql(
        &self,
        db: Arc<Db>,
        text: String,
        options: QueryOptions,
        nodes: Option<&[String]>,
    ) -> (QueryResponse, ClusterInfo) {
        let now = options
            .now
            .unwrap_or_else(|| db.options().clock.now_nanos());
        let req = InfluxqlRequest {
            text: text.clone(),
            now,
            node_label: self.config.node_label.clone(),
            timeout_ms: u64::try_from(self.config.deadline.as_millis()).unwrap_or(u64::MAX),
        };
        let g = self.gather(INFLUXQL_PATH, req.encode(), nodes).await;
        let mut info = ClusterInfo {
            nodes: g.answers.iter().map(|(n, _)| n.clone()).collect(),
            failed_nodes: g.failed,
            stale_membership: g.stale,
            bytes: g.bytes,
        };
        let mut answers: Vec<NodeAnswer> = Vec::new();
        for (node, bytes) in g.answers {
            match decode_answer(&bytes) {
                Ok(a) => answers.push(a),
                Err(e) => {
                    self.metrics.failed(&node);
                    info.nodes.retain(|n| *n != node);
                    info.failed_nodes.push(Failed {
                        node,
                        error: format!("bad answer: {e}"),
                    });
                }
            }
        }
        info.nodes
            .extend(info.failed_nodes.iter().map(|f| f.node.clone()));
        info.nodes.sort();
        let options = QueryOptions {
            now: Some(now),
            ..options
        };
        let resp =
            tokio::task::spawn_blocking(move || merge_answers(&db, &text, answers, &options))
                .await
                .unwrap_or_else(|e| QueryResponse::failed(format!("cluster merge failed: {e}")));
        self.count(&info);
        (resp, info)
    }
}

/// A transport error in a few words (reqwest's `Display` hides the cause).
fn describe(e: reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
