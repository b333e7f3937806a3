//! All SQL for `follows` and `blocks`.

use crate::members::model::Profile;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

/// How one member stands towards another, as the first sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relation {
    pub i_follow: bool,
    pub follows_me: bool,
    pub i_block: bool,
    pub blocks_me: bool,
    /// The two have met in person (a confirmed claim, a coffee or a meetup).
    pub met: bool,
}

impl Relation {
    pub fn blocked_either_way(&self) -> bool {
        self.i_block || self.blocks_me
    }
}

/// A member in a list of follows, with whether the viewer follows them.
#[derive(Clone, Debug)]
pub struct ListedMember {
    pub id: i64,
    pub handle: String,
    pub display_name: String,
    pub city: String,
    pub viewer_follows: bool,
    /// Their photo, where the list may show it (not across a block).
    pub photo_id: Option<i64>,
}

pub async fn get_relation(db: impl PgExecutor<'_>, me: i64, other: i64) -> sqlx::Result<Relation> {
    let row = sqlx::query!(
        r#"select exists (select from follows where follower_id = $1 and followee_id = $2) as "i_follow!",
                  exists (select from follows where follower_id = $2 and followee_id = $1) as "follows_me!",
                  exists (select from blocks where blocker_id = $1 and blocked_id = $2) as "i_block!",
                  exists (select from blocks where blocker_id = $2 and blocked_id = $1) as "blocks_me!",
                  exists (select from met_pairs
                          where a_id = least($1::bigint, $2::bigint) and b_id = greatest($1::bigint, $2::bigint)) as "met!""#,
        me,
        other
    )
    .fetch_one(db)
    .await?;
    Ok(Relation {
        i_follow: row.i_follow,
        follows_me: row.follows_me,
        i_block: row.i_block,
        blocks_me: row.blocks_me,
        met: row.met,
    })
}

/// Serialises changes to one member's part of the graph until the transaction ends. Follows
/// and unfollows take the follower's lock, a change of privacy settings or a suspension the
/// member's; a block, an invitation and a met pair take both members' (smaller id first), so
/// none of them interleave (under READ COMMITTED, each could otherwise miss the other's
/// uncommitted change, and leave a follow, an invitation or a met pair across a block).
pub async fn lock_graph_of(conn: &mut PgConnection, member: i64) -> sqlx::Result<()> {
    sqlx::query!("select pg_advisory_xact_lock(hashtextextended('cuppa.graph.' || $1::bigint, 0))", member)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Takes both members' graph locks, smaller id first, as blocks and follows do: for anything
/// between two members that a block must not cross (an invitation, a met pair).
pub async fn lock_graphs_of_pair(conn: &mut PgConnection, one: i64, other: i64) -> sqlx::Result<()> {
    for id in [one.min(other), one.max(other)] {
        lock_graph_of(conn, id).await?;
    }
    Ok(())
}

/// Follows `followee` unless already following or a block stands either way. Repeating it is
/// harmless. Returns whether a follow now exists.
pub async fn insert_follow(db: impl PgExecutor<'_>, follower: i64, followee: i64) -> sqlx::Result<bool> {
    let row = sqlx::query_scalar!(
        r#"with added as (
               insert into follows (follower_id, followee_id)
               select $1, $2
               where not exists (
                   select from blocks
                   where (blocker_id = $1 and blocked_id = $2) or (blocker_id = $2 and blocked_id = $1)
               )
               on conflict do nothing
               returning 1
           )
           select exists (select from added)
               or exists (select from follows where follower_id = $1 and followee_id = $2) as "following!""#,
        follower,
        followee
    )
    .fetch_one(db)
    .await?;
    Ok(row)
}

pub async fn delete_follow(db: impl PgExecutor<'_>, follower: i64, followee: i64) -> sqlx::Result<()> {
    sqlx::query!("delete from follows where follower_id = $1 and followee_id = $2", follower, followee)
        .execute(db)
        .await?;
    Ok(())
}

/// A profile page as `viewer` sees it: the profile, how they stand towards each other, the
/// follow counts, a pending "we have met" claim between them, and the addresses listed.
#[derive(Clone, Debug)]
pub struct ProfileView {
    pub profile: Profile,
    pub relation: Relation,
    pub followers: i64,
    pub following: i64,
    pub claim: Option<PendingClaim>,
    pub addresses: Vec<String>,
}

/// The profile page of `handle` as `viewer` may see it, in one statement: an active member's,
/// or the viewer's own while an admin has hidden it (to everyone else it does not exist).
///
/// The counts are as `viewer` may count them: active members only (written as "not active" to
/// leave out, so that the check reads the small partial index `members_inactive` instead of
/// every counted member's row), and nobody in a block with the viewer, as in the lists.
pub async fn find_profile_view(
    db: impl PgExecutor<'_>,
    handle: &str,
    viewer: i64,
) -> sqlx::Result<Option<ProfileView>> {
    if !crate::members::model::is_valid_handle(handle) {
        return Ok(None);
    }
    let row = sqlx::query!(
        r#"with p as (
               select id, handle, display_name, bio, city, time_zone, interests, created_at,
                      case when status = 'active' then photo_id end as photo_id
               from members
               where lower(handle) = lower($1)
                 and (status = 'active' or (id = $2 and status = 'hidden'))
           ), hidden as (
               select id from members where status <> 'active'
               union
               select blocked_id from blocks where blocker_id = $2
               union
               select blocker_id from blocks where blocked_id = $2
           )
           select p.id, p.handle, p.display_name, p.bio, p.city, p.time_zone, p.interests, p.created_at, p.photo_id,
                  exists (select from follows where follower_id = $2 and followee_id = p.id) as "i_follow!",
                  exists (select from follows where follower_id = p.id and followee_id = $2) as "follows_me!",
                  exists (select from blocks where blocker_id = $2 and blocked_id = p.id) as "i_block!",
                  exists (select from blocks where blocker_id = p.id and blocked_id = $2) as "blocks_me!",
                  exists (select from met_pairs
                          where a_id = least($2::bigint, p.id) and b_id = greatest($2::bigint, p.id)) as "met!",
                  (select count(*) from follows f
                   where f.followee_id = p.id and not exists (select from hidden h where h.id = f.follower_id)
                  ) as "followers!",
                  (select count(*) from follows f
                   where f.follower_id = p.id and not exists (select from hidden h where h.id = f.followee_id)
                  ) as "following!",
                  c.id as "claim_id?", c.claimant_id as "claimant_id?", c.other_id as "claim_other_id?",
                  array(select address from external_addresses a where a.member_id = p.id order by address)
                      as "addresses!"
           from p
           left join met_claims c
             on p.id <> $2 and c.status = 'pending'
            and least(c.claimant_id, c.other_id) = least($2::bigint, p.id)
            and greatest(c.claimant_id, c.other_id) = greatest($2::bigint, p.id)"#,
        handle,
        viewer
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|row| ProfileView {
        profile: Profile {
            id: row.id,
            handle: row.handle,
            display_name: row.display_name,
            bio: row.bio,
            city: row.city,
            time_zone: row.time_zone,
            interests: row.interests,
            created_at: row.created_at,
            photo_id: row.photo_id,
        },
        relation: Relation {
            i_follow: row.i_follow,
            follows_me: row.follows_me,
            i_block: row.i_block,
            blocks_me: row.blocks_me,
            met: row.met,
        },
        followers: row.followers,
        following: row.following,
        claim: match (row.claim_id, row.claimant_id, row.claim_other_id) {
            (Some(id), Some(claimant_id), Some(other_id)) => Some(PendingClaim { id, claimant_id, other_id }),
            _ => None,
        },
        addresses: row.addresses,
    }))
}

/// Which side of a member's follows a list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowSide {
    Followers,
    Following,
}

/// Whose follow list a page shows.
#[derive(Clone, Debug)]
pub struct ListOwner {
    pub id: i64,
    pub handle: String,
    pub display_name: String,
}

/// Where a page of a follow list starts: after the follow made at `at` by (or of) member `id`,
/// in the list's order (newest first, then by id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FollowCursor {
    pub at: DateTime<Utc>,
    pub id: i64,
}

impl FollowCursor {
    /// Before every follow: the first page. A time after any follow rather than "no cursor",
    /// so the statement has one shape and the cursor is always an index condition.
    pub fn first() -> Self {
        FollowCursor { at: DateTime::<Utc>::MAX_UTC, id: 0 }
    }
}

/// One side's follow page: `$listed` is the column of the members listed, `$owner` the
/// owner's. The columns are spliced in as literals (the checked macros take nothing else), so
/// each side keeps a statement of its own, walking its own index in order.
macro_rules! follow_page {
    ($listed:literal, $owner:literal, $handle:expr, $viewer:expr, $after:expr, $limit:expr) => {
        sqlx::query_as!(
            FollowPageRow,
            r#"with owner as (
                   select p.id, p.handle, p.display_name
                   from members p
                   where lower(p.handle) = lower($1)
                     and (p.status = 'active' or (p.id = $2 and p.status = 'hidden'))
                     and not exists (select from blocks b
                                     where (b.blocker_id = $2 and b.blocked_id = p.id)
                                        or (b.blocker_id = p.id and b.blocked_id = $2))
               ), page as (
                   select m.id, m.handle, m.display_name, m.city, m.photo_id, f.created_at
                   from follows f
                   join members m on m.id = f."#
                + $listed
                + r#"
                   where f."#
                + $owner
                + r#" = (select id from owner)
                     and f.created_at <= $3 and (f.created_at < $3 or f."#
                + $listed
                + r#" > $4)
                     and m.status = 'active'
                     and not exists (select from blocks b
                                     where (b.blocker_id = $2 and b.blocked_id = m.id)
                                        or (b.blocker_id = m.id and b.blocked_id = $2))
                   order by f.created_at desc, f."#
                + $listed
                + r#"
                   limit $5
               )
               select o.id as "owner_id!", o.handle as "owner_handle!", o.display_name as "owner_name!",
                      p.id as "id?", p.handle as "handle?", p.display_name as "display_name?", p.city as "city?",
                      p.photo_id as "photo_id?", p.created_at as "followed_at?",
                      exists (select from follows v where v.follower_id = $2 and v.followee_id = p.id)
                          as "viewer_follows!"
               from owner o
               left join page p on true
               order by p.created_at desc, p.id"#,
            $handle,
            $viewer,
            $after.at,
            $after.id,
            $limit
        )
    };
}

/// One page of a follow list.
#[derive(Clone, Debug)]
pub struct FollowPage {
    pub owner: ListOwner,
    pub members: Vec<ListedMember>,
    /// Where the next page starts, when there is one.
    pub next: Option<FollowCursor>,
}

/// A row of a follow page: the list's owner, and one member of the page when there is one.
struct FollowPageRow {
    owner_id: i64,
    owner_handle: String,
    owner_name: String,
    id: Option<i64>,
    handle: Option<String>,
    display_name: Option<String>,
    city: Option<String>,
    photo_id: Option<i64>,
    followed_at: Option<DateTime<Utc>>,
    viewer_follows: bool,
}

/// One page of the followers (or the followed) of the member with `handle`, newest follow
/// first, after `after`, as `viewer` may see it; `None` when the viewer may not see that
/// member (missing, suspended, hidden unless it is the viewer, or in a block either way: the
/// same answer for all, as `social::find_visible_profile` gives). Only active members are
/// listed, and nobody in a block with the viewer.
///
/// One statement for the profile and the page, so the page costs one round trip. Each side
/// walks `follows_followee` or `follows_follower` from the cursor in page order and stops
/// after the page: the owner's id is a scalar subquery (an init plan), not a join, so the
/// walk stays in index order. Keyset pages: page 100 reads what page one does, where an
/// offset read and threw away every follow before it (16 ms at page 100 of 9,252 followers).
/// The order is `created_at desc, id`, which no row comparison can say in one direction, so
/// the cursor is `created_at <= t` (the index condition) and, among follows made at `t`
/// itself, ids past the cursor's.
///
/// Two statements, one a side, on purpose: one for both (a `union all` with the unused branch
/// switched off) sorted every row instead: for a member with 9,252 followers, page one took
/// 9.1 ms against 0.8 ms.
pub async fn find_follow_page(
    db: impl PgExecutor<'_>,
    handle: &str,
    side: FollowSide,
    viewer: i64,
    after: FollowCursor,
    page_size: i64,
) -> sqlx::Result<Option<FollowPage>> {
    // A string that cannot be a handle (a NUL byte from a percent-decoded URL) is nobody's.
    if !crate::members::model::is_valid_handle(handle) {
        return Ok(None);
    }
    let rows = match side {
        FollowSide::Followers => {
            follow_page!("follower_id", "followee_id", handle, viewer, after, page_size + 1).fetch_all(db).await?
        }
        FollowSide::Following => {
            follow_page!("followee_id", "follower_id", handle, viewer, after, page_size + 1).fetch_all(db).await?
        }
    };
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let owner =
        ListOwner { id: first.owner_id, handle: first.owner_handle.clone(), display_name: first.owner_name.clone() };
    let mut members = Vec::with_capacity(rows.len());
    let mut cursors = Vec::with_capacity(rows.len());
    for row in rows {
        // The one row of an empty page carries the owner alone.
        let (Some(id), Some(handle), Some(display_name), Some(city), Some(at)) =
            (row.id, row.handle, row.display_name, row.city, row.followed_at)
        else {
            continue;
        };
        members.push(ListedMember {
            id,
            handle,
            display_name,
            city,
            viewer_follows: row.viewer_follows,
            photo_id: row.photo_id,
        });
        cursors.push(FollowCursor { at, id });
    }
    // One row was read beyond the page: when it came, the next page starts after the last shown.
    let page_len = usize::try_from(page_size).unwrap_or(0);
    let next = if members.len() > page_len {
        page_len.checked_sub(1).and_then(|last| cursors.get(last)).copied()
    } else {
        None
    };
    members.truncate(page_len);
    Ok(Some(FollowPage { owner, members, next }))
}

/// Blocks `blocked`, removes the follows between the two and declines any pending "we have
/// met" claim, in the caller's transaction (which holds both graph locks). What a block means
/// for other domains (invitations, notifications) the handler does in the same transaction.
pub async fn insert_block(conn: &mut PgConnection, blocker: i64, blocked: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into blocks (blocker_id, blocked_id) values ($1, $2) on conflict do nothing",
        blocker,
        blocked
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "delete from follows
         where (follower_id = $1 and followee_id = $2) or (follower_id = $2 and followee_id = $1)",
        blocker,
        blocked
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "update met_claims set status = 'declined', answered_at = now()
         where status = 'pending'
           and ((claimant_id = $1 and other_id = $2) or (claimant_id = $2 and other_id = $1))",
        blocker,
        blocked
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete_block(db: impl PgExecutor<'_>, blocker: i64, blocked: i64) -> sqlx::Result<()> {
    sqlx::query!("delete from blocks where blocker_id = $1 and blocked_id = $2", blocker, blocked).execute(db).await?;
    Ok(())
}

/// One page of the active members `blocker` has blocked, most recent first. Blocks of
/// suspended or hidden members still stand (and show again if they are reinstated).
pub async fn list_blocked(
    db: impl PgExecutor<'_>,
    blocker: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<ListedMember>> {
    sqlx::query_as!(
        ListedMember,
        r#"select m.id, m.handle, m.display_name, m.city, false as "viewer_follows!",
                  -- Never a photo across a block: its URL answers 404 (the initial is shown).
                  null::bigint as photo_id
           from blocks b
           join members m on m.id = b.blocked_id
           where b.blocker_id = $1 and m.status = 'active'
           order by b.created_at desc, m.id
           limit $2 offset $3"#,
        blocker,
        limit,
        offset
    )
    .fetch_all(db)
    .await
}

/// A "we have met" claim waiting for an answer.
#[derive(Clone, Debug)]
pub struct PendingClaim {
    pub id: i64,
    pub claimant_id: i64,
    pub other_id: i64,
}

/// The pending claim between two members, whichever of them made it.
pub async fn find_pending_claim_between(db: impl PgExecutor<'_>, a: i64, b: i64) -> sqlx::Result<Option<PendingClaim>> {
    sqlx::query_as!(
        PendingClaim,
        "select id, claimant_id, other_id
         from met_claims
         where least(claimant_id, other_id) = least($1::bigint, $2::bigint)
           and greatest(claimant_id, other_id) = greatest($1::bigint, $2::bigint)
           and status = 'pending'",
        a,
        b
    )
    .fetch_optional(db)
    .await
}

pub async fn find_pending_claim(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<PendingClaim>> {
    sqlx::query_as!(
        PendingClaim,
        "select id, claimant_id, other_id from met_claims where id = $1 and status = 'pending'",
        id
    )
    .fetch_optional(db)
    .await
}

/// Records a claim; a second one for the same pair while one is pending changes nothing.
pub async fn insert_met_claim(db: impl PgExecutor<'_>, claimant: i64, other: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into met_claims (claimant_id, other_id) values ($1, $2) on conflict do nothing",
        claimant,
        other
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Confirms a pending claim addressed to `answerer` and records the pair as met. Returns false
/// when there was no such pending claim (answered already, or not theirs to answer).
pub async fn confirm_met_claim(conn: &mut PgConnection, id: i64, answerer: i64) -> sqlx::Result<bool> {
    let claimant = sqlx::query_scalar!(
        "update met_claims set status = 'confirmed', answered_at = now()
         where id = $1 and other_id = $2 and status = 'pending'
         returning claimant_id",
        id,
        answerer
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(claimant) = claimant else {
        return Ok(false);
    };
    insert_met_pair(&mut *conn, claimant, answerer, MetHow::Claimed).await?;
    Ok(true)
}

/// Declines a pending claim addressed to `answerer`; false when there was none.
pub async fn decline_met_claim(db: impl PgExecutor<'_>, id: i64, answerer: i64) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update met_claims set status = 'declined', answered_at = now()
         where id = $1 and other_id = $2 and status = 'pending'",
        id,
        answerer
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq)]
#[sqlx(type_name = "met_how", rename_all = "lowercase")]
pub enum MetHow {
    Coffee,
    Meetup,
    Claimed,
}

/// Records that two members met; stored once, smaller id first, whichever order they come in.
pub async fn insert_met_pair(db: impl PgExecutor<'_>, one: i64, other: i64, how: MetHow) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into met_pairs (a_id, b_id, how) values (least($1::bigint, $2::bigint), greatest($1::bigint, $2::bigint), $3)
         on conflict do nothing",
        one,
        other,
        how as MetHow
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Connections ranked for the home page's "never met" list, and shown first in the directory:
/// the most recent ones, which is all of them for nearly everyone.
pub const NEVER_MET_POOL: i64 = 300;

/// The addresses `member` uses elsewhere, in the order they were listed.
pub async fn list_addresses(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!("select address from external_addresses where member_id = $1 order by address", member)
        .fetch_all(db)
        .await
}

/// Of `addresses`, those another member has listed already.
pub async fn find_addresses_taken(
    db: impl PgExecutor<'_>,
    member: i64,
    addresses: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "select address from external_addresses where address = any($1) and member_id <> $2 order by address",
        addresses,
        member
    )
    .fetch_all(db)
    .await
}

/// Replaces `member`'s addresses, in the caller's transaction. A unique violation on
/// `external_addresses_pkey` means another member listed one of them in the meantime.
pub async fn replace_addresses(conn: &mut PgConnection, member: i64, addresses: &[String]) -> sqlx::Result<()> {
    sqlx::query!("delete from external_addresses where member_id = $1", member).execute(&mut *conn).await?;
    sqlx::query!(
        "insert into external_addresses (address, member_id) select unnest($1::text[]), $2",
        addresses,
        member
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The active members, other than `viewer` and anyone in a block with them, who listed one of
/// `addresses`.
pub async fn find_members_by_address(
    db: impl PgExecutor<'_>,
    viewer: i64,
    addresses: &[String],
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        "select distinct a.member_id
         from external_addresses a
         join members m on m.id = a.member_id
         where a.address = any($2) and m.status = 'active' and m.id <> $1
           and not exists (select from blocks b
                           where (b.blocker_id = $1 and b.blocked_id = m.id)
                              or (b.blocker_id = m.id and b.blocked_id = $1))",
        viewer,
        addresses
    )
    .fetch_all(db)
    .await
}

/// Follows every one of `followees` not followed yet (and not in a block with the follower);
/// returns how many follows are new.
pub async fn insert_follows(conn: &mut PgConnection, follower: i64, followees: &[i64]) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "insert into follows (follower_id, followee_id)
         select $1, f.id
         from unnest($2::bigint[]) as f(id)
         where not exists (select from blocks b
                           where (b.blocker_id = $1 and b.blocked_id = f.id)
                              or (b.blocker_id = f.id and b.blocked_id = $1))
         on conflict do nothing",
        follower,
        followees
    )
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
