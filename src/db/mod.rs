//! The connection pool, the embedded migrations, and the choice between `DATABASE_URL` and the
//! embedded default cluster.

pub mod embedded;

use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::config::Config;
pub use embedded::EmbeddedPostgres;

/// Every migration in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The database Cuppa's own data lives in, inside the embedded cluster.
const EMBEDDED_DATABASE: &str = "cuppa";

/// An open pool, and the embedded server behind it when there is one.
pub struct Database {
    pub pool: PgPool,
    pub url: String,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts (or reuses) the embedded cluster.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        if let Some(url) = &config.database_url {
            let options: PgConnectOptions = url.parse().context("DATABASE_URL is not a valid PostgreSQL URL")?;
            let pool = pool_options().connect_with(options).await.context("could not connect to DATABASE_URL")?;
            return Ok(Database { pool, url: url.clone(), embedded: None });
        }
        let data_dir = config.data_dir.clone();
        let embedded = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&data_dir, &[])).await??;
        create_database_if_missing(&embedded, EMBEDDED_DATABASE).await?;
        let pool = pool_options()
            .connect_with(embedded.connect_options(EMBEDDED_DATABASE))
            .await
            .context("could not connect to the embedded database")?;
        Ok(Database { pool, url: embedded.url(EMBEDDED_DATABASE), embedded: Some(embedded) })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR.run(&self.pool).await.context("could not apply migrations")
    }

    /// Closes the pool, then stops the embedded server if this process started it.
    pub async fn close(self) -> anyhow::Result<()> {
        self.pool.close().await;
        if let Some(mut embedded) = self.embedded {
            tokio::task::spawn_blocking(move || embedded.stop()).await??;
        }
        Ok(())
    }
}

/// A pooled connection idle this long is pinged before a request may use it.
const PING_IF_IDLE_FOR: Duration = Duration::from_millis(100);

/// Pool settings for the app. A short acquire timeout turns an unreachable database into a
/// quick 503 instead of requests piling up; the pool reconnects on its own when it returns.
///
/// sqlx pings every connection it hands out by default: a round trip before every statement,
/// which cost a busy server a third of its pages (on the 100,000-member seed the home page went
/// from 1,530 to 2,256 a second without it, `/healthz` from 13,354 to 19,924). A busy server's
/// connections were in use a moment ago, so only one that sat idle for a tenth of a second is
/// pinged: that still finds a connection that died in a database restart (which takes longer)
/// before a request meets it.
pub fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(16)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(300))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// Creates `name` in the embedded cluster on first use.
pub async fn create_database_if_missing(embedded: &EmbeddedPostgres, name: &str) -> anyhow::Result<()> {
    let mut conn =
        embedded.connect_options("postgres").connect().await.context("could not connect to the embedded database")?;
    let exists: bool =
        sqlx::query_scalar!(r#"select exists (select from pg_database where datname = $1) as "exists!""#, name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        // Identifiers cannot be bound as parameters; `name` is one of Cuppa's own constants.
        sqlx::query(&format!(r#"create database "{name}""#)).execute(&mut conn).await?;
    }
    conn.close().await?;
    Ok(())
}
