//! CSRF protection: a random token per session, sent back with every state-changing request
//! as the form field `csrf_token` (or the `X-CSRF-Token` header, for scripts; or, for file
//! uploads, whose bodies this layer does not buffer, a `csrf_token` query parameter). An origin check
//! alone lets through clients that send neither `Origin` nor `Sec-Fetch-Site`; a token does not.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngExt;
use tower_sessions::Session;

use crate::error::AppError;

const SESSION_KEY: &str = "csrf";
pub const FIELD: &str = "csrf_token";
const HEADER: &str = "x-csrf-token";
/// Forms are small; the global body limit still applies to everything else.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The session's token, made on first use.
pub async fn token(session: &Session) -> Result<String, tower_sessions::session::Error> {
    if let Some(token) = session.get::<String>(SESSION_KEY).await? {
        return Ok(token);
    }
    let token = random_token();
    session.insert(SESSION_KEY, &token).await?;
    Ok(token)
}

/// 32 random bytes as hex.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Refuses any request that may change state unless it carries the session's token.
pub async fn verify_csrf(session: Session, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let expected = match session.get::<String>(SESSION_KEY).await {
        Ok(Some(token)) => token,
        Ok(None) => return rejected(),
        Err(err) => return AppError::from(err).into_response(),
    };
    let (parts, body) = request.into_parts();
    let mut presented = parts.headers.get(HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    // A file upload's body is not read here: its form carries the token in its action URL.
    if presented.is_none() && content_type.starts_with("multipart/form-data") {
        presented = parts.uri.query().and_then(|query| form_field(query.as_bytes(), FIELD));
    }
    let body = if is_form {
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return AppError::BadRequest("The form was too large.".to_owned()).into_response();
        };
        if presented.is_none() {
            presented = form_field(&bytes, FIELD);
        }
        Body::from(bytes)
    } else {
        body
    };
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => {
            next.run(Request::from_parts(parts, body)).await
        }
        _ => rejected(),
    }
}

fn rejected() -> Response {
    AppError::Forbidden("This form has expired or did not come from Cuppa. Go back, reload the page and try again.")
        .into_response()
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
