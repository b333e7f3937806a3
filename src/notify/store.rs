//! All SQL for `notifications`, `outbox` and `email_opt_outs`.

use sqlx::PgConnection;

use super::model::{Kind, Notice};

/// Records a notification for `member` and, unless they turned that kind of email off, its
/// email in the outbox. Call it on the transaction of the event it tells of, so the event and
/// the news of it commit (or vanish) together.
pub async fn record(conn: &mut PgConnection, member: i64, notice: &Notice) -> sqlx::Result<()> {
    sqlx::query!(
        "with shown as (
             insert into notifications (member_id, kind, text, link) values ($1, $2, $3, $5)
         )
         insert into outbox (member_id, kind, to_address, subject, body, link)
         select m.id, $2, m.email, $3, $4, $5
         from members m
         where m.id = $1
           and not exists (select from email_opt_outs o where o.member_id = $1 and o.kind = $2)",
        member,
        notice.kind as Kind,
        notice.text,
        notice.body,
        notice.link
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
