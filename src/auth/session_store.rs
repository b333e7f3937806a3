//! tower-sessions records in PostgreSQL, written with Cuppa's own sqlx (chrono only; see
//! DESIGN.md for why this is not tower-sessions-sqlx-store).
//!
//! Loading a logged-in session brings its member along: the same statement reads the member's
//! row and their unread count (what every page's extractors and navigation need), and hands
//! them over inside the record under [`LOADED_KEY`]. That key lives for one request only: it
//! is taken out before any record is written back. One round trip instead of three per page.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::types::Json;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::extractors::MEMBER_KEY;
use crate::members::model::{Member, Role, Status};
use crate::web::UNREAD_CAP;

/// Where a loaded record carries [`Loaded`]; never stored.
pub(super) const LOADED_KEY: &str = "__loaded";

/// The session's member as read with the session, and their unread notifications counted up
/// to `UNREAD_CAP`. `member` is `None` when the account is gone.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Loaded {
    pub member: Option<Member>,
    pub unread: i64,
}

/// The record's data as it is stored: everything but what the load brought along.
fn stored(record: &Record) -> Json<HashMap<&str, &serde_json::Value>> {
    Json(record.data.iter().filter(|(key, _)| key.as_str() != LOADED_KEY).map(|(k, v)| (k.as_str(), v)).collect())
}

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
                stored(record) as _,
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
            stored(record) as _,
            to_chrono(record.expiry_date),
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        // `sessions.member_id` is generated from the record's member id (account safety).
        let row = sqlx::query!(
            r#"select s.data as "data: Json<HashMap<String, serde_json::Value>>", s.expires_at,
                      m.id as "member_id?", m.handle as "handle?", m.display_name as "display_name?",
                      m.role as "role?: Role", m.status as "status?: Status", m.time_zone as "time_zone?",
                      m.city as "city?",
                      exists (select from member_warnings w where w.member_id = m.id and w.acknowledged_at is null)
                          as "warned!",
                      m.email_verified_at is not null as "verified!",
                      (select count(*) from (select 1 from notifications n
                                             where n.member_id = m.id and n.read_at is null limit $2) as unread)
                          as "unread!"
               from sessions s
               left join members m on m.id = s.member_id
               where s.id = $1 and s.expires_at > now()"#,
            id.to_string(),
            UNREAD_CAP,
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let expiry_date = OffsetDateTime::from_unix_timestamp(row.expires_at.timestamp())
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let mut data = row.data.0;
        if data.contains_key(MEMBER_KEY) {
            let member =
                match (row.member_id, row.handle, row.display_name, row.role, row.status, row.time_zone, row.city) {
                    (
                        Some(id),
                        Some(handle),
                        Some(display_name),
                        Some(role),
                        Some(status),
                        Some(time_zone),
                        Some(city),
                    ) => Some(Member {
                        id,
                        handle,
                        display_name,
                        role,
                        status,
                        time_zone,
                        city,
                        warned: row.warned,
                        verified: row.verified,
                    }),
                    _ => None,
                };
            let loaded = Loaded { member, unread: row.unread };
            let value = serde_json::to_value(&loaded).map_err(|e| session_store::Error::Encode(e.to_string()))?;
            data.insert(LOADED_KEY.to_owned(), value);
        }
        Ok(Some(Record { id: *id, data, expiry_date }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query!("delete from sessions where id = $1", id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
