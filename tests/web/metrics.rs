//! Metrics: the site's router counts and times every request by route template and status,
//! and only the metrics router (served on `--metrics-listen`) shows them, with the pool, the
//! outbox and the last round read from the database when scraped.
//!
//! The recorder is one per process and every test in this binary shares it, so request counts
//! are compared before and after, and only as "at least": another test may load the same page
//! meanwhile. The database figures are exact: each scrape reads its own test database.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tower::ServiceExt;

use crate::support::Client;

/// What Prometheus would get from the metrics listener of a Cuppa over `pool`.
async fn scrape(pool: &PgPool) -> String {
    let request = Request::get("/metrics").body(Body::empty()).expect("request");
    let response = cuppa::metrics::router(pool.clone()).oneshot(request).await.expect("infallible router");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/plain; version=0.0.4; charset=utf-8");
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8(bytes.to_vec()).expect("the exposition is UTF-8")
}

/// The value of the sample written exactly as `series` (name and labels), if it is there.
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn requests(method: &str, route: &str, status: u16) -> String {
    format!(r#"cuppa_http_requests_total{{method="{method}",route="{route}",status="{status}"}}"#)
}

#[tokio::test]
async fn the_public_site_does_not_serve_metrics() {
    let mut client = Client::new().await;
    // Recording is on, as in a server started with --metrics-listen.
    scrape(&client.pool).await;
    let page = client.get("/metrics").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(page.text("h1"), "Page not found");
    assert!(!page.body.contains("cuppa_http_requests_total"));
}

#[tokio::test]
async fn requests_are_counted_by_route_template_and_status_never_by_path() {
    let mut client = Client::new().await;
    let before = scrape(&client.pool).await;
    client.sign_up("metrics_reader").await;
    for path in ["/healthz", "/healthz", "/m/metrics_reader", "/m/nobody_by_that_name", "/no/such/page/xq7"] {
        client.get(path).await;
    }
    let after = scrape(&client.pool).await;

    let grew = |series: String, by: f64| {
        let (was, is) = (sample(&before, &series).unwrap_or(0.0), sample(&after, &series));
        assert!(is.is_some_and(|is| is >= was + by), "{series}: {was} before, {is:?} after:\n{after}");
    };
    grew(requests("GET", "/healthz", 200), 2.0);
    // One series for every member's page, whoever it is and whether they exist.
    grew(requests("GET", "/m/{handle}", 200), 1.0);
    grew(requests("GET", "/m/{handle}", 404), 1.0);
    grew(requests("GET", "unmatched", 404), 1.0);
    grew(requests("POST", "/signup", 303), 1.0);
    for raw in ["metrics_reader", "nobody_by_that_name", "xq7"] {
        assert!(!after.contains(raw), "a raw path leaked into a label: {raw}");
    }

    // Latency is a histogram with buckets, not a summary with quantiles.
    assert!(after.contains("# TYPE cuppa_http_request_duration_seconds histogram"));
    let healthz = r#"method="GET",route="/healthz""#;
    let all = sample(&after, &format!("cuppa_http_request_duration_seconds_bucket{{{healthz},le=\"+Inf\"}}"));
    let counted = sample(&after, &format!("cuppa_http_request_duration_seconds_count{{{healthz}}}"));
    assert!(all.is_some_and(|all| all >= 2.0) && all == counted, "{after}");
    assert!(after.contains(&format!("cuppa_http_request_duration_seconds_bucket{{{healthz},le=\"0.005\"}}")));
}

#[tokio::test]
async fn a_scrape_reads_the_outbox_the_pool_and_the_latest_round() {
    let pool = crate::support::fresh_pool().await;
    // Waiting: one written two hours ago (retried since), one just now. Done with: one sent,
    // one given up on after its last retry.
    sqlx::query(
        "insert into outbox (kind, to_address, subject, body, link, created_at, attempts, sent_at, failed_at)
         values ('account', 'a@example.com', 's', 'b', '/', now() - interval '2 hours', 2, null, null),
                ('account', 'b@example.com', 's', 'b', '/', now(), 0, null, null),
                ('account', 'c@example.com', 's', 'b', '/', now() - interval '1 day', 1, now(), null),
                ('account', 'd@example.com', 's', 'b', '/', now() - interval '3 days', 5, null, now())",
    )
    .execute(&pool)
    .await
    .expect("emails in the outbox");
    sqlx::query(
        "insert into scheduler_rounds (period, started_at, members_considered, members_matchable, candidate_pairs,
                                       pairs_made, total_weight, load_ms, score_ms, match_ms, write_ms)
         values ('2026-11-16', '2026-11-16 06:00:00Z', 90, 40, 70, 12, 300, 10, 20, 30, 40),
                ('2026-11-23', '2026-11-23 06:00:01.5Z', 100, 50, 80, 20, 456, 120, 35, 5, 1340)",
    )
    .execute(&pool)
    .await
    .expect("two rounds");
    // Two connections busy elsewhere while Prometheus scrapes.
    let busy = (pool.acquire().await.expect("a connection"), pool.acquire().await.expect("another"));

    let exposition = scrape(&pool).await;
    let value = |series: &str| sample(&exposition, series).unwrap_or_else(|| panic!("no {series}:\n{exposition}"));
    assert_eq!(value("cuppa_database_up"), 1.0);
    assert_eq!(value("cuppa_outbox_unsent_emails"), 2.0);
    let oldest = value("cuppa_outbox_oldest_unsent_age_seconds");
    assert!((7200.0..7260.0).contains(&oldest), "oldest waiting email {oldest} s old");
    assert!(value(r#"cuppa_db_pool_connections{state="in_use"}"#) >= 2.0, "{exposition}");
    assert_eq!(value("cuppa_db_pool_max_connections"), f64::from(pool.options().get_max_connections()));
    // The latest round's figures, not the one before.
    assert_eq!(value("cuppa_last_round_started_timestamp_seconds"), 1_795_413_601.5);
    assert_eq!(value("cuppa_last_round_members_considered"), 100.0);
    assert_eq!(value("cuppa_last_round_members_matchable"), 50.0);
    assert_eq!(value("cuppa_last_round_candidate_pairs"), 80.0);
    assert_eq!(value("cuppa_last_round_pairs_made"), 20.0);
    assert_eq!(value("cuppa_last_round_total_weight"), 456.0);
    assert_eq!(value("cuppa_last_round_duration_seconds"), 1.5);
    assert_eq!(value(r#"cuppa_last_round_phase_duration_seconds{phase="write"}"#), 1.34);
    drop(busy);
}

#[tokio::test]
async fn a_scrape_without_the_database_still_answers_and_says_the_database_is_down() {
    // Nothing listens on port 9 of loopback.
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:9/none")
        .expect("a lazy pool");
    let exposition = scrape(&pool).await;
    assert_eq!(sample(&exposition, "cuppa_database_up"), Some(0.0), "{exposition}");
    assert_eq!(sample(&exposition, r#"cuppa_db_pool_connections{state="in_use"}"#), Some(0.0));
}
