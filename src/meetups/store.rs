//! All SQL for `meetups`, `rsvps` and `meetup_met_ticks`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::model::{Meetup, MeetupDraft, RsvpStatus, Visibility};
use crate::members::model::Status;

/// One query's columns for every read of meetups, so the struct and the SQL cannot drift. The
/// seat counts read the `rsvps_meetup_status` index.
macro_rules! select_meetups {
    ($tail:literal, $($arg:expr),* $(,)?) => {
        sqlx::query_as!(
            Meetup,
            r#"select m.id, m.organiser_id, o.handle as organiser_handle, o.display_name as organiser_name,
                      o.status as "organiser_status: Status",
                      case when o.status = 'active' then o.photo_id end as organiser_photo_id,
                      m.venue_id, v.name as venue_name, v.address as venue_address, v.city as venue_city,
                      v.time_zone as venue_zone, v.step_free as venue_step_free, v.quiet as venue_quiet,
                      v.notes as venue_notes,
                      m.title, m.description, m.starts_at, m.ends_at, m.capacity,
                      m.visibility as "visibility: Visibility", m.rsvp_deadline, m.followers_invited_at,
                      m.cancelled_at,
                      (select count(*) from rsvps r where r.meetup_id = m.id and r.status = 'going') as "going!",
                      (select count(*) from rsvps r where r.meetup_id = m.id and r.status = 'waitlisted') as "waitlisted!",
                      m.updated_at
               from meetups m
               join members o on o.id = m.organiser_id
               join venues v on v.id = m.venue_id "# + $tail,
            $($arg),*
        )
    };
}

pub async fn find_meetup(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Meetup>> {
    select_meetups!("where m.id = $1", id).fetch_optional(db).await
}

/// Locks the meetup row until the transaction ends. Every change to its RSVPs and seats takes
/// this lock first, so they happen one after another. Read the meetup (and count its seats)
/// after this, in a statement of its own: under READ COMMITTED a statement sees what was
/// committed when it began, and only a statement begun after the lock was granted sees the
/// RSVPs of whoever held it before.
pub async fn lock_meetup(conn: &mut PgConnection, id: i64) -> sqlx::Result<bool> {
    let found = sqlx::query_scalar!("select id from meetups where id = $1 for update", id).fetch_optional(conn).await?;
    Ok(found.is_some())
}

/// Upcoming meetups `viewer` may see, soonest first, after the keyset `after` (the last
/// meetup's start and id on the previous page): public ones, and followers-only ones of
/// organisers they follow (or their own); never across a block; never a suspended or hidden
/// organiser's, except a hidden organiser's own (the viewer is logged in, so not suspended).
pub async fn list_upcoming(
    db: impl PgExecutor<'_>,
    viewer: Option<i64>,
    city: Option<&str>,
    followed_only: bool,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> sqlx::Result<Vec<Meetup>> {
    let (after_start, after_id) = after.unzip();
    select_meetups!(
        "where m.cancelled_at is null and m.starts_at > now() and (o.status = 'active' or m.organiser_id = $1)
           and ($2::text is null or lower(v.city) = lower($2))
           and ($4::timestamptz is null or (m.starts_at, m.id) > ($4, $5))
           and ((m.organiser_id = $1 and not $3)
                or ((m.visibility = 'public' and not $3)
                    or exists (select from follows f where f.follower_id = $1 and f.followee_id = m.organiser_id)))
           and not exists (select from blocks b
                           where (b.blocker_id = $1 and b.blocked_id = m.organiser_id)
                              or (b.blocker_id = m.organiser_id and b.blocked_id = $1))
         order by m.starts_at, m.id
         limit $6",
        viewer,
        city,
        followed_only,
        after_start,
        after_id,
        limit
    )
    .fetch_all(db)
    .await
}

/// An organiser's meetups, cancelled ones included: upcoming soonest first, then the last
/// year's past ones, latest first (at most 200).
pub async fn list_organised(db: impl PgExecutor<'_>, organiser: i64) -> sqlx::Result<Vec<Meetup>> {
    select_meetups!(
        "where m.organiser_id = $1 and m.starts_at > now() - interval '1 year'
         order by m.ends_at < now(), case when m.ends_at < now() then -extract(epoch from m.starts_at) else extract(epoch from m.starts_at) end
         limit 200",
        organiser
    )
    .fetch_all(db)
    .await
}

/// A member's meetups still to come that they are going to or waitlisted for, soonest first:
/// none cancelled, none across a block with the organiser.
pub async fn list_member_meetups(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<Vec<Meetup>> {
    select_meetups!(
        "join rsvps mine on mine.meetup_id = m.id and mine.member_id = $1 and mine.status <> 'cancelled'
         where m.cancelled_at is null and m.ends_at > now() and o.status = 'active'
           and not exists (select from blocks b
                           where (b.blocker_id = $1 and b.blocked_id = m.organiser_id)
                              or (b.blocker_id = m.organiser_id and b.blocked_id = $1))
         order by m.starts_at, m.id
         limit 50",
        member
    )
    .fetch_all(db)
    .await
}

/// Upcoming meetups `organiser` organises that `viewer` may see (for their profile).
pub async fn list_organised_for(db: impl PgExecutor<'_>, organiser: i64, viewer: i64) -> sqlx::Result<Vec<Meetup>> {
    select_meetups!(
        "where m.organiser_id = $1 and m.cancelled_at is null and m.starts_at > now()
           and (m.visibility = 'public' or m.organiser_id = $2
                or exists (select from follows f where f.follower_id = $2 and f.followee_id = $1))
         order by m.starts_at, m.id
         limit 10",
        organiser,
        viewer
    )
    .fetch_all(db)
    .await
}

/// Inserts a meetup and its repeats; the repeats point at the first as their series.
pub async fn insert_meetups(
    conn: &mut PgConnection,
    organiser: i64,
    venue: i64,
    drafts: &[MeetupDraft],
) -> sqlx::Result<Vec<i64>> {
    let mut ids: Vec<i64> = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let id = sqlx::query_scalar!(
            "insert into meetups (organiser_id, venue_id, series_id, title, description, starts_at, ends_at,
                                  capacity, visibility, rsvp_deadline)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             returning id",
            organiser,
            venue,
            ids.first().copied(),
            draft.title,
            draft.description,
            draft.starts_at,
            draft.ends_at,
            draft.capacity,
            draft.visibility as Visibility,
            draft.rsvp_deadline
        )
        .fetch_one(&mut *conn)
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

pub async fn update_meetup(conn: &mut PgConnection, id: i64, venue: i64, draft: &MeetupDraft) -> sqlx::Result<()> {
    sqlx::query!(
        "update meetups
         set venue_id = $2, title = $3, description = $4, starts_at = $5, ends_at = $6, capacity = $7,
             visibility = $8, rsvp_deadline = $9
         where id = $1",
        id,
        venue,
        draft.title,
        draft.description,
        draft.starts_at,
        draft.ends_at,
        draft.capacity,
        draft.visibility as Visibility,
        draft.rsvp_deadline
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn cancel_meetup(conn: &mut PgConnection, id: i64) -> sqlx::Result<()> {
    sqlx::query!("update meetups set cancelled_at = now() where id = $1 and cancelled_at is null", id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The meetups a member hosts that are still ahead and not cancelled, smallest id first (the
/// order their locks are taken in).
pub async fn list_upcoming_hosted(db: impl PgExecutor<'_>, organiser: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        "select id from meetups where organiser_id = $1 and cancelled_at is null and starts_at > now() order by id",
        organiser
    )
    .fetch_all(db)
    .await
}

/// The meetups still ahead where a member is going or waiting, smallest id first.
pub async fn list_upcoming_rsvps(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        "select m.id from rsvps r join meetups m on m.id = r.meetup_id
         where r.member_id = $1 and r.status <> 'cancelled' and m.cancelled_at is null and m.starts_at > now()
         order by m.id",
        member
    )
    .fetch_all(db)
    .await
}

/// Marks the followers as told; false when they already were (it is done once a meetup).
pub async fn mark_followers_invited(conn: &mut PgConnection, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update meetups set followers_invited_at = now() where id = $1 and followers_invited_at is null",
        id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A member's RSVP to a meetup, with their place on the waitlist (1 for the first).
#[derive(Clone, Debug)]
pub struct Rsvp {
    pub meetup_id: i64,
    pub status: RsvpStatus,
    pub position: i64,
    pub checked_in: bool,
}

/// The member's RSVPs to these meetups (cancelled ones included).
pub async fn list_rsvps_of(db: impl PgExecutor<'_>, member: i64, meetups: &[i64]) -> sqlx::Result<Vec<Rsvp>> {
    sqlx::query_as!(
        Rsvp,
        r#"select r.meetup_id, r.status as "status: RsvpStatus",
                  case when r.status = 'waitlisted'
                       then (select count(*) from rsvps w
                             where w.meetup_id = r.meetup_id and w.status = 'waitlisted' and w.arrival <= r.arrival)
                       else 0 end as "position!",
                  r.checked_in_at is not null as "checked_in!"
           from rsvps r
           where r.member_id = $1 and r.meetup_id = any($2)"#,
        member,
        meetups
    )
    .fetch_all(db)
    .await
}

/// Going while a seat is free (`going` is the count taken under the meetup's lock), otherwise
/// on the waitlist; a member who cancelled earlier joins again at the back.
pub async fn upsert_rsvp(conn: &mut PgConnection, meetup: i64, member: i64, status: RsvpStatus) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into rsvps (meetup_id, member_id, status) values ($1, $2, $3)
         on conflict (meetup_id, member_id)
         do update set status = excluded.status, arrival = nextval('rsvps_arrival'), checked_in_at = null",
        meetup,
        member,
        status as RsvpStatus
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Cancels a member's RSVP; gives what it was, or `None` when there was nothing to cancel.
pub async fn cancel_rsvp(conn: &mut PgConnection, meetup: i64, member: i64) -> sqlx::Result<Option<RsvpStatus>> {
    sqlx::query_scalar!(
        r#"update rsvps set status = 'cancelled'
           from (select status from rsvps where meetup_id = $1 and member_id = $2 and status <> 'cancelled') as before
           where meetup_id = $1 and member_id = $2 and rsvps.status <> 'cancelled'
           returning before.status as "status: RsvpStatus""#,
        meetup,
        member
    )
    .fetch_optional(conn)
    .await
}

/// Moves the first `seats` on the waitlist, in arrival order, to going; gives who moved. Call
/// it holding the meetup's lock. Suspended members are passed over: they keep their place,
/// for nothing, and a seat never goes to them (nor to a deleted account's tombstone, whose
/// places ahead were given up, but which may still wait at a meetup under way).
pub async fn promote_waitlisted(conn: &mut PgConnection, meetup: i64, seats: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        "update rsvps set status = 'going'
         where meetup_id = $1 and member_id in (
             select r.member_id from rsvps r
             join members m on m.id = r.member_id
             where r.meetup_id = $1 and r.status = 'waitlisted' and m.status not in ('suspended', 'deleted')
             order by r.arrival
             limit $2
         )
         returning member_id",
        meetup,
        seats.max(0)
    )
    .fetch_all(conn)
    .await
}

/// Everyone going or waitlisted, for notices of a change or a cancellation.
pub async fn list_rsvp_members(
    conn: &mut PgConnection,
    meetup: i64,
    statuses: &[RsvpStatus],
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        "select member_id from rsvps where meetup_id = $1 and status = any($2) order by arrival",
        meetup,
        statuses as &[RsvpStatus]
    )
    .fetch_all(conn)
    .await
}

/// Someone on a meetup's list, as its page shows them.
#[derive(Clone, Debug)]
pub struct Attendee {
    pub member_id: i64,
    pub handle: String,
    pub display_name: String,
    /// Their photo (only an active member's; the viewer may be listed while hidden).
    pub photo_id: Option<i64>,
    pub status: RsvpStatus,
    /// The place on the waitlist (1 for the first), counting everyone waiting.
    pub position: Option<i64>,
    pub checked_in: bool,
    /// The viewer ticked "I met them".
    pub ticked_by_viewer: bool,
    /// The viewer and this person are recorded as having met.
    pub met_viewer: bool,
}

/// Who is going and waitlisted (in arrival order), as `viewer` may see them: nobody who is in a
/// block with the viewer either way, and no suspended or hidden member but the viewer. Waitlist
/// places are counted before that filter, so they are everyone's true places.
pub async fn list_attendees(db: impl PgExecutor<'_>, meetup: i64, viewer: i64) -> sqlx::Result<Vec<Attendee>> {
    sqlx::query_as!(
        Attendee,
        r#"select r.member_id as "member_id!", m.handle, m.display_name,
                  case when m.status = 'active' then m.photo_id end as photo_id,
                  r.status as "status!: RsvpStatus",
                  r.position, r.checked_in_at is not null as "checked_in!",
                  exists (select from meetup_met_ticks t
                          where t.meetup_id = $1 and t.member_id = $2 and t.other_id = r.member_id) as "ticked_by_viewer!",
                  exists (select from met_pairs p
                          where p.a_id = least($2::bigint, r.member_id) and p.b_id = greatest($2::bigint, r.member_id)) as "met_viewer!"
           from (select member_id, status, arrival, checked_in_at,
                        case when status = 'waitlisted'
                             then row_number() over (partition by status order by arrival) end as position
                 from rsvps
                 where meetup_id = $1 and status <> 'cancelled') as r
           join members m on m.id = r.member_id
           where (m.status = 'active' or m.id = $2)
             and not exists (select from blocks b
                             where (b.blocker_id = $2 and b.blocked_id = r.member_id)
                                or (b.blocker_id = r.member_id and b.blocked_id = $2))
           order by r.status, r.arrival
           limit 2000"#,
        meetup,
        viewer
    )
    .fetch_all(db)
    .await
}

/// Checks a going member in (or, with `on` false, undoes it); false when they are not going.
pub async fn set_checked_in(db: impl PgExecutor<'_>, meetup: i64, member: i64, on: bool) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update rsvps set checked_in_at = case when $3 then coalesce(checked_in_at, now()) end
         where meetup_id = $1 and member_id = $2 and status = 'going'",
        meetup,
        member,
        on
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records `member`'s tick for `other`; gives whether `other` had already ticked `member`.
/// Both must be checked in (the caller checks); a second tick changes nothing.
pub async fn insert_met_tick(conn: &mut PgConnection, meetup: i64, member: i64, other: i64) -> sqlx::Result<bool> {
    sqlx::query!(
        "insert into meetup_met_ticks (meetup_id, member_id, other_id) values ($1, $2, $3) on conflict do nothing",
        meetup,
        member,
        other
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar!(
        r#"select exists (select from meetup_met_ticks where meetup_id = $1 and member_id = $3 and other_id = $2) as "both!""#,
        meetup,
        member,
        other
    )
    .fetch_one(conn)
    .await
}

/// Whether both members are checked in at the meetup.
pub async fn both_checked_in(conn: &mut PgConnection, meetup: i64, one: i64, other: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select count(*) = 2 as "both!" from rsvps
           where meetup_id = $1 and member_id in ($2, $3) and status = 'going' and checked_in_at is not null"#,
        meetup,
        one,
        other
    )
    .fetch_one(conn)
    .await
}

/// A member who said they were going and was not checked in, once check-in has closed.
#[derive(Clone, Debug)]
pub struct MeetupNoShow {
    pub meetup_id: i64,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub handle: String,
    pub organiser_handle: String,
}

/// Meetup no-shows, latest first (then by meetup and member, so offset pages neither skip nor
/// repeat): of everyone (for admins), or of one member (for themselves); `limit` after `offset`.
pub async fn list_no_shows(
    db: impl PgExecutor<'_>,
    member: Option<i64>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<MeetupNoShow>> {
    sqlx::query_as!(
        MeetupNoShow,
        r#"select m.id as meetup_id, m.title, m.starts_at, a.handle, o.handle as organiser_handle
           from meetups m
           join rsvps r on r.meetup_id = m.id
           join members a on a.id = r.member_id
           join members o on o.id = m.organiser_id
           where m.cancelled_at is null and m.starts_at < now() - interval '1 day'
             and r.status = 'going' and r.checked_in_at is null
             and ($1::bigint is null or r.member_id = $1)
             -- Only meetups whose organiser checked anyone in: one who did not use check-in
             -- has no record of who came.
             and exists (select from rsvps c where c.meetup_id = m.id and c.checked_in_at is not null)
           order by m.starts_at desc, m.id desc, r.member_id
           limit $2 offset $3"#,
        member,
        limit,
        offset
    )
    .fetch_all(db)
    .await
}
