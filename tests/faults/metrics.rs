//! The metrics listener of a real `cuppa serve --metrics-listen`: the site's requests show up
//! there, exactly counted, the site itself does not serve them, and SIGTERM closes both
//! listeners.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;

use crate::http::client;
use crate::served::{Options, Served};
use crate::test_db;

/// From the signal to the exit: the drain limit, as for the site alone.
const EXIT_LIMIT: Duration = Duration::from_secs(15);

/// The address `serve` printed for its metrics.
fn metrics_address(server: &Served) -> SocketAddr {
    let stdout = std::fs::read_to_string(server.dir.join("stdout")).expect("the server's stdout");
    let line = stdout.lines().find_map(|line| line.strip_prefix("Metrics for Prometheus at http://"));
    let line = line.unwrap_or_else(|| panic!("no metrics address printed:\n{}", server.output()));
    line.trim_end_matches("/metrics").parse().expect("the printed address parses")
}

/// The value of the sample written exactly as `series` (name and labels), if it is there.
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_their_own_listener_only_and_stop_with_the_server() {
    let _turn = crate::one_at_a_time().await;
    let (pool, url) = test_db::fresh_database().await;
    let mut server = Served::start(Options {
        database_url: Some(&url),
        serve_args: &["--no-jobs", "--metrics-listen", "127.0.0.1:0"],
        env: &[],
    });
    let metrics = metrics_address(&server);
    assert_ne!(metrics.port(), server.addr.port());
    let http = client(false);
    let get = |url: String| {
        let http = http.clone();
        async move {
            let response = http.get(&url).send().await.unwrap_or_else(|err| panic!("GET {url}: {err}"));
            let status = response.status();
            let content_type = response.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap_or("").to_owned());
            (status, content_type, response.text().await.expect("a whole body"))
        }
    };

    assert_eq!(get(server.url("/healthz")).await.0, StatusCode::OK);
    assert_eq!(get(server.url("/no/such/page")).await.0, StatusCode::NOT_FOUND);
    let (status, _, body) = get(server.url("/metrics")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the public site serves metrics: {body}");
    // Only /metrics: the site is not reachable through the metrics listener either.
    assert_eq!(get(format!("http://{metrics}/healthz")).await.0, StatusCode::NOT_FOUND);

    let (status, content_type, exposition) = get(format!("http://{metrics}/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("text/plain; version=0.0.4; charset=utf-8"));
    let healthz = r#"cuppa_http_requests_total{method="GET",route="/healthz",status="200"}"#;
    assert_eq!(sample(&exposition, healthz), Some(1.0), "{exposition}");
    // The unknown page and the public /metrics, under one label and not their paths.
    let unmatched = r#"cuppa_http_requests_total{method="GET",route="unmatched",status="404"}"#;
    assert_eq!(sample(&exposition, unmatched), Some(2.0), "{exposition}");
    assert!(!exposition.contains("/no/such/page"));
    assert_eq!(sample(&exposition, "cuppa_database_up"), Some(1.0), "{exposition}");
    assert_eq!(sample(&exposition, "cuppa_outbox_unsent_emails"), Some(0.0), "{exposition}");

    let signalled = Instant::now();
    server.signal("TERM");
    let exit = server.wait_for_exit(EXIT_LIMIT);
    let took = signalled.elapsed();
    assert!(exit.is_some_and(|status| status.success()), "exit {exit:?} after {took:?}:\n{}", server.output());
    let refused = tokio::net::TcpStream::connect(metrics).await;
    assert!(refused.is_err(), "the metrics listener outlived the server");
    test_db::drop_database(pool).await;
    eprintln!(
        "metrics listener: answered a scrape of {} bytes; the server exited {:.2} s after SIGTERM",
        exposition.len(),
        took.as_secs_f64()
    );
}
