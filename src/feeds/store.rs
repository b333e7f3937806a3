//! All SQL for members' calendar feed tokens.

use sqlx::PgExecutor;

/// The member whose feed this token opens: anyone not suspended (a hidden member's calendar is
/// their own, and they still use Cuppa) nor deleted.
pub async fn find_member_by_token(db: impl PgExecutor<'_>, token: &str) -> sqlx::Result<Option<(i64, String)>> {
    let row = sqlx::query!(
        "select id, display_name from members where calendar_token = $1 and status not in ('suspended', 'deleted')",
        token
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.id, r.display_name)))
}

pub async fn get_token(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<String> {
    sqlx::query_scalar!("select calendar_token from members where id = $1", member).fetch_one(db).await
}

/// Draws a new token (as the column default does), so the old feed URL stops working.
pub async fn reset_token(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "update members set calendar_token = replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')
         where id = $1",
        member
    )
    .execute(db)
    .await?;
    Ok(())
}
