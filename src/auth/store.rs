//! SQL for auth's own tables: `sessions` (housekeeping only; the session store writes the
//! rows) and `login_failures`.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgExecutor;

/// Failed log-ins are counted over this window.
pub const THROTTLE_WINDOW_MINUTES: i64 = 15;
/// Failures on one account within the window before it is locked until the oldest expires.
pub const MAX_ACCOUNT_FAILURES: i64 = 5;
/// Failures from one client address within the window (across accounts) before it is locked.
pub const MAX_CLIENT_FAILURES: i64 = 20;

/// When the next log-in attempt for this account or from this address will be heard, if the
/// attempt just recorded (see [`insert_login_attempt`]) goes over a limit. A refused attempt
/// removes its own row, so the lock lifts when the oldest counted failure leaves the window.
pub async fn throttled_until(
    db: impl PgExecutor<'_>,
    account: &str,
    client_addr: &str,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let row = sqlx::query!(
        r#"with by_account as (
               select count(*) as failures, min(failed_at) as oldest
               from login_failures
               where lower(account) = lower($1)
                 and failed_at > now() - make_interval(mins => $3)
           ), by_client as (
               select count(*) as failures, min(failed_at) as oldest
               from login_failures
               where client_addr = $2
                 and failed_at > now() - make_interval(mins => $3)
           )
           select by_account.failures as "account_failures!", by_account.oldest as account_oldest,
                  by_client.failures as "client_failures!", by_client.oldest as client_oldest
           from by_account, by_client"#,
        account,
        client_addr,
        THROTTLE_WINDOW_MINUTES as i32,
    )
    .fetch_one(db)
    .await?;
    let window = Duration::minutes(THROTTLE_WINDOW_MINUTES);
    // The counts include the attempt being made: over the limit means the limit was reached.
    let account_until = row.account_oldest.filter(|_| row.account_failures > MAX_ACCOUNT_FAILURES);
    let client_until = row.client_oldest.filter(|_| row.client_failures > MAX_CLIENT_FAILURES);
    Ok(account_until.max(client_until).map(|oldest| oldest + window))
}

/// Records a log-in attempt as a failure until it is known to be otherwise; returns its id.
pub async fn insert_login_attempt(db: impl PgExecutor<'_>, account: &str, client_addr: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into login_failures (account, client_addr) values (lower($1), $2) returning id",
        account,
        client_addr
    )
    .fetch_one(db)
    .await
}

/// Withdraws an attempt that turned out not to be a wrong password.
pub async fn delete_login_attempt(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<()> {
    sqlx::query!("delete from login_failures where id = $1", id).execute(db).await?;
    Ok(())
}

/// A successful log-in forgives the account's earlier failures (not the address's).
pub async fn delete_login_failures(db: impl PgExecutor<'_>, account: &str) -> sqlx::Result<()> {
    sqlx::query!("delete from login_failures where lower(account) = lower($1)", account).execute(db).await?;
    Ok(())
}

/// Housekeeping: expired sessions and failures too old to count. Returns rows removed.
pub async fn delete_stale_auth_rows(db: &sqlx::PgPool) -> sqlx::Result<u64> {
    let sessions = sqlx::query!("delete from sessions where expires_at < now()").execute(db).await?.rows_affected();
    let failures = sqlx::query!(
        "delete from login_failures where failed_at < now() - make_interval(mins => $1)",
        THROTTLE_WINDOW_MINUTES as i32
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(sessions + failures)
}
