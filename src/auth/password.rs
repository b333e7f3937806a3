//! Password hashing with Argon2id at OWASP's parameters (19 MiB, 2 passes, 1 lane).
//!
//! A hash costs tens of milliseconds of one core. Hashes run on the blocking pool behind a
//! semaphore with one permit, so a burst of them queues instead of taking both cores from the
//! pages everyone else is loading.
//!
//! Log-ins come first. Checking a password (`verify`: log-in, and the password asked for
//! before a change or a deletion) queues for the slot directly; making a new hash (`hash`:
//! sign-up, a new password) first passes a gate of its own, one at a time, so at most one new
//! hash waits for the slot at any moment. The slot is fair (first come, first served), so a
//! log-in waits for at most the hash running and one new hash, plus other log-ins, however many
//! sign-ups are queued: with one queue for all, 1,000 sign-ups put a member's log-in 2 s back
//! (measured, issue 12). Two semaphores rather than a priority queue of our own, because
//! tokio's are fair and cancel-safe (a request dropped by the timeout leaves its place in
//! line). The cost is that new hashes wait while log-ins keep coming; log-ins are throttled
//! (see `store`), so they cannot keep sign-ups out for long.

use std::sync::LazyLock;

use anyhow::Context;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// The hashing slot, which every Argon2 run holds.
static HASHING: Semaphore = Semaphore::const_new(1);
/// New hashes queue here, one passing at a time to the slot's queue, so that checks are not
/// stuck behind them.
static NEW_HASHES: Semaphore = Semaphore::const_new(1);

/// Checked against when the account does not exist, so that a wrong handle costs as long as
/// a wrong password and response times do not reveal who has an account.
static DECOY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_now(&crate::web::csrf::random_token()).expect("argon2 hashes a fixed-size input"));

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP's parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str) -> anyhow::Result<String> {
    let hash = argon2().hash_password(password.as_bytes()).map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(hash.to_string())
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) with a fresh salt.
pub async fn hash(password: String) -> anyhow::Result<String> {
    let _turn = NEW_HASHES.acquire().await.context("hashing semaphore closed")?;
    let _permit = HASHING.acquire().await.context("hashing semaphore closed")?;
    tokio::task::spawn_blocking(move || hash_now(&password)).await?
}

/// Whether `password` matches `stored`; with no stored hash, spends the same time and says no.
pub async fn verify(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    let _permit = HASHING.acquire().await.context("hashing semaphore closed")?;
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DECOY_HASH.clone());
        let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        let matches = argon2().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(known && matches)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_own_password_only() {
        let stored = hash("correct horse battery".to_owned()).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery".to_owned(), Some(stored.clone())).await.unwrap());
        assert!(!verify("wrong horse battery".to_owned(), Some(stored)).await.unwrap());
        assert!(!verify("anything".to_owned(), None).await.unwrap());
    }
}
