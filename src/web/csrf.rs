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

/// A token for a page's forms, made from the session's secret (drawn on first use). Each call
/// masks the secret with a fresh random pad, so no two pages carry the same string: compressed
/// pages that also reflect input (a search box) cannot be used to guess the secret byte by
/// byte (BREACH).
pub async fn token(session: &Session) -> Result<String, tower_sessions::session::Error> {
    let secret = match session.get::<String>(SESSION_KEY).await? {
        Some(secret) => secret,
        None => {
            let secret = random_token();
            session.insert(SESSION_KEY, &secret).await?;
            secret
        }
    };
    let secret = from_hex(&secret).unwrap_or_default();
    let pad: [u8; 32] = rand::rng().random();
    let masked: Vec<u8> = pad.iter().zip(&secret).map(|(p, s)| p ^ s).collect();
    Ok(format!("{}{}", to_hex(&pad), to_hex(&masked)))
}

/// Forgets the session's secret, so tokens from before (say, before log-in) stop working.
pub async fn forget(session: &Session) -> Result<(), tower_sessions::session::Error> {
    if session.get_value(SESSION_KEY).await?.is_some() {
        session.remove_value(SESSION_KEY).await?;
    }
    Ok(())
}

/// 32 random bytes as hex.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    to_hex(&bytes)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

/// Whether a presented token unmasks to the session's secret.
fn token_matches(presented: &str, secret: &str) -> bool {
    let (Some(presented), Some(secret)) = (from_hex(presented), from_hex(secret)) else {
        return false;
    };
    if presented.len() != 2 * secret.len() || secret.is_empty() {
        return false;
    }
    let (pad, masked) = presented.split_at(secret.len());
    let unmasked: Vec<u8> = pad.iter().zip(masked).map(|(p, m)| p ^ m).collect();
    constant_time_eq(&unmasked, &secret)
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
        Some(token) if token_matches(&token, &expected) => next.run(Request::from_parts(parts, body)).await,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_tokens_differ_but_all_unmask_to_the_secret() {
        let secret = random_token();
        let mask = |pad: [u8; 32]| {
            let secret = from_hex(&secret).unwrap();
            let masked: Vec<u8> = pad.iter().zip(&secret).map(|(p, s)| p ^ s).collect();
            format!("{}{}", to_hex(&pad), to_hex(&masked))
        };
        let (one, two) = (mask([1; 32]), mask([2; 32]));
        assert_ne!(one, two);
        assert!(token_matches(&one, &secret) && token_matches(&two, &secret));
        assert!(!token_matches(&secret, &secret), "the bare secret is not a token");
        assert!(!token_matches("zz", &secret));
        assert!(!token_matches(&one, &random_token()));
    }
}
