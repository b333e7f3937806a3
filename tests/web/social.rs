//! Follows and blocks: idempotence, counts, lists, and every effect of a block.

use axum::http::StatusCode;
use cuppa::members::model::Status;
use cuppa::members::store;

use crate::support::Client;

async fn follows(client: &Client) -> Vec<(String, String)> {
    sqlx::query_as(
        "select a.handle, b.handle from follows f join members a on a.id = f.follower_id
         join members b on b.id = f.followee_id order by 1, 2",
    )
    .fetch_all(&client.pool)
    .await
    .unwrap()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

/// Three members, each logged in on their own client.
async fn trio() -> (Client, Client, Client) {
    let mut ada = Client::new().await;
    ada.sign_up("ada").await;
    let mut bob = ada.another();
    bob.sign_up("bob").await;
    let mut cy = ada.another();
    cy.sign_up("cyd").await;
    (ada, bob, cy)
}

#[tokio::test]
async fn following_twice_or_unfollowing_twice_is_harmless() {
    let (mut ada, _bob, _cy) = trio().await;
    for _ in 0..2 {
        let done = ada.post("/m/bob/follow", &[]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER);
        assert_eq!(done.location(), "/m/bob");
    }
    assert_eq!(follows(&ada).await, pairs(&[("ada", "bob")]));
    for _ in 0..2 {
        assert_eq!(ada.post("/m/bob/unfollow", &[]).await.status, StatusCode::SEE_OTHER);
    }
    assert!(follows(&ada).await.is_empty());
    assert_eq!(ada.post("/m/ada/follow", &[]).await.status, StatusCode::BAD_REQUEST, "nobody follows themselves");
    assert_eq!(ada.post("/m/nobody/follow", &[]).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn profiles_show_counts_and_who_follows_whom() {
    let (mut ada, mut bob, mut cy) = trio().await;
    ada.post("/m/bob/follow", &[]).await;
    cy.post("/m/bob/follow", &[]).await;
    bob.post("/m/ada/follow", &[]).await;

    let page = ada.get("/m/bob").await;
    assert_eq!(page.text(".counts"), "2 followers 1 following");
    assert_eq!(page.text(".badge"), "You follow each other");
    assert_eq!(page.text(".profile-actions button"), "Unfollow");

    let page = cy.get("/m/ada").await;
    assert_eq!(page.text(".counts"), "1 follower 1 following");
    assert_eq!(page.text(".badge"), "");
    assert_eq!(page.text(".profile-actions button"), "Follow");

    let page = bob.get("/m/cyd").await;
    assert_eq!(page.text(".badge"), "Follows you");

    // Suspended members do not count.
    store::update_status(&ada.pool, "cyd", Status::Suspended).await.unwrap();
    assert_eq!(ada.get("/m/bob").await.text(".counts"), "1 follower 1 following");
}

#[tokio::test]
async fn follower_and_following_lists_are_paginated_and_skip_suspended_members() {
    let mut star = Client::new().await;
    star.sign_up("star").await;
    for i in 0..32 {
        let mut fan = star.another();
        fan.sign_up(&format!("fan{i:02}")).await;
        fan.post("/m/star/follow", &[]).await;
    }
    store::update_status(&star.pool, "fan05", Status::Suspended).await.unwrap();
    let first = star.get("/m/star/followers").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.texts(".people li").len(), 30);
    let next = first.attrs(".pager a[rel=next]", "href");
    assert_eq!(next.len(), 1, "a next page");
    assert!(next[0].starts_with("/m/star/followers?after="), "{next:?}");
    let second = star.get(&next[0]).await;
    let handles = second.texts(".people .person .muted");
    assert_eq!(handles.len(), 1, "31 active followers: 30 and 1");
    assert!(!second.text(".pager").contains("Next"));
    assert_eq!(second.attrs(".pager a", "href"), ["/m/star/followers"], "back to the first page");
    assert!(!first.body.contains("@fan05") && !second.body.contains("@fan05"));

    // Following back from the list returns to the same page of the list.
    assert_eq!(second.value("input[name=back]").as_deref(), Some(next[0].as_str()));
    let back = star.post("/m/fan00/follow", &[("back", &next[0])]).await;
    assert_eq!(back.location(), next[0]);
    let following = star.get("/m/star/following").await;
    assert_eq!(following.texts(".people .person strong"), ["fan00"]);
    assert_eq!(following.text(".people button"), "Unfollow");
}

/// Reads a follow list from `start` through its "Next" links: each page's profile links.
async fn walk_follow_list(client: &mut Client, start: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut next = Some(start.to_owned());
    while let Some(path) = next {
        let page = client.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        pages.push(page.attrs(".people a.person", "href"));
        next = page.attrs(".pager a[rel=next]", "href").pop();
        assert!(pages.len() < 10, "the pages end");
    }
    pages
}

#[tokio::test]
async fn follow_lists_page_through_follows_made_at_one_instant_once_each() {
    let mut star = Client::new().await;
    let star_id = star.sign_up("star").await;
    let mut viewer = star.another();
    let viewer_id = viewer.sign_up("viewer").await;
    let fans: Vec<i64> = sqlx::query_scalar(
        "insert into members (email, handle, display_name, password_hash)
         select format('fan%s@example.com', i), format('fan_%s', i), format('Fan %s', i), 'x'
         from generate_series(1, 75) i
         returning id",
    )
    .fetch_all(&star.pool)
    .await
    .unwrap();
    // An import follows many at one instant: 40 fans follow the star at the same time, so
    // only their ids order them; the others each at a time of their own, earlier. The star
    // follows 33 of them back at one instant.
    sqlx::query(
        "insert into follows (follower_id, followee_id, created_at)
         select f.id, $1, timestamptz '2026-06-01 12:00' - make_interval(secs => greatest(f.n - 40, 0)::int)
         from unnest($2::bigint[]) with ordinality as f(id, n)",
    )
    .bind(star_id)
    .bind(&fans)
    .execute(&star.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into follows (follower_id, followee_id, created_at)
         select $1, f.id, timestamptz '2026-06-02 08:00' from unnest($2::bigint[]) as f(id)",
    )
    .bind(star_id)
    .bind(&fans[..33])
    .execute(&star.pool)
    .await
    .unwrap();
    // Left out of the lists: a hidden fan, a suspended one, and one the viewer blocked.
    sqlx::query("update members set status = 'hidden' where handle = 'fan_2'").execute(&star.pool).await.unwrap();
    store::update_status(&star.pool, "fan_50", Status::Suspended).await.unwrap();
    sqlx::query("insert into blocks (blocker_id, blocked_id) select $1, id from members where handle = 'fan_7'")
        .bind(viewer_id)
        .execute(&star.pool)
        .await
        .unwrap();

    let followers = walk_follow_list(&mut viewer, "/m/star/followers").await;
    assert_eq!(followers.iter().map(Vec::len).collect::<Vec<_>>(), [30, 30, 12]);
    let seen: Vec<String> = followers.concat();
    let mut once = seen.clone();
    once.sort();
    once.dedup();
    assert_eq!(once.len(), seen.len(), "nobody twice");
    for left_out in ["/m/fan_2", "/m/fan_50", "/m/fan_7"] {
        assert!(!seen.contains(&left_out.to_owned()), "{left_out} is listed");
    }
    // Newest follow first; among those made at one instant, by id.
    let expected: Vec<String> = sqlx::query_scalar(
        "select '/m/' || m.handle from follows f join members m on m.id = f.follower_id
         where f.followee_id = $1 and m.handle not in ('fan_2', 'fan_50', 'fan_7')
         order by f.created_at desc, m.id",
    )
    .bind(star_id)
    .fetch_all(&star.pool)
    .await
    .unwrap();
    assert_eq!(seen, expected);

    // The star follows fans 1 to 33 at one instant: by id, which is their number here.
    let following = walk_follow_list(&mut viewer, "/m/star/following").await;
    assert_eq!(following.iter().map(Vec::len).collect::<Vec<_>>(), [30, 1], "33 followed, 2 left out");
    let expected: Vec<String> = (1..=33).filter(|i| ![2, 7].contains(i)).map(|i| format!("/m/fan_{i}")).collect();
    assert_eq!(following.concat(), expected);

    // A cursor Cuppa did not write is a clear 400; an empty one is the first page.
    for after in ["x", "1.", ".5", "1.0", "1.x", "-5.5", "-8000000000000000000.5", "99999999999999999999.5", "1%002.5"]
    {
        let page = viewer.get(&format!("/m/star/followers?after={after}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{after}");
        assert!(page.text("main").contains("start again from the first page"), "{after}");
    }
    assert_eq!(viewer.get("/m/star/following?after=").await.texts(".people li").len(), 30);
}

#[tokio::test]
async fn a_block_removes_follows_both_ways_and_hides_each_from_the_other() {
    let (mut ada, mut bob, mut cy) = trio().await;
    ada.post("/m/bob/follow", &[]).await;
    bob.post("/m/ada/follow", &[]).await;
    cy.post("/m/ada/follow", &[]).await;
    cy.post("/m/bob/follow", &[]).await;

    let done = ada.post("/m/bob/block", &[]).await;
    assert_eq!(done.location(), "/settings/blocked");
    assert_eq!(follows(&ada).await, pairs(&[("cyd", "ada"), ("cyd", "bob")]));

    // Profiles answer 404 both ways, just like a member who does not exist.
    let hidden = bob.get("/m/ada").await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let missing = bob.get("/m/nobody_at_all").await;
    let without_id = |page: &crate::support::Page| page.text("main").replace(&page.text("code"), "");
    assert_eq!(without_id(&hidden), without_id(&missing));
    assert_eq!(bob.get("/m/ada/followers").await.status, StatusCode::NOT_FOUND);
    // The blocker does not see the blocked profile either; unblocking is in settings.
    assert_eq!(ada.get("/m/bob").await.status, StatusCode::NOT_FOUND);

    // Neither can follow the other while the block stands.
    assert_eq!(bob.post("/m/ada/follow", &[]).await.status, StatusCode::NOT_FOUND);
    ada.post("/m/bob/follow", &[]).await;
    assert_eq!(follows(&ada).await, pairs(&[("cyd", "ada"), ("cyd", "bob")]));

    // Lists leave them out for each other, but not for a third member.
    let seen_by_bob = bob.get("/m/cyd/following").await;
    assert_eq!(seen_by_bob.texts(".people .person strong"), ["bob"]);
    let seen_by_cy = cy.get("/m/cyd/following").await;
    assert_eq!(seen_by_cy.texts(".people .person strong").len(), 2);

    // The blocked member is never told: nothing on their pages mentions it.
    let bobs_home = bob.get("/").await;
    assert_eq!(bobs_home.status, StatusCode::OK);
    assert!(!bobs_home.body.to_lowercase().contains("block"));

    let blocked = ada.get("/settings/blocked").await;
    assert_eq!(blocked.texts(".people .person strong"), ["bob"]);
    assert_eq!(ada.post("/m/bob/unblock", &[]).await.location(), "/settings/blocked");
    assert!(ada.get("/settings/blocked").await.text(".empty").contains("not blocked anyone"));
    assert_eq!(bob.get("/m/ada").await.status, StatusCode::OK);
    assert!(follows(&ada).await.len() == 2, "unblocking does not restore follows");
}

#[tokio::test]
async fn blocking_someone_who_blocked_you_first_reveals_nothing() {
    let (mut ada, mut bob, _cy) = trio().await;
    ada.post("/m/bob/block", &[]).await;
    let answer = bob.post("/m/ada/block", &[]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "the same answer as for anyone else");
    let count: i64 = sqlx::query_scalar("select count(*) from blocks").fetch_one(&ada.pool).await.unwrap();
    assert_eq!(count, 2);
    assert_eq!(ada.post("/m/ada/block", &[]).await.status, StatusCode::BAD_REQUEST);
}

async fn met_pairs(client: &Client) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "select a.handle, b.handle, p.how::text from met_pairs p join members a on a.id = p.a_id
         join members b on b.id = p.b_id order by 1, 2",
    )
    .fetch_all(&client.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_met_claim_counts_only_once_the_other_confirms_it() {
    let (mut ada, mut bob, mut cyd) = trio().await;
    ada.post("/m/bob/follow", &[]).await;
    assert_eq!(ada.post("/m/bob/met", &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(ada.post("/m/bob/met", &[]).await.status, StatusCode::SEE_OTHER, "asking twice is harmless");
    let claims: i64 = sqlx::query_scalar("select count(*) from met_claims").fetch_one(&ada.pool).await.unwrap();
    assert_eq!(claims, 1);
    assert!(met_pairs(&ada).await.is_empty(), "a claim alone is not a meeting");
    assert!(ada.get("/m/bob").await.text(".met-claim").contains("Waiting for them to confirm"));

    let claim_id: i64 = sqlx::query_scalar("select id from met_claims").fetch_one(&ada.pool).await.unwrap();
    // Neither a third member nor the claimant can answer it.
    let stranger = cyd.post(&format!("/met-claims/{claim_id}/confirm"), &[]).await;
    assert_eq!(stranger.status, StatusCode::FORBIDDEN);
    assert_eq!(ada.post(&format!("/met-claims/{claim_id}/confirm"), &[]).await.status, StatusCode::FORBIDDEN);
    assert!(met_pairs(&ada).await.is_empty());

    let home = bob.get("/").await;
    assert!(home.text(".people").contains("ada says you have met in person"), "{}", home.text("main"));
    let confirmed = bob.post(&format!("/met-claims/{claim_id}/confirm"), &[("back", "/")]).await;
    assert_eq!(confirmed.location(), "/");
    assert_eq!(met_pairs(&ada).await, [("ada".to_owned(), "bob".to_owned(), "claimed".to_owned())]);
    assert_eq!(bob.post(&format!("/met-claims/{claim_id}/confirm"), &[]).await.status, StatusCode::NOT_FOUND);

    // "Met in person" shows to the two concerned and to nobody else.
    assert!(ada.get("/m/bob").await.text(".relation").contains("Met in person"));
    assert!(bob.get("/m/ada").await.text(".relation").contains("Met in person"));
    assert!(!cyd.get("/m/ada").await.body.contains("Met in person"));
    assert!(!cyd.get("/m/bob").await.body.contains("Met in person"));
}

#[tokio::test]
async fn a_declined_claim_records_nothing_and_a_claim_back_confirms() {
    let (mut ada, mut bob, mut cyd) = trio().await;
    ada.post("/m/bob/met", &[]).await;
    let claim_id: i64 = sqlx::query_scalar("select id from met_claims").fetch_one(&ada.pool).await.unwrap();
    let declined = bob.post(&format!("/met-claims/{claim_id}/decline"), &[("back", "/m/ada")]).await;
    assert_eq!(declined.location(), "/m/ada");
    assert!(met_pairs(&ada).await.is_empty());
    let status: String = sqlx::query_scalar("select status::text from met_claims").fetch_one(&ada.pool).await.unwrap();
    assert_eq!(status, "declined");

    // Each saying "we have met" about the other is a confirmation.
    cyd.post("/m/ada/met", &[]).await;
    let page = ada.get("/m/cyd").await;
    assert!(page.text(".met-claim").contains("cyd says you have met"));
    ada.post("/m/cyd/met", &[]).await;
    assert_eq!(met_pairs(&ada).await, [("ada".to_owned(), "cyd".to_owned(), "claimed".to_owned())]);
}

#[tokio::test]
async fn the_home_page_lists_the_connected_never_met_most_promising_first() {
    let mut me = Client::new().await;
    me.sign_up("me_here").await;
    me.post(
        "/settings/profile",
        &[
            ("display_name", "Me"),
            ("bio", ""),
            ("city", "London"),
            ("time_zone", "Europe/London"),
            ("interests", "jazz, tea"),
        ],
    )
    .await;
    let mut people = Vec::new();
    for (handle, city, interests) in [
        ("follower_only", "Paris", ""),
        ("mutual_far", "Paris", ""),
        ("mutual_near", "London", ""),
        ("mutual_near_jazz", "London", "jazz"),
        ("met_already", "London", "jazz, tea"),
        ("blocked_one", "London", "jazz, tea"),
        ("stranger", "London", "jazz, tea"),
    ] {
        let mut other = me.another();
        other.sign_up(handle).await;
        let fields =
            [("display_name", handle), ("bio", ""), ("city", city), ("time_zone", "UTC"), ("interests", interests)];
        other.post("/settings/profile", &fields).await;
        people.push(other);
    }
    for other in people.iter_mut() {
        let handle = other.get("/").await.text("h1").replace("Hello, ", "");
        if handle != "stranger" {
            other.post("/m/me_here/follow", &[]).await;
        }
        if handle.starts_with("mutual") || handle == "met_already" || handle == "blocked_one" {
            me.post(&format!("/m/{handle}/follow"), &[]).await;
        }
    }
    me.post("/m/met_already/met", &[]).await;
    people[4].post("/m/me_here/met", &[]).await;
    me.post("/m/blocked_one/block", &[]).await;

    let home = me.get("/").await;
    let listed: Vec<String> = home.texts(".never-met .person strong");
    assert_eq!(listed, ["mutual_near_jazz", "mutual_near", "mutual_far", "follower_only"]);
    let reasons = home.inline_texts(".never-met .reason");
    assert_eq!(reasons[0], "You follow each other, you both live in London, you both like jazz");
    assert_eq!(reasons[3], "You are connected");
    assert_eq!(home.text(".figures"), "You have met 1 of the 4 people you follow.");
}

#[tokio::test]
async fn the_never_met_list_matches_a_direct_computation_on_a_seeded_graph() {
    use std::collections::{BTreeSet, HashSet};
    let client = Client::new().await;
    cuppa::seed::run_without_photos(&client.pool, 400, 11).await.unwrap();
    let follows: Vec<(i64, i64)> =
        sqlx::query_as("select follower_id, followee_id from follows").fetch_all(&client.pool).await.unwrap();
    let met: HashSet<(i64, i64)> =
        sqlx::query_as("select a_id, b_id from met_pairs").fetch_all(&client.pool).await.unwrap().into_iter().collect();
    let blocks: HashSet<(i64, i64)> = sqlx::query_as("select blocker_id, blocked_id from blocks")
        .fetch_all(&client.pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let members: Vec<(i64, String)> =
        sqlx::query_as("select id, handle from members").fetch_all(&client.pool).await.unwrap();
    let mut checked = 0;
    for (id, _) in members.iter().step_by(7) {
        let mut expected = BTreeSet::new();
        for &(a, b) in &follows {
            let other = if a == *id {
                b
            } else if b == *id {
                a
            } else {
                continue;
            };
            let pair = ((*id).min(other), (*id).max(other));
            if !met.contains(&pair) && !blocks.contains(&(*id, other)) && !blocks.contains(&(other, *id)) {
                expected.insert(members.iter().find(|(m, _)| *m == other).unwrap().1.clone());
            }
        }
        let home = home_of(&client.pool, *id, cuppa::social::store::NEVER_MET_POOL, 100_000).await;
        assert!(home.ranked < cuppa::social::store::NEVER_MET_POOL, "every connection is ranked here");
        let listed = home.never_met;
        let got: BTreeSet<String> = listed.iter().map(|p| p.handle.clone()).collect();
        assert_eq!(got, expected, "member {id}");
        assert!(listed.iter().all(|p| p.total == expected.len() as i64));
        // Mutual follows come before one-way ones.
        let mutual: Vec<bool> = listed.iter().map(|p| p.mutual).collect();
        assert!(mutual.windows(2).all(|w| w[0] >= w[1]), "member {id}: {mutual:?}");
        checked += usize::from(!expected.is_empty());
    }
    assert!(checked > 20, "the seeded graph gave members something to check");
}

#[tokio::test]
async fn the_directory_searches_filters_and_leaves_out_whom_it_must() {
    let mut me = Client::new().await;
    me.sign_up("viewer").await;
    let profiles = [
        ("ada_l", "Ada Lovelace", "London", "maths, tea"),
        ("grace_h", "Grace Hopper", "New York", "navy, tea"),
        ("alan_t", "Alan Turing", "London", "running"),
        ("hidden_h", "Hidden Harry", "London", "tea"),
        ("gone_g", "Gone Gina", "London", "tea"),
        ("blocker_b", "Blocking Bea", "London", "tea"),
        ("blocked_b", "Blocked Ben", "London", "tea"),
        ("zed_z", "Zed Zulu", "Paris", "tea"),
    ];
    let mut others = Vec::new();
    for (handle, name, city, interests) in profiles {
        let mut other = me.another();
        other.sign_up(handle).await;
        let fields =
            [("display_name", name), ("bio", ""), ("city", city), ("time_zone", "UTC"), ("interests", interests)];
        other.post("/settings/profile", &fields).await;
        others.push(other);
    }
    others[3].post("/settings/privacy", &[("invite_policy", "anyone"), ("matching", "on")]).await; // not listed
    store::update_status(&me.pool, "gone_g", Status::Suspended).await.unwrap();
    others[5].post("/m/viewer/block", &[]).await;
    me.post("/m/blocked_b/block", &[]).await;
    me.post("/m/zed_z/follow", &[]).await;

    let names = |page: &crate::support::Page| page.texts(".directory .person strong");
    let all = me.get("/people").await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.texts("#connected-heading + .directory .person strong"), ["Zed Zulu"], "connected people first");
    assert_eq!(names(&all), ["Zed Zulu", "Ada Lovelace", "Alan Turing", "Grace Hopper"]);

    assert_eq!(names(&me.get("/people?q=hop").await), ["Grace Hopper"]);
    assert_eq!(names(&me.get("/people?q=ALAN_T").await), ["Alan Turing"], "handles match too");
    assert_eq!(names(&me.get("/people?q=%25").await), Vec::<String>::new(), "LIKE wildcards are literal");
    assert_eq!(names(&me.get("/people?city=london").await), ["Ada Lovelace", "Alan Turing"]);
    assert_eq!(names(&me.get("/people?interest=Tea&city=London").await), ["Ada Lovelace"]);
    let none = me.get("/people?q=nobody+at+all").await;
    assert!(none.text(".empty").contains("Nobody matches"));
    assert_eq!(none.value("input[name=q]").as_deref(), Some("nobody at all"), "the search stays in the box");
}

#[tokio::test]
async fn the_directory_is_paginated_by_name() {
    let client = Client::new().await;
    cuppa::seed::run_without_photos(&client.pool, 80, 3).await.unwrap();
    let mut me = client.another();
    me.log_in(cuppa::seed::DEMO_HANDLE, cuppa::seed::DEMO_PASSWORD).await;
    let first = me.get("/people").await;
    let connected = first.texts("#connected-heading + .directory li").len();
    let page_one = first.texts("#others-heading ~ .directory .person strong");
    assert_eq!(page_one.len(), 30);
    assert!(first.text(".pager").contains("Next"));
    let mut sorted = page_one.clone();
    sorted.sort_by_key(|name| name.to_lowercase());
    assert_eq!(page_one, sorted, "by name");
    let mut everyone = page_one;
    let mut next = first.attrs(".pager a[rel=next]", "href").pop();
    while let Some(path) = next {
        let page = me.get(&path).await;
        everyone.extend(page.texts("#others-heading ~ .directory .person strong"));
        next = page.attrs(".pager a[rel=next]", "href").pop();
    }
    let listed: i64 = sqlx::query_scalar("select count(*) from members where listed and status = 'active'")
        .fetch_one(&me.pool)
        .await
        .unwrap();
    let blocked_with_demo: i64 = sqlx::query_scalar(
        "select count(*) from blocks b join members d on d.handle = 'demo' where d.id in (b.blocker_id, b.blocked_id)",
    )
    .fetch_one(&me.pool)
    .await
    .unwrap();
    assert_eq!(everyone.len() + connected + 1 + blocked_with_demo as usize, listed as usize, "everyone once, but me");
}

fn profile_with_addresses<'a>(name: &'a str, addresses: &'a str) -> [(&'static str, &'a str); 6] {
    [
        ("display_name", name),
        ("bio", ""),
        ("city", ""),
        ("time_zone", "UTC"),
        ("interests", ""),
        ("addresses", addresses),
    ]
}

#[tokio::test]
async fn members_list_their_addresses_elsewhere_and_each_address_has_one_owner() {
    let (mut ada, mut bob, _cyd) = trio().await;
    let saved =
        ada.post("/settings/profile", &profile_with_addresses("Ada", "@Ada@Mastodon.Social, ada@hachyderm.io")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(bob.get("/m/ada").await.texts(".addresses span"), ["@ada@hachyderm.io", "@ada@mastodon.social"]);

    let taken = bob.post("/settings/profile", &profile_with_addresses("Bob", "@ada@mastodon.social")).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.text("#addresses-error").contains("already listed ada@mastodon.social"));
    assert_eq!(taken.value("input[name=addresses]").as_deref(), Some("@ada@mastodon.social"));
    let bad = bob.post("/settings/profile", &profile_with_addresses("Bob", "not-an-address")).await;
    assert!(bad.text("#addresses-error").contains("not-an-address"));
    let bob_name: String =
        sqlx::query_scalar("select display_name from members where handle = 'bob'").fetch_one(&bob.pool).await.unwrap();
    assert_eq!(bob_name, "bob", "nothing saved from a refused form");
}

#[tokio::test]
async fn importing_a_mastodon_follow_list_follows_the_members_who_listed_those_addresses() {
    let (mut ada, mut bob, mut cyd) = trio().await;
    bob.post("/settings/profile", &profile_with_addresses("Bob", "@bob@mastodon.social")).await;
    cyd.post("/settings/profile", &profile_with_addresses("Cyd", "cyd@hachyderm.io")).await;
    let mut dee = ada.another();
    dee.sign_up("dee").await;
    dee.post("/settings/profile", &profile_with_addresses("Dee", "dee@example.social")).await;
    dee.post("/m/ada/block", &[]).await;
    ada.post("/m/cyd/follow", &[]).await;

    let file = "Account address,Show boosts,Notify on new posts,Languages\n\
                bob@mastodon.social,true,false,\n\
                CYD@hachyderm.io,true,false,\n\
                dee@example.social,true,false,\n\
                nobody@elsewhere.org,true,false,\n";
    let done = ada.upload("/settings/import", "following_accounts.csv", file.as_bytes()).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text("main"));
    let report = ada.get("/settings/import").await.text(".flash");
    assert_eq!(
        report, "Read 4 accounts. Found on Cuppa: 2. Followed now: 1. Already followed: 1. Not on Cuppa: 2.",
        "a block is reported like an address nobody claimed"
    );
    assert_eq!(follows(&ada).await, pairs(&[("ada", "bob"), ("ada", "cyd")]));

    // Importing again changes nothing.
    ada.upload("/settings/import", "following_accounts.csv", file.as_bytes()).await;
    assert!(ada.get("/settings/import").await.text(".flash").contains("Followed now: 0. Already followed: 2."));
}

#[tokio::test]
async fn a_malformed_or_oversized_follow_list_is_refused_with_a_message_and_imports_nothing() {
    let (mut ada, mut bob, _cyd) = trio().await;
    bob.post("/settings/profile", &profile_with_addresses("Bob", "bob@mastodon.social")).await;

    let half_bad = "Account address,Show boosts\nbob@mastodon.social,true\nthis is not an address,true\n";
    let page = ada.upload("/settings/import", "following_accounts.csv", half_bad.as_bytes()).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(page.text(".form-error"), "Line 3: “this is not an address” is not an account address.");
    assert!(follows(&ada).await.is_empty(), "nothing half-imported");

    let wrong = ada.upload("/settings/import", "contacts.csv", b"name,email\nBob,bob@example.com\n").await;
    assert!(wrong.text(".form-error").contains("Account address"));
    let binary = ada.upload("/settings/import", "photo.jpg", &[0xff, 0xd8, 0xff, 0xe0, 0x00]).await;
    assert!(binary.text(".form-error").contains("not text"));
    let mut big = b"Account address\n".to_vec();
    while big.len() <= 1024 * 1024 {
        big.extend_from_slice(b"someone@mastodon.social\n");
    }
    let large = ada.upload("/settings/import", "huge.csv", &big).await;
    assert_eq!(large.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(large.text(".form-error").contains("larger than 1 MB"));
    assert!(follows(&ada).await.is_empty());

    // Without the session's token in the body, the upload is refused like any other forged form.
    let mut forged = ada.another();
    forged.cookies = ada.cookies.clone();
    forged.csrf = Some("0000".to_owned());
    assert_eq!(forged.upload("/settings/import", "f.csv", half_bad.as_bytes()).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn with_htmx_a_follow_button_is_answered_by_the_new_button_alone() {
    use axum::body::Body;
    use axum::http::{Request, header};
    let (mut ada, _bob, _cyd) = trio().await;
    let token = ada.get("/m/bob").await.value("input[name=csrf_token]").unwrap();
    let swap = |path: &str| {
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("hx-request", "true")
            .body(Body::from(format!("csrf_token={token}&back=%2Fm%2Fbob")))
            .unwrap()
    };
    let followed = ada.send(swap("/m/bob/follow")).await;
    assert_eq!(followed.status, StatusCode::OK);
    assert!(followed.body.trim_start().starts_with("<form"), "a fragment, not a page: {}", followed.body);
    assert_eq!(followed.text("button"), "Unfollow");
    assert_eq!(follows(&ada).await, pairs(&[("ada", "bob")]));
    let unfollowed = ada.send(swap("/m/bob/unfollow")).await;
    assert_eq!(unfollowed.text("button"), "Follow");
    assert!(follows(&ada).await.is_empty());
    assert!(ada.get("/m/bob").await.text(".flash").is_empty(), "no flash left over for the next page");
}

#[tokio::test]
async fn a_block_declines_pending_met_claims_between_the_two() {
    let (mut ada, mut bob, _cyd) = trio().await;
    ada.post("/m/bob/met", &[]).await;
    let claim_id: i64 = sqlx::query_scalar("select id from met_claims").fetch_one(&ada.pool).await.unwrap();
    ada.post("/m/bob/block", &[]).await;
    assert_eq!(bob.post(&format!("/met-claims/{claim_id}/confirm"), &[]).await.status, StatusCode::NOT_FOUND);
    assert!(met_pairs(&ada).await.is_empty());
    assert!(!bob.get("/").await.body.contains("says you have met"));
}

#[tokio::test]
async fn counts_leave_out_members_in_a_block_with_the_viewer_as_the_lists_do() {
    let (mut ada, mut bob, mut cyd) = trio().await;
    bob.post("/m/cyd/follow", &[]).await;
    ada.post("/m/cyd/follow", &[]).await;
    bob.post("/m/ada/block", &[]).await;
    assert_eq!(bob.get("/m/cyd").await.text(".counts"), "1 follower 0 following");
    assert_eq!(bob.get("/m/cyd/followers").await.texts(".people .person strong"), ["bob"]);
    assert_eq!(cyd.get("/m/cyd").await.text(".counts"), "2 followers 0 following");
}

#[tokio::test]
async fn a_cut_off_upload_is_refused_not_read_as_a_shorter_file() {
    use axum::body::Body;
    use axum::http::{Request, header};
    let (mut ada, mut bob, _cyd) = trio().await;
    bob.post("/settings/profile", &profile_with_addresses("Bob", "bob@mastodon.social")).await;
    let token = ada.get("/settings/import").await.value("input[name=csrf_token]").unwrap();
    let body = format!(
        "--b\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
         --b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.csv\"\r\n\r\n\
         Account address\nbob@mastodon.social\n"
    );
    let request = Request::post("/settings/import")
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=b")
        .body(Body::from(body))
        .unwrap();
    let answer = ada.send(request).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.text(".form-error").contains("cut off"));
    assert!(follows(&ada).await.is_empty());
}

#[tokio::test]
async fn the_most_connected_members_never_met_list_draws_from_their_most_recent_connections() {
    use std::collections::BTreeSet;
    let mut me = Client::new().await;
    let my_id = me.sign_up("busy_bee").await;
    for i in 0..5 {
        let mut other = me.another();
        other.sign_up(&format!("friend{i}")).await;
        other.post("/m/busy_bee/follow", &[]).await;
    }
    // The latest connection is one the member made: both sides of the graph count.
    me.post("/m/friend0/follow", &[]).await;

    let whole = home_of(&me.pool, my_id, 300, 10).await;
    assert_eq!(whole.ranked, 5);
    assert_eq!(whole.never_met.len(), 5);
    assert!(whole.never_met.iter().all(|p| p.total == 5));

    let latest = home_of(&me.pool, my_id, 3, 10).await;
    assert_eq!(latest.ranked, 3);
    let recent = latest.never_met;
    let handles: BTreeSet<String> = recent.iter().map(|p| p.handle.clone()).collect();
    assert_eq!(handles, ["friend0", "friend3", "friend4"].map(String::from).into());
    assert!(recent.iter().all(|p| p.total == 3));
    assert_eq!(recent[0].handle, "friend0", "still ranked: the mutual follow first");
}

#[tokio::test]
async fn a_member_with_very_many_connections_sees_the_recent_ones_first_and_loses_none() {
    let client = Client::new().await;
    cuppa::seed::run_without_photos(&client.pool, 400, 5).await.unwrap();
    // Everyone follows demo; the member with the highest id most recently.
    sqlx::query(
        "insert into follows (follower_id, followee_id, created_at)
         select m.id, d.id, timestamptz '2026-01-01' + make_interval(mins => m.id::int)
         from members m, members d where d.handle = 'demo' and m.id <> d.id
         on conflict (follower_id, followee_id) do update set created_at = excluded.created_at",
    )
    .execute(&client.pool)
    .await
    .unwrap();
    let oldest: (String, String) = sqlx::query_as(
        "select f.handle, f.display_name from follows x join members f on f.id = x.follower_id
         join members d on d.id = x.followee_id and d.handle = 'demo'
         where not exists (select from blocks b where d.id in (b.blocker_id, b.blocked_id) and f.id in (b.blocker_id, b.blocked_id))
         order by x.created_at limit 1",
    )
    .fetch_one(&client.pool)
    .await
    .unwrap();
    let mut demo = client.another();
    demo.log_in(cuppa::seed::DEMO_HANDLE, cuppa::seed::DEMO_PASSWORD).await;

    let home = demo.get("/").await;
    assert!(home.text("main").contains("Of the 300 people you connected with most recently"), "{}", home.text("main"));
    let people = demo.get("/people").await;
    assert_eq!(people.text("#connected-heading"), "People you connected with recently");
    assert_eq!(people.texts("#connected-heading + .directory li").len(), 60);
    // The oldest connection is not among the recent ones, but is still found, with its badge.
    let found = demo.get(&format!("/people?q={}", oldest.0)).await;
    assert!(found.texts("#others-heading ~ .directory .person strong").contains(&oldest.1), "{}", found.text("main"));
    assert!(found.text("#others-heading ~ .directory").contains("Follows you"));
}

/// The home page's read for `member`, ranking their `pool` most recent connections and
/// listing up to `shown` of them.
async fn home_of(db: &sqlx::PgPool, member: i64, pool: i64, shown: i64) -> cuppa::home::store::Home {
    let limits = cuppa::home::store::Limits {
        never_met_pool: pool,
        never_met_shown: shown,
        claims: 21,
        missed: 4,
        suggestions_after: chrono::Utc::now(),
    };
    cuppa::home::store::load(db, member, &limits).await.unwrap()
}
