//! The test harness: a fresh database for every test (see `tests/common/db.rs`), driven
//! through the real router with a client that keeps cookies and the CSRF token.

use std::cell::Cell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::{DateTime, Utc};
use cuppa::AppState;
use http_body_util::BodyExt;
use scraper::{Html, Selector};
use sqlx::PgPool;
use tower::ServiceExt;
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, span};

pub use crate::test_db::{copy_of, database_url, drop_database, fresh_pool};

pub const PASSWORD: &str = "a sturdy test password";
/// Where the tests' Cuppa says it is served (calendar and email links start with it).
pub const PUBLIC_URL: &str = "http://cuppa.test";

static NEXT_ADDR: AtomicUsize = AtomicUsize::new(1);

/// A loopback address no other visitor in this test run has: each person in a test signs up
/// and logs in from a machine of their own, as people do, so per-address throttles see them
/// apart.
pub fn next_addr() -> SocketAddr {
    let n = NEXT_ADDR.fetch_add(1, Ordering::SeqCst);
    SocketAddr::from(([127, (n >> 16) as u8, (n >> 8) as u8, n as u8], 40000))
}

/// A server on a free loopback port around `router`, and the means to stop it.
pub async fn spawn_server(
    router: Router,
    header_timeout: Duration,
) -> (SocketAddr, tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free loopback port");
    let addr = listener.local_addr().expect("the bound address");
    let (stop, shutdown) = cuppa::shutdown::Shutdown::new();
    let task = tokio::spawn(cuppa::server::serve_router(listener, router, header_timeout, shutdown));
    (addr, stop, task)
}

/// A page or redirect as the client saw it.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The text of every element matching `selector`, whitespace collapsed.
    pub fn texts(&self, selector: &str) -> Vec<String> {
        self.texts_joined(selector, " ")
    }

    /// The text of every element matching `selector` as a browser runs it together: its text
    /// nodes joined as they are, whitespace collapsed. `texts` puts a space between them, which
    /// reads "London , you" where a name in a `<bdi>` meets the comma after it.
    pub fn inline_texts(&self, selector: &str) -> Vec<String> {
        self.texts_joined(selector, "")
    }

    fn texts_joined(&self, selector: &str, between: &str) -> Vec<String> {
        let html = Html::parse_document(&self.body);
        let selector = Selector::parse(selector).expect("valid selector");
        html.select(&selector)
            .map(|e| e.text().collect::<Vec<_>>().join(between).split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    pub fn text(&self, selector: &str) -> String {
        self.texts(selector).join(" | ")
    }

    /// The `value` attribute of the first element matching `selector`.
    pub fn value(&self, selector: &str) -> Option<String> {
        let html = Html::parse_document(&self.body);
        let selector = Selector::parse(selector).expect("valid selector");
        html.select(&selector).next().and_then(|e| e.value().attr("value")).map(str::to_owned)
    }

    /// The `attr` attribute of every element matching `selector` that has one.
    pub fn attrs(&self, selector: &str, attr: &str) -> Vec<String> {
        let html = Html::parse_document(&self.body);
        let selector = Selector::parse(selector).expect("valid selector");
        html.select(&selector).filter_map(|e| e.value().attr(attr)).map(str::to_owned).collect()
    }

    pub fn has_set_cookie(&self) -> bool {
        self.headers.contains_key(header::SET_COOKIE)
    }
}

/// The state of the tests' Cuppa over `pool`: plain http, no trusted proxies, the scheduler's
/// defaults. A test that needs another setting changes that one field.
pub fn test_state(pool: PgPool) -> AppState {
    AppState {
        pool,
        secure_cookies: false,
        public_url: PUBLIC_URL.to_owned(),
        scheduler: Default::default(),
        trusted_proxies: Default::default(),
    }
}

/// A browser of one: the real router, a cookie jar and the last CSRF token seen.
pub struct Client {
    pub pool: PgPool,
    pub router: Router,
    pub cookies: HashMap<String, String>,
    pub csrf: Option<String>,
    pub addr: SocketAddr,
}

impl Client {
    pub async fn new() -> Client {
        let pool = fresh_pool().await;
        let router = cuppa::app(test_state(pool.clone()));
        Client::with_router(pool, router)
    }

    pub fn with_router(pool: PgPool, router: Router) -> Client {
        Client { pool, router, cookies: HashMap::new(), csrf: None, addr: next_addr() }
    }

    /// Another visitor of the same site, with empty cookies.
    pub fn another(&self) -> Client {
        Client::with_router(self.pool.clone(), self.router.clone())
    }

    pub fn session_cookie(&self) -> Option<String> {
        self.cookies.get("cuppa_session").cloned()
    }

    pub async fn send(&mut self, request: Request<Body>) -> Page {
        let mut request = request;
        if !self.cookies.is_empty() {
            let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            request.headers_mut().insert(header::COOKIE, cookie.parse().expect("cookie header"));
        }
        let response =
            self.router.clone().layer(MockConnectInfo(self.addr)).oneshot(request).await.expect("infallible router");
        let status = response.status();
        let headers = response.headers().clone();
        for set in headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().expect("ascii cookie");
            let pair = set.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || set.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let page = Page { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() };
        if let Some(token) = page.value("input[name=csrf_token]") {
            self.csrf = Some(token);
        }
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path).body(Body::empty()).expect("request")).await
    }

    /// Posts a form with the CSRF token of the last page seen (fetching a page first if none).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        if self.csrf.is_none() {
            let page = self.get("/login").await;
            if page.status == StatusCode::SEE_OTHER {
                self.get("/settings/profile").await;
            }
        }
        let token = self.csrf.clone().expect("a page with a form gives a token");
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts exactly these fields, with no token added.
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).expect("encodable form");
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        self.send(request).await
    }

    /// Uploads `bytes` as the file field `file`, after the CSRF token as the first field, as
    /// the page's form sends them.
    pub async fn upload(&mut self, path: &str, filename: &str, bytes: &[u8]) -> Page {
        if self.csrf.is_none() {
            self.get("/settings/profile").await;
        }
        let token = self.csrf.clone().expect("a token");
        let boundary = "cuppa-test-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        // Browsers say how long an upload is, and body limits answer from that alone.
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body))
            .expect("request");
        self.send(request).await
    }

    /// Signs up `handle` (email `handle@example.com`, verified, as if they had followed the
    /// link) from an address of their own, and stays logged in as them.
    pub async fn sign_up(&mut self, handle: &str) -> i64 {
        self.addr = next_addr();
        let email = format!("{handle}@example.com");
        let page = self
            .post("/signup", &[("email", &email), ("handle", handle), ("display_name", handle), ("password", PASSWORD)])
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "sign-up of {handle} failed: {}", page.text(".field-error"));
        // Logging in draws a new CSRF secret: the next form needs a token from a new page.
        self.csrf = None;
        let id = sqlx::query_scalar("update members set email_verified_at = now() where handle = $1 returning id")
            .bind(handle)
            .fetch_one(&self.pool)
            .await
            .expect("the member exists");
        // The link and its email are done with: tests count the emails they are about, and a
        // link drawn just now would hold back the next one for five minutes.
        sqlx::query(
            "with links as (delete from account_tokens where member_id = $1)
             delete from outbox where member_id = $1 and kind = 'account'",
        )
        .bind(id)
        .execute(&self.pool)
        .await
        .expect("the confirmation link is taken out");
        id
    }

    pub async fn log_in(&mut self, account: &str, password: &str) -> Page {
        let page = self.post("/login", &[("account", account), ("password", password)]).await;
        if page.status == StatusCode::SEE_OTHER {
            self.csrf = None;
        }
        page
    }

    /// Logs out; the next form needs a fresh token, as the old session (and its token) is gone.
    pub async fn log_out(&mut self) -> Page {
        let page = self.post("/logout", &[]).await;
        self.csrf = None;
        page
    }
}

/// A real PNG of 200 x 200 pixels of one colour, as a member's camera might send.
pub fn png(colour: [u8; 3]) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(200, 200, image::Rgb(colour));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image).write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Uploads a photo of `colour` as `client`'s member (`member`), through the page, and gives
/// its id.
pub async fn upload_photo(client: &mut Client, member: i64, colour: [u8; 3]) -> i64 {
    client.get("/settings/photo").await;
    let page = client.upload("/settings/photo", "me.png", &png(colour)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text(".field-error, .error-page"));
    current_photo(&client.pool, member).await.expect("the upload is the member's photo")
}

/// A new current photo for `member`, written straight into the tables, for tests about where
/// photos show rather than what they hold (nothing decodes its two bytes).
pub async fn give_photo_row(pool: &PgPool, member: i64) -> i64 {
    sqlx::query_scalar(
        "with photo as (insert into photos (member_id, small, large) values ($1, '\\xffd8', '\\xffd8') returning id)
         update members set photo_id = (select id from photo) where id = $1 returning photo_id",
    )
    .bind(member)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The member's current photo, as stored.
pub async fn current_photo(pool: &PgPool, member: i64) -> Option<i64> {
    sqlx::query_scalar("select photo_id from members where id = $1").bind(member).fetch_one(pool).await.unwrap()
}

/// An approved venue called `name` in `city`, in London's time zone.
pub async fn add_venue(pool: &PgPool, name: &str, city: &str) -> i64 {
    sqlx::query_scalar(
        "insert into venues (name, address, city, time_zone, status)
         values ($1, '12 Market Street', $2, 'Europe/London', 'approved') returning id",
    )
    .bind(name)
    .bind(city)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A meetup of two hours at `venue` from `starts`, with 12 seats.
pub async fn insert_meetup(db: &PgPool, organiser: i64, venue: i64, starts: DateTime<Utc>, visibility: &str) -> i64 {
    sqlx::query_scalar(
        "insert into meetups (organiser_id, venue_id, title, starts_at, ends_at, capacity, visibility)
         values ($1, $2, 'A matrix meetup', $3, $3 + interval '2 hours', 12, $4::meetup_visibility)
         returning id",
    )
    .bind(organiser)
    .bind(venue)
    .bind(starts)
    .bind(visibility)
    .fetch_one(db)
    .await
    .unwrap()
}

/// `member` going to `meetup`, checked in (150 minutes ago) or not.
pub async fn insert_rsvp(db: &PgPool, meetup: i64, member: i64, checked_in: bool) {
    sqlx::query(
        "insert into rsvps (meetup_id, member_id, status, checked_in_at)
         values ($1, $2, 'going', case when $3 then now() - interval '150 minutes' end)",
    )
    .bind(meetup)
    .bind(member)
    .bind(checked_in)
    .execute(db)
    .await
    .unwrap();
}

/// Counts the statements sqlx runs, per thread: sqlx reports each one it runs once, as a
/// `tracing` event with the target `sqlx::query`. One subscriber for the whole test process,
/// interested in nothing else (so other tests pay nothing for it); each test reads its own
/// thread's count, as its requests run on its thread (the current-thread runtime). A scoped
/// subscriber would be simpler but misses events: while it is the only one, tracing caches a
/// callsite that another thread meets first as "never".
struct SqlxStatements;

thread_local! {
    static STATEMENTS: Cell<usize> = const { Cell::new(0) };
}

impl tracing::Subscriber for SqlxStatements {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.enabled(metadata) { Interest::always() } else { Interest::never() }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "sqlx::query"
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, _: &Event<'_>) {
        STATEMENTS.with(|n| n.set(n.get() + 1));
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

/// Statements `client` makes Cuppa run to draw `path`.
pub async fn statements_for(client: &mut Client, path: &str) -> (Page, usize) {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        tracing::subscriber::set_global_default(SqlxStatements).expect("the tests set no other subscriber");
    });
    let before = STATEMENTS.with(Cell::get);
    let page = client.get(path).await;
    (page, STATEMENTS.with(Cell::get) - before)
}
