//! One error type for every handler. It knows its status; the page itself is drawn by
//! `web::errors::render_error_pages`, which can see the request id and the layout.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("too many requests until {until}")]
    TooManyRequests { until: DateTime<Utc> },
    /// Not logged in: answered with a redirect to the log-in page, coming back to `next`.
    #[error("log-in required")]
    Unauthorized { next: String },
    /// Answered with a redirect elsewhere first (a warning the member must read).
    #[error("see {0}")]
    SeeOther(&'static str),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("template error: {0}")]
    Template(#[from] askama::Error),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        // A pool that cannot hand out a connection, a socket that broke, or a server that is
        // shutting down, restarting or not yet accepting connections (SQLSTATE 57P01, 57P02,
        // 57P03: it ends the connection mid-query) means the database is unavailable for now:
        // a 503 the visitor can retry, not a bug.
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                AppError::Unavailable(err.to_string())
            }
            sqlx::Error::Database(ref db) if matches!(db.code().as_deref(), Some("57P01" | "57P02" | "57P03")) => {
                AppError::Unavailable(err.to_string())
            }
            other => AppError::Database(other),
        }
    }
}

/// Session errors lose their cause on the way through tower-sessions; when the cause was an
/// unreachable database, `PgSessionStore` has already told the error-page layer, which then
/// answers 503 instead of 500.
impl From<tower_sessions::session::Error> for AppError {
    fn from(err: tower_sessions::session::Error) -> Self {
        AppError::Internal(anyhow::Error::new(err).context("session store"))
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unauthorized { .. } | AppError::SeeOther(_) => StatusCode::SEE_OTHER,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) | AppError::Template(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the visitor may be told. Server-side failures say nothing of their cause.
    fn public_message(&self) -> Option<String> {
        match self {
            AppError::Forbidden(why) => Some((*why).to_owned()),
            AppError::Conflict(why) | AppError::BadRequest(why) => Some(why.clone()),
            AppError::TooManyRequests { until } => {
                Some(format!("Too many attempts. Please try again after {} UTC.", until.format("%H:%M")))
            }
            _ => None,
        }
    }
}

/// Carried on an error response so that the error-page layer can draw it.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    pub message: Option<String>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Unauthorized { next } = &self {
            return Redirect::to(&crate::web::login_url(next)).into_response();
        }
        if let AppError::SeeOther(path) = &self {
            return Redirect::to(path).into_response();
        }
        let status = self.status();
        if status.is_server_error() {
            // Logged once, here, inside the request's span (which carries the request id).
            tracing::error!(error = %self, "request failed");
        }
        let mut response = (status, ErrorPage { message: self.public_message() }).into_response();
        if let AppError::TooManyRequests { until } = &self {
            let seconds = (*until - Utc::now()).num_seconds().max(1);
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let mut response = Response::new(axum::body::Body::empty());
        response.extensions_mut().insert(self);
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;
