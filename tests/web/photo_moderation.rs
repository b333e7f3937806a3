//! Photos under moderation (issue 13): an admin removes a member's photo with a reason, from
//! the member's admin page or from a report's case; the member is told why; a second removal
//! stops their uploads until an admin allows them again; photos are reported like profiles,
//! only by someone who can see them; and a reported photo outlives its replacement until its
//! case closes.

use axum::http::StatusCode;
use sqlx::PgPool;

use crate::moderation::{join, notifications_of, site};
use crate::support::{Client, Page, current_photo, png, upload_photo};

async fn removals(pool: &PgPool, member: i64) -> i16 {
    sqlx::query_scalar("select photo_removals from members where id = $1").bind(member).fetch_one(pool).await.unwrap()
}

async fn photo_stored(pool: &PgPool, photo: i64) -> bool {
    sqlx::query_scalar("select exists (select from photos where id = $1)").bind(photo).fetch_one(pool).await.unwrap()
}

/// The audit entries (action, target, target member, detail, reason), oldest first.
async fn audit(pool: &PgPool) -> Vec<(String, String, Option<i64>, String, String)> {
    sqlx::query_as("select action::text, target, target_member_id, detail, reason from audit_log order by id")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Opens the member's admin page (for a fresh token) and removes `photo` for `reason`.
async fn remove_from_member_page(admin: &mut Client, handle: &str, photo: i64, reason: &str) -> Page {
    admin.get(&format!("/admin/members/{handle}")).await;
    let photo = photo.to_string();
    admin.post(&format!("/admin/members/{handle}/photo/remove"), &[("photo", &photo), ("photo_reason", reason)]).await
}

#[tokio::test]
async fn an_admin_removes_a_photo_from_the_member_page_and_the_member_is_told_why() {
    let (mut admin, _) = site().await;
    let pool = admin.pool.clone();
    let (mut bob, bob_id) = join(&admin, "bob").await;
    let (mut cleo, _) = join(&admin, "cleo").await;
    let photo = upload_photo(&mut bob, bob_id, [200, 60, 60]).await;
    let url = format!("/photos/{bob_id}/{photo}-96.jpg");
    assert_eq!(cleo.get(&url).await.status, StatusCode::OK);

    // The admin page shows the photo at its admin address, with the form to remove it.
    let page = admin.get("/admin/members/bob").await;
    assert_eq!(page.attrs(".admin-photo img", "src"), [format!("/admin/photos/{photo}-384.jpg")]);
    assert_eq!(page.value("input[name=photo]"), Some(photo.to_string()));
    assert!(page.text(".admin-photo").contains("since uploads were last allowed: 0"), "{}", page.text(".admin-photo"));

    // A reason is required, and one too long comes back with what was typed.
    let empty = remove_from_member_page(&mut admin, "bob", photo, "  ").await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text("#photo_reason-error").contains("Write a reason"), "{}", empty.text(".field-error"));
    let long = "x".repeat(301);
    let too_long = remove_from_member_page(&mut admin, "bob", photo, &long).await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_long.text("textarea#photo_reason"), long);
    assert_eq!(current_photo(&pool, bob_id).await, Some(photo));

    let done = remove_from_member_page(&mut admin, "bob", photo, "Not a photo of you.").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text(".error-page"));
    assert_eq!(done.location(), "/admin/members/bob");
    let after = admin.get("/admin/members/bob").await;
    assert!(after.text(".flash").contains("Photo removed; @bob is told why."), "{}", after.text(".flash"));
    assert!(after.text(".admin-photo").contains("No photo"), "{}", after.text(".admin-photo"));
    assert!(after.text(".admin-photo").contains("since uploads were last allowed: 1"));

    // Gone: from the profile, at its URL, and from the database (no case needs it).
    assert_eq!(cleo.get(&url).await.status, StatusCode::NOT_FOUND);
    assert_eq!(current_photo(&pool, bob_id).await, None);
    assert!(!photo_stored(&pool, photo).await);
    assert_eq!(removals(&pool, bob_id).await, 1);
    let entries = audit(&pool).await;
    assert_eq!(
        entries.last().unwrap(),
        &(
            "remove_photo".to_owned(),
            "@bob".to_owned(),
            Some(bob_id),
            format!("photo {photo}, removal 1"),
            "Not a photo of you.".to_owned()
        )
    );

    // Bob is told why, in the app and by email, and may upload another.
    let notices = notifications_of(&pool, bob_id).await;
    let (kind, text) = notices.last().unwrap();
    assert_eq!(kind, "photo_removed");
    assert!(text.contains("removed your photo") && text.contains("Not a photo of you."), "{text}");
    assert!(!text.contains("cannot upload"), "{text}");
    assert!(bob.get("/notifications").await.text(".notifications").contains("Not a photo of you."));
    let (subject, body): (String, String) =
        sqlx::query_as("select subject, body from outbox where member_id = $1 and kind = 'photo_removed'")
            .bind(bob_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(&subject, text);
    assert!(body.contains("Why: Not a photo of you.") && body.contains("You can upload another photo"), "{body}");

    // The same form again, after the photo is gone: a clear 409, nothing counted twice.
    let again = remove_from_member_page(&mut admin, "bob", photo, "Not a photo of you.").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.text(".error-page").contains("no longer theirs to remove"), "{}", again.text(".error-page"));
    assert_eq!(removals(&pool, bob_id).await, 1);
    assert_eq!(audit(&pool).await.len(), entries.len());
}

#[tokio::test]
async fn a_second_removal_stops_uploads_until_an_admin_allows_them_again() {
    let (mut admin, _) = site().await;
    let pool = admin.pool.clone();
    let (mut bob, bob_id) = join(&admin, "bob").await;
    let first = upload_photo(&mut bob, bob_id, [10, 120, 200]).await;
    assert_eq!(
        remove_from_member_page(&mut admin, "bob", first, "Someone else's face.").await.status,
        StatusCode::SEE_OTHER
    );
    let second = upload_photo(&mut bob, bob_id, [20, 160, 90]).await;
    // Changed since the admin's page was drawn: the form names the first photo, so nothing is
    // removed that the admin has not seen.
    let stale = remove_from_member_page(&mut admin, "bob", first, "Still not you.").await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(current_photo(&pool, bob_id).await, Some(second));
    assert_eq!(
        remove_from_member_page(&mut admin, "bob", second, "Still not you.").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(removals(&pool, bob_id).await, 2);
    assert!(audit(&pool).await.last().unwrap().3.ends_with("removal 2; uploads stopped until an admin allows them"));

    // Bob is told that this time he cannot upload another, and the upload is refused.
    let (_, text) = notifications_of(&pool, bob_id).await.pop().unwrap();
    assert_eq!(text, "The Cuppa team removed your photo: “Still not you.”.");
    let body: String = sqlx::query_scalar(
        "select body from outbox where member_id = $1 and kind = 'photo_removed' order by id desc limit 1",
    )
    .bind(bob_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(body.contains("you cannot upload another until an admin allows it"), "{body}");
    let refused = bob.upload("/settings/photo", "again.png", &png([1, 2, 3])).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text(".field-error"));
    assert_eq!(current_photo(&pool, bob_id).await, None);

    // The admin page says so and offers to allow uploads again, with a reason.
    let page = admin.get("/admin/members/bob").await;
    assert!(page.text(".admin-photo").contains("Cannot upload photos"), "{}", page.text(".admin-photo"));
    assert_eq!(page.texts(".admin-photo button"), ["Allow photo uploads again"]);
    let no_reason = admin.post("/admin/members/bob/photo/allow", &[("allow_reason", "")]).await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_reason.text("#allow_reason-error").contains("Write a reason"));
    assert_eq!(removals(&pool, bob_id).await, 2);
    let allowed = admin.post("/admin/members/bob/photo/allow", &[("allow_reason", "He wrote to us; a mix-up.")]).await;
    assert_eq!(allowed.status, StatusCode::SEE_OTHER, "{}", allowed.text(".error-page"));
    assert_eq!(removals(&pool, bob_id).await, 0);
    let entry = audit(&pool).await.pop().unwrap();
    assert_eq!(
        entry,
        (
            "allow_photos".to_owned(),
            "@bob".to_owned(),
            Some(bob_id),
            "after 2 removals".to_owned(),
            "He wrote to us; a mix-up.".to_owned()
        )
    );
    let page = admin.get("/admin/members/bob").await;
    assert!(page.text(".flash").contains("@bob can upload photos again."));
    assert!(page.texts(".admin-photo button").is_empty(), "{:?}", page.texts(".admin-photo button"));
    // Allowing twice is a 409, not a second entry.
    let twice = admin.post("/admin/members/bob/photo/allow", &[("allow_reason", "Again.")]).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(twice.text(".error-page").contains("can already upload photos"));

    upload_photo(&mut bob, bob_id, [240, 200, 10]).await;
}

/// Where `member`'s `photo` is reported.
fn report_path(member: i64, photo: i64) -> String {
    format!("/report/photo/{member}-{photo}")
}

/// Files a report of `member`'s `photo` as `client`.
async fn report_photo(client: &mut Client, member: i64, photo: i64) -> Page {
    let path = report_path(member, photo);
    client.get(&path).await;
    client.post(&path, &[("category", "impersonation"), ("details", "That is my face.")]).await
}

async fn the_case(pool: &PgPool) -> (i64, String, i64, Option<i64>, String) {
    sqlx::query_as("select id, target_kind::text, target_id, subject_id, status::text from moderation_cases")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A site where Wren has reported Bob's photo (of `colour`): the admin, Bob and the case.
struct ReportedPhoto {
    admin: Client,
    admin_id: i64,
    pool: PgPool,
    bob: Client,
    bob_id: i64,
    photo: i64,
    case: i64,
}

async fn reported_photo(colour: [u8; 3]) -> ReportedPhoto {
    let (admin, admin_id) = site().await;
    let pool = admin.pool.clone();
    let (mut bob, bob_id) = join(&admin, "bob").await;
    let (mut wren, _) = join(&admin, "wrenfield").await;
    let photo = upload_photo(&mut bob, bob_id, colour).await;
    assert_eq!(report_photo(&mut wren, bob_id, photo).await.status, StatusCode::SEE_OTHER);
    let (case, ..) = the_case(&pool).await;
    ReportedPhoto { admin, admin_id, pool, bob, bob_id, photo, case }
}

#[tokio::test]
async fn a_reported_photo_is_a_case_an_admin_removes_it_from_and_it_is_deleted_when_the_case_closes() {
    let (mut admin, _) = site().await;
    let pool = admin.pool.clone();
    let (mut bob, bob_id) = join(&admin, "bob").await;
    let (mut wren, _) = join(&admin, "wrenfield").await;
    let photo = upload_photo(&mut bob, bob_id, [90, 90, 200]).await;

    // A small link beside the photo, for others only.
    let profile = wren.get("/m/bob").await;
    assert_eq!(profile.attrs(".report-photo a", "href"), [report_path(bob_id, photo)]);
    assert!(bob.get("/m/bob").await.attrs(".report-photo a", "href").is_empty());
    let form = wren.get(&report_path(bob_id, photo)).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text("main").contains("the photo of bob (@bob)"), "{}", form.text("main"));
    // The large file: the form shows it at 128 pixels.
    assert_eq!(form.attrs("main img", "src"), [format!("/photos/{bob_id}/{photo}-384.jpg")]);
    assert_eq!(form.attrs("main form", "action"), [report_path(bob_id, photo)]);

    let filed = report_photo(&mut wren, bob_id, photo).await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.text(".field-error, .error-page"));
    let (case, kind, target, subject, _) = the_case(&pool).await;
    assert_eq!((kind.as_str(), target, subject), ("photo", photo, Some(bob_id)));

    // In the queue, and on its page: the photo, that it is still Bob's, and the form.
    let queue = admin.get("/admin/reports").await;
    assert!(queue.text("table.cases").contains("Photo: Photo of bob (@bob)"), "{}", queue.text("table.cases"));
    let page = admin.get(&format!("/admin/reports/{case}")).await;
    assert_eq!(page.attrs(".case-photo img", "src"), [format!("/admin/photos/{photo}-384.jpg")]);
    assert!(page.text(".case-photo").contains("Still their current photo."));
    assert!(page.texts("button").contains(&"Remove this photo".to_owned()));
    assert!(page.text("#photo_reason-hint").ends_with("The case stays open: decide it below to tell the reporters."));

    let no_reason = admin.post(&format!("/admin/reports/{case}/remove-photo"), &[("photo_reason", " ")]).await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_reason.text("#photo_reason-error").contains("Write a reason"));
    let removed =
        admin.post(&format!("/admin/reports/{case}/remove-photo"), &[("photo_reason", "Impersonation.")]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.text(".error-page"));
    assert_eq!(removed.location(), format!("/admin/reports/{case}"));
    assert_eq!(current_photo(&pool, bob_id).await, None);
    assert_eq!(removals(&pool, bob_id).await, 1);
    assert_eq!(audit(&pool).await.last().unwrap().0, "remove_photo");
    assert!(notifications_of(&pool, bob_id).await.last().unwrap().1.contains("Impersonation."));
    // Kept while the case is open, for admins only; the page says it is no longer Bob's.
    assert!(photo_stored(&pool, photo).await);
    assert_eq!(wren.get(&format!("/photos/{bob_id}/{photo}-96.jpg")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(admin.get(&format!("/admin/photos/{photo}-384.jpg")).await.status, StatusCode::OK);
    let page = admin.get(&format!("/admin/reports/{case}")).await;
    assert!(page.text(".flash").contains("Resolve the case to tell its reporters."), "{}", page.text(".flash"));
    assert!(page.text(".case-photo").contains("No longer their photo"), "{}", page.text(".case-photo"));
    assert!(!page.texts("button").contains(&"Remove this photo".to_owned()));
    // The case's form, drawn before the removal, cannot remove it twice.
    let twice = admin.post(&format!("/admin/reports/{case}/remove-photo"), &[("photo_reason", "Again.")]).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);

    // Closing the case lets the photo go.
    let seen = page.value("input[name=seen]").unwrap();
    let resolved =
        admin.post(&format!("/admin/reports/{case}/resolve"), &[("outcome", "Photo removed."), ("seen", &seen)]).await;
    assert_eq!(resolved.status, StatusCode::SEE_OTHER, "{}", resolved.text(".error-page"));
    assert!(!photo_stored(&pool, photo).await);
    let page = admin.get(&format!("/admin/reports/{case}")).await;
    assert!(page.text(".case-photo").contains("No longer stored"), "{}", page.text(".case-photo"));
    assert!(page.attrs(".case-photo img", "src").is_empty());
}

#[tokio::test]
async fn a_reported_photo_replaced_since_is_kept_for_the_admin_until_its_case_is_dismissed() {
    let ReportedPhoto { mut admin, pool, mut bob, bob_id, photo: reported, case, .. } =
        reported_photo([200, 200, 200]).await;
    let newer = upload_photo(&mut bob, bob_id, [30, 30, 30]).await;

    // Bob's new photo is his; the reported one is kept for the case, which offers no removal.
    assert!(photo_stored(&pool, reported).await);
    let page = admin.get(&format!("/admin/reports/{case}")).await;
    assert_eq!(page.attrs(".case-photo img", "src"), [format!("/admin/photos/{reported}-384.jpg")]);
    assert!(page.text(".case-photo").contains("No longer their photo"));
    assert!(!page.texts("button").contains(&"Remove this photo".to_owned()));
    let refused = admin.post(&format!("/admin/reports/{case}/remove-photo"), &[("photo_reason", "Too late.")]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(current_photo(&pool, bob_id).await, Some(newer));

    let seen = page.value("input[name=seen]").unwrap();
    let dismissed = admin
        .post(&format!("/admin/reports/{case}/dismiss"), &[("outcome", "Replaced already."), ("seen", &seen)])
        .await;
    assert_eq!(dismissed.status, StatusCode::SEE_OTHER);
    assert!(!photo_stored(&pool, reported).await);
    assert!(photo_stored(&pool, newer).await, "closing a case deletes only the photo it was about");
}

#[tokio::test]
async fn only_a_photo_the_reporter_can_see_can_be_reported() {
    let (admin, _) = site().await;
    let pool = admin.pool.clone();
    let (mut bob, bob_id) = join(&admin, "bob").await;
    let (mut cleo, cleo_id) = join(&admin, "cleo").await;
    let (mut wren, _) = join(&admin, "wrenfield").await;
    let old = upload_photo(&mut bob, bob_id, [5, 5, 5]).await;
    let photo = upload_photo(&mut bob, bob_id, [250, 5, 5]).await;
    assert_eq!(wren.get(&report_path(bob_id, photo)).await.status, StatusCode::OK);

    // A photo Bob replaced, one that never existed, Bob's photo named as Cleo's, and paths that
    // do not name a member and a photo in plain digits: 404.
    for path in [
        report_path(bob_id, old),
        report_path(bob_id, photo + 100),
        report_path(cleo_id, photo),
        format!("/report/photo/{photo}"),
        format!("/report/photo/+{bob_id}-{photo}"),
        format!("/report/photo/{bob_id}-0{photo}"),
        format!("/report/photo/{bob_id}-{photo}-{photo}"),
        format!("/report/photo/{bob_id}-"),
        "/report/photo/x".into(),
    ] {
        assert_eq!(wren.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    // Bob cannot report his own.
    assert_eq!(bob.get(&report_path(bob_id, photo)).await.status, StatusCode::CONFLICT);
    // Bob blocked Cleo: she cannot see his photo, nor report it (the form or a post).
    bob.get("/m/cleo").await;
    assert_eq!(bob.post("/m/cleo/block", &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(cleo.get(&report_path(bob_id, photo)).await.status, StatusCode::NOT_FOUND);
    cleo.get("/settings/reports").await;
    let post = cleo.post(&report_path(bob_id, photo), &[("category", "spam"), ("details", "")]).await;
    assert_eq!(post.status, StatusCode::NOT_FOUND);
    // Wren blocked Bob herself: she can still report what she saw, as with a profile, but the
    // form shows no picture (its address answers her 404 across the block).
    wren.get("/m/bob").await;
    assert_eq!(wren.post("/m/bob/block", &[]).await.status, StatusCode::SEE_OTHER);
    let form = wren.get(&report_path(bob_id, photo)).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text("main").contains("the photo of bob (@bob)"), "{}", form.text("main"));
    assert!(form.attrs("main img", "src").is_empty(), "{:?}", form.attrs("main img", "src"));
    // A hidden member's photo is nobody's to see.
    sqlx::query("update members set status = 'hidden' where id = $1").bind(bob_id).execute(&pool).await.unwrap();
    assert_eq!(wren.get(&report_path(bob_id, photo)).await.status, StatusCode::NOT_FOUND);
    let cases: i64 = sqlx::query_scalar("select count(*) from moderation_cases").fetch_one(&pool).await.unwrap();
    assert_eq!(cases, 0);
}

#[tokio::test]
async fn a_case_about_a_photo_of_a_deleted_account_says_the_photo_is_gone() {
    let ReportedPhoto { mut admin, pool, mut bob, photo, case, .. } = reported_photo([60, 60, 60]).await;
    bob.get("/settings/account/delete").await;
    let deleted = bob.post("/settings/account/delete", &[("password", crate::support::PASSWORD)]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.text(".field-error, .error-page"));
    // A deleted account's photos go with it, reported or not; the case page says so and
    // offers nothing to remove.
    assert!(!photo_stored(&pool, photo).await);
    let page = admin.get(&format!("/admin/reports/{case}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text(".case-photo"), "No longer stored: the account was deleted.");
    assert!(!page.texts("button").contains(&"Remove this photo".to_owned()));
}

#[tokio::test]
async fn only_admins_remove_photos_and_allow_uploads() {
    let (admin, _) = site().await;
    let pool = admin.pool.clone();
    let (mut bob, bob_id) = join(&admin, "bob").await;
    let (mut cleo, _) = join(&admin, "cleo").await;
    let photo = upload_photo(&mut bob, bob_id, [0, 100, 0]).await;
    assert_eq!(report_photo(&mut cleo, bob_id, photo).await.status, StatusCode::SEE_OTHER);
    let (case, ..) = the_case(&pool).await;
    sqlx::query("update members set photo_removals = 2 where id = $1").bind(bob_id).execute(&pool).await.unwrap();
    let photo = photo.to_string();
    for (path, fields) in [
        ("/admin/members/bob/photo/remove".to_owned(), vec![("photo", photo.as_str()), ("photo_reason", "Mine.")]),
        ("/admin/members/bob/photo/allow".to_owned(), vec![("allow_reason", "Let me.")]),
        (format!("/admin/reports/{case}/remove-photo"), vec![("photo_reason", "Mine.")]),
    ] {
        for client in [&mut bob, &mut cleo] {
            let page = client.post(&path, &fields).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    assert_eq!(current_photo(&pool, bob_id).await, Some(photo.parse().unwrap()));
    assert_eq!(removals(&pool, bob_id).await, 2);
    assert!(audit(&pool).await.is_empty());
}

#[tokio::test]
async fn uploads_are_allowed_again_from_the_command_line_too() {
    let (mut admin, _) = site().await;
    let pool = admin.pool.clone();
    let (mut bob, bob_id) = join(&admin, "bob").await;
    for colour in [[1, 1, 1], [2, 2, 2]] {
        let photo = upload_photo(&mut bob, bob_id, colour).await;
        assert_eq!(remove_from_member_page(&mut admin, "bob", photo, "Not you.").await.status, StatusCode::SEE_OTHER);
    }
    let name: String = sqlx::query_scalar("select current_database()").fetch_one(&pool).await.unwrap();
    let cuppa = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cuppa"))
            .args(args)
            .env("DATABASE_URL", crate::support::database_url(&name))
            .env("USER", "ops_person")
            .output()
            .expect("cuppa runs")
    };
    let output = cuppa(&["admin", "allow-photos", "bob", "--reason", "Appealed by email"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("bob can upload photos again"));
    assert_eq!(removals(&pool, bob_id).await, 0);
    // Once is enough: a second time says why it does nothing.
    let again = cuppa(&["admin", "allow-photos", "bob", "--reason", "Again"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("can already upload photos"));

    // The audit log names both kinds, filtered by kind.
    let removed = admin.get("/admin/audit?kind=remove_photo").await;
    assert_eq!(removed.texts("tbody tr").len(), 2);
    let allowed = admin.get("/admin/audit?kind=allow_photos").await.texts("tbody tr");
    assert_eq!(allowed.len(), 1, "{allowed:?}");
    assert!(
        allowed[0].contains("command line (ops_person)") && allowed[0].contains("Appealed by email"),
        "{allowed:?}"
    );
    upload_photo(&mut bob, bob_id, [3, 3, 3]).await;
}

/// The demo seed's portraits: a photo row of nobody's (`member_id` null) that several members
/// show. A report's address names the member it was seen on, and the case is about them.
#[tokio::test]
async fn a_shared_seed_portrait_is_reported_as_the_photo_of_the_member_it_was_seen_on() {
    let (admin, _) = site().await;
    let pool = admin.pool.clone();
    let (mut ann, ann_id) = join(&admin, "ann").await;
    let (_, bob_id) = join(&admin, "bob").await;
    let (mut wren, _) = join(&admin, "wrenfield").await;
    let portrait: i64 = sqlx::query_scalar(
        "insert into photos (member_id, small, large) values (null, '\\xffd8', '\\xffd8') returning id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query("update members set photo_id = $1 where id = any($2)")
        .bind(portrait)
        .bind(vec![ann_id, bob_id])
        .execute(&pool)
        .await
        .unwrap();

    // Bob's profile links to Bob's report, and the form names Bob.
    assert_eq!(wren.get("/m/bob").await.attrs(".report-photo a", "href"), [report_path(bob_id, portrait)]);
    let form = wren.get(&report_path(bob_id, portrait)).await;
    assert!(form.text("main").contains("the photo of bob (@bob)"), "{}", form.text("main"));
    // Ann shows the same portrait: hers is her own, Bob's she may report.
    assert_eq!(ann.get(&report_path(ann_id, portrait)).await.status, StatusCode::CONFLICT);
    let filed = report_photo(&mut ann, bob_id, portrait).await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.text(".field-error, .error-page"));
    let (_, kind, target, subject, _) = the_case(&pool).await;
    assert_eq!((kind.as_str(), target, subject), ("photo", portrait, Some(bob_id)));
    assert_eq!(report_photo(&mut wren, bob_id, portrait).await.status, StatusCode::SEE_OTHER);
    let (_, _, _, subject, _) = the_case(&pool).await;
    assert_eq!(subject, Some(bob_id), "one case, still about Bob");
}

#[tokio::test]
async fn a_photo_still_shown_after_its_case_closed_can_be_removed_and_the_page_says_the_case_is_closed() {
    let ReportedPhoto { mut admin, pool, bob_id, photo, case, .. } = reported_photo([120, 40, 160]).await;
    let page = admin.get(&format!("/admin/reports/{case}")).await;
    let seen = page.value("input[name=seen]").unwrap();
    let dismissed =
        admin.post(&format!("/admin/reports/{case}/dismiss"), &[("outcome", "Looks fine."), ("seen", &seen)]).await;
    assert_eq!(dismissed.status, StatusCode::SEE_OTHER);

    // Still Bob's, so still removable, and nothing says the case stays open.
    let page = admin.get(&format!("/admin/reports/{case}")).await;
    let hint = page.text("#photo_reason-hint");
    assert!(hint.ends_with("This case is closed already: its reporters are not told."), "{hint}");
    assert!(!page.body.contains("The case stays open"));
    let removed = admin.post(&format!("/admin/reports/{case}/remove-photo"), &[("photo_reason", "Seen again.")]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.text(".error-page"));
    let flash = admin.get(&format!("/admin/reports/{case}")).await.text(".flash");
    assert!(flash.ends_with("This case is closed already: its reporters are not told."), "{flash}");
    assert!(!flash.contains("Resolve the case"), "{flash}");
    // No open case keeps it.
    assert_eq!(current_photo(&pool, bob_id).await, None);
    assert!(!photo_stored(&pool, photo).await);
}

/// A report of a photo filed while an admin closes that photo's case. `decide` locks the case,
/// then the photo (`forget`); filing takes them in the same order, so it waits for the
/// decision and opens a new case, rather than one side dying in a deadlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_filed_while_its_photos_case_is_closed_waits_and_opens_a_new_case() {
    let ReportedPhoto { admin, admin_id, pool, bob_id, photo, case, .. } = reported_photo([10, 200, 200]).await;
    let (mut cleo, _) = join(&admin, "cleo").await;

    // The decision, as `decide` runs it, up to the case's lock.
    let mut decision = pool.begin().await.unwrap();
    assert!(cuppa::moderation::report_store::lock_case(&mut decision, case).await.unwrap().is_some());
    let path = report_path(bob_id, photo);
    cleo.get(&path).await;
    let filing = tokio::spawn(async move { cleo.post(&path, &[("category", "spam"), ("details", "")]).await });
    // Long enough for the filing to reach the case's lock.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!filing.is_finished(), "the report waits for the decision");
    let closed = cuppa::moderation::report_store::close_case(
        &mut decision,
        case,
        cuppa::moderation::report_model::CaseStatus::Dismissed,
        admin_id,
        "Nothing wrong.",
    )
    .await
    .unwrap();
    assert!(closed);
    // The photo is still Bob's: kept, but locked as `decide` does.
    assert!(!cuppa::photos::store::forget(&mut decision, photo).await.unwrap());
    decision.commit().await.unwrap();

    let filed = filing.await.unwrap();
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.text(".error-page"));
    let cases: Vec<(i64, String)> =
        sqlx::query_as("select id, status::text from moderation_cases order by id").fetch_all(&pool).await.unwrap();
    assert_eq!(cases.len(), 2, "{cases:?}");
    assert_eq!(cases[0], (case, "dismissed".to_owned()));
    assert_eq!(cases[1].1, "open");
}
