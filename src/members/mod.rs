//! Members' own pages: public profiles at `/m/{handle}`, the directory, and the settings for
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
use crate::auth::CurrentMember;
use crate::error::{AppError, AppResult};
use crate::meetups::model::Meetup;
use crate::photos::model::Size;
use crate::social;
use crate::social::store::{NEVER_MET_POOL, PendingClaim, Relation};
use crate::web::routes::Routes;
use crate::web::{FieldErrors, Flash, Layout};
use model::{InvitePolicy, Privacy, PrivacyForm, Profile, ProfileForm, ProfileUpdate, WEEKDAYS, WindowForm};
use store::{DirectoryCursor, DirectoryEntry, DirectoryFilter, DirectoryLimits, WindowRow};

pub fn routes() -> Routes<AppState> {
    Routes::new()
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
    // Three statements: the session with its member, this view, then the meetups.
    let view = social::store::find_profile_view(&state.pool, &handle, viewer.id).await?.ok_or(AppError::NotFound)?;
    // Blocked either way answers the same 404 as a missing member (`find_visible_profile`).
    if view.relation.blocked_either_way() {
        return Err(AppError::NotFound);
    }
    let social::store::ProfileView { profile, relation, followers, following, claim, addresses } = view;
    let is_self = profile.id == viewer.id;
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
    /// Where the page starts, as `directory_cursor` wrote it; none (or empty) for the first.
    #[serde(default)]
    after: String,
}

/// People per page of the directory, and connected people shown above them on page one.
const DIRECTORY_PAGE: i64 = 30;
const DIRECTORY_CONNECTED: i64 = 60;
/// The longest name key a cursor may carry: a display name is at most 80 characters, and
/// lowering one never makes it longer than four bytes a character.
const MAX_CURSOR_KEY: usize = 320;

#[derive(Template, WebTemplate)]
#[template(path = "members/directory.html")]
struct DirectoryPage {
    layout: Layout,
    query: DirectoryQuery,
    connected: Vec<DirectoryEntry>,
    /// How many connections match in all (more than are listed when there are very many).
    connected_total: i64,
    others: Vec<DirectoryEntry>,
    /// No cursor: the page that lists connections first.
    first_page: bool,
    /// The next page's cursor, when there is a next page.
    next: Option<String>,
    /// The viewer has more connections than are shown first; the rest are among "everyone".
    recent_only: bool,
}

impl DirectoryPage {
    /// `/people` with the current filters (only those in use) and, for a page past the
    /// first, its cursor: the pager's links and the follow buttons' way back.
    fn link(&self, after: Option<&str>) -> String {
        let mut pairs: Vec<(&str, &str)> = [
            ("q", self.query.q.as_str()),
            ("city", self.query.city.as_str()),
            ("interest", self.query.interest.as_str()),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .collect();
        if let Some(after) = after.filter(|a| !a.is_empty()) {
            pairs.push(("after", after));
        }
        match serde_urlencoded::to_string(&pairs) {
            Ok(query) if !query.is_empty() => format!("/people?{query}"),
            _ => "/people".to_owned(),
        }
    }

    fn first_link(&self) -> String {
        self.link(None)
    }

    fn next_link(&self) -> Option<String> {
        self.next.as_deref().map(|after| self.link(Some(after)))
    }

    /// Where a follow button in the list returns to: this page, with its filters.
    fn back_path(&self) -> String {
        self.link(Some(&self.query.after))
    }
}

/// `%text%` for LIKE, with LIKE's own wildcards in the text taken literally.
fn like_pattern(text: &str) -> String {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// The cursor of the page after `cursor`'s member: their name key, a dot, their id. A name
/// key may hold dots itself, so the id is read from the last one.
fn directory_cursor(cursor: &DirectoryCursor) -> String {
    format!("{}.{}", cursor.name_key, cursor.id)
}

/// Reads what `directory_cursor` wrote; `None` for anything it could not have written.
fn parse_directory_cursor(text: &str) -> Option<DirectoryCursor> {
    let (name_key, id) = text.rsplit_once('.')?;
    let id: i64 = id.parse().ok()?;
    // PostgreSQL refuses a NUL in text: it would be an error, not an empty page.
    let plausible = id > 0 && name_key.len() <= MAX_CURSOR_KEY && !name_key.contains('\0');
    plausible.then(|| DirectoryCursor { name_key: name_key.to_owned(), id })
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
    let after = match query.after.as_str() {
        "" => None,
        text => Some(parse_directory_cursor(text).ok_or_else(|| {
            AppError::BadRequest(
                "That page of the directory does not exist: start again from the first page.".to_owned(),
            )
        })?),
    };
    // People you are connected with come first, on the first page; then everyone else by name.
    // "Connected" is your most recent connections (all of them, unless you have very many),
    // so that this costs the same for everyone; older ones are listed with everyone else.
    let limits = DirectoryLimits { page: DIRECTORY_PAGE, connected: DIRECTORY_CONNECTED, recent: NEVER_MET_POOL };
    let first_page = after.is_none();
    let start = after.unwrap_or_else(DirectoryCursor::first);
    let page = store::list_directory(&state.pool, viewer.id, &filter, first_page, &start, limits).await?;
    Ok(DirectoryPage {
        layout,
        query,
        connected: page.connected,
        connected_total: page.connected_total,
        others: page.others,
        first_page,
        next: page.next.as_ref().map(directory_cursor),
        recent_only: page.recent_only,
    })
}
