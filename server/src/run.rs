//! Starting and stopping: bind, open the database in the background, serve, shut down
//! gracefully and close the database.

use crate::app::{AppState, DbSlot, router};
use crate::config::Config;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use strata_engine::{Db, Options};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The database did not open.
    #[error("could not open the database in {dir}: {source}")]
    Open {
        /// The data directory.
        dir: PathBuf,
        /// The engine's error.
        source: strata_engine::Error,
    },
    /// Closing the database at shutdown failed (acknowledged writes are in the WAL
    /// regardless; the next open replays them).
    #[error("closing the database failed: {0}")]
    Close(strata_engine::Error),
    /// The cluster client could not be set up.
    #[error("cluster: {0}")]
    Cluster(#[from] strata_cluster::etcd::EtcdError),
    /// The web configuration file (`--web.config.file`) could not be used.
    #[error("web configuration: {0}")]
    WebConfig(#[from] crate::web_config::WebConfigError),
    /// Listening or serving failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Serves on `listener` until `shutdown` resolves (or the database fails to open), then
/// stops accepting, cancels running queries, gives in-flight requests at most
/// `config.shutdown_timeout` to finish (then closes their connections) and closes the
/// database. A blocking task that outlives this (a query between two checks) must not
/// hold up the process: drop the runtime with `Runtime::shutdown_timeout`, as
/// [`RunningServer`] and `strata serve` do, with at most [`RUNTIME_SHUTDOWN`].
pub async fn serve(
    listener: TcpListener,
    dir: PathBuf,
    options: Options,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let web = match &config.web_config_file {
        Some(path) => Some(Arc::new(crate::web_reload::LiveWebConfig::open(path)?)),
        None => None,
    };
    // TLS or not is the first version's choice; each handshake takes the current settings.
    let tls = web
        .clone()
        .filter(|w| w.current().is_ok_and(|s| s.tls.is_some()))
        .map(|w| -> crate::conn::TlsSource {
            Arc::new(move || match w.current() {
                Ok(crate::web_config::WebSetup { tls: Some(c), .. }) => {
                    Ok(tokio_rustls::TlsAcceptor::from(c))
                }
                Ok(_) => Err(std::io::Error::other(
                    "the web configuration file no longer has TLS settings (restart to serve plain HTTP)",
                )),
                Err(e) => Err(std::io::Error::other(e)),
            })
        });
    let mut state = AppState::new(config);
    state.web = web;
    let state = Arc::new(state);
    if let Some(c) = state.config.cluster.clone() {
        *state.cluster.write() = Some(Arc::new(strata_cluster::Cluster::start(c)?));
    }
    let (failed_tx, mut failed_rx) = watch::channel(false);
    let open_state = state.clone();
    let open_dir = dir.clone();
    let opener = tokio::task::spawn_blocking(move || {
        let result = Db::open(&open_dir, options);
        let mut slot = open_state.db.write();
        match result {
            Ok(db) => {
                tracing::info!("database open in {}", open_dir.display());
                *slot = DbSlot::Open(Arc::new(db));
                None
            }
            Err(e) => {
                tracing::error!("could not open {}: {e}", open_dir.display());
                *slot = DbSlot::Failed(e.to_string());
                drop(slot);
                let _ = failed_tx.send(true);
                Some(e)
            }
        }
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let agent = state.config.prometheus.clone().map(|setup| {
        tokio::spawn(crate::prometheus::run(
            state.clone(),
            setup,
            stop_rx.clone(),
        ))
    });
    let poller = tokio::spawn(poll_overload(state.clone(), stop_rx));
    let app = router(state.clone());
    let open_failed = async move {
        if failed_rx.wait_for(|f| *f).await.is_err() {
            // The opener finished without failing (and dropped its sender).
            std::future::pending::<()>().await;
        }
    };
    let cancel = state.cancel.clone();
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            () = open_failed => {}
        }
        // Running statements stop at their next check; their requests answer at once.
        cancel.cancel();
    };
    crate::conn::serve(listener, app, state.config.connection_bounds(), tls, stop).await;
    // Leave the cluster (revoke the lease) so the others stop asking at once.
    let cluster = state.cluster.write().take();
    if let Some(c) = cluster {
        c.leave().await;
    }
    let _ = stop_tx.send(true);
    let _ = poller.await;
    if let Some(agent) = agent {
        let _ = agent.await;
    }
    let open_error = opener.await.ok().flatten();
    let closed = close_db(&state).await;
    if let Some(source) = open_error {
        return Err(ServeError::Open { dir, source });
    }
    closed
}

/// Takes the database out of the state and closes it (last rotation, WAL fsync). If a
/// request somehow still holds it, flushes the WAL instead.
async fn close_db(state: &Arc<AppState>) -> Result<(), ServeError> {
    let slot = std::mem::replace(&mut *state.db.write(), DbSlot::Closed);
    let DbSlot::Open(db) = slot else {
        return Ok(());
    };
    let closed = tokio::task::spawn_blocking(move || match Arc::try_unwrap(db) {
        Ok(db) => db.close(),
        Err(shared) => shared.flush(),
    })
    .await;
    match closed {
        Ok(r) => r.map_err(ServeError::Close),
        Err(e) => Err(ServeError::Close(strata_engine::Error::Internal(format!(
            "close task failed: {e}"
        )))),
    }
}

/// Refreshes `state.overload` every `overload_check_every` until told to stop.
async fn poll_overload(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    let every = state
        .config
        .overload_check_every
        .max(Duration::from_millis(10));
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = tokio::time::sleep(every) => {}
        }
        let Ok(db) = state.db() else { continue };
        let now = tokio::task::spawn_blocking(move || db.overloaded())
            .await
            .ok()
            .flatten();
        let mut o = state.overload.write();
        if now.is_some() != o.is_some() {
            match &now {
                Some(why) => tracing::warn!("refusing writes: {why}"),
                None => tracing::info!("accepting writes again"),
            }
        }
        *o = now;
    }
}

/// How long dropping the runtime waits for blocking tasks still running after
/// [`serve`] returned (a cancelled statement stops within one batch of work).
pub const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(2);

/// A server running on its own thread and runtime: for tests and embedding.
pub struct RunningServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServeError>>>,
}

impl RunningServer {
    /// Binds `config.listen` (port 0 picks a free port) and serves `dir` on a new thread.
    pub fn start(
        dir: PathBuf,
        options: Options,
        config: Config,
    ) -> Result<RunningServer, ServeError> {
        let io = |what: &str| {
            let what = what.to_owned();
            move |source| ServeError::Io { what, source }
        };
        if let Some(path) = &config.web_config_file {
            // Refused here rather than when the server thread starts.
            crate::web_config::load(path)?;
        }
        let std_listener = std::net::TcpListener::bind(config.listen)
            .map_err(io(&format!("binding {}", config.listen)))?;
        std_listener
            .set_nonblocking(true)
            .map_err(io("setting the listener non-blocking"))?;
        let addr = std_listener
            .local_addr()
            .map_err(io("reading the bound address"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(io("starting the runtime"))?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("strata-server".into())
            .spawn(move || {
                let served = runtime.block_on(async move {
                    let listener = TcpListener::from_std(std_listener)
                        .map_err(io("registering the listener"))?;
                    serve(listener, dir, options, config, async move {
                        let _ = rx.await;
                    })
                    .await
                });
                runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
                served
            })
            .map_err(io("starting the server thread"))?;
        Ok(RunningServer {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shuts down gracefully and waits: in-flight requests finish, the database closes.
    pub fn stop(mut self) -> Result<(), ServeError> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(ServeError::Close(strata_engine::Error::Internal(
                "the server thread panicked".into(),
            ))),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}
