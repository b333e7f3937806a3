//! Members' types and the rules their forms follow. Pure: no I/O.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::web::FieldErrors;
use crate::web::forms::TextField;

#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[sqlx(type_name = "member_role", rename_all = "lowercase")]
pub enum Role {
    Member,
    Organiser,
    Admin,
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "member" => Ok(Role::Member),
            "organiser" | "organizer" => Ok(Role::Organiser),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}: use member, organiser or admin")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Member => "member",
            Role::Organiser => "organiser",
            Role::Admin => "admin",
        })
    }
}

#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[sqlx(type_name = "member_status", rename_all = "lowercase")]
pub enum Status {
    Active,
    /// Hidden from everyone else by an admin (out of the directory, lists, search and
    /// matching; the profile is 404 to others), but still able to log in and use Cuppa.
    Hidden,
    Suspended,
    /// A deleted account's tombstone ("a former member"): kept so that met pairs, past
    /// invitations, reports and audit entries still point somewhere; never logs in or shows.
    Deleted,
}

/// Who may send this member a coffee invitation.
#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq)]
#[sqlx(type_name = "invite_policy", rename_all = "lowercase")]
pub enum InvitePolicy {
    Anyone,
    Following,
    Nobody,
}

impl InvitePolicy {
    pub const ALL: [InvitePolicy; 3] = [InvitePolicy::Anyone, InvitePolicy::Following, InvitePolicy::Nobody];

    pub fn value(self) -> &'static str {
        match self {
            InvitePolicy::Anyone => "anyone",
            InvitePolicy::Following => "following",
            InvitePolicy::Nobody => "nobody",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            InvitePolicy::Anyone => "Anyone on Cuppa",
            InvitePolicy::Following => "Only people I follow",
            InvitePolicy::Nobody => "Nobody",
        }
    }
}

/// The logged-in member as every request sees it: read afresh on each request, so a change
/// of role or a suspension takes effect at once. Serde carries it from the session's load (see
/// `auth::session_store`) to the extractors within one request; it is never stored.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Member {
    pub id: i64,
    pub handle: String,
    pub display_name: String,
    pub role: Role,
    pub status: Status,
    pub time_zone: String,
    /// Where the member lives ("" when not said): pages that list things by city start there.
    pub city: String,
    /// An admin's warning waits to be read: every page sends them to it first.
    pub warned: bool,
    /// The member confirmed their email address; until then no notification email is sent.
    pub verified: bool,
}

impl Member {
    pub fn is_organiser(&self) -> bool {
        matches!(self.role, Role::Organiser | Role::Admin)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A public profile, as `/m/{handle}` shows it.
#[derive(Clone, Debug)]
pub struct Profile {
    pub id: i64,
    pub handle: String,
    pub display_name: String,
    pub bio: String,
    pub city: String,
    pub time_zone: String,
    pub interests: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// The photo to show: only an active member's (a hidden one's own page shows the initial,
    /// as nobody else may fetch the photo).
    pub photo_id: Option<i64>,
}

pub const MAX_BIO_CHARS: usize = 500;
pub const MAX_INTERESTS: usize = 12;
pub const MAX_WINDOWS: usize = 28;
pub const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// Whether `handle` could be anyone's: 3 to 30 ASCII letters, digits or underscores (the
/// schema's `members_handle_format`).
pub fn is_valid_handle(handle: &str) -> bool {
    (3..=30).contains(&handle.len()) && handle.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub fn validate_handle(raw: &str, errors: &mut FieldErrors) -> String {
    let handle = raw.trim().trim_start_matches('@').to_owned();
    if !is_valid_handle(&handle) {
        errors.add("handle", "Use 3 to 30 letters, digits or underscores.");
    }
    handle
}

pub fn validate_email(raw: &str, errors: &mut FieldErrors) -> String {
    let email = raw.trim().to_owned();
    let well_formed = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        }
        None => false,
    };
    if email.len() > 254 || !well_formed || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.add("email", "Enter an email address such as ada@example.com.");
    }
    email
}

pub fn validate_display_name(raw: &str, errors: &mut FieldErrors) -> String {
    let field = TextField {
        name: "display_name",
        max_chars: 80,
        multiline: false,
        required: Some("Tell people what to call you."),
    };
    field.check(raw, errors)
}

/// Interests typed as a comma-separated list, kept as lower-case tags without repeats.
pub fn parse_interests(raw: &str, errors: &mut FieldErrors) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for part in raw.split(',') {
        let tag = part.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        if tag.is_empty() || tags.contains(&tag) {
            continue;
        }
        if tag.chars().count() > 30 || !tag.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '\'')) {
            errors
                .add("interests", "Each interest is up to 30 letters, digits, spaces or hyphens, separated by commas.");
        }
        tags.push(tag);
    }
    if tags.len() > MAX_INTERESTS {
        errors.add("interests", format!("Choose up to {MAX_INTERESTS} interests."));
    }
    tags
}

/// The profile settings form, as typed.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct ProfileForm {
    pub display_name: String,
    pub bio: String,
    pub city: String,
    pub time_zone: String,
    pub interests: String,
    /// Addresses used elsewhere, such as @name@mastodon.social, separated by commas or spaces.
    #[serde(default)]
    pub addresses: String,
}

/// A checked profile update.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileUpdate {
    pub display_name: String,
    pub bio: String,
    pub city: String,
    pub time_zone: String,
    pub interests: Vec<String>,
    pub addresses: Vec<String>,
}

impl ProfileForm {
    pub fn validate(&self) -> Result<ProfileUpdate, FieldErrors> {
        let mut errors = FieldErrors::default();
        let display_name = validate_display_name(&self.display_name, &mut errors);
        let bio = TextField { name: "bio", max_chars: MAX_BIO_CHARS, multiline: true, required: None }
            .check(&self.bio, &mut errors);
        let city =
            TextField { name: "city", max_chars: 80, multiline: false, required: None }.check(&self.city, &mut errors);
        let time_zone = self.time_zone.trim().to_owned();
        if time_zone.parse::<chrono_tz::Tz>().is_err() {
            errors.add("time_zone", "Choose a time zone from the list.");
        }
        let interests = parse_interests(&self.interests, &mut errors);
        let addresses = crate::social::model::parse_addresses(&self.addresses).unwrap_or_else(|message| {
            errors.add("addresses", message);
            Vec::new()
        });
        errors.into_result(ProfileUpdate { display_name, bio, city, time_zone, interests, addresses })
    }
}

/// One weekly window of availability, in the member's own wall-clock time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub weekday: i16,
    pub start_minute: i16,
    pub end_minute: i16,
}

impl Window {
    pub fn overlaps(&self, other: &Window) -> bool {
        self.weekday == other.weekday && self.start_minute < other.end_minute && other.start_minute < self.end_minute
    }

    pub fn day_name(&self) -> &'static str {
        WEEKDAYS[usize::try_from(self.weekday).unwrap_or(0) % 7]
    }

    pub fn from_label(&self) -> String {
        clock(self.start_minute)
    }

    pub fn to_label(&self) -> String {
        clock(self.end_minute)
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}–{}", self.day_name(), self.from_label(), self.to_label())
    }
}

fn clock(minute: i16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// `HH:MM`; `24:00` is accepted as the end of the day.
fn parse_clock(raw: &str) -> Option<i16> {
    let (h, m) = raw.trim().split_once(':')?;
    let (h, m): (i16, i16) = (h.parse().ok()?, m.parse().ok()?);
    // Ranges first: "600:00" must be refused, not multiplied past i16.
    match (h, m) {
        (0..=23, 0..=59) => Some(h * 60 + m),
        (24, 0) => Some(1440),
        _ => None,
    }
}

/// The add-a-window form, as typed.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct WindowForm {
    pub weekday: String,
    pub from: String,
    pub to: String,
}

impl WindowForm {
    /// Checks the window on its own and against the member's existing ones.
    pub fn validate(&self, existing: &[Window]) -> Result<Window, FieldErrors> {
        let mut errors = FieldErrors::default();
        let weekday = self.weekday.trim().parse::<i16>().ok().filter(|d| (0..7).contains(d));
        if weekday.is_none() {
            errors.add("weekday", "Choose a day of the week.");
        }
        let start = parse_clock(&self.from).filter(|m| *m < 1440);
        if start.is_none() {
            errors.add("from", "Enter a time such as 18:30.");
        }
        let end = parse_clock(&self.to);
        if end.is_none() {
            errors.add("to", "Enter a time such as 20:00 (24:00 for midnight).");
        }
        let (Some(weekday), Some(start_minute), Some(end_minute)) = (weekday, start, end) else {
            return Err(errors);
        };
        if end_minute <= start_minute {
            errors.add("to", "The window must end after it starts.");
            return Err(errors);
        }
        let window = Window { weekday, start_minute, end_minute };
        if let Some(clash) = existing.iter().find(|w| w.overlaps(&window)) {
            errors.add("from", format!("This overlaps your window {clash}."));
        } else if existing.len() >= MAX_WINDOWS {
            errors.add("weekday", format!("You can keep up to {MAX_WINDOWS} windows; remove one first."));
        }
        errors.into_result(window)
    }
}

/// The privacy form. Unticked checkboxes are simply absent from the posted form.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct PrivacyForm {
    pub invite_policy: String,
    pub listed: Option<String>,
    pub matching: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Privacy {
    pub invite_policy: InvitePolicy,
    pub listed: bool,
    pub matching: bool,
}

impl PrivacyForm {
    pub fn validate(&self) -> Result<Privacy, FieldErrors> {
        let mut errors = FieldErrors::default();
        let policy = InvitePolicy::ALL.into_iter().find(|p| p.value() == self.invite_policy);
        if policy.is_none() {
            errors.add("invite_policy", "Choose who may invite you.");
        }
        errors.into_result(Privacy {
            invite_policy: policy.unwrap_or(InvitePolicy::Anyone),
            listed: self.listed.is_some(),
            matching: self.matching.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(day: i16, from: &str, to: &str) -> WindowForm {
        WindowForm { weekday: day.to_string(), from: from.to_owned(), to: to.to_owned() }
    }

    #[test]
    fn windows_that_end_before_they_start_or_are_empty_are_refused() {
        assert_eq!(
            window(0, "18:00", "18:00").validate(&[]).unwrap_err().get("to"),
            Some("The window must end after it starts.")
        );
        assert!(window(0, "18:00", "17:00").validate(&[]).is_err());
        assert!(window(0, "25:00", "26:00").validate(&[]).is_err());
        assert!(window(7, "10:00", "11:00").validate(&[]).is_err());
    }

    #[test]
    fn overlapping_windows_are_refused_and_touching_ones_allowed() {
        let existing = [Window { weekday: 2, start_minute: 18 * 60, end_minute: 20 * 60 }];
        let clash = window(2, "19:00", "21:00").validate(&existing).unwrap_err();
        assert_eq!(clash.get("from"), Some("This overlaps your window Wednesday 18:00–20:00."));
        assert!(window(2, "20:00", "21:00").validate(&existing).is_ok());
        assert!(window(3, "19:00", "21:00").validate(&existing).is_ok());
    }

    #[test]
    fn clock_times_out_of_range_are_refused_not_overflowed() {
        for bad in ["600:00", "24:01", "1092:1456", "-1:00", "12:60", "99999:0"] {
            assert!(window(0, "10:00", bad).validate(&[]).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_window_may_run_to_midnight() {
        let w = window(6, "22:00", "24:00").validate(&[]).unwrap();
        assert_eq!((w.start_minute, w.end_minute), (1320, 1440));
        assert_eq!(w.to_string(), "Sunday 22:00–24:00");
    }

    #[test]
    fn interests_become_distinct_lower_case_tags() {
        let mut errors = FieldErrors::default();
        let tags = parse_interests("Climbing, board  games,climbing, ,Jazz", &mut errors);
        assert!(errors.is_empty());
        assert_eq!(tags, ["climbing", "board games", "jazz"]);
        parse_interests("<script>", &mut errors);
        assert!(errors.get("interests").is_some());
    }

    #[test]
    fn profile_validation_reports_each_field() {
        let form = ProfileForm {
            display_name: " ".into(),
            bio: "x".repeat(501),
            city: "Lon\0don".into(),
            time_zone: "Mars/Olympus".into(),
            interests: "tea".into(),
            addresses: "nope".into(),
        };
        let errors = form.validate().unwrap_err();
        for field in ["display_name", "bio", "city", "time_zone", "addresses"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn handles_and_emails_are_checked() {
        let mut errors = FieldErrors::default();
        assert_eq!(validate_handle(" @Ada_L ", &mut errors), "Ada_L");
        assert!(errors.is_empty());
        validate_handle("a b", &mut errors);
        validate_email("not-an-email", &mut errors);
        assert!(errors.get("handle").is_some() && errors.get("email").is_some());
    }

    #[test]
    fn roles_parse_from_the_command_line() {
        assert_eq!("Admin".parse::<Role>(), Ok(Role::Admin));
        assert_eq!("organizer".parse::<Role>(), Ok(Role::Organiser));
        assert!("owner".parse::<Role>().is_err());
    }
}
