//! The extractors that carry authorisation. Each request reads the member's row afresh, in the
//! same statement that loads the session (`session_store`), so a new role or a suspension
//! applies to the very next request. Hidden members stay logged in: hiding takes them away
//! from others, not Cuppa from them.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, Uri, header};
use chrono::Utc;
use tower_sessions::Session;

use super::session_store::{LOADED_KEY, Loaded};
use crate::AppState;
use crate::error::AppError;
use crate::members::model::{Member, Status};
use crate::web::{Flash, Layout, NavMember, csrf, safe_next};

pub(super) const MEMBER_KEY: &str = "member_id";
/// When the member logged in (unix seconds), for the absolute session limit.
pub(super) const AUTH_AT_KEY: &str = "auth_at";
/// The day (days since 1970) the session was last extended.
pub(super) const SEEN_ON_KEY: &str = "seen_on";
/// Where a member reads an admin's warning (see `Layout`).
pub const WARNING_PATH: &str = "/warning";
/// However active, a log-in lasts at most this long.
const ABSOLUTE_LIMIT_SECS: i64 = 30 * 24 * 3600;

/// The visitor's member, if logged in and not suspended (hidden members included).
#[derive(Clone, Debug)]
pub struct MaybeMember(pub Option<Member>);

/// A logged-in member who is not suspended; anyone else is sent to the log-in page.
#[derive(Clone, Debug)]
pub struct CurrentMember(pub Member);

/// A logged-in organiser who is not suspended (admins organise too).
#[derive(Clone, Debug)]
pub struct Organiser(pub Member);

/// A logged-in admin who is not suspended.
#[derive(Clone, Debug)]
pub struct Admin(pub Member);

/// Who asks, for the most requested path, the photos of every list: the session's member id,
/// read from the session alone, without the member's row, and never written back (no day
/// stamp, no flash). One round trip fewer than `MaybeMember`; the caller checks the member's
/// status in its own statement (a suspended member's session still holds its id until their
/// next page logs them out).
#[derive(Clone, Copy, Debug)]
pub struct Viewer(pub Option<i64>);

async fn session_of(parts: &mut Parts, state: &AppState) -> Result<Session, AppError> {
    Session::from_request_parts(parts, state)
        .await
        .map_err(|(_, why)| AppError::Internal(anyhow::anyhow!("session layer missing: {why}")))
}

/// The member once per request, with their unread count; later extractors in the same request
/// reuse it.
async fn load_member(parts: &mut Parts, state: &AppState) -> Result<Loaded, AppError> {
    if let Some(loaded) = parts.extensions.get::<Loaded>() {
        return Ok(loaded.clone());
    }
    let session = session_of(parts, state).await?;
    let loaded = member_of_session(&session).await?;
    parts.extensions.insert(loaded.clone());
    Ok(loaded)
}

async fn member_of_session(session: &Session) -> Result<Loaded, AppError> {
    let logged_out = Loaded { member: None, unread: 0 };
    if session.get::<i64>(MEMBER_KEY).await?.is_none() {
        return Ok(logged_out);
    }
    let now = Utc::now().timestamp();
    let auth_at = session.get::<i64>(AUTH_AT_KEY).await?.unwrap_or(0);
    if now - auth_at > ABSOLUTE_LIMIT_SECS {
        session.flush().await?;
        Flash::info("Your session has ended. Please log in again.").push(session).await?;
        return Ok(logged_out);
    }
    // A session with a member id is always loaded with its member: within one request no
    // extractor runs after the log-in that sets the id.
    let loaded = session.get::<Loaded>(LOADED_KEY).await?.unwrap_or(Loaded { member: None, unread: 0 });
    match &loaded.member {
        Some(member) if member.status == Status::Suspended => {
            session.flush().await?;
            Flash::error("Your account is suspended, so you have been logged out.").push(session).await?;
            Ok(logged_out)
        }
        // A deleted account's sessions go with it; this one was read before the deletion.
        Some(member) if member.status == Status::Deleted => {
            session.flush().await?;
            Ok(logged_out)
        }
        Some(_) => {
            // The store counts inactivity from the last write, and pages only read: extend
            // the session with one write a day rather than one per page view.
            let today = now / 86_400;
            if session.get::<i64>(SEEN_ON_KEY).await? != Some(today) {
                session.insert(SEEN_ON_KEY, today).await?;
            }
            Ok(loaded)
        }
        None => {
            session.flush().await?;
            Ok(logged_out)
        }
    }
}

/// Off to log in, and back afterwards to the page asked for. A form's target is no page (a
/// POST-only path answers the browser's GET after log-in with 405): the member goes back to
/// the page the form was on, as its `Referer` says, or home.
fn unauthorized(parts: &Parts, state: &AppState) -> AppError {
    let next = if matches!(parts.method, Method::GET | Method::HEAD) {
        parts.uri.path_and_query().map_or("/", |pq| pq.as_str()).to_owned()
    } else {
        referring_page(parts, &state.public_url).unwrap_or_else(|| "/".to_owned())
    };
    AppError::Unauthorized { next }
}

/// The path and query of the `Referer` when it is a page of this site: its host is the one
/// the request was sent to, or the public URL's (a proxy may have rewritten `Host`).
fn referring_page(parts: &Parts, public_url: &str) -> Option<String> {
    let referer: Uri = parts.headers.get(header::REFERER)?.to_str().ok()?.parse().ok()?;
    let host = referer.authority()?.as_str();
    let requested = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let public = public_url.parse::<Uri>().ok().and_then(|uri| uri.authority().cloned());
    let ours = requested.is_some_and(|h| h.eq_ignore_ascii_case(host))
        || public.is_some_and(|p| p.as_str().eq_ignore_ascii_case(host));
    ours.then(|| safe_next(referer.path_and_query().map(|pq| pq.as_str())))
}

impl FromRequestParts<AppState> for MaybeMember {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(MaybeMember(load_member(parts, state).await?.member))
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = session_of(parts, state).await?;
        Ok(Viewer(session.get::<i64>(MEMBER_KEY).await?))
    }
}

impl FromRequestParts<AppState> for CurrentMember {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match load_member(parts, state).await?.member {
            Some(member) => Ok(CurrentMember(member)),
            None => Err(unauthorized(parts, state)),
        }
    }
}

impl FromRequestParts<AppState> for Organiser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let CurrentMember(member) = CurrentMember::from_request_parts(parts, state).await?;
        if member.is_organiser() {
            Ok(Organiser(member))
        } else {
            Err(AppError::Forbidden("Only organisers can do that."))
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let CurrentMember(member) = CurrentMember::from_request_parts(parts, state).await?;
        if member.is_admin() { Ok(Admin(member)) } else { Err(AppError::Forbidden("Only admins can do that.")) }
    }
}

/// The frame for a page: the navigation's member and their unread notifications, flash
/// messages (taken, so shown once) and the CSRF token for the page's forms. Put it after any auth extractor in a handler's
/// arguments, so a redirect to log-in does not swallow the flash meant for that page.
impl FromRequestParts<AppState> for Layout {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Loaded { member, unread } = load_member(parts, state).await?;
        // A warning is read before anything else: every page but the warning's own sends the
        // member there until they acknowledge it.
        if member.as_ref().is_some_and(|m| m.warned) && parts.uri.path() != WARNING_PATH {
            return Err(AppError::SeeOther(WARNING_PATH));
        }
        let session = session_of(parts, state).await?;
        Ok(Layout {
            unread,
            member: member.map(|m| NavMember {
                is_admin: m.is_admin(),
                verified: m.verified,
                handle: m.handle,
                display_name: m.display_name,
            }),
            flashes: Flash::take_all(&session).await?,
            csrf_token: csrf::page_token(&session, &parts.extensions).await?,
            bare: false,
        })
    }
}
