//! iCalendar files for agreed coffees. Pure: invitations in, text out.
//!
//! Times are written in UTC (`…Z`): every calendar shows them in its owner's zone, and no
//! VTIMEZONE block is needed. The venue's own local time goes in the description, as the
//! invitation pages show it.

use icalendar::{Calendar, Component, Event, EventLike, EventStatus};

use crate::invitations::model::{COFFEE_LENGTH, Invitation, Side};

/// One event for an agreed coffee, as `viewer` sees it.
fn event(invitation: &Invitation, viewer: Side) -> Option<Event> {
    let start = invitation.accepted_time?;
    let (_, other, other_handle) = invitation.other(viewer);
    let mut description = format!(
        "Coffee arranged on Cuppa.\nWho: {} (@{}) and {} (@{})\nWhen: {}\nWhere: {}, {}, {}",
        invitation.inviter_name,
        invitation.inviter_handle,
        invitation.invitee_name,
        invitation.invitee_handle,
        invitation.when().unwrap_or_default(),
        invitation.venue_name,
        invitation.venue_address,
        invitation.venue_city,
    );
    if !invitation.note.is_empty() {
        description.push_str(&format!("\n{} wrote: {}", invitation.inviter_name, invitation.note));
    }
    Some(
        Event::new()
            .uid(&format!("invitation-{}@cuppa", invitation.id))
            .summary(&format!("Coffee with {other} (@{other_handle})"))
            .location(&format!("{}, {}, {}", invitation.venue_name, invitation.venue_address, invitation.venue_city))
            .description(&description)
            .starts(start)
            .ends(start + COFFEE_LENGTH)
            .status(EventStatus::Confirmed)
            .timestamp(invitation.updated_at)
            .done(),
    )
}

/// A calendar of `invitations` for `member`; invitations without an agreed time are left out.
pub fn calendar(name: &str, invitations: &[Invitation], member: i64) -> String {
    let mut calendar = Calendar::new();
    calendar.name(name);
    for invitation in invitations {
        if let Some(event) = invitation.side_of(member).and_then(|side| event(invitation, side)) {
            calendar.push(event);
        }
    }
    calendar.done().to_string()
}
