//! The social graph: follows and blocks, and the pages that list them. Writes `follows` and
//! `blocks`. A block hides two members from each other everywhere: a profile answers 404 to
//! the other, lists leave them out, and neither can follow the other while it stands. The
//! blocked member is never told; to them it looks as if the blocker had left.

pub mod model;
pub mod store;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::DateTime;
use serde::Deserialize;
use sqlx::PgPool;
use tower_sessions::Session;

use crate::AppState;
use crate::auth::CurrentMember;
use crate::error::{AppError, AppResult};
use crate::members::model::Profile;
use crate::members::store as members;
use crate::photos::model::Size;
use crate::web::bidi::isolate;
use crate::web::forms::{FileFieldError, read_file_field};
use crate::web::routes::Routes;
use crate::web::{Flash, Layout, csrf, safe_next};
use store::{FollowCursor, FollowSide, ListOwner, ListedMember, Relation};

/// Members per page in follower and following lists.
const PAGE_SIZE: i64 = 30;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .post("/m/{handle}/follow", follow)
        .post("/m/{handle}/unfollow", unfollow)
        .post("/m/{handle}/block", block)
        .post("/m/{handle}/unblock", unblock)
        .get("/m/{handle}/followers", list_followers)
        .get("/m/{handle}/following", list_following)
        .get("/settings/blocked", list_blocked)
        .get("/settings/import", import_form)
        .post("/settings/import", import_follows)
        .post("/m/{handle}/met", claim_met)
        .post("/met-claims/{id}/confirm", confirm_claim)
        .post("/met-claims/{id}/decline", decline_claim)
}

/// A profile `viewer` may see, with how they stand towards it. Missing, suspended, hidden (by
/// an admin, unless it is the viewer's own) and blocked (either way) all answer the same 404,
/// so a block cannot be told from a departure.
pub async fn find_visible_profile(pool: &PgPool, viewer: i64, handle: &str) -> AppResult<(Profile, Relation)> {
    let profile = members::find_profile_for(pool, handle, Some(viewer)).await?.ok_or(AppError::NotFound)?;
    let relation = store::get_relation(pool, viewer, profile.id).await?;
    if relation.blocked_either_way() {
        return Err(AppError::NotFound);
    }
    Ok((profile, relation))
}

/// The member to block or unblock: any active member. Blocks by the other side are not
/// consulted, so the answer never reveals whether they blocked you first.
async fn find_target(pool: &PgPool, handle: &str) -> AppResult<Profile> {
    members::find_profile(pool, handle).await?.ok_or(AppError::NotFound)
}

/// Where to go back to after a follow button: the page it was on.
#[derive(Debug, Default, Deserialize)]
struct BackForm {
    #[serde(default)]
    back: String,
}

fn back_to(form: &BackForm, handle: &str) -> Redirect {
    let fallback = format!("/m/{handle}");
    let target = if form.back.is_empty() { fallback } else { safe_next(Some(&form.back)) };
    Redirect::to(&target)
}

/// The follow button alone, for htmx to swap in place of the one that was pressed.
#[derive(Template, WebTemplate)]
#[template(path = "social/_follow_button.html")]
struct FollowButton {
    layout: Layout,
    handle: String,
    viewer_follows: bool,
    back: String,
}

/// After a follow or unfollow: the new button for htmx, or a flash and a redirect for a plain
/// form post.
async fn answer_follow_change(
    session: &Session,
    headers: &HeaderMap,
    profile: &Profile,
    form: BackForm,
    following: bool,
) -> AppResult<Response> {
    if headers.contains_key("hx-request") {
        let layout = Layout { csrf_token: csrf::token(session).await?, ..Layout::default() };
        let button =
            FollowButton { layout, handle: profile.handle.clone(), viewer_follows: following, back: form.back };
        return Ok(button.into_response());
    }
    let flash = if following {
        Flash::success(format!("You follow {}.", isolate(&profile.display_name)))
    } else {
        Flash::info(format!("You no longer follow {}.", isolate(&profile.display_name)))
    };
    flash.push(session).await?;
    Ok(back_to(&form, &profile.handle).into_response())
}

async fn follow(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    CurrentMember(me): CurrentMember,
    Path(handle): Path<String>,
    Form(form): Form<BackForm>,
) -> AppResult<Response> {
    let (profile, _) = find_visible_profile(&state.pool, me.id, &handle).await?;
    if profile.id == me.id {
        return Err(AppError::BadRequest("You cannot follow yourself.".to_owned()));
    }
    let mut tx = state.pool.begin().await?;
    store::lock_graph_of(&mut tx, me.id).await?;
    store::insert_follow(&mut *tx, me.id, profile.id).await?;
    tx.commit().await?;
    answer_follow_change(&session, &headers, &profile, form, true).await
}

async fn unfollow(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    CurrentMember(me): CurrentMember,
    Path(handle): Path<String>,
    Form(form): Form<BackForm>,
) -> AppResult<Response> {
    let (profile, _) = find_visible_profile(&state.pool, me.id, &handle).await?;
    let mut tx = state.pool.begin().await?;
    // The follower's graph lock, as a follow takes it: an invitation being sent to this member
    // holds it while it checks that they follow the inviter, so the unfollow waits for it.
    store::lock_graph_of(&mut tx, me.id).await?;
    store::delete_follow(&mut *tx, me.id, profile.id).await?;
    tx.commit().await?;
    answer_follow_change(&session, &headers, &profile, form, false).await
}

async fn block(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(me): CurrentMember,
    Path(handle): Path<String>,
) -> AppResult<Redirect> {
    let profile = find_target(&state.pool, &handle).await?;
    if profile.id == me.id {
        return Err(AppError::BadRequest("You cannot block yourself.".to_owned()));
    }
    let mut tx = state.pool.begin().await?;
    store::lock_graph_of(&mut tx, me.id.min(profile.id)).await?;
    store::lock_graph_of(&mut tx, me.id.max(profile.id)).await?;
    store::insert_block(&mut tx, me.id, profile.id).await?;
    // The two stop seeing each other everywhere at once: an open invitation between them is
    // quietly cancelled, and each one's notifications that name the other go.
    crate::invitations::store::cancel_open_between(&mut tx, me.id, profile.id).await?;
    crate::notify::store::delete_naming_each_other(&mut tx, me.id, profile.id).await?;
    tx.commit().await?;
    Flash::info(format!("You blocked {}. Neither of you will see the other on Cuppa.", isolate(&profile.display_name)))
        .push(&session)
        .await?;
    Ok(Redirect::to("/settings/blocked"))
}

async fn unblock(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(me): CurrentMember,
    Path(handle): Path<String>,
) -> AppResult<Redirect> {
    let profile = find_target(&state.pool, &handle).await?;
    store::delete_block(&state.pool, me.id, profile.id).await?;
    Flash::info(format!("You unblocked {}.", isolate(&profile.display_name))).push(&session).await?;
    Ok(Redirect::to("/settings/blocked"))
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    page: Option<u32>,
}

impl PageQuery {
    /// The page asked for (the first when none), and how many rows come before it.
    fn page_and_offset(&self) -> (u32, i64) {
        let page = self.page.unwrap_or(1).max(1);
        (page, i64::from(page - 1) * PAGE_SIZE)
    }
}

/// Drops the one row read beyond a page, which tells whether there is a next page without
/// counting them all; true when there was one.
fn trim_page<T>(rows: &mut Vec<T>) -> bool {
    let has_more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    has_more
}

/// A follow list's query string: where the page starts, as `follow_cursor` wrote it.
#[derive(Debug, Default, Deserialize)]
struct FollowListQuery {
    #[serde(default)]
    after: String,
}

/// The cursor of the page after the follow at `cursor`: its time in microseconds (as stored),
/// a dot, the member's id.
fn follow_cursor(cursor: &FollowCursor) -> String {
    format!("{}.{}", cursor.at.timestamp_micros(), cursor.id)
}

/// Reads what `follow_cursor` wrote; `None` for anything it could not have written. No follow
/// is older than 1970: an earlier time could also be older than PostgreSQL's timestamps go
/// (4713 BC, where chrono's go further), an error rather than an empty page.
fn parse_follow_cursor(text: &str) -> Option<FollowCursor> {
    let (micros, id) = text.split_once('.')?;
    let micros: i64 = micros.parse().ok().filter(|m| *m >= 0)?;
    let at = DateTime::from_timestamp_micros(micros)?;
    let id: i64 = id.parse().ok()?;
    (id > 0).then_some(FollowCursor { at, id })
}

#[derive(Template, WebTemplate)]
#[template(path = "social/follow_list.html")]
struct FollowListPage {
    layout: Layout,
    profile: ListOwner,
    heading: &'static str,
    path: String,
    members: Vec<ListedMember>,
    /// This page's own cursor; empty on the first page.
    after: String,
    /// The next page's cursor, when there is a next page.
    next: Option<String>,
    viewer_handle: String,
}

impl FollowListPage {
    fn first_page(&self) -> bool {
        self.after.is_empty()
    }

    fn next_link(&self) -> Option<String> {
        self.next.as_ref().map(|after| format!("{}?after={after}", self.path))
    }

    /// Where a follow button on this page returns to: this very page.
    fn back_path(&self) -> String {
        if self.after.is_empty() { self.path.clone() } else { format!("{}?after={}", self.path, self.after) }
    }
}

async fn follow_list(
    state: &AppState,
    me: &crate::members::model::Member,
    handle: &str,
    query: FollowListQuery,
    layout: Layout,
    side: FollowSide,
) -> AppResult<FollowListPage> {
    let after = match query.after.as_str() {
        "" => None,
        text => Some(parse_follow_cursor(text).ok_or_else(|| {
            AppError::BadRequest("That page of the list does not exist: start again from the first page.".to_owned())
        })?),
    };
    let start = after.unwrap_or_else(FollowCursor::first);
    let page =
        store::find_follow_page(&state.pool, handle, side, me.id, start, PAGE_SIZE).await?.ok_or(AppError::NotFound)?;
    let (heading, tail) = match side {
        FollowSide::Followers => ("Followers", "followers"),
        FollowSide::Following => ("Following", "following"),
    };
    Ok(FollowListPage {
        path: format!("/m/{}/{tail}", page.owner.handle),
        layout,
        profile: page.owner,
        heading,
        members: page.members,
        after: after.as_ref().map(follow_cursor).unwrap_or_default(),
        next: page.next.as_ref().map(follow_cursor),
        viewer_handle: me.handle.clone(),
    })
}

async fn list_followers(
    State(state): State<AppState>,
    CurrentMember(me): CurrentMember,
    Path(handle): Path<String>,
    Query(query): Query<FollowListQuery>,
    layout: Layout,
) -> AppResult<FollowListPage> {
    follow_list(&state, &me, &handle, query, layout, FollowSide::Followers).await
}

async fn list_following(
    State(state): State<AppState>,
    CurrentMember(me): CurrentMember,
    Path(handle): Path<String>,
    Query(query): Query<FollowListQuery>,
    layout: Layout,
) -> AppResult<FollowListPage> {
    follow_list(&state, &me, &handle, query, layout, FollowSide::Following).await
}

#[derive(Template, WebTemplate)]
#[template(path = "social/blocked.html")]
struct BlockedPage {
    layout: Layout,
    members: Vec<ListedMember>,
    page: u32,
    has_more: bool,
}

async fn list_blocked(
    State(state): State<AppState>,
    CurrentMember(me): CurrentMember,
    Query(query): Query<PageQuery>,
    layout: Layout,
) -> AppResult<BlockedPage> {
    let (page, offset) = query.page_and_offset();
    let mut members = store::list_blocked(&state.pool, me.id, PAGE_SIZE + 1, offset).await?;
    let has_more = trim_page(&mut members);
    Ok(BlockedPage { layout, members, page, has_more })
}

/// "We have met": asks the other member to confirm. If they had already said the same about
/// this member, saying it back confirms their claim.
async fn claim_met(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(me): CurrentMember,
    Path(handle): Path<String>,
) -> AppResult<Redirect> {
    let (profile, _) = find_visible_profile(&state.pool, me.id, &handle).await?;
    if profile.id == me.id {
        return Err(AppError::BadRequest("You cannot claim to have met yourself.".to_owned()));
    }
    let mut tx = state.pool.begin().await?;
    // Both graph locks, as a block takes them, and the checks again under them: a claim made
    // while a block commits would outlive it (the block declines only the claims it sees).
    store::lock_graphs_of_pair(&mut tx, me.id, profile.id).await?;
    let relation = store::get_relation(&mut *tx, me.id, profile.id).await?;
    if relation.blocked_either_way() {
        return Err(AppError::NotFound);
    }
    let name = isolate(&profile.display_name);
    let flash = if relation.met {
        Flash::info(format!("You and {name} have already met."))
    } else {
        match store::find_pending_claim_between(&mut *tx, me.id, profile.id).await? {
            Some(theirs) if theirs.claimant_id == profile.id => {
                store::confirm_met_claim(&mut tx, theirs.id, me.id).await?;
                Flash::success(format!("You and {name} have met in person."))
            }
            Some(_mine) => Flash::info(format!("Still waiting for {name} to confirm.")),
            None => {
                store::insert_met_claim(&mut *tx, me.id, profile.id).await?;
                Flash::success(format!("We have asked {name} to confirm that you met."))
            }
        }
    };
    tx.commit().await?;
    flash.push(&session).await?;
    Ok(Redirect::to(&format!("/m/{}", profile.handle)))
}

/// The claim `id`, if `me` is the member it asks; a stranger is refused and changes nothing.
async fn claim_for(state: &AppState, id: i64, me: i64) -> AppResult<store::PendingClaim> {
    let claim = store::find_pending_claim(&state.pool, id).await?.ok_or(AppError::NotFound)?;
    if claim.other_id != me {
        return Err(AppError::Forbidden("Only the member a claim names can answer it."));
    }
    Ok(claim)
}

async fn confirm_claim(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(me): CurrentMember,
    Path(id): Path<i64>,
    Form(form): Form<BackForm>,
) -> AppResult<Redirect> {
    let claim = claim_for(&state, id, me.id).await?;
    let mut tx = state.pool.begin().await?;
    // The graph locks, as a block takes them, so no met pair is recorded across a block; a
    // claim still pending across one (made before claims took these locks) is gone, as a
    // block's declined claims are.
    store::lock_graphs_of_pair(&mut tx, claim.claimant_id, me.id).await?;
    if store::get_relation(&mut *tx, me.id, claim.claimant_id).await?.blocked_either_way() {
        return Err(AppError::NotFound);
    }
    // A claim answered in the meantime (another tab) is simply gone.
    if !store::confirm_met_claim(&mut tx, claim.id, me.id).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Flash::success("Confirmed: you have met in person.").push(&session).await?;
    Ok(Redirect::to(&safe_next(Some(&form.back))))
}

async fn decline_claim(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(me): CurrentMember,
    Path(id): Path<i64>,
    Form(form): Form<BackForm>,
) -> AppResult<Redirect> {
    let claim = claim_for(&state, id, me.id).await?;
    if !store::decline_met_claim(&state.pool, claim.id, me.id).await? {
        return Err(AppError::NotFound);
    }
    Flash::info("Declined. Nothing is recorded.").push(&session).await?;
    Ok(Redirect::to(&safe_next(Some(&form.back))))
}

#[derive(Template, WebTemplate)]
#[template(path = "social/import.html")]
struct ImportPage {
    layout: Layout,
    addresses: Vec<String>,
    error: Option<String>,
}

async fn import_form(
    State(state): State<AppState>,
    CurrentMember(me): CurrentMember,
    layout: Layout,
) -> AppResult<ImportPage> {
    let addresses = store::list_addresses(&state.pool, me.id).await?;
    Ok(ImportPage { layout, addresses, error: None })
}

/// The uploaded follow list, never read past `MAX_IMPORT_BYTES`.
async fn read_upload(multipart: &mut Multipart) -> Result<Vec<u8>, model::ImportError> {
    read_file_field(multipart, "file", model::MAX_IMPORT_BYTES).await.map_err(|err| match err {
        FileFieldError::Missing => model::ImportError::Empty,
        FileFieldError::TooLarge => model::ImportError::TooLarge,
        FileFieldError::Malformed => model::ImportError::Malformed,
    })
}

/// Follows every member who listed one of the addresses in an uploaded follow list. The file
/// is read whole before anything is written, and the follows go in one transaction: a bad
/// file imports nothing.
async fn import_follows(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(me): CurrentMember,
    layout: Layout,
    mut multipart: Multipart,
) -> AppResult<Response> {
    let parsed = match read_upload(&mut multipart).await {
        Ok(bytes) => model::parse_follow_list(&bytes),
        Err(err) => Err(err),
    };
    let addresses = match parsed {
        Ok(addresses) => addresses,
        Err(err) => {
            let page = ImportPage {
                layout,
                addresses: store::list_addresses(&state.pool, me.id).await?,
                error: Some(err.to_string()),
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let mut tx = state.pool.begin().await?;
    store::lock_graph_of(&mut tx, me.id).await?;
    let found = store::find_members_by_address(&mut *tx, me.id, &addresses).await?;
    let followed = store::insert_follows(&mut tx, me.id, &found).await?;
    tx.commit().await?;
    let found_count = found.len() as u64;
    let not_on_cuppa = addresses.len() as u64 - found_count.min(addresses.len() as u64);
    Flash::success(format!(
        "Read {} accounts. Found on Cuppa: {found_count}. Followed now: {followed}. Already followed: {}. Not on Cuppa: {not_on_cuppa}.",
        addresses.len(),
        found_count - followed,
    ))
    .push(&session)
    .await?;
    Ok(Redirect::to("/settings/import").into_response())
}
