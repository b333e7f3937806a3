//! Group meetups: 200 members racing for 10 seats on a real server, the waitlist's order, the
//! cut-offs, who may see and change a meetup, cancelling, the organiser's form and repeats
//! across a clock change, check-in and "I met them", hostile text, invitations and
//! announcements, the list's filters and pages, and the home page.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use argon2::password_hash::PasswordHasher;
use argon2::{Algorithm, Argon2, Params, Version};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Europe::London;
use cuppa::meetups::model::ordinal;
use scraper::{ElementRef, Html, Selector};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Client, PASSWORD, Page, add_venue, spawn_server};

/// An organiser (Olive, in London) with an approved café in London.
struct Scene {
    olive: Client,
    olive_id: i64,
    venue: i64,
}

async fn scene() -> Scene {
    let mut olive = Client::new().await;
    let olive_id = olive.sign_up("olive").await;
    set_role(&olive.pool, olive_id, "organiser").await;
    sqlx::query("update members set city = 'London', time_zone = 'Europe/London' where id = $1")
        .bind(olive_id)
        .execute(&olive.pool)
        .await
        .unwrap();
    let venue = add_venue(&olive.pool, "Café Lumen", "London").await;
    Scene { olive, olive_id, venue }
}

impl Scene {
    async fn member(&self, handle: &str) -> (Client, i64) {
        join(&self.olive, handle).await
    }

    fn pool(&self) -> PgPool {
        self.olive.pool.clone()
    }
}

/// Another member of the same site, signed up and logged in on their own client.
async fn join(site: &Client, handle: &str) -> (Client, i64) {
    let mut client = site.another();
    let id = client.sign_up(handle).await;
    (client, id)
}

async fn set_role(pool: &PgPool, member: i64, role: &str) {
    sqlx::query("update members set role = $2::member_role where id = $1")
        .bind(member)
        .bind(role)
        .execute(pool)
        .await
        .unwrap();
}

/// A `datetime-local` value `days` from today, at `hour` o'clock in London.
fn local_in(days: i64, hour: u32) -> String {
    let day = (Utc::now() + Duration::days(days)).with_timezone(&London).date_naive();
    format!("{}T{hour:02}:00", day.format("%Y-%m-%d"))
}

/// What an organiser types into the meetup form.
#[derive(Clone)]
struct Draft {
    title: String,
    description: String,
    venue: String,
    starts_at: String,
    ends_at: String,
    capacity: String,
    visibility: &'static str,
    rsvp_deadline: String,
    repeat: &'static str,
}

impl Draft {
    /// A public one-off, `days` from now from 10:00 to 12:00, with 12 seats.
    fn new(venue: i64, title: &str, days: i64) -> Draft {
        Draft {
            title: title.to_owned(),
            description: "Coffee and a chat by the window.".to_owned(),
            venue: venue.to_string(),
            starts_at: local_in(days, 10),
            ends_at: local_in(days, 12),
            capacity: "12".to_owned(),
            visibility: "public",
            rsvp_deadline: String::new(),
            repeat: "",
        }
    }

    fn seats(self, capacity: u32) -> Draft {
        Draft { capacity: capacity.to_string(), ..self }
    }

    fn fields(&self) -> Vec<(String, String)> {
        [
            ("title", self.title.as_str()),
            ("description", &self.description),
            ("venue_id", &self.venue),
            ("starts_at", &self.starts_at),
            ("ends_at", &self.ends_at),
            ("capacity", &self.capacity),
            ("visibility", self.visibility),
            ("rsvp_deadline", &self.rsvp_deadline),
            ("repeat", self.repeat),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

async fn post_fields(client: &mut Client, path: &str, fields: &[(String, String)]) -> Page {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    client.post(path, &fields).await
}

async fn post_meetup(organiser: &mut Client, draft: &Draft) -> Page {
    organiser.get("/meetups/new").await;
    post_fields(organiser, "/meetups/new", &draft.fields()).await
}

/// Posts `draft` and gives the new meetup's id.
async fn new_meetup(organiser: &mut Client, draft: &Draft) -> i64 {
    let page = post_meetup(organiser, draft).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text(".field-error"));
    id_from(page.location())
}

fn id_from(location: &str) -> i64 {
    location.rsplit('/').next().unwrap().parse().expect("a meetup's page")
}

/// The fields of the page's meetup form as a browser would send them (the token aside).
fn form_fields(page: &Page) -> Vec<(String, String)> {
    let html = Html::parse_document(&page.body);
    let selector = Selector::parse("form[action$='/edit'] :is(input, textarea, select)").unwrap();
    let option = Selector::parse("option[selected]").unwrap();
    let mut fields = Vec::new();
    for element in html.select(&selector) {
        let e = element.value();
        let Some(name) = e.attr("name").filter(|n| *n != "csrf_token") else { continue };
        let value = match e.name() {
            "textarea" => element.text().collect::<String>(),
            "select" => element.select(&option).next().and_then(|o| o.value().attr("value")).unwrap_or("").to_owned(),
            _ if matches!(e.attr("type"), Some("radio" | "checkbox")) => {
                if e.attr("checked").is_none() {
                    continue;
                }
                e.attr("value").unwrap_or("on").to_owned()
            }
            _ => e.attr("value").unwrap_or("").to_owned(),
        };
        fields.push((name.to_owned(), value));
    }
    assert!(!fields.is_empty(), "an edit form on the page");
    fields
}

fn with(mut fields: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    let field = fields.iter_mut().find(|(k, _)| k == name).expect("the form has the field");
    field.1 = value.to_owned();
    fields
}

/// Every `.field-error` on the page as (field, message), each checked to sit in the same
/// `.field` as the input it names.
fn errors_beside_fields(page: &Page) -> Vec<(String, String)> {
    let html = Html::parse_document(&page.body);
    let errors = Selector::parse(".field-error").unwrap();
    html.select(&errors)
        .map(|error| {
            let field = error.value().attr("id").and_then(|id| id.strip_suffix("-error")).expect("an error's id");
            let container = error.parent().and_then(ElementRef::wrap).expect("an error inside a field");
            let input = Selector::parse(&format!("[name={field}]")).unwrap();
            assert!(container.select(&input).next().is_some(), "the error for {field} sits beside its input");
            (field.to_owned(), error.text().collect::<String>().trim().to_owned())
        })
        .collect()
}

async fn rsvp(client: &mut Client, meetup: i64) -> Page {
    client.post(&format!("/meetups/{meetup}/rsvp"), &[]).await
}

async fn status_of(pool: &PgPool, meetup: i64, member: i64) -> Option<String> {
    sqlx::query_scalar("select status::text from rsvps where meetup_id = $1 and member_id = $2")
        .bind(meetup)
        .bind(member)
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// How many RSVPs to the meetup have each status.
async fn counts(pool: &PgPool, meetup: i64) -> (i64, i64) {
    sqlx::query_as(
        "select count(*) filter (where status = 'going'), count(*) filter (where status = 'waitlisted')
         from rsvps where meetup_id = $1",
    )
    .bind(meetup)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The kinds of notification a member has, oldest first.
async fn kinds_for(pool: &PgPool, member: i64) -> Vec<String> {
    sqlx::query_scalar("select kind::text from notifications where member_id = $1 order by id")
        .bind(member)
        .fetch_all(pool)
        .await
        .unwrap()
}

/// The member's emails waiting in the outbox: (kind, address, body).
async fn mail_for(pool: &PgPool, member: i64) -> Vec<(String, String, String)> {
    sqlx::query_as("select kind::text, to_address, body from outbox where member_id = $1 order by id")
        .bind(member)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn run_sql(pool: &PgPool, sql: &str, meetup: i64) {
    sqlx::query(sql).bind(meetup).execute(pool).await.unwrap();
}

/// The titles of the meetup cards on a page.
fn card_titles(page: &Page) -> Vec<String> {
    page.texts(".meetup-card strong")
}

/// The handles in a meetup page's attendee lists.
fn attendee_handles(page: &Page) -> Vec<String> {
    page.attrs(".attendees a.person", "href").iter().map(|h| h.trim_start_matches("/m/").to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// The race for seats.

/// Sends one raw HTTP/1.1 request on its own connection once everyone is ready; gives the
/// status and the `Location` header.
async fn raw_post(
    addr: std::net::SocketAddr,
    request: Vec<u8>,
    start: Arc<tokio::sync::Barrier>,
) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    start.wait().await;
    stream.write_all(&request).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let location = answer
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("location")))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    Ok((status, location))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_rsvps_at_once_for_ten_seats_seat_ten_and_queue_the_rest_in_arrival_order() {
    const GUESTS: usize = 200;
    const SEATS: i64 = 10;
    let Scene { mut olive, venue, .. } = scene().await;
    let pool = olive.pool.clone();
    let series = Draft { repeat: "weekly", ..Draft::new(venue, "The big coffee", 10) }.seats(SEATS as u32);
    let first = new_meetup(&mut olive, &series).await;
    let rounds: Vec<i64> =
        sqlx::query_scalar("select id from meetups where id = $1 or series_id = $1 order by id limit 5")
            .bind(first)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rounds.len(), 5);

    // 200 members in one statement, each logged in once. Their hash has Argon2's cheapest
    // parameters (a check reads them from the hash): the log-ins are setup, not under test.
    let cheap = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8, 1, 1, None).unwrap());
    let hash = cheap.hash_password(PASSWORD.as_bytes()).unwrap().to_string();
    let ids: Vec<i64> = sqlx::query_scalar(
        "insert into members (email, handle, display_name, password_hash)
         select format('guest%s@example.com', i), format('guest%s', i), format('Guest %s', i), $1
         from generate_series(1, $2) as i
         order by i
         returning id",
    )
    .bind(&hash)
    .bind(GUESTS as i32)
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut guests: HashMap<i64, Client> = HashMap::new();
    let mut requests: Vec<(i64, String, String)> = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let mut guest = olive.another();
        let done = guest.log_in(&format!("guest{}", n + 1), PASSWORD).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER);
        guest.get("/meetups").await;
        let cookie = guest.session_cookie().expect("a session");
        let token = guest.csrf.clone().expect("a token");
        requests.push((*id, cookie, token));
        guests.insert(*id, guest);
    }

    let (addr, stop, server) = spawn_server(olive.router.clone(), StdDuration::from_secs(10)).await;
    for (round, meetup) in rounds.into_iter().enumerate() {
        let start = Arc::new(tokio::sync::Barrier::new(GUESTS));
        let began = Instant::now();
        let mut tasks = Vec::new();
        for (member, cookie, token) in &requests {
            let body = format!("csrf_token={token}");
            let request = format!(
                "POST /meetups/{meetup}/rsvp HTTP/1.1\r\nHost: {addr}\r\nCookie: cuppa_session={cookie}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let member = *member;
            let task = tokio::spawn(raw_post(addr, request.into_bytes(), start.clone()));
            tasks.push((member, task));
        }
        let mut answers = Vec::new();
        for (member, task) in tasks {
            let answer = tokio::time::timeout(StdDuration::from_secs(120), task)
                .await
                .expect("every request is answered within two minutes")
                .unwrap()
                .expect("the connection works");
            answers.push((member, answer));
        }
        println!("meetup {meetup}: {GUESTS} concurrent RSVPs answered in {:?}", began.elapsed());
        for (member, (status, location)) in &answers {
            assert!(*status < 500, "member {member} got {status}");
            assert_eq!(*status, 303, "member {member}");
            assert_eq!(location, &format!("/meetups/{meetup}"));
        }

        assert_eq!(counts(&pool, meetup).await, (SEATS, GUESTS as i64 - SEATS));
        let in_order: bool = sqlx::query_scalar(
            "select (select max(arrival) from rsvps where meetup_id = $1 and status = 'going')
                  < (select min(arrival) from rsvps where meetup_id = $1 and status = 'waitlisted')",
        )
        .bind(meetup)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(in_order, "every seat went to someone who arrived before everyone waiting");
        let waiting: Vec<i64> = sqlx::query_scalar(
            "select member_id from rsvps where meetup_id = $1 and status = 'waitlisted' order by arrival",
        )
        .bind(meetup)
        .fetch_all(&pool)
        .await
        .unwrap();
        let path = format!("/meetups/{meetup}");
        // In the first round, the place each was told of as their answer came back is the one
        // they hold: no two were given the same place. (The flash shows on the next page, and an
        // empty list is a light one.)
        if round == 0 {
            for (member, _) in &answers {
                let page = guests.get_mut(member).unwrap().get("/meetups?city=Nowhere").await;
                let told = match waiting.iter().position(|w| w == member) {
                    Some(k) => format!(
                        "The meetup is full: you are {} on the waitlist. You will be told if a seat frees up.",
                        ordinal(k as i64 + 1)
                    ),
                    None => "You are going. See you there!".to_owned(),
                };
                assert_eq!(page.text(".flash"), told, "member {member}");
            }
        }
        let last = guests.get_mut(waiting.last().unwrap()).unwrap().get(&path).await;
        assert_eq!(last.text(".status-line"), "You are 190th on the waitlist.");
        let first = guests.get_mut(&waiting[0]).unwrap().get(&path).await;
        assert_eq!(first.text(".status-line"), "You are 1st on the waitlist.");
        assert!(first.text(".facts").contains("10 taken of 10, none left · 190 on the waitlist"));
        let seated: i64 = sqlx::query_scalar(
            "select member_id from rsvps where meetup_id = $1 and status = 'going' order by arrival limit 1",
        )
        .bind(meetup)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(guests.get_mut(&seated).unwrap().get(&path).await.text(".status-line"), "You are going.");
    }
    stop.send(true).unwrap();
    server.await.unwrap().unwrap();
}

// ---------------------------------------------------------------------------------------------
// The waitlist.

#[tokio::test]
async fn a_freed_seat_goes_to_the_first_waiting_and_a_raised_capacity_seats_the_next_in_order() {
    let mut scene = scene().await;
    let pool = scene.pool();
    let id = new_meetup(&mut scene.olive, &Draft::new(scene.venue, "Small table", 5).seats(2)).await;
    let mut people = Vec::new();
    for handle in ["ann", "ben", "cat", "dan", "eve", "fay"] {
        let (mut client, member) = scene.member(handle).await;
        assert_eq!(rsvp(&mut client, id).await.status, StatusCode::SEE_OTHER);
        people.push((client, member));
    }
    let [ann, ben, cat, dan, eve, fay] = people.iter().map(|(_, m)| *m).collect::<Vec<_>>()[..] else { panic!() };
    assert_eq!(counts(&pool, id).await, (2, 4));
    let path = format!("/meetups/{id}");
    let page = people[3].0.get(&path).await;
    assert_eq!(
        page.text(".flash"),
        "The meetup is full: you are 2nd on the waitlist. You will be told if a seat frees up."
    );
    assert_eq!(page.text(".status-line"), "You are 2nd on the waitlist.");

    // Ann cannot come after all: Cat, first in line, gets her seat and is told.
    let done = people[0].0.post(&format!("/meetups/{id}/rsvp/cancel"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(status_of(&pool, id, ann).await.as_deref(), Some("cancelled"));
    assert_eq!(status_of(&pool, id, cat).await.as_deref(), Some("going"));
    assert_eq!(kinds_for(&pool, cat).await, ["meetup_promoted"]);
    let mail = mail_for(&pool, cat).await;
    assert_eq!(mail.len(), 1);
    assert_eq!((mail[0].0.as_str(), mail[0].1.as_str()), ("meetup_promoted", "cat@example.com"));
    assert!(mail[0].2.contains("Small table"));
    assert_eq!(people[2].0.get(&path).await.text(".status-line"), "You are going.");
    assert_eq!(people[3].0.get(&path).await.text(".status-line"), "You are 1st on the waitlist.");
    assert!(kinds_for(&pool, dan).await.is_empty());

    // Olive raises the capacity from 2 to 4: Dan and Eve, next in line, are seated.
    let olive = &mut scene.olive;
    let form = olive.get(&format!("/meetups/{id}/edit")).await;
    assert_eq!(form.status, StatusCode::OK);
    let fields = form_fields(&form);
    assert_eq!(fields.iter().find(|(k, _)| k == "capacity").unwrap().1, "2");
    let saved = post_fields(olive, &format!("/meetups/{id}/edit"), &with(fields.clone(), "capacity", "4")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text(".field-error"));
    assert!(olive.get(&path).await.text(".flash").contains("2 from the waitlist now have a seat."));
    assert_eq!(status_of(&pool, id, dan).await.as_deref(), Some("going"));
    assert_eq!(status_of(&pool, id, eve).await.as_deref(), Some("going"));
    assert_eq!(status_of(&pool, id, fay).await.as_deref(), Some("waitlisted"));
    assert_eq!(kinds_for(&pool, dan).await, ["meetup_promoted"]);
    assert_eq!(kinds_for(&pool, eve).await, ["meetup_promoted"]);
    assert!(kinds_for(&pool, fay).await.is_empty(), "a capacity change moves nobody's time: no notice");
    assert_eq!(people[5].0.get(&path).await.text(".status-line"), "You are 1st on the waitlist.");

    // Lowering it to 1 unseats nobody, and a seat freed then goes to nobody either.
    let saved = post_fields(olive, &format!("/meetups/{id}/edit"), &with(fields, "capacity", "1")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(counts(&pool, id).await, (4, 1));
    assert!(olive.get(&path).await.text(".facts").contains("4 taken of 1, none left · 1 on the waitlist"));
    let done = people[1].0.post(&format!("/meetups/{id}/rsvp/cancel"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(status_of(&pool, id, ben).await.as_deref(), Some("cancelled"));
    assert_eq!(counts(&pool, id).await, (3, 1));
    assert_eq!(status_of(&pool, id, fay).await.as_deref(), Some("waitlisted"));
}

#[tokio::test]
async fn a_member_takes_one_seat_the_organiser_none_and_one_who_left_rejoins_at_the_back() {
    let mut scene = scene().await;
    let pool = scene.pool();
    let id = new_meetup(&mut scene.olive, &Draft::new(scene.venue, "One seat", 5).seats(1)).await;
    let (mut ann, ann_id) = scene.member("ann").await;
    let (mut ben, ben_id) = scene.member("ben").await;
    assert_eq!(rsvp(&mut ann, id).await.status, StatusCode::SEE_OTHER);
    let again = rsvp(&mut ann, id).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.text(".error-page").contains("You have already said you are coming to this meetup."));
    assert_eq!(rsvp(&mut scene.olive, id).await.status, StatusCode::CONFLICT);
    assert_eq!(rsvp(&mut ben, id).await.status, StatusCode::SEE_OTHER);
    assert_eq!(status_of(&pool, id, ben_id).await.as_deref(), Some("waitlisted"));

    // Ben leaves the waitlist and comes back; Ann leaves: Ben is seated.
    assert_eq!(ben.post(&format!("/meetups/{id}/rsvp/cancel"), &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(rsvp(&mut ben, id).await.status, StatusCode::SEE_OTHER);
    assert_eq!(ann.post(&format!("/meetups/{id}/rsvp/cancel"), &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(status_of(&pool, id, ben_id).await.as_deref(), Some("going"));
    assert_eq!(status_of(&pool, id, ann_id).await.as_deref(), Some("cancelled"));
    let twice = ann.post(&format!("/meetups/{id}/rsvp/cancel"), &[]).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
}

// ---------------------------------------------------------------------------------------------
// Cut-offs.

#[tokio::test]
async fn rsvps_stop_at_the_deadline_and_at_the_start_and_the_page_says_why() {
    let mut scene = scene().await;
    let pool = scene.pool();
    let draft = Draft { rsvp_deadline: local_in(4, 18), ..Draft::new(scene.venue, "Early birds", 5) };
    let id = new_meetup(&mut scene.olive, &draft).await;
    let (mut ann, _) = scene.member("ann").await;
    let (mut ben, _) = scene.member("ben").await;
    let path = format!("/meetups/{id}");
    let rsvp_form = format!("form[action='/meetups/{id}/rsvp']");
    let page = ben.get(&path).await;
    assert_eq!(page.text(&format!("{rsvp_form} button")), "I'm going");
    assert!(page.text(".facts").contains("RSVP by"));
    assert_eq!(rsvp(&mut ann, id).await.status, StatusCode::SEE_OTHER);

    run_sql(&pool, "update meetups set rsvp_deadline = now() - interval '1 minute' where id = $1", id).await;
    let late = rsvp(&mut ben, id).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(late.text(".error-page").contains("The RSVP deadline for this meetup has passed."));
    let page = ben.get(&path).await;
    assert!(page.attrs(&rsvp_form, "action").is_empty(), "no button to press");
    assert_eq!(page.text("section.answer p.muted"), "The RSVP deadline for this meetup has passed.");
    assert_eq!(ann.get(&path).await.text(".status-line"), "You are going.");

    run_sql(
        &pool,
        "update meetups set rsvp_deadline = null, starts_at = now() - interval '10 minutes',
                ends_at = now() + interval '1 hour' where id = $1",
        id,
    )
    .await;
    let started = rsvp(&mut ben, id).await;
    assert_eq!(started.status, StatusCode::CONFLICT);
    assert!(started.text(".error-page").contains("This meetup has started, so it takes no more RSVPs."));
    let page = ben.get(&path).await;
    assert!(page.attrs(&rsvp_form, "action").is_empty());
    assert_eq!(page.text("section.answer p.muted"), "This meetup has started, so it takes no more RSVPs.");
    let leave = ann.post(&format!("/meetups/{id}/rsvp/cancel"), &[]).await;
    assert_eq!(leave.status, StatusCode::CONFLICT, "a seat cannot be given up once it has started");
}

// ---------------------------------------------------------------------------------------------
// Who sees what.

#[tokio::test]
async fn a_followers_only_meetup_is_hidden_from_others_and_anonymous_visitors_are_asked_to_log_in() {
    let mut scene = scene().await;
    let draft = Draft { visibility: "followers", ..Draft::new(scene.venue, "Friends' breakfast", 5) };
    let id = new_meetup(&mut scene.olive, &draft).await;
    let (mut fay, _) = scene.member("fay").await;
    let (mut nick, _) = scene.member("nick").await;
    assert_eq!(fay.post("/m/olive/follow", &[]).await.status, StatusCode::SEE_OTHER);
    let path = format!("/meetups/{id}");

    assert_eq!(nick.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(rsvp(&mut nick, id).await.status, StatusCode::NOT_FOUND);
    assert!(!card_titles(&nick.get("/meetups?city=").await).contains(&"Friends' breakfast".to_owned()));
    let mut anonymous = scene.olive.another();
    let page = anonymous.get(&path).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), format!("/login?next=/meetups/{id}"));
    assert!(card_titles(&anonymous.get("/meetups").await).is_empty());

    let page = fay.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text("h1"), "Friends' breakfast");
    assert!(page.text("header .badge").contains("Followers only"));
    assert_eq!(card_titles(&fay.get("/meetups?city=").await), ["Friends' breakfast"]);
    assert_eq!(rsvp(&mut fay, id).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_public_meetup_reads_logged_out_without_its_attendees() {
    let mut scene = scene().await;
    let id = new_meetup(&mut scene.olive, &Draft::new(scene.venue, "Open coffee", 5)).await;
    let (mut ann, _) = scene.member("ann").await;
    rsvp(&mut ann, id).await;
    let mut anonymous = scene.olive.another();
    let page = anonymous.get(&format!("/meetups/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text("h1"), "Open coffee");
    assert!(page.text("header").contains("Organised by olive"));
    let facts = page.text(".facts");
    let day = local_in(5, 10)[..10].to_owned();
    let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d").unwrap().format("%-d %b %Y").to_string();
    assert!(facts.contains(&day) && facts.contains("10:00"), "{facts}");
    assert!(facts.contains("Café Lumen") && facts.contains("12 Market Street"), "{facts}");
    assert!(attendee_handles(&page).is_empty());
    assert!(!page.body.contains("@ann"), "nobody's RSVP shows to a visitor");
    assert!(page.body.contains("Log in to see who is going."));
    assert_eq!(page.attrs(".answer a[href^='/login']", "href"), [format!("/login?next=/meetups/{id}")]);
    assert_eq!(card_titles(&anonymous.get("/meetups").await), ["Open coffee"]);
}

#[tokio::test]
async fn blocks_hide_meetups_across_the_organiser_and_attendees_from_each_other() {
    let mut scene = scene().await;
    let id = new_meetup(&mut scene.olive, &Draft::new(scene.venue, "Blocked or not", 5)).await;
    let path = format!("/meetups/{id}");
    let (mut bea, _) = scene.member("bea").await;
    let (mut bob, _) = scene.member("bob").await;
    let (mut ann, _) = scene.member("ann").await;
    let (mut ben, _) = scene.member("ben").await;
    let (mut nick, _) = scene.member("nick").await;
    for client in [&mut ann, &mut ben, &mut nick] {
        assert_eq!(rsvp(client, id).await.status, StatusCode::SEE_OTHER);
    }
    let olive = &mut scene.olive;

    // Bea blocks the organiser; the organiser blocks Bob.
    assert_eq!(bea.post("/m/olive/block", &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(olive.post("/m/bob/block", &[]).await.status, StatusCode::SEE_OTHER);
    for client in [&mut bea, &mut bob] {
        assert_eq!(client.get(&path).await.status, StatusCode::NOT_FOUND);
        assert!(card_titles(&client.get("/meetups?city=").await).is_empty());
        assert_eq!(rsvp(client, id).await.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(card_titles(&nick.get("/meetups?city=").await), ["Blocked or not"]);

    // Ann blocks Ben: neither sees the other on the list; Nick sees both.
    assert_eq!(ann.post("/m/ben/block", &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(attendee_handles(&ann.get(&path).await), ["ann", "nick"]);
    assert_eq!(attendee_handles(&ben.get(&path).await), ["ben", "nick"]);
    assert_eq!(attendee_handles(&nick.get(&path).await), ["ann", "ben", "nick"]);
    assert_eq!(attendee_handles(&olive.get(&path).await), ["ann", "ben", "nick"]);
}

// ---------------------------------------------------------------------------------------------
// Who may change a meetup.

#[tokio::test]
async fn only_the_organiser_or_an_admin_may_edit_cancel_or_check_in() {
    let mut scene = scene().await;
    let pool = scene.pool();
    let id = new_meetup(&mut scene.olive, &Draft::new(scene.venue, "Mine to run", 5)).await;
    let edit = format!("/meetups/{id}/edit");
    let fields = form_fields(&scene.olive.get(&edit).await);
    let (mut otto, otto_id) = scene.member("otto").await;
    set_role(&pool, otto_id, "organiser").await;
    let (mut pat, pat_id) = scene.member("pat").await;
    rsvp(&mut pat, id).await;
    let check_in = [("member", pat_id.to_string()), ("checked_in", "on".to_owned())].map(|(k, v)| (k.to_owned(), v));

    for client in [&mut otto, &mut pat] {
        assert_eq!(client.get(&edit).await.status, StatusCode::FORBIDDEN);
        assert_eq!(
            post_fields(client, &edit, &with(fields.clone(), "title", "Taken over")).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            post_fields(client, &edit, &with(fields.clone(), "capacity", "0")).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(client.post(&format!("/meetups/{id}/cancel"), &[]).await.status, StatusCode::FORBIDDEN);
        assert_eq!(
            post_fields(client, &format!("/meetups/{id}/check-in"), &check_in).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(client.post(&format!("/meetups/{id}/invite-followers"), &[]).await.status, StatusCode::FORBIDDEN);
        let said = client.post(&format!("/meetups/{id}/announce"), &[("text", "Hello")]).await;
        assert_eq!(said.status, StatusCode::FORBIDDEN);
    }
    let mut anonymous = scene.olive.another();
    let page = anonymous.get(&edit).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), format!("/login?next=/meetups/{id}/edit"));
    let page = anonymous.post(&format!("/meetups/{id}/cancel"), &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location().starts_with("/login"));
    let (title, cancelled): (String, bool) =
        sqlx::query_as("select title, cancelled_at is not null from meetups where id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((title.as_str(), cancelled), ("Mine to run", false));
    assert!(kinds_for(&pool, pat_id).await.is_empty());

    let (mut ada, ada_id) = scene.member("ada").await;
    set_role(&pool, ada_id, "admin").await;
    let form = ada.get(&edit).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(form.value("#title").as_deref(), Some("Mine to run"));
    let saved = post_fields(&mut ada, &edit, &with(form_fields(&form), "title", "Renamed by an admin")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let title: String =
        sqlx::query_scalar("select title from meetups where id = $1").bind(id).fetch_one(&pool).await.unwrap();
    assert_eq!(title, "Renamed by an admin");
    assert!(kinds_for(&pool, pat_id).await.is_empty(), "a new title moves nobody");

    // Moving it an hour later tells everyone going.
    let form = ada.get(&edit).await;
    let moved = with(with(form_fields(&form), "starts_at", &local_in(5, 11)), "ends_at", &local_in(5, 13));
    assert_eq!(post_fields(&mut ada, &edit, &moved).await.status, StatusCode::SEE_OTHER);
    assert_eq!(kinds_for(&pool, pat_id).await, ["meetup_changed"]);
}

// ---------------------------------------------------------------------------------------------
// Cancelling.

#[tokio::test]
async fn cancelling_tells_everyone_going_or_waiting_and_closes_the_meetup() {
    let mut scene = scene().await;
    let pool = scene.pool();
    let id = new_meetup(&mut scene.olive, &Draft::new(scene.venue, "Rained off", 5).seats(2)).await;
    let mut people = Vec::new();
    for handle in ["ann", "ben", "cat", "dan"] {
        let (mut client, member) = scene.member(handle).await;
        rsvp(&mut client, id).await;
        people.push((client, member));
    }
    let done = people[3].0.post(&format!("/meetups/{id}/rsvp/cancel"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let (mut eve, _) = scene.member("eve").await;
    let olive_id = scene.olive_id;
    let olive = &mut scene.olive;
    olive.get(&format!("/meetups/{id}")).await;
    let cancelled = olive.post(&format!("/meetups/{id}/cancel"), &[]).await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
    assert_eq!(cancelled.location(), format!("/meetups/{id}"));
    let page = olive.get(&format!("/meetups/{id}")).await;
    assert_eq!(page.text(".flash"), "The meetup is cancelled. Told 3 people going or waiting.");
    assert!(page.text("header .badge").contains("Cancelled"));

    for (_, member) in &people[..3] {
        assert_eq!(kinds_for(&pool, *member).await, ["meetup_cancelled"]);
        assert_eq!(mail_for(&pool, *member).await[0].0, "meetup_cancelled");
    }
    assert!(kinds_for(&pool, people[3].1).await.is_empty(), "Dan had already said he would not come");
    assert!(kinds_for(&pool, olive_id).await.is_empty());

    let late = rsvp(&mut eve, id).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(late.text(".error-page").contains("This meetup is cancelled."));
    let page = eve.get(&format!("/meetups/{id}")).await;
    assert!(page.text("header .badge").contains("Cancelled"));
    assert_eq!(page.text("section.answer p.muted"), "This meetup is cancelled.");
    assert_eq!(olive.post(&format!("/meetups/{id}/cancel"), &[]).await.status, StatusCode::CONFLICT);
    assert!(card_titles(&eve.get("/meetups?city=").await).is_empty(), "a cancelled meetup leaves the list");
}

// ---------------------------------------------------------------------------------------------
// The organiser's form.

#[tokio::test]
async fn bad_input_comes_back_with_422_each_error_beside_its_field_and_what_was_typed() {
    let Scene { mut olive, venue, .. } = scene().await;
    let pool = olive.pool.clone();
    let typed = Draft {
        description: "Upstairs, by the piano.".to_owned(),
        ends_at: local_in(5, 9),
        ..Draft::new(venue, "Piano morning", 5).seats(0)
    };
    let page = post_meetup(&mut olive, &typed).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        errors_beside_fields(&page),
        [
            ("ends_at".to_owned(), "The end must come after the start.".to_owned()),
            ("capacity".to_owned(), "Enter a number of seats from 1 to 500.".to_owned()),
        ]
    );
    assert_eq!(page.value("#title").as_deref(), Some("Piano morning"));
    assert_eq!(page.text("#description"), "Upstairs, by the piano.");
    assert_eq!(page.value("#capacity").as_deref(), Some("0"));
    assert_eq!(page.value("#starts_at"), Some(typed.starts_at.clone()));
    assert_eq!(page.attrs("#venue_id option[selected]", "value"), [venue.to_string()]);
    assert_eq!(page.attrs("#capacity", "aria-describedby"), ["capacity-error"]);

    let typed = Draft { title: "  ".to_owned(), venue: String::new(), visibility: "secret", ..typed.seats(8) };
    let page = post_meetup(&mut olive, &typed).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = errors_beside_fields(&page);
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["title", "venue_id", "visibility"]);
    assert_eq!(errors[0].1, "Give the meetup a title.");
    assert_eq!(errors[1].1, "Choose one of the approved places listed.");
    assert_eq!(page.text("#description"), "Upstairs, by the piano.");

    let past = Draft { starts_at: local_in(-2, 10), ends_at: local_in(-2, 12), ..Draft::new(venue, "Yesterday", 0) };
    let page = post_meetup(&mut olive, &past).await;
    assert_eq!(errors_beside_fields(&page), [("starts_at".to_owned(), "Choose a start in the future.".to_owned())]);
    let meetups: i64 = sqlx::query_scalar("select count(*) from meetups").fetch_one(&pool).await.unwrap();
    assert_eq!(meetups, 0);
}

/// The first day, at least `after` from now, whose noon in London has another UTC offset than
/// the day before's.
fn next_clock_change(after: Duration) -> NaiveDate {
    let offset = |day: NaiveDate| {
        London.from_local_datetime(&day.and_hms_opt(12, 0, 0).unwrap()).unwrap().offset().fix().local_minus_utc()
    };
    let mut day = (Utc::now() + after).with_timezone(&London).date_naive();
    loop {
        let next = day.succ_opt().unwrap();
        if offset(next) != offset(day) {
            return next;
        }
        day = next;
    }
}

/// A meetup of a series: id, series id, start and end.
type SeriesRow = (i64, Option<i64>, DateTime<Utc>, DateTime<Utc>);

#[tokio::test]
async fn a_weekly_series_keeps_ten_oclock_in_london_across_the_clock_change() {
    let Scene { mut olive, venue, .. } = scene().await;
    let pool = olive.pool.clone();
    // Two weeks before the next change of the clocks (late March or late October), so that the
    // nine weeks straddle it.
    let first_day = next_clock_change(Duration::days(15)) - Duration::days(14);
    let day = first_day.format("%Y-%m-%d");
    let series = Draft {
        starts_at: format!("{day}T10:00"),
        ends_at: format!("{day}T11:30"),
        repeat: "weekly",
        ..Draft::new(venue, "Saturday club", 0)
    };
    let done = post_meetup(&mut olive, &series).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text(".field-error"));
    let first = id_from(done.location());
    let page = olive.get(done.location()).await;
    assert_eq!(page.text(".flash"), "Your meetup is posted, with 8 more dates after it (see Organise).");

    let rows: Vec<SeriesRow> =
        sqlx::query_as("select id, series_id, starts_at, ends_at from meetups order by starts_at")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 9);
    assert_eq!(rows[0].0, first);
    let mut utc_hours = std::collections::BTreeSet::new();
    for (n, (id, series_id, starts_at, ends_at)) in rows.iter().enumerate() {
        let local = starts_at.with_timezone(&London);
        assert_eq!((local.hour(), local.minute()), (10, 0), "meetup {id} starts at 10:00 in London");
        assert_eq!(local.date_naive(), first_day + Duration::weeks(n as i64));
        assert_eq!(*ends_at - *starts_at, Duration::minutes(90));
        assert_eq!(*series_id, (n > 0).then_some(first));
        utc_hours.insert(starts_at.hour());
    }
    assert_eq!(utc_hours.len(), 2, "the series crosses a change of the clocks");
    let organise = olive.get("/organise").await;
    assert_eq!(card_titles(&organise).len(), 9);
}

// ---------------------------------------------------------------------------------------------
// Check-in and "I met them".

#[tokio::test]
async fn met_is_recorded_only_when_both_checked_in_attendees_tick_each_other() {
    let Scene { mut olive, venue, .. } = scene().await;
    let pool = olive.pool.clone();
    let id = new_meetup(&mut olive, &Draft::new(venue, "Meet and greet", 3)).await;
    let (mut ann, ann_id) = join(&olive, "ann").await;
    let (mut ben, ben_id) = join(&olive, "ben").await;
    let (mut cat, cat_id) = join(&olive, "cat").await;
    for client in [&mut ann, &mut ben, &mut cat] {
        assert_eq!(rsvp(client, id).await.status, StatusCode::SEE_OTHER);
    }
    let path = format!("/meetups/{id}");
    let check_in =
        |member: i64, on: &str| [("member".to_owned(), member.to_string()), ("checked_in".to_owned(), on.to_owned())];
    let check_in_path = format!("/meetups/{id}/check-in");

    // Three hours before: too early.
    run_sql(
        &pool,
        "update meetups set starts_at = now() + interval '3 hours', ends_at = now() + interval '4 hours' where id = $1",
        id,
    )
    .await;
    olive.get(&path).await;
    let early = post_fields(&mut olive, &check_in_path, &check_in(ann_id, "on")).await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert!(early.text(".error-page").contains("Check-in opens an hour before the meetup starts"));

    // Half an hour before: Olive checks in Ann and Ben, not Cat.
    run_sql(&pool, "update meetups set starts_at = now() + interval '30 minutes', ends_at = now() + interval '90 minutes' where id = $1", id).await;
    let page = olive.get(&path).await;
    assert_eq!(page.attrs("#check-in input[name=member]", "value").len(), 3);
    for member in [ann_id, ben_id] {
        let done = post_fields(&mut olive, &check_in_path, &check_in(member, "on")).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER);
        assert_eq!(done.location(), format!("/meetups/{id}#check-in"));
    }
    // Checking Cat in and out again leaves her out.
    post_fields(&mut olive, &check_in_path, &check_in(cat_id, "on")).await;
    post_fields(&mut olive, &check_in_path, &check_in(cat_id, "off")).await;
    let checked: Vec<i64> = sqlx::query_scalar(
        "select member_id from rsvps where meetup_id = $1 and checked_in_at is not null order by member_id",
    )
    .bind(id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(checked, [ann_id, ben_id]);
    assert!(olive.get(&path).await.text(".organiser-tools").contains("Attendance: 2 of 3 checked in"));
    cat.get(&path).await;
    let by_member = post_fields(&mut cat, &check_in_path, &check_in(cat_id, "on")).await;
    assert_eq!(by_member.status, StatusCode::FORBIDDEN);
    ann.get(&path).await;
    let too_soon = ann.post(&format!("/meetups/{id}/met"), &[("other", &ben_id.to_string())]).await;
    assert_eq!(too_soon.status, StatusCode::CONFLICT, "not before the meetup has ended");

    // It is over: Ann ticks Ben, and only when Ben ticks Ann are they recorded as met.
    run_sql(
        &pool,
        "update meetups set starts_at = now() - interval '3 hours', ends_at = now() - interval '2 hours' where id = $1",
        id,
    )
    .await;
    let page = ann.get(&path).await;
    assert_eq!(page.texts("section.answer form[action$='/met'] button"), ["I met ben"]);
    let ticked = ann.post(&format!("/meetups/{id}/met"), &[("other", &ben_id.to_string())]).await;
    assert_eq!(ticked.status, StatusCode::SEE_OTHER);
    let pairs = || sqlx::query_scalar::<_, String>("select how::text from met_pairs").fetch_all(&pool);
    assert!(pairs().await.unwrap().is_empty(), "one tick is not enough");
    assert!(ann.get(&path).await.text("section.answer").contains("You ticked them; waiting for them"));
    ben.get(&path).await;
    let both = ben.post(&format!("/meetups/{id}/met"), &[("other", &ann_id.to_string())]).await;
    assert_eq!(both.status, StatusCode::SEE_OTHER);
    assert_eq!(pairs().await.unwrap(), ["meetup"]);
    let (a, b): (i64, i64) = sqlx::query_as("select a_id, b_id from met_pairs").fetch_one(&pool).await.unwrap();
    assert_eq!((a, b), (ann_id.min(ben_id), ann_id.max(ben_id)));
    assert!(ben.get(&path).await.text(".badge-met").contains("Met in person"));

    let with_cat = ann.post(&format!("/meetups/{id}/met"), &[("other", &cat_id.to_string())]).await;
    assert_eq!(with_cat.status, StatusCode::CONFLICT, "Cat was not checked in");
    cat.get(&path).await;
    let by_cat = cat.post(&format!("/meetups/{id}/met"), &[("other", &ann_id.to_string())]).await;
    assert_eq!(by_cat.status, StatusCode::CONFLICT);
    assert_eq!(pairs().await.unwrap().len(), 1);

    // Two days after the start, check-in has closed.
    run_sql(&pool, "update meetups set starts_at = now() - interval '2 days', ends_at = now() - interval '2 days' + interval '1 hour' where id = $1", id).await;
    olive.get(&path).await;
    let late = post_fields(&mut olive, &check_in_path, &check_in(cat_id, "on")).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    let cat_in: bool =
        sqlx::query_scalar("select checked_in_at is not null from rsvps where meetup_id = $1 and member_id = $2")
            .bind(id)
            .bind(cat_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!cat_in);
}

// ---------------------------------------------------------------------------------------------
// Hostile text.

#[tokio::test]
async fn hostile_titles_and_descriptions_render_as_text_everywhere_and_only_web_links_are_links() {
    let Scene { mut olive, venue, .. } = scene().await;
    let title = "<script>alert(1)</script>";
    let description = "<img src=x onerror=alert(1)>\nPlan: https://example.org/plan?a=1&b=2. Or javascript:alert(1)";
    let draft = Draft { description: description.to_owned(), ..Draft::new(venue, title, 5) };
    let id = new_meetup(&mut olive, &draft).await;
    let (mut ann, _) = join(&olive, "ann").await;
    rsvp(&mut ann, id).await;

    let page = ann.get(&format!("/meetups/{id}")).await;
    assert_eq!(page.text("h1"), title);
    assert!(page.text(".description").contains("<img src=x onerror=alert(1)>"));
    assert!(page.texts(".description img").is_empty());
    assert_eq!(page.attrs(".description a", "href"), ["https://example.org/plan?a=1&b=2"]);
    assert!(page.attrs("a[href^='javascript']", "href").is_empty());
    assert!(page.text(".description").contains("javascript:alert(1)"));
    for (who, path) in [("ann", "/meetups?city="), ("olive", "/organise"), ("ann", "/")] {
        let page = if who == "ann" { ann.get(path).await } else { olive.get(path).await };
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(card_titles(&page), [title], "{path}");
        assert!(!page.body.contains(title) && !page.body.contains("<img src=x"), "{path} escapes the text");
        assert!(!page.body.contains("alert(1)</script>"), "{path}");
    }
    assert!(!page.body.contains(title) && !page.body.contains("<img src=x"));
}

// ---------------------------------------------------------------------------------------------
// Invitations and announcements.

#[tokio::test]
async fn inviting_followers_tells_those_who_take_invitations_once() {
    let Scene { mut olive, venue, .. } = scene().await;
    let pool = olive.pool.clone();
    let id = new_meetup(&mut olive, &Draft::new(venue, "Everyone welcome", 5)).await;
    let (mut fan, fan_id) = join(&olive, "fan").await;
    let (mut shy, shy_id) = join(&olive, "shy").await;
    let (mut foe, foe_id) = join(&olive, "foe").await;
    let (_, stranger_id) = join(&olive, "stranger").await;
    for client in [&mut fan, &mut shy, &mut foe] {
        assert_eq!(client.post("/m/olive/follow", &[]).await.status, StatusCode::SEE_OTHER);
    }
    sqlx::query("update members set invite_policy = 'nobody' where id = $1").bind(shy_id).execute(&pool).await.unwrap();
    assert_eq!(foe.post("/m/olive/block", &[]).await.status, StatusCode::SEE_OTHER);

    olive.get(&format!("/meetups/{id}")).await;
    let done = olive.post(&format!("/meetups/{id}/invite-followers"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let page = olive.get(&format!("/meetups/{id}")).await;
    assert_eq!(page.text(".flash"), "Invited 1 follower.");
    assert!(page.text(".organiser-tools").contains("Your followers were invited."));
    assert_eq!(kinds_for(&pool, fan_id).await, ["meetup_invited"]);
    assert_eq!(mail_for(&pool, fan_id).await[0].0, "meetup_invited");
    for member in [shy_id, foe_id, stranger_id] {
        assert!(kinds_for(&pool, member).await.is_empty());
    }
    let again = olive.post(&format!("/meetups/{id}/invite-followers"), &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.text(".error-page").contains("already been invited"));
    assert_eq!(kinds_for(&pool, fan_id).await.len(), 1);
}

#[tokio::test]
async fn an_announcement_reaches_everyone_going_and_an_empty_one_is_refused_beside_the_field() {
    let Scene { mut olive, venue, .. } = scene().await;
    let pool = olive.pool.clone();
    let id = new_meetup(&mut olive, &Draft::new(venue, "Umbrella walk", 5).seats(1)).await;
    let (mut ann, ann_id) = join(&olive, "ann").await;
    let (mut ben, ben_id) = join(&olive, "ben").await;
    rsvp(&mut ann, id).await;
    rsvp(&mut ben, id).await;
    let path = format!("/meetups/{id}");
    olive.get(&path).await;

    let empty = olive.post(&format!("/meetups/{id}/announce"), &[("text", "   ")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors_beside_fields(&empty), [("text".to_owned(), "Write what you want to tell them.".to_owned())]);
    assert_eq!(empty.text("h1"), "Umbrella walk");
    assert!(kinds_for(&pool, ann_id).await.is_empty());

    let sent = olive.post(&format!("/meetups/{id}/announce"), &[("text", "Bring an umbrella: rain at ten.")]).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    assert_eq!(olive.get(&path).await.text(".flash"), "Sent to 1 person going.");
    assert_eq!(kinds_for(&pool, ann_id).await, ["meetup_announcement"]);
    let mail = mail_for(&pool, ann_id).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].0, "meetup_announcement");
    assert!(mail[0].2.contains("Bring an umbrella: rain at ten."));
    assert!(kinds_for(&pool, ben_id).await.is_empty(), "Ben is only waiting");
}

// ---------------------------------------------------------------------------------------------
// The list.

#[tokio::test]
async fn the_list_shows_the_viewers_city_soonest_first_and_filters_by_whom_they_follow() {
    let Scene { mut olive, venue, .. } = scene().await;
    let pool = olive.pool.clone();
    let paris = add_venue(&pool, "Le Zinc", "Paris").await;
    for (title, days) in [("Thursday", 5), ("Monday", 2), ("Next week", 9)] {
        new_meetup(&mut olive, &Draft::new(venue, title, days)).await;
    }
    new_meetup(&mut olive, &Draft::new(paris, "Café crème", 3)).await;
    let (mut otto, otto_id) = join(&olive, "otto").await;
    set_role(&pool, otto_id, "organiser").await;
    new_meetup(&mut otto, &Draft::new(venue, "Otto's tea", 4)).await;

    let (mut viv, viv_id) = join(&olive, "viv").await;
    sqlx::query("update members set city = 'london' where id = $1").bind(viv_id).execute(&pool).await.unwrap();
    assert_eq!(viv.post("/m/olive/follow", &[]).await.status, StatusCode::SEE_OTHER);
    let page = viv.get("/meetups").await;
    assert_eq!(page.text("#upcoming-heading"), "Coming up in london");
    assert_eq!(card_titles(&page), ["Monday", "Otto's tea", "Thursday", "Next week"]);
    assert_eq!(card_titles(&viv.get("/meetups?city=Paris").await), ["Café crème"]);
    assert_eq!(
        card_titles(&viv.get("/meetups?city=").await),
        ["Monday", "Café crème", "Otto's tea", "Thursday", "Next week"]
    );
    let followed = viv.get("/meetups?city=&followed=on").await;
    assert_eq!(card_titles(&followed), ["Monday", "Café crème", "Thursday", "Next week"]);
    assert!(followed.attrs("input[name=followed][checked]", "value") == ["on"]);
    let empty = viv.get("/meetups?city=Oslo").await;
    assert!(card_titles(&empty).is_empty());
    assert!(empty.text(".empty").contains("No meetups coming up in Oslo"));
}

#[tokio::test]
async fn the_list_pages_by_twenty_without_repeating_a_meetup() {
    let Scene { olive, olive_id, venue } = scene().await;
    let pool = olive.pool.clone();
    // Three meetups share each start, to the microsecond, and the first page ends inside such a
    // trio: the next page must carry on by id.
    sqlx::query(
        "insert into meetups (organiser_id, venue_id, title, starts_at, ends_at, capacity)
         select $1, $2, format('Meetup %s', lpad((i + 1)::text, 2, '0')),
                now() + (i / 3 + 1) * interval '1 day', now() + (i / 3 + 1) * interval '1 day' + interval '1 hour', 10
         from generate_series(0, 24) as i",
    )
    .bind(olive_id)
    .bind(venue)
    .execute(&pool)
    .await
    .unwrap();
    let expected: Vec<String> =
        sqlx::query_scalar("select title from meetups order by starts_at, id").fetch_all(&pool).await.unwrap();
    let mut viewer = olive.another();
    let first = viewer.get("/meetups").await;
    let page_one = card_titles(&first);
    assert_eq!(page_one.len(), 20);
    let later: Vec<String> = first.attrs(".pager a", "href");
    assert_eq!(later.len(), 1);
    assert_eq!(first.text(".pager a"), "Later meetups →");
    assert!(later[0].contains("after="), "{}", later[0]);
    let second = viewer.get(&later[0]).await;
    assert_eq!(second.status, StatusCode::OK);
    let page_two = card_titles(&second);
    assert_eq!(page_two.len(), 5, "{page_two:?}");
    assert_eq!(second.text(".pager a"), "← First page");
    let all: Vec<String> = page_one.into_iter().chain(page_two).collect();
    assert_eq!(all, expected, "every meetup once, soonest first");
    assert_eq!(viewer.get("/meetups?after=yesterday").await.status, StatusCode::BAD_REQUEST);
}

// ---------------------------------------------------------------------------------------------
// The home page.

#[tokio::test]
async fn the_home_page_lists_my_meetups_with_my_place_on_each_waitlist() {
    let Scene { mut olive, venue, .. } = scene().await;
    let full = new_meetup(&mut olive, &Draft::new(venue, "Full house", 4).seats(1)).await;
    let open = new_meetup(&mut olive, &Draft::new(venue, "Plenty of room", 6)).await;
    let called_off = new_meetup(&mut olive, &Draft::new(venue, "Called off", 5)).await;
    let (mut ann, _) = join(&olive, "ann").await;
    let (mut ben, _) = join(&olive, "ben").await;
    let (mut cat, _) = join(&olive, "cat").await;
    rsvp(&mut ann, full).await;
    rsvp(&mut ben, full).await;
    rsvp(&mut cat, full).await;
    rsvp(&mut cat, open).await;
    rsvp(&mut cat, called_off).await;
    olive.get(&format!("/meetups/{called_off}")).await;
    assert_eq!(olive.post(&format!("/meetups/{called_off}/cancel"), &[]).await.status, StatusCode::SEE_OTHER);

    let home = cat.get("/").await;
    assert_eq!(home.text("#your-meetups"), "Your meetups");
    let cards: Vec<String> = home.texts("section[aria-labelledby=your-meetups] .meetup-card");
    assert_eq!(cards.len(), 2, "{cards:?}");
    assert!(cards[0].starts_with("Full house") && cards[0].ends_with("2nd on the waitlist"), "{cards:?}");
    assert!(cards[1].starts_with("Plenty of room") && cards[1].ends_with("Going"), "{cards:?}");
    let home = ann.get("/").await;
    assert_eq!(home.texts("section[aria-labelledby=your-meetups] .badge"), ["Going"]);
}

#[tokio::test]
async fn no_shows_page_by_fifty_for_admins_and_home_names_only_the_latest_three() {
    let Scene { olive, olive_id, venue } = scene().await;
    let (mut pat, pat_id) = join(&olive, "pat").await;
    let (mut sam, sam_id) = join(&olive, "sam").await;
    set_role(&olive.pool, sam_id, "admin").await;
    // 60 past meetups where Sam was checked in and Pat, going, was not; and 55 held coffees
    // Pat says Sam missed.
    sqlx::query(
        "with m as (
             insert into meetups (organiser_id, venue_id, title, starts_at, ends_at, capacity)
             select $1, $2, format('Missed %s', lpad(g::text, 2, '0')), now() - g * interval '2 days',
                    now() - g * interval '2 days' + interval '2 hours', 10
             from generate_series(1, 60) g
             returning id)
         insert into rsvps (meetup_id, member_id, status, checked_in_at)
         select m.id, who.member, 'going', who.checked_in from m
         cross join (values ($3::bigint, null::timestamptz), ($4, now())) as who(member, checked_in)",
    )
    .bind(olive_id)
    .bind(venue)
    .bind(pat_id)
    .bind(sam_id)
    .execute(&olive.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into invitations (inviter_id, invitee_id, venue_id, state, proposed_times, proposed_by, accepted_time,
                                  inviter_answer)
         select $1, $2, $3, 'held', array[t], $1, t, 'no_show'
         from generate_series(1, 55) g, lateral (select now() - g * interval '1 day' as t) as at",
    )
    .bind(pat_id)
    .bind(sam_id)
    .bind(venue)
    .execute(&olive.pool)
    .await
    .unwrap();

    let home = pat.get("/").await;
    assert_eq!(home.texts(".missed-meetups a"), ["Missed 01", "Missed 02", "Missed 03"]);
    assert!(home.text(".missed-meetups").contains("Missed 03 and earlier meetups and were not checked in"));

    let first = sam.get("/admin/no-shows").await;
    assert_eq!(first.status, StatusCode::OK);
    let meetup_rows = |page: &Page| page.texts("tbody td a[href^='/meetups/']");
    let coffee_rows = |page: &Page| page.texts("tbody td:nth-child(3) a[href='/m/sam']").len();
    let mut titles = meetup_rows(&first);
    assert_eq!((titles.len(), coffee_rows(&first)), (50, 50));
    let older = first.attrs(".pager a", "href");
    assert_eq!(older, ["/admin/no-shows?page=2"]);
    let second = sam.get(&older[0]).await;
    titles.extend(meetup_rows(&second));
    assert_eq!(coffee_rows(&second), 5);
    assert_eq!(second.texts(".pager a"), ["← Newer"]);
    let expected: Vec<String> = (1..=60).map(|n| format!("Missed {n:02}")).collect();
    assert_eq!(titles, expected, "every meetup no-show once, latest first");
}
