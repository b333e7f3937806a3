//! Meetups' types, the rules of the organiser's form, repeats, the description's rendering and
//! what members are told. Pure: no I/O.

use chrono::{DateTime, Duration, LocalResult, Months, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::invitations::model::{local_label, read_local};
use crate::members::model::Status;
use crate::notify::model::{Kind, Notice};
use crate::web::FieldErrors;
use crate::web::bidi::isolate;
use crate::web::forms::TextField;

#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq)]
#[sqlx(type_name = "meetup_visibility", rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Followers,
}

impl Visibility {
    pub const ALL: [Visibility; 2] = [Visibility::Public, Visibility::Followers];

    pub fn value(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Followers => "followers",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Visibility::Public => "Public: anyone can see it, logged in or not",
            Visibility::Followers => "Followers only: people who follow me",
        }
    }
}

#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq)]
#[sqlx(type_name = "rsvp_status", rename_all = "lowercase")]
pub enum RsvpStatus {
    Going,
    Waitlisted,
    Cancelled,
}

/// A meetup with its organiser, venue and seat counts, as its pages, feeds and notices show it.
#[derive(Clone, Debug)]
pub struct Meetup {
    pub id: i64,
    pub organiser_id: i64,
    pub organiser_handle: String,
    pub organiser_name: String,
    pub organiser_status: Status,
    /// The organiser's photo while they are active.
    pub organiser_photo_id: Option<i64>,
    pub venue_id: i64,
    pub venue_name: String,
    pub venue_address: String,
    pub venue_city: String,
    pub venue_zone: String,
    pub venue_step_free: bool,
    pub venue_quiet: bool,
    pub venue_notes: String,
    pub title: String,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub visibility: Visibility,
    pub rsvp_deadline: Option<DateTime<Utc>>,
    pub followers_invited_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub going: i64,
    pub waitlisted: i64,
    pub updated_at: DateTime<Utc>,
}

/// From an hour before the start ...
pub const CHECK_IN_OPENS: Duration = Duration::hours(1);
/// ... until a day after it, the organiser checks people in.
pub const CHECK_IN_CLOSES: Duration = Duration::days(1);
/// "I met them" can be ticked for this long after the end.
pub const MET_TICKS_CLOSE: Duration = Duration::days(30);
pub const MAX_CAPACITY: i32 = 500;
/// Weekly repeats add this many meetups after the first; monthly ones `MONTHLY_REPEATS`.
pub const WEEKLY_REPEATS: u32 = 8;
pub const MONTHLY_REPEATS: u32 = 3;

impl Meetup {
    /// The venue's zone; venues are checked to have a valid one when proposed.
    pub fn zone(&self) -> Tz {
        self.venue_zone.parse().unwrap_or(Tz::UTC)
    }

    /// When it starts, at the venue, labelled with the zone's abbreviation.
    pub fn when(&self) -> String {
        local_label(self.starts_at, self.zone())
    }

    /// When it ends, at the venue (the time only when it ends the same day).
    pub fn until(&self) -> String {
        let (start, end) = (self.starts_at.with_timezone(&self.zone()), self.ends_at.with_timezone(&self.zone()));
        if start.date_naive() == end.date_naive() {
            end.format("%H:%M (%Z)").to_string()
        } else {
            local_label(self.ends_at, self.zone())
        }
    }

    /// When it starts, in `zone` (the viewer's), when that differs from the venue's.
    pub fn when_in(&self, zone: Tz) -> Option<String> {
        let here = self.starts_at.with_timezone(&zone);
        let there = self.starts_at.with_timezone(&self.zone());
        (here.offset().to_string() != there.offset().to_string()).then(|| local_label(self.starts_at, zone))
    }

    pub fn seats_left(&self) -> i64 {
        (i64::from(self.capacity) - self.going).max(0)
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled_at.is_some()
    }

    pub fn is_public(&self) -> bool {
        self.visibility == Visibility::Public
    }

    /// Whether new RSVPs are taken at `now`: not cancelled, before the deadline and the start.
    pub fn rsvp_closed(&self, now: DateTime<Utc>) -> Option<&'static str> {
        if self.is_cancelled() {
            Some("This meetup is cancelled.")
        } else if now >= self.starts_at {
            Some("This meetup has started, so it takes no more RSVPs.")
        } else if self.rsvp_deadline.is_some_and(|deadline| now >= deadline) {
            Some("The RSVP deadline for this meetup has passed.")
        } else {
            None
        }
    }

    /// Whether the organiser can check people in at `now`.
    pub fn check_in_open(&self, now: DateTime<Utc>) -> bool {
        !self.is_cancelled() && now >= self.starts_at - CHECK_IN_OPENS && now <= self.starts_at + CHECK_IN_CLOSES
    }

    /// Whether attendees can say whom they met at `now`.
    pub fn met_ticks_open(&self, now: DateTime<Utc>) -> bool {
        !self.is_cancelled() && now >= self.ends_at && now <= self.ends_at + MET_TICKS_CLOSE
    }

    pub fn is_past(&self, now: DateTime<Utc>) -> bool {
        now >= self.ends_at
    }

    /// The venue's access notes, as one line.
    pub fn access(&self) -> String {
        let mut notes = Vec::new();
        if self.venue_step_free {
            notes.push("Step-free access".to_owned());
        }
        if self.venue_quiet {
            notes.push("Quiet".to_owned());
        }
        if !self.venue_notes.is_empty() {
            notes.push(self.venue_notes.clone());
        }
        notes.join(" · ")
    }

    pub fn description_parts(&self) -> Vec<Part> {
        render_description(&self.description)
    }

    /// Where it is, in one line.
    pub fn place(&self) -> String {
        format!("{}, {}, {}", self.venue_name, self.venue_address, self.venue_city)
    }
}

/// One piece of a rendered description: the template escapes text and link alike, so nothing
/// a member typed can become markup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Link(String),
    Break,
}

/// Plain text with its line breaks kept and its http(s) addresses made into links. A trailing
/// full stop, comma or closing bracket is left out of a link, as people end sentences with them.
pub fn render_description(text: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            parts.push(Part::Break);
        }
        let mut rest = line;
        while let Some(start) = find_link_start(rest) {
            let end = rest[start..].find(char::is_whitespace).map_or(rest.len(), |e| start + e);
            let mut link = &rest[start..end];
            while let Some(trimmed) = link.strip_suffix(['.', ',', ')', ';', ':', '!', '?', '"', '\'']) {
                link = trimmed;
            }
            let end = start + link.len();
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            if link.len() > "https://".len() {
                parts.push(Part::Link(link.to_owned()));
            } else {
                parts.push(Part::Text(link.to_owned()));
            }
            rest = &rest[end..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
    }
    parts
}

fn find_link_start(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    [lower.find("https://"), lower.find("http://")].into_iter().flatten().min()
}

/// How a meetup repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    Never,
    Weekly,
    Monthly,
}

impl Repeat {
    pub const ALL: [Repeat; 3] = [Repeat::Never, Repeat::Weekly, Repeat::Monthly];

    pub fn value(self) -> &'static str {
        match self {
            Repeat::Never => "",
            Repeat::Weekly => "weekly",
            Repeat::Monthly => "monthly",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Repeat::Never => "Just this once",
            Repeat::Weekly => "Every week for the next 8 weeks",
            Repeat::Monthly => "Every month for the next 3 months",
        }
    }
}

/// The organiser's form, as typed.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct MeetupForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub venue_id: String,
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: String,
    #[serde(default)]
    pub capacity: String,
    #[serde(default)]
    pub visibility: String,
    #[serde(default)]
    pub rsvp_deadline: String,
    #[serde(default)]
    pub repeat: String,
}

pub const TITLE_FIELD: TextField =
    TextField { name: "title", max_chars: 120, multiline: false, required: Some("Give the meetup a title.") };
pub const DESCRIPTION_FIELD: TextField =
    TextField { name: "description", max_chars: 4000, multiline: true, required: None };
pub const ANNOUNCEMENT_FIELD: TextField =
    TextField { name: "text", max_chars: 1000, multiline: true, required: Some("Write what you want to tell them.") };

/// A checked meetup, its times read in the venue's zone.
#[derive(Clone, Debug, PartialEq)]
pub struct MeetupDraft {
    pub title: String,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub visibility: Visibility,
    pub rsvp_deadline: Option<DateTime<Utc>>,
    pub repeat: Repeat,
}

/// As a `datetime-local` field shows an instant in `zone`.
pub fn local_input(time: DateTime<Utc>, zone: Tz) -> String {
    time.with_timezone(&zone).format("%Y-%m-%dT%H:%M").to_string()
}

impl MeetupForm {
    /// The form filled in from a meetup, for editing.
    pub fn from_meetup(meetup: &Meetup) -> MeetupForm {
        let zone = meetup.zone();
        MeetupForm {
            title: meetup.title.clone(),
            description: meetup.description.clone(),
            venue_id: meetup.venue_id.to_string(),
            starts_at: local_input(meetup.starts_at, zone),
            ends_at: local_input(meetup.ends_at, zone),
            capacity: meetup.capacity.to_string(),
            visibility: meetup.visibility.value().to_owned(),
            rsvp_deadline: meetup.rsvp_deadline.map(|d| local_input(d, zone)).unwrap_or_default(),
            repeat: String::new(),
        }
    }

    /// Checks every field; the venue's zone (`None` when no known venue was chosen) reads the
    /// times, and the start must be ahead of `now`.
    pub fn check(&self, zone: Option<Tz>, now: DateTime<Utc>, errors: &mut FieldErrors) -> Option<MeetupDraft> {
        let title = TITLE_FIELD.check(&self.title, errors);
        let description = DESCRIPTION_FIELD.check(&self.description, errors);
        let capacity = match self.capacity.trim().parse::<i32>() {
            Ok(n) if (1..=MAX_CAPACITY).contains(&n) => n,
            _ => {
                errors.add("capacity", format!("Enter a number of seats from 1 to {MAX_CAPACITY}."));
                0
            }
        };
        let visibility = Visibility::ALL.into_iter().find(|v| v.value() == self.visibility.trim());
        if visibility.is_none() {
            errors.add("visibility", "Choose who can see the meetup.");
        }
        let repeat = Repeat::ALL.into_iter().find(|r| r.value() == self.repeat.trim());
        if repeat.is_none() {
            errors.add("repeat", "Choose how the meetup repeats.");
        }
        let Some(zone) = zone else {
            errors.add("venue_id", "Choose one of the approved places listed.");
            return None;
        };
        let mut time =
            |field: &'static str, raw: &str, missing: Option<&'static str>| -> Option<Option<DateTime<Utc>>> {
                if raw.trim().is_empty() {
                    return match missing {
                        Some(message) => {
                            errors.add(field, message);
                            None
                        }
                        None => Some(None),
                    };
                }
                match read_local(raw, zone) {
                    Ok(time) => Some(Some(time)),
                    Err(message) => {
                        errors.add(field, message);
                        None
                    }
                }
            };
        let starts_at = time("starts_at", &self.starts_at, Some("Say when the meetup starts.")).flatten();
        let ends_at = time("ends_at", &self.ends_at, Some("Say when the meetup ends.")).flatten();
        let rsvp_deadline = time("rsvp_deadline", &self.rsvp_deadline, None);
        if let Some(start) = starts_at {
            if start <= now {
                errors.add("starts_at", "Choose a start in the future.");
            } else if start > now + Duration::days(365) {
                errors.add("starts_at", "Choose a start within the next year.");
            }
            if let Some(end) = ends_at {
                if end <= start {
                    errors.add("ends_at", "The end must come after the start.");
                } else if end - start > Duration::hours(12) {
                    errors.add("ends_at", "A meetup lasts at most 12 hours.");
                }
            }
            match rsvp_deadline {
                Some(Some(deadline)) if deadline > start => {
                    errors.add("rsvp_deadline", "The RSVP deadline must be before the start.");
                }
                Some(Some(deadline)) if deadline <= now => {
                    errors.add("rsvp_deadline", "Choose a deadline in the future, or leave it empty.");
                }
                _ => {}
            }
        }
        if !errors.is_empty() {
            return None;
        }
        Some(MeetupDraft {
            title,
            description,
            starts_at: starts_at?,
            ends_at: ends_at?,
            capacity,
            visibility: visibility?,
            rsvp_deadline: rsvp_deadline?,
            repeat: repeat?,
        })
    }
}

impl MeetupDraft {
    /// This meetup and its repeats: the same wall-clock times at the venue each week or month,
    /// whatever the clocks did in between. A day the month lacks (the 31st) becomes the month's
    /// last; an hour the clocks skip becomes the hour after, and one they repeat the first.
    pub fn occurrences(&self, zone: Tz) -> Vec<MeetupDraft> {
        let count = match self.repeat {
            Repeat::Never => 0,
            Repeat::Weekly => WEEKLY_REPEATS,
            Repeat::Monthly => MONTHLY_REPEATS,
        };
        let local = |t: DateTime<Utc>| t.with_timezone(&zone).naive_local();
        let (start, end) = (local(self.starts_at), local(self.ends_at));
        let deadline = self.rsvp_deadline.map(local);
        (0..=count)
            .map(|k| {
                let shift = |t: NaiveDateTime| -> DateTime<Utc> {
                    let moved = match self.repeat {
                        Repeat::Monthly => t.checked_add_months(Months::new(k)).unwrap_or(t),
                        _ => t + Duration::weeks(i64::from(k)),
                    };
                    in_zone(moved, zone)
                };
                MeetupDraft {
                    starts_at: shift(start),
                    ends_at: shift(end),
                    rsvp_deadline: deadline.map(shift),
                    repeat: Repeat::Never,
                    ..self.clone()
                }
            })
            .collect()
    }
}

/// A wall-clock time at a place as an instant, for times computed rather than typed.
fn in_zone(local: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => in_zone(local + Duration::hours(1), zone),
    }
}

/// "1st", "2nd", "3rd", "4th", "11th", "21st".
pub fn ordinal(n: i64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// What a member is told about a meetup. `extra` is the organiser's announcement, or what
/// moved for a change. What members typed is marked with `isolate`, so that its direction
/// cannot turn the sentence around it.
pub fn notice(kind: Kind, meetup: &Meetup, extra: &str) -> Notice {
    let title = isolate(&meetup.title);
    let organiser = isolate(&meetup.organiser_name);
    let text = match kind {
        Kind::MeetupInvited => format!("{organiser} invites you to “{title}” at {}", isolate(&meetup.venue_name)),
        Kind::MeetupPromoted => format!("A seat freed up: you are going to “{title}”"),
        Kind::MeetupChanged => format!("“{title}” has moved: {}", meetup.when()),
        Kind::MeetupCancelled => format!("“{title}” on {} is cancelled", meetup.when()),
        Kind::MeetupAnnouncement => format!("News from {organiser} about “{title}”"),
        _ => format!("News of “{title}”"),
    };
    let mut body = vec![text.clone(), String::new()];
    if !extra.is_empty() {
        body.push(extra.to_owned());
        body.push(String::new());
    }
    body.push(format!("When: {} to {}", meetup.when(), meetup.until()));
    body.push(format!("Where: {}", isolate(&meetup.place())));
    body.push(format!("Organised by {organiser} (@{})", meetup.organiser_handle));
    let (link, actor) = (format!("/meetups/{}", meetup.id), Some(meetup.organiser_id));
    Notice { kind, text, body: body.join("\n"), link, actor }
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, Timelike};
    use chrono_tz::Europe::London;

    use super::*;

    fn local_day(time: DateTime<Utc>, zone: Tz) -> (i32, u32, u32) {
        let local = time.with_timezone(&zone);
        (local.year(), local.month(), local.day())
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn form() -> MeetupForm {
        MeetupForm {
            title: "Coffee morning".into(),
            description: "Bring a friend.".into(),
            venue_id: "1".into(),
            starts_at: "2026-03-21T10:00".into(),
            ends_at: "2026-03-21T12:00".into(),
            capacity: "12".into(),
            visibility: "public".into(),
            rsvp_deadline: String::new(),
            repeat: "weekly".into(),
        }
    }

    #[test]
    fn weekly_repeats_keep_the_local_time_across_the_clock_change() {
        let mut errors = FieldErrors::default();
        let draft = form().check(Some(London), now(), &mut errors).expect("valid");
        let all = draft.occurrences(London);
        assert_eq!(all.len(), 1 + WEEKLY_REPEATS as usize);
        // London moves to BST on 29 March 2026: 10:00 GMT is 10:00 UTC, 10:00 BST is 09:00 UTC.
        assert_eq!(all[0].starts_at, Utc.with_ymd_and_hms(2026, 3, 21, 10, 0, 0).unwrap());
        assert_eq!(all[1].starts_at, Utc.with_ymd_and_hms(2026, 3, 28, 10, 0, 0).unwrap());
        assert_eq!(all[2].starts_at, Utc.with_ymd_and_hms(2026, 4, 4, 9, 0, 0).unwrap());
        for occurrence in &all {
            let local = occurrence.starts_at.with_timezone(&London);
            assert_eq!((local.hour(), local.minute()), (10, 0));
            assert_eq!(occurrence.ends_at - occurrence.starts_at, Duration::hours(2));
            assert_eq!(occurrence.repeat, Repeat::Never);
        }
    }

    #[test]
    fn monthly_repeats_land_on_the_months_last_day_when_the_day_is_missing() {
        let f = MeetupForm {
            starts_at: "2026-03-31T18:30".into(),
            ends_at: "2026-03-31T20:00".into(),
            repeat: "monthly".into(),
            ..form()
        };
        let draft = f.check(Some(London), now(), &mut FieldErrors::default()).unwrap();
        let days: Vec<_> = draft.occurrences(London).iter().map(|o| local_day(o.starts_at, London)).collect();
        assert_eq!(days, vec![(2026, 3, 31), (2026, 4, 30), (2026, 5, 31), (2026, 6, 30)]);
    }

    #[test]
    fn bad_input_is_named_field_by_field() {
        let f = MeetupForm {
            title: " ".into(),
            capacity: "501".into(),
            visibility: "secret".into(),
            starts_at: "2026-02-01T10:00".into(),
            ends_at: "2026-01-01T10:00".into(),
            rsvp_deadline: "soon".into(),
            ..form()
        };
        let mut errors = FieldErrors::default();
        assert!(f.check(Some(London), now(), &mut errors).is_none());
        for field in ["title", "capacity", "visibility", "starts_at", "ends_at", "rsvp_deadline"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
        let mut errors = FieldErrors::default();
        assert!(form().check(None, now(), &mut errors).is_none());
        assert!(errors.get("venue_id").is_some());
        let late = MeetupForm { rsvp_deadline: "2026-03-22T09:00".into(), ..form() };
        let mut errors = FieldErrors::default();
        late.check(Some(London), now(), &mut errors);
        assert!(errors.get("rsvp_deadline").unwrap().contains("before the start"));
    }

    #[test]
    fn descriptions_keep_lines_and_link_only_web_addresses() {
        let parts = render_description("Hi <b>all</b>\nSee https://example.org/a?b=1. Or javascript:alert(1)");
        assert_eq!(
            parts,
            vec![
                Part::Text("Hi <b>all</b>".into()),
                Part::Break,
                Part::Text("See ".into()),
                Part::Link("https://example.org/a?b=1".into()),
                Part::Text(". Or javascript:alert(1)".into()),
            ]
        );
        assert_eq!(render_description("http://"), vec![Part::Text("http://".into())]);
    }

    #[test]
    fn ordinals_read_as_english() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111].into_iter().map(ordinal).collect();
        assert_eq!(got, ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]);
    }
}
