//! Two `cuppa serve` processes on one database, as replicas behind a load balancer (issue 15,
//! "past one machine"): a member logged in on one is logged in on the other, and a log-out on
//! either ends the session on both; a round started on both at once is written once; and the
//! outbox, sent by both replicas' senders at once, sends each mail exactly once.
//!
//! Where the two replicas must overlap for a test to mean anything, the test makes them: it
//! holds a lock on the table they both need, waits until PostgreSQL shows them waiting behind
//! it, and only then lets them go. No sleep stands in for a synchronisation.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use cuppa::notify::model::{Kind, Notice};
use cuppa::seed::{ADMIN_HANDLE, DEMO_HANDLE};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use scraper::{Html, Selector};
use sqlx::PgPool;

use crate::http::{Visitor, client};
use crate::served::{Options, Served};
use crate::test_db;

/// A weekly round due from the first instant of every week: a round's week starts on Monday at
/// 00:00 UTC, so whenever the test runs, each replica's weekly job runs the round as it starts.
const ROUND_DUE_NOW: [&str; 4] = ["--round-day", "mon", "--round-hour", "0"];
/// Members in the scheduler tests' community: enough for some dozens of suggested pairs.
const COMMUNITY: usize = 300;
/// Admins pressing "run the round" on each replica at once.
const ADMINS_PER_REPLICA: usize = 2;
/// How long a replica may take for what the tests wait on (a round of 300 members, a few hundred
/// emails); each takes well under a tenth of this on the 2-core test machine.
const WAIT_LIMIT: Duration = Duration::from_secs(30);
/// How long `cuppa schedule` may take to say whether it ran a round (it takes well under a
/// second when it runs none).
const SCHEDULE_LIMIT: Duration = Duration::from_secs(20);
/// Emails queued for the senders besides those the seeded community already has.
const EMAILS_PER_MEMBER: usize = 4;
const OUTBOX_MEMBERS: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_logged_in_on_one_replica_is_logged_in_on_the_other_and_logged_out_of_both() {
    let _turn = crate::one_at_a_time().await;
    let (pool, url) = test_db::fresh_database().await;
    cuppa::seed::run_without_photos(&pool, 12, 1).await.expect("seed");
    let name: String = sqlx::query_scalar("select display_name from members where handle = $1")
        .bind(DEMO_HANDLE)
        .fetch_one(&pool)
        .await
        .unwrap();
    let (a, b) = replicas(&url, &["--no-jobs"]);

    // Logged in through A's form: the log-in page, its CSRF field, the post.
    let visitor = Visitor::log_in(client(true), &a.base, DEMO_HANDLE).await;
    let cookie = visitor.cookie().expect("a session cookie from A");
    let mut visitor = visitor.at(&b.base);
    let settings = visitor.get("/settings/profile").await.expect("B answers");
    assert_eq!(settings.status, StatusCode::OK, "B does not know the session A started:\n{}", b.output());
    assert_eq!(field_value(&settings.body, "display_name").as_deref(), Some(name.as_str()), "B shows whose it is");

    // Logged out on B, with the token of a page B drew: the CSRF secret is in the shared session.
    visitor.read_token("/settings/profile").await;
    let logged_out = visitor.post("/logout", &[]).await.expect("B answers");
    assert_eq!(logged_out.status, StatusCode::SEE_OTHER, "the log-out on B: {}", logged_out.body);

    // A now treats the cookie it set as nobody's: its member pages send it to log in.
    let old = client(true).get(a.url("/settings/profile")).header(COOKIE, &cookie).send().await.expect("A answers");
    assert_eq!(old.status(), StatusCode::SEE_OTHER, "A still honours the cookie B logged out");
    let location = old.headers().get(LOCATION).and_then(|l| l.to_str().ok()).unwrap_or_default();
    assert!(location.starts_with("/login"), "A sends the logged-out cookie to {location:?}, not to log in");
    // And the session B began after the log-out (the one carrying its message) is read by A.
    let mut visitor = visitor.at(&a.base);
    let home = visitor.get("/").await.expect("A answers");
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        flashes(&home.body).iter().any(|f| f.contains("You have logged out")),
        "A shows the message B left: {:?}",
        flashes(&home.body)
    );
    assert!(!shows_log_out_button(&home.body), "A shows the home page of a logged-in member after the log-out");
    let again = visitor.get("/settings/profile").await.expect("A answers");
    assert_eq!(again.status, StatusCode::SEE_OTHER, "A lets the logged-out visitor in");

    // Logged out, the visitor has no session: the log-in form A drew is signed through their
    // CSRF cookie with the key both replicas read from the database, so B takes it.
    visitor.read_token("/login").await;
    let mut visitor = visitor.at(&b.base);
    let fields = [("account", DEMO_HANDLE), ("password", cuppa::seed::DEMO_PASSWORD)];
    let logged_in = visitor.post("/login", &fields).await.expect("B answers");
    assert_eq!(logged_in.status, StatusCode::SEE_OTHER, "B refuses the form A drew: {}", logged_in.body);

    eprintln!(
        "replicas: a session started on A was read by B, its log-out on B ended it on A, and B took A's log-in form"
    );
    drop((a, b));
    test_db::drop_database(pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_started_on_both_replicas_at_once_is_written_once() {
    let _turn = crate::one_at_a_time().await;
    let (pool, url) = test_db::fresh_database().await;
    cuppa::seed::run_without_photos(&pool, COMMUNITY, 1).await.expect("seed");
    // Whichever round takes the round lock first is held up on the table it reads next, so it
    // is still running while every other start, on both replicas, is tried.
    let mut hold = pool.begin().await.unwrap();
    sqlx::query("lock table scheduler_rounds in access exclusive mode").execute(&mut *hold).await.unwrap();
    let (a, b) = replicas(&url, &ROUND_DUE_NOW);
    let both = [&a, &b];
    // Both weekly jobs started with their servers: the one that won the lock now waits.
    let waiting = poll_until(WAIT_LIMIT, || async { lock_waiters(&pool, "scheduler_rounds").await >= 1 }).await;
    assert!(waiting, "no weekly round is waiting behind the test's lock:\n{}", outputs(&both));

    let mut admins = Vec::new();
    for served in both {
        for _ in 0..ADMINS_PER_REPLICA {
            admins.push(Visitor::log_in(client(true), &served.base, ADMIN_HANDLE).await);
        }
    }
    let (admins, flashes, command) = run_everywhere(admins, &url).await;
    for flash in &flashes {
        assert!(flash.contains("A round is already running"), "an admin was told {flash:?} while a round ran");
    }
    assert!(command.contains("already running elsewhere"), "`cuppa schedule` said {command:?} while a round ran");
    // Only one start ever got past the round lock: the one still waiting.
    let past_the_lock = lock_waiters(&pool, "scheduler_rounds").await;
    assert_eq!(past_the_lock, 1, "rounds past the round lock at once");

    hold.commit().await.unwrap();
    let written = poll_until(WAIT_LIMIT, || async { count(&pool, "scheduler_rounds").await == 1 }).await;
    assert!(written, "the waiting round was not written:\n{}", outputs(&both));
    // From now on a start finds the week's round written, or, while another start is finding
    // that out, the lock taken. The first to try always finds the round.
    let (_, flashes_after, command_after) = run_everywhere(admins, &url).await;
    for flash in &flashes_after {
        assert!(
            flash.contains("has already run") || flash.contains("A round is already running"),
            "an admin was told {flash:?} after the round"
        );
    }
    assert!(
        command_after.contains("has already run") || command_after.contains("already running elsewhere"),
        "`cuppa schedule` said {command_after:?} after the round"
    );
    let found_done = flashes_after.iter().filter(|f| f.contains("has already run")).count()
        + usize::from(command_after.contains("has already run"));
    assert!(found_done >= 1, "no start after the round found it written: {flashes_after:?}, {command_after:?}");

    let (a, b) = stop(a, b);
    let round = Round::check(&pool).await;
    assert_eq!(round.started_by, None, "the weekly job that won the lock wrote the round, not an admin");
    let written_by: Vec<usize> = [&a, &b].iter().map(|s| s.log().matches("scheduler round written").count()).collect();
    assert_eq!(written_by.iter().sum::<usize>(), 1, "replicas that say they wrote the round: {written_by:?}");
    eprintln!(
        "replicas: one round of {} pairs for {} members, written by replica {}'s weekly job; meanwhile {} admin \
         starts and `cuppa schedule` were told it was running; after it, {found_done} of {} starts at once found \
         it written and the rest found one of them holding the lock",
        round.pairs,
        round.members,
        if written_by[0] == 1 { "A" } else { "B" },
        flashes.len(),
        flashes_after.len() + 1,
    );
    drop((a, b));
    test_db::drop_database(pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_started_together_with_a_round_due_write_it_once() {
    let _turn = crate::one_at_a_time().await;
    let (pool, url) = test_db::fresh_database().await;
    cuppa::seed::run_without_photos(&pool, COMMUNITY, 1).await.expect("seed");
    // Nothing staged: both weekly jobs start with their servers and race as they would in
    // production. The statement log says how far the one that lost got.
    let (a, b) = replicas_with_env(&url, &ROUND_DUE_NOW, &[("RUST_LOG", "info,sqlx=warn,sqlx::query=debug")]);
    let both = [&a, &b];
    let written = poll_until(WAIT_LIMIT, || async { count(&pool, "scheduler_rounds").await == 1 }).await;
    assert!(written, "no round was written:\n{}", outputs(&both));
    let (a, b) = stop(a, b);
    let round = Round::check(&pool).await;
    let logs = [a.log(), b.log()];
    let written_by: Vec<usize> = logs.iter().map(|log| log.matches("scheduler round written").count()).collect();
    assert_eq!(written_by.iter().sum::<usize>(), 1, "replicas that say they wrote the round: {written_by:?}");
    assert!(
        logs.iter().all(|log| !log.contains("scheduler round failed")),
        "a replica's round failed:\n{}",
        outputs(&[&a, &b])
    );
    // Only a round that took the lock asks whether the week's round exists.
    let past_the_lock = logs.iter().filter(|log| log.contains("select from scheduler_rounds where period")).count();
    eprintln!(
        "replicas: started together, one round of {} pairs was written (by replica {}); {}",
        round.pairs,
        if written_by[0] == 1 { "A" } else { "B" },
        match past_the_lock {
            2 => "the other replica took the lock after it and found the week's round written",
            _ => "the other replica found the lock taken",
        }
    );
    drop((a, b));
    test_db::drop_database(pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_replicas_send_the_outbox_at_once_and_each_email_goes_exactly_once() {
    let _turn = crate::one_at_a_time().await;
    let (pool, url) = test_db::fresh_database().await;
    cuppa::seed::run_without_photos(&pool, OUTBOX_MEMBERS, 1).await.expect("seed");
    // Out of matching, so that a weekly round (due or not when the test runs) adds no email.
    sqlx::query("update members set matching = false").execute(&pool).await.unwrap();
    let queued = queue_emails(&pool).await;
    let before: BTreeSet<i64> =
        sqlx::query_scalar("select id from outbox").fetch_all(&pool).await.unwrap().into_iter().collect();

    // Both senders start with their servers and wait behind the test's lock, then go together.
    let mut hold = pool.begin().await.unwrap();
    sqlx::query("lock table outbox in exclusive mode").execute(&mut *hold).await.unwrap();
    let (a, b) = replicas(&url, &[]);
    let both = [&a, &b];
    let senders_waiting = poll_until(WAIT_LIMIT, || async { replicas_with_a_waiting_sender(&pool).await == 2 }).await;
    assert!(senders_waiting, "the two senders are not both waiting for the outbox:\n{}", outputs(&both));
    let released = Instant::now();
    hold.commit().await.unwrap();
    let drained = poll_until(WAIT_LIMIT, || async { unsent(&pool).await == 0 }).await;
    let drain = released.elapsed();
    assert!(drained, "the outbox still holds {} unsent emails:\n{}", unsent(&pool).await, outputs(&both));
    let (a, b) = stop(a, b);

    let rows: Vec<(i64, bool, i32, Option<String>)> = sqlx::query_as(
        "select id, sent_at is not null and failed_at is null, attempts, last_error from outbox order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for (id, sent, attempts, error) in &rows {
        assert!(*sent && *attempts == 0 && error.is_none(), "email {id}: sent {sent}, {attempts} failures, {error:?}");
    }
    let ids: BTreeSet<i64> = rows.iter().map(|(id, ..)| *id).collect();
    // What the replicas' own jobs queued (the seed's coffee that is over becomes "did you
    // meet?"): each once, although both replicas run those jobs too.
    let repeated: Vec<(String, i64)> = sqlx::query_as(
        "select subject, count(*) from outbox where not (id = any($1))
         group by member_id, kind, subject, body having count(*) > 1",
    )
    .bind(before.iter().copied().collect::<Vec<i64>>())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(repeated.is_empty(), "the replicas' jobs queued the same email more than once: {repeated:?}");

    let mail_a = delivered(&a.mail_dir());
    let mail_b = delivered(&b.mail_dir());
    let on_both: Vec<&i64> = mail_a.keys().filter(|id| mail_b.contains_key(id)).collect();
    assert!(on_both.is_empty(), "emails delivered by both replicas: {on_both:?}");
    let all: BTreeMap<i64, String> = mail_a.iter().chain(&mail_b).map(|(id, m)| (*id, m.clone())).collect();
    assert_eq!(all.keys().copied().collect::<BTreeSet<i64>>(), ids, "the emails delivered are the outbox's rows");
    for (id, message_id) in &all {
        assert!(message_id.starts_with(&format!("<outbox-{id}@")), "{id}.eml carries the Message-ID {message_id}");
    }
    let message_ids: BTreeSet<&String> = all.values().collect();
    assert_eq!(message_ids.len(), ids.len(), "each email has a Message-ID of its own");
    // Each replica counts what it marked sent: together, each row once.
    let marked: Vec<usize> = [&a, &b].iter().map(|s| sent_in_log(&s.log())).collect();
    assert_eq!(marked, [mail_a.len(), mail_b.len()], "what each replica says it sent is what it delivered");
    assert!(
        !mail_a.is_empty() && !mail_b.is_empty(),
        "one sender did all the work ({} and {}): the test did not make them overlap",
        mail_a.len(),
        mail_b.len()
    );
    eprintln!(
        "replicas: {} emails ({queued} queued by the test) sent in {:.2} s by two senders at once, {} by A and {} by B; \
         each delivered once, each row marked sent once",
        ids.len(),
        drain.as_secs_f64(),
        mail_a.len(),
        mail_b.len()
    );
    drop((a, b));
    test_db::drop_database(pool).await;
}

/// Two replicas on the database at `url`, started at the same moment with the same arguments.
fn replicas(url: &str, serve_args: &[&str]) -> (Served, Served) {
    replicas_with_env(url, serve_args, &[])
}

/// Each replica names its database sessions (`application_name`, as `pg_stat_activity` shows
/// it): `cuppa-replica-a` and `cuppa-replica-b`.
fn replicas_with_env(url: &str, serve_args: &[&str], env: &[(&str, &str)]) -> (Served, Served) {
    let separator = if url.contains('?') { '&' } else { '?' };
    let [url_a, url_b] = ["a", "b"].map(|name| format!("{url}{separator}application_name=cuppa-replica-{name}"));
    let options = |url| Options { database_url: Some(url), serve_args, env };
    let mut started = Served::start_together(vec![options(&url_a), options(&url_b)]).into_iter();
    let a = started.next().expect("replica A");
    let b = started.next().expect("replica B");
    (a, b)
}

/// Stops both replicas with SIGTERM and checks they exit cleanly: each finishes what its jobs
/// are doing first, so nothing is still writing when the test counts.
fn stop(mut a: Served, mut b: Served) -> (Served, Served) {
    a.signal("TERM");
    b.signal("TERM");
    for (name, served) in [("A", &mut a), ("B", &mut b)] {
        let status = served.wait_for_exit(WAIT_LIMIT).unwrap_or_else(|| panic!("replica {name} did not stop"));
        assert!(status.success(), "replica {name} exited with {status}:\n{}", served.output());
    }
    (a, b)
}

/// Checks `check` every few milliseconds until it holds or `limit` has passed; whether it held.
async fn poll_until<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if started.elapsed() >= limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn outputs(servers: &[&Served]) -> String {
    servers.iter().map(|s| s.output()).collect::<Vec<_>>().join("\n")
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("select count(*) from {table}")).fetch_one(pool).await.unwrap()
}

async fn unsent(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from outbox where sent_at is null and failed_at is null")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Sessions of this test's database waiting for a lock on `table` (`pg_locks` lists the whole
/// server's; a relation's id means something only in its own database).
async fn lock_waiters(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_locks
         where relation = $1::regclass and not granted
           and database = (select oid from pg_database where datname = current_database())",
    )
    .bind(table)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Replicas with a sender waiting for the outbox: sessions of either replica (told apart by
/// their application name) that wait for a lock on it, other than a job queueing an email. The
/// lock a sender waits for is its own business (`for update` to take a row, or a plain write
/// to mark it sent): any will do, so that a sender changed to take rows otherwise is still seen.
async fn replicas_with_a_waiting_sender(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "select count(distinct a.application_name) from pg_locks l
         join pg_stat_activity a on a.pid = l.pid
         where l.relation = 'outbox'::regclass and not l.granted
           and l.database = (select oid from pg_database where datname = current_database())
           and a.application_name like 'cuppa-replica-%'
           and a.query not ilike '%insert into outbox%'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Every admin presses "run the round" at once, on their replica, while `cuppa schedule` runs
/// beside them; gives the admins back, the message each was shown, and what the command said.
async fn run_everywhere(admins: Vec<Visitor>, url: &str) -> (Vec<Visitor>, Vec<String>, String) {
    let presses: Vec<_> = admins.into_iter().map(|admin| tokio::spawn(press_run(admin))).collect();
    let command = schedule(url).await;
    let mut admins = Vec::new();
    let mut shown = Vec::new();
    for press in presses {
        let (admin, flash) = press.await.expect("an admin's request finished");
        admins.push(admin);
        shown.push(flash);
    }
    (admins, shown, command)
}

/// Posts the admin page's "run the round" form and reads the message it leaves. The message is
/// read on the settings page: the scheduler's own page lists the rounds, which the round test
/// holds locked, and every page shows the flash.
async fn press_run(mut admin: Visitor) -> (Visitor, String) {
    let posted = admin.post("/admin/scheduler/run", &[]).await.expect("the replica answers");
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "the run form: {}", posted.body);
    let page = admin.get("/settings/profile").await.expect("the replica answers");
    assert_eq!(page.status, StatusCode::OK);
    let shown = flashes(&page.body).join(" | ");
    (admin, shown)
}

/// `cuppa schedule` against the database at `url`: what it printed. A command that has not
/// answered in `SCHEDULE_LIMIT` (a round that waits behind the test's lock, which a working
/// round lock never lets it reach) is stopped and says so.
async fn schedule(url: &str) -> String {
    let dir = crate::temp_dir("replicas-schedule");
    std::fs::create_dir_all(&dir).expect("a folder for the command");
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cuppa"))
        .args(["--database-url", url, "--data-dir"])
        .arg(dir.join("data"))
        .arg("schedule")
        .env_remove("DATABASE_URL")
        // Away from the checkout, whose `.env` the command would read.
        .current_dir(&dir)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(SCHEDULE_LIMIT, command).await;
    let _ = std::fs::remove_dir_all(&dir);
    let Ok(output) = output else { return format!("(no answer in {SCHEDULE_LIMIT:?})") };
    let output = output.expect("cuppa schedule runs");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "cuppa schedule failed: {printed}{}", String::from_utf8_lossy(&output.stderr));
    printed
}

/// The one round in the database, checked: each pair once, each member in at most one pair,
/// and each member of a pair told once.
struct Round {
    started_by: Option<i64>,
    pairs: i64,
    members: i64,
}

impl Round {
    async fn check(pool: &PgPool) -> Round {
        let rounds: Vec<(i64, Option<i64>, i32, i32)> =
            sqlx::query_as("select id, started_by, pairs_made, members_considered from scheduler_rounds")
                .fetch_all(pool)
                .await
                .unwrap();
        assert_eq!(rounds.len(), 1, "rounds written: {rounds:?}");
        let (id, started_by, pairs_made, considered) = rounds[0];
        assert!(pairs_made > 0, "the seeded community gives the round pairs to suggest");
        let pairs: Vec<(i64, i64, i64)> =
            sqlx::query_as("select round_id, a_id, b_id from suggestions").fetch_all(pool).await.unwrap();
        assert_eq!(pairs.len(), pairs_made as usize, "suggestions against the round's count");
        assert!(pairs.iter().all(|(round, ..)| *round == id), "every suggestion belongs to the round");
        let distinct: BTreeSet<(i64, i64)> = pairs.iter().map(|(_, a, b)| (*a.min(b), *a.max(b))).collect();
        assert_eq!(distinct.len(), pairs.len(), "a pair suggested twice");
        let members: Vec<i64> = pairs.iter().flat_map(|(_, a, b)| [*a, *b]).collect();
        let distinct_members: BTreeSet<i64> = members.iter().copied().collect();
        assert_eq!(distinct_members.len(), members.len(), "a member in two pairs of one round");
        let told: Vec<(i64, i64)> = sqlx::query_as(
            "select member_id, count(*) from notifications where kind = 'suggestion_made' group by member_id",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let told_members: BTreeSet<i64> = told.iter().map(|(member, _)| *member).collect();
        assert_eq!(told_members, distinct_members, "the members told are the members suggested");
        assert!(told.iter().all(|(_, n)| *n == 1), "a member was told of their suggestion twice: {told:?}");
        let mailed: Vec<(i64, i64)> = sqlx::query_as(
            "select member_id, count(*) from outbox where kind = 'suggestion_made'
             group by member_id having count(*) > 1",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        assert!(mailed.is_empty(), "members emailed their suggestion twice: {mailed:?}");
        Round { started_by, pairs: i64::from(pairs_made), members: i64::from(considered) }
    }
}

/// Queues emails through the store function every event uses, on one transaction as an event
/// does: `EMAILS_PER_MEMBER` to each member. Gives how many.
async fn queue_emails(pool: &PgPool) -> usize {
    let members: Vec<i64> =
        sqlx::query_scalar("select id from members where email_verified_at is not null").fetch_all(pool).await.unwrap();
    let notices: Vec<(i64, Notice)> = members
        .iter()
        .flat_map(|&member| (0..EMAILS_PER_MEMBER).map(move |n| (member, n)))
        .map(|(member, n)| {
            let text = format!("Replica test email {n} for member {member}");
            let notice = Notice {
                kind: Kind::MeetupAnnouncement,
                body: format!("{text}.\n\nSent by one replica of two, and once."),
                text,
                link: "/meetups".to_owned(),
                actor: None,
            };
            (member, notice)
        })
        .collect();
    let mut tx = pool.begin().await.unwrap();
    cuppa::notify::store::record_all(&mut tx, &notices).await.unwrap();
    tx.commit().await.unwrap();
    assert!(notices.len() >= 200, "queue a few hundred emails, not {}", notices.len());
    notices.len()
}

/// The emails in a replica's mail folder: each file's outbox id (its name, `<id>.eml`) and the
/// Message-ID inside it.
fn delivered(dir: &Path) -> BTreeMap<i64, String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return BTreeMap::new() };
    let mut mails = BTreeMap::new();
    for entry in entries {
        let path = entry.expect("a folder entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let id: i64 = name.strip_suffix(".eml").and_then(|id| id.parse().ok()).unwrap_or_else(|| {
            panic!("{} is not an email the sender writes", path.display());
        });
        let text = std::fs::read_to_string(&path).expect("an email file");
        let message_id = text
            .lines()
            .find_map(|line| line.strip_prefix("Message-ID: "))
            .unwrap_or_else(|| panic!("{name} has no Message-ID"))
            .trim()
            .to_owned();
        mails.insert(id, message_id);
    }
    mails
}

/// What a replica's sender says it sent: the sum of `sent=` over its "sent emails" lines.
fn sent_in_log(log: &str) -> usize {
    log.lines()
        .filter(|line| line.contains("sent emails"))
        .filter_map(|line| line.split_whitespace().find_map(|word| word.strip_prefix("sent=")))
        .map(|n| n.parse::<usize>().expect("a count"))
        .sum()
}

/// The flash messages a page shows.
fn flashes(html: &str) -> Vec<String> {
    let selector = Selector::parse("p.flash").expect("selector");
    Html::parse_document(html).select(&selector).map(|p| p.text().collect::<String>().trim().to_owned()).collect()
}

/// The value of a form's input `name`.
fn field_value(html: &str, name: &str) -> Option<String> {
    let selector = Selector::parse(&format!("input[name={name}]")).expect("selector");
    Html::parse_document(html).select(&selector).next().and_then(|input| input.value().attr("value").map(str::to_owned))
}

fn shows_log_out_button(html: &str) -> bool {
    let selector = Selector::parse("form[action=\"/logout\"]").expect("selector");
    Html::parse_document(html).select(&selector).next().is_some()
}
