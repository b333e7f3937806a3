//! "Delete my account". The member's row stays as a tombstone, "a former member" with no
//! name, address, password or profile, so that what others keep (met pairs, past invitations,
//! reports, warnings, the audit log, venues) still points somewhere; every personal row goes.
//!
//! One transaction: first everything the member has going with others is called off with
//! notices, exactly as a suspension does (`moderation::actions::take_out`, under the member's
//! graph lock), then the row is scrubbed and the personal rows deleted. The handle stays
//! reserved for [`HANDLE_RESERVED_DAYS`] days (a sign-up with it is told it is taken), so
//! nobody can pass for the member among the people who knew them while the news travels; then
//! [`free_handles`], run by the hourly housekeeping job, renames it to `~<id>`.
//!
//! Every table with a `members` reference, and its fate:
//!
//! | table | on deletion |
//! |---|---|
//! | `members` | scrubbed into the tombstone (handle kept until freed), no photo |
//! | `photos` | every one they uploaded deleted, a reported one too (its case says it is gone) |
//! | `availability`, `email_opt_outs`, `external_addresses`, `account_tokens`, `login_addresses` | deleted |
//! | `follows`, `blocks` | deleted, both ways |
//! | `met_pairs` | kept, pointing at the tombstone |
//! | `met_claims` | pending and declined deleted, both ways; confirmed kept (their met pair is) |
//! | `meetup_met_ticks` | deleted, both ways (a pair already met is in `met_pairs`) |
//! | `invitations` | open ones cancelled with notices; all kept, the notes the member wrote emptied |
//! | `suggestions` | open ones withdrawn with notices, then all of the member's deleted |
//! | `meetups` | those ahead cancelled with notices; past ones kept (attendees' history) |
//! | `rsvps` | seats ahead given up (the next in line seated and told); past ones kept |
//! | `notifications` | the member's own deleted; others' that name them kept (their record) |
//! | `outbox` | every mail to the member or to an address of theirs deleted, sent or not |
//! | `sessions` | deleted: every device is logged out |
//! | `login_failures` | the account's (`member:<id>`) deleted |
//! | `venues`, `scheduler_rounds`, `moderation_cases`, `reports`, `case_notes`, `member_warnings`, `audit_log` | kept |

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sqlx::PgConnection;
use tower_sessions::Session;

use crate::AppState;
use crate::auth::{CurrentMember, account_store};
use crate::error::AppResult;
use crate::members::model::Status;
use crate::moderation::actions::{self, Refused};
use crate::web::{ClientAddr, FieldErrors, Flash, Layout};

/// How long a deleted member's handle stays theirs before anyone may take it.
pub const HANDLE_RESERVED_DAYS: i32 = 30;

#[derive(Template, WebTemplate)]
#[template(path = "auth/delete.html")]
pub(super) struct DeletePage {
    layout: Layout,
    handle: String,
    errors: FieldErrors,
}

impl DeletePage {
    fn reserved_days(&self) -> i32 {
        HANDLE_RESERVED_DAYS
    }
}

/// No `Debug`: it holds a password.
#[derive(Deserialize)]
pub(super) struct DeleteForm {
    #[serde(default)]
    password: String,
}

pub(super) async fn delete_account_form(CurrentMember(member): CurrentMember, layout: Layout) -> DeletePage {
    DeletePage { layout, handle: member.handle, errors: FieldErrors::default() }
}

pub(super) async fn delete_account(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    ClientAddr(client): ClientAddr,
    layout: Layout,
    Form(form): Form<DeleteForm>,
) -> AppResult<Response> {
    let refuse = |message: &str| {
        let mut errors = FieldErrors::default();
        errors.add("password", message.to_owned());
        let page = DeletePage { layout, handle: member.handle.clone(), errors };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    let stored = crate::members::store::get_account(&state.pool, member.id).await?.password_hash;
    if !super::account::current_password_matches(&state, &member, client, form.password, stored).await? {
        return refuse("That is not your password. Nothing was deleted.");
    }
    match delete(&state.pool, member.id).await {
        Ok(()) => {}
        Err(Refused::LastAdmin) => {
            return refuse("You are the last admin: make someone else an admin first. Nothing was deleted.");
        }
        Err(other) => return Err(other.into()),
    }
    // The session's row went with the others; this clears the cookie's copy, and the flash
    // starts a new anonymous session, as a log-out does.
    session.flush().await?;
    Flash::success("Your account is deleted. Thank you for the coffees.").push(&session).await?;
    Ok(Redirect::to("/").into_response())
}

/// Deletes member `id`'s account: calls off what they have going with others, telling them,
/// then turns the row into a tombstone and deletes every personal row, in one transaction.
pub async fn delete(pool: &sqlx::PgPool, id: i64) -> Result<(), Refused> {
    let mut tx = pool.begin().await?;
    actions::take_out(&mut tx, id, Status::Deleted).await?;
    erase(&mut tx, id).await?;
    account_store::end_sessions(&mut *tx, id, None).await?;
    tx.commit().await?;
    Ok(())
}

/// The tombstone and the personal rows (see the table at the top). One statement: its parts
/// all read the member's row as it was, so the outbox is cleared by the address the scrub
/// removes. Call after [`actions::take_out`], which wrote the notices that name the member.
async fn erase(conn: &mut PgConnection, id: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "with availability as (
             delete from availability where member_id = $1
         ), follows as (
             delete from follows where follower_id = $1 or followee_id = $1
         ), blocks as (
             delete from blocks where blocker_id = $1 or blocked_id = $1
         ), claims as (
             delete from met_claims where (claimant_id = $1 or other_id = $1) and status <> 'confirmed'
         ), ticks as (
             delete from meetup_met_ticks where member_id = $1 or other_id = $1
         ), suggestions as (
             delete from suggestions where a_id = $1 or b_id = $1
         ), notes as (
             update invitations
             set note = case when inviter_id = $1 then '' else note end,
                 closing_note = case when closed_by = $1 then '' else closing_note end
             -- Whoever closed an invitation is one of its two: the first line reads the indexes.
             where (inviter_id = $1 or invitee_id = $1)
               and ((inviter_id = $1 and note <> '') or (closed_by = $1 and closing_note <> ''))
         ), notifications as (
             delete from notifications where member_id = $1
         ), outbox as (
             -- Every mail that holds one of the member's addresses: their current one, and one
             -- they were confirming (a change of address in flight).
             delete from outbox
             where member_id = $1
                or lower(to_address) in (select lower(email) from members where id = $1
                                         union
                                         select lower(email) from account_tokens
                                         where member_id = $1 and email is not null)
         ), opt_outs as (
             delete from email_opt_outs where member_id = $1
         ), addresses_elsewhere as (
             delete from external_addresses where member_id = $1
         ), tokens as (
             delete from account_tokens where member_id = $1
         ), login_addresses as (
             delete from login_addresses where member_id = $1
         ), failures as (
             delete from login_failures where lower(account) = 'member:' || $1
         ), photos as (
             -- The row's own reference to one of them goes in the update below; the foreign
             -- key is checked at the end of the statement, after both.
             delete from photos where member_id = $1
         )
         update members
         set deleted_at = now(), display_name = 'a former member', email = '~' || id,
             email_verified_at = null, password_hash = '', bio = '', city = '', interests = '{}',
             listed = false, matching = false, invite_policy = 'nobody', time_zone = 'UTC', role = 'member',
             photo_id = null,
             calendar_token = replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')
         where id = $1",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Housekeeping: frees the handles of accounts deleted more than [`HANDLE_RESERVED_DAYS`] days
/// ago by renaming them `~<id>`, which no sign-up can choose. Returns how many were freed.
pub async fn free_handles(pool: &sqlx::PgPool) -> sqlx::Result<u64> {
    let freed = sqlx::query!(
        "update members set handle = '~' || id
         where status = 'deleted' and deleted_at < now() - make_interval(days => $1) and handle <> '~' || id",
        HANDLE_RESERVED_DAYS
    )
    .execute(pool)
    .await?;
    Ok(freed.rows_affected())
}
