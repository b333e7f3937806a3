//! The database stopped during a read load and started again, Cuppa left running: the outage
//! is answered with the 503 page within 5 seconds (no hang, no 500), and pages come back within
//! 10 seconds of the database returning.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cuppa::db::EmbeddedPostgres;
use reqwest::StatusCode;
use sqlx::postgres::PgPoolOptions;

use crate::http::{Visitor, client, seconds_from};
use crate::served::{Options, Served};

/// Readers at once, each a logged-in member browsing.
const READERS: usize = 4;
/// How long the database stays down: longer than the pool's acquire timeout (3 s), so that
/// requests start and end inside the outage.
const OUTAGE: Duration = Duration::from_secs(5);
/// The longest any answer may take, outage or not.
const ANSWER_LIMIT: Duration = Duration::from_secs(5);
/// From the database accepting connections again to Cuppa's first normal page.
const RECOVERY_LIMIT: Duration = Duration::from_secs(10);
/// The test's own cluster holds nothing worth keeping.
const SETTINGS: [&str; 3] = ["fsync=off", "synchronous_commit=off", "full_page_writes=off"];
const DATABASE: &str = "cuppa";
const HEALTH: &str = "/healthz";

/// One request of the load.
struct Sample {
    path: String,
    started: Instant,
    ended: Instant,
    /// `None` when no answer came at all.
    status: Option<StatusCode>,
    unavailable_page: bool,
}

impl Sample {
    fn took(&self) -> Duration {
        self.ended - self.started
    }

    /// A member page answered as usual (the health check says less: it asks for no session).
    fn is_normal_page(&self) -> bool {
        self.status == Some(StatusCode::OK) && self.path != HEALTH
    }
}

/// Every request of the load so far, shared by the readers and the test.
type Log = Arc<Mutex<Vec<Sample>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_gets_quick_503_pages_and_cuppa_recovers_by_itself() {
    let _turn = crate::one_at_a_time().await;
    let dir = crate::temp_dir("outage");
    let pg = start_cluster(&dir).await;
    cuppa::db::create_database_if_missing(&pg, DATABASE).await.unwrap();
    let pool = PgPoolOptions::new().max_connections(2).connect_with(pg.connect_options(DATABASE)).await.unwrap();
    cuppa::db::MIGRATOR.run(&pool).await.unwrap();
    cuppa::seed::run_without_photos(&pool, 12, 1).await.unwrap();
    let handles: Vec<String> =
        sqlx::query_scalar("select handle from members where status = 'active' order by id limit $1")
            .bind(READERS as i64)
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;

    let url = pg.url(DATABASE);
    let server = Served::start(Options { database_url: Some(&url), serve_args: &["--no-jobs"], env: &[] });
    let log = Log::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for (i, handle) in handles.iter().enumerate() {
        let visitor = Visitor::log_in(client(true), &server.base, handle).await;
        let other = &handles[(i + 1) % handles.len()];
        let paths = vec!["/".to_owned(), format!("/m/{other}"), "/people".to_owned(), HEALTH.to_owned()];
        readers.push(tokio::spawn(read_until_stopped(visitor, paths, log.clone(), stop.clone())));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let stopping = Instant::now();
    let pg = tokio::task::spawn_blocking(move || {
        let mut pg = pg;
        pg.stop().expect("the cluster stops");
        pg
    })
    .await
    .unwrap();
    let down = Instant::now();
    drop(pg);
    tokio::time::sleep(OUTAGE).await;
    let returning = Instant::now();
    let pg = start_cluster(&dir).await;
    let back = Instant::now();
    // Until a member page asked for after the return answers normally (or the limit is well
    // past), then a second more to see that it stays so.
    while back.elapsed() < RECOVERY_LIMIT + Duration::from_secs(2)
        && !log.lock().unwrap().iter().any(|s| s.started >= back && s.is_normal_page())
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    for reader in readers {
        reader.await.expect("a reader finished");
    }
    let output = server.output();
    drop(server);
    drop(pg);
    let _ = std::fs::remove_dir_all(&dir);

    let samples = std::mem::take(&mut *log.lock().unwrap());
    check_and_report(&samples, Phases { stopping, down, returning, back }, &output);
}

/// Starts (or starts again) the test's own cluster in `dir`.
async fn start_cluster(dir: &Path) -> EmbeddedPostgres {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&dir, &SETTINGS))
        .await
        .unwrap()
        .expect("the test's cluster starts")
}

/// Reads `paths` in turn, one request at a time, logging each, until told to stop.
async fn read_until_stopped(mut visitor: Visitor, paths: Vec<String>, log: Log, stop: Arc<AtomicBool>) {
    for path in paths.iter().cycle() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let started = Instant::now();
        let answer = visitor.get(path).await;
        let ended = Instant::now();
        let (status, unavailable_page) = match &answer {
            Ok(answer) => (Some(answer.status), answer.is_unavailable_page()),
            Err(_) => (None, false),
        };
        log.lock().unwrap().push(Sample { path: path.clone(), started, ended, status, unavailable_page });
        if answer.is_err() {
            // Not what this test expects, but no reason to spin on it either.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// When the database went and came back, as the test saw it.
struct Phases {
    /// `pg_ctl stop` was called.
    stopping: Instant,
    /// It returned: the database was down.
    down: Instant,
    /// `pg_ctl start` was called.
    returning: Instant,
    /// It returned: the database accepted connections again.
    back: Instant,
}

fn check_and_report(samples: &[Sample], phases: Phases, output: &str) {
    let Phases { stopping, down, returning, back } = phases;
    let describe = |s: &Sample| {
        format!(
            "{} at {:+.2} s from the stop: {:?} after {:.2} s",
            s.path,
            seconds_from(stopping, s.started),
            s.status,
            s.took().as_secs_f64()
        )
    };
    let before: Vec<&Sample> = samples.iter().filter(|s| s.ended < stopping).collect();
    let touching_outage: Vec<&Sample> = samples.iter().filter(|s| s.ended >= stopping && s.started <= back).collect();
    let inside: Vec<&Sample> = samples.iter().filter(|s| s.started >= down && s.ended <= returning).collect();
    let longest = touching_outage.iter().map(|s| s.took()).max().unwrap_or_default();
    let recovered = samples.iter().filter(|s| s.started >= back && s.is_normal_page()).min_by_key(|s| s.ended);
    let recovery = recovered.map(|s| s.ended - back);
    eprintln!(
        "database outage: {} requests before, {} during ({} wholly inside the {:.1} s outage), {} after; longest \
         answer during the outage {:.2} s; stopping took {:.2} s, starting {:.2} s; the first normal member page \
         came {} after the database was back",
        before.len(),
        touching_outage.len(),
        inside.len(),
        (returning - down).as_secs_f64(),
        samples.iter().filter(|s| s.started > back).count(),
        longest.as_secs_f64(),
        (down - stopping).as_secs_f64(),
        (back - returning).as_secs_f64(),
        recovery.map_or("never".to_owned(), |r| format!("{:.2} s", r.as_secs_f64())),
    );

    assert!(before.iter().all(|s| s.status == Some(StatusCode::OK)), "pages answered before the outage");
    for sample in samples {
        assert!(sample.status.is_some(), "no answer at all: {}\n{output}", describe(sample));
        assert!(sample.took() < ANSWER_LIMIT, "too slow: {}\n{output}", describe(sample));
        assert!(
            sample.status == Some(StatusCode::OK) || sample.unavailable_page,
            "neither the page nor the 503 page: {}\n{output}",
            describe(sample)
        );
    }
    assert!(inside.len() >= READERS, "each reader asked at least once while the database was down");
    assert!(inside.iter().all(|s| s.unavailable_page), "the outage is answered with the 503 page");
    let recovered = recovered.expect("Cuppa answered normally again");
    assert!(recovery.is_some_and(|r| r <= RECOVERY_LIMIT), "recovered too late: {}", describe(recovered));
    let relapses: Vec<String> = samples
        .iter()
        .filter(|s| s.started >= recovered.ended && s.status != Some(StatusCode::OK))
        .map(describe)
        .collect();
    assert!(relapses.is_empty(), "after the first normal page, everything is normal: {relapses:?}");
}
