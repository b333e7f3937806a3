//! `cuppa serve`: the web server and its background jobs under one shutdown signal.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use sqlx::PgPool;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tower::ServiceExt;

use crate::config::Config;
use crate::notify::sender::{self, Mailer};
use crate::shutdown::Shutdown;
use crate::{AppState, app, jobs, metrics};

/// How long in-flight requests get to finish after a shutdown signal. Idle keep-alive
/// connections would otherwise hold the process open indefinitely.
const DRAIN_LIMIT: Duration = Duration::from_secs(15);

/// How long connections accepted before a shutdown signal get to show their first request
/// before idle connections are closed.
const FIRST_REQUEST_GRACE: Duration = Duration::from_millis(100);

/// Connections the kernel may hold ready before Cuppa accepts them. The usual default (128,
/// which std and tokio use) overflows when a few hundred clients connect at once: the kernel
/// drops the rest of their SYNs, and those clients wait a second for a retry. The kernel caps
/// this at `net.core.somaxconn` (4096 on current Linux).
const LISTEN_BACKLOG: u32 = 1024;

/// Binds the configured address (port 0 picks a free one).
pub async fn bind(config: &Config) -> anyhow::Result<TcpListener> {
    listen_on(config.listen)
}

/// Binds the metrics address, when one is configured (`--metrics-listen`).
pub async fn bind_metrics(config: &Config) -> anyhow::Result<Option<TcpListener>> {
    config.metrics_listen.map(listen_on).transpose()
}

fn listen_on(address: SocketAddr) -> anyhow::Result<TcpListener> {
    let listen = || {
        let socket = if address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        // As `TcpListener::bind` does: a restart may bind while old connections linger.
        socket.set_reuseaddr(true)?;
        socket.bind(address)?;
        socket.listen(LISTEN_BACKLOG)
    };
    listen().with_context(|| format!("could not listen on {address}"))
}

/// A client gets this long to send its request headers; a slow trickle (slowloris) is cut off
/// instead of holding a connection open for ever.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What the background jobs need beyond the database.
#[derive(Debug)]
pub struct Jobs {
    pub mailer: Mailer,
}

/// Serves Cuppa until `shutdown` fires, with the background jobs beside it when given
/// (`None` for a web-only replica), and the metrics on their own listener when given.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    run_jobs: Option<Jobs>,
    metrics_listener: Option<TcpListener>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut jobs = tokio::task::JoinSet::new();
    if let Some(Jobs { mailer }) = run_jobs {
        jobs.spawn(jobs::prune_auth_rows(state.pool.clone(), shutdown.clone()));
        jobs.spawn(crate::invitations::jobs::run(state.pool.clone(), shutdown.clone()));
        jobs.spawn(sender::run_sender(state.pool.clone(), mailer, shutdown.clone()));
        jobs.spawn(crate::scheduler::round::run_weekly(state.pool.clone(), state.scheduler.clone(), shutdown.clone()));
    }
    let (pool, metrics_shutdown) = (state.pool.clone(), shutdown.clone());
    let scrapes = async move {
        match metrics_listener {
            Some(listener) => serve_metrics(listener, pool, metrics_shutdown).await,
            None => Ok(()),
        }
    };
    // Both listeners stop on the same signal and drain the same way.
    let (site, scrapes) = tokio::join!(serve_router(listener, app(state), HEADER_READ_TIMEOUT, shutdown), scrapes);
    site.and(scrapes)?;
    while jobs.join_next().await.is_some() {}
    Ok(())
}

/// Serves `/metrics` on its own listener until `shutdown` fires. Installing the recorder here
/// is what turns on the request layer of the site's router.
pub async fn serve_metrics(listener: TcpListener, pool: PgPool, shutdown: Shutdown) -> anyhow::Result<()> {
    let router = metrics::router(pool);
    let (served, ()) = tokio::join!(
        serve_router(listener, router, HEADER_READ_TIMEOUT, shutdown.clone()),
        metrics::run_upkeep(shutdown)
    );
    served
}

/// Serves `router` over HTTP/1.1 until `shutdown` fires, then stops accepting and lets
/// in-flight requests finish, for at most the drain limit. Written on hyper directly rather
/// than `axum::serve`, which sets no timer and so no header-read timeout.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    mut shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
    let graceful = GracefulShutdown::new();
    let serve = |stream: TcpStream, peer: SocketAddr| {
        let service = router.clone().map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    };
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %err, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.wait() => break,
        };
        serve(stream, peer);
    }
    // Connections the kernel completed before the signal wait in the listen queue, their
    // requests sent: closing the listener would reset them. They are taken in and served
    // like the rest; a connection that arrives from now on is refused.
    match listener.into_std() {
        Ok(listener) => {
            while let Ok((stream, peer)) = listener.accept() {
                match stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream)) {
                    Ok(stream) => serve(stream, peer),
                    Err(err) => tracing::warn!(error = %err, "could not take in a waiting connection"),
                }
            }
        }
        Err(err) => tracing::warn!(error = %err, "could not take in the waiting connections"),
    }
    // hyper's graceful shutdown closes at once a connection that has shown no request yet. A
    // client that connected just before the signal has sent its request, but it may not have
    // been read: closed unread, the client would see the connection drop with no answer. A
    // moment's grace lets those requests arrive, and they then finish like any in flight.
    tokio::time::sleep(FIRST_REQUEST_GRACE).await;
    if tokio::time::timeout(DRAIN_LIMIT, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still running after {DRAIN_LIMIT:?}; stopping anyway");
    }
    Ok(())
}
