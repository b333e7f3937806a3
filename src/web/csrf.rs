//! CSRF protection: a token sent back with every state-changing request as the form field
//! `csrf_token` (or the `X-CSRF-Token` header, for scripts). File uploads carry it as the first
//! field of their multipart body, never in the URL, where browser history and proxy logs would
//! keep it. An origin check alone lets through clients that send neither `Origin` nor
//! `Sec-Fetch-Site`; a token does not.
//!
//! **Two kinds of secret, one kind of token.** A token is a 32-byte secret masked with a fresh
//! random pad (see `mask`), and the secret comes from one of two places:
//!
//! - A session that holds a secret (every logged-in member's: log-in draws one, `renew`) is
//!   checked against it, and only against it.
//! - A visitor without one gets no session at all, so that looking at the landing page, the
//!   log-in form or a public meetup writes nothing to the database (issue 15). They get a
//!   cookie instead, `cuppa_csrf` (`__Host-cuppa_csrf` with secure cookies: a sibling
//!   subdomain cannot plant that one), holding 32 random bytes; their secret is a keyed
//!   BLAKE2b of the cookie ("signed double submit"). A cross-site page can make the browser
//!   send the cookie but can read neither it nor a page holding the token; the key means that
//!   a cookie value that leaked (a proxy's log) still makes no token. It does not stop whoever
//!   can write the visitor's cookies (a sibling host, or the network over plain http) from
//!   planting a cookie and token pair of their own, which they can fetch like anyone: only the
//!   `__Host-` name over https stops that, as it did for a planted session. The cookie is
//!   HttpOnly, SameSite=Lax like the session's, has no Max-Age (it ends with the browser
//!   session: it is a random number, and nothing should follow a visitor longer than their
//!   visit), and is set only on a response drawn in the site's frame (`Layout` makes the token
//!   for the page's forms), so assets, feeds, redirects and error pages set nothing.
//!
//! The key is a row of `csrf_key`, drawn by its migration and read once per router (the first
//! time a visitor needs it): every replica on one database, and a restarted process, accept
//! the others' tokens, and no page view ever writes it. Logging in cycles the session id and
//! draws a session secret, so neither the visitor's token nor anything planted before log-in
//! works after it; logging out leaves a session without a secret, so the visitor's cookie
//! takes over again.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody, to_bytes};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use blake2::Blake2bMac;
use blake2::digest::Mac;
use blake2::digest::consts::U32;
use hyper::body::{Frame, SizeHint};
use rand::RngExt;
use sqlx::PgPool;
use tokio::sync::OnceCell;
use tower_sessions::Session;
use tower_sessions::cookie::{Cookie, SameSite};

use crate::error::AppError;

const SESSION_KEY: &str = "csrf";
pub const FIELD: &str = "csrf_token";
const HEADER: &str = "x-csrf-token";
/// The visitor's cookie over plain http (development, tests).
pub const COOKIE: &str = "cuppa_csrf";
/// The visitor's cookie with secure cookies: the `__Host-` prefix makes browsers refuse it
/// unless it is `Secure`, has `Path=/` and no `Domain`, so no other host can set it.
pub const SECURE_COOKIE: &str = "__Host-cuppa_csrf";
/// Separates this use of the key from any other it might be put to (BLAKE2's personalisation).
const PERSONA: &[u8] = b"cuppa csrf v1";
/// Forms are small; the global body limit still applies to everything else.
const MAX_FORM_BYTES: usize = 256 * 1024;
/// How much of a multipart body is read ahead for its first field, the token: far more than
/// a boundary, one field's headers and a token take, far less than the upload after them.
const MULTIPART_LOOKAHEAD_BYTES: usize = 4 * 1024;

/// What the CSRF layer keeps between requests: where the visitors' key is, the key once read,
/// and which cookie name the site uses. One per router (`with_layers`).
#[derive(Clone, Debug)]
pub struct Csrf {
    pool: PgPool,
    key: Arc<OnceCell<Key>>,
    secure_cookies: bool,
}

/// The key that signs visitors' cookies (never printed).
struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Csrf {
    pub fn new(pool: PgPool, secure_cookies: bool) -> Csrf {
        Csrf { pool, key: Arc::new(OnceCell::new()), secure_cookies }
    }

    fn cookie_name(&self) -> &'static str {
        if self.secure_cookies { SECURE_COOKIE } else { COOKIE }
    }

    /// The key, read from the database the first time it is needed. A failed read is not
    /// kept: the next request tries again.
    async fn key(&self) -> Result<&Key, AppError> {
        self.key
            .get_or_try_init(|| async {
                let key = sqlx::query_scalar!("select key from csrf_key").fetch_one(&self.pool).await?;
                // The table's check keeps it at 32 bytes.
                let key = <[u8; 32]>::try_from(key.as_slice())
                    .map_err(|_| anyhow::anyhow!("csrf_key.key is not 32 bytes long"))?;
                Ok::<_, AppError>(Key(key))
            })
            .await
    }

    /// The visitor secret that belongs to a cookie value.
    async fn visitor_secret(&self, cookie: &[u8; 32]) -> Result<[u8; 32], AppError> {
        let Key(key) = self.key().await?;
        Ok(sign(key, cookie))
    }

    /// The visitor's cookie as the request carries it, if it is one Cuppa could have set.
    fn cookie_in(&self, headers: &HeaderMap) -> Option<[u8; 32]> {
        let name = self.cookie_name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .filter(|cookie| cookie.name() == name)
            .find_map(|cookie| from_hex(cookie.value()).and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()))
    }

    /// `Set-Cookie` for a new visitor cookie holding `value`.
    fn set_cookie(&self, value: &[u8; 32]) -> Option<HeaderValue> {
        let cookie = Cookie::build((self.cookie_name(), to_hex(value)))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure_cookies)
            .build();
        HeaderValue::from_str(&cookie.to_string()).ok()
    }
}

/// The keyed BLAKE2b of a visitor's cookie: their CSRF secret.
fn sign(key: &[u8; 32], cookie: &[u8; 32]) -> [u8; 32] {
    let mac = Blake2bMac::<U32>::new_with_salt_and_personal(Some(key), &[], PERSONA)
        .expect("a 32-byte key and a persona of at most 16 bytes are valid");
    mac.chain_update(cookie).finalize().into_bytes().into()
}

/// The visitor's cookie for this request, put in the request's extensions by the CSRF layer
/// for `page_token`: the one the browser sent, or a new one that the response sets if a page
/// handed out a token made from it.
#[derive(Clone)]
struct Visitor(Arc<VisitorCookie>);

struct VisitorCookie {
    csrf: Csrf,
    value: [u8; 32],
    /// Drawn for this request: the browser sent none (or one Cuppa could not have set).
    new: bool,
    /// A token was made from it, so the browser must keep it.
    handed_out: AtomicBool,
}

/// The token for a page's forms: from the session's secret when it has one (a member's), else
/// from the visitor's cookie, which the response then sets if the browser has none yet.
/// Nothing is written to the session either way.
pub async fn page_token(session: &Session, extensions: &Extensions) -> Result<String, AppError> {
    if let Some(secret) = session.get::<String>(SESSION_KEY).await? {
        return Ok(mask(&from_hex(&secret).unwrap_or_default()));
    }
    let Some(Visitor(visitor)) = extensions.get::<Visitor>() else {
        return Err(AppError::Internal(anyhow::anyhow!("the CSRF layer is missing")));
    };
    let secret = visitor.csrf.visitor_secret(&visitor.value).await?;
    visitor.handed_out.store(true, Ordering::Relaxed);
    Ok(mask(&secret))
}

/// A token from the session's secret, drawing one if it has none: for the page fragments that
/// members' htmx requests swap in (a follow button). Pages take theirs from `page_token`.
pub async fn token(session: &Session) -> Result<String, tower_sessions::session::Error> {
    let secret = match session.get::<String>(SESSION_KEY).await? {
        Some(secret) => secret,
        None => {
            let secret = random_token();
            session.insert(SESSION_KEY, &secret).await?;
            secret
        }
    };
    Ok(mask(&from_hex(&secret).unwrap_or_default()))
}

/// Draws a new session secret (at log-in, with the new session id): tokens from before, the
/// visitor's or anyone's, stop working, and the member's pages take theirs from the session.
pub async fn renew(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.insert(SESSION_KEY, random_token()).await
}

/// The secret masked with a fresh random pad, so that no two pages carry the same string:
/// compressed pages that also reflect input (a search box) cannot be used to guess the secret
/// byte by byte (BREACH).
fn mask(secret: &[u8]) -> String {
    let pad: [u8; 32] = rand::rng().random();
    let masked: Vec<u8> = pad.iter().zip(secret).map(|(p, s)| p ^ s).collect();
    format!("{}{}", to_hex(&pad), to_hex(&masked))
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

/// Whether a presented token unmasks to the secret.
fn token_matches(presented: &str, secret: &[u8]) -> bool {
    let Some(presented) = from_hex(presented) else {
        return false;
    };
    if presented.len() != 2 * secret.len() || secret.is_empty() {
        return false;
    }
    let (pad, masked) = presented.split_at(secret.len());
    let unmasked: Vec<u8> = pad.iter().zip(masked).map(|(p, m)| p ^ m).collect();
    constant_time_eq(&unmasked, secret)
}

/// Refuses any request that may change state unless it carries the token of the session's
/// secret or, for a session without one, of the visitor's cookie. Also gives every request the
/// visitor's cookie for `page_token`, and sets a new one on the response when a page used it.
pub async fn verify_csrf(State(csrf): State<Csrf>, session: Session, mut request: Request, next: Next) -> Response {
    let sent = csrf.cookie_in(request.headers());
    let visitor = Arc::new(VisitorCookie {
        csrf: csrf.clone(),
        value: sent.unwrap_or_else(|| rand::rng().random()),
        new: sent.is_none(),
        handed_out: AtomicBool::new(false),
    });
    request.extensions_mut().insert(Visitor(visitor.clone()));
    let mut response = if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        next.run(request).await
    } else {
        check(&csrf, &session, sent, request, next).await
    };
    if visitor.new
        && visitor.handed_out.load(Ordering::Relaxed)
        && let Some(cookie) = csrf.set_cookie(&visitor.value)
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The check itself, for a request that may change state; `cookie` is the visitor's cookie
/// as sent.
async fn check(csrf: &Csrf, session: &Session, cookie: Option<[u8; 32]>, request: Request, next: Next) -> Response {
    let expected = match session.get::<String>(SESSION_KEY).await {
        Ok(Some(secret)) => from_hex(&secret).unwrap_or_default(),
        // A session without a secret (a visitor's, holding only a flash message) or no
        // session at all: the visitor's cookie decides.
        Ok(None) => match cookie {
            Some(cookie) => match csrf.visitor_secret(&cookie).await {
                Ok(secret) => secret.to_vec(),
                Err(err) => return err.into_response(),
            },
            None => return rejected(),
        },
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
        let secret: [u8; 32] = rand::rng().random();
        let (one, two) = (mask(&secret), mask(&secret));
        assert_ne!(one, two);
        assert!(token_matches(&one, &secret) && token_matches(&two, &secret));
        assert!(!token_matches(&to_hex(&secret), &secret), "the bare secret is not a token");
        assert!(!token_matches("zz", &secret));
        assert!(!token_matches(&one, &rand::rng().random::<[u8; 32]>()));
        assert!(!token_matches(&mask(&[]), &[]), "an empty secret matches nothing");
    }

    #[test]
    fn a_visitors_secret_depends_on_both_the_key_and_the_cookie() {
        let (key, cookie) = ([7; 32], [9; 32]);
        assert_ne!(sign(&key, &cookie), sign(&[8; 32], &cookie), "no token without the key");
        assert_ne!(sign(&key, &cookie), sign(&key, &[10; 32]), "another cookie, another secret");
        assert_ne!(sign(&key, &cookie), cookie, "the cookie alone is not the secret");
    }

    // A runtime, since a pool (never connected here) may start tasks of its own.
    #[tokio::test]
    async fn only_a_cookie_cuppa_could_have_set_is_read() {
        let csrf = |secure| Csrf {
            pool: PgPool::connect_lazy("postgres://127.0.0.1/unused").unwrap(),
            key: Arc::new(OnceCell::new()),
            secure_cookies: secure,
        };
        let value = [0xab; 32];
        let headers = |cookie: String| {
            let mut headers = HeaderMap::new();
            headers.insert(header::COOKIE, HeaderValue::from_str(&cookie).unwrap());
            headers
        };
        let hex = to_hex(&value);
        assert_eq!(csrf(false).cookie_in(&headers(format!("a=b; {COOKIE}={hex}"))), Some(value));
        assert_eq!(csrf(true).cookie_in(&headers(format!("{SECURE_COOKIE}={hex}"))), Some(value));
        assert_eq!(csrf(true).cookie_in(&headers(format!("{COOKIE}={hex}"))), None, "the plain name is not read");
        assert_eq!(csrf(false).cookie_in(&headers(format!("{COOKIE}=abc"))), None);
        assert_eq!(csrf(false).cookie_in(&headers(format!("{COOKIE}={}", "zz".repeat(32)))), None);
        let set = csrf(true).set_cookie(&value).unwrap();
        let set = set.to_str().unwrap();
        assert!(set.starts_with(&format!("{SECURE_COOKIE}={hex}")), "{set}");
        for attribute in ["Path=/", "HttpOnly", "SameSite=Lax", "Secure"] {
            assert!(set.contains(attribute), "{set} lacks {attribute}");
        }
        assert!(!set.contains("Max-Age") && !set.contains("Domain"), "{set}");
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
