//! Profiles and the settings pages: what they show, what they refuse, and whose data they touch.

use axum::http::StatusCode;
use cuppa::members::model::Status;
use cuppa::members::store;

use crate::support::Client;

fn profile_fields<'a>(
    name: &'a str,
    bio: &'a str,
    city: &'a str,
    zone: &'a str,
    interests: &'a str,
) -> [(&'static str, &'a str); 5] {
    [("display_name", name), ("bio", bio), ("city", city), ("time_zone", zone), ("interests", interests)]
}

#[tokio::test]
async fn a_profile_shows_name_bio_city_interests_and_member_since() {
    let mut client = Client::new().await;
    client.sign_up("ada").await;
    let saved = client
        .post(
            "/settings/profile",
            &profile_fields("Ada Lovelace", "Poet of numbers.", "London", "Europe/London", "Maths, tea"),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), "/m/ada");

    let mut viewer = client.another();
    viewer.sign_up("charles").await;
    let page = viewer.get("/m/ADA").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text("h1"), "Ada Lovelace");
    assert_eq!(page.text(".bio"), "Poet of numbers.");
    assert!(page.text(".facts").contains("London (Europe/London)"));
    assert_eq!(page.texts(".tags li"), ["maths", "tea"]);
    let since = chrono::Utc::now().format("%B %Y").to_string();
    assert!(page.text(".facts").contains(&since));
    assert!(page.text(".profile-edit").is_empty(), "only the owner sees the edit link");
    assert!(client.get("/m/ada").await.text(".profile-edit").contains("Edit profile"));
}

#[tokio::test]
async fn profiles_need_a_log_in_and_unknown_or_suspended_members_are_not_found() {
    let mut client = Client::new().await;
    client.sign_up("viewer").await;
    let mut other = client.another();
    other.sign_up("gone").await;

    let missing = client.get("/m/nobody").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.text("h1"), "Page not found");
    assert!(!missing.text("code").is_empty(), "the request id is shown");

    store::update_status(&client.pool, "gone", Status::Suspended).await.unwrap();
    assert_eq!(client.get("/m/gone").await.status, StatusCode::NOT_FOUND);

    let mut anonymous = client.another();
    assert_eq!(anonymous.get("/m/viewer").await.location(), "/login?next=/m/viewer");
}

#[tokio::test]
async fn profile_errors_come_back_with_422_what_was_typed_and_a_message_per_field() {
    let mut client = Client::new().await;
    let id = client.sign_up("grace").await;
    let long_bio = "b".repeat(501);
    let page = client
        .post("/settings/profile", &profile_fields("", &long_bio, "Lon\u{0}don", "Mars/Olympus", "ok, <b>"))
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["display_name", "bio", "city", "time_zone", "interests"] {
        assert!(!page.text(&format!("#{field}-error")).is_empty(), "no message beside {field}");
    }
    assert_eq!(page.text("textarea[name=bio]"), long_bio);
    assert_eq!(page.value("input[name=interests]").as_deref(), Some("ok, <b>"));
    let bio: String =
        sqlx::query_scalar("select bio from members where id = $1").bind(id).fetch_one(&client.pool).await.unwrap();
    assert_eq!(bio, "", "nothing was saved");
}

#[tokio::test]
async fn a_member_cannot_change_another_members_profile_or_availability() {
    let mut ada = Client::new().await;
    let ada_id = ada.sign_up("ada").await;
    ada.post("/settings/availability", &[("weekday", "2"), ("from", "18:00"), ("to", "20:00")]).await;
    let window_id: i64 = sqlx::query_scalar("select id from availability where member_id = $1")
        .bind(ada_id)
        .fetch_one(&ada.pool)
        .await
        .unwrap();

    let mut eve = ada.another();
    let eve_id = eve.sign_up("eve").await;
    // The form names no member: whatever Eve posts changes Eve.
    let fields = [
        ("display_name", "Hacked"),
        ("bio", ""),
        ("city", ""),
        ("time_zone", "UTC"),
        ("interests", ""),
        ("id", &ada_id.to_string()),
        ("handle", "ada"),
    ];
    assert_eq!(eve.post("/settings/profile", &fields).await.status, StatusCode::SEE_OTHER);
    let names: Vec<(i64, String)> =
        sqlx::query_as("select id, display_name from members order by id").fetch_all(&ada.pool).await.unwrap();
    assert_eq!(names, [(ada_id, "ada".to_owned()), (eve_id, "Hacked".to_owned())]);

    let removal = eve.post(&format!("/settings/availability/{window_id}/delete"), &[]).await;
    assert_eq!(removal.status, StatusCode::NOT_FOUND);
    let left: i64 = sqlx::query_scalar("select count(*) from availability where member_id = $1")
        .bind(ada_id)
        .fetch_one(&ada.pool)
        .await
        .unwrap();
    assert_eq!(left, 1);
}

#[tokio::test]
async fn availability_windows_are_added_listed_and_removed_and_overlaps_refused() {
    let mut client = Client::new().await;
    let id = client.sign_up("hedy").await;
    let added = client.post("/settings/availability", &[("weekday", "4"), ("from", "17:30"), ("to", "24:00")]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    let page = client.get("/settings/availability").await;
    assert!(page.text(".flash").contains("Friday 17:30–24:00"));
    assert_eq!(page.texts(".windows tbody td:not(:last-child)"), ["Friday", "17:30", "24:00"]);

    let clash = client.post("/settings/availability", &[("weekday", "4"), ("from", "19:00"), ("to", "21:00")]).await;
    assert_eq!(clash.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(clash.text("#from-error").contains("overlaps your window Friday 17:30–24:00"));
    assert_eq!(clash.value("input[name=to]").as_deref(), Some("21:00"));
    assert_eq!(clash.text("select[name=weekday] option[selected]"), "Friday");

    let empty = client.post("/settings/availability", &[("weekday", "1"), ("from", "10:00"), ("to", "10:00")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text("#to-error").contains("end after it starts"));

    let rows: i64 = sqlx::query_scalar("select count(*) from availability where member_id = $1")
        .bind(id)
        .fetch_one(&client.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    let window_id: i64 = sqlx::query_scalar("select id from availability").fetch_one(&client.pool).await.unwrap();
    let removed = client.post(&format!("/settings/availability/{window_id}/delete"), &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert!(client.get("/settings/availability").await.text(".empty").contains("No windows yet"));
}

#[tokio::test]
async fn privacy_settings_are_saved_and_shown() {
    let mut client = Client::new().await;
    let id = client.sign_up("cara").await;
    let page = client.get("/settings/privacy").await;
    assert_eq!(page.value("input[name=invite_policy][checked]").as_deref(), Some("anyone"));

    let saved = client.post("/settings/privacy", &[("invite_policy", "following"), ("matching", "on")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let row: (String, bool, bool) =
        sqlx::query_as("select invite_policy::text, listed, matching from members where id = $1")
            .bind(id)
            .fetch_one(&client.pool)
            .await
            .unwrap();
    assert_eq!(row, ("following".to_owned(), false, true));
    let page = client.get("/settings/privacy").await;
    assert_eq!(page.value("input[name=invite_policy][checked]").as_deref(), Some("following"));
    assert!(page.value("input[name=listed][checked]").is_none());

    let bad = client.post("/settings/privacy", &[("invite_policy", "everyone"), ("listed", "on")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!bad.text("#invite_policy-error").is_empty());
    assert!(bad.value("input[name=listed][checked]").is_some(), "ticked boxes stay ticked");
}

#[tokio::test]
async fn the_home_page_welcomes_members_and_lists_what_their_profile_lacks() {
    let mut client = Client::new().await;
    let landing = client.get("/").await;
    assert!(landing.text("h1").contains("Now meet them"));
    assert!(landing.text(".hero").contains("Join Cuppa"));

    client.sign_up("rosalind").await;
    let home = client.get("/").await;
    assert_eq!(home.text("h1"), "Hello, rosalind");
    assert_eq!(home.texts(".checklist li").len(), 3);
    client.post("/settings/profile", &profile_fields("Rosalind", "", "London", "Europe/London", "x-rays")).await;
    client.post("/settings/availability", &[("weekday", "0"), ("from", "08:00"), ("to", "09:00")]).await;
    let home = client.get("/").await;
    assert!(home.texts(".checklist li").is_empty(), "nothing left to do");
    assert_eq!(home.text(".figures"), "You do not follow anyone yet.");
}
