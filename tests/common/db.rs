//! The test database server, shared by the test binaries (web, faults, browser): one
//! PostgreSQL server per test run, a template database migrated once, and a fresh copy of it
//! for every test.
//!
//! The server is `DATABASE_URL` when set, otherwise an embedded cluster of the test run's own
//! under the system temporary directory (fsync off: it holds nothing worth keeping).
//!
//! Each binary includes this file with `#[path]` and uses only part of it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use cuppa::db::EmbeddedPostgres;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// Where test databases live, and the template they are copied from.
struct TestServer {
    /// Options for the server's maintenance database; each test swaps in its own name.
    admin: PgConnectOptions,
    template: String,
}

static SERVER: OnceLock<TestServer> = OnceLock::new();
/// The embedded cluster, when this run started one; stopped when the process exits.
static EMBEDDED: Mutex<Option<EmbeddedPostgres>> = Mutex::new(None);
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

extern "C" fn stop_embedded_server() {
    if let Ok(mut slot) = EMBEDDED.lock()
        && let Some(mut pg) = slot.take()
    {
        let _ = pg.stop();
    }
}

fn server() -> &'static TestServer {
    SERVER.get_or_init(|| {
        // Set up on a thread with a runtime of its own: each test has its own runtime, and
        // nothing made here may depend on one of them staying alive.
        std::thread::spawn(|| {
            tokio::runtime::Runtime::new().expect("runtime").block_on(async {
                let admin = match std::env::var("DATABASE_URL") {
                    Ok(url) => url.parse::<PgConnectOptions>().expect("DATABASE_URL parses"),
                    Err(_) => start_embedded(),
                };
                let template = prepare_template(&admin).await;
                TestServer { admin, template }
            })
        })
        .join()
        .expect("the test database server could not be prepared")
    })
}

fn start_embedded() -> PgConnectOptions {
    let dir = std::env::temp_dir().join(format!("cuppa-test-{}", checkout_tag()));
    let settings = ["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=300"];
    let pg = EmbeddedPostgres::start(&dir, &settings).expect("the embedded test cluster starts");
    let options = pg.connect_options("postgres");
    *EMBEDDED.lock().expect("lock") = Some(pg);
    // SAFETY: registers a plain extern "C" function with no captured state.
    unsafe { libc::atexit(stop_embedded_server) };
    options
}

/// One cluster per checkout, reused by later runs.
fn checkout_tag() -> u32 {
    env!("CARGO_MANIFEST_DIR").bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
}

async fn prepare_template(admin: &PgConnectOptions) -> String {
    let mut conn = admin.connect().await.expect("connect to the test server");
    drop_leftover_databases(&mut conn).await;
    let template = format!("cuppa_test_tpl_{}", std::process::id());
    sqlx::query(&format!(r#"create database "{template}""#)).execute(&mut conn).await.expect("create template");
    conn.close().await.ok();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(admin.clone().database(&template))
        .await
        .expect("connect to the template");
    cuppa::db::MIGRATOR.run(&pool).await.expect("migrations apply");
    pool.close().await;
    template
}

/// Databases from earlier runs whose process has gone.
async fn drop_leftover_databases(conn: &mut sqlx::PgConnection) {
    let names: Vec<String> = sqlx::query_scalar("select datname from pg_database where datname like 'cuppa_test_%'")
        .fetch_all(&mut *conn)
        .await
        .expect("list databases");
    for name in names {
        let pid = name.rsplit('_').next().unwrap_or_default();
        if !std::path::Path::new("/proc").join(pid).exists() {
            sqlx::query(&format!(r#"drop database if exists "{name}" with (force)"#)).execute(&mut *conn).await.ok();
        }
    }
}

/// A fresh database with the schema and nothing else.
pub async fn fresh_pool() -> PgPool {
    copy_of(&server().template).await
}

/// A fresh database copied from `template`: the schema's template, or a test's own database
/// once nothing is connected to it (a test that builds its scene once and copies it).
pub async fn copy_of(template: &str) -> PgPool {
    let server = server();
    let name = format!("cuppa_test_{}_{}", NEXT_DB.fetch_add(1, Ordering::SeqCst), std::process::id());
    let mut conn = server.admin.connect().await.expect("connect to the test server");
    sqlx::query(&format!(r#"create database "{name}" template "{template}""#))
        .execute(&mut conn)
        .await
        .expect("copy the template");
    conn.close().await.ok();
    PgPoolOptions::new()
        .max_connections(5)
        .connect_with(server.admin.clone().database(&name))
        .await
        .expect("connect to the test database")
}

/// Drops a test's database once its pool is closed (the next run drops any left over).
pub async fn drop_database(pool: PgPool) {
    let name: String = sqlx::query_scalar("select current_database()").fetch_one(&pool).await.expect("its name");
    pool.close().await;
    let mut conn = server().admin.connect().await.expect("connect to the test server");
    sqlx::query(&format!(r#"drop database if exists "{name}" with (force)"#)).execute(&mut conn).await.ok();
    conn.close().await.ok();
}

/// A URL for test database `name` on this run's server, for running the `cuppa` binary itself.
pub fn database_url(name: &str) -> String {
    server();
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let (base, query) = url.split_once('?').map_or((url.as_str(), None), |(base, query)| (base, Some(query)));
        let root = base.rsplit_once('/').map_or(base, |(root, _)| root);
        return match query {
            Some(query) => format!("{root}/{name}?{query}"),
            None => format!("{root}/{name}"),
        };
    }
    EMBEDDED.lock().expect("lock").as_ref().expect("the embedded test cluster").url(name)
}

/// A fresh database and its URL, for a `cuppa` process of the test's own.
pub async fn fresh_database() -> (PgPool, String) {
    let pool = fresh_pool().await;
    let name: String = sqlx::query_scalar("select current_database()").fetch_one(&pool).await.expect("its name");
    (pool, database_url(&name))
}
