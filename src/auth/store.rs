//! SQL for auth's own tables: `sessions` (housekeeping only; the session store writes the
//! rows), the log-in throttle's `login_failures` and `login_addresses`, and the sign-up
//! throttle's `sign_up_attempts`.
//!
//! The log-in throttle counts failures per (account, address) first, so that nobody can lock
//! an account's owner out from somewhere else: 5 in 15 minutes lock that pair only. An address
//! the account logged in from within 30 days is known, and a known pair has no other limit.
//! Any other pair is also held to a looser limit on the account across addresses (50: an
//! attacker with many addresses still gets few guesses) and to one on the address across
//! accounts (20: one address guessing at many accounts).

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgExecutor;

/// Failed log-ins are counted over this window.
pub const THROTTLE_WINDOW_MINUTES: i64 = 15;
/// Failures on one account from one address within the window before that pair is locked.
pub const MAX_PAIR_FAILURES: i64 = 5;
/// Failures on one account within the window (from any address) before the addresses it is
/// not known at are locked out of it.
pub const MAX_ACCOUNT_FAILURES: i64 = 50;
/// Failures from one address within the window (on any account) before it is locked out of
/// every account it is not known at. 20 rather than 5, so that a household or an office behind
/// one address is not locked out by one person's typos.
pub const MAX_CLIENT_FAILURES: i64 = 20;
/// How long a successful log-in makes its address known to the account.
pub const KNOWN_ADDRESS_DAYS: i32 = 30;
/// Sign-ups are counted per address over this window...
pub const SIGN_UP_WINDOW_MINUTES: i64 = 60;
/// ... and this many are taken from one address in it.
pub const MAX_SIGN_UPS: i64 = 5;

/// The throttles' key for a client: an IPv4 address, or an IPv6 address's /64. One household
/// or phone is given a whole /64 and may use a new address in it every day (privacy
/// addresses), so counting single IPv6 addresses would let one machine try without limit and
/// would forget the owner's known address overnight.
pub fn client_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => {
            let network = u128::from(ip) & (u128::MAX << 64);
            format!("{}/64", std::net::Ipv6Addr::from(network))
        }
    }
}

/// The log-in throttle's key for an account, whether it was named by handle or by email.
pub fn member_key(member_id: i64) -> String {
    format!("member:{member_id}")
}

/// When the next log-in attempt on `account` from `client_addr` will be heard, if the attempt
/// just recorded (`attempt`, see [`insert_login_attempt`]) is over a limit; `member_id` is
/// the account's, when it exists, for its known addresses. Every attempt in flight counts as a
/// failure, so attempts sent all at once see each other. A refused attempt removes its own row
/// (see [`delete_login_attempt`]), so a lock lifts when enough failures have left the window.
pub async fn login_throttled_until(
    db: impl PgExecutor<'_>,
    attempt: i64,
    account: &str,
    member_id: Option<i64>,
    client_addr: &str,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    // Each `*_lock` is the newest failure but as many as the limit allows (null under the
    // limit): the lock lifts when that one leaves the window.
    let row = sqlx::query!(
        r#"with recent as (
               select failed_at, lower(account) = lower($2) as on_account, client_addr = $3 as from_client
               from login_failures
               where (lower(account) = lower($2) or client_addr = $3)
                 and failed_at > now() - make_interval(mins => $4)
                 and id <> $1
           )
           select (select failed_at from recent where on_account and from_client
                   order by failed_at desc offset $5 limit 1) as pair_lock,
                  (select failed_at from recent where on_account
                   order by failed_at desc offset $6 limit 1) as account_lock,
                  (select failed_at from recent where from_client
                   order by failed_at desc offset $7 limit 1) as client_lock,
                  exists (select from login_addresses
                          where member_id = $8 and client_addr = $3
                            and last_login_at > now() - make_interval(days => $9)) as "known!""#,
        attempt,
        account,
        client_addr,
        THROTTLE_WINDOW_MINUTES as i32,
        MAX_PAIR_FAILURES - 1,
        MAX_ACCOUNT_FAILURES - 1,
        MAX_CLIENT_FAILURES - 1,
        member_id,
        KNOWN_ADDRESS_DAYS,
    )
    .fetch_one(db)
    .await?;
    let lock = if row.known { row.pair_lock } else { row.pair_lock.max(row.account_lock).max(row.client_lock) };
    Ok(lock.map(|newest_counted| newest_counted + Duration::minutes(THROTTLE_WINDOW_MINUTES)))
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

/// Forgets every failure on the account (a password reset makes old guesses moot).
pub async fn delete_login_failures(db: impl PgExecutor<'_>, account: &str) -> sqlx::Result<()> {
    sqlx::query!("delete from login_failures where lower(account) = lower($1)", account).execute(db).await?;
    Ok(())
}

/// A successful log-in forgives the failures on the account from its own address (the owner's
/// typos), not those from elsewhere, which may be someone else's guesses still being counted.
pub async fn delete_pair_failures(db: impl PgExecutor<'_>, account: &str, client_addr: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "delete from login_failures where lower(account) = lower($1) and client_addr = $2",
        account,
        client_addr
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Makes (or keeps) `client_addr` known to the member's account for another 30 days.
pub async fn upsert_login_address(db: impl PgExecutor<'_>, member_id: i64, client_addr: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into login_addresses (member_id, client_addr) values ($1, $2)
         on conflict (member_id, client_addr) do update set last_login_at = now()",
        member_id,
        client_addr
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records a sign-up from `client_addr` before its password is hashed, so that sign-ups sent
/// all at once see each other; returns its id.
pub async fn insert_sign_up_attempt(db: impl PgExecutor<'_>, client_addr: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar!("insert into sign_up_attempts (client_addr) values ($1) returning id", client_addr)
        .fetch_one(db)
        .await
}

/// When the address may sign up again, if the attempt just recorded is one too many; the
/// attempt then removes itself (see [`delete_sign_up_attempt`]).
pub async fn sign_up_throttled_until(
    db: impl PgExecutor<'_>,
    attempt: i64,
    client_addr: &str,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let newest_counted = sqlx::query_scalar!(
        "select attempted_at
         from sign_up_attempts
         where client_addr = $1
           and attempted_at > now() - make_interval(mins => $2)
           and id <> $3
         order by attempted_at desc
         offset $4 limit 1",
        client_addr,
        SIGN_UP_WINDOW_MINUTES as i32,
        attempt,
        MAX_SIGN_UPS - 1,
    )
    .fetch_optional(db)
    .await?;
    Ok(newest_counted.map(|at| at + Duration::minutes(SIGN_UP_WINDOW_MINUTES)))
}

/// Withdraws a refused sign-up, which took no hashing time and so counts against nobody.
pub async fn delete_sign_up_attempt(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<()> {
    sqlx::query!("delete from sign_up_attempts where id = $1", id).execute(db).await?;
    Ok(())
}

/// Housekeeping: expired sessions, and throttle rows too old to count (log-in failures,
/// addresses no longer known, sign-ups). Returns rows removed.
pub async fn delete_stale_auth_rows(db: &sqlx::PgPool) -> sqlx::Result<u64> {
    let sessions = sqlx::query!("delete from sessions where expires_at < now()").execute(db).await?.rows_affected();
    let failures = sqlx::query!(
        "delete from login_failures where failed_at < now() - make_interval(mins => $1)",
        THROTTLE_WINDOW_MINUTES as i32
    )
    .execute(db)
    .await?
    .rows_affected();
    let addresses = sqlx::query!(
        "delete from login_addresses where last_login_at < now() - make_interval(days => $1)",
        KNOWN_ADDRESS_DAYS
    )
    .execute(db)
    .await?
    .rows_affected();
    let sign_ups = sqlx::query!(
        "delete from sign_up_attempts where attempted_at < now() - make_interval(mins => $1)",
        SIGN_UP_WINDOW_MINUTES as i32
    )
    .execute(db)
    .await?
    .rows_affected();
    // Links by email are kept a while after they are used or expire, so that an old link can
    // still be answered "used" or "expired" rather than "unknown".
    let links = sqlx::query!("delete from account_tokens where expires_at < now() - interval '30 days'")
        .execute(db)
        .await?
        .rows_affected();
    Ok(sessions + failures + addresses + sign_ups + links)
}

#[cfg(test)]
mod tests {
    use super::client_key;

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_an_ipv4_one_by_its_address() {
        let key = |ip: &str| client_key(ip.parse().unwrap());
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_eq!(key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(key("2001:db8:1:2:a:b:c:d"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2::ffff"), key("2001:db8:1:2:1234::1"), "one household's /64");
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }
}
