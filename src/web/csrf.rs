//! CSRF protection: a random token per session, sent back with every state-changing request
//! as the form field `csrf_token` (or the `X-CSRF-Token` header, for scripts). File uploads
//! carry it as the first field of their multipart body, never in the URL, where browser
//! history and proxy logs would keep it. An origin check alone lets through clients that send
//! neither `Origin` nor `Sec-Fetch-Site`; a token does not.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody, to_bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, SizeHint};
use rand::RngExt;
use tower_sessions::Session;

use crate::error::AppError;

const SESSION_KEY: &str = "csrf";
pub const FIELD: &str = "csrf_token";
const HEADER: &str = "x-csrf-token";
/// Forms are small; the global body limit still applies to everything else.
const MAX_FORM_BYTES: usize = 256 * 1024;
/// How much of a multipart body is read ahead for its first field, the token: far more than
/// a boundary, one field's headers and a token take, far less than the upload after them.
const MULTIPART_LOOKAHEAD_BYTES: usize = 4 * 1024;

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
    let mut readable = true;
    let body = if content_type.starts_with("application/x-www-form-urlencoded") {
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return AppError::BadRequest("The form was too large.".to_owned()).into_response();
        };
        if presented.is_none() {
            presented = form_field(&bytes, FIELD);
        }
        readable = decodes_to_utf8(&bytes);
        Body::from(bytes)
    } else if presented.is_none() && content_type.starts_with("multipart/form-data") {
        // An upload is not buffered whole: only its start is read, and handed on with the rest.
        let Ok((start, rest)) = read_start(body, MULTIPART_LOOKAHEAD_BYTES).await else {
            return AppError::BadRequest("The upload was cut off. Please try again.".to_owned()).into_response();
        };
        // The start is whole frames, which may be far longer than the lookahead: the token
        // must be complete within the lookahead itself, and nothing past it is parsed.
        presented =
            first_multipart_field(content_type, start.slice(..start.len().min(MULTIPART_LOOKAHEAD_BYTES))).await;
        Body::new(ReadAhead { start: Some(start), rest })
    } else {
        body
    };
    match presented {
        Some(token) if token_matches(&token, &expected) && !readable => {
            AppError::BadRequest("The form was not sent as UTF-8 text, so it could not be read.".to_owned())
                .into_response()
        }
        Some(token) if token_matches(&token, &expected) => next.run(Request::from_parts(parts, body)).await,
        _ => rejected(),
    }
}

/// Whether a urlencoded body's names and values decode to UTF-8. Browsers send Cuppa's forms
/// in UTF-8; axum's `Form` reads anything else with U+FFFD in place of the bytes that are not,
/// and what was sent would be stored changed without a word. `&` and `=` are ASCII, so
/// decoding the body whole tells the same as decoding each name and value.
fn decodes_to_utf8(body: &[u8]) -> bool {
    std::str::from_utf8(&url_decode(body)).is_ok()
}

/// The bytes a urlencoded name or value stands for: `+` is a space and `%XX` a byte; a `%`
/// not followed by two hex digits stands for itself, as browsers and axum's `Form` read it.
pub fn url_decode(encoded: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::with_capacity(encoded.len());
    let mut rest = encoded;
    let digit = |byte: &u8| char::from(*byte).to_digit(16);
    while let Some((&byte, after)) = rest.split_first() {
        if let (b'%', [high, low, tail @ ..]) = (byte, after)
            && let (Some(high), Some(low)) = (digit(high), digit(low))
        {
            decoded.push((high * 16 + low) as u8);
            rest = tail;
        } else {
            decoded.push(if byte == b'+' { b' ' } else { byte });
            rest = after;
        }
    }
    decoded
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

/// The first `at_least` bytes of a body (fewer if it is shorter), and the body after them.
async fn read_start(mut body: Body, at_least: usize) -> Result<(Bytes, Body), axum::Error> {
    let mut start = Vec::new();
    while start.len() < at_least {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    start.extend_from_slice(&data);
                }
            }
            Some(Err(err)) => return Err(err),
            None => break,
        }
    }
    Ok((Bytes::from(start), body))
}

/// The value of a multipart body's first field when that field is the token, read from the
/// start of the body alone (the field must end within it).
async fn first_multipart_field(content_type: &str, start: Bytes) -> Option<String> {
    let request = Request::post("/").header(header::CONTENT_TYPE, content_type).body(Body::from(start)).ok()?;
    let mut multipart = Multipart::from_request(request, &()).await.ok()?;
    let field = multipart.next_field().await.ok()??;
    if field.name() != Some(FIELD) {
        return None;
    }
    field.text().await.ok()
}

/// A body whose start was read ahead: that start again, then the rest as it arrives.
struct ReadAhead {
    start: Option<Bytes>,
    rest: Body,
}

impl HttpBody for ReadAhead {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.start.take() {
            Some(start) if !start.is_empty() => Poll::Ready(Some(Ok(Frame::data(start)))),
            _ => Pin::new(&mut self.rest).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.start.as_ref().is_none_or(Bytes::is_empty) && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let start = self.start.as_ref().map_or(0, Bytes::len) as u64;
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + start);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + start);
        }
        hint
    }
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

    #[test]
    fn only_forms_that_decode_to_utf8_are_readable() {
        for good in ["", "a=b&c=d", "name=Zo%C3%AB+O%27Brien", "x=%E2%98%95", "x=%zz&y=%", "x=100%25", "x=%c3%a9"] {
            assert!(decodes_to_utf8(good.as_bytes()), "{good}");
        }
        for bad in ["x=%FF", "x=%C3%28", "x=%ED%A0%80", "x=%C0%80", "x=%F4%90%80%80", "x=%C3&y=%A9", "%FF=x"] {
            assert!(!decodes_to_utf8(bad.as_bytes()), "{bad}");
        }
        assert!(!decodes_to_utf8(b"x=\xff"), "raw bytes that are not UTF-8");
        assert_eq!(url_decode(b"Zo%C3%AB+O%27Brien%zz%4"), "Zoë O'Brien%zz%4".as_bytes());
    }

    /// A body that arrives in these pieces, one frame each.
    fn in_pieces(pieces: &[&'static str]) -> Body {
        pieces.iter().rev().fold(Body::empty(), |rest, piece| {
            Body::new(ReadAhead { start: Some(Bytes::from_static(piece.as_bytes())), rest })
        })
    }

    #[tokio::test]
    async fn an_uploads_start_is_read_across_pieces_and_handed_on_with_the_rest() {
        let (start, rest) = read_start(in_pieces(&["ab", "cdef", "gh"]), 3).await.unwrap();
        assert_eq!(&start[..], b"abcdef");
        let whole = to_bytes(Body::new(ReadAhead { start: Some(start), rest }), usize::MAX).await.unwrap();
        assert_eq!(&whole[..], b"abcdefgh");
        let (start, rest) = read_start(in_pieces(&["ab"]), 3).await.unwrap();
        assert_eq!((&start[..], rest.is_end_stream()), (&b"ab"[..], true));
    }

    #[tokio::test]
    async fn only_a_complete_first_field_named_csrf_token_counts() {
        let kind = "multipart/form-data; boundary=b";
        let field = |name: &str, value: &str| {
            format!("--b\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
        };
        let first = format!("{}{}--b--\r\n", field(FIELD, "abc"), field("file", "x"));
        assert_eq!(first_multipart_field(kind, Bytes::from(first.clone())).await.as_deref(), Some("abc"));
        // Cut off after the token but before the next boundary: the token may go on.
        let cut = first.split("\r\n--b").next().unwrap().to_owned();
        assert_eq!(first_multipart_field(kind, Bytes::from(cut)).await, None);
        let second = format!("{}{}--b--\r\n", field("file", "x"), field(FIELD, "abc"));
        assert_eq!(first_multipart_field(kind, Bytes::from(second)).await, None);
    }
}
