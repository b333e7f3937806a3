//! Members' own pages: the home page, public profiles at `/m/{handle}`, and the settings for
//! profile, weekly availability and privacy. Writes `members` and `availability`.

pub mod model;
pub mod store;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::AppState;
use crate::auth::{CurrentMember, MaybeMember};
use crate::error::{AppError, AppResult};
use crate::invitations::model::Invitation;
use crate::meetups::model::{Meetup, RsvpStatus};
use crate::meetups::store::{MeetupNoShow, Rsvp};
use crate::photos::model::Size;
use crate::social;
use crate::social::store::{ClaimForMe, NeverMet, PendingClaim, Relation};
use crate::web::bidi::isolate;
use crate::web::routes::Routes;
use crate::web::{FieldErrors, Flash, Layout};
use model::{InvitePolicy, Privacy, PrivacyForm, Profile, ProfileForm, ProfileUpdate, WEEKDAYS, WindowForm};
use store::{DirectoryEntry, DirectoryFilter, WindowRow};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/", show_home)
        .get("/m/{handle}", show_profile)
        .get("/people", show_directory)
        .get("/settings", || async { Redirect::to("/settings/profile") })
        .get("/settings/profile", edit_profile_form)
        .post("/settings/profile", update_profile)
        .get("/settings/availability", edit_availability_form)
        .post("/settings/availability", add_window)
        .post("/settings/availability/{id}/delete", delete_window)
        .get("/settings/privacy", edit_privacy_form)
        .post("/settings/privacy", update_privacy)
}

#[derive(Template, WebTemplate)]
#[template(path = "home/landing.html")]
struct LandingPage {
    layout: Layout,
}

#[derive(Template, WebTemplate)]
#[template(path = "home/welcome.html")]
struct WelcomePage {
    layout: Layout,
    profile: Profile,
    window_count: usize,
    never_met: Vec<NeverMet>,
    /// The member has more connections than are ranked: the list draws from the recent ones.
    never_met_from_recent: bool,
    claims: Vec<ClaimForMe>,
    /// More claims wait than are shown.
    more_claims: bool,
    following: i64,
    met: i64,
    /// Open invitations and coffees waiting for "did you meet?", for the "Your coffees" card.
    coffees: Vec<Invitation>,
    /// The member's id, as the invitation rows ask for it.
    me: i64,
    /// Suggested coffees still waiting for the member's answer, and the zone to show them in.
    suggestions: Vec<crate::scheduler::store::Suggestion>,
    zone: chrono_tz::Tz,
    /// Meetups still to come that the member is going to or waiting for, with their RSVPs.
    meetups: Vec<(Meetup, Rsvp)>,
    /// Meetups the member said they would come to and was not checked in at, the latest.
    missed_meetups: Vec<MeetupNoShow>,
    /// More were missed than are named.
    more_missed: bool,
}

/// "a", "a and b", "a, b and c".
fn natural_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// People shown in the home page's "never met" list.
const NEVER_MET_SHOWN: i64 = 12;
/// Connections ranked for that list, and shown first in the directory: the most recent ones,
/// which is all of them for nearly everyone (see `list_never_met`).
pub const NEVER_MET_POOL: i64 = 300;
/// "We have met" claims shown on the home page, oldest first: each one answered brings the
/// next up, so the page stays small however many someone sends.
const CLAIMS_SHOWN: i64 = 20;
/// Missed meetups named on the home page, latest first: a reminder, not a record (admins have
/// the whole list), so the sentence stays short.
const MISSED_SHOWN: i64 = 3;

impl WelcomePage {
    /// Where the member stands for a meetup on the "your meetups" card.
    fn meetup_place(&self, rsvp: &Rsvp) -> String {
        match rsvp.status {
            RsvpStatus::Going => "Going".to_owned(),
            _ => format!("{} on the waitlist", crate::meetups::model::ordinal(rsvp.position)),
        }
    }

    fn suggested_when(&self, s: &crate::scheduler::store::Suggestion) -> String {
        crate::invitations::model::local_label(s.starts_at, self.zone)
    }

    fn never_met_total(&self) -> i64 {
        self.never_met.first().map_or(0, |p| p.total)
    }

    fn pool(&self) -> i64 {
        NEVER_MET_POOL
    }

    fn claims_shown(&self) -> i64 {
        CLAIMS_SHOWN
    }

    /// Why this person is worth a coffee, in plain words; the city and interests marked with
    /// `isolate`, for the page to show each in a `<bdi>`.
    fn reasons(&self, person: &NeverMet) -> String {
        let mut reasons = Vec::new();
        reasons.push(if person.mutual { "you follow each other".to_owned() } else { "you are connected".to_owned() });
        if person.same_city {
            reasons.push(format!("you both live in {}", isolate(&person.city)));
        }
        if !person.shared_interests.is_empty() {
            let interests: Vec<String> = person.shared_interests.iter().map(|interest| isolate(interest)).collect();
            reasons.push(format!("you both like {}", natural_list(&interests)));
        }
        let mut text = reasons.join(", ");
        if let Some(first) = text.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        text
    }

    /// What is still missing before the scheduler can suggest a coffee.
    fn missing_steps(&self) -> Vec<(&'static str, &'static str)> {
        let mut steps = Vec::new();
        if self.profile.city.is_empty() {
            steps.push(("/settings/profile", "Say which city you live in, so we can suggest places nearby."));
        }
        if self.window_count == 0 {
            steps.push(("/settings/availability", "Add the times of the week when you are usually free for a coffee."));
        }
        if self.profile.interests.is_empty() {
            steps.push(("/settings/profile", "List a few interests, so people know what to talk about."));
        }
        steps
    }
}

async fn show_home(
    State(state): State<AppState>,
    MaybeMember(member): MaybeMember,
    layout: Layout,
) -> AppResult<Response> {
    let Some(member) = member else {
        return Ok(LandingPage { layout }.into_response());
    };
    let profile = store::get_profile(&state.pool, member.id).await?;
    let window_count = store::list_windows(&state.pool, member.id).await?.len();
    let recent = social::store::list_recent_connections(&state.pool, member.id, NEVER_MET_POOL).await?;
    let never_met_from_recent = recent.len() as i64 >= NEVER_MET_POOL;
    let never_met = social::store::list_never_met(&state.pool, member.id, &recent, NEVER_MET_SHOWN).await?;
    let mut claims = social::store::list_claims_for(&state.pool, member.id, CLAIMS_SHOWN + 1).await?;
    let more_claims = claims.len() as i64 > CLAIMS_SHOWN;
    claims.truncate(CLAIMS_SHOWN as usize);
    let (following, met) = social::store::get_met_figures(&state.pool, member.id).await?;
    let coffees = crate::invitations::store::list_current(&state.pool, member.id).await?;
    let mut suggestions = crate::scheduler::store::list_upcoming_suggestions(
        &state.pool,
        member.id,
        chrono::Utc::now() + crate::scheduler::MIN_NOTICE,
    )
    .await?;
    suggestions.retain(|s| s.state == crate::scheduler::store::SuggestionState::Open);
    let meetups = meetups_of(&state, member.id).await?;
    let mut missed_meetups =
        crate::meetups::store::list_no_shows(&state.pool, Some(member.id), MISSED_SHOWN + 1, 0).await?;
    let more_missed = missed_meetups.len() as i64 > MISSED_SHOWN;
    missed_meetups.truncate(MISSED_SHOWN as usize);
    let page = WelcomePage {
        me: member.id,
        layout,
        profile,
        window_count,
        never_met,
        never_met_from_recent,
        claims,
        more_claims,
        following,
        met,
        coffees,
        suggestions,
        zone: member.time_zone.parse().unwrap_or(chrono_tz::UTC),
        meetups,
        missed_meetups,
        more_missed,
    };
    Ok(page.into_response())
}

/// The member's meetups to come, each with the member's RSVP.
async fn meetups_of(state: &AppState, member: i64) -> AppResult<Vec<(Meetup, Rsvp)>> {
    let meetups = crate::meetups::store::list_member_meetups(&state.pool, member).await?;
    let ids: Vec<i64> = meetups.iter().map(|m| m.id).collect();
    let rsvps = crate::meetups::store::list_rsvps_of(&state.pool, member, &ids).await?;
    Ok(meetups
        .into_iter()
        .filter_map(|meetup| {
            let rsvp = rsvps.iter().find(|r| r.meetup_id == meetup.id && r.status != RsvpStatus::Cancelled)?.clone();
            Some((meetup, rsvp))
        })
        .collect())
}

#[derive(Template, WebTemplate)]
#[template(path = "members/profile.html")]
struct ProfilePage {
    layout: Layout,
    profile: Profile,
    is_self: bool,
    relation: Relation,
    /// A pending "we have met" claim between the viewer and this member, either way.
    claim: Option<PendingClaim>,
    followers: i64,
    following: i64,
    addresses: Vec<String>,
    /// Upcoming meetups this member organises that the viewer may see.
    meetups: Vec<Meetup>,
    /// The viewer's own profile, hidden from everyone else by an admin.
    hidden_from_others: bool,
}

impl ProfilePage {
    /// Where a follow button on this page returns to.
    fn back_path(&self) -> String {
        format!("/m/{}", self.profile.handle)
    }

    /// Whether the pending claim is the viewer's own (so they wait) rather than the other's.
    fn claim_is_mine(&self) -> bool {
        self.claim.as_ref().is_some_and(|c| c.other_id == self.profile.id)
    }

    fn member_since(&self) -> String {
        self.profile.created_at.format("%B %Y").to_string()
    }
}

async fn show_profile(
    State(state): State<AppState>,
    CurrentMember(viewer): CurrentMember,
    Path(handle): Path<String>,
    layout: Layout,
) -> AppResult<ProfilePage> {
    let (profile, relation) = social::find_visible_profile(&state.pool, viewer.id, &handle).await?;
    let (followers, following) = social::store::get_counts(&state.pool, profile.id, viewer.id).await?;
    let is_self = profile.id == viewer.id;
    let claim = if is_self {
        None
    } else {
        social::store::find_pending_claim_between(&state.pool, viewer.id, profile.id).await?
    };
    let addresses = social::store::list_addresses(&state.pool, profile.id).await?;
    let meetups = crate::meetups::store::list_organised_for(&state.pool, profile.id, viewer.id).await?;
    // Only the owner reaches a hidden profile (`find_visible_profile`); they are told so.
    let hidden_from_others = is_self && viewer.status == model::Status::Hidden;
    Ok(ProfilePage {
        layout,
        profile,
        is_self,
        relation,
        claim,
        followers,
        following,
        addresses,
        meetups,
        hidden_from_others,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "members/settings_profile.html")]
struct ProfileSettingsPage {
    layout: Layout,
    form: ProfileForm,
    errors: FieldErrors,
}

impl ProfileSettingsPage {
    fn zones(&self) -> impl Iterator<Item = &'static str> {
        crate::web::forms::zone_names()
    }

    fn bio_limit(&self) -> usize {
        model::MAX_BIO_CHARS
    }
}

async fn edit_profile_form(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    layout: Layout,
) -> AppResult<ProfileSettingsPage> {
    let profile = store::get_profile(&state.pool, member.id).await?;
    let addresses = social::store::list_addresses(&state.pool, member.id).await?;
    let form = ProfileForm {
        display_name: profile.display_name,
        bio: profile.bio,
        city: profile.city,
        time_zone: profile.time_zone,
        interests: profile.interests.join(", "),
        addresses: addresses.iter().map(|a| format!("@{a}")).collect::<Vec<_>>().join(", "),
    };
    Ok(ProfileSettingsPage { layout, form, errors: FieldErrors::default() })
}

async fn update_profile(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    layout: Layout,
    Form(form): Form<ProfileForm>,
) -> AppResult<Response> {
    let errors = match form.validate() {
        Ok(update) => match save_profile(&state, member.id, &update).await? {
            Ok(()) => {
                Flash::success("Your profile is saved.").push(&session).await?;
                return Ok(Redirect::to(&format!("/m/{}", member.handle)).into_response());
            }
            Err(errors) => errors,
        },
        Err(errors) => errors,
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, ProfileSettingsPage { layout, form, errors }).into_response())
}

/// Saves the profile and its addresses together; an address another member listed first
/// comes back as a message beside the field.
async fn save_profile(state: &AppState, id: i64, update: &ProfileUpdate) -> AppResult<Result<(), FieldErrors>> {
    let taken_message = |taken: &[String]| {
        let mut errors = FieldErrors::default();
        errors.add("addresses", format!("Another member has already listed {}.", taken.join(", ")));
        errors
    };
    let taken = social::store::find_addresses_taken(&state.pool, id, &update.addresses).await?;
    if !taken.is_empty() {
        return Ok(Err(taken_message(&taken)));
    }
    let mut tx = state.pool.begin().await?;
    store::update_profile(&mut *tx, id, update).await?;
    match social::store::replace_addresses(&mut tx, id, &update.addresses).await {
        Ok(()) => {}
        // Listed by someone else between the check and the insert.
        Err(sqlx::Error::Database(db)) if db.constraint() == Some("external_addresses_pkey") => {
            return Ok(Err(taken_message(&update.addresses)));
        }
        Err(other) => return Err(other.into()),
    }
    tx.commit().await?;
    Ok(Ok(()))
}

#[derive(Template, WebTemplate)]
#[template(path = "members/settings_availability.html")]
struct AvailabilityPage {
    layout: Layout,
    windows: Vec<WindowRow>,
    time_zone: String,
    form: WindowForm,
    errors: FieldErrors,
}

impl AvailabilityPage {
    fn weekdays(&self) -> impl Iterator<Item = (usize, &'static str)> {
        WEEKDAYS.into_iter().enumerate()
    }
}

async fn edit_availability_form(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    layout: Layout,
) -> AppResult<AvailabilityPage> {
    let windows = store::list_windows(&state.pool, member.id).await?;
    let form = WindowForm { weekday: String::new(), from: "18:00".into(), to: "20:00".into() };
    Ok(AvailabilityPage { layout, windows, time_zone: member.time_zone, form, errors: FieldErrors::default() })
}

async fn add_window(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    layout: Layout,
    Form(form): Form<WindowForm>,
) -> AppResult<Response> {
    let mut tx = state.pool.begin().await?;
    store::lock_member(&mut tx, member.id).await?;
    let windows = store::list_windows(&mut *tx, member.id).await?;
    let existing: Vec<_> = windows.iter().map(|row| row.window).collect();
    match form.validate(&existing) {
        Ok(window) => {
            store::insert_window(&mut *tx, member.id, &window).await?;
            tx.commit().await?;
            Flash::success(format!("Added {window}.")).push(&session).await?;
            Ok(Redirect::to("/settings/availability").into_response())
        }
        Err(errors) => {
            tx.rollback().await?;
            let page = AvailabilityPage { layout, windows, time_zone: member.time_zone, form, errors };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

async fn delete_window(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    // Only the member's own windows match; anyone else's id is simply not found.
    if !store::delete_window(&state.pool, member.id, id).await? {
        return Err(AppError::NotFound);
    }
    Flash::success("Removed that window.").push(&session).await?;
    Ok(Redirect::to("/settings/availability"))
}

#[derive(Template, WebTemplate)]
#[template(path = "members/settings_privacy.html")]
struct PrivacyPage {
    layout: Layout,
    privacy: Privacy,
    errors: FieldErrors,
}

impl PrivacyPage {
    fn policies(&self) -> [InvitePolicy; 3] {
        InvitePolicy::ALL
    }
}

async fn edit_privacy_form(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    layout: Layout,
) -> AppResult<PrivacyPage> {
    let privacy = store::get_privacy(&state.pool, member.id).await?;
    Ok(PrivacyPage { layout, privacy, errors: FieldErrors::default() })
}

async fn update_privacy(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    layout: Layout,
    Form(form): Form<PrivacyForm>,
) -> AppResult<Response> {
    match form.validate() {
        Ok(privacy) => {
            let mut tx = state.pool.begin().await?;
            // The member's graph lock: an invitation being sent to them holds it while it
            // checks their "who may invite me", so the change waits until that send is done.
            social::store::lock_graph_of(&mut tx, member.id).await?;
            store::update_privacy(&mut *tx, member.id, &privacy).await?;
            tx.commit().await?;
            Flash::success("Your privacy settings are saved.").push(&session).await?;
            Ok(Redirect::to("/settings/privacy").into_response())
        }
        Err(errors) => {
            // Keep what was ticked; only the policy itself was unreadable.
            let privacy = Privacy {
                invite_policy: InvitePolicy::Anyone,
                listed: form.listed.is_some(),
                matching: form.matching.is_some(),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, PrivacyPage { layout, privacy, errors }).into_response())
        }
    }
}

/// The directory's query string, as typed.
#[derive(Clone, Debug, Default, serde::Deserialize)]
struct DirectoryQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    interest: String,
    page: Option<u32>,
}

/// People per page of the directory, and connected people shown above them on page one.
const DIRECTORY_PAGE: i64 = 30;
const DIRECTORY_CONNECTED: i64 = 60;

#[derive(Template, WebTemplate)]
#[template(path = "members/directory.html")]
struct DirectoryPage {
    layout: Layout,
    query: DirectoryQuery,
    connected: Vec<DirectoryEntry>,
    others: Vec<DirectoryEntry>,
    page: u32,
    has_more: bool,
    /// The viewer has more connections than are shown first; the rest are among "everyone".
    recent_only: bool,
}

impl DirectoryPage {
    fn connected_total(&self) -> i64 {
        self.connected.first().and_then(|e| e.total).unwrap_or(0)
    }

    /// The current filters as a query string, for the pager's links.
    fn filter_query(&self) -> String {
        serde_urlencoded::to_string([
            ("q", self.query.q.as_str()),
            ("city", self.query.city.as_str()),
            ("interest", self.query.interest.as_str()),
        ])
        .unwrap_or_default()
    }

    /// Where a follow button in the list returns to: this page, with its filters.
    fn back_path(&self) -> String {
        format!("/people?{}&page={}", self.filter_query(), self.page)
    }
}

/// `%text%` for LIKE, with LIKE's own wildcards in the text taken literally.
fn like_pattern(text: &str) -> String {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

async fn show_directory(
    State(state): State<AppState>,
    CurrentMember(viewer): CurrentMember,
    Query(query): Query<DirectoryQuery>,
    layout: Layout,
) -> AppResult<DirectoryPage> {
    let some = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty() && !t.contains('\0'));
    let filter = DirectoryFilter {
        pattern: some(&query.q).map(|q| like_pattern(&q)),
        city: some(&query.city),
        interest: some(&query.interest).map(|i| i.to_lowercase()),
    };
    let page = query.page.unwrap_or(1).clamp(1, 10_000);
    // People you are connected with come first, on the first page; then everyone else by name.
    // "Connected" is your most recent connections (all of them, unless you have very many),
    // so that this costs the same for everyone; older ones are listed with everyone else.
    let recent = social::store::list_recent_connections(&state.pool, viewer.id, NEVER_MET_POOL).await?;
    let connected = if page == 1 {
        store::list_connected_in_directory(&state.pool, viewer.id, &recent, &filter, DIRECTORY_CONNECTED).await?
    } else {
        Vec::new()
    };
    let offset = i64::from(page - 1) * DIRECTORY_PAGE;
    let mut others =
        store::list_others_in_directory(&state.pool, viewer.id, &recent, &filter, DIRECTORY_PAGE + 1, offset).await?;
    let has_more = others.len() as i64 > DIRECTORY_PAGE;
    others.truncate(DIRECTORY_PAGE as usize);
    let recent_only = recent.len() as i64 >= NEVER_MET_POOL;
    Ok(DirectoryPage { layout, query, connected, others, page, has_more, recent_only })
}

#[cfg(test)]
mod tests {
    use super::natural_list;

    #[test]
    fn lists_read_as_prose() {
        let items = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(natural_list(&items(&[])), "");
        assert_eq!(natural_list(&items(&["jazz"])), "jazz");
        assert_eq!(natural_list(&items(&["jazz", "tea"])), "jazz and tea");
        assert_eq!(natural_list(&items(&["chess", "jazz", "tea"])), "chess, jazz and tea");
    }
}
