//! iCalendar files for agreed coffees and meetups. Pure: invitations and meetups in, text out.
//!
//! Coffees are written in UTC (`…Z`): every calendar shows them in its owner's zone, and no
//! VTIMEZONE block is needed; the venue's own local time goes in the description, as the
//! invitation pages show it. Meetups carry the venue's zone instead (`DTSTART;TZID=Europe/London:
//! 20261220T100000`), as the meetups issue asks: an organiser sets a meetup's time at the venue,
//! and a calendar that knows the zone keeps it at that wall-clock time. Calendar apps (Google,
//! Apple, Outlook, Thunderbird) resolve IANA zone names without a VTIMEZONE block, so none is
//! written.

use icalendar::{Calendar, CalendarDateTime, Component, Event, EventLike, EventStatus, Property};

use crate::invitations::model::{COFFEE_LENGTH, Invitation, Side};
use crate::meetups::model::Meetup;

/// One event for an agreed coffee, as `viewer` sees it.
fn coffee_event(invitation: &Invitation, viewer: Side) -> Option<Event> {
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

/// The events of `invitations` for `member`; invitations without an agreed time are left out.
pub fn coffee_events(invitations: &[Invitation], member: i64) -> impl Iterator<Item = Event> + '_ {
    invitations
        .iter()
        .filter_map(move |invitation| invitation.side_of(member).and_then(|s| coffee_event(invitation, s)))
}

/// A parameter value may not hold a double quote, nor (being on one line) a control character;
/// quoting for `:`, `;` and `,` is done by the writer.
fn parameter_value(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).map(|c| if c == '"' { '\'' } else { c }).collect()
}

/// One meetup, the same for everyone: its times at the venue, in the venue's zone. A cancelled
/// meetup stays as a cancelled event, so a calendar that already has it marks it so.
pub fn meetup_event(meetup: &Meetup, public_url: &str) -> Event {
    let base = public_url.trim_end_matches('/');
    let zone = meetup.zone();
    let local = |time: chrono::DateTime<chrono::Utc>| CalendarDateTime::WithTimezone {
        date_time: time.with_timezone(&zone).naive_local(),
        tzid: zone.name().to_owned(),
    };
    let mut description = String::new();
    if !meetup.description.is_empty() {
        description.push_str(&meetup.description);
        description.push_str("\n\n");
    }
    description.push_str(&format!(
        "Organised by {} (@{}) on Cuppa.\nWhen: {} to {}\nWhere: {}\n{base}/meetups/{}",
        meetup.organiser_name,
        meetup.organiser_handle,
        meetup.when(),
        meetup.until(),
        meetup.place(),
        meetup.id,
    ));
    if meetup.is_cancelled() {
        description.insert_str(0, "CANCELLED by the organiser.\n\n");
    }
    // The organiser's profile, not their email: the value is a URI, named by CN.
    let organiser = Property::new("ORGANIZER", format!("{base}/m/{}", meetup.organiser_handle))
        .add_parameter("CN", &parameter_value(&meetup.organiser_name))
        .done();
    let status = if meetup.is_cancelled() { EventStatus::Cancelled } else { EventStatus::Confirmed };
    Event::new()
        .uid(&format!("meetup-{}@cuppa", meetup.id))
        .summary(&meetup.title)
        .description(&description)
        .location(&meetup.place())
        .starts(local(meetup.starts_at))
        .ends(local(meetup.ends_at))
        .append_property(organiser)
        .url(&format!("{base}/meetups/{}", meetup.id))
        .status(status)
        .timestamp(meetup.updated_at)
        .last_modified(meetup.updated_at)
        .done()
}

/// A calendar named `name` holding `events`.
pub fn calendar(name: &str, events: impl IntoIterator<Item = Event>) -> String {
    let mut calendar = Calendar::new();
    calendar.name(name);
    for event in events {
        calendar.push(event);
    }
    calendar.done().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_values_lose_quotes_and_control_characters() {
        assert_eq!(parameter_value("Ada \"the first\", of\tLeeds"), "Ada 'the first', ofLeeds");
    }
}
