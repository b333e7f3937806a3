//! Background work that runs beside the web server in `serve` and stops with it.

use std::time::Duration;

use crate::shutdown::Shutdown;
use sqlx::PgPool;

/// Prunes expired sessions and stale log-in failures once an hour, and frees the handles of
/// accounts deleted long enough ago.
pub async fn prune_auth_rows(pool: PgPool, mut shutdown: Shutdown) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = every_hour.tick() => {}
            () = shutdown.wait() => return,
        }
        match crate::auth::store::delete_stale_auth_rows(&pool).await {
            Ok(removed) => tracing::info!(removed, "pruned expired sessions and log-in failures"),
            Err(err) => tracing::warn!(error = %err, "could not prune expired sessions"),
        }
        match crate::auth::deletion::free_handles(&pool).await {
            Ok(freed) => tracing::info!(freed, "freed the handles of deleted accounts"),
            Err(err) => tracing::warn!(error = %err, "could not free the handles of deleted accounts"),
        }
    }
}
