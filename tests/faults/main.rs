//! Faults against a real `cuppa serve` process: a server killed during writes, a database that
//! goes away during reads, a SIGTERM during a load, and clients that trickle their headers.
//!
//! Each test prints its figures; `cargo test --test faults -- --nocapture` shows them.

#[path = "../common/served.rs"]
mod served;
#[path = "../common/db.rs"]
mod test_db;

mod http;
mod kill;
mod metrics;
mod outage;
mod replicas;
mod sigterm;
mod slow_clients;

use tokio::sync::{Mutex, MutexGuard};

/// The tests measure time on a machine of two cores: one at a time, so that one test's load
/// is not another's latency. A tokio mutex, as each test has a runtime of its own and holds
/// its turn across awaits; a failing test lets the next one go (no poisoning).
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Waits for this test's turn; the turn ends when the guard is dropped.
pub async fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

/// A folder of this test run's own under the system's temporary directory, empty.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cuppa-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
