//! Profile photos (issue 13). A member uploads one at `/settings/photo`: it is decoded for
//! real under limits, re-encoded (which drops EXIF, GPS and anything else the file carried)
//! and stored in two sizes in PostgreSQL, so every replica serves it with no shared disk. It is
//! served at `/photos/{member}/{photo}-{96|384}.jpg`: the photo's id is its version, so the URL
//! changes with the photo and is cached for a year. Writes `photos` and the photo columns of
//! `members`; admins' removals are in `moderation`.

pub mod model;
pub mod picture;
pub mod portrait;
pub mod store;

use anyhow::Context;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tokio::sync::{Semaphore, SemaphorePermit};
use tower_sessions::Session;

use crate::AppState;
use crate::auth::{Admin, CurrentMember, Viewer};
use crate::error::{AppError, AppResult};
use crate::members::model::Member;
use crate::web::forms::{FileFieldError, drain_multipart, read_file_field};
use crate::web::routes::Routes;
use crate::web::{Flash, Layout};
use model::Size;
use picture::{MAX_UPLOAD_BYTES, PictureError};
use store::{PhotoSettings, UploadBar};

/// Photos an admin may remove before the member can upload no more until an admin allows it.
pub const MAX_REMOVALS: i16 = 2;
/// The most an upload request may carry. Above [`MAX_UPLOAD_BYTES`] so that a file somewhat
/// too large is still read far enough to say so on the page (the file is never held past the
/// limit); beyond this the body-limit layer refuses it unread with a bare 413. Only the upload
/// route takes this much: every other route keeps axum's default of 2 MB.
pub const UPLOAD_BODY_LIMIT: usize = 2 * MAX_UPLOAD_BYTES;

const SETTINGS_PATH: &str = "/settings/photo";
/// A photo's URL names its version: a given URL always shows the same bytes.
const CACHE_FOR_GOOD: &str = "public, max-age=31536000, immutable";

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/settings/photo", edit_photo_form)
        .post("/settings/photo", upload_photo.layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)))
        .post("/settings/photo/remove", remove_photo)
        .get("/photos/{member}/{file}", serve_photo)
        .get("/admin/photos/{file}", serve_photo_to_admin)
}

/// The one slot picture work runs in.
static PICTURE_WORK: Semaphore = Semaphore::const_new(1);
/// Uploads at once, from reading the file to storing the photo. Each holds its file (up to
/// 8 MB) while it arrives and waits for the picture slot: without a bound, a hundred parallel
/// uploads would hold 800 MB. Past it an upload is turned away at once, its file unread. 16
/// (at most 128 MB of files) leaves room for several members sending over slow connections
/// while others wait for the slot.
const MAX_UPLOADS: usize = 16;
static UPLOADS: Semaphore = Semaphore::const_new(MAX_UPLOADS);
/// How soon a member turned away because of [`UPLOADS`] is asked to try again.
const BUSY_RETRY_SECS: u32 = 60;

/// A place among the uploads in progress ([`UPLOADS`]), or None when they are all taken.
fn admit_upload() -> Option<SemaphorePermit<'static>> {
    UPLOADS.try_acquire().ok()
}

/// Runs CPU-heavy picture work (decoding, resizing and encoding an upload: tens to hundreds of
/// milliseconds of a core each) on the blocking pool, one job at a time. `spawn_blocking`
/// alone keeps it off the async threads, but the blocking pool grows to hundreds of threads:
/// ten uploads at once would take both cores of a small server, and page views would wait
/// behind them. Behind a one-permit semaphore (fair: first come, first served) uploads queue
/// instead and at most one core does picture work. The permit moves into the blocking task, so
/// an upload whose request is dropped (a timeout, a closed connection) holds the slot until its
/// work has really ended.
pub async fn run_bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let permit = PICTURE_WORK.acquire().await.context("picture semaphore closed")?;
    let done = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await?;
    Ok(done)
}

/// Why an upload was refused, in words for the member.
#[derive(Debug, thiserror::Error)]
enum UploadError {
    #[error("Please choose a photo to upload.")]
    Empty,
    #[error("This file is larger than 8 MB. Please choose a smaller photo.")]
    TooLarge,
    #[error("The upload was cut off or garbled. Please try again.")]
    Malformed,
    #[error(
        "The Cuppa team has removed your photo twice, so you cannot upload another until an admin allows it. \
         If you think this is a mistake, please write to the Cuppa team."
    )]
    NotAllowed,
    #[error("Many photos are being processed right now; please try again in a minute.")]
    Busy,
    #[error("{0}")]
    Picture(#[from] PictureError),
}

impl UploadError {
    fn status(&self) -> StatusCode {
        match self {
            UploadError::NotAllowed => StatusCode::FORBIDDEN,
            UploadError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl From<FileFieldError> for UploadError {
    fn from(err: FileFieldError) -> Self {
        match err {
            FileFieldError::Missing => UploadError::Empty,
            FileFieldError::TooLarge => UploadError::TooLarge,
            FileFieldError::Malformed => UploadError::Malformed,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "photos/settings.html")]
struct PhotoPage {
    layout: Layout,
    member_id: i64,
    display_name: String,
    settings: PhotoSettings,
    /// Why the upload was refused, shown beside the file field.
    error: Option<String>,
}

impl PhotoPage {
    fn max_megabytes(&self) -> usize {
        MAX_UPLOAD_BYTES / (1024 * 1024)
    }

    fn min_side(&self) -> u32 {
        picture::MIN_SIDE
    }

    fn not_allowed(&self) -> String {
        UploadError::NotAllowed.to_string()
    }
}

async fn photo_page(state: &AppState, member: &Member, layout: Layout) -> AppResult<PhotoPage> {
    let settings = store::get_settings(&state.pool, member.id).await?;
    Ok(PhotoPage { layout, member_id: member.id, display_name: member.display_name.clone(), settings, error: None })
}

async fn edit_photo_form(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    layout: Layout,
) -> AppResult<PhotoPage> {
    photo_page(&state, &member, layout).await
}

/// Takes an upload as the member's new photo (replacing any they had). Nothing is written
/// unless the whole file decodes.
async fn upload_photo(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    layout: Layout,
    mut multipart: Multipart,
) -> AppResult<Response> {
    let mut page = photo_page(&state, &member, layout).await?;
    let had_photo = page.settings.photo_id.is_some();
    match store_upload(&state, member.id, page.settings, &mut multipart).await? {
        Ok(()) => {
            let done = if had_photo { "Your new photo is up." } else { "Your photo is up." };
            Flash::success(done).push(&session).await?;
            Ok(Redirect::to(SETTINGS_PATH).into_response())
        }
        Err(refused) => {
            page.error = Some(refused.to_string());
            let mut response = (refused.status(), page).into_response();
            if let UploadError::Busy = refused {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(BUSY_RETRY_SECS));
            }
            Ok(response)
        }
    }
}

/// Reads, decodes and stores the upload; the outer error is a failure of Cuppa's, the inner
/// one a refusal for the member. A refusal before the file is read whole reads the rest of
/// the body first (`drain_multipart`): answered while the browser is still sending, the
/// connection would be closed under it, and it would show "connection reset", not the page.
async fn store_upload(
    state: &AppState,
    member_id: i64,
    settings: PhotoSettings,
    multipart: &mut Multipart,
) -> AppResult<Result<(), UploadError>> {
    // Checked before the work, and again under the row lock below: an admin's removal, a
    // suspension or a deletion may land meanwhile.
    if let Some(bar) = settings.upload_bar() {
        drain_multipart(multipart).await;
        return barred(bar);
    }
    // Held until the photo is stored: the file is in memory all that time.
    let Some(_place) = admit_upload() else {
        drain_multipart(multipart).await;
        return Ok(Err(UploadError::Busy));
    };
    let bytes = match read_file_field(multipart, "file", MAX_UPLOAD_BYTES).await {
        Ok(bytes) => bytes,
        Err(err) => return Ok(Err(err.into())),
    };
    let photo = match run_bounded(move || picture::prepare(&bytes)).await? {
        Ok(photo) => photo,
        Err(err) => return Ok(Err(err.into())),
    };
    let mut tx = state.pool.begin().await?;
    if let Some(bar) = store::lock_settings(&mut tx, member_id).await?.upload_bar() {
        return barred(bar);
    }
    let id = store::insert_photo(&mut tx, Some(member_id), &photo).await?;
    store::set_current(&mut tx, member_id, Some(id)).await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// The answer to an upload `bar` stops: a deleted account is gone (404, as for any page of
/// theirs), a suspended member gets the 403 every action of theirs gets.
fn barred(bar: UploadBar) -> AppResult<Result<(), UploadError>> {
    match bar {
        UploadBar::Deleted => Err(AppError::NotFound),
        UploadBar::Suspended => Err(AppError::Forbidden("Your account is suspended.")),
        UploadBar::RemovedTwice => Ok(Err(UploadError::NotAllowed)),
    }
}

/// Back to the initial. The photo is deleted unless a report about it is still open.
async fn remove_photo(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
) -> AppResult<Redirect> {
    let mut tx = state.pool.begin().await?;
    let previous = store::set_current(&mut tx, member.id, None).await?;
    tx.commit().await?;
    let flash = match previous {
        Some(_) => Flash::success("Your photo is removed: people see your initial again."),
        None => Flash::info("You have no photo to remove."),
    };
    flash.push(&session).await?;
    Ok(Redirect::to(SETTINGS_PATH))
}

/// A member's photo, to a member who may see its owner's profile: the same 404 as for a photo
/// that never existed once it is replaced or removed, for a hidden, suspended or deleted
/// member, across a block, and to a logged-out visitor (profiles are for members, and a
/// blocked member could otherwise log out to look). The viewer is read from the session
/// without writing it, so a photo never carries a cookie.
async fn serve_photo(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    Path((member, file)): Path<(String, String)>,
    request_headers: HeaderMap,
) -> AppResult<Response> {
    let viewer = viewer.ok_or(AppError::NotFound)?;
    let member_id = model::parse_id(&member).ok_or(AppError::NotFound)?;
    let (photo_id, size) = model::parse_file_name(&file).ok_or(AppError::NotFound)?;
    let bytes = store::read_visible(&state.pool, member_id, photo_id, size, viewer).await?.ok_or(AppError::NotFound)?;
    let etag = format!("\"{photo_id}-{}\"", size.pixels());
    let fresh = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| etag_matches(tags, &etag));
    // Checked after the photo is found visible: a browser's copy of a photo it may no longer
    // see (a block since) is not confirmed.
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { jpeg(bytes) };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_FOR_GOOD));
    headers.insert(header::ETAG, HeaderValue::from_str(&etag).map_err(anyhow::Error::from)?);
    // Who asks decides the answer (blocks): a cache must not hand one viewer's copy to another.
    headers.insert(header::VARY, HeaderValue::from_static("Cookie"));
    Ok(response)
}

/// Whether an `If-None-Match` list names `etag` (weak or strong, or `*`).
fn etag_matches(tags: &str, etag: &str) -> bool {
    tags.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// Any stored photo, for admins: a reported one stays while its case is open, even when its
/// member has replaced it since. Never cached: it may be a photo nobody else may see.
async fn serve_photo_to_admin(
    State(state): State<AppState>,
    Admin(_): Admin,
    Path(file): Path<String>,
) -> AppResult<Response> {
    let (photo_id, size) = model::parse_file_name(&file).ok_or(AppError::NotFound)?;
    let bytes = store::read_any(&state.pool, photo_id, size).await?.ok_or(AppError::NotFound)?;
    let mut response = jpeg(bytes);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}

fn jpeg(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"))], bytes).into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{MAX_UPLOADS, admit_upload, etag_matches, run_bounded};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn picture_work_runs_one_job_at_a_time() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..6)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(run_bounded(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Long enough for jobs that were not queued to overlap.
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn at_most_sixteen_uploads_are_in_progress_and_a_finished_one_frees_its_place() {
        let mut places: Vec<_> =
            (0..MAX_UPLOADS).map(|n| admit_upload().unwrap_or_else(|| panic!("place {n}"))).collect();
        assert_eq!(places.len(), 16);
        assert!(admit_upload().is_none(), "one more upload is turned away");
        places.pop();
        let _taken = admit_upload().expect("a place freed is taken again");
        assert!(admit_upload().is_none());
    }

    #[test]
    fn if_none_match_lists_are_read() {
        let etag = "\"42-96\"";
        for yes in ["\"42-96\"", "W/\"42-96\"", "\"1-96\", \"42-96\"", "*"] {
            assert!(etag_matches(yes, etag), "{yes}");
        }
        for no in ["\"42-384\"", "42-96", ""] {
            assert!(!etag_matches(no, etag), "{no}");
        }
    }
}
