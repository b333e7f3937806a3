//! Visitors who are not logged in write nothing (issue 15): looking at any page Cuppa shows
//! them leaves the `sessions` table as it was, however many times they look, and the forms on
//! those pages still work, and still refuse a post that did not come from them.

use std::collections::HashMap;

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use cuppa::AppState;
use cuppa::web::csrf::{COOKIE, SECURE_COOKIE};

use crate::support::{Client, PASSWORD, Page, add_venue, insert_meetup, test_state};

/// Form fields as `post_raw` takes them.
fn borrowed<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(name, value)| (*name, value.as_str())).collect()
}

async fn sessions(client: &Client) -> i64 {
    sqlx::query_scalar("select count(*) from sessions").fetch_one(&client.pool).await.expect("count sessions")
}

/// The names of the cookies a response sets.
fn cookies_set(page: &Page) -> Vec<String> {
    page.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split('=').next().map(str::to_owned))
        .collect()
}

/// What a page holds, as far as the CSRF cookie goes.
#[derive(Clone, Copy, Debug)]
enum Form {
    /// A form, with its token.
    WithToken,
    /// A page in the site's frame, with no form for a visitor.
    None,
    /// No page in the site's frame: a redirect, a feed, an error page.
    NoPage,
}

/// A site with a member, `olive`, and her public meetup; she is logged out again, so the
/// only session rows are the ones her sign-up and log-out left.
async fn site_with_a_public_meetup() -> (Client, i64) {
    let mut olive = Client::new().await;
    let id = olive.sign_up("olive").await;
    let venue = add_venue(&olive.pool, "Café Anonyme", "London").await;
    let meetup = insert_meetup(&olive.pool, id, venue, Utc::now() + Duration::days(3), "public").await;
    olive.log_out().await;
    (olive, meetup)
}

#[tokio::test]
async fn looking_at_pages_without_a_cookie_writes_no_session_even_twice() {
    let (site, meetup) = site_with_a_public_meetup().await;
    let before = sessions(&site).await;
    let public_meetup = format!("/meetups/{meetup}");
    // Every page a visitor can open, the members-only profile (a redirect to log in), a feed,
    // and the pages of a link that is wrong and of a path that is nothing. A page drawn in the
    // site's frame may set the visitor's CSRF cookie (a cookie, not a row); a redirect, a feed
    // or an error page sets nothing.
    let pages: [(&str, StatusCode, Form); 11] = [
        ("/", StatusCode::OK, Form::None),
        ("/login", StatusCode::OK, Form::WithToken),
        ("/login?next=/settings/privacy", StatusCode::OK, Form::WithToken),
        ("/signup", StatusCode::OK, Form::WithToken),
        ("/password/forgot", StatusCode::OK, Form::WithToken),
        ("/meetups", StatusCode::OK, Form::None),
        (&public_meetup, StatusCode::OK, Form::None),
        ("/m/olive", StatusCode::SEE_OTHER, Form::NoPage),
        ("/meetups.atom", StatusCode::OK, Form::NoPage),
        ("/password/reset/not-a-real-link", StatusCode::NOT_FOUND, Form::None),
        ("/no/such/page", StatusCode::NOT_FOUND, Form::NoPage),
    ];
    for (path, status, form) in pages {
        let mut visitor = site.another();
        let first = visitor.get(path).await;
        assert_eq!(first.status, status, "{path}: {}", first.text("main"));
        assert_eq!(sessions(&site).await, before, "the first look at {path} wrote a session");
        let set = cookies_set(&first);
        assert!(!set.contains(&"cuppa_session".to_owned()), "{path} set a session cookie: {set:?}");
        match form {
            // Its forms carry a token, which its cookie signs.
            Form::WithToken => {
                assert!(first.value("input[name=csrf_token]").is_some(), "{path} has no token");
                assert_eq!(set, [COOKIE], "{path}");
            }
            // The page's frame (`Layout`) makes a token for every page, so the cookie comes
            // with it even where no form needs one.
            Form::None => assert_eq!(set, [COOKIE], "{path}"),
            Form::NoPage => assert!(set.is_empty(), "{path} set {set:?}"),
        }

        let again = visitor.get(path).await;
        assert_eq!(again.status, status, "{path}");
        assert!(!again.has_set_cookie(), "{path} set a cookie the second time: {:?}", cookies_set(&again));
        assert_eq!(sessions(&site).await, before, "the second look at {path} wrote a session");
    }
}

#[tokio::test]
async fn a_visitor_signs_up_and_logs_in_through_the_forms_with_the_token_from_the_page() {
    let (site, _) = site_with_a_public_meetup().await;
    let before = sessions(&site).await;

    let mut newcomer = site.another();
    let form = newcomer.get("/signup").await;
    let token = form.value("input[name=csrf_token]").expect("the form's token");
    let fields = [
        ("csrf_token", token.as_str()),
        ("email", "nell@example.com"),
        ("handle", "nell"),
        ("display_name", "Nell"),
        ("password", PASSWORD),
    ];
    let done = newcomer.post_raw("/signup", &fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text(".field-error"));
    assert_eq!(sessions(&site).await, before + 1, "signing up starts the session");
    let welcome = newcomer.get(done.location()).await;
    assert!(welcome.text(".flash").contains("Welcome to Cuppa"), "{}", welcome.text("main"));

    let mut olive = site.another();
    let form = olive.get("/login").await;
    let token = form.value("input[name=csrf_token]").expect("the form's token");
    let fields = [("csrf_token", token.as_str()), ("account", "olive"), ("password", PASSWORD)];
    let done = olive.post_raw("/login", &fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(cookies_set(&done).contains(&"cuppa_session".to_owned()));
    assert_eq!(olive.get("/settings/profile").await.status, StatusCode::OK, "logged in");
    assert_eq!(sessions(&site).await, before + 2);
}

#[tokio::test]
async fn a_visitors_post_without_the_token_or_with_another_visitors_is_refused() {
    let (site, _) = site_with_a_public_meetup().await;
    let before = sessions(&site).await;
    let mut visitor = site.another();
    let token = visitor.get("/login").await.value("input[name=csrf_token]").unwrap();
    let mut other = site.another();
    let others_token = other.get("/login").await.value("input[name=csrf_token]").unwrap();
    let log_in =
        |token: &str| [("csrf_token", token.to_owned()), ("account", "olive".into()), ("password", PASSWORD.into())];
    let refused = |page: &Page| page.status == StatusCode::FORBIDDEN && page.body.contains("did not come from Cuppa");

    let without = visitor.post_raw("/login", &[("account", "olive"), ("password", PASSWORD)]).await;
    assert!(refused(&without), "no token: {}", without.status);
    let with_others = visitor.post_raw("/login", &borrowed(&log_in(&others_token))).await;
    assert!(refused(&with_others), "another visitor's token: {}", with_others.status);
    // The token without the cookie it belongs to: a page elsewhere that learnt a token cannot
    // make a browser with no cookie (or another one) send it.
    let fields = log_in(&token);
    let fields = borrowed(&fields);
    let mut cookieless = site.another();
    assert!(refused(&cookieless.post_raw("/login", &fields).await), "a token with no cookie");
    let mut forged = site.another();
    forged.cookies.insert(COOKIE.to_owned(), "ab".repeat(32));
    assert!(refused(&forged.post_raw("/login", &fields).await), "a token with a cookie Cuppa never set");
    // The visitor's cookie value alone (it could leak where a token does not) makes no token.
    let value = visitor.cookies[COOKIE].clone();
    let bare = [("csrf_token", value.as_str()), ("account", "olive"), ("password", PASSWORD)];
    assert!(refused(&visitor.post_raw("/login", &bare).await), "the cookie's value as the token");

    assert_eq!(sessions(&site).await, before, "refused posts write nothing");
    let failures: i64 = sqlx::query_scalar("select count(*) from login_failures").fetch_one(&site.pool).await.unwrap();
    assert_eq!(failures, 0, "refused before the password was looked at");

    let done = visitor.post_raw("/login", &fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "the visitor's own token works");
}

#[tokio::test]
async fn a_failed_log_in_shows_why_and_writes_no_session() {
    let (site, _) = site_with_a_public_meetup().await;
    let before = sessions(&site).await;
    let mut visitor = site.another();
    let failed = visitor.log_in("olive", "not her password").await;
    assert_eq!(failed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(failed.text(".form-error").contains("do not match"), "{}", failed.text("main"));
    assert_eq!(failed.value("input[name=account]").as_deref(), Some("olive"), "what was typed is kept");
    assert_eq!(sessions(&site).await, before);
    // The form that came back carries a token that works.
    assert_eq!(visitor.log_in("olive", PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_visitor_with_a_flash_but_no_member_still_posts_with_their_cookies_token() {
    let (site, _) = site_with_a_public_meetup().await;
    let mut visitor = site.another();
    visitor.get("/password/forgot").await;
    let asked = visitor.post("/password/forgot", &[("account", "olive")]).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER);
    // The message waits in a session (a post may write one), which holds no CSRF secret.
    assert!(visitor.session_cookie().is_some(), "the flash is kept in a session");
    let page = visitor.get(asked.location()).await;
    assert!(!page.text(".flash").is_empty(), "the flash is shown: {}", page.text("main"));
    visitor.get("/login").await;
    assert_eq!(visitor.log_in("olive", PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn two_servers_on_one_database_accept_each_others_visitor_tokens() {
    let (site, _) = site_with_a_public_meetup().await;
    // Each router reads the key on its own, as a second replica or a restarted server does.
    let other_server = cuppa::app(test_state(site.pool.clone()));
    let mut visitor = site.another();
    visitor.get("/login").await;
    let mut elsewhere = Client::with_router(site.pool.clone(), other_server);
    elsewhere.cookies = visitor.cookies.clone();
    elsewhere.csrf = visitor.csrf.clone();
    elsewhere.addr = visitor.addr;
    assert_eq!(elsewhere.log_in("olive", PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn over_https_the_visitors_cookie_is_host_only_secure_and_http_only() {
    let plain = Client::new().await;
    let router = cuppa::app(AppState { secure_cookies: true, ..test_state(plain.pool.clone()) });
    let mut visitor = Client::with_router(plain.pool.clone(), router);
    let page = visitor.get("/login").await;
    let set: Vec<&str> = page.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(set.len(), 1, "{set:?}");
    let cookie = set[0];
    assert!(cookie.starts_with(&format!("{SECURE_COOKIE}=")), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains("Domain") && !cookie.contains("Max-Age"), "{cookie}");
    assert_eq!(sessions(&visitor).await, 0);

    // The plain name is not read over https: a cookie planted under it signs nothing.
    let value = visitor.cookies.remove(SECURE_COOKIE).unwrap();
    let token = visitor.csrf.clone().unwrap();
    let mut planted = visitor.another();
    planted.cookies = HashMap::from([(COOKIE.to_owned(), value.clone())]);
    let fields = [("csrf_token", token.as_str()), ("account", "someone")];
    assert_eq!(planted.post_raw("/password/forgot", &fields).await.status, StatusCode::FORBIDDEN);
    planted.cookies = HashMap::from([(SECURE_COOKIE.to_owned(), value)]);
    assert_eq!(planted.post_raw("/password/forgot", &fields).await.status, StatusCode::SEE_OTHER);
}
