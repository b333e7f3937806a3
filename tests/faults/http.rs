//! HTTP as a browser speaks it, over real sockets: whole requests through reqwest, with the
//! session cookie, the visitor's CSRF cookie and the CSRF token carried by hand (the client has no cookie jar), and
//! requests sent in two parts through a raw socket, to be truly in flight at a chosen moment.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use scraper::{Html, Selector};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SESSION_COOKIE: &str = "cuppa_session";
/// The cookie that signs a visitor's CSRF token until they log in (they have no session).
const CSRF_COOKIE: &str = cuppa::web::csrf::COOKIE;
/// A guard against a test hanging for ever; the tests' own limits are all far shorter.
const REQUEST_LIMIT: Duration = Duration::from_secs(30);
const FORM: &str = "application/x-www-form-urlencoded";

/// A client that sees 303s as they are, instead of following them: a 303 after a POST is
/// Cuppa's acknowledgement of the write.
pub fn client(keep_alive: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .timeout(REQUEST_LIMIT);
    if !keep_alive {
        builder = builder.pool_max_idle_per_host(0);
    }
    builder.build().expect("an HTTP client")
}

/// What came back.
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
}

impl Answer {
    /// Whether this is Cuppa's "briefly unavailable" page, as a visitor would see it.
    pub fn is_unavailable_page(&self) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE && self.body.contains("Cuppa is briefly unavailable")
    }
}

/// One visitor of one server: a session cookie, a CSRF cookie and the CSRF token of the last
/// form read.
pub struct Visitor {
    http: reqwest::Client,
    base: String,
    session: Option<String>,
    csrf_cookie: Option<String>,
    csrf: Option<String>,
}

impl Visitor {
    pub fn new(http: reqwest::Client, base: &str) -> Visitor {
        Visitor { http, base: base.to_owned(), session: None, csrf_cookie: None, csrf: None }
    }

    /// A seeded member (every one has the demo password), logged in through the log-in form.
    pub async fn log_in(http: reqwest::Client, base: &str, handle: &str) -> Visitor {
        let mut visitor = Visitor::new(http, base);
        visitor.read_token("/login").await;
        let done = visitor
            .post("/login", &[("account", handle), ("password", cuppa::seed::DEMO_PASSWORD)])
            .await
            .expect("the log-in form answers");
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{handle} could not log in: {}", done.body);
        // Logging in draws a new CSRF secret: forms from now on need a token from a new page.
        visitor.read_token("/settings/profile").await;
        visitor
    }

    /// A newcomer signed up through the sign-up form, and logged in by it.
    pub async fn sign_up(http: reqwest::Client, base: &str, handle: &str) -> Visitor {
        let mut visitor = Visitor::new(http, base);
        visitor.read_token("/signup").await;
        let fields = sign_up_fields(handle);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let done = visitor.post("/signup", &fields).await.expect("the sign-up form answers");
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{handle} could not sign up: {}", done.body);
        visitor
    }

    /// The same visitor, session and all, going to the server at `base` (a restarted server
    /// listens on a new port).
    pub fn at(self, base: &str) -> Visitor {
        Visitor { base: base.to_owned(), ..self }
    }

    /// The `Cookie` header this visitor sends, for requests sent by hand.
    pub fn cookie(&self) -> Option<String> {
        let session = self.session.as_ref().map(|id| format!("{SESSION_COOKIE}={id}"));
        let csrf = self.csrf_cookie.as_ref().map(|value| format!("{CSRF_COOKIE}={value}"));
        let both: Vec<String> = session.into_iter().chain(csrf).collect();
        (!both.is_empty()).then(|| both.join("; "))
    }

    /// The CSRF token from the last form read.
    pub fn token(&self) -> String {
        self.csrf.clone().expect("a form was read first")
    }

    /// Reads the page at `path` for the token in its forms.
    pub async fn read_token(&mut self, path: &str) {
        let page = self.get(path).await.expect("the page answers");
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        let selector = Selector::parse("input[name=csrf_token]").expect("selector");
        let token = Html::parse_document(&page.body)
            .select(&selector)
            .next()
            .and_then(|input| input.value().attr("value").map(str::to_owned));
        self.csrf = Some(token.unwrap_or_else(|| panic!("{path} has no form with a token")));
    }

    pub async fn get(&mut self, path: &str) -> reqwest::Result<Answer> {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// Posts a form with the token of the last form read, as the browser would.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Result<Answer> {
        let body = form_body(&self.token(), fields);
        let request = self.http.post(format!("{}{path}", self.base)).header(CONTENT_TYPE, FORM).body(body);
        self.send(request).await
    }

    async fn send(&mut self, mut request: reqwest::RequestBuilder) -> reqwest::Result<Answer> {
        if let Some(cookie) = self.cookie() {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await?;
        for set in response.headers().get_all(SET_COOKIE) {
            let pair = set.to_str().unwrap_or_default().split(';').next().unwrap_or_default();
            if let Some(id) = pair.strip_prefix(SESSION_COOKIE).and_then(|rest| rest.strip_prefix('=')) {
                self.session = (!id.is_empty()).then(|| id.to_owned());
            }
            if let Some(value) = pair.strip_prefix(CSRF_COOKIE).and_then(|rest| rest.strip_prefix('=')) {
                self.csrf_cookie = (!value.is_empty()).then(|| value.to_owned());
            }
        }
        let status = response.status();
        let body = response.text().await?;
        Ok(Answer { status, body })
    }
}

/// The sign-up form's fields for a newcomer called `handle`.
pub fn sign_up_fields(handle: &str) -> [(&'static str, String); 4] {
    [
        ("email", format!("{handle}@example.com")),
        ("handle", handle.to_owned()),
        ("display_name", handle.to_owned()),
        ("password", cuppa::seed::DEMO_PASSWORD.to_owned()),
    ]
}

/// A urlencoded form body, the CSRF token first as Cuppa's own forms send it.
pub fn form_body<K: AsRef<str>, V: AsRef<str>>(token: &str, fields: &[(K, V)]) -> String {
    let mut all = vec![("csrf_token", token)];
    all.extend(fields.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
    serde_urlencoded::to_string(all).expect("an encodable form")
}

/// A POST sent in two parts over a socket of its own: the headers and the start of the body
/// now, the rest when [`PartSent::finish`] is called. Until then the request is in flight.
pub struct PartSent {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl PartSent {
    pub async fn begin(addr: SocketAddr, path: &str, cookie: &str, content_type: &str, body: Vec<u8>) -> PartSent {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let half = body.len() / 2;
        stream.write_all(head.as_bytes()).await.expect("send the headers");
        stream.write_all(&body[..half]).await.expect("send half the body");
        PartSent { stream, rest: body[half..].to_vec() }
    }

    /// Sends the rest of the body and reads the whole answer.
    pub async fn finish(mut self) -> RawAnswer {
        self.stream.write_all(&self.rest).await.expect("send the rest of the body");
        let mut bytes = Vec::new();
        let read = self.stream.read_to_end(&mut bytes).await;
        RawAnswer::parse(&bytes, read.is_ok())
    }
}

/// An answer read off a socket to its end.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: Option<u16>,
    pub location: Option<String>,
    /// Whether the body is all there: as long as its `Content-Length`, or chunked to the end.
    pub complete: bool,
}

impl RawAnswer {
    fn parse(bytes: &[u8], ended_cleanly: bool) -> RawAnswer {
        let text = String::from_utf8_lossy(bytes);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return RawAnswer { status: None, location: None, complete: false };
        };
        let mut lines = head.lines();
        let status = lines.next().and_then(|line| line.split(' ').nth(1)).and_then(|code| code.parse().ok());
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let body_length = bytes.len() - head.len() - 4;
        let complete = ended_cleanly
            && match (header("content-length"), header("transfer-encoding")) {
                (Some(length), _) => length.parse() == Ok(body_length),
                (None, Some(chunked)) if chunked.contains("chunked") => body.ends_with("0\r\n\r\n"),
                // Without either, the body runs to the end of the connection.
                _ => true,
            };
        RawAnswer { status, location: header("location"), complete }
    }
}

/// The `p`-th percentile (0 to 100) of some durations, by the nearest-rank method.
pub fn percentile(durations: &[Duration], p: f64) -> Duration {
    let mut sorted = durations.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Seconds from `origin` to `t`, negative when `t` came first.
pub fn seconds_from(origin: Instant, t: Instant) -> f64 {
    t.saturating_duration_since(origin).as_secs_f64() - origin.saturating_duration_since(t).as_secs_f64()
}
