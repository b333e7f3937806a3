//! Calendars and feeds: an `.ics` file for one agreed coffee or one meetup, each member's
//! private feed of every upcoming coffee and every meetup they are going to at
//! `/calendar/{token}.ics`, and the Atom feed of upcoming public meetups at `/meetups.atom`.
//! The token is the only key to the private feed (calendar apps cannot log in), so it is long,
//! random, and can be reset from the settings; feed requests read no session and write none.
//!
//! Coffees are written in UTC; meetups in their venue's time zone (`TZID=Europe/London`), as
//! the meetups issue asks, since calendar apps resolve IANA zone names (see `ics`).

pub mod atom;
pub mod ics;
pub mod store;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::auth::{CurrentMember, MaybeMember};
use crate::error::{AppError, AppResult};
use crate::invitations::model::State as InvitationState;
use crate::meetups::model::{Meetup, RsvpStatus};
use crate::web::forms::encode_query_value;
use crate::web::routes::Routes;
use crate::web::{Flash, Layout};

/// Entries in the Atom feed: the soonest meetups.
const ATOM_ENTRIES: i64 = 50;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/invitations/{id}/calendar.ics", download_coffee)
        .get("/meetups/{id}/calendar.ics", download_meetup)
        .get("/meetups.atom", meetups_atom)
        .get("/calendar/{file}", calendar_feed)
        .get("/settings/calendar", calendar_settings)
        .post("/settings/calendar/reset", reset_calendar)
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
    let body = ics::calendar("Cuppa", ics::coffee_events(std::slice::from_ref(&invitation), member.id));
    Ok(ics_response(body, &filename))
}

/// One meetup, for anyone who may see its page (anonymous visitors: public meetups); a
/// cancelled one downloads as a cancelled event.
async fn download_meetup(
    State(state): State<AppState>,
    MaybeMember(member): MaybeMember,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let mut conn = state.pool.acquire().await?;
    let (meetup, _) = crate::meetups::load_visible(&mut conn, member.as_ref(), id).await?;
    drop(conn);
    let body = ics::calendar("Cuppa", [ics::meetup_event(&meetup, &state.public_url)]);
    Ok(ics_response(body, &format!("meetup-{id}.ics")))
}

/// The meetups still to come that `member` has a seat at (not those they only wait for).
async fn going_meetups(state: &AppState, member: i64) -> AppResult<Vec<Meetup>> {
    let mut meetups = crate::meetups::store::list_member_meetups(&state.pool, member).await?;
    let ids: Vec<i64> = meetups.iter().map(|m| m.id).collect();
    let going: Vec<i64> = crate::meetups::store::list_rsvps_of(&state.pool, member, &ids)
        .await?
        .into_iter()
        .filter(|r| r.status == RsvpStatus::Going)
        .map(|r| r.meetup_id)
        .collect();
    meetups.retain(|m| going.contains(&m.id));
    Ok(meetups)
}

/// The private feed: every upcoming coffee of the member the token belongs to, and every
/// meetup they are going to.
async fn calendar_feed(State(state): State<AppState>, Path(file): Path<String>) -> AppResult<Response> {
    let token = file.strip_suffix(".ics").ok_or(AppError::NotFound)?;
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    let (member, name) = store::find_member_by_token(&state.pool, token).await?.ok_or(AppError::NotFound)?;
    let coffees = crate::invitations::store::list_upcoming_coffees(&state.pool, member).await?;
    let meetups = going_meetups(&state, member).await?;
    let events = ics::coffee_events(&coffees, member)
        .chain(meetups.iter().map(|meetup| ics::meetup_event(meetup, &state.public_url)));
    let body = ics::calendar(&format!("Cuppa: {name}'s coffees and meetups"), events);
    Ok(ics_response(body, "cuppa.ics"))
}

#[derive(Debug, Default, Deserialize)]
struct AtomQuery {
    /// A city (any case); absent or empty for every city.
    city: Option<String>,
}

/// Upcoming public meetups, soonest first, as an Atom feed; `?city=` keeps one city's. Each
/// city's feed has an id of its own (the city lower-cased, so `Leeds` and `leeds` are one feed).
async fn meetups_atom(State(state): State<AppState>, Query(query): Query<AtomQuery>) -> AppResult<Response> {
    let city = query.city.as_deref().map(str::trim).filter(|c| !c.is_empty());
    // No viewer: public meetups of active organisers only.
    let meetups = crate::meetups::store::list_upcoming(&state.pool, None, city, false, None, ATOM_ENTRIES).await?;
    let base = state.public_url.trim_end_matches('/');
    let (title, id, self_url, page_url) = match city {
        Some(city) => (
            format!("Cuppa meetups in {city}"),
            format!("{base}/meetups.atom?city={}", encode_query_value(&city.to_lowercase())),
            format!("{base}/meetups.atom?city={}", encode_query_value(city)),
            format!("{base}/meetups?city={}", encode_query_value(city)),
        ),
        None => (
            "Cuppa meetups".to_owned(),
            format!("{base}/meetups.atom"),
            format!("{base}/meetups.atom"),
            // An empty city: every city, as the feed, whoever follows the link.
            format!("{base}/meetups?city="),
        ),
    };
    let body = atom::feed(&title, &id, &self_url, &page_url, base, &meetups)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing the Atom feed: {e}")))?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/atom+xml; charset=utf-8"));
    // The same for everyone (no session is read), so shared caches may keep it a little while.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(response)
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
