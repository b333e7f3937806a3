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

/// `ada`, `fan` and `hid` (Hidden Hal), each logged in on their own client and all in London:
/// `hid` follows `ada`, and `fan` and `ada` follow `hid`. The tests then hide `hid`, as an
/// admin would.
async fn with_a_hidden_member() -> (Client, Client, Client) {
    let mut ada = Client::new().await;
    ada.sign_up("ada").await;
    let mut fan = ada.another();
    fan.sign_up("fan").await;
    let mut hid = ada.another();
    hid.sign_up("hid").await;
    let saved =
        hid.post("/settings/profile", &profile_fields("Hidden Hal", "Here.", "London", "Europe/London", "tea")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    sqlx::query("update members set city = 'London'").execute(&ada.pool).await.unwrap();
    hid.post("/m/ada/follow", &[]).await;
    fan.post("/m/hid/follow", &[]).await;
    ada.post("/m/hid/follow", &[]).await;
    (ada, fan, hid)
}

/// Whether `hid` and `ada` are a scheduler candidate pair this week.
async fn candidates_include(pool: &sqlx::PgPool, handles: (&str, &str)) -> bool {
    use cuppa::scheduler::candidates::list_candidates;
    use cuppa::scheduler::round::period_of;
    let now = chrono::Utc::now();
    let ids: Vec<i64> = sqlx::query_scalar("select id from members where handle = any($1) order by id")
        .bind(vec![handles.0, handles.1])
        .fetch_all(pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let candidates = list_candidates(&mut conn, period_of(now), 4, now - chrono::Duration::weeks(4)).await.unwrap();
    candidates.iter().any(|c| [c.a, c.b] == ids[..])
}

#[tokio::test]
async fn a_hidden_member_is_gone_for_everyone_else() {
    let (mut ada, mut fan, _hid) = with_a_hidden_member().await;
    // Before: seen everywhere.
    assert_eq!(fan.get("/m/hid").await.status, StatusCode::OK);
    assert!(fan.get("/people").await.text(".directory").contains("Hidden Hal"));
    assert_eq!(fan.get("/m/ada").await.text(".counts"), "1 follower 1 following");
    assert!(candidates_include(&ada.pool, ("ada", "hid")).await);

    sqlx::query("update members set status = 'hidden' where handle = 'hid'").execute(&ada.pool).await.unwrap();

    // The profile answers others exactly as a missing one does (the request id aside).
    let without_id = |page: &crate::support::Page| page.text("main").replace(&page.text("code"), "");
    let hidden = ada.get("/m/hid").await;
    let missing = ada.get("/m/nobody_at_all").await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert_eq!(without_id(&hidden), without_id(&missing));
    assert_eq!(fan.get("/m/hid").await.status, StatusCode::NOT_FOUND, "a follower does not see it either");
    assert_eq!(fan.get("/m/hid/followers").await.status, StatusCode::NOT_FOUND);
    assert_eq!(fan.post("/m/hid/follow", &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(ada.get("/m/hid/invite").await.status, StatusCode::NOT_FOUND);
    // Profiles need a log-in: a visitor who has none is sent to log in, as for a missing one.
    let mut anonymous = ada.another();
    let (hidden, missing) = (anonymous.get("/m/hid").await, anonymous.get("/m/nobody_at_all").await);
    assert_eq!((hidden.status, missing.status), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER));
    assert_eq!(hidden.location(), "/login?next=/m/hid");

    // Not in the directory nor its search; not in follow lists; not counted.
    for page in ["/people", "/people?q=hid", "/people?q=Hal", "/people?city=London", "/people?interest=tea"] {
        let seen = fan.get(page).await;
        assert_eq!(seen.status, StatusCode::OK);
        assert!(!seen.body.contains("Hidden Hal") && !seen.body.contains("@hid"), "{page} shows the hidden member");
    }
    for viewer in [&mut ada, &mut fan] {
        let followers = viewer.get("/m/ada/followers").await;
        assert!(!followers.body.contains("@hid"), "a follower list shows the hidden member");
        let following = viewer.get("/m/ada/following").await;
        assert!(!following.body.contains("@hid"));
    }
    assert_eq!(fan.get("/m/ada").await.text(".counts"), "0 followers 0 following");
    assert_eq!(ada.get("/m/fan").await.text(".counts"), "0 followers 0 following");
    assert!(!ada.get("/").await.body.contains("Hidden Hal"), "nor among the people Ada has not met");

    // Nor matched.
    assert!(!candidates_include(&ada.pool, ("ada", "hid")).await);
    let eligible: i64 =
        sqlx::query_scalar("select count(*) from scheduler_eligible join members using (id) where handle = 'hid'")
            .fetch_one(&ada.pool)
            .await
            .unwrap();
    assert_eq!(eligible, 0);
}

#[tokio::test]
async fn a_hidden_member_still_logs_in_and_sees_their_own_profile_with_a_note() {
    let (ada, _fan, mut hid) = with_a_hidden_member().await;
    sqlx::query("update members set status = 'hidden' where handle = 'hid'").execute(&ada.pool).await.unwrap();

    // Still logged in: hiding is not a suspension.
    let home = hid.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.attrs(".nav-links a", "href").contains(&"/m/hid".to_owned()), "the member's own home page");
    assert!(!home.text(".flash").contains("logged out"), "{}", home.text(".flash"));
    assert_eq!(hid.get("/settings/profile").await.status, StatusCode::OK);

    // And can log in again.
    hid.log_out().await;
    let back = hid.log_in("hid", crate::support::PASSWORD).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.text(".form-error"));
    assert_eq!(hid.get("/").await.status, StatusCode::OK);

    // Their own profile, with its facts, its counts as anyone's, and a note for them alone.
    let own = hid.get("/m/hid").await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.text("h1"), "Hidden Hal");
    assert!(own.text(".profile-hidden").contains("hidden from other members by the Cuppa team"));
    assert_eq!(own.text(".counts"), "2 followers 1 following");
    assert_eq!(hid.get("/m/hid/followers").await.status, StatusCode::OK);

    // Others' profiles carry no such note, and neither does the owner's once it is shown again.
    assert!(hid.get("/m/ada").await.text(".profile-hidden").is_empty());
    store::update_status(&ada.pool, "hid", Status::Active).await.unwrap();
    assert!(hid.get("/m/hid").await.text(".profile-hidden").is_empty());
}

/// Listed, active members put straight into the table (a sign-up each through the forms would
/// take seconds): `(handle, display name, city, interests)`. Their ids, in the order given.
async fn insert_people(pool: &sqlx::PgPool, people: &[(String, String, String, Vec<String>)]) -> Vec<i64> {
    let mut ids = Vec::new();
    for (handle, name, city, interests) in people {
        let id = sqlx::query_scalar(
            "insert into members (email, handle, display_name, password_hash, city, interests)
             values ($1 || '@example.com', $1, $2, 'x', $3, $4)
             returning id",
        )
        .bind(handle)
        .bind(name)
        .bind(city)
        .bind(interests)
        .fetch_one(pool)
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

/// The profile paths of "everyone else" on a directory page, in the page's order.
fn others_on(page: &crate::support::Page) -> Vec<String> {
    page.attrs("#others-heading ~ .directory a.person", "href")
}

/// The pager's "Next" link, if the page has one.
fn next_of(page: &crate::support::Page) -> Option<String> {
    page.attrs(".pager a[rel=next]", "href").into_iter().next()
}

/// Reads `start` and every page its "Next" links lead to: each page's address and its
/// "everyone else" in order.
async fn walk_directory(client: &mut Client, start: &str) -> Vec<(String, Vec<String>)> {
    let mut pages = Vec::new();
    let mut next = Some(start.to_owned());
    while let Some(path) = next {
        let page = client.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        next = next_of(&page);
        pages.push((path, others_on(&page)));
        assert!(pages.len() < 20, "the pages end");
    }
    pages
}

#[tokio::test]
async fn the_directory_pages_by_cursor_through_everyone_once_in_name_order() {
    let mut me = Client::new().await;
    let my_id = me.sign_up("viewer").await;
    // 70 people whose names repeat (so a page can end inside a run of one name, where only
    // the id tells them apart), with capitals and dots in them (the cursor holds the name).
    let people: Vec<_> = (0..70)
        .map(|i| {
            let name = match i % 7 {
                0 => format!("Dr. Who {}", i % 3),
                1 => format!("a.b. cee {}", i % 2),
                n => format!("Person {}", ["Zed", "zed", "Amy", "bob", "Ünal"][n - 2]),
            };
            (format!("person_{i:02}"), name, "Lisbon".to_owned(), vec!["tea".to_owned()])
        })
        .collect();
    insert_people(&me.pool, &people).await;
    // Two connections, listed first on page one and not again among everyone else.
    me.post("/m/person_03/follow", &[]).await;
    me.post("/m/person_04/follow", &[]).await;

    let pages = walk_directory(&mut me, "/people").await;
    assert_eq!(pages.iter().map(|(_, people)| people.len()).collect::<Vec<_>>(), [30, 30, 8]);
    let seen: Vec<String> = pages.iter().flat_map(|(_, people)| people.clone()).collect();
    let expected: Vec<String> = sqlx::query_scalar(
        "select '/m/' || handle from members
         where id <> $1 and handle not in ('person_03', 'person_04')
         order by lower(display_name), id",
    )
    .bind(my_id)
    .fetch_all(&me.pool)
    .await
    .unwrap();
    assert_eq!(seen, expected, "everyone else once, by name and then by id, across the pages");
    assert!(pages[1].0.starts_with("/people?after="), "{}", pages[1].0);

    // Page one lists the connections first; later pages do not, and link back to page one.
    let first = me.get("/people").await;
    assert_eq!(first.attrs("#connected-heading + .directory a.person", "href"), ["/m/person_04", "/m/person_03"]);
    assert!(!first.text(".pager").contains("First page"));
    let second = me.get(&pages[1].0).await;
    assert!(second.texts("#connected-heading").is_empty());
    assert_eq!(second.text("#others-heading"), "Everyone else");
    assert_eq!(second.attrs(".pager a", "href")[0], "/people");
    // A follow button on page two comes back to page two.
    assert_eq!(second.value("input[name=back]").as_deref(), Some(pages[1].0.as_str()));
    let followed = me.post("/m/person_10/follow", &[("back", &pages[1].0)]).await;
    assert_eq!(followed.location(), pages[1].0);
}

#[tokio::test]
async fn directory_filters_carry_over_from_page_to_page() {
    let mut me = Client::new().await;
    me.sign_up("viewer").await;
    let people: Vec<_> = (0..90)
        .map(|i| {
            let city = if i % 3 == 0 { "Porto" } else { "Lisbon" };
            let interests =
                if i % 4 == 0 { vec!["jazz".to_owned()] } else { vec!["tea".to_owned(), "jazz".to_owned()] };
            let name = if i % 10 == 9 { format!("Other {i}") } else { format!("Person {}", i % 11) };
            // Handles that the search does not match, so that it picks by name alone.
            (format!("member_{i:02}"), name, city.to_owned(), interests)
        })
        .collect();
    insert_people(&me.pool, &people).await;

    let start = "/people?q=pers&city=lisbon&interest=Tea";
    let pages = walk_directory(&mut me, start).await;
    assert_eq!(pages.len(), 2, "{pages:?}");
    for (path, _) in &pages[1..] {
        assert!(path.starts_with("/people?q=pers&city=lisbon&interest=Tea&after="), "{path}");
    }
    let second = me.get(&pages[1].0).await;
    assert_eq!(second.value("input[name=q]").as_deref(), Some("pers"), "the search stays in the box");
    assert_eq!(second.value("input[name=city]").as_deref(), Some("lisbon"));
    assert_eq!(second.value("input[name=interest]").as_deref(), Some("Tea"));
    assert_eq!(
        second.attrs(".pager a", "href")[0],
        "/people?q=pers&city=lisbon&interest=Tea",
        "the first page keeps them"
    );

    let seen: Vec<String> = pages.iter().flat_map(|(_, people)| people.clone()).collect();
    let expected: Vec<String> = sqlx::query_scalar(
        "select '/m/' || handle from members
         where city = 'Lisbon' and 'tea' = any (interests) and display_name like 'Person%'
         order by lower(display_name), id",
    )
    .fetch_all(&me.pool)
    .await
    .unwrap();
    assert!((31..=60).contains(&expected.len()), "two pages: {}", expected.len());
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_directory_cursor_cuppa_did_not_write_is_a_clear_400_not_a_500() {
    let mut me = Client::new().await;
    me.sign_up("viewer").await;
    let long = format!("{}.5", "a".repeat(400));
    for after in ["junk", "name.", "name.x", "name.-4", "name.0", "a%00b.5", "name.99999999999999999999", &long] {
        let page = me.get(&format!("/people?after={after}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{after}");
        assert!(page.text("main").contains("start again from the first page"), "{after}: {}", page.text("main"));
    }
    // An empty cursor is the first page; one past everyone, or after a member who has since
    // left, is a page like any other.
    assert_eq!(me.get("/people?after=").await.text("#others-heading"), "Everyone");
    let past = me.get("/people?after=zzzz.999999").await;
    assert_eq!(past.status, StatusCode::OK);
    assert!(past.text(".empty").contains("No more people"));
}
