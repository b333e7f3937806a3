//! Shared web plumbing below every domain: the layout every page extends, flash messages,
//! CSRF tokens, security headers, error pages, form errors and the embedded static files. It
//! knows no domain: the member shown in the navigation arrives as a plain `NavMember`.

pub mod assets;
pub mod csrf;
pub mod errors;
pub mod forms;
pub mod headers;
pub mod layout;
pub mod routes;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

pub use forms::FieldErrors;
pub use layout::{Flash, FlashKind, Layout, NavMember, UNREAD_CAP};

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

/// The peer address of the connection. Cuppa does not trust `X-Forwarded-For`: any client
/// could choose its own throttling key with it. Behind a proxy every visitor shares the
/// proxy's address, which throttles more strictly, never less.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ip = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip());
        Ok(ClientAddr(ip))
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
