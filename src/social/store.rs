//! All SQL for `follows` and `blocks`.

use sqlx::{PgConnection, PgExecutor};

/// How one member stands towards another, as the first sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relation {
    pub i_follow: bool,
    pub follows_me: bool,
    pub i_block: bool,
    pub blocks_me: bool,
}

impl Relation {
    pub fn blocked_either_way(&self) -> bool {
        self.i_block || self.blocks_me
    }
}

/// A member in a list of follows, with whether the viewer follows them.
#[derive(Clone, Debug)]
pub struct ListedMember {
    pub handle: String,
    pub display_name: String,
    pub city: String,
    pub viewer_follows: bool,
}

pub async fn get_relation(db: impl PgExecutor<'_>, me: i64, other: i64) -> sqlx::Result<Relation> {
    let row = sqlx::query!(
        r#"select exists (select from follows where follower_id = $1 and followee_id = $2) as "i_follow!",
                  exists (select from follows where follower_id = $2 and followee_id = $1) as "follows_me!",
                  exists (select from blocks where blocker_id = $1 and blocked_id = $2) as "i_block!",
                  exists (select from blocks where blocker_id = $2 and blocked_id = $1) as "blocks_me!""#,
        me,
        other
    )
    .fetch_one(db)
    .await?;
    Ok(Relation { i_follow: row.i_follow, follows_me: row.follows_me, i_block: row.i_block, blocks_me: row.blocks_me })
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

/// Followers and followed, counting active members only. Written as "not suspended" so that
/// the check reads the small partial index instead of every counted member's row.
pub async fn get_counts(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query!(
        r#"select (select count(*) from follows f
                   where f.followee_id = $1
                     and not exists (select from members s where s.id = f.follower_id and s.status = 'suspended')
                  ) as "followers!",
                  (select count(*) from follows f
                   where f.follower_id = $1
                     and not exists (select from members s where s.id = f.followee_id and s.status = 'suspended')
                  ) as "following!""#,
        member
    )
    .fetch_one(db)
    .await?;
    Ok((row.followers, row.following))
}

/// One page of `member`'s followers, newest first, as `viewer` may see them: active members
/// only, and nobody in a block with the viewer.
pub async fn list_followers(
    db: impl PgExecutor<'_>,
    member: i64,
    viewer: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<ListedMember>> {
    sqlx::query_as!(
        ListedMember,
        r#"select m.handle, m.display_name, m.city,
                  exists (select from follows v where v.follower_id = $2 and v.followee_id = m.id) as "viewer_follows!"
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

/// One page of the members `member` follows, under the same rules as [`list_followers`].
pub async fn list_following(
    db: impl PgExecutor<'_>,
    member: i64,
    viewer: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<ListedMember>> {
    sqlx::query_as!(
        ListedMember,
        r#"select m.handle, m.display_name, m.city,
                  exists (select from follows v where v.follower_id = $2 and v.followee_id = m.id) as "viewer_follows!"
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

/// Blocks `blocked` and removes the follows between the two, in the caller's transaction.
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
    Ok(())
}

pub async fn delete_block(db: impl PgExecutor<'_>, blocker: i64, blocked: i64) -> sqlx::Result<()> {
    sqlx::query!("delete from blocks where blocker_id = $1 and blocked_id = $2", blocker, blocked).execute(db).await?;
    Ok(())
}

/// The active members `blocker` has blocked, most recent first. Blocks of suspended members
/// still stand (and show again if they are reinstated).
pub async fn list_blocked(db: impl PgExecutor<'_>, blocker: i64) -> sqlx::Result<Vec<ListedMember>> {
    sqlx::query_as!(
        ListedMember,
        r#"select m.handle, m.display_name, m.city, false as "viewer_follows!"
           from blocks b
           join members m on m.id = b.blocked_id
           where b.blocker_id = $1 and m.status = 'active'
           order by b.created_at desc, m.id"#,
        blocker
    )
    .fetch_all(db)
    .await
}
