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
    /// The URL alerts link back to [default: http://HOSTNAME:PORT].
    #[arg(long = "web.external-url", value_name = "URL")]
    pub external_url: Option<String>,
}

/// Runs `serve` until a signal.
pub fn run(args: Args) -> CmdResult {
    let options = args.engine.options()?;
    let mut config = args.engine.server_config(&args.server)?;
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
            "strata: listening on http://{addr} (data in {})",
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
