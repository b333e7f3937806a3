//! In-app notifications and the email outbox. Every domain event calls `store::record` on its
//! own transaction; this module shows the notifications at `/notifications` (the navigation's
//! unread count is read with the session: `auth::session_store`), keeps
//! each member's email choices at `/settings/notifications`, and sends the outbox
//! (`sender::run_sender`, started by `serve`). Writes `notifications` (read marks),
//! `email_opt_outs` and `outbox` (delivery state).

pub mod model;
pub mod sender;
pub mod store;

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use chrono_tz::Tz;
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::auth::CurrentMember;
use crate::error::{AppError, AppResult};
use crate::photos::model::Size;
use crate::web::routes::Routes;
use crate::web::{Flash, Layout, safe_next};
use model::Kind;
use store::NotificationRow;

/// Notifications per page.
const PAGE_SIZE: i64 = 30;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/notifications", list_notifications)
        .post("/notifications/read-all", mark_all_read)
        .post("/notifications/{id}/read", mark_read)
        .get("/settings/notifications", edit_email_settings_form)
        .post("/settings/notifications", update_email_settings)
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    /// Show notifications older than this id (the last one of the previous page).
    before: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "notify/list.html")]
struct NotificationsPage {
    layout: Layout,
    notifications: Vec<NotificationRow>,
    zone: Tz,
    /// Where the next page starts, when there are older notifications.
    older: Option<i64>,
    /// This is not the first page.
    paged: bool,
}

impl NotificationsPage {
    /// When it happened, in the member's own time zone, the zone named.
    fn when(&self, notification: &NotificationRow) -> String {
        notification.created_at.with_timezone(&self.zone).format("%-d %b %Y, %H:%M %Z").to_string()
    }
}

async fn list_notifications(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    Query(query): Query<PageQuery>,
    layout: Layout,
) -> AppResult<NotificationsPage> {
    let mut notifications = store::list_notifications(&state.pool, member.id, query.before, PAGE_SIZE + 1).await?;
    let older = if notifications.len() as i64 > PAGE_SIZE {
        notifications.truncate(PAGE_SIZE as usize);
        notifications.last().map(|n| n.id)
    } else {
        None
    };
    let zone = member.time_zone.parse().unwrap_or(Tz::UTC);
    Ok(NotificationsPage { layout, notifications, zone, older, paged: query.before.is_some() })
}

/// Marks the notification read and opens what it is about: the list's links are these
/// buttons, so following one is what reads it. Someone else's notification is not found.
async fn mark_read(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    let link = store::mark_read(&state.pool, member.id, id).await?.ok_or(AppError::NotFound)?;
    // Links are written by Cuppa's own code, but a redirect never leaves the site.
    Ok(Redirect::to(&safe_next(Some(&link))))
}

async fn mark_all_read(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
) -> AppResult<Redirect> {
    let marked = store::mark_all_read(&state.pool, member.id).await?;
    let text = match marked {
        0 => "Nothing was unread.".to_owned(),
        1 => "Marked 1 notification as read.".to_owned(),
        n => format!("Marked {n} notifications as read."),
    };
    Flash::success(text).push(&session).await?;
    Ok(Redirect::to("/notifications"))
}

/// One checkbox of the email settings.
struct EmailChoice {
    value: &'static str,
    label: &'static str,
    emailed: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "notify/settings.html")]
struct EmailSettingsPage {
    layout: Layout,
    choices: Vec<EmailChoice>,
}

impl EmailSettingsPage {
    fn new(layout: Layout, opted_out: &[Kind]) -> Self {
        let choices = Kind::ALL
            .into_iter()
            .map(|kind| EmailChoice { value: kind.value(), label: kind.label(), emailed: !opted_out.contains(&kind) })
            .collect();
        EmailSettingsPage { layout, choices }
    }
}

async fn edit_email_settings_form(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    layout: Layout,
) -> AppResult<EmailSettingsPage> {
    let opted_out = store::list_opt_outs(&state.pool, member.id).await?;
    Ok(EmailSettingsPage::new(layout, &opted_out))
}

/// Saves the choices. Every combination of ticks is valid and unknown fields are ignored, so
/// this form has no 422: whatever arrives is saved.
async fn update_email_settings(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    Form(fields): Form<HashMap<String, String>>,
) -> AppResult<Redirect> {
    let opted_out = model::opt_outs_from_form(&fields);
    let mut tx = state.pool.begin().await?;
    store::replace_opt_outs(&mut tx, member.id, &opted_out).await?;
    tx.commit().await?;
    let text = if opted_out.len() == Kind::ALL.len() {
        "Saved. Cuppa will not email you; your notifications still appear here."
    } else {
        "Your email settings are saved."
    };
    Flash::success(text).push(&session).await?;
    Ok(Redirect::to("/settings/notifications"))
}
