//! Prometheus metrics, served at `/metrics` on a listener of their own (`--metrics-listen`)
//! and never on the public one: request counts by route template and status, a latency
//! histogram, the connection pool, the email outbox and the last scheduler round.
//!
//! Requests are recorded through the `metrics` facade into one process-wide recorder, which
//! `install` sets up the first time it is called; until then the request layer does nothing,
//! so a server without `--metrics-listen` pays one atomic load per request. The figures that
//! live in the database or the pool are read when Prometheus scrapes, not kept up to date.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::{SharedString, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;

use crate::notify::store as outbox;
use crate::scheduler::store as rounds;
use crate::shutdown::Shutdown;

const REQUESTS: &str = "cuppa_http_requests_total";
const REQUEST_DURATION: &str = "cuppa_http_request_duration_seconds";
/// Upper bounds of the latency buckets, in seconds: pages take milliseconds; 20 s and 120 s
/// are the request time limits (`TIMEOUTS`), so a timed-out request lands in its own bucket.
const DURATION_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 120.0];
/// The route label of a request no route matched: its raw path would let any visitor create
/// series without end.
const UNMATCHED: &str = "unmatched";
/// How long a scrape waits for the database before answering without its figures.
const DATABASE_LIMIT: Duration = Duration::from_secs(2);
/// How often histogram samples are folded into their buckets between scrapes, so that they
/// do not pile up in memory when nothing scrapes (the exporter's own default).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
/// Scrape-time gauges are process-wide: two scrapes at once must not interleave their
/// setting and rendering (tests scrape routers over different databases in one process).
static SCRAPE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Installs the process-wide recorder on the first call and returns its handle; later calls
/// return the same handle. From then on the request layer records every request.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.to_owned()), DURATION_BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Only fails if another recorder is installed, which nothing in Cuppa does; the
        // scrape-time figures still render then, without the request series.
        if let Err(err) = metrics::set_global_recorder(recorder) {
            tracing::warn!(error = %err, "could not install the metrics recorder");
        }
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_counter!(REQUESTS, "HTTP requests answered, by method, route template and status code.");
    metrics::describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Time from a request's arrival to its response headers, by method and route template."
    );
    metrics::describe_gauge!("cuppa_db_pool_connections", "Database connections this process holds, by state.");
    metrics::describe_gauge!("cuppa_db_pool_max_connections", "The most database connections the pool may open.");
    metrics::describe_gauge!("cuppa_database_up", "1 if the scrape's database queries answered in time, else 0.");
    metrics::describe_gauge!("cuppa_outbox_unsent_emails", "Emails waiting to go out: not sent, not given up on.");
    metrics::describe_gauge!(
        "cuppa_outbox_oldest_unsent_age_seconds",
        Unit::Seconds,
        "Age of the oldest email waiting to go out (0 when none waits)."
    );
    metrics::describe_gauge!(
        "cuppa_last_round_started_timestamp_seconds",
        Unit::Seconds,
        "When the latest scheduler round started, as a Unix time."
    );
    metrics::describe_gauge!(
        "cuppa_last_round_duration_seconds",
        Unit::Seconds,
        "Time the latest scheduler round took, all phases."
    );
    metrics::describe_gauge!(
        "cuppa_last_round_phase_duration_seconds",
        Unit::Seconds,
        "Time the latest scheduler round took, by phase (load, score, match, write)."
    );
    metrics::describe_gauge!("cuppa_last_round_members_considered", "Members eligible when the latest round ran.");
    metrics::describe_gauge!("cuppa_last_round_members_matchable", "Members of at least one possible pair.");
    metrics::describe_gauge!("cuppa_last_round_candidate_pairs", "Pairs the latest round weighed.");
    metrics::describe_gauge!("cuppa_last_round_pairs_made", "Coffees the latest round suggested.");
    metrics::describe_gauge!("cuppa_last_round_total_weight", "Total affinity weight of the latest round's pairs.");
}

/// The request layer: counts each request and times it, labelled by the route template
/// (`/m/{handle}`, one series for every member) rather than the path. Outermost, so the time
/// and status are what the client got, error pages and timeouts included.
pub async fn record_request(request: Request, next: Next) -> Response {
    if HANDLE.get().is_none() {
        return next.run(request).await;
    }
    let method = method_label(request.method().as_str());
    let route = match request.extensions().get::<MatchedPath>() {
        // One small allocation, shared by both series' labels.
        Some(path) => SharedString::from_shared(Arc::from(path.as_str())),
        None => SharedString::const_str(UNMATCHED),
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = status_label(response.status());
    metrics::histogram!(REQUEST_DURATION, "method" => method, "route" => route.clone()).record(elapsed);
    metrics::counter!(REQUESTS, "method" => method, "route" => route, "status" => status).increment(1);
    response
}

/// Methods outside the usual few are one label: any token is a valid method, and each would
/// be a series of its own.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// The numeric code; the codes Cuppa answers with are static strings, others allocated.
fn status_label(status: StatusCode) -> SharedString {
    let fixed = match status.as_u16() {
        200 => "200",
        204 => "204",
        206 => "206",
        303 => "303",
        304 => "304",
        400 => "400",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        415 => "415",
        422 => "422",
        429 => "429",
        500 => "500",
        503 => "503",
        _ => return SharedString::from_owned(status.as_str().to_owned()),
    };
    SharedString::const_str(fixed)
}

/// The metrics listener's whole application: `/metrics`, and 404 for anything else.
pub fn router(pool: PgPool) -> Router {
    let handle = install();
    Router::new().route("/metrics", get(show_metrics)).with_state((pool, handle))
}

/// The exposition in Prometheus' text format, with the pool, outbox and round figures read
/// now. A database that does not answer leaves those figures as they were last read and
/// says so with `cuppa_database_up 0`: the request series are still worth scraping.
async fn show_metrics(State((pool, handle)): State<(PgPool, &'static PrometheusHandle)>) -> Response {
    let _one_scrape = SCRAPE.lock().await;
    // Before the queries: a connection goes back to the pool a moment after its query, so
    // read after, the scrape would count its own connection as in use.
    let open = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
    metrics::gauge!("cuppa_db_pool_connections", "state" => "in_use").set(open.saturating_sub(idle));
    metrics::gauge!("cuppa_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("cuppa_db_pool_max_connections").set(pool.options().get_max_connections());
    let figures = tokio::time::timeout(DATABASE_LIMIT, read_figures(&pool)).await;
    let database_up = match figures {
        Ok(Ok(())) => 1.0,
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "metrics: the database figures could not be read");
            0.0
        }
        Err(_) => {
            tracing::warn!("metrics: the database figures took longer than {DATABASE_LIMIT:?}");
            0.0
        }
    };
    metrics::gauge!("cuppa_database_up").set(database_up);
    let text = handle.render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// Sets the outbox and last-round gauges from the database.
async fn read_figures(pool: &PgPool) -> sqlx::Result<()> {
    let backlog = outbox::get_outbox_backlog(pool).await?;
    metrics::gauge!("cuppa_outbox_unsent_emails").set(backlog.unsent as f64);
    metrics::gauge!("cuppa_outbox_oldest_unsent_age_seconds").set(backlog.oldest_age_seconds);
    // No round yet: no round series, rather than zeros that read as an empty round.
    if let Some(round) = rounds::list_rounds(pool, 1).await?.into_iter().next() {
        let seconds = |ms: i64| ms as f64 / 1000.0;
        metrics::gauge!("cuppa_last_round_started_timestamp_seconds")
            .set(round.started_at.timestamp_millis() as f64 / 1000.0);
        metrics::gauge!("cuppa_last_round_duration_seconds").set(seconds(round.total_ms()));
        for (phase, ms) in
            [("load", round.load_ms), ("score", round.score_ms), ("match", round.match_ms), ("write", round.write_ms)]
        {
            metrics::gauge!("cuppa_last_round_phase_duration_seconds", "phase" => phase).set(seconds(ms));
        }
        metrics::gauge!("cuppa_last_round_members_considered").set(round.members_considered as f64);
        metrics::gauge!("cuppa_last_round_members_matchable").set(round.members_matchable as f64);
        metrics::gauge!("cuppa_last_round_candidate_pairs").set(round.candidate_pairs as f64);
        metrics::gauge!("cuppa_last_round_pairs_made").set(round.pairs_made as f64);
        metrics::gauge!("cuppa_last_round_total_weight").set(round.total_weight as f64);
    }
    Ok(())
}

/// Folds recorded latencies into their buckets every few seconds until shutdown, as the
/// exporter's own server would; without it they wait in memory for the next scrape.
pub async fn run_upkeep(mut shutdown: Shutdown) {
    let handle = install();
    let mut every = tokio::time::interval(UPKEEP_INTERVAL);
    loop {
        tokio::select! {
            _ = every.tick() => handle.run_upkeep(),
            () = shutdown.wait() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusual_methods_and_codes_get_bounded_or_exact_labels() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("BREW"), "other");
        assert_eq!(status_label(StatusCode::NOT_FOUND).as_ref(), "404");
        assert_eq!(status_label(StatusCode::IM_A_TEAPOT).as_ref(), "418");
    }
}
