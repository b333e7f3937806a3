//! Reports and the admins' queue: reporting each kind of target, grouping into cases, the daily
//! cap (also at once), who may report what, deciding and noting, and what the reported member
//! never sees.

use axum::http::{StatusCode, header};
use cuppa::members::model::Role;
use cuppa::members::store;
use sqlx::PgPool;

use crate::support::{Client, Page, add_venue};

/// Members of one site, each on their own client: Wren reports, Bob is reported, Cleo is a
/// third member, and Boss is an admin. Wren's handle is one no page would show by chance.
struct Scene {
    wren: Client,
    bob: Client,
    cleo: Client,
    boss: Client,
    wren_id: i64,
    bob_id: i64,
    cleo_id: i64,
    venue: i64,
}

async fn scene() -> Scene {
    let mut wren = Client::new().await;
    let wren_id = wren.sign_up("wrenfield").await;
    let mut bob = wren.another();
    let bob_id = bob.sign_up("bob").await;
    let mut cleo = wren.another();
    let cleo_id = cleo.sign_up("cleo").await;
    let mut boss = wren.another();
    boss.sign_up("boss").await;
    store::update_role(&boss.pool, "boss", Role::Admin).await.unwrap();
    let venue = add_venue(&wren.pool, "Café Lumen", "London").await;
    Scene { wren, bob, cleo, boss, wren_id, bob_id, cleo_id, venue }
}

/// Opens the report form (for a fresh token) and sends it.
async fn report(client: &mut Client, target: &str, category: &str, details: &str) -> Page {
    let path = format!("/report/{target}");
    client.get(&path).await;
    client.post(&path, &[("category", category), ("details", details)]).await
}

async fn insert_invitation(pool: &PgPool, inviter: i64, invitee: i64, venue: i64, note: &str) -> i64 {
    sqlx::query_scalar(
        "insert into invitations (inviter_id, invitee_id, venue_id, proposed_times, note, proposed_by)
         values ($1, $2, $3, array[now() + interval '3 days'], $4, $1)
         returning id",
    )
    .bind(inviter)
    .bind(invitee)
    .bind(venue)
    .bind(note)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn insert_meetup(pool: &PgPool, organiser: i64, venue: i64, title: &str, visibility: &str) -> i64 {
    sqlx::query_scalar(
        "insert into meetups (organiser_id, venue_id, title, starts_at, ends_at, capacity, visibility)
         values ($1, $2, $3, now() + interval '5 days', now() + interval '5 days 2 hours', 10, $4::meetup_visibility)
         returning id",
    )
    .bind(organiser)
    .bind(venue)
    .bind(title)
    .bind(visibility)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The cases (id, kind, subject, status) and how many reports each has, oldest first.
async fn cases(pool: &PgPool) -> Vec<(i64, String, Option<i64>, String, i64)> {
    sqlx::query_as(
        "select c.id, c.target_kind::text, c.subject_id, c.status::text,
                (select count(*) from reports r where r.case_id = c.id)
         from moderation_cases c
         order by c.id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn count_reports(pool: &PgPool, reporter: i64) -> i64 {
    sqlx::query_scalar("select count(*) from reports where reporter_id = $1")
        .bind(reporter)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The audit entries (action, target, target member, reason), oldest first.
async fn audit(pool: &PgPool) -> Vec<(String, String, Option<i64>, String)> {
    sqlx::query_as("select action::text, target, target_member_id, reason from audit_log order by id")
        .fetch_all(pool)
        .await
        .unwrap()
}

fn report_id(page: &Page) -> i64 {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text(".field-error, .error-page"));
    let location = page.location();
    assert!(location.starts_with("/settings/reports/"), "{location}");
    location.rsplit('/').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_member_reports_a_profile_an_invitation_a_venue_and_a_meetup_and_is_told_it_was_received() {
    let Scene { mut wren, mut bob, wren_id, bob_id, venue, .. } = scene().await;
    let pool = wren.pool.clone();
    let invitation = insert_invitation(&pool, bob_id, wren_id, venue, "Coffee? Bring cash for me.").await;
    let meetup = insert_meetup(&pool, bob_id, venue, "Board games", "public").await;

    // Each page has a small "Report" link for the others, and none on one's own things.
    let profile = wren.get("/m/bob").await;
    assert_eq!(profile.attrs(".report-link a", "href"), [format!("/report/member/{bob_id}")]);
    assert!(wren.get("/m/wrenfield").await.attrs(".report-link a", "href").is_empty());
    let page = wren.get(&format!("/invitations/{invitation}")).await;
    assert_eq!(page.attrs(".report-link a", "href"), [format!("/report/invitation/{invitation}")]);
    assert_eq!(wren.get("/venues").await.attrs(".report-link a", "href"), [format!("/report/venue/{venue}")]);
    assert_eq!(
        wren.get(&format!("/meetups/{meetup}")).await.attrs(".report-link a", "href"),
        [format!("/report/meetup/{meetup}")]
    );
    assert!(bob.get(&format!("/meetups/{meetup}")).await.attrs(".report-link a", "href").is_empty());

    let form = wren.get(&format!("/report/member/{bob_id}")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text("main").contains("the profile of bob (@bob)"));
    assert!(form.text("#details-hint").contains("Up to 2,000 characters"));
    assert_eq!(form.attrs("input[name=category]", "value").len(), 6);

    let sent = report(&mut wren, &format!("member/{bob_id}"), "harassment", "  Keeps messaging me.  ").await;
    let first = report_id(&sent);
    let done = wren.get(&format!("/settings/reports/{first}")).await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.text(".flash").contains("Your report has been received"));
    assert!(done.text("h1").contains("received"));
    assert!(done.text("main").contains("never told who reported them"));
    assert!(done.text("main").contains("Keeps messaging me."), "details are trimmed and shown to their author");
    assert!(done.text(".outcome").contains("Open"));

    report_id(&report(&mut wren, &format!("invitation/{invitation}"), "spam", "Asked for money.").await);
    report_id(&report(&mut wren, &format!("venue/{venue}"), "unsafe_behaviour", "The back room is unlit.").await);
    report_id(&report(&mut wren, &format!("meetup/{meetup}"), "other", "It is a sales pitch.").await);

    let kinds: Vec<(String, Option<i64>)> = cases(&pool).await.into_iter().map(|c| (c.1, c.2)).collect();
    assert_eq!(
        kinds,
        [
            ("member".to_owned(), Some(bob_id)),
            ("invitation".to_owned(), Some(bob_id)),
            ("venue".to_owned(), None),
            ("meetup".to_owned(), Some(bob_id)),
        ]
    );
    let mine = wren.get("/settings/reports").await;
    assert_eq!(mine.texts("table.reports tbody tr").len(), 4);
    assert!(mine.inline_texts("table.reports td").contains(&"Venue: Café Lumen, London".to_owned()));
    assert!(mine.text("table.reports").contains("Meetup: Board games"));
    assert!(mine.attrs(".tabs a[aria-current=page]", "href").contains(&"/settings/reports".to_owned()));
    assert_eq!(count_reports(&pool, wren_id).await, 4);
}

#[tokio::test]
async fn the_reporter_reads_the_outcome_and_the_reported_member_never_sees_who_reported_them() {
    let Scene { mut wren, mut bob, mut boss, bob_id, .. } = scene().await;
    let pool = wren.pool.clone();
    let sent = report(&mut wren, &format!("member/{bob_id}"), "impersonation", "Uses my photos.").await;
    let report = report_id(&sent);

    let queue = boss.get("/admin/reports").await;
    assert_eq!(queue.status, StatusCode::OK);
    assert_eq!(queue.texts("tr.case").len(), 1);
    let row = queue.text("tr.case");
    assert!(row.contains("Profile: bob (@bob)") && row.contains("Impersonation"), "{row}");
    assert_eq!(queue.text("tr.case td.count"), "1");
    let case = cases(&pool).await[0].0;
    let page = boss.get(&format!("/admin/reports/{case}")).await;
    assert!(page.text(".case-report").contains("from @wrenfield"));
    assert!(page.text(".case-report").contains("Uses my photos."));
    assert_eq!(page.attrs(".case-detail a", "href"), ["/admin/members/bob", "/admin/members/bob"]);

    let resolved = boss
        .post(&format!("/admin/reports/{case}/resolve"), &[("outcome", "We have warned this member."), ("seen", "1")])
        .await;
    assert_eq!(resolved.status, StatusCode::SEE_OTHER);
    assert_eq!(resolved.location(), "/admin/reports");
    assert_eq!(
        audit(&pool).await,
        [("resolve_case".to_owned(), format!("case {case}"), Some(bob_id), "We have warned this member.".to_owned())]
    );
    // A second decision, by this admin or another, is a conflict and changes nothing.
    let again = boss.post(&format!("/admin/reports/{case}/dismiss"), &[("outcome", "Nothing wrong.")]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(cases(&pool).await[0].3, "resolved");
    assert_eq!(audit(&pool).await.len(), 1);
    assert!(boss.get("/admin/reports").await.text(".empty").contains("No open cases"));
    let closed = boss.get("/admin/reports?status=resolved").await;
    assert!(closed.text("tr.case").contains("We have warned this member."));

    let mine = wren.get("/settings/reports").await;
    assert!(mine.text("table.reports .outcome").contains("Action taken"));
    assert!(mine.text("table.reports .outcome").contains("We have warned this member."));
    let one = wren.get(&format!("/settings/reports/{report}")).await;
    assert!(one.text(".outcome").starts_with("Action taken"));
    assert!(one.text(".outcome").contains("We have warned this member."));

    for path in ["/", "/m/bob", "/notifications", "/settings/reports", "/invitations"] {
        let page = bob.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains("wrenfield"), "{path} names the reporter");
    }
    // Nor can Bob read Wren's report, or reach the queue.
    assert_eq!(bob.get(&format!("/settings/reports/{report}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(bob.get(&format!("/admin/reports/{case}")).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn reports_of_one_target_share_a_case_and_one_after_it_closed_opens_a_new_one() {
    let Scene { mut wren, mut cleo, mut boss, wren_id, bob_id, venue, .. } = scene().await;
    let pool = wren.pool.clone();
    report_id(&report(&mut wren, &format!("member/{bob_id}"), "harassment", "First.").await);
    report_id(&report(&mut cleo, &format!("member/{bob_id}"), "spam", "Second.").await);
    let all = cases(&pool).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].4, 2, "two reports in the one case");
    let first_case = all[0].0;
    let queue = boss.get("/admin/reports").await;
    assert_eq!(queue.text("tr.case td.count"), "2");
    assert!(queue.text("tr.case").contains("Spam") && queue.text("tr.case").contains("Harassment"));
    let page = boss.get(&format!("/admin/reports/{first_case}")).await;
    assert_eq!(page.texts(".case-report").len(), 2);

    // A no-show about Bob is part of his history on the case page.
    sqlx::query(
        "insert into invitations (inviter_id, invitee_id, venue_id, proposed_times, accepted_time, state, inviter_answer, proposed_by)
         values ($1, $2, $3, array[now() - interval '2 days'], now() - interval '2 days', 'held', 'no_show', $1)",
    )
    .bind(wren_id)
    .bind(bob_id)
    .bind(venue)
    .execute(&pool)
    .await
    .unwrap();

    let dismissed =
        boss.post(&format!("/admin/reports/{first_case}/dismiss"), &[("outcome", "Nothing against the rules.")]).await;
    assert_eq!(dismissed.status, StatusCode::SEE_OTHER);
    report_id(&report(&mut cleo, &format!("member/{bob_id}"), "harassment", "It goes on.").await);
    let all = cases(&pool).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!((all[0].3.as_str(), all[1].3.as_str(), all[1].4), ("dismissed", "open", 1));

    let page = boss.get(&format!("/admin/reports/{}", all[1].0)).await;
    let history = page.text(".earlier-cases");
    assert!(history.contains(&format!("Case {first_case}")) && history.contains("Dismissed"), "{history}");
    assert!(history.contains("Nothing against the rules."));
    assert!(page.text(".audit-entries").contains("Dismissed a case"));
    assert!(page.text(".no-shows").contains("@wrenfield says they did not come"));
    // The first case's reporters read the outcome; the new report is still open.
    let mine = cleo.get("/settings/reports").await;
    assert!(mine.text("table.reports").contains("No action"));
    assert!(mine.text("table.reports").contains("Open"));
}

#[tokio::test]
async fn the_eleventh_report_in_a_day_is_refused_with_429_saying_when_more_can_be_sent() {
    let Scene { mut wren, wren_id, bob_id, venue, .. } = scene().await;
    let pool = wren.pool.clone();
    for i in 0..10 {
        let details = format!("Report {i}");
        report_id(&report(&mut wren, &format!("member/{bob_id}"), "spam", &details).await);
    }
    let refused = wren.post(&format!("/report/venue/{venue}"), &[("category", "spam"), ("details", "One more")]).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.text("main").contains("You have sent 10 reports in the last 24 hours"));
    assert!(refused.text("main").contains("You can send more reports after"));
    assert!(refused.text("main").contains("One more"), "what was typed is given back");
    assert!(refused.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(wren.get(&format!("/report/venue/{venue}")).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(count_reports(&pool, wren_id).await, 10);

    // A day after the oldest, one more fits.
    sqlx::query(
        "update reports set created_at = now() - interval '25 hours'
         where id = (select min(id) from reports where reporter_id = $1)",
    )
    .bind(wren_id)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(wren.get(&format!("/report/venue/{venue}")).await.status, StatusCode::OK);
    report_id(&report(&mut wren, &format!("venue/{venue}"), "spam", "Now it fits.").await);
    assert_eq!(count_reports(&pool, wren_id).await, 11);
}

/// `n` reports of Bob from `from`'s session, sent at once; their statuses.
async fn reports_at_once(from: &mut Client, bob_id: i64, n: usize) -> Vec<StatusCode> {
    from.get(&format!("/report/member/{bob_id}")).await;
    let mut tasks = Vec::new();
    for i in 0..n {
        let mut client = Client {
            pool: from.pool.clone(),
            router: from.router.clone(),
            cookies: from.cookies.clone(),
            csrf: from.csrf.clone(),
            addr: from.addr,
        };
        let path = format!("/report/member/{bob_id}");
        tasks.push(tokio::spawn(async move {
            client.post(&path, &[("category", "spam"), ("details", &format!("At once {i}"))]).await.status
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_sent_at_once_are_all_taken_up_to_the_cap_and_never_past_it() {
    let Scene { mut wren, mut cleo, wren_id, cleo_id, bob_id, .. } = scene().await;
    let pool = wren.pool.clone();
    let ten = reports_at_once(&mut wren, bob_id, 10).await;
    assert!(ten.iter().all(|s| *s == StatusCode::SEE_OTHER), "{ten:?}");
    assert_eq!(count_reports(&pool, wren_id).await, 10);

    let fourteen = reports_at_once(&mut cleo, bob_id, 14).await;
    let taken = fourteen.iter().filter(|s| **s == StatusCode::SEE_OTHER).count();
    let refused = fourteen.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((taken, refused), (10, 4), "{fourteen:?}");
    assert_eq!(count_reports(&pool, cleo_id).await, 10);
    let all = cases(&pool).await;
    assert_eq!(all.len(), 1, "every report of Bob went to his one open case");
    assert_eq!(all[0].4, 20);
}

#[tokio::test]
async fn only_what_the_reporter_can_see_can_be_reported_and_nobody_reports_themselves() {
    let Scene { mut wren, mut bob, mut cleo, wren_id, bob_id, cleo_id, venue, .. } = scene().await;
    let pool = wren.pool.clone();
    let invitation = insert_invitation(&pool, bob_id, wren_id, venue, "Hello").await;

    // A stranger to an invitation, unknown kinds and ids, missing things: 404.
    assert_eq!(cleo.get(&format!("/report/invitation/{invitation}")).await.status, StatusCode::NOT_FOUND);
    let stranger = cleo.post(&format!("/report/invitation/{invitation}"), &[("category", "spam")]).await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);
    for path in ["/report/comment/1", "/report/member/bob", "/report/venue/999999", "/report/member/999999"] {
        assert_eq!(wren.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let pending = sqlx::query_scalar::<_, i64>(
        "insert into venues (name, address, city, time_zone) values ('Secret', '1 Lane', 'London', 'Europe/London') returning id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(wren.get(&format!("/report/venue/{pending}")).await.status, StatusCode::NOT_FOUND);
    let private = insert_meetup(&pool, bob_id, venue, "Friends only", "followers").await;
    assert_eq!(wren.get(&format!("/report/meetup/{private}")).await.status, StatusCode::NOT_FOUND);

    // Nobody reports themselves, nor their own meetup.
    let myself = wren.post(&format!("/report/member/{wren_id}"), &[("category", "spam")]).await;
    assert_eq!(myself.status, StatusCode::CONFLICT);
    assert!(myself.text("main").contains("You cannot report yourself"));
    let own = insert_meetup(&pool, wren_id, venue, "Mine", "public").await;
    assert_eq!(wren.get(&format!("/report/meetup/{own}")).await.status, StatusCode::CONFLICT);

    // The one who blocks may still report, from the blocked list; the one blocked may not
    // (as on profiles, it looks as if the blocker had left).
    wren.get("/m/bob").await;
    assert_eq!(wren.post("/m/bob/block", &[]).await.status, StatusCode::SEE_OTHER);
    let blocked = wren.get("/settings/blocked").await;
    assert_eq!(blocked.attrs(".report-link", "href"), [format!("/report/member/{bob_id}")]);
    report_id(&report(&mut wren, &format!("member/{bob_id}"), "harassment", "Before I blocked him.").await);
    assert_eq!(bob.get(&format!("/report/member/{wren_id}")).await.status, StatusCode::NOT_FOUND);
    // Both of an invitation's people can report it, whatever stands between them now.
    report_id(&report(&mut bob, &format!("invitation/{invitation}"), "other", "Odd note.").await);
    let subjects: Vec<Option<i64>> = cases(&pool).await.into_iter().map(|c| c.2).collect();
    assert_eq!(subjects, [Some(bob_id), Some(wren_id)], "an invitation's subject is the other person");
    assert_eq!(count_reports(&pool, cleo_id).await, 0);
}

#[tokio::test]
async fn only_admins_see_the_queue_and_anonymous_visitors_are_sent_to_log_in() {
    let Scene { mut wren, mut boss, bob_id, .. } = scene().await;
    let pool = wren.pool.clone();
    report_id(&report(&mut wren, &format!("member/{bob_id}"), "spam", "").await);
    let case = cases(&pool).await[0].0;
    assert_eq!(wren.get("/admin/reports").await.status, StatusCode::FORBIDDEN);
    assert_eq!(wren.get(&format!("/admin/reports/{case}")).await.status, StatusCode::FORBIDDEN);
    for action in ["resolve", "dismiss", "notes"] {
        let page =
            wren.post(&format!("/admin/reports/{case}/{action}"), &[("outcome", "Mine now"), ("body", "Hi")]).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(cases(&pool).await[0].3, "open");
    let mut anonymous = wren.another();
    assert_eq!(anonymous.get("/admin/reports").await.location(), "/login?next=/admin/reports");
    assert_eq!(anonymous.get("/settings/reports").await.location(), "/login?next=/settings/reports");
    assert!(anonymous.get(&format!("/report/member/{bob_id}")).await.location().starts_with("/login?next="));
    assert_eq!(boss.get(&format!("/admin/reports/{}", case + 100)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(boss.get("/admin/reports?status=maybe").await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn notes_are_shown_to_admins_and_audited() {
    let Scene { mut wren, mut boss, bob_id, .. } = scene().await;
    let pool = wren.pool.clone();
    report_id(&report(&mut wren, &format!("member/{bob_id}"), "spam", "Links everywhere.").await);
    let case = cases(&pool).await[0].0;
    boss.get(&format!("/admin/reports/{case}")).await;
    let empty = boss.post(&format!("/admin/reports/{case}/notes"), &[("body", "   ")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!empty.text("#body-error").is_empty());
    let long = "n".repeat(2001);
    let too_long = boss.post(&format!("/admin/reports/{case}/notes"), &[("body", &long)]).await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_long.text("textarea[name=body]"), long, "what was typed is kept");

    let added =
        boss.post(&format!("/admin/reports/{case}/notes"), &[("body", "Asked @bob about it <b>today</b>.")]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    assert_eq!(added.location(), format!("/admin/reports/{case}#notes"));
    let page = boss.get(&format!("/admin/reports/{case}")).await;
    assert!(page.text(".case-note").contains("@boss"));
    assert!(page.text(".case-note").contains("Asked @bob about it <b>today</b>."));
    assert!(!page.body.contains("<b>today</b>"), "escaped");
    let entries = audit(&pool).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].0.as_str(), entries[0].1.as_str(), entries[0].2),
        ("note_case", &*format!("case {case}"), Some(bob_id))
    );
    // Notes are for admins: the reporter's pages do not show them.
    assert!(!wren.get("/settings/reports").await.body.contains("Asked @bob"));
}

#[tokio::test]
async fn a_bad_report_or_decision_comes_back_with_422_and_what_was_typed() {
    let Scene { mut wren, mut boss, wren_id, bob_id, .. } = scene().await;
    let pool = wren.pool.clone();
    let path = format!("/report/member/{bob_id}");
    wren.get(&path).await;
    let no_category = wren.post(&path, &[("details", "He was rude.")]).await;
    assert_eq!(no_category.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_category.text("#category-error").contains("Choose what kind of problem"));
    assert_eq!(no_category.text("textarea[name=details]"), "He was rude.");

    let long = "x".repeat(2001);
    let too_long = wren.post(&path, &[("category", "harassment"), ("details", &long)]).await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_long.text("#details-error").contains("Keep it to 2000 characters (it has 2001)"));
    assert_eq!(too_long.value("input[name=category][checked]").as_deref(), Some("harassment"));
    assert_eq!(too_long.text("textarea[name=details]").len(), 2001);

    let nul = wren.post(&path, &[("category", "spam"), ("details", "a\0b")]).await;
    assert_eq!(nul.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!nul.text("#details-error").is_empty());
    let other = wren.post(&path, &[("category", "other"), ("details", " ")]).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    let made_up = wren.post(&path, &[("category", "rudeness")]).await;
    assert_eq!(made_up.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(count_reports(&pool, wren_id).await, 0);

    // Hostile text is stored as typed and shown escaped.
    let script = "<script>alert(1)</script> & \"quotes\"";
    report_id(&report(&mut wren, &format!("member/{bob_id}"), "spam", script).await);
    let case = cases(&pool).await[0].0;
    let page = boss.get(&format!("/admin/reports/{case}")).await;
    assert!(page.text(".case-report").contains(script));
    assert!(!page.body.contains("<script>alert(1)"));

    // An outcome is required, and at most 500 characters.
    let empty = boss.post(&format!("/admin/reports/{case}/resolve"), &[("outcome", " ")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text("#resolve_outcome-error").contains("Write what the reporters will be told"));
    let long = "y".repeat(501);
    let too_long = boss.post(&format!("/admin/reports/{case}/dismiss"), &[("outcome", &long)]).await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!too_long.text("#dismiss_outcome-error").is_empty());
    assert_eq!(too_long.text("textarea#dismiss_outcome"), long);
    assert_eq!(cases(&pool).await[0].3, "open");
    assert!(audit(&pool).await.is_empty());
}

#[tokio::test]
async fn a_report_that_arrived_after_the_admin_opened_the_case_stops_the_decision() {
    let Scene { mut wren, mut cleo, mut boss, bob_id, .. } = scene().await;
    let pool = wren.pool.clone();
    report_id(&report(&mut wren, &format!("member/{bob_id}"), "spam", "One.").await);
    let case = cases(&pool).await[0].0;
    let page = boss.get(&format!("/admin/reports/{case}")).await;
    let seen = page.value("form[action$=resolve] input[name=seen]").unwrap();
    assert_eq!(seen, "1");
    report_id(&report(&mut cleo, &format!("member/{bob_id}"), "harassment", "Two, and worse.").await);
    let stale =
        boss.post(&format!("/admin/reports/{case}/dismiss"), &[("outcome", "Nothing wrong."), ("seen", &seen)]).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.text("main").contains("Another report arrived"));
    assert_eq!(cases(&pool).await[0].3, "open");
    let fresh = boss.get(&format!("/admin/reports/{case}")).await;
    let seen = fresh.value("form[action$=resolve] input[name=seen]").unwrap();
    let done = boss.post(&format!("/admin/reports/{case}/resolve"), &[("outcome", "Warned."), ("seen", &seen)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_deciding_at_once_give_one_decision_and_one_conflict() {
    let Scene { mut wren, mut boss, bob_id, .. } = scene().await;
    let pool = wren.pool.clone();
    report_id(&report(&mut wren, &format!("member/{bob_id}"), "spam", "Spam.").await);
    let case = cases(&pool).await[0].0;
    let mut other = boss.another();
    other.sign_up("otherboss").await;
    store::update_role(&pool, "otherboss", Role::Admin).await.unwrap();
    boss.get(&format!("/admin/reports/{case}")).await;
    other.get(&format!("/admin/reports/{case}")).await;
    let resolve = format!("/admin/reports/{case}/resolve");
    let dismiss = format!("/admin/reports/{case}/dismiss");
    let (a, b) = tokio::join!(
        boss.post(&resolve, &[("outcome", "Warned.")]),
        other.post(&dismiss, &[("outcome", "Nothing wrong.")])
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::CONFLICT]);
    assert_eq!(audit(&pool).await.len(), 1);
}
