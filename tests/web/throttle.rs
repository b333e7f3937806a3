//! The log-in and sign-up throttles, the client address behind a trusted proxy, and log-ins
//! coming before sign-ups for the hashing slot.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cuppa::AppState;
use cuppa::web::TrustedProxies;

use crate::support::{Client, PASSWORD, Page, next_addr, test_state};

async fn count(client: &Client, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&client.pool).await.expect("count query")
}

fn retry_after(page: &Page) -> i64 {
    page.headers["retry-after"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn five_failures_from_one_address_lock_that_address_out_of_the_account_but_not_its_owner() {
    let mut owner = Client::new().await;
    owner.sign_up("babbage").await;
    owner.log_out().await;

    // `another()` is someone else, from an address of their own.
    let mut guesser = owner.another();
    for _ in 0..5 {
        assert_eq!(guesser.log_in("babbage", "wrong password!").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let locked = guesser.log_in("babbage@example.com", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "even the right password, by email too");
    assert!(locked.text("main").contains("try again after"), "{}", locked.text("main"));
    assert!((800..=900).contains(&retry_after(&locked)), "retry after {}s", retry_after(&locked));

    // The owner signed up from their address, so it is known: the lock is not theirs.
    let page = owner.log_in("babbage", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    // Nor anyone else's: the lock is on that one address and account.
    assert_eq!(owner.another().log_in("babbage", PASSWORD).await.status, StatusCode::SEE_OTHER);
    // The owner's log-in forgave only their own address's failures: the guesser's still count.
    assert_eq!(guesser.log_in("babbage", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
    let guesses = format!("select count(*) from login_failures where client_addr = '{}'", guesser.addr.ip());
    assert_eq!(count(&owner, &guesses).await, 5, "refused attempts leave no row");

    // Once the failures are older than the window, the right password works again.
    sqlx::query("update login_failures set failed_at = failed_at - interval '16 minutes'")
        .execute(&owner.pool)
        .await
        .unwrap();
    assert_eq!(guesser.log_in("babbage", PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_name_that_is_nobodys_is_throttled_like_an_account() {
    let mut client = Client::new().await;
    client.sign_up("somebody").await;
    client.log_out().await;
    for account in ["somebody", "nobody_at_all"] {
        let mut guesser = client.another();
        for _ in 0..5 {
            assert_eq!(guesser.log_in(account, "wrong password!").await.status, StatusCode::UNPROCESSABLE_ENTITY);
        }
        let page = guesser.log_in(account, "wrong password!").await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{account}");
        assert!((800..=900).contains(&retry_after(&page)), "{account}");
    }
}

#[tokio::test]
async fn the_owner_passes_an_account_lock_set_from_many_addresses_that_holds_new_addresses_back() {
    let mut owner = Client::new().await;
    owner.sign_up("lovelace").await;
    let home = owner.addr;
    owner.log_out().await;

    // Fifty guesses from ten addresses, each under its own limit of five.
    let mut botnet = owner.another();
    for _ in 0..10 {
        botnet.addr = next_addr();
        for _ in 0..5 {
            assert_eq!(botnet.log_in("lovelace", "wrong password!").await.status, StatusCode::UNPROCESSABLE_ENTITY);
        }
    }
    // A new address is held back by the account's own limit, right password or not.
    let mut new_laptop = owner.another();
    let page = new_laptop.log_in("lovelace", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!((800..=900).contains(&retry_after(&page)));

    // The owner, at home, is not.
    assert_eq!(owner.log_in("lovelace", PASSWORD).await.status, StatusCode::SEE_OTHER);
    owner.log_out().await;
    let known: i64 = sqlx::query_scalar(
        "select count(*) from login_addresses a join members m on m.id = a.member_id
         where m.handle = 'lovelace' and a.client_addr = $1 and a.last_login_at > now() - interval '1 minute'",
    )
    .bind(home.ip().to_string())
    .fetch_one(&owner.pool)
    .await
    .unwrap();
    assert_eq!(known, 1, "the log-in renewed the known address");

    // An address is known for 30 days after its last log-in, no longer.
    sqlx::query("update login_addresses set last_login_at = now() - interval '31 days'")
        .execute(&owner.pool)
        .await
        .unwrap();
    assert_eq!(owner.log_in("lovelace", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn twenty_failures_from_one_address_lock_it_out_of_every_account_it_is_not_known_at() {
    let mut hopper = Client::new().await;
    hopper.sign_up("hopper").await;
    hopper.log_out().await;
    let mut turing = hopper.another();
    turing.sign_up("turing").await;
    turing.log_out().await;

    // Someone at Hopper's address (her office, say) guesses at twenty names.
    let mut colleague = hopper.another();
    colleague.addr = hopper.addr;
    for i in 0..20 {
        let page = colleague.log_in(&format!("guess{i}"), "wrong password!").await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let mut visitor = hopper.another();
    visitor.addr = hopper.addr;
    assert_eq!(visitor.log_in("turing", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(visitor.log_in("nobody_new", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);

    // Turing from his own address, and Hopper from hers (known to her account), get in.
    assert_eq!(turing.log_in("turing", PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(hopper.log_in("hopper", PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn attempts_sent_all_at_once_get_no_more_password_checks_than_the_limit() {
    use axum::extract::connect_info::MockConnectInfo;
    use tower::ServiceExt;
    let mut client = Client::new().await;
    client.sign_up("target").await;
    client.log_out().await;
    client.addr = next_addr();
    client.get("/login").await;
    // The visitor's CSRF cookie (a visitor has no session): the token belongs to it.
    let cookie = client.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ");
    let token = client.csrf.clone().unwrap();
    let requests = (0..30).map(|i| {
        let request = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie.clone())
            .body(Body::from(format!("csrf_token={token}&account=target&password=guess{i}")))
            .unwrap();
        client.router.clone().layer(MockConnectInfo(client.addr)).oneshot(request)
    });
    let mut running = tokio::task::JoinSet::new();
    for request in requests {
        running.spawn(request);
    }
    let mut statuses = Vec::new();
    while let Some(done) = running.join_next().await {
        statuses.push(done.unwrap().expect("infallible").status());
    }
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(checked <= 5, "{checked} passwords were checked: {statuses:?}");
    assert_eq!(checked + refused, 30);
    assert!(count(&client, "select count(*) from login_failures").await <= 5);
}

/// A Cuppa that believes `X-Forwarded-For` from 10.0.0.0/8, its proxies.
async fn behind_a_proxy() -> Client {
    let plain = Client::new().await;
    let router = cuppa::app(AppState {
        trusted_proxies: TrustedProxies::new(["10.0.0.0/8".parse().unwrap()]),
        ..test_state(plain.pool.clone())
    });
    Client::with_router(plain.pool.clone(), router)
}

/// Logs in from `peer` with `X-Forwarded-For: forwarded_for`.
async fn log_in_forwarded(client: &mut Client, peer: &str, forwarded_for: &str, password: &str) -> Page {
    client.addr = peer.parse::<SocketAddr>().unwrap();
    if client.csrf.is_none() {
        client.get("/login").await;
    }
    let token = client.csrf.clone().unwrap();
    let fields = [("csrf_token", token.as_str()), ("account", "grace"), ("password", password)];
    let request = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-for", forwarded_for)
        .body(Body::from(serde_urlencoded::to_string(fields).unwrap()))
        .unwrap();
    client.send(request).await
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_one_throttled() {
    let mut owner = behind_a_proxy().await;
    owner.sign_up("grace").await;
    owner.log_out().await;

    // Two people behind the same proxy, told apart by the address it forwards.
    let mut guesser = owner.another();
    for _ in 0..5 {
        let page = log_in_forwarded(&mut guesser, "10.0.0.1:40000", "203.0.113.7", "wrong password!").await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let page = log_in_forwarded(&mut guesser, "10.0.0.1:40000", "203.0.113.7", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    let mut neighbour = owner.another();
    // What the client wrote itself, left of the proxy's entry, does not matter.
    let page = log_in_forwarded(&mut neighbour, "10.0.0.1:40000", "203.0.113.7, 203.0.113.8", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "a neighbour behind the same proxy is not locked out");

    let by_address = |addr: &str| format!("select count(*) from login_failures where client_addr = '{addr}'");
    assert_eq!(count(&owner, &by_address("203.0.113.7")).await, 5);
    assert_eq!(count(&owner, &by_address("10.0.0.1")).await, 0, "the proxy itself is nobody");
    let known = "select count(*) from login_addresses where client_addr = '203.0.113.8'";
    assert_eq!(count(&owner, known).await, 1);
}

#[tokio::test]
async fn an_untrusted_peer_cannot_choose_its_address_with_x_forwarded_for() {
    let mut owner = behind_a_proxy().await;
    owner.sign_up("grace").await;
    owner.log_out().await;

    // A new made-up address with every guess: it is the peer that is counted.
    let mut guesser = owner.another();
    for i in 0..5 {
        let forwarded = format!("203.0.113.{}", 20 + i);
        let page = log_in_forwarded(&mut guesser, "198.51.100.9:40000", &forwarded, "wrong password!").await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let page = log_in_forwarded(&mut guesser, "198.51.100.9:40000", "203.0.113.99", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(count(&owner, "select count(*) from login_failures where client_addr = '198.51.100.9'").await, 5);
}

fn sign_up_fields(handle: &str) -> Vec<(&'static str, String)> {
    vec![
        ("email", format!("{handle}@example.com")),
        ("handle", handle.to_owned()),
        ("display_name", format!("{handle} in full")),
        ("password", PASSWORD.to_owned()),
    ]
}

async fn sign_up_from(base: &Client, addr: SocketAddr, handle: &str) -> Page {
    let mut visitor = base.another();
    visitor.addr = addr;
    let fields = sign_up_fields(handle);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    visitor.post("/signup", &fields).await
}

#[tokio::test]
async fn the_sixth_sign_up_in_an_hour_from_one_address_is_refused_with_the_form_kept() {
    let base = Client::new().await;
    let home = next_addr();
    for i in 0..5 {
        assert_eq!(sign_up_from(&base, home, &format!("early{i}")).await.status, StatusCode::SEE_OTHER);
    }
    // A form with a mistake is answered for what it is, before any counting.
    let mut visitor = base.another();
    visitor.addr = home;
    let bad = [("email", "not an address"), ("handle", "typo"), ("display_name", "Typo"), ("password", PASSWORD)];
    assert_eq!(visitor.post("/signup", &bad).await.status, StatusCode::UNPROCESSABLE_ENTITY);

    let page = sign_up_from(&base, home, "latecomer").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!((3000..=3600).contains(&retry_after(&page)), "retry after {}s", retry_after(&page));
    assert!(page.text("[role=alert]").contains("Too many accounts"), "{}", page.text("main"));
    assert_eq!(page.value("input[name=email]").as_deref(), Some("latecomer@example.com"));
    assert_eq!(page.value("input[name=handle]").as_deref(), Some("latecomer"));
    assert_eq!(page.value("input[name=display_name]").as_deref(), Some("latecomer in full"));
    assert_eq!(page.value("input[name=password]"), None, "the password is never sent back");
    assert!(!page.body.contains(PASSWORD));

    assert_eq!(count(&base, "select count(*) from members where handle = 'latecomer'").await, 0);
    assert_eq!(count(&base, "select count(*) from sign_up_attempts").await, 5, "the refused one left no row");
    // Somewhere else, the same person signs up at once; at home, an hour later.
    assert_eq!(sign_up_from(&base, next_addr(), "latecomer").await.status, StatusCode::SEE_OTHER);
    sqlx::query("update sign_up_attempts set attempted_at = attempted_at - interval '61 minutes'")
        .execute(&base.pool)
        .await
        .unwrap();
    assert_eq!(sign_up_from(&base, home, "home_again").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_ups_sent_all_at_once_from_one_address_make_at_most_five_accounts() {
    let base = Client::new().await;
    let home = next_addr();
    let mut running = tokio::task::JoinSet::new();
    for i in 0..10 {
        let base = base.another();
        running.spawn(async move { sign_up_from(&base, home, &format!("rush{i}")).await.status });
    }
    let mut statuses = Vec::new();
    while let Some(done) = running.join_next().await {
        statuses.push(done.unwrap());
    }
    // Each counts the others in flight, so a burst may be refused more than the limit asks
    // (they all withdraw, and the address can sign up again at once), never less.
    let made = statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(made <= 5, "{statuses:?}");
    assert_eq!(made + refused, 10, "{statuses:?}");
    assert_eq!(count(&base, "select count(*) from members").await, made as i64);
    assert_eq!(count(&base, "select count(*) from sign_up_attempts").await, made as i64);
}

#[tokio::test]
async fn stale_throttle_rows_are_pruned_by_the_housekeeping() {
    let mut client = Client::new().await;
    client.sign_up("tidy").await;
    client.log_out().await;
    client.log_in("tidy", "wrong password!").await;
    assert_eq!(client.log_in("tidy", PASSWORD).await.status, StatusCode::SEE_OTHER);
    client.another().log_in("tidy", "wrong password!").await;
    sqlx::raw_sql(
        "update login_addresses set last_login_at = now() - interval '31 days';
         update sign_up_attempts set attempted_at = now() - interval '61 minutes';
         update login_failures set failed_at = now() - interval '16 minutes';",
    )
    .execute(&client.pool)
    .await
    .unwrap();
    let removed = cuppa::auth::store::delete_stale_auth_rows(&client.pool).await.unwrap();
    assert!(removed >= 3, "{removed}");
    for table in ["login_addresses", "sign_up_attempts", "login_failures"] {
        assert_eq!(count(&client, &format!("select count(*) from {table}")).await, 0, "{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_log_in_stays_under_half_a_second_while_fifty_sign_ups_run() {
    let mut member = Client::new().await;
    member.sign_up("regular").await;
    member.log_out().await;
    // The same log-in with nothing else going on, for the failure message: on a machine busy
    // with other work, a log-in alone can take a good part of the half-second.
    member.get("/login").await;
    let started = Instant::now();
    assert_eq!(member.log_in("regular", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let alone = started.elapsed();
    member.log_out().await;
    member.get("/login").await;
    // Fifty people, each from an address of their own, with the sign-up form open.
    let mut crowd = Vec::new();
    for _ in 0..50 {
        let mut person = member.another();
        person.get("/signup").await;
        crowd.push(person);
    }
    let mut running = tokio::task::JoinSet::new();
    for (i, mut person) in crowd.into_iter().enumerate() {
        running.spawn(async move { person.sign_up(&format!("crowd{i}")).await });
    }
    // Each sign-up records its attempt just before it asks for a hash: once all fifty have,
    // all fifty are queued for the hashing slot or in it.
    while count(&member, "select count(*) from sign_up_attempts").await < 51 {
        tokio::task::yield_now().await;
    }

    let started = Instant::now();
    let page = member.log_in("regular", PASSWORD).await;
    let took = started.elapsed();
    let still_queued = 51 - count(&member, "select count(*) from members").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        took < Duration::from_millis(500),
        "the log-in took {took:?} behind {still_queued} sign-ups ({alone:?} alone)"
    );
    assert!(still_queued >= 25, "only {still_queued} sign-ups were still waiting: the test measured nothing");
    while let Some(done) = running.join_next().await {
        done.unwrap();
    }
    assert_eq!(count(&member, "select count(*) from members").await, 51);
}
