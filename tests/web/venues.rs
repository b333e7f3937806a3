//! Venues: proposing, reviewing, listing.

use axum::http::StatusCode;
use cuppa::members::model::Role;
use cuppa::members::store;

use crate::support::Client;

fn proposal<'a>(name: &'a str, city: &'a str) -> [(&'static str, &'a str); 7] {
    [
        ("name", name),
        ("address", "12 Market Street"),
        ("city", city),
        ("time_zone", "Europe/London"),
        ("latitude", "51.5074"),
        ("longitude", "-0.1278"),
        ("step_free", "on"),
    ]
}

/// A member and an admin, each logged in on their own client.
async fn member_and_admin() -> (Client, Client) {
    let mut member = Client::new().await;
    member.sign_up("proposer").await;
    let mut admin = member.another();
    admin.sign_up("boss").await;
    store::update_role(&admin.pool, "boss", Role::Admin).await.unwrap();
    (member, admin)
}

#[tokio::test]
async fn a_proposed_venue_is_listed_only_once_an_admin_approves_it() {
    let (mut member, mut admin) = member_and_admin().await;
    let form = member.get("/venues/new").await;
    assert_eq!(form.status, StatusCode::OK);
    let done = member.post("/venues/new", &proposal("Café Lumen", "London")).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/venues");
    let list = member.get("/venues").await;
    assert!(list.text(".flash").contains("An admin will review Café Lumen"));
    assert!(!list.body.contains("<strong>Café Lumen</strong>"), "pending venues are not listed");

    let review = admin.get("/admin/venues").await;
    assert_eq!(review.texts(".venue strong"), ["Café Lumen"]);
    assert!(review.text(".venue").contains("Proposed by @proposer"));
    let id: i64 = sqlx::query_scalar("select id from venues").fetch_one(&admin.pool).await.unwrap();
    assert_eq!(admin.post(&format!("/admin/venues/{id}/approve"), &[]).await.location(), "/admin/venues");

    let told = member.get("/notifications").await;
    assert!(told.text(".notifications").contains("Café Lumen in London is approved"), "the proposer is told");
    let list = member.get("/venues?city=LONDON").await;
    assert_eq!(list.texts(".venue strong"), ["Café Lumen"]);
    assert!(list.text(".venue").contains("Step-free"));
    assert!(list.body.contains("openstreetmap.org/?mlat=51.50740"));
    assert_eq!(member.get("/venues?city=Paris").await.texts(".venue strong"), Vec::<String>::new());
    // Deciding twice is a conflict, not a second decision.
    assert_eq!(admin.post(&format!("/admin/venues/{id}/reject"), &[]).await.status, StatusCode::CONFLICT);
    let status: String = sqlx::query_scalar("select status::text from venues").fetch_one(&admin.pool).await.unwrap();
    assert_eq!(status, "approved");
}

#[tokio::test]
async fn only_admins_review_venues() {
    let (mut member, mut admin) = member_and_admin().await;
    member.post("/venues/new", &proposal("Bean & Leaf", "London")).await;
    let id: i64 = sqlx::query_scalar("select id from venues").fetch_one(&member.pool).await.unwrap();
    assert_eq!(member.get("/admin/venues").await.status, StatusCode::FORBIDDEN);
    assert_eq!(member.post(&format!("/admin/venues/{id}/approve"), &[]).await.status, StatusCode::FORBIDDEN);
    let mut anonymous = member.another();
    assert_eq!(anonymous.get("/admin/venues").await.location(), "/login?next=/admin/venues");
    let status: String = sqlx::query_scalar("select status::text from venues").fetch_one(&member.pool).await.unwrap();
    assert_eq!(status, "pending");

    assert_eq!(admin.post(&format!("/admin/venues/{id}/reject"), &[]).await.status, StatusCode::SEE_OTHER);
    assert!(admin.get("/admin/venues").await.text(".empty").contains("Nothing waiting"));
    assert!(member.get("/venues").await.texts(".venue strong").is_empty());
}

#[tokio::test]
async fn a_bad_or_duplicate_proposal_comes_back_with_422_and_what_was_typed() {
    let (mut member, _admin) = member_and_admin().await;
    let bad = [
        ("name", ""),
        ("address", "1 Road"),
        ("city", "London"),
        ("time_zone", "Mars/Base"),
        ("latitude", "95"),
        ("longitude", "0"),
    ];
    let page = member.post("/venues/new", &bad).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["name", "time_zone", "latitude"] {
        assert!(!page.text(&format!("#{field}-error")).is_empty(), "{field}");
    }
    assert_eq!(page.value("input[name=address]").as_deref(), Some("1 Road"));
    assert_eq!(page.value("input[name=latitude]").as_deref(), Some("95"));

    member.post("/venues/new", &proposal("Corner Café", "London")).await;
    let again = member.post("/venues/new", &proposal("corner café", "london")).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.text("#name-error").contains("already lists a place of that name"));
    let count: i64 = sqlx::query_scalar("select count(*) from venues").fetch_one(&member.pool).await.unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn the_seed_adds_approved_venues_in_every_city() {
    let client = Client::new().await;
    cuppa::seed::run(&client.pool, 20, 1, false).await.unwrap();
    let per_city: Vec<(String, i64)> =
        sqlx::query_as("select city, count(*) from venues where status = 'approved' group by city order by city")
            .fetch_all(&client.pool)
            .await
            .unwrap();
    assert_eq!(per_city.len(), cuppa::seed::CITIES.len());
    assert!(per_city.iter().all(|(_, n)| *n == 3), "{per_city:?}");
    let mut demo = client.another();
    demo.log_in(cuppa::seed::DEMO_HANDLE, cuppa::seed::DEMO_PASSWORD).await;
    let list = demo.get("/venues").await;
    assert_eq!(list.texts(".venue strong").len(), 3 * cuppa::seed::CITIES.len());
    assert!(list.text(".tabs").contains("Cape Town (3)"));
}

#[tokio::test]
async fn the_list_pages_by_fifty_within_a_city_and_a_long_form_list_says_it_is_cut() {
    let (mut member, _) = member_and_admin().await;
    sqlx::query(
        "insert into venues (name, address, city, time_zone, status)
         select format('Place %s', lpad(g::text, 3, '0')), '12 Market Street', case when g <= 60 then 'Paris' else 'London' end,
                'Europe/London', 'approved'
         from generate_series(1, 510) g",
    )
    .execute(&member.pool)
    .await
    .unwrap();

    let first = member.get("/venues?city=paris").await;
    assert_eq!(first.status, StatusCode::OK);
    let mut names = first.texts(".venues li strong");
    assert_eq!(names.len(), 50);
    let next = first.attrs(".pager a", "href");
    assert_eq!(next, ["/venues?city=paris&page=2"], "the next page, in the same city");
    let second = member.get(&next[0]).await;
    names.extend(second.texts(".venues li strong"));
    assert_eq!(second.texts(".pager a"), ["← Previous"]);
    let expected: Vec<String> = (1..=60).map(|n| format!("Place {n:03}")).collect();
    assert_eq!(names, expected, "every place in Paris once, by name");

    // All cities, 510 places: the last ten places are on the eleventh page, and the list says when it ends.
    let last = member.get("/venues?page=11").await;
    assert_eq!(last.texts(".venues li strong").len(), 10);
    assert!(member.get("/venues?page=12").await.text(".empty").contains("No more places"));

    // The meetup form lists at most 500 and says so.
    store::update_role(&member.pool, "proposer", Role::Organiser).await.unwrap();
    let form = member.get("/meetups/new").await;
    assert_eq!(form.texts("#venue_id option").len(), 501, "the prompt and 500 places");
    assert!(form.text(".hint").contains("Only the first 500 approved places"));
}
