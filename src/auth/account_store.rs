//! SQL for the account controls: the one-time links of `account_tokens` (confirming an
//! address, resetting a password) and ending a member's sessions.
//!
//! A link's secret goes out by email and only its SHA-256 is kept (PostgreSQL computes it), so
//! a copy of the table opens nothing. Each link works once and expires. Issuing a link retires
//! the member's earlier open links of the same purpose, so only the newest email works.

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::web::csrf::random_token;

/// A member is sent at most one link of a kind (confirm an address, reset the password) to one
/// address this often, and at most `LINKS_PER_HOUR` of a kind an hour, so a form cannot be used
/// to flood a mailbox.
pub const RESEND_INTERVAL: Duration = Duration::minutes(5);
pub const LINKS_PER_HOUR: i32 = 5;

#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq)]
#[sqlx(type_name = "account_token_purpose", rename_all = "snake_case")]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    /// How long a link works.
    pub fn lifetime(self) -> Duration {
        match self {
            Purpose::VerifyEmail => Duration::days(7),
            Purpose::ResetPassword => Duration::hours(1),
        }
    }

    /// The lifetime as pages and emails say it.
    pub fn lifetime_text(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "7 days",
            Purpose::ResetPassword => "an hour",
        }
    }
}

/// A link's row, found by its secret.
#[derive(Clone, Debug)]
pub struct Token {
    pub member_id: i64,
    /// For `VerifyEmail`: the address the link confirms.
    pub email: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// Whether `secret` is shaped like one `random_token` draws (64 hex digits). Anything else
/// (a NUL byte from a percent-decoded path included) matches no link, without asking.
fn well_formed(secret: &str) -> bool {
    secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Draws a new link for the member and gives its secret, retiring their open ones of the same
/// purpose. `email` is the address a `VerifyEmail` link confirms.
pub async fn issue(
    conn: &mut PgConnection,
    member: i64,
    purpose: Purpose,
    email: Option<&str>,
) -> sqlx::Result<String> {
    retire_open(&mut *conn, member, purpose).await?;
    let secret = random_token();
    sqlx::query!(
        "insert into account_tokens (member_id, purpose, secret_hash, email, expires_at)
         values ($1, $2, sha256(convert_to($3, 'UTF8')), $4, now() + make_interval(secs => $5))",
        member,
        purpose as Purpose,
        secret,
        email,
        purpose.lifetime().num_seconds() as f64,
    )
    .execute(&mut *conn)
    .await?;
    Ok(secret)
}

/// Until when the member must wait before another link of this purpose is sent `to` an address
/// (`None`: any address), if they must: 5 minutes after the last link to that same address,
/// and an hour after the fifth-newest link to any. A second link to the same address is
/// usually an impatient resend; a new address (a typo corrected just after signing up) need
/// not wait, while the hourly cap keeps the form from being used to mail strangers. Call it
/// after locking the member's row, so two requests at once cannot both pass.
pub async fn must_wait_until(
    db: impl PgExecutor<'_>,
    member: i64,
    purpose: Purpose,
    to: Option<&str>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let row = sqlx::query!(
        r#"select max(created_at) filter (where $3::text is null or lower(email) = lower($3))
                      + make_interval(secs => $4) as same_address,
                  (array_agg(created_at order by created_at desc)
                      filter (where created_at > now() - interval '1 hour'))[$5] + interval '1 hour' as hourly
           from account_tokens
           where member_id = $1 and purpose = $2"#,
        member,
        purpose as Purpose,
        to,
        RESEND_INTERVAL.num_seconds() as f64,
        LINKS_PER_HOUR,
    )
    .fetch_one(db)
    .await?;
    Ok(row.same_address.max(row.hourly).filter(|until| *until > Utc::now()))
}

/// The link with this secret, used or not, of a member who has not deleted their account.
pub async fn find(db: impl PgExecutor<'_>, purpose: Purpose, secret: &str) -> sqlx::Result<Option<Token>> {
    if !well_formed(secret) {
        return Ok(None);
    }
    sqlx::query_as!(
        Token,
        "select t.member_id, t.email, t.expires_at, t.used_at
         from account_tokens t
         join members m on m.id = t.member_id
         where t.secret_hash = sha256(convert_to($1, 'UTF8')) and t.purpose = $2 and m.status <> 'deleted'",
        secret,
        purpose as Purpose
    )
    .fetch_optional(db)
    .await
}

/// Uses the link: marks it used if it is still open, in one statement, so two clicks at once
/// use it once. `None` when it is unknown, used or expired (`find` says which). On success the
/// member's other open links of the purpose are retired too.
pub async fn take(conn: &mut PgConnection, purpose: Purpose, secret: &str) -> sqlx::Result<Option<Token>> {
    if !well_formed(secret) {
        return Ok(None);
    }
    let token = sqlx::query_as!(
        Token,
        "update account_tokens t
         set used_at = now()
         from members m
         where m.id = t.member_id and m.status <> 'deleted'
           and t.secret_hash = sha256(convert_to($1, 'UTF8')) and t.purpose = $2
           and t.used_at is null and t.expires_at > now()
         returning t.member_id, t.email, t.expires_at, t.used_at",
        secret,
        purpose as Purpose
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(token) = &token {
        retire_open(&mut *conn, token.member_id, purpose).await?;
    }
    Ok(token)
}

async fn retire_open(db: impl PgExecutor<'_>, member: i64, purpose: Purpose) -> sqlx::Result<()> {
    sqlx::query!(
        "update account_tokens set used_at = now()
         where member_id = $1 and purpose = $2 and used_at is null",
        member,
        purpose as Purpose
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The address the member asked to change to and has not confirmed yet, if any.
pub async fn find_pending_email(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        r#"select t.email as "email!"
           from account_tokens t
           join members m on m.id = t.member_id
           where t.member_id = $1 and t.purpose = 'verify_email' and t.used_at is null and t.expires_at > now()
             and lower(t.email) <> lower(m.email)
           order by t.created_at desc
           limit 1"#,
        member
    )
    .fetch_optional(db)
    .await
}

/// Ends the member's sessions, all but `keep` (a session id) when given. `sessions.member_id`
/// is generated from each session's own record.
pub async fn end_sessions(db: impl PgExecutor<'_>, member: i64, keep: Option<&str>) -> sqlx::Result<u64> {
    let ended =
        sqlx::query!("delete from sessions where member_id = $1 and ($2::text is null or id <> $2)", member, keep)
            .execute(db)
            .await?;
    Ok(ended.rows_affected())
}
