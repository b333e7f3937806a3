//! Venues: public places to meet, by city. Members propose them at `/venues/new`; admins
//! approve or reject them at `/admin/venues`; only approved venues are listed (and, with the
//! invitations, can be chosen). Writes `venues`.

pub mod model;
pub mod store;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::auth::{Admin, CurrentMember};
use crate::error::{AppError, AppResult};
use crate::members::model::Member;
use crate::moderation::audit;
use crate::web::bidi::isolate;
use crate::web::routes::Routes;
use crate::web::{FieldErrors, Flash, Layout};
use model::{Venue, VenueForm, VenueStatus};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/venues", list_venues)
        .get("/venues/new", propose_venue_form)
        .post("/venues/new", propose_venue)
        .get("/admin/venues", review_venues)
        .post("/admin/venues/{id}/approve", approve_venue)
        .post("/admin/venues/{id}/reject", reject_venue)
}

#[derive(Debug, Default, Deserialize)]
struct CityQuery {
    city: Option<String>,
    page: Option<u32>,
}

/// Places on one page of `/venues`.
const LIST_PAGE: i64 = 50;

/// Most places a form's list offers. Forms show them all at once, so past this many they say
/// that some are left out rather than page.
pub const CHOICES_SHOWN: i64 = 500;

/// Approved places for a form's list, in one city or all, at most `CHOICES_SHOWN`; and whether
/// more were left out.
pub async fn choices(db: impl sqlx::PgExecutor<'_>, city: Option<&str>) -> sqlx::Result<(Vec<Venue>, bool)> {
    let mut venues = store::list_venues(db, VenueStatus::Approved, city, CHOICES_SHOWN + 1, 0).await?;
    let more = venues.len() as i64 > CHOICES_SHOWN;
    venues.truncate(CHOICES_SHOWN as usize);
    Ok((venues, more))
}

#[derive(Template, WebTemplate)]
#[template(path = "venues/list.html")]
struct VenuesPage {
    layout: Layout,
    venues: Vec<Venue>,
    cities: Vec<(String, i64)>,
    city: Option<String>,
    page: u32,
    has_more: bool,
}

impl VenuesPage {
    fn city_link(&self, city: &str) -> String {
        format!("/venues?city={}", crate::web::forms::encode_query_value(city))
    }

    /// Another page of the list shown, in the same city if one is chosen.
    fn page_link(&self, page: u32) -> String {
        match &self.city {
            Some(city) => format!("{}&page={page}", self.city_link(city)),
            None => format!("/venues?page={page}"),
        }
    }

    fn is_current(&self, city: &str) -> bool {
        self.city.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(city))
    }
}

async fn list_venues(
    State(state): State<AppState>,
    CurrentMember(_): CurrentMember,
    Query(query): Query<CityQuery>,
    layout: Layout,
) -> AppResult<VenuesPage> {
    let city = query.city.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty() && !c.contains('\0'));
    let page = query.page.unwrap_or(1).max(1);
    let offset = i64::from(page - 1) * LIST_PAGE;
    let mut venues =
        store::list_venues(&state.pool, VenueStatus::Approved, city.as_deref(), LIST_PAGE + 1, offset).await?;
    let has_more = venues.len() as i64 > LIST_PAGE;
    venues.truncate(LIST_PAGE as usize);
    let cities = store::list_venue_cities(&state.pool).await?;
    Ok(VenuesPage { layout, venues, cities, city, page, has_more })
}

#[derive(Template, WebTemplate)]
#[template(path = "venues/new.html")]
struct ProposeVenuePage {
    layout: Layout,
    form: VenueForm,
    errors: FieldErrors,
}

impl ProposeVenuePage {
    fn zones(&self) -> impl Iterator<Item = &'static str> {
        crate::web::forms::zone_names()
    }
}

async fn propose_venue_form(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    layout: Layout,
) -> AppResult<ProposeVenuePage> {
    // Most proposals are in the member's own city.
    let profile = crate::members::store::get_profile(&state.pool, member.id).await?;
    let form = VenueForm { city: profile.city, time_zone: profile.time_zone, ..VenueForm::default() };
    Ok(ProposeVenuePage { layout, form, errors: FieldErrors::default() })
}

async fn propose_venue(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    layout: Layout,
    Form(form): Form<VenueForm>,
) -> AppResult<Response> {
    let mut errors = match form.validate() {
        Ok(venue) => match store::insert_venue(&state.pool, &venue, member.id).await {
            Ok(_) => {
                Flash::success(format!(
                    "Thank you. An admin will review {} before it can be chosen.",
                    isolate(&venue.name)
                ))
                .push(&session)
                .await?;
                return Ok(Redirect::to("/venues").into_response());
            }
            Err(sqlx::Error::Database(db)) if db.constraint() == Some("venues_name_city_key") => FieldErrors::default(),
            Err(other) => return Err(other.into()),
        },
        Err(errors) => errors,
    };
    if errors.is_empty() {
        errors.add("name", "This city already lists a place of that name (perhaps waiting for review).");
    }
    Ok((StatusCode::UNPROCESSABLE_ENTITY, ProposeVenuePage { layout, form, errors }).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "venues/admin.html")]
struct ReviewVenuesPage {
    layout: Layout,
    pending: Vec<Venue>,
    /// Where the next page starts, when more proposals wait.
    next: Option<i64>,
    /// Not the first page.
    paged: bool,
}

/// Proposals on one page of the review queue.
const REVIEW_PAGE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
struct ReviewQuery {
    /// Show proposals after this id (the last one of the previous page).
    after: Option<i64>,
}

async fn review_venues(
    State(state): State<AppState>,
    Admin(_): Admin,
    Query(query): Query<ReviewQuery>,
    layout: Layout,
) -> AppResult<ReviewVenuesPage> {
    let mut pending = store::list_pending_venues(&state.pool, query.after, REVIEW_PAGE + 1).await?;
    let next = if pending.len() as i64 > REVIEW_PAGE {
        pending.truncate(REVIEW_PAGE as usize);
        pending.last().map(|v| v.id)
    } else {
        None
    };
    Ok(ReviewVenuesPage { layout, pending, next, paged: query.after.is_some() })
}

async fn decide(
    state: &AppState,
    session: &Session,
    admin: &Member,
    id: i64,
    decision: VenueStatus,
) -> AppResult<Redirect> {
    let mut tx = state.pool.begin().await?;
    let Some(decided) = store::decide_venue(&mut *tx, id, decision, admin.id).await? else {
        return Err(AppError::Conflict("This proposal has already been decided, or no longer exists.".to_owned()));
    };
    if let Some(proposer) = decided.proposed_by {
        crate::notify::store::record(
            &mut tx,
            proposer,
            &model::decision_notice(&decided.name, &decided.city, decision),
        )
        .await?;
    }
    let action =
        if decision == VenueStatus::Approved { audit::Action::ApproveVenue } else { audit::Action::RejectVenue };
    let entry = audit::Entry {
        action,
        target_member: None,
        target: format!("venue {id}: {}, {}", decided.name, decided.city),
        detail: String::new(),
        reason: String::new(),
    };
    audit::record(&mut tx, audit::Actor::Admin(admin), &entry).await?;
    tx.commit().await?;
    let done = if decision == VenueStatus::Approved { "Approved: members can now choose it." } else { "Rejected." };
    Flash::success(done).push(session).await?;
    Ok(Redirect::to("/admin/venues"))
}

async fn approve_venue(
    State(state): State<AppState>,
    session: Session,
    Admin(admin): Admin,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    decide(&state, &session, &admin, id, VenueStatus::Approved).await
}

async fn reject_venue(
    State(state): State<AppState>,
    session: Session,
    Admin(admin): Admin,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    decide(&state, &session, &admin, id, VenueStatus::Rejected).await
}
