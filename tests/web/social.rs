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
    assert!(first.text(".pager").contains("Next"));
    let second = star.get("/m/star/followers?page=2").await;
    let handles = second.texts(".people .person .muted");
    assert_eq!(handles.len(), 1, "31 active followers: 30 and 1");
    assert!(!second.text(".pager").contains("Next"));
    assert!(!first.body.contains("@fan05") && !second.body.contains("@fan05"));

    // Following back from the list returns to the same page of the list.
    let back = star.post("/m/fan00/follow", &[("back", "/m/star/followers?page=2")]).await;
    assert_eq!(back.location(), "/m/star/followers?page=2");
    let following = star.get("/m/star/following").await;
    assert_eq!(following.texts(".people .person strong"), ["fan00"]);
    assert_eq!(following.text(".people button"), "Unfollow");
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
    assert!(!bob.get("/").await.body.contains("block"));

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
