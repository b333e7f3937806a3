//! Shared web plumbing below every domain: the layout every page extends, flash messages,
//! CSRF tokens, security headers, error pages, form errors and the embedded static files. It
//! knows no domain: the member shown in the navigation arrives as a plain `NavMember`.

pub mod assets;
pub mod bidi;
pub mod csrf;
pub mod errors;
pub mod forms;
pub mod headers;
pub mod layout;
pub mod proxy;
pub mod routes;
pub mod timeout;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, header};
use chrono::{DateTime, Utc};

pub use forms::FieldErrors;
pub use layout::{Flash, FlashKind, Layout, NavMember, UNREAD_CAP};
pub use proxy::{Cidr, TrustedProxies};

/// The log-in page, coming back to `next` afterwards.
pub fn login_url(next: &str) -> String {
    if next.is_empty() || next == "/" {
        "/login".to_owned()
    } else {
        format!("/login?next={}", forms::encode_query_value(next))
    }
}

/// A path that is safe to redirect to after log-in: local to this site, never another host.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        // Browsers drop tabs and newlines from URLs and read `\` as `/`, so "/\t/evil" or
        // "/\\evil" would become "//evil", another host: refuse all of them.
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.chars().any(|c| c == '\\' || c.is_control()) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The `Retry-After` header of a 429 that lifts at `until` (in whole seconds, at least one).
pub fn retry_after(until: DateTime<Utc>) -> [(HeaderName, HeaderValue); 1] {
    let seconds = (until - Utc::now()).num_seconds().max(1);
    [(header::RETRY_AFTER, HeaderValue::from(seconds))]
}

/// The client's address, the key of the log-in and sign-up throttles. It is the connection's
/// peer, unless the peer is one of the `--trusted-proxy` ranges: then it is read from
/// `X-Forwarded-For` (see `TrustedProxies::client`). An untrusted peer's header is ignored, or
/// any client could choose its own throttling key by sending one.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr
where
    TrustedProxies: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip());
        Ok(ClientAddr(TrustedProxies::from_ref(state).client(peer, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_log_in() {
        assert_eq!(safe_next(Some("/settings/privacy?x=1")), "/settings/privacy?x=1");
        for hostile in ["//evil.example", "/\\evil.example", "/\t/evil.example", "https://evil.example", "evil"] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
