//! Calendars: an `.ics` file for one agreed coffee, and each member's private feed of every
//! upcoming coffee at `/calendar/{token}.ics`. The token is the only key to the feed (calendar
//! apps cannot log in), so it is long, random, and can be reset from the settings.

pub mod ics;
pub mod store;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tower_sessions::Session;

use crate::AppState;
use crate::auth::CurrentMember;
use crate::error::{AppError, AppResult};
use crate::invitations::model::State as InvitationState;
use crate::web::{Flash, Layout};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/invitations/{id}/calendar.ics", get(download_coffee))
        .route("/calendar/{file}", get(calendar_feed))
        .route("/settings/calendar", get(calendar_settings))
        .route("/settings/calendar/reset", post(reset_calendar))
}

fn ics_response(body: String, filename: &str) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// One agreed coffee, for either of its two people.
async fn download_coffee(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (invitation, side) = crate::invitations::load_for(&state, &member, id).await?;
    if !matches!(invitation.state, InvitationState::Accepted | InvitationState::Held) {
        return Err(AppError::Conflict("Only an agreed coffee can go in a calendar.".to_owned()));
    }
    let (_, _, other_handle) = invitation.other(side);
    let filename = format!("coffee-with-{other_handle}.ics");
    let body = ics::calendar("Cuppa", std::slice::from_ref(&invitation), member.id);
    Ok(ics_response(body, &filename))
}

/// The private feed: every upcoming coffee of the member the token belongs to.
async fn calendar_feed(State(state): State<AppState>, Path(file): Path<String>) -> AppResult<Response> {
    let token = file.strip_suffix(".ics").ok_or(AppError::NotFound)?;
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    let (member, name) = store::find_member_by_token(&state.pool, token).await?.ok_or(AppError::NotFound)?;
    let coffees = crate::invitations::store::list_upcoming_coffees(&state.pool, member).await?;
    let body = ics::calendar(&format!("Cuppa: {name}'s coffees"), &coffees, member);
    Ok(ics_response(body, "cuppa.ics"))
}

#[derive(Template, WebTemplate)]
#[template(path = "feeds/settings.html")]
struct CalendarSettingsPage {
    layout: Layout,
    feed_url: String,
}

async fn calendar_settings(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    layout: Layout,
) -> AppResult<CalendarSettingsPage> {
    let token = store::get_token(&state.pool, member.id).await?;
    let feed_url = format!("{}/calendar/{token}.ics", state.public_url.trim_end_matches('/'));
    Ok(CalendarSettingsPage { layout, feed_url })
}

async fn reset_calendar(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
) -> AppResult<Redirect> {
    store::reset_token(&state.pool, member.id).await?;
    Flash::success("Your calendar address is new. The old one no longer works: update your calendar app.")
        .push(&session)
        .await?;
    Ok(Redirect::to("/settings/calendar"))
}
