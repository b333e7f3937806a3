//! All SQL on `photos` and on the photo columns of `members` (`photo_id`, `photo_removals`).
//!
//! A photos row never changes; a member's photo changes by pointing `members.photo_id` at a new
//! row. The old row is deleted as soon as nothing needs it any more ([`forget`]): no member
//! shows it and no open moderation case is about it.

use sqlx::{PgConnection, PgExecutor};

use super::model::Size;
use super::picture::Encoded;
use crate::members::model::Status;

/// What the photo settings page and the upload need to know about the member.
#[derive(Clone, Copy, Debug)]
pub struct PhotoSettings {
    /// The current photo; None shows the initial.
    pub photo_id: Option<i64>,
    /// Photos an admin removed since uploads were last allowed.
    pub removals: i16,
    /// The member's status: an upload that ends after a suspension or a deletion stores nothing.
    pub status: Status,
}

/// Why an upload may not be stored now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadBar {
    /// The account was deleted: nothing of theirs may be stored any more.
    Deleted,
    /// Suspended: no admin has seen this photo, and the member can do nothing until it lifts.
    Suspended,
    /// Admins removed the member's photos twice (see [`PhotoSettings::may_upload`]).
    RemovedTwice,
}

impl PhotoSettings {
    /// Removed twice: no more uploads until an admin allows them again.
    pub fn may_upload(&self) -> bool {
        self.removals < super::MAX_REMOVALS
    }

    /// What stops an upload from being stored, if anything. Checked again under the row lock
    /// when the upload is written: decoding it and waiting for the picture slot take seconds,
    /// in which the member may be suspended or delete their account.
    pub fn upload_bar(&self) -> Option<UploadBar> {
        match self.status {
            Status::Deleted => Some(UploadBar::Deleted),
            Status::Suspended => Some(UploadBar::Suspended),
            Status::Active | Status::Hidden if !self.may_upload() => Some(UploadBar::RemovedTwice),
            Status::Active | Status::Hidden => None,
        }
    }
}

/// Stores a photo's two sizes; `uploader` is None for the demo's drawn portraits.
pub async fn insert_photo(conn: &mut PgConnection, uploader: Option<i64>, photo: &Encoded) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into photos (member_id, small, large)
         values ($1, $2, $3)
         returning id",
        uploader,
        photo.small,
        photo.large
    )
    .fetch_one(conn)
    .await
}

/// Makes `photo_id` the member's current photo (None: the initial again) and returns the one
/// it replaces, which is deleted unless something still needs it (see [`forget`]).
pub async fn set_current(conn: &mut PgConnection, member_id: i64, photo_id: Option<i64>) -> sqlx::Result<Option<i64>> {
    // Locked first, so the previous photo read here is the one the update replaces even when
    // the caller has not locked the row itself (`no key update`: rows referencing the member
    // may still be inserted meanwhile).
    let previous = sqlx::query_scalar!(
        "select photo_id
         from members
         where id = $1
         for no key update",
        member_id
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!("update members set photo_id = $2 where id = $1", member_id, photo_id).execute(&mut *conn).await?;
    if let Some(previous) = previous.filter(|&previous| Some(previous) != photo_id) {
        forget(conn, previous).await?;
    }
    Ok(previous)
}

/// Deletes a photo nothing needs any more: no member has it as their current photo, and no
/// open moderation case is about it (an admin must still see a reported photo that its member
/// replaced since; closing the case calls this again). Returns whether it was deleted.
pub async fn forget(conn: &mut PgConnection, photo_id: i64) -> sqlx::Result<bool> {
    // The row lock first, in a statement of its own: a report being filed holds the photo
    // `for share` (`moderation::report_store::lock_shown_photo`), so this waits for its case,
    // and the delete below, a new statement, sees that case once it is committed.
    let exists = sqlx::query_scalar!("select id from photos where id = $1 for update", photo_id)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_none() {
        return Ok(false);
    }
    let deleted = sqlx::query!(
        "delete from photos p
         where p.id = $1
           and not exists (select 1 from members m where m.photo_id = p.id)
           and not exists (select 1 from moderation_cases c
                           where c.target_kind = 'photo' and c.target_id = p.id and c.status = 'open')",
        photo_id
    )
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected() == 1)
}

/// The bytes of member `member_id`'s photo `photo_id` in `size`, as member `viewer` may see
/// them: only while it is the member's current photo, the member is active (or is the viewer:
/// a hidden member still sees their own), the viewer is not suspended or deleted (the session
/// is read without the member's row, see `auth::Viewer`), and no block stands between the two
/// either way. Anything else is None, which the page answers with the same 404 as a photo that
/// never existed, so a block or a hiding cannot be told from a change of photo.
pub async fn read_visible(
    db: impl PgExecutor<'_>,
    member_id: i64,
    photo_id: i64,
    size: Size,
    viewer: i64,
) -> sqlx::Result<Option<Vec<u8>>> {
    // `case` reads (and fetches from TOAST) only the size asked for.
    sqlx::query_scalar!(
        r#"select case when $3 then p.large else p.small end as "bytes!"
           from members m
           join photos p on p.id = m.photo_id
           where m.id = $1
             and m.photo_id = $2
             and (m.status = 'active' or (m.id = $4 and m.status = 'hidden'))
             and exists (select 1 from members v where v.id = $4 and v.status in ('active', 'hidden'))
             and not exists (select 1 from blocks b
                             where (b.blocker_id = $4 and b.blocked_id = m.id)
                                or (b.blocker_id = m.id and b.blocked_id = $4))"#,
        member_id,
        photo_id,
        size == Size::Large,
        viewer
    )
    .fetch_optional(db)
    .await
}

/// The bytes of any stored photo, for admins: a reported photo its member has replaced since
/// is kept while its case is open, and the case page shows it.
pub async fn read_any(db: impl PgExecutor<'_>, photo_id: i64, size: Size) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar!(
        r#"select case when $2 then large else small end as "bytes!"
           from photos
           where id = $1"#,
        photo_id,
        size == Size::Large
    )
    .fetch_optional(db)
    .await
}

/// The member's photo settings, as the page shows them.
pub async fn get_settings(db: impl PgExecutor<'_>, member_id: i64) -> sqlx::Result<PhotoSettings> {
    sqlx::query_as!(
        PhotoSettings,
        r#"select photo_id, photo_removals as removals, status as "status: Status"
           from members
           where id = $1"#,
        member_id
    )
    .fetch_one(db)
    .await
}

/// The member's photo settings, locking their row until the transaction ends, so that an
/// admin's removal (which counts towards the limit), a suspension or a deletion and an upload
/// happen one after the other.
pub async fn lock_settings(conn: &mut PgConnection, member_id: i64) -> sqlx::Result<PhotoSettings> {
    sqlx::query_as!(
        PhotoSettings,
        r#"select photo_id, photo_removals as removals, status as "status: Status"
           from members
           where id = $1
           for no key update"#,
        member_id
    )
    .fetch_one(conn)
    .await
}

/// Counts one more of the member's photos removed by an admin; gives the new count. At
/// `MAX_REMOVALS` the member can upload no more (`PhotoSettings::may_upload`).
pub async fn count_removal(conn: &mut PgConnection, member_id: i64) -> sqlx::Result<i16> {
    sqlx::query_scalar!(
        "update members
         set photo_removals = photo_removals + 1
         where id = $1
         returning photo_removals",
        member_id
    )
    .fetch_one(conn)
    .await
}

/// Lets the member upload photos again, as an admin decided: the count of removals starts over.
pub async fn allow_uploads(conn: &mut PgConnection, member_id: i64) -> sqlx::Result<()> {
    sqlx::query!("update members set photo_removals = 0 where id = $1", member_id).execute(conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_active_or_hidden_member_within_the_removal_limit_may_store_an_upload() {
        let settings = |status, removals| PhotoSettings { photo_id: None, removals, status };
        assert_eq!(settings(Status::Active, 0).upload_bar(), None);
        assert_eq!(settings(Status::Hidden, 1).upload_bar(), None, "a hidden member keeps their settings");
        assert_eq!(settings(Status::Active, 2).upload_bar(), Some(UploadBar::RemovedTwice));
        assert_eq!(settings(Status::Suspended, 0).upload_bar(), Some(UploadBar::Suspended));
        // Whatever the count, a deleted account stores nothing.
        assert_eq!(settings(Status::Deleted, 0).upload_bar(), Some(UploadBar::Deleted));
        assert_eq!(settings(Status::Deleted, 2).upload_bar(), Some(UploadBar::Deleted));
    }
}
