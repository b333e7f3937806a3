//! What every page's frame needs: who is logged in (for the navigation), flash messages and
//! the CSRF token for the forms on the page.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

const FLASH_KEY: &str = "flash";

/// A one-time message shown on the next page a visitor sees (after a redirect).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum FlashKind {
    Success,
    Info,
    Error,
}

impl Flash {
    pub fn success(text: impl Into<String>) -> Self {
        Flash { kind: FlashKind::Success, text: text.into() }
    }

    pub fn info(text: impl Into<String>) -> Self {
        Flash { kind: FlashKind::Info, text: text.into() }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Flash { kind: FlashKind::Error, text: text.into() }
    }

    /// The CSS modifier for this kind of message.
    pub fn class(&self) -> &'static str {
        match self.kind {
            FlashKind::Success => "flash-success",
            FlashKind::Info => "flash-info",
            FlashKind::Error => "flash-error",
        }
    }

    /// Queues this message for the next page the session sees.
    pub async fn push(self, session: &Session) -> Result<(), tower_sessions::session::Error> {
        let mut queued: Vec<Flash> = session.get(FLASH_KEY).await?.unwrap_or_default();
        queued.push(self);
        session.insert(FLASH_KEY, queued).await
    }

    /// Takes the queued messages; the session is written only when there were some.
    pub async fn take_all(session: &Session) -> Result<Vec<Flash>, tower_sessions::session::Error> {
        // Session::remove marks the session modified even when the key is absent: look first,
        // so that pages without a message never write the session back.
        if session.get_value(FLASH_KEY).await?.is_none() {
            return Ok(Vec::new());
        }
        Ok(session.remove(FLASH_KEY).await?.unwrap_or_default())
    }
}

/// The logged-in member as the navigation shows them.
#[derive(Clone, Debug)]
pub struct NavMember {
    pub handle: String,
    pub display_name: String,
    pub is_admin: bool,
    /// Their email address is confirmed; until it is, every page says so.
    pub verified: bool,
}

/// The frame around every page, given to `base.html`.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub member: Option<NavMember>,
    pub flashes: Vec<Flash>,
    pub csrf_token: String,
    /// Unread notifications of the logged-in member, counted up to `UNREAD_CAP` (0 when
    /// logged out). Only a number: what the notifications are is no business of `web`.
    pub unread: i64,
    /// Error pages are drawn outside any handler and know nothing of the visitor: they get a
    /// navigation with only the way home.
    pub bare: bool,
}

/// Counting unread notifications stops here; the badge then says "99+".
pub const UNREAD_CAP: i64 = 100;

impl Layout {
    pub fn bare() -> Self {
        Layout { bare: true, ..Layout::default() }
    }

    /// The navigation badge: the count, or "99+" past 99.
    pub fn unread_badge(&self) -> String {
        if self.unread >= UNREAD_CAP { format!("{}+", UNREAD_CAP - 1) } else { self.unread.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unread_badge_stops_counting_at_99() {
        let badge = |unread| Layout { unread, ..Layout::default() }.unread_badge();
        assert_eq!(badge(1), "1");
        assert_eq!(badge(99), "99");
        assert_eq!(badge(UNREAD_CAP), "99+");
    }
}
