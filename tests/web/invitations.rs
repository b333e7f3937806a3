//! Coffee invitations: the life cycle through the router, the rules on who may invite whom,
//! expiry, "did you meet?", and a race of two answers.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Timelike, Utc};
use chrono_tz::Europe::London;
use cuppa::invitations::jobs::advance_due;
use cuppa::members::model::Role;
use sqlx::PgPool;

use crate::support::{Client, add_venue};

/// Two members in London (Ada and Grace, each on their own client) and an approved café.
pub(crate) struct Pair {
    pub(crate) ada: Client,
    pub(crate) grace: Client,
    pub(crate) ada_id: i64,
    pub(crate) grace_id: i64,
    pub(crate) venue: i64,
}

pub(crate) async fn pair() -> Pair {
    let mut ada = Client::new().await;
    let ada_id = ada.sign_up("ada").await;
    let mut grace = ada.another();
    let grace_id = grace.sign_up("grace").await;
    sqlx::query("update members set city = 'London', time_zone = 'Europe/London'").execute(&ada.pool).await.unwrap();
    let venue = add_venue(&ada.pool, "Café Lumen", "London").await;
    Pair { ada, grace, ada_id, grace_id, venue }
}

/// A `datetime-local` value `days` from now, on the hour, in London.
pub(crate) fn local_in(days: i64, hour: u32) -> String {
    let time = (Utc::now() + Duration::days(days)).with_timezone(&London);
    time.with_hour(hour).unwrap().format("%Y-%m-%dT%H:00").to_string()
}

async fn invite(from: &mut Client, handle: &str, venue: i64, times: &[&str]) -> crate::support::Page {
    from.get(&format!("/m/{handle}/invite")).await;
    let venue = venue.to_string();
    let mut fields = vec![("venue_id", venue.as_str()), ("note", "Coffee near the market?")];
    for (name, time) in ["time1", "time2", "time3"].into_iter().zip(times) {
        fields.push((name, time));
    }
    from.post(&format!("/m/{handle}/invite"), &fields).await
}

fn id_from(location: &str) -> i64 {
    location.rsplit('/').next().unwrap().parse().expect("an invitation page")
}

async fn state_of(pool: &PgPool, id: i64) -> String {
    sqlx::query_scalar("select state::text from invitations where id = $1").bind(id).fetch_one(pool).await.unwrap()
}

/// The kinds of notification a member has, oldest first.
async fn kinds_for(pool: &PgPool, member: i64) -> Vec<String> {
    sqlx::query_scalar("select kind::text from notifications where member_id = $1 order by id")
        .bind(member)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn proposed_secs(pool: &PgPool, id: i64) -> Vec<i64> {
    let times: Vec<DateTime<Utc>> = sqlx::query_scalar("select unnest(proposed_times) from invitations where id = $1")
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap();
    times.iter().map(|t| t.timestamp()).collect()
}

/// Moves an agreed coffee's time into the past and runs the job, as if the hour had gone by.
async fn let_coffee_happen(pool: &PgPool, id: i64) {
    sqlx::query(
        "update invitations set accepted_time = now() - interval '2 hours',
                proposed_times = array[now() - interval '2 hours'] where id = $1",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    assert_eq!(advance_due(pool, Utc::now()).await.unwrap(), (0, 1));
}

/// Ada invites Grace, Grace accepts, and the hour goes by: the invitation's id.
async fn held_coffee(ada: &mut Client, grace: &mut Client, venue: i64) -> i64 {
    let id = id_from(invite(ada, "grace", venue, &[&local_in(3, 10)]).await.location());
    let time = proposed_secs(&ada.pool, id).await[0].to_string();
    grace.get(&format!("/invitations/{id}")).await;
    grace.post(&format!("/invitations/{id}/accept"), &[("seen", "pending"), ("time", &time)]).await;
    let_coffee_happen(&ada.pool, id).await;
    id
}

#[tokio::test]
async fn an_invitation_goes_from_sent_to_met() {
    let Pair { mut ada, mut grace, ada_id, grace_id, venue } = pair().await;
    let first = local_in(3, 10);
    let sent = invite(&mut ada, "grace", venue, &[&first, &local_in(4, 16)]).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let id = id_from(sent.location());
    let page = ada.get(sent.location()).await;
    assert!(page.text(".flash").contains("Invitation sent"));
    assert!(page.text("h1").contains("Coffee with grace"));
    assert!(page.text(".invitation-detail").contains("Waiting for grace to answer"));
    assert_eq!(state_of(&ada.pool, id).await, "pending");
    assert_eq!(kinds_for(&ada.pool, grace_id).await, ["invitation_received"]);
    let mail: String = sqlx::query_scalar("select to_address from outbox where member_id = $1")
        .bind(grace_id)
        .fetch_one(&ada.pool)
        .await
        .unwrap();
    assert_eq!(mail, "grace@example.com");

    // Grace sees it, with the times in London's time, and proposes another.
    let list = grace.get("/invitations").await;
    assert!(list.text(".invitations").contains("ada"));
    assert!(list.text(".badge-turn").contains("Your answer"));
    let shown = grace.get(&format!("/invitations/{id}")).await;
    let typed = chrono::NaiveDateTime::parse_from_str(&first, "%Y-%m-%dT%H:%M").unwrap();
    let label = typed.and_local_timezone(London).unwrap().format("%a %-d %b %Y, 10:00 (%Z)").to_string();
    assert!(shown.body.contains(&label), "the typed time, in London's time and labelled: {label}");
    assert!(shown.text(".quote").contains("Coffee near the market?"));
    let later = local_in(5, 9);
    let countered = grace.post(&format!("/invitations/{id}/counter"), &[("seen", "pending"), ("time1", &later)]).await;
    assert_eq!(countered.status, StatusCode::SEE_OTHER);
    assert_eq!(state_of(&ada.pool, id).await, "countered");
    assert_eq!(kinds_for(&ada.pool, ada_id).await, ["invitation_countered"]);

    // The choice is Ada's now: she accepts Grace's time.
    let secs = proposed_secs(&ada.pool, id).await;
    assert_eq!(secs.len(), 1);
    ada.get(&format!("/invitations/{id}")).await;
    let accepted =
        ada.post(&format!("/invitations/{id}/accept"), &[("seen", "countered"), ("time", &secs[0].to_string())]).await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER);
    assert_eq!(state_of(&ada.pool, id).await, "accepted");
    assert_eq!(kinds_for(&ada.pool, grace_id).await, ["invitation_received", "invitation_accepted"]);
    let home = grace.get("/").await;
    assert!(home.text("section[aria-labelledby=coffees]").contains("ada"), "the home page lists the coffee");
    let upcoming = grace.get("/invitations").await;
    assert!(upcoming.body.contains("Upcoming coffees"));
    assert!(grace.get(&format!("/invitations/{id}")).await.body.contains("Add to calendar"));

    // After the hour, both are asked; one yes is not enough, two are.
    let_coffee_happen(&ada.pool, id).await;
    assert_eq!(state_of(&ada.pool, id).await, "held");
    assert_eq!(kinds_for(&ada.pool, ada_id).await.last().unwrap(), "did_you_meet");
    assert!(ada.get(&format!("/invitations/{id}")).await.body.contains("Yes, we met"));
    assert_eq!(ada.post(&format!("/invitations/{id}/met"), &[("answer", "met")]).await.status, StatusCode::SEE_OTHER);
    let met: i64 = sqlx::query_scalar("select count(*) from met_pairs").fetch_one(&ada.pool).await.unwrap();
    assert_eq!(met, 0);
    grace.get(&format!("/invitations/{id}")).await;
    assert_eq!(grace.post(&format!("/invitations/{id}/met"), &[("answer", "met")]).await.status, StatusCode::SEE_OTHER);
    let how: String = sqlx::query_scalar("select how::text from met_pairs where a_id = $1 and b_id = $2")
        .bind(ada_id.min(grace_id))
        .bind(ada_id.max(grace_id))
        .fetch_one(&ada.pool)
        .await
        .unwrap();
    assert_eq!(how, "coffee");
    assert_eq!(kinds_for(&ada.pool, grace_id).await.last().unwrap(), "met_confirmed");
    assert!(grace.get("/m/ada").await.body.contains("Met in person"));
    // Answering twice changes nothing.
    assert_eq!(
        grace.post(&format!("/invitations/{id}/met"), &[("answer", "no_show")]).await.status,
        StatusCode::CONFLICT
    );
    let past = ada.get("/invitations").await;
    assert!(past.text(".invitations").contains("Happened"));
}

#[tokio::test]
async fn illegal_moves_are_refused_and_change_nothing() {
    let Pair { mut ada, mut grace, grace_id, venue, .. } = pair().await;
    let id = id_from(invite(&mut ada, "grace", venue, &[&local_in(3, 10)]).await.location());
    let time = proposed_secs(&ada.pool, id).await[0].to_string();
    let accept = format!("/invitations/{id}/accept");

    // A stranger, and the inviter answering her own invitation: 403.
    let mut eve = ada.another();
    eve.sign_up("eve").await;
    eve.get("/invitations").await;
    assert_eq!(eve.post(&accept, &[("seen", "pending"), ("time", &time)]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(eve.get(&format!("/invitations/{id}")).await.status, StatusCode::NOT_FOUND);
    ada.get(&format!("/invitations/{id}")).await;
    assert_eq!(ada.post(&accept, &[("seen", "pending"), ("time", &time)]).await.status, StatusCode::FORBIDDEN);
    // A time that was never proposed: 400.
    grace.get(&format!("/invitations/{id}")).await;
    assert_eq!(grace.post(&accept, &[("seen", "pending"), ("time", "12345")]).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(state_of(&ada.pool, id).await, "pending");

    // Grace declines with a note; accepting afterwards is a conflict, from an old page or a new one.
    let declined =
        grace.post(&format!("/invitations/{id}/decline"), &[("seen", "pending"), ("note", "Busy month!")]).await;
    assert_eq!(declined.status, StatusCode::SEE_OTHER);
    let before = kinds_for(&ada.pool, grace_id).await.len();
    assert_eq!(grace.post(&accept, &[("seen", "pending"), ("time", &time)]).await.status, StatusCode::CONFLICT);
    assert_eq!(grace.post(&accept, &[("seen", "declined"), ("time", &time)]).await.status, StatusCode::CONFLICT);
    assert_eq!(
        ada.post(&format!("/invitations/{id}/cancel"), &[("seen", "declined")]).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(state_of(&ada.pool, id).await, "declined");
    assert_eq!(kinds_for(&ada.pool, grace_id).await.len(), before);
    assert!(ada.get(&format!("/invitations/{id}")).await.text(".quote").contains("Busy month!"));

    // A cancelled invitation cannot be accepted either.
    let again = id_from(invite(&mut ada, "grace", venue, &[&local_in(3, 11)]).await.location());
    assert_eq!(
        ada.post(&format!("/invitations/{again}/cancel"), &[("seen", "pending")]).await.status,
        StatusCode::SEE_OTHER
    );
    let time = proposed_secs(&ada.pool, again).await[0].to_string();
    let late = grace.post(&format!("/invitations/{again}/accept"), &[("seen", "pending"), ("time", &time)]).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(late.body.contains("changed while you were looking"));
    assert_eq!(state_of(&ada.pool, again).await, "cancelled");
}

#[tokio::test]
async fn the_form_keeps_what_was_typed_and_says_what_is_wrong() {
    let Pair { mut ada, venue, .. } = pair().await;
    let past = (Utc::now() - Duration::days(1)).with_timezone(&London).format("%Y-%m-%dT%H:%M").to_string();
    let page = invite(&mut ada, "grace", venue, &[&past, "soon-ish"]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text("#time1-error").contains("future"));
    assert!(page.text("#time2-error").contains("date and time"));
    assert_eq!(page.value("#time2").as_deref(), Some("soon-ish"));
    assert!(page.text("textarea#note").contains("Coffee near the market?"));
    // A venue elsewhere (or not approved) is not on offer.
    let paris = add_venue(&ada.pool, "Le Nord", "Paris").await;
    let page = invite(&mut ada, "grace", paris, &[&local_in(2, 10)]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text("#venue_id-error").contains("Choose one of the places"));
    let count: i64 = sqlx::query_scalar("select count(*) from invitations").fetch_one(&ada.pool).await.unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn the_invitees_setting_blocks_and_suspensions_are_respected() {
    let Pair { mut ada, mut grace, venue, .. } = pair().await;
    let time = local_in(3, 10);
    for (policy, status) in [("nobody", StatusCode::FORBIDDEN), ("following", StatusCode::FORBIDDEN)] {
        sqlx::query("update members set invite_policy = $1::invite_policy where handle = 'grace'")
            .bind(policy)
            .execute(&ada.pool)
            .await
            .unwrap();
        assert_eq!(ada.get("/m/grace/invite").await.status, status, "{policy}");
        assert_eq!(invite(&mut ada, "grace", venue, &[&time]).await.status, status, "{policy}");
    }
    // "Only people I follow": once Grace follows Ada, Ada may invite her.
    grace.get("/m/ada").await;
    grace.post("/m/ada/follow", &[]).await;
    let sent = invite(&mut ada, "grace", venue, &[&time]).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let id = id_from(sent.location());
    // One open invitation per pair, whichever way round.
    assert_eq!(ada.get("/m/grace/invite").await.status, StatusCode::CONFLICT);
    assert_eq!(invite(&mut grace, "ada", venue, &[&time]).await.status, StatusCode::CONFLICT);

    // A block cancels what is open and hides each from the other.
    grace.get("/m/ada").await;
    assert_eq!(grace.post("/m/ada/block", &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(state_of(&ada.pool, id).await, "cancelled");
    assert_eq!(ada.get(&format!("/invitations/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(grace.get(&format!("/invitations/{id}")).await.status, StatusCode::NOT_FOUND);
    assert!(!ada.get("/invitations").await.body.contains("grace"), "hidden from the lists too");
    assert_eq!(ada.get("/m/grace/invite").await.status, StatusCode::NOT_FOUND);
    assert_eq!(invite(&mut grace, "ada", venue, &[&time]).await.status, StatusCode::NOT_FOUND);

    // Suspended members cannot be invited; nor can you invite yourself.
    let mut mo = ada.another();
    mo.sign_up("moe").await;
    cuppa::members::store::update_status(&ada.pool, "moe", cuppa::members::model::Status::Suspended).await.unwrap();
    assert_eq!(ada.get("/m/moe/invite").await.status, StatusCode::NOT_FOUND);
    assert_eq!(ada.get("/m/ada/invite").await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_member_may_have_only_so_many_invitations_waiting() {
    let Pair { mut ada, venue, .. } = pair().await;
    let time = local_in(3, 10);
    for n in 0..10 {
        let handle = format!("friend{n}");
        ada.another().sign_up(&handle).await;
        sqlx::query("update members set city = 'London' where handle = $1")
            .bind(&handle)
            .execute(&ada.pool)
            .await
            .unwrap();
        assert_eq!(invite(&mut ada, &handle, venue, &[&time]).await.status, StatusCode::SEE_OTHER);
    }
    let refused = invite(&mut ada, "grace", venue, &[&time]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("10 invitations waiting"));
    // Cancelling one makes room.
    let first: i64 = sqlx::query_scalar("select min(id) from invitations").fetch_one(&ada.pool).await.unwrap();
    ada.get(&format!("/invitations/{first}")).await;
    ada.post(&format!("/invitations/{first}/cancel"), &[("seen", "pending")]).await;
    assert_eq!(invite(&mut ada, "grace", venue, &[&time]).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn unanswered_invitations_expire_once_their_times_pass() {
    let Pair { mut ada, ada_id, grace_id, venue, .. } = pair().await;
    let id = id_from(invite(&mut ada, "grace", venue, &[&local_in(3, 10), &local_in(4, 10)]).await.location());
    assert_eq!(advance_due(&ada.pool, Utc::now()).await.unwrap(), (0, 0), "nothing is due yet");
    // One time passing is not enough; all of them is.
    let secs = proposed_secs(&ada.pool, id).await;
    let at = |secs: i64| DateTime::from_timestamp(secs, 0).unwrap();
    assert_eq!(advance_due(&ada.pool, at(secs[1] - 60)).await.unwrap(), (0, 0));
    assert_eq!(advance_due(&ada.pool, at(secs[1] + 60)).await.unwrap(), (1, 0));
    assert_eq!(state_of(&ada.pool, id).await, "expired");
    assert_eq!(kinds_for(&ada.pool, ada_id).await, ["invitation_expired"]);
    assert_eq!(kinds_for(&ada.pool, grace_id).await, ["invitation_received", "invitation_expired"]);
    assert_eq!(advance_due(&ada.pool, Utc::now() + Duration::days(5)).await.unwrap(), (0, 0), "once only");
    // The pair is free for a new invitation.
    assert_eq!(invite(&mut ada, "grace", venue, &[&local_in(2, 10)]).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_no_show_is_seen_by_the_reporter_and_admins_only() {
    let Pair { mut ada, mut grace, venue, .. } = pair().await;
    let id = held_coffee(&mut ada, &mut grace, venue).await;
    ada.get(&format!("/invitations/{id}")).await;
    assert_eq!(
        ada.post(&format!("/invitations/{id}/met"), &[("answer", "no_show")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(ada.get(&format!("/invitations/{id}")).await.body.contains("Only you and the admins can see this"));
    let theirs = grace.get(&format!("/invitations/{id}")).await;
    assert!(!theirs.body.contains("did not come") && theirs.body.contains("Yes, we met"));
    assert_eq!(grace.get("/admin/no-shows").await.status, StatusCode::FORBIDDEN);

    let mut admin = ada.another();
    admin.sign_up("boss").await;
    cuppa::members::store::update_role(&ada.pool, "boss", Role::Admin).await.unwrap();
    let list = admin.get("/admin/no-shows").await;
    assert_eq!(list.texts("tbody td a"), ["@ada", "@grace"]);
}

#[tokio::test]
async fn an_accept_racing_a_cancel_ends_in_one_consistent_state() {
    for _ in 0..3 {
        let Pair { mut ada, mut grace, ada_id, grace_id, venue } = pair().await;
        let id = id_from(invite(&mut ada, "grace", venue, &[&local_in(3, 10)]).await.location());
        let time = proposed_secs(&ada.pool, id).await[0].to_string();
        ada.get(&format!("/invitations/{id}")).await;
        grace.get(&format!("/invitations/{id}")).await;
        let accept_path = format!("/invitations/{id}/accept");
        let cancel_path = format!("/invitations/{id}/cancel");
        let accept_fields = [("seen", "pending"), ("time", time.as_str())];
        let cancel_fields = [("seen", "pending"), ("note", "Sorry!")];
        let (accepted, cancelled) =
            tokio::join!(grace.post(&accept_path, &accept_fields), ada.post(&cancel_path, &cancel_fields));
        let outcome = [accepted.status, cancelled.status];
        let state = state_of(&ada.pool, id).await;
        match outcome {
            [StatusCode::SEE_OTHER, StatusCode::CONFLICT] => {
                assert_eq!(state, "accepted");
                assert_eq!(kinds_for(&ada.pool, ada_id).await, ["invitation_accepted"]);
                assert_eq!(kinds_for(&ada.pool, grace_id).await, ["invitation_received"]);
            }
            [StatusCode::CONFLICT, StatusCode::SEE_OTHER] => {
                assert_eq!(state, "cancelled");
                assert_eq!(kinds_for(&ada.pool, ada_id).await, Vec::<String>::new());
                assert_eq!(kinds_for(&ada.pool, grace_id).await, ["invitation_received", "invitation_cancelled"]);
            }
            other => panic!("exactly one of the two should win, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn no_meeting_is_recorded_across_a_block() {
    let Pair { mut ada, mut grace, venue, .. } = pair().await;
    let id = held_coffee(&mut ada, &mut grace, venue).await;
    ada.get(&format!("/invitations/{id}")).await;
    ada.post(&format!("/invitations/{id}/met"), &[("answer", "met")]).await;
    ada.get("/m/grace").await;
    assert_eq!(ada.post("/m/grace/block", &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(grace.post(&format!("/invitations/{id}/met"), &[("answer", "met")]).await.status, StatusCode::NOT_FOUND);
    let met: i64 = sqlx::query_scalar("select count(*) from met_pairs").fetch_one(&ada.pool).await.unwrap();
    assert_eq!(met, 0);
}

#[tokio::test]
async fn an_invitation_racing_a_block_never_fails_and_never_crosses_it() {
    for _ in 0..3 {
        let Pair { mut ada, mut grace, venue, .. } = pair().await;
        ada.get("/m/grace/invite").await;
        grace.get("/m/ada").await;
        let venue = venue.to_string();
        let time = local_in(3, 10);
        let fields = [("venue_id", venue.as_str()), ("time1", time.as_str())];
        let (sent, blocked) = tokio::join!(ada.post("/m/grace/invite", &fields), grace.post("/m/ada/block", &[]));
        assert_eq!(blocked.status, StatusCode::SEE_OTHER);
        assert!([StatusCode::SEE_OTHER, StatusCode::NOT_FOUND].contains(&sent.status), "{}", sent.status);
        let open: i64 = sqlx::query_scalar("select count(*) from invitations where state = 'pending'")
            .fetch_one(&ada.pool)
            .await
            .unwrap();
        assert_eq!(open, 0, "whichever came first, nothing is open across the block");
    }
}

async fn proposed_by(pool: &PgPool, id: i64) -> i64 {
    sqlx::query_scalar("select proposed_by from invitations where id = $1").bind(id).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn proposed_by_names_whoever_made_the_last_counter_proposal() {
    let Pair { mut ada, mut grace, ada_id, grace_id, venue } = pair().await;
    let id = id_from(invite(&mut ada, "grace", venue, &[&local_in(3, 10)]).await.location());
    let proposer = |page: &crate::support::Page| {
        page.texts(".facts dt").into_iter().find(|dt| dt.starts_with("Proposed by")).unwrap_or_default()
    };
    assert_eq!(proposer(&grace.get(&format!("/invitations/{id}")).await), "Proposed by ada");
    assert_eq!(proposed_by(&ada.pool, id).await, ada_id);

    let countered =
        grace.post(&format!("/invitations/{id}/counter"), &[("seen", "pending"), ("time1", &local_in(5, 9))]).await;
    assert_eq!(countered.status, StatusCode::SEE_OTHER);
    assert_eq!(proposer(&ada.get(&format!("/invitations/{id}")).await), "Proposed by grace");
    assert_eq!(proposer(&grace.get(&format!("/invitations/{id}")).await), "Proposed by grace");
    assert_eq!(proposed_by(&ada.pool, id).await, grace_id);

    let back =
        ada.post(&format!("/invitations/{id}/counter"), &[("seen", "countered"), ("time1", &local_in(6, 11))]).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert_eq!(state_of(&ada.pool, id).await, "pending");
    assert_eq!(proposer(&grace.get(&format!("/invitations/{id}")).await), "Proposed by ada");
    assert_eq!(proposed_by(&ada.pool, id).await, ada_id);

    // Closed without an agreed time, the page still names who proposed the times it shows.
    grace.post(&format!("/invitations/{id}/counter"), &[("seen", "pending"), ("time1", &local_in(7, 12))]).await;
    ada.get(&format!("/invitations/{id}")).await;
    let declined = ada.post(&format!("/invitations/{id}/decline"), &[("seen", "countered"), ("note", "")]).await;
    assert_eq!(declined.status, StatusCode::SEE_OTHER);
    assert_eq!(state_of(&ada.pool, id).await, "declined");
    assert_eq!(proposer(&ada.get(&format!("/invitations/{id}")).await), "Proposed by grace");
}

/// Every invitation's id linked from the list's rows.
fn listed_ids(page: &crate::support::Page) -> Vec<i64> {
    page.attrs("li.invitation a", "href").iter().map(|href| id_from(href)).collect()
}

#[tokio::test]
async fn the_list_pages_by_fifty_back_to_the_oldest_without_skipping_any() {
    let Pair { mut ada, ada_id, grace_id, venue, .. } = pair().await;
    // 70 closed invitations, two to each moment (the id breaks the tie), the oldest long past
    // half a year.
    let ids: Vec<i64> = sqlx::query_scalar(
        "insert into invitations (inviter_id, invitee_id, venue_id, state, proposed_times, proposed_by, updated_at)
         select $1, $2, $3, 'declined', array[now()], $1, now() - (g / 2) * interval '8 days'
         from generate_series(1, 70) g
         returning id",
    )
    .bind(ada_id)
    .bind(grace_id)
    .bind(venue)
    .fetch_all(&ada.pool)
    .await
    .unwrap();

    let first = ada.get("/invitations").await;
    assert_eq!(first.status, StatusCode::OK);
    let mut seen = listed_ids(&first);
    assert_eq!(seen.len(), 50);
    let older = first.attrs(".pager a", "href");
    assert_eq!(older.len(), 1, "an older link and nothing back: {older:?}");
    assert!(older[0].starts_with("/invitations?before="));

    let second = ada.get(&older[0]).await;
    assert_eq!(second.status, StatusCode::OK);
    seen.extend(listed_ids(&second));
    assert_eq!(second.texts(".pager a"), ["← Latest"], "the last page has no older link");
    let mut all = ids.clone();
    all.sort_unstable();
    let mut listed = seen.clone();
    listed.sort_unstable();
    assert_eq!(listed, all, "every invitation once");
    assert_eq!(seen.first(), ids.first(), "most recently changed first");

    assert_eq!(ada.get("/invitations?before=nonsense").await.status, StatusCode::BAD_REQUEST);

    // An invitation still waiting for an answer heads the first page however long it has
    // waited, ahead of the 70 closed ones changed since.
    let waiting: i64 = sqlx::query_scalar(
        "insert into invitations (inviter_id, invitee_id, venue_id, state, proposed_times, proposed_by, updated_at)
         values ($2, $1, $3, 'pending', array[now() + interval '3 days'], $2, now() - interval '400 days')
         returning id",
    )
    .bind(ada_id)
    .bind(grace_id)
    .bind(venue)
    .fetch_one(&ada.pool)
    .await
    .unwrap();
    let first = ada.get("/invitations").await;
    assert_eq!(listed_ids(&first).first(), Some(&waiting));
    let second = ada.get(&first.attrs(".pager a", "href")[0]).await;
    assert!(!listed_ids(&second).contains(&waiting), "listed once");
    assert_eq!(listed_ids(&first).len() + listed_ids(&second).len(), 71);
}
