//! All SQL for `notifications`, `outbox` and `email_opt_outs`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::model::{Kind, Notice};

/// Records a notification for `member` and, unless they turned that kind of email off or have
/// not confirmed their address yet, its email in the outbox. Call it on the transaction of the
/// event it tells of, so the event and the news of it commit (or vanish) together.
pub async fn record(conn: &mut PgConnection, member: i64, notice: &Notice) -> sqlx::Result<()> {
    record_all(conn, &[(member, notice.clone())]).await
}

/// `record` for many members at once, in one statement: a scheduler round tells tens of
/// thousands of members at a time.
pub async fn record_all(conn: &mut PgConnection, notices: &[(i64, Notice)]) -> sqlx::Result<()> {
    let members: Vec<i64> = notices.iter().map(|(member, _)| *member).collect();
    let text_of = |f: fn(&Notice) -> &str| notices.iter().map(|(_, n)| f(n).to_owned()).collect::<Vec<String>>();
    let (kinds, texts) = (text_of(|n| n.kind.value()), text_of(|n| &n.text));
    let (bodies, links) = (text_of(|n| &n.body), text_of(|n| &n.link));
    let actors: Vec<Option<i64>> = notices.iter().map(|(_, n)| n.actor).collect();
    sqlx::query!(
        "with news as (
             select member_id, kind::notification_kind as kind, text, body, link, actor_id
             from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
                  as n(member_id, kind, text, body, link, actor_id)
         ),
         shown as (
             insert into notifications (member_id, kind, text, link, actor_id)
             select n.member_id, n.kind, n.text, n.link, n.actor_id
             from news n
             join members m on m.id = n.member_id
             -- A former member (a deleted account) has nobody to read it.
             where m.status <> 'deleted'
         )
         insert into outbox (member_id, kind, to_address, subject, body, link)
         select m.id, n.kind, m.email, n.text, n.body, n.link
         from news n
         join members m on m.id = n.member_id
         -- An address nobody has confirmed may be a stranger's: no news goes to it.
         where m.email_verified_at is not null
           and not exists (select from email_opt_outs o where o.member_id = n.member_id and o.kind = n.kind)",
        &members,
        &kinds,
        &texts,
        &bodies,
        &links,
        &actors as &[Option<i64>]
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `record` for every active follower of `member` who takes invitations and is not in a block
/// with them, in one statement: an organiser inviting their followers to a meetup may have
/// thousands. Gives how many were told.
pub async fn record_for_followers(conn: &mut PgConnection, member: i64, notice: &Notice) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"with told as (
               select m.id, m.email, m.email_verified_at is not null as verified
               from follows f
               join members m on m.id = f.follower_id
               where f.followee_id = $1 and m.status = 'active' and m.invite_policy <> 'nobody'
                 and not exists (select from blocks b
                                 where (b.blocker_id = $1 and b.blocked_id = m.id)
                                    or (b.blocker_id = m.id and b.blocked_id = $1))
           ),
           shown as (
               insert into notifications (member_id, kind, text, link, actor_id)
               select id, $2, $3, $5, $6 from told
               returning 1
           ),
           mailed as (
               insert into outbox (member_id, kind, to_address, subject, body, link)
               select t.id, $2, t.email, $3, $4, $5
               from told t
               -- As in `record_all`: an unconfirmed address gets no news.
               where t.verified
                 and not exists (select from email_opt_outs o where o.member_id = t.id and o.kind = $2)
           )
           select count(*) as "told!" from shown"#,
        member,
        notice.kind as Kind,
        notice.text,
        notice.body,
        notice.link,
        notice.actor
    )
    .fetch_one(&mut *conn)
    .await
}

/// Queues an email about the member's account (`Kind::Account`) to `to`, which need not be
/// their address (a new one to confirm, the old one told of a change) nor confirmed: these are
/// the emails that confirm addresses and recover accounts, so no choice or gate holds them
/// back, and no in-app notice goes with them.
pub async fn queue_account_email(
    db: impl PgExecutor<'_>,
    member: i64,
    to: &str,
    subject: &str,
    body: &str,
    link: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into outbox (member_id, kind, to_address, subject, body, link)
         values ($1, 'account', $2, $3, $4, $5)",
        member,
        to,
        subject,
        body,
        link
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes the notifications of each of the two that name the other (`actor_id`), in the
/// caller's transaction: a block takes away what was said before it, so neither keeps seeing
/// the other's name. Reads the partial index `notifications_actor`.
pub async fn delete_naming_each_other(conn: &mut PgConnection, one: i64, other: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "delete from notifications
         where (actor_id = $2 and member_id = $1) or (actor_id = $1 and member_id = $2)",
        one,
        other
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One line of the notifications page.
#[derive(Clone, Debug)]
pub struct NotificationRow {
    pub id: i64,
    pub kind: Kind,
    pub text: String,
    pub link: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    /// Whom the notice is about (the other side of an invitation, a meetup's organiser, ...),
    /// with their name, and their photo when the member may see it.
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub actor_photo_id: Option<i64>,
}

impl NotificationRow {
    /// Whom the notice is about, with their name, when it is about someone.
    pub fn actor(&self) -> Option<(i64, &str)> {
        Some((self.actor_id?, self.actor_name.as_deref()?))
    }
}

/// The member's notifications, newest first, older than `before` when given (keyset pages on
/// `notifications_member`, so a deep page costs what the first one does).
pub async fn list_notifications(
    db: impl PgExecutor<'_>,
    member: i64,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<NotificationRow>> {
    sqlx::query_as!(
        NotificationRow,
        r#"select n.id, n.kind as "kind: Kind", n.text, n.link, n.created_at, n.read_at,
                  n.actor_id, a.display_name as "actor_name?",
                  -- The actor may since have been hidden, suspended or blocked: their photo
                  -- answers 404 then, so the initial stands in.
                  case when a.status = 'active'
                        and not exists (select from blocks b
                                        where (b.blocker_id = $1 and b.blocked_id = a.id)
                                           or (b.blocker_id = a.id and b.blocked_id = $1))
                       then a.photo_id end as actor_photo_id
           from notifications n
           left join members a on a.id = n.actor_id
           where n.member_id = $1 and ($2::bigint is null or n.id < $2)
           order by n.id desc
           limit $3"#,
        member,
        before,
        limit
    )
    .fetch_all(db)
    .await
}

/// Marks one of the member's notifications read (a second time changes nothing) and gives its
/// link; `None` when the member has no notification of that id.
pub async fn mark_read(db: impl PgExecutor<'_>, member: i64, id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "update notifications set read_at = coalesce(read_at, now())
         where id = $1 and member_id = $2
         returning link",
        id,
        member
    )
    .fetch_optional(db)
    .await
}

/// Marks every unread notification of the member read; how many there were.
pub async fn mark_all_read(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update notifications set read_at = now()
         where member_id = $1 and read_at is null",
        member
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// The kinds of email the member turned off.
pub async fn list_opt_outs(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<Vec<Kind>> {
    sqlx::query_scalar!(r#"select kind as "kind: Kind" from email_opt_outs where member_id = $1 order by kind"#, member)
        .fetch_all(db)
        .await
}

/// Replaces the member's opt-outs with `kinds`. Two statements: call it in a transaction.
pub async fn replace_opt_outs(conn: &mut PgConnection, member: i64, kinds: &[Kind]) -> sqlx::Result<()> {
    sqlx::query!("delete from email_opt_outs where member_id = $1", member).execute(&mut *conn).await?;
    // `on conflict`: a save racing this one may have inserted the same rows first.
    sqlx::query!(
        "insert into email_opt_outs (member_id, kind)
         select $1, kind from unnest($2::notification_kind[]) as kind
         on conflict do nothing",
        member,
        kinds as &[Kind]
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An email the sender has taken, with its row locked until the sender's transaction ends.
#[derive(Clone, Debug)]
pub struct DueMail {
    pub id: i64,
    /// `None` once the member has deleted their account.
    pub member_id: Option<i64>,
    pub kind: Kind,
    pub to_address: String,
    pub subject: String,
    pub body: String,
    pub link: String,
    pub attempts: i32,
}

/// Takes up to `limit` emails that are due, oldest first, and locks them for the caller's
/// transaction. `skip locked` passes over rows another sender holds, so two senders never
/// take the same email; a row another sender marked sent meanwhile is re-checked against the
/// `where` after its lock is released, and so not taken either.
pub async fn take_due_mail(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<DueMail>> {
    sqlx::query_as!(
        DueMail,
        r#"select id, member_id, kind as "kind: Kind", to_address, subject, body, link, attempts
           from outbox
           where sent_at is null and failed_at is null and next_attempt_at <= now()
           order by id
           limit $1
           for update skip locked"#,
        limit
    )
    .fetch_all(&mut *conn)
    .await
}

/// The emails waiting to go out, as the metrics show them.
pub struct OutboxBacklog {
    /// Neither sent nor given up on (retries waiting for their hour included).
    pub unsent: i64,
    /// How long ago the oldest of them was written; 0 when none waits.
    pub oldest_age_seconds: f64,
}

/// One read of the partial index `outbox_due`, whose condition is exactly "waiting".
pub async fn get_outbox_backlog(db: impl PgExecutor<'_>) -> sqlx::Result<OutboxBacklog> {
    sqlx::query_as!(
        OutboxBacklog,
        r#"select count(*) as "unsent!",
                  coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as "oldest_age_seconds!"
           from outbox
           where sent_at is null and failed_at is null"#
    )
    .fetch_one(db)
    .await
}

/// Records that an email went out.
pub async fn mark_sent(conn: &mut PgConnection, id: i64) -> sqlx::Result<()> {
    sqlx::query!("update outbox set sent_at = now(), last_error = null where id = $1", id).execute(&mut *conn).await?;
    Ok(())
}

/// Records a failed attempt: another try after `retry_in` seconds, or (with `None`) none.
pub async fn mark_attempt_failed(
    conn: &mut PgConnection,
    id: i64,
    error: &str,
    retry_in: Option<f64>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update outbox
         set attempts = attempts + 1,
             last_error = left($2, 1000),
             next_attempt_at = case when $3::float8 is null then next_attempt_at else now() + make_interval(secs => $3) end,
             failed_at = case when $3::float8 is null then now() end
         where id = $1",
        id,
        error,
        retry_in
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
