//! Calendars: one coffee's `.ics` file and the private feed, parsed back as iCalendar.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use icalendar::{Calendar, CalendarDateTime, Component, DatePerhapsTime, EventLike};

use crate::support::Client;

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
