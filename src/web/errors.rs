//! Error pages. Handlers and extractors answer with a status (and sometimes a message the
//! visitor may read); this layer draws the page around it, with the request id, so that every
//! 4xx and 5xx (including those from axum's own rejections and tower's layers) looks like Cuppa.

use std::cell::Cell;

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use super::Layout;
use crate::error::ErrorPage;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    layout: Layout,
    status: u16,
    title: &'static str,
    message: String,
    request_id: String,
}

tokio::task_local! {
    /// Set during a request when some part of it found the database unreachable.
    static DATABASE_UNREACHABLE: Cell<bool>;
}

/// Tells the error-page layer that this request met an unreachable database, for failures
/// whose error type cannot say so itself (the session layer's).
pub fn note_database_unreachable() {
    let _ = DATABASE_UNREACHABLE.try_with(|flag| flag.set(true));
}

pub async fn render_error_pages(request: Request, next: Next) -> Response {
    let request_id =
        request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("unknown").to_owned();
    let (mut response, unreachable) = DATABASE_UNREACHABLE
        .scope(Cell::new(false), async {
            let response = next.run(request).await;
            (response, DATABASE_UNREACHABLE.with(Cell::get))
        })
        .await;
    if unreachable && response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response.extensions_mut().remove::<ErrorPage>();
    }
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let given = response.extensions().get::<ErrorPage>().cloned();
    let is_html = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if given.is_none() && is_html {
        // A page drawn on purpose with an error status, such as a form coming back with 422.
        return response;
    }
    let (title, default_message) = describe(status);
    let message = given.and_then(|page| page.message).unwrap_or_else(|| default_message.to_owned());
    let page = ErrorTemplate { layout: Layout::bare(), status: status.as_u16(), title, message, request_id };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    match page.render() {
        Ok(html) => {
            parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            (parts, Html(html)).into_response()
        }
        Err(err) => {
            tracing::error!(error = %err, "could not draw the error page");
            (parts, "Something went wrong.").into_response()
        }
    }
}

/// A heading and a default sentence for each status. Fixed text only: nothing from inside.
fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => {
            ("That request was not understood", "Something in the request was malformed. Please go back and try again.")
        }
        StatusCode::FORBIDDEN => ("Not allowed", "You do not have permission to do that."),
        StatusCode::NOT_FOUND => (
            "Page not found",
            "There is nothing at this address. The link may be old, or the page may have been removed.",
        ),
        StatusCode::METHOD_NOT_ALLOWED => ("Not allowed here", "This address does not accept that kind of request."),
        StatusCode::REQUEST_TIMEOUT => ("That took too long", "The request took too long to finish. Please try again."),
        StatusCode::CONFLICT => (
            "That clashes with something",
            "The request conflicts with the current state of things. Reload the page and try again.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("Too large", "What you sent is larger than Cuppa accepts."),
        StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY => (
            "Please check what you sent",
            "Some of what you sent could not be read. Please go back and check the form.",
        ),
        StatusCode::TOO_MANY_REQUESTS => ("Too many attempts", "Please wait a few minutes before you try again."),
        StatusCode::SERVICE_UNAVAILABLE => {
            ("Cuppa is briefly unavailable", "We cannot reach our database just now. Please try again in a minute.")
        }
        s if s.is_server_error() => (
            "Something went wrong",
            "Something went wrong on our side. It has been logged, and we will look into it. Please try again in a moment.",
        ),
        _ => ("That did not work", "Please go back and try again."),
    }
}
