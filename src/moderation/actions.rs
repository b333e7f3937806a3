//! What an admin can do to a member, from the web or the command line, each in one transaction
//! with its audit entry: warn, hide, suspend, reinstate, change a role, remove a photo (with a
//! notice to the member) and let a member whose photos were removed upload again. A suspension
//! reaches into the other domains through their own functions: invitations, suggestions and
//! meetups; an account's deletion (`auth::deletion`) does the same through [`take_out`]; photos
//! change through `photos::store`.

use sqlx::{PgConnection, PgPool};

use super::audit::{self, Actor, Entry};
use super::store;
use crate::error::AppError;
use crate::members::model::{Role, Status};
use crate::notify::model::{Kind, Notice};
use crate::photos;

/// The longest reason (or warning) an admin may write.
pub const MAX_REASON_CHARS: usize = 1000;
/// The longest reason for removing a photo: the member reads it in their notification's one
/// line, which is also the email's subject.
pub const MAX_PHOTO_REASON_CHARS: usize = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    Warn,
    Hide,
    Suspend,
    Reinstate,
}

impl Move {
    pub const ALL: [Move; 4] = [Move::Warn, Move::Hide, Move::Suspend, Move::Reinstate];

    pub fn value(self) -> &'static str {
        match self {
            Move::Warn => "warn",
            Move::Hide => "hide",
            Move::Suspend => "suspend",
            Move::Reinstate => "reinstate",
        }
    }

    pub fn from_value(value: &str) -> Option<Move> {
        Move::ALL.into_iter().find(|m| m.value() == value)
    }

    fn audit_action(self) -> audit::Action {
        match self {
            Move::Warn => audit::Action::Warn,
            Move::Hide => audit::Action::Hide,
            Move::Suspend => audit::Action::Suspend,
            Move::Reinstate => audit::Action::Reinstate,
        }
    }
}

/// Why an action was refused; each is answered 409 (or 404), with the message shown as is.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("No member has that handle.")]
    NoSuchMember,
    #[error("{0}")]
    NotNow(&'static str),
    #[error("This is the last admin: make someone else an admin first.")]
    LastAdmin,
    #[error(transparent)]
    Failed(#[from] AppError),
}

impl From<sqlx::Error> for Refused {
    fn from(err: sqlx::Error) -> Self {
        Refused::Failed(err.into())
    }
}

impl From<Refused> for AppError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::NoSuchMember => AppError::NotFound,
            Refused::Failed(err) => err,
            other => AppError::Conflict(other.to_string()),
        }
    }
}

/// What a move did beyond the member's status, for the admin's confirmation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    pub invitations: usize,
    pub suggestions: usize,
    pub meetups_cancelled: usize,
    pub places_given_up: usize,
}

impl Effects {
    pub fn describe(&self) -> String {
        let parts = [
            (self.invitations, "open invitation"),
            (self.suggestions, "suggestion"),
            (self.meetups_cancelled, "hosted meetup"),
            (self.places_given_up, "meetup place"),
        ];
        let said: Vec<String> = parts
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}{}", if *n == 1 { "" } else { "s" }))
            .collect();
        if said.is_empty() { String::new() } else { format!(" Called off: {}.", said.join(", ")) }
    }
}

/// Applies `mv` to member `id` for `reason` (for a warning, the text the member reads).
pub async fn apply(
    pool: &PgPool,
    actor: Actor<'_>,
    id: i64,
    handle: &str,
    mv: Move,
    reason: &str,
) -> Result<Effects, Refused> {
    let mut tx = pool.begin().await?;
    let effects = match mv {
        Move::Suspend => take_out(&mut tx, id, Status::Suspended).await?,
        Move::Warn => {
            lock_existing(&mut tx, id).await?;
            store::insert_warning(&mut tx, id, reason).await?;
            Effects::default()
        }
        Move::Hide => {
            let status = lock_existing(&mut tx, id).await?;
            if status == Status::Hidden {
                return Err(Refused::NotNow("This member is already hidden."));
            }
            if status == Status::Suspended {
                return Err(Refused::NotNow("This member is suspended: reinstate them first."));
            }
            store::set_status(&mut tx, id, Status::Hidden).await?;
            Effects::default()
        }
        Move::Reinstate => {
            if lock_existing(&mut tx, id).await? == Status::Active {
                return Err(Refused::NotNow("This member is neither hidden nor suspended."));
            }
            store::set_status(&mut tx, id, Status::Active).await?;
            Effects::default()
        }
    };
    let entry = Entry {
        action: mv.audit_action(),
        target_member: Some(id),
        target: format!("@{handle}"),
        detail: effects.describe().trim().to_owned(),
        reason: reason.to_owned(),
    };
    audit::record(&mut tx, actor, &entry).await?;
    tx.commit().await?;
    Ok(effects)
}

/// Nothing an admin does applies to a deleted account's tombstone: reinstating one would bring
/// back an account with no owner.
const GONE: &str = "This account was deleted by its owner.";

/// The member's status, their row locked; a tombstone is refused.
async fn lock_existing(conn: &mut PgConnection, id: i64) -> Result<Status, Refused> {
    match store::lock_member(conn, id).await?.ok_or(Refused::NoSuchMember)? {
        (_, Status::Deleted) => Err(Refused::NotNow(GONE)),
        (_, status) => Ok(status),
    }
}

/// Takes member `id` out of everyone else's plans, as a suspension and an account's deletion
/// both do: sets `status`, cancels their open invitations, withdraws their open suggestions,
/// cancels the meetups they host that are still ahead and gives up their seats, telling the
/// other side of each. The last admin who could act is refused.
///
/// Locks in this order: the member's graph lock first, as sending an invitation and following
/// do, so nothing new is sent to or by them between the status change and the clean-up; then
/// every admin row (for the last-admin check), then the member's own row.
pub async fn take_out(conn: &mut PgConnection, id: i64, status: Status) -> Result<Effects, Refused> {
    crate::social::store::lock_graph_of(conn, id).await?;
    let admins = store::lock_admins(conn).await?;
    if lock_existing(conn, id).await? == Status::Suspended {
        return Err(Refused::NotNow("This member is already suspended."));
    }
    if admins == [id] {
        return Err(Refused::LastAdmin);
    }
    store::set_status(conn, id, status).await?;
    let invitations = crate::invitations::withdraw_member(conn, id).await?;
    let suggestions = crate::scheduler::withdraw_member(conn, id).await?;
    let (meetups_cancelled, places_given_up) = crate::meetups::withdraw_member(conn, id).await?;
    Ok(Effects { invitations, suggestions, meetups_cancelled, places_given_up })
}

/// Gives member `id` the role `role`. Taking admin away from the last admin is refused.
pub async fn change_role(
    pool: &PgPool,
    actor: Actor<'_>,
    id: i64,
    handle: &str,
    role: Role,
    reason: &str,
) -> Result<(), Refused> {
    let mut tx = pool.begin().await?;
    let admins = store::lock_admins(&mut tx).await?;
    let (was, status) = store::lock_member(&mut tx, id).await?.ok_or(Refused::NoSuchMember)?;
    if status == Status::Deleted {
        return Err(Refused::NotNow(GONE));
    }
    if was == role {
        return Err(Refused::NotNow("The member already has that role."));
    }
    if was == Role::Admin && admins == [id] {
        return Err(Refused::LastAdmin);
    }
    store::set_role(&mut tx, id, role).await?;
    let entry = Entry {
        action: audit::Action::SetRole,
        target_member: Some(id),
        target: format!("@{handle}"),
        detail: format!("{was} → {role}"),
        reason: reason.to_owned(),
    };
    audit::record(&mut tx, actor, &entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes member `id`'s photo `photo`, the one the admin was shown, counts the removal, writes
/// the audit entry and tells the member why, in one transaction; gives the new count. A photo
/// that is no longer the member's (they changed or removed it, or another admin removed it
/// first) is refused, so no admin removes a photo they have not seen.
pub async fn remove_photo(
    pool: &PgPool,
    actor: Actor<'_>,
    id: i64,
    handle: &str,
    photo: i64,
    reason: &str,
) -> Result<i16, Refused> {
    let mut tx = pool.begin().await?;
    lock_existing(&mut tx, id).await?;
    // Under the member's row lock, which an upload takes too: the photo cannot change now.
    let settings = photos::store::lock_settings(&mut tx, id).await?;
    if settings.photo_id != Some(photo) {
        return Err(Refused::NotNow(
            "That photo is no longer theirs to remove: they changed or removed it, or another admin removed it. Reload the page to see their photo now.",
        ));
    }
    photos::store::set_current(&mut tx, id, None).await?;
    let removals = photos::store::count_removal(&mut tx, id).await?;
    let stopped = if removals >= photos::MAX_REMOVALS { "; uploads stopped until an admin allows them" } else { "" };
    let entry = Entry {
        action: audit::Action::RemovePhoto,
        target_member: Some(id),
        target: format!("@{handle}"),
        detail: format!("photo {photo}, removal {removals}{stopped}"),
        reason: reason.to_owned(),
    };
    audit::record(&mut tx, actor, &entry).await?;
    crate::notify::store::record(&mut tx, id, &photo_removed_notice(reason, removals)).await?;
    tx.commit().await?;
    Ok(removals)
}

/// Lets member `id`, whose photos were removed `photos::MAX_REMOVALS` times, upload again: the
/// count starts over. Refused when they can upload already.
pub async fn allow_photos(pool: &PgPool, actor: Actor<'_>, id: i64, handle: &str, reason: &str) -> Result<(), Refused> {
    let mut tx = pool.begin().await?;
    lock_existing(&mut tx, id).await?;
    let settings = photos::store::lock_settings(&mut tx, id).await?;
    if settings.may_upload() {
        return Err(Refused::NotNow("This member can already upload photos."));
    }
    photos::store::allow_uploads(&mut tx, id).await?;
    let entry = Entry {
        action: audit::Action::AllowPhotos,
        target_member: Some(id),
        target: format!("@{handle}"),
        detail: format!("after {} removals", settings.removals),
        reason: reason.to_owned(),
    };
    audit::record(&mut tx, actor, &entry).await?;
    tx.commit().await?;
    Ok(())
}

/// What the member is told when their photo is removed for `reason`, the `removals`-th time.
/// The reason is in the notice's one line, as the notification list shows only that line; the
/// line is the email's subject too, so the rest (what they can do now) is in the body only.
pub fn photo_removed_notice(reason: &str, removals: i16) -> Notice {
    let text = format!("The Cuppa team removed your photo: “{reason}”.");
    let next = if removals >= photos::MAX_REMOVALS {
        "An earlier photo of yours was removed too, so you cannot upload another until an admin allows it. \
         If you think this is a mistake, write to the Cuppa team."
    } else {
        "You can upload another photo. If another photo is removed, \
         you will not be able to upload again until an admin allows it."
    };
    let body = format!("The Cuppa team removed your profile photo.\n\nWhy: {reason}\n\n{next}");
    Notice { kind: Kind::PhotoRemoved, text, body, link: "/settings/photo".to_owned(), actor: None }
}

/// A reason as typed: trimmed, required, and not too long. `None` with the message to show.
pub fn check_reason(raw: &str) -> Result<String, String> {
    check_reason_within(raw, MAX_REASON_CHARS)
}

/// `check_reason` with a limit of `max` characters.
pub fn check_reason_within(raw: &str, max: usize) -> Result<String, String> {
    let reason = raw.trim();
    if reason.is_empty() {
        Err("Write a reason: it goes into the audit log.".to_owned())
    } else if reason.chars().count() > max {
        Err(format!("Keep it to {max} characters."))
    } else if let Some(problem) = crate::web::forms::free_text_problem(reason) {
        Err(problem.to_owned())
    } else {
        Ok(reason.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_required_and_bounded() {
        assert!(check_reason("   ").is_err());
        assert!(check_reason(&"x".repeat(MAX_REASON_CHARS + 1)).is_err());
        assert!(check_reason("nul\0byte").is_err());
        assert!(check_reason("reads \u{202E}backwards").is_err());
        assert_eq!(check_reason("  spam, twice \n").unwrap(), "spam, twice");
    }

    #[test]
    fn a_photo_notice_says_why_and_when_uploads_stop() {
        let first = photo_removed_notice("Not a photo of you", 1);
        assert_eq!(first.kind, Kind::PhotoRemoved);
        assert_eq!(first.text, "The Cuppa team removed your photo: “Not a photo of you”.");
        assert!(first.body.contains("Why: Not a photo of you"), "{}", first.body);
        assert!(first.body.contains("You can upload another photo."), "{}", first.body);
        assert!(!first.body.contains("guidelines"), "Cuppa has no guidelines page: {}", first.body);
        let second = photo_removed_notice("Again", 2);
        assert_eq!(second.text, "The Cuppa team removed your photo: “Again”.", "the line is the email's subject");
        assert!(second.body.contains("you cannot upload another until an admin allows it"), "{}", second.body);
        assert_eq!(second.link, "/settings/photo");
        assert!(check_reason_within(&"x".repeat(MAX_PHOTO_REASON_CHARS + 1), MAX_PHOTO_REASON_CHARS).is_err());
    }

    #[test]
    fn effects_name_only_what_happened() {
        assert_eq!(Effects::default().describe(), "");
        let effects = Effects { invitations: 1, meetups_cancelled: 2, ..Effects::default() };
        assert_eq!(effects.describe(), " Called off: 1 open invitation, 2 hosted meetups.");
    }
}
