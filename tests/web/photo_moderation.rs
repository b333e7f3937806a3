//! Photos under moderation (issue 13): an admin removes a member's photo with a reason, from
//! the member's admin page or from a report's case; the member is told why; a second removal
//! stops their uploads until an admin allows them again; photos are reported like profiles,
//! only by someone who can see them; and a reported photo outlives its replacement until its
//! case closes.

use axum::http::StatusCode;
use sqlx::PgPool;

use crate::moderation::{join, notifications_of, site};
use crate::support::{Client, Page};

/// A real PNG of one colour, as a member's camera might send.
fn png(colour: [u8; 3]) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(200, 200, image::Rgb(colour));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image).write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Uploads a photo as `client`'s member, through the page, and gives its id.
async fn upload_photo(client: &mut Client, member: i64, colour: [u8; 3]) -> i64 {
    client.get("/settings/photo").await;
    let page = client.upload("/settings/photo", "me.png", &png(colour)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text(".field-error, .error-page"));
    current_photo(&client.pool, member).await.expect("the upload is the member's photo")
}

async fn current_photo(pool: &PgPool, member: i64) -> Option<i64> {
    sqlx::query_scalar("select photo_id from members where id = $1").bind(member).fetch_one(pool).await.unwrap()
}

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
    assert!(
        text.contains("Still not you.") && text.contains("cannot upload another until an admin allows it"),
        "{text}"
    );
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

/// Files a report of `photo` as `client`.
async fn report_photo(client: &mut Client, photo: i64) -> Page {
    let path = format!("/report/photo/{photo}");
    client.get(&path).await;
    client.post(&path, &[("category", "impersonation"), ("details", "That is my face.")]).await
}

async fn the_case(pool: &PgPool) -> (i64, String, i64, Option<i64>, String) {
    sqlx::query_as("select id, target_kind::text, target_id, subject_id, status::text from moderation_cases")
        .fetch_one(pool)
        .await
        .unwrap()
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
    assert_eq!(profile.attrs(".report-photo a", "href"), [format!("/report/photo/{photo}")]);
    assert!(bob.get("/m/bob").await.attrs(".report-photo a", "href").is_empty());
    let form = wren.get(&format!("/report/photo/{photo}")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text("main").contains("the photo of bob (@bob)"), "{}", form.text("main"));
    assert_eq!(form.attrs("main img", "src"), [format!("/photos/{bob_id}/{photo}-96.jpg")]);

    let filed = report_photo(&mut wren, photo).await;
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
    let (mut admin, _) = site().await;
    let pool = admin.pool.clone();
    let (mut bob, bob_id) = join(&admin, "bob").await;
    let (mut wren, _) = join(&admin, "wrenfield").await;
    let reported = upload_photo(&mut bob, bob_id, [200, 200, 200]).await;
    assert_eq!(report_photo(&mut wren, reported).await.status, StatusCode::SEE_OTHER);
    let (case, ..) = the_case(&pool).await;
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
    let (mut cleo, _) = join(&admin, "cleo").await;
    let (mut wren, _) = join(&admin, "wrenfield").await;
    let old = upload_photo(&mut bob, bob_id, [5, 5, 5]).await;
    let photo = upload_photo(&mut bob, bob_id, [250, 5, 5]).await;
    assert_eq!(wren.get(&format!("/report/photo/{photo}")).await.status, StatusCode::OK);

    // A photo Bob replaced, one that never existed, and a path that is not an id: 404.
    for path in [format!("/report/photo/{old}"), format!("/report/photo/{}", photo + 100), "/report/photo/x".into()] {
        assert_eq!(wren.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    // Bob cannot report his own.
    assert_eq!(bob.get(&format!("/report/photo/{photo}")).await.status, StatusCode::CONFLICT);
    // Bob blocked Cleo: she cannot see his photo, nor report it (the form or a post).
    bob.get("/m/cleo").await;
    assert_eq!(bob.post("/m/cleo/block", &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(cleo.get(&format!("/report/photo/{photo}")).await.status, StatusCode::NOT_FOUND);
    cleo.get("/settings/reports").await;
    let post = cleo.post(&format!("/report/photo/{photo}"), &[("category", "spam"), ("details", "")]).await;
    assert_eq!(post.status, StatusCode::NOT_FOUND);
    // Wren blocked Bob herself: she can still report what she saw, as with a profile.
    wren.get("/m/bob").await;
    assert_eq!(wren.post("/m/bob/block", &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(wren.get(&format!("/report/photo/{photo}")).await.status, StatusCode::OK);
    // A hidden member's photo is nobody's to see.
    sqlx::query("update members set status = 'hidden' where id = $1").bind(bob_id).execute(&pool).await.unwrap();
    assert_eq!(wren.get(&format!("/report/photo/{photo}")).await.status, StatusCode::NOT_FOUND);
    let cases: i64 = sqlx::query_scalar("select count(*) from moderation_cases").fetch_one(&pool).await.unwrap();
    assert_eq!(cases, 0);
}

#[tokio::test]
async fn a_case_about_a_photo_of_a_deleted_account_says_the_photo_is_gone() {
    let (mut admin, _) = site().await;
    let pool = admin.pool.clone();
    let (mut bob, bob_id) = join(&admin, "bob").await;
    let (mut wren, _) = join(&admin, "wrenfield").await;
    let photo = upload_photo(&mut bob, bob_id, [60, 60, 60]).await;
    assert_eq!(report_photo(&mut wren, photo).await.status, StatusCode::SEE_OTHER);
    let (case, ..) = the_case(&pool).await;
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
    assert_eq!(report_photo(&mut cleo, photo).await.status, StatusCode::SEE_OTHER);
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
