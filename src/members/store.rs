//! All SQL for `members` and `availability`. Handles and emails are compared through lower(),
//! which is what their unique indexes are built on.

use sqlx::{PgConnection, PgExecutor};

use super::model::{InvitePolicy, Privacy, Profile, ProfileUpdate, Role, Status, Window};

pub struct NewMember<'a> {
    pub email: &'a str,
    pub handle: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
}

/// An account as log-in, its owner's settings and the emails about it need it.
pub struct Account {
    pub id: i64,
    pub status: Status,
    pub handle: String,
    pub email: String,
    /// The member confirmed `email` by following the link sent to it.
    pub verified: bool,
    pub password_hash: String,
}

/// A stored availability window with its id (for the remove button).
pub struct WindowRow {
    pub id: i64,
    pub window: Window,
}

/// Whether the handle is in use. Only handles are checked: they are public, while whether an
/// address has an account is nobody's business (see `members_email_key`).
pub async fn handle_taken(db: impl PgExecutor<'_>, handle: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"select exists (select from members where lower(handle) = lower($1)) as "taken!""#, handle)
        .fetch_one(db)
        .await
}

/// Fails with a unique violation on `members_handle_key` when another sign-up took the handle
/// first. The address is not confirmed yet, so it never conflicts.
pub async fn insert_member(db: impl PgExecutor<'_>, new: &NewMember<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into members (email, handle, display_name, password_hash)
         values ($1, $2, $3, $4)
         returning id",
        new.email,
        new.handle,
        new.display_name,
        new.password_hash
    )
    .fetch_one(db)
    .await
}

/// The account named by email or handle, whichever the member typed (log-in, "forgot my
/// password"). Several accounts may give one address (it is unique among confirmed ones only):
/// the one that confirmed it is the address's owner. A deleted account is nobody's.
pub async fn find_account(db: impl PgExecutor<'_>, account: &str) -> sqlx::Result<Option<Account>> {
    sqlx::query_as!(
        Account,
        r#"select id, status as "status: Status", handle, email, email_verified_at is not null as "verified!",
                  password_hash
           from members
           where (lower(email) = lower($1) or lower(handle) = lower(ltrim($1, '@')))
             and status <> 'deleted'
           order by email_verified_at nulls last, id
           limit 1"#,
        account
    )
    .fetch_optional(db)
    .await
}

pub async fn get_account(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Account> {
    sqlx::query_as!(
        Account,
        r#"select id, status as "status: Status", handle, email, email_verified_at is not null as "verified!",
                  password_hash
           from members
           where id = $1"#,
        id
    )
    .fetch_one(db)
    .await
}

pub async fn update_password(db: impl PgExecutor<'_>, id: i64, password_hash: &str) -> sqlx::Result<()> {
    sqlx::query!("update members set password_hash = $2 where id = $1", id, password_hash).execute(db).await?;
    Ok(())
}

/// Makes `email` the member's address, confirmed now. Fails with a unique violation on
/// `members_email_key` while another account holds that address confirmed.
pub async fn update_confirmed_email(db: impl PgExecutor<'_>, id: i64, email: &str) -> sqlx::Result<()> {
    sqlx::query!("update members set email = $2, email_verified_at = now() where id = $1", id, email)
        .execute(db)
        .await?;
    Ok(())
}

/// An active member's profile, as anyone may see it; suspended and hidden members have none
/// to show. A string that cannot be a handle (say, with a NUL byte from a percent-decoded URL)
/// is nobody's, without asking.
pub async fn find_profile(db: impl PgExecutor<'_>, handle: &str) -> sqlx::Result<Option<Profile>> {
    find_profile_for(db, handle, None).await
}

/// The profile as `viewer` may see it: an active member's, or the viewer's own while an admin
/// has hidden it (to everyone else it does not exist).
pub async fn find_profile_for(
    db: impl PgExecutor<'_>,
    handle: &str,
    viewer: Option<i64>,
) -> sqlx::Result<Option<Profile>> {
    if !super::model::is_valid_handle(handle) {
        return Ok(None);
    }
    sqlx::query_as!(
        Profile,
        r#"select id, handle, display_name, bio, city, time_zone, interests, created_at,
                  case when status = 'active' then photo_id end as photo_id
           from members
           where lower(handle) = lower($1)
             and (status = 'active' or (id = $2 and status = 'hidden'))"#,
        handle,
        viewer
    )
    .fetch_optional(db)
    .await
}

pub async fn get_profile(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Profile> {
    sqlx::query_as!(
        Profile,
        r#"select id, handle, display_name, bio, city, time_zone, interests, created_at,
                  case when status = 'active' then photo_id end as photo_id
           from members
           where id = $1"#,
        id
    )
    .fetch_one(db)
    .await
}

pub async fn update_profile(db: impl PgExecutor<'_>, id: i64, update: &ProfileUpdate) -> sqlx::Result<()> {
    sqlx::query!(
        "update members
         set display_name = $2, bio = $3, city = $4, time_zone = $5, interests = $6
         where id = $1",
        id,
        update.display_name,
        update.bio,
        update.city,
        update.time_zone,
        &update.interests
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Takes the member's row lock, so that two windows added (or two invitations sent) at once
/// are checked one after the other and cannot both slip past the check. `no key update`, not
/// `update`: it must not conflict with the key-share locks that foreign keys take when other
/// transactions insert rows pointing at this member (a follow, a block, a notification).
/// Gives the member's status as of the lock.
pub async fn lock_member(conn: &mut PgConnection, id: i64) -> sqlx::Result<Status> {
    sqlx::query_scalar!(r#"select status as "status: Status" from members where id = $1 for no key update"#, id)
        .fetch_one(conn)
        .await
}

/// The member's status now (a statement of its own sees what was committed when it began).
pub async fn get_status(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Status> {
    sqlx::query_scalar!(r#"select status as "status: Status" from members where id = $1"#, id).fetch_one(db).await
}

pub async fn list_windows(db: impl PgExecutor<'_>, member_id: i64) -> sqlx::Result<Vec<WindowRow>> {
    let rows = sqlx::query!(
        "select id, weekday, start_minute, end_minute
         from availability
         where member_id = $1
         order by weekday, start_minute",
        member_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| WindowRow {
            id: r.id,
            window: Window { weekday: r.weekday, start_minute: r.start_minute, end_minute: r.end_minute },
        })
        .collect())
}

pub async fn insert_window(db: impl PgExecutor<'_>, member_id: i64, window: &Window) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into availability (member_id, weekday, start_minute, end_minute)
         values ($1, $2, $3, $4)",
        member_id,
        window.weekday,
        window.start_minute,
        window.end_minute
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Removes one of the member's own windows; false when it is not theirs or already gone.
pub async fn delete_window(db: impl PgExecutor<'_>, member_id: i64, window_id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query!("delete from availability where id = $1 and member_id = $2", window_id, member_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get_privacy(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Privacy> {
    sqlx::query_as!(
        Privacy,
        r#"select invite_policy as "invite_policy: InvitePolicy", listed, matching
           from members
           where id = $1"#,
        id
    )
    .fetch_one(db)
    .await
}

pub async fn update_privacy(db: impl PgExecutor<'_>, id: i64, privacy: &Privacy) -> sqlx::Result<()> {
    sqlx::query!(
        "update members set invite_policy = $2, listed = $3, matching = $4 where id = $1",
        id,
        privacy.invite_policy as InvitePolicy,
        privacy.listed,
        privacy.matching
    )
    .execute(db)
    .await?;
    Ok(())
}

/// For `cuppa admin grant`; false when no member has that handle.
/// Turns scheduler suggestions on or off (the privacy setting, and the pause link).
pub async fn update_matching(db: impl PgExecutor<'_>, id: i64, on: bool) -> sqlx::Result<()> {
    sqlx::query!("update members set matching = $2 where id = $1", id, on).execute(db).await?;
    Ok(())
}

pub async fn update_role(db: impl PgExecutor<'_>, handle: &str, role: Role) -> sqlx::Result<bool> {
    let done = sqlx::query!("update members set role = $2 where lower(handle) = lower($1)", handle, role as Role)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// For `cuppa admin suspend` and `reinstate`; false when no member has that handle.
pub async fn update_status(db: impl PgExecutor<'_>, handle: &str, status: Status) -> sqlx::Result<bool> {
    let done = sqlx::query!("update members set status = $2 where lower(handle) = lower($1)", handle, status as Status)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn count_members(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"select count(*) as "count!" from members"#).fetch_one(db).await
}

/// The directory's filters, already trimmed; empty means "any".
#[derive(Clone, Debug, Default)]
pub struct DirectoryFilter {
    /// A LIKE pattern (`%text%`, wildcards escaped) matched against names and handles.
    pub pattern: Option<String>,
    pub city: Option<String>,
    /// Lower case, as interests are stored.
    pub interest: Option<String>,
}

/// A member as the directory lists them, with how the viewer stands towards them.
#[derive(Clone, Debug)]
pub struct DirectoryEntry {
    pub id: i64,
    pub handle: String,
    pub display_name: String,
    pub city: String,
    pub interests: Vec<String>,
    pub i_follow: bool,
    pub follows_me: bool,
    /// Their photo (everyone listed is active and visible to the viewer).
    pub photo_id: Option<i64>,
}

/// Where a page of "everyone else" starts: after the member with this name key and id. The
/// key is `lower(display_name)` exactly as PostgreSQL lowered it (the statement hands it out),
/// so the next page's comparison is the index's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryCursor {
    pub name_key: String,
    pub id: i64,
}

impl DirectoryCursor {
    /// Before everyone: every name key is at least '' and every id at least 1. A cursor rather
    /// than "none", so the keyset condition is always an index condition (see `list_directory`).
    pub fn first() -> Self {
        DirectoryCursor { name_key: String::new(), id: 0 }
    }
}

/// How many connections the directory lists first, and how many it looks among.
#[derive(Clone, Copy, Debug)]
pub struct DirectoryLimits {
    /// People per page of "everyone else".
    pub page: i64,
    /// Connected people listed above them, on the first page.
    pub connected: i64,
    /// The viewer's most recent connections looked at (all of them, for all but a few).
    pub recent: i64,
}

/// One page of the directory.
#[derive(Clone, Debug, Default)]
pub struct DirectoryPage {
    /// Connections that match, by name (first page only).
    pub connected: Vec<DirectoryEntry>,
    /// How many connections match in all; more than `connected` holds when there are many.
    pub connected_total: i64,
    /// The viewer has at least as many connections as were looked at: older ones may be
    /// among everyone else.
    pub recent_only: bool,
    /// Everyone else who matches, by name, from the cursor on.
    pub others: Vec<DirectoryEntry>,
    /// Where the next page starts, when there is one.
    pub next: Option<DirectoryCursor>,
}

/// A row of `list_directory`: an entry, which list it belongs to, and that list's figures.
struct DirectoryRow {
    connected: bool,
    id: i64,
    handle: String,
    display_name: String,
    city: String,
    interests: Vec<String>,
    i_follow: bool,
    follows_me: bool,
    photo_id: Option<i64>,
    name_key: String,
    total: Option<i64>,
    recent: i64,
}

/// One page of the directory as `viewer` sees it, in one statement: on the first page
/// (`show_connected`) their recent connections that match the filter, by name, then everyone
/// else who matches, by name, after `after`. Active, listed members only, never the viewer and
/// nobody in a block with them either way.
///
/// "Everyone else" is a keyset page on `(lower(display_name), id)`, the order of the
/// `members_directory` index and of its per-city twin `members_city`: the
/// statement starts reading at the cursor and stops after a page, so page 100 costs what page
/// one does (with offsets it read and threw away every row before it: about 30 ms at page
/// 100 of 100,000 members). The first page passes `DirectoryCursor::first()` rather than no
/// cursor, so the condition has one shape an index can take whatever the plan. An interest is
/// matched with `@>`, which the GIN index `members_interests` answers, so a rare combination of
/// filters reads only the members who have it.
///
/// The recent connections (the same `recent` CTE as `home::store::load`, written into each
/// statement so each page makes one round trip) are read even on later pages: "everyone else" leaves them out, since
/// the first page listed them. `not in` over them is a hashed filter on the index walk, which
/// keeps the walk in name order (an anti-join would sort every match).
pub async fn list_directory(
    db: impl PgExecutor<'_>,
    viewer: i64,
    filter: &DirectoryFilter,
    show_connected: bool,
    after: &DirectoryCursor,
    limits: DirectoryLimits,
) -> sqlx::Result<DirectoryPage> {
    let rows = sqlx::query_as!(
        DirectoryRow,
        r#"with recent as (
               select id
               from ((select followee_id as id, created_at from follows where follower_id = $1
                      order by created_at desc limit $10)
                     union all
                     (select follower_id, created_at from follows where followee_id = $1
                      order by created_at desc limit $10)) as r
               group by id
               order by max(created_at) desc, id
               limit $10
           ), connected as (
               select m.id, m.handle, m.display_name, m.city, m.interests, m.photo_id,
                      lower(m.display_name) as name_key, count(*) over () as total
               from members m
               where $7
                 and m.id in (select id from recent)
                 and m.status = 'active' and m.listed
                 and ($2::text is null or lower(m.display_name) like $2 or lower(m.handle) like $2)
                 and ($3::text is null or lower(m.city) = lower($3))
                 and ($4::text is null or m.interests @> array[$4::text])
                 and not exists (select from blocks b
                                 where (b.blocker_id = $1 and b.blocked_id = m.id)
                                    or (b.blocker_id = m.id and b.blocked_id = $1))
               order by lower(m.display_name), m.id
               limit $9
           ), others as (
               select m.id, m.handle, m.display_name, m.city, m.interests, m.photo_id,
                      lower(m.display_name) as name_key, null::bigint as total
               from members m
               where m.status = 'active' and m.listed and m.id <> $1
                 and (lower(m.display_name), m.id) > ($5::text, $6::bigint)
                 and m.id not in (select id from recent)
                 and ($2::text is null or lower(m.display_name) like $2 or lower(m.handle) like $2)
                 and ($3::text is null or lower(m.city) = lower($3))
                 and ($4::text is null or m.interests @> array[$4::text])
                 and not exists (select from blocks b
                                 where (b.blocker_id = $1 and b.blocked_id = m.id)
                                    or (b.blocker_id = m.id and b.blocked_id = $1))
               order by lower(m.display_name), m.id
               limit $8
           ), listed as (
               select true as connected, c.* from connected c
               union all
               select false, o.* from others o
           )
           select l.connected as "connected!", l.id as "id!", l.handle as "handle!",
                  l.display_name as "display_name!", l.city as "city!", l.interests as "interests!",
                  exists (select from follows where follower_id = $1 and followee_id = l.id) as "i_follow!",
                  exists (select from follows where follower_id = l.id and followee_id = $1) as "follows_me!",
                  l.photo_id, l.name_key as "name_key!", l.total,
                  (select count(*) from recent) as "recent!"
           from listed l
           order by l.connected desc, l.name_key, l.id"#,
        viewer,
        filter.pattern,
        filter.city,
        filter.interest,
        after.name_key,
        after.id,
        show_connected,
        limits.page + 1,
        limits.connected,
        limits.recent
    )
    .fetch_all(db)
    .await?;
    let mut page = DirectoryPage::default();
    let mut others = Vec::new();
    for row in rows {
        let entry = DirectoryEntry {
            id: row.id,
            handle: row.handle,
            display_name: row.display_name,
            city: row.city,
            interests: row.interests,
            i_follow: row.i_follow,
            follows_me: row.follows_me,
            photo_id: row.photo_id,
        };
        if row.connected {
            page.connected_total = row.total.unwrap_or(0);
            page.recent_only = row.recent >= limits.recent;
            page.connected.push(entry);
        } else {
            others.push((entry, DirectoryCursor { name_key: row.name_key, id: row.id }));
        }
    }
    // One row was read beyond the page: when it came, the next page starts after the last shown.
    let more = others.len() as i64 > limits.page;
    others.truncate(usize::try_from(limits.page).unwrap_or(0));
    page.next = if more { others.last().map(|(_, cursor)| cursor.clone()) } else { None };
    page.others = others.into_iter().map(|(entry, _)| entry).collect();
    Ok(page)
}
