//! `cuppa serve`: the web server and its background jobs under one shutdown signal.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::{AppState, app, jobs};

/// How long in-flight requests get to finish after a shutdown signal. Idle keep-alive
/// connections would otherwise hold the process open indefinitely.
const DRAIN_LIMIT: Duration = Duration::from_secs(15);

/// A cloneable view of "shutdown has been asked for".
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// A sender to trigger shutdown and the receiver side to wait on.
    pub fn new() -> (watch::Sender<bool>, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown(rx))
    }

    pub async fn wait(&mut self) {
        // An error means the sender is gone, which also means: stop.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

/// Binds the configured address (port 0 picks a free one).
pub async fn bind(config: &Config) -> anyhow::Result<TcpListener> {
    TcpListener::bind(config.listen).await.with_context(|| format!("could not listen on {}", config.listen))
}

/// Serves until `shutdown` fires, then lets in-flight requests finish (up to the drain limit).
pub async fn serve(listener: TcpListener, state: AppState, run_jobs: bool, shutdown: Shutdown) -> anyhow::Result<()> {
    let mut jobs = tokio::task::JoinSet::new();
    if run_jobs {
        jobs.spawn(jobs::prune_auth_rows(state.pool.clone(), shutdown.clone()));
    }
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    let mut graceful = shutdown.clone();
    let server = axum::serve(listener, service).with_graceful_shutdown(async move { graceful.wait().await });
    let mut drain = shutdown.clone();
    let drain_limit = async move {
        drain.wait().await;
        tokio::time::sleep(DRAIN_LIMIT).await;
    };
    tokio::select! {
        result = server => result.context("server failed")?,
        () = drain_limit => tracing::warn!("requests still running after {DRAIN_LIMIT:?}; stopping anyway"),
    }
    while jobs.join_next().await.is_some() {}
    Ok(())
}
