//! SIGTERM during a load, Cuppa on its embedded database: requests in flight finish with their
//! whole answer, new connections are refused, the database is stopped and the process exits
//! cleanly within 15 seconds.

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cuppa::db::EmbeddedPostgres;
use reqwest::StatusCode;
use sqlx::{Connection, PgConnection};
use tokio::net::TcpStream;

use crate::http::{PartSent, RawAnswer, Visitor, client, form_body, seconds_from, sign_up_fields};
use crate::served::{Options, Served};

/// The limit from the signal to the process's exit.
const EXIT_LIMIT: Duration = Duration::from_secs(15);
/// Visitors loading pages beside the requests in flight.
const LOADERS: usize = 4;
/// How long the listener may take to close after the signal.
const REFUSAL_LIMIT: Duration = Duration::from_secs(2);

/// How one request of the load ended.
enum Outcome {
    /// A whole 200 answer.
    Answered,
    /// The connection was refused: the listener had closed.
    Refused,
    /// Connected, but closed before any answer, when the request was begun.
    Reset(Instant),
    /// Anything else: an error page or a body cut short.
    Broken(String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_refuses_new_ones_and_stops_the_database() {
    let _turn = crate::one_at_a_time().await;
    let mut server = Served::start(Options { database_url: None, serve_args: &[], env: &[] });
    let mut uploader = Visitor::sign_up(client(true), &server.base, "uploader").await;
    uploader.read_token("/settings/photo").await;
    let mut newcomer = Visitor::new(client(true), &server.base);
    newcomer.read_token("/signup").await;

    // In flight when the signal comes: the headers and half the body sent, the rest after.
    let sign_up_form = form_body(&newcomer.token(), &sign_up_fields("late_comer")).into_bytes();
    let sign_up = PartSent::begin(
        server.addr,
        "/signup",
        &newcomer.cookie().expect("a session"),
        "application/x-www-form-urlencoded",
        sign_up_form,
    )
    .await;
    let (content_type, upload_body) = photo_upload(&uploader.token());
    let upload = PartSent::begin(
        server.addr,
        "/settings/photo",
        &uploader.cookie().expect("a session"),
        &content_type,
        upload_body,
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> =
        (0..LOADERS).map(|i| tokio::spawn(load_until_refused(server.base.clone(), i, stop.clone()))).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    server.signal("TERM");
    let refused_after = wait_until_refused(&server, signalled).await;
    // Only now, with new connections refused, do the requests in flight send their rest.
    let (sign_up, upload) = tokio::join!(sign_up.finish(), upload.finish());
    let finished_after = signalled.elapsed();
    let exit = server.wait_for_exit(EXIT_LIMIT.saturating_sub(signalled.elapsed()));
    let drain = signalled.elapsed();
    stop.store(true, Ordering::SeqCst);
    let mut outcomes = Vec::new();
    for loader in loaders {
        outcomes.extend(loader.await.expect("a loader finished"));
    }
    let count = |wanted: fn(&Outcome) -> bool| outcomes.iter().filter(|o| wanted(o)).count();
    let resets: Vec<String> = outcomes
        .iter()
        .filter_map(|o| if let Outcome::Reset(started) = o { Some(*started) } else { None })
        .map(|started| format!("{:+.0} ms", seconds_from(signalled, started) * 1000.0))
        .collect();
    eprintln!(
        "SIGTERM: new connections refused {:.3} s after the signal; the two requests in flight answered {} and {} \
         at {:.2} s; the process exited at {:.2} s (drain). Load: {} answered, {} refused, {} reset before an answer \
         (begun at {resets:?} from the signal), {} broken.",
        refused_after.as_secs_f64(),
        show(&sign_up),
        show(&upload),
        finished_after.as_secs_f64(),
        drain.as_secs_f64(),
        count(|o| matches!(o, Outcome::Answered)),
        count(|o| matches!(o, Outcome::Refused)),
        resets.len(),
        count(|o| matches!(o, Outcome::Broken(_))),
    );

    let exit = exit.unwrap_or_else(|| panic!("still running {EXIT_LIMIT:?} after SIGTERM:\n{}", server.output()));
    assert!(exit.success(), "a clean exit: {exit:?}\n{}", server.output());
    for (answer, to) in [(&sign_up, "/settings/profile"), (&upload, "/settings/photo")] {
        assert!(answer.complete && answer.status == Some(303), "{answer:?}\n{}", server.output());
        assert_eq!(answer.location.as_deref(), Some(to));
    }
    let broken: Vec<&String> =
        outcomes.iter().filter_map(|o| if let Outcome::Broken(why) = o { Some(why) } else { None }).collect();
    assert!(broken.is_empty(), "requests of the load went wrong: {broken:?}");
    assert!(count(|o| matches!(o, Outcome::Answered)) > 0, "the load was served until the signal");
    // A request begun before the signal was sent found the listener open: it was answered.
    // One begun after may race the listener's closing; in the microseconds between Cuppa
    // taking in the last waiting connection and closing the listener, the kernel can still
    // complete a connection and then reset it, which the client sees as it would a refusal.
    for outcome in &outcomes {
        if let Outcome::Reset(started) = outcome {
            assert!(*started >= signalled, "a request begun before the signal got no answer");
        }
    }
    assert!(!server.data_dir().join("postgres/postmaster.pid").exists(), "the embedded database was stopped");
    writes_in_flight_were_kept(&server).await;
}

/// Polls with new connections until one is refused; returns when, from the signal.
async fn wait_until_refused(server: &Served, signalled: Instant) -> Duration {
    loop {
        match TcpStream::connect(server.addr).await {
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => return signalled.elapsed(),
            Err(err) => panic!("connecting failed otherwise: {err:?}"),
            Ok(_) => {
                assert!(signalled.elapsed() < REFUSAL_LIMIT, "new connections still accepted:\n{}", server.output());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

/// Whole requests, each on a connection of its own, one after another until refused.
async fn load_until_refused(base: String, i: usize, stop: Arc<AtomicBool>) -> Vec<Outcome> {
    let http = client(false);
    let path = if i.is_multiple_of(2) { "/login" } else { "/healthz" };
    let mut outcomes = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let outcome = match http.get(format!("{base}{path}")).send().await {
            Err(err) if err.is_connect() => Outcome::Refused,
            Err(_) => Outcome::Reset(started),
            Ok(response) if response.status() != StatusCode::OK => {
                Outcome::Broken(format!("{path}: {}", response.status()))
            }
            Ok(response) => match response.bytes().await {
                Ok(_) => Outcome::Answered,
                Err(err) => Outcome::Broken(format!("{path}: the body was cut: {err}")),
            },
        };
        let refused = matches!(outcome, Outcome::Refused);
        outcomes.push(outcome);
        if refused {
            break;
        }
    }
    outcomes
}

fn show(answer: &RawAnswer) -> String {
    match answer.status {
        Some(status) if answer.complete => status.to_string(),
        Some(status) => format!("{status} (cut short)"),
        None => "nothing".to_owned(),
    }
}

/// A photo upload as the settings page's form sends it: the CSRF token first, then the file,
/// a 640 x 480 PNG with enough detail not to compress to nothing.
fn photo_upload(token: &str) -> (String, Vec<u8>) {
    let picture = image::RgbImage::from_fn(640, 480, |x, y| image::Rgb([x as u8, y as u8, (x ^ y) as u8]));
    let mut png = Vec::new();
    picture.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).expect("a PNG");
    let boundary = "cuppa-faults-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"me.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&png);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The answers were sent after the writes committed: starting the stopped cluster again
/// shows the newcomer and the photo.
async fn writes_in_flight_were_kept(server: &Served) {
    let data_dir = server.data_dir();
    let mut pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&data_dir, &[]))
        .await
        .unwrap()
        .expect("the cluster starts again");
    let mut conn = PgConnection::connect_with(&pg.connect_options("cuppa")).await.expect("connect");
    let newcomer: i64 = sqlx::query_scalar("select count(*) from members where handle = 'late_comer'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let photo: Option<i64> = sqlx::query_scalar("select photo_id from members where handle = 'uploader'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    tokio::task::spawn_blocking(move || pg.stop()).await.unwrap().expect("the cluster stops");
    assert_eq!(newcomer, 1, "the sign-up in flight was kept");
    assert!(photo.is_some(), "the upload in flight was kept");
}
