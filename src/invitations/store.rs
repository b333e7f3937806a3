//! All SQL for `invitations`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::model::{Invitation, MAX_OPEN_SENT, MetAnswer, State};
use crate::members::model::Status;

/// One query's columns for every read of invitations, so the struct and the SQL cannot drift.
macro_rules! select_invitations {
    ($tail:literal, $($arg:expr),* $(,)?) => {
        sqlx::query_as!(
            Invitation,
            r#"select i.id, i.state as "state: State",
                      i.inviter_id, r.handle as inviter_handle, r.display_name as inviter_name,
                      r.status as "inviter_status: Status",
                      case when r.status = 'active' then r.photo_id end as inviter_photo_id,
                      i.invitee_id, e.handle as invitee_handle, e.display_name as invitee_name,
                      e.status as "invitee_status: Status",
                      case when e.status = 'active' then e.photo_id end as invitee_photo_id,
                      i.venue_id, v.name as venue_name, v.address as venue_address, v.city as venue_city,
                      v.time_zone as venue_zone,
                      i.proposed_times, i.proposed_by, i.accepted_time, i.note, i.closing_note, i.closed_by,
                      i.inviter_answer as "inviter_answer: MetAnswer", i.invitee_answer as "invitee_answer: MetAnswer",
                      i.created_at, i.updated_at
               from invitations i
               join members r on r.id = i.inviter_id
               join members e on e.id = i.invitee_id
               join venues v on v.id = i.venue_id "# + $tail,
            $($arg),*
        )
    };
}

pub async fn find_invitation(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Invitation>> {
    select_invitations!("where i.id = $1", id).fetch_optional(db).await
}

/// The invitation, locked until the transaction ends: every change reads it this way, so two
/// answers at once are applied one after the other and the second sees the first.
pub async fn lock_invitation(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Invitation>> {
    select_invitations!("where i.id = $1 for update of i", id).fetch_optional(conn).await
}

/// Where a page of `/invitations` ends: the order's key of its last invitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListCursor {
    pub open: bool,
    pub updated_at: DateTime<Utc>,
    pub id: i64,
}

/// A page of the member's invitations: open ones first (they want an answer or are coming up),
/// then closed ones, each most recently changed first. `limit` of them after `after` (the
/// previous page's last one: open or not, its last change and id), or from the start. Keyset
/// pages, so one that changes between two pages moves up rather than pushing others out of
/// sight.
pub async fn list_invitations_of(
    db: impl PgExecutor<'_>,
    member: i64,
    after: Option<ListCursor>,
    limit: i64,
) -> sqlx::Result<Vec<Invitation>> {
    select_invitations!(
        "where (i.inviter_id = $1 or i.invitee_id = $1)
           and not exists (select from blocks b
                           where (b.blocker_id = i.inviter_id and b.blocked_id = i.invitee_id)
                              or (b.blocker_id = i.invitee_id and b.blocked_id = i.inviter_id))
           and ($2::boolean is null
                or (i.state in ('pending', 'countered', 'accepted'), i.updated_at, i.id) < ($2, $3::timestamptz, $4::bigint))
         order by i.state in ('pending', 'countered', 'accepted') desc, i.updated_at desc, i.id desc
         limit $5",
        member,
        after.map(|c| c.open),
        after.map(|c| c.updated_at),
        after.map(|c| c.id),
        limit
    )
    .fetch_all(db)
    .await
}

/// Agreed coffees still to come, soonest first, for the calendar feed. A coffee with a member
/// who has since been suspended is left out (the invitation page still tells of it); a hidden
/// member's coffees go on, since they still use Cuppa; a block cancels the coffee, so it
/// leaves by itself.
pub async fn list_upcoming_coffees(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<Vec<Invitation>> {
    select_invitations!(
        "where (i.inviter_id = $1 or i.invitee_id = $1) and i.state = 'accepted'
           and r.status <> 'suspended' and e.status <> 'suspended'
         order by i.accepted_time
         limit 100",
        member
    )
    .fetch_all(db)
    .await
}

/// What the home page shows: open invitations, and held coffees from the last month that the
/// member has not yet said whether they met at; none with a suspended or blocked member (a
/// hidden member's go on, as on their invitations page). Agreed ones soonest first, then the rest.
pub async fn list_current(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<Vec<Invitation>> {
    select_invitations!(
        "where (i.inviter_id = $1 or i.invitee_id = $1)
           and (i.state in ('pending', 'countered', 'accepted')
                or (i.state = 'held' and i.accepted_time > now() - interval '30 days'
                    and case when i.inviter_id = $1 then i.inviter_answer else i.invitee_answer end is null))
           and r.status <> 'suspended' and e.status <> 'suspended'
           and not exists (select from blocks b
                           where (b.blocker_id = i.inviter_id and b.blocked_id = i.invitee_id)
                              or (b.blocker_id = i.invitee_id and b.blocked_id = i.inviter_id))
         order by i.accepted_time nulls last, i.created_at desc
         limit 50",
        member
    )
    .fetch_all(db)
    .await
}

/// Whether `inviter` may send one more: fewer than the cap waiting for an answer. Call it on a
/// transaction holding the inviter's row lock, so two sends at once cannot both pass.
pub async fn may_send_more(conn: &mut PgConnection, inviter: i64) -> sqlx::Result<bool> {
    let open = sqlx::query_scalar!(
        r#"select count(*) as "open!" from invitations where inviter_id = $1 and state in ('pending', 'countered')"#,
        inviter
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(open < MAX_OPEN_SENT)
}

/// Whether an invitation between the two is open (either way round).
pub async fn open_between(db: impl PgExecutor<'_>, one: i64, other: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "select id from invitations
         where least(inviter_id, invitee_id) = least($1::bigint, $2::bigint)
           and greatest(inviter_id, invitee_id) = greatest($1::bigint, $2::bigint)
           and state in ('pending', 'countered', 'accepted')",
        one,
        other
    )
    .fetch_optional(db)
    .await
}

/// A new invitation, pending, its times proposed by the inviter. Fails with a unique violation
/// on `invitations_one_open_per_pair` when one is already open between the two.
pub async fn insert_invitation(
    conn: &mut PgConnection,
    inviter: i64,
    invitee: i64,
    venue: i64,
    times: &[DateTime<Utc>],
    note: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into invitations (inviter_id, invitee_id, venue_id, proposed_times, note, proposed_by)
         values ($1, $2, $3, $4, $5, $1)
         returning id",
        inviter,
        invitee,
        venue,
        times,
        note
    )
    .fetch_one(conn)
    .await
}

/// The columns a move may change. Unchanged ones are passed as they were.
#[derive(Clone, Debug)]
pub struct Change<'a> {
    pub state: State,
    pub proposed_times: &'a [DateTime<Utc>],
    /// Who proposed `proposed_times`: the member countering, or as it was.
    pub proposed_by: i64,
    pub accepted_time: Option<DateTime<Utc>>,
    pub closing_note: &'a str,
    pub closed_by: Option<i64>,
}

pub async fn update_invitation(conn: &mut PgConnection, id: i64, change: &Change<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "update invitations
         set state = $2, proposed_times = $3, accepted_time = $4, closing_note = $5, closed_by = $6,
             proposed_by = $7
         where id = $1",
        id,
        change.state as State,
        change.proposed_times,
        change.accepted_time,
        change.closing_note,
        change.closed_by,
        change.proposed_by
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records one side's answer to "did you meet?".
pub async fn update_met_answer(
    conn: &mut PgConnection,
    id: i64,
    inviter_side: bool,
    answer: MetAnswer,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update invitations
         set inviter_answer = case when $2 then $3 else inviter_answer end,
             invitee_answer = case when $2 then invitee_answer else $3 end
         where id = $1",
        id,
        inviter_side,
        answer as MetAnswer
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Open invitations a background job should move on: unanswered ones whose every time has
/// passed (to expire) and agreed coffees whose hour is over (to ask "did you meet?"). Locked
/// with `skip locked`, so a member's answer in flight, or a second job, is left alone.
pub async fn lock_due_invitations(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<Invitation>> {
    select_invitations!(
        "where i.id in (
             select id from invitations
             where state in ('pending', 'countered', 'accepted')
               and case when state = 'accepted' then accepted_time + interval '1 hour'
                        else (select max(t) from unnest(proposed_times) as t) end <= $1
             order by id
             limit $2
             for update skip locked
         )
         order by i.id",
        now,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Cancels whatever is open between two members, quietly and naming no one: used when one
/// blocks the other (whose pages then hide the invitation altogether).
pub async fn cancel_open_between(conn: &mut PgConnection, blocker: i64, blocked: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "update invitations set state = 'cancelled', closed_by = null
         where state in ('pending', 'countered', 'accepted')
           and least(inviter_id, invitee_id) = least($1::bigint, $2::bigint)
           and greatest(inviter_id, invitee_id) = greatest($1::bigint, $2::bigint)",
        blocker,
        blocked
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Cancels every open invitation of a member being suspended, naming no one, and gives them as
/// they now are, for the other sides' notices. An agreed coffee is called off too, so nobody is
/// asked "did you meet?" about it.
pub async fn cancel_all_open_of(conn: &mut PgConnection, member: i64) -> sqlx::Result<Vec<Invitation>> {
    let ids = sqlx::query_scalar!(
        "update invitations set state = 'cancelled', closed_by = null
         where state in ('pending', 'countered', 'accepted') and (inviter_id = $1 or invitee_id = $1)
         returning id",
        member
    )
    .fetch_all(&mut *conn)
    .await?;
    select_invitations!("where i.id = any($1) order by i.id", &ids).fetch_all(conn).await
}

/// A "they didn't come" answer, for the admins' list.
#[derive(Clone, Debug)]
pub struct NoShow {
    pub invitation_id: i64,
    pub reporter_handle: String,
    pub absent_handle: String,
    pub venue_name: String,
    pub accepted_time: DateTime<Utc>,
}

/// "They didn't come" answers, latest coffee first (then by invitation and side, so offset
/// pages neither skip nor repeat): `limit` of them after `offset`.
pub async fn list_no_shows(db: impl PgExecutor<'_>, limit: i64, offset: i64) -> sqlx::Result<Vec<NoShow>> {
    sqlx::query_as!(
        NoShow,
        r#"select i.id as invitation_id,
                  case when s.by_inviter then r.handle else e.handle end as "reporter_handle!",
                  case when s.by_inviter then e.handle else r.handle end as "absent_handle!",
                  v.name as venue_name, i.accepted_time as "accepted_time!"
           from invitations i
           cross join lateral (values (true, i.inviter_answer), (false, i.invitee_answer)) as s(by_inviter, answer)
           join members r on r.id = i.inviter_id
           join members e on e.id = i.invitee_id
           join venues v on v.id = i.venue_id
           where i.state = 'held' and (i.inviter_answer = 'no_show' or i.invitee_answer = 'no_show')
             and s.answer = 'no_show'
           order by i.accepted_time desc, i.id desc, s.by_inviter desc
           limit $1 offset $2"#,
        limit,
        offset
    )
    .fetch_all(db)
    .await
}
