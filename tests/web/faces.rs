//! Faces everywhere a person appears (issue 13): each list and page shows the person's photo,
//! or their initial when they have none to show, at a fixed size with their name as the alt
//! text; and the directory asks the database nothing more for its photos.

use axum::http::StatusCode;
use scraper::{Html, Selector};
use sqlx::postgres::PgPoolOptions;

use crate::support::{Client, Page, add_venue, give_photo_row, statements_for, test_state};

/// Every face inside `scope`, in page order, as one line each: `photo SRC alt=NAME WxH` or
/// `initial X` (an initial has no photo to wait for, and no alt: the name is beside it).
fn faces(page: &Page, scope: &str) -> Vec<String> {
    let html = Html::parse_document(&page.body);
    let scope = Selector::parse(scope).expect("valid selector");
    let avatar = Selector::parse(".avatar").expect("valid selector");
    html.select(&scope)
        .flat_map(|s| s.select(&avatar).collect::<Vec<_>>())
        .map(|face| {
            let attr = |name: &str| face.value().attr(name).unwrap_or("-").to_owned();
            if face.value().name() == "img" {
                format!("photo {} alt={} {}x{}", attr("src"), attr("alt"), attr("width"), attr("height"))
            } else {
                assert_eq!(attr("aria-hidden"), "true", "an initial is decoration beside the name");
                format!("initial {}", face.text().collect::<String>())
            }
        })
        .collect()
}

fn small(member: i64, photo: i64, name: &str) -> String {
    format!("photo /photos/{member}/{photo}-96.jpg alt={name} 48x48")
}

fn large(member: i64, photo: i64, name: &str) -> String {
    format!("photo /photos/{member}/{photo}-384.jpg alt={name} 128x128")
}

fn initial(letter: &str) -> String {
    format!("initial {letter}")
}

/// Ada, Grace (with a photo) and Cyd (without), each on their own client.
struct Three {
    ada: Client,
    grace: Client,
    cyd: Client,
    ada_id: i64,
    grace_id: i64,
    cyd_id: i64,
    photo: i64,
}

async fn three() -> Three {
    let mut ada = Client::new().await;
    let ada_id = ada.sign_up("ada").await;
    let mut grace = ada.another();
    let grace_id = grace.sign_up("grace").await;
    let mut cyd = ada.another();
    let cyd_id = cyd.sign_up("cyd").await;
    let photo = give_photo_row(&ada.pool, grace_id).await;
    Three { ada, grace, cyd, ada_id, grace_id, cyd_id, photo }
}

#[tokio::test]
async fn profiles_the_directory_follow_lists_and_home_show_each_photo_or_initial() {
    let Three { mut ada, mut grace, grace_id, photo, .. } = three().await;
    ada.post("/m/cyd/follow", &[]).await;
    ada.post("/m/grace/follow", &[]).await;
    grace.post("/m/ada/follow", &[]).await;

    let profile = ada.get("/m/grace").await;
    assert_eq!(faces(&profile, ".profile-header"), [large(grace_id, photo, "grace")]);
    assert_eq!(faces(&ada.get("/m/cyd").await, ".profile-header"), [initial("c")]);

    // Connected people first, by name.
    let directory = ada.get("/people").await;
    assert_eq!(faces(&directory, ".directory"), [initial("c"), small(grace_id, photo, "grace")]);

    // Newest follow first.
    let following = ada.get("/m/ada/following").await;
    assert_eq!(faces(&following, ".people"), [small(grace_id, photo, "grace"), initial("c")]);
    assert_eq!(faces(&ada.get("/m/ada/followers").await, ".people"), [small(grace_id, photo, "grace")]);

    // Never met: the mutual follow first.
    let home = ada.get("/").await;
    assert_eq!(faces(&home, ".never-met"), [small(grace_id, photo, "grace"), initial("c")]);

    // Hidden by an admin, Grace still sees her own profile, with her initial: nobody else may
    // fetch her photo now, so her page does not pretend they can.
    sqlx::query("update members set status = 'hidden' where id = $1").bind(grace_id).execute(&ada.pool).await.unwrap();
    assert_eq!(faces(&grace.get("/m/grace").await, ".profile-header"), [initial("g")]);
}

/// A `datetime-local` value three days ahead at ten, which any London venue accepts.
fn in_three_days() -> String {
    (chrono::Utc::now() + chrono::Duration::days(3))
        .with_timezone(&chrono_tz::Europe::London)
        .format("%Y-%m-%dT10:00")
        .to_string()
}

#[tokio::test]
async fn invitations_and_their_notices_show_the_other_persons_face_while_they_are_active() {
    let Three { mut ada, mut grace, grace_id, photo, .. } = three().await;
    sqlx::query("update members set city = 'London', time_zone = 'Europe/London'").execute(&ada.pool).await.unwrap();
    let venue = add_venue(&ada.pool, "Café Lumen", "London").await.to_string();
    let form = grace.get("/m/ada/invite").await;
    assert_eq!(faces(&form, "main"), [initial("a")], "the invite form shows whom it invites");
    let sent = grace.post("/m/ada/invite", &[("venue_id", &venue), ("time1", &in_three_days())]).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let page = sent.location().to_owned();

    let list = ada.get("/invitations").await;
    assert_eq!(faces(&list, ".invitations"), [small(grace_id, photo, "grace")]);
    assert_eq!(faces(&ada.get(&page).await, ".profile-header"), [large(grace_id, photo, "grace")]);
    let notices = ada.get("/notifications").await;
    assert_eq!(faces(&notices, ".notifications"), [small(grace_id, photo, "grace")]);
    // And Grace sees Ada's initial.
    assert_eq!(faces(&grace.get("/invitations").await, ".invitations"), [initial("a")]);

    // Once an admin hides Grace, her photo answers 404 to everyone: Ada's pages show her initial.
    sqlx::query("update members set status = 'hidden' where id = $1").bind(grace_id).execute(&ada.pool).await.unwrap();
    let notices = ada.get("/notifications").await;
    assert_eq!(faces(&notices, ".notifications"), [initial("g")]);
    assert!(!notices.body.contains("/photos/"), "no photo of a hidden member anywhere on the page");
    assert_eq!(faces(&ada.get(&page).await, ".profile-header"), [initial("g")]);
}

#[tokio::test]
async fn suggestions_and_meetups_show_faces_and_the_organiser_only_to_members() {
    let Three { mut ada, cyd, ada_id, grace_id, cyd_id, photo, .. } = three().await;
    let pool = ada.pool.clone();
    let venue = add_venue(&pool, "Café Lumen", "London").await;
    sqlx::query(
        "with r as (
             insert into scheduler_rounds (period, started_at, members_considered, members_matchable, candidate_pairs,
                                           pairs_made, total_weight, load_ms, score_ms, match_ms, write_ms)
             values (date_trunc('week', now())::date, now(), 2, 2, 1, 1, 10, 0, 0, 0, 0)
             returning id)
         insert into suggestions (round_id, a_id, b_id, venue_id, starts_at, weight, a_follows_b, b_follows_a)
         select r.id, least($1::bigint, $2::bigint), greatest($1::bigint, $2::bigint), $3, now() + interval '3 days',
                10, true, true
         from r",
    )
    .bind(ada_id)
    .bind(grace_id)
    .bind(venue)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(faces(&ada.get("/suggestions").await, ".suggestion"), [large(grace_id, photo, "grace")]);
    let home = ada.get("/").await;
    assert_eq!(faces(&home, "section[aria-labelledby=suggested]"), [small(grace_id, photo, "grace")]);

    // Cyd (no photo) organises; Grace, then Ada, are going.
    let meetup: i64 = sqlx::query_scalar(
        "with m as (
             insert into meetups (organiser_id, venue_id, title, starts_at, ends_at, capacity)
             values ($1, $2, 'Faces and coffee', now() + interval '3 days', now() + interval '3 days 2 hours', 10)
             returning id),
         going as (
             insert into rsvps (meetup_id, member_id, status, arrival)
             select m.id, who.id, 'going', who.arrival
             from m, (values ($3::bigint, 1), ($4::bigint, 2)) as who(id, arrival))
         select id from m",
    )
    .bind(cyd_id)
    .bind(venue)
    .bind(grace_id)
    .bind(ada_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    let path = format!("/meetups/{meetup}");
    let page = ada.get(&path).await;
    assert_eq!(faces(&page, ".meetup-detail header"), [initial("c")]);
    assert_eq!(faces(&page, ".attendees"), [small(grace_id, photo, "grace"), initial("a")]);
    // Logged out, a public meetup names its organiser but shows no faces, as it lists no one.
    let page = cyd.another().get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(faces(&page, "main").is_empty(), "{:?}", faces(&page, "main"));
}

#[tokio::test]
async fn the_directory_asks_nothing_more_for_twenty_photos() {
    let site = Client::new().await;
    let pool = site.pool.clone();
    // Cuppa on one connection: sqlx looks up a connection's types once, on its first use, and
    // those look-ups are not the page's.
    let one = PgPoolOptions::new().max_connections(1).connect_with((*pool.connect_options()).clone()).await.unwrap();
    let mut ada = Client::with_router(pool.clone(), cuppa::app(test_state(one)));
    ada.sign_up("ada").await;
    let people: Vec<i64> = sqlx::query_scalar(
        "insert into members (email, handle, display_name, password_hash)
         select format('p%s@example.com', i), format('person_%s', i), format('Person %s', lpad(i::text, 2, '0')), 'x'
         from generate_series(1, 20) i
         returning id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    ada.get("/people").await; // once first, for whatever a first view of the day writes
    let (page, without) = statements_for(&mut ada, "/people").await;
    assert_eq!(faces(&page, ".directory").iter().filter(|f| f.starts_with("initial")).count(), 20);
    assert!(without > 0, "statements are counted");

    for &person in &people {
        give_photo_row(&pool, person).await;
    }
    let (page, with) = statements_for(&mut ada, "/people").await;
    let photos = faces(&page, ".directory");
    assert_eq!(photos.iter().filter(|f| f.starts_with("photo")).count(), 20, "{photos:?}");
    assert_eq!(with, without, "the photos come with the people, in the same statements");
}
