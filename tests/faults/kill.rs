//! `kill -9` of the server during a write load of follows and profile edits, then a restart on
//! the same database: every write Cuppa acknowledged (a 303 after the POST) is there.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sqlx::PgPool;

use crate::http::{Visitor, client};
use crate::served::{Options, Served};
use crate::test_db;

/// Members logged in at once, each writing as fast as Cuppa answers.
const WRITERS: usize = 6;
/// Enough that no writer runs out of members to follow before the kill.
const MEMBERS: usize = 120;
/// Writes acknowledged before the kill: some of each writer's follows and edits.
const ACKNOWLEDGED_BEFORE_KILL: usize = 400;

/// A writer's profile as the seed left it; each edit changes the bio alone.
#[derive(sqlx::FromRow)]
struct Writer {
    id: i64,
    handle: String,
    display_name: String,
    city: String,
    time_zone: String,
    interests: String,
}

/// What one writer sent and which of it Cuppa acknowledged.
#[derive(Default)]
struct Record {
    follows_sent: Vec<i64>,
    follows_acknowledged: Vec<i64>,
    bios_sent: Vec<String>,
    bios_acknowledged: usize,
    /// Index into `bios_sent` of the last edit answered with a 303.
    last_bio_acknowledged: Option<usize>,
    /// When the writer's first request failed (the server was gone).
    failed_at: Option<Instant>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_kill_9_and_a_restart() {
    let _turn = crate::one_at_a_time().await;
    let (pool, url) = test_db::fresh_database().await;
    cuppa::seed::run_without_photos(&pool, MEMBERS, 1).await.expect("seed");
    let writers: Vec<Writer> = sqlx::query_as(
        "select id, handle, display_name, city, time_zone, array_to_string(interests, ', ') as interests
         from members where status = 'active' order by id offset 2 limit $1",
    )
    .bind(WRITERS as i64)
    .fetch_all(&pool)
    .await
    .unwrap();
    let everyone: Vec<(i64, String)> =
        sqlx::query_as("select id, handle from members where status = 'active' order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    // The seed's follows would make an acknowledged follow trivially present, and its blocks
    // would refuse some: the writers start with neither.
    let ids: Vec<i64> = writers.iter().map(|w| w.id).collect();
    sqlx::query("delete from follows where follower_id = any($1)").bind(&ids).execute(&pool).await.unwrap();
    sqlx::query("delete from blocks where blocker_id = any($1) or blocked_id = any($1)")
        .bind(&ids)
        .execute(&pool)
        .await
        .unwrap();

    let mut server = Served::start(Options { database_url: Some(&url), serve_args: &["--no-jobs"], env: &[] });
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for writer in writers {
        let visitor = Visitor::log_in(client(true), &server.base, &writer.handle).await;
        let targets: Vec<(i64, String)> = everyone.iter().filter(|(id, _)| *id != writer.id).cloned().collect();
        tasks.push(tokio::spawn(write_until_refused(visitor, writer, targets, acknowledged.clone())));
    }
    let load_started = Instant::now();
    while acknowledged.load(Ordering::SeqCst) < ACKNOWLEDGED_BEFORE_KILL {
        assert!(load_started.elapsed() < Duration::from_secs(30), "the writes are too slow:\n{}", server.output());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let killed_at = Instant::now();
    server.signal("KILL");
    let status = server.wait_for_exit(Duration::from_secs(5)).expect("the server died");
    assert!(!status.success(), "kill -9 ends the process: {status:?}");
    let mut records = Vec::new();
    let mut visitors = Vec::new();
    for task in tasks {
        let (record, visitor) = task.await.expect("a writer finished");
        records.push(record);
        visitors.push(visitor);
    }
    for record in &records {
        let failed_at = record.failed_at.expect("every writer's last request failed");
        assert!(failed_at >= killed_at, "a request failed before the kill:\n{}", server.output());
    }

    let restarted = Served::start(Options { database_url: Some(&url), serve_args: &["--no-jobs"], env: &[] });
    let first_writer = (ids[0], visitors.swap_remove(0));
    let restart_answered = restarted_answers(&restarted, &pool, first_writer).await;
    let kept = Kept::check(&pool, &ids, &records).await;
    eprintln!(
        "kill -9: {} writes acknowledged in {:.2} s by {WRITERS} writers ({} follows, {} profile edits), {} found \
         after the restart; {} sent but unacknowledged writes committed anyway; {} sent in all. The restarted \
         server answered {:.2} s after the kill.",
        kept.acknowledged,
        (killed_at - load_started).as_secs_f64(),
        kept.follows_acknowledged,
        kept.edits_acknowledged,
        kept.found,
        kept.unacknowledged_found,
        kept.sent,
        (restart_answered - killed_at).as_secs_f64(),
    );
    assert_eq!(kept.found, kept.acknowledged, "acknowledged writes were lost");
    drop(restarted);
    test_db::drop_database(pool).await;
}

/// Follows and edits, one after the other, until the server stops answering. Every answer
/// before then must be the 303 that acknowledges the write.
async fn write_until_refused(
    mut visitor: Visitor,
    writer: Writer,
    targets: Vec<(i64, String)>,
    acknowledged: Arc<AtomicUsize>,
) -> (Record, Visitor) {
    let mut record = Record::default();
    let mut targets = targets.into_iter();
    for n in 0.. {
        let follow = if n % 2 == 0 { targets.next() } else { None };
        let answer = match &follow {
            Some((id, handle)) => {
                record.follows_sent.push(*id);
                visitor.post(&format!("/m/{handle}/follow"), &[]).await
            }
            None => {
                let bio = format!("Edit {n} by {}", writer.handle);
                record.bios_sent.push(bio.clone());
                let fields = [
                    ("display_name", writer.display_name.as_str()),
                    ("bio", &bio),
                    ("city", &writer.city),
                    ("time_zone", &writer.time_zone),
                    ("interests", &writer.interests),
                    ("addresses", ""),
                ];
                visitor.post("/settings/profile", &fields).await
            }
        };
        let Ok(answer) = answer else {
            record.failed_at = Some(Instant::now());
            return (record, visitor);
        };
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{} was not acknowledged: {}", writer.handle, answer.body);
        match follow {
            Some((id, _)) => record.follows_acknowledged.push(id),
            None => {
                record.bios_acknowledged += 1;
                record.last_bio_acknowledged = Some(record.bios_sent.len() - 1);
            }
        }
        acknowledged.fetch_add(1, Ordering::SeqCst);
    }
    unreachable!("the loop ends when the server is gone")
}

/// The restarted server answers: its health check, and a writer's session from before the
/// kill (sessions live in the database) shows the profile form with the stored bio. Returns
/// when it first answered.
async fn restarted_answers(restarted: &Served, pool: &PgPool, writer: (i64, Visitor)) -> Instant {
    let (id, visitor) = writer;
    let health = client(true).get(restarted.url("/healthz")).send().await.expect("the restarted server answers");
    assert_eq!(health.status(), StatusCode::OK);
    let answered = Instant::now();
    let mut visitor = visitor.at(&restarted.base);
    let form = visitor.get("/settings/profile").await.expect("the profile form answers");
    let bio: String =
        sqlx::query_scalar("select bio from members where id = $1").bind(id).fetch_one(pool).await.unwrap();
    assert_eq!(form.status, StatusCode::OK, "the session from before the kill still holds");
    assert!(form.body.contains(&bio), "the form shows the stored bio {bio:?}");
    answered
}

/// The writes found in the database after the restart.
struct Kept {
    sent: usize,
    acknowledged: usize,
    follows_acknowledged: usize,
    edits_acknowledged: usize,
    found: usize,
    unacknowledged_found: usize,
}

impl Kept {
    async fn check(pool: &PgPool, ids: &[i64], records: &[Record]) -> Kept {
        let mut kept = Kept {
            sent: 0,
            acknowledged: 0,
            follows_acknowledged: 0,
            edits_acknowledged: 0,
            found: 0,
            unacknowledged_found: 0,
        };
        for (id, record) in ids.iter().zip(records) {
            let follows: HashSet<i64> = sqlx::query_scalar("select followee_id from follows where follower_id = $1")
                .bind(id)
                .fetch_all(pool)
                .await
                .unwrap()
                .into_iter()
                .collect();
            let sent: HashSet<i64> = record.follows_sent.iter().copied().collect();
            assert!(follows.is_subset(&sent), "member {id} follows someone they never asked to follow");
            kept.sent += record.follows_sent.len() + record.bios_sent.len();
            kept.follows_acknowledged += record.follows_acknowledged.len();
            let found = record.follows_acknowledged.iter().filter(|f| follows.contains(f)).count();
            kept.found += found;
            kept.unacknowledged_found += follows.len() - found;

            let bio: String =
                sqlx::query_scalar("select bio from members where id = $1").bind(id).fetch_one(pool).await.unwrap();
            let held = record.bios_sent.iter().position(|sent| *sent == bio);
            if let Some(last) = record.last_bio_acknowledged {
                kept.edits_acknowledged += record.bios_acknowledged;
                // The last acknowledged edit, or one sent after it whose 303 was lost in the
                // kill: either way every acknowledged edit took effect, in the order sent.
                match held {
                    Some(index) if index >= last => kept.found += record.bios_acknowledged,
                    _ => eprintln!("member {id} holds {bio:?}, not {:?} or later", record.bios_sent[last]),
                }
                kept.unacknowledged_found += usize::from(held.is_some_and(|index| index > last));
            }
        }
        kept.acknowledged = kept.follows_acknowledged + kept.edits_acknowledged;
        kept
    }
}
