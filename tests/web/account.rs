//! Members' own account controls: confirming the email address (and no news by email until
//! then), changing the address and the password, and a forgotten password. Links are read out
//! of the emails in the outbox, as their readers would read them.

use axum::http::StatusCode;
use cuppa::auth::store::MAX_PAIR_FAILURES;
use cuppa::notify::model::{Kind, Notice, compose};
use cuppa::notify::store;
use sqlx::PgPool;

use crate::support::{Client, PASSWORD, PUBLIC_URL, Page, next_addr};

const NEW_PASSWORD: &str = "an even sturdier password";

/// Joins Cuppa through the form, from an address of their own, leaving the address
/// unconfirmed (unlike `Client::sign_up`).
async fn join(client: &mut Client, handle: &str, email: &str) -> Page {
    client.addr = next_addr();
    let page = client
        .post("/signup", &[("email", email), ("handle", handle), ("display_name", handle), ("password", PASSWORD)])
        .await;
    client.csrf = None;
    page
}

async fn member_id(pool: &PgPool, handle: &str) -> i64 {
    sqlx::query_scalar("select id from members where handle = $1").bind(handle).fetch_one(pool).await.unwrap()
}

async fn verified(pool: &PgPool, id: i64) -> bool {
    sqlx::query_scalar("select email_verified_at is not null from members where id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The emails queued to `to`, oldest first: (subject, the mail as sent).
async fn mail_to(pool: &PgPool, to: &str) -> Vec<(String, String)> {
    let rows: Vec<(i64, Kind, String, String, String)> = sqlx::query_as(
        "select id, kind, subject, body, link from outbox where lower(to_address) = lower($1) order by id",
    )
    .bind(to)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, kind, subject, body, link)| {
            let email = compose(id, kind, to, &subject, &body, &link, PUBLIC_URL);
            (email.subject, email.body)
        })
        .collect()
}

/// The path of the link starting with `prefix` in the latest email to `to`.
async fn link_in_latest(pool: &PgPool, to: &str, prefix: &str) -> String {
    let (subject, body) = mail_to(pool, to).await.pop().unwrap_or_else(|| panic!("no email to {to}"));
    body.lines()
        .find_map(|line| line.strip_prefix(PUBLIC_URL).filter(|path| path.starts_with(prefix)))
        .unwrap_or_else(|| panic!("no {prefix} link in {subject:?}: {body}"))
        .to_owned()
}

/// Something to tell `member` about, as any event does (and to every follower of `organiser`).
async fn tell(pool: &PgPool, member: i64, organiser: i64) {
    let notice = Notice {
        kind: Kind::MeetupInvited,
        text: "Grace invites you to a meetup".to_owned(),
        body: "Coffee on Saturday.".to_owned(),
        link: "/meetups".to_owned(),
        actor: Some(organiser),
    };
    let mut tx = pool.begin().await.unwrap();
    store::record(&mut tx, member, &notice).await.unwrap();
    store::record_for_followers(&mut tx, organiser, &notice).await.unwrap();
    tx.commit().await.unwrap();
}

async fn count(pool: &PgPool, sql: &str, id: i64) -> i64 {
    sqlx::query_scalar(sql).bind(id).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn a_new_member_gets_a_link_and_no_news_by_email_until_they_follow_it() {
    let mut ann = Client::new().await;
    let page = join(&mut ann, "ann", "ann@example.com").await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/settings/profile"));
    let ann_id = member_id(&ann.pool, "ann").await;
    assert!(!verified(&ann.pool, ann_id).await);

    let mails = mail_to(&ann.pool, "ann@example.com").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, "Confirm your email address for Cuppa");
    assert!(!mails[0].1.contains("/settings/notifications"), "an account email cannot be turned off");
    let banner = ann.get("/").await.text(".verify-banner");
    assert!(banner.contains("Until then Cuppa sends you no emails"), "{banner}");

    // Grace organises; Ann follows her. News reaches Ann in the app, not by email.
    let mut grace = ann.another();
    let grace_id = grace.sign_up("grace").await;
    ann.post("/m/grace/follow", &[]).await;
    tell(&ann.pool, ann_id, grace_id).await;
    assert_eq!(count(&ann.pool, "select count(*) from notifications where member_id = $1", ann_id).await, 2);
    assert_eq!(mail_to(&ann.pool, "ann@example.com").await.len(), 1, "only the link");
    let notifications = ann.get("/notifications").await;
    assert!(notifications.text("main").contains("Grace invites you to a meetup"));

    // Opening the link changes nothing (mail scanners open links); the button does.
    let link = link_in_latest(&ann.pool, "ann@example.com", "/verify-email/").await;
    let mut reader = ann.another();
    let confirm = reader.get(&link).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.text("main").contains("ann@example.com"));
    assert!(!verified(&ann.pool, ann_id).await);
    let done = ann.post(&link, &[]).await;
    assert_eq!((done.status, done.location()), (StatusCode::SEE_OTHER, "/settings/account"));
    assert!(verified(&ann.pool, ann_id).await);
    let account = ann.get("/settings/account").await;
    assert!(account.text(".flash").contains("ann@example.com is confirmed"));
    assert!(account.text(".verify-banner").is_empty(), "the banner is gone");

    tell(&ann.pool, ann_id, grace_id).await;
    let mails = mail_to(&ann.pool, "ann@example.com").await;
    assert_eq!(mails.len(), 3, "both kinds of news now come by email: {mails:?}");
    assert!(mails[1..].iter().all(|(subject, _)| subject == "Grace invites you to a meetup"));
}

#[tokio::test]
async fn a_used_an_expired_or_an_unknown_link_is_refused_with_a_way_to_a_new_one() {
    let mut ann = Client::new().await;
    join(&mut ann, "ann", "ann@example.com").await;
    let link = link_in_latest(&ann.pool, "ann@example.com", "/verify-email/").await;
    assert_eq!(ann.post(&link, &[]).await.status, StatusCode::SEE_OTHER);

    for again in [ann.get(&link).await, ann.post(&link, &[]).await] {
        assert_eq!(again.status, StatusCode::GONE);
        assert!(again.text("h1").contains("has been used"), "{}", again.text("h1"));
        assert_eq!(again.attrs("form[action='/settings/account/verify'] button", "type"), ["submit"]);
    }

    // A link of an unconfirmed address, expired: eight days old.
    let mut bob = ann.another();
    join(&mut bob, "bob", "bob@example.com").await;
    let bob_id = member_id(&bob.pool, "bob").await;
    let link = link_in_latest(&bob.pool, "bob@example.com", "/verify-email/").await;
    sqlx::query(
        "update account_tokens
         set created_at = created_at - interval '8 days', expires_at = expires_at - interval '8 days'
         where member_id = $1",
    )
    .bind(bob_id)
    .execute(&bob.pool)
    .await
    .unwrap();
    let mut stranger = bob.another();
    for expired in [stranger.get(&link).await, stranger.post(&link, &[]).await] {
        assert_eq!(expired.status, StatusCode::GONE);
        assert!(expired.text("h1").contains("expired"));
        assert!(expired.attrs("a.button", "href").contains(&"/login?next=/settings/account".to_owned()));
    }
    assert!(!verified(&bob.pool, bob_id).await);

    let unknown = stranger.get(&format!("/verify-email/{}", "ab".repeat(32))).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.text("h1").contains("do not know this link"));
    assert_eq!(stranger.get("/verify-email/not%00hex").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_link_is_sent_again_at_most_once_in_five_minutes() {
    let mut ann = Client::new().await;
    join(&mut ann, "ann", "ann@example.com").await;
    let ann_id = member_id(&ann.pool, "ann").await;
    let first = link_in_latest(&ann.pool, "ann@example.com", "/verify-email/").await;

    let soon = ann.post("/settings/account/verify", &[]).await;
    assert_eq!((soon.status, soon.location()), (StatusCode::SEE_OTHER, "/settings/account"));
    let told = ann.get("/settings/account").await.text(".flash-error");
    assert!(told.contains("you can ask for another from"), "{told}");
    assert_eq!(mail_to(&ann.pool, "ann@example.com").await.len(), 1);

    let six_minutes_ago =
        "update account_tokens set created_at = created_at - interval '6 minutes' where member_id = $1";
    sqlx::query(six_minutes_ago).bind(ann_id).execute(&ann.pool).await.unwrap();
    ann.post("/settings/account/verify", &[]).await;
    assert!(ann.get("/settings/account").await.text(".flash-success").contains("We have sent a new link"));
    assert_eq!(mail_to(&ann.pool, "ann@example.com").await.len(), 2);
    ann.post("/settings/account/verify", &[]).await;
    assert!(ann.get("/settings/account").await.text(".flash-error").contains("a short while ago"));
    assert_eq!(mail_to(&ann.pool, "ann@example.com").await.len(), 2, "no third email");

    // Only the newest link works.
    let newest = link_in_latest(&ann.pool, "ann@example.com", "/verify-email/").await;
    assert_ne!(first, newest);
    assert_eq!(ann.post(&first, &[]).await.status, StatusCode::GONE);
    assert_eq!(ann.post(&newest, &[]).await.status, StatusCode::SEE_OTHER);
    assert!(verified(&ann.pool, ann_id).await);
}

#[tokio::test]
async fn signing_up_with_a_taken_address_looks_like_any_sign_up_and_never_takes_the_address() {
    let mut ann = Client::new().await;
    let ann_id = ann.sign_up("ann").await;

    let mut fresh = ann.another();
    let fresh_answer = join(&mut fresh, "fresh", "fresh@example.com").await;
    let mut mallory = ann.another();
    let taken_answer = join(&mut mallory, "mallory", "ANN@example.com").await;
    assert_eq!(
        (taken_answer.status, taken_answer.location()),
        (fresh_answer.status, fresh_answer.location()),
        "the same answer for a taken address as for a new one"
    );
    let (fresh_page, taken_page) = (fresh.get("/settings/profile").await, mallory.get("/settings/profile").await);
    assert_eq!(taken_page.status, fresh_page.status);
    assert_eq!(taken_page.text(".flash"), fresh_page.text(".flash"));
    for page in [&taken_answer, &taken_page] {
        assert!(!page.body.contains("already exists"));
    }
    // Only a handle can be taken.
    let mut copycat = ann.another();
    let refused = join(&mut copycat, "ann", "another@example.com").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text("#handle-error").contains("taken"));
    assert!(refused.text("#email-error").is_empty());

    // The link goes to Ann's mailbox; following it cannot move her address to Mallory.
    let mallory_id = member_id(&ann.pool, "mallory").await;
    let link = link_in_latest(&ann.pool, "ann@example.com", "/verify-email/").await;
    let mut reader = ann.another();
    let refused = reader.post(&link, &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.text("h1").contains("belongs to another account"), "{}", refused.text("h1"));
    assert!(!verified(&ann.pool, mallory_id).await);
    assert!(verified(&ann.pool, ann_id).await);

    // Log-in and password reset by the address find Ann's account, not Mallory's.
    let mut again = ann.another();
    let logged_in = again.log_in("ann@example.com", PASSWORD).await;
    assert_eq!(logged_in.status, StatusCode::SEE_OTHER);
    assert!(again.get("/settings/account").await.text("main").contains("Confirmed"));
    let home = again.get("/").await;
    assert!(home.attrs("a[href^='/m/']", "href").contains(&"/m/ann".to_owned()));
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_keeps_this_one() {
    let mut ann = Client::new().await;
    let ann_id = ann.sign_up("ann").await;
    let mut phone = ann.another();
    assert_eq!(phone.log_in("ann", PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(phone.get("/settings/account").await.status, StatusCode::OK);

    let wrong = ann
        .post("/settings/account/password", &[("current_password", "not my password"), ("new_password", NEW_PASSWORD)])
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.text("#current_password-error"), "That is not your current password.");
    assert!(!wrong.body.contains(NEW_PASSWORD), "passwords are never shown back");
    let short =
        ann.post("/settings/account/password", &[("current_password", PASSWORD), ("new_password", "short")]).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.text("#new_password-error").contains("at least 10 characters"));
    assert_eq!(phone.get("/settings/account").await.status, StatusCode::OK, "nothing changed yet");

    let done =
        ann.post("/settings/account/password", &[("current_password", PASSWORD), ("new_password", NEW_PASSWORD)]).await;
    assert_eq!((done.status, done.location()), (StatusCode::SEE_OTHER, "/settings/account"));
    let page = ann.get("/settings/account").await;
    assert_eq!(page.status, StatusCode::OK, "this session goes on");
    assert!(page.text(".flash").contains("logged out everywhere else"));
    let gone = phone.get("/settings/account").await;
    assert!(gone.location().starts_with("/login"), "the other session has ended: {}", gone.location());
    assert_eq!(count(&ann.pool, "select count(*) from sessions where member_id = $1", ann_id).await, 1);

    let mails = mail_to(&ann.pool, "ann@example.com").await;
    assert_eq!(mails.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), ["Your Cuppa password was changed"]);
    let mut later = ann.another();
    assert_eq!(later.log_in("ann", PASSWORD).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(later.log_in("ann", NEW_PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled_as_log_ins_are() {
    let mut ann = Client::new().await;
    ann.sign_up("ann").await;
    for _ in 0..MAX_PAIR_FAILURES {
        let wrong = ann
            .post("/settings/account/password", &[("current_password", "a guess"), ("new_password", NEW_PASSWORD)])
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let locked = ann.post("/settings/account/email", &[("email", "ann@new.example"), ("password", PASSWORD)]).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(mail_to(&ann.pool, "ann@new.example").await.is_empty());
}

#[tokio::test]
async fn a_new_address_is_used_only_once_its_link_is_followed() {
    let mut ann = Client::new().await;
    let ann_id = ann.sign_up("ann").await;
    let wrong =
        ann.post("/settings/account/email", &[("email", "ann@new.example"), ("password", "not my password")]).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.text("#password-error"), "That is not your current password.");
    assert_eq!(wrong.value("input[name=email]").as_deref(), Some("ann@new.example"), "what was typed is kept");
    assert!(mail_to(&ann.pool, "ann@new.example").await.is_empty());

    let asked = ann.post("/settings/account/email", &[("email", "ann@new.example"), ("password", PASSWORD)]).await;
    assert_eq!((asked.status, asked.location()), (StatusCode::SEE_OTHER, "/settings/account"));
    let page = ann.get("/settings/account").await;
    assert!(page.text(".flash").contains("We have sent a link to ann@new.example"));
    assert!(page.text(".account-email").contains("ann@example.com"));
    assert!(page.text(".account-pending").contains("ann@new.example"));
    let email: String =
        sqlx::query_scalar("select email from members where id = $1").bind(ann_id).fetch_one(&ann.pool).await.unwrap();
    assert_eq!(email, "ann@example.com", "not changed before the link is followed");

    let link = link_in_latest(&ann.pool, "ann@new.example", "/verify-email/").await;
    assert_eq!(ann.post(&link, &[]).await.status, StatusCode::SEE_OTHER);
    let (email, verified): (String, bool) =
        sqlx::query_as("select email, email_verified_at is not null from members where id = $1")
            .bind(ann_id)
            .fetch_one(&ann.pool)
            .await
            .unwrap();
    assert_eq!((email.as_str(), verified), ("ann@new.example", true));
    let old = mail_to(&ann.pool, "ann@example.com").await;
    assert_eq!(old.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), ["Your Cuppa email address was changed"]);
    assert!(ann.get("/settings/account").await.text(".account-email").contains("ann@new.example"));
}

#[tokio::test]
async fn forgot_password_answers_alike_for_a_real_account_and_a_made_up_one() {
    let mut ann = Client::new().await;
    let ann_id = ann.sign_up("ann").await;
    ann.log_out().await;
    assert!(ann.get("/login").await.attrs("a", "href").contains(&"/password/forgot".to_owned()));

    let mut answers = Vec::new();
    for account in ["ann", "nobody_here", "ANN@example.com", "nobody@example.com"] {
        let mut visitor = ann.another();
        visitor.get("/password/forgot").await;
        let asked = visitor.post("/password/forgot", &[("account", account)]).await;
        let page = visitor.get(asked.location()).await;
        answers.push((asked.status, asked.location().to_owned(), page.status, page.text("main")));
    }
    assert!(answers[0].3.contains("If an account matches, we have sent a link"), "{}", answers[0].3);
    assert!(answers.iter().all(|answer| *answer == answers[0]), "{answers:#?}");

    // Only the real account was sent a link, and only once in five minutes.
    let mails = mail_to(&ann.pool, "ann@example.com").await;
    assert_eq!(mails.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), ["Reset your Cuppa password"]);
    assert_eq!(count(&ann.pool, "select count(*) from outbox where member_id is distinct from $1", ann_id).await, 0);
    assert_eq!(count(&ann.pool, "select count(*) from account_tokens where member_id = $1", ann_id).await, 1);

    let mut visitor = ann.another();
    let empty = visitor.post("/password/forgot", &[("account", "  ")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text("#account-error").contains("email address or the handle"));
}

#[tokio::test]
async fn a_reset_link_works_once_within_the_hour_and_ends_every_session() {
    let mut ann = Client::new().await;
    let ann_id = ann.sign_up("ann").await;
    let mut phone = ann.another();
    phone.log_in("ann", PASSWORD).await;
    // Someone has been guessing: the reset forgives it.
    sqlx::query("insert into login_failures (account, client_addr) values ($1, '192.0.2.9')")
        .bind(format!("member:{ann_id}"))
        .execute(&ann.pool)
        .await
        .unwrap();

    let mut visitor = ann.another();
    visitor.post("/password/forgot", &[("account", "ann")]).await;
    let link = link_in_latest(&ann.pool, "ann@example.com", "/password/reset/").await;
    let form = visitor.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(form.attrs("input[type=password]", "name"), ["password"]);
    let short = visitor.post(&link, &[("password", "short")]).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.text("#password-error").contains("at least 10 characters"));

    let done = visitor.post(&link, &[("password", NEW_PASSWORD)]).await;
    assert_eq!((done.status, done.location()), (StatusCode::SEE_OTHER, "/login"));
    assert!(visitor.get("/login").await.text(".flash").contains("Log in with the new one"));
    for client in [&mut ann, &mut phone] {
        assert!(client.get("/settings/account").await.location().starts_with("/login"), "every session has ended");
    }
    assert_eq!(count(&ann.pool, "select count(*) from sessions where member_id = $1", ann_id).await, 0);
    assert_eq!(
        count(&ann.pool, "select count(*) from login_failures where account = 'member:' || $1", ann_id).await,
        0
    );

    for again in [visitor.get(&link).await, visitor.post(&link, &[("password", "yet another password")]).await] {
        assert_eq!(again.status, StatusCode::GONE);
        assert!(again.attrs("a.button", "href").contains(&"/password/forgot".to_owned()));
    }
    assert_eq!(visitor.log_in("ann", NEW_PASSWORD).await.status, StatusCode::SEE_OTHER);
    visitor.log_out().await;

    // A link asked for an hour and a minute ago has expired.
    sqlx::query(
        "update account_tokens set created_at = created_at - interval '61 minutes',
                                   expires_at = expires_at - interval '61 minutes'
         where member_id = $1",
    )
    .bind(ann_id)
    .execute(&ann.pool)
    .await
    .unwrap();
    visitor.post("/password/forgot", &[("account", "ann")]).await;
    let late = link_in_latest(&ann.pool, "ann@example.com", "/password/reset/").await;
    assert_ne!(late, link);
    sqlx::query(
        "update account_tokens set created_at = created_at - interval '61 minutes',
                                   expires_at = expires_at - interval '61 minutes'
         where member_id = $1 and used_at is null",
    )
    .bind(ann_id)
    .execute(&ann.pool)
    .await
    .unwrap();
    for expired in [visitor.get(&late).await, visitor.post(&late, &[("password", "yet another password")]).await] {
        assert_eq!(expired.status, StatusCode::GONE);
        assert!(expired.text("h1").contains("expired"));
    }
    assert_eq!(visitor.log_in("ann", NEW_PASSWORD).await.status, StatusCode::SEE_OTHER, "the password stands");
}

#[tokio::test]
async fn a_typo_in_the_address_can_be_corrected_at_once_but_links_are_capped_per_address_and_hour() {
    let mut ann = Client::new().await;
    join(&mut ann, "ann", "ann@exmaple.com").await;
    ann.get("/settings/account").await;
    let corrected = ann.post("/settings/account/email", &[("email", "ann@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(corrected.status, StatusCode::SEE_OTHER, "a new address need not wait for the first link's 5 minutes");
    assert_eq!(mail_to(&ann.pool, "ann@example.com").await.len(), 1);

    let again = ann.post("/settings/account/email", &[("email", "ann@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS, "the same address waits 5 minutes");
    assert!(again.text(".field-error").contains("a short while ago"), "{}", again.text(".field-error"));
    assert_eq!(mail_to(&ann.pool, "ann@example.com").await.len(), 1);

    // Five links in the hour (the sign-up's and four changes), then the cap holds every address.
    for n in 1..=3 {
        let to = format!("ann{n}@example.com");
        let page = ann.post("/settings/account/email", &[("email", &to), ("password", PASSWORD)]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{to}");
    }
    let capped = ann.post("/settings/account/email", &[("email", "ann9@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(capped.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(mail_to(&ann.pool, "ann9@example.com").await.is_empty());
}
