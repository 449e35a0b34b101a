//! `strata serve`: the HTTP server (InfluxDB 1.x and Prometheus endpoints) over a data
//! directory it creates if needed. Listens on 127.0.0.1:8086 unless told otherwise, prints
//! `strata: listening on http://ADDR` on stderr once bound (the database then opens in the
//! background; `/ready` says when), and on SIGTERM or SIGINT stops accepting, cancels
//! running queries, gives in-flight requests at most `server.shutdown_timeout` (10 s),
//! closes the database (last rotation, WAL fsync) and exits.

use super::CmdResult;
use crate::config::{EngineArgs, ServerArgs};
use std::process::ExitCode;

/// Arguments of `strata serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    prometheus: PromArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// Cluster membership (etcd) and cluster queries.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClusterArgs {
    /// etcd endpoints (comma-separated `http://host:port`): join the cluster registered
    /// there. Needs --cluster.node and --cluster.advertise.
    #[arg(long = "cluster.etcd", value_name = "URLS")]
    pub etcd: Option<String>,
    /// This node's name in the cluster (the `node` tag its series get in cluster answers).
    #[arg(long = "cluster.node", value_name = "NAME")]
    pub node: Option<String>,
    /// The URL other nodes reach this node's HTTP API at [default: http://LISTEN].
    #[arg(long = "cluster.advertise", value_name = "URL")]
    pub advertise: Option<String>,
    /// Key prefix members register under in etcd.
    #[arg(
        long = "cluster.prefix",
        value_name = "PREFIX",
        default_value = "/strata/members/"
    )]
    pub prefix: String,
    /// Lease TTL: a node that stops renewing leaves the member list after this long.
    #[arg(long = "cluster.lease-ttl", value_name = "DURATION", default_value = "10s", value_parser = crate::config::parse_duration)]
    pub lease_ttl: std::time::Duration,
    /// Longest a member may take to answer one cluster query before it is left out.
    #[arg(long = "cluster.deadline", value_name = "DURATION", default_value = "5s", value_parser = crate::config::parse_duration)]
    pub deadline: std::time::Duration,
    /// The tag / label each member adds to its series at query time.
    #[arg(
        long = "cluster.node-label",
        value_name = "NAME",
        default_value = "node"
    )]
    pub node_label: String,
    /// PEM CA certificates to check members' `https://` certificates against (in place of
    /// the built-in web roots).
    #[arg(long = "cluster.tls-ca-file", value_name = "FILE")]
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate shown to members that verify clients (with
    /// --cluster.tls-key-file).
    #[arg(long = "cluster.tls-cert-file", value_name = "FILE")]
    pub tls_cert_file: Option<std::path::PathBuf>,
    /// PEM private key of --cluster.tls-cert-file.
    #[arg(long = "cluster.tls-key-file", value_name = "FILE")]
    pub tls_key_file: Option<std::path::PathBuf>,
    /// Results a subscriber's buffer holds before the subscriber is dropped as too slow.
    #[arg(long = "subscribe.buffer", value_name = "N", default_value_t = 16)]
    pub subscribe_buffer: usize,
}

impl ClusterArgs {
    /// The cluster settings, or None without `--cluster.etcd`.
    fn config(
        &self,
        listen: std::net::SocketAddr,
        auth_token: Option<String>,
    ) -> Result<Option<strata_cluster::ClusterConfig>, String> {
        let Some(etcd) = &self.etcd else {
            if self.node.is_some() || self.advertise.is_some() {
                return Err("--cluster.node and --cluster.advertise need --cluster.etcd".into());
            }
            if self.tls_ca_file.is_some()
                || self.tls_cert_file.is_some()
                || self.tls_key_file.is_some()
            {
                return Err("--cluster.tls-* flags need --cluster.etcd".into());
            }
            return Ok(None);
        };
        let node =
            self.node.clone().filter(|n| !n.is_empty()).ok_or(
                "--cluster.etcd needs --cluster.node NAME (this node's name in the cluster)",
            )?;
        if self.node_label.is_empty() {
            return Err("--cluster.node-label must not be empty".into());
        }
        if self.lease_ttl < std::time::Duration::from_secs(2) {
            return Err("--cluster.lease-ttl must be at least 2s".into());
        }
        let advertise = self
            .advertise
            .clone()
            .unwrap_or_else(|| format!("http://{listen}"));
        Ok(Some(strata_cluster::ClusterConfig {
            membership: strata_cluster::MembershipConfig {
                etcd: etcd
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(str::to_owned)
                    .collect(),
                prefix: self.prefix.clone(),
                node,
                advertise,
                lease_ttl: self.lease_ttl,
            },
            deadline: self.deadline,
            node_label: self.node_label.clone(),
            auth_token,
            tls: strata_cluster::ClusterTls {
                ca_file: self.tls_ca_file.clone(),
                cert_file: self.tls_cert_file.clone(),
                key_file: self.tls_key_file.clone(),
            },
        }))
    }
}

/// Flags spelt as Prometheus spells them, for running in its place.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PromArgs {
    /// Prometheus configuration file (prometheus.yml): scrape its targets, evaluate its
    /// rule files and send alerts to its Alertmanagers.
    #[arg(long = "config.file", value_name = "FILE")]
    pub config_file: Option<std::path::PathBuf>,
    /// Allow POST /-/reload (SIGHUP always reloads).
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,
    /// Allow Prometheus' TSDB admin API: POST /api/v1/admin/tsdb/delete_series and
    /// /api/v1/admin/tsdb/clean_tombstones.
    #[arg(long = "web.enable-admin-api")]
    pub enable_admin_api: bool,
    /// The URL alerts link back to [default: http://HOSTNAME:PORT].
    #[arg(long = "web.external-url", value_name = "URL")]
    pub external_url: Option<String>,
}

/// Runs `serve` until a signal.
pub fn run(args: Args) -> CmdResult {
    let mut options = args.engine.options()?;
    if options.compaction_threads == 0 {
        options.compaction_threads = serve_compaction_threads();
    }
    let mut config = args.engine.server_config(&args.server)?;
    config.enable_admin_api = args.prometheus.enable_admin_api;
    if let Some(file) = &args.prometheus.config_file {
        // A file that does not load stops the start, as in Prometheus.
        strata_scrape::config::load(file).map_err(|e| {
            format!(
                "error loading config from {:?}: {e}",
                file.display().to_string()
            )
        })?;
        config.prometheus = Some(strata_server::prometheus::PrometheusSetup {
            config_file: file.clone(),
            enable_lifecycle: args.prometheus.enable_lifecycle,
            external_url: args.prometheus.external_url.clone(),
        });
    }
    config.subscribe_buffer = args.cluster.subscribe_buffer.max(1);
    config.cluster = args
        .cluster
        .config(config.listen, config.auth_token.clone())?;
    // A web configuration that does not load stops the start, as in Prometheus.
    let scheme = match &config.web_config_file {
        Some(file) => match strata_server::web_config::load(file) {
            Ok(web) if web.tls.is_some() => "https",
            Ok(_) => "http",
            Err(e) => return Err(format!("error loading web configuration: {e}").into()),
        },
        None => "http",
    };
    let dir = args.engine.data_dir.clone();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "strata: listening on {scheme}://{addr} (data in {})",
            dir.display()
        );
        strata_server::serve(listener, dir, options, config, shutdown_signal()).await?;
        eprintln!("strata: stopped; database closed");
        Ok(ExitCode::SUCCESS)
    });
    // A blocking task still running (a cancelled query between two checks) does not hold
    // the process.
    runtime.shutdown_timeout(strata_server::RUNTIME_SHUTDOWN);
    served
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    eprintln!("strata: shutting down: finishing requests, closing the database");
}

/// Background compaction's threads when none are set: half the cores, at least 1, so that
/// a compaction never takes every core from ingest and queries.
fn serve_compaction_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).max(1)
}
