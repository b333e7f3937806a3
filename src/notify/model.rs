//! The kinds of event members are told about, the email settings form, the sender's retry
//! schedule and the text of each email. Pure: no I/O.

use std::collections::HashMap;

use chrono::Duration;

/// One kind of notification; members can turn its emails off (never the in-app notice).
#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[sqlx(type_name = "notification_kind", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    InvitationReceived,
    InvitationCountered,
    InvitationAccepted,
    InvitationDeclined,
    InvitationCancelled,
    InvitationExpired,
    DidYouMeet,
    MetConfirmed,
    VenueApproved,
    VenueRejected,
    SuggestionMade,
    SuggestionWithdrawn,
    MeetupInvited,
    MeetupPromoted,
    MeetupChanged,
    MeetupCancelled,
    MeetupAnnouncement,
    /// About the account itself (confirm an address, reset a password, the address or the
    /// password changed): always sent, to whichever address it concerns, and never an in-app
    /// notice. Not in `ALL`, so it cannot be turned off.
    Account,
    /// An admin removed the member's photo, with why: a moderation notice, in-app and by email.
    /// Not in `ALL`, so it cannot be turned off: a member who turned it off could go on
    /// uploading photos without ever learning why they vanish, or that a second removal stops
    /// their uploads.
    PhotoRemoved,
}

impl Kind {
    pub const ALL: [Kind; 17] = [
        Kind::InvitationReceived,
        Kind::InvitationCountered,
        Kind::InvitationAccepted,
        Kind::InvitationDeclined,
        Kind::InvitationCancelled,
        Kind::InvitationExpired,
        Kind::DidYouMeet,
        Kind::MetConfirmed,
        Kind::VenueApproved,
        Kind::VenueRejected,
        Kind::SuggestionMade,
        Kind::SuggestionWithdrawn,
        Kind::MeetupInvited,
        Kind::MeetupPromoted,
        Kind::MeetupChanged,
        Kind::MeetupCancelled,
        Kind::MeetupAnnouncement,
    ];

    /// The value forms and the database use.
    pub fn value(self) -> &'static str {
        match self {
            Kind::InvitationReceived => "invitation_received",
            Kind::InvitationCountered => "invitation_countered",
            Kind::InvitationAccepted => "invitation_accepted",
            Kind::InvitationDeclined => "invitation_declined",
            Kind::InvitationCancelled => "invitation_cancelled",
            Kind::InvitationExpired => "invitation_expired",
            Kind::DidYouMeet => "did_you_meet",
            Kind::MetConfirmed => "met_confirmed",
            Kind::VenueApproved => "venue_approved",
            Kind::VenueRejected => "venue_rejected",
            Kind::SuggestionMade => "suggestion_made",
            Kind::SuggestionWithdrawn => "suggestion_withdrawn",
            Kind::MeetupInvited => "meetup_invited",
            Kind::MeetupPromoted => "meetup_promoted",
            Kind::MeetupChanged => "meetup_changed",
            Kind::MeetupCancelled => "meetup_cancelled",
            Kind::MeetupAnnouncement => "meetup_announcement",
            Kind::Account => "account",
            Kind::PhotoRemoved => "photo_removed",
        }
    }

    /// How the email settings page names it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::InvitationReceived => "Someone invites me to coffee",
            Kind::InvitationCountered => "Someone proposes other times",
            Kind::InvitationAccepted => "A coffee is agreed",
            Kind::InvitationDeclined => "An invitation is declined",
            Kind::InvitationCancelled => "An invitation or coffee is cancelled",
            Kind::InvitationExpired => "An invitation expires unanswered",
            Kind::DidYouMeet => "After a coffee: did you meet?",
            Kind::MetConfirmed => "We both said we met",
            Kind::VenueApproved => "A place I proposed is approved",
            Kind::VenueRejected => "A place I proposed is not approved",
            Kind::SuggestionMade => "Cuppa suggests a coffee",
            Kind::SuggestionWithdrawn => "A suggested coffee is called off",
            Kind::MeetupInvited => "An organiser I follow invites me to a meetup",
            Kind::MeetupPromoted => "A seat frees up for me at a meetup",
            Kind::MeetupChanged => "A meetup I am going to moves",
            Kind::MeetupCancelled => "A meetup I am going to is cancelled",
            Kind::MeetupAnnouncement => "An organiser posts news of a meetup I am going to",
            Kind::Account => "About my account",
            Kind::PhotoRemoved => "The Cuppa team removed my photo",
        }
    }
}

/// What one member is told: a line for the notification list (also the email's subject), a
/// longer text for the email, and the page both point to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub kind: Kind,
    pub text: String,
    pub body: String,
    pub link: String,
    /// The member it is about (and names): the other side of an invitation or a suggestion, a
    /// meetup's organiser; none for news from Cuppa itself. Stored as `notifications.actor_id`,
    /// so that a block can take away what names the other person.
    pub actor: Option<i64>,
}

/// The kinds a member turned email off for, from the settings form: one checkbox per kind,
/// named by its value and sent only when ticked. Anything else in the form is ignored, so a
/// kind added later starts switched on for everyone.
pub fn opt_outs_from_form(fields: &HashMap<String, String>) -> Vec<Kind> {
    Kind::ALL.into_iter().filter(|kind| !fields.contains_key(kind.value())).collect()
}

/// How many times the sender tries one email before giving up on it. With the schedule of
/// `retry_delay` that spans about 20 hours, so an SMTP relay that is down overnight loses
/// nothing, while news older than a day (a coffee that has already happened) is not sent.
pub const MAX_ATTEMPTS: i32 = 12;
/// The first retry waits this long; each later one twice as long as the one before ...
const FIRST_RETRY: Duration = Duration::minutes(1);
/// ... up to this.
const LONGEST_RETRY: Duration = Duration::hours(6);

/// What to do with an email after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Try again after this long.
    After(Duration),
    /// Stop trying: the last attempt failed, or the failure will not go away by waiting
    /// (a 5xx from the SMTP server, an address that does not parse).
    GiveUp,
}

/// The schedule after the `attempts`-th failed attempt (1 for the first): 1, 2, 4 ... minutes,
/// at most 6 hours apart, until `MAX_ATTEMPTS` have failed.
pub fn after_failure(attempts: i32, permanent: bool) -> Retry {
    if permanent || attempts >= MAX_ATTEMPTS {
        return Retry::GiveUp;
    }
    // Doubling 2^n overflows long before the cap matters; stop doubling once past it.
    let doublings = attempts.clamp(1, 20) - 1;
    let delay = FIRST_RETRY * 2i32.pow(doublings as u32);
    Retry::After(delay.min(LONGEST_RETRY))
}

/// One email as it will be sent: the parts a mail transport needs, already checked for the
/// things a header must not contain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// A Message-ID that stays the same across retries of the same outbox row, so a mail
    /// server that accepted an attempt we believe failed can recognise the repeat.
    pub message_id: String,
}

/// Where the settings page is, relative to the site: the footer of every email points there.
pub const SETTINGS_PATH: &str = "/settings/notifications";

/// Composes the email for one outbox row. `public_url` is the address the site is served at
/// (`https://cuppa.example`, with or without a trailing slash); `link` is the outbox row's
/// path. A link that is not a local path (which `record`'s callers never write) is left out
/// rather than sent as a link to somewhere else. An account email's footer points to no
/// settings: it cannot be turned off, and its reader may not be a member (an address someone
/// else typed at sign-up).
pub fn compose(id: i64, kind: Kind, to: &str, subject: &str, body: &str, link: &str, public_url: &str) -> Email {
    let base = public_url.trim_end_matches('/');
    let settings_url = format!("{base}{SETTINGS_PATH}");
    let mut text = body.trim_end().replace("\r\n", "\n");
    if is_local_path(link) {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&format!("{base}{link}"));
    }
    // Short lines and no trailing spaces (so no "-- " signature mark): the mail can then go
    // as plain 7-bit text, links intact, rather than quoted-printable.
    if kind == Kind::Account {
        text.push_str("\n\n--\nYou get this email because this address was given for an account on Cuppa.\n");
    } else if !Kind::ALL.contains(&kind) {
        // A notice that cannot be turned off (a moderation notice): no settings to point to.
        text.push_str("\n\n--\nYou get this email because you are a member of Cuppa.\n");
    } else {
        text.push_str(&format!(
            "\n\n--\nYou get this email because you are a member of Cuppa.\nChoose which emails Cuppa sends you:\n{settings_url}\n"
        ));
    }
    Email {
        to: to.trim().to_owned(),
        subject: one_line(subject),
        body: text,
        message_id: format!("<outbox-{id}@{}>", host_of(base)),
    }
}

/// A path on this site: `/something`, never `//host` or a scheme.
fn is_local_path(link: &str) -> bool {
    link.starts_with('/') && !link.starts_with("//") && !link.chars().any(|c| c == '\\' || c.is_control())
}

/// Header text on one line: control characters (a newline would end the header) become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The host part of an `http(s)://host[:port]/...` address, for Message-IDs.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    // An IPv6 literal makes no domain for a Message-ID.
    let host = if authority.starts_with('[') { "" } else { authority.split(':').next().unwrap_or_default() };
    let host: String = host.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')).collect();
    if host.is_empty() { "localhost".to_owned() } else { host }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_value() {
        let values: std::collections::HashSet<_> = Kind::ALL.iter().map(|k| k.value()).collect();
        assert_eq!(values.len(), Kind::ALL.len());
    }

    #[test]
    fn unticked_kinds_are_the_opt_outs() {
        let form: HashMap<String, String> =
            [("csrf_token", "x"), ("invitation_received", "on"), ("did_you_meet", "on")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        let out = opt_outs_from_form(&form);
        assert_eq!(out.len(), Kind::ALL.len() - 2);
        assert!(!out.contains(&Kind::InvitationReceived) && !out.contains(&Kind::DidYouMeet));
        assert!(out.contains(&Kind::MetConfirmed));
        assert_eq!(opt_outs_from_form(&HashMap::new()), Kind::ALL.to_vec());
    }

    #[test]
    fn retries_double_from_a_minute_up_to_six_hours_then_stop() {
        let minutes = |attempts| match after_failure(attempts, false) {
            Retry::After(delay) => delay.num_minutes(),
            Retry::GiveUp => -1,
        };
        let schedule: Vec<i64> = (1..=MAX_ATTEMPTS).map(minutes).collect();
        assert_eq!(schedule, [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360, -1]);
        let total: i64 = schedule.iter().filter(|m| **m > 0).sum();
        assert!((18 * 60..24 * 60).contains(&total), "retries span about a day: {total} minutes");
        assert_eq!(after_failure(MAX_ATTEMPTS + 5, false), Retry::GiveUp);
        assert_eq!(after_failure(1, true), Retry::GiveUp);
        // A count that should not happen still gives a sane delay.
        assert_eq!(after_failure(0, false), Retry::After(Duration::minutes(1)));
    }

    #[test]
    fn an_email_carries_the_full_link_and_a_footer_to_the_settings() {
        let email = compose(
            42,
            Kind::InvitationReceived,
            " ada@example.com ",
            "Grace invites you\r\nBcc: everyone@example.com",
            "Grace would like a coffee.\r\nSee you soon.\n",
            "/invitations/7",
            "https://cuppa.example:8443/",
        );
        assert_eq!(email.to, "ada@example.com");
        assert_eq!(email.subject, "Grace invites you Bcc: everyone@example.com", "no header injection");
        assert!(
            email
                .body
                .starts_with("Grace would like a coffee.\nSee you soon.\n\nhttps://cuppa.example:8443/invitations/7\n")
        );
        assert!(
            email
                .body
                .ends_with("Choose which emails Cuppa sends you:\nhttps://cuppa.example:8443/settings/notifications\n")
        );
        assert_eq!(email.message_id, "<outbox-42@cuppa.example>");
    }

    #[test]
    fn an_account_email_offers_no_settings_to_turn_it_off() {
        let email = compose(
            7,
            Kind::Account,
            "a@example.com",
            "Confirm",
            "Open the link.",
            "/verify-email/ab",
            "http://x.test",
        );
        assert!(email.body.starts_with("Open the link.\n\nhttp://x.test/verify-email/ab\n\n--\n"));
        assert!(!email.body.contains(SETTINGS_PATH), "{}", email.body);
        assert!(!email.body.contains("you are a member"), "{}", email.body);
    }

    #[test]
    fn a_moderation_notice_offers_no_settings_to_turn_it_off() {
        assert!(!Kind::ALL.contains(&Kind::PhotoRemoved));
        let email =
            compose(8, Kind::PhotoRemoved, "a@example.com", "Removed", "Why.", "/settings/photo", "http://x.test");
        assert!(
            email.body.ends_with("\n--\nYou get this email because you are a member of Cuppa.\n"),
            "{}",
            email.body
        );
        assert!(!email.body.contains(SETTINGS_PATH), "{}", email.body);
    }

    #[test]
    fn only_local_links_are_put_in_an_email() {
        for hostile in ["//evil.example/x", "https://evil.example", "/\\evil.example", ""] {
            let email = compose(1, Kind::MetConfirmed, "a@example.com", "s", "b", hostile, "http://127.0.0.1:8080");
            assert!(!email.body.contains("evil"), "{hostile:?}");
            assert!(email.body.starts_with("b\n\n--\n"));
        }
    }

    #[test]
    fn message_ids_use_the_public_host() {
        assert_eq!(host_of("http://127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_of("https://user@cuppa.example/path"), "cuppa.example");
        assert_eq!(host_of("http://[::1]:8080"), "localhost");
        assert_eq!(host_of("nonsense"), "nonsense");
        assert_eq!(host_of(""), "localhost");
    }
}
