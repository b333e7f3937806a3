//! Cuppa: turns online follows into in-person coffees. The module tree, the shared state and
//! `app(state)`, the router that production serves and the tests drive.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod feeds;
pub mod home;
pub mod invitations;
pub mod jobs;
pub mod meetups;
pub mod members;
pub mod metrics;
pub mod moderation;
pub mod notify;
pub mod photos;
pub mod scheduler;
pub mod seed;
pub mod server;
pub mod shutdown;
pub mod social;
pub mod venues;
pub mod web;

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use sqlx::PgPool;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::auth::session_store::PgSessionStore;
use crate::error::AppError;
use crate::web::routes::Routes;

/// Everything a handler may need, cloned cheaply into each request.
#[derive(Clone, Debug)]
pub struct AppState {
    pub pool: PgPool,
    /// Mark the session cookie `Secure` (set when served over https).
    pub secure_cookies: bool,
    /// The address members reach Cuppa at, for links that leave the site (calendar feeds).
    pub public_url: String,
    /// How scheduler rounds run (the admin's "run a round now" uses it too).
    pub scheduler: scheduler::Settings,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: web::TrustedProxies,
}

impl axum::extract::FromRef<AppState> for web::TrustedProxies {
    fn from_ref(state: &AppState) -> Self {
        state.trusted_proxies.clone()
    }
}

/// Requests taking longer than their limit are answered 408 and their work dropped: 20 s,
/// or 120 s for the two uploads (a file, multipart), whose time includes sending it.
pub const TIMEOUTS: web::timeout::Timeouts = web::timeout::Timeouts {
    pages: Duration::from_secs(20),
    uploads: Duration::from_secs(120),
    upload_paths: &["/settings/photo", "/settings/import"],
};
/// Nothing Cuppa accepts is larger than this: the photo upload's limit, the largest. Every
/// other route reads its body through axum's extractors, which keep their default limit of
/// 2 MB (only the upload route raises it), and the CSRF check reads at most 256 KiB of a form.
const MAX_BODY_BYTES: usize = photos::UPLOAD_BODY_LIMIT;
/// A session left unused this long is gone (it is extended at most once a day; see auth).
const SESSION_IDLE_DAYS: i64 = 14;

/// The whole web application.
pub fn app(state: AppState) -> Router {
    with_layers(routes().into_router(), state)
}

/// Every route Cuppa serves, with the list of them: the authorisation matrix test reads the
/// list, so a route cannot be added without its row of expectations.
pub fn routes() -> Routes<AppState> {
    Routes::new()
        .merge(auth::routes())
        .merge(home::routes())
        .merge(members::routes())
        .merge(social::routes())
        .merge(venues::routes())
        .merge(invitations::routes())
        .merge(meetups::routes())
        .merge(feeds::routes())
        .merge(notify::routes())
        .merge(scheduler::routes())
        .merge(moderation::routes())
        .merge(photos::routes())
        .get("/healthz", healthz)
        .get("/static/{name}", web::assets::serve_asset)
}

/// Wraps routes in every layer Cuppa serves with. Separate from `app` so that tests can put
/// probe routes behind exactly the same sessions, CSRF checks and error pages.
pub fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    let secure_cookies = state.secure_cookies;
    // One per router: it keeps the visitors' CSRF key once read (see `web::csrf`).
    let csrf = web::csrf::Csrf::new(state.pool.clone(), secure_cookies);
    let request_id = HeaderName::from_static("x-request-id");
    let sessions = SessionManagerLayer::new(PgSessionStore::new(state.pool.clone()))
        .with_name("cuppa_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.secure_cookies)
        .with_expiry(Expiry::OnInactivity(tower_sessions::cookie::time::Duration::days(SESSION_IDLE_DAYS)));
    // Router::layer wraps what came before it, so the layers read innermost first: CSRF sits
    // inside sessions, which sit inside the error pages, and the request id is outermost but for
    // the metrics.
    routes
        .fallback(|| async { AppError::NotFound })
        .with_state(state)
        .layer(from_fn_with_state(csrf, web::csrf::verify_csrf))
        .layer(sessions)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(from_fn_with_state(TIMEOUTS, web::timeout::limit_time))
        .layer(from_fn(web::errors::render_error_pages))
        .layer(from_fn_with_state(secure_cookies, web::headers::security_headers))
        .layer(CompressionLayer::new())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    // A calendar feed's path is its secret: keep it out of the logs.
                    let path = request.uri().path();
                    let path = if path.starts_with("/calendar/") { "/calendar/…" } else { path };
                    tracing::info_span!("request", id = %id, method = %request.method(), path = %path)
                })
                // One line per request at the default level, with status and latency.
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        // Outermost: times and counts what the client got. A per-route layer like the rest,
        // so it sees the route template (`MatchedPath`) the router matched.
        .layer(from_fn(metrics::record_request))
}

/// 200 when the database answers, 503 when it does not (within two seconds).
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let probe = sqlx::query_scalar!(r#"select 1 as "one!""#).fetch_one(&state.pool);
    match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(Ok(_)) => (StatusCode::OK, "ok"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable"),
    }
}
