//! Reports' types and the rules their forms follow: what can be reported, the categories, a
//! case's states, the daily cap. Pure: no I/O.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::web::FieldErrors;
use crate::web::forms::TextField;

/// A member files at most this many reports ...
pub const DAILY_CAP: i64 = 10;
/// ... in any window this long.
pub const CAP_WINDOW: Duration = Duration::hours(24);

/// When a member who has filed `DAILY_CAP` reports in the window may file again: once the
/// oldest of those leaves the window.
pub fn cap_lifts_at(oldest_counted: DateTime<Utc>) -> DateTime<Utc> {
    oldest_counted + CAP_WINDOW
}

/// What a report is about. The URL says it in lower case (`/report/member/12`).
#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq)]
#[sqlx(type_name = "report_target", rename_all = "lowercase")]
pub enum TargetKind {
    Member,
    Invitation,
    Venue,
    Meetup,
    /// A member's photo: the id is the photo's (`photos.id`), so the admin sees what was
    /// reported even after the member changed it; the case's subject is the member.
    Photo,
}

impl TargetKind {
    pub fn from_path(value: &str) -> Option<TargetKind> {
        match value {
            "member" => Some(TargetKind::Member),
            "invitation" => Some(TargetKind::Invitation),
            "venue" => Some(TargetKind::Venue),
            "meetup" => Some(TargetKind::Meetup),
            "photo" => Some(TargetKind::Photo),
            _ => None,
        }
    }

    pub fn value(self) -> &'static str {
        match self {
            TargetKind::Member => "member",
            TargetKind::Invitation => "invitation",
            TargetKind::Venue => "venue",
            TargetKind::Meetup => "meetup",
            TargetKind::Photo => "photo",
        }
    }

    /// What kind of thing it is, for the queue.
    pub fn label(self) -> &'static str {
        match self {
            TargetKind::Member => "Profile",
            TargetKind::Invitation => "Invitation",
            TargetKind::Venue => "Venue",
            TargetKind::Meetup => "Meetup",
            TargetKind::Photo => "Photo",
        }
    }
}

#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq)]
#[sqlx(type_name = "report_category", rename_all = "snake_case")]
pub enum Category {
    Spam,
    Harassment,
    Impersonation,
    UnsafeBehaviour,
    NoShowPattern,
    Other,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Spam,
        Category::Harassment,
        Category::Impersonation,
        Category::UnsafeBehaviour,
        Category::NoShowPattern,
        Category::Other,
    ];

    /// The value forms and the database use.
    pub fn value(self) -> &'static str {
        match self {
            Category::Spam => "spam",
            Category::Harassment => "harassment",
            Category::Impersonation => "impersonation",
            Category::UnsafeBehaviour => "unsafe_behaviour",
            Category::NoShowPattern => "no_show_pattern",
            Category::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::Spam => "Spam",
            Category::Harassment => "Harassment",
            Category::Impersonation => "Impersonation",
            Category::UnsafeBehaviour => "Unsafe behaviour",
            Category::NoShowPattern => "A pattern of not showing up",
            Category::Other => "Something else",
        }
    }

    /// A line under the choice, so that members pick the same word for the same thing.
    pub fn hint(self) -> &'static str {
        match self {
            Category::Spam => "Advertising, scams, or the same message sent to many people.",
            Category::Harassment => "Unwanted contact, insults, threats, or pressure after a no.",
            Category::Impersonation => "Pretending to be someone else.",
            Category::UnsafeBehaviour => "Anything that made you or someone else feel unsafe when meeting.",
            Category::NoShowPattern => "Agrees to meet and repeatedly does not come.",
            Category::Other => "Tell us below what is wrong.",
        }
    }

    pub fn from_value(value: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.value() == value)
    }
}

#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq)]
#[sqlx(type_name = "case_status", rename_all = "lowercase")]
pub enum CaseStatus {
    Open,
    Resolved,
    Dismissed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 3] = [CaseStatus::Open, CaseStatus::Resolved, CaseStatus::Dismissed];

    pub fn value(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Resolved => "resolved",
            CaseStatus::Dismissed => "dismissed",
        }
    }

    /// The queue's tabs.
    pub fn label(self) -> &'static str {
        match self {
            CaseStatus::Open => "Open",
            CaseStatus::Resolved => "Resolved",
            CaseStatus::Dismissed => "Dismissed",
        }
    }

    /// What a reporter is told about their report.
    pub fn outcome_label(self) -> &'static str {
        match self {
            CaseStatus::Open => "Open",
            CaseStatus::Resolved => "Action taken",
            CaseStatus::Dismissed => "No action",
        }
    }

    pub fn from_value(value: &str) -> Option<CaseStatus> {
        CaseStatus::ALL.into_iter().find(|s| s.value() == value)
    }
}

pub const DETAILS_FIELD: TextField = TextField { name: "details", max_chars: 2000, multiline: true, required: None };
/// What the reporters are told when a case is closed (the table allows 500 characters).
pub const OUTCOME_MAX_CHARS: usize = 500;
pub const NOTE_FIELD: TextField =
    TextField { name: "body", max_chars: 2000, multiline: true, required: Some("Write the note before adding it.") };

/// The report form as typed.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ReportForm {
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub details: String,
}

/// A report that passed the form's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReport {
    pub category: Category,
    pub details: String,
}

impl ReportForm {
    /// A category is required; details are trimmed, at most 2,000 characters, and required
    /// for "something else", which says nothing on its own.
    pub fn validate(&self) -> Result<NewReport, FieldErrors> {
        let mut errors = FieldErrors::default();
        let category = Category::from_value(&self.category);
        if category.is_none() {
            errors.add("category", "Choose what kind of problem this is.");
        }
        let details = DETAILS_FIELD.check(&self.details, &mut errors);
        if category == Some(Category::Other) && details.is_empty() {
            errors.add("details", "Tell us in a few words what is wrong.");
        }
        match category {
            Some(category) if errors.is_empty() => Ok(NewReport { category, details }),
            _ => Err(errors),
        }
    }

    pub fn is_chosen(&self, category: &Category) -> bool {
        self.category == category.value()
    }
}

/// An admin's decision on a case, with what the reporters will read.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    pub outcome: String,
    /// How many reports the admin's page showed: a report that arrived since gives 409, so no
    /// case is decided over a report its admin has not read.
    pub seen: Option<i64>,
}

/// The outcome text for a decision whose form field is `field`.
pub fn check_outcome(field: &'static str, raw: &str, errors: &mut FieldErrors) -> String {
    let rule = TextField {
        name: field,
        max_chars: OUTCOME_MAX_CHARS,
        multiline: true,
        required: Some("Write what the reporters will be told."),
    };
    rule.check(raw, errors)
}

/// An admin's note on a case.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    pub body: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(category: &str, details: &str) -> ReportForm {
        ReportForm { category: category.to_owned(), details: details.to_owned() }
    }

    #[test]
    fn a_report_needs_a_known_category() {
        let errors = form("", "x").validate().unwrap_err();
        assert!(errors.get("category").is_some());
        assert!(form("rudeness", "x").validate().is_err());
        let ok = form("unsafe_behaviour", "  Followed me home.  ").validate().unwrap();
        assert_eq!(ok, NewReport { category: Category::UnsafeBehaviour, details: "Followed me home.".to_owned() });
        assert_eq!(form("spam", "").validate().unwrap().details, "");
    }

    #[test]
    fn details_are_at_most_2000_characters_and_required_for_other() {
        assert!(form("spam", &"é".repeat(2000)).validate().is_ok());
        let errors = form("spam", &"é".repeat(2001)).validate().unwrap_err();
        assert_eq!(errors.get("details"), Some("Keep it to 2000 characters (it has 2001)."));
        assert!(form("other", "   ").validate().unwrap_err().get("details").is_some());
        assert!(form("spam", "a\0b").validate().unwrap_err().get("details").is_some());
        assert_eq!(form("harassment", "line one\r\nline two").validate().unwrap().details, "line one\nline two");
    }

    #[test]
    fn values_round_trip() {
        for category in Category::ALL {
            assert_eq!(Category::from_value(category.value()), Some(category));
        }
        for status in CaseStatus::ALL {
            assert_eq!(CaseStatus::from_value(status.value()), Some(status));
        }
        for kind in
            [TargetKind::Member, TargetKind::Invitation, TargetKind::Venue, TargetKind::Meetup, TargetKind::Photo]
        {
            assert_eq!(TargetKind::from_path(kind.value()), Some(kind));
        }
        assert_eq!(TargetKind::from_path("Member"), None);
    }

    #[test]
    fn outcomes_are_required_and_short() {
        let mut errors = FieldErrors::default();
        check_outcome("resolve_outcome", " ", &mut errors);
        assert!(errors.get("resolve_outcome").is_some());
        let mut errors = FieldErrors::default();
        check_outcome("dismiss_outcome", &"a".repeat(501), &mut errors);
        assert!(errors.get("dismiss_outcome").is_some());
        let mut errors = FieldErrors::default();
        assert_eq!(check_outcome("resolve_outcome", " Warned. ", &mut errors), "Warned.");
        assert!(errors.is_empty());
    }

    #[test]
    fn the_cap_lifts_a_day_after_the_oldest_counted_report() {
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(cap_lifts_at(t), t + Duration::hours(24));
    }
}
