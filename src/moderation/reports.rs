//! Reports and the admins' queue of cases. Any member reports a profile, a photo, an invitation
//! (its notes), a venue or a meetup at `/report/{kind}/{id}` (for a photo, `{member}-{photo}`),
//! and follows what became of their reports at `/settings/reports`. Reports of one target are
//! handled together as one case, the target's open case or a new one; admins read the queue at
//! `/admin/reports`, note, and resolve (action taken) or dismiss (no action) each case with an
//! outcome its reporters read. The reported member is never told who reported them. Writes
//! `moderation_cases`, `reports`, `case_notes` and, through `audit`, `audit_log`. A reported
//! photo is kept while its case is open, even once replaced, and let go
//! (`photos::store::forget`) when the case closes.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use tower_sessions::Session;

use super::audit::{self, Action, Actor, Entry, LogRow};
use super::report_model::{
    CaseStatus, Category, DAILY_CAP, DETAILS_FIELD, DecisionForm, NOTE_FIELD, NoteForm, OUTCOME_MAX_CHARS, ReportForm,
    TargetKind, check_outcome,
};
use super::report_store as store;
use super::report_store::{Case, CaseNote, CaseReport, EarlierCase, MyReport, QueuedCase, ReportableMember};
use crate::AppState;
use crate::auth::{Admin, CurrentMember};
use crate::error::{AppError, AppResult};
use crate::invitations::store::NoShow;
use crate::meetups::store::MeetupNoShow;
use crate::members::model::Member;
use crate::photos;
use crate::web::bidi::isolate;
use crate::web::routes::Routes;
use crate::web::{FieldErrors, Flash, Layout};

/// Cases per page of the queue.
const PAGE_SIZE: i64 = 30;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/report/{kind}/{id}", report_form)
        .post("/report/{kind}/{id}", file_report)
        .get("/settings/reports", list_my_reports)
        .get("/settings/reports/{id}", show_my_report)
        .get("/admin/reports", list_cases)
        .get("/admin/reports/{id}", show_case)
        .post("/admin/reports/{id}/notes", add_note)
        .post("/admin/reports/{id}/resolve", resolve_case)
        .post("/admin/reports/{id}/dismiss", dismiss_case)
        .post("/admin/reports/{id}/remove-photo", remove_reported_photo)
}

/// The member's own zone, for the times on their pages.
fn zone_of(member: &Member) -> Tz {
    member.time_zone.parse().unwrap_or(Tz::UTC)
}

/// A time in `zone`, the zone named.
fn when_in(zone: Tz, time: &DateTime<Utc>) -> String {
    time.with_timezone(&zone).format("%-d %b %Y, %H:%M %Z").to_string()
}

// ---- Filing a report ----

/// Something the reporter may report, and whom it is about.
struct Reportable {
    kind: TargetKind,
    id: i64,
    /// The `{id}` of its address: the id, or `{member}-{photo}` for a photo.
    key: String,
    /// The profile's owner, the other side of the invitation, the meetup's organiser; none for
    /// a venue.
    subject: Option<i64>,
    /// How the form names it: "the profile of Ada (@ada)".
    description: String,
    /// For a photo: where the form shows it, so the reporter sees what they report.
    picture: Option<String>,
}

/// What `/report/{kind}/{id}` is about, when `me` may report it. Unknown kinds, ids that are
/// not numbers, and anything the reporter cannot see are 404, as everywhere: a member who
/// blocked the reporter, an invitation of other people, a meetup hidden from them. A member
/// the reporter blocked can still be reported; nobody can report themselves (409).
async fn find_reportable(state: &AppState, me: &Member, kind: &str, key: &str) -> AppResult<Reportable> {
    let kind = TargetKind::from_path(kind).ok_or(AppError::NotFound)?;
    // A photo's is `{member}-{photo}`: a portrait the demo seed drew is several members', so
    // the photo alone would not say whose it is.
    let (owner, id) = match kind {
        TargetKind::Photo => parse_photo_key(key).map(|(member, photo)| (Some(member), photo)),
        _ => key.parse().ok().map(|id| (None, id)),
    }
    .ok_or(AppError::NotFound)?;
    let key = match owner {
        Some(member) => format!("{member}-{id}"),
        None => id.to_string(),
    };
    match kind {
        TargetKind::Member => {
            let target = store::find_reportable_member(&state.pool, id).await?;
            let (target, _) = reportable_member(state, me, target, "You cannot report yourself.").await?;
            let description = format!("the profile of {} (@{})", isolate(&target.display_name), target.handle);
            Ok(Reportable { kind, id, key, subject: Some(target.id), description, picture: None })
        }
        TargetKind::Photo => {
            // Only a photo the member shows now, to a reporter who may see it: a photo
            // replaced since is nobody's to see any more (its URL answers 404).
            let owner = owner.ok_or(AppError::NotFound)?;
            let target = store::find_member_showing_photo(&state.pool, owner, id).await?;
            let (target, i_block) = reportable_member(state, me, target, "You cannot report your own photo.").await?;
            let description = format!("the photo of {} (@{})", isolate(&target.display_name), target.handle);
            // None for a reporter who blocked the member: its URL answers 404 across a block.
            let picture = (!i_block).then(|| photos::model::url(target.id, id, photos::model::Size::Large));
            Ok(Reportable { kind, id, key, subject: Some(target.id), description, picture })
        }
        TargetKind::Invitation => {
            // Its two people only. Not refused across a block: the reporter knows the
            // invitation exists, so a 404 here would tell them they had been blocked.
            let invitation =
                crate::invitations::store::find_invitation(&state.pool, id).await?.ok_or(AppError::NotFound)?;
            let side = invitation.side_of(me.id).ok_or(AppError::NotFound)?;
            let (other, other_name, _) = invitation.other(side);
            let description = format!("your coffee invitation with {} (its notes)", isolate(other_name));
            Ok(Reportable { kind, id, key, subject: Some(other), description, picture: None })
        }
        TargetKind::Venue => {
            let (name, city) = store::find_reportable_venue(&state.pool, id).await?.ok_or(AppError::NotFound)?;
            let description = format!("the venue {}, {}", isolate(&name), isolate(&city));
            Ok(Reportable { kind, id, key, subject: None, description, picture: None })
        }
        TargetKind::Meetup => {
            let mut conn = state.pool.acquire().await?;
            let (meetup, _) = crate::meetups::load_visible(&mut conn, Some(me), id).await?;
            if meetup.organiser_id == me.id {
                return Err(AppError::Conflict("You cannot report your own meetup.".to_owned()));
            }
            let description =
                format!("the meetup “{}” organised by {}", isolate(&meetup.title), isolate(&meetup.organiser_name));
            Ok(Reportable { kind, id, key, subject: Some(meetup.organiser_id), description, picture: None })
        }
    }
}

/// `{member}-{photo}`, two ids in digits only, as a photo's report address names it.
fn parse_photo_key(key: &str) -> Option<(i64, i64)> {
    let (member, photo) = key.split_once('-')?;
    Some((photos::model::parse_id(member)?, photos::model::parse_id(photo)?))
}

/// `target` when `me` may report them (or their photo): not themselves (409, saying `own`),
/// and 404 when there is nobody or they blocked the reporter, as their profile answers. A
/// member the reporter blocked stays reportable; the flag says whether the reporter did.
async fn reportable_member(
    state: &AppState,
    me: &Member,
    target: Option<ReportableMember>,
    own: &str,
) -> AppResult<(ReportableMember, bool)> {
    let target = target.ok_or(AppError::NotFound)?;
    if target.id == me.id {
        return Err(AppError::Conflict(own.to_owned()));
    }
    let relation = crate::social::store::get_relation(&state.pool, me.id, target.id).await?;
    if relation.blocks_me && !relation.i_block {
        return Err(AppError::NotFound);
    }
    Ok((target, relation.i_block))
}

#[derive(Template, WebTemplate)]
#[template(path = "moderation/report_form.html")]
struct ReportPage {
    layout: Layout,
    action: String,
    description: String,
    picture: Option<String>,
    form: ReportForm,
    errors: FieldErrors,
}

impl ReportPage {
    fn new(layout: Layout, target: Reportable, form: ReportForm, errors: FieldErrors) -> Self {
        let action = format!("/report/{}/{}", target.kind.value(), target.key);
        ReportPage { layout, action, description: target.description, picture: target.picture, form, errors }
    }

    fn categories(&self) -> [Category; 6] {
        Category::ALL
    }

    fn details_limit(&self) -> usize {
        DETAILS_FIELD.max_chars
    }
}

/// The page for a member who has filed the most reports a day allows: 429, saying when they
/// can send more.
#[derive(Template, WebTemplate)]
#[template(path = "moderation/report_limit.html")]
struct ReportLimitPage {
    layout: Layout,
    cap: i64,
    until: String,
    /// What the member typed, given back since it was not sent.
    details: String,
}

fn cap_reached(layout: Layout, me: &Member, until: DateTime<Utc>, details: String) -> Response {
    let page = ReportLimitPage { layout, cap: DAILY_CAP, until: when_in(zone_of(me), &until), details };
    let mut response = (StatusCode::TOO_MANY_REQUESTS, page).into_response();
    let seconds = (until - Utc::now()).num_seconds().max(1);
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

async fn report_form(
    State(state): State<AppState>,
    CurrentMember(me): CurrentMember,
    Path((kind, id)): Path<(String, String)>,
    layout: Layout,
) -> AppResult<Response> {
    let target = find_reportable(&state, &me, &kind, &id).await?;
    // Said before anything is typed; the filing itself checks again under the lock.
    if let Some(until) = store::find_cap_lift(&state.pool, me.id).await? {
        return Ok(cap_reached(layout, &me, until, String::new()));
    }
    Ok(ReportPage::new(layout, target, ReportForm::default(), FieldErrors::default()).into_response())
}

async fn file_report(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(me): CurrentMember,
    Path((kind, id)): Path<(String, String)>,
    layout: Layout,
    Form(form): Form<ReportForm>,
) -> AppResult<Response> {
    let target = find_reportable(&state, &me, &kind, &id).await?;
    let report = match form.validate() {
        Ok(report) => report,
        Err(errors) => {
            let page = ReportPage::new(layout, target, form, errors);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let mut tx = state.pool.begin().await?;
    // The reporter's row lock first: two reports at once are counted one after the other,
    // so the daily cap is exact however many arrive together.
    crate::members::store::lock_member(&mut tx, me.id).await?;
    if let Some(until) = store::find_cap_lift(&mut *tx, me.id).await? {
        tx.rollback().await?;
        return Ok(cap_reached(layout, &me, until, report.details));
    }
    // The case row before the photo, in the order `decide` takes them (`lock_case`, then
    // `forget` locks the photo): the other order deadlocks with an admin closing the case.
    let case = store::open_case(&mut tx, target.kind, target.id, target.subject).await?;
    // A photo replaced since the check above is nobody's to see any more: 404, as its URL.
    if target.kind == TargetKind::Photo && !store::lock_shown_photo(&mut tx, target.id).await? {
        tx.rollback().await?;
        return Err(AppError::NotFound);
    }
    let report_id = store::insert_report(&mut tx, case, me.id, &report).await?;
    tx.commit().await?;
    Flash::success("Thank you. Your report has been received.").push(&session).await?;
    Ok(Redirect::to(&format!("/settings/reports/{report_id}")).into_response())
}

// ---- The reporter's own reports ----

/// The reporter's own pages: times in their zone.
struct ReporterView {
    zone: Tz,
}

impl ReporterView {
    fn when(&self, time: &DateTime<Utc>) -> String {
        when_in(self.zone, time)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "moderation/report_list.html")]
struct MyReportsPage {
    layout: Layout,
    reports: Vec<MyReport>,
    view: ReporterView,
}

async fn list_my_reports(
    State(state): State<AppState>,
    CurrentMember(me): CurrentMember,
    layout: Layout,
) -> AppResult<MyReportsPage> {
    let reports = store::list_reports_of(&state.pool, me.id).await?;
    Ok(MyReportsPage { layout, reports, view: ReporterView { zone: zone_of(&me) } })
}

#[derive(Template, WebTemplate)]
#[template(path = "moderation/report_show.html")]
struct MyReportPage {
    layout: Layout,
    report: MyReport,
    view: ReporterView,
}

async fn show_my_report(
    State(state): State<AppState>,
    CurrentMember(me): CurrentMember,
    Path(id): Path<i64>,
    layout: Layout,
) -> AppResult<MyReportPage> {
    let report = store::find_report_of(&state.pool, me.id, id).await?.ok_or(AppError::NotFound)?;
    Ok(MyReportPage { layout, report, view: ReporterView { zone: zone_of(&me) } })
}

// ---- The admins' queue ----

#[derive(Debug, Default, Deserialize)]
struct QueueQuery {
    status: Option<String>,
    /// The last case of the previous page.
    before: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "moderation/case_queue.html")]
struct QueuePage {
    layout: Layout,
    status: CaseStatus,
    cases: Vec<QueuedCase>,
    /// Where the next page starts, when there are older cases.
    older: Option<i64>,
    paged: bool,
    zone: Tz,
}

impl QueuePage {
    fn statuses(&self) -> [CaseStatus; 3] {
        CaseStatus::ALL
    }

    fn when(&self, time: &DateTime<Utc>) -> String {
        when_in(self.zone, time)
    }

    fn older_link(&self, before: &i64) -> String {
        format!("/admin/reports?status={}&before={before}", self.status.value())
    }
}

async fn list_cases(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Query(query): Query<QueueQuery>,
    layout: Layout,
) -> AppResult<QueuePage> {
    let status = match query.status.as_deref() {
        None | Some("") => CaseStatus::Open,
        Some(value) => CaseStatus::from_value(value)
            .ok_or_else(|| AppError::BadRequest("Show open, resolved or dismissed cases.".to_owned()))?,
    };
    let mut cases = store::list_cases(&state.pool, status, query.before, PAGE_SIZE + 1).await?;
    let older = if cases.len() as i64 > PAGE_SIZE {
        cases.truncate(PAGE_SIZE as usize);
        cases.last().map(|c| c.id)
    } else {
        None
    };
    Ok(QueuePage { layout, status, cases, older, paged: query.before.is_some(), zone: zone_of(&admin) })
}

#[derive(Template, WebTemplate)]
#[template(path = "moderation/case_show.html")]
struct CasePage {
    layout: Layout,
    case: Case,
    reports: Vec<CaseReport>,
    notes: Vec<CaseNote>,
    earlier: Vec<EarlierCase>,
    audit: Vec<LogRow>,
    no_shows: Vec<NoShow>,
    meetup_no_shows: Vec<MeetupNoShow>,
    /// What was typed in the forms, kept when one comes back with 422.
    note: String,
    resolve_outcome: String,
    dismiss_outcome: String,
    photo_reason: String,
    errors: FieldErrors,
    zone: Tz,
}

impl CasePage {
    fn when(&self, time: &DateTime<Utc>) -> String {
        when_in(self.zone, time)
    }

    fn is_open(&self) -> bool {
        self.case.status == CaseStatus::Open
    }

    fn outcome_limit(&self) -> usize {
        OUTCOME_MAX_CHARS
    }

    fn note_limit(&self) -> usize {
        NOTE_FIELD.max_chars
    }

    fn photo_reason_limit(&self) -> usize {
        super::actions::MAX_PHOTO_REASON_CHARS
    }

    fn admin_photo_url(&self, photo: &i64) -> String {
        super::admin_photo_url(*photo)
    }
}

/// Everything the case page shows; `None` when there is no such case.
async fn case_page(state: &AppState, admin: &Member, id: i64, layout: Layout) -> AppResult<CasePage> {
    let case = store::find_case(&state.pool, id).await?.ok_or(AppError::NotFound)?;
    let reports = store::list_case_reports(&state.pool, id).await?;
    let notes = store::list_case_notes(&state.pool, id).await?;
    let (earlier, audit, no_shows, meetup_no_shows) = match &case.subject {
        Some(subject) => {
            let filter = audit::Filter { target_member: Some(subject.id), ..audit::Filter::default() };
            (
                store::list_cases_about(&state.pool, subject.id, id).await?,
                audit::list(&state.pool, &filter, 20).await?,
                store::list_invitation_no_shows_of(&state.pool, subject.id).await?,
                crate::meetups::store::list_no_shows(&state.pool, Some(subject.id), 500, 0).await?,
            )
        }
        None => Default::default(),
    };
    Ok(CasePage {
        layout,
        case,
        reports,
        notes,
        earlier,
        audit,
        no_shows,
        meetup_no_shows,
        note: String::new(),
        resolve_outcome: String::new(),
        dismiss_outcome: String::new(),
        photo_reason: String::new(),
        errors: FieldErrors::default(),
        zone: zone_of(admin),
    })
}

async fn show_case(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<i64>,
    layout: Layout,
) -> AppResult<CasePage> {
    case_page(&state, &admin, id, layout).await
}

async fn add_note(
    State(state): State<AppState>,
    session: Session,
    Admin(admin): Admin,
    Path(id): Path<i64>,
    layout: Layout,
    Form(form): Form<NoteForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let body = NOTE_FIELD.check(&form.body, &mut errors);
    if !errors.is_empty() {
        let page = CasePage { note: form.body, errors, ..case_page(&state, &admin, id, layout).await? };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let mut tx = state.pool.begin().await?;
    let case = store::lock_case(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    let note = store::insert_case_note(&mut tx, id, admin.id, &body).await?;
    let entry = Entry {
        action: Action::NoteCase,
        target_member: case.subject,
        target: format!("case {id}"),
        detail: format!("note {note}"),
        reason: body,
    };
    audit::record(&mut tx, Actor::Admin(&admin), &entry).await?;
    tx.commit().await?;
    Flash::success("Note added.").push(&session).await?;
    Ok(Redirect::to(&format!("/admin/reports/{id}#notes")).into_response())
}

async fn resolve_case(
    State(state): State<AppState>,
    session: Session,
    Admin(admin): Admin,
    Path(id): Path<i64>,
    layout: Layout,
    Form(form): Form<DecisionForm>,
) -> AppResult<Response> {
    decide(&state, &session, &admin, id, CaseStatus::Resolved, layout, form).await
}

async fn dismiss_case(
    State(state): State<AppState>,
    session: Session,
    Admin(admin): Admin,
    Path(id): Path<i64>,
    layout: Layout,
    Form(form): Form<DecisionForm>,
) -> AppResult<Response> {
    decide(&state, &session, &admin, id, CaseStatus::Dismissed, layout, form).await
}

/// Closes an open case with `decision` and the outcome its reporters will read, and writes the
/// audit entry, in one transaction. The case is locked first, so of two admins deciding at
/// once one decides and the other gets 409; a report that arrived after the admin's page was
/// drawn (`seen`) also gives 409, so that no case is closed over a report nobody has read.
async fn decide(
    state: &AppState,
    session: &Session,
    admin: &Member,
    id: i64,
    decision: CaseStatus,
    layout: Layout,
    form: DecisionForm,
) -> AppResult<Response> {
    let field = if decision == CaseStatus::Resolved { "resolve_outcome" } else { "dismiss_outcome" };
    let mut errors = FieldErrors::default();
    let outcome = check_outcome(field, &form.outcome, &mut errors);
    if !errors.is_empty() {
        let mut page = case_page(state, admin, id, layout).await?;
        if page.case.status != CaseStatus::Open {
            return Err(already_decided());
        }
        if decision == CaseStatus::Resolved {
            page.resolve_outcome = form.outcome;
        } else {
            page.dismiss_outcome = form.outcome;
        }
        page.errors = errors;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let mut tx = state.pool.begin().await?;
    let case = store::lock_case(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    if case.status != CaseStatus::Open {
        return Err(already_decided());
    }
    if let Some(seen) = form.seen
        && store::count_case_reports(&mut tx, id).await? != seen
    {
        return Err(AppError::Conflict(
            "Another report arrived since you opened this case. Read it, then decide again.".to_owned(),
        ));
    }
    if !store::close_case(&mut tx, id, decision, admin.id, &outcome).await? {
        return Err(already_decided());
    }
    if case.kind == TargetKind::Photo {
        // The open case kept a photo its member has replaced since; nothing needs it now.
        crate::photos::store::forget(&mut tx, case.target_id).await?;
    }
    let (action, done) = match decision {
        CaseStatus::Resolved => (Action::ResolveCase, "resolved"),
        _ => (Action::DismissCase, "dismissed"),
    };
    let entry = Entry {
        action,
        target_member: case.subject,
        target: format!("case {id}"),
        detail: String::new(),
        reason: outcome,
    };
    audit::record(&mut tx, Actor::Admin(admin), &entry).await?;
    tx.commit().await?;
    Flash::success(format!("Case {id} {done}. Its reporters can now read your outcome.")).push(session).await?;
    Ok(Redirect::to("/admin/reports").into_response())
}

/// Removes the photo a case is about, with a reason its member reads (`actions::remove_photo`:
/// only while it is still their photo). An open case stays open: the admin then tells the
/// reporters by resolving it. A closed one keeps nothing, so the photo is deleted now.
async fn remove_reported_photo(
    State(state): State<AppState>,
    session: Session,
    Admin(admin): Admin,
    Path(id): Path<i64>,
    layout: Layout,
    Form(form): Form<super::PhotoRemovalForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let Some(reason) = form.reason(&mut errors) else {
        let page = CasePage { photo_reason: form.photo_reason, errors, ..case_page(&state, &admin, id, layout).await? };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let case = store::find_case(&state.pool, id).await?.ok_or(AppError::NotFound)?;
    // Only a photo's case has a photo to remove.
    let (Some(photo), Some(subject)) = (case.photo, case.subject) else {
        return Err(AppError::NotFound);
    };
    let removals =
        super::actions::remove_photo(&state.pool, Actor::Admin(&admin), subject.id, &subject.handle, photo.id, &reason)
            .await?;
    let done = super::photo_removed_message(&subject.handle, removals);
    let next = if case.status == CaseStatus::Open {
        "Resolve the case to tell its reporters."
    } else {
        "This case is closed already: its reporters are not told."
    };
    Flash::success(format!("{done} {next}")).push(&session).await?;
    Ok(Redirect::to(&format!("/admin/reports/{id}")).into_response())
}

fn already_decided() -> AppError {
    AppError::Conflict("This case has already been decided. Reload it to see the decision.".to_owned())
}
