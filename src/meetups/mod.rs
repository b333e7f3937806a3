//! Group meetups: organisers post them at an approved venue with a capacity; members RSVP,
//! wait on a list, are checked in, and tick whom they met. Every change to a meetup's seats
//! locks the meetup row first (`store::lock_meetup`), so seats are never oversold, and records
//! its notices in the same transaction. Writes `meetups`, `rsvps`, `meetup_met_ticks`,
//! `met_pairs` (two ticks) and, through `notify`, `notifications` and `outbox`.

pub mod model;
pub mod store;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::auth::{CurrentMember, MaybeMember, Organiser};
use crate::error::{AppError, AppResult};
use crate::members::model::{Member, Status};
use crate::notify::model::{Kind, Notice};
use crate::photos::model::Size;
use crate::social::store::MetHow;
use crate::venues::model::Venue;
use crate::web::bidi::isolate;
use crate::web::routes::Routes;
use crate::web::{FieldErrors, Flash, Layout};
use model::{ANNOUNCEMENT_FIELD, Meetup, MeetupForm, Part, Repeat, RsvpStatus, Visibility, notice, ordinal};
use store::Attendee;

/// Meetups per page of `/meetups`.
const PAGE_SIZE: i64 = 20;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/meetups", list_meetups)
        .get("/meetups/new", new_meetup_form)
        .post("/meetups/new", create_meetup)
        .get("/meetups/{id}", show_meetup)
        .get("/meetups/{id}/edit", edit_meetup_form)
        .post("/meetups/{id}/edit", update_meetup)
        .post("/meetups/{id}/cancel", cancel_meetup)
        .post("/meetups/{id}/rsvp", rsvp)
        .post("/meetups/{id}/rsvp/cancel", cancel_rsvp)
        .post("/meetups/{id}/invite-followers", invite_followers)
        .post("/meetups/{id}/announce", announce)
        .post("/meetups/{id}/check-in", check_in)
        .post("/meetups/{id}/met", tick_met)
        .get("/organise", list_organised)
}

/// Who is looking at a meetup, and what they may do with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Viewer {
    Anonymous,
    Member,
    /// The organiser who owns it, or an admin: may change it and check people in.
    Manager,
}

/// The meetup `member` (or an anonymous visitor) may see, and how they see it. Anyone else is
/// told it does not exist, as for profiles: a followers-only meetup to a non-follower, anything
/// across a block with the organiser (either way), a suspended organiser's meetups. Anonymous
/// visitors are sent to log in for a meetup that is not public.
pub(crate) async fn load_visible(
    db: &mut sqlx::PgConnection,
    member: Option<&Member>,
    id: i64,
) -> AppResult<(Meetup, Viewer)> {
    let meetup = store::find_meetup(&mut *db, id).await?.ok_or(AppError::NotFound)?;
    let Some(member) = member else {
        return match (meetup.organiser_status, meetup.is_public()) {
            (Status::Active, true) => Ok((meetup, Viewer::Anonymous)),
            (Status::Active, false) => Err(AppError::Unauthorized { next: format!("/meetups/{id}") }),
            _ => Err(AppError::NotFound),
        };
    };
    if meetup.organiser_id == member.id || member.is_admin() {
        return Ok((meetup, Viewer::Manager));
    }
    let relation = crate::social::store::get_relation(&mut *db, member.id, meetup.organiser_id).await?;
    if relation.blocked_either_way() || (!meetup.is_public() && !relation.i_follow) {
        return Err(AppError::NotFound);
    }
    if meetup.organiser_status != Status::Active {
        return Err(AppError::NotFound);
    }
    Ok((meetup, Viewer::Member))
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    /// A city; empty for every city. Absent: the viewer's own.
    city: Option<String>,
    /// "on": only meetups organised by people the viewer follows.
    followed: Option<String>,
    /// The keyset of the previous page's last meetup: `<unix microseconds>_<id>`.
    after: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "meetups/list.html")]
struct MeetupsPage {
    layout: Layout,
    meetups: Vec<Meetup>,
    city: String,
    followed: bool,
    logged_in: bool,
    is_organiser: bool,
    /// The link to the next page, when there is one.
    next: Option<String>,
    paged: bool,
}

impl MeetupsPage {
    fn first_page(&self) -> String {
        self.link(None)
    }

    fn link(&self, after: Option<&Meetup>) -> String {
        let mut query = vec![format!("city={}", crate::web::forms::encode_query_value(&self.city))];
        if self.followed {
            query.push("followed=on".to_owned());
        }
        if let Some(last) = after {
            // To the microsecond, as stored: a start cut to the second would sort before the
            // stored one and bring this meetup (and any sharing its second) back on the next page.
            query.push(format!("after={}_{}", last.starts_at.timestamp_micros(), last.id));
        }
        format!("/meetups?{}", query.join("&"))
    }
}

fn parse_after(raw: &str) -> Option<(DateTime<Utc>, i64)> {
    let (micros, id) = raw.split_once('_')?;
    Some((DateTime::from_timestamp_micros(micros.parse().ok()?)?, id.parse().ok()?))
}

async fn list_meetups(
    State(state): State<AppState>,
    MaybeMember(member): MaybeMember,
    Query(query): Query<ListQuery>,
    layout: Layout,
) -> AppResult<MeetupsPage> {
    let city = match (query.city, &member) {
        (Some(city), _) => city.trim().to_owned(),
        (None, Some(member)) => member.city.clone(),
        (None, None) => String::new(),
    };
    let followed = member.is_some() && query.followed.as_deref() == Some("on");
    let after = match query.after.as_deref().filter(|raw| !raw.is_empty()) {
        Some(raw) => {
            Some(parse_after(raw).ok_or_else(|| AppError::BadRequest("That page link is broken.".to_owned()))?)
        }
        None => None,
    };
    let viewer = member.as_ref().map(|m| m.id);
    let city_filter = Some(city.as_str()).filter(|c| !c.is_empty());
    let mut meetups = store::list_upcoming(&state.pool, viewer, city_filter, followed, after, PAGE_SIZE + 1).await?;
    let more = meetups.len() as i64 > PAGE_SIZE;
    meetups.truncate(PAGE_SIZE as usize);
    let mut page = MeetupsPage {
        layout,
        meetups,
        city,
        followed,
        logged_in: member.is_some(),
        is_organiser: member.as_ref().is_some_and(Member::is_organiser),
        next: None,
        paged: after.is_some(),
    };
    if more {
        page.next = Some(page.link(page.meetups.last()));
    }
    Ok(page)
}

#[derive(Template, WebTemplate)]
#[template(path = "meetups/form.html")]
struct MeetupFormPage {
    layout: Layout,
    /// The meetup being edited; `None` for a new one.
    editing: Option<i64>,
    venues: Vec<Venue>,
    /// More places are approved than the list holds.
    venues_left_out: bool,
    form: MeetupForm,
    errors: FieldErrors,
}

impl MeetupFormPage {
    fn is_chosen(&self, venue: &Venue) -> bool {
        self.form.venue_id.trim() == venue.id.to_string()
    }

    fn visibilities(&self) -> [Visibility; 2] {
        Visibility::ALL
    }

    fn repeats(&self) -> [Repeat; 3] {
        Repeat::ALL
    }

    fn action(&self) -> String {
        match self.editing {
            Some(id) => format!("/meetups/{id}/edit"),
            None => "/meetups/new".to_owned(),
        }
    }
}

async fn approved_venues(state: &AppState) -> AppResult<(Vec<Venue>, bool)> {
    Ok(crate::venues::choices(&state.pool, None).await?)
}

async fn new_meetup_form(
    State(state): State<AppState>,
    Organiser(_): Organiser,
    layout: Layout,
) -> AppResult<MeetupFormPage> {
    let (venues, venues_left_out) = approved_venues(&state).await?;
    let form = MeetupForm { capacity: "12".to_owned(), visibility: "public".to_owned(), ..MeetupForm::default() };
    Ok(MeetupFormPage { layout, editing: None, venues, venues_left_out, form, errors: FieldErrors::default() })
}

/// The checked form with its venue, or the page to show again with 422.
fn check_form(venues: &[Venue], form: &MeetupForm, editing: bool) -> Result<(model::MeetupDraft, i64), FieldErrors> {
    let mut errors = FieldErrors::default();
    let venue = form.venue_id.trim().parse::<i64>().ok().and_then(|id| venues.iter().find(|v| v.id == id));
    let zone = venue.map(|v| v.time_zone.parse().unwrap_or(Tz::UTC));
    let mut draft = form.check(zone, Utc::now(), &mut errors);
    if editing && let Some(draft) = draft.as_mut() {
        // An edit changes one meetup; repeats are made only when a series is created.
        draft.repeat = Repeat::Never;
    }
    match (draft, venue) {
        (Some(draft), Some(venue)) if errors.is_empty() => Ok((draft, venue.id)),
        _ => Err(errors),
    }
}

async fn create_meetup(
    State(state): State<AppState>,
    session: Session,
    Organiser(member): Organiser,
    layout: Layout,
    Form(form): Form<MeetupForm>,
) -> AppResult<Response> {
    let (venues, venues_left_out) = approved_venues(&state).await?;
    let (draft, venue) = match check_form(&venues, &form, false) {
        Ok(checked) => checked,
        Err(errors) => {
            let page = MeetupFormPage { layout, editing: None, venues, venues_left_out, form, errors };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let zone = venues.iter().find(|v| v.id == venue).and_then(|v| v.time_zone.parse().ok()).unwrap_or(Tz::UTC);
    let occurrences = draft.occurrences(zone);
    let mut tx = state.pool.begin().await?;
    let ids = store::insert_meetups(&mut tx, member.id, venue, &occurrences).await?;
    tx.commit().await?;
    let text = match ids.len() {
        1 => "Your meetup is posted.".to_owned(),
        n => format!("Your meetup is posted, with {} more dates after it (see Organise).", n - 1),
    };
    Flash::success(text).push(&session).await?;
    Ok(Redirect::to(&format!("/meetups/{}", ids[0])).into_response())
}

/// Locks the meetup and reads it afresh for a change by `member`, who must own it or be an
/// admin (403 otherwise, 404 when there is no such meetup).
async fn lock_for_manager(tx: &mut sqlx::PgConnection, member: &Member, id: i64) -> AppResult<Meetup> {
    if !store::lock_meetup(tx, id).await? {
        return Err(AppError::NotFound);
    }
    let meetup = store::find_meetup(&mut *tx, id).await?.ok_or(AppError::NotFound)?;
    if meetup.organiser_id != member.id && !member.is_admin() {
        return Err(AppError::Forbidden("Only the meetup's organiser can do that."));
    }
    Ok(meetup)
}

/// The meetup for its manager's forms, unlocked.
async fn load_for_manager(state: &AppState, member: &Member, id: i64) -> AppResult<Meetup> {
    let meetup = store::find_meetup(&state.pool, id).await?.ok_or(AppError::NotFound)?;
    if meetup.organiser_id != member.id && !member.is_admin() {
        return Err(AppError::Forbidden("Only the meetup's organiser can do that."));
    }
    Ok(meetup)
}

fn still_changeable(meetup: &Meetup) -> AppResult<()> {
    if meetup.is_cancelled() {
        return Err(AppError::Conflict("This meetup is cancelled.".to_owned()));
    }
    if Utc::now() >= meetup.starts_at {
        return Err(AppError::Conflict("This meetup has started, so it can no longer be changed.".to_owned()));
    }
    Ok(())
}

async fn edit_meetup_form(
    State(state): State<AppState>,
    Organiser(member): Organiser,
    Path(id): Path<i64>,
    layout: Layout,
) -> AppResult<MeetupFormPage> {
    let meetup = load_for_manager(&state, &member, id).await?;
    still_changeable(&meetup)?;
    let (venues, venues_left_out) = approved_venues(&state).await?;
    let form = MeetupForm::from_meetup(&meetup);
    Ok(MeetupFormPage { layout, editing: Some(id), venues, venues_left_out, form, errors: FieldErrors::default() })
}

async fn update_meetup(
    State(state): State<AppState>,
    session: Session,
    Organiser(member): Organiser,
    Path(id): Path<i64>,
    layout: Layout,
    Form(form): Form<MeetupForm>,
) -> AppResult<Response> {
    let (venues, venues_left_out) = approved_venues(&state).await?;
    let (draft, venue) = match check_form(&venues, &form, true) {
        Ok(checked) => checked,
        Err(errors) => {
            still_changeable(&load_for_manager(&state, &member, id).await?)?;
            let page = MeetupFormPage { layout, editing: Some(id), venues, venues_left_out, form, errors };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let mut tx = state.pool.begin().await?;
    let before = lock_for_manager(&mut tx, &member, id).await?;
    still_changeable(&before)?;
    store::update_meetup(&mut tx, id, venue, &draft).await?;
    // A raised capacity seats the waitlist at once, first come first served; a lowered one
    // unseats nobody (`going` may then stay above it until people cancel).
    let seated = seat_waitlist(&mut tx, id).await?;
    let after = store::find_meetup(&mut *tx, id).await?.ok_or(AppError::NotFound)?;
    let moved = before.starts_at != after.starts_at || before.ends_at != after.ends_at || before.venue_id != venue;
    if moved {
        let what = format!(
            "It was {} at {}; it is now {} at {}.",
            before.when(),
            isolate(&before.place()),
            after.when(),
            isolate(&after.place())
        );
        let people = store::list_rsvp_members(&mut tx, id, &[RsvpStatus::Going, RsvpStatus::Waitlisted]).await?;
        tell(&mut tx, &people, &notice(Kind::MeetupChanged, &after, &what)).await?;
    }
    tx.commit().await?;
    let mut text = "The meetup is saved.".to_owned();
    if moved {
        text.push_str(" Everyone going or waiting was told of the new time and place.");
    }
    if seated > 0 {
        text.push_str(&format!(" {seated} from the waitlist now have a seat."));
    }
    Flash::success(text).push(&session).await?;
    Ok(Redirect::to(&format!("/meetups/{id}")).into_response())
}

/// Post/redirect/get: the meetup's page, with `text` shown on it.
async fn back_to_meetup(session: &Session, id: i64, text: impl Into<String>) -> AppResult<Redirect> {
    Flash::success(text).push(session).await?;
    Ok(Redirect::to(&format!("/meetups/{id}")))
}

/// "1 person", "3 people".
fn people_count(n: usize) -> String {
    if n == 1 { "1 person".to_owned() } else { format!("{n} people") }
}

/// Records `notice` for each of `members`, in one statement.
async fn tell(conn: &mut sqlx::PgConnection, members: &[i64], notice: &Notice) -> sqlx::Result<()> {
    if members.is_empty() {
        return Ok(());
    }
    let all: Vec<(i64, Notice)> = members.iter().map(|m| (*m, notice.clone())).collect();
    crate::notify::store::record_all(conn, &all).await
}

/// Gives free seats to the waitlist in arrival order and tells those seated. Call it holding
/// the meetup's lock, after the change that freed the seats. Gives how many were seated.
async fn seat_waitlist(conn: &mut sqlx::PgConnection, id: i64) -> AppResult<usize> {
    let meetup = store::find_meetup(&mut *conn, id).await?.ok_or(AppError::NotFound)?;
    if meetup.is_cancelled() || meetup.seats_left() == 0 || meetup.waitlisted == 0 {
        return Ok(0);
    }
    let seated = store::promote_waitlisted(conn, id, meetup.seats_left()).await?;
    tell(conn, &seated, &notice(Kind::MeetupPromoted, &meetup, "A seat freed up and it is yours: you are going."))
        .await?;
    Ok(seated.len())
}

async fn cancel_meetup(
    State(state): State<AppState>,
    session: Session,
    Organiser(member): Organiser,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    let mut tx = state.pool.begin().await?;
    let meetup = lock_for_manager(&mut tx, &member, id).await?;
    still_changeable(&meetup)?;
    let told = cancel_and_tell(&mut tx, id).await?;
    tx.commit().await?;
    back_to_meetup(&session, id, format!("The meetup is cancelled. Told {} going or waiting.", people_count(told)))
        .await
}

/// Cancels a meetup whose lock the caller holds and tells everyone going or waiting, giving no
/// reason. Gives how many were told.
async fn cancel_and_tell(conn: &mut sqlx::PgConnection, id: i64) -> AppResult<usize> {
    store::cancel_meetup(&mut *conn, id).await?;
    let cancelled = store::find_meetup(&mut *conn, id).await?.ok_or(AppError::NotFound)?;
    let people = store::list_rsvp_members(&mut *conn, id, &[RsvpStatus::Going, RsvpStatus::Waitlisted]).await?;
    tell(&mut *conn, &people, &notice(Kind::MeetupCancelled, &cancelled, "")).await?;
    Ok(people.len())
}

/// What a suspension does to a member's meetups, on the suspension's transaction: the ones they
/// host that are still ahead are cancelled with notice to everyone going or waiting, and their
/// own seats and places in line are given up, each freed seat going to the next in line.
/// Meetups are locked in id order, as everywhere. Gives (meetups cancelled, places given up).
pub async fn withdraw_member(conn: &mut sqlx::PgConnection, member: i64) -> AppResult<(usize, usize)> {
    let hosted = store::list_upcoming_hosted(&mut *conn, member).await?;
    for &id in &hosted {
        if store::lock_meetup(&mut *conn, id).await? {
            cancel_and_tell(&mut *conn, id).await?;
        }
    }
    let attending = store::list_upcoming_rsvps(&mut *conn, member).await?;
    for &id in &attending {
        if store::lock_meetup(&mut *conn, id).await?
            && store::cancel_rsvp(&mut *conn, id, member).await? == Some(RsvpStatus::Going)
        {
            seat_waitlist(&mut *conn, id).await?;
        }
    }
    Ok((hosted.len(), attending.len()))
}

#[derive(Template, WebTemplate)]
#[template(path = "meetups/show.html")]
struct MeetupPage {
    layout: Layout,
    meetup: Meetup,
    viewer: Viewer,
    /// The viewer's id (0 when logged out).
    me: i64,
    zone: Tz,
    attendees: Vec<Attendee>,
    announcement: String,
    errors: FieldErrors,
    now: DateTime<Utc>,
}

impl MeetupPage {
    fn mine(&self) -> Option<&Attendee> {
        self.attendees.iter().find(|a| a.member_id == self.me)
    }

    fn is_going(&self) -> bool {
        self.mine().is_some_and(|a| a.status == RsvpStatus::Going)
    }

    fn is_manager(&self) -> bool {
        self.viewer == Viewer::Manager
    }

    fn logged_in(&self) -> bool {
        self.viewer != Viewer::Anonymous
    }

    fn going(&self) -> Vec<&Attendee> {
        self.attendees.iter().filter(|a| a.status == RsvpStatus::Going).collect()
    }

    fn waitlisted(&self) -> Vec<&Attendee> {
        self.attendees.iter().filter(|a| a.status == RsvpStatus::Waitlisted).collect()
    }

    fn status_line(&self) -> Option<String> {
        let mine = self.mine()?;
        Some(match mine.status {
            RsvpStatus::Going if mine.checked_in => "You are going, and checked in.".to_owned(),
            RsvpStatus::Going => "You are going.".to_owned(),
            _ => format!("You are {} on the waitlist.", ordinal(mine.position.unwrap_or(1))),
        })
    }

    fn rsvp_closed(&self) -> Option<&'static str> {
        self.meetup.rsvp_closed(self.now)
    }

    fn may_cancel_rsvp(&self) -> bool {
        self.mine().is_some() && self.now < self.meetup.starts_at && !self.meetup.is_cancelled()
    }

    fn changeable(&self) -> bool {
        self.is_manager() && still_changeable(&self.meetup).is_ok()
    }

    fn check_in_open(&self) -> bool {
        self.is_manager() && self.meetup.check_in_open(self.now)
    }

    /// Checked-in attendees the viewer may tick "I met them" for, when the viewer was checked in.
    fn met_choices(&self) -> Vec<&Attendee> {
        let checked_in = self.mine().is_some_and(|m| m.checked_in);
        if !checked_in || !self.meetup.met_ticks_open(self.now) {
            return Vec::new();
        }
        self.attendees.iter().filter(|a| a.checked_in && a.member_id != self.me).collect()
    }

    /// After check-in closed: the viewer said they would come and was not checked in.
    fn missed(&self) -> bool {
        self.now > self.meetup.starts_at + model::CHECK_IN_CLOSES
            && self.mine().is_some_and(|m| m.status == RsvpStatus::Going && !m.checked_in)
            && self.attendees.iter().any(|a| a.checked_in)
    }

    fn attendance(&self) -> (usize, usize) {
        let going = self.going();
        (going.iter().filter(|a| a.checked_in).count(), going.len())
    }

    fn past(&self) -> bool {
        self.meetup.is_past(self.now)
    }

    fn when_here(&self) -> Option<String> {
        self.meetup.when_in(self.zone)
    }

    fn parts(&self) -> Vec<Part> {
        self.meetup.description_parts()
    }

    fn deadline_label(&self) -> String {
        self.meetup
            .rsvp_deadline
            .map(|d| crate::invitations::model::local_label(d, self.meetup.zone()))
            .unwrap_or_default()
    }

    fn announcement_limit(&self) -> usize {
        ANNOUNCEMENT_FIELD.max_chars
    }
}

async fn meetup_page(state: &AppState, member: Option<&Member>, id: i64, layout: Layout) -> AppResult<MeetupPage> {
    let mut conn = state.pool.acquire().await?;
    let (meetup, viewer) = load_visible(&mut conn, member, id).await?;
    let attendees = match member {
        Some(member) => store::list_attendees(&mut *conn, id, member.id).await?,
        None => Vec::new(),
    };
    let zone = member.and_then(|m| m.time_zone.parse().ok()).unwrap_or_else(|| meetup.zone());
    Ok(MeetupPage {
        layout,
        meetup,
        viewer,
        me: member.map_or(0, |m| m.id),
        zone,
        attendees,
        announcement: String::new(),
        errors: FieldErrors::default(),
        now: Utc::now(),
    })
}

async fn show_meetup(
    State(state): State<AppState>,
    MaybeMember(member): MaybeMember,
    Path(id): Path<i64>,
    layout: Layout,
) -> AppResult<MeetupPage> {
    meetup_page(&state, member.as_ref(), id, layout).await
}

/// Locks the meetup for a member's RSVP change and reads it afresh. The lock comes first:
/// every RSVP to the meetup waits here for the one before, so the seats counted after it are
/// exact and go in arrival order. Blocks either way, and a followers-only meetup of someone the
/// member does not follow, answer 404 here as on the page.
async fn lock_visible(tx: &mut sqlx::PgConnection, member: &Member, id: i64) -> AppResult<Meetup> {
    if !store::lock_meetup(tx, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(load_visible(tx, Some(member), id).await?.0)
}

async fn rsvp(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    let mut tx = state.pool.begin().await?;
    let meetup = lock_visible(&mut tx, &member, id).await?;
    if meetup.organiser_id == member.id {
        return Err(AppError::Conflict("You organise this meetup: your place there is already yours.".to_owned()));
    }
    if let Some(why) = meetup.rsvp_closed(Utc::now()) {
        return Err(AppError::Conflict(why.to_owned()));
    }
    let mine = store::list_rsvps_of(&mut *tx, member.id, &[id]).await?;
    if mine.iter().any(|r| r.status != RsvpStatus::Cancelled) {
        return Err(AppError::Conflict("You have already said you are coming to this meetup.".to_owned()));
    }
    let status = if meetup.seats_left() > 0 { RsvpStatus::Going } else { RsvpStatus::Waitlisted };
    store::upsert_rsvp(&mut tx, id, member.id, status).await?;
    tx.commit().await?;
    let text = match status {
        RsvpStatus::Going => "You are going. See you there!".to_owned(),
        _ => format!(
            "The meetup is full: you are {} on the waitlist. You will be told if a seat frees up.",
            ordinal(meetup.waitlisted + 1)
        ),
    };
    back_to_meetup(&session, id, text).await
}

async fn cancel_rsvp(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    let mut tx = state.pool.begin().await?;
    let meetup = lock_visible(&mut tx, &member, id).await?;
    if Utc::now() >= meetup.starts_at {
        return Err(AppError::Conflict("This meetup has started: there is nothing to cancel now.".to_owned()));
    }
    let Some(was) = store::cancel_rsvp(&mut tx, id, member.id).await? else {
        return Err(AppError::Conflict("You had not said you were coming.".to_owned()));
    };
    if was == RsvpStatus::Going {
        seat_waitlist(&mut tx, id).await?;
    }
    tx.commit().await?;
    let text = match was {
        RsvpStatus::Going => "You are no longer going. Your seat has gone to the next person waiting, if anyone was.",
        _ => "You have left the waitlist.",
    };
    back_to_meetup(&session, id, text).await
}

async fn invite_followers(
    State(state): State<AppState>,
    session: Session,
    Organiser(member): Organiser,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    let mut tx = state.pool.begin().await?;
    let meetup = lock_for_manager(&mut tx, &member, id).await?;
    still_changeable(&meetup)?;
    if !store::mark_followers_invited(&mut tx, id).await? {
        return Err(AppError::Conflict("Your followers have already been invited to this meetup.".to_owned()));
    }
    let text = format!("{} would like to see you there.", meetup.organiser_name);
    let told = crate::notify::store::record_for_followers(
        &mut tx,
        meetup.organiser_id,
        &notice(Kind::MeetupInvited, &meetup, &text),
    )
    .await?;
    tx.commit().await?;
    let followers = if told == 1 { "1 follower".to_owned() } else { format!("{told} followers") };
    back_to_meetup(&session, id, format!("Invited {followers}.")).await
}

#[derive(Debug, Default, Deserialize)]
struct AnnounceForm {
    #[serde(default)]
    text: String,
}

async fn announce(
    State(state): State<AppState>,
    session: Session,
    Organiser(member): Organiser,
    Path(id): Path<i64>,
    layout: Layout,
    Form(form): Form<AnnounceForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let text = ANNOUNCEMENT_FIELD.check(&form.text, &mut errors);
    if !errors.is_empty() {
        let page = meetup_page(&state, Some(&member), id, layout).await?;
        if page.viewer != Viewer::Manager {
            return Err(AppError::Forbidden("Only the meetup's organiser can do that."));
        }
        let page = MeetupPage { announcement: form.text, errors, ..page };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let mut tx = state.pool.begin().await?;
    let meetup = lock_for_manager(&mut tx, &member, id).await?;
    if meetup.is_cancelled() {
        return Err(AppError::Conflict("This meetup is cancelled.".to_owned()));
    }
    let going = store::list_rsvp_members(&mut tx, id, &[RsvpStatus::Going]).await?;
    tell(&mut tx, &going, &notice(Kind::MeetupAnnouncement, &meetup, &text)).await?;
    tx.commit().await?;
    Flash::success(format!("Sent to {} going.", people_count(going.len()))).push(&session).await?;
    Ok(Redirect::to(&format!("/meetups/{id}")).into_response())
}

#[derive(Debug, Deserialize)]
struct CheckInForm {
    #[serde(default)]
    member: String,
    /// "on" checks in, anything else undoes it.
    #[serde(default)]
    checked_in: String,
}

async fn check_in(
    State(state): State<AppState>,
    Organiser(member): Organiser,
    Path(id): Path<i64>,
    Form(form): Form<CheckInForm>,
) -> AppResult<Redirect> {
    let attendee =
        form.member.trim().parse::<i64>().map_err(|_| AppError::BadRequest("Choose who to check in.".into()))?;
    let meetup = load_for_manager(&state, &member, id).await?;
    if !meetup.check_in_open(Utc::now()) {
        return Err(AppError::Conflict(
            "Check-in opens an hour before the meetup starts and closes a day after.".to_owned(),
        ));
    }
    if !store::set_checked_in(&state.pool, id, attendee, form.checked_in == "on").await? {
        return Err(AppError::Conflict("Only people going can be checked in.".to_owned()));
    }
    Ok(Redirect::to(&format!("/meetups/{id}#check-in")))
}

#[derive(Debug, Deserialize)]
struct MetForm {
    #[serde(default)]
    other: String,
}

/// "I met them": a checked-in attendee ticks another; two ticks record the pair as met.
async fn tick_met(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    Path(id): Path<i64>,
    Form(form): Form<MetForm>,
) -> AppResult<Redirect> {
    let other = form.other.trim().parse::<i64>().map_err(|_| AppError::BadRequest("Choose whom you met.".into()))?;
    if other == member.id {
        return Err(AppError::BadRequest("You cannot tick yourself.".to_owned()));
    }
    let mut tx = state.pool.begin().await?;
    // The graph locks, as a block takes them, so no met pair is recorded across a block made
    // at the same moment.
    crate::social::store::lock_graphs_of_pair(&mut tx, member.id, other).await?;
    let (meetup, _) = load_visible(&mut tx, Some(&member), id).await?;
    if crate::social::store::get_relation(&mut *tx, member.id, other).await?.blocked_either_way() {
        return Err(AppError::NotFound);
    }
    if !meetup.met_ticks_open(Utc::now()) {
        return Err(AppError::Conflict("You can say whom you met after the meetup, for 30 days.".to_owned()));
    }
    if !store::both_checked_in(&mut tx, id, member.id, other).await? {
        return Err(AppError::Conflict("Only two people who were both checked in can say they met there.".to_owned()));
    }
    let both = store::insert_met_tick(&mut tx, id, member.id, other).await?;
    if both {
        crate::social::store::insert_met_pair(&mut *tx, member.id, other, MetHow::Meetup).await?;
    }
    tx.commit().await?;
    let text = if both {
        "You both say you met. It is on your profiles now."
    } else {
        "Noted. When they say so too, you are recorded as having met."
    };
    back_to_meetup(&session, id, text).await
}

#[derive(Template, WebTemplate)]
#[template(path = "meetups/organise.html")]
struct OrganisePage {
    layout: Layout,
    upcoming: Vec<Meetup>,
    past: Vec<Meetup>,
}

async fn list_organised(
    State(state): State<AppState>,
    Organiser(member): Organiser,
    layout: Layout,
) -> AppResult<OrganisePage> {
    let now = Utc::now();
    let (past, upcoming) =
        store::list_organised(&state.pool, member.id).await?.into_iter().partition(|m| m.is_past(now));
    Ok(OrganisePage { layout, upcoming, past })
}
