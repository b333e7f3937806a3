//! Calendars and feeds: one coffee's or one meetup's `.ics` file and the private feed, parsed
//! back as iCalendar; the Atom feed of public meetups, parsed back as Atom.

use atom_syndication::Feed;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use icalendar::{Calendar, CalendarDateTime, Component, DatePerhapsTime, EventLike, EventStatus};

use crate::support::{Client, add_venue};

/// Ada invites Grace to Café Lumen and Grace accepts: returns both clients, the invitation id
/// and the agreed time.
async fn agreed_coffee() -> (Client, Client, i64, DateTime<Utc>) {
    let mut ada = Client::new().await;
    ada.sign_up("ada").await;
    let mut grace = ada.another();
    grace.sign_up("grace").await;
    sqlx::query("update members set city = 'Leeds'").execute(&ada.pool).await.unwrap();
    let venue: i64 = sqlx::query_scalar(
        "insert into venues (name, address, city, time_zone, status)
         values ('Café Lumen', '3 Briggate', 'Leeds', 'Europe/London', 'approved') returning id",
    )
    .fetch_one(&ada.pool)
    .await
    .unwrap();
    let when = (Utc::now() + Duration::days(2)).with_timezone(&chrono_tz::Europe::London);
    let local = when.format("%Y-%m-%dT%H:%M").to_string();
    ada.get("/m/grace/invite").await;
    let sent = ada
        .post("/m/grace/invite", &[("venue_id", &venue.to_string()), ("time1", &local), ("note", "Shall we?")])
        .await;
    let id: i64 = sent.location().rsplit('/').next().unwrap().parse().unwrap();
    let time: DateTime<Utc> = sqlx::query_scalar("select proposed_times[1] from invitations where id = $1")
        .bind(id)
        .fetch_one(&ada.pool)
        .await
        .unwrap();
    grace.get(&format!("/invitations/{id}")).await;
    let accepted = grace
        .post(&format!("/invitations/{id}/accept"), &[("seen", "pending"), ("time", &time.timestamp().to_string())])
        .await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER);
    (ada, grace, id, time)
}

fn utc_of(start: Option<DatePerhapsTime>) -> DateTime<Utc> {
    match start {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(time))) => time,
        other => panic!("expected a UTC time, got {other:?}"),
    }
}

/// One event read back: summary, start, end, location, description.
type Parsed = (String, DateTime<Utc>, DateTime<Utc>, String, String);

/// The events of an iCalendar body.
fn events(body: &str) -> Vec<Parsed> {
    let calendar: Calendar = body.parse().expect("valid iCalendar");
    calendar
        .events()
        .map(|e| {
            (
                e.get_summary().unwrap_or_default().to_owned(),
                utc_of(e.get_start()),
                utc_of(e.get_end()),
                e.get_location().unwrap_or_default().to_owned(),
                e.get_description().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_agreed_coffee_downloads_as_a_calendar_file() {
    let (mut ada, mut grace, id, time) = agreed_coffee().await;
    let path = format!("/invitations/{id}/calendar.ics");
    let file = ada.get(&path).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.headers["content-type"], "text/calendar; charset=utf-8");
    assert!(file.headers["content-disposition"].to_str().unwrap().contains("coffee-with-grace.ics"));
    let parsed = events(&file.body);
    assert_eq!(parsed.len(), 1);
    let (summary, start, end, location, description) = &parsed[0];
    assert_eq!(summary, "Coffee with grace (@grace)");
    assert_eq!((*start, *end), (time, time + Duration::hours(1)));
    assert_eq!(location, "Café Lumen, 3 Briggate, Leeds");
    assert!(description.contains("ada (@ada) and grace (@grace)"), "{description}");
    assert_eq!(events(&grace.get(&path).await.body)[0].0, "Coffee with ada (@ada)");

    let mut eve = ada.another();
    eve.sign_up("eve").await;
    assert_eq!(eve.get(&path).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_private_feed_lists_upcoming_coffees_until_its_address_is_reset() {
    let (mut ada, _grace, id, time) = agreed_coffee().await;
    let settings = ada.get("/settings/calendar").await;
    let url = settings.value("#feed-url").expect("the feed address is shown");
    assert!(url.starts_with(&format!("{}/calendar/", crate::support::PUBLIC_URL)), "{url}");
    let path = url.split_once("/calendar/").map(|(_, rest)| format!("/calendar/{rest}")).unwrap();
    let mut calendar_app = ada.another();
    let feed = calendar_app.get(&path).await;
    assert_eq!(feed.status, StatusCode::OK);
    assert!(!feed.has_set_cookie(), "a feed fetch makes no session");
    let parsed = events(&feed.body);
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].1, time);

    // A new address: the old one is gone, the new one works.
    assert_eq!(ada.post("/settings/calendar/reset", &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(calendar_app.get(&path).await.status, StatusCode::NOT_FOUND);
    let new_url = ada.get("/settings/calendar").await.value("#feed-url").unwrap();
    assert_ne!(new_url, url);
    let new_path = new_url.split_once("/calendar/").map(|(_, rest)| format!("/calendar/{rest}")).unwrap();
    assert_eq!(events(&calendar_app.get(&new_path).await.body).len(), 1);

    // A cancelled coffee leaves the feed; nonsense tokens are simply not found.
    ada.get(&format!("/invitations/{id}")).await;
    ada.post(&format!("/invitations/{id}/cancel"), &[("seen", "accepted"), ("note", "Ill, sorry")]).await;
    assert!(events(&calendar_app.get(&new_path).await.body).is_empty());
    for bad in ["/calendar/nothing.ics", "/calendar/abc", "/calendar/%00.ics"] {
        assert_eq!(calendar_app.get(bad).await.status, StatusCode::NOT_FOUND, "{bad}");
    }
}

// Meetups: one meetup's file, the private feed's meetups, and the Atom feed.

/// `handle`, signed up and made an organiser, with an approved venue in `city` (London time).
async fn organiser_with_venue(handle: &str, city: &str) -> (Client, i64) {
    let mut client = Client::new().await;
    let id = client.sign_up(handle).await;
    sqlx::query("update members set role = 'organiser' where id = $1").bind(id).execute(&client.pool).await.unwrap();
    let venue = add_venue(&client.pool, "Café Lumen", city).await;
    (client, venue)
}

/// A `datetime-local` value `days` from now at `hour` o'clock, London time.
fn london(days: i64, hour: u32) -> String {
    let day = (Utc::now() + Duration::days(days)).with_timezone(&chrono_tz::Europe::London);
    format!("{}T{hour:02}:00", day.format("%Y-%m-%d"))
}

/// Posts a meetup from 10:00 to 12:00, `days` from now, at `venue`; gives its id.
async fn post_meetup(
    organiser: &mut Client,
    venue: i64,
    title: &str,
    description: &str,
    days: i64,
    visibility: &str,
    capacity: u32,
) -> i64 {
    let posted = organiser
        .post(
            "/meetups/new",
            &[
                ("title", title),
                ("description", description),
                ("venue_id", &venue.to_string()),
                ("starts_at", &london(days, 10)),
                ("ends_at", &london(days, 12)),
                ("capacity", &capacity.to_string()),
                ("visibility", visibility),
                ("rsvp_deadline", ""),
                ("repeat", ""),
            ],
        )
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.text(".field-error"));
    posted.location().rsplit('/').next().unwrap().parse().unwrap()
}

async fn starts_at(client: &Client, meetup: i64) -> DateTime<Utc> {
    sqlx::query_scalar("select starts_at from meetups where id = $1")
        .bind(meetup)
        .fetch_one(&client.pool)
        .await
        .unwrap()
}

/// The path of `client`'s private feed, as the settings page shows it.
async fn feed_path(client: &mut Client) -> String {
    let url = client.get("/settings/calendar").await.value("#feed-url").expect("the feed address is shown");
    url.split_once("/calendar/").map(|(_, rest)| format!("/calendar/{rest}")).unwrap()
}

/// The UIDs of a calendar's events.
fn uids(body: &str) -> Vec<String> {
    let calendar: Calendar = body.parse().expect("valid iCalendar");
    calendar.events().map(|e| e.get_uid().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn a_meetup_downloads_as_a_calendar_file_in_its_venues_time_zone() {
    let (mut ada, venue) = organiser_with_venue("ada", "Leeds").await;
    // A name with a comma and quotes: the CN parameter must still read back whole.
    sqlx::query("update members set display_name = 'Ada \"Countess\" Lovelace, organiser' where handle = 'ada'")
        .execute(&ada.pool)
        .await
        .unwrap();
    let id = post_meetup(&mut ada, venue, "Coffee morning", "Bring a book; we swap.", 3, "public", 12).await;
    let path = format!("/meetups/{id}/calendar.ics");

    let mut visitor = ada.another();
    let file = visitor.get(&path).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.headers["content-type"], "text/calendar; charset=utf-8");
    assert!(file.headers["content-disposition"].to_str().unwrap().contains(&format!("meetup-{id}.ics")));
    assert!(!file.body.contains("ada@example.com"), "the organiser's email stays private");

    let calendar: Calendar = file.body.parse().expect("valid iCalendar");
    let events: Vec<_> = calendar.events().collect();
    assert_eq!(events.len(), 1);
    let event = events[0];
    assert_eq!(event.get_uid(), Some(format!("meetup-{id}@cuppa").as_str()));
    assert_eq!(event.get_summary(), Some("Coffee morning"));
    assert_eq!(event.get_location(), Some("Café Lumen, 12 Market Street, Leeds"));
    assert_eq!(event.get_url(), Some(format!("{}/meetups/{id}", crate::support::PUBLIC_URL).as_str()));
    assert_eq!(event.get_status(), Some(EventStatus::Confirmed));

    // 10:00 at the venue, said as 10:00 with the venue's zone, whatever the season.
    let start = starts_at(&ada, id).await;
    let local = start.with_timezone(&chrono_tz::Europe::London);
    match event.get_start() {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::WithTimezone { date_time, tzid })) => {
            assert_eq!(tzid, "Europe/London");
            assert_eq!(date_time, local.naive_local());
            assert_eq!(date_time.format("%H:%M").to_string(), "10:00");
        }
        other => panic!("expected a time in the venue's zone, got {other:?}"),
    }
    match event.get_end() {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::WithTimezone { date_time, tzid })) => {
            assert_eq!(tzid, "Europe/London");
            assert_eq!(date_time, local.naive_local() + Duration::hours(2));
        }
        other => panic!("expected a time in the venue's zone, got {other:?}"),
    }
    let organizer = event.properties().get("ORGANIZER").expect("an organiser");
    assert_eq!(organizer.value(), format!("{}/m/ada", crate::support::PUBLIC_URL));
    assert_eq!(organizer.params().get("CN").map(|p| p.value()), Some("Ada 'Countess' Lovelace, organiser"));
    let description = event.get_description().unwrap_or_default();
    assert!(description.contains("Bring a book; we swap."), "{description}");
    assert!(description.contains("Organised by Ada \"Countess\" Lovelace, organiser (@ada)"), "{description}");
    assert!(description.contains(&local.format("%H:%M (%Z)").to_string()), "{description}");

    // Cancelled by the organiser: the same event, marked cancelled.
    ada.get(&format!("/meetups/{id}")).await;
    assert_eq!(ada.post(&format!("/meetups/{id}/cancel"), &[]).await.status, StatusCode::SEE_OTHER);
    let again: Calendar = visitor.get(&path).await.body.parse().expect("valid iCalendar");
    let event = again.events().next().expect("still one event");
    assert_eq!(event.get_uid(), Some(format!("meetup-{id}@cuppa").as_str()));
    assert_eq!(event.get_status(), Some(EventStatus::Cancelled));
}

#[tokio::test]
async fn a_followers_only_meetups_file_is_for_followers() {
    let (mut ada, venue) = organiser_with_venue("ada", "Leeds").await;
    let id = post_meetup(&mut ada, venue, "Followers' coffee", "", 3, "followers", 12).await;
    let path = format!("/meetups/{id}/calendar.ics");

    let mut anonymous = ada.another();
    let sent = anonymous.get(&path).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    assert!(sent.location().starts_with("/login"), "{}", sent.location());

    let mut eve = ada.another();
    eve.sign_up("eve").await;
    assert_eq!(eve.get(&path).await.status, StatusCode::NOT_FOUND);

    let mut grace = ada.another();
    grace.sign_up("grace").await;
    assert_eq!(grace.post("/m/ada/follow", &[]).await.status, StatusCode::SEE_OTHER);
    let file = grace.get(&path).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(uids(&file.body), [format!("meetup-{id}@cuppa")]);
    assert_eq!(ada.get(&path).await.status, StatusCode::OK, "the organiser has it too");
}

#[tokio::test]
async fn the_private_feed_lists_meetups_the_member_is_going_to_but_not_those_they_wait_for() {
    let (mut ada, venue) = organiser_with_venue("ada", "Leeds").await;
    let roomy = post_meetup(&mut ada, venue, "Roomy coffee", "", 3, "public", 10).await;
    let full = post_meetup(&mut ada, venue, "One seat", "", 4, "public", 1).await;
    let mut bob = ada.another();
    bob.sign_up("bob").await;
    let mut grace = ada.another();
    grace.sign_up("grace").await;
    bob.get(&format!("/meetups/{full}")).await;
    assert_eq!(bob.post(&format!("/meetups/{full}/rsvp"), &[]).await.status, StatusCode::SEE_OTHER);
    for meetup in [full, roomy] {
        grace.get(&format!("/meetups/{meetup}")).await;
        assert_eq!(grace.post(&format!("/meetups/{meetup}/rsvp"), &[]).await.status, StatusCode::SEE_OTHER);
    }
    let waiting: String = sqlx::query_scalar(
        "select r.status::text from rsvps r join members m on m.id = r.member_id
         where m.handle = 'grace' and r.meetup_id = $1",
    )
    .bind(full)
    .fetch_one(&ada.pool)
    .await
    .unwrap();
    assert_eq!(waiting, "waitlisted");

    let mut calendar_app = ada.another();
    let grace_feed = calendar_app.get(&feed_path(&mut grace).await).await;
    assert_eq!(grace_feed.status, StatusCode::OK);
    assert!(!grace_feed.has_set_cookie(), "a feed fetch makes no session");
    assert_eq!(uids(&grace_feed.body), [format!("meetup-{roomy}@cuppa")]);
    let bob_feed = calendar_app.get(&feed_path(&mut bob).await).await;
    assert_eq!(uids(&bob_feed.body), [format!("meetup-{full}@cuppa")]);

    // Bob gives up his seat: Grace is seated, and the meetup joins her feed.
    assert_eq!(bob.post(&format!("/meetups/{full}/rsvp/cancel"), &[]).await.status, StatusCode::SEE_OTHER);
    let grace_feed = calendar_app.get(&feed_path(&mut grace).await).await;
    assert_eq!(uids(&grace_feed.body), [format!("meetup-{roomy}@cuppa"), format!("meetup-{full}@cuppa")]);
    assert!(uids(&calendar_app.get(&feed_path(&mut bob).await).await.body).is_empty());
}

#[tokio::test]
async fn the_atom_feed_lists_upcoming_public_meetups_escaped() {
    let (mut ada, leeds) = organiser_with_venue("ada", "Leeds").await;
    let bristol = add_venue(&ada.pool, "Harbour Café", "Bristol").await;
    let hostile = r#"<script>alert(1)</script> & "quotes""#;
    let first =
        post_meetup(&mut ada, leeds, hostile, "<b>Bold</b> & brash: https://example.com/x", 2, "public", 12).await;
    let second = post_meetup(&mut ada, bristol, "Harbour coffee", "By the water.", 3, "public", 12).await;
    post_meetup(&mut ada, leeds, "Followers only", "", 4, "followers", 12).await;
    let cancelled = post_meetup(&mut ada, leeds, "Called off", "", 5, "public", 12).await;
    ada.get(&format!("/meetups/{cancelled}")).await;
    assert_eq!(ada.post(&format!("/meetups/{cancelled}/cancel"), &[]).await.status, StatusCode::SEE_OTHER);
    sqlx::query(
        "insert into meetups (organiser_id, venue_id, title, starts_at, ends_at, capacity)
         select id, $1, 'Last week', now() - interval '7 days', now() - interval '7 days' + interval '2 hours', 10
         from members where handle = 'ada'",
    )
    .bind(leeds)
    .execute(&ada.pool)
    .await
    .unwrap();
    let updated_of = |id: i64| {
        let pool = ada.pool.clone();
        async move {
            sqlx::query_scalar::<_, DateTime<Utc>>("select updated_at from meetups where id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let (first_updated, second_updated) = (updated_of(first).await, updated_of(second).await);

    let mut reader = ada.another();
    let page = reader.get("/meetups.atom").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["content-type"], "application/atom+xml; charset=utf-8");
    assert!(!page.has_set_cookie(), "a feed fetch makes no session");
    assert!(!page.body.contains("<script>") && !page.body.contains("<b>"), "{}", page.body);
    assert!(page.body.contains("&lt;script&gt;"), "{}", page.body);

    let base = crate::support::PUBLIC_URL;
    let feed: Feed = page.body.parse().expect("valid Atom");
    assert_eq!(feed.id(), format!("{base}/meetups.atom"));
    assert_eq!(feed.title().as_str(), "Cuppa meetups");
    let links: Vec<(&str, &str)> = feed.links().iter().map(|l| (l.rel(), l.href())).collect();
    assert!(links.contains(&("self", &format!("{base}/meetups.atom"))), "{links:?}");
    assert!(
        links.iter().any(|(rel, href)| *rel == "alternate" && href.starts_with(&format!("{base}/meetups"))),
        "{links:?}"
    );
    assert_eq!(feed.updated().with_timezone(&Utc), first_updated.max(second_updated));

    let ids: Vec<&str> = feed.entries().iter().map(|e| e.id()).collect();
    assert_eq!(ids, [format!("{base}/meetups/{first}"), format!("{base}/meetups/{second}")]);
    let entry = &feed.entries()[0];
    assert_eq!(entry.title().as_str(), hostile, "the title reads back as the text typed");
    assert_eq!(entry.links()[0].href(), format!("{base}/meetups/{first}"));
    assert_eq!(entry.updated().with_timezone(&Utc), first_updated);
    assert_eq!(entry.authors()[0].name(), "ada");
    let summary = entry.summary().expect("a summary").as_str();
    let local = starts_at(&ada, first).await.with_timezone(&chrono_tz::Europe::London);
    for part in [
        local.format("%H:%M (%Z)").to_string(),
        "Café Lumen".to_owned(),
        "ada".to_owned(),
        "<b>Bold</b> & brash".to_owned(),
    ] {
        assert!(summary.contains(&part), "{part} in {summary}");
    }
    assert!(feed.entries()[1].summary().unwrap().as_str().contains("By the water."));

    // One city (in any case), with an id and a self link of its own.
    let bristol_feed: Feed = reader.get("/meetups.atom?city=bristol").await.body.parse().expect("valid Atom");
    assert_eq!(bristol_feed.id(), format!("{base}/meetups.atom?city=bristol"));
    assert_eq!(bristol_feed.title().as_str(), "Cuppa meetups in bristol");
    assert!(
        bristol_feed
            .links()
            .iter()
            .any(|l| l.rel() == "self" && l.href() == format!("{base}/meetups.atom?city=bristol"))
    );
    let ids: Vec<&str> = bristol_feed.entries().iter().map(|e| e.id()).collect();
    assert_eq!(ids, [format!("{base}/meetups/{second}")]);

    // Nothing there: a valid, empty feed with a fixed date.
    let empty: Feed = reader.get("/meetups.atom?city=Nowhere%20%3Cat%3E%20all").await.body.parse().expect("valid Atom");
    assert!(empty.entries().is_empty());
    assert_eq!(empty.title().as_str(), "Cuppa meetups in Nowhere <at> all");
    assert_eq!(empty.updated().timestamp(), 0);
}
