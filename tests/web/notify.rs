//! Notifications: the list and its read marks, the count in the navigation, email settings,
//! and the outbox sender (to a mail folder, to an SMTP server on a loopback port, and to one
//! that is not there).

use std::path::PathBuf;

use axum::http::StatusCode;
use cuppa::notify::model::{Kind, MAX_ATTEMPTS, Notice};
use cuppa::notify::sender::{self, Batch, Mailer};
use cuppa::notify::store;
use sqlx::PgPool;

use crate::support::{Client, PUBLIC_URL, add_venue};

/// Tells `member` something, as an invitation would, in a transaction of its own.
async fn tell(pool: &PgPool, member: i64, kind: Kind, text: &str, link: &str) {
    let body = format!("{text}. Have a look.");
    let notice = Notice { kind, text: text.to_owned(), body, link: link.to_owned(), actor: None };
    let mut tx = pool.begin().await.unwrap();
    store::record(&mut tx, member, &notice).await.unwrap();
    tx.commit().await.unwrap();
}

async fn notification_ids(pool: &PgPool, member: i64) -> Vec<i64> {
    sqlx::query_scalar("select id from notifications where member_id = $1 order by id")
        .bind(member)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn outbox_count(pool: &PgPool, member: i64) -> i64 {
    sqlx::query_scalar("select count(*) from outbox where member_id = $1").bind(member).fetch_one(pool).await.unwrap()
}

/// A folder of this test's own under the temporary directory, empty.
fn mail_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cuppa-mail-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn eml_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn notifications_are_listed_newest_first_and_reading_one_opens_its_page() {
    let mut ada = Client::new().await;
    let ada_id = ada.sign_up("ada").await;
    tell(&ada.pool, ada_id, Kind::InvitationReceived, "Grace invites you to coffee", "/m/grace").await;
    tell(&ada.pool, ada_id, Kind::InvitationAccepted, "Alan accepted your coffee", "/m/alan").await;
    tell(&ada.pool, ada_id, Kind::DidYouMeet, "Did you meet Edsger?", "/m/edsger").await;
    let ids = notification_ids(&ada.pool, ada_id).await;

    let page = ada.get("/notifications").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.texts(".notification .notification-text"),
        ["New Did you meet Edsger?", "New Alan accepted your coffee", "New Grace invites you to coffee"]
    );
    assert_eq!(page.texts(".notification.unread").len(), 3);
    assert!(page.text(".notification .hint").contains("UTC"), "times name their zone");
    assert_eq!(page.text(".nav-notifications .badge-count"), "3 unread");

    // Following a notification marks it read and lands on its page.
    let opened = ada.post(&format!("/notifications/{}/read", ids[1]), &[]).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER);
    assert_eq!(opened.location(), "/m/alan");
    let page = ada.get("/notifications").await;
    assert_eq!(page.text(".nav-notifications .badge-count"), "2 unread");
    assert_eq!(page.texts(".notification.unread").len(), 2);
    let read: Vec<String> = page.texts(".notification:not(.unread) a.notification-text");
    assert_eq!(read, ["Alan accepted your coffee"]);
    // Reading it again changes nothing and still opens it.
    assert_eq!(ada.post(&format!("/notifications/{}/read", ids[1]), &[]).await.location(), "/m/alan");

    // Nobody else can read Ada's notifications, nor tell that they exist.
    let mut grace = ada.another();
    grace.sign_up("grace").await;
    assert_eq!(grace.post(&format!("/notifications/{}/read", ids[0]), &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(grace.post("/notifications/999999/read", &[]).await.status, StatusCode::NOT_FOUND);
    let unread: i64 = sqlx::query_scalar("select count(*) from notifications where read_at is null")
        .fetch_one(&ada.pool)
        .await
        .unwrap();
    assert_eq!(unread, 2);
    assert!(grace.get("/notifications").await.texts(".notification").is_empty());

    // Mark all as read.
    ada.get("/notifications").await;
    let done = ada.post("/notifications/read-all", &[]).await;
    assert_eq!(done.location(), "/notifications");
    let page = ada.get("/notifications").await;
    assert!(page.text(".flash").contains("Marked 2 notifications as read"));
    assert!(page.texts(".notification.unread").is_empty());
    assert_eq!(page.texts(".notification").len(), 3);
    assert!(page.texts(".nav-notifications .badge-count").is_empty());
    assert!(!page.body.contains("Mark all as read"), "nothing left to mark");
}

#[tokio::test]
async fn an_empty_inbox_says_so_and_logged_out_visitors_see_no_count() {
    let mut ada = Client::new().await;
    let mut anonymous = ada.another();
    assert_eq!(anonymous.get("/notifications").await.location(), "/login?next=/notifications");
    assert!(anonymous.get("/login").await.texts(".nav-notifications").is_empty());

    ada.sign_up("ada").await;
    let page = ada.get("/notifications").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text(".empty-state").contains("You are all caught up"));
    assert_eq!(page.text(".nav-notifications"), "Notifications");
    assert!(!page.body.contains("Mark all as read"));
}

#[tokio::test]
async fn notifications_come_in_pages_and_the_count_stops_at_99() {
    let mut ada = Client::new().await;
    let ada_id = ada.sign_up("ada").await;
    sqlx::query(
        "insert into notifications (member_id, kind, text, link)
         select $1, 'met_confirmed', 'Notice ' || n, '/' from generate_series(1, 130) as n",
    )
    .bind(ada_id)
    .execute(&ada.pool)
    .await
    .unwrap();

    let first = ada.get("/notifications").await;
    let texts = first.texts(".notification .notification-text");
    assert_eq!(texts.len(), 30);
    assert_eq!(texts[0], "New Notice 130");
    assert_eq!(first.text(".nav-notifications .badge-count"), "99+ unread");
    let older = first.attrs(".pager a", "href");
    let older = older.last().expect("a link to older notifications").clone();
    let mut seen = texts.len();
    let mut next = Some(older);
    let mut pages = 1;
    while let Some(path) = next {
        let page = ada.get(&path).await;
        let texts = page.texts(".notification .notification-text");
        assert!(!texts.is_empty());
        seen += texts.len();
        pages += 1;
        next = page.attrs(".pager a", "href").into_iter().find(|href| href.contains("before="));
    }
    assert_eq!((seen, pages), (130, 5));

    ada.post("/notifications/read-all", &[]).await;
    assert!(ada.get("/notifications").await.texts(".nav-notifications .badge-count").is_empty());
    assert!(ada.get("/notifications?before=1").await.text(".empty").contains("No older notifications"));
}

#[tokio::test]
async fn email_settings_are_saved_and_record_honours_them() {
    let mut ada = Client::new().await;
    let ada_id = ada.sign_up("ada").await;
    let page = ada.get("/settings/notifications").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.texts("input[type=checkbox]").len(), Kind::ALL.len());
    assert_eq!(page.texts("input[type=checkbox][checked]").len(), Kind::ALL.len(), "every email is on at first");
    assert!(page.text(".tabs a[aria-current=page]").contains("Emails"));

    // Keep only invitations received.
    let saved = ada.post("/settings/notifications", &[("invitation_received", "on")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), "/settings/notifications");
    let page = ada.get("/settings/notifications").await;
    assert!(page.text(".flash").contains("saved"));
    assert_eq!(page.value("input[type=checkbox][checked]").as_deref(), Some("on"));
    assert_eq!(page.attrs("input[type=checkbox][checked]", "name"), ["invitation_received"]);
    let opted_out = store::list_opt_outs(&ada.pool, ada_id).await.unwrap();
    assert_eq!(opted_out.len(), Kind::ALL.len() - 1);
    assert!(!opted_out.contains(&Kind::InvitationReceived));

    tell(&ada.pool, ada_id, Kind::DidYouMeet, "Did you meet Grace?", "/m/grace").await;
    assert_eq!(notification_ids(&ada.pool, ada_id).await.len(), 1, "the notification still appears");
    assert_eq!(outbox_count(&ada.pool, ada_id).await, 0, "but no email is queued");
    tell(&ada.pool, ada_id, Kind::InvitationReceived, "Grace invites you", "/m/grace").await;
    assert_eq!(outbox_count(&ada.pool, ada_id).await, 1);

    // Turning invitations off after one was queued does not unsend it: it goes as queued.
    ada.post("/settings/notifications", &[]).await;
    assert_eq!(store::list_opt_outs(&ada.pool, ada_id).await.unwrap().len(), Kind::ALL.len());
    assert!(ada.get("/settings/notifications").await.text(".flash").contains("will not email you"));
    let dir = mail_dir("opted-out-later");
    let mailer = Mailer::folder(&dir, "Cuppa <cuppa@localhost>", PUBLIC_URL).unwrap();
    assert_eq!(sender::send_due(&ada.pool, &mailer, 10).await.unwrap().sent, 1);
    assert_eq!(eml_files(&dir).len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();

    // And all back on.
    let all: Vec<(&str, &str)> = Kind::ALL.iter().map(|k| (k.value(), "on")).collect();
    ada.post("/settings/notifications", &all).await;
    assert!(store::list_opt_outs(&ada.pool, ada_id).await.unwrap().is_empty());
    tell(&ada.pool, ada_id, Kind::DidYouMeet, "Did you meet Alan?", "/m/alan").await;
    assert_eq!(outbox_count(&ada.pool, ada_id).await, 2);
}

#[tokio::test]
async fn two_senders_at_once_write_each_due_email_exactly_once() {
    let mut ada = Client::new().await;
    let ada_id = ada.sign_up("ada").await;
    for n in 0..40 {
        tell(&ada.pool, ada_id, Kind::InvitationReceived, &format!("Invitation {n}"), &format!("/n/{n}")).await;
    }
    let dir = mail_dir("two-senders");
    let mut senders = Vec::new();
    for _ in 0..2 {
        let pool = ada.pool.clone();
        let mailer = Mailer::folder(&dir, "Cuppa <cuppa@localhost>", PUBLIC_URL).unwrap();
        senders.push(tokio::spawn(async move {
            let mut total = Batch::default();
            // Small batches, so that the two take turns; stop when nothing is left to take.
            loop {
                let batch = sender::send_due(&pool, &mailer, 3).await.unwrap();
                if batch.taken == 0 {
                    return total;
                }
                total.taken += batch.taken;
                total.sent += batch.sent;
                total.retrying += batch.retrying;
                total.given_up += batch.given_up;
            }
        }));
    }
    let mut sent = 0;
    for sender in senders {
        let batch = sender.await.unwrap();
        assert_eq!((batch.retrying, batch.given_up), (0, 0), "{batch:?}");
        sent += batch.sent;
    }
    assert_eq!(sent, 40);

    let rows: Vec<(i64, bool, i32, Option<String>)> =
        sqlx::query_as("select id, sent_at is not null, attempts, last_error from outbox order by id")
            .fetch_all(&ada.pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 40);
    assert!(rows.iter().all(|(_, sent, attempts, error)| *sent && *attempts == 0 && error.is_none()), "{rows:?}");
    let mut expected: Vec<String> = rows.iter().map(|(id, ..)| format!("{id}.eml")).collect();
    expected.sort();
    assert_eq!(eml_files(&dir), expected);

    let first = rows[0].0;
    let eml = std::fs::read_to_string(dir.join(format!("{first}.eml"))).unwrap();
    assert!(eml.contains("To: ada@example.com"), "{eml}");
    assert!(eml.contains("From: Cuppa <cuppa@localhost>"), "{eml}");
    assert!(eml.contains("Subject: Invitation 0"), "{eml}");
    assert!(eml.contains(&format!("Message-ID: <outbox-{first}@cuppa.test>")), "{eml}");
    assert!(eml.contains("Auto-Submitted: auto-generated"), "{eml}");
    assert!(eml.contains("Content-Transfer-Encoding: 7bit"), "plain text, links intact: {eml}");
    assert!(eml.contains("Invitation 0. Have a look."), "{eml}");
    assert!(eml.contains("http://cuppa.test/n/0\r\n"), "{eml}");
    assert!(eml.contains("\r\nhttp://cuppa.test/settings/notifications\r\n"), "{eml}");

    // Nothing is left to send; and a mail that somehow came due again is refused, not repeated.
    let mailer = Mailer::folder(&dir, "Cuppa <cuppa@localhost>", PUBLIC_URL).unwrap();
    assert_eq!(sender::send_due(&ada.pool, &mailer, 50).await.unwrap().taken, 0);
    sqlx::query("update outbox set sent_at = null where id = $1").bind(first).execute(&ada.pool).await.unwrap();
    let again = sender::send_due(&ada.pool, &mailer, 50).await.unwrap();
    assert_eq!((again.sent, again.given_up), (0, 1));
    let error: String = sqlx::query_scalar("select last_error from outbox where id = $1")
        .bind(first)
        .fetch_one(&ada.pool)
        .await
        .unwrap();
    assert!(error.contains("already exists"), "{error}");
    assert_eq!(std::fs::read_to_string(dir.join(format!("{first}.eml"))).unwrap(), eml, "the first copy is kept");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_unreachable_smtp_server_means_a_later_retry_and_at_last_giving_up() {
    let mut ada = Client::new().await;
    let ada_id = ada.sign_up("ada").await;
    tell(&ada.pool, ada_id, Kind::InvitationReceived, "Grace invites you", "/m/grace").await;
    // Nothing listens on port 1 of the loopback address: the connection is refused at once.
    let mailer = Mailer::smtp("smtp://127.0.0.1:1", "Cuppa <cuppa@localhost>", PUBLIC_URL).unwrap();

    let batch = sender::send_due(&ada.pool, &mailer, 10).await.unwrap();
    assert_eq!(batch, Batch { taken: 1, sent: 0, retrying: 1, given_up: 0 });
    let (attempts, sent, failed, error, wait): (i32, bool, bool, Option<String>, f64) = sqlx::query_as(
        "select attempts, sent_at is not null, failed_at is not null, last_error,
                extract(epoch from next_attempt_at - now())::float8
         from outbox",
    )
    .fetch_one(&ada.pool)
    .await
    .unwrap();
    assert_eq!((attempts, sent, failed), (1, false, false));
    assert!(error.as_deref().is_some_and(|e| e.starts_with("SMTP")), "{error:?}");
    assert!((50.0..=60.0).contains(&wait), "the first retry is a minute away: {wait}");
    assert_eq!(sender::send_due(&ada.pool, &mailer, 10).await.unwrap().taken, 0, "not due yet");

    // The second failure waits twice as long.
    sqlx::query("update outbox set next_attempt_at = now()").execute(&ada.pool).await.unwrap();
    assert_eq!(sender::send_due(&ada.pool, &mailer, 10).await.unwrap().retrying, 1);
    let wait: f64 = sqlx::query_scalar("select extract(epoch from next_attempt_at - now())::float8 from outbox")
        .fetch_one(&ada.pool)
        .await
        .unwrap();
    assert!((110.0..=120.0).contains(&wait), "{wait}");

    // The last attempt fails too: the sender gives up and the email is never taken again.
    sqlx::query("update outbox set attempts = $1, next_attempt_at = now()")
        .bind(MAX_ATTEMPTS - 1)
        .execute(&ada.pool)
        .await
        .unwrap();
    let batch = sender::send_due(&ada.pool, &mailer, 10).await.unwrap();
    assert_eq!(batch, Batch { taken: 1, sent: 0, retrying: 0, given_up: 1 });
    let (attempts, sent, failed): (i32, bool, bool) =
        sqlx::query_as("select attempts, sent_at is not null, failed_at is not null from outbox")
            .fetch_one(&ada.pool)
            .await
            .unwrap();
    assert_eq!((attempts, sent, failed), (MAX_ATTEMPTS, false, true));
    sqlx::query("update outbox set next_attempt_at = now() - interval '1 day'").execute(&ada.pool).await.unwrap();
    assert_eq!(sender::send_due(&ada.pool, &mailer, 10).await.unwrap().taken, 0);
}

#[tokio::test]
async fn the_sender_loop_sends_and_stops_with_the_server() {
    let mut ada = Client::new().await;
    let ada_id = ada.sign_up("ada").await;
    tell(&ada.pool, ada_id, Kind::MetConfirmed, "You met Grace", "/m/grace").await;
    let dir = mail_dir("loop");
    let mailer = Mailer::folder(&dir, "Cuppa <cuppa@localhost>", PUBLIC_URL).unwrap();
    let (stop, shutdown) = cuppa::shutdown::Shutdown::new();
    let task = tokio::spawn(sender::run_sender(ada.pool.clone(), mailer, shutdown));
    // The first tick is immediate; wait for its batch to land, within a bound.
    let sent = async {
        loop {
            let sent: bool =
                sqlx::query_scalar("select sent_at is not null from outbox").fetch_one(&ada.pool).await.unwrap();
            if sent {
                break;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), sent).await.expect("the loop sends the email");
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), task).await.expect("the loop stops").unwrap();
    assert_eq!(eml_files(&dir).len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn emails_another_sender_holds_are_skipped_not_waited_for() {
    let mut ada = Client::new().await;
    let ada_id = ada.sign_up("ada").await;
    for n in 0..8 {
        tell(&ada.pool, ada_id, Kind::InvitationReceived, &format!("Invitation {n}"), "/").await;
    }
    let dir = mail_dir("skip-locked");
    let mailer = Mailer::folder(&dir, "Cuppa <cuppa@localhost>", PUBLIC_URL).unwrap();
    // Another sender, mid-batch, holds the three oldest.
    let mut other = ada.pool.begin().await.unwrap();
    let held = store::take_due_mail(&mut other, 3).await.unwrap();
    assert_eq!(held.len(), 3);
    let batch = sender::send_due(&ada.pool, &mailer, 50).await.unwrap();
    assert_eq!((batch.taken, batch.sent), (5, 5));
    // Its batch ends without sending them (say it crashed): they are due again, and go once.
    other.rollback().await.unwrap();
    assert_eq!(sender::send_due(&ada.pool, &mailer, 50).await.unwrap().sent, 3);
    assert_eq!(eml_files(&dir).len(), 8);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A minimal SMTP server on a loopback port that accepts every message and hands back the
/// DATA of each (enough of RFC 5321 for one client: greeting, EHLO, MAIL, RCPT, DATA, RSET,
/// NOOP, QUIT).
async fn smtp_sink() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (messages, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let messages = messages.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink.test ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-sink.test\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            write.write_all(b"354 go ahead\r\n").await.unwrap();
                            let mut data = Vec::new();
                            while let Ok(Some(line)) = lines.next_line().await {
                                if line == "." {
                                    break;
                                }
                                data.push(line);
                            }
                            messages.send(data.join("\n")).unwrap();
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            return;
                        }
                        _ => b"250 OK\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, received)
}

#[tokio::test]
async fn an_smtp_server_receives_each_due_email_once() {
    let mut ada = Client::new().await;
    let ada_id = ada.sign_up("ada").await;
    tell(&ada.pool, ada_id, Kind::InvitationReceived, "Grace invites you to coffee", "/invitations/7").await;
    let (port, mut received) = smtp_sink().await;
    let mailer = Mailer::smtp(&format!("smtp://127.0.0.1:{port}"), "Cuppa <cuppa@localhost>", PUBLIC_URL).unwrap();

    let batch = sender::send_due(&ada.pool, &mailer, 10).await.unwrap();
    assert_eq!(batch, Batch { taken: 1, sent: 1, retrying: 0, given_up: 0 });
    let message = received.recv().await.expect("the server got the email");
    assert!(message.contains("To: ada@example.com"), "{message}");
    assert!(message.contains("Subject: Grace invites you to coffee"), "{message}");
    assert!(message.contains(&format!("{PUBLIC_URL}/invitations/7")), "{message}");
    assert_eq!(sender::send_due(&ada.pool, &mailer, 10).await.unwrap().taken, 0, "sent once");
    assert!(received.try_recv().is_err());
}

/// `ada`, `bob` and `cyd` in London, each on their own client, and an approved café there.
async fn londoners() -> (Client, Client, Client, i64) {
    let mut ada = Client::new().await;
    ada.sign_up("ada").await;
    let mut bob = ada.another();
    bob.sign_up("bob").await;
    let mut cyd = ada.another();
    cyd.sign_up("cyd").await;
    sqlx::query("update members set city = 'London', time_zone = 'Europe/London'").execute(&ada.pool).await.unwrap();
    let venue = add_venue(&ada.pool, "Café Lumen", "London").await;
    (ada, bob, cyd, venue)
}

/// A `datetime-local` value `days` from now at 10:00, in London.
fn ten_o_clock_in(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .with_timezone(&chrono_tz::Europe::London)
        .format("%Y-%m-%dT10:00")
        .to_string()
}

/// `from` invites `handle` to coffee at `venue`; the invitation's page.
async fn invite(from: &mut Client, handle: &str, venue: i64) -> String {
    from.get(&format!("/m/{handle}/invite")).await;
    let (venue, time) = (venue.to_string(), ten_o_clock_in(3));
    let sent = from.post(&format!("/m/{handle}/invite"), &[("venue_id", &venue), ("time1", &time)]).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text(".field-error"));
    sent.location().to_owned()
}

/// The texts of a member's notifications page and their unread count in the navigation.
async fn inbox(client: &mut Client) -> (Vec<String>, String) {
    let page = client.get("/notifications").await;
    (page.texts(".notification-text"), page.text(".nav-notifications .badge-count"))
}

#[tokio::test]
async fn a_block_takes_away_the_blockers_notifications_that_name_the_blocked_member() {
    let (mut ada, mut bob, mut cyd, venue) = londoners().await;
    invite(&mut ada, "bob", venue).await;
    invite(&mut cyd, "bob", venue).await;
    let (texts, unread) = inbox(&mut bob).await;
    assert_eq!(texts, ["New cyd invites you to coffee at Café Lumen", "New ada invites you to coffee at Café Lumen"]);
    assert_eq!(unread, "2 unread");

    assert_eq!(bob.post("/m/ada/block", &[]).await.status, StatusCode::SEE_OTHER);
    let (texts, unread) = inbox(&mut bob).await;
    assert_eq!(texts, ["New cyd invites you to coffee at Café Lumen"], "only the other member's news is left");
    assert_eq!(unread, "1 unread");
}

#[tokio::test]
async fn a_block_takes_away_the_blocked_members_notifications_that_name_the_blocker() {
    let (mut ada, mut bob, _cyd, venue) = londoners().await;
    let invitation = invite(&mut ada, "bob", venue).await;
    bob.get(&invitation).await;
    let time = ten_o_clock_in(4);
    let countered = bob.post(&format!("{invitation}/counter"), &[("seen", "pending"), ("time1", &time)]).await;
    assert_eq!(countered.status, StatusCode::SEE_OTHER);
    let (texts, unread) = inbox(&mut ada).await;
    assert_eq!(texts, ["New bob proposed other times for coffee at Café Lumen"]);
    assert_eq!(unread, "1 unread");

    // Bob blocks Ada: Ada's news of Bob goes too (and Bob's of Ada), as if he had left.
    assert_eq!(bob.post("/m/ada/block", &[]).await.status, StatusCode::SEE_OTHER);
    let (texts, unread) = inbox(&mut ada).await;
    assert!(texts.is_empty(), "{texts:?}");
    assert_eq!(unread, "");
    assert!(inbox(&mut bob).await.0.is_empty());
    let naming: i64 = sqlx::query_scalar("select count(*) from notifications where actor_id is not null")
        .fetch_one(&ada.pool)
        .await
        .unwrap();
    assert_eq!(naming, 0);
}
