//! SQL of the admin area: members as admins see them, their status and role, warnings, and the
//! dashboard's figures. Reports and cases are in `report_store`, the audit log in `audit`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::members::model::{Role, Status};

/// A member as their admin page shows them.
#[derive(Clone, Debug)]
pub struct MemberRecord {
    pub id: i64,
    pub handle: String,
    pub display_name: String,
    pub email: String,
    pub city: String,
    pub role: Role,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub followers: i64,
    pub following: i64,
    pub met: i64,
}

pub async fn find_member(db: impl PgExecutor<'_>, handle: &str) -> sqlx::Result<Option<MemberRecord>> {
    if !could_be_handle(handle) {
        return Ok(None);
    }
    sqlx::query_as!(
        MemberRecord,
        r#"select m.id, m.handle, m.display_name, m.email, m.city, m.role as "role: Role",
                  m.status as "status: Status", m.created_at,
                  (select count(*) from follows where followee_id = m.id) as "followers!",
                  (select count(*) from follows where follower_id = m.id) as "following!",
                  (select count(*) from met_pairs where a_id = m.id or b_id = m.id) as "met!"
           from members m
           where lower(m.handle) = lower($1)"#,
        handle
    )
    .fetch_optional(db)
    .await
}

/// Whether `handle`, from a path or a query, may name a member. Admins reach deleted members
/// too, whose handles (`~<id>`) no member could choose, so only what no handle holds is
/// refused: a NUL byte, which PostgreSQL rejects with an error (a 500) rather than matching
/// nothing.
fn could_be_handle(handle: &str) -> bool {
    !handle.contains('\0')
}

/// Who a handle names, for acting on them: just the id and the handle as stored.
pub struct MemberKey {
    pub id: i64,
    pub handle: String,
}

pub async fn find_member_key(db: impl PgExecutor<'_>, handle: &str) -> sqlx::Result<Option<MemberKey>> {
    if !could_be_handle(handle) {
        return Ok(None);
    }
    sqlx::query_as!(MemberKey, "select id, handle from members where lower(handle) = lower($1)", handle)
        .fetch_optional(db)
        .await
}

/// A line of `/admin/members`.
#[derive(Clone, Debug)]
pub struct MemberLine {
    pub handle: String,
    pub display_name: String,
    pub email: String,
    pub role: Role,
    pub status: Status,
    pub created_at: DateTime<Utc>,
}

/// Members whose handle or name starts with `query`, or whose email is `query`; with an empty
/// query, everyone who is not a plain active member (staff, hidden and suspended), so the page
/// opens on the people admins most often look for.
pub async fn search_members(db: impl PgExecutor<'_>, query: &str, limit: i64) -> sqlx::Result<Vec<MemberLine>> {
    sqlx::query_as!(
        MemberLine,
        r#"select handle, display_name, email, role as "role: Role", status as "status: Status", created_at
           from members
           where case when $1 = '' then role <> 'member' or status <> 'active'
                      else lower(handle) like lower($1) || '%' or lower(display_name) like lower($1) || '%'
                           or lower(email) = lower($1) end
           order by lower(handle)
           limit $2"#,
        query.replace(['%', '_', '\\'], ""),
        limit
    )
    .fetch_all(db)
    .await
}

/// The member's role and status, with their row locked (`for no key update`, the same lock the
/// invitation sender takes on an inviter) until the transaction ends.
pub async fn lock_member(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<(Role, Status)>> {
    let row = sqlx::query!(
        r#"select role as "role: Role", status as "status: Status" from members where id = $1 for no key update"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.role, r.status)))
}

/// How many admins could still act (not suspended), every admin row locked in id order, so two
/// demotions at once cannot both pass the "not the last admin" check.
pub async fn lock_admins(conn: &mut PgConnection) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        "select id from members where role = 'admin' and status <> 'suspended' order by id for no key update"
    )
    .fetch_all(conn)
    .await
}

pub async fn set_status(conn: &mut PgConnection, id: i64, status: Status) -> sqlx::Result<()> {
    sqlx::query!("update members set status = $2 where id = $1", id, status as Status).execute(conn).await?;
    Ok(())
}

pub async fn set_role(conn: &mut PgConnection, id: i64, role: Role) -> sqlx::Result<()> {
    sqlx::query!("update members set role = $2 where id = $1", id, role as Role).execute(conn).await?;
    Ok(())
}

pub async fn insert_warning(conn: &mut PgConnection, member: i64, message: &str) -> sqlx::Result<()> {
    sqlx::query!("insert into member_warnings (member_id, message) values ($1, $2)", member, message)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct Warning {
    pub id: i64,
    pub message: String,
    pub created_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// The member's warnings, newest first; only the unacknowledged ones when `pending`.
pub async fn list_warnings(db: impl PgExecutor<'_>, member: i64, pending: bool) -> sqlx::Result<Vec<Warning>> {
    sqlx::query_as!(
        Warning,
        "select id, message, created_at, acknowledged_at from member_warnings
         where member_id = $1 and (not $2 or acknowledged_at is null)
         order by id desc
         limit 50",
        member,
        pending
    )
    .fetch_all(db)
    .await
}

/// Marks the warnings the member was shown (up to `last`) as read; a warning given meanwhile
/// stays pending and is shown next.
pub async fn acknowledge_warnings(db: impl PgExecutor<'_>, member: i64, last: i64) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update member_warnings set acknowledged_at = now()
         where member_id = $1 and id <= $2 and acknowledged_at is null",
        member,
        last
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// The dashboard's headline figures.
#[derive(Clone, Debug)]
pub struct Figures {
    pub members: i64,
    pub new_this_week: i64,
    pub open_cases: i64,
    pub open_reports: i64,
    pub suspended: i64,
    pub hidden: i64,
}

pub async fn figures(db: impl PgExecutor<'_>) -> sqlx::Result<Figures> {
    sqlx::query_as!(
        Figures,
        // Deleted accounts are tombstones, no longer members.
        r#"select (select count(*) from members where status <> 'deleted') as "members!",
                  (select count(*) from members where created_at > now() - interval '7 days' and status <> 'deleted')
                      as "new_this_week!",
                  (select count(*) from moderation_cases where status = 'open') as "open_cases!",
                  (select count(*) from reports r join moderation_cases c on c.id = r.case_id
                   where c.status = 'open') as "open_reports!",
                  (select count(*) from members where status = 'suspended') as "suspended!",
                  (select count(*) from members where status = 'hidden') as "hidden!""#
    )
    .fetch_one(db)
    .await
}

/// One week of the dashboard's chart (weeks start on Monday, UTC).
#[derive(Clone, Debug)]
pub struct Week {
    pub starts: DateTime<Utc>,
    pub joined: i64,
    pub coffees: i64,
    pub met: i64,
}

/// The last `weeks` weeks, this one included, oldest first: members who joined, coffees agreed
/// (counted in the week the coffee is for, since an acceptance is not timestamped on its own)
/// and pairs who met.
pub async fn weekly(db: impl PgExecutor<'_>, weeks: i32) -> sqlx::Result<Vec<Week>> {
    sqlx::query_as!(
        Week,
        r#"with bounds as (
               select date_trunc('week', now()) - make_interval(weeks => $1 - 1) as first_week
           ),
           weeks as (
               select generate_series(b.first_week, date_trunc('week', now()), interval '1 week') as starts
               from bounds b
           ),
           joined as (
               select date_trunc('week', created_at) as starts, count(*) as n from members, bounds
               where created_at >= first_week group by 1
           ),
           coffees as (
               select date_trunc('week', accepted_time) as starts, count(*) as n from invitations, bounds
               where state in ('accepted', 'held') and accepted_time >= first_week group by 1
           ),
           met as (
               select date_trunc('week', met_at) as starts, count(*) as n from met_pairs, bounds
               where met_at >= first_week group by 1
           )
           select w.starts as "starts!", coalesce(j.n, 0) as "joined!", coalesce(c.n, 0) as "coffees!",
                  coalesce(m.n, 0) as "met!"
           from weeks w
           left join joined j on j.starts = w.starts
           left join coffees c on c.starts = w.starts
           left join met m on m.starts = w.starts
           order by w.starts"#,
        weeks
    )
    .fetch_all(db)
    .await
}
