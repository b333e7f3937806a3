//! Profile photos: uploading (each format, and every way a file can fail to be a photo), what is
//! stored (two square JPEGs with nothing of the file's metadata), serving (cache headers, a URL
//! that changes with the photo, 404 wherever the member may not be seen), removal, the limit
//! after admins' removals, and what an account deletion and the export do with photos.

use std::io::Cursor;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cuppa::photos::model::{Size, url};
use image::{DynamicImage, GenericImageView, ImageDecoder, ImageFormat, RgbImage};
use sqlx::PgPool;

use crate::support::{Client, PASSWORD, Page, current_photo, test_state, upload_photo};

/// A `width` x `height` image in `format`, with a pattern so no two rows look alike.
fn image_file(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
    let pixels = RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(pixels).write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn jpeg(side: u32) -> Vec<u8> {
    image_file(ImageFormat::Jpeg, side, side)
}

async fn upload(client: &mut Client, filename: &str, bytes: &[u8]) -> Page {
    client.upload("/settings/photo", filename, bytes).await
}

async fn stored(pool: &PgPool, photo: i64) -> (Vec<u8>, Vec<u8>) {
    sqlx::query_as("select small, large from photos where id = $1").bind(photo).fetch_one(pool).await.unwrap()
}

async fn photo_rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from photos").fetch_one(pool).await.unwrap()
}

async fn set_status(pool: &PgPool, member: i64, status: &str) {
    sqlx::query("update members set status = $2::member_status where id = $1")
        .bind(member)
        .bind(status)
        .execute(pool)
        .await
        .unwrap();
}

fn header<'a>(page: &'a Page, name: &str) -> &'a str {
    page.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn the_photo_page_shows_the_limits_and_a_form_that_works_without_javascript() {
    let mut ann = Client::new().await;
    let id = ann.sign_up("ann").await;
    let page = ann.get("/settings/photo").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.attrs("nav.tabs a[aria-current=page]", "href"), ["/settings/photo"]);
    assert_eq!(page.attrs("form[enctype='multipart/form-data']", "action"), ["/settings/photo"]);
    // The token is the form's first field: the CSRF check reads only the start of an upload.
    assert_eq!(page.attrs("form[enctype='multipart/form-data'] input:first-child", "name"), ["csrf_token"]);
    assert_eq!(page.attrs("input#file[type=file][name=file]", "accept"), ["image/jpeg,image/png,image/webp"]);
    assert_eq!(page.text("label[for=file]"), "Photo");
    let hint = page.text("#file-hint");
    assert!(hint.contains("JPEG, PNG or WebP, up to 8 MB, at least 96 by 96 pixels"), "{hint}");
    // No photo yet: the initial, and nothing to remove.
    assert_eq!(page.text("span.avatar"), "a");
    assert!(page.attrs("form", "action").iter().all(|action| action != "/settings/photo/remove"));

    let photo = upload_photo(&mut ann, id, [90, 90, 90]).await;
    let page = ann.get("/settings/photo").await;
    assert_eq!(page.text(".flash"), "Your photo is up.");
    let large = url(id, photo, Size::Large);
    assert_eq!(page.attrs("img.avatar", "src"), [large.as_str()]);
    assert_eq!(page.attrs("img.avatar", "alt"), ["ann"]);
    assert!(!page.attrs("img.avatar", "width").is_empty() && !page.attrs("img.avatar", "height").is_empty());
    assert!(page.attrs("form", "action").iter().any(|action| action == "/settings/photo/remove"));
    assert_eq!(page.text("form[enctype='multipart/form-data'] button"), "Replace photo");
}

#[tokio::test]
async fn each_format_is_stored_as_a_square_jpeg_in_two_sizes_and_a_new_one_replaces_the_last() {
    let mut ann = Client::new().await;
    let id = ann.sign_up("ann").await;
    let mut seen = Vec::new();
    for (format, name) in [(ImageFormat::Jpeg, "a.jpg"), (ImageFormat::Png, "a.png"), (ImageFormat::WebP, "a.webp")] {
        let page = upload(&mut ann, name, &image_file(format, 640, 400)).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{format:?}: {}", page.text(".field-error"));
        assert_eq!(page.location(), "/settings/photo");
        let photo = current_photo(&ann.pool, id).await.expect("a photo");
        let (small, large) = stored(&ann.pool, photo).await;
        for (bytes, side) in [(small, 96), (large, 384)] {
            let back = image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg).expect("a JPEG");
            assert_eq!(back.dimensions(), (side, side), "{format:?}");
        }
        assert!(!seen.contains(&photo), "each upload is a new version");
        seen.push(photo);
        // The one it replaced is gone.
        assert_eq!(photo_rows(&ann.pool).await, 1);
    }
    assert_eq!(ann.get("/settings/photo").await.text(".flash"), "Your new photo is up.");
}

/// A valid PNG of 2 x 2 pixels whose header then claims `side` x `side` pixels of `bits`-bit
/// RGBA, its CRC made right: a file of a few bytes that would decode to side² x bits/2 bytes.
fn decompression_bomb(side: u32, bits: u8) -> Vec<u8> {
    let mut png = image_file(ImageFormat::Png, 2, 2);
    // IHDR's width and height sit at bytes 16..24, then the bit depth and the colour type (6:
    // RGBA); its CRC (over type and data) at 29..33.
    png[16..20].copy_from_slice(&side.to_be_bytes());
    png[20..24].copy_from_slice(&side.to_be_bytes());
    png[24] = bits;
    png[25] = 6;
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// PNG's CRC-32 (the reflected 0xEDB88320 polynomial), bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[tokio::test]
async fn what_is_not_a_usable_photo_is_refused_on_the_page_with_the_reason() {
    let mut ann = Client::new().await;
    let id = ann.sign_up("ann").await;
    let whole = jpeg(300);
    let truncated = whole[..whole.len() * 2 / 3].to_vec();
    let cases: [(&str, Vec<u8>, &str); 7] = [
        ("photo.jpg", b"I am only text, whatever my name says.\n".to_vec(), "not a JPEG, PNG or WebP image"),
        ("huge.jpg", vec![0xFF; 9 * 1024 * 1024], "larger than 8 MB"),
        ("bomb.png", decompression_bomb(50_000, 8), "too many pixels"),
        // Within the sides allowed, but 648 MB of pixels.
        ("deep.png", decompression_bomb(9_000, 16), "too many pixels"),
        ("cut.jpg", truncated, "damaged or cut off"),
        ("tiny.png", image_file(ImageFormat::Png, 40, 40), "too small"),
        // What a browser sends when no file was chosen.
        ("", Vec::new(), "choose a photo"),
    ];
    for (name, bytes, reason) in cases {
        let page = upload(&mut ann, name, &bytes).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let error = page.text("#file-error");
        assert!(error.contains(reason), "{name}: {error}");
        // The page comes back with its form, ready for another file.
        assert_eq!(page.attrs("input[type=file]", "name"), ["file"], "{name}");
        assert_eq!(page.attrs("input#file", "aria-invalid"), ["true"], "{name}");
    }
    assert_eq!(current_photo(&ann.pool, id).await, None);
    assert_eq!(photo_rows(&ann.pool).await, 0);
}

/// A PNG of `side` x `side` pixels of noise, which does not compress: 3 bytes a pixel.
fn noise_png(side: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let pixels = RgbImage::from_fn(side, side, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let [r, g, b, ..] = state.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(pixels).write_to(&mut out, ImageFormat::Png).unwrap();
    let png = out.into_inner();
    assert!(png.len() > 2 * 1024 * 1024, "{} bytes", png.len());
    png
}

/// Probe routes behind the real layers: one that reads its body with axum's default limit.
fn probe_router(pool: &PgPool) -> Router {
    let routes =
        Router::new().route("/probe/echo", axum::routing::post(|body: String| async move { body.len().to_string() }));
    cuppa::with_layers(routes, test_state(pool.clone()))
}

#[tokio::test]
async fn only_the_upload_takes_more_than_two_megabytes() {
    let mut ann = Client::new().await;
    ann.sign_up("ann").await;
    let token = {
        ann.get("/settings/profile").await;
        ann.csrf.clone().unwrap()
    };
    let mut probe = Client::with_router(ann.pool.clone(), probe_router(&ann.pool));
    probe.cookies = ann.cookies.clone();
    let echo = |size: usize| {
        Request::post("/probe/echo")
            .header("x-csrf-token", token.as_str())
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("x".repeat(size)))
            .unwrap()
    };
    // Other routes keep axum's default limit, under the raised outer one.
    assert_eq!(probe.send(echo(1024 * 1024)).await.status, StatusCode::OK);
    assert_eq!(probe.send(echo(3 * 1024 * 1024)).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    // A form of 3 MB is refused, and nothing changes.
    let bio = "b".repeat(3 * 1024 * 1024);
    let page = ann
        .post(
            "/settings/profile",
            &[("display_name", "Ann"), ("bio", &bio), ("city", ""), ("time_zone", "UTC"), ("interests", "")],
        )
        .await;
    assert!(page.status.is_client_error(), "{}", page.status);
    let stored: String =
        sqlx::query_scalar("select bio from members where handle = 'ann'").fetch_one(&ann.pool).await.unwrap();
    assert_eq!(stored, "");
    // The upload takes a photo past 2 MB...
    let page = upload(&mut ann, "noise.png", &noise_png(1000)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text(".field-error"));
    // ...reads a file of 9 MB far enough to say on its page that it is too large...
    let page = upload(&mut ann, "big.jpg", &vec![0xFF; 9 * 1024 * 1024]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text("#file-error").contains("larger than 8 MB"));
    // ...and past the outer limit, the body is refused unread.
    let page = upload(&mut ann, "bigger.jpg", &vec![0xFF; 17 * 1024 * 1024]).await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(photo_rows(&ann.pool).await, 1, "the photo of noise, and nothing else");
}

/// A phone's JPEG: an EXIF block (APP1), written byte by byte (big-endian TIFF), whose GPS
/// directory places it at 51°30'26.47"N 0°7'39.93"W and whose orientation says "turn a
/// quarter clockwise to show" (6). The pixels as stored are 400 x 300, red on the left half
/// and blue on the right, so upright the photo is red above blue.
fn jpeg_with_gps() -> (Vec<u8>, Vec<u8>) {
    let rational = |n: u32, d: u32| [n.to_be_bytes(), d.to_be_bytes()].concat();
    let entry = |tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        [&tag.to_be_bytes()[..], &kind.to_be_bytes(), &count.to_be_bytes(), &value].concat()
    };
    // TIFF header (8), IFD0 with two entries (2 + 24 + 4) at 8, the GPS IFD at 38 with four
    // entries (2 + 48 + 4), then the two coordinates' rationals at 92 and 116.
    let gps_ifd = 38u32;
    let (latitude_at, longitude_at) = (92u32, 116u32);
    let mut tiff = b"MM\x00\x2a".to_vec();
    tiff.extend(8u32.to_be_bytes());
    tiff.extend(2u16.to_be_bytes());
    tiff.extend(entry(0x0112, 3, 1, [0, 6, 0, 0])); // Orientation: turn 90° clockwise to show
    tiff.extend(entry(0x8825, 4, 1, gps_ifd.to_be_bytes())); // GPSInfo: where the GPS IFD is
    tiff.extend(0u32.to_be_bytes());
    tiff.extend(4u16.to_be_bytes());
    tiff.extend(entry(0x0001, 2, 2, *b"N\0\0\0")); // GPSLatitudeRef
    tiff.extend(entry(0x0002, 5, 3, latitude_at.to_be_bytes())); // GPSLatitude
    tiff.extend(entry(0x0003, 2, 2, *b"W\0\0\0")); // GPSLongitudeRef
    tiff.extend(entry(0x0004, 5, 3, longitude_at.to_be_bytes())); // GPSLongitude
    tiff.extend(0u32.to_be_bytes());
    let gps: Vec<u8> = [rational(51, 1), rational(30, 1), rational(2647, 100)].concat();
    tiff.extend(&gps);
    tiff.extend([rational(0, 1), rational(7, 1), rational(3993, 100)].concat());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(&tiff);
    let halves = RgbImage::from_fn(400, 300, |x, _| image::Rgb(if x < 200 { [220, 20, 20] } else { [20, 20, 220] }));
    let mut file = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(halves).write_to(&mut file, ImageFormat::Jpeg).unwrap();
    let file = file.into_inner();
    let mut segment = vec![0xFF, 0xE1];
    segment.extend(u16::try_from(app1.len() + 2).unwrap().to_be_bytes());
    segment.extend(&app1);
    // Right after the start-of-image marker, where cameras put it.
    let mut with_exif = file[..2].to_vec();
    with_exif.extend(segment);
    with_exif.extend(&file[2..]);
    (with_exif, gps)
}

fn exif_of(jpeg: &[u8]) -> Option<Vec<u8>> {
    let mut decoder = image::codecs::jpeg::JpegDecoder::new(Cursor::new(jpeg)).unwrap();
    decoder.exif_metadata().unwrap()
}

#[tokio::test]
async fn a_photos_location_and_other_metadata_are_not_stored_and_it_is_turned_upright() {
    let (file, gps) = jpeg_with_gps();
    // The file really carries it, as a decoder reads it.
    let exif = exif_of(&file).expect("the upload has EXIF");
    assert!(exif.windows(gps.len()).any(|w| w == gps.as_slice()));

    let mut ann = Client::new().await;
    let id = ann.sign_up("ann").await;
    let page = upload(&mut ann, "holiday.jpg", &file).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text(".field-error"));
    let (small, large) = stored(&ann.pool, current_photo(&ann.pool, id).await.unwrap()).await;
    for bytes in [&small, &large] {
        assert_eq!(exif_of(bytes), None);
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(!contains(b"Exif"));
        assert!(!contains(&gps), "the latitude's bytes");
        assert!(!contains(&[0x88, 0x25, 0x00, 0x04]), "the GPS directory's tag");
    }
    // No orientation is stored, so the turn was made in the pixels: red above, blue below.
    let upright = image::load_from_memory(&large).unwrap().to_rgb8();
    let (top, bottom) = (upright.get_pixel(192, 20).0, upright.get_pixel(192, 364).0);
    assert!(top[0] > 150 && top[2] < 90, "top {top:?}");
    assert!(bottom[2] > 150 && bottom[0] < 90, "bottom {bottom:?}");
}

#[tokio::test]
async fn a_photo_is_cached_for_good_at_a_url_that_changes_with_it() {
    let mut ann = Client::new().await;
    let id = ann.sign_up("ann").await;
    let first = upload_photo(&mut ann, id, [90, 90, 90]).await;
    let (small, _) = stored(&ann.pool, first).await;

    let page = ann.get(&url(id, first, Size::Small)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(header(&page, "content-type"), "image/jpeg");
    assert_eq!(header(&page, "cache-control"), "public, max-age=31536000, immutable");
    let etag = format!("\"{first}-96\"");
    assert_eq!(header(&page, "etag"), etag);
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    assert!(header(&page, "vary").to_ascii_lowercase().contains("cookie"));
    assert!(!header(&page, "content-security-policy").contains("data:"));
    // The stored JPEG (`Page` holds the body as text, lossily: compared the same way).
    assert_eq!(page.body, String::from_utf8_lossy(&small));

    let again =
        Request::get(url(id, first, Size::Small)).header(header::IF_NONE_MATCH, &etag).body(Body::empty()).unwrap();
    let page = ann.send(again).await;
    assert_eq!(page.status, StatusCode::NOT_MODIFIED);
    assert!(page.body.is_empty());
    assert_eq!(header(&page, "etag"), etag);
    let large = ann.get(&url(id, first, Size::Large)).await;
    assert_eq!((large.status, header(&large, "etag")), (StatusCode::OK, format!("\"{first}-384\"").as_str()));

    let second = upload_photo(&mut ann, id, [90, 90, 90]).await;
    assert_ne!(url(id, second, Size::Small), url(id, first, Size::Small));
    assert_eq!(ann.get(&url(id, second, Size::Small)).await.status, StatusCode::OK);
    let old = ann.get(&url(id, first, Size::Small)).await;
    assert_eq!(old.status, StatusCode::NOT_FOUND);
    assert_eq!(old.text("h1"), "Page not found");
    // A browser's copy of the old one is not confirmed either.
    let again =
        Request::get(url(id, first, Size::Small)).header(header::IF_NONE_MATCH, &etag).body(Body::empty()).unwrap();
    assert_eq!(ann.send(again).await.status, StatusCode::NOT_FOUND);

    // Anything but a photo's own name is nothing.
    for path in [
        format!("/photos/{id}/{second}-97.jpg"),
        format!("/photos/{id}/{second}-96.png"),
        format!("/photos/{id}/+{second}-96.jpg"),
        format!("/photos/+{id}/{second}-96.jpg"),
        format!("/photos/ann/{second}-96.jpg"),
        format!("/photos/{}/{second}-96.jpg", id + 1),
    ] {
        assert_eq!(ann.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn a_logged_out_visitor_sees_no_photo_and_gets_no_session() {
    let mut ann = Client::new().await;
    let id = ann.sign_up("ann").await;
    let photo = upload_photo(&mut ann, id, [90, 90, 90]).await;
    let sessions = "select count(*) from sessions";
    let before: i64 = sqlx::query_scalar(sessions).fetch_one(&ann.pool).await.unwrap();
    let mut visitor = ann.another();
    // Profiles are for members; and a member blocked by Ann could otherwise log out to look.
    let page = visitor.get(&url(id, photo, Size::Large)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.has_set_cookie());
    let after: i64 = sqlx::query_scalar(sessions).fetch_one(&ann.pool).await.unwrap();
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_photo_request_never_writes_the_session_so_its_answer_stays_shareable() {
    let mut ann = Client::new().await;
    let id = ann.sign_up("ann").await;
    let photo = upload_photo(&mut ann, id, [90, 90, 90]).await;
    // Last extended long ago: a page view now would extend the session and set the cookie.
    // A public, year-long answer must never carry a cookie, so a photo only reads the session.
    sqlx::query("update sessions set data = data || '{\"seen_on\": 1}' where data ? 'member_id'")
        .execute(&ann.pool)
        .await
        .unwrap();
    let before: serde_json::Value = sqlx::query_scalar("select data from sessions where member_id = $1")
        .bind(id)
        .fetch_one(&ann.pool)
        .await
        .unwrap();
    let page = ann.get(&url(id, photo, Size::Small)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.has_set_cookie());
    assert_eq!(header(&page, "cache-control"), "public, max-age=31536000, immutable");
    let after: serde_json::Value = sqlx::query_scalar("select data from sessions where member_id = $1")
        .bind(id)
        .fetch_one(&ann.pool)
        .await
        .unwrap();
    assert_eq!(before, after);
    // A page view is what extends it.
    assert!(ann.get("/").await.has_set_cookie());
}

#[tokio::test]
async fn a_photo_is_not_found_across_a_block_or_for_a_hidden_or_suspended_member() {
    let mut ann = Client::new().await;
    let ann_id = ann.sign_up("ann").await;
    let mut bob = ann.another();
    bob.sign_up("bob").await;
    let mut visitor = ann.another();
    let photo = upload_photo(&mut ann, ann_id, [90, 90, 90]).await;
    let path = url(ann_id, photo, Size::Small);
    assert_eq!(bob.get(&path).await.status, StatusCode::OK);

    // A block either way: the other sees nothing, the owner still sees their own.
    for (blocker, blocked) in [("bob", "ann"), ("ann", "bob")] {
        let (by, of) = if blocker == "bob" { (&mut bob, blocked) } else { (&mut ann, blocked) };
        assert_eq!(by.post(&format!("/m/{of}/block"), &[]).await.status, StatusCode::SEE_OTHER);
        assert_eq!(bob.get(&path).await.status, StatusCode::NOT_FOUND, "{blocker} blocked {blocked}");
        assert_eq!(ann.get(&path).await.status, StatusCode::OK);
        assert_eq!(visitor.get(&path).await.status, StatusCode::NOT_FOUND, "logged out, nobody sees it");
        let by = if blocker == "bob" { &mut bob } else { &mut ann };
        assert_eq!(by.post(&format!("/m/{of}/unblock"), &[]).await.status, StatusCode::SEE_OTHER);
        assert_eq!(bob.get(&path).await.status, StatusCode::OK);
    }

    // Hidden: nobody else sees it; the member still sees their own.
    set_status(&ann.pool, ann_id, "hidden").await;
    assert_eq!(bob.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(visitor.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(ann.get(&path).await.status, StatusCode::OK);
    assert_eq!(ann.get("/settings/photo").await.attrs("img.avatar", "src"), [url(ann_id, photo, Size::Large)]);

    set_status(&ann.pool, ann_id, "suspended").await;
    assert_eq!(bob.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(visitor.get(&path).await.status, StatusCode::NOT_FOUND);

    set_status(&ann.pool, ann_id, "active").await;
    assert_eq!(bob.get(&path).await.status, StatusCode::OK);
    // A suspended viewer's session still names them until a page logs them out: no photos.
    let bob_id: i64 =
        sqlx::query_scalar("select id from members where handle = 'bob'").fetch_one(&ann.pool).await.unwrap();
    set_status(&ann.pool, bob_id, "suspended").await;
    assert_eq!(bob.get(&path).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_removed_photo_is_gone_and_the_initial_shows_again() {
    let mut ann = Client::new().await;
    let id = ann.sign_up("ann").await;
    let photo = upload_photo(&mut ann, id, [90, 90, 90]).await;
    let mut bob = ann.another();
    bob.sign_up("bob").await;
    let page = ann.post("/settings/photo/remove", &[]).await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/settings/photo"));
    let page = ann.get("/settings/photo").await;
    assert!(page.text(".flash").contains("Your photo is removed"));
    assert_eq!(page.text("span.avatar"), "a");
    assert!(page.attrs("img.avatar", "src").is_empty());
    assert_eq!(current_photo(&ann.pool, id).await, None);
    assert_eq!(photo_rows(&ann.pool).await, 0);
    for size in [Size::Small, Size::Large] {
        assert_eq!(bob.get(&url(id, photo, size)).await.status, StatusCode::NOT_FOUND);
        assert_eq!(ann.get(&url(id, photo, size)).await.status, StatusCode::NOT_FOUND);
    }
    // Removing again changes nothing, and says so.
    ann.post("/settings/photo/remove", &[]).await;
    assert!(ann.get("/settings/photo").await.text(".flash").contains("no photo to remove"));
}

#[tokio::test]
async fn a_reported_photo_is_kept_for_admins_until_its_case_is_closed() {
    let mut ann = Client::new().await;
    let id = ann.sign_up("ann").await;
    let mut admin = ann.another();
    let admin_id = admin.sign_up("root").await;
    sqlx::query("update members set role = 'admin' where id = $1").bind(admin_id).execute(&ann.pool).await.unwrap();
    let reported = upload_photo(&mut ann, id, [90, 90, 90]).await;
    let case: i64 = sqlx::query_scalar(
        "insert into moderation_cases (target_kind, target_id, subject_id) values ('photo', $1, $2) returning id",
    )
    .bind(reported)
    .bind(id)
    .fetch_one(&ann.pool)
    .await
    .unwrap();
    // Replaced: gone for everyone, but kept for the case.
    let current = upload_photo(&mut ann, id, [90, 90, 90]).await;
    assert_eq!(ann.get(&url(id, reported, Size::Large)).await.status, StatusCode::NOT_FOUND);
    let shown = admin.get(&format!("/admin/photos/{reported}-384.jpg")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(header(&shown, "content-type"), "image/jpeg");
    assert_eq!(header(&shown, "cache-control"), "private, no-store");
    assert_eq!(ann.get(&format!("/admin/photos/{reported}-384.jpg")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(admin.get(&format!("/admin/photos/{reported}-97.jpg")).await.status, StatusCode::NOT_FOUND);

    // Nothing deletes the current photo or one with an open case; closing the case lets it go.
    let mut conn = ann.pool.acquire().await.unwrap();
    assert!(!cuppa::photos::store::forget(&mut conn, current).await.unwrap());
    assert!(!cuppa::photos::store::forget(&mut conn, reported).await.unwrap());
    sqlx::query("update moderation_cases set status = 'dismissed', closed_at = now() where id = $1")
        .bind(case)
        .execute(&mut *conn)
        .await
        .unwrap();
    assert!(cuppa::photos::store::forget(&mut conn, reported).await.unwrap());
    drop(conn);
    assert_eq!(admin.get(&format!("/admin/photos/{reported}-384.jpg")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(admin.get(&format!("/admin/photos/{current}-96.jpg")).await.status, StatusCode::OK);
}

/// A report filed while its photo is being replaced: the report's lock comes first, so the
/// replacement must wait for the case and then keep the photo for it.
#[tokio::test]
async fn a_photo_reported_while_it_is_replaced_stays_for_its_case() {
    let mut ann = Client::new().await;
    let id = ann.sign_up("ann").await;
    let reported = upload_photo(&mut ann, id, [90, 90, 90]).await;
    let mut report = ann.pool.begin().await.unwrap();
    assert!(cuppa::moderation::report_store::lock_shown_photo(&mut report, reported).await.unwrap());
    // The replacement, as the upload runs it: the member's new photo, then the old one let go.
    let pool = ann.pool.clone();
    let replacing = tokio::spawn(async move {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("update members set photo_id = null where id = $1").bind(id).execute(&mut *tx).await.unwrap();
        let deleted = cuppa::photos::store::forget(&mut tx, reported).await.unwrap();
        tx.commit().await.unwrap();
        deleted
    });
    // Long enough for the replacement to reach the photo's lock, were it not waiting.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!replacing.is_finished(), "the replacement waits for the report");
    sqlx::query("insert into moderation_cases (target_kind, target_id, subject_id) values ('photo', $1, $2)")
        .bind(reported)
        .bind(id)
        .execute(&mut *report)
        .await
        .unwrap();
    report.commit().await.unwrap();
    assert!(!replacing.await.unwrap(), "the reported photo is kept for its case");
    assert_eq!(photo_rows(&ann.pool).await, 1);
}

#[tokio::test]
async fn a_member_whose_photo_admins_removed_twice_cannot_upload_until_allowed() {
    let mut ann = Client::new().await;
    let id = ann.sign_up("ann").await;
    sqlx::query("update members set photo_removals = 1 where id = $1").bind(id).execute(&ann.pool).await.unwrap();
    upload_photo(&mut ann, id, [90, 90, 90]).await;
    sqlx::query("update members set photo_removals = 2, photo_id = null where id = $1")
        .bind(id)
        .execute(&ann.pool)
        .await
        .unwrap();
    let page = ann.get("/settings/photo").await;
    assert!(page.text(".form-error").contains("cannot upload another until an admin allows it"));
    assert!(page.attrs("input[type=file]", "name").is_empty(), "no upload form");
    let page = upload(&mut ann, "again.jpg", &jpeg(200)).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.text(".form-error").contains("until an admin allows it"));
    assert_eq!(current_photo(&ann.pool, id).await, None);

    sqlx::query("update members set photo_removals = 0 where id = $1").bind(id).execute(&ann.pool).await.unwrap();
    upload_photo(&mut ann, id, [90, 90, 90]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_members_uploading_at_once_all_get_their_photos() {
    let site = Client::new().await;
    let mut members = Vec::new();
    for n in 0..10 {
        let mut client = site.another();
        let id = client.sign_up(&format!("member_{n}")).await;
        client.get("/settings/photo").await;
        members.push((client, id));
    }
    let mut uploads = tokio::task::JoinSet::new();
    for (n, (mut client, id)) in members.into_iter().enumerate() {
        let file = image_file(ImageFormat::Png, 300 + n as u32, 300);
        uploads.spawn(async move { (upload(&mut client, "me.png", &file).await.status, id) });
    }
    let mut ids = Vec::new();
    while let Some(done) = uploads.join_next().await {
        let (status, id) = done.unwrap();
        assert_eq!(status, StatusCode::SEE_OTHER);
        ids.push(id);
    }
    for id in ids {
        assert!(current_photo(&site.pool, id).await.is_some());
    }
    assert_eq!(photo_rows(&site.pool).await, 10);
}

#[tokio::test]
async fn a_deleted_account_takes_its_photos_with_it() {
    let mut ann = Client::new().await;
    let id = ann.sign_up("ann").await;
    let reported = upload_photo(&mut ann, id, [90, 90, 90]).await;
    sqlx::query("insert into moderation_cases (target_kind, target_id, subject_id) values ('photo', $1, $2)")
        .bind(reported)
        .bind(id)
        .execute(&ann.pool)
        .await
        .unwrap();
    let current = upload_photo(&mut ann, id, [90, 90, 90]).await;
    let mut bob = ann.another();
    bob.sign_up("bob").await;
    assert_eq!(photo_rows(&ann.pool).await, 2, "the reported one is kept while its case is open");

    ann.get("/settings/account/delete").await;
    let page = ann.post("/settings/account/delete", &[("password", PASSWORD)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(photo_rows(&ann.pool).await, 0);
    assert_eq!(current_photo(&ann.pool, id).await, None);
    assert_eq!(bob.get(&url(id, current, Size::Small)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_export_names_the_current_photo() {
    let mut ann = Client::new().await;
    let id = ann.sign_up("ann").await;
    let export = |client: &Client| {
        let pool = client.pool.clone();
        async move { serde_json::to_value(cuppa::auth::export::export(&pool, id).await.unwrap()).unwrap() }
    };
    assert_eq!(export(&ann).await["profile"]["photo"], serde_json::Value::Null);
    let photo = upload_photo(&mut ann, id, [90, 90, 90]).await;
    let page = ann.get("/settings/account/export").await;
    let file: serde_json::Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(file["profile"]["photo"], url(id, photo, Size::Large));
    assert_eq!(export(&ann).await["profile"]["photo"], url(id, photo, Size::Large));
}

/// Waits until a statement of this test's database waits for a row lock.
async fn until_one_waits_for_a_lock(pool: &PgPool) {
    for _ in 0..500 {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("nothing waited for a lock within 10 s");
}

/// Decoding an upload and waiting for the picture slot take seconds, in which the account may
/// be deleted or suspended: the upload reads the member's status again under their row's lock,
/// after the change, and stores nothing.
#[tokio::test]
async fn an_upload_ending_after_its_member_was_deleted_or_suspended_stores_nothing() {
    for (status, answer) in [("deleted", StatusCode::NOT_FOUND), ("suspended", StatusCode::FORBIDDEN)] {
        let mut ann = Client::new().await;
        let id = ann.sign_up("ann").await;
        ann.get("/settings/photo").await;
        let pool = ann.pool.clone();
        // The deletion or suspension, holding the member's row while the upload runs.
        let mut change = pool.begin().await.unwrap();
        sqlx::query("select id from members where id = $1 for update").bind(id).execute(&mut *change).await.unwrap();
        let uploading = tokio::spawn(async move { upload(&mut ann, "me.jpg", &jpeg(200)).await.status });
        until_one_waits_for_a_lock(&pool).await;
        sqlx::query("update members set status = $2::member_status where id = $1")
            .bind(id)
            .bind(status)
            .execute(&mut *change)
            .await
            .unwrap();
        change.commit().await.unwrap();
        assert_eq!(uploading.await.unwrap(), answer, "{status}");
        assert_eq!(current_photo(&pool, id).await, None, "{status}");
        assert_eq!(photo_rows(&pool).await, 0, "{status}");
    }
}

/// Uploads a file of `file_bytes` over a real socket to `addr`, as a browser does: the whole
/// body is sent before the answer is read. Returns the answer, asserting that the body went
/// out whole and the answer came back, with no reset on the way.
async fn upload_over_socket(addr: std::net::SocketAddr, client: &Client, file_bytes: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let token = client.csrf.clone().unwrap();
    let cookie = client.session_cookie().unwrap();
    let boundary = "cuppa-socket-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend(std::iter::repeat_n(0xFF, file_bytes));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let head = format!(
        "POST /settings/photo HTTP/1.1\r\nHost: localhost\r\nCookie: cuppa_session={cookie}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let (mut reader, mut writer) = tokio::net::TcpStream::connect(addr).await.unwrap().into_split();
    // The writing half comes back: dropped, it would half-close the connection, which no
    // browser does and after which the server answers nothing.
    let sending = tokio::spawn(async move {
        let sent = match writer.write_all(head.as_bytes()).await {
            Ok(()) => writer.write_all(&body).await,
            Err(err) => Err(err),
        };
        (sent, writer)
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(30), reader.read_to_end(&mut answer))
        .await
        .expect("an answer within 30 s");
    let (sent, _writer) = sending.await.unwrap();
    assert!(sent.is_ok(), "the whole file was sent: {sent:?}");
    assert!(read.is_ok(), "the answer was read, not reset: {read:?}");
    String::from_utf8_lossy(&answer).into_owned()
}

/// An upload refused before its file has all arrived (too large, or uploads not allowed) reads
/// the rest and drops it before the page is sent: the server would otherwise close the
/// connection under the browser, which then shows "connection reset", not the page. Over a
/// real socket: the in-process router reads nothing it is not asked to.
#[tokio::test]
async fn a_browser_sending_a_refused_file_reads_the_page_rather_than_a_reset() {
    let mut ann = Client::new().await;
    let id = ann.sign_up("ann").await;
    ann.get("/settings/photo").await;
    let (addr, stop, task) = crate::support::spawn_server(ann.router.clone(), std::time::Duration::from_secs(5)).await;
    // Well past 8 MB (what is left after it is more than the sockets' buffers take), and
    // under the route's body limit.
    let answer = upload_over_socket(addr, &ann, 15 * 1024 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 422"), "{}", answer.lines().next().unwrap_or_default());
    assert!(answer.contains("larger than 8 MB"));
    // Refused before any of it is read.
    sqlx::query("update members set photo_removals = 2 where id = $1").bind(id).execute(&ann.pool).await.unwrap();
    let answer = upload_over_socket(addr, &ann, 6 * 1024 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{}", answer.lines().next().unwrap_or_default());
    assert!(answer.contains("until an admin allows it"));
    assert_eq!(photo_rows(&ann.pool).await, 0);
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

/// Sending a file is part of an upload's time: both uploads get two minutes, every other
/// request 20 s (`web::timeout` is tested on its own).
#[test]
fn the_uploads_have_two_minutes_and_everything_else_twenty_seconds() {
    use cuppa::web::routes::{Method, Route};
    let routes = cuppa::routes();
    for path in ["/settings/photo", "/settings/import"] {
        assert!(routes.list().contains(&Route { method: Method::Post, path }), "{path} takes uploads");
        assert_eq!(cuppa::TIMEOUTS.limit_for(path).as_secs(), 120, "{path}");
    }
    for path in ["/settings/profile", "/photos/1/2-96.jpg", "/login"] {
        assert_eq!(cuppa::TIMEOUTS.limit_for(path).as_secs(), 20, "{path}");
    }
}
