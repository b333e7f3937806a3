//! All SQL for `follows` and `blocks`.

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

/// Followers and followed as `viewer` may count them: active members only (written as "not
/// active" to leave out, so that the check reads the small partial index `members_inactive`
/// instead of every counted member's row: suspended and hidden members are left out), and
/// nobody in a block with the viewer, as in the lists.
pub async fn get_counts(db: impl PgExecutor<'_>, member: i64, viewer: i64) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query!(
        r#"with hidden as (
               select id from members where status <> 'active'
               union
               select blocked_id from blocks where blocker_id = $2
               union
               select blocker_id from blocks where blocked_id = $2
           )
           select (select count(*) from follows f
                   where f.followee_id = $1 and not exists (select from hidden h where h.id = f.follower_id)
                  ) as "followers!",
                  (select count(*) from follows f
                   where f.follower_id = $1 and not exists (select from hidden h where h.id = f.followee_id)
                  ) as "following!""#,
        member,
        viewer
    )
    .fetch_one(db)
    .await?;
    Ok((row.followers, row.following))
}

/// Which side of a member's follows a list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowSide {
    Followers,
    Following,
}

/// One page of `member`'s followers or followed, newest follow first, as `viewer` may see
/// them: active members only, and nobody in a block with the viewer.
///
/// Two statements on purpose: each walks `follows_followee` or `follows_follower` in page
/// order and stops after the page. One statement for both sides (a `union all` with the unused
/// branch switched off) sorted every row instead: for a member with 9,252 followers, page one
/// took 9.1 ms against 0.8 ms, and page 100 took 76 ms against 16 ms.
pub async fn list_follows(
    db: impl PgExecutor<'_>,
    member: i64,
    side: FollowSide,
    viewer: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<ListedMember>> {
    match side {
        FollowSide::Followers => {
            sqlx::query_as!(
                ListedMember,
                r#"select m.id, m.handle, m.display_name, m.city,
                          exists (select from follows v where v.follower_id = $2 and v.followee_id = m.id) as "viewer_follows!",
                          m.photo_id
                   from follows f
                   join members m on m.id = f.follower_id
                   where f.followee_id = $1
                     and m.status = 'active'
                     and not exists (select from blocks b
                                     where (b.blocker_id = $2 and b.blocked_id = m.id)
                                        or (b.blocker_id = m.id and b.blocked_id = $2))
                   order by f.created_at desc, f.follower_id
                   limit $3 offset $4"#,
                member,
                viewer,
                limit,
                offset
            )
            .fetch_all(db)
            .await
        }
        FollowSide::Following => {
            sqlx::query_as!(
                ListedMember,
                r#"select m.id, m.handle, m.display_name, m.city,
                          exists (select from follows v where v.follower_id = $2 and v.followee_id = m.id) as "viewer_follows!",
                          m.photo_id
                   from follows f
                   join members m on m.id = f.followee_id
                   where f.follower_id = $1
                     and m.status = 'active'
                     and not exists (select from blocks b
                                     where (b.blocker_id = $2 and b.blocked_id = m.id)
                                        or (b.blocker_id = m.id and b.blocked_id = $2))
                   order by f.created_at desc, f.followee_id
                   limit $3 offset $4"#,
                member,
                viewer,
                limit,
                offset
            )
            .fetch_all(db)
            .await
        }
    }
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

/// A claim waiting for this member's answer, with who made it.
#[derive(Clone, Debug)]
pub struct ClaimForMe {
    pub id: i64,
    pub claimant_id: i64,
    pub handle: String,
    pub display_name: String,
    /// Their photo (only active claimants outside any block are listed).
    pub photo_id: Option<i64>,
}

/// The `limit` oldest claims waiting for `member` to answer, from active members not in a
/// block with them.
pub async fn list_claims_for(db: impl PgExecutor<'_>, member: i64, limit: i64) -> sqlx::Result<Vec<ClaimForMe>> {
    sqlx::query_as!(
        ClaimForMe,
        "select c.id, c.claimant_id, m.handle, m.display_name, m.photo_id
         from met_claims c
         join members m on m.id = c.claimant_id
         where c.other_id = $1 and c.status = 'pending' and m.status = 'active'
           and not exists (select from blocks b
                           where (b.blocker_id = $1 and b.blocked_id = m.id)
                              or (b.blocker_id = m.id and b.blocked_id = $1))
         order by c.created_at, c.id
         limit $2",
        member,
        limit
    )
    .fetch_all(db)
    .await
}

/// Someone the member is connected with online but has never met.
#[derive(Clone, Debug)]
pub struct NeverMet {
    pub id: i64,
    pub handle: String,
    pub display_name: String,
    pub city: String,
    pub mutual: bool,
    pub same_city: bool,
    pub shared_interests: Vec<String>,
    /// Their photo (only active members outside any block are listed).
    pub photo_id: Option<i64>,
    /// How many there are in all, before the limit.
    pub total: i64,
}

/// Of `connections` (ids of the members `member` follows or is followed by), those active,
/// not met and not in a block with them: most promising first (mutual follows, then the same
/// city, then most shared interests).
///
/// Ranking reads every candidate's member row, so the cost follows the number of connections
/// passed in: callers pass [`list_recent_connections`], which is every connection for all but
/// the most connected members. Measured at 100,000 members: 95-137 ms for a member with 7,691
/// connections ranked whole; 9 ms for their 300 most recent; 0.5-2.5 ms typically.
pub async fn list_never_met(
    db: impl PgExecutor<'_>,
    member: i64,
    connections: &[i64],
    limit: i64,
) -> sqlx::Result<Vec<NeverMet>> {
    sqlx::query_as!(
        NeverMet,
        r#"with me as (
               select city, interests from members where id = $1
           ), ranked as (
               select m.handle, m.display_name, m.city, m.id, m.interests, m.photo_id,
                      exists (select from follows where follower_id = $1 and followee_id = m.id)
                          and exists (select from follows where follower_id = m.id and followee_id = $1) as mutual,
                      (m.city <> '' and m.city = me.city) as same_city,
                      (select count(*) from unnest(m.interests) as i where i = any (me.interests)) as shared,
                      count(*) over () as total
               from members m
               cross join me
               where m.id = any ($2)
                 and m.status = 'active'
                 and not exists (select from met_pairs p
                                 where p.a_id = least($1::bigint, m.id) and p.b_id = greatest($1::bigint, m.id))
                 and not exists (select from blocks b
                                 where (b.blocker_id = $1 and b.blocked_id = m.id)
                                    or (b.blocker_id = m.id and b.blocked_id = $1))
               order by mutual desc, same_city desc, shared desc, lower(m.display_name), m.id
               limit $3
           )
           -- The shared interests by name only for the rows shown: naming them for every
           -- candidate cost more than the rest of the query.
           select r.id, r.handle, r.display_name, r.city, r.mutual as "mutual!", r.same_city as "same_city!",
                  array(select unnest(r.interests) intersect select unnest(me.interests) order by 1) as "shared_interests!",
                  r.photo_id, r.total as "total!"
           from ranked r
           cross join me
           order by r.mutual desc, r.same_city desc, r.shared desc, lower(r.display_name), r.id"#,
        member,
        connections,
        limit
    )
    .fetch_all(db)
    .await
}

/// The `pool` members `member` connected with most recently (a follow either way), newest
/// first: every connection, for all but the most connected members.
pub async fn list_recent_connections(db: impl PgExecutor<'_>, member: i64, pool: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        r#"with recent as (
               (select followee_id as id, created_at from follows where follower_id = $1
                order by created_at desc limit $2)
               union all
               (select follower_id, created_at from follows where followee_id = $1
                order by created_at desc limit $2)
           )
           select id as "id!" from recent group by id order by max(created_at) desc, id limit $2"#,
        member,
        pool
    )
    .fetch_all(db)
    .await
}

/// How many active members `member` follows, and how many of those they have met (suspended
/// and hidden ones left out through the small partial index `members_inactive`).
pub async fn get_met_figures(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query!(
        r#"select count(*) as "following!",
                  count(*) filter (where exists (
                      select from met_pairs p
                      where p.a_id = least($1::bigint, f.followee_id) and p.b_id = greatest($1::bigint, f.followee_id)
                  )) as "met!"
           from follows f
           where f.follower_id = $1
             and not exists (select from members s where s.id = f.followee_id and s.status <> 'active')"#,
        member
    )
    .fetch_one(db)
    .await?;
    Ok((row.following, row.met))
}

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
