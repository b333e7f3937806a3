//! Member pages in few statements (issue 15): each page the load benchmark measures runs at
//! most three, the session with its member included, whatever the member has on it.

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use sqlx::postgres::PgPoolOptions;

use crate::support::{Client, add_venue, insert_meetup, insert_rsvp, statements_for, test_state};

#[tokio::test]
async fn every_member_page_the_benchmark_measures_runs_in_at_most_three_statements() {
    let site = Client::new().await;
    let pool = site.pool.clone();
    cuppa::seed::run_without_photos(&pool, 120, 9).await.unwrap();
    // Cuppa on one connection: sqlx looks up a connection's types once, on its first use, and
    // those look-ups are not the page's.
    let one = PgPoolOptions::new().max_connections(1).connect_with((*pool.connect_options()).clone()).await.unwrap();
    let mut demo = Client::with_router(pool.clone(), cuppa::app(test_state(one)));
    assert_eq!(demo.log_in(cuppa::seed::DEMO_HANDLE, cuppa::seed::DEMO_PASSWORD).await.status, StatusCode::SEE_OTHER);
    let me: i64 = sqlx::query_scalar("select id from members where handle = $1")
        .bind(cuppa::seed::DEMO_HANDLE)
        .fetch_one(&pool)
        .await
        .unwrap();

    // Something in every part of the home page: a meetup to come and a missed one, a claim,
    // a suggestion and an open invitation, on top of the seed's follows.
    let others: Vec<(i64, String)> = sqlx::query_as(
        "select m.id, m.handle from follows f join members m on m.id = f.followee_id
         where f.follower_id = $1 and m.status = 'active' order by m.id limit 3",
    )
    .bind(me)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(others.len(), 3, "the seed gave demo people to follow");
    let venue = add_venue(&pool, "Statement Café", "London").await;
    let coming = insert_meetup(&pool, others[0].0, venue, Utc::now() + Duration::days(3), "public").await;
    insert_rsvp(&pool, coming, me, false).await;
    let missed = insert_meetup(&pool, others[0].0, venue, Utc::now() - Duration::days(3), "public").await;
    insert_rsvp(&pool, missed, me, false).await;
    insert_rsvp(&pool, missed, others[1].0, true).await;
    sqlx::query("insert into met_claims (claimant_id, other_id) values ($1, $2) on conflict do nothing")
        .bind(others[1].0)
        .bind(me)
        .execute(&pool)
        .await
        .unwrap();
    let round: i64 = sqlx::query_scalar(
        "insert into scheduler_rounds (period, started_at, members_considered, members_matchable, candidate_pairs,
                                       pairs_made, total_weight, load_ms, score_ms, match_ms, write_ms)
         values ('2099-01-05', now(), 2, 2, 1, 1, 1, 0, 0, 0, 0) returning id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into suggestions (round_id, a_id, b_id, starts_at, venue_id, a_follows_b, b_follows_a, weight)
         values ($1, least($2::bigint, $3::bigint), greatest($2::bigint, $3::bigint), now() + interval '3 days', $4,
                 true, true, 1)",
    )
    .bind(round)
    .bind(me)
    .bind(others[2].0)
    .bind(venue)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into invitations (inviter_id, invitee_id, venue_id, proposed_times, proposed_by)
         values ($1, $2, $3, array[now() + interval '4 days'], $1)",
    )
    .bind(me)
    .bind(others[1].0)
    .bind(venue)
    .execute(&pool)
    .await
    .unwrap();

    let profile = format!("/m/{}", others[0].1);
    for path in ["/", profile.as_str(), "/people", "/suggestions", "/notifications", "/meetups"] {
        // Once first, for whatever a first view of the day writes (the session's day stamp).
        assert_eq!(demo.get(path).await.status, StatusCode::OK, "{path}");
        let (page, statements) = statements_for(&mut demo, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(statements <= 3, "{path} ran {statements} statements");
        assert!(statements >= 1, "{path}: statements are counted");
    }
    // The home page showed every part it read.
    let home = demo.get("/").await;
    for part in ["Did you meet?", "Cuppa suggests", "Your coffees", "Your meetups", "Connected, but never met"] {
        assert!(home.body.contains(part), "home shows {part:?}");
    }
    assert!(home.body.contains("were not checked in"), "the missed meetup is named");
}
