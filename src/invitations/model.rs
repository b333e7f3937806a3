//! An invitation's life cycle, and the rules of the forms that drive it. Pure: no I/O.
//!
//! ```text
//!             counter (invitee)                       hold (after the hour)
//!   Pending ───────────────────▶ Countered   Accepted ─────────────────────▶ Held
//!      ▲  ◀─────────────────────── │            ▲  │
//!      │        counter (inviter)  │            │  └─ cancel (either) ─▶ Cancelled
//!      └── accept (whoever answers) ┴────────────┘
//!   Pending, Countered ── decline (whoever answers) ─▶ Declined
//!                      ── cancel (inviter) ─────────▶ Cancelled
//!                      ── expire (all times passed) ▶ Expired
//! ```
//! Whoever must answer is the invitee while pending and the inviter once countered: a counter
//! hands the choice back.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::members::model::Status;
use crate::web::FieldErrors;
use crate::web::forms::TextField;

#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq)]
#[sqlx(type_name = "invitation_state", rename_all = "lowercase")]
pub enum State {
    Pending,
    Countered,
    Accepted,
    Held,
    Declined,
    Cancelled,
    Expired,
}

/// An invitation with both people and its venue, as its pages and notices show it.
#[derive(Clone, Debug)]
pub struct Invitation {
    pub id: i64,
    pub state: State,
    pub inviter_id: i64,
    pub inviter_handle: String,
    pub inviter_name: String,
    pub inviter_status: Status,
    /// The inviter's photo while they are active (no one may fetch anyone else's).
    pub inviter_photo_id: Option<i64>,
    pub invitee_id: i64,
    pub invitee_handle: String,
    pub invitee_name: String,
    pub invitee_status: Status,
    /// The invitee's photo while they are active.
    pub invitee_photo_id: Option<i64>,
    pub venue_id: i64,
    pub venue_name: String,
    pub venue_address: String,
    pub venue_city: String,
    pub venue_zone: String,
    pub proposed_times: Vec<DateTime<Utc>>,
    /// Who put `proposed_times` on the table: the inviter, or whoever countered last.
    pub proposed_by: i64,
    pub accepted_time: Option<DateTime<Utc>>,
    pub note: String,
    pub closing_note: String,
    pub closed_by: Option<i64>,
    pub inviter_answer: Option<MetAnswer>,
    pub invitee_answer: Option<MetAnswer>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Invitation {
    /// Which side `member` is on, if either.
    pub fn side_of(&self, member: i64) -> Option<Side> {
        if member == self.inviter_id {
            Some(Side::Inviter)
        } else if member == self.invitee_id {
            Some(Side::Invitee)
        } else {
            None
        }
    }

    /// The other side's id, name and handle.
    pub fn other(&self, side: Side) -> (i64, &str, &str) {
        match side {
            Side::Inviter => (self.invitee_id, &self.invitee_name, &self.invitee_handle),
            Side::Invitee => (self.inviter_id, &self.inviter_name, &self.inviter_handle),
        }
    }

    /// The other side's photo, if they have one to show.
    pub fn other_photo(&self, side: Side) -> Option<i64> {
        match side {
            Side::Inviter => self.invitee_photo_id,
            Side::Invitee => self.inviter_photo_id,
        }
    }

    pub fn answer_of(&self, side: Side) -> Option<MetAnswer> {
        match side {
            Side::Inviter => self.inviter_answer,
            Side::Invitee => self.invitee_answer,
        }
    }

    /// The other person's display name, as `member` sees it ("" for a stranger).
    pub fn other_name_for(&self, member: i64) -> &str {
        self.side_of(member).map_or("", |side| self.other(side).1)
    }

    /// Whether the invitation waits for `member`'s answer.
    pub fn waits_for(&self, member: i64) -> bool {
        self.state.to_answer().is_some() && self.state.to_answer() == self.side_of(member)
    }

    /// A held coffee `member` has not yet said whether they met at.
    pub fn asks_met(&self, member: i64) -> bool {
        self.state == State::Held && self.side_of(member).is_some_and(|side| self.answer_of(side).is_none())
    }

    /// The venue's zone; venues are checked to have a valid one when proposed.
    pub fn zone(&self) -> Tz {
        self.venue_zone.parse().unwrap_or(Tz::UTC)
    }

    /// When the coffee is (or was), in the venue's zone.
    pub fn when(&self) -> Option<String> {
        self.accepted_time.map(|t| local_label(t, self.zone()))
    }

    /// Every proposed time in the venue's zone, with its instant (unix seconds) for forms.
    pub fn choices(&self) -> Vec<(i64, String)> {
        self.open_choices(DateTime::<Utc>::MIN_UTC)
    }

    /// The proposed times after `now`, which are the only ones that can be accepted.
    pub fn open_choices(&self, now: DateTime<Utc>) -> Vec<(i64, String)> {
        self.proposed_times
            .iter()
            .filter(|t| **t > now)
            .map(|t| (t.timestamp(), local_label(*t, self.zone())))
            .collect()
    }
}

/// The two sides of an invitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Inviter,
    Invitee,
}

/// Everything that can happen to an invitation. `Expire` and `Hold` are the background jobs'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Accept,
    Decline,
    Counter,
    Cancel,
    Expire,
    Hold,
}

/// Why a move is refused. `NotYours` is answered 403, `NotNow` 409.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    NotYours,
    NotNow,
}

/// How long a coffee is taken to last (for calendars, and for when "did you meet?" is asked).
pub const COFFEE_LENGTH: Duration = Duration::hours(1);
/// At most this many times per proposal.
pub const MAX_TIMES: usize = 3;
/// Proposed times may be at most this far ahead.
pub const HORIZON_DAYS: i64 = 90;
/// A member may have at most this many sent invitations waiting for an answer.
pub const MAX_OPEN_SENT: i64 = 10;

impl State {
    pub const ALL: [State; 7] = [
        State::Pending,
        State::Countered,
        State::Accepted,
        State::Held,
        State::Declined,
        State::Cancelled,
        State::Expired,
    ];

    /// The value forms and the database use.
    pub fn value(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Countered => "countered",
            State::Accepted => "accepted",
            State::Held => "held",
            State::Declined => "declined",
            State::Cancelled => "cancelled",
            State::Expired => "expired",
        }
    }

    pub fn from_value(value: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.value() == value)
    }

    /// Still open: waiting for an answer, or an agreed coffee not yet held (the partial
    /// unique index `invitations_open_pair` and the list's order say the same).
    pub fn is_open(self) -> bool {
        matches!(self, State::Pending | State::Countered | State::Accepted)
    }

    /// Whose answer the invitation waits for, if anyone's.
    pub fn to_answer(self) -> Option<Side> {
        match self {
            State::Pending => Some(Side::Invitee),
            State::Countered => Some(Side::Inviter),
            _ => None,
        }
    }

    /// The state after `action` by `actor` (`None` for the background jobs), or why not.
    pub fn next(self, action: Action, actor: Option<Side>) -> Result<State, Refusal> {
        let answering = self.to_answer();
        match (self, action) {
            (State::Pending | State::Countered, Action::Accept | Action::Decline | Action::Counter) => {
                if actor.is_none() || actor != answering {
                    return Err(Refusal::NotYours);
                }
                Ok(match action {
                    Action::Accept => State::Accepted,
                    Action::Decline => State::Declined,
                    _ if self == State::Pending => State::Countered,
                    _ => State::Pending,
                })
            }
            (State::Pending | State::Countered, Action::Cancel) => match actor {
                Some(Side::Inviter) => Ok(State::Cancelled),
                _ => Err(Refusal::NotYours),
            },
            (State::Accepted, Action::Cancel) => match actor {
                Some(_) => Ok(State::Cancelled),
                None => Err(Refusal::NotYours),
            },
            (State::Pending | State::Countered, Action::Expire) | (State::Accepted, Action::Hold) => match actor {
                None => Ok(if action == Action::Hold { State::Held } else { State::Expired }),
                Some(_) => Err(Refusal::NotYours),
            },
            _ => Err(Refusal::NotNow),
        }
    }

    /// How the invitation pages name the state.
    pub fn label(self) -> &'static str {
        match self {
            State::Pending | State::Countered => "Waiting for an answer",
            State::Accepted => "Coffee agreed",
            State::Held => "Happened",
            State::Declined => "Declined",
            State::Cancelled => "Cancelled",
            State::Expired => "Expired",
        }
    }
}

/// What one side says after a held coffee.
#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq)]
#[sqlx(type_name = "met_answer", rename_all = "snake_case")]
pub enum MetAnswer {
    Met,
    NoShow,
}

impl MetAnswer {
    pub fn from_value(value: &str) -> Option<MetAnswer> {
        match value {
            "met" => Some(MetAnswer::Met),
            "no_show" => Some(MetAnswer::NoShow),
            _ => None,
        }
    }
}

/// Two yeses make a met pair; anything else records nothing shared.
pub fn both_met(inviter: Option<MetAnswer>, invitee: Option<MetAnswer>) -> bool {
    inviter == Some(MetAnswer::Met) && invitee == Some(MetAnswer::Met)
}

/// The time fields of an invitation or counter-proposal, as typed (`datetime-local` values).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct TimesForm {
    #[serde(default)]
    pub time1: String,
    #[serde(default)]
    pub time2: String,
    #[serde(default)]
    pub time3: String,
}

impl TimesForm {
    pub fn raw(&self) -> [(&'static str, &str); MAX_TIMES] {
        [("time1", &self.time1), ("time2", &self.time2), ("time3", &self.time3)]
    }

    /// Reads the filled-in times as wall-clock times in `zone`: at least one, each in the
    /// future and within the horizon, none twice. Sorted, earliest first.
    pub fn check(&self, zone: Tz, now: DateTime<Utc>, errors: &mut FieldErrors) -> Vec<DateTime<Utc>> {
        let mut times = Vec::new();
        for (field, raw) in self.raw() {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let time = match read_local(raw, zone) {
                Ok(time) => time,
                Err(message) => {
                    errors.add(field, message);
                    continue;
                }
            };
            if time <= now {
                errors.add(field, "Choose a time in the future.");
            } else if time > now + Duration::days(HORIZON_DAYS) {
                errors.add(field, format!("Choose a time within the next {HORIZON_DAYS} days."));
            } else if times.contains(&time) {
                errors.add(field, "This time is already proposed.");
            } else {
                times.push(time);
            }
        }
        if times.is_empty() && errors.get("time1").is_none() {
            errors.add("time1", "Propose at least one time.");
        }
        times.sort();
        times
    }
}

/// A wall-clock time typed at a place (a `datetime-local` value) read in that place's zone: the
/// first of an hour that happens twice; a skipped hour is refused with a message to show.
pub fn read_local(raw: &str, zone: Tz) -> Result<DateTime<Utc>, String> {
    let naive = parse_local(raw.trim()).ok_or("Enter a date and time, such as 2026-12-01 10:30.")?;
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        // The hour the clocks go back happens twice: take the first.
        LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
        LocalResult::None => Err(format!("That time does not exist in {zone}: the clocks change then.")),
    }
}

/// `datetime-local` sends `2026-12-01T10:30` (seconds optional); people typing by hand often
/// use a space.
fn parse_local(raw: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
}

/// The invitation form, as typed.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    pub venue_id: String,
    #[serde(flatten)]
    pub times: TimesForm,
    #[serde(default)]
    pub note: String,
}

pub const NOTE_FIELD: TextField = TextField { name: "note", max_chars: 500, multiline: true, required: None };

/// A time as an invitation page shows it: in the venue's zone, labelled.
pub fn local_label(time: DateTime<Utc>, zone: Tz) -> String {
    time.with_timezone(&zone).format("%a %-d %b %Y, %H:%M (%Z)").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use State::*;

    const PEOPLE: [Option<Side>; 3] = [Some(Side::Inviter), Some(Side::Invitee), None];

    /// Every (state, action, actor) and its expected outcome: the whole table, so a change to
    /// any transition shows here.
    #[test]
    fn every_transition() {
        use Refusal::*;
        let inviter = Some(Side::Inviter);
        let invitee = Some(Side::Invitee);
        let expected = |state: State, action: Action, actor: Option<Side>| -> Result<State, Refusal> {
            match (state, action, actor) {
                (Pending, Accept, a) if a == invitee => Ok(Accepted),
                (Pending, Decline, a) if a == invitee => Ok(Declined),
                (Pending, Counter, a) if a == invitee => Ok(Countered),
                (Countered, Accept, a) if a == inviter => Ok(Accepted),
                (Countered, Decline, a) if a == inviter => Ok(Declined),
                (Countered, Counter, a) if a == inviter => Ok(Pending),
                (Pending | Countered, Accept | Decline | Counter, _) => Err(NotYours),
                (Pending | Countered, Cancel, a) if a == inviter => Ok(Cancelled),
                (Pending | Countered, Cancel, _) => Err(NotYours),
                (Accepted, Cancel, Some(_)) => Ok(Cancelled),
                (Accepted, Cancel, None) => Err(NotYours),
                (Pending | Countered, Expire, None) => Ok(Expired),
                (Accepted, Hold, None) => Ok(Held),
                (Pending | Countered, Expire, Some(_)) | (Accepted, Hold, Some(_)) => Err(NotYours),
                _ => Err(NotNow),
            }
        };
        let mut checked = 0;
        for state in State::ALL {
            for action in [Accept, Decline, Counter, Cancel, Expire, Hold] {
                for actor in PEOPLE {
                    assert_eq!(
                        state.next(action, actor),
                        expected(state, action, actor),
                        "{state:?} {action:?} {actor:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 7 * 6 * 3);
    }

    #[test]
    fn a_counter_hands_the_choice_back_each_time() {
        let mut state = Pending;
        for _ in 0..3 {
            let answering = state.to_answer();
            state = state.next(Counter, answering).unwrap();
            assert_ne!(state.to_answer(), answering);
        }
        assert_eq!(state, Countered);
        assert_eq!(state.next(Accept, Some(Side::Inviter)), Ok(Accepted));
    }

    #[test]
    fn states_round_trip_through_their_values() {
        for state in State::ALL {
            assert_eq!(State::from_value(state.value()), Some(state));
        }
        assert_eq!(State::from_value("bogus"), None);
    }

    #[test]
    fn two_yeses_and_only_two_make_a_meeting() {
        use MetAnswer::*;
        assert!(both_met(Some(Met), Some(Met)));
        for (a, b) in [(Some(Met), None), (Some(Met), Some(NoShow)), (None, None), (Some(NoShow), Some(Met))] {
            assert!(!both_met(a, b));
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 20, 12, 0, 0).unwrap()
    }

    #[test]
    fn times_are_read_in_the_venues_zone() {
        let form = TimesForm { time1: "2026-03-25T10:30".into(), time2: "2026-03-24 09:00".into(), time3: "".into() };
        let mut errors = FieldErrors::default();
        let times = form.check(chrono_tz::Europe::London, now(), &mut errors);
        assert!(errors.is_empty());
        // London is on GMT until the 29th: local equals UTC. Sorted earliest first.
        assert_eq!(
            times,
            vec![
                Utc.with_ymd_and_hms(2026, 3, 24, 9, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 3, 25, 10, 30, 0).unwrap()
            ]
        );
        let tokyo = form.check(chrono_tz::Asia::Tokyo, now(), &mut FieldErrors::default());
        assert_eq!(tokyo[0], Utc.with_ymd_and_hms(2026, 3, 24, 0, 0, 0).unwrap());
    }

    #[test]
    fn bad_times_are_named() {
        let form = TimesForm {
            time1: "2026-03-19T10:00".into(), // past
            time2: "2026-03-29T01:30".into(), // London's clocks jump from 01:00 to 02:00
            time3: "next Tuesday".into(),
        };
        let mut errors = FieldErrors::default();
        assert!(form.check(chrono_tz::Europe::London, now(), &mut errors).is_empty());
        assert!(errors.get("time1").unwrap().contains("future"));
        assert!(errors.get("time2").unwrap().contains("clocks change"));
        assert!(errors.get("time3").is_some());

        let far_and_twice = TimesForm {
            time1: "2026-12-01T10:00".into(),
            time2: "2026-03-24T10:00".into(),
            time3: "2026-03-24T10:00".into(),
        };
        let mut errors = FieldErrors::default();
        assert_eq!(far_and_twice.check(chrono_tz::Europe::London, now(), &mut errors).len(), 1);
        assert!(errors.get("time1").unwrap().contains("90 days"));
        assert!(errors.get("time3").unwrap().contains("already"));

        let mut errors = FieldErrors::default();
        TimesForm::default().check(chrono_tz::UTC, now(), &mut errors);
        assert!(errors.get("time1").unwrap().contains("at least one"));
    }

    #[test]
    fn an_hour_that_happens_twice_means_the_first() {
        // London's clocks go back at 02:00 BST on 25 October 2026: 01:30 happens twice.
        let form = TimesForm { time1: "2026-10-25T01:30".into(), ..TimesForm::default() };
        let autumn = Utc.with_ymd_and_hms(2026, 10, 1, 12, 0, 0).unwrap();
        let times = form.check(chrono_tz::Europe::London, autumn, &mut FieldErrors::default());
        assert_eq!(times, vec![Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap()]);
        assert_eq!(local_label(times[0], chrono_tz::Europe::London), "Sun 25 Oct 2026, 01:30 (BST)");
    }
}
