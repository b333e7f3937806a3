//! Operations: health checks, error pages, security headers, static files, the embedded
//! database's life cycle, the pool's recovery and the binary's handling of SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::http::StatusCode;
use cuppa::AppState;
use cuppa::db::{EmbeddedPostgres, pool_options};
use sqlx::postgres::PgPoolOptions;

use crate::support::Client;

#[tokio::test]
async fn healthz_answers_200_when_the_database_answers() {
    let mut client = Client::new().await;
    let page = client.get("/healthz").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body, "ok");
}

#[tokio::test]
async fn an_unreachable_database_gives_503_pages_not_500s() {
    // Nothing listens on port 9 of loopback.
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:9/none")
        .unwrap();
    let router = cuppa::app(AppState { pool: pool.clone(), secure_cookies: false });
    let mut client = Client::with_router(pool, router);
    assert_eq!(client.get("/healthz").await.status, StatusCode::SERVICE_UNAVAILABLE);
    let page = client.get("/").await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(page.text("h1"), "Cuppa is briefly unavailable");
    assert!(!page.body.contains("127.0.0.1:9"), "no internal detail leaks");
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_a_request_id() {
    let mut client = Client::new().await;
    for path in ["/", "/login", "/no/such/page", "/static/cuppa.css", "/healthz"] {
        let page = client.get(path).await;
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(page.headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(page.headers["referrer-policy"], "same-origin", "{path}");
        assert!(page.headers.contains_key("x-request-id"), "{path}");
    }
}

#[tokio::test]
async fn unknown_pages_get_a_finished_404_page_with_the_request_id() {
    let mut client = Client::new().await;
    let page = client.get("/no/such/page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.text("h1"), "Page not found");
    let id = page.headers["x-request-id"].to_str().unwrap();
    assert_eq!(page.text("code"), id);
    assert!(page.body.contains("/static/cuppa.css"), "the error page uses the site's layout");
}

#[tokio::test]
async fn static_files_are_served_from_the_binary() {
    let mut client = Client::new().await;
    let css = client.get("/static/cuppa.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert!(css.body.contains(".button"));
    assert_eq!(client.get("/static/../Cargo.toml").await.status, StatusCode::NOT_FOUND);
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cuppa-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn the_embedded_database_starts_is_reused_stops_and_the_pool_recovers() {
    let dir = temp_dir("embedded");
    let mut pg = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || EmbeddedPostgres::start(&dir, &[])
    })
    .await
    .unwrap()
    .expect("starts");
    assert!(pg.is_running());
    assert!(dir.join("postgres/PG_VERSION").exists(), "a cluster was made under the data directory");
    let pool = pool_options()
        .acquire_timeout(Duration::from_secs(1))
        .connect_with(pg.connect_options("postgres"))
        .await
        .unwrap();
    sqlx::query("create table kept (note text)").execute(&pool).await.unwrap();
    sqlx::query("insert into kept values ('still here')").execute(&pool).await.unwrap();
    let router = cuppa::app(AppState { pool: pool.clone(), secure_cookies: false });
    let mut client = Client::with_router(pool.clone(), router);
    assert_eq!(client.get("/healthz").await.status, StatusCode::OK);

    let pg = tokio::task::spawn_blocking(move || {
        pg.stop().unwrap();
        pg
    })
    .await
    .unwrap();
    assert!(!pg.is_running());
    assert_eq!(client.get("/healthz").await.status, StatusCode::SERVICE_UNAVAILABLE);
    drop(pg);

    // Starting again reuses the cluster and its data; the same pool reconnects by itself.
    let mut pg = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || EmbeddedPostgres::start(&dir, &[])
    })
    .await
    .unwrap()
    .expect("starts again");
    assert_eq!(client.get("/healthz").await.status, StatusCode::OK);
    let note: String = sqlx::query_scalar("select note from kept").fetch_one(&pool).await.unwrap();
    assert_eq!(note, "still here");
    pool.close().await;
    tokio::task::spawn_blocking(move || pg.stop()).await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_binary_serves_the_demo_on_the_embedded_database_and_stops_it_on_sigterm() {
    let dir = temp_dir("binary");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cuppa"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .env_remove("DATABASE_URL")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cuppa starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let address = loop {
        let line = lines.next().expect("cuppa printed its address").unwrap();
        printed.push(line.clone());
        if let Some(rest) = line.strip_prefix("Cuppa is running at ") {
            break rest.to_owned();
        }
    };
    let login_line = lines.next().unwrap().unwrap();
    assert!(login_line.contains("demo") && login_line.contains(cuppa::seed::DEMO_PASSWORD), "{login_line}");

    let port = address.rsplit(':').next().unwrap();
    let health = Command::new("bash")
        .arg("-c")
        .arg(format!("exec 3<>/dev/tcp/127.0.0.1/{port}; printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3; head -1 <&3"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&health.stdout).contains("200"), "{printed:?}");

    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "cuppa exits cleanly on SIGTERM: {status:?}");
    let pg_ctl_status = Command::new("bash")
        .arg("-c")
        .arg(format!("test -f {}/postgres/postmaster.pid", dir.display()))
        .status()
        .unwrap();
    assert!(!pg_ctl_status.success(), "the embedded server was stopped");
    let _ = std::fs::remove_dir_all(&dir);
}
