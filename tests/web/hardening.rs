//! Holes found by reading the code and trying it from outside (issue 12): the upload's token
//! kept out of URLs, log-in coming back to the page a form was on, a database that ends its
//! connections answering 503, and names that hide characters or turn text around.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cuppa::db::pool_options;
use sqlx::PgPool;

use crate::support::{Client, PASSWORD, PUBLIC_URL, Page, fresh_pool, test_state};

/// Ann and Bob, each logged in on a client of their own; Bob has an address elsewhere.
async fn ann_and_bob() -> (Client, Client) {
    let mut ann = Client::new().await;
    ann.sign_up("ann").await;
    let mut bob = ann.another();
    bob.sign_up("bob").await;
    let fields = [
        ("display_name", "Bob"),
        ("bio", ""),
        ("city", ""),
        ("time_zone", "UTC"),
        ("interests", ""),
        ("addresses", "bob@mastodon.social"),
    ];
    assert_eq!(bob.post("/settings/profile", &fields).await.status, StatusCode::SEE_OTHER);
    (ann, bob)
}

async fn follow_count(client: &Client) -> i64 {
    sqlx::query_scalar("select count(*) from follows").fetch_one(&client.pool).await.unwrap()
}

/// A multipart body of `fields` in order, and its content type.
fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let mut body = String::new();
    for (name, value) in fields {
        let file = if *name == "file" { "; filename=\"following_accounts.csv\"" } else { "" };
        body.push_str(&format!("--b\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n{value}\r\n"));
    }
    body.push_str("--b--\r\n");
    (body, "multipart/form-data; boundary=b".to_owned())
}

const FOLLOW_LIST: &str = "Account address,Show boosts\nbob@mastodon.social,true\n";

#[tokio::test]
async fn the_import_form_sends_its_token_in_the_body_and_a_token_in_the_url_is_refused() {
    let (mut ann, _bob) = ann_and_bob().await;
    let page = ann.get("/settings/import").await;
    assert_eq!(page.attrs("form[enctype]", "action"), ["/settings/import"], "no token in the action URL");
    let fields = page.attrs("form[enctype] input", "name");
    assert_eq!(fields.first().map(String::as_str), Some("csrf_token"), "the token is the first field: {fields:?}");
    let token = page.value("form[enctype] input[name=csrf_token]").unwrap();

    // The token only in the URL, as the form used to send it: refused like a forged form.
    let (body, content_type) = multipart(&[("file", FOLLOW_LIST)]);
    let in_url = Request::post(format!("/settings/import?csrf_token={token}"))
        .header(header::CONTENT_TYPE, &content_type)
        .body(Body::from(body))
        .unwrap();
    assert_eq!(ann.send(in_url).await.status, StatusCode::FORBIDDEN);
    // In the body but after the file: the check reads only the start of an upload.
    let (body, content_type) = multipart(&[("file", FOLLOW_LIST), ("csrf_token", &token)]);
    let late = Request::post("/settings/import").header(header::CONTENT_TYPE, &content_type).body(Body::from(body));
    assert_eq!(ann.send(late.unwrap()).await.status, StatusCode::FORBIDDEN);
    // Someone else's token in the body.
    let (body, content_type) = multipart(&[("csrf_token", &"ab".repeat(64)), ("file", FOLLOW_LIST)]);
    let forged = Request::post("/settings/import").header(header::CONTENT_TYPE, &content_type).body(Body::from(body));
    assert_eq!(ann.send(forged.unwrap()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(follow_count(&ann).await, 0);

    // First in the body, as the page sends it: imported.
    let (body, content_type) = multipart(&[("csrf_token", &token), ("file", FOLLOW_LIST)]);
    let sent = Request::post("/settings/import").header(header::CONTENT_TYPE, &content_type).body(Body::from(body));
    let done = ann.send(sent.unwrap()).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/settings/import");
    assert!(ann.get("/settings/import").await.text(".flash").contains("Followed now: 1."));
    assert_eq!(follow_count(&ann).await, 1);
}

#[tokio::test]
async fn a_large_upload_with_its_token_first_is_read_whole() {
    let (mut ann, _bob) = ann_and_bob().await;
    // Far longer than what the token check reads ahead, with Bob's address at the very end.
    let mut list = "Account address,Show boosts\n".to_owned();
    for n in 0..5_000 {
        list.push_str(&format!("someone{n}@example.social,true\n"));
    }
    list.push_str("bob@mastodon.social,true\n");
    let done = ann.upload("/settings/import", "following_accounts.csv", list.as_bytes()).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(ann.get("/settings/import").await.text(".flash").contains("Read 5001 accounts. Found on Cuppa: 1."));
}

/// A form post from the page at `referer` (none when `None`) with the client's current token.
async fn post_from(client: &mut Client, path: &str, referer: Option<&str>) -> Page {
    let token = client.get("/login").await.value("input[name=csrf_token]").unwrap();
    let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(referer) = referer {
        request = request.header(header::REFERER, referer);
    }
    client.send(request.body(Body::from(format!("csrf_token={token}"))).unwrap()).await
}

#[tokio::test]
async fn a_form_posted_after_the_session_ended_leads_back_to_its_page_after_log_in() {
    let (mut ann, _bob) = ann_and_bob().await;
    ann.log_out().await;

    let bounced = post_from(&mut ann, "/m/bob/follow", Some(&format!("{PUBLIC_URL}/m/bob?from=people"))).await;
    assert_eq!(bounced.status, StatusCode::SEE_OTHER);
    assert_eq!(bounced.location(), "/login?next=/m/bob%3Ffrom%3Dpeople", "back to the page, not to the form's target");
    let form = ann.get(bounced.location()).await;
    assert_eq!(form.value("input[name=next]").as_deref(), Some("/m/bob?from=people"));
    let next = form.value("input[name=next]").unwrap();
    let logged_in = ann.post("/login", &[("account", "ann"), ("password", PASSWORD), ("next", &next)]).await;
    assert_eq!(logged_in.location(), "/m/bob?from=people");
    assert_eq!(ann.get(logged_in.location()).await.status, StatusCode::OK);
    assert_eq!(follow_count(&ann).await, 0, "nothing was done on the member's behalf");

    // Without a Referer, or with one from another site, the member goes home after log-in.
    let mut anonymous = ann.another();
    assert_eq!(post_from(&mut anonymous, "/m/bob/follow", None).await.location(), "/login");
    let elsewhere = post_from(&mut anonymous, "/m/bob/follow", Some("https://evil.example/m/bob")).await;
    assert_eq!(elsewhere.location(), "/login");
    // A page is still come back to as it was asked for.
    assert_eq!(anonymous.get("/settings/privacy").await.location(), "/login?next=/settings/privacy");
}

/// Asks for `path` while `table` is locked and, once the request's query waits on the lock,
/// ends its connection as a server shutting down does ("terminating connection due to
/// administrator command", 57P01). Gives back the client and what it was answered.
async fn get_while_the_server_ends_the_connection(
    client: Client,
    admin: &PgPool,
    table: &str,
    path: &str,
) -> (Client, Page) {
    let mut holder = admin.begin().await.unwrap();
    sqlx::query(&format!("lock table {table} in access exclusive mode")).execute(&mut *holder).await.unwrap();
    let path = path.to_owned();
    let mut client = client;
    let request = tokio::spawn(async move {
        let page = client.get(&path).await;
        (client, page)
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid = loop {
        let waiting: Option<i32> = sqlx::query_scalar(
            "select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        )
        .fetch_optional(admin)
        .await
        .unwrap();
        if let Some(pid) = waiting {
            break pid;
        }
        assert!(!request.is_finished() && Instant::now() < deadline, "the request did not wait on {table}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let ended: bool = sqlx::query_scalar("select pg_terminate_backend($1)").bind(pid).fetch_one(admin).await.unwrap();
    assert!(ended);
    holder.rollback().await.unwrap();
    request.await.unwrap()
}

#[tokio::test]
async fn a_connection_the_server_ends_mid_query_gives_the_unavailable_page_not_a_500() {
    let admin = fresh_pool().await;
    let pool = pool_options().connect_with((*admin.connect_options()).clone()).await.unwrap();
    let router = cuppa::app(test_state(pool.clone()));
    let mut visitor = Client::with_router(pool.clone(), router);
    assert_eq!(visitor.get("/login").await.status, StatusCode::OK);
    // A visitor who is not logged in has no session to load: this one signs up for one.
    visitor.sign_up("bea").await;
    let mut member = visitor.another();
    member.sign_up("ann").await;

    // Loading the session (the session store's error) and a page's own query (the handler's).
    let (mut visitor, page) =
        get_while_the_server_ends_the_connection(visitor, &admin, "sessions", "/settings/profile").await;
    let (mut member, venues) = get_while_the_server_ends_the_connection(member, &admin, "venues", "/venues").await;
    for page in [page, venues] {
        assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(page.text("h1"), "Cuppa is briefly unavailable");
        assert!(!page.body.contains("57P01") && !page.body.contains("administrator"), "no internal detail leaks");
    }
    // The pool replaces the connection: the next pages are served again.
    assert_eq!(visitor.get("/settings/profile").await.status, StatusCode::OK);
    assert_eq!(member.get("/venues").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_display_name_with_invisible_or_direction_characters_is_refused_and_kept_in_the_form() {
    let (mut ann, _bob) = ann_and_bob().await;
    let profile = |name: &'static str, bio: &'static str| {
        [("display_name", name), ("bio", bio), ("city", "London"), ("time_zone", "UTC"), ("interests", "")]
    };
    for name in ["Ann\u{202E}nimda", "\u{200B}", "Ann\u{2066}"] {
        let page = ann.post("/settings/profile", &profile(name, "")).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        assert!(page.text("#display_name-error").contains("invisible or text-direction characters"), "{name:?}");
        assert_eq!(page.value("input[name=display_name]").as_deref(), Some(name), "what was typed is kept");
    }
    // A bio keeps its line breaks but no direction override.
    let page = ann.post("/settings/profile", &profile("Ann", "Hello\u{202E}olleH")).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text("#bio-error").contains("text-direction characters"));
    let name: String =
        sqlx::query_scalar("select display_name from members where handle = 'ann'").fetch_one(&ann.pool).await.unwrap();
    assert_eq!(name, "ann", "nothing was saved");

    let page = ann.post("/settings/profile", &profile("Ann Lee", "Line one,\nline two.")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let (name, bio): (String, String) = sqlx::query_as("select display_name, bio from members where handle = 'ann'")
        .fetch_one(&ann.pool)
        .await
        .unwrap();
    assert_eq!((name.as_str(), bio.as_str()), ("Ann Lee", "Line one,\nline two."));
}

#[tokio::test]
async fn a_venue_name_with_invisible_characters_is_refused_and_kept_in_the_form() {
    let (mut ann, _bob) = ann_and_bob().await;
    let proposal = |name: &'static str| {
        [("name", name), ("address", "12 Market Street"), ("city", "London"), ("time_zone", "Europe/London")]
    };
    assert_eq!(ann.post("/venues/new", &proposal("Corner Café")).await.status, StatusCode::SEE_OTHER);
    // The same name with a zero-width space would pass the one-name-per-city check unseen.
    let page = ann.post("/venues/new", &proposal("Corner\u{200B} Café")).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text("#name-error").contains("invisible or text-direction characters"));
    assert_eq!(page.value("input[name=name]").as_deref(), Some("Corner\u{200B} Café"));
    assert_eq!(page.value("input[name=address]").as_deref(), Some("12 Market Street"));
    let names: Vec<String> = sqlx::query_scalar("select name from venues").fetch_all(&ann.pool).await.unwrap();
    assert_eq!(names, ["Corner Café"]);
}
