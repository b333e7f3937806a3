//! The audit log: one row per admin action, from the web or from `cuppa admin`. The table
//! refuses UPDATE, DELETE and TRUNCATE by trigger (see the moderation migration), so this module
//! only ever inserts and reads.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::members::model::Member;

#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq)]
#[sqlx(type_name = "audit_action", rename_all = "snake_case")]
pub enum Action {
    Warn,
    Hide,
    Suspend,
    Reinstate,
    SetRole,
    ResolveCase,
    DismissCase,
    NoteCase,
    ApproveVenue,
    RejectVenue,
    RunRound,
    RemovePhoto,
    AllowPhotos,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::Warn,
        Action::Hide,
        Action::Suspend,
        Action::Reinstate,
        Action::SetRole,
        Action::ResolveCase,
        Action::DismissCase,
        Action::NoteCase,
        Action::ApproveVenue,
        Action::RejectVenue,
        Action::RunRound,
        Action::RemovePhoto,
        Action::AllowPhotos,
    ];

    /// The value filters and the database use.
    pub fn value(self) -> &'static str {
        match self {
            Action::Warn => "warn",
            Action::Hide => "hide",
            Action::Suspend => "suspend",
            Action::Reinstate => "reinstate",
            Action::SetRole => "set_role",
            Action::ResolveCase => "resolve_case",
            Action::DismissCase => "dismiss_case",
            Action::NoteCase => "note_case",
            Action::ApproveVenue => "approve_venue",
            Action::RejectVenue => "reject_venue",
            Action::RunRound => "run_round",
            Action::RemovePhoto => "remove_photo",
            Action::AllowPhotos => "allow_photos",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Action::Warn => "Warned",
            Action::Hide => "Hid",
            Action::Suspend => "Suspended",
            Action::Reinstate => "Reinstated",
            Action::SetRole => "Changed role",
            Action::ResolveCase => "Resolved a case",
            Action::DismissCase => "Dismissed a case",
            Action::NoteCase => "Noted on a case",
            Action::ApproveVenue => "Approved a venue",
            Action::RejectVenue => "Rejected a venue",
            Action::RunRound => "Ran a scheduler round",
            Action::RemovePhoto => "Removed a photo",
            Action::AllowPhotos => "Allowed photo uploads again",
        }
    }

    pub fn from_value(value: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.value() == value)
    }
}

/// Who acted: an admin on the web, or someone at the command line (named by their login).
#[derive(Clone, Copy, Debug)]
pub enum Actor<'a> {
    Admin(&'a Member),
    CommandLine(&'a str),
}

impl Actor<'_> {
    fn admin_id(&self) -> Option<i64> {
        match self {
            Actor::Admin(admin) => Some(admin.id),
            Actor::CommandLine(_) => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Actor::Admin(admin) => format!("@{}", admin.handle),
            Actor::CommandLine(user) => format!("command line ({user})"),
        }
    }
}

/// What one action did, to whom, and why.
#[derive(Clone, Debug)]
pub struct Entry {
    pub action: Action,
    /// The member acted on, when it was a member (or a case about one).
    pub target_member: Option<i64>,
    /// What was acted on, in words: "@ada", "case 12", "venue 4: Flat White, London".
    pub target: String,
    /// More about the change, e.g. "member → organiser".
    pub detail: String,
    pub reason: String,
}

/// Writes one entry, on the transaction of the action it records.
pub async fn record(conn: &mut PgConnection, actor: Actor<'_>, entry: &Entry) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into audit_log (admin_id, actor, action, target_member_id, target, detail, reason)
         values ($1, $2, $3, $4, $5, $6, $7)",
        actor.admin_id(),
        actor.describe(),
        entry.action as Action,
        entry.target_member,
        entry.target,
        entry.detail,
        entry.reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One row of `/admin/audit`.
#[derive(Clone, Debug)]
pub struct LogRow {
    pub id: i64,
    pub actor: String,
    pub action: Action,
    pub target: String,
    pub target_handle: Option<String>,
    pub detail: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Filters of `/admin/audit`; each is optional.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub admin: Option<i64>,
    pub target_member: Option<i64>,
    pub action: Option<Action>,
    /// Entries older than this id (the next page).
    pub before: Option<i64>,
}

/// Newest first, `limit` rows, through the index that matches the filter.
pub async fn list(db: impl PgExecutor<'_>, filter: &Filter, limit: i64) -> sqlx::Result<Vec<LogRow>> {
    sqlx::query_as!(
        LogRow,
        r#"select a.id, a.actor, a.action as "action: Action", a.target, m.handle as "target_handle?",
                  a.detail, a.reason, a.at
           from audit_log a
           left join members m on m.id = a.target_member_id
           where ($1::bigint is null or a.admin_id = $1)
             and ($2::bigint is null or a.target_member_id = $2)
             and ($3::audit_action is null or a.action = $3)
             and ($4::bigint is null or a.id < $4)
           order by a.id desc
           limit $5"#,
        filter.admin,
        filter.target_member,
        filter.action as Option<Action>,
        filter.before,
        limit
    )
    .fetch_all(db)
    .await
}
