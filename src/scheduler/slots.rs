//! When two members could meet: the earliest hour both are free within a round's horizon.
//!
//! A round looks at a fixed stretch of time, its horizon, cut into quarter hours in UTC. Each
//! member's weekly windows, kept in their own wall-clock time, become the set of those quarter
//! hours in which they are free, and a pair can meet at the first run of quarter hours free to
//! both that is as long as a coffee. Reading a UTC instant in a time zone is never ambiguous, so
//! clock changes inside the horizon need no special case: a window across a skipped hour is an
//! hour shorter that day, one across a repeated hour an hour longer, and a coffee is always one
//! real hour.
//!
//! This runs for every member and every candidate pair of a round (some 100,000 and 1,000,000),
//! so the time-zone work is done once per zone and horizon, and the work per pair is a few
//! dozen operations on machine words.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, DurationRound, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;

use crate::invitations::model::COFFEE_LENGTH;
use crate::members::model::Window;

/// How far ahead of a round its earliest coffee is, so that both have time to answer.
pub const LEAD: TimeDelta = TimeDelta::hours(24);
/// How many days after a round its coffees may be; a coffee ends by then.
pub const DAYS: i64 = 14;

const QUARTER: TimeDelta = TimeDelta::minutes(15);
const QUARTERS_A_DAY: usize = 96;
const QUARTERS_A_WEEK: usize = 7 * QUARTERS_A_DAY;
/// The quarter hours of one coffee: the run of free time two members must share.
const RUN: usize = (COFFEE_LENGTH.num_minutes() / 15) as usize;
// A coffee must be whole quarter hours, and `earliest_common` shifts words by up to RUN - 1
// bits, looking one word ahead.
const _: () = assert!(COFFEE_LENGTH.num_minutes() % 15 == 0 && RUN >= 1 && RUN <= 64);
/// The local quarter of a slot whose start is not on a local quarter hour. Only historical
/// local mean times have such offsets; no window can hold such a slot whole, so it is never free.
const OFF_GRID: u16 = u16::MAX;

/// The stretch of time a round proposes coffees in, as consecutive quarter hours ("slots") in
/// UTC, and what each time zone's clock reads at each of them.
#[derive(Clone, Debug)]
pub struct Horizon {
    start: DateTime<Utc>,
    slots: usize,
    /// Per zone seen so far, the slots that start in each local quarter of the week. Filled on
    /// first use, so a round pays for each zone once, not each member.
    zones: HashMap<Tz, ZoneSlots>,
}

/// For one zone and horizon, the slots starting in each local quarter of the week (0 = Monday
/// 00:00–00:15): those of quarter `q` are `slots[starts[q]..starts[q + 1]]`. A member's free
/// time is then a walk over the quarters they are free in (a few dozen), not over every slot of
/// the horizon (1,344 in two weeks): a round turns a million members' weeks into free time.
#[derive(Clone, Debug)]
struct ZoneSlots {
    starts: Box<[u32]>,
    slots: Box<[u32]>,
}

impl ZoneSlots {
    /// `quarters[slot]` is the local quarter the slot starts in, or `OFF_GRID` (in no quarter).
    fn new(quarters: &[u16]) -> ZoneSlots {
        let mut starts = vec![0u32; QUARTERS_A_WEEK + 1];
        for &q in quarters.iter().filter(|&&q| usize::from(q) < QUARTERS_A_WEEK) {
            starts[usize::from(q) + 1] += 1;
        }
        for q in 0..QUARTERS_A_WEEK {
            starts[q + 1] += starts[q];
        }
        let mut fill = starts.clone();
        let mut slots = vec![0u32; starts[QUARTERS_A_WEEK] as usize];
        for (slot, &q) in quarters.iter().enumerate().filter(|&(_, &q)| usize::from(q) < QUARTERS_A_WEEK) {
            slots[fill[usize::from(q)] as usize] = slot as u32;
            fill[usize::from(q)] += 1;
        }
        ZoneSlots { starts: starts.into_boxed_slice(), slots: slots.into_boxed_slice() }
    }

    fn of(&self, quarter: usize) -> &[u32] {
        &self.slots[self.starts[quarter] as usize..self.starts[quarter + 1] as usize]
    }
}

impl Horizon {
    /// The horizon of a round run at `now`. `lead`: the minimum time ahead of `now` (`LEAD`);
    /// the first slot starts then, rounded up to a quarter hour. `days`: the horizon's length,
    /// counted from `now` (`DAYS`); only whole slots before its end are in it, so every coffee
    /// found ends by then.
    pub fn new(now: DateTime<Utc>, lead: TimeDelta, days: i64) -> Horizon {
        let earliest = now + lead;
        let start = earliest.duration_trunc(QUARTER).expect("instants before 2262 round to a quarter hour");
        let start = if start < earliest { start + QUARTER } else { start };
        let end = now + TimeDelta::days(days);
        let slots = usize::try_from((end - start).num_minutes() / QUARTER.num_minutes()).unwrap_or(0);
        Horizon { start, slots, zones: HashMap::new() }
    }

    /// The start of the first slot.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The slots in which a member is free: those whose start, read in the member's zone, begins
    /// a local quarter hour that lies wholly inside one of their windows. So a window of
    /// 10:10–11:20 holds 10:15 to 11:15 and nothing of 11:15–11:30; a coffee never begins before
    /// a window opens nor runs past its end. Windows that touch (Monday 23:00–24:00 and Tuesday
    /// 00:00–01:00) make one stretch of free time.
    ///
    /// Takes `&mut self` to fill the zone's entry on first use; callers loop over members with
    /// one horizon.
    pub fn free_time(&mut self, zone: Tz, windows: &[Window]) -> FreeTime {
        let week = WeekMask::from_windows(windows);
        let mut free = vec![0u64; self.slots.div_ceil(64)];
        let zone = self.zone_slots(zone);
        for quarter in week.quarters() {
            for &slot in zone.of(quarter) {
                free[slot as usize / 64] |= 1 << (slot % 64);
            }
        }
        FreeTime(free.into_boxed_slice())
    }

    /// The earliest start at which both members are free for a whole coffee, or `None` when the
    /// horizon holds no common hour. Both free times must come from this horizon.
    pub fn earliest_common(&self, a: &FreeTime, b: &FreeTime) -> Option<DateTime<Utc>> {
        self.earliest_common_slot(a, b).map(|slot| self.slot_start(slot))
    }

    /// [`Horizon::earliest_common`] as a slot number, for [`Horizon::slot_start`].
    pub fn earliest_common_slot(&self, a: &FreeTime, b: &FreeTime) -> Option<usize> {
        debug_assert_eq!(a.0.len(), b.0.len(), "free times from different horizons");
        let both = |i: usize| a.0.get(i).zip(b.0.get(i)).map_or(0, |(x, y)| x & y);
        for i in 0..a.0.len() {
            let word = both(i);
            if word == 0 {
                continue;
            }
            // Bit k of `starts` survives when slots k, k + 1, …, k + RUN - 1 are all free to
            // both; the bits a run needs past this word come in from the top of the next one.
            let next = both(i + 1);
            let mut starts = word;
            for shift in 1..RUN {
                starts &= (word >> shift) | (next << (64 - shift));
            }
            if starts != 0 {
                return Some(i * 64 + starts.trailing_zeros() as usize);
            }
        }
        None
    }

    /// Takes out of `free` the slots a coffee of the member's own, starting at `start`, already
    /// fills (an agreed or pending invitation), so that no suggestion overlaps it.
    pub fn mark_busy(&self, free: &mut FreeTime, start: DateTime<Utc>) {
        let end = start + COFFEE_LENGTH;
        let quarters = |t: DateTime<Utc>| (t - self.start).num_minutes().div_euclid(QUARTER.num_minutes());
        // Every slot that overlaps [start, end): from the one holding `start` to the one before `end`.
        let first = quarters(start).max(0);
        let last = (quarters(end - TimeDelta::nanoseconds(1))).min(self.slots as i64 - 1);
        for slot in first..=last {
            let slot = slot as usize;
            free.0[slot / 64] &= !(1 << (slot % 64));
        }
    }

    /// When slot `slot` of this horizon starts.
    pub fn slot_start(&self, slot: usize) -> DateTime<Utc> {
        self.start + QUARTER * i32::try_from(slot).expect("a horizon holds fewer than 2^31 slots")
    }

    fn zone_slots(&mut self, zone: Tz) -> &ZoneSlots {
        let (start, slots) = (self.start, self.slots);
        self.zones.entry(zone).or_insert_with(|| {
            let quarters: Vec<u16> = std::iter::successors(Some(start), |t| Some(*t + QUARTER))
                .take(slots)
                .map(|t| local_quarter(t, zone))
                .collect();
            ZoneSlots::new(&quarters)
        })
    }
}

/// The local quarter of the week in which `t` falls in `zone`, or `OFF_GRID`.
fn local_quarter(t: DateTime<Utc>, zone: Tz) -> u16 {
    let local = t.with_timezone(&zone);
    let minute = local.hour() * 60 + local.minute();
    if local.second() != 0 || !minute.is_multiple_of(15) {
        return OFF_GRID;
    }
    let quarter = local.weekday().num_days_from_monday() as usize * QUARTERS_A_DAY + minute as usize / 15;
    u16::try_from(quarter).expect("a week has 672 quarter hours")
}

/// The quarter hours in which a member is free during any one week of their own time.
struct WeekMask([u64; QUARTERS_A_WEEK.div_ceil(64)]);

impl WeekMask {
    fn from_windows(windows: &[Window]) -> WeekMask {
        let mut mask = [0u64; QUARTERS_A_WEEK.div_ceil(64)];
        // The schema keeps weekdays and minutes in range; a window that is not must not take
        // the whole round down, so it is clamped or skipped.
        for window in windows.iter().filter(|w| (0..7).contains(&w.weekday)) {
            let day = window.weekday as usize * QUARTERS_A_DAY;
            // Whole quarters only: the first that starts at or after the window opens, up to
            // the last that ends by its close.
            let opens = window.start_minute.clamp(0, 1440) as usize;
            let closes = window.end_minute.clamp(0, 1440) as usize;
            for quarter in day + opens.div_ceil(15)..day + closes / 15 {
                mask[quarter / 64] |= 1 << (quarter % 64);
            }
        }
        WeekMask(mask)
    }

    /// The quarters in the mask, in order.
    fn quarters(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &word)| {
            std::iter::successors((word != 0).then_some(word), |&w| {
                let rest = w & (w - 1);
                (rest != 0).then_some(rest)
            })
            .map(move |w| i * 64 + w.trailing_zeros() as usize)
        })
    }
}

/// The slots of one horizon in which a member is free: bit `i % 64` of word `i / 64` is slot `i`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreeTime(Box<[u64]>);

impl FreeTime {
    /// No free time at all in `horizon`.
    pub fn none(horizon: &Horizon) -> FreeTime {
        FreeTime(vec![0; horizon.slots.div_ceil(64)].into_boxed_slice())
    }

    /// Whether the member is free at no time in the horizon (and so cannot be paired in it).
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&word| word == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono_tz::America::New_York;
    use chrono_tz::Australia::Sydney;
    use chrono_tz::Europe::London;

    const MON: i16 = 0;
    const WED: i16 = 2;
    const THU: i16 = 3;
    const SAT: i16 = 5;
    const SUN: i16 = 6;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_coffee_already_agreed_is_not_free_time() {
        let now = utc("2026-06-01T08:00:00Z");
        let mut horizon = Horizon::new(now, LEAD, DAYS);
        // Free every day 09:00–13:00 UTC.
        let windows: Vec<Window> =
            (0..7).map(|weekday| Window { weekday, start_minute: 540, end_minute: 780 }).collect();
        let mut ada = horizon.free_time(chrono_tz::UTC, &windows);
        let grace = horizon.free_time(chrono_tz::UTC, &windows);
        assert_eq!(horizon.earliest_common(&ada, &grace), Some(utc("2026-06-02T09:00:00Z")));
        // Ada has coffee at 09:30 on the 2nd: the earliest common hour is after it ends.
        horizon.mark_busy(&mut ada, utc("2026-06-02T09:30:00Z"));
        assert_eq!(horizon.earliest_common(&ada, &grace), Some(utc("2026-06-02T10:30:00Z")));
        // Coffees off the quarter grid, before the horizon or past its end change nothing else.
        // One at 10:50 takes 10:45 to 11:50, so the quarter from 11:45 is lost too.
        horizon.mark_busy(&mut ada, utc("2026-06-02T10:50:00Z"));
        assert_eq!(horizon.earliest_common(&ada, &grace), Some(utc("2026-06-02T12:00:00Z")));
        let before = ada.clone();
        horizon.mark_busy(&mut ada, utc("2026-05-20T09:00:00Z"));
        horizon.mark_busy(&mut ada, utc("2026-07-20T09:00:00Z"));
        assert_eq!(ada, before);
    }

    fn minute(clock: &str) -> i16 {
        let (h, m) = clock.split_once(':').unwrap();
        h.parse::<i16>().unwrap() * 60 + m.parse::<i16>().unwrap()
    }

    fn window(weekday: i16, from: &str, to: &str) -> Window {
        Window { weekday, start_minute: minute(from), end_minute: minute(to) }
    }

    /// A round's horizon with the usual lead and `days`.
    fn horizon(now: &str, days: i64) -> Horizon {
        Horizon::new(utc(now), LEAD, days)
    }

    /// The stretches of free time, as UTC `(from, to)` pairs.
    fn spans(horizon: &Horizon, free: &FreeTime) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for slot in (0..horizon.slots).filter(|i| free.0[i / 64] >> (i % 64) & 1 == 1) {
            let from = horizon.slot_start(slot);
            match spans.last_mut() {
                Some(span) if span.1 == from => span.1 = from + QUARTER,
                _ => spans.push((from, from + QUARTER)),
            }
        }
        spans
    }

    fn span(from: &str, to: &str) -> (DateTime<Utc>, DateTime<Utc>) {
        (utc(from), utc(to))
    }

    #[test]
    fn the_horizon_starts_a_lead_after_now_rounded_up_to_a_quarter_hour() {
        assert_eq!(horizon("2026-06-10T10:07:30Z", DAYS).start(), utc("2026-06-11T10:15:00Z"));
        assert_eq!(horizon("2026-06-10T10:15:00Z", DAYS).start(), utc("2026-06-11T10:15:00Z"));
        assert_eq!(horizon("2026-06-10T10:15:00.001Z", DAYS).start(), utc("2026-06-11T10:30:00Z"));
        // From 10:30 on the 11th to 10:15:00.001 on the 24th: 13 days less a quarter hour.
        assert_eq!(horizon("2026-06-10T10:15:00.001Z", DAYS).slots, 13 * 96 - 1);
        assert_eq!(Horizon::new(utc("2026-06-10T10:00:00Z"), LEAD, 1).slots, 0);
    }

    #[test]
    fn london_spring_forward_skips_the_missing_hour() {
        // Sundays 01:00–04:00 in London. On 29 March 2026 01:00–02:00 does not exist: clocks
        // go from 01:00 GMT straight to 02:00 BST, so only two hours remain.
        let mut h = horizon("2026-03-20T00:00:00Z", 17);
        let free = h.free_time(London, &[window(SUN, "01:00", "04:00")]);
        assert_eq!(
            spans(&h, &free),
            [
                span("2026-03-22T01:00:00Z", "2026-03-22T04:00:00Z"),
                span("2026-03-29T01:00:00Z", "2026-03-29T03:00:00Z"),
                span("2026-04-05T00:00:00Z", "2026-04-05T03:00:00Z"),
            ]
        );
    }

    #[test]
    fn london_fall_back_repeats_the_hour() {
        // On 25 October 2026 01:00–02:00 happens twice, first in BST and then in GMT.
        let mut h = horizon("2026-10-16T00:00:00Z", 17);
        let free = h.free_time(London, &[window(SUN, "01:00", "02:00")]);
        assert_eq!(
            spans(&h, &free),
            [
                span("2026-10-18T00:00:00Z", "2026-10-18T01:00:00Z"),
                span("2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"),
                span("2026-11-01T01:00:00Z", "2026-11-01T02:00:00Z"),
            ]
        );
    }

    #[test]
    fn new_york_changes_are_read_the_right_way_round() {
        let mut h = horizon("2026-03-05T00:00:00Z", 4);
        let free = h.free_time(New_York, &[window(SUN, "01:00", "04:00")]);
        // 8 March: 01:00–02:00 EST, then 03:00–04:00 EDT.
        assert_eq!(spans(&h, &free), [span("2026-03-08T06:00:00Z", "2026-03-08T08:00:00Z")]);

        let mut h = horizon("2026-10-29T00:00:00Z", 4);
        let free = h.free_time(New_York, &[window(SUN, "01:00", "04:00")]);
        // 1 November: 01:00–02:00 EDT, 01:00–02:00 EST again, then 02:00–04:00 EST.
        assert_eq!(spans(&h, &free), [span("2026-11-01T05:00:00Z", "2026-11-01T09:00:00Z")]);
    }

    #[test]
    fn sydney_changes_are_read_the_right_way_round() {
        // Sydney falls back on 5 April 2026 at 03:00 AEDT: 02:00–03:00 happens twice.
        let mut h = horizon("2026-04-01T00:00:00Z", 4);
        let free = h.free_time(Sydney, &[window(SUN, "02:00", "03:00")]);
        assert_eq!(spans(&h, &free), [span("2026-04-04T15:00:00Z", "2026-04-04T17:00:00Z")]);

        // It springs forward on 4 October 2026 at 02:00 AEST: 02:00–03:00 does not exist.
        let mut h = horizon("2026-09-24T00:00:00Z", 11);
        let free = h.free_time(Sydney, &[window(SUN, "02:00", "03:00")]);
        assert_eq!(spans(&h, &free), [span("2026-09-26T16:00:00Z", "2026-09-26T17:00:00Z")]);
    }

    #[test]
    fn a_window_across_a_skipped_hour_gives_a_coffee_of_one_real_hour() {
        // Sunday 00:30–02:30 in London on 29 March is 00:30–01:30 UTC: exactly one coffee,
        // from 00:30 GMT to 02:30 BST.
        let mut h = horizon("2026-03-27T00:00:00Z", 3);
        let member = h.free_time(London, &[window(SUN, "00:30", "02:30")]);
        let start = h.earliest_common(&member, &member).unwrap();
        assert_eq!(start, utc("2026-03-29T00:30:00Z"));
        assert_eq!((start + COFFEE_LENGTH).with_timezone(&London).to_string(), "2026-03-29 02:30:00 BST");
        // 00:30–02:15 is three real quarter hours that day: too short.
        let member = h.free_time(London, &[window(SUN, "00:30", "02:15")]);
        assert_eq!(h.earliest_common(&member, &member), None);
    }

    #[test]
    fn london_and_new_york_meet_only_while_their_clocks_are_four_hours_apart() {
        // Saturday 13:00 in London is 09:00 in New York only between 8 and 29 March and between
        // 25 October and 1 November 2026; the rest of the year it is 08:00.
        let london = [window(SAT, "13:00", "14:00")];
        let new_york = [window(SAT, "09:00", "10:00")];
        let earliest = |now: &str| {
            let mut h = horizon(now, DAYS);
            let (a, b) = (h.free_time(London, &london), h.free_time(New_York, &new_york));
            h.earliest_common(&a, &b)
        };
        assert_eq!(earliest("2026-02-19T00:00:00Z"), None);
        assert_eq!(earliest("2026-03-01T00:00:00Z"), Some(utc("2026-03-14T13:00:00Z")));
        assert_eq!(earliest("2026-03-21T14:00:00Z"), Some(utc("2026-03-28T13:00:00Z")));
        assert_eq!(earliest("2026-03-28T14:00:00Z"), None);
        assert_eq!(earliest("2026-10-20T00:00:00Z"), Some(utc("2026-10-31T13:00:00Z")));
        assert_eq!(earliest("2026-11-01T00:00:00Z"), None);
    }

    #[test]
    fn sydney_and_london_meet_only_in_the_weeks_their_changes_line_up() {
        // Monday 07:00 in Sydney is Sunday 21:00 in London (20:00 UTC) only while both are on
        // daylight time: from 29 March to 5 April and from 4 to 25 October 2026.
        let sydney = [window(MON, "07:00", "08:00")];
        let london = [window(SUN, "21:00", "22:00")];
        let earliest = |now: &str| {
            let mut h = horizon(now, DAYS);
            let (a, b) = (h.free_time(Sydney, &sydney), h.free_time(London, &london));
            h.earliest_common(&a, &b)
        };
        assert_eq!(earliest("2026-03-20T00:00:00Z"), Some(utc("2026-03-29T20:00:00Z")));
        assert_eq!(earliest("2026-03-31T00:00:00Z"), None);
        assert_eq!(earliest("2026-09-25T00:00:00Z"), Some(utc("2026-10-04T20:00:00Z")));
        assert_eq!(earliest("2026-10-20T00:00:00Z"), None);
    }

    #[test]
    fn the_lead_time_pushes_a_window_to_the_next_week() {
        // Now is Wednesday 10 June 12:00 UTC. Thursday 12:00–13:00 BST starts in 23 hours.
        let mut h = horizon("2026-06-10T12:00:00Z", DAYS);
        let anyone = h.free_time(Tz::UTC, &[window(THU, "00:00", "24:00")]);
        let member = h.free_time(London, &[window(THU, "12:00", "13:00")]);
        assert_eq!(h.earliest_common(&member, &anyone), Some(utc("2026-06-18T11:00:00Z")));
        // Half an hour of the window is after the lead: not enough for a coffee.
        let member = h.free_time(London, &[window(THU, "12:00", "13:30")]);
        assert_eq!(h.earliest_common(&member, &anyone), Some(utc("2026-06-18T11:00:00Z")));
        // An hour of it is.
        let member = h.free_time(London, &[window(THU, "12:00", "14:00")]);
        assert_eq!(h.earliest_common(&member, &anyone), Some(utc("2026-06-11T12:00:00Z")));
    }

    #[test]
    fn a_coffee_ends_by_the_end_of_the_horizon() {
        // A week from Wednesday 10 June 12:00 UTC: the horizon ends 17 June 12:00 UTC.
        let mut h = horizon("2026-06-10T12:00:00Z", 7);
        let anyone = h.free_time(Tz::UTC, &[window(WED, "00:00", "24:00")]);
        let ends_at_the_end = h.free_time(London, &[window(WED, "12:00", "13:00")]);
        assert_eq!(h.earliest_common(&ends_at_the_end, &anyone), Some(utc("2026-06-17T11:00:00Z")));
        let ends_after_it = h.free_time(London, &[window(WED, "12:15", "13:15")]);
        assert_eq!(h.earliest_common(&ends_after_it, &anyone), None);
        // The default horizon reaches the following Wednesday.
        let mut h = horizon("2026-06-10T12:00:00Z", DAYS);
        let anyone = h.free_time(Tz::UTC, &[window(WED, "00:00", "24:00")]);
        let ends_after_a_week = h.free_time(London, &[window(WED, "12:15", "13:15")]);
        assert_eq!(h.earliest_common(&ends_after_a_week, &anyone), Some(utc("2026-06-17T11:15:00Z")));
    }

    #[test]
    fn members_with_no_common_hour_get_none() {
        let mut h = horizon("2026-06-10T12:00:00Z", DAYS);
        let a = h.free_time(London, &[window(MON, "09:00", "12:00")]);
        let b = h.free_time(London, &[window(MON, "12:00", "15:00"), window(THU, "09:00", "12:00")]);
        assert_eq!(h.earliest_common(&a, &b), None);
        let nobody = h.free_time(London, &[]);
        assert!(nobody.is_empty() && !a.is_empty());
        assert_eq!(h.earliest_common(&a, &nobody), None);
    }

    #[test]
    fn a_coffee_stays_inside_both_windows() {
        let mut h = horizon("2026-06-10T12:00:00Z", DAYS);
        let a = h.free_time(Tz::UTC, &[window(MON, "10:00", "11:30")]);
        let b = h.free_time(Tz::UTC, &[window(MON, "10:45", "12:00")]);
        assert_eq!(h.earliest_common(&a, &b), None);
        let a = h.free_time(Tz::UTC, &[window(MON, "10:00", "11:45")]);
        assert_eq!(h.earliest_common(&a, &b), Some(utc("2026-06-15T10:45:00Z")));
    }

    #[test]
    fn only_whole_quarter_hours_of_a_window_count() {
        let mut h = horizon("2026-06-10T12:00:00Z", DAYS);
        let free = h.free_time(Tz::UTC, &[window(MON, "10:10", "11:20")]);
        assert_eq!(
            spans(&h, &free),
            [
                span("2026-06-15T10:15:00Z", "2026-06-15T11:15:00Z"),
                span("2026-06-22T10:15:00Z", "2026-06-22T11:15:00Z")
            ]
        );
        let short = h.free_time(Tz::UTC, &[window(MON, "10:10", "11:10")]);
        assert_eq!(h.earliest_common(&short, &short), None);
    }

    #[test]
    fn touching_windows_make_one_stretch_across_midnight() {
        let mut h = horizon("2026-06-10T12:00:00Z", DAYS);
        let free = h.free_time(London, &[window(SUN, "23:30", "24:00"), window(MON, "00:00", "00:30")]);
        assert_eq!(h.earliest_common(&free, &free), Some(utc("2026-06-14T22:30:00Z")));
    }

    #[test]
    fn runs_across_word_boundaries_are_found() {
        let h = horizon("2026-06-10T12:00:00Z", DAYS);
        let with = |slots: &[usize]| {
            let mut words = vec![0u64; h.slots.div_ceil(64)];
            for &slot in slots {
                words[slot / 64] |= 1 << (slot % 64);
            }
            FreeTime(words.into_boxed_slice())
        };
        let a = with(&[10, 11, 12, 62, 63, 64, 65, 66]);
        let b = with(&[10, 11, 12, 13, 63, 64, 65, 66, 67]);
        assert_eq!(h.earliest_common(&a, &b), Some(h.start() + QUARTER * 63));
        let last = h.slots - 1;
        let tail = with(&[last - 3, last - 2, last - 1, last]);
        assert_eq!(h.earliest_common(&tail, &tail), Some(h.slot_start(last - 3)));
        let cut = with(&[last - 2, last - 1, last]);
        assert_eq!(h.earliest_common(&cut, &cut), None);
    }

    #[test]
    fn quarter_hour_offsets_work_and_odd_ones_are_never_free() {
        let always: Vec<Window> = (0..7).map(|day| window(day, "00:00", "24:00")).collect();
        // Kathmandu is UTC+5:45: Monday 09:00 there is 03:15 UTC.
        let mut h = horizon("2026-06-10T12:00:00Z", DAYS);
        let free = h.free_time(chrono_tz::Asia::Kathmandu, &[window(MON, "09:00", "10:00")]);
        assert_eq!(h.earliest_common(&free, &free), Some(utc("2026-06-15T03:15:00Z")));
        // Monrovia kept UTC-0:44:30 until 1972.
        let mut h = horizon("1960-06-10T12:00:00Z", DAYS);
        assert!(h.free_time(chrono_tz::Africa::Monrovia, &always).is_empty());
        assert!(!h.free_time(London, &always).is_empty());
    }
}
