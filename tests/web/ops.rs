//! Operations: health checks, error pages, security headers, static files, the embedded
//! database's life cycle, the pool's recovery and the binary's handling of SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::http::StatusCode;
use cuppa::db::{EmbeddedPostgres, pool_options};
use sqlx::postgres::PgPoolOptions;

use crate::support::{Client, spawn_server, test_state};

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
    let router = cuppa::app(test_state(pool.clone()));
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
    // Every script and stylesheet the layout names is served.
    let page = client.get("/login").await;
    let html = scraper::Html::parse_document(&page.body);
    let selector = scraper::Selector::parse("script[src], link[href]").unwrap();
    let assets: Vec<String> = html
        .select(&selector)
        .filter_map(|e| e.value().attr("src").or(e.value().attr("href")).map(str::to_owned))
        .collect();
    assert_eq!(assets.len(), 3, "{assets:?}");
    for asset in assets {
        assert_eq!(client.get(&asset).await.status, StatusCode::OK, "{asset}");
    }
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
    let router = cuppa::app(test_state(pool.clone()));
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

    // The first admin is made from the command line, on the same (reused) database.
    let cuppa = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cuppa"))
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
            .env_remove("DATABASE_URL")
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap()
    };
    let granted = cuppa(&["admin", "grant", "demo", "admin"]);
    assert!(granted.status.success(), "{}", String::from_utf8_lossy(&granted.stderr));
    let unknown = cuppa(&["admin", "grant", "nobody_at_all", "admin"]);
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.lines().any(|l| l == r#"error: no member has the handle "nobody_at_all""#), "{stderr}");
    let migrated = cuppa(&["migrate"]);
    assert!(migrated.status.success());
    assert!(!dir.join("postgres/postmaster.pid").exists(), "each command stops the database it started");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_server_error_shows_a_fixed_sentence_and_the_request_id_never_the_cause() {
    let client = Client::new().await;
    let failing = axum::Router::new().route(
        "/probe/fail",
        axum::routing::get(|| async {
            Err::<(), _>(cuppa::error::AppError::Internal(anyhow::anyhow!("secret detail: password=hunter2")))
        }),
    );
    let router = cuppa::with_layers(failing, test_state(client.pool.clone()));
    let mut client = Client::with_router(client.pool.clone(), router);
    let page = client.get("/probe/fail").await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(page.text("h1"), "Something went wrong");
    assert_eq!(page.text("code"), page.headers["x-request-id"].to_str().unwrap());
    assert!(!page.body.contains("secret detail") && !page.body.contains("hunter2"));
}

#[tokio::test]
async fn the_seed_is_deterministic_and_only_fills_an_empty_database() {
    let first = crate::support::fresh_pool().await;
    let second = crate::support::fresh_pool().await;
    // Without photos, which would take most of the time here (see the next test).
    cuppa::seed::run_without_photos(&first, 300, 7).await.unwrap();
    cuppa::seed::run_without_photos(&second, 300, 7).await.unwrap();
    let digest = "select md5(string_agg(concat_ws('|', m.handle, m.display_name, m.bio, m.city, m.time_zone, \
                  m.interests::text, m.created_at, m.role::text, \
                  (select string_agg(concat_ws(' ', weekday, start_minute, end_minute), ',' order by weekday) \
                   from availability a where a.member_id = m.id)), ';' order by m.id)) from members m";
    let a: String = sqlx::query_scalar(digest).fetch_one(&first).await.unwrap();
    let b: String = sqlx::query_scalar(digest).fetch_one(&second).await.unwrap();
    assert_eq!(a, b);
    let graph = "select md5(concat((select string_agg(concat_ws('>', follower_id, followee_id), ',' order by 1) from follows), \
                 '|', (select string_agg(concat_ws('x', blocker_id, blocked_id), ',' order by 1) from blocks)))";
    let a: String = sqlx::query_scalar(graph).fetch_one(&first).await.unwrap();
    let b: String = sqlx::query_scalar(graph).fetch_one(&second).await.unwrap();
    assert_eq!(a, b, "the same follows and blocks");

    let follows: i64 = sqlx::query_scalar("select count(*) from follows").fetch_one(&first).await.unwrap();
    assert!((2_000..=4_500).contains(&follows), "about ten follows a member: {follows}");
    let across_blocks: i64 = sqlx::query_scalar(
        "select count(*) from follows f join blocks b
         on (b.blocker_id, b.blocked_id) in ((f.follower_id, f.followee_id), (f.followee_id, f.follower_id))",
    )
    .fetch_one(&first)
    .await
    .unwrap();
    assert_eq!(across_blocks, 0);

    let members: i64 = sqlx::query_scalar("select count(*) from members").fetch_one(&first).await.unwrap();
    assert_eq!(members, 300);
    let admin: String =
        sqlx::query_scalar("select role::text from members where handle = 'admin'").fetch_one(&first).await.unwrap();
    assert_eq!(admin, "admin");
    let cities: i64 = sqlx::query_scalar("select count(distinct city) from members").fetch_one(&first).await.unwrap();
    assert!(cities >= 5, "members spread over the cities");
    let without_windows: i64 = sqlx::query_scalar(
        "select count(*) from members m where not exists (select from availability a where a.member_id = m.id)",
    )
    .fetch_one(&first)
    .await
    .unwrap();
    assert_eq!(without_windows, 0);

    let again = cuppa::seed::run(&first, 10, 7, false).await.unwrap_err();
    assert!(again.to_string().contains("already has 300 members"));
}

#[tokio::test]
async fn seeded_members_have_distinct_drawn_photos_the_same_for_the_same_seed() {
    use image::{GenericImageView, ImageFormat};

    let first = crate::support::fresh_pool().await;
    let second = crate::support::fresh_pool().await;
    cuppa::seed::run(&first, 30, 7, false).await.unwrap();
    cuppa::seed::run(&second, 30, 7, false).await.unwrap();
    let query = "select m.handle, p.small, p.large from members m join photos p on p.id = m.photo_id order by m.handle";
    let photos: Vec<(String, Vec<u8>, Vec<u8>)> = sqlx::query_as(query).fetch_all(&first).await.unwrap();
    let again: Vec<(String, Vec<u8>, Vec<u8>)> = sqlx::query_as(query).fetch_all(&second).await.unwrap();
    // Not assert_eq!, which would print kilobytes of JPEG.
    assert!(photos == again, "the same members have the same photo bytes");

    let handles: Vec<&str> = photos.iter().map(|(handle, _, _)| handle.as_str()).collect();
    assert!(handles.contains(&"demo") && handles.contains(&"admin"));
    assert!((20..=27).contains(&photos.len()), "about four in five of 30 members: {}", photos.len());
    // Drawn by the seed (no uploader), and every one is somebody's photo.
    let (stored, uploaded): (i64, i64) =
        sqlx::query_as("select count(*), count(member_id) from photos").fetch_one(&first).await.unwrap();
    assert_eq!((stored, uploaded), (photos.len() as i64, 0));

    let mut pixels = Vec::new();
    for (handle, small, large) in &photos {
        let small = image::load_from_memory_with_format(small, ImageFormat::Jpeg).unwrap();
        let large = image::load_from_memory_with_format(large, ImageFormat::Jpeg).unwrap();
        assert_eq!((small.dimensions(), large.dimensions()), ((96, 96), (384, 384)), "{handle}");
        // A 24-pixel thumbnail: what tells two people apart at a glance, and quick to compare.
        pixels.push((handle, small.thumbnail_exact(24, 24).to_rgb8().into_raw()));
    }
    // Every two people look clearly different, not just a few bytes apart: the average
    // difference per colour channel, out of 255.
    for (i, (a, a_pixels)) in pixels.iter().enumerate() {
        for (b, b_pixels) in &pixels[i + 1..] {
            let total: u64 = a_pixels.iter().zip(b_pixels).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
            let average = total as f64 / a_pixels.len() as f64;
            assert!(average > 8.0, "{a} and {b} differ by {average:.1} a channel");
        }
    }
}

#[tokio::test]
async fn the_demo_password_logs_in_to_a_seeded_community() {
    let mut client = Client::new().await;
    cuppa::seed::run(&client.pool, 5, 1, false).await.unwrap();
    let done = client.log_in(cuppa::seed::DEMO_HANDLE, cuppa::seed::DEMO_PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(client.get("/").await.text("h1"), "Hello, Demo Member");
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let client = Client::new().await;
    let (addr, stop, task) = spawn_server(client.router.clone(), Duration::from_millis(300)).await;
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n").await.unwrap();
    let mut rest = Vec::new();
    // The server must close the connection itself; the outer timeout only keeps a failing test
    // from hanging.
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the connection was still open after 10 s");
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));

    let mut prompt = tokio::net::TcpStream::connect(addr).await.unwrap();
    prompt.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    prompt.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish_and_refuses_new_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let client = Client::new().await;
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel::<()>();
    let entered = std::sync::Arc::new(std::sync::Mutex::new(Some(entered_tx)));
    let slow = axum::Router::new().route(
        "/probe/slow",
        axum::routing::get(move || {
            let entered = entered.clone();
            async move {
                if let Some(tx) = entered.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                "finished"
            }
        }),
    );
    let router = cuppa::with_layers(slow, test_state(client.pool.clone()));
    let (addr, stop, task) = spawn_server(router, Duration::from_secs(5)).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /probe/slow HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    entered_rx.await.unwrap();
    stop.send(true).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("finished"), "{answer}");
    task.await.unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the listener is closed");
}
