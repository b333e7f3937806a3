//! The scheduler: every candidate filter, the candidates against a direct computation on a
//! seeded community, whole rounds (the lock, a repeated round, a dry run), and the members'
//! and admins' pages.

use std::collections::{BTreeSet, HashMap, HashSet};

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use cuppa::members::model::Role;
use cuppa::scheduler::Settings;
use cuppa::scheduler::candidates::list_candidates;
use cuppa::scheduler::matching;
use cuppa::scheduler::round::{self, Outcome, ROUND_LOCK, period_of};
use sqlx::PgPool;

use crate::support::Client;

/// Members signed up (each on their own client, logged in), all in London, free every day
/// from 09:00 to 17:00, with one approved café.
struct Community {
    clients: Vec<Client>,
    ids: Vec<i64>,
    venue: i64,
}

impl Community {
    fn pool(&self) -> &PgPool {
        &self.clients[0].pool
    }
}

async fn community(handles: &[&str]) -> Community {
    let first = Client::new().await;
    let mut clients = Vec::new();
    let mut ids = Vec::new();
    for handle in handles {
        let mut client = first.another();
        ids.push(client.sign_up(handle).await);
        clients.push(client);
    }
    let pool = first.pool.clone();
    sqlx::query("update members set city = 'London', time_zone = 'Europe/London'").execute(&pool).await.unwrap();
    sqlx::query(
        "insert into availability (member_id, weekday, start_minute, end_minute)
         select m.id, d, 540, 1020 from members m, generate_series(0, 6) d",
    )
    .execute(&pool)
    .await
    .unwrap();
    let venue = sqlx::query_scalar(
        "insert into venues (name, address, city, time_zone, status)
         values ('Café Lumen', '12 Market Street', 'London', 'Europe/London', 'approved') returning id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    Community { clients, ids, venue }
}

async fn follow(pool: &PgPool, follower: i64, followee: i64) {
    sqlx::query("insert into follows (follower_id, followee_id) values ($1, $2)")
        .bind(follower)
        .bind(followee)
        .execute(pool)
        .await
        .unwrap();
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("select count(*) from {table}")).fetch_one(pool).await.unwrap()
}

fn week() -> chrono::NaiveDate {
    period_of(Utc::now())
}

async fn candidate_pairs(conn: &mut sqlx::PgConnection) -> Vec<(i64, i64)> {
    let declined_after = Utc::now() - Duration::weeks(4);
    list_candidates(&mut *conn, week(), 4, declined_after).await.unwrap().into_iter().map(|c| (c.a, c.b)).collect()
}

/// A round row for `weeks_ago` and one suggestion of the pair in it, in `state`.
const PAST_SUGGESTION: &str = "with r as (
        insert into scheduler_rounds (period, started_at, members_considered, members_matchable, candidate_pairs,
                                      pairs_made, total_weight, load_ms, score_ms, match_ms, write_ms)
        values (date_trunc('week', now())::date - 7 * $3::int, now() - make_interval(weeks => $3::int), 2, 2, 1, 1, 10, 0, 0, 0, 0)
        returning id)
    insert into suggestions (round_id, a_id, b_id, venue_id, starts_at, weight, a_follows_b, b_follows_a, state, answered_at)
    select r.id, $1, $2, (select min(id) from venues), now(), 10, true, false, $4::suggestion_state,
           case when $4 = 'open' then null else now() - make_interval(weeks => $5::int) end
    from r";

#[tokio::test]
async fn each_filter_keeps_a_pair_out_of_the_candidates() {
    let c = community(&["ada", "grace"]).await;
    let (ada, grace) = (c.ids[0], c.ids[1]);
    follow(c.pool(), ada, grace).await;
    let mut conn = c.pool().acquire().await.unwrap();
    assert_eq!(candidate_pairs(&mut conn).await, vec![(ada, grace)], "one follow is enough");

    let invitation = format!(
        "insert into invitations (inviter_id, invitee_id, venue_id, proposed_times, proposed_by) values ({grace}, {ada}, {}, array[now() + interval '3 days'], {grace})",
        c.venue
    );
    let suggestion = |weeks_ago: i32, state: &str, answered_weeks_ago: i32| {
        PAST_SUGGESTION
            .replace("$1", &ada.to_string())
            .replace("$2", &grace.to_string())
            .replace("$3", &weeks_ago.to_string())
            .replace("$4", &format!("'{state}'"))
            .replace("$5", &answered_weeks_ago.to_string())
    };
    let excluded: Vec<(&str, String)> = vec![
        ("suspended", format!("update members set status = 'suspended' where id = {grace}")),
        ("hidden", format!("update members set status = 'hidden' where id = {ada}")),
        ("not opted in", format!("update members set matching = false where id = {ada}")),
        ("another city", format!("update members set city = 'Paris' where id = {grace}")),
        ("no city", "update members set city = ''".to_owned()),
        ("takes no invitations", format!("update members set invite_policy = 'nobody' where id = {ada}")),
        (
            "takes invitations only from those they follow",
            format!("update members set invite_policy = 'following' where id = {grace}"),
        ),
        ("met", format!("insert into met_pairs (a_id, b_id, how) values ({ada}, {grace}, 'claimed')")),
        ("blocked by the follower", format!("insert into blocks (blocker_id, blocked_id) values ({ada}, {grace})")),
        ("blocked by the followee", format!("insert into blocks (blocker_id, blocked_id) values ({grace}, {ada})")),
        ("an open invitation", invitation),
        ("suggested last week", suggestion(1, "open", 0)),
        ("declined a week ago", suggestion(10, "declined", 1)),
    ];
    for (why, change) in excluded {
        let mut tx = c.pool().begin().await.unwrap();
        sqlx::query(&change).execute(&mut *tx).await.unwrap();
        assert!(candidate_pairs(&mut tx).await.is_empty(), "{why}: the pair should not be a candidate");
        tx.rollback().await.unwrap();
    }

    let kept: Vec<(&str, String)> = vec![
        ("the same city in other letters", format!("update members set city = 'LONDON' where id = {grace}")),
        (
            "only from those they follow, and does",
            format!("update members set invite_policy = 'following' where id = {ada}"),
        ),
        ("suggested before the cool-down", suggestion(5, "open", 0)),
        ("declined long ago", suggestion(10, "declined", 8)),
        (
            "a claim to have met, not yet confirmed",
            format!("insert into met_claims (claimant_id, other_id) values ({ada}, {grace})"),
        ),
    ];
    for (why, change) in kept {
        let mut tx = c.pool().begin().await.unwrap();
        sqlx::query(&change).execute(&mut *tx).await.unwrap();
        assert_eq!(candidate_pairs(&mut tx).await, vec![(ada, grace)], "{why}: the pair should stay a candidate");
        tx.rollback().await.unwrap();
    }

    // Declined invitations and suggestions count against the pair, whoever declined.
    let mut tx = c.pool().begin().await.unwrap();
    sqlx::query(
        "insert into invitations (inviter_id, invitee_id, venue_id, proposed_times, state, proposed_by)
         values ($1, $2, $3, array[now() - interval '30 days'], 'declined', $1)",
    )
    .bind(grace)
    .bind(ada)
    .bind(c.venue)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(&suggestion(9, "declined", 8)).execute(&mut *tx).await.unwrap();
    let declined = list_candidates(&mut *tx, week(), 4, Utc::now() - Duration::weeks(4)).await.unwrap();
    assert_eq!(declined.iter().map(|c| c.declines).collect::<Vec<_>>(), vec![2]);
    tx.rollback().await.unwrap();

    // A follow back makes one pair, mutual.
    follow(c.pool(), grace, ada).await;
    let all = list_candidates(&mut *conn, week(), 4, Utc::now()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(all[0].a_follows_b && all[0].b_follows_a);
}

/// What the candidate query should find, worked out in Rust from the raw tables.
async fn candidates_by_hand(pool: &PgPool) -> BTreeSet<(i64, i64)> {
    let members: Vec<(i64, String, bool, String, String)> =
        sqlx::query_as("select id, status::text, matching, lower(city), invite_policy::text from members")
            .fetch_all(pool)
            .await
            .unwrap();
    let members: HashMap<i64, (String, bool, String, String)> = members
        .into_iter()
        .map(|(id, status, matching, city, policy)| (id, (status, matching, city, policy)))
        .collect();
    let follows: HashSet<(i64, i64)> = sqlx::query_as("select follower_id, followee_id from follows")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let met: HashSet<(i64, i64)> =
        sqlx::query_as("select a_id, b_id from met_pairs").fetch_all(pool).await.unwrap().into_iter().collect();
    let blocks: HashSet<(i64, i64)> = sqlx::query_as("select blocker_id, blocked_id from blocks")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let open: HashSet<(i64, i64)> = sqlx::query_as::<_, (i64, i64)>(
        "select inviter_id, invitee_id from invitations where state in ('pending', 'countered', 'accepted')",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(x, y)| (x.min(y), x.max(y)))
    .collect();
    let eligible = |id: i64| {
        let (status, matching, city, policy) = &members[&id];
        status == "active" && *matching && !city.is_empty() && policy != "nobody"
    };
    // Would `id` take an invitation from `other`?
    let takes_from = |id: i64, other: i64| {
        let policy = &members[&id].3;
        policy == "anyone" || (policy == "following" && follows.contains(&(id, other)))
    };
    follows
        .iter()
        .map(|&(x, y)| (x.min(y), x.max(y)))
        .filter(|&(a, b)| {
            eligible(a)
                && eligible(b)
                && members[&a].2 == members[&b].2
                && takes_from(a, b)
                && takes_from(b, a)
                && !met.contains(&(a, b))
                && !blocks.contains(&(a, b))
                && !blocks.contains(&(b, a))
                && !open.contains(&(a, b))
        })
        .collect()
}

#[tokio::test]
async fn candidates_match_a_direct_computation_on_a_seeded_community() {
    let pool = crate::support::fresh_pool().await;
    cuppa::seed::run_without_photos(&pool, 400, 5).await.unwrap();
    // Vary the settings the seed leaves alone, so every filter has members to drop.
    sqlx::query(
        "update members set matching = (id % 7 <> 0),
                invite_policy = case when id % 5 = 0 then 'following'::invite_policy
                                     when id % 13 = 0 then 'nobody'::invite_policy else invite_policy end,
                status = case when id % 17 = 0 then 'suspended'::member_status else status end,
                city = case when id % 19 = 0 then '' when id % 23 = 0 then upper(city) else city end",
    )
    .execute(&pool)
    .await
    .unwrap();
    let expected = candidates_by_hand(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    let found: Vec<(i64, i64)> = candidate_pairs(&mut conn).await;
    let found_set: BTreeSet<(i64, i64)> = found.iter().copied().collect();
    assert_eq!(found.len(), found_set.len(), "each pair once");
    assert!(expected.len() > 100, "the seeded community has candidates ({})", expected.len());
    assert!(expected.len() < count(&pool, "follows").await as usize, "and the filters drop some");
    assert_eq!(found_set, expected);
}

fn settings() -> Settings {
    Settings::default()
}

async fn ran(outcome: anyhow::Result<Outcome>) -> cuppa::scheduler::store::RoundFigures {
    match outcome.unwrap() {
        Outcome::Ran(figures) => figures,
        other => panic!("expected a round, got {other:?}"),
    }
}

/// Four people who all follow each other: two pairs a round.
async fn foursome() -> Community {
    let c = community(&["ada", "grace", "alan", "edsger"]).await;
    for &x in &c.ids {
        for &y in &c.ids {
            if x != y {
                follow(c.pool(), x, y).await;
            }
        }
    }
    c
}

#[tokio::test]
async fn a_round_suggests_pairs_once_a_week_and_a_dry_run_writes_nothing() {
    let c = foursome().await;
    let pool = c.pool();
    let now = Utc::now();

    let dry = ran(round::run(pool, &settings(), now, None, true).await).await;
    assert_eq!((dry.members_considered, dry.candidate_pairs, dry.pairs_made), (4, 6, 2));
    for table in ["scheduler_rounds", "suggestions", "notifications", "outbox"] {
        assert_eq!(count(pool, table).await, 0, "a dry run wrote into {table}");
    }

    let figures = ran(round::run(pool, &settings(), now, None, false).await).await;
    assert_eq!((figures.members_matchable, figures.pairs_made), (4, 2));
    assert!((figures.suggested_percent() - 100.0).abs() < 1e-9);
    let rows: Vec<(i64, i64, i64, DateTime<Utc>)> =
        sqlx::query_as("select a_id, b_id, venue_id, starts_at from suggestions").fetch_all(pool).await.unwrap();
    assert_eq!(rows.len(), 2);
    let people: HashSet<i64> = rows.iter().flat_map(|r| [r.0, r.1]).collect();
    assert_eq!(people.len(), 4, "each member in one pair");
    for (_, _, venue, starts_at) in &rows {
        assert_eq!(*venue, c.venue);
        assert!(*starts_at >= now + Duration::hours(24) && *starts_at <= now + Duration::days(14));
    }
    let told: i64 = sqlx::query_scalar("select count(*) from notifications where kind = 'suggestion_made'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(told, 4, "both members of each pair are told");
    assert_eq!(count(pool, "outbox").await, 4);

    let before: Vec<i64> = written_counts(pool).await;
    match round::run(pool, &settings(), now + Duration::hours(1), None, false).await.unwrap() {
        Outcome::AlreadyDone(period) => assert_eq!(period, period_of(now)),
        other => panic!("a second round in the same week ran: {other:?}"),
    }
    assert_eq!(written_counts(pool).await, before, "a repeated round wrote something");

    // Next week the same pairs are in their cool-down; the other two pairings are not.
    let next = ran(round::run(pool, &settings(), now + Duration::days(7), None, false).await).await;
    assert_eq!((next.candidate_pairs, next.pairs_made), (4, 2));
    let pairs: HashSet<(i64, i64)> =
        sqlx::query_as("select a_id, b_id from suggestions").fetch_all(pool).await.unwrap().into_iter().collect();
    assert_eq!(pairs.len(), 4, "no pair suggested twice within the cool-down");
}

async fn written_counts(pool: &PgPool) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in ["scheduler_rounds", "suggestions", "notifications", "outbox"] {
        counts.push(count(pool, table).await);
    }
    counts
}

#[tokio::test]
async fn a_second_runner_finds_the_lock_taken_and_does_nothing() {
    let c = foursome().await;
    let pool = c.pool();
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(ROUND_LOCK)
        .execute(&mut *holder)
        .await
        .unwrap();
    assert!(matches!(round::run(pool, &settings(), Utc::now(), None, false).await.unwrap(), Outcome::AlreadyRunning));
    assert_eq!(count(pool, "scheduler_rounds").await, 0);
    holder.rollback().await.unwrap();

    // Two runners at once: one writes the round, the other writes nothing.
    let settings = settings();
    let (one, two) = tokio::join!(
        round::run(pool, &settings, Utc::now(), None, false),
        round::run(pool, &settings, Utc::now(), None, false)
    );
    let outcomes = [one.unwrap(), two.unwrap()];
    assert_eq!(outcomes.iter().filter(|o| matches!(o, Outcome::Ran(_))).count(), 1, "{outcomes:?}");
    assert_eq!(count(pool, "scheduler_rounds").await, 1);
    assert_eq!(count(pool, "suggestions").await, 2);
}

#[tokio::test]
async fn a_member_accepts_a_suggestion_and_the_other_gets_an_invitation() {
    let mut c = community(&["ada", "grace"]).await;
    let (ada, grace) = (c.ids[0], c.ids[1]);
    follow(c.pool(), ada, grace).await;
    follow(c.pool(), grace, ada).await;
    sqlx::query("update members set interests = '{climbing,jazz}' where id = $1")
        .bind(ada)
        .execute(c.pool())
        .await
        .unwrap();
    sqlx::query("update members set interests = '{jazz,climbing,chess}' where id = $1")
        .bind(grace)
        .execute(c.pool())
        .await
        .unwrap();
    ran(round::run(c.pool(), &settings(), Utc::now(), None, false).await).await;
    let (id, starts_at): (i64, DateTime<Utc>) =
        sqlx::query_as("select id, starts_at from suggestions").fetch_one(c.pool()).await.unwrap();

    let page = c.clients[0].get("/suggestions").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text(".suggestion h2").starts_with("Coffee with grace"));
    let why = page.text(".suggestion .muted");
    assert!(why.contains("you follow each other") && why.contains("climbing") && why.contains("jazz"), "{why}");
    let when = starts_at.with_timezone(&chrono_tz::Europe::London).format("%a %-d %b %Y, %H:%M").to_string();
    assert!(page.text(".facts").contains(&when), "the time in London: {}", page.text(".facts"));
    assert!(page.text(".facts").contains("Café Lumen"));

    // Pausing keeps the suggestion in view, with a way back.
    c.clients[0].post("/suggestions/pause", &[]).await;
    let paused = c.clients[0].get("/suggestions").await;
    assert_eq!(paused.texts(".suggestion").len(), 1);
    assert!(paused.attrs(".paused form", "action").contains(&"/suggestions/resume".to_owned()));
    c.clients[0].post("/suggestions/resume", &[]).await;

    let home = c.clients[0].get("/").await;
    assert!(home.text("#suggested + ul").contains("Coffee with grace"), "home shows the suggestion: {}", home.body);

    let accepted = c.clients[0].post(&format!("/suggestions/{id}/accept"), &[]).await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER);
    let (inviter, invitee, venue, times): (i64, i64, i64, Vec<DateTime<Utc>>) = sqlx::query_as(
        "select inviter_id, invitee_id, venue_id, proposed_times from invitations where state = 'pending'",
    )
    .fetch_one(c.pool())
    .await
    .unwrap();
    assert_eq!((inviter, invitee, venue, times), (ada, grace, c.venue, vec![starts_at]));
    let (invitation, note): (i64, String) =
        sqlx::query_as("select id, note from invitations").fetch_one(c.pool()).await.unwrap();
    // Grace reads the note as Ada's words: it says what they share, not who follows whom.
    assert_eq!(note, "Cuppa suggested we meet. We both like climbing and jazz.");
    assert_eq!(accepted.location(), format!("/invitations/{invitation}"));
    let received: i64 =
        sqlx::query_scalar("select count(*) from notifications where member_id = $1 and kind = 'invitation_received'")
            .bind(grace)
            .fetch_one(c.pool())
            .await
            .unwrap();
    assert_eq!(received, 1);

    assert!(c.clients[0].get("/").await.texts("#suggested").is_empty(), "an answered suggestion leaves home");

    // Grace sees it accepted, and cannot accept it a second time.
    let page = c.clients[1].get("/suggestions").await;
    assert!(page.text(".suggestion").contains("ada accepted and invited you"), "{}", page.text(".suggestion"));
    let again = c.clients[1].post(&format!("/suggestions/{id}/accept"), &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(count(c.pool(), "invitations").await, 1);

    // A stranger's client cannot answer it at all.
    let mut stranger = c.clients[0].another();
    stranger.sign_up("mallory").await;
    assert_eq!(stranger.post(&format!("/suggestions/{id}/decline"), &[]).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn declining_keeps_the_pair_apart_for_the_cool_down() {
    let mut c = community(&["ada", "grace"]).await;
    let (ada, grace) = (c.ids[0], c.ids[1]);
    follow(c.pool(), ada, grace).await;
    let now = Utc::now();
    ran(round::run(c.pool(), &settings(), now, None, false).await).await;
    let id: i64 = sqlx::query_scalar("select id from suggestions").fetch_one(c.pool()).await.unwrap();

    let declined = c.clients[1].post(&format!("/suggestions/{id}/decline"), &[]).await;
    assert_eq!(declined.status, StatusCode::SEE_OTHER);
    let (state, by): (String, i64) =
        sqlx::query_as("select state::text, answered_by from suggestions").fetch_one(c.pool()).await.unwrap();
    assert_eq!((state.as_str(), by), ("declined", grace));
    let page = c.clients[1].get("/suggestions").await;
    assert!(page.text(".flash").contains("will not suggest you and ada"), "{}", page.text(".flash"));
    assert_eq!(count(c.pool(), "invitations").await, 0);

    // Within the cool-down the pair is left out; after it, it comes back, weighed down.
    for weeks in [1, 3] {
        let later = ran(round::run(c.pool(), &settings(), now + Duration::weeks(weeks), None, false).await).await;
        assert_eq!(later.candidate_pairs, 0, "{weeks} weeks later");
    }
    // After it the pair is a candidate again, but the decline outweighs what the two have
    // (a one-way follow, nothing shared, a few rounds waited): no second suggestion.
    let after = ran(round::run(c.pool(), &settings(), now + Duration::weeks(5), None, false).await).await;
    assert_eq!((after.candidate_pairs, after.members_matchable, after.pairs_made), (1, 0, 0));
    assert_eq!(count(c.pool(), "suggestions").await, 1);
}

#[tokio::test]
async fn members_without_a_suggestion_are_told_why_and_can_pause() {
    let mut c = community(&["ada", "grace"]).await;
    let (ada, grace) = (c.ids[0], c.ids[1]);
    follow(c.pool(), ada, grace).await;
    let now = Utc::now();
    // Ada is free only on Sunday mornings, Grace only on Monday evenings.
    sqlx::query("delete from availability").execute(c.pool()).await.unwrap();
    sqlx::query("insert into availability (member_id, weekday, start_minute, end_minute) values ($1, 6, 480, 720), ($2, 0, 1080, 1260)")
        .bind(ada)
        .bind(grace)
        .execute(c.pool())
        .await
        .unwrap();
    let page = c.clients[0].get("/suggestions").await;
    assert!(page.text(".empty-state").contains("No suggestion for you yet"), "{}", page.body);

    for weeks in [0, 1] {
        let figures = ran(round::run(c.pool(), &settings(), now + Duration::weeks(weeks), None, false).await).await;
        assert_eq!((figures.candidate_pairs, figures.pairs_made), (1, 0), "no common hour, no pair");
    }
    let page = c.clients[0].get("/suggestions").await;
    let card = page.text(".card:last-of-type");
    assert!(card.contains("none of them is free when you are"), "{card}");
    assert!(page.attrs(".card a", "href").contains(&"/settings/availability".to_owned()));

    // Without an approved place in the city, that is what the page says first.
    sqlx::query("update venues set status = 'pending'").execute(c.pool()).await.unwrap();
    let page = c.clients[0].get("/suggestions").await;
    assert!(page.text(".card:last-of-type").contains("London has none yet"), "{}", page.text(".card:last-of-type"));
    sqlx::query("update venues set status = 'approved'").execute(c.pool()).await.unwrap();

    sqlx::query("delete from availability where member_id = $1").bind(ada).execute(c.pool()).await.unwrap();
    let page = c.clients[0].get("/suggestions").await;
    assert!(page.text(".card:last-of-type").contains("You have not said when you are free"));

    let paused = c.clients[0].post("/suggestions/pause", &[]).await;
    assert_eq!(paused.status, StatusCode::SEE_OTHER);
    let matching: bool =
        sqlx::query_scalar("select matching from members where id = $1").bind(ada).fetch_one(c.pool()).await.unwrap();
    assert!(!matching);
    let page = c.clients[0].get("/suggestions").await;
    assert!(page.text("h2").contains("Suggestions are paused"));
    c.clients[0].post("/suggestions/resume", &[]).await;
    let matching: bool =
        sqlx::query_scalar("select matching from members where id = $1").bind(ada).fetch_one(c.pool()).await.unwrap();
    assert!(matching);
}

#[tokio::test]
async fn admins_see_past_rounds_and_run_one() {
    let mut c = foursome().await;
    cuppa::members::store::update_role(c.pool(), "ada", Role::Admin).await.unwrap();
    let member_view = c.clients[1].get("/admin/scheduler").await;
    assert_eq!(member_view.status, StatusCode::FORBIDDEN);
    assert_eq!(c.clients[1].post("/admin/scheduler/run", &[]).await.status, StatusCode::FORBIDDEN);

    let page = c.clients[0].get("/admin/scheduler").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text(".empty").contains("No round has run yet"));

    c.clients[0].post("/admin/scheduler/run", &[("dry_run", "on")]).await;
    let page = c.clients[0].get("/admin/scheduler").await;
    assert!(page.text(".flash").contains("Dry run, nothing written"), "{}", page.text(".flash"));
    assert_eq!(count(c.pool(), "scheduler_rounds").await, 0);

    c.clients[0].post("/admin/scheduler/run", &[]).await;
    let page = c.clients[0].get("/admin/scheduler").await;
    assert!(page.text(".flash").contains("Round written: 4 members considered"), "{}", page.text(".flash"));
    assert_eq!(page.texts(".chart rect").len(), 1, "one bar for one round");
    let row = page.text("tbody tr");
    assert!(row.contains("100.0%"), "{row}");
    let started_by: Option<i64> =
        sqlx::query_scalar("select started_by from scheduler_rounds").fetch_one(c.pool()).await.unwrap();
    assert_eq!(started_by, Some(c.ids[0]));

    c.clients[0].post("/admin/scheduler/run", &[]).await;
    let page = c.clients[0].get("/admin/scheduler").await;
    assert!(page.text(".flash").contains("has already run"), "{}", page.text(".flash"));
    assert_eq!(count(c.pool(), "scheduler_rounds").await, 1);
}

#[tokio::test]
async fn a_suggestion_keeps_clear_of_a_coffee_already_agreed() {
    let c = community(&["ada", "grace", "alan"]).await;
    let (ada, grace, alan) = (c.ids[0], c.ids[1], c.ids[2]);
    follow(c.pool(), ada, grace).await;
    let now = Utc::now();
    ran(round::run(c.pool(), &settings(), now, None, false).await).await;
    let first: DateTime<Utc> =
        sqlx::query_scalar("select starts_at from suggestions").fetch_one(c.pool()).await.unwrap();

    // Ada agrees a coffee with Alan at that very hour; the round, run again, looks past it.
    sqlx::query("delete from scheduler_rounds").execute(c.pool()).await.unwrap();
    sqlx::query(
        "insert into invitations (inviter_id, invitee_id, venue_id, proposed_times, accepted_time, state, proposed_by)
         values ($1, $2, $3, array[$4], $4, 'accepted', $1)",
    )
    .bind(ada)
    .bind(alan)
    .bind(c.venue)
    .bind(first)
    .execute(c.pool())
    .await
    .unwrap();
    ran(round::run(c.pool(), &settings(), now, None, false).await).await;
    let (pair, second): ((i64, i64), DateTime<Utc>) =
        sqlx::query_as::<_, (i64, i64, DateTime<Utc>)>("select a_id, b_id, starts_at from suggestions")
            .fetch_one(c.pool())
            .await
            .map(|(a, b, t)| ((a, b), t))
            .unwrap();
    assert_eq!(pair, (ada, grace));
    assert!(second >= first + Duration::hours(1), "{second} overlaps the coffee at {first}");
}

/// Sets a member's interests.
async fn interests(pool: &PgPool, member: i64, tags: &[&str]) {
    sqlx::query("update members set interests = $2 where id = $1")
        .bind(member)
        .bind(tags.iter().map(|t| t.to_string()).collect::<Vec<_>>())
        .execute(pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_round_makes_the_most_pairs_first_and_then_the_best_liked() {
    let c = community(&["ada", "grace", "alan", "edsger", "barbara", "donald", "frances", "john"]).await;
    let pool = c.pool();
    let [ada, grace, alan, edsger, barbara, donald, frances, john] = c.ids[..] else { unreachable!() };
    // A line ada - grace - alan - edsger. Grace and Alan follow each other and share two
    // interests, so they are the best-liked pair of the four; but suggesting them to each other
    // would leave Ada and Edsger without a coffee, and two pairs can be made instead.
    follow(pool, ada, grace).await;
    follow(pool, grace, alan).await;
    follow(pool, alan, grace).await;
    follow(pool, alan, edsger).await;
    interests(pool, grace, &["climbing", "jazz"]).await;
    interests(pool, alan, &["jazz", "climbing"]).await;
    // A square barbara - donald - frances - john - barbara: two ways to make two pairs. Barbara
    // and Donald, and Frances and John, follow each other; the other two links go one way.
    for (x, y) in [(barbara, donald), (donald, barbara), (frances, john), (john, frances)] {
        follow(pool, x, y).await;
    }
    follow(pool, donald, frances).await;
    follow(pool, john, barbara).await;

    let figures = ran(round::run(pool, &settings(), Utc::now(), None, false).await).await;
    assert_eq!((figures.members_matchable, figures.candidate_pairs, figures.pairs_made), (8, 7, 4));
    let pairs: BTreeSet<(i64, i64)> =
        sqlx::query_as("select a_id, b_id from suggestions").fetch_all(pool).await.unwrap().into_iter().collect();
    let expected: BTreeSet<(i64, i64)> =
        [(ada, grace), (alan, edsger), (barbara, donald), (frances, john)].into_iter().collect();
    assert_eq!(pairs, expected, "everyone has a coffee, and in the square the pairs who follow each other");
    // The figures count the pairs' own affinities: one-way pairs score 10, mutual ones 30.
    assert_eq!(figures.total_weight, 10 + 10 + 30 + 30);
}

/// Runs the `cuppa` binary against the test's database; gives its exit status, stdout, stderr.
fn cuppa(pool_name: &str, args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cuppa"))
        .args(args)
        .env("DATABASE_URL", crate::support::database_url(pool_name))
        .env("RUST_LOG", "warn")
        .output()
        .expect("cuppa runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

/// The number after `before` in `text`.
fn number_after(text: &str, before: &str) -> i64 {
    let at = text.find(before).unwrap_or_else(|| panic!("{before:?} in {text}")) + before.len();
    let digits: String = text[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().unwrap_or_else(|_| panic!("a number after {before:?} in {text}"))
}

#[tokio::test]
async fn a_dry_run_writes_its_graph_for_cuppa_match_to_check() {
    let pool = crate::support::fresh_pool().await;
    cuppa::seed::run_without_photos(&pool, 400, 5).await.unwrap();
    let name: String = sqlx::query_scalar("select current_database()").fetch_one(&pool).await.unwrap();
    let dir = std::env::temp_dir().join(format!("cuppa-round-graph-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("round.txt");
    let path = file.to_str().unwrap();

    let (ok, out, err) = cuppa(&name, &["schedule", "--dry-run", "--edges", path]);
    assert!(ok, "{out}{err}");
    assert_eq!(
        count(&pool, "scheduler_rounds").await + count(&pool, "suggestions").await,
        0,
        "a dry run writes nothing"
    );
    let (matchable, pairs) = (number_after(&out, "considered, "), number_after(&out, "candidate pairs, "));
    let lift = number_after(&out, "each weight is ");
    let weighs = number_after(&out, "and weighs ");
    assert!(pairs > 20, "the seeded community makes pairs: {out}");

    // The file is what `cuppa match --edges` reads, and its matching is the round's.
    let text = std::fs::read_to_string(&file).unwrap();
    let (n, edges) = matching::parse_edge_list(&text).expect("the round's graph parses");
    assert_eq!(n as i64, matchable);
    assert!(text.starts_with(&format!("{n} {}\n", edges.len())), "a first line \"n m\"");
    let (ok, solved, err) = cuppa(&name, &["match", "--edges", path]);
    assert!(ok, "{solved}{err}");
    let solved: serde_json::Value = serde_json::from_str(solved.trim()).unwrap();
    assert_eq!(solved["n"], n);
    assert_eq!(solved["m"], edges.len());
    assert_eq!(solved["pairs"], pairs, "{solved}");
    assert_eq!(solved["weight"], weighs, "{solved}");

    // No matching of this graph has more pairs: the round reaches the maximum cardinality.
    let ones: Vec<_> = edges.iter().map(|&(u, v, _)| (u, v, 1)).collect();
    assert_eq!(matching::max_weight_matching(n, &ones).len() as i64, pairs);
    assert!(edges.iter().all(|&(_, _, w)| w > lift && w - lift <= 100), "weights are the lift plus an affinity");

    // --edges is for dry runs only, and a file that cannot be written is refused before the round.
    let (ok, _, err) = cuppa(&name, &["schedule", "--edges", path]);
    assert!(!ok && err.contains("--dry-run"), "{err}");
    let nowhere = dir.join("missing").join("round.txt");
    let (ok, _, err) = cuppa(&name, &["schedule", "--dry-run", "--edges", nowhere.to_str().unwrap()]);
    assert!(!ok && err.contains("could not write"), "{err}");

    // Once the week's round has run there is no graph to write, and no empty file is left.
    ran(round::run(&pool, &settings(), Utc::now(), None, false).await).await;
    std::fs::remove_file(&file).unwrap();
    let (ok, out, err) = cuppa(&name, &["schedule", "--dry-run", "--edges", path]);
    assert!(ok && out.contains("already run") && out.contains("no graph was written"), "{out}{err}");
    assert!(!file.exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_round_counts_the_rounds_each_member_waited_as_a_member_page_does() {
    let pool = crate::support::fresh_pool().await;
    cuppa::seed::run_without_photos(&pool, 300, 9).await.unwrap();
    // Six weekly rounds before this one, each having suggested some pairs; a few members joined
    // during them, so their waiting starts later. The rounds' ids are not in the order of their
    // weeks (as a hand-made history may have them): then even a member's latest round that is
    // not among the newest can change their count.
    sqlx::query(
        "insert into scheduler_rounds (period, started_at, members_considered, members_matchable, candidate_pairs,
                                       pairs_made, total_weight, load_ms, score_ms, match_ms, write_ms)
         select date_trunc('week', now())::date - 7 * w, now() - make_interval(weeks => w), 0, 0, 0, 0, 0, 0, 0, 0, 0
         from unnest(array[6, 1, 5, 2, 4, 3]) with ordinality as r(w, n)
         order by n",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into suggestions (round_id, a_id, b_id, venue_id, starts_at, weight, a_follows_b, b_follows_a, state, answered_at)
         select r.id, m.id, m.id + 1 + (r.id % 3), (select min(id) from venues), now() - interval '1 day', 10, true, false,
                'declined', now()
         from scheduler_rounds r join members m on (m.id + r.id) % 7 = 0
         where exists (select from members o where o.id = m.id + 1 + (r.id % 3))",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("update members set created_at = now() - make_interval(days => (id % 40)::int) where id % 5 = 0")
        .execute(&pool)
        .await
        .unwrap();

    // And one who joined 20 days ago and was last suggested a coffee a week ago, in the round
    // with id 2: of the rounds since they joined, only the one two weeks ago (id 4) counts.
    let newcomer: i64 =
        sqlx::query_scalar("select id from members order by id offset 10 limit 1").fetch_one(&pool).await.unwrap();
    for statement in [
        "delete from suggestions where round_id <> 2 and $1 in (a_id, b_id)",
        "update members set created_at = now() - interval '20 days' where id = $1",
        "insert into suggestions (round_id, a_id, b_id, venue_id, starts_at, weight, a_follows_b, b_follows_a)
         values (2, $1, $1 + 1, (select min(id) from venues), now() - interval '1 day', 10, true, false)
         on conflict do nothing",
    ] {
        sqlx::query(statement).bind(newcomer).execute(&pool).await.unwrap();
    }

    let rounds = cuppa::scheduler::store::list_round_starts(&pool).await.unwrap();
    assert_eq!(rounds.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
    let now = Utc::now();
    let mut conn = pool.acquire().await.unwrap();
    let loaded =
        cuppa::scheduler::candidates::load_round(&mut conn, None, rounds.clone(), week(), 4, now, now).await.unwrap();
    let data = loaded.into_round_data();
    let ids: Vec<i64> = data.people.iter().map(|p| p.id).collect();
    let exact = cuppa::scheduler::candidates::load_people(&mut conn, &ids, now).await.unwrap();
    let counted = |n: u32| n.min(cuppa::scheduler::score::MAX_ROUNDS_COUNTED);
    let mut differ = HashSet::new();
    for person in &data.people {
        let waited = round::rounds_waited(person, &rounds);
        assert_eq!(counted(waited), counted(round::rounds_waited(&exact[&person.id], &rounds)), "member {}", person.id);
        differ.insert(waited);
    }
    assert!(differ.len() >= 3, "the scene has members who waited different numbers of rounds: {differ:?}");
    let theirs = data.people.iter().find(|p| p.id == newcomer).expect("the newcomer is eligible");
    assert_eq!(round::rounds_waited(theirs, &rounds), 1);
}
