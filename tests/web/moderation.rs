//! The admin area and what its actions do: a suspension walked across every surface DESIGN.md
//! lists (log-out at once, log-ins refused, invitations, suggestions, meetup places and hosted
//! meetups called off with notices), warnings read and acknowledged, hiding and reinstating as
//! the member and others see them, roles and the last admin, the dashboard, and the audit log
//! written by the web and by `cuppa admin` and refusing UPDATE, DELETE and TRUNCATE.

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use sqlx::PgPool;

use crate::support::{Client, PASSWORD, add_venue, database_url};

/// An admin, logged in, on a fresh site.
pub(crate) async fn site() -> (Client, i64) {
    let mut admin = Client::new().await;
    let id = admin.sign_up("root_admin").await;
    sqlx::query("update members set role = 'admin' where id = $1").bind(id).execute(&admin.pool).await.unwrap();
    (admin, id)
}

pub(crate) async fn join(site: &Client, handle: &str) -> (Client, i64) {
    let mut client = site.another();
    let id = client.sign_up(handle).await;
    (client, id)
}

/// Posts an admin action with a reason and checks it was done.
pub(crate) async fn act(admin: &mut Client, handle: &str, action: &str, reason: &str) {
    admin.get(&format!("/admin/members/{handle}")).await;
    let page = admin.post(&format!("/admin/members/{handle}/action"), &[("action", action), ("reason", reason)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{action} {handle}: {}", page.body);
    assert_eq!(page.location(), format!("/admin/members/{handle}"));
}

pub(crate) async fn notifications_of(pool: &PgPool, member: i64) -> Vec<(String, String)> {
    sqlx::query_as("select kind::text, text from notifications where member_id = $1 order by id")
        .bind(member)
        .fetch_all(pool)
        .await
        .unwrap()
}

pub(crate) async fn insert_invitation(pool: &PgPool, inviter: i64, invitee: i64, venue: i64, state: &str) -> i64 {
    let at = Utc::now() + Duration::days(3);
    sqlx::query_scalar(
        "insert into invitations (inviter_id, invitee_id, venue_id, state, proposed_times, accepted_time, proposed_by)
         values ($1, $2, $3, $4::invitation_state, array[$5::timestamptz], case when $4 = 'accepted' then $5 end, $1)
         returning id",
    )
    .bind(inviter)
    .bind(invitee)
    .bind(venue)
    .bind(state)
    .bind(at)
    .fetch_one(pool)
    .await
    .unwrap()
}

pub(crate) async fn insert_meetup(pool: &PgPool, organiser: i64, venue: i64, capacity: i32) -> i64 {
    let starts = Utc::now() + Duration::days(5);
    sqlx::query_scalar(
        "insert into meetups (organiser_id, venue_id, title, description, starts_at, ends_at, capacity, visibility)
         values ($1, $2, 'Coffee morning', '', $3, $3 + interval '2 hours', $4, 'public') returning id",
    )
    .bind(organiser)
    .bind(venue)
    .bind(starts)
    .bind(capacity)
    .fetch_one(pool)
    .await
    .unwrap()
}

pub(crate) async fn rsvp(pool: &PgPool, meetup: i64, member: i64, status: &str) {
    sqlx::query("insert into rsvps (meetup_id, member_id, status) values ($1, $2, $3::rsvp_status)")
        .bind(meetup)
        .bind(member)
        .bind(status)
        .execute(pool)
        .await
        .unwrap();
}

pub(crate) async fn insert_suggestion(pool: &PgPool, one: i64, other: i64, venue: i64) -> i64 {
    let round: i64 = sqlx::query_scalar(
        "insert into scheduler_rounds (period, started_at, members_considered, members_matchable, candidate_pairs,
                                       pairs_made, total_weight, load_ms, score_ms, match_ms, write_ms)
         values (date_trunc('week', now())::date, now(), 2, 2, 1, 1, 10, 0, 0, 0, 0) returning id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query_scalar(
        "insert into suggestions (round_id, a_id, b_id, venue_id, starts_at, weight, a_follows_b, b_follows_a)
         values ($1, least($2::bigint, $3::bigint), greatest($2::bigint, $3::bigint), $4, now() + interval '4 days', 10, true, true)
         returning id",
    )
    .bind(round)
    .bind(one)
    .bind(other)
    .bind(venue)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn text(pool: &PgPool, sql: &str, id: i64) -> String {
    sqlx::query_scalar(sql).bind(id).fetch_one(pool).await.unwrap()
}

/// DESIGN.md, "What a block and a suspension do", the suspension half, surface by surface.
#[tokio::test]
async fn a_suspension_logs_out_at_once_and_calls_everything_off_with_notices() {
    let (mut admin, _) = site().await;
    let pool = admin.pool.clone();
    let venue = add_venue(&pool, "Café Lumen", "London").await;
    let (mut mallory, mallory_id) = join(&admin, "mallory").await;
    let (mut ada, ada_id) = join(&admin, "ada").await;
    let (_, bea_id) = join(&admin, "bea").await;
    let (_, cy_id) = join(&admin, "cyd").await;
    let (_, olive_id) = join(&admin, "olive").await;
    sqlx::query("update members set role = 'organiser' where id = any($1)")
        .bind(vec![mallory_id, olive_id])
        .execute(&pool)
        .await
        .unwrap();
    // An agreed coffee with Ada, an invitation from Bea waiting, a suggestion with Cy.
    let agreed = insert_invitation(&pool, mallory_id, ada_id, venue, "accepted").await;
    let waiting = insert_invitation(&pool, bea_id, mallory_id, venue, "pending").await;
    let suggestion = insert_suggestion(&pool, mallory_id, cy_id, venue).await;
    // Mallory hosts a meetup Ada is going to, and holds the one seat at Olive's, Bea waiting.
    let hosted = insert_meetup(&pool, mallory_id, venue, 10).await;
    rsvp(&pool, hosted, ada_id, "going").await;
    let olives = insert_meetup(&pool, olive_id, venue, 1).await;
    rsvp(&pool, olives, mallory_id, "going").await;
    rsvp(&pool, olives, bea_id, "waitlisted").await;
    assert_eq!(mallory.get("/invitations").await.status, StatusCode::OK);

    act(&mut admin, "mallory", "suspend", "Harassment reported by three members").await;
    let flash = admin.get("/admin/members/mallory").await;
    assert!(flash.body.contains("Suspended"), "{}", flash.text(".flash"));
    assert!(flash.text(".flash").contains("2 open invitations"), "{}", flash.text(".flash"));

    // Logged out on the very next request, and log-ins are refused with a clear page.
    let next = mallory.get("/invitations").await;
    assert_eq!(next.status, StatusCode::SEE_OTHER);
    assert!(next.location().starts_with("/login"), "{}", next.location());
    assert!(mallory.get("/").await.body.contains("suspended"));
    mallory.get("/login").await;
    let refused = mallory.log_in("mallory", PASSWORD).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("suspended"), "{}", refused.body);

    // Invitations: both called off; Ada and Bea told, with no reason given.
    for id in [agreed, waiting] {
        assert_eq!(text(&pool, "select state::text from invitations where id = $1", id).await, "cancelled");
    }
    let told = |notes: Vec<(String, String)>| {
        notes.into_iter().filter(|(kind, _)| kind == "invitation_cancelled").collect::<Vec<_>>()
    };
    let ada_told = told(notifications_of(&pool, ada_id).await);
    assert_eq!(ada_told.len(), 1, "{ada_told:?}");
    assert!(ada_told[0].1.contains("is off"), "{ada_told:?}");
    assert!(!ada_told[0].1.to_lowercase().contains("suspend"));
    assert_eq!(told(notifications_of(&pool, bea_id).await).len(), 1);
    // An agreed coffee that is called off is never "held", so nobody is asked "did you meet?".
    sqlx::query("update invitations set accepted_time = now() - interval '2 hours' where id = $1")
        .bind(agreed)
        .execute(&pool)
        .await
        .unwrap();
    cuppa::invitations::jobs::advance_due(&pool, Utc::now()).await.unwrap();
    assert_eq!(text(&pool, "select state::text from invitations where id = $1", agreed).await, "cancelled");
    assert!(notifications_of(&pool, ada_id).await.iter().all(|(kind, _)| kind != "did_you_meet"));

    // The suggestion: withdrawn (not declined), and Cy told.
    assert_eq!(text(&pool, "select state::text from suggestions where id = $1", suggestion).await, "withdrawn");
    assert!(notifications_of(&pool, cy_id).await.iter().any(|(kind, _)| kind == "suggestion_withdrawn"));

    // Meetups: the hosted one cancelled with notice; the held seat went to Bea, who was told.
    let cancelled: Option<chrono::DateTime<Utc>> = sqlx::query_scalar("select cancelled_at from meetups where id = $1")
        .bind(hosted)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(cancelled.is_some());
    assert!(notifications_of(&pool, ada_id).await.iter().any(|(kind, _)| kind == "meetup_cancelled"));
    let status = |member: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("select status::text from rsvps where meetup_id = $1 and member_id = $2")
                .bind(olives)
                .bind(member)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(status(mallory_id).await, "cancelled");
    assert_eq!(status(bea_id).await, "going");
    assert!(notifications_of(&pool, bea_id).await.iter().any(|(kind, _)| kind == "meetup_promoted"));

    // Others no longer see her: profile 404, out of the directory.
    assert_eq!(ada.get("/m/mallory").await.status, StatusCode::NOT_FOUND);
    assert!(!ada.get("/people?q=mallory").await.body.contains("@mallory"));

    // The audit log has it, with who, what, target and reason.
    let audit = admin.get("/admin/audit?kind=suspend").await;
    assert_eq!(audit.status, StatusCode::OK);
    let row = audit.text("tbody tr");
    for part in ["@root_admin", "Suspended", "@mallory", "Harassment reported by three members"] {
        assert!(row.contains(part), "{part} in {row}");
    }

    // Reinstated: she can log in again; what was called off stays called off.
    act(&mut admin, "mallory", "reinstate", "Appeal upheld").await;
    mallory.get("/login").await;
    assert_eq!(mallory.log_in("mallory", PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(text(&pool, "select state::text from invitations where id = $1", waiting).await, "cancelled");
}

#[tokio::test]
async fn a_warning_is_read_before_anything_else_and_acknowledged_once() {
    let (mut admin, _) = site().await;
    let (mut mallory, mallory_id) = join(&admin, "mallory").await;
    act(&mut admin, "mallory", "warn", "Please keep invitation notes friendly.\nThis is your first warning.").await;

    let next = mallory.get("/people").await;
    assert_eq!(next.status, StatusCode::SEE_OTHER);
    assert_eq!(next.location(), "/warning");
    let warning = mallory.get("/warning").await;
    assert_eq!(warning.status, StatusCode::OK);
    assert!(warning.text(".warning-text").contains("Please keep invitation notes friendly."));
    // Others never see it.
    let (mut ada, _) = join(&admin, "ada").await;
    assert!(!ada.get("/m/mallory").await.body.contains("friendly"));

    let last = warning.value("input[name=last]").unwrap();
    let done = mallory.post("/warning/acknowledge", &[("last", &last)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(mallory.get("/people").await.status, StatusCode::OK);
    assert_eq!(mallory.get("/warning").await.location(), "/");
    let read: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("select acknowledged_at from member_warnings where member_id = $1")
            .bind(mallory_id)
            .fetch_one(&admin.pool)
            .await
            .unwrap();
    assert!(read.is_some());
    assert!(admin.get("/admin/members/mallory").await.body.contains("read "));
}

#[tokio::test]
async fn hiding_takes_a_member_out_of_sight_but_not_out_of_cuppa() {
    let (mut admin, _) = site().await;
    let (mut mallory, _) = join(&admin, "mallory").await;
    let (mut ada, _) = join(&admin, "ada").await;
    ada.get("/m/mallory").await;
    assert_eq!(ada.post("/m/mallory/follow", &[]).await.status, StatusCode::SEE_OTHER);

    act(&mut admin, "mallory", "hide", "Impersonating a public figure").await;
    assert_eq!(ada.get("/m/mallory").await.status, StatusCode::NOT_FOUND);
    assert!(!ada.get("/people?q=mall").await.body.contains("@mallory"));
    assert!(!ada.get("/m/ada/following").await.body.contains("@mallory"));
    // She still uses Cuppa, but starts nothing new with anyone: they would find a 404.
    assert_eq!(mallory.get("/").await.status, StatusCode::OK);
    assert_eq!(mallory.get("/people").await.status, StatusCode::OK);
    let form = mallory.get("/m/ada/invite").await;
    assert_eq!(form.status, StatusCode::FORBIDDEN);
    assert!(form.text("main").contains("hidden your profile"), "{}", form.text("main"));
    mallory.get("/").await;
    assert_eq!(mallory.post("/m/ada/invite", &[("venue_id", "1"), ("note", "hi")]).await.status, StatusCode::FORBIDDEN);
    let sent: i64 = sqlx::query_scalar("select count(*) from invitations").fetch_one(&admin.pool).await.unwrap();
    assert_eq!(sent, 0);

    // Hiding twice is refused; unhiding brings her back.
    admin.get("/admin/members/mallory").await;
    let again = admin.post("/admin/members/mallory/action", &[("action", "hide"), ("reason", "again")]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    act(&mut admin, "mallory", "reinstate", "Verified the account").await;
    assert_eq!(ada.get("/m/mallory").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_action_needs_a_reason_and_the_form_keeps_what_was_typed() {
    let (mut admin, _) = site().await;
    join(&admin, "mallory").await;
    admin.get("/admin/members/mallory").await;
    let page = admin.post("/admin/members/mallory/action", &[("action", "suspend"), ("reason", "   ")]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text("#reason-error").contains("reason"));
    assert_eq!(page.value("input[value=suspend][checked]").as_deref(), Some("suspend"));
    let page = admin.post("/admin/members/mallory/action", &[("action", "explode"), ("reason", "why not")]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text("#reason").contains("why not"));
    let status: String = sqlx::query_scalar("select status::text from members where handle = 'mallory'")
        .fetch_one(&admin.pool)
        .await
        .unwrap();
    assert_eq!(status, "active");
    assert_eq!(admin.get("/admin/members/nobody_here").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn roles_change_with_a_reason_and_the_last_admin_stays() {
    let (mut admin, _) = site().await;
    let (mut olive, _) = join(&admin, "olive").await;
    admin.get("/admin/members/olive").await;
    let page = admin
        .post("/admin/members/olive/role", &[("role", "organiser"), ("role_reason", "Runs the Tuesday group")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(olive.get("/meetups/new").await.status, StatusCode::OK);

    // The only admin can neither step down nor be suspended.
    admin.get("/admin/members/root_admin").await;
    let demote =
        admin.post("/admin/members/root_admin/role", &[("role", "member"), ("role_reason", "Stepping down")]).await;
    assert_eq!(demote.status, StatusCode::CONFLICT);
    assert!(demote.body.contains("last admin"));
    let suspend = admin.post("/admin/members/root_admin/action", &[("action", "suspend"), ("reason", "Test")]).await;
    assert_eq!(suspend.status, StatusCode::CONFLICT);

    // With a second admin, the first may step down.
    let page = admin.post("/admin/members/olive/role", &[("role", "admin"), ("role_reason", "Second admin")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let demote =
        admin.post("/admin/members/root_admin/role", &[("role", "member"), ("role_reason", "Stepping down")]).await;
    assert_eq!(demote.status, StatusCode::SEE_OTHER);
    assert_eq!(admin.get("/admin").await.status, StatusCode::FORBIDDEN);
    let roles = olive.get("/admin/audit?kind=set_role").await;
    let rows = roles.texts("tbody tr");
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows[0].contains("admin → member") && rows[0].contains("Stepping down"), "{rows:?}");
    assert!(rows[2].contains("member → organiser") && rows[2].contains("@olive"), "{rows:?}");
}

#[tokio::test]
async fn the_dashboard_counts_the_community_and_draws_twelve_weeks() {
    let (mut admin, admin_id) = site().await;
    let pool = admin.pool.clone();
    let venue = add_venue(&pool, "Café Lumen", "London").await;
    let (mut ada, ada_id) = join(&admin, "ada").await;
    join(&admin, "mallory").await;
    insert_invitation(&pool, admin_id, ada_id, venue, "accepted").await;
    act(&mut admin, "mallory", "suspend", "Spam").await;
    let page = admin.get("/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    let figures = page.texts(".figures dd");
    assert_eq!(figures[0], "3", "{figures:?}");
    assert_eq!(figures[1], "3", "{figures:?}");
    assert!(figures[3].starts_with('1'), "{figures:?}");
    let svg = page.attrs("svg.chart rect", "height");
    assert_eq!(svg.len(), 24, "two bars a week for 12 weeks");
    assert_eq!(page.texts("details tbody tr").len(), 12);
    // Drawn on the server: no script of its own (the CSP allows none inline anyway).
    assert!(!page.body.contains("<script>"));

    // A deleted account is a tombstone, not a member.
    ada.get("/settings/account/delete").await;
    assert_eq!(ada.post("/settings/account/delete", &[("password", PASSWORD)]).await.status, StatusCode::SEE_OTHER);
    let figures = admin.get("/admin").await.texts(".figures dd");
    assert_eq!((figures[0].as_str(), figures[1].as_str()), ("2", "2"), "{figures:?}");
}

#[tokio::test]
async fn the_audit_log_takes_the_command_line_too_and_cannot_be_rewritten() {
    let (mut admin, _) = site().await;
    let pool = admin.pool.clone();
    let (mut ada, _) = join(&admin, "ada").await;
    let name: String = sqlx::query_scalar("select current_database()").fetch_one(&pool).await.unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cuppa"))
        .args(["admin", "grant", "ada", "organiser", "--reason", "Runs the book club"])
        .env("DATABASE_URL", database_url(&name))
        .env("USER", "ops_person")
        .output()
        .expect("cuppa runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("ada is now organiser"));
    assert_eq!(ada.get("/meetups/new").await.status, StatusCode::OK);
    // A suspension without a reason is refused before anything happens.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cuppa"))
        .args(["admin", "suspend", "ada"])
        .env("DATABASE_URL", database_url(&name))
        .output()
        .expect("cuppa runs");
    assert!(!output.status.success());

    act(&mut admin, "ada", "warn", "Be kind").await;
    let all = admin.get("/admin/audit").await;
    let rows = all.texts("tbody tr");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[1].contains("command line (ops_person)") && rows[1].contains("Runs the book club"), "{rows:?}");
    let by_admin = admin.get("/admin/audit?admin=root_admin").await;
    assert_eq!(by_admin.texts("tbody tr").len(), 1);
    let about_ada = admin.get("/admin/audit?target=%40ada&kind=warn").await;
    assert_eq!(about_ada.texts("tbody tr").len(), 1);
    let nobody = admin.get("/admin/audit?admin=ghost").await;
    assert!(nobody.text(".field-error").contains("@ghost"));
    assert!(nobody.texts("tbody tr").is_empty());

    for sql in ["update audit_log set reason = 'nothing happened'", "delete from audit_log", "truncate audit_log"] {
        let err = sqlx::query(sql).execute(&pool).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let kept: i64 = sqlx::query_scalar("select count(*) from audit_log").fetch_one(&pool).await.unwrap();
    assert_eq!(kept, 2);
}

/// DESIGN.md, "What a block and a suspension do", the block half, surface by surface.
#[tokio::test]
async fn a_block_reaches_every_surface_between_the_two() {
    let (admin, _) = site().await;
    let pool = admin.pool.clone();
    let venue = add_venue(&pool, "Café Lumen", "London").await;
    let (mut ada, ada_id) = join(&admin, "ada").await;
    let (mut bob, bob_id) = join(&admin, "bob").await;
    sqlx::query("update members set role = 'organiser' where id = $1").bind(bob_id).execute(&pool).await.unwrap();
    ada.get("/m/bob").await;
    assert_eq!(ada.post("/m/bob/follow", &[]).await.status, StatusCode::SEE_OTHER);
    bob.get("/m/ada").await;
    assert_eq!(bob.post("/m/ada/follow", &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(bob.post("/m/ada/met", &[]).await.status, StatusCode::SEE_OTHER);
    let invitation = insert_invitation(&pool, bob_id, ada_id, venue, "pending").await;
    sqlx::query(
        "insert into notifications (member_id, kind, text, link, actor_id)
         values ($1, 'invitation_received', 'bob invites you to coffee at Café Lumen', $2, $3)",
    )
    .bind(ada_id)
    .bind(format!("/invitations/{invitation}"))
    .bind(bob_id)
    .execute(&pool)
    .await
    .unwrap();
    insert_suggestion(&pool, ada_id, bob_id, venue).await;
    let meetup = insert_meetup(&pool, bob_id, venue, 10).await;
    assert!(ada.get("/suggestions").await.body.contains("bob"));
    assert_eq!(ada.get(&format!("/meetups/{meetup}")).await.status, StatusCode::OK);

    ada.get("/m/bob").await;
    assert_eq!(ada.post("/m/bob/block", &[]).await.status, StatusCode::SEE_OTHER);

    // Profiles: 404 both ways.
    assert_eq!(ada.get("/m/bob").await.status, StatusCode::NOT_FOUND);
    assert_eq!(bob.get("/m/ada").await.status, StatusCode::NOT_FOUND);
    // Follows gone both ways, and no new one can be made.
    let follows: i64 = sqlx::query_scalar("select count(*) from follows").fetch_one(&pool).await.unwrap();
    assert_eq!(follows, 0);
    assert_eq!(bob.post("/m/ada/follow", &[]).await.status, StatusCode::NOT_FOUND);
    // The pending met claim is declined.
    let claim: String = sqlx::query_scalar("select status::text from met_claims").fetch_one(&pool).await.unwrap();
    assert_eq!(claim, "declined");
    // The open invitation is cancelled, and its page and calendar are 404 to both.
    let state: String = sqlx::query_scalar("select state::text from invitations where id = $1")
        .bind(invitation)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, "cancelled");
    for client in [&mut ada, &mut bob] {
        assert_eq!(client.get(&format!("/invitations/{invitation}")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(client.get(&format!("/invitations/{invitation}/calendar.ics")).await.status, StatusCode::NOT_FOUND);
        assert!(!client.get("/invitations").await.body.contains(&format!("/invitations/{invitation}\"")));
    }
    // The suggestion is no longer shown; the notification naming Bob is gone.
    assert!(!ada.get("/suggestions").await.body.contains("@bob"));
    let notices = ada.get("/notifications").await;
    assert!(!notices.body.contains("bob invites you"), "{}", notices.text("main"));
    // Bob's meetup is 404 to Ada.
    assert_eq!(ada.get(&format!("/meetups/{meetup}")).await.status, StatusCode::NOT_FOUND);
    // Ada can still report him, from her list of blocked members.
    let blocked = ada.get("/settings/blocked").await;
    assert!(
        blocked.attrs("a", "href").iter().any(|href| href == &format!("/report/member/{bob_id}")),
        "{}",
        blocked.text("main")
    );
}

/// Admin actions outside the members' pages are audited too: venue decisions and rounds.
#[tokio::test]
async fn venue_decisions_and_rounds_run_by_hand_are_in_the_audit_log() {
    let (mut admin, _) = site().await;
    let pool = admin.pool.clone();
    let venue: i64 = sqlx::query_scalar(
        "insert into venues (name, address, city, time_zone) values ('Kiosk', '1 Park Lane', 'Leeds', 'Europe/London')
         returning id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    admin.get("/admin/venues").await;
    let approved = admin.post(&format!("/admin/venues/{venue}/approve"), &[]).await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER);
    admin.get("/admin/scheduler").await;
    assert_eq!(admin.post("/admin/scheduler/run", &[]).await.status, StatusCode::SEE_OTHER);
    let rows = admin.get("/admin/audit").await.texts("tbody tr");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[0].contains("Ran a scheduler round"), "{rows:?}");
    assert!(rows[1].contains("Approved a venue") && rows[1].contains("Kiosk, Leeds"), "{rows:?}");
}
