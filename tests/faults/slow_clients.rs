//! 300 clients that send their headers a byte at a time (slowloris): everyone else is still
//! served quickly, and the slow connections are cut when the header timeout runs out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cuppa::server::HEADER_READ_TIMEOUT;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

use crate::http::{Visitor, client, percentile};
use crate::served::{Options, Served};
use crate::test_db;

const SLOW_CLIENTS: usize = 300;
/// One byte of headers every so often from each slow client.
const TRICKLE: Duration = Duration::from_millis(100);
/// The p99 of everyone else's requests meanwhile.
const P99_LIMIT: Duration = Duration::from_millis(200);
/// How much later than the header timeout a slow connection may be cut.
const CUT_SLACK: Duration = Duration::from_secs(2);
/// How long the burst of slow clients may take to connect, each: well under the second a
/// client waits before sending a dropped SYN again.
const CONNECT_LIMIT: Duration = Duration::from_millis(500);
/// How long the normal requests run before the slow clients come, for comparison.
const BASELINE: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_at_the_header_timeout_and_others_are_served_quickly_meanwhile() {
    let _turn = crate::one_at_a_time().await;
    let (pool, url) = test_db::fresh_database().await;
    cuppa::seed::run_without_photos(&pool, 12, 1).await.expect("seed");
    let server = Served::start(Options { database_url: Some(&url), serve_args: &["--no-jobs"], env: &[] });
    let member = Visitor::log_in(client(true), &server.base, cuppa::seed::DEMO_HANDLE).await;

    let baseline = measure_for(member, &server.base, BASELINE).await;
    let member = baseline.member;
    let all_connected = Arc::new(Barrier::new(SLOW_CLIENTS + 1));
    let slow: Vec<_> =
        (0..SLOW_CLIENTS).map(|_| tokio::spawn(trickle_until_cut(server.addr, all_connected.clone()))).collect();
    all_connected.wait().await;
    let measuring = Instant::now();
    let meanwhile = measure_for(member, &server.base, HEADER_READ_TIMEOUT).await;
    let mut slow_clients = Vec::new();
    for client in slow {
        slow_clients.push(client.await.expect("a slow client finished"));
    }
    let last_cut = measuring.elapsed();

    let baseline_p99 = percentile(&baseline.latencies, 99.0);
    let p50 = percentile(&meanwhile.latencies, 50.0);
    let p99 = percentile(&meanwhile.latencies, 99.0);
    let slowest = meanwhile.latencies.iter().max().copied().unwrap_or_default();
    let cut: Vec<Duration> = slow_clients.iter().filter_map(|c| c.cut_after).collect();
    let slowest_connect = slow_clients.iter().map(|c| c.connecting).max().unwrap_or_default();
    eprintln!(
        "slow clients: {SLOW_CLIENTS} trickling a byte every {TRICKLE:?} (connecting took up to {:.3} s); meanwhile \
         {} normal requests: p50 {:.1} ms, p99 {:.1} ms, slowest {:.1} ms (before the slow clients, p99 {:.1} ms \
         over {}); {} of {SLOW_CLIENTS} cut {:.2} s to {:.2} s after connecting (median {:.2} s; header timeout \
         {:.0} s); all cut {:.2} s into the load",
        slowest_connect.as_secs_f64(),
        meanwhile.latencies.len(),
        ms(p50),
        ms(p99),
        ms(slowest),
        ms(baseline_p99),
        baseline.latencies.len(),
        cut.len(),
        cut.iter().min().copied().unwrap_or_default().as_secs_f64(),
        cut.iter().max().copied().unwrap_or_default().as_secs_f64(),
        if cut.is_empty() { 0.0 } else { percentile(&cut, 50.0).as_secs_f64() },
        HEADER_READ_TIMEOUT.as_secs_f64(),
        last_cut.as_secs_f64(),
    );

    // A kernel that drops a SYN makes the client wait a second before it tries again: the
    // burst must fit Cuppa's listen queue.
    assert!(slowest_connect < CONNECT_LIMIT, "a connection took {slowest_connect:?} to be made");
    assert!(meanwhile.failures.is_empty(), "normal requests failed: {:?}", meanwhile.failures);
    assert!(p99 < P99_LIMIT, "p99 {p99:?} with slow clients connected (before them: {baseline_p99:?})");
    for client in &slow_clients {
        let cut_after =
            client.cut_after.unwrap_or_else(|| panic!("a slow connection was never cut:\n{}", server.output()));
        // The server's clock for a connection cannot start before the client asked to connect,
        // and starts at the latest when the client sees it connected (or the server is late).
        assert!(client.connecting + cut_after >= HEADER_READ_TIMEOUT, "cut after {cut_after:?}, before the timeout");
        assert!(cut_after <= HEADER_READ_TIMEOUT + CUT_SLACK, "cut only after {cut_after:?}");
    }
    drop(server);
    test_db::drop_database(pool).await;
}

/// One slow client's connection, timed.
struct Trickled {
    /// From asking to connect to being connected.
    connecting: Duration,
    /// From being connected to the server cutting the connection; `None`: it never did,
    /// within a generous bound.
    cut_after: Option<Duration>,
}

/// Opens a connection and sends a request's headers a byte at a time, never finishing them,
/// until the server lets go.
async fn trickle_until_cut(addr: std::net::SocketAddr, all_connected: Arc<Barrier>) -> Trickled {
    let asked = Instant::now();
    let stream = TcpStream::connect(addr).await.expect("a slow client connects");
    let connected = Instant::now();
    let connecting = connected - asked;
    all_connected.wait().await;
    let (mut reader, mut writer) = stream.into_split();
    let headers = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Trickle: ".iter().chain(std::iter::repeat(&b'a'));
    let mut read = [0u8; 512];
    for byte in headers {
        if writer.write_all(&[*byte]).await.is_err() {
            return Trickled { connecting, cut_after: Some(connected.elapsed()) };
        }
        tokio::select! {
            // Any answer (hyper may send a 408 first), an end or an error: the server let go.
            _ = reader.read(&mut read) => return Trickled { connecting, cut_after: Some(connected.elapsed()) },
            () = tokio::time::sleep(TRICKLE) => {}
        }
        if connected.elapsed() > HEADER_READ_TIMEOUT * 2 {
            return Trickled { connecting, cut_after: None };
        }
    }
    unreachable!("the headers never end")
}

/// Requests of everyday visitors, timed: a member browsing over one kept-alive connection
/// and a newcomer opening a connection for each page, side by side.
struct Measured {
    latencies: Vec<Duration>,
    failures: Vec<String>,
    /// Handed back for the next round.
    member: Visitor,
}

async fn measure_for(mut member: Visitor, base: &str, length: Duration) -> Measured {
    let done = Arc::new(AtomicBool::new(false));
    let newcomer = tokio::spawn({
        let (base, done) = (base.to_owned(), done.clone());
        async move {
            let mut newcomer = Visitor::new(client(false), &base);
            time_pages(&mut newcomer, &["/login", "/signup", "/healthz"], &done).await
        }
    });
    let started = Instant::now();
    let browsing = async {
        let timed = time_pages(&mut member, &["/", "/people", "/m/admin", "/healthz"], &done);
        let stopper = async {
            tokio::time::sleep(length.saturating_sub(started.elapsed())).await;
            done.store(true, Ordering::SeqCst);
        };
        tokio::join!(timed, stopper).0
    };
    let (mut latencies, mut failures) = browsing.await;
    let (newcomer_latencies, newcomer_failures) = newcomer.await.expect("the newcomer finished");
    latencies.extend(newcomer_latencies);
    failures.extend(newcomer_failures);
    Measured { latencies, failures, member }
}

/// Gets `paths` in turn, one at a time, until `done`; the time each took and what failed.
async fn time_pages(visitor: &mut Visitor, paths: &[&str], done: &AtomicBool) -> (Vec<Duration>, Vec<String>) {
    let (mut latencies, mut failures) = (Vec::new(), Vec::new());
    for path in paths.iter().cycle() {
        if done.load(Ordering::SeqCst) {
            break;
        }
        let started = Instant::now();
        match visitor.get(path).await {
            Ok(answer) if answer.status == StatusCode::OK => latencies.push(started.elapsed()),
            Ok(answer) => failures.push(format!("{path}: {}", answer.status)),
            Err(err) => failures.push(format!("{path}: {err}")),
        }
    }
    (latencies, failures)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
