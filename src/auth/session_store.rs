//! tower-sessions records in PostgreSQL, written with Cuppa's own sqlx (chrono only; see
//! DESIGN.md for why this is not tower-sessions-sqlx-store).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::types::Json;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

#[derive(Clone, Debug)]
pub struct PgSessionStore {
    pool: PgPool,
}

impl PgSessionStore {
    pub fn new(pool: PgPool) -> Self {
        PgSessionStore { pool }
    }
}

/// The store's error type carries only a string, and a failed save becomes tower-sessions' own
/// bare 500: an unreachable database is reported to the error-page layer so the visitor is
/// told 503, as for any other page that cannot reach the database.
fn backend(err: sqlx::Error) -> session_store::Error {
    let err = crate::error::AppError::from(err);
    if matches!(err, crate::error::AppError::Unavailable(_)) {
        crate::web::errors::note_database_unreachable();
    }
    session_store::Error::Backend(err.to_string())
}

fn to_chrono(at: OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(at.unix_timestamp(), at.nanosecond()).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[async_trait]
impl SessionStore for PgSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Always a freshly drawn id: after a log-out, tower-sessions creates the next session
        // from a record that still carries the old id, which must never come back to life. An
        // id that happens to exist already is drawn again rather than overwriting that session.
        loop {
            record.id = Id::default();
            let inserted = sqlx::query!(
                "insert into sessions (id, data, expires_at)
                 values ($1, $2, $3)
                 on conflict (id) do nothing",
                record.id.to_string(),
                Json(&record.data) as _,
                to_chrono(record.expiry_date),
            )
            .execute(&self.pool)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
        }
    }

    /// Updates a live session only; only `create` inserts. A request that loaded the session
    /// before a log-out deleted its row (or before all of a member's sessions were ended), and
    /// writes after, must not put the row back: that would undo the log-out. Its write is
    /// dropped, and its cookie names a session that no longer exists.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        sqlx::query!(
            "update sessions set data = $2, expires_at = $3
             where id = $1 and expires_at > now()",
            record.id.to_string(),
            Json(&record.data) as _,
            to_chrono(record.expiry_date),
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = sqlx::query!(
            r#"select data as "data: Json<HashMap<String, serde_json::Value>>", expires_at
               from sessions
               where id = $1 and expires_at > now()"#,
            id.to_string(),
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|row| {
            let expiry_date = OffsetDateTime::from_unix_timestamp(row.expires_at.timestamp())
                .map_err(|e| session_store::Error::Decode(e.to_string()))?;
            Ok(Record { id: *id, data: row.data.0, expiry_date })
        })
        .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query!("delete from sessions where id = $1", id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
