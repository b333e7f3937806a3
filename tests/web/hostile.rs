//! Hostile input (issue 14): every POST route in `cuppa::routes()` is sent random and hostile
//! bodies by proptest: over-long strings, NUL bytes, invalid UTF-8 and percent-encoding, odd
//! Unicode, huge and negative numbers and ids, duplicated, missing and unknown fields, wrong
//! content types, and a few 10 MB bodies. No answer may be a 5xx, nothing may panic, and
//! afterwards every CHECK and FOREIGN KEY constraint must still hold.
//!
//! The forms are found the way a person finds them: a crawler follows the links of a seeded
//! community as a visitor, the demo member and the admin, and reads every `<form
//! method=post>`: where it posts (real ids in the path), its fields, their types and the values
//! the page offers. A POST route that no page shows is still posted to, with path parameters
//! filled from the ids seen elsewhere and the field names of every form. So a new form is
//! covered without touching this file.
//!
//! Each form is posted by the demo member, admin routes by the admin too, and the forms shown
//! to visitors (sign-up, log-in, password links) by a visitor too: first random bodies, then
//! the first body the form took with one field at a time made hostile (so the hostile value
//! gets past the checks of the others), then three 10 MiB bodies. A body a form takes (a 303)
//! must have stored its typed text as typed (trimmed, line breaks as `\n`).
//!
//! The seed is fixed, so a red run is red again on the next try and every run asks the same;
//! `HOSTILE_SEED=random` draws a new one (printed) to explore, and `HOSTILE_SEED=<seed>`
//! repeats any run.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{Request, StatusCode, header};
use chrono::{Duration, Utc};
use cuppa::seed::{ADMIN_HANDLE, DEMO_HANDLE, DEMO_PASSWORD};
use cuppa::web::routes::{Method, Route};
use hyper::body::Frame;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngSeed, TestCaseResult, TestError, TestRunner};
use scraper::{ElementRef, Html, Selector};
use sqlx::PgPool;

use crate::support::{Client, Page, give_photo_row, insert_meetup, insert_rsvp, next_addr, png};

/// Members in the seeded community: enough for meetups, invitations and a directory.
const MEMBERS: usize = 120;
/// Random bodies per form and visitor, and then bodies the form took with one field made
/// hostile. With about 75 (form, visitor) pairs, some forty of which take a body, this is over
/// three thousand requests, under a minute in a debug build on two cores.
const CASES: u32 = 32;
const DEEP_CASES: u32 = 16;
/// The large bodies: 10 MiB, far more than a form may be (256 KiB) or a photo (8 MiB), though
/// under the 16 MiB an upload request may carry, so the photo upload reads it.
const BIG_BYTES: usize = 10 * 1024 * 1024;
/// Pages the crawler reads per route pattern (`/m/{handle}`: a few members, not all of them),
/// and in all per visitor.
const PAGES_PER_PATTERN: usize = 4;
const PAGES_PER_VISITOR: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Persona {
    Anonymous,
    Member,
    Admin,
}

/// A browser of the run: the anonymous visitor, or one of the demo accounts.
struct Visitor {
    persona: Persona,
    client: Client,
    /// The member logged in, and their handle.
    member: Option<(i64, &'static str)>,
}

impl Visitor {
    async fn new(site: &Client, persona: Persona) -> Visitor {
        let mut visitor = Visitor { persona, client: site.another(), member: None };
        if let Some(handle) = match persona {
            Persona::Anonymous => None,
            Persona::Member => Some(DEMO_HANDLE),
            Persona::Admin => Some(ADMIN_HANDLE),
        } {
            let id = sqlx::query_scalar("select id from members where handle = $1")
                .bind(handle)
                .fetch_one(&site.pool)
                .await
                .expect("the seed made the demo accounts");
            visitor.member = Some((id, handle));
        }
        visitor.start_session().await;
        visitor
    }

    /// A new session: logged in as the visitor's member, or a visitor's CSRF cookie.
    async fn start_session(&mut self) {
        self.client.cookies.clear();
        self.client.csrf = None;
        self.client.addr = next_addr();
        match self.member {
            None => {
                self.client.get("/login").await;
            }
            Some((_, handle)) => {
                let page = self.client.log_in(handle, DEMO_PASSWORD).await;
                assert_eq!(page.status, StatusCode::SEE_OTHER, "{handle} logs in: {}", page.text(".field-error"));
                self.client.get("/settings/profile").await;
            }
        }
        assert!(self.client.csrf.is_some(), "a page with a form gives {:?} a token", self.persona);
    }

    /// Puts the visitor back as the run needs them, when a body did something a person may
    /// do (logging out, logging in as someone else, signing up): the next body must be sent
    /// with the same standing. Whether it had to.
    async fn restore(&mut self) -> bool {
        let session: Option<Option<i64>> = match self.client.session_cookie() {
            Some(id) => sqlx::query_scalar(
                "select (data ->> 'member_id')::bigint from sessions where id = $1 and expires_at > now()",
            )
            .bind(id)
            .fetch_optional(&self.client.pool)
            .await
            .expect("sessions are readable"),
            None => None,
        };
        let intact = match (self.member, session) {
            // A visitor has no session (or one holding only a message); their token is
            // their CSRF cookie's.
            (None, None | Some(None)) => true,
            (Some((id, _)), Some(Some(logged_in))) => id == logged_in,
            _ => false,
        };
        if !intact {
            self.start_session().await;
        }
        !intact
    }
}

/// What kind of input a field is, as its page declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A one-line text input (text, search, url, tel).
    Text,
    Multiline,
    Email,
    Password,
    Number,
    Date,
    Time,
    DateTime,
    /// A select, checkbox, radio or named button: one of the page's values.
    Choice,
    Hidden,
    File,
}

impl Kind {
    fn of_input(kind: &str) -> Option<Kind> {
        Some(match kind {
            "hidden" => Kind::Hidden,
            "password" => Kind::Password,
            "email" => Kind::Email,
            "number" | "range" => Kind::Number,
            "date" => Kind::Date,
            "time" => Kind::Time,
            "datetime-local" => Kind::DateTime,
            "checkbox" | "radio" | "submit" => Kind::Choice,
            "file" => Kind::File,
            "button" | "reset" | "image" => return None,
            _ => Kind::Text,
        })
    }

    /// Free text a member types, which, when a form accepts it, must be stored as typed.
    fn is_typed(self) -> bool {
        matches!(self, Kind::Text | Kind::Multiline | Kind::Email)
    }

    /// Values a person would fill in where the page holds none.
    fn plausible(self) -> Vec<String> {
        let day = |days| (Utc::now() + Duration::days(days)).format("%Y-%m-%d").to_string();
        match self {
            Kind::Text => vec![String::new(), "Hello there".to_owned()],
            Kind::Multiline => vec![String::new(), "Line one\r\nLine two".to_owned()],
            Kind::Email => vec!["someone.new@example.com".to_owned()],
            Kind::Password => vec!["a sturdy hostile password".to_owned()],
            Kind::Number => vec!["2".to_owned(), "12".to_owned()],
            Kind::Date => vec![day(5)],
            Kind::Time => vec!["10:00".to_owned(), "12:00".to_owned()],
            Kind::DateTime => vec![format!("{}T10:00", day(5)), format!("{}T12:00", day(5))],
            Kind::Choice | Kind::Hidden | Kind::File => Vec::new(),
        }
    }
}

/// One field of a form, merged over every page that shows the form.
#[derive(Clone, Debug)]
struct Field {
    kind: Kind,
    /// The values the pages hold or offer (options, hidden values, what is filled in).
    values: BTreeSet<String>,
}

/// A form as the pages show it.
#[derive(Debug, Default)]
struct Form {
    fields: BTreeMap<String, Field>,
    multipart: bool,
    /// The paths it was seen posting to, with real ids.
    actions: BTreeSet<String>,
    shown_to: BTreeSet<Persona>,
}

/// The route `path` is served by: the pattern with the same segments, literal segments
/// preferred over parameters as axum prefers them (`/meetups/new` over `/meetups/{id}`).
fn route_for(routes: &[Route], method: Method, path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.split('/').collect();
    routes
        .iter()
        .filter(|route| route.method == method)
        .filter_map(|route| {
            let pattern: Vec<&str> = route.path.split('/').collect();
            if pattern.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (part, segment) in pattern.iter().zip(&segments) {
                if part.starts_with('{') {
                    if segment.is_empty() {
                        return None;
                    }
                } else if part == segment {
                    literal += 1;
                } else {
                    return None;
                }
            }
            Some((literal, *route))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, route)| route)
}

/// The `{name}`s of a pattern and their values in `path`.
fn parameters(pattern: &str, path: &str) -> Vec<(String, String)> {
    pattern
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(part, segment)| {
            let name = part.strip_prefix('{')?.strip_suffix('}')?;
            Some((name.to_owned(), segment.to_owned()))
        })
        .collect()
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("a valid selector")
}

/// A POST form as one page shows it: each named field with its kind and the values the page
/// gives it.
struct ShownForm {
    action: String,
    multipart: bool,
    fields: Vec<(String, Field)>,
}

fn forms_on(html: &Html) -> Vec<ShownForm> {
    let fields = selector("input[name], select[name], textarea[name], button[name]");
    let options = selector("option");
    html.select(&selector("form"))
        .filter(|form| form.value().attr("method").is_some_and(|m| m.eq_ignore_ascii_case("post")))
        .filter_map(|form| {
            let action = form.value().attr("action")?.to_owned();
            let multipart = form.value().attr("enctype") == Some("multipart/form-data");
            let found = form
                .select(&fields)
                .filter_map(|element| {
                    let name = element.value().attr("name")?;
                    if name == cuppa::web::csrf::FIELD {
                        return None;
                    }
                    let value = element.value().attr("value").map(str::to_owned);
                    let (kind, values): (Kind, BTreeSet<String>) = match element.value().name() {
                        "select" => (Kind::Choice, element.select(&options).map(option_value).collect()),
                        "textarea" => (Kind::Multiline, BTreeSet::from([element.text().collect::<String>()])),
                        "button" => (Kind::Choice, value.into_iter().collect()),
                        _ => {
                            let kind = Kind::of_input(element.value().attr("type").unwrap_or("text"))?;
                            let default = if kind == Kind::Choice { Some("on".to_owned()) } else { None };
                            (kind, value.or(default).into_iter().collect())
                        }
                    };
                    let values = values.into_iter().filter(|v| !v.is_empty()).collect();
                    Some((name.to_owned(), Field { kind, values }))
                })
                .collect();
            Some(ShownForm { action, multipart, fields: found })
        })
        .collect()
}

fn option_value(option: ElementRef<'_>) -> String {
    option.value().attr("value").map_or_else(|| option.text().collect(), str::to_owned)
}

/// Reads pages as `visitor`, from `seeds` and every link they lead to that a GET route
/// serves, and adds the forms found to `forms`. Gives the number of pages read.
async fn crawl(visitor: &mut Visitor, seeds: &[String], forms: &mut BTreeMap<Route, Form>) -> usize {
    let routes = cuppa::routes().list().to_vec();
    let links = selector("a[href]");
    let mut queue: VecDeque<String> = seeds.iter().cloned().collect();
    let mut seen: HashSet<String> = queue.iter().cloned().collect();
    let mut per_pattern: HashMap<&'static str, usize> = HashMap::new();
    let mut pages = 0;
    while let Some(url) = queue.pop_front() {
        let path = url.split(['?', '#']).next().unwrap_or_default();
        let Some(route) = route_for(&routes, Method::Get, path) else { continue };
        let read = per_pattern.entry(route.path).or_default();
        if *read >= PAGES_PER_PATTERN || pages >= PAGES_PER_VISITOR {
            continue;
        }
        *read += 1;
        pages += 1;
        let page = visitor.client.get(&url).await;
        let html_page = page.headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
        if page.status != StatusCode::OK || !html_page {
            continue;
        }
        let html = Html::parse_document(&page.body);
        for shown in forms_on(&html) {
            let Some(route) = route_for(&routes, Method::Post, &shown.action) else { continue };
            let form = forms.entry(route).or_default();
            form.multipart |= shown.multipart;
            form.actions.insert(shown.action);
            form.shown_to.insert(visitor.persona);
            for (name, field) in shown.fields {
                let known =
                    form.fields.entry(name).or_insert_with(|| Field { kind: field.kind, values: BTreeSet::new() });
                known.values.extend(field.values);
            }
        }
        for href in html.select(&links).filter_map(|a| a.value().attr("href")) {
            let href = href.split('#').next().unwrap_or_default();
            if href.starts_with('/') && !href.starts_with("//") && seen.insert(href.to_owned()) {
                queue.push_back(href.to_owned());
            }
        }
    }
    pages
}

/// Part of a body: text, sent percent-encoded as a browser would, or bytes sent as they are
/// (broken percent-encoding, invalid UTF-8, stray `&` and `=`).
#[derive(Clone, Debug)]
enum Piece {
    Text(String),
    Raw(Vec<u8>),
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

impl Piece {
    fn text(text: &str) -> Piece {
        Piece::Text(text.to_owned())
    }

    /// As it goes into a urlencoded body.
    fn encoded(&self) -> Vec<u8> {
        match self {
            Piece::Raw(bytes) => bytes.clone(),
            Piece::Text(text) => {
                let mut out = Vec::with_capacity(text.len());
                for &byte in text.as_bytes() {
                    match byte {
                        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(byte),
                        b' ' => out.push(b'+'),
                        _ => out.extend_from_slice(&[b'%', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]),
                    }
                }
                out
            }
        }
    }

    /// What a form reads from the piece as a field's value: its text, or the bytes it
    /// percent-decodes to when they are not UTF-8. `None` for bytes with `&` or `=`, which
    /// split the field rather than fill it.
    fn read_as(&self) -> Option<Result<String, Vec<u8>>> {
        match self {
            Piece::Text(text) => Some(Ok(text.clone())),
            Piece::Raw(bytes) if bytes.contains(&b'&') || bytes.contains(&b'=') => None,
            Piece::Raw(bytes) => {
                let decoded = cuppa::web::csrf::url_decode(bytes);
                Some(String::from_utf8(decoded).map_err(|err| err.into_bytes()))
            }
        }
    }

    /// As it goes into a multipart part.
    fn bytes(&self) -> &[u8] {
        match self {
            Piece::Raw(bytes) => bytes,
            Piece::Text(text) => text.as_bytes(),
        }
    }
}

/// One field sent: its name, value and, for a file, its file name.
#[derive(Clone, Debug)]
struct Part {
    name: Piece,
    value: Piece,
    filename: Option<Piece>,
}

/// How a body is sent.
#[derive(Clone, Copy, Debug)]
enum Encoding {
    /// `application/x-www-form-urlencoded` with the token first, as a browser sends a form.
    Form,
    /// The same bytes under another content type (or none), the token in the header.
    FormAs(Option<&'static str>),
    /// A JSON object of the fields, the token in the header.
    Json,
    /// `multipart/form-data`, the token as the first part as upload forms send it; `closed`
    /// says whether the closing boundary comes.
    Multipart { closed: bool },
}

const WRONG_CONTENT_TYPES: &[&str] = &[
    "text/plain",
    "application/octet-stream",
    "APPLICATION/X-WWW-FORM-URLENCODED",
    "application/x-www-form-urlencoded; charset=utf-16",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "image/png",
    "application/x-www-form-urlencoded;;;",
];

const BOUNDARY: &str = "hostile-boundary";

/// One body for one form, and the typed values that, if the form takes it, must be stored.
#[derive(Clone)]
struct Sent {
    path: String,
    encoding: Encoding,
    parts: Vec<Part>,
    typed: Vec<(String, Result<String, Vec<u8>>)>,
}

impl Sent {
    fn request(&self, token: &str) -> Request<Body> {
        let mut builder = Request::post(self.path.as_str());
        if let Some(content_type) = self.content_type() {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        // Forms carry the token in the body, as the pages send it; the rest in the header, so
        // that they get past the CSRF check to the handler.
        if !matches!(self.encoding, Encoding::Form | Encoding::Multipart { .. }) {
            builder = builder.header("x-csrf-token", token);
        }
        builder.body(Body::from(self.body(token))).expect("a request")
    }

    fn content_type(&self) -> Option<String> {
        match self.encoding {
            Encoding::Form => Some("application/x-www-form-urlencoded".to_owned()),
            Encoding::FormAs(content_type) => content_type.map(str::to_owned),
            Encoding::Json => Some("application/json".to_owned()),
            Encoding::Multipart { .. } => Some(format!("multipart/form-data; boundary={BOUNDARY}")),
        }
    }

    fn body(&self, token: &str) -> Vec<u8> {
        let token = token_part(token);
        match self.encoding {
            Encoding::Form => urlencoded(std::iter::once(&token).chain(&self.parts)),
            Encoding::FormAs(_) => urlencoded(self.parts.iter()),
            Encoding::Json => {
                let text = |piece: &Piece| String::from_utf8_lossy(piece.bytes()).into_owned();
                let object: serde_json::Map<String, serde_json::Value> = self
                    .parts
                    .iter()
                    .map(|part| (text(&part.name), serde_json::Value::String(text(&part.value))))
                    .collect();
                serde_json::to_vec(&object).expect("JSON of strings")
            }
            Encoding::Multipart { closed } => multipart(std::iter::once(&token).chain(&self.parts), closed),
        }
    }
}

/// The CSRF token as a form's field.
fn token_part(token: &str) -> Part {
    part(cuppa::web::csrf::FIELD, Piece::text(token))
}

fn urlencoded<'a>(parts: impl Iterator<Item = &'a Part>) -> Vec<u8> {
    let pairs = parts.map(|part| [part.name.encoded(), b"=".to_vec(), part.value.encoded()].concat());
    pairs.collect::<Vec<_>>().join(&b'&')
}

fn multipart<'a>(parts: impl Iterator<Item = &'a Part>, closed: bool) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"").as_bytes());
        body.extend_from_slice(part.name.bytes());
        body.push(b'"');
        if let Some(filename) = &part.filename {
            body.extend_from_slice(b"; filename=\"");
            body.extend_from_slice(filename.bytes());
            body.extend_from_slice(b"\"\r\nContent-Type: application/octet-stream");
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(part.value.bytes());
        body.extend_from_slice(b"\r\n");
    }
    if closed {
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    }
    body
}

/// Shown when a case fails: the path and the body as sent (long ones cut), readable.
impl fmt::Debug for Sent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.body("<token>");
        let shown: String = bytes.iter().take(1500).flat_map(|b| b.escape_ascii()).map(char::from).collect();
        let cut = if bytes.len() > 1500 { format!("… ({} bytes)", bytes.len()) } else { String::new() };
        write!(f, "POST {} content-type {:?}\n  {shown}{cut}", self.path, self.content_type())
    }
}

/// Hostile text, sent percent-encoded: what a person might paste, or an attacker type.
const HOSTILE_TEXT: &[&str] = &[
    "",
    "   ",
    "\t\r\n",
    "\0",
    "a\0b",
    "\u{1}\u{7}\u{1b}[31m\u{7f}",
    "line\r\nbreak\rcarriage",
    "\u{202E}gnp.exe",
    "\u{200F}\u{200E}",
    "\u{2066}isolated\u{2069}",
    "zero\u{200B}width\u{200D}joiner\u{2060}",
    "\u{FEFF}bom",
    "e\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}",
    "Z\u{336}\u{301}\u{327}\u{35c}\u{361}\u{489}",
    "\\ud800\\udfff",
    "&#xD800;&#0;",
    "\u{FFFD}\u{FFFF}\u{10FFFF}",
    "👩\u{200D}👩\u{200D}👧\u{200D}👦🇬🇧☕\u{FE0F}",
    "علی رضا",
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "'; drop table members; --",
    "%s%n%x{{7*7}}${7*7}",
    "../../../etc/passwd",
    "-1",
    "0",
    "-0",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "340282366920938463463374607431768211456",
    "2147483648",
    "32768",
    "1e308",
    "NaN",
    "inf",
    "0x10",
    "١٢",
    " 12 ",
    "1.5",
    "9999-12-31T23:59",
    "0000-01-01T00:00",
    "+275760-09-13T00:00",
    "2024-02-30T10:00",
    "2025-13-01T25:61",
    "24:00",
    "23:59:60",
    "-01:00",
    "on",
    "off",
    "true",
    "admin",
    "suspend",
    "UTC",
    "Europe/Nowhere",
    "someone@",
    "@example.com",
    "a@b@c",
    "ÄDMIN@EXAMPLE.COM",
];

/// Bytes sent as they are: broken percent-encoding, encoded invalid UTF-8 (a lone surrogate,
/// an overlong NUL, past U+10FFFF), raw bytes that are not UTF-8, separators.
const HOSTILE_RAW: &[&[u8]] = &[
    b"%",
    b"%F",
    b"%zz",
    b"%FF",
    b"%C3%28",
    b"%ED%A0%80",
    b"%F4%90%80%80",
    b"%C0%80",
    b"%00",
    b"%0D%0A",
    b"+",
    b"&",
    b"=",
    b"==&&",
    b"\xff\xfe",
    b"\x00",
    b"\xc3\xa9",
    b"%E2%80%AE",
];

/// Units repeated into long values: thousands of characters in one word.
const LONG_UNITS: &[&str] = &["a", "é", "😀", "\u{301}", "\u{200B}", "9", "<b>", "x y "];

fn hostile_piece() -> BoxedStrategy<Piece> {
    prop_oneof![
        8 => select(HOSTILE_TEXT).prop_map(Piece::text),
        3 => select(HOSTILE_RAW).prop_map(|bytes| Piece::Raw(bytes.to_vec())),
        3 => any::<String>().prop_map(Piece::Text),
        1 => proptest::collection::vec(any::<u8>(), 0..32).prop_map(Piece::Raw),
        2 => (select(LONG_UNITS), 1usize..12_000).prop_map(|(unit, n)| Piece::Text(unit.repeat(n))),
        2 => prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u128>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|n| n.to_string()),
        ]
        .prop_map(Piece::Text),
    ]
    .boxed()
}

/// Path parameters no page links to: negative, huge, not numbers, broken encodings.
const HOSTILE_SEGMENTS: &[&str] = &[
    "-1",
    "0",
    "9223372036854775807",
    "9223372036854775808",
    "99999999999999999999999999",
    "abc",
    "1e3",
    "1.5",
    "+1",
    "%2B1",
    "0x1F",
    "%00",
    "%FF",
    "%C3%28",
    "%20",
    "%2F",
    "%2E%2E",
    "1%0A2",
    "%E2%80%AE",
    "%F0%9F%98%80",
    "null",
    "%3Cscript%3E",
    "1-2",
    "member",
    "photo",
];

/// File contents for upload fields: a real photo, a real follow list, and broken ones.
fn file_content() -> BoxedStrategy<Piece> {
    let photo = png([200, 120, 40]);
    let truncated = photo[..photo.len() / 3].to_vec();
    prop_oneof![
        1 => Just(Piece::Raw(photo)),
        1 => Just(Piece::Raw(truncated)),
        2 => hostile_piece().prop_map(|address| {
            let mut csv = b"Account address,Show boosts\n".to_vec();
            csv.extend_from_slice(address.bytes());
            csv.extend_from_slice(b",true\nsomeone@example.social,true\n");
            Piece::Raw(csv)
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..512).prop_map(Piece::Raw),
        1 => Just(Piece::Raw(Vec::new())),
    ]
    .boxed()
}

/// A field's values in one body, and its typed value when that is checked afterwards.
type Sending = (Vec<Part>, Option<(String, Result<String, Vec<u8>>)>);

fn part(name: &str, value: Piece) -> Part {
    Part { name: Piece::text(name), value, filename: None }
}

/// One field, twice: as a person would fill it in, and wild (as a person would, hostile, left
/// out, or sent twice).
fn field_strategy(name: &str, field: &Field) -> BoxedStrategy<(Sending, Sending)> {
    let name = name.to_owned();
    if field.kind == Kind::File {
        let filenames = prop_oneof![
            4 => Just(Piece::text("following_accounts.csv")),
            1 => hostile_piece(),
        ];
        let file = prop_oneof![
            8 => (filenames, file_content())
                .prop_map(move |(filename, value)| (vec![Part { name: Piece::text(&name), value, filename: Some(filename) }], None)),
            1 => Just((Vec::new(), None)),
        ]
        .boxed();
        return (file.clone(), file).boxed();
    }
    // What the page holds is what a person leaves there; an empty field they fill in.
    let mut values: Vec<String> = field.values.iter().cloned().collect();
    if values.is_empty() {
        values = field.kind.plausible();
    }
    if values.is_empty() {
        values.push(String::new());
    }
    let typed = field.kind.is_typed();
    let (one, two, three) = (name.clone(), name.clone(), name);
    let calm = select(values.clone()).prop_map(move |v| (vec![part(&one, Piece::Text(v))], None));
    let wild = prop_oneof![
        4 => calm.clone(),
        4 => hostile_piece().prop_map(move |value| {
            let checked = if typed { value.read_as().map(|read| (two.clone(), read)) } else { None };
            (vec![part(&two, value)], checked)
        }),
        1 => Just((Vec::new(), None)),
        1 => (select(values), hostile_piece())
            .prop_map(move |(v, value)| (vec![part(&three, Piece::Text(v)), part(&three, value)], None)),
    ];
    (calm, wild).boxed()
}

/// Fields no form has, and the token again.
fn extra_part() -> BoxedStrategy<Part> {
    let names = prop_oneof![
        Just(Piece::text(cuppa::web::csrf::FIELD)),
        Just(Piece::text("")),
        Just(Piece::text("a[]")),
        Just(Piece::text("__proto__")),
        hostile_piece(),
    ];
    (names, hostile_piece()).prop_map(|(name, value)| Part { name, value, filename: None }).boxed()
}

fn encoding_strategy(multipart: bool) -> BoxedStrategy<Encoding> {
    let others = prop_oneof![
        select(WRONG_CONTENT_TYPES).prop_map(|ct| Encoding::FormAs(Some(ct))),
        Just(Encoding::FormAs(None)),
        Just(Encoding::Json),
    ];
    if multipart {
        prop_oneof![
            8 => Just(Encoding::Multipart { closed: true }),
            1 => Just(Encoding::Multipart { closed: false }),
            1 => Just(Encoding::Form),
            1 => others,
        ]
        .boxed()
    } else {
        prop_oneof![
            16 => Just(Encoding::Form),
            2 => others,
            1 => any::<bool>().prop_map(|closed| Encoding::Multipart { closed }),
        ]
        .boxed()
    }
}

/// The paths a visitor posts a form to: those its pages post to (real ids), and the pattern
/// filled with ids seen anywhere or hostile ones.
fn path_strategy(
    route: Route,
    form: &Form,
    known: &BTreeMap<String, BTreeSet<String>>,
    persona: Persona,
) -> BoxedStrategy<String> {
    // An admin acting on the run's own accounts (suspending the demo member, demoting the
    // admin) would end the very sessions the run posts with; every other member is fair game.
    let own = |path: &str| {
        persona == Persona::Admin
            && parameters(route.path, path).iter().any(|(_, v)| [DEMO_HANDLE, ADMIN_HANDLE].contains(&v.as_str()))
    };
    let actions: Vec<String> = form.actions.iter().filter(|path| !own(path)).cloned().collect();
    let segments: Vec<BoxedStrategy<String>> = route
        .path
        .split('/')
        .map(|part| match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            None => Just(part.to_owned()).boxed(),
            Some(name) => {
                let hostile = select(HOSTILE_SEGMENTS).prop_map(str::to_owned);
                let real: Vec<String> = known
                    .get(name)
                    .into_iter()
                    .flatten()
                    .filter(|v| persona != Persona::Admin || ![DEMO_HANDLE, ADMIN_HANDLE].contains(&v.as_str()))
                    .cloned()
                    .collect();
                if real.is_empty() { hostile.boxed() } else { prop_oneof![select(real), hostile].boxed() }
            }
        })
        .collect();
    let filled = segments.prop_map(|parts| parts.join("/"));
    if actions.is_empty() { filled.boxed() } else { prop_oneof![3 => select(actions), 2 => filled].boxed() }
}

/// Bodies for a form. Most make one field wild and fill in the others as a person would, so
/// that the wild value gets past the checks of the others to the code behind them; the rest
/// make every field wild.
fn body_strategy(path: BoxedStrategy<String>, form: &Form) -> BoxedStrategy<Sent> {
    let fields: Vec<BoxedStrategy<(Sending, Sending)>> =
        form.fields.iter().map(|(name, field)| field_strategy(name, field)).collect();
    let focus = match fields.len() {
        0 => Just(None).boxed(),
        n => prop_oneof![2 => Just(None), 3 => (0..n).prop_map(Some)].boxed(),
    };
    (path, encoding_strategy(form.multipart), fields, focus, proptest::collection::vec(extra_part(), 0..=1))
        .prop_map(|(path, encoding, fields, focus, extras)| {
            let mut parts = Vec::new();
            let mut typed = Vec::new();
            for (i, (calm, wild)) in fields.into_iter().enumerate() {
                let (sent, checked) = if focus.is_none_or(|f| f == i) { wild } else { calm };
                parts.extend(sent);
                typed.extend(checked);
            }
            parts.extend(extras);
            Sent { path, encoding, parts, typed }
        })
        .boxed()
}

/// A body the form took, again, with one of its fields made hostile: the others are as a
/// person sent them, so the hostile value gets past their checks to the code behind them.
fn deep_strategy(accepted: Sent, form: &Form) -> BoxedStrategy<Sent> {
    let typed: BTreeSet<String> =
        form.fields.iter().filter(|(_, field)| field.kind.is_typed()).map(|(name, _)| name.clone()).collect();
    (0..accepted.parts.len(), hostile_piece())
        .prop_map(move |(i, value)| {
            let mut sent = accepted.clone();
            sent.typed.clear();
            let part = &mut sent.parts[i];
            if let Piece::Text(name) = &part.name
                && typed.contains(name)
                && let Some(read) = value.read_as()
            {
                sent.typed.push((name.clone(), read));
            }
            part.value = value;
            sent
        })
        .boxed()
}

/// A body of `start`, then `left` more bytes, sent in chunks with no length given, as a client
/// streaming an upload would: a body limit must stop it while reading.
struct Streamed {
    start: Option<Bytes>,
    left: usize,
}

impl HttpBody for Streamed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(start) = self.start.take() {
            return Poll::Ready(Some(Ok(Frame::data(start))));
        }
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(256 * 1024);
        self.left -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'a'; n])))))
    }
}

/// Three bodies of 10 MiB for `path`: a form field with its length given, the same
/// streamed without one, and a multipart part (the file, for an upload).
fn big_bodies(path: &str, form: &Form, token: &str) -> Vec<Request<Body>> {
    let field = form.fields.iter().find(|(_, f)| f.kind == Kind::File).or_else(|| form.fields.iter().next());
    let name = field.map_or("x", |(name, _)| name.as_str());
    let start = format!("{}={token}&{name}=", cuppa::web::csrf::FIELD);
    let mut long = start.clone().into_bytes();
    long.resize(start.len() + BIG_BYTES, b'a');
    let form_request = |body: Body, length: Option<usize>| {
        let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(length) = length {
            request = request.header(header::CONTENT_LENGTH, length);
        }
        request.body(body).expect("a request")
    };
    let big = Part {
        name: Piece::text(name),
        value: Piece::Raw(vec![b'a'; BIG_BYTES]),
        filename: Some(Piece::text("big.png")),
    };
    let upload = multipart([token_part(token), big].iter(), true);
    vec![
        form_request(Body::from(long.clone()), Some(long.len())),
        form_request(Body::new(Streamed { start: Some(Bytes::from(start)), left: BIG_BYTES }), None),
        Request::post(path)
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
            .header(header::CONTENT_LENGTH, upload.len())
            .body(Body::from(upload))
            .expect("a request"),
    ]
}

/// Fields that name something to look up, not text to keep: the form answers the same
/// whether it is found or not (so it cannot be used to learn who has an account).
const LOOKUPS: &[(&str, &str)] = &[("/password/forgot", "account"), ("/login", "account")];

/// The run's shared state, borrowed by each case.
struct Run {
    visitors: BTreeMap<Persona, Visitor>,
    /// SQL telling whether `$1` is found in any text column (see `text_search_sql`).
    search: String,
    /// Status counts per form.
    statuses: BTreeMap<Route, BTreeMap<u16, usize>>,
    sent: BTreeMap<Route, usize>,
    /// Time spent on each form.
    took: BTreeMap<Route, std::time::Duration>,
    /// Typed text a form took (303) that is found nowhere in the database afterwards.
    not_stored: Vec<String>,
    /// The first body each form took from each visitor.
    accepted: BTreeMap<(Route, Persona), Sent>,
    restored: usize,
}

impl Run {
    async fn send(&mut self, route: Route, persona: Persona, request: Request<Body>) -> Page {
        let started = Instant::now();
        let visitor = self.visitors.get_mut(&persona).expect("a visitor");
        // Each body from an address of its own: per-address throttles would otherwise turn
        // most bodies into 429s before any handler reads them.
        visitor.client.addr = next_addr();
        let page = visitor.client.send(request).await;
        if visitor.restore().await {
            self.restored += 1;
        }
        *self.statuses.entry(route).or_default().entry(page.status.as_u16()).or_default() += 1;
        *self.sent.entry(route).or_default() += 1;
        *self.took.entry(route).or_default() += started.elapsed();
        page
    }

    /// Sends one body as `persona` and checks the answer: never a 5xx, and when the form takes
    /// it (a 303 that is not to log in), its typed text is stored as typed. The first body a
    /// form takes is kept, for the deep cases.
    async fn check(&mut self, route: Route, form: &Form, persona: Persona, sent: &Sent) -> TestCaseResult {
        let token = self.token(persona);
        let page = self.send(route, persona, sent.request(&token)).await;
        prop_assert!(
            page.status.as_u16() < 500,
            "{persona:?} got {} for\n{sent:?}\n{}",
            page.status,
            page.text(".error-page, main")
        );
        let location = page.location();
        let taken = page.status == StatusCode::SEE_OTHER
            && !location.starts_with("/login")
            && location != cuppa::auth::WARNING_PATH;
        if !taken || !form.shown_to.contains(&persona) || !matches!(sent.encoding, Encoding::Form) {
            return Ok(());
        }
        self.accepted.entry((route, persona)).or_insert_with(|| sent.clone());
        for (field, read) in &sent.typed {
            if LOOKUPS.contains(&(route.path, field.as_str())) {
                continue;
            }
            let problem = match read {
                Ok(text) if text.trim().is_empty() || self.stored(text).await => continue,
                Ok(text) => format!("{:?} is found nowhere", text.chars().take(60).collect::<String>()),
                Err(bytes) => format!("{:?}, not UTF-8, was taken", bytes.escape_ascii().to_string()),
            };
            self.not_stored.push(format!("{} {field}: {problem} (303 {location})", sent.path));
        }
        Ok(())
    }

    fn token(&self, persona: Persona) -> String {
        self.visitors[&persona].client.csrf.clone().expect("a visitor holds a token")
    }

    /// Whether `text`, as a form keeps it (trimmed, line breaks as `\n`), is in the database.
    /// Text with a NUL byte never is: PostgreSQL cannot store one.
    async fn stored(&self, text: &str) -> bool {
        if text.contains('\0') {
            return false;
        }
        let text = text.trim().replace("\r\n", "\n").replace('\r', "\n");
        sqlx::query_scalar::<_, bool>(&self.search)
            .bind(text)
            .fetch_one(&self.visitors[&Persona::Member].client.pool)
            .await
            .expect("the text search runs")
    }
}

/// One query that tells whether `$1` occurs in any text or text-array column of the public
/// schema, case aside (emails and handles are compared without case).
async fn text_search_sql(pool: &PgPool) -> String {
    sqlx::query_scalar(
        "select string_agg(format('exists (select from %I where strpos(lower(%s), lower($1)) > 0)',
                                  table_name,
                                  case when data_type = 'ARRAY' then format('array_to_string(%I, chr(10))', column_name)
                                       else format('%I', column_name) end),
                           ' or ')
         from information_schema.columns
         where table_schema = 'public'
           and (data_type in ('text', 'character varying') or udt_name in ('_text', '_varchar'))",
    )
    .fetch_one(pool)
    .await
    .map(|conditions: String| format!("select {conditions}"))
    .expect("the schema has text columns")
}

/// Re-checks every CHECK and FOREIGN KEY constraint of the public schema (domains' included)
/// against the rows there now: each is dropped and added again inside one transaction that
/// is rolled back, and adding a constraint checks every row. PostgreSQL checks them on every
/// write too, but a trigger switched off or a constraint added NOT VALID would skip that; this
/// does not. NOT NULL, primary keys, unique constraints and unique indexes need no such check:
/// PostgreSQL enforces them on every write with no way to skip it. Gives how many were checked,
/// or the first that no longer holds.
async fn revalidate_constraints(pool: &PgPool) -> Result<usize, String> {
    let constraints: Vec<(String, String, String)> = sqlx::query_as(
        "select case when conrelid <> 0 then format('alter table %s', conrelid::regclass)
                     else format('alter domain %s', contypid::regtype) end,
                quote_ident(conname),
                -- Added again in full: one added NOT VALID is checked too.
                regexp_replace(pg_get_constraintdef(oid), ' NOT VALID$', '')
         from pg_constraint
         where connamespace = 'public'::regnamespace and contype in ('c', 'f')
         order by conrelid, conname",
    )
    .fetch_all(pool)
    .await
    .expect("the constraints are listed");
    let mut tx = pool.begin().await.expect("a transaction");
    for (target, name, definition) in &constraints {
        sqlx::raw_sql(&format!("{target} drop constraint {name}; {target} add constraint {name} {definition}"))
            .execute(&mut *tx)
            .await
            .map_err(|err| format!("{name} ({definition}) no longer holds: {err}"))?;
    }
    tx.rollback().await.expect("rolled back");
    Ok(constraints.len())
}

/// Objects the seed does not make, so that every form has a page that shows it: a pending
/// "we have met" claim, a proposed venue, open report cases (one about a photo), a member
/// whose photo uploads are stopped, a meetup in its check-in hour and one just ended, an open
/// suggestion and links from emails. Made through the forms where a person would make them.
/// Gives the pages to crawl beside the routes without parameters, per visitor.
async fn stage(visitors: &mut BTreeMap<Persona, Visitor>) -> BTreeMap<Persona, Vec<String>> {
    let pool = visitors[&Persona::Member].client.pool.clone();
    let ids = |persona: Persona| visitors[&persona].member.expect("a member").0;
    let (demo, admin) = (ids(Persona::Member), ids(Persona::Admin));
    let others: Vec<(i64, String)> = sqlx::query_as(
        "select id, handle from members where id not in ($1, $2) and status = 'active' order by id limit 4",
    )
    .bind(demo)
    .bind(admin)
    .fetch_all(&pool)
    .await
    .unwrap();
    let venue: i64 = sqlx::query_scalar(
        "select v.id from venues v join members m on m.city = v.city
         where m.id = $1 and v.status = 'approved' order by v.id limit 1",
    )
    .bind(demo)
    .fetch_one(&pool)
    .await
    .expect("an approved venue in the demo member's city");
    let photo = give_photo_row(&pool, others[0].0).await;
    sqlx::query("update members set photo_removals = 2 where id = $1").bind(others[1].0).execute(&pool).await.unwrap();
    // Demo's meetup in its check-in hour, the admin's that just ended where demo and a member
    // checked in, and the admin's next week, which demo may join.
    let check_in = meetup(&pool, demo, venue, 30, &[(others[3].0, false)]).await;
    let ended = meetup(&pool, admin, venue, -180, &[(demo, true), (others[3].0, true)]).await;
    let upcoming = meetup(&pool, admin, venue, 7 * 24 * 60, &[]).await;
    sqlx::query(
        "with round as (insert into scheduler_rounds (period, started_at, members_considered, members_matchable,
                            candidate_pairs, pairs_made, total_weight, load_ms, score_ms, match_ms, write_ms)
                        values (date '2000-01-03', now(), 2, 2, 1, 1, 100, 0, 0, 0, 0) returning id)
         insert into suggestions (round_id, a_id, b_id, venue_id, starts_at, weight, a_follows_b, b_follows_a)
         select round.id, least($1::bigint, $2), greatest($1::bigint, $2), $3, now() + interval '3 days', 100, false, false
         from round",
    )
    .bind(demo)
    .bind(others[2].0)
    .bind(venue)
    .execute(&pool)
    .await
    .expect("a suggestion for the demo member");
    // Links from emails, with secrets the run knows.
    let mut anonymous_pages = Vec::new();
    for (purpose, path) in [("verify_email", "/verify-email"), ("reset_password", "/password/reset")] {
        let secret = format!("{:064x}", purpose.len());
        sqlx::query(
            "insert into account_tokens (member_id, purpose, secret_hash, email, expires_at)
             select id, $2::account_token_purpose, sha256(convert_to($3, 'UTF8')), email, now() + interval '1 day'
             from members where id = $1",
        )
        .bind(others[2].0)
        .bind(purpose)
        .bind(&secret)
        .execute(&pool)
        .await
        .unwrap();
        anonymous_pages.push(format!("{path}/{secret}"));
    }

    let member = &mut visitors.get_mut(&Persona::Member).unwrap().client;
    let reported = format!("/report/member/{}", others[0].0);
    let reported_photo = format!("/report/photo/{}-{photo}", others[0].0);
    for (path, fields) in [
        (
            "/venues/new",
            &[
                ("name", "Hostile café"),
                ("address", "1 High Street"),
                ("city", "London"),
                ("time_zone", "Europe/London"),
            ][..],
        ),
        (reported.as_str(), &[("category", "spam"), ("details", "Sells things.")][..]),
        (reported_photo.as_str(), &[("category", "impersonation"), ("details", "")][..]),
    ] {
        let page = member.post(path, fields).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}: {}", page.text(".field-error, .error-page"));
    }
    // Demo's own photo, and a member demo blocks, for the forms that undo them.
    give_photo_row(&pool, demo).await;
    let page = member.post(&format!("/m/{}/block", others[1].1), &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "the demo member blocks a member");
    let admin_client = &mut visitors.get_mut(&Persona::Admin).unwrap().client;
    let page = admin_client.post(&format!("/m/{DEMO_HANDLE}/met"), &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "the admin says they met the demo member");

    let with_handle = |path: &str, n: usize| path.replace("{handle}", &others[n].1);
    BTreeMap::from([
        (Persona::Anonymous, anonymous_pages.clone()),
        (
            Persona::Member,
            [
                anonymous_pages.clone(),
                vec![reported, reported_photo],
                [check_in, ended, upcoming].map(|id| format!("/meetups/{id}")).to_vec(),
            ]
            .concat(),
        ),
        (Persona::Admin, vec![with_handle("/admin/members/{handle}", 0), with_handle("/admin/members/{handle}", 1)]),
    ])
}

/// A public meetup of two hours at `venue` starting `minutes` from now, these members going
/// (and checked in, or not).
async fn meetup(pool: &PgPool, organiser: i64, venue: i64, minutes: i64, going: &[(i64, bool)]) -> i64 {
    let id = insert_meetup(pool, organiser, venue, Utc::now() + Duration::minutes(minutes), "public").await;
    for &(member, checked_in) in going {
        insert_rsvp(pool, id, member, checked_in).await;
    }
    id
}

/// The scene: a seeded community, three visitors, and every form their pages show.
async fn scene() -> (Run, BTreeMap<Route, Form>, usize) {
    let site = Client::new().await;
    cuppa::seed::run_without_photos(&site.pool, MEMBERS, 14).await.expect("the community is seeded");
    let mut visitors = BTreeMap::new();
    for persona in [Persona::Anonymous, Persona::Member, Persona::Admin] {
        visitors.insert(persona, Visitor::new(&site, persona).await);
    }
    let extra = stage(&mut visitors).await;
    let plain: Vec<String> = cuppa::routes()
        .list()
        .iter()
        .filter(|route| route.method == Method::Get && !route.path.contains('{'))
        .map(|route| route.path.to_owned())
        .collect();
    let mut forms = BTreeMap::new();
    let mut pages = 0;
    for (persona, visitor) in &mut visitors {
        pages += crawl(visitor, &[plain.clone(), extra[persona].clone()].concat(), &mut forms).await;
    }
    // A warning is read before anything else, so it comes after the crawl: the admin warns
    // the demo member, who reads it (the page with the acknowledge form) and acknowledges.
    let admin = visitors.get_mut(&Persona::Admin).unwrap();
    let warned = admin
        .client
        .post(&format!("/admin/members/{DEMO_HANDLE}/action"), &[("action", "warn"), ("reason", "Be kind.")])
        .await;
    assert_eq!(warned.status, StatusCode::SEE_OTHER, "the admin warns the demo member");
    let member = visitors.get_mut(&Persona::Member).unwrap();
    pages += crawl(member, &["/warning".to_owned()], &mut forms).await;
    let last = forms.values().flat_map(|f| f.fields.get("last")).flat_map(|f| f.values.iter()).next().cloned();
    let read = member.client.post("/warning/acknowledge", &[("last", last.as_deref().unwrap_or_default())]).await;
    assert_eq!(read.status, StatusCode::SEE_OTHER, "the demo member acknowledges the warning");

    let search = text_search_sql(&site.pool).await;
    let run = Run {
        visitors,
        search,
        statuses: BTreeMap::new(),
        sent: BTreeMap::new(),
        took: BTreeMap::new(),
        not_stored: Vec::new(),
        accepted: BTreeMap::new(),
        restored: 0,
    };
    (run, forms, pages)
}

#[test]
fn hostile_bodies_to_every_form_get_no_server_error_and_leave_every_constraint_holding() {
    let started = Instant::now();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let (run, mut forms, pages) = runtime.block_on(scene());
    let crawled = started.elapsed();

    // Every POST route, shown on a page or not: one that no page shows gets the field names
    // of every form, and ids seen in any form's path.
    let all_fields: BTreeMap<String, Field> =
        forms.values().flat_map(|form| form.fields.clone()).filter(|(_, f)| f.kind != Kind::File).collect();
    let mut unseen = Vec::new();
    for route in cuppa::routes().list().iter().filter(|r| r.method == Method::Post) {
        if !forms.contains_key(route) {
            unseen.push(route.path);
            forms.insert(*route, Form { fields: all_fields.clone(), ..Form::default() });
        }
    }
    // A field its own page leaves empty is filled in as pages fill a field of that name
    // elsewhere: a meetup's edit form shows what its new form needs.
    let mut elsewhere: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, field) in forms.values().flat_map(|form| &form.fields) {
        elsewhere.entry(name.clone()).or_default().extend(field.values.iter().cloned());
    }
    for (name, field) in forms.values_mut().flat_map(|form| form.fields.iter_mut()) {
        if field.values.is_empty() {
            field.values = elsewhere[name].clone();
        }
    }
    let mut known: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (route, form) in &forms {
        for path in &form.actions {
            for (name, value) in parameters(route.path, path) {
                known.entry(name).or_default().insert(value);
            }
        }
    }

    /// The seed of an ordinary run.
    const FIXED_SEED: u64 = 20_261_129;
    let seed = match std::env::var("HOSTILE_SEED").as_deref() {
        Ok("random") => rand::random::<u64>(),
        Ok(seed) => seed.parse().expect("HOSTILE_SEED is a number or `random`"),
        Err(_) => FIXED_SEED,
    };
    eprintln!("hostile: proptest seed {seed} (HOSTILE_SEED={seed} repeats this run)");
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        max_shrink_iters: 64,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    };
    let run = tokio::sync::Mutex::new(run);
    let mut failures = Vec::new();
    for (route, form) in &forms {
        let mut personas = vec![Persona::Member];
        if route.path.starts_with("/admin") {
            personas.push(Persona::Admin);
        }
        if form.shown_to.contains(&Persona::Anonymous) {
            personas.push(Persona::Anonymous);
        }
        for persona in personas {
            let mut cases = |strategy: BoxedStrategy<Sent>, cases: u32| {
                let mut runner = TestRunner::new(Config { cases, ..config.clone() });
                let result = runner.run(&strategy, |sent: Sent| {
                    runtime.block_on(async { run.lock().await.check(*route, form, persona, &sent).await })
                });
                if let Err(err) = result {
                    let why = match err {
                        TestError::Fail(why, sent) => format!("{why}\n  minimal body: {sent:?}"),
                        TestError::Abort(why) => why.to_string(),
                    };
                    failures.push(format!("POST {} as {persona:?}: {why}", route.path));
                }
            };
            cases(body_strategy(path_strategy(*route, form, &known, persona), form), CASES);
            let accepted = runtime.block_on(async { run.lock().await.accepted.get(&(*route, persona)).cloned() });
            if let Some(accepted) = accepted.filter(|sent| !sent.parts.is_empty()) {
                cases(deep_strategy(accepted, form), DEEP_CASES);
            }
            // The few large bodies, sent as they are.
            runtime.block_on(async {
                let mut run = run.lock().await;
                let path = form.actions.iter().next().cloned().unwrap_or_else(|| route.path.replace(['{', '}'], ""));
                let token = run.token(persona);
                for request in big_bodies(&path, form, &token) {
                    let page = run.send(*route, persona, request).await;
                    if page.status.is_server_error() {
                        failures.push(format!("POST {path} as {persona:?}: {} for a 10 MB body", page.status));
                    }
                }
            });
        }
    }
    let run = run.into_inner();
    let pool = run.visitors[&Persona::Member].client.pool.clone();
    let constraints = runtime.block_on(revalidate_constraints(&pool)).unwrap_or_else(|broken| {
        failures.push(broken);
        0
    });

    let total: usize = run.sent.values().sum();
    let sending: std::time::Duration = run.took.values().sum();
    eprintln!(
        "hostile: {} forms, {total} bodies sent in {:.1}s ({} pages crawled in {:.1}s), {constraints} CHECK and FOREIGN KEY constraints revalidated, {} sessions restored, {:.1}s in all",
        forms.len(),
        sending.as_secs_f64(),
        pages,
        crawled.as_secs_f64(),
        run.restored,
        started.elapsed().as_secs_f64()
    );
    for (route, sent) in &run.sent {
        let statuses: Vec<String> = run.statuses[route].iter().map(|(s, n)| format!("{s}×{n}")).collect();
        let shown = if unseen.contains(&route.path) { " (no page shows it)" } else { "" };
        let ms = run.took[route].as_millis() / *sent as u128;
        eprintln!("  {:<44} {sent:>4} bodies, {ms:>3} ms each: {}{shown}", route.path, statuses.join(" "));
    }
    if !run.not_stored.is_empty() {
        failures.push(format!("typed text taken (303) but not stored as typed:\n  {}", run.not_stored.join("\n  ")));
    }
    assert!(failures.is_empty(), "hostile bodies that broke Cuppa:\n{}", failures.join("\n\n"));
}

/// Found by the run above: a form whose percent-encoding decodes to bytes that are not UTF-8
/// (here a lone surrogate, `%ED%A0%80`, and a stray `%FF`) was read with U+FFFD in their place
/// and stored so, changed without a word. It is refused, and nothing changes.
#[tokio::test]
async fn a_form_that_is_not_utf8_is_refused_not_stored_changed() {
    let mut ann = Client::new().await;
    ann.sign_up("ann").await;
    let fields = |name| [("display_name", name), ("bio", ""), ("city", ""), ("time_zone", "UTC"), ("interests", "")];
    for name in ["Ann%ED%A0%80", "Ann%FF"] {
        let token = ann.get("/settings/profile").await.value("input[name=csrf_token]").unwrap();
        let body = format!("csrf_token={token}&{}", fields(name).map(|(k, v)| format!("{k}={v}")).join("&"));
        let request = Request::post("/settings/profile")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let page = ann.send(request).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{name}");
        assert!(page.body.contains("not sent as UTF-8"), "{}", page.text("main"));
    }
    // What is UTF-8 is read as sent.
    assert_eq!(ann.post("/settings/profile", &fields("Zoë ☕")).await.status, StatusCode::SEE_OTHER);
    let stored: String =
        sqlx::query_scalar("select display_name from members where handle = 'ann'").fetch_one(&ann.pool).await.unwrap();
    assert_eq!(stored, "Zoë ☕");
}

/// Found by the run above: a NUL byte in the handle of an admin page or action (or of the audit
/// log's filter) reached PostgreSQL, which refuses NUL in text, and the admin got a 500. It
/// names nobody: the page is a 404, the filter says so.
#[tokio::test]
async fn a_nul_byte_in_a_handle_in_the_admin_area_names_nobody() {
    let mut admin = Client::new().await;
    admin.sign_up("an_admin").await;
    sqlx::query("update members set role = 'admin' where handle = 'an_admin'").execute(&admin.pool).await.unwrap();
    assert_eq!(admin.get("/admin/members/a%00b").await.status, StatusCode::NOT_FOUND);
    let audit = admin.get("/admin/audit?target=a%00b").await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(audit.body.contains("No member has the handle"), "{}", audit.text("main"));
    for (action, fields) in [
        ("action", &[("action", "warn"), ("reason", "Be kind.")][..]),
        ("action", &[("action", "hide"), ("reason", "")][..]),
        ("role", &[("role", "organiser"), ("role_reason", "Runs meetups.")][..]),
        ("photo/allow", &[("allow_reason", "A mix-up.")][..]),
    ] {
        let page = admin.post(&format!("/admin/members/%00/{action}"), fields).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{action} {fields:?}");
    }
}

/// The check above can fail: a row that breaks a CHECK constraint, let in by a constraint
/// added NOT VALID (as a careless migration could), is found.
#[tokio::test]
async fn revalidating_the_constraints_finds_a_row_that_breaks_one() {
    let pool = crate::support::fresh_pool().await;
    assert!(revalidate_constraints(&pool).await.is_ok());
    sqlx::raw_sql(
        "insert into members (email, handle, display_name, password_hash) values ('a@example.com', 'ann', 'Ann', 'x');
         alter table availability drop constraint availability_window;
         insert into availability (member_id, weekday, start_minute, end_minute)
         select id, 1, 600, 540 from members;
         alter table availability add constraint availability_window
             check (0 <= start_minute and start_minute < end_minute and end_minute <= 1440) not valid;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let broken = revalidate_constraints(&pool).await.expect_err("the window that ends before it starts is found");
    assert!(broken.starts_with("availability_window"), "{broken}");
}
