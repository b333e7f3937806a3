//! Sign-up, log-in, log-out, sessions, CSRF, suspension and the role extractors (the
//! throttles are in `throttle`).

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use cuppa::AppState;
use cuppa::auth::{Admin, CurrentMember, Organiser};
use cuppa::members::model::{Role, Status};
use cuppa::members::store;

use crate::support::{Client, PASSWORD, Page, test_state};

async fn count(client: &Client, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&client.pool).await.expect("count query")
}

#[tokio::test]
async fn a_member_posting_the_sign_up_form_from_an_old_tab_makes_no_second_account() {
    let mut client = Client::new().await;
    client.sign_up("ada").await;
    client.get("/").await;
    let page = client
        .post(
            "/signup",
            &[("email", "ada2@example.com"), ("handle", "ada_two"), ("display_name", "Ada"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/");
    assert_eq!(count(&client, "select count(*) from members").await, 1);
    assert!(client.get("/settings/account").await.body.contains("ada@example.com"), "still logged in as ada");
}

#[tokio::test]
async fn signing_up_creates_the_member_with_an_argon2id_hash_and_logs_them_in() {
    let mut client = Client::new().await;
    let form = client.get("/signup").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.texts("label").contains(&"Handle".to_owned()));

    let done = client
        .post(
            "/signup",
            &[
                ("email", "ada@example.com"),
                ("handle", "Ada_L"),
                ("display_name", "Ada Lovelace"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/settings/profile");

    let (handle, hash): (String, String) =
        sqlx::query_as("select handle, password_hash from members where email = 'ada@example.com'")
            .fetch_one(&client.pool)
            .await
            .unwrap();
    assert_eq!(handle, "Ada_L");
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");

    let settings = client.get("/settings/profile").await;
    assert_eq!(settings.status, StatusCode::OK);
    assert!(settings.text(".flash").contains("Welcome to Cuppa"));
    assert_eq!(settings.value("input[name=display_name]").as_deref(), Some("Ada Lovelace"));
}

#[tokio::test]
async fn a_taken_handle_is_refused_beside_the_field_whatever_its_case_and_a_taken_email_is_not_mentioned() {
    let mut first = Client::new().await;
    first.sign_up("ada").await;
    let mut second = first.another();
    let page = second
        .post(
            "/signup",
            &[("email", "ADA@example.com"), ("handle", "ADA"), ("display_name", "Another Ada"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Whether an address has an account is nobody's business (see tests/web/account.rs).
    assert_eq!(page.text("#email-error"), "");
    assert!(page.text("#handle-error").contains("taken"));
    assert_eq!(page.value("input[name=display_name]").as_deref(), Some("Another Ada"));
    assert_eq!(count(&first, "select count(*) from members").await, 1);
}

#[tokio::test]
async fn sign_up_errors_keep_what_was_typed_except_the_password() {
    let mut client = Client::new().await;
    let page = client
        .post(
            "/signup",
            &[("email", "not an email"), ("handle", "x"), ("display_name", "Grace"), ("password", "short")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["email", "handle", "password"] {
        assert!(!page.text(&format!("#{field}-error")).is_empty(), "no message beside {field}");
    }
    assert_eq!(page.value("input[name=email]").as_deref(), Some("not an email"));
    assert_eq!(page.value("input[name=handle]").as_deref(), Some("x"));
    assert_eq!(page.value("input[name=display_name]").as_deref(), Some("Grace"));
    assert_eq!(page.value("input[name=password]"), None);
    assert_eq!(count(&client, "select count(*) from members").await, 0);
}

#[tokio::test]
async fn logging_in_by_handle_or_email_gives_a_new_session_id() {
    let mut client = Client::new().await;
    client.sign_up("grace").await;
    client.log_out().await;
    // The session that carries the "logged out" message; the log-in form itself starts none.
    let before = client.session_cookie().expect("a session with the log-out message");
    client.get("/login").await;
    // As if someone had planted that id in this browser before it logs in.
    client.cookies.insert("cuppa_session".to_owned(), before.clone());

    let done = client.log_in("GRACE@example.com", PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let after = client.session_cookie().expect("still a session");
    assert_ne!(before, after, "the session id must change at log-in");
    assert_eq!(client.get("/settings/profile").await.status, StatusCode::OK);

    client.log_out().await;
    assert_eq!(client.log_in("@grace", PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn log_in_returns_to_the_page_asked_for_but_never_to_another_site() {
    let mut client = Client::new().await;
    client.sign_up("hopper").await;
    client.log_out().await;
    let bounced = client.get("/settings/privacy").await;
    assert_eq!(bounced.status, StatusCode::SEE_OTHER);
    assert_eq!(bounced.location(), "/login?next=/settings/privacy");
    let form = client.get(bounced.location()).await;
    assert_eq!(form.value("input[name=next]").as_deref(), Some("/settings/privacy"));
    let done =
        client.post("/login", &[("account", "hopper"), ("password", PASSWORD), ("next", "/settings/privacy")]).await;
    assert_eq!(done.location(), "/settings/privacy");

    client.log_out().await;
    let done =
        client.post("/login", &[("account", "hopper"), ("password", PASSWORD), ("next", "//evil.example/")]).await;
    assert_eq!(done.location(), "/");
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_logs_nobody_in() {
    let mut client = Client::new().await;
    client.sign_up("turing").await;
    client.log_out().await;
    let page = client.log_in("turing", "not the password").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text(".form-error").contains("do not match"));
    assert_eq!(page.value("input[name=account]").as_deref(), Some("turing"));
    assert_eq!(client.get("/settings/profile").await.status, StatusCode::SEE_OTHER);
    assert_eq!(count(&client, "select count(*) from login_failures").await, 1);

    let unknown = client.log_in("nobody_here", PASSWORD).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.text(".form-error"), page.text(".form-error"), "unknown accounts get the same answer");
}

#[tokio::test]
async fn logging_out_deletes_the_session_on_the_server() {
    let mut client = Client::new().await;
    client.sign_up("lamarr").await;
    let stolen = client.session_cookie().unwrap();
    let exists =
        |id: String| sqlx::query_scalar::<_, bool>("select exists (select from sessions where id = $1)").bind(id);
    assert!(exists(stolen.clone()).fetch_one(&client.pool).await.unwrap());

    let done = client.log_out().await;
    assert_eq!(done.location(), "/");
    assert!(!exists(stolen.clone()).fetch_one(&client.pool).await.unwrap());
    let landing = client.get("/").await;
    assert!(landing.text(".flash").contains("logged out"));

    let mut thief = client.another();
    thief.cookies.insert("cuppa_session".into(), stolen);
    assert_eq!(thief.get("/settings/profile").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn viewing_pages_does_not_write_the_session_back() {
    let mut client = Client::new().await;
    client.sign_up("noether").await;
    client.get("/settings/profile").await; // takes the welcome flash: a write
    let before: serde_json::Value =
        sqlx::query_scalar("select data from sessions").fetch_one(&client.pool).await.unwrap();
    for path in ["/", "/settings/profile", "/m/noether", "/settings/privacy"] {
        let page = client.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.has_set_cookie(), "{path} wrote the session");
    }
    let after: serde_json::Value =
        sqlx::query_scalar("select data from sessions").fetch_one(&client.pool).await.unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_post_without_a_valid_csrf_token_is_403_and_changes_nothing() {
    let mut client = Client::new().await;
    let id = client.sign_up("hamilton").await;
    let fields = [("display_name", "Changed"), ("bio", ""), ("city", ""), ("time_zone", "UTC"), ("interests", "")];

    let missing = client.post_raw("/settings/profile", &fields).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.text("h1").contains("Not allowed"));
    let mut forged = vec![("csrf_token", "0000")];
    forged.extend_from_slice(&fields);
    assert_eq!(client.post_raw("/settings/profile", &forged).await.status, StatusCode::FORBIDDEN);
    assert_eq!(client.post_raw("/logout", &[]).await.status, StatusCode::FORBIDDEN);

    let name: String = sqlx::query_scalar("select display_name from members where id = $1")
        .bind(id)
        .fetch_one(&client.pool)
        .await
        .unwrap();
    assert_eq!(name, "hamilton");
    assert_eq!(client.get("/settings/profile").await.status, StatusCode::OK, "still logged in");
    // A stranger with no session at all is refused too, before anything is read.
    let mut stranger = client.another();
    let signup = [("email", "x@example.com"), ("handle", "xavier"), ("display_name", "X"), ("password", PASSWORD)];
    assert_eq!(stranger.post_raw("/signup", &signup).await.status, StatusCode::FORBIDDEN);
    assert_eq!(count(&client, "select count(*) from members").await, 1);
}

#[tokio::test]
async fn a_suspended_member_is_logged_out_at_their_next_request_and_cannot_log_in() {
    let mut client = Client::new().await;
    client.sign_up("mallory").await;
    assert_eq!(client.get("/settings/profile").await.status, StatusCode::OK);

    assert!(store::update_status(&client.pool, "mallory", Status::Suspended).await.unwrap());
    let bounced = client.get("/settings/profile").await;
    assert_eq!(bounced.status, StatusCode::SEE_OTHER);
    assert!(bounced.location().starts_with("/login"));
    let login = client.get(bounced.location()).await;
    assert!(login.text(".flash").contains("suspended"), "{}", login.text("main"));
    assert_eq!(count(&client, "select count(*) from sessions where data ? 'member_id'").await, 0);

    let refused = client.log_in("mallory", PASSWORD).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.text(".form-error").contains("suspended"));
    assert_eq!(client.get("/settings/profile").await.status, StatusCode::SEE_OTHER);
}

/// Probe routes behind the real layers, one per extractor.
fn probe_router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/probe/member", get(|CurrentMember(m): CurrentMember| async move { m.handle }))
        .route("/probe/organiser", get(|Organiser(m): Organiser| async move { m.handle }))
        .route("/probe/admin", get(|Admin(m): Admin| async move { m.handle }));
    cuppa::with_layers(routes, state)
}

#[tokio::test]
async fn role_extractors_read_the_role_afresh_on_every_request() {
    let mut client = Client::new().await;
    client.sign_up("root_user").await;
    let mut probe = Client::with_router(client.pool.clone(), probe_router(test_state(client.pool.clone())));
    probe.cookies = client.cookies.clone();

    assert_eq!(probe.get("/probe/member").await.status, StatusCode::OK);
    assert_eq!(probe.get("/probe/organiser").await.status, StatusCode::FORBIDDEN);
    assert_eq!(probe.get("/probe/admin").await.status, StatusCode::FORBIDDEN);

    store::update_role(&client.pool, "root_user", Role::Organiser).await.unwrap();
    assert_eq!(probe.get("/probe/organiser").await.status, StatusCode::OK);
    assert_eq!(probe.get("/probe/admin").await.status, StatusCode::FORBIDDEN);

    store::update_role(&client.pool, "root_user", Role::Admin).await.unwrap();
    assert_eq!(probe.get("/probe/admin").await.status, StatusCode::OK);
    assert_eq!(probe.get("/probe/organiser").await.status, StatusCode::OK, "admins organise too");

    store::update_status(&client.pool, "root_user", Status::Suspended).await.unwrap();
    assert_eq!(probe.get("/probe/admin").await.status, StatusCode::SEE_OTHER);

    let mut anonymous = probe.another();
    assert_eq!(anonymous.get("/probe/member").await.location(), "/login?next=/probe/member");
}

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_and_secure_when_configured() {
    // A visitor has no session until they post (see `anonymous`): sign up to get one.
    async fn session_cookie_of_a_sign_up(client: &mut Client, handle: &str) -> (String, Page) {
        let email = format!("{handle}@example.com");
        let fields = [("email", email.as_str()), ("handle", handle), ("display_name", handle), ("password", PASSWORD)];
        let page = client.post("/signup", &fields).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        let cookie = page.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned());
        let cookie = cookie.filter(|c| c.starts_with("cuppa_session=")).collect::<Vec<_>>().join("");
        (cookie, page)
    }
    let plain = Client::new().await;
    let mut client = plain.another();
    let (cookie, _) = session_cookie_of_a_sign_up(&mut client, "plain_visitor").await;
    assert!(
        cookie.starts_with("cuppa_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "{cookie}");

    let router = cuppa::app(AppState { secure_cookies: true, ..test_state(plain.pool.clone()) });
    let mut https = Client::with_router(plain.pool.clone(), router);
    let (cookie, page) = session_cookie_of_a_sign_up(&mut https, "https_visitor").await;
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly"), "{cookie}");
    assert_eq!(page.headers["strict-transport-security"], "max-age=31536000");
    assert!(!client.get("/login").await.headers.contains_key("strict-transport-security"), "no HSTS over http");
}

#[tokio::test]
async fn a_csrf_token_from_before_log_in_does_not_work_after_it() {
    let mut client = Client::new().await;
    client.sign_up("careful").await;
    client.log_out().await;
    client.get("/login").await;
    let planted = client.csrf.clone().unwrap();
    assert_eq!(client.log_in("careful", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let fields = [("csrf_token", planted.as_str()), ("invite_policy", "nobody")];
    assert_eq!(client.post_raw("/settings/privacy", &fields).await.status, StatusCode::FORBIDDEN);
    assert_eq!(client.post("/settings/privacy", &[("invite_policy", "nobody")]).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn control_characters_in_an_account_or_a_handle_are_answered_not_crashed_on() {
    let mut client = Client::new().await;
    client.sign_up("plain").await;
    assert_eq!(client.get("/m/pl%00ain").await.status, StatusCode::NOT_FOUND);
    assert_eq!(client.get("/m/pl%00ain/followers").await.status, StatusCode::NOT_FOUND);
    assert_eq!(client.post("/m/pl%00ain/follow", &[]).await.status, StatusCode::NOT_FOUND);
    client.log_out().await;
    let page = client.log_in("pl\0ain", PASSWORD).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text(".form-error").contains("do not match"));
}
