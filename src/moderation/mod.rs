//! Moderation: members' reports and the admins' queue of cases (`reports`), the admin area
//! (dashboard, members' admin pages with their actions and roles, the audit log), warnings as
//! members read them, and what hiding and suspending do everywhere (`actions`). Every admin
//! action writes the audit log (`audit`) in the transaction of the action. Writes
//! `member_warnings`, `members` (status and role), `audit_log`, and through the other domains'
//! functions the invitations, suggestions and meetups a suspension calls off, the photo an
//! admin removes (`photos::store`) and the notice that tells its member why (`notify::store`).

pub mod actions;
pub mod audit;
pub mod model;
pub mod report_model;
pub mod report_store;
pub mod reports;
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
use crate::auth::{Admin, CurrentMember, WARNING_PATH};
use crate::error::{AppError, AppResult};
use crate::members::model::{Role, Status};
use crate::photos;
use crate::photos::store::PhotoSettings;
use crate::web::routes::Routes;
use crate::web::{FieldErrors, Flash, Layout};
use actions::{Move, check_reason};
use audit::{Actor, LogRow};
use model::{CHART_HEIGHT, CHART_WIDTH, Column};
use store::{Figures, MemberLine, MemberRecord, Warning, Week};

/// Weeks on the dashboard's chart.
const CHART_WEEKS: i32 = 12;
/// Audit entries per page.
const AUDIT_PAGE: i64 = 50;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/admin", show_dashboard)
        .get("/admin/members", list_members)
        .get("/admin/members/{handle}", show_member)
        .post("/admin/members/{handle}/action", act_on_member)
        .post("/admin/members/{handle}/role", change_role)
        .post("/admin/members/{handle}/photo/remove", remove_member_photo)
        .post("/admin/members/{handle}/photo/allow", allow_member_photos)
        .get("/admin/audit", show_audit)
        .get(WARNING_PATH, show_warnings)
        .post("/warning/acknowledge", acknowledge_warnings)
        .merge(reports::routes())
}

#[derive(Template, WebTemplate)]
#[template(path = "moderation/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    figures: Figures,
    weeks: Vec<Week>,
    columns: Vec<Column>,
}

impl DashboardPage {
    fn chart_width(&self) -> i64 {
        CHART_WIDTH
    }

    fn chart_height(&self) -> i64 {
        CHART_HEIGHT
    }

    fn baseline(&self) -> i64 {
        model::BASELINE
    }
}

async fn show_dashboard(State(state): State<AppState>, Admin(_): Admin, layout: Layout) -> AppResult<DashboardPage> {
    let (figures, weeks) = tokio::try_join!(store::figures(&state.pool), store::weekly(&state.pool, CHART_WEEKS))?;
    let columns = model::chart(&weeks);
    Ok(DashboardPage { layout, figures, weeks, columns })
}

#[derive(Debug, Default, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "moderation/members.html")]
struct MembersPage {
    layout: Layout,
    query: String,
    members: Vec<MemberLine>,
}

async fn list_members(
    State(state): State<AppState>,
    Admin(_): Admin,
    Query(search): Query<SearchQuery>,
    layout: Layout,
) -> AppResult<MembersPage> {
    let query = handle_of(&search.q);
    let members = store::search_members(&state.pool, &query, 100).await?;
    Ok(MembersPage { layout, query, members })
}

#[derive(Clone, Debug, Default, Deserialize)]
struct ActionForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct RoleForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    role_reason: String,
}

/// Removing a photo: the one the admin was shown, and why (the member reads it).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct PhotoRemovalForm {
    pub photo: Option<i64>,
    #[serde(default)]
    pub photo_reason: String,
}

impl PhotoRemovalForm {
    /// The reason, or the form's field error.
    pub fn reason(&self, errors: &mut FieldErrors) -> Option<String> {
        actions::check_reason_within(&self.photo_reason, actions::MAX_PHOTO_REASON_CHARS)
            .map_err(|why| errors.add("photo_reason", why))
            .ok()
    }

    /// The photo the admin was shown; a form without one names nothing to remove.
    fn seen(&self) -> AppResult<i64> {
        self.photo.ok_or_else(|| AppError::BadRequest("The form does not say which photo: reload the page.".to_owned()))
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
struct AllowPhotosForm {
    #[serde(default)]
    allow_reason: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "moderation/member.html")]
struct MemberPage {
    layout: Layout,
    member: MemberRecord,
    warnings: Vec<Warning>,
    history: Vec<LogRow>,
    action: ActionForm,
    role: RoleForm,
    photo_settings: PhotoSettings,
    photo: PhotoRemovalForm,
    allow: AllowPhotosForm,
    errors: FieldErrors,
}

impl MemberPage {
    /// The moves that make sense for the member as they are now.
    fn moves(&self) -> Vec<(&'static str, &'static str)> {
        let mut moves = vec![("warn", "Warn: they read your reason on their next page and must acknowledge it")];
        match self.member.status {
            Status::Active => {
                moves.push((
                    "hide",
                    "Hide: out of the directory, follower lists, search and matching; profile 404 to others",
                ));
                moves.push(("suspend", SUSPEND_LABEL));
            }
            Status::Hidden => {
                moves.push(("suspend", SUSPEND_LABEL));
                moves.push(("reinstate", "Unhide: visible to others again"));
            }
            Status::Suspended => moves.push(("reinstate", "Reinstate: they can log in again")),
            // A tombstone has nobody behind it to warn or reinstate.
            Status::Deleted => moves.clear(),
        }
        moves
    }

    fn status_label(&self) -> &'static str {
        match self.member.status {
            Status::Active => "Active",
            Status::Hidden => "Hidden",
            Status::Suspended => "Suspended",
            Status::Deleted => "Deleted by its owner",
        }
    }

    fn roles(&self) -> [Role; 3] {
        [Role::Member, Role::Organiser, Role::Admin]
    }

    fn role_chosen(&self, role: &Role) -> bool {
        if self.role.role.is_empty() { *role == self.member.role } else { self.role.role == role.to_string() }
    }

    /// A tombstone has no photo and nobody to upload one.
    fn is_deleted(&self) -> bool {
        self.member.status == Status::Deleted
    }

    fn photo_reason_limit(&self) -> usize {
        actions::MAX_PHOTO_REASON_CHARS
    }

    fn admin_photo_url(&self, photo: &i64) -> String {
        admin_photo_url(*photo)
    }
}

/// Where admins see any stored photo, whatever its member's status (a hidden or suspended
/// member's photo answers 404 at its public address).
pub(crate) fn admin_photo_url(photo: i64) -> String {
    format!("/admin/photos/{photo}-{}.jpg", photos::model::Size::Large.pixels())
}

const SUSPEND_LABEL: &str = "Suspend: logged out at once, log-ins refused, their invitations, suggestions, meetup places and hosted meetups called off with notice";

/// The member's admin page with empty forms; a form that comes back with 422 puts back what
/// was typed and the errors.
async fn member_page(state: &AppState, layout: Layout, handle: &str) -> AppResult<MemberPage> {
    let member = store::find_member(&state.pool, handle).await?.ok_or(AppError::NotFound)?;
    let filter = audit::Filter { target_member: Some(member.id), ..audit::Filter::default() };
    let (warnings, history, photo_settings) = tokio::try_join!(
        store::list_warnings(&state.pool, member.id, false),
        audit::list(&state.pool, &filter, 50),
        photos::store::get_settings(&state.pool, member.id)
    )?;
    Ok(MemberPage {
        layout,
        member,
        warnings,
        history,
        photo_settings,
        action: ActionForm::default(),
        role: RoleForm::default(),
        photo: PhotoRemovalForm::default(),
        allow: AllowPhotosForm::default(),
        errors: FieldErrors::default(),
    })
}

/// `page` with status 422.
fn unprocessable(page: MemberPage) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

async fn show_member(
    State(state): State<AppState>,
    Admin(_): Admin,
    Path(handle): Path<String>,
    layout: Layout,
) -> AppResult<MemberPage> {
    member_page(&state, layout, &handle).await
}

async fn act_on_member(
    State(state): State<AppState>,
    session: Session,
    Admin(admin): Admin,
    Path(handle): Path<String>,
    layout: Layout,
    Form(form): Form<ActionForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let mv = Move::from_value(&form.action);
    if mv.is_none() {
        errors.add("action", "Choose what to do.");
    }
    let reason = check_reason(&form.reason).map_err(|why| errors.add("reason", why)).ok();
    let (Some(mv), Some(reason)) = (mv, reason) else {
        return Ok(unprocessable(MemberPage { action: form, errors, ..member_page(&state, layout, &handle).await? }));
    };
    let member = store::find_member_key(&state.pool, &handle).await?.ok_or(AppError::NotFound)?;
    let effects = actions::apply(&state.pool, Actor::Admin(&admin), member.id, &member.handle, mv, &reason).await?;
    let done = match mv {
        Move::Warn => "Warned: they will read it on their next page.".to_owned(),
        Move::Hide => "Hidden from everyone else.".to_owned(),
        Move::Suspend => format!("Suspended: logged out on their next request.{}", effects.describe()),
        Move::Reinstate => "Reinstated.".to_owned(),
    };
    Flash::success(done).push(&session).await?;
    Ok(Redirect::to(&format!("/admin/members/{}", member.handle)).into_response())
}

async fn change_role(
    State(state): State<AppState>,
    session: Session,
    Admin(admin): Admin,
    Path(handle): Path<String>,
    layout: Layout,
    Form(form): Form<RoleForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let role = form.role.parse::<Role>().map_err(|_| errors.add("role", "Choose a role.")).ok();
    let reason = check_reason(&form.role_reason).map_err(|why| errors.add("role_reason", why)).ok();
    let (Some(role), Some(reason)) = (role, reason) else {
        return Ok(unprocessable(MemberPage { role: form, errors, ..member_page(&state, layout, &handle).await? }));
    };
    let member = store::find_member_key(&state.pool, &handle).await?.ok_or(AppError::NotFound)?;
    actions::change_role(&state.pool, Actor::Admin(&admin), member.id, &member.handle, role, &reason).await?;
    Flash::success(format!("@{} is now {}.", member.handle, role_label(role))).push(&session).await?;
    Ok(Redirect::to(&format!("/admin/members/{}", member.handle)).into_response())
}

async fn remove_member_photo(
    State(state): State<AppState>,
    session: Session,
    Admin(admin): Admin,
    Path(handle): Path<String>,
    layout: Layout,
    Form(form): Form<PhotoRemovalForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let Some(reason) = form.reason(&mut errors) else {
        return Ok(unprocessable(MemberPage { photo: form, errors, ..member_page(&state, layout, &handle).await? }));
    };
    let member = store::find_member_key(&state.pool, &handle).await?.ok_or(AppError::NotFound)?;
    let removals =
        actions::remove_photo(&state.pool, Actor::Admin(&admin), member.id, &member.handle, form.seen()?, &reason)
            .await?;
    Flash::success(photo_removed_message(&member.handle, removals)).push(&session).await?;
    Ok(Redirect::to(&format!("/admin/members/{}", member.handle)).into_response())
}

/// The admin's confirmation of a photo's removal, the `removals`-th.
pub(crate) fn photo_removed_message(handle: &str, removals: i16) -> String {
    let mut done = format!("Photo removed; @{handle} is told why.");
    if removals >= photos::MAX_REMOVALS {
        done.push_str(" They cannot upload another until an admin allows it.");
    }
    done
}

async fn allow_member_photos(
    State(state): State<AppState>,
    session: Session,
    Admin(admin): Admin,
    Path(handle): Path<String>,
    layout: Layout,
    Form(form): Form<AllowPhotosForm>,
) -> AppResult<Response> {
    let reason = match check_reason(&form.allow_reason) {
        Ok(reason) => reason,
        Err(why) => {
            let mut errors = FieldErrors::default();
            errors.add("allow_reason", why);
            return Ok(unprocessable(MemberPage {
                allow: form,
                errors,
                ..member_page(&state, layout, &handle).await?
            }));
        }
    };
    let member = store::find_member_key(&state.pool, &handle).await?.ok_or(AppError::NotFound)?;
    actions::allow_photos(&state.pool, Actor::Admin(&admin), member.id, &member.handle, &reason).await?;
    Flash::success(format!("@{} can upload photos again.", member.handle)).push(&session).await?;
    Ok(Redirect::to(&format!("/admin/members/{}", member.handle)).into_response())
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Member => "a member",
        Role::Organiser => "an organiser",
        Role::Admin => "an admin",
    }
}

#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    #[serde(default)]
    admin: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    kind: String,
    before: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "moderation/audit.html")]
struct AuditPage {
    layout: Layout,
    admin: String,
    target: String,
    kind: String,
    rows: Vec<LogRow>,
    /// Why a filter matched nothing, when it names nobody.
    problem: Option<String>,
    next: Option<String>,
}

impl AuditPage {
    fn kinds(&self) -> [audit::Action; 13] {
        audit::Action::ALL
    }
}

async fn show_audit(
    State(state): State<AppState>,
    Admin(_): Admin,
    Query(query): Query<AuditQuery>,
    layout: Layout,
) -> AppResult<AuditPage> {
    let (admin, target) = (handle_of(&query.admin), handle_of(&query.target));
    let mut problem = None;
    let mut lookup = async |handle: &str| -> AppResult<Option<i64>> {
        if handle.is_empty() {
            return Ok(None);
        }
        let found = store::find_member_key(&state.pool, handle).await?.map(|m| m.id);
        if found.is_none() {
            problem = Some(format!("No member has the handle @{handle}."));
        }
        Ok(Some(found.unwrap_or(0)))
    };
    let filter = audit::Filter {
        admin: lookup(&admin).await?,
        target_member: lookup(&target).await?,
        action: audit::Action::from_value(&query.kind),
        before: query.before,
    };
    let rows = audit::list(&state.pool, &filter, AUDIT_PAGE).await?;
    let next = (rows.len() as i64 == AUDIT_PAGE).then(|| {
        let last = rows.last().map_or(0, |r| r.id);
        let encode = crate::web::forms::encode_query_value;
        format!(
            "/admin/audit?admin={}&target={}&kind={}&before={last}",
            encode(&admin),
            encode(&target),
            encode(&query.kind)
        )
    });
    let kind = filter.action.map_or("", |a| a.value()).to_owned();
    Ok(AuditPage { layout, admin, target, kind, rows, problem, next })
}

/// A handle as typed in a search or filter: without the @, surrounding spaces or control
/// characters.
fn handle_of(raw: &str) -> String {
    raw.trim().trim_start_matches('@').chars().filter(|c| !c.is_control()).collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "moderation/warning.html")]
struct WarningPage {
    layout: Layout,
    warnings: Vec<Warning>,
}

impl WarningPage {
    fn last(&self) -> i64 {
        self.warnings.first().map_or(0, |w| w.id)
    }
}

async fn show_warnings(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    layout: Layout,
) -> AppResult<Response> {
    let warnings = store::list_warnings(&state.pool, member.id, true).await?;
    if warnings.is_empty() {
        return Ok(Redirect::to("/").into_response());
    }
    Ok(WarningPage { layout, warnings }.into_response())
}

#[derive(Debug, Deserialize)]
struct AcknowledgeForm {
    #[serde(default)]
    last: i64,
}

async fn acknowledge_warnings(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    Form(form): Form<AcknowledgeForm>,
) -> AppResult<Redirect> {
    store::acknowledge_warnings(&state.pool, member.id, form.last).await?;
    Flash::info("Thank you for reading it.").push(&session).await?;
    Ok(Redirect::to("/"))
}
