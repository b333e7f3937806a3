//! What each side is told when an invitation moves. Pure: the caller records the notices on
//! the transaction of the move. What members typed (names, the place, notes) is marked with
//! `web::bidi::isolate`, so that its direction cannot turn the sentence around it.

use super::model::{Invitation, Side, local_label};
use crate::notify::model::{Kind, Notice};
use crate::web::bidi::isolate;

/// The notice for the member on side `to` about `kind`, naming the other side (who made the
/// move, for members' moves), who is its actor.
pub fn notice(kind: Kind, invitation: &Invitation, to: Side) -> Notice {
    let (other_id, other, _) = invitation.other(to);
    let (other, venue) = (isolate(other), isolate(&invitation.venue_name));
    let text = match kind {
        Kind::InvitationReceived => format!("{other} invites you to coffee at {venue}"),
        Kind::InvitationCountered => format!("{other} proposed other times for coffee at {venue}"),
        Kind::InvitationAccepted => {
            format!("Coffee with {other} is agreed: {venue}, {}", invitation.when().unwrap_or_default())
        }
        Kind::InvitationDeclined => format!("{other} declined coffee at {venue}"),
        Kind::InvitationCancelled => format!("{other} cancelled coffee at {venue}"),
        Kind::InvitationExpired => format!("The invitation for coffee with {other} at {venue} expired unanswered"),
        Kind::DidYouMeet => format!("Did you meet {other} at {venue}?"),
        Kind::MetConfirmed => format!("You and {other} both say you met. That follow now has a face."),
        // Kinds about other things than an invitation are not made here; say something true.
        Kind::VenueApproved
        | Kind::VenueRejected
        | Kind::SuggestionMade
        | Kind::SuggestionWithdrawn
        | Kind::MeetupInvited
        | Kind::MeetupPromoted
        | Kind::MeetupChanged
        | Kind::MeetupCancelled
        | Kind::MeetupAnnouncement
        | Kind::Account
        | Kind::PhotoRemoved => {
            format!("News of your coffee with {other} at {venue}")
        }
    };
    let mut body = vec![text.clone(), String::new()];
    body.push(format!("Where: {venue}, {}, {}", isolate(&invitation.venue_address), isolate(&invitation.venue_city)));
    match kind {
        Kind::InvitationReceived | Kind::InvitationCountered => {
            body.push("Proposed times:".to_owned());
            let zone = invitation.zone();
            body.extend(invitation.proposed_times.iter().map(|t| format!("  - {}", local_label(*t, zone))));
        }
        _ => {
            if let Some(when) = invitation.when() {
                body.push(format!("When: {when}"));
            }
        }
    }
    let said = match kind {
        Kind::InvitationReceived => &invitation.note,
        Kind::InvitationDeclined | Kind::InvitationCancelled => &invitation.closing_note,
        _ => "",
    };
    if !said.is_empty() {
        body.push(String::new());
        body.push(format!("{other} wrote: {}", isolate(said)));
    }
    let link = format!("/invitations/{}", invitation.id);
    Notice { kind, text, body: body.join("\n"), link, actor: Some(other_id) }
}

/// The other side's notice when an open invitation is called off because its member can no
/// longer take part (a suspension): it says what is off and gives no reason.
pub fn withdrawn(invitation: &Invitation, to: Side) -> Notice {
    let mut notice = notice(Kind::InvitationCancelled, invitation, to);
    let (_, other, _) = invitation.other(to);
    let text =
        format!("Coffee with {} at {} is off: it will not take place", isolate(other), isolate(&invitation.venue_name));
    notice.body = notice.body.replacen(&notice.text, &text, 1);
    notice.text = text;
    notice
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::invitations::model::State;
    use crate::members::model::Status;

    fn invitation() -> Invitation {
        Invitation {
            id: 7,
            state: State::Pending,
            inviter_id: 1,
            inviter_handle: "ada".into(),
            inviter_name: "Ada".into(),
            inviter_status: Status::Active,
            inviter_photo_id: None,
            invitee_id: 2,
            invitee_handle: "grace".into(),
            invitee_name: "Grace".into(),
            invitee_status: Status::Active,
            invitee_photo_id: None,
            venue_id: 3,
            venue_name: "Café Lumen".into(),
            venue_address: "12 Market Street".into(),
            venue_city: "London".into(),
            venue_zone: "Europe/London".into(),
            proposed_times: vec![Utc.with_ymd_and_hms(2026, 7, 1, 9, 30, 0).unwrap()],
            proposed_by: 1,
            accepted_time: None,
            note: "Shall we?".into(),
            closing_note: String::new(),
            closed_by: None,
            inviter_answer: None,
            invitee_answer: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn each_side_hears_of_the_other() {
        let received = notice(Kind::InvitationReceived, &invitation(), Side::Invitee);
        assert_eq!(received.text, "\u{2068}Ada\u{2069} invites you to coffee at \u{2068}Café Lumen\u{2069}");
        assert!(received.body.contains("Wed 1 Jul 2026, 10:30 (BST)"), "{}", received.body);
        assert!(received.body.contains("\u{2068}Ada\u{2069} wrote: \u{2068}Shall we?\u{2069}"));
        assert_eq!(received.link, "/invitations/7");
        assert_eq!(received.actor, Some(1), "the notice is about the inviter");

        let accepted = Invitation { accepted_time: Some(invitation().proposed_times[0]), ..invitation() };
        let told = notice(Kind::InvitationAccepted, &accepted, Side::Inviter);
        assert_eq!(
            told.text,
            "Coffee with \u{2068}Grace\u{2069} is agreed: \u{2068}Café Lumen\u{2069}, Wed 1 Jul 2026, 10:30 (BST)"
        );
        assert!(!told.body.contains("Shall we?"));
        assert_eq!(told.actor, Some(2), "the notice is about the invitee");
    }
}
